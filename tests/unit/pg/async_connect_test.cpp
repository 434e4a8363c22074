// pg::async_connection::async_connect() against a server that never answers: a listening
// socket nobody accepts on (the kernel completes the TCP handshake, then nothing comes).
// libpq ignores connect_timeout in non-blocking connects; async_connect applies it.
#include <chrono>
#include <string>

#include "../db/async_test_support.hpp"
#include <asio/ip/tcp.hpp>

#include <holdfast/db/async_pool.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/pg/async_connection.hpp>

namespace holdfast::db::testing {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

class PgAsyncConnectTimeout : public ::testing::Test {
  protected:
    asio::io_context listener_context;
    asio::ip::tcp::acceptor silent{listener_context,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    std::string dsn(const std::string& extra = {}) const {
        return "host=127.0.0.1 port=" + std::to_string(silent.local_endpoint().port()) +
               " user=nobody password=hunter2 dbname=none sslmode=disable" + extra;
    }
};

TEST_F(PgAsyncConnectTimeout, GivesUpAfterTheConfiguredTimeoutWithAClearError) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        pg::async_connection conn(ex, dsn(), {.connect_timeout = 300ms});
        const auto start = clock::now();
        std::string message;
        try {
            co_await conn.async_connect();
        } catch (const connection_error& e) {
            message = e.what();
        }
        const auto took = clock::now() - start;
        EXPECT_GE(took, 300ms);
        EXPECT_LT(took, 2s);
        EXPECT_NE(message.find("connect timeout"), std::string::npos) << message;
        EXPECT_NE(message.find("300 ms"), std::string::npos) << message;
        EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
        EXPECT_FALSE(conn.is_open());
    });
}

TEST_F(PgAsyncConnectTimeout, AFailingConnectFailsAtOnceNotAtTheTimeout) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        // Nothing listens on the port once the acceptor is closed: refused at once.
        const std::string refused = dsn();
        silent.close();
        pg::async_connection conn(ex, refused, {.connect_timeout = 30s});
        const auto start = clock::now();
        bool failed = false;
        try {
            co_await conn.async_connect();
        } catch (const connection_error&) {
            failed = true;
        }
        EXPECT_TRUE(failed);
        EXPECT_LT(clock::now() - start, 5s);
    });
}

TEST_F(PgAsyncConnectTimeout, TheConninfoConnectTimeoutWins) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        // connect_timeout=2 (libpq's minimum) instead of the option's 30 s.
        pg::async_connection conn(ex, dsn(" connect_timeout=2"), {.connect_timeout = 30s});
        const auto start = clock::now();
        bool failed = false;
        try {
            co_await conn.async_connect();
        } catch (const connection_error&) {
            failed = true;
        }
        const auto took = clock::now() - start;
        EXPECT_TRUE(failed);
        EXPECT_GE(took, 2s);
        EXPECT_LT(took, 5s);
    });
}

TEST_F(PgAsyncConnectTimeout, APoolOpeningAgainstASilentServerFailsInsteadOfHanging) {
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        pool_options options;
        options.min_size = 1;
        options.max_size = 2;
        async_pool pool(ex, dsn(), options, {.connect_timeout = 200ms});
        const auto start = clock::now();
        bool failed = false;
        try {
            co_await pool.open();
        } catch (const connection_error&) {
            failed = true;
        }
        EXPECT_TRUE(failed);
        EXPECT_LT(clock::now() - start, 2s);
        EXPECT_FALSE(pool.is_open());
    });
}

}  // namespace
}  // namespace holdfast::db::testing
