// Built against the installed package only: proves the exported targets and headers work.
#include <cstdio>
#include <stdexcept>

#include <holdfast/holdfast.hpp>

int main() {
    int released = 0;
    holdfast::exit_stack stack;
    stack.callback([&] { ++released; });
    bool completed = holdfast::with(holdfast::suppress<std::runtime_error>(),
                                    [] { throw std::runtime_error("suppressed on purpose"); });
    stack.close();
    std::printf("holdfast consumer: released=%d completed=%d\n", released, completed);
    return released == 1 && !completed ? 0 : 1;
}
