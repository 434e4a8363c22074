// holdfast/core/generator.hpp — a synchronous generator with a return value, like Python's
// Generator[Y, None, R].
//
//   // Yields each non-empty line of a config text; returns how many lines were skipped.
//   holdfast::generator<std::string_view, std::size_t> config_lines(std::string_view text) {
//       std::size_t skipped = 0;
//       while (!text.empty()) {
//           const auto end = std::min(text.find('\n'), text.size());
//           const std::string_view line = text.substr(0, end);
//           text.remove_prefix(std::min(end + 1, text.size()));
//           if (line.starts_with('#')) { ++skipped; continue; }
//           if (line.find('=') == line.npos) throw parse_error(line);   // reaches the consumer
//           co_yield line;
//       }
//       co_return skipped;
//   }
//
//   auto lines = config_lines(text);            // lazy: nothing has run yet
//   try {
//       for (std::string_view line : lines) apply(line);
//   } catch (const parse_error& e) {
//       log(e);                                 // lines.result() would now throw logic_error
//       return;
//   }
//   std::size_t skipped = lines.result();       // only after exhaustion
#pragma once

#include <cassert>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace holdfast {

template <class Y, class R = void>
class generator;

namespace detail {

// The part of a generator's promise that depends on R: a promise type may have return_value or
// return_void, never both.
// Members are public for generator<Y, R>, which reads them; users never see the promise.
template <class R>
class generator_return {
  public:
    template <class U = R>
    requires std::constructible_from<R, U>
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<R, U>) {
        result_.emplace(std::forward<U>(value));
    }

    bool returned() const noexcept { return result_.has_value(); }
    std::optional<R> result_;
};

template <>
class generator_return<void> {
  public:
    void return_void() noexcept { returned_ = true; }
    bool returned() const noexcept { return returned_; }
    bool returned_ = false;
};

}  // namespace detail

/// A lazily started coroutine that produces a sequence of `Y` with `co_yield` and finishes with
/// `co_return r` — the C++ form of Python's `Generator[Y, None, R]`.
///
/// It is an input range: range-for, `begin()`/`end()` (the sentinel is
/// `std::default_sentinel_t`) and the `std::ranges` algorithms that accept input ranges work.
/// After the sequence is exhausted, `result()` gives the value of `co_return` (Python's
/// `StopIteration.value`).
///
/// Yielded values are never copied when they do not have to be: the promise stores the address
/// of the object given to `co_yield` and the consumer reads it through that address. A
/// temporary (`co_yield std::string(...)`) lives until the coroutine is resumed, so it is valid
/// for as long as the consumer's `*it`.
/// - `Y` a reference type (`generator<const std::string&>`): `*it` is `Y`, the yielded object
///   itself — lvalues and temporaries alike, no copy.
/// - `Y` a value type (`generator<std::string>`): `*it` is `Y&&`, so the consumer may move from
///   it. Rvalues (`co_yield std::move(s)`, `co_yield make()`) are not copied. Yielding an
///   lvalue copies it once into the coroutine frame, because the consumer must not steal the
///   producer's variable (the rule of C++23's `std::generator`); yield `std::move(x)` to avoid
///   the copy.
///
/// `R` is `void` or an object type. A generator with a non-void `R` must end with `co_return`
/// of a value (flowing off the end is undefined behaviour, as for any coroutine).
/// `co_await` cannot be used inside a generator.
///
/// @par Errors
/// An exception thrown inside the coroutine propagates to the consumer out of `begin()` or
/// `++it` — whichever resumed it — after every element yielded before it was delivered. The
/// generator is then exhausted (`it == end()`) and has no result.
/// @par Object lifetimes
/// Destroying the generator destroys the coroutine frame at its current suspension point: the
/// destructors of the coroutine's live locals (and of its by-value parameters) run then, exactly
/// once, whether or not the sequence was finished — like Python's `generator.close()`. Iterators
/// and the references they return are invalidated by the next `++` and by destruction.
/// Reference parameters of the coroutine are stored as references: what they refer to must
/// outlive the generator.
/// @par Thread safety
/// Not thread safe; a generator may move between threads between resumptions.
template <class Y, class R>
class [[nodiscard]] generator : public std::ranges::view_base {
    static_assert(std::is_void_v<R> || std::is_object_v<R>,
                  "generator<Y, R>: R must be void or an object type");
    static_assert(!std::is_void_v<Y>, "generator<Y, R>: Y cannot be void");

    using const_result_reference =
        std::conditional_t<std::is_void_v<R>, void, std::add_lvalue_reference_t<const R>>;

  public:
    /// What `co_yield` binds to and what `*it` returns: `Y` if it is a reference, else `Y&&`.
    using reference = std::conditional_t<std::is_reference_v<Y>, Y, Y&&>;
    using value_type = std::remove_cvref_t<Y>;
    using result_type = R;

    class promise_type;
    class iterator;

    generator(generator&& other) noexcept : coroutine_(std::exchange(other.coroutine_, {})) {}
    generator& operator=(generator&& other) noexcept {
        generator(std::move(other)).swap(*this);
        return *this;
    }
    generator(const generator&) = delete;
    generator& operator=(const generator&) = delete;

    /// Destroys the coroutine frame (if any) where it is suspended.
    ~generator() {
        if (coroutine_) coroutine_.destroy();
    }

    void swap(generator& other) noexcept { std::swap(coroutine_, other.coroutine_); }
    friend void swap(generator& a, generator& b) noexcept { a.swap(b); }

