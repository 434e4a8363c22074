#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "io_test_support.hpp"
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/system_error.hpp>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <holdfast/core/with.hpp>
#include <holdfast/io/socket_sink.hpp>
#include <holdfast/io/stream_writer.hpp>
#include <holdfast/io/tcp.hpp>

namespace {

using holdfast::io::fd_sink;
using holdfast::io::file;
using holdfast::io::stream_writer;

struct pipe_ends {
    file reader;
    file writer;
};

pipe_ends make_pipe() {
    int fds[2];
    if (::pipe(fds) != 0) throw std::system_error(errno, std::system_category(), "pipe");
    return {file::adopt_descriptor(fds[0], "pipe reader"),
            file::adopt_descriptor(fds[1], "pipe writer")};
}

bool sigpipe_blocked() {
    sigset_t mask;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    return sigismember(&mask, SIGPIPE) == 1;
}

bool sigpipe_pending() {
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    return sigismember(&pending, SIGPIPE) == 1;
}

bool sigpipe_disposition_is_default() {
    struct sigaction current {};
    ::sigaction(SIGPIPE, nullptr, &current);
    return current.sa_handler == SIG_DFL;
}

// These tests run with SIGPIPE's default disposition (terminate): a SIGPIPE that escaped the
// writer would kill the test binary, which ctest reports as a failure.
TEST(StreamWriter, TestsRunWithTheDefaultSigpipeDisposition) {
    ASSERT_TRUE(sigpipe_disposition_is_default());
}

// ---- a vanished reader --------------------------------------------------------------------

TEST(StreamWriter, APipeWhoseReaderClosedDisconnectsWithoutSignalOrException) {
    auto ends = make_pipe();
    ends.reader.close();
    stream_writer out(fd_sink(ends.writer.native_handle(), "pipe"));
    EXPECT_NO_THROW(out.write("hello\n"));
    EXPECT_TRUE(out.disconnected());
    EXPECT_EQ(out.disconnect_reason(), std::errc::broken_pipe);
    EXPECT_EQ(out.bytes_written(), 0u);
    EXPECT_EQ(out.bytes_dropped(), 6u);
    EXPECT_NO_THROW(out.write("dropped\n"));
    EXPECT_EQ(out.writes_dropped(), 2u);
    EXPECT_EQ(out.bytes_dropped(), 14u);
    // Nothing left behind in this thread, and the program's disposition was never touched.
    EXPECT_FALSE(sigpipe_blocked());
    EXPECT_FALSE(sigpipe_pending());
    EXPECT_TRUE(sigpipe_disposition_is_default());
}

TEST(StreamWriter, APipeWhoseReaderProcessExitsMidStreamCountsTheBytesWrittenBeforeIt) {
    auto ends = make_pipe();
    constexpr std::size_t read_before_exit = 100'000;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ends.writer.close();
        std::size_t total = 0;
        char buffer[4096];
        while (total < read_before_exit) {
            const ssize_t n = ::read(ends.reader.native_handle(), buffer,
                                     std::min(sizeof buffer, read_before_exit - total));
            if (n <= 0) ::_exit(1);
            total += static_cast<std::size_t>(n);
        }
        ::_exit(0);  // like `head -c 100000`
    }
    ends.reader.close();
    stream_writer out(fd_sink(ends.writer.native_handle(), "pipe"));
    const std::string line(1000, 'x');
    std::size_t attempted = 0;
    for (int i = 0; i < 20'000; ++i) {  // 20 MB, far more than the pipe holds
        out.write(line);
        attempted += line.size();
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_TRUE(out.disconnected());
    EXPECT_GE(out.bytes_written(), read_before_exit);
    EXPECT_EQ(out.bytes_written() + out.bytes_dropped(), attempted);
    EXPECT_GT(out.writes_dropped(), 0u);
    EXPECT_FALSE(sigpipe_pending());
}

TEST(StreamWriter, ATcpPeerThatClosesDisconnectsWithoutSignalOrException) {
    asio::io_context io;
    auto [client, server] = holdfast::io::tcp_loopback_pair(io);
    constexpr std::size_t read_before_close = 50'000;
    std::thread peer([&client = client] {
        std::string received(read_before_close, '\0');
        asio::read(client, asio::buffer(received));
        client.close();  // unread data pending: the kernel resets the connection
    });
    stream_writer out(holdfast::io::socket_sink(std::move(server)));
    const std::string chunk(4096, 'y');
    std::size_t attempted = 0;
    for (int i = 0; i < 100'000 && !out.disconnected(); ++i) {
        out.write(chunk);
        attempted += chunk.size();
    }
    peer.join();
    EXPECT_TRUE(out.disconnected());
    EXPECT_TRUE(holdfast::io::is_disconnect(out.disconnect_reason()))
        << out.disconnect_reason().message();
    EXPECT_GE(out.bytes_written(), read_before_close);
    EXPECT_EQ(out.bytes_written() + out.bytes_dropped(), attempted);
    out.write(chunk);
    EXPECT_EQ(out.bytes_written() + out.bytes_dropped(), attempted + chunk.size());
    EXPECT_NO_THROW(out.close());
}

TEST(StreamWriter, ASocketDescriptorUsesMsgNosignal) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    file mine = file::adopt_descriptor(fds[0], "socketpair");
    ::close(fds[1]);
    stream_writer out(fd_sink(std::move(mine)));
    out.write("anyone?");
    EXPECT_TRUE(out.disconnected());
    EXPECT_FALSE(sigpipe_pending());
}

