// S9 — O(n) accumulation of a stream.
//
// Python's strings are immutable, so `content += chunk` copies everything so far on every
// chunk (O(n²)) and the seed collects a list and joins once. In C++ the trap is
// `content = content + chunk` (a new string per chunk); holdfast::accumulate is the join:
// one allocation when the chunks can be measured first, amortized growth when they arrive
// one by one.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <holdfast/core/generator.hpp>
#include <holdfast/core/stream_accumulator.hpp>

namespace {

// A stream that can be read only once, like a socket: 1000 log lines produced on demand.
holdfast::generator<std::string> log_lines(int count) {
    for (int i = 0; i < count; ++i) co_yield "line " + std::to_string(i) + ": ok\n";
}

// The quadratic shape, for comparison: a new, ever longer string for every chunk.
std::string quadratic_accumulate(const std::vector<std::string>& chunks, std::size_t& copied) {
    std::string content;
    for (const auto& chunk : chunks) {
        content = content + chunk;
        copied += content.size();
    }
    return content;
}

}  // namespace

int main() {
    // A one-pass stream: appended as it arrives, the buffer doubling as needed.
    const std::string streamed = holdfast::accumulate(log_lines(1000));
    std::cout << "streamed: " << streamed.size()
              << " bytes, first line: " << std::string_view(streamed).substr(0, streamed.find('\n'))
              << '\n';

    // Chunks already in memory: measured first, then copied into one exact allocation.
    std::vector<std::string> chunks;
    for (auto&& line : log_lines(1000)) chunks.push_back(std::move(line));
    const std::string joined = holdfast::accumulate(chunks);
    std::cout << "joined:   " << joined.size() << " bytes in one allocation (capacity "
              << joined.capacity() << ")\n";

    std::size_t copied = 0;
    const std::string slow = quadratic_accumulate(chunks, copied);
    std::cout << "content = content + chunk copied " << copied << " bytes to build " << slow.size()
              << " (" << copied / slow.size() << "x the content)\n";

    return streamed == joined && joined == slow ? 0 : 1;
}
