// holdfast/core/closing.hpp — make any object with close() a context manager.
//
//   // Python: with closing(urlopen(url)) as page: ...
//   holdfast::with(holdfast::closing(socket), [](tcp_socket& s) { s.send(request); });
//   // s.close() ran, also when send threw; an exception from close() replaces send's.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

namespace holdfast {

/// A context manager whose enter returns the object and whose exit calls `close()` on it,
/// whether or not the body threw (like Python's contextlib.closing).
///
/// `closing(lvalue)` refers to the object; `closing(rvalue)` owns it.
///
/// @par Exception safety
/// An exception from `close()` propagates from exit (replacing the body's exception, if any).
template <class T>
class [[nodiscard]] closing {
  public:
    explicit closing(T&& object) noexcept(std::is_nothrow_constructible_v<T, T&&>)
        : object_(std::forward<T>(object)) {}

    std::remove_reference_t<T>& enter() noexcept { return object_; }
    void exit(std::exception_ptr /*error*/) { object_.close(); }

  private:
    T object_;
};

template <class T>
closing(T&&) -> closing<T>;

}  // namespace holdfast
