#include <cerrno>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "io/system_error.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/io/file.hpp>

namespace holdfast::io {

namespace {

int open_flags(open_mode mode) {
    switch (mode) {
        case open_mode::read:
            return O_RDONLY;
        case open_mode::read_write:
            return O_RDWR;
        case open_mode::write:
            return O_WRONLY | O_CREAT | O_TRUNC;
        case open_mode::append:
            return O_WRONLY | O_CREAT | O_APPEND;
        case open_mode::create_exclusive:
            return O_WRONLY | O_CREAT | O_EXCL;
    }
    return O_RDONLY;
}

}  // namespace

file::file(int descriptor, std::filesystem::path path) noexcept
    : descriptor_(descriptor), path_(std::move(path)) {}

file::file(std::filesystem::path path, open_mode mode, std::filesystem::perms permissions)
    : path_(std::move(path)) {
    const auto creation_mode = static_cast<mode_t>(permissions & std::filesystem::perms::mask);
    do {
        descriptor_ = ::open(path_.c_str(), open_flags(mode) | O_CLOEXEC, creation_mode);
    } while (descriptor_ < 0 && errno == EINTR);  // open of a FIFO can block and be interrupted
    if (descriptor_ < 0) detail::throw_errno("open", path_);
}

file file::adopt_descriptor(int descriptor, std::filesystem::path name) noexcept {
    return file(descriptor, std::move(name));
}

file::file(file&& other) noexcept
    : descriptor_(std::exchange(other.descriptor_, -1)), path_(std::move(other.path_)) {}

file& file::operator=(file&& other) noexcept {
    if (this != &other) {
        close_and_report("holdfast::io::file move assignment");
        descriptor_ = std::exchange(other.descriptor_, -1);
        path_ = std::move(other.path_);
    }
    return *this;
}

file::~file() {
    close_and_report("holdfast::io::file destructor");
}

void file::close_and_report(const char* where) noexcept {
    if (descriptor_ < 0) return;
    try {
        close();
    } catch (...) {
        report_current_cleanup_error(where);
    }
}

std::size_t file::read_some(std::span<std::byte> buffer) {
    for (;;) {
        const ssize_t n = ::read(descriptor_, buffer.data(), buffer.size());
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) detail::throw_errno("read", path_);
    }
}

std::size_t file::read_some(char* data, std::size_t size) {
    return read_some(std::as_writable_bytes(std::span(data, size)));
}

std::string file::read_all() {
    // Start with the remaining size of a regular file, so reading it takes one allocation
    // and, with the final zero-length read, two system calls.
    std::size_t capacity = 4096;
    struct stat info {};
    if (::fstat(descriptor_, &info) == 0 && S_ISREG(info.st_mode)) {
        const off_t offset = ::lseek(descriptor_, 0, SEEK_CUR);
        if (offset >= 0 && info.st_size > offset) {
            capacity = static_cast<std::size_t>(info.st_size - offset) + 1;
        }
    }
    std::string content;
    std::size_t size = 0;
    for (;;) {
        if (content.size() - size == 0) content.resize(size == 0 ? capacity : 2 * content.size());
        const std::size_t n = read_some(content.data() + size, content.size() - size);
        if (n == 0) break;
        size += n;
    }
    content.resize(size);
    return content;
}

std::size_t file::write_some(std::span<const std::byte> data) {
    for (;;) {
        const ssize_t n = ::write(descriptor_, data.data(), data.size());
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) detail::throw_errno("write", path_);
    }
}

void file::write_all(std::span<const std::byte> data) {
    while (!data.empty()) {
        const ssize_t n = ::write(descriptor_, data.data(), data.size());
        if (n > 0) {
            data = data.subspan(static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EINTR) {
            detail::throw_errno("write", path_);
        }
        // n == 0 for a non-empty buffer does not happen for files, pipes or sockets; looping
        // retries it like EINTR.
    }
}

void file::write_all(std::string_view data) {
    write_all(std::as_bytes(std::span(data)));
}

void file::fsync() {
    if (::fsync(descriptor_) != 0) detail::throw_errno("fsync", path_);
}

void file::close() {
    if (descriptor_ < 0) return;
    // Never retried, also after EINTR: see the doc comment. The descriptor is gone either way.
    const int result = ::close(std::exchange(descriptor_, -1));
    if (result != 0) detail::throw_errno("close", path_);
}

int file::release() noexcept {
    return std::exchange(descriptor_, -1);
}

void file::exit(std::exception_ptr error) {
    if (!error) {
        close();
    } else {
        close_and_report("holdfast::io::file exit after an exception");
    }
}

}  // namespace holdfast::io
