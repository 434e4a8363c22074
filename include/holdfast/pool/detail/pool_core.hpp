// holdfast/pool/detail/pool_core.hpp — the type-erased state shared by a pool<T>, its leases and
// its asynchronous operations. Compiled once in src/pool/pool_core.cpp; pool<T> is a thin typed
// layer over it. Not part of the public API.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <string_view>
#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include <holdfast/pool/pool_clock.hpp>
#include <holdfast/pool/pool_hooks.hpp>
#include <holdfast/pool/pool_options.hpp>
#include <holdfast/pool/pool_stats.hpp>

namespace holdfast::detail {

using pool_time = pool_clock::time_point;

/// One pooled resource's bookkeeping. pool<T> derives typed_slot<T>, which holds the T.
/// A slot is in at most one of the pool's two lists (idle or leased) or in none (in an idle
/// cell, leased without leak detection, being validated, created or destroyed), so one pair of
/// links serves both. Every open slot is also on the list of all slots (for the statistics).
/// The fields are the owner's: the pool's mutex for a slot on a list, the lease holder's for a
/// leased one; a slot changes hands through the mutex or an idle cell's atomic exchange.
/// Cache-line aligned: threads using neighbouring slots must not share a line.
struct alignas(64) pool_slot {
    pool_slot* prev = nullptr;
    pool_slot* next = nullptr;
    pool_slot* all_prev = nullptr;  // the list of all open slots: guarded by the pool's mutex
    pool_slot* all_next = nullptr;
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

/// An acquire queued for a resource. Served strictly in FIFO order: deliver() gives a
/// returned or created resource to the oldest waiter. Every field is guarded by the pool's
/// mutex; wake() is called with that mutex held.
struct pool_waiter {
    pool_waiter* prev = nullptr;
    pool_waiter* next = nullptr;
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

/// Histogram of acquire waits (and creation times): bucket 0 is "immediate" (under 1 µs), bucket i
/// > 0 holds waits in [2^(i-1), 2^i) µs.
class wait_histogram {
  public:
    void record(std::chrono::nanoseconds wait) noexcept;
    void record_immediate() noexcept { ++buckets_[0]; }
    /// `extra_immediate` more waits counted in bucket 0 (the fast path's acquires).
    std::chrono::nanoseconds percentile(double q, std::uint64_t extra_immediate = 0) const noexcept;
    std::chrono::nanoseconds max() const noexcept { return max_; }

  private:
    std::array<std::uint64_t, 48> buckets_{};
    std::chrono::nanoseconds max_{0};
};

/// The shared state of one pool. Outlives the pool<T> object while leases or asynchronous
/// operations remain: a lease keeps it alive through the in-use count (no atomic reference
/// count on the fast path), an operation through a shared_ptr.
///
/// The fast path: idle resources are also kept in a small array of idle cells, one per CPU
/// (cache-line sized, so threads on different CPUs touch different lines), each holding a
/// slot pointer, null, or the "blocked" mark. Without waiters, an acquire takes a slot out of
/// a cell with one compare-exchange and a release puts it back with another, without the
/// mutex. Whenever the lock-free path must not be used — someone is waiting (FIFO: a returned
/// resource must go to the oldest waiter), the pool is closed or over its max_size, or leak
/// detection needs the leased list — the mutex holder exchanges every cell with the blocked
/// mark, taking the slots there: a release racing with it either put its slot in a cell before
/// (and the sweep delivers it to the oldest waiter) or finds the cell blocked and returns
/// under the mutex. An acquire that queues blocks the cells after enqueuing, so no return is
/// lost; cells are unblocked when the queue empties.
class pool_core : public std::enable_shared_from_this<pool_core> {
  public:
    pool_core(pool_options options, std::unique_ptr<resource_ops> ops,
              std::optional<asio::any_io_executor> executor);
    pool_core(const pool_core&) = delete;
    pool_core& operator=(const pool_core&) = delete;
    ~pool_core();

