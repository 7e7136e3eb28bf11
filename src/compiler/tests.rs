//! Compiler tests: source snippets parsed, checked, compiled, then disassembled
//! (structure of the code) and run on the VM (behaviour).

use crate::bytecode::disasm::disassemble;
use crate::bytecode::{Instr, Program};
use crate::diag::{Diagnostics, SourceMap};

/// Parse, check and compile `src` as the single module `t.bp`.
fn build(src: &str) -> Result<Program, String> {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let file = sources.add("t.bp".to_string(), src.to_string());
    let m = crate::parser::parse_module(src, file, "t", &mut diags);
    let mut mods = vec![m];
    let info = crate::types::check::check_program(&mut mods, &mut diags);
    if diags.has_errors() {
        return Err(diags
            .list
            .iter()
            .map(|d| format!("{}: {}", sources.location(d.span), d.message))
            .collect());
    }
    let p = super::compile_program(&mods, &info, &sources, &mut diags);
    if diags.has_errors() {
        return Err(diags
            .list
            .iter()
            .map(|d| format!("{}: {}\n", sources.location(d.span), d.message))
            .collect());
    }
    Ok(p)
}

fn build_ok(src: &str) -> Program {
    match build(src) {
        Ok(p) => p,
        Err(e) => panic!("compile failed:\n{e}\nsource:\n{src}"),
    }
}

fn disasm(src: &str) -> String {
    disassemble(&build_ok(src))
}

/// The listing of one function by name.
fn func_listing(src: &str, name: &str) -> String {
    let p = build_ok(src);
    let id = p
        .functions
        .iter()
        .position(|f| f.name == name)
        .unwrap_or_else(|| panic!("no function {name}"));
    let mut out = String::new();
    crate::bytecode::disasm::disassemble_function(&p, id, &p.functions[id], &mut out);
    out
}

fn func<'p>(p: &'p Program, name: &str) -> &'p crate::bytecode::Function {
    p.functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no function {name}"))
}

/// Compile and run; returns (exit status, stdout, stderr).
fn run(src: &str) -> (i32, String, String) {
    let p = build_ok(src);
    let (code, out, err) = crate::vm::run_capture(&p, crate::vm::VmOptions::default());
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

fn run_ok(src: &str) -> String {
    let (code, out, err) = run(src);
    assert_eq!(
        code,
        0,
        "exit status {code}; stdout:\n{out}\nstderr:\n{err}\nlisting:\n{}",
        disasm(src)
    );
    out
}

/// Every function's invariants: registers in range, classes consistent with
/// the kinds of parameters, handler ranges inside the code, jump targets valid.
fn check_invariants(p: &Program) {
    if let Err(e) = crate::vm::verify::verify(p) {
        panic!("bytecode verification failed: {e}\n{}", disassemble(p));
    }
    for f in &p.functions {
        assert_eq!(f.ref_regs.len(), f.nregs as usize, "{}", f.name);
        assert_eq!(f.code.len(), f.locs.len(), "{}", f.name);
        assert!(f.nregs <= 256);
        for (i, k) in f.param_kinds.iter().enumerate() {
            assert_eq!(
                f.ref_regs[i],
                *k == bp_runtime::value::ValKind::Ref,
                "{} param {i}",
                f.name
            );
        }
        for i in &f.code {
            if let Some(t) = i.jump_target() {
                assert!((t as usize) <= f.code.len(), "{}: jump out of range", f.name);
            }
        }
        for h in &f.handlers {
            assert!(
                h.start < h.end && (h.end as usize) <= f.code.len() && (h.target as usize) < f.code.len()
            );
        }
    }
}

#[test]
fn smoke_hello() {
    let src = "def main() -> int:\n    print(\"hello\", 1 + 2)\n    return 0\n";
    let p = build_ok(src);
    check_invariants(&p);
    assert_eq!(run_ok(src), "hello 3\n");
}

fn has(listing: &str, needle: &str) -> bool {
    listing.lines().any(|l| l.contains(needle))
}

fn count(listing: &str, mnemonic: &str) -> usize {
    listing
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some(mnemonic))
        .count()
}

// ----- expressions ---------------------------------------------------------------

#[test]
fn arithmetic_and_immediates() {
    let src = "def f(x: int, y: int) -> int:\n    let a: int = x + 1\n    let b: int = x - 1\n    let c: int = 2 + y\n    let d: int = x * y - a\n    return a + b + c + d\n\ndef main() -> int:\n    print(f(3, 4), 7 / 2, -7 / 2, -7 % 2, 2.5 * 2.0, 1 << 3, -16 >> 2, 6 & 3, 6 | 3, 6 ^ 3, ~5)\n    print(\"a\" + \"b\", 5.5 % 2.0, -(3), -(2.5))\n    return 0\n";
    let l = func_listing(src, "f");
    assert!(has(&l, "AddIImm      r2, r0, 1"), "{l}");
    assert!(has(&l, "AddIImm      r3, r0, -1"), "{l}");
    assert!(has(&l, "AddIImm      r4, r1, 2"), "{l}");
    assert_eq!(count(&l, "Mov"), 0, "{l}");
    assert_eq!(run_ok(src), "20 3 -3 -1 5 8 -4 2 7 5 -6\nab 1.5 -3 -2.5\n");
}

