// db::async_pool against a real PostgreSQL server behind a fault-injecting proxy: dropped
// connections, a black hole, latency, a connection cut mid-result or mid-COMMIT, terminated
// backends and idle_session_timeout. Every test ends by checking that nothing leaked: no
// lease, no connection through the proxy, no session on the server.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "async_test_support.hpp"
#include "fault_test_support.hpp"
#include "test_support.hpp"
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <holdfast/db/async_pool.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/pg.hpp>
#include <holdfast/pool/pool_errors.hpp>

namespace holdfast::db::testing {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using pg::async_connection;
using std::chrono::milliseconds;

// What "bounded by its deadline" allows beyond the deadline: the cancel of a statement in
// flight waits up to cancel_timeout for the server, plus scheduling under sanitizers.
constexpr auto cancel_timeout = 500ms;
constexpr auto overshoot_margin = 1000ms;

const pg::async_options quick_cancel{.cancel_timeout = cancel_timeout};

class AsyncPoolFaults : public fault_fixture {
  protected:
    // Every connection the pool holds is idle, is the only one open through the proxy and
    // has exactly one session on the server; after close() none is left anywhere.
    asio::awaitable<void> expect_no_leaks(async_pool& pool) {
        auto stats = pool.stats();
        EXPECT_EQ(stats.in_use, 0u);
        EXPECT_EQ(stats.waiting, 0u);
        const bool settled = co_await eventually(
            [&] {
                const auto s = pool.stats();
                return s.creating == 0 && proxy_->live_connections() == s.size &&
                       server_sessions() == static_cast<std::int64_t>(s.size);
            },
            10s);
        stats = pool.stats();
        EXPECT_TRUE(settled) << "pool size " << stats.size << " (creating " << stats.creating
                             << "), proxy " << proxy_->live_connections() << ", server "
                             << server_sessions();
        // Each pooled connection is usable: never inside a transaction, never broken.
        std::vector<async_pool::lease> leases;
        for (std::size_t i = 0; i < stats.size; ++i) {
            async_pool::lease l = co_await pool.acquire();
            EXPECT_FALSE(l->is_broken());
            EXPECT_EQ(l->transaction_status(), transaction_status::idle);
            leases.push_back(std::move(l));
        }
        leases.clear();
        co_await expect_closed_cleanly(pool);
    }

    // After close(): no connection left through the proxy, no session on the server.
    asio::awaitable<void> expect_closed_cleanly(async_pool& pool) {
        co_await pool.close();
        EXPECT_EQ(pool.stats().size, 0u);
        EXPECT_TRUE(co_await eventually([&] { return proxy_->live_connections() == 0; }, 5s))
            << proxy_->live_connections() << " connections left open through the proxy";
        EXPECT_TRUE(co_await eventually([&] { return server_sessions() == 0; }, 5s))
            << server_sessions() << " sessions left on the server";
    }

    // Executes until one succeeds (each attempt bounded); the time it took, or nullopt.
    static asio::awaitable<std::optional<milliseconds>> time_to_recovery(async_pool& pool,
                                                                         milliseconds limit) {
        const auto start = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - start < limit) {
            auto attempt = co_await race_deadline(pool.execute("SELECT 1 AS n"), 2s);
            if (!attempt.error && !attempt.timed_out) {
                co_return std::chrono::duration_cast<milliseconds>(
                    std::chrono::steady_clock::now() - start);
            }
            co_await sleep_for(20ms);
        }
        co_return std::nullopt;
    }

    std::int64_t active_statements(const std::string& like) {
        return admin_
            ->query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND "
                "state = 'active' AND query LIKE $2",
                application_name_, like)
            .get<std::int64_t>(0);
    }
};