TEST(StreamWriter, ASigpipeAlreadyPendingBeforeTheWriteStaysPending) {
    sigset_t sigpipe_only;
    sigemptyset(&sigpipe_only);
    sigaddset(&sigpipe_only, SIGPIPE);
    ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &sigpipe_only, nullptr), 0);
    ASSERT_EQ(::pthread_kill(::pthread_self(), SIGPIPE), 0);  // someone else's SIGPIPE
    {
        auto ends = make_pipe();
        ends.reader.close();
        stream_writer out(fd_sink(ends.writer.native_handle(), "pipe"));
        out.write("x");
        EXPECT_TRUE(out.disconnected());
    }
    EXPECT_TRUE(sigpipe_blocked());  // the caller's mask is kept
    EXPECT_TRUE(sigpipe_pending());  // and the caller's signal was not stolen
    const timespec no_wait{0, 0};
    EXPECT_EQ(::sigtimedwait(&sigpipe_only, nullptr, &no_wait), SIGPIPE);
    ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &sigpipe_only, nullptr), 0);
}

TEST(StreamWriter, TheIgnoredByProgramPolicyIsRefusedWhenSigpipeIsNotIgnored) {
    auto ends = make_pipe();
    EXPECT_THROW(
        fd_sink(ends.writer.native_handle(), "pipe", fd_sink::sigpipe_policy::ignored_by_program),
        std::logic_error);
}

TEST(StreamWriter, TheIgnoredByProgramPolicyWritesPlainlyWhenTheProgramIgnoresSigpipe) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction previous {};
    ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &previous), 0);
    {
        auto ends = make_pipe();
        ends.reader.close();
        stream_writer out(fd_sink(ends.writer.native_handle(), "pipe",
                                  fd_sink::sigpipe_policy::ignored_by_program));
        out.write("x");
        EXPECT_TRUE(out.disconnected());
    }
    ASSERT_EQ(::sigaction(SIGPIPE, &previous, nullptr), 0);
    EXPECT_FALSE(sigpipe_pending());
}

// ---- the context manager ------------------------------------------------------------------

TEST(StreamWriter, AsAContextManagerSuppressesExactlyDisconnectErrors) {
    std::ostringstream sink;
    for (const std::errc code : {std::errc::broken_pipe, std::errc::connection_reset}) {
        const bool completed = holdfast::with(stream_writer(sink), [&](stream_writer& out) {
            out.write("partial");
            throw std::system_error(std::make_error_code(code), "asio::write");
        });
        EXPECT_FALSE(completed);
    }
    EXPECT_THROW((void)holdfast::with(stream_writer(sink),
                                      [](stream_writer&) {
                                          throw std::system_error(
                                              std::make_error_code(std::errc::no_space_on_device));
                                      }),
                 std::system_error);
    EXPECT_THROW((void)holdfast::with(stream_writer(sink),
                                      [](stream_writer&) { throw std::runtime_error("other"); }),
                 std::runtime_error);
}

TEST(StreamWriter, AsAContextManagerSuppressesAsiosOwnDisconnectErrors) {
    std::ostringstream sink;
    for (const auto code : {asio::error::broken_pipe, asio::error::connection_reset}) {
        const bool completed = holdfast::with(stream_writer(sink), [&](stream_writer&) {
            throw asio::system_error(asio::error_code(code), "asio::write");
        });
        EXPECT_FALSE(completed);
    }
    EXPECT_THROW((void)holdfast::with(stream_writer(sink),
                                      [](stream_writer&) {
                                          throw asio::system_error(
                                              asio::error_code(asio::error::no_buffer_space));
                                      }),
                 std::system_error);
}

TEST(StreamWriter, AsAContextManagerABodyThatWritesToAClosedPipeCompletes) {
    auto ends = make_pipe();
    ends.reader.close();
    const bool completed =
        holdfast::with(stream_writer(fd_sink(std::move(ends.writer))), [](stream_writer& out) {
            for (int i = 0; i < 1000; ++i) out.write("line\n");
            EXPECT_TRUE(out.disconnected());
            EXPECT_EQ(out.writes_dropped(), 1000u);
        });
    EXPECT_TRUE(completed);
}

