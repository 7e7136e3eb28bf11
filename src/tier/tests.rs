//! JIT tests: translator edge cases against the interpreter, tiering (OSR,
//! deopt limits), and compilation of every test program for the host and for
//! AArch64.

use super::policy::DEOPT_LIMIT;
use super::{offsets, tier_ref, JitOptions, JitTotals};
use crate::bytecode::Program;
use crate::diag::{Diagnostics, SourceMap};
use crate::jit::analysis::{analyze, RegSet};
use crate::jit::{compile_all, isas_for};
use crate::vm::{Vm, VmOptions};
use std::path::{Path, PathBuf};

/// Parse, check and compile `src` as the single module `t.bp`.
fn build(src: &str) -> Program {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let file = sources.add("t.bp".to_string(), src.to_string());
    let m = crate::parser::parse_module(src, file, "t", &mut diags);
    let mut mods = vec![m];
    let info = crate::types::check::check_program(&mut mods, &mut diags);
    assert!(!diags.has_errors(), "{:?}", diags.list);
    let p = crate::compiler::compile_program(&mods, &info, &sources, &mut diags);
    assert!(!diags.has_errors(), "{:?}", diags.list);
    p
}

/// Run `p`; returns (status, stdout, stderr, JIT totals).
fn run(p: &Program, jit: Option<JitOptions>, gc_stress: bool) -> (i32, String, String, JitTotals) {
    let mut vm = Vm::new(
        p,
        VmOptions {
            tier: jit.map(JitOptions::factory),
            gc_stress: if gc_stress {
                bp_runtime::heap::GcStress::Every
            } else {
                bp_runtime::heap::GcStress::Off
            },
            ..Default::default()
        },
    );
    vm.capture = true;
    let code = vm.run_program();
    let totals = super::totals(&vm).unwrap_or_default();
    let out = String::from_utf8_lossy(&vm.take_output()).into_owned();
    (code, out, std::mem::take(&mut vm.err), totals)
}

/// Options that compile on the program's thread, so that the tier changes
/// (OSR, deopts, versions) these tests count happen at the same points in
/// every run; `background_compilation_*` test the compile worker.
fn jit_opts(threshold: u32, stress: u8) -> JitOptions {
    JitOptions {
        threshold,
        stress,
        sync: true,
        ..Default::default()
    }
}

/// Options that compile on the run's compile worker.
fn background_opts(threshold: u32) -> JitOptions {
    JitOptions {
        threshold,
        ..Default::default()
    }
}

/// Run `p` in the interpreter and with `opts`: stdout and status must agree.
/// Returns the JIT's totals.
fn same_as_interpreter(p: &Program, opts: JitOptions) -> JitTotals {
    let (c0, o0, _, _) = run(p, None, false);
    let (c, o, e, t) = run(p, Some(opts), false);
    assert_eq!((c, o), (c0, o0), "{e}");
    t
}

/// Run `src` in the interpreter and in every JIT configuration; all must agree.
/// Returns the interpreter's stdout.
fn same_everywhere(src: &str) -> String {
    same_everywhere_prog(&build(src))
}

/// [`same_everywhere`] for a compiled program.
fn same_everywhere_prog(p: &Program) -> String {
    let p = p.clone();
    let (c0, o0, e0, _) = run(&p, None, false);
    for (name, opts, gc) in [
        ("jit0", jit_opts(0, 0), false),
        ("jit2", jit_opts(2, 0), false),
        ("stress1", jit_opts(0, 1), false),
        ("stress2", jit_opts(0, 2), false),
        ("jitgc", jit_opts(0, 0), true),
        ("background", background_opts(2), false),
    ] {
        let (c, o, e, t) = run(&p, Some(opts), gc);
        assert_eq!((c, &o), (c0, &o0), "{name}: stdout/status differ; stderr:\n{e}");
        assert_eq!(e, e0, "{name}: stderr differs");
        assert_eq!(t.failed, 0, "{name}: compilation failed");
    }
    o0
}

#[test]
fn integer_edge_cases() {
    let out = same_everywhere(
        r#"
def div(a: int, b: int) -> int:
    return a / b

def rem(a: int, b: int) -> int:
    return a % b

def main() -> int:
    let min: int = -9223372036854775807 - 1
    print(div(min, -1), rem(min, -1), div(-7, 2), rem(-7, 2), div(7, -2), rem(7, -2))
    print(min * -1, -min, min - 1)
    let s: int = 65
    print(1 << s, 1 << -1, -8 >> 1, -1 >> 63, ~5, 6 & 3, 6 | 3, 6 ^ 3)
    try:
        print(div(1, 0))
    catch e:
        print("caught", e)
    try:
        print(rem(1, 0))
    catch e:
        print("caught", e)
    return 0
"#,
    );
    assert!(out.starts_with("-9223372036854775808 0 -3 -1 -3 1\n"), "{out}");
    assert!(
        out.contains("caught division by zero\ncaught modulo by zero\n"),
        "{out}"
    );
}

/// The magic-number division emitted for constant divisors, replayed in Rust.
fn magic_div(x: i64, d: i64) -> i64 {
    let (m, s) = crate::jit::translate::magic_s64(d);
    let mut q = ((x as i128 * m as i128) >> 64) as i64;
    if d > 0 && m < 0 {
        q = q.wrapping_add(x);
    } else if d < 0 && m > 0 {
        q = q.wrapping_sub(x);
    }
    q >>= s;
    // As the translator: the sign of `x` for positive divisors, of `q` otherwise.
    let neg = if d > 0 { x } else { q };
    q.wrapping_add(((neg as u64) >> 63) as i64)
}

/// Dividends at the ends of the int range, for the division tests.
const EXTREME_DIVIDENDS: [i64; 6] = [
    i64::MIN,
    i64::MIN + 1,
    i64::MAX,
    i64::MAX - 1,
    1 << 62,
    -(1 << 62),
];

/// The division by a divisor prepared in a loop's pre-header
/// (`Tr::divide_by_prepared`), replayed in Rust.
fn prepared_div(x: i64, d: i64) -> i64 {
    let m = crate::jit::translate::div_magic(d);
    assert!(m < 0, "the multiplier of {d} is at least 2^63");
    let s = 63 - (d - 1).leading_zeros();
    let hi = ((x as i128 * m as i128) >> 64) as i64;
    let q = hi.wrapping_add(x) >> s;
    q.wrapping_add(((x as u64) >> 63) as i64)
}

/// Why `prepared_div` is exact, for `d >= 2`, `l = ceil(log2(d))`,
/// `M = floor(2^(63 + l) / d) + 1 = (2^(63 + l) + e) / d` with `0 < e <= d`:
/// `x * M / 2^(63 + l) = x / d + x * e / (d * 2^(63 + l))`, and the error term
/// has magnitude at most `|x| / 2^(63 + l) <= 2^-l <= 1 / d`, strictly less
/// for `x >= 0` (`x < 2^63`). For `x >= 0` the floor is then `floor(x / d)`;
/// for `x < 0` it is `floor(x / d) - 1` when `d` divides `x` (the error is
/// not 0: `e > 0`) and `floor(x / d)` otherwise, and adding 1 gives the
/// truncated quotient either way.
#[test]
fn prepared_division_matches_idiv() {
    assert_eq!(crate::jit::translate::div_magic(1), 0);
    assert_eq!(crate::jit::translate::div_magic(0), 0);
    assert_eq!(crate::jit::translate::div_magic(-5), 0);
    assert_eq!(crate::jit::translate::div_magic(i64::MIN), 0);
    let mut divisors: Vec<i64> = (2..300).collect();
    for k in 2..63 {
        divisors.extend([(1i64 << k) - 1, 1 << k, (1 << k) + 1]);
    }
    divisors.extend([1000000007, 6700417, i64::MAX, i64::MAX - 1, (i64::MAX >> 1) + 2]);
    let mut seed: u64 = 0x2545f4914f6cdd1d;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed
    };
    for _ in 0..300 {
        let r = next();
        divisors.push(((r >> (r % 62)) as i64).max(2));
    }
    let mut xs: Vec<i64> = (-600..600).collect();
    xs.extend(EXTREME_DIVIDENDS);
    for _ in 0..1000 {
        let r = next();
        xs.push(r as i64);
        xs.push((r >> (r % 63)) as i64);
        xs.push(-((r >> (r % 63)) as i64));
    }
    for &d in &divisors {
        let near = [
            d,
            -d,
            d - 1,
            1 - d,
            d.wrapping_add(1),
            d.wrapping_neg().wrapping_sub(1),
            d.wrapping_mul(3),
            d.wrapping_mul(-3),
        ];
        for &x in xs.iter().chain(&near) {
            assert_eq!(prepared_div(x, d), x.wrapping_div(d), "{x} / {d}");
        }
    }
}