TEST_F(AsyncPoolFaults, DroppedConnectionsFailInFlightStatementsAndThePoolHealsByItself) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 4, .acquire_timeout = 5s},
                        quick_cancel);
        co_await pool.open();
        constexpr std::size_t callers = 4;
        std::vector<timed_outcome> outcomes(callers);
        std::size_t finished = 0;
        for (std::size_t i = 0; i < callers; ++i) {
            asio::co_spawn(
                ex,
                [&, i]() -> asio::awaitable<void> {
                    outcomes[i] = co_await time_call(pool.execute("SELECT pg_sleep(60)"), 0ms);
                    ++finished;
                },
                asio::detached);
        }
        EXPECT_TRUE(co_await eventually(
            [&] { return active_statements("SELECT pg_sleep(60)") == std::int64_t{callers}; },
            10s));
        const auto dropped_at = std::chrono::steady_clock::now();
        proxy_->drop_all();
        EXPECT_TRUE(co_await eventually([&] { return finished == callers; }, 10s))
            << "statements still hang after their connections dropped";
        milliseconds slowest{0};
        for (const auto& o : outcomes) {
            EXPECT_TRUE(holds<connection_error>(o.error)) << describe_error(o.error);
            slowest = std::max(
                slowest, std::chrono::duration_cast<milliseconds>(o.finished_at - dropped_at));
        }
        print_measure("drop: slowest in-flight statement to fail after the drop", slowest);
        EXPECT_LT(slowest, 1s);
        auto stats = pool.stats();
        EXPECT_EQ(stats.in_use, 0u);
        EXPECT_GE(stats.closed_broken, static_cast<std::uint64_t>(callers));
        EXPECT_EQ(stats.idle, 0u) << "a dropped connection went back to the pool";

        // Still down: a statement fails fast, with the connect error.
        auto down = co_await time_call(pool.execute("SELECT 1"), 0ms);
        EXPECT_TRUE(holds<connection_error>(down.error)) << describe_error(down.error);
        print_measure("drop: a statement while the server is unreachable fails after",
                      down.elapsed);
        EXPECT_LT(down.elapsed, 2s);

        // Back: the very next statement succeeds, no reset needed.
        proxy_->pass_through();
        auto rows = co_await pool.execute("SELECT 41 + 1 AS n");
        EXPECT_EQ(rows.at(0).get<std::int64_t>("n"), 42);
        co_await expect_no_leaks(pool);
    });
}

TEST_F(AsyncPoolFaults, BlackHoleEveryCallEndsByItsDeadlineAndThePoolRecovers) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        constexpr auto acquire_timeout = 1000ms;
        async_pool pool(ex, dsn_,
                        {.min_size = 1,
                         .max_size = 2,
                         .acquire_timeout = acquire_timeout,
                         .validate_after_idle = 0ms},
                        quick_cancel);
        co_await pool.open();
        proxy_->black_hole();
        std::vector<std::pair<const char*, timed_outcome>> calls;

        // A statement on the open connection: sent, never answered, cancelled at the deadline.
        auto on_open = co_await race_deadline(pool.execute("SELECT 1"), 1000ms);
        EXPECT_TRUE(on_open.timed_out) << describe_error(on_open.error);
        calls.emplace_back("black hole: execute() on an open connection || 1 s", on_open);

        // Now a connection has to be opened: its connect goes into the black hole.
        auto connecting = co_await race_deadline(pool.execute("SELECT 1"), 1000ms);
        EXPECT_TRUE(connecting.timed_out || holds<pool_timeout>(connecting.error) ||
                    holds<connection_error>(connecting.error))
            << describe_error(connecting.error);
        calls.emplace_back("black hole: execute() that must connect || 1 s", connecting);

        // acquire() on its own: acquire_timeout bounds it.
        auto acquire = co_await time_call(pool.acquire(), acquire_timeout);
        EXPECT_TRUE(holds<pool_timeout>(acquire.error) || holds<connection_error>(acquire.error))
            << describe_error(acquire.error);
        calls.emplace_back("black hole: acquire(), acquire_timeout 1 s", acquire);

        auto transaction = co_await race_deadline(
            pool.transaction([](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("SELECT 1");
            }),
            700ms);
        EXPECT_TRUE(transaction.timed_out || holds<pool_timeout>(transaction.error) ||
                    holds<connection_error>(transaction.error))
            << describe_error(transaction.error);
        calls.emplace_back("black hole: transaction() || 700 ms", transaction);

        // Several callers at once.
        constexpr std::size_t callers = 6;
        std::vector<timed_outcome> concurrent(callers);
        std::size_t finished = 0;
        for (std::size_t i = 0; i < callers; ++i) {
            asio::co_spawn(
                ex,
                [&, i]() -> asio::awaitable<void> {
                    concurrent[i] = co_await race_deadline(
                        pool.execute("SELECT 1"), milliseconds(300 + 100 * static_cast<int>(i)));
                    ++finished;
                },
                asio::detached);
        }
        EXPECT_TRUE(co_await eventually([&] { return finished == callers; }, 10s))
            << "calls still hang in the black hole";
        for (const auto& o : concurrent) {
            EXPECT_TRUE(o.timed_out || holds<pool_timeout>(o.error) ||
                        holds<connection_error>(o.error))
                << describe_error(o.error);
            calls.emplace_back("black hole: 1 of 6 concurrent execute() || 0.3-0.8 s", o);
        }
        for (const auto& [what, o] : calls) {
            print_overshoot(what, o);
            EXPECT_LT(o.overshoot(), overshoot_margin) << what;
        }
        EXPECT_EQ(pool.stats().in_use, 0u);
        proxy_->pass_through();
        const auto recovered = co_await time_to_recovery(pool, 10s);
        EXPECT_TRUE(recovered) << "the pool did not recover after the black hole healed";
        if (recovered) {
            print_measure("black hole: time to recovery after healing", *recovered);
            EXPECT_LT(*recovered, 5s);
        }
        co_await expect_no_leaks(pool);
    });
}

