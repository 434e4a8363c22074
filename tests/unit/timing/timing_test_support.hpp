// Test helpers for the timing layer: a sink that captures events. (Tests time blocks on a
// holdfast::manual_clock.)
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <holdfast/timing/log_event.hpp>
#include <holdfast/timing/log_sink.hpp>

namespace holdfast_test {

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
