// holdfast/core/nullcontext.hpp — a context manager that does nothing.
//
//   // Use an optional lock only when asked to, with one code path:
//   auto run = [&](auto&& cm) { return holdfast::with(cm, [&] { return work(); }); };
//   use_lock ? run(locked(mutex)) : run(holdfast::nullcontext());
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

namespace holdfast {

/// A context manager that acquires nothing and releases nothing (Python's
/// contextlib.nullcontext). `nullcontext(value)` returns the value from enter;
/// `nullcontext()` returns void. An lvalue is referred to, an rvalue is stored.
template <class T = void>
class [[nodiscard]] nullcontext {
  public:
    explicit nullcontext(T&& value) noexcept(std::is_nothrow_constructible_v<T, T&&>)
        : value_(std::forward<T>(value)) {}

    std::remove_reference_t<T>& enter() noexcept { return value_; }
    void exit(std::exception_ptr /*error*/) noexcept {}

  private:
    T value_;
};

template <>
class [[nodiscard]] nullcontext<void> {
  public:
    void enter() noexcept {}
    void exit(std::exception_ptr /*error*/) noexcept {}
};

nullcontext()->nullcontext<void>;
template <class T>
nullcontext(T&&) -> nullcontext<T>;

}  // namespace holdfast
