// An exit_stack cannot be copied: two copies would run every cleanup twice.
#include <holdfast/core/exit_stack.hpp>

int main() {
    holdfast::exit_stack stack;
    holdfast::exit_stack moved = stack.pop_all();
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::exit_stack copy = moved;
#endif
    return 0;
}
