// Creation and maintenance: opening resources for waiters (never more than they need) and for
// min_size (with backoff after failures), and the periodic pass that evicts idle and expired
// resources, times out waiters of a manual clock and reports leaks.
#include <array>

#include "pool_state.hpp"
#include <asio/post.hpp>

#include <holdfast/core/cleanup_error.hpp>

namespace holdfast::detail {

using std::chrono::nanoseconds;

std::chrono::nanoseconds pool_state::jitter_locked(nanoseconds d, double fraction) noexcept {
    // splitmix64: a few instructions, no thread-local state, guarded by the pool's mutex.
    std::uint64_t z = (random_state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const double unit = static_cast<double>(z >> 11) * 0x1.0p-53;  // [0, 1)
    return nanoseconds(
        static_cast<nanoseconds::rep>(static_cast<double>(d.count()) * fraction * unit));
}

pool_time pool_state::lifetime_end_locked(pool_time now) noexcept {
    if (options_.max_lifetime <= nanoseconds::zero()) return pool_time::max();
    const auto lifetime =
        options_.max_lifetime - jitter_locked(options_.max_lifetime, options_.max_lifetime_jitter);
    return add_saturating(now, lifetime);
}

// A new slot joins the pool's bookkeeping (its size was reserved when the creation began).
void pool_state::adopt_created_locked(pool_slot* s, pool_time now) noexcept {
    ++statistics_.counters.created;
    s->created_at = s->last_returned = now;
    s->expires_at = lifetime_end_locked(now);
    s->generation = generation_.load(std::memory_order_relaxed);
    all_.push_front(s);
}

// Starts creations while waiters outnumber creations in flight, up to
// max_concurrent_creations and max_size. A blocking waiter runs the creation in its own
// thread (it has nothing else to do; the youngest is chosen); otherwise it is posted to the
// executor.
void pool_state::start_creations_locked() noexcept {
    if (closed_) return;
    const std::size_t wanted = std::min(waiters_.size(), options_.max_concurrent_creations);
    while (creating_ < wanted && size_ < max_size_) {
        blocking_waiter* creator = nullptr;
        // An asynchronous factory runs on the executor only: a blocked thread cannot drive it.
        for (pool_waiter* w = ops_->creates_asynchronously() ? nullptr : waiters_.back(); w;
             w = waiter_queue::prev(w)) {
            if (!w->is_async && !w->create_requested) {
                creator = static_cast<blocking_waiter*>(w);
                break;
            }
        }
        if (!creator && !executor_) return;
        ++creating_;
        ++size_;
        if (creator) {
            creator->create_requested = true;
            creator->request_creation();
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

void pool_state::run_creation(bool for_waiters) noexcept {
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

void pool_state::finish_creation(bool for_waiters, pool_time started, pool_slot* s,
                                 std::exception_ptr error) noexcept {
    const auto now = clock_.precise_now();
    lock l(*this);
    --creating_;
    statistics_.creation_times.record(now - started);
    if (s) {
        adopt_created_locked(s, now);
        retry_backoff_ = options_.initial_retry_backoff;
        deliver_locked(s, now);
    } else {
        --size_;
        notify_drained_locked();
        unblock_cells_locked();
        ++statistics_.counters.creation_failures;
        last_creation_error_ = error;
        if (for_waiters && !waiters_.empty()) {
            // The oldest waiter would have received the resource: it receives the failure, so
            // an outage surfaces at once with its real cause.
            finish_waiter_locked(*waiters_.front(), nullptr, error);
        } else {
            // A background refill failed: back off, doubling, with jitter.
            next_refill_ = add_saturating(now, retry_backoff_ - jitter_locked(retry_backoff_, 0.2));
            retry_backoff_ = std::min(retry_backoff_ * 2, options_.max_retry_backoff);
        }
    }
    start_creations_locked();
}

std::size_t pool_state::reserve_refill_locked(pool_time now) noexcept {
    if (closed_ || now < next_refill_) return 0;
    std::size_t reserved = 0;
    while (size_ < min_size_ && size_ < max_size_) {
        ++size_;
        ++creating_;
        ++reserved;
    }
    return reserved;
}

void pool_state::schedule_maintenance_locked() noexcept {
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
                self->maintain(true);
                lock l(*self);
                self->schedule_maintenance_locked();
            }
        });
    } catch (...) {
        report_current_cleanup_error("holdfast::pool background maintenance");
    }
}

void pool_state::maintain(bool may_create_inline) noexcept {
    const auto now = clock_.now();
    tick_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
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
        lock l(*this);
        next_maintenance_ = add_saturating(now, options_.maintenance_interval);
        next_maintenance_tick_.store(next_maintenance_.time_since_epoch().count(),
                                     std::memory_order_relaxed);
        // Idle resources in the cells are examined with the others.
        in_use_ -= idle_.sweep();
        // Deadlines: with a real clock the waiters time out themselves; with a manual clock
        // this is where time passes for them.
        for (pool_waiter* w = waiters_.front(); w;) {
            pool_waiter* next = waiter_queue::next(w);
            if (w->deadline <= now) {
                ++statistics_.counters.timeouts;
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
        for (pool_slot* s = idle_.list.back(); s;) {
            pool_slot* prev = slot_list::prev(s);
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
                idle_.list.unlink(s);
                retire_locked(s, reason);
            }
            s = prev;
        }
        if (stamp_lease_time_) {
            for (pool_slot* s = leased_.front(); s && leak_count < leaks.size();
                 s = slot_list::next(s)) {
                if (!s->leak_reported && now - s->leased_at >= options_.leak_threshold) {
                    s->leak_reported = true;
                    ++statistics_.counters.leaks_reported;
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
    for (std::size_t i = 0; i < leak_count; ++i) {
        ops_->report_leak({options_.name, leaks[i].held_for, leaks[i].where});
    }
    // Without an executor the refill runs here, in the thread that triggered maintenance.
    for (std::size_t i = 0; i < refills; ++i) run_creation(false);
}

}  // namespace holdfast::detail
