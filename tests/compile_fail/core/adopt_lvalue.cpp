// holdfast::adopt takes ownership: it refuses an lvalue the caller still owns.
#include <string>

#include <holdfast/core/adopt.hpp>

int main() {
    std::string owned = "caller's";
    holdfast::adopt from_rvalue(std::string("manager's"));
    (void)from_rvalue;
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::adopt from_lvalue(owned);
#endif
    return 0;
}
