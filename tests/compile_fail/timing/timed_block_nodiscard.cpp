// A timed_block that is not named is destroyed at the end of its full-expression: it logs a
// duration of (almost) zero and times nothing. The class and its constructors are
// [[nodiscard]]; g++ reports a discarded one under -Wunused-result and clang under
// -Wunused-value, so both become errors in this file.
#pragma GCC diagnostic error "-Wunused-result"
#pragma GCC diagnostic error "-Wunused-value"
#include <holdfast/timing/null_sink.hpp>
#include <holdfast/timing/timed_block.hpp>

int main() {
    holdfast::timing::null_sink sink;
    holdfast::timing::timed_block t(sink, "data_processing");  // fine: named, lives to the end
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::timing::timed_block(sink, "data_processing");
#endif
}
