#!/usr/bin/env bash
# Point selects through a pool of 4 at concurrency 16, side by side against the same server
# and the same table (users, 100k rows), `SELECT * FROM users WHERE id = $1` with random ids:
#   (a) the seed's Python AsyncDatabasePool (asyncpg, Debian's python3-asyncpg; note that
#       asyncpg resets each connection on release),
#   (b) pgbench -M prepared with a custom script (-c 4: pgbench has no pool, one client per
#       connection),
#   (c) holdfast's db::async_pool (bench/db/pg_async_bench.cpp).
# Prints queries/s and client CPU µs per query (getrusage / GNU time) and the ratios.
# Goals (issue 6): (c) >= 10x (a)'s throughput; (c)'s CPU per query <= 1.5x (b)'s.
#
# Usage: bench/compare/db_async_pool.sh BUILD_DIR   (a release build with HOLDFAST_BUILD_BENCH=ON)
#   e.g. scripts/pg-test-cluster run bench/compare/db_async_pool.sh build/release
# Environment: HOLDFAST_TEST_PG_DSN; with HOLDFAST_PG_STATE_FILE (set by
# `scripts/pg-test-cluster run`) every client connects over the cluster's unix socket.
# DURATION (seconds per client, default 10). Skipped when no DSN; (a) is skipped when asyncpg
# is not installed. Exits non-zero only when a tool fails, never on the result.
set -euo pipefail
build=${1:?usage: db_async_pool.sh BUILD_DIR}
duration=${DURATION:-10}
if [ -z "${HOLDFAST_TEST_PG_DSN:-}" ]; then
    echo "db_async_pool: skipped: HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster"
    exit 0
fi
for tool in psql pgbench python3; do
    command -v "$tool" >/dev/null || { echo "db_async_pool: $tool not found" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "db_async_pool: /usr/bin/time (GNU time) not found" >&2; exit 1; }
bench="$build/bench/pg_async_bench"
[ -x "$bench" ] || { echo "db_async_pool: $bench not built" >&2; exit 1; }

# The unix socket of a pg-test-cluster (trust authentication for local connections).
dsn="$HOLDFAST_TEST_PG_DSN"
if [ -n "${HOLDFAST_PG_STATE_FILE:-}" ] && [ -r "$HOLDFAST_PG_STATE_FILE" ]; then
    data_dir=$(sed -n "s/^DATA_DIR='\(.*\)'$/\1/p" "$HOLDFAST_PG_STATE_FILE")
    port=$(echo "$dsn" | sed -E 's#.*:([0-9]+)/.*#\1#')
    database=$(echo "$dsn" | sed -E 's#.*/([^/?]+)(\?.*)?$#\1#')
    dsn="host=$data_dir port=$port user=postgres dbname=$database"
fi
schema=holdfast_bench_cmp

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -X -q "$dsn" -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS $schema CASCADE;
CREATE SCHEMA $schema;
CREATE TABLE $schema.users (id INT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
                            active BOOLEAN NOT NULL DEFAULT true,
                            created_at TIMESTAMPTZ NOT NULL DEFAULT now());
INSERT INTO $schema.users (id, name, email)
    SELECT g, 'user ' || g, 'user' || g || '@example.com' FROM generate_series(1, 100000) g;
ANALYZE $schema.users;
SQL

# (b) pgbench
cat >"$work/point.sql" <<SQL
\set id random(1, 100000)
SELECT * FROM $schema.users WHERE id = :id;
SQL
/usr/bin/time -f '%U %S' -o "$work/pgbench.time" \
    pgbench -n -M prepared -c 4 -j 1 -T "$duration" -f "$work/point.sql" "$dsn" \
    >"$work/pgbench.out" 2>&1
pgbench_q=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
pgbench_qps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/pgbench.out")
read -r pu ps <"$work/pgbench.time"

