// holdfast/core/context_manager.hpp — the context-manager protocol: enter() and exit(e).
//
//   struct transaction_scope {                 // any type with these two members qualifies
//       db_connection& conn;
//       db_connection& enter() { conn.execute("BEGIN"); return conn; }
//       void exit(std::exception_ptr e) {      // e is null when the body succeeded
//           conn.execute(e ? "ROLLBACK" : "COMMIT");
//       }
//   };
//   static_assert(holdfast::context_manager<transaction_scope>);
//   static_assert(!holdfast::suppressing_context_manager<transaction_scope>);
#pragma once

#include <concepts>
#include <exception>
#include <type_traits>
#include <utility>

namespace holdfast {

namespace detail {
template <class T>
concept exit_result = std::same_as<T, void> || std::same_as<T, bool>;
}  // namespace detail

/// A type with `enter()`, which acquires and returns the resource (or nothing), and
/// `exit(std::exception_ptr)`, which releases it. exit receives null when the guarded code
/// succeeded and the exception otherwise. It returns `void` (never suppresses) or `bool`
/// (`true` suppresses the exception: do that only on purpose).
template <class CM>
concept context_manager = requires(CM& cm, std::exception_ptr e) {
    cm.enter();
    { cm.exit(e) } -> detail::exit_result;
};

/// A context manager whose exit can suppress the exception it receives: its exit returns
/// bool. holdfast::with() returns an optional for such managers, so the caller sees in the
/// type that the body's result may be missing.
template <class CM>
concept suppressing_context_manager = context_manager<CM> &&
    requires(CM& cm, std::exception_ptr e) {
    { cm.exit(e) } -> std::same_as<bool>;
};

/// What `enter()` returns for a manager of type CM (a reference, a value, or void).
template <context_manager CM>
using enter_result_t = decltype(std::declval<CM&>().enter());

}  // namespace holdfast
