#include <cstring>
#include <list>
#include <unordered_map>
#include <vector>

#include <sqlite3.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/scope_guard.hpp>
#include <holdfast/db/dsn.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/sqlite/connection.hpp>

namespace holdfast::sqlite {

namespace {

constexpr std::string_view backend = "sqlite";

std::string constraint_sqlstate(int extended) {
    switch (extended) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            return "23505";
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            return "23503";
        case SQLITE_CONSTRAINT_NOTNULL:
            return "23502";
        case SQLITE_CONSTRAINT_CHECK:
            return "23514";
        default:
            return "23000";
    }
}

// Maps a sqlite3 result code to the db::error hierarchy. `message` is sqlite3_errmsg()
// captured right after the failure.
[[noreturn]] void throw_sqlite_error(int code, std::string message, std::string_view sql) {
    db::error_info info{.backend = std::string(backend),
                        .backend_code = code,
                        .message = std::move(message),
                        .statement = std::string(sql)};
    switch (code & 0xff) {
        case SQLITE_CONSTRAINT:
            info.sqlstate = constraint_sqlstate(code);
            if (info.sqlstate == "23505") throw db::unique_violation(std::move(info));
            if (info.sqlstate == "23503") throw db::foreign_key_violation(std::move(info));
            throw db::constraint_error(std::move(info));
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            throw db::timeout_error(std::move(info));
        case SQLITE_CANTOPEN:
        case SQLITE_NOTADB:
            throw db::connection_error(std::move(info));
        case SQLITE_MISUSE:
        case SQLITE_RANGE:
            throw db::usage_error(std::move(info));
        default:
            throw db::error(std::move(info));
    }
}

// sqlite3_errmsg() with the operating system's reason when the file system failed: "disk I/O
// error (File too large)", "unable to open database file (Too many open files)".
std::string describe(sqlite3* handle, int code) {
    std::string message = handle ? sqlite3_errmsg(handle) : sqlite3_errstr(code);
    const int primary = code & 0xff;
    if (handle &&
        (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL)) {
        if (const int system_error = sqlite3_system_errno(handle); system_error != 0) {
            // GNU strerror_r: thread safe, and it may return a static string instead of
            // filling the buffer.
            char buffer[128];
            message += " (";
            message += ::strerror_r(system_error, buffer, sizeof buffer);
            message += ")";
        }
    }
    return message;
}

[[noreturn]] void throw_from_handle(sqlite3* handle, int code, std::string_view sql) {
    throw_sqlite_error(code, describe(handle, code), sql);
}

// A prepared statement plus how its parameter slots map to the caller's arguments.
struct cached_statement {
    std::string sql;
    sqlite3_stmt* stmt = nullptr;
    // argument_for_slot[i] is the argument index bound to slot i+1; empty when slot i+1
    // takes argument i (plain ? placeholders), the common case.
    std::vector<int> argument_for_slot;
    int argument_count = 0;
    int slot_count = 0;
    // sqlite3_stmt_readonly(): the statement changes nothing, so sqlite3_changes() does not
    // describe it.
    bool read_only = false;
};

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

// "$12" → 11; anything else → -1.
int dollar_index(const char* name) {
    if (name == nullptr || name[0] != '$' || name[1] == '\0') return -1;
    int n = 0;
    for (const char* p = name + 1; *p; ++p) {
        if (*p < '0' || *p > '9' || n > 100000) return -1;
        n = n * 10 + (*p - '0');
    }
    return n - 1;
}

void map_parameters(cached_statement& s) {
    const int slots = sqlite3_bind_parameter_count(s.stmt);
    bool identity = true;
    std::vector<int> mapping(static_cast<std::size_t>(slots));
    int count = 0;
    for (int slot = 1; slot <= slots; ++slot) {
        int argument = dollar_index(sqlite3_bind_parameter_name(s.stmt, slot));
        if (argument < 0) argument = slot - 1;
        mapping[static_cast<std::size_t>(slot - 1)] = argument;
        if (argument != slot - 1) identity = false;
        count = std::max(count, argument + 1);
    }
    if (!identity) s.argument_for_slot = std::move(mapping);
    s.argument_count = count;
    s.slot_count = slots;
    s.read_only = sqlite3_stmt_readonly(s.stmt) != 0;
}

bool declared_boolean(sqlite3_stmt* stmt, int column) {
    const char* type = sqlite3_column_decltype(stmt, column);
    if (type == nullptr) return false;
    return strcasecmp(type, "BOOLEAN") == 0 || strcasecmp(type, "BOOL") == 0;
}

}  // namespace

