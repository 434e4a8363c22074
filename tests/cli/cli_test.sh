#!/usr/bin/env bash
# CLI tests: each case spawns the real holdfast binary.
#   cli_test.sh /path/to/holdfast CASE
# Exit 0 pass, 1 fail, 77 skip (PostgreSQL cases without HOLDFAST_TEST_PG_DSN).
set -uo pipefail

bin=$1
case_name=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
expect_eq() {  # expected actual what
    [[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}
need_pg() {
    if [[ -z "${HOLDFAST_TEST_PG_DSN:-}" ]]; then
        echo "HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster"
        exit 77
    fi
    pg=$HOLDFAST_TEST_PG_DSN
}

write_good_and_bad_csv() {
    printf 'id,name,note\n1,ada,"hello, world"\n2,bob,"two\nlines"\n3,eve,"say ""hi"""\n' >good1.csv
    printf 'id,name,note\n10,x,y\n11,only-two\n12,a,b\n' >bad.csv
    printf 'id,name,note\n20,g,h\n21,i,j\n' >good2.csv
}

# Loads good1.csv bad.csv good2.csv into table $2 of DSN $1; checks the exit code, the
# report naming bad.csv:3 and that the table holds exactly the good files' rows.
check_good_and_bad_load() {
    local dsn=$1 table=$2
    write_good_and_bad_csv
    "$bin" load good1.csv bad.csv good2.csv --into "$table" --dsn "$dsn" --create \
        >out.txt 2>err.txt
    expect_eq 65 $? "exit code of a load with one bad file"
    grep -q '^holdfast: bad.csv:3: expected 3 fields' err.txt || fail "stderr: $(cat err.txt)"
    local count
    count=$("$bin" query "SELECT count(*) AS n FROM $table" --dsn "$dsn" --format csv | tail -1)
    expect_eq 5 "$count" "rows in the table (3 + 2 from the good files)"
    local bad_rows
    bad_rows=$("$bin" query "SELECT count(*) AS n FROM $table WHERE id IN ('10','12')" \
        --dsn "$dsn" --format csv | tail -1)
    expect_eq 0 "$bad_rows" "rows of the bad file"
    local note
    note=$("$bin" query "SELECT note FROM $table WHERE id = \$1" 2 --dsn "$dsn" --format jsonl)
    expect_eq '{"note":"two\nlines"}' "$note" "a quoted field with a newline"
}

# Files one bad thing each, for the hostile-input cases: "file expected-message" pairs in
# hostile_csv, written into the current directory.
write_hostile_csv() {
    printf 'id,name\n1,ok\n2,a\0b\n' >nul.csv
    printf 'id,name\n1,"caf\xc3\xa9\ncaf\xe9"\n' >utf8.csv
    seq -f 'c%g' -s, 1 1000000 >wide_header.csv
    { printf 'id,name\n1,x\n'; head -c 999999 /dev/zero | tr '\0' ,; printf '\n'; } >wide_row.csv
    hostile_csv=(
        "nul.csv:3: a NUL byte in field 2"
        "utf8.csv:3: invalid UTF-8 in field 2 (byte 0xE9"
        "wide_header.csv:1: more than"
        "wide_row.csv:3: expected 2 fields (as in the header), got 1000000"
    )
}

# Peak RSS in KB of a command (GNU time), for the memory bounds. In sanitizer builds, ASan's
# quarantine of freed blocks (256 MB by default) would count too: kept small, so what is
# measured is the program's own memory.
max_rss_kb() {  # output-file command...
    local out=$1
    shift
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8 \
        /usr/bin/time -f %M -o "$out.rss" "$@" >"$out" 2>"$out.err"
    local status=$?
    RSS=$(tail -1 "$out.rss")
    return $status
}

case $case_name in
unknown_flag_is_usage_error)
    "$bin" query 'SELECT 1' --dsn sqlite::memory: --no-such-flag >out.txt 2>err.txt
    expect_eq 64 $? "exit code"
    grep -q '^holdfast: .*--no-such-flag' err.txt || fail "stderr: $(cat err.txt)"
    grep -q '^Usage: holdfast query' err.txt || fail "no usage line: $(cat err.txt)"
    [[ ! -s out.txt ]] || fail "stdout not empty"
    "$bin" load x.csv >/dev/null 2>err.txt
    expect_eq 64 $? "exit code of load without --into"
    "$bin" --version | grep -q '^holdfast ' || fail "--version"
    for cmd in query load demo; do
        "$bin" $cmd --help | grep -q 'Examples:' || fail "$cmd --help has no examples"
    done
    ;;
missing_dsn_is_usage_error)
    HOLDFAST_DSN= "$bin" query 'SELECT 1' >out.txt 2>err.txt
    expect_eq 64 $? "exit code"
    expect_eq "holdfast: query needs --dsn (or HOLDFAST_DSN)" "$(cat err.txt)" "stderr"
    HOLDFAST_DSN=sqlite::memory: "$bin" query 'SELECT 1 AS one' >out.txt 2>err.txt
    expect_eq 0 $? "exit code with HOLDFAST_DSN"
    expect_eq '{"one":1}' "$(cat out.txt)" "stdout"
    "$bin" query 'SELECT 1' --dsn 'mysql://x' >out.txt 2>err.txt
    expect_eq 64 $? "exit code of a malformed DSN"
    ;;
