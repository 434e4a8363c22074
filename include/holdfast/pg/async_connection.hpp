// holdfast/pg/async_connection.hpp — a PostgreSQL connection driven by Asio: libpq's
// non-blocking mode on the connection's socket, C++20 awaitables, cancellation that leaves
// the connection usable, and async transactions (S5).
//
//   using namespace asio::experimental::awaitable_operators;
//   holdfast::pg::async_connection conn(co_await asio::this_coro::executor, dsn);
//   co_await conn.async_connect();
//   auto users = co_await conn.async_query("SELECT * FROM users WHERE active = $1", true);
//
//   // A statement that outlives its deadline is cancelled on the server (a cancel request)
//   // and the connection is drained, so it can run the next statement at once.
//   asio::steady_timer deadline(executor, 1s);
//   co_await (conn.async_execute("SELECT pg_sleep(10)") || deadline.async_wait(use_awaitable));
//
//   // S5: BEGIN; COMMIT on success; ROLLBACK on an exception or a cancellation.
//   co_await conn.transaction([&](auto& tx) -> asio::awaitable<void> {
//       co_await tx.async_execute("INSERT INTO users (email) VALUES ($1)", email);
//       co_await tx.async_execute("INSERT INTO audit_log (action) VALUES ('signup')");
//   });
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <holdfast/async/async_with.hpp>
#include <holdfast/db/result.hpp>
#include <holdfast/db/transaction_options.hpp>
#include <holdfast/db/value.hpp>
#include <holdfast/pg/batch.hpp>
#include <holdfast/pg/connection.hpp>

struct pg_conn;

namespace holdfast::pg {

class async_connection;

/// How an async_connection behaves beyond pg::options.
struct async_options {
    /// The statement cache and everything else the synchronous connection has.
    options connection{};
    /// How long a cancelled statement may take to end after the cancel request before the
    /// connection is given up (closed, is_broken()) instead of drained.
    std::chrono::milliseconds cancel_timeout = std::chrono::seconds(5);
    /// The longest async_connect() may take; 0 waits as long as the network does. libpq
    /// ignores the conninfo's connect_timeout in non-blocking connects, so async_connect()
    /// applies it itself: the conninfo's value when it has one, else this one.
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
};

/// An asynchronous PostgreSQL transaction: an async context manager (S5).
///
/// async_enter runs `BEGIN [options]` — or `SAVEPOINT` when the connection is already inside
/// a transaction, so transactions nest — and yields the connection. async_exit runs `COMMIT`
/// (`RELEASE SAVEPOINT`) when the body succeeded and `ROLLBACK` (`ROLLBACK TO SAVEPOINT`)
/// when it threw or was cancelled; holdfast::async_with shields the exit from the
/// cancellation, so a timed-out body still rolls back.
///
/// @par Errors
/// A failing COMMIT propagates (async_with rethrows it); PostgreSQL has then ended the
/// transaction and the connection is idle. When the body returns normally after catching an
/// error that aborted the transaction, PostgreSQL would turn COMMIT into a silent ROLLBACK:
/// async_exit rolls back and throws db::usage_error instead, as db::transaction::commit()
/// does, so a caller never takes discarded work for committed. A failing ROLLBACK does not
/// replace the body's exception: the connection is closed instead (is_open() is false), so a
/// pool destroys it rather than hand out a connection in an unknown transaction state. A
/// BEGIN cancelled after the server ran it is rolled back before the cancellation propagates.
/// @par Object lifetimes
/// The connection must outlive the manager.
class async_transaction {
  public:
    explicit async_transaction(async_connection& conn, db::transaction_options options = {})
        : conn_(&conn), options_(options) {}

    asio::awaitable<std::reference_wrapper<async_connection>> async_enter();
    asio::awaitable<void> async_exit(std::exception_ptr error);

  private:
    async_connection* conn_;
    db::transaction_options options_;
    // 0: this manager opened the transaction; n > 0: it opened savepoint holdfast_sp_n.
    int savepoint_ = -1;
};

/// A connection to a PostgreSQL server whose statements are Asio asynchronous operations.
///
/// Statements behave as pg::connection's: `$1, $2, ...` parameters sent separately from the
/// SQL, the same prepared-statement cache, the same value conversions, the same SQLSTATE →
/// db::error mapping (connection_error for class 08 and 57P01..57P03, after which
/// is_broken() is true).
///
/// @par Cancellation
/// Every operation honours per-operation cancellation (asio::bind_cancellation_slot, the `||`
/// of asio::experimental::awaitable_operators). A statement in flight is then cancelled on
/// the server: libpq 15's PQcancel blocks (it opens a new connection to the server), so it
/// runs on a short-lived detached thread while this coroutine waits through the executor,
/// first for the server to take the request (so that a request still on its way can never
/// cancel the connection's next statement), then for the statement to end.
/// Once the server has ended the statement the operation completes with
/// `asio::error::operation_aborted` (a std::system_error, so holdfast::is_cancellation()
/// recognizes it) and the connection is ready for the next statement — inside a transaction,
/// that transaction is now failed and must be rolled back. When the server does not end it
/// within async_options::cancel_timeout, the connection is closed and is_broken().
/// A cancelled async_connect() closes the half-open connection.
///
/// @par Thread safety
/// One operation at a time (usage_error otherwise), from one strand.
/// @par Object lifetimes
/// Move-only; the executor's execution context must outlive the connection. libpq owns the
/// socket and may close it on its own (when the server ends the session): the connection
/// waits on a duplicate of it (one more descriptor per open connection), which only the
/// connection closes, so a socket number libpq gave up and another connection reuses is never
/// touched.
class async_connection {
  public:
    using executor_type = asio::any_io_executor;

