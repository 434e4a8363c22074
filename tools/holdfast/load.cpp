// `holdfast load`: CSV / JSONL files into a table, each file in its own transaction.
//
// Files are streamed through a fixed buffer (memory grows with the widest row, never with the
// file). SQLite rows go through the connection's cached prepared INSERT inside BEGIN IMMEDIATE;
// PostgreSQL rows through COPY. Workers take connections from a holdfast::pool; SQLite has a
// single writer, so its files are written one at a time (a process-wide lock) and --jobs only
// overlaps PostgreSQL loads.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <holdfast/db.hpp>
#include <holdfast/io.hpp>
#include <holdfast/pool.hpp>

namespace holdfast::cli {
namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

// A malformed row: the message is already "file:line: what is wrong".
class bad_data : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Reads a file through a fixed buffer, one byte at a time for the parsers.
class byte_source {
  public:
    explicit byte_source(const fs::path& path) : file_(path, io::open_mode::read) {}

    int get() {
        if (pos_ == end_ && !refill()) return -1;
        return static_cast<unsigned char>(buffer_[pos_++]);
    }
    int peek() {
        if (pos_ == end_ && !refill()) return -1;
        return static_cast<unsigned char>(buffer_[pos_]);
    }
    std::uint64_t bytes_read() const noexcept { return consumed_ + pos_; }

  private:
    bool refill() {
        consumed_ += end_;
        pos_ = 0;
        end_ = file_.read_some(buffer_.data(), buffer_.size());
        return end_ > 0;
    }

    io::file file_;
    std::vector<char> buffer_ = std::vector<char>(256 * 1024);
    std::size_t pos_ = 0;
    std::size_t end_ = 0;
    std::uint64_t consumed_ = 0;
};

// One record: values and the line it starts on.
struct record {
    std::vector<db::value> values;
    std::size_t line = 0;
};

// RFC 4180: fields separated by commas, records by CRLF or LF; a quoted field may hold commas,
// newlines and doubled quotes. An unquoted empty field is NULL, a quoted one ("") the empty
// string — as PostgreSQL's COPY ... CSV reads them. The first record names the columns.
class csv_reader {
  public:
    csv_reader(byte_source& in, std::string name) : in_(in), name_(std::move(name)) {}

    std::vector<std::string> header() {
        record r;
        if (!next(r, false))
            throw bad_data(name_ + ":1: the file is empty (a CSV header names the columns)");
        std::vector<std::string> names;
        for (auto& v : r.values) {
            if (v.is_null()) throw bad_data(where(r.line) + "empty column name in the header");
            names.push_back(v.get<std::string>());
        }
        width_ = names.size();
        return names;
    }

    bool next(record& r, bool check_width = true) {
        r.values.clear();
        int c = in_.peek();
        while (c == '\n' || c == '\r') {  // blank lines carry no record
            in_.get();
            if (c == '\n') ++line_;
            c = in_.peek();
        }
        if (c < 0) return false;
        r.line = line_;
        std::string field;
        for (;;) {
            field.clear();
            c = in_.get();
            bool quoted = false;
            if (c == '"') {
                quoted = true;
                const std::size_t opened = line_;
                for (;;) {
                    c = in_.get();
                    if (c < 0)
                        throw bad_data(where(opened) +
                                       "unterminated quoted field (the file ends inside it)");
                    if (c == '"') {
                        if (in_.peek() == '"') {
                            in_.get();
                            field += '"';
                            continue;
                        }
                        break;
                    }
                    if (c == '\n') ++line_;
                    field += static_cast<char>(c);
                }
                c = in_.get();
                if (c != ',' && c != '\n' && c != '\r' && c >= 0)
                    throw bad_data(where(line_) + "unexpected character after a closing quote");
            } else {
                while (c >= 0 && c != ',' && c != '\n' && c != '\r') {
                    if (c == '"')
                        throw bad_data(where(line_) +
                                       "a quote inside an unquoted field (quote the whole field)");
                    field += static_cast<char>(c);
                    c = in_.get();
                }
            }
            if (!quoted && field.empty()) {
                r.values.emplace_back();
            } else {
                r.values.emplace_back(std::move(field));
                field = std::string();
            }
            if (c == ',') continue;
            if (c == '\r' && in_.peek() == '\n') in_.get();
            if (c == '\n' || c == '\r') ++line_;
            break;
        }
        if (check_width && r.values.size() != width_) {
            throw bad_data(where(r.line) + "expected " + std::to_string(width_) +
                           " fields (as in the header), got " + std::to_string(r.values.size()));
        }
        return true;
    }

