// The JSONL reader of `holdfast load` on any bytes. The first byte picks the limits and how
// the input is cut into reads; the rest is the file. Invariants, besides not crashing:
// - only bad_data escapes, and it reads "in.jsonl:<line>: ..." with a line the file has;
// - the same names, records and error whether the file comes whole or in small reads;
// - every record has one value per column and starts on a later line than the one before;
//   text holds no NUL and is valid UTF-8; a line holds at most max_record_bytes; the first
//   object at most max_columns keys;
// - round trip: each record written back as a JSON object reads back the same values.
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

using holdfast::cli::jsonl_reader;
using holdfast::cli::record;
using holdfast::cli::record_limits;
using holdfast::db::value_kind;

using holdfast::fuzz::check_text;
using holdfast::fuzz::fail;
using holdfast::fuzz::outcome;
using holdfast::fuzz::same;

outcome read_all(std::string_view bytes, std::size_t chunk, const record_limits& limits) {
    return holdfast::fuzz::read_file<jsonl_reader>(bytes, chunk, limits, "in.jsonl");
}

void check(const outcome& out, std::string_view file, const record_limits& limits) {
    if (!out.error.empty()) {
        const std::string_view e = out.error;
        if (!e.starts_with("in.jsonl:")) fail("error without the file name", e);
        std::size_t i = 9, line = 0;
        while (i < e.size() && e[i] >= '0' && e[i] <= '9')
            line = line * 10 + static_cast<std::size_t>(e[i++] - '0');
        if (i == 9 || e.substr(i, 2) != ": ") fail("error without a line", e);
        std::size_t lines = 1;
        for (char c : file) lines += c == '\n';
        if (line == 0 || line > lines) fail("error names a line the file does not have", e);
    }
    if (out.names.size() > limits.max_columns) fail("more names than max_columns");
    for (const auto& n : out.names) {
        if (n.empty()) fail("an empty column name");
        check_text(n);
    }
    std::size_t previous = 0;
    for (const auto& r : out.records) {
        if (r.values.size() != out.names.size()) fail("a record of another width than the header");
        if (r.line <= previous) fail("a record that does not start on a later line");
        previous = r.line;
        if (r.bytes > limits.max_record_bytes) fail("a line longer than max_record_bytes");
        for (const auto& v : r.values) {
            if (v.kind() == value_kind::text) check_text(v.get<std::string_view>());
            if (v.kind() == value_kind::binary || v.kind() == value_kind::datetime)
                fail("a kind JSON cannot produce");
        }
    }
}

nlohmann::ordered_json to_json(const holdfast::db::value& v) {
    switch (v.kind()) {
        case value_kind::null:
            return nullptr;
        case value_kind::boolean:
            return v.get<bool>();
        case value_kind::integer:
            return v.get<std::int64_t>();
        case value_kind::real:
            return v.get<double>();
        default:
            return v.get<std::string>();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned selector = data[0];
    const std::string_view file(reinterpret_cast<const char*>(data) + 1, size - 1);
    record_limits limits;
    const std::size_t line_bytes[] = {limits.max_record_bytes, 8, 64, 1024};
    const std::size_t columns[] = {limits.max_columns, 1, 3, 8};
    const std::size_t depths[] = {limits.max_json_depth, 1, 2, 5};
    limits.max_record_bytes = line_bytes[(selector >> 4) & 3];
    limits.max_columns = columns[(selector >> 6) & 3];
    limits.max_json_depth = depths[(selector >> 2) & 3];
    const std::size_t chunk = (selector & 3) + 1;

    const outcome whole = read_all(file, std::string_view::npos, limits);
    check(whole, file, limits);
    if (!same(whole, read_all(file, chunk, limits)))
        fail("reads of another size gave another result", file);

    if (whole.records.empty()) return 0;
    // Values, not text, are compared: arrays and objects were read as their JSON text, which
    // goes back as a string and reads back as the same text.
    std::string again;
    for (const auto& r : whole.records) {
        nlohmann::ordered_json object = nlohmann::ordered_json::object();
        for (std::size_t i = 0; i < whole.names.size(); ++i)
            object[whole.names[i]] = to_json(r.values[i]);
        again += object.dump() + "\n";
    }
    record_limits unlimited;
    unlimited.max_columns = limits.max_columns;
    const outcome back = read_all(again, std::string_view::npos, unlimited);
    if (!back.error.empty()) fail("the round trip does not read back", back.error);
    if (back.names != whole.names || back.records.size() != whole.records.size())
        fail("the round trip changed the names or the record count", again);
    for (std::size_t i = 0; i < whole.records.size(); ++i) {
        if (back.records[i].values != whole.records[i].values)
            fail("the round trip changed a record", again);
    }
    return 0;
}
