#include <holdfast/db/async_pool.hpp>
// (header under test first: it must compile on its own)
#include <atomic>
#include <chrono>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "async_test_support.hpp"
#include "test_support.hpp"
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <holdfast/async/async_with.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/pg.hpp>

namespace holdfast::db::testing {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using pg::async_connection;

class AsyncPool : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
        schema_.emplace(*pg_dsn());
        dsn_ = schema_->dsn();
        checker_.emplace(pg::connect(dsn_));
        checker_->execute_unprepared(
            "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT UNIQUE NOT NULL, "
            "active BOOLEAN NOT NULL DEFAULT true)");
        checker_->execute_unprepared(
            "INSERT INTO users (email, active) VALUES ('a@x', true), ('b@x', false), "
            "('c@x', true)");
    }
    std::int64_t count_users() {
        return checker_->query_one("SELECT count(*) FROM users").get<std::int64_t>(0);
    }
    // Every open connection of the pool, leased at once: none may be inside a transaction.
    static asio::awaitable<void> expect_all_idle(async_pool& pool) {
        std::vector<async_pool::lease> leases;
        const auto open = pool.stats().size;
        for (std::size_t i = 0; i < open; ++i) {
            async_pool::lease l = co_await pool.acquire();
            EXPECT_EQ(l->transaction_status(), transaction_status::idle);
            EXPECT_FALSE(l->is_busy());
            leases.push_back(std::move(l));
        }
    }

    std::optional<scratch_schema> schema_;  // declared first: dropped after checker_ closes
    std::string dsn_;
    std::optional<pg::connection> checker_;
};

TEST_F(AsyncPool, ExecuteReturnsRowsInsideAsyncWith) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 10});
        EXPECT_FALSE(pool.is_open());
        co_await holdfast::async_with(pool, [](async_pool& p) -> asio::awaitable<void> {
            EXPECT_TRUE(p.is_open());
            auto users =
                co_await p.execute("SELECT email FROM users WHERE active = $1 ORDER BY id", true);
            EXPECT_EQ(users.size(), 2u);
            if (users.size() != 2u) co_return;
            EXPECT_EQ(users[0].to_json(), nlohmann::json({{"email", "a@x"}}));
            EXPECT_EQ(users[1].get<std::string>("email"), "c@x");
            EXPECT_EQ(p.stats().in_use, 0u);
            EXPECT_GE(p.stats().size, 1u);
        });
        EXPECT_FALSE(pool.is_open());
    });
}

TEST_F(AsyncPool, WrongDsnFailsOnEnter) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, "host=/nonexistent-holdfast-dir port=1",
                        {.min_size = 1, .max_size = 2, .acquire_timeout = 5s});
        bool failed = false;
        try {
            co_await pool.open();
        } catch (const connection_error&) {
            failed = true;
        }
        EXPECT_TRUE(failed);
        EXPECT_FALSE(pool.is_open());
    });
}

TEST_F(AsyncPool, ErrorsCarrySqlstateAndKeepTheConnection) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 1});
        co_await pool.open();
        std::string sqlstate;
        try {
            co_await pool.execute("INSERT INTO users (email) VALUES ($1)", "a@x");
        } catch (const unique_violation& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "23505");
        auto rows = co_await pool.execute("SELECT count(*) AS n FROM users");
        EXPECT_EQ(rows.at(0).get<std::int64_t>("n"), 3);
        const auto stats = pool.stats();
        EXPECT_EQ(stats.created, 1u);
        EXPECT_EQ(stats.closed_broken, 0u);
        co_await pool.close();
    });
}

TEST_F(AsyncPool, TimeoutCancelsASlowStatementAndThePoolLosesNothing) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 2});
        co_await pool.open();
        const auto start = std::chrono::steady_clock::now();
        auto outcome = co_await (pool.execute("SELECT pg_sleep(10)") || sleep_for(200ms));
        EXPECT_EQ(outcome.index(), 1u);
        EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
        auto stats = pool.stats();
        EXPECT_EQ(stats.in_use, 0u);
        EXPECT_EQ(stats.closed_broken, 0u);  // drained and returned, not discarded
        EXPECT_EQ(stats.reset_failures, 0u);
        auto rows = co_await pool.execute("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
        co_await expect_all_idle(pool);
        co_await pool.close();
        stats = pool.stats();
        EXPECT_EQ(stats.size, 0u);
    });
}