  private:
    std::string where(std::size_t line) const { return name_ + ":" + std::to_string(line) + ": "; }

    byte_source& in_;
    std::string name_;
    std::size_t line_ = 1;
    std::size_t width_ = 0;
};

// One JSON object per line; the first object's keys (in file order) are the columns, later
// objects may omit some (NULL) but not add new ones.
class jsonl_reader {
  public:
    jsonl_reader(byte_source& in, std::string name) : in_(in), name_(std::move(name)) {}

    std::vector<std::string> header() {
        if (!read_object())
            throw bad_data(name_ + ":1: the file is empty (no JSON object names the columns)");
        std::vector<std::string> names;
        for (const auto& item : current_.items()) names.push_back(item.key());
        columns_ = names;
        pending_ = true;
        return names;
    }

    bool next(record& r) {
        if (!pending_ && !read_object()) return false;
        pending_ = false;
        r.line = object_line_;
        r.values.assign(columns_.size(), db::value());
        for (const auto& item : current_.items()) {
            std::size_t i = 0;
            while (i < columns_.size() && columns_[i] != item.key()) ++i;
            if (i == columns_.size()) {
                throw bad_data(where() + "unknown column \"" + item.key() +
                               "\" (the columns are the keys of the first object)");
            }
            r.values[i] = convert(item.value());
        }
        return true;
    }

  private:
    static db::value convert(const nlohmann::ordered_json& j) {
        switch (j.type()) {
            case nlohmann::ordered_json::value_t::null:
                return {};
            case nlohmann::ordered_json::value_t::boolean:
                return db::value(j.get<bool>());
            case nlohmann::ordered_json::value_t::number_integer:
                return db::value(j.get<std::int64_t>());
            case nlohmann::ordered_json::value_t::number_unsigned: {
                // nlohmann reads every non-negative integer as unsigned.
                const auto u = j.get<std::uint64_t>();
                if (u <= static_cast<std::uint64_t>(INT64_MAX))
                    return db::value(static_cast<std::int64_t>(u));
                return db::value(std::to_string(u));  // exact, as text
            }
            case nlohmann::ordered_json::value_t::number_float:
                return db::value(j.get<double>());
            case nlohmann::ordered_json::value_t::string:
                return db::value(j.get<std::string>());
            default:  // arrays and objects are stored as their JSON text
                return db::value(j.dump());
        }
    }

