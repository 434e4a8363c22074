#include <holdfast/pg/async_connection.hpp>
// (header under test first: it must compile on its own)
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include "../db/async_test_support.hpp"
#include "../db/test_support.hpp"
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>
#include <poll.h>

#include <holdfast/db/error.hpp>
#include <holdfast/pg.hpp>

namespace holdfast::db::testing {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using pg::async_connection;

class PgAsyncConnection : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
        schema_.emplace(*pg_dsn());
        dsn_ = schema_->dsn();
        checker_.emplace(pg::connect(dsn_));
        checker_->execute_unprepared(
            "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT UNIQUE NOT NULL, "
            "active BOOLEAN NOT NULL DEFAULT true)");
    }
    std::int64_t count_users() {
        return checker_->query_one("SELECT count(*) FROM users").get<std::int64_t>(0);
    }

    std::optional<scratch_schema> schema_;  // declared first: dropped after checker_ closes
    std::string dsn_;
    std::optional<pg::connection> checker_;
};

TEST_F(PgAsyncConnection, QueryAndExecuteRoundTrip) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        EXPECT_TRUE(conn.is_open());
        const std::string email = "a@example.com";
        const auto inserted =
            co_await conn.async_execute("INSERT INTO users (email) VALUES ($1)", email);
        EXPECT_EQ(inserted, 1);
        co_await conn.async_execute("INSERT INTO users (email, active) VALUES ($1, $2)",
                                    "b@example.com", false);
        auto rows = co_await conn.async_query(
            "SELECT id, email, active FROM users WHERE active = $1 ORDER BY id", true);
        EXPECT_EQ(rows.size(), 1u);
        EXPECT_EQ(rows[0].get<std::string>("email"), "a@example.com");
        EXPECT_TRUE(rows[0].get<bool>("active"));
        EXPECT_EQ(rows[0].to_json()["email"], "a@example.com");
        // The statement cache serves the second run of the same SQL.
        auto again = co_await conn.async_query(
            "SELECT id, email, active FROM users WHERE active = $1 ORDER BY id", false);
        EXPECT_EQ(again.size(), 1u);
        EXPECT_GE(conn.cached_statements(), 2u);
        co_await conn.async_execute_unprepared("SET application_name = 'x'; SELECT 1");
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
    });
}

TEST_F(PgAsyncConnection, WithoutStatementCache) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_, {.connection = {.statement_cache_size = 0}});
        co_await conn.async_connect();
        auto rows = co_await conn.async_query("SELECT $1::int + 1 AS n", 41);
        EXPECT_EQ(rows.one().get<std::int64_t>("n"), 42);
        EXPECT_EQ(conn.cached_statements(), 0u);
    });
}

TEST_F(PgAsyncConnection, BlockingConnectForSynchronousFactories) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        conn.connect();
        auto rows = co_await conn.async_query("SELECT 1 AS one");
        EXPECT_EQ(rows.one().get<std::int64_t>("one"), 1);
    });
}

TEST_F(PgAsyncConnection, ErrorsCarrySqlstateAndLeaveTheConnectionUsable) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        co_await conn.async_execute("INSERT INTO users (email) VALUES ($1)", "dup@example.com");
        std::string sqlstate;
        try {
            co_await conn.async_execute("INSERT INTO users (email) VALUES ($1)", "dup@example.com");
        } catch (const unique_violation& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "23505");
        bool syntax = false;
        try {
            co_await conn.async_query("SELEC 1");
        } catch (const db::error& e) {
            syntax = e.sqlstate() == "42601";
        }
        EXPECT_TRUE(syntax);
        bool usage = false;
        try {
            co_await conn.async_query("SELECT $1::int", 1, 2);  // one parameter too many
        } catch (const usage_error&) {
            usage = true;
        }
        EXPECT_TRUE(usage);
        auto rows = co_await conn.async_query("SELECT count(*) AS n FROM users");
        EXPECT_EQ(rows.one().get<std::int64_t>("n"), 1);
        EXPECT_FALSE(conn.is_broken());
    });
}

TEST_F(PgAsyncConnection, ConnectErrorIsAConnectionError) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, "host=/nonexistent-holdfast-dir port=1 password=hunter2");
        std::string message;
        try {
            co_await conn.async_connect();
        } catch (const connection_error& e) {
            message = e.what();
        }
        EXPECT_NE(message.find("nonexistent-holdfast-dir"), std::string::npos) << message;
        EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
        EXPECT_FALSE(conn.is_open());
    });
}

TEST_F(PgAsyncConnection, TimeoutCancelsTheStatementAndTheConnectionStaysUsable) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        const auto start = std::chrono::steady_clock::now();
        auto outcome = co_await (conn.async_execute("SELECT pg_sleep(10)") || sleep_for(200ms));
        const auto elapsed = std::chrono::steady_clock::now() - start;
        EXPECT_EQ(outcome.index(), 1u);
        EXPECT_LT(elapsed, 3s);
        EXPECT_FALSE(conn.is_broken());
        EXPECT_FALSE(conn.is_busy());
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
        auto rows = co_await conn.async_query("SELECT 7 AS n");
        EXPECT_EQ(rows.one().get<std::int64_t>("n"), 7);
    });
}

