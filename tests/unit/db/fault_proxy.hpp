// A TCP proxy on loopback that injects network faults between a client and a PostgreSQL
// server, switched at run time from the test thread:
//
//   fault_proxy proxy(*pg_dsn());                   // upstream: the DSN's host and port
//   db::async_pool pool(ex, proxy.dsn(*pg_dsn()));  // the same DSN, through the proxy
//   proxy.drop_all();        // every connection closed now, new ones closed at once
//   proxy.black_hole();      // bytes read and thrown away, nothing forwarded
//   proxy.pass_through();    // heals; connections that lost bytes are reset
//   proxy.set_latency(100ms);                       // each chunk held back 100 ms
//   proxy.cut_after(1000);   // server→client: 1000 more bytes per connection, then closed
//   EXPECT_EQ(proxy.live_connections(), 0u);
//
// The proxy runs on its own thread and io_context, so a fault never depends on the code
// under test giving it a turn.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <libpq-fe.h>

namespace holdfast::db::testing {

/// The host and port a PostgreSQL conninfo (URI or key=value) names.
struct pg_endpoint {
    std::string host;
    std::uint16_t port = 5432;
};

namespace detail {

struct conninfo_options_deleter {
    void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};
using conninfo_options = std::unique_ptr<PQconninfoOption, conninfo_options_deleter>;

inline conninfo_options parse_conninfo(const std::string& dsn) {
    char* error = nullptr;
    conninfo_options options(PQconninfoParse(dsn.c_str(), &error));
    if (!options) {
        std::string message = error ? error : "out of memory";
        PQfreemem(error);
        throw std::invalid_argument("fault_proxy: cannot parse the DSN: " + message);
    }
    return options;
}

// A key=value conninfo value, quoted as libpq expects.
inline std::string quote_conninfo_value(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

}  // namespace detail

/// The server a conninfo names (its first host; TCP only).
inline pg_endpoint endpoint_of(const std::string& dsn) {
    auto options = detail::parse_conninfo(dsn);
    pg_endpoint endpoint;
    for (auto* o = options.get(); o->keyword; ++o) {
        const std::string key = o->keyword;
        if (!o->val || !*o->val) continue;
        if (key == "hostaddr" || (key == "host" && endpoint.host.empty())) endpoint.host = o->val;
        if (key == "port") endpoint.port = static_cast<std::uint16_t>(std::stoi(o->val));
    }
    if (endpoint.host.empty() || endpoint.host.front() == '/') {
        throw std::invalid_argument("fault_proxy: the DSN does not name a TCP host");
    }
    return endpoint;
}

/// `dsn` as a key=value conninfo with every option kept but host and port replaced, plus
/// `extra` ("key=value ..." appended, overriding what the DSN sets).
inline std::string dsn_for_endpoint(const std::string& dsn, const pg_endpoint& endpoint,
                                    const std::string& extra = {}) {
    auto options = detail::parse_conninfo(dsn);
    std::string out = "host=" + endpoint.host + " port=" + std::to_string(endpoint.port);
    for (auto* o = options.get(); o->keyword; ++o) {
        const std::string key = o->keyword;
        if (key == "host" || key == "hostaddr" || key == "port") continue;
        if (!o->val || !*o->val) continue;
        out += " " + key + "=" + detail::quote_conninfo_value(o->val);
    }
    if (!extra.empty()) out += " " + extra;
    return out;
}

/// A fault-injecting TCP proxy: listens on 127.0.0.1 (an ephemeral port) and forwards each
/// connection to the upstream server, unless told otherwise.
///
/// @par Thread safety
/// Every member may be called from any thread but the proxy's own; a mode switch has taken
/// effect when the call returns.
class fault_proxy {
  public:
    explicit fault_proxy(pg_endpoint upstream)
        : upstream_(asio::ip::make_address(upstream.host), upstream.port),
          acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(io_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    /// Forwards to the server `dsn` names.
    explicit fault_proxy(const std::string& dsn) : fault_proxy(endpoint_of(dsn)) {}

    ~fault_proxy() {
        run_on_proxy([this] {
            asio::error_code ignored;
            acceptor_.close(ignored);
            close_sessions([](const session&) { return true; });
        });
        io_.stop();
        thread_.join();
    }
    fault_proxy(const fault_proxy&) = delete;
    fault_proxy& operator=(const fault_proxy&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    /// `original` with its host and port replaced by the proxy's.
    std::string dsn(const std::string& original, const std::string& extra = {}) const {
        return dsn_for_endpoint(original, {"127.0.0.1", port_}, extra);
    }

    /// Forwards everything (the default). Heals a black hole: connections that lost bytes
    /// to it can never resynchronise, so they are reset, as a long partition ends.
    void pass_through() {
        run_on_proxy([this] {
            set_mode(mode::pass_through);
            close_sessions([](const session& s) { return s.poisoned; });
        });
    }
    /// Closes every connection now, both sides; new connections are closed on accept.
    void drop_all() {
        run_on_proxy([this] {
            set_mode(mode::drop);
            close_sessions([](const session&) { return true; });
        });
    }
    /// Accepts and reads, forwards nothing in either direction: the network is gone, but no
    /// one is told.
    void black_hole() {
        run_on_proxy([this] { set_mode(mode::black_hole); });
    }
    /// Forwards, but the server→client direction of each connection (open now or later)
    /// only `bytes` more bytes; then the connection is closed, both sides.
    void cut_after(std::size_t bytes) {
        run_on_proxy([this, bytes] {
            mode_ = mode::cut;
            cut_budget_ = bytes;
            for (auto& weak : sessions_) {
                if (auto s = weak.lock()) s->budget = bytes;
            }
        });
    }
    /// Holds each chunk back this long before forwarding it (both directions; 0: none).
    void set_latency(std::chrono::milliseconds latency) {
        run_on_proxy([this, latency] { latency_ = latency; });
    }

    /// Connections open through the proxy now (accepted and not yet closed on both sides).
    std::size_t live_connections() const noexcept { return live_.load(); }
    /// Connections accepted since construction.
    std::size_t accepted_connections() const noexcept { return accepted_.load(); }
    /// Connections the server closed whose every byte before the close reached the client
    /// (which may not have read them yet).
    std::size_t server_closes() const noexcept { return server_closes_.load(); }

  private:
    enum class mode { pass_through, drop, black_hole, cut };

    struct session {
        explicit session(asio::io_context& io) : client(io), server(io) {}
        asio::ip::tcp::socket client;
        asio::ip::tcp::socket server;
        bool connected = false;  // the server side is open
        bool closed = false;
        bool poisoned = false;  // bytes were thrown away: never forward again
        int open_directions = 2;
        std::optional<std::size_t> budget;  // server→client bytes left before the cut
    };
    using session_ptr = std::shared_ptr<session>;

    template <class F>
    void run_on_proxy(F f) {
        auto done = std::make_shared<std::promise<void>>();
        auto finished = done->get_future();
        asio::post(io_, [f = std::move(f), done] {
            f();
            done->set_value();
        });
        finished.wait();
    }

    void set_mode(mode m) {
        mode_ = m;
        for (auto& weak : sessions_) {
            if (auto s = weak.lock()) s->budget.reset();
        }
    }

    void close_session(session& s) {
        if (s.closed) return;
        s.closed = true;
        asio::error_code ignored;
        s.client.close(ignored);
        s.server.close(ignored);
        --live_;
    }

    template <class Pred>
    void close_sessions(Pred pred) {
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            if (auto s = it->lock()) {
                if (pred(*s)) close_session(*s);
                ++it;
            } else {
                it = sessions_.erase(it);
            }
        }
    }

    asio::awaitable<void> accept_loop() {
        using asio::experimental::as_tuple;
        for (;;) {
            auto s = std::make_shared<session>(io_);
            auto [ec] = co_await acceptor_.async_accept(s->client, as_tuple(asio::use_awaitable));
            if (ec) {
                if (!acceptor_.is_open()) co_return;
                continue;
            }
            ++accepted_;
            ++live_;
            if (mode_ == mode::drop) {
                close_session(*s);
                continue;
            }
            sessions_.push_back(s);
            if (mode_ == mode::cut) s->budget = cut_budget_;
            asio::co_spawn(io_, serve(s), asio::detached);
        }
    }

    asio::awaitable<void> serve(session_ptr s) {
        using asio::experimental::as_tuple;
        if (mode_ == mode::black_hole) {
            // Nothing upstream: the client talks into the void until the proxy heals.
            s->poisoned = true;
            s->open_directions = 1;
            co_await pump(s, true);
            co_return;
        }
        auto [ec] = co_await s->server.async_connect(upstream_, as_tuple(asio::use_awaitable));
        if (ec || s->closed) {
            close_session(*s);
            co_return;
        }
        s->connected = true;
        asio::co_spawn(io_, pump(s, false), asio::detached);
        co_await pump(s, true);
    }

    // Copies one direction chunk by chunk, applying the mode in force when each chunk arrives.
    asio::awaitable<void> pump(session_ptr s, bool client_to_server) {
        using asio::experimental::as_tuple;
        auto& from = client_to_server ? s->client : s->server;
        auto& to = client_to_server ? s->server : s->client;
        std::array<char, 16384> buffer;
        asio::steady_timer delay(io_);
        for (;;) {
            auto [read_error, n] =
                co_await from.async_read_some(asio::buffer(buffer), as_tuple(asio::use_awaitable));
            if (s->closed) co_return;
            if (read_error) {
                if (!client_to_server && !s->poisoned) ++server_closes_;
                if (read_error != asio::error::eof || s->poisoned || !s->connected) {
                    close_session(*s);
                    co_return;
                }
                // Half close: the other direction may still carry the server's last words.
                asio::error_code ignored;
                to.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
                if (--s->open_directions == 0) close_session(*s);
                co_return;
            }
            if (mode_ == mode::black_hole || s->poisoned) {
                s->poisoned = true;
                continue;
            }
            if (latency_.count() > 0) {
                delay.expires_after(latency_);
                co_await delay.async_wait(as_tuple(asio::use_awaitable));
                if (s->closed) co_return;
            }
            std::size_t forward = n;
            bool cut = false;
            if (!client_to_server && s->budget) {
                if (n >= *s->budget) {
                    forward = *s->budget;
                    cut = true;
                } else {
                    *s->budget -= n;
                }
            }
            if (forward > 0) {
                auto [write_error, written] = co_await asio::async_write(
                    to, asio::buffer(buffer.data(), forward), as_tuple(asio::use_awaitable));
                if (write_error) {
                    close_session(*s);
                    co_return;
                }
            }
            if (cut) {
                close_session(*s);
                co_return;
            }
        }
    }

    asio::io_context io_;
    asio::ip::tcp::endpoint upstream_;
    asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::thread thread_;
    // The proxy thread's own state.
    mode mode_ = mode::pass_through;
    std::chrono::milliseconds latency_{0};
    std::size_t cut_budget_ = 0;
    std::list<std::weak_ptr<session>> sessions_;
    // Read by the test thread.
    std::atomic<std::size_t> live_{0};
    std::atomic<std::size_t> accepted_{0};
    std::atomic<std::size_t> server_closes_{0};
};

}  // namespace holdfast::db::testing
