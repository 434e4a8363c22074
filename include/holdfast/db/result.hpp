// holdfast/db/result.hpp — the rows a statement returned, and how many rows it changed.
//
//   holdfast::db::result users = conn.query("SELECT id, email FROM users ORDER BY id");
//   for (const auto& u : users) std::println("{} {}", u.get<int>(0), u.get<std::string>(1));
//   nlohmann::json page = users.to_json();      // [{"id": 1, "email": "..."}, ...] (S3)
//   users.one();                                // usage_error unless exactly one row
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <holdfast/db/row.hpp>

namespace holdfast::db {

/// A fully read query result: its column names, rows, and the count of rows affected
/// (INSERT/UPDATE/DELETE; for SELECT the number of rows returned).
///
/// @par Object lifetimes
/// Owns everything; nothing refers back to the connection.
class result {
  public:
    result() : columns_(std::make_shared<column_list>()) {}
    result(std::shared_ptr<const column_list> columns, std::vector<row> rows,
           std::int64_t rows_affected) noexcept
        : columns_(std::move(columns)), rows_(std::move(rows)), rows_affected_(rows_affected) {}

    const column_list& columns() const noexcept { return *columns_; }
    const std::vector<row>& rows() const noexcept { return rows_; }
    /// Moves the rows out (db::async_pool::execute returns them without a copy).
    std::vector<row> take_rows() && noexcept { return std::move(rows_); }
    std::int64_t rows_affected() const noexcept { return rows_affected_; }
    std::size_t size() const noexcept { return rows_.size(); }
    bool empty() const noexcept { return rows_.empty(); }
    auto begin() const noexcept { return rows_.begin(); }
    auto end() const noexcept { return rows_.end(); }
    const row& operator[](std::size_t i) const { return rows_[i]; }

    /// The only row.
    ///
    /// @par Errors
    /// usage_error "expected exactly one row, got N".
    const row& one() const;

    /// A JSON array of row objects: S3's `list[dict]` shape.
    nlohmann::json to_json() const;

  private:
    std::shared_ptr<const column_list> columns_;
    std::vector<row> rows_;
    std::int64_t rows_affected_ = 0;
};

}  // namespace holdfast::db
