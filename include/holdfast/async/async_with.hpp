// holdfast/async/async_with.hpp — Python's `async with`, on Asio awaitables.
//
//   asio::awaitable<void> transfer(pg_connection& conn) {
//       co_await holdfast::async_with(async_transaction{conn}, [&](pg_connection& c)
//                                                                  -> asio::awaitable<void> {
//           co_await c.async_execute("UPDATE account SET balance = balance - 10 WHERE id = 1");
//           co_await c.async_execute("UPDATE account SET balance = balance + 10 WHERE id = 2");
//       });
//   }
//   // A body that throws, or is cancelled by `transfer(conn) || timeout(1s)`, still rolls back:
//   // the exit runs to completion and sees the operation_aborted that stopped the body.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/error.hpp>

#include <holdfast/async/async_context_manager.hpp>
#include <holdfast/async/detail/shield.hpp>

namespace holdfast {

namespace detail {

template <class ACM, class Body, class Resource = async_enter_result_t<ACM>>
struct async_body_result {
    using type = typename awaitable_traits<
        std::invoke_result_t<Body&, typename unwrapped_resource<Resource>::type>>::value_type;
};
template <class ACM, class Body>
struct async_body_result<ACM, Body, void> {
    using type = typename awaitable_traits<std::invoke_result_t<Body&>>::value_type;
};

template <class ACM>
asio::awaitable<bool> call_async_exit(ACM& acm, std::exception_ptr error) {
    if constexpr (std::is_void_v<
                      typename awaitable_traits<decltype(acm.async_exit(error))>::value_type>) {
        co_await acm.async_exit(std::move(error));
        co_return false;
    } else {
        const bool suppress = co_await acm.async_exit(std::move(error));
        co_return suppress;
    }
}

}  // namespace detail

/// The result type of `co_await holdfast::async_with(acm, body)`: the same rule as
/// holdfast::with_result_t — R when async_exit yields void; `std::optional<R>` (or bool
/// "completed" for a void body) when it yields bool.
template <class ACM, class Body>
using async_with_result_t =
    std::conditional_t<!suppressing_async_context_manager<std::remove_reference_t<ACM>>,
                       typename detail::async_body_result<std::remove_reference_t<ACM>, Body>::type,
                       std::conditional_t<std::is_void_v<typename detail::async_body_result<
                                              std::remove_reference_t<ACM>, Body>::type>,
                                          bool,
                                          std::optional<typename detail::async_body_result<
                                              std::remove_reference_t<ACM>, Body>::type>>>;

namespace detail {

// ACM is the manager's type when it is owned (moved into this frame), or an lvalue
// reference to the caller's manager.
template <class ACM, class Body>
asio::awaitable<async_with_result_t<ACM, Body>> async_with_impl(ACM acm, Body body) {
    using manager = std::remove_reference_t<ACM>;
    using entered = async_enter_result_t<manager>;
    using result_type = typename async_body_result<manager, Body>::type;
    constexpr bool can_suppress = suppressing_async_context_manager<manager>;

    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<result_type>, bool, result_type>> result;
    auto run_body = [&](auto&... resource) -> asio::awaitable<void> {
        if constexpr (std::is_void_v<result_type>) {
            co_await std::invoke(body, unwrap_resource(resource)...);
            result.emplace(true);
        } else {
            result.emplace(co_await std::invoke(body, unwrap_resource(resource)...));
        }
    };
    // C++ forbids co_await in a handler: capture the body's exception, leave the handler,
    // then run the exit (steps 3-4 of holdfast::with, asynchronously).
    if constexpr (std::is_void_v<entered>) {
        co_await acm.async_enter();
        try {
            co_await run_body();
        } catch (...) {
            error = std::current_exception();
        }
    } else {
        entered resource = co_await acm.async_enter();
        try {
            co_await run_body(resource);
        } catch (...) {
            error = std::current_exception();
        }
    }

    // The exit runs to completion even after a cancellation (see detail/shield.hpp).
    const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    bool suppressed = false;
    std::exception_ptr exit_error;
    try {
        suppressed = co_await run_shielded(call_async_exit(acm, error));
    } catch (...) {
        exit_error = std::current_exception();
    }
    co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
    if (exit_error) std::rethrow_exception(exit_error);
    if (error && !suppressed) std::rethrow_exception(error);

    if constexpr (can_suppress) {
        if constexpr (std::is_void_v<result_type>) {
            co_return !error;
        } else {
            co_return result;  // empty when the exception was suppressed
        }
    } else if constexpr (!std::is_void_v<result_type>) {
        co_return std::move(*result);
    }
}

}  // namespace detail

/// Runs the awaitable `body(r)` inside the async context manager `acm`, like Python's
/// `async with acm as r: await body(r)`.
///
/// 1. `co_await acm.async_enter()`. If it throws, async_exit is not called.
/// 2. `co_await body(r)` (`body()` when async_enter yields void; `T&` when it yields
///    `std::reference_wrapper<T>`).
/// 3. `co_await acm.async_exit(e)` with e null on success, or the body's exception. A true
///    result suppresses e; otherwise e itself is rethrown; an exception from async_exit
///    replaces e. (C++ forbids co_await in a catch handler, so unlike holdfast::with the exit
///    does not run inside the handler: `std::current_exception()` is null there.)
///
/// @par Cancellation
/// When the body is cancelled (a cancellation signal, an `||` timeout from
/// asio::experimental::awaitable_operators), it ends with `asio::error::operation_aborted`,
/// which async_exit receives, so a transaction rolls back. The exit then runs to completion:
/// the coroutine's throw_if_cancelled flag is off while it runs, and the exit is shielded from
/// cancellation requests that arrive meanwhile. The coroutine's cancellation state is left as
/// it was, so a pending cancellation is seen by the caller's next co_await. When the calling
/// coroutine cannot be cancelled at all (no cancellation slot), the exit is awaited in place.
///
/// @par Object lifetimes
/// A manager passed as an rvalue is moved into the coroutine frame; an lvalue is referred to
/// and must outlive the co_await. `body` is moved into the frame and outlives its awaitable.
template <class ACM, class Body>
requires async_context_manager<std::remove_reference_t<ACM>>
    asio::awaitable<async_with_result_t<ACM, Body>> async_with(ACM&& acm, Body body) {
    return detail::async_with_impl<ACM, Body>(std::forward<ACM>(acm), std::move(body));
}

/// True when `error` is a cancellation — the "cancelled" outcome an exit distinguishes from a
/// failure: the operation_aborted error Asio delivers to a cancelled operation, or
/// std::errc::operation_canceled, which a cancelled holdfast::pool async_acquire delivers
/// (so an operation cancelled while it waited for a pooled connection counts too).
inline bool is_cancellation(const std::exception_ptr& error) noexcept {
    if (!error) return false;
    try {
        std::rethrow_exception(error);
    } catch (const std::system_error& e) {
        // Two codes: libstdc++'s system_category does not map ECANCELED to the generic
        // condition, so neither comparison covers the other.
        return e.code() == asio::error::operation_aborted ||
               e.code() == std::errc::operation_canceled;
    } catch (...) {
        return false;
    }
}

}  // namespace holdfast
