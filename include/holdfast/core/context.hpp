// holdfast/core/context.hpp — context<T>: a coroutine that is a context manager, the C++ form
// of Python's @contextmanager.
//
//   holdfast::context<db_connection&> transaction(db_connection& conn) {
//       conn.execute("BEGIN");
//       try {
//           co_yield conn;                 // the body of the `with` runs here
//       } catch (...) {                    // the body threw: its exception is rethrown here
//           conn.execute("ROLLBACK");
//           throw;                         // let the very same exception object propagate
//       }
//       conn.execute("COMMIT");
//   }
//
//   holdfast::with(transaction(conn), [](db_connection& c) {
//       c.execute("UPDATE account SET balance = balance - 10 WHERE id = 1");
//       c.execute("UPDATE account SET balance = balance + 10 WHERE id = 2");  // throws: the
//   });                                     // coroutine rolls back, then with() rethrows
#pragma once

#include <coroutine>
#include <exception>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace holdfast {

/// The tag a `context<void>` coroutine yields, `co_yield holdfast::yield_point;`, to mark
/// where the body runs when there is no resource to hand over (Python's bare `yield`).
struct yield_point_t {
    // Explicit, so that `co_yield {}` does not compile: a yield point is always named.
    explicit constexpr yield_point_t() = default;
};

/// See yield_point_t.
inline constexpr yield_point_t yield_point{};

template <class T>
class context;

namespace detail {

// What every context promise shares: the two exceptions that cross the coroutine boundary.
class context_promise_base {
  public:
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_always final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() noexcept { escaped_ = std::current_exception(); }

    // A context is synchronous: the only suspension it may have is its one co_yield. Without
    // this, `co_await std::suspend_always{}` would look to enter() like a yield with no value.
    template <class U>
    void await_transform(U&&) = delete;

    // Called when the coroutine resumes after its co_yield: the body's exception, if any, is
    // rethrown there, so try/catch and RAII in the coroutine see it as Python's try/finally do.
    void rethrow_body_exception() {
        if (body_exception_) std::rethrow_exception(std::exchange(body_exception_, nullptr));
    }

    std::exception_ptr body_exception_;  // set by exit(e) just before resuming the coroutine
    std::exception_ptr escaped_;         // the exception that left the coroutine, if any
};

// The awaiter of `co_yield r` for references and yield_point: the value lives elsewhere.
struct context_yield_awaiter {
    context_promise_base* promise;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const { promise->rethrow_body_exception(); }
};

// The awaiter of `co_yield v` for a value type: it owns the yielded value. The awaiter is a
// temporary of the co_yield expression, so it lives in the coroutine frame while the body runs
// and is destroyed when that expression completes (or with the frame), like any temporary.
template <class T, class Promise>
class context_value_awaiter {
  public:
    explicit context_value_awaiter(const T& value) : value_(value) {}
    explicit context_value_awaiter(T&& value) : value_(std::move(value)) {}

    bool await_ready() const noexcept { return false; }
    // Only here is the awaiter's address final, so only here is it published.
    void await_suspend(std::coroutine_handle<Promise> frame) noexcept {
        promise_ = std::addressof(frame.promise());
        promise_->value_ = std::addressof(value_);
    }
    void await_resume() const {
        promise_->value_ = nullptr;
        promise_->rethrow_body_exception();
    }

  private:
    T value_;
    Promise* promise_ = nullptr;
};

// context<T> for a value type: the coroutine yields a value, the frame keeps it.
template <class T>
class context_promise : public context_promise_base {
  public:
    context<T> get_return_object() noexcept;

    context_value_awaiter<T, context_promise> yield_value(
        const T& value) requires std::copy_constructible<T> {
        return context_value_awaiter<T, context_promise>(value);
    }
    context_value_awaiter<T, context_promise> yield_value(T&& value) {
        return context_value_awaiter<T, context_promise>(std::move(value));
    }

    T* value_ = nullptr;
};

// context<T&>: the coroutine yields a reference to an object it owns or borrows.
template <class T>
class context_promise<T&> : public context_promise_base {
  public:
    context<T&> get_return_object() noexcept;

    context_yield_awaiter yield_value(T& value) noexcept {
        value_ = std::addressof(value);
        return context_yield_awaiter{this};
    }

