// holdfast/db/error.hpp — the database error hierarchy shared by every backend.
//
//   try {
//       conn.execute("INSERT INTO users (email) VALUES ($1)", email);
//   } catch (const holdfast::db::unique_violation& e) {
//       // e.sqlstate() == "23505" on both backends; e.backend_code() is sqlite's extended
//       // code (2067 SQLITE_CONSTRAINT_UNIQUE) or 0 for PostgreSQL.
//       log.warn("already registered: {} ({})", e.server_message(), e.detail());
//   } catch (const holdfast::db::connection_error& e) {
//       // the connection is broken (conn.is_broken()): discard it and reconnect
//   }
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace holdfast::db {

/// What an error carries besides its class: everything needed to diagnose it, nothing that
/// could leak a secret (DSNs are redacted before they get here; see redact_dsn()).
struct error_info {
    /// "sqlite" or "postgresql".
    std::string backend{};
    /// Five-character SQLSTATE. PostgreSQL reports it; for SQLite the constraint classes are
    /// mapped to their SQLSTATE (23505 unique, 23503 foreign key, 23502 not null, 23514
    /// check, 23000 other) so portable code can test one field. Empty when unknown.
    std::string sqlstate{};
    /// sqlite3 extended result code; 0 for PostgreSQL.
    int backend_code = 0;
    /// The server's primary message (PostgreSQL) or sqlite3_errmsg().
    std::string message{};
    /// PostgreSQL's DETAIL field ("Key (email)=(a@b) already exists."), empty otherwise.
    std::string detail{};
    /// The failing statement's SQL text (parameters are never part of it), or empty.
    std::string statement{};
};

/// The base of every database error. what() reads
/// "<backend>: <message> [SQLSTATE xxxxx] (detail: ...) in statement: <sql>".
///
/// @par Errors
/// Never contains a password: connection strings are redacted and the password of a failed
/// connect is scrubbed from the server's message before the error is built.
class error : public std::runtime_error {
  public:
    explicit error(error_info info);

    const std::string& backend() const noexcept { return info_.backend; }
    const std::string& sqlstate() const noexcept { return info_.sqlstate; }
    int backend_code() const noexcept { return info_.backend_code; }
    const std::string& server_message() const noexcept { return info_.message; }
    const std::string& detail() const noexcept { return info_.detail; }
    const std::string& statement() const noexcept { return info_.statement; }
    const error_info& info() const noexcept { return info_; }

  private:
    error_info info_;
};

/// The connection could not be established or was lost (SQLSTATE class 08, 57P01..57P03,
/// SQLITE_CANTOPEN/NOTADB). After this error the connection reports is_broken().
class connection_error : public error {
    using error::error;
};

/// An integrity constraint was violated (SQLSTATE class 23, SQLITE_CONSTRAINT).
class constraint_error : public error {
    using error::error;
};

/// A unique or primary-key constraint was violated (23505, SQLITE_CONSTRAINT_UNIQUE and
/// SQLITE_CONSTRAINT_PRIMARYKEY).
class unique_violation : public constraint_error {
    using constraint_error::constraint_error;
};

/// A foreign-key constraint was violated (23503, SQLITE_CONSTRAINT_FOREIGNKEY).
class foreign_key_violation : public constraint_error {
    using constraint_error::constraint_error;
};

/// The transaction could not be serialized (40001) or was chosen as a deadlock victim
/// (40P01): the whole transaction is rolled back and may be retried.
class serialization_failure : public error {
    using error::error;
};

/// A wait ran out: statement_timeout / query cancelled (57014), lock_timeout (55P03), or
/// SQLite's busy timeout expired (SQLITE_BUSY, SQLITE_LOCKED).
class timeout_error : public error {
    using error::error;
};

/// The connection was used while not connected (never connected, or closed).
class closed_error : public error {
    using error::error;
};

/// The library was used wrongly: a malformed DSN, a wrong parameter count, reading a column
/// as a type it does not hold, a statement on a connection busy with COPY.
class usage_error : public error {
    using error::error;
};

/// A connection string that cannot be parsed; what() names what is wrong in it.
class dsn_error : public usage_error {
    using usage_error::usage_error;
};

/// Builds a usage_error for `backend` with `message` (helper for backends and facade).
[[noreturn]] void throw_usage_error(std::string_view backend, std::string message,
                                    std::string_view statement = {});

/// Builds a closed_error: "<backend>: <operation> on a connection that is not connected ...".
[[noreturn]] void throw_closed_error(std::string_view backend, std::string_view operation);

}  // namespace holdfast::db
