// A timed_block logs exactly one event; a copy would log a second one for the same block.
// It is neither copyable nor movable.
#include <holdfast/timing/null_sink.hpp>
#include <holdfast/timing/timed_block.hpp>

int main() {
    holdfast::timing::null_sink sink;
    holdfast::timing::timed_block t(sink, "data_processing");
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::timing::timed_block copy = t;
#endif
}
