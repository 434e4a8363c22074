// Concurrency stress for pool<T>, meant for ThreadSanitizer: blocking threads and an Asio
// thread hammer a small pool with random discards, validation failures and cancellations,
// while the invariants are checked throughout. HOLDFAST_POOL_STRESS_OPS sets the total number
// of acquire/release cycles (default 1,000,000).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fake_resource.hpp"
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <holdfast/pool/pool.hpp>

namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using holdfast::pool;
using holdfast::pool_options;
using holdfast::testing::fake_connection;
using holdfast::testing::fake_factory;
using holdfast::testing::fake_hooks;
using holdfast::testing::fake_world;

using fake_pool = pool<fake_connection>;

long total_ops() {
    if (const char* text = std::getenv("HOLDFAST_POOL_STRESS_OPS")) return std::atol(text);
    return 1'000'000;
}

// Invariants that must hold in every snapshot.
void check_invariants(const holdfast::pool_stats& s, std::size_t max_size, int threads) {
    ASSERT_LE(s.size, max_size);
    ASSERT_EQ(s.in_use + s.idle + s.creating, s.size);
    ASSERT_LE(s.in_use, static_cast<std::size_t>(threads));
    ASSERT_LE(s.creating, max_size);
}

TEST(PoolStress, BlockingAndAsyncAcquiresKeepTheInvariants) {
    constexpr std::size_t max_size = 3;
    constexpr int blocking_threads = 2;
    constexpr int async_share = 16;  // the Asio thread does 1/16 of the cycles (it is slower)
    const long ops = total_ops();
    const long async_ops = ops / async_share;
    const long per_thread = (ops - async_ops) / blocking_threads;

    auto world = std::make_shared<fake_world>();
    asio::io_context io;
    pool_options o;
    o.name = "stress";
    o.max_size = max_size;
    o.min_size = 1;
    o.validate_after_idle = 0ns;  // validate every time: more interleavings
    o.acquire_timeout = pool_options::wait_forever;
    o.maintenance_interval = 1ms;  // maintenance races with everything else
    o.idle_timeout = 0ns;
    o.max_uses = 50;
    fake_pool p(io.get_executor(), fake_factory(world), o, fake_hooks());

    std::atomic<bool> failed{false};
    std::atomic<long> done_ops{0};
    std::atomic<long> cancellations{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < blocking_threads; ++t) {
        threads.emplace_back([&, t] {
            std::minstd_rand random(static_cast<unsigned>(t + 1));
            for (long i = 0; i < per_thread && !failed; ++i) {
                auto l = p.acquire();
                ++l->uses;
                const auto roll = random() % 100;
                if (roll < 2) {
                    l.discard();
                } else if (roll < 4) {
                    l->broken = true;  // fails validation at its next acquire
                } else if (roll < 5) {
                    l->reset_fails = true;
                }
                if (i % 4096 == 0) {
                    const auto s = p.stats();
                    check_invariants(s, max_size, blocking_threads + 1);
                    if (::testing::Test::HasFatalFailure()) failed = true;
                }
                ++done_ops;
            }
        });
    }

    std::thread io_thread([&] {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                std::minstd_rand random(99);
                for (long i = 0; i < async_ops && !failed; ++i) {
                    if (random() % 8 == 0) {
                        // A deadline that often wins: the wait is cancelled, nothing is lost.
                        asio::steady_timer deadline(io, 0s);
                        auto r = co_await (p.async_acquire(asio::use_awaitable) ||
                                           deadline.async_wait(asio::use_awaitable));
                        if (r.index() == 1) ++cancellations;
                    } else {
                        auto l = co_await p.async_acquire(asio::use_awaitable);
                        ++l->uses;
                        if (random() % 50 == 0) l.discard();
                    }
                    ++done_ops;
                }
                for (auto& t : threads) t.join();
                p.close();  // lets io.run() return
            },
            asio::detached);
        io.run();
    });
    io_thread.join();

    const auto s = p.stats();
    check_invariants(s, max_size, 0);
    EXPECT_EQ(s.in_use, 0u);
    EXPECT_EQ(s.waiting, 0u);
    EXPECT_EQ(s.size, 0u);  // closed: everything destroyed
    EXPECT_EQ(world->alive(), 0);
    EXPECT_EQ(static_cast<std::uint64_t>(world->created.load()), s.created);
    EXPECT_EQ(s.created, s.destroyed);
    EXPECT_GT(s.validation_failures, 0u);
    EXPECT_GT(s.closed_broken, 0u);
    EXPECT_EQ(done_ops.load(), per_thread * blocking_threads + async_ops);
    std::printf(
        "stress: %ld cycles, %llu created, %llu validation failures, %ld cancelled, "
        "%llu cancelled waits\n",
        done_ops.load(), static_cast<unsigned long long>(s.created),
        static_cast<unsigned long long>(s.validation_failures), cancellations.load(),
        static_cast<unsigned long long>(s.cancelled_waits));
}

