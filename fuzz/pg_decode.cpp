// PostgreSQL text-format values → db::value (pg::decode_text_value, what both connections
// use for every result value), then db::to_json and db::row::to_json. The first byte picks the
// column type; the rest is the value's text. Invariants, besides not crashing:
// - a value converts only for its type, and only when its whole text is one: an integer's text
//   is digits, a real's is what strtod reads whole, a boolean's "t" or "f", a blob's hex form
//   re-encodes to the text, a timestamp formats and parses back to itself; anything else stays
//   the text unchanged;
// - to_json gives the JSON type of the kind (blobs base64 that decodes back); dump() with the
//   replace handler never throws;
// - row::to_json and to_map keep the last of duplicate column names.
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pg/decode.hpp"
#include <nlohmann/json.hpp>

#include <holdfast/db/row.hpp>

namespace {

namespace db = holdfast::db;
namespace pg = holdfast::pg;
using db::value_kind;

[[noreturn]] void fail(const char* what, std::string_view text) {
    std::fprintf(stderr, "%s: [%.*s]\n", what, static_cast<int>(text.size()), text.data());
    std::abort();
}

constexpr Oid types[] = {pg::bool_oid,        pg::bytea_oid,  pg::int8_oid,
                         pg::int2_oid,        pg::int4_oid,   pg::oid_oid,
                         pg::float4_oid,      pg::float8_oid, pg::timestamp_oid,
                         pg::timestamptz_oid, 25 /* text */,  1700 /* numeric */};

bool is_integer_type(Oid t) {
    return t == pg::int2_oid || t == pg::int4_oid || t == pg::int8_oid || t == pg::oid_oid;
}

std::string base64_decode(std::string_view text) {
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned bits = 0;
    int count = 0;
    for (char c : text) {
        if (c == '=') break;
        const auto v = alphabet.find(c);
        if (v == std::string_view::npos) fail("not base64", text);
        bits = (bits << 6) | static_cast<unsigned>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xFF);
        }
    }
    return out;
}

void check_decoded(const db::value& v, const std::string& text, Oid type) {
    switch (v.kind()) {
        case value_kind::null:
            fail("NULL from a non-NULL value", text);
        case value_kind::integer: {
            if (!is_integer_type(type)) fail("an integer from another type", text);
            const std::string_view digits =
                std::string_view(text).substr(text.starts_with('-') ? 1 : 0);
            if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
                fail("an integer from text that is not one", text);
            break;
        }
        case value_kind::real: {
            if (type != pg::float4_oid && type != pg::float8_oid)
                fail("a real from another type", text);
            char* end = nullptr;
            const double expected = std::strtod(text.c_str(), &end);
            const double d = v.get<double>();
            if (end != text.c_str() + text.size()) fail("a real from text strtod stops in", text);
            if (!(d == expected || (std::isnan(d) && std::isnan(expected))))
                fail("a real other than strtod's", text);
            break;
        }
        case value_kind::boolean:
            if (type != pg::bool_oid || (text != "t" && text != "f"))
                fail("a boolean from text other than t/f", text);
            if (v.get<bool>() != (text == "t")) fail("the wrong boolean", text);
            break;
        case value_kind::binary: {
            if (type != pg::bytea_oid) fail("a blob from another type", text);
            const auto bytes = v.get<db::blob>();
            if (text.starts_with("\\x")) {
                static constexpr char hex[] = "0123456789abcdef";
                std::string encoded = "\\x";
                for (auto b : bytes) {
                    encoded += hex[std::to_integer<unsigned>(b) >> 4];
                    encoded += hex[std::to_integer<unsigned>(b) & 15];
                }
                std::string lower = text;
                for (auto& c : lower) c = static_cast<char>(c >= 'A' && c <= 'F' ? c + 32 : c);
                if (encoded != lower) fail("a hex bytea that does not re-encode to its text", text);
            } else if (bytes.size() > text.size()) {
                fail("an escaped bytea longer than its text", text);
            }
            break;
        }
        case value_kind::datetime: {
            if (type != pg::timestamp_oid && type != pg::timestamptz_oid)
                fail("a timestamp from another type", text);
            const auto t = v.get<db::timestamp>();
            if (db::parse_timestamp(db::format_timestamp(t)) != t)
                fail("a timestamp that does not survive format + parse", text);
            break;
        }
        case value_kind::text:
            if (v.get<std::string_view>() != text) fail("text that changed", text);
            break;
    }
}

void check_json(const db::value& v, const std::string& text) {
    nlohmann::json j;
    db::to_json(j, v);
    (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    bool right = false;
    switch (v.kind()) {
        case value_kind::null:
            right = j.is_null();
            break;
        case value_kind::integer:
            right = j.is_number_integer() && j.get<std::int64_t>() == v.get<std::int64_t>();
            break;
        case value_kind::real:
            right = j.is_number_float();
            break;
        case value_kind::boolean:
            right = j.is_boolean() && j.get<bool>() == v.get<bool>();
            break;
        case value_kind::text:
            right = j.is_string() && j.get<std::string>() == text;
            break;
        case value_kind::binary: {
            const auto bytes = v.get<db::blob>();
            right = j.is_string() &&
                    base64_decode(j.get<std::string>()) ==
                        std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
            break;
        }
        case value_kind::datetime:
            right = j.is_string() &&
                    j.get<std::string>() == db::format_timestamp(v.get<db::timestamp>());
            break;
    }
    if (!right) fail("to_json gave another JSON type or value", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const Oid type = types[data[0] % std::size(types)];
    // PQgetvalue's text is NUL-terminated (decode_text_value's precondition): std::string is.
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    const db::value v = pg::decode_text_value(text.c_str(), text.size(), type);
    check_decoded(v, text, type);
    check_json(v, text);

    // Duplicate column names: the last one wins in to_json and to_map.
    auto columns = std::make_shared<const db::column_list>(db::column_list{"v", "v"});
    const db::row twice(columns, {v, db::value(std::int64_t{7})});
    if (twice.to_json()["v"] != 7 || twice.to_map().at("v") != db::value(std::int64_t{7}))
        fail("a duplicate column name did not keep the last value", text);
    const db::row once(std::make_shared<const db::column_list>(db::column_list{text}), {v});
    (void)once.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return 0;
}
