#include <algorithm>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <holdfast/core/generator.hpp>

namespace {

using holdfast::generator;

// ---- type properties ---------------------------------------------------------------------

static_assert(!std::is_copy_constructible_v<generator<int>>);
static_assert(!std::is_copy_assignable_v<generator<int>>);
static_assert(std::is_nothrow_move_constructible_v<generator<int>>);
static_assert(std::is_nothrow_move_assignable_v<generator<int>>);
static_assert(std::ranges::input_range<generator<int>>);
static_assert(!std::ranges::forward_range<generator<int>>);
static_assert(std::ranges::view<generator<int>>);
static_assert(std::input_iterator<generator<int>::iterator>);
static_assert(!std::copyable<generator<int>::iterator>);
static_assert(std::same_as<std::ranges::sentinel_t<generator<int>>, std::default_sentinel_t>);

static_assert(std::ranges::input_range<generator<std::string_view, std::string>>);
static_assert(std::ranges::input_range<generator<const std::string&>>);
static_assert(std::ranges::input_range<generator<std::unique_ptr<int>>>);

// *it is Y for a reference Y, Y&& for a value Y.
static_assert(std::same_as<std::ranges::range_reference_t<generator<const std::string&>>,
                           const std::string&>);
static_assert(std::same_as<std::ranges::range_reference_t<generator<std::string>>, std::string&&>);
static_assert(std::same_as<std::ranges::range_value_t<generator<const std::string&>>, std::string>);

// result(): a reference into the frame from an lvalue, a moved value from an rvalue.
static_assert(
    std::same_as<decltype(std::declval<generator<int, std::string>&>().result()), std::string&>);
static_assert(std::same_as<decltype(std::declval<const generator<int, std::string>&>().result()),
                           const std::string&>);
static_assert(
    std::same_as<decltype(std::declval<generator<int, std::string>&&>().result()), std::string>);
static_assert(std::same_as<decltype(std::declval<generator<int>&>().result()), void>);

// ---- helpers -----------------------------------------------------------------------------

generator<int, std::string> count_to(int n) {
    for (int i = 1; i <= n; ++i) co_yield i;
    co_return "counted to " + std::to_string(n);
}

std::vector<int> drain(generator<int, std::string>& gen) {
    std::vector<int> seen;
    for (int value : gen) seen.push_back(value);
    return seen;
}

// Counts how often the instances of this type are copied and destroyed.
struct tracked {
    static inline int copies = 0;
    static inline int destructions = 0;
    static void reset() { copies = destructions = 0; }

    std::string text;
    explicit tracked(std::string t) : text(std::move(t)) {}
    tracked(const tracked& other) : text(other.text) { ++copies; }
    tracked(tracked&& other) noexcept = default;
    tracked& operator=(const tracked&) = delete;
    tracked& operator=(tracked&&) = delete;
    ~tracked() { ++destructions; }
};

// ---- failure paths -----------------------------------------------------------------------

TEST(Generator, ResultBeforeExhaustionThrowsLogicError) {
    auto gen = count_to(2);
    EXPECT_THROW((void)gen.result(), std::logic_error);  // not started
    auto it = gen.begin();
    EXPECT_THROW((void)gen.result(), std::logic_error);  // suspended at the first yield
    ++it;
    EXPECT_THROW((void)gen.result(), std::logic_error);  // at the second (last) yield
    ++it;
    ASSERT_TRUE(it == gen.end());
    EXPECT_EQ(gen.result(), "counted to 2");
}

TEST(Generator, ResultBeforeExhaustionThrowsLogicErrorForVoidResult) {
    auto gen = []() -> generator<int> { co_yield 1; }();
    auto it = gen.begin();
    EXPECT_THROW(gen.result(), std::logic_error);
    ++it;
    EXPECT_NO_THROW(gen.result());
}

TEST(Generator, ExceptionMidStreamReachesConsumerAfterEarlierElements) {
    auto gen = []() -> generator<int, std::string> {
        co_yield 1;
        co_yield 2;
        throw std::runtime_error("connection reset");
        co_return "unreachable";
    }();
    std::vector<int> seen;
    try {
        for (int value : gen) seen.push_back(value);
        FAIL() << "the exception did not reach the consumer";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "connection reset");
    }
    EXPECT_EQ(seen, (std::vector<int>{1, 2}));
    EXPECT_TRUE(gen.exhausted());
}

TEST(Generator, ExceptionBeforeFirstElementIsThrownByBegin) {
    auto gen = []() -> generator<int> {
        throw std::runtime_error("cannot connect");
        co_return;
    }();
    EXPECT_THROW((void)gen.begin(), std::runtime_error);
    EXPECT_TRUE(gen.exhausted());
}

TEST(Generator, ExceptionIsThrownByTheIncrementThatResumedIt) {
    auto gen = []() -> generator<int> {
        co_yield 1;
        throw std::out_of_range("second");
    }();
    auto it = gen.begin();
    EXPECT_EQ(*it, 1);
    EXPECT_THROW(++it, std::out_of_range);
    EXPECT_TRUE(it == gen.end());
}

