// PostgreSQL bulk load: 1,000,000 rows (id, name, score) with COPY FROM STDIN through
// pg::copy_writer, two ways: write_row() formatting each row, and write_raw() streaming a
// file already in COPY text format. bench/compare/db_copy.sh loads the same file with
// `psql \copy` for the baseline. Wall time (UseRealTime): the server's work is the cost.
// Needs HOLDFAST_TEST_PG_DSN (scripts/pg-test-cluster start); skipped with a message otherwise.
// HOLDFAST_BENCH_COPY_FILE names the file to load (db_copy.sh sets it); without it the
// benchmark writes one itself.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <holdfast/pg/connection.hpp>
#include <holdfast/pg/copy_writer.hpp>

namespace {

constexpr std::int64_t rows_per_run = 1'000'000;

std::optional<std::string> env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return value;
}

std::string bench_dsn() {
    static const std::string prepared = [] {
        auto setup = holdfast::pg::connect(*env("HOLDFAST_TEST_PG_DSN"));
        setup.execute_unprepared(
            "SET client_min_messages = warning;"
            "CREATE SCHEMA IF NOT EXISTS holdfast_bench_copy;"
            "DROP TABLE IF EXISTS holdfast_bench_copy.copy_target;"
            "CREATE UNLOGGED TABLE holdfast_bench_copy.copy_target (id BIGINT, name TEXT, "
            "score DOUBLE PRECISION)");
        const auto base = *env("HOLDFAST_TEST_PG_DSN");
        return base + (base.find('?') == std::string::npos ? "?" : "&") +
               "options=-csearch_path%3Dholdfast_bench_copy";
    }();
    return prepared;
}

// The same rows as bench/compare/db_copy.sh writes: "<i>\tevent-<i>\t<i>.5".
std::string copy_file() {
    if (auto given = env("HOLDFAST_BENCH_COPY_FILE")) return *given;
    static const std::string generated = [] {
        const auto path = std::filesystem::temp_directory_path() /
                          ("holdfast-copy-" + std::to_string(::getpid()) + ".tsv");
        std::ofstream out(path);
        for (std::int64_t i = 1; i <= rows_per_run; ++i) {
            out << i << "\tevent-" << i << '\t' << i << ".5\n";
        }
        return path.string();
    }();
    return generated;
}

bool skip_without_server(benchmark::State& state) {
    if (env("HOLDFAST_TEST_PG_DSN")) return false;
    state.SkipWithError("HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster");
    return true;
}

void BM_PgCopyHoldfastWriteRow(benchmark::State& state) {
    if (skip_without_server(state)) return;
    auto conn = holdfast::pg::connect(bench_dsn());
    for (auto _ : state) {
        state.PauseTiming();
        conn.execute_unprepared("TRUNCATE copy_target");
        state.ResumeTiming();
        auto copy = conn.copy_in("copy_target", {"id", "name", "score"});
        std::string name;
        for (std::int64_t i = 1; i <= rows_per_run; ++i) {
            name = "event-";
            name += std::to_string(i);
            copy.write_row(i, name, static_cast<double>(i) + 0.5);
        }
        benchmark::DoNotOptimize(copy.finish());
    }
    state.SetItemsProcessed(state.iterations() * rows_per_run);
}

void BM_PgCopyHoldfastFromFile(benchmark::State& state) {
    if (skip_without_server(state)) return;
    auto conn = holdfast::pg::connect(bench_dsn());
    const auto path = copy_file();
    std::vector<char> chunk(1 << 20);
    for (auto _ : state) {
        state.PauseTiming();
        conn.execute_unprepared("TRUNCATE copy_target");
        state.ResumeTiming();
        std::FILE* file = std::fopen(path.c_str(), "rb");
        auto copy = conn.copy_in("copy_target", {"id", "name", "score"});
        std::size_t n;
        while ((n = std::fread(chunk.data(), 1, chunk.size(), file)) > 0) {
            copy.write_raw(std::string_view(chunk.data(), n));
        }
        std::fclose(file);
        benchmark::DoNotOptimize(copy.finish());
    }
    state.SetItemsProcessed(state.iterations() * rows_per_run);
}

BENCHMARK(BM_PgCopyHoldfastWriteRow)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_PgCopyHoldfastFromFile)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
