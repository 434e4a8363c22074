// A temp_file cannot be copied: both copies would remove the same file.
#include <utility>

#include <holdfast/io/temp_file.hpp>

void take(holdfast::io::temp_file owned) {
    owned.keep();
}

void run(holdfast::io::temp_file& temp) {
#ifdef HOLDFAST_COMPILE_FAIL
    take(temp);
#else
    take(std::move(temp));
#endif
}

int main() {}