unreachable_database_is_unavailable)
    start=$SECONDS
    "$bin" query 'SELECT 1' --dsn 'postgresql://holdfast:s3cr3t-pw@127.0.0.1:1/x?connect_timeout=2' \
        >out.txt 2>err.txt
    expect_eq 69 $? "exit code"
    ((SECONDS - start <= 3)) || fail "took $((SECONDS - start)) s"
    expect_eq 1 "$(wc -l <err.txt)" "stderr lines"
    grep -q 's3cr3t-pw' err.txt out.txt && fail "the password was printed: $(cat err.txt)"
    grep -q '^holdfast: postgresql: cannot connect' err.txt || fail "stderr: $(cat err.txt)"
    "$bin" load x.csv --into t --dsn 'postgresql://holdfast:s3cr3t-pw@127.0.0.1:1/x?connect_timeout=2' \
        >out.txt 2>err.txt
    expect_eq 69 $? "exit code of load"
    grep -q 's3cr3t-pw' err.txt out.txt && fail "the password was printed by load"
    ;;
query_formats)
    db="sqlite:$work/q.db"
    "$bin" query 'CREATE TABLE t (id INTEGER, name TEXT, note TEXT)' --dsn "$db" || fail "create"
    "$bin" query "INSERT INTO t VALUES (1, 'a,b', NULL), (2, 'q\"x', 'n')" --dsn "$db" || fail "insert"
    expect_eq $'id,name,note\n1,"a,b",\n2,"q""x",n' \
        "$("$bin" query 'SELECT * FROM t ORDER BY id' --dsn "$db" --format csv)" "csv"
    expect_eq '{"id":2,"name":"q\"x","note":"n"}' \
        "$("$bin" query 'SELECT * FROM t WHERE id = $1' 2 --dsn "$db")" "jsonl with a parameter"
    "$bin" query 'SELECT * FROM t' --dsn "$db" --format table | grep -q '^(2 rows)$' || fail "table"
    "$bin" query 'SELECT * FROM t WHERE id = $1' --dsn "$db" >out.txt 2>err.txt
    expect_eq 64 $? "missing parameter"
    "$bin" query 'SELECT * FROM no_such_table' --dsn "$db" >out.txt 2>err.txt
    expect_eq 65 $? "SQL error"
    expect_eq 1 "$(wc -l <err.txt)" "one line of error"
    "$bin" query 'SELECT 1 AS x' --dsn "$db" --metrics >out.txt 2>err.txt
    grep -q '"chunk_count": 1' err.txt || fail "--metrics: $(cat err.txt)"
    ;;
query_into_closed_pipe_is_quiet)
    db="sqlite:$work/q.db"
    # 200 000 rows of ~60 bytes: far more than a pipe buffer holds.
    "$bin" query 'CREATE TABLE big AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) SELECT i, printf("%050d", i) AS pad FROM n' \
        --dsn "$db" || fail "create"
    first=$("$bin" query 'SELECT * FROM big' --dsn "$db" 2>err.txt | head -1)
    status=${PIPESTATUS[0]}
    expect_eq 0 "$status" "exit code behind | head -1"
    [[ ! -s err.txt ]] || fail "stderr not empty: $(cat err.txt)"
    expect_eq '{"i":1,"pad":"00000000000000000000000000000000000000000000000001"}' "$first" "first row"
    "$bin" query 'SELECT * FROM big' --dsn "$db" --format csv --metrics 2>err.txt | head -1 >/dev/null
    expect_eq 0 "${PIPESTATUS[0]}" "exit code of csv --metrics behind | head -1"
    [[ ! -s err.txt ]] || fail "stderr not empty: $(cat err.txt)"
    ;;
