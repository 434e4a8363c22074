// pool<T>::async_acquire on Asio, and the background maintenance a pool with an executor runs:
// every completion token kind, one FIFO queue shared with blocking waiters, cancellation that
// loses nothing, timeouts, close(), refill with backoff.
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

#include "fake_resource.hpp"
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <gtest/gtest.h>

#include <holdfast/pool/pool.hpp>
#include <holdfast/pool/pool_errors.hpp>

namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using holdfast::manual_clock;
using holdfast::pool;
using holdfast::pool_options;
using holdfast::testing::fake_connection;
using holdfast::testing::fake_factory;
using holdfast::testing::fake_hooks;
using holdfast::testing::fake_world;
using holdfast::testing::wait_until;

using fake_pool = pool<fake_connection>;

// What a callback-style async_acquire received.
struct outcome {
    bool completed = false;
    std::exception_ptr error;
    fake_pool::lease lease;

    auto handler() {
        return [this](std::exception_ptr e, fake_pool::lease l) {
            completed = true;
            error = std::move(e);
            lease = std::move(l);
        };
    }
    bool cancelled() const {
        try {
            if (error) std::rethrow_exception(error);
        } catch (const std::system_error& e) {
            return e.code() == std::errc::operation_canceled;
        } catch (...) {
        }
        return false;
    }
};

class PoolAsyncTest : public ::testing::Test {
  protected:
    asio::io_context io;
    std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
    std::shared_ptr<fake_world> world = std::make_shared<fake_world>();

    pool_options options(std::size_t max_size = 1) const {
        pool_options o;
        o.name = "async-pool";
        o.max_size = max_size;
        o.clock = clock;
        o.max_lifetime = 0ns;
        o.idle_timeout = 0ns;
        return o;
    }
    // The pool's first maintenance pass is posted at construction: run it.
    std::unique_ptr<fake_pool> make_pool(pool_options o) {
        auto p =
            std::make_unique<fake_pool>(io.get_executor(), fake_factory(world), o, fake_hooks());
        io.poll();
        return p;
    }
};

// ---- completion tokens -------------------------------------------------------------------

TEST_F(PoolAsyncTest, UseAwaitableCreatesThenReuses) {
    auto p = make_pool(options(2));
    std::vector<int> ids;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            {
                auto l = co_await p->async_acquire(asio::use_awaitable);
                ids.push_back(l->id());
            }
            auto l = co_await p->async_acquire(asio::use_awaitable);
            ids.push_back(l->id());
        },
        asio::detached);
    io.poll();
    EXPECT_EQ(ids, (std::vector<int>{1, 1}));
    EXPECT_EQ(p->stats().acquired, 2u);
    EXPECT_EQ(p->stats().idle, 1u);
}

TEST_F(PoolAsyncTest, UseFutureDeliversTheLease) {
    auto p = make_pool(options(1));
    std::future<fake_pool::lease> future = p->async_acquire(asio::use_future);
    io.poll();
    io.restart();
    ASSERT_EQ(future.wait_for(0s), std::future_status::ready);  // the io ran it, no waiting
    auto l = future.get();
    EXPECT_EQ(l->id(), 1);
}

TEST_F(PoolAsyncTest, UseFutureDeliversErrorsAsExceptions) {
    auto p = make_pool(options(1));
    world->failures_to_inject = 1;
    auto future = p->async_acquire(asio::use_future);
    io.poll();
    EXPECT_THROW((void)future.get(), std::runtime_error);  // the factory's own exception
}

TEST_F(PoolAsyncTest, PlainCallbackReceivesLeaseAndNullError) {
    auto p = make_pool(options(1));
    outcome got;
    p->async_acquire(got.handler());
    EXPECT_FALSE(got.completed);  // never completes inside the initiating function
    io.poll();
    ASSERT_TRUE(got.completed);
    EXPECT_FALSE(got.error);
    ASSERT_TRUE(got.lease);
    EXPECT_EQ(got.lease->id(), 1);
}

TEST_F(PoolAsyncTest, LeaseRemembersTheAsyncAcquisitionSite) {
    auto p = make_pool(options(1));
    outcome got;
    const auto line = std::source_location::current().line() + 1;
    p->async_acquire(got.handler());
    io.poll();
    ASSERT_TRUE(got.lease);
    EXPECT_EQ(got.lease.acquired_at().line(), line);
}

