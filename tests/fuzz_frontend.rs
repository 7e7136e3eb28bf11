//! Front-end fuzz test: random and mutated programs go through the lexer, parser,
//! checker, register compiler, bytecode verifier and diagnostic renderer in process
//! (`bp::driver::compile_source`), one case at a time on a thread of its own.
//!
//! Every case must
//! * not panic (a panic is caught per case; the offending input is minimised and
//!   written to `target/fuzz-frontend/`),
//! * finish within the time budget (2 s per case by default),
//! * produce a program that passes `bp::vm::verify` whenever it reports no error,
//!   report no `internal` error, keep its spans inside its file, and render a
//!   bounded amount of diagnostic text,
//! * need no more native stack than [`CASE_STACK`] (the `bp` binary's main thread has
//!   more), whatever the nesting.
//!
//! The inputs: the suite's own programs (`tests/programs/**/*.bp`) mutated byte-wise
//! (flipped, inserted, deleted, duplicated bytes, truncation, bytes that are not
//! UTF-8) and token-wise (deleted, duplicated, swapped, replaced tokens), spliced
//! together, generated programs, and deep nesting of brackets, operators, blocks,
//! lambdas, types and f-strings.
//!
//! The run is deterministic. Environment variables for a longer run by hand:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `BP_FUZZ_CASES` | 4000 | number of cases |
//! | `BP_FUZZ_SEED` | 1 | seed of the case generator |
//! | `BP_FUZZ_BUDGET_MS` | 2000 | time limit of one case |
//!
//! ```text
//! BP_FUZZ_CASES=200000 BP_FUZZ_SEED=$RANDOM cargo test --test fuzz_frontend -- --nocapture
//! ```

use bp::driver::{compile_source, render_diagnostics, Compiled, Stop};
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Once;
use std::time::{Duration, Instant};

/// Native stack of a case's thread: the least the `bp` binary gives its program
/// thread (it shrinks the stack down to 8 MiB under an address-space limit). The
/// front end bounds its recursion (the parser's nesting and expression-height
/// limits); the worst accepted nesting needs about 4 MiB at opt-level 1.
const CASE_STACK: usize = 8 << 20;

/// Rendered diagnostics of one case may not exceed this (100 errors and 100
/// warnings, each with a bounded message and snippet window).
const MAX_RENDERED: usize = 1 << 20;

/// Name of the threads that run cases (their panics are recorded silently).
const CASE_THREAD: &str = "fuzz-case";

// ---------------------------------------------------------------------------------
// randomness

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------
// running one case

/// What a case produced that breaks a rule.
enum Failure {
    Panic(String),
    Timeout(Duration),
    Invariant(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panic(msg) => write!(f, "panic: {msg}"),
            Failure::Timeout(t) => write!(f, "no result after {t:.1?}"),
            Failure::Invariant(msg) => write!(f, "{msg}"),
        }
    }
}

/// How a case that broke no rule ended.
#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    /// Compiled and verified.
    Program,
    /// Rejected with errors.
    Errors,
}

thread_local! {
    /// The message of the last panic on this thread (case threads only).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics on case threads are expected findings: record them instead of printing a
/// backtrace for each (minimisation provokes hundreds).
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(CASE_THREAD) {
                let msg = format!("{info}");
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(msg));
            } else {
                default(info);
            }
        }));
    });
}

/// Compile `input` as if it were the file `path` (imports resolve next to it) on a
/// fresh thread; check the invariants.
fn run_case(path: &Path, input: &[u8], budget: Duration) -> Result<Outcome, Failure> {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    let input = input.to_vec();
    let spawned = std::thread::Builder::new()
        .name(CASE_THREAD.into())
        .stack_size(CASE_STACK)
        .spawn(move || {
            let result = panic::catch_unwind(AssertUnwindSafe(|| compile_and_check(&path, input)));
            let outcome = match result {
                Ok(r) => r,
                Err(_) => Err(Failure::Panic(
                    LAST_PANIC
                        .with(|p| p.borrow_mut().take())
                        .unwrap_or_else(|| "panic".into()),
                )),
            };
            let _ = tx.send(outcome);
        });
    if let Err(e) = spawned {
        return Err(Failure::Invariant(format!("cannot spawn a case thread: {e}")));
    }
    let start = Instant::now();
    match rx.recv_timeout(budget) {
        Ok(r) => r,
        // The thread is left running; the test fails and the process ends.
        Err(_) => Err(Failure::Timeout(start.elapsed())),
    }
}

