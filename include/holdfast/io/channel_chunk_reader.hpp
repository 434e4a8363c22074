// holdfast/io/channel_chunk_reader.hpp — receive chunks that another coroutine sends through
// an asio::experimental::channel.
//
//   holdfast::io::chunk_channel channel(executor, 8);          // room for 8 chunks
//   co_spawn(executor, produce(channel), detached);             // sends, then channel.close()
//   holdfast::io::channel_chunk_reader chunks(channel);
//   while (auto chunk = co_await chunks.next()) render(*chunk);
//   // a producer that sends an error code instead (channel.async_send(ec, "")) makes next()
//   // throw std::system_error with that code.
#pragma once

#include <optional>
#include <string>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/error.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/experimental/channel_error.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <holdfast/io/async_chunk_source.hpp>

namespace holdfast::io {

/// The channel type channel_chunk_reader reads: each message is an error code and a chunk.
using chunk_channel = asio::experimental::channel<void(asio::error_code, std::string)>;

/// An async_chunk_source over a chunk_channel: closing the channel ends the stream; a message
/// with an error code is thrown as `std::system_error`.
///
/// @par Object lifetimes
/// The channel is referenced and must outlive the reader.
class channel_chunk_reader {
  public:
    explicit channel_chunk_reader(chunk_channel& channel) noexcept : channel_(&channel) {}

    asio::awaitable<std::optional<std::string>> next() {
        asio::error_code error;
        std::string chunk =
            co_await channel_->async_receive(asio::redirect_error(asio::use_awaitable, error));
        if (error == asio::experimental::error::channel_closed) co_return std::nullopt;
        if (error) throw std::system_error(error, "receive from chunk channel");
        co_return chunk;
    }

  private:
    chunk_channel* channel_;
};

static_assert(async_chunk_source<channel_chunk_reader>);

}  // namespace holdfast::io
