#include <holdfast/pg/batch.hpp>
// (header under test first: it must compile on its own)
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "../db/async_test_support.hpp"
#include "../db/test_support.hpp"
#include <asio/experimental/awaitable_operators.hpp>
#include <libpq-fe.h>
#include <sys/socket.h>

#include <holdfast/db/async_pool.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/pg.hpp>

namespace holdfast::db::testing {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using pg::async_connection;
using pg::batch;

TEST(PgBatch, OwnsItsStatementsAndParameters) {
    batch b;
    EXPECT_TRUE(b.empty());
    {
        const std::string email = "temporary@example.com";
        b.add("INSERT INTO users (email, active) VALUES ($1, $2)", email, true).add("SELECT 1");
    }
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b.sql(0), "INSERT INTO users (email, active) VALUES ($1, $2)");
    ASSERT_EQ(b.values(0).size(), 2u);
    EXPECT_EQ(b.values(0)[0].get<std::string>(), "temporary@example.com");
    EXPECT_TRUE(b.values(0)[1].get<bool>());
    EXPECT_TRUE(b.values(1).empty());
    b.clear();
    EXPECT_TRUE(b.empty());
}

class PgBatchOnServer : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
        schema_.emplace(*pg_dsn());
        dsn_ = schema_->dsn();
        checker_.emplace(pg::connect(dsn_));
        checker_->execute_unprepared(
            "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT UNIQUE NOT NULL)");
    }
    std::int64_t count_users() {
        return checker_->query_one("SELECT count(*) FROM users").get<std::int64_t>(0);
    }
    static batch inserts(int first, int count) {
        batch b;
        for (int id = first; id < first + count; ++id)
            b.add("INSERT INTO users (id, email) VALUES ($1, $2)", id,
                  "user" + std::to_string(id) + "@example.com");
        return b;
    }
    static bool in_pipeline_mode(const async_connection& conn) {
        return PQpipelineStatus(conn.native_handle()) != PQ_PIPELINE_OFF;
    }

    std::optional<scratch_schema> schema_;  // declared first: dropped after checker_ closes
    std::string dsn_;
    std::optional<pg::connection> checker_;
};

TEST_F(PgBatchOnServer, RunsEveryStatementInOrderAndYieldsTheirResults) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        batch b = inserts(1, 3);
        b.add("UPDATE users SET email = upper(email) WHERE id >= $1", 2);
        b.add("SELECT id, email FROM users WHERE id = $1", 3);
        const std::vector<result> results = co_await conn.async_execute_batch(b);
        EXPECT_EQ(results.size(), 5u);
        EXPECT_EQ(results[0].rows_affected(), 1);
        EXPECT_EQ(results[3].rows_affected(), 2);
        EXPECT_EQ(results[4].one().get<std::string>("email"), "USER3@EXAMPLE.COM");
        EXPECT_EQ(count_users(), 3);
        // The INSERT ran three times but was prepared once; UPDATE and SELECT once each.
        EXPECT_EQ(conn.cached_statements(), 3u);
        EXPECT_FALSE(in_pipeline_mode(conn));
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
        // The second round is served by the cache, and single statements by the same entries.
        const std::vector<result> again = co_await conn.async_execute_batch(inserts(10, 2));
        EXPECT_EQ(again.size(), 2u);
        EXPECT_EQ(conn.cached_statements(), 3u);
        const std::int64_t changed = co_await conn.async_execute(
            "INSERT INTO users (id, email) VALUES ($1, $2)", 20, "twenty@example.com");
        EXPECT_EQ(changed, 1);
        EXPECT_EQ(conn.cached_statements(), 3u);
        EXPECT_EQ(count_users(), 6);
        const std::vector<result> none = co_await conn.async_execute_batch(batch{});
        EXPECT_TRUE(none.empty());
    });
}