    T* value_ = nullptr;
};

// context<void>: the coroutine yields holdfast::yield_point.
template <>
class context_promise<void> : public context_promise_base {
  public:
    context<void> get_return_object() noexcept;

    context_yield_awaiter yield_value(yield_point_t) noexcept {
        return context_yield_awaiter{this};
    }
};

}  // namespace detail

/// A context manager written as a coroutine that `co_yield`s its resource exactly once, like a
/// Python generator decorated with `@contextmanager`.
///
/// The code before the `co_yield` is `enter()`, the code after it is `exit()`, and
/// `holdfast::with(ctx, body)` runs the body at the `co_yield`. What the coroutine yields is
/// what enter() returns:
/// - `context<R&>`: `co_yield r;` hands the body the coroutine's own object `r` (its cleanup
///   after the yield acts on the very object the body used). enter() returns `R&`.
/// - `context<V>`: `co_yield v;` copies or moves `v` into the frame, which keeps the value
///   alive while the body runs; enter() returns `V&` to it. The value is destroyed when the
///   coroutine resumes, before the code after the `co_yield` runs.
/// - `context<void>`: `co_yield holdfast::yield_point;` marks where the body runs; enter()
///   returns void. (`co_yield`, not `co_await`: one keyword marks the yield in every context,
///   and `co_await` is rejected in context coroutines, which are synchronous.)
///
/// The coroutine starts suspended; enter() runs it to its `co_yield`. exit(e) resumes it:
/// - e null (the body succeeded): the coroutine must finish; exit returns false.
/// - e set (the body threw): the `co_yield` expression rethrows e, so a `catch (...)` around
///   the `co_yield` and the destructors of the coroutine's locals see the failure. If the
///   coroutine then finishes normally, e is suppressed: exit returns true, as in Python.
///   If it rethrows e (`throw;`), exit returns false, and with() rethrows the identical
///   exception object. If it throws another exception, exit throws that one instead
///   (`std::throw_with_nested` in the coroutine keeps e reachable).
///
/// Because exit can return true, `with()` over a context returns `std::optional<R>` (or bool
/// for a void body): the type says that the body's exception may have been swallowed.
///
/// The outcome reaches the coroutine only through the `co_yield` that rethrows, never through
/// `std::uncaught_exceptions()`; prefer `catch (...) { ...; throw; }` around the `co_yield` to
/// guards that consult that count (scope_fail), which inside a coroutine can be fooled.
///
/// @par Errors
/// - An exception the coroutine throws before its `co_yield` propagates from enter(); exit is
///   then never called (with() does not call it), as in Python.
/// - Finishing without yielding: enter() throws `std::logic_error("context did not yield")`.
/// - Yielding a second time, after either a normal body or a failed one: exit throws
///   `std::logic_error("context did not stop")` (after a failed body, the body's exception is
///   nested in it: `std::rethrow_if_nested` reaches it).
/// - enter() on a context that was already entered (or moved from), or exit() on one that is
///   not entered, throws `std::logic_error`.
///
/// @par Exception safety
/// When enter() throws, or exit() returns or throws, the coroutine frame has already been
/// destroyed: the coroutine's locals, and its parameters, are gone exactly once.
///
/// @par Object lifetimes
/// The coroutine frame is destroyed as soon as the coroutine finishes (in exit(), or in enter()
/// when it fails), and otherwise by the destructor. Destroying a context that was entered but
/// not exited destroys the suspended frame: the destructors of the coroutine's locals run
/// (RAII cleanup happens), but its `catch` blocks and the code after the `co_yield` do not —
/// it did not learn whether the body failed. A destructor of a frame local must not throw then.
/// Parameters are copied into the frame, but reference parameters are not: with
/// `with(make_ctx("name"), body)` a temporary argument lives until the whole with() returns,
/// but `auto ctx = make_ctx("name");` would leave a `const std::string&` parameter dangling.
///
/// @par Thread safety
/// Not thread safe; enter() and exit() may be called on different threads, but not at once.
template <class T>
class [[nodiscard]] context {
    static_assert(std::is_void_v<T> || std::is_lvalue_reference_v<T> ||
                      (std::is_object_v<T> && !std::is_array_v<T>),
                  "context<T>: T must be void, an lvalue reference, or a non-array object type");

