#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "async_test_support.hpp"
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <holdfast/async/async_with.hpp>

namespace {

using namespace std::chrono_literals;
using log_t = std::vector<std::string>;
using holdfast::testing::describe;
using holdfast::testing::run;
using holdfast::testing::yield_once;

asio::awaitable<void> wait_forever() {
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::hours(1));
    co_await timer.async_wait(asio::use_awaitable);
}

struct logging_manager {
    log_t* log;
    bool fail_enter = false;
    bool fail_exit = false;
    int value = 7;

    asio::awaitable<std::reference_wrapper<int>> async_enter() {
        co_await yield_once();
        log->push_back("enter");
        if (fail_enter) throw std::runtime_error("enter failed");
        co_return std::ref(value);
    }
    asio::awaitable<void> async_exit(std::exception_ptr e) {
        co_await yield_once();  // an exit that awaits: must work even after a cancellation
        log->push_back("exit:" + describe(e));
        if (fail_exit) throw std::logic_error("exit failed");
    }
};

struct suppressing_manager {
    log_t* log;
    asio::awaitable<void> async_enter() { co_return; }
    asio::awaitable<bool> async_exit(std::exception_ptr e) {
        co_await yield_once();
        log->push_back("exit:" + describe(e));
        co_return true;
    }
};

struct value_manager {
    asio::awaitable<std::string> async_enter() { co_return "entered"; }
    asio::awaitable<void> async_exit(std::exception_ptr) { co_return; }
};

static_assert(holdfast::async_context_manager<logging_manager>);
static_assert(!holdfast::suppressing_async_context_manager<logging_manager>);
static_assert(holdfast::suppressing_async_context_manager<suppressing_manager>);
static_assert(
    std::is_same_v<holdfast::async_with_result_t<logging_manager&, asio::awaitable<int> (*)(int&)>,
                   int>);
static_assert(
    std::is_same_v<holdfast::async_with_result_t<suppressing_manager, asio::awaitable<int> (*)()>,
                   std::optional<int>>);
static_assert(
    std::is_same_v<holdfast::async_with_result_t<suppressing_manager, asio::awaitable<void> (*)()>,
                   bool>);

TEST(AsyncWith, EnterExitAndBodyRunInOrderAndTheResultIsReturned) {
    log_t log;
    logging_manager cm{&log};
    int r = run(holdfast::async_with(cm, [&](int& v) -> asio::awaitable<int> {
        log.push_back("body");
        co_await yield_once();
        co_return v * 6;
    }));
    EXPECT_EQ(r, 42);
    EXPECT_EQ(log, (log_t{"enter", "body", "exit:none"}));
}

TEST(AsyncWith, EnterFailureSkipsBodyAndExit) {
    log_t log;
    EXPECT_THROW(run(holdfast::async_with(logging_manager{&log, true},
                                          [&](int&) -> asio::awaitable<void> {
                                              log.push_back("body");
                                              co_return;
                                          })),
                 std::runtime_error);
    EXPECT_EQ(log, (log_t{"enter"}));
}

TEST(AsyncWith, BodyExceptionReachesExitAndIsRethrownUnchanged) {
    log_t log;
    std::exception_ptr thrown;
    try {
        run(holdfast::async_with(logging_manager{&log}, [&](int&) -> asio::awaitable<void> {
            co_await yield_once();
            try {
                throw std::out_of_range("body failed");
            } catch (...) {
                thrown = std::current_exception();
                throw;
            }
        }));
        FAIL();
    } catch (const std::out_of_range&) {
        EXPECT_EQ(std::current_exception(), thrown) << "the identical exception object";
    }
    EXPECT_EQ(log, (log_t{"enter", "exit:body failed"}));
}

TEST(AsyncWith, ExitExceptionReplacesBodyException) {
    log_t log;
    logging_manager cm{&log};
    cm.fail_exit = true;
    EXPECT_THROW(run(holdfast::async_with(cm,
                                          [](int&) -> asio::awaitable<void> {
                                              throw std::out_of_range("body");
                                              co_return;
                                          })),
                 std::logic_error);
}

