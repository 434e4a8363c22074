#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <holdfast/timing/render.hpp>

namespace {

using holdfast::timing::log_event;
using holdfast::timing::log_field;
using holdfast::timing::log_level;
using holdfast::timing::render_json;
using holdfast::timing::render_key_value;
using namespace std::chrono_literals;

// 2024-05-01T12:34:56.123456Z
const std::chrono::system_clock::time_point fixed_time =
    std::chrono::sys_days{std::chrono::year{2024} / 5 / 1} + 12h + 34min + 56s + 123456us;

log_event event_with(std::string_view message, const std::vector<log_field>& fields,
                     log_level level = log_level::info) {
    return {message, level, fixed_time, fields};
}

TEST(RenderJson, WritesEventFieldsLevelAndTimestampInThatOrder) {
    const std::vector<log_field> fields{{"duration_seconds", 1.234}, {"rows", 42}};
    EXPECT_EQ(render_json(event_with("data_processing completed", fields)),
              R"({"event":"data_processing completed","duration_seconds":1.234,"rows":42,)"
              R"("level":"info","timestamp":"2024-05-01T12:34:56.123456Z"})");
}

TEST(RenderJson, IsOneLineOfValidJsonWithTypedValues) {
    const std::vector<log_field> fields{{"s", "text"}, {"i", -5},      {"u", UINT64_MAX},
                                        {"d", 0.5},    {"whole", 2.0}, {"yes", true},
                                        {"no", false}};
    const std::string line = render_json(event_with("typed", fields, log_level::warning));
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json["event"], "typed");
    EXPECT_EQ(json["level"], "warning");
    EXPECT_EQ(json["s"], "text");
    EXPECT_EQ(json["i"].get<std::int64_t>(), -5);
    EXPECT_EQ(json["u"].get<std::uint64_t>(), UINT64_MAX);
    EXPECT_TRUE(json["d"].is_number_float());
    EXPECT_EQ(json["d"].get<double>(), 0.5);
    EXPECT_TRUE(json["whole"].is_number_float()) << "2.0 must not be written as the integer 2";
    EXPECT_EQ(json["yes"], true);
    EXPECT_EQ(json["no"], false);
}

TEST(RenderJson, EscapesQuotesBackslashesAndControlCharacters) {
    const std::string nasty = "say \"hi\"\\ \n\r\t\b\f\x01\x1f end";
    const std::vector<log_field> fields{{"error", nasty}};
    const std::string line = render_json(event_with(nasty, fields));
    EXPECT_NE(line.find(R"("event":"say \"hi\"\\ \n\r\t\b\f\u0001\u001f end")"), std::string::npos)
        << line;
    const auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json["event"], nasty);
    EXPECT_EQ(json["error"], nasty);
}

TEST(RenderJson, PassesValidUtf8Through) {
    const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // café € 😀
    const std::vector<log_field> fields{{"name", text}};
    const std::string line = render_json(event_with(text, fields));
    EXPECT_NE(line.find(text), std::string::npos) << "UTF-8 bytes are written as they are";
    EXPECT_EQ(nlohmann::json::parse(line)["name"], text);
}

TEST(RenderJson, ReplacesBytesThatAreNotUtf8SoTheLineStaysValid) {
    // Latin-1 é, a truncated 3-byte sequence, an overlong '/', a UTF-16 surrogate.
    const std::string bad = "caf\xE9|\xE2\x82|\xC0\xAF|\xED\xA0\x80";
    const std::vector<log_field> fields{{"path", bad}};
    const std::string line = render_json(event_with("open failed", fields));
    const auto json = nlohmann::json::parse(line);  // throws on invalid UTF-8
    const std::string replacement = "\xEF\xBF\xBD";
    EXPECT_EQ(json["path"], "caf" + replacement + "|" + replacement + replacement + "|" +
                                replacement + replacement + "|" + replacement + replacement +
                                replacement);
}

