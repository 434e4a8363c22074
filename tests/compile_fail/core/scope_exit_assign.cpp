// A scope guard cannot be assigned, not even from an rvalue: the target's own cleanup would have
// to be either run early or silently dropped.
#include <utility>

#include <holdfast/core/scope_guard.hpp>

int main() {
    int closes = 0;
    auto close = [&closes] { ++closes; };
    holdfast::scope_exit first{close};
    holdfast::scope_exit second{close};
    holdfast::scope_exit third{std::move(second)};  // fine: move construction
#ifdef HOLDFAST_COMPILE_FAIL
    first = std::move(third);
#endif
}
