// holdfast/pool/pool_clock.hpp — the time source a pool reads, replaceable for tests.
//
//   auto clock = std::make_shared<holdfast::manual_clock>();
//   holdfast::pool<fake_connection> p(make_connection, {.idle_timeout = std::chrono::minutes(10),
//                                                       .clock = clock});
//   { auto l = p.acquire(); }                 // returned: idle since "now"
//   clock->advance(std::chrono::minutes(11));  // no sleep: time moves when the test says so
//   p.run_maintenance();                       // the idle resource is evicted
#pragma once

#include <atomic>
#include <chrono>

namespace holdfast {

/// A monotonic time source for pool deadlines, idle and lifetime accounting, and leak
/// detection.
///
/// @par Thread safety
/// now() is called concurrently from every thread using the pool.
class pool_clock {
  public:
    using duration = std::chrono::nanoseconds;
    /// Time points share std::chrono::steady_clock's epoch, so a real clock's deadlines can be
    /// handed to condition variables and Asio timers directly.
    using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

    virtual ~pool_clock() = default;

    /// The current time, read on every release: may be coarse (a few milliseconds).
    virtual time_point now() const noexcept = 0;

    /// The current time, precisely: read only when an acquire has to wait, for its deadline
    /// and the wait-time statistics. By default the same as now().
    virtual time_point precise_now() const noexcept { return now(); }

    /// True when now() follows real time, so blocking and asynchronous waits can sleep until a
    /// deadline. False for a manual clock: deadlines then pass only in run_maintenance().
    virtual bool follows_real_time() const noexcept = 0;
};

/// The default clock: the steady clock at a coarse resolution (a few milliseconds on Linux,
/// CLOCK_MONOTONIC_COARSE). Pool deadlines are seconds, and a precise read costs several times
/// more than the whole uncontended acquire/release, so the pool reads this one on its fast path.
class coarse_steady_clock final : public pool_clock {
  public:
    time_point now() const noexcept override;
    time_point precise_now() const noexcept override {
        return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
    }
    bool follows_real_time() const noexcept override { return true; }

    /// The process-wide instance pools use when none is given.
    static const coarse_steady_clock& instance() noexcept;
};

/// A clock that moves only when told to: for tests, so they never sleep.
///
/// @par Thread safety
/// advance() and set() may be called while other threads read now().
class manual_clock final : public pool_clock {
  public:
    time_point now() const noexcept override { return time_point(duration(ticks_.load())); }
    bool follows_real_time() const noexcept override { return false; }

    /// Moves the clock forward by `d`.
    void advance(duration d) noexcept { ticks_.fetch_add(d.count()); }

  private:
    // Starts well after the epoch so "now - long ago" never underflows in tests.
    std::atomic<duration::rep> ticks_{
        std::chrono::duration_cast<duration>(std::chrono::hours(24 * 365)).count()};
};

}  // namespace holdfast
