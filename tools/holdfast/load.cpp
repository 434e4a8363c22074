// `holdfast load`: CSV / JSONL files into a table, each file in its own transaction.
//
// Files are streamed through a fixed buffer (memory grows with the longest record, capped by
// --max-record-bytes, never with the file). SQLite rows go through the connection's cached
// prepared INSERT inside BEGIN IMMEDIATE; PostgreSQL rows through COPY. Workers take
// connections from a holdfast::pool; SQLite has a single writer, so its files are written one
// at a time (a process-wide lock) and --jobs only overlaps PostgreSQL loads.
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
#include "records.hpp"
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include <holdfast/db.hpp>
#include <holdfast/io.hpp>
#include <holdfast/pool.hpp>

namespace holdfast::cli {
namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

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
// a bounded queue, so parsing overlaps the database work and memory stays bounded. A batch
// ends at batch_rows records or batch_bytes of field data; the queue holds at most
// queue_depth batches and, unless it is empty, less than queue_bytes. So besides the queue,
// one batch is being parsed and one written: about 3 x (batch_bytes + the longest record).
class parsed_batches {
  public:
    using batch = std::vector<record>;
    static constexpr std::size_t batch_rows = 1024;
    static constexpr std::size_t batch_bytes = std::size_t{1} << 20;
    static constexpr std::size_t queue_depth = 4;
    static constexpr std::size_t queue_bytes = std::size_t{4} << 20;

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
        spare_.push_back(std::move(out));  // its vectors keep their capacity for the parser
        out = std::move(ready_.front());
        ready_.pop_front();
        ready_bytes_ -= ready_batch_bytes_.front();
        ready_batch_bytes_.pop_front();
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
                    changed_.wait(lock, [&] {
                        return ready_.empty() ||
                               (ready_.size() < queue_depth && ready_bytes_ < queue_bytes) ||
                               cancelled_;
                    });
                    if (cancelled_) break;
                    if (!spare_.empty()) {
                        b = std::move(spare_.back());
                        spare_.pop_back();
                    }
                }
                b.resize(batch_rows);
                std::size_t n = 0, bytes = 0;
                bool last = false;
                while (n < batch_rows && bytes < batch_bytes) {
                    if (!next_(b[n])) {
                        last = true;
                        break;
                    }
                    bytes += b[n++].bytes;
                }
                b.resize(n);
                after_batch_();
                {
                    std::lock_guard lock(mutex_);
                    if (n > 0) {
                        ready_.push_back(std::move(b));
                        ready_batch_bytes_.push_back(bytes);
                        ready_bytes_ += bytes;
                    }
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
    std::deque<std::size_t> ready_batch_bytes_;  // field data per batch in ready_
    std::size_t ready_bytes_ = 0;
    std::vector<batch> spare_;
    std::exception_ptr error_;
    bool done_ = false;
    bool cancelled_ = false;
    std::thread parser_;  // last: starts after every member it uses exists
};

// Loads one file in one transaction: every row or none.
void load_file(db::connection& conn, shared_state& shared, file_report& report) {
    const auto format = format_for(shared.options, report.file);
    record_limits limits;
    limits.max_record_bytes = shared.options.max_record_bytes;
    if (auto* lite = conn.as_sqlite())
        limits.max_columns =
            static_cast<std::size_t>(sqlite3_limit(lite->native_handle(), SQLITE_LIMIT_COLUMN, -1));
    byte_source in(report.file);
    std::optional<csv_reader> csv;
    std::optional<jsonl_reader> jsonl;
    std::vector<std::string> columns;
    if (format == "csv") {
        columns = csv.emplace(in, report.file, limits).header();
    } else {
        columns = jsonl.emplace(in, report.file, limits).header();
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
        // A file name or a message may hold bytes that are not UTF-8: replaced, not fatal.
        std::cout << summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
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