    /// Starts the coroutine and runs it to its first `co_yield` (or to its end).
    ///
    /// @par Errors
    /// Rethrows an exception that escaped the coroutine. `std::logic_error` when called a
    /// second time or on a moved-from generator (an input range is traversed once).
    iterator begin() {
        auto& promise = checked_promise("begin()");
        if (promise.started_) throw std::logic_error("holdfast::generator: begin() called twice");
        promise.started_ = true;
        coroutine_.resume();
        promise.rethrow_if_failed();
        return iterator{coroutine_};
    }

    std::default_sentinel_t end() const noexcept { return std::default_sentinel; }

    /// True once the coroutine has finished, by `co_return` or by an exception.
    bool exhausted() const noexcept { return coroutine_ && coroutine_.done(); }

    /// The value given to `co_return`, available once the sequence is exhausted.
    ///
    /// The value lives in the coroutine frame: the lvalue overloads return a reference valid as
    /// long as the generator; `std::move(gen).result()` moves it out (the way to take a large
    /// result, e.g. `with_accumulation`'s content, without a copy). For `R = void` they return
    /// nothing and only check that the generator finished by returning.
    ///
    /// @par Errors
    /// `std::logic_error` before the sequence is exhausted, after it ended with an exception
    /// (the exception was already delivered to the consumer; it is not thrown twice), and on a
    /// moved-from generator.
    std::add_lvalue_reference_t<R> result() & {
        [[maybe_unused]] auto& promise = finished_promise();
        if constexpr (!std::is_void_v<R>) return *promise.result_;
    }
    const_result_reference result() const& {
        [[maybe_unused]] const auto& promise = finished_promise();
        if constexpr (!std::is_void_v<R>) return *promise.result_;
    }
    R result() && {
        [[maybe_unused]] auto& promise = finished_promise();
        if constexpr (!std::is_void_v<R>) return std::move(*promise.result_);
    }

  private:
    using handle_type = std::coroutine_handle<promise_type>;
    explicit generator(handle_type coroutine) noexcept : coroutine_(coroutine) {}

    promise_type& checked_promise(const char* operation) const {
        if (!coroutine_) {
            throw std::logic_error(std::string("holdfast::generator: ") + operation +
                                   " on a moved-from generator");
        }
        return coroutine_.promise();
    }

    promise_type& finished_promise() const {
        auto& promise = checked_promise("result()");
        if (!coroutine_.done()) {
            throw std::logic_error(
                "holdfast::generator: result() requested before the generator was exhausted");
        }
        if (promise.exception_ || !promise.returned()) {
            throw std::logic_error(
                "holdfast::generator: result() requested but the generator ended with an "
                "exception");
        }
        return promise;
    }

    handle_type coroutine_;
};

/// The coroutine's promise: holds the address of the current element, the return value and an
/// exception that escaped the coroutine body.
template <class Y, class R>
class generator<Y, R>::promise_type : public detail::generator_return<R> {
    using pointer = std::add_pointer_t<reference>;

    // Yielding an lvalue into a generator of values: the copy lives in this awaiter, which the
    // compiler keeps in the coroutine frame across the suspension.
    struct copy_awaiter {
        value_type copy_;
        promise_type* promise_;

        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) noexcept {
            promise_->element_ = std::addressof(copy_);
        }
        void await_resume() const noexcept {}
    };

  public:
    generator get_return_object() noexcept { return generator{handle_type::from_promise(*this)}; }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_always final_suspend() const noexcept { return {}; }

    std::suspend_always yield_value(reference element) noexcept {
        element_ = std::addressof(element);
        return {};
    }
    copy_awaiter yield_value(const std::remove_reference_t<reference>&element) requires
        std::is_rvalue_reference_v<reference> && std::constructible_from < value_type,
        const std::remove_reference_t<reference>
    & > { return copy_awaiter{value_type(element), this}; }

    // A generator is synchronous: there is nobody to resume it after a co_await.
    template <class T>
    std::suspend_never await_transform(T&&) = delete;

    void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  private:
    friend generator;
    friend class generator::iterator;

    void rethrow_if_failed() const {
        if (exception_) std::rethrow_exception(exception_);
    }

    pointer element_ = nullptr;
    std::exception_ptr exception_;
    bool started_ = false;
};

/// The generator's input iterator: `*it` is the current element, `++it` resumes the coroutine.
/// Move-only (an input iterator need not be copyable, and a copy could not be advanced
/// independently anyway).
template <class Y, class R>
class generator<Y, R>::iterator {
  public:
    using value_type = generator::value_type;
    using difference_type = std::ptrdiff_t;

    iterator() = default;
    iterator(iterator&& other) noexcept = default;
    iterator& operator=(iterator&& other) noexcept = default;

    /// Precondition: `*this != end()`.
    reference operator*() const noexcept {
        assert(coroutine_ && !coroutine_.done());
        return static_cast<reference>(*coroutine_.promise().element_);
    }

    /// Resumes the coroutine up to its next `co_yield` or its end. Precondition: not at the end.
    ///
    /// @par Errors
    /// Rethrows an exception that escaped the coroutine; the iterator is then at the end.
    iterator& operator++() {
        assert(coroutine_ && !coroutine_.done());
        coroutine_.resume();
        coroutine_.promise().rethrow_if_failed();
        return *this;
    }
    void operator++(int) { ++*this; }

    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
        return it.coroutine_.done();
    }

  private:
    friend generator;
    explicit iterator(handle_type coroutine) noexcept : coroutine_(coroutine) {}

    handle_type coroutine_ = nullptr;
};

static_assert(std::input_iterator<generator<int>::iterator>);
static_assert(std::sentinel_for<std::default_sentinel_t, generator<int>::iterator>);
static_assert(std::ranges::input_range<generator<int>>);
static_assert(std::ranges::view<generator<int>>);
static_assert(std::input_iterator<generator<const int&, int>::iterator>);
static_assert(std::ranges::input_range<generator<const int&, int>>);

}  // namespace holdfast
