// holdfast/core/exit_stack.hpp — a dynamic, last-in-first-out stack of cleanups (S11).
//
//   // Python: with ExitStack() as stack:
//   //             files = [stack.enter_context(open(p)) for p in paths]
//   holdfast::with(holdfast::exit_stack{}, [&](holdfast::exit_stack& stack) {
//       std::vector<std::ifstream*> files;
//       for (const auto& p : paths) files.push_back(&stack.adopt(std::ifstream(p)));
//       for (auto* f : files) results.push_back(read_all(*f));
//   });   // every stream opened is closed, newest first, also when one open or read throws
//
//   // The constructor idiom: keep the resources only if the whole setup succeeds.
//   holdfast::exit_stack stack;
//   auto& a = stack.enter_context(open_a());
//   auto& b = stack.enter_context(open_b());     // if this throws, a is released
//   owner.cleanups = stack.pop_all();            // success: the owner releases them later
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/context_manager.hpp>
#include <holdfast/core/detail/exit_slot.hpp>

namespace holdfast {

/// Runs registered exits in reverse order of registration when closed or destroyed, with the
/// exception semantics of Python's contextlib.ExitStack.
///
/// Unwinding (close(), and the destructor): exits run newest first. Each receives the
/// *current* exception, initially the one passed to close(). An exit returning true
/// suppresses it: the following exits receive null. An exit that throws makes its exception
/// current: the following exits receive it and may suppress it in turn. Each exit is called
/// inside the handler of the exception it receives, so `std::throw_with_nested()` in an exit
/// chains the previous exception. Every exit runs, whatever the others do.
///
/// @par Exception safety
/// Registration is strong: if it throws, nothing was registered, and enter_context() has not
/// entered the manager (or, if its enter threw, does not exit it). close() throws only the
/// exception raised by an exit that no later exit suppressed. The destructor never throws:
/// such an exception goes to the cleanup error handler (see set_cleanup_error_handler()).
///
/// @par Object lifetimes
/// Managers passed as lvalues are referred to and must outlive the stack's unwinding;
/// managers passed as rvalues, adopted objects and enter results returned by value are owned
/// by the stack (on the heap, so references to them stay valid) until their exit has run.
///
/// @par Cost
/// Callables of up to three pointers are stored inline, and the first eight entries live in
/// the stack object: push() and callback() of small callables do not allocate.
///
/// @par Thread safety
/// Not thread safe; a stack belongs to one scope.
class [[nodiscard]] exit_stack {
  public:
    exit_stack() noexcept = default;

    /// Takes over every pending exit of `other`, which is left empty.
    exit_stack(exit_stack&& other) noexcept : entries_(std::move(other.entries_)) {}
    exit_stack(const exit_stack&) = delete;
    exit_stack& operator=(const exit_stack&) = delete;
    exit_stack& operator=(exit_stack&&) = delete;

    /// Unwinds the exits still registered. When destroyed by stack unwinding it passes a
    /// holdfast::unwinding_exception to the exits, so failure-sensitive exits (a rollback)
    /// take their failure path.
    ///
    /// That test uses std::uncaught_exceptions(), which cannot see the outcome inside a
    /// coroutine that is resumed or destroyed from another context; in coroutines, close the
    /// stack through holdfast::with(), which knows the exception exactly.
    ~exit_stack() {
        if (entries_.empty()) return;
        std::exception_ptr error;
        if (std::uncaught_exceptions() > uncaught_at_construction_) {
            error = std::make_exception_ptr(unwinding_exception{});
        }
        try {
            close(std::move(error));
        } catch (...) {
            report_current_cleanup_error("holdfast::exit_stack destructor");
        }
    }

    /// Enters the context manager `cm` and registers its exit; returns what `cm.enter()`
    /// returned (a reference to a value the stack keeps when enter returns by value).
    ///
    /// @par Errors
    /// If enter throws, the exception propagates and nothing is registered.
    template <class CM>
    requires context_manager<std::remove_reference_t<CM>>
    decltype(auto) enter_context(CM&& cm) {
        using result = enter_result_t<std::remove_reference_t<CM>>;
        if constexpr (std::is_lvalue_reference_v<CM> && !entered_context<CM>::stores_result) {
            // Nothing to keep but the address of the caller's manager: no allocation.
            entries_.reserve_one();
            auto exit_fn = [manager = &cm](const std::exception_ptr& e) {
                return exit_of(*manager, e);
            };
            if constexpr (std::is_void_v<result>) {
                cm.enter();
                entries_.push(exit_fn);
            } else {
                result entered = cm.enter();
                entries_.push(exit_fn);
                return static_cast<result>(entered);
            }
        } else {
            auto state = std::make_unique<entered_context<CM>>(std::forward<CM>(cm));
            entries_.reserve_one();
            auto& entered_state = *state;
            auto exit_fn = [state = std::move(state)](const std::exception_ptr& e) {
                return exit_of(state->manager, e);
            };
            static_assert(decltype(entries_)::fits_inline<decltype(exit_fn)>);
            if constexpr (std::is_void_v<result>) {
                entered_state.enter();
                entries_.push(std::move(exit_fn));
            } else {
                decltype(auto) entered = entered_state.enter();
                entries_.push(std::move(exit_fn));
                return static_cast<decltype(entered)>(entered);
            }
        }
    }

