// holdfast/pool/pool_options.hpp — sizing, deadlines and retirement rules of a pool.
//
//   holdfast::pool_options options{
//       .name = "orders-db",
//       .min_size = 2,
//       .max_size = 10,
//       .acquire_timeout = std::chrono::seconds(5),      // pool_timeout after 5 s, not 30 s
//       .idle_timeout = std::chrono::minutes(5),
//       .max_lifetime = std::chrono::minutes(30),        // minus up to 2.5 % random jitter
//       .validate_after_idle = std::chrono::seconds(1),  // skip validation of hot resources
//       .leak_threshold = std::chrono::seconds(60),      // report leases held longer
//   };
//   holdfast::pool<db_connection> p(io.get_executor(), connect, options);
//   try { auto conn = p.acquire(); ... }
//   catch (const holdfast::pool_timeout& e) { log(e.what()); }  // names pool, size, waiters
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <holdfast/core/time_source.hpp>

namespace holdfast {

/// Configuration of a pool. Durations of zero disable the rule they name, except
/// acquire_timeout, where zero means "fail at once unless a resource is free".
struct pool_options {
    /// An acquire_timeout that never expires: an acquire then waits until served or the pool
    /// closes. Only on request: the default deadline exists because an unbounded wait turns
    /// an outage into a hang.
    static constexpr std::chrono::nanoseconds wait_forever = std::chrono::nanoseconds::max();

    /// Named in error messages, leak reports and stats.
    std::string name = "pool";
    /// Resources kept open even when idle; refilled in the background after evictions.
    std::size_t min_size = 0;
    /// Upper bound on resources open or being opened at once. Must be at least 1.
    std::size_t max_size = 10;
    /// How long acquire() waits before throwing pool_timeout.
    std::chrono::nanoseconds acquire_timeout = std::chrono::seconds(30);
    /// An idle resource unused this long is closed, as long as min_size stays open.
    std::chrono::nanoseconds idle_timeout = std::chrono::minutes(10);
    /// A resource older than this is closed when next idle (never while leased).
    std::chrono::nanoseconds max_lifetime = std::chrono::minutes(30);
    /// Fraction of max_lifetime subtracted at random per resource, so a fleet of pools
    /// created together does not reconnect together.
    double max_lifetime_jitter = 0.025;
    /// A resource leased this many times is closed on return. 0: unlimited.
    std::uint64_t max_uses = 0;
    /// The validate hook is skipped for a resource returned less than this long ago.
    /// 0: validate on every acquire.
    std::chrono::nanoseconds validate_after_idle = std::chrono::milliseconds(500);
    /// A lease held longer than this is reported once, with its acquisition site. 0: off.
    std::chrono::nanoseconds leak_threshold = std::chrono::nanoseconds::zero();
    /// Bound on queued acquires; the next one fails at once with pool_timeout. 0: unbounded.
    std::size_t max_waiting = 0;
    /// Creations running at once on behalf of waiters. Small on purpose: a burst of requests
    /// is mostly served by resources coming back, so opening one per waiter overshoots
    /// (HikariCP's spike test); a cold pool still ramps up, as each creation that finishes
    /// starts the next while waiters remain. Must be at least 1.
    std::size_t max_concurrent_creations = 2;
    /// Period of the background maintenance (eviction, min_size refill, leak detection,
    /// deadlines of a manual clock). Without an executor it runs lazily at this period, on
    /// release. With one, a return is stamped with the time of the latest pass instead of
    /// reading the clock, so idle and lifetime accounting has this resolution (a resource may
    /// be evicted or validated up to one interval early, retired up to one interval late).
    std::chrono::nanoseconds maintenance_interval = std::chrono::seconds(1);
    /// First delay before retrying a failed background creation; doubles up to
    /// max_retry_backoff, with random jitter.
    std::chrono::nanoseconds initial_retry_backoff = std::chrono::milliseconds(100);
    std::chrono::nanoseconds max_retry_backoff = std::chrono::seconds(10);
    /// The time source; null selects coarse_steady_clock. Tests pass a manual_clock.
    std::shared_ptr<const time_source> clock = nullptr;
};

}  // namespace holdfast
