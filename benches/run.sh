#!/usr/bin/env bash
# Benchmark harness: BetterPython interpreter vs JIT vs C (gcc -O2) vs CPython.
#
# Usage: benches/run.sh [-n RUNS] [PROGRAM...]
#   -n RUNS   best of RUNS wall-clock runs per engine (default 3, or $RUNS)
#   PROGRAM   names from benches/programs/ without .bp (default: all)
# Environment: PYTHON (default python3), CC (default gcc), SKIP_PYTHON=1, SKIP_C=1.
#
# Builds `bp` with `cargo build --release`, compiles the C twins with `$CC -O2`, runs
# every engine once to check that all outputs (and exit statuses) agree, then times
# RUNS rounds; each round runs the engines one after the other (interleaved), and
# the best time of each engine is reported. Prints a Markdown table on stdout; exits 1
# if any output differs.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/benches"
RUNS="${RUNS:-3}"
PYTHON="${PYTHON:-python3}"
CC="${CC:-gcc}"

while getopts "n:h" opt; do
    case "$opt" in
        n) RUNS="$OPTARG" ;;
        h) sed -n '2,12p' "$0"; exit 0 ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))

if [ "$#" -gt 0 ]; then
    PROGRAMS=("$@")
else
    PROGRAMS=()
    for f in "$BENCH"/programs/*.bp; do
        PROGRAMS+=("$(basename "$f" .bp)")
    done
fi

echo "building bp (release)..." >&2
(cd "$ROOT" && cargo build --release --quiet --bin bp) >&2
BP="$ROOT/target/release/bp"
CBIN="$ROOT/target/bench-c"
mkdir -p "$CBIN"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# run_once OUTFILE CMD... : run CMD with stdout to OUTFILE, append ":exit=N" to it,
# print the wall time in nanoseconds.
run_once() {
    local out="$1"
    shift
    local t0 t1 rc=0
    t0=$(date +%s%N)
    "$@" >"$out" 2>"$out.err" || rc=$?
    t1=$(date +%s%N)
    echo ":exit=$rc" >>"$out"
    echo $((t1 - t0))
}

ms() { awk -v ns="$1" 'BEGIN { printf "%.0f", ns / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
rows=()
for name in "${PROGRAMS[@]}"; do
    src="$BENCH/programs/$name.bp"
    [ -f "$src" ] || { echo "no such program: $src" >&2; exit 2; }
    engines=(interp jit)
    declare -A cmd=()
    cmd[interp]="$BP run --no-jit $src"
    cmd[jit]="$BP run $src"
    if [ "${SKIP_C:-0}" != 1 ] && [ -f "$BENCH/c/$name.c" ]; then
        "$CC" -O2 -o "$CBIN/$name" "$BENCH/c/$name.c" -lm
        cmd[c]="$CBIN/$name"
        engines+=(c)
    fi
    if [ "${SKIP_PYTHON:-0}" != 1 ] && [ -f "$BENCH/python/$name.py" ]; then
        cmd[python]="$PYTHON $BENCH/python/$name.py"
        engines+=(python)
    fi

    # Correctness pass (also warms caches): every engine must print the same thing.
    for e in "${engines[@]}"; do
        # shellcheck disable=SC2086
        run_once "$TMP/$name.$e.out" ${cmd[$e]} >/dev/null
    done
    for e in "${engines[@]}"; do
        if ! cmp -s "$TMP/$name.interp.out" "$TMP/$name.$e.out"; then
            echo "MISMATCH in $name: interp vs $e" >&2
            diff "$TMP/$name.interp.out" "$TMP/$name.$e.out" | head -20 >&2 || true
            failed=1
        fi
    done
    if [ "$(tail -n 1 "$TMP/$name.interp.out")" != ":exit=0" ]; then
        echo "$name: interpreter exited non-zero" >&2
        cat "$TMP/$name.interp.out.err" >&2
        failed=1
    fi

    declare -A best=()
    for ((r = 1; r <= RUNS; r++)); do
        for e in "${engines[@]}"; do
            # shellcheck disable=SC2086
            t=$(run_once "$TMP/run.out" ${cmd[$e]})
            if [ -z "${best[$e]:-}" ] || [ "$t" -lt "${best[$e]}" ]; then best[$e]=$t; fi
        done
    done
    echo "$name: interp $(ms "${best[interp]}") ms, jit $(ms "${best[jit]}") ms" >&2

    i="${best[interp]}" j="${best[jit]}"
    c_ms="-" jc="-" p_ms="-" pj="-"
    if [ -n "${best[c]:-}" ]; then c_ms=$(ms "${best[c]}"); jc=$(ratio "$j" "${best[c]}"); fi
    if [ -n "${best[python]:-}" ]; then p_ms=$(ms "${best[python]}"); pj=$(ratio "${best[python]}" "$j"); fi
    rows+=("| $name | $(ms "$i") | $(ms "$j") | $(ratio "$i" "$j") | $c_ms | $jc | $p_ms | $pj |")
    unset cmd best
done

echo "| program | interp ms | JIT ms | interp/JIT | C ms | JIT/C | python ms | python/JIT |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "Best of $RUNS runs; wall time including process start-up and compilation."
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //');" \
    "load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after; bp $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')."
if [ "$failed" != 0 ]; then
    echo "ERROR: some outputs differ (see stderr)" >&2
    exit 1
fi
