// S12: an async_exit_stack over many connections. Every connection opened is closed, newest
// first, whether all the fetches succeed or a later connect fails.
//
// Python:
//     async with AsyncExitStack() as stack:
//         connections = [await stack.enter_async_context(connect_to_host(h)) for h in hosts]
//         for conn in connections: results.append(await conn.fetch_data())
//
// The hosts are real TCP servers on the loopback interface, in this process.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <holdfast/async.hpp>

using asio::ip::tcp;

// A server that answers every connection with one line, then closes it.
asio::awaitable<void> serve(tcp::acceptor& acceptor, std::string name) {
    for (;;) {
        tcp::socket peer = co_await acceptor.async_accept(asio::use_awaitable);
        std::string reply = "rows from " + name + "\n";
        co_await asio::async_write(peer, asio::buffer(reply), asio::use_awaitable);
    }
}

// connect_to_host(host): an async context manager whose exit closes the connection.
class host_connection {
  public:
    host_connection(tcp::endpoint endpoint, std::string name)
        : endpoint_(endpoint), name_(std::move(name)) {}

    asio::awaitable<std::reference_wrapper<host_connection>> async_enter() {
        socket_.emplace(co_await asio::this_coro::executor);
        co_await socket_->async_connect(endpoint_, asio::use_awaitable);  // may be refused
        std::cout << "  connected to " << name_ << '\n';
        co_return std::ref(*this);
    }
    asio::awaitable<void> async_exit(std::exception_ptr) {
        socket_->close();
        std::cout << "  closed " << name_ << '\n';
        co_return;
    }

    asio::awaitable<std::string> fetch_data() {
        std::string data;
        std::error_code eof;
        co_await asio::async_read(*socket_, asio::dynamic_buffer(data),
                                  asio::redirect_error(asio::use_awaitable, eof));
        co_return data.substr(0, data.find('\n'));
    }

  private:
    tcp::endpoint endpoint_;
    std::string name_;
    std::optional<tcp::socket> socket_;
};

asio::awaitable<std::vector<std::string>> process_connections(
    std::vector<std::pair<std::string, tcp::endpoint>> hosts) {
    std::vector<std::string> results;
    co_await holdfast::async_with(
        holdfast::async_exit_stack{},
        [&](holdfast::async_exit_stack& stack) -> asio::awaitable<void> {
            std::vector<host_connection*> connections;
            for (auto& [name, endpoint] : hosts) {
                host_connection connection(endpoint, name);
                connections.push_back(
                    &(co_await stack.enter_async_context(std::move(connection))).get());
            }
            for (auto* c : connections) results.push_back(co_await c->fetch_data());
        });
    co_return results;
}

int main() {
    asio::io_context io;
    const tcp::endpoint loopback(asio::ip::address_v4::loopback(), 0);
    std::vector<tcp::acceptor> acceptors;
    acceptors.reserve(3);  // the servers hold references to their acceptors
    std::vector<std::pair<std::string, tcp::endpoint>> hosts;
    for (const char* name : {"alpha", "beta", "gamma"}) {
        acceptors.emplace_back(io, loopback);
        hosts.emplace_back(name, acceptors.back().local_endpoint());
        asio::co_spawn(io, serve(acceptors.back(), name), asio::detached);
    }
    // A host that is down: a port that was bound, then released.
    tcp::endpoint down_endpoint;
    {
        tcp::acceptor released(io, loopback);
        down_endpoint = released.local_endpoint();
    }

    int exit_code = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            std::cout << "fetching from three hosts:\n";
            for (const auto& row : co_await process_connections(hosts)) {
                std::cout << "  got \"" << row << "\"\n";
            }

            std::cout << "fetching when the fourth host is down:\n";
            auto with_down = hosts;
            with_down.emplace_back("delta (down)", down_endpoint);
            try {
                co_await process_connections(with_down);
                exit_code = 1;  // the refused connect must propagate
            } catch (const std::system_error& e) {
                std::cout << "  failed as expected: " << e.code().message()
                          << " (the three open connections were closed first)\n";
            }
            for (auto& a : acceptors) a.close();
        },
        asio::detached);
    io.run();
    return exit_code;
}
