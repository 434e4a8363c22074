// The behaviour every connection type must show, written once and instantiated per backend
// (sqlite::connection, pg::connection, db::connection over each). Real databases only.
//
// A Traits type provides:
//   using connection = ...;
//   static bool available();                 // false → the suite skips with pg_skip_message
//   struct environment { environment(); connection make() const; };  // one per test
//   static constexpr const char* blob_type, *timestamp_type;         // DDL differences
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "test_support.hpp"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <holdfast/core/with.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/db/transaction.hpp>

namespace holdfast::db::testing {

template <class Traits>
class BackendConformance : public ::testing::Test {
  protected:
    using connection_type = typename Traits::connection;

    void SetUp() override {
        if (!Traits::available()) GTEST_SKIP() << pg_skip_message;
        env_.emplace();
        conn_.emplace(connected());
        conn_->execute_unprepared(
            "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE);"
            "CREATE TABLE samples (i BIGINT, r DOUBLE PRECISION, t TEXT, b " +
            std::string(Traits::blob_type) + ", flag BOOLEAN, at " + Traits::timestamp_type + ");");
    }

    connection_type connected() {
        auto c = env_->make();
        c.connect();
        return c;
    }

    static std::int64_t count_users(connection_type& c) {
        return c.query_one("SELECT count(*) FROM users").template get<std::int64_t>(0);
    }

    connection_type& conn() { return *conn_; }

