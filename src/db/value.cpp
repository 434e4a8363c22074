#include <charconv>
#include <cstdio>

#include <holdfast/db/value.hpp>

namespace holdfast::db {

std::string_view to_string(value_kind kind) noexcept {
    switch (kind) {
        case value_kind::null:
            return "null";
        case value_kind::integer:
            return "integer";
        case value_kind::real:
            return "real";
        case value_kind::text:
            return "text";
        case value_kind::binary:
            return "blob";
        case value_kind::boolean:
            return "boolean";
        case value_kind::datetime:
            return "timestamp";
    }
    return "?";
}

std::string format_timestamp(timestamp t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss<microseconds> tod{t - day};
    char buffer[64];
    const int n = std::snprintf(
        buffer, sizeof buffer, "%04d-%02u-%02u %02d:%02d:%02d.%06ld", static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
        static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
        static_cast<int>(tod.seconds().count()), static_cast<long>(tod.subseconds().count()));
    return std::string(buffer, static_cast<std::size_t>(n));
}

namespace {

bool read_int(std::string_view& s, std::size_t digits, int& out) {
    if (s.size() < digits) return false;
    out = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    s.remove_prefix(digits);
    return true;
}

bool expect(std::string_view& s, char c) {
    if (s.empty() || s.front() != c) return false;
    s.remove_prefix(1);
    return true;
}

}  // namespace

std::optional<timestamp> parse_timestamp(std::string_view s) noexcept {
    using namespace std::chrono;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!read_int(s, 4, y) || !expect(s, '-') || !read_int(s, 2, mo) || !expect(s, '-') ||
        !read_int(s, 2, d))
        return std::nullopt;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                             day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    timestamp t = sys_days{ymd};
    if (s.empty()) return t;
    if (s.front() != ' ' && s.front() != 'T') return std::nullopt;
    s.remove_prefix(1);
    if (!read_int(s, 2, h) || !expect(s, ':') || !read_int(s, 2, mi) || !expect(s, ':') ||
        !read_int(s, 2, sec) || h > 23 || mi > 59 || sec > 60)
        return std::nullopt;
    t += hours{h} + minutes{mi} + seconds{sec};
    if (!s.empty() && s.front() == '.') {
        s.remove_prefix(1);
        long micros = 0;
        int digits = 0;
        while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
            if (digits < 6) {
                micros = micros * 10 + (s.front() - '0');
                ++digits;
            }
            s.remove_prefix(1);
        }
        if (digits == 0) return std::nullopt;
        for (; digits < 6; ++digits) micros *= 10;
        t += microseconds{micros};
    }
    if (s.empty() || s == "Z") return t;
    const char sign = s.front();
    if (sign != '+' && sign != '-') return std::nullopt;
    s.remove_prefix(1);
    int oh = 0, om = 0;
    if (!read_int(s, 2, oh)) return std::nullopt;
    if (!s.empty()) {
        if (s.front() == ':') s.remove_prefix(1);
        if (!read_int(s, 2, om)) return std::nullopt;
    }
    if (!s.empty()) return std::nullopt;
    const auto offset = hours{oh} + minutes{om};
    return sign == '+' ? t - offset : t + offset;
}

param::param(const value& v) noexcept {
    std::visit(
        [this](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::same_as<T, std::monostate>) {
                *this = param(nullptr);
            } else {
                *this = param(x);
            }
        },
        v.data());
}

std::string value::to_display_string() const {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::same_as<T, std::monostate>) {
                return "NULL";
            } else if constexpr (std::same_as<T, bool>) {
                return x ? "true" : "false";
            } else if constexpr (std::same_as<T, std::int64_t>) {
                return std::to_string(x);
            } else if constexpr (std::same_as<T, double>) {
                char buffer[32];
                auto r = std::to_chars(buffer, buffer + sizeof buffer, x);
                return std::string(buffer, r.ptr);
            } else if constexpr (std::same_as<T, std::string>) {
                return x;
            } else if constexpr (std::same_as<T, blob>) {
                return "<blob of " + std::to_string(x.size()) + " bytes>";
            } else {
                return format_timestamp(x);
            }
        },
        data_);
}

namespace {

[[noreturn]] void kind_error(value_kind have, std::string_view want) {
    throw_usage_error("db",
                      "cannot read " + std::string(to_string(have)) + " as " + std::string(want));
}

}  // namespace

void value::null_error() const {
    throw_usage_error("db", "value is NULL: read it as std::optional<T>");
}

void value::range_error(std::int64_t i) const {
    throw_usage_error("db", "integer " + std::to_string(i) + " does not fit the requested type");
}

bool value::as_bool() const {
    if (auto* b = std::get_if<bool>(&data_)) return *b;
    if (auto* i = std::get_if<std::int64_t>(&data_)) return *i != 0;
    kind_error(kind(), "boolean");
}

std::int64_t value::as_integer() const {
    if (auto* i = std::get_if<std::int64_t>(&data_)) return *i;
    if (auto* b = std::get_if<bool>(&data_)) return *b ? 1 : 0;
    kind_error(kind(), "integer");
}

double value::as_real() const {
    if (auto* d = std::get_if<double>(&data_)) return *d;
    if (auto* i = std::get_if<std::int64_t>(&data_)) return static_cast<double>(*i);
    kind_error(kind(), "real");
}

std::string_view value::as_text() const {
    if (auto* s = std::get_if<std::string>(&data_)) return *s;
    kind_error(kind(), "text");
}

blob value::as_blob() const {
    if (auto* b = std::get_if<blob>(&data_)) return *b;
    kind_error(kind(), "blob");
}

timestamp value::as_timestamp() const {
    if (auto* t = std::get_if<timestamp>(&data_)) return *t;
    if (auto* s = std::get_if<std::string>(&data_)) {
        if (auto t = parse_timestamp(*s)) return *t;
        throw_usage_error("db", "text \"" + *s + "\" is not an ISO 8601 timestamp");
    }
    kind_error(kind(), "timestamp");
}

}  // namespace holdfast::db
