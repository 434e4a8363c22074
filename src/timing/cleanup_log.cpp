#include <stdexcept>
#include <string>
#include <utility>

#include <holdfast/timing/cleanup_log.hpp>
#include <holdfast/timing/default_sink.hpp>

namespace holdfast::timing {

namespace {

void log_cleanup_error(log_sink& sink, const std::exception_ptr& error, std::string_view where) {
    if (!sink.should_log(log_level::error)) return;
    std::string what = "no exception";
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
            what = "unknown exception";
        }
    }
    sink.log(log_level::error, "cleanup error", {{"where", where}, {"error", std::move(what)}});
}

}  // namespace

holdfast::cleanup_error_handler log_cleanup_errors_to(std::shared_ptr<log_sink> sink) {
    if (!sink) throw std::invalid_argument("holdfast::timing::log_cleanup_errors_to: null sink");
    return holdfast::set_cleanup_error_handler(
        [sink = std::move(sink)](std::exception_ptr error, std::string_view where) {
            log_cleanup_error(*sink, error, where);
        });
}

holdfast::cleanup_error_handler log_cleanup_errors_to_default_sink() {
    return holdfast::set_cleanup_error_handler(
        [](std::exception_ptr error, std::string_view where) {
            log_cleanup_error(default_sink(), error, where);
        });
}

}  // namespace holdfast::timing
