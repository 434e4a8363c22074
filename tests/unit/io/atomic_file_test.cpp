#include <atomic>
#include <csignal>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "io_test_support.hpp"
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <holdfast/core/with.hpp>
#include <holdfast/io/atomic_file.hpp>

namespace {

namespace fs = std::filesystem;
using holdfast::io::atomic_file;
using holdfast::io::file;

unsigned mode_of(const fs::path& path) {
    struct stat info {};
    EXPECT_EQ(::lstat(path.c_str(), &info), 0);
    return info.st_mode & 07777;
}

// ---- failure paths ------------------------------------------------------------------------

TEST(AtomicFile, DestroyedWithoutCommitLeavesTheTargetUntouchedAndRemovesTheTempFile) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "config", "old");
    {
        atomic_file out(dir / "config");
        out.file().write_all(std::string_view("new but unfinished"));
    }
    EXPECT_EQ(io_test::read_file(dir / "config"), "old");
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"config"});
}

TEST(AtomicFile, AsAContextManagerDiscardsWhenTheBodyThrows) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "config", "old");
    EXPECT_THROW(holdfast::with(atomic_file(dir / "config"),
                                [](file& out) {
                                    out.write_all(std::string_view("half"));
                                    throw std::runtime_error("serializer failed");
                                }),
                 std::runtime_error);
    EXPECT_EQ(io_test::read_file(dir / "config"), "old");
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"config"});
}

TEST(AtomicFile, AProcessKilledBeforeCommitLeavesTheOldContentIntact) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "config", "old content");
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(ready[0]);
        atomic_file out(dir / "config");
        out.file().write_all(std::string(1 << 20, 'n'));
        out.file().fsync();
        const char written = 'w';
        (void)::write(ready[1], &written, 1);
        for (;;) ::pause();  // killed here, between writing and commit()
    }
    ::close(ready[1]);
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    ::close(ready[0]);
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));

    EXPECT_EQ(io_test::read_file(dir / "config"), "old content");
    // SIGKILL gives no chance to clean up: the temporary file stays, under its hidden name.
    const auto entries = dir.entries();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_TRUE(entries[0].starts_with(".config.") && entries[0].ends_with(".tmp")) << entries[0];
}

TEST(AtomicFile, ACommitThatCannotRenameDiscardsAndLeavesTheTargetUntouched) {
    io_test::scratch_directory dir;
    fs::create_directory(dir / "target");  // rename(file, non-empty directory) fails
    io_test::write_file(dir / "target" / "keep", "x");
    atomic_file out(dir / "target");
    out.file().write_all(std::string_view("data"));
    io_test::expect_system_error([&] { out.commit(); }, std::errc::is_a_directory,
                                 {"rename", (dir / "target").native()});
    EXPECT_EQ(out.current_state(), atomic_file::state::discarded);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"target"});
    EXPECT_EQ(io_test::read_file(dir / "target" / "keep"), "x");
}

TEST(AtomicFile, AsAContextManagerACommitErrorOnTheSuccessPathPropagates) {
    io_test::scratch_directory dir;
    fs::create_directory(dir / "target");
    io_test::write_file(dir / "target" / "keep", "x");
    EXPECT_THROW(holdfast::with(atomic_file(dir / "target"),
                                [](file& out) { out.write_all(std::string_view("data")); }),
                 std::system_error);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"target"});
}

TEST(AtomicFile, CreationInAMissingDirectoryThrows) {
    io_test::scratch_directory dir;
    io_test::expect_system_error([&] { atomic_file out(dir / "missing" / "config"); },
                                 std::errc::no_such_file_or_directory, {"create"});
}

TEST(AtomicFile, DestructorReportsADiscardFailure) {
    io_test::scratch_directory dir;
    io_test::captured_cleanup_errors captured;
    {
        atomic_file out(dir / "config");
        fs::remove(out.temp_path());
        fs::create_directory(out.temp_path());
        io_test::write_file(out.temp_path() / "inside", "x");
    }
    ASSERT_EQ(captured.reports.size(), 1u);
    EXPECT_EQ(captured.reports[0].code, std::errc::is_a_directory);
}

