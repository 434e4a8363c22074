// `holdfast query`: one statement, its rows streamed to stdout as they arrive (S7, S10).
//
// SQLite is read step by step on the connection's own handle (the db layer's query() reads a
// whole result). PostgreSQL SELECT-like statements go through a cursor in a transaction,
// fetched 1000 rows at a time; other PostgreSQL statements (INSERT ... RETURNING, ...) are read
// whole, because a cursor can only run a query.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <holdfast/core.hpp>
#include <holdfast/db.hpp>
#include <holdfast/io.hpp>

namespace holdfast::cli {
namespace {

// Rows are formatted into a buffer handed to the writer in chunks of about this size: one
// write per chunk, not per row (stream_writer itself does not buffer).
constexpr std::size_t chunk_bytes = 64 * 1024;

void append_csv_field(std::string& out, std::string_view text) {
    if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
        out += text;
        return;
    }
    out += '"';
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

std::string display(const db::value& v) {
    if (v.is_null()) return {};
    if (v.kind() == db::value_kind::text) return v.get<std::string>();
    nlohmann::json j;
    db::to_json(j, v);
    return j.is_string() ? j.get<std::string>() : j.dump();
}

// Formats rows in one of the output formats into `buffer`.
class row_formatter {
  public:
    row_formatter(std::string format, std::string& buffer)
        : format_(std::move(format)), buffer_(buffer) {}

    void begin(const std::vector<std::string>& columns) {
        columns_ = columns;
        quoted_names_.clear();
        // A name that is not UTF-8 (SQLite takes any bytes) is printed with U+FFFD, not fatal.
        for (const auto& c : columns_)
            quoted_names_.push_back(
                nlohmann::json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        if (format_ == "csv") {
            for (std::size_t i = 0; i < columns_.size(); ++i) {
                if (i) buffer_ += ',';
                append_csv_field(buffer_, columns_[i]);
            }
            buffer_ += '\n';
        }
    }

    void row(const std::vector<db::value>& values) {
        if (format_ == "jsonl") {
            buffer_ += '{';
            for (std::size_t i = 0; i < values.size(); ++i) {
                if (i) buffer_ += ',';
                buffer_ += quoted_names_[i];
                buffer_ += ':';
                nlohmann::json j;
                db::to_json(j, values[i]);
                buffer_ += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            }
            buffer_ += "}\n";
        } else if (format_ == "csv") {
            for (std::size_t i = 0; i < values.size(); ++i) {
                if (i) buffer_ += ',';
                append_csv_field(buffer_, display(values[i]));
            }
            buffer_ += '\n';
        } else {  // table: sized by the widest cell, so every row is kept until the end
            std::vector<std::string> cells;
            for (const auto& v : values) {
                std::string cell = v.is_null() ? "NULL" : display(v);
                // One line per row: control characters would break the columns.
                for (std::size_t at = 0;
                     (at = cell.find_first_of("\n\r\t", at)) != std::string::npos;)
                    cell.replace(at, 1,
                                 cell[at] == '\n'   ? "\\n"
                                 : cell[at] == '\r' ? "\\r"
                                                    : "\\t"),
                        at += 2;
                cells.push_back(std::move(cell));
            }
            table_.push_back(std::move(cells));
        }
    }

    void end() {
        if (format_ != "table") return;
        std::vector<std::size_t> widths;
        for (const auto& c : columns_) widths.push_back(c.size());
        for (const auto& r : table_) {
            for (std::size_t i = 0; i < r.size() && i < widths.size(); ++i)
                widths[i] = std::max(widths[i], r[i].size());
        }
        auto line = [&](const std::vector<std::string>& cells) {
            for (std::size_t i = 0; i < cells.size(); ++i) {
                if (i) buffer_ += " | ";
                buffer_ += cells[i];
                if (i + 1 < cells.size()) buffer_.append(widths[i] - cells[i].size(), ' ');
            }
            buffer_ += '\n';
        };
        line(columns_);
        for (std::size_t i = 0; i < widths.size(); ++i) {
            if (i) buffer_ += "-+-";
            buffer_.append(widths[i], '-');
        }
        buffer_ += '\n';
        for (const auto& r : table_) line(r);
        buffer_ +=
            "(" + std::to_string(table_.size()) + (table_.size() == 1 ? " row)\n" : " rows)\n");
    }

  private:
    std::string format_;
    std::string& buffer_;
    std::vector<std::string> columns_;
    std::vector<std::string> quoted_names_;
    std::vector<std::vector<std::string>> table_;
};

struct statement_deleter {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};

[[noreturn]] void throw_sqlite(sqlite3* handle, std::string_view sql) {
    const int code = sqlite3_extended_errcode(handle);
    std::string message =
        "sqlite: " + std::string(sqlite3_errmsg(handle)) + " in statement: " + std::string(sql);
    const int primary = code & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) throw error(exit_temporary, message);
    if (primary == SQLITE_CANTOPEN || primary == SQLITE_NOTADB)
        throw error(exit_unavailable, message);
    throw error(exit_data, message);
}

// SQLite, step by step: a chunk leaves as soon as it is full, and the first one as soon as the
// first row is there (time to first byte).
generator<std::string_view> sqlite_chunks(sqlite::connection& conn, const query_options& options) {
    sqlite3* handle = conn.native_handle();
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(handle, options.sql.c_str(), static_cast<int>(options.sql.size()), &raw,
                           &tail) != SQLITE_OK) {
        throw_sqlite(handle, options.sql);
    }
    std::unique_ptr<sqlite3_stmt, statement_deleter> statement(raw);
    if (!statement) throw error(exit_usage, "the statement is empty");
    if (std::string_view rest(tail); rest.find_first_not_of(" \t\r\n;") != std::string_view::npos)
        throw error(exit_usage, "query runs one statement; found more after the first");
    const int expected = sqlite3_bind_parameter_count(raw);
    if (static_cast<std::size_t>(expected) != options.params.size()) {
        throw error(exit_usage, "the statement has " + std::to_string(expected) +
                                    " parameter(s), " + std::to_string(options.params.size()) +
                                    " given");
    }
    for (std::size_t i = 0; i < options.params.size(); ++i) {
        sqlite3_bind_text(raw, static_cast<int>(i + 1), options.params[i].data(),
                          static_cast<int>(options.params[i].size()), SQLITE_TRANSIENT);
    }
    std::vector<std::string> columns;
    const int column_count = sqlite3_column_count(raw);
    for (int i = 0; i < column_count; ++i) columns.emplace_back(sqlite3_column_name(raw, i));