TEST(Generator, ResultAfterExceptionThrowsLogicErrorNotTheExceptionAgain) {
    auto gen = []() -> generator<int, int> {
        throw std::runtime_error("boom");
        co_return 1;
    }();
    EXPECT_THROW((void)gen.begin(), std::runtime_error);
    EXPECT_THROW((void)gen.result(), std::logic_error);
}

TEST(Generator, BeginTwiceThrowsLogicError) {
    auto gen = count_to(3);
    auto it = gen.begin();
    EXPECT_THROW((void)gen.begin(), std::logic_error);
    EXPECT_EQ(*it, 1);  // the first traversal is unaffected
}

TEST(Generator, MovedFromGeneratorRefusesBeginAndResult) {
    auto gen = count_to(1);
    auto other = std::move(gen);
    EXPECT_THROW((void)gen.begin(), std::logic_error);   // NOLINT(bugprone-use-after-move)
    EXPECT_THROW((void)gen.result(), std::logic_error);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(drain(other), std::vector<int>{1});
}

// ---- normal operation --------------------------------------------------------------------

TEST(Generator, YieldsInOrder) {
    auto gen = count_to(5);
    EXPECT_EQ(drain(gen), (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(Generator, ResultAfterExhaustionIsTheReturnedValue) {
    auto gen = count_to(3);
    (void)drain(gen);
    EXPECT_TRUE(gen.exhausted());
    EXPECT_EQ(gen.result(), "counted to 3");
    EXPECT_EQ(gen.result(), "counted to 3");  // an lvalue result() can be read again
}

TEST(Generator, RvalueResultMovesTheValueOut) {
    auto gen = []() -> generator<int, std::unique_ptr<int>> {
        co_return std::make_unique<int>(42);
    }();
    (void)gen.begin();
    std::unique_ptr<int> owned = std::move(gen).result();
    ASSERT_NE(owned, nullptr);
    EXPECT_EQ(*owned, 42);
    EXPECT_EQ(gen.result(), nullptr);  // NOLINT(bugprone-use-after-move): moved from, still there
}

TEST(Generator, EmptyGeneratorStartsAtEndAndHasResult) {
    auto gen = count_to(0);
    EXPECT_TRUE(gen.begin() == gen.end());
    EXPECT_EQ(gen.result(), "counted to 0");
}

TEST(Generator, VoidResultGeneratorWorksWithRangeFor) {
    auto letters = []() -> generator<char> {
        for (char c : std::string_view("abc")) co_yield c;
    }();
    std::string seen;
    for (char c : letters) seen += c;
    EXPECT_EQ(seen, "abc");
    EXPECT_NO_THROW(letters.result());
}

TEST(Generator, NothingRunsBeforeBegin) {
    int steps = 0;
    auto gen = [](int& counter) -> generator<int> {
        ++counter;
        co_yield 1;
        ++counter;
    }(steps);
    EXPECT_EQ(steps, 0);
    EXPECT_FALSE(gen.exhausted());
    auto it = gen.begin();
    EXPECT_EQ(steps, 1);
    ++it;
    EXPECT_EQ(steps, 2);
    EXPECT_TRUE(it == gen.end());
}

TEST(Generator, EarlyDestructionRunsFrameDestructorsExactlyOnce) {
    tracked::reset();
    {
        auto gen = []() -> generator<int> {
            tracked first("outer");
            {
                tracked second("inner");
                co_yield 1;
                co_yield 2;  // never reached
            }
        }();
        auto it = gen.begin();
        EXPECT_EQ(*it, 1);
        EXPECT_EQ(tracked::destructions, 0);
    }  // destroyed while suspended at the first co_yield
    EXPECT_EQ(tracked::destructions, 2);
}

TEST(Generator, DestructionBeforeStartDestroysByValueParameters) {
    tracked::reset();
    {
        auto gen = [](tracked owned) -> generator<int> {
            co_yield static_cast<int>(owned.text.size());
        }(tracked("parameter"));
        EXPECT_EQ(tracked::destructions, 1);  // the argument temporary; its copy is in the frame
    }
    EXPECT_EQ(tracked::destructions, 2);  // the frame's copy, once
}

TEST(Generator, ExhaustionRunsDestructorsOnceNotAgainAtDestruction) {
    tracked::reset();
    {
        auto gen = []() -> generator<int> {
            tracked local("local");
            co_yield 1;
        }();
        for (int value : gen) EXPECT_EQ(value, 1);
        EXPECT_EQ(tracked::destructions, 1);
    }
    EXPECT_EQ(tracked::destructions, 1);
}

TEST(Generator, ReferenceYieldOfLvalueIsTheObjectItself) {
    tracked::reset();
    const tracked source("payload");
    auto gen = [](const tracked& s) -> generator<const tracked&> { co_yield s; }(source);
    auto it = gen.begin();
    const tracked& seen = *it;
    EXPECT_EQ(&seen, &source);
    EXPECT_EQ(tracked::copies, 0);
}

TEST(Generator, ReferenceYieldOfTemporaryLivesUntilNextIncrementWithoutCopy) {
    tracked::reset();
    auto gen = []() -> generator<const tracked&> {
        co_yield tracked("first");
        co_yield tracked("second");
    }();
    auto it = gen.begin();
    EXPECT_EQ((*it).text, "first");
    EXPECT_EQ(tracked::destructions, 0);  // the temporary is alive while suspended
    ++it;
    EXPECT_EQ(tracked::destructions, 1);  // the first one ended with its co_yield expression
    EXPECT_EQ((*it).text, "second");
    EXPECT_EQ(tracked::copies, 0);
}

TEST(Generator, ValueYieldOfRvalueIsNotCopied) {
    tracked::reset();
    const tracked* address = nullptr;
    auto gen = [](const tracked*& where) -> generator<tracked> {
        tracked local("moved");
        where = &local;
        co_yield std::move(local);
    }(address);
    auto it = gen.begin();
    tracked&& seen = *it;
    EXPECT_EQ(&seen, address);
    EXPECT_EQ(tracked::copies, 0);
}

TEST(Generator, ValueYieldOfLvalueCopiesOnceSoConsumerCannotStealIt) {
    tracked::reset();
    auto gen = []() -> generator<tracked, std::string> {
        tracked local("kept");
        co_yield local;
        co_return local.text;  // still intact after the consumer moved from what it got
    }();
    auto it = gen.begin();
    tracked taken = *it;  // moves from the frame's copy
    EXPECT_EQ(taken.text, "kept");
    ++it;
    EXPECT_EQ(gen.result(), "kept");
    EXPECT_EQ(tracked::copies, 1);
}

TEST(Generator, StringViewGeneratorWithStringResult) {
    auto words = [](std::string_view text) -> generator<std::string_view, std::string> {
        std::string longest;
        while (!text.empty()) {
            const std::size_t space = std::min(text.find(' '), text.size());
            const std::string_view word = text.substr(0, space);
            if (word.size() > longest.size()) longest = word;
            co_yield word;
            text.remove_prefix(std::min(space + 1, text.size()));
        }
        co_return longest;
    }("the quick brown fox");
    std::vector<std::string_view> seen;
    for (std::string_view word : words) seen.push_back(word);
    EXPECT_EQ(seen, (std::vector<std::string_view>{"the", "quick", "brown", "fox"}));
    EXPECT_EQ(words.result(), "quick");
}

TEST(Generator, MoveOnlyElementsCanBeTakenByTheConsumer) {
    auto gen = []() -> generator<std::unique_ptr<int>> {
        for (int i = 0; i < 3; ++i) co_yield std::make_unique<int>(i);
    }();
    std::vector<std::unique_ptr<int>> taken;
    for (auto&& p : gen) taken.push_back(std::move(p));
    ASSERT_EQ(taken.size(), 3u);
    EXPECT_EQ(*taken[2], 2);
}

TEST(Generator, WorksWithRangesAlgorithms) {
    auto gen = count_to(4);
    int sum = 0;
    std::ranges::for_each(gen, [&](int value) { sum += value; });
    EXPECT_EQ(sum, 10);
    EXPECT_EQ(gen.result(), "counted to 4");

    auto again = count_to(10);
    const auto found = std::ranges::find(again, 7);
    ASSERT_FALSE(found == again.end());
    EXPECT_EQ(*found, 7);
}

TEST(Generator, ComposesWithViews) {
    auto evens = count_to(6) | std::views::filter([](int v) { return v % 2 == 0; }) |
                 std::views::transform([](int v) { return v * 10; });
    std::vector<int> seen;
    for (int v : evens) seen.push_back(v);
    EXPECT_EQ(seen, (std::vector<int>{20, 40, 60}));
}

TEST(Generator, MoveAssignmentDestroysThePreviousFrame) {
    tracked::reset();
    auto holding = []() -> generator<int> {
        tracked local("old frame");
        co_yield 1;
    }();
    (void)holding.begin();
    holding = []() -> generator<int> { co_yield 2; }();
    EXPECT_EQ(tracked::destructions, 1);
    std::vector<int> seen;
    for (int v : holding) seen.push_back(v);
    EXPECT_EQ(seen, std::vector<int>{2});
}

TEST(Generator, NestedGeneratorsDelegate) {
    auto outer = []() -> generator<int, int> {
        auto inner = count_to(3);
        int total = 0;
        for (int v : inner) {
            total += v;
            co_yield v;
        }
        co_return total;
    }();
    std::vector<int> seen;
    for (int v : outer) seen.push_back(v);
    EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(outer.result(), 6);
}

}  // namespace
