// The behaviours of CPython's test_contextlib.py TestExitStack, ported, plus the C++ parts
// (destructor during unwinding, allocation-free small callbacks, cleanup error handler).
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <holdfast/core/exit_stack.hpp>
#include <holdfast/core/with.hpp>

// Counts heap allocations made while `counting` is set, to prove the inline storage.
namespace {
std::atomic<bool> counting{false};
std::atomic<int> allocations{0};
}  // namespace

// g++ cannot see that this pair matches malloc with free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
    if (counting) ++allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
#pragma GCC diagnostic pop

namespace {

using log_t = std::vector<std::string>;

std::string describe(const std::exception_ptr& e) {
    if (!e) return "none";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "unknown";
    }
}

// Logs "name:<exception it received>" and can suppress or throw.
auto logging_exit(log_t& log, std::string name, bool suppress = false) {
    return [&log, name = std::move(name), suppress](std::exception_ptr e) {
        log.push_back(name + ":" + describe(e));
        return suppress;
    };
}

auto throwing_exit(log_t& log, std::string name) {
    return [&log, name = std::move(name)](std::exception_ptr e) {
        log.push_back(name + ":" + describe(e));
        throw std::runtime_error(name);
    };
}

struct logging_manager {
    log_t* log;
    std::string name;
    bool fail_enter = false;
    std::string& enter() {
        log->push_back("enter " + name);
        if (fail_enter) throw std::runtime_error("enter " + name + " failed");
        return name;
    }
    void exit(std::exception_ptr e) { log->push_back("exit " + name + ":" + describe(e)); }
};

TEST(ExitStack, NoResourcesClosesToFalse) {
    holdfast::exit_stack stack;
    EXPECT_FALSE(stack.close());
    EXPECT_FALSE(stack.close(std::make_exception_ptr(std::runtime_error("x"))));
}

TEST(ExitStack, ExitsRunInReverseOrderOfRegistration) {
    log_t log;
    {
        holdfast::exit_stack stack;
        for (int i = 0; i < 5; ++i) stack.callback([&log, i] { log.push_back(std::to_string(i)); });
    }
    EXPECT_EQ(log, (log_t{"4", "3", "2", "1", "0"}));
}

TEST(ExitStack, CallbackArgumentsAreBoundAtRegistration) {
    log_t log;
    holdfast::exit_stack stack;
    std::string value = "at registration";
    stack.callback([&log](const std::string& s, int n) { log.push_back(s + std::to_string(n)); },
                   value, 1);
    value = "changed later";
    stack.close();
    EXPECT_EQ(log, (log_t{"at registration1"}));
}

TEST(ExitStack, CallbackNeverSuppresses) {
    holdfast::exit_stack stack;
    stack.callback([] {});
    EXPECT_FALSE(stack.close(std::make_exception_ptr(std::runtime_error("x"))));
}

TEST(ExitStack, PushedExitsReceiveTheException) {
    log_t log;
    holdfast::exit_stack stack;
    stack.push(logging_exit(log, "a"));
    stack.push([&log](std::exception_ptr e) { log.push_back("void exit:" + describe(e)); });
    EXPECT_FALSE(stack.close(std::make_exception_ptr(std::runtime_error("boom"))));
    EXPECT_EQ(log, (log_t{"void exit:boom", "a:boom"}));
}

TEST(ExitStack, PushOfAContextManagerRegistersItsExitWithoutEntering) {
    log_t log;
    logging_manager cm{&log, "cm"};
    {
        holdfast::exit_stack stack;
        stack.push(cm);
        stack.push(logging_manager{&log, "owned"});
    }
    EXPECT_EQ(log, (log_t{"exit owned:none", "exit cm:none"}));
}

TEST(ExitStack, EnterContextEntersNowAndExitsLater) {
    log_t log;
    logging_manager a{&log, "a"};
    {
        holdfast::exit_stack stack;
        std::string& name = stack.enter_context(a);
        EXPECT_EQ(&name, &a.name);
        std::string& owned = stack.enter_context(logging_manager{&log, "b"});
        EXPECT_EQ(owned, "b");
        log.push_back("body");
    }
    EXPECT_EQ(log, (log_t{"enter a", "enter b", "body", "exit b:none", "exit a:none"}));
}

