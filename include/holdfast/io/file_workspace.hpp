// holdfast/io/file_workspace.hpp — a main file plus the scratch files made while processing
// it, all cleaned up at the end, whatever happened (S6's FileProcessor).
//
//   holdfast::with(holdfast::io::file_workspace(input_path), [&](auto& work) {
//       std::string text = work.main_file().read_all();
//       auto& sorted = work.create_temp_file("sorted-");
//       sorted.file().write_all(sort_lines(text));
//       auto& merged = work.create_temp_file("merged-");
//       merge(sorted, merged);            // throws? the original exception propagates, and
//   });                                   //   the main file is closed, both temp files gone
//   // Any cleanup that fails (an unlink, a close) is reported to the cleanup error handler
//   // and the others still run; on success the first cleanup error propagates instead.
#pragma once

#include <cstddef>
#include <exception>
#include <filesystem>
#include <string_view>

#include <holdfast/core/exit_stack.hpp>
#include <holdfast/io/file.hpp>
#include <holdfast/io/temp_file.hpp>

namespace holdfast::io {

/// Owns an open main file and any number of temporary files, and releases them all in one
/// go — unconditionally and best effort, like S6's `__exit__`: every cleanup runs even when
/// an earlier one fails, newest first (the temporary files, then the main file).
///
/// Built on holdfast::exit_stack: each resource registers a cleanup that reports its own
/// failure instead of throwing, so one failure cannot hide or stop another.
///
/// @par Exception safety
/// close() (and exit on success) run every cleanup and then throw the first failure; later
/// failures go to the cleanup error handler. After an exception (exit with an error, or the
/// destructor) every failure goes to the handler and the original exception propagates:
/// exit returns void, it never suppresses.
/// @par Object lifetimes
/// References returned by main_file() and create_temp_file() stay valid until close() (or
/// exit, or destruction). Not movable: the cleanups refer to this object.
/// @par Thread safety
/// Not thread safe.
class [[nodiscard]] file_workspace {
  public:
    /// Opens `main_path` in `mode`; temporary files go to `scratch_directory` (by default
    /// the system's temporary directory).
    ///
    /// @par Errors
    /// `std::system_error` "open <main_path>: <reason>".
    explicit file_workspace(
        std::filesystem::path main_path, open_mode mode = open_mode::read,
        std::filesystem::path scratch_directory = std::filesystem::temp_directory_path());

    file_workspace(const file_workspace&) = delete;
    file_workspace& operator=(const file_workspace&) = delete;

    /// Runs the cleanups still pending; failures go to the cleanup error handler.
    ~file_workspace();

    /// The main file.
    ///
    /// @par Preconditions
    /// close() has not been called.
    io::file& main_file() noexcept { return *main_; }

    /// Creates a temporary file in the scratch directory (see temp_file), removed when the
    /// workspace is cleaned up.
    ///
    /// @par Errors
    /// `std::system_error` "create <path>: <reason>"; nothing is registered then.
    temp_file& create_temp_file(std::string_view prefix = "holdfast-",
                                std::string_view suffix = "");

    /// Registers an existing path to remove at cleanup (a file some other tool produced).
    /// A path already gone at cleanup time is not an error.
    void remove_at_cleanup(std::filesystem::path path);

    /// How many cleanups are pending.
    std::size_t pending_cleanups() const noexcept { return cleanups_.size(); }

    /// Runs every cleanup now (a second call does nothing).
    ///
    /// @par Errors
    /// The first cleanup failure, after all cleanups ran; later ones are reported.
    void close();

    /// Context-manager protocol: enter returns this workspace; exit cleans up (see the
    /// class's exception safety).
    file_workspace& enter() noexcept { return *this; }
    void exit(std::exception_ptr error);

  private:
    // Called by each cleanup: records the first failure when close() runs on the success
    // path, reports every other failure to the handler.
    void cleanup_failed(std::exception_ptr failure, const char* what) noexcept;
    void run_cleanups(bool report_everything);

    std::filesystem::path scratch_directory_;
    io::file* main_ = nullptr;
    exit_stack cleanups_;
    std::exception_ptr first_failure_;
    bool report_everything_ = true;
};

}  // namespace holdfast::io
