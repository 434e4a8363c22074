// holdfast/db/transaction.hpp — S5 (sync): a transaction that commits or rolls back exactly
// once, as an RAII object, a context manager, or a function.
//
//   // RAII: rolls back in the destructor unless committed.
//   {
//       holdfast::db::transaction tx(conn, {.isolation = db::isolation_level::serializable});
//       conn.execute("INSERT INTO users (name) VALUES ($1)", name);
//       {
//           auto sp = tx.savepoint();      // nested: the same rules
//           conn.execute("INSERT INTO newsletter (name) VALUES ($1)", name);
//           sp.commit();                   // not reached on error: back to the savepoint
//       }
//       try {
//           tx.commit();                   // both rows, or (exception above) neither
//       } catch (const holdfast::db::serialization_failure&) {
//           // lost a race: tx.state() is rolled_back, nothing to undo; retry from the top
//       }
//   }
//   // Context manager: commits when the body returns, rolls back when it throws.
//   holdfast::with(holdfast::db::transaction(conn), [&](auto& c) { c.execute(...); });
//   // Function: returns the body's result.
//   auto id = holdfast::db::transact(conn, [&](auto& c) {
//       return c.query_one("INSERT ... RETURNING id", name).template get<int>(0);
//   });
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/with.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/db/transaction_options.hpp>

namespace holdfast::db {

/// What db::transaction needs from a connection: every connection type of the library
/// (sqlite::connection, pg::connection, db::connection) models it.
template <class C>
concept transactional_connection = requires(C& c, const C& cc, const transaction_options& o,
                                            std::string_view sql) {
    { cc.begin_statement(o) } -> std::convertible_to<std::string>;
    c.execute_unprepared(sql);
    { cc.transaction_status() } -> std::same_as<transaction_status>;
    { cc.is_broken() } -> std::same_as<bool>;
    { cc.is_open() } -> std::same_as<bool>;
    { cc.backend_name() } -> std::convertible_to<std::string_view>;
};

/// The states of a transaction or savepoint. Every transition happens exactly once.
enum class transaction_state {
    /// Begun, not finished: the destructor will roll back.
    active,
    /// commit() succeeded.
    committed,
    /// rollback() ran (explicitly, from the destructor, from exit(e), or because commit
    /// failed and the transaction had to be rolled back).
    rolled_back,
    /// The connection broke or closed first: the server discarded the work; nothing more
    /// is sent.
    abandoned,
    /// The connection was lost while COMMIT was in flight: the server may have committed or
    /// not, and no answer will come. Only a new connection can tell (look for the work).
    in_doubt,
};

std::string_view to_string(transaction_state state) noexcept;

namespace detail {

// The shared state machine of transactions and savepoints: one finish, ever.
template <class Connection>
class transaction_scope {
  public:
    transaction_scope(const transaction_scope&) = delete;
    transaction_scope& operator=(const transaction_scope&) = delete;

    transaction_state state() const noexcept { return state_; }
    bool is_active() const noexcept { return state_ == transaction_state::active; }
    Connection& connection() const noexcept { return *conn_; }

  protected:
    explicit transaction_scope(Connection& conn) noexcept : conn_(&conn) {}

    // Sends `sql` to finish the scope successfully; `ends_transaction` for COMMIT: losing
    // the connection meanwhile then leaves the outcome unknown.
    void finish_commit(std::string_view what, std::string_view sql, bool ends_transaction) {
        if (state_ != transaction_state::active) {
            throw_usage_error(conn_->backend_name(), std::string(what) + "() on a " +
                                                         std::string(kind_name()) + " that is " +
                                                         std::string(to_string(state_)));
        }
        if (!conn_->is_open() || conn_->is_broken()) {
            state_ = transaction_state::abandoned;
            throw_closed_error(conn_->backend_name(), what);
        }
        if (conn_->transaction_status() == transaction_status::failed) {
            // PostgreSQL would answer COMMIT with a silent ROLLBACK: make it loud.
            rollback_now();
            throw_usage_error(conn_->backend_name(),
                              std::string(what) + "() on a " + std::string(kind_name()) +
                                  " aborted by an earlier error: it was rolled back");
        }
        try {
            conn_->execute_unprepared(sql);
        } catch (...) {
            // A failed COMMIT may leave the transaction open (SQLite BUSY): close it now so
            // the state is known, keeping the COMMIT error as the one the caller sees.
            if (conn_->is_open() && !conn_->is_broken() &&
                conn_->transaction_status() != transaction_status::idle) {
                try {
                    rollback_now();
                } catch (...) {
                    report_current_cleanup_error("db::transaction: rollback after failed commit");
                }
            }
            if (state_ == transaction_state::active) {
                // A lost RELEASE SAVEPOINT commits nothing: the enclosing transaction can no
                // longer commit either.
                state_ = !conn_->is_broken() ? transaction_state::rolled_back
                         : ends_transaction  ? transaction_state::in_doubt
                                             : transaction_state::abandoned;
            }
            throw;
        }
        state_ = transaction_state::committed;
    }

