#include "records.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <unordered_set>

namespace holdfast::cli {

namespace {

// "64 MiB", "1 KiB", "1000 bytes": limits as people set them.
std::string human_limit(std::size_t bytes) {
    constexpr std::size_t kib = 1024, mib = kib * 1024;
    if (bytes >= mib && bytes % mib == 0) return std::to_string(bytes / mib) + " MiB";
    if (bytes >= kib && bytes % kib == 0) return std::to_string(bytes / kib) + " KiB";
    return std::to_string(bytes) + " bytes";
}

// Where `text` stops being storable text: its first NUL byte or invalid UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF included, as PostgreSQL rejects
// them).
struct text_problem {
    std::size_t offset;
    unsigned char byte;

    // "a NUL byte in field 2 (...)", "invalid UTF-8 (byte 0xE9; ...)".
    std::string describe(const std::string& place) const {
        const std::string in = place.empty() ? "" : " in " + place;
        if (byte == 0) return "a NUL byte" + in + " (text cannot hold one)";
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", byte);
        return "invalid UTF-8" + in + " (byte " + hex + "; load reads UTF-8 text)";
    }
};

std::optional<text_problem> find_text_problem(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        // Eight bytes at a time while they are ASCII and not NUL, the usual case.
        if (n - i >= 8) {
            std::uint64_t word;
            std::memcpy(&word, p + i, 8);
            constexpr std::uint64_t top_bits = 0x8080808080808080, ones = 0x0101010101010101;
            if ((word & top_bits) == 0 && ((word - ones) & ~word & top_bits) == 0) {
                i += 8;
                continue;
            }
        }
        const unsigned char c = p[i];
        if (c < 0x80) {
            if (c == 0) return text_problem{i, c};
            ++i;
            continue;
        }
        // The sequence length, and the range of its second byte (which rules out overlong
        // forms, surrogates and values above U+10FFFF).
        std::size_t length = 0;
        unsigned low = 0x80, high = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            if (c == 0xE0) low = 0xA0;
            if (c == 0xED) high = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            if (c == 0xF0) low = 0x90;
            if (c == 0xF4) high = 0x8F;
        }
        bool valid = length != 0 && n - i >= length && p[i + 1] >= low && p[i + 1] <= high;
        for (std::size_t k = 2; valid && k < length; ++k) valid = (p[i + k] & 0xC0) == 0x80;
        if (!valid) return text_problem{i, c};
        i += length;
    }
    return std::nullopt;
}

// Line breaks in `text` as csv_reader counts them: LF, CRLF, lone CR.
std::size_t count_line_breaks(std::string_view text) {
    std::size_t lines = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')))
            ++lines;
    }
    return lines;
}

// A name for a message: quoted as a JSON string (control characters, NUL included, escaped)
// and cut short, so hostile input can make the message neither huge nor unprintable.
std::string quoted_name(std::string_view name) {
    constexpr std::size_t shown = 64;
    std::size_t cut = std::min(name.size(), shown);
    while (cut < name.size() && cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80)
        --cut;
    return nlohmann::json(std::string(name.substr(0, cut)))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           (cut < name.size() ? "..." : "");
}

// Appends `bytes` to `text`, which can grow to `most` bytes at the very most. std::string
// doubles its capacity, so a text just past half the limit would take twice the limit: when
// the doubling after next would pass `most`, the whole of `most` is taken at once instead
// (reserve() allocates exactly what it is asked for when that is more than double).
void append_bounded(std::string& text, std::string_view bytes, std::size_t most) {
    const std::size_t needed = text.size() + bytes.size();
    if (needed > text.capacity()) {
        const std::size_t doubled = 2 * text.capacity();
        if (needed <= doubled && doubled < most && most / 2 <= doubled) text.reserve(most);
    }
    text.append(bytes);
}

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

std::string too_many_columns(std::size_t limit) {
    return "more than " + std::to_string(limit) +
           " columns (the most a table of the target database can have)";
}

std::string too_long(std::size_t limit, const char* what) {
    return std::string(what) + " longer than " + human_limit(limit) +
           " (--max-record-bytes; the limit keeps memory bounded)";
}

}  // namespace

// ---- byte_source ------------------------------------------------------------------------------

byte_source::byte_source(const std::filesystem::path& path, std::size_t buffer_bytes)
    : file_(path, io::open_mode::read), buffer_(std::max<std::size_t>(buffer_bytes, 64)) {}

