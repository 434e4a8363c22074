#include <cerrno>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string_view>
#include <utility>

#include "io/system_error.hpp"
#include <unistd.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/io/detail/unique_file.hpp>
#include <holdfast/io/temp_file.hpp>

namespace holdfast::io {

temp_file::temp_file(const std::filesystem::path& directory, std::string_view prefix,
                     std::string_view suffix)
    : file_(detail::create_unique_file(directory, prefix, suffix)) {}

temp_file::temp_file(temp_file&& other) noexcept
    : file_(std::move(other.file_)), owns_path_(std::exchange(other.owns_path_, false)) {}

temp_file& temp_file::operator=(temp_file&& other) noexcept {
    if (this != &other) {
        remove_and_report("holdfast::io::temp_file move assignment");
        file_ = std::move(other.file_);
        owns_path_ = std::exchange(other.owns_path_, false);
    }
    return *this;
}

temp_file::~temp_file() {
    remove_and_report("holdfast::io::temp_file destructor");
}

void temp_file::remove_and_report(const char* where) noexcept {
    try {
        remove();
    } catch (...) {
        report_current_cleanup_error(where);
    }
    // remove() leaves the file closed only when it owned the path; a kept file is closed here.
    try {
        file_.close();
    } catch (...) {
        report_current_cleanup_error(where);
    }
}

void temp_file::persist(const std::filesystem::path& target) {
    if (::rename(path().c_str(), target.c_str()) != 0) {
        detail::throw_errno("rename", path(), target);
    }
    // Re-label the open descriptor with its new name, for later error messages.
    file_ = io::file::adopt_descriptor(file_.release(), target);
    owns_path_ = false;
}

void temp_file::remove() {
    if (!owns_path_) return;
    owns_path_ = false;
    // Unlink first: the name must go even if close reports a delayed write error, which
    // then still propagates.
    std::exception_ptr close_error;
    const bool unlinked = ::unlink(path().c_str()) == 0 || errno == ENOENT;
    const int unlink_error = errno;
    try {
        file_.close();
    } catch (...) {
        close_error = std::current_exception();
    }
    if (!unlinked) detail::throw_system_error(unlink_error, "unlink", path());
    if (close_error) std::rethrow_exception(close_error);
}

void temp_file::exit(std::exception_ptr error) {
    if (!error) {
        remove();
        file_.close();
    } else {
        remove_and_report("holdfast::io::temp_file exit after an exception");
    }
}

}  // namespace holdfast::io
