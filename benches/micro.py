#!/usr/bin/env python3
"""Small programs of kinds the benchmark set does not have, against LuaJIT.

Usage: benches/micro.py [--bp target/release/bp] [-n RUNS] [NAME...]

`benches/micro/NAME.bp` and its Lua twin `NAME.lua` (run by LuaJIT) print the
same line; this script checks that they do (and that the interpreter agrees),
then runs the compiled bp, the interpreted bp and LuaJIT in turn, RUNS times
(default 5), and prints a Markdown table of the median wall times and the ratio
bp JIT / LuaJIT. Interleaving the engines, rather than running each in a row,
makes a change of load on the machine hit all of them alike. The programs are
10 to 30 lines and run 10 to 300 ms, start-up included; they were written to
look for kinds of program where bp was behind (docs/benchmarks.md, "Kinds of
program outside the set"). Only the Python standard library is needed; LuaJIT is
the Debian package `luajit` (benches/bench.py installs it).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MICRO = os.path.join(HERE, "micro")


def output(cmd):
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    return r.returncode, r.stdout


def wall_ms(cmd):
    # No `timeout`: waiting with one polls, in sleeps of up to 50 ms.
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bp", default=os.path.join(ROOT, "target", "release", "bp"))
    ap.add_argument("-n", type=int, default=5, help="runs of each engine (default 5)")
    ap.add_argument("names", nargs="*", help="programs (default: all of benches/micro)")
    args = ap.parse_args()
    names = args.names or sorted(f[:-3] for f in os.listdir(MICRO) if f.endswith(".bp"))
    engines = {
        "bp JIT": lambda n: [args.bp, "run", os.path.join(MICRO, n + ".bp")],
        "bp interp": lambda n: [args.bp, "run", "--no-jit", os.path.join(MICRO, n + ".bp")],
        "LuaJIT": lambda n: ["luajit", os.path.join(MICRO, n + ".lua")],
    }
    failed = False
    rows = []
    for name in names:
        outs = {e: output(cmd(name)) for e, cmd in engines.items()}
        if len(set(outs.values())) != 1:
            failed = True
            for e, (rc, out) in outs.items():
                print(f"{name}: {e}: status {rc}: {out[:200]!r}", file=sys.stderr)
            continue
        times = {e: [] for e in engines}
        for _ in range(args.n):
            for e, cmd in engines.items():
                times[e].append(wall_ms(cmd(name)))
        med = {e: statistics.median(t) for e, t in times.items()}
        rows.append((name, med))
        print(f"micro: {name}: " + ", ".join(f"{e} {m:.0f} ms" for e, m in med.items()), file=sys.stderr)
    print("| program | bp JIT | bp interp | LuaJIT | bp JIT / LuaJIT |")
    print("|---|---:|---:|---:|---:|")
    for name, med in rows:
        ratio = med["bp JIT"] / med["LuaJIT"]
        print(f"| {name} | {med['bp JIT']:.0f} | {med['bp interp']:.0f} | {med['LuaJIT']:.0f} | {ratio:.2f} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
