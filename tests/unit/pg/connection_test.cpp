#include <holdfast/pg/connection.hpp>
// (header under test first: it must compile on its own)
#include <cmath>
#include <limits>
#include <thread>

#include "../db/conformance.hpp"
#include <libpq-fe.h>

#include <holdfast/pg.hpp>

namespace holdfast::db::testing {

// One schema per test: ctest runs the tests of this file as parallel processes.
struct pg_environment {
    std::string schema = unique_schema_name();
    std::string dsn;
    pg_environment() {
        auto admin = pg::connect(*pg_dsn());
        admin.execute_unprepared("CREATE SCHEMA " + schema);
        dsn = dsn_with_search_path(*pg_dsn(), schema);
    }
    ~pg_environment() {
        try {
            auto admin = pg::connect(*pg_dsn());
            admin.execute_unprepared("SET client_min_messages = warning; DROP SCHEMA " + schema +
                                     " CASCADE");
        } catch (const std::exception& e) {
            ADD_FAILURE() << "dropping the test schema: " << e.what();
        }
    }
    pg_environment(const pg_environment&) = delete;
    pg_environment& operator=(const pg_environment&) = delete;
};

struct pg_traits {
    using connection = pg::connection;
    static bool available() { return pg_dsn().has_value(); }
    static constexpr const char* blob_type = "BYTEA";
    static constexpr const char* timestamp_type = "TIMESTAMPTZ";
    struct environment : pg_environment {
        connection make() const { return connection(dsn); }
    };
};

// The same behaviour with the prepared-statement cache off (pgbouncer transaction mode).
struct pg_uncached_traits : pg_traits {
    struct environment : pg_environment {
        connection make() const { return connection(dsn, {.statement_cache_size = 0}); }
    };
};

INSTANTIATE_TYPED_TEST_SUITE_P(Pg, BackendConformance, pg_traits);
INSTANTIATE_TYPED_TEST_SUITE_P(PgWithoutStatementCache, BackendConformance, pg_uncached_traits);

namespace {

class PgConnection : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
        env_.emplace();
    }
    pg::connection connected() { return pg::connect(env_->dsn); }
    std::optional<pg_environment> env_;
};

TEST_F(PgConnection, SerializationFailureUnderSerializableWithTwoConnections) {
    auto a = connected();
    auto b = connected();
    a.execute_unprepared("CREATE TABLE accounts (id INT PRIMARY KEY, balance INT)");
    a.execute("INSERT INTO accounts VALUES (1, 100), (2, 100)");
    const transaction_options serializable{.isolation = isolation_level::serializable};
    transaction ta(a, serializable);
    transaction tb(b, serializable);
    // Classic write skew: each reads both rows and updates a different one.
    a.query("SELECT sum(balance) FROM accounts");
    b.query("SELECT sum(balance) FROM accounts");
    a.execute("UPDATE accounts SET balance = balance - 150 WHERE id = 1");
    b.execute("UPDATE accounts SET balance = balance - 150 WHERE id = 2");
    ta.commit();
    try {
        tb.commit();
        FAIL() << "expected serialization_failure";
    } catch (const serialization_failure& e) {
        EXPECT_EQ(e.sqlstate(), "40001");
    }
    EXPECT_EQ(tb.state(), transaction_state::rolled_back);
    EXPECT_EQ(b.transaction_status(), transaction_status::idle);
}

TEST_F(PgConnection, ATerminatedBackendRaisesConnectionErrorAndMarksTheConnectionBroken) {
    auto victim = connected();
    auto admin = connected();
    const int pid = victim.backend_pid();
    admin.query("SELECT pg_terminate_backend($1)", pid);
    try {
        victim.query("SELECT 1");
        FAIL() << "expected connection_error";
    } catch (const connection_error& e) {
        EXPECT_TRUE(e.sqlstate() == "57P01" || e.sqlstate().starts_with("08")) << e.what();
    }
    EXPECT_TRUE(victim.is_broken());
    EXPECT_THROW(victim.query("SELECT 1"), connection_error);
    victim.connect();  // reconnects
    EXPECT_FALSE(victim.is_broken());
    EXPECT_EQ(victim.query_one("SELECT 1").get<int>(0), 1);
}

