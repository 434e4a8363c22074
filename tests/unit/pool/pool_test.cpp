// pool<T> with blocking acquire: every rule of DESIGN §7 that does not need an executor,
// failure paths first. Time is a manual_clock: nothing here sleeps (except the spike test's
// fake factory, which stands for a 150 ms connect).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "fake_resource.hpp"
#include <gtest/gtest.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/with.hpp>
#include <holdfast/pool/pool.hpp>
#include <holdfast/pool/pool_errors.hpp>

namespace {

using namespace std::chrono_literals;
using holdfast::manual_clock;
using holdfast::pool;
using holdfast::pool_options;
using holdfast::testing::fake_connection;
using holdfast::testing::fake_factory;
using holdfast::testing::fake_hooks;
using holdfast::testing::fake_world;
using holdfast::testing::wait_until;

using fake_pool = pool<fake_connection>;

static_assert(!std::is_copy_constructible_v<fake_pool::lease>);
static_assert(std::is_nothrow_move_constructible_v<fake_pool::lease>);
static_assert(std::is_nothrow_move_assignable_v<fake_pool::lease>);
static_assert(std::is_same_v<fake_pool::lease, holdfast::lease<fake_connection>>);
static_assert(holdfast::context_manager<fake_pool>);
static_assert(holdfast::context_manager<fake_pool::lease>);
static_assert(!holdfast::suppressing_context_manager<fake_pool::lease>);

// Common setup: a manual clock, a world of counters, and options naming the pool.
class PoolTest : public ::testing::Test {
  protected:
    std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
    std::shared_ptr<fake_world> world = std::make_shared<fake_world>();

    pool_options options(std::size_t max_size = 2) const {
        pool_options o;
        o.name = "test-pool";
        o.max_size = max_size;
        o.clock = clock;
        o.max_lifetime = 0ns;
        o.idle_timeout = 0ns;
        return o;
    }

    // Collects what the cleanup error handler receives during a test.
    std::vector<std::string> cleanup_errors;
    std::mutex cleanup_errors_mutex;
    void SetUp() override {
        holdfast::set_cleanup_error_handler([this](std::exception_ptr e, std::string_view) {
            std::lock_guard lock(cleanup_errors_mutex);
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                cleanup_errors.emplace_back(ex.what());
            }
        });
    }
    void TearDown() override { holdfast::set_cleanup_error_handler(nullptr); }
};

// Runs acquire() in a thread; exposes what it got.
struct blocking_acquirer {
    std::optional<fake_pool::lease> lease;
    std::exception_ptr error;
    std::thread thread;

    explicit blocking_acquirer(fake_pool& p) {
        thread = std::thread([this, &p] {
            try {
                lease.emplace(p.acquire());
            } catch (...) {
                error = std::current_exception();
            }
        });
    }
    void join() { thread.join(); }
    std::string what() const {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            return e.what();
        }
    }
};

// ---- failure paths -----------------------------------------------------------------------

TEST_F(PoolTest, TimeoutErrorNamesPoolSizeWaitersWaitAndLastCreationError) {
    auto o = options(1);
    o.acquire_timeout = 5s;
    fake_pool p(fake_factory(world), o);
    world->failures_to_inject = 1;
    EXPECT_THROW((void)p.acquire(), std::runtime_error);  // records the last creation error
    auto held = p.acquire();

    blocking_acquirer waiter(p);
    wait_until([&] { return p.stats().waiting == 1; });
    clock->advance(5s);
    p.run_maintenance();
    waiter.join();

    ASSERT_TRUE(waiter.error);
    EXPECT_THROW(std::rethrow_exception(waiter.error), holdfast::pool_timeout);
    const std::string text = waiter.what();
    EXPECT_NE(text.find("pool 'test-pool'"), std::string::npos) << text;
    EXPECT_NE(text.find("no resource within 5000 ms"), std::string::npos) << text;
    EXPECT_NE(text.find("size 1 of max 1"), std::string::npos) << text;
    EXPECT_NE(text.find("1 in use"), std::string::npos) << text;
    EXPECT_NE(text.find("0 other waiters"), std::string::npos) << text;
    EXPECT_NE(text.find("last creation error: connection refused"), std::string::npos) << text;
    try {
        std::rethrow_exception(waiter.error);
    } catch (const holdfast::pool_timeout& e) {
        EXPECT_EQ(e.waited(), 5s);
        EXPECT_EQ(e.pool_size(), 1u);
        EXPECT_TRUE(e.last_creation_error());
    }
    EXPECT_EQ(p.stats().timeouts, 1u);
    EXPECT_EQ(p.stats().waiting, 0u);
}

