// The pool's life cycle and its bookkeeping under the mutex: construction, the deferred work of
// an unlock, handing a resource on or retiring it, close, orphan, resize, expire_all, stats.
#include "pool_state.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include <asio/post.hpp>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/pool/pool_errors.hpp>

namespace holdfast::detail {

namespace {

using std::chrono::nanoseconds;

std::string describe(const std::exception_ptr& error) {
    if (!error) return "none";
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

std::string milliseconds_text(nanoseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

void check_bounds(std::size_t min_size, std::size_t max_size) {
    if (max_size == 0) throw std::invalid_argument("holdfast::pool: max_size must be at least 1");
    if (min_size > max_size) {
        throw std::invalid_argument("holdfast::pool: min_size (" + std::to_string(min_size) +
                                    ") must not exceed max_size (" + std::to_string(max_size) +
                                    ")");
    }
}

}  // namespace

// ---- construction -------------------------------------------------------------------------

pool_state::pool_state(pool_options options, std::unique_ptr<resource_ops> ops,
                       std::optional<asio::any_io_executor> executor)
    : options_(std::move(options)),
      ops_(std::move(ops)),
      executor_(std::move(executor)),
      clock_(options_.clock ? *options_.clock : coarse_steady_clock::instance()),
      stamp_lease_time_(options_.leak_threshold > nanoseconds::zero()),
      default_clock_(&clock_ == &coarse_steady_clock::instance()),
      has_validate_(ops_->has_validate()),
      has_reset_(ops_->has_reset()),
      min_size_(options_.min_size),
      max_size_(options_.max_size),
      retry_backoff_(options_.initial_retry_backoff),
      random_state_(
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
          reinterpret_cast<std::uintptr_t>(this)) {
    check_bounds(min_size_, max_size_);
    if (options_.max_concurrent_creations == 0) {
        throw std::invalid_argument("holdfast::pool: max_concurrent_creations must be at least 1");
    }
    const auto now = clock_.now();
    next_maintenance_ = add_saturating(now, options_.maintenance_interval);
    next_maintenance_tick_.store(next_maintenance_.time_since_epoch().count(),
                                 std::memory_order_relaxed);
    tick_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
}

pool_state::~pool_state() {
    // Nothing is out any more (see the ownership rule): what is left is idle.
    slot_list left;
    idle_.block(left);
    while (pool_slot* s = idle_.list.pop_front()) left.push_back(s);
    while (pool_slot* s = left.pop_front()) ops_->destroy(s);
}

void pool_state::start() {
    if (executor_) {
        lock l(*this);
        unblock_cells_locked();
        schedule_maintenance_locked();
        // The first pass runs soon: it opens min_size resources in the background.
        asio::post(*executor_, [weak = weak_from_this()] {
            if (auto self = weak.lock()) self->maintain(true);
        });
        return;
    }
    // No executor: open min_size now, so a misconfiguration fails at construction.
    for (std::size_t i = 0; i < options_.min_size; ++i) {
        pool_slot* s = ops_->create();
        lock l(*this);
        ++size_;
        adopt_created_locked(s, clock_.now());
        idle_.list.push_front(s);
    }
    lock l(*this);
    unblock_cells_locked();
}

// ---- the deferred work of an unlock ---------------------------------------------------------

void pool_state::lock::unlock() noexcept {
    if (!lock_.owns_lock()) return;
    pool_state& s = state_;
    slot_list doomed = std::exchange(s.doomed_, {});
    if (!doomed.empty()) ++s.finishing_;
    // Dropped last, after every access below: it may be the state's last reference.
    std::shared_ptr<pool_state> last;
    if (s.orphaned_ && s.in_use_ == 0 && s.finishing_ == 0) last = std::move(s.keep_alive_);
    lock_.unlock();
    if (doomed.empty()) return;
    while (pool_slot* slot = doomed.pop_front()) s.ops_->destroy(slot);
    lock_.lock();
    --s.finishing_;
    s.notify_drained_locked();
    if (s.orphaned_ && s.in_use_ == 0 && s.finishing_ == 0) last = std::move(s.keep_alive_);
    // Nothing else can have been queued for this unlock: the section above retires nothing.
    lock_.unlock();
}

// ---- bookkeeping under the mutex ------------------------------------------------------------

void pool_state::retire_locked(pool_slot* s, close_reason reason) noexcept {
    --size_;
    statistics_.count_close(reason);
    all_.unlink(s);
    retired_fast_uses_ += s->fast_uses.load(std::memory_order_relaxed);
    doomed_.push_back(s);
    // The pool shrank: a waiter may now need a creation, the fast path may reopen.
    start_creations_locked();
    notify_drained_locked();
    unblock_cells_locked();
}

bool pool_state::drained_locked() const noexcept {
    return closed_ && in_use_ == 0 && creating_ == 0 && finishing_ == 0 && doomed_.empty();
}

// Completes async_close() waiters once a closed pool has nothing out and nothing left to
// destroy.
void pool_state::notify_drained_locked() noexcept {
    if (!drained_locked()) return;
    while (pool_waiter* w = drainers_.front()) {
        drainers_.unlink(*w);
        w->done = true;
        w->wake();
    }
}

void pool_state::finish_waiter_locked(pool_waiter& w, pool_slot* s,
                                      std::exception_ptr error) noexcept {
    waiters_.unlink(w);
    w.slot = s;
    w.error = std::move(error);
    w.done = true;
    // Under the mutex: an asynchronous waiter's timer is only touched here, and a blocking
    // waiter then returns without the mutex (waiter_queue.hpp).
    w.wake();
    unblock_cells_locked();
}

void pool_state::enqueue_locked(pool_waiter& w, bool front) noexcept {
    waiters_.push(w, front);
    // No barging from now on: releases come through the mutex, and a slot a release put in a
    // cell before goes to the oldest waiter (perhaps this one) instead of waiting there.
    block_cells_locked();
    start_creations_locked();
}

// Opens the fast path again once nothing needs the locked one.
void pool_state::unblock_cells_locked() noexcept {
    if (!idle_.blocked() || stamp_lease_time_ || closed_ || !waiters_.empty() ||
        size_ > max_size_) {
        return;
    }
    idle_.unblock();
}

// Closes the fast path (a new waiter, close(), over max_size) and hands on what the cells held.
void pool_state::block_cells_locked() noexcept {
    slot_list taken;
    in_use_ -= idle_.block(taken);
    while (pool_slot* s = taken.pop_front()) deliver_locked(s, s->last_returned);
}

std::exception_ptr pool_state::closed_error() const {
    return std::make_exception_ptr(pool_closed("pool '" + options_.name + "' is closed"));
}

std::exception_ptr pool_state::timeout_error_locked(nanoseconds waited, bool rejected,
                                                    bool still_queued) const {
    const std::size_t others = waiters_.size() - (still_queued ? 1 : 0);
    const std::size_t in_cells = std::min(idle_.in_cells(), in_use_);
    std::string message = "pool '" + options_.name + "': ";
    if (rejected) {
        message += "wait queue full (max_waiting " + std::to_string(options_.max_waiting) +
                   "), rejected at once";
    } else {
        message += "no resource within " + milliseconds_text(waited);
    }
    message += " (size " + std::to_string(size_) + " of max " + std::to_string(max_size_) + ", " +
               std::to_string(in_use_ - in_cells) + " in use, " +
               std::to_string(idle_.list.size() + in_cells) + " idle, " +
               std::to_string(creating_) + " being created, " + std::to_string(others) +
               " other waiters); last creation error: " + describe(last_creation_error_);
    return std::make_exception_ptr(
        pool_timeout(std::move(message), waited, size_, others, last_creation_error_));
}

pool_time pool_state::acquire_deadline() const noexcept {
    return add_saturating(clock_.precise_now(), options_.acquire_timeout);
}

std::chrono::steady_clock::time_point pool_state::timer_expiry(pool_time deadline) const noexcept {
    if (!clock_.follows_real_time() || deadline == pool_time::max()) {
        return std::chrono::steady_clock::time_point::max();
    }
    return std::chrono::time_point_cast<std::chrono::steady_clock::duration>(deadline);
}

// ---- administration -----------------------------------------------------------------------

void pool_state::close_locked() noexcept {
    if (closed_) return;
    closed_ = true;
    std::exception_ptr error;
    try {
        error = closed_error();
    } catch (...) {
        error = std::current_exception();
    }
    while (pool_waiter* w = waiters_.front()) finish_waiter_locked(*w, nullptr, error);
    block_cells_locked();  // the slots there are retired (closed_ is set)
    while (pool_slot* s = idle_.list.pop_front()) retire_locked(s, close_reason::pool_closed);
    if (maintenance_timer_) {
        try {
            maintenance_timer_->cancel();
        } catch (...) {
        }
    }
}

void pool_state::close() noexcept {
    std::shared_ptr<asio::steady_timer> timer;  // released after the mutex
    lock l(*this);
    close_locked();
    timer = std::move(maintenance_timer_);
}

void pool_state::orphan() noexcept {
    std::shared_ptr<asio::steady_timer> timer;
    lock l(*this);
    close_locked();
    timer = std::move(maintenance_timer_);
    // Set under the same lock as the close: a release that leaves its count after this sees
    // orphaned_ and drops the reference if it is the last.
    orphaned_ = true;
    if (in_use_ != 0 || finishing_ != 0) keep_alive_ = shared_from_this();
}

bool pool_state::start_drain_wait(async_waiter& w, void (*arm)(void*), void* arg) {
    close();
    lock l(*this);
    if (drained_locked()) return true;
    w.done = false;
    arm(arg);
    drainers_.push(w, false);
    return false;
}

std::exception_ptr pool_state::finish_drain_wait(async_waiter& w) {
    lock l(*this);
    if (w.done) {
        w.done = false;
        return nullptr;
    }
    if (w.queued) drainers_.unlink(w);
    return std::make_exception_ptr(
        std::system_error(std::make_error_code(std::errc::operation_canceled),
                          "holdfast::pool async_close cancelled (the pool stays closed)"));
}

void pool_state::resize(std::size_t min_size, std::size_t max_size) {
    check_bounds(min_size, max_size);
    lock l(*this);
    min_size_ = min_size;
    max_size_ = max_size;
    // Shrink: idle resources above the new maximum go now, the oldest-idle first; leased ones
    // go as they return (deliver_locked checks the size; the cells stay blocked meanwhile, so
    // they return through it).
    in_use_ -= idle_.sweep();
    while (size_ > max_size_ && idle_.list.back()) {
        pool_slot* s = idle_.list.back();
        idle_.list.unlink(s);
        retire_locked(s, close_reason::expired);
    }
    if (size_ > max_size_) block_cells_locked();
    unblock_cells_locked();
    start_creations_locked();
}

void pool_state::expire_all() noexcept {
    {
        lock l(*this);
        generation_.fetch_add(1, std::memory_order_relaxed);
        // A release racing with this may still put a slot of the old generation in a cell;
        // acquires check the generation of what they take (retire_stale_fast).
        in_use_ -= idle_.sweep();
        while (pool_slot* s = idle_.list.pop_front()) retire_locked(s, close_reason::expired);
        next_refill_ = pool_time{};
    }
    // Refill min_size (inline without an executor, in the background with one).
    maintain(true);
}

pool_stats pool_state::stats() const {
    std::lock_guard l(mutex_);
    // The fast path's leases, counted in their slots.
    std::uint64_t fast = retired_fast_uses_;
    for (const pool_slot* s = all_.front(); s; s = all_slots_list::next(s)) {
        fast += s->fast_uses.load(std::memory_order_relaxed);
    }
    // The cells change without the mutex: a count of them moves resources between idle and in
    // use, never out of the total.
    const std::size_t in_cells = std::min(idle_.in_cells(), in_use_);
    pool_stats result = statistics_.snapshot(fast);
    result.size = size_;
    result.idle = idle_.list.size() + in_cells;
    result.in_use = in_use_ - in_cells;
    result.creating = creating_;
    result.waiting = waiters_.size();
    result.min_size = min_size_;
    result.max_size = max_size_;
    result.closed = closed_;
    return result;
}

}  // namespace holdfast::detail