TEST(ExitStack, EnterFailureRegistersNothing) {
    log_t log;
    holdfast::exit_stack stack;
    stack.enter_context(logging_manager{&log, "a"});
    EXPECT_THROW(stack.enter_context(logging_manager{&log, "b", true}), std::runtime_error);
    EXPECT_EQ(stack.size(), 1U);
    stack.close();
    EXPECT_EQ(log, (log_t{"enter a", "enter b", "exit a:none"}));
}

TEST(ExitStack, ValueReturnedByEnterIsKeptAliveAndStableAsTheStackGrows) {
    struct value_manager {
        std::string enter() { return "kept by the stack"; }
        void exit(std::exception_ptr) {}
    };
    holdfast::exit_stack stack;
    std::string& kept = stack.enter_context(value_manager{});
    for (int i = 0; i < 100; ++i) stack.callback([] {});  // forces the entries to move
    EXPECT_EQ(kept, "kept by the stack");
}

TEST(ExitStack, AdoptKeepsTheObjectAliveUntilItsTurn) {
    log_t log;
    auto watched = std::make_shared<int>(7);
    std::weak_ptr<int> watch = watched;
    holdfast::exit_stack stack;
    stack.callback([&] { log.push_back(watch.expired() ? "expired" : "alive"); });
    auto& held = stack.adopt(std::move(watched));
    stack.callback([&] { log.push_back(watch.expired() ? "expired" : "alive"); });
    EXPECT_EQ(*held, 7);
    stack.close();
    EXPECT_EQ(log, (log_t{"alive", "expired"}));
}

TEST(ExitStack, CloseReturnsTrueWhenTheGivenExceptionWasSuppressed) {
    log_t log;
    holdfast::exit_stack stack;
    stack.push(logging_exit(log, "suppressor", true));
    EXPECT_TRUE(stack.close(std::make_exception_ptr(std::runtime_error("boom"))));
}

TEST(ExitStack, SuppressingExitHidesTheExceptionFromLaterExits) {
    log_t log;
    holdfast::exit_stack stack;
    stack.push(logging_exit(log, "later"));
    stack.push(logging_exit(log, "suppressor", true));
    EXPECT_TRUE(stack.close(std::make_exception_ptr(std::runtime_error("boom"))));
    EXPECT_EQ(log, (log_t{"suppressor:boom", "later:none"}));
}

TEST(ExitStack, ExitThatThrowsReplacesCurrentExceptionForTheNextExit) {
    log_t log;
    holdfast::exit_stack stack;
    stack.push(logging_exit(log, "next"));
    stack.push(throwing_exit(log, "thrower"));
    try {
        stack.close(std::make_exception_ptr(std::runtime_error("original")));
        FAIL() << "the exit's exception was lost";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "thrower");
    }
    EXPECT_EQ(log, (log_t{"thrower:original", "next:thrower"}));
}

TEST(ExitStack, LaterExitSuppressesExceptionRaisedByEarlierExit) {
    log_t log;
    holdfast::exit_stack stack;
    stack.push(logging_exit(log, "suppressor", true));
    stack.push(throwing_exit(log, "thrower"));
    // The original exception is gone too: close() reports it suppressed (CPython returns True).
    EXPECT_TRUE(stack.close(std::make_exception_ptr(std::runtime_error("original"))));
    EXPECT_EQ(log, (log_t{"thrower:original", "suppressor:thrower"}));
}

TEST(ExitStack, SuppressedExitExceptionWithoutOriginalErrorClosesToFalse) {
    log_t log;
    holdfast::exit_stack stack;
    stack.push(logging_exit(log, "suppressor", true));
    stack.push(throwing_exit(log, "thrower"));
    EXPECT_FALSE(stack.close());
}

TEST(ExitStack, AllExitsRunWhenSeveralThrowAndTheLastRaisedPropagates) {
    log_t log;
    holdfast::exit_stack stack;
    stack.push(throwing_exit(log, "first registered"));
    stack.push(throwing_exit(log, "second registered"));
    stack.push(throwing_exit(log, "third registered"));
    try {
        stack.close();
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "first registered");
    }
    EXPECT_EQ(log, (log_t{"third registered:none", "second registered:third registered",
                          "first registered:second registered"}));
}

TEST(ExitStack, SuppressionThenNewExceptionRaisesTheNewOne) {
    log_t log;
    holdfast::exit_stack stack;
    stack.push(throwing_exit(log, "thrower"));
    stack.push(logging_exit(log, "suppressor", true));
    EXPECT_THROW(stack.close(std::make_exception_ptr(std::runtime_error("original"))),
                 std::runtime_error);
    EXPECT_EQ(log, (log_t{"suppressor:original", "thrower:none"}));
}

