// holdfast/core/unique_resource.hpp — sole ownership of any resource with a deleter: a file
// descriptor, a FILE*, a handle from a C library (C++ Library Fundamentals TS v3, P0052R10).
//
//   auto open_config(const char* path) {
//       auto fd = holdfast::make_unique_resource_checked(
//           ::open(path, O_RDONLY | O_CLOEXEC), -1, [](int d) { ::close(d); });
//       if (fd.get() == -1) throw std::system_error(errno, std::generic_category(), path);
//       check_header(fd.get());  // may throw: the descriptor is closed on the way out
//       return fd;               // success: the caller owns it and closes it exactly once
//   }
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include <holdfast/core/detail/scope_guard_base.hpp>

namespace holdfast {

template <class R, class D>
class unique_resource;

template <class R, class D, class S = std::decay_t<R>>
[[nodiscard]] unique_resource<std::decay_t<R>, std::decay_t<D>> make_unique_resource_checked(
    R&& resource, const S& invalid,
    D&& d) noexcept(std::conjunction_v<std::is_nothrow_constructible<std::decay_t<R>, R>,
                                       std::is_nothrow_constructible<std::decay_t<D>, D>>);

/// Owns a resource of type R and calls `deleter(resource)` exactly once: on destruction or
/// reset(), unless release() was called first.
///
/// R is an object type, or an lvalue reference (the resource is then held through a
/// std::reference_wrapper and reset(r) rebinds it). D is a function object type; calling it on
/// the resource must not throw. Move-only; a moved-from unique_resource owns nothing.
///
/// @par Exception safety
/// The resource is never leaked and never deleted twice: each member is moved in only when that
/// cannot throw and copied otherwise, and if a copy throws, whoever still owns the resource (the
/// constructor's deleter argument, or the source of a move) deletes it before the exception
/// propagates. reset() and the destructor are `noexcept`.
template <class R, class D>
class unique_resource {
    using stored_resource =
        std::conditional_t<std::is_reference_v<R>,
                           std::reference_wrapper<std::remove_reference_t<R>>, R>;

    static_assert(std::is_object_v<R> || std::is_lvalue_reference_v<R>,
                  "the resource is held by value or by lvalue reference");
    static_assert(std::is_object_v<D>, "the deleter is a function object held by value");
    static_assert(std::is_invocable_v<D&, std::remove_reference_t<R>&>,
                  "the deleter must be callable with the resource");

    static constexpr bool default_constructible =
        std::is_default_constructible_v<R> && std::is_default_constructible_v<D>;
    static constexpr bool resource_moves_nothrow =
        std::is_nothrow_move_constructible_v<stored_resource>;
    static constexpr bool moves_nothrow =
        resource_moves_nothrow && std::is_nothrow_move_constructible_v<D>;
    static constexpr bool resource_assigns_nothrow =
        std::is_nothrow_move_assignable_v<stored_resource>;
    static constexpr bool deleter_assigns_nothrow = std::is_nothrow_move_assignable_v<D>;
    static constexpr bool assigns_nothrow = resource_assigns_nothrow && deleter_assigns_nothrow;
    template <class RR>
    static constexpr bool resettable_from = std::disjunction_v<
        std::is_nothrow_assignable<stored_resource&, RR>,
        std::is_assignable<stored_resource&, const std::remove_reference_t<RR>&>>;

  public:
    /// Owns nothing: value-initializes the resource and the deleter.
    unique_resource() requires(default_constructible) : resource_(), deleter_() {}

    /// Owns `r`, to be deleted by `d`.
    ///
    /// @par Exception safety
    /// If taking `r` over throws, calls `d(r)`; if taking `d` over throws, calls `d` on the
    /// stored resource. Either way the exception then propagates.
    template <detail::transferable_to<stored_resource> RR, detail::transferable_to<D> DD>
    unique_resource(RR&& r, DD&& d) noexcept(
        std::conjunction_v<std::is_nothrow_constructible<stored_resource, RR>,
                           std::is_nothrow_constructible<D, DD>>)
        : unique_resource(std::forward<RR>(r), std::forward<DD>(d), true) {}

    /// Takes ownership from `rhs`, which then owns nothing.
    ///
    /// @par Exception safety
    /// If copying the resource throws, `rhs` still owns it. If copying the deleter throws after
    /// the resource was moved out of `rhs`, `rhs`'s deleter deletes it.
    // NOLINTNEXTLINE(performance-noexcept-move-constructor): P0052 copies what may throw on move
    unique_resource(unique_resource&& rhs) noexcept(moves_nothrow)
        : resource_(detail::forward_if_nothrow<stored_resource, stored_resource>(rhs.resource_)),
          // If this throws after the resource left rhs, rhs could not delete it later: do it now.
          deleter_(construct_or_clean_up<D, D>(rhs.deleter_,
                                               resource_moves_nothrow && rhs.execute_on_reset_,
                                               [&] {
                                                   rhs.deleter_(resource());
                                                   rhs.release();
                                               })),
          execute_on_reset_(std::exchange(rhs.execute_on_reset_, false)) {}

