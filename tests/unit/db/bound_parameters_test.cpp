// Parameters are always bound, never spliced into the SQL: strings built to break out of a
// quoted literal, or to look like placeholders or format directives, round-trip verbatim
// through SQLite and PostgreSQL, synchronously and asynchronously, and the table survives.
#include <holdfast/db/connection.hpp>
// (header under test first: it must compile on its own)
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "async_test_support.hpp"
#include "test_support.hpp"

#include <holdfast/db/async_pool.hpp>
#include <holdfast/pg.hpp>
#include <holdfast/sqlite.hpp>

namespace holdfast::db::testing {
namespace {

const std::vector<std::string>& hostile_values() {
    static const std::vector<std::string> values{
        "'; DROP TABLE users; --",
        "' OR '1'='1",
        "Robert'); DELETE FROM users WHERE ('1'='1",
        "\"double\" \\backslash\\ \\\\ two",
        "\\'; DROP TABLE users; --",
        "O'Brien's \"quote\" \\' \\\"",
        "$1 $2 $0 $99 %s %d %n %% ? ?1 :name @p",
        "E'\\x27' U&'\\0027' $$; DROP TABLE users; $$",
        "-- not a comment /* nor this */ ;",
        "\u00e9moji \U0001F642 \u65e5\u672c\u8a9e \u202ertl\u202c \u00df \u0301",
        "line\nbreak\r\n\ttab",
        "",
        "   ",
    };
    return values;
}

// Inserts every value with bound parameters, reads each back by an equality on itself, and
// checks the table still holds them all.
template <class Connection>
void expect_round_trip(Connection& conn) {
    conn.execute_unprepared("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    const auto& values = hostile_values();
    for (std::size_t i = 0; i < values.size(); ++i) {
        conn.execute("INSERT INTO users (id, name) VALUES ($1, $2)", static_cast<std::int64_t>(i),
                     values[i]);
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
        auto rows = conn.query("SELECT id, name FROM users WHERE name = $1", values[i]);
        ASSERT_EQ(rows.size(), 1u) << "value " << i << ": " << values[i];
        EXPECT_EQ(rows[0].template get<std::int64_t>(0), static_cast<std::int64_t>(i));
        EXPECT_EQ(rows[0].template get<std::string>(1), values[i]);
    }
    EXPECT_EQ(conn.query_one("SELECT count(*) FROM users").template get<std::int64_t>(0),
              static_cast<std::int64_t>(values.size()));
}

TEST(BoundParameters, RoundTripVerbatimThroughSqlite) {
    scratch_dir dir;
    auto conn = db::connect("sqlite:" + dir.file("bound.db"));
    expect_round_trip(conn);
}

TEST(BoundParameters, RoundTripVerbatimThroughSqliteDirectly) {
    scratch_dir dir;
    auto conn = sqlite::connect(dir.file("bound.db"));
    expect_round_trip(conn);
}

class BoundParametersPg : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
        schema_.emplace(*pg_dsn());
        dsn_ = schema_->dsn();
    }
    std::optional<scratch_schema> schema_;
    std::string dsn_;
};

TEST_F(BoundParametersPg, RoundTripVerbatimThroughPostgresql) {
    auto conn = db::connect(dsn_);
    expect_round_trip(conn);
}

TEST_F(BoundParametersPg, RoundTripVerbatimWithoutTheStatementCache) {
    pg::connection conn(dsn_, {.statement_cache_size = 0});
    conn.connect();
    expect_round_trip(conn);
}

TEST_F(BoundParametersPg, RoundTripVerbatimThroughTheAsyncConnectionAndPool) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        pg::async_connection conn(ex, dsn_);
        co_await conn.async_connect();
        co_await conn.async_execute_unprepared(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
        const auto& values = hostile_values();
        for (std::size_t i = 0; i < values.size(); ++i) {
            const auto id = static_cast<std::int64_t>(i);
            co_await conn.async_execute("INSERT INTO users (id, name) VALUES ($1, $2)", id,
                                        values[i]);
        }
        async_pool pool(ex, dsn_, {.max_size = 2});
        co_await pool.open();
        for (std::size_t i = 0; i < values.size(); ++i) {
            const std::string& value = values[i];
            db::result direct =
                co_await conn.async_query("SELECT name FROM users WHERE name = $1", value);
            EXPECT_EQ(direct.size(), 1u) << value;
            if (direct.size() == 1) {
                EXPECT_EQ(direct[0].get<std::string>(0), value);
            }
            std::vector<row> pooled =
                co_await pool.execute("SELECT id, name FROM users WHERE name = $1", value);
            EXPECT_EQ(pooled.size(), 1u) << value;
            if (pooled.size() == 1) {
                EXPECT_EQ(pooled[0].get<std::int64_t>(0), static_cast<std::int64_t>(i));
                EXPECT_EQ(pooled[0].get<std::string>(1), value);
            }
        }
        db::result count = co_await conn.async_query("SELECT count(*) FROM users");
        EXPECT_EQ(count[0].get<std::int64_t>(0), static_cast<std::int64_t>(values.size()));
        co_await pool.close();
    });
}

}  // namespace
}  // namespace holdfast::db::testing
