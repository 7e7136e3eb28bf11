#!/usr/bin/env python3
"""Regenerate link/startup-order.txt: the functions `bp` runs when it starts, in the
order the linker should place them (docs/benchmarks.md, "Start-up memory").

Usage: scripts/startup-order.py [--bp target/release/bp] [--out link/startup-order.txt]
       scripts/startup-order.py --check [--bp target/release/bp]

Runs `bp run` under callgrind (valgrind) on hello world and on the first programs
of every directory of tests/programs, and lists every function of the `bp` binary
that ran: first those of hello world, in the order it runs them (every program runs
those), then the others, most widely used first.
build.rs hands the file to the linker (`--symbol-ordering-file`), which puts those
functions next to each other at the start of .text, so a small program touches a few
contiguous pages of code instead of one page in every corner of a 8 MB text
section (the kernel maps 64 KiB around every page fault of a file mapping).

The names are mangled symbol names in the v0 scheme (.cargo/config.toml), which
spell out a function's path and generic arguments and so survive edits of the code;
a name that no longer exists is skipped by the linker, so a stale file only places
fewer functions well. The crate part of a v0 name does change with the toolchain
and with the dependency graph (Cargo.lock, features, build scripts): `--check`
reports how many of the listed names the binary has (nm); below 90 % it exits 1
and the file should be regenerated. Check a binary from `cargo build --release`:
the one `cargo test` links has other crate identities (dev-dependencies change
features of shared crates) and matches about half (benches/bench.py runs the check and prints it
with its results).
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS_PER_DIR = 3
HELLO = 'def main() -> int:\n    print("hello")\n    return 0\n'
# The first compilations of a run: a loop-free function and one with a loop
# (which goes through the optimizer), compiled before the program starts.
FIRST_COMPILE = ('def add(a: int, b: int) -> int:\n    return (a + b) * (a - b) / 2 + 1\n\n'
                 'def total(n: int) -> int:\n    let s: int = 0\n    for i in range(0, n):\n'
                 '        s = (s + add(i, 3)) % 1000003\n    return s\n\n'
                 'def main() -> int:\n    print(total(10))\n    return 0\n')


def functions_run(profile, binary):
    """The names of the functions of `binary` in callgrind output `profile`, in
    order of first appearance."""
    objects, names, current, seen = {}, {}, None, []
    for line in open(profile, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, ident, name = m.groups()
            if name:
                objects[ident] = name
            if kind == "ob":
                current = objects.get(ident)
            continue
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if not m:
            continue
        kind, ident, name = m.groups()
        if name:
            names[ident] = name
        if kind == "fn" and current and os.path.realpath(current) == binary:
            # callgrind names a recursive function's inner levels `name'2`, ...
            name = re.sub(r"'\d+$", "", names.get(ident, ""))
            if name and not name.startswith("0x") and name not in seen:
                seen.append(name)
    return seen


def coverage(order_file, binary):
    """The fraction of the names in `order_file` that `binary` defines."""
    listed = [line.strip() for line in open(order_file, encoding="utf-8") if line.strip()]
    nm = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    defined = {parts[2] for parts in (line.split() for line in nm.splitlines()) if len(parts) == 3}
    return sum(name in defined for name in listed) / max(len(listed), 1)


def corpus(tmp):
    """The runs to profile, as (`bp run` options, program): hello world, the
    first compilations, then the test programs."""
    runs = []
    for name, text, options in (("hello.bp", HELLO, []),
                                ("first_compile.bp", FIRST_COMPILE, ["--jit-threshold", "0"])):
        path = os.path.join(tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        runs.append((options, path))
    base = os.path.join(ROOT, "tests", "programs")
    for d in sorted(os.listdir(base)):
        programs = sorted(p for p in os.listdir(os.path.join(base, d)) if p.endswith(".bp"))
        runs += [([], os.path.join(base, d, p)) for p in programs[:PROGRAMS_PER_DIR]]
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bp", default=os.path.join(ROOT, "target", "release", "bp"))
    ap.add_argument("--out", default=os.path.join(ROOT, "link", "startup-order.txt"))
    ap.add_argument("--check", action="store_true",
                    help="report how much of the file the binary still matches")
    args = ap.parse_args()
    binary = os.path.realpath(args.bp)
    if args.check:
        share = coverage(args.out, binary)
        print(f"startup order: {share:.0%} of the listed functions are in {args.bp}")
        sys.exit(0 if share >= 0.9 else 1)
    uses, first = collections.Counter(), {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, (options, program) in enumerate(corpus(tmp)):
            profile = os.path.join(tmp, f"cg.{n}")
            cmd = ["valgrind", "--tool=callgrind", "--demangle=no",
                   f"--callgrind-out-file={profile}", binary, "run"] + options + [program]
            try:
                subprocess.run(cmd, cwd=os.path.dirname(program), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            except subprocess.TimeoutExpired:
                print(f"skipped (timeout): {program}", file=sys.stderr)
                continue
            if not os.path.exists(profile):
                continue
            for name in functions_run(profile, binary):
                uses[name] += 1
                first.setdefault(name, (n, len(first)))
    # Hello world's functions first, in the order it runs them: every program runs
    # them. Then those of the first compilations, in order, so that a program's
    # first compilation touches few pages of the compiler's code. Then the rest,
    # most widely used first.
    def place(name):
        run = first[name][0]
        if run <= 1:
            return (run, 0, first[name])
        return (2, -uses[name], first[name])

    order = sorted(uses, key=place)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(order) + "\n")
    print(f"{len(order)} functions written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
