// holdfast/io/socket_sink.hpp — a byte sink over a connected Asio TCP socket.
//
//   holdfast::io::tcp_listener listener(io);                  // 127.0.0.1, ephemeral port
//   asio::ip::tcp::socket client = listener.accept();
//   holdfast::io::stream_writer out(holdfast::io::socket_sink(std::move(client)));
//   for (const auto& event : events) out.write(event);   // the client may hang up at any time:
//   //                                    out.disconnected() turns true, no SIGPIPE, no throw
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/error_code.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/socket_base.hpp>

namespace holdfast::io {

/// Writes to a TCP socket it owns, with blocking sends. Asio sends with MSG_NOSIGNAL on
/// Linux, so a peer that has gone away gives EPIPE or ECONNRESET, never SIGPIPE.
/// close() shuts down the sending side (so the peer reads end of stream) and closes.
///
/// @par Thread safety
/// As for the socket: not thread safe.
class socket_sink {
  public:
    explicit socket_sink(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
        std::error_code error;
        const auto peer = socket_.remote_endpoint(error);
        name_ = "tcp ";
        name_ += error ? std::string("(not connected)")
                       : peer.address().to_string() + ":" + std::to_string(peer.port());
    }

    std::size_t write_some(std::span<const std::byte> data, std::error_code& error) noexcept {
        error.clear();
        asio::error_code asio_error;
        const std::size_t n = socket_.send(asio::buffer(data.data(), data.size()), 0, asio_error);
        error = normalized(asio_error);
        return n;
    }

    void flush(std::error_code& error) noexcept { error.clear(); }

    /// Shuts down the sending side — an error there (ENOTCONN once the peer reset) changes
    /// nothing for the reader — and closes the socket.
    void close(std::error_code& error) noexcept {
        error.clear();
        if (!socket_.is_open()) return;
        asio::error_code ignored;
        socket_.shutdown(asio::socket_base::shutdown_send, ignored);
        asio::error_code close_error;
        socket_.close(close_error);
        error = normalized(close_error);
    }

    std::string_view name() const noexcept { return name_; }

    asio::ip::tcp::socket& socket() noexcept { return socket_; }

  private:
    // Asio 1.22 reports errno values in its own "asio.system" category, which maps them to no
    // std::errc condition; the system category does, so comparisons and messages work.
    static std::error_code normalized(const asio::error_code& error) noexcept {
        if (error && error.category() == asio::system_category()) {
            return {error.value(), std::system_category()};
        }
        return error;
    }

    asio::ip::tcp::socket socket_;
    std::string name_;
};

}  // namespace holdfast::io
