// holdfast/core/scope_guard.hpp — run a function when a scope is left: always, only by an
// exception, or only normally (C++ Library Fundamentals TS v3, P0052R10).
//
//   void transfer(account& from, account& to, money amount) {
//       from.withdraw(amount);
//       holdfast::scope_fail refund{[&] { from.deposit(amount); }};
//       holdfast::scope_success audit{[&] { journal.record(from.id, to.id, amount); }};
//       to.deposit(amount);  // may throw
//   }   // deposit threw: the money is back in `from` and nothing is journaled;
//       // otherwise the transfer is journaled exactly once
//
// The coroutine hole. scope_fail and scope_success guess how their scope is left by comparing
// std::uncaught_exceptions() at construction with its value in the destructor. The count is per
// thread, not per coroutine frame: a coroutine that holds a guard across a suspension point and is
// resumed or destroyed from another context (another thread, or a destructor run by some
// unrelated stack unwinding) compares two counts that have nothing to do with each other, so
// scope_fail may run on success and scope_success on failure. Boost.Scope and folly document the
// same hole. In a coroutine use holdfast::with, holdfast::exit_stack or holdfast::context<T>:
// they are handed the body's exception_ptr, so they know the outcome instead of guessing it.
// scope_exit never looks at the count and is correct anywhere.
#pragma once

#include <utility>

#include <holdfast/core/detail/scope_guard_base.hpp>

namespace holdfast {

/// Calls its exit function when the scope it guards is left, however it is left, unless
/// release() was called.
///
/// EF is a function object type, or an lvalue reference to a function object or to a function
/// (the guard then refers to it, and it must outlive the guard). Not copyable, not assignable;
/// movable when EF is nothrow-movable or copyable, and a moved-from guard never calls.
/// @par Exception safety
/// The destructor is `noexcept`: an exit function that throws calls std::terminate.
template <class EF>
class [[nodiscard]] scope_exit final : private detail::basic_scope_guard<EF, detail::run_always> {
    using base = detail::basic_scope_guard<EF, detail::run_always>;

  public:
    /// Takes `f` over: moves it when that cannot throw, copies it otherwise.
    ///
    /// @par Exception safety
    /// If taking `f` over throws, calls `f()` before the exception propagates: the cleanup the
    /// scope asked for is not lost.
    template <detail::exit_function_for<EF> EFP>
    // NOLINTNEXTLINE(bugprone-forwarding-reference-overload): a guard is not callable, so excluded
    [[nodiscard]] explicit scope_exit(EFP&& f) noexcept(detail::transfers_nothrow<EFP, EF>)
        : base(std::forward<EFP>(f)) {}

    /// Disarms the guard: the exit function will not be called.
    using base::release;
};

/// Calls its exit function when the scope it guards is left by an exception, unless release()
/// was called.
///
/// "Left by an exception" means that std::uncaught_exceptions() is greater in the destructor
/// than it was at construction, so a guard created in a catch handler or in a destructor run by
/// stack unwinding judges only the exceptions thrown after it. Wrong in coroutines: see the top
/// of this header. EF, copying and moving are as for scope_exit.
/// @par Exception safety
/// The destructor is `noexcept`: an exit function that throws calls std::terminate.
template <class EF>
class [[nodiscard]] scope_fail final
    : private detail::basic_scope_guard<EF, detail::run_on_failure> {
    using base = detail::basic_scope_guard<EF, detail::run_on_failure>;

  public:
    /// Takes `f` over: moves it when that cannot throw, copies it otherwise.
    ///
    /// @par Exception safety
    /// If taking `f` over throws, calls `f()` before the exception propagates: the scope is
    /// being left by an exception.
    template <detail::exit_function_for<EF> EFP>
    // NOLINTNEXTLINE(bugprone-forwarding-reference-overload): a guard is not callable, so excluded
    [[nodiscard]] explicit scope_fail(EFP&& f) noexcept(detail::transfers_nothrow<EFP, EF>)
        : base(std::forward<EFP>(f)) {}

    /// Disarms the guard: the exit function will not be called.
    using base::release;
};

/// Calls its exit function when the scope it guards is left normally (end of block, return,
/// break), unless release() was called.
///
/// "Normally" means that std::uncaught_exceptions() is not greater in the destructor than it
/// was at construction; see scope_fail for what that implies, and the top of this header for
/// coroutines. EF, copying and moving are as for scope_exit.
/// @par Exception safety
/// The destructor is `noexcept(noexcept(f()))`: the exit function may throw, and its exception
/// propagates from the destructor.
template <class EF>
class [[nodiscard]] scope_success final
    : private detail::basic_scope_guard<EF, detail::run_on_success> {
    using base = detail::basic_scope_guard<EF, detail::run_on_success>;

  public:
    /// Takes `f` over: moves it when that cannot throw, copies it otherwise.
    ///
    /// @par Exception safety
    /// If taking `f` over throws, the exception propagates and `f()` is not called: the scope
    /// is not succeeding.
    template <detail::exit_function_for<EF> EFP>
    // NOLINTNEXTLINE(bugprone-forwarding-reference-overload): a guard is not callable, so excluded
    [[nodiscard]] explicit scope_success(EFP&& f) noexcept(detail::transfers_nothrow<EFP, EF>)
        : base(std::forward<EFP>(f)) {}

    /// Disarms the guard: the exit function will not be called.
    using base::release;
};

/// `scope_exit{f}` and its siblings hold a decayed copy of `f`, as a by-value parameter would;
/// name the type, as in `scope_exit<F&>`, to hold a reference instead.
template <class EF>
scope_exit(EF) -> scope_exit<EF>;
template <class EF>
scope_fail(EF) -> scope_fail<EF>;
template <class EF>
scope_success(EF) -> scope_success<EF>;

}  // namespace holdfast
