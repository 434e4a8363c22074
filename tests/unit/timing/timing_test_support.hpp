// Test helpers for the timing layer: a fake clock and a sink that captures events.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <holdfast/timing/log_event.hpp>
#include <holdfast/timing/log_sink.hpp>

namespace holdfast_test {

/// A steady clock that moves only when a test advances it, so durations are exact and no test
/// sleeps. Static state, like std::chrono clocks: tests reset it in their fixture.
struct fake_clock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<fake_clock>;
    static constexpr bool is_steady = true;

    static time_point now() noexcept { return time_point(duration(ticks.load())); }
    static void advance(duration by) noexcept { ticks += by.count(); }
    static void reset() noexcept { ticks = 0; }

    static inline std::atomic<rep> ticks{0};
};

/// An owning copy of a log_event.
struct captured_event {
    std::string message;
    holdfast::timing::log_level level;
    std::chrono::system_clock::time_point timestamp;
    std::vector<holdfast::timing::log_field> fields;

    std::optional<holdfast::timing::field_value> field(std::string_view key) const {
        for (const auto& f : fields) {
            if (f.key == key) return f.value;
        }
        return std::nullopt;
    }
};

/// Copies every event it receives.
class capture_sink final : public holdfast::timing::log_sink {
  public:
    std::vector<captured_event> events() const {
        const std::lock_guard lock(mutex_);
        return events_;
    }

  private:
    void write_event(const holdfast::timing::log_event& event) override {
        const std::lock_guard lock(mutex_);
        events_.push_back({std::string(event.message),
                           event.level,
                           event.timestamp,
                           {event.fields.begin(), event.fields.end()}});
    }

    mutable std::mutex mutex_;
    std::vector<captured_event> events_;
};

}  // namespace holdfast_test
