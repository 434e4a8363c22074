// holdfast/timing/spdlog_sink.hpp — a sink that renders events and hands each line to spdlog.
//
//   // Route holdfast's events into the service's own rotating log file, as JSON lines:
//   auto file = spdlog::rotating_logger_mt("events", "/var/log/svc/events.jsonl", 10 << 20, 3);
//   file->set_pattern("%v");                   // the line already has timestamp and level
//   holdfast::timing::set_default_sink(holdfast::timing::make_json_lines_sink(file));
//   // If the file cannot be written, spdlog's error handler reports it (spdlog never throws
//   // from log calls by default), and the timed code is not affected.
#pragma once

#include <memory>

#include <holdfast/timing/log_sink.hpp>

namespace spdlog {
class logger;
}  // namespace spdlog

namespace holdfast::timing {

/// The text form a spdlog_sink writes.
enum class log_format : unsigned char {
    json_lines,  ///< one JSON object per line, for machines: see render_json()
    key_value,   ///< `timestamp [level] message key=value`, for people: see render_key_value()
};

/// Renders each event with render_json() or render_key_value() and logs the line through a
/// spdlog logger at the matching spdlog level (warning → warn, error → err), so the logger's
/// own level, sinks, flushing and error handler apply.
///
/// The logger's pattern is its owner's business; give it `"%v"` to get bare lines (the
/// rendered line already carries the timestamp and level).
///
/// @par Thread safety
/// Safe to use from any number of threads when the logger's sinks are the `_mt` kind: each
/// event is rendered on the calling thread into a private buffer and passed to spdlog as one
/// message, so lines never interleave.
class spdlog_sink final : public log_sink {
  public:
    /// Preconditions: `logger` is not null.
    spdlog_sink(std::shared_ptr<spdlog::logger> logger, log_format format);
    ~spdlog_sink() override;

    /// The logger lines go to.
    const std::shared_ptr<spdlog::logger>& logger() const noexcept { return logger_; }
    /// The text form of the lines.
    log_format format() const noexcept { return format_; }

  private:
    void write_event(const log_event& event) override;

    std::shared_ptr<spdlog::logger> logger_;
    log_format format_;
};

/// A spdlog_sink writing JSON lines to `logger`.
std::shared_ptr<spdlog_sink> make_json_lines_sink(std::shared_ptr<spdlog::logger> logger);

/// A spdlog_sink writing key=value lines to `logger`.
std::shared_ptr<spdlog_sink> make_key_value_sink(std::shared_ptr<spdlog::logger> logger);

}  // namespace holdfast::timing
