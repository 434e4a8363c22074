// holdfast/core/with.hpp — the C++ `with` statement.
//
//   // Python:  with managed_file(path) as f: return f.read_all()
//   std::string text = holdfast::with(managed_file(path), [](auto& f) { return f.read_all(); });
//
//   // A manager that may suppress returns an optional: empty when the error was swallowed.
//   std::optional<int> n = holdfast::with(holdfast::suppress<std::out_of_range>(),
//                                         [&] { return std::stoi(text); });
//   if (!n) { /* the out_of_range was suppressed */ }
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <holdfast/core/context_manager.hpp>

namespace holdfast {

namespace detail {

template <class CM, class Body, class Resource = enter_result_t<CM>>
struct body_result {
    using type = std::invoke_result_t<Body, std::remove_reference_t<Resource>&>;
};
template <class CM, class Body>
struct body_result<CM, Body, void> {
    using type = std::invoke_result_t<Body>;
};

// Optionals cannot hold references, so a suppressible body that returns T& yields
// std::optional<std::reference_wrapper<T>>.
template <class R>
using optional_result_t =
    std::optional<std::conditional_t<std::is_reference_v<R>,
                                     std::reference_wrapper<std::remove_reference_t<R>>, R>>;

template <class CM, class R>
using result_for_t =
    std::conditional_t<!suppressing_context_manager<CM>, R,
                       std::conditional_t<std::is_void_v<R>, bool, optional_result_t<R>>>;

// Runs `run_body` between the enter already done and cm.exit(), applying steps 2–5 of the
// protocol. exit sees the exception from inside its catch handler, so std::current_exception()
// is that exception and std::throw_with_nested() in exit chains it.
template <class CM, class RunBody, class R = std::invoke_result_t<RunBody>,
          class result_t = result_for_t<CM, R>>
result_t guarded_call(CM& cm, RunBody&& run_body) {
    constexpr bool can_suppress = suppressing_context_manager<CM>;

    if constexpr (std::is_void_v<R>) {
        try {
            std::forward<RunBody>(run_body)();
        } catch (...) {
            if constexpr (can_suppress) {
                if (cm.exit(std::current_exception())) return result_t{false};
            } else {
                cm.exit(std::current_exception());
            }
            throw;
        }
        cm.exit(nullptr);
        if constexpr (can_suppress) return result_t{true};
    } else {
        optional_result_t<R> result;
        try {
            result.emplace(std::forward<RunBody>(run_body)());
        } catch (...) {
            if constexpr (can_suppress) {
                if (cm.exit(std::current_exception())) return result_t{};
            } else {
                cm.exit(std::current_exception());
            }
            throw;
        }
        cm.exit(nullptr);
        if constexpr (can_suppress) {
            return result;
        } else if constexpr (std::is_reference_v<R>) {
            return static_cast<R>(result->get());
        } else {
            return R(std::move(*result));
        }
    }
}

}  // namespace detail

/// The result type of `holdfast::with(cm, body)`: the body's result R when the manager's
/// exit returns void; `std::optional<R>` (or `bool` "completed" for a void body) when exit
/// returns bool and so may suppress the body's exception.
template <class CM, class Body>
using with_result_t =
    detail::result_for_t<std::remove_reference_t<CM>,
                         typename detail::body_result<std::remove_reference_t<CM>, Body>::type>;

namespace detail {

// Concepts on the forwarding type (possibly a reference) that select the overload of with().
template <class CM>
concept manager_that_can_suppress = suppressing_context_manager<std::remove_reference_t<CM>>;
template <class CM>
concept manager_that_cannot_suppress =
    context_manager<std::remove_reference_t<CM>> && !manager_that_can_suppress<CM>;

template <class CM, class Body>
holdfast::with_result_t<CM, Body> with(CM& cm, Body&& body) {
    if constexpr (std::is_void_v<enter_result_t<CM>>) {
        cm.enter();
        return guarded_call(
            cm, [&]() -> decltype(auto) { return std::invoke(std::forward<Body>(body)); });
    } else {
        auto&& resource = cm.enter();
        return guarded_call(cm, [&]() -> decltype(auto) {
            return std::invoke(std::forward<Body>(body), resource);
        });
    }
}

}  // namespace detail

/// Runs `body` inside the context manager `cm`, like Python's `with cm as r: body(r)`.
///
/// 1. Calls `cm.enter()`. If it throws, exit is not called.
/// 2. Calls `body(r)` with the entered resource as an lvalue (`body()` when enter returns void).
/// 3. If the body returns, calls `cm.exit(nullptr)`; an exception from exit propagates.
/// 4. If the body throws e, calls `cm.exit(e)` inside the handler of e. If exit returns true,
///    e is suppressed; otherwise e itself (the same object) is rethrown. If exit throws, that
///    exception replaces e.
///
/// Returns the body's result; see with_result_t. For a manager that can suppress, the result
/// says whether the body completed, and discarding it is diagnosed (`[[nodiscard]]`).
///
/// @par Object lifetimes
/// `cm` is taken by reference. A temporary manager (`with(db::connect(dsn), ...)`) lives until
/// the end of the full expression containing the call, which covers the whole `with`, so it
/// is never moved: non-movable managers work.
template <detail::manager_that_cannot_suppress CM, class Body>
with_result_t<CM, Body> with(CM&& cm, Body&& body) {
    return detail::with(cm, std::forward<Body>(body));
}

/// @copydoc with
template <detail::manager_that_can_suppress CM, class Body>
[[nodiscard("check whether the manager suppressed an exception")]] with_result_t<CM, Body> with(
    CM&& cm, Body&& body) {
    return detail::with(cm, std::forward<Body>(body));
}

}  // namespace holdfast
