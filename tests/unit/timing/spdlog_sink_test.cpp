#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <holdfast/timing/spdlog_sink.hpp>
#include <holdfast/timing/timed_block.hpp>

namespace {

using holdfast::timing::log_format;
using holdfast::timing::log_level;

struct captured_logger {
    std::ostringstream out;
    std::shared_ptr<spdlog::logger> logger;

    captured_logger() {
        logger = std::make_shared<spdlog::logger>(
            "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
        logger->set_pattern("%v");
        logger->set_level(spdlog::level::trace);
    }

    std::vector<std::string> lines() const {
        std::istringstream in(out.str());
        std::vector<std::string> result;
        for (std::string line; std::getline(in, line);) result.push_back(line);
        return result;
    }
};

TEST(SpdlogSink, JsonLinesSinkWritesOneJsonObjectPerEvent) {
    captured_logger capture;
    auto sink = holdfast::timing::make_json_lines_sink(capture.logger);
    EXPECT_EQ(sink->format(), log_format::json_lines);
    sink->log(log_level::info, "cache warmed", {{"entries", 42}});
    sink->log(log_level::warning, "cache cold");
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u);
    const auto first = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(first["event"], "cache warmed");
    EXPECT_EQ(first["entries"], 42);
    EXPECT_EQ(first["level"], "info");
    EXPECT_EQ(nlohmann::json::parse(lines[1])["level"], "warning");
}

TEST(SpdlogSink, KeyValueSinkWritesReadableLines) {
    captured_logger capture;
    auto sink = holdfast::timing::make_key_value_sink(capture.logger);
    sink->log(log_level::info, "data_processing completed",
              {{"duration_seconds", 1.234}, {"rows", 42}});
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find(" [info] data_processing completed duration_seconds=1.234 rows=42"),
              std::string::npos)
        << lines[0];
}

TEST(SpdlogSink, TheLoggersOwnLevelStillFilters) {
    captured_logger capture;
    capture.logger->set_level(spdlog::level::warn);
    auto sink = holdfast::timing::make_json_lines_sink(capture.logger);
    sink->log(log_level::info, "dropped by spdlog");
    sink->log(log_level::error, "kept");
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(lines[0])["event"], "kept");
}

TEST(SpdlogSink, TheSinksThresholdFiltersBeforeRendering) {
    captured_logger capture;
    auto sink = holdfast::timing::make_json_lines_sink(capture.logger);
    sink->set_level(log_level::error);
    sink->log(log_level::warning, "dropped");
    EXPECT_TRUE(capture.lines().empty());
}

TEST(SpdlogSink, RejectsANullLogger) {
    EXPECT_THROW(holdfast::timing::spdlog_sink(nullptr, log_format::json_lines),
                 std::invalid_argument);
}

// Under TSan (build/h-timing-tsan) this also proves the sink is free of data races.
TEST(SpdlogSink, ConcurrentBlocksOnOneSinkNeverInterleaveLines) {
    captured_logger capture;
    auto sink = holdfast::timing::make_json_lines_sink(capture.logger);
    constexpr int per_thread = 200;
    auto work = [&](int thread) {
        for (int i = 0; i < per_thread; ++i) {
            holdfast::timing::timed_block t(
                *sink, "step", {{"thread", thread}, {"i", i}, {"padding", std::string(100, 'x')}});
        }
    };
    std::thread a(work, 0);
    std::thread b(work, 1);
    a.join();
    b.join();
    const auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u * per_thread);
    std::set<std::pair<int, int>> seen;
    for (const auto& line : lines) {
        const auto json = nlohmann::json::parse(line);  // an interleaved line would not parse
        EXPECT_EQ(json["event"], "step completed");
        seen.emplace(json["thread"].get<int>(), json["i"].get<int>());
    }
    EXPECT_EQ(seen.size(), 2u * per_thread);
}

}  // namespace