TEST_F(PoolAsyncTest, AsyncAcquireNeedsAnExecutor) {
    fake_pool p(fake_factory(world), options());
    EXPECT_THROW(p.async_acquire([](std::exception_ptr, fake_pool::lease) {}), std::logic_error);
}

// ---- one FIFO queue ----------------------------------------------------------------------

TEST_F(PoolAsyncTest, AsyncAndBlockingWaitersShareOneFifoQueue) {
    auto p = make_pool(options(1));
    auto held = p->async_acquire(asio::use_future);
    io.poll();
    auto first = held.get();

    std::mutex order_mutex;
    std::vector<std::string> order;
    auto record = [&](std::string who) {
        std::lock_guard lock(order_mutex);
        order.push_back(std::move(who));
    };
    p->async_acquire([&](std::exception_ptr, fake_pool::lease) { record("async 1"); });
    io.poll();
    std::thread blocking([&] {
        auto l = p->acquire();
        record("blocking");
    });
    wait_until([&] { return p->stats().waiting == 2; });
    p->async_acquire([&](std::exception_ptr, fake_pool::lease) { record("async 2"); });
    io.poll();
    ASSERT_EQ(p->stats().waiting, 3u);

    auto guard = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    first.return_to_pool();
    wait_until([&] {
        std::lock_guard lock(order_mutex);
        return order.size() == 3;
    });
    blocking.join();
    p->close();  // stops the maintenance timer, so run() can return
    guard.reset();
    runner.join();
    EXPECT_EQ(order, (std::vector<std::string>{"async 1", "blocking", "async 2"}));
    EXPECT_EQ(world->created, 1);
}

// ---- cancellation ------------------------------------------------------------------------

TEST_F(PoolAsyncTest, CancellationSignalRemovesTheWaiterAndLosesNothing) {
    auto p = make_pool(options(1));
    auto held = p->acquire();
    asio::cancellation_signal signal;
    outcome got;
    p->async_acquire(asio::bind_cancellation_slot(signal.slot(), got.handler()));
    io.poll();
    ASSERT_EQ(p->stats().waiting, 1u);

    signal.emit(asio::cancellation_type::terminal);
    io.poll();
    ASSERT_TRUE(got.completed);
    EXPECT_TRUE(got.cancelled());
    EXPECT_FALSE(got.lease);
    auto s = p->stats();
    EXPECT_EQ(s.waiting, 0u);
    EXPECT_EQ(s.cancelled_waits, 1u);
    EXPECT_EQ(s.in_use, 1u);

    held.return_to_pool();  // nobody waits any more: it goes idle, not to the cancelled waiter
    s = p->stats();
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.size, 1u);
    EXPECT_EQ(s.in_use + s.idle + s.creating, s.size);
}

TEST_F(PoolAsyncTest, CancellationRacingAHandoffDeliversTheResource) {
    auto p = make_pool(options(1));
    auto held = p->acquire();
    asio::cancellation_signal signal;
    outcome got;
    p->async_acquire(asio::bind_cancellation_slot(signal.slot(), got.handler()));
    io.poll();
    held.return_to_pool();  // handed to the waiter; its completion is not run yet
    signal.emit(asio::cancellation_type::terminal);
    io.poll();
    ASSERT_TRUE(got.completed);
    EXPECT_FALSE(got.error);
    ASSERT_TRUE(got.lease);  // delivered, not lost
    got.lease.return_to_pool();
    const auto s = p->stats();
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.cancelled_waits, 0u);
}

TEST_F(PoolAsyncTest, OrTimeoutCancelsTheWaitAndLosesNothing) {
    auto p = make_pool(options(1));
    auto held = p->acquire();
    bool timed_out = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer timeout(io, 0s);  // already due: the deadline wins
            auto result = co_await (p->async_acquire(asio::use_awaitable) ||
                                    timeout.async_wait(asio::use_awaitable));
            timed_out = result.index() == 1;
        },
        asio::detached);
    io.poll();
    EXPECT_TRUE(timed_out);
    auto s = p->stats();
    EXPECT_EQ(s.waiting, 0u);
    EXPECT_EQ(s.cancelled_waits, 1u);
    held.return_to_pool();
    s = p->stats();
    EXPECT_EQ(s.idle, 1u);
    EXPECT_EQ(s.in_use, 0u);
}

