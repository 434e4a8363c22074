// The JSON-lines and key=value renderers (see render.hpp for the formats).
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <type_traits>
#include <variant>

#include "timing/render_to.hpp"
#include <fmt/compile.h>

#include <holdfast/timing/render.hpp>

namespace holdfast::timing {

std::string_view to_string(log_level level) noexcept {
    switch (level) {
        case log_level::trace:
            return "trace";
        case log_level::debug:
            return "debug";
        case log_level::info:
            return "info";
        case log_level::warning:
            return "warning";
        case log_level::error:
            return "error";
        case log_level::critical:
            return "critical";
        case log_level::off:
            return "off";
    }
    return "unknown";
}

namespace detail {
namespace {

void append(render_buffer& out, std::string_view text) {
    out.append(text.data(), text.data() + text.size());
}

// Length of the valid UTF-8 sequence starting at text[i], or 0 when text[i] does not start
// one (RFC 3629 table: no overlongs, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;
        if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;
        if (lead == 0xF4) high = 0x8F;
    } else {
        return 0;
    }
    if (text.size() - i < length) return 0;
    if (byte(i + 1) < low || byte(i + 1) > high) return 0;
    for (std::size_t k = 2; k < length; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    }
    return length;
}

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

bool is_plain_ascii(unsigned char c) noexcept {
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

// Appends `text` with JSON string escapes, without the surrounding quotes. Runs of characters
// that need nothing are copied at once: most messages and values are plain ASCII.
void append_escaped(render_buffer& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t run_start = i;
        while (i < text.size() && is_plain_ascii(static_cast<unsigned char>(text[i]))) ++i;
        if (i > run_start) append(out, text.substr(run_start, i - run_start));
        if (i == text.size()) break;
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const std::size_t length = utf8_sequence_length(text, i);
            if (length == 0) {
                append(out, replacement_character);
                ++i;
            } else {
                append(out, text.substr(i, length));
                i += length;
            }
            continue;
        }
        switch (c) {
            case '"':
                append(out, "\\\"");
                break;
            case '\\':
                append(out, "\\\\");
                break;
            case '\b':
                append(out, "\\b");
                break;
            case '\f':
                append(out, "\\f");
                break;
            case '\n':
                append(out, "\\n");
                break;
            case '\r':
                append(out, "\\r");
                break;
            case '\t':
                append(out, "\\t");
                break;
            default: {
                const std::array<char, 6> escape{'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                out.append(escape.data(), escape.data() + escape.size());
            }
        }
        ++i;
    }
}

void append_quoted(render_buffer& out, std::string_view text) {
    out.push_back('"');
    append_escaped(out, text);
    out.push_back('"');
}

void append_integer(render_buffer& out, auto value) {
    const fmt::format_int digits(value);
    out.append(digits.data(), digits.data() + digits.size());
}

// Shortest round-trip form, always with a fraction or an exponent so readers keep the type.
void append_double(render_buffer& out, double value) {
    const std::size_t start = out.size();
    fmt::format_to(fmt::appender(out), FMT_COMPILE("{}"), value);
    const std::string_view written(out.data() + start, out.size() - start);
    if (written.find_first_of(".e") == std::string_view::npos) append(out, ".0");
}

// Appends `value` as exactly `width` decimal digits (zero-padded, high digits dropped).
void append_fixed(render_buffer& out, std::uint64_t value, std::size_t width) {
    std::array<char, 20> digits{};
    for (std::size_t i = width; i > 0; --i) {
        digits[i - 1] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    out.append(digits.data(), digits.data() + width);
}

// ISO 8601 in UTC with microseconds, as structlog's TimeStamper(fmt="iso", utc=True). Written
// digit by digit: going through a format string cost more than the rest of the event.
void append_timestamp(render_buffer& out, std::chrono::system_clock::time_point timestamp) {
    using namespace std::chrono;
    const auto micros = floor<microseconds>(timestamp);
    const auto day = floor<days>(micros);
    const year_month_day date{day};
    const hh_mm_ss time{micros - day};
    const int year = static_cast<int>(date.year());
    if (year < 0 || year > 9999) {  // outside ISO 8601's basic range: no fast path needed
        fmt::format_to(fmt::appender(out), "{:04}", year);
    } else {
        append_fixed(out, static_cast<std::uint64_t>(year), 4);
    }
    out.push_back('-');
    append_fixed(out, static_cast<unsigned>(date.month()), 2);
    out.push_back('-');
    append_fixed(out, static_cast<unsigned>(date.day()), 2);
    out.push_back('T');
    append_fixed(out, static_cast<std::uint64_t>(time.hours().count()), 2);
    out.push_back(':');
    append_fixed(out, static_cast<std::uint64_t>(time.minutes().count()), 2);
    out.push_back(':');
    append_fixed(out, static_cast<std::uint64_t>(time.seconds().count()), 2);
    out.push_back('.');
    append_fixed(out, static_cast<std::uint64_t>(time.subseconds().count()), 6);
    out.push_back('Z');
}

void append_json_value(render_buffer& out, const field_value& value) {
    std::visit(
        [&out](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) {
                append(out, v ? "true" : "false");
            } else if constexpr (std::is_same_v<T, double>) {
                if (std::isfinite(v)) {
                    append_double(out, v);
                } else {
                    append(out, "null");
                }
            } else if constexpr (std::is_same_v<T, std::string>) {
                append_quoted(out, v);
            } else {
                append_integer(out, v);
            }
        },
        value.get());
}

bool needs_quotes(std::string_view text) noexcept {
    if (text.empty()) return true;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7F || c == '"' || c == '=' || c == '\\') return true;
    }
    return false;
}

