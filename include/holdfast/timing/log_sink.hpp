// holdfast/timing/log_sink.hpp — where structured events go: the pluggable sink interface.
//
//   // A sink that forwards warnings and errors to an alerting queue, nothing else:
//   class alert_sink final : public holdfast::timing::log_sink {
//     public:
//       explicit alert_sink(alert_queue& queue) : queue_(queue) {
//           set_level(holdfast::timing::log_level::warning);  // info events never reach
//           write_event
//       }
//     private:
//       void write_event(const holdfast::timing::log_event& event) override {
//           queue_.push(std::string(event.message));   // copy: the event is a view
//       }   // if push throws, the exception reaches the caller of write() (timed_block
//           // reports it through the cleanup error handler instead)
//       alert_queue& queue_;
//   };
#pragma once

#include <atomic>
#include <initializer_list>
#include <string_view>

#include <holdfast/timing/log_event.hpp>

namespace holdfast::timing {

/// The destination of structured events: JSON lines, key=value text, a test capture, nothing.
///
/// Derive and implement write_event(). The level threshold lives in the base class so that
/// producers (timed_block) can skip all work for a disabled sink with one relaxed load and no
/// virtual call.
///
/// @par Thread safety
/// write(), log(), should_log() and set_level() may be called concurrently; an implementation
/// of write_event() must be thread safe itself (the library's sinks are).
/// @par Exception safety
/// write() propagates what write_event() throws. Producers that run in destructors (timed_block,
/// the cleanup error route) catch it and hand it to holdfast::report_cleanup_error().
class log_sink {
  public:
    log_sink() = default;
    log_sink(const log_sink&) = delete;
    log_sink& operator=(const log_sink&) = delete;
    virtual ~log_sink() = default;

    /// Writes `event` if its level passes the threshold.
    void write(const log_event& event) {
        if (should_log(event.level)) write_event(event);
    }

    /// Builds an event stamped with the current system time and writes it.
    void log(log_level level, std::string_view message,
             std::initializer_list<log_field> fields = {});

    /// True when an event of `level` would be written.
    bool should_log(log_level level) const noexcept {
        return level >= threshold_.load(std::memory_order_relaxed) && level != log_level::off;
    }

    /// Events below `level` are dropped; log_level::off drops everything. Default: trace.
    void set_level(log_level level) noexcept { threshold_.store(level, std::memory_order_relaxed); }

    /// The current threshold.
    log_level level() const noexcept { return threshold_.load(std::memory_order_relaxed); }

  private:
    /// Renders and outputs one event that passed the threshold. The event is a view, valid
    /// only during the call.
    virtual void write_event(const log_event& event) = 0;

    std::atomic<log_level> threshold_{log_level::trace};
};

}  // namespace holdfast::timing
