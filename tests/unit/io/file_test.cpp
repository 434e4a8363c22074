#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "io_test_support.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <holdfast/core/with.hpp>
#include <holdfast/io/file.hpp>

namespace {

namespace fs = std::filesystem;
using holdfast::io::file;
using holdfast::io::open_mode;
using io_test::expect_system_error;

// ---- failure paths ------------------------------------------------------------------------

TEST(File, OpeningAMissingFileThrowsNamingTheOperationAndThePath) {
    io_test::scratch_directory dir;
    const auto missing = dir / "missing.txt";
    expect_system_error([&] { file f(missing, open_mode::read); },
                        std::errc::no_such_file_or_directory, {"open", missing.native()});
}

TEST(File, CreateExclusiveRefusesAnExistingPath) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "taken", "old");
    expect_system_error([&] { file f(dir / "taken", open_mode::create_exclusive); },
                        std::errc::file_exists, {"open"});
    EXPECT_EQ(io_test::read_file(dir / "taken"), "old");
}

TEST(File, CreateExclusiveDoesNotFollowASymlinkPlantedAtThePath) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "victim", "precious");
    fs::create_symlink(dir / "victim", dir / "planted");
    expect_system_error([&] { file f(dir / "planted", open_mode::create_exclusive); },
                        std::errc::file_exists, {"open"});
    EXPECT_EQ(io_test::read_file(dir / "victim"), "precious");
}

TEST(File, WritingAFileOpenedForReadingThrowsEbadf) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "r", "x");
    file f(dir / "r", open_mode::read);
    expect_system_error([&] { f.write_all(std::string_view("data")); },
                        std::errc::bad_file_descriptor, {"write", (dir / "r").native()});
}

TEST(File, WriteAllToDevFullThrowsEnospc) {
    file f("/dev/full", open_mode::write);
    expect_system_error([&] { f.write_all(std::string_view("data")); },
                        std::errc::no_space_on_device, {"write /dev/full"});
}

TEST(File, WriteAllBeyondTheFileSizeLimitThrowsEfbig) {
    io_test::scratch_directory dir;
    const auto path = dir / "limited";
    // The limit and the ignored SIGXFSZ apply to a child process only.
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{1024, 1024};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        int status = 1;
        try {
            file f(path, open_mode::write);
            f.write_all(std::string(4096, 'x'));
        } catch (const std::system_error& e) {
            const bool names_path = std::string(e.what()).find(path.native()) != std::string::npos;
            status = e.code() == std::errc::file_too_large && names_path ? 0 : 2;
        } catch (...) {
            status = 3;
        }
        ::_exit(status);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no exception, 2: wrong error, 3: other exception";
    EXPECT_EQ(fs::file_size(path), 1024u);  // the prefix that fit was written
}

TEST(File, FsyncOfAPipeThrowsEinval) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    file reader = file::adopt_descriptor(fds[0], "pipe reader");
    file writer = file::adopt_descriptor(fds[1], "pipe writer");
    expect_system_error([&] { writer.fsync(); }, std::errc::invalid_argument,
                        {"fsync pipe writer"});
}

TEST(File, CloseErrorThrowsWithThePathAndLeavesTheFileClosed) {
    io_test::scratch_directory dir;
    file f(dir / "c", open_mode::write);
    ::close(f.native_handle());  // behind its back: the next close fails with EBADF
    expect_system_error([&] { f.close(); }, std::errc::bad_file_descriptor,
                        {"close", (dir / "c").native()});
    EXPECT_FALSE(f.is_open());
    EXPECT_NO_THROW(f.close());  // never retried
}

TEST(File, DestructorReportsACloseErrorToTheCleanupHandlerInsteadOfThrowing) {
    io_test::scratch_directory dir;
    io_test::captured_cleanup_errors captured;
    {
        file f(dir / "d", open_mode::write);
        ::close(f.native_handle());
    }
    ASSERT_EQ(captured.reports.size(), 1u);
    EXPECT_EQ(captured.reports[0].code, std::errc::bad_file_descriptor);
    EXPECT_NE(captured.reports[0].what.find((dir / "d").native()), std::string::npos);
    EXPECT_NE(captured.reports[0].where.find("destructor"), std::string::npos);
}

TEST(File, AsAContextManagerACloseErrorOnTheSuccessPathPropagates) {
    io_test::scratch_directory dir;
    io_test::captured_cleanup_errors captured;
    expect_system_error(
        [&] {
            holdfast::with(file(dir / "e", open_mode::write),
                           [](file& f) { ::close(f.native_handle()); });
        },
        std::errc::bad_file_descriptor, {"close"});
    EXPECT_TRUE(captured.reports.empty());
}

TEST(File, AsAContextManagerTheBodysExceptionPropagatesAndTheCloseErrorIsReported) {
    io_test::scratch_directory dir;
    io_test::captured_cleanup_errors captured;
    EXPECT_THROW(holdfast::with(file(dir / "e", open_mode::write),
                                [](file& f) {
                                    ::close(f.native_handle());
                                    throw std::runtime_error("body failed");
                                }),
                 std::runtime_error);
    ASSERT_EQ(captured.reports.size(), 1u);
    EXPECT_EQ(captured.reports[0].code, std::errc::bad_file_descriptor);
}

// ---- normal operation ---------------------------------------------------------------------

