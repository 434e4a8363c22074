// holdfast/db/async_pool.hpp — S3's AsyncDatabasePool: a pool of asynchronous PostgreSQL
// connections on holdfast::pool<pg::async_connection>.
//
//   holdfast::db::async_pool users_db(executor, dsn, {.min_size = 1, .max_size = 10});
//   co_await holdfast::async_with(   // named, not a temporary: see docs/async.md on g++ 12
//       std::move(users_db), [](holdfast::db::async_pool& pool) -> asio::awaitable<void> {
//           auto users = co_await pool.execute("SELECT * FROM users WHERE active = $1", true);
//           for (const auto& user : users) std::cout << user.to_json() << '\n';
//           co_await pool.transaction([](holdfast::pg::async_connection& tx)
//                                         -> asio::awaitable<void> {
//               co_await tx.async_execute("UPDATE users SET active = false WHERE id = $1", 7);
//           });
//       });
#pragma once

#include <array>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <holdfast/async/async_context_manager.hpp>
#include <holdfast/db/result.hpp>
#include <holdfast/db/row.hpp>
#include <holdfast/db/transaction_options.hpp>
#include <holdfast/db/value.hpp>
#include <holdfast/pg/async_connection.hpp>
#include <holdfast/pg/batch.hpp>
#include <holdfast/pool/pool.hpp>

namespace holdfast::db {

/// A pool of pg::async_connection with S3's interface. An async context manager: async_enter
/// opens the pool (and, when min_size > 0, waits for a first connection, so a wrong DSN fails
/// there), async_exit closes it and waits until every connection is closed.
///
/// Returned connections are checked before anyone else can get one (pool_hooks::reset): a
/// connection that is not idle — inside a transaction (even after a cancel during BEGIN), in
/// a failed one, still busy, broken — is destroyed, never handed out. A statement that fails
/// with a connection_error (SQLSTATE class 08, 57P01..57P03) discards its connection; the
/// next statement gets a new one. Every acquire checks its connection without a round trip
/// (pg::async_connection::check_alive(); pool_options::validate_after_idle does not apply),
/// so one the server closed meanwhile is replaced before the caller sees it.
///
/// Connections are opened by an asynchronous factory (pg::async_connection::async_connect(),
/// bounded by pg::async_options::connect_timeout or the DSN's connect_timeout) on the pool's
/// executor: a connect in progress occupies no thread, so an unreachable server delays only
/// the acquires that need a new connection, each by at most its acquire_timeout.
///
/// @par Thread safety
/// acquire(), execute(), execute_batch() and transaction() may be called from any thread;
/// one pool<T> underneath. open(), close() and stats() must not run concurrently with each
/// other (close() resets the pool stats() reads). On a multi-threaded io_context, run each
/// calling coroutine on a strand (asio::make_strand): Asio 1.22 requires a cancellation, such
/// as an `||` timeout's, to be emitted on the strand of the operation it cancels.
/// @par Object lifetimes
/// The executor's execution context must outlive the pool and every operation on it.
class async_pool {
  public:
    using lease = holdfast::lease<pg::async_connection>;

    /// Remembers the settings; the pool opens in async_enter() or open().
    async_pool(asio::any_io_executor executor, std::string dsn, pool_options options = {},
               pg::async_options connection_options = {});
    async_pool(async_pool&&) noexcept;
    async_pool& operator=(async_pool&&) = delete;
    ~async_pool();

    /// Opens the pool now (no-op when open); when min_size > 0, waits for one connection.
    ///
    /// @par Errors
    /// The first connection's db::connection_error / db::dsn_error.
    asio::awaitable<void> open();
    /// Closes the pool and completes once every connection is closed (S3's `pool.close()`).
    asio::awaitable<void> close();
    asio::awaitable<std::reference_wrapper<async_pool>> async_enter();
    asio::awaitable<void> async_exit(std::exception_ptr error);

    /// Leases a connection (pool_timeout after acquire_timeout; pool_closed).
    asio::awaitable<lease> acquire();

    /// Runs a statement on a pooled connection and returns its rows (S3's `list[dict]`:
    /// each row has to_map() and to_json()).
    template <class... Params>
    asio::awaitable<std::vector<row>> execute(std::string_view sql, const Params&... params) {
        return execute_array(sql, std::array<param, sizeof...(Params)>{param(params)...});
    }
    /// execute() with the parameters as a span; they must stay valid until it completes.
    asio::awaitable<std::vector<row>> execute_params(std::string_view sql,
                                                     std::span<const param> params);

    /// Runs the statements of `statements` on one pooled connection in one round trip and
    /// yields their results in order (pg::async_connection::async_execute_batch: all of them
    /// are committed, or none).
    asio::awaitable<std::vector<result>> execute_batch(const pg::batch& statements);

    /// Runs `body(connection)` in a transaction on one pooled connection: BEGIN, COMMIT on
    /// success, ROLLBACK on an exception or a cancellation (pg::async_transaction).
    template <class Body>
    asio::awaitable<typename holdfast::detail::awaitable_traits<
        std::invoke_result_t<Body&, pg::async_connection&>>::value_type>
    transaction(Body body, transaction_options options = {}) {
        lease conn = co_await acquire();
        discard_if_broken guard{&conn};
        co_return co_await conn->transaction(std::move(body), options);
    }

    /// Gauges and counters of the underlying pool<T> (all zero before open()).
    pool_stats stats() const;
    bool is_open() const noexcept;

  private:
    // A connection lost while leased is destroyed (closed_broken), not reset.
    struct discard_if_broken {
        lease* conn;
        ~discard_if_broken() {
            if (*conn && (*conn)->is_broken()) conn->discard();
        }
    };
    template <std::size_t N>
    asio::awaitable<std::vector<row>> execute_array(std::string_view sql,
                                                    std::array<param, N> params) {
        // The array lives in this coroutine frame for the whole statement.
        std::vector<row> rows = co_await execute_params(sql, std::span<const param>(params));
        co_return rows;
    }
    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace holdfast::db