    /// Deletes the resource this owns, then takes ownership from `rhs`, which then owns nothing.
    ///
    /// Each member of `rhs` must be nothrow move-assignable or copy-assignable. As in the TS,
    /// `x = std::move(x)` deletes the resource and leaves `x` owning nothing.
    /// @par Exception safety
    /// Members that cannot be moved without throwing are copied before anything is moved: if a
    /// copy throws, `rhs` is unchanged and *this owns nothing.
    // NOLINTNEXTLINE(performance-noexcept-move-constructor): P0052 copies what may throw on move
    unique_resource& operator=(unique_resource&& rhs) noexcept(assigns_nothrow) {
        reset();
        if constexpr (!resource_assigns_nothrow) resource_ = std::as_const(rhs.resource_);
        if constexpr (!deleter_assigns_nothrow) deleter_ = std::as_const(rhs.deleter_);
        if constexpr (resource_assigns_nothrow) resource_ = std::move(rhs.resource_);
        if constexpr (deleter_assigns_nothrow) deleter_ = std::move(rhs.deleter_);
        execute_on_reset_ = std::exchange(rhs.execute_on_reset_, false);
        return *this;
    }

    /// Calls reset().
    ~unique_resource() { reset(); }

    /// Deletes the resource if this owns it; afterwards this owns nothing, so a second reset()
    /// or the destructor does not delete it again.
    void reset() noexcept {
        if (execute_on_reset_) {
            execute_on_reset_ = false;
            deleter_(resource());
        }
    }

    /// Deletes the resource if this owns it, then owns `r`.
    ///
    /// @par Exception safety
    /// If assigning `r` throws (possible only when it has to be copied), calls the deleter on
    /// `r`, then the exception propagates and this owns nothing.
    template <class RR>
    requires resettable_from<RR>
    void reset(RR&& r) {
        reset();
        if constexpr (std::is_nothrow_assignable_v<stored_resource&, RR>) {
            resource_ = std::forward<RR>(r);
        } else {
            try {
                resource_ = std::as_const(r);
            } catch (...) {
                deleter_(r);
                throw;
            }
        }
        execute_on_reset_ = true;
    }

    /// Gives up ownership: the deleter will not be called. get() still returns the resource.
    void release() noexcept { execute_on_reset_ = false; }

    /// The resource, whether or not this still owns it.
    const R& get() const noexcept { return resource_; }

    /// The deleter.
    const D& get_deleter() const noexcept { return deleter_; }

    /// The object a pointer resource points to.
    std::add_lvalue_reference_t<std::remove_pointer_t<R>> operator*() const noexcept
        requires(std::is_pointer_v<R> && !std::is_void_v<std::remove_pointer_t<R>>) {
        return *get();
    }

    /// A pointer resource, for member access.
    R operator->() const noexcept requires std::is_pointer_v<R> { return get(); }

  private:
    template <class RR, class DD, class S>
    friend unique_resource<std::decay_t<RR>, std::decay_t<DD>> make_unique_resource_checked(
        RR&&, const S&,
        DD&&) noexcept(std::conjunction_v<std::is_nothrow_constructible<std::decay_t<RR>, RR>,
                                          std::is_nothrow_constructible<std::decay_t<DD>, DD>>);

    // `armed` is false for a resource known to be invalid: it is never passed to the deleter,
    // not even when construction fails.
    template <class RR, class DD>
    unique_resource(RR&& r, DD&& d, bool armed) noexcept(
        std::conjunction_v<std::is_nothrow_constructible<stored_resource, RR>,
                           std::is_nothrow_constructible<D, DD>>)
        : resource_(construct_or_clean_up<stored_resource, RR>(r, armed, [&] { d(r); })),
          deleter_(construct_or_clean_up<D, DD>(d, armed, [&] { d(resource()); })),
          execute_on_reset_(armed) {}

    // Initializes a T from `from` (moved only if that cannot throw); if that throws, calls
    // `clean_up()` when `clean_up_on_failure`, while `from` is still intact, then rethrows.
    template <class T, class U, class F>
    static T construct_or_clean_up(U& from, bool clean_up_on_failure, F clean_up) {
        try {
            return static_cast<T>(detail::forward_if_nothrow<T, U>(from));
        } catch (...) {
            if (clean_up_on_failure) clean_up();
            throw;
        }
    }

    std::remove_reference_t<R>& resource() noexcept { return resource_; }

    stored_resource resource_;
    D deleter_;
    bool execute_on_reset_ = false;
};

/// `unique_resource{r, d}` holds decayed copies of `r` and `d`; name the type, as in
/// `unique_resource<R&, D>`, to hold the resource by reference instead.
template <class R, class D>
unique_resource(R, D) -> unique_resource<R, D>;

/// A unique_resource that owns `resource` unless it equals `invalid` (the -1 of a failed
/// `open()`, a null `FILE*`), in which case the deleter is never called on it.
///
/// @par Exception safety
/// As unique_resource's constructor, except that an invalid resource is not passed to `d` even
/// when construction throws.
template <class R, class D, class S>
unique_resource<std::decay_t<R>, std::decay_t<D>> make_unique_resource_checked(
    R&& resource, const S& invalid,
    D&& d) noexcept(std::conjunction_v<std::is_nothrow_constructible<std::decay_t<R>, R>,
                                       std::is_nothrow_constructible<std::decay_t<D>, D>>) {
    const bool valid = !static_cast<bool>(resource == invalid);
    return {std::forward<R>(resource), std::forward<D>(d), valid};
}

}  // namespace holdfast
