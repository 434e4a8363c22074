#include <holdfast/db/async_pool.hpp>
// (header under test first: it must compile on its own)
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "../async/async_test_support.hpp"
#include "test_support.hpp"
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <gtest/gtest.h>

#include <holdfast/async/async_with.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/pg.hpp>

// Cancellation at every suspension of an asynchronous transaction, systematically: for
// k = 1, 2, 3, ... the operation runs on its own io_context one handler at a time
// (io_context::run_one), and a terminal cancellation is emitted after the k-th handler, until
// the k at which the operation completes first. For every k: the operation either completed
// (its rows committed) or ended cancelled with nothing committed, as a second connection
// sees it; the connection is then idle and usable, or closed — never left inside a
// transaction or handed out in one; the pool's gauges add up with nothing in use; and the
// server lists no session beyond the ones the client holds open.
namespace holdfast::db::testing {
namespace {

using namespace std::chrono_literals;
using pg::async_connection;

// Far more suspensions than any operation here has: the sweep ends long before.
constexpr int max_k = 400;
constexpr auto operation_deadline = 10s;

// Both cancellation errors of the library: Asio's operation_aborted (statements, async_with)
// and the pool's std::errc::operation_canceled (a cancelled async_acquire).
bool is_cancelled(const std::exception_ptr& e) {
    try {
        if (e) std::rethrow_exception(e);
    } catch (const std::system_error& x) {
        return x.code() == asio::error::operation_aborted ||
               x.code() == std::errc::operation_canceled;
    } catch (...) {
    }
    return false;
}

std::string describe(const std::exception_ptr& e) {
    try {
        if (e) std::rethrow_exception(e);
        return "none";
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "unknown exception";
    }
}

struct cancelled_run {
    bool finished_first = false;  // completed within k handlers: nothing was cancelled
    std::exception_ptr error;     // how the operation ended
};

// What a spawned operation reports. Shared with its completion handler, so a run that
// overstays its deadline cannot write into a finished test's stack later.
struct completion {
    asio::cancellation_signal signal;
    bool done = false;
    std::exception_ptr error;
};

// Runs `io` until `c` is done or the deadline passes.
void run_until_done(asio::io_context& io, const completion& c,
                    std::chrono::steady_clock::time_point deadline) {
    while (!c.done && !io.stopped() && std::chrono::steady_clock::now() < deadline) {
        io.run_one_until(deadline);
    }
}

// Runs `work` on `io`, emits a terminal cancellation after the k-th handler, then runs the
// context until the operation has ended (bounded). `companion`, if any, starts first and is
// never cancelled (another holder of the pool's connection).
cancelled_run run_cancelled_after(asio::io_context& io, int k, asio::awaitable<void> work,
                                  std::optional<asio::awaitable<void>> companion = {}) {
    auto c = std::make_shared<completion>();
    io.restart();
    io.poll();  // leftovers of the set-up (a pool's first maintenance pass) are not counted
    io.restart();
    if (companion) asio::co_spawn(io, std::move(*companion), asio::detached);
    asio::co_spawn(io, std::move(work),
                   asio::bind_cancellation_slot(c->signal.slot(), [c](std::exception_ptr e) {
                       c->done = true;
                       c->error = std::move(e);
                   }));
    const auto deadline = std::chrono::steady_clock::now() + operation_deadline;
    for (int ran = 0; !c->done && ran < k && !io.stopped();) {
        ran += static_cast<int>(io.run_one_until(deadline));
        if (std::chrono::steady_clock::now() >= deadline) break;
    }
    cancelled_run out;
    out.finished_first = c->done;
    if (!c->done) c->signal.emit(asio::cancellation_type::terminal);
    run_until_done(io, *c, deadline);
    EXPECT_TRUE(c->done) << "the operation did not end after its cancellation";
    out.error = c->error;
    io.restart();
    io.poll();  // what the operation left posted
    return out;
}

// Runs `work` on `io` to its end, uncancelled; what it throws is a test failure.
void run_to_end(asio::io_context& io, asio::awaitable<void> work) {
    auto c = std::make_shared<completion>();
    io.restart();
    asio::co_spawn(io, std::move(work), [c](std::exception_ptr e) {
        c->done = true;
        c->error = std::move(e);
    });
    run_until_done(io, *c, std::chrono::steady_clock::now() + operation_deadline);
    EXPECT_TRUE(c->done) << "did not complete";
    EXPECT_FALSE(c->error) << describe(c->error);
}

// The operations under test. Free functions, so what they use lives in their frames.
asio::awaitable<void> two_inserts(async_connection& tx, int k) {
    co_await tx.async_execute("INSERT INTO items (k, n) VALUES ($1, 1)", k);
    co_await tx.async_execute("INSERT INTO items (k, n) VALUES ($1, 2)", k);
}

asio::awaitable<void> connection_transaction(async_connection& conn, int k) {
    co_await conn.transaction([k](async_connection& tx) { return two_inserts(tx, k); });
}

asio::awaitable<void> pool_transaction(async_pool& pool, int k) {
    co_await pool.transaction([k](async_connection& tx) { return two_inserts(tx, k); });
}

asio::awaitable<void> pool_execute(async_pool& pool, int k) {
    auto rows = co_await pool.execute("INSERT INTO items (k, n) VALUES ($1, 1)", k);
    EXPECT_TRUE(rows.empty());
}

// Holds the pool's only connection for a few handlers, then returns it: an acquire started
// meanwhile waits in the pool's queue.
asio::awaitable<void> hold_then_return(std::optional<async_pool::lease>& held) {
    for (int i = 0; i < 3; ++i) co_await holdfast::testing::yield_once();
    held.reset();
}

asio::awaitable<void> acquire_into(async_pool& pool, std::optional<async_pool::lease>& held) {
    held.emplace(co_await pool.acquire());
}

asio::awaitable<void> expect_usable(async_connection& conn) {
    auto rows = co_await conn.async_query("SELECT 1 AS n");
    EXPECT_EQ(rows.size(), 1u);
}

// Every open connection of the pool, leased at once: each idle and usable.
asio::awaitable<void> expect_all_idle_and_usable(async_pool& pool) {
    std::vector<async_pool::lease> leases;
    const auto open = pool.stats().size;
    for (std::size_t i = 0; i < open; ++i) {
        async_pool::lease l = co_await pool.acquire();
        EXPECT_EQ(l->transaction_status(), transaction_status::idle);
        EXPECT_FALSE(l->is_busy());
        co_await expect_usable(*l);
        leases.push_back(std::move(l));
    }
}

void expect_pool_gauges_add_up(const async_pool& pool) {
    const auto s = pool.stats();
    EXPECT_EQ(s.in_use, 0u);
    EXPECT_EQ(s.waiting, 0u);
    EXPECT_EQ(s.in_use + s.idle + s.creating, s.size);
}

struct sweep_tally {
    int ks = 0;
    int completed = 0;
    int cancelled = 0;
    int closed = 0;                      // connections closed by the cancellation
    int cancelled_after_the_server = 0;  // autocommit statement that ran before the cancel
    int waits_cancelled = 0;             // acquires the cancellation took out of the queue
    std::string outcomes;                // per k: C completed, X cancelled
    void print(const char* name) const {
        std::printf(
            "cancellation sweep, %s: %d values of k (%d completed, %d cancelled, %d closed "
            "connections, %d acquires cancelled while queued, %d cancelled statements the server "
            "had already committed): %s\n",
            name, ks, completed, cancelled, closed, waits_cancelled, cancelled_after_the_server,
            outcomes.c_str());
    }
};

// How the operation gets its connection.
enum class pool_start {
    warm,              // one pool for every k: its idle connection is reused
    opens_connection,  // a fresh pool per k: the acquire waits for a new connection
    waits_for_return,  // the only connection is leased elsewhere and returned meanwhile
};

class CancellationSweep : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
        schema_.emplace(*pg_dsn());
        // The sessions under test carry the schema's name as application_name; the checker
        // does not, so it is not counted.
        dsn_ = dsn_with_application_name(schema_->dsn(), schema_->name());
        checker_.emplace(pg::connect(schema_->dsn()));
        checker_->execute_unprepared("CREATE TABLE items (k INT NOT NULL, n INT NOT NULL)");
    }