#[test]
fn modular_add_and_multiply_are_one_instruction() {
    let src = "def f(x: int, y: int) -> int:\n    let a: int = (x + y) % 1000003\n    let b: int = (x * y) % -7\n    let c: int = (x + 1) % 5\n    let d: int = (x - y) % 5\n    let e: int = (x + y) % 0\n    let g: int = (x * y) % 5000000000\n    return a + b + c + d + e + g\n\ndef main() -> int:\n    print(f(3, 4))\n    return 0\n";
    let l = func_listing(src, "f");
    assert!(has(&l, "AddModIImm   r2, r0, r1, 1000003"), "{l}");
    assert!(has(&l, "MulModIImm   r3, r0, r1, -7"), "{l}");
    // An immediate inner operand, a subtraction, `% 0` (which raises) and a
    // modulus that is no `i32` keep their own instructions.
    assert_eq!(count(&l, "AddModIImm") + count(&l, "MulModIImm"), 2, "{l}");
    assert!(has(&l, "ModIImm      r4, r4, 5"), "{l}");
    assert!(has(&l, "SubI "), "{l}");
    assert!(has(&l, "ModI "), "{l}");
    let (status, out, err) = run(src);
    assert_eq!((status, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("modulo by zero"), "{err}");
}

#[test]
fn assignment_compiles_into_the_variable() {
    let src = "def main() -> int:\n    let a: int = 1\n    let b: int = 2\n    let x: int = 0\n    x = a + b\n    x = x * 2\n    print(x)\n    return 0\n";
    let l = func_listing(src, "main");
    assert!(has(&l, "AddI         r2, r0, r1"), "{l}");
    assert!(has(&l, "MulIImm      r2, r2, 2"), "{l}");
    assert_eq!(count(&l, "Mov"), 0, "{l}");
    assert_eq!(run_ok(src), "6\n");
}

#[test]
fn short_circuit() {
    let src = "let calls: int = 0\n\ndef t(v: bool) -> bool:\n    calls = calls + 1\n    return v\n\ndef main() -> int:\n    let a: bool = false and t(true)\n    let b: bool = true or t(true)\n    let c: bool = true and t(false)\n    let d: bool = false or t(true)\n    print(a, b, c, d, calls)\n    let xs: [int] = [1]\n    let i: int = 5\n    if i < 1 and xs[i] == 0:\n        print(\"no\")\n    if i > 1 or xs[i] == 0:\n        print(\"yes\")\n    c = d and c\n    d = d or c\n    print(c, d)\n    if not (a or b) or (c and d):\n        print(\"no\")\n    else:\n        print(\"else\")\n    return 0\n";
    assert_eq!(run_ok(src), "false true false true 2\nyes\nfalse true\nelse\n");
}

/// `and` / `or` whose right operand is a comparison of quiet operands (or a
/// `not` / `and` / `or` of such) evaluate both sides and combine them with `&`
/// / `|`: no jump, so the predicate is straight-line code (a callee the JIT
/// inlines). Other right operands still short-circuit.
#[test]
fn cheap_conditions_are_branch_free() {
    let src = "def word(k: int) -> bool:\n    return (k >= 97 and k <= 122) or (k >= 48 and k <= 57) or k == 95\n\ndef mixed(x: float, b: bool) -> bool:\n    return b and not (x < 1.0 or x != x)\n\ndef main() -> int:\n    let n: int = 0\n    for k in range(0, 256):\n        if word(k):\n            n = n + 1\n    let nan: float = 0.0 / 0.0\n    print(n, mixed(2.0, true), mixed(0.5, true), mixed(nan, true), mixed(2.0, false))\n    return 0\n";
    for f in ["word", "mixed"] {
        let l = func_listing(src, f);
        assert!(!has(&l, "Jmp") && !has(&l, "Br"), "{l}");
    }
    assert_eq!(run_ok(src), "37 true false false false\n");
}

#[test]
fn comparisons_typed() {
    let src = "struct P:\n    x: int\n\ndef main() -> int:\n    let f: float = 1.5\n    let nan: float = 0.0 / 0.0\n    print(1 < 2, 2 <= 1, 3 > 2, 3 >= 4, 1 == 1, 1 != 1)\n    print(f < 2.0, f > 2.0, f == 1.5, nan == nan, nan != nan, nan < 1.0, nan >= 1.0)\n    print(\"a\" == \"a\", \"a\" != \"b\", [1, 2] == [1, 2], P{x: 1} == P{x: 1}, true == false)\n    if nan < 1.0:\n        print(\"bad\")\n    if nan >= 1.0:\n        print(\"bad\")\n    if not (nan < 1.0):\n        print(\"nan ok\")\n    let n: int = 0\n    while nan <= 1.0:\n        n = n + 1\n    while f > 0.0:\n        f = f - 1.0\n        n = n + 1\n    print(n)\n    return 0\n";
    let l = func_listing(src, "main");
    assert!(has(&l, "EqRef"), "{l}");
    assert!(
        has(&l, "BrNotLtF") && has(&l, "BrNotLeF") && has(&l, "BrLtF"),
        "{l}"
    );
    assert_eq!(
        run_ok(src),
        "true false true false true false\ntrue false true false true false false\ntrue true true true false\nnan ok\n2\n"
    );
}

#[test]
fn fused_int_branches() {
    let src = "def main() -> int:\n    let a: int = 3\n    let b: int = 5\n    if a < b:\n        print(1)\n    if a > 10:\n        print(2)\n    elif 2 < a:\n        print(3)\n    if a == b:\n        print(4)\n    else:\n        print(5)\n    return 0\n";
    let l = func_listing(src, "main");
    // `if a < b` falls through when true: branch away when b <= a.
    assert!(has(&l, "BrLeI        r1, r0 ->"), "{l}");
    assert!(has(&l, "BrLeIImm     r0, 10 ->"), "{l}");
    // `2 < a` is `a > 2`; negated: a <= 2.
    assert!(has(&l, "BrLeIImm     r0, 2 ->"), "{l}");
    assert!(has(&l, "BrNeI        r0, r1 ->"), "{l}");
    assert_eq!(run_ok(src), "1\n3\n5\n");
}

#[test]
fn strings_fstrings_and_typeof() {
    let src = "struct P:\n    x: int\n\ndef main() -> int:\n    let n: int = 4\n    let f: float = 2.5\n    let s: str = \"hi\"\n    print(f\"n={n} f={f} s={s} b={n > 3} a={[1, 2]}\")\n    print(f\"{n}\", f\"{s}\", f\"lit\", f\"\")\n    print(typeof(n), typeof(f), typeof(s), typeof(true), typeof([1]), typeof({\"a\": 1}), typeof(P{x: 1}), typeof((1, \"a\")))\n    print(to_str(n) + to_str(f) + to_str(true) + to_str(s))\n    return 0\n";
    let l = func_listing(src, "main");
    assert!(has(&l, "ConcatN"), "{l}");
    assert!(has(&l, "\"struct\""), "{l}");
    assert_eq!(
        run_ok(src),
        "n=4 f=2.5 s=hi b=true a=[1, 2]\n4 hi lit \nint float str bool array map struct tuple\n42.5truehi\n"
    );
}

#[test]
fn containers_and_nested_assignment() {
    let src = "struct Inner:\n    c: int\n\nstruct Outer:\n    b: Inner\n    items: [int]\n\ndef main() -> int:\n    let grid: [[int]] = [[1, 2], [3, 4]]\n    grid[1][0] = 9\n    let m: {str: int} = {\"a\": 1, \"b\": 2}\n    m[\"c\"] = 3\n    m[\"a\"] = m[\"a\"] + 10\n    let o: Outer = Outer{items: [7, 8], b: Inner{c: 5}}\n    o.b.c = 6\n    o.items[0] = 70\n    print(grid, m, o.b.c, o.items, grid[-1][-1])\n    let t: (int, str, float) = (1, \"x\", 2.5)\n    print(t[0], t[1], t[-1], t)\n    return 0\n";
    assert_eq!(
        run_ok(src),
        "[[1, 2], [9, 4]] {\"a\": 11, \"b\": 2, \"c\": 3} 6 [70, 8] 4\n1 x 2.5 (1, \"x\", 2.5)\n"
    );
}

#[test]
fn struct_literal_fields_in_written_order() {
    // Fields are evaluated left to right as written and stored by declaration position.
    let src = "struct P:\n    x: int\n    y: int\n\nlet n: int = 0\n\ndef next() -> int:\n    n = n + 1\n    return n\n\ndef main() -> int:\n    let p: P = P{y: next(), x: next()}\n    print(p.x, p.y, p)\n    return 0\n";
    assert_eq!(run_ok(src), "2 1 P{x: 2, y: 1}\n");
    let l = func_listing(src, "main");
    assert!(has(&l, "NewStruct    r2 = P{x: r1, y: r0}"), "{l}");
    assert!(has(&l, "GetField     r0 = r2.x"), "{l}");
}

#[test]
fn long_literals_are_chunked() {
    let elems: Vec<String> = (0..150).map(|i| i.to_string()).collect();
    let pairs: Vec<String> = (0..60).map(|i| format!("{i}: {}", i * 2)).collect();
    let src = format!(
        "def main() -> int:\n    let xs: [int] = [{}]\n    let m: {{int: int}} = {{{}}}\n    print(array_len(xs), xs[149], map_len(m), m[59])\n    xs = [{}]\n    print(xs[100])\n    return 0\n",
        elems.join(", "),
        pairs.join(", "),
        elems.join(", ")
    );
    let p = build_ok(&src);
    check_invariants(&p);
    assert!(func(&p, "main").nregs < 100);
    assert_eq!(run_ok(&src), "150 149 60 118\n100\n");
}

#[test]
fn builtins_with_kind_arguments() {
    let src = "def main() -> int:\n    let a: [float] = array_fill(3, 1.5)\n    let b: [str] = array_fill(2, \"s\")\n    print(a, b, json_stringify([1, 2]), json_stringify(\"x\"))\n    let xs: [int] = [3, 1, 2]\n    array_push(xs, 0)\n    print(array_len(xs), len(\"abc\"))\n    return 0\n";
    let l = func_listing(src, "main");
    // array_fill(n, v) gets the kind of T (float = 1) as an extra argument.
    assert!(has(&l, "= array_fill(r"), "{l}");
    assert!(has(&l, "ArrLen"), "{l}");
    assert_eq!(run_ok(src), "[1.5, 1.5, 1.5] [\"s\", \"s\"] [1,2] \"x\"\n4 3\n");
}

// ----- statements and control flow -----------------------------------------------

#[test]
fn range_loop_semantics() {
    let src = "def main() -> int:\n    let xs: [int] = [1, 2]\n    for i in range(0, array_len(xs)):\n        if i < 3:\n            array_push(xs, i)\n    print(xs)\n    for i in range(0, 10):\n        if i == 2:\n            i = 7\n        if i % 2 == 1:\n            continue\n        print(i)\n    let n: int = 0\n    for i in range(5, 3):\n        n = n + 1\n    print(n)\n    return 0\n";
    let l = func_listing(src, "main");
    // The end `array_len(xs)` is evaluated every round (the loop sees the array
    // grow): a test at the header and `Loop`; the literal ends are loaded once and
    // the back-edge is `ForLoop` (assigning the loop variable still counts).
    assert_eq!(count(&l, "Loop"), 1, "{l}");
    assert_eq!(count(&l, "ForLoop"), 2, "{l}");
    assert!(has(&l, "(loop 2)"), "{l}");
    assert_eq!(run_ok(src), "[1, 2, 0, 1, 2]\n0\n8\n0\n");
}

#[test]
fn for_in_arrays_and_maps() {
    let src = "def main() -> int:\n    let xs: [int] = [1, 2, 3]\n    for x in xs:\n        if x == 1:\n            array_push(xs, 99)\n        for y in xs:\n            if y == 2:\n                break\n            print(x, y)\n    let m: {str: int} = {\"b\": 1, \"a\": 2}\n    m[\"c\"] = 3\n    for k in m:\n        m[\"z\"] = 0\n        print(k, m[k])\n    let ys: [str] = [\"p\", \"q\"]\n    for s in ys:\n        ys = [\"other\"]\n        print(s)\n    return 0\n";
    assert_eq!(run_ok(src), "1 1\n2 1\n3 1\nb 1\na 2\nc 3\np\nq\n");
}

#[test]
fn while_break_continue() {
    let src = "def main() -> int:\n    let i: int = 0\n    let s: int = 0\n    while true:\n        i = i + 1\n        if i > 10:\n            break\n        if i % 3 == 0:\n            continue\n        s = s + i\n    print(i, s)\n    return 0\n";
    assert_eq!(run_ok(src), "11 37\n");
}

#[test]
fn match_statement() {
    let src = "def name(c: int) -> str:\n    let r: str = \"\"\n    match c:\n        default:\n            r = \"other\"\n        case 200:\n            r = \"ok\"\n        case 404:\n            r = \"missing\"\n        case 200:\n            r = \"dup\"\n    return r\n\ndef kind(s: str) -> int:\n    match s:\n        case \"a\":\n            return 1\n        case \"b\":\n            return 2\n    return 0\n\ndef main() -> int:\n    print(name(200), name(404), name(1))\n    print(kind(\"a\"), kind(\"b\"), kind(\"c\"))\n    let f: float = 0.5\n    match f:\n        case 0.5:\n            print(\"half\")\n    for i in range(0, 5):\n        match i:\n            case 1:\n                continue\n            case 3:\n                break\n        print(i)\n    return 0\n";
    assert_eq!(run_ok(src), "ok missing other\n1 2 0\nhalf\n0\n2\n");
}

#[test]
fn implicit_zero_returns() {
    let src = "struct P:\n    x: int\n\ndef i() -> int:\n    pass\n\ndef f() -> float:\n    pass\n\ndef b() -> bool:\n    pass\n\ndef s() -> str:\n    pass\n\ndef a() -> [int]:\n    pass\n\ndef m() -> {str: float}:\n    pass\n\ndef t() -> (int, str):\n    pass\n\ndef p() -> P:\n    pass\n\ndef v() -> void:\n    pass\n\ndef main() -> int:\n    v()\n    print(i(), f(), b(), f\"[{s()}]\", a(), m(), t())\n    let xs: [int] = a()\n    array_push(xs, 1)\n    print(xs)\n    return 0\n";
    let p = build_ok(src);
    check_invariants(&p);
    assert_eq!(func(&p, "v").code.last(), Some(&Instr::RetVoid));
    let l = func_listing(src, "p");
    assert!(has(&l, "LoadNull"), "{l}");
    assert_eq!(run_ok(src), "0 0 false [] [] {} (0, \"\")\n[1]\n");
}

#[test]
fn globals_and_init() {
    let src = "let limit: int = 10\nlet doubled: int = limit * 2\nlet names: [str] = [\"a\"]\n\ndef bump() -> int:\n    limit = limit + 1\n    return limit\n\ndef main() -> int:\n    bump()\n    array_push(names, \"b\")\n    print(limit, doubled, names, bump())\n    return 0\n";
    let p = build_ok(src);
    let init = p.init.expect("init function");
    assert_eq!(p.functions[init as usize].name, "<init>");
    assert_eq!(p.globals.len(), 3);
    assert_eq!(run_ok(src), "11 20 [\"a\", \"b\"] 12\n");
    let p = build_ok("def main() -> int:\n    return 0\n");
    assert!(p.init.is_none());
}

#[test]
fn lambdas_and_function_values() {
    let src = "def helper(v: int) -> int:\n    return v * 3\n\ndef apply(f: fn(int) -> int, x: int) -> int:\n    return f(x)\n\ndef main() -> int:\n    let twice: fn(int) -> int = fn(v: int) -> int: v * 2\n    let h: fn(int) -> int = helper\n    print(twice(21), apply(twice, 5), apply(h, 2), apply(fn(v: int) -> int: v - 1, 0))\n    let say: fn(str) -> void = fn(s: str) -> void: print(s)\n    say(\"hey\")\n    return 0\n";
    let l = func_listing(src, "main");
    assert!(
        has(&l, "MakeClosure") && has(&l, "CallIndirect") || has(&l, "MakeClosure"),
        "{l}"
    );
    assert_eq!(run_ok(src), "42 10 6 -1\nhey\n");
}

#[test]
fn struct_methods() {
    let src = "struct V:\n    x: int\n    y: int\n\n    def len2(self) -> int:\n        return self.x * self.x + self.y * self.y\n\n    def scale(self, k: int) -> void:\n        self.x = self.x * k\n        self.y = self.y * k\n\ndef main() -> int:\n    let v: V = V{x: 1, y: 2}\n    v.scale(3)\n    print(v.len2(), v)\n    return 0\n";
    assert_eq!(run_ok(src), "45 V{x: 3, y: 6}\n");
}

// ----- exceptions ------------------------------------------------------------------

#[test]
fn try_catch_finally_paths() {
    let src = "def f(mode: int) -> int:\n    try:\n        if mode == 1:\n            throw \"boom\"\n        if mode == 2:\n            return 20\n        print(\"body\")\n    catch e:\n        print(\"caught\", e)\n        if mode == 1:\n            return 10\n    finally:\n        print(\"finally\", mode)\n    return 0\n\ndef main() -> int:\n    print(f(0))\n    print(f(1))\n    print(f(2))\n    return 0\n";
    let out = run_ok(src);
    assert_eq!(
        out,
        "body\nfinally 0\n0\ncaught boom\nfinally 1\n10\nfinally 2\n20\n"
    );
    let p = build_ok(src);
    check_invariants(&p);
}

#[test]
fn finally_without_catch_rethrows() {
    let src = "def g() -> void:\n    try:\n        throw \"inner\"\n    finally:\n        print(\"cleanup\")\n    print(\"not reached\")\n\ndef main() -> int:\n    try:\n        g()\n    catch e:\n        print(\"outer caught\", e)\n    return 0\n";
    assert_eq!(run_ok(src), "cleanup\nouter caught inner\n");
    let l = func_listing(src, "g");
    assert!(has(&l, "Rethrow"), "{l}");
}

#[test]
fn exception_in_catch_runs_finally() {
    let src = "def main() -> int:\n    try:\n        try:\n            throw \"a\"\n        catch e:\n            print(\"catch\", e)\n            throw \"b\"\n        finally:\n            print(\"finally\")\n    catch e2:\n        print(\"outer\", e2)\n    return 0\n";
    assert_eq!(run_ok(src), "catch a\nfinally\nouter b\n");
}

#[test]
fn return_value_evaluated_before_finally() {
    let src = "let log: str = \"\"\n\ndef val() -> int:\n    log = log + \"v\"\n    return 1\n\ndef f() -> int:\n    let x: int = 5\n    try:\n        return x + val()\n    finally:\n        log = log + \"f\"\n        x = 100\n    return -1\n\ndef g() -> int:\n    let x: int = 5\n    try:\n        return x\n    finally:\n        x = 100\n\ndef h() -> int:\n    try:\n        return 1\n    finally:\n        return 2\n\ndef main() -> int:\n    print(f(), log, g(), h())\n    return 0\n";
    assert_eq!(run_ok(src), "6 vf 5 2\n");
}

#[test]
fn break_continue_through_finally() {
    let src = "def main() -> int:\n    for i in range(0, 4):\n        try:\n            if i == 1:\n                continue\n            if i == 3:\n                break\n            print(\"body\", i)\n        finally:\n            print(\"fin\", i)\n    let n: int = 0\n    while true:\n        try:\n            try:\n                n = n + 1\n                if n == 2:\n                    break\n            finally:\n                print(\"inner\", n)\n        finally:\n            print(\"outer\", n)\n    return 0\n";
    assert_eq!(
        run_ok(src),
        "body 0\nfin 0\nfin 1\nbody 2\nfin 2\nfin 3\ninner 1\nouter 1\ninner 2\nouter 2\n"
    );
}

#[test]
fn finally_copy_not_covered_by_own_catch() {
    // The finally code run by `return` inside the try body must not be caught by
    // the same try's catch: its exception goes to the enclosing handler.
    let src = "def f() -> int:\n    try:\n        try:\n            return 1\n        catch e:\n            print(\"wrong catch\", e)\n        finally:\n            throw \"from finally\"\n    catch e:\n        print(\"outer\", e)\n    return 2\n\ndef main() -> int:\n    print(f())\n    return 0\n";
    assert_eq!(run_ok(src), "outer from finally\n2\n");
    let p = build_ok(src);
    check_invariants(&p);
    let f = func(&p, "f");
    // The inner catch handler is split around the finally copy.
    assert!(f.handlers.len() >= 3, "{:?}", f.handlers);
}

#[test]
fn handler_ranges_are_static_and_innermost_first() {
    let src = "def main() -> int:\n    try:\n        print(\"a\")\n        try:\n            print(\"b\")\n        catch e:\n            print(e)\n        print(\"c\")\n    catch e:\n        print(e)\n    try:\n        throw \"after\"\n    catch e:\n        print(\"later\", e)\n    return 0\n";
    let p = build_ok(src);
    let f = func(&p, "main");
    let hs = &f.handlers;
    assert_eq!(hs.len(), 3, "{hs:?}");
    // Inner first, contained in the outer range.
    assert!(hs[1].start <= hs[0].start && hs[0].end <= hs[1].end, "{hs:?}");
    assert!(hs[2].start >= hs[1].end);
    assert_eq!(run_ok(src), "a\nb\nc\nlater after\n");
}

#[test]
fn runtime_errors_are_catchable_and_located() {
    let src = "def main() -> int:\n    let xs: [int] = [1]\n    try:\n        print(xs[3])\n    catch e:\n        print(\"caught\", e)\n    let d: int = 0\n    print(10 / d)\n    return 0\n";
    let (code, out, err) = run(src);
    assert_eq!(code, 1);
    assert_eq!(out, "caught array index out of bounds: index 3, length 1\n");
    assert!(err.contains("t.bp:8:"), "{err}");
}

// ----- registers -------------------------------------------------------------------

#[test]
fn too_many_registers_is_an_error() {
    let mut src = String::from("def main() -> int:\n");
    for i in 0..300 {
        src.push_str(&format!("    let v{i}: int = {i}\n"));
    }
    let sum: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
    src.push_str(&format!("    return {}\n", sum.join(" + ")));
    let err = build(&src).expect_err("should not compile");
    assert!(
        // At the value that needed the 257th register (`let v256`), not at the def.
        err.contains("t.bp:258:21: function 'main' needs more than 256 registers here"),
        "{err}"
    );
}

#[test]
fn dead_locals_free_their_registers() {
    let mut src = String::from("def main() -> int:\n    let v0: int = 1\n");
    for i in 1..400 {
        src.push_str(&format!("    let v{i}: int = v{} + 1\n", i - 1));
    }
    src.push_str("    print(v399)\n    return 0\n");
    let p = build_ok(&src);
    assert!(func(&p, "main").nregs < 8, "{}", func(&p, "main").nregs);
    assert_eq!(run_ok(&src), "400\n");
}

#[test]
fn reference_and_scalar_registers_never_mix() {
    let src = "def main() -> int:\n    for i in range(0, 3):\n        let s: str = to_str(i)\n        let n: int = i * 2\n        print(s, n)\n    let xs: [int] = [1]\n    let f: float = 1.0\n    print(xs, f)\n    return 0\n";
    let p = build_ok(src);
    check_invariants(&p);
    let f = func(&p, "main");
    // Every register written by a ToStr / NewArray is a reference register; every
    // register written by arithmetic is scalar.
    for i in &f.code {
        match *i {
            Instr::ToStr { dst, .. } | Instr::NewArray { dst, .. } => assert!(f.ref_regs[dst as usize]),
            Instr::AddI { dst, .. } | Instr::MulI { dst, .. } | Instr::LoadInt { dst, .. } => {
                assert!(!f.ref_regs[dst as usize])
            }
            _ => {}
        }
    }
    assert_eq!(run_ok(src), "0 0\n1 2\n2 4\n[1] 1\n");
}

#[test]
fn instruction_locations() {
    let src = "def main() -> int:\n    let a: int = 1\n\n    print(a)\n    return 0\n";
    let p = build_ok(src);
    let f = func(&p, "main");
    let lines: Vec<u32> = f.locs.iter().map(|l| l.line).collect();
    assert_eq!(lines, vec![2, 4, 4, 5, 5]);
    // The literal `1` of `let a: int = 1`.
    assert_eq!(f.locs[0].col, 18);
}

#[test]
fn disassembly_format() {
    let src = "def add(a: int, b: float) -> float:\n    return b + 1.5\n\ndef main() -> int:\n    let s: str = \"hi\"\n    print(s, add(1, 2.0))\n    return 0\n";
    let text = disasm(src);
    let expected = "main: fn 1

fn 0 add(int, float) -> float   [t.bp:1]
  registers: 3  refs: -
  constants: k0 = 1.5
     0  L2    LoadConst    r2, k0 (1.5)
     1  L2    AddF         r2, r1, r2
     2  L2    Ret          r2

fn 1 main() -> int   [t.bp:4]
  registers: 4  refs: r0 r3
  constants: k0 = \"hi\", k1 = 2.0
     0  L5    LoadConst    r0, k0 (\"hi\")
     1  L6    LoadInt      r1, 1
     2  L6    LoadConst    r2, k1 (2.0)
     3  L6    Call         r1 = add(r1, r2)
     4  L6    ToStr        r3, r1 (float)
     5  L6    Print        (r0, r3)
     6  L7    LoadInt      r1, 0
     7  L7    Ret          r1
";
    assert_eq!(text, expected);
}

// ----- modules and externs ---------------------------------------------------------

/// Write the files into a fresh temporary directory and compile `main.bp`.
fn build_files(files: &[(&str, &str)]) -> Result<Program, String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "bp-compiler-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (name, text) in files {
        std::fs::write(dir.join(name), text).map_err(|e| e.to_string())?;
    }
    let c = crate::driver::compile_file(&dir.join("main.bp"), crate::driver::Stop::Bytecode);
    let _ = std::fs::remove_dir_all(&dir);
    match c.program {
        Some(p) => Ok(p),
        None => Err(crate::driver::first_error(&c).unwrap_or_default()),
    }
}

