// A connection owns one server session and closes it once: it moves, it never copies.
#include <utility>

#include <holdfast/sqlite/connection.hpp>

int main() {
    holdfast::sqlite::connection conn(":memory:");
    holdfast::sqlite::connection moved = std::move(conn);
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::sqlite::connection copy = moved;
#endif
}