TEST_F(PoolTest, ZeroTimeoutOnARealClockFailsAtOnceWhenExhausted) {
    auto o = options(1);
    o.clock = nullptr;  // the real (coarse steady) clock
    o.acquire_timeout = 0ns;
    fake_pool p(fake_factory(world), o);
    auto held = p.acquire();
    EXPECT_THROW((void)p.acquire(), holdfast::pool_timeout);
    EXPECT_EQ(p.stats().timeouts, 1u);
    EXPECT_EQ(p.stats().waiting, 0u);
}

TEST_F(PoolTest, FactoryFailureIsDeliveredToTheWaiterThatNeededIt) {
    fake_pool p(fake_factory(world), options(2));
    world->failures_to_inject = 1;
    try {
        (void)p.acquire();
        FAIL() << "expected the factory's exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "connection refused");  // the factory's own exception
    }
    const auto s = p.stats();
    EXPECT_EQ(s.creation_failures, 1u);
    EXPECT_EQ(s.size, 0u);
    EXPECT_EQ(s.waiting, 0u);
    // Not retried forever: the next acquire tries again, and succeeds.
    auto l = p.acquire();
    EXPECT_EQ(l->id(), 1);
}

TEST_F(PoolTest, FactoryFailureWhileOthersWaitFailsTheOldestWaiterOnly) {
    fake_pool p(fake_factory(world), options(2));
    auto held = p.acquire();  // size 1 of 2: the next waiter triggers a creation
    world->failures_to_inject = 1;
    auto error = [&] {
        try {
            (void)p.acquire();
        } catch (...) {
            return std::current_exception();
        }
        return std::exception_ptr{};
    }();
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), std::runtime_error);
    EXPECT_EQ(p.stats().size, 1u);
    EXPECT_EQ(p.stats().in_use, 1u);
}

TEST_F(PoolTest, ACreatorWhoseCreationFailedForAnOlderWaiterStillGetsAResource) {
    auto o = options(2);
    o.max_concurrent_creations = 1;
    fake_pool p(fake_factory(world), o);
    auto held1 = p.acquire();
    auto held2 = p.acquire();
    blocking_acquirer older(p);
    wait_until([&] { return p.stats().waiting == 1; });
    blocking_acquirer younger(p);
    wait_until([&] { return p.stats().waiting == 2; });
    world->failures_to_inject = 1;
    held2.discard();  // room for one creation: the younger waiter runs it, and it fails
    older.join();
    EXPECT_THROW(std::rethrow_exception(older.error), std::runtime_error);  // for the oldest
    younger.join();  // runs a second creation for itself
    ASSERT_TRUE(younger.lease);
    EXPECT_EQ(p.stats().creation_failures, 1u);
    EXPECT_EQ(p.stats().size, 2u);
}

TEST_F(PoolTest, ConstructorWithoutExecutorOpensMinSizeAndPropagatesFactoryFailure) {
    auto o = options(4);
    o.min_size = 2;
    {
        fake_pool p(fake_factory(world), o);
        EXPECT_EQ(p.stats().idle, 2u);
    }
    world->failures_to_inject = 1;
    EXPECT_THROW(fake_pool(fake_factory(world), o), std::runtime_error);
    EXPECT_EQ(world->alive(), 0);
}