TEST_F(PoolAsyncTest, OrTimeoutLetsAnAvailableResourceWin) {
    auto p = make_pool(options(1));
    int id = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer timeout(io, 1h);
            auto result = co_await (p->async_acquire(asio::use_awaitable) ||
                                    timeout.async_wait(asio::use_awaitable));
            if (result.index() == 0) id = std::get<0>(result)->id();
        },
        asio::detached);
    io.poll();
    EXPECT_EQ(id, 1);
    EXPECT_EQ(p->stats().idle, 1u);
}

// ---- timeouts, failures, close -----------------------------------------------------------

TEST_F(PoolAsyncTest, TimeoutOnAManualClockReachesTheCoroutineAsPoolTimeout) {
    auto o = options(1);
    o.acquire_timeout = 2s;
    auto p = make_pool(o);
    auto held = p->acquire();
    std::string error;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            try {
                auto l = co_await p->async_acquire(asio::use_awaitable);
            } catch (const holdfast::pool_timeout& e) {
                error = e.what();
            }
        },
        asio::detached);
    io.poll();
    clock->advance(2s);
    p->run_maintenance();
    io.poll();
    EXPECT_NE(error.find("pool 'async-pool': no resource within 2000 ms"), std::string::npos)
        << error;
    EXPECT_EQ(p->stats().timeouts, 1u);
    EXPECT_EQ(p->stats().waiting, 0u);
}

TEST_F(PoolAsyncTest, TimeoutOnTheRealClockExpiresTheTimer) {
    auto o = options(1);
    o.clock = nullptr;
    o.acquire_timeout = 0ns;  // due at once: no real waiting in the test
    auto p = make_pool(o);
    auto held = p->acquire();
    outcome got;
    p->async_acquire(got.handler());
    io.run_one();  // the timer is already due
    io.poll();
    ASSERT_TRUE(got.completed);
    EXPECT_THROW(std::rethrow_exception(got.error), holdfast::pool_timeout);
    EXPECT_EQ(p->stats().waiting, 0u);
}

TEST_F(PoolAsyncTest, FactoryFailureIsDeliveredToTheAsyncWaiter) {
    auto p = make_pool(options(1));
    world->failures_to_inject = 1;
    outcome got;
    p->async_acquire(got.handler());
    io.poll();
    ASSERT_TRUE(got.completed);
    EXPECT_THROW(std::rethrow_exception(got.error), std::runtime_error);
    EXPECT_EQ(p->stats().size, 0u);
}

TEST_F(PoolAsyncTest, CloseFailsAsyncWaitersWithPoolClosed) {
    auto p = make_pool(options(1));
    auto held = p->acquire();
    outcome got;
    p->async_acquire(got.handler());
    io.poll();
    p->close();
    io.poll();
    ASSERT_TRUE(got.completed);
    EXPECT_THROW(std::rethrow_exception(got.error), holdfast::pool_closed);
    held.return_to_pool();
    EXPECT_EQ(world->alive(), 0);
}

TEST_F(PoolAsyncTest, DestroyingThePoolFailsWaitersAndKeepsLeasesSafe) {
    auto p = make_pool(options(1));
    auto held = p->acquire();
    outcome got;
    p->async_acquire(got.handler());
    io.poll();
    p.reset();
    io.poll();
    EXPECT_THROW(std::rethrow_exception(got.error), holdfast::pool_closed);
    EXPECT_EQ(held->id(), 1);
    held.return_to_pool();
    EXPECT_EQ(world->alive(), 0);
}

TEST_F(PoolAsyncTest, ValidationFailureRetriesWithAnotherResource) {
    auto o = options(2);
    o.validate_after_idle = 0ns;
    auto p = make_pool(o);
    {
        auto l = p->acquire();
        l->broken = true;
    }
    int id = 0;
    p->async_acquire([&](std::exception_ptr, fake_pool::lease l) { id = l->id(); });
    io.poll();
    EXPECT_EQ(id, 2);
    EXPECT_EQ(p->stats().validation_failures, 1u);
}

TEST_F(PoolAsyncTest, OperationDestroyedBeforeCompletingReturnsItsResource) {
    bool called = false;
    {
        asio::io_context other;
        auto p = std::make_unique<fake_pool>(other.get_executor(), fake_factory(world), options(1));
        { auto warm = p->acquire(); }
        p->async_acquire([&](std::exception_ptr, fake_pool::lease) { called = true; });
        EXPECT_EQ(p->stats().in_use, 1u);  // served at once, completion posted
        p.reset();
        EXPECT_EQ(world->alive(), 1);  // held by the pending operation
    }  // the context's destruction destroys the operation unrun: the resource comes back
    EXPECT_FALSE(called);
    EXPECT_EQ(world->alive(), 0);  // and, the pool being closed, is destroyed (ASan: no leak)
}

