#include <algorithm>
#include <cctype>

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

std::string redact_dsn(std::string_view text) {
    std::string out(text);
    // URI userinfo: scheme://user:password@host
    if (auto scheme = out.find("://"); scheme != std::string::npos) {
        const auto start = scheme + 3;
        const auto end_authority = out.find_first_of("/?#", start);
        const auto authority_end = end_authority == std::string::npos ? out.size() : end_authority;
        const auto at = out.rfind('@', authority_end);
        if (at != std::string::npos && at >= start) {
            const auto colon = out.find(':', start);
            if (colon != std::string::npos && colon < at) {
                out.replace(colon + 1, at - colon - 1, "***");
            }
        }
    }
    // password=... as a URI query parameter or a conninfo key (quoted or not).
    std::size_t pos = 0;
    while ((pos = out.find("password", pos)) != std::string::npos) {
        const bool at_key_start = pos == 0 || out[pos - 1] == ' ' || out[pos - 1] == '?' ||
                                  out[pos - 1] == '&' || out[pos - 1] == '\t';
        auto eq = pos + 8;
        while (eq < out.size() && out[eq] == ' ') ++eq;
        if (!at_key_start || eq >= out.size() || out[eq] != '=') {
            pos += 8;
            continue;
        }
        auto value_start = eq + 1;
        while (value_start < out.size() && out[value_start] == ' ') ++value_start;
        auto value_end = value_start;
        if (value_start < out.size() && out[value_start] == '\'') {
            value_end = value_start + 1;
            while (value_end < out.size() && out[value_end] != '\'') {
                if (out[value_end] == '\\') ++value_end;
                ++value_end;
            }
            value_end = std::min(value_end + 1, out.size());
        } else {
            const bool in_query = pos > 0 && (out[pos - 1] == '?' || out[pos - 1] == '&');
            const char* stop = in_query ? "&#" : " \t";
            value_end = out.find_first_of(stop, value_start);
            if (value_end == std::string::npos) value_end = out.size();
        }
        out.replace(value_start, value_end - value_start, "***");
        pos = value_start + 3;
    }
    return out;
}

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
