#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>
#include <vector>

#include <holdfast/db/dsn.hpp>

namespace holdfast::db {

namespace {

[[noreturn]] void dsn_failure(std::string_view text, std::string what) {
    throw dsn_error(error_info{.backend = "db",
                               .message = "invalid DSN \"" + redact_dsn(text) + "\": " + what});
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    }
    return true;
}

// key=value conninfo: at least one "word=" at the start of a token.
bool looks_like_conninfo(std::string_view s) {
    auto first = s.find_first_not_of(" \t\n");
    if (first == std::string_view::npos) return false;
    auto eq = s.find('=', first);
    if (eq == std::string_view::npos || eq == first) return false;
    for (auto i = first; i < eq; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (!(std::isalnum(c) || c == '_' || c == ' ')) return false;
    }
    return true;
}

// libpq's idea of white space in a conninfo string (it tests isspace()).
bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// libpq percent-decodes the keys of a URI's query ("pass%77ord" is "password").
std::string percent_decoded(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
            hex_value(text[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// "scheme://" at the start: letters, then letters, digits, '+', '-' or '.' (RFC 3986).
std::size_t uri_scheme_length(std::string_view s) {
    const auto colon = s.find("://");
    if (colon == std::string_view::npos || colon == 0 ||
        !std::isalpha(static_cast<unsigned char>(s[0])))
        return 0;
    for (std::size_t i = 1; i < colon; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (!(std::isalnum(c) || c == '+' || c == '-' || c == '.')) return 0;
    }
    return colon + 3;
}

}  // namespace

dsn parse_dsn(std::string_view text) {
    if (text.find_first_not_of(" \t\n") == std::string_view::npos) {
        dsn_failure(text,
                    "it is empty; expected sqlite:PATH, sqlite::memory:, postgresql://... or a "
                    "libpq conninfo such as \"host=localhost dbname=app\"");
    }
    if (starts_with_icase(text, "sqlite:")) {
        std::string_view path = text.substr(7);
        if (path.starts_with("//")) path.remove_prefix(2);
        if (path == ":memory:") return {backend_kind::sqlite, ":memory:"};
        if (path.empty()) dsn_failure(text, "the SQLite path after \"sqlite:\" is empty");
        if (path.find('\0') != std::string_view::npos)
            dsn_failure(text, "the SQLite path contains a NUL character");
        return {backend_kind::sqlite, std::string(path)};
    }
    if (starts_with_icase(text, "postgresql://") || starts_with_icase(text, "postgres://")) {
        auto rest = text.substr(text.find("://") + 3);
        if (rest.find_first_of(" \t\n") != std::string_view::npos)
            dsn_failure(text, "a postgresql:// URI must not contain spaces (percent-encode them)");
        return {backend_kind::postgresql, std::string(text)};
    }
    // Only a real scheme: "://" inside a conninfo value (options='-c x=a://b') is not one,
    // and the text before it may hold a password.
    if (const auto scheme = uri_scheme_length(text)) {
        dsn_failure(text, "unsupported scheme \"" + std::string(text.substr(0, scheme - 3)) +
                              "\"; supported: sqlite:, postgresql://, postgres://");
    }
    if (looks_like_conninfo(text)) return {backend_kind::postgresql, std::string(text)};
    dsn_failure(text,
                "not a recognised form; expected sqlite:PATH, sqlite::memory:, "
                "postgresql://user@host/db or key=value pairs such as \"host=a,b dbname=app "
                "target_session_attrs=read-write\"");
}

namespace {

using span = std::pair<std::size_t, std::size_t>;  // [first, last) of a secret in the text

// The password of a URI's user:password@ part. libpq takes the user info up to the first '@'
// before the first '/', so '?', '#' and further '@'s may be inside the password unencoded;
// this takes everything up to the last such '@' (a superset of what libpq reads).
std::optional<span> uri_userinfo_password(std::string_view text) {
    const auto start = uri_scheme_length(text);
    if (start == 0) return std::nullopt;
    const auto slash = text.find('/', start);
    const auto authority_end = slash == std::string_view::npos ? text.size() : slash;
    auto at = authority_end > start ? text.rfind('@', authority_end - 1) : std::string_view::npos;
    if (at == std::string_view::npos || at < start) {
        // No '@' before the first '/': libpq sees no password, but "user:pass/word@host"
        // holds one all the same (an unencoded '/'). Not when a port comes before the '/'
        // ("host:5432/my@db"), nor when a '?' does (the '@' is in the query string).
        if (slash == std::string_view::npos) return std::nullopt;
        const auto colon = text.find(':', start);
        if (colon == std::string_view::npos || colon > slash) return std::nullopt;
        const auto before_slash = text.substr(colon + 1, slash - colon - 1);
        if (before_slash.find_first_not_of("0123456789") == std::string_view::npos)
            return std::nullopt;
        at = text.find('@', slash);
        if (at == std::string_view::npos ||
            text.substr(slash, at - slash).find_first_of("?#") != std::string_view::npos)
            return std::nullopt;
    }
    const auto colon = text.find(':', start);
    if (colon == std::string_view::npos || colon >= at) return std::nullopt;
    return span{colon + 1, at};
}

bool is_secret_key(std::string_view key) {
    return key == "password" || key == "sslpassword";  // sslpassword unlocks the client key
}

// A URI's query: any '?' may start libpq's query (the user info may hold one, and so may a
// password value: "?password=@x") and any '&' a parameter, so each is tried as the start of
// a key; keys are percent-decoded ("pass%77ord") and a value runs to the next '&'.
void add_query_values(std::string_view text, std::size_t start, std::vector<span>& spans) {
    for (auto key = text.find_first_of("?&", start); key != std::string_view::npos;
         key = text.find_first_of("?&", key)) {
        ++key;
        const auto end = std::min(text.find('&', key), text.size());
        const auto eq = text.find('=', key);
        if (eq < end && is_secret_key(percent_decoded(text.substr(key, eq - key))))
            spans.emplace_back(eq + 1, end);
    }
}

// key=value pairs for `key`, read as libpq does: a key starts the string or follows white
// space or a closing quote (libpq needs no space after one); white space may surround '=';
// a value is quoted ('...', backslash escapes) or runs to the next white space (backslash
// escapes too). After '?' or '&' (a query) the value runs to the next '&'. A key inside a
// quoted value is taken too: more than necessary, never less.
void add_key_values(std::string_view text, std::string_view key, std::vector<span>& spans) {
    std::size_t pos = 0;
    while ((pos = text.find(key, pos)) != std::string_view::npos) {
        const char before = pos == 0 ? ' ' : text[pos - 1];
        const bool in_query = before == '?' || before == '&';
        const bool at_key_start = in_query || is_space(before) || before == '\'';
        auto eq = pos + key.size();
        while (eq < text.size() && is_space(text[eq])) ++eq;
        if (!at_key_start || eq >= text.size() || text[eq] != '=') {
            pos += key.size();
            continue;
        }
        auto value_start = eq + 1;
        std::size_t value_end = value_start;
        if (in_query) {
            value_end = std::min(text.find('&', value_start), text.size());
        } else {
            while (value_start < text.size() && is_space(text[value_start])) ++value_start;
            value_end = value_start;
            const bool quoted = value_start < text.size() && text[value_start] == '\'';
            if (quoted) ++value_end;
            while (value_end < text.size() &&
                   (quoted ? text[value_end] != '\'' : !is_space(text[value_end]))) {
                if (text[value_end] == '\\') ++value_end;
                ++value_end;
            }
            if (quoted) ++value_end;  // the closing quote
            value_end = std::min(value_end, text.size());
        }
        spans.emplace_back(value_start, value_end);
        pos += key.size();  // a value may itself hold what libpq reads as the next key
    }
}

// Every secret in the text, sorted, without overlaps.
std::vector<span> secret_spans(std::string_view text) {
    std::vector<span> spans;
    const auto scheme = uri_scheme_length(text);
    if (scheme != 0) {
        if (auto userinfo = uri_userinfo_password(text)) spans.push_back(*userinfo);
        add_query_values(text, scheme, spans);
    }
    // libpq reads these two prefixes (exactly so) as a URI, never as key=value pairs.
    if (!text.starts_with("postgresql://") && !text.starts_with("postgres://")) {
        add_key_values(text, "password", spans);
        add_key_values(text, "sslpassword", spans);
    }
    std::sort(spans.begin(), spans.end());
    std::vector<span> merged;
    for (const auto& s : spans) {
        if (!merged.empty() && s.first <= merged.back().second) {
            merged.back().second = std::max(merged.back().second, s.second);
        } else {
            merged.push_back(s);
        }
    }
    return merged;
}

}  // namespace

std::string redact_dsn(std::string_view text) {
    std::string out;
    std::size_t copied = 0;
    for (const auto& [first, last] : secret_spans(text)) {
        out.append(text.substr(copied, first - copied));
        out += "***";
        copied = last;
    }
    out.append(text.substr(copied));
    return out;
}

namespace detail {

std::vector<std::string> dsn_secrets(std::string_view text) {
    std::vector<std::string> secrets;
    for (const auto& [first, last] : secret_spans(text)) {
        if (last > first) secrets.emplace_back(text.substr(first, last - first));
    }
    return secrets;
}

std::optional<std::string> uri_password(std::string_view text) {
    const auto userinfo = uri_userinfo_password(text);
    if (!userinfo) return std::nullopt;
    return std::string(text.substr(userinfo->first, userinfo->second - userinfo->first));
}

}  // namespace detail

std::string scrub_secret(std::string_view text, std::string_view secret) {
    std::string out(text);
    if (secret.empty()) return out;
    std::size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
        out.replace(pos, secret.size(), "***");
        pos += 3;
    }
    return out;
}

}  // namespace holdfast::db