    /// Opens min_size resources now (no executor: failures propagate) or starts the
    /// background maintenance (executor).
    void start();

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
    /// otherwise queues `waiter` to be woken when the last lease returns and the last
    /// creation ends, calling `arm(arg)` with the mutex held.
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
    /// The pool<T> object is gone: the core lives on until the last lease returns.
    void orphan() noexcept;

    bool is_fatal_error(const std::exception_ptr& e) const noexcept {
        return ops_->is_fatal_error(e);
    }
    const std::optional<asio::any_io_executor>& executor() const noexcept { return executor_; }
    std::string_view name() const noexcept { return options_.name; }

  private:
    enum class close_reason { none, broken, idle, lifetime, max_uses, expired, pool_closed };
    // A singly linked list of slots to destroy once the mutex is released, through the
    // slots' own links: collecting them never allocates.
    struct doomed_list {
        pool_slot* head = nullptr;
        void push(pool_slot* s) noexcept {
            s->prev = nullptr;
            s->next = head;
            head = s;
        }
    };
    // Intrusive lists, defined here so the fast path inlines them.
    struct slot_list {
        pool_slot* head = nullptr;
        pool_slot* tail = nullptr;
        std::size_t count = 0;
        void push_front(pool_slot* s) noexcept {
            s->prev = nullptr;
            s->next = head;
            (head ? head->prev : tail) = s;
            head = s;
            ++count;
        }
        void unlink(pool_slot* s) noexcept {
            (s->prev ? s->prev->next : head) = s->next;
            (s->next ? s->next->prev : tail) = s->prev;
            s->prev = s->next = nullptr;
            --count;
        }
        pool_slot* pop_front() noexcept {
            pool_slot* s = head;
            if (s) unlink(s);
            return s;
        }
    };
    struct waiter_list {
        pool_waiter* head = nullptr;
        pool_waiter* tail = nullptr;
        std::size_t count = 0;
        void push_back(pool_waiter* w) noexcept {
            w->next = nullptr;
            w->prev = tail;
            (tail ? tail->next : head) = w;
            tail = w;
            w->queued = true;
            ++count;
        }
        void push_front(pool_waiter* w) noexcept {
            w->prev = nullptr;
            w->next = head;
            (head ? head->prev : tail) = w;
            head = w;
            w->queued = true;
            ++count;
        }
        void unlink(pool_waiter* w) noexcept {
            (w->prev ? w->prev->next : head) = w->next;
            (w->next ? w->next->prev : tail) = w->prev;
            w->prev = w->next = nullptr;
            w->queued = false;
            --count;
        }
    };

    void lease_locked(pool_slot* s, std::source_location where, pool_time now) noexcept;
    static pool_slot* blocked_mark() noexcept {
        return reinterpret_cast<pool_slot*>(std::uintptr_t{1});
    }
    pool_slot* try_take_cell() noexcept;
    pool_slot* try_put_cell(pool_slot* s, unsigned start) noexcept;
    void lease_fast(pool_slot* s, std::source_location where) noexcept;
    bool retire_stale_fast(pool_slot* s) noexcept;
    void unblock_cells_locked() noexcept;
    void sweep_cells_locked() noexcept;
    std::size_t cells_count() const noexcept;
    pool_slot* take_idle_locked(doomed_list& doomed) noexcept;
    void block_cells_locked(doomed_list& doomed) noexcept;
    void unlease_locked(pool_slot* s) noexcept {
        if (stamp_lease_time_) leased_.unlink(s);
        --in_use_;
    }
    void notify_drained_locked() noexcept;
    void deliver_locked(pool_slot* s, pool_time now, doomed_list& doomed) noexcept;
    void retire_locked(pool_slot* s, close_reason reason, doomed_list& doomed) noexcept;
    void finish_waiter_locked(pool_waiter& w, pool_slot* s, std::exception_ptr error) noexcept;
    void enqueue_locked(pool_waiter& w, bool front, doomed_list& doomed) noexcept;
    void start_creations_locked() noexcept;
    std::size_t reserve_refill_locked(pool_time now) noexcept;
    void run_creation(bool for_waiters) noexcept;
    // Books a creation's outcome: delivers the slot, or the error to the oldest waiter.
    void finish_creation(bool for_waiters, pool_time started, pool_slot* s,
                         std::exception_ptr error) noexcept;
    void schedule_maintenance_locked() noexcept;
    void maintain(bool may_create_inline) noexcept;
    bool maintenance_due_locked(pool_time now) const noexcept;
    pool_time lifetime_end_locked(pool_time now) noexcept;
    std::chrono::nanoseconds jitter_locked(std::chrono::nanoseconds d, double fraction) noexcept;
    std::exception_ptr timeout_error_locked(std::chrono::nanoseconds waited, bool rejected,
                                            bool still_queued) const;
    std::exception_ptr closed_error() const;
    void destroy_all(doomed_list& doomed) noexcept {
        if (doomed.head) destroy_doomed(doomed);
    }
    void destroy_doomed(doomed_list& doomed) noexcept;
    pool_slot* acquire_blocking_once(std::source_location where, pool_time& deadline, bool front);
    bool validation_due(const pool_slot& s, pool_time now) const noexcept;

