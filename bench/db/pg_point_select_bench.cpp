// PostgreSQL point query on one connection: `SELECT * FROM users WHERE id = $1` through
// pg::connection::query (cached prepared statement, rows converted to db::value) against a
// raw libpq PQexecPrepared loop that reads every field. Both pay the same network round trip,
// so compare the CPU column (client CPU per query). Goal (issue 3): within 1.2x.
// Needs HOLDFAST_TEST_PG_DSN (scripts/pg-test-cluster start); skipped with a message otherwise.
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <benchmark/benchmark.h>
#include <libpq-fe.h>

#include <holdfast/pg/connection.hpp>

namespace {

constexpr int user_count = 10'000;
constexpr const char* point_sql = "SELECT * FROM users WHERE id = $1";

std::optional<std::string> dsn() {
    const char* value = std::getenv("HOLDFAST_TEST_PG_DSN");
    if (value == nullptr || *value == '\0') return std::nullopt;
    return value;
}

// Creates bench_users.users (id, name, email, created_at) once per process.
std::string bench_dsn() {
    static const std::string prepared = [] {
        auto setup = holdfast::pg::connect(*dsn());
        setup.execute_unprepared(
            "SET client_min_messages = warning;"
            "DROP SCHEMA IF EXISTS holdfast_bench CASCADE; CREATE SCHEMA holdfast_bench;"
            "CREATE TABLE holdfast_bench.users (id INT PRIMARY KEY, name TEXT NOT NULL, "
            "email TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());"
            "INSERT INTO holdfast_bench.users (id, name, email) SELECT g, 'user ' || g, "
            "'user' || g || '@example.com' FROM generate_series(1, 10000) g;"
            "ANALYZE holdfast_bench.users");
        const auto base = *dsn();
        return base + (base.find('?') == std::string::npos ? "?" : "&") +
               "options=-csearch_path%3Dholdfast_bench";
    }();
    return prepared;
}

void BM_PgPointSelectRawLibpq(benchmark::State& state) {
    if (!dsn()) {
        state.SkipWithError("HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster");
        return;
    }
    PGconn* conn = PQconnectdb(bench_dsn().c_str());
    PQclear(PQprepare(conn, "point", point_sql, 0, nullptr));
    int id = 0;
    std::size_t bytes = 0;
    for (auto _ : state) {
        char text[16];
        *std::to_chars(text, text + sizeof text - 1, id % user_count + 1).ptr = '\0';
        const char* values[] = {text};
        PGresult* res = PQexecPrepared(conn, "point", 1, values, nullptr, nullptr, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            state.SkipWithError(PQerrorMessage(conn));
            PQclear(res);
            break;
        }
        for (int c = 0; c < PQnfields(res); ++c) bytes += std::strlen(PQgetvalue(res, 0, c));
        PQclear(res);
        ++id;
    }
    benchmark::DoNotOptimize(bytes);
    PQfinish(conn);
    state.SetItemsProcessed(state.iterations());
}

void BM_PgPointSelectHoldfastQuery(benchmark::State& state) {
    if (!dsn()) {
        state.SkipWithError("HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster");
        return;
    }
    auto conn = holdfast::pg::connect(bench_dsn());
    int id = 0;
    for (auto _ : state) {
        auto rows = conn.query(point_sql, id % user_count + 1);
        benchmark::DoNotOptimize(rows);
        ++id;
    }
    state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_PgPointSelectRawLibpq)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PgPointSelectHoldfastQuery)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
