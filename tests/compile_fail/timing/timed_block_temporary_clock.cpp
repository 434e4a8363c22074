// A timed_block keeps a pointer to its time source and reads it again when the block ends: a
// temporary source would be gone by then, so passing one is rejected.
#include <holdfast/core/time_source.hpp>
#include <holdfast/timing/null_sink.hpp>
#include <holdfast/timing/timed_block.hpp>

int main() {
    holdfast::timing::null_sink sink;
    holdfast::manual_clock clock;
    holdfast::timing::timed_block t(sink, "data_processing", {}, clock);  // fine: outlives t
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::timing::timed_block dangling(sink, "data_processing", {}, holdfast::manual_clock());
#endif
}
