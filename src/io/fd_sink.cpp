#include <cerrno>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "io/sigpipe_guard.hpp"
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfast/io/fd_sink.hpp>

namespace holdfast::io {

fd_sink::kind fd_sink::classify(int descriptor, sigpipe_policy policy) {
    if (policy == sigpipe_policy::ignored_by_program) {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) != 0 || current.sa_handler != SIG_IGN) {
            throw std::logic_error(
                "holdfast::io::fd_sink: sigpipe_policy::ignored_by_program, but SIGPIPE is not "
                "ignored");
        }
    }
    struct stat info {};
    const bool known = ::fstat(descriptor, &info) == 0;
    if (known && S_ISSOCK(info.st_mode)) return kind::socket;
    if (known && !S_ISFIFO(info.st_mode)) return kind::plain;
    // A pipe, or unknown: assume the worst unless the program ignores SIGPIPE.
    return policy == sigpipe_policy::ignored_by_program ? kind::plain : kind::pipe;
}

fd_sink::fd_sink(int descriptor, std::string name, sigpipe_policy policy)
    : descriptor_(descriptor), kind_(classify(descriptor, policy)), name_(std::move(name)) {
    if (name_.empty()) name_ = "fd " + std::to_string(descriptor);
}

fd_sink::fd_sink(file owned, sigpipe_policy policy)
    : owned_(std::move(owned)),
      descriptor_(owned_.native_handle()),
      kind_(classify(descriptor_, policy)),
      name_(owned_.path().native()) {}

std::size_t fd_sink::write_some(std::span<const std::byte> data, std::error_code& error) noexcept {
    error.clear();
    for (;;) {
        ssize_t n = 0;
        switch (kind_) {
            case kind::socket:
                n = ::send(descriptor_, data.data(), data.size(), MSG_NOSIGNAL);
                break;
            case kind::pipe: {
                detail::sigpipe_guard guard;
                n = ::write(descriptor_, data.data(), data.size());
                if (n < 0 && errno == EPIPE) guard.epipe_seen();
                break;
            }
            case kind::plain:
                n = ::write(descriptor_, data.data(), data.size());
                break;
        }
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) {
            error.assign(errno, std::system_category());
            return 0;
        }
    }
}

void fd_sink::close(std::error_code& error) noexcept {
    error.clear();
    if (!owned_.is_open()) return;
    try {
        owned_.close();
    } catch (const std::system_error& e) {
        error = e.code();
    } catch (...) {
        error = std::make_error_code(std::errc::io_error);
    }
}

}  // namespace holdfast::io
