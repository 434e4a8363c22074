#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <holdfast/core/context.hpp>
#include <holdfast/core/context_manager.hpp>
#include <holdfast/core/with.hpp>

// Behaviours of CPython's test_contextlib.py ContextManagerTestCase, ported to context<T>.
namespace {

using trace = std::vector<std::string>;

// A resource that records what happens to it.
struct resource {
    trace* log;
    int value = 42;
    void do_work() { log->push_back("work"); }
    void cleanup() { log->push_back("cleanup"); }
};

// Counts its destructions: proves "exactly once" for RAII objects in the coroutine frame.
struct destruction_counter {
    int* destroyed;
    explicit destruction_counter(int* count) : destroyed(count) {}
    destruction_counter(const destruction_counter&) = delete;
    destruction_counter& operator=(const destruction_counter&) = delete;
    ~destruction_counter() { ++*destroyed; }
};

// S1, literally: acquire, try { yield } finally { cleanup }.
holdfast::context<resource&> managed_resource(trace* log) {
    resource r{log};
    log->push_back("acquire");
    try {
        co_yield r;
    } catch (...) {
        r.cleanup();
        throw;
    }
    r.cleanup();
}

// ---- types ------------------------------------------------------------------------------

static_assert(holdfast::context_manager<holdfast::context<resource&>>);
static_assert(holdfast::suppressing_context_manager<holdfast::context<resource&>>);
static_assert(holdfast::suppressing_context_manager<holdfast::context<int>>);
static_assert(holdfast::suppressing_context_manager<holdfast::context<void>>);

static_assert(std::is_same_v<holdfast::enter_result_t<holdfast::context<resource&>>, resource&>);
static_assert(std::is_same_v<holdfast::enter_result_t<holdfast::context<int>>, int&>);
static_assert(
    std::is_same_v<holdfast::enter_result_t<holdfast::context<const resource&>>, const resource&>);
static_assert(std::is_same_v<holdfast::enter_result_t<holdfast::context<void>>, void>);

// exit returns bool, so with() over a context returns optional<R> (bool for a void body).
static_assert(
    std::is_same_v<holdfast::with_result_t<holdfast::context<resource&>, int (*)(resource&)>,
                   std::optional<int>>);
static_assert(std::is_same_v<holdfast::with_result_t<holdfast::context<void>, void (*)()>, bool>);

static_assert(!std::is_copy_constructible_v<holdfast::context<int>>);
static_assert(!std::is_copy_assignable_v<holdfast::context<int>>);
static_assert(std::is_nothrow_move_constructible_v<holdfast::context<int>>);
static_assert(std::is_nothrow_move_assignable_v<holdfast::context<int>>);

// ---- the normal path --------------------------------------------------------------------

TEST(Context, YieldedValueReachesTheBody) {
    trace log;
    std::optional<int> seen = holdfast::with(managed_resource(&log), [](resource& r) {
        r.do_work();
        return r.value;
    });
    EXPECT_EQ(seen, 42);
}

TEST(Context, CleanupRunsAfterANormalBody) {
    trace log;
    EXPECT_TRUE(holdfast::with(managed_resource(&log), [&](resource& r) {
        EXPECT_EQ(log, trace{"acquire"});
        r.do_work();
    }));
    EXPECT_EQ(log, (trace{"acquire", "work", "cleanup"}));
}

TEST(Context, NormalExitReturnsFalseAndTheBodyResultIsKept) {
    trace log;
    auto ctx = managed_resource(&log);
    ctx.enter();
    EXPECT_FALSE(ctx.exit(nullptr));
    EXPECT_EQ(holdfast::with(managed_resource(&log), [](resource&) { return 7; }), 7);
    EXPECT_TRUE(holdfast::with(managed_resource(&log), [](resource&) {}));
}

TEST(Context, CoroutineParametersAreCopiedIntoTheFrame) {
    // CPython's test_keywords: arguments reach the generator.
    auto greet = [](std::string name, int times) -> holdfast::context<std::string> {
        std::string greeting;
        for (int i = 0; i < times; ++i) greeting += "hello " + name + "; ";
        co_yield std::move(greeting);
    };
    std::optional<std::string> seen =
        holdfast::with(greet(std::string(40, 'x'), 2), [](std::string& s) { return s; });
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->size(), 2 * (6 + 40 + 2));
}

