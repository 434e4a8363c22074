#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "io_test_support.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <holdfast/core/with.hpp>
#include <holdfast/io/file_workspace.hpp>

namespace {

namespace fs = std::filesystem;
using holdfast::io::file_workspace;

// Replaces a file by a non-empty directory, so unlinking it fails (EISDIR, also for root).
void make_unremovable(const fs::path& path) {
    fs::remove(path);
    fs::create_directory(path);
    io_test::write_file(path / "inside", "x");
}

struct FileWorkspace : ::testing::Test {
    io_test::scratch_directory input;
    io_test::scratch_directory scratch;
    fs::path main_path = input / "input.txt";
    FileWorkspace() { io_test::write_file(main_path, "line 1\nline 2\n"); }
};

// ---- failure paths ------------------------------------------------------------------------

TEST_F(FileWorkspace, AfterAnExceptionEveryTempFileIsGoneAndTheOriginalExceptionPropagates) {
    int main_descriptor = -1;
    const std::runtime_error original("processing failed");
    try {
        holdfast::with(file_workspace(main_path, holdfast::io::open_mode::read, scratch.path()),
                       [&](file_workspace& work) {
                           main_descriptor = work.main_file().native_handle();
                           work.create_temp_file("sorted-").file().write_all(std::string_view("a"));
                           work.create_temp_file("merged-");
                           EXPECT_EQ(scratch.entries().size(), 2u);
                           throw original;
                       });
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "processing failed");
    }
    EXPECT_TRUE(scratch.entries().empty());
    EXPECT_EQ(::fcntl(main_descriptor, F_GETFD), -1);
    EXPECT_EQ(io_test::read_file(main_path), "line 1\nline 2\n");
}

TEST_F(FileWorkspace, EveryCleanupRunsWhenOneFailsAndTheFailureIsReported) {
    io_test::captured_cleanup_errors captured;
    fs::path stuck;
    EXPECT_THROW(
        holdfast::with(file_workspace(main_path, holdfast::io::open_mode::read, scratch.path()),
                       [&](file_workspace& work) {
                           work.create_temp_file("first-");
                           stuck = work.create_temp_file("stuck-").path();
                           work.create_temp_file("third-");
                           make_unremovable(stuck);
                           throw std::runtime_error("body failed");
                       }),
        std::runtime_error);
    ASSERT_EQ(captured.reports.size(), 1u);
    EXPECT_EQ(captured.reports[0].code, std::errc::is_a_directory);
    EXPECT_NE(captured.reports[0].where.find("file_workspace"), std::string::npos);
    EXPECT_EQ(scratch.entries(), std::vector<std::string>{stuck.filename().string()});
}

TEST_F(FileWorkspace, OnSuccessTheFirstCleanupFailurePropagatesAfterAllRanAndLaterOnesAreReported) {
    io_test::captured_cleanup_errors captured;
    std::vector<fs::path> stuck;
    try {
        holdfast::with(file_workspace(main_path, holdfast::io::open_mode::read, scratch.path()),
                       [&](file_workspace& work) {
                           stuck.push_back(work.create_temp_file("a-").path());
                           work.create_temp_file("b-");
                           stuck.push_back(work.create_temp_file("c-").path());
                           for (const auto& path : stuck) make_unremovable(path);
                       });
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        // Newest first: c- fails first and propagates; a- is reported.
        EXPECT_NE(std::string(e.what()).find(stuck[1].native()), std::string::npos) << e.what();
    }
    ASSERT_EQ(captured.reports.size(), 1u);
    EXPECT_NE(captured.reports[0].what.find(stuck[0].native()), std::string::npos);
    EXPECT_EQ(scratch.entries().size(), 2u);  // b- removed; the two stuck ones remain
}

TEST_F(FileWorkspace, AMainFileThatCannotBeOpenedThrowsAndLeavesNothing) {
    io_test::expect_system_error(
        [&] {
            file_workspace work(input / "missing", holdfast::io::open_mode::read, scratch.path());
        },
        std::errc::no_such_file_or_directory, {"open"});
    EXPECT_TRUE(scratch.entries().empty());
}

TEST_F(FileWorkspace, TheDestructorCleansUpAndReportsInsteadOfThrowing) {
    io_test::captured_cleanup_errors captured;
    {
        file_workspace work(main_path, holdfast::io::open_mode::read, scratch.path());
        work.create_temp_file();
        make_unremovable(work.create_temp_file().path());
    }
    EXPECT_EQ(captured.reports.size(), 1u);
    EXPECT_EQ(scratch.entries().size(), 1u);
}

// ---- normal operation ---------------------------------------------------------------------

TEST_F(FileWorkspace, AfterNormalExitTheMainFileIsClosedAndEveryTempFileIsGone) {
    std::string text;
    holdfast::with(file_workspace(main_path, holdfast::io::open_mode::read, scratch.path()),
                   [&](file_workspace& work) {
                       text = work.main_file().read_all();
                       auto& sorted = work.create_temp_file("sorted-", ".txt");
                       sorted.file().write_all(std::string_view("line 2\nline 1\n"));
                       EXPECT_EQ(work.pending_cleanups(), 4u);
                   });
    EXPECT_EQ(text, "line 1\nline 2\n");
    EXPECT_TRUE(scratch.entries().empty());
}

TEST_F(FileWorkspace, RegisteredPathsAreRemovedAndOnesAlreadyGoneAreNotErrors) {
    io_test::captured_cleanup_errors captured;
    io_test::write_file(scratch / "produced.bin", "by another tool");
    {
        file_workspace work(main_path, holdfast::io::open_mode::read, scratch.path());
        work.remove_at_cleanup(scratch / "produced.bin");
        work.remove_at_cleanup(scratch / "never-created.bin");
        work.close();
        EXPECT_EQ(work.pending_cleanups(), 0u);
        work.close();  // a second close does nothing
    }
    EXPECT_TRUE(scratch.entries().empty());
    EXPECT_TRUE(captured.reports.empty());
}

}  // namespace