TEST_F(PgAsyncConnection, TransactionCommitsOnSuccessAndRollsBackOnException) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        co_await conn.transaction([](async_connection& tx) -> asio::awaitable<void> {
            co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", "c@example.com");
        });
        EXPECT_EQ(count_users(), 1);
        bool thrown = false;
        try {
            co_await conn.transaction([](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", "d@example.com");
                throw std::runtime_error("body failed");
            });
        } catch (const std::runtime_error& e) {
            thrown = std::string(e.what()) == "body failed";
        }
        EXPECT_TRUE(thrown);
        EXPECT_EQ(count_users(), 1);
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
        // The explicit async_with form, with a result.
        const auto n = co_await holdfast::async_with(
            pg::async_transaction(conn), [](async_connection& tx) -> asio::awaitable<std::int64_t> {
                auto r = co_await tx.async_query("SELECT count(*) AS n FROM users");
                co_return r.one().get<std::int64_t>("n");
            });
        EXPECT_EQ(n, 1);
    });
}

TEST_F(PgAsyncConnection, CancelledTransactionBodyRollsBack) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        auto body = [](async_connection& tx) -> asio::awaitable<void> {
            co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", "e@example.com");
            co_await tx.async_execute("SELECT pg_sleep(10)");
        };
        const auto start = std::chrono::steady_clock::now();
        auto outcome = co_await (conn.transaction(body) || sleep_for(300ms));
        EXPECT_EQ(outcome.index(), 1u);
        EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
        EXPECT_EQ(count_users(), 0);  // seen from a second connection
        auto rows = co_await conn.async_query("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
    });
}

TEST_F(PgAsyncConnection, CancelDuringBeginNeverLeavesATransactionOpen) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        // Cancel at every point of BEGIN's round trip: before it is sent, while it runs,
        // after the server answered.
        for (int i = 0; i < 20; ++i) {
            asio::steady_timer timer(ex, std::chrono::microseconds(i * 50));
            auto outcome =
                co_await (conn.transaction([](async_connection&) -> asio::awaitable<void> {
                    asio::steady_timer never(co_await asio::this_coro::executor, 10s);
                    co_await never.async_wait(asio::use_awaitable);
                }) || timer.async_wait(asio::use_awaitable));
            EXPECT_EQ(outcome.index(), 1u);
            EXPECT_EQ(conn.transaction_status(), transaction_status::idle) << "iteration " << i;
            EXPECT_FALSE(conn.is_busy());
        }
        auto rows = co_await conn.async_query("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
    });
}

TEST_F(PgAsyncConnection, TransactionWhoseCommitFailsPropagatesItAndLeavesTheConnectionIdle) {
    checker_->execute_unprepared(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, "
        "user_id BIGINT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED)");
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        std::string sqlstate;
        try {
            co_await conn.transaction([](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", "f@x");
                // No user 999: the deferred check fails at COMMIT.
                co_await tx.async_execute("INSERT INTO orders (id, user_id) VALUES (1, 999)");
            });
        } catch (const foreign_key_violation& e) {
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(sqlstate, "23503");
        EXPECT_TRUE(conn.is_open());
        EXPECT_FALSE(conn.is_broken());
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
        EXPECT_EQ(count_users(), 0);
        auto rows = co_await conn.async_query("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
    });
}

TEST_F(PgAsyncConnection, TransactionAbortedByAnErrorTheBodyCaughtIsNeverSilentlyRolledBack) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        co_await conn.async_execute("INSERT INTO users (email) VALUES ($1)", "dup@x");
        bool caught_in_body = false;
        std::string error;
        try {
            co_await conn.transaction([&](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", "g@x");
                try {
                    co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", "dup@x");
                } catch (const unique_violation&) {
                    caught_in_body = true;  // and returns normally: the transaction is aborted
                }
            });
        } catch (const usage_error& e) {
            error = e.what();
        }
        EXPECT_TRUE(caught_in_body);
        // PostgreSQL answers COMMIT in an aborted transaction with a ROLLBACK and no error:
        // the caller must not believe "g@x" was committed.
        EXPECT_NE(error.find("aborted by an earlier error"), std::string::npos) << error;
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
        EXPECT_EQ(count_users(), 1);
        auto rows = co_await conn.async_query("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
    });
}