#[test]
fn magic_division_matches_idiv() {
    let mut divisors: Vec<i64> = (2..300).chain(-300..-1).collect();
    divisors.extend([
        1000000007,
        -1000000007,
        1 << 40,
        -(1 << 40),
        i64::MAX,
        i64::MIN + 1,
        641,
        6700417,
    ]);
    let mut xs: Vec<i64> = (-1000..1000).collect();
    xs.extend(EXTREME_DIVIDENDS);
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..2000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        xs.push(seed as i64);
        xs.push((seed >> 17) as i64 - (1 << 45));
    }
    for &d in &divisors {
        for &x in &xs {
            assert_eq!(magic_div(x, d), x.wrapping_div(d), "{x} / {d}");
        }
    }
}

#[test]
fn constant_divisors() {
    let out = same_everywhere(
        r#"
def main() -> int:
    let min: int = -9223372036854775807 - 1
    let xs: [int] = [0, 1, -1, 2, -2, 3, -3, 7, -7, 1023, -1023, 1024, -1025, 1000000006, 1000000008, -1000000008, min, min + 1, 9223372036854775807]
    for x in xs:
        print(x / 1, x % 1, x / -1, x % -1, x / 2, x % 2, x / -8, x % -8)
        print(x / 7, x % 7, x / -7, x % -7, x / 1000000007, x % 1000000007)
        print(x / min, x % min, x / 9223372036854775807, x % 9223372036854775807)
        print(x / 4, x % 4, x / -4, x % -4, x / 1024, x % 1024, x / -2, x % -2)
        print(x / 4611686018427387904, x % 4611686018427387904, x / -4611686018427387904, x % -4611686018427387904)
    try:
        print(min / 0)
    catch e:
        print(e)
    return 0
"#,
    );
    assert!(out.contains("division by zero"), "{out}");
}

#[test]
fn float_edge_cases() {
    let out = same_everywhere(
        r#"
def lt(a: float, b: float) -> bool:
    return a < b

def pick(a: float, b: float) -> int:
    if a < b:
        return 1
    if not (a <= b):
        return 2
    return 3

def main() -> int:
    let nan: float = 0.0 / 0.0
    let inf: float = 1.0 / 0.0
    print(lt(nan, 1.0), lt(1.0, nan), nan == nan, nan != nan, inf > 1e308)
    print(pick(nan, 1.0), pick(1.0, 2.0), pick(2.0, 2.0), pick(3.0, 2.0))
    print(7.5 % 2.0, -7.5 % 2.0, -0.0 == 0.0, 1.0 / -0.0)
    let x: float = 0.1
    let i: int = 0
    while i < 10:
        x = x * 1.5 - 0.01
        i = i + 1
    print(x)
    return 0
"#,
    );
    assert!(out.starts_with("false false false true true\n2 1 3 2\n"), "{out}");
}

#[test]
fn arrays_structs_maps_strings() {
    same_everywhere(
        r#"
struct P:
    x: int
    name: str

struct C:
    v: float

def none(k: int) -> P:
    if k > 100:
        return P{x: k, name: "big"}

def main() -> int:
    let xs: [int] = [1, 2, 3, 4]
    print(xs[-1], xs[-4], array_len(xs))
    xs[-2] = 30
    print(xs)
    try:
        print(xs[4])
    catch e:
        print(e)
    try:
        print(xs[-5])
    catch e:
        print(e)
    let p: P = P{x: 1, name: "a"}
    p.x = p.x + 41
    p.name = p.name + "b"
    print(p.x, p.name, p)
    let c: C = C{v: 1.5}
    c.v = c.v * 2.0
    print(c.v)
    let t: (int, str, float) = (1, "t", 2.5)
    print(t[0], t[1], t[2])
    let m: {str: int} = {"a": 1}
    m["b"] = 2
    print(m["a"] + m["b"], m)
    try:
        print(m["zz"])
    catch e:
        print(e)
    let fs: [float] = [0.5, 1.5]
    fs[0] = fs[1] * 2.0
    print(fs, "x" == "x", "x" != "y", [1, 2] == [1, 2])
    let n: P = none(1)
    try:
        print(n.x)
    catch e:
        print(e)
    try:
        n.name = "z"
    catch e:
        print(e)
    print(n == none(2), n)
    return 0
"#,
    );
}

#[test]
fn closures_globals_and_exit() {
    let src = r#"
let counter: int = 0
let label: str = "g"

def bump(k: int) -> int:
    counter = counter + k
    return counter

def main() -> int:
    let f: fn(int) -> int = fn(v: int) -> int: bump(v) * 2
    let g: fn(str) -> void = fn(s: str) -> void: print(s, label)
    let i: int = 0
    let s: int = 0
    while i < 50:
        s = s + f(i)
        i = i + 1
    g("done")
    label = "h"
    g(to_str(s))
    exit(3)
    return 0
"#;
    same_everywhere(src);
    let (code, out, _, _) = run(&build(src), Some(jit_opts(0, 0)), false);
    assert_eq!(code, 3);
    assert!(out.ends_with("h\n"), "{out}");
}

#[test]
fn osr_enters_long_loop_of_main() {
    let p = build(
        r#"
def main() -> int:
    let s: int = 0
    let i: int = 0
    while i < 100000:
        s = s + i % 7
        i = i + 1
    print(s)
    return 0
"#,
    );
    let t = same_as_interpreter(&p, jit_opts(100, 0));
    assert_eq!(t.osr, 1, "{t:?}");
    assert_eq!(t.compiled, 1, "{t:?}");
}

/// A version has the entries of the loops the tier asked for only: `walk` is
/// compiled by calls, without any, and deoptimizes in its loop when its closure
/// site meets a new function. Its code cannot take the frame back there, so
/// the tier compiles a version with the loop's entry and enters it by OSR;
/// when that version deoptimizes in the loop in turn (its site has not seen
/// the third function), the frame re-enters it, until it is given up.
#[test]
fn a_loop_gets_its_entry_when_a_frame_needs_it() {
    let p = build(
        r#"
def walk(n: int) -> int:
    let f: fn(int) -> int = fn(x: int) -> int: x + 1
    let s: int = 0
    for i in range(0, n):
        if i == n / 2:
            f = fn(x: int) -> int: x - 1
        if i == n / 2 + n / 4:
            f = fn(x: int) -> int: x * 3 % 1000
        s = f(s) + i % 3
    return s

def main() -> int:
    let t: int = 0
    for k in range(0, 3):
        t = t + walk(1)
    print(t, walk(100000))
    return 0
"#,
    );
    let t = same_as_interpreter(&p, jit_opts(2, 0));
    assert_eq!(t.osr, 1, "{t:?}");
    assert!(t.reentries >= 1 && t.disabled == 1, "{t:?}");
    same_everywhere_prog(&p);
}

/// Exceptions thrown and caught in compiled code, and runtime errors raised
/// there, are no deopts: the code stays.
#[test]
fn exceptions_in_compiled_code_are_no_deopts() {
    let p = build(
        r#"
def risky(xs: [int], i: int) -> int:
    try:
        if i == 2:
            throw "two"
        return xs[i] + 10 / (i - 1)
    catch e:
        return -len(e)

def main() -> int:
    let xs: [int] = [1, 2, 3]
    let s: int = 0
    let i: int = 0
    while i < 5000:
        s = s + risky(xs, i % 4)
        i = i + 1
    print(s)
    return 0
"#,
    );
    let t = same_as_interpreter(&p, jit_opts(10, 0));
    assert_eq!((t.deopts, t.disabled), (0, 0), "{t:?}");
    assert!(t.compiled >= 2, "{t:?}");
}

#[test]
fn errors_of_inlined_callees_cost_one_version() {
    // The division is inlined into `risky`, whose guard exits at the call:
    // the VM runs the call again, and raises in `div`'s frame. The next
    // version of `risky` calls `div` (a call a handler covers is not inlined
    // in a version after one given up), whose error it catches.
    let p = build(
        r#"
def div(a: int, b: int) -> int:
    return a / b

def risky(i: int) -> int:
    try:
        return div(12, i)
    catch e:
        return -1

def main() -> int:
    let s: int = 0
    let i: int = 0
    while i < 5000:
        s = s + risky(i % 4)
        i = i + 1
    print(s)
    return 0
"#,
    );
    let t = same_as_interpreter(&p, jit_opts(10, 0));
    assert_eq!(t.disabled, 1, "{t:?}");
    // `main`, `div`, and two versions of `risky`.
    assert_eq!(t.compiled, 4, "{t:?}");
    assert_eq!(t.deopts, DEOPT_LIMIT, "{t:?}");
}

#[test]
fn uncaught_error_report_is_identical() {
    let p = build(
        r#"
def inner(xs: [int], i: int) -> int:
    return xs[i] + 1

def outer(n: int) -> int:
    return inner([1, 2], n) * 2

def main() -> int:
    print(outer(1))
    print(outer(5))
    return 0
"#,
    );
    let (c0, o0, e0, _) = run(&p, None, false);
    for stress in [0, 1, 2] {
        let (c, o, e, _) = run(&p, Some(jit_opts(0, stress)), false);
        assert_eq!((c, &o, &e), (c0, &o0, &e0));
    }
    assert!(
        e0.contains("at inner") && e0.contains("at outer") && e0.contains("at main"),
        "{e0}"
    );
}