TEST_F(AsyncPool, TransactionCommitsAndRollsBack) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 2});
        co_await pool.open();
        const auto id =
            co_await pool.transaction([](async_connection& tx) -> asio::awaitable<std::int64_t> {
                auto r = co_await tx.async_query(
                    "INSERT INTO users (email) VALUES ($1) RETURNING id", "d@x");
                co_return r.one().get<std::int64_t>("id");
            });
        EXPECT_GT(id, 0);
        EXPECT_EQ(count_users(), 4);
        bool thrown = false;
        try {
            co_await pool.transaction([](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("DELETE FROM users");
                throw std::runtime_error("no");
            });
        } catch (const std::runtime_error&) {
            thrown = true;
        }
        EXPECT_TRUE(thrown);
        EXPECT_EQ(count_users(), 4);
        co_await expect_all_idle(pool);
        co_await pool.close();
    });
}

TEST_F(AsyncPool, CancelledTransactionBodyRollsBackAndNoConnectionIsHandedOutInATransaction) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 2});
        co_await pool.open();
        auto body = [](async_connection& tx) -> asio::awaitable<void> {
            co_await tx.async_execute("DELETE FROM users");
            co_await tx.async_execute("SELECT pg_sleep(10)");
        };
        auto outcome = co_await (pool.transaction(body) || sleep_for(300ms));
        EXPECT_EQ(outcome.index(), 1u);
        EXPECT_EQ(count_users(), 3);  // rolled back, seen from a second connection
        // Cancel at every point of BEGIN's and COMMIT's round trips.
        for (int i = 0; i < 30; ++i) {
            asio::steady_timer timer(ex, std::chrono::microseconds(i * 40));
            auto quick = [](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("UPDATE users SET active = NOT active WHERE id = 1");
            };
            co_await (pool.transaction(quick) || timer.async_wait(asio::use_awaitable));
            co_await expect_all_idle(pool);
        }
        EXPECT_EQ(pool.stats().in_use, 0u);
        co_await pool.close();
    });
}

TEST_F(AsyncPool, TransactionWhoseCommitFailsReturnsAnIdleConnectionAndKeepsNothing) {
    checker_->execute_unprepared(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, "
        "user_id BIGINT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED)");
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 1});
        co_await pool.open();
        std::string sqlstate;
        try {
            co_await pool.transaction([](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("DELETE FROM users");
                co_await tx.async_execute("INSERT INTO orders (id, user_id) VALUES (1, 999)");
            });
        } catch (const foreign_key_violation& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "23503");
        EXPECT_EQ(count_users(), 3);
        auto stats = pool.stats();
        EXPECT_EQ(stats.in_use, 0u);
        EXPECT_EQ(stats.closed_broken, 0u);  // a failed COMMIT does not break the connection
        EXPECT_EQ(stats.reset_failures, 0u);
        co_await expect_all_idle(pool);
        auto rows = co_await pool.execute("SELECT count(*) AS n FROM orders");
        EXPECT_EQ(rows.at(0).get<std::int64_t>("n"), 0);
        co_await pool.close();
    });
}

TEST_F(AsyncPool, TransactionAbortedByAnErrorTheBodyCaughtFailsLoudlyAndReturnsAnIdleConnection) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 1});
        co_await pool.open();
        bool loud = false;
        try {
            co_await pool.transaction([](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("DELETE FROM users WHERE email = $1", "c@x");
                try {
                    co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", "a@x");
                } catch (const unique_violation&) {
                }
            });
        } catch (const usage_error&) {
            loud = true;
        }
        EXPECT_TRUE(loud);
        EXPECT_EQ(count_users(), 3);
        EXPECT_EQ(pool.stats().in_use, 0u);
        co_await expect_all_idle(pool);
        co_await pool.close();
    });
}