// ---- the body's exception inside the coroutine ------------------------------------------

holdfast::context<void> observe_body_exception(trace* log) {
    try {
        co_yield holdfast::yield_point;
    } catch (const std::out_of_range& e) {
        log->push_back(std::string("caught out_of_range: ") + e.what());
        throw;
    }
}

TEST(Context, BodyExceptionIsRethrownAtTheYieldInsideTheCoroutine) {
    trace log;
    EXPECT_THROW((void)holdfast::with(observe_body_exception(&log),
                                      [] { throw std::out_of_range("index 7"); }),
                 std::out_of_range);
    EXPECT_EQ(log, trace{"caught out_of_range: index 7"});
}

TEST(Context, CleanupRunsAndTheExceptionPropagatesWhenTheBodyThrows) {
    // CPython's test_contextmanager_finally.
    trace log;
    EXPECT_THROW((void)holdfast::with(managed_resource(&log),
                                      [](resource& r) {
                                          r.do_work();
                                          throw std::runtime_error("boom");
                                      }),
                 std::runtime_error);
    EXPECT_EQ(log, (trace{"acquire", "work", "cleanup"}));
}

holdfast::context<resource&> swallow_errors(trace* log) {
    resource r{log};
    try {
        co_yield r;
    } catch (const std::runtime_error& e) {
        log->push_back(std::string("swallowed: ") + e.what());
    }
    r.cleanup();
}

TEST(Context, CoroutineThatSwallowsTheExceptionSuppressesIt) {
    // CPython's test_contextmanager_except.
    trace log;
    std::optional<int> result = holdfast::with(
        swallow_errors(&log), [](resource&) -> int { throw std::runtime_error("transient"); });
    EXPECT_FALSE(result.has_value());
    EXPECT_EQ(log, (trace{"swallowed: transient", "cleanup"}));

    log.clear();
    bool completed =
        holdfast::with(swallow_errors(&log), [](resource&) { throw std::runtime_error("again"); });
    EXPECT_FALSE(completed);
    EXPECT_EQ(log, (trace{"swallowed: again", "cleanup"}));
}

TEST(Context, ExitReturnsTrueWhenTheCoroutineSuppresses) {
    trace log;
    auto ctx = swallow_errors(&log);
    ctx.enter();
    EXPECT_TRUE(ctx.exit(std::make_exception_ptr(std::runtime_error("x"))));
}

TEST(Context, ExceptionTheCoroutineDoesNotCatchMakesExitReturnFalseWithoutThrowing) {
    // CPython's test_contextmanager_no_reraise: __exit__ returns False, it does not raise.
    trace log;
    auto ctx = swallow_errors(&log);  // catches runtime_error only
    ctx.enter();
    std::exception_ptr e = std::make_exception_ptr(std::logic_error("not mine"));
    bool suppressed = true;
    EXPECT_NO_THROW(suppressed = ctx.exit(e));
    EXPECT_FALSE(suppressed);
    EXPECT_TRUE(log.empty());  // no cleanup: this coroutine only cleans up on its own terms
}

TEST(Context, RethrownExceptionIsTheIdenticalObject) {
    trace log;
    const void* thrown_address = nullptr;
    std::exception_ptr thrown;
    try {
        (void)holdfast::with(managed_resource(&log), [&](resource&) {
            try {
                throw std::runtime_error("original");
            } catch (const std::runtime_error& e) {
                thrown_address = &e;
                thrown = std::current_exception();
                throw;
            }
        });
        FAIL() << "with() did not rethrow";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(&e, thrown_address);
        EXPECT_EQ(std::current_exception(), thrown);
    }
    EXPECT_EQ(log, (trace{"acquire", "cleanup"}));
}

holdfast::context<void> replace_with_domain_error() {
    try {
        co_yield holdfast::yield_point;
    } catch (const std::runtime_error&) {
        throw std::domain_error("replacement");
    }
}

