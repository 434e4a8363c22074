// holdfast/pool/detail/pool_core.hpp — what the pool<T> template needs of the type-erased pool:
// the slot a resource lives in, the operations pool<T> supplies, the asynchronous waiter, and
// pool_core's interface. The state and the machinery are compiled once in src/pool/. Not part
// of the public API.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string_view>
#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include <holdfast/core/time_source.hpp>
#include <holdfast/pool/detail/list_hook.hpp>
#include <holdfast/pool/pool_hooks.hpp>
#include <holdfast/pool/pool_options.hpp>
#include <holdfast/pool/pool_stats.hpp>

namespace holdfast::detail {

using pool_time = time_source::time_point;

/// One pooled resource's bookkeeping. pool<T> derives typed_slot<T>, which holds the T.
/// A slot is in at most one of the pool's lists (idle, leased, or the list of slots to destroy)
/// or in none (in an idle cell, leased without leak detection, being validated), so one hook
/// serves them all; every open slot is also on the list of all slots (for the statistics).
/// The fields are the owner's: the pool's mutex for a slot on a list, the lease holder's for a
/// leased one; a slot changes hands through the mutex or an idle cell's atomic exchange.
/// Cache-line aligned: threads using neighbouring slots must not share a line.
struct alignas(64) pool_slot {
    list_hook<pool_slot> link;
    list_hook<pool_slot> all_link;  // the list of all open slots: guarded by the pool's mutex
    pool_time created_at{};
    pool_time expires_at = pool_time::max();
    pool_time last_returned{};
    pool_time leased_at{};
    std::source_location acquired_at{};
    std::uint64_t uses = 0;
    std::uint64_t generation = 0;
    /// Leases taken on the lock-free fast path: written by the slot's owner only, read by
    /// stats() (so atomic, relaxed; no read-modify-write needed).
    std::atomic<std::uint64_t> fast_uses{0};
    bool fast_leased = false;  // the current lease was taken on the fast path
    unsigned home_cell = 0;    // the idle cell a release tries first: where it was taken
    bool leak_reported = false;
};

/// An acquire queued for a resource (or an async_close() waiting for the pool to drain).
/// Every field is guarded by the pool's mutex.
struct pool_waiter {
    list_hook<pool_waiter> link;
    bool queued = false;
    bool is_async = false;
    /// Set with a slot (already counted as leased) or an error when the wait is over.
    bool done = false;
    /// Blocking waiters only: the pool asks this waiter's thread to run one creation.
    bool create_requested = false;
    /// Waits in async_close() for the pool to drain, not for a resource.
    bool draining = false;
    pool_slot* slot = nullptr;
    std::exception_ptr error;
    pool_time enqueued_at{};
    pool_time deadline = pool_time::max();
    std::source_location where{};

    /// Ends the wait. Called once `done` or `create_requested` is set; see the waiter kinds for
    /// whether the pool's mutex is then held.
    virtual void wake() noexcept = 0;

  protected:
    ~pool_waiter() = default;
};

/// What pool<T> supplies to the type-erased core: creation, destruction and hooks.
class resource_ops {
  public:
    /// Receives an asynchronous creation's outcome: the slot, or null and the error.
    using creation_done = std::function<void(pool_slot*, std::exception_ptr)>;

    virtual ~resource_ops() = default;
    /// Runs the factory and on_create; throws what they throw.
    virtual pool_slot* create() = 0;
    /// True when the factory is asynchronous: creations then go through start_create().
    virtual bool creates_asynchronously() const noexcept { return false; }
    /// Starts an asynchronous creation on `executor` and returns at once; `done` runs
    /// exactly once when it ends (not from inside this call).
    virtual void start_create(const asio::any_io_executor& /*executor*/, creation_done /*done*/) {}
    virtual void destroy(pool_slot* slot) noexcept = 0;
    virtual bool has_validate() const noexcept = 0;
    virtual bool has_reset() const noexcept = 0;
    virtual bool validate(pool_slot& slot) = 0;
    virtual bool reset(pool_slot& slot) = 0;
    virtual bool is_fatal_error(const std::exception_ptr& error) const noexcept = 0;
    virtual void report_leak(const lease_leak& leak) const noexcept = 0;
};

class pool_core;

/// An asynchronous acquire's waiter: its timer is the condition variable (Boost.MySQL's
/// design). The operation waits on the timer; the pool wakes it by cancelling the timer, and
/// a real deadline is the timer's expiry. The timer is only touched with the pool's mutex
/// held, so the pool may wake the waiter from any thread.
class async_waiter final : public pool_waiter {
  public:
    async_waiter(std::shared_ptr<pool_core> core, const asio::any_io_executor& executor)
        : core_(std::move(core)), timer_(executor) {
        is_async = true;
    }
    async_waiter(const async_waiter&) = delete;
    async_waiter& operator=(const async_waiter&) = delete;
    /// Leaves the queue if still in it (the operation was destroyed without completing,
    /// e.g. by the shutdown of its execution context).
    ~async_waiter();

