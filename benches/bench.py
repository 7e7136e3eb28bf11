#!/usr/bin/env python3
"""Benchmark harness: BetterPython (JIT and interpreter) against C, LuaJIT, Lua 5.4,
PyPy and CPython on the programs of benches/programs and their twins.

Usage: benches/bench.py [options] [PROGRAM ...]   (benches/run.sh calls it)

PROGRAM names a benches/programs/*.bp file without .bp (default: every program that
has a .bp file or a twin; one without a .bp file is skipped, with a message).

Steps:
 1. installs what is missing: luajit, lua5.4, pypy3 and hyperfine from Debian
    packages (apt-get, through sudo when not root), hyperfine with `cargo install`
    when apt has none; an engine that cannot be installed is skipped with a warning;
 2. builds bp with `cargo build --release` unless --bp names a binary, and compiles
    the C twins with `$CC -O2` (default gcc) into target/bench/c/;
 3. runs every engine once per program and checks that stdout and exit status are
    those of the bp interpreter (a difference is printed, the engine shown as
    "differs" in the table, and the script exits with status 1 at the end);
 4. times with hyperfine in rounds: each round is one hyperfine call per program with
    one run of every engine, in an order rotated from round to round, so that the
    engines take turns and a change of load on the machine hits all of them alike;
    an engine gets as many rounds as fit in --budget seconds by the time of its check
    run (at least one, at most --rounds);
 5. measures compile latency: every program once more per --rounds in the JIT's
    default tiering with --jit-log (each compilation's time, in order: the first
    one of a process is the cold one), and a generated program of
    LATENCY_FUNCTIONS small functions compiled one after another (--jit-threshold 0);
 6. writes the Markdown table (median wall time of each engine with its spread, the
    ratios to C, geometric means) on stdout or into --out, the chart of the ratios to
    C (SVG, log scale) into --svg, and every run's time into target/bench/results.json
    (hyperfine's own JSON exports beside it); with --update-doc, the table also goes
    into docs/benchmarks.md between its markers. --report-only FILE redoes the table
    and the chart from such a results.json without running anything.
"""
import argparse
import datetime
import json
import math
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "benches"
WORK = ROOT / "target" / "bench"


class Engine:
    """One way of running a program: `command(name)` gives its argv, or None when the
    program has no twin for this engine."""

    def __init__(self, key, label, twin_dir, twin_ext, argv):
        self.key = key
        self.label = label
        self.twin_dir = twin_dir
        self.twin_ext = twin_ext
        self.argv = argv

    def command(self, name, twin_dir=None):
        source = BENCH / (twin_dir or self.twin_dir) / f"{name}.{self.twin_ext}"
        if not source.is_file():
            return None
        return self.argv(source, name)


# Key, label and chart colour of every engine, in the order of the table's columns.
ENGINE_STYLES = [
    ("c", "C gcc -O2", "#555555"),
    ("jit", "bp JIT", "#d62728"),
    ("interp", "bp interp", "#ff9896"),
    ("luajit", "LuaJIT", "#1f77b4"),
    ("lua54", "Lua 5.4", "#aec7e8"),
    ("pypy", "PyPy", "#2ca02c"),
    ("cpython", "CPython", "#98df8a"),
]
COLORS = {key: color for key, _, color in ENGINE_STYLES}
# The chart: width of a bar and gap between programs, and the legend's column width.
BAR, GAP, LEGEND_STEP = 10, 18, 105


def engines(bp, cbin):
    """Every engine, in the order of ENGINE_STYLES. CPython is the interpreter running
    this script unless $PYTHON names another (a pyenv shim would add its own start-up)."""
    python = os.environ.get("PYTHON") or sys.executable
    runs = {
        "c": ("c", "c", lambda src, name: [str(cbin / name)]),
        "jit": ("programs", "bp", lambda src, name: [bp, "run", str(src)]),
        "interp": ("programs", "bp", lambda src, name: [bp, "run", "--no-jit", str(src)]),
        "luajit": ("lua", "lua", lambda src, name: ["luajit", str(src)]),
        "lua54": ("lua", "lua", lambda src, name: ["lua5.4", str(src)]),
        "pypy": ("python", "py", lambda src, name: ["pypy3", str(src)]),
        "cpython": ("python", "py", lambda src, name: [python, str(src)]),
    }
    return [Engine(key, label, *runs[key]) for key, label, _ in ENGINE_STYLES]


