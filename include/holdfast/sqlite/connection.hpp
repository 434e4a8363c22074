// holdfast/sqlite/connection.hpp — a SQLite database connection (S2): RAII, explicit
// connect()/close(), and a context manager.
//
//   // with: connects on enter, closes on exit — also when the body throws.
//   holdfast::with(holdfast::sqlite::connection("app.db"), [](auto& db) {
//       db.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT UNIQUE)");
//       db.execute("INSERT INTO users (email) VALUES (?)", "ann@example.com");
//   });
//   // manual management
//   holdfast::sqlite::connection db("app.db");
//   db.connect();
//   try {
//       db.execute("INSERT INTO users (email) VALUES ($1)", "ann@example.com");
//   } catch (const holdfast::db::unique_violation& e) {
//       // e.sqlstate() == "23505", e.backend_code() == SQLITE_CONSTRAINT_UNIQUE
//   }
//   db.close();                                   // or let the destructor do it
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <holdfast/db/result.hpp>
#include <holdfast/db/statement_api.hpp>
#include <holdfast/db/transaction_options.hpp>
#include <holdfast/db/value.hpp>

struct sqlite3;

namespace holdfast::sqlite {

/// How a connection is opened. The defaults suit a service: WAL for concurrent readers, a
/// busy timeout instead of immediate SQLITE_BUSY, and enforced foreign keys.
struct options {
    /// How long a statement waits for another connection's lock before SQLITE_BUSY
    /// (reported as db::timeout_error).
    std::chrono::milliseconds busy_timeout{5000};
    /// `PRAGMA journal_mode=WAL` (files only; in-memory databases ignore it) together with
    /// `synchronous=NORMAL`, the durable-on-checkpoint setting WAL is designed for.
    bool write_ahead_log = true;
    /// `PRAGMA foreign_keys=ON` (SQLite's default is OFF for compatibility).
    bool foreign_keys = true;
    /// Prepared statements kept per connection, least recently used evicted first.
    /// 0 disables the cache (every call prepares and finalizes).
    std::size_t statement_cache_size = 64;
    /// Open read-only (SQLITE_OPEN_READONLY): writes fail, the file must exist.
    bool read_only = false;
};

/// A connection to one SQLite database file (or ":memory:").
///
/// Statements take parameters by position: `?`, `?NNN` and `$1`-style placeholders (`$2`
/// binds the second argument wherever it appears). Parameters are always bound, never
/// interpolated. Statements are prepared once and cached (see options).
///
/// @par Exception safety
/// connect(), close() and the statement functions throw db::error subclasses
/// (unique_violation, constraint_error, timeout_error for SQLITE_BUSY, closed_error when not
/// connected, usage_error for misuse). The destructor closes and never throws.
/// @par Thread safety
/// One thread at a time (the handle is opened with SQLITE_OPEN_NOMUTEX). Distinct
/// connections may be used concurrently, also to the same file.
/// @par Object lifetimes
/// Move-only; a moved-from connection is closed and may only be destroyed or assigned to.
class connection : public db::statement_api<connection> {
  public:
    /// Remembers the path; does not open it (call connect() or use it as a context manager).
    /// `path` is a file path or ":memory:"; a "sqlite:" DSN prefix is accepted too.
    explicit connection(std::string path, options opts = {});
    ~connection();
    connection(connection&& other) noexcept;
    connection& operator=(connection&& other) noexcept;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Opens the database and applies the options. A no-op when already open.
    ///
    /// @par Errors
    /// db::connection_error "cannot open database "<path>": <reason>" (the file cannot be
    /// created, or is not a database).
    void connect();
    /// Finalizes the cached statements and closes (sqlite3_close_v2). A no-op when closed.
    void close() noexcept;
    bool is_open() const noexcept;
    /// SQLite connections do not break: always false (kept for the common connection API).
    bool is_broken() const noexcept { return false; }

    /// Runs one statement with bound parameters; returns the number of rows changed.
    /// (Called by execute(sql, params...).)
    std::int64_t execute_params(std::string_view sql, std::span<const db::param> params);
    /// Runs one statement with bound parameters and reads all rows.
    db::result query_params(std::string_view sql, std::span<const db::param> params);
    /// Runs SQL text without parameters and without caching; it may hold several
    /// statements separated by ';' (schema scripts, transaction control).
    void execute_unprepared(std::string_view sql);

    /// The BEGIN statement for `options`: `BEGIN IMMEDIATE` for read-write transactions,
    /// `BEGIN DEFERRED` for read-only ones (isolation and deferrable do not apply: SQLite is
    /// always serializable).
    std::string begin_statement(const db::transaction_options& options) const;
    db::transaction_status transaction_status() const;
    std::string_view backend_name() const noexcept { return "sqlite"; }

    /// The rowid of the most recent successful INSERT on this connection.
    std::int64_t last_insert_rowid() const;
    /// Statements currently held by the prepared-statement cache.
    std::size_t cached_statements() const noexcept;
    const std::string& path() const noexcept;
    /// The raw handle (null when closed) for what this class does not cover, e.g.
    /// sqlite3_trace_v2. Do not close it.
    sqlite3* native_handle() const noexcept;

    /// Context-manager protocol: enter connects when not yet connected and returns *this;
    /// exit closes, on success and on error alike.
    connection& enter() {
        connect();
        return *this;
    }
    void exit(std::exception_ptr) noexcept { close(); }

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Opens `path` (a file path, ":memory:", or a "sqlite:" DSN) and returns the connection.
connection connect(std::string_view path, options opts = {});

}  // namespace holdfast::sqlite