TEST_F(AsyncPoolFaults, ConnectsIntoABlackHoleGiveUpSoCloseEnds) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.max_size = 2, .acquire_timeout = 1s},
                        {.cancel_timeout = cancel_timeout, .connect_timeout = 1500ms});
        co_await pool.open();
        proxy_->black_hole();
        // A connect goes into the black hole and stays there: nobody heals it.
        auto call = co_await race_deadline(pool.execute("SELECT 1"), 200ms);
        EXPECT_TRUE(call.timed_out) << describe_error(call.error);
        EXPECT_EQ(pool.stats().creating, 1u);
        // close() waits for creations in flight: each connect must give up by itself
        // (async_options::connect_timeout: 1.5 s).
        auto closing = co_await race_deadline(pool.close(), 5s);
        EXPECT_FALSE(closing.timed_out) << "close() waits for connects that never end";
        print_measure("black hole: close() with a connect in flight took", closing.elapsed);
        EXPECT_LT(closing.elapsed, 3s);

        // A connect_timeout in the conninfo wins over async_options::connect_timeout (30 s).
        const std::string bounded_dsn =
            proxy_->dsn(*pg_dsn(), session_options() + " connect_timeout=2");
        async_pool patient(ex, bounded_dsn, {.max_size = 1, .acquire_timeout = 30s},
                           {.cancel_timeout = cancel_timeout, .connect_timeout = 30s});
        co_await patient.open();
        call = co_await race_deadline(patient.execute("SELECT 1"), 200ms);
        EXPECT_TRUE(call.timed_out) << describe_error(call.error);
        closing = co_await race_deadline(patient.close(), 5s);
        EXPECT_FALSE(closing.timed_out) << "the conninfo's connect_timeout was overridden";
        EXPECT_LT(closing.elapsed, 3s);
        proxy_->pass_through();
        co_await expect_closed_cleanly(pool);
        co_await expect_closed_cleanly(patient);
    });
}

