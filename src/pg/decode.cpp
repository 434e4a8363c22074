#include "pg/decode.hpp"

#include <charconv>
#include <cstring>
#include <string_view>

namespace holdfast::pg {

namespace {

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// bytea's hex form, "\x" and two digits per byte (the server's default output since 9.0),
// decoded here: one copy, no libpq allocation.
bool decode_hex_bytea(std::string_view text, db::blob& out) {
    text.remove_prefix(2);
    if (text.size() % 2 != 0) return false;
    out.resize(text.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int high = hex_digit(text[2 * i]), low = hex_digit(text[2 * i + 1]);
        if (high < 0 || low < 0) return false;
        out[i] = static_cast<std::byte>(high * 16 + low);
    }
    return true;
}

}  // namespace

db::value decode_text_value(const char* text, std::size_t length, Oid type) {
    const char* end = text + length;
    switch (type) {
        case int2_oid:
        case int4_oid:
        case int8_oid:
        case oid_oid: {
            std::int64_t i = 0;
            const auto [stop, ec] = std::from_chars(text, end, i);
            if (ec == std::errc{} && stop == end) return i;
            break;
        }
        case float4_oid:
        case float8_oid: {
            double d = 0;
            const auto [stop, ec] = std::from_chars(text, end, d);
            if (ec == std::errc{} && stop == end) return d;
            break;
        }
        case bool_oid:
            if (length == 1 && (text[0] == 't' || text[0] == 'f')) return text[0] == 't';
            break;
        case bytea_oid: {
            const std::string_view view(text, length);
            if (view.starts_with("\\x")) {
                db::blob bytes;
                if (decode_hex_bytea(view, bytes)) return bytes;
                break;
            }
            // The escape form (bytea_output = escape). libpq reads up to the NUL, so a NUL
            // inside the text (which the server never sends) would cut it short.
            if (std::memchr(text, '\0', length) != nullptr) break;
            std::size_t size = 0;
            unsigned char* bytes =
                PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &size);
            if (bytes == nullptr) break;
            db::blob b(reinterpret_cast<const std::byte*>(bytes),
                       reinterpret_cast<const std::byte*>(bytes) + size);
            PQfreemem(bytes);
            return b;
        }
        case timestamp_oid:
        case timestamptz_oid:
            if (auto t = db::parse_timestamp(std::string_view(text, length))) return *t;
            break;  // infinity, a BC date, or an offset with seconds: keep the text
        default:
            break;
    }
    return std::string(text, length);
}

}  // namespace holdfast::pg