byte_source::byte_source(std::string_view bytes, std::size_t chunk_bytes)
    : memory_(bytes), chunk_bytes_(std::max<std::size_t>(chunk_bytes, 1)) {}

bool byte_source::refill() {
    consumed_ += end_;
    pos_ = 0;
    if (file_.is_open()) {
        data_ = buffer_.data();
        end_ = file_.read_some(buffer_.data(), buffer_.size());
    } else {
        data_ = memory_.data();
        end_ = std::min(chunk_bytes_, memory_.size());
        memory_.remove_prefix(end_);
    }
    return end_ > 0;
}

bool byte_source::skip_prefix(std::string_view prefix) {
    if (pos_ == end_ && !refill()) return prefix.empty();
    if (file_.is_open()) {
        // Move the unread bytes to the front and read until the prefix would fit (a pipe
        // may deliver a few bytes at a time).
        while (end_ - pos_ < prefix.size() && prefix.size() <= buffer_.size()) {
            std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(pos_),
                      buffer_.begin() + static_cast<std::ptrdiff_t>(end_), buffer_.begin());
            consumed_ += pos_;
            end_ -= pos_;
            pos_ = 0;
            const std::size_t n = file_.read_some(buffer_.data() + end_, buffer_.size() - end_);
            if (n == 0) break;
            end_ += n;
        }
        if (!std::string_view(data_ + pos_, end_ - pos_).starts_with(prefix)) return false;
        pos_ += prefix.size();
        return true;
    }
    // The memory form's current chunk and the bytes not yet served are contiguous.
    const std::size_t available = end_ - pos_;
    if (!std::string_view(data_ + pos_, available + memory_.size()).starts_with(prefix))
        return false;
    if (prefix.size() <= available) {
        pos_ += prefix.size();
    } else {
        const std::size_t beyond = prefix.size() - available;
        memory_.remove_prefix(beyond);
        consumed_ += beyond;
        pos_ = end_;
    }
    return true;
}

// ---- csv_reader -------------------------------------------------------------------------------

csv_reader::csv_reader(byte_source& in, std::string name, record_limits limits)
    : in_(in), name_(std::move(name)), limits_(limits) {}

std::string csv_reader::where(std::size_t line) const {
    return name_ + ":" + std::to_string(line) + ": ";
}

std::vector<std::string> csv_reader::header() {
    // A UTF-8 byte order mark (spreadsheets write one) is not part of the first name.
    in_.skip_prefix(utf8_bom);
    record r;
    if (!read(r, true))
        throw bad_data(name_ + ":1: the file is empty (a CSV header names the columns)");
    std::vector<std::string> names;
    names.reserve(r.values.size());
    std::unordered_set<std::string_view> seen;
    for (auto& v : r.values) {
        if (v.is_null() || v.get<std::string_view>().empty())
            throw bad_data(where(r.line) + "empty column name in the header");
        if (!seen.insert(v.get<std::string_view>()).second) {
            throw bad_data(where(r.line) + "duplicate column name " +
                           quoted_name(v.get<std::string_view>()) + " in the header");
        }
    }
    for (auto& v : r.values) names.push_back(v.get<std::string>());
    width_ = names.size();
    return names;
}

bool csv_reader::next(record& r) {
    return read(r, false);
}

bool csv_reader::read(record& r, bool is_header) {
    r.values.clear();
    r.bytes = 0;
    for (int c = in_.peek(); c == '\n' || c == '\r'; c = in_.peek()) {  // blank lines
        in_.get();
        end_of_line(c);
    }
    if (in_.peek() < 0) return false;
    r.line = line_;
    record_bytes_ = 0;
    // Fields past the header's width are counted, not kept: a record of a million fields
    // costs no more memory than its longest field.
    const std::size_t kept = is_header ? limits_.max_columns : width_;
    std::size_t fields = 0;
    std::string field;
    for (;;) {
        field.clear();
        const std::size_t field_line = line_;
        bool quoted = false;
        int c = 0;  // what ended the field: ',', '\n', '\r' or -1 (the end of the file)
        if (in_.peek() == '"') {
            in_.get();
            quoted = true;
            read_quoted(field, field_line);
            c = in_.get();
            if (c >= 0 && c != ',' && c != '\n' && c != '\r')
                throw bad_data(where(line_) + "unexpected character after a closing quote");
        } else {
            c = read_unquoted(field);
        }
        ++fields;
        if (is_header && fields > limits_.max_columns)
            throw bad_data(where(r.line) + too_many_columns(limits_.max_columns));
        if (fields <= kept) {
            if (auto problem = find_text_problem(field)) {
                const auto line = field_line + count_line_breaks(std::string_view(field).substr(
                                                   0, problem->offset));
                throw bad_data(where(line) + problem->describe("field " + std::to_string(fields)));
            }
            if (!quoted && field.empty()) {
                r.values.emplace_back();
            } else {
                r.values.emplace_back(std::move(field));
                field = std::string();
            }
        }
        if (c == ',') continue;
        if (c >= 0) end_of_line(c);
        break;
    }
    if (!is_header && fields != width_) {
        throw bad_data(where(r.line) + "expected " + std::to_string(width_) +
                       " fields (as in the header), got " + std::to_string(fields));
    }
    r.bytes = record_bytes_;
    return true;
}