TEST_F(PgConnection, ATransactionOnATerminatedBackendIsAbandonedNotRolledBack) {
    auto victim = connected();
    auto admin = connected();
    victim.execute_unprepared("CREATE TABLE t (x INT)");
    {
        transaction tx(victim);
        victim.execute("INSERT INTO t VALUES (1)");
        admin.query("SELECT pg_terminate_backend($1)", victim.backend_pid());
        EXPECT_THROW(victim.execute("INSERT INTO t VALUES (2)"), connection_error);
        tx.rollback();  // nothing to send: the server already discarded it
        EXPECT_EQ(tx.state(), transaction_state::abandoned);
    }
    EXPECT_EQ(admin.query_one("SELECT count(*) FROM t").get<int>(0), 0);
}

TEST_F(PgConnection, ABadConninfoOptionIsNamed) {
    pg::connection c("host=localhost hots=oops");
    try {
        c.connect();
        FAIL() << "expected dsn_error";
    } catch (const dsn_error& e) {
        EXPECT_NE(std::string(e.what()).find("hots"), std::string::npos) << e.what();
    }
}

TEST_F(PgConnection, AFailedConnectNeverShowsThePassword) {
    // The real server and role, with a wrong password that must not appear anywhere.
    std::string dsn = *pg_dsn();
    const auto colon = dsn.find(':', dsn.find("://") + 3);
    const auto at = dsn.find('@');
    ASSERT_NE(colon, std::string::npos);
    const std::string secret = "Very-Secret-Password-42";
    dsn.replace(colon + 1, at - colon - 1, secret);
    for (const std::string& form : {dsn, std::string("host=127.0.0.1 port=1 user=x password=") +
                                             secret + " connect_timeout=2"}) {
        pg::connection c(form);
        try {
            c.connect();
            FAIL() << "expected connection_error";
        } catch (const connection_error& e) {
            EXPECT_EQ(std::string(e.what()).find(secret), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("***"), std::string::npos) << e.what();
            EXPECT_EQ(e.sqlstate(), "08001");
        }
        EXPECT_EQ(c.redacted_conninfo().find(secret), std::string::npos);
    }
}

TEST_F(PgConnection, MultiHostConninfoWithTargetSessionAttrsPassesThrough) {
    // The first host refuses connections; libpq moves on to the second (the test server).
    const auto url = *pg_dsn();
    const auto at = url.find('@');
    const auto slash = url.find('/', at);
    const std::string hostport = url.substr(at + 1, slash - at - 1);
    std::string multi = url.substr(0, at + 1) + "127.0.0.1:1," + hostport + url.substr(slash) +
                        "?target_session_attrs=read-write";
    auto c = pg::connect(multi);
    EXPECT_EQ(c.query_one("SELECT 1").get<int>(0), 1);
}

TEST_F(PgConnection, PreparedStatementCacheIsBounded) {
    auto c = pg::connection(env_->dsn, {.statement_cache_size = 3});
    c.connect();
    for (int i = 0; i < 10; ++i) c.query("SELECT " + std::to_string(i) + " + $1::int", i);
    EXPECT_EQ(c.cached_statements(), 3u);
    EXPECT_EQ(c.query_one("SELECT count(*) FROM pg_prepared_statements").get<std::int64_t>(0), 3);
}

TEST_F(PgConnection, APreparedStatementSurvivesAChangeOfItsTable) {
    auto c = connected();
    c.execute_unprepared("CREATE TABLE t (a INT)");
    c.execute("INSERT INTO t VALUES ($1)", 1);
    EXPECT_EQ(c.query("SELECT * FROM t").columns().size(), 1u);
    c.execute_unprepared("ALTER TABLE t ADD COLUMN b TEXT");
    // The cached plan returns a different row type now: re-prepared transparently.
    EXPECT_EQ(c.query("SELECT * FROM t").columns().size(), 2u);
}

TEST_F(PgConnection, TextWithANulByteIsRefusedNotTruncated) {
    auto c = connected();
    EXPECT_THROW(c.query("SELECT $1::text", std::string("a\0b", 3)), usage_error);
    EXPECT_EQ(c.query_one("SELECT length($1::bytea)", blob{std::byte{0}, std::byte{1}}).get<int>(0),
              2);
}