TEST(AtomicFile, CommitAndDiscardOutsideTheWritingStateAreLogicErrors) {
    io_test::scratch_directory dir;
    atomic_file committed(dir / "a");
    committed.commit();
    EXPECT_THROW(committed.commit(), std::logic_error);
    EXPECT_THROW(committed.discard(), std::logic_error);
    atomic_file discarded(dir / "b");
    discarded.discard();
    EXPECT_THROW(discarded.commit(), std::logic_error);
    EXPECT_FALSE(fs::exists(dir / "b"));
}

// ---- normal operation ---------------------------------------------------------------------

TEST(AtomicFile, CommitReplacesTheTargetAndLeavesNoTemporaryFile) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "config", "old");
    atomic_file out(dir / "config");
    EXPECT_EQ(out.temp_path().parent_path(), dir.path());
    out.file().write_all(std::string_view("new"));
    EXPECT_EQ(io_test::read_file(dir / "config"), "old");  // not before commit
    out.commit();
    EXPECT_EQ(out.current_state(), atomic_file::state::committed);
    EXPECT_EQ(io_test::read_file(dir / "config"), "new");
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"config"});
}

TEST(AtomicFile, AsAContextManagerCommitsWhenTheBodySucceeds) {
    io_test::scratch_directory dir;
    holdfast::with(atomic_file(dir / "fresh"),
                   [](file& out) { out.write_all(std::string_view("created")); });
    EXPECT_EQ(io_test::read_file(dir / "fresh"), "created");
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"fresh"});
}

TEST(AtomicFile, TheTemporaryFileIsPrivateAndHidden) {
    io_test::scratch_directory dir;
    atomic_file out(dir / "config");
    EXPECT_EQ(mode_of(out.temp_path()), 0600u);
    EXPECT_TRUE(out.temp_path().filename().native().starts_with(".config."));
}

TEST(AtomicFile, FinalPermissionsAreTheExistingTargetsOr0644OrTheRequestedOnes) {
    io_test::scratch_directory dir;
    holdfast::with(atomic_file(dir / "new"), [](file&) {});
    EXPECT_EQ(mode_of(dir / "new"), 0644u);

    io_test::write_file(dir / "existing", "x");
    fs::permissions(dir / "existing",
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    holdfast::with(atomic_file(dir / "existing"), [](file&) {});
    EXPECT_EQ(mode_of(dir / "existing"), 0640u);

    holdfast::with(atomic_file(dir / "script", fs::perms::owner_all), [](file&) {});
    EXPECT_EQ(mode_of(dir / "script"), 0700u);
}

TEST(AtomicFile, ASymlinkTargetIsReplacedItselfAndItsDestinationIsNotWritten) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "elsewhere", "precious");
    fs::create_symlink(dir / "elsewhere", dir / "config");
    holdfast::with(atomic_file(dir / "config"),
                   [](file& out) { out.write_all(std::string_view("new")); });
    EXPECT_FALSE(fs::is_symlink(dir / "config"));
    EXPECT_EQ(io_test::read_file(dir / "config"), "new");
    EXPECT_EQ(io_test::read_file(dir / "elsewhere"), "precious");
}

TEST(AtomicFile, AConcurrentReaderSeesOnlyWholeVersions) {
    io_test::scratch_directory dir;
    const auto target = dir / "data";
    const std::size_t size = 64 * 1024;
    io_test::write_file(target, std::string(size, 'a'));
    std::atomic<bool> done{false};
    std::atomic<int> torn{0};
    std::atomic<int> reads{0};
    std::thread reader([&] {
        while (!done.load()) {
            const std::string seen = io_test::read_file(target);
            const bool whole =
                seen.size() == size && seen.find_first_not_of(seen[0]) == std::string::npos;
            if (!whole) torn.fetch_add(1);
            reads.fetch_add(1);
        }
    });
    for (int version = 0; version < 100; ++version) {
        atomic_file out(target);
        const std::string content(size, static_cast<char>('b' + version % 20));
        out.file().write_all(std::string_view(content).substr(0, size / 2));
        out.file().write_all(std::string_view(content).substr(size / 2));
        out.commit();
    }
    done = true;
    reader.join();
    EXPECT_EQ(torn.load(), 0) << "of " << reads.load() << " reads";
}

}  // namespace