load_sqlite_keeps_only_good_files)
    check_good_and_bad_load "sqlite:$work/load.db" t
    "$bin" load good1.csv good2.csv --into t --dsn "sqlite:$work/load.db" --json --jobs 2 \
        >out.txt 2>err.txt
    expect_eq 0 $? "exit code of an all-good load"
    grep -q '"status":"loaded","rows":3' out.txt || fail "--json: $(cat out.txt)"
    "$bin" load missing.csv good2.csv --into t --dsn "sqlite:$work/load.db" >out.txt 2>err.txt
    expect_eq 66 $? "exit code with a missing file"
    grep -q '^holdfast: missing.csv: No such file' err.txt || fail "stderr: $(cat err.txt)"
    ;;
load_jsonl_sqlite)
    db="sqlite:$work/j.db"
    printf '{"id":1,"tags":["a"],"ok":true}\n\n{"id":2,"ok":null}\n' >good.jsonl
    printf '{"id":3}\n{"id":4,\n{"id":5}\n' >bad.jsonl
    printf '{"id":6}\n{"id":7,"surprise":1}\n' >extra.jsonl
    "$bin" load good.jsonl bad.jsonl extra.jsonl --into j --dsn "$db" --create >out.txt 2>err.txt
    expect_eq 65 $? "exit code"
    grep -q '^holdfast: bad.jsonl:2: invalid JSON' err.txt || fail "stderr: $(cat err.txt)"
    grep -q '^holdfast: extra.jsonl:2: unknown column "surprise"' err.txt || fail "stderr: $(cat err.txt)"
    expect_eq $'id,tags,ok\n1,"[""a""]",1\n2,,' \
        "$("$bin" query 'SELECT * FROM j ORDER BY id' --dsn "$db" --format csv)" "rows"
    ;;
load_sigint_rolls_back | load_sigkill_keeps_whole_files)
    db="$work/big.db"
    printf 'id,name\n1,small\n' >small.csv
    "$bin" load small.csv --into big --dsn "sqlite:$db" --create >/dev/null || fail "small load"
    # 3 million rows (~70 MB): seconds of work even in a release build.
    awk 'BEGIN { print "id,name"; for (i = 0; i < 3000000; i++) printf "%d,name-%d-padding-padding\n", i, i }' \
        >big.csv
    "$bin" load big.csv --into big --dsn "sqlite:$db" >out.txt 2>err.txt &
    pid=$!
    # Signal once the load is writing: its WAL file grows (no sleeping for a guessed time).
    for _ in $(seq 1 600); do
        size=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
        ((size > 1000000)) && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
    ((size > 1000000)) || fail "the load never started writing (wal $size bytes)"
    if [[ $case_name == load_sigint_rolls_back ]]; then
        kill -INT $pid
        wait $pid
        expect_eq 130 $? "exit code after SIGINT"
        grep -q '^holdfast: interrupted' err.txt || fail "stderr: $(cat err.txt)"
    else
        kill -KILL $pid
        wait $pid
    fi
    expect_eq $'n\n1' "$("$bin" query 'SELECT count(*) AS n FROM big' --dsn "sqlite:$db" --format csv)" \
        "rows after the interrupted load (only the small file)"
    ;;
load_hostile_csv_sqlite)
    db="sqlite:$work/h.db"
    write_hostile_csv
    printf 'id,name\n10,good\n11,"caf\xc3\xa9"\n' >good.csv
    "$bin" load nul.csv utf8.csv wide_header.csv wide_row.csv good.csv --into t --dsn "$db" \
        --create >out.txt 2>err.txt
    expect_eq 65 $? "exit code"
    for expected in "${hostile_csv[@]}"; do
        grep -qF "holdfast: $expected" err.txt || fail "no '$expected' in: $(cut -c1-300 err.txt)"
    done
    expect_eq 4 "$(wc -l <err.txt)" "one line per bad file"
    expect_eq $'id,name\n10,good\n11,café' \
        "$("$bin" query 'SELECT * FROM t ORDER BY id' --dsn "$db" --format csv)" "only good.csv's rows"
    # The column limit is the database's: SQLite takes 1700 columns (SQLITE_MAX_COLUMN 2000).
    seq -f 'c%g' -s, 1 1700 >wide_ok.csv
    seq -s, 1 1700 >>wide_ok.csv
    "$bin" load wide_ok.csv --into wide --dsn "$db" --create >out.txt 2>err.txt
    expect_eq 0 $? "exit code of a 1700-column file: $(cat err.txt)"
    expect_eq 1700 "$("$bin" query 'SELECT c1700 FROM wide' --dsn "$db" --format csv | tail -1)" \
        "the last column"
    ;;
