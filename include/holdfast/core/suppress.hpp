// holdfast/core/suppress.hpp — suppress chosen exception types, on purpose.
//
//   // Python: with suppress(FileNotFoundError): os.remove(path)
//   bool removed = holdfast::with(holdfast::suppress<std::filesystem::filesystem_error>(),
//                                 [&] { std::filesystem::remove(path); });
//   // removed == false when the error was suppressed; any other exception propagates.
#pragma once

#include <exception>

namespace holdfast {

/// A context manager whose exit suppresses exceptions of the types E... (and types derived
/// from them) and lets every other exception propagate (Python's contextlib.suppress).
/// Because its exit returns bool, holdfast::with() returns an optional (or bool) for it.
template <class... E>
class [[nodiscard]] suppress {
    static_assert(sizeof...(E) > 0, "suppress<E...> needs at least one exception type");

  public:
    void enter() noexcept {}

    /// Returns true when `error` is one of E... .
    bool exit(std::exception_ptr error) noexcept {
        return error != nullptr && matches<E...>(error);
    }

  private:
    template <class First, class... Rest>
    static bool matches(const std::exception_ptr& error) noexcept {
        try {
            std::rethrow_exception(error);
        } catch (const First&) {
            return true;
        } catch (...) {
            if constexpr (sizeof...(Rest) > 0) {
                return matches<Rest...>(error);
            } else {
                return false;
            }
        }
    }
};

}  // namespace holdfast
