// holdfast/core/stream_metrics.hpp — time a chunked stream while passing it through (S10).
//
//   auto measured = holdfast::with_metrics(response.chunks());
//   try {
//       for (std::string_view chunk : measured) out.write(chunk);
//   } catch (const network_error&) {
//       throw;                              // no metrics for a failed stream: result() throws
//   }
//   log.info("{}", holdfast::to_json(measured.result()));
//   // {"time_to_first_byte_ms": 12.34, "total_time_ms": 56.78, "chunk_count": 3, "total_bytes":
//   42}
#pragma once

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <ranges>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <holdfast/core/generator.hpp>
#include <holdfast/core/stream_accumulator.hpp>
#include <holdfast/core/time_source.hpp>

namespace holdfast {

/// What `with_metrics` measured about one stream (S10's dict, with `std::chrono` durations).
struct stream_metrics {
    /// From the start of iteration (the first resume) to the arrival of the first chunk;
    /// zero when the stream had no chunk.
    std::chrono::nanoseconds time_to_first_byte{0};
    /// From the start of iteration to the exhaustion of the stream, including the time the
    /// consumer spent between chunks (as in the seed).
    std::chrono::nanoseconds total_time{0};
    std::size_t chunk_count = 0;
    /// The sum of the chunks' sizes in bytes (Python's `len(chunk.encode())`: C++ chunks are
    /// already bytes).
    std::size_t total_bytes = 0;

    friend bool operator==(const stream_metrics&, const stream_metrics&) = default;
};

namespace detail {

// The coroutine behind with_metrics(). Chunks is `T&` for an lvalue range (the frame keeps a
// reference) and `T` for an rvalue (the frame owns the moved range). The frame keeps a pointer
// to the clock.
template <class Chunks>
generator<std::ranges::range_reference_t<Chunks>, stream_metrics> measure_each(
    Chunks chunks, const time_source* clock) {
    const time_source::time_point start = clock->precise_now();
    const auto elapsed = [&]() -> std::chrono::nanoseconds { return clock->precise_now() - start; };
    stream_metrics metrics;
    for (auto&& chunk : chunks) {
        if (metrics.chunk_count == 0) metrics.time_to_first_byte = elapsed();
        ++metrics.chunk_count;
        metrics.total_bytes += std::string_view(chunk).size();
        co_yield std::forward<decltype(chunk)>(chunk);
    }
    metrics.total_time = elapsed();
    co_return metrics;
}

// Writes |ns| as milliseconds with exactly two decimals, rounded half to even on the exact
// integer value (see to_json).
inline void append_milliseconds(std::string& out, std::chrono::nanoseconds duration) {
    const std::int64_t count = duration.count();
    // Magnitude in unsigned arithmetic, so that the most negative value does not overflow.
    const std::uint64_t magnitude = count < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(count)
                                              : static_cast<std::uint64_t>(count);
    constexpr std::uint64_t ns_per_hundredth = 10'000;  // 0.01 ms
    std::uint64_t hundredths = magnitude / ns_per_hundredth;
    const std::uint64_t remainder = magnitude % ns_per_hundredth;
    constexpr std::uint64_t half = ns_per_hundredth / 2;
    if (remainder > half || (remainder == half && hundredths % 2 == 1)) ++hundredths;

    char digits[24];
    const auto [end, error] = std::to_chars(digits, digits + sizeof digits, hundredths / 100);
    (void)error;  // 20 digits at most: the buffer is large enough
    if (count < 0 && hundredths != 0) out += '-';
    out.append(digits, end);
    const auto fraction = static_cast<unsigned>(hundredths % 100);
    out += '.';
    out += static_cast<char>('0' + fraction / 10);
    out += static_cast<char>('0' + fraction % 10);
}

inline void append_unsigned(std::string& out, std::size_t value) {
    char digits[24];
    const auto [end, error] = std::to_chars(digits, digits + sizeof digits, value);
    (void)error;
    out.append(digits, end);
}

}  // namespace detail

/// Passes a stream's chunks through unchanged while measuring it, and returns the
/// `stream_metrics` through `result()` — S10's `stream_with_metrics`.
///
/// The elements are the source's own (`*it` has the source range's reference type, e.g.
/// `const std::string&` for a `const std::vector<std::string>&`, `std::string&&` for a
/// `generator<std::string>`): nothing is copied. The clock (`clock`'s precise_now(); by default
/// std::chrono::steady_clock through coarse_steady_clock::instance()) is read once when
/// iteration starts (the first resume, i.e. `begin()` — the generator is lazy), once per stream
/// at the first chunk, and once at exhaustion: O(1) extra work per chunk. Tests pass a
/// holdfast::manual_clock and advance it.
///
/// @par Object lifetimes
/// An lvalue range is referenced, not copied: it must outlive the returned generator. An rvalue
/// range is moved into the generator's frame. The frame keeps a pointer to `clock`, which must
/// outlive the generator (the default source always does); a temporary source is rejected at
/// compile time.
/// @par Errors
/// An exception from the range reaches the consumer at the increment that asked for the next
/// chunk; the generator then has no result (`result()` throws `std::logic_error`): a failed
/// stream has no metrics.
template <chunk_range Chunks>
[[nodiscard]] generator<std::ranges::range_reference_t<Chunks>, stream_metrics> with_metrics(
    Chunks&& chunks, const time_source& clock = coarse_steady_clock::instance()) {
    return detail::measure_each<Chunks>(std::forward<Chunks>(chunks), &clock);
}

/// Rejects a temporary time source: the generator would keep a dangling pointer to it.
template <chunk_range Chunks>
void with_metrics(Chunks&& chunks, const time_source&& clock) = delete;

/// The metrics as one JSON object with the seed's keys and units:
/// `{"time_to_first_byte_ms": 12.34, "total_time_ms": 56.78, "chunk_count": 3, "total_bytes": 42}`.
///
/// Durations are milliseconds with exactly two decimals (`12.30`, `0.00`), where Python's
/// `json.dumps` would print `12.3` and, for a stream without chunks, the integer `0`: the same
/// numbers to any JSON reader, in a fixed format. Rounding is half to even — the rule of
/// Python's `round(x, 2)` — applied to the exact integer number of nanoseconds:
/// 1'234'999 ns → `1.23`, 1'235'001 ns → `1.24`, and the exact ties 1'225'000 ns → `1.22`,
/// 1'235'000 ns → `1.24`. (Python rounds the binary double of `seconds * 1000` instead, so on
/// exact ties its result depends on representation error; away from ties both agree.)
[[nodiscard]] inline std::string to_json(const stream_metrics& metrics) {
    std::string out;
    out.reserve(112);
    out += R"({"time_to_first_byte_ms": )";
    detail::append_milliseconds(out, metrics.time_to_first_byte);
    out += R"(, "total_time_ms": )";
    detail::append_milliseconds(out, metrics.total_time);
    out += R"(, "chunk_count": )";
    detail::append_unsigned(out, metrics.chunk_count);
    out += R"(, "total_bytes": )";
    detail::append_unsigned(out, metrics.total_bytes);
    out += '}';
    return out;
}

/// Writes `to_json(metrics)`.
inline std::ostream& operator<<(std::ostream& out, const stream_metrics& metrics) {
    return out << to_json(metrics);
}

}  // namespace holdfast
