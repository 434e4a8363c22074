#include <cerrno>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "io/system_error.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/io/atomic_file.hpp>
#include <holdfast/io/detail/unique_file.hpp>

namespace holdfast::io {

namespace {

std::filesystem::path directory_of(const std::filesystem::path& target) {
    auto directory = target.parent_path();
    return directory.empty() ? std::filesystem::path(".") : directory;
}

std::filesystem::perms final_permissions(const std::filesystem::path& target,
                                         std::optional<std::filesystem::perms> requested) {
    if (requested) return *requested & std::filesystem::perms::mask;
    struct stat info {};
    if (::stat(target.c_str(), &info) == 0) {
        return static_cast<std::filesystem::perms>(info.st_mode) & std::filesystem::perms::mask;
    }
    using std::filesystem::perms;
    return perms::owner_read | perms::owner_write | perms::group_read | perms::others_read;
}

void fsync_directory(const std::filesystem::path& directory) {
    io::file handle(directory, open_mode::read);  // O_RDONLY on a directory is allowed
    handle.fsync();
    handle.close();
}

std::string logic_message(const char* operation) {
    return std::string("holdfast::io::atomic_file::") + operation +
           ": the file was already committed or discarded";
}

}  // namespace

atomic_file::atomic_file(std::filesystem::path target,
                         std::optional<std::filesystem::perms> permissions)
    : target_(std::move(target)),
      permissions_(final_permissions(target_, permissions)),
      temp_(detail::create_unique_file(directory_of(target_),
                                       "." + target_.filename().native() + ".", ".tmp")) {}

atomic_file::atomic_file(atomic_file&& other) noexcept
    : target_(std::move(other.target_)),
      permissions_(other.permissions_),
      temp_(std::move(other.temp_)),
      state_(std::exchange(other.state_, state::discarded)) {}

atomic_file::~atomic_file() {
    discard_and_report("holdfast::io::atomic_file destructor");
}

void atomic_file::discard_and_report(const char* where) noexcept {
    if (state_ != state::writing) return;
    try {
        discard();
    } catch (...) {
        report_current_cleanup_error(where);
    }
}

void atomic_file::remove_temp() {
    // The name goes first, so a close error cannot leave the temporary file behind.
    const bool unlinked = ::unlink(temp_.path().c_str()) == 0 || errno == ENOENT;
    const int unlink_error = errno;
    std::exception_ptr close_error;
    try {
        temp_.close();
    } catch (...) {
        close_error = std::current_exception();
    }
    if (!unlinked) detail::throw_system_error(unlink_error, "unlink", temp_.path());
    if (close_error) std::rethrow_exception(close_error);
}

void atomic_file::discard() {
    if (state_ != state::writing) throw std::logic_error(logic_message("discard"));
    state_ = state::discarded;
    remove_temp();
}

void atomic_file::commit() {
    if (state_ != state::writing) throw std::logic_error(logic_message("commit"));
    try {
        temp_.fsync();
        if (::fchmod(temp_.native_handle(), static_cast<mode_t>(permissions_)) != 0) {
            detail::throw_errno("fchmod", temp_.path());
        }
        temp_.close();
        if (::rename(temp_.path().c_str(), target_.c_str()) != 0) {
            detail::throw_errno("rename", temp_.path(), target_);
        }
    } catch (...) {
        // Before the rename: the target is untouched; the temporary file must go. The commit
        // error is the one the caller needs; a removal error is reported on the side.
        state_ = state::discarded;
        try {
            remove_temp();
        } catch (...) {
            report_current_cleanup_error(
                "holdfast::io::atomic_file::commit (removing the "
                "temporary file after a failed commit)");
        }
        throw;
    }
    state_ = state::committed;
    fsync_directory(directory_of(target_));
}

void atomic_file::exit(std::exception_ptr error) {
    if (!error) {
        commit();
    } else {
        discard_and_report("holdfast::io::atomic_file exit after an exception");
    }
}

}  // namespace holdfast::io