load_hostile_jsonl_sqlite)
    db="sqlite:$work/h.db"
    printf '{"id":1}\n{"id":%s1%s}\n' "$(head -c 100000 /dev/zero | tr '\0' '[')" \
        "$(head -c 100000 /dev/zero | tr '\0' ']')" >deep.jsonl
    printf '{"id":1}\n{"id":1e400}\n' >overflow.jsonl
    printf '{"id":1}\n\n{"id":"x\\u0000y"}\n' >nul.jsonl
    printf '{"id":"caf\xe9"}\n' >utf8.jsonl
    printf '{"id":"ok"}\n{"id":[[1]]}\n' >good.jsonl
    # Before: deep.jsonl crashed the process (stack overflow) and overflow.jsonl stopped every
    # file after it (exit 70).
    "$bin" load deep.jsonl overflow.jsonl nul.jsonl utf8.jsonl good.jsonl --into j --dsn "$db" \
        --create >out.txt 2>err.txt
    expect_eq 65 $? "exit code: $(cut -c1-300 err.txt)"
    for expected in "deep.jsonl:2: JSON nested deeper than 128 levels" \
        "overflow.jsonl:2: invalid JSON: number overflow" \
        'nul.jsonl:3: a NUL byte (\u0000) in the value of "id"' \
        "utf8.jsonl:1: invalid UTF-8 (byte 0xE9; load reads UTF-8 text)"; do
        grep -qF "holdfast: $expected" err.txt || fail "no '$expected' in: $(cut -c1-300 err.txt)"
    done
    expect_eq $'id\nok\n[[1]]' "$("$bin" query 'SELECT id FROM j ORDER BY id DESC' --dsn "$db" --format csv)" \
        "only good.jsonl's rows"
    ;;
load_huge_field_memory_bounded)
    db="sqlite:$work/h.db"
    printf 'id,big\n1,small\n' >good.csv
    { printf 'id,big\n1,x\n2,'; head -c 100000000 /dev/zero | tr '\0' x; printf '\n3,y\n'; } >big.csv
    max_rss_kb base.txt "$bin" load good.csv --into base --dsn "$db" --create || fail "base load"
    base=$RSS
    # The default limit (64 MiB): the file stops at its second line, the other file loads.
    max_rss_kb out.txt "$bin" load big.csv good.csv --into t --dsn "$db" --create
    expect_eq 65 $? "exit code with a 100 MB field"
    grep -qF 'holdfast: big.csv:3: a record longer than 64 MiB (--max-record-bytes' out.txt.err ||
        fail "stderr: $(cat out.txt.err)"
    echo "max RSS: ${base} KB for a small file, ${RSS} KB with the 100 MB field"
    # ThreadSanitizer's shadow memory is several times the program's own: no bound to check.
    bounded=1
    grep -qa __tsan_init "$bin" && bounded=0
    # The 64 MiB the record may hold and little more: not the 100 MB field and its copies.
    ((!bounded || RSS - base < 100 * 1024)) || fail "max RSS grew by $((RSS - base)) KB"
    expect_eq $'n\n1' "$("$bin" query 'SELECT count(*) AS n FROM t' --dsn "$db" --format csv)" \
        "rows (good.csv only)"
    # A lower limit bounds memory lower.
    max_rss_kb out.txt "$bin" load big.csv --into t --dsn "$db" --max-record-bytes 1MiB
    expect_eq 65 $? "exit code with --max-record-bytes 1MiB"
    grep -qF 'big.csv:3: a record longer than 1 MiB' out.txt.err || fail "stderr: $(cat out.txt.err)"
    echo "max RSS with --max-record-bytes 1MiB: ${RSS} KB"
    ((!bounded || RSS - base < 16 * 1024)) || fail "max RSS grew by $((RSS - base)) KB with a 1 MiB limit"
    ;;
load_json_summary_survives_non_utf8)
    db="sqlite:$work/h.db"
    printf 'id\n1\n' >$'name\xff.csv'
    printf 'id\n\xff\n' >bad.csv
    "$bin" load $'name\xff.csv' bad.csv --into t --dsn "$db" --create --json >out.txt 2>err.txt
    expect_eq 65 $? "exit code (before: 70, the summary could not be printed)"
    grep -q '"status":"loaded","rows":1' out.txt || fail "--json: $(cat out.txt)"
    grep -q '"file":"bad.csv","status":"bad_data"' out.txt || fail "--json: $(cat out.txt)"
    "$bin" query $'SELECT 1 AS "\xff"' --dsn "$db" >out.txt 2>err.txt
    expect_eq 0 $? "query with a column name that is not UTF-8: $(cat err.txt)"
    expect_eq $'{"\xef\xbf\xbd":1}' "$(cat out.txt)" "the name printed with U+FFFD"
    ;;
