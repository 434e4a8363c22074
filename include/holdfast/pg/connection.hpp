// holdfast/pg/connection.hpp — a PostgreSQL connection on libpq (S2): RAII, explicit
// connect()/close(), a context manager, prepared statements, and COPY.
//
//   holdfast::pg::connection pg("postgresql://app:secret@db1,db2/shop"
//                               "?target_session_attrs=read-write");
//   pg.connect();             // connection_error on failure; what() never shows "secret"
//   try {
//       pg.execute("INSERT INTO users (email) VALUES ($1)", email);
//   } catch (const holdfast::db::unique_violation& e) {        // SQLSTATE 23505
//       log.info("exists: {}", e.detail());
//   } catch (const holdfast::db::connection_error&) {
//       // pg.is_broken(): the server went away (class 08, 57P01..57P03); reconnect
//       pg.connect();
//   }
//   pg.close();               // or let the destructor do it
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <holdfast/db/result.hpp>
#include <holdfast/db/statement_api.hpp>
#include <holdfast/db/transaction_options.hpp>
#include <holdfast/db/value.hpp>

struct pg_conn;

namespace holdfast::pg {

class copy_writer;
class async_connection;

/// How a connection behaves. Everything about the server connection itself (hosts,
/// target_session_attrs, sslmode, connect_timeout, ...) belongs in the conninfo string.
struct options {
    /// Named prepared statements kept per connection (PQprepare + PQexecPrepared), least
    /// recently used deallocated first. 0 turns the cache off and every statement goes
    /// through PQexecParams (unnamed statement): required behind pgbouncer in transaction
    /// pooling mode, which cannot carry named prepared statements across transactions.
    std::size_t statement_cache_size = 64;
};

/// A connection to a PostgreSQL server.
///
/// Parameters are `$1`, `$2`, ... and always travel separately from the SQL (extended
/// protocol), as text — binary for blobs. Results are read in text format and converted by
/// column type: int2/4/8 and oid → integer, float4/8 → real, bool → boolean, bytea → blob,
/// timestamp/timestamptz → timestamp (UTC), everything else (numeric, date, json, ...) →
/// text, so no precision is lost.
///
/// @par Exception safety
/// Everything but the destructor and close() throws db::error subclasses: connection_error
/// (and the connection becomes is_broken()) for class 08, 57P01..57P03 or a lost socket;
/// unique_violation / foreign_key_violation / constraint_error for class 23;
/// serialization_failure for 40001/40P01; timeout_error for 57014/55P03; closed_error when
/// not connected; usage_error for misuse (wrong parameter count, COPY in progress).
/// @par Thread safety
/// One thread at a time.
/// @par Errors
/// No message ever contains the password: DSNs are printed through db::redact_dsn() and the
/// password is scrubbed from libpq's connect errors.
/// @par Object lifetimes
/// Move-only; a moved-from connection may only be destroyed or assigned to. A copy_writer
/// must not outlive its connection.
class connection : public db::statement_api<connection> {
  public:
    /// Remembers the conninfo (a postgresql:// URI or key=value pairs); does not connect.
    explicit connection(std::string conninfo, options opts = {});
    ~connection();
    connection(connection&& other) noexcept;
    connection& operator=(connection&& other) noexcept;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Connects (blocking PQconnectdb). A no-op when connected; a broken connection is
    /// closed and connected afresh.
    ///
    /// @par Errors
    /// db::dsn_error naming the bad conninfo option; db::connection_error with the server's
    /// reason (SQLSTATE 08001), password scrubbed.
    void connect();
    /// Closes (PQfinish). Never throws; a no-op when closed.
    void close() noexcept;
    bool is_open() const noexcept;
    /// The server connection was lost; only close() or connect() make sense now.
    bool is_broken() const noexcept;

    std::int64_t execute_params(std::string_view sql, std::span<const db::param> params);
    db::result query_params(std::string_view sql, std::span<const db::param> params);
    /// Runs SQL text through the simple query protocol: no parameters, no preparation,
    /// several statements allowed.
    void execute_unprepared(std::string_view sql);

    /// `BEGIN [ISOLATION LEVEL ...] [READ ONLY] [DEFERRABLE]`.
    std::string begin_statement(const db::transaction_options& options) const;
    db::transaction_status transaction_status() const;
    std::string_view backend_name() const noexcept { return "postgresql"; }

    /// Starts `COPY table (columns...) FROM STDIN` and returns the writer that feeds it.
    /// `table` may be schema-qualified ("public.users"); names are quoted as identifiers.
    /// Until the writer finishes or aborts, other statements on this connection throw
    /// usage_error.
    copy_writer copy_in(std::string_view table, const std::vector<std::string>& columns = {});

    /// The server process serving this connection (for pg_terminate_backend / pg_cancel).
    int backend_pid() const;
    std::size_t cached_statements() const noexcept;
    /// The conninfo with the password replaced by "***".
    std::string redacted_conninfo() const;
    /// The raw handle (null when closed), e.g. for PQsetNoticeProcessor. Do not PQfinish it.
    pg_conn* native_handle() const noexcept;

    /// Context-manager protocol: enter connects when not yet connected and returns *this;
    /// exit closes, on success and on error alike.
    connection& enter() {
        if (!is_open() || is_broken()) connect();
        return *this;
    }
    void exit(std::exception_ptr) noexcept { close(); }

  private:
    friend class copy_writer;
    friend class async_connection;  // reuses impl: statement cache, errors, conversions
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Connects to `conninfo` and returns the connection.
connection connect(std::string_view conninfo, options opts = {});

}  // namespace holdfast::pg
