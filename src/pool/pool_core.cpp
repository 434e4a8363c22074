// pool_core's entry points: the interface pool<T> compiles against, forwarding to the state
// (pool_state.hpp), and the asynchronous waiter's out-of-line members.
#include "pool_state.hpp"

namespace holdfast::detail {

std::shared_ptr<pool_core> pool_core::make(pool_options options, std::unique_ptr<resource_ops> ops,
                                           std::optional<asio::any_io_executor> executor) {
    auto state =
        std::make_shared<pool_state>(std::move(options), std::move(ops), std::move(executor));
    state->start();
    return state;
}

// acquire() and release() are in lease_cycle.cpp, beside the fast path they inline.
try_acquire_result pool_core::try_acquire_or_enqueue(async_waiter& waiter,
                                                     std::source_location where, pool_time deadline,
                                                     bool front, void (*arm)(void*), void* arg) {
    return pool_state::of(*this).try_acquire_or_enqueue(waiter, where, deadline, front, arm, arg);
}
try_acquire_result pool_core::finish_async_wait(async_waiter& waiter, std::error_code ec) {
    return pool_state::of(*this).finish_async_wait(waiter, ec);
}
bool pool_core::start_drain_wait(async_waiter& waiter, void (*arm)(void*), void* arg) {
    return pool_state::of(*this).start_drain_wait(waiter, arm, arg);
}
std::exception_ptr pool_core::finish_drain_wait(async_waiter& waiter) {
    return pool_state::of(*this).finish_drain_wait(waiter);
}
bool pool_core::validate_or_retire(pool_slot* slot) noexcept {
    return pool_state::of(*this).validate_or_retire(slot);
}
void pool_core::abandon(pool_waiter& waiter) noexcept {
    pool_state::of(*this).abandon(waiter);
}
pool_time pool_core::acquire_deadline() const noexcept {
    return pool_state::of(*this).acquire_deadline();
}
std::chrono::steady_clock::time_point pool_core::timer_expiry(pool_time deadline) const noexcept {
    return pool_state::of(*this).timer_expiry(deadline);
}
void pool_core::close() noexcept {
    pool_state::of(*this).close();
}
void pool_core::resize(std::size_t min_size, std::size_t max_size) {
    pool_state::of(*this).resize(min_size, max_size);
}
void pool_core::expire_all() noexcept {
    pool_state::of(*this).expire_all();
}
void pool_core::run_maintenance() noexcept {
    pool_state::of(*this).maintain(true);
}
pool_stats pool_core::stats() const {
    return pool_state::of(*this).stats();
}
void pool_core::orphan() noexcept {
    pool_state::of(*this).orphan();
}
bool pool_core::is_fatal_error(const std::exception_ptr& error) const noexcept {
    return pool_state::of(*this).ops_->is_fatal_error(error);
}
const std::optional<asio::any_io_executor>& pool_core::executor() const noexcept {
    return pool_state::of(*this).executor_;
}
std::string_view pool_core::name() const noexcept {
    return pool_state::of(*this).options_.name;
}

// ---- async waiter -------------------------------------------------------------------------

async_waiter::~async_waiter() {
    if (core_) core_->abandon(*this);
}

// A waiter that goes away: out of the queue, or its resource back if it was served.
void pool_state::abandon(pool_waiter& w) noexcept {
    pool_slot* served = nullptr;
    {
        lock l(*this);
        if (w.queued && w.draining) {
            drainers_.unlink(w);
            return;
        }
        if (w.queued) {
            waiters_.unlink(w);
            unblock_cells_locked();
            ++statistics_.counters.cancelled_waits;
            return;
        }
        if (w.done && w.slot) {
            served = std::exchange(w.slot, nullptr);
            w.done = false;
        }
    }
    // The operation died after being served but before completing: return the resource.
    if (served) release(served, false);
}

void async_waiter::wake() noexcept {
    try {
        timer_.cancel();
    } catch (...) {
        // cancel() fails only if the reactor's descriptor is broken; nothing to do here.
    }
}

}  // namespace holdfast::detail
