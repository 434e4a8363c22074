// closing, suppress, nullcontext and adopt: the small adapters of holdfast/core/*.hpp.
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

#include <gtest/gtest.h>

#include <holdfast/core/adopt.hpp>
#include <holdfast/core/closing.hpp>
#include <holdfast/core/nullcontext.hpp>
#include <holdfast/core/suppress.hpp>
#include <holdfast/core/with.hpp>

namespace {

struct closable {
    int closes = 0;
    bool fail_close = false;
    void close() {
        ++closes;
        if (fail_close) throw std::runtime_error("close failed");
    }
};

TEST(Closing, ClosesAfterSuccessfulBody) {
    closable c;
    holdfast::with(holdfast::closing(c), [&](closable& r) { EXPECT_EQ(&r, &c); });
    EXPECT_EQ(c.closes, 1);
}

TEST(Closing, ClosesWhenBodyThrowsAndPropagates) {
    closable c;
    EXPECT_THROW(
        holdfast::with(holdfast::closing(c), [](closable&) { throw std::out_of_range(""); }),
        std::out_of_range);
    EXPECT_EQ(c.closes, 1);
}

TEST(Closing, CloseErrorReplacesBodyError) {
    closable c;
    c.fail_close = true;
    EXPECT_THROW(
        holdfast::with(holdfast::closing(c), [](closable&) { throw std::out_of_range(""); }),
        std::runtime_error);
}

TEST(Closing, OwnsARvalueAndRefersToAnLvalue) {
    closable c;
    static_assert(std::is_same_v<decltype(holdfast::closing(c)), holdfast::closing<closable&>>);
    static_assert(
        std::is_same_v<decltype(holdfast::closing(closable{})), holdfast::closing<closable>>);
    int closes =
        holdfast::with(holdfast::closing(closable{}), [](closable& r) { return r.closes; });
    EXPECT_EQ(closes, 0);
}

TEST(Suppress, SuppressesTheListedTypeAndItsSubclasses) {
    EXPECT_FALSE(holdfast::with(holdfast::suppress<std::logic_error>(),
                                [] { throw std::out_of_range("derived from logic_error"); }));
}

TEST(Suppress, LetsOtherExceptionsThrough) {
    EXPECT_THROW((void)holdfast::with(holdfast::suppress<std::logic_error>(),
                                      [] { throw std::runtime_error("not a logic_error"); }),
                 std::runtime_error);
}

TEST(Suppress, AcceptsSeveralTypes) {
    holdfast::suppress<std::system_error, std::out_of_range> cm;
    EXPECT_FALSE(holdfast::with(cm, [] { throw std::out_of_range("x"); }));
    EXPECT_FALSE(holdfast::with(
        cm, [] { throw std::system_error(std::make_error_code(std::errc::io_error)); }));
    EXPECT_THROW((void)holdfast::with(cm, [] { throw 42; }), int);
}

TEST(Suppress, ReturnsTheValueWhenNothingIsThrown) {
    std::optional<int> r = holdfast::with(holdfast::suppress<std::exception>(), [] { return 3; });
    EXPECT_EQ(r, 3);
}

TEST(NullContext, EntersToTheGivenValue) {
    int value = 5;
    int& r = holdfast::with(holdfast::nullcontext(value), [](int& v) -> int& { return v; });
    EXPECT_EQ(&r, &value);
    EXPECT_EQ(
        holdfast::with(holdfast::nullcontext(std::string("x")), [](std::string& s) { return s; }),
        "x");
}

TEST(NullContext, WithoutValueEntersToVoidAndNeverSuppresses) {
    static_assert(std::is_void_v<decltype(holdfast::nullcontext().enter())>);
    EXPECT_THROW(holdfast::with(holdfast::nullcontext(), [] { throw 1; }), int);
}

TEST(Adopt, DestroysTheObjectWhenTheBlockEnds) {
    auto alive = std::make_shared<int>(1);
    std::weak_ptr<int> watch = alive;
    holdfast::adopt cm(std::move(alive));
    holdfast::with(cm, [&](std::shared_ptr<int>& p) { EXPECT_EQ(*p, 1); });
    EXPECT_TRUE(watch.expired()) << "destroyed by exit, not when the manager goes";
}

TEST(Adopt, DestroysTheObjectWhenTheBodyThrows) {
    auto alive = std::make_shared<int>(1);
    std::weak_ptr<int> watch = alive;
    holdfast::adopt cm(std::move(alive));
    EXPECT_THROW(holdfast::with(cm, [](std::shared_ptr<int>&) { throw 1; }), int);
    EXPECT_TRUE(watch.expired());
}

}  // namespace