#[test]
fn cached_array_loops() {
    let src = r#"
def sum(a: [int], n: int) -> int:
    let s: int = 0
    for i in range(0, n):
        s = s + a[i]
    return s

def push(a: [int], n: int) -> int:
    for i in range(0, n):
        array_push(a, a[i])
    return array_len(a)

def main() -> int:
    let a: [int] = [1, 2, 3]
    try:
        print(sum(a, 3), push(a, 2))
        print(sum(a, 9))
    catch e:
        print(e)
    return 0
"#;
    let p = build(src);
    let an_of = |name: &str| analysis_of(&p, name);
    // `sum` reads its array's header once per loop entry; `push` grows its array
    // inside the loop, so it must not.
    assert_eq!(an_of("sum").cached.len(), 1);
    assert!(an_of("push").cached.is_empty());
    assert_eq!(
        same_everywhere(src),
        "6 5\narray index out of bounds: index 5, length 5\n"
    );
    // A null array in a cached loop: length 0 in the pre-header, so the access
    // side-exits and the VM raises `null reference`. (Source programs cannot make
    // a null array; patch the literal into a null constant.)
    let mut p = build(src);
    let main = p.functions.iter().position(|f| f.name == "main").unwrap();
    let code = &mut p.functions[main].code;
    let at = code
        .iter()
        .position(|i| matches!(i, crate::bytecode::Instr::NewArray { .. }))
        .unwrap();
    if let crate::bytecode::Instr::NewArray { dst, .. } = code[at] {
        code[at] = crate::bytecode::Instr::LoadNull { dst };
    }
    assert_eq!(same_everywhere_prog(&p), "null reference\n");
}

#[test]
fn liveness_of_a_loop() {
    let p = build(
        r#"
def f(n: int) -> int:
    let s: int = 0
    let i: int = 0
    while i < n:
        s = s + i
        i = i + 1
    return s

def main() -> int:
    return f(3)
"#,
    );
    let fid = p.functions.iter().position(|f| f.name == "f").unwrap();
    let f = &p.functions[fid];
    let an = analyze(&p, f, false);
    assert_eq!(an.headers.len(), 1);
    let h = an.headers[0] as usize;
    // At the loop header n, s and i are live.
    let live: Vec<u8> = an.live_in[h].iter().collect();
    assert_eq!(live.len(), 3, "{live:?}\n{:?}", f.code);
    assert!(an.live_in[0].contains(0));
    let mut none = RegSet::default();
    none.insert(1);
    none.remove(1);
    assert_eq!(none, RegSet::default());
}

/// Every `.bp` program under tests/programs that compiles.
fn test_programs() -> Vec<(PathBuf, Program)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "modules_lib") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "bp") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("programs");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "test programs not found under {}",
        root.display()
    );
    files
        .into_iter()
        .filter_map(|path| {
            let c = crate::driver::compile_file(&path, crate::driver::Stop::Bytecode);
            c.program.map(|p| (path, p))
        })
        .collect()
}

#[test]
fn every_test_program_compiles_at_threshold_zero() {
    let mut functions = 0;
    for (path, p) in test_programs() {
        let mut vm = Vm::new(
            &p,
            VmOptions {
                tier: Some(jit_opts(0, 0).factory()),
                ..Default::default()
            },
        );
        vm.tier_start();
        let t = super::totals(&vm).unwrap_or_default();
        assert_eq!(
            t.failed,
            0,
            "{}: {}",
            path.display(),
            tier_ref(&vm).map(|t| t.policy().report(&p)).unwrap_or_default()
        );
        assert_eq!(t.compiled as usize, p.functions.len(), "{}", path.display());
        functions += p.functions.len();
    }
    assert!(functions > 100);
}

/// `bp jit-ir`'s placeholder addresses stand for distinct structures and helpers,
/// so they must differ (two of them once shared an address). The pattern lists
/// every field, so a new address must be added here.
#[test]
fn placeholder_addresses_are_distinct() {
    let crate::jit::translate::Addrs {
        check_stack: _,
        entry,
        tramp,
        fn_info,
        h_resume,
        h_catch,
        h_throw,
        h_raise,
        h_propagate,
        h_op,
        h_overflow,
        h_overflow_at,
        h_fmod,
        h_eq_ref,
        h_bad_reentry,
        h_builtin,
        h_new,
        h_obj,
        h_map_set,
        h_barrier,
        zero_obj,
        short_strs,
    } = crate::jit::placeholder_addrs();
    let addrs = [
        entry,
        tramp,
        fn_info,
        h_resume,
        h_catch,
        h_throw,
        h_raise,
        h_propagate,
        h_op,
        h_overflow,
        h_overflow_at,
        h_fmod,
        h_eq_ref,
        h_bad_reentry,
        h_builtin,
        h_new,
        h_obj,
        h_map_set,
        h_barrier,
        zero_obj,
        short_strs,
    ];
    for (i, a) in addrs.iter().enumerate() {
        assert!(
            !addrs[..i].contains(a),
            "placeholder address {a:#x} is used twice"
        );
    }
}

#[test]
fn every_test_program_compiles_for_aarch64() {
    let isas = isas_for("aarch64").expect("the arm64 backend is built in");
    assert_eq!(isas.optimizing.triple().architecture.to_string(), "aarch64");
    let mut functions = 0;
    for (path, p) in test_programs() {
        for f in compile_all(&p, &isas, false, 1, &offsets()) {
            if let Err(e) = &f.result {
                panic!("{}: fn {} {}: {e}\n{}", path.display(), f.fid, f.name, f.ir);
            }
            functions += 1;
        }
    }
    assert!(functions > 100);
}

#[test]
#[ignore]
fn compile_speed() {
    let isas = crate::jit::host_isas().unwrap();
    let progs = test_programs();
    for round in 0..3 {
        let t0 = std::time::Instant::now();
        let mut n = 0;
        let mut bytes = 0;
        for (_, p) in &progs {
            for f in compile_all(p, &isas, false, 0, &offsets()) {
                n += 1;
                bytes += f.result.unwrap_or(0);
            }
        }
        let dt = t0.elapsed();
        eprintln!(
            "round {round}: {n} functions, {bytes} bytes, {:?} per function",
            dt / n as u32
        );
    }
}

#[test]
fn frame_records_are_whole_words() {
    assert_eq!(offsets().frame_size % 8, 0);
}

/// Whether the compiled code of function `name` of `p` calls through the
/// entry table (the trampoline's placeholder address appears in every such
/// call): false when all its calls were inlined. It must compile.
fn makes_calls(p: &Program, name: &str) -> bool {
    let isas = crate::jit::host_isas().expect("a host ISA");
    let tramp = format!("{:#x}", crate::jit::placeholder_addrs().tramp).replace("0x4800", "0x4800_");
    let f = compile_all(p, &isas, false, 0, &offsets())
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no function {name}"));
    assert!(f.result.is_ok(), "{name}: {:?}", f.result);
    f.ir.contains(&tramp)
}

/// Calls of short straight-line callees (a leaf function, a method reading a
/// field) are translated as the callee's body: the caller's IR has no call
/// through the entry table (the trampoline's placeholder address appears in
/// every such call). A callee with a loop, or one that calls, stays a call.
#[test]
fn small_callees_are_inlined() {
    let src = "\
class P:
    x: int
    def __init__(self, x: int) -> void:
        self.x = x
    def get(self) -> int:
        return self.x + 1

def leaf(i: int, j: int) -> float:
    let ij: int = i + j
    return 1.0 / int_to_float(ij * (ij + 1) / 2 + i + 1)

def looping(n: int) -> int:
    let t: int = 0
    for i in range(0, n):
        t = t + i
    return t

def calls_leaf(n: int) -> float:
    let s: float = 0.0
    for i in range(0, n):
        s = s + leaf(i, n)
    return s

def calls_method(p: P, n: int) -> int:
    let s: int = 0
    for i in range(0, n):
        s = s + p.get()
    return s

def calls_looping(n: int) -> int:
    return looping(n) + 1

def main() -> int:
    print(calls_leaf(10), calls_method(new P(3), 10), calls_looping(10))
    return 0
";
    let p = build(src);
    assert!(
        makes_calls(&p, "calls_looping"),
        "the call of `looping` stays a call"
    );
    assert!(!makes_calls(&p, "calls_leaf"), "`leaf` is inlined");
    assert!(!makes_calls(&p, "calls_method"), "`P.get` is inlined");
    assert_eq!(same_everywhere(src), "0.0962222 40 46\n");
}