    std::optional<typename Traits::environment> env_;
    std::optional<connection_type> conn_;
};

TYPED_TEST_SUITE_P(BackendConformance);

TYPED_TEST_P(BackendConformance, WithConnectsOnEnterAndClosesOnExit) {
    auto c = this->env_->make();
    EXPECT_FALSE(c.is_open());
    const auto n = holdfast::with(c, [](auto& open) {
        EXPECT_TRUE(open.is_open());
        return open.query_one("SELECT 1 + 1").template get<int>(0);
    });
    EXPECT_EQ(n, 2);
    EXPECT_FALSE(c.is_open());
}

TYPED_TEST_P(BackendConformance, WithClosesWhenTheBodyThrows) {
    auto c = this->env_->make();
    EXPECT_THROW(holdfast::with(c, [](auto&) { throw std::runtime_error("body failed"); }),
                 std::runtime_error);
    EXPECT_FALSE(c.is_open());
}

TYPED_TEST_P(BackendConformance, ManualConnectAndCloseAsInS2) {
    auto c = this->env_->make();
    c.connect();
    try {
        EXPECT_EQ(c.query_one("SELECT 40 + 2").template get<int>(0), 42);
    } catch (...) {
        c.close();
        throw;
    }
    c.close();
    EXPECT_FALSE(c.is_open());
    c.close();    // idempotent
    c.connect();  // and reusable
    EXPECT_TRUE(c.is_open());
}

TYPED_TEST_P(BackendConformance, UseOfAClosedConnectionThrowsClosedError) {
    auto c = this->env_->make();
    try {
        c.execute("SELECT 1");
        FAIL() << "expected closed_error";
    } catch (const closed_error& e) {
        EXPECT_NE(std::string(e.what()).find("not connected"), std::string::npos) << e.what();
    }
    c.connect();
    c.close();
    EXPECT_THROW(c.query("SELECT 1"), closed_error);
}

TYPED_TEST_P(BackendConformance, ValuesRoundTripIncludingNullUnicodeAndBinary) {
    using namespace std::chrono;
    const std::string unicode = "Zoë — 日本語 — 🚀";
    const blob bytes{std::byte{0}, std::byte{1}, std::byte{0xff}, std::byte{'\\'}, std::byte{'\n'}};
    const timestamp at = sys_days{2024y / 2 / 29} + 13h + 14min + 15s + 123456us;
    this->conn().execute(
        "INSERT INTO samples (i, r, t, b, flag, at) VALUES ($1, $2, $3, $4, $5, $6)",
        std::numeric_limits<std::int64_t>::min(), 0.1, unicode, bytes, true, at);
    this->conn().execute(
        "INSERT INTO samples (i, r, t, b, flag, at) VALUES ($1, $2, $3, $4, $5, $6)", nullptr,
        std::nullopt, std::optional<std::string>{}, nullptr, nullptr, nullptr);
    auto rows = this->conn().query("SELECT i, r, t, b, flag, at FROM samples ORDER BY i");
    ASSERT_EQ(rows.size(), 2u);
    // NULLs sort last on PostgreSQL and first on SQLite: find the rows by content.
    const auto& full = rows[0][0].is_null() ? rows[1] : rows[0];
    const auto& nulls = rows[0][0].is_null() ? rows[0] : rows[1];
    EXPECT_EQ(full.template get<std::int64_t>("i"), std::numeric_limits<std::int64_t>::min());
    EXPECT_EQ(full.template get<double>("r"), 0.1);
    EXPECT_EQ(full.template get<std::string>("t"), unicode);
    EXPECT_EQ(full.template get<blob>("b"), bytes);
    EXPECT_TRUE(full.template get<bool>("flag"));
    EXPECT_EQ(full.template get<timestamp>("at"), at);
    for (std::size_t i = 0; i < nulls.size(); ++i) EXPECT_TRUE(nulls[i].is_null()) << i;
    EXPECT_EQ(nulls.template get<std::optional<std::string>>("t"), std::nullopt);
    EXPECT_THROW(nulls.template get<std::string>("t"), usage_error);
}

TYPED_TEST_P(BackendConformance, HostileStringsAreBoundNeverInterpolated) {
    const std::string hostile = "'; DROP TABLE users; --";
    this->conn().execute("INSERT INTO users (id, name) VALUES ($1, $2)", 1, hostile);
    auto stored = this->conn().query_one("SELECT name FROM users WHERE name = $1", hostile);
    EXPECT_EQ(stored.template get<std::string>(0), hostile);
    EXPECT_EQ(this->count_users(this->conn()), 1);
}

TYPED_TEST_P(BackendConformance, RowsConvertToMapAndJson) {
    this->conn().execute("INSERT INTO users (id, name, email) VALUES ($1, $2, $3)", 7, "Zoë",
                         nullptr);
    auto rows = this->conn().query("SELECT id, name, email FROM users");
    auto map = rows.one().to_map();
    EXPECT_EQ(map.at("name").template get<std::string>(), "Zoë");
    EXPECT_EQ(rows.to_json(),
              nlohmann::json::parse(R"([{"id": 7, "name": "Zoë", "email": null}])"));
    EXPECT_THROW(rows.one().template get<int>("nmae"), usage_error);
}

TYPED_TEST_P(BackendConformance, WrongParameterCountIsAUsageError) {
    EXPECT_THROW(this->conn().execute("INSERT INTO users (id, name) VALUES ($1, $2)", 1),
                 usage_error);
    EXPECT_EQ(this->count_users(this->conn()), 0);
}

TYPED_TEST_P(BackendConformance, QueryOneRequiresExactlyOneRow) {
    EXPECT_THROW(this->conn().query_one("SELECT id FROM users"), usage_error);
}

TYPED_TEST_P(BackendConformance, UniqueViolationCarriesSqlstate23505) {
    this->conn().execute("INSERT INTO users (id, name, email) VALUES (1, 'a', 'a@x')");
    try {
        this->conn().execute("INSERT INTO users (id, name, email) VALUES ($1, $2, $3)", 2, "b",
                             "a@x");
        FAIL() << "expected unique_violation";
    } catch (const unique_violation& e) {
        EXPECT_EQ(e.sqlstate(), "23505");
        EXPECT_NE(e.statement().find("INSERT INTO users"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("23505"), std::string::npos);
    }
}

TYPED_TEST_P(BackendConformance, CommittedTransactionIsVisibleFromASecondConnection) {
    auto other = this->connected();
    {
        transaction tx(this->conn());
        this->conn().execute("INSERT INTO users (id, name) VALUES (1, 'ann')");
        this->conn().execute("INSERT INTO users (id, name) VALUES (2, 'bob')");
        EXPECT_EQ(tx.state(), transaction_state::active);
        tx.commit();
        EXPECT_EQ(tx.state(), transaction_state::committed);
    }
    EXPECT_EQ(this->count_users(other), 2);
}

TYPED_TEST_P(BackendConformance, ExceptionInTheBodyRollsBackAsSeenFromASecondConnection) {
    auto other = this->connected();
    EXPECT_THROW(transact(this->conn(),
                          [](auto& c) {
                              c.execute("INSERT INTO users (id, name) VALUES (1, 'ann')");
                              throw std::runtime_error("audit failed");
                          }),
                 std::runtime_error);
    EXPECT_EQ(this->count_users(other), 0);
    EXPECT_EQ(this->conn().transaction_status(), transaction_status::idle);
}

TYPED_TEST_P(BackendConformance, ContextManagerCommitsWhenTheBodyReturns) {
    const int id = holdfast::with(transaction(this->conn()), [](auto& c) {
        c.execute("INSERT INTO users (id, name) VALUES (5, 'eve')");
        return 5;
    });
    EXPECT_EQ(id, 5);
    auto other = this->connected();
    EXPECT_EQ(this->count_users(other), 1);
}

TYPED_TEST_P(BackendConformance, DestructorRollsBackAnUnfinishedTransaction) {
    {
        transaction tx(this->conn());
        this->conn().execute("INSERT INTO users (id, name) VALUES (1, 'ann')");
    }
    EXPECT_EQ(this->count_users(this->conn()), 0);
    EXPECT_EQ(this->conn().transaction_status(), transaction_status::idle);
}

TYPED_TEST_P(BackendConformance, ARolledBackTransactionIsNotRolledBackAgain) {
    {
        transaction tx(this->conn());
        this->conn().execute("INSERT INTO users (id, name) VALUES (1, 'ann')");
        tx.rollback();
        EXPECT_EQ(tx.state(), transaction_state::rolled_back);
        tx.rollback();  // no-op
        // Work started after the rollback: a second ROLLBACK from the destructor would
        // discard it.
        this->conn().execute_unprepared("BEGIN");
        this->conn().execute("INSERT INTO users (id, name) VALUES (2, 'bob')");
    }
    this->conn().execute_unprepared("COMMIT");
    auto other = this->connected();
    auto rows = other.query("SELECT id FROM users");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].template get<int>(0), 2);
}

