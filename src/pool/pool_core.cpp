// The type-erased pool: waiter queue, idle/leased bookkeeping, creation scheduling,
// maintenance. Compiled once; pool<T> only supplies resource_ops.
#include <algorithm>
#include <bit>
#include <cassert>
#include <condition_variable>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <asio/post.hpp>
#include <sched.h>
#include <time.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/pool/detail/pool_core.hpp>
#include <holdfast/pool/pool_errors.hpp>

// The fast path's helpers are small and called from a few places: inline them.
#if defined(__GNUC__)
#define HOLDFAST_POOL_INLINE [[gnu::always_inline]] inline
#else
#define HOLDFAST_POOL_INLINE inline
#endif

namespace holdfast::detail {

namespace {

using std::chrono::nanoseconds;

// Saturating "now + d": acquire_timeout may be wait_forever.
pool_time add_saturating(pool_time t, nanoseconds d) noexcept {
    if (d >= pool_time::max() - t) return pool_time::max();
    return t + d;
}

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

// The number of idle cells: a power of two, at least one per CPU (so threads on different
// CPUs start at different cells), between 4 and 64.
unsigned cell_count() noexcept {
    const unsigned cpus = std::thread::hardware_concurrency();
    return std::bit_ceil(std::clamp(cpus, 4u, 64u));
}

// Where a thread starts looking in the idle cells: its current CPU (glibc reads it from the
// rseq area or the vDSO, no system call), so threads running on different CPUs use different
// cells and cache lines. Only a hint for speed, not thread-local state: a coroutine that
// moves to another thread simply starts elsewhere.
HOLDFAST_POOL_INLINE unsigned cell_hint() noexcept {
#if defined(__linux__)
    const int cpu = sched_getcpu();
    if (cpu >= 0) return static_cast<unsigned>(cpu);
#endif
    // No CPU number: the stack's address tells threads apart.
    int local = 0;
    const auto address = reinterpret_cast<std::uintptr_t>(&local);
    return static_cast<unsigned>((address >> 16) * 0x9e3779b97f4a7c15ULL >> 58);
}

std::string milliseconds_text(nanoseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

// A blocking acquire's waiter: its own mutex and condition variable, so waking one waiter
// never disturbs the others (no thundering herd on a shared condition variable).
class blocking_waiter final : public pool_waiter {
  public:
    void wake() noexcept override {
        // Notified with the mutex held: the waiter cannot observe `signalled_` and destroy
        // itself before notify_one() returns.
        std::lock_guard lock(mutex_);
        signalled_ = true;
        cv_.notify_one();
    }

    // Waits for a wake or the deadline; true when woken. Clears the wake.
    bool wait_until(std::optional<std::chrono::steady_clock::time_point> until) {
        std::unique_lock lock(mutex_);
        bool woken = true;
        if (until) {
            woken = cv_.wait_until(lock, *until, [this] { return signalled_; });
        } else {
            cv_.wait(lock, [this] { return signalled_; });
        }
        signalled_ = false;
        return woken;
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool signalled_ = false;
};

}  // namespace

}  // namespace holdfast::detail

// ---- clocks -------------------------------------------------------------------------------

namespace holdfast {

namespace {

pool_clock::time_point coarse_now() noexcept {
#if defined(CLOCK_MONOTONIC_COARSE)
    // Same epoch as CLOCK_MONOTONIC (std::chrono::steady_clock on Linux), a few ms behind at
    // most, and read from the vDSO without the TSC arithmetic: several times cheaper.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return pool_clock::time_point(std::chrono::seconds(ts.tv_sec) +
                                  std::chrono::nanoseconds(ts.tv_nsec));
#else
    return std::chrono::time_point_cast<pool_clock::duration>(std::chrono::steady_clock::now());
#endif
}

}  // namespace

pool_clock::time_point coarse_steady_clock::now() const noexcept {
    return coarse_now();
}

const coarse_steady_clock& coarse_steady_clock::instance() noexcept {
    static const coarse_steady_clock clock;
    return clock;
}

}  // namespace holdfast

namespace holdfast::detail {

// ---- wait histogram -----------------------------------------------------------------------

void wait_histogram::record(nanoseconds wait) noexcept {
    const auto micros =
        static_cast<std::uint64_t>(std::max<nanoseconds::rep>(wait.count(), 0)) / 1000;
    const auto index = std::min<std::size_t>(std::bit_width(micros), buckets_.size() - 1);
    ++buckets_[index];
    max_ = std::max(max_, wait);
}

nanoseconds wait_histogram::percentile(double q, std::uint64_t extra_immediate) const noexcept {
    std::uint64_t total = extra_immediate;
    for (auto n : buckets_) total += n;
    if (total == 0) return nanoseconds(0);
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
    std::uint64_t seen = extra_immediate;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen >= rank) {
            if (i == 0) return nanoseconds(0);
            // The bucket's upper bound, but never above the largest wait seen.
            return std::min(max_, nanoseconds(std::int64_t{1000} << i));
        }
    }
    return max_;
}

// ---- async waiter -------------------------------------------------------------------------

async_waiter::~async_waiter() {
    if (core_) core_->abandon(*this);
}

void async_waiter::wake() noexcept {
    try {
        timer_.cancel();
    } catch (...) {
        // cancel() fails only if the reactor's descriptor is broken; nothing to do here.
    }
}

