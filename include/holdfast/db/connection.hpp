// holdfast/db/connection.hpp — one connection type for every backend, chosen by the DSN.
//
//   // S2 with `with`: connected by db::connect, closed when the body ends or throws.
//   auto n = holdfast::with(holdfast::db::connect(dsn), [](holdfast::db::connection& db) {
//       return db.query_one("SELECT count(*) FROM users").get<std::int64_t>(0);
//   });
//   // S2 by hand.
//   holdfast::db::connection db(dsn);           // dsn_error here if the DSN is malformed
//   db.connect();                               // connection_error (no password in it)
//   try { db.execute("UPDATE users SET seen = $1 WHERE id = $2", now, id); }
//   catch (const holdfast::db::error& e) { log.error("{}", e.what()); }
//   db.close();
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <holdfast/db/dsn.hpp>
#include <holdfast/db/result.hpp>
#include <holdfast/db/statement_api.hpp>
#include <holdfast/db/transaction_options.hpp>
#include <holdfast/db/value.hpp>

namespace holdfast::sqlite {
class connection;
}
namespace holdfast::pg {
class connection;
}

namespace holdfast::db {

/// The operations a backend connection provides to db::connection (type erasure). The
/// library implements it for sqlite::connection and pg::connection.
class connection_backend {
  public:
    virtual ~connection_backend() = default;
    virtual void connect() = 0;
    virtual void close() noexcept = 0;
    virtual bool is_open() const noexcept = 0;
    virtual bool is_broken() const noexcept = 0;
    virtual std::int64_t execute_params(std::string_view sql, std::span<const param> params) = 0;
    virtual result query_params(std::string_view sql, std::span<const param> params) = 0;
    virtual void execute_unprepared(std::string_view sql) = 0;
    virtual std::string begin_statement(const transaction_options& options) const = 0;
    virtual db::transaction_status transaction_status() const = 0;
    virtual std::string_view backend_name() const noexcept = 0;
    virtual void* native_connection() noexcept = 0;
};

/// A connection to whichever database the DSN names (see parse_dsn()), with the API of the
/// backend connections: connect/close, execute/query/query_one with bound parameters
/// (`$1`... on both backends; `?` on SQLite), transactions (db::transaction works on it),
/// and the context-manager protocol.
///
/// @par Exception safety
/// As the backend's: db::error subclasses from every operation but close() and the
/// destructor, which never throw.
/// @par Thread safety
/// One thread at a time.
/// @par Object lifetimes
/// Move-only; a moved-from connection may only be destroyed or assigned to.
class connection : public statement_api<connection> {
  public:
    /// Parses the DSN and prepares the backend; does not connect.
    ///
    /// @par Errors
    /// dsn_error naming what is wrong with the DSN.
    explicit connection(std::string_view dsn);
    ~connection();
    connection(connection&&) noexcept;
    connection& operator=(connection&&) noexcept;

    void connect();
    void close() noexcept;
    bool is_open() const noexcept;
    bool is_broken() const noexcept;
    std::int64_t execute_params(std::string_view sql, std::span<const param> params);
    result query_params(std::string_view sql, std::span<const param> params);
    void execute_unprepared(std::string_view sql);
    std::string begin_statement(const transaction_options& options) const;
    db::transaction_status transaction_status() const;
    /// "sqlite" or "postgresql".
    std::string_view backend_name() const noexcept;
    backend_kind backend() const noexcept { return kind_; }

    /// The backend connection when it is that backend, else null (for backend-only features
    /// such as pg::connection::copy_in()).
    sqlite::connection* as_sqlite() noexcept;
    pg::connection* as_pg() noexcept;

    /// Context-manager protocol: enter connects when not yet connected (or broken) and
    /// returns *this; exit closes.
    connection& enter() {
        if (!is_open() || is_broken()) connect();
        return *this;
    }
    void exit(std::exception_ptr) noexcept { close(); }

  private:
    backend_kind kind_;
    std::unique_ptr<connection_backend> impl_;
};

/// Parses `dsn`, connects, and returns the connection.
///
/// @par Errors
/// dsn_error for a malformed DSN; connection_error when the database cannot be reached.
connection connect(std::string_view dsn);

}  // namespace holdfast::db
