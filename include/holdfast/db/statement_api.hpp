// holdfast/db/statement_api.hpp — execute/query/query_one with bound parameters, for every
// connection type (sqlite::connection, pg::connection, db::connection).
//
//   // Parameters are bound, never spliced into the SQL: the hostile string is stored as is.
//   conn.execute("INSERT INTO users (name) VALUES ($1)", "'; DROP TABLE users; --");
//   auto n = conn.query_one("SELECT count(*) FROM users").get<std::int64_t>(0);
//   conn.query_one("SELECT * FROM users WHERE id = $1", 42);   // usage_error if not 1 row
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include <holdfast/db/result.hpp>
#include <holdfast/db/value.hpp>

namespace holdfast::db {

/// Adds the variadic statement functions to a connection class (CRTP). The derived class
/// provides `std::int64_t execute_params(std::string_view, std::span<const param>)` and
/// `result query_params(std::string_view, std::span<const param>)`.
template <class Connection>
class statement_api {
  public:
    /// Runs a statement that returns no rows; returns the number of rows it changed.
    /// Each argument binds to the placeholder of the same position ($1, $2, ... or ?).
    template <class... Params>
    std::int64_t execute(std::string_view sql, const Params&... params) {
        const std::array<param, sizeof...(Params)> bound{param(params)...};
        return self().execute_params(sql, std::span<const param>(bound));
    }

    /// Runs a statement and reads all its rows.
    template <class... Params>
    result query(std::string_view sql, const Params&... params) {
        const std::array<param, sizeof...(Params)> bound{param(params)...};
        return self().query_params(sql, std::span<const param>(bound));
    }

    /// Runs a query that must return exactly one row, and returns it.
    ///
    /// @par Errors
    /// usage_error "expected exactly one row, got N" (plus the errors of query()).
    template <class... Params>
    row query_one(std::string_view sql, const Params&... params) {
        auto rows = query(sql, params...);
        return rows.one();
    }

  private:
    Connection& self() noexcept { return static_cast<Connection&>(*this); }
};

}  // namespace holdfast::db