    std::int64_t rows_for(int k) {
        return checker_->query_one("SELECT count(*) FROM items WHERE k = $1", k)
            .get<std::int64_t>(0);
    }
    std::int64_t sessions() {
        return checker_
            ->query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                        schema_->name())
            .get<std::int64_t>(0);
    }
    // A closed session leaves pg_stat_activity shortly after the client closes it: wait for
    // the count (bounded).
    void expect_sessions(std::size_t expected) {
        const auto want = static_cast<std::int64_t>(expected);
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        auto n = sessions();
        while (n != want && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(10ms);
            n = sessions();
        }
        EXPECT_EQ(n, want) << "sessions of this test on the server";
    }

    // The outcome of one k: committed in full, or cancelled with nothing committed.
    void expect_all_or_nothing(const cancelled_run& run, int k, sweep_tally& tally) {
        const auto rows = rows_for(k);
        tally.outcomes += run.error ? 'X' : 'C';
        if (!run.error) {
            ++tally.completed;
            EXPECT_EQ(rows, 2) << "completed, so committed";
        } else {
            ++tally.cancelled;
            EXPECT_TRUE(is_cancelled(run.error)) << describe(run.error);
            EXPECT_TRUE(holdfast::is_cancellation(run.error)) << describe(run.error);
            EXPECT_EQ(rows, 0) << "cancelled, so nothing committed";
        }
        if (run.finished_first) {
            EXPECT_FALSE(run.error);
        }
    }

    void sweep_connection(const char* name, bool fresh);
    void sweep_pool(const char* name, pool_start start, bool transaction);

    std::optional<scratch_schema> schema_;  // declared first: dropped after checker_ closes
    std::string dsn_;
    std::optional<pg::connection> checker_;
};