TEST_F(PoolTest, InvalidOptionsAreRejected) {
    auto o = options(0);
    EXPECT_THROW(fake_pool(fake_factory(world), o), std::invalid_argument);
    o.max_size = 1;
    o.min_size = 2;
    EXPECT_THROW(fake_pool(fake_factory(world), o), std::invalid_argument);
    EXPECT_THROW(fake_pool(nullptr, options()), std::invalid_argument);
    auto no_creations = options();
    no_creations.max_concurrent_creations = 0;
    EXPECT_THROW(fake_pool(fake_factory(world), no_creations), std::invalid_argument);
    fake_pool p(fake_factory(world), options());
    EXPECT_THROW(p.resize(3, 2), std::invalid_argument);
}

TEST_F(PoolTest, ValidateFailureDestroysTheResourceAndTriesAnother) {
    auto o = options(2);
    o.validate_after_idle = 0ns;
    fake_pool p(fake_factory(world), o, fake_hooks());
    {
        auto a = p.acquire();
        auto b = p.acquire();
        a->broken = true;  // returned last, so first in line (most recently returned first)
    }
    auto l = p.acquire();
    EXPECT_FALSE(l->broken);
    const auto s = p.stats();
    EXPECT_EQ(s.validation_failures, 1u);
    EXPECT_EQ(s.closed_broken, 1u);
    EXPECT_EQ(s.size, 1u);
    EXPECT_EQ(world->destroyed, 1);
}

TEST_F(PoolTest, ValidateThatThrowsCountsAsFailure) {
    auto o = options(1);
    o.validate_after_idle = 0ns;
    auto hooks = fake_hooks();
    int calls = 0;
    hooks.validate = [&](fake_connection&) -> bool {
        if (++calls == 2) throw std::runtime_error("ping failed");
        return true;
    };
    fake_pool p(fake_factory(world), o, hooks);
    { auto first = p.acquire(); }
    auto l = p.acquire();  // the idle one fails validation; a new one is created
    EXPECT_EQ(l->id(), 2);
    EXPECT_EQ(p.stats().validation_failures, 1u);
}

TEST_F(PoolTest, ValidationIsSkippedForResourcesUsedWithinValidateAfterIdle) {
    auto o = options(1);
    o.validate_after_idle = 1s;
    auto hooks = fake_hooks();
    int calls = 0;
    hooks.validate = [&](fake_connection&) {
        ++calls;
        return true;
    };
    fake_pool p(fake_factory(world), o, hooks);
    { auto l = p.acquire(); }  // new: created just now, not validated
    { auto l = p.acquire(); }  // returned just now: not validated
    EXPECT_EQ(calls, 0);
    clock->advance(1s);
    { auto l = p.acquire(); }
    EXPECT_EQ(calls, 1);
}

TEST_F(PoolTest, ResetFailureDestroysTheResource) {
    fake_pool p(fake_factory(world), options(1), fake_hooks());
    {
        auto l = p.acquire();
        l->reset_fails = true;
    }
    auto s = p.stats();
    EXPECT_EQ(s.reset_failures, 1u);
    EXPECT_EQ(s.closed_broken, 1u);
    EXPECT_EQ(s.size, 0u);
    EXPECT_EQ(world->destroyed, 1);
    EXPECT_TRUE(cleanup_errors.empty());
}

TEST_F(PoolTest, ResetThatThrowsDestroysAndReportsToTheCleanupErrorHandler) {
    fake_pool p(fake_factory(world), options(1), fake_hooks());
    {
        auto l = p.acquire();
        l->reset_throws = true;
    }
    EXPECT_EQ(p.stats().reset_failures, 1u);
    EXPECT_EQ(world->destroyed, 1);
    ASSERT_EQ(cleanup_errors.size(), 1u);
    EXPECT_EQ(cleanup_errors[0], "rollback failed");
    auto l = p.acquire();
    EXPECT_EQ(l->id(), 2);  // a fresh one, never the one whose reset failed
}

