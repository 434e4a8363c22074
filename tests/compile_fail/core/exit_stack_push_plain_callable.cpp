// push() takes exits that receive the exception; a plain cleanup goes through callback().
#include <holdfast/core/exit_stack.hpp>

int main() {
    holdfast::exit_stack stack;
    stack.callback([] {});
#ifdef HOLDFAST_COMPILE_FAIL
    stack.push([] {});
#endif
    return 0;
}
