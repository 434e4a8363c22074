#include <cerrno>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <holdfast/core/unique_resource.hpp>

namespace {

// Records every resource it deletes, in order, so "exactly once" and "old before new" are visible.
struct recording_deleter {
    std::vector<int>* deleted;
    void operator()(int resource) const noexcept { deleted->push_back(resource); }
};

using handle = holdfast::unique_resource<int, recording_deleter>;

TEST(UniqueResource, DeletesOnceOnDestruction) {
    std::vector<int> deleted;
    {
        handle h{7, recording_deleter{&deleted}};
        EXPECT_EQ(h.get(), 7);
        EXPECT_TRUE(deleted.empty());
    }
    EXPECT_EQ(deleted, std::vector<int>{7});
}

TEST(UniqueResource, ResetDeletesAndNeitherASecondResetNorTheDestructorDeletesAgain) {
    std::vector<int> deleted;
    {
        handle h{7, recording_deleter{&deleted}};
        h.reset();
        EXPECT_EQ(deleted, std::vector<int>{7});
        h.reset();
    }
    EXPECT_EQ(deleted, std::vector<int>{7});
}

TEST(UniqueResource, ResetWithANewResourceDeletesTheOldOneThenOwnsTheNewOne) {
    std::vector<int> deleted;
    {
        handle h{7, recording_deleter{&deleted}};
        h.reset(8);
        EXPECT_EQ(deleted, std::vector<int>{7});
        EXPECT_EQ(h.get(), 8);
    }
    EXPECT_EQ(deleted, (std::vector<int>{7, 8}));
}

TEST(UniqueResource, ResetWithANewResourceRearmsAReleasedOne) {
    std::vector<int> deleted;
    {
        handle h{7, recording_deleter{&deleted}};
        h.release();
        h.reset(8);
    }
    EXPECT_EQ(deleted, std::vector<int>{8});
}

TEST(UniqueResource, ReleasedResourceIsNeverDeleted) {
    std::vector<int> deleted;
    {
        handle h{7, recording_deleter{&deleted}};
        h.release();
        EXPECT_EQ(h.get(), 7);
        h.reset();
    }
    EXPECT_TRUE(deleted.empty());
}

TEST(UniqueResource, MoveConstructionTransfersOwnership) {
    std::vector<int> deleted;
    {
        handle source{7, recording_deleter{&deleted}};
        {
            handle target{std::move(source)};
            EXPECT_EQ(target.get(), 7);
        }
        EXPECT_EQ(deleted, std::vector<int>{7});
    }
    EXPECT_EQ(deleted, std::vector<int>{7});
}

TEST(UniqueResource, MoveAssignmentDeletesTheTargetsResourceFirst) {
    std::vector<int> deleted;
    {
        handle target{1, recording_deleter{&deleted}};
        handle source{2, recording_deleter{&deleted}};
        target = std::move(source);
        EXPECT_EQ(deleted, std::vector<int>{1});
        EXPECT_EQ(target.get(), 2);
    }
    EXPECT_EQ(deleted, (std::vector<int>{1, 2}));
}

TEST(UniqueResource, MoveAssignmentFromAReleasedResourceOwnsNothing) {
    std::vector<int> deleted;
    {
        handle target{1, recording_deleter{&deleted}};
        handle source{2, recording_deleter{&deleted}};
        source.release();
        target = std::move(source);
    }
    EXPECT_EQ(deleted, std::vector<int>{1});
}

TEST(UniqueResource, DefaultConstructedOwnsNothing) {
    struct unexpected_deleter {
        void operator()(int) const noexcept { ADD_FAILURE() << "deleted a resource never owned"; }
    };
    holdfast::unique_resource<int, unexpected_deleter> h;
    EXPECT_EQ(h.get(), 0);
}

struct widget {
    int value = 42;
};

TEST(UniqueResource, DereferencesAPointerResource) {
    int deletions = 0;
    auto deleter = [&deletions](widget* w) noexcept {
        delete w;
        ++deletions;
    };
    {
        holdfast::unique_resource owned{new widget{}, deleter};
        EXPECT_EQ(owned->value, 42);
        (*owned).value = 43;
        EXPECT_EQ(owned.get()->value, 43);
    }
    EXPECT_EQ(deletions, 1);
}

// ---- resources held by reference -----------------------------------------------------------

TEST(UniqueResource, HoldsAReferenceResourceAndDeletesThroughIt) {
    auto invalidate = [](int& fd) noexcept { fd = -1; };
    int first = 3;
    int second = 4;
    {
        holdfast::unique_resource<int&, decltype(invalidate)> ref{first, invalidate};
        EXPECT_EQ(&ref.get(), &first);
        ref.reset(second);  // deletes `first` through the reference, then rebinds to `second`
        EXPECT_EQ(first, -1);
        EXPECT_EQ(&ref.get(), &second);
    }
    EXPECT_EQ(second, -1);
}

// ---- make_unique_resource_checked ----------------------------------------------------------

TEST(MakeUniqueResourceChecked, InvalidValueIsNeverDeleted) {
    std::vector<int> deleted;
    {
        auto fd = holdfast::make_unique_resource_checked(-1, -1, recording_deleter{&deleted});
        EXPECT_EQ(fd.get(), -1);
        fd.reset();
    }
    {
        auto file = holdfast::make_unique_resource_checked(
            static_cast<std::FILE*>(nullptr), nullptr,
            [](std::FILE*) noexcept { ADD_FAILURE() << "fclose would be called on a null FILE*"; });
        EXPECT_EQ(file.get(), nullptr);
    }
    EXPECT_TRUE(deleted.empty());
}

TEST(MakeUniqueResourceChecked, ValidValueIsDeletedOnce) {
    std::vector<int> deleted;
    { auto fd = holdfast::make_unique_resource_checked(5, -1, recording_deleter{&deleted}); }
    EXPECT_EQ(deleted, std::vector<int>{5});
}

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

TEST(MakeUniqueResourceChecked, ClosesARealFileDescriptor) {
    int raw = -1;
    {
        auto fd = holdfast::make_unique_resource_checked(::open("/dev/null", O_RDONLY | O_CLOEXEC),
                                                         -1, [](int d) noexcept { ::close(d); });
        ASSERT_NE(fd.get(), -1) << "open(\"/dev/null\") failed";
        raw = fd.get();
        EXPECT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(MakeUniqueResourceChecked, FailedOpenIsNotClosed) {
    int closes = 0;
    {
        auto fd = holdfast::make_unique_resource_checked(
            ::open("/nonexistent/holdfast", O_RDONLY | O_CLOEXEC), -1, [&closes](int d) noexcept {
                ++closes;
                ::close(d);
            });
        EXPECT_EQ(fd.get(), -1);
    }
    EXPECT_EQ(closes, 0);
}

TEST(MakeUniqueResourceChecked, ClosesARealFile) {
    int closes = 0;
    {
        auto file = holdfast::make_unique_resource_checked(std::fopen("/dev/null", "r"), nullptr,
                                                           [&closes](std::FILE* f) noexcept {
                                                               ++closes;
                                                               std::fclose(f);
                                                           });
        ASSERT_NE(file.get(), nullptr) << "fopen(\"/dev/null\") failed";
        EXPECT_EQ(std::fgetc(file.get()), EOF);
    }
    EXPECT_EQ(closes, 1);
}

// ---- failures while taking a member over ---------------------------------------------------

struct copy_error : std::runtime_error {
    copy_error() : std::runtime_error("copy failed") {}
};

// A deleter whose copy and copy-assignment throw while *copy_throws is true. Moving copies (no
// move operations are declared), so unique_resource must copy it rather than move it.
struct throwing_copy_deleter {
    std::vector<int>* deleted;
    const bool* copy_throws;
    throwing_copy_deleter(std::vector<int>* d, const bool* t) : deleted(d), copy_throws(t) {}
    throwing_copy_deleter(const throwing_copy_deleter& other)
        : deleted(other.deleted), copy_throws(other.copy_throws) {
        if (*copy_throws) throw copy_error{};
    }
    // Self-assignment copies one pointer onto itself: harmless.
    // NOLINTNEXTLINE(bugprone-unhandled-self-assignment)
    throwing_copy_deleter& operator=(const throwing_copy_deleter& other) {
        if (*copy_throws) throw copy_error{};
        deleted = other.deleted;
        return *this;
    }
    ~throwing_copy_deleter() = default;
    void operator()(int resource) const noexcept { deleted->push_back(resource); }
};

TEST(UniqueResource, ConstructorDeletesTheResourceWhenCopyingTheDeleterThrows) {
    std::vector<int> deleted;
    const bool copy_throws = true;
    throwing_copy_deleter deleter{&deleted, &copy_throws};
    using resource = holdfast::unique_resource<int, throwing_copy_deleter>;
    EXPECT_THROW(resource(7, deleter), copy_error);
    EXPECT_EQ(deleted, std::vector<int>{7});
}

TEST(MakeUniqueResourceChecked, InvalidValueIsNotDeletedEvenWhenCopyingTheDeleterThrows) {
    std::vector<int> deleted;
    const bool copy_throws = true;
    throwing_copy_deleter deleter{&deleted, &copy_throws};
    EXPECT_THROW(static_cast<void>(holdfast::make_unique_resource_checked(-1, -1, deleter)),
                 copy_error);
    EXPECT_TRUE(deleted.empty());
}

TEST(UniqueResource, MoveConstructionDeletesTheResourceWhenCopyingTheDeleterThrows) {
    std::vector<int> deleted;
    bool copy_throws = false;
    holdfast::unique_resource source{7, throwing_copy_deleter{&deleted, &copy_throws}};
    copy_throws = true;
    // The int has already been moved when the deleter's copy throws: the source deletes it now,
    // since it cannot vouch for it later.
    EXPECT_THROW(holdfast::unique_resource target{std::move(source)}, copy_error);
    EXPECT_EQ(deleted, std::vector<int>{7});
    copy_throws = false;
    source.reset();  // NOLINT(bugprone-use-after-move): the move threw; source must be released
    EXPECT_EQ(deleted, std::vector<int>{7});
}

TEST(UniqueResource, MoveAssignmentThatThrowsLeavesTheSourceOwningAndTheTargetEmpty) {
    std::vector<int> deleted;
    bool copy_throws = false;
    {
        holdfast::unique_resource target{1, throwing_copy_deleter{&deleted, &copy_throws}};
        holdfast::unique_resource source{2, throwing_copy_deleter{&deleted, &copy_throws}};
        copy_throws = true;
        EXPECT_THROW(target = std::move(source), copy_error);
        copy_throws = false;
        EXPECT_EQ(deleted, std::vector<int>{1});
    }
    EXPECT_EQ(deleted, (std::vector<int>{1, 2}));
}

// ---- type properties -----------------------------------------------------------------------

static_assert(!std::is_copy_constructible_v<handle>);
static_assert(!std::is_copy_assignable_v<handle>);
static_assert(std::is_nothrow_move_constructible_v<handle>);
static_assert(std::is_nothrow_move_assignable_v<handle>);
static_assert(
    !std::is_nothrow_move_constructible_v<holdfast::unique_resource<int, throwing_copy_deleter>>);

static_assert(std::is_same_v<decltype(holdfast::unique_resource{0, recording_deleter{}}), handle>);
static_assert(std::is_same_v<decltype(holdfast::make_unique_resource_checked(
                                 std::declval<int&>(), -1, std::declval<recording_deleter&>())),
                             handle>);
static_assert(noexcept(holdfast::make_unique_resource_checked(0, -1, recording_deleter{})));

// operator* and operator-> exist only for pointers, and operator* not for void*.
template <class T>
concept dereferenceable = requires(const T& t) {
    *t;
};
template <class T>
concept has_arrow = requires(const T& t) {
    t.operator->();
};
using void_pointer = holdfast::unique_resource<void*, void (*)(void*)>;
using widget_pointer = holdfast::unique_resource<widget*, void (*)(widget*)>;
static_assert(!dereferenceable<handle> && !has_arrow<handle>);
static_assert(!dereferenceable<void_pointer> && has_arrow<void_pointer>);
static_assert(dereferenceable<widget_pointer> && has_arrow<widget_pointer>);

}  // namespace