    std::string buffer;
    row_formatter format(options.format, buffer);
    format.begin(columns);
    std::vector<db::value> values(static_cast<std::size_t>(column_count));
    bool first = true;
    for (;;) {
        const int rc = sqlite3_step(raw);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) throw_sqlite(handle, options.sql);
        for (int i = 0; i < column_count; ++i) {
            auto& v = values[static_cast<std::size_t>(i)];
            switch (sqlite3_column_type(raw, i)) {
                case SQLITE_INTEGER:
                    v = db::value(static_cast<std::int64_t>(sqlite3_column_int64(raw, i)));
                    break;
                case SQLITE_FLOAT:
                    v = db::value(sqlite3_column_double(raw, i));
                    break;
                case SQLITE_TEXT:
                    v = db::value(
                        std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(raw, i)),
                                         static_cast<std::size_t>(sqlite3_column_bytes(raw, i))));
                    break;
                case SQLITE_BLOB: {
                    const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(raw, i));
                    v = db::value(db::blob(
                        data, data + static_cast<std::size_t>(sqlite3_column_bytes(raw, i))));
                    break;
                }
                default:
                    v = db::value();
            }
        }
        format.row(values);
        if (first || buffer.size() >= chunk_bytes) {
            first = false;
            std::string_view chunk = buffer;
            co_yield chunk;
            buffer.clear();
        }
    }
    format.end();
    if (!buffer.empty()) {
        std::string_view chunk = buffer;
        co_yield chunk;
    }
}

bool is_query_like(std::string_view sql) {
    std::size_t i = 0;
    while (i < sql.size() && (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '('))
        ++i;
    std::string word;
    while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])))
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i++])));
    return word == "select" || word == "with" || word == "values" || word == "table";
}

// PostgreSQL: a cursor, so rows arrive 1000 at a time and memory stays bounded; one chunk per
// batch.
generator<std::string_view> pg_chunks(db::connection& conn, const query_options& options) {
    std::vector<db::param> params(options.params.begin(), options.params.end());
    std::string buffer;
    row_formatter format(options.format, buffer);
    if (!is_query_like(options.sql)) {
        const auto whole = conn.query_params(options.sql, params);
        format.begin(whole.columns());
        for (const auto& r : whole) format.row(r.values());
        format.end();
        std::string_view chunk = buffer;
        co_yield chunk;
        co_return;
    }
    db::transaction tx(conn, {.read_only = false});
    const std::string declare = "DECLARE holdfast_query NO SCROLL CURSOR FOR " + options.sql;
    conn.execute_params(declare, params);
    bool begun = false;
    for (;;) {
        const auto batch = conn.query("FETCH FORWARD 1000 FROM holdfast_query");
        if (!begun) {
            format.begin(batch.columns());
            begun = true;
        }
        for (const auto& r : batch) format.row(r.values());
        if (batch.empty()) break;
        std::string_view chunk = buffer;
        if (options.format != "table") {
            co_yield chunk;
            buffer.clear();
        }
    }
    format.end();
    tx.commit();  // nothing written; committing just ends the cursor cleanly
    if (!buffer.empty()) {
        std::string_view chunk = buffer;
        co_yield chunk;
    }
}

}  // namespace

int run_query(const query_options& options) {
    auto conn = connect_quietly(options.dsn);
    auto chunks =
        conn.as_sqlite() ? sqlite_chunks(*conn.as_sqlite(), options) : pg_chunks(conn, options);
    std::string metrics;
    bool reader_left = false;
    // S7: a reader that leaves (`| head -1`) ends the stream quietly; other write errors
    // (a full disk behind `> file`) propagate.
    [[maybe_unused]] const bool completed = holdfast::with(
        io::stream_writer(io::fd_sink::standard_output()), [&](io::stream_writer& out) {
            auto measured = with_metrics(std::move(chunks));  // S10
            for (std::string_view chunk : measured) {
                out.write(chunk);
                if (out.disconnected()) {
                    reader_left = true;
                    return;  // stop producing: nobody reads
                }
            }
            metrics = to_json(measured.result());
        });
    if (options.metrics && !reader_left) std::cerr << metrics << '\n';
    return exit_ok;
}

}  // namespace holdfast::cli