// The lock-free fast path (idle cells) against a waiter that queues while the resource comes
// back: one resource, two threads, so nearly every acquire races with a release. A release
// that put its resource in a cell the new waiter never saw would leave the waiter asleep
// until its deadline (a pool_timeout here).
TEST(PoolStress, FastReleaseNeverStrandsANewWaiter) {
    const long per_thread = std::max(total_ops() / 10, 1000L);
    auto world = std::make_shared<fake_world>();
    pool_options o;
    o.name = "handoff";
    o.max_size = 1;
    o.min_size = 1;
    o.acquire_timeout = 20s;  // a lost wake-up shows as a timeout
    fake_pool p(fake_factory(world), o);
    std::atomic<bool> failed{false};
    std::atomic<long> uses{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            for (long i = 0; i < per_thread && !failed; ++i) {
                try {
                    auto l = p.acquire();
                    ++l->uses;
                    ++uses;
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "acquire failed: %s\n", e.what());
                    failed = true;
                }
            }
        });
    }
    while (!failed && uses.load() < 2 * per_thread) {
        const auto s = p.stats();
        check_invariants(s, 1, 2);
        if (::testing::Test::HasFatalFailure()) failed = true;
        std::this_thread::yield();
    }
    for (auto& t : threads) t.join();
    ASSERT_FALSE(failed);
    const auto s = p.stats();
    EXPECT_EQ(s.acquired, static_cast<std::uint64_t>(2 * per_thread));
    EXPECT_EQ(s.in_use, 0u);
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.created, 1u);
    EXPECT_EQ(s.timeouts, 0u);
}

// No barging: once a waiter is queued, a resource returned on the fast path goes to it, never
// to an acquire that races with the return.
TEST(PoolStress, FastReleaseGoesToTheQueuedWaiterNotToABarger) {
    auto world = std::make_shared<fake_world>();
    pool_options o;
    o.name = "fifo";
    o.max_size = 1;
    o.min_size = 1;
    o.acquire_timeout = 20s;
    fake_pool p(fake_factory(world), o);
    const int rounds = 300;
    for (int round = 0; round < rounds; ++round) {
        auto held = p.acquire();
        std::atomic<int> order{0};
        int waiter_rank = -1;
        int barger_rank = -1;
        std::thread waiter([&] {
            auto l = p.acquire();
            waiter_rank = order++;
        });
        holdfast::testing::wait_until([&] { return p.stats().waiting == 1; });
        std::atomic<bool> go{false};
        std::thread barger([&] {
            holdfast::testing::wait_until([&] { return go.load(); });
            auto l = p.acquire();
            barger_rank = order++;
        });
        go = true;
        held.return_to_pool();  // races with the barger's acquire
        waiter.join();
        barger.join();
        ASSERT_EQ(waiter_rank, 0) << "round " << round;
        ASSERT_EQ(barger_rank, 1) << "round " << round;
    }
    const auto s = p.stats();
    EXPECT_EQ(s.acquired, static_cast<std::uint64_t>(3 * rounds));
    EXPECT_EQ(s.created, 1u);
}

// expire_all(), resize() and stats() from a third thread while two threads stay on the fast
// path; then the pool object is destroyed while a lease is being returned on another thread.
TEST(PoolStress, AdministrationRacesWithTheFastPath) {
    const long per_thread = std::max(total_ops() / 10, 1000L);
    auto world = std::make_shared<fake_world>();
    pool_options o;
    o.name = "admin";
    o.max_size = 2;
    o.acquire_timeout = 20s;
    auto p = std::make_unique<fake_pool>(fake_factory(world), o);
    std::atomic<bool> failed{false};
    std::atomic<int> running{2};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            for (long i = 0; i < per_thread && !failed; ++i) {
                try {
                    auto l = p->acquire();
                    ++l->uses;
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "acquire failed: %s\n", e.what());
                    failed = true;
                }
            }
            --running;
        });
    }
    for (long i = 0; running.load() > 0 && !failed; ++i) {
        switch (i % 3) {
            case 0:
                p->expire_all();
                break;
            case 1:
                p->resize(0, 1 + static_cast<std::size_t>(i % 2));
                break;
            default: {
                const auto s = p->stats();
                check_invariants(s, 2, 2);
                if (::testing::Test::HasFatalFailure()) failed = true;
            }
        }
        std::this_thread::yield();
    }
    for (auto& t : threads) t.join();
    ASSERT_FALSE(failed);
    p->resize(0, 2);
    const auto s = p->stats();
    EXPECT_EQ(s.in_use, 0u);
    EXPECT_EQ(s.acquired, static_cast<std::uint64_t>(2 * per_thread));
    EXPECT_EQ(static_cast<std::uint64_t>(world->alive()), s.size);

    // The pool object goes away while a lease returns on another thread.
    for (int round = 0; round < 200; ++round) {
        auto q = std::make_unique<fake_pool>(fake_factory(world), o);
        auto l = std::make_unique<fake_pool::lease>(q->acquire());
        { auto warm = q->acquire(); }  // a second one, idle in a cell
        std::atomic<bool> go{false};
        std::thread returner([&] {
            holdfast::testing::wait_until([&] { return go.load(); });
            l.reset();
        });
        go = true;
        q.reset();
        returner.join();
    }
    p.reset();
    EXPECT_EQ(world->alive(), 0);
}

}  // namespace
