// holdfast/io/tcp.hpp — thin RAII helpers for TCP connections on Asio: a listening socket and
// a connect call that name the endpoint in their errors.
//
//   asio::io_context io;
//   holdfast::io::tcp_listener listener(io);                  // 127.0.0.1:<free port>
//   std::thread peer([&] {
//       auto socket = holdfast::io::tcp_connect(io, listener.endpoint());
//       read_until_eof(socket);
//   });                                                        // (join it, of course)
//   auto server_side = listener.accept();
//   // A refused or failed connect throws std::system_error "connect 127.0.0.1:4242: Connection
//   // refused"; every socket and the listener close on destruction (Asio's own RAII).
#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

namespace holdfast::io {

/// "127.0.0.1:8080" — how errors name an endpoint.
inline std::string to_string(const asio::ip::tcp::endpoint& endpoint) {
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

/// A listening TCP socket, bound to the loopback address by default and to port 0 (a free
/// port chosen by the system) unless told otherwise. Closed on destruction.
///
/// @par Errors
/// `std::system_error` "listen <endpoint>: <reason>" or "accept <endpoint>: <reason>".
/// @par Thread safety
/// As an Asio acceptor: not thread safe.
class tcp_listener {
  public:
    explicit tcp_listener(asio::io_context& io,
                          asio::ip::tcp::endpoint endpoint = {asio::ip::address_v4::loopback(), 0})
        : acceptor_(io) {
        asio::error_code error;
        acceptor_.open(endpoint.protocol(), error);
        if (!error) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), error);
        if (!error) acceptor_.bind(endpoint, error);
        if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
        if (error) throw std::system_error(error, "listen " + to_string(endpoint));
    }

    /// The bound endpoint, with the actual port.
    asio::ip::tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
    std::uint16_t port() const { return endpoint().port(); }

    /// Waits for and returns the next connection.
    asio::ip::tcp::socket accept() {
        asio::error_code error;
        auto socket = acceptor_.accept(error);
        if (error) throw std::system_error(error, "accept " + to_string(endpoint()));
        return socket;
    }

    /// The same, for a coroutine; the error is the same std::system_error.
    asio::awaitable<asio::ip::tcp::socket> async_accept() {
        return acceptor_.async_accept(asio::use_awaitable);
    }

    asio::ip::tcp::acceptor& acceptor() noexcept { return acceptor_; }

  private:
    asio::ip::tcp::acceptor acceptor_;
};

/// Connects a new socket to `endpoint` (blocking).
///
/// @par Errors
/// `std::system_error` "connect <endpoint>: <reason>".
inline asio::ip::tcp::socket tcp_connect(asio::io_context& io,
                                         const asio::ip::tcp::endpoint& endpoint) {
    asio::ip::tcp::socket socket(io);
    asio::error_code error;
    socket.connect(endpoint, error);
    if (error) throw std::system_error(error, "connect " + to_string(endpoint));
    return socket;
}

/// Both ends of one loopback TCP connection, for tests and in-process pipelines.
struct tcp_connection_pair {
    asio::ip::tcp::socket client;
    asio::ip::tcp::socket server;
};

/// Opens a listener on a free loopback port, connects to it and accepts: the kernel completes
/// the handshake from the backlog, so no second thread is needed.
inline tcp_connection_pair tcp_loopback_pair(asio::io_context& io) {
    tcp_listener listener(io);
    auto client = tcp_connect(io, listener.endpoint());
    auto server = listener.accept();
    return {std::move(client), std::move(server)};
}

}  // namespace holdfast::io
