// holdfast/pool/pool.hpp — a thread-safe pool of any resource, with blocking and Asio
// asynchronous acquire.
//
//   holdfast::pool<db_connection> p(io.get_executor(),                // background upkeep
//                                   [&] { return db_connection(dsn); },
//                                   {.name = "orders-db", .min_size = 1, .max_size = 10},
//                                   {.reset = [](db_connection& c) { return c.rollback_if_open();
//                                   }});
//
//   asio::co_spawn(io, [&]() -> asio::awaitable<void> {
//       try {
//           auto conn = co_await p.async_acquire(asio::use_awaitable);
//           co_await conn->async_query("SELECT 1");
//       } catch (const holdfast::pool_timeout& e) {     // 30 s by default; names the pool,
//           log.warn("{}", e.what());                    // its size, waiters, last connect error
//       }
//   }, asio::detached);
//
//   auto conn = p.acquire();   // blocking, from a plain thread: same FIFO queue
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/compose.hpp>
#include <asio/post.hpp>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/pool/detail/pool_core.hpp>
#include <holdfast/pool/detail/typed_slot.hpp>
#include <holdfast/pool/lease.hpp>
#include <holdfast/pool/pool_errors.hpp>
#include <holdfast/pool/pool_hooks.hpp>
#include <holdfast/pool/pool_options.hpp>
#include <holdfast/pool/pool_stats.hpp>

namespace holdfast {

namespace detail {

template <class T>
class typed_resource_ops final : public resource_ops {
  public:
    typed_resource_ops(std::function<T()> factory, pool_hooks<T> hooks)
        : factory_(std::move(factory)), hooks_(std::move(hooks)) {
        if (!factory_) throw std::invalid_argument("holdfast::pool: the factory is empty");
    }
    typed_resource_ops(std::function<asio::awaitable<T>()> factory, pool_hooks<T> hooks)
        : async_factory_(std::move(factory)), hooks_(std::move(hooks)) {
        if (!async_factory_) throw std::invalid_argument("holdfast::pool: the factory is empty");
    }

    pool_slot* create() override {
        auto slot = std::make_unique<typed_slot<T>>(factory_);
        if (hooks_.on_create) hooks_.on_create(slot->value);
        return slot.release();
    }
    bool creates_asynchronously() const noexcept override {
        return static_cast<bool>(async_factory_);
    }
    void start_create(const asio::any_io_executor& executor, creation_done done) override {
        if constexpr (std::is_move_constructible_v<T>) {
            // `done` keeps the pool's shared state, and with it *this, alive until it has run.
            asio::co_spawn(executor, create_async(),
                           [done = std::move(done)](std::exception_ptr error, pool_slot* slot) {
                               done(slot, std::move(error));
                           });
        }
    }
    void destroy(pool_slot* slot) noexcept override { delete static_cast<typed_slot<T>*>(slot); }
    bool has_validate() const noexcept override { return static_cast<bool>(hooks_.validate); }
    bool has_reset() const noexcept override { return static_cast<bool>(hooks_.reset); }
    bool validate(pool_slot& slot) override {
        return hooks_.validate(static_cast<typed_slot<T>&>(slot).value);
    }
    bool reset(pool_slot& slot) override {
        return hooks_.reset(static_cast<typed_slot<T>&>(slot).value);
    }
    bool is_fatal_error(const std::exception_ptr& error) const noexcept override {
        if (!hooks_.is_fatal_error) return false;
        try {
            return hooks_.is_fatal_error(error);
        } catch (...) {
            return true;  // cannot tell: do not reuse a resource that may be broken
        }
    }
    void report_leak(const lease_leak& leak) const noexcept override {
        try {
            if (hooks_.on_leak) {
                hooks_.on_leak(leak);
                return;
            }
            const auto held_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(leak.held_for).count();
            throw pool_error("pool '" + std::string(leak.pool_name) + "': lease held for " +
                             std::to_string(held_ms) + " ms, acquired at " +
                             leak.acquired_at.file_name() + ":" +
                             std::to_string(leak.acquired_at.line()) + " in " +
                             leak.acquired_at.function_name());
        } catch (...) {
            report_current_cleanup_error("holdfast::pool leak detection");
        }
    }

  private:
    asio::awaitable<pool_slot*> create_async() requires std::is_move_constructible_v<T> {
        T value = co_await async_factory_();
        auto slot =
            std::make_unique<typed_slot<T>>(typename typed_slot<T>::from_value{}, std::move(value));
        if (hooks_.on_create) hooks_.on_create(slot->value);
        co_return slot.release();
    }

