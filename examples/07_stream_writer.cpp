// S7: a stream writer that treats a disconnected reader as normal.
//
// 1. A TCP client on loopback reads three lines of an event stream and hangs up; the server's
//    stream_writer notices (EPIPE / ECONNRESET), drops the rest, and says how much got through.
// 2. Many lines to standard output. `./07_stream_writer --lines 1000000 | head -1` prints one
//    line and exits 0 with nothing on stderr: the broken pipe ends the stream quietly — no
//    SIGPIPE death, no error message. Run alone it writes 1000 lines (the default), quickly.
//
// Python:
//     class StreamWriter:
//         def __exit__(self, exc_type, exc_val, exc_tb) -> bool:
//             self._stream.close()
//             if exc_type is BrokenPipeError: return True    # client disconnected: expected
//             return False                                   # propagate everything else
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>

#include <holdfast/core.hpp>
#include <holdfast/io.hpp>

namespace {

struct event_stream_summary {
    std::uint64_t written = 0;
    std::uint64_t dropped_writes = 0;
    std::string reason;
};

// Streams events to a client that leaves after three of them.
event_stream_summary stream_events_to_an_impatient_client() {
    asio::io_context io;
    auto [client, server] = holdfast::io::tcp_loopback_pair(io);
    std::thread impatient_client([&client = client] {
        asio::streambuf received;
        for (int i = 0; i < 3; ++i) asio::read_until(client, received, '\n');
        client.close();  // unread data pending: the kernel resets the connection
    });

    event_stream_summary summary;
    const bool completed = holdfast::with(
        holdfast::io::stream_writer(holdfast::io::socket_sink(std::move(server))),
        [&](holdfast::io::stream_writer& out) {
            for (int i = 1; i <= 100'000; ++i) {
                out.write("event " + std::to_string(i) + ": " + std::string(1000, '.') + "\n");
                if (out.disconnected()) break;  // nobody listens: stop producing
            }
            summary.written = out.bytes_written();
            summary.dropped_writes = out.writes_dropped();
            summary.reason = out.disconnect_reason().message();
        });
    impatient_client.join();
    (void)completed;  // true: the disconnect was absorbed by the writer, not thrown
    return summary;
}

}  // namespace

int main(int argc, char** argv) {
    long lines = 1000;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--lines") == 0) lines = std::atol(argv[i + 1]);
    }

    try {
        const auto tcp = stream_events_to_an_impatient_client();
        // completed is false only if the body threw a disconnect error that exit suppressed.
        [[maybe_unused]] const bool completed = holdfast::with(
            holdfast::io::stream_writer(holdfast::io::fd_sink::standard_output()),
            [&](holdfast::io::stream_writer& out) {
                out.write("tcp client hung up (" + tcp.reason + ") after " +
                          std::to_string(tcp.written) + " bytes; " +
                          std::to_string(tcp.dropped_writes) + " write dropped\n");
                for (long i = 1; i <= lines && !out.disconnected(); ++i) {
                    out.write("line " + std::to_string(i) + " of " + std::to_string(lines) + "\n");
                }
                // `| head -1` leaving early is not an error, so nothing is reported; the writer
                // knows what happened: out.bytes_written(), out.bytes_dropped().
            });
    } catch (const std::system_error& e) {
        // A real error (a full disk behind `> file`, a closed descriptor): say so, fail.
        std::cerr << "07_stream_writer: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