  public:
    /// The coroutine's promise; the compiler uses it, users never name it.
    using promise_type = detail::context_promise<T>;

    /// What enter() returns: `V&` for `context<V>`, `R&` for `context<R&>`, void for void.
    using enter_type = std::add_lvalue_reference_t<T>;

    context(const context&) = delete;
    context& operator=(const context&) = delete;

    /// Takes over the coroutine of `other`, which is left as if already exited.
    context(context&& other) noexcept
        : frame_(std::exchange(other.frame_, nullptr)),
          state_(std::exchange(other.state_, state::finished)) {}

    /// Destroys this context's coroutine frame (see the class's Object lifetimes), then takes
    /// over the coroutine of `other`, which is left as if already exited.
    context& operator=(context&& other) noexcept {
        if (this != &other) {
            destroy_frame();
            frame_ = std::exchange(other.frame_, nullptr);
            state_ = std::exchange(other.state_, state::finished);
        }
        return *this;
    }

    /// Destroys the coroutine frame if it still exists (see Object lifetimes).
    ~context() { destroy_frame(); }

    /// Runs the coroutine up to its `co_yield` and returns what it yielded.
    enter_type enter() {
        if (state_ != state::fresh) throw std::logic_error("context already entered");
        state_ = state::entered;
        frame_.resume();
        if (frame_.done()) {
            std::exception_ptr escaped = take_escaped_and_finish();
            if (escaped) std::rethrow_exception(std::move(escaped));
            throw std::logic_error("context did not yield");
        }
        if constexpr (!std::is_void_v<T>) return *frame_.promise().value_;
    }

    /// Resumes the coroutine after its `co_yield`, rethrowing `body_exception` there when it is
    /// not null, and lets it finish. Returns true when the coroutine suppressed
    /// `body_exception`; false when there was none or when the coroutine rethrew it (the caller
    /// rethrows it then). Throws whatever other exception the coroutine throws.
    bool exit(std::exception_ptr body_exception) {
        if (state_ != state::entered) throw std::logic_error("context exit without enter");
        frame_.promise().body_exception_ = body_exception;
        frame_.resume();
        if (!frame_.done()) {
            // Yielded again: destroy the frame now rather than leave a half-run cleanup behind.
            destroy_frame();
            state_ = state::finished;
            throw_did_not_stop(std::move(body_exception));
        }
        std::exception_ptr escaped = take_escaped_and_finish();
        if (!escaped) return body_exception != nullptr;
        if (escaped == body_exception) return false;
        std::rethrow_exception(std::move(escaped));
    }

  private:
    enum class state : unsigned char { fresh, entered, finished };

    friend promise_type;

    explicit context(std::coroutine_handle<promise_type> frame) noexcept : frame_(frame) {}

    std::exception_ptr take_escaped_and_finish() noexcept {
        std::exception_ptr escaped = std::exchange(frame_.promise().escaped_, nullptr);
        destroy_frame();
        state_ = state::finished;
        return escaped;
    }

    void destroy_frame() noexcept {
        if (frame_) std::exchange(frame_, nullptr).destroy();
    }

    [[noreturn]] static void throw_did_not_stop(std::exception_ptr body_exception) {
        if (!body_exception) throw std::logic_error("context did not stop");
        // Like CPython's "generator didn't stop after throw()", whose __context__ is the
        // exception thrown in: nest the body's exception, whether or not it is being handled.
        try {
            std::rethrow_exception(std::move(body_exception));
        } catch (...) {
            std::throw_with_nested(std::logic_error("context did not stop"));
        }
    }

    std::coroutine_handle<promise_type> frame_;
    state state_ = state::fresh;
};

namespace detail {

template <class T>
context<T> context_promise<T>::get_return_object() noexcept {
    return context<T>(std::coroutine_handle<context_promise>::from_promise(*this));
}

template <class T>
context<T&> context_promise<T&>::get_return_object() noexcept {
    return context<T&>(std::coroutine_handle<context_promise>::from_promise(*this));
}

inline context<void> context_promise<void>::get_return_object() noexcept {
    return context<void>(std::coroutine_handle<context_promise>::from_promise(*this));
}

}  // namespace detail

}  // namespace holdfast
