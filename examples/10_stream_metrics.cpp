// S10 — streaming with metrics: pass a slow stream through unchanged and report its time to
// first byte, total time, chunk count and bytes, printed with the seed's dict keys.
#include <array>
#include <chrono>
#include <iostream>
#include <string_view>
#include <thread>

#include <holdfast/core/generator.hpp>
#include <holdfast/core/stream_metrics.hpp>

namespace {

using namespace std::chrono_literals;

constexpr std::array<std::string_view, 3> tokens{"Deterministic ", "cleanup, ", "every path."};

// A slow source, e.g. a model streaming tokens: 4 ms before the first chunk, 2 ms between the
// others. (Sleeping is fine in an example; the unit tests pass a holdfast::manual_clock instead.)
holdfast::generator<std::string_view> slow_tokens() {
    std::this_thread::sleep_for(4ms);
    for (std::string_view token : tokens) {
        co_yield token;
        std::this_thread::sleep_for(2ms);
    }
}

}  // namespace

int main() {
    auto measured = holdfast::with_metrics(slow_tokens());
    for (std::string_view chunk : measured) std::cout << chunk << std::flush;
    std::cout << '\n';

    const holdfast::stream_metrics& metrics = measured.result();
    std::cout << metrics << '\n';  // same text as holdfast::to_json(metrics)

    const bool plausible = metrics.chunk_count == tokens.size() && metrics.total_bytes == 34 &&
                           metrics.time_to_first_byte >= 4ms &&
                           metrics.total_time >= metrics.time_to_first_byte + 6ms;
    return plausible ? 0 : 1;
}