TYPED_TEST_P(BackendConformance, FinishingTwiceIsAUsageErrorThatNamesTheState) {
    transaction tx(this->conn());
    tx.commit();
    try {
        tx.commit();
        FAIL() << "expected usage_error";
    } catch (const usage_error& e) {
        EXPECT_NE(std::string(e.what()).find("committed"), std::string::npos) << e.what();
    }
    EXPECT_THROW(tx.rollback(), usage_error);
    EXPECT_EQ(tx.state(), transaction_state::committed);
}

TYPED_TEST_P(BackendConformance, SavepointRollbackKeepsTheOuterWork) {
    {
        transaction tx(this->conn());
        this->conn().execute("INSERT INTO users (id, name) VALUES (1, 'outer')");
        {
            auto sp = tx.savepoint();
            this->conn().execute("INSERT INTO users (id, name) VALUES (2, 'inner')");
        }  // destructor: ROLLBACK TO SAVEPOINT
        EXPECT_THROW(holdfast::with(tx.savepoint(),
                                    [](auto& c) {
                                        c.execute("INSERT INTO users (id, name) VALUES (3, 'x')");
                                        c.execute("INSERT INTO users (id, name) VALUES (3, 'dup')");
                                    }),
                     unique_violation);
        holdfast::with(tx.savepoint(), [](auto& c) {
            c.execute("INSERT INTO users (id, name) VALUES (4, 'kept')");
        });
        tx.commit();
    }
    auto rows = this->connected().query("SELECT id FROM users ORDER BY id");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].template get<int>(0), 1);
    EXPECT_EQ(rows[1].template get<int>(0), 4);
}

TYPED_TEST_P(BackendConformance, CommitAfterAFailedStatementNeverSilentlyRollsBack) {
    transaction tx(this->conn());
    this->conn().execute("INSERT INTO users (id, name) VALUES (1, 'ann')");
    EXPECT_THROW(this->conn().execute("INSERT INTO users (id, name) VALUES (1, 'dup')"),
                 unique_violation);
    // PostgreSQL aborted the transaction: commit must say so. SQLite only failed the
    // statement, so the commit keeps the first row.
    if (this->conn().transaction_status() == transaction_status::failed) {
        EXPECT_THROW(tx.commit(), usage_error);
        EXPECT_EQ(tx.state(), transaction_state::rolled_back);
        EXPECT_EQ(this->count_users(this->conn()), 0);
    } else {
        tx.commit();
        EXPECT_EQ(this->count_users(this->conn()), 1);
    }
}