fn compile_and_check(path: &Path, input: Vec<u8>) -> Result<Outcome, Failure> {
    let c = compile_source(path, input, Stop::Bytecode);
    let rendered = render_diagnostics(&c, false);
    check_invariants(&c, &rendered).map_err(Failure::Invariant)
}

fn check_invariants(c: &Compiled, rendered: &str) -> Result<Outcome, String> {
    if rendered.len() > MAX_RENDERED {
        return Err(format!("{} bytes of diagnostics", rendered.len()));
    }
    for d in &c.diags.list {
        if d.message.contains("internal") {
            return Err(format!("internal error reported: {}", d.message));
        }
        let len = c
            .sources
            .files
            .get(d.span.file as usize)
            .map_or(0, |f| f.text.len()) as u32;
        if d.span.lo > d.span.hi || d.span.hi > len {
            return Err(format!(
                "span {}..{} outside its file ({len} bytes): {}",
                d.span.lo, d.span.hi, d.message
            ));
        }
    }
    match &c.program {
        Some(p) => bp::vm::verify::verify(p)
            .map(|()| Outcome::Program)
            .map_err(|e| format!("the compiled program fails verification: {e}")),
        None if !c.diags.has_errors() => Err("no program and no error".into()),
        None => Ok(Outcome::Errors),
    }
}

// ---------------------------------------------------------------------------------
// inputs

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("programs");
    let mut files = Vec::new();
    collect_programs(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

fn collect_programs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_programs(&p, out);
        } else if p.extension().is_some_and(|x| x == "bp") {
            out.push(p);
        }
    }
}

/// Tokens for insertion and replacement.
const VOCAB: &[&str] = &[
    "def",
    "struct",
    "enum",
    "class",
    "import",
    "extern",
    "export",
    "let",
    "if",
    "elif",
    "else",
    "while",
    "for",
    "in",
    "range",
    "match",
    "case",
    "default",
    "try",
    "catch",
    "finally",
    "throw",
    "return",
    "break",
    "continue",
    "pass",
    "fn",
    "new",
    "self",
    "super",
    "and",
    "or",
    "not",
    "true",
    "false",
    "int",
    "float",
    "str",
    "bool",
    "void",
    "ptr",
    "main",
    "x",
    "print",
    "len",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    ".",
    "->",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "~",
    "<<",
    ">>",
    "@",
    "@packed",
    "\"",
    "f\"",
    "\"s\"",
    "f\"{x}\"",
    "f\"{",
    "}\"",
    "\\",
    "#",
    "0",
    "1",
    "-1",
    "0x",
    "0b2",
    "1e",
    "1.5",
    "9223372036854775808",
    "\n",
    "\n    ",
    "\n        ",
    "\r",
    "\r\n",
    "\t",
    "\x0c",
    "\x0b",
    "\u{85}",
    "\u{2028}",
    "\u{feff}",
    "é",
    "漢",
    "\0",
    "'",
    "$",
    ";",
];

/// Bytes worth inserting: delimiters, line breaks, bytes that are not UTF-8.
const BYTES: &[u8] = b"\0\x01\t\n\r\x0b\x0c \"#'(),:;=[\\]{}\x7f\x80\xbf\xc3\xef\xbb\xff";

/// Crude tokens (independent of the real lexer): words, numbers, string literals,
/// runs of blanks, line breaks, single other bytes.
fn tokens(src: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let b = src[i];
        let mut j = i + 1;
        if b.is_ascii_alphanumeric() || b == b'_' {
            while j < src.len() && (src[j].is_ascii_alphanumeric() || src[j] == b'_') {
                j += 1;
            }
        } else if b == b'"' {
            while j < src.len() && src[j] != b'"' && src[j] != b'\n' {
                j += if src[j] == b'\\' { 2 } else { 1 };
            }
            j = (j + 1).min(src.len());
        } else if b == b' ' {
            while j < src.len() && src[j] == b' ' {
                j += 1;
            }
        }
        out.push(&src[i..j]);
        i = j;
    }
    out
}