// After the opening quote, through the closing one. Runs of ordinary bytes are taken whole
// from the buffer; only quotes and line breaks are looked at one by one.
void csv_reader::read_quoted(std::string& field, std::size_t opened) {
    for (;;) {
        const std::string_view run = in_.buffered();
        if (run.empty())
            throw bad_data(where(opened) + "unterminated quoted field (the file ends inside it)");
        std::size_t i = 0;
        while (i < run.size() && run[i] != '"' && run[i] != '\n' && run[i] != '\r') ++i;
        add(field, run.substr(0, i), opened);
        in_.skip(i);
        if (i == run.size()) continue;
        const char c = run[i];
        in_.skip(1);
        if (c == '"') {
            if (in_.peek() != '"') return;
            in_.get();
            add(field, "\"", opened);
            continue;
        }
        add(field, run.substr(i, 1), opened);
        if (c == '\n' || in_.peek() != '\n') ++line_;  // CRLF counts once, at its LF
    }
}

// Up to and including the byte that ends the field; returns it (-1 at the end of the file).
int csv_reader::read_unquoted(std::string& field) {
    for (;;) {
        const std::string_view run = in_.buffered();
        if (run.empty()) return -1;
        std::size_t i = 0;
        while (i < run.size() && run[i] != ',' && run[i] != '\n' && run[i] != '\r' && run[i] != '"')
            ++i;
        add(field, run.substr(0, i), line_);
        in_.skip(i);
        if (i == run.size()) continue;
        if (run[i] == '"')
            throw bad_data(where(line_) +
                           "a quote inside an unquoted field (quote the whole field)");
        in_.skip(1);
        return static_cast<unsigned char>(run[i]);
    }
}

void csv_reader::add(std::string& field, std::string_view bytes, std::size_t line) {
    if (bytes.size() > limits_.max_record_bytes - record_bytes_)
        throw bad_data(where(line) + too_long(limits_.max_record_bytes, "a record"));
    append_bounded(field, bytes, field.size() + (limits_.max_record_bytes - record_bytes_));
    record_bytes_ += bytes.size();
}

void csv_reader::end_of_line(int c) {
    if (c == '\r' && in_.peek() == '\n') in_.get();
    ++line_;
}

// ---- jsonl_reader -----------------------------------------------------------------------------

jsonl_reader::jsonl_reader(byte_source& in, std::string name, record_limits limits)
    : in_(in), name_(std::move(name)), limits_(limits) {}

std::string jsonl_reader::where() const {
    return name_ + ":" + std::to_string(object_line_) + ": ";
}

std::vector<std::string> jsonl_reader::header() {
    in_.skip_prefix(utf8_bom);
    if (!read_object())
        throw bad_data(name_ + ":1: the file is empty (no JSON object names the columns)");
    std::vector<std::string> names;
    for (const auto& item : current_.items()) {
        if (item.key().empty()) throw bad_data(where() + "empty column name (an empty key)");
        if (item.key().find('\0') != std::string::npos)
            throw bad_data(where() + "a NUL byte in the key " + quoted_name(item.key()));
        names.push_back(item.key());
    }
    columns_ = names;
    pending_ = true;
    return names;
}

bool jsonl_reader::next(record& r) {
    if (!pending_ && !read_object()) return false;
    pending_ = false;
    r.line = object_line_;
    r.bytes = line_text_.size();
    r.values.assign(columns_.size(), db::value());
    std::size_t position = 0;
    for (const auto& item : current_.items()) {
        // Objects usually repeat the first one's key order: try the key's own position first.
        std::size_t i = position;
        if (i >= columns_.size() || columns_[i] != item.key()) {
            i = 0;
            while (i < columns_.size() && columns_[i] != item.key()) ++i;
        }
        if (i == columns_.size()) {
            throw bad_data(where() + "unknown column " + quoted_name(item.key()) +
                           " (the columns are the keys of the first object)");
        }
        r.values[i] = convert(item.key(), item.value());
        ++position;
    }
    return true;
}

