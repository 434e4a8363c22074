// db::async_pool point selects: `SELECT * FROM users WHERE id = $1` with random ids over a
// pool of 4 connections, 16 coroutines issuing queries concurrently on one io_context thread
// (issue 6's setup; bench/compare/db_async_pool.sh runs asyncpg and pgbench beside it).
// Reports queries/s and client CPU µs per query (getrusage of this process, which includes
// the pool's executor thread: it is the only one).
// Needs HOLDFAST_TEST_PG_DSN (scripts/pg-test-cluster start); skipped with a message otherwise.
// HOLDFAST_BENCH_USERS_TABLE=1: the table exists already (bench/compare creates it).
#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <holdfast/db/async_pool.hpp>
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

void BM_AsyncPoolPointSelect(benchmark::State& state) {
    if (!dsn()) {
        state.SkipWithError("HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster");
        return;
    }
    const auto pool_size = static_cast<std::size_t>(state.range(0));
    const auto concurrency = static_cast<int>(state.range(1));
    constexpr int queries_per_iteration = 20'000;
    asio::io_context io(1);
    holdfast::db::async_pool pool(io.get_executor(), bench_dsn(),
                                  {.min_size = pool_size, .max_size = pool_size});
    bool failed = false;
    auto worker = [&](int count, unsigned seed) -> asio::awaitable<void> {
        std::minstd_rand random(seed);
        std::uniform_int_distribution<int> ids(1, user_count);
        for (int i = 0; i < count; ++i) {
            auto rows = co_await pool.execute("SELECT * FROM users WHERE id = $1", ids(random));
            if (rows.size() != 1) failed = true;
        }
    };
    bool opened = false;
    asio::co_spawn(io, pool.open(), [&](std::exception_ptr e) {
        failed = failed || e;
        opened = true;
    });
    while (!opened && io.run_one() > 0) {
    }
    double cpu = 0, wall = 0;
    std::int64_t queries = 0;
    for (auto _ : state) {
        const auto cpu_start = cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        int finished = 0;
        for (int c = 0; c < concurrency; ++c) {
            asio::co_spawn(
                io,
                worker(queries_per_iteration / concurrency, 17u * static_cast<unsigned>(c) + 1u),
                [&](std::exception_ptr e) {
                    failed = failed || e;
                    ++finished;
                });
        }
        // The pool's maintenance timer keeps the context busy: run until the workers are done.
        while (finished < concurrency && io.run_one() > 0) {
        }
        wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        cpu += cpu_seconds() - cpu_start;
        queries += queries_per_iteration;
        state.SetIterationTime(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    if (failed) state.SkipWithError("a query failed");
    state.counters["q/s"] = static_cast<double>(queries) / wall;
    state.counters["cpu_us/q"] = cpu * 1e6 / static_cast<double>(queries);
    state.SetItemsProcessed(queries);
    asio::co_spawn(io, pool.close(), asio::detached);
    io.run();
}

BENCHMARK(BM_AsyncPoolPointSelect)
    ->Args({4, 16})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
