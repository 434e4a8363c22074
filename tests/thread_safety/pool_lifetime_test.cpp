// The pool's shared state outlives every release that has started, whatever the interleaving
// with the pool object's destruction. Before the state counted releases still running after
// the mutex (pool_state::finishing_), these failed under ASan with a heap-use-after-free in
// the release path (destroying retired resources, lazy maintenance) and async_close()
// completed before the last resource was destroyed.
#include <atomic>
#include <barrier>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "../unit/pool/fake_resource.hpp"
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <gtest/gtest.h>

#include <holdfast/pool/pool.hpp>

namespace {

using holdfast::pool;
using holdfast::pool_options;
using holdfast::testing::fake_connection;
using holdfast::testing::fake_factory;
using holdfast::testing::fake_world;
using namespace std::chrono_literals;

using fake_pool = pool<fake_connection>;

constexpr int threads = 4;
constexpr int leases_per_thread = 2;

// Rounds of: leases out on several threads; the pool object destroyed while they all return
// at once. `make` builds the pool; every resource must be destroyed exactly once.
template <class MakePool>
void destroy_while_returning(MakePool make, int rounds) {
    for (int round = 0; round < rounds; ++round) {
        auto world = std::make_shared<fake_world>();
        auto p = std::make_unique<fake_pool>(make(world));
        std::vector<std::vector<fake_pool::lease>> held(threads);
        for (auto& mine : held) {
            for (int i = 0; i < leases_per_thread; ++i) mine.push_back(p->acquire());
        }
        std::barrier start(threads + 1);
        std::vector<std::jthread> returners;
        for (auto& mine : held) {
            returners.emplace_back([&start, &mine] {
                start.arrive_and_wait();
                // Discarding half of them retires resources on the release path, which then
                // destroys them after the mutex; the other half go back to the (closed) pool.
                for (std::size_t i = 0; i < mine.size(); ++i) {
                    if (i % 2 == 0) {
                        mine[i].discard();
                    } else {
                        mine[i].return_to_pool();
                    }
                }
            });
        }
        start.arrive_and_wait();
        p.reset();
        returners.clear();
        ASSERT_EQ(world->alive(), 0) << "round " << round;
        for (int id = 1; id <= world->created; ++id) {
            ASSERT_EQ(world->destructions_of(id), 1) << "resource " << id << ", round " << round;
        }
    }
}

pool_options options_for(std::size_t size) {
    pool_options o;
    o.name = "lifetime";
    o.max_size = size;
    o.acquire_timeout = 5s;
    return o;
}

TEST(PoolLifetime, LeasesReturnedFromManyThreadsWhileThePoolIsDestroyed) {
    destroy_while_returning(
        [](std::shared_ptr<fake_world> world) {
            return fake_pool(fake_factory(world), options_for(threads * leases_per_thread));
        },
        400);
}

TEST(PoolLifetime, LeasesWithAResetHookReturnedWhileThePoolIsDestroyed) {
    destroy_while_returning(
        [](std::shared_ptr<fake_world> world) {
            return fake_pool(fake_factory(world), options_for(threads * leases_per_thread),
                             holdfast::testing::fake_hooks());
        },
        400);
}

TEST(PoolLifetime, LeasesReturnedWhileThePoolIsDestroyedWithLazyMaintenanceDue) {
    // A zero maintenance interval makes every locked release run the lazy pass after the
    // mutex: the state must still be there for it.
    destroy_while_returning(
        [](std::shared_ptr<fake_world> world) {
            auto o = options_for(threads * leases_per_thread);
            o.maintenance_interval = 0ns;
            o.idle_timeout = 1ns;
            return fake_pool(fake_factory(world), o);
        },
        400);
}

TEST(PoolLifetime, LeasesOfAPoolWithAnExecutorReturnedWhileItIsDestroyed) {
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::jthread runner([&io] { io.run(); });
    destroy_while_returning(
        [&io](std::shared_ptr<fake_world> world) {
            return fake_pool(io.get_executor(), fake_factory(world),
                             options_for(threads * leases_per_thread));
        },
        200);
    work.reset();
}

// A resource whose destruction takes a while: the window in which a release is still
// destroying after the mutex is wide open.
struct slow_to_close {
    explicit slow_to_close(std::shared_ptr<std::atomic<int>> alive) : alive_(std::move(alive)) {
        ++*alive_;
    }
    slow_to_close(slow_to_close&& other) noexcept : alive_(std::move(other.alive_)) {}
    ~slow_to_close() {
        if (!alive_) return;
        std::this_thread::sleep_for(20ms);
        --*alive_;
    }
    std::shared_ptr<std::atomic<int>> alive_;
};

TEST(PoolLifetime, AsyncCloseCompletesAfterTheLastResourceIsDestroyed) {
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::jthread runner([&io] { io.run(); });
    for (int round = 0; round < 20; ++round) {
        auto alive = std::make_shared<std::atomic<int>>(0);
        auto p = std::make_unique<pool<slow_to_close>>(
            io.get_executor(), [alive] { return slow_to_close(alive); }, options_for(2));
        std::optional<pool<slow_to_close>::lease> out(p->acquire());
        auto closed = p->async_close(asio::use_future);
        std::jthread returner([&out] { out.reset(); });
        closed.get();
        // Drained means destroyed: nothing of the pool is left, so the object can go now.
        EXPECT_EQ(*alive, 0) << "round " << round;
        p.reset();
        returner.join();
    }
    work.reset();
}

TEST(PoolLifetime, PoolDestroyedInsideItsOwnResetHook) {
    auto world = std::make_shared<fake_world>();
    std::unique_ptr<fake_pool> p;
    holdfast::pool_hooks<fake_connection> hooks;
    hooks.reset = [&p](fake_connection&) {
        p.reset();  // the pool object goes while its state is returning this resource
        return true;
    };
    p = std::make_unique<fake_pool>(fake_factory(world), options_for(2), hooks);
    { auto l = p->acquire(); }
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(world->alive(), 0);
}

TEST(PoolLifetime, BoundsThatCannotHoldAResourceAreRejected) {
    auto world = std::make_shared<fake_world>();
    fake_pool p(fake_factory(world), options_for(2));
    EXPECT_THROW(p.resize(0, 0), std::invalid_argument);
    EXPECT_THROW(p.resize(3, 2), std::invalid_argument);
    // Still usable, with its old bounds.
    auto l = p.acquire();
    EXPECT_EQ(p.stats().max_size, 2u);
}

}  // namespace
