#include <chrono>
#include <exception>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "timing_test_support.hpp"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/time_source.hpp>
#include <holdfast/core/with.hpp>
#include <holdfast/timing/null_sink.hpp>
#include <holdfast/timing/spdlog_sink.hpp>
#include <holdfast/timing/timed_block.hpp>

namespace {

using holdfast::timing::field_value;
using holdfast::timing::log_level;
using holdfast::timing::rounded_seconds;
using holdfast_test::capture_sink;
using namespace std::chrono_literals;

using holdfast::timing::timed_block;

static_assert(!std::is_copy_constructible_v<timed_block>);
static_assert(!std::is_move_constructible_v<timed_block>);
static_assert(holdfast::context_manager<timed_block>);
static_assert(!holdfast::suppressing_context_manager<timed_block>,
              "a timed block never swallows the exception it times");
// The block keeps a pointer to its time source: a temporary one would dangle.
static_assert(!std::is_constructible_v<timed_block, holdfast::timing::log_sink&, const char*,
                                       std::initializer_list<holdfast::timing::log_field>,
                                       holdfast::manual_clock>);
static_assert(std::is_constructible_v<timed_block, holdfast::timing::log_sink&, const char*,
                                      std::initializer_list<holdfast::timing::log_field>,
                                      holdfast::manual_clock&>);

class TimedBlock : public ::testing::Test {
  protected:
    holdfast::manual_clock clock;
    capture_sink sink;
};

// A source no test may read: for blocks that must not touch the clock.
class unreadable_clock final : public holdfast::time_source {
  public:
    time_point now() const noexcept override {
        ADD_FAILURE() << "the clock was read";
        return {};
    }
    time_point precise_now() const noexcept override { return now(); }
    bool follows_real_time() const noexcept override { return false; }
};

double seconds_of(const holdfast_test::captured_event& event) {
    return std::get<double>(event.field("duration_seconds")->get());
}

std::string error_of(const holdfast_test::captured_event& event) {
    return std::get<std::string>(event.field("error")->get());
}

TEST_F(TimedBlock, LogsOneCompletedEventWithTheInjectedDurationAndCallerFields) {
    {
        timed_block t(sink, "data_processing", {{"rows", 42}, {"table", "users"}}, clock);
        clock.advance(1234ms);
    }
    const auto events = sink.events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message, "data_processing completed");
    EXPECT_EQ(events[0].level, log_level::info);
    ASSERT_EQ(events[0].fields.size(), 3u);
    EXPECT_EQ(events[0].fields[0].key, "duration_seconds");
    EXPECT_EQ(seconds_of(events[0]), 1.234);
    EXPECT_EQ(events[0].field("rows"), field_value(42));
    EXPECT_EQ(events[0].field("table"), field_value("users"));
    EXPECT_FALSE(events[0].field("error"));
}

TEST_F(TimedBlock, LogsFailedWithTheErrorWhenLeftByAnExceptionThatStillPropagates) {
    const std::runtime_error thrown("disk full");
    try {
        timed_block t(sink, "export", {{"rows", 7}}, clock);
        clock.advance(250ms);
        throw thrown;
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "disk full");
    }
    const auto events = sink.events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message, "export failed");
    EXPECT_EQ(events[0].level, log_level::error);
    EXPECT_EQ(seconds_of(events[0]), 0.25);
    EXPECT_EQ(events[0].field("rows"), field_value(7));
    // A destructor cannot see the exception in flight: the RAII form says so.
    EXPECT_EQ(error_of(events[0]), holdfast::unwinding_exception().what());
    EXPECT_EQ(events[0].fields.back().key, "error");
}

TEST_F(TimedBlock, RaiiFormInsideACatchHandlerOfAnotherExceptionStillCompletes) {
    try {
        throw std::runtime_error("earlier");
    } catch (...) {
        timed_block t(sink, "retry", {}, clock);
    }
    ASSERT_EQ(sink.events().size(), 1u);
    EXPECT_EQ(sink.events()[0].message, "retry completed");
}