// A deferred foreign key is checked by COMMIT itself: the only way to make a real server's
// COMMIT fail on cue. PostgreSQL ends the transaction when COMMIT fails; SQLite keeps it open
// (the transaction must then be rolled back by the library).
template <class Connection>
void create_orders_with_deferred_foreign_key(Connection& c) {
    c.execute_unprepared(
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, "
        "user_id BIGINT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED)");
}

TYPED_TEST_P(BackendConformance, CommitThatFailsPropagatesKeepsNothingAndLeavesTheConnectionIdle) {
    create_orders_with_deferred_foreign_key(this->conn());
    auto other = this->connected();
    {
        transaction tx(this->conn());
        this->conn().execute("INSERT INTO users (id, name) VALUES (1, 'ann')");
        this->conn().execute("INSERT INTO orders (id, user_id) VALUES (10, 99)");  // no user 99
        EXPECT_THROW(tx.commit(), foreign_key_violation);
        EXPECT_EQ(tx.state(), transaction_state::rolled_back);
        EXPECT_EQ(this->conn().transaction_status(), transaction_status::idle);
    }  // the destructor sends nothing more
    EXPECT_EQ(this->count_users(other), 0);
    EXPECT_EQ(other.query_one("SELECT count(*) FROM orders").template get<std::int64_t>(0), 0);
    // Usable: the next transaction commits.
    transact(this->conn(),
             [](auto& c) { c.execute("INSERT INTO users (id, name) VALUES (2, 'bob')"); });
    EXPECT_EQ(this->count_users(other), 1);
    EXPECT_EQ(this->conn().query_one("SELECT 1").template get<int>(0), 1);
}

TYPED_TEST_P(BackendConformance, ContextManagerExitPropagatesAFailedCommit) {
    create_orders_with_deferred_foreign_key(this->conn());
    bool body_ran = false;
    EXPECT_THROW(holdfast::with(transaction(this->conn()),
                                [&](auto& c) {
                                    c.execute("INSERT INTO users (id, name) VALUES (1, 'ann')");
                                    c.execute("INSERT INTO orders (id, user_id) VALUES (10, 99)");
                                    body_ran = true;
                                }),
                 foreign_key_violation);
    EXPECT_TRUE(body_ran);
    EXPECT_EQ(this->conn().transaction_status(), transaction_status::idle);
    auto other = this->connected();
    EXPECT_EQ(this->count_users(other), 0);
    EXPECT_EQ(this->count_users(this->conn()), 0);
}

REGISTER_TYPED_TEST_SUITE_P(
    BackendConformance, WithConnectsOnEnterAndClosesOnExit, WithClosesWhenTheBodyThrows,
    ManualConnectAndCloseAsInS2, UseOfAClosedConnectionThrowsClosedError,
    ValuesRoundTripIncludingNullUnicodeAndBinary, HostileStringsAreBoundNeverInterpolated,
    RowsConvertToMapAndJson, WrongParameterCountIsAUsageError, QueryOneRequiresExactlyOneRow,
    UniqueViolationCarriesSqlstate23505, CommittedTransactionIsVisibleFromASecondConnection,
    ExceptionInTheBodyRollsBackAsSeenFromASecondConnection, ContextManagerCommitsWhenTheBodyReturns,
    DestructorRollsBackAnUnfinishedTransaction, ARolledBackTransactionIsNotRolledBackAgain,
    FinishingTwiceIsAUsageErrorThatNamesTheState, SavepointRollbackKeepsTheOuterWork,
    CommitAfterAFailedStatementNeverSilentlyRollsBack,
    CommitThatFailsPropagatesKeepsNothingAndLeavesTheConnectionIdle,
    ContextManagerExitPropagatesAFailedCommit);

}  // namespace holdfast::db::testing
