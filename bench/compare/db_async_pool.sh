#!/usr/bin/env bash
# Three workloads through a pool of 4 at concurrency 16, side by side against the same server
# and the same tables (users, 100k rows; audit_log):
#   1. point select `SELECT * FROM users WHERE id = $1` with random ids;
#   2. the same selects sent 100 at a time (holdfast: pg::batch, libpq pipeline mode;
#      pgbench: the same 100 selects one by one, and with \startpipeline ... \endpipeline);
#   3. the transaction BEGIN; INSERT audit_log; UPDATE users; COMMIT (holdfast: also as a
#      two-statement batch, which the server runs as one implicit transaction).
# Clients:
#   (a) the seed's Python AsyncDatabasePool (asyncpg, Debian's python3-asyncpg; note that
#       asyncpg resets each connection on release),
#   (b) pgbench -M prepared with a custom script (-c 4: pgbench has no pool, one client per
#       connection),
#   (c) holdfast's db::async_pool (bench/db/pg_async_bench.cpp).
# Prints operations/s and client CPU µs per operation (getrusage / GNU time) and the ratios.
# Goals: (c) >= 10x (a)'s point-select throughput, (c)'s CPU per query <= 1.5x (b)'s; batched
# selects faster than pgbench; transactions >= 0.9x pgbench's.
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
CREATE TABLE $schema.audit_log (id BIGSERIAL PRIMARY KEY, user_id INT NOT NULL,
                                action TEXT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now());
ANALYZE $schema.users;
SQL

# (b) pgbench: one run per script; writes "transactions cpu_seconds tps" to $work/<name>.result
run_pgbench() {
    local name=$1
    /usr/bin/time -f '%U %S' -o "$work/$name.time" \
        pgbench -n -M prepared -c 4 -j 1 -T "$duration" -f "$work/$name.sql" "$dsn" \
        >"$work/$name.out" 2>&1 || { cat "$work/$name.out" >&2; return 1; }
    local count tps user system
    count=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/$name.out")
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/$name.out")
    read -r user system <"$work/$name.time"
    awk -v c="$count" -v t="$tps" -v u="$user" -v s="$system" \
        'BEGIN { print c, u + s, t }' >"$work/$name.result"
}
cat >"$work/point.sql" <<SQL
\set id random(1, 100000)
SELECT * FROM $schema.users WHERE id = :id;
SQL
{
    for i in $(seq 1 100); do echo "\set id$i random(1, 100000)"; done
    for i in $(seq 1 100); do echo "SELECT * FROM $schema.users WHERE id = :id$i;"; done
} >"$work/batch.sql"
{
    for i in $(seq 1 100); do echo "\set id$i random(1, 100000)"; done
    echo '\startpipeline'
    for i in $(seq 1 100); do echo "SELECT * FROM $schema.users WHERE id = :id$i;"; done
    echo '\endpipeline'
} >"$work/pipeline.sql"
cat >"$work/transaction.sql" <<SQL
\set id random(1, 100000)
BEGIN;
INSERT INTO $schema.audit_log (user_id, action) VALUES (:id, 'touch');
UPDATE $schema.users SET active = NOT active WHERE id = :id;
COMMIT;
SQL
for name in point batch pipeline transaction; do run_pgbench "$name"; done

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

async def measure(pool, duration, operation):
    count = 0
    deadline = time.monotonic() + duration
    async def worker():
        nonlocal count
        while time.monotonic() < deadline:
            await operation(pool, random.randint(1, 100000))
            count += 1
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(16)))
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return f"{count / wall:.0f} {cpu * 1e6 / count:.2f}"

async def main(dsn, duration, schema):
    select = f"SELECT * FROM {schema}.users WHERE id = $1"
    insert = f"INSERT INTO {schema}.audit_log (user_id, action) VALUES ($1, 'touch')"
    update = f"UPDATE {schema}.users SET active = NOT active WHERE id = $1"
    async def point(pool, user_id):
        rows = await pool.execute(select, user_id)
        assert len(rows) == 1
    async def transaction(pool, user_id):
        # S5's transaction on S3's pool: BEGIN; INSERT; UPDATE; COMMIT.
        async with pool._pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute(insert, user_id)
                await conn.execute(update, user_id)
    async with AsyncDatabasePool(dsn, min_size=4, max_size=4) as pool:
        print(await measure(pool, duration, point))
        print(await measure(pool, duration, transaction))

asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
PY
    asyncpg_line=$(paste -sd' ' "$work/asyncpg.out")
fi

python3 - "$work" "$asyncpg_line" <<'PY'
import json, sys
work, asyncpg = sys.argv[1], sys.argv[2]

def pgbench(name, per_transaction=1):
    count, cpu, tps = open(f"{work}/{name}.result").read().split()
    ops = int(count) * per_transaction
    return float(tps) * per_transaction, float(cpu) * 1e6 / ops

holdfast = {}
for b in json.load(open(f"{work}/holdfast.json"))["benchmarks"]:
    if b.get("run_type") != "iteration" or "error_occurred" in b and b["error_occurred"]:
        continue
    name = b["name"].split("/")[0]
    rate = b.get("q/s", b.get("tx/s"))
    holdfast[name] = (rate, b["cpu_us/op"])

def line(label, rate, cpu, unit, base=None, base_label=""):
    text = f"  {label:<34}: {rate:9.0f} {unit}  {cpu:6.2f} µs client CPU/op"
    if base:
        text += f"  = {rate / base[0]:.2f}x {base_label}, CPU {cpu / base[1]:.2f}x"
    print(text)

parts = asyncpg.split()
a_point = (float(parts[0]), float(parts[1])) if len(parts) >= 2 else None
a_tx = (float(parts[2]), float(parts[3])) if len(parts) >= 4 else None

print("1. point select, pool 4 / concurrency 16 (pgbench: -c 4), users 100k rows")
b_point = pgbench("point")
line("pgbench -M prepared", *b_point, "q/s ")
if "BM_AsyncPoolPointSelect" in holdfast:
    line("holdfast async_pool.execute", *holdfast["BM_AsyncPoolPointSelect"], "q/s ", b_point,
         "pgbench")
if a_point:
    line("asyncpg (seed S3)", *a_point, "q/s ")
    if "BM_AsyncPoolPointSelect" in holdfast:
        h = holdfast["BM_AsyncPoolPointSelect"]
        print(f"  -> holdfast = {h[0] / a_point[0]:.1f}x asyncpg q/s, {a_point[1] / h[1]:.1f}x less CPU")
else:
    print(f"  asyncpg (seed S3): {asyncpg}")

print("2. the same selects, 100 per batch")
b_batch = pgbench("batch", 100)
b_pipe = pgbench("pipeline", 100)
line("pgbench, 100 selects one by one", *b_batch, "q/s ")
line("pgbench \\startpipeline (100)", *b_pipe, "q/s ")
if "BM_AsyncPoolBatchPointSelect" in holdfast:
    h = holdfast["BM_AsyncPoolBatchPointSelect"]
    line("holdfast execute_batch (100)", *h, "q/s ", b_batch, "pgbench")
    print(f"  -> holdfast = {h[0] / b_pipe[0]:.2f}x pgbench with \\startpipeline")

print("3. BEGIN; INSERT audit_log; UPDATE users; COMMIT")
b_tx = pgbench("transaction")
line("pgbench -M prepared", *b_tx, "tx/s")
if "BM_AsyncPoolTransaction" in holdfast:
    line("holdfast pool.transaction", *holdfast["BM_AsyncPoolTransaction"], "tx/s", b_tx,
         "pgbench")
if "BM_AsyncPoolBatchTransaction" in holdfast:
    line("holdfast execute_batch (2 stmts)", *holdfast["BM_AsyncPoolBatchTransaction"], "tx/s",
         b_tx, "pgbench")
if a_tx:
    line("asyncpg (seed S3 + S5)", *a_tx, "tx/s")
    if "BM_AsyncPoolTransaction" in holdfast:
        print(f"  -> holdfast pool.transaction = "
              f"{holdfast['BM_AsyncPoolTransaction'][0] / a_tx[0]:.1f}x asyncpg tx/s")
PY
