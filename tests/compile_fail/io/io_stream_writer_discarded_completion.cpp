// A stream_writer's exit can suppress a disconnect, so with() returns whether the body
// completed; dropping that silently is a warning (made an error here).
#pragma GCC diagnostic error "-Wunused-result"
#include <holdfast/core/with.hpp>
#include <holdfast/io/stream_writer.hpp>

int main() {
    bool completed = holdfast::with(holdfast::io::stream_writer(holdfast::io::fd_sink(1)),
                                    [](holdfast::io::stream_writer& out) { out.write("x"); });
    (void)completed;
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::with(holdfast::io::stream_writer(holdfast::io::fd_sink(1)),
                   [](holdfast::io::stream_writer& out) { out.write("x"); });
#endif
}
