// An io::file cannot be copied: both copies would close the same descriptor.
#include <utility>

#include <holdfast/io/file.hpp>

int main() {
    holdfast::io::file original;
    holdfast::io::file moved = std::move(original);  // fine: ownership moves
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::io::file copy = moved;
#endif
    (void)moved.is_open();
}