    /// Remembers the conninfo (a postgresql:// URI or key=value pairs); does not connect.
    async_connection(executor_type executor, std::string conninfo, async_options opts = {});
    ~async_connection();
    async_connection(async_connection&& other) noexcept;
    async_connection& operator=(async_connection&& other) noexcept;
    async_connection(const async_connection&) = delete;
    async_connection& operator=(const async_connection&) = delete;

    /// Connects without blocking the executor (PQconnectStartParams / PQconnectPoll). A no-op
    /// when connected; a broken connection is closed and connected afresh. Takes at most the
    /// connect timeout (async_options::connect_timeout, or connect_timeout in the conninfo).
    ///
    /// @par Errors
    /// db::dsn_error for a bad conninfo; db::connection_error (08001), password scrubbed,
    /// also when the connect timeout expires.
    asio::awaitable<void> async_connect();
    /// Connects with libpq's blocking PQconnectdb (honours connect_timeout), then switches to
    /// non-blocking mode. For synchronous factories such as pool<T>'s.
    void connect();
    /// Closes (PQfinish). Never throws; a no-op when closed.
    void close() noexcept;
    bool is_open() const noexcept;
    /// The server connection was lost or a cancelled statement did not end in time.
    bool is_broken() const noexcept;
    /// An operation is in progress.
    bool is_busy() const noexcept;
    /// Reads whatever the server sent, without waiting (PQconsumeInput on the non-blocking
    /// socket): false when the connection is closed, broken, busy, or the server has closed
    /// it meanwhile (pg_terminate_backend, a restart) — the cheap check a pool runs before
    /// handing out a connection that sat idle.
    bool check_alive() noexcept;

    /// Runs a statement and reads all its rows.
    template <class... Params>
    asio::awaitable<db::result> async_query(std::string_view sql, const Params&... params) {
        return query_array(sql, std::array<db::param, sizeof...(Params)>{db::param(params)...});
    }
    /// Runs a statement that returns no rows; yields the number of rows it changed.
    template <class... Params>
    asio::awaitable<std::int64_t> async_execute(std::string_view sql, const Params&... params) {
        return execute_array(sql, std::array<db::param, sizeof...(Params)>{db::param(params)...});
    }
    /// async_query with the parameters as a span; they must stay valid until it completes.
    asio::awaitable<db::result> async_query_params(std::string_view sql,
                                                   std::span<const db::param> params);
    /// async_execute with the parameters as a span; they must stay valid until it completes.
    asio::awaitable<std::int64_t> async_execute_params(std::string_view sql,
                                                       std::span<const db::param> params);
    /// Runs SQL text through the simple query protocol: no parameters, no preparation,
    /// several statements allowed (BEGIN, COMMIT, SET ...).
    asio::awaitable<void> async_execute_unprepared(std::string_view sql);

    /// Runs every statement of `statements` in one round trip (libpq pipeline mode: all of
    /// them and one Sync are sent before the first result is read) and yields their results
    /// in order. The server runs them as one unit: outside a transaction as one implicit
    /// transaction that commits at the end; inside one, as part of it.
    ///
    /// @par Errors
    /// The first failing statement's db::error, its statement() reading "batch statement
    /// k of n: <sql>"; the server skipped the statements after it and nothing of the batch is
    /// committed (inside a transaction, that transaction is now failed). The connection is
    /// ready for the next statement. COPY is refused (usage_error; the connection is closed).
    /// A cancellation drains the whole pipeline, as for a single statement.
    asio::awaitable<std::vector<db::result>> async_execute_batch(const batch& statements);

    /// Runs `body(*this)` inside an async_transaction:
    /// `co_await async_with(async_transaction(*this, options), body)`.
    template <class Body>
    auto transaction(Body body, db::transaction_options options = {}) {
        return holdfast::async_with(async_transaction(*this, options), std::move(body));
    }

    /// PQtransactionStatus: idle, in_transaction (also while a statement runs), failed.
    db::transaction_status transaction_status() const noexcept;
    /// The server process serving this connection (for pg_terminate_backend / pg_cancel).
    int backend_pid() const;
    std::size_t cached_statements() const noexcept;
    /// The conninfo with the password replaced by "***".
    std::string redacted_conninfo() const;
    executor_type get_executor() const noexcept;
    /// The raw handle (null when closed). Do not PQfinish it or change its blocking mode.
    pg_conn* native_handle() const noexcept;

  private:
    friend class async_transaction;
    template <std::size_t N>
    asio::awaitable<db::result> query_array(std::string_view sql, std::array<db::param, N> p) {
        // The array lives in this coroutine frame for the whole operation.
        db::result r = co_await async_query_params(sql, std::span<const db::param>(p));
        co_return r;
    }
    template <std::size_t N>
    asio::awaitable<std::int64_t> execute_array(std::string_view sql, std::array<db::param, N> p) {
        const std::int64_t n = co_await async_execute_params(sql, std::span<const db::param>(p));
        co_return n;
    }
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Connects to `conninfo` asynchronously and yields the connection.
asio::awaitable<async_connection> async_connect(asio::any_io_executor executor,
                                                std::string conninfo, async_options opts = {});

}  // namespace holdfast::pg
