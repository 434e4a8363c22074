// The readers behind `holdfast load`: CSV (RFC 4180) and JSONL records from a file or from
// memory, with limits that keep hostile input from exhausting memory.
//
//   holdfast::cli::byte_source in(path);        // or byte_source::from_memory(text)
//   holdfast::cli::csv_reader csv(in, "sales.csv", {.max_columns = 1600});
//   try {
//       auto columns = csv.header();
//       holdfast::cli::record r;
//       while (csv.next(r)) insert(columns, r.values);
//   } catch (const holdfast::cli::bad_data& e) {
//       // "sales.csv:3: expected 4 fields (as in the header), got 3": roll the file back
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <holdfast/db/value.hpp>
#include <holdfast/io/file.hpp>

namespace holdfast::cli {

/// A malformed record; what() is already "file:line: what is wrong".
class bad_data : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// What a reader accepts before it stops a file with bad_data. Each limit bounds the memory a
/// single record can take, whatever the file holds.
struct record_limits {
    /// The most bytes of field data in one record (a CSV record, a JSONL line). A record
    /// is held whole while it is parsed and written, so this bounds the reader's memory.
    std::size_t max_record_bytes = std::size_t{64} << 20;
    /// The most columns a header may name: PostgreSQL allows 1600 per table, SQLite 2000 by
    /// default (SQLITE_MAX_COLUMN); `holdfast load` asks the target database.
    std::size_t max_columns = 1600;
    /// The deepest nesting of JSON arrays and objects in a JSONL value (stored as JSON text),
    /// so neither parsing nor printing it can exhaust the stack.
    std::size_t max_json_depth = 128;
};

/// Bytes for the parsers, from a file through a fixed buffer or from memory.
///
/// get()/peek() serve a byte at a time; buffered()/skip() let a parser take runs of
/// ordinary bytes at once. The memory form serves `chunk_bytes` at a time, so tests can
/// cut the input anywhere a file read could.
///
/// @par Object lifetimes
/// The memory form does not copy: the bytes must outlive the source.
class byte_source {
  public:
    static constexpr std::size_t default_buffer_bytes = 256 * 1024;

    /// Reads `path` through a buffer of `buffer_bytes` (at least 64, for skip_prefix()).
    /// @par Errors
    /// std::system_error when the file cannot be opened or read.
    explicit byte_source(const std::filesystem::path& path,
                         std::size_t buffer_bytes = default_buffer_bytes);
    /// Serves `bytes`, at most `chunk_bytes` between two refills. (A named function, not a
    /// constructor: a std::string argument would otherwise be ambiguous with a path.)
    static byte_source from_memory(std::string_view bytes,
                                   std::size_t chunk_bytes = std::string_view::npos) {
        return byte_source(bytes, chunk_bytes);
    }

    byte_source(const byte_source&) = delete;
    byte_source& operator=(const byte_source&) = delete;

    /// The next byte (0-255), consumed; -1 at the end.
    int get() {
        if (pos_ == end_ && !refill()) return -1;
        return static_cast<unsigned char>(data_[pos_++]);
    }
    /// The next byte (0-255), not consumed; -1 at the end.
    int peek() {
        if (pos_ == end_ && !refill()) return -1;
        return static_cast<unsigned char>(data_[pos_]);
    }
    /// The bytes available without another read, refilling first when none are: empty only
    /// at the end. Valid until the next call on this source.
    std::string_view buffered() {
        if (pos_ == end_ && !refill()) return {};
        return {data_ + pos_, end_ - pos_};
    }
    /// Consumes `n` bytes of buffered() (n <= buffered().size()).
    void skip(std::size_t n) noexcept { pos_ += n; }
    /// Consumes `prefix` if the unread bytes start with it, however the input is cut into
    /// reads; otherwise consumes nothing and returns false.
    bool skip_prefix(std::string_view prefix);
    /// Bytes consumed so far.
    std::uint64_t bytes_read() const noexcept { return consumed_ + pos_; }

  private:
    byte_source(std::string_view bytes, std::size_t chunk_bytes);
    bool refill();

    io::file file_;  // not open for the memory form
    std::vector<char> buffer_;
    std::string_view memory_;  // the memory form's bytes not yet served
    std::size_t chunk_bytes_ = 0;
    const char* data_ = nullptr;
    std::size_t pos_ = 0;
    std::size_t end_ = 0;
    std::uint64_t consumed_ = 0;
};

/// One record: its values, the line it starts on, and its bytes of field data.
struct record {
    std::vector<db::value> values;
    std::size_t line = 0;
    std::size_t bytes = 0;
};

/// RFC 4180: fields separated by commas, records by CRLF, LF or CR; a quoted field may hold
/// commas, line breaks and doubled quotes. An unquoted empty field is NULL, a quoted one ("")
/// the empty string, as PostgreSQL's COPY ... CSV reads them. The first record names the
/// columns. Lines are counted as editors do: LF, CRLF and a lone CR each end one.
///
/// @par Errors
/// bad_data "name:line: ..." for: a file without a header; an empty or duplicate column
/// name; more columns than max_columns; a record whose field count differs from the
/// header's; a quote inside an unquoted field or after a closing quote; a quoted field the
/// file ends inside; a record longer than max_record_bytes; a NUL byte or invalid UTF-8 in a
/// field (neither database stores them as text: PostgreSQL rejects them, and SQLite would
/// keep bytes that other tools then cannot read as text).
class csv_reader {
  public:
    csv_reader(byte_source& in, std::string name, record_limits limits = {});

    /// Reads the header: the column names.
    std::vector<std::string> header();
    /// Reads the next record into `r` (its vectors are reused); false at the end of the file.
    bool next(record& r);

  private:
    bool read(record& r, bool is_header);
    void read_quoted(std::string& field, std::size_t opened);
    int read_unquoted(std::string& field);
    void add(std::string& field, std::string_view bytes, std::size_t record_line);
    void end_of_line(int c);
    std::string where(std::size_t line) const;

    byte_source& in_;
    std::string name_;
    record_limits limits_;
    std::size_t line_ = 1;
    std::size_t width_ = 0;
    std::size_t record_bytes_ = 0;
};

/// One JSON object per line; the first object's keys (in file order) are the columns, later
/// objects may omit some (NULL) but not add new ones. Numbers, strings, booleans and null
/// map to values; arrays and objects are kept as their JSON text. Blank lines are skipped.
///
/// @par Errors
/// bad_data "name:line: ..." for: a file without an object; a line that is not one JSON
/// object; an unknown key; an empty column name; more keys than max_columns; nesting deeper
/// than max_json_depth; a line longer than max_record_bytes; a NUL byte (raw or as \u0000) or
/// invalid UTF-8.
class jsonl_reader {
  public:
    jsonl_reader(byte_source& in, std::string name, record_limits limits = {});

    /// Reads the first object: its keys are the column names.
    std::vector<std::string> header();
    /// Reads the next object into `r` (its vectors are reused); false at the end of the file.
    bool next(record& r);

  private:
    bool read_object();
    void check_shape() const;
    db::value convert(const std::string& key, const nlohmann::ordered_json& j) const;
    std::string where() const;

    byte_source& in_;
    std::string name_;
    record_limits limits_;
    std::string line_text_;
    nlohmann::ordered_json current_;
    std::vector<std::string> columns_;
    std::size_t line_ = 1;
    std::size_t object_line_ = 0;
    bool pending_ = false;
};

}  // namespace holdfast::cli
