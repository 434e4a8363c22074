// holdfast/core/adopt.hpp — use any movable RAII object as a context manager.
//
//   holdfast::with(holdfast::adopt(std::ifstream(path)), [](std::ifstream& in) {
//       parse(in);
//   });   // the stream is destroyed (closed) when the body ends, normally or not
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace holdfast {

/// A context manager that owns an RAII object, hands it to the body from enter, and
/// destroys it in exit — so the object's lifetime is exactly the `with` block, even when the
/// manager itself lives longer (for example inside an exit_stack).
///
/// @par Exception safety
/// Destructors do not throw, so exit never throws.
template <class T>
class [[nodiscard]] adopt {
    static_assert(!std::is_reference_v<T>, "adopt takes ownership: pass an rvalue");

  public:
    explicit adopt(T&& object) noexcept(std::is_nothrow_move_constructible_v<T>)
        : object_(std::move(object)) {}

    T& enter() noexcept { return *object_; }
    void exit(std::exception_ptr /*error*/) noexcept { object_.reset(); }

  private:
    std::optional<T> object_;
};

template <class T>
adopt(T&&) -> adopt<std::remove_cvref_t<T>>;

}  // namespace holdfast
