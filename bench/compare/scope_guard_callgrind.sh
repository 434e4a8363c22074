#!/usr/bin/env bash
# Zero overhead, counted (DESIGN.md §2): the same cleanup written with holdfast::scope_exit and by
# hand, each in a noinline function called 1,000,000 times, compiled at -O2. Prints the
# instructions callgrind counts inside each function, their ratio, and whether the two functions
# disassemble to the same instructions.
#
# Usage: bench/compare/scope_guard_callgrind.sh [BUILD_DIR]   (BUILD_DIR is not needed)
# Environment: CXX (default g++). Exits non-zero only when a tool fails, never on the result.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cxx=${CXX:-g++}
for tool in "$cxx" valgrind objdump; do
    command -v "$tool" >/dev/null || { echo "scope_guard_callgrind: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Shared by both programs: the loop that calls with_cleanup, an opaque use of the handle that
# cannot throw (so neither version needs an exception path), and the fake handle table that the
# cleanup writes to.
cat >"$work/driver.hpp" <<'CPP'
inline volatile int last_closed;
[[gnu::noinline]] inline void use_handle(int handle) noexcept { asm volatile("" : : "r"(handle)); }
extern "C" void with_cleanup(int handle);
int main() {
    for (int handle = 0; handle < 1000000; ++handle) with_cleanup(handle);
}
CPP

cat >"$work/scope_exit.cpp" <<'CPP'
#include <holdfast/core/scope_guard.hpp>
#include "driver.hpp"
extern "C" [[gnu::noinline]] void with_cleanup(int handle) {
    holdfast::scope_exit close{[handle] { last_closed = handle; }};
    use_handle(handle);
}
CPP

cat >"$work/hand_written.cpp" <<'CPP'
#include "driver.hpp"
extern "C" [[gnu::noinline]] void with_cleanup(int handle) {
    use_handle(handle);
    last_closed = handle;
}
CPP

# Instructions executed inside with_cleanup and what it calls: the callgrind summary when
# collection is switched on only there.
count() {
    local name=$1
    "$cxx" -O2 -std=c++20 -I"$repo/include" -o "$work/$name" "$work/$name.cpp"
    valgrind --tool=callgrind --toggle-collect=with_cleanup \
        --callgrind-out-file="$work/$name.callgrind" "$work/$name" 2>"$work/$name.valgrind" ||
        { cat "$work/$name.valgrind" >&2; exit 1; }
    awk '/^summary:/ { print $2 }' "$work/$name.callgrind"
}

# with_cleanup's instructions, one per line, with RIP-relative offsets replaced by the symbol
# they reach, so that two binaries with different layouts compare.
disassemble() {
    objdump -d --no-show-raw-insn --no-addresses --disassemble=with_cleanup "$work/$1" |
        sed -n '/^<with_cleanup>:$/,/^$/{/^\t/p}' |
        sed -E 's/0x[0-9a-f]+\(%rip\)[[:space:]]+# <([^>]*)>/\1(%rip)/; s/^\t//'
}

guarded=$(count scope_exit)
hand=$(count hand_written)
[[ -n $guarded && -n $hand ]] || { echo "scope_guard_callgrind: no callgrind summary" >&2; exit 1; }
awk -v g="$guarded" -v h="$hand" \
    'BEGIN { printf "scope_exit vs hand-written: %d / %d Ir = %.2f\n", g, h, g / h }'

compiler="$("$cxx" --version | head -n 1) -O2"
if diff <(disassemble scope_exit) <(disassemble hand_written) >"$work/asm.diff"; then
    echo "asm of with_cleanup ($compiler): identical, $(disassemble scope_exit | wc -l) instructions"
else
    echo "asm of with_cleanup ($compiler): differs (< scope_exit, > hand-written)"
    cat "$work/asm.diff"
fi
