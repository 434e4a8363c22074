#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "timing_test_support.hpp"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <holdfast/timing/default_sink.hpp>
#include <holdfast/timing/null_sink.hpp>
#include <holdfast/timing/spdlog_sink.hpp>
#include <holdfast/timing/timed_block.hpp>

namespace {

using holdfast::timing::default_sink;
using holdfast::timing::log_format;
using holdfast::timing::set_default_sink;
using holdfast_test::capture_sink;

// Restores the automatic default after each test, so tests do not leak sinks into each other.
class DefaultSink : public ::testing::Test {
  protected:
    void TearDown() override {
        set_default_sink(nullptr);
        ::unsetenv("HOLDFAST_LOG_FORMAT");
    }
};

TEST_F(DefaultSink, TimedBlockWithoutASinkWritesToTheDefaultSink) {
    auto capture = std::make_shared<capture_sink>();
    set_default_sink(capture);
    EXPECT_EQ(&default_sink(), capture.get());
    { holdfast::timing::timed_block t("startup", {{"workers", 4}}); }
    const auto events = capture->events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message, "startup completed");
}

TEST_F(DefaultSink, SetDefaultSinkReturnsThePreviousOne) {
    auto first = std::make_shared<capture_sink>();
    auto second = std::make_shared<holdfast::timing::null_sink>();
    set_default_sink(first);
    EXPECT_EQ(set_default_sink(second), first);
    EXPECT_EQ(&default_sink(), second.get());
}

TEST_F(DefaultSink, AReplacedSinkStaysAliveForBlocksStillUsingIt) {
    std::weak_ptr<capture_sink> watch;
    {
        auto capture = std::make_shared<capture_sink>();
        watch = capture;
        set_default_sink(capture);
    }
    holdfast::timing::timed_block running("long_running");  // holds a raw pointer to it
    set_default_sink(std::make_shared<holdfast::timing::null_sink>());
    EXPECT_FALSE(watch.expired());
}

// Under TSan (build/h-timing-tsan) this proves replacing the sink races with nothing.
TEST_F(DefaultSink, ReplacingTheSinkWhileBlocksRunOnAnotherThreadIsSafe) {
    auto first = std::make_shared<capture_sink>();
    auto second = std::make_shared<capture_sink>();
    set_default_sink(first);
    constexpr int blocks = 500;
    std::thread worker([] {
        for (int i = 0; i < blocks; ++i) holdfast::timing::timed_block t("tick", {{"i", i}});
    });
    for (int i = 0; i < 50; ++i) set_default_sink(i % 2 == 0 ? second : first);
    worker.join();
    EXPECT_EQ(first->events().size() + second->events().size(), std::size_t{blocks});
}

TEST_F(DefaultSink, NonTerminalStdoutGetsJsonLines) {
    // ctest runs tests with stdout on a pipe or file, never a terminal.
    auto sink = std::dynamic_pointer_cast<holdfast::timing::spdlog_sink>(
        holdfast::timing::make_default_sink());
    ASSERT_TRUE(sink);
    if (::isatty(1) == 1) GTEST_SKIP() << "stdout is a terminal";
    EXPECT_EQ(sink->format(), log_format::json_lines);
    EXPECT_EQ(sink->logger()->name(), "holdfast");
}

TEST_F(DefaultSink, EnvironmentVariableChoosesTheFormat) {
    ::setenv("HOLDFAST_LOG_FORMAT", "key_value", 1);
    auto sink = std::dynamic_pointer_cast<holdfast::timing::spdlog_sink>(
        holdfast::timing::make_default_sink());
    ASSERT_TRUE(sink);
    EXPECT_EQ(sink->format(), log_format::key_value);
    ::setenv("HOLDFAST_LOG_FORMAT", "json", 1);
    sink = std::dynamic_pointer_cast<holdfast::timing::spdlog_sink>(
        holdfast::timing::make_default_sink());
    EXPECT_EQ(sink->format(), log_format::json_lines);
}

TEST_F(DefaultSink, ALoggerRegisteredAsHoldfastReceivesTheEvents) {
    std::ostringstream out;
    auto mine = std::make_shared<spdlog::logger>(
        "holdfast", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
    mine->set_pattern("%v");
    spdlog::register_logger(mine);
    set_default_sink(nullptr);  // the automatic default is rebuilt on next use
    { holdfast::timing::timed_block t("routed"); }
    spdlog::drop("holdfast");
    const auto json = nlohmann::json::parse(out.str());
    EXPECT_EQ(json["event"], "routed completed");
}

}  // namespace
