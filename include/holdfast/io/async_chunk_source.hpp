// holdfast/io/async_chunk_source.hpp — what the asynchronous stream helpers read from: an
// object whose `next()` is awaited for the next chunk, empty at the end of the stream.
//
//   asio::awaitable<void> relay(asio::ip::tcp::socket& upstream) {
//       holdfast::io::socket_chunk_reader chunks(upstream);      // an async_chunk_source
//       while (std::optional<std::string> chunk = co_await chunks.next()) {
//           forward(*chunk);
//       }                        // end of stream; a reset connection throws std::system_error
//   }
#pragma once

#include <concepts>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>

namespace holdfast::io {

/// A source of chunks for a coroutine: `co_await source.next()` yields the next chunk, or
/// an empty optional once the stream has ended; a failure is thrown from the co_await.
template <class Source>
concept async_chunk_source = requires(Source& source) {
    { source.next() } -> std::same_as<asio::awaitable<std::optional<std::string>>>;
};

}  // namespace holdfast::io
