// holdfast/core/detail/scope_guard_base.hpp — the machinery shared by scope_exit, scope_fail
// and scope_success, and P0052's rule for taking over a function or resource, which
// unique_resource follows too. Not a public header: include <holdfast/core/scope_guard.hpp>.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

namespace holdfast::detail {

// How P0052 takes over an exit function or a resource: from `U` as given when that cannot throw,
// otherwise by copy from an lvalue, so that the original is intact for the cleanup if the copy
// throws.
template <class U, class T>
concept transferable_to = std::is_constructible_v<T, U> &&
    (std::is_nothrow_constructible_v<T, U> || std::is_constructible_v<T, U&>);

template <class U, class T>
inline constexpr bool transfers_nothrow =
    std::is_nothrow_constructible_v<T, U> || std::is_nothrow_constructible_v<T, U&>;

template <class T, class U>
constexpr auto&& forward_if_nothrow(U& from) noexcept {
    if constexpr (!std::is_lvalue_reference_v<U> && std::is_nothrow_constructible_v<T, U>) {
        return std::move(from);
    } else {
        return from;
    }
}

// P0052 mandates that the function passed to a guard's constructor be callable, since a failed
// construction calls it; as a constraint it also keeps guards themselves out of that constructor.
template <class EFP, class EF>
concept exit_function_for = std::is_invocable_v<EFP&> && transferable_to<EFP, EF>;

// When a guard runs. scope_exit's policy is empty so that the guard is no bigger and no slower
// than the hand-written cleanup; the other two pay for one std::uncaught_exceptions() call.
struct run_always {
    static constexpr bool run_if_construction_throws = true;
    static constexpr bool exit_may_throw = false;
    static constexpr bool should_run() noexcept { return true; }
};

struct run_on_failure {
    static constexpr bool run_if_construction_throws = true;
    static constexpr bool exit_may_throw = false;
    int uncaught_on_creation = std::uncaught_exceptions();
    bool should_run() const noexcept { return std::uncaught_exceptions() > uncaught_on_creation; }
};

struct run_on_success {
    // A guard that failed to construct is leaving its scope by an exception: not a success.
    static constexpr bool run_if_construction_throws = false;
    static constexpr bool exit_may_throw = true;
    int uncaught_on_creation = std::uncaught_exceptions();
    bool should_run() const noexcept { return std::uncaught_exceptions() <= uncaught_on_creation; }
};

template <class EF, class When>
class basic_scope_guard {
    static_assert(std::is_object_v<EF> || std::is_lvalue_reference_v<EF>,
                  "the exit function is held by value or by lvalue reference");
    static_assert(std::is_invocable_v<EF&>, "the exit function must be callable with no arguments");

    static constexpr bool movable =
        std::is_nothrow_move_constructible_v<EF> || std::is_copy_constructible_v<EF>;
    static constexpr bool nothrow_movable =
        std::is_nothrow_move_constructible_v<EF> || std::is_nothrow_copy_constructible_v<EF>;

  public:
    template <exit_function_for<EF> EFP>
    // NOLINTNEXTLINE(bugprone-forwarding-reference-overload): a guard is not callable, so excluded
    explicit basic_scope_guard(EFP&& f) noexcept(transfers_nothrow<EFP, EF>) try
        : exit_function_(forward_if_nothrow<EF, EFP>(f)) {
    } catch (...) {
        if constexpr (When::run_if_construction_throws) f();
        // The handler of a constructor's function-try-block rethrows when it ends.
    }

    // NOLINTNEXTLINE(performance-*): P0052 copies an exit function whose move may throw
    basic_scope_guard(basic_scope_guard&& other) noexcept(nothrow_movable) requires movable
        : exit_function_(forward_if_nothrow<EF, EF>(other.exit_function_)),
          execute_on_destruction_(other.execute_on_destruction_),
          when_(other.when_) {
        other.release();
    }

    basic_scope_guard(const basic_scope_guard&) = delete;
    basic_scope_guard& operator=(const basic_scope_guard&) = delete;
    basic_scope_guard& operator=(basic_scope_guard&&) = delete;

    ~basic_scope_guard() noexcept(!When::exit_may_throw || std::is_nothrow_invocable_v<EF&>) {
        if (execute_on_destruction_ && when_.should_run()) exit_function_();
    }

    void release() noexcept { execute_on_destruction_ = false; }

  private:
    EF exit_function_;
    bool execute_on_destruction_ = true;
    [[no_unique_address]] When when_;
};

}  // namespace holdfast::detail
