// holdfast/db/transaction_options.hpp — how a transaction begins: isolation, read-only,
// deferrable; and the transaction state a connection reports.
//
//   holdfast::db::transaction tx(conn, {.isolation = holdfast::db::isolation_level::serializable,
//                                       .read_only = true, .deferrable = true});
//   if (conn.transaction_status() == holdfast::db::transaction_status::failed) {
//       // PostgreSQL: an error aborted it; tx.commit() would throw usage_error
//   }
#pragma once

#include <string_view>

namespace holdfast::db {

/// SQL isolation levels. SQLite is always serializable and ignores the level.
enum class isolation_level { server_default, read_committed, repeatable_read, serializable };

/// Options of db::transaction.
///
/// SQLite: a read-write transaction begins with `BEGIN IMMEDIATE` (takes the write lock up
/// front, so two writers wait on busy_timeout instead of deadlocking on lock upgrade); a
/// read-only one with `BEGIN DEFERRED`. PostgreSQL: `BEGIN ISOLATION LEVEL ... READ ONLY
/// DEFERRABLE` as given.
struct transaction_options {
    isolation_level isolation = isolation_level::server_default;
    bool read_only = false;
    /// PostgreSQL only, and only meaningful for serializable read-only transactions.
    bool deferrable = false;
};

/// The connection's view of transactions (PQtransactionStatus, sqlite3_get_autocommit).
enum class transaction_status {
    /// Not in a transaction.
    idle,
    /// Inside a transaction that can still commit.
    in_transaction,
    /// Inside a transaction that an error aborted (PostgreSQL): only ROLLBACK is possible.
    failed,
};

std::string_view to_string(isolation_level level) noexcept;

}  // namespace holdfast::db
