// holdfast/db/dsn.hpp — which database a connection string names, and how to print it safely.
//
//   auto d = holdfast::db::parse_dsn("postgresql://app:s3cret@db1,db2/shop"
//                                     "?target_session_attrs=read-write");
//   // d.backend == backend_kind::postgresql; d.target is handed to libpq unchanged
//   log.info("connecting to {}", holdfast::db::redact_dsn(d.target));
//   //   → postgresql://app:***@db1,db2/shop?target_session_attrs=read-write
//   holdfast::db::parse_dsn("mysql://x");   // dsn_error: unsupported scheme "mysql" ...
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <holdfast/db/error.hpp>

namespace holdfast::db {

enum class backend_kind { sqlite, postgresql };

/// A classified connection string.
struct dsn {
    backend_kind backend;
    /// SQLite: the file path, or ":memory:". PostgreSQL: the whole string, for libpq.
    std::string target;
};

/// Classifies a connection string:
/// - `sqlite:PATH` (also `sqlite://PATH`), `sqlite::memory:` → SQLite;
/// - `postgresql://...`, `postgres://...`, or a libpq key=value conninfo ("host=a,b
///   dbname=x target_session_attrs=read-write") → PostgreSQL. Multi-host lists and every
///   libpq option pass through untouched; libpq validates the options when connecting.
///
/// @par Errors
/// dsn_error naming what is wrong: an empty string, an empty SQLite path, an unknown
/// scheme, or text that is neither a URI nor key=value pairs. The message quotes the DSN
/// redacted.
dsn parse_dsn(std::string_view text);

/// The connection string with any password replaced by "***": the `user:password@` part of
/// a URI (also when the password holds unencoded `?`, `#`, `@` or `/`), a `password=` or
/// `sslpassword=` query parameter, and a `password=` or `sslpassword=` key in key=value form
/// (quoted or not). Everything that prints a DSN uses it.
std::string redact_dsn(std::string_view text);

/// `text` with every occurrence of `secret` replaced by "***" (no-op for an empty secret):
/// the last line of defence for server messages that might echo a password.
std::string scrub_secret(std::string_view text, std::string_view secret);

namespace detail {

/// The texts redact_dsn() replaces, as written in `text` (not decoded): what a backend must
/// scrub from a parser's message that quotes the connection string.
std::vector<std::string> dsn_secrets(std::string_view text);

/// The text between `user:` and `@` of a URI, as written, when there is one (redact_dsn()'s
/// view, which may be wider than libpq's when the password is not encoded).
std::optional<std::string> uri_password(std::string_view text);

}  // namespace detail

}  // namespace holdfast::db
