// Private: the state behind pg::connection, shared with copy_writer.cpp.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <libpq-fe.h>

#include <holdfast/db/error.hpp>
#include <holdfast/db/row.hpp>
#include <holdfast/pg/connection.hpp>

namespace holdfast::pg {

inline constexpr std::string_view backend = "postgresql";

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

struct prepared_statement {
    std::string sql;
    std::string name;
    int parameter_count = 0;
    // The result shape seen last, reused while it matches: saves allocating the column names
    // for every query of a hot statement.
    std::shared_ptr<const db::column_list> columns{};
    std::vector<Oid> types{};
};

struct connection::impl {
    std::string conninfo;
    std::string password;  // only to scrub it from messages
    options opts;
    PGconn* handle = nullptr;
    bool broken = false;
    bool copy_active = false;
    unsigned long long statement_counter = 0;
    std::list<prepared_statement> lru;  // most recently used first
    std::unordered_map<std::string, std::list<prepared_statement>::iterator, string_hash,
                       std::equal_to<>>
        by_sql;
    // Scratch space for parameter conversion, reused across calls.
    std::string arena;
    std::vector<std::size_t> offsets;
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;

    ~impl() { close(); }
    void close() noexcept;

    // Checks the connection can run a statement now.
    PGconn* ready(std::string_view operation);
    // Throws the db::error for a failed result (and clears it); marks the connection broken
    // when the server connection was lost.
    [[noreturn]] void throw_result_error(PGresult* res, std::string_view sql);
    // The libpq message for a failure without a result (or a connect failure).
    std::string connection_message() const;
    // Fills values/lengths/formats for `params`: text format (NUL terminated) for all but
    // blobs, which go in binary format without a copy.
    void convert_params(std::span<const db::param> params);
    // Runs a statement with the extended protocol, through the statement cache if enabled.
    PGresult* run(std::string_view sql, std::span<const db::param> params,
                  std::string_view operation);
    // Converts a successful result to rows, reusing the column list cached with the
    // statement at the front of the cache when the shape matches.
    db::result make_result(const PGresult* res, std::string_view sql);
};

// Shared with async_connection.cpp.
// An error field of a result ("" when absent or when res is null).
std::string field(const PGresult* res, int code);
// The password in `conninfo` (to scrub it from messages); db::dsn_error when unparsable.
std::string password_of(const std::string& conninfo);
// The row count of a command (INSERT/UPDATE/DELETE/SELECT ...).
std::int64_t rows_affected(const PGresult* res);

// RAII for PGresult.
struct result_ptr {
    PGresult* res;
    explicit result_ptr(PGresult* r) noexcept : res(r) {}
    result_ptr(const result_ptr&) = delete;
    result_ptr& operator=(const result_ptr&) = delete;
    ~result_ptr() {
        if (res) PQclear(res);
    }
    PGresult* release() noexcept {
        auto* r = res;
        res = nullptr;
        return r;
    }
};

}  // namespace holdfast::pg
