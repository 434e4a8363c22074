// db::parse_dsn() and db::redact_dsn() on any text. Invariants, besides not crashing:
// - parse_dsn() throws nothing but dsn_error; for PostgreSQL the target is the text unchanged;
//   an error reads `db: invalid DSN "<redacted>": <why>`;
// - no password survives redaction, as libpq's own parser (PQconninfoParse, which reads the
//   string when connecting) finds it: libpq must not read the same password from the
//   redacted form; and when the password is alphanumeric and its text occurs once, it is
//   replaced by a marker letter found nowhere else in the input — if libpq still reads the
//   marker as the password, no marker letter may be left in the redacted DSN or in an
//   error's <why> (a partial leak leaves some).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <libpq-fe.h>

#include <holdfast/db/dsn.hpp>

namespace {

using holdfast::db::backend_kind;
using holdfast::db::dsn_error;
using holdfast::db::parse_dsn;
using holdfast::db::redact_dsn;

[[noreturn]] void fail(const char* what, std::string_view dsn, std::string_view detail) {
    std::fprintf(stderr, "%s\n  dsn:    [%.*s]\n  detail: [%.*s]\n", what,
                 static_cast<int>(dsn.size()), dsn.data(), static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

// The password libpq reads from `text` ("" without one); nullopt when libpq rejects it.
std::optional<std::string> libpq_password(const std::string& text) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(text.c_str(), &error);
    if (error != nullptr) PQfreemem(error);
    if (options == nullptr) return std::nullopt;
    std::string password;
    for (auto* o = options; o->keyword != nullptr; ++o) {
        if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) password = o->val;
    }
    PQconninfoFree(options);
    return password;
}

// What an error says after the DSN it quotes. what() is a C string: a DSN with a NUL byte
// ends it there.
std::string explanation(std::string_view dsn, const std::string& what) {
    const std::string prefix = "db: invalid DSN \"" + redact_dsn(dsn) + "\": ";
    const auto visible = std::string_view(prefix).substr(0, prefix.find('\0'));
    if (!what.starts_with(visible)) fail("the error does not quote the redacted DSN", dsn, what);
    return what.substr(visible.size());
}

// The characters of the explanations parse_dsn() gives for inputs without a password: a
// marker letter must not be one of them.
const std::string& wording() {
    static const std::string all = [] {
        std::string out;
        for (const char* text : {"", "sqlite:", "postgresql://a b", "words", "x://y"}) {
            try {
                parse_dsn(text);
            } catch (const dsn_error& e) {
                out += e.what();
            }
        }
        return out;
    }();
    return all;
}

bool alphanumeric(std::string_view s) {
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

// The marker check: see the file comment.
void check_marked(const std::string& text, const std::string& password) {
    // Only where the password's text is found once, so that every marker letter stands for it.
    const auto at = text.find(password);
    if (!alphanumeric(password) || at == std::string::npos ||
        text.find(password, at + 1) != std::string::npos)
        return;
    char marker = 0;
    for (char c : std::string_view("QXZJKVWYBGHMNPRU")) {
        if (text.find(c) == std::string::npos && wording().find(c) == std::string::npos) {
            marker = c;
            break;
        }
    }
    if (marker == 0) return;
    const std::string marked_password(password.size(), marker);
    const std::string marked = std::string(text).replace(at, password.size(), marked_password);
    if (libpq_password(marked) != marked_password) return;  // the replacement changed the parse
    const std::string redacted = redact_dsn(marked);
    if (redacted.find(marker) != std::string::npos)
        fail("the redacted DSN keeps (part of) the password", marked, redacted);
    try {
        parse_dsn(marked);
    } catch (const dsn_error& e) {
        if (explanation(marked, e.what()).find(marker) != std::string::npos)
            fail("the error repeats (part of) the password", marked, e.what());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::string redacted = redact_dsn(text);

    // libpq reads a C string: it never sees past a NUL.
    if (text.find('\0') == std::string::npos) {
        const auto password = libpq_password(text);
        if (password && !password->empty()) {
            if (*password != "***" && libpq_password(redacted) == password)
                fail("libpq reads the same password from the redacted DSN", text, redacted);
            check_marked(text, *password);
        }
    }

    try {
        const auto parsed = parse_dsn(text);
        if (parsed.backend == backend_kind::postgresql && parsed.target != text)
            fail("a PostgreSQL DSN was not passed through unchanged", text, parsed.target);
    } catch (const dsn_error& e) {
        (void)explanation(text, e.what());
    }
    return 0;
}
