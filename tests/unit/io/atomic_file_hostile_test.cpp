// atomic_file and temp_file against a hostile or exhausted file system: a symbolic link or a
// file planted at the temporary file's name (the name made predictable by replacing the random
// source), and a file size limit (RLIMIT_FSIZE) reached while writing.
#include <holdfast/io/atomic_file.hpp>
// (header under test first: it must compile on its own)
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

#include "../support/forked_child.hpp"
#include "io_test_support.hpp"
#include <gtest/gtest.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <holdfast/core/with.hpp>
#include <holdfast/io/temp_file.hpp>

namespace {

// While set, getrandom(2) fills buffers with zero bytes, so the next temporary name is
// predictable: twelve times the alphabet's first character.
std::atomic<int> predictable_draws{0};

}  // namespace

// Replaces the C library's getrandom for this test program (the library's calls bind to it):
// the one random source a test cannot make predictable otherwise.
extern "C" ssize_t getrandom(void* buffer, size_t length, unsigned int flags) {
    int left = predictable_draws.load();
    while (left > 0 && !predictable_draws.compare_exchange_weak(left, left - 1)) {
    }
    if (left > 0) {
        std::memset(buffer, 0, length);
        return static_cast<ssize_t>(length);
    }
    return ::syscall(SYS_getrandom, buffer, length, flags);
}

namespace {

namespace fs = std::filesystem;
using holdfast::io::atomic_file;
using holdfast::io::temp_file;

constexpr const char* predictable_part = "AAAAAAAAAAAA";

TEST(AtomicFileHostile, TheReplacedRandomSourceMakesTheNextNamePredictable) {
    io_test::scratch_directory dir;
    predictable_draws = 1;
    atomic_file out(dir / "config");
    EXPECT_EQ(out.temp_path(), dir / (std::string(".config.") + predictable_part + ".tmp"));
}

TEST(AtomicFileHostile, ASymlinkPlantedAtTheTempNameIsNeverFollowed) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "victim", "precious");
    io_test::write_file(dir / "config", "old");
    const auto planted = dir / (std::string(".config.") + predictable_part + ".tmp");
    fs::create_symlink(dir / "victim", planted);
    predictable_draws = 1;  // the first name drawn is the planted one
    {
        atomic_file out(dir / "config");
        EXPECT_NE(out.temp_path(), planted);
        out.file().write_all(std::string_view("new"));
        out.commit();
    }
    EXPECT_EQ(io_test::read_file(dir / "victim"), "precious");
    EXPECT_EQ(io_test::read_file(dir / "config"), "new");
    EXPECT_TRUE(fs::is_symlink(planted));  // not ours: left alone
}

TEST(AtomicFileHostile, ASymlinkToAMissingFileIsNotCreatedThrough) {
    io_test::scratch_directory dir;
    const auto planted = dir / (std::string(".config.") + predictable_part + ".tmp");
    fs::create_symlink(dir / "would-be-created", planted);
    predictable_draws = 1;
    holdfast::with(atomic_file(dir / "config"),
                   [](holdfast::io::file& out) { out.write_all(std::string_view("new")); });
    EXPECT_FALSE(fs::exists(dir / "would-be-created"));
    EXPECT_EQ(io_test::read_file(dir / "config"), "new");
}

// Every name taken: creation fails clearly and opens nothing that exists.
TEST(AtomicFileHostile, WhenEveryNameIsTakenCreationFailsAndOpensNothing) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "config", "old");
    const auto planted = dir / (std::string(".config.") + predictable_part + ".tmp");
    io_test::write_file(planted, "someone else's");
    ::chmod(planted.c_str(), 0644);
    predictable_draws = 1000;
    io_test::expect_system_error([&] { atomic_file out(dir / "config"); }, std::errc::file_exists,
                                 {"create", planted.c_str()});
    io_test::expect_system_error([&] { temp_file t(dir.path(), ".config.", ".tmp"); },
                                 std::errc::file_exists, {"create", planted.c_str()});
    predictable_draws = 0;
    EXPECT_EQ(io_test::read_file(planted), "someone else's");
    EXPECT_EQ(io_test::read_file(dir / "config"), "old");
    struct stat info {};
    ASSERT_EQ(::stat(planted.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0644u);  // not re-created, not chmod-ed
}

