// holdfast/db/row.hpp — one row of a query result: values addressed by index or column name.
//
//   auto user = conn.query_one("SELECT id, name, deleted_at FROM users WHERE id = $1", id);
//   std::int64_t uid = user.get<std::int64_t>("id");
//   std::optional<holdfast::db::timestamp> deleted = user.get<std::optional<db::timestamp>>(2);
//   nlohmann::json j = user.to_json();       // {"id": 7, "name": "Zoë", "deleted_at": null}
//   user.get<int>("nmae");                   // usage_error: no column "nmae" (columns: id, ...)
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <holdfast/db/value.hpp>

namespace holdfast::db {

/// The column names of a result, shared by all its rows.
using column_list = std::vector<std::string>;

/// A row of values with the column names of its result.
///
/// @par Errors
/// get<T>() throws usage_error for an index out of range, an unknown column name, NULL read
/// as a non-optional type, or a value of another kind (see value::get()).
/// @par Object lifetimes
/// Owns its values; shares the column names with the other rows of its result, so a row may
/// outlive the result it came from.
class row {
  public:
    row(std::shared_ptr<const column_list> columns, std::vector<value> values) noexcept
        : columns_(std::move(columns)), values_(std::move(values)) {}

    std::size_t size() const noexcept { return values_.size(); }
    const column_list& columns() const noexcept { return *columns_; }
    const std::vector<value>& values() const noexcept { return values_; }

    const value& at(std::size_t index) const;
    const value& at(std::string_view column) const;
    const value& operator[](std::size_t index) const { return at(index); }
    const value& operator[](std::string_view column) const { return at(column); }

    template <class T>
    T get(std::size_t index) const {
        return at(index).get<T>();
    }
    template <class T>
    T get(std::string_view column) const {
        return at(column).get<T>();
    }

    /// Column name → value (Python's dict(row)). Duplicate names keep the last column.
    std::map<std::string, value> to_map() const;
    /// A JSON object: integers, numbers, strings, booleans, null; blobs as base64 strings;
    /// timestamps as ISO 8601 strings. Include <nlohmann/json.hpp> to use the result.
    nlohmann::json to_json() const;

  private:
    std::shared_ptr<const column_list> columns_;
    std::vector<value> values_;
};

/// nlohmann::json conversion of one value (see row::to_json()).
void to_json(nlohmann::json& j, const value& v);

}  // namespace holdfast::db