TEST(AsyncWith, SuppressingExitYieldsEmptyOptional) {
    log_t log;
    auto r = run(holdfast::async_with(suppressing_manager{&log}, []() -> asio::awaitable<int> {
        throw std::runtime_error("swallowed");
        co_return 1;
    }));
    EXPECT_FALSE(r.has_value());
    EXPECT_EQ(log, (log_t{"exit:swallowed"}));
}

TEST(AsyncWith, SuppressingManagerReportsCompletionForVoidBody) {
    log_t log;
    EXPECT_TRUE(run(holdfast::async_with(suppressing_manager{&log},
                                         []() -> asio::awaitable<void> { co_return; })));
}

TEST(AsyncWith, ValueEnteredByTheManagerReachesTheBody) {
    auto r = run(holdfast::async_with(
        value_manager{},
        [](std::string& s) -> asio::awaitable<std::string> { co_return s + "!"; }));
    EXPECT_EQ(r, "entered!");
}

TEST(AsyncWith, CancelledBodyStillRunsItsAwaitingExitAndTheExitSeesTheCancellation) {
    log_t log;
    asio::io_context io;
    asio::cancellation_signal cancel;
    std::exception_ptr outcome;
    asio::co_spawn(
        io,
        holdfast::async_with(logging_manager{&log},
                             [&](int&) -> asio::awaitable<void> {
                                 log.push_back("body waiting");
                                 co_await wait_forever();
                             }),
        asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { outcome = e; }));
    // Cancel once the body is waiting.
    io.run_one();  // start
    while (log.size() < 2) io.run_one();
    cancel.emit(asio::cancellation_type::terminal);
    io.run();
    EXPECT_EQ(log, (log_t{"enter", "body waiting", "exit:cancelled"}));
    EXPECT_TRUE(holdfast::is_cancellation(outcome));
}

TEST(AsyncWith, TimeoutByOrOperatorStillRunsTheExit) {
    using namespace asio::experimental::awaitable_operators;
    log_t log;
    auto timeout = []() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
        co_await timer.async_wait(asio::use_awaitable);
    };
    auto guarded = holdfast::async_with(
        logging_manager{&log}, [](int&) -> asio::awaitable<void> { co_await wait_forever(); });
    auto winner = run([&]() -> asio::awaitable<std::size_t> {
        auto result = co_await (std::move(guarded) || timeout());
        co_return result.index();
    }());
    EXPECT_EQ(winner, 1U) << "the timeout won";
    EXPECT_EQ(log, (log_t{"enter", "exit:cancelled"}));
}

TEST(AsyncWith, CancellationDuringTheExitDoesNotInterruptIt) {
    log_t log;
    asio::io_context io;
    asio::cancellation_signal cancel;
    std::exception_ptr outcome;
    struct slow_exit_manager {
        log_t* log;
        asio::cancellation_signal* cancel;
        asio::awaitable<void> async_enter() { co_return; }
        asio::awaitable<void> async_exit(std::exception_ptr) {
            log->push_back("exit started");
            auto executor = co_await asio::this_coro::executor;
            // Arrives while the exit's timer wait below is in progress.
            asio::post(executor, [c = cancel] { c->emit(asio::cancellation_type::terminal); });
            asio::steady_timer timer(executor, 5ms);
            co_await timer.async_wait(asio::use_awaitable);  // would throw if not shielded
            log->push_back("exit finished");
        }
    };
    asio::co_spawn(
        io,
        holdfast::async_with(slow_exit_manager{&log, &cancel},
                             []() -> asio::awaitable<void> { co_return; }),
        asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { outcome = e; }));
    io.run();
    EXPECT_EQ(log, (log_t{"exit started", "exit finished"}));
    EXPECT_EQ(outcome, nullptr) << "the body completed and nothing awaited after the exit";
}

