#include <memory>
#include <stdexcept>
#include <string>

#include "timing_test_support.hpp"
#include <gtest/gtest.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/exit_stack.hpp>
#include <holdfast/timing/cleanup_log.hpp>
#include <holdfast/timing/default_sink.hpp>

namespace {

using holdfast::timing::field_value;
using holdfast::timing::log_level;
using holdfast_test::capture_sink;

// Restores the previous cleanup error handler and the automatic default sink.
class CleanupLog : public ::testing::Test {
  protected:
    void TearDown() override {
        holdfast::set_cleanup_error_handler(std::move(previous_handler));
        holdfast::timing::set_default_sink(nullptr);
    }
    holdfast::cleanup_error_handler previous_handler;
};

TEST_F(CleanupLog, ErrorsSwallowedByADestructorBecomeStructuredEvents) {
    auto sink = std::make_shared<capture_sink>();
    previous_handler = holdfast::timing::log_cleanup_errors_to(sink);
    {
        holdfast::exit_stack stack;
        stack.callback([] { throw std::runtime_error("disk full"); });
    }  // the destructor cannot throw: it reports
    const auto events = sink->events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message, "cleanup error");
    EXPECT_EQ(events[0].level, log_level::error);
    EXPECT_EQ(events[0].field("error"), field_value("disk full"));
    ASSERT_TRUE(events[0].field("where"));
    EXPECT_FALSE(std::get<std::string>(events[0].field("where")->get()).empty());
}

TEST_F(CleanupLog, ReportsCarryTheReportersLocationAndNameUnknownExceptions) {
    auto sink = std::make_shared<capture_sink>();
    previous_handler = holdfast::timing::log_cleanup_errors_to(sink);
    holdfast::report_cleanup_error(std::make_exception_ptr(42), "my_pool::~my_pool");
    const auto events = sink->events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].field("where"), field_value("my_pool::~my_pool"));
    EXPECT_EQ(events[0].field("error"), field_value("unknown exception"));
}

TEST_F(CleanupLog, DefaultSinkRouteFollowsTheSinkInstalledLater) {
    previous_handler = holdfast::timing::log_cleanup_errors_to_default_sink();
    auto sink = std::make_shared<capture_sink>();
    holdfast::timing::set_default_sink(sink);
    holdfast::report_cleanup_error(std::make_exception_ptr(std::logic_error("late")), "here");
    ASSERT_EQ(sink->events().size(), 1u);
    EXPECT_EQ(sink->events()[0].field("error"), field_value("late"));
}

TEST_F(CleanupLog, RejectsANullSink) {
    EXPECT_THROW(holdfast::timing::log_cleanup_errors_to(nullptr), std::invalid_argument);
}

}  // namespace
