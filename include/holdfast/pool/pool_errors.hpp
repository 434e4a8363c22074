// holdfast/pool/pool_errors.hpp — what acquire() throws when it cannot hand out a resource.
//
//   try {
//       auto conn = p.acquire();
//   } catch (const holdfast::pool_timeout& e) {
//       // "pool 'orders-db': no resource within 5000 ms (size 10 of max 10, 10 in use,
//       //  0 idle, 0 being created, 7 waiting); last creation error: connection refused"
//       log.warn("{}", e.what());
//   } catch (const holdfast::pool_closed&) {
//       // shutting down
//   }
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>

namespace holdfast {

/// Base of the errors a pool raises itself. A factory's own exception reaches the waiter
/// that needed the resource unchanged, so it is not one of these.
class pool_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// No resource became available within acquire_timeout, or the wait queue was full
/// (max_waiting). The message names the pool, its state and the last creation error.
class pool_timeout : public pool_error {
  public:
    pool_timeout(std::string message, std::chrono::nanoseconds waited, std::size_t size,
                 std::size_t waiting, std::exception_ptr last_creation_error)
        : pool_error(std::move(message)),
          waited_(waited),
          size_(size),
          waiting_(waiting),
          last_creation_error_(std::move(last_creation_error)) {}

    /// How long the acquire waited (zero when rejected because the queue was full).
    std::chrono::nanoseconds waited() const noexcept { return waited_; }
    /// Resources open or being opened when the acquire gave up.
    std::size_t pool_size() const noexcept { return size_; }
    /// Other acquires still waiting then.
    std::size_t waiting() const noexcept { return waiting_; }
    /// The exception of the most recent failed creation, or null.
    std::exception_ptr last_creation_error() const noexcept { return last_creation_error_; }

  private:
    std::chrono::nanoseconds waited_;
    std::size_t size_;
    std::size_t waiting_;
    std::exception_ptr last_creation_error_;
};

/// The pool was closed before or while the acquire waited.
class pool_closed : public pool_error {
  public:
    using pool_error::pool_error;
};

}  // namespace holdfast
