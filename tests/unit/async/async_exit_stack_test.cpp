// The behaviours of CPython's test_contextlib_async.py TestAsyncExitStack, ported, plus the
// C++ parts: cancellation, and the destructor that cannot await.
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "async_test_support.hpp"
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <holdfast/async/async_exit_stack.hpp>

namespace async_exit_stack_test {

using log_t = std::vector<std::string>;
using holdfast::testing::describe;
using holdfast::testing::run;
using holdfast::testing::yield_once;

auto async_logging_exit(log_t& log, std::string name, bool suppress = false) {
    return [&log, name = std::move(name), suppress](std::exception_ptr e) -> asio::awaitable<bool> {
        co_await yield_once();
        log.push_back(name + ":" + describe(e));
        co_return suppress;
    };
}

auto async_throwing_exit(log_t& log, std::string name) {
    return [&log, name = std::move(name)](std::exception_ptr e) -> asio::awaitable<void> {
        co_await yield_once();
        log.push_back(name + ":" + describe(e));
        throw std::runtime_error(name);
    };
}

auto sync_logging_exit(log_t& log, std::string name, bool suppress = false) {
    return [&log, name = std::move(name), suppress](std::exception_ptr e) {
        log.push_back(name + ":" + describe(e));
        return suppress;
    };
}

// A connection to a fake host: connecting to "down" fails.
struct host_connection {
    log_t* log;
    std::string host;
    asio::awaitable<std::reference_wrapper<std::string>> async_enter() {
        co_await yield_once();
        if (host == "down") throw std::runtime_error("cannot connect to down");
        log->push_back("connected " + host);
        co_return std::ref(host);
    }
    asio::awaitable<void> async_exit(std::exception_ptr) {
        co_await yield_once();
        log->push_back("closed " + host);
    }
};

TEST(AsyncExitStack, SyncAndAsyncExitsRunInReverseOrderOfRegistration) {
    log_t log;
    run([&]() -> asio::awaitable<void> {
        holdfast::async_exit_stack stack;
        stack.push(sync_logging_exit(log, "sync 1"));
        stack.push_async_exit(async_logging_exit(log, "async 2"));
        stack.callback([&] { log.push_back("callback 3"); });
        stack.push_async_callback(
            [&log](int n) -> asio::awaitable<void> {
                co_await yield_once();
                log.push_back("async callback " + std::to_string(n));
            },
            4);
        EXPECT_FALSE(co_await stack.aclose());
    }());
    EXPECT_EQ(log, (log_t{"async callback 4", "callback 3", "async 2:none", "sync 1:none"}));
}

TEST(AsyncExitStack, AsyncExitSuppressionHidesTheExceptionFromLaterExits) {
    log_t log;
    bool suppressed = run([&]() -> asio::awaitable<bool> {
        holdfast::async_exit_stack stack;
        stack.push(sync_logging_exit(log, "sync later"));
        stack.push_async_exit(async_logging_exit(log, "async suppressor", true));
        co_return co_await stack.aclose(std::make_exception_ptr(std::runtime_error("boom")));
    }());
    EXPECT_TRUE(suppressed);
    EXPECT_EQ(log, (log_t{"async suppressor:boom", "sync later:none"}));
}

TEST(AsyncExitStack, AsyncExitThatThrowsReplacesTheExceptionForTheNextExit) {
    log_t log;
    EXPECT_THROW(run([&]() -> asio::awaitable<void> {
                     holdfast::async_exit_stack stack;
                     stack.push(sync_logging_exit(log, "sync next"));
                     stack.push_async_exit(async_throwing_exit(log, "async thrower"));
                     co_await stack.aclose(std::make_exception_ptr(std::out_of_range("original")));
                 }()),
                 std::runtime_error);
    EXPECT_EQ(log, (log_t{"async thrower:original", "sync next:async thrower"}));
}

TEST(AsyncExitStack, SyncExitSuppressesExceptionRaisedByAnAsyncExit) {
    log_t log;
    bool suppressed = run([&]() -> asio::awaitable<bool> {
        holdfast::async_exit_stack stack;
        stack.push(sync_logging_exit(log, "sync suppressor", true));
        stack.push_async_exit(async_throwing_exit(log, "async thrower"));
        co_return co_await stack.aclose(std::make_exception_ptr(std::out_of_range("original")));
    }());
    EXPECT_TRUE(suppressed);
    EXPECT_EQ(log, (log_t{"async thrower:original", "sync suppressor:async thrower"}));
}

TEST(AsyncExitStack, AllExitsRunWhenSeveralThrowAndTheLastRaisedPropagates) {
    log_t log;
    try {
        run([&]() -> asio::awaitable<void> {
            holdfast::async_exit_stack stack;
            stack.push_async_exit(async_throwing_exit(log, "first"));
            stack.push([&log](std::exception_ptr e) {
                log.push_back("second:" + describe(e));
                throw std::logic_error("second");
            });
            stack.push_async_exit(async_throwing_exit(log, "third"));
            co_await stack.aclose();
        }());
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "first");
    }
    EXPECT_EQ(log, (log_t{"third:none", "second:third", "first:second"}));
}

