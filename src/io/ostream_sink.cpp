#include <cerrno>
#include <cstddef>
#include <ios>
#include <ostream>
#include <span>
#include <system_error>

#include "io/sigpipe_guard.hpp"

#include <holdfast/io/ostream_sink.hpp>

namespace holdfast::io {

namespace {

// The error for a stream that just failed: EPIPE when the streambuf's write(2) left it in
// errno (a pipe whose reader left), a generic stream error otherwise.
std::error_code stream_failure(detail::sigpipe_guard& guard, int errno_after) {
    if (errno_after == EPIPE) {
        guard.epipe_seen();
        return {EPIPE, std::system_category()};
    }
    return std::make_error_code(std::io_errc::stream);
}

}  // namespace

std::size_t ostream_sink::write_some(std::span<const std::byte> data,
                                     std::error_code& error) noexcept {
    error.clear();
    if (!*out_) {
        error = std::make_error_code(std::io_errc::stream);
        return 0;
    }
    detail::sigpipe_guard guard;
    errno = 0;
    try {
        out_->write(reinterpret_cast<const char*>(data.data()),
                    static_cast<std::streamsize>(data.size()));
    } catch (...) {  // a stream with exceptions() enabled
    }
    if (!*out_) {
        error = stream_failure(guard, errno);
        return 0;
    }
    return data.size();
}

void ostream_sink::flush(std::error_code& error) noexcept {
    error.clear();
    if (!*out_) {
        error = std::make_error_code(std::io_errc::stream);
        return;
    }
    detail::sigpipe_guard guard;
    errno = 0;
    try {
        out_->flush();
    } catch (...) {
    }
    if (!*out_) error = stream_failure(guard, errno);
}

}  // namespace holdfast::io