// ---- other errors propagate ---------------------------------------------------------------

TEST(StreamWriter, EbadfPropagates) {
    auto ends = make_pipe();
    const int descriptor = ends.writer.release();
    ::close(descriptor);
    stream_writer out(fd_sink(descriptor, "closed pipe"));
    io_test::expect_system_error([&] { out.write("x"); }, std::errc::bad_file_descriptor,
                                 {"write closed pipe"});
    EXPECT_FALSE(out.disconnected());
}

TEST(StreamWriter, EnospcPropagates) {
    stream_writer out(fd_sink(file("/dev/full", holdfast::io::open_mode::write)));
    io_test::expect_system_error([&] { out.write("x"); }, std::errc::no_space_on_device,
                                 {"write /dev/full"});
}

TEST(StreamWriter, EfbigFromTheFileSizeLimitPropagates) {
    io_test::scratch_directory dir;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{100, 100};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        int status = 1;
        try {
            stream_writer out(fd_sink(file(dir / "f", holdfast::io::open_mode::write)));
            out.write(std::string(1000, 'z'));
        } catch (const std::system_error& e) {
            status = e.code() == std::errc::file_too_large ? 0 : 2;
        } catch (...) {
            status = 3;
        }
        ::_exit(status);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(StreamWriter, AnOstreamInAFailedStateRaises) {
    io_test::captured_cleanup_errors captured;
    std::ostringstream sink;
    stream_writer out(sink);
    out.write("fine");
    sink.setstate(std::ios::badbit);
    try {
        out.write("lost");
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::io_errc::stream);
        EXPECT_NE(std::string(e.what()).find("std::ostream"), std::string::npos);
    }
    EXPECT_FALSE(out.disconnected());
    EXPECT_EQ(out.bytes_written(), 4u);
    EXPECT_THROW(out.close(), std::system_error);  // the final flush fails too
    EXPECT_TRUE(captured.reports.empty());
}

TEST(StreamWriter, AnOstreamOverAPipeWhoseReaderLeftDisconnects) {
    auto ends = make_pipe();
    ends.reader.close();
    std::ofstream pipe_stream("/proc/self/fd/" + std::to_string(ends.writer.native_handle()));
    ASSERT_TRUE(pipe_stream.is_open());
    stream_writer out(pipe_stream);
    out.write(std::string(100'000, 'o'));  // larger than the stream's buffer: writes through
    out.flush();
    EXPECT_TRUE(out.disconnected());
    EXPECT_FALSE(sigpipe_pending());
}

TEST(StreamWriter, StdCoutOverABrokenPipeEndsQuietlyAlsoAtProcessExit) {
    auto ends = make_pipe();
    ends.reader.close();
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::dup2(ends.writer.native_handle(), 1);  // stdout is now the broken pipe
        {
            stream_writer out(std::cout);
            for (int i = 0; i < 10'000 && !out.disconnected(); ++i) out.write("line\n");
            if (!out.disconnected()) ::_exit(2);
        }
        std::exit(0);  // a normal exit flushes stdio: it must not raise SIGPIPE either
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(StreamWriter, TheDestructorReportsACloseError) {
    io_test::captured_cleanup_errors captured;
    {
        auto ends = make_pipe();
        ::close(ends.writer.native_handle());  // behind its back
        stream_writer out(fd_sink(std::move(ends.writer)));
    }
    ASSERT_EQ(captured.reports.size(), 1u);
    EXPECT_EQ(captured.reports[0].code, std::errc::bad_file_descriptor);
}

// ---- normal operation ---------------------------------------------------------------------

TEST(StreamWriter, WritesEveryByteToAPipeAndCountsThem) {
    auto ends = make_pipe();
    std::string received;
    std::thread drain([&] { received = ends.reader.read_all(); });
    {
        stream_writer out(fd_sink(std::move(ends.writer)));
        for (int i = 0; i < 10'000; ++i) out.write("0123456789\n");
        EXPECT_EQ(out.bytes_written(), 110'000u);
        EXPECT_FALSE(out.disconnected());
        out.close();  // owned: closing it ends the reader's read_all
    }
    drain.join();
    EXPECT_EQ(received.size(), 110'000u);
}

TEST(StreamWriter, CloseFlushesAnOstreamAndWritesAfterCloseAreLogicErrors) {
    std::ostringstream sink;
    stream_writer out(sink);
    out.write("abc");
    out.close();
    EXPECT_EQ(sink.str(), "abc");
    EXPECT_THROW(out.write("d"), std::logic_error);
}

}  // namespace
