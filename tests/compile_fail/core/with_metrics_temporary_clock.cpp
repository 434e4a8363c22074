// with_metrics' generator keeps a pointer to its time source and reads it while the stream is
// consumed, after the call has returned: a temporary source would be gone by then, so passing
// one is rejected.
#include <string>
#include <vector>

#include <holdfast/core/stream_metrics.hpp>
#include <holdfast/core/time_source.hpp>

int main() {
    const std::vector<std::string> chunks{"a", "b"};
    holdfast::manual_clock clock;
    auto measured = holdfast::with_metrics(chunks, clock);  // fine: the clock outlives it
    for (auto&& chunk : measured) (void)chunk;
#ifdef HOLDFAST_COMPILE_FAIL
    auto dangling = holdfast::with_metrics(chunks, holdfast::manual_clock());
#endif
}
