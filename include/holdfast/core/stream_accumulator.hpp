// holdfast/core/stream_accumulator.hpp — accumulate a chunked stream in O(n): one growing
// buffer instead of re-joining every chunk.
//
//   // S8: show a chunked response as it arrives, keep the whole text at the end.
//   auto steps = holdfast::with_accumulation(response.chunks());  // generator of chunks
//   for (auto [so_far, chunk] : steps) {
//       render_partial(so_far);          // views into one buffer: valid until the next chunk
//   }                                    // a network error from chunks() propagates here
//   std::string answer = std::move(steps).result();    // the full content, moved out
//
//   // S9: just the content; one allocation when the chunks can be measured first.
//   std::string body = holdfast::accumulate(response_parts);
//
//   // By hand:
//   holdfast::stream_accumulator acc;
//   acc.add_chunk("Hel");
//   acc.add_chunk("lo");
//   std::string_view text = acc.finalize();   // "Hello"; content() stays readable
//   acc.add_chunk("!");                       // throws std::logic_error: stream is finalized
#pragma once

#include <concepts>
#include <cstddef>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <holdfast/core/generator.hpp>

namespace holdfast {

/// An input range whose elements are chunks of text: anything convertible to
/// `std::string_view` (`std::string`, `std::string_view`, `const char*`, ...).
template <class R>
concept chunk_range = std::ranges::input_range<R> &&
    std::convertible_to<std::ranges::range_reference_t<R>, std::string_view>;

/// Collects the chunks of a stream into one contiguous buffer — S8's `StreamingResult` without
/// its O(n) re-join on every read of `content`.
///
/// Adding a chunk appends to a `std::string` (amortized O(chunk size); the buffer grows
/// geometrically), so reading `content()` is O(1) at any time. `finalize()` marks the stream
/// complete: later chunks are refused, the content stays readable.
///
/// @par Object lifetimes
/// Views returned by `content()` and `finalize()` point into the buffer: `add_chunk`,
/// `reserve` and `take` may reallocate it and invalidate them.
/// @par Thread safety
/// Not thread safe.
class stream_accumulator {
  public:
    stream_accumulator() = default;

    /// Preallocates room for `bytes` bytes of content in total (not in addition).
    void reserve(std::size_t bytes) { content_.reserve(bytes); }

    /// Appends a chunk.
    ///
    /// @par Errors
    /// `std::logic_error("cannot add to a finalized stream")` after `finalize()` or `take()`;
    /// the content is then unchanged. `std::bad_alloc` / `std::length_error` from the buffer,
    /// with the content unchanged (strong guarantee).
    void add_chunk(std::string_view chunk) {
        if (finalized_) throw std::logic_error("cannot add to a finalized stream");
        content_.append(chunk);
        ++chunk_count_;
    }

    /// Everything added so far, without copying.
    std::string_view content() const noexcept { return content_; }

    /// Marks the stream complete and returns its content. Idempotent.
    std::string_view finalize() noexcept {
        finalized_ = true;
        return content_;
    }

    /// Finalizes the stream and moves the content out; `content()` is empty afterwards.
    [[nodiscard]] std::string take() noexcept {
        finalized_ = true;
        return std::exchange(content_, std::string());
    }

    bool finalized() const noexcept { return finalized_; }
    std::size_t chunk_count() const noexcept { return chunk_count_; }
    /// The content's size in bytes.
    std::size_t size() const noexcept { return content_.size(); }

  private:
    std::string content_;
    std::size_t chunk_count_ = 0;
    bool finalized_ = false;
};

namespace detail {

// accumulate() measures the chunks in a first pass when it can traverse the range twice
// (forward) and reading an element twice is cheap: an lvalue reference to an existing chunk or a
// trivially copyable value such as std::string_view — not a std::string built on every access
// by a transform view, which would allocate twice per chunk instead of saving allocations.
template <class R>
inline constexpr bool measure_chunks_first =
    std::ranges::forward_range<R> &&
    (std::is_lvalue_reference_v<std::ranges::range_reference_t<R>> ||
     std::is_trivially_copyable_v<std::remove_cvref_t<std::ranges::range_reference_t<R>>>);

template <class Chunks>
std::size_t total_size(Chunks& chunks) {
    std::size_t total = 0;
    for (auto&& chunk : chunks) total += std::string_view(chunk).size();
    return total;
}

// The coroutine behind with_accumulation(). Chunks is `T&` for an lvalue range (the frame keeps
// a reference) and `T` for an rvalue (the frame owns the moved range).
template <class Chunks>
generator<std::pair<std::string_view, std::string_view>, std::string> accumulate_each(
    Chunks chunks) {
    stream_accumulator accumulator;
    if constexpr (measure_chunks_first<Chunks>) accumulator.reserve(total_size(chunks));
    for (auto&& chunk : chunks) {
        const std::size_t offset = accumulator.size();
        accumulator.add_chunk(chunk);
        const std::string_view so_far = accumulator.content();
        co_yield std::pair{so_far, so_far.substr(offset)};
    }
    co_return accumulator.take();
}

}  // namespace detail

/// Concatenates the chunks of a stream into one string in O(n) — S9's `"".join(chunks)`.
///
/// When the range can be traversed twice cheaply (a forward range of `std::string`s,
/// `std::string_view`s, `const char*`, ... — sized or not: what matters is the bytes, not the
/// number of chunks), the chunks are measured first and the result is allocated exactly once.
/// Otherwise (a generator, a socket reader, a view that builds each chunk on access) the chunks
/// are appended as they come, with geometric growth: O(log n) reallocations, O(n) bytes copied
/// in total.
///
/// @par Errors
/// An exception from the range propagates; nothing is returned.
/// @par Object lifetimes
/// `chunks` is only used during the call.
template <chunk_range Chunks>
[[nodiscard]] std::string accumulate(Chunks&& chunks) {
    std::string content;
    if constexpr (detail::measure_chunks_first<Chunks>) content.reserve(detail::total_size(chunks));
    for (auto&& chunk : chunks) content.append(std::string_view(chunk));
    return content;
}

/// Yields `(accumulated_so_far, new_chunk)` for each chunk of a stream and returns the whole
/// content through `result()` — S8's `stream_with_accumulation`, in O(n) total.
///
/// Both views point into one growing buffer (`new_chunk` is the buffer's tail, a copy of the
/// chunk, equal to it): each step costs the chunk's size, not the size of everything so far as
/// in the Python seed, which re-joins all chunks on every step (O(n²)). The buffer grows
/// geometrically (O(log n) reallocations); when the range can be measured first, as for
/// `accumulate`, it is allocated once at `begin()` — before the first chunk is yielded.
///
/// @par Object lifetimes
/// The views are valid until the iterator is incremented (the buffer may reallocate when the
/// next chunk is appended); copy what must outlive the step. An lvalue range is referenced, not
/// copied: it must outlive the returned generator. An rvalue range (a temporary vector, another
/// generator) is moved into the generator's frame and lives as long as it.
/// @par Errors
/// An exception from the range reaches the consumer at the increment that asked for the next
/// chunk; the generator then has no result (`result()` throws `std::logic_error`).
template <chunk_range Chunks>
[[nodiscard]] generator<std::pair<std::string_view, std::string_view>, std::string>
with_accumulation(Chunks&& chunks) {
    return detail::accumulate_each<Chunks>(std::forward<Chunks>(chunks));
}

}  // namespace holdfast
