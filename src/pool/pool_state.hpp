// The state of one pool and the machinery behind pool_core's entry points (pool_core.cpp
// forwards to it). Private to src/pool/: its functions are spread over pool_state.cpp (life
// cycle and bookkeeping under the mutex), lease_cycle.cpp (acquire, wait, release) and
// upkeep.cpp (creation and maintenance); the parts they use are idle_set.hpp (the idle
// resources and the lock-free fast path), waiter_queue.hpp (the FIFO of acquires) and
// pool_statistics.hpp.
//
// Ownership (who keeps this alive, until when): the pool<T> object and every asynchronous
// operation hold a shared_ptr; a lease is counted in in_use_ instead. A release() or a
// destruction that goes on after the mutex is released is counted in finishing_. When the
// pool<T> goes, orphan() closes the pool and, if anything is still counted, stores a
// shared_ptr to this in keep_alive_; the mutex holder that brings both counts to zero moves
// it out and drops it after its last access. Nothing may touch the state after leaving the
// count it was in.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "idle_set.hpp"
#include "pool_statistics.hpp"
#include "waiter_queue.hpp"

#include <holdfast/pool/detail/pool_core.hpp>

namespace holdfast::detail {

/// `t + d`, saturating: acquire_timeout may be wait_forever.
inline pool_time add_saturating(pool_time t, std::chrono::nanoseconds d) noexcept {
    if (d >= pool_time::max() - t) return pool_time::max();
    return t + d;
}

class pool_state final : public pool_core, public std::enable_shared_from_this<pool_state> {
  public:
    pool_state(pool_options options, std::unique_ptr<resource_ops> ops,
               std::optional<asio::any_io_executor> executor);
    ~pool_state();

    static pool_state& of(pool_core& core) noexcept { return static_cast<pool_state&>(core); }
    static const pool_state& of(const pool_core& core) noexcept {
        return static_cast<const pool_state&>(core);
    }

    /// The pool's mutex, and what must happen once it is released: retired resources are
    /// destroyed (outside the mutex: a destructor may take a network round trip), and the last
    /// reference of an orphaned state dropped. Every
    /// critical section goes through one of these.
    class lock {
      public:
        explicit lock(pool_state& state) : state_(state), lock_(state.mutex_) {}
        lock(const lock&) = delete;
        lock& operator=(const lock&) = delete;
        ~lock() { unlock(); }
        /// Releases the mutex and does the deferred work. Idempotent until relocked.
        void unlock() noexcept;
        void relock() { lock_.lock(); }
        std::unique_lock<std::mutex>& native() noexcept { return lock_; }

      private:
        pool_state& state_;
        std::unique_lock<std::mutex> lock_;
    };

    // ---- pool_core's entry points (see pool_core.hpp) ----
    void start();
    pool_slot* acquire(std::source_location where);
    void release(pool_slot* s, bool discard) noexcept;
    try_acquire_result try_acquire_or_enqueue(async_waiter& w, std::source_location where,
                                              pool_time deadline, bool front, void (*arm)(void*),
                                              void* arg);
    try_acquire_result finish_async_wait(async_waiter& w, std::error_code ec);
    bool start_drain_wait(async_waiter& w, void (*arm)(void*), void* arg);
    std::exception_ptr finish_drain_wait(async_waiter& w);
    bool validate_or_retire(pool_slot* s) noexcept;
    void abandon(pool_waiter& w) noexcept;
    pool_time acquire_deadline() const noexcept;
    std::chrono::steady_clock::time_point timer_expiry(pool_time deadline) const noexcept;
    void close() noexcept;
    void resize(std::size_t min_size, std::size_t max_size);
    void expire_all() noexcept;
    void maintain(bool may_create_inline) noexcept;
    pool_stats stats() const;
    void orphan() noexcept;

    const pool_options options_;
    const std::unique_ptr<resource_ops> ops_;
    const std::optional<asio::any_io_executor> executor_;

