// src/io/sigpipe_guard.hpp — private: write to a pipe without being killed by SIGPIPE, and
// without touching the program's SIGPIPE disposition.
#pragma once

#include <cerrno>
#include <ctime>

#include <pthread.h>
#include <signal.h>

namespace holdfast::io::detail {

/// Blocks SIGPIPE in the calling thread for its lifetime. A write to a pipe without readers
/// then fails with EPIPE and the kernel leaves a SIGPIPE pending on this thread instead of
/// delivering it; call epipe_seen() after such a failure and the destructor consumes that
/// pending signal (sigtimedwait with a zero timeout) before restoring the mask, so it is
/// never delivered later.
///
/// Why not the alternatives: ignoring SIGPIPE with sigaction() changes a process-wide setting
/// that belongs to the program (and its child processes inherit it); MSG_NOSIGNAL exists only
/// for sockets. Blocking it in the current thread affects nothing else, and costs two
/// rt_sigprocmask calls per write.
///
/// A SIGPIPE that was already pending before (the thread had it blocked already, and someone
/// raised it) is left pending: only the signal this write produced is consumed. The SIGPIPE a
/// failed pipe write raises is thread-directed, and sigtimedwait takes thread-directed signals
/// before process-directed ones.
class sigpipe_guard {
  public:
    sigpipe_guard() noexcept {
        sigemptyset(&sigpipe_only_);
        sigaddset(&sigpipe_only_, SIGPIPE);
        sigset_t previous;
        pthread_sigmask(SIG_BLOCK, &sigpipe_only_, &previous);
        was_blocked_ = sigismember(&previous, SIGPIPE) == 1;
        if (was_blocked_) {
            sigset_t pending;
            sigemptyset(&pending);
            sigpending(&pending);
            was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        }
    }

    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;

    /// The guarded write failed with EPIPE: a SIGPIPE is pending for this thread.
    void epipe_seen() noexcept { epipe_seen_ = true; }

    ~sigpipe_guard() {
        if (epipe_seen_ && !was_pending_) {
            const timespec no_wait{0, 0};
            const int saved_errno = errno;  // callers read errno after we are gone
            while (sigtimedwait(&sigpipe_only_, nullptr, &no_wait) < 0 && errno == EINTR) {
            }
            errno = saved_errno;
        }
        if (!was_blocked_) pthread_sigmask(SIG_UNBLOCK, &sigpipe_only_, nullptr);
    }

  private:
    sigset_t sigpipe_only_;
    bool was_blocked_ = false;
    bool was_pending_ = false;
    bool epipe_seen_ = false;
};

}  // namespace holdfast::io::detail
