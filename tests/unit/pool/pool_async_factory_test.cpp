// pool<T> with an asynchronous factory (a coroutine run on the pool's executor): a creation
// in progress occupies no thread, its outcome reaches the waiter it was for, and close()
// accounts for creations in flight.
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fake_resource.hpp"
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <holdfast/pool/pool.hpp>
#include <holdfast/pool/pool_errors.hpp>

namespace {

using namespace std::chrono_literals;
using holdfast::pool;
using holdfast::pool_options;
using holdfast::testing::fake_connection;
using holdfast::testing::fake_world;

// Movable, as an asynchronous factory's result must be.
using resource = std::unique_ptr<fake_connection>;
using async_pool = pool<resource>;

class PoolAsyncFactory : public ::testing::Test {
  protected:
    asio::io_context io;
    std::shared_ptr<fake_world> world = std::make_shared<fake_world>();
    std::chrono::milliseconds connect_time = 100ms;

    // Waits connect_time on a timer (a stand-in for a non-blocking connect), then yields a
    // resource or throws what the world injects.
    async_pool::async_factory_type factory() {
        return [this]() -> asio::awaitable<resource> {
            ++world->creation_attempts;
            asio::steady_timer connecting(co_await asio::this_coro::executor, connect_time);
            co_await connecting.async_wait(asio::use_awaitable);
            int left = world->failures_to_inject.load();
            while (left > 0 && !world->failures_to_inject.compare_exchange_weak(left, left - 1)) {
            }
            if (left > 0) throw std::runtime_error("connection refused by the fake server");
            co_return std::make_unique<fake_connection>(world);
        };
    }
    static pool_options options(std::size_t max_size) {
        pool_options o;
        o.name = "async-factory";
        o.max_size = max_size;
        o.acquire_timeout = 5s;
        return o;
    }
    // Runs the context until `done` or the deadline.
    template <class Done>
    void run_until(Done done, std::chrono::seconds limit = 10s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline) io.run_one_for(10ms);
        ASSERT_TRUE(done()) << "not done within " << limit.count() << " s";
    }
};

TEST_F(PoolAsyncFactory, ACreationInProgressLeavesTheExecutorThreadFree) {
    async_pool p(io.get_executor(), factory(), options(1));
    // A ticker shares the only thread: it keeps ticking while the resource is created.
    std::atomic<int> ticks{0};
    bool stop = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer t(co_await asio::this_coro::executor);
            while (!stop) {
                t.expires_after(5ms);
                co_await t.async_wait(asio::use_awaitable);
                ++ticks;
            }
        },
        asio::detached);
    bool acquired = false;
    int ticks_during_creation = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            const int before = ticks;
            auto lease = co_await p.async_acquire(asio::use_awaitable);
            ticks_during_creation = ticks - before;
            acquired = static_cast<bool>(*lease);
            stop = true;
        },
        asio::detached);
    run_until([&] { return acquired && stop; });
    // 100 ms of creation at a 5 ms tick: a blocking factory would have allowed none.
    EXPECT_GE(ticks_during_creation, 5);
    EXPECT_EQ(world->created, 1);
    p.close();
    run_until([&] { return world->destroyed == 1; });
}

TEST_F(PoolAsyncFactory, AFailureReachesTheWaiterItWasForAndTheNextAcquireRetries) {
    async_pool p(io.get_executor(), factory(), options(2));
    world->failures_to_inject = 1;
    std::string first_error;
    bool second = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            try {
                auto lease = co_await p.async_acquire(asio::use_awaitable);
            } catch (const std::runtime_error& e) {
                first_error = e.what();
            }
            auto lease = co_await p.async_acquire(asio::use_awaitable);
            second = static_cast<bool>(*lease);
        },
        asio::detached);
    run_until([&] { return second; });
    EXPECT_EQ(first_error, "connection refused by the fake server");
    const auto stats = p.stats();
    EXPECT_EQ(stats.creation_failures, 1u);
    EXPECT_EQ(stats.created, 1u);
    EXPECT_EQ(stats.in_use, 0u);
    EXPECT_EQ(stats.creating, 0u);
}

TEST_F(PoolAsyncFactory, BlockingAcquiresAreServedByCreationsTheExecutorRuns) {
    async_pool p(io.get_executor(), factory(), options(2));
    std::thread runner([this] {
        auto work = asio::make_work_guard(io);
        io.run_for(5s);
    });
    std::vector<std::thread> users;
    std::atomic<int> served{0};
    for (int i = 0; i < 4; ++i) {
        users.emplace_back([&] {
            auto lease = p.acquire();
            if (*lease) ++served;
            std::this_thread::sleep_for(10ms);
        });
    }
    for (auto& u : users) u.join();
    EXPECT_EQ(served, 4);
    EXPECT_LE(world->created, 2);  // max_size
    p.close();
    io.stop();
    runner.join();
}

TEST_F(PoolAsyncFactory, ManyWaitersNeverExceedMaxSizeOrConcurrentCreations) {
    auto o = options(3);
    o.max_concurrent_creations = 2;
    async_pool p(io.get_executor(), factory(), o);
    int done = 0;
    std::size_t most_creating = 0;
    for (int i = 0; i < 12; ++i) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                auto lease = co_await p.async_acquire(asio::use_awaitable);
                most_creating = std::max(most_creating, p.stats().creating);
                asio::steady_timer hold(co_await asio::this_coro::executor, 5ms);
                co_await hold.async_wait(asio::use_awaitable);
                ++done;
            },
            asio::detached);
    }
    const auto sample = [&] {
        most_creating = std::max(most_creating, p.stats().creating);
        return done == 12;
    };
    run_until(sample);
    EXPECT_LE(most_creating, 2u);
    EXPECT_LE(world->created, 3);
    EXPECT_EQ(p.stats().in_use, 0u);
}

TEST_F(PoolAsyncFactory, CloseWaitsForACreationInFlightAndDestroysWhatItMade) {
    async_pool p(io.get_executor(), factory(), options(1));
    bool acquire_ended = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            try {
                auto lease = co_await p.async_acquire(asio::use_awaitable);
            } catch (const holdfast::pool_closed&) {
            }
            acquire_ended = true;
        },
        asio::detached);
    run_until([&] { return world->creation_attempts == 1; });
    bool closed = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await p.async_close(asio::use_awaitable);
            closed = true;
        },
        asio::detached);
    run_until([&] { return closed && acquire_ended; });
    // The creation finished after the close: its resource was destroyed, not leaked.
    EXPECT_EQ(world->created, world->destroyed);
    EXPECT_EQ(p.stats().size, 0u);
}

TEST_F(PoolAsyncFactory, BackgroundRefillUsesTheAsynchronousFactory) {
    auto o = options(4);
    o.min_size = 2;
    async_pool p(io.get_executor(), factory(), o);
    run_until([&] { return p.stats().idle == 2; });
    EXPECT_EQ(world->created, 2);
    p.close();
    run_until([&] { return world->destroyed == 2; });
}

}  // namespace
