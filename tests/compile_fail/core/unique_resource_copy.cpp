// A unique_resource cannot be copied: both copies would delete the same resource.
#include <utility>

#include <holdfast/core/unique_resource.hpp>

int main() {
    int closes = 0;
    holdfast::unique_resource fd{3, [&closes](int) noexcept { ++closes; }};
    auto moved = std::move(fd);  // fine: the moved-from resource owns nothing
#ifdef HOLDFAST_COMPILE_FAIL
    auto copy = moved;
#endif
}