#[test]
fn modules_calls_and_init_order() {
    let base = "let BASE: int = 100\n\nexport def base() -> int:\n    print(\"base init read\", BASE)\n    return BASE\n";
    let util = "import base\n\nlet FACTOR: int = base.base() + 1\n\nexport def scale(x: int) -> int:\n    return x * FACTOR\n";
    let main = "import util\nimport base\n\nlet START: int = util.scale(2)\n\ndef main() -> int:\n    print(START, util.scale(1), base.base())\n    return 0\n";
    let p = match build_files(&[("main.bp", main), ("util.bp", util), ("base.bp", base)]) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    check_invariants(&p);
    let l = disassemble(&p);
    assert!(has(&l, "= util.scale(r"), "{l}");
    // Imported modules' initialisers run in helpers called by `<init>`, dependencies first.
    let init = &p.functions[p.init.expect("init") as usize];
    let called: Vec<String> = init
        .code
        .iter()
        .filter_map(|i| match i {
            Instr::Call { site, .. } => Some(
                p.functions[init.sites[*site as usize].target as usize]
                    .name
                    .clone(),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(called, vec!["<init base>", "<init util>", "util.scale"], "{l}");
    assert_ne!(func(&p, "<init base>").file, init.file);
    let (code, out, err) = crate::vm::run_capture(&p, crate::vm::VmOptions::default());
    assert_eq!(code, 0, "{err}\n{l}");
    assert_eq!(out, b"base init read 100\nbase init read 100\n202 101 100\n");
}

#[test]
fn extern_table_and_calls() {
    let src = "extern fn c_abs(x: i32) -> i32 from \"libc.so.6\" as \"abs\"\nextern fn getpid() -> int from \"libc.so.6\"\n\ndef main() -> int:\n    print(c_abs(-3), getpid() > 0)\n    return 0\n";
    let p = build_ok(src);
    assert_eq!(p.externs.len(), 2);
    assert_eq!(p.externs[0].library, "libc.so.6");
    assert_eq!(p.externs[0].symbol, "abs");
    assert_eq!(p.externs[0].params, vec![crate::bytecode::FfiType::I32]);
    assert_eq!(p.externs[1].symbol, "getpid");
    let l = func_listing(src, "main");
    assert!(has(&l, "CallExtern") && has(&l, "= c_abs(r"), "{l}");
}

// ----- robustness --------------------------------------------------------------------

#[test]
fn odd_but_valid_shapes() {
    let src = "def v(n: int) -> void:\n    while n > 0:\n        n = n - 1\n        if n == 2:\n            return\n    return\n\ndef main() -> int:\n    try:\n        pass\n    catch:\n        pass\n    try:\n        pass\n    finally:\n        pass\n    try:\n        throw \"x\"\n    catch:\n        print(\"anon catch\")\n    while false:\n        print(\"never\")\n    match 3:\n        default:\n            print(\"only default\")\n    match 4:\n        case 1:\n            pass\n    if true:\n        pass\n    elif false:\n        pass\n    v(5)\n    for i in range(0, 3):\n        try:\n            try:\n                if i == 1:\n                    break\n            finally:\n                print(\"f1\", i)\n        catch e:\n            print(e)\n        finally:\n            print(\"f2\", i)\n    return 0\n";
    let p = build_ok(src);
    check_invariants(&p);
    assert_eq!(run_ok(src), "anon catch\nonly default\nf1 0\nf2 0\nf1 1\nf2 1\n");
}

/// Every program of the test corpus that compiles yields well-formed functions and
/// a listing.
#[test]
fn corpus_invariants() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let mut stack = vec![root];
    let mut n = 0;
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for ent in rd.flatten() {
            let path = ent.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "bp") {
                let c = crate::driver::compile_file(&path, crate::driver::Stop::Bytecode);
                if let Some(p) = &c.program {
                    check_invariants(p);
                    assert!(!disassemble(p).is_empty());
                    n += 1;
                }
            }
        }
    }
    // The corpus may not be present in every checkout; when it is, it compiles.
    let _ = n;
}

