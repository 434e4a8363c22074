// A scope guard that is not named is destroyed at the end of its full-expression: it runs its
// cleanup at once and guards nothing. Its constructor is [[nodiscard]]; g++ reports a discarded
// one under -Wunused-result and clang under -Wunused-value, so both become errors in this file.
#pragma GCC diagnostic error "-Wunused-result"
#pragma GCC diagnostic error "-Wunused-value"
#include <holdfast/core/scope_guard.hpp>

int main() {
    int closes = 0;
    holdfast::scope_exit guard{[&closes] { ++closes; }};  // fine: named, lives to the scope's end
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::scope_exit{[&closes] { ++closes; }};
#endif
}