TEST_F(PgConnection, ResultValuesDecodeByTypeInBothByteaOutputForms) {
    auto c = connected();
    const blob bytes{std::byte{0}, std::byte{0xFF}, std::byte{'\\'}, std::byte{'\''}};
    for (const char* form : {"hex", "escape"}) {
        c.execute_unprepared(std::string("SET bytea_output = ") + form);
        const auto r = c.query_one(
            "SELECT $1::bytea AS b, true AS t, 'NaN'::float8 AS nan, '-Infinity'::float4 AS inf, "
            "(-32768)::int2 AS small, 'infinity'::timestamptz AS forever, 'x'::text AS text",
            bytes);
        EXPECT_EQ(r.get<blob>("b"), bytes) << form;
        EXPECT_EQ(r.get<bool>("t"), true);
        EXPECT_TRUE(std::isnan(r.get<double>("nan")));
        EXPECT_EQ(r.get<double>("inf"), -std::numeric_limits<double>::infinity());
        EXPECT_EQ(r.get<int>("small"), -32768);
        EXPECT_EQ(r["forever"], value("infinity"));  // no timestamp for it: kept as text
        EXPECT_EQ(r["text"], value("x"));
    }
}

TEST_F(PgConnection, CopyWriterSurvivesAMoveOfItsConnection) {
    auto c = connected();
    c.execute_unprepared("CREATE TABLE t (a INT)");
    auto copy = c.copy_in("t");
    pg::connection moved = std::move(c);
    copy.write_row(1);
    EXPECT_EQ(copy.finish(), 1);
    EXPECT_EQ(moved.query_one("SELECT count(*) FROM t").get<int>(0), 1);
}

TEST_F(PgConnection, CopyThroughExecuteIsRefusedAndLeavesTheConnectionUsable) {
    auto c = connected();
    c.execute_unprepared("CREATE TABLE t (a INT)");
    EXPECT_THROW(c.execute_unprepared("COPY t FROM STDIN"), usage_error);
    EXPECT_THROW(c.execute_unprepared("COPY t TO STDOUT"), usage_error);
    EXPECT_THROW(c.execute("COPY t FROM STDIN"), usage_error);
    EXPECT_EQ(c.query_one("SELECT 1").get<int>(0), 1);
}

TEST_F(PgConnection, StatementTimeoutIsATimeoutError) {
    auto c = connected();
    c.execute_unprepared("SET statement_timeout = 50");
    try {
        c.query("SELECT pg_sleep(5)");
        FAIL();
    } catch (const timeout_error& e) {
        EXPECT_EQ(e.sqlstate(), "57014");
    }
    EXPECT_FALSE(c.is_broken());
}

TEST_F(PgConnection, ServerDetailIsCarried) {
    auto c = connected();
    c.execute_unprepared("CREATE TABLE u (email TEXT UNIQUE)");
    c.execute("INSERT INTO u VALUES ($1)", "a@x");
    try {
        c.execute("INSERT INTO u VALUES ($1)", "a@x");
        FAIL();
    } catch (const unique_violation& e) {
        EXPECT_NE(e.detail().find("already exists"), std::string::npos) << e.what();
        EXPECT_EQ(e.backend_code(), 0);
    }
}

TEST_F(PgConnection, RollbackIsSentExactlyOnceAsSeenByTheServer) {
    auto c = connected();
    // A second ROLLBACK outside a transaction makes the server warn: count the warnings.
    int warnings = 0;
    PQsetNoticeProcessor(
        c.native_handle(),
        [](void* counter, const char* message) {
            if (std::string_view(message).find("no transaction in progress") !=
                std::string_view::npos)
                ++*static_cast<int*>(counter);
        },
        &warnings);
    {
        transaction tx(c);
        tx.rollback();
        tx.rollback();
    }
    {
        transaction tx(c);
        auto sp = tx.savepoint();
        sp.rollback();
    }
    EXPECT_EQ(warnings, 0);
    c.execute_unprepared("ROLLBACK");  // proves the counter works
    EXPECT_EQ(warnings, 1);
}

TEST_F(PgConnection, IsolationReadOnlyAndDeferrableReachTheServer) {
    auto c = connected();
    transaction tx(
        c, {.isolation = isolation_level::serializable, .read_only = true, .deferrable = true});
    EXPECT_EQ(c.query_one("SHOW transaction_isolation").get<std::string>(0), "serializable");
    EXPECT_EQ(c.query_one("SHOW transaction_read_only").get<std::string>(0), "on");
    EXPECT_EQ(c.query_one("SHOW transaction_deferrable").get<std::string>(0), "on");
    EXPECT_THROW(c.execute_unprepared("CREATE TABLE nope (x INT)"), error);
}

}  // namespace
}  // namespace holdfast::db::testing
