//! Differential test: random well-typed BetterPython programs must behave identically
//! in every execution engine.
//!
//! proptest supplies a sequence of random choices (`Vec<u32>`) and a generator turns it
//! into a program, the way Hypothesis does it: every decision reads the next number, and
//! a missing or zero number always selects the simplest option. Every variable has a
//! fresh name (no shadowing), every `let` is annotated, types are exact (no int/float
//! mixing), conditions are `bool` and arrays are never empty, so indices `e % array_len(a)`
//! are always in bounds (negative ones count from the end). A failure is minimised by
//! zeroing runs of choices and then deleting source lines (see `Minimizer`), and the
//! smallest failing program is printed with both outputs.
//!
//! Each program is run four ways and stdout and exit status must be identical:
//!
//! | run           | command line                    | extra environment   |
//! |---------------|---------------------------------|---------------------|
//! | reference     | `bp run --no-jit FILE`          |                     |
//! | `jit0`        | `bp run --jit-threshold 0 FILE` |                     |
//! | `deoptstress` | `bp run --jit-threshold 0 FILE` | `BP_DEOPT_STRESS=1` |
//! | `jitgen`      | `bp run --jit-threshold 0 FILE` | `BP_GC_STRESS=gen`  |
//!
//! The generated programs use ints, floats, bools, `[int]` and `[float]` arrays (literals,
//! aliasing, `array_copy`, `array_concat`, `array_push`, element reads and writes),
//! globals, `while` loops (with a hidden iteration bound), `for i in range(a, b)` (bounded
//! by `% 6`), `for x in array`, `if`/`elif`/`else`, `break`/`continue`, early `return`,
//! `try`/`catch`/`finally`, `throw`, helper functions (each may only call helpers defined
//! before it, so there is no unbounded recursion) and bounded self-recursive helpers,
//! integer arithmetic with wrap-around (including `/` and `%` with divisors forced
//! non-zero by `| 1`, or unguarded — a runtime error is a valid outcome that must match
//! too), shifts, bitwise operators, float arithmetic including `%` (fmod), NaN and
//! infinities, int/float conversions, comparisons, short-circuit `and`/`or` whose operands
//! may call printing helpers, `print` / f-strings of intermediate values, and string
//! expressions (literals, `str_char_at`, `chr`, `substr`, `+`) under `ord`, `len` and `==`/`!=`,
//! helpers returning a pair `(int, int)`, read as `h(...)[k]` or taken apart right
//! after `let t: (int, int) = h(...)` (the JIT inlines such helpers and may never
//! allocate the pair), and lambdas capturing a local (which later statements may
//! assign), called in a short loop, counted loops that only add up
//! float divisions by a function of the counter (the JIT pairs those), and
//! nested loops over the rows of an `[[int]]` grid at indices the inner loop
//! never changes (the JIT loads those rows once per inner loop), strings
//! appended to in a counted loop and shared now and then in the middle (copied,
//! pushed to an array, made a map key: the JIT extends an unshared one in place),
//! and a two-int struct `S2` made by helpers that return `S2{a: .., b: ..}`,
//! passed straight to helpers that read its fields (the JIT may never allocate
//! it), kept in a variable whose field may be written before it is read (the
//! JIT forwards the fields it made the struct with until such a store), or
//! read right off the call, or carried around a loop that makes it anew from
//! its own fields every round (the JIT may keep it in registers), leaving now
//! and then before the first new one, with a copy taken before the loop
//! that must still be the same object after it, and an `{int: int}` map counted
//! into with `if map_has_key(m, k): m[k] = m[k] + x`, with a removal, a new key
//! or another key now and then between the test and the update, and a
//! three-item `[int]` literal returned by a helper and read at constant
//! indices (the JIT may never allocate it), written into, pushed onto,
//! measured or read past its end first now and then, and helpers with
//! branches that update the fields of two `S2` (one object now and then),
//! and nested `def`s keeping state in a captured array, called in loops
//! (the JIT inlines both as updaters).
//!
//! Loops are bounded (`while` by a hidden counter, `range` by `% 6`, helpers call only
//! earlier helpers, recursion depth is at most 15), so every program finishes quickly; a
//! run that takes longer than 30 s is killed and counts as a difference.
//!
//! Environment: `PROPTEST_CASES` (default 64) sets the number of programs,
//! `BP_DIFF_MINIMIZE_MS` (default 120000) bounds the minimisation of a failure,
//! `BP_DIFF_SHOW=1` prints every generated program, and `BP_DIFF_DUMP=DIR` makes the
//! generator sanity test write its programs and their outputs to DIR.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Random choices
// ---------------------------------------------------------------------------------------

/// A stream of random numbers; exhausted or zero means "simplest option".
struct Choices<'a> {
    data: &'a [u32],
    pos: usize,
}

impl Choices<'_> {
    fn next(&mut self) -> u32 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }

    /// A number in `0..n` (0 when `n <= 1`).
    fn below(&mut self, n: u32) -> u32 {
        if n <= 1 {
            0
        } else {
            self.next() % n
        }
    }

    /// `true` with probability `pct`%; a zero choice gives `false`.
    fn chance(&mut self, pct: u32) -> bool {
        let v = self.next() % 100;
        v != 0 && v > 100 - pct.min(100)
    }

    /// Index of an option, chosen with the given weights (zero weight = unavailable).
    /// A zero choice selects the first available option.
    fn pick(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        assert!(total > 0, "no option available");
        let mut x = self.next() % total;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        unreachable!()
    }
}

// ---------------------------------------------------------------------------------------
// Program generator
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Int,
    Float,
    Bool,
    IntArr,
    FloatArr,
}

impl Ty {
    const ALL: [Ty; 5] = [Ty::Int, Ty::Float, Ty::Bool, Ty::IntArr, Ty::FloatArr];
    const SCALARS: [Ty; 3] = [Ty::Int, Ty::Float, Ty::Bool];

    fn name(self) -> &'static str {
        match self {
            Ty::Int => "int",
            Ty::Float => "float",
            Ty::Bool => "bool",
            Ty::IntArr => "[int]",
            Ty::FloatArr => "[float]",
        }
    }

    fn elem(self) -> Option<Ty> {
        match self {
            Ty::IntArr => Some(Ty::Int),
            Ty::FloatArr => Some(Ty::Float),
            _ => None,
        }
    }

    fn is_array(self) -> bool {
        self.elem().is_some()
    }
}

#[derive(Clone, Debug)]
struct Var {
    name: String,
    ty: Ty,
    /// Loop variables and hidden loop counters are read-only (keeps loops bounded).
    assignable: bool,
}

#[derive(Clone, Debug)]
struct Helper {
    name: String,
    params: Vec<Ty>,
    ret: Ty,
    /// Self-recursive helper `(n: int, acc: int) -> int`; calls bound `n` to `0..15`.
    recursive: bool,
    /// Returns a pair `(int, int)` (`ret` is `Int`, the items' type): read as
    /// `h(...)[k]` or taken apart right after `let t: (int, int) = h(...)`.
    pair: bool,
}

/// Limits that keep generated programs small and fast.
const MAIN_STMTS: usize = 35;
const HELPER_STMTS: usize = 10;
const MAX_HELPERS: u32 = 4;
const EXPR_DEPTH: u32 = 3;
/// Length of the choice sequence (programs rarely read more than a few thousand).
const CHOICES: usize = 12_000;

struct Gen<'a> {
    c: Choices<'a>,
    out: String,
    indent: usize,
    /// Visible variables, innermost scope last; scope 0 holds the globals.
    scopes: Vec<Vec<Var>>,
    /// Helpers callable from the function being generated.
    helpers: Vec<Helper>,
    /// Helpers returning a new `S2` (its items computed from scalar
    /// parameters), and helpers `(s: S2, x: int) -> int` reading its fields:
    /// used only by the struct statement.
    makers: Vec<Helper>,
    readers: Vec<String>,
    /// Helpers returning a new three-item `[int]` literal: used only by the
    /// statement that reads one at constant indices.
    array_makers: Vec<Helper>,
    /// Helpers `(s: S2, x: int) -> S2` making a new `S2` from the fields of
    /// `s`: used only by the loop that carries a struct.
    updaters: Vec<String>,
    /// Helpers `(s: S2, t: S2, x: int)` with branches that update fields of
    /// both (which may be one object), `void` or returning an int: used only
    /// by the statement that updates structs in a loop.
    field_updaters: Vec<(String, bool)>,
    fresh: usize,
    stmts_left: usize,
    loop_depth: usize,
    max_loop_depth: usize,
    try_depth: usize,
    ret: Ty,
    /// Unguarded operations and `throw` also outside `try` (in about a quarter of the
    /// programs; elsewhere an uncaught error would end most programs early).
    risky_anywhere: bool,
    /// The helper being generated is recursive: no statement may call helpers (its call
    /// count stays linear in its depth bound).
    no_calls: bool,
}

/// Generate a program from a choice sequence.
fn generate(data: &[u32]) -> String {
    generate_counted(data).0
}

