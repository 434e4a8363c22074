// holdfast/io/async_stream_metrics.hpp — S10's metrics for a stream that arrives
// asynchronously (a TCP peer, a channel fed by another coroutine).
//
//   asio::awaitable<void> fetch(asio::ip::tcp::socket& socket) {
//       auto measured = holdfast::io::with_metrics(holdfast::io::socket_chunk_reader(socket));
//       while (auto chunk = co_await measured.next()) body.append(*chunk);
//       log.info("{}", holdfast::to_json(measured.result()));
//       // {"time_to_first_byte_ms": 3.10, "total_time_ms": 41.27, "chunk_count": 12, ...}
//       // A reset connection throws from next(); result() would then throw std::logic_error:
//       // a failed stream has no metrics.
//   }
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <asio/awaitable.hpp>

#include <holdfast/core/stream_metrics.hpp>
#include <holdfast/core/time_source.hpp>
#include <holdfast/io/async_chunk_source.hpp>

namespace holdfast::io {

/// Passes the chunks of an async_chunk_source through unchanged while measuring the stream
/// into a holdfast::stream_metrics — the asynchronous twin of holdfast::with_metrics().
///
/// The clock (`clock`'s precise_now(); by default std::chrono::steady_clock through
/// coarse_steady_clock::instance()) is read at the first next() (the start of the stream), at
/// the first chunk, and at the end: O(1) extra work per chunk. Time spent by the consumer
/// between chunks counts in total_time, as in the seed. Tests pass a holdfast::manual_clock.
///
/// @par Errors
/// An exception from the source propagates from next(); the stream is then failed and
/// result() throws `std::logic_error`, as it does before the end of the stream.
/// @par Thread safety
/// One consumer at a time (like the source).
/// @par Object lifetimes
/// The stream keeps a pointer to `clock`, which must outlive it (the default source always
/// does); a temporary source is rejected at compile time. Moving the stream keeps the pointer.
template <async_chunk_source Source>
class metered_stream {
  public:
    explicit metered_stream(Source source,
                            const time_source& clock = coarse_steady_clock::instance())
        : source_(std::move(source)), clock_(&clock) {}
    metered_stream(Source source, const time_source&& clock) = delete;

    /// The next chunk, or an empty optional at the end of the stream.
    asio::awaitable<std::optional<std::string>> next() {
        if (state_ == state::finished) co_return std::nullopt;
        if (state_ == state::failed) {
            throw std::logic_error("holdfast::io::metered_stream: the stream already failed");
        }
        if (state_ == state::not_started) {
            start_ = clock_->precise_now();
            state_ = state::streaming;
        }
        std::optional<std::string> chunk;
        try {
            chunk = co_await source_.next();
        } catch (...) {
            state_ = state::failed;
            throw;
        }
        if (!chunk) {
            metrics_.total_time = elapsed();
            state_ = state::finished;
            co_return std::nullopt;
        }
        if (metrics_.chunk_count == 0) metrics_.time_to_first_byte = elapsed();
        ++metrics_.chunk_count;
        metrics_.total_bytes += chunk->size();
        co_return chunk;
    }

    /// The metrics of the whole stream.
    ///
    /// @par Errors
    /// `std::logic_error` before the end of the stream, or after it failed.
    const stream_metrics& result() const {
        if (state_ != state::finished) {
            throw std::logic_error(
                "holdfast::io::metered_stream::result: the stream has not ended normally");
        }
        return metrics_;
    }

    Source& source() noexcept { return source_; }

  private:
    enum class state { not_started, streaming, finished, failed };

    std::chrono::nanoseconds elapsed() const noexcept { return clock_->precise_now() - start_; }

    Source source_;
    const time_source* clock_;
    time_source::time_point start_{};
    stream_metrics metrics_;
    state state_ = state::not_started;
};

/// Wraps `source` in a metered_stream (S10 for asynchronous sources), timed on `clock`, which
/// must outlive the stream.
template <async_chunk_source Source>
[[nodiscard]] metered_stream<Source> with_metrics(
    Source source, const time_source& clock = coarse_steady_clock::instance()) {
    return metered_stream<Source>(std::move(source), clock);
}

/// Rejects a temporary time source: the stream would keep a dangling pointer to it.
template <async_chunk_source Source>
void with_metrics(Source source, const time_source&& clock) = delete;

}  // namespace holdfast::io
