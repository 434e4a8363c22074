// holdfast/io/async_stream_accumulation.hpp — S8's accumulation for a stream that arrives
// asynchronously: each step shows everything so far and the new chunk, in O(n) total.
//
//   auto steps = holdfast::io::with_accumulation(holdfast::io::socket_chunk_reader(socket));
//   while (auto step = co_await steps.next()) {
//       render_partial(step->so_far);      // views into one buffer, valid until the next step
//   }                                      // a reset connection throws here
//   std::string answer = steps.result();   // the whole content, moved out
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <asio/awaitable.hpp>

#include <holdfast/core/stream_accumulator.hpp>
#include <holdfast/io/async_chunk_source.hpp>

namespace holdfast::io {

/// One step of an accumulating stream: the content so far and the chunk just added (the
/// tail of so_far).
struct accumulation_step {
    std::string_view so_far;
    std::string_view chunk;
};

/// Accumulates the chunks of an async_chunk_source into one growing buffer (a
/// holdfast::stream_accumulator) — the asynchronous twin of holdfast::with_accumulation().
///
/// @par Object lifetimes
/// The views of a step are valid until the next call to next() (the buffer may reallocate).
/// @par Errors
/// An exception from the source propagates from next(); result() then throws
/// `std::logic_error`, as it does before the end of the stream.
template <async_chunk_source Source>
class accumulating_stream {
  public:
    explicit accumulating_stream(Source source) : source_(std::move(source)) {}

    /// The next step, or an empty optional at the end of the stream.
    asio::awaitable<std::optional<accumulation_step>> next() {
        if (finished_) co_return std::nullopt;
        if (failed_) {
            throw std::logic_error("holdfast::io::accumulating_stream: the stream already failed");
        }
        std::optional<std::string> chunk;
        try {
            chunk = co_await source_.next();
        } catch (...) {
            failed_ = true;
            throw;
        }
        if (!chunk) {
            finished_ = true;
            accumulator_.finalize();
            co_return std::nullopt;
        }
        const std::size_t offset = accumulator_.size();
        accumulator_.add_chunk(*chunk);
        const std::string_view so_far = accumulator_.content();
        co_return accumulation_step{so_far, so_far.substr(offset)};
    }

    /// Moves the whole content out.
    ///
    /// @par Errors
    /// `std::logic_error` before the end of the stream, or after it failed.
    std::string result() {
        if (!finished_) {
            throw std::logic_error(
                "holdfast::io::accumulating_stream::result: the stream has not ended normally");
        }
        return accumulator_.take();
    }

    Source& source() noexcept { return source_; }

  private:
    Source source_;
    stream_accumulator accumulator_;
    bool finished_ = false;
    bool failed_ = false;
};

/// Wraps `source` in an accumulating_stream (S8 for asynchronous sources).
template <async_chunk_source Source>
[[nodiscard]] accumulating_stream<Source> with_accumulation(Source source) {
    return accumulating_stream<Source>(std::move(source));
}

}  // namespace holdfast::io