    const pool_options options_;
    const std::unique_ptr<resource_ops> ops_;
    const std::optional<asio::any_io_executor> executor_;
    const pool_clock& clock_;
    const bool stamp_lease_time_;  // leak detection needs the lease time on the fast path
    const bool default_clock_;
    const bool has_validate_;
    const bool has_reset_;

    // One idle cell per cache line: a slot pointer, null, or blocked_mark(). Written without
    // the mutex only null -> slot (a release) and slot -> null (an acquire); the mark is set
    // and cleared with the mutex held.
    struct alignas(64) idle_cell {
        std::atomic<pool_slot*> slot{nullptr};
    };
    const std::unique_ptr<idle_cell[]> cells_;
    const unsigned cell_mask_;  // cell count - 1 (a power of two)
    bool cells_blocked_ = false;

    mutable std::mutex mutex_;
    slot_list idle_;    // most recently returned first: the tail ages out by idle_timeout
    slot_list leased_;  // for leak detection only (empty when it is off)
    pool_slot* all_head_ = nullptr;  // every open slot, through all_prev/all_next
    std::uint64_t retired_fast_uses_ = 0;
    // Leased plus in an idle cell: a slot moves between the two without the mutex.
    std::size_t in_use_ = 0;
    waiter_list waiters_;
    waiter_list drainers_;  // async_close() operations
    std::size_t min_size_;
    std::size_t max_size_;
    std::size_t size_ = 0;  // idle + leased + creating
    std::size_t creating_ = 0;
    // Read without the mutex by the fast path: a slot of an older generation is never
    // handed out.
    std::atomic<std::uint64_t> generation_{0};
    bool closed_ = false;
    bool orphaned_ = false;
    std::shared_ptr<pool_core> keep_alive_;  // set when orphaned with leases outstanding
    std::shared_ptr<asio::steady_timer> maintenance_timer_;
    pool_time next_maintenance_{};
    // A copy of next_maintenance_ for the fast release, which leaves lazy maintenance to the
    // locked path.
    std::atomic<pool_clock::duration::rep> next_maintenance_tick_{0};
    // Time of the latest maintenance pass: what returns are stamped with when an executor
    // runs the passes. Atomic because release reads it before taking the mutex.
    std::atomic<pool_clock::duration::rep> tick_{0};
    pool_time next_refill_{};
    std::chrono::nanoseconds retry_backoff_;
    std::exception_ptr last_creation_error_;
    std::uint64_t random_state_;
    pool_stats counters_;  // counters only; gauges are computed in stats()
    wait_histogram waits_;
    wait_histogram creation_times_;  // factory + on_create, successful or not
};

}  // namespace holdfast::detail