#[test]
fn for_in_indexes_unassigned_variables_in_place() {
    let src = "def sum(xs: [int]) -> int:\n    let s: int = 0\n    for x in xs:\n        s = s + x\n    return s\n\ndef main() -> int:\n    print(sum([1, 2, 3]))\n    return 0\n";
    let l = func_listing(src, "sum");
    assert_eq!(count(&l, "Mov"), 0, "{l}");
    assert!(has(&l, "ArrLen       r2 = len r0"), "{l}");
    assert_eq!(func(&build_ok(src), "sum").nregs, 5);
    assert_eq!(run_ok(src), "6\n");
}

// ----- register economy ------------------------------------------------------------

/// Build, verify, run; returns (program, stdout).
fn build_run(src: &str) -> (Program, String) {
    let p = build_ok(src);
    check_invariants(&p);
    let out = run_ok(src);
    (p, out)
}

#[test]
fn long_chains_need_constant_registers() {
    // A left-associative chain reuses one temporary whatever its length.
    let ints = vec!["a"; 300].join(" + ");
    let strs = vec!["s"; 300].join(" + ");
    let floats = vec!["f"; 300].join(" * ");
    let mixed: Vec<String> = (0..150).map(|i| format!("a * {i}")).collect();
    let src = format!(
        "def ints(a: int) -> int:\n    let b: int = {ints}\n    return b\n\n\
         def strs(s: str) -> int:\n    let t: str = {strs}\n    return len(t)\n\n\
         def floats(f: float) -> float:\n    return {floats}\n\n\
         def mixed(a: int) -> int:\n    return {}\n\n\
         def main() -> int:\n    print(ints(2), strs(\"xy\"), floats(1.0), mixed(1))\n    return 0\n",
        mixed.join(" - ")
    );
    let (p, out) = build_run(&src);
    assert_eq!(out, "600 600 1 -11175\n");
    // Parameter, one temporary/result, and the returned value.
    assert!(func(&p, "ints").nregs <= 4, "{}", func(&p, "ints").nregs);
    assert!(func(&p, "strs").nregs <= 4, "{}", func(&p, "strs").nregs);
    assert!(func(&p, "floats").nregs <= 4, "{}", func(&p, "floats").nregs);
    // `... - a * k`: the running sum, the product, the constant.
    assert!(func(&p, "mixed").nregs <= 4, "{}", func(&p, "mixed").nregs);
}