    std::function<T()> factory_;
    std::function<asio::awaitable<T>()> async_factory_;
    pool_hooks<T> hooks_;
};

/// The state machine of pool<T>::async_acquire (for asio::async_compose).
template <class T>
class async_acquire_op {
  public:
    async_acquire_op(std::shared_ptr<pool_core> core, std::source_location where)
        : core_(std::move(core)), where_(where) {}

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}) {
        switch (state_) {
            case state::starting:
                attempt(self);
                return;
            case state::waiting: {
                auto result = core_->finish_async_wait(*waiter_, ec);
                if (result.slot && !core_->validate_or_retire(result.slot)) {
                    front_ = true;  // validation failed: try again, first in line
                    attempt(self);
                    return;
                }
                ready_error_ = std::move(result.error);
                if (result.slot) ready_ = lease<T>(core_.get(), result.slot);
                finish(self);
                return;
            }
            case state::completing:
                finish(self);
                return;
        }
    }

  private:
    enum class state { starting, waiting, completing };

    template <class Self>
    void attempt(Self& self) {
        if (!waiter_) {
            waiter_ = std::make_unique<async_waiter>(core_, *core_->executor());
            deadline_ = core_->acquire_deadline();
        }
        state_ = state::waiting;
        struct arm_context {
            Self* self;
            async_waiter* waiter;
            std::chrono::steady_clock::time_point expiry;
        } context{&self, waiter_.get(), core_->timer_expiry(deadline_)};
        // Called with the pool's mutex held, before the waiter can be woken: the wake is a
        // cancel of this wait. After it, *this has moved into the wait's handler.
        auto arm = [](void* p) {
            auto& c = *static_cast<arm_context*>(p);
            c.waiter->timer().expires_at(c.expiry);
            c.waiter->timer().async_wait(std::move(*c.self));
        };
        auto* core = core_.get();
        auto* waiter = waiter_.get();
        auto result =
            core->try_acquire_or_enqueue(*waiter, where_, deadline_, front_, arm, &context);
        if (result.enqueued) return;  // `this` now lives in the timer's handler
        if (result.slot && !core->validate_or_retire(result.slot)) {
            front_ = true;
            attempt(self);
            return;
        }
        // Served or failed at once: complete through the executor, never inside the
        // initiating function.
        state_ = state::completing;
        ready_error_ = std::move(result.error);
        if (result.slot) ready_ = lease<T>(core, result.slot);
        asio::post(std::move(self));
    }

    template <class Self>
    void finish(Self& self) {
        // Completion handlers receive the same exception types as the blocking acquire().
        auto error = std::move(ready_error_);
        auto acquired = std::move(ready_);
        waiter_.reset();
        core_.reset();
        self.complete(std::move(error), std::move(acquired));
    }

    std::shared_ptr<pool_core> core_;
    std::source_location where_;
    std::unique_ptr<async_waiter> waiter_;
    pool_time deadline_{};
    // The outcome between being served and completing. Held as a lease, so an operation
    // destroyed in between (its execution context shut down) still returns the resource.
    lease<T> ready_;
    std::exception_ptr ready_error_;
    state state_ = state::starting;
    bool front_ = false;
};

/// The state machine of pool<T>::async_close.
class async_close_op {
  public:
    explicit async_close_op(std::shared_ptr<pool_core> core) : core_(std::move(core)) {}

    template <class Self>
    void operator()(Self& self, std::error_code = {}) {
        if (waiter_) {
            auto error = core_->finish_drain_wait(*waiter_);
            finish(self, std::move(error));
            return;
        }
        if (started_) {  // drained at once; this is the posted completion
            finish(self, nullptr);
            return;
        }
        started_ = true;
        auto waiter = std::make_unique<async_waiter>(core_, *core_->executor());
        waiter->draining = true;
        struct arm_context {
            Self* self;
            async_waiter* waiter;
            std::unique_ptr<async_waiter>* owner;
        } context{&self, waiter.get(), &waiter_};
        auto arm = [](void* p) {
            auto& c = *static_cast<arm_context*>(p);
            c.waiter->timer().expires_at(std::chrono::steady_clock::time_point::max());
            // Ownership moves into the operation before it moves into the timer's handler.
            *c.owner = std::unique_ptr<async_waiter>(c.waiter);
            c.waiter->timer().async_wait(std::move(*c.self));
        };
        auto* core = core_.get();
        auto* raw = waiter.release();
        if (!core->start_drain_wait(*raw, arm, &context)) return;  // `this` has moved
        delete raw;
        asio::post(std::move(self));
    }

