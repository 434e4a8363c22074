#include <stdexcept>
#include <utility>

#include "timing/render_to.hpp"
#include <spdlog/logger.h>

#include <holdfast/timing/spdlog_sink.hpp>

namespace holdfast::timing {

namespace {

spdlog::level::level_enum to_spdlog(log_level level) noexcept {
    switch (level) {
        case log_level::trace:
            return spdlog::level::trace;
        case log_level::debug:
            return spdlog::level::debug;
        case log_level::info:
            return spdlog::level::info;
        case log_level::warning:
            return spdlog::level::warn;
        case log_level::error:
            return spdlog::level::err;
        case log_level::critical:
            return spdlog::level::critical;
        case log_level::off:
            return spdlog::level::off;
    }
    return spdlog::level::info;
}

}  // namespace

spdlog_sink::spdlog_sink(std::shared_ptr<spdlog::logger> logger, log_format format)
    : logger_(std::move(logger)), format_(format) {
    if (!logger_) throw std::invalid_argument("holdfast::timing::spdlog_sink: null logger");
}

spdlog_sink::~spdlog_sink() = default;

void spdlog_sink::write_event(const log_event& event) {
    const auto level = to_spdlog(event.level);
    // Skip rendering when the logger would drop the line anyway.
    if (!logger_->should_log(level)) return;
    detail::render_buffer line;
    if (format_ == log_format::json_lines) {
        detail::render_json_to(line, event);
    } else {
        detail::render_key_value_to(line, event);
    }
    logger_->log(level, spdlog::string_view_t(line.data(), line.size()));
}

std::shared_ptr<spdlog_sink> make_json_lines_sink(std::shared_ptr<spdlog::logger> logger) {
    return std::make_shared<spdlog_sink>(std::move(logger), log_format::json_lines);
}

std::shared_ptr<spdlog_sink> make_key_value_sink(std::shared_ptr<spdlog::logger> logger) {
    return std::make_shared<spdlog_sink>(std::move(logger), log_format::key_value);
}

}  // namespace holdfast::timing
