#!/usr/bin/env bash
# COPY of 1,000,000 rows: holdfast's pg::copy_writer (bench/db/pg_copy_bench.cpp) against
# `psql \copy` of the same file into the same UNLOGGED table. Prints both medians (wall
# time) and the ratio of rows/s. Goal (issue 3): holdfast >= 0.9x psql.
#
# Usage: bench/compare/db_copy.sh BUILD_DIR   (a release build with HOLDFAST_BUILD_BENCH=ON)
# Environment: HOLDFAST_TEST_PG_DSN (scripts/pg-test-cluster start); skipped when unset.
# Exits non-zero only when a tool fails, never on the result.
set -euo pipefail
build=${1:?usage: db_copy.sh BUILD_DIR}
if [ -z "${HOLDFAST_TEST_PG_DSN:-}" ]; then
    echo "db_copy: skipped: HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster"
    exit 0
fi
for tool in psql hyperfine python3; do
    command -v "$tool" >/dev/null || { echo "db_copy: $tool not found" >&2; exit 1; }
done
bench="$build/bench/pg_copy_bench"
[ -x "$bench" ] || { echo "db_copy: $bench not built" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
file="$work/rows.tsv"
# The same rows pg_copy_bench writes itself: "<i>\tevent-<i>\t<i>.5" (COPY text format).
awk 'BEGIN { for (i = 1; i <= 1000000; i++) printf "%d\tevent-%d\t%d.5\n", i, i, i }' >"$file"

dsn="$HOLDFAST_TEST_PG_DSN"
psql -X -q "$dsn" -c "SET client_min_messages = warning;
    CREATE SCHEMA IF NOT EXISTS holdfast_bench_copy;
    DROP TABLE IF EXISTS holdfast_bench_copy.copy_target;
    CREATE UNLOGGED TABLE holdfast_bench_copy.copy_target (id BIGINT, name TEXT, score DOUBLE PRECISION)"

hyperfine --runs 5 --warmup 1 --export-json "$work/psql.json" \
    --prepare "psql -X -q '$dsn' -c 'TRUNCATE holdfast_bench_copy.copy_target'" \
    "psql -X -q '$dsn' -c '\\copy holdfast_bench_copy.copy_target (id, name, score) FROM ''$file'''" \
    >/dev/null

HOLDFAST_BENCH_COPY_FILE="$file" "$bench" --benchmark_repetitions=5 \
    --benchmark_format=json --benchmark_out="$work/holdfast.json" >/dev/null

python3 - "$work/psql.json" "$work/holdfast.json" <<'PY'
import json, statistics, sys
psql = statistics.median(json.load(open(sys.argv[1]))["results"][0]["times"])
runs = {}
for b in json.load(open(sys.argv[2]))["benchmarks"]:
    if b.get("run_type") == "iteration":
        runs.setdefault(b["run_name"].split("/")[0], []).append(b["real_time"] / 1000.0)
print(f"psql \\copy             : {psql * 1000:8.1f} ms  ({1e6 / psql / 1e6:.2f} M rows/s)")
for name, times in runs.items():
    t = statistics.median(times)
    print(f"{name:23s}: {t * 1000:8.1f} ms  ({1e6 / t / 1e6:.2f} M rows/s)  "
          f"= {psql / t:.2f}x psql")
PY