  private:
    template <class Self>
    void finish(Self& self, std::exception_ptr error) {
        waiter_.reset();
        core_.reset();
        self.complete(std::move(error));
    }

    std::shared_ptr<pool_core> core_;
    std::unique_ptr<async_waiter> waiter_;
    bool started_ = false;
};

}  // namespace detail

/// A thread-safe pool of resources of type T (database connections, sockets, buffers, ...).
///
/// Semantics:
/// - Acquires are served strictly first in, first out, blocking and asynchronous ones from
///   one queue; a returned resource goes straight to the oldest waiter (no barging).
/// - acquire() waits at most acquire_timeout (30 s by default; pool_options::wait_forever on
///   request), then throws pool_timeout naming the pool, its state and the last creation
///   error.
/// - Creation runs outside the pool's lock, only while waiters outnumber creations in flight
///   and at most max_concurrent_creations at once; a failure is delivered to the oldest waiter
///   (the one the resource was for), as the factory's own exception.
/// - On return the reset hook runs; a resource whose reset or validate fails is destroyed,
///   never handed out. max_uses and max_lifetime (with jitter) retire resources on return;
///   idle_timeout and max_lifetime evict idle ones; a leased resource is never touched.
/// - close() fails every waiter with pool_closed, destroys idle resources at once and leased
///   ones as they come back.
/// - With an executor, maintenance (eviction, min_size refill with exponential backoff and
///   jitter after failures, leak detection) runs in the background every
///   maintenance_interval; without one it runs lazily on release (never running the
///   factory there: a lease's destructor must not block on a connect), min_size resources
///   are opened in the constructor and refilled by acquires or run_maintenance().
/// - A blocking acquire that has to wait may be asked to run one creation in its own thread
///   (the youngest waiter is chosen); it then returns only after the factory does, even if a
///   returned resource would have served it sooner.
///
/// @par Thread safety
/// Every member function may be called concurrently from any thread. While the pool is open,
/// its executor's context has work (the maintenance timer): io_context::run() returns only
/// after close().
/// @par Object lifetimes
/// The shared state outlives this object while leases or asynchronous acquires remain. With
/// an executor, its execution context must outlive the pool, its leases and its operations.
template <class T>
class pool {
  public:
    /// The lease type acquire() returns: `pool<T>::lease l = p.acquire();`.
    using lease = holdfast::lease<T>;
    using resource_type = T;
    using factory_type = std::function<T()>;
    using async_factory_type = std::function<asio::awaitable<T>()>;
    using executor_type = asio::any_io_executor;

    /// A pool without an executor: min_size resources are opened now (a factory failure
    /// propagates, so a misconfiguration shows at startup), maintenance runs lazily.
    /// async_acquire() is not available.
    ///
    /// @par Errors
    /// std::invalid_argument for an empty factory, max_size or max_concurrent_creations of 0,
    /// or min_size > max_size; what the factory throws.
    explicit pool(factory_type factory, pool_options options = {}, pool_hooks<T> hooks = {})
        : pool(construct_tag{}, std::nullopt, std::move(factory), std::move(options),
               std::move(hooks)) {}

    /// A pool whose maintenance and min_size refill run in the background on `executor`,
    /// which also runs creations for asynchronous waiters (so a slow factory occupies one of
    /// its threads: give the pool a multi-threaded executor when creation is slow).
    pool(executor_type executor, factory_type factory, pool_options options = {},
         pool_hooks<T> hooks = {})
        : pool(construct_tag{}, std::optional<executor_type>(std::move(executor)),
               std::move(factory), std::move(options), std::move(hooks)) {}

    /// A pool whose resources come from an asynchronous factory, a coroutine run on
    /// `executor` (e.g. a non-blocking connect): a creation then occupies no thread while it
    /// waits. Everything else is as with a synchronous factory; blocking acquire() waits for
    /// creations the executor runs. Bound the factory's own waits (a connect timeout): an
    /// acquire stops waiting at acquire_timeout, but close() waits for creations in flight.
    pool(executor_type executor, async_factory_type factory, pool_options options = {},
         pool_hooks<T> hooks = {}) requires std::is_move_constructible_v<T>
        : pool(construct_tag{}, std::optional<executor_type>(std::move(executor)),
               std::move(factory), std::move(options), std::move(hooks)) {}

    /// Takes over `other`'s shared state; `other` may then only be destroyed.
    pool(pool&&) noexcept = default;
    pool& operator=(pool&&) = delete;
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    /// Closes the pool (see close()); leases still out keep the shared state alive and their
    /// resources are destroyed when they return.
    ~pool() {
        if (core_) core_->orphan();
    }