fn mutate_bytes(rng: &mut Rng, src: &mut Vec<u8>) {
    let n = src.len();
    match rng.below(7) {
        0 if n > 0 => {
            let i = rng.below(n);
            src[i] ^= 1 << rng.below(8);
        }
        1 if n > 0 => {
            let i = rng.below(n);
            src[i] = *rng.pick(BYTES);
        }
        2 => {
            let i = rng.below(n + 1);
            let k = rng.range(1, 8);
            let bytes: Vec<u8> = (0..k).map(|_| *rng.pick(BYTES)).collect();
            src.splice(i..i, bytes);
        }
        3 if n > 0 => {
            let i = rng.below(n);
            let j = (i + rng.range(1, 64)).min(n);
            src.drain(i..j);
        }
        4 if n > 0 => {
            let i = rng.below(n);
            let j = (i + rng.range(1, 256)).min(n);
            let copy = src[i..j].to_vec();
            let at = rng.below(n + 1);
            src.splice(at..at, copy);
        }
        5 => src.truncate(rng.below(n + 1)),
        _ => {
            let i = rng.below(n + 1);
            let v = rng.pick(VOCAB).as_bytes().to_vec();
            src.splice(i..i, v);
        }
    }
}

fn mutate_tokens(rng: &mut Rng, src: &mut Vec<u8>) {
    let toks = tokens(src);
    if toks.is_empty() {
        *src = rng.pick(VOCAB).as_bytes().to_vec();
        return;
    }
    let mut toks: Vec<Vec<u8>> = toks.into_iter().map(<[u8]>::to_vec).collect();
    let n = toks.len();
    let i = rng.below(n);
    match rng.below(9) {
        // Replace a token by another of the same program (likely to keep the syntax
        // and change the types, so that the checker sees it).
        7 | 8 => {
            let j = rng.below(n);
            if toks[i][0].is_ascii_alphanumeric() == toks[j][0].is_ascii_alphanumeric() {
                toks[i] = toks[j].clone();
            }
        }
        0 => {
            toks.remove(i);
        }
        1 => {
            let t = toks[i].clone();
            toks.insert(i, t);
        }
        2 => {
            let j = rng.below(n);
            toks.swap(i, j);
        }
        3 => toks[i] = rng.pick(VOCAB).as_bytes().to_vec(),
        4 => toks.insert(i, rng.pick(VOCAB).as_bytes().to_vec()),
        5 => {
            let j = (i + rng.range(1, 20)).min(n);
            toks.drain(i..j);
        }
        _ => {
            let j = (i + rng.range(1, 20)).min(n);
            let copy: Vec<Vec<u8>> = toks[i..j].to_vec();
            let reps = rng.range(1, 50);
            for _ in 0..reps {
                toks.splice(j..j, copy.iter().cloned());
            }
        }
    }
    *src = toks.concat();
}

