// A lease is typed by its pool's resource: a pool<int>'s lease is not a lease<long>.
#include <holdfast/pool/pool.hpp>

int main() {
    holdfast::pool<int> p([] { return 42; });
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::lease<long> lease = p.acquire();  // error: no conversion
#else
    holdfast::lease<int> lease = p.acquire();
#endif
}