struct connection::impl {
    std::string path;
    options opts;
    sqlite3* handle = nullptr;
    // Most recently used first.
    std::list<cached_statement> lru;
    std::unordered_map<std::string, std::list<cached_statement>::iterator, string_hash,
                       std::equal_to<>>
        by_sql;
    cached_statement uncached;  // used when the cache is disabled

    ~impl() { close(); }

    void close() noexcept {
        for (auto& s : lru) sqlite3_finalize(s.stmt);
        lru.clear();
        by_sql.clear();
        if (uncached.stmt) sqlite3_finalize(uncached.stmt);
        uncached.stmt = nullptr;
        if (handle) sqlite3_close_v2(handle);  // never fails; defers if anything is pending
        handle = nullptr;
    }

    sqlite3* require_open(std::string_view operation) const {
        if (handle == nullptr) db::throw_closed_error(backend, operation);
        return handle;
    }

    cached_statement prepare(std::string_view sql, unsigned flags) {
        cached_statement s;
        const char* tail = nullptr;
        const int rc = sqlite3_prepare_v3(handle, sql.data(), static_cast<int>(sql.size()), flags,
                                          &s.stmt, &tail);
        if (rc != SQLITE_OK) throw_from_handle(handle, rc, sql);
        if (s.stmt == nullptr) {
            db::throw_usage_error(backend, "the SQL text holds no statement", sql);
        }
        const std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
        if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
            sqlite3_finalize(s.stmt);
            db::throw_usage_error(backend,
                                  "execute()/query() run one statement; the text holds more "
                                  "(use execute_unprepared() for scripts)",
                                  sql);
        }
        s.sql = std::string(sql);
        map_parameters(s);
        return s;
    }

    cached_statement& statement_for(std::string_view sql) {
        if (opts.statement_cache_size == 0) {
            if (uncached.stmt) sqlite3_finalize(uncached.stmt);
            uncached.stmt = nullptr;
            uncached = prepare(sql, 0);
            return uncached;
        }
        // Fast path for loops: the statement used last is at the front of the list, and
        // comparing it is cheaper than hashing the text.
        if (!lru.empty() && lru.front().sql == sql) return lru.front();
        if (auto found = by_sql.find(sql); found != by_sql.end()) {
            if (found->second != lru.begin()) lru.splice(lru.begin(), lru, found->second);
            return *found->second;
        }
        lru.push_front(prepare(sql, SQLITE_PREPARE_PERSISTENT));
        by_sql.emplace(lru.front().sql, lru.begin());
        if (lru.size() > opts.statement_cache_size) {
            by_sql.erase(lru.back().sql);
            sqlite3_finalize(lru.back().stmt);
            lru.pop_back();
        }
        return lru.front();
    }

    void bind(cached_statement& s, std::span<const db::param> params) {
        if (static_cast<int>(params.size()) != s.argument_count) {
            db::throw_usage_error(backend,
                                  "the statement takes " + std::to_string(s.argument_count) +
                                      " parameters, " + std::to_string(params.size()) +
                                      " were given",
                                  s.sql);
        }
        for (int slot = 1; slot <= s.slot_count; ++slot) {
            const auto argument =
                s.argument_for_slot.empty()
                    ? static_cast<std::size_t>(slot - 1)
                    : static_cast<std::size_t>(
                          s.argument_for_slot[static_cast<std::size_t>(slot - 1)]);
            const db::param& p = params[argument];
            int rc = SQLITE_OK;
            switch (p.kind()) {
                case db::value_kind::null:
                    rc = sqlite3_bind_null(s.stmt, slot);
                    break;
                case db::value_kind::integer:
                case db::value_kind::boolean:
                    rc = sqlite3_bind_int64(s.stmt, slot, p.integer());
                    break;
                case db::value_kind::real:
                    rc = sqlite3_bind_double(s.stmt, slot, p.real());
                    break;
                case db::value_kind::text: {
                    const auto text = p.text();
                    // The caller's argument outlives the statement's execution: no copy.
                    rc = sqlite3_bind_text64(s.stmt, slot, text.data() ? text.data() : "",
                                             text.size(), SQLITE_STATIC, SQLITE_UTF8);
                    break;
                }
                case db::value_kind::binary: {
                    const auto bytes = p.bytes();
                    rc = bytes.empty() ? sqlite3_bind_zeroblob(s.stmt, slot, 0)
                                       : sqlite3_bind_blob64(s.stmt, slot, bytes.data(),
                                                             bytes.size(), SQLITE_STATIC);
                    break;
                }
                case db::value_kind::datetime: {
                    const auto text = db::format_timestamp(p.time());
                    rc = sqlite3_bind_text64(s.stmt, slot, text.data(), text.size(),
                                             SQLITE_TRANSIENT, SQLITE_UTF8);
                    break;
                }
            }
            if (rc != SQLITE_OK) throw_from_handle(handle, rc, s.sql);
        }
    }

    // Steps to the end, then resets. `on_row` is called for each row.
    template <class OnRow>
    void run(cached_statement& s, OnRow&& on_row) {
        // Reset on every path (also when on_row throws), so the cached statement is ready
        // for its next use.
        holdfast::scope_exit reset{[&s]() noexcept { sqlite3_reset(s.stmt); }};
        int rc;
        while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) on_row(s.stmt);
        if (rc != SQLITE_DONE) throw_from_handle(handle, rc, s.sql);
    }
};