TEST(Context, DifferentExceptionFromTheCoroutineReplacesTheBodyException) {
    try {
        (void)holdfast::with(replace_with_domain_error(),
                             [] { throw std::runtime_error("original"); });
        FAIL() << "with() did not throw";
    } catch (const std::domain_error& e) {
        EXPECT_STREQ(e.what(), "replacement");
    }
}

holdfast::context<void> raise_logic_error_on_failure() {
    try {
        co_yield holdfast::yield_point;
    } catch (...) {
        throw std::logic_error("raised by the coroutine itself");
    }
}

TEST(Context, LogicErrorRaisedByTheCoroutineIsNotMistakenForAProtocolError) {
    // CPython's test_contextmanager_wrap_runtimeerror: the coroutine's own error propagates
    // unchanged, not wrapped or reinterpreted.
    try {
        (void)holdfast::with(raise_logic_error_on_failure(),
                             [] { throw std::runtime_error("body"); });
        FAIL() << "with() did not throw";
    } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "raised by the coroutine itself");
        EXPECT_EQ(dynamic_cast<const std::nested_exception*>(&e), nullptr);
    }
}

holdfast::context<void> wrap_with_nested() {
    try {
        co_yield holdfast::yield_point;
    } catch (...) {
        std::throw_with_nested(std::runtime_error("while holding the lock"));
    }
}

TEST(Context, ThrowWithNestedInTheCoroutineChainsTheBodyException) {
    std::exception_ptr original;
    try {
        (void)holdfast::with(wrap_with_nested(), [&] {
            try {
                throw std::out_of_range("key 'id'");
            } catch (...) {
                original = std::current_exception();
                throw;
            }
        });
        FAIL() << "with() did not throw";
    } catch (const std::runtime_error& outer) {
        EXPECT_STREQ(outer.what(), "while holding the lock");
        try {
            std::rethrow_if_nested(outer);
            FAIL() << "no nested exception";
        } catch (const std::out_of_range& inner) {
            EXPECT_STREQ(inner.what(), "key 'id'");
            EXPECT_EQ(std::current_exception(), original);
        }
    }
}

holdfast::context<void> fail_during_cleanup(trace* log) {
    co_yield holdfast::yield_point;
    log->push_back("cleanup");
    throw std::runtime_error("cleanup failed");
}

TEST(Context, ExceptionFromCleanupAfterANormalBodyPropagatesFromExit) {
    trace log;
    bool body_ran = false;
    EXPECT_THROW((void)holdfast::with(fail_during_cleanup(&log), [&] { body_ran = true; }),
                 std::runtime_error);
    EXPECT_TRUE(body_ran);
    EXPECT_EQ(log, trace{"cleanup"});
}

TEST(Context, ExitDoesNotKeepTheBodyExceptionAlive) {
    // CPython's test_nokeepref: after the with statement, nothing still refers to the error.
    struct payload_error : std::runtime_error {
        std::shared_ptr<int> payload;
        explicit payload_error(std::shared_ptr<int> p)
            : std::runtime_error("payload"), payload(std::move(p)) {}
    };
    trace log;
    std::weak_ptr<int> watched;
    auto ctx = managed_resource(&log);
    try {
        (void)holdfast::with(ctx, [&](resource&) {
            auto payload = std::make_shared<int>(1);
            watched = payload;
            throw payload_error(std::move(payload));
        });
    } catch (const payload_error&) {
        EXPECT_FALSE(watched.expired());
    }
    EXPECT_TRUE(watched.expired());
}

// ---- protocol errors --------------------------------------------------------------------

holdfast::context<int> never_yields(trace* log) {
    log->push_back("ran");
    co_return;
}

TEST(Context, FinishingWithoutYieldingThrowsDidNotYield) {
    // CPython's test_contextmanager_trap_no_yield.
    trace log;
    bool body_ran = false;
    try {
        (void)holdfast::with(never_yields(&log), [&](int&) { body_ran = true; });
        FAIL() << "with() did not throw";
    } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "context did not yield");
    }
    EXPECT_FALSE(body_ran);
    EXPECT_EQ(log, trace{"ran"});
}

holdfast::context<int> yields_twice(int* destroyed, trace* log) {
    destruction_counter guard(destroyed);
    try {
        co_yield 1;
    } catch (...) {
        log->push_back("caught");
    }
    co_yield 2;
    log->push_back("after second yield");  // never runs
}

