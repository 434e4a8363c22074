// Helpers shared by the asynchronous PostgreSQL tests (pg::async_connection, db::async_pool).
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

namespace holdfast::db::testing {

/// Runs the coroutine `make(executor)` to completion on a fresh io_context, run by `threads`
/// threads, and rethrows what it threw.
template <class Make>
void run_coroutine(Make make, int threads = 1) {
    asio::io_context io;
    std::exception_ptr error;
    std::atomic<bool> done{false};
    asio::co_spawn(io, make(io.get_executor()), [&](std::exception_ptr e) {
        error = e;
        done = true;
    });
    std::vector<std::thread> helpers;
    for (int i = 1; i < threads; ++i) helpers.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : helpers) t.join();
    ASSERT_TRUE(done) << "the coroutine never completed";
    if (error) std::rethrow_exception(error);
}

/// Waits on a real timer: the operation under test runs meanwhile.
inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace holdfast::db::testing
