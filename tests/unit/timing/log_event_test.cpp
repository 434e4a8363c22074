#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include <gtest/gtest.h>

#include <holdfast/timing/log_event.hpp>

namespace {

using holdfast::timing::field_value;
using holdfast::timing::log_level;

template <class T>
bool holds(const field_value& value) {
    return std::holds_alternative<T>(value.get());
}

TEST(FieldValue, SignedIntegersBecomeInt64) {
    EXPECT_TRUE(holds<std::int64_t>(field_value(42)));
    EXPECT_TRUE(holds<std::int64_t>(field_value(short{-3})));
    EXPECT_EQ(std::get<std::int64_t>(field_value(-7L).get()), -7);
}

TEST(FieldValue, UnsignedIntegersKeepTheirFullRange) {
    const std::uint64_t big = UINT64_MAX;
    EXPECT_EQ(std::get<std::uint64_t>(field_value(big).get()), UINT64_MAX);
    EXPECT_TRUE(holds<std::uint64_t>(field_value(std::size_t{3})));
}

TEST(FieldValue, BoolStaysBool) {
    EXPECT_TRUE(holds<bool>(field_value(true)));
}

TEST(FieldValue, FloatingPointBecomesDouble) {
    EXPECT_TRUE(holds<double>(field_value(1.5f)));
    EXPECT_EQ(std::get<double>(field_value(1.25).get()), 1.25);
}

TEST(FieldValue, StringLiteralsAreStringsNotBools) {
    EXPECT_EQ(std::get<std::string>(field_value("users").get()), "users");
    EXPECT_EQ(std::get<std::string>(field_value(std::string_view("v")).get()), "v");
    EXPECT_EQ(std::get<std::string>(field_value(std::string("s")).get()), "s");
}

TEST(FieldValue, NullCharPointerIsTheEmptyString) {
    const char* nothing = nullptr;
    EXPECT_EQ(std::get<std::string>(field_value(nothing).get()), "");
}

TEST(LogLevel, NamesAreStructlogs) {
    EXPECT_EQ(holdfast::timing::to_string(log_level::info), "info");
    EXPECT_EQ(holdfast::timing::to_string(log_level::warning), "warning");
    EXPECT_EQ(holdfast::timing::to_string(log_level::error), "error");
    EXPECT_EQ(holdfast::timing::to_string(log_level::critical), "critical");
}

static_assert(std::is_nothrow_convertible_v<int, field_value>);
static_assert(std::is_convertible_v<const char*, field_value>);

}  // namespace
