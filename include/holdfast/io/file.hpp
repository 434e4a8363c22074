// holdfast/io/file.hpp — an owned POSIX file descriptor: open, read, write, fsync, close.
//
//   // Python:  with open(path, "w") as f: f.write(report)
//   try {
//       holdfast::with(holdfast::io::file(path, holdfast::io::open_mode::write),
//                      [&](holdfast::io::file& f) { f.write_all(report); });
//   } catch (const std::system_error& e) {
//       // e.what() names the operation and the path: "write /var/log/report.txt: No space
//       // left on device" — from write_all, or from the close() the exit runs on success.
//   }
//
//   holdfast::io::file in(path, holdfast::io::open_mode::read);
//   std::string text = in.read_all();
//   in.close();          // explicit: a close error throws; the destructor would only report it
#pragma once

#include <cstddef>
#include <exception>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace holdfast::io {

/// How io::file opens a path. Every mode sets O_CLOEXEC, so descriptors do not leak into
/// child processes.
enum class open_mode {
    /// Read only; the file must exist (Python "r").
    read,
    /// Read and write without truncating; the file must exist (Python "r+").
    read_write,
    /// Write only; creates the file or truncates it (Python "w").
    write,
    /// Write only, every write at the end; creates the file if needed (Python "a").
    append,
    /// Write only; creates the file and fails with EEXIST if the path exists — also when it
    /// is a symbolic link, which is never followed (Python "x", O_CREAT | O_EXCL).
    create_exclusive,
};

/// An open file descriptor with the path it was opened from, closed exactly once.
///
/// Reads and writes retry on EINTR; write_all() and read_all() loop over short transfers.
///
/// @par Errors
/// Every failing operation throws `std::system_error` with the errno value (system category)
/// and a message naming the operation and the path, e.g. `"fsync /data/out.bin: Input/output
/// error"`.
/// @par Exception safety
/// close() throws; the destructor closes too but never throws: it reports a close error to
/// the cleanup error handler (holdfast::set_cleanup_error_handler()), the way fmt's
/// `file::close()` throws while `~file()` only reports. Call close() (or use the file as a
/// context manager) wherever the data matters, so the error reaches the caller.
/// @par Thread safety
/// Distinct objects are independent. One object may be read and written from several threads
/// only as far as the underlying system calls allow; close() and moves need exclusive access.
class [[nodiscard]] file {
  public:
    /// A file that is not open.
    file() noexcept = default;

    /// Opens `path` in `mode`. A file the call creates gets `permissions` (default 0666, as
    /// open(2) does, reduced by the process umask).
    ///
    /// @par Errors
    /// `std::system_error` "open <path>: <reason>" (ENOENT, EEXIST for create_exclusive, ...).
    file(std::filesystem::path path, open_mode mode,
         std::filesystem::perms permissions = std::filesystem::perms::owner_read |
                                              std::filesystem::perms::owner_write |
                                              std::filesystem::perms::group_read |
                                              std::filesystem::perms::group_write |
                                              std::filesystem::perms::others_read |
                                              std::filesystem::perms::others_write);

    /// Takes ownership of an open descriptor (a pipe end, a socket, fd 1 to close it on
    /// exit). `name` is what error messages call it ("pipe", "<stdout>").
    ///
    /// @par Preconditions
    /// `descriptor` is open and owned by nobody else, or is -1 (then the file is not open).
    static file adopt_descriptor(int descriptor, std::filesystem::path name) noexcept;

    file(file&& other) noexcept;
    /// Closes the current descriptor (reporting a close error to the cleanup error handler)
    /// and takes over `other`'s.
    file& operator=(file&& other) noexcept;
    file(const file&) = delete;
    file& operator=(const file&) = delete;

    /// Closes the descriptor if still open; a close error goes to the cleanup error handler.
    ~file();

    bool is_open() const noexcept { return descriptor_ >= 0; }
    /// The descriptor, or -1. It stays owned by this object.
    int native_handle() const noexcept { return descriptor_; }
    /// The path given to the constructor (the name given to adopt_descriptor()).
    const std::filesystem::path& path() const noexcept { return path_; }

    /// Reads at most `buffer.size()` bytes; returns how many were read, 0 at end of file.
    /// Retries on EINTR.
    std::size_t read_some(std::span<std::byte> buffer);
    /// Reads at most `size` bytes into `data`, as read_some(std::span<std::byte>).
    std::size_t read_some(char* data, std::size_t size);

    /// Reads from the current offset to the end of the file.
    std::string read_all();

    /// Writes at most `data.size()` bytes; returns how many were written (at least 1 for a
    /// non-empty buffer). Retries on EINTR.
    std::size_t write_some(std::span<const std::byte> data);

    /// Writes every byte of `data`, looping over short writes and retrying on EINTR.
    ///
    /// @par Errors
    /// On failure some prefix of `data` may have been written; the exception says why the
    /// rest was not (ENOSPC, EFBIG, EPIPE, EBADF, ...).
    void write_all(std::span<const std::byte> data);
    /// Writes every byte of the text `data`.
    void write_all(std::string_view data);

    /// Flushes the file's data and metadata to the storage device (fsync(2)).
    void fsync();

    /// Closes the descriptor now; afterwards is_open() is false whatever the outcome.
    ///
    /// Close is never retried, not even after EINTR: Linux releases the descriptor before it
    /// can fail, so a second close() could close a descriptor another thread has just been
    /// given with the same number. An EINTR is reported like any other error: the data may
    /// not have been written back (NFS flushes on close), which the caller must hear about.
    /// Closing a file that is not open does nothing.
    ///
    /// @par Errors
    /// `std::system_error` "close <path>: <reason>" (EIO, ENOSPC and EDQUOT on network and
    /// some local file systems, which report delayed write errors here).
    void close();

    /// Gives up ownership: returns the descriptor (or -1) and leaves the file not open.
    [[nodiscard]] int release() noexcept;

    /// Context-manager protocol: enter returns this file; exit closes it. On success a close
    /// error propagates; when the body failed, the body's exception propagates and a close
    /// error goes to the cleanup error handler.
    file& enter() noexcept { return *this; }
    void exit(std::exception_ptr error);

  private:
    file(int descriptor, std::filesystem::path path) noexcept;
    void close_and_report(const char* where) noexcept;

    int descriptor_ = -1;
    std::filesystem::path path_;
};

}  // namespace holdfast::io
