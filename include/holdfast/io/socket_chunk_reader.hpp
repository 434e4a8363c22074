// holdfast/io/socket_chunk_reader.hpp — read a TCP stream chunk by chunk in a coroutine.
//
//   holdfast::io::socket_chunk_reader chunks(socket, 16 * 1024);
//   while (auto chunk = co_await chunks.next()) parser.feed(*chunk);
//   // the peer closed cleanly: next() returned an empty optional. A reset connection throws
//   // std::system_error "read tcp 127.0.0.1:5432: Connection reset by peer".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <holdfast/io/async_chunk_source.hpp>

namespace holdfast::io {

/// An async_chunk_source over a connected TCP socket: each next() is one async_read_some of
/// at most `max_chunk` bytes; end of file ends the stream.
///
/// @par Errors
/// `std::system_error` "read tcp <peer>: <reason>" (in the system category, so
/// is_disconnect() and `std::errc` comparisons work).
/// @par Object lifetimes
/// The socket is referenced and must outlive the reader.
/// @par Per-operation cancellation
/// As the socket's async_read_some: a cancelled read throws operation_aborted.
class socket_chunk_reader {
  public:
    explicit socket_chunk_reader(asio::ip::tcp::socket& socket, std::size_t max_chunk = 64 * 1024)
        : socket_(&socket), max_chunk_(max_chunk) {}

    asio::awaitable<std::optional<std::string>> next() {
        std::string chunk(max_chunk_, '\0');
        asio::error_code error;
        const std::size_t n = co_await socket_->async_read_some(
            asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, error));
        if (error == asio::error::eof) co_return std::nullopt;
        if (error) {
            std::error_code code = error;
            if (error.category() == asio::system_category()) {
                code = std::error_code(error.value(), std::system_category());
            }
            std::string what = "read tcp";
            asio::error_code ignored;
            const auto peer = socket_->remote_endpoint(ignored);
            if (!ignored)
                what += " " + peer.address().to_string() + ":" + std::to_string(peer.port());
            throw std::system_error(code, what);
        }
        chunk.resize(n);
        co_return chunk;
    }

  private:
    asio::ip::tcp::socket* socket_;
    std::size_t max_chunk_;
};

static_assert(async_chunk_source<socket_chunk_reader>);

}  // namespace holdfast::io
