//! JIT compile cost on large functions (issue 9, item 6): the five shapes of the
//! issue (as `scripts/jit-size-shapes.py` generates them) must not make `bp run`
//! slow or memory-hungry. A function over the JIT's size budget stays
//! interpreted, is reported as `too_big` by `--jit-stats` (not as `failed`),
//! and the program's output is the interpreter's; a function under the budget
//! compiles in time roughly linear in its size.
//!
//! Every run has an address-space limit (`RLIMIT_AS`, 4 GiB: the program thread
//! reserves a 1 GiB stack and the JIT a 512 MiB code arena, so hello world
//! needs about 2 GiB) and a time limit.

mod support;

use std::time::Duration;

use support::{Bp, Run, TempDir};

/// Address-space limit of every run.
const MEMORY_LIMIT: u64 = 4 << 30;
/// Wall-clock limit of every run (generous: a dev build on a loaded machine).
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// `bp ARGS` under the memory and time limits.
fn bp(args: &[&str]) -> Run {
    Bp::new(args)
        .memory_limit(MEMORY_LIMIT)
        .time_limit(TIME_LIMIT)
        .run()
}

/// Write `src` to the file `name` in `dir`; its path as an argument.
fn write(dir: &TempDir, name: &str, src: &str) -> String {
    dir.write(name, src).to_string_lossy().into_owned()
}

// The shapes (the same as scripts/jit-size-shapes.py).

/// One function of `n` straight-line calls, called 150 times.
fn calls(n: usize) -> String {
    let mut s = String::from(
        "def h(x: int) -> int:\n    return x + 1\n\ndef big(x: int) -> int:\n    let s: int = x\n",
    );
    s += &"    s = h(s)\n".repeat(n);
    s += "    return s\n\ndef main() -> int:\n    let t: int = 0\n    for i in range(0, 150):\n        t = t + big(i)\n    print(t)\n    return 0\n";
    s
}

/// An `n`-branch `if`/`elif` chain.
fn elif_chain(n: usize) -> String {
    let mut s = String::from("def classify(x: int) -> int:\n    if x == 0:\n        return 0\n");
    for i in 1..n {
        s += &format!("    elif x == {i}:\n        return {}\n", i * 3);
    }
    s += &format!(
        "    return -1\n\ndef main() -> int:\n    print(classify(0), classify({}), classify({}), classify({n}))\n    return 0\n",
        n / 2,
        n - 1
    );
    s
}

/// A function returning an `n`-element array literal.
fn array_literal(n: usize) -> String {
    let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!(
        "def make() -> [int]:\n    return [{}]\n\ndef main() -> int:\n    let a: [int] = make()\n    print(array_len(a), a[0], a[{}])\n    return 0\n",
        items.join(", "),
        n - 1
    )
}

/// A `depth`-level nested `and`/`or` expression.
fn and_or(depth: usize) -> String {
    let mut e = String::from("x > 0");
    for i in 0..depth {
        let op = if i % 2 == 0 { "and" } else { "or" };
        e = format!("(x != {} {op} {e})", i + 1);
    }
    format!("def deep(x: int) -> bool:\n    return {e}\n\ndef main() -> int:\n    print(deep(5), deep(-5), deep(2))\n    return 0\n")
}

/// `n` `print` lines.
fn prints(n: usize) -> String {
    let mut s = String::from("def main() -> int:\n    let x: int = 7\n");
    for i in 0..n {
        s += &format!("    print(\"line\", {i}, x)\n");
    }
    s + "    return 0\n"
}

/// 200 int locals live across `n` array reads (each read's side exit writes
/// them all back: the most IR per bytecode instruction).
fn wide(n: usize) -> String {
    let mut s = String::from("def wide(a: [int]) -> int:\n");
    for i in 0..200 {
        s += &format!("    let v{i}: int = a[{}] + {i}\n", i % 3);
    }
    s += "    let s: int = 0\n";
    for i in 0..n {
        s += &format!("    s = s + a[{}]\n", i % 3);
    }
    let vs: Vec<String> = (0..200).map(|i| format!("v{i}")).collect();
    s += &format!(
        "    return s + {}\n\ndef main() -> int:\n    print(wide([1, 2, 3]))\n    return 0\n",
        vs.join(" + ")
    );
    s
}

/// The `jit: compiled=…` line's value of `key`.
fn stat(stderr: &str, key: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("jit: compiled="))
        .unwrap_or_else(|| panic!("no statistics line in:\n{stderr}"));
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

/// Run `file` with the JIT (`flags`) and with the interpreter alone; both must
/// succeed with the same output. Returns the JIT run's stderr.
fn run_both(file: &str, flags: &[&str]) -> String {
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend(["--jit-stats", file]);
    let jit = bp(&args);
    let interp = bp(&["run", "--no-jit", file]);
    let (jit_err, interp_err) = (jit.stderr_text(), interp.stderr_text());
    assert_eq!(
        interp.status.code(),
        Some(0),
        "{file} (interpreter): {interp_err}"
    );
    assert_eq!(jit.status.code(), Some(0), "{file} {flags:?}: {jit_err}");
    assert!(!jit_err.contains("panicked"), "{jit_err}");
    assert_eq!(
        jit.stdout_text(),
        interp.stdout_text(),
        "{file} {flags:?}: output differs from the interpreter's"
    );
    assert!(!jit.stdout.is_empty());
    jit_err
}

const JIT0: &[&str] = &["--jit-threshold", "0"];