    bool read_object() {
        for (;;) {
            line_text_.clear();
            int c = in_.get();
            if (c < 0) return false;
            while (c >= 0 && c != '\n') {
                line_text_ += static_cast<char>(c);
                c = in_.get();
            }
            object_line_ = line_++;
            if (line_text_.find_first_not_of(" \t\r") == std::string::npos) continue;
            try {
                current_ = nlohmann::ordered_json::parse(line_text_);
            } catch (const nlohmann::json::parse_error& e) {
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

    std::string where() const { return name_ + ":" + std::to_string(object_line_) + ": "; }

    byte_source& in_;
    std::string name_;
    std::string line_text_;
    nlohmann::ordered_json current_;
    std::vector<std::string> columns_;
    std::size_t line_ = 1;
    std::size_t object_line_ = 0;
    bool pending_ = false;
};

std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

enum class file_status { pending, loaded, bad_data, unreadable, rolled_back };

const char* to_string(file_status s) {
    switch (s) {
        case file_status::pending:
            return "not_started";
        case file_status::loaded:
            return "loaded";
        case file_status::bad_data:
            return "bad_data";
        case file_status::unreadable:
            return "unreadable";
        case file_status::rolled_back:
            return "rolled_back";
    }
    return "unknown";
}

// What happened to one file, for the summary (read by the progress line while it changes).
struct file_report {
    std::string file;
    std::atomic<file_status> status{file_status::pending};
    std::atomic<std::int64_t> rows{0};
    std::atomic<std::uint64_t> bytes{0};
    std::uint64_t size = 0;
    double seconds = 0;  // written by the worker, read after join
    std::string error;   // likewise
};

struct shared_state {
    const load_options& options;
    std::mutex sqlite_writer;  // SQLite: one writing transaction at a time
    std::mutex create_table;   // --create: CREATE TABLE IF NOT EXISTS one at a time
    std::mutex stderr_lock;
};

std::string format_for(const load_options& options, const std::string& file) {
    if (!options.format.empty()) return options.format;
    const auto ext = fs::path(file).extension().string();
    if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return "jsonl";
    return "csv";
}

// Parses a file on its own thread while the caller writes: records travel in batches through
// a bounded queue, so parsing overlaps the database work and memory stays bounded
// (queue_depth batches of batch_rows records).
class parsed_batches {
  public:
    using batch = std::vector<record>;
    static constexpr std::size_t batch_rows = 1024;
    static constexpr std::size_t queue_depth = 4;

    // `next` fills a record and returns false at the end of the file; it runs on the parser
    // thread only. `bytes` receives the bytes parsed so far after each batch.
    parsed_batches(std::function<bool(record&)> next, std::function<void()> after_batch)
        : next_(std::move(next)),
          after_batch_(std::move(after_batch)),
          parser_([this] { parse(); }) {}

    // The writer stopped (an error, Ctrl-C): the parser stops at its next batch and is joined,
    // so it never outlives the reader it parses from.
    ~parsed_batches() {
        {
            std::lock_guard lock(mutex_);
            cancelled_ = true;
        }
        changed_.notify_all();
        parser_.join();
    }

    parsed_batches(const parsed_batches&) = delete;
    parsed_batches& operator=(const parsed_batches&) = delete;

    // The next batch into `out` (its old records are recycled); false at the end of the file.
    // A parse error (bad_data "file:line: ...") is rethrown here, after the good batches
    // before it, in file order.
    bool pop(batch& out) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !ready_.empty() || done_; });
        if (ready_.empty()) {
            if (error_) std::rethrow_exception(error_);
            return false;
        }
        spare_.push_back(std::move(out));  // its strings keep their capacity for the parser
        out = std::move(ready_.front());
        ready_.pop_front();
        lock.unlock();
        changed_.notify_all();
        return true;
    }

  private:
    void parse() {
        try {
            for (;;) {
                batch b;
                {
                    std::unique_lock lock(mutex_);
                    changed_.wait(lock, [&] { return ready_.size() < queue_depth || cancelled_; });
                    if (cancelled_) break;
                    if (!spare_.empty()) {
                        b = std::move(spare_.back());
                        spare_.pop_back();
                    }
                }
                b.resize(batch_rows);
                std::size_t n = 0;
                while (n < batch_rows && next_(b[n])) ++n;
                b.resize(n);
                after_batch_();
                const bool last = n < batch_rows;
                {
                    std::lock_guard lock(mutex_);
                    if (n > 0) ready_.push_back(std::move(b));
                    if (last) done_ = true;
                }
                changed_.notify_all();
                if (last) return;
            }
        } catch (...) {
            std::lock_guard lock(mutex_);
            error_ = std::current_exception();
        }
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        changed_.notify_all();
    }

    std::function<bool(record&)> next_;
    std::function<void()> after_batch_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<batch> ready_;
    std::vector<batch> spare_;
    std::exception_ptr error_;
    bool done_ = false;
    bool cancelled_ = false;
    std::thread parser_;  // last: starts after every member it uses exists
};

// Loads one file in one transaction: every row or none.
void load_file(db::connection& conn, shared_state& shared, file_report& report) {
    const auto format = format_for(shared.options, report.file);
    byte_source in(report.file);
    std::optional<csv_reader> csv;
    std::optional<jsonl_reader> jsonl;
    std::vector<std::string> columns;
    if (format == "csv") {
        columns = csv.emplace(in, report.file).header();
    } else {
        columns = jsonl.emplace(in, report.file).header();
    }
    auto next = [&](record& r) { return csv ? csv->next(r) : jsonl->next(r); };

    if (shared.options.create) {
        std::string ddl =
            "CREATE TABLE IF NOT EXISTS " + quote_identifier(shared.options.table) + " (";
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (i) ddl += ", ";
            ddl += quote_identifier(columns[i]) + " TEXT";
        }
        ddl += ")";
        std::lock_guard lock(shared.create_table);
        conn.execute_unprepared(ddl);
    }

