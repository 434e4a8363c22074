// The CSV reader of `holdfast load` on any bytes. The first byte picks the limits, how the
// input is cut into reads and how the round trip quotes; the rest is the file. Invariants,
// besides not crashing:
// - only bad_data escapes, and it reads "in.csv:<line>: ..." with a line the file has;
// - the same names, records and error whether the file comes whole or in small reads;
// - every record has the header's width and starts on a later line than the one before;
//   text holds no NUL and is valid UTF-8 (checked by nlohmann's own UTF-8 decoder); a record
//   holds at most max_record_bytes of field data; the header at most max_columns names;
// - round trip: what was read, written back as CSV, reads back the same.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "reader_check.hpp"
#include "records.hpp"
#include <nlohmann/json.hpp>

namespace {

using holdfast::cli::csv_reader;
using holdfast::cli::record;
using holdfast::cli::record_limits;

using holdfast::fuzz::check_text;
using holdfast::fuzz::fail;
using holdfast::fuzz::outcome;
using holdfast::fuzz::same;

outcome read_all(std::string_view bytes, std::size_t chunk, const record_limits& limits) {
    return holdfast::fuzz::read_file<csv_reader>(bytes, chunk, limits, "in.csv");
}

std::size_t lines_in(std::string_view file) {
    std::size_t lines = 1;
    for (std::size_t i = 0; i < file.size(); ++i) {
        if (file[i] == '\n' || (file[i] == '\r' && (i + 1 == file.size() || file[i + 1] != '\n')))
            ++lines;
    }
    return lines;
}

void check(const outcome& out, std::string_view file, const record_limits& limits) {
    if (!out.error.empty()) {
        // "in.csv:<line>: what"
        const std::string_view e = out.error;
        if (!e.starts_with("in.csv:")) fail("error without the file name", e);
        std::size_t i = 7, line = 0;
        while (i < e.size() && e[i] >= '0' && e[i] <= '9')
            line = line * 10 + static_cast<std::size_t>(e[i++] - '0');
        if (i == 7 || e.substr(i, 2) != ": ") fail("error without a line", e);
        if (line == 0 || line > lines_in(file))
            fail("error names a line the file does not have", e);
    }
    if (out.names.size() > limits.max_columns) fail("more names than max_columns");
    for (const auto& n : out.names) {
        if (n.empty()) fail("an empty column name");
        check_text(n);
    }
    std::size_t previous = 1;
    for (const auto& r : out.records) {
        if (r.values.size() != out.names.size()) fail("a record of another width than the header");
        if (r.line <= previous) fail("a record that does not start on a later line");
        previous = r.line;
        if (r.bytes > limits.max_record_bytes) fail("a record longer than max_record_bytes");
        std::size_t bytes = 0;
        for (const auto& v : r.values) {
            if (v.is_null()) continue;
            if (v.kind() != holdfast::db::value_kind::text) fail("a value that is not text");
            check_text(v.get<std::string_view>());
            bytes += v.get<std::string_view>().size();
        }
        if (bytes > r.bytes) fail("more field data than the record's bytes");
    }
}

void append_field(std::string& out, std::string_view text, bool quote_all) {
    if (!quote_all && !text.empty() && text.find_first_of(",\"\r\n") == std::string_view::npos) {
        out += text;
        return;
    }
    out += '"';
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

std::string write_csv(const outcome& out, bool quote_all, const char* newline) {
    std::string file;
    for (std::size_t i = 0; i < out.names.size(); ++i) {
        if (i) file += ',';
        // A first name starting with U+FEFF, unquoted, would be read as a byte order mark.
        append_field(file, out.names[i],
                     quote_all || (i == 0 && out.names[0].starts_with("\xEF\xBB\xBF")));
    }
    file += newline;
    for (const auto& r : out.records) {
        for (std::size_t i = 0; i < r.values.size(); ++i) {
            if (i) file += ',';
            if (!r.values[i].is_null())  // NULL: an empty unquoted field
                append_field(file, r.values[i].get<std::string_view>(), quote_all);
        }
        file += newline;
    }
    return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned selector = data[0];
    const std::string_view file(reinterpret_cast<const char*>(data) + 1, size - 1);
    record_limits limits;
    const std::size_t record_bytes[] = {limits.max_record_bytes, 8, 64, 1024};
    const std::size_t columns[] = {limits.max_columns, 1, 3, 8};
    limits.max_record_bytes = record_bytes[(selector >> 4) & 3];
    limits.max_columns = columns[(selector >> 6) & 3];
    const std::size_t chunk = (selector & 7) + 1;
    const bool quote_all = (selector & 8) != 0;

    const outcome whole = read_all(file, std::string_view::npos, limits);
    check(whole, file, limits);
    if (!same(whole, read_all(file, chunk, limits)))
        fail("reads of another size gave another result", file);

    if (whole.names.empty()) return 0;
    const std::string again = write_csv(whole, quote_all, chunk % 2 ? "\n" : "\r\n");
    const outcome back = read_all(again, std::string_view::npos, limits);
    if (!back.error.empty()) fail("the round trip does not read back", back.error);
    if (back.names != whole.names || back.records.size() != whole.records.size())
        fail("the round trip changed the names or the record count", again);
    for (std::size_t i = 0; i < back.records.size(); ++i) {
        if (back.records[i].values != whole.records[i].values ||
            back.records[i].bytes != whole.records[i].bytes)
            fail("the round trip changed a record", again);
    }
    return 0;
}