TEST(Context, YieldingAgainAfterANormalBodyThrowsDidNotStop) {
    // CPython's test_contextmanager_trap_second_yield.
    int destroyed = 0;
    trace log;
    try {
        (void)holdfast::with(yields_twice(&destroyed, &log), [](int&) {});
        FAIL() << "with() did not throw";
    } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "context did not stop");
        EXPECT_EQ(dynamic_cast<const std::nested_exception*>(&e), nullptr);
    }
    EXPECT_EQ(destroyed, 1);  // the frame is destroyed at once: its locals are cleaned up
    EXPECT_TRUE(log.empty());
}

TEST(Context, YieldingAgainAfterTheBodyExceptionThrowsDidNotStopWithTheExceptionNested) {
    // CPython's test_contextmanager_trap_yield_after_throw.
    int destroyed = 0;
    trace log;
    try {
        (void)holdfast::with(yields_twice(&destroyed, &log),
                             [](int&) { throw std::runtime_error("body failed"); });
        FAIL() << "with() did not throw";
    } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "context did not stop");
        try {
            std::rethrow_if_nested(e);
            FAIL() << "the body's exception is not nested";
        } catch (const std::runtime_error& inner) {
            EXPECT_STREQ(inner.what(), "body failed");
        }
    }
    EXPECT_EQ(destroyed, 1);
    EXPECT_EQ(log, trace{"caught"});
}

holdfast::context<resource&> fails_before_yield(trace* log) {
    resource r{log};
    log->push_back("acquire");
    if (log) throw std::runtime_error("cannot acquire");
    try {
        co_yield r;
    } catch (...) {
        log->push_back("catch after yield");
        throw;
    }
    r.cleanup();
}

TEST(Context, ExceptionBeforeTheYieldPropagatesFromEnterAndExitIsNotCalled) {
    trace log;
    bool body_ran = false;
    try {
        (void)holdfast::with(fails_before_yield(&log), [&](resource&) { body_ran = true; });
        FAIL() << "with() did not throw";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cannot acquire");
    }
    EXPECT_FALSE(body_ran);
    EXPECT_EQ(log, trace{"acquire"});

    auto ctx = fails_before_yield(&log);
    EXPECT_THROW(ctx.enter(), std::runtime_error);
    EXPECT_THROW(ctx.exit(nullptr), std::logic_error);  // nothing to exit: enter failed
}

TEST(Context, SecondEnterThrowsLogicError) {
    trace log;
    auto ctx = managed_resource(&log);
    ctx.enter();
    EXPECT_THROW(ctx.enter(), std::logic_error);
    EXPECT_FALSE(ctx.exit(nullptr));
    EXPECT_THROW(ctx.enter(), std::logic_error);
    EXPECT_EQ(log, (trace{"acquire", "cleanup"}));
}

TEST(Context, ExitWithoutEnterOrTwiceThrowsLogicError) {
    trace log;
    auto ctx = managed_resource(&log);
    EXPECT_THROW(ctx.exit(nullptr), std::logic_error);
    ctx.enter();
    EXPECT_FALSE(ctx.exit(nullptr));
    EXPECT_THROW(ctx.exit(nullptr), std::logic_error);
    EXPECT_EQ(log, (trace{"acquire", "cleanup"}));
}

// ---- exactly-once cleanup of RAII objects in the coroutine ------------------------------

holdfast::context<int&> guarded(int* destroyed, int* value) {
    destruction_counter guard(destroyed);
    co_yield *value;
}

TEST(Context, RaiiObjectInTheCoroutineRunsExactlyOnceOnSuccess) {
    int destroyed = 0;
    int value = 1;
    EXPECT_TRUE(
        holdfast::with(guarded(&destroyed, &value), [&](int&) { EXPECT_EQ(destroyed, 0); }));
    EXPECT_EQ(destroyed, 1);
}

TEST(Context, RaiiObjectInTheCoroutineRunsExactlyOnceOnFailure) {
    int destroyed = 0;
    int value = 1;
    EXPECT_THROW((void)holdfast::with(guarded(&destroyed, &value),
                                      [](int&) { throw std::runtime_error("body failed"); }),
                 std::runtime_error);
    EXPECT_EQ(destroyed, 1);
}

