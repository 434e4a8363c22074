#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <holdfast/core/cleanup_error.hpp>

namespace {

// Restores the default handler however a test ends.
struct handler_reset {
    ~handler_reset() { holdfast::set_cleanup_error_handler(nullptr); }
};

TEST(CleanupError, DefaultHandlerPrintsWhereAndWhatToStderr) {
    testing::internal::CaptureStderr();
    holdfast::report_cleanup_error(std::make_exception_ptr(std::runtime_error("disk full")),
                                   "file destructor");
    EXPECT_EQ(testing::internal::GetCapturedStderr(),
              "holdfast: error during cleanup in file destructor: disk full\n");
}

TEST(CleanupError, DefaultHandlerDescribesNonStandardExceptions) {
    testing::internal::CaptureStderr();
    holdfast::report_cleanup_error(std::make_exception_ptr(42), "somewhere");
    EXPECT_EQ(testing::internal::GetCapturedStderr(),
              "holdfast: error during cleanup in somewhere: unknown exception\n");
}

TEST(CleanupError, InstalledHandlerReceivesTheErrorAndThePreviousIsReturned) {
    handler_reset reset;
    std::string seen;
    holdfast::set_cleanup_error_handler([&](std::exception_ptr e, std::string_view where) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            seen = std::string(where) + ": " + ex.what();
        }
    });
    try {
        throw std::logic_error("bad state");
    } catch (...) {
        holdfast::report_current_cleanup_error("pool lease");
    }
    EXPECT_EQ(seen, "pool lease: bad state");

    auto previous = holdfast::set_cleanup_error_handler(nullptr);
    ASSERT_TRUE(previous);
    seen.clear();
    previous(std::make_exception_ptr(std::runtime_error("again")), "restored");
    EXPECT_EQ(seen, "restored: again");
}

TEST(CleanupError, HandlerThatThrowsDoesNotEscapeReport) {
    handler_reset reset;
    holdfast::set_cleanup_error_handler(
        [](std::exception_ptr, std::string_view) { throw std::runtime_error("handler broke"); });
    EXPECT_NO_THROW(holdfast::report_cleanup_error(std::make_exception_ptr(1), "x"));
    static_assert(noexcept(holdfast::report_cleanup_error(nullptr, "")));
}

TEST(CleanupError, HandlerCanBeReplacedWhileOtherThreadsReport) {
    handler_reset reset;
    std::atomic<int> reports{0};
    holdfast::set_cleanup_error_handler([&](std::exception_ptr, std::string_view) { ++reports; });
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([] {
            for (int i = 0; i < 2000; ++i) holdfast::report_cleanup_error(nullptr, "thread");
        });
    }
    for (int i = 0; i < 200; ++i) {
        holdfast::set_cleanup_error_handler(
            [&](std::exception_ptr, std::string_view) { ++reports; });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(reports.load(), 4000);
}

}  // namespace