/// Deeply nested or very long constructs, each a whole program.
fn deep_program(rng: &mut Rng) -> Vec<u8> {
    let n = if rng.chance(70) {
        rng.range(1, 300)
    } else {
        rng.range(300, 5000)
    };
    let body = |expr: String| {
        format!("def main() -> int:\n    let a: int = 1\n    let x: int = {expr}\n    return 0\n")
    };
    let text = match rng.below(17) {
        0 => body(format!("{}a{}", "(".repeat(n), ")".repeat(n))),
        1 => body(format!("{}a", "-".repeat(n))),
        2 => body(format!("{}a", "not ".repeat(n))),
        3 => body(format!("a{}", " + a".repeat(n))),
        4 => body(format!("{}1{}", "[".repeat(n), "]".repeat(n))),
        5 => body(format!("{}a", "(a + ".repeat(n))),
        6 => body(format!("a{}", "[0]".repeat(n))),
        7 => body(format!("{}a{}", "fn() -> int: ".repeat(n.min(2000)), "")),
        8 => {
            let mut s = String::from("def main() -> int:\n");
            for d in 1..=n.min(3000) {
                s.push_str(&" ".repeat(d));
                s.push_str("if true:\n");
            }
            s.push_str(&" ".repeat(n.min(3000) + 1));
            s.push_str("pass\n    return 0\n");
            s
        }
        9 => {
            let mut e = String::from("\"x\"");
            for _ in 0..rng.range(1, 14) {
                e = format!("f\"{{{}}}\"", e.replace('\\', "\\\\").replace('"', "\\\""));
            }
            format!("def main() -> int:\n    print({e})\n    return 0\n")
        }
        10 => format!(
            "def f(x: {}int{}) -> int:\n    return 0\ndef main() -> int:\n    return 0\n",
            "[".repeat(n),
            "]".repeat(n)
        ),
        11 => body(format!("f({})", vec!["1"; n].join(", "))),
        12 => {
            let params: Vec<String> = (0..n).map(|i| format!("p{i}: int")).collect();
            format!(
                "def f({}) -> int:\n    return p0\ndef main() -> int:\n    return 0\n",
                params.join(", ")
            )
        }
        13 => {
            let mut s = String::from("def main() -> int:\n");
            for i in 0..n {
                s.push_str(&format!("    let v{i}: int = {i}\n"));
            }
            s.push_str("    return 0\n");
            s
        }
        14 => body("a".repeat(rng.range(1, 1 << 20))),
        15 => {
            // try/finally nested in finally blocks: the compiler copies each
            // finally onto every exit, doubling the code per level.
            let mut s = String::from("def main() -> int:\n");
            // Mostly below the compiler's code budget (which takes ~0.5 s to reach).
            let levels = if rng.chance(5) { n.min(90) } else { n.min(10) };
            for d in 1..=levels {
                let pad = "    ".repeat(d);
                s.push_str(&format!("{pad}try:\n{pad}    return {d}\n{pad}finally:\n"));
            }
            s.push_str(&format!("{}print(0)\n    return 0\n", "    ".repeat(levels + 1)));
            s
        }
        _ => body(format!("({}1{})", "(1, ".repeat(n), ")".repeat(n))),
    };
    text.into_bytes()
}

/// A generated program: mostly well-typed, so that it reaches the compiler.
fn generated_program(rng: &mut Rng) -> Vec<u8> {
    let mut g = Gen {
        rng,
        out: String::new(),
        names: 0,
    };
    g.program();
    g.out.into_bytes()
}

struct Gen<'r> {
    rng: &'r mut Rng,
    out: String,
    /// Names are unique (a local may not shadow another).
    names: usize,
}