TEST_F(TimedBlock, ContextManagerFormLogsCompletedAndReturnsTheBodysResult) {
    const int result = holdfast::with(timed_block(sink, "lookup", {{"key", "k1"}}, clock), [this] {
        clock.advance(3ms);
        return 5;
    });
    EXPECT_EQ(result, 5);
    const auto events = sink.events();
    ASSERT_EQ(events.size(), 1u) << "exit logs; the destructor must not log again";
    EXPECT_EQ(events[0].message, "lookup completed");
    EXPECT_EQ(seconds_of(events[0]), 0.003);
    EXPECT_EQ(events[0].field("key"), field_value("k1"));
}

TEST_F(TimedBlock, ContextManagerFormLogsTheExceptionsMessageAndRethrowsTheSameObject) {
    std::exception_ptr seen;
    try {
        holdfast::with(timed_block(sink, "upload", {}, clock), [this] {
            clock.advance(52ms);
            throw std::invalid_argument("connection reset");
        });
    } catch (const std::invalid_argument&) {
        seen = std::current_exception();
    }
    ASSERT_TRUE(seen);
    const auto events = sink.events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message, "upload failed");
    EXPECT_EQ(events[0].level, log_level::error);
    EXPECT_EQ(seconds_of(events[0]), 0.052);
    EXPECT_EQ(error_of(events[0]), "connection reset");
}

TEST_F(TimedBlock, ContextManagerFormNamesExceptionsNotDerivedFromStdException) {
    EXPECT_THROW(holdfast::with(timed_block(sink, "odd", {}, clock), [] { throw 42; }), int);
    ASSERT_EQ(sink.events().size(), 1u);
    EXPECT_EQ(error_of(sink.events()[0]), "unknown exception");
}

TEST_F(TimedBlock, EnterRestartsTheClockSoOnlyTheBodyIsTimed) {
    timed_block block(sink, "body_only", {}, clock);
    clock.advance(10s);  // between construction and with(): not part of the body
    holdfast::with(block, [this] { clock.advance(2ms); });
    ASSERT_EQ(sink.events().size(), 1u);
    EXPECT_EQ(seconds_of(sink.events()[0]), 0.002);
}

TEST_F(TimedBlock, ExitCalledDirectlyLogsOnceAndTheDestructorStaysQuiet) {
    {
        timed_block t(sink, "manual", {}, clock);
        t.enter();
        t.exit(nullptr);
        t.exit(nullptr);
    }
    EXPECT_EQ(sink.events().size(), 1u);
}

TEST_F(TimedBlock, DisabledSinkGetsNothingAndTheClockIsNotRead) {
    const unreadable_clock unread;
    holdfast::timing::null_sink quiet;
    {
        timed_block t(quiet, "quiet", {}, unread);
        t.enter();
    }
    holdfast::with(timed_block(quiet, "quiet_cm", {}, unread), [] {});
    capture_sink off;
    off.set_level(log_level::off);
    { timed_block t(off, "off", {}, unread); }
    EXPECT_TRUE(off.events().empty());
}

TEST_F(TimedBlock, ThresholdAboveInfoKeepsFailuresAndDropsCompletions) {
    sink.set_level(log_level::warning);
    { timed_block t(sink, "fine", {}, clock); }
    EXPECT_THROW(holdfast::with(timed_block(sink, "broken", {}, clock),
                                [] { throw std::runtime_error("x"); }),
                 std::runtime_error);
    const auto events = sink.events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message, "broken failed");
}

TEST_F(TimedBlock, CopiesTheNameAndFieldsSoTemporariesAreSafe) {
    {
        timed_block t(sink, std::string("batch_") + std::to_string(17),
                      {{std::string("dynamic_key_longer_than_sso"), std::string(40, 'v')}}, clock);
    }
    ASSERT_EQ(sink.events().size(), 1u);
    EXPECT_EQ(sink.events()[0].message, "batch_17 completed");
    EXPECT_EQ(sink.events()[0].field("dynamic_key_longer_than_sso"),
              field_value(std::string(40, 'v')));
}