    void finish_rollback() {
        if (state_ == transaction_state::committed) {
            throw_usage_error(conn_->backend_name(),
                              "rollback() on a " + std::string(kind_name()) + " that is committed");
        }
        if (state_ != transaction_state::active) return;  // exactly once
        rollback_now();
    }

    // Destructor path: roll back if still active; errors go to the cleanup handler.
    void rollback_quietly(std::string_view where) noexcept {
        if (state_ != transaction_state::active) return;
        try {
            rollback_now();
        } catch (...) {
            report_current_cleanup_error(where);
        }
    }

    virtual std::string_view kind_name() const noexcept = 0;
    virtual void send_rollback() = 0;
    ~transaction_scope() = default;

  private:
    void rollback_now() {
        if (!conn_->is_open() || conn_->is_broken()) {
            state_ = transaction_state::abandoned;  // the server already discarded it
            return;
        }
        if (conn_->transaction_status() == transaction_status::idle) {
            // The database ended the transaction itself (SQLite rolls back on its own after
            // an I/O error, a full disk or running out of memory): a ROLLBACK would only fail.
            state_ = transaction_state::rolled_back;
            return;
        }
        try {
            send_rollback();
        } catch (...) {
            state_ =
                conn_->is_broken() ? transaction_state::abandoned : transaction_state::rolled_back;
            throw;
        }
        state_ = transaction_state::rolled_back;
    }

    Connection* conn_;
    transaction_state state_ = transaction_state::active;
};

}  // namespace detail

template <transactional_connection Connection>
class transaction;

/// A savepoint inside a transaction (or inside another savepoint): `SAVEPOINT`, then
/// `RELEASE SAVEPOINT` on commit() or `ROLLBACK TO SAVEPOINT` + `RELEASE` on rollback() and
/// in the destructor unless committed. Rolling it back keeps the enclosing work.
///
/// @par Exception safety
/// commit()/rollback() throw db::error; the destructor never throws (errors go to the
/// cleanup error handler).
/// @par Object lifetimes
/// Must not outlive its transaction. Not copyable or movable: it is bound to one scope.
template <transactional_connection Connection>
class [[nodiscard]] savepoint final : public detail::transaction_scope<Connection> {
  public:
    ~savepoint() {
        if (this->is_active() && owner_->is_active()) {
            this->rollback_quietly("db::savepoint destructor");
        }
    }

    /// RELEASE SAVEPOINT: the work since the savepoint becomes part of the enclosing scope.
    ///
    /// @par Errors
    /// usage_error when not active; the backend's db::error when RELEASE fails.
    void commit() { this->finish_commit("commit", "RELEASE SAVEPOINT " + name_, false); }

    /// ROLLBACK TO SAVEPOINT: undoes the work since the savepoint, keeps the enclosing work.
    /// A no-op when already rolled back.
    void rollback() { this->finish_rollback(); }

    /// A savepoint nested in this one (SQL savepoints nest by creation order).
    savepoint nested() { return savepoint(*owner_); }

    const std::string& name() const noexcept { return name_; }

    /// Context-manager protocol: enter returns the connection; exit releases on success and
    /// rolls back (reporting a failed rollback to the cleanup handler) on an exception.
    Connection& enter() noexcept { return this->connection(); }
    void exit(std::exception_ptr e) {
        if (!e) {
            commit();
        } else {
            this->rollback_quietly("db::savepoint exit");
        }
    }