TEST_F(PoolTest, ResetRunsOnEveryReturn) {
    fake_pool p(fake_factory(world), options(1), fake_hooks());
    {
        auto l = p.acquire();
        l->in_transaction = true;
    }
    auto l = p.acquire();
    EXPECT_EQ(l->id(), 1);
    EXPECT_FALSE(l->in_transaction);
}

TEST_F(PoolTest, DiscardDestroysInsteadOfReturning) {
    fake_pool p(fake_factory(world), options(2));
    auto l = p.acquire();
    l.discard();
    EXPECT_FALSE(l);
    EXPECT_EQ(world->destroyed, 1);
    const auto s = p.stats();
    EXPECT_EQ(s.size, 0u);
    EXPECT_EQ(s.closed_broken, 1u);
    EXPECT_EQ(s.destroyed, 1u);
    l.discard();  // no effect on an empty lease
    EXPECT_EQ(p.stats().destroyed, 1u);
}

TEST_F(PoolTest, DiscardWhileSomeoneWaitsCreatesAReplacementForThem) {
    fake_pool p(fake_factory(world), options(1));
    auto held = p.acquire();
    blocking_acquirer waiter(p);
    wait_until([&] { return p.stats().waiting == 1; });
    held.discard();
    waiter.join();
    ASSERT_TRUE(waiter.lease);
    EXPECT_EQ((*waiter.lease)->id(), 2);
}

TEST_F(PoolTest, MaxUsesRetiresTheResourceOnReturn) {
    auto o = options(1);
    o.max_uses = 2;
    fake_pool p(fake_factory(world), o);
    { auto l = p.acquire(); }
    { auto l = p.acquire(); }
    EXPECT_EQ(world->destroyed, 1);
    EXPECT_EQ(p.stats().closed_max_uses, 1u);
    auto l = p.acquire();
    EXPECT_EQ(l->id(), 2);
}

// ---- FIFO --------------------------------------------------------------------------------

TEST_F(PoolTest, WaitersAreServedInArrivalOrder) {
    fake_pool p(fake_factory(world), options(1));
    auto held = p.acquire();
    std::mutex order_mutex;
    std::vector<int> order;
    std::vector<std::thread> threads;
    for (int i = 0; i < 5; ++i) {
        threads.emplace_back([&, i] {
            auto l = p.acquire();
            std::lock_guard lock(order_mutex);
            order.push_back(i);
        });
        wait_until([&] { return p.stats().waiting == static_cast<std::size_t>(i + 1); });
    }
    held.return_to_pool();
    for (auto& t : threads) t.join();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(world->created, 1);
}

TEST_F(PoolTest, AReturnedResourceGoesToTheOldestWaiterNotToANewcomer) {
    fake_pool p(fake_factory(world), options(1));
    auto held = p.acquire();
    blocking_acquirer waiter(p);
    wait_until([&] { return p.stats().waiting == 1; });
    held.return_to_pool();
    // The resource is the waiter's the moment it comes back: a newcomer finds nothing idle.
    EXPECT_EQ(p.stats().idle, 0u);
    waiter.join();
    ASSERT_TRUE(waiter.lease);
    EXPECT_EQ(p.stats().in_use, 1u);
}

TEST_F(PoolTest, MaxWaitingRejectsAtOnce) {
    auto o = options(1);
    o.max_waiting = 1;
    fake_pool p(fake_factory(world), o);
    auto held = p.acquire();
    blocking_acquirer waiter(p);
    wait_until([&] { return p.stats().waiting == 1; });
    try {
        (void)p.acquire();
        FAIL() << "expected pool_timeout";
    } catch (const holdfast::pool_timeout& e) {
        EXPECT_NE(std::string(e.what()).find("wait queue full (max_waiting 1)"), std::string::npos);
        EXPECT_EQ(e.waited(), 0ns);
    }
    held.return_to_pool();
    waiter.join();
    EXPECT_TRUE(waiter.lease);
}