TEST(AsyncExitStack, EnterAsyncContextFailureRegistersNothing) {
    log_t log;
    run([&]() -> asio::awaitable<void> {
        holdfast::async_exit_stack stack;
        host_connection a{&log, "a"};  // named: see docs/async.md on g++ 12 and temporaries
        co_await stack.enter_async_context(std::move(a));
        try {
            host_connection down{&log, "down"};
            co_await stack.enter_async_context(std::move(down));
            ADD_FAILURE() << "connecting to down should fail";
        } catch (const std::runtime_error&) {
        }
        EXPECT_EQ(stack.size(), 1U);
        co_await stack.aclose();
    }());
    EXPECT_EQ(log, (log_t{"connected a", "closed a"}));
}

struct value_manager {
    asio::awaitable<std::string> async_enter() { co_return "kept"; }
    asio::awaitable<void> async_exit(std::exception_ptr) { co_return; }
};

TEST(AsyncExitStack, EnteredValueIsKeptByTheStack) {
    run([&]() -> asio::awaitable<void> {
        holdfast::async_exit_stack stack;
        std::string& kept = co_await stack.enter_async_context(value_manager{});
        log_t ignored;
        for (int i = 0; i < 50; ++i) stack.push_async_exit(async_logging_exit(ignored, "x"));
        EXPECT_EQ(kept, "kept");
        co_await stack.aclose();
    }());
}

TEST(AsyncExitStack, ProcessConnectionsClosesTheOnesOpenedWhenALaterConnectFails) {
    // S12: connections = [await stack.enter_async_context(connect(h)) for h in hosts]
    log_t log;
    auto process =
        [&](std::vector<std::string> hosts) -> asio::awaitable<std::vector<std::string>> {
        std::vector<std::string> results;
        co_await holdfast::async_with(
            holdfast::async_exit_stack{},
            [&](holdfast::async_exit_stack& stack) -> asio::awaitable<void> {
                std::vector<std::string*> connections;
                for (auto& host : hosts) {
                    host_connection connection{&log, host};  // named: see docs/async.md
                    std::string& c = co_await stack.enter_async_context(std::move(connection));
                    connections.push_back(&c);
                }
                for (auto* c : connections) results.push_back("data from " + *c);
            });
        co_return results;
    };
    auto results = run(process({"a", "b"}));
    EXPECT_EQ(results, (std::vector<std::string>{"data from a", "data from b"}));
    EXPECT_EQ(log, (log_t{"connected a", "connected b", "closed b", "closed a"}));

    log.clear();
    EXPECT_THROW(run(process({"a", "b", "down"})), std::runtime_error);
    EXPECT_EQ(log, (log_t{"connected a", "connected b", "closed b", "closed a"}));
}

TEST(AsyncExitStack, PopAllTransfersEveryExit) {
    log_t log;
    run([&]() -> asio::awaitable<void> {
        std::optional<holdfast::async_exit_stack> moved;
        {
            holdfast::async_exit_stack stack;
            stack.push_async_exit(async_logging_exit(log, "async"));
            stack.callback([&] { log.push_back("sync"); });
            moved.emplace(stack.pop_all());
            EXPECT_TRUE(stack.empty());
        }
        EXPECT_TRUE(log.empty()) << "the emptied source ran nothing";
        co_await moved->aclose();
    }());
    EXPECT_EQ(log, (log_t{"sync", "async:none"}));
}

