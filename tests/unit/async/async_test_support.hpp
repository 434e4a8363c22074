// Helpers shared by the async layer's tests: run an awaitable to completion, describe an
// outcome, suspend through the executor.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <holdfast/async/async_with.hpp>

namespace holdfast::testing {

/// Runs `work` on a fresh io_context to completion; returns its result or rethrows.
template <class T>
T run(asio::awaitable<T> work) {
    asio::io_context io;
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> result;
    asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, auto... value) {
        error = e;
        if constexpr (sizeof...(value) > 0) {
            if (!e) result.emplace(std::move(value)...);
        }
    });
    io.run();
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) return std::move(*result);
}

/// "none", "cancelled", or the exception's what().
inline std::string describe(const std::exception_ptr& e) {
    if (!e) return "none";
    if (holdfast::is_cancellation(e)) return "cancelled";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "unknown exception";
    }
}

/// Suspends for real, through the executor, so exits prove they can co_await.
inline asio::awaitable<void> yield_once() {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

}  // namespace holdfast::testing
