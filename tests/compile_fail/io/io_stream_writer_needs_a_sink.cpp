// stream_writer accepts byte sinks only: a bare descriptor number does not say whether the
// writer owns it, so it must be wrapped in fd_sink (borrowed) or an io::file (owned).
#include <holdfast/io/stream_writer.hpp>

int main() {
    holdfast::io::stream_writer fine(holdfast::io::fd_sink(1, "<stdout>"));
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::io::stream_writer wrong(1);
#endif
}
