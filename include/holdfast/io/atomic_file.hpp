// holdfast/io/atomic_file.hpp — replace a file all at once, or not at all.
//
//   // Readers of config.json see the old content or the new one, never half of it; a crash,
//   // an exception or a full disk before the commit leaves the old file as it was.
//   holdfast::with(holdfast::io::atomic_file("/etc/app/config.json"),
//                  [&](holdfast::io::file& out) {
//                      out.write_all(serialize(config));   // throws? temp file removed,
//                  });                                      //   config.json untouched
//   // Body returned: fsync, rename over config.json, fsync of /etc/app — then with() returns.
//
//   holdfast::io::atomic_file out(target);     // or by hand
//   out.file().write_all(data);
//   out.commit();                              // without this line, the destructor discards
#pragma once

#include <exception>
#include <filesystem>
#include <optional>

#include <holdfast/io/file.hpp>

namespace holdfast::io {

/// A new version of a file, written to a temporary file in the target's directory and put in
/// place by commit() with one rename(2), so the target is at every moment either entirely the
/// old file or entirely the new one.
///
/// The temporary file is `.<target name>.<12 random characters>.tmp`, created with
/// O_CREAT | O_EXCL and mode 0600: a symbolic link planted at that name is never followed
/// (the creation fails and another name is drawn), and nobody else can open the file while
/// it is written. commit() gives it its final permissions, then:
/// fsync(temp) → close → rename(temp, target) → fsync(directory). After the directory's
/// fsync the new content survives a power loss.
///
/// Guarantees:
/// - Until commit() renames, the target is untouched — also when the process is killed.
/// - Destroyed, or exited with an exception, without commit(): the temporary file is removed
///   (a process killed by SIGKILL cannot remove it: a `.<name>.*.tmp` file stays behind,
///   never the target).
/// - The target's owner is not preserved (the new file belongs to the writer); when the
///   target is a symbolic link, the link itself is replaced by the file.
///
/// States: writing → committed (commit() succeeded, or renamed but the directory fsync
/// failed) or discarded (discard(), the destructor, or a commit() that failed before the
/// rename). commit() and discard() outside the writing state throw std::logic_error.
///
/// @par Exception safety
/// commit() and discard() throw; the destructor never throws (errors go to the cleanup error
/// handler).
/// @par Thread safety
/// Not thread safe.
class [[nodiscard]] atomic_file {
  public:
    /// Creates the temporary file next to `target`.
    ///
    /// `permissions` is what the committed file gets; by default the existing target's
    /// permission bits, or rw-r--r-- (0644) for a new file. (The umask is not consulted:
    /// reading it is not thread safe.)
    ///
    /// @par Errors
    /// `std::system_error` "create <temp path>: <reason>" (ENOENT when the directory does not
    /// exist, EROFS, ENOSPC, ...).
    explicit atomic_file(std::filesystem::path target,
                         std::optional<std::filesystem::perms> permissions = std::nullopt);

    atomic_file(atomic_file&& other) noexcept;
    atomic_file& operator=(atomic_file&&) = delete;
    atomic_file(const atomic_file&) = delete;
    atomic_file& operator=(const atomic_file&) = delete;

    /// Discards the new version unless it was committed; errors go to the cleanup error
    /// handler.
    ~atomic_file();

    /// The temporary file to write the new content into.
    ///
    /// @par Preconditions
    /// state() is writing.
    io::file& file() noexcept { return temp_; }

    const std::filesystem::path& target() const noexcept { return target_; }
    /// The temporary file's path (meaningful while writing).
    const std::filesystem::path& temp_path() const noexcept { return temp_.path(); }

    enum class state { writing, committed, discarded };
    state current_state() const noexcept { return state_; }

    /// Puts the new content in place durably: fsync, final permissions, close, rename over the
    /// target, fsync of the target's directory.
    ///
    /// @par Errors
    /// `std::system_error` naming the step and path. A failure before the rename discards the
    /// temporary file and leaves the target untouched (state discarded). A failure of the
    /// directory's fsync comes after the rename: the target has the new content but its
    /// durability is not guaranteed (state committed). `std::logic_error` when not writing.
    void commit();

    /// Abandons the new version: closes and removes the temporary file; the target is
    /// untouched.
    ///
    /// @par Errors
    /// `std::system_error` from close or unlink (the state is discarded anyway);
    /// `std::logic_error` when not writing.
    void discard();

    /// Context-manager protocol: enter returns the file to write; exit commits when the body
    /// succeeded (a commit error propagates) and discards when it threw (the body's exception
    /// propagates; a discard error goes to the cleanup error handler).
    io::file& enter() noexcept { return temp_; }
    void exit(std::exception_ptr error);

  private:
    void discard_and_report(const char* where) noexcept;
    void remove_temp();

    std::filesystem::path target_;
    std::filesystem::perms permissions_;
    io::file temp_;
    state state_ = state::writing;
};

}  // namespace holdfast::io
