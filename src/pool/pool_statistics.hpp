// The pool's statistics: counters by event, histograms of acquire waits and creation times,
// and the snapshot pool::stats() returns. Guarded by the pool's mutex, except what the fast
// path counts in its slots (pool_slot::fast_uses), which the snapshot adds up.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <holdfast/pool/pool_stats.hpp>

namespace holdfast::detail {

/// Why a resource was destroyed (pool_stats counts each).
enum class close_reason { none, broken, idle, lifetime, max_uses, expired, pool_closed };

/// Histogram of durations: bucket 0 is "immediate" (under 1 µs), bucket i > 0 holds
/// [2^(i-1), 2^i) µs. A percentile is reported as its bucket's upper bound, never above the
/// largest value seen: at most 2× off, in constant memory and time.
class duration_histogram {
  public:
    void record(std::chrono::nanoseconds d) noexcept;
    void record_immediate() noexcept { ++buckets_[0]; }
    /// `extra_immediate` more values counted in bucket 0 (the fast path's acquires).
    std::chrono::nanoseconds percentile(double q, std::uint64_t extra_immediate = 0) const noexcept;
    std::chrono::nanoseconds max() const noexcept { return max_; }

  private:
    std::array<std::uint64_t, 48> buckets_{};
    std::chrono::nanoseconds max_{0};
};

/// Counters and histograms of one pool.
class pool_statistics {
  public:
    /// The counters, by name: the pool increments them where the events happen.
    pool_stats counters;
    duration_histogram acquire_waits;
    duration_histogram creation_times;

    void count_close(close_reason reason) noexcept;

    /// The counters and percentiles, with the `fast_acquires` taken without the mutex (counted
    /// as immediate waits); the caller fills in the gauges.
    pool_stats snapshot(std::uint64_t fast_acquires) const noexcept;
};

}  // namespace holdfast::detail