    std::unique_lock<std::mutex> writer;
    if (conn.as_sqlite()) writer = std::unique_lock(shared.sqlite_writer);
    throw_if_interrupted();

    std::vector<db::param> params;
    // SQLite: BEGIN IMMEDIATE (write intent). Rolls back in its destructor unless committed,
    // on every way out: a bad row, a database error, Ctrl-C.
    db::transaction tx(conn);
    // Declared after the transaction: on the way out the parser is stopped and joined first.
    parsed_batches parsed(next,
                          [&] { report.bytes.store(in.bytes_read(), std::memory_order_relaxed); });
    parsed_batches::batch batch;
    if (auto* pg = conn.as_pg()) {
        auto copy = pg->copy_in(shared.options.table, columns);  // aborted unless finished
        while (parsed.pop(batch)) {
            for (const auto& r : batch) {
                throw_if_interrupted();
                params.assign(r.values.begin(), r.values.end());
                copy.write_row_params(params);
            }
            report.rows.fetch_add(static_cast<std::int64_t>(batch.size()),
                                  std::memory_order_relaxed);
        }
        try {
            copy.finish();
        } catch (const db::error& e) {
            if (dynamic_cast<const db::connection_error*>(&e)) throw;
            throw bad_data(report.file + ": " + e.what());
        }
    } else {
        std::string insert = "INSERT INTO " + quote_identifier(shared.options.table) + " (";
        std::string values;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (i) {
                insert += ", ";
                values += ", ";
            }
            insert += quote_identifier(columns[i]);
            values += "$" + std::to_string(i + 1);
        }
        insert += ") VALUES (" + values + ")";
        while (parsed.pop(batch)) {
            for (const auto& r : batch) {
                throw_if_interrupted();
                params.assign(r.values.begin(), r.values.end());
                try {
                    conn.execute_params(insert, params);
                } catch (const db::constraint_error& e) {
                    throw bad_data(report.file + ":" + std::to_string(r.line) + ": " + e.what());
                }
            }
            report.rows.fetch_add(static_cast<std::int64_t>(batch.size()),
                                  std::memory_order_relaxed);
        }
    }
    throw_if_interrupted();  // the last moment a Ctrl-C can still keep this file out
    tx.commit();
}

std::string human_bytes(std::uint64_t bytes) {
    char text[32];
    if (bytes >= 1024 * 1024)
        std::snprintf(text, sizeof text, "%.1f MiB",
                      static_cast<double>(bytes) / (1024.0 * 1024.0));
    else if (bytes >= 1024)
        std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
    else
        std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
    return text;
}

}  // namespace

