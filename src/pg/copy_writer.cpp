#include <charconv>
#include <cmath>

#include "pg/connection_impl.hpp"

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/pg/copy_writer.hpp>

namespace holdfast::pg {

namespace {

constexpr std::size_t flush_threshold = 64 * 1024;

// COPY text format: backslash escapes for the delimiter (tab), newlines and backslash.
void append_escaped(std::string& out, std::string_view text) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const char* escape = nullptr;
        switch (c) {
            case '\\':
                escape = "\\\\";
                break;
            case '\t':
                escape = "\\t";
                break;
            case '\n':
                escape = "\\n";
                break;
            case '\r':
                escape = "\\r";
                break;
            default:
                continue;
        }
        out.append(text.substr(start, i - start));
        out += escape;
        start = i + 1;
    }
    out.append(text.substr(start));
}

void append_bytea(std::string& out, std::span<const std::byte> bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    out += "\\\\x";  // bytea's "\x" prefix, with the backslash escaped for COPY
    for (auto b : bytes) {
        const auto v = std::to_integer<unsigned>(b);
        out += hex[v >> 4];
        out += hex[v & 15];
    }
}

}  // namespace

copy_writer::copy_writer(copy_writer&& other) noexcept
    : conn_(other.conn_),
      buffer_(std::move(other.buffer_)),
      active_(std::exchange(other.active_, false)),
      rows_written_(other.rows_written_) {}

copy_writer::~copy_writer() {
    if (active_) abort("copy_writer destroyed before finish()");
}

void copy_writer::write_row_params(std::span<const db::param> row) {
    if (!active_) db::throw_usage_error(backend, "write_row() on a COPY that is over");
    for (std::size_t i = 0; i < row.size(); ++i) {
        if (i) buffer_ += '\t';
        const auto& p = row[i];
        switch (p.kind()) {
            case db::value_kind::null:
                buffer_ += "\\N";
                break;
            case db::value_kind::integer: {
                char digits[24];
                auto r = std::to_chars(digits, digits + sizeof digits, p.integer());
                buffer_.append(digits, r.ptr);
                break;
            }
            case db::value_kind::boolean:
                buffer_ += p.boolean() ? 't' : 'f';
                break;
            case db::value_kind::real: {
                const double d = p.real();
                if (std::isnan(d)) {
                    buffer_ += "NaN";
                } else if (std::isinf(d)) {
                    buffer_ += d > 0 ? "Infinity" : "-Infinity";
                } else {
                    char digits[32];
                    auto r = std::to_chars(digits, digits + sizeof digits, d);
                    buffer_.append(digits, r.ptr);
                }
                break;
            }
            case db::value_kind::text:
                append_escaped(buffer_, p.text());
                break;
            case db::value_kind::binary:
                append_bytea(buffer_, p.bytes());
                break;
            case db::value_kind::datetime:
                buffer_ += db::format_timestamp(p.time());
                buffer_ += "+00";
                break;
        }
    }
    buffer_ += '\n';
    ++rows_written_;
    if (buffer_.size() >= flush_threshold) flush();
}

void copy_writer::write_raw(std::string_view data) {
    if (!active_) db::throw_usage_error(backend, "write_raw() on a COPY that is over");
    buffer_ += data;
    if (buffer_.size() >= flush_threshold) flush();
}

void copy_writer::flush() {
    if (buffer_.empty()) return;
    auto& c = *conn_;
    if (PQputCopyData(c.handle, buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
        active_ = false;
        c.copy_active = false;
        c.throw_result_error(PQgetResult(c.handle), "COPY FROM STDIN");
    }
    buffer_.clear();
}

std::int64_t copy_writer::finish() {
    if (!active_) db::throw_usage_error(backend, "finish() on a COPY that is over");
    auto& c = *conn_;
    flush();
    active_ = false;
    c.copy_active = false;
    if (PQputCopyEnd(c.handle, nullptr) != 1) {
        c.throw_result_error(PQgetResult(c.handle), "COPY FROM STDIN");
    }
    result_ptr res(PQgetResult(c.handle));
    while (PGresult* extra = PQgetResult(c.handle)) PQclear(extra);
    if (PQresultStatus(res.res) != PGRES_COMMAND_OK) {
        c.throw_result_error(res.release(), "COPY FROM STDIN");
    }
    const char* tuples = PQcmdTuples(res.res);
    std::int64_t n = 0;
    if (tuples) std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), n);
    return n;
}

void copy_writer::abort(std::string_view reason) noexcept {
    if (!active_) return;
    active_ = false;
    buffer_.clear();
    auto& c = *conn_;
    c.copy_active = false;
    if (c.handle == nullptr) return;
    const std::string message(reason);
    if (PQputCopyEnd(c.handle, message.c_str()) != 1) {
        c.broken = PQstatus(c.handle) == CONNECTION_BAD;
    }
    // The server answers with the expected "COPY from stdin failed" error: drain it.
    while (PGresult* res = PQgetResult(c.handle)) PQclear(res);
    if (PQstatus(c.handle) == CONNECTION_BAD) c.broken = true;
}

}  // namespace holdfast::pg
