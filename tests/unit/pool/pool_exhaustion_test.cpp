// pool<T> oversubscribed a hundredfold: 400 waiters on 4 resources, blocking threads and Asio
// coroutines. Every waiter is served, in the order it queued (strict FIFO, docs/pool.md), and
// afterwards no lease, resource or descriptor is left. Wait times are printed, never asserted.
#include <holdfast/pool/pool.hpp>
// (header under test first: it must compile on its own)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../support/forked_child.hpp"
#include "fake_resource.hpp"
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <holdfast/pool/pool_errors.hpp>

namespace {

using namespace std::chrono_literals;
using holdfast::pool;
using holdfast::pool_options;
using holdfast::testing::fake_connection;
using holdfast::testing::fake_factory;
using holdfast::testing::fake_hooks;
using holdfast::testing::fake_world;
using fake_pool = pool<fake_connection>;
using steady = std::chrono::steady_clock;

constexpr int waiter_count = 400;
constexpr std::size_t max_size = 4;

pool_options oversubscribed_options() {
    pool_options options;
    options.name = "oversubscribed";
    options.max_size = max_size;
    // Far above any wait this test can see: a waiter that times out was starved.
    options.acquire_timeout = 60s;
    return options;
}

// Spins (yielding) until `condition` holds, for at most 20 s.
template <class Condition>
bool wait_for(Condition condition) {
    const auto deadline = steady::now() + 20s;
    while (!condition()) {
        if (steady::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

// A short hold of a leased resource: some work, no sleeping.
void hold_briefly(fake_connection& c) {
    const auto until = steady::now() + 20us;
    while (steady::now() < until) ++c.uses;
}

void print_waits(const char* what, std::vector<steady::duration> waits) {
    std::sort(waits.begin(), waits.end());
    const auto at = [&](double q) {
        const auto i = std::min(waits.size() - 1,
                                static_cast<std::size_t>(q * static_cast<double>(waits.size())));
        return std::chrono::duration<double, std::micro>(waits[i]).count();
    };
    std::printf("%s: %zu waits, p50 %.0f us, p99 %.0f us, max %.0f us\n", what, waits.size(),
                at(0.50), at(0.99), at(1.0));
}

void print_stats(const char* what, const holdfast::pool_stats& s) {
    using us = std::chrono::duration<double, std::micro>;
    std::printf("%s: pool stats acquire wait p50 %.0f us, p99 %.0f us, max %.0f us\n", what,
                us(s.acquire_wait_p50).count(), us(s.acquire_wait_p99).count(),
                us(s.acquire_wait_max).count());
}

// Nothing leased, nothing queued, within bounds, no timeout; every resource accounted for.
void expect_quiet(const fake_pool& p, const fake_world& world) {
    const auto s = p.stats();
    EXPECT_EQ(s.in_use, 0u);
    EXPECT_EQ(s.waiting, 0u);
    EXPECT_EQ(s.creating, 0u);
    EXPECT_LE(s.size, max_size);
    EXPECT_EQ(s.timeouts, 0u);
    EXPECT_EQ(s.size, static_cast<std::size_t>(world.alive()));
}

// Strict FIFO made observable: the test holds 3 of the 4 resources, so one resource serves the
// 400 waiters one after another, and the order of service is the order of handoff.
TEST(PoolExhaustion, FourHundredBlockingWaitersAreServedInTheOrderTheyQueued) {
    const auto descriptors = holdfast::testing::open_descriptors();
    auto world = std::make_shared<fake_world>();
    {
        fake_pool p(fake_factory(world), oversubscribed_options(), fake_hooks());
        std::vector<fake_pool::lease> held;
        for (std::size_t i = 0; i < max_size; ++i) held.push_back(p.acquire());

        std::mutex order_lock;
        std::vector<int> order;
        std::vector<steady::duration> waits(waiter_count);
        std::atomic<int> failures{0};
        std::vector<std::thread> waiters;
        for (int i = 0; i < waiter_count; ++i) {
            waiters.emplace_back([&, i] {
                const auto start = steady::now();
                try {
                    auto lease = p.acquire();
                    waits[static_cast<std::size_t>(i)] = steady::now() - start;
                    {
                        const std::lock_guard lock(order_lock);
                        order.push_back(i);
                    }
                    hold_briefly(*lease);
                } catch (...) {
                    ++failures;
                }
            });
            // Queued before the next one starts: the queue order is the index order.
            ASSERT_TRUE(wait_for([&] {
                return p.stats().waiting == static_cast<std::size_t>(i) + 1;
            })) << "waiter "
                << i << " never queued";
        }
        held.pop_back();  // one resource starts circulating
        for (auto& t : waiters) t.join();
        EXPECT_EQ(failures, 0);
        ASSERT_EQ(order.size(), static_cast<std::size_t>(waiter_count));
        for (int i = 0; i < waiter_count; ++i) {
            EXPECT_EQ(order[static_cast<std::size_t>(i)], i) << "served out of queue order";
            if (order[static_cast<std::size_t>(i)] != i) break;
        }
        print_waits("blocking, one resource circulating (includes queueing the others)", waits);
        held.clear();
        expect_quiet(p, *world);
        EXPECT_EQ(p.stats().acquired, max_size + waiter_count);
    }
    EXPECT_EQ(world->alive(), 0);
    EXPECT_EQ(holdfast::testing::open_descriptors(), descriptors);
}

// All four resources circulating among 400 threads that arrive together.
TEST(PoolExhaustion, FourHundredConcurrentBlockingWaitersAllComplete) {
    const auto descriptors = holdfast::testing::open_descriptors();
    auto world = std::make_shared<fake_world>();
    {
        fake_pool p(fake_factory(world), oversubscribed_options(), fake_hooks());
        std::vector<steady::duration> waits(waiter_count);
        std::atomic<int> served{0}, failures{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> waiters;
        for (int i = 0; i < waiter_count; ++i) {
            waiters.emplace_back([&, i] {
                while (!go.load()) std::this_thread::yield();
                const auto start = steady::now();
                try {
                    auto lease = p.acquire();
                    waits[static_cast<std::size_t>(i)] = steady::now() - start;
                    hold_briefly(*lease);
                    ++served;
                } catch (...) {
                    ++failures;
                }
            });
        }
        go = true;
        for (auto& t : waiters) t.join();
        EXPECT_EQ(served, waiter_count);
        EXPECT_EQ(failures, 0);
        print_waits("blocking, 400 threads on 4 resources", waits);
        print_stats("blocking", p.stats());
        EXPECT_LE(static_cast<std::size_t>(world->created.load()), max_size)
            << "more resources were created than max_size allows at once";
        expect_quiet(p, *world);
    }
    EXPECT_EQ(world->alive(), 0);
    EXPECT_EQ(holdfast::testing::open_descriptors(), descriptors);
}

// 400 coroutines queue in the order they start on a one-thread io_context; with one resource
// circulating they are served in exactly that order.
TEST(PoolExhaustion, FourHundredCoroutinesAreServedInTheOrderTheyQueued) {
    const auto descriptors = holdfast::testing::open_descriptors();
    auto world = std::make_shared<fake_world>();
    {
        asio::io_context io;
        fake_pool p(io.get_executor(), fake_factory(world), oversubscribed_options(), fake_hooks());
        std::vector<fake_pool::lease> held;
        for (std::size_t i = 0; i < max_size; ++i) held.push_back(p.acquire());
        std::vector<int> order;
        std::vector<steady::duration> waits(waiter_count);
        int failures = 0;
        for (int i = 0; i < waiter_count; ++i) {
            asio::co_spawn(
                io,
                [&, i]() -> asio::awaitable<void> {
                    const auto start = steady::now();
                    auto lease = co_await p.async_acquire(asio::use_awaitable);
                    waits[static_cast<std::size_t>(i)] = steady::now() - start;
                    order.push_back(i);
                    hold_briefly(*lease);
                    // Let others run while the lease is held.
                    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
                },
                [&](std::exception_ptr e) {
                    if (e) ++failures;
                });
        }
        ASSERT_TRUE(wait_for([&] {
            io.poll();
            return p.stats().waiting == static_cast<std::size_t>(waiter_count);
        }));
        held.pop_back();
        ASSERT_TRUE(wait_for([&] {
            io.poll();
            return order.size() == static_cast<std::size_t>(waiter_count);
        }));
        io.poll();
        EXPECT_EQ(failures, 0);
        for (int i = 0; i < waiter_count; ++i) {
            EXPECT_EQ(order[static_cast<std::size_t>(i)], i) << "served out of queue order";
            if (order[static_cast<std::size_t>(i)] != i) break;
        }
        print_waits("async, one resource circulating", waits);
        held.clear();
        expect_quiet(p, *world);
    }
    EXPECT_EQ(world->alive(), 0);
    EXPECT_EQ(holdfast::testing::open_descriptors(), descriptors);
}

// 400 coroutines on a two-thread io_context, 4 resources circulating, each lease held across
// a suspension.
TEST(PoolExhaustion, FourHundredConcurrentCoroutinesAllComplete) {
    auto world = std::make_shared<fake_world>();
    std::vector<steady::duration> waits(waiter_count);
    std::atomic<int> served{0}, failures{0};
    {
        asio::io_context io(2);
        fake_pool p(io.get_executor(), fake_factory(world), oversubscribed_options(), fake_hooks());
        for (int i = 0; i < waiter_count; ++i) {
            asio::co_spawn(
                io,
                [&, i]() -> asio::awaitable<void> {
                    const auto start = steady::now();
                    auto lease = co_await p.async_acquire(asio::use_awaitable);
                    waits[static_cast<std::size_t>(i)] = steady::now() - start;
                    hold_briefly(*lease);
                    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
                    ++served;
                },
                [&](std::exception_ptr e) {
                    if (e) ++failures;
                });
        }
        // Run until every coroutine is done; the pool's maintenance timer keeps io busy, so
        // stop once the work is over.
        std::thread helper([&] {
            wait_for([&] { return served + failures == waiter_count; });
            io.stop();
        });
        std::thread second([&] { io.run(); });
        io.run();
        second.join();
        helper.join();
        EXPECT_EQ(served, waiter_count);
        EXPECT_EQ(failures, 0);
        print_waits("async, 400 coroutines on 4 resources, 2 threads", waits);
        print_stats("async", p.stats());
        expect_quiet(p, *world);
    }
    EXPECT_EQ(world->alive(), 0);
}

}  // namespace