// `fresh`: a new connection per k, so the statements are prepared inside the transaction
// (more round trips to cancel); otherwise one connection whose statement cache is warm
// after the first k.
void CancellationSweep::sweep_connection(const char* name, bool fresh) {
    asio::io_context io;
    std::optional<async_connection> conn;
    auto reconnect = [&] {
        conn.emplace(io.get_executor(), dsn_);
        conn->connect();
    };
    reconnect();
    sweep_tally tally;
    bool finished = false;
    for (int k = 1; k <= max_k && !finished; ++k) {
        SCOPED_TRACE("cancelled after handler " + std::to_string(k));
        ++tally.ks;
        if (fresh) reconnect();
        const auto run = run_cancelled_after(io, k, connection_transaction(*conn, k));
        finished = run.finished_first;
        expect_all_or_nothing(run, k, tally);
        if (conn->is_open() && !conn->is_broken()) {
            EXPECT_EQ(conn->transaction_status(), transaction_status::idle);
            EXPECT_FALSE(conn->is_busy());
            run_to_end(io, expect_usable(*conn));
        } else {
            ++tally.closed;
            reconnect();
        }
        expect_sessions(1);
        if (HasFailure()) break;  // the first failing k says enough
    }
    EXPECT_TRUE(finished) << "no k let the operation complete";
    tally.print(name);
    conn.reset();
    expect_sessions(0);
}

TEST_F(CancellationSweep, AsyncConnectionTransactionWithTwoStatements) {
    sweep_connection("pg::async_connection::transaction, statements cached", false);
}

TEST_F(CancellationSweep, AsyncConnectionTransactionPreparingItsStatements) {
    sweep_connection("pg::async_connection::transaction, statements prepared in it", true);
}

