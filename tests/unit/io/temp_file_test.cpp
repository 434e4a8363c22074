#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "io_test_support.hpp"
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <holdfast/core/with.hpp>
#include <holdfast/io/detail/unique_file.hpp>
#include <holdfast/io/temp_file.hpp>

namespace {

namespace fs = std::filesystem;
using holdfast::io::temp_file;
using io_test::expect_system_error;

// ---- failure paths ------------------------------------------------------------------------

TEST(TempFile, IsRemovedWhenTheScopeIsLeftByAnException) {
    io_test::scratch_directory dir;
    fs::path path;
    EXPECT_THROW(
        {
            temp_file temp(dir.path());
            path = temp.path();
            ASSERT_TRUE(fs::exists(path));
            throw std::runtime_error("processing failed");
        },
        std::runtime_error);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(dir.entries().empty());
}

TEST(TempFile, AsAContextManagerIsRemovedAfterABodyThatThrows) {
    io_test::scratch_directory dir;
    fs::path path;
    EXPECT_THROW(holdfast::with(temp_file(dir.path()),
                                [&](temp_file& temp) {
                                    path = temp.path();
                                    temp.file().write_all(std::string_view("partial"));
                                    throw std::runtime_error("body failed");
                                }),
                 std::runtime_error);
    EXPECT_FALSE(fs::exists(path));
}

TEST(TempFile, CreationInAMissingDirectoryThrowsNamingThePath) {
    io_test::scratch_directory dir;
    expect_system_error([&] { temp_file temp(dir / "missing"); },
                        std::errc::no_such_file_or_directory,
                        {"create", (dir / "missing").native()});
}

TEST(TempFile, DestructorReportsARemovalFailureInsteadOfThrowing) {
    io_test::scratch_directory dir;
    io_test::captured_cleanup_errors captured;
    fs::path path;
    {
        temp_file temp(dir.path());
        path = temp.path();
        // Replace the file by a non-empty directory: unlink fails with EISDIR (root or not).
        fs::remove(path);
        fs::create_directory(path);
        io_test::write_file(path / "inside", "x");
    }
    ASSERT_EQ(captured.reports.size(), 1u);
    EXPECT_EQ(captured.reports[0].code, std::errc::is_a_directory);
    EXPECT_NE(captured.reports[0].what.find("unlink " + path.native()), std::string::npos);
}

TEST(TempFile, RemoveThrowsOnFailureAndDoesNotRetryInTheDestructor) {
    io_test::scratch_directory dir;
    io_test::captured_cleanup_errors captured;
    {
        temp_file temp(dir.path());
        fs::remove(temp.path());
        fs::create_directory(temp.path());
        io_test::write_file(temp.path() / "inside", "x");
        expect_system_error([&] { temp.remove(); }, std::errc::is_a_directory, {"unlink"});
        EXPECT_FALSE(temp.owns_file());
    }
    EXPECT_TRUE(captured.reports.empty());
}

TEST(TempFile, AsAContextManagerARemovalErrorOnTheSuccessPathPropagates) {
    io_test::scratch_directory dir;
    io_test::captured_cleanup_errors captured;
    expect_system_error(
        [&] {
            holdfast::with(temp_file(dir.path()), [](temp_file& temp) {
                fs::remove(temp.path());
                fs::create_directory(temp.path());
                io_test::write_file(temp.path() / "inside", "x");
            });
        },
        std::errc::is_a_directory, {"unlink"});
    EXPECT_TRUE(captured.reports.empty());
}

TEST(TempFile, AFileAlreadyRemovedBySomeoneElseIsNotAnError) {
    io_test::scratch_directory dir;
    io_test::captured_cleanup_errors captured;
    {
        temp_file temp(dir.path());
        fs::remove(temp.path());
    }
    EXPECT_TRUE(captured.reports.empty());
}

TEST(TempFile, ANameThatExistsIsSkippedAndASymlinkThereIsNotFollowed) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "victim", "precious");
    fs::create_symlink(dir / "victim", dir / "tmp-planted.dat");
    int calls = 0;
    const std::function<std::string()> names = [&] {
        return ++calls == 1 ? std::string("planted") : std::string("fresh");
    };
    auto created = holdfast::io::detail::create_unique_file(dir.path(), "tmp-", ".dat", names);
    EXPECT_EQ(created.path(), dir / "tmp-fresh.dat");
    created.write_all(std::string_view("new"));
    EXPECT_EQ(io_test::read_file(dir / "victim"), "precious");
    EXPECT_TRUE(fs::is_symlink(dir / "tmp-planted.dat"));
}

TEST(TempFile, GivesUpAfterAHundredCollisions) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "same", "");
    expect_system_error(
        [&] {
            (void)holdfast::io::detail::create_unique_file(dir.path(), "", "",
                                                           [] { return std::string("same"); });
        },
        std::errc::file_exists, {"create"});
}

// ---- normal operation ---------------------------------------------------------------------

TEST(TempFile, IsRemovedAfterNormalExit) {
    io_test::scratch_directory dir;
    fs::path path;
    {
        temp_file temp(dir.path(), "report-", ".csv");
        path = temp.path();
        EXPECT_EQ(path.parent_path(), dir.path());
        EXPECT_TRUE(path.filename().native().starts_with("report-"));
        EXPECT_TRUE(path.filename().native().ends_with(".csv"));
        EXPECT_EQ(path.filename().native().size(), std::string("report-.csv").size() + 12);
        temp.file().write_all(std::string_view("a,b\n"));
        EXPECT_EQ(io_test::read_file(path), "a,b\n");
    }
    EXPECT_FALSE(fs::exists(path));
}

TEST(TempFile, IsCreatedWithMode0600) {
    io_test::scratch_directory dir;
    temp_file temp(dir.path());
    struct stat info {};
    ASSERT_EQ(::stat(temp.path().c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600u);
}

TEST(TempFile, NamesAreDistinct) {
    io_test::scratch_directory dir;
    temp_file a(dir.path());
    temp_file b(dir.path());
    EXPECT_NE(a.path(), b.path());
}

TEST(TempFile, KeepLeavesTheFileInPlace) {
    io_test::scratch_directory dir;
    fs::path path;
    {
        temp_file temp(dir.path());
        path = temp.path();
        temp.keep();
    }
    EXPECT_TRUE(fs::exists(path));
}

TEST(TempFile, PersistRenamesOverTheTargetAndKeepsIt) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "final", "old");
    fs::path temp_path;
    {
        temp_file temp(dir.path());
        temp_path = temp.path();
        temp.file().write_all(std::string_view("new"));
        temp.persist(dir / "final");
        EXPECT_EQ(temp.path(), dir / "final");
        EXPECT_FALSE(temp.owns_file());
    }
    EXPECT_FALSE(fs::exists(temp_path));
    EXPECT_EQ(io_test::read_file(dir / "final"), "new");
}

TEST(TempFile, PersistFailureLeavesTheTemporaryFileOwned) {
    io_test::scratch_directory dir;
    fs::path path;
    {
        temp_file temp(dir.path());
        path = temp.path();
        expect_system_error([&] { temp.persist(dir / "no" / "such" / "dir"); },
                            std::errc::no_such_file_or_directory, {"rename", path.native(), "->"});
        EXPECT_TRUE(temp.owns_file());
    }
    EXPECT_FALSE(fs::exists(path));
}

TEST(TempFile, MovedFromObjectRemovesNothing) {
    io_test::scratch_directory dir;
    temp_file a(dir.path());
    const fs::path path = a.path();
    { temp_file b(std::move(a)); }
    EXPECT_FALSE(fs::exists(path));
}

}  // namespace