TEST(AtomicFileHostile, TheTempFileIsCreated0600EvenWithAPermissiveUmask) {
    io_test::scratch_directory dir;
    const auto previous = ::umask(0);
    {
        atomic_file out(dir / "config");
        temp_file temp(dir.path());
        struct stat info {};
        ASSERT_EQ(::stat(out.temp_path().c_str(), &info), 0);
        EXPECT_EQ(info.st_mode & 07777, 0600u);
        ASSERT_EQ(::stat(temp.path().c_str(), &info), 0);
        EXPECT_EQ(info.st_mode & 07777, 0600u);
    }
    ::umask(previous);
}

// A destination that is a symbolic link: rename(2) replaces the link itself with the new file,
// and the file it pointed to keeps its content.
TEST(AtomicFileHostile, ASymlinkAtTheDestinationIsReplacedAndItsTargetIsUntouched) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "victim", "precious");
    fs::create_symlink(dir / "victim", dir / "config");
    holdfast::with(atomic_file(dir / "config"),
                   [](holdfast::io::file& out) { out.write_all(std::string_view("new")); });
    EXPECT_FALSE(fs::is_symlink(dir / "config"));
    EXPECT_EQ(io_test::read_file(dir / "config"), "new");
    EXPECT_EQ(io_test::read_file(dir / "victim"), "precious");
}

// ---- file size limit -----------------------------------------------------------------------

TEST(AtomicFileHostile, AFileSizeLimitFailsTheWriteClearlyAndKeepsTheOldContent) {
    io_test::scratch_directory dir;
    const auto target = dir / "data";
    io_test::write_file(target, "old content");
    const auto text = holdfast::testing::run_in_child([&](holdfast::testing::child_report& r) {
        std::signal(SIGXFSZ, SIG_IGN);  // writes past the limit fail with EFBIG instead
        r.expect(holdfast::testing::set_limit(RLIMIT_FSIZE, 64 * 1024), "setrlimit");
        const std::string chunk(16 * 1024, 'x');
        try {
            holdfast::with(atomic_file(target), [&](holdfast::io::file& out) {
                for (int i = 0; i < 8; ++i) out.write_all(std::string_view(chunk));
            });
            r.fail("writing 128 KiB under a 64 KiB limit succeeded");
        } catch (const std::system_error& e) {
            r.note(e.what());
            r.expect(e.code() == std::errc::file_too_large, std::string("code: ") + e.what());
            const std::string what = e.what();
            r.expect(what.find("write") != std::string::npos, "names the operation: " + what);
            r.expect(what.find(".data.") != std::string::npos, "names the file: " + what);
            r.expect(what.find("File too large") != std::string::npos, "says why: " + what);
        }
    });
    std::cout << text;
    EXPECT_EQ(io_test::read_file(target), "old content");
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"data"});  // no temporary file left
}

// A limit below the old file's size: the old file stays whole (it is never written to).
TEST(AtomicFileHostile, AFileSizeLimitBelowTheOldSizeStillLeavesTheOldFileWhole) {
    io_test::scratch_directory dir;
    const auto target = dir / "data";
    const std::string old(256 * 1024, 'o');
    io_test::write_file(target, old);
    holdfast::testing::run_in_child([&](holdfast::testing::child_report& r) {
        std::signal(SIGXFSZ, SIG_IGN);
        r.expect(holdfast::testing::set_limit(RLIMIT_FSIZE, 4096), "setrlimit");
        atomic_file out(target);
        try {
            out.file().write_all(std::string_view(std::string(8192, 'n')));
            out.commit();
            r.fail("writing 8 KiB under a 4 KiB limit succeeded");
        } catch (const std::system_error& e) {
            r.expect(e.code() == std::errc::file_too_large, e.what());
        }
    });
    EXPECT_EQ(io_test::read_file(target), old);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"data"});
}

}  // namespace
