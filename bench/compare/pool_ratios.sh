#!/usr/bin/env bash
# holdfast::pool against the naive std::mutex + std::condition_variable pool and SOCI's
# connection_pool, all from one run of bench/pool/pool_bench.cpp: prints the medians of the
# repetitions and the ratios between them.
#   1. uncontended (1 thread): holdfast ns per acquire+release;
#   2. 2 threads, 2 resources: holdfast throughput / naive, / SOCI;
#   3. 8 threads on 4 resources: the same ratios, and each pool's p99 acquire wait.
# Goals, checked per repetition ("goal met in k of n repetitions"; a ratio pairs repetition i of
# one case with repetition i of the other): uncontended <= 15 ns; 2 threads >= 2.0x naive;
# 8 threads on 4 resources >= 1.0x naive.
#
# Usage: bench/compare/pool_ratios.sh BUILD_DIR   (a release build with HOLDFAST_BUILD_BENCH=ON)
# Environment: BENCH_REPETITIONS (default 7). The SOCI lines are skipped when pool_bench was
# built without SOCI. Exits non-zero only when a tool fails, never on the result.
set -euo pipefail
build=${1:?usage: pool_ratios.sh BUILD_DIR}
repetitions=${BENCH_REPETITIONS:-7}
command -v python3 >/dev/null || { echo "pool_ratios: python3 not found" >&2; exit 1; }
bench="${POOL_BENCH:-$build/bench/pool_bench}"
[ -x "$bench" ] || { echo "pool_ratios: $bench not built" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every repetition goes to the JSON file (the goals are checked on each), the medians with them.
"$bench" --benchmark_repetitions="$repetitions" --benchmark_display_aggregates_only=true \
    --benchmark_out="$work/pool.json" --benchmark_out_format=json >"$work/pool.out" 2>&1 ||
    { cat "$work/pool.out" >&2; exit 1; }

python3 - "$work/pool.json" <<'PY'
import json, sys

data = json.load(open(sys.argv[1]))
to_ns = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# (case, threads) -> {"median": run, "repetitions": [run, ...]}, with real_time in ns
cases = {}
for b in data["benchmarks"]:
    if b.get("error_occurred"):
        continue
    key = (b["run_name"].split("/")[0], int(b.get("threads", 1)))
    entry = cases.setdefault(key, {"median": None, "repetitions": []})
    b["real_time_ns"] = b["real_time"] * to_ns[b.get("time_unit", "ns")]
    if b.get("run_type") == "aggregate":
        if b.get("aggregate_name") == "median":
            entry["median"] = b
    else:
        entry["repetitions"].append(b)

def median(name, threads):
    entry = cases.get((name, threads))
    return entry["median"] if entry else None

def repetitions(name, threads):
    entry = cases.get((name, threads))
    return sorted(entry["repetitions"], key=lambda b: b.get("repetition_index", 0)) if entry else []

def ops_per_s(run):
    # Google Benchmark sums the iterations of all threads and divides the wall time by them.
    return 1e9 / run["real_time_ns"]

def goal(label, met, total):
    print(f"  goal {label}: met in {met} of {total} repetitions")

def ratio_goal(label, name, base, threads, minimum):
    ours, theirs = repetitions(name, threads), repetitions(base, threads)
    pairs = list(zip(ours, theirs))
    if pairs:
        goal(label, sum(ops_per_s(a) / ops_per_s(b) >= minimum for a, b in pairs), len(pairs))

holdfast = "BM_HoldfastPoolAcquireRelease"
naive = "BM_NaivePoolAcquireRelease"
soci = "BM_SociPoolAcquireRelease"
have_soci = median(soci, 1) is not None
context = data["context"]
load = context.get("load_avg") or []
print(f"pool_bench: medians of {len(repetitions(holdfast, 1))} repetitions, "
      f"{context.get('num_cpus', '?')} CPUs"
      + (f", load average {load[0]:.2f} at the start" if load else "")
      + ("" if have_soci else " (built without SOCI: no SOCI lines)"))

def allocs(run):
    return f", {run['allocs/op']:.2f} allocs/op" if "allocs/op" in run else ""

print("1. uncontended (1 thread, 1 resource)")
for label, name in (("holdfast", holdfast), ("holdfast, with executor",
                    "BM_HoldfastPoolWithExecutorAcquireRelease"), ("naive", naive), ("SOCI", soci)):
    run = median(name, 1)
    if run:
        print(f"  {label:<24}: {run['real_time_ns']:7.1f} ns per acquire+release{allocs(run)}")
reps = repetitions(holdfast, 1)
if reps:
    goal("<= 15 ns", sum(r["real_time_ns"] <= 15.0 for r in reps), len(reps))

def throughput_section(title, names, threads, minimum):
    print(title)
    ours = median(names[0], threads)
    if not ours:
        print("  holdfast: not run")
        return
    for label, name in zip(("holdfast", "naive", "SOCI"), names):
        run = median(name, threads)
        if not run:
            continue
        line = f"  {label:<24}: {ops_per_s(run) / 1e6:7.2f} M acquire+release/s{allocs(run)}"
        if "wait_p99_ns" in run:
            line += f", wait p50 {run['wait_p50_ns']:.0f} ns, p99 {run['wait_p99_ns']:.0f} ns"
        print(line)
    for label, name in zip(("naive", "SOCI"), names[1:]):
        run = median(name, threads)
        if run:
            print(f"  -> holdfast / {label:<5} throughput: {ops_per_s(ours) / ops_per_s(run):5.2f}x")
    ratio_goal(f">= {minimum:.1f}x naive", names[0], names[1], threads, minimum)

throughput_section("2. 2 threads, 2 resources", (holdfast, naive, soci), 2, 2.0)
throughput_section("3. 8 threads on 4 resources",
                   ("BM_HoldfastPool8Threads4Resources", "BM_NaivePool8Threads4Resources",
                    "BM_SociPool8Threads4Resources"), 8, 1.0)
PY