    /// Leases a resource, waiting at most acquire_timeout.
    ///
    /// @par Errors
    /// pool_timeout when none became available in time or the queue is full (max_waiting);
    /// pool_closed when the pool is or gets closed; the factory's exception when a creation
    /// made for this acquire failed.
    /// @par Thread safety
    /// Blocks the calling thread; never call it on the pool's own executor thread (an
    /// asynchronous waiter's resource may need that thread to come back).
    lease acquire(std::source_location where = std::source_location::current()) {
        return lease(core_.get(), core_->acquire(where));
    }

    /// Leases a resource asynchronously: an Asio operation taking any completion token
    /// (asio::use_awaitable, asio::use_future, a callback, asio::experimental operators).
    ///
    /// @par Completion signature
    /// `void(std::exception_ptr error, pool<T>::lease lease)`: error is null on success, and
    /// otherwise holds the exception acquire() would throw, so a coroutine catches the same
    /// types. Cancellation gives a std::system_error with std::errc::operation_canceled.
    /// @par Per-operation cancellation
    /// Terminal cancellation (also the `||` of asio::experimental::awaitable_operators)
    /// removes the waiter from the queue; no resource is lost: one handed to the waiter as
    /// the cancellation arrived is delivered rather than dropped.
    /// @par Preconditions
    /// The pool was constructed with an executor (std::logic_error otherwise).
    template <class CompletionToken>
    auto async_acquire(CompletionToken&& token,
                       std::source_location where = std::source_location::current()) {
        if (!core_->executor()) {
            throw std::logic_error("holdfast::pool::async_acquire needs a pool with an executor");
        }
        return asio::async_compose<CompletionToken, void(std::exception_ptr, lease)>(
            detail::async_acquire_op<T>(core_, where), token, *core_->executor());
    }

    /// A snapshot of gauges and counters, taken under one lock.
    pool_stats stats() const { return core_->stats(); }

    /// Fails every waiter with pool_closed, destroys idle resources now and leased ones when
    /// they return. Later acquires throw pool_closed. Idempotent.
    void close() noexcept { core_->close(); }

    /// Closes the pool (see close()) and completes once every lease has come back and every
    /// creation in flight has ended, so all resources are destroyed (asyncpg's and S3's
    /// `await pool.close()`).
    ///
    /// @par Completion signature
    /// `void(std::exception_ptr error)`: null once drained.
    /// @par Per-operation cancellation
    /// Terminal cancellation ends the wait with std::errc::operation_canceled; the pool
    /// stays closed and leases still out are destroyed when they come back.
    /// @par Preconditions
    /// The pool was constructed with an executor (std::logic_error otherwise).
    template <class CompletionToken>
    auto async_close(CompletionToken&& token) {
        if (!core_->executor()) {
            throw std::logic_error("holdfast::pool::async_close needs a pool with an executor");
        }
        return asio::async_compose<CompletionToken, void(std::exception_ptr)>(
            detail::async_close_op(core_), token, *core_->executor());
    }

    /// Changes the bounds. Shrinking destroys idle resources above the new max_size now and
    /// leased ones when they return; growing lets waiters get new resources at once.
    /// @par Errors
    /// std::invalid_argument for max_size of 0 or min_size > max_size.
    void resize(std::size_t min_size, std::size_t max_size) { core_->resize(min_size, max_size); }

    /// Retires every resource open now (credentials rotated, failover): idle ones are
    /// destroyed at once, leased ones when they return; min_size is then refilled.
    void expire_all() noexcept { core_->expire_all(); }

    /// Runs one maintenance pass now: deadlines of a manual clock, idle and lifetime
    /// eviction, leak detection, min_size refill (inline without an executor).
    void run_maintenance() noexcept { core_->run_maintenance(); }

    /// The name given in pool_options.
    std::string_view name() const noexcept { return core_->name(); }

    /// Context-manager protocol (S2: explicit close() and `with`): the pool itself.
    pool& enter() noexcept { return *this; }
    /// Context-manager protocol: closes the pool.
    void exit(std::exception_ptr) noexcept { close(); }

  private:
    struct construct_tag {};
    template <class Factory>
    pool(construct_tag, std::optional<executor_type> executor, Factory factory,
         pool_options options, pool_hooks<T> hooks)
        : core_(detail::pool_core::make(
              std::move(options),
              std::make_unique<detail::typed_resource_ops<T>>(std::move(factory), std::move(hooks)),
              std::move(executor))) {}

    std::shared_ptr<detail::pool_core> core_;
};

}  // namespace holdfast
