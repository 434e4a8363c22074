// with() accepts only context managers: a type without enter()/exit() is rejected.
#include <exception>

#include <holdfast/core/with.hpp>

struct manager {
    void enter() {}
    void exit(std::exception_ptr) {}
};
struct not_a_manager {
    void enter() {}
};

int main() {
    holdfast::with(manager{}, [] {});
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::with(not_a_manager{}, [] {});
#endif
    return 0;
}