// ---- close -------------------------------------------------------------------------------

TEST_F(PoolTest, CloseFailsWaitersDestroysIdleAndReturnedLeases) {
    fake_pool p(fake_factory(world), options(2));
    auto a = p.acquire();
    { auto b = p.acquire(); }  // idle
    auto c = p.acquire();
    blocking_acquirer waiter(p);
    wait_until([&] { return p.stats().waiting == 1; });

    p.close();
    waiter.join();
    EXPECT_THROW(std::rethrow_exception(waiter.error), holdfast::pool_closed);
    EXPECT_EQ(world->destroyed, 0);  // both are leased
    a.return_to_pool();
    EXPECT_EQ(world->destroyed, 1);  // destroyed as it comes back
    c.return_to_pool();
    EXPECT_EQ(world->destroyed, 2);
    EXPECT_THROW((void)p.acquire(), holdfast::pool_closed);
    const auto s = p.stats();
    EXPECT_TRUE(s.closed);
    EXPECT_EQ(s.size, 0u);
    EXPECT_EQ(s.closed_pool_closed, 2u);
    p.close();  // idempotent
}

TEST_F(PoolTest, CloseDestroysIdleResourcesAtOnce) {
    auto o = options(3);
    o.min_size = 3;
    fake_pool p(fake_factory(world), o);
    p.close();
    EXPECT_EQ(world->destroyed, 3);
}

TEST_F(PoolTest, LeaseOutlivingThePoolIsSafe) {
    std::optional<fake_pool> p(std::in_place, fake_factory(world), options(2), fake_hooks());
    auto l = p->acquire();
    { auto idle = p->acquire(); }
    p.reset();
    EXPECT_EQ(world->destroyed, 1);  // the idle one
    l->in_transaction = true;
    EXPECT_EQ(l->id(), 1);
    l.return_to_pool();  // reset hook and destruction still work; then the state goes away
    EXPECT_EQ(world->destroyed, 2);
}

TEST_F(PoolTest, MovedPoolKeepsWorking) {
    fake_pool p(fake_factory(world), options(2));
    auto l = p.acquire();
    fake_pool moved(std::move(p));
    l.return_to_pool();
    EXPECT_EQ(moved.stats().idle, 1u);
}

// ---- maintenance -------------------------------------------------------------------------

TEST_F(PoolTest, IdleEvictionNeverTouchesLeasedResources) {
    auto o = options(3);
    o.idle_timeout = 1min;
    fake_pool p(fake_factory(world), o);
    auto leased = p.acquire();
    {
        auto a = p.acquire();
        auto b = p.acquire();
    }
    clock->advance(2min);
    p.run_maintenance();
    auto s = p.stats();
    EXPECT_EQ(s.closed_idle, 2u);
    EXPECT_EQ(s.size, 1u);
    EXPECT_EQ(s.in_use, 1u);
    EXPECT_EQ(leased->id(), 1);  // untouched
    leased.return_to_pool();
    clock->advance(59s);
    p.run_maintenance();
    EXPECT_EQ(p.stats().size, 1u);  // idle for 59 s only
    clock->advance(1s);
    p.run_maintenance();
    EXPECT_EQ(p.stats().size, 0u);
}

TEST_F(PoolTest, IdleEvictionKeepsMinSize) {
    auto o = options(3);
    o.min_size = 1;
    o.idle_timeout = 1min;
    fake_pool p(fake_factory(world), o);
    {
        auto a = p.acquire();
        auto b = p.acquire();
    }
    clock->advance(2min);
    p.run_maintenance();
    EXPECT_EQ(p.stats().size, 1u);
    EXPECT_EQ(p.stats().closed_idle, 1u);
}

