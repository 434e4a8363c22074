// exit() must return void or bool: an int would make "suppress" ambiguous.
#include <exception>

#include <holdfast/core/with.hpp>

struct manager {
    void enter() {}
    bool exit(std::exception_ptr) { return false; }
};
struct int_exit {
    void enter() {}
    int exit(std::exception_ptr) { return 0; }
};

int main() {
    (void)holdfast::with(manager{}, [] {});
#ifdef HOLDFAST_COMPILE_FAIL
    (void)holdfast::with(int_exit{}, [] {});
#endif
    return 0;
}
