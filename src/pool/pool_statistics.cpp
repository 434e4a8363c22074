#include "pool_statistics.hpp"

#include <algorithm>
#include <bit>

namespace holdfast::detail {

using std::chrono::nanoseconds;

void duration_histogram::record(nanoseconds d) noexcept {
    const auto micros = static_cast<std::uint64_t>(std::max<nanoseconds::rep>(d.count(), 0)) / 1000;
    const auto index = std::min<std::size_t>(std::bit_width(micros), buckets_.size() - 1);
    ++buckets_[index];
    max_ = std::max(max_, d);
}

nanoseconds duration_histogram::percentile(double q, std::uint64_t extra_immediate) const noexcept {
    std::uint64_t total = extra_immediate;
    for (auto n : buckets_) total += n;
    if (total == 0) return nanoseconds(0);
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
    std::uint64_t seen = extra_immediate;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen >= rank) {
            if (i == 0) return nanoseconds(0);
            return std::min(max_, nanoseconds(std::int64_t{1000} << i));
        }
    }
    return max_;
}

void pool_statistics::count_close(close_reason reason) noexcept {
    ++counters.destroyed;
    switch (reason) {
        case close_reason::broken:
            ++counters.closed_broken;
            break;
        case close_reason::idle:
            ++counters.closed_idle;
            break;
        case close_reason::lifetime:
            ++counters.closed_lifetime;
            break;
        case close_reason::max_uses:
            ++counters.closed_max_uses;
            break;
        case close_reason::expired:
            ++counters.closed_expired;
            break;
        case close_reason::pool_closed:
        case close_reason::none:
            ++counters.closed_pool_closed;
            break;
    }
}

pool_stats pool_statistics::snapshot(std::uint64_t fast_acquires) const noexcept {
    pool_stats s = counters;
    s.acquired += fast_acquires;
    s.acquire_wait_p50 = acquire_waits.percentile(0.50, fast_acquires);
    s.acquire_wait_p99 = acquire_waits.percentile(0.99, fast_acquires);
    s.acquire_wait_max = acquire_waits.max();
    s.creation_time_p50 = creation_times.percentile(0.50);
    s.creation_time_p99 = creation_times.percentile(0.99);
    s.creation_time_max = creation_times.max();
    return s;
}

}  // namespace holdfast::detail