TEST_F(PoolTest, LifetimeRetiresIdleResourcesAndLeasedOnesOnlyOnReturn) {
    auto o = options(2);
    o.max_lifetime = 10min;
    o.max_lifetime_jitter = 0;
    fake_pool p(fake_factory(world), o);
    auto leased = p.acquire();
    { auto idle = p.acquire(); }
    clock->advance(10min);
    p.run_maintenance();
    EXPECT_EQ(p.stats().closed_lifetime, 1u);
    EXPECT_EQ(p.stats().in_use, 1u);
    EXPECT_EQ(world->destroyed, 1);
    leased.return_to_pool();
    EXPECT_EQ(p.stats().closed_lifetime, 2u);
    EXPECT_EQ(p.stats().size, 0u);
}

TEST_F(PoolTest, LifetimeHasRandomJitterOfAFewPercent) {
    auto o = options(50);
    o.max_lifetime = 100min;
    o.max_lifetime_jitter = 0.025;
    fake_pool p(fake_factory(world), o);
    {
        std::vector<fake_pool::lease> all;
        for (int i = 0; i < 50; ++i) all.push_back(p.acquire());
    }
    clock->advance(97min);
    p.run_maintenance();
    EXPECT_EQ(p.stats().closed_lifetime, 0u);  // jitter is at most 2.5 %
    clock->advance(2min);
    p.run_maintenance();
    const auto retired_by_99 = p.stats().closed_lifetime;
    EXPECT_GT(retired_by_99, 0u);   // not all at once ...
    EXPECT_LT(retired_by_99, 50u);  // ... and not together
    clock->advance(1min);
    p.run_maintenance();
    EXPECT_EQ(p.stats().closed_lifetime, 50u);
}

TEST_F(PoolTest, MinSizeIsRefilledAfterEvictionWithoutAnExecutor) {
    auto o = options(3);
    o.min_size = 2;
    o.max_lifetime = 10min;
    o.max_lifetime_jitter = 0;
    fake_pool p(fake_factory(world), o);
    clock->advance(10min);
    p.run_maintenance();
    const auto s = p.stats();
    EXPECT_EQ(s.closed_lifetime, 2u);
    EXPECT_EQ(s.idle, 2u);
    EXPECT_EQ(s.created, 4u);
}

TEST_F(PoolTest, MaintenanceRunsLazilyOnReleaseWithoutAnExecutor) {
    auto o = options(3);
    o.idle_timeout = 1min;
    o.maintenance_interval = 30s;
    fake_pool p(fake_factory(world), o);
    auto a = p.acquire();
    { auto b = p.acquire(); }
    clock->advance(2min);
    a.return_to_pool();  // maintenance is due: b (idle 2 min) goes, a (just returned) stays
    EXPECT_EQ(p.stats().closed_idle, 1u);
    EXPECT_EQ(p.stats().idle, 1u);
}

TEST_F(PoolTest, LazyMaintenanceNeverRunsTheFactoryInsideARelease) {
    auto o = options(3);
    o.min_size = 1;
    o.max_lifetime = 10min;
    o.max_lifetime_jitter = 0;
    o.maintenance_interval = 1s;
    fake_pool p(fake_factory(world), o);
    auto l = p.acquire();
    clock->advance(10min);
    l.return_to_pool();  // retired (lifetime); maintenance is due but must not connect here
    EXPECT_EQ(world->creation_attempts, 1);
    EXPECT_EQ(p.stats().size, 0u);
    p.run_maintenance();  // an explicit pass refills min_size
    EXPECT_EQ(world->creation_attempts, 2);
    EXPECT_EQ(p.stats().idle, 1u);
}

