// holdfast/pool/pool_stats.hpp — a consistent snapshot of a pool's state and counters.
//
//   auto s = p.stats();
//   metrics.gauge("pool.in_use", s.in_use);
//   metrics.gauge("pool.waiting", s.waiting);
//   metrics.gauge("pool.acquire_wait_p99_ms", s.acquire_wait_p99 / 1ms);
//   if (s.timeouts > last.timeouts) alert("pool exhausted: {}", s.closed_broken);
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace holdfast {

/// Gauges and counters of one pool, all taken under one lock: `in_use + idle + creating ==
/// size` holds in every snapshot.
struct pool_stats {
    // ---- gauges ----
    /// Resources open or being opened (in_use + idle + creating); never above max_size.
    std::size_t size = 0;
    std::size_t idle = 0;
    std::size_t in_use = 0;
    /// Creations in flight (each already counted in size).
    std::size_t creating = 0;
    /// Acquires queued for a resource.
    std::size_t waiting = 0;
    std::size_t min_size = 0;
    std::size_t max_size = 0;
    bool closed = false;

    // ---- counters since construction ----
    /// Leases handed out.
    std::uint64_t acquired = 0;
    /// Resources created, and creations that threw.
    std::uint64_t created = 0;
    std::uint64_t creation_failures = 0;
    /// Resources destroyed, for any reason (the closed_* counters below add up to this).
    std::uint64_t destroyed = 0;
    /// Acquires that gave up with pool_timeout (including rejections by max_waiting).
    std::uint64_t timeouts = 0;
    /// Asynchronous acquires cancelled while waiting.
    std::uint64_t cancelled_waits = 0;
    /// Validate / reset hooks that returned false or threw.
    std::uint64_t validation_failures = 0;
    std::uint64_t reset_failures = 0;
    /// Leases reported by leak detection.
    std::uint64_t leaks_reported = 0;

    // ---- closes by reason ----
    /// discard(), a failed reset or validate, or a fatal error in a with() body.
    std::uint64_t closed_broken = 0;
    /// Idle past idle_timeout.
    std::uint64_t closed_idle = 0;
    /// Older than max_lifetime.
    std::uint64_t closed_lifetime = 0;
    /// Leased max_uses times.
    std::uint64_t closed_max_uses = 0;
    /// Retired by expire_all() or resize() to a smaller max_size.
    std::uint64_t closed_expired = 0;
    /// Destroyed because the pool was closed.
    std::uint64_t closed_pool_closed = 0;

    // ---- acquire wait ----
    /// Percentiles of the time from acquire to lease, over every acquire since construction
    /// (immediate ones count as zero). Resolution: a factor of two above 1 µs.
    std::chrono::nanoseconds acquire_wait_p50{0};
    std::chrono::nanoseconds acquire_wait_p99{0};
    std::chrono::nanoseconds acquire_wait_max{0};

    // ---- creation time ----
    /// Percentiles of the time the factory (and on_create) took, failed attempts included.
    /// Same resolution as the acquire wait.
    std::chrono::nanoseconds creation_time_p50{0};
    std::chrono::nanoseconds creation_time_p99{0};
    std::chrono::nanoseconds creation_time_max{0};
};

}  // namespace holdfast
