// SQLite bulk insert: 1,000,000 small rows in one transaction through
// sqlite::connection::execute (cached prepared statement, bound parameters) against the raw
// sqlite3 bind/step/reset loop, same pragmas, same file system, same binary.
// Goal (issue 3): holdfast >= 0.95x the raw loop's rows/s.
#include <filesystem>
#include <stdexcept>
#include <string>

#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <holdfast/db/transaction.hpp>
#include <holdfast/sqlite/connection.hpp>

namespace {

constexpr std::int64_t rows_per_run = 1'000'000;
constexpr const char* insert_sql = "INSERT INTO events (id, name, score) VALUES (?, ?, ?)";
constexpr const char* schema_sql =
    "CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)";

class scratch_database {
  public:
    scratch_database() {
        std::string pattern = std::filesystem::temp_directory_path() / "holdfast-bench-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
        dir_ = pattern;
    }
    ~scratch_database() { std::filesystem::remove_all(dir_); }
    std::string fresh_file() {
        const auto path = dir_ / ("run" + std::to_string(++runs_) + ".db");
        return path.string();
    }

  private:
    std::filesystem::path dir_;
    int runs_ = 0;
};

void check(int rc, sqlite3* db) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
}

void BM_SqliteInsertRawBindStepReset(benchmark::State& state) {
    scratch_database scratch;
    for (auto _ : state) {
        state.PauseTiming();
        sqlite3* db = nullptr;
        check(sqlite3_open_v2(scratch.fresh_file().c_str(), &db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              nullptr),
              db);
        check(sqlite3_exec(db,
                           "PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL; "
                           "PRAGMA synchronous=NORMAL;",
                           nullptr, nullptr, nullptr),
              db);
        check(sqlite3_exec(db, schema_sql, nullptr, nullptr, nullptr), db);
        state.ResumeTiming();

        check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db);
        sqlite3_stmt* stmt = nullptr;
        check(sqlite3_prepare_v3(db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr),
              db);
        const std::string name = "event-name";
        for (std::int64_t i = 0; i < rows_per_run; ++i) {
            sqlite3_bind_int64(stmt, 1, i);
            sqlite3_bind_text(stmt, 2, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
            sqlite3_bind_double(stmt, 3, 0.5);
            check(sqlite3_step(stmt), db);
            sqlite3_reset(stmt);
        }
        sqlite3_finalize(stmt);
        check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db);

        state.PauseTiming();
        sqlite3_close_v2(db);
        state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * rows_per_run);
}

void BM_SqliteInsertHoldfastExecute(benchmark::State& state) {
    scratch_database scratch;
    for (auto _ : state) {
        state.PauseTiming();
        auto conn = holdfast::sqlite::connect(scratch.fresh_file());
        conn.execute_unprepared(schema_sql);
        state.ResumeTiming();

        holdfast::db::transaction tx(conn);
        const std::string name = "event-name";
        for (std::int64_t i = 0; i < rows_per_run; ++i) conn.execute(insert_sql, i, name, 0.5);
        tx.commit();

        state.PauseTiming();
        conn.close();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * rows_per_run);
}

BENCHMARK(BM_SqliteInsertRawBindStepReset)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_SqliteInsertHoldfastExecute)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