TEST_F(PoolTest, ExpireAllRetiresIdleNowAndLeasedOnReturn) {
    fake_pool p(fake_factory(world), options(2));
    auto leased = p.acquire();
    { auto idle = p.acquire(); }
    p.expire_all();
    EXPECT_EQ(world->destroyed, 1);
    EXPECT_EQ(p.stats().in_use, 1u);
    leased.return_to_pool();
    EXPECT_EQ(world->destroyed, 2);
    EXPECT_EQ(p.stats().closed_expired, 2u);
    auto fresh = p.acquire();
    EXPECT_EQ(fresh->id(), 3);
}

TEST_F(PoolTest, ResizeShrinksIdleNowLeasedOnReturnAndGrowsForWaiters) {
    fake_pool p(fake_factory(world), options(3));
    auto a = p.acquire();
    auto b = p.acquire();
    { auto c = p.acquire(); }
    p.resize(0, 1);
    EXPECT_EQ(p.stats().size, 2u);  // the idle one went at once
    a.return_to_pool();
    EXPECT_EQ(p.stats().size, 1u);  // above the new max: destroyed on return
    EXPECT_EQ(p.stats().closed_expired, 2u);

    blocking_acquirer waiter(p);
    wait_until([&] { return p.stats().waiting == 1; });
    p.resize(0, 2);  // room for one more: the waiter gets a new resource
    waiter.join();
    ASSERT_TRUE(waiter.lease);
    EXPECT_EQ(p.stats().size, 2u);
}

TEST_F(PoolTest, LeakIsReportedOnceWithItsAcquisitionSite) {
    auto o = options(2);
    o.leak_threshold = 1min;
    auto hooks = fake_hooks();
    std::vector<holdfast::lease_leak> leaks;
    hooks.on_leak = [&](const holdfast::lease_leak& leak) { leaks.push_back(leak); };
    fake_pool p(fake_factory(world), o, hooks);
    const auto line = std::source_location::current().line() + 1;
    auto l = p.acquire();
    clock->advance(59s);
    p.run_maintenance();
    EXPECT_TRUE(leaks.empty());
    clock->advance(2s);
    p.run_maintenance();
    p.run_maintenance();
    ASSERT_EQ(leaks.size(), 1u);
    EXPECT_EQ(leaks[0].acquired_at.line(), line);
    EXPECT_EQ(leaks[0].held_for, 61s);
    EXPECT_EQ(leaks[0].pool_name, "test-pool");
    EXPECT_EQ(l.acquired_at().line(), line);
    EXPECT_EQ(p.stats().leaks_reported, 1u);
}

TEST_F(PoolTest, LeakGoesToTheCleanupErrorHandlerByDefault) {
    auto o = options(1);
    o.leak_threshold = 1min;
    fake_pool p(fake_factory(world), o);
    auto l = p.acquire();
    clock->advance(2min);
    p.run_maintenance();
    ASSERT_EQ(cleanup_errors.size(), 1u);
    EXPECT_NE(cleanup_errors[0].find("pool 'test-pool': lease held for 120000 ms, acquired at "),
              std::string::npos)
        << cleanup_errors[0];
    EXPECT_NE(cleanup_errors[0].find("pool_test.cpp"), std::string::npos);
}

TEST_F(PoolTest, StatsCountAcquiresAndWaitPercentiles) {
    fake_pool p(fake_factory(world), options(1));
    for (int i = 0; i < 98; ++i) {
        auto l = p.acquire();
    }
    auto held = p.acquire();
    blocking_acquirer waiter(p);
    wait_until([&] { return p.stats().waiting == 1; });
    clock->advance(10ms);
    held.return_to_pool();
    waiter.join();
    const auto s = p.stats();
    EXPECT_EQ(s.acquired, 100u);
    EXPECT_EQ(s.created, 1u);
    EXPECT_EQ(s.acquire_wait_p50, 0ns);
    EXPECT_EQ(s.acquire_wait_max, 10ms);
    EXPECT_GE(s.acquire_wait_p99, 0ns);
    EXPECT_EQ(s.in_use + s.idle + s.creating, s.size);
}

