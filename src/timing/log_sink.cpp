#include <chrono>
#include <vector>

#include <holdfast/timing/log_sink.hpp>

namespace holdfast::timing {

void log_sink::log(log_level level, std::string_view message,
                   std::initializer_list<log_field> fields) {
    if (!should_log(level)) return;
    write_event({message, level, std::chrono::system_clock::now(),
                 std::span<const log_field>(fields.begin(), fields.size())});
}

}  // namespace holdfast::timing