TEST_F(AsyncPool, RollbackThatFailsKeepsTheBodyExceptionAndTheConnectionIsDestroyed) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 1});
        co_await pool.open();
        std::string caught;
        try {
            co_await pool.transaction([&](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("DELETE FROM users");
                const int pid = tx.backend_pid();
                checker_->execute("SELECT pg_terminate_backend($1)", pid);
                for (int i = 0; i < 250; ++i) {
                    if (checker_
                            ->query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
                            .get<std::int64_t>(0) == 0) {
                        break;
                    }
                    co_await sleep_for(20ms);
                }
                throw std::runtime_error("body failed");
            });
        } catch (const db::error& e) {
            caught = std::string("db::error: ") + e.what();
        } catch (const std::runtime_error& e) {
            caught = e.what();
        }
        EXPECT_EQ(caught, "body failed");
        EXPECT_EQ(count_users(), 3);
        auto stats = pool.stats();
        EXPECT_EQ(stats.in_use, 0u);
        EXPECT_EQ(stats.size, 0u);  // destroyed, never returned
        EXPECT_EQ(stats.closed_broken, 1u);
        auto rows = co_await pool.execute("SELECT count(*) AS n FROM users");
        EXPECT_EQ(rows.at(0).get<std::int64_t>("n"), 3);
        co_await pool.close();
    });
}

TEST_F(AsyncPool, TerminatedBackendIsEvictedAndTheNextExecuteSucceeds) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 1, .validate_after_idle = 0ms});
        co_await pool.open();
        int pid = 0;
        {
            async_pool::lease conn = co_await pool.acquire();
            pid = conn->backend_pid();
        }
        checker_->execute("SELECT pg_terminate_backend($1)", pid);
        // The backend is gone once pg_stat_activity no longer lists it.
        for (int i = 0; i < 100; ++i) {
            if (checker_->query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
                    .get<std::int64_t>(0) == 0) {
                break;
            }
            co_await sleep_for(20ms);
        }
        auto rows = co_await pool.execute("SELECT pg_backend_pid() AS pid");
        EXPECT_NE(rows.at(0).get<std::int64_t>("pid"), pid);
        const auto stats = pool.stats();
        EXPECT_EQ(stats.created, 2u);
        EXPECT_EQ(stats.closed_broken, 1u);
        co_await pool.close();
    });
}

TEST_F(AsyncPool, ConnectionLostDuringAStatementIsDiscarded) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 1});
        co_await pool.open();
        bool lost = false;
        try {
            co_await pool.execute("SELECT pg_terminate_backend(pg_backend_pid())");
        } catch (const connection_error&) {
            lost = true;
        }
        EXPECT_TRUE(lost);
        EXPECT_EQ(pool.stats().closed_broken, 1u);
        auto rows = co_await pool.execute("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
        co_await pool.close();
    });
}

TEST_F(AsyncPool, ThousandConcurrentExecutesOnAPoolOfFour) {
    run_coroutine(
        [&](asio::any_io_executor ex) -> asio::awaitable<void> {
            async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 4});
            co_await pool.open();
            constexpr int n = 1000;
            std::atomic<int> ok{0}, failed{0};
            std::atomic<int> finished{0};
            asio::steady_timer all_done(ex, std::chrono::steady_clock::time_point::max());
            for (int i = 0; i < n; ++i) {
                asio::co_spawn(
                    ex,
                    [&pool, i]() -> asio::awaitable<bool> {
                        auto rows = co_await pool.execute("SELECT $1::int AS n", i);
                        co_return rows.size() == 1 && rows[0].get<std::int64_t>("n") == i;
                    },
                    [&](std::exception_ptr e, bool good) {
                        (e || !good ? failed : ok)++;
                        if (++finished == n) asio::post(ex, [&] { all_done.cancel(); });
                    });
            }
            try {
                co_await all_done.async_wait(asio::use_awaitable);
            } catch (const std::system_error&) {
            }
            EXPECT_EQ(ok.load(), n);
            EXPECT_EQ(failed.load(), 0);
            // A connect started for a caller that a returned connection served first may
            // still be connecting.
            for (int i = 0; i < 500 && pool.stats().creating != 0; ++i) co_await sleep_for(10ms);
            const auto stats = pool.stats();
            EXPECT_LE(stats.size, 4u);
            EXPECT_EQ(stats.in_use, 0u);
            EXPECT_EQ(stats.waiting, 0u);
            EXPECT_GE(stats.acquired, static_cast<std::uint64_t>(n));
            EXPECT_EQ(stats.closed_broken, 0u);
            EXPECT_EQ(stats.size, stats.idle);
            co_await pool.close();
            EXPECT_EQ(pool.stats().size, 0u);
        },
        2);
}

}  // namespace
}  // namespace holdfast::db::testing
