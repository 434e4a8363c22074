#include <cstddef>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/io/stream_writer.hpp>

namespace holdfast::io {

stream_writer::~stream_writer() {
    if (!sink_ || closed_) return;
    try {
        close();
    } catch (...) {
        report_current_cleanup_error("holdfast::io::stream_writer destructor");
    }
}

void stream_writer::drop(std::size_t bytes) noexcept {
    bytes_dropped_ += bytes;
    ++writes_dropped_;
}

void stream_writer::throw_error(const std::error_code& error, const char* operation) const {
    std::string message(operation);
    message += ' ';
    message += sink_->name();
    throw std::system_error(error, message);
}

void stream_writer::write(std::span<const std::byte> data) {
    if (closed_ || !sink_) throw std::logic_error("holdfast::io::stream_writer: write after close");
    if (disconnected()) {
        drop(data.size());
        return;
    }
    while (!data.empty()) {
        std::error_code error;
        const std::size_t written = sink_->write_some(data, error);
        bytes_written_ += written;
        data = data.subspan(written);
        if (error) {
            if (!is_disconnect(error)) throw_error(error, "write");
            disconnect_reason_ = error;
            drop(data.size());
            return;
        }
    }
}

void stream_writer::flush() {
    if (closed_ || !sink_) throw std::logic_error("holdfast::io::stream_writer: flush after close");
    if (disconnected()) return;
    std::error_code error;
    sink_->flush(error);
    if (error) {
        if (!is_disconnect(error)) throw_error(error, "flush");
        disconnect_reason_ = error;
    }
}

void stream_writer::close() {
    if (closed_ || !sink_) return;
    closed_ = true;
    std::error_code flush_error;
    if (!disconnected()) sink_->flush(flush_error);
    if (flush_error && is_disconnect(flush_error)) {
        disconnect_reason_ = flush_error;
        flush_error.clear();
    }
    std::error_code close_error;
    sink_->close(close_error);
    if (flush_error) throw_error(flush_error, "flush");
    if (close_error && !is_disconnect(close_error)) throw_error(close_error, "close");
}

bool stream_writer::exit(std::exception_ptr error) {
    if (!error) {
        close();
        return false;
    }
    try {
        close();
    } catch (...) {
        report_current_cleanup_error("holdfast::io::stream_writer exit after an exception");
    }
    try {
        std::rethrow_exception(error);
    } catch (const std::system_error& e) {
        return is_disconnect(e.code());
    } catch (...) {
        return false;
    }
}

}  // namespace holdfast::io
