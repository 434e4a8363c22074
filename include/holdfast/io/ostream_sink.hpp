// holdfast/io/ostream_sink.hpp — a byte sink over a std::ostream.
//
//   std::ostringstream captured;
//   holdfast::io::stream_writer writer(captured);         // uses ostream_sink
//   writer.write("hello\n");
//   captured.setstate(std::ios::badbit);
//   writer.write("lost?\n");   // throws std::system_error (io_errc::stream): a failed stream
//                              // is an error, not a disconnect
#pragma once

#include <cstddef>
#include <iosfwd>
#include <span>
#include <string_view>
#include <system_error>

namespace holdfast::io {

/// Writes to a `std::ostream` it refers to (never owns). flush() flushes it; close() does
/// nothing more (stream_writer flushes before closing; the stream stays open: it is not ours).
///
/// A stream in a failed state, or one that fails during a write or flush, is an error
/// `std::io_errc::stream` — except when the failure left errno at EPIPE (std::cout or an
/// ofstream over a pipe whose reader left), which is reported as EPIPE so stream_writer
/// treats it as a disconnect. SIGPIPE is blocked in the calling thread around every write
/// and flush, as for fd_sink, since the stream's buffer may write to a pipe at any time.
///
/// @par Object lifetimes
/// The stream must outlive the sink.
class ostream_sink {
  public:
    explicit ostream_sink(std::ostream& out) noexcept : out_(&out) {}

    std::size_t write_some(std::span<const std::byte> data, std::error_code& error) noexcept;
    void flush(std::error_code& error) noexcept;
    void close(std::error_code& error) noexcept { error.clear(); }
    std::string_view name() const noexcept { return "std::ostream"; }

  private:
    std::ostream* out_;
};

}  // namespace holdfast::io
