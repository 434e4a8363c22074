#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <holdfast/timing/default_sink.hpp>
#include <holdfast/timing/spdlog_sink.hpp>

namespace holdfast::timing {

namespace {

// The fast path reads `current`; the registry owns the sinks. Installed sinks are never
// released, because a block on another thread may hold a raw pointer to any of them, and the
// registry itself is never destroyed, because blocks may end during static destruction.
struct registry {
    std::mutex mutex;
    std::shared_ptr<log_sink> installed;                // null: the automatic default
    std::vector<std::shared_ptr<log_sink>> keep_alive;  // every sink ever made current
};

registry& the_registry() {
    static registry* const instance = new registry;
    return *instance;
}

std::atomic<log_sink*> current{nullptr};

}  // namespace

log_sink& default_sink() {
    if (log_sink* sink = current.load(std::memory_order_acquire)) return *sink;
    registry& reg = the_registry();
    const std::lock_guard lock(reg.mutex);
    if (log_sink* sink = current.load(std::memory_order_acquire)) return *sink;
    auto sink = make_default_sink();
    reg.keep_alive.push_back(sink);
    current.store(sink.get(), std::memory_order_release);
    return *sink;
}

std::shared_ptr<log_sink> set_default_sink(std::shared_ptr<log_sink> sink) {
    registry& reg = the_registry();
    const std::lock_guard lock(reg.mutex);
    if (sink) reg.keep_alive.push_back(sink);
    current.store(sink.get(), std::memory_order_release);
    return std::exchange(reg.installed, std::move(sink));
}

std::shared_ptr<log_sink> make_default_sink() {
    auto logger = spdlog::get("holdfast");
    const bool own_logger = !logger;
    if (own_logger) {
        logger = std::make_shared<spdlog::logger>(
            "holdfast", std::make_shared<spdlog::sinks::stdout_sink_mt>());
        logger->set_pattern("%v");
        logger->set_level(spdlog::level::trace);  // the sink's threshold decides, not spdlog
    }
    log_format format =
        own_logger && ::isatty(STDOUT_FILENO) == 1 ? log_format::key_value : log_format::json_lines;
    if (const char* requested = std::getenv("HOLDFAST_LOG_FORMAT")) {
        const std::string_view name(requested);
        if (name == "json") format = log_format::json_lines;
        if (name == "key_value") format = log_format::key_value;
    }
    return std::make_shared<spdlog_sink>(std::move(logger), format);
}

}  // namespace holdfast::timing
