#include <holdfast/db/connection.hpp>
#include <holdfast/pg/connection.hpp>
#include <holdfast/sqlite/connection.hpp>

namespace holdfast::db {

namespace {

template <class Backend>
class backend_model final : public connection_backend {
  public:
    explicit backend_model(Backend conn) : conn_(std::move(conn)) {}
    void connect() override { conn_.connect(); }
    void close() noexcept override { conn_.close(); }
    bool is_open() const noexcept override { return conn_.is_open(); }
    bool is_broken() const noexcept override { return conn_.is_broken(); }
    std::int64_t execute_params(std::string_view sql, std::span<const param> params) override {
        return conn_.execute_params(sql, params);
    }
    result query_params(std::string_view sql, std::span<const param> params) override {
        return conn_.query_params(sql, params);
    }
    void execute_unprepared(std::string_view sql) override { conn_.execute_unprepared(sql); }
    std::string begin_statement(const transaction_options& options) const override {
        return conn_.begin_statement(options);
    }
    db::transaction_status transaction_status() const override {
        return conn_.transaction_status();
    }
    std::string_view backend_name() const noexcept override { return conn_.backend_name(); }
    void* native_connection() noexcept override { return &conn_; }

  private:
    Backend conn_;
};

}  // namespace

connection::connection(std::string_view text) {
    auto parsed = parse_dsn(text);
    kind_ = parsed.backend;
    if (kind_ == backend_kind::sqlite) {
        impl_ = std::make_unique<backend_model<sqlite::connection>>(
            sqlite::connection(std::move(parsed.target)));
    } else {
        impl_ = std::make_unique<backend_model<pg::connection>>(
            pg::connection(std::move(parsed.target)));
    }
}

connection::~connection() = default;
connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&&) noexcept = default;

namespace {
[[noreturn]] void moved_from() {
    throw_usage_error("db", "use of a moved-from db::connection");
}
}  // namespace

void connection::connect() {
    if (!impl_) moved_from();
    impl_->connect();
}
void connection::close() noexcept {
    if (impl_) impl_->close();
}
bool connection::is_open() const noexcept {
    return impl_ && impl_->is_open();
}
bool connection::is_broken() const noexcept {
    return impl_ && impl_->is_broken();
}
std::int64_t connection::execute_params(std::string_view sql, std::span<const param> params) {
    if (!impl_) moved_from();
    return impl_->execute_params(sql, params);
}
result connection::query_params(std::string_view sql, std::span<const param> params) {
    if (!impl_) moved_from();
    return impl_->query_params(sql, params);
}
void connection::execute_unprepared(std::string_view sql) {
    if (!impl_) moved_from();
    impl_->execute_unprepared(sql);
}
std::string connection::begin_statement(const transaction_options& options) const {
    if (!impl_) moved_from();
    return impl_->begin_statement(options);
}
transaction_status connection::transaction_status() const {
    return impl_ ? impl_->transaction_status() : db::transaction_status::idle;
}
std::string_view connection::backend_name() const noexcept {
    return impl_ ? impl_->backend_name() : "db";
}
sqlite::connection* connection::as_sqlite() noexcept {
    return impl_ && kind_ == backend_kind::sqlite
               ? static_cast<sqlite::connection*>(impl_->native_connection())
               : nullptr;
}
pg::connection* connection::as_pg() noexcept {
    return impl_ && kind_ == backend_kind::postgresql
               ? static_cast<pg::connection*>(impl_->native_connection())
               : nullptr;
}

connection connect(std::string_view dsn) {
    connection conn(dsn);
    conn.connect();
    return conn;
}

}  // namespace holdfast::db