// ---- pool_core ----------------------------------------------------------------------------

pool_core::pool_core(pool_options options, std::unique_ptr<resource_ops> ops,
                     std::optional<asio::any_io_executor> executor)
    : options_(std::move(options)),
      ops_(std::move(ops)),
      executor_(std::move(executor)),
      clock_(options_.clock ? *options_.clock : coarse_steady_clock::instance()),
      stamp_lease_time_(options_.leak_threshold > nanoseconds::zero()),
      default_clock_(&clock_ == &coarse_steady_clock::instance()),
      has_validate_(ops_->has_validate()),
      has_reset_(ops_->has_reset()),
      cells_(std::make_unique<idle_cell[]>(cell_count())),
      cell_mask_(cell_count() - 1),
      min_size_(options_.min_size),
      max_size_(options_.max_size),
      retry_backoff_(options_.initial_retry_backoff),
      random_state_(
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
          reinterpret_cast<std::uintptr_t>(this)) {
    if (max_size_ == 0) throw std::invalid_argument("holdfast::pool: max_size must be at least 1");
    if (min_size_ > max_size_) {
        throw std::invalid_argument("holdfast::pool: min_size must not exceed max_size");
    }
    if (options_.max_concurrent_creations == 0) {
        throw std::invalid_argument("holdfast::pool: max_concurrent_creations must be at least 1");
    }
    const auto now = clock_.now();
    next_maintenance_ = add_saturating(now, options_.maintenance_interval);
    next_maintenance_tick_.store(next_maintenance_.time_since_epoch().count(),
                                 std::memory_order_relaxed);
    tick_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    // Blocked until start(): the fast path opens once the pool is set up.
    for (unsigned i = 0; i <= cell_mask_; ++i) {
        cells_[i].slot.store(blocked_mark(), std::memory_order_relaxed);
    }
    cells_blocked_ = true;
}

pool_core::~pool_core() {
    // Every slot is idle here (leases keep the core alive): destroy them.
    doomed_list doomed;
    for (unsigned i = 0; i <= cell_mask_; ++i) {
        pool_slot* s = cells_[i].slot.exchange(nullptr, std::memory_order_acquire);
        if (s && s != blocked_mark()) doomed.push(s);
    }
    while (pool_slot* s = idle_.pop_front()) doomed.push(s);
    destroy_all(doomed);
}

void pool_core::start() {
    if (executor_) {
        std::lock_guard lock(mutex_);
        unblock_cells_locked();
        schedule_maintenance_locked();
        // The first pass runs soon: it opens min_size resources in the background.
        asio::post(*executor_, [weak = weak_from_this()] {
            if (auto self = weak.lock()) self->run_maintenance();
        });
        return;
    }
    // No executor: open min_size now, so a misconfiguration fails at construction.
    for (std::size_t i = 0; i < options_.min_size; ++i) {
        pool_slot* s = ops_->create();
        const auto now = clock_.now();
        std::lock_guard lock(mutex_);
        ++size_;
        ++counters_.created;
        s->created_at = s->last_returned = now;
        s->expires_at = lifetime_end_locked(now);
        s->generation = generation_.load(std::memory_order_relaxed);
        s->all_next = all_head_;
        if (all_head_) all_head_->all_prev = s;
        all_head_ = s;
        idle_.push_front(s);
    }
    std::lock_guard lock(mutex_);
    unblock_cells_locked();
}

pool_time pool_core::acquire_deadline() const noexcept {
    return add_saturating(clock_.precise_now(), options_.acquire_timeout);
}

std::chrono::steady_clock::time_point pool_core::timer_expiry(pool_time deadline) const noexcept {
    if (!clock_.follows_real_time() || deadline == pool_time::max()) {
        return std::chrono::steady_clock::time_point::max();
    }
    return std::chrono::time_point_cast<std::chrono::steady_clock::duration>(deadline);
}

