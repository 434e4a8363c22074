// holdfast/pool/pool_hooks.hpp — the optional per-resource callbacks of a pool.
//
//   holdfast::pool_hooks<pg_connection> hooks{
//       .validate = [](pg_connection& c) { return c.ping(); },         // false: destroy, retry
//       .reset = [](pg_connection& c) {                                // on every return
//           if (c.transaction_status() != idle) c.execute("ROLLBACK"); // throws: destroy
//           return true;
//       },
//       .on_create = [](pg_connection& c) { c.execute("SET application_name = 'orders'"); },
//       .is_fatal_error = [](std::exception_ptr e) { return is_connection_class_08(e); },
//   };
//   holdfast::pool<pg_connection> p(connect, options, hooks);
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <source_location>
#include <string_view>

namespace holdfast {

/// A lease held longer than pool_options::leak_threshold, as reported once.
struct lease_leak {
    std::string_view pool_name;
    std::chrono::nanoseconds held_for;
    /// Where the lease was acquired.
    std::source_location acquired_at;
};

/// Callbacks a pool calls on its resources. Every one is optional and runs outside the
/// pool's lock, in the thread that acquires or returns the resource.
template <class T>
struct pool_hooks {
    /// Called on acquire for a resource idle for at least validate_after_idle. Returning
    /// false or throwing destroys the resource (counted as a validation failure), and the
    /// acquire goes on with another one; it is never handed out. The exception is not
    /// reported anywhere: a failed health check is an expected outcome, and the acquirer
    /// never sees it.
    std::function<bool(T&)> validate;
    /// Called when a lease returns its resource, before anyone else can get it (roll back an
    /// open transaction...). Returning false or throwing destroys it; a thrown exception also
    /// goes to the cleanup error handler, since no caller can receive it.
    std::function<bool(T&)> reset;
    /// Called once on each new resource, after the factory; throwing counts as a failed
    /// creation: the resource is destroyed at once, and the exception reaches the waiter the
    /// resource was for, as a factory's exception would.
    std::function<void(T&)> on_create;
    /// Decides whether an exception that left a with() body over a lease means the resource is
    /// broken (a lost connection): then the lease is discarded instead of returned. By
    /// default no exception does: a failed query does not make a healthy connection bad.
    /// If it throws, the resource is discarded all the same (when in doubt, a resource that
    /// may be broken is not reused), and the body's exception still propagates unchanged.
    std::function<bool(std::exception_ptr)> is_fatal_error;
    /// Receives leak reports; by default they go to the cleanup error handler as a
    /// holdfast::pool_error naming the pool, the duration and the acquisition site. An
    /// exception it throws goes to the cleanup error handler; the lease is not affected.
    std::function<void(const lease_leak&)> on_leak;
};

}  // namespace holdfast
