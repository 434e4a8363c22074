// The pool's idle resources: a list kept under the pool's mutex, and in front of it a small
// array of idle cells that acquires and releases use without the mutex (the fast path).
//
// Each cell is one cache line holding a slot pointer, null, or the "blocked" mark. Without
// waiters, an acquire takes a slot out of a cell with one compare-exchange and a release puts
// it back with another. Whenever the lock-free path must not be used — someone waits (FIFO: a
// returned resource must go to the oldest waiter), the pool is closed or over max_size, leak
// detection needs the leased list — the mutex holder exchanges every cell with the blocked
// mark, taking the slots there (block()): a release racing with it either put its slot in a
// cell before (and the block hands it on) or finds the cell blocked and returns under the
// mutex. An acquire that queues blocks the cells after enqueuing, so no return is lost.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <thread>

#include "intrusive_list.hpp"
#include <sched.h>

#include <holdfast/pool/detail/pool_core.hpp>

// The fast path's helpers are small and called from a few places: inline them.
#if defined(__GNUC__)
#define HOLDFAST_POOL_INLINE [[gnu::always_inline]] inline
#else
#define HOLDFAST_POOL_INLINE inline
#endif

namespace holdfast::detail {

using slot_list = intrusive_list<pool_slot, &pool_slot::link>;
using all_slots_list = intrusive_list<pool_slot, &pool_slot::all_link>;

/// Where a thread starts looking in the idle cells: its current CPU (glibc reads it from the
/// rseq area or the vDSO, no system call), so threads on different CPUs use different cells
/// and cache lines. Only a hint for speed, not thread-local state: a coroutine that moves to
/// another thread simply starts elsewhere.
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

/// The idle cells and the idle list. The cells' contents count as in use for the pool (a slot
/// moves between a lease and a cell without the mutex); everything else here is guarded by the
/// pool's mutex.
class idle_set {
  public:
    /// Starts blocked: the fast path opens once the pool is set up.
    idle_set()
        : cell_mask_(std::bit_ceil(std::clamp(std::thread::hardware_concurrency(), 4u, 64u)) - 1),
          cells_(std::make_unique<idle_cell[]>(cell_mask_ + 1)) {
        for (unsigned i = 0; i <= cell_mask_; ++i) {
            cells_[i].slot.store(blocked_mark(), std::memory_order_relaxed);
        }
    }

    // ---- without the mutex ----

    /// Takes an idle slot out of a cell, or null when every cell is empty or blocked.
    HOLDFAST_POOL_INLINE pool_slot* try_take() noexcept {
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

    /// Puts an idle, ready slot into cell `start` (the one it was taken from, or this CPU's),
    /// where the next acquire on this CPU looks first; a slot it displaces moves to an empty
    /// cell. Returns null when done, or the slot that found no cell (every cell full or
    /// blocked): `s`, or the displaced one, which the caller then owns and returns under the
    /// mutex. Once a slot is in a cell, another thread may take it or close the pool.
    HOLDFAST_POOL_INLINE pool_slot* try_put(pool_slot* s, unsigned start) noexcept {
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

    // ---- with the pool's mutex held ----

    bool blocked() const noexcept { return blocked_; }

    /// Opens the fast path.
    void unblock() noexcept {
        if (!blocked_) return;
        blocked_ = false;
        for (unsigned i = 0; i <= cell_mask_; ++i) {
            cells_[i].slot.store(nullptr, std::memory_order_release);
        }
    }

    /// Closes the fast path and moves the slots the cells held onto `taken` (they leave the
    /// in-use count: the number is returned).
    std::size_t block(slot_list& taken) noexcept {
        if (blocked_) return 0;
        blocked_ = true;
        std::size_t n = 0;
        for (unsigned i = 0; i <= cell_mask_; ++i) {
            pool_slot* s = cells_[i].slot.exchange(blocked_mark(), std::memory_order_acq_rel);
            if (s && s != blocked_mark()) {
                taken.push_back(s);
                ++n;
            }
        }
        return n;
    }

    /// Moves the slots in the cells to the idle list, leaving the fast path open (for
    /// maintenance, resize and expire_all, which look there). Returns how many moved.
    std::size_t sweep() noexcept {
        if (blocked_) return 0;
        std::size_t n = 0;
        for (unsigned i = 0; i <= cell_mask_; ++i) {
            pool_slot* s = cells_[i].slot.load(std::memory_order_relaxed);
            if (!s || s == blocked_mark()) continue;
            s = cells_[i].slot.exchange(nullptr, std::memory_order_acquire);
            if (!s || s == blocked_mark()) continue;
            list.push_front(s);
            ++n;
        }
        return n;
    }

    /// How many cells hold a slot now (a snapshot: they change without the mutex).
    std::size_t in_cells() const noexcept {
        std::size_t n = 0;
        for (unsigned i = 0; i <= cell_mask_; ++i) {
            pool_slot* s = cells_[i].slot.load(std::memory_order_relaxed);
            if (s && s != blocked_mark()) ++n;
        }
        return n;
    }

    /// Idle slots outside the cells, most recently returned first: the tail ages out by
    /// idle_timeout.
    slot_list list;

  private:
    static pool_slot* blocked_mark() noexcept {
        return reinterpret_cast<pool_slot*>(std::uintptr_t{1});
    }
    struct alignas(64) idle_cell {
        // Written without the mutex only null -> slot (a release) and slot -> null (an
        // acquire); the mark is set and cleared with the mutex held.
        std::atomic<pool_slot*> slot{nullptr};
    };

    const unsigned cell_mask_;  // cell count - 1 (a power of two, at least one per CPU)
    const std::unique_ptr<idle_cell[]> cells_;
    bool blocked_ = true;
};

}  // namespace holdfast::detail
