// holdfast/async/async_context_manager.hpp — the asynchronous context-manager protocol:
// async_enter() and async_exit(e), both Asio awaitables.
//
//   struct async_transaction {
//       pg_connection& conn;
//       asio::awaitable<std::reference_wrapper<pg_connection>> async_enter() {
//           co_await conn.async_execute("BEGIN");
//           co_return std::ref(conn);          // awaitables cannot return references
//       }
//       asio::awaitable<void> async_exit(std::exception_ptr e) {   // null: the body succeeded
//           co_await conn.async_execute(e ? "ROLLBACK" : "COMMIT");
//       }
//   };
//   static_assert(holdfast::async_context_manager<async_transaction>);
#pragma once

#include <concepts>
#include <exception>
#include <functional>
#include <type_traits>

#include <asio/awaitable.hpp>

namespace holdfast {

namespace detail {

template <class T>
struct awaitable_traits {
    static constexpr bool is_awaitable = false;
};
template <class T, class Executor>
struct awaitable_traits<asio::awaitable<T, Executor>> {
    static constexpr bool is_awaitable = true;
    using value_type = T;
};

template <class T>
concept awaitable_of_exit_result = awaitable_traits<T>::is_awaitable &&
    (std::same_as<typename awaitable_traits<T>::value_type, void> ||
     std::same_as<typename awaitable_traits<T>::value_type, bool>);

template <class T>
concept any_awaitable = awaitable_traits<T>::is_awaitable;

// A reference_wrapper<T> entered by a manager reaches the body as T&: Asio's awaitables
// cannot return references, so managers return std::ref(resource).
template <class T>
struct unwrapped_resource {
    using type = T&;
};
template <class T>
struct unwrapped_resource<std::reference_wrapper<T>> {
    using type = T&;
};

template <class T>
typename unwrapped_resource<T>::type unwrap_resource(T& value) noexcept {
    if constexpr (std::is_same_v<typename unwrapped_resource<T>::type, T&>) {
        return value;
    } else {
        return value.get();
    }
}

}  // namespace detail

/// A type with `async_enter()`, an awaitable that acquires and yields the resource (or
/// nothing), and `async_exit(std::exception_ptr)`, an awaitable that releases it and yields
/// void (never suppresses) or bool (true suppresses the exception). The asynchronous twin of
/// holdfast::context_manager (Python's `__aenter__` / `__aexit__`).
///
/// A manager that hands out a reference yields `std::reference_wrapper<T>`: the body then
/// receives `T&`.
template <class ACM>
concept async_context_manager = requires(ACM& acm, std::exception_ptr e) {
    { acm.async_enter() } -> detail::any_awaitable;
    { acm.async_exit(e) } -> detail::awaitable_of_exit_result;
};

/// An async context manager whose async_exit yields bool and so may suppress the exception.
template <class ACM>
concept suppressing_async_context_manager = async_context_manager<ACM> &&
    requires(ACM& acm, std::exception_ptr e) {
    { acm.async_exit(e) } -> std::same_as<asio::awaitable<bool>>;
};

/// What `co_await acm.async_enter()` yields for a manager of type ACM.
template <async_context_manager ACM>
using async_enter_result_t =
    typename detail::awaitable_traits<decltype(std::declval<ACM&>().async_enter())>::value_type;

}  // namespace holdfast