/// Short callees with forward branches are inlined whole
/// (`inlining::branching`): early returns, paths that merge, float compares; the caller's IR makes no call of them. A callee with a loop, one
/// whose paths together are too long, and one that reads a register not
/// written on every path to it stay calls or are not accepted.
#[test]
fn branching_callees_are_inlined() {
    use crate::jit::inlining::branching;
    let src = "\
def wrap(i: int, n: int) -> int:
    if i < 0:
        return i + n
    if i >= n:
        return i - n
    return i

def pick(a: int, b: int) -> int:
    let r: int = 0
    if a > b:
        r = a
    else:
        r = b
    return r * 2

def bigger(a: float, b: float) -> float:
    if not (a <= b):
        return a
    return b

def looping(n: int) -> int:
    let t: int = 0
    while t < n:
        t = t + 3
    return t

def long_tail(a: int, b: int, c: int, d: int) -> int:
    let x: int = 0
    if a > 0:
        x = x + 1
    if b > 0:
        x = x + 2
    if c > 0:
        x = x + 3
    if d > 0:
        x = x + 4
    let y: int = x * x + x * 3 - 7
    let z: int = y * y + y * 5 - x
    let w: int = z * 3 + y * 2 + x
    return w * w + z

def uses(n: int) -> int:
    let s: float = 0.0
    let w: int = 0
    for i in range(0, n):
        w = w + wrap(i - 3, n)
        w = w + pick(i % 7, 3)
        s = bigger(s, int_to_float(i % 13))
    return w + float_to_int(s)

def main() -> int:
    print(uses(200), looping(10), long_tail(1, -1, 1, -1))
    return 0
";
    let p = build(src);
    let branchy = |name: &str| {
        let f = p.functions.iter().find(|f| f.name == name).expect("the function");
        branching(&p, f, f.nparams as usize, true)
    };
    assert!(branchy("wrap"));
    assert!(branchy("pick"), "paths that merge");
    assert!(branchy("bigger"), "a float compare");
    assert!(!branchy("looping"), "a loop");
    assert!(!branchy("long_tail"), "its four merges make 16 paths");
    assert!(!makes_calls(&p, "uses"));
    assert_eq!(same_everywhere(src), "21448 12 2796126\n");
}

/// A call inside an inlined body is inlined in turn, one level deep, when
/// its callee calls and allocates nothing: the caller's IR makes no call.
#[test]
fn nested_calls_are_inlined() {
    let src = "\
def clamp_to(v: int, lo: int, hi: int) -> int:
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v

def px(g: [int], n: int, x: int, y: int) -> int:
    return g[clamp_to(y, 0, n - 1) * n + clamp_to(x, 0, n - 1)]

def sum_around(g: [int], n: int) -> int:
    let s: int = 0
    for i in range(0, n * n):
        s = s + px(g, n, i % n - 1, i / n + 1)
    return s

def main() -> int:
    let g: [int] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    print(sum_around(g, 3))
    return 0
";
    let p = build(src);
    assert!(!makes_calls(&p, "sum_around"));
    assert_eq!(same_everywhere(src), "57\n");
}

/// Accessors that read array elements are inlined: the caller's IR makes no
/// call of them, and every mode agrees, with negative indices and a
/// callee that branches on what it read.
#[test]
fn array_readers_are_inlined() {
    use crate::jit::inlining::inlinable;
    let src = "\
def at(xs: [int], i: int) -> int:
    return xs[i]

def cell(g: [[float]], x: int, y: int) -> float:
    if g[y][x] < 0.0:
        return 0.0
    return g[y][x]

def uses(xs: [int], g: [[float]], n: int) -> float:
    let s: float = 0.0
    for i in range(0, n):
        s = s + int_to_float(at(xs, i % 7 - 3)) + cell(g, i % 3, i % 2)
    return s

def main() -> int:
    let xs: [int] = [1, 2, 3, 4, 5, 6, 7]
    let g: [[float]] = [[1.5, -2.0, 3.0], [4.0, 5.0, -6.0]]
    print(uses(xs, g, 100))
    return 0
";
    let p = build(src);
    for name in ["at", "cell"] {
        let f = p.functions.iter().find(|f| f.name == name).expect("the function");
        assert!(inlinable(&p, f, f.nparams as usize), "{name}");
    }
    assert!(!makes_calls(&p, "uses"));
    assert_eq!(same_everywhere(src), "632.5\n");
}

/// The structs of the tests of structs never allocated and kept as fields
/// (a literal, for `concat!`).
/// Function `name` of `p`, its analysis (speculating) and the pcs at which
/// `flag` holds in it.
fn flagged_pcs<'p>(
    p: &'p Program,
    name: &str,
    flag: impl Fn(&crate::jit::analysis::Analysis, usize) -> bool,
) -> (
    &'p crate::bytecode::Function,
    crate::jit::analysis::Analysis,
    Vec<usize>,
) {
    let f = p.functions.iter().find(|f| f.name == name).expect("the function");
    let an = analyze(p, f, true);
    let pcs = (0..f.code.len()).filter(|&pc| flag(&an, pc)).collect();
    (f, an, pcs)
}

macro_rules! vec2_and_named {
    () => {
        "\
struct Vec2:
    x: float
    y: float

struct Named:
    v: float
    name: str

"
    };
}

