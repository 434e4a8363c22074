#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <gtest/gtest.h>

#include <holdfast/core/scope_guard.hpp>

namespace {

// ---- the callable kinds every guard case runs over ------------------------------------------
// Each kind's make(calls) returns an exit function that increments `calls` when called.

struct counting_functor {
    int* calls = nullptr;
    void operator()() const { ++*calls; }
};

struct lambda_kind {
    static auto make(int& calls) {
        return [&calls] { ++calls; };
    }
};

// Move-only: the count lives behind a unique_ptr, so a use-after-move or a double call through a
// moved-from functor is a null dereference that the sanitizers report.
struct move_only_functor {
    std::unique_ptr<int*> calls;
    void operator()() const { ++**calls; }
};
struct move_only_functor_kind {
    static move_only_functor make(int& calls) { return {std::make_unique<int*>(&calls)}; }
};

struct function_pointer_kind {
    static inline int* calls_ = nullptr;
    static void bump() { ++*calls_; }
    static auto make(int& calls) {
        calls_ = &calls;
        return &bump;
    }
};

struct function_reference_kind {
    static auto make(int& calls) -> void (&)() {
        function_pointer_kind::calls_ = &calls;
        return function_pointer_kind::bump;
    }
};

struct std_function_kind {
    static std::function<void()> make(int& calls) {
        return [&calls] { ++calls; };
    }
};

// The guard refers to a function object that outlives it: EF = std::reference_wrapper<F>.
struct reference_wrapper_kind {
    static inline counting_functor target;
    static auto make(int& calls) {
        target.calls = &calls;
        return std::ref(target);
    }
};

// The guard refers to a function object that outlives it: EF = F&.
struct lvalue_reference_kind {
    static inline counting_functor target;
    static counting_functor& make(int& calls) {
        target.calls = &calls;
        return target;
    }
};

using callable_kinds = ::testing::Types<lambda_kind, move_only_functor_kind, function_pointer_kind,
                                        function_reference_kind, std_function_kind,
                                        reference_wrapper_kind, lvalue_reference_kind>;

template <class Kind>
using exit_function_of = decltype(Kind::make(std::declval<int&>()));

template <template <class> class Guard, class Kind>
struct guard_test : ::testing::Test {
    using guard_type = Guard<exit_function_of<Kind>>;
    int calls = 0;
    guard_type make_guard() { return guard_type(Kind::make(calls)); }
};
template <class Kind>
struct ScopeExit : guard_test<holdfast::scope_exit, Kind> {};
template <class Kind>
struct ScopeFail : guard_test<holdfast::scope_fail, Kind> {};
template <class Kind>
struct ScopeSuccess : guard_test<holdfast::scope_success, Kind> {};
TYPED_TEST_SUITE(ScopeExit, callable_kinds);
TYPED_TEST_SUITE(ScopeFail, callable_kinds);
TYPED_TEST_SUITE(ScopeSuccess, callable_kinds);

struct scope_error : std::runtime_error {
    scope_error() : std::runtime_error("scope left by an exception") {}
};

// ---- scope_exit ----------------------------------------------------------------------------

TYPED_TEST(ScopeExit, RunsOnceOnNormalExit) {
    {
        auto guard = this->make_guard();
        EXPECT_EQ(this->calls, 0);
    }
    EXPECT_EQ(this->calls, 1);
}

TYPED_TEST(ScopeExit, RunsOnceWhenLeftByException) {
    try {
        auto guard = this->make_guard();
        throw scope_error{};
    } catch (const scope_error&) {
        EXPECT_EQ(this->calls, 1);
    }
    EXPECT_EQ(this->calls, 1);
}

TYPED_TEST(ScopeExit, ReleaseDisarms) {
    {
        auto guard = this->make_guard();
        guard.release();
    }
    EXPECT_EQ(this->calls, 0);
}

TYPED_TEST(ScopeExit, MovedFromGuardDoesNotRunAndMovedToRunsOnce) {
    {
        auto source = this->make_guard();
        { auto target = std::move(source); }
        EXPECT_EQ(this->calls, 1);
    }
    EXPECT_EQ(this->calls, 1);
}

TYPED_TEST(ScopeExit, MovingAReleasedGuardGivesAReleasedGuard) {
    {
        auto source = this->make_guard();
        source.release();
        auto target = std::move(source);
    }
    EXPECT_EQ(this->calls, 0);
}

// ---- scope_fail ----------------------------------------------------------------------------

TYPED_TEST(ScopeFail, DoesNotRunOnNormalExit) {
    { auto guard = this->make_guard(); }
    EXPECT_EQ(this->calls, 0);
}

TYPED_TEST(ScopeFail, RunsOnlyWhenLeftByException) {
    try {
        auto guard = this->make_guard();
        throw scope_error{};
    } catch (const scope_error&) {
    }
    EXPECT_EQ(this->calls, 1);
}

TYPED_TEST(ScopeFail, ReleaseDisarms) {
    try {
        auto guard = this->make_guard();
        guard.release();
        throw scope_error{};
    } catch (const scope_error&) {
    }
    EXPECT_EQ(this->calls, 0);
}

TYPED_TEST(ScopeFail, MovedFromGuardDoesNotRunAndMovedToRunsOnce) {
    try {
        auto source = this->make_guard();
        auto target = std::move(source);
        throw scope_error{};
    } catch (const scope_error&) {
    }
    EXPECT_EQ(this->calls, 1);
}

// ---- scope_success -------------------------------------------------------------------------

TYPED_TEST(ScopeSuccess, RunsOnceOnNormalExit) {
    { auto guard = this->make_guard(); }
    EXPECT_EQ(this->calls, 1);
}

TYPED_TEST(ScopeSuccess, DoesNotRunWhenLeftByException) {
    try {
        auto guard = this->make_guard();
        throw scope_error{};
    } catch (const scope_error&) {
    }
    EXPECT_EQ(this->calls, 0);
}

TYPED_TEST(ScopeSuccess, ReleaseDisarms) {
    {
        auto guard = this->make_guard();
        guard.release();
    }
    EXPECT_EQ(this->calls, 0);
}

TYPED_TEST(ScopeSuccess, MovedFromGuardDoesNotRunAndMovedToRunsOnce) {
    {
        auto source = this->make_guard();
        auto target = std::move(source);
    }
    EXPECT_EQ(this->calls, 1);
}

// ---- scope_fail and scope_success judge only the exceptions thrown after them --------------

TEST(ScopeSuccess, CreatedInCatchHandlerJudgesOnlyHowTheHandlerIsLeft) {
    int successes = 0;
    int failures = 0;
    try {
        throw scope_error{};
    } catch (const scope_error&) {
        holdfast::scope_success on_success{[&] { ++successes; }};
        holdfast::scope_fail on_fail{[&] { ++failures; }};
    }
    EXPECT_EQ(successes, 1);
    EXPECT_EQ(failures, 0);

    try {
        try {
            throw scope_error{};
        } catch (const scope_error&) {
            holdfast::scope_success on_success{[&] { ++successes; }};
            holdfast::scope_fail on_fail{[&] { ++failures; }};
            throw;
        }
    } catch (const scope_error&) {
    }
    EXPECT_EQ(successes, 1);
    EXPECT_EQ(failures, 1);
}

// Its destructor runs during stack unwinding, when std::uncaught_exceptions() is already 1.
struct cleanup_during_unwinding {
    int* successes;
    int* failures;
    ~cleanup_during_unwinding() {
        {
            holdfast::scope_success on_success{[this] { ++*successes; }};
            holdfast::scope_fail on_fail{[this] { ++*failures; }};
        }
        try {
            holdfast::scope_success on_success{[this] { ++*successes; }};
            holdfast::scope_fail on_fail{[this] { ++*failures; }};
            throw scope_error{};
        } catch (const scope_error&) {
        }
    }
};

TEST(ScopeSuccess, CreatedDuringUnwindingJudgesOnlyItsOwnScope) {
    int successes = 0;
    int failures = 0;
    try {
        cleanup_during_unwinding unwound{&successes, &failures};
        throw std::runtime_error("outer");
    } catch (const std::runtime_error&) {
    }
    // First block: left normally although an exception was in flight. Second: left by its own.
    EXPECT_EQ(successes, 1);
    EXPECT_EQ(failures, 1);
}

TEST(ScopeSuccess, ExitFunctionThatThrowsPropagates) {
    auto throw_on_exit = [] { throw scope_error{}; };
    static_assert(
        !std::is_nothrow_destructible_v<holdfast::scope_success<decltype(throw_on_exit)>>);
    EXPECT_THROW({ holdfast::scope_success guard{throw_on_exit}; }, scope_error);
}

TEST(ScopeSuccess, DestructorIsNoexceptWhenTheExitFunctionIs) {
    auto quiet = []() noexcept {};
    auto loud = [] {};
    static_assert(std::is_nothrow_destructible_v<holdfast::scope_success<decltype(quiet)>>);
    static_assert(!std::is_nothrow_destructible_v<holdfast::scope_success<decltype(loud)>>);
    static_assert(std::is_nothrow_destructible_v<holdfast::scope_exit<decltype(loud)>>);
    static_assert(std::is_nothrow_destructible_v<holdfast::scope_fail<decltype(loud)>>);
}

// ---- taking the exit function over ---------------------------------------------------------

struct copy_error : std::runtime_error {
    copy_error() : std::runtime_error("copy failed") {}
};

// Copying throws while *copy_throws is true. Moving copies (no move constructor is declared), so
// it may throw too and a guard must copy such a function rather than move it.
struct throwing_copy_functor {
    int* calls;
    const bool* copy_throws;
    throwing_copy_functor(int* c, const bool* t) : calls(c), copy_throws(t) {}
    throwing_copy_functor(const throwing_copy_functor& other)
        : calls(other.calls), copy_throws(other.copy_throws) {
        if (*copy_throws) throw copy_error{};
    }
    throwing_copy_functor& operator=(const throwing_copy_functor&) = delete;
    ~throwing_copy_functor() = default;
    void operator()() const { ++*calls; }
};

template <template <class> class Guard>
int calls_when_taking_the_function_over_throws(bool pass_rvalue) {
    int calls = 0;
    const bool copy_throws = true;
    throwing_copy_functor f{&calls, &copy_throws};
    try {
        if (pass_rvalue) {
            // Moving may throw, so the guard copies instead and `f` survives the failure.
            Guard<throwing_copy_functor> guard{std::move(f)};
        } else {
            Guard<throwing_copy_functor> guard{f};
        }
        ADD_FAILURE() << "the copy was expected to throw";
    } catch (const copy_error&) {
    }
    return calls;
}

TEST(ScopeExit, CallsTheFunctionWhenCopyingItThrows) {
    EXPECT_EQ(calls_when_taking_the_function_over_throws<holdfast::scope_exit>(false), 1);
    EXPECT_EQ(calls_when_taking_the_function_over_throws<holdfast::scope_exit>(true), 1);
}

TEST(ScopeFail, CallsTheFunctionWhenCopyingItThrows) {
    EXPECT_EQ(calls_when_taking_the_function_over_throws<holdfast::scope_fail>(false), 1);
    EXPECT_EQ(calls_when_taking_the_function_over_throws<holdfast::scope_fail>(true), 1);
}

TEST(ScopeSuccess, DoesNotCallTheFunctionWhenCopyingItThrows) {
    EXPECT_EQ(calls_when_taking_the_function_over_throws<holdfast::scope_success>(false), 0);
    EXPECT_EQ(calls_when_taking_the_function_over_throws<holdfast::scope_success>(true), 0);
}

TEST(ScopeExit, MoveThatThrowsLeavesTheSourceArmed) {
    int calls = 0;
    bool copy_throws = false;
    {
        holdfast::scope_exit source{throwing_copy_functor{&calls, &copy_throws}};
        copy_throws = true;
        EXPECT_THROW(holdfast::scope_exit target{std::move(source)}, copy_error);
        EXPECT_EQ(calls, 0);
        copy_throws = false;
    }
    EXPECT_EQ(calls, 1);
}

// ---- type properties -----------------------------------------------------------------------

using lambda = decltype(lambda_kind::make(std::declval<int&>()));

template <class Guard>
constexpr bool neither_copyable_nor_assignable =
    !std::is_copy_constructible_v<Guard> && !std::is_copy_assignable_v<Guard> &&
    !std::is_move_assignable_v<Guard>;

static_assert(neither_copyable_nor_assignable<holdfast::scope_exit<lambda>>);
static_assert(neither_copyable_nor_assignable<holdfast::scope_fail<lambda>>);
static_assert(neither_copyable_nor_assignable<holdfast::scope_success<lambda>>);
static_assert(neither_copyable_nor_assignable<holdfast::scope_exit<std::function<void()>>>);

static_assert(std::is_nothrow_move_constructible_v<holdfast::scope_exit<lambda>>);
static_assert(std::is_nothrow_move_constructible_v<holdfast::scope_fail<move_only_functor>>);
static_assert(std::is_nothrow_move_constructible_v<holdfast::scope_exit<counting_functor&>>);
// The traits count the destructor too (LWG 2116), so this needs an exit function that cannot throw.
static_assert(std::is_nothrow_move_constructible_v<holdfast::scope_success<void (*)() noexcept>>);
static_assert(std::is_move_constructible_v<holdfast::scope_exit<throwing_copy_functor>>);
static_assert(!std::is_nothrow_move_constructible_v<holdfast::scope_exit<throwing_copy_functor>>);

// Taking a copyable function over cannot throw unless copying it can.
static_assert(std::is_nothrow_constructible_v<holdfast::scope_exit<lambda>, lambda&>);
static_assert(!std::is_nothrow_constructible_v<holdfast::scope_exit<throwing_copy_functor>,
                                               throwing_copy_functor>);
// The constructor is explicit, and a guard is not callable, so not an exit function either.
static_assert(!std::is_convertible_v<lambda, holdfast::scope_exit<lambda>>);
static_assert(
    !std::is_constructible_v<holdfast::scope_exit<lambda>, holdfast::scope_exit<lambda>&>);

// Deduction guides decay, as for a by-value parameter.
static_assert(std::is_same_v<decltype(holdfast::scope_exit{function_pointer_kind::bump}),
                             holdfast::scope_exit<void (*)()>>);
static_assert(std::is_same_v<decltype(holdfast::scope_fail{std::declval<const lambda&>()}),
                             holdfast::scope_fail<lambda>>);

// scope_exit never consults std::uncaught_exceptions(), so it stores no count.
static_assert(sizeof(holdfast::scope_exit<void (*)()>) == sizeof(std::pair<void (*)(), bool>));

}  // namespace
