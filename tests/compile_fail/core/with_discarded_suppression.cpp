// The result of with() over a suppressing manager says whether the body completed; dropping
// it silently is a warning (made an error here).
#pragma GCC diagnostic error "-Wunused-result"
#include <stdexcept>

#include <holdfast/core/suppress.hpp>
#include <holdfast/core/with.hpp>

int main() {
    bool completed = holdfast::with(holdfast::suppress<std::runtime_error>(), [] {});
    (void)completed;
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::with(holdfast::suppress<std::runtime_error>(), [] {});
#endif
    return 0;
}
