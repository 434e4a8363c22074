// Runs a check in a forked child, for what must not touch the test process: lowered resource
// limits (RLIMIT_FSIZE, RLIMIT_NOFILE), ignored signals. The child reports failures as text
// through a pipe; the parent turns them into test failures. Not a test itself.
#pragma once

#include <cerrno>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace holdfast::testing {

/// What a check in the child collects: failed expectations, and notes printed by the parent.
class child_report {
  public:
    void fail(const std::string& what) { text_ += "FAIL: " + what + "\n"; }
    void note(const std::string& what) { text_ += "NOTE: " + what + "\n"; }
    void expect(bool condition, const std::string& what) {
        if (!condition) fail(what);
    }
    const std::string& text() const { return text_; }

  private:
    std::string text_;
};

/// Forks, runs `check` in the child (which must not return to gtest: it _exits), and fails
/// the calling test when the child reported a failure, threw, or died by a signal. Returns the
/// child's notes and failures, as text.
inline std::string run_in_child(const std::function<void(child_report&)>& check) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2: " << errno;
        return {};
    }
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        ADD_FAILURE() << "fork: " << errno;
        return {};
    }
    if (pid == 0) {
        ::close(fds[0]);
        child_report report;
        try {
            check(report);
        } catch (const std::exception& e) {
            report.fail(std::string("uncaught exception: ") + e.what());
        } catch (...) {
            report.fail("uncaught exception");
        }
        const std::string& text = report.text();
        std::size_t written = 0;
        while (written < text.size()) {
            const auto n = ::write(fds[1], text.data() + written, text.size() - written);
            if (n <= 0) break;
            written += static_cast<std::size_t>(n);
        }
        ::_exit(text.find("FAIL: ") == std::string::npos ? 0 : 1);
    }
    ::close(fds[1]);
    std::string text;
    char buffer[4096];
    for (;;) {
        const auto n = ::read(fds[0], buffer, sizeof buffer);
        if (n > 0) {
            text.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    EXPECT_TRUE(WIFEXITED(status))
        << "the child died by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << "\n"
        << text;
    EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0) << text;
    return text;
}

/// Sets the soft and hard limit of `resource` (in a child: lowering the hard limit is final).
template <class Resource>
bool set_limit(Resource resource, rlim_t value) {
    const rlimit limit{value, value};
    return ::setrlimit(resource, &limit) == 0;
}

/// The process's open file descriptors, from /proc/self/fd (the directory's own descriptor
/// excluded).
inline std::size_t open_descriptors() {
    std::size_t count = 0;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        while (const dirent* entry = ::readdir(dir)) {
            if (entry->d_name[0] != '.') ++count;
        }
        ::closedir(dir);
    }
    return count > 0 ? count - 1 : 0;
}

}  // namespace holdfast::testing
