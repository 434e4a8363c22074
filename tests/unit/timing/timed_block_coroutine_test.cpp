// timed_block across co_await: the RAII object lives in an Asio coroutine frame, the coroutine
// suspends on a real steady_timer, and a manual clock advances while it is suspended.
#include <chrono>
#include <exception>
#include <stdexcept>
#include <system_error>

#include "timing_test_support.hpp"
#include <asio.hpp>
#include <gtest/gtest.h>

#include <holdfast/core/time_source.hpp>
#include <holdfast/core/with.hpp>
#include <holdfast/timing/timed_block.hpp>

namespace {

using holdfast::timing::field_value;
using holdfast::timing::log_level;
using holdfast_test::capture_sink;
using namespace std::chrono_literals;

using holdfast::timing::timed_block;

// Waits on a timer that never expires by itself; the test wakes it by cancelling it, so no
// test waits for wall-clock time.
asio::awaitable<void> wait_until_woken(asio::steady_timer& timer) {
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> fetch(capture_sink& sink, holdfast::manual_clock& clock,
                            asio::steady_timer& timer, bool fail) {
    timed_block t(sink, "fetch", {{"id", 7}}, clock);
    co_await wait_until_woken(timer);
    clock.advance(1ms);  // work after the resume counts too
    if (fail) throw std::runtime_error("peer closed");
}

class TimedBlockAcrossCoAwait : public ::testing::Test {
  protected:
    // Runs fetch() to its suspension, advances the clock by 250 ms while it is
    // suspended, wakes it, and returns what the coroutine finished with.
    std::exception_ptr run_fetch(bool fail) {
        asio::io_context io;
        asio::steady_timer timer(io, asio::steady_timer::time_point::max());
        std::exception_ptr outcome;
        bool finished = false;
        asio::co_spawn(io, fetch(sink, clock, timer, fail), [&](std::exception_ptr e) {
            outcome = e;
            finished = true;
        });
        io.poll();  // runs the coroutine up to its co_await on the timer
        EXPECT_FALSE(finished);
        EXPECT_TRUE(sink.events().empty()) << "nothing is logged while suspended";
        clock.advance(250ms);
        timer.cancel();
        io.run();
        EXPECT_TRUE(finished);
        return outcome;
    }

    holdfast::manual_clock clock;
    capture_sink sink;
};

TEST_F(TimedBlockAcrossCoAwait, CompletedDurationIncludesTheTimeSuspended) {
    EXPECT_FALSE(run_fetch(false));
    const auto events = sink.events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message, "fetch completed");
    EXPECT_EQ(std::get<double>(events[0].field("duration_seconds")->get()), 0.251);
    EXPECT_EQ(events[0].field("id"), field_value(7));
}

TEST_F(TimedBlockAcrossCoAwait, AnExceptionFromTheCoroutineBodyIsLoggedAsFailedAndDelivered) {
    const std::exception_ptr outcome = run_fetch(true);
    ASSERT_TRUE(outcome);
    EXPECT_THROW(std::rethrow_exception(outcome), std::runtime_error);
    const auto events = sink.events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message, "fetch failed");
    EXPECT_EQ(events[0].level, log_level::error);
    EXPECT_EQ(std::get<double>(events[0].field("duration_seconds")->get()), 0.251);
}

asio::awaitable<int> fetch_with(capture_sink& sink, holdfast::manual_clock& clock,
                                asio::steady_timer& timer) {
    // Context-manager form around a synchronous step inside a coroutine; the exact outcome
    // comes from the exception_ptr.
    timed_block block(sink, "parse", {}, clock);
    co_await wait_until_woken(timer);
    co_return holdfast::with(block, [&clock] {
        clock.advance(2ms);
        return 3;
    });
}

TEST_F(TimedBlockAcrossCoAwait, ContextManagerFormInsideACoroutineLogsOnce) {
    asio::io_context io;
    asio::steady_timer timer(io, asio::steady_timer::time_point::max());
    int result = 0;
    asio::co_spawn(io, fetch_with(sink, clock, timer), [&](std::exception_ptr e, int value) {
        EXPECT_FALSE(e);
        result = value;
    });
    io.poll();
    clock.advance(1s);  // before enter(): not part of the body
    timer.cancel();
    io.run();
    EXPECT_EQ(result, 3);
    const auto events = sink.events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message, "parse completed");
    EXPECT_EQ(std::get<double>(events[0].field("duration_seconds")->get()), 0.002);
}

}  // namespace
