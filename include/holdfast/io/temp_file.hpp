// holdfast/io/temp_file.hpp — a new file under a random name, removed when its owner is done.
//
//   holdfast::io::temp_file scratch(output_dir, "render-", ".png");   // O_EXCL, mode 0600
//   render_into(scratch.file());      // throws? the destructor closes and removes the file
//   scratch.file().fsync();
//   scratch.persist(output_dir / "final.png");   // success: renamed, no longer removed
#pragma once

#include <exception>
#include <filesystem>
#include <string_view>

#include <holdfast/io/file.hpp>

namespace holdfast::io {

/// A file created under a fresh random name (mkstemp-style: O_CREAT | O_EXCL, mode 0600,
/// never following a symbolic link planted at the name), opened for reading and writing, and
/// removed on destruction unless keep() or persist() was called.
///
/// @par Exception safety
/// remove() and persist() throw. The destructor never throws: it closes and unlinks the file
/// and reports an error to the cleanup error handler (a file already gone is not an error:
/// the goal, no file, is reached).
/// @par Object lifetimes
/// Move-only; the moved-from object owns nothing and removes nothing.
/// @par Thread safety
/// Distinct objects are independent; one object is not thread safe.
class [[nodiscard]] temp_file {
  public:
    /// Creates `directory / (prefix + 12 random characters + suffix)`.
    ///
    /// @par Errors
    /// `std::system_error` "create <path>: <reason>", e.g. ENOENT when `directory` does not
    /// exist.
    explicit temp_file(
        const std::filesystem::path& directory = std::filesystem::temp_directory_path(),
        std::string_view prefix = "holdfast-", std::string_view suffix = "");

    temp_file(temp_file&& other) noexcept;
    temp_file& operator=(temp_file&& other) noexcept;
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    /// Closes the file and, unless kept or persisted, removes it; errors go to the cleanup
    /// error handler.
    ~temp_file();

    /// Where the file is (after persist(), the new path).
    const std::filesystem::path& path() const noexcept { return file_.path(); }
    /// The open file (read and write, offset where the last operation left it).
    io::file& file() noexcept { return file_; }

    /// Leaves the file on disk: it is still closed on destruction, but not removed.
    void keep() noexcept { owns_path_ = false; }

    /// Renames the file to `target` (replacing a file there, on the same file system) and
    /// keeps it. The file stays open; path() is now `target`.
    ///
    /// @par Errors
    /// `std::system_error` "rename <path> -> <target>: <reason>" (EXDEV across file systems);
    /// the temporary file is then unchanged and still owned.
    void persist(const std::filesystem::path& target);

    /// Closes the file and removes it now (a no-op if it is kept or was removed).
    ///
    /// @par Errors
    /// `std::system_error` from close or "unlink <path>: <reason>". The file is no longer
    /// owned afterwards, whatever the outcome: the destructor will not try again.
    void remove();

    /// Whether the destructor will remove the file.
    bool owns_file() const noexcept { return owns_path_; }

    /// Context-manager protocol: enter returns this object; exit removes the file (unless it
    /// was kept or persisted). On success a removal error propagates; after a failure the
    /// body's exception propagates and a removal error goes to the cleanup error handler.
    temp_file& enter() noexcept { return *this; }
    void exit(std::exception_ptr error);

  private:
    void remove_and_report(const char* where) noexcept;

    io::file file_;
    bool owns_path_ = true;
};

}  // namespace holdfast::io