TEST(AsyncWith, PendingCancellationIsSeenByTheCallerAfterTheExit) {
    log_t log;
    asio::io_context io;
    asio::cancellation_signal cancel;
    std::exception_ptr outcome;
    auto caller = [&]() -> asio::awaitable<void> {
        try {
            co_await holdfast::async_with(logging_manager{&log},
                                          [&](int&) -> asio::awaitable<void> {
                                              log.push_back("body waiting");
                                              co_await wait_forever();
                                          });
        } catch (...) {
            log.push_back("caller caught:" + describe(std::current_exception()));
        }
        co_await yield_once();  // still cancelled: Asio's sticky cancellation
        log.push_back("not reached");
    };
    asio::co_spawn(
        io, caller(),
        asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { outcome = e; }));
    while (log.size() < 2) io.run_one();
    cancel.emit(asio::cancellation_type::terminal);
    io.run();
    EXPECT_EQ(log, (log_t{"enter", "body waiting", "exit:cancelled", "caller caught:cancelled"}));
    EXPECT_TRUE(holdfast::is_cancellation(outcome));
}

TEST(AsyncWith, ExitThatThrowsAfterACancellationReplacesItAndTheCancellationStaysPending) {
    log_t log;
    asio::io_context io;
    asio::cancellation_signal cancel;
    std::exception_ptr outcome;
    auto caller = [&]() -> asio::awaitable<void> {
        logging_manager cm{&log};
        cm.fail_exit = true;
        try {
            co_await holdfast::async_with(cm, [&](int&) -> asio::awaitable<void> {
                log.push_back("body waiting");
                co_await wait_forever();
            });
        } catch (...) {
            log.push_back("caller caught:" + describe(std::current_exception()));
        }
        co_await yield_once();  // the cancellation is still the caller's
        log.push_back("not reached");
    };
    asio::co_spawn(
        io, caller(),
        asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { outcome = e; }));
    while (log.size() < 2) io.run_one();
    cancel.emit(asio::cancellation_type::terminal);
    io.run();
    // The exit awaited, saw the cancellation, and its exception replaced it.
    EXPECT_EQ(log, (log_t{"enter", "body waiting", "exit:cancelled", "caller caught:exit failed"}));
    EXPECT_TRUE(holdfast::is_cancellation(outcome));
}

TEST(AsyncWith, ExitThatThrowsWhileACancellationArrivesPropagatesItsOwnException) {
    log_t log;
    asio::io_context io;
    asio::cancellation_signal cancel;
    std::exception_ptr outcome;
    struct failing_slow_exit_manager {
        log_t* log;
        asio::cancellation_signal* cancel;
        asio::awaitable<void> async_enter() { co_return; }
        asio::awaitable<void> async_exit(std::exception_ptr e) {
            log->push_back("exit started:" + describe(e));
            auto executor = co_await asio::this_coro::executor;
            asio::post(executor, [c = cancel] { c->emit(asio::cancellation_type::terminal); });
            asio::steady_timer timer(executor, 5ms);
            co_await timer.async_wait(asio::use_awaitable);  // not interrupted
            log->push_back("exit finished");
            throw std::logic_error("commit failed");
        }
    };
    asio::co_spawn(
        io,
        holdfast::async_with(failing_slow_exit_manager{&log, &cancel},
                             []() -> asio::awaitable<void> { co_return; }),
        asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { outcome = e; }));
    io.run();
    EXPECT_EQ(log, (log_t{"exit started:none", "exit finished"}));
    EXPECT_EQ(describe(outcome), "commit failed");
}

TEST(AsyncWith, IsCancellationDistinguishesCancellationFromFailure) {
    EXPECT_FALSE(holdfast::is_cancellation(nullptr));
    EXPECT_FALSE(holdfast::is_cancellation(std::make_exception_ptr(std::runtime_error("x"))));
    EXPECT_TRUE(holdfast::is_cancellation(
        std::make_exception_ptr(std::system_error(asio::error::operation_aborted))));
    // What a cancelled holdfast::pool async_acquire delivers.
    EXPECT_TRUE(holdfast::is_cancellation(std::make_exception_ptr(
        std::system_error(std::make_error_code(std::errc::operation_canceled)))));
    EXPECT_FALSE(holdfast::is_cancellation(
        std::make_exception_ptr(std::system_error(std::make_error_code(std::errc::timed_out)))));
}

}  // namespace
