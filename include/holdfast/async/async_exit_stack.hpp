// holdfast/async/async_exit_stack.hpp — Python's AsyncExitStack: sync and async cleanups in
// one last-in-first-out stack (S12).
//
//   asio::awaitable<std::vector<row>> process_connections(std::vector<std::string> hosts) {
//       std::vector<row> results;
//       co_await holdfast::async_with(holdfast::async_exit_stack{},
//                                     [&](holdfast::async_exit_stack& stack)
//                                         -> asio::awaitable<void> {
//           std::vector<connection*> connections;
//           for (const auto& host : hosts) {   // if the third connect fails, the first two close
//               connection& c = co_await stack.enter_async_context(connect_to_host(host));
//               connections.push_back(&c);
//           }
//           for (auto* c : connections) results.push_back(co_await c->fetch_data());
//       });
//       co_return results;
//   }
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <asio/awaitable.hpp>

#include <holdfast/async/async_context_manager.hpp>
#include <holdfast/async/async_with.hpp>
#include <holdfast/async/detail/shield.hpp>
#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/exit_stack.hpp>

namespace holdfast {

/// A last-in-first-out stack of synchronous and asynchronous exits, with the semantics of
/// Python's contextlib.AsyncExitStack. It offers every operation of holdfast::exit_stack, plus
/// `enter_async_context`, `push_async_exit`, `push_async_callback` and `aclose`.
///
/// Unwinding (`co_await aclose(e)`) follows exit_stack's algorithm exactly, over sync and
/// async exits mixed: newest first; each exit receives the current exception; true
/// suppresses it for the later exits; an exit that throws makes its exception current. Sync
/// exits run inside the handler of their exception (so `std::throw_with_nested` chains it);
/// async exits cannot (C++ forbids co_await in a handler) and receive it as their argument.
///
/// @par Cancellation
/// Once started, aclose() runs every exit to completion even when the calling coroutine is
/// cancelled meanwhile, as holdfast::async_with does for its exit. Asio refuses to start a
/// nested awaitable in a coroutine that is already cancelled, so a coroutine that may be
/// cancelled before it closes the stack should use it through async_with (which switches
/// throw_if_cancelled off in its own frame) or switch the flag off itself first.
///
/// @par Exception safety
/// Registration is strong: if it throws, nothing was registered. The destructor never
/// throws and cannot await: it runs the synchronous exits still registered and reports each
/// asynchronous exit it could not run to the cleanup error handler — it never drops one
/// silently. Close the stack with aclose() or use it through async_with.
///
/// @par Thread safety
/// Not thread safe; a stack belongs to one coroutine.
class [[nodiscard]] async_exit_stack {
  public:
    async_exit_stack() = default;

    /// Takes over every pending exit of `other`, which is left empty.
    async_exit_stack(async_exit_stack&& other) noexcept
        : segments_(std::exchange(other.segments_, {})) {}
    async_exit_stack(const async_exit_stack&) = delete;
    async_exit_stack& operator=(const async_exit_stack&) = delete;
    async_exit_stack& operator=(async_exit_stack&&) = delete;

    ~async_exit_stack() {
        while (!segments_.empty()) {
            segment top = std::move(segments_.back());
            segments_.pop_back();
            if (std::holds_alternative<std::unique_ptr<async_exit_entry>>(top)) {
                report_cleanup_error(
                    std::make_exception_ptr(std::logic_error(
                        "an asynchronous exit did not run: the async_exit_stack was destroyed "
                        "without aclose()")),
                    "holdfast::async_exit_stack destructor");
            }
            // A sync segment unwinds in exit_stack's destructor, right here.
        }
    }

    // ---- synchronous registration: exactly exit_stack's ------------------------------------

    /// See exit_stack::enter_context.
    template <class CM>
    requires context_manager<std::remove_reference_t<CM>>
    decltype(auto) enter_context(CM&& cm) { return sync_top().enter_context(std::forward<CM>(cm)); }
    /// See exit_stack::push.
    template <class Exit>
    void push(Exit&& exit_fn) {
        sync_top().push(std::forward<Exit>(exit_fn));
    }
    /// See exit_stack::callback.
    template <class Fn, class... Args>
    void callback(Fn&& fn, Args&&... args) {
        sync_top().callback(std::forward<Fn>(fn), std::forward<Args>(args)...);
    }
    /// See exit_stack::adopt.
    template <class T>
    T& adopt(T&& object) {
        static_assert(!std::is_lvalue_reference_v<T>, "adopt() takes ownership: pass an rvalue");
        return sync_top().adopt(std::move(object));
    }