#[test]
fn chain_of_the_example_uses_one_temporary() {
    let src = "def main() -> int:\n    let a: int = 1\n    let b: int = a + a + a + a + a\n    let s: str = \"x\" + \"y\" + \"z\" + \"w\"\n    print(b + b * b - b, s)\n    return 0\n";
    let (p, out) = build_run(src);
    assert_eq!(out, "25 xyzw\n");
    let l = func_listing(src, "main");
    // The chain is computed in place in the register that becomes `b`.
    assert!(has(&l, "AddI         r1, r0, r0"), "{l}");
    assert_eq!(count(&l, "AddI"), 5, "{l}");
    assert!(has(&l, "AddI         r1, r1, r0"), "{l}");
    // The string chain is one concatenation of its four parts.
    assert!(has(&l, "ConcatN      r2 = concat(r2, r3, r4, r5)"), "{l}");
    assert!(func(&p, "main").nregs <= 6, "{l}");
}

#[test]
fn many_locals_and_a_long_sum_fit() {
    let mut src = String::from("def main() -> int:\n");
    for i in 0..200 {
        src.push_str(&format!("    let v{i}: int = {i}\n"));
    }
    let sum: Vec<String> = (0..200).map(|i| format!("v{i}")).collect();
    src.push_str(&format!("    let s: int = {}\n", sum.join(" + ")));
    src.push_str(&format!("    print(s, {})\n", sum.join(" + ")));
    src.push_str("    return 0\n");
    let (p, out) = build_run(&src);
    assert_eq!(out, "19900 19900\n");
    // 200 locals, `s`, one temporary for the second sum, two strings to print.
    assert!(func(&p, "main").nregs <= 204, "{}", func(&p, "main").nregs);
    // One long expression alone.
    let terms = vec!["a"; 600].join(" + ");
    let src = format!("def main() -> int:\n    let a: int = 1\n    print({terms})\n    return 0\n");
    let (p, out) = build_run(&src);
    assert_eq!(out, "600\n");
    assert!(func(&p, "main").nregs <= 4);
}

