// holdfast/io/stream_writer.hpp — write a stream to a reader that may leave at any time (S7).
//
//   // `./report | head -1`: head exits after one line; that is the reader's right, not an error.
//   bool completed = holdfast::with(
//       holdfast::io::stream_writer(holdfast::io::fd_sink::standard_output()),
//       [&](holdfast::io::stream_writer& out) {
//           for (const auto& row : rows) {
//               out.write(format(row));          // never killed by SIGPIPE
//               if (out.disconnected()) break;   // optional: stop producing early
//           }
//           // ENOSPC, EBADF, EIO... from write() are real errors: they propagate.
//       });
//   // completed is false only if the body threw a disconnect error (e.g. an asio::write on the
//   // same socket) that exit suppressed; any other exception propagates out of with().
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <iosfwd>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include <holdfast/io/byte_sink.hpp>
#include <holdfast/io/fd_sink.hpp>
#include <holdfast/io/ostream_sink.hpp>

namespace holdfast::io {

/// Writes a stream of bytes to a byte sink and treats a vanished reader as the normal end of
/// the stream (S7's StreamWriter).
///
/// When a write fails with EPIPE or ECONNRESET (see is_disconnect()), the writer becomes
/// disconnected(): that write and every later one are dropped and counted
/// (bytes_dropped(), writes_dropped()), nothing is thrown. bytes_written() counts the bytes
/// the sink accepted, including a partial write just before the disconnect. Any other error
/// throws `std::system_error` "write <sink name>: <reason>".
///
/// Never killed by SIGPIPE: see fd_sink (pipes: SIGPIPE blocked in the writing thread and the
/// raised signal consumed; sockets: MSG_NOSIGNAL) and docs/io.md for why the program's
/// SIGPIPE disposition is left alone.
///
/// As a context manager (enter returns the writer) exit closes the sink and returns true —
/// suppresses — exactly when the body's exception is a `std::system_error` whose code
/// is_disconnect(); every other exception propagates. On success, a close error propagates.
///
/// Unbuffered: every write() reaches the sink (one system call for fd and socket sinks), so a
/// streaming client sees each piece as soon as it is written; batch small pieces yourself if
/// throughput matters more than latency.
///
/// @par Exception safety
/// write(): after an exception some prefix of the data may have been written (counted in
/// bytes_written()). close() throws; the destructor closes and reports errors to the cleanup
/// error handler.
/// @par Thread safety
/// Not thread safe.
class [[nodiscard]] stream_writer {
  public:
    /// Writes to `sink`, which the writer owns (the sink itself may borrow, e.g. fd_sink over
    /// stdout).
    template <byte_sink Sink>
    requires(!std::is_same_v<std::remove_cvref_t<Sink>, stream_writer>) explicit stream_writer(
        Sink sink)
        : sink_(std::make_unique<sink_model<Sink>>(std::move(sink))) {}

    /// Writes to `out` through an ostream_sink; `out` must outlive the writer.
    explicit stream_writer(std::ostream& out) : stream_writer(ostream_sink(out)) {}

    stream_writer(stream_writer&&) noexcept = default;
    stream_writer& operator=(stream_writer&&) = delete;
    stream_writer(const stream_writer&) = delete;
    stream_writer& operator=(const stream_writer&) = delete;

    /// Closes the sink if still open; errors go to the cleanup error handler.
    ~stream_writer();

    /// Writes all of `data`, or drops it once the reader is gone.
    ///
    /// @par Errors
    /// `std::system_error` for any failure other than a disconnect; `std::logic_error` after
    /// close().
    void write(std::string_view data) { write(std::as_bytes(std::span(data))); }
    /// @copydoc write(std::string_view)
    void write(std::span<const std::byte> data);

    /// Pushes out what the sink buffers (an ostream's buffer); fd and socket sinks buffer
    /// nothing. A disconnect is handled as in write().
    void flush();

    /// Whether the reader has gone away (a write or flush failed with EPIPE or ECONNRESET).
    bool disconnected() const noexcept { return static_cast<bool>(disconnect_reason_); }
    /// The error that marked the disconnect, or an empty code.
    std::error_code disconnect_reason() const noexcept { return disconnect_reason_; }

    /// Bytes the sink accepted.
    std::uint64_t bytes_written() const noexcept { return bytes_written_; }
    /// Bytes dropped because the reader had gone: the unwritten rest of the write that
    /// discovered the disconnect, and everything written after it.
    std::uint64_t bytes_dropped() const noexcept { return bytes_dropped_; }
    /// write() calls that dropped data (the one that discovered the disconnect included).
    std::uint64_t writes_dropped() const noexcept { return writes_dropped_; }

    /// Flushes and closes the sink (a second call does nothing). A disconnect while flushing
    /// is not an error.
    ///
    /// @par Errors
    /// `std::system_error` "close <sink name>: <reason>" or "flush ...".
    void close();
    bool is_closed() const noexcept { return closed_; }

    /// Context-manager protocol; see the class description.
    stream_writer& enter() noexcept { return *this; }
    bool exit(std::exception_ptr error);

  private:
    struct sink_interface {
        virtual ~sink_interface() = default;
        virtual std::size_t write_some(std::span<const std::byte> data,
                                       std::error_code& error) noexcept = 0;
        virtual void flush(std::error_code& error) noexcept = 0;
        virtual void close(std::error_code& error) noexcept = 0;
        virtual std::string_view name() const noexcept = 0;
    };

    template <class Sink>
    struct sink_model final : sink_interface {
        explicit sink_model(Sink&& s) : sink(std::move(s)) {}
        std::size_t write_some(std::span<const std::byte> data,
                               std::error_code& error) noexcept override {
            return sink.write_some(data, error);
        }
        void flush(std::error_code& error) noexcept override { sink.flush(error); }
        void close(std::error_code& error) noexcept override { sink.close(error); }
        std::string_view name() const noexcept override { return sink.name(); }
        Sink sink;
    };

    void drop(std::size_t bytes) noexcept;
    [[noreturn]] void throw_error(const std::error_code& error, const char* operation) const;

    std::unique_ptr<sink_interface> sink_;
    std::error_code disconnect_reason_;
    std::uint64_t bytes_written_ = 0;
    std::uint64_t bytes_dropped_ = 0;
    std::uint64_t writes_dropped_ = 0;
    bool closed_ = false;
};

}  // namespace holdfast::io