    // ---- asynchronous registration -----------------------------------------------------------

    /// Enters the async context manager `acm` and registers its async_exit. Yields what
    /// async_enter yielded; a value is kept by the stack and yielded as a
    /// `std::reference_wrapper` to it (so `T& r = co_await stack.enter_async_context(m);`).
    ///
    /// @par Errors
    /// If async_enter throws, the exception propagates and nothing is registered.
    template <class ACM>
    requires async_context_manager<std::remove_reference_t<ACM>>
    auto enter_async_context(ACM&& acm) {
        return enter_registered(
            std::make_unique<entered_async_context<ACM>>(std::forward<ACM>(acm)));
    }

    /// Registers an asynchronous exit without entering anything: a callable
    /// `exit(std::exception_ptr)` returning `asio::awaitable<bool>` or `asio::awaitable<void>`,
    /// or an async context manager whose async_exit is registered.
    template <class Exit>
    void push_async_exit(Exit&& exit_fn) {
        using exit_type = std::remove_reference_t<Exit>;
        if constexpr (async_context_manager<exit_type>) {
            push_async_entry(
                std::make_unique<entered_async_context<Exit>>(std::forward<Exit>(exit_fn)));
        } else {
            static_assert(
                detail::awaitable_of_exit_result<
                    std::invoke_result_t<std::decay_t<Exit>&, std::exception_ptr>>,
                "push_async_exit() takes exit(std::exception_ptr) -> asio::awaitable<bool or "
                "void>, or an async context manager; use push_async_callback() for a plain "
                "cleanup");
            push_async_entry(std::make_unique<async_exit_function<std::decay_t<Exit>>>(
                std::forward<Exit>(exit_fn)));
        }
    }

    /// Registers an asynchronous cleanup call `co_await fn(args...)`; the arguments are bound
    /// now, by value. It never suppresses the exception.
    template <class Fn, class... Args>
    void push_async_callback(Fn&& fn, Args&&... args) {
        push_async_exit([fn = std::forward<Fn>(fn), ... args = std::forward<Args>(args)](
                            std::exception_ptr) mutable -> asio::awaitable<void> {
            co_await std::invoke(std::move(fn), std::move(args)...);
        });
    }

    // ---- unwinding ---------------------------------------------------------------------------

    /// Moves every pending exit into a new stack and returns it; this stack is left empty.
    async_exit_stack pop_all() noexcept { return async_exit_stack(std::move(*this)); }

    /// Unwinds now (Python's `__aexit__`): runs every exit as described for the class and
    /// yields whether `error` was suppressed; with no error, yields false. When it yields
    /// false the caller should rethrow `error` itself.
    ///
    /// @par Errors
    /// Throws the exception raised by an exit that no later exit suppressed.
    asio::awaitable<bool> aclose(std::exception_ptr error = nullptr) {
        return unwind(std::move(error));
    }

    std::size_t size() const noexcept {
        std::size_t total = 0;
        for (const auto& s : segments_) {
            total += std::holds_alternative<exit_stack>(s) ? std::get<exit_stack>(s).size() : 1;
        }
        return total;
    }
    bool empty() const noexcept { return segments_.empty(); }

    /// Async context-manager protocol, so `async_with(async_exit_stack{}, body)` is Python's
    /// `async with AsyncExitStack() as stack:`.
    asio::awaitable<std::reference_wrapper<async_exit_stack>> async_enter() {
        co_return std::ref(*this);
    }
    asio::awaitable<bool> async_exit(std::exception_ptr error) { return unwind(std::move(error)); }

  private:
    struct async_exit_entry {
        virtual ~async_exit_entry() = default;
        virtual asio::awaitable<bool> operator()(std::exception_ptr error) = 0;
    };