    /// Registers an exit function without entering anything: a callable
    /// `bool(std::exception_ptr)` or `void(std::exception_ptr)`, or a context manager whose
    /// exit() is registered (Python's ExitStack.push). Returns nothing.
    template <class Exit>
    void push(Exit&& exit_fn) {
        using exit_type = std::remove_reference_t<Exit>;
        if constexpr (context_manager<exit_type>) {
            if constexpr (std::is_lvalue_reference_v<Exit>) {
                push_entry([manager = &exit_fn](const std::exception_ptr& e) {
                    return exit_of(*manager, e);
                });
            } else {
                push_entry([manager = std::make_unique<exit_type>(std::move(exit_fn))](
                               const std::exception_ptr& e) { return exit_of(*manager, e); });
            }
        } else {
            static_assert(std::is_invocable_v<std::decay_t<Exit>&, const std::exception_ptr&>,
                          "push() takes a callable exit(std::exception_ptr) -> bool or void, "
                          "or a context manager; use callback() for a plain cleanup");
            push_entry(std::forward<Exit>(exit_fn));
        }
    }

    /// Registers a plain cleanup call `fn(args...)`. The arguments are bound now, by value.
    /// A callback never suppresses the exception.
    template <class Fn, class... Args>
    void callback(Fn&& fn, Args&&... args) {
        static_assert(std::is_invocable_v<std::decay_t<Fn>, std::decay_t<Args>...>,
                      "callback(fn, args...) must be able to call fn(args...)");
        push_entry([fn = std::forward<Fn>(fn),
                    ... args = std::forward<Args>(args)](const std::exception_ptr&) mutable {
            std::invoke(std::move(fn), std::move(args)...);
            return false;
        });
    }

    /// Takes ownership of an RAII object and keeps it alive until this stack unwinds, when
    /// it is destroyed in its turn. Returns a reference to the stored object.
    template <class T>
    T& adopt(T&& object) {
        static_assert(!std::is_lvalue_reference_v<T>, "adopt() takes ownership: pass an rvalue");
        auto owned = std::make_unique<T>(std::move(object));
        T& stored = *owned;
        push_entry([owned = std::move(owned)](const std::exception_ptr&) mutable {
            owned.reset();
            return false;
        });
        return stored;
    }

    /// Moves every pending exit into a new stack and returns it; this stack is left empty
    /// (Python's ExitStack.pop_all). Used to keep resources only when a setup succeeds.
    exit_stack pop_all() noexcept { return exit_stack(std::move(*this)); }

    /// Unwinds now: runs every registered exit as described for the class, then returns
    /// whether `error` was suppressed (Python's `__exit__`). With no error, returns false.
    /// When it returns false the caller should rethrow `error` itself, so the identical
    /// exception object travels on.
    ///
    /// @par Errors
    /// Throws the exception raised by an exit that no later exit suppressed.
    ///
    /// @par Postconditions
    /// The stack is empty; closing it again does nothing and returns false.
    bool close(std::exception_ptr error = nullptr) {
        const bool received_error = error != nullptr;
        bool suppressed = false;
        bool pending_raise = false;
        std::exception_ptr current = std::move(error);
        while (!entries_.empty()) {
            try {
                if (pop_and_call_inside_handler(current)) {
                    suppressed = true;
                    pending_raise = false;
                    current = nullptr;
                }
            } catch (...) {
                current = std::current_exception();
                pending_raise = true;
            }
        }
        if (pending_raise) std::rethrow_exception(current);
        return received_error && suppressed;
    }

    /// The number of exits still registered.
    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }

    /// Context-manager protocol, so `with(exit_stack{}, body)` is Python's
    /// `with ExitStack() as stack:`.
    exit_stack& enter() noexcept { return *this; }
    bool exit(std::exception_ptr error) { return close(std::move(error)); }

  private:
    // An owned manager (CM is an object type) or a referred one (CM is an lvalue reference),
    // plus the value its enter returned when that was not a reference.
    template <class CM>
    struct entered_context {
        using result = enter_result_t<std::remove_reference_t<CM>>;
        static constexpr bool stores_result =
            !std::is_void_v<result> && !std::is_reference_v<result>;

        explicit entered_context(CM&& cm) : manager(std::forward<CM>(cm)) {}

        decltype(auto) enter() {
            if constexpr (stores_result) {
                return static_cast<result&>(value.emplace(manager.enter()));
            } else {
                return manager.enter();
            }
        }

        CM manager;
        [[no_unique_address]] std::conditional_t<stores_result, std::optional<result>, std::tuple<>>
            value;
    };

    template <class CM>
    static bool exit_of(CM& cm, const std::exception_ptr& error) {
        if constexpr (std::is_void_v<decltype(cm.exit(error))>) {
            cm.exit(error);
            return false;
        } else {
            return cm.exit(error);
        }
    }

    template <class F>
    void push_entry(F&& exit_fn) {
        entries_.reserve_one();
        entries_.push(std::forward<F>(exit_fn));
    }

    // An exit sees its exception as the one being handled, as Python's __exit__ does.
    bool pop_and_call_inside_handler(const std::exception_ptr& error) {
        if (!error) return entries_.pop_and_call(error);
        try {
            std::rethrow_exception(error);
        } catch (...) {
            return entries_.pop_and_call(error);
        }
    }

    detail::exit_slot_stack<8> entries_;
    int uncaught_at_construction_ = std::uncaught_exceptions();
};

}  // namespace holdfast
