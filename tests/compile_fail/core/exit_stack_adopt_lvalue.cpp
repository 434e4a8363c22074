// exit_stack::adopt() takes ownership, so it refuses an lvalue the caller still owns.
#include <string>

#include <holdfast/core/exit_stack.hpp>

int main() {
    holdfast::exit_stack stack;
    std::string owned = "caller's";
    stack.adopt(std::string("stack's"));
#ifdef HOLDFAST_COMPILE_FAIL
    stack.adopt(owned);
#endif
    return 0;
}
