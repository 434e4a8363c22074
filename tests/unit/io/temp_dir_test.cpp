#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

#include "io_test_support.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfast/core/with.hpp>
#include <holdfast/io/temp_dir.hpp>

namespace {

namespace fs = std::filesystem;
using holdfast::io::temp_dir;

void populate(const fs::path& root) {
    fs::create_directories(root / "a" / "b" / "c");
    io_test::write_file(root / "top.txt", "1");
    io_test::write_file(root / "a" / "mid.txt", "2");
    io_test::write_file(root / "a" / "b" / "c" / "deep.txt", "3");
}

// Sets or clears the immutable attribute; false when the file system or the capabilities do
// not allow it (root cannot remove an immutable file: the one failure root cannot bypass).
bool set_immutable(const fs::path& path, bool on) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    int flags = 0;
    bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
    if (ok) {
        flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
        ok = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
    }
    ::close(fd);
    return ok;
}

// ---- failure paths ------------------------------------------------------------------------

TEST(TempDir, IsRemovedRecursivelyWhenTheScopeIsLeftByAnException) {
    io_test::scratch_directory parent;
    fs::path path;
    EXPECT_THROW(
        {
            temp_dir dir(parent.path());
            path = dir.path();
            populate(path);
            throw std::runtime_error("unpack failed");
        },
        std::runtime_error);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(parent.entries().empty());
}

TEST(TempDir, CreationInAMissingParentThrowsNamingThePath) {
    io_test::scratch_directory parent;
    io_test::expect_system_error([&] { temp_dir dir(parent / "missing"); },
                                 std::errc::no_such_file_or_directory,
                                 {"mkdtemp", (parent / "missing").native()});
}

TEST(TempDir, DestructorRemovesEverythingItCanAndReportsEachFailure) {
    io_test::scratch_directory parent;
    io_test::captured_cleanup_errors captured;
    fs::path path;
    fs::path stuck;
    {
        temp_dir dir(parent.path());
        path = dir.path();
        populate(path);
        fs::create_directory(path / "locked");
        stuck = path / "locked" / "stuck.txt";
        io_test::write_file(stuck, "x");
        io_test::write_file(path / "locked" / "also.txt", "x");
        if (!set_immutable(path / "locked", true)) {
            GTEST_SKIP() << "cannot set the immutable attribute here (file system or capability)";
        }
    }
    set_immutable(path / "locked", false);
    // Both entries of the immutable directory failed, and so did its rmdir and the root's;
    // everything else is gone.
    EXPECT_EQ(captured.reports.size(), 4u);
    for (const auto& report : captured.reports) {
        EXPECT_NE(report.where.find("temp_dir destructor"), std::string::npos);
    }
    EXPECT_FALSE(fs::exists(path / "a"));
    EXPECT_FALSE(fs::exists(path / "top.txt"));
    EXPECT_TRUE(fs::exists(stuck));
}

TEST(TempDir, RemoveThrowsTheFirstFailureAfterTryingEverything) {
    io_test::scratch_directory parent;
    io_test::captured_cleanup_errors captured;
    temp_dir dir(parent.path());
    const fs::path path = dir.path();
    populate(path);
    fs::create_directory(path / "locked");
    io_test::write_file(path / "locked" / "stuck.txt", "x");
    if (!set_immutable(path / "locked", true)) GTEST_SKIP() << "no immutable attribute here";
    EXPECT_THROW(dir.remove(), std::system_error);
    set_immutable(path / "locked", false);
    EXPECT_EQ(captured.reports.size(), 2u);  // the later failures: two rmdirs
    EXPECT_FALSE(fs::exists(path / "a"));
    EXPECT_FALSE(dir.owns_directory());
}

// ---- normal operation ---------------------------------------------------------------------

TEST(TempDir, IsCreatedPrivateAndRemovedRecursivelyAfterNormalExit) {
    io_test::scratch_directory parent;
    fs::path path;
    {
        temp_dir dir(parent.path(), "work-");
        path = dir.path();
        EXPECT_TRUE(path.filename().native().starts_with("work-"));
        EXPECT_EQ(fs::status(path).permissions(), fs::perms::owner_all);
        populate(path);
    }
    EXPECT_FALSE(fs::exists(path));
}

TEST(TempDir, SymlinksInsideAreRemovedNotFollowed) {
    io_test::scratch_directory parent;
    io_test::scratch_directory outside;
    populate(outside.path());
    fs::path path;
    {
        temp_dir dir(parent.path());
        path = dir.path();
        fs::create_directory_symlink(outside.path(), path / "link-to-dir");
        fs::create_symlink(outside / "top.txt", path / "link-to-file");
    }
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(io_test::read_file(outside / "top.txt"), "1");
    EXPECT_TRUE(fs::exists(outside / "a" / "b" / "c" / "deep.txt"));
}

TEST(TempDir, AsAContextManagerRemovesTheTreeAfterTheBodyEitherWay) {
    io_test::scratch_directory parent;
    fs::path first;
    holdfast::with(temp_dir(parent.path()), [&](temp_dir& dir) {
        first = dir.path();
        populate(first);
    });
    EXPECT_FALSE(fs::exists(first));
    EXPECT_THROW(holdfast::with(temp_dir(parent.path()),
                                [&](temp_dir& dir) {
                                    populate(dir.path());
                                    throw std::runtime_error("x");
                                }),
                 std::runtime_error);
    EXPECT_TRUE(parent.entries().empty());
}

TEST(TempDir, KeepLeavesTheTree) {
    io_test::scratch_directory parent;
    fs::path path;
    {
        temp_dir dir(parent.path());
        path = dir.path();
        populate(path);
        dir.keep();
    }
    EXPECT_TRUE(fs::exists(path / "a" / "mid.txt"));
}

TEST(TempDir, ADirectoryRemovedBySomeoneElseIsNotAnError) {
    io_test::scratch_directory parent;
    io_test::captured_cleanup_errors captured;
    {
        temp_dir dir(parent.path());
        fs::remove(dir.path());
    }
    for (const auto& report : captured.reports) ADD_FAILURE() << report.what;
}

}  // namespace
