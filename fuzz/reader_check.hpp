// Shared by the reader fuzz targets (csv_reader.cpp, jsonl_reader.cpp): reading a whole
// file through a reader, comparing two readings, and the checks every text value passes.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "records.hpp"
#include <nlohmann/json.hpp>

namespace holdfast::fuzz {

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "%s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
    std::abort();
}

struct outcome {
    std::vector<std::string> names;
    std::vector<cli::record> records;
    std::string error;  // empty when the whole file was read
};

/// Reads `bytes` as the file `name` through a Reader (cli::csv_reader, cli::jsonl_reader),
/// `chunk` bytes per read.
template <class Reader>
outcome read_file(std::string_view bytes, std::size_t chunk, const cli::record_limits& limits,
                  const char* name) {
    outcome out;
    auto in = cli::byte_source::from_memory(bytes, chunk);
    Reader reader(in, name, limits);
    try {
        out.names = reader.header();
        cli::record r;
        while (reader.next(r)) out.records.push_back(r);
    } catch (const cli::bad_data& e) {
        out.error = e.what();
        if (out.error.empty()) fail("an empty error message");
    }
    return out;
}

inline bool same(const outcome& a, const outcome& b) {
    if (a.names != b.names || a.error != b.error || a.records.size() != b.records.size())
        return false;
    for (std::size_t i = 0; i < a.records.size(); ++i) {
        const auto &x = a.records[i], &y = b.records[i];
        if (x.values != y.values || x.line != y.line || x.bytes != y.bytes) return false;
    }
    return true;
}

/// Text holds no NUL and is valid UTF-8 (nlohmann's own decoder checks it).
inline void check_text(std::string_view text) {
    if (text.find('\0') != std::string_view::npos) fail("a NUL byte in text", text);
    try {
        (void)nlohmann::json(std::string(text)).dump();
    } catch (const nlohmann::json::type_error&) {
        fail("invalid UTF-8 in text", text);
    }
}

}  // namespace holdfast::fuzz
