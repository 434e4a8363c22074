#include <holdfast/db/value.hpp>
// (header under test first: it must compile on its own)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <holdfast/db/result.hpp>
#include <holdfast/db/row.hpp>

namespace holdfast::db {
namespace {

using namespace std::chrono;

TEST(Value, ReadsWhatItHoldsAndConvertsOnlyWhereLossless) {
    EXPECT_EQ(value(42).get<int>(), 42);
    EXPECT_EQ(value(42).get<double>(), 42.0);
    EXPECT_TRUE(value(1).get<bool>());
    EXPECT_EQ(value(true).get<int>(), 1);
    EXPECT_EQ(value("Zoë").get<std::string>(), "Zoë");
    EXPECT_THROW(value("42").get<int>(), usage_error);
    EXPECT_THROW(value(4.2).get<int>(), usage_error);
}

TEST(Value, IntegerReadsAreRangeChecked) {
    EXPECT_THROW(value(std::int64_t{1} << 40).get<int>(), usage_error);
    EXPECT_THROW(value(-1).get<unsigned>(), usage_error);
    EXPECT_EQ(value(255).get<std::uint8_t>(), 255);
}

TEST(Value, NullNeedsAnOptional) {
    EXPECT_EQ(value(nullptr).get<std::optional<int>>(), std::nullopt);
    EXPECT_EQ(value(3).get<std::optional<int>>(), 3);
    try {
        value(nullptr).get<int>();
        FAIL();
    } catch (const usage_error& e) {
        EXPECT_NE(std::string(e.what()).find("std::optional"), std::string::npos);
    }
}

TEST(Value, KindMismatchNamesBothKinds) {
    try {
        value("x").get<blob>();
        FAIL();
    } catch (const usage_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot read text as blob"), std::string::npos)
            << e.what();
    }
}

TEST(Timestamp, FormatsAndParsesIso8601WithMicroseconds) {
    const timestamp t = sys_days{2024y / 2 / 29} + 1h + 2min + 3s + 4us;
    EXPECT_EQ(format_timestamp(t), "2024-02-29 01:02:03.000004");
    EXPECT_EQ(parse_timestamp("2024-02-29 01:02:03.000004"), t);
    EXPECT_EQ(parse_timestamp("2024-02-29T01:02:03.000004Z"), t);
    EXPECT_EQ(parse_timestamp("2024-02-29 03:02:03.000004+02"), t);
    EXPECT_EQ(parse_timestamp("2024-02-28 19:32:03.000004-05:30"), t);
    EXPECT_EQ(parse_timestamp("2024-02-29"), timestamp{sys_days{2024y / 2 / 29}});
    EXPECT_EQ(parse_timestamp("2023-02-29"), std::nullopt);
    EXPECT_EQ(parse_timestamp("infinity"), std::nullopt);
    EXPECT_EQ(value("2024-02-29 01:02:03.000004").get<timestamp>(), t);
}

TEST(Timestamp, BeforeTheEpochFormatsCorrectly) {
    const timestamp t = sys_days{1969y / 12 / 31} + 23h + 59min + 59s + 500000us;
    EXPECT_EQ(format_timestamp(t), "1969-12-31 23:59:59.500000");
    EXPECT_EQ(parse_timestamp(format_timestamp(t)), t);
}

TEST(Param, ViewsArgumentsWithoutCopying) {
    const std::string s = "text";
    EXPECT_EQ(param(s).text().data(), s.data());
    EXPECT_EQ(param(true).kind(), value_kind::boolean);
    EXPECT_EQ(param(std::optional<int>{}).kind(), value_kind::null);
    EXPECT_EQ(param(std::optional<int>{5}).integer(), 5);
    EXPECT_EQ(param(value(2.5)).real(), 2.5);
    EXPECT_EQ(param(sys_days{1970y / 1 / 2}).time(), timestamp{sys_days{1970y / 1 / 2}});
}

TEST(Param, ANullCharPointerBindsNull) {
    const char* none = nullptr;
    EXPECT_EQ(param(none).kind(), value_kind::null);
    EXPECT_TRUE(value(none).is_null());
}

TEST(Row, AddressesByIndexAndNameAndConvertsToJson) {
    auto columns = std::make_shared<column_list>(column_list{"id", "name", "data", "at", "ok"});
    row r(columns, {value(1), value("Zoë"), value(blob{std::byte{'h'}, std::byte{'i'}}),
                    value(timestamp{sys_days{2024y / 1 / 1}}), value(nullptr)});
    EXPECT_EQ(r.get<int>("id"), 1);
    EXPECT_EQ(r.get<std::string>(1), "Zoë");
    EXPECT_THROW(r.get<int>(9), usage_error);
    EXPECT_EQ(r.to_json(), nlohmann::json::parse(R"({"id": 1, "name": "Zoë", "data": "aGk=",
        "at": "2024-01-01 00:00:00.000000", "ok": null})"));
    result rs(columns, {r, r}, 2);
    EXPECT_EQ(rs.to_json().size(), 2u);
    EXPECT_THROW(rs.one(), usage_error);
}

}  // namespace
}  // namespace holdfast::db
