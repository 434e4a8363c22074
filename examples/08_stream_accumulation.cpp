// S8 — streaming with accumulation: show a chunked response as it arrives, keep the whole
// content at the end, and refuse chunks once the result is finalized.
//
// Python: stream_with_accumulation(response) yields (accumulated_content, new_chunk) and
// returns the final content. holdfast::with_accumulation does the same over one growing
// buffer: O(n) in total instead of re-joining every chunk so far at every step.
#include <array>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <holdfast/core/generator.hpp>
#include <holdfast/core/stream_accumulator.hpp>

namespace {

constexpr std::array<std::string_view, 4> response_body{"The quick ", "brown fox ", "jumps over ",
                                                        "the lazy dog."};

// A fake chunked HTTP response: each chunk arrives as a new string, once.
holdfast::generator<std::string> fake_response() {
    for (std::string_view chunk : response_body) co_yield std::string(chunk);
}

}  // namespace

int main() {
    // 1. Step by step: (accumulated so far, new chunk). The views are valid until the next step.
    auto steps = holdfast::with_accumulation(fake_response());
    for (auto [so_far, chunk] : steps) {
        std::cout << "+ \"" << chunk << "\"\n    so far: \"" << so_far << "\"\n";
    }
    const std::string content = std::move(steps).result();  // the generator's return value
    std::cout << "final content (" << content.size() << " bytes): " << content << '\n';

    // 2. The accumulator itself (Python's StreamingResult).
    holdfast::stream_accumulator result;
    for (auto&& chunk : fake_response()) result.add_chunk(chunk);
    const std::string_view finalized = result.finalize();
    std::cout << "finalized after " << result.chunk_count() << " chunks: " << finalized << '\n';

    // 3. A finalized stream refuses more chunks; its content stays readable.
    try {
        result.add_chunk(" And then some.");
        std::cerr << "error: a chunk was added to a finalized stream\n";
        return 1;
    } catch (const std::logic_error& e) {
        std::cout << "add_chunk after finalize refused: " << e.what() << '\n';
    }
    std::cout << "content is still: " << result.content() << '\n';
    return result.content() == content ? 0 : 1;
}