#[test]
fn nested_calls_indexing_and_literals_share_temporaries() {
    let src = "struct P:\n    x: int\n    y: int\n\n\
               def g(v: int) -> int:\n    return v * 2\n\n\
               def h(v: int) -> int:\n    return v + 1\n\n\
               def f(a: int, b: int) -> int:\n    return a - b\n\n\
               def calls(x: int, y: int) -> int:\n    return f(g(h(x)), h(g(y + 1))) + f(f(x, y), f(y, x))\n\n\
               def chain(ps: [[P]], i: int, j: int) -> int:\n    return ps[i][j].x * ps[j][i].y + ps[0][0].x\n\n\
               def lits(n: int) -> int:\n    let xs: [int] = [n + 1, n * 2, n - 3, 0, 0, 0]\n    let t: (int, str, int) = (n + n, f\"{n}, {n}, {n}\", n * n)\n    return xs[0] + xs[1] + xs[2] + t[0] + t[2] + len(t[1])\n\n\
               def main() -> int:\n    let ps: [[P]] = [[P{x: 1, y: 2}, P{x: 3, y: 4}], [P{x: 5, y: 6}, P{x: 7, y: 8}]]\n    print(calls(3, 4), chain(ps, 0, 1), lits(5))\n    return 0\n";
    let (p, out) = build_run(src);
    assert_eq!(out, "-5 19 60\n");
    // Two arguments and one temporary per pending argument of `f`.
    assert!(func(&p, "calls").nregs <= 5, "{}", func_listing(src, "calls"));
    // Parameters, the element (reference) temporary, two scalar temporaries.
    assert!(func(&p, "chain").nregs <= 6, "{}", func_listing(src, "chain"));
    let l = func_listing(src, "lits");
    // The three zeros share a register; so do the two ", " parts of the f-string.
    let new_array = l.lines().find(|x| x.contains("NewArray")).unwrap_or_default();
    let elems: Vec<&str> = new_array
        .split(['[', ']'])
        .nth(1)
        .unwrap_or_default()
        .split(", ")
        .collect();
    assert_eq!(elems.len(), 6, "{l}");
    assert!(elems[3] == elems[4] && elems[4] == elems[5], "{l}");
    assert!(has(&l, "ConcatN"), "{l}");
    assert_eq!(l.matches("LoadConst").count(), 1, "{l}");
}

