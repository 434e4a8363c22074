#include "records.hpp"
// (header under test first: it must compile on its own)
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "../io/io_test_support.hpp"
#include <gtest/gtest.h>

namespace holdfast::cli {
namespace {

using db::value;
constexpr auto whole = std::string_view::npos;

// Everything a reader gives for `text`: the names, the records, and the error that stopped it.
struct outcome {
    std::vector<std::string> names;
    std::vector<record> records;
    std::string error;
    std::uint64_t bytes_read = 0;
};

template <class Reader>
outcome read_all(std::string_view text, std::size_t chunk = whole, record_limits limits = {},
                 std::string name = "t") {
    outcome out;
    auto in = byte_source::from_memory(text, chunk);
    Reader reader(in, std::move(name), limits);
    try {
        out.names = reader.header();
        record r;
        while (reader.next(r)) out.records.push_back(r);
    } catch (const bad_data& e) {
        out.error = e.what();
    }
    out.bytes_read = in.bytes_read();
    return out;
}

outcome read_csv(std::string_view text, std::size_t chunk = whole, record_limits limits = {}) {
    return read_all<csv_reader>(text, chunk, limits, "t.csv");
}
outcome read_jsonl(std::string_view text, std::size_t chunk = whole, record_limits limits = {}) {
    return read_all<jsonl_reader>(text, chunk, limits, "t.jsonl");
}

std::vector<value> values_of(const outcome& out, std::size_t i) {
    return out.records.at(i).values;
}

// ---- byte_source -----------------------------------------------------------------------------

TEST(ByteSource, MemoryFormServesEveryByteWhateverTheChunkSize) {
    const std::string text = "hello, world";
    for (std::size_t chunk : {std::size_t{1}, std::size_t{5}, whole}) {
        auto in = byte_source::from_memory(text, chunk);
        std::string seen;
        for (int c = in.get(); c >= 0; c = in.get()) seen += static_cast<char>(c);
        EXPECT_EQ(seen, text) << chunk;
        EXPECT_EQ(in.bytes_read(), text.size()) << chunk;
    }
}

TEST(ByteSource, SkipPrefixMatchesAcrossChunksAndConsumesNothingOnAMismatch) {
    auto bom = byte_source::from_memory("\xEF\xBB\xBFid", 1);
    EXPECT_TRUE(bom.skip_prefix("\xEF\xBB\xBF"));
    EXPECT_EQ(bom.get(), 'i');
    EXPECT_EQ(bom.bytes_read(), 4u);

    auto other = byte_source::from_memory("\xEF\xBB\x80x", 1);
    EXPECT_FALSE(other.skip_prefix("\xEF\xBB\xBF"));
    EXPECT_EQ(other.get(), 0xEF);
    EXPECT_EQ(other.bytes_read(), 1u);
}

TEST(ByteSource, FileFormReadsTheFileThroughItsBuffer) {
    io_test::scratch_directory dir;
    const auto path = dir / "data.csv";
    std::string text = "\xEF\xBB\xBF";
    for (int i = 0; i < 1000; ++i) text += std::to_string(i) + "\n";
    std::ofstream(path, std::ios::binary) << text;
    byte_source in(path, 64);
    EXPECT_TRUE(in.skip_prefix("\xEF\xBB\xBF"));
    std::string seen;
    for (auto run = in.buffered(); !run.empty(); run = in.buffered()) {
        EXPECT_LE(run.size(), 64u);
        seen += run;
        in.skip(run.size());
    }
    EXPECT_EQ(seen, text.substr(3));
    EXPECT_EQ(in.bytes_read(), text.size());
}

// ---- csv_reader ------------------------------------------------------------------------------

TEST(CsvReader, ReadsQuotedFieldsNullsAndTheLineEachRecordStartsOn) {
    const auto out = read_csv(
        "id,name,note\n1,ada,\"hello, world\"\n2,,\"two\nlines\"\n\n3,\"\",\"say \"\"hi\"\"\"\n");
    ASSERT_EQ(out.error, "");
    EXPECT_EQ(out.names, (std::vector<std::string>{"id", "name", "note"}));
    ASSERT_EQ(out.records.size(), 3u);
    EXPECT_EQ(values_of(out, 0), (std::vector<value>{"1", "ada", "hello, world"}));
    EXPECT_EQ(values_of(out, 1), (std::vector<value>{"2", nullptr, "two\nlines"}));
    EXPECT_EQ(values_of(out, 2), (std::vector<value>{"3", "", "say \"hi\""}));
    EXPECT_EQ(out.records[0].line, 2u);
    EXPECT_EQ(out.records[1].line, 3u);
    EXPECT_EQ(out.records[2].line, 6u);  // after the two-line field and a blank line
}

TEST(CsvReader, CountsCrlfOnceAndALoneCrAsALineEnd) {
    const auto out = read_csv("a,b\r\n1,\"x\r\ny\"\r\n2,z\r3,w\r");
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.records.size(), 3u);
    EXPECT_EQ(out.records[0].line, 2u);
    EXPECT_EQ(out.records[1].line, 4u);
    EXPECT_EQ(out.records[2].line, 5u);
    EXPECT_EQ(values_of(out, 0), (std::vector<value>{"1", "x\r\ny"}));
    // A lone CR inside a quoted field ends a line too.
    const auto quoted = read_csv("a\n\"x\ry\"\n2\n");
    ASSERT_EQ(quoted.records.size(), 2u);
    EXPECT_EQ(quoted.records[1].line, 4u);
}

TEST(CsvReader, GivesTheSameResultWhateverTheReadSize) {
    for (std::string_view text :
         {std::string_view("a,b\r\n1,\"x\"\"y\"\r\n\r\n2,\"multi\nline\"\r\n"),
          std::string_view("a,b\n1,2\n3,\"open")}) {
        const auto reference = read_csv(text);
        for (std::size_t chunk = 1; chunk <= 7; ++chunk) {
            const auto out = read_csv(text, chunk);
            EXPECT_EQ(out.names, reference.names) << chunk;
            EXPECT_EQ(out.error, reference.error) << chunk;
            ASSERT_EQ(out.records.size(), reference.records.size()) << chunk;
            for (std::size_t i = 0; i < out.records.size(); ++i) {
                EXPECT_EQ(out.records[i].values, reference.records[i].values) << chunk;
                EXPECT_EQ(out.records[i].line, reference.records[i].line) << chunk;
            }
        }
    }
}

TEST(CsvReader, SkipsAUtf8ByteOrderMarkBeforeTheHeader) {
    for (std::size_t chunk : {std::size_t{1}, whole}) {
        const auto out = read_csv("\xEF\xBB\xBFid,name\n1,a\n", chunk);
        EXPECT_EQ(out.names, (std::vector<std::string>{"id", "name"})) << chunk;
    }
}

TEST(CsvReader, RejectsANulByteNamingTheLineAndField) {
    EXPECT_EQ(read_csv(std::string_view("id,name\n1,ok\n2,a\0b\n", 20)).error,
              "t.csv:3: a NUL byte in field 2 (text cannot hold one)");
}

TEST(CsvReader, RejectsInvalidUtf8OnTheLineTheByteIsOn) {
    // The quoted field starts on line 2; the bad byte is on its second line.
    EXPECT_EQ(read_csv("id,note\n1,\"caf\xC3\xA9\ncaf\xE9\"\n").error,
              "t.csv:3: invalid UTF-8 in field 2 (byte 0xE9; load reads UTF-8 text)");
}

TEST(CsvReader, RejectsEveryKindOfInvalidUtf8AndAcceptsValidText) {
    for (std::string_view bad : {"\x80", "\xC0\xAF", "\xC3", "\xE0\x80\xAF", "\xED\xA0\x80",
                                 "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80", "\xFF"}) {
        const auto out = read_csv("a\n" + std::string(bad) + "\n");
        EXPECT_NE(out.error.find("t.csv:2: invalid UTF-8"), std::string::npos)
            << "bytes " << ::testing::PrintToString(bad) << ": " << out.error;
    }
    const auto good = read_csv("a\n\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBD\n");
    EXPECT_EQ(good.error, "");
    EXPECT_EQ(good.records.size(), 1u);
}

TEST(CsvReader, StopsAtTheRecordLimitWithoutReadingTheRest) {
    const std::string text = "a\n" + std::string(10 << 20, 'x') + "\n";
    record_limits limits;
    limits.max_record_bytes = 1 << 20;
    const auto out = read_csv(text, 64 * 1024, limits);
    EXPECT_EQ(out.error,
              "t.csv:2: a record longer than 1 MiB (--max-record-bytes; the limit keeps memory "
              "bounded)");
    EXPECT_LE(out.bytes_read, 2u + (1u << 20) + 64 * 1024);
}

TEST(CsvReader, TheRecordLimitCountsEveryFieldOfTheRecord) {
    record_limits limits;
    limits.max_record_bytes = 8;
    EXPECT_EQ(read_csv("a,b\n1234,5678\n", whole, limits).error, "");
    EXPECT_NE(read_csv("a,b\n1234,56789\n", whole, limits).error.find("t.csv:2: a record longer"),
              std::string::npos);
}

TEST(CsvReader, AHeaderWithTooManyColumnsStopsAtTheLimit) {
    std::string text = "c0";
    for (int i = 1; i < 100'000; ++i) text += ",c" + std::to_string(i);
    const auto out = read_csv(text + "\n", 16 * 1024);
    EXPECT_EQ(out.error,
              "t.csv:1: more than 1600 columns (the most a table of the target database can have)");
    EXPECT_LT(out.bytes_read, 32'000u);  // of 589 KB
}

TEST(CsvReader, ARecordWithAMillionFieldsIsCountedNotKept) {
    const auto out = read_csv("a,b\n" + std::string(999'999, ',') + "\n");
    EXPECT_EQ(out.error, "t.csv:2: expected 2 fields (as in the header), got 1000000");
}

TEST(CsvReader, RejectsEmptyAndDuplicateColumnNames) {
    EXPECT_EQ(read_csv("a,,b\n").error, "t.csv:1: empty column name in the header");
    EXPECT_EQ(read_csv("a,\"\",b\n").error, "t.csv:1: empty column name in the header");
    EXPECT_EQ(read_csv("a,b,a\n").error, "t.csv:1: duplicate column name \"a\" in the header");
}

TEST(CsvReader, NamesTheLineAnUnterminatedQuoteOpenedOn) {
    EXPECT_EQ(read_csv("a,b\n1,\"open\n2,3\n").error,
              "t.csv:2: unterminated quoted field (the file ends inside it)");
}

// ---- jsonl_reader ----------------------------------------------------------------------------

TEST(JsonlReader, TakesTheFirstObjectsKeysAsColumnsAndConvertsValues) {
    const auto out = read_jsonl(
        "{\"id\":1,\"tags\":[\"a\"],\"ok\":true}\n\n{\"ok\":null,\"id\":18446744073709551615}\n");
    ASSERT_EQ(out.error, "");
    EXPECT_EQ(out.names, (std::vector<std::string>{"id", "tags", "ok"}));
    EXPECT_EQ(values_of(out, 0), (std::vector<value>{std::int64_t{1}, "[\"a\"]", true}));
    EXPECT_EQ(values_of(out, 1), (std::vector<value>{"18446744073709551615", nullptr, nullptr}));
    EXPECT_EQ(out.records[1].line, 3u);
}

TEST(JsonlReader, ANumberTooLargeForADoubleIsBadDataOfItsLine) {
    EXPECT_EQ(read_jsonl("{\"a\":1}\n{\"a\":1e400}\n").error,
              "t.jsonl:2: invalid JSON: number overflow parsing '1e400'");
}

TEST(JsonlReader, NestingDeeperThanTheLimitIsBadDataNotAStackOverflow) {
    const std::string deep =
        "{\"a\":1}\n{\"a\":" + std::string(100'000, '[') + std::string(100'000, ']') + "}\n";
    EXPECT_EQ(read_jsonl(deep).error, "t.jsonl:2: JSON nested deeper than 128 levels");
    // At the limit (the object itself is the first level) the value is kept as JSON text.
    const std::string at_limit = "{\"a\":" + std::string(127, '[') + std::string(127, ']') + "}\n";
    const auto out = read_jsonl(at_limit);
    EXPECT_EQ(out.error, "");
    EXPECT_EQ(values_of(out, 0),
              (std::vector<value>{std::string(127, '[') + std::string(127, ']')}));
}

TEST(JsonlReader, RejectsAnEscapedNul) {
    EXPECT_EQ(read_jsonl("{\"a\":\"x\\u0000y\"}\n").error,
              "t.jsonl:1: a NUL byte (\\u0000) in the value of \"a\"");
    EXPECT_EQ(read_jsonl("{\"a\\u0000\":1}\n").error,
              "t.jsonl:1: a NUL byte in the key \"a\\u0000\"");
}

TEST(JsonlReader, RejectsInvalidUtf8WithoutQuotingTheBytes) {
    EXPECT_EQ(read_jsonl("{\"a\":\"ok\"}\n{\"a\":\"caf\xE9\"}\n").error,
              "t.jsonl:2: invalid UTF-8 (byte 0xE9; load reads UTF-8 text)");
}

TEST(JsonlReader, StopsALineAtTheLimitWithoutReadingTheRest) {
    const std::string text = "{\"a\":\"" + std::string(10 << 20, 'x') + "\"}\n";
    record_limits limits;
    limits.max_record_bytes = 1 << 20;
    const auto out = read_jsonl(text, 64 * 1024, limits);
    EXPECT_EQ(out.error,
              "t.jsonl:1: a line longer than 1 MiB (--max-record-bytes; the limit keeps memory "
              "bounded)");
    EXPECT_LE(out.bytes_read, (1u << 20) + 64 * 1024);
}

TEST(JsonlReader, AFirstObjectWithTooManyKeysStopsAtTheLimit) {
    std::string text = "{";
    for (int i = 0; i < 2000; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
    record_limits limits;
    limits.max_columns = 1600;
    EXPECT_EQ(read_jsonl(text + "}\n", whole, limits).error,
              "t.jsonl:1: more than 1600 columns (the most a table of the target database can "
              "have)");
}

TEST(JsonlReader, RejectsAnUnknownKeyAndAnEmptyOne) {
    EXPECT_EQ(read_jsonl("{\"id\":6}\n{\"id\":7,\"surprise\":1}\n").error,
              "t.jsonl:2: unknown column \"surprise\" (the columns are the keys of the first "
              "object)");
    EXPECT_EQ(read_jsonl("{\"\":1}\n").error, "t.jsonl:1: empty column name (an empty key)");
}

TEST(JsonlReader, GivesTheSameResultWhateverTheReadSize) {
    const std::string_view text = "\xEF\xBB\xBF{\"a\":1,\"b\":\"x\"}\r\n\n{\"b\":\"y\"}\n{\"a\":";
    const auto reference = read_jsonl(text);
    EXPECT_NE(reference.error, "");
    for (std::size_t chunk = 1; chunk <= 5; ++chunk) {
        const auto out = read_jsonl(text, chunk);
        EXPECT_EQ(out.names, reference.names) << chunk;
        EXPECT_EQ(out.error, reference.error) << chunk;
        ASSERT_EQ(out.records.size(), reference.records.size()) << chunk;
        for (std::size_t i = 0; i < out.records.size(); ++i)
            EXPECT_EQ(out.records[i].values, reference.records[i].values) << chunk;
    }
}

}  // namespace
}  // namespace holdfast::cli
