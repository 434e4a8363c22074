// A lease is the only owner of its resource: copying one would return the resource twice.
#include <holdfast/pool/pool.hpp>

int main() {
    holdfast::pool<int> p([] { return 42; });
    auto lease = p.acquire();
#ifdef HOLDFAST_COMPILE_FAIL
    auto copy = lease;  // error: lease is move-only
#else
    auto moved = std::move(lease);
#endif
}