TEST(File, AsAContextManagerClosesTheFileAfterTheBody) {
    io_test::scratch_directory dir;
    int descriptor = -1;
    holdfast::with(file(dir / "w", open_mode::write), [&](file& f) {
        descriptor = f.native_handle();
        f.write_all(std::string_view("hello"));
    });
    EXPECT_EQ(::fcntl(descriptor, F_GETFD), -1);
    EXPECT_EQ(io_test::read_file(dir / "w"), "hello");
}

TEST(File, WriteAllThenReadAllRoundTripsALargeFile) {
    io_test::scratch_directory dir;
    std::string data(3 * 1024 * 1024 + 17, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 % 251);
    {
        file out(dir / "big", open_mode::write);
        out.write_all(data);
        out.fsync();
        out.close();
    }
    file in(dir / "big", open_mode::read);
    EXPECT_EQ(in.read_all(), data);
    EXPECT_EQ(in.read_all(), "");  // at end of file
}

TEST(File, ReadAllOfAPipeReadsUntilTheWriterCloses) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    file reader = file::adopt_descriptor(fds[0], "pipe");
    std::string data(200'000, 'p');
    std::thread writer([&, fd = fds[1]] {
        file out = file::adopt_descriptor(fd, "pipe");
        out.write_all(data);
    });
    EXPECT_EQ(reader.read_all(), data);
    writer.join();
}

TEST(File, AppendModeWritesAtTheEnd) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "log", "one\n");
    file f(dir / "log", open_mode::append);
    f.write_all(std::string_view("two\n"));
    f.close();
    EXPECT_EQ(io_test::read_file(dir / "log"), "one\ntwo\n");
}

TEST(File, WriteModeTruncatesAndReadWriteDoesNot) {
    io_test::scratch_directory dir;
    io_test::write_file(dir / "t", "0123456789");
    {
        file f(dir / "t", open_mode::read_write);
        f.write_all(std::string_view("ab"));
    }
    EXPECT_EQ(io_test::read_file(dir / "t"), "ab23456789");
    { file f(dir / "t", open_mode::write); }
    EXPECT_EQ(io_test::read_file(dir / "t"), "");
}

TEST(File, CreatedFilesGetTheRequestedPermissions) {
    io_test::scratch_directory dir;
    file f(dir / "p", open_mode::create_exclusive, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(fs::status(dir / "p").permissions(), fs::perms::owner_read | fs::perms::owner_write);
}

TEST(File, DescriptorsAreCloseOnExec) {
    io_test::scratch_directory dir;
    file f(dir / "x", open_mode::write);
    EXPECT_TRUE(::fcntl(f.native_handle(), F_GETFD) & FD_CLOEXEC);
}

TEST(File, MoveTransfersOwnershipAndMoveAssignmentClosesThePreviousDescriptor) {
    io_test::scratch_directory dir;
    file a(dir / "a", open_mode::write);
    file b(dir / "b", open_mode::write);
    const int old_b = b.native_handle();
    const int old_a = a.native_handle();
    b = std::move(a);
    EXPECT_EQ(::fcntl(old_b, F_GETFD), -1);
    EXPECT_EQ(b.native_handle(), old_a);
    EXPECT_EQ(b.path(), dir / "a");
    EXPECT_FALSE(
        a.is_open());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
}

TEST(File, ReleaseGivesUpOwnership) {
    io_test::scratch_directory dir;
    int descriptor = -1;
    {
        file f(dir / "r", open_mode::write);
        descriptor = f.release();
        EXPECT_FALSE(f.is_open());
    }
    EXPECT_NE(::fcntl(descriptor, F_GETFD), -1);
    ::close(descriptor);
}

// Interrupt a large write to a slowly drained pipe again and again with a signal installed
// without SA_RESTART: write() returns short counts (interrupted after some bytes) and EINTR
// (interrupted before any); write_all must deliver every byte exactly once, in order.
std::atomic<int> alarms{0};
extern "C" void count_alarm(int) {
    alarms.fetch_add(1, std::memory_order_relaxed);
}

TEST(File, WriteAllSurvivesShortWritesAndEintr) {
    struct sigaction action {};
    action.sa_handler = count_alarm;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: interrupted writes return early
    struct sigaction previous {};
    ASSERT_EQ(::sigaction(SIGALRM, &action, &previous), 0);

    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    file reader = file::adopt_descriptor(fds[0], "pipe reader");
    file writer = file::adopt_descriptor(fds[1], "pipe writer");
    std::string data(16 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 253);

    // The reader thread blocks SIGALRM, so the signal interrupts the writer.
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    ::pthread_sigmask(SIG_BLOCK, &alarm_only, nullptr);
    std::string received;
    std::thread drain([&] {
        char buffer[4096];
        for (;;) {
            const std::size_t n = reader.read_some(buffer, sizeof buffer);
            if (n == 0) break;
            received.append(buffer, n);
        }
    });
    ::pthread_sigmask(SIG_UNBLOCK, &alarm_only, nullptr);

    const itimerval every_200us{{0, 200}, {0, 200}};
    ::setitimer(ITIMER_REAL, &every_200us, nullptr);
    writer.write_all(data);
    const itimerval off{};
    ::setitimer(ITIMER_REAL, &off, nullptr);
    writer.close();
    drain.join();
    ::sigaction(SIGALRM, &previous, nullptr);

    EXPECT_EQ(received.size(), data.size());
    EXPECT_TRUE(received == data);
    RecordProperty("alarms", alarms.load());
}

}  // namespace