db::value jsonl_reader::convert(const std::string& key, const nlohmann::ordered_json& j) const {
    using kind = nlohmann::ordered_json::value_t;
    switch (j.type()) {
        case kind::null:
            return {};
        case kind::boolean:
            return db::value(j.get<bool>());
        case kind::number_integer:
            return db::value(j.get<std::int64_t>());
        case kind::number_unsigned: {
            // nlohmann reads every non-negative integer as unsigned.
            const auto u = j.get<std::uint64_t>();
            if (u <= static_cast<std::uint64_t>(INT64_MAX))
                return db::value(static_cast<std::int64_t>(u));
            return db::value(std::to_string(u));  // exact, as text
        }
        case kind::number_float:
            return db::value(j.get<double>());
        case kind::string: {
            // The line held no NUL byte, but the escape \u0000 makes one.
            const auto& text = j.get_ref<const std::string&>();
            if (text.find('\0') != std::string::npos)
                throw bad_data(where() + "a NUL byte (\\u0000) in the value of " +
                               quoted_name(key));
            return db::value(text);
        }
        default:  // arrays and objects are stored as their JSON text (\u0000 stays escaped)
            return db::value(j.dump());
    }
}

// The limits on nesting and on keys, checked before the line is parsed: no JSON tree is built
// for a line that breaks them. Brackets and colons are counted outside strings, which is
// exact for valid JSON; invalid JSON that passes is the parser's to reject.
void jsonl_reader::check_shape() const {
    std::size_t depth = 0, keys = 0;
    const std::string_view text = line_text_;
    for (std::size_t i = 0; i < text.size(); ++i) {
        switch (text[i]) {
            case '"':  // to the closing quote, past escapes
                for (++i; i < text.size() && text[i] != '"'; ++i)
                    if (text[i] == '\\') ++i;
                break;
            case '{':
            case '[':
                if (++depth > limits_.max_json_depth) {
                    throw bad_data(where() + "JSON nested deeper than " +
                                   std::to_string(limits_.max_json_depth) + " levels");
                }
                break;
            case '}':
            case ']':
                if (depth > 0) --depth;
                break;
            case ':':  // a key of the outermost object
                if (depth == 1 && ++keys > limits_.max_columns)
                    throw bad_data(where() + too_many_columns(limits_.max_columns));
                break;
            default:
                break;
        }
    }
}

bool jsonl_reader::read_object() {
    for (;;) {
        line_text_.clear();
        bool any = false;
        for (;;) {
            const std::string_view run = in_.buffered();
            if (run.empty()) break;
            any = true;
            const auto newline = run.find('\n');
            const std::size_t take = newline == std::string_view::npos ? run.size() : newline;
            if (take > limits_.max_record_bytes - line_text_.size()) {
                object_line_ = line_;
                throw bad_data(where() + too_long(limits_.max_record_bytes, "a line"));
            }
            append_bounded(line_text_, run.substr(0, take), limits_.max_record_bytes);
            in_.skip(newline == std::string_view::npos ? take : take + 1);
            if (newline != std::string_view::npos) break;
        }
        if (!any) return false;
        object_line_ = line_++;
        if (line_text_.find_first_not_of(" \t\r") == std::string::npos) continue;
        // Checked before parsing, so the message names the problem (nlohmann's would quote
        // the offending bytes, invalid UTF-8 included).
        if (auto problem = find_text_problem(line_text_))
            throw bad_data(where() + problem->describe(""));
        check_shape();
        try {
            current_ = nlohmann::ordered_json::parse(line_text_);
        } catch (const nlohmann::json::exception& e) {
            // parse_error, and out_of_range for a number too large for a double ("1e400").
            std::string what = e.what();
            if (auto pos = what.find("] "); pos != std::string::npos) what.erase(0, pos + 2);
            throw bad_data(where() + "invalid JSON: " + what);
        }
        if (!current_.is_object())
            throw bad_data(where() + "expected a JSON object, got " +
                           std::string(current_.type_name()));
        return true;
    }
}

}  // namespace holdfast::cli