  private:
    // ---- acquiring and returning (pool_core.cpp) ----
    void lease_locked(pool_slot* s, std::source_location where, pool_time now) noexcept;
    void lease_fast(pool_slot* s, std::source_location where) noexcept;
    bool retire_stale_fast(pool_slot* s) noexcept;
    pool_slot* take_idle_locked() noexcept;
    pool_slot* acquire_blocking_once(std::source_location where, pool_time& deadline, bool front);
    void unlease_locked(pool_slot* s) noexcept;
    void deliver_locked(pool_slot* s, pool_time now) noexcept;
    void retire_locked(pool_slot* s, close_reason reason) noexcept;
    void finish_waiter_locked(pool_waiter& w, pool_slot* s, std::exception_ptr error) noexcept;
    void enqueue_locked(pool_waiter& w, bool front) noexcept;
    void block_cells_locked() noexcept;
    void unblock_cells_locked() noexcept;
    void close_locked() noexcept;
    void notify_drained_locked() noexcept;
    bool drained_locked() const noexcept;
    std::exception_ptr timeout_error_locked(std::chrono::nanoseconds waited, bool rejected,
                                            bool still_queued) const;
    std::exception_ptr closed_error() const;
    bool validation_due(const pool_slot& s, pool_time now) const noexcept;

    // ---- creation and maintenance (upkeep.cpp) ----
    void start_creations_locked() noexcept;
    void run_creation(bool for_waiters) noexcept;
    void finish_creation(bool for_waiters, pool_time started, pool_slot* s,
                         std::exception_ptr error) noexcept;
    void adopt_created_locked(pool_slot* s, pool_time now) noexcept;
    std::size_t reserve_refill_locked(pool_time now) noexcept;
    void schedule_maintenance_locked() noexcept;
    pool_time lifetime_end_locked(pool_time now) noexcept;
    std::chrono::nanoseconds jitter_locked(std::chrono::nanoseconds d, double fraction) noexcept;

    const time_source& clock_;
    const bool stamp_lease_time_;  // leak detection needs the lease time on the fast path
    const bool default_clock_;
    const bool has_validate_;
    const bool has_reset_;

    idle_set idle_;  // its cells work without the mutex; the rest is guarded by it

    mutable std::mutex mutex_;
    // ---- guarded by mutex_ ----
    slot_list leased_;  // for leak detection only (empty when it is off)
    all_slots_list all_;
    std::uint64_t retired_fast_uses_ = 0;
    // Leased plus in an idle cell: a slot moves between the two without the mutex.
    std::size_t in_use_ = 0;
    // release() calls and destructions still running outside the mutex (see the top).
    std::size_t finishing_ = 0;
    waiter_queue waiters_;
    waiter_queue drainers_;  // async_close() operations
    // Retired slots, destroyed at the next unlock.
    slot_list doomed_;
    std::size_t min_size_;
    std::size_t max_size_;
    std::size_t size_ = 0;  // idle + leased + creating + (until destroyed) nothing else
    std::size_t creating_ = 0;
    bool closed_ = false;
    bool orphaned_ = false;
    std::shared_ptr<pool_state> keep_alive_;  // set when orphaned with something still counted
    std::shared_ptr<asio::steady_timer> maintenance_timer_;
    pool_time next_maintenance_{};
    pool_time next_refill_{};
    std::chrono::nanoseconds retry_backoff_;
    std::exception_ptr last_creation_error_;
    std::uint64_t random_state_;
    pool_statistics statistics_;

    // ---- read without the mutex ----
    // A slot of an older generation is never handed out (expire_all()).
    std::atomic<std::uint64_t> generation_{0};
    // A copy of next_maintenance_ for the fast release, which leaves lazy maintenance to the
    // locked path.
    std::atomic<time_source::duration::rep> next_maintenance_tick_{0};
    // Time of the latest maintenance pass: what returns are stamped with when an executor
    // runs the passes.
    std::atomic<time_source::duration::rep> tick_{0};
};

}  // namespace holdfast::detail
