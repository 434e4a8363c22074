// holdfast/pg/batch.hpp — statements sent to PostgreSQL together, in one round trip (libpq's
// pipeline mode), and run as one unit.
//
//   holdfast::pg::batch updates;
//   for (const auto& [id, email] : changes)
//       updates.add("UPDATE users SET email = $2 WHERE id = $1", id, email);
//   std::vector<holdfast::db::result> done = co_await conn.async_execute_batch(updates);
//   // done[i].rows_affected() for the i-th statement; all of them committed, or none.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <holdfast/db/value.hpp>

namespace holdfast::pg {

/// A list of statements with their parameters, for async_connection::async_execute_batch()
/// and db::async_pool::execute_batch().
///
/// The batch owns copies of the parameters, so it can be built in one place and run later,
/// and run again. Statements take `$1, $2, ...` parameters like every other statement; they
/// go through the connection's prepared-statement cache.
///
/// @par Thread safety
/// None: build it on one thread; running it only reads it.
class batch {
  public:
    /// Appends a statement; the parameters are copied (db::value).
    template <class... Params>
    batch& add(std::string_view sql, const Params&... params) {
        statements_.push_back(statement{.sql = std::string(sql),
                                        .first_value = values_.size(),
                                        .value_count = sizeof...(Params)});
        (values_.emplace_back(params), ...);
        return *this;
    }
    std::size_t size() const noexcept { return statements_.size(); }
    bool empty() const noexcept { return statements_.empty(); }
    /// Removes every statement; keeps the memory for the next round.
    void clear() noexcept {
        statements_.clear();
        values_.clear();
    }

    /// The i-th statement's SQL text.
    std::string_view sql(std::size_t i) const { return statements_[i].sql; }
    /// The i-th statement's parameters, as they will be bound.
    std::span<const db::value> values(std::size_t i) const {
        const auto& s = statements_[i];
        return std::span<const db::value>(values_).subspan(s.first_value, s.value_count);
    }

  private:
    struct statement {
        std::string sql;
        std::size_t first_value = 0;
        std::size_t value_count = 0;
    };
    std::vector<statement> statements_;
    std::vector<db::value> values_;
};

}  // namespace holdfast::pg