#[test]
fn issue_sized_functions_stay_interpreted_within_limits() {
    let dir = TempDir::new("jit-size-issue");
    // (file, source, flags, functions over the budget). Sizes of the issue:
    // before the size budget these took seconds and gigabytes to compile, or
    // aborted under 4 GiB.
    let cases = [
        ("calls.bp", calls(5000), &[][..], 1),
        ("elif.bp", elif_chain(50_000), JIT0, 1),
        ("array.bp", array_literal(40_000), JIT0, 1),
        ("andor.bp", and_or(120), JIT0, 0),
        ("prints.bp", prints(10_000), JIT0, 1),
        ("wide.bp", wide(1000), JIT0, 1),
    ];
    for (name, src, flags, too_big) in cases {
        let file = write(&dir, name, &src);
        let err = run_both(&file, flags);
        assert_eq!(stat(&err, "failed"), 0, "{name}: {err}");
        assert_eq!(stat(&err, "too_big"), too_big, "{name}: {err}");
        if too_big > 0 {
            assert!(err.contains(": too big, interpreted "), "{name}: {err}");
        }
    }
}

#[test]
fn functions_under_the_budget_compile() {
    let dir = TempDir::new("jit-size-under");
    let cases = [
        ("calls.bp", calls(200)),
        ("elif.bp", elif_chain(1000)),
        ("array.bp", array_literal(500)),
        ("prints.bp", prints(300)),
        ("wide.bp", wide(3)),
        // Over jit::LARGE_FUNCTION_WORK (compiled without Cranelift's optimizer)
        // but under the budget.
        ("prints_large.bp", prints(400)),
        ("elif_large.bp", elif_chain(2500)),
    ];
    for (name, src) in cases {
        let file = write(&dir, name, &src);
        let err = run_both(&file, JIT0);
        assert_eq!(stat(&err, "failed"), 0, "{name}: {err}");
        assert_eq!(stat(&err, "too_big"), 0, "{name}: {err}");
    }
}

#[test]
fn a_hot_loop_in_a_too_big_function_stays_interpreted() {
    // OSR would compile the whole function: it stays interpreted instead.
    let dir = TempDir::new("jit-size-osr");
    let mut src = String::from("def main() -> int:\n    let t: int = 0\n    for i in range(0, 200000):\n        t = (t + i * 7) % 1000003\n    print(t)\n");
    for i in 0..5000 {
        src += &format!("    print(\"line\", {i}, t)\n");
    }
    src += "    return 0\n";
    let file = write(&dir, "osr.bp", &src);
    let err = run_both(&file, &[]);
    assert_eq!(stat(&err, "too_big"), 1, "{err}");
    assert_eq!(stat(&err, "osr"), 0, "{err}");
    assert_eq!(stat(&err, "failed"), 0, "{err}");
}

#[test]
fn jit_ir_reports_a_function_over_the_budget() {
    let dir = TempDir::new("jit-size-ir");
    let file = write(&dir, "prints.bp", &prints(10_000));
    let r = bp(&["jit-ir", &file]);
    assert_eq!(r.status.code(), Some(0), "{}", r.stderr_text());
    let out = r.stdout_text();
    assert!(
        out.contains("; fn 0 main: not compiled, over the JIT's size budget"),
        "{}",
        &out[..out.len().min(2000)]
    );
}

/// The least compile time (µs) of function `name` in `file` over three runs
/// with every function compiled.
fn compile_us(file: &str, name: &str) -> u64 {
    (0..3)
        .map(|_| {
            let r = bp(&["run", "--jit-threshold", "0", "--jit-stats", file]);
            let err = r.stderr_text();
            assert_eq!(r.status.code(), Some(0), "{err}");
            let line = err
                .lines()
                .find(|l| l.contains(&format!(" {name}: compiled ")))
                .unwrap_or_else(|| panic!("{name} not compiled:\n{err}"));
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix("compile_us="))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no compile_us in {line}"))
        })
        .min()
        .unwrap_or(0)
}

/// A timing measurement, not a test of the default run: on a loaded machine the
/// ratios move by several times (one CI-like run measured 14.9 for the `calls`
/// shape, 4.0 on a quiet one), and the project keeps timings out of assertions.
/// The default run's guard against quadratic compiles is
/// `issue_sized_functions_stay_interpreted_within_limits` and
/// `functions_under_the_budget_compile` (time and memory limits far above the
/// linear cost, far below the old quadratic one). Run by hand on a quiet machine:
/// `cargo test --release --test jit_compile_size -- --ignored`.
#[test]
#[ignore = "timing measurement; run by hand on a quiet machine"]
fn compile_time_grows_about_linearly() {
    // Four times the size must cost well under sixteen times the time (the
    // translator's per-web SSA tables made it quadratic). Sizes stay under the
    // budget.
    let dir = TempDir::new("jit-size-linear");
    let cases = [
        ("classify", elif_chain(500), elif_chain(2000)),
        ("main", prints(100), prints(400)),
        ("big", calls(100), calls(400)),
    ];
    for (name, small, large) in cases {
        let a = write(&dir, "small.bp", &small);
        let b = write(&dir, "large.bp", &large);
        let (ta, tb) = (compile_us(&a, name), compile_us(&b, name));
        let ratio = tb as f64 / ta.max(1) as f64;
        assert!(
            ratio < 10.0,
            "{name}: {ta} µs at size N, {tb} µs at 4N (ratio {ratio:.1})"
        );
    }
}