TEST_F(AsyncPoolFaults, ConnectionLostWhileACancelledStatementDrainsEndsTheCallAtOnce) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        // The default cancel_timeout (5 s): the drain would wait that long for the server.
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 1});
        co_await pool.open();
        proxy_->black_hole();
        timed_outcome call;
        bool done = false;
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
                call = co_await race_deadline(pool.execute("SELECT 1"), 300ms);
                done = true;
            },
            asio::detached);
        // Past the deadline: the statement is cancelled and its connection drains, waiting
        // for an answer that cannot come. Then the connection is lost.
        co_await sleep_for(600ms);
        EXPECT_FALSE(done);
        const auto dropped_at = std::chrono::steady_clock::now();
        proxy_->drop_all();
        EXPECT_TRUE(co_await eventually([&] { return done; }, 10s));
        EXPECT_TRUE(call.timed_out) << describe_error(call.error);
        const auto after_drop =
            std::chrono::duration_cast<milliseconds>(call.finished_at - dropped_at);
        print_measure("drop while draining a cancelled statement: call ends after", after_drop);
        EXPECT_LT(after_drop, 1s) << "the drain waited for cancel_timeout on a lost connection";
        EXPECT_EQ(pool.stats().closed_broken, 1u);
        proxy_->pass_through();
        auto rows = co_await pool.execute("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
        co_await expect_no_leaks(pool);
    });
}

TEST_F(AsyncPoolFaults, LatencySlowsResultsDownAndTimeoutsFireWhenItExceedsThem) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 2, .acquire_timeout = 5s},
                        quick_cancel);
        co_await pool.open();
        proxy_->set_latency(50ms);
        auto start = std::chrono::steady_clock::now();
        auto rows = co_await pool.execute(
            "SELECT sum(g) AS total, count(*) AS n FROM generate_series(1, $1::int) g", 10000);
        const auto took = std::chrono::steady_clock::now() - start;
        EXPECT_EQ(rows.at(0).get<std::int64_t>("n"), 10000);
        EXPECT_EQ(rows.at(0).get<std::int64_t>("total"), 50005000);
        EXPECT_GE(took, 100ms);  // one round trip through the delay, both ways
        // A second connection opens through the delay too, and works.
        {
            async_pool::lease a = co_await pool.acquire();
            async_pool::lease b = co_await pool.acquire();
            auto r = co_await b->async_query("SELECT 2 AS n");
            EXPECT_EQ(r.one().get<std::int64_t>("n"), 2);
        }

        // Latency above the deadline: the statement times out, bounded.
        proxy_->set_latency(400ms);
        auto slow = co_await race_deadline(pool.execute("SELECT 1"), 200ms);
        EXPECT_TRUE(slow.timed_out) << describe_error(slow.error);
        print_overshoot("latency 400 ms: execute() || 200 ms", slow);
        EXPECT_LT(slow.overshoot(), overshoot_margin);

        // A connect slower than acquire_timeout: pool_timeout, on time.
        {
            async_pool tight(ex, dsn_, {.max_size = 1, .acquire_timeout = 300ms}, quick_cancel);
            co_await tight.open();
            auto late = co_await time_call(tight.acquire(), 300ms);
            EXPECT_TRUE(holds<pool_timeout>(late.error)) << describe_error(late.error);
            print_overshoot("latency 400 ms: acquire(), acquire_timeout 300 ms", late);
            EXPECT_LT(late.overshoot(), overshoot_margin);
            proxy_->set_latency(0ms);
            co_await tight.close();
        }
        proxy_->set_latency(0ms);
        auto again = co_await pool.execute("SELECT 3 AS n");
        EXPECT_EQ(again.at(0).get<std::int64_t>("n"), 3);
        co_await expect_no_leaks(pool);
    });
}