/// Generate a program; also returns how many choices it read (the rest is unused).
fn generate_counted(data: &[u32]) -> (String, usize) {
    let mut g = Gen {
        c: Choices { data, pos: 0 },
        out: String::new(),
        indent: 0,
        scopes: vec![Vec::new()],
        helpers: Vec::new(),
        makers: Vec::new(),
        array_makers: Vec::new(),
        readers: Vec::new(),
        updaters: Vec::new(),
        field_updaters: Vec::new(),
        fresh: 0,
        stmts_left: 0,
        loop_depth: 0,
        max_loop_depth: 1,
        try_depth: 0,
        ret: Ty::Int,
        no_calls: false,
        risky_anywhere: false,
    };
    g.risky_anywhere = g.c.chance(25);
    g.program();
    (g.out, g.c.pos.min(data.len()))
}

impl Gen<'_> {
    fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn declare(&mut self, name: &str, ty: Ty, assignable: bool) {
        self.scopes.last_mut().unwrap().push(Var {
            name: name.to_string(),
            ty,
            assignable,
        });
    }

    fn vars_of(&self, ty: Ty) -> Vec<String> {
        self.scopes
            .iter()
            .flatten()
            .filter(|v| v.ty == ty)
            .map(|v| v.name.clone())
            .collect()
    }

    fn pick_var(&mut self, ty: Ty) -> Option<String> {
        let vs = self.vars_of(ty);
        if vs.is_empty() {
            None
        } else {
            let i = self.c.below(vs.len() as u32) as usize;
            Some(vs[i].clone())
        }
    }

    fn helpers_returning(&self, ty: Ty) -> Vec<Helper> {
        if self.no_calls {
            return Vec::new();
        }
        self.helpers
            .iter()
            .filter(|h| h.ret == ty && !h.pair)
            .cloned()
            .collect()
    }

    fn any_array_var(&self) -> bool {
        self.scopes.iter().flatten().any(|v| v.ty.is_array())
    }

    // ----- programs and functions ------------------------------------------------------

    fn program(&mut self) {
        // Globals.
        let n_globals = self.c.below(3);
        for _ in 0..n_globals {
            let ty = Ty::SCALARS[self.c.below(3) as usize];
            let name = self.fresh("g");
            let init = self.literal(ty);
            self.line(&format!("let {name}: {} = {init}", ty.name()));
            self.declare(&name, ty, true);
        }
        if n_globals > 0 {
            self.out.push('\n');
        }
        // The struct of the struct statement (a value of two ints).
        self.line("struct S2:");
        self.line("    a: int");
        self.line("    b: int");
        self.out.push('\n');
        // Helpers: each may call the ones before it.
        let n_helpers = self.c.below(MAX_HELPERS + 1);
        for _ in 0..n_helpers {
            match self.c.below(28) {
                0..=3 => {
                    let h = self.recursive_helper();
                    self.helpers.push(h);
                }
                4..=6 => {
                    let h = self.pair_helper();
                    self.helpers.push(h);
                }
                20..=22 => {
                    let h = self.struct_maker();
                    self.makers.push(h);
                    self.out.push('\n');
                    let u = self.struct_updater();
                    self.updaters.push(u);
                }
                23..=24 => {
                    let r = self.struct_reader();
                    self.readers.push(r);
                }
                25 => {
                    let h = self.array_maker();
                    self.array_makers.push(h);
                }
                26 | 27 => {
                    let u = self.field_updater();
                    self.field_updaters.push(u);
                }
                _ => {
                    let h = self.helper();
                    self.helpers.push(h);
                }
            }
            self.out.push('\n');
        }
        // main.
        self.line("def main() -> int:");
        self.indent = 1;
        self.scopes.push(Vec::new());
        self.ret = Ty::Int;
        self.max_loop_depth = 2;
        self.loop_depth = 0;
        self.stmts_left = MAIN_STMTS;
        self.block_body(false, 97, MAIN_STMTS);
        let top: Vec<Var> = self.scopes.last().unwrap().clone();
        let mut args = vec!["\"done\"".to_string()];
        args.extend(top.iter().map(|v| v.name.clone()));
        self.line(&format!("print({})", args.join(", ")));
        let status = if self.c.chance(20) {
            let e = self.expr(Ty::Int, 1);
            format!("({e} & 3)")
        } else {
            "0".to_string()
        };
        self.line(&format!("return {status}"));
        self.scopes.pop();
        self.indent = 0;
    }

    /// Up to `max - 1` parameters of types from `types`; writes the `def`
    /// line of helper `name` returning `ret` and opens its body's scope with
    /// them.
    fn open_helper(&mut self, name: &str, max: u32, types: &[Ty], ret: &str) -> Vec<Ty> {
        let n_params = self.c.below(max);
        let mut params = Vec::new();
        let mut names = Vec::new();
        for _ in 0..n_params {
            params.push(types[self.c.below(types.len() as u32) as usize]);
            names.push(self.fresh("p"));
        }
        let sig: Vec<String> = names
            .iter()
            .zip(&params)
            .map(|(n, t)| format!("{n}: {}", t.name()))
            .collect();
        self.line(&format!("def {name}({}) -> {ret}:", sig.join(", ")));
        self.indent = 1;
        self.scopes.push(Vec::new());
        for (n, t) in names.iter().zip(&params) {
            self.declare(n, *t, true);
        }
        params
    }

    fn helper(&mut self) -> Helper {
        let name = self.fresh("h");
        let ret = Ty::SCALARS[self.c.below(3) as usize];
        let params = self.open_helper(&name, 4, &Ty::ALL, ret.name());
        self.ret = ret;
        self.max_loop_depth = 1;
        self.loop_depth = 0;
        self.stmts_left = HELPER_STMTS;
        self.block_body(false, 85, HELPER_STMTS);
        let e = self.expr(ret, EXPR_DEPTH);
        self.line(&format!("return {e}"));
        self.scopes.pop();
        self.indent = 0;
        Helper {
            name,
            params,
            ret,
            recursive: false,
            pair: false,
        }
    }

    /// A helper returning a pair of ints: one `return (a, b)` line (which the
    /// JIT inlines unless an item calls a helper, and whose tuple it need not
    /// allocate where the caller takes it apart at once).
    fn pair_helper(&mut self) -> Helper {
        let mut h = self.two_int_helper("t", "(int, int)", |a, b| format!("({a}, {b})"));
        h.pair = true;
        h
    }

    /// A helper returning a new `S2`: one `return S2{a: ..., b: ...}` line
    /// (which the JIT inlines, and whose struct it need not allocate where
    /// the next call only reads its fields).
    fn struct_maker(&mut self) -> Helper {
        self.two_int_helper("m", "S2", |a, b| format!("S2{{a: {a}, b: {b}}}"))
    }

    /// A helper returning a new three-item `[int]` literal (which the JIT
    /// inlines, and need not allocate where the caller only reads it at
    /// constant indices).
    fn array_maker(&mut self) -> Helper {
        self.two_int_helper("l", "[int]", |a, b| format!("[{a}, {b}, ({a}) ^ ({b})]"))
    }

    /// A helper named after `prefix`, of scalar parameters, returning `ret`
    /// made by `made` of two int expressions in one `return` line. (No
    /// statements: an early `return` would need such a value. Items that call
    /// other helpers keep some of these from being inlined.)
    fn two_int_helper(&mut self, prefix: &str, ret: &str, made: fn(&str, &str) -> String) -> Helper {
        let name = self.fresh(prefix);
        let params = self.open_helper(&name, 3, &Ty::SCALARS, ret);
        let a = self.expr(Ty::Int, 2);
        let b = self.expr(Ty::Int, 2);
        self.line(&format!("return {}", made(&a, &b)));
        self.scopes.pop();
        self.indent = 0;
        Helper {
            name,
            params,
            ret: Ty::Int,
            recursive: false,
            pair: false,
        }
    }

    /// A helper `(s: S2, x: int) -> int` that only reads the fields of `s`.
    fn struct_reader(&mut self) -> String {
        let name = self.fresh("q");
        let ops = ["+", "-", "*", "^"];
        let op1 = ops[self.c.below(4) as usize];
        let op2 = ops[self.c.below(4) as usize];
        self.line(&format!("def {name}(s: S2, x: int) -> int:"));
        self.line(&format!("    return s.a {op1} x {op2} s.b"));
        name
    }

    /// A helper `(s: S2, x: int) -> S2` that makes a new `S2` from the
    /// fields of `s` (which the JIT inlines, and may keep in registers
    /// around a loop that carries the struct).
    fn struct_updater(&mut self) -> String {
        let name = self.fresh("u");
        let ops = ["+", "-", "^"];
        let op1 = ops[self.c.below(3) as usize];
        let op2 = ops[self.c.below(3) as usize];
        let k = self.c.below(50);
        self.line(&format!("def {name}(s: S2, x: int) -> S2:"));
        self.line(&format!(
            "    return S2{{a: (s.a {op1} x + {k}) % 1009, b: (s.b {op2} s.a) % 4099}}"
        ));
        name
    }

    /// A helper `(s: S2, t: S2, x: int)` whose branches read and write
    /// fields of both structs (reads after stores, of the other struct too:
    /// the two may be one object), `void` or returning an int: the JIT
    /// inlines it as an updater, with both structs checked before its body
    /// and its stores made in order.
    fn field_updater(&mut self) -> (String, bool) {
        let name = self.fresh("w");
        let returns = self.c.chance(40);
        let (k1, k2, k3) = (self.c.below(600), self.c.below(50), 1 + self.c.below(5));
        let ret = if returns { " -> int" } else { " -> void" };
        self.line(&format!("def {name}(s: S2, t: S2, x: int){ret}:"));
        self.line("    s.a = (s.a + x) % 1009");
        self.line(&format!("    if s.a > {k1}:"));
        self.line("        t.b = (t.b ^ s.a) % 4099");
        self.line(&format!("    elif x < {k2} or t.a < s.b:"));
        self.line("        s.b = (s.b - t.a) % 4099");
        self.line("        t.a = t.a + 1");
        self.line("    else:");
        self.line(&format!("        t.a = t.a * {k3} % 1009"));
        if returns {
            self.line("    return s.a * 3 + t.b");
        }
        (name, returns)
    }

    fn pair_helpers(&self) -> Vec<Helper> {
        if self.no_calls {
            return Vec::new();
        }
        self.helpers.iter().filter(|h| h.pair).cloned().collect()
    }

    fn recursive_helper(&mut self) -> Helper {
        let name = self.fresh("r");
        let n = self.fresh("p");
        let acc = self.fresh("p");
        self.line(&format!("def {name}({n}: int, {acc}: int) -> int:"));
        self.indent = 1;
        self.line(&format!("if {n} <= 0:"));
        self.line(&format!("    return {acc}"));
        self.scopes.push(Vec::new());
        self.declare(&n, Ty::Int, false);
        self.declare(&acc, Ty::Int, true);
        self.ret = Ty::Int;
        self.max_loop_depth = 0;
        self.loop_depth = 0;
        self.no_calls = true;
        self.stmts_left = HELPER_STMTS / 2;
        self.block_body(false, 70, HELPER_STMTS);
        let e = self.expr(Ty::Int, 2);
        self.line(&format!("return {name}({n} - 1, {e})"));
        self.no_calls = false;
        self.scopes.pop();
        self.indent = 0;
        Helper {
            name,
            params: vec![Ty::Int, Ty::Int],
            ret: Ty::Int,
            recursive: true,
            pair: false,
        }
    }

    // ----- statements ------------------------------------------------------------------

    /// Statements of a block whose scope has already been pushed: each further
    /// statement with probability `cont`%, at most `max`. Writes `pass` if nothing was
    /// generated and `need_one` is set.
    fn block_body(&mut self, need_one: bool, cont: u32, max: usize) {
        let mut n = 0;
        while n < max && self.stmts_left > 0 && self.c.chance(cont) {
            self.stmts_left -= 1;
            self.stmt();
            n += 1;
        }
        if n == 0 && need_one {
            self.line("pass");
        }
    }

    /// A nested block: new scope, one more indentation level.
    fn block(&mut self) {
        self.indent += 1;
        self.scopes.push(Vec::new());
        self.block_body(true, 70, 6);
        self.scopes.pop();
        self.indent -= 1;
    }

    fn stmt(&mut self) {
        let in_loop = self.loop_depth > 0;
        let can_loop = self.loop_depth < self.max_loop_depth;
        let has_array = self.any_array_var();
        let can_call = !self.no_calls && !self.helpers.is_empty();
        let weights = [
            14,                                        // 0 print
            14,                                        // 1 let
            12,                                        // 2 assign
            if has_array { 5 } else { 0 },             // 3 array element store
            if has_array { 4 } else { 0 },             // 4 array_push
            10,                                        // 5 if / elif / else
            if can_loop { 4 } else { 0 },              // 6 while
            if can_loop { 5 } else { 0 },              // 7 for range
            if can_loop && has_array { 2 } else { 0 }, // 8 for in array
            4,                                         // 9 try / catch / finally
            if in_loop { 4 } else { 0 },               // 10 break / continue
            2,                                         // 11 early return
            if can_call { 4 } else { 0 },              // 12 call as a statement
            self.risky(),                              // 13 throw
            3,                                         // 14 print an f-string
            if can_call && !self.pair_helpers().is_empty() {
                4
            } else {
                0
            }, // 15 a pair taken apart
            if self.no_calls { 0 } else { 3 },         // 16 a lambda with a capture, called in a loop
            if can_loop { 3 } else { 0 },              // 17 a counted loop of float divisions
            if can_loop { 3 } else { 0 },              // 18 a loop over the rows of a grid
            if can_loop { 3 } else { 0 },              // 19 a string appended to in a loop
            if self.no_calls || self.makers.is_empty() {
                0
            } else {
                6
            }, // 20 a struct made by a helper, read and written
            if !can_loop || self.no_calls || self.makers.is_empty() || self.updaters.is_empty() {
                0
            } else {
                12
            }, // 21 a struct carried around a loop
            if can_loop { 3 } else { 0 },              // 22 an `{int: int}` map counted into in a loop
            if self.no_calls || self.array_makers.is_empty() {
                0
            } else {
                5
            }, // 23 an array literal made by a helper, read at constant indices
            if !can_loop || self.no_calls || self.field_updaters.is_empty() {
                0
            } else {
                8
            }, // 24 structs updated by a helper with branches in a loop
            if can_loop && !self.no_calls { 3 } else { 0 }, // 25 a nested def keeping state in an array
        ];
        match self.c.pick(&weights) {
            0 => {
                let n = 1 + self.c.below(3);
                let mut args = Vec::new();
                for _ in 0..n {
                    let ty = Ty::ALL[self.c.below(5) as usize];
                    args.push(self.expr(ty, EXPR_DEPTH));
                }
                self.line(&format!("print({})", args.join(", ")));
            }
            1 => {
                let ty = Ty::ALL[self.c.below(5) as usize];
                let e = self.expr(ty, EXPR_DEPTH);
                let name = self.fresh("v");
                self.line(&format!("let {name}: {} = {e}", ty.name()));
                self.declare(&name, ty, true);
                if self.c.chance(30) {
                    self.line(&format!("print(\"{name}\", {name})"));
                }
            }
            2 => {
                let vs: Vec<Var> = self
                    .scopes
                    .iter()
                    .flatten()
                    .filter(|v| v.assignable)
                    .cloned()
                    .collect();
                if vs.is_empty() {
                    let e = self.expr(Ty::Int, EXPR_DEPTH);
                    self.line(&format!("print({e})"));
                } else {
                    let v = vs[self.c.below(vs.len() as u32) as usize].clone();
                    let e = self.expr(v.ty, EXPR_DEPTH);
                    self.line(&format!("{} = {e}", v.name));
                }
            }
            3 => {
                let ty = if self.vars_of(Ty::IntArr).is_empty()
                    || (!self.vars_of(Ty::FloatArr).is_empty() && self.c.chance(50))
                {
                    Ty::FloatArr
                } else {
                    Ty::IntArr
                };
                let a = self.pick_var(ty).unwrap();
                let idx = self.index(&a);
                let e = self.expr(ty.elem().unwrap(), EXPR_DEPTH);
                self.line(&format!("{a}[{idx}] = {e}"));
            }
            4 => {
                let ty = if self.vars_of(Ty::IntArr).is_empty()
                    || (!self.vars_of(Ty::FloatArr).is_empty() && self.c.chance(50))
                {
                    Ty::FloatArr
                } else {
                    Ty::IntArr
                };
                let a = self.pick_var(ty).unwrap();
                let e = self.expr(ty.elem().unwrap(), EXPR_DEPTH);
                self.line(&format!("array_push({a}, {e})"));
            }
            5 => {
                let cond = self.expr(Ty::Bool, EXPR_DEPTH);
                self.line(&format!("if {cond}:"));
                self.block();
                let n_elif = self.c.below(3);
                for _ in 0..n_elif {
                    let cond = self.expr(Ty::Bool, EXPR_DEPTH);
                    self.line(&format!("elif {cond}:"));
                    self.block();
                }
                if self.c.chance(50) {
                    self.line("else:");
                    self.block();
                }
            }
            6 => {
                let w = self.fresh("w");
                let bound = 1 + self.c.below(6);
                self.line(&format!("let {w}: int = 0"));
                self.declare(&w, Ty::Int, false);
                let cond = if self.c.chance(25) {
                    let extra = self.expr(Ty::Bool, 2);
                    format!("({w} < {bound}) and {extra}")
                } else {
                    format!("{w} < {bound}")
                };
                self.line(&format!("while {cond}:"));
                self.indent += 1;
                self.line(&format!("{w} = {w} + 1"));
                self.indent -= 1;
                self.loop_depth += 1;
                self.block();
                self.loop_depth -= 1;
            }
            7 => {
                let (lo, hi) = if self.c.chance(40) {
                    let lo = self.expr(Ty::Int, 2);
                    let hi = self.expr(Ty::Int, 2);
                    (format!("{lo} % 3"), format!("{hi} % 6"))
                } else {
                    ("0".to_string(), (1 + self.c.below(5)).to_string())
                };
                let i = self.fresh("i");
                self.line(&format!("for {i} in range({lo}, {hi}):"));
                self.loop_body(&i, Ty::Int);
            }
            8 => {
                let ty = if self.vars_of(Ty::IntArr).is_empty()
                    || (!self.vars_of(Ty::FloatArr).is_empty() && self.c.chance(50))
                {
                    Ty::FloatArr
                } else {
                    Ty::IntArr
                };
                let a = self.pick_var(ty).unwrap();
                let x = self.fresh("x");
                self.line(&format!("for {x} in {a}:"));
                self.loop_body(&x, ty.elem().unwrap());
            }
            9 => {
                self.line("try:");
                self.try_depth += 1;
                self.block();
                self.try_depth -= 1;
                let has_catch = !self.c.chance(15);
                if has_catch {
                    let e = self.fresh("e");
                    self.line(&format!("catch {e}:"));
                    self.indent += 1;
                    self.scopes.push(Vec::new());
                    self.line(&format!("print(\"caught\", {e})"));
                    self.block_body(false, 50, 4);
                    self.scopes.pop();
                    self.indent -= 1;
                }
                if !has_catch || self.c.chance(40) {
                    self.line("finally:");
                    self.block();
                }
            }
            10 => {
                let cond = self.expr(Ty::Bool, 2);
                let kw = if self.c.chance(50) { "continue" } else { "break" };
                self.line(&format!("if {cond}:"));
                self.line(&format!("    {kw}"));
            }
            11 => {
                let cond = self.expr(Ty::Bool, 2);
                let e = self.expr(self.ret, 2);
                self.line(&format!("if {cond}:"));
                self.line("    print(\"return\")");
                self.line(&format!("    return {e}"));
            }
            12 => {
                let h = self.helpers[self.c.below(self.helpers.len() as u32) as usize].clone();
                let call = self.call(&h, EXPR_DEPTH);
                self.line(&call);
            }
            13 => {
                let cond = self.expr(Ty::Bool, 2);
                let msg = self.fresh("boom");
                self.line(&format!("if {cond}:"));
                self.line(&format!("    throw \"{msg}\""));
            }
            14 => {
                let n = 1 + self.c.below(3);
                let parts: Vec<(Ty, String)> = (0..n)
                    .map(|_| {
                        let ty = Ty::ALL[self.c.below(5) as usize];
                        (ty, self.expr(ty, 2))
                    })
                    .collect();
                // A string literal cannot appear inside an f-string's braces:
                // then every part goes through a variable first, in order.
                let quoted = parts.iter().any(|(_, e)| e.contains('"'));
                let mut text = String::new();
                for (k, (ty, e)) in parts.into_iter().enumerate() {
                    let e = if quoted {
                        let v = self.fresh("fv");
                        self.line(&format!("let {v}: {} = {e}", ty.name()));
                        v
                    } else {
                        e
                    };
                    let _ = write!(text, " s{k}={{{e}}}");
                }
                self.line(&format!("print(f\"fs{text}\")"));
            }
            15 => {
                let hs = self.pair_helpers();
                let h = hs[self.c.below(hs.len() as u32) as usize].clone();
                let call = self.call(&h, EXPR_DEPTH);
                let t = self.fresh("t");
                self.line(&format!("let {t}: (int, int) = {call}"));
                let v = self.fresh("v");
                let op = ["+", "-", "*", "^"][self.c.below(4) as usize];
                let (i, j) = if self.c.chance(50) { (0, 1) } else { (1, 0) };
                self.line(&format!("let {v}: int = {t}[{i}] {op} {t}[{j}] * 3"));
                self.declare(&v, Ty::Int, true);
                // Sometimes the pair itself is used too (it must exist then).
                if self.c.chance(20) {
                    self.line(&format!("print({t})"));
                }
            }
            16 => {
                // The captured variable may be assigned later (then it lives in
                // a cell the lambda shares).
                let k = self.fresh("k");
                let e = self.expr(Ty::Int, 2);
                self.line(&format!("let {k}: int = {e}"));
                self.declare(&k, Ty::Int, true);
                let f = self.fresh("f");
                let op = ["+", "-", "*", "^", "&"][self.c.below(5) as usize];
                let c = self.c.below(100);
                self.line(&format!(
                    "let {f}: fn(int) -> int = fn(x: int) -> int: x {op} {k} + {c}"
                ));
                let v = self.fresh("v");
                let i = self.fresh("i");
                let n = 1 + self.c.below(6);
                let arg = self.expr(Ty::Int, 1);
                self.line(&format!("let {v}: int = 0"));
                self.line(&format!("for {i} in range(0, {n}):"));
                self.line(&format!("    {v} = {v} + {f}({i} + {arg})"));
                self.declare(&v, Ty::Int, true);
            }
            17 => {
                // One basic block dividing by a function of the counter: the
                // JIT unrolls it and pairs the divisions (translate/pairing.rs).
                let v = self.fresh("v");
                let i = self.fresh("i");
                let n = self.c.below(8);
                let num = self.expr(Ty::Float, 1);
                let a = self.expr(Ty::Int, 1);
                let b = self.expr(Ty::Int, 1);
                self.line(&format!("let {v}: float = 0.0"));
                self.line(&format!("for {i} in range(0, {n}):"));
                self.line(&format!(
                    "    {v} = {v} + {num} / int_to_float({i} * ({a}) + {b})"
                ));
                self.declare(&v, Ty::Float, true);
                if self.c.chance(50) {
                    self.line(&format!("print(\"{v}\", {v})"));
                }
            }
            18 => self.grid_loop(),
            19 => self.append_loop(),
            20 => self.struct_stmt(),
            21 => self.struct_loop(),
            22 => self.map_loop(),
            23 => self.array_stmt(),
            24 => self.field_update_loop(),
            25 => self.closure_state_loop(),
            _ => unreachable!(),
        }
    }

    /// A string appended to in a counted loop (`s = s + t`, `s = s + t +
    /// to_str(n)`), which compiled code extends in place while nothing else
    /// refers to it (src/jit/translate/appends.rs), shared now and then in
    /// the middle: copied to another variable, pushed to an array, or made
    /// the key of a map. It often starts past the 64 bytes where strings go
    /// to growable buffers. Everything shared is printed at the end with its
    /// length, which must not have changed.
    fn append_loop(&mut self) {
        let (s, copy, kept, keys, i) = (
            self.fresh("s"),
            self.fresh("c"),
            self.fresh("k"),
            self.fresh("m"),
            self.fresh("i"),
        );
        let start = if self.c.chance(60) {
            "\"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\"".to_string()
        } else {
            self.str_expr(1)
        };
        let n = self.c.below(40);
        self.line(&format!("let {s}: str = {start}"));
        self.line(&format!("let {copy}: str = \"\""));
        self.line(&format!("let {kept}: [str] = []"));
        self.line(&format!("let {keys}: {{str: int}} = {{}}"));
        self.line(&format!("for {i} in range(0, {n}):"));
        let part = self.str_expr(1);
        let step = match self.c.below(3) {
            0 => format!("{s} + {part}"),
            1 => format!("{s} + {part} + to_str({i})"),
            _ => format!("{s} + to_str({i} * 7) + \",\""),
        };
        self.line(&format!("    {s} = {step}"));
        let at = self.c.below(8);
        let share = match self.c.below(5) {
            0 => format!("{copy} = {s}"),
            1 => format!("array_push({kept}, {s})"),
            2 => format!("{keys}[{s}] = {i}"),
            3 => format!("{s} = {s} + str_char_at({s}, {i})"),
            _ => String::new(),
        };
        if !share.is_empty() {
            self.line(&format!("    if {i} % 8 == {at}:"));
            self.line(&format!("        {share}"));
        }
        self.line(&format!(
            "print(len({s}), {s}, len({copy}), {copy}, {kept}, map_len({keys}), map_keys({keys}))"
        ));
    }

    /// An `{int: int}` map counted into in a counted loop, `if map_has_key(m,
    /// k): m[k] = m[k] + x` (compiled code then reads and writes the entry
    /// where the test found it: src/jit/translate/map_found.rs), with keys
    /// small (a map's direct table covers those), negative or far, and
    /// sometimes between the test and the use a removal (which may move the
    /// entries), a new key, or the key changed (then the read may raise,
    /// caught). The map is printed at the end, in order.
    fn map_loop(&mut self) {
        let (m, i, k, e) = (self.fresh("m"), self.fresh("i"), self.fresh("k"), self.fresh("e"));
        let n = self.c.below(40);
        let modulus = [4, 16, 64, 1000][self.c.below(4) as usize];
        self.line(&format!("let {m}: {{int: int}} = {{}}"));
        self.line(&format!("for {i} in range(0, {n}):"));
        let x = self.expr(Ty::Int, 1);
        let key = match self.c.below(3) {
            0 => format!("({i} * 7 + ({x})) % {modulus}"),
            1 => format!("{i} % {modulus} - 2"),
            _ => format!("({x}) * 1000003 % {modulus}"),
        };
        self.line(&format!("    let {k}: int = {key}"));
        self.line(&format!("    if map_has_key({m}, {k}):"));
        match self.c.below(5) {
            0 => self.line(&format!("        map_delete({m}, ({k} + 1) % {modulus})")),
            1 => self.line(&format!("        {m}[{k} + 100] = {i}")),
            2 => self.line(&format!("        {k} = {k} + 1")),
            _ => {}
        }
        let add = self.expr(Ty::Int, 1);
        self.line("        try:");
        self.line(&format!("            {m}[{k}] = {m}[{k}] + ({add})"));
        self.line(&format!("        catch {e}:"));
        self.line(&format!("            print(\"caught\", {e})"));
        self.line("    else:");
        self.line(&format!("        {m}[{k}] = {i}"));
        self.line(&format!("print(map_len({m}), map_keys({m}), map_values({m}))"));
    }

    /// A `[[int]]` grid of literal rows and two nested counted loops that read
    /// rows at indices the inner loop never changes (the JIT loads such rows
    /// once, in the inner loop's pre-header: `analysis::invariant_rows`),
    /// sometimes storing into a row, sometimes replacing a row (then nothing
    /// is loaded early), sometimes at an index that may be out of range
    /// (inside a `try`).
    fn grid_loop(&mut self) {
        let (g, v, i, j) = (self.fresh("g"), self.fresh("v"), self.fresh("i"), self.fresh("j"));
        let rows = 1 + self.c.below(4);
        let cols = 1 + self.c.below(4);
        let grid: Vec<String> = (0..rows)
            .map(|_| {
                let cells: Vec<String> = (0..cols).map(|_| self.literal(Ty::Int)).collect();
                format!("[{}]", cells.join(", "))
            })
            .collect();
        self.line(&format!("let {g}: [[int]] = [{}]", grid.join(", ")));
        self.line(&format!("let {v}: int = 0"));
        let lo = self.c.below(2);
        // (No calls: a loop that calls a helper loads no row early.)
        let no_calls = std::mem::replace(&mut self.no_calls, true);
        let e = self.expr(Ty::Int, 1);
        let row = match self.c.below(6) {
            0 => i.clone(),
            1 => format!("{i} - {lo}"),
            2 => format!("({i} + {e}) % {rows}"),
            3 => format!("{rows} - 1 - {i}"),
            4 => format!("({e}) % {rows}"),
            _ if self.risky() > 0 => e.clone(),
            _ => "0".to_string(),
        };
        let k = self.expr(Ty::Int, 1);
        self.no_calls = no_calls;
        self.line(&format!("for {i} in range({lo}, {rows}):"));
        self.line(&format!("    for {j} in range(0, {cols}):"));
        self.line(&format!(
            "        {v} = {v} + {g}[{row}][{j}] * ({k}) + {g}[{i}][{j}]"
        ));
        match self.c.below(4) {
            1 => self.line(&format!("        {g}[{i}][{j}] = {v} & 255")),
            2 => self.line(&format!("        {g}[{i}] = {g}[({row}) % {rows}]")),
            _ => {}
        }
        self.declare(&v, Ty::Int, true);
        if self.c.chance(60) {
            self.line(&format!("print(\"{v}\", {v}, {g})"));
        }
    }

    fn loop_body(&mut self, var: &str, ty: Ty) {
        self.indent += 1;
        self.scopes.push(Vec::new());
        self.declare(var, ty, false);
        self.loop_depth += 1;
        self.block_body(true, 75, 6);
        self.loop_depth -= 1;
        self.scopes.pop();
        self.indent -= 1;
    }

    // ----- expressions -----------------------------------------------------------------

    /// Weight of unguarded operations that may raise a runtime error.
    fn risky(&self) -> u32 {
        if self.try_depth > 0 {
            4
        } else {
            u32::from(self.risky_anywhere)
        }
    }

    /// `(a OP b)`: the operator drawn from `ops`, then both operands of type `t`;
    /// a non-empty `guard` is applied to the right operand as `(b GUARD)`, e.g.
    /// `| 1` for a non-zero divisor or `& 63` for a shift count.
    fn binary(&mut self, ops: &[&str], t: Ty, d: u32, guard: &str) -> String {
        let op = ops[self.c.below(ops.len() as u32) as usize];
        let a = self.expr(t, d);
        let b = self.expr(t, d);
        if guard.is_empty() {
            format!("({a} {op} {b})")
        } else {
            format!("({a} {op} ({b} {guard}))")
        }
    }

    fn literal(&mut self, ty: Ty) -> String {
        match ty {
            Ty::Int => {
                const INTS: [&str; 14] = [
                    "0",
                    "1",
                    "2",
                    "3",
                    "7",
                    "10",
                    "(-1)",
                    "(-5)",
                    "255",
                    "1000003",
                    "0x7f",
                    "0b101",
                    "9223372036854775807",
                    "(-9223372036854775807 - 1)",
                ];
                if self.c.chance(30) {
                    self.c.below(1000).to_string()
                } else {
                    INTS[self.c.below(INTS.len() as u32) as usize].to_string()
                }
            }
            Ty::Float => {
                const FLOATS: [&str; 14] = [
                    "0.0",
                    "1.0",
                    "0.5",
                    "2.5",
                    "0.1",
                    "3.14159",
                    "100.0",
                    "1e10",
                    "1.5e-7",
                    "1e300",
                    "(-0.0)",
                    "(-1.25)",
                    "(0.0 / 0.0)",
                    "(1.0 / 0.0)",
                ];
                if self.c.chance(30) {
                    format!("{}.{}", self.c.below(100), self.c.below(100))
                } else {
                    FLOATS[self.c.below(FLOATS.len() as u32) as usize].to_string()
                }
            }
            Ty::Bool => ["false", "true"][self.c.below(2) as usize].to_string(),
            Ty::IntArr | Ty::FloatArr => {
                let n = 1 + self.c.below(4);
                let elems: Vec<String> = (0..n).map(|_| self.literal(ty.elem().unwrap())).collect();
                format!("[{}]", elems.join(", "))
            }
        }
    }

    /// A string: a literal, one of its bytes (`str_char_at`, the empty string
    /// out of range), `chr` (which raises outside 0..127), a `substr` (clamped
    /// to the string), or a concatenation. Compiled code computes
    /// `str_char_at`, `chr`, `ord`, `len` and string `==` inline, and keeps a
    /// `substr` only compared and measured as a slice
    /// (src/jit/translate/strings.rs).
    fn str_expr(&mut self, d: u32) -> String {
        const LITERALS: [&str; 5] = ["\"\"", "\"a\"", "\"b\"", "\"hello\"", "\"x\\x00y\\xff\""];
        let lit = |c: &mut Choices| LITERALS[c.below(LITERALS.len() as u32) as usize];
        match self.c.below(if d == 0 { 1 } else { 6 }) {
            0 => lit(&mut self.c).to_string(),
            1 | 2 => {
                let s = lit(&mut self.c);
                let i = self.expr(Ty::Int, d - 1);
                format!("str_char_at({s}, {i})")
            }
            3 => {
                let i = self.expr(Ty::Int, d - 1);
                let mask = if self.c.chance(80) { " & 127" } else { "" };
                format!("chr({i}{mask})")
            }
            4 => {
                let src = self.str_expr(d - 1);
                let start = self.expr(Ty::Int, d - 1);
                let count = self.expr(Ty::Int, d - 1);
                format!("substr({src}, {start}, {count})")
            }
            _ => {
                let a = self.str_expr(d - 1);
                let b = self.str_expr(d - 1);
                format!("({a} + {b})")
            }
        }
    }

    /// An in-bounds index for the (non-empty) array variable `a`: `e % len` lies in
    /// `-len+1 .. len-1`, and negative indices count from the end.
    fn index(&mut self, a: &str) -> String {
        let e = self.expr(Ty::Int, 2);
        format!("{e} % array_len({a})")
    }

    /// A struct made by a maker helper, then: passed straight to a reader
    /// (the JIT may never allocate it), or kept in a variable whose fields
    /// are read, maybe after one is written (the JIT must see the store), or
    /// one field of the call's result read.
    fn struct_stmt(&mut self) {
        let m = self.makers[self.c.below(self.makers.len() as u32) as usize].clone();
        let call = self.call(&m, EXPR_DEPTH);
        let v = self.fresh("v");
        let x = self.expr(Ty::Int, 0);
        match self.c.below(4) {
            0 | 1 if !self.readers.is_empty() => {
                let r = self.readers[self.c.below(self.readers.len() as u32) as usize].clone();
                self.line(&format!("let {v}: int = {r}({call}, {x})"));
            }
            1 | 2 => {
                let s = self.fresh("s");
                self.line(&format!("let {s}: S2 = {call}"));
                if self.c.chance(50) {
                    let e = self.expr(Ty::Int, 1);
                    let field = if self.c.chance(50) { "a" } else { "b" };
                    self.line(&format!("{s}.{field} = {e}"));
                }
                let read = self.struct_read(&s, &x);
                self.line(&format!("let {v}: int = {read} - {s}.b"));
            }
            _ => self.line(&format!("let {v}: int = {call}.b ^ {x}")),
        }
        self.declare(&v, Ty::Int, true);
    }

    /// Two structs (made by a maker helper if there is one, else by a
    /// literal; or one, passed as both), updated by a field updater in a
    /// counted loop (its result summed if it has one), then read.
    fn field_update_loop(&mut self) {
        let (w, returns) =
            self.field_updaters[self.c.below(self.field_updaters.len() as u32) as usize].clone();
        let (s, t, acc, i) = (self.fresh("s"), self.fresh("s"), self.fresh("v"), self.fresh("i"));
        let made = self.new_s2();
        self.line(&format!("let {s}: S2 = {made}"));
        if self.c.chance(25) {
            self.line(&format!("let {t}: S2 = {s}"));
        } else {
            let made = self.new_s2();
            self.line(&format!("let {t}: S2 = {made}"));
        }
        self.line(&format!("let {acc}: int = 0"));
        let n = self.c.below(12);
        let x = self.expr(Ty::Int, 1);
        self.line(&format!("for {i} in range(0, {n}):"));
        let arg = format!("({x} + {i} * 7) % 101 - 20");
        if returns {
            self.line(&format!("    {acc} = ({acc} + {w}({s}, {t}, {arg})) % 1000003"));
        } else {
            self.line(&format!("    {w}({s}, {t}, {arg})"));
            self.line(&format!("    {acc} = ({acc} + {s}.a - {t}.b) % 1000003"));
        }
        self.line(&format!(
            "{acc} = {acc} + {s}.a * 5 + {s}.b * 7 + {t}.a * 11 + {t}.b"
        ));
        self.declare(&acc, Ty::Int, true);
    }

    /// An expression making a new `S2`: a maker helper's call, or a literal.
    fn new_s2(&mut self) -> String {
        if !self.makers.is_empty() && self.c.chance(50) {
            let m = self.makers[self.c.below(self.makers.len() as u32) as usize].clone();
            return self.call(&m, EXPR_DEPTH);
        }
        let (a, b) = (self.expr(Ty::Int, 1), self.expr(Ty::Int, 1));
        format!("S2{{a: ({a}) % 1009, b: ({b}) % 4099}}")
    }

    /// A nested `def` keeping state in a captured two-item array (what a
    /// closure with state is in this language), called in a counted loop:
    /// the JIT inlines it as an updater, with the closure and the array
    /// checked before its body. Now and then the array is the wrong
    /// length for the index the body writes (an error, caught where the
    /// program catches).
    fn closure_state_loop(&mut self) {
        let (st, f, acc, i) = (
            self.fresh("st"),
            self.fresh("f"),
            self.fresh("v"),
            self.fresh("i"),
        );
        let short = (self.try_depth > 0 || self.risky_anywhere) && self.c.chance(15);
        let init = if short {
            "[1]".to_string()
        } else {
            format!("[{}, 0]", self.c.below(9))
        };
        self.line(&format!("let {st}: [int] = {init}"));
        let k = 1 + self.c.below(7);
        self.line(&format!("def {f}(x: int) -> int:"));
        self.line(&format!("    {st}[0] = ({st}[0] * {k} + x) % 1009"));
        self.line(&format!("    if {st}[0] % 3 == 0:"));
        self.line(&format!("        {st}[1] = {st}[1] + 1"));
        self.line(&format!("    return {st}[0] + {st}[1]"));
        self.line(&format!("let {acc}: int = 0"));
        let n = self.c.below(12);
        self.line(&format!("for {i} in range(0, {n}):"));
        self.line(&format!("    {acc} = {acc} + {f}({i})"));
        self.line(&format!("{acc} = {acc} * 10 + {st}[0]"));
        self.declare(&acc, Ty::Int, true);
    }

    /// An array literal made by a maker helper, then read at constant indices
    /// (the JIT may never allocate it), or first written into, or read at an
    /// index past it (an error, caught where the program catches), or pushed
    /// onto, or measured.
    fn array_stmt(&mut self) {
        let m = self.array_makers[self.c.below(self.array_makers.len() as u32) as usize].clone();
        let call = self.call(&m, EXPR_DEPTH);
        let (t, v) = (self.fresh("t"), self.fresh("v"));
        self.line(&format!("let {t}: [int] = {call}"));
        let (i, j) = (self.c.below(3), self.c.below(3));
        match self.c.below(6) {
            0 => {
                let e = self.expr(Ty::Int, 1);
                self.line(&format!("{t}[{i}] = {e}"));
            }
            1 if self.try_depth > 0 || self.risky_anywhere => {
                self.line(&format!("let {v}0: int = {t}[3]"));
            }
            2 => self.line(&format!("array_push({t}, {t}[{i}])")),
            _ => {}
        }
        let len = if self.c.chance(20) {
            format!(" + array_len({t})")
        } else {
            String::new()
        };
        self.line(&format!("let {v}: int = {t}[{i}] * 3 - {t}[{j}]{len}"));
        self.declare(&v, Ty::Int, true);
    }

    /// A struct carried around a counted loop, made anew every round from
    /// its own fields (`s = u(s, i + x)`), which the JIT may keep in
    /// registers and make only where the VM or the code after the loop sees
    /// it; with a `break` before the first update now and then (the struct
    /// it had before the loop must stay the same object: a copy made
    /// before the loop sees a later store), a store into a field in the
    /// loop (which keeps it from being kept), a temporary one read off an
    /// update.
    fn struct_loop(&mut self) {
        let m = self.makers[self.c.below(self.makers.len() as u32) as usize].clone();
        let u = self.updaters[self.c.below(self.updaters.len() as u32) as usize].clone();
        let call = self.call(&m, EXPR_DEPTH);
        let (s, alias, acc, i) = (self.fresh("s"), self.fresh("c"), self.fresh("v"), self.fresh("i"));
        self.line(&format!("let {s}: S2 = {call}"));
        let aliased = self.c.chance(60);
        if aliased {
            self.line(&format!("let {alias}: S2 = {s}"));
        }
        self.line(&format!("let {acc}: int = 0"));
        let n = self.c.below(12);
        let x = self.expr(Ty::Int, 1);
        self.line(&format!("for {i} in range(0, {n}):"));
        if self.c.chance(40) {
            let k = self.c.below(3);
            self.line(&format!("    if {i} == {k}:"));
            self.line("        break");
        }
        self.line(&format!("    {s} = {u}({s}, {i} + {x})"));
        let read = self.struct_read(&s, &i);
        self.line(&format!("    {acc} = ({acc} + {read} - {s}.b) % 100003"));
        if self.c.chance(15) {
            let e = self.expr(Ty::Int, 1);
            self.line(&format!("    {s}.b = {e}"));
        }
        if self.c.chance(20) {
            self.line(&format!("    {acc} = {acc} + {u}({s}, 1).a"));
        }
        self.line(&format!("print(\"{acc}\", {acc}, {s}.a, {s}.b)"));
        if aliased {
            self.line(&format!("{s}.a = 77"));
            self.line(&format!("print({alias}.a, {alias}.b)"));
        }
        self.declare(&acc, Ty::Int, true);
    }

    /// An int read from the fields of the struct variable `s`: a reader
    /// helper called with `s` and `x`, or, without readers, `s.a * 3`.
    fn struct_read(&mut self, s: &str, x: &str) -> String {
        if self.readers.is_empty() {
            return format!("{s}.a * 3");
        }
        let r = self.readers[self.c.below(self.readers.len() as u32) as usize].clone();
        format!("{r}({s}, {x})")
    }

    fn call(&mut self, h: &Helper, depth: u32) -> String {
        let mut args = Vec::new();
        for (k, &t) in h.params.iter().enumerate() {
            let e = self.expr(t, depth.saturating_sub(1));
            if h.recursive && k == 0 {
                args.push(format!("({e}) & 15"));
            } else {
                args.push(e);
            }
        }
        format!("{}({})", h.name, args.join(", "))
    }

    fn expr(&mut self, ty: Ty, depth: u32) -> String {
        if depth == 0 {
            let v = self.vars_of(ty);
            if !v.is_empty() && self.c.chance(75) {
                return self.pick_var(ty).unwrap();
            }
            return self.literal(ty);
        }
        let d = depth - 1;
        let has_var = !self.vars_of(ty).is_empty();
        let calls = self.helpers_returning(ty);
        let call_w = if calls.is_empty() { 0 } else { 3 };
        let pair_w = if self.pair_helpers().is_empty() { 0 } else { 2 };
        match ty {
            Ty::Int => {
                let int_arrs = self.vars_of(Ty::IntArr);
                let any_arr = self.any_array_var();
                let w = [
                    4,                                                  // 0 literal
                    if has_var { 10 } else { 0 },                       // 1 variable
                    10,                                                 // 2 + - *
                    3,                                                  // 3 guarded / %
                    3,                                                  // 4 & | ^
                    2,                                                  // 5 shifts
                    2,                                                  // 6 unary - ~
                    if any_arr { 2 } else { 0 },                        // 7 array_len
                    if int_arrs.is_empty() { 0 } else { 4 },            // 8 a[i]
                    2,                                                  // 9 float_to_int
                    call_w,                                             // 10 helper call
                    2,                                                  // 11 abs / min / max
                    self.risky(),                                       // 12 unguarded / %
                    if int_arrs.is_empty() { 0 } else { self.risky() }, // 13 unguarded a[i]
                    1,                                                  // 14 unguarded shift count
                    3,                                                  // 15 / % by a constant
                    2,                                                  // 16 ord / len of a string
                    pair_w,                                             // 17 an item of a pair
                ];
                match self.c.pick(&w) {
                    0 => self.literal(ty),
                    1 => self.pick_var(ty).unwrap(),
                    2 => self.binary(&["+", "-", "*"], ty, d, ""),
                    3 => self.binary(&["/", "%"], ty, d, "| 1"),
                    4 => self.binary(&["&", "|", "^"], ty, d, ""),
                    5 => self.binary(&["<<", ">>"], ty, d, "& 63"),
                    6 => {
                        let op = ["-", "~"][self.c.below(2) as usize];
                        let a = self.expr(ty, d);
                        format!("({op}{a})")
                    }
                    7 => {
                        let t = if self.vars_of(Ty::IntArr).is_empty() {
                            Ty::FloatArr
                        } else {
                            Ty::IntArr
                        };
                        let a = self.pick_var(t).unwrap();
                        format!("array_len({a})")
                    }
                    8 => {
                        let a = self.pick_var(Ty::IntArr).unwrap();
                        let i = self.index(&a);
                        format!("{a}[{i}]")
                    }
                    9 => {
                        let f = self.expr(Ty::Float, d);
                        format!("float_to_int({f})")
                    }
                    10 => {
                        let h = calls[self.c.below(calls.len() as u32) as usize].clone();
                        self.call(&h, depth)
                    }
                    11 => {
                        let a = self.expr(ty, d);
                        match self.c.below(3) {
                            0 => format!("abs({a})"),
                            k => {
                                let b = self.expr(ty, d);
                                format!("{}({a}, {b})", if k == 1 { "min" } else { "max" })
                            }
                        }
                    }
                    12 => self.binary(&["/", "%"], ty, d, ""),
                    13 => {
                        let a = self.pick_var(Ty::IntArr).unwrap();
                        let i = self.expr(ty, d);
                        format!("{a}[{i}]")
                    }
                    14 => self.binary(&["<<", ">>"], ty, d, ""),
                    15 => {
                        // Constant divisors take the JIT's magic-number and
                        // range-based paths (src/jit/ranges.rs), on loop
                        // counters and accumulators among other operands.
                        const DIVISORS: [&str; 12] = [
                            "2",
                            "3",
                            "4",
                            "7",
                            "8",
                            "10",
                            "16",
                            "1000",
                            "1000003",
                            "1000000007",
                            "(-3)",
                            "(-8)",
                        ];
                        let op = ["/", "%"][self.c.below(2) as usize];
                        let a = self.expr(ty, d);
                        let c = DIVISORS[self.c.below(DIVISORS.len() as u32) as usize];
                        format!("({a} {op} {c})")
                    }
                    16 => {
                        // `ord` raises on the empty string (a valid outcome).
                        let f = ["ord", "len"][self.c.below(2) as usize];
                        let a = self.str_expr(d);
                        format!("{f}({a})")
                    }
                    17 => {
                        let hs = self.pair_helpers();
                        let h = hs[self.c.below(hs.len() as u32) as usize].clone();
                        let k = self.c.below(2);
                        format!("{}[{k}]", self.call(&h, depth))
                    }
                    _ => unreachable!(),
                }
            }
            Ty::Float => {
                let float_arrs = self.vars_of(Ty::FloatArr);
                let w = [
                    4,                                         // 0 literal
                    if has_var { 10 } else { 0 },              // 1 variable
                    10,                                        // 2 + - * /
                    2,                                         // 3 % (fmod)
                    2,                                         // 4 unary -
                    3,                                         // 5 int_to_float
                    if float_arrs.is_empty() { 0 } else { 4 }, // 6 a[i]
                    call_w,                                    // 7 helper call
                    2,                                         // 8 fsqrt / fabs / ffloor
                ];
                match self.c.pick(&w) {
                    0 => self.literal(ty),
                    1 => self.pick_var(ty).unwrap(),
                    2 => self.binary(&["+", "-", "*", "/"], ty, d, ""),
                    3 => {
                        let a = self.expr(ty, d);
                        let b = self.expr(ty, d);
                        format!("({a} % {b})")
                    }
                    4 => {
                        let a = self.expr(ty, d);
                        format!("(-{a})")
                    }
                    5 => {
                        let i = self.expr(Ty::Int, d);
                        format!("int_to_float({i})")
                    }
                    6 => {
                        let a = self.pick_var(Ty::FloatArr).unwrap();
                        let i = self.index(&a);
                        format!("{a}[{i}]")
                    }
                    7 => {
                        let h = calls[self.c.below(calls.len() as u32) as usize].clone();
                        self.call(&h, depth)
                    }
                    8 => {
                        let f = ["fsqrt", "fabs", "ffloor"][self.c.below(3) as usize];
                        let a = self.expr(ty, d);
                        format!("{f}({a})")
                    }
                    _ => unreachable!(),
                }
            }
            Ty::Bool => {
                let w = [
                    3,                           // 0 literal
                    if has_var { 6 } else { 0 }, // 1 variable
                    10,                          // 2 int comparison
                    5,                           // 3 float comparison
                    6,                           // 4 and / or
                    2,                           // 5 not
                    2,                           // 6 bool == / !=
                    call_w,                      // 7 helper call
                    1,                           // 8 is_nan
                    2,                           // 9 string == / !=
                ];
                match self.c.pick(&w) {
                    0 => self.literal(ty),
                    1 => self.pick_var(ty).unwrap(),
                    2 | 3 => {
                        let t = if self.c.chance(35) { Ty::Float } else { Ty::Int };
                        self.binary(&["<", "<=", ">", ">=", "==", "!="], t, d, "")
                    }
                    4 => self.binary(&["and", "or"], ty, d, ""),
                    5 => {
                        let a = self.expr(ty, d);
                        format!("(not {a})")
                    }
                    6 => self.binary(&["==", "!="], ty, d, ""),
                    7 => {
                        let h = calls[self.c.below(calls.len() as u32) as usize].clone();
                        self.call(&h, depth)
                    }
                    8 => {
                        let a = self.expr(Ty::Float, d);
                        format!("is_nan({a})")
                    }
                    9 => {
                        let op = ["==", "!="][self.c.below(2) as usize];
                        let a = self.str_expr(d);
                        let b = self.str_expr(d);
                        format!("({a} {op} {b})")
                    }
                    _ => unreachable!(),
                }
            }
            Ty::IntArr | Ty::FloatArr => {
                let w = [
                    4,                           // 0 literal
                    if has_var { 4 } else { 0 }, // 1 alias of a variable
                    if has_var { 2 } else { 0 }, // 2 array_copy
                    if has_var { 1 } else { 0 }, // 3 array_concat
                    2,                           // 4 literal of expressions
                ];
                match self.c.pick(&w) {
                    0 => self.literal(ty),
                    1 => self.pick_var(ty).unwrap(),
                    2 => format!("array_copy({})", self.pick_var(ty).unwrap()),
                    3 => {
                        // The second operand is a literal, so an array grows by a few
                        // elements per concat: `v = array_concat(v, v)` in a loop would
                        // grow it exponentially (a found "timeout").
                        let a = self.pick_var(ty).unwrap();
                        let b = self.literal(ty);
                        format!("array_concat({a}, {b})")
                    }
                    4 => {
                        let n = 1 + self.c.below(3);
                        let elem = ty.elem().unwrap();
                        let elems: Vec<String> = (0..n).map(|_| self.expr(elem, d)).collect();
                        format!("[{}]", elems.join(", "))
                    }
                    _ => unreachable!(),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running programs
// ---------------------------------------------------------------------------------------

/// Wall-clock limit for one run (a hang in any engine is a failure, not a stuck test).
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    /// Exit code, or `None` when killed by a signal / the timeout.
    status: Option<i32>,
}

struct RunResult {
    outcome: Outcome,
    stderr: String,
    timed_out: bool,
}

fn scratch_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

static FILE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A uniquely named file in the scratch directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(ext: &str) -> TempFile {
        let n = FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
        TempFile(scratch_dir().join(format!("p{}_{n}.{ext}", std::process::id())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Run `bp ARGS FILE` with the extra environment; stdout/stderr go to files (no pipe
/// deadlocks) and the run is killed after `TIMEOUT`.
fn run_bp(args: &[&str], file: &Path, env: &[(&str, &str)]) -> RunResult {
    let out = TempFile::new("out");
    let err = TempFile::new("err");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bp"));
    cmd.args(args).arg(file);
    cmd.env_remove("BP_GC_STRESS").env_remove("BP_DEOPT_STRESS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out.0).unwrap())
        .stderr(std::fs::File::create(&err.0).unwrap());
    let mut child = cmd.spawn().expect("cannot start bp");
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            timed_out = true;
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    RunResult {
        outcome: Outcome {
            stdout: read(&out.0),
            status: if timed_out { None } else { status.code() },
        },
        stderr: read(&err.0),
        timed_out,
    }
}

fn write_program(src: &str) -> TempFile {
    let f = TempFile::new("bp");
    std::fs::write(&f.0, src).unwrap();
    f
}

/// A run compared against the `bp run --no-jit` reference.
struct Variant {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "jit0",
        args: &["run", "--jit-threshold", "0"],
        env: &[],
    },
    Variant {
        name: "deoptstress",
        args: &["run", "--jit-threshold", "0"],
        env: &[("BP_DEOPT_STRESS", "1")],
    },
    // Collections at about every other allocation, minor but for every
    // eighth, each checked for an old object that refers to an unmarked one
    // (a store without the write barrier).
    Variant {
        name: "jitgen",
        args: &["run", "--jit-threshold", "0"],
        env: &[("BP_GC_STRESS", "gen")],
    },
];

fn show(s: &str) -> String {
    const LIMIT: usize = 4000;
    if s.len() <= LIMIT {
        s.to_string()
    } else {
        let mut cut = LIMIT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}\n... ({} bytes in total)", &s[..cut], s.len())
    }
}

/// How a program fared.
#[derive(Debug)]
enum Verdict {
    Agree,
    /// The generator made a program that `bp check` rejects (a bug in this test).
    Invalid(String),
    /// The interpreter did not finish in time (a bug in this test's loop bounds).
    Hang,
    /// An engine differs from the interpreter.
    Mismatch(String),
}

impl Verdict {
    fn same_kind(&self, other: &Verdict) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// Check one program: it must type-check, and every engine must agree with the
/// interpreter on stdout and exit status.
fn check_program(src: &str) -> Verdict {
    let file = write_program(src);
    let check = run_bp(&["check"], &file.0, &[]);
    if check.outcome.status != Some(0) {
        return Verdict::Invalid(format!(
            "generated program does not type-check:\n{}",
            show(&check.stderr)
        ));
    }
    let reference = run_bp(&["run", "--no-jit"], &file.0, &[]);
    if reference.timed_out {
        return Verdict::Hang;
    }
    for Variant { name, args, env } in VARIANTS {
        let r = run_bp(args, &file.0, env);
        if r.outcome != reference.outcome {
            return Verdict::Mismatch(format!(
                "engine `{name}` (bp {} FILE, env {env:?}) differs from `bp run --no-jit`\n\
                 --- interpreter: status {:?}\n{}\n--- interpreter stderr:\n{}\n\
                 --- {name}: status {:?}{}\n{}\n--- {name} stderr:\n{}",
                args.join(" "),
                reference.outcome.status,
                show(&reference.outcome.stdout),
                show(&reference.stderr),
                r.outcome.status,
                if r.timed_out { " (timed out)" } else { "" },
                show(&r.outcome.stdout),
                show(&r.stderr),
            ));
        }
    }
    Verdict::Agree
}

// ---------------------------------------------------------------------------------------
// Minimising a failure
// ---------------------------------------------------------------------------------------
//
// proptest's own shrinking of a long `Vec<u32>` is slow (it deletes one element at a
// time, which shifts every later choice and changes the whole program). This generator
// reads its choices in order and treats 0 as "simplest", so a better minimiser zeroes
// runs of choices in place (Hypothesis-style), then deletes source lines (with their
// blocks). A candidate is kept only if it fails the same way (a mismatch stays a
// mismatch: a candidate that no longer type-checks is rejected).

struct Minimizer {
    deadline: Instant,
    kind: Verdict,
    attempts: usize,
}

impl Minimizer {
    fn fails(&mut self, src: &str) -> bool {
        self.attempts += 1;
        check_program(src).same_kind(&self.kind)
    }

    fn out_of_time(&self) -> bool {
        Instant::now() > self.deadline
    }

    /// Zero runs of choices, from long runs to single choices, until nothing changes.
    fn choices(&mut self, mut data: Vec<u32>) -> Vec<u32> {
        let (_, used) = generate_counted(&data);
        data.truncate(used);
        loop {
            let mut progress = false;
            for size in [256usize, 64, 16, 4, 1] {
                let mut start = 0;
                while start < data.len() {
                    if self.out_of_time() {
                        return data;
                    }
                    let end = (start + size).min(data.len());
                    if data[start..end].iter().any(|&v| v != 0) {
                        let mut cand = data.clone();
                        cand[start..end].iter_mut().for_each(|v| *v = 0);
                        if generate(&cand) != generate(&data) && self.fails(&generate(&cand)) {
                            data = cand;
                            progress = true;
                        }
                    }
                    start = end;
                }
            }
            // Trailing zeros read like missing choices.
            while data.last() == Some(&0) {
                data.pop();
            }
            if !progress {
                return data;
            }
        }
    }

    /// Delete source lines (a line ending in `:` together with its indented block),
    /// from the end, until nothing changes.
    fn lines(&mut self, src: String) -> String {
        let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
        loop {
            let mut progress = false;
            let mut i = lines.len();
            while i > 0 {
                i -= 1;
                if i >= lines.len() || self.out_of_time() {
                    continue;
                }
                let indent = |l: &str| l.len() - l.trim_start().len();
                let mut end = i + 1;
                if lines[i].ends_with(':') {
                    while end < lines.len() && indent(&lines[end]) > indent(&lines[i]) {
                        end += 1;
                    }
                }
                let mut cand = lines.clone();
                cand.drain(i..end);
                let text = cand.join("\n") + "\n";
                if self.fails(&text) {
                    lines = cand;
                    progress = true;
                }
            }
            if !progress || self.out_of_time() {
                return lines.join("\n") + "\n";
            }
        }
    }
}

/// Minimise a failing choice sequence; returns the smallest failing program found and
/// its verdict.
fn minimize(data: Vec<u32>, budget: Duration) -> (String, Verdict) {
    let src = generate(&data);
    let kind = check_program(&src);
    if matches!(kind, Verdict::Agree) {
        return (src, kind); // flaky: report as is
    }
    let mut m = Minimizer {
        deadline: Instant::now() + budget,
        kind,
        attempts: 0,
    };
    let data = m.choices(data);
    let src = m.lines(generate(&data));
    let verdict = check_program(&src);
    eprintln!("minimiser: {} attempts", m.attempts);
    (src, verdict)
}

fn choices() -> impl Strategy<Value = Vec<u32>> {
    vec(any::<u32>(), CHOICES)
}

fn env_u32(name: &str) -> Option<u32> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn config() -> Config {
    Config {
        cases: env_u32("PROPTEST_CASES").unwrap_or(64),
        // Shrinking is done by `minimize` (see there).
        max_shrink_iters: 0,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// The property: interpreter, JIT and JIT-with-deopt-stress agree on every program.
#[test]
fn engines_agree_on_random_programs() {
    let show_all = std::env::var("BP_DIFF_SHOW").is_ok_and(|v| v == "1");
    let mut runner = TestRunner::new(config());
    let result = runner.run(&choices(), |data| {
        let src = generate(&data);
        if show_all {
            eprintln!("----- program -----\n{src}");
        }
        match check_program(&src) {
            Verdict::Agree => Ok(()),
            v => Err(TestCaseError::fail(format!("{v:?}"))),
        }
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(_, data)) => {
            let budget = Duration::from_millis(u64::from(env_u32("BP_DIFF_MINIMIZE_MS").unwrap_or(120_000)));
            let (src, verdict) = minimize(data, budget);
            let reason = match &verdict {
                Verdict::Agree => "(the failure did not reproduce)".to_string(),
                Verdict::Invalid(m) | Verdict::Mismatch(m) => m.clone(),
                Verdict::Hang => "the interpreter timed out (generator bug: unbounded program?)".into(),
            };
            panic!(
                "differential test failed (minimised program below)\n\
                 ===== program =====\n{src}===== end =====\n{reason}"
            );
        }
        Err(e) => panic!("{e}"),
    }
}

/// Guard against a vacuous property: generated programs must type-check and, run by the
/// interpreter, nearly all print something and most run to completion.
/// `BP_DIFF_DUMP=DIR` writes the programs and their outputs to DIR.
#[test]
fn generator_makes_valid_programs_that_run() {
    let mut runner = TestRunner::deterministic();
    let strategy = choices();
    let n = 40;
    let (mut printed, mut completed, mut lines, mut bytes, mut used) = (0, 0, 0, 0, 0);
    let mut endings = std::collections::BTreeMap::<String, usize>::new();
    for k in 0..n {
        let data = strategy.new_tree(&mut runner).unwrap().current();
        let (src, u) = generate_counted(&data);
        used += u;
        bytes += src.len();
        let file = write_program(&src);
        let check = run_bp(&["check"], &file.0, &[]);
        assert_eq!(
            check.outcome.status,
            Some(0),
            "generated program does not type-check:\n{src}\n{}",
            check.stderr
        );
        let run = run_bp(&["run", "--no-jit"], &file.0, &[]);
        assert!(!run.timed_out, "generated program runs too long:\n{src}");
        if !run.outcome.stdout.is_empty() {
            printed += 1;
        }
        if run.outcome.stdout.lines().any(|l| l.starts_with("done")) {
            completed += 1;
        }
        lines += run.outcome.stdout.lines().count();
        if let Some(first) = run
            .stderr
            .lines()
            .find(|l| l.contains("error") || l.contains("exception"))
        {
            *endings
                .entry(first.split_once(": ").map_or(first, |x| x.1).to_string())
                .or_insert(0) += 1;
        }
        if let Ok(dir) = std::env::var("BP_DIFF_DUMP") {
            let base = Path::new(&dir).join(format!("gen{k:02}"));
            std::fs::write(base.with_extension("bp"), &src).unwrap();
            std::fs::write(base.with_extension("out"), &run.outcome.stdout).unwrap();
        }
    }
    eprintln!(
        "{n} programs: {} source bytes and {} choices on average, {printed} printed something, \
         {completed} ran to the end, {} output lines on average; runtime errors: {endings:?}",
        bytes / n,
        used / n,
        lines / n
    );
    assert!(
        printed * 10 >= n * 9,
        "only {printed} of {n} programs printed anything"
    );
    assert!(
        completed * 2 >= n,
        "only {completed} of {n} programs ran to the end"
    );
}

/// The all-zero choice sequence gives the simplest program, which must work too.
#[test]
fn simplest_program_runs() {
    let src = generate(&[]);
    assert!(src.contains("def main() -> int:"), "{src}");
    assert!(matches!(check_program(&src), Verdict::Agree));
    let file = write_program(&src);
    let run = run_bp(&["run", "--no-jit"], &file.0, &[]);
    assert_eq!(run.outcome.stdout, "done\n");
    assert_eq!(run.outcome.status, Some(0));
}