impl Gen<'_> {
    fn program(&mut self) {
        self.out.push_str("struct P:\n    x: int\n    s: str\n\n");
        self.out.push_str("enum E:\n    A\n    B = 5\n\n");
        self.out.push_str("let G: int = 3\n\n");
        for k in 0..self.rng.range(0, 3) {
            self.out.push_str(&format!("def h{k}(a: int, b: str) -> int:\n"));
            self.block(1, 3);
            self.out.push_str("    return a\n\n");
        }
        self.out.push_str("def main() -> int:\n");
        self.block(1, 4);
        self.out.push_str("    return 0\n");
    }

    fn indent(&mut self, depth: usize) {
        self.out.push_str(&"    ".repeat(depth));
    }

    fn block(&mut self, depth: usize, budget: usize) {
        for _ in 0..self.rng.range(1, 6) {
            self.stmt(depth, budget);
        }
    }

    fn stmt(&mut self, depth: usize, budget: usize) {
        self.names += 1;
        let i = self.names;
        self.indent(depth);
        let nested = budget > 0;
        match self.rng.below(10) {
            0 | 1 => {
                let e = self.int_expr(3);
                self.out.push_str(&format!("let v{depth}_{i}: int = {e}\n"));
            }
            2 => {
                let e = self.str_expr(3);
                self.out.push_str(&format!("print({e})\n"));
            }
            3 if nested => {
                let c = self.bool_expr(3);
                self.out.push_str(&format!("if {c}:\n"));
                self.block(depth + 1, budget - 1);
                self.indent(depth);
                self.out.push_str("else:\n");
                self.block(depth + 1, budget - 1);
            }
            4 if nested => {
                let e = self.int_expr(2);
                self.out.push_str(&format!("for k{depth} in range(0, {e}):\n"));
                self.block(depth + 1, budget - 1);
            }
            5 if nested => {
                self.out.push_str("try:\n");
                self.block(depth + 1, budget - 1);
                self.indent(depth);
                self.out.push_str("catch e:\n");
                self.indent(depth + 1);
                self.out.push_str("print(e)\n");
            }
            6 => {
                let e = self.int_expr(2);
                self.out.push_str(&format!(
                    "let f{depth}_{i}: fn(int) -> int = fn(q: int) -> int: q * {e}\n"
                ));
            }
            7 => {
                let a = self.int_expr(2);
                let line = match self.rng.below(4) {
                    0 => format!("let xs{i}: [int] = [{a}, 2, 3]\n"),
                    1 => format!("let m{i}: {{str: int}} = {{\"k\": {a}}}\n"),
                    2 => format!("let t{i}: (int, str) = ({a}, \"t\")\n"),
                    _ => format!("let p{i}: P = P{{x: {a}, s: \"p\"}}\n"),
                };
                self.out.push_str(&line);
            }
            8 if nested => {
                let e = self.int_expr(2);
                self.out.push_str(&format!("match {e}:\n"));
                self.indent(depth + 1);
                self.out.push_str("case 1:\n");
                self.block(depth + 2, budget - 1);
                self.indent(depth + 1);
                self.out.push_str("default:\n");
                self.indent(depth + 2);
                self.out.push_str("pass\n");
            }
            _ => {
                let e = self.int_expr(2);
                self.out.push_str(&format!("print({e}, E.B, G)\n"));
            }
        }
    }

    fn int_expr(&mut self, d: usize) -> String {
        if d == 0 {
            return self.rng.pick(&["1", "G", "42", "E.A", "-7"]).to_string();
        }
        match self.rng.below(6) {
            0 => format!("({} + {})", self.int_expr(d - 1), self.int_expr(d - 1)),
            1 => format!("({} * {} % 7)", self.int_expr(d - 1), self.int_expr(d - 1)),
            2 => format!("len({})", self.str_expr(d - 1)),
            3 => format!("[{}, 2][0]", self.int_expr(d - 1)),
            4 => format!("abs(-{})", self.int_expr(d - 1)),
            _ => self.int_expr(0),
        }
    }

    fn str_expr(&mut self, d: usize) -> String {
        if d == 0 {
            return self
                .rng
                .pick(&["\"a\"", "\"é\\n\"", "\"\\x41\"", "\"\""])
                .to_string();
        }
        match self.rng.below(4) {
            0 => format!("{} + {}", self.str_expr(d - 1), self.str_expr(d - 1)),
            1 => format!("to_str({})", self.int_expr(d - 1)),
            2 => {
                let e = self.int_expr(d - 1).replace('\\', "\\\\").replace('"', "\\\"");
                format!("f\"<{{{e}}}>\"")
            }
            _ => self.str_expr(0),
        }
    }

    fn bool_expr(&mut self, d: usize) -> String {
        if d == 0 {
            return self.rng.pick(&["true", "false"]).to_string();
        }
        match self.rng.below(4) {
            0 => format!("{} < {}", self.int_expr(d - 1), self.int_expr(d - 1)),
            1 => format!("({} and not ({}))", self.bool_expr(d - 1), self.bool_expr(d - 1)),
            2 => format!("{} == {}", self.str_expr(d - 1), self.str_expr(d - 1)),
            _ => self.bool_expr(0),
        }
    }
}

/// Case `k` of a run: where it comes from and its input.
fn make_case(rng: &mut Rng, corpus: &[(PathBuf, Vec<u8>)], fallback: &Path) -> (PathBuf, Vec<u8>) {
    let kind = rng.below(10);
    let (path, mut input) = match kind {
        0 => (fallback.to_path_buf(), deep_program(rng)),
        1 => (fallback.to_path_buf(), generated_program(rng)),
        _ if corpus.is_empty() => (fallback.to_path_buf(), generated_program(rng)),
        2 => {
            // Splice two programs.
            let (p, a) = rng.pick(corpus);
            let (_, b) = rng.pick(corpus);
            let cut_a = rng.below(a.len() + 1);
            let cut_b = rng.below(b.len() + 1);
            (p.clone(), [&a[..cut_a], &b[cut_b..]].concat())
        }
        _ => {
            let (p, a) = rng.pick(corpus);
            (p.clone(), a.clone())
        }
    };
    let rounds = match kind {
        0 => rng.below(2),
        1 if rng.chance(30) => 0,
        _ if rng.chance(50) => 1,
        _ => rng.range(2, 6),
    };
    for _ in 0..rounds {
        if rng.chance(50) {
            mutate_bytes(rng, &mut input);
        } else {
            mutate_tokens(rng, &mut input);
        }
    }
    (path, input)
}

