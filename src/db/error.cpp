#include <holdfast/db/error.hpp>
#include <holdfast/db/transaction.hpp>
#include <holdfast/db/transaction_options.hpp>

namespace holdfast::db {

namespace {

std::string describe(const error_info& info) {
    std::string text = info.backend.empty() ? std::string("db") : info.backend;
    text += ": ";
    text += info.message;
    if (!info.sqlstate.empty()) text += " [SQLSTATE " + info.sqlstate + "]";
    if (!info.detail.empty()) text += " (detail: " + info.detail + ")";
    if (!info.statement.empty()) text += " in statement: " + info.statement;
    return text;
}

}  // namespace

error::error(error_info info) : std::runtime_error(describe(info)), info_(std::move(info)) {}

void throw_usage_error(std::string_view backend, std::string message, std::string_view statement) {
    throw usage_error(error_info{.backend = std::string(backend),
                                 .message = std::move(message),
                                 .statement = std::string(statement)});
}

void throw_closed_error(std::string_view backend, std::string_view operation) {
    throw closed_error(
        error_info{.backend = std::string(backend),
                   .message = std::string(operation) +
                              " on a connection that is not connected (never connected, closed, or "
                              "broken): call connect() first"});
}

std::string_view to_string(isolation_level level) noexcept {
    switch (level) {
        case isolation_level::server_default:
            return "server default";
        case isolation_level::read_committed:
            return "READ COMMITTED";
        case isolation_level::repeatable_read:
            return "REPEATABLE READ";
        case isolation_level::serializable:
            return "SERIALIZABLE";
    }
    return "?";
}

std::string_view to_string(transaction_state state) noexcept {
    switch (state) {
        case transaction_state::active:
            return "active";
        case transaction_state::committed:
            return "committed";
        case transaction_state::rolled_back:
            return "rolled back";
        case transaction_state::abandoned:
            return "abandoned";
        case transaction_state::in_doubt:
            return "in doubt";
    }
    return "?";
}

}  // namespace holdfast::db