// ---- async_close ---------------------------------------------------------------------------

TEST_F(PoolAsyncTest, AsyncCloseCompletesWhenTheLastLeaseReturns) {
    auto p = make_pool(options(2));
    auto held = p->acquire();
    { auto idle = p->acquire(); }
    bool closed = false;
    std::exception_ptr error;
    p->async_close([&](std::exception_ptr e) {
        closed = true;
        error = e;
    });
    io.poll();
    EXPECT_FALSE(closed);
    EXPECT_TRUE(p->stats().closed);
    EXPECT_EQ(world->alive(), 1);  // the idle one went at once
    held.return_to_pool();
    io.poll();
    EXPECT_TRUE(closed);
    EXPECT_FALSE(error);
    EXPECT_EQ(world->alive(), 0);
}

TEST_F(PoolAsyncTest, AsyncCloseWithNothingOutCompletesAtOnceAsAnAwaitable) {
    auto p = make_pool(options(2));
    bool closed = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            { auto l = co_await p->async_acquire(asio::use_awaitable); }
            co_await p->async_close(asio::use_awaitable);
            closed = true;
        },
        asio::detached);
    io.run();  // returns: the closed pool's maintenance timer is gone
    EXPECT_TRUE(closed);
    EXPECT_EQ(world->alive(), 0);
}

TEST_F(PoolAsyncTest, CancellingAsyncCloseLeavesThePoolClosed) {
    auto p = make_pool(options(1));
    auto held = p->acquire();
    asio::cancellation_signal signal;
    std::exception_ptr error;
    p->async_close(
        asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e) { error = e; }));
    io.poll();
    signal.emit(asio::cancellation_type::terminal);
    io.poll();
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), std::system_error);
    EXPECT_TRUE(p->stats().closed);
    held.return_to_pool();
    EXPECT_EQ(world->alive(), 0);
}

// ---- background maintenance ----------------------------------------------------------------

TEST_F(PoolAsyncTest, BackgroundMaintenanceOpensAndRefillsMinSize) {
    auto o = options(4);
    o.min_size = 2;
    o.max_lifetime = 10min;
    o.max_lifetime_jitter = 0;
    auto p = make_pool(o);  // constructor returns at once; the executor opens them
    EXPECT_EQ(p->stats().idle, 2u);
    clock->advance(10min);
    p->run_maintenance();  // what the periodic timer does
    EXPECT_EQ(p->stats().closed_lifetime, 2u);
    io.poll();
    EXPECT_EQ(p->stats().idle, 2u);
    EXPECT_EQ(p->stats().created, 4u);
}

TEST_F(PoolAsyncTest, BackgroundCreationBacksOffExponentiallyAfterFailures) {
    auto o = options(2);
    o.min_size = 1;
    o.initial_retry_backoff = 100ms;
    world->failures_to_inject = 100;
    auto p = make_pool(o);
    EXPECT_EQ(world->creation_attempts, 1);
    p->run_maintenance();
    io.poll();
    EXPECT_EQ(world->creation_attempts, 1);  // backing off
    clock->advance(100ms);                   // the first delay is at most 100 ms (jitter: -20 %)
    p->run_maintenance();
    io.poll();
    EXPECT_EQ(world->creation_attempts, 2);
    clock->advance(150ms);  // the second is 160..200 ms
    p->run_maintenance();
    io.poll();
    EXPECT_EQ(world->creation_attempts, 2);
    clock->advance(50ms);
    p->run_maintenance();
    io.poll();
    EXPECT_EQ(world->creation_attempts, 3);
    world->failures_to_inject = 0;
    clock->advance(400ms);
    p->run_maintenance();
    io.poll();
    EXPECT_EQ(p->stats().idle, 1u);
    EXPECT_EQ(p->stats().creation_failures, 3u);
}

TEST_F(PoolAsyncTest, ThePeriodicMaintenanceTimerStopsWhenThePoolCloses) {
    auto p = make_pool(options(1));
    p->close();
    io.run();  // returns: no timer keeps the context busy after close()
    SUCCEED();
}

}  // namespace