std::chrono::nanoseconds pool_core::jitter_locked(nanoseconds d, double fraction) noexcept {
    // splitmix64: a few instructions, no thread-local state, guarded by the pool's mutex.
    std::uint64_t z = (random_state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const double unit = static_cast<double>(z >> 11) * 0x1.0p-53;  // [0, 1)
    return nanoseconds(
        static_cast<nanoseconds::rep>(static_cast<double>(d.count()) * fraction * unit));
}

pool_time pool_core::lifetime_end_locked(pool_time now) noexcept {
    if (options_.max_lifetime <= nanoseconds::zero()) return pool_time::max();
    const auto lifetime =
        options_.max_lifetime - jitter_locked(options_.max_lifetime, options_.max_lifetime_jitter);
    return add_saturating(now, lifetime);
}

bool pool_core::validation_due(const pool_slot& s, pool_time now) const noexcept {
    return has_validate_ && now - s.last_returned >= options_.validate_after_idle;
}

std::exception_ptr pool_core::closed_error() const {
    return std::make_exception_ptr(pool_closed("pool '" + options_.name + "' is closed"));
}

std::exception_ptr pool_core::timeout_error_locked(nanoseconds waited, bool rejected,
                                                   bool still_queued) const {
    const std::size_t others = waiters_.count - (still_queued ? 1 : 0);
    const std::size_t in_cells = std::min(cells_count(), in_use_);
    std::string message = "pool '" + options_.name + "': ";
    if (rejected) {
        message += "wait queue full (max_waiting " + std::to_string(options_.max_waiting) +
                   "), rejected at once";
    } else {
        message += "no resource within " + milliseconds_text(waited);
    }
    message += " (size " + std::to_string(size_) + " of max " + std::to_string(max_size_) + ", " +
               std::to_string(in_use_ - in_cells) + " in use, " +
               std::to_string(idle_.count + in_cells) + " idle, " + std::to_string(creating_) +
               " being created, " + std::to_string(others) +
               " other waiters); last creation error: " + describe(last_creation_error_);
    return std::make_exception_ptr(
        pool_timeout(std::move(message), waited, size_, others, last_creation_error_));
}

void pool_core::destroy_doomed(doomed_list& doomed) noexcept {
    while (pool_slot* s = doomed.head) {
        doomed.head = s->next;
        ops_->destroy(s);
    }
}

HOLDFAST_POOL_INLINE void pool_core::lease_locked(pool_slot* s, std::source_location where,
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
    ++counters_.acquired;
}

// ---- the lock-free fast path: idle cells -----------------------------------------------------

// Takes an idle slot out of a cell, or null when every cell is empty or blocked. The slot
// stays counted in in_use_ (which covers the cells).
HOLDFAST_POOL_INLINE pool_slot* pool_core::try_take_cell() noexcept {
    const unsigned start = cell_hint();
    for (unsigned k = 0; k <= cell_mask_; ++k) {
        const unsigned index = (start + k) & cell_mask_;
        auto& cell = cells_[index].slot;
        pool_slot* s = cell.load(std::memory_order_relaxed);
        if (s == blocked_mark()) return nullptr;  // someone waits, or closed: the locked path
        // Acquire: pairs with the release that put the slot there, so its fields are ours.
        // A pointer, not a list: taking the same slot after it went and came back is right.
        if (s && cell.compare_exchange_strong(s, nullptr, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
            s->home_cell = index;  // returned there: no second CPU lookup
            return s;
        }
    }
    return nullptr;
}

// Puts an idle, ready slot into cell `start` (the one it was taken from, or this CPU's), where
// the next acquire on this CPU looks first (most recently returned first, as on the idle list);
// a slot it displaces moves to an empty cell. Returns null when done, or the slot that found no
// cell (every cell full or blocked): `s`, or the displaced one, which the caller then owns and
// returns under the mutex.
HOLDFAST_POOL_INLINE pool_slot* pool_core::try_put_cell(pool_slot* s, unsigned start) noexcept {
    auto& home = cells_[start & cell_mask_].slot;
    pool_slot* current = home.load(std::memory_order_relaxed);
    for (;;) {
        // The blocked mark sends a release racing with a new waiter to the locked path.
        if (current == blocked_mark()) return s;
        // Release publishes this slot's fields to whoever takes it; acquire makes the
        // displaced one's ours.
        if (home.compare_exchange_weak(current, s, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
            break;
        }
    }
    if (!current) return nullptr;
    s = current;
    for (unsigned k = 1; k <= cell_mask_; ++k) {
        auto& cell = cells_[(start + k) & cell_mask_].slot;
        pool_slot* other = cell.load(std::memory_order_relaxed);
        if (other == blocked_mark()) return s;
        if (!other && cell.compare_exchange_strong(other, s, std::memory_order_release,
                                                   std::memory_order_relaxed)) {
            return nullptr;
        }
        if (other == blocked_mark()) return s;
    }
    return s;
}

// The lease bookkeeping of the fast path: the slot is ours, no lock needed. Counted in
// fast_uses (summed by stats()) instead of the locked counters.
HOLDFAST_POOL_INLINE void pool_core::lease_fast(pool_slot* s, std::source_location where) noexcept {
    ++s->uses;
    s->fast_uses.store(s->fast_uses.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    s->fast_leased = true;
    s->acquired_at = where;
    s->leak_reported = false;
}

// A slot taken from a cell that expire_all() retired after its return raced past the check:
// destroy it instead of handing it out. True when it was stale.
HOLDFAST_POOL_INLINE bool pool_core::retire_stale_fast(pool_slot* s) noexcept {
    if (s->generation == generation_.load(std::memory_order_relaxed)) return false;
    doomed_list doomed;
    {
        std::lock_guard lock(mutex_);
        --in_use_;
        retire_locked(s, close_reason::expired, doomed);
    }
    destroy_all(doomed);
    return true;
}

// An idle slot for the locked path: the idle list first, then the cells.
pool_slot* pool_core::take_idle_locked(doomed_list& doomed) noexcept {
    if (pool_slot* s = idle_.pop_front()) return s;
    while (pool_slot* s = try_take_cell()) {
        --in_use_;  // out of the cells: idle under the mutex, about to be leased
        if (s->generation == generation_.load(std::memory_order_relaxed)) return s;
        retire_locked(s, close_reason::expired, doomed);  // stale: see retire_stale_fast
    }
    return nullptr;
}

// Opens the fast path again once nothing needs the locked one.
void pool_core::unblock_cells_locked() noexcept {
    if (!cells_blocked_ || stamp_lease_time_ || closed_ || waiters_.head || size_ > max_size_) {
        return;
    }
    cells_blocked_ = false;
    for (unsigned i = 0; i <= cell_mask_; ++i) {
        cells_[i].slot.store(nullptr, std::memory_order_release);
    }
}

// Closes the fast path: called with a new waiter queued (no barging past it), on close(),
// and when the pool is over max_size.
void pool_core::block_cells_locked(doomed_list& doomed) noexcept {
    if (cells_blocked_) return;
    cells_blocked_ = true;
    // Take every slot a release put there before the mark; they go to the oldest waiters
    // (or are retired) now. Collected first: delivering may unblock the cells again.
    pool_slot* swept = nullptr;
    for (unsigned i = 0; i <= cell_mask_; ++i) {
        pool_slot* s = cells_[i].slot.exchange(blocked_mark(), std::memory_order_acq_rel);
        if (s && s != blocked_mark()) {
            --in_use_;
            s->next = swept;
            swept = s;
        }
    }
    while (pool_slot* s = swept) {
        swept = s->next;
        s->next = nullptr;
        deliver_locked(s, s->last_returned, doomed);
    }
}

// Moves the slots in the cells to the idle list (maintenance, resize, expire_all look there).
void pool_core::sweep_cells_locked() noexcept {
    if (cells_blocked_) return;
    for (unsigned i = 0; i <= cell_mask_; ++i) {
        pool_slot* s = cells_[i].slot.load(std::memory_order_relaxed);
        if (!s || s == blocked_mark()) continue;
        s = cells_[i].slot.exchange(nullptr, std::memory_order_acquire);
        if (!s) continue;
        --in_use_;
        idle_.push_front(s);
    }
}

std::size_t pool_core::cells_count() const noexcept {
    std::size_t n = 0;
    for (unsigned i = 0; i <= cell_mask_; ++i) {
        pool_slot* s = cells_[i].slot.load(std::memory_order_relaxed);
        if (s && s != blocked_mark()) ++n;
    }
    return n;
}

void pool_core::retire_locked(pool_slot* s, close_reason reason, doomed_list& doomed) noexcept {
    --size_;
    ++counters_.destroyed;
    (s->all_prev ? s->all_prev->all_next : all_head_) = s->all_next;
    if (s->all_next) s->all_next->all_prev = s->all_prev;
    s->all_prev = s->all_next = nullptr;
    retired_fast_uses_ += s->fast_uses.load(std::memory_order_relaxed);
    switch (reason) {
        case close_reason::broken:
            ++counters_.closed_broken;
            break;
        case close_reason::idle:
            ++counters_.closed_idle;
            break;
        case close_reason::lifetime:
            ++counters_.closed_lifetime;
            break;
        case close_reason::max_uses:
            ++counters_.closed_max_uses;
            break;
        case close_reason::expired:
            ++counters_.closed_expired;
            break;
        case close_reason::pool_closed:
        case close_reason::none:
            ++counters_.closed_pool_closed;
            break;
    }
    doomed.push(s);
    // The pool shrank: a waiter may now need a creation, the fast path may reopen.
    start_creations_locked();
    notify_drained_locked();
    unblock_cells_locked();
}

// Completes async_close() waiters once a closed pool has nothing out any more.
void pool_core::notify_drained_locked() noexcept {
    if (!closed_ || in_use_ != 0 || creating_ != 0) return;
    while (pool_waiter* w = drainers_.head) {
        drainers_.unlink(w);
        w->done = true;
        w->wake();
    }
}

void pool_core::finish_waiter_locked(pool_waiter& w, pool_slot* s,
                                     std::exception_ptr error) noexcept {
    waiters_.unlink(&w);
    w.slot = s;
    w.error = std::move(error);
    w.done = true;
    w.wake();
    unblock_cells_locked();
}

// A ready resource (returned and reset, or new) goes straight to the oldest waiter: no
// barging by an acquire that arrives later.
HOLDFAST_POOL_INLINE void pool_core::deliver_locked(pool_slot* s, pool_time now,
                                                    doomed_list& doomed) noexcept {
    if (closed_) {
        retire_locked(s, close_reason::pool_closed, doomed);
        return;
    }
    if (size_ > max_size_ || s->generation != generation_.load(std::memory_order_relaxed)) {
        retire_locked(s, close_reason::expired, doomed);
        return;
    }
    if (pool_waiter* w = waiters_.head) {
        lease_locked(s, w->where, now);
        waits_.record(clock_.precise_now() - w->enqueued_at);
        finish_waiter_locked(*w, s, nullptr);
        return;
    }
    s->last_returned = now;
    // Into a cell when the fast path is open, so the next acquire need not lock. The cells
    // count as in use (see in_use_): one more there unless a slot came back out.
    if (!cells_blocked_) {
        s = try_put_cell(s, cell_hint());
        if (!s) {
            ++in_use_;
            return;
        }
    }
    idle_.push_front(s);
}

void pool_core::enqueue_locked(pool_waiter& w, bool front, doomed_list& doomed) noexcept {
    if (front) {
        waiters_.push_front(&w);
    } else {
        waiters_.push_back(&w);
    }
    // No barging from now on: releases come through the mutex, and a slot a release put in a
    // cell before goes to the oldest waiter (perhaps this one) instead of waiting there.
    block_cells_locked(doomed);
    start_creations_locked();
}

// Starts creations while waiters outnumber creations in flight, up to
// max_concurrent_creations and max_size. A blocking waiter runs the creation in its own
// thread (it has nothing else to do); otherwise it is posted to the executor.
void pool_core::start_creations_locked() noexcept {
    if (closed_) return;
    const std::size_t wanted = std::min(waiters_.count, options_.max_concurrent_creations);
    while (creating_ < wanted && size_ < max_size_) {
        pool_waiter* creator = nullptr;
        // An asynchronous factory runs on the executor only: a blocked thread cannot drive it.
        for (pool_waiter* w = ops_->creates_asynchronously() ? nullptr : waiters_.tail; w;
             w = w->prev) {
            if (!w->is_async && !w->create_requested) {
                creator = w;
                break;
            }
        }
        if (!creator && !executor_) return;
        ++creating_;
        ++size_;
        if (creator) {
            creator->create_requested = true;
            creator->wake();
        } else {
            try {
                asio::post(*executor_, [self = shared_from_this()] { self->run_creation(true); });
            } catch (...) {
                --creating_;
                --size_;
                return;
            }
        }
    }
}

void pool_core::run_creation(bool for_waiters) noexcept {
    pool_slot* s = nullptr;
    std::exception_ptr error;
    const auto started = clock_.precise_now();
    if (ops_->creates_asynchronously()) {
        try {
            ops_->start_create(*executor_, [self = shared_from_this(), for_waiters, started](
                                               pool_slot* slot, std::exception_ptr e) {
                self->finish_creation(for_waiters, started, slot, std::move(e));
            });
            return;
        } catch (...) {
            error = std::current_exception();  // could not even start
        }
    } else {
        try {
            s = ops_->create();
        } catch (...) {
            error = std::current_exception();
        }
    }
    finish_creation(for_waiters, started, s, std::move(error));
}

void pool_core::finish_creation(bool for_waiters, pool_time started, pool_slot* s,
                                std::exception_ptr error) noexcept {
    const auto now = clock_.precise_now();
    doomed_list doomed;
    {
        std::lock_guard lock(mutex_);
        --creating_;
        creation_times_.record(now - started);
        if (s) {
            ++counters_.created;
            s->created_at = s->last_returned = now;
            s->expires_at = lifetime_end_locked(now);
            s->generation = generation_.load(std::memory_order_relaxed);
            s->all_next = all_head_;
            if (all_head_) all_head_->all_prev = s;
            all_head_ = s;
            retry_backoff_ = options_.initial_retry_backoff;
            deliver_locked(s, now, doomed);
        } else {
            --size_;
            notify_drained_locked();
            unblock_cells_locked();
            ++counters_.creation_failures;
            last_creation_error_ = error;
            if (for_waiters && waiters_.head) {
                // The oldest waiter would have received the resource: it receives the
                // failure, so an outage surfaces at once with its real cause.
                finish_waiter_locked(*waiters_.head, nullptr, error);
            } else {
                // A background refill failed: back off, doubling, with jitter.
                next_refill_ =
                    add_saturating(now, retry_backoff_ - jitter_locked(retry_backoff_, 0.2));
                retry_backoff_ = std::min(retry_backoff_ * 2, options_.max_retry_backoff);
            }
        }
        start_creations_locked();
    }
    destroy_all(doomed);
}

pool_slot* pool_core::acquire(std::source_location where) {
    bool front = false;  // true to retry first in line after a failed validation
    // The fast path: a resource idle in a cell (so nobody waits and the pool is open). No
    // lock, no clock read.
    while (pool_slot* s = try_take_cell()) {
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

pool_slot* pool_core::acquire_blocking_once(std::source_location where, pool_time& deadline,
                                            bool front) {
    doomed_list doomed;
    std::unique_lock lock(mutex_);
    for (;;) {
        if (closed_) throw pool_closed("pool '" + options_.name + "' is closed");
        if (waiters_.head) break;
        pool_slot* s = take_idle_locked(doomed);
        if (s) {
            // No clock read unless leak detection needs the lease time.
            lease_locked(s, where, stamp_lease_time_ ? clock_.now() : pool_time{});
            waits_.record_immediate();
            lock.unlock();
            destroy_all(doomed);
            return s;
        }
        if (!doomed.head) break;
        // Stale slots from the cells: destroyed outside the lock, then look again.
        lock.unlock();
        destroy_all(doomed);
        lock.lock();
    }
    const auto now = clock_.precise_now();
    if (deadline == pool_time::min()) deadline = add_saturating(now, options_.acquire_timeout);
    if (options_.max_waiting != 0 && waiters_.count >= options_.max_waiting) {
        ++counters_.timeouts;
        std::rethrow_exception(timeout_error_locked(nanoseconds::zero(), true, false));
    }
    blocking_waiter w;
    w.where = where;
    w.enqueued_at = now;
    w.deadline = deadline;
    enqueue_locked(w, front, doomed);
    if (doomed.head) {
        lock.unlock();
        destroy_all(doomed);
        lock.lock();
    }
    const auto real_deadline = timer_expiry(deadline);
    std::optional<std::chrono::steady_clock::time_point> wait_deadline;
    if (real_deadline != std::chrono::steady_clock::time_point::max()) {
        wait_deadline = real_deadline;
    }
    bool timed_out = false;
    for (;;) {
        if (w.create_requested) {
            if (closed_) {
                // Reserved before the close: give the reservation back instead of opening a
                // resource only to destroy it.
                --creating_;
                --size_;
                notify_drained_locked();
            } else {
                lock.unlock();
                run_creation(true);
                lock.lock();
            }
            w.create_requested = false;
            // This waiter was skipped as a creator while busy: if its creation failed for an
            // older waiter, it may need another one now.
            start_creations_locked();
            continue;
        }
        if (w.done) {
            if (w.error) std::rethrow_exception(w.error);
            return w.slot;
        }
        if (timed_out) {
            waiters_.unlink(&w);
            unblock_cells_locked();
            ++counters_.timeouts;
            std::rethrow_exception(
                timeout_error_locked(clock_.precise_now() - w.enqueued_at, false, false));
        }
        lock.unlock();
        timed_out = !w.wait_until(wait_deadline);
        lock.lock();
    }
}

bool pool_core::validate_or_retire(pool_slot* s) noexcept {
    if (!has_validate_) return true;
    const auto now = clock_.now();
    if (!validation_due(*s, now)) return true;
    bool valid = false;
    try {
        valid = ops_->validate(*s);
    } catch (...) {
        valid = false;
    }
    if (valid) return true;
    doomed_list doomed;
    {
        std::lock_guard lock(mutex_);
        unlease_locked(s);
        // It was never handed out.
        if (s->fast_leased) {
            s->fast_uses.store(s->fast_uses.load(std::memory_order_relaxed) - 1,
                               std::memory_order_relaxed);
        } else {
            --counters_.acquired;
        }
        ++counters_.validation_failures;
        retire_locked(s, close_reason::broken, doomed);
    }
    destroy_all(doomed);
    return false;
}

void pool_core::release(pool_slot* s, bool discard) noexcept {
    std::shared_ptr<pool_core> last_reference;  // destroyed last, after the mutex is released
    // With an executor, the time of the latest maintenance pass (at most one
    // maintenance_interval old): no clock read on the fast path. Without one, the one clock
    // read of the fast path, devirtualized for the default clock.
    const auto now = executor_
                         ? pool_time(pool_clock::duration(tick_.load(std::memory_order_relaxed)))
                     : default_clock_ ? coarse_now()
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
        // Outside the lock: a rollback may take a network round trip.
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
    // waiter. Once the slot is in a cell, *this may be gone: touch nothing after.
    if (reason == close_reason::none &&
        (executor_ ||
         now.time_since_epoch().count() < next_maintenance_tick_.load(std::memory_order_relaxed)) &&
        s->generation == generation_.load(std::memory_order_relaxed)) {
        s->last_returned = now;
        // Done, unless a slot is left over: this one, or one it displaced from a cell (idle
        // and ready too, and counted in in_use_ like this one: the locked path below treats
        // either alike).
        s = try_put_cell(s, s->home_cell);
        if (!s) return;
    }
    doomed_list doomed;
    bool maintenance_due = false;
    {
        std::lock_guard lock(mutex_);
        unlease_locked(s);
        if (reset_failed) ++counters_.reset_failures;
        if (reason != close_reason::none) {
            retire_locked(s, reason, doomed);
        } else {
            deliver_locked(s, now, doomed);
        }
        if (orphaned_ && in_use_ == 0) last_reference = std::move(keep_alive_);
        maintenance_due = !executor_ && !closed_ && now >= next_maintenance_;
    }
    destroy_all(doomed);
    // Lazy maintenance never runs the factory here: a lease's destructor must not block on a
    // connect. Without an executor, min_size comes back through acquires and explicit
    // run_maintenance() calls.
    if (maintenance_due) maintain(false);
}

try_acquire_result pool_core::try_acquire_or_enqueue(async_waiter& w, std::source_location where,
                                                     pool_time deadline, bool front,
                                                     void (*arm)(void*), void* arg) {
    try_acquire_result result;
    // The fast path, as in acquire().
    while (pool_slot* s = try_take_cell()) {
        if (retire_stale_fast(s)) continue;
        lease_fast(s, where);
        result.slot = s;
        return result;
    }
    // Stale slots taken from the cells are destroyed after the mutex is released.
    struct destroy_later {
        pool_core& core;
        doomed_list doomed;
        ~destroy_later() { core.destroy_all(doomed); }
    } later{*this, {}};
    std::lock_guard lock(mutex_);
    if (closed_) {
        result.error = closed_error();
        return result;
    }
    pool_slot* idle = waiters_.head ? nullptr : take_idle_locked(later.doomed);
    if (idle) {
        pool_slot* s = idle;
        lease_locked(s, where, stamp_lease_time_ ? clock_.now() : pool_time{});
        waits_.record_immediate();
        result.slot = s;
        return result;
    }
    if (options_.max_waiting != 0 && waiters_.count >= options_.max_waiting) {
        ++counters_.timeouts;
        result.error = timeout_error_locked(nanoseconds::zero(), true, false);
        return result;
    }
    const auto now = clock_.precise_now();
    w.done = false;
    w.slot = nullptr;
    w.error = nullptr;
    w.where = where;
    w.enqueued_at = now;
    w.deadline = deadline;
    // Armed before anyone can wake the waiter: a wake is a cancel of the pending wait.
    arm(arg);
    enqueue_locked(w, front, later.doomed);
    result.enqueued = true;
    return result;
}

try_acquire_result pool_core::finish_async_wait(async_waiter& w, std::error_code ec) {
    try_acquire_result result;
    std::lock_guard lock(mutex_);
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
        waiters_.unlink(&w);
        unblock_cells_locked();
    }
    if (!ec) {
        ++counters_.timeouts;
        result.error = timeout_error_locked(clock_.precise_now() - w.enqueued_at, false, false);
    } else {
        ++counters_.cancelled_waits;
        result.error = std::make_exception_ptr(
            std::system_error(std::make_error_code(std::errc::operation_canceled),
                              "holdfast::pool async_acquire cancelled"));
    }
    return result;
}

void pool_core::abandon(pool_waiter& w) noexcept {
    pool_slot* orphan_slot = nullptr;
    {
        std::lock_guard lock(mutex_);
        if (w.queued && w.draining) {
            drainers_.unlink(&w);
            return;
        }
        if (w.queued) {
            waiters_.unlink(&w);
            unblock_cells_locked();
            ++counters_.cancelled_waits;
            return;
        }
        if (w.done && w.slot) {
            orphan_slot = w.slot;
            w.slot = nullptr;
            w.done = false;
        }
    }
    // The operation died after being served but before completing: return the resource.
    if (orphan_slot) release(orphan_slot, false);
}

void pool_core::close() noexcept {
    doomed_list doomed;
    std::shared_ptr<asio::steady_timer> timer;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        closed_ = true;
        std::exception_ptr error;
        try {
            error = closed_error();
        } catch (...) {
            error = std::current_exception();
        }
        while (pool_waiter* w = waiters_.head) finish_waiter_locked(*w, nullptr, error);
        block_cells_locked(doomed);  // the slots there are retired (closed_ is set)
        while (pool_slot* s = idle_.pop_front())
            retire_locked(s, close_reason::pool_closed, doomed);
        if (maintenance_timer_) {
            try {
                maintenance_timer_->cancel();
            } catch (...) {
            }
        }
        timer = std::move(maintenance_timer_);
    }
    destroy_all(doomed);
}

bool pool_core::start_drain_wait(async_waiter& w, void (*arm)(void*), void* arg) {
    close();
    std::lock_guard lock(mutex_);
    if (in_use_ == 0 && creating_ == 0) return true;
    w.done = false;
    arm(arg);
    drainers_.push_back(&w);
    return false;
}

std::exception_ptr pool_core::finish_drain_wait(async_waiter& w) {
    std::lock_guard lock(mutex_);
    if (w.done) {
        w.done = false;
        return nullptr;
    }
    if (w.queued) drainers_.unlink(&w);
    return std::make_exception_ptr(
        std::system_error(std::make_error_code(std::errc::operation_canceled),
                          "holdfast::pool async_close cancelled (the pool stays closed)"));
}

void pool_core::orphan() noexcept {
    close();
    std::lock_guard lock(mutex_);
    orphaned_ = true;
    if (in_use_ != 0) keep_alive_ = shared_from_this();
}

void pool_core::resize(std::size_t min_size, std::size_t max_size) {
    if (max_size == 0) throw std::invalid_argument("holdfast::pool: max_size must be at least 1");
    if (min_size > max_size) {
        throw std::invalid_argument("holdfast::pool: min_size must not exceed max_size");
    }
    doomed_list doomed;
    {
        std::lock_guard lock(mutex_);
        min_size_ = min_size;
        max_size_ = max_size;
        // Shrink: idle resources above the new maximum go now, the oldest-idle first; leased
        // ones go as they return (deliver_locked checks the size; the cells stay blocked
        // meanwhile, so they return through it).
        sweep_cells_locked();
        while (size_ > max_size_ && idle_.tail) {
            pool_slot* s = idle_.tail;
            idle_.unlink(s);
            retire_locked(s, close_reason::expired, doomed);
        }
        if (size_ > max_size_) block_cells_locked(doomed);
        unblock_cells_locked();
        start_creations_locked();
    }
    destroy_all(doomed);
}

void pool_core::expire_all() noexcept {
    doomed_list doomed;
    {
        std::lock_guard lock(mutex_);
        generation_.fetch_add(1, std::memory_order_relaxed);
        // A release racing with this may still put a slot of the old generation in a cell;
        // acquires check the generation of what they take (retire_stale_fast).
        sweep_cells_locked();
        while (pool_slot* s = idle_.pop_front()) retire_locked(s, close_reason::expired, doomed);
        next_refill_ = pool_time{};
    }
    destroy_all(doomed);
    // Refill min_size (inline without an executor, in the background with one).
    run_maintenance();
}

std::size_t pool_core::reserve_refill_locked(pool_time now) noexcept {
    if (closed_ || now < next_refill_) return 0;
    std::size_t reserved = 0;
    while (size_ < min_size_ && size_ < max_size_) {
        ++size_;
        ++creating_;
        ++reserved;
    }
    return reserved;
}

void pool_core::schedule_maintenance_locked() noexcept {
    if (!executor_ || closed_) return;
    try {
        if (!maintenance_timer_) {
            maintenance_timer_ = std::make_shared<asio::steady_timer>(*executor_);
        }
        auto timer = maintenance_timer_;
        timer->expires_after(options_.maintenance_interval);
        timer->async_wait([weak = weak_from_this(), timer](std::error_code ec) {
            if (ec) return;
            if (auto self = weak.lock()) {
                self->run_maintenance();
                std::lock_guard lock(self->mutex_);
                self->schedule_maintenance_locked();
            }
        });
    } catch (...) {
        report_current_cleanup_error("holdfast::pool background maintenance");
    }
}

void pool_core::run_maintenance() noexcept {
    maintain(true);
}

void pool_core::maintain(bool may_create_inline) noexcept {
    const auto now = clock_.now();
    tick_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    doomed_list doomed;
    struct leak_note {
        nanoseconds held_for;
        std::source_location where;
    };
    // Leak reports are rare; a small fixed buffer keeps maintenance allocation-free, and
    // anything beyond it is reported on the next pass.
    std::array<leak_note, 16> leaks{};
    std::size_t leak_count = 0;
    std::size_t refills = 0;
    {
        std::lock_guard lock(mutex_);
        next_maintenance_ = add_saturating(now, options_.maintenance_interval);
        next_maintenance_tick_.store(next_maintenance_.time_since_epoch().count(),
                                     std::memory_order_relaxed);
        // Idle resources in the cells are examined with the others.
        sweep_cells_locked();
        // Deadlines: with a real clock the waiters time out themselves; with a manual
        // clock this is where time passes for them.
        for (pool_waiter* w = waiters_.head; w;) {
            pool_waiter* next = w->next;
            if (w->deadline <= now) {
                ++counters_.timeouts;
                std::exception_ptr error;
                try {
                    error = timeout_error_locked(now - w->enqueued_at, false, true);
                } catch (...) {
                    error = std::current_exception();
                }
                finish_waiter_locked(*w, nullptr, std::move(error));
            }
            w = next;
        }
        // Idle eviction, oldest-returned first. Leased resources are never touched: they
        // retire on return.
        for (pool_slot* s = idle_.tail; s;) {
            pool_slot* prev = s->prev;
            close_reason reason = close_reason::none;
            if (now >= s->expires_at) {
                reason = close_reason::lifetime;
            } else if (s->generation != generation_.load(std::memory_order_relaxed)) {
                reason = close_reason::expired;
            } else if (options_.idle_timeout > nanoseconds::zero() &&
                       now - s->last_returned >= options_.idle_timeout && size_ > min_size_) {
                reason = close_reason::idle;
            }
            if (reason != close_reason::none) {
                idle_.unlink(s);
                retire_locked(s, reason, doomed);
            }
            s = prev;
        }
        if (stamp_lease_time_) {
            for (pool_slot* s = leased_.head; s && leak_count < leaks.size(); s = s->next) {
                if (!s->leak_reported && now - s->leased_at >= options_.leak_threshold) {
                    s->leak_reported = true;
                    ++counters_.leaks_reported;
                    leaks[leak_count++] = {now - s->leased_at, s->acquired_at};
                }
            }
        }
        if (executor_ || may_create_inline) refills = reserve_refill_locked(now);
        if (refills != 0 && executor_) {
            for (std::size_t i = 0; i < refills; ++i) {
                try {
                    asio::post(*executor_,
                               [self = shared_from_this()] { self->run_creation(false); });
                } catch (...) {
                    --size_;
                    --creating_;
                }
            }
            refills = 0;
        }
    }
    destroy_all(doomed);
    for (std::size_t i = 0; i < leak_count; ++i) {
        ops_->report_leak({options_.name, leaks[i].held_for, leaks[i].where});
    }
    // Without an executor the refill runs here, in the thread that triggered maintenance.
    for (std::size_t i = 0; i < refills; ++i) run_creation(false);
}

pool_stats pool_core::stats() const {
    std::lock_guard lock(mutex_);
    pool_stats s = counters_;
    // The fast path's leases, counted in their slots.
    std::uint64_t fast = retired_fast_uses_;
    for (const pool_slot* slot = all_head_; slot; slot = slot->all_next) {
        fast += slot->fast_uses.load(std::memory_order_relaxed);
    }
    s.acquired += fast;
    // The cells change without the mutex: a count of them moves resources between idle and
    // in use, never out of the total.
    const std::size_t in_cells = std::min(cells_count(), in_use_);
    s.size = size_;
    s.idle = idle_.count + in_cells;
    s.in_use = in_use_ - in_cells;
    s.creating = creating_;
    s.waiting = waiters_.count;
    s.min_size = min_size_;
    s.max_size = max_size_;
    s.closed = closed_;
    s.acquire_wait_p50 = waits_.percentile(0.50, fast);
    s.acquire_wait_p99 = waits_.percentile(0.99, fast);
    s.acquire_wait_max = waits_.max();
    s.creation_time_p50 = creation_times_.percentile(0.50);
    s.creation_time_p99 = creation_times_.percentile(0.99);
    s.creation_time_max = creation_times_.max();
    return s;
}

}  // namespace holdfast::detail