void append_key_value_value(render_buffer& out, const field_value& value) {
    std::visit(
        [&out](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) {
                append(out, v ? "true" : "false");
            } else if constexpr (std::is_same_v<T, double>) {
                if (std::isfinite(v)) {
                    append_double(out, v);
                } else {
                    append(out, std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
                }
            } else if constexpr (std::is_same_v<T, std::string>) {
                if (needs_quotes(v)) {
                    append_quoted(out, v);
                } else {
                    append_escaped(out, v);  // still replaces invalid UTF-8
                }
            } else {
                append_integer(out, v);
            }
        },
        value.get());
}

bool is_reserved_json_key(std::string_view key) noexcept {
    return key == "event" || key == "level" || key == "timestamp";
}

}  // namespace

void render_json_to(render_buffer& out, const log_event& event) {
    append(out, "{\"event\":");
    append_quoted(out, event.message);
    for (const log_field& field : event.fields) {
        out.push_back(',');
        out.push_back('"');
        if (is_reserved_json_key(field.key)) out.push_back('_');
        append_escaped(out, field.key);
        append(out, "\":");
        append_json_value(out, field.value);
    }
    append(out, ",\"level\":\"");
    append(out, to_string(event.level));
    append(out, "\",\"timestamp\":\"");
    append_timestamp(out, event.timestamp);
    append(out, "\"}");
}

void render_key_value_to(render_buffer& out, const log_event& event) {
    append_timestamp(out, event.timestamp);
    append(out, " [");
    append(out, to_string(event.level));
    append(out, "] ");
    append_escaped(out, event.message);
    for (const log_field& field : event.fields) {
        out.push_back(' ');
        append_escaped(out, field.key);
        out.push_back('=');
        append_key_value_value(out, field.value);
    }
}

}  // namespace detail

std::string render_json(const log_event& event) {
    detail::render_buffer out;
    detail::render_json_to(out, event);
    return fmt::to_string(out);
}

std::string render_key_value(const log_event& event) {
    detail::render_buffer out;
    detail::render_key_value_to(out, event);
    return fmt::to_string(out);
}

}  // namespace holdfast::timing
