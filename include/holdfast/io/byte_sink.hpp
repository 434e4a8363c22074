// holdfast/io/byte_sink.hpp — what stream_writer writes to: anything that accepts bytes and
// reports failures as error codes.
//
//   // A sink that appends to a vector (a test double, or an in-memory transport):
//   struct vector_sink {
//       std::vector<std::byte>* out;
//       std::size_t write_some(std::span<const std::byte> data, std::error_code&) noexcept {
//           out->insert(out->end(), data.begin(), data.end());
//           return data.size();
//       }
//       void flush(std::error_code&) noexcept {}
//       void close(std::error_code&) noexcept {}
//       std::string_view name() const noexcept { return "vector"; }
//   };
//   static_assert(holdfast::io::byte_sink<vector_sink>);
//   holdfast::io::stream_writer writer(vector_sink{&bytes});
#pragma once

#include <cerrno>
#include <concepts>
#include <cstddef>
#include <span>
#include <string_view>
#include <system_error>

namespace holdfast::io {

/// A destination for bytes with the error-code interface stream_writer needs:
/// - `write_some(data, error)` writes a non-empty prefix of `data` and returns its length, or
///   sets `error` and returns 0 (never throws: the writer classifies the error);
/// - `flush(error)` pushes out anything the sink buffers;
/// - `close(error)` releases what the sink owns (a borrowed descriptor is left open);
/// - `name()` says what it is for error messages ("<stdout>", "tcp 127.0.0.1:8080").
template <class Sink>
concept byte_sink = requires(Sink& sink, const Sink& const_sink, std::span<const std::byte> data,
                             std::error_code& error) {
    { sink.write_some(data, error) } -> std::same_as<std::size_t>;
    { sink.flush(error) } -> std::same_as<void>;
    { sink.close(error) } -> std::same_as<void>;
    { const_sink.name() } -> std::convertible_to<std::string_view>;
};

/// Whether `error` means the reader went away — EPIPE (a pipe or socket with no reader left)
/// or ECONNRESET (the TCP peer reset the connection). For stream_writer these are the
/// expected end of a stream, not failures.
///
/// Also recognizes the codes of Asio's own "asio.system" category: in Asio 1.22 that category
/// carries errno values but maps none of them to `std::errc` conditions, so
/// `asio::error::connection_reset == std::errc::connection_reset` is false there.
inline bool is_disconnect(const std::error_code& error) noexcept {
    if (error == std::errc::broken_pipe || error == std::errc::connection_reset) return true;
    if (std::string_view(error.category().name()) == "asio.system") {
        return error.value() == EPIPE || error.value() == ECONNRESET;
    }
    return false;
}

}  // namespace holdfast::io