TEST(ExitStack, ExitsRunInsideTheHandlerSoThrowWithNestedChains) {
    holdfast::exit_stack stack;
    stack.push([](std::exception_ptr e) {
        EXPECT_EQ(std::current_exception(), e);
        std::throw_with_nested(std::logic_error("cleanup failed"));
    });
    try {
        stack.close(std::make_exception_ptr(std::runtime_error("original")));
        FAIL();
    } catch (const std::logic_error& outer) {
        try {
            std::rethrow_if_nested(outer);
            FAIL() << "not nested";
        } catch (const std::runtime_error& inner) {
            EXPECT_STREQ(inner.what(), "original");
        }
    }
}

TEST(ExitStack, CloseIsIdempotent) {
    int calls = 0;
    holdfast::exit_stack stack;
    stack.callback([&] { ++calls; });
    EXPECT_FALSE(stack.close());
    EXPECT_FALSE(stack.close());
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(stack.empty());
}

TEST(ExitStack, PopAllTransfersEveryExitAndLeavesTheSourceEmpty) {
    log_t log;
    holdfast::exit_stack outer;
    {
        holdfast::exit_stack stack;
        for (int i = 0; i < 12; ++i)
            stack.callback([&log, i] { log.push_back(std::to_string(i)); });
        holdfast::exit_stack moved = stack.pop_all();
        EXPECT_TRUE(stack.empty());
        EXPECT_EQ(moved.size(), 12U);
        outer.push(moved);  // hand the moved stack's exit to the outer one (Python idiom)
        stack.close();
        EXPECT_TRUE(log.empty()) << "the source ran nothing";
        log.push_back("source closed");
        outer.close();
    }
    ASSERT_EQ(log.size(), 13U);
    EXPECT_EQ(log[1], "11");
    EXPECT_EQ(log[12], "0");
}

TEST(ExitStack, PopAllOfInlineEntriesKeepsThemCallable) {
    int calls = 0;
    holdfast::exit_stack stack;
    stack.callback([&] { ++calls; });
    holdfast::exit_stack moved = stack.pop_all();
    stack.close();
    EXPECT_EQ(calls, 0);
    moved.close();
    EXPECT_EQ(calls, 1);
}

TEST(ExitStack, ConstructorIdiomReleasesPartialSetupOnFailure) {
    log_t log;
    auto setup = [&](bool fail_second) {
        holdfast::exit_stack stack;
        stack.enter_context(logging_manager{&log, "a"});
        stack.enter_context(logging_manager{&log, "b", fail_second});
        return stack.pop_all();
    };
    EXPECT_THROW((void)setup(true), std::runtime_error);
    EXPECT_EQ(log, (log_t{"enter a", "enter b",
                          "exit a:scope left by an exception (during stack unwinding)"}))
        << "a was released, during unwinding";
    log.clear();
    {
        holdfast::exit_stack owned = setup(false);
        EXPECT_EQ(log, (log_t{"enter a", "enter b"}));
    }
    EXPECT_EQ(log, (log_t{"enter a", "enter b", "exit b:none", "exit a:none"}));
}

TEST(ExitStack, ExitsRegisteredDuringCloseAlsoRun) {
    log_t log;
    holdfast::exit_stack stack;
    stack.callback([&] {
        log.push_back("outer");
        stack.callback([&] { log.push_back("registered while closing"); });
    });
    stack.close();
    EXPECT_EQ(log, (log_t{"outer", "registered while closing"}));
}

