#include <holdfast/pg/copy_writer.hpp>
// (header under test first: it must compile on its own)
#include "../db/test_support.hpp"

#include <holdfast/core/with.hpp>
#include <holdfast/db/transaction.hpp>

namespace holdfast::db::testing {
namespace {

class PgCopy : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
        admin_.emplace(pg::connect(*pg_dsn()));
        admin_->execute_unprepared("CREATE SCHEMA " + schema_);
        conn_.emplace(pg::connect(dsn_with_search_path(*pg_dsn(), schema_)));
        conn_->execute_unprepared(
            "CREATE TABLE events (id BIGINT PRIMARY KEY, name TEXT, payload BYTEA, at "
            "TIMESTAMPTZ, ok BOOLEAN)");
    }
    void TearDown() override {
        conn_.reset();
        if (admin_) {
            admin_->execute_unprepared("SET client_min_messages = warning; DROP SCHEMA " + schema_ +
                                       " CASCADE");
        }
    }
    std::int64_t count() {
        return conn_->query_one("SELECT count(*) FROM events").get<std::int64_t>(0);
    }
    std::string schema_ = unique_schema_name();
    std::optional<pg::connection> admin_;
    std::optional<pg::connection> conn_;
};

TEST_F(PgCopy, CopiesAHundredThousandRows) {
    const auto n = holdfast::with(conn_->copy_in("events", {"id", "name"}), [](auto& copy) {
        for (std::int64_t i = 0; i < 100'000; ++i) copy.write_row(i, "event");
        return copy.rows_written();
    });
    EXPECT_EQ(n, 100'000);
    EXPECT_EQ(count(), 100'000);
}

TEST_F(PgCopy, SpecialCharactersNullsBinaryAndTimestampsSurvive) {
    using namespace std::chrono;
    const std::string nasty = "tab\there\nnewline \\backslash\r 'quote' \\N";
    const blob bytes{std::byte{0}, std::byte{'\\'}, std::byte{0xfe}};
    const timestamp at = sys_days{2023y / 12 / 31} + 23h + 59min + 59s + 999999us;
    auto copy = conn_->copy_in("events");
    copy.write_row(1, nasty, bytes, at, true);
    copy.write_row(2, nullptr, nullptr, nullptr, nullptr);
    EXPECT_EQ(copy.finish(), 2);
    auto r = conn_->query_one("SELECT name, payload, at, ok FROM events WHERE id = 1");
    EXPECT_EQ(r.get<std::string>(0), nasty);
    EXPECT_EQ(r.get<blob>(1), bytes);
    EXPECT_EQ(r.get<timestamp>(2), at);
    EXPECT_TRUE(r.get<bool>(3));
    auto nulls = conn_->query_one("SELECT name, payload, at, ok FROM events WHERE id = 2");
    for (std::size_t i = 0; i < nulls.size(); ++i) EXPECT_TRUE(nulls[i].is_null());
}

TEST_F(PgCopy, AnExceptionInTheBodyAbortsTheCopy) {
    EXPECT_THROW(holdfast::with(conn_->copy_in("events", {"id"}),
                                [](auto& copy) {
                                    for (int i = 0; i < 1000; ++i) copy.write_row(i);
                                    throw std::runtime_error("source file truncated");
                                }),
                 std::runtime_error);
    EXPECT_EQ(count(), 0);
    EXPECT_EQ(conn_->query_one("SELECT 1").get<int>(0), 1);  // the connection is usable
}

TEST_F(PgCopy, ADestroyedUnfinishedCopyIsAborted) {
    {
        auto copy = conn_->copy_in("events", {"id"});
        copy.write_row(1);
    }
    EXPECT_EQ(count(), 0);
}

TEST_F(PgCopy, BadDataSurfacesAtFinishAsTheServerError) {
    auto copy = conn_->copy_in("events", {"id"});
    copy.write_row(1);
    copy.write_row(1);
    EXPECT_THROW(copy.finish(), unique_violation);
    EXPECT_FALSE(copy.is_active());
    EXPECT_EQ(count(), 0);
}

TEST_F(PgCopy, TheConnectionRefusesStatementsDuringACopy) {
    auto copy = conn_->copy_in("events", {"id"});
    EXPECT_THROW(conn_->query("SELECT 1"), usage_error);
    copy.abort();
    EXPECT_EQ(conn_->query_one("SELECT 1").get<int>(0), 1);
}

TEST_F(PgCopy, CopyInsideATransactionRollsBackWithIt) {
    {
        transaction tx(*conn_);
        auto copy = conn_->copy_in(schema_ + ".events", {"id"});
        copy.write_row(1);
        EXPECT_EQ(copy.finish(), 1);
    }
    EXPECT_EQ(count(), 0);
}

}  // namespace
}  // namespace holdfast::db::testing