// ---------------------------------------------------------------------------------
// minimisation and reporting

/// Shrink a panicking input by deleting chunks (lines first, then bytes) while it
/// still panics; at most `tries` attempts.
fn minimise(path: &Path, input: &[u8], budget: Duration, mut tries: usize) -> Vec<u8> {
    let still_panics = |b: &[u8]| matches!(run_case(path, b, budget), Err(Failure::Panic(_)));
    let mut cur = input.to_vec();
    let mut chunk = cur.len() / 2;
    while chunk >= 1 && tries > 0 {
        let mut i = 0;
        let mut shrunk = false;
        while i < cur.len() && tries > 0 {
            let j = (i + chunk).min(cur.len());
            let mut cand = cur[..i].to_vec();
            cand.extend_from_slice(&cur[j..]);
            tries -= 1;
            if still_panics(&cand) {
                cur = cand;
                shrunk = true;
            } else {
                i = j;
            }
        }
        if !shrunk {
            chunk /= 2;
        }
    }
    cur
}

fn save_failure(name: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("fuzz-frontend");
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join(name);
    let _ = std::fs::write(&p, input);
    p
}

fn describe(input: &[u8]) -> String {
    let shown: String = String::from_utf8_lossy(&input[..input.len().min(600)])
        .escape_debug()
        .collect();
    if input.len() > 600 {
        format!("{shown}… ({} bytes)", input.len())
    } else {
        shown
    }
}

// ---------------------------------------------------------------------------------
// the tests

#[test]
fn frontend_survives_random_and_mutated_programs() {
    install_panic_hook();
    let cases: usize = env_or("BP_FUZZ_CASES", 4000);
    let seed: u64 = env_or("BP_FUZZ_SEED", 1);
    let budget = Duration::from_millis(env_or("BP_FUZZ_BUDGET_MS", 2000));
    let corpus = corpus();
    assert!(!corpus.is_empty(), "no programs found under tests/programs");
    let fallback = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("fuzz.bp");
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut slowest = (Duration::ZERO, 0);
    let mut compiled = 0;
    for k in 0..cases {
        let (path, input) = make_case(&mut rng, &corpus, &fallback);
        let t = Instant::now();
        let result = run_case(&path, &input, budget);
        if t.elapsed() > slowest.0 {
            slowest = (t.elapsed(), k);
        }
        let failure = match result {
            Ok(Outcome::Program) => {
                compiled += 1;
                continue;
            }
            Ok(Outcome::Errors) => continue,
            Err(f) => f,
        };
        let name = format!("seed{seed}-case{k}.bp");
        let shown = match &failure {
            Failure::Panic(_) => minimise(&path, &input, budget, 3000),
            _ => input.clone(),
        };
        let saved = save_failure(&name, &input);
        let min = save_failure(&format!("seed{seed}-case{k}-min.bp"), &shown);
        panic!(
            "case {k} (seed {seed}, from {}) failed: {failure}\ninput saved to {}\nminimised ({}): {}",
            path.display(),
            saved.display(),
            min.display(),
            describe(&shown)
        );
    }
    eprintln!(
        "fuzz_frontend: {cases} cases (seed {seed}, {compiled} compiled) in {:.1?}; slowest case {} took {:.1?}",
        start.elapsed(),
        slowest.1,
        slowest.0
    );
}