TEST_F(PoolTest, StatsMeasureCreationTime) {
    fake_pool p(
        [&] {
            clock->advance(150ms);  // a slow connect, in fake time
            return fake_connection(world);
        },
        options(2));
    auto a = p.acquire();
    auto b = p.acquire();
    const auto s = p.stats();
    EXPECT_EQ(s.creation_time_max, 150ms);
    EXPECT_GT(s.creation_time_p50, 64ms);  // resolution: a factor of two
    EXPECT_LE(s.creation_time_p50, 150ms);
}

// ---- context managers --------------------------------------------------------------------

TEST_F(PoolTest, LeaseAsContextManagerReturnsOnSuccessAndOnPlainException) {
    fake_pool p(fake_factory(world), options(1), fake_hooks());
    const int id = holdfast::with(p.acquire(), [](fake_connection& c) { return c.id(); });
    EXPECT_EQ(id, 1);
    EXPECT_THROW(holdfast::with(p.acquire(),
                                [](fake_connection& c) {
                                    c.in_transaction = true;
                                    throw std::logic_error("query failed");
                                }),
                 std::logic_error);
    EXPECT_EQ(world->destroyed, 0);  // a failed query does not make the connection bad
    auto l = p.acquire();
    EXPECT_FALSE(l->in_transaction);  // the reset hook cleaned up
}

TEST_F(PoolTest, LeaseAsContextManagerDiscardsOnAFatalError) {
    auto hooks = fake_hooks();
    hooks.is_fatal_error = [](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::system_error&) {
            return true;  // "connection lost"
        } catch (...) {
            return false;
        }
    };
    fake_pool p(fake_factory(world), options(1), hooks);
    EXPECT_THROW(holdfast::with(p.acquire(),
                                [](fake_connection&) {
                                    throw std::system_error(
                                        std::make_error_code(std::errc::connection_reset));
                                }),
                 std::system_error);
    EXPECT_EQ(world->destroyed, 1);
    EXPECT_EQ(p.stats().closed_broken, 1u);
}

TEST_F(PoolTest, PoolAsContextManagerClosesOnExit) {
    auto o = options(2);
    o.min_size = 1;
    fake_pool p(fake_factory(world), o);
    holdfast::with(p, [](fake_pool& entered) { auto l = entered.acquire(); });
    EXPECT_TRUE(p.stats().closed);
    EXPECT_EQ(world->alive(), 0);
}

// ---- creation: never more than needed ----------------------------------------------------

// HikariCP's spike test: 5 idle, 50 simultaneous requests, a 150 ms connect and 2 ms of use
// each. Resources coming back serve the burst long before a new one could connect, so the
// pool must not open one per waiter (~45). Real time, short durations.
TEST(PoolSpike, BurstAgainstIdleResourcesDoesNotOpenOnePerWaiter) {
    auto world = std::make_shared<fake_world>();
    pool_options o;
    o.name = "spike";
    o.min_size = 5;
    o.max_size = 50;
    fake_pool p(fake_factory(world), o);
    world->creation_delay = 150ms;
    std::vector<std::thread> threads;
    std::atomic<bool> go{false};
    for (int i = 0; i < 50; ++i) {
        threads.emplace_back([&] {
            wait_until([&] { return go.load(); });
            auto l = p.acquire();
            std::this_thread::sleep_for(2ms);  // the request's use of the connection
        });
    }
    go = true;
    for (auto& t : threads) t.join();
    const auto s = p.stats();
    std::printf("spike: size %zu after %llu creations\n", s.size,
                static_cast<unsigned long long>(s.created));
    EXPECT_LE(s.size, 10u) << "created " << s.created;
    EXPECT_EQ(s.acquired, 50u);
    EXPECT_EQ(s.in_use, 0u);
}

}  // namespace