    template <class F>
    struct async_exit_function final : async_exit_entry {
        template <class G>
        explicit async_exit_function(G&& g) : fn(std::forward<G>(g)) {}
        asio::awaitable<bool> operator()(std::exception_ptr error) override {
            if constexpr (std::is_void_v<typename detail::awaitable_traits<
                              std::invoke_result_t<F&, std::exception_ptr>>::value_type>) {
                co_await std::invoke(fn, std::move(error));
                co_return false;
            } else {
                bool suppress = co_await std::invoke(fn, std::move(error));
                co_return suppress;
            }
        }
        F fn;
    };

    // An owned manager (ACM an object type) or a referred one (an lvalue reference), plus
    // the value its async_enter yielded when that was not already a reference_wrapper.
    template <class ACM>
    struct entered_async_context final : async_exit_entry {
        using entered = async_enter_result_t<std::remove_reference_t<ACM>>;
        static constexpr bool stores_value =
            !std::is_void_v<entered> &&
            std::is_same_v<typename detail::unwrapped_resource<entered>::type, entered&>;
        using yielded = std::conditional_t<
            std::is_void_v<entered>, void,
            std::conditional_t<stores_value, std::reference_wrapper<entered>, entered>>;

        explicit entered_async_context(ACM&& acm) : manager(std::forward<ACM>(acm)) {}

        asio::awaitable<yielded> enter() {
            if constexpr (std::is_void_v<entered>) {
                co_await manager.async_enter();
            } else if constexpr (stores_value) {
                co_return std::ref(value.emplace(co_await manager.async_enter()));
            } else {
                entered resource = co_await manager.async_enter();
                co_return resource;
            }
        }
        asio::awaitable<bool> operator()(std::exception_ptr error) override {
            return detail::call_async_exit(manager, std::move(error));
        }

        ACM manager;
        [[no_unique_address]] std::conditional_t<stores_value, std::optional<entered>, std::tuple<>>
            value;
    };

    using segment = std::variant<exit_stack, std::unique_ptr<async_exit_entry>>;

    // The synchronous exits registered since the last asynchronous one share one exit_stack:
    // CPython's algorithm over a run of exits is exactly exit_stack::close over them.
    exit_stack& sync_top() {
        if (segments_.empty() || !std::holds_alternative<exit_stack>(segments_.back())) {
            segments_.emplace_back(std::in_place_type<exit_stack>);
        }
        return std::get<exit_stack>(segments_.back());
    }

    void push_async_entry(std::unique_ptr<async_exit_entry> exit_fn) {
        segments_.emplace_back(std::move(exit_fn));
    }

    template <class Entered>
    asio::awaitable<typename Entered::yielded> enter_registered(std::unique_ptr<Entered> entry) {
        segments_.reserve(segments_.size() + 1);  // so registering after the enter cannot fail
        if constexpr (std::is_void_v<typename Entered::yielded>) {
            co_await entry->enter();
            segments_.emplace_back(std::unique_ptr<async_exit_entry>(std::move(entry)));
        } else {
            auto yielded = co_await entry->enter();
            segments_.emplace_back(std::unique_ptr<async_exit_entry>(std::move(entry)));
            co_return yielded;
        }
    }

    // CPython's AsyncExitStack.__aexit__, one segment at a time: a run of sync exits closes
    // as one exit_stack, which applies the same rules inside the run.
    asio::awaitable<bool> unwind(std::exception_ptr error) {
        // Every exit runs even after a cancellation (see detail/shield.hpp).
        const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
        co_await asio::this_coro::throw_if_cancelled(false);
        const bool received_error = error != nullptr;
        bool suppressed = false;
        bool pending_raise = false;
        std::exception_ptr current = std::move(error);
        while (!segments_.empty()) {
            segment top = std::move(segments_.back());
            segments_.pop_back();
            try {
                bool exit_suppressed = false;
                if (auto* sync = std::get_if<exit_stack>(&top)) {
                    exit_suppressed = sync->close(current);
                } else {
                    auto& async = *std::get<std::unique_ptr<async_exit_entry>>(top);
                    exit_suppressed = co_await detail::run_shielded(async(current));
                }
                if (exit_suppressed) {
                    suppressed = true;
                    pending_raise = false;
                    current = nullptr;
                }
            } catch (...) {
                current = std::current_exception();
                pending_raise = true;
            }
        }
        co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
        if (pending_raise) std::rethrow_exception(current);
        const bool error_suppressed = received_error && suppressed;
        co_return error_suppressed;
    }

    std::vector<segment> segments_;
};

}  // namespace holdfast
