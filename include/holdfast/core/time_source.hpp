// holdfast/core/time_source.hpp — the one clock abstraction of the library: where the pool,
// timed blocks and stream metrics read the time, replaceable by a manual clock in tests.
//
//   auto clock = std::make_shared<holdfast::manual_clock>();
//   holdfast::pool<fake_connection> p(make_connection, {.idle_timeout = std::chrono::minutes(10),
//                                                       .clock = clock});
//   { auto l = p.acquire(); }                  // returned: idle since "now"
//   clock->advance(std::chrono::minutes(11));  // no sleep: time moves when the test says so
//   p.run_maintenance();                       // the idle resource is evicted
//
//   // The same clock drives a timed block or a stream's metrics:
//   holdfast::timing::timed_block t("load", {}, *clock);
//   auto measured = holdfast::with_metrics(chunks, *clock);
#pragma once

#include <atomic>
#include <chrono>

#include <time.h>

namespace holdfast {

/// A monotonic time source. Time points share std::chrono::steady_clock's epoch, so a real
/// source's deadlines can be handed to condition variables and Asio timers directly.
///
/// It is also a `std::chrono`-style clock object: `now()` returns a time point whose
/// differences are durations, so anything that reads "an object with now()" accepts it.
///
/// @par Thread safety
/// now() and precise_now() are called concurrently from every thread that uses the source.
class time_source {
  public:
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

    virtual ~time_source() = default;

    /// The current time; may be coarse (a few milliseconds), for bookkeeping on hot paths.
    virtual time_point now() const noexcept = 0;

    /// The current time, precisely: for deadlines and measured durations. By default the same
    /// as now().
    virtual time_point precise_now() const noexcept { return now(); }

    /// True when the source follows real time, so blocking and asynchronous waits can sleep
    /// until a deadline. False for a manual clock: its deadlines pass only when a test moves
    /// it and asks (e.g. pool::run_maintenance()).
    virtual bool follows_real_time() const noexcept = 0;
};

/// The steady clock, read coarsely by now() (CLOCK_MONOTONIC_COARSE on Linux: a few
/// milliseconds of resolution, several times cheaper than a precise read) and precisely by
/// precise_now(). The default source of the pool, whose deadlines are seconds.
class coarse_steady_clock final : public time_source {
  public:
    /// Without the virtual call, for code that knows it has this source.
    static time_point coarse_now() noexcept {
#if defined(CLOCK_MONOTONIC_COARSE)
        // Same epoch as CLOCK_MONOTONIC (std::chrono::steady_clock on Linux), read from the
        // vDSO without the TSC arithmetic.
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
#else
        return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
#endif
    }

    time_point now() const noexcept override {
        return coarse_now();
    }
    time_point precise_now() const noexcept override {
        return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
    }
    bool follows_real_time() const noexcept override {
        return true;
    }

    /// The process-wide instance used when no source is given.
    static const coarse_steady_clock& instance() noexcept {
        static const coarse_steady_clock clock;
        return clock;
    }
};

/// A source that moves only when told to: for tests, so they never sleep.
///
/// @par Thread safety
/// advance() may be called while other threads read now().
class manual_clock final : public time_source {
  public:
    time_point now() const noexcept override {
        return time_point(duration(ticks_.load(std::memory_order_relaxed)));
    }
    bool follows_real_time() const noexcept override { return false; }

    /// Moves the clock forward by `d`.
    void advance(duration d) noexcept { ticks_.fetch_add(d.count(), std::memory_order_relaxed); }

  private:
    // Starts well after the epoch so "now - long ago" never underflows in tests.
    std::atomic<duration::rep> ticks_{
        std::chrono::duration_cast<duration>(std::chrono::hours(24 * 365)).count()};
};

}  // namespace holdfast