#[test]
fn conditions_and_short_circuit_values_use_few_registers() {
    let src = "def f(a: int, b: int, c: [int]) -> bool:\n    if a + b < c[0] * 2 and c[1] - a > b or array_len(c) == 3:\n        return a * b > c[2] + 1 and not (c[0] == a or b >= c[1])\n    return false\n\n\
               def main() -> int:\n    print(f(1, 2, [3, 4, 5]), f(1, 2, [0, 0, 0, 0]), f(9, 9, [0, 0]))\n    return 0\n";
    let (p, out) = build_run(src);
    assert_eq!(out, "false false false\n");
    assert!(func(&p, "f").nregs <= 6, "{}", func_listing(src, "f"));
}

#[test]
fn assignment_aliasing_reads_old_values() {
    // `x = e` compiles into `x`, but every read of `x` by `e` sees the old value.
    let src = "struct P:\n    x: int\n    y: int\n\n\
               def f(v: int) -> int:\n    return v * 10\n\n\
               def fs(s: str) -> str:\n    return s + \"!\"\n\n\
               def main() -> int:\n\
               \x20   let a: int = 1\n    let b: int = 2\n\
               \x20   a = b + a\n    print(a)\n\
               \x20   a = f(a) + a\n    print(a)\n\
               \x20   a = a * a + a - f(a)\n    print(a)\n\
               \x20   a = f(f(a) + a) + a\n    print(a)\n\
               \x20   a = -a\n    b = b - a * b\n    print(a, b)\n\
               \x20   let xs: [int] = [1, 2, 3]\n\
               \x20   xs = [xs[2], xs[0], xs[1] + xs[2]]\n    print(xs)\n\
               \x20   xs = [xs[0]]\n    print(xs)\n\
               \x20   a = xs[a - a]\n    print(a)\n\
               \x20   let s: str = \"ab\"\n\
               \x20   s = s + fs(s) + s\n    print(s)\n\
               \x20   s = f\"{s}|{len(s)}|{s}\"\n    print(s)\n\
               \x20   let p: P = P{x: 1, y: 2}\n\
               \x20   p = P{x: p.y, y: p.x}\n    print(p)\n\
               \x20   let t: (int, int) = (3, 4)\n\
               \x20   t = (t[1], t[0] + t[1])\n    print(t)\n\
               \x20   let m: {str: int} = {\"k\": 1}\n\
               \x20   m = {\"k\": m[\"k\"] + 1, \"j\": m[\"k\"]}\n    print(m)\n\
               \x20   let c: bool = true\n    let d: bool = false\n\
               \x20   c = d or c and not d\n    d = not d and c\n    c = c == d\n    print(c, d)\n\
               \x20   b = 5\n    b = (b + 1) * (b - 1) + b\n    print(b)\n\
               \x20   return 0\n";
    let (_, out) = build_run(src);
    assert_eq!(
        out,
        "3\n33\n792\n87912\n-87912 175826\n[3, 1, 5]\n[3]\n3\nabab!ab\nabab!ab|7|abab!ab\nP{x: 2, y: 1}\n(4, 7)\n{\"k\": 2, \"j\": 1}\ntrue true\n29\n"
    );
}

