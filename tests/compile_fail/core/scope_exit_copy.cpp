// A scope guard cannot be copied: the copy and the original would both run the cleanup.
#include <utility>

#include <holdfast/core/scope_guard.hpp>

int main() {
    int closes = 0;
    holdfast::scope_exit guard{[&closes] { ++closes; }};
    auto moved = std::move(guard);  // fine: the moved-from guard is disarmed
#ifdef HOLDFAST_COMPILE_FAIL
    auto copy = moved;
#endif
}