TEST_F(AsyncPoolFaults, ResultCutMidwayIsAConnectionErrorAndTheConnectionIsDiscarded) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 1}, quick_cancel);
        co_await pool.open();
        auto first = co_await pool.execute("SELECT pg_backend_pid() AS pid");
        const auto pid = first.at(0).get<std::int64_t>("pid");
        proxy_->cut_after(256 * 1024);
        std::string message;
        try {
            co_await pool.execute(
                "SELECT g, repeat('x', 100) AS filler FROM generate_series(1, 100000) g");
            ADD_FAILURE() << "100000 rows arrived through a connection cut after 256 KiB";
        } catch (const connection_error& e) {
            message = e.what();
        }
        std::printf("[ message  ] %s\n", message.c_str());
        EXPECT_NE(message.find("generate_series"), std::string::npos)
            << "the error names the statement";
        auto stats = pool.stats();
        EXPECT_EQ(stats.in_use, 0u);
        EXPECT_EQ(stats.closed_broken, 1u);
        proxy_->pass_through();
        auto next = co_await pool.execute("SELECT pg_backend_pid() AS pid");
        EXPECT_NE(next.at(0).get<std::int64_t>("pid"), pid);
        co_await expect_no_leaks(pool);
    });
}

TEST_F(AsyncPoolFaults, TransactionCutBeforeCommitIsAbsentAndCutCommitIsAllOrNothing) {
    admin_->execute_unprepared("CREATE TABLE " + schema_ +
                               ".ledger (id INT PRIMARY KEY, note TEXT NOT NULL)");
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 2}, quick_cancel);
        co_await pool.open();
        std::int64_t pid = 0;

        // Cut before COMMIT was sent: the server never commits.
        std::exception_ptr error;
        try {
            co_await pool.transaction([&](async_connection& tx) -> asio::awaitable<void> {
                pid = tx.backend_pid();
                co_await tx.async_execute("INSERT INTO ledger VALUES (1, 'a'), (2, 'b'), (3, 'c')");
                proxy_->drop_all();
            });
        } catch (...) {
            error = std::current_exception();
        }
        EXPECT_TRUE(holds<connection_error>(error)) << describe_error(error);
        EXPECT_EQ(count_rows("ledger"), 0);
        proxy_->pass_through();

        // Cut in the middle of the body: the statement fails, nothing is committed.
        error = nullptr;
        try {
            co_await pool.transaction([&](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("INSERT INTO ledger VALUES (4, 'd')");
                proxy_->cut_after(3);
                co_await tx.async_execute("INSERT INTO ledger VALUES (5, 'e')");
            });
        } catch (...) {
            error = std::current_exception();
        }
        EXPECT_TRUE(holds<connection_error>(error)) << describe_error(error);
        proxy_->pass_through();
        EXPECT_EQ(count_rows("ledger"), 0);

        // Cut after COMMIT was sent, before its reply: committed or not, all or nothing, and
        // the caller cannot know which from the error alone — a fresh connection tells.
        error = nullptr;
        try {
            co_await pool.transaction([&](async_connection& tx) -> asio::awaitable<void> {
                pid = tx.backend_pid();
                co_await tx.async_execute("INSERT INTO ledger VALUES (6, 'f'), (7, 'g'), (8, 'h')");
                proxy_->cut_after(0);
            });
        } catch (...) {
            error = std::current_exception();
        }
        EXPECT_TRUE(holds<connection_error>(error)) << describe_error(error);
        proxy_->pass_through();
        const auto rows = count_rows("ledger");
        std::printf("[ outcome  ] COMMIT cut before its reply: %s\n", rows == 3   ? "committed"
                                                                      : rows == 0 ? "not committed"
                                                                                  : "PARTIAL");
        EXPECT_TRUE(rows == 0 || rows == 3) << rows << " rows: a partial transaction";
        // The cut connection is never handed out again.
        const auto stats = pool.stats();
        EXPECT_EQ(stats.in_use, 0u);
        EXPECT_GE(stats.closed_broken, 3u);
        for (int i = 0; i < 3; ++i) {
            async_pool::lease conn = co_await pool.acquire();
            EXPECT_NE(conn->backend_pid(), pid);
            EXPECT_FALSE(conn->is_broken());
            auto check = co_await conn->async_query("SELECT count(*) AS n FROM ledger");
            EXPECT_EQ(check.one().get<std::int64_t>("n"), rows);
        }
        co_await expect_no_leaks(pool);
    });
}