TEST_F(PgAsyncConnection, RollbackThatFailsKeepsTheBodyExceptionAndClosesTheConnection) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        const int pid = conn.backend_pid();
        std::string caught;
        try {
            co_await conn.transaction([&](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", "h@x");
                // The server goes away under the transaction: the ROLLBACK cannot be sent.
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
        EXPECT_EQ(caught, "body failed");  // never replaced by the ROLLBACK's failure
        EXPECT_TRUE(!conn.is_open() || conn.is_broken());
        EXPECT_EQ(count_users(), 0);
        co_await conn.async_connect();  // a fresh session
        auto rows = co_await conn.async_query("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
    });
}

TEST_F(PgAsyncConnection, NestedTransactionsUseSavepoints) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        co_await conn.transaction([](async_connection& tx) -> asio::awaitable<void> {
            co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", "outer@x");
            bool inner_failed = false;
            try {
                co_await tx.transaction([](async_connection& inner) -> asio::awaitable<void> {
                    co_await inner.async_execute("INSERT INTO users (email) VALUES ($1)",
                                                 "inner@x");
                    co_await inner.async_execute("INSERT INTO users (email) VALUES ($1)",
                                                 "outer@x");  // unique_violation
                });
            } catch (const unique_violation&) {
                inner_failed = true;
            }
            EXPECT_TRUE(inner_failed);
            EXPECT_EQ(tx.transaction_status(), transaction_status::in_transaction);
            co_await tx.transaction([](async_connection& inner) -> asio::awaitable<void> {
                co_await inner.async_execute("INSERT INTO users (email) VALUES ($1)", "kept@x");
            });
        });
        auto rows = co_await conn.async_query("SELECT email FROM users ORDER BY email");
        EXPECT_EQ(rows.size(), 2u);
        if (rows.size() != 2u) co_return;
        EXPECT_EQ(rows[0].get<std::string>(0), "kept@x");
        EXPECT_EQ(rows[1].get<std::string>(0), "outer@x");
    });
}

TEST_F(PgAsyncConnection, TerminatedBackendIsAConnectionErrorAndBreaksTheConnection) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        checker_->execute("SELECT pg_terminate_backend($1)", conn.backend_pid());
        bool lost = false;
        try {
            co_await conn.async_query("SELECT 1");
        } catch (const connection_error&) {
            lost = true;
        }
        EXPECT_TRUE(lost);
        EXPECT_TRUE(conn.is_broken());
        co_await conn.async_connect();  // reconnects
        auto rows = co_await conn.async_query("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
    });
}

TEST_F(PgAsyncConnection, ALostConnectionLeavesItsSocketNumberToTheNextConnection) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        std::optional<async_connection> lost(std::in_place, ex, dsn_);
        co_await lost->async_connect();
        const int lost_socket = PQsocket(lost->native_handle());
        checker_->execute("SELECT pg_terminate_backend($1)", lost->backend_pid());
        try {
            co_await lost->async_query("SELECT 1");
        } catch (const connection_error&) {
        }
        EXPECT_TRUE(lost->is_broken());
        // libpq closed the lost connection's socket when it read the end of file, so the next
        // socket gets its number, while the lost connection still exists.
        pg::async_options quick;
        quick.cancel_timeout = 500ms;
        async_connection next(ex, dsn_, quick);
        co_await next.async_connect();
        EXPECT_EQ(PQsocket(next.native_handle()), lost_socket);
        lost.reset();  // must not take the number's new owner out of the reactor
        auto outcome = co_await (next.async_query("SELECT 1 AS n") || sleep_for(3s));
        EXPECT_EQ(outcome.index(), 0u) << "the statement on the new connection never completed";
    });
}

TEST_F(PgAsyncConnection, ALateCancelRequestNeverCancelsTheNextStatement) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        // The first statement's answer is in the socket when its wait is cancelled: it ends by
        // itself, before the cancel request sent for it can reach the server.
        asio::cancellation_signal cancel;
        bool first_done = false;
        std::exception_ptr first_error;
        asio::co_spawn(ex, conn.async_execute_unprepared("SELECT 1"),
                       asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) {
                           first_error = e;
                           first_done = true;
                       }));
        co_await asio::post(ex, asio::use_awaitable);  // now it waits for the answer
        // Blocks the only thread, so the reactor does not see the answer arrive.
        pollfd answer{.fd = PQsocket(conn.native_handle()), .events = POLLIN, .revents = 0};
        EXPECT_EQ(::poll(&answer, 1, 5000), 1);
        cancel.emit(asio::cancellation_type::terminal);
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!first_done && std::chrono::steady_clock::now() < deadline) {
            co_await asio::post(ex, asio::use_awaitable);
        }
        EXPECT_TRUE(first_done);
        EXPECT_TRUE(holdfast::is_cancellation(first_error));
        // At once: a request still on its way would cancel this one.
        std::string second_error = "none";
        try {
            co_await conn.async_execute("SELECT pg_sleep(0.3)");
        } catch (const error& e) {
            second_error = e.what();
        }
        EXPECT_EQ(second_error, "none");
    });
}

TEST_F(PgAsyncConnection, ConcurrentOperationIsAUsageError) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        bool usage = false;
        auto second = [&]() -> asio::awaitable<void> {
            try {
                co_await conn.async_query("SELECT 2");
            } catch (const usage_error&) {
                usage = true;
            }
        };
        co_await (conn.async_execute("SELECT pg_sleep(0.1)") && second());
        EXPECT_TRUE(usage);
    });
}

}  // namespace
}  // namespace holdfast::db::testing