// pool.transaction (two statements) when `transaction`, else pool.execute (one autocommit
// INSERT).
void CancellationSweep::sweep_pool(const char* name, pool_start start, bool transaction) {
    asio::io_context io;
    std::optional<async_pool> pool;
    auto open = [&](std::size_t min_size) {
        pool.emplace(io.get_executor(), dsn_, pool_options{.min_size = min_size, .max_size = 1});
        run_to_end(io, pool->open());
    };
    auto close = [&] {
        run_to_end(io, pool->close());
        pool.reset();
        expect_sessions(0);
    };
    const bool fresh_pool = start == pool_start::opens_connection;
    if (!fresh_pool) open(1);
    sweep_tally tally;
    bool finished = false;
    for (int k = 1; k <= max_k && !finished; ++k) {
        SCOPED_TRACE("cancelled after handler " + std::to_string(k));
        ++tally.ks;
        if (fresh_pool) open(0);
        std::optional<async_pool::lease> held;
        std::optional<asio::awaitable<void>> companion;
        if (start == pool_start::waits_for_return) {
            run_to_end(io, acquire_into(*pool, held));
            companion.emplace(hold_then_return(held));
        }
        const auto before = pool->stats();
        const auto run = run_cancelled_after(
            io, k, transaction ? pool_transaction(*pool, k) : pool_execute(*pool, k),
            std::move(companion));
        EXPECT_FALSE(held) << "the other holder returned its connection";
        finished = run.finished_first;
        if (transaction) {
            expect_all_or_nothing(run, k, tally);
        } else {
            // A single autocommit statement: a cancel that reaches the server after the
            // statement ran cannot undo it, so a cancelled execute may have committed; a
            // completed one always has.
            const auto rows = rows_for(k);
            tally.outcomes += run.error ? 'X' : 'C';
            if (!run.error) {
                ++tally.completed;
                EXPECT_EQ(rows, 1);
            } else {
                ++tally.cancelled;
                EXPECT_TRUE(is_cancelled(run.error)) << describe(run.error);
                EXPECT_TRUE(holdfast::is_cancellation(run.error)) << describe(run.error);
                EXPECT_LE(rows, 1);
                if (rows == 1) ++tally.cancelled_after_the_server;
            }
        }
        const auto after = pool->stats();
        tally.closed += static_cast<int>(after.closed_broken - before.closed_broken);
        tally.waits_cancelled += static_cast<int>(after.cancelled_waits - before.cancelled_waits);
        expect_pool_gauges_add_up(*pool);
        run_to_end(io, expect_all_idle_and_usable(*pool));
        expect_pool_gauges_add_up(*pool);
        expect_sessions(pool->stats().size);
        if (fresh_pool) close();
        if (HasFailure()) break;
    }
    EXPECT_TRUE(finished) << "no k let the operation complete";
    tally.print(name);
    if (!fresh_pool) close();
}

TEST_F(CancellationSweep, PoolTransactionOnAWarmPool) {
    sweep_pool("db::async_pool::transaction, warm pool", pool_start::warm, true);
}

TEST_F(CancellationSweep, PoolTransactionWhoseAcquireOpensTheConnection) {
    sweep_pool("db::async_pool::transaction, acquire opens the connection",
               pool_start::opens_connection, true);
}

TEST_F(CancellationSweep, PoolTransactionWhoseAcquireWaitsInTheQueue) {
    sweep_pool("db::async_pool::transaction, acquire waits in the queue",
               pool_start::waits_for_return, true);
}

TEST_F(CancellationSweep, PoolExecuteOnAWarmPool) {
    sweep_pool("db::async_pool::execute, warm pool", pool_start::warm, false);
}

TEST_F(CancellationSweep, PoolExecuteWhoseAcquireOpensTheConnection) {
    sweep_pool("db::async_pool::execute, acquire opens the connection",
               pool_start::opens_connection, false);
}

TEST_F(CancellationSweep, PoolExecuteWhoseAcquireWaitsInTheQueue) {
    sweep_pool("db::async_pool::execute, acquire waits in the queue", pool_start::waits_for_return,
               false);
}

}  // namespace
}  // namespace holdfast::db::testing