# (c) holdfast
HOLDFAST_TEST_PG_DSN="$dsn" HOLDFAST_BENCH_SCHEMA=$schema "$bench" \
    --benchmark_min_time="$duration" --benchmark_format=json \
    --benchmark_out="$work/holdfast.json" >/dev/null 2>&1

# (a) asyncpg, the seed's class as written
# Debian's interpreter, where python3-asyncpg lives (a pyenv python3 may come first in PATH).
asyncpg_line="skipped (python3-asyncpg not installed)"
pybin=
for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import asyncpg' 2>/dev/null; then pybin=$candidate; break; fi
done
if [ -n "$pybin" ]; then
    pydsn=$(python3 - "$dsn" <<'PY'
import sys
kv = dict(p.split("=", 1) for p in sys.argv[1].split())
if "host" in kv:
    print(f"postgresql://{kv.get('user', 'postgres')}@/{kv['dbname']}?host={kv['host']}&port={kv['port']}")
PY
)
    [ -n "$pydsn" ] || pydsn="$dsn"
    "$pybin" - "$pydsn" "$duration" "$schema" >"$work/asyncpg.out" <<'PY'
import asyncio, random, resource, sys, time
import asyncpg

class AsyncDatabasePool:
    """Async database connection pool (seed S3)."""
    def __init__(self, dsn, min_size=1, max_size=10):
        self._dsn, self._min_size, self._max_size = dsn, min_size, max_size
        self._pool = None
    async def __aenter__(self):
        self._pool = await asyncpg.create_pool(self._dsn, min_size=self._min_size,
                                               max_size=self._max_size)
        return self
    async def __aexit__(self, exc_type, exc_val, exc_tb):
        if self._pool is not None:
            await self._pool.close()
    async def execute(self, query, *args):
        async with self._pool.acquire() as conn:
            return await conn.fetch(query, *args)

async def main(dsn, duration, schema):
    sql = f"SELECT * FROM {schema}.users WHERE id = $1"
    async with AsyncDatabasePool(dsn, min_size=4, max_size=4) as pool:
        count = 0
        deadline = time.monotonic() + duration
        async def worker():
            nonlocal count
            while time.monotonic() < deadline:
                rows = await pool.execute(sql, random.randint(1, 100000))
                assert len(rows) == 1
                count += 1
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(16)))
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        print(f"{count / wall:.0f} {cpu * 1e6 / count:.2f}")

asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
PY
    asyncpg_line=$(cat "$work/asyncpg.out")
fi

python3 - "$pgbench_q" "$pgbench_qps" "$pu" "$ps" "$work/holdfast.json" "$asyncpg_line" <<'PY'
import json, sys
q, qps, pu, ps = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
pg_cpu = (pu + ps) * 1e6 / q
hf = [b for b in json.load(open(sys.argv[5]))["benchmarks"] if b.get("run_type") == "iteration"][0]
hf_qps, hf_cpu = hf["q/s"], hf["cpu_us/q"]
print("point select, pool 4 / concurrency 16 (pgbench: -c 4), users 100k rows")
print(f"  pgbench -M prepared : {qps:9.0f} q/s  {pg_cpu:6.2f} µs client CPU/query")
print(f"  holdfast async_pool : {hf_qps:9.0f} q/s  {hf_cpu:6.2f} µs client CPU/query"
      f"  = {hf_qps / qps:.2f}x pgbench q/s, {hf_cpu / pg_cpu:.2f}x pgbench CPU")
parts = sys.argv[6].split()
if len(parts) == 2:
    a_qps, a_cpu = float(parts[0]), float(parts[1])
    print(f"  asyncpg (seed S3)   : {a_qps:9.0f} q/s  {a_cpu:6.2f} µs client CPU/query"
          f"  -> holdfast = {hf_qps / a_qps:.1f}x asyncpg q/s, {a_cpu / hf_cpu:.1f}x less CPU")
else:
    print(f"  asyncpg (seed S3)   : {sys.argv[6]}")
PY
