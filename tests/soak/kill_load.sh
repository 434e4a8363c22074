#!/usr/bin/env bash
# kill -9 during `holdfast load`, again and again, at random points; after every kill the
# database holds only whole files and passes its integrity check.
#
#   tests/soak/kill_load.sh HOLDFAST_BINARY [ROUNDS]     (ROUNDS: default 50, or KILL_ROUNDS)
#
# Every round loads six fresh CSV files (50k to 300k rows, each row naming its file) into one
# SQLite database that accumulates across rounds — and, when HOLDFAST_TEST_PG_DSN is set, into
# a PostgreSQL table too, with --jobs 3 — and kills the load after a random delay between 0
# and 1.2× the time a whole load takes (measured first, per database), so kills land before
# the database is opened, mid-file, between files and after the end. Then:
#   - SQLite: PRAGMA integrity_check is "ok";
#   - each file's rows are all there or none are: count(*) per file is 0 or the file's size;
#   - a file that was loaded before is never lost later.
# Prints one line per round and a summary; exits 1 naming the first broken rule.
set -euo pipefail
bin=${1:?usage: kill_load.sh HOLDFAST_BINARY [ROUNDS]}
rounds=${2:-${KILL_ROUNDS:-50}}
[ -x "$bin" ] || { echo "kill_load: $bin is not an executable" >&2; exit 2; }

work=$(mktemp -d)
pg_table="holdfast_kill_load_$$"
cleanup() {
    if [ -n "${HOLDFAST_TEST_PG_DSN:-}" ]; then
        "$bin" query "DROP TABLE IF EXISTS $pg_table" --dsn "$HOLDFAST_TEST_PG_DSN" \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

sqlite_dsn="sqlite:$work/soak.db"
fail() {
    echo "kill_load: round $round: $*" >&2
    exit 1
}

# The single value of a one-column query (CSV without its header).
scalar() { "$bin" query "$1" --dsn "$2" --format csv | tail -n +2; }

# count(*) per file as "file count" lines, sorted.
per_file() {
    "$bin" query "SELECT file, count(*) AS n FROM $1 GROUP BY file ORDER BY file" --dsn "$2" \
        --format csv | tail -n +2 | tr ',' ' '
}

# Checks one database against the sizes of every file ever offered to it.
declare -A size_of  # file id -> rows
declare -A whole_sqlite whole_pg  # file id -> 1 once seen whole
check() {
    local table=$1 dsn=$2 kind=$3 file count
    while read -r file count; do
        [ -n "$file" ] || continue
        [ "$count" = "${size_of[$file]}" ] ||
            fail "$kind: file $file has $count of its ${size_of[$file]} rows (half a file)"
        if [ "$kind" = sqlite ]; then whole_sqlite[$file]=1; else whole_pg[$file]=1; fi
    done < <(per_file "$table" "$dsn")
    # Nothing that was whole before has gone.
    local -n seen=whole_$kind
    local present
    present=$(per_file "$table" "$dsn" | wc -l)
    [ "$present" = "${#seen[@]}" ] || fail "$kind: ${#seen[@]} files were loaded, $present remain"
}

printf 'file,row,payload\n' >"$work/seed.csv"
printf '0,0,seed\n' >>"$work/seed.csv"
size_of[0]=1
"$bin" load "$work/seed.csv" --into ledger --dsn "$sqlite_dsn" --create >/dev/null
if [ -n "${HOLDFAST_TEST_PG_DSN:-}" ]; then
    "$bin" load "$work/seed.csv" --into "$pg_table" --dsn "$HOLDFAST_TEST_PG_DSN" --create \
        >/dev/null
fi

# Six files of the sizes the rounds use, loaded whole into a scratch table: how long a load
# takes, in ms, for the kill delays.
calibrate() {
    local dsn=$1 table=$2 k start
    for k in 1 2 3 4 5 6; do
        awk -v n=$((k * 50000)) \
            'BEGIN { print "file,row,payload"; for (i = 0; i < n; i++) printf "-1,%d,padding-%d-padding\n", i, i }' \
            >"$work/c$k.csv"
    done
    start=$(date +%s%N)
    "$bin" load "$work"/c?.csv --into "$table" --dsn "$dsn" --create --jobs 3 >/dev/null
    echo $((($(date +%s%N) - start) / 1000000))
    "$bin" query "DROP TABLE $table" --dsn "$dsn" >/dev/null
    rm -f "$work"/c?.csv
}
declare -A load_ms
load_ms[sqlite]=$(calibrate "$sqlite_dsn" calibration)
[ -n "${HOLDFAST_TEST_PG_DSN:-}" ] && load_ms[pg]=$(calibrate "$HOLDFAST_TEST_PG_DSN" "${pg_table}_calibration")
echo "kill_load: a whole load takes ${load_ms[sqlite]} ms (sqlite)$([ -n "${load_ms[pg]:-}" ] && echo ", ${load_ms[pg]} ms (postgresql)")"

killed=0 finished=0
for round in $(seq 1 "$rounds"); do
    files=()
    for k in 1 2 3 4 5 6; do
        id=$((round * 10 + k))
        rows=$((k * 50000))
        size_of[$id]=$rows
        awk -v id="$id" -v n="$rows" \
            'BEGIN { print "file,row,payload"; for (i = 0; i < n; i++) printf "%d,%d,padding-%d-padding\n", id, i, i }' \
            >"$work/f$id.csv"
        files+=("$work/f$id.csv")
    done
    targets=(sqlite)
    [ -n "${HOLDFAST_TEST_PG_DSN:-}" ] && targets+=(pg)
    delays=""
    for target in "${targets[@]}"; do
        delay_ms=$((RANDOM * 32768 + RANDOM))
        delay_ms=$((delay_ms % (load_ms[$target] * 12 / 10 + 1)))
        delays+=" $target ${delay_ms} ms"
        if [ "$target" = sqlite ]; then
            "$bin" load "${files[@]}" --into ledger --dsn "$sqlite_dsn" >/dev/null 2>&1 &
        else
            "$bin" load "${files[@]}" --into "$pg_table" --dsn "$HOLDFAST_TEST_PG_DSN" --jobs 3 \
                >/dev/null 2>&1 &
        fi
        pid=$!
        sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
        if kill -KILL "$pid" 2>/dev/null; then
            killed=$((killed + 1))
        else
            finished=$((finished + 1))
        fi
        wait "$pid" 2>/dev/null || true
    done
    [ "$(scalar 'PRAGMA integrity_check' "$sqlite_dsn")" = ok ] ||
        fail "sqlite: PRAGMA integrity_check failed"
    check ledger "$sqlite_dsn" sqlite
    [ -n "${HOLDFAST_TEST_PG_DSN:-}" ] && check "$pg_table" "$HOLDFAST_TEST_PG_DSN" pg
    rm -f "${files[@]}"
    printf 'kill_load: round %d/%d: kill after%s; whole files: sqlite %d%s\n' \
        "$round" "$rounds" "$delays" "${#whole_sqlite[@]}" \
        "$([ -n "${HOLDFAST_TEST_PG_DSN:-}" ] && printf ', postgresql %d' "${#whole_pg[@]}")"
done
echo "kill_load: $rounds rounds, $killed loads killed, $finished finished before the kill;" \
    "every database held only whole files; SQLite integrity ok"