/// Structs never allocated (`analysis::virtual_structs`): the result of an
/// inlined call that makes a struct of scalars, read only by the fields of
/// the next inlined call and dead after it. Not when the struct is used
/// again, kept by the reader, has a reference field, is read by anything
/// but the next instruction, or a handler covers the calls.
#[test]
fn virtual_structs_are_found() {
    let src = concat!(
        vec2_and_named!(),
        "\
def add(a: Vec2, b: Vec2) -> Vec2:
    return Vec2{x: a.x + b.x, y: a.y + b.y}

def scale(a: Vec2, k: float) -> Vec2:
    return Vec2{x: a.x * k, y: a.y * k}

def first(a: Vec2, b: Vec2) -> Vec2:
    return a

def named(v: float) -> Named:
    return Named{v: v, name: \"n\"}

def half(x: float) -> float:
    return x * 0.5

def add_half(a: Vec2, b: Vec2) -> Vec2:
    return Vec2{x: a.x + half(b.x), y: a.y + b.y}

def value(n: Named) -> float:
    return n.v

def sums(v: Vec2, g: Vec2) -> float:
    let a: Vec2 = add(v, scale(g, 0.5))
    let t: Vec2 = scale(g, 2.0)
    let b: Vec2 = add(v, t)
    let c: Vec2 = first(scale(g, 3.0), v)
    let d: float = value(named(1.5)) + add_half(v, scale(g, 5.0)).y
    let e: float = 0.0
    try:
        e = add(v, scale(g, 4.0)).x
    catch err:
        e = -1.0
    return a.x + b.x + t.y + c.x + d + e

def main() -> int:
    print(sums(Vec2{x: 1.0, y: 2.0}, Vec2{x: 0.5, y: 0.25}))
    return 0
"
    );
    let p = build(src);
    let (f, an, virtual_pcs) = flagged_pcs(&p, "sums", |an, pc| an.virtual_struct[pc]);
    // Only the first `scale`: `t` is read again, `first` keeps its argument,
    // `Named` holds a string, `add_half` calls, and a handler covers the last
    // two calls.
    assert_eq!(virtual_pcs.len(), 1, "{virtual_pcs:?}\n{:?}", f.code);
    let pc0 = virtual_pcs[0];
    assert_eq!(an.rewind_exit[pc0 + 1], Some(pc0 as u32));
    assert_eq!(an.rewind_exit.iter().flatten().count(), 1);
    assert_eq!(same_everywhere(src), "13\n");
}

/// A struct that an inlined call makes and the caller only reads field by
/// field before the register dies is found (`Analysis::struct_read_apart`);
/// one read after a call, passed on, kept in an array, read in another block
/// or holding a string is not. Every mode prints the same.
#[test]
fn structs_read_apart_are_found() {
    let src = concat!(
        vec2_and_named!(),
        "\
def mid(a: Vec2, b: Vec2) -> Vec2:
    return Vec2{x: (a.x + b.x) * 0.5, y: (a.y + b.y) * 0.5}

def named(v: float) -> Named:
    return Named{v: v, name: \"n\"}

def norm(v: Vec2) -> float:
    return v.x * v.x + v.y * v.y

def apart(a: Vec2, b: Vec2, keep: [Vec2], flag: bool) -> float:
    let m: Vec2 = mid(a, b)
    let s: float = m.x * 2.0 - m.y
    let n: Vec2 = mid(b, a)
    let t: float = norm(n) + n.x
    let o: Vec2 = mid(a, a)
    array_push(keep, o)
    let q: Vec2 = mid(b, b)
    let u: float = q.x
    if flag:
        u = u + q.y
    let w: float = named(1.5).v
    return s + t + u + w + o.y

def main() -> int:
    let keep: [Vec2] = []
    let total: float = 0.0
    for i in range(0, 300):
        let a: Vec2 = Vec2{x: int_to_float(i), y: 1.0}
        total = total + apart(a, Vec2{x: 0.5, y: int_to_float(i % 7)}, keep, i % 2 == 0)
    print(float_to_int(total * 1000.0), array_len(keep))
    return 0
"
    );
    let p = build(src);
    let (f, _, found) = flagged_pcs(&p, "apart", |an, pc| an.struct_read_apart[pc]);
    // Only `m`: `n` goes to `norm`, `o` into the array, `q` is read again
    // after a branch, and `Named` holds a string.
    assert_eq!(found.len(), 1, "{found:?}\n{:?}", f.code);
    assert!(matches!(
        f.code[found[0] + 1],
        crate::bytecode::Instr::GetField { .. }
    ));
    assert_eq!(same_everywhere(src), "2319735000 300\n");
}

/// An array literal that an inlined call returns and the caller only reads
/// at constant indices within it, before the register dies, is found
/// (`Analysis::array_read_apart`); one read past the literal, at a negative
/// or a computed index, stored into, pushed or read after a branch is not.
#[test]
fn arrays_read_apart_are_found() {
    let src = "\
def trio(i: int) -> [int]:
    return [i, i * 2, i % 5]

def apart(i: int, keep: [[int]], flag: bool) -> int:
    let t: [int] = trio(i)
    let s: int = t[2] * 3 - t[0]
    let u: [int] = trio(i)
    let v: int = u[1 + i % 2]
    let w: [int] = trio(i)
    w[1] = 7
    let x: [int] = trio(i)
    array_push(keep, x)
    let y: [int] = trio(i)
    let z: int = y[-1]
    let q: [int] = trio(i)
    let o: int = q[0]
    if flag:
        o = o + q[1]
    return s + v + w[1] + z + o

def main() -> int:
    let keep: [[int]] = []
    let total: int = 0
    for i in range(0, 300):
        total = total + apart(i, keep, i % 2 == 0)
    print(total, array_len(keep))
    return 0
";
    let p = build(src);
    let (f, _, found) = flagged_pcs(&p, "apart", |an, pc| an.array_read_apart[pc]);
    assert_eq!(found.len(), 1, "{found:?}\n{:?}", f.code);
    assert!(
        matches!(
            f.code[found[0] + 1],
            crate::bytecode::Instr::LoadInt { imm: 2, .. }
        ),
        "{:?}",
        f.code
    );
    assert_eq!(same_everywhere(src), "94200 300\n");
}

/// A register that is an int loop counter in one loop and a float sum in the
/// next has two webs, and the sum's is a float one: the loop headers where
/// the VM may enter (OSR) give each register a value of its own there,
/// instead of joining every web of the register through its value on entry.
#[test]
fn a_reused_register_gets_a_float_web() {
    let src = "\
def main() -> int:
    let xs: [float] = []
    for i in range(0, 100):
        array_push(xs, int_to_float(i % 7))
    let acc: float = 0.0
    for r in range(0, 10):
        for i in range(0, 99):
            acc = acc + xs[i] - xs[i + 1]
    print(acc)
    return 0
";
    let p = build(src);
    let (f, an, _) = flagged_pcs(&p, "main", |_, _| false);
    let sub = (0..f.code.len())
        .find(|&pc| matches!(f.code[pc], crate::bytecode::Instr::SubF { .. }))
        .expect("the sum");
    let crate::bytecode::Instr::SubF { dst, .. } = f.code[sub] else {
        unreachable!()
    };
    let web = an.webs.def_at(sub as u32, dst, &an.ops[sub]) as usize;
    assert!(an.webs.is_float[web], "{:?}", f.code);
    assert_eq!(same_everywhere(src), "-10\n");
}

/// Early returns (partial inlining): a callee that begins by comparing its
/// parameters has the straight path to its early `Ret` found on either side of
/// the branch; a callee whose early path calls, or that begins with anything
/// but such a compare, has none.
#[test]
fn early_returns_are_found() {
    use crate::jit::inlining::{early_return, EarlyReturn};
    let src = "\
def fib(n: int) -> int:
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def halve(n: int) -> int:
    if n > 1000:
        return halve(n / 2) + 1
    return n * 3

def both_call(n: int) -> int:
    if n < 2:
        return fib(n)
    return fib(n - 1)

def starts_with_math(n: int) -> int:
    let m: int = n / 2
    if m < 2:
        return m
    return starts_with_math(m - 1)

struct Tree:
    kids: [Tree]

class Node:
    left: Node?
    right: Node?

def count(t: Tree) -> int:
    if array_len(t.kids) == 0:
        return 1
    return 1 + count(t.kids[0]) + count(t.kids[1])

def walk(n: Node) -> int:
    let l: Node? = n.left
    if l == null:
        return 1
    return 1 + walk(l)

def leaf_or_tree(d: int) -> Tree:
    if d == 0:
        return Tree{kids: []}
    return Tree{kids: [leaf_or_tree(d - 1), leaf_or_tree(d - 1)]}

struct Sized:
    kids: [Sized]
    n: int

def sized(d: int) -> Sized:
    if d == 0:
        return Sized{kids: [], n: d + 1}
    return sized(d - 1)

def two_leaves(d: int) -> Tree:
    if d == 0:
        let a: Tree = Tree{kids: []}
        let b: Tree = Tree{kids: []}
        return Tree{kids: [a, b]}
    return two_leaves(d - 1)

def field_then_new(t: Tree, d: int) -> Tree:
    let k: [Tree] = t.kids
    if d == 0:
        return Tree{kids: []}
    return field_then_new(t, d - 1)

def long_prefix(n: int) -> int:
    let a: int = n + 1
    let b: int = a * 2
    let c: int = b - 3
    let d: int = c + a
    let e: int = d * b
    if e < 100:
        return e
    return long_prefix(n - 1)

def main() -> int:
    let leaf: Tree = Tree{kids: []}
    let chain: Node = new Node()
    chain.left = new Node()
    print(fib(10), halve(5000), both_call(5), starts_with_math(9))
    print(count(Tree{kids: [leaf, Tree{kids: [leaf, leaf]}]}), walk(chain), long_prefix(3))
    print(count(leaf_or_tree(3)), count(two_leaves(2)), count(field_then_new(leaf, 2)), sized(2).n)
    return 0
";
    let p = build(src);
    let er = |name: &str| {
        let f = p.functions.iter().find(|f| f.name == name).expect("the function");
        early_return(&p, f, f.nparams as usize)
    };
    assert_eq!(
        er("fib"),
        Some(EarlyReturn {
            branch: 0,
            on_jump: false,
            start: 1,
            len: 1
        })
    );
    // What the compare reads is computed first (a field, a length, a test
    // for null, arithmetic), within `MAX_EARLY_PREFIX` instructions.
    let prefixed = |branch: u32, len: usize| {
        Some(EarlyReturn {
            branch,
            on_jump: false,
            start: branch + 1,
            len,
        })
    };
    assert_eq!(er("starts_with_math"), prefixed(1, 2));
    assert_eq!(er("count"), prefixed(2, 4));
    assert_eq!(er("walk"), prefixed(2, 4));
    assert_eq!(er("long_prefix"), None);
    // A path may end by allocating what it returns, in a chain where each
    // new object is an operand of the next or returned, and no reference but
    // the parameters was written before (`allocation_chain`).
    assert_eq!(er("leaf_or_tree"), prefixed(0, 3));
    assert_eq!(
        er("sized"),
        prefixed(0, 4),
        "scalars computed between allocations"
    );
    assert_eq!(
        er("two_leaves"),
        None,
        "a new object held across another allocation"
    );
    assert_eq!(
        er("field_then_new"),
        None,
        "a loaded reference held across an allocation"
    );
    assert!(matches!(
        er("halve"),
        Some(EarlyReturn {
            on_jump: true,
            len: 2,
            ..
        })
    ));
    assert_eq!(er("both_call"), None);
    assert_eq!(same_everywhere(src), "55 1878 3 1\n5 2 72\n15 3 1 1\n");
}

/// Initializers: a `void` callee that only stores parameters and constants into
/// fields of its parameters is inlined (its checks before its stores), also into
/// another parameter's fields; one that reads a field or calls is not. A
/// constant register reused between two stores keeps each store's own value.
#[test]
fn initializers_are_found() {
    use crate::jit::inlining::initializer;
    let src = "\
class C:
    a: int
    b: int
    next: C?

    def __init__(self, a: int) -> void:
        self.a = 0
        self.b = -1
        self.a = a

    def bump(self) -> void:
        self.a = self.a + 1

    def link(self, other: C) -> void:
        other.next = self

    def log(self) -> void:
        self.b = 7
        print(self.a)

def main() -> int:
    let x: C = new C(5)
    let y: C = new C(6)
    x.bump()
    y.link(x)
    x.log()
    print(x.a, x.b, y.b)
    return 0
";
    let p = build(src);
    let init = |name: &str| {
        let f = p.functions.iter().find(|f| f.name == name).expect("the function");
        initializer(&p, f, f.nparams as usize)
    };
    assert!(init("C.__init__"));
    // A field read before the store: the store is made after it.
    assert!(init("C.bump"));
    assert!(init("C.link"));
    assert!(!init("C.log"));
    assert!(!init("main"));
    assert_eq!(same_everywhere(src), "6\n6 7 -1\n");
}

/// Updaters: a `void` callee with branches that reads and writes fields of
/// its parameters and computes without guards is inlined with the checks of
/// those parameters before its body; one that divides by an int (a guard),
/// writes a global, calls, loops or writes over a parameter is not.
#[test]
fn updaters_are_found() {
    use crate::jit::inlining::{slot_checks, updater, SlotCheck, Slots};
    let src = "\
let g: int = 0

class C:
    a: int
    b: float
    c: int

    def __init__(self) -> void:
        self.a = 0
        self.b = 0.0
        self.c = 0

    def step(self, dt: float) -> void:
        self.b = self.b + dt
        if self.b > 1.0:
            self.b = self.b - 1.0
            self.c = self.c + 1
        elif self.a < 0 or self.b < 0.5:
            self.a = max(self.a, 3)

    def split(self, o: C, d: int) -> void:
        if d != 0:
            o.a = self.a / d

    def global_too(self) -> void:
        if self.a > 0:
            g = g + 1
        self.a = 0

    def loops(self) -> void:
        while self.a < 10:
            self.a = self.a + 1

    def rebinds(self, o: C) -> void:
        o.a = 1
        o = self
        o.a = 2

def main() -> int:
    let x: C = new C()
    let y: C = new C()
    for i in range(0, 3):
        x.step(0.4)
    x.split(y, 2)
    x.global_too()
    x.loops()
    x.rebinds(y)
    print(x.a, x.b, x.c, y.a, g)
    return 0
";
    let p = build(src);
    let func = |name: &str| p.functions.iter().find(|f| f.name == name).expect("the function");
    let upd = |name: &str| updater(&p, func(name), func(name).nparams as usize);
    assert!(upd("C.step"));
    let fields = SlotCheck {
        reg: 0,
        slots: Slots::Fields,
        count: 3,
        capture: None,
    };
    assert_eq!(slot_checks(&p, func("C.step"), 2), Some(vec![fields]));
    assert!(!upd("C.split"));
    assert!(!upd("C.global_too"));
    assert!(!upd("C.loops"));
    assert!(!upd("C.rebinds"));
    assert!(!upd("main"));
    // The call in the loop is planned inlined.
    let main = func("main");
    let plan = crate::jit::inlining::plan(&p, main, true);
    let step = p
        .functions
        .iter()
        .position(|f| f.name == "C.step")
        .expect("C.step") as u32;
    let calls_step = |&(pc, ins): &(usize, &crate::bytecode::Instr)| match *ins {
        crate::bytecode::Instr::Call { site, .. } => {
            main.sites[site as usize].target == step && plan.inlined[pc]
        }
        _ => false,
    };
    assert!(main.code.iter().enumerate().any(|pi| calls_step(&pi)));
    assert_eq!(same_everywhere(src), "2 0.2 1 1 1\n");
}

/// Bounds checks hoisted into counted loops' pre-headers: matmul's three
/// accesses in the inner loop (`c[out + j]` twice, `b[row + j]`) and `a[i]`
/// are hoisted; an index the loop writes (`a[k]` with `k` assigned in the
/// body) and a loop that assigns its own counter are not. A failing hoisted
/// check leaves the loop to the interpreter, which raises where it must.
#[test]
fn bounds_checks_hoisted_in_counted_loops() {
    let src = r#"
def matmul(a: [float], b: [float], n: int) -> [float]:
    let c: [float] = array_fill(n * n, 0.0)
    for i in range(0, n):
        for k in range(0, n):
            let aik: float = a[i * n + k]
            let row: int = k * n
            let out: int = i * n
            for j in range(0, n):
                c[out + j] = c[out + j] + aik * b[row + j]
    return c

def plain(a: [int], n: int) -> int:
    let s: int = 0
    for i in range(0, n):
        s = s + a[i]
    return s

def written(a: [int], n: int) -> int:
    let s: int = 0
    let k: int = 0
    for i in range(0, n):
        s = s + a[k]
        k = k + 2
    return s

def main() -> int:
    let m: [float] = array_fill(9, 1.5)
    let c: [float] = matmul(m, m, 3)
    print(c[0], c[8])
    let a: [int] = [1, 2, 3, 4, 5, 6]
    print(plain(a, 6), written(a, 3))
    try:
        print(plain(a, 7))
    catch e:
        print(e)
    return 0
"#;
    let p = build(src);
    let hoisted = |name: &str| {
        let f = p.functions.iter().find(|f| f.name == name).unwrap();
        analyze(&p, f, false).hoisted.iter().filter(|&&h| h).count()
    };
    assert_eq!(hoisted("matmul"), 3);
    assert_eq!(hoisted("plain"), 1);
    assert_eq!(hoisted("written"), 0);
    assert_eq!(
        same_everywhere(src),
        "6.75 6.75\n21 9\narray index out of bounds: index 6, length 6\n"
    );
}

/// Only functions with loops go through Cranelift's optimizer (`jit::optimize`):
/// the bytecode's loop count decides, and `for` and `while` both count.
#[test]
fn only_functions_with_loops_are_optimized() {
    let p = build(
        "\
def straight(x: int) -> int:
    if x > 3:
        return x * 2
    return x + 1

def counted(n: int) -> int:
    let t: int = 0
    for i in range(0, n):
        t = t + i
    return t

def waiting(n: int) -> int:
    while n > 1:
        n = n / 2
    return n

def main() -> int:
    print(straight(2), counted(4), waiting(9))
    return 0
",
    );
    let empty = cranelift_codegen::ir::Function::new();
    let optimized = |name: &str| {
        let f = p.functions.iter().find(|f| f.name == name).expect("a function");
        crate::jit::optimize(f.num_loops, &empty)
    };
    assert!(!optimized("straight"));
    assert!(optimized("counted"));
    assert!(optimized("waiting"));
}

/// The compile worker compiles what gets hot (by calls and by a loop) while the
/// program goes on interpreting: the results match the interpreter's, and the
/// end of a run with statistics waits for the functions still queued.
#[test]
fn background_compilation_compiles_hot_functions_off_the_program_thread() {
    let p = build(
        r#"
def step(x: int) -> int:
    return (x * 31 + 7) % 1000003

def main() -> int:
    let acc: int = 1
    for i in range(0, 20000):
        acc = step(acc)
    print(acc)
    return 0
"#,
    );
    let (c0, o0, _, _) = run(&p, None, false);
    for _ in 0..3 {
        // With the statistics, whose report at the end of the run waits for
        // the worker's queue (`Tier::finish`).
        let opts = JitOptions {
            stats: true,
            ..background_opts(100)
        };
        let mut vm = Vm::new(
            &p,
            VmOptions {
                tier: Some(opts.factory()),
                ..Default::default()
            },
        );
        vm.capture = true;
        let code = vm.run_program();
        vm.tier_finish();
        let t = super::totals(&vm).unwrap_or_default();
        let out = String::from_utf8_lossy(&vm.take_output()).into_owned();
        assert_eq!((code, &out), (c0, &o0), "{}", vm.err);
        assert_eq!((t.compiled, t.failed), (2, 0), "{t:?}");
        assert!(vm.err.contains("fn 0 step: compiled"), "{}", vm.err);
    }
}

/// A run that ends while functions are queued or being compiled stops the
/// worker (it drops the queue, finishes the compilation in progress, and is
/// joined before the program it reads is freed).
#[test]
fn background_compilation_stops_with_the_run() {
    let p = build(
        r#"
def a(x: int) -> int:
    return x + 1

def b(x: int) -> int:
    return x * 2

def main() -> int:
    let s: int = 0
    for i in range(0, 40):
        s = b(a(s)) % 1000
    print(s)
    return 0
"#,
    );
    let (c0, o0, _, _) = run(&p, None, false);
    for _ in 0..5 {
        let (c, o, e, t) = run(&p, Some(background_opts(30)), false);
        assert_eq!((c, &o), (c0, &o0), "{e}");
        assert_eq!(t.failed, 0, "{t:?}");
    }
}

/// A pair returned by an inlined callee and taken apart right away is never
/// allocated (`Analysis::virtual_tuple`, with the reads in `virtual_read`); a
/// pair that is kept, or read after something that can raise, is.
#[test]
fn tuples_taken_apart_at_once_are_virtual() {
    let src = r#"
def divmod(a: int, b: int) -> (int, int):
    return (a / b, a % b)

def apart(x: int) -> int:
    let t: (int, int) = divmod(x, 7)
    return t[0] * 3 + t[1]

def kept(x: int) -> (int, int):
    let t: (int, int) = divmod(x, 7)
    print(t[0])
    return t

def late(x: int, y: int) -> int:
    let t: (int, int) = divmod(x, 7)
    let q: int = t[0] / y
    return q + t[1]

def main() -> int:
    print(apart(10), kept(20), late(30, 2))
    return 0
"#;
    let p = build(src);
    let an_of = |name: &str| analysis_of(&p, name);
    let apart = an_of("apart");
    assert_eq!(apart.virtual_tuple.iter().filter(|&&v| v).count(), 1);
    assert_eq!(apart.virtual_read.iter().filter(|&&v| v).count(), 2);
    for name in ["kept", "late"] {
        assert!(!an_of(name).virtual_tuple.iter().any(|&v| v), "{name}");
    }
    assert_eq!(same_everywhere(src), "2\n6 (2, 6) 4\n");
}

/// The analysis of function `name` of `p`, for a version after the first.
fn analysis_of(p: &crate::bytecode::Program, name: &str) -> crate::jit::analysis::Analysis {
    let f = p.functions.iter().find(|f| f.name == name).unwrap();
    analyze(p, f, false)
}

/// Updaters of arrays: a closure keeping its state in a captured array at
/// constant indices, or a function updating an array parameter, is
/// inlined with the closure and the arrays checked before the body; an
/// index that is not a constant on its path, a reference stored into an
/// array, or an array read from a field is not.
#[test]
fn array_updaters_are_found() {
    use crate::jit::inlining::{slot_checks, updater, SlotCheck, Slots};
    let src = "\
class Box:
    items: [int]

    def __init__(self) -> void:
        self.items = [0]

def make_counter(step: int) -> fn() -> int:
    let state: [int] = [0, 0]
    def next() -> int:
        state[0] = state[0] + step
        if state[0] > 10:
            state[1] = 1
        return state[0]
    return next

def at(xs: [int], i: int) -> void:
    xs[i] = 1

def refs(xs: [str]) -> void:
    xs[0] = \"a\"

def field(b: Box) -> void:
    b.items[0] = 2

def main() -> int:
    let c: fn() -> int = make_counter(3)
    let xs: [int] = [0, 0]
    let ss: [str] = [\"\"]
    let b: Box = new Box()
    at(xs, 1)
    refs(ss)
    field(b)
    print(c(), c(), xs[1], ss[0], b.items[0])
    return 0
";
    let p = build(src);
    let func = |name: &str| p.functions.iter().find(|f| f.name == name).expect("the function");
    let upd = |name: &str| updater(&p, func(name), func(name).nparams as usize);
    assert!(upd("next"));
    let checks = slot_checks(&p, func("next"), 0).expect("checks");
    let slots: Vec<(Slots, u32)> = checks.iter().map(|c: &SlotCheck| (c.slots, c.count)).collect();
    assert_eq!(slots, [(Slots::Captures, 2), (Slots::Elements, 2)]);
    assert_eq!(checks[1].capture, Some((0, 0)));
    assert!(!upd("at"));
    assert!(!upd("refs"));
    assert!(!upd("field"));
    assert_eq!(same_everywhere(src), "3 6 1 a 2\n");
}

/// A loop that gets hot asks for the entries of the loops after it too (the
/// code may arrive after it has ended), not of the loops around it or
/// before it.
#[test]
fn a_hot_loop_asks_for_the_loops_after_it() {
    use crate::jit::abi::osr_bit;
    let p = build(
        "\
def main() -> int:
    let t: int = 0
    for i in range(0, 10):
        t = t + i
    for j in range(0, 10):
        for k in range(0, 10):
            t = t + k
        t = t + j
    let n: int = 0
    while n < 5:
        n = n + 1
    print(t + n)
    return 0
",
    );
    let f = p.functions.iter().find(|f| f.name == "main").expect("main");
    let mut ids: Vec<(u32, usize)> = f
        .code
        .iter()
        .filter_map(|i| Some((i.jump_target()?, i.loop_id()?)))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let [first, outer, inner, last] = ids[..] else {
        panic!("four loops: {ids:?}");
    };
    let bits = |l: &[(u32, usize)]| l.iter().fold(0, |b, &(_, id)| b | osr_bit(id));
    assert_eq!(super::loops_after(f, first.1), bits(&[outer, inner, last]));
    assert_eq!(super::loops_after(f, inner.1), bits(&[last]));
    assert_eq!(super::loops_after(f, outer.1), bits(&[last]));
    assert_eq!(super::loops_after(f, last.1), 0);
}

/// A version asked for another loop's entry that cannot be compiled (more
/// entries, more IR: over the size budget) leaves the function compiled with
/// the code it has, and no more entries are asked for.
#[test]
fn a_version_for_an_entry_that_fails_keeps_the_code_in_use() {
    use super::policy::Policy;
    use crate::jit::{abi::osr_bit, TransError};
    use std::time::Duration;
    let mut p = Policy::new(1, false);
    assert!(p.claim_for_queue(0, Some(osr_bit(0))));
    assert!(p.compiled(0, Ok(()), Duration::ZERO));
    p.finalized(vec![(0, Ok(64))]);
    assert_eq!(p.version(0).osr_loops, osr_bit(0));
    assert!(!p.wants_compile_for_loop(0, osr_bit(0)));
    assert!(p.claim_for_queue(0, Some(osr_bit(1))));
    assert_eq!(p.version(0).osr_loops, osr_bit(0) | osr_bit(1));
    let over = Err(TransError::TooBig(
        "more than 32768 Cranelift instructions".into(),
    ));
    assert!(!p.compiled(0, over, Duration::ZERO));
    // Still compiled: its deopts count toward giving its code up.
    assert_eq!(p.note_deopt(0), super::policy::Deopt::Keep);
    assert!(!p.wants_compile_for_loop(0, osr_bit(2)));
    assert!(p.report(&Program::default()).contains("compiled versions=1"));
}

/// Which registers an innermost loop keeps as the fields of their structs
/// (`jit::sinking`): the loop-carried `v` and `p` (made), `g` and `self`
/// (only read); none in a loop that stores into a field, calls a function
/// it does not inline, or that a handler covers; not a register passed on
/// to a callee that keeps it, nor a struct with a reference field.
#[test]
fn sunk_structs_are_found() {
    use crate::jit::analysis::analyze;
    use crate::jit::sinking::Made;
    let src = concat!(
        vec2_and_named!(),
        "\
class Body:
    mass: float

    def pull(self, n: int) -> float:
        let f: float = 0.0
        for i in range(0, n):
            f = f + self.mass
        return f

def add(a: Vec2, b: Vec2) -> Vec2:
    return Vec2{x: a.x + b.x, y: a.y + b.y}

def first(a: Vec2, b: Vec2) -> Vec2:
    return a

def named(n: Named, v: float) -> Named:
    return Named{v: n.v + v, name: n.name}

def slow(n: int) -> int:
    let s: int = 0
    for i in range(0, n):
        s = s + i
    return s

def orbit(n: int) -> float:
    let p: Vec2 = Vec2{x: 0.0, y: 0.0}
    let v: Vec2 = Vec2{x: 1.0, y: 0.5}
    let g: Vec2 = Vec2{x: 0.0, y: -0.001}
    for i in range(0, n):
        v = add(v, g)
        p = add(p, v)
    return p.x

def stores(n: int) -> float:
    let v: Vec2 = Vec2{x: 1.0, y: 0.5}
    for i in range(0, n):
        v = add(v, v)
        v.x = 1.0
    return v.x

def calls(n: int) -> float:
    let v: Vec2 = Vec2{x: 1.0, y: 0.5}
    let s: int = 0
    for i in range(0, n):
        v = add(v, v)
        s = s + slow(2)
    return v.x + int_to_float(s)

def covered(n: int) -> float:
    let v: Vec2 = Vec2{x: 1.0, y: 0.5}
    for i in range(0, n):
        try:
            v = add(v, v)
        catch e:
            print(e)
    return v.x

def kept(n: int) -> float:
    let v: Vec2 = Vec2{x: 1.0, y: 0.5}
    let g: Vec2 = Vec2{x: 0.0, y: -0.001}
    for i in range(0, n):
        v = first(add(v, g), v)
    return v.x

def referring(n: int) -> float:
    let k: Named = Named{v: 1.0, name: \"k\"}
    for i in range(0, n):
        k = named(k, 0.5)
    return k.v

def main() -> int:
    print(orbit(10), stores(10), calls(10), covered(10), kept(10), referring(10))
    print(new Body().pull(10))
    return 0
"
    );
    let p = build(src);
    let kept = |name: &str| -> (usize, usize) {
        let f = p.functions.iter().find(|f| f.name == name).expect(name);
        let an = analyze(&p, f, true);
        let all: Vec<_> = an.cached.iter().flat_map(|l| l.structs.iter()).collect();
        let made = all.iter().filter(|s| matches!(s.made, Made::New { .. })).count();
        (made, all.len() - made)
    };
    assert_eq!(kept("orbit"), (2, 1));
    assert_eq!(kept("Body.pull"), (0, 1));
    // `first` keeps `v`; `g` is only read.
    assert_eq!(kept("kept"), (0, 1));
    for none in ["stores", "calls", "covered", "referring"] {
        assert_eq!(kept(none), (0, 0), "{none}");
    }
    // Not in a version that no longer speculates.
    let f = p.functions.iter().find(|f| f.name == "orbit").expect("orbit");
    assert!(analyze(&p, f, false).cached.iter().all(|l| l.structs.is_empty()));
    assert_eq!(same_everywhere(src), "10 1 1034 1024 1 6\n0\n");
}

/// The loop the JIT aligns is the innermost one: inside the most others,
/// then the shortest, then the first; a function without loops has none.
#[test]
fn the_innermost_loop_is_the_one_aligned() {
    use crate::jit::loop_align::innermost_loop;
    let p = build(
        "def setup_then_nested() -> int:\n    let a: [int] = []\n    for i in range(0, 10):\n        array_push(a, i)\n    let s: int = 0\n    for r in range(0, 3):\n        for j in range(0, 10):\n            s = s + a[j]\n    return s\n\n\
def siblings() -> int:\n    let s: int = 0\n    for i in range(0, 10):\n        s = s + i * i + i\n    for j in range(0, 10):\n        s = s + j\n    return s\n\n\
def no_loop(x: int) -> int:\n    return x + 1\n\n\
def main() -> int:\n    print(setup_then_nested() + siblings() + no_loop(1))\n    return 0\n",
    );
    let f = |name: &str| p.functions.iter().find(|f| f.name == name).expect(name);
    let headers = |name: &str| crate::jit::analysis::loop_headers(f(name));
    // Three loops; the inner one (the last to start) is inside the second.
    let nested = headers("setup_then_nested");
    assert_eq!(nested.len(), 3);
    assert_eq!(innermost_loop(f("setup_then_nested")), nested.last().copied());
    // Two loops at the same depth: the shorter, the second.
    let siblings = headers("siblings");
    assert_eq!(siblings.len(), 2);
    assert_eq!(innermost_loop(f("siblings")), Some(siblings[1]));
    assert_eq!(innermost_loop(f("no_loop")), None);
}

/// The padding before a function's code brings its loop's head to a cache
/// line, moving the code only by multiples of its constants' alignment.
#[test]
fn padding_brings_the_loop_head_to_a_line() {
    use crate::jit::loop_align::{padding_for, LOOP_ALIGNMENT};
    for step in [1, 4, 8, 16] {
        for head in 0..200 {
            let pad = padding_for(head, step);
            assert!(
                pad < LOOP_ALIGNMENT && pad.is_multiple_of(step),
                "head {head} step {step}: {pad}"
            );
            assert!(
                (head + pad) % LOOP_ALIGNMENT < step,
                "head {head} step {step}: {pad}"
            );
        }
    }
    assert_eq!(padding_for(608, 16), 32);
    assert_eq!(padding_for(640, 1), 0);
    // Constants aligned to a whole line: the code cannot move.
    assert_eq!(padding_for(5, 64), 0);
}

/// A loop calling an updater closure checks the closure and the arrays it
/// captured once, in its pre-header (`Tr::precheck_updater`): a captured
/// array too short for the body exits there, to the interpreter at the
/// loop's header, which raises only if the call is made. Compiled after its
/// calls were seen with long arrays; then run with short ones.
#[test]
fn updater_checks_before_the_loop() {
    let p = build(
        r#"
def make_tally(cells: [int]) -> fn(int) -> void:
    def tally(x: int) -> void:
        cells[0] = cells[0] + x
        cells[2] = cells[2] + 1
    return tally

def rounds(cells: [int], at: int) -> int:
    let t: fn(int) -> void = make_tally(cells)
    let done: int = 0
    for i in range(0, 20):
        if i == at:
            t(i)
        done = done + 1
    return done

def main() -> int:
    let s: int = 0
    for r in range(0, 200):
        let cells: [int] = [0, 0, 0]
        s = s + rounds(cells, r % 25) + cells[0] * 100 + cells[2]
    # Too short, never called: the loop runs to its end in the interpreter.
    for r in range(0, 50):
        s = s + rounds([0, 0], 30)
    print(s)
    # Too short and called: raised where the interpreter raises.
    let short: [int] = [7, 0]
    try:
        s = s + rounds(short, 3)
    catch e:
        print(e, short[0])
    return 0
"#,
    );
    let t = same_as_interpreter(&p, jit_opts(10, 0));
    assert_eq!(t.failed, 0, "{t:?}");
    // Every round with a short array exits in the pre-header (until the
    // code is given up for its deopts); with the checks at the call, only
    // the call that raises would exit.
    assert!(t.deopts > 1, "the pre-header's check exits: {t:?}");
    same_everywhere_prog(&p);
}

/// The heap loads in the IR of function `name` of `p` (compiled with the call
/// feedback `p` has gathered so far): `load`s tagged with the `heap` alias
/// region.
fn heap_loads(p: &Program, name: &str) -> usize {
    let isas = crate::jit::host_isas().expect("a host ISA");
    let fid = p
        .functions
        .iter()
        .position(|f| f.name == name)
        .expect("the function");
    let f = compile_all(p, &isas, false, 0, &offsets()).swap_remove(fid);
    assert!(f.result.is_ok(), "{:?}\n{}", f.result, f.ir);
    let region =
        f.ir.lines()
            .find_map(|l| {
                let l = l.trim();
                l.strip_suffix("\"heap\"")
                    .and_then(|l| l.split_whitespace().next().map(str::to_string))
            })
            .expect("a heap region");
    f.ir.lines()
        .filter(|l| l.contains(" = load") && l.split_whitespace().any(|w| w == region))
        .count()
}

/// A loop whose inlined closures keep their state in arrays they captured
/// keeps the elements they store in variables (`translate/cells.rs`): the
/// pre-header loads each once, and the inlined bodies read none. A store of
/// the loop's own into an array keeps them in memory.
#[test]
fn updater_cells_are_kept_in_variables() {
    let src = |extra: &str| {
        format!(
            r#"
def make_counter(step: int) -> fn() -> int:
    let state: [int] = [0]
    def next() -> int:
        state[0] = state[0] + step
        return state[0]
    return next

def make_adder(cells: [int]) -> fn(int) -> void:
    def add(x: int) -> void:
        cells[0] = cells[0] + x
    return add

def counted(step: int, other: [int]) -> int:
    let c: fn() -> int = make_counter(step)
    let acc: [int] = [0]
    let add: fn(int) -> void = make_adder(acc)
    for i in range(0, 40):
        add(c())
        add(c() * 2)
        add(c() * 3)
        {extra}
    return acc[0] + other[0]

def main() -> int:
    let s: int = 0
    for r in range(0, 20):
        s = s + counted(r, [0])
    print(s)
    return 0
"#
        )
    };
    let loads = |extra: &str| {
        let p = build(&src(extra));
        // (Interpreted, with a JIT that records what the calls see.)
        let (code, _, e, _) = run(&p, Some(jit_opts(1_000_000, 0)), false);
        assert_eq!(code, 0, "{e}");
        heap_loads(&p, "counted")
    };
    let kept = loads("let skip: int = 0");
    let stored = loads("other[0] = i");
    // Kept: the two cells, loaded in the pre-header. With the store, each of
    // the six calls a round reads its cell (`next` twice, `add` once): nine
    // loads in their place.
    assert!(
        kept + 7 <= stored,
        "heap loads: kept {kept}, with a store {stored}"
    );
    same_everywhere(&src("let skip: int = 0"));
    same_everywhere(&src("other[0] = i"));
}

/// The result of a call through a function value is written by the call once
/// its site has been seen calling a function that returns one
/// (`analysis::writes_result`): the result register is not live around the
/// loop, as it was while the call counted as reading it.
#[test]
fn closure_results_are_written_by_the_call() {
    let p = build(
        r#"
def total(f: fn(int) -> int, n: int) -> int:
    let s: int = 0
    for i in range(0, n):
        s = s + f(i)
    return s

def main() -> int:
    let k: int = 3
    print(total(fn(x: int) -> int: x * k, 50))
    return 0
"#,
    );
    let fid = p.functions.iter().position(|f| f.name == "total").unwrap();
    let call = p.functions[fid]
        .code
        .iter()
        .position(|i| matches!(i, crate::bytecode::Instr::CallIndirect { .. }))
        .unwrap();
    let crate::bytecode::Instr::CallIndirect { dst, .. } = p.functions[fid].code[call] else {
        unreachable!()
    };
    let live_at_header = |p: &Program| {
        let an = analyze(p, &p.functions[fid], true);
        an.live_in[an.headers[0] as usize].contains(dst)
    };
    // Before the call was seen, its result may be the register's old value.
    assert!(live_at_header(&p));
    let (code, _, e, _) = run(&p, Some(jit_opts(1_000_000, 0)), false);
    assert_eq!(code, 0, "{e}");
    assert!(!live_at_header(&p), "r{dst} is live at the loop's header");
    same_everywhere_prog(&p);
}

/// A compiled function declares only the signatures its calls use
/// (`Tr::sig`): Cranelift lowers every declared signature, used or not,
/// which was a tenth of compiling a small function while the translator
/// declared them all up front.
#[test]
fn only_the_signatures_used_are_declared() {
    let p = build(
        r#"
def add(a: int, b: int) -> int:
    return a + b

def root(x: float) -> float:
    return sin(x) + x % 3.0

def fib(n: int) -> int:
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def main() -> int:
    print(add(1, 2), root(2.0), fib(10))
    return 0
"#,
    );
    let isas = crate::jit::host_isas().expect("a host ISA");
    for f in compile_all(&p, &isas, false, 0, &offsets()) {
        assert!(f.result.is_ok(), "{}: {:?}", f.name, f.result);
        let declared: Vec<&str> =
            f.ir.lines()
                .filter_map(|l| l.trim().split_once(" = ").map(|(name, _)| name))
                .filter(|name| name.starts_with("sig"))
                .collect();
        assert!(
            !declared.is_empty() || f.name == "add",
            "{}: no signature",
            f.name
        );
        for sig in declared {
            let uses = f.ir.matches(&format!("{sig},")).count() + f.ir.matches(&format!("{sig}\n")).count();
            assert!(uses > 0, "{}: {sig} is declared and not used\n{}", f.name, f.ir);
        }
    }
}