TEST(ExitStack, TenThousandEntriesUnwindWithoutRecursion) {
    int calls = 0;
    holdfast::exit_stack stack;
    for (int i = 0; i < 10'000; ++i) {
        stack.push([&calls](std::exception_ptr e) {
            ++calls;
            if (e) throw std::runtime_error("again");
            return false;
        });
    }
    EXPECT_THROW(stack.close(std::make_exception_ptr(std::runtime_error("first"))),
                 std::runtime_error);
    EXPECT_EQ(calls, 10'000);
}

TEST(ExitStack, WithExitStackSuppressesLikePython) {
    log_t log;
    std::optional<int> r =
        holdfast::with(holdfast::exit_stack{}, [&](holdfast::exit_stack& s) -> int {
            s.push(logging_exit(log, "suppressor", true));
            throw std::runtime_error("body");
        });
    EXPECT_FALSE(r.has_value());
    EXPECT_EQ(log, (log_t{"suppressor:body"}));
}

TEST(ExitStack, WithExitStackRethrowsTheIdenticalBodyException) {
    std::exception_ptr thrown;
    try {
        (void)holdfast::with(holdfast::exit_stack{}, [&](holdfast::exit_stack& s) {
            s.callback([] {});
            try {
                throw std::runtime_error("body");
            } catch (...) {
                thrown = std::current_exception();
                throw;
            }
        });
        FAIL() << "the body's exception was lost";
    } catch (...) {
        EXPECT_EQ(std::current_exception(), thrown);
    }
}

TEST(ExitStack, DestroyedDuringUnwindingPassesUnwindingException) {
    log_t log;
    try {
        holdfast::exit_stack stack;
        stack.push(logging_exit(log, "rollback"));
        throw std::runtime_error("body");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(log, (log_t{"rollback:scope left by an exception (during stack unwinding)"}));
}

TEST(ExitStack, DestroyedNormallyPassesNoException) {
    log_t log;
    {
        holdfast::exit_stack stack;
        stack.push(logging_exit(log, "commit"));
    }
    EXPECT_EQ(log, (log_t{"commit:none"}));
}

TEST(ExitStack, DestructorNeverThrowsAndReportsToTheCleanupErrorHandler) {
    std::vector<std::string> reports;
    auto previous =
        holdfast::set_cleanup_error_handler([&](std::exception_ptr e, std::string_view where) {
            reports.push_back(describe(e) + " in " + std::string(where));
        });
    log_t log;
    {
        holdfast::exit_stack stack;
        stack.push(logging_exit(log, "runs anyway"));
        stack.push(throwing_exit(log, "broken"));
    }
    holdfast::set_cleanup_error_handler(previous);
    EXPECT_EQ(log, (log_t{"broken:none", "runs anyway:broken"}));
    EXPECT_EQ(reports, (std::vector<std::string>{"broken in holdfast::exit_stack destructor"}));
}

TEST(ExitStack, DestructorDuringUnwindingDoesNotTerminateWhenAnExitThrows) {
    std::vector<std::string> reports;
    auto previous = holdfast::set_cleanup_error_handler(
        [&](std::exception_ptr e, std::string_view) { reports.push_back(describe(e)); });
    log_t log;
    EXPECT_THROW(
        {
            holdfast::exit_stack stack;
            stack.push(throwing_exit(log, "broken"));
            throw std::out_of_range("body");
        },
        std::out_of_range);
    holdfast::set_cleanup_error_handler(previous);
    EXPECT_EQ(reports, (std::vector<std::string>{"broken"}));
}

TEST(ExitStack, SmallCallbacksAreStoredWithoutHeapAllocation) {
    int calls = 0;
    int* p = &calls;
    allocations = 0;
    counting = true;
    {
        holdfast::exit_stack stack;
        for (int i = 0; i < 8; ++i) stack.callback([p, i, q = p] { *p += i + (q == p); });
        stack.close();
    }
    counting = false;
    EXPECT_EQ(allocations.load(), 0);
    EXPECT_EQ(calls, 8 + 28);
}

TEST(ExitStack, LargeCallablesStillWork) {
    struct big {
        int* calls;
        char payload[256] = {};
        void operator()() const { ++*calls; }
    };
    int calls = 0;
    {
        holdfast::exit_stack stack;
        for (int i = 0; i < 20; ++i) stack.callback(big{&calls});
    }
    EXPECT_EQ(calls, 20);
}

TEST(ExitStack, MoveOnlyCallbackAndArguments) {
    auto value = std::make_unique<int>(3);
    int seen = 0;
    {
        holdfast::exit_stack stack;
        stack.callback([&seen](std::unique_ptr<int> p) { seen = *p; }, std::move(value));
    }
    EXPECT_EQ(seen, 3);
}

static_assert(!std::is_copy_constructible_v<holdfast::exit_stack>);
static_assert(std::is_nothrow_move_constructible_v<holdfast::exit_stack>);
static_assert(!std::is_move_assignable_v<holdfast::exit_stack>);
static_assert(holdfast::suppressing_context_manager<holdfast::exit_stack>);

}  // namespace