# The ratios besides "to C" that the performance targets of issue 13 are stated in.
PAIR_RATIOS = [("jit", "luajit"), ("interp", "lua54"), ("interp", "jit")]

# Debian package (and command) of each engine that may need installing.
PACKAGES = {"luajit": "luajit", "lua54": "lua5.4", "pypy": "pypy3"}


def warn(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- installing tools

def apt_get(args):
    """Runs apt-get (through `sudo -n` when not root); True when it succeeded."""
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None or not shutil.which("apt-get"):
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = subprocess.run(prefix + ["apt-get", "-y", "-q"] + args, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    return result.returncode == 0


class Installer:
    """Installs Debian packages on demand, running `apt-get update` at most once."""

    def __init__(self, allowed):
        self.allowed = allowed
        self.updated = False

    def ensure(self, command, package):
        if shutil.which(command):
            return True
        if not self.allowed:
            return False
        warn(f"installing {package} (apt-get)")
        if apt_get(["install", package]):
            return shutil.which(command) is not None
        if not self.updated:
            self.updated = True
            apt_get(["update"])
            if apt_get(["install", package]):
                return shutil.which(command) is not None
        return False

    def ensure_hyperfine(self):
        if self.ensure("hyperfine", "hyperfine"):
            return True
        if not self.allowed or not shutil.which("cargo"):
            return False
        warn("installing hyperfine (cargo install)")
        subprocess.run(["cargo", "install", "--locked", "hyperfine"], check=False)
        cargo_bin = pathlib.Path(os.environ.get("CARGO_HOME", pathlib.Path.home() / ".cargo")) / "bin"
        os.environ["PATH"] = f"{os.environ['PATH']}{os.pathsep}{cargo_bin}"
        return shutil.which("hyperfine") is not None


# ---------------------------------------------------------------- building

def build_bp(args):
    if args.bp:
        bp = pathlib.Path(args.bp).resolve()
        if not os.access(bp, os.X_OK):
            sys.exit(f"bench: --bp {args.bp}: not an executable file")
        return str(bp)
    warn("building bp (cargo build --release)")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "bp"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "release" / "bp")


def build_c_twins(names, cbin):
    cc = os.environ.get("CC", "gcc")
    cbin.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = BENCH / "c" / f"{name}.c"
        if source.is_file():
            subprocess.run([cc, "-O2", "-o", str(cbin / name), str(source), "-lm"], check=True)


# ---------------------------------------------------------------- running

def run_once(argv):
    """stdout plus exit status of one run, and its wall time in seconds."""
    start = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    return result.stdout + f"\n:exit={result.returncode}\n".encode(), result.stderr, elapsed


def check_outputs(name, commands):
    """Runs each engine once; returns the engines whose output is the reference's
    (the bp interpreter's, or the first twin's when there is no .bp file yet) with
    the time of that run, and the ones that differ."""
    outputs = {key: run_once(argv) for key, argv in commands.items()}
    ref_key = "interp" if "interp" in outputs else next(iter(outputs))
    reference, ref_err, _ = outputs[ref_key]
    if not reference.endswith(b"\n:exit=0\n"):
        warn(f"{name}: {ref_key} failed:\n{tail(ref_err)}")
    agree, differ = {}, []
    for key, (out, err, elapsed) in outputs.items():
        if out == reference:
            agree[key] = elapsed
        else:
            differ.append(key)
            warn(f"MISMATCH in {name}: {key} differs from {ref_key}")
            warn(f"  {ref_key}: {tail(reference)!r}\n  {key}: {tail(out)!r}\n  {key} stderr: {tail(err)!r}")
    return agree, differ


def check_only(names, all_engines):
    """The output check alone, twins of programs without a .bp file included;
    returns True when every output agrees."""
    ok = True
    for name in names:
        commands = {e.key: e.command(name) for e in all_engines if e.command(name) is not None}
        agree, differ = check_outputs(name, commands)
        ok = ok and not differ
        warn(f"{name}: {'same output' if not differ else 'DIFFERS'}: {', '.join(agree)}"
             + (f"; differ: {', '.join(differ)}" if differ else ""))
    return ok


def tail(output):
    return output.decode(errors="replace")[-600:]


def hyperfine_round(name, commands, round_index, json_dir):
    """One hyperfine run of each command; returns {engine: seconds}."""
    keys = list(commands)
    shift = round_index % len(keys)
    keys = keys[shift:] + keys[:shift]
    export = json_dir / f"{name}.round{round_index + 1}.json"
    argv = ["hyperfine", "-N", "--runs", "1", "--style", "none", "--ignore-failure",
            "--export-json", str(export)]
    argv += [shlex.join(commands[k]) for k in keys]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    results = json.loads(export.read_text())["results"]
    return {key: result["times"] for key, result in zip(keys, results)}


def measure(args, names, all_engines):
    """Checks and times every program; returns the results document."""
    json_dir = WORK / "hyperfine"
    json_dir.mkdir(parents=True, exist_ok=True)
    by_key = {e.key: e for e in all_engines}
    programs, skipped, failed = [], [], False
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    for name in names:
        if not (BENCH / "programs" / f"{name}.bp").is_file():
            warn(f"{name}: skipped, benches/programs/{name}.bp does not exist yet")
            skipped.append(name)
            continue
        commands = {e.key: e.command(name) for e in all_engines if e.command(name) is not None}
        agree, differ = check_outputs(name, commands)
        failed = failed or bool(differ)
        budget_per_run = args.budget / args.rounds
        wanted = {k: max(1, min(args.rounds, int(args.budget // max(t, 1e-3)))) for k, t in agree.items()}
        times = {k: [] for k in agree}
        for round_index in range(args.rounds):
            due = {k: commands[k] for k in agree if len(times[k]) < wanted[k]}
            if not due:
                break
            for key, run_times in hyperfine_round(name, due, round_index, json_dir).items():
                times[key] += run_times
        few = [by_key[k].label for k in agree if wanted[k] < args.rounds]
        note = f" (fewer runs, over {budget_per_run:.0f} s each: {', '.join(few)})" if few else ""
        summary = ", ".join(f"{by_key[k].label} {median(v) * 1000:.0f} ms" for k, v in times.items())
        warn(f"{name}: {summary}{note}")
        programs.append({"name": name, "times": times, "differ": differ})
    startup = measure_startup(all_engines, json_dir)
    latency = measure_compile_latency(args.bp_path, [p["name"] for p in programs], args.rounds) \
        if any(e.key == "jit" for e in all_engines) else {}
    return {
        "programs": programs,
        "startup": startup,
        "compile_latency": latency,
        "skipped": skipped,
        "engines": [{"key": e.key, "label": e.label} for e in all_engines],
        "machine": machine_description(),
        "versions": engine_versions(args.bp_path),
        "startup_order": startup_order_check(args.bp_path),
        "commit": git_commit(),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds() / 60,
        "load": [list(load_before), list(os.getloadavg())],
        "rounds": args.rounds,
        "budget": args.budget,
    }, failed


# ---------------------------------------------------------------- start-up

# Runs of hello world per engine for the start-up wall time, and for its peak memory.
STARTUP_RUNS, STARTUP_MEMORY_RUNS = 200, 21


def peak_rss_kib(argv):
    """The peak resident set of one run of argv, in KiB (the kernel's ru_maxrss,
    what GNU time's %M reports), measured by benches/startup/peak_rss.c (see there
    why not from this process)."""
    result = subprocess.run([str(WORK / "c" / "peak_rss")] + argv, stdout=subprocess.PIPE, text=True,
                            check=True)
    return int(result.stdout)


def measure_startup(all_engines, json_dir):
    """Wall time (hyperfine, STARTUP_RUNS runs after 20 warm-ups) and peak memory
    (median of STARTUP_MEMORY_RUNS runs) of benches/startup/hello in every engine."""
    cc = os.environ.get("CC", "gcc")
    hello_c = WORK / "c" / "hello"
    hello_c.parent.mkdir(parents=True, exist_ok=True)
    for tool in ("hello", "peak_rss"):
        subprocess.run([cc, "-O2", "-o", str(hello_c.parent / tool), str(BENCH / "startup" / f"{tool}.c")],
                       check=True)
    commands = {e.key: e.command("hello", "startup") for e in all_engines}
    commands = {k: argv for k, argv in commands.items() if argv is not None}
    export = json_dir / "startup.json"
    argv = ["hyperfine", "-N", "--warmup", "20", "--runs", str(STARTUP_RUNS), "--style", "none",
            "--export-json", str(export)] + [shlex.join(a) for a in commands.values()]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    results = json.loads(export.read_text())["results"]
    startup = {}
    for key, result in zip(commands, results):
        memory = [peak_rss_kib(commands[key]) for _ in range(STARTUP_MEMORY_RUNS)]
        startup[key] = {"wall": result["times"], "peak_kib": memory}
        warn(f"start-up: {key} {median(result['times']) * 1000:.2f} ms, {median(memory) / 1024:.1f} MiB")
    return startup


# ---------------------------------------------------------------- compile latency

# The generated program of small functions: how many, and a small function's size
# (issue 13's target: at most 100 µs for a small function) in bytecode instructions.
LATENCY_FUNCTIONS, SMALL_FUNCTION = 200, 16
COMPILE_EVENT = re.compile(r"^jit: compile (\S+) .* bytecode=(\d+) code=\d+B time=(\d+)us$")


def compile_events(bp, argv_tail):
    """The compilations of one `bp run --jit-log` run, in order: (function,
    bytecode instructions, microseconds)."""
    result = subprocess.run([bp, "run", "--jit-log"] + argv_tail, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    events = []
    for line in result.stderr.splitlines():
        m = COMPILE_EVENT.match(line)
        if m:
            events.append((m.group(1), int(m.group(2)), int(m.group(3))))
    return events


def small_functions_program(path):
    """Writes a program of LATENCY_FUNCTIONS functions of 8 bytecode instructions
    each (the size of spectral_norm's `a`), all called once from main."""
    lines = [f"def f{i}(a: int, b: int) -> int:\n    return (a + b) * (a + b + {i}) / 2 + a + 1\n\n"
             for i in range(LATENCY_FUNCTIONS)]
    lines.append("def main() -> int:\n    let s: int = 0\n")
    lines += [f"    s = s + f{i}(s % 7, {i})\n" for i in range(LATENCY_FUNCTIONS)]
    lines.append("    print(s)\n    return 0\n")
    path.write_text("".join(lines))


def warm_small_compilations(runs):
    """The compilations of the generated small functions after the first of each
    run (the compiler warm), without `main`."""
    return [e for run in runs for e in run[1:] if e[0] != "main"]


def measure_compile_latency(bp, names, runs):
    """Every compilation of `runs` runs of each program in the default tiering,
    and of the generated small functions compiled one after another."""
    latency = {"programs": {}}
    for name in names:
        source = str(BENCH / "programs" / f"{name}.bp")
        latency["programs"][name] = [compile_events(bp, [source]) for _ in range(runs)]
    small = WORK / "small_functions.bp"
    small_functions_program(small)
    latency["small"] = [compile_events(bp, ["--jit-threshold", "0", str(small)]) for _ in range(runs)]
    warm = [us for _, _, us in warm_small_compilations(latency["small"])]
    if warm:
        warn(f"compile latency: {LATENCY_FUNCTIONS} small functions, median {median(warm):.0f} us "
             f"after the first")
    return latency


# ---------------------------------------------------------------- facts about the run

def machine_description():
    model = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError):
        pass
    return f"{model}, {os.cpu_count()} cores{memory}"


def first_line(argv):
    """The first line argv prints, without a copyright notice (luajit -v, lua5.4 -v)."""
    try:
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.strip().splitlines()
    if not lines:
        return None
    return lines[0].split(" -- ")[0].split("  Copyright")[0].strip()


def engine_versions(bp):
    python = os.environ.get("PYTHON") or sys.executable
    found = {
        "bp": first_line([bp, "--version"]) if bp else None,
        "gcc": first_line([os.environ.get("CC", "gcc"), "--version"]),
        "luajit": first_line(["luajit", "-v"]),
        "lua5.4": first_line(["lua5.4", "-v"]),
        "pypy3": first_line(["pypy3", "-c", "import sys; print('PyPy', sys.version.split()[0],"
                                            " sys.pypy_version_info[:3])"]),
        "python3": first_line([python, "--version"]),
        "hyperfine": first_line(["hyperfine", "--version"]),
    }
    return {k: v for k, v in found.items() if v}


def startup_order_check(bp):
    """How much of link/startup-order.txt the binary matches (a stale file costs
    start-up memory; scripts/startup-order.py regenerates it)."""
    if not bp:
        return None
    return first_line([sys.executable, str(ROOT / "scripts" / "startup-order.py"), "--check", "--bp", bp])


def git_commit():
    commit = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]) or "unknown"
    status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                            stdout=subprocess.PIPE, text=True, check=False).stdout
    return commit + ("+changes" if status.strip() else "")


# ---------------------------------------------------------------- statistics

def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def spread(values):
    """Half the range of the runs, relative to their median."""
    return (max(values) - min(values)) / 2 / median(values)


def geometric_mean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def ratio(times, a, b):
    if a in times and b in times and times[a] and times[b]:
        return median(times[a]) / median(times[b])
    return None


# ---------------------------------------------------------------- the report

def fmt_ratio(value):
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def fmt_time(values):
    if not values:
        return "–"
    ms = median(values) * 1000
    text = f"{ms:.0f}" if ms >= 10 else f"{ms:.1f}"
    if len(values) > 1:
        text += f" ±{spread(values) * 100:.0f}%"
    return text


def markdown(doc):
    labels = {e["key"]: e["label"] for e in doc["engines"]}
    present = [e["key"] for e in doc["engines"] if any(e["key"] in p["times"] for p in doc["programs"])]
    lines = header_lines(doc) + time_table(doc, present, labels) + ratio_table(doc, present, labels)
    lines += startup_table(doc, labels)
    lines += latency_table(doc)
    if doc["skipped"]:
        lines += ["", "Not run, their `.bp` file does not exist yet: "
                  + ", ".join(f"`{name}`" for name in doc["skipped"]) + "."]
    return "\n".join(lines) + "\n"


def header_lines(doc):
    (b1, b5, b15), (a1, a5, a15) = doc["load"]
    return [
        f"Generated by `benches/bench.py` on {doc['date']}, commit `{doc['commit']}`; "
        f"{doc['machine']}; load average {b1:.2f} {b5:.2f} {b15:.2f} before, "
        f"{a1:.2f} {a5:.2f} {a15:.2f} after ({doc['minutes']:.0f} minutes later).",
        "",
        f"Engines: {'; '.join(doc['versions'].values())}.",
        "",
    ] + ([f"{doc['startup_order']}.", ""] if doc.get("startup_order") else [])


def startup_table(doc, labels):
    """Wall time and peak memory of hello world per engine, and their ratios to
    Lua 5.4's (issue 13: `bp run hello.bp` within 2x of lua5.4 in both)."""
    startup = doc.get("startup") or {}
    if not startup:
        return []
    base = startup.get("lua54")
    lines = ["", f"Start-up: `benches/startup/hello` (print one line), wall time the median of "
             f"{STARTUP_RUNS} runs (hyperfine, one engine after the other), peak resident memory "
             f"the median of {STARTUP_MEMORY_RUNS} runs.", "",
             markdown_row("engine", ["wall ms", "peak MiB", "wall / Lua 5.4", "memory / Lua 5.4"]),
             "|---|---:|---:|---:|---:|"]
    for key, row in startup.items():
        wall, peak = median(row["wall"]), median(row["peak_kib"])
        ratios = ([fmt_ratio(wall / median(base["wall"])), fmt_ratio(peak / median(base["peak_kib"]))]
                  if base else ["–", "–"])
        lines.append(markdown_row(labels[key], [f"{wall * 1000:.2f}", f"{peak / 1024:.1f}"] + ratios))
    return lines


def latency_table(doc):
    """Compile latency per program (issue 13: at most 100 µs for a small function):
    the first compilation of a run (cold: caches and branch predictors not yet
    trained on the compiler), the median of all, that of the small functions,
    and the slowest; then the generated small functions."""
    latency = doc.get("compile_latency") or {}
    if not latency.get("programs"):
        return []
    runs = max(len(r) for r in latency["programs"].values())
    lines = ["", f"Compile latency (`--jit-log`, the default tiering, {runs} runs of each program; "
             f"µs; a small function has at most {SMALL_FUNCTION} bytecode instructions):", "",
             markdown_row("program", ["compilations", "first (cold)", "median", "small functions' median",
                                      "slowest (bytecode)"]),
             "|---|---:|---:|---:|---:|---:|"]
    for name, per_run in latency["programs"].items():
        events = [e for run in per_run for e in run]
        if not events:
            lines.append(markdown_row(name, ["0", "–", "–", "–", "–"]))
            continue
        first = median([run[0][2] for run in per_run if run])
        small = [us for _, size, us in events if size <= SMALL_FUNCTION]
        slow_name, slow_size, slow_us = max(events, key=lambda e: e[2])
        lines.append(markdown_row(name, [
            f"{len(events) / len(per_run):.0f}", f"{first:.0f}", f"{median([e[2] for e in events]):.0f}",
            f"{median(small):.0f}" if small else "–", f"{slow_us} (`{slow_name}`, {slow_size})"]))
    small_runs = [run for run in latency.get("small", []) if run]
    if small_runs:
        warm = [us for _, _, us in warm_small_compilations(small_runs)]
        first = median([run[0][2] for run in small_runs])
        sizes = sorted({size for _, size, _ in warm_small_compilations(small_runs)})
        lines += ["", f"{LATENCY_FUNCTIONS} generated functions of {'/'.join(map(str, sizes))} bytecode "
                  f"instructions, compiled one after another (`--jit-threshold 0`, {len(small_runs)} runs): "
                  f"median {median(warm):.0f} µs, 90th percentile {percentile(warm, 0.9):.0f} µs; "
                  f"the first of a run {first:.0f} µs."]
    return lines


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def markdown_row(first, cells):
    return f"| {first} | " + " | ".join(cells) + " |"


def time_table(doc, present, labels):
    lines = [
        f"Wall time of the whole process in ms: the median of {doc['rounds']} runs "
        f"(fewer for a run longer than {doc['budget'] / doc['rounds']:.0f} s), ± half "
        "the range of the runs relative to the median.",
        "",
        markdown_row("program", [labels[k] for k in present]),
        "|---|" + "---:|" * len(present),
    ]
    for p in doc["programs"]:
        cells = ["differs" if k in p["differ"] else fmt_time(p["times"].get(k)) for k in present]
        lines.append(markdown_row(p["name"], cells))
    return lines


def ratio_table(doc, present, labels):
    """Each engine's ratio to C, then the PAIR_RATIOS, with their geometric means."""
    to_c = [(k, "c") for k in present if k != "c"] if "c" in present else []
    pairs = [(a, b) for a, b in PAIR_RATIOS if a in present and b in present]
    columns = to_c + pairs
    lines = ["", "Ratios of the median times (below 1: the first engine is the faster)"
             + (": each engine to C, then " if to_c else ": ")
             + ", ".join(f"{labels[a]} / {labels[b]}" for a, b in pairs) + ".", "",
             markdown_row("program", [f"{labels[a]} / {'C' if b == 'c' else labels[b]}" for a, b in columns]),
             "|---|" + "---:|" * len(columns)]
    for p in doc["programs"]:
        lines.append(markdown_row(p["name"], [fmt_ratio(ratio(p["times"], a, b)) for a, b in columns]))
    means = []
    for a, b in columns:
        values = [r for r in (ratio(p["times"], a, b) for p in doc["programs"]) if r is not None]
        means.append(f"**{fmt_ratio(geometric_mean(values))}** ({len(values)})")
    lines += [markdown_row("**geometric mean**", means), "",
              "The number in brackets is how many programs the mean is over (those with both "
              "engines; programs without a C twin have no ratio to C)."]
    return lines


class LogAxis:
    """The vertical axis of the chart: ratios from low to high on a log scale."""

    def __init__(self, low, high, top, height):
        self.low, self.high, self.top, self.height = low, high, top, height

    def y(self, value):
        span = math.log10(self.high) - math.log10(self.low)
        return self.top + self.height * (1 - (math.log10(value) - math.log10(self.low)) / span)


def svg_chart(doc):
    """Grouped bars of each engine's ratio to C per program, on a log scale."""
    labels = {e["key"]: e["label"] for e in doc["engines"]}
    programs = [p for p in doc["programs"] if "c" in p["times"]]
    keys = [e["key"] for e in doc["engines"]
            if e["key"] != "c" and any(ratio(p["times"], e["key"], "c") for p in programs)]
    values = [r for r in (ratio(p["times"], k, "c") for p in programs for k in keys) if r]
    if not values:
        return None
    left, top, plot_h = 60, 50, 320
    group = BAR * len(keys) + GAP
    width = max(720, left + group * len(programs) + 20)
    per_row = max(1, (width - left) // LEGEND_STEP)
    height = top + plot_h + 90 + 18 * math.ceil(len(keys) / per_row)
    axis = LogAxis(nice_bound(min(min(values), 1.0), down=True), nice_bound(max(values), down=False),
                   top, plot_h)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13" font-weight="bold">Time relative to C (gcc -O2), '
           f'log scale, lower is faster</text>',
           f'<text x="{left}" y="34" fill="#555">commit {escape(doc["commit"])}, {doc["date"]}, '
           f'{escape(doc["machine"])}</text>']
    out += svg_grid(axis, left, width - 20)
    for i, p in enumerate(programs):
        out += svg_bars(p, keys, labels, axis, left + GAP / 2 + i * group)
    for j, k in enumerate(keys):
        x = left + (j % per_row) * LEGEND_STEP
        y = top + plot_h + 92 + 18 * (j // per_row)
        out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{COLORS[k]}"/>')
        out.append(f'<text x="{x + 14}" y="{y}">{escape(labels[k])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def svg_grid(axis, x1, x2):
    """Horizontal lines at 1, 2, 5, 10, ... (darker at powers of ten and at 1x)."""
    out = []
    for v in grid_values(axis.low, axis.high):
        y = axis.y(v)
        stroke = "#333" if v == 1 else "#bbb" if math.log10(v).is_integer() else "#eee"
        out.append(f'<line x1="{x1}" y1="{y:.1f}" x2="{x2}" y2="{y:.1f}" stroke="{stroke}"/>')
        out.append(f'<text x="{x1 - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}×</text>')
    return out


def svg_bars(program, keys, labels, axis, x0):
    """One program's bars, from the 1x line up (slower than C) or down (faster), and
    its name under the axis."""
    out = []
    y_one = axis.y(1.0)
    for j, k in enumerate(keys):
        r = ratio(program["times"], k, "c")
        if r is None:
            continue
        y = axis.y(r)
        top_y, h = (y, y_one - y) if r >= 1 else (y_one, y - y_one)
        out.append(f'<rect x="{x0 + j * BAR:.1f}" y="{top_y:.1f}" width="{BAR - 1}" height="{max(h, 1):.1f}" '
                   f'fill="{COLORS[k]}"><title>{escape(program["name"])}: {escape(labels[k])} '
                   f'{r:.2f}× C</title></rect>')
    cx = x0 + BAR * len(keys) / 2
    label_y = axis.top + axis.height + 14
    out.append(f'<text x="{cx:.1f}" y="{label_y}" text-anchor="end" '
               f'transform="rotate(-35 {cx:.1f} {label_y})">{escape(program["name"])}</text>')
    return out


def grid_values(low, high):
    """The 1-2-5 series from low to high (both on it)."""
    exponent = math.floor(math.log10(low) + 1e-9)
    values = []
    while True:
        for step in (1, 2, 5):
            v = round(step * 10.0 ** exponent, 12)
            if v > high * 1.0001:
                return values
            if v >= low * 0.9999:
                values.append(v)
        exponent += 1


def nice_bound(value, down):
    """The 1-2-5 value nearest to value, below it (down) or above it."""
    exponent = math.floor(math.log10(value))
    candidates = [step * 10.0 ** e for e in (exponent - 1, exponent, exponent + 1) for step in (1, 2, 5)]
    if down:
        return max(c for c in candidates if c <= value * 1.0001)
    return min(c for c in candidates if c >= value * 0.9999)


def escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- main

def program_names(requested):
    known = sorted({p.stem for d in ("programs", "c", "python", "lua") for p in (BENCH / d).glob("*.*")
                    if p.suffix in (".bp", ".c", ".py", ".lua")})
    for name in requested:
        if name not in known:
            sys.exit(f"bench: no such program: {name} (known: {', '.join(known)})")
    return requested or known


def parse_args():
    ap = argparse.ArgumentParser(description=" ".join(__doc__.splitlines()[:2]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("programs", nargs="*", metavar="PROGRAM")
    ap.add_argument("--bp", help="use this bp binary instead of building one")
    ap.add_argument("-n", "--rounds", type=int, default=3, help="timed runs per engine (default 3)")
    ap.add_argument("--budget", type=float, default=30.0,
                    help="seconds of timed runs per engine and program at most, beyond the first (default 30)")
    ap.add_argument("--engines", help="comma-separated subset of c,jit,interp,luajit,lua54,pypy,cpython")
    ap.add_argument("--out", help="write the Markdown table to this file (default: stdout)")
    ap.add_argument("--svg", default=str(ROOT / "docs" / "benchmarks" / "ratios.svg"),
                    help="write the chart here (default docs/benchmarks/ratios.svg; '' for none)")
    ap.add_argument("--update-doc", action="store_true",
                    help="also put the table into docs/benchmarks.md, between its bench.py markers")
    ap.add_argument("--no-install", action="store_true", help="do not install missing engines")
    ap.add_argument("--check-only", action="store_true",
                    help="only check that all outputs agree (twins without a .bp file too), no timing")
    ap.add_argument("--report-only", metavar="RESULTS_JSON",
                    help="write the table and chart from a results.json of an earlier run")
    args = ap.parse_args()
    if args.rounds < 1 or args.budget <= 0:
        ap.error("--rounds and --budget must be positive")
    return args


def select_engines(args, bp):
    all_engines = engines(bp, WORK / "c")
    if args.engines:
        wanted = set(args.engines.split(","))
        unknown = wanted - {e.key for e in all_engines}
        if unknown:
            sys.exit(f"bench: unknown engine(s): {', '.join(sorted(unknown))}")
        wanted.add("interp")  # the reference output
        all_engines = [e for e in all_engines if e.key in wanted]
    installer = Installer(not args.no_install)
    kept = []
    for engine in all_engines:
        package = PACKAGES.get(engine.key)
        command = package if package else None
        if command and not installer.ensure(command, package):
            warn(f"{engine.label}: `{command}` is missing and could not be installed; skipped")
            continue
        kept.append(engine)
    if not installer.ensure_hyperfine():
        sys.exit("bench: hyperfine is missing and could not be installed")
    return kept


def write_reports(doc, args):
    table = markdown(doc)
    if args.out:
        pathlib.Path(args.out).write_text(table)
        warn(f"table written to {args.out}")
    else:
        sys.stdout.write(table)
    if args.update_doc:
        update_doc(DOC, table)
        warn(f"table put into {DOC}")
    if args.svg:
        chart = svg_chart(doc)
        if chart:
            pathlib.Path(args.svg).parent.mkdir(parents=True, exist_ok=True)
            pathlib.Path(args.svg).write_text(chart)
            warn(f"chart written to {args.svg}")


DOC = ROOT / "docs" / "benchmarks.md"
DOC_BEGIN = "<!-- bench.py table: begin (benches/run.sh --update-doc rewrites up to the end marker) -->"
DOC_END = "<!-- bench.py table: end -->"


def update_doc(path, table):
    """Replaces the text between the markers in path with the table."""
    text = path.read_text()
    begin, end = text.find(DOC_BEGIN), text.find(DOC_END)
    if begin < 0 or end < begin:
        sys.exit(f"bench: {path} has no `{DOC_BEGIN}` ... `{DOC_END}` markers")
    path.write_text(text[:begin + len(DOC_BEGIN)] + "\n\n" + table + "\n" + text[end:])


def main():
    args = parse_args()
    if args.report_only:
        write_reports(json.loads(pathlib.Path(args.report_only).read_text()), args)
        return 0
    names = program_names(args.programs)
    bp = build_bp(args)
    args.bp_path = bp
    all_engines = select_engines(args, bp)
    build_c_twins(names, WORK / "c")
    if args.check_only:
        return 0 if check_only(names, all_engines) else 1
    doc, failed = measure(args, names, all_engines)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    warn(f"all run times in {WORK / 'results.json'}")
    write_reports(doc, args)
    if failed:
        warn("ERROR: some outputs differ (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
