#include <charconv>
#include <cmath>
#include <cstring>

#include "pg/connection_impl.hpp"
#include "pg/decode.hpp"

#include <holdfast/db/dsn.hpp>
#include <holdfast/pg/connection.hpp>
#include <holdfast/pg/copy_writer.hpp>

namespace holdfast::pg {

namespace {

std::string trimmed(const char* text) {
    std::string s = text ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

bool connection_lost_state(std::string_view sqlstate) {
    return sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

template <class I>
void append_number(std::string& out, I value) {
    char buffer[32];
    auto r = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, r.ptr);
}

void append_real(std::string& out, double d) {
    if (std::isnan(d)) {
        out += "NaN";
    } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
    } else {
        append_number(out, d);
    }
}

std::string quote_identifier(PGconn* handle, std::string_view name) {
    std::string out;
    std::size_t start = 0;
    while (true) {
        const auto dot = name.find('.', start);
        const auto part = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
        char* quoted = PQescapeIdentifier(handle, part.data(), part.size());
        if (quoted == nullptr) {
            db::throw_usage_error(backend, "cannot quote identifier \"" + std::string(part) + "\"");
        }
        out += quoted;
        PQfreemem(quoted);
        if (dot == std::string_view::npos) break;
        out += '.';
        start = dot + 1;
    }
    return out;
}

}  // namespace

std::string field(const PGresult* res, int code) {
    const char* value = res ? PQresultErrorField(res, code) : nullptr;
    return value ? value : "";
}

namespace {

// %XX sequences decoded, as libpq decodes a URI's parts (invalid ones left as they are: libpq
// has refused those already).
std::string percent_decoded(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        unsigned value = 0;
        if (text[i] == '%' && i + 2 < text.size()) {
            const auto parsed =
                std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
            if (parsed.ec == std::errc{} && parsed.ptr == text.data() + i + 3) {
                out += static_cast<char>(value);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

std::string scrub_secrets(std::string message, const std::string& conninfo) {
    for (const auto& secret : db::detail::dsn_secrets(conninfo)) {
        message = db::scrub_secret(message, secret);
    }
    return message;
}

[[noreturn]] void invalid_conninfo(const std::string& conninfo, const std::string& why) {
    throw db::dsn_error(db::error_info{
        .backend = std::string(backend),
        .message = "invalid connection string \"" + db::redact_dsn(conninfo) + "\": " + why});
}

}  // namespace

// Parses the conninfo with libpq itself, so every form it accepts is accepted, and finds the
// password (to scrub it from messages later).
std::string password_of(const std::string& conninfo) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    if (options == nullptr) {
        std::string message = error ? trimmed(error) : "out of memory";
        if (error) PQfreemem(error);
        // libpq quotes the offending text, which may be the password ("invalid
        // percent-encoded token: \"...\"").
        invalid_conninfo(conninfo, scrub_secrets(std::move(message), conninfo));
    }
    std::string password;
    for (auto* o = options; o->keyword; ++o) {
        if (std::strcmp(o->keyword, "password") == 0 && o->val) password = o->val;
    }
    PQconninfoFree(options);
    // A password with an unencoded '/' or '@' is cut by libpq: the rest becomes a host, a
    // port or a database name, which its messages would quote. Refuse it before connecting.
    if (auto written = db::detail::uri_password(conninfo);
        written && !written->empty() && percent_decoded(*written) != password &&
        conninfo.find("password=") == std::string::npos) {
        invalid_conninfo(conninfo,
                         "the password in user:password@ is not read whole by libpq: "
                         "percent-encode '/' as %2F and '@' as %40");
    }
    return password;
}

std::int64_t rows_affected(const PGresult* res) {
    const char* tuples = PQcmdTuples(const_cast<PGresult*>(res));
    std::int64_t n = 0;
    if (tuples && *tuples) {
        std::from_chars(tuples, tuples + std::strlen(tuples), n);
        return n;
    }
    return PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;
}

void connection::impl::close() noexcept {
    if (handle) PQfinish(handle);
    handle = nullptr;
    broken = false;
    copy_active = false;
    lru.clear();
    by_sql.clear();
}

PGconn* connection::impl::ready(std::string_view operation) {
    if (handle == nullptr) db::throw_closed_error(backend, operation);
    if (broken) {
        throw db::connection_error(db::error_info{
            .backend = std::string(backend),
            .sqlstate = "08003",
            .message = std::string(operation) +
                       " on a broken connection (the server connection was lost): close() "
                       "it or connect() again"});
    }
    if (copy_active) {
        db::throw_usage_error(backend, std::string(operation) +
                                           " while a COPY is in progress on this connection: "
                                           "finish() or abort() the copy_writer first");
    }
    return handle;
}

std::string connection::impl::connection_message() const {
    return db::scrub_secret(trimmed(handle ? PQerrorMessage(handle) : "out of memory"), password);
}

void connection::impl::throw_result_error(PGresult* raw, std::string_view sql) {
    result_ptr res(raw);
    db::error_info info{.backend = std::string(backend), .statement = std::string(sql)};
    info.sqlstate = field(res.res, PG_DIAG_SQLSTATE);
    info.message = field(res.res, PG_DIAG_MESSAGE_PRIMARY);
    if (info.message.empty()) info.message = connection_message();
    info.message = db::scrub_secret(info.message, password);
    info.detail = db::scrub_secret(field(res.res, PG_DIAG_MESSAGE_DETAIL), password);
    const bool lost = PQstatus(handle) == CONNECTION_BAD || connection_lost_state(info.sqlstate);
    if (lost) {
        broken = true;
        if (info.sqlstate.empty()) info.sqlstate = "08006";  // connection_failure
        throw db::connection_error(std::move(info));
    }
    const std::string_view state = info.sqlstate;
    if (state == "23505") throw db::unique_violation(std::move(info));
    if (state == "23503") throw db::foreign_key_violation(std::move(info));
    if (state.starts_with("23")) throw db::constraint_error(std::move(info));
    if (state == "40001" || state == "40P01") throw db::serialization_failure(std::move(info));
    if (state == "57014" || state == "55P03") throw db::timeout_error(std::move(info));
    // 08P01 with a healthy connection: the bind did not match the statement.
    if (state == "08P01") throw db::usage_error(std::move(info));
    if (state.starts_with("08")) {
        broken = true;
        throw db::connection_error(std::move(info));
    }
    throw db::error(std::move(info));
}

connection::connection(std::string conninfo, options opts) : impl_(std::make_unique<impl>()) {
    impl_->conninfo = std::move(conninfo);
    impl_->opts = opts;
}

connection::~connection() = default;
connection::connection(connection&& other) noexcept = default;
connection& connection::operator=(connection&& other) noexcept = default;

void connection::connect() {
    if (!impl_) db::throw_usage_error(backend, "connect() on a moved-from connection");
    if (impl_->handle && !impl_->broken) return;
    impl_->close();
    impl_->password = password_of(impl_->conninfo);
    impl_->handle = PQconnectdb(impl_->conninfo.c_str());
    if (impl_->handle == nullptr || PQstatus(impl_->handle) != CONNECTION_OK) {
        std::string message = "cannot connect to \"" + db::redact_dsn(impl_->conninfo) +
                              "\": " + impl_->connection_message();
        impl_->close();
        throw db::connection_error(db::error_info{
            .backend = std::string(backend), .sqlstate = "08001", .message = std::move(message)});
    }
}

void connection::close() noexcept {
    if (impl_) impl_->close();
}

bool connection::is_open() const noexcept {
    return impl_ && impl_->handle;
}
bool connection::is_broken() const noexcept {
    return impl_ && impl_->broken;
}

// Converts params to libpq's arrays in the impl's scratch space: text format (NUL
// terminated) for everything but blobs, which go binary and uncopied.
void connection::impl::convert_params(std::span<const db::param> params) {
    auto& c = *this;
    const auto n = params.size();
    c.arena.clear();
    c.offsets.assign(n, 0);
    c.values.assign(n, nullptr);
    c.lengths.assign(n, 0);
    c.formats.assign(n, 0);
    constexpr std::size_t no_text = static_cast<std::size_t>(-1);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& p = params[i];
        c.offsets[i] = c.arena.size();
        switch (p.kind()) {
            case db::value_kind::null:
                c.offsets[i] = no_text;
                continue;
            case db::value_kind::integer:
                append_number(c.arena, p.integer());
                break;
            case db::value_kind::boolean:
                c.arena += p.boolean() ? 't' : 'f';
                break;
            case db::value_kind::real:
                append_real(c.arena, p.real());
                break;
            case db::value_kind::text:
                // Text parameters travel NUL-terminated, and PostgreSQL text cannot hold NUL:
                // refuse instead of silently truncating.
                if (p.text().find('\0') != std::string_view::npos) {
                    db::throw_usage_error(backend,
                                          "text parameter $" + std::to_string(i + 1) +
                                              " contains a NUL byte, which PostgreSQL text "
                                              "cannot hold (bind it as a db::blob)");
                }
                c.arena += p.text();
                break;
            case db::value_kind::datetime:
                c.arena += db::format_timestamp(p.time());
                c.arena += "+00";
                break;
            case db::value_kind::binary:
                c.offsets[i] = no_text;
                c.values[i] = p.text().data() ? p.text().data() : "";
                c.lengths[i] = static_cast<int>(p.text().size());
                c.formats[i] = 1;
                continue;
        }
        c.arena += '\0';
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (c.offsets[i] != no_text) c.values[i] = c.arena.data() + c.offsets[i];
    }
}

// Runs a statement with the extended protocol, through the statement cache when enabled.
PGresult* connection::impl::run(std::string_view sql, std::span<const db::param> params,
                                std::string_view operation) {
    auto& c = *this;
    PGconn* conn = c.ready(operation);
    if (c.opts.statement_cache_size == 0) {
        c.convert_params(params);
        const std::string text(sql);
        return PQexecParams(conn, text.c_str(), static_cast<int>(params.size()), nullptr,
                            c.values.data(), c.lengths.data(), c.formats.data(), 0);
    }
    prepared_statement* statement = nullptr;
    if (auto found = c.by_sql.find(sql); found != c.by_sql.end()) {
        if (found->second != c.lru.begin()) c.lru.splice(c.lru.begin(), c.lru, found->second);
        statement = &*found->second;
    } else {
        prepared_statement fresh{.sql = std::string(sql),
                                 .name = "holdfast_" + std::to_string(++c.statement_counter)};
        result_ptr prepared(PQprepare(conn, fresh.name.c_str(), fresh.sql.c_str(), 0, nullptr));
        if (PQresultStatus(prepared.res) != PGRES_COMMAND_OK) {
            c.throw_result_error(prepared.release(), sql);
        }
        result_ptr described(PQdescribePrepared(conn, fresh.name.c_str()));
        if (PQresultStatus(described.res) != PGRES_COMMAND_OK) {
            c.throw_result_error(described.release(), sql);
        }
        fresh.parameter_count = PQnparams(described.res);
        c.lru.push_front(std::move(fresh));
        c.by_sql.emplace(c.lru.front().sql, c.lru.begin());
        if (c.lru.size() > c.opts.statement_cache_size) {
            // Best effort: a failure (e.g. in an aborted transaction) only leaves the
            // statement allocated on the server until the connection closes.
            const std::string deallocate = "DEALLOCATE " + c.lru.back().name;
            PQclear(PQexec(conn, deallocate.c_str()));
            c.by_sql.erase(c.lru.back().sql);
            c.lru.pop_back();
        }
        statement = &c.lru.front();
    }
    if (static_cast<int>(params.size()) != statement->parameter_count) {
        db::throw_usage_error(backend,
                              "the statement takes " + std::to_string(statement->parameter_count) +
                                  " parameters, " + std::to_string(params.size()) + " were given",
                              sql);
    }
    c.convert_params(params);
    PGresult* res = PQexecPrepared(conn, statement->name.c_str(), static_cast<int>(params.size()),
                                   c.values.data(), c.lengths.data(), c.formats.data(), 0);
    // "cached plan must not change result type": the table changed under the prepared
    // statement (ALTER TABLE, DROP + CREATE). Forget it so it is prepared afresh; outside a
    // transaction nothing was lost, so retry once right away.
    if (PQresultStatus(res) == PGRES_FATAL_ERROR && field(res, PG_DIAG_SQLSTATE) == "0A000") {
        const auto status = PQtransactionStatus(conn);
        if (status != PQTRANS_INERROR) {
            const std::string deallocate = "DEALLOCATE " + statement->name;
            PQclear(PQexec(conn, deallocate.c_str()));
        }
        const auto found = c.by_sql.find(sql);
        const auto entry = found->second;
        c.by_sql.erase(found);
        c.lru.erase(entry);
        if (status == PQTRANS_IDLE) {
            PQclear(res);
            return run(sql, params, operation);
        }
    }
    return res;
}

namespace {

// A COPY started through execute()/query() would leave the connection in COPY mode: end it
// (nothing is copied) and say which API to use.
void refuse_copy(PGconn* conn, const PGresult* res, std::string_view sql) {
    const auto status = PQresultStatus(res);
    if (status == PGRES_COPY_IN) {
        PQputCopyEnd(conn, "COPY FROM STDIN is only supported through copy_in()");
    } else if (status == PGRES_COPY_OUT) {
        char* buffer = nullptr;
        while (PQgetCopyData(conn, &buffer, 0) > 0) PQfreemem(buffer);
    } else {
        return;
    }
    while (PGresult* r = PQgetResult(conn)) PQclear(r);
    db::throw_usage_error(backend,
                          "COPY through execute()/query() is not supported: use "
                          "pg::connection::copy_in() for COPY FROM STDIN",
                          sql);
}

// The result has exactly these column names and types.
bool same_shape(const PGresult* res, const db::column_list& names, const std::vector<Oid>& types) {
    const int columns = PQnfields(res);
    if (static_cast<std::size_t>(columns) != names.size()) return false;
    for (int c = 0; c < columns; ++c) {
        const auto i = static_cast<std::size_t>(c);
        if (PQftype(res, c) != types[i] || names[i] != PQfname(res, c)) return false;
    }
    return true;
}

bool succeeded(const PGresult* res) {
    const auto status = PQresultStatus(res);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

std::int64_t connection::execute_params(std::string_view sql, std::span<const db::param> params) {
    if (!impl_) db::throw_closed_error(backend, "execute()");
    result_ptr res(impl_->run(sql, params, "execute()"));
    refuse_copy(impl_->handle, res.res, sql);
    if (!succeeded(res.res)) impl_->throw_result_error(res.release(), sql);
    return PQresultStatus(res.res) == PGRES_TUPLES_OK ? 0 : rows_affected(res.res);
}

db::result connection::query_params(std::string_view sql, std::span<const db::param> params) {
    if (!impl_) db::throw_closed_error(backend, "query()");
    result_ptr res(impl_->run(sql, params, "query()"));
    refuse_copy(impl_->handle, res.res, sql);
    if (!succeeded(res.res)) impl_->throw_result_error(res.release(), sql);
    return impl_->make_result(res.res, sql);
}

db::result connection::impl::make_result(const PGresult* res, std::string_view sql) {
    const int columns = PQnfields(res);
    const int count = PQntuples(res);
    // run() left the statement it used at the front of the cache (when caching is on).
    prepared_statement* cached = nullptr;
    if (!lru.empty() && lru.front().sql == sql) cached = &lru.front();
    std::shared_ptr<const db::column_list> names;
    std::vector<Oid> fresh_types;
    const std::vector<Oid>* types = &fresh_types;
    if (cached && cached->columns && same_shape(res, *cached->columns, cached->types)) {
        names = cached->columns;
        types = &cached->types;
    } else {
        auto fresh = std::make_shared<db::column_list>();
        for (int c = 0; c < columns; ++c) {
            fresh->emplace_back(PQfname(res, c));
            fresh_types.push_back(PQftype(res, c));
        }
        names = std::move(fresh);
        if (cached) {
            cached->columns = names;
            cached->types = fresh_types;
        }
    }
    std::vector<db::row> rows;
    rows.reserve(static_cast<std::size_t>(count));
    for (int r = 0; r < count; ++r) {
        std::vector<db::value> row_values;
        row_values.reserve(static_cast<std::size_t>(columns));
        for (int c = 0; c < columns; ++c) {
            if (PQgetisnull(res, r, c)) {
                row_values.emplace_back();
            } else {
                row_values.push_back(decode_text_value(
                    PQgetvalue(res, r, c), static_cast<std::size_t>(PQgetlength(res, r, c)),
                    (*types)[static_cast<std::size_t>(c)]));
            }
        }
        rows.emplace_back(names, std::move(row_values));
    }
    return db::result(std::move(names), std::move(rows), rows_affected(res));
}

void connection::execute_unprepared(std::string_view sql) {
    if (!impl_) db::throw_closed_error(backend, "execute_unprepared()");
    PGconn* handle = impl_->ready("execute_unprepared()");
    const std::string text(sql);
    result_ptr res(PQexec(handle, text.c_str()));
    refuse_copy(handle, res.res, sql);
    if (!succeeded(res.res)) impl_->throw_result_error(res.release(), sql);
}

std::string connection::begin_statement(const db::transaction_options& options) const {
    std::string sql = "BEGIN";
    if (options.isolation != db::isolation_level::server_default) {
        sql += " ISOLATION LEVEL ";
        sql += db::to_string(options.isolation);
    }
    if (options.read_only) sql += " READ ONLY";
    if (options.deferrable) sql += " DEFERRABLE";
    return sql;
}

db::transaction_status connection::transaction_status() const {
    if (!is_open()) return db::transaction_status::idle;
    switch (PQtransactionStatus(impl_->handle)) {
        case PQTRANS_INTRANS:
        case PQTRANS_ACTIVE:
            return db::transaction_status::in_transaction;
        case PQTRANS_INERROR:
            return db::transaction_status::failed;
        default:
            return db::transaction_status::idle;
    }
}

copy_writer connection::copy_in(std::string_view table, const std::vector<std::string>& columns) {
    if (!impl_) db::throw_closed_error(backend, "copy_in()");
    PGconn* handle = impl_->ready("copy_in()");
    std::string sql = "COPY " + quote_identifier(handle, table);
    if (!columns.empty()) {
        sql += " (";
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (i) sql += ", ";
            sql += quote_identifier(handle, columns[i]);
        }
        sql += ')';
    }
    sql += " FROM STDIN";
    result_ptr res(PQexec(handle, sql.c_str()));
    if (PQresultStatus(res.res) != PGRES_COPY_IN) impl_->throw_result_error(res.release(), sql);
    impl_->copy_active = true;
    return copy_writer(*impl_);
}

int connection::backend_pid() const {
    if (!is_open()) db::throw_closed_error(backend, "backend_pid()");
    return PQbackendPID(impl_->handle);
}

std::size_t connection::cached_statements() const noexcept {
    return impl_ ? impl_->lru.size() : 0;
}

std::string connection::redacted_conninfo() const {
    return impl_ ? db::redact_dsn(impl_->conninfo) : std::string();
}

pg_conn* connection::native_handle() const noexcept {
    return impl_ ? impl_->handle : nullptr;
}

connection connect(std::string_view conninfo, options opts) {
    connection conn{std::string(conninfo), opts};
    conn.connect();
    return conn;
}

}  // namespace holdfast::pg