holdfast::context<void> guarded_by_parameter(
    [[maybe_unused]] std::unique_ptr<destruction_counter> owned) {
    co_yield holdfast::yield_point;
}

TEST(Context, ParametersAreDestroyedWhenExitReturnsNotWhenTheContextDies) {
    int destroyed = 0;
    auto ctx = guarded_by_parameter(std::make_unique<destruction_counter>(&destroyed));
    ctx.enter();
    EXPECT_EQ(destroyed, 0);
    EXPECT_FALSE(ctx.exit(nullptr));
    EXPECT_EQ(destroyed, 1);
}

holdfast::context<void> destroyed_while_suspended(int* destroyed, trace* log) {
    destruction_counter guard(destroyed);
    try {
        co_yield holdfast::yield_point;
    } catch (...) {
        log->push_back("catch");
        throw;
    }
    log->push_back("after yield");
}

TEST(Context, DestroyingAnEnteredContextRunsLocalDestructorsButNotCatchBlocks) {
    int destroyed = 0;
    trace log;
    {
        auto ctx = destroyed_while_suspended(&destroyed, &log);
        ctx.enter();
        EXPECT_EQ(destroyed, 0);
    }
    EXPECT_EQ(destroyed, 1);
    EXPECT_TRUE(log.empty());
}

TEST(Context, DestroyingAContextThatWasNeverEnteredRunsNothingButParameterDestructors) {
    int destroyed = 0;
    trace log;
    { auto ctx = destroyed_while_suspended(&destroyed, &log); }
    EXPECT_EQ(destroyed, 0);
    { auto ctx = guarded_by_parameter(std::make_unique<destruction_counter>(&destroyed)); }
    EXPECT_EQ(destroyed, 1);
}

// ---- what enter() returns ---------------------------------------------------------------

holdfast::context<resource&> yield_member(resource* owner) {
    co_yield *owner;
}

TEST(Context, ReferenceContextHandsTheBodyTheCoroutinesObject) {
    trace log;
    resource owner{&log};
    EXPECT_TRUE(holdfast::with(yield_member(&owner), [&](resource& r) {
        EXPECT_EQ(&r, &owner);
        r.value = 7;
    }));
    EXPECT_EQ(owner.value, 7);
}

TEST(Context, ReferenceContextSeesTheBodysChangesAfterTheYield) {
    auto check = [](int* seen_after) -> holdfast::context<int&> {
        int local = 1;
        co_yield local;
        *seen_after = local;
    };
    int seen_after = 0;
    EXPECT_TRUE(holdfast::with(check(&seen_after), [](int& v) { v = 99; }));
    EXPECT_EQ(seen_after, 99);
}

// Counts live instances, to see when the frame's copy of a yielded value dies.
struct counted {
    static inline int live = 0;
    int value;
    explicit counted(int v) : value(v) { ++live; }
    counted(const counted& other) : value(other.value) { ++live; }
    counted(counted&& other) noexcept : value(other.value) { ++live; }
    counted& operator=(const counted&) = default;
    ~counted() { --live; }
};

holdfast::context<counted> yield_copy(int* seen_after, int* live_after) {
    counted local(5);
    co_yield local;  // copied into the frame
    *seen_after = local.value;
    *live_after = counted::live;
}

TEST(Context, ValueContextGivesTheBodyItsOwnCopyThatLivesUntilExit) {
    int seen_after = 0;
    int live_after = -1;
    counted::live = 0;
    EXPECT_TRUE(holdfast::with(yield_copy(&seen_after, &live_after), [](counted& c) {
        EXPECT_EQ(c.value, 5);
        EXPECT_EQ(counted::live, 2);  // the coroutine's local and the yielded copy
        c.value = 6;
    }));
    EXPECT_EQ(seen_after, 5);  // the body changed the copy, not the coroutine's local
    EXPECT_EQ(live_after, 1);  // the copy died when the coroutine resumed
    EXPECT_EQ(counted::live, 0);
}

