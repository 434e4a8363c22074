#!/usr/bin/env bash
# Security and resource-limit tests of the holdfast binary: passwords never printed, parameters
# always bound, identifiers always quoted, a file size limit met with a clear error and a whole
# database.
#   security_test.sh /path/to/holdfast CASE
# Exit 0 pass, 1 fail, 77 skip (PostgreSQL cases without HOLDFAST_TEST_PG_DSN).
set -uo pipefail

bin=$1
case_name=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-cli-sec-XXXXXX")
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
expect_eq() { # expected actual what
    [[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}
need_pg() {
    if [[ -z "${HOLDFAST_TEST_PG_DSN:-}" ]]; then
        echo "HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster"
        exit 77
    fi
    pg=$HOLDFAST_TEST_PG_DSN
    # postgresql://user:password@host:port/db
    local rest=${pg#*://}
    pg_user=${rest%%:*}
    rest=${rest#*:}
    pg_password=${rest%%@*}
    rest=${rest#*@}
    pg_host=${rest%%:*}
    rest=${rest#*:}
    pg_port=${rest%%/*}
    pg_db=${rest#*/}
    pg_db=${pg_db%%\?*}
}

percent_encoded() { # every byte but [A-Za-z0-9._~-] as %XX
    local s=$1 out= c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [A-Za-z0-9._~-]) out+=$c ;;
        *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

runs=0
# Runs `holdfast ARGS...`, keeps stdout+stderr in run.txt, fails if they hold the secret, its
# percent-encoded form, or a piece of it between URI delimiters (4+ characters: what libpq
# could have split off as a host or a port).
check_run() { # secret holdfast-args...
    local secret=$1
    shift
    "$bin" "$@" >run.txt 2>&1 </dev/null
    last_status=$?
    runs=$((runs + 1))
    local needles=("$secret" "$(percent_encoded "$secret")") piece
    IFS='/@?#:%' read -r -a pieces <<<"$secret"
    for piece in "${pieces[@]}"; do
        ((${#piece} >= 4)) && needles+=("$piece")
    done
    for piece in "${needles[@]}"; do
        if grep -qF -- "$piece" run.txt; then
            fail "holdfast $* (exit $last_status) printed '$piece': $(cat run.txt)"
        fi
    done
}

# Every command that takes a DSN, failing or not: query in two formats with --metrics (the DSN
# also from HOLDFAST_DSN), and load with its text and --json summaries.
check_every_command() { # secret dsn
    local secret=$1 dsn=$2
    check_run "$secret" query 'SELECT 1 AS one' --dsn "$dsn" --metrics
    HOLDFAST_DSN=$dsn check_run "$secret" query 'SELECT $1 AS p' x --format csv
    check_run "$secret" load sec_in.csv --into sec_table --dsn "$dsn" --create
    check_run "$secret" load sec_in.csv sec_in2.csv --into sec_table --dsn "$dsn" --json --jobs 2
}
# The same, one query and one load.
check_some_commands() { # secret dsn
    check_run "$1" query 'SELECT 1 AS one' --dsn "$2"
    check_run "$1" load sec_in.csv --into sec_table --dsn "$2" --json
}

printf 'id,name\n1,a\n' >sec_in.csv
printf 'id,name\n2,b\n' >sec_in2.csv

case $case_name in
failed_connects_never_print_password)
    # No server needed: nothing listens, the host does not exist, the DSN is malformed, or a
    # server accepts and hangs up at once.
    secret='Zq9+Cli!Secret'
    enc=$(percent_encoded "$secret")
    for dsn in \
        "postgresql://holdfast:$enc@127.0.0.1:1/x?connect_timeout=2" \
        "postgresql://holdfast@127.0.0.1:1/x?connect_timeout=2&password=$enc" \
        "host=127.0.0.1 port=1 user=holdfast password='$secret' connect_timeout=2" \
        "postgresql://holdfast:$enc@no-such-host.invalid/x?connect_timeout=2" \
        "postgresql://holdfast:$enc@127.0.0.1:notaport/x" \
        "host=127.0.0.1 port=1 sslpassword=$enc connect_timeout=2"; do
        check_some_commands "$secret" "$dsn"
        grep -q '^holdfast: ' run.txt || fail "no error line for $dsn: $(cat run.txt)"
    done
    # Passwords that are not valid URI components: libpq's parser must not quote them, nor
    # split them into a host or a port that its messages quote.
    for password in 'Zq9xMal%zzformed' 'Zq9xNul%00Secret' 'Zq9x?Query#Secret' \
        'Zq9x/Slash/Secret' 'Zq9x@Second@Secret'; do
        check_some_commands "$password" "postgresql://holdfast:$password@127.0.0.1:1/x?connect_timeout=2"
    done
    check_run 'Zq9x/Slash/Secret' query 'SELECT 1' --dsn 'postgresql://holdfast:Zq9x/Slash/Secret@127.0.0.1:1/x'
    expect_eq 64 "$last_status" "exit code of a password libpq would cut at '/'"
    grep -q 'percent-encode' run.txt || fail "no hint to percent-encode: $(cat run.txt)"
    # A server that accepts the connection and closes it.
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 16, LocalAddr => "127.0.0.1", LocalPort => 0,
                                      ReuseAddr => 1) or die "listen: $!";
        open(my $out, ">", "port.tmp") or die; print $out $s->sockport, "\n"; close $out;
        rename("port.tmp", "port.txt");
        for (1 .. 200) { my $c = $s->accept or last; close $c; }' &
    server_pid=$!
    for _ in $(seq 1 200); do
        [[ -s port.txt ]] && break
        sleep 0.05
    done
    [[ -s port.txt ]] || fail "the dropping server did not start"
    port=$(cat port.txt)
    check_every_command "$secret" "postgresql://holdfast:$enc@127.0.0.1:$port/x?connect_timeout=2"
    check_run "$secret" query 'SELECT 1' --dsn "postgresql://holdfast:$enc@127.0.0.1:$port/x"
    expect_eq 69 "$last_status" "exit code against a server that hangs up"
    grep -q 'closed the connection' run.txt || fail "libpq's reason is lost: $(cat run.txt)"
    echo "$runs runs checked"
    ;;
pg_failures_never_print_password)
    need_pg
    wrong='Zq9+Wrong!Pg'
    enc=$(percent_encoded "$wrong")
    base="$pg_host:$pg_port/$pg_db?connect_timeout=5"
    for dsn in \
        "postgresql://$pg_user:$enc@$base" \
        "postgresql://$pg_user@$base&password=$enc" \
        "host=$pg_host port=$pg_port user=$pg_user dbname=$pg_db password='$wrong'"; do
        check_every_command "$wrong" "$dsn"
        grep -q 'password authentication failed' run.txt || fail "no reason: $(cat run.txt)"
    done
    # The real password with something else wrong: it must not appear either.
    for dsn in \
        "postgresql://$pg_user:$pg_password@$pg_host:$pg_port/no_such_database" \
        "postgresql://$pg_user:$pg_password@$base&sslmode=require" \
        "postgresql://$pg_user:$pg_password@$base&no_such_option=1" \
        "postgresql://$pg_user:$pg_password@$pg_host:1/$pg_db"; do
        check_some_commands "$pg_password" "$dsn"
    done
    # The server terminates the session midway through a query.
    victim_name="holdfast_victim_$$"
    "$bin" query 'SELECT pg_sleep(30)' --dsn "$pg?application_name=$victim_name" >victim.txt 2>&1 &
    victim=$!
    for _ in $(seq 1 100); do
        n=$("$bin" query "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = \$1 AND state = 'active'" \
            --dsn "$pg" --format csv -- "$victim_name" | tail -1)
        [[ $n == 1 ]] && break
        sleep 0.05
    done
    expect_eq 1 "$n" "sessions running the victim query"
    "$bin" query "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \$1" \
        --dsn "$pg" -- "$victim_name" >/dev/null || fail "terminate"
    wait $victim
    expect_eq 69 $? "exit code of a terminated session"
    grep -qF -- "$pg_password" victim.txt && fail "password printed: $(cat victim.txt)"
    grep -q '^holdfast: ' victim.txt || fail "no error line: $(cat victim.txt)"
    echo "$runs runs checked"
    ;;
pg_success_never_prints_password)
    need_pg
    table="cli_sec_$$"
    check_run "$pg_password" query "CREATE TABLE $table (id text, name text)" --dsn "$pg"
    expect_eq 0 "$last_status" "create: $(cat run.txt)"
    check_run "$pg_password" load sec_in.csv sec_in2.csv --into "$table" --dsn "$pg" --json --jobs 2
    expect_eq 0 "$last_status" "load --json: $(cat run.txt)"
    grep -q '"status":"loaded"' run.txt || fail "--json: $(cat run.txt)"
    check_run "$pg_password" load sec_in.csv --into "$table" --dsn "$pg"
    expect_eq 0 "$last_status" "load: $(cat run.txt)"
    for format in jsonl csv table; do
        check_run "$pg_password" query "SELECT * FROM $table" --dsn "$pg" --format $format --metrics
        expect_eq 0 "$last_status" "query --format $format: $(cat run.txt)"
    done
    # A statement the server rejects: its error quotes the statement, never the DSN.
    check_run "$pg_password" query "SELECT * FROM ${table}_missing" --dsn "$pg"
    expect_eq 65 "$last_status" "exit code of a rejected statement"
    # sslmode=disable reaches libpq and connects.
    check_run "$pg_password" query 'SELECT 1 AS one' --dsn "$pg?sslmode=disable"
    expect_eq '{"one":1}' "$(cat run.txt)" "sslmode=disable"
    "$bin" query "DROP TABLE $table" --dsn "$pg" >/dev/null
    echo "$runs runs checked"
    ;;
query_parameters_are_bound | query_pg_parameters_are_bound)
    if [[ $case_name == query_pg_parameters_are_bound ]]; then
        need_pg
        table="cli_inj_$$"
        dsn=$pg
    else
        table=users
        dsn="sqlite:$work/inj.db"
    fi
    "$bin" query "CREATE TABLE $table (id integer, name text)" --dsn "$dsn" >/dev/null || fail "create"
    values=(
        "'; DROP TABLE $table; --"
        "' OR '1'='1"
        "Robert'); DELETE FROM $table WHERE ('1'='1"
        '"double" and \backslash\ and \\ two'
        '$1 $2 %s %d %n ? ?1 :name @p'
        "O'Brien's \"quote\" \\' \\\""
        'émoji 🙂 日本語 ‮rtl‬ ß'
        $'line\nbreak\tand tab\r'
        '-- not a comment /* nor this */'
        '\x27 E'"'"'\\x00'"'"
    )
    # One INSERT binding every value, then each read back (CSV, RFC 4180 quoting) by id, and
    # found by an equality on itself.
    insert="INSERT INTO $table (id, name) VALUES" params=() placeholders=() want="id,name"
    for i in "${!values[@]}"; do
        v=${values[i]}
        insert+="$( ((i > 0)) && echo ,) (\$$((2 * i + 1)), \$$((2 * i + 2)))"
        params+=("$i" "$v")
        placeholders+=("\$$((i + 1))")
        if [[ $v == *[,\"$'\n'$'\r']* ]]; then
            v=\"${v//\"/\"\"}\"
        fi
        want+=$'\n'"$i,$v"
    done
    "$bin" query "$insert" --dsn "$dsn" -- "${params[@]}" >out.txt 2>err.txt ||
        fail "insert: $(cat err.txt)"
    expect_eq "$want" "$("$bin" query "SELECT id, name FROM $table ORDER BY id" --dsn "$dsn" --format csv)" \
        "the values, verbatim"
    in_list=$(IFS=,; echo "${placeholders[*]}")
    expect_eq $'n\n'"${#values[@]}" \
        "$("$bin" query "SELECT count(*) AS n FROM $table WHERE name IN ($in_list)" --dsn "$dsn" --format csv -- "${values[@]}")" \
        "rows found by an equality on each value (the table still exists)"
    [[ $case_name == query_pg_parameters_are_bound ]] && "$bin" query "DROP TABLE $table" --dsn "$dsn" >/dev/null
    ;;
load_identifiers_are_quoted)
    db="sqlite:$work/quoted.db"
    "$bin" query 'CREATE TABLE victim (x integer)' --dsn "$db" >/dev/null || fail "create victim"
    "$bin" query 'INSERT INTO victim VALUES (1)' --dsn "$db" >/dev/null || fail "insert victim"
    # A hostile table name and hostile column names: each must stay one identifier.
    printf '%s\n' 'id,"na""me); DROP TABLE victim; --",x' "1,'; DROP TABLE victim; --,\"a\"\"b\"" >hostile.csv
    table='t"; DROP TABLE victim; --'
    "$bin" load hostile.csv --into "$table" --dsn "$db" --create >out.txt 2>err.txt
    expect_eq 0 $? "exit code: $(cat err.txt)"
    expect_eq $'n\n1' "$("$bin" query 'SELECT count(*) AS n FROM victim' --dsn "$db" --format csv)" \
        "victim rows"
    got=$("$bin" query 'SELECT * FROM "t""; DROP TABLE victim; --"' --dsn "$db")
    expect_eq '{"id":"1","na\"me); DROP TABLE victim; --":"'"'"'; DROP TABLE victim; --","x":"a\"b"}' \
        "$got" "the hostile row, verbatim"
    ;;
load_under_file_size_limit)
    db="$work/limited.db"
    printf 'id,name\n1,small\n' >small.csv
    "$bin" load small.csv --into t --dsn "sqlite:$db" --create >/dev/null || fail "small load"
    # ~4 MB: far more than the 1 MiB the database may grow to below.
    awk 'BEGIN { print "id,name"; for (i = 0; i < 100000; i++) printf "%d,name-%d-padding-padding\n", i, i }' >big.csv
    printf 'id,name\n2,after\n' >after.csv
    size_before=$(stat -c %s "$db")
    # SIGXFSZ ignored (inherited through exec): writes past the limit fail with EFBIG.
    (
        trap '' XFSZ
        ulimit -f 1024
        exec "$bin" load big.csv after.csv --into t --dsn "sqlite:$db"
    ) >out.txt 2>err.txt
    status=$?
    echo "exit $status; stderr: $(cat err.txt)"
    ((status != 0)) || fail "a load past the file size limit succeeded"
    ((status < 128)) || fail "killed by a signal ($status): $(cat err.txt)"
    grep -q '^holdfast: big.csv: .*(File too large)' err.txt ||
        fail "no clear error naming the file and the reason: $(cat err.txt)"
    grep -q 'during cleanup' err.txt && fail "a cleanup error besides the reason: $(cat err.txt)"
    grep -q '^big.csv: ' out.txt || fail "no summary line for big.csv: $(cat out.txt)"
    # Only whole files: the small one, and after.csv (which fits) or nothing of it.
    rows=$("$bin" query "SELECT group_concat(name, ' ') AS names FROM (SELECT name FROM t WHERE name NOT LIKE 'name-%' ORDER BY id)" \
        --dsn "sqlite:$db" --format csv | tail -1)
    [[ $rows == small || $rows == "small after" ]] || fail "rows of the small files: '$rows'"
    expect_eq $'n\n0' "$("$bin" query "SELECT count(*) AS n FROM t WHERE name LIKE 'name-%'" --dsn "sqlite:$db" --format csv)" \
        "rows of the file that hit the limit"
    expect_eq $'integrity_check\nok' "$("$bin" query 'PRAGMA integrity_check' --dsn "sqlite:$db" --format csv)" \
        "integrity check"
    # Without the signal ignored the process is killed by SIGXFSZ; the database is still whole.
    (
        ulimit -f 1024
        exec "$bin" load big.csv --into t --dsn "sqlite:$db"
    ) >out.txt 2>err.txt
    status=$?
    ((status != 0)) || fail "a load past the file size limit succeeded"
    expect_eq $'n\n0' "$("$bin" query "SELECT count(*) AS n FROM t WHERE name LIKE 'name-%'" --dsn "sqlite:$db" --format csv)" \
        "rows of the file that hit the limit (killed)"
    expect_eq $'integrity_check\nok' "$("$bin" query 'PRAGMA integrity_check' --dsn "sqlite:$db" --format csv)" \
        "integrity check after SIGXFSZ"
    echo "size before $size_before, after $(stat -c %s "$db")"
    ;;
*)
    fail "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name"
