// A resource's round trip: acquire (the lock-free fast path, then the FIFO wait, blocking or
// asynchronous), validation, and release (reset, then back into a cell, to the oldest
// waiter, or retired).
#include <system_error>

#include "pool_state.hpp"

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/pool/pool_errors.hpp>

namespace holdfast::detail {

namespace {

using std::chrono::nanoseconds;

pool_slot* take_result(pool_waiter& w) {
    if (w.error) std::rethrow_exception(w.error);
    return w.slot;
}

}  // namespace

// ---- leasing ------------------------------------------------------------------------------

HOLDFAST_POOL_INLINE void pool_state::lease_locked(pool_slot* s, std::source_location where,
                                                   pool_time now) noexcept {
    // The leased list serves leak detection only: without it a count is enough.
    if (stamp_lease_time_) leased_.push_front(s);
    ++in_use_;
    ++s->uses;
    s->acquired_at = where;
    s->leased_at = now;
    s->leak_reported = false;
    s->fast_leased = false;
    s->home_cell = cell_hint();
    ++statistics_.counters.acquired;
}

// The lease bookkeeping of the fast path: the slot is ours, no lock needed. Counted in
// fast_uses (summed by stats()) instead of the locked counters.
HOLDFAST_POOL_INLINE void pool_state::lease_fast(pool_slot* s,
                                                 std::source_location where) noexcept {
    ++s->uses;
    s->fast_uses.store(s->fast_uses.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    s->fast_leased = true;
    s->acquired_at = where;
    s->leak_reported = false;
}

void pool_state::unlease_locked(pool_slot* s) noexcept {
    if (stamp_lease_time_) leased_.unlink(s);
    --in_use_;
}

// A slot taken from a cell that expire_all() retired after its return raced past the check:
// destroy it instead of handing it out. True when it was stale.
HOLDFAST_POOL_INLINE bool pool_state::retire_stale_fast(pool_slot* s) noexcept {
    if (s->generation == generation_.load(std::memory_order_relaxed)) return false;
    lock l(*this);
    --in_use_;
    retire_locked(s, close_reason::expired);
    return true;
}

// An idle slot for the locked path: the idle list first, then the cells.
pool_slot* pool_state::take_idle_locked() noexcept {
    if (pool_slot* s = idle_.list.pop_front()) return s;
    while (pool_slot* s = idle_.try_take()) {
        --in_use_;  // out of the cells: idle under the mutex, about to be leased
        if (s->generation == generation_.load(std::memory_order_relaxed)) return s;
        retire_locked(s, close_reason::expired);  // stale: see retire_stale_fast
    }
    return nullptr;
}

bool pool_state::validation_due(const pool_slot& s, pool_time now) const noexcept {
    return has_validate_ && now - s.last_returned >= options_.validate_after_idle;
}

bool pool_state::validate_or_retire(pool_slot* s) noexcept {
    if (!has_validate_) return true;
    if (!validation_due(*s, clock_.now())) return true;
    bool valid = false;
    try {
        valid = ops_->validate(*s);
    } catch (...) {
        valid = false;
    }
    if (valid) return true;
    lock l(*this);
    unlease_locked(s);
    // It was never handed out.
    if (s->fast_leased) {
        s->fast_uses.store(s->fast_uses.load(std::memory_order_relaxed) - 1,
                           std::memory_order_relaxed);
    } else {
        --statistics_.counters.acquired;
    }
    ++statistics_.counters.validation_failures;
    retire_locked(s, close_reason::broken);
    return false;
}

// ---- blocking acquire ---------------------------------------------------------------------

pool_slot* pool_state::acquire(std::source_location where) {
    bool front = false;  // true to retry first in line after a failed validation
    // The fast path: a resource idle in a cell (so nobody waits and the pool is open). No
    // lock, no clock read.
    while (pool_slot* s = idle_.try_take()) {
        if (retire_stale_fast(s)) continue;
        lease_fast(s, where);
        if (!has_validate_ || validate_or_retire(s)) return s;
        front = true;
        break;
    }
    pool_time deadline = pool_time::min();  // computed on the first wait only
    for (;;) {
        pool_slot* s = acquire_blocking_once(where, deadline, front);
        if (!has_validate_ || validate_or_retire(s)) return s;
        // Validation failed and the slot is gone: try again, first in line.
        front = true;
    }
}

pool_slot* pool_state::acquire_blocking_once(std::source_location where, pool_time& deadline,
                                             bool front) {
    lock l(*this);
    for (;;) {
        if (closed_) throw pool_closed("pool '" + options_.name + "' is closed");
        if (!waiters_.empty()) break;
        if (pool_slot* s = take_idle_locked()) {
            // No clock read unless leak detection needs the lease time.
            lease_locked(s, where, stamp_lease_time_ ? clock_.now() : pool_time{});
            statistics_.acquire_waits.record_immediate();
            return s;
        }
        if (doomed_.empty()) break;
        // Stale slots from the cells: destroyed outside the lock, then look again.
        l.unlock();
        l.relock();
    }
    const auto now = clock_.precise_now();
    if (deadline == pool_time::min()) deadline = add_saturating(now, options_.acquire_timeout);
    if (options_.max_waiting != 0 && waiters_.size() >= options_.max_waiting) {
        ++statistics_.counters.timeouts;
        std::rethrow_exception(timeout_error_locked(nanoseconds::zero(), true, false));
    }
    blocking_waiter w;
    w.where = where;
    w.enqueued_at = now;
    w.deadline = deadline;
    enqueue_locked(w, front);
    const auto real_deadline = timer_expiry(deadline);
    std::optional<std::chrono::steady_clock::time_point> wait_deadline;
    if (real_deadline != std::chrono::steady_clock::time_point::max()) {
        wait_deadline = real_deadline;
    }
    bool timed_out = false;
    for (;;) {
        if (w.create_requested) {
            w.create_requested = false;
            if (closed_ || w.done) {
                // Reserved before the close, or before this waiter was served: give the
                // reservation back instead of opening a resource for nobody.
                --creating_;
                --size_;
                notify_drained_locked();
            } else {
                l.unlock();
                run_creation(true);
                l.relock();
            }
            // This waiter was skipped as a creator while busy: if its creation failed for an
            // older waiter, it may need another one now.
            start_creations_locked();
            continue;
        }
        if (w.done) return take_result(w);
        if (timed_out) {
            waiters_.unlink(w);
            unblock_cells_locked();
            ++statistics_.counters.timeouts;
            std::rethrow_exception(
                timeout_error_locked(clock_.precise_now() - w.enqueued_at, false, false));
        }
        l.unlock();
        const auto signal = w.wait_until(wait_deadline);
        // Served: the result was set before the wake and the pool is done with `w`, so it is
        // read without the mutex — unless a creation request is still to be answered.
        if (signal == blocking_waiter::signal::served && !w.create_requested) {
            return take_result(w);
        }
        timed_out = signal == blocking_waiter::signal::timed_out;
        l.relock();
    }
}

// ---- asynchronous acquire -----------------------------------------------------------------

try_acquire_result pool_state::try_acquire_or_enqueue(async_waiter& w, std::source_location where,
                                                      pool_time deadline, bool front,
                                                      void (*arm)(void*), void* arg) {
    try_acquire_result result;
    // The fast path, as in acquire().
    while (pool_slot* s = idle_.try_take()) {
        if (retire_stale_fast(s)) continue;
        lease_fast(s, where);
        result.slot = s;
        return result;
    }
    lock l(*this);
    if (closed_) {
        result.error = closed_error();
        return result;
    }
    if (pool_slot* s = waiters_.empty() ? take_idle_locked() : nullptr) {
        lease_locked(s, where, stamp_lease_time_ ? clock_.now() : pool_time{});
        statistics_.acquire_waits.record_immediate();
        result.slot = s;
        return result;
    }
    if (options_.max_waiting != 0 && waiters_.size() >= options_.max_waiting) {
        ++statistics_.counters.timeouts;
        result.error = timeout_error_locked(nanoseconds::zero(), true, false);
        return result;
    }
    w.done = false;
    w.slot = nullptr;
    w.error = nullptr;
    w.where = where;
    w.enqueued_at = clock_.precise_now();
    w.deadline = deadline;
    // Armed before anyone can wake the waiter: a wake is a cancel of the pending wait.
    arm(arg);
    enqueue_locked(w, front);
    result.enqueued = true;
    return result;
}

try_acquire_result pool_state::finish_async_wait(async_waiter& w, std::error_code ec) {
    try_acquire_result result;
    lock l(*this);
    if (w.done) {
        // Served (or failed) by the pool; a cancellation that raced with it changes nothing:
        // the resource is delivered, never lost.
        result.slot = w.slot;
        result.error = w.error;
        w.done = false;
        w.slot = nullptr;
        return result;
    }
    if (w.queued) {
        waiters_.unlink(w);
        unblock_cells_locked();
    }
    if (!ec) {
        ++statistics_.counters.timeouts;
        result.error = timeout_error_locked(clock_.precise_now() - w.enqueued_at, false, false);
    } else {
        ++statistics_.counters.cancelled_waits;
        result.error = std::make_exception_ptr(
            std::system_error(std::make_error_code(std::errc::operation_canceled),
                              "holdfast::pool async_acquire cancelled"));
    }
    return result;
}

// ---- release ------------------------------------------------------------------------------

// A ready resource (returned and reset, or new) goes straight to the oldest waiter: no
// barging by an acquire that arrives later.
void pool_state::deliver_locked(pool_slot* s, pool_time now) noexcept {
    if (closed_) {
        retire_locked(s, close_reason::pool_closed);
        return;
    }
    if (size_ > max_size_ || s->generation != generation_.load(std::memory_order_relaxed)) {
        retire_locked(s, close_reason::expired);
        return;
    }
    if (pool_waiter* w = waiters_.front()) {
        lease_locked(s, w->where, now);
        statistics_.acquire_waits.record(clock_.precise_now() - w->enqueued_at);
        finish_waiter_locked(*w, s, nullptr);
        return;
    }
    s->last_returned = now;
    // Into a cell when the fast path is open, so the next acquire need not lock. The cells
    // count as in use (see in_use_): one more there unless a slot came back out.
    if (!idle_.blocked()) {
        s = idle_.try_put(s, cell_hint());
        if (!s) {
            ++in_use_;
            return;
        }
    }
    idle_.list.push_front(s);
}

void pool_state::release(pool_slot* s, bool discard) noexcept {
    // With an executor, the time of the latest maintenance pass (at most one
    // maintenance_interval old): no clock read on the fast path. Without one, the one clock
    // read of the fast path, devirtualized for the default clock.
    const auto now = executor_
                         ? pool_time(time_source::duration(tick_.load(std::memory_order_relaxed)))
                     : default_clock_ ? coarse_steady_clock::coarse_now()
                                      : clock_.now();
    close_reason reason = close_reason::none;
    if (discard) {
        reason = close_reason::broken;
    } else if (options_.max_uses != 0 && s->uses >= options_.max_uses) {
        reason = close_reason::max_uses;
    } else if (now >= s->expires_at) {
        reason = close_reason::lifetime;
    }
    bool reset_failed = false;
    if (reason == close_reason::none && has_reset_) {
        // Outside the lock: a rollback may take a network round trip. The lease is still
        // counted, so the state stays alive even if the hook destroys the pool.
        try {
            reset_failed = !ops_->reset(*s);
        } catch (...) {
            reset_failed = true;
            report_current_cleanup_error("holdfast::pool reset hook (the resource was destroyed)");
        }
        if (reset_failed) reason = close_reason::broken;
    }
    // The fast path: back into a cell, without the mutex, unless lazy maintenance is due or
    // the resource was retired by expire_all(). A blocked cell (someone waits, the pool is
    // closed or over max_size) sends it to the locked path, which hands it to the oldest
    // waiter. Once the slot is in a cell this lease is no longer counted: touch nothing after.
    if (reason == close_reason::none &&
        (executor_ ||
         now.time_since_epoch().count() < next_maintenance_tick_.load(std::memory_order_relaxed)) &&
        s->generation == generation_.load(std::memory_order_relaxed)) {
        s->last_returned = now;
        // Done, unless a slot is left over: this one, or one it displaced from a cell (idle
        // and ready too, and counted in in_use_ like this one: the locked path below treats
        // either alike).
        s = idle_.try_put(s, s->home_cell);
        if (!s) return;
    }
    lock l(*this);
    unlease_locked(s);
    if (reset_failed) ++statistics_.counters.reset_failures;
    if (reason != close_reason::none) {
        retire_locked(s, reason);
    } else {
        deliver_locked(s, now);
    }
    // Lazy maintenance never runs the factory here: a lease's destructor must not block on a
    // connect. Without an executor, min_size comes back through acquires and explicit
    // run_maintenance() calls.
    if (executor_ || closed_ || now < next_maintenance_) return;  // `l` does the rest
    ++finishing_;  // still using the state after the unlock
    l.unlock();
    maintain(false);
    l.relock();
    --finishing_;
    notify_drained_locked();
}

// pool_core's entry points for the fast path, in the same translation unit so that it inlines.
pool_slot* pool_core::acquire(std::source_location where) {
    return pool_state::of(*this).acquire(where);
}
void pool_core::release(pool_slot* slot, bool discard) noexcept {
    pool_state::of(*this).release(slot, discard);
}

}  // namespace holdfast::detail
