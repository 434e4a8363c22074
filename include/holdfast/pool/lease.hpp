// holdfast/pool/lease.hpp — exclusive use of one pooled resource, returned when it ends.
//
//   {
//       holdfast::lease<db_connection> conn = p.acquire();  // pool<db_connection>::lease
//       conn->execute("INSERT ...");                          // -> and * reach the resource
//       if (!conn->healthy()) conn.discard();                 // broken: destroy, never reuse
//   }   // otherwise returned here: reset, then handed to the oldest waiter or kept idle
//
//   // As a context manager: an exception from the body returns a healthy connection (the
//   // reset hook rolls back); only an error the pool's is_fatal_error hook calls fatal
//   // discards it.
//   holdfast::with(p.acquire(), [](db_connection& c) { c.execute("UPDATE ..."); });
#pragma once

#include <cassert>
#include <exception>
#include <source_location>
#include <utility>

#include <holdfast/pool/detail/pool_core.hpp>
#include <holdfast/pool/detail/typed_slot.hpp>

namespace holdfast {

template <class T>
class pool;

namespace detail {
template <class T>
class async_acquire_op;
}  // namespace detail

/// Exclusive use of one resource of a pool<T>. Move-only; returns the resource to its pool
/// when destroyed, or destroys it instead after discard(). An empty lease (default
/// constructed, moved from, returned or discarded) owns nothing.
///
/// @par Exception safety
/// Nothing here throws. Returning runs the pool's reset hook; if it fails the resource is
/// destroyed, and a thrown exception goes to the cleanup error handler.
/// @par Object lifetimes
/// A lease may outlive its pool<T> object: the pool's shared state lives until the last
/// lease returns, and the resource is then destroyed (the pool is closed).
/// @par Thread safety
/// A lease may be moved to and returned from any thread; one lease is not for concurrent use.
template <class T>
class [[nodiscard("a lease returns its resource as soon as it is destroyed")]] lease {
  public:
    using resource_type = T;

    /// An empty lease.
    lease() noexcept = default;

    lease(lease && other) noexcept
        : core_(std::exchange(other.core_, nullptr)), slot_(std::exchange(other.slot_, nullptr)) {}

    /// Returns the resource this lease holds, then takes over `other`'s.
    lease& operator=(lease&& other) noexcept {
        if (this != &other) {
            return_to_pool();
            core_ = std::exchange(other.core_, nullptr);
            slot_ = std::exchange(other.slot_, nullptr);
        }
        return *this;
    }

    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;

    ~lease() {
        return_to_pool();
    }

    /// The resource.
    /// @par Preconditions
    /// The lease is not empty.
    T& operator*() const noexcept {
        assert(slot_ && "holdfast::lease: dereferenced an empty lease");
        return slot_->value;
    }
    /// @copydoc operator*
    T* operator->() const noexcept {
        return &**this;
    }
    /// @copydoc operator*
    T& get() const noexcept {
        return **this;
    }

    /// True when the lease holds a resource.
    explicit operator bool() const noexcept {
        return slot_ != nullptr;
    }

    /// Gives the resource back now (what the destructor does); the lease becomes empty.
    void return_to_pool() noexcept {
        if (slot_) std::exchange(core_, nullptr)->release(std::exchange(slot_, nullptr), false);
    }

    /// Destroys the resource now instead of returning it, because it is broken (counted in
    /// pool_stats::closed_broken); the pool opens a replacement if a waiter needs one. The
    /// lease becomes empty. No effect on an empty lease.
    void discard() noexcept {
        if (slot_) std::exchange(core_, nullptr)->release(std::exchange(slot_, nullptr), true);
    }

    /// Where the resource was acquired (the caller of acquire() / async_acquire()).
    /// @par Preconditions
    /// The lease is not empty.
    std::source_location acquired_at() const noexcept {
        return slot_->acquired_at;
    }

    /// Context-manager protocol: the resource.
    T& enter() noexcept {
        return **this;
    }

    /// Context-manager protocol: returns the resource, or discards it when the body left with
    /// an exception the pool's is_fatal_error hook calls fatal. A plain exception in the body
    /// does not make a healthy resource bad, and the reset hook cleans up what it left.
    void exit(std::exception_ptr error) noexcept {
        if (error && core_ && core_->is_fatal_error(error)) {
            discard();
        } else {
            return_to_pool();
        }
    }

  private:
    friend class pool<T>;
    friend class detail::async_acquire_op<T>;

    lease(detail::pool_core * core, detail::pool_slot * slot) noexcept
        : core_(core), slot_(static_cast<detail::typed_slot<T>*>(slot)) {}

    // A raw pointer: the core stays alive while it has leases out (no atomic reference count
    // on the fast path).
    detail::pool_core* core_ = nullptr;
    detail::typed_slot<T>* slot_ = nullptr;
};

}  // namespace holdfast
