// S3: an asynchronous connection pool, on holdfast::pool<T> and Asio coroutines, with a fake
// database connection (the real ones are db::async_pool's business).
//
// Python:
//     async with AsyncDatabasePool(dsn) as pool:
//         users = await pool.execute("SELECT * FROM users WHERE active = $1", True)
//
// Ten concurrent requests share a pool of at most three connections; one request asks for a
// "broken" connection, which is discarded instead of being handed to the next request; one
// gives up after a deadline with `||`, and nothing is lost. The stats are printed at the end.
#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <holdfast/pool.hpp>

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using row = std::map<std::string, std::string>;

// Stands for an asynchronous database connection.
class fake_connection {
  public:
    explicit fake_connection(int id) : id_(id) { std::printf("connect #%d\n", id_); }
    fake_connection(fake_connection&& other) noexcept : id_(other.id_) { other.id_ = 0; }
    ~fake_connection() {
        if (id_ != 0) std::printf("close #%d\n", id_);
    }

    asio::awaitable<std::vector<row>> fetch(std::string query, bool active) {
        asio::steady_timer latency(co_await asio::this_coro::executor, 1ms);
        co_await latency.async_wait(asio::use_awaitable);
        if (query.find("broken") != std::string::npos) {
            throw std::runtime_error("server closed the connection unexpectedly");
        }
        co_return std::vector<row>{{{"name", "ada"},
                                    {"active", active ? "true" : "false"},
                                    {"via", "connection #" + std::to_string(id_)}}};
    }

  private:
    int id_;
};

// S3's class: a pool that opens on construction, closes on close(), and runs a query on a
// pooled connection.
class async_database_pool {
  public:
    async_database_pool(asio::any_io_executor executor, std::size_t min_size, std::size_t max_size)
        : pool_(
              std::move(executor), [this] { return fake_connection(++connections_); },
              options(min_size, max_size), hooks()) {}

    asio::awaitable<std::vector<row>> execute(std::string query, bool active) {
        auto conn = co_await pool_.async_acquire(asio::use_awaitable);
        try {
            co_return co_await conn->fetch(std::move(query), active);
        } catch (const std::runtime_error&) {
            conn.discard();  // a lost connection is never handed to the next request
            throw;
        }
    }  // returned to the pool here, straight to the oldest waiter

    holdfast::pool<fake_connection>& pool() { return pool_; }
    void close() { pool_.close(); }

  private:
    static holdfast::pool_options options(std::size_t min_size, std::size_t max_size) {
        holdfast::pool_options o;
        o.name = "users-db";
        o.min_size = min_size;
        o.max_size = max_size;
        o.acquire_timeout = 5s;
        return o;
    }
    static holdfast::pool_hooks<fake_connection> hooks() { return {}; }

    int connections_ = 0;
    holdfast::pool<fake_connection> pool_;
};

int main() {
    asio::io_context io;
    async_database_pool db(io.get_executor(), 1, 3);
    int finished = 0;

    auto request = [&](int n) -> asio::awaitable<void> {
        try {
            const bool broken = n == 4;
            auto users =
                co_await db.execute(broken ? "SELECT broken" : "SELECT * FROM users", true);
            std::printf("request %d: %s via %s\n", n, users[0]["name"].c_str(),
                        users[0]["via"].c_str());
        } catch (const std::exception& e) {
            std::printf("request %d failed: %s\n", n, e.what());
        }
        ++finished;
    };
    for (int n = 0; n < 10; ++n) asio::co_spawn(io, request(n), asio::detached);

    // A caller with a deadline: whichever finishes first wins, and the pool loses nothing.
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer deadline(io, 0s);
            auto winner = co_await (db.pool().async_acquire(asio::use_awaitable) ||
                                    deadline.async_wait(asio::use_awaitable));
            std::printf("deadline caller: %s\n",
                        winner.index() == 0 ? "got a connection" : "timed out");
            ++finished;
        },
        asio::detached);

    // Close once every request is done (S3's __aexit__); the pool's maintenance timer keeps
    // run() going until then.
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer poll(io);
            while (finished < 11) {
                poll.expires_after(1ms);
                co_await poll.async_wait(asio::use_awaitable);
            }
            const auto s = db.pool().stats();
            std::printf("stats: size %zu (max %zu), idle %zu, in use %zu, waiting %zu\n", s.size,
                        s.max_size, s.idle, s.in_use, s.waiting);
            std::printf(
                "       acquired %llu, created %llu, destroyed %llu (broken %llu), "
                "cancelled waits %llu, wait p50 %lld us, p99 %lld us\n",
                static_cast<unsigned long long>(s.acquired),
                static_cast<unsigned long long>(s.created),
                static_cast<unsigned long long>(s.destroyed),
                static_cast<unsigned long long>(s.closed_broken),
                static_cast<unsigned long long>(s.cancelled_waits),
                static_cast<long long>(s.acquire_wait_p50.count() / 1000),
                static_cast<long long>(s.acquire_wait_p99.count() / 1000));
            db.close();
        },
        asio::detached);

    io.run();
    return db.pool().stats().in_use == 0 ? 0 : 1;
}