demo_sqlite)
    "$bin" demo >out.txt 2>err.txt
    expect_eq 0 $? "exit code of the demo: $(cat err.txt)"
    for s in S1 S2 S3 S4 S5 S6 S7 S8 S9 S10 S11 S12; do
        grep -q "^$s " out.txt || fail "no section $s"
    done
    grep -q 'after the rollback: users=1 audit_log=1' out.txt || fail "S5 story"
    [[ ! -s err.txt ]] || fail "stderr not empty: $(cat err.txt)"
    ;;
load_pg_keeps_only_good_files)
    need_pg
    table="cli_load_$$"
    "$bin" query "DROP TABLE IF EXISTS $table" --dsn "$pg" >/dev/null || fail "drop"
    check_good_and_bad_load "$pg" "$table"
    # A value the column rejects is bad data too, found by COPY.
    "$bin" query "CREATE TABLE ${table}_typed (id integer, name text, note text)" --dsn "$pg" >/dev/null
    printf 'id,name,note\n1,a,b\nnot-a-number,c,d\n' >typed.csv
    "$bin" load typed.csv good2.csv --into "${table}_typed" --dsn "$pg" --jobs 2 >out.txt 2>err.txt
    expect_eq 65 $? "exit code with a bad value"
    grep -q '^holdfast: typed.csv: .*invalid input syntax' err.txt || fail "stderr: $(cat err.txt)"
    expect_eq $'n\n2' "$("$bin" query "SELECT count(*) AS n FROM ${table}_typed" --dsn "$pg" --format csv)" \
        "rows (good2.csv only)"
    "$bin" query "DROP TABLE $table" --dsn "$pg" >/dev/null
    "$bin" query "DROP TABLE ${table}_typed" --dsn "$pg" >/dev/null
    ;;
load_pg_rejects_hostile_files)
    need_pg
    table="cli_hostile_$$"
    write_hostile_csv
    printf 'id,name\n10,good\n11,"caf\xc3\xa9"\n' >good.csv
    # 1700 columns: more than PostgreSQL's 1600, found by the reader (file:1), not by the server.
    { seq -f 'c%g' -s, 1 1700; seq -s, 1 1700; } >wide_ok.csv
    "$bin" load nul.csv utf8.csv wide_header.csv wide_row.csv wide_ok.csv good.csv --into "$table" \
        --dsn "$pg" --create --jobs 2 >out.txt 2>err.txt
    expect_eq 65 $? "exit code"
    for expected in "${hostile_csv[@]}" "wide_ok.csv:1: more than 1600 columns"; do
        grep -qF "holdfast: $expected" err.txt || fail "no '$expected' in: $(cut -c1-300 err.txt)"
    done
    expect_eq $'id,name\n10,good\n11,café' \
        "$("$bin" query "SELECT * FROM $table ORDER BY id" --dsn "$pg" --format csv)" "only good.csv's rows"
    "$bin" query "DROP TABLE $table" --dsn "$pg" >/dev/null
    ;;
query_pg_streams)
    need_pg
    first=$("$bin" query 'SELECT g, md5(g::text) AS h FROM generate_series(1, 300000) g' --dsn "$pg" 2>err.txt | head -1)
    expect_eq 0 "${PIPESTATUS[0]}" "exit code behind | head -1"
    [[ ! -s err.txt ]] || fail "stderr not empty: $(cat err.txt)"
    expect_eq '{"g":1,"h":"c4ca4238a0b923820dcc509a6f75849b"}' "$first" "first row"
    expect_eq '{"n":7}' "$("$bin" query 'SELECT $1::int AS n' 7 --dsn "$pg")" "parameter"
    # Not a query: read whole, not through a cursor.
    expect_eq '{"n":3}' "$("$bin" query 'WITH x AS (SELECT 3 AS n) SELECT * FROM x' --dsn "$pg")" "WITH"
    "$bin" query "CREATE TEMP TABLE cli_t (n int)" --dsn "$pg" >out.txt 2>err.txt
    expect_eq 0 $? "a statement without rows: $(cat err.txt)"
    ;;
demo_pg)
    need_pg
    "$bin" demo --dsn "$pg" >out.txt 2>err.txt
    expect_eq 0 $? "exit code of the demo: $(cat err.txt)"
    grep -q 'after the rollback: users=1 audit_log=1' out.txt || fail "S5 story"
    password=${pg#*://*:}
    password=${password%%@*}
    grep -qF -- "$password" out.txt err.txt && fail "password printed"
    [[ ! -s err.txt ]] || fail "stderr not empty: $(cat err.txt)"
    ;;
*)
    fail "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name"
