#include <string>
#include <typeinfo>

#include <fmt/format.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/timing/timed_block.hpp>

namespace holdfast::timing::detail {

namespace {

std::string describe(const std::exception_ptr& error) {
    if (!error) return unwinding_exception().what();
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

}  // namespace

void start_timed_block(std::vector<log_field>& fields, std::initializer_list<log_field> caller) {
    // Room for "error" too, so ending a failed block does not reallocate.
    fields.reserve(caller.size() + 2);
    fields.push_back({"duration_seconds", 0.0});
    fields.insert(fields.end(), caller.begin(), caller.end());
}

void end_timed_block(log_sink& sink, std::string_view name, std::vector<log_field>& fields,
                     std::chrono::nanoseconds elapsed, block_end end,
                     const std::exception_ptr& error) noexcept {
    try {
        const bool failed = end != block_end::completed;
        const log_level level = failed ? log_level::error : log_level::info;
        if (!sink.should_log(level)) return;
        fmt::basic_memory_buffer<char, 128> message;
        message.append(name.data(), name.data() + name.size());
        const std::string_view suffix = failed ? " failed" : " completed";
        message.append(suffix.data(), suffix.data() + suffix.size());
        fields.front().value = rounded_seconds(elapsed);
        if (failed) fields.push_back({"error", describe(error)});
        sink.write({std::string_view(message.data(), message.size()), level,
                    std::chrono::system_clock::now(), fields});
    } catch (...) {
        report_current_cleanup_error("holdfast::timing::timed_block");
    }
}

}  // namespace holdfast::timing::detail