TEST_F(AsyncPoolFaults, TerminatedBackendsIdleOrMidQueryAreEvicted) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 2, .max_size = 2, .validate_after_idle = 0ms},
                        quick_cancel);
        co_await pool.open();
        std::vector<int> pids;
        {
            async_pool::lease a = co_await pool.acquire();
            async_pool::lease b = co_await pool.acquire();
            pids = {a->backend_pid(), b->backend_pid()};
        }
        // Idle: both terminated while in the pool. (Waiting until the proxy has passed the
        // server's last words on: until then no client could tell.)
        const auto closes = proxy_->server_closes();
        for (int pid : pids) admin_->execute("SELECT pg_terminate_backend($1)", pid);
        EXPECT_TRUE(co_await eventually([&] { return proxy_->server_closes() == closes + 2; }, 5s));
        for (int i = 0; i < 4; ++i) {
            auto rows = co_await pool.execute("SELECT pg_backend_pid() AS pid");
            const auto pid = rows.at(0).get<std::int64_t>("pid");
            EXPECT_TRUE(pid != pids[0] && pid != pids[1]) << "a terminated backend was reused";
        }
        EXPECT_GE(pool.stats().closed_broken, 1u);

        // Mid-query: the caller gets a connection_error at once.
        timed_outcome sleeping;
        bool done = false;
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
                sleeping = co_await time_call(pool.execute("SELECT pg_sleep(60)"), 0ms);
                done = true;
            },
            asio::detached);
        EXPECT_TRUE(
            co_await eventually([&] { return active_statements("SELECT pg_sleep(60)") == 1; }, 5s));
        const auto terminated_at = std::chrono::steady_clock::now();
        admin_->execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 "
            "AND query = 'SELECT pg_sleep(60)'",
            application_name_);
        EXPECT_TRUE(co_await eventually([&] { return done; }, 5s));
        EXPECT_TRUE(holds<connection_error>(sleeping.error)) << describe_error(sleeping.error);
        print_measure(
            "terminate mid-query: caller sees the error after",
            std::chrono::duration_cast<milliseconds>(sleeping.finished_at - terminated_at));
        auto rows = co_await pool.execute("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
        co_await expect_no_leaks(pool);
    });
}

TEST_F(AsyncPoolFaults, IdleSessionTimeoutNeverReachesACaller) {
    // Per connection, through the conninfo: ALTER ROLE would change every other test's
    // sessions too.
    const std::string dsn = proxy_dsn("-c idle_session_timeout=300");
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        // No min_size: a background refill would open connections at moments the test does
        // not choose, and one expiring the very instant it is handed out (the server's last
        // words still on their way) would fail its statement — a race no check can close.
        async_pool pool(ex, dsn, {.max_size = 2}, quick_cancel);
        co_await pool.open();
        int errors = 0;
        std::chrono::milliseconds idle{0};
        auto statement = [&]() -> asio::awaitable<void> {
            try {
                auto rows = co_await pool.execute("SELECT 1 AS n");
                EXPECT_EQ(rows.size(), 1u);
            } catch (const std::exception& e) {
                ++errors;
                ADD_FAILURE() << "after " << idle.count() << " ms idle: " << e.what();
            }
        };
        // Idle shorter than, beyond, and well beyond the server's timeout, shorter and longer
        // than the pool's validate_after_idle (500 ms); two connections at a time.
        for (auto wait : {100ms, 350ms, 450ms, 700ms, 1200ms, 400ms, 600ms}) {
            idle = wait;
            co_await sleep_for(idle);
            co_await (statement() && statement());
        }
        EXPECT_EQ(errors, 0);
        const auto stats = pool.stats();
        EXPECT_GE(stats.validation_failures, 4u) << "the server's timeout expired no connection";
        EXPECT_EQ(stats.in_use, 0u);
        // The server keeps expiring idle connections: only the state after close() is fixed.
        co_await expect_closed_cleanly(pool);
    });
}

}  // namespace
}  // namespace holdfast::db::testing
