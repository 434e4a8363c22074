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
    if (auto colon = text.find("://"); colon != std::string_view::npos) {
        dsn_failure(text, "unsupported scheme \"" + std::string(text.substr(0, colon)) +
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

// The password of a URI's user:password@ part. libpq takes the userinfo up to the first '@'
// before the first '/', so '?', '#' and further '@'s may be inside the password unencoded;
// this takes everything up to the last such '@' (a superset of what libpq reads).
std::optional<span> uri_userinfo_password(std::string_view text) {
    const auto scheme = text.find("://");
    if (scheme == std::string_view::npos) return std::nullopt;
    const auto start = scheme + 3;
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

// Where the text says key=value for `key` (a whole key: after a separator, not the tail of
// another key).
void add_key_values(std::string_view text, std::string_view key, std::vector<span>& spans) {
    std::size_t pos = 0;
    while ((pos = text.find(key, pos)) != std::string_view::npos) {
        const bool at_key_start = pos == 0 || text[pos - 1] == ' ' || text[pos - 1] == '?' ||
                                  text[pos - 1] == '&' || text[pos - 1] == '\t';
        auto eq = pos + key.size();
        while (eq < text.size() && text[eq] == ' ') ++eq;
        if (!at_key_start || eq >= text.size() || text[eq] != '=') {
            pos += key.size();
            continue;
        }
        auto value_start = eq + 1;
        while (value_start < text.size() && text[value_start] == ' ') ++value_start;
        auto value_end = value_start;
        if (value_start < text.size() && text[value_start] == '\'') {
            value_end = value_start + 1;
            while (value_end < text.size() && text[value_end] != '\'') {
                if (text[value_end] == '\\') ++value_end;
                ++value_end;
            }
            value_end = std::min(value_end + 1, text.size());
        } else {
            const bool in_query = pos > 0 && (text[pos - 1] == '?' || text[pos - 1] == '&');
            const char* stop = in_query ? "&#" : " \t";
            value_end = text.find_first_of(stop, value_start);
            if (value_end == std::string_view::npos) value_end = text.size();
        }
        spans.emplace_back(value_start, value_end);
        pos = value_end;
    }
}

// Every secret in the text, sorted, without overlaps.
std::vector<span> secret_spans(std::string_view text) {
    std::vector<span> spans;
    if (auto userinfo = uri_userinfo_password(text)) spans.push_back(*userinfo);
    // password=... as a URI query parameter or a conninfo key (quoted or not); sslpassword
    // unlocks the client's private key.
    add_key_values(text, "password", spans);
    add_key_values(text, "sslpassword", spans);
    std::sort(spans.begin(), spans.end());
    std::vector<span> merged;
    for (const auto& s : spans) {
        if (!merged.empty() && s.first < merged.back().second) {
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
