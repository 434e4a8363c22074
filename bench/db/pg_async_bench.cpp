// db::async_pool workloads over a pool of 4 connections, 16 coroutines on one io_context
// thread (bench/compare/db_async_pool.sh runs asyncpg and pgbench beside them):
//   point selects `SELECT * FROM users WHERE id = $1` with random ids, one per execute() and
//   100 per batch (pipeline mode); the transaction BEGIN; INSERT audit_log; UPDATE users;
//   COMMIT through pool.transaction(), and as a two-statement batch.
// Reports operations/s and client CPU µs per operation (getrusage of this process, which
// includes the pool's executor thread: it is the only one).
// Needs HOLDFAST_TEST_PG_DSN (scripts/pg-test-cluster start); skipped with a message otherwise.
// HOLDFAST_BENCH_USERS_TABLE=1: the table exists already (bench/compare creates it).
#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <holdfast/db/async_pool.hpp>
#include <holdfast/pg/batch.hpp>
#include <holdfast/pg/connection.hpp>

namespace {

constexpr int user_count = 100'000;

std::optional<std::string> dsn() {
    const char* value = std::getenv("HOLDFAST_TEST_PG_DSN");
    if (value == nullptr || *value == '\0') return std::nullopt;
    return value;
}

// holdfast_bench_async.users (id, name, email, active, created_at), 100k rows, once.
std::string bench_dsn() {
    static const std::string prepared = [] {
        const char* existing = std::getenv("HOLDFAST_BENCH_SCHEMA");
        const std::string schema = existing ? existing : "holdfast_bench_async";
        if (!existing) {
            auto setup = holdfast::pg::connect(*dsn());
            setup.execute_unprepared(
                "SET client_min_messages = warning;"
                "DROP SCHEMA IF EXISTS holdfast_bench_async CASCADE;"
                "CREATE SCHEMA holdfast_bench_async;"
                "CREATE TABLE holdfast_bench_async.users (id INT PRIMARY KEY, name TEXT NOT "
                "NULL, email TEXT NOT NULL, active BOOLEAN NOT NULL DEFAULT true, "
                "created_at TIMESTAMPTZ NOT NULL DEFAULT now());"
                "INSERT INTO holdfast_bench_async.users (id, name, email) SELECT g, 'user ' || "
                "g, 'user' || g || '@example.com' FROM generate_series(1, 100000) g;"
                "CREATE TABLE holdfast_bench_async.audit_log (id BIGSERIAL PRIMARY KEY, "
                "user_id INT NOT NULL, action TEXT NOT NULL, "
                "at TIMESTAMPTZ NOT NULL DEFAULT now());"
                "ANALYZE holdfast_bench_async.users");
        }
        const auto base = *dsn();
        if (base.find("://") == std::string::npos) {
            return base + " options=-csearch_path=" + schema;
        }
        return base + (base.find('?') == std::string::npos ? "?" : "&") +
               "options=-csearch_path%3D" + schema;
    }();
    return prepared;
}

double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Runs `operations_per_iteration` operations per benchmark iteration: `concurrency`
// coroutines each run `work(pool, random, count)` on one io_context thread. Reports
// operations/s (counter `unit`) and client CPU µs per operation.
template <class Work>
void run_pool_workload(benchmark::State& state, const char* unit, int operations_per_iteration,
                       Work work) {
    if (!dsn()) {
        state.SkipWithError("HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster");
        return;
    }
    const auto pool_size = static_cast<std::size_t>(state.range(0));
    const auto concurrency = static_cast<int>(state.range(1));
    asio::io_context io(1);
    holdfast::db::async_pool pool(io.get_executor(), bench_dsn(),
                                  {.min_size = pool_size, .max_size = pool_size});
    bool failed = false;
    std::string failure;
    const auto note = [&](std::exception_ptr e) {
        if (!e || failed) return;
        failed = true;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& error) {
            failure = error.what();
        }
    };
    bool opened = false;
    asio::co_spawn(io, pool.open(), [&](std::exception_ptr e) {
        note(e);
        opened = true;
    });
    while (!opened && io.run_one() > 0) {
    }
    double cpu = 0, wall = 0;
    std::int64_t operations = 0;
    for (auto _ : state) {
        const auto cpu_start = cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        int finished = 0;
        for (int c = 0; c < concurrency; ++c) {
            asio::co_spawn(io,
                           work(pool, 17u * static_cast<unsigned>(c) + 1u,
                                operations_per_iteration / concurrency),
                           [&](std::exception_ptr e) {
                               note(e);
                               ++finished;
                           });
        }
        // The pool's maintenance timer keeps the context busy: run until the workers are done.
        while (finished < concurrency && io.run_one() > 0) {
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        wall += seconds;
        cpu += cpu_seconds() - cpu_start;
        operations += operations_per_iteration;
        state.SetIterationTime(seconds);
    }
    if (failed) state.SkipWithError(("an operation failed: " + failure).c_str());
    state.counters[unit] = static_cast<double>(operations) / wall;
    state.counters["cpu_us/op"] = cpu * 1e6 / static_cast<double>(operations);
    state.SetItemsProcessed(operations);
    asio::co_spawn(io, pool.close(), asio::detached);
    io.run();
}

int random_id(std::minstd_rand& random) {
    return std::uniform_int_distribution<int>(1, user_count)(random);
}

// S3: one point select per execute().
void BM_AsyncPoolPointSelect(benchmark::State& state) {
    run_pool_workload(
        state, "q/s", 20'000,
        [](holdfast::db::async_pool& pool, unsigned seed, int count) -> asio::awaitable<void> {
            std::minstd_rand random(seed);
            for (int i = 0; i < count; ++i) {
                auto rows =
                    co_await pool.execute("SELECT * FROM users WHERE id = $1", random_id(random));
                if (rows.size() != 1) throw std::runtime_error("expected one row");
            }
        });
}

// The same point selects, state.range(2) per batch: one round trip per batch (pipeline mode).
void BM_AsyncPoolBatchPointSelect(benchmark::State& state) {
    const auto batch_size = static_cast<int>(state.range(2));
    run_pool_workload(state, "q/s", 100'000,
                      [batch_size](holdfast::db::async_pool& pool, unsigned seed,
                                   int count) -> asio::awaitable<void> {
                          std::minstd_rand random(seed);
                          holdfast::pg::batch selects;
                          for (int done = 0; done < count; done += batch_size) {
                              selects.clear();
                              for (int i = 0; i < batch_size; ++i)
                                  selects.add("SELECT * FROM users WHERE id = $1",
                                              random_id(random));
                              auto results = co_await pool.execute_batch(selects);
                              for (const auto& r : results)
                                  if (r.size() != 1) throw std::runtime_error("expected one row");
                          }
                      });
}

// S5's transaction: BEGIN; INSERT audit_log; UPDATE users; COMMIT — four round trips.
void BM_AsyncPoolTransaction(benchmark::State& state) {
    run_pool_workload(
        state, "tx/s", 10'000,
        [](holdfast::db::async_pool& pool, unsigned seed, int count) -> asio::awaitable<void> {
            std::minstd_rand random(seed);
            for (int i = 0; i < count; ++i) {
                const int id = random_id(random);
                co_await pool.transaction(
                    [id](holdfast::pg::async_connection& tx) -> asio::awaitable<void> {
                        co_await tx.async_execute(
                            "INSERT INTO audit_log (user_id, action) VALUES ($1, 'touch')", id);
                        co_await tx.async_execute(
                            "UPDATE users SET active = NOT active WHERE id = $1", id);
                    });
            }
        });
}

// The same transaction as a two-statement batch: the server runs a batch as one implicit
// transaction, so it commits both or neither, in one round trip.
void BM_AsyncPoolBatchTransaction(benchmark::State& state) {
    run_pool_workload(
        state, "tx/s", 10'000,
        [](holdfast::db::async_pool& pool, unsigned seed, int count) -> asio::awaitable<void> {
            std::minstd_rand random(seed);
            holdfast::pg::batch tx;
            for (int i = 0; i < count; ++i) {
                const int id = random_id(random);
                tx.clear();
                tx.add("INSERT INTO audit_log (user_id, action) VALUES ($1, 'touch')", id);
                tx.add("UPDATE users SET active = NOT active WHERE id = $1", id);
                auto results = co_await pool.execute_batch(tx);
                if (results[1].rows_affected() != 1) throw std::runtime_error("no row updated");
            }
        });
}

BENCHMARK(BM_AsyncPoolPointSelect)
    ->Args({4, 16})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK(BM_AsyncPoolBatchPointSelect)
    ->Args({4, 16, 100})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK(BM_AsyncPoolTransaction)
    ->Args({4, 16})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK(BM_AsyncPoolBatchTransaction)
    ->Args({4, 16})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
