#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include <holdfast/core/with.hpp>

namespace {

// Records every call, and can be told to throw from enter or exit, or to suppress.
struct recording_manager {
    std::vector<std::string>* log;
    bool throw_on_enter = false;
    bool throw_on_exit = false;
    int value = 42;

    int& enter() {
        log->push_back("enter");
        if (throw_on_enter) throw std::runtime_error("enter failed");
        return value;
    }
    void exit(std::exception_ptr e) {
        log->push_back(e ? "exit(error)" : "exit(ok)");
        if (throw_on_exit) throw std::logic_error("exit failed");
    }
};

struct suppressing_manager {
    std::exception_ptr seen;
    bool suppress = true;
    void enter() {}
    bool exit(std::exception_ptr e) {
        seen = e;
        return suppress;
    }
};

struct value_manager {
    std::string enter() { return "resource"; }
    void exit(std::exception_ptr) {}
};

struct void_manager {
    int* exits;
    void enter() {}
    void exit(std::exception_ptr) { ++*exits; }
};

// The return-type rule: R for managers that cannot suppress, optional<R> / bool for those
// that can. The type tells the caller whether an error may have been swallowed.
static_assert(std::is_same_v<holdfast::with_result_t<recording_manager&, int (*)(int&)>, int>);
static_assert(std::is_same_v<holdfast::with_result_t<void_manager, void (*)()>, void>);
static_assert(
    std::is_same_v<holdfast::with_result_t<suppressing_manager, int (*)()>, std::optional<int>>);
static_assert(std::is_same_v<holdfast::with_result_t<suppressing_manager, void (*)()>, bool>);
static_assert(std::is_same_v<holdfast::with_result_t<suppressing_manager, int& (*)()>,
                             std::optional<std::reference_wrapper<int>>>);
static_assert(std::is_same_v<holdfast::with_result_t<recording_manager, int& (*)(int&)>, int&>);

static_assert(holdfast::context_manager<recording_manager>);
static_assert(!holdfast::suppressing_context_manager<recording_manager>);
static_assert(holdfast::suppressing_context_manager<suppressing_manager>);
static_assert(!holdfast::context_manager<int>);

TEST(With, EnterFailureDoesNotCallExitOrBody) {
    std::vector<std::string> log;
    bool body_ran = false;
    EXPECT_THROW(holdfast::with(recording_manager{&log, true}, [&](int&) { body_ran = true; }),
                 std::runtime_error);
    EXPECT_FALSE(body_ran);
    EXPECT_EQ(log, (std::vector<std::string>{"enter"}));
}

TEST(With, BodyExceptionIsRethrownAfterExit) {
    std::vector<std::string> log;
    try {
        holdfast::with(recording_manager{&log},
                       [](int&) { throw std::runtime_error("body failed"); });
        FAIL() << "the body's exception was lost";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "body failed");
    }
    EXPECT_EQ(log, (std::vector<std::string>{"enter", "exit(error)"}));
}

TEST(With, RethrowsTheIdenticalExceptionObject) {
    std::vector<std::string> log;
    std::exception_ptr inside;
    try {
        holdfast::with(recording_manager{&log}, [&](int&) {
            try {
                throw std::runtime_error("original");
            } catch (...) {
                inside = std::current_exception();
                throw;
            }
        });
    } catch (...) {
        EXPECT_EQ(std::current_exception(), inside);
    }
}

TEST(With, ExitExceptionReplacesBodyException) {
    std::vector<std::string> log;
    recording_manager cm{&log};
    cm.throw_on_exit = true;
    EXPECT_THROW(holdfast::with(cm, [](int&) { throw std::runtime_error("body"); }),
                 std::logic_error);
    EXPECT_EQ(log, (std::vector<std::string>{"enter", "exit(error)"}));
}

TEST(With, ExitExceptionAfterSuccessfulBodyPropagates) {
    std::vector<std::string> log;
    recording_manager cm{&log};
    cm.throw_on_exit = true;
    EXPECT_THROW(holdfast::with(cm, [](int& v) { return v; }), std::logic_error);
    EXPECT_EQ(log, (std::vector<std::string>{"enter", "exit(ok)"}));
}