  private:
    friend class transaction<Connection>;
    explicit savepoint(transaction<Connection>& owner)
        : detail::transaction_scope<Connection>(owner.connection()),
          owner_(&owner),
          name_("holdfast_sp_" + std::to_string(++owner.savepoint_counter_)) {
        this->connection().execute_unprepared("SAVEPOINT " + name_);
    }
    std::string_view kind_name() const noexcept override { return "savepoint"; }
    void send_rollback() override {
        this->connection().execute_unprepared("ROLLBACK TO SAVEPOINT " + name_);
        this->connection().execute_unprepared("RELEASE SAVEPOINT " + name_);
    }

    transaction<Connection>* owner_;
    std::string name_;
};

/// A database transaction: begins in the constructor, rolls back in the destructor unless
/// commit() or rollback() finished it first — exactly once (a rolled-back transaction never
/// sends ROLLBACK again). Works with any connection type (CTAD: `db::transaction tx(conn)`).
///
/// @par Preconditions
/// The connection is open and not already in a transaction (use savepoint() to nest).
/// @par Exception safety
/// The constructor, commit() and rollback() throw db::error; when commit() fails the
/// transaction is rolled back before the error propagates, so its state is known — unless
/// the connection was lost while COMMIT was in flight: the state is then `in_doubt` (the
/// server may have committed; a new connection can tell). The destructor never throws: a
/// failed rollback goes to the cleanup error handler. If the connection broke before,
/// nothing is sent and the state becomes `abandoned` (the server already discarded the
/// work).
/// @par Thread safety
/// Like its connection: one thread at a time.
/// @par Object lifetimes
/// Holds a reference to the connection, which must outlive it. Not copyable or movable.
template <transactional_connection Connection>
class [[nodiscard]] transaction final : public detail::transaction_scope<Connection> {
  public:
    [[nodiscard]] explicit transaction(Connection& conn, transaction_options options = {})
        : detail::transaction_scope<Connection>(conn) {
        conn.execute_unprepared(conn.begin_statement(options));
    }

    ~transaction() { this->rollback_quietly("db::transaction destructor"); }

    /// COMMIT.
    ///
    /// @par Errors
    /// usage_error when not active or when an earlier error aborted the transaction (it is
    /// rolled back, never silently "committed"); serialization_failure, constraint_error,
    /// connection_error, ... from the server. After any error the state is rolled_back,
    /// abandoned, or in_doubt when the connection was lost during COMMIT.
    void commit() { this->finish_commit("commit", "COMMIT", true); }

    /// ROLLBACK. A no-op when already rolled back, abandoned or in doubt.
    ///
    /// @par Errors
    /// usage_error after commit(); the backend's error when ROLLBACK itself fails (the state
    /// is then rolled_back or abandoned all the same).
    void rollback() { this->finish_rollback(); }

    /// Starts a nested savepoint.
    holdfast::db::savepoint<Connection> savepoint() {
        return holdfast::db::savepoint<Connection>(*this);
    }

    /// Context-manager protocol: enter returns the connection; exit commits on success and
    /// rolls back on an exception (a failed rollback goes to the cleanup error handler, the
    /// body's exception propagates).
    Connection& enter() noexcept { return this->connection(); }
    void exit(std::exception_ptr e) {
        if (!e) {
            commit();
        } else {
            this->rollback_quietly("db::transaction exit");
        }
    }

  private:
    friend class holdfast::db::savepoint<Connection>;
    std::string_view kind_name() const noexcept override { return "transaction"; }
    void send_rollback() override { this->connection().execute_unprepared("ROLLBACK"); }

    unsigned savepoint_counter_ = 0;
};

template <class Connection>
transaction(Connection&, transaction_options = {}) -> transaction<Connection>;

/// Runs `body(conn)` in a transaction: commits when it returns, rolls back when it throws
/// (the exception propagates). Returns the body's result.
template <transactional_connection Connection, class Body>
decltype(auto) transact(Connection& conn, Body&& body, transaction_options options = {}) {
    return holdfast::with(transaction<Connection>(conn, options), std::forward<Body>(body));
}

}  // namespace holdfast::db