class throwing_sink final : public holdfast::timing::log_sink {
    void write_event(const holdfast::timing::log_event&) override {
        throw std::runtime_error("sink broke");
    }
};

TEST_F(TimedBlock, ASinkThatThrowsIsReportedToTheCleanupErrorHandlerNotToTheCaller) {
    std::string reported_where;
    std::string reported_what;
    auto previous =
        holdfast::set_cleanup_error_handler([&](std::exception_ptr e, std::string_view where) {
            reported_where = where;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                reported_what = ex.what();
            }
        });
    throwing_sink broken;
    { timed_block t(broken, "noisy", {}, clock); }
    holdfast::with(timed_block(broken, "noisy_cm", {}, clock), [] {});
    holdfast::set_cleanup_error_handler(std::move(previous));
    EXPECT_EQ(reported_where, "holdfast::timing::timed_block");
    EXPECT_EQ(reported_what, "sink broke");
}

TEST_F(TimedBlock, WritesExactlyOneWellFormedJsonLinePerBlockThroughSpdlog) {
    std::ostringstream out;
    auto logger = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
    logger->set_pattern("%v");
    auto json_sink = holdfast::timing::make_json_lines_sink(logger);
    {
        timed_block t(*json_sink, "data_processing", {{"rows", 42}}, clock);
        clock.advance(1234567us);
    }
    try {
        timed_block t(*json_sink, "data_processing", {{"rows", 43}}, clock);
        clock.advance(1ms);
        throw std::runtime_error("bad row \"17\"");
    } catch (const std::runtime_error&) {
    }
    std::istringstream lines(out.str());
    std::vector<nlohmann::json> events;
    for (std::string line; std::getline(lines, line);)
        events.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(events.size(), 2u) << out.str();
    EXPECT_EQ(events[0]["event"], "data_processing completed");
    EXPECT_EQ(events[0]["duration_seconds"].get<double>(), 1.235);
    EXPECT_EQ(events[0]["rows"], 42);
    EXPECT_EQ(events[0]["level"], "info");
    EXPECT_TRUE(events[0].contains("timestamp"));
    EXPECT_FALSE(events[0].contains("error"));
    EXPECT_EQ(events[1]["event"], "data_processing failed");
    EXPECT_EQ(events[1]["duration_seconds"].get<double>(), 0.001);
    EXPECT_EQ(events[1]["rows"], 43);
    EXPECT_EQ(events[1]["level"], "error");
    EXPECT_TRUE(events[1]["error"].is_string());
}

// ---- rounding: the seed's round(elapsed, 3) ---------------------------------------------------

struct rounding_case {
    std::chrono::nanoseconds elapsed;
    double seconds;
};

class RoundedSeconds : public ::testing::TestWithParam<rounding_case> {};

TEST_P(RoundedSeconds, RoundsToWholeMillisecondsHalfToEven) {
    EXPECT_EQ(rounded_seconds(GetParam().elapsed), GetParam().seconds);
}

INSTANTIATE_TEST_SUITE_P(Table, RoundedSeconds,
                         ::testing::Values(rounding_case{0ns, 0.0},             //
                                           rounding_case{1234567ns, 0.001},     // 1.234567 ms
                                           rounding_case{499999ns, 0.0},        // just under half
                                           rounding_case{500001ns, 0.001},      // just over half
                                           rounding_case{1234499999ns, 1.234},  //
                                           rounding_case{1234500001ns, 1.235},  //
                                           rounding_case{1234500000ns, 1.234},  // tie, 1234 is even
                                           rounding_case{1235500000ns, 1.236},  // tie, 1235 is odd
                                           rounding_case{1999999999ns, 2.0},    //
                                           rounding_case{-1234567ns,
                                                         -0.001},  // a fake clock going back
                                           rounding_case{3600s + 1ms, 3600.001}));

static_assert(rounded_seconds(std::chrono::milliseconds(1500)) == 1.5);

}  // namespace