#[test]
fn failed_assignment_keeps_the_old_value() {
    // An exception while evaluating `x = e` leaves `x` unchanged.
    let src = "def boom(v: int) -> int:\n    if v > 2:\n        throw \"boom\"\n    return v\n\n\
               def main() -> int:\n    let x: int = 5\n    let xs: [int] = [1]\n    let s: str = \"s\"\n\
               \x20   try:\n        x = x + x * boom(x)\n    catch e:\n        print(e, x)\n\
               \x20   try:\n        x = x * 2 + xs[x]\n    catch e:\n        print(e, x)\n\
               \x20   try:\n        s = s + to_str(boom(3)) + s\n    catch e:\n        print(e, s)\n\
               \x20   for i in range(0, 3):\n        try:\n            let y: int = i + boom(i + 1)\n            print(\"y\", y)\n        catch e:\n            print(\"caught\", i)\n\
               \x20   return 0\n";
    let (_, out) = build_run(src);
    assert_eq!(
        out,
        "boom 5\narray index out of bounds: index 5, length 1 5\nboom s\ny 1\ny 3\ncaught 2\n"
    );
}

#[test]
fn evaluation_order_is_left_to_right() {
    let src = "let log: str = \"\"\n\n\
               def t(tag: str, v: int) -> int:\n    log = log + tag\n    return v\n\n\
               def pair(a: int, b: int) -> int:\n    return a * 10 + b\n\n\
               def main() -> int:\n\
               \x20   let xs: [int] = [0, 1, 2]\n\
               \x20   let r: int = t(\"a\", 1) + t(\"b\", 2) * t(\"c\", 3) - pair(t(\"d\", 4), t(\"e\", 5)) + xs[t(\"f\", 1)]\n\
               \x20   print(r, log)\n\
               \x20   log = \"\"\n\
               \x20   xs[t(\"g\", 0)] = t(\"h\", 7) + t(\"i\", 1)\n\
               \x20   let ok: bool = t(\"j\", 1) < t(\"k\", 2) and t(\"l\", 0) == 0 or t(\"m\", 1) == 1\n\
               \x20   let l1: str = log\n\
               \x20   print(xs, ok, l1, [t(\"n\", 1), t(\"o\", 2)], (t(\"p\", 3), t(\"q\", 4)), log)\n\
               \x20   return 0\n";
    let (_, out) = build_run(src);
    assert_eq!(
        out,
        "-37 abcdef\n[8, 1, 2] true ghijkl [1, 2] (3, 4) ghijklnopq\n"
    );
}

#[test]
fn zero_values_share_immutable_registers() {
    let src = "def t() -> (int, int, str, [int], [int], bool, int):\n    pass\n\n\
               def main() -> int:\n    let a: (int, int, str, [int], [int], bool, int) = t()\n    array_push(a[3], 1)\n    print(a, a[4])\n    return 0\n";
    let (_, out) = build_run(src);
    assert_eq!(out, "(0, 0, \"\", [1], [], false, 0) []\n");
    let l = func_listing(src, "t");
    // One int zero for three fields; one array per array field.
    assert_eq!(count(&l, "LoadInt"), 1, "{l}");
    assert_eq!(count(&l, "NewArray"), 2, "{l}");
}

#[test]
fn string_chains_are_one_concatenation_with_ints_inline() {
    let src = "def noisy(x: int) -> str:\n    print(x)\n    return \"n\"\n\ndef main() -> int:\n    let i: int = 3\n    let s: str = \"\"\n    s = s + to_str(i * 31 + 1) + \",\"\n    print(s, \"k\" + to_str(i), f\"{i}-{i}\")\n    print(noisy(1) + \"a\" + noisy(2) + \"b\")\n    return 0\n";
    let l = func_listing(src, "main");
    // `s + to_str(..) + ","`: one instruction, the int passed as an int.
    assert!(has(&l, "concat(r1, r2:int, r3)"), "{l}");
    assert!(!has(&l, "ToStr"), "{l}");
    // `noisy(2)` has an effect: the concatenation before it stays before it.
    assert_eq!(l.matches("Concat").count(), 5, "{l}");
    assert_eq!(run_ok(src), "94, k3 3-3\n1\n2\nnanb\n");
    // A long chain is joined at most eight parts at a time.
    let parts: Vec<String> = (0..20).map(|i| format!("\"{i}\"")).collect();
    let long = format!(
        "def main() -> int:\n    print({})\n    return 0\n",
        parts.join(" + ")
    );
    let l = func_listing(&long, "main");
    assert_eq!(l.matches("ConcatN").count(), 3, "{l}");
    assert_eq!(
        run_ok(&long),
        format!("{}\n", (0..20).map(|i| i.to_string()).collect::<String>())
    );
}

/// An empty map `let` followed by assignments into it makes room for that
/// many entries (`NewMap`'s size hint); assignments after any other
/// statement, or into another map, do not count, and a literal with pairs
/// takes no hint.
#[test]
fn an_empty_map_filled_right_away_is_made_with_room() {
    let src = "\
def main() -> int:
    let names: [str] = [\"x\"]
    let r: {str: int} = {}
    r[\"id\"] = 1
    r[\"age\"] = 2
    r[names[0]] = 3
    print(r)
    r[\"late\"] = 4
    let q: {int: int} = {}
    let other: {int: int} = {}
    other[1] = 1
    q[2] = 2
    let lit: {int: int} = {1: 2}
    lit[3] = 4
    print(q, other, lit, map_len(r))
    return 0
";
    let listing = func_listing(src, "main");
    assert!(has(&listing, "{} of ref: int (room for 3)"), "{listing}");
    assert!(has(&listing, "{} of int: int (room for 1)"), "{listing}");
    assert_eq!(listing.matches("(room for").count(), 2, "{listing}");
    assert_eq!(
        run_ok(src),
        "{\"id\": 1, \"age\": 2, \"x\": 3}\n{2: 2} {1: 1} {1: 2, 3: 4} 4\n"
    );
}
