#include <holdfast/sqlite/connection.hpp>
// (header under test first: it must compile on its own)
#include <fstream>

#include "../db/conformance.hpp"
#include <sqlite3.h>

#include <holdfast/sqlite.hpp>

namespace holdfast::db::testing {

struct sqlite_traits {
    using connection = sqlite::connection;
    static bool available() { return true; }
    static constexpr const char* blob_type = "BLOB";
    static constexpr const char* timestamp_type = "TEXT";
    struct environment {
        scratch_dir dir;
        std::string path = dir.file("test.db");
        connection make() const { return connection(path); }
    };
};

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, BackendConformance, sqlite_traits);

namespace {

class SqliteConnection : public ::testing::Test {
  protected:
    scratch_dir dir_;
    std::string path_ = dir_.file("app.db");
};

TEST_F(SqliteConnection, FilesUseWriteAheadLoggingAndForeignKeys) {
    auto c = sqlite::connect(path_);
    EXPECT_EQ(c.query_one("PRAGMA journal_mode").get<std::string>(0), "wal");
    EXPECT_EQ(c.query_one("PRAGMA foreign_keys").get<int>(0), 1);
    c.execute_unprepared(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (parent_id INTEGER REFERENCES parent(id));");
    try {
        c.execute("INSERT INTO child VALUES (?)", 42);
        FAIL() << "expected foreign_key_violation";
    } catch (const foreign_key_violation& e) {
        EXPECT_EQ(e.sqlstate(), "23503");
        EXPECT_EQ(e.backend_code(), SQLITE_CONSTRAINT_FOREIGNKEY);
    }
}

TEST_F(SqliteConnection, UniqueViolationCarriesTheExtendedCode) {
    auto c = sqlite::connect(path_);
    c.execute_unprepared("CREATE TABLE t (email TEXT UNIQUE)");
    c.execute("INSERT INTO t VALUES (?)", "a@x");
    try {
        c.execute("INSERT INTO t VALUES (?)", "a@x");
        FAIL();
    } catch (const unique_violation& e) {
        EXPECT_EQ(e.backend_code(), SQLITE_CONSTRAINT_UNIQUE);
        EXPECT_EQ(e.backend(), "sqlite");
    }
}

TEST_F(SqliteConnection, InMemoryDatabasesWork) {
    auto c = sqlite::connect(":memory:");
    EXPECT_EQ(c.query_one("SELECT ?1 || ?2", "a", "b").get<std::string>(0), "ab");
    auto d = sqlite::connect("sqlite::memory:");
    EXPECT_EQ(d.query_one("SELECT 1").get<int>(0), 1);
}

TEST_F(SqliteConnection, DollarPlaceholdersBindByNumberNotByPosition) {
    auto c = sqlite::connect(":memory:");
    auto r = c.query_one("SELECT $2, $1, $2", "first", "second");
    EXPECT_EQ(r.get<std::string>(0), "second");
    EXPECT_EQ(r.get<std::string>(1), "first");
    EXPECT_EQ(r.get<std::string>(2), "second");
}

TEST_F(SqliteConnection, StatementCacheIsBoundedLeastRecentlyUsed) {
    sqlite::options o;
    o.statement_cache_size = 2;
    auto c = sqlite::connect(":memory:", o);
    for (int i = 0; i < 5; ++i) c.query("SELECT " + std::to_string(i));
    EXPECT_EQ(c.cached_statements(), 2u);
    o.statement_cache_size = 0;
    auto uncached = sqlite::connect(":memory:", o);
    EXPECT_EQ(uncached.query_one("SELECT 3").get<int>(0), 3);
    EXPECT_EQ(uncached.cached_statements(), 0u);
}

TEST_F(SqliteConnection, ABusyDatabaseRaisesTimeoutError) {
    auto writer = sqlite::connect(path_);
    writer.execute_unprepared("CREATE TABLE t (x)");
    sqlite::options impatient;
    impatient.busy_timeout = std::chrono::milliseconds(20);
    auto other = sqlite::connect(path_, impatient);
    transaction tx(writer);  // BEGIN IMMEDIATE: holds the write lock
    try {
        transaction blocked(other);
        FAIL() << "expected timeout_error";
    } catch (const timeout_error& e) {
        EXPECT_EQ(e.backend_code() & 0xff, SQLITE_BUSY);
    }
}

TEST_F(SqliteConnection, AFileThatIsNotADatabaseIsAConnectionError) {
    std::ofstream(path_) << "this is not a database, just text that is long enough.......";
    sqlite::connection c(path_);
    try {
        c.connect();
        FAIL() << "expected connection_error";
    } catch (const connection_error& e) {
        EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
    }
    EXPECT_FALSE(c.is_open());
}

TEST_F(SqliteConnection, AnUnopenablePathNamesThePath) {
    sqlite::connection c(dir_.file("missing-dir/x.db"));
    EXPECT_THROW(c.connect(), connection_error);
}

TEST_F(SqliteConnection, ExecuteRejectsSeveralStatements) {
    auto c = sqlite::connect(":memory:");
    EXPECT_THROW(c.execute("SELECT 1; SELECT 2"), usage_error);
}

TEST_F(SqliteConnection, RollbackIsSentExactlyOnce) {
    auto c = sqlite::connect(path_);
    c.execute_unprepared("CREATE TABLE t (x)");
    int rollbacks = 0;
    sqlite3_trace_v2(
        c.native_handle(), SQLITE_TRACE_STMT,
        [](unsigned, void* counter, void*, void* sql) -> int {
            if (std::string_view(static_cast<const char*>(sql)).starts_with("ROLLBACK"))
                ++*static_cast<int*>(counter);
            return 0;
        },
        &rollbacks);
    {
        transaction tx(c);
        c.execute("INSERT INTO t VALUES (1)");
        tx.rollback();
        tx.rollback();
    }
    EXPECT_EQ(rollbacks, 1);
    { transaction tx(c); }
    EXPECT_EQ(rollbacks, 2);
    {
        transaction tx(c);
        tx.commit();
    }
    EXPECT_EQ(rollbacks, 2);
}

TEST_F(SqliteConnection, WriteTransactionsBeginImmediate) {
    auto c = sqlite::connect(path_);
    EXPECT_EQ(c.begin_statement({}), "BEGIN IMMEDIATE");
    EXPECT_EQ(c.begin_statement({.read_only = true}), "BEGIN DEFERRED");
}

TEST_F(SqliteConnection, MovedConnectionKeepsTheHandle) {
    auto c = sqlite::connect(":memory:");
    c.execute_unprepared("CREATE TABLE t (x)");
    sqlite::connection moved = std::move(c);
    EXPECT_TRUE(moved.is_open());
    EXPECT_EQ(moved.execute("INSERT INTO t VALUES (1)"), 1);
    EXPECT_THROW(c.execute("SELECT 1"), closed_error);  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace holdfast::db::testing