TEST(RenderJson, EscapesKeys) {
    const std::vector<log_field> fields{{"we\"ird\nkey", 1}};
    const auto json = nlohmann::json::parse(render_json(event_with("k", fields)));
    EXPECT_EQ(json["we\"ird\nkey"], 1);
}

TEST(RenderJson, RenamesFieldsThatWouldCollideWithReservedKeys) {
    const std::vector<log_field> fields{{"event", "mine"}, {"level", 3}, {"timestamp", "t"}};
    const auto json = nlohmann::json::parse(render_json(event_with("e", fields)));
    EXPECT_EQ(json["event"], "e");
    EXPECT_EQ(json["_event"], "mine");
    EXPECT_EQ(json["level"], "info");
    EXPECT_EQ(json["_level"], 3);
    EXPECT_EQ(json["_timestamp"], "t");
}

TEST(RenderJson, NonFiniteDoublesBecomeNull) {
    const std::vector<log_field> fields{{"nan", std::numeric_limits<double>::quiet_NaN()},
                                        {"inf", std::numeric_limits<double>::infinity()}};
    const auto json = nlohmann::json::parse(render_json(event_with("e", fields)));
    EXPECT_TRUE(json["nan"].is_null());
    EXPECT_TRUE(json["inf"].is_null());
}

TEST(RenderJson, DoublesUseTheShortestRoundTripForm) {
    const std::vector<log_field> fields{{"a", 0.1}, {"b", 1e-7}, {"c", 0.0}};
    const std::string line = render_json(event_with("e", fields));
    EXPECT_NE(line.find(R"("a":0.1,)"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("c":0.0,)"), std::string::npos) << line;
    EXPECT_EQ(nlohmann::json::parse(line)["b"].get<double>(), 1e-7);
}

TEST(RenderJson, TimestampIsIsoUtcWithMicroseconds) {
    const std::string line =
        render_json({"e", log_level::info, std::chrono::system_clock::now(), {}});
    const std::string timestamp = nlohmann::json::parse(line)["timestamp"];
    EXPECT_TRUE(
        std::regex_match(timestamp, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)")))
        << timestamp;
}

TEST(RenderJson, TimestampDigitsAreZeroPadded) {
    const auto early =
        std::chrono::sys_days{std::chrono::year{2001} / 1 / 2} + 3h + 4min + 5s + 7us;
    const std::string line = render_json({"e", log_level::info, early, {}});
    EXPECT_NE(line.find(R"("timestamp":"2001-01-02T03:04:05.000007Z")"), std::string::npos) << line;
}

TEST(RenderKeyValue, WritesTimestampLevelMessageAndFields) {
    const std::vector<log_field> fields{{"duration_seconds", 1.234}, {"rows", 42}};
    EXPECT_EQ(render_key_value(event_with("data_processing completed", fields)),
              "2024-05-01T12:34:56.123456Z [info] data_processing completed "
              "duration_seconds=1.234 rows=42");
}

TEST(RenderKeyValue, QuotesStringsOnlyWhenNeeded) {
    const std::vector<log_field> fields{{"table", "users"},     {"error", "connection reset"},
                                        {"empty", ""},          {"eq", "a=b"},
                                        {"quote", "say \"x\""}, {"ok", true}};
    EXPECT_EQ(render_key_value(event_with("m", fields, log_level::error)),
              "2024-05-01T12:34:56.123456Z [error] m table=users error=\"connection reset\" "
              "empty=\"\" eq=\"a=b\" quote=\"say \\\"x\\\"\" ok=true");
}

TEST(RenderKeyValue, KeepsTheEventOnOneLine) {
    const std::vector<log_field> fields{{"error", "line one\nline two"}};
    const std::string line = render_key_value(event_with("multi\nline", fields));
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_NE(line.find(R"(multi\nline error="line one\nline two")"), std::string::npos) << line;
}

TEST(RenderKeyValue, NonFiniteDoublesAreReadable) {
    const std::vector<log_field> fields{{"x", -std::numeric_limits<double>::infinity()}};
    EXPECT_NE(render_key_value(event_with("m", fields)).find("x=-inf"), std::string::npos);
}

}  // namespace
