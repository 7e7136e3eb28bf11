#!/usr/bin/env python3
"""Generate the five large-function shapes of issue 9 item 6 (JIT compile cost).

Usage: scripts/jit-size-shapes.py OUTDIR [--scale S]

Writes OUTDIR/<shape>.bp for each shape, at the sizes of the issue times S
(default 1.0):

  calls    one function of 5,000 straight-line calls, called 150 times
           (compiled by the default tiering: `bp run --jit-stats`)
  elif     a 50,000-branch `if`/`elif` chain
  array    a function returning a 40,000-element array literal
  andor    a 120-level nested `and`/`or` expression
  prints   10,000 `print` lines
  wide     200 int locals live across 1,000 array reads (every read has a
           side exit that writes the live registers back: IR per bytecode
           instruction is highest here)

The last four are meant for `bp run --jit-threshold 0 --jit-stats` (every
function compiled before the program starts). Numbers measured with these files
are in docs/jit.md ("Compile cost"); tests/jit_compile_size.rs generates the
same shapes (smaller) for its regression tests.
"""
import os
import sys


def calls(n):
    lines = ["def h(x: int) -> int:", "    return x + 1", "", "def big(x: int) -> int:", "    let s: int = x"]
    lines += ["    s = h(s)" for _ in range(n)]
    lines += ["    return s", "", "def main() -> int:", "    let t: int = 0",
              "    for i in range(0, 150):", "        t = t + big(i)", "    print(t)", "    return 0"]
    return "\n".join(lines) + "\n"


def elif_chain(n):
    lines = ["def classify(x: int) -> int:", "    if x == 0:", "        return 0"]
    for i in range(1, n):
        lines += [f"    elif x == {i}:", f"        return {i * 3}"]
    lines += ["    return -1", "", "def main() -> int:",
              f"    print(classify(0), classify({n // 2}), classify({n - 1}), classify({n}))", "    return 0"]
    return "\n".join(lines) + "\n"


def array_literal(n):
    items = ", ".join(str(i) for i in range(n))
    return (f"def make() -> [int]:\n    return [{items}]\n\n"
            "def main() -> int:\n    let a: [int] = make()\n"
            f"    print(array_len(a), a[0], a[{n - 1}])\n    return 0\n")


def and_or(depth):
    # a0 and (a1 or (a2 and (... ))) over comparisons of the parameter.
    expr = "x > 0"
    for i in range(depth):
        op = "and" if i % 2 == 0 else "or"
        expr = f"(x != {i + 1} {op} {expr})"
    return (f"def deep(x: int) -> bool:\n    return {expr}\n\n"
            "def main() -> int:\n    print(deep(5), deep(-5), deep(2))\n    return 0\n")


def prints(n):
    lines = ["def main() -> int:", "    let x: int = 7"]
    lines += [f"    print(\"line\", {i}, x)" for i in range(n)]
    lines += ["    return 0"]
    return "\n".join(lines) + "\n"


def wide(n):
    k = 200
    lines = ["def wide(a: [int]) -> int:"]
    lines += [f"    let v{i}: int = a[{i % 3}] + {i}" for i in range(k)]
    lines += ["    let s: int = 0"]
    lines += [f"    s = s + a[{i % 3}]" for i in range(n)]
    lines += ["    return s + " + " + ".join(f"v{i}" for i in range(k))]
    lines += ["", "def main() -> int:", "    print(wide([1, 2, 3]))", "    return 0"]
    return "\n".join(lines) + "\n"


SHAPES = {
    "calls": (calls, 5000),
    "elif": (elif_chain, 50000),
    "array": (array_literal, 40000),
    "andor": (and_or, 120),
    "prints": (prints, 10000),
    "wide": (wide, 1000),
}


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    out = args[0]
    scale = 1.0
    if len(args) == 3 and args[1] == "--scale":
        scale = float(args[2])
    os.makedirs(out, exist_ok=True)
    for name, (gen, size) in SHAPES.items():
        with open(os.path.join(out, name + ".bp"), "w") as f:
            f.write(gen(max(2, int(size * scale))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
