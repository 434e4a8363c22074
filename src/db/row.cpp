#include <nlohmann/json.hpp>

#include <holdfast/db/result.hpp>
#include <holdfast/db/row.hpp>

namespace holdfast::db {

const value& row::at(std::size_t index) const {
    if (index >= values_.size()) {
        throw_usage_error("db", "column index " + std::to_string(index) +
                                    " out of range (row has " + std::to_string(values_.size()) +
                                    " columns)");
    }
    return values_[index];
}

const value& row::at(std::string_view column) const {
    const auto& names = *columns_;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == column) return values_[i];
    }
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw_usage_error("db", "no column \"" + std::string(column) + "\" (columns: " + known + ")");
}

std::map<std::string, value> row::to_map() const {
    std::map<std::string, value> map;
    for (std::size_t i = 0; i < values_.size(); ++i)
        map.insert_or_assign((*columns_)[i], values_[i]);
    return map;
}

namespace {

std::string base64(const blob& data) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        const auto n = (std::to_integer<unsigned>(data[i]) << 16) |
                       (std::to_integer<unsigned>(data[i + 1]) << 8) |
                       std::to_integer<unsigned>(data[i + 2]);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += alphabet[n & 63];
    }
    if (i < data.size()) {
        auto n = std::to_integer<unsigned>(data[i]) << 16;
        if (i + 1 < data.size()) n |= std::to_integer<unsigned>(data[i + 1]) << 8;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += i + 1 < data.size() ? alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

}  // namespace

void to_json(nlohmann::json& j, const value& v) {
    std::visit(
        [&j](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::same_as<T, std::monostate>) {
                j = nullptr;
            } else if constexpr (std::same_as<T, blob>) {
                j = base64(x);
            } else if constexpr (std::same_as<T, timestamp>) {
                j = format_timestamp(x);
            } else {
                j = x;
            }
        },
        v.data());
}

nlohmann::json row::to_json() const {
    nlohmann::json object = nlohmann::json::object();
    for (std::size_t i = 0; i < values_.size(); ++i) {
        nlohmann::json item;
        db::to_json(item, values_[i]);
        object[(*columns_)[i]] = std::move(item);
    }
    return object;
}

const row& result::one() const {
    if (rows_.size() != 1) {
        throw_usage_error("db", "expected exactly one row, got " + std::to_string(rows_.size()));
    }
    return rows_.front();
}

nlohmann::json result::to_json() const {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& r : rows_) array.push_back(r.to_json());
    return array;
}

}  // namespace holdfast::db
