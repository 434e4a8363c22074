// A moved-from timed_block would need a "logged elsewhere" state; the type has none and
// refuses to move.
#include <utility>

#include <holdfast/timing/null_sink.hpp>
#include <holdfast/timing/timed_block.hpp>

int main() {
    holdfast::timing::null_sink sink;
    holdfast::timing::timed_block t(sink, "data_processing");
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::timing::timed_block moved(std::move(t));
#endif
}
