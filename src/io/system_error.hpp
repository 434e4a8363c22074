// src/io/system_error.hpp — private: the io layer's std::system_error messages.
#pragma once

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace holdfast::io::detail {

/// "<operation> <path>: <strerror>" — the operation and the path in every message.
[[noreturn]] inline void throw_system_error(int error, std::string_view operation,
                                            const std::filesystem::path& path) {
    std::string message(operation);
    message += ' ';
    message += path.native();
    throw std::system_error(error, std::system_category(), message);
}

/// The same with errno.
[[noreturn]] inline void throw_errno(std::string_view operation,
                                     const std::filesystem::path& path) {
    throw_system_error(errno, operation, path);
}

/// "<operation> <from> -> <to>: <strerror>" for rename-like operations on two paths.
[[noreturn]] inline void throw_errno(std::string_view operation, const std::filesystem::path& from,
                                     const std::filesystem::path& to) {
    const int error = errno;
    std::string message(operation);
    message += ' ';
    message += from.native();
    message += " -> ";
    message += to.native();
    throw std::system_error(error, std::system_category(), message);
}

}  // namespace holdfast::io::detail