TEST_F(PgBatchOnServer, AnErrorInTheMiddleReportsItCommitsNothingAndLeavesTheConnectionUsable) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        batch b = inserts(1, 2);
        b.add("INSERT INTO users (id, email) VALUES ($1, $2)", 3, "user1@example.com");  // dup
        b.add("INSERT INTO users (id, email) VALUES ($1, $2)", 4, "user4@example.com");
        std::string statement;
        try {
            co_await conn.async_execute_batch(b);
        } catch (const unique_violation& e) {
            statement = e.statement();
        }
        EXPECT_EQ(statement,
                  "batch statement 3 of 4: INSERT INTO users (id, email) VALUES ($1, $2)");
        EXPECT_EQ(count_users(), 0);  // the two before it were rolled back with it
        EXPECT_FALSE(in_pipeline_mode(conn));
        EXPECT_FALSE(conn.is_broken());
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
        const std::vector<result> fixed = co_await conn.async_execute_batch(inserts(1, 4));
        EXPECT_EQ(fixed.size(), 4u);
        EXPECT_EQ(count_users(), 4);
    });
}

TEST_F(PgBatchOnServer, AStatementThatCannotBePreparedFailsTheBatchWithItsPosition) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        batch b = inserts(1, 1);
        b.add("SELEKT nothing");
        b.add("SELECT count(*) FROM users");
        std::string statement, sqlstate;
        try {
            co_await conn.async_execute_batch(b);
        } catch (const error& e) {
            statement = e.statement();
            sqlstate = e.sqlstate();
        }
        EXPECT_EQ(statement, "batch statement 2 of 3: SELEKT nothing");
        EXPECT_EQ(sqlstate, "42601");
        EXPECT_EQ(count_users(), 0);
        // Only the statements the server accepted are cached; the failed one is not.
        const std::size_t cached = conn.cached_statements();
        EXPECT_LE(cached, 2u);
        auto rows = co_await conn.async_query("SELECT count(*) AS n FROM users");
        EXPECT_EQ(rows.one().get<std::int64_t>("n"), 0);
    });
}

TEST_F(PgBatchOnServer, InsideATransactionTheBatchIsPartOfIt) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        co_await conn.transaction([&](async_connection& tx) -> asio::awaitable<void> {
            co_await tx.async_execute_batch(inserts(1, 3));
            EXPECT_EQ(tx.transaction_status(), transaction_status::in_transaction);
            EXPECT_EQ(count_users(), 0);  // not committed yet
        });
        EXPECT_EQ(count_users(), 3);
        // A failing batch fails the transaction, which then rolls back as a whole.
        bool failed = false;
        try {
            co_await conn.transaction([&](async_connection& tx) -> asio::awaitable<void> {
                co_await tx.async_execute("DELETE FROM users");
                batch dup = inserts(10, 1);
                dup.add("INSERT INTO users (id, email) VALUES ($1, $2)", 10, "again@example.com");
                co_await tx.async_execute_batch(dup);
            });
        } catch (const unique_violation&) {
            failed = true;
        }
        EXPECT_TRUE(failed);
        EXPECT_EQ(count_users(), 3);
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
    });
}

TEST_F(PgBatchOnServer, WorksWithoutTheStatementCacheAndWithATinyOne) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection uncached(ex, dsn_, {.connection = {.statement_cache_size = 0}});
        co_await uncached.async_connect();
        const auto first = co_await uncached.async_execute_batch(inserts(1, 3));
        EXPECT_EQ(first.size(), 3u);
        EXPECT_EQ(uncached.cached_statements(), 0u);

        // Four distinct statements through a cache of two: the oldest are deallocated after
        // the batch, and what stays cached still works.
        async_connection tiny(ex, dsn_, {.connection = {.statement_cache_size = 2}});
        co_await tiny.async_connect();
        batch b;
        b.add("SELECT 1 AS n").add("SELECT 2 AS n").add("SELECT 3 AS n").add("SELECT 4 AS n");
        for (int round = 0; round < 2; ++round) {
            const auto results = co_await tiny.async_execute_batch(b);
            EXPECT_EQ(results.size(), 4u);
            for (std::int64_t i = 0; i < 4 && results.size() == 4; ++i)
                EXPECT_EQ(results[static_cast<std::size_t>(i)].one().get<std::int64_t>("n"), i + 1);
            EXPECT_EQ(tiny.cached_statements(), 2u);
        }
        auto server_side =
            co_await tiny.async_query("SELECT count(*) AS n FROM pg_prepared_statements");
        EXPECT_EQ(server_side.one().get<std::int64_t>("n"), 2);
    });
}