holdfast::context<std::unique_ptr<int>> yield_move_only() {
    co_yield std::make_unique<int>(3);
}

TEST(Context, ValueContextAcceptsMoveOnlyValues) {
    std::optional<int> seen =
        holdfast::with(yield_move_only(), [](std::unique_ptr<int>& p) { return *p; });
    EXPECT_EQ(seen, 3);
}

TEST(Context, ValueContextReturnsAReferenceThatStaysValidUntilExit) {
    auto ctx = yield_move_only();
    std::unique_ptr<int>& p = ctx.enter();
    ASSERT_NE(p, nullptr);
    *p = 4;
    EXPECT_EQ(*p, 4);
    EXPECT_FALSE(ctx.exit(nullptr));
}

holdfast::context<void> timed_section(trace* log) {
    log->push_back("start");
    try {
        co_yield holdfast::yield_point;
    } catch (...) {
        log->push_back("failed");
        throw;
    }
    log->push_back("stop");
}

TEST(Context, VoidContextYieldsAYieldPointAndTheBodyTakesNoArgument) {
    trace log;
    bool completed = holdfast::with(timed_section(&log), [&] { log.push_back("body"); });
    EXPECT_TRUE(completed);
    EXPECT_EQ(log, (trace{"start", "body", "stop"}));

    log.clear();
    EXPECT_THROW((void)holdfast::with(timed_section(&log), [] { throw std::runtime_error("x"); }),
                 std::runtime_error);
    EXPECT_EQ(log, (trace{"start", "failed"}));
}

// ---- manual management (S13) and moves --------------------------------------------------

TEST(Context, EnterAndExitCanBeCalledByHand) {
    trace log;
    auto ctx = managed_resource(&log);
    resource& r = ctx.enter();
    r.do_work();
    EXPECT_FALSE(ctx.exit(nullptr));
    EXPECT_EQ(log, (trace{"acquire", "work", "cleanup"}));
}

TEST(Context, ManualManagementOnFailurePassesTheExceptionToExit) {
    trace log;
    auto ctx = managed_resource(&log);
    resource& r = ctx.enter();
    try {
        try {
            r.do_work();
            throw std::runtime_error("work failed");
        } catch (...) {
            if (!ctx.exit(std::current_exception())) throw;
        }
        FAIL() << "the exception was suppressed";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "work failed");
    }
    EXPECT_EQ(log, (trace{"acquire", "work", "cleanup"}));
}

TEST(Context, ManualExitOutsideAHandlerStillSeesTheException) {
    trace log;
    auto ctx = observe_body_exception(&log);
    ctx.enter();
    std::exception_ptr e = std::make_exception_ptr(std::out_of_range("manual"));
    EXPECT_FALSE(ctx.exit(e));
    EXPECT_EQ(log, trace{"caught out_of_range: manual"});
}

TEST(Context, MovingAnUnenteredContextTransfersTheCoroutine) {
    trace log;
    auto first = managed_resource(&log);
    auto second = std::move(first);
    EXPECT_THROW(first.enter(), std::logic_error);  // NOLINT(bugprone-use-after-move)
    second.enter();
    EXPECT_FALSE(second.exit(nullptr));
    EXPECT_EQ(log, (trace{"acquire", "cleanup"}));
}

TEST(Context, MovingAnEnteredContextTransfersTheSuspendedCoroutine) {
    trace log;
    auto first = managed_resource(&log);
    resource& r = first.enter();
    holdfast::context<resource&> second = std::move(first);
    r.do_work();
    EXPECT_THROW(first.exit(nullptr), std::logic_error);  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(second.exit(nullptr));
    EXPECT_EQ(log, (trace{"acquire", "work", "cleanup"}));
}

TEST(Context, MoveAssignmentDestroysTheTargetsFrameFirst) {
    int destroyed = 0;
    trace log;
    auto target = destroyed_while_suspended(&destroyed, &log);
    target.enter();
    target = destroyed_while_suspended(&destroyed, &log);
    EXPECT_EQ(destroyed, 1);
    target.enter();
    EXPECT_FALSE(target.exit(nullptr));
    EXPECT_EQ(destroyed, 2);
    EXPECT_EQ(log, trace{"after yield"});
}

}  // namespace