int run_load(const load_options& options) {
    install_interrupt_handler();
    shared_state shared{options, {}, {}, {}};
    std::vector<file_report> reports(options.files.size());
    for (std::size_t i = 0; i < reports.size(); ++i) {
        reports[i].file = options.files[i];
        std::error_code ec;
        reports[i].size = fs::file_size(options.files[i], ec);
    }

    pool_options pool_opts;
    pool_opts.name = "load";
    pool_opts.max_size = std::min(options.jobs, options.files.size());
    pool<db::connection> connections([dsn = options.dsn] { return connect_quietly(dsn); },
                                     pool_opts);
    { auto first = connections.acquire(); }  // an unreachable database fails here, once: 69

    const bool progress = ::isatty(STDERR_FILENO) == 1;
    std::atomic<std::size_t> next_file{0};
    std::mutex fatal_lock;
    std::exception_ptr fatal;
    std::atomic<bool> stop{false};
    auto fail_file = [&](file_report& report, file_status status, const std::string& what) {
        report.status = status;
        report.error = what;
        std::lock_guard lock(shared.stderr_lock);
        std::cerr << (progress ? "\r\033[K" : "") << "holdfast: " << what
                  << (status == file_status::bad_data ? " (file rolled back)" : "") << '\n';
    };
    // The database went away, or Ctrl-C: roll back (the destructors did), start no other file.
    auto fatal_error = [&](file_report& report) {
        report.status = file_status::rolled_back;
        std::lock_guard lock(fatal_lock);
        if (!fatal) fatal = std::current_exception();
        stop = true;
    };
    auto worker = [&] {
        for (;;) {
            const std::size_t i = next_file.fetch_add(1);
            if (i >= reports.size() || stop.load()) return;
            auto& report = reports[i];
            const auto started = clock::now();
            try {
                auto conn = connections.acquire();
                try {
                    load_file(*conn, shared, report);
                    report.status = file_status::loaded;
                } catch (...) {
                    if (conn->is_broken()) conn.discard();
                    throw;
                }
            } catch (const bad_data& e) {
                fail_file(report, file_status::bad_data, e.what());
            } catch (const db::connection_error&) {
                fatal_error(report);
            } catch (const db::timeout_error&) {
                fatal_error(report);
            } catch (const db::closed_error&) {
                fatal_error(report);
            } catch (const db::error& e) {
                // The table or a column does not exist, a value the column rejects, ...
                fail_file(report, file_status::bad_data, report.file + ": " + e.what());
            } catch (const std::system_error& e) {
                fail_file(report, file_status::unreadable, report.file + ": " + e.code().message());
            } catch (...) {
                fatal_error(report);  // Ctrl-C, or something unexpected
            }
            report.seconds = std::chrono::duration<double>(clock::now() - started).count();
        }
    };

    std::vector<std::thread> workers;
    std::mutex done_lock;
    std::condition_variable done_changed;
    std::size_t running = pool_opts.max_size;
    for (std::size_t w = 0; w < pool_opts.max_size; ++w) {
        workers.emplace_back([&] {
            worker();
            std::lock_guard lock(done_lock);
            --running;
            done_changed.notify_all();
        });
    }
    if (progress) {
        // A progress line on a terminal only: rows and bytes, per file and in total.
        std::unique_lock lock(done_lock);
        while (!done_changed.wait_for(lock, std::chrono::milliseconds(200),
                                      [&] { return running == 0; })) {
            std::int64_t rows = 0;
            std::uint64_t bytes = 0, total = 0;
            std::string active;
            for (const auto& r : reports) {
                rows += r.rows.load();
                bytes += r.bytes.load();
                total += r.size;
                if (r.status == file_status::pending && r.bytes.load() > 0) {
                    active += " " + fs::path(r.file).filename().string() + " " +
                              std::to_string(r.size ? r.bytes.load() * 100 / r.size : 0) + "%";
                }
            }
            std::lock_guard err(shared.stderr_lock);
            std::cerr << "\r\033[Kloading: " << rows << " rows, " << human_bytes(bytes) << " of "
                      << human_bytes(total) << active << std::flush;
        }
        std::cerr << "\r\033[K" << std::flush;
    }
    for (auto& t : workers) t.join();

    if (options.json) {
        nlohmann::ordered_json summary;
        summary["files"] = nlohmann::ordered_json::array();
        for (const auto& r : reports) {
            nlohmann::ordered_json f;
            f["file"] = r.file;
            f["status"] = to_string(r.status);
            f["rows"] = r.status == file_status::loaded ? r.rows.load() : 0;
            f["bytes"] = r.bytes.load();
            f["seconds"] = r.seconds;
            f["rows_per_second"] =
                r.seconds > 0 ? static_cast<double>(r.rows.load()) / r.seconds : 0.0;
            if (!r.error.empty()) f["error"] = r.error;
            summary["files"].push_back(f);
        }
        std::cout << summary.dump() << '\n';
    } else {
        for (const auto& r : reports) {
            if (r.status == file_status::loaded) {
                char line[256];
                std::snprintf(line, sizeof line, "%s: %lld rows, %s in %.2f s (%.0f rows/s)\n",
                              r.file.c_str(), static_cast<long long>(r.rows.load()),
                              human_bytes(r.bytes.load()).c_str(), r.seconds,
                              r.seconds > 0 ? static_cast<double>(r.rows.load()) / r.seconds : 0.0);
                std::cout << line;
            } else {
                std::cout << r.file << ": " << to_string(r.status) << ", nothing loaded\n";
            }
        }
    }
    std::cout.flush();

    if (fatal) std::rethrow_exception(fatal);
    bool bad = false, unreadable = false;
    for (const auto& r : reports) {
        bad = bad || r.status == file_status::bad_data;
        unreadable = unreadable || r.status == file_status::unreadable;
    }
    return bad ? exit_data : unreadable ? exit_no_input : exit_ok;
}

}  // namespace holdfast::cli