connection::connection(std::string path, options opts) : impl_(std::make_unique<impl>()) {
    if (path.starts_with("sqlite:")) path = db::parse_dsn(path).target;
    impl_->path = std::move(path);
    impl_->opts = opts;
}

connection::~connection() = default;
connection::connection(connection&& other) noexcept = default;
connection& connection::operator=(connection&& other) noexcept = default;

void connection::connect() {
    if (!impl_) db::throw_usage_error(backend, "connect() on a moved-from connection");
    if (impl_->handle) return;
    const auto& o = impl_->opts;
    int flags = SQLITE_OPEN_NOMUTEX |
                (o.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite3* handle = nullptr;
    const int rc = sqlite3_open_v2(impl_->path.c_str(), &handle, flags, nullptr);
    auto fail = [&](int code) {
        std::string message =
            "cannot open database \"" + impl_->path + "\": " + describe(handle, code);
        if (handle) sqlite3_close_v2(handle);
        throw db::connection_error(db::error_info{
            .backend = std::string(backend), .backend_code = code, .message = std::move(message)});
    };
    if (rc != SQLITE_OK) fail(rc);
    sqlite3_extended_result_codes(handle, 1);
    sqlite3_busy_timeout(handle, static_cast<int>(o.busy_timeout.count()));
    std::string setup;
    if (o.foreign_keys) setup += "PRAGMA foreign_keys=ON;";
    if (o.write_ahead_log && !o.read_only && impl_->path != ":memory:" && !impl_->path.empty()) {
        setup += "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;";
    }
    // Reading the schema here also surfaces "file is not a database" at connect time.
    setup += "SELECT count(*) FROM sqlite_schema;";
    if (const int code = sqlite3_exec(handle, setup.c_str(), nullptr, nullptr, nullptr);
        code != SQLITE_OK)
        fail(code);
    impl_->handle = handle;
}

void connection::close() noexcept {
    if (impl_) impl_->close();
}

bool connection::is_open() const noexcept {
    return impl_ && impl_->handle;
}

std::int64_t connection::execute_params(std::string_view sql, std::span<const db::param> params) {
    if (!impl_) db::throw_closed_error(backend, "execute()");
    auto* handle = impl_->require_open("execute()");
    auto& s = impl_->statement_for(sql);
    impl_->bind(s, params);
    impl_->run(s, [](sqlite3_stmt*) {});
    return s.read_only ? 0 : sqlite3_changes64(handle);
}

db::result connection::query_params(std::string_view sql, std::span<const db::param> params) {
    if (!impl_) db::throw_closed_error(backend, "query()");
    impl_->require_open("query()");
    auto& s = impl_->statement_for(sql);
    impl_->bind(s, params);
    const int columns = sqlite3_column_count(s.stmt);
    auto names = std::make_shared<db::column_list>();
    std::vector<bool> boolean(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) {
        names->emplace_back(sqlite3_column_name(s.stmt, c));
        boolean[static_cast<std::size_t>(c)] = declared_boolean(s.stmt, c);
    }
    std::vector<db::row> rows;
    impl_->run(s, [&](sqlite3_stmt* stmt) {
        std::vector<db::value> values;
        values.reserve(static_cast<std::size_t>(columns));
        for (int c = 0; c < columns; ++c) {
            switch (sqlite3_column_type(stmt, c)) {
                case SQLITE_INTEGER:
                    if (boolean[static_cast<std::size_t>(c)]) {
                        values.emplace_back(sqlite3_column_int64(stmt, c) != 0);
                    } else {
                        values.emplace_back(sqlite3_column_int64(stmt, c));
                    }
                    break;
                case SQLITE_FLOAT:
                    values.emplace_back(sqlite3_column_double(stmt, c));
                    break;
                case SQLITE_TEXT: {
                    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
                    values.emplace_back(
                        std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
                    break;
                }
                case SQLITE_BLOB: {
                    const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(stmt, c));
                    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, c));
                    values.emplace_back(data ? db::blob(data, data + size) : db::blob{});
                    break;
                }
                default:
                    values.emplace_back(nullptr);
                    break;
            }
        }
        rows.emplace_back(names, std::move(values));
    });
    const auto affected =
        s.read_only ? static_cast<std::int64_t>(rows.size()) : sqlite3_changes64(impl_->handle);
    return db::result(std::move(names), std::move(rows), affected);
}

