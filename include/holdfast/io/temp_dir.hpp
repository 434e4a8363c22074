// holdfast/io/temp_dir.hpp — a new private directory, removed with everything in it.
//
//   holdfast::io::temp_dir work;                          // /tmp/holdfast-XXXXXXXXXXXX, 0700
//   unpack(archive, work.path());                         // throws? the tree is removed anyway
//   build(work.path() / "src");
//   // end of scope: recursive removal; an entry that cannot be removed is reported to the
//   // cleanup error handler and the rest is still removed — never an exception here.
#pragma once

#include <exception>
#include <filesystem>
#include <string_view>

namespace holdfast::io {

/// A directory created under a fresh random name with mode 0700 (mkdtemp), removed
/// recursively on destruction unless keep() was called.
///
/// Removal is best effort: every entry is attempted even when some fail, and symbolic links
/// inside are removed, never followed. Entries are examined and then removed (a check-then-act
/// sequence), which is safe because the directory is private (0700): other users cannot
/// swap an entry for a link in between.
///
/// @par Exception safety
/// remove() throws after attempting everything; the destructor never throws and reports
/// each failure to the cleanup error handler.
/// @par Object lifetimes
/// Move-only; the moved-from object owns nothing.
class [[nodiscard]] temp_dir {
  public:
    /// Creates `parent / (prefix + 6 random characters)` (mkdtemp(3)).
    ///
    /// @par Errors
    /// `std::system_error` "mkdtemp <path>: <reason>".
    explicit temp_dir(const std::filesystem::path& parent = std::filesystem::temp_directory_path(),
                      std::string_view prefix = "holdfast-");

    temp_dir(temp_dir&& other) noexcept;
    temp_dir& operator=(temp_dir&& other) noexcept;
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    /// Removes the tree unless kept; each failure goes to the cleanup error handler.
    ~temp_dir();

    const std::filesystem::path& path() const noexcept { return path_; }

    /// Leaves the directory and its content in place.
    void keep() noexcept { owns_path_ = false; }
    bool owns_directory() const noexcept { return owns_path_; }

    /// Removes the tree now (a no-op when kept or already removed). Every entry is attempted;
    /// afterwards the directory is no longer owned, whatever the outcome.
    ///
    /// @par Errors
    /// `std::system_error` for the first entry that could not be removed ("unlink <path>",
    /// "rmdir <path>", "opendir <path>"); failures after the first go to the cleanup error
    /// handler, so none is lost.
    void remove();

    /// Context-manager protocol: enter returns this object; exit removes the tree. On success
    /// a removal error propagates; after a failure each removal error is reported and the
    /// body's exception propagates.
    temp_dir& enter() noexcept { return *this; }
    void exit(std::exception_ptr error);

  private:
    std::filesystem::path path_;
    bool owns_path_ = false;
};

}  // namespace holdfast::io