TEST(AsyncExitStack, AcloseIsIdempotent) {
    log_t log;
    run([&]() -> asio::awaitable<void> {
        holdfast::async_exit_stack stack;
        stack.push_async_exit(async_logging_exit(log, "once"));
        EXPECT_FALSE(co_await stack.aclose());
        EXPECT_FALSE(co_await stack.aclose());
    }());
    EXPECT_EQ(log, (log_t{"once:none"}));
}

TEST(AsyncExitStack, DestructorRunsSyncExitsAndReportsEveryAsyncExitItCouldNotRun) {
    log_t log;
    std::vector<std::string> reports;
    auto previous =
        holdfast::set_cleanup_error_handler([&](std::exception_ptr e, std::string_view where) {
            reports.push_back(std::string(where) + ": " + describe(e));
        });
    {
        holdfast::async_exit_stack stack;
        stack.callback([&] { log.push_back("sync 1"); });
        stack.push_async_exit(async_logging_exit(log, "async 2"));
        stack.callback([&] { log.push_back("sync 3"); });
        stack.push_async_exit(async_logging_exit(log, "async 4"));
    }
    holdfast::set_cleanup_error_handler(previous);
    EXPECT_EQ(log, (log_t{"sync 3", "sync 1"}));
    ASSERT_EQ(reports.size(), 2U);
    EXPECT_NE(reports[0].find("did not run"), std::string::npos) << reports[0];
}

TEST(AsyncExitStack, CancelledBodyInsideAsyncWithStillRunsEveryAsyncExit) {
    log_t log;
    asio::io_context io;
    asio::cancellation_signal cancel;
    std::exception_ptr outcome;
    auto work = holdfast::async_with(
        holdfast::async_exit_stack{},
        [&](holdfast::async_exit_stack& stack) -> asio::awaitable<void> {
            host_connection a{&log, "a"};  // named: see docs/async.md
            host_connection b{&log, "b"};
            co_await stack.enter_async_context(std::move(a));
            co_await stack.enter_async_context(std::move(b));
            log.push_back("waiting");
            asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(1));
            co_await forever.async_wait(asio::use_awaitable);
        });
    asio::co_spawn(io, std::move(work),
                   asio::bind_cancellation_slot(cancel.slot(),
                                                [&](std::exception_ptr e, bool) { outcome = e; }));
    while (log.size() < 3) io.run_one();
    cancel.emit(asio::cancellation_type::terminal);
    io.run();
    EXPECT_EQ(log, (log_t{"connected a", "connected b", "waiting", "closed b", "closed a"}));
    EXPECT_TRUE(holdfast::is_cancellation(outcome));
}

TEST(AsyncExitStack, AsyncExitThatThrowsDuringACancellationStillLetsEveryExitRun) {
    log_t log;
    asio::io_context io;
    asio::cancellation_signal cancel;
    std::exception_ptr outcome;
    auto work = holdfast::async_with(
        holdfast::async_exit_stack{},
        [&](holdfast::async_exit_stack& stack) -> asio::awaitable<void> {
            host_connection a{&log, "a"};  // named: see docs/async.md
            co_await stack.enter_async_context(std::move(a));
            stack.push(sync_logging_exit(log, "sync"));
            stack.push_async_exit(async_throwing_exit(log, "rollback"));
            stack.push_async_exit(async_logging_exit(log, "newest"));
            log.push_back("waiting");
            asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(1));
            co_await forever.async_wait(asio::use_awaitable);
        });
    asio::co_spawn(io, std::move(work),
                   asio::bind_cancellation_slot(cancel.slot(),
                                                [&](std::exception_ptr e, bool) { outcome = e; }));
    while (log.size() < 2) io.run_one();
    cancel.emit(asio::cancellation_type::terminal);
    io.run();
    // Every exit ran to completion after the cancellation; the one that threw made its
    // exception current for the older ones, and it is what propagates.
    EXPECT_EQ(log, (log_t{"connected a", "waiting", "newest:cancelled", "rollback:cancelled",
                          "sync:rollback", "closed a"}));
    EXPECT_EQ(describe(outcome), "rollback");
}

}  // namespace async_exit_stack_test