TEST(With, ExitRunsInsideTheHandlerSoThrowWithNestedChainsTheBodyError) {
    struct chaining_manager {
        void enter() {}
        void exit(std::exception_ptr e) {
            EXPECT_EQ(std::current_exception(), e);
            if (e) std::throw_with_nested(std::logic_error("cleanup failed"));
        }
    };
    try {
        holdfast::with(chaining_manager{}, [] { throw std::runtime_error("body failed"); });
        FAIL();
    } catch (const std::logic_error& outer) {
        EXPECT_STREQ(outer.what(), "cleanup failed");
        try {
            std::rethrow_if_nested(outer);
            FAIL() << "the body's exception is not nested";
        } catch (const std::runtime_error& inner) {
            EXPECT_STREQ(inner.what(), "body failed");
        }
    }
}

TEST(With, ExitReceivesNullOnSuccessAndTheExceptionOnFailure) {
    suppressing_manager cm;
    cm.suppress = false;
    EXPECT_TRUE(holdfast::with(cm, [] {}));
    EXPECT_EQ(cm.seen, nullptr);

    EXPECT_THROW((void)holdfast::with(cm, [] { throw std::out_of_range("x"); }), std::out_of_range);
    ASSERT_NE(cm.seen, nullptr);
    EXPECT_THROW(std::rethrow_exception(cm.seen), std::out_of_range);
}

TEST(With, SuppressingExitReturnsEmptyOptional) {
    suppressing_manager cm;
    std::optional<int> result = holdfast::with(cm, []() -> int { throw std::runtime_error("x"); });
    EXPECT_FALSE(result.has_value());
    EXPECT_NE(cm.seen, nullptr);
}

TEST(With, SuppressingManagerReturnsValueWhenBodySucceeds) {
    suppressing_manager cm;
    EXPECT_EQ(holdfast::with(cm, [] { return 7; }), std::optional<int>(7));
}

TEST(With, VoidBodyUnderSuppressingManagerReportsCompletion) {
    suppressing_manager cm;
    EXPECT_TRUE(holdfast::with(cm, [] {}));
    EXPECT_FALSE(holdfast::with(cm, [] { throw 1; }));
}

TEST(With, ExitReturningFalseDoesNotSuppress) {
    suppressing_manager cm;
    cm.suppress = false;
    EXPECT_THROW((void)holdfast::with(cm, []() -> int { throw std::runtime_error("x"); }),
                 std::runtime_error);
}

TEST(With, BodyReceivesTheEnteredResourceByReference) {
    std::vector<std::string> log;
    recording_manager cm{&log};
    holdfast::with(cm, [&](int& value) {
        EXPECT_EQ(&value, &cm.value);
        value = 9;
    });
    EXPECT_EQ(cm.value, 9);
}

TEST(With, ReferenceResultIsReturnedAsReference) {
    std::vector<std::string> log;
    recording_manager cm{&log};
    int& r = holdfast::with(cm, [](int& value) -> int& { return value; });
    EXPECT_EQ(&r, &cm.value);
}

TEST(With, ValueReturnedByEnterLivesThroughTheBody) {
    std::string seen = holdfast::with(value_manager{}, [](std::string& s) { return s + "!"; });
    EXPECT_EQ(seen, "resource!");
}

TEST(With, TemporaryManagerIsUsedInPlaceWithoutMoving) {
    struct pinned {
        int* exits;
        explicit pinned(int* e) : exits(e) {}
        pinned(pinned&&) = delete;
        void enter() {}
        void exit(std::exception_ptr) { ++*exits; }
    };
    int exits = 0;
    holdfast::with(pinned{&exits}, [] {});
    EXPECT_EQ(exits, 1);
}

TEST(With, MoveOnlyResultIsReturned) {
    int exits = 0;
    auto p = holdfast::with(void_manager{&exits}, [] { return std::make_unique<int>(5); });
    EXPECT_EQ(*p, 5);
    EXPECT_EQ(exits, 1);
}

TEST(With, ExitRunsExactlyOnceOnEveryPath) {
    int exits = 0;
    holdfast::with(void_manager{&exits}, [] {});
    EXPECT_THROW(holdfast::with(void_manager{&exits}, [] { throw 1; }), int);
    EXPECT_EQ(exits, 2);
}

}  // namespace
