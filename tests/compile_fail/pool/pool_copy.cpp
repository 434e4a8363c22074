// A pool owns its resources' shared state: it can be moved, never copied.
#include <holdfast/pool/pool.hpp>

int main() {
    holdfast::pool<int> p([] { return 42; });
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::pool<int> copy = p;  // error: pool is not copyable
#else
    holdfast::pool<int> moved = std::move(p);
#endif
}
