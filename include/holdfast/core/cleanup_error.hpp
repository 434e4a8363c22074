// holdfast/core/cleanup_error.hpp — where errors go that a destructor had to swallow.
//
//   holdfast::set_cleanup_error_handler([](std::exception_ptr error, std::string_view where) {
//       try { std::rethrow_exception(error); }
//       catch (const std::exception& e) { my_log.warn("{}: {}", where, e.what()); }
//   });
//   {
//       holdfast::exit_stack stack;
//       stack.callback([] { throw std::runtime_error("disk full"); });
//   }   // the destructor cannot throw: the handler above receives "disk full"
#pragma once

#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>

namespace holdfast {

/// The marker exception a destructor passes to failure-sensitive exits (a rollback, a
/// scope_fail-like exit) when it runs during stack unwinding: it cannot know the exception
/// in flight, but it knows the scope is being left by one.
class unwinding_exception final : public std::exception {
  public:
    const char* what() const noexcept override {
        return "scope left by an exception (during stack unwinding)";
    }
};

/// Receives an error that was raised during cleanup where it could not propagate (in a
/// destructor), together with a short description of where it happened.
using cleanup_error_handler = std::function<void(std::exception_ptr error, std::string_view where)>;

namespace detail {

inline void default_cleanup_error_handler(std::exception_ptr error, std::string_view where) {
    const char* what = error ? "unknown exception" : "no exception";
    if (error) {
        try {
            std::rethrow_exception(std::move(error));
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
    }
    std::fprintf(stderr, "holdfast: error during cleanup in %.*s: %s\n",
                 static_cast<int>(where.size()), where.data(), what);
}

// The installed handler. Reporting copies the shared_ptr under the mutex and calls the handler
// outside it, so a handler may be replaced (or may itself report) while another thread is in
// the middle of a report through the old one, which stays alive until that report returns.
struct cleanup_error_handler_slot {
    std::mutex mutex;
    std::shared_ptr<const cleanup_error_handler> handler =
        std::make_shared<const cleanup_error_handler>(default_cleanup_error_handler);

    static cleanup_error_handler_slot& instance() {
        static cleanup_error_handler_slot slot;
        return slot;
    }
};

}  // namespace detail

/// Installs `handler` for errors swallowed by destructors and returns the previous one.
/// An empty handler restores the default, which prints one line to stderr.
///
/// @par Thread safety
/// Safe to call concurrently with itself and with report_cleanup_error().
inline cleanup_error_handler set_cleanup_error_handler(cleanup_error_handler handler) {
    if (!handler) handler = detail::default_cleanup_error_handler;
    auto replacement = std::make_shared<const cleanup_error_handler>(std::move(handler));
    auto& slot = detail::cleanup_error_handler_slot::instance();
    std::shared_ptr<const cleanup_error_handler> previous;
    {
        std::lock_guard lock(slot.mutex);
        previous = std::exchange(slot.handler, std::move(replacement));
    }
    return *previous;
}

/// Hands `error` to the installed cleanup error handler. Never throws: an exception from the
/// handler itself is dropped, since the only caller is code that must not throw.
inline void report_cleanup_error(std::exception_ptr error, std::string_view where) noexcept {
    try {
        auto& slot = detail::cleanup_error_handler_slot::instance();
        std::shared_ptr<const cleanup_error_handler> handler;
        {
            std::lock_guard lock(slot.mutex);
            handler = slot.handler;
        }
        (*handler)(std::move(error), where);
    } catch (...) {
    }
}

/// Reports the exception currently being handled. Call it only inside a catch block.
inline void report_current_cleanup_error(std::string_view where) noexcept {
    report_cleanup_error(std::current_exception(), where);
}

}  // namespace holdfast
