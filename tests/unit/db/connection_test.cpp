#include <holdfast/db/connection.hpp>
// (header under test first: it must compile on its own)
#include "conformance.hpp"

#include <holdfast/db.hpp>

// db::connection over both backends passes the same conformance suite as the backends.
namespace holdfast::db::testing {

struct facade_sqlite_traits {
    using connection = db::connection;
    static bool available() { return true; }
    static constexpr const char* blob_type = "BLOB";
    static constexpr const char* timestamp_type = "TEXT";
    struct environment {
        scratch_dir dir;
        connection make() const { return connection("sqlite:" + dir.file("facade.db")); }
    };
};

struct facade_pg_traits {
    using connection = db::connection;
    static bool available() { return pg_dsn().has_value(); }
    static constexpr const char* blob_type = "BYTEA";
    static constexpr const char* timestamp_type = "TIMESTAMPTZ";
    struct environment {
        std::string schema = unique_schema_name();
        environment() { db::connect(*pg_dsn()).execute_unprepared("CREATE SCHEMA " + schema); }
        ~environment() {
            db::connect(*pg_dsn()).execute_unprepared(
                "SET client_min_messages = warning; DROP SCHEMA " + schema + " CASCADE");
        }
        environment(const environment&) = delete;
        environment& operator=(const environment&) = delete;
        connection make() const { return connection(dsn_with_search_path(*pg_dsn(), schema)); }
    };
};

INSTANTIATE_TYPED_TEST_SUITE_P(FacadeOverSqlite, BackendConformance, facade_sqlite_traits);
INSTANTIATE_TYPED_TEST_SUITE_P(FacadeOverPg, BackendConformance, facade_pg_traits);

namespace {

TEST(DbConnect, ChoosesTheBackendFromTheDsn) {
    auto c = db::connect("sqlite::memory:");
    EXPECT_EQ(c.backend(), backend_kind::sqlite);
    EXPECT_EQ(c.backend_name(), "sqlite");
    EXPECT_NE(c.as_sqlite(), nullptr);
    EXPECT_EQ(c.as_pg(), nullptr);
    db::connection pg("host=/nonexistent dbname=x");
    EXPECT_EQ(pg.backend(), backend_kind::postgresql);
    EXPECT_NE(pg.as_pg(), nullptr);
}

TEST(DbConnect, ABadDsnFailsBeforeConnecting) {
    EXPECT_THROW(db::connection("oracle://scott:tiger@x"), dsn_error);
}

TEST(DbConnect, WithATemporaryConnectionAsInS2) {
    const auto answer = holdfast::with(db::connect("sqlite::memory:"), [](db::connection& c) {
        return c.query_one("SELECT $1 * 2", 21).get<int>(0);
    });
    EXPECT_EQ(answer, 42);
}

TEST(DbConnect, PgCopyIsReachableThroughTheFacade) {
    if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
    auto c = db::connect(*pg_dsn());
    c.execute_unprepared("CREATE TEMP TABLE t (x INT)");
    auto copy = c.as_pg()->copy_in("t");
    copy.write_row(1);
    EXPECT_EQ(copy.finish(), 1);
}

TEST(DbConnect, AnUnreachableServerIsAConnectionErrorWithoutThePassword) {
    try {
        db::connect("postgresql://u:TopSecret@127.0.0.1:1/db?connect_timeout=2");
        FAIL();
    } catch (const connection_error& e) {
        EXPECT_EQ(std::string(e.what()).find("TopSecret"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace holdfast::db::testing