    void wake() noexcept override;
    asio::steady_timer& timer() noexcept { return timer_; }

  private:
    std::shared_ptr<pool_core> core_;
    asio::steady_timer timer_;
};

/// The outcome of a non-blocking attempt to acquire.
struct try_acquire_result {
    pool_slot* slot = nullptr;  // served at once
    std::exception_ptr error;   // failed at once (closed, queue full)
    bool enqueued = false;      // queued: wait for a wake
};

/// The shared state of one pool, as pool<T>, its leases and its operations see it. The state
/// itself (src/pool/pool_state.hpp) derives from this class; these functions are its entry
/// points.
///
/// Ownership: a pool<T> and each of its asynchronous operations hold a shared_ptr; a lease
/// holds a raw pointer and is counted instead (no atomic reference count on the fast path).
/// When the pool<T> goes (orphan()) while anything is still out, the state keeps a reference
/// to itself, dropped by whichever ends last of: the leases, and the release() calls and
/// destructions already under way. So the state lives until the last release has returned,
/// whatever the interleaving.
class pool_core {
  public:
    /// Makes the state of a new pool and starts it: opens min_size resources now (no
    /// executor: failures propagate) or starts the background maintenance (executor).
    ///
    /// @par Errors
    /// std::invalid_argument for max_size or max_concurrent_creations of 0, or min_size >
    /// max_size; what the factory throws.
    static std::shared_ptr<pool_core> make(pool_options options, std::unique_ptr<resource_ops> ops,
                                           std::optional<asio::any_io_executor> executor);

    pool_core(const pool_core&) = delete;
    pool_core& operator=(const pool_core&) = delete;

    /// Blocking acquire honouring acquire_timeout. Returns a validated, leased slot.
    pool_slot* acquire(std::source_location where);

    /// Returns a leased slot; destroys it instead when `discard`, retired, or the pool is
    /// closed.
    void release(pool_slot* slot, bool discard) noexcept;

    // ---- asynchronous acquire: the steps of pool<T>::async_acquire's operation ----

    /// Serves `waiter` at once if a resource is idle and nobody waits, or fails it at once;
    /// otherwise queues it (at the front when `front`, for a retry after a failed
    /// validation) and calls `arm(arg)` with the mutex held, to start the timer wait.
    try_acquire_result try_acquire_or_enqueue(async_waiter& waiter, std::source_location where,
                                              pool_time deadline, bool front, void (*arm)(void*),
                                              void* arg);
    /// After the waiter's timer wait completed with `ec`: the slot or error it was given, or,
    /// when it is still queued, leaves the queue with a timeout (the timer expired) or a
    /// cancellation (operation_aborted from the operation's cancellation slot).
    try_acquire_result finish_async_wait(async_waiter& waiter, std::error_code ec);
    /// async_close(): closes the pool; returns true when nothing is out (complete at once),
    /// otherwise queues `waiter` to be woken when the last lease returns, the last creation
    /// ends and the last resource is destroyed, calling `arm(arg)` with the mutex held.
    bool start_drain_wait(async_waiter& waiter, void (*arm)(void*), void* arg);
    /// After the drain wait completed: null when drained, operation_canceled otherwise.
    std::exception_ptr finish_drain_wait(async_waiter& waiter);
    /// Runs the validate hook if due; on failure destroys the slot and returns false.
    bool validate_or_retire(pool_slot* slot) noexcept;
    /// Removes a waiter that is going away while still queued.
    void abandon(pool_waiter& waiter) noexcept;
    /// The deadline of an acquire starting now.
    pool_time acquire_deadline() const noexcept;
    /// The deadline as a steady_clock time for a real timer, or max() for a manual clock.
    std::chrono::steady_clock::time_point timer_expiry(pool_time deadline) const noexcept;

    // ---- administration ----
    void close() noexcept;
    void resize(std::size_t min_size, std::size_t max_size);
    void expire_all() noexcept;
    void run_maintenance() noexcept;
    pool_stats stats() const;
    /// The pool<T> object is going: closes the pool; the state lives on until the last lease
    /// and the last release under way are done.
    void orphan() noexcept;

    bool is_fatal_error(const std::exception_ptr& error) const noexcept;
    const std::optional<asio::any_io_executor>& executor() const noexcept;
    std::string_view name() const noexcept;

  protected:
    pool_core() = default;
    ~pool_core() = default;
};

}  // namespace holdfast::detail