TEST_F(PgBatchOnServer, ThousandsOfStatementsGoOutWhileResultsComeBack) {
    // Far more than the socket buffers hold in either direction: results come back while
    // the statements are still going out.
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        // Small socket buffers (but above loopback's 64 KiB segment size, or TCP itself
        // stalls) make the exchange outgrow them quickly.
        const int small = 128 * 1024;
        const int fd = PQsocket(conn.native_handle());
        EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
        EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
        batch b;
        const std::string padding(500, 'x');
        for (int id = 1; id <= 20000; ++id)
            b.add("INSERT INTO users (id, email) VALUES ($1, $2 || $3) RETURNING id, email", id,
                  padding, std::to_string(id));
        auto outcome = co_await (conn.async_execute_batch(b) || sleep_for(30s));
        if (outcome.index() != 0) {
            ADD_FAILURE() << "the batch is stuck: both sides wait to write";
            co_return;
        }
        const auto& results = std::get<0>(outcome);
        EXPECT_EQ(results.size(), 20000u);
        EXPECT_EQ(results.back().one().get<std::int64_t>("id"), 20000);
        EXPECT_EQ(count_users(), 20000);
    });
}

TEST_F(PgBatchOnServer, CancellationDrainsThePipelineAndCommitsNothing) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        batch b = inserts(1, 2);
        b.add("SELECT pg_sleep(10)");
        b.add("INSERT INTO users (id, email) VALUES ($1, $2)", 3, "three@example.com");
        const auto start = std::chrono::steady_clock::now();
        auto outcome = co_await (conn.async_execute_batch(b) || sleep_for(300ms));
        EXPECT_EQ(outcome.index(), 1u);
        EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
        EXPECT_FALSE(conn.is_broken());
        EXPECT_FALSE(conn.is_busy());
        EXPECT_FALSE(in_pipeline_mode(conn));
        EXPECT_EQ(conn.transaction_status(), transaction_status::idle);
        EXPECT_EQ(count_users(), 0);
        const auto results = co_await conn.async_execute_batch(inserts(1, 2));
        EXPECT_EQ(results.size(), 2u);
        EXPECT_EQ(count_users(), 2);
    });
}

TEST_F(PgBatchOnServer, CopyIsRefused) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        batch b;
        b.add("COPY users TO STDOUT");
        bool refused = false;
        try {
            co_await conn.async_execute_batch(b);
        } catch (const usage_error&) {
            refused = true;
        }
        EXPECT_TRUE(refused);
        co_await conn.async_connect();  // closed rather than left mid-COPY; reconnects
        auto rows = co_await conn.async_query("SELECT 1 AS n");
        EXPECT_EQ(rows.size(), 1u);
    });
}

TEST_F(PgBatchOnServer, PoolRunsABatchOnOneConnectionAndGetsItBackIdle) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(ex, dsn_, {.min_size = 1, .max_size = 2});
        co_await pool.open();
        const auto results = co_await pool.execute_batch(inserts(1, 5));
        EXPECT_EQ(results.size(), 5u);
        batch dup = inserts(6, 1);
        dup.add("INSERT INTO users (id, email) VALUES ($1, $2)", 1, "dup@example.com");
        bool failed = false;
        try {
            co_await pool.execute_batch(dup);
        } catch (const unique_violation&) {
            failed = true;
        }
        EXPECT_TRUE(failed);
        EXPECT_EQ(count_users(), 5);
        const auto stats = pool.stats();
        EXPECT_EQ(stats.in_use, 0u);
        auto lease = co_await pool.acquire();
        EXPECT_EQ(lease->transaction_status(), transaction_status::idle);
        lease = {};
        co_await pool.close();
    });
}

}  // namespace
}  // namespace holdfast::db::testing