void connection::execute_unprepared(std::string_view sql) {
    if (!impl_) db::throw_closed_error(backend, "execute_unprepared()");
    auto* handle = impl_->require_open("execute_unprepared()");
    const std::string text(sql);  // sqlite3_exec wants a NUL-terminated string
    if (const int rc = sqlite3_exec(handle, text.c_str(), nullptr, nullptr, nullptr);
        rc != SQLITE_OK)
        throw_from_handle(handle, rc, sql);
}

std::string connection::begin_statement(const db::transaction_options& options) const {
    return options.read_only ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE";
}

db::transaction_status connection::transaction_status() const {
    if (!is_open()) return db::transaction_status::idle;
    return sqlite3_get_autocommit(impl_->handle) ? db::transaction_status::idle
                                                 : db::transaction_status::in_transaction;
}

std::int64_t connection::last_insert_rowid() const {
    if (!impl_) db::throw_closed_error(backend, "last_insert_rowid()");
    return sqlite3_last_insert_rowid(impl_->require_open("last_insert_rowid()"));
}

std::size_t connection::cached_statements() const noexcept {
    return impl_ ? impl_->lru.size() : 0;
}

const std::string& connection::path() const noexcept {
    static const std::string none;
    return impl_ ? impl_->path : none;
}

sqlite3* connection::native_handle() const noexcept {
    return impl_ ? impl_->handle : nullptr;
}

connection connect(std::string_view path, options opts) {
    connection conn{std::string(path), opts};
    conn.connect();
    return conn;
}

}  // namespace holdfast::sqlite