/// Wide inputs that once took quadratic time (a lookup scanning every local,
/// field or enum member): each must stay within the budget.
#[test]
fn wide_programs_stay_within_the_budget() {
    install_panic_hook();
    let budget = Duration::from_millis(env_or("BP_FUZZ_BUDGET_MS", 2000) * 3);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("wide.bp");
    let n = 100_000;
    let mut lets = String::from("def main() -> int:\n");
    for i in 0..n {
        lets.push_str(&format!("    let v{i}: int = {i}\n"));
    }
    lets.push_str("    return v7\n");
    let mut members = String::from("struct S:\n");
    for i in 0..n / 2 {
        members.push_str(&format!("    f{i}: int\n"));
    }
    members.push_str("enum E:\n");
    for i in 0..n / 2 {
        members.push_str(&format!("    V{i}\n"));
    }
    members.push_str("def main() -> int:\n");
    for i in 0..n / 2 {
        members.push_str(&format!("    print(E.V{i})\n"));
    }
    let mut methods = String::from("struct T:\n    x: int\n");
    for i in 0..n / 4 {
        methods.push_str(&format!("    def m{i}(self) -> int:\n        return {i}\n"));
    }
    methods.push_str("def main() -> int:\n    let t: T = T{x: 1}\n");
    for i in 0..n / 4 {
        methods.push_str(&format!("    print(t.m{i}())\n"));
    }
    for (what, src) in [("lets", lets), ("members", members), ("methods", methods)] {
        let t = Instant::now();
        if let Err(f) = run_case(&path, src.as_bytes(), budget) {
            panic!("{what}: {f}");
        }
        eprintln!("wide {what}: {:.1?}", t.elapsed());
    }
}

/// The deepest nesting: just below the parser's limits (these programs compile; the
/// first has an expression tree 1,920 levels high: 120 parenthesised levels of
/// 15-operator chains) and far beyond them (rejected with a diagnostic).
#[test]
fn deepest_nesting_fits_the_case_stack() {
    install_panic_hook();
    let budget = Duration::from_millis(env_or("BP_FUZZ_BUDGET_MS", 2000) * 3);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("deep.bp");
    let deepest = 120;
    // `levels` parentheses around `a`, with `tail` repeated inside each.
    let nest = |levels: usize, tail: &str| {
        let mut e = String::from("a");
        for _ in 0..levels {
            e = format!("({e}{tail})");
        }
        e
    };
    let in_main = |decl: &str, expr: &str| {
        format!("def main() -> int:\n    let a: {decl}\n    let x: int = {expr}\n    return 0\n")
    };
    let methods = "struct P:\n    x: int\n    def me(self) -> P:\n        return self\n";
    let cases = [
        (
            in_main("int = 1", &nest(deepest, &" + a".repeat(15))),
            Outcome::Program,
        ),
        (in_main("int = 1", &nest(deepest, "")), Outcome::Program),
        (
            in_main("int = 1", &format!("{}a", "-".repeat(deepest))),
            Outcome::Program,
        ),
        (
            in_main("int = 1", &format!("a{}", " + a".repeat(1000))),
            Outcome::Program,
        ),
        (
            format!(
                "{methods}{}",
                in_main("P = P{x: 1}", &format!("a{}.x", ".me()".repeat(999)))
            ),
            Outcome::Program,
        ),
        (
            in_main("int = 1", &nest(deepest, &" + a".repeat(999))),
            Outcome::Errors,
        ),
        (
            format!(
                "{methods}{}",
                in_main(
                    "P = P{x: 1}",
                    &nest(deepest, &".me()".repeat(999)).replace(')', ".x)")
                )
            ),
            Outcome::Errors,
        ),
        (
            in_main("int = 1", &format!("(({}))", "(".repeat(100_000))),
            Outcome::Errors,
        ),
        (in_main("int = 1", &("-".repeat(100_000) + "a")), Outcome::Errors),
        (
            in_main("int = 1", &format!("{}1", "fn() -> int: ".repeat(20_000))),
            Outcome::Errors,
        ),
        (
            in_main(
                "int = 1",
                &format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
            ),
            Outcome::Errors,
        ),
        (nested_blocks(99, &nest(20, &" + a".repeat(90))), Outcome::Program),
        (nested_blocks(5000, "a"), Outcome::Errors),
    ];
    for (src, want) in cases {
        match run_case(&path, src.as_bytes(), budget) {
            Ok(got) if got == want => {}
            Ok(_) => panic!("unexpected outcome for {}", describe(src.as_bytes())),
            Err(f) => panic!("{f} on {}", describe(src.as_bytes())),
        }
    }
}

/// `main` with `levels` nested `if` blocks around `print(expr)`.
fn nested_blocks(levels: usize, expr: &str) -> String {
    let mut s = String::from("def main() -> int:\n let a: int = 1\n");
    for d in 1..=levels {
        s.push_str(&format!("{}if true:\n", " ".repeat(d)));
    }
    s.push_str(&format!("{}print({expr})\n return 0\n", " ".repeat(levels + 1)));
    s
}
