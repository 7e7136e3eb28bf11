#!/usr/bin/env python3
"""Before/after timing of two `bp` binaries on the benchmark programs.

Usage: benches/compare.py BIN_A BIN_B [-n RUNS] [PROGRAM ...]

Runs every program of benches/programs (or the ones named, without .bp) with
`--no-jit` and `--jit`, RUNS times per binary (default 5), interleaving A and B so
that load on the machine hits both alike, and prints a Markdown table of the best
wall time of each with the ratio B/A. Wall times move by 10-20 % between runs on a
shared machine: confirm an outlier with instruction counts
(`valgrind --tool=cachegrind --cache-sim=no BIN run ...`), as docs/benchmarks.md does.
"""
import argparse
import pathlib
import subprocess
import sys
import time

PROGRAMS = pathlib.Path(__file__).resolve().parent / "programs"


def best_time(binary, mode, program, runs_done):
    start = time.perf_counter()
    subprocess.run([binary, "run", mode, str(program)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - start
    return min(runs_done, elapsed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("-n", type=int, default=5, help="runs per binary")
    ap.add_argument("programs", nargs="*")
    args = ap.parse_intermixed_args()
    names = args.programs or sorted(p.stem for p in PROGRAMS.glob("*.bp"))
    print("| program | mode | A (s) | B (s) | B/A |")
    print("|---|---|---|---|---|")
    for name in names:
        program = PROGRAMS / f"{name}.bp"
        for mode in ("--no-jit", "--jit"):
            a = b = float("inf")
            for _ in range(args.n):
                a = best_time(args.a, mode, program, a)
                b = best_time(args.b, mode, program, b)
            print(f"| {name} | {mode} | {a:.3f} | {b:.3f} | {b / a:.2f} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
