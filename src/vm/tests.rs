//! VM tests on hand-assembled programs (no front end involved).

use super::*;
use crate::bytecode::{CallSite, Const, Function, GlobalDef, Handler, Instr, Instr::*, Loc, Program, Reg};
use bp_runtime::heap::Layout;

const INT: u8 = ValKind::Int as u8;
const REF: u8 = ValKind::Ref as u8;

/// A function under construction.
struct F {
    f: Function,
}

impl F {
    fn new(name: &str, nparams: u8, nregs: u16) -> F {
        F {
            f: Function {
                name: name.to_string(),
                nparams,
                nregs,
                line: 1,
                ..Default::default()
            },
        }
    }
    /// Mark registers as references.
    fn refs(mut self, rs: &[Reg]) -> F {
        self.f.ref_regs = (0..self.f.nregs).map(|r| rs.contains(&(r as u8))).collect();
        self
    }
    fn ret(mut self, k: ValKind) -> F {
        self.f.ret_kind = Some(k);
        self
    }
    fn consts(mut self, c: Vec<Const>) -> F {
        self.f.consts = c;
        self
    }
    fn site(mut self, target: u32, args: &[Reg]) -> F {
        self.f.sites.push(CallSite {
            target,
            args: args.to_vec(),
            kinds: vec![],
        });
        self
    }
    fn site_k(mut self, target: u32, args: &[Reg], kinds: &[ValKind]) -> F {
        self.f.sites.push(CallSite {
            target,
            args: args.to_vec(),
            kinds: kinds.to_vec(),
        });
        self
    }
    fn handler(mut self, start: u32, end: u32, target: u32, reg: Option<Reg>) -> F {
        self.f.handlers.push(Handler {
            start,
            end,
            target,
            reg,
        });
        self
    }
    fn loops(mut self, n: u16) -> F {
        self.f.num_loops = n;
        self
    }
    /// Instruction `pc` is at line `first_line + pc`, column 5.
    fn code(mut self, first_line: u32, code: Vec<Instr>) -> Function {
        self.f.locs = (0..code.len() as u32)
            .map(|i| Loc {
                line: first_line + i,
                col: 5,
            })
            .collect();
        self.f.line = first_line;
        self.f.code = code;
        if self.f.ref_regs.is_empty() {
            self.f.ref_regs = vec![false; self.f.nregs as usize];
        }
        self.f
    }
}

fn program(functions: Vec<Function>, main: u32) -> Program {
    Program {
        functions,
        files: vec!["t.bp".to_string()],
        main,
        ..Default::default()
    }
}

fn run_prog(p: &Program, opts: VmOptions) -> (i32, String, String) {
    let (code, out, err) = run_capture(p, opts);
    (code, String::from_utf8(out).unwrap(), err)
}

fn run_ok(p: &Program) -> String {
    let (code, out, err) = run_prog(p, VmOptions::default());
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(err, "");
    out
}

/// `print(to_str(r))` for an int register `r`, using scratch ref register `s`.
fn print_int(r: Reg, s: Reg, site: u32) -> [Instr; 2] {
    [
        ToStr {
            dst: s,
            src: r,
            kind: INT,
        },
        Print { site },
    ]
}

#[test]
fn sum_loop() {
    // i = 1; sum = 0; while i <= 1_000_000: sum += i; i += 1
    let mut code = vec![
        LoadInt { dst: 0, imm: 1 },
        LoadInt { dst: 1, imm: 0 },
        LoadConst { dst: 2, k: 0 },
        BrLtI {
            a: 2,
            b: 0,
            target: 7,
        },
        AddI { dst: 1, a: 1, b: 0 },
        AddIImm { dst: 0, a: 0, imm: 1 },
        Loop {
            target: 3,
            loop_id: 0,
        },
    ];
    code.extend(print_int(1, 3, 0));
    code.extend([LoadInt { dst: 4, imm: 0 }, Ret { src: 4 }]);
    let main = F::new("main", 0, 5)
        .refs(&[3])
        .ret(ValKind::Int)
        .consts(vec![Const::Int(1_000_000)])
        .site(0, &[3])
        .loops(1)
        .code(1, code);
    let p = program(vec![main], 0);
    assert_eq!(run_ok(&p), "500000500000\n");

    let mut vm = Vm::new(&p, VmOptions::default());
    vm.capture = true;
    assert_eq!(vm.run_program(), 0);
    assert_eq!(vm.tier.loop_counts[0][0], 1_000_000);
    // Calls are counted only for a tier (`tier/tests.rs`), which this VM has not.
    assert_eq!(vm.tier.call_counts[0], 0);
}

fn fib_fn() -> Function {
    F::new("fib", 1, 4)
        .ret(ValKind::Int)
        .site(0, &[1])
        .site(0, &[2])
        .code(
            10,
            vec![
                BrGeIImm {
                    a: 0,
                    imm: 2,
                    target: 2,
                },
                Ret { src: 0 },
                AddIImm {
                    dst: 1,
                    a: 0,
                    imm: -1,
                },
                Call { dst: 1, site: 0 },
                AddIImm {
                    dst: 2,
                    a: 0,
                    imm: -2,
                },
                Call { dst: 2, site: 1 },
                AddI { dst: 3, a: 1, b: 2 },
                Ret { src: 3 },
            ],
        )
}

#[test]
fn recursive_fib() {
    let mut code = vec![LoadInt { dst: 0, imm: 25 }, Call { dst: 1, site: 0 }];
    code.extend(print_int(1, 2, 1));
    code.push(RetVoid);
    let main = F::new("main", 0, 3)
        .refs(&[2])
        .site(0, &[0])
        .site(1, &[2])
        .code(1, code);
    let p = program(vec![fib_fn(), main], 1);
    assert_eq!(run_ok(&p), "75025\n");
    let mut vm = Vm::new(&p, VmOptions::default());
    vm.capture = true;
    vm.run_program();
    // fib(25) makes 242785 calls, not counted without a tier.
    assert_eq!(vm.tier.call_counts[0], 0);
}

/// `depth(n) = n == 0 ? 0 : depth(n - 1) + 1`
fn depth_fn() -> Function {
    F::new("depth", 1, 2).ret(ValKind::Int).site(0, &[1]).code(
        20,
        vec![
            BrNeIImm {
                a: 0,
                imm: 0,
                target: 2,
            },
            Ret { src: 0 },
            AddIImm {
                dst: 1,
                a: 0,
                imm: -1,
            },
            Call { dst: 1, site: 0 },
            AddIImm { dst: 1, a: 1, imm: 1 },
            Ret { src: 1 },
        ],
    )
}

fn depth_main(n: i64) -> Program {
    let mut code = vec![LoadConst { dst: 0, k: 0 }, Call { dst: 1, site: 0 }];
    code.extend(print_int(1, 2, 1));
    code.push(LoadInt { dst: 3, imm: 7 });
    code.push(Ret { src: 3 });
    let main = F::new("main", 0, 4)
        .refs(&[2])
        .ret(ValKind::Int)
        .consts(vec![Const::Int(n)])
        .site(0, &[0])
        .site(1, &[2])
        .code(1, code);
    program(vec![depth_fn(), main], 1)
}

#[test]
fn deep_recursion_100k() {
    let p = depth_main(100_000);
    let (code, out, err) = run_prog(&p, VmOptions::default());
    assert_eq!((code, out.as_str(), err.as_str()), (7, "100000\n", ""));
}

#[test]
fn stack_overflow_uncaught() {
    let p = depth_main(1_000_000);
    let (code, out, err) = run_prog(
        &p,
        VmOptions {
            max_depth: 5000,
            ..Default::default()
        },
    );
    assert_eq!(code, 1);
    assert_eq!(out, "");
    let first = err.lines().next().unwrap();
    assert_eq!(first, "t.bp:23:5: runtime error: stack overflow");
    assert!(err.contains("  at depth (t.bp:23:5)\n"), "{err}");
    assert!(err.contains("  ... 4980 more frames\n"), "{err}");
    assert_eq!(err.lines().count(), 22);
}

#[test]
fn stack_overflow_from_register_stack() {
    let p = depth_main(1_000_000);
    let (code, _, err) = run_prog(
        &p,
        VmOptions {
            stack_slots: 1000,
            ..Default::default()
        },
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("t.bp:23:5: runtime error: stack overflow\n"),
        "{err}"
    );
}

#[test]
fn stack_overflow_is_catchable() {
    // try: depth(10**9) catch e: print(e); then it still works: depth(10)
    let mut code = vec![
        LoadConst { dst: 0, k: 0 },
        Call { dst: 1, site: 0 }, // pc 1, protected
        Jmp { target: 4 },
        Print { site: 1 }, // handler: print(e)
        LoadInt { dst: 0, imm: 10 },
        Call { dst: 1, site: 0 },
    ];
    code.extend(print_int(1, 2, 2));
    code.push(RetVoid);
    let main = F::new("main", 0, 3)
        .refs(&[2])
        .consts(vec![Const::Int(1_000_000_000)])
        .site(0, &[0])
        .site(0, &[2])
        .site(0, &[2])
        .handler(1, 2, 3, Some(2))
        .code(1, code);
    let p = program(vec![depth_fn(), main], 1);
    assert_eq!(run_ok(&p), "stack overflow\n10\n");
}

/// `div(a, b) = a / b` at line 30
fn div_fn() -> Function {
    F::new("div", 2, 3)
        .ret(ValKind::Int)
        .code(30, vec![DivI { dst: 2, a: 0, b: 1 }, Ret { src: 2 }])
}

#[test]
fn division_by_zero_caught_in_caller() {
    // main: try: print(div(7, 0)) catch e: print("caught:", e); print(div(7, -2))
    let code = vec![
        LoadConst { dst: 5, k: 0 },
        LoadInt { dst: 0, imm: 7 },
        LoadInt { dst: 1, imm: 0 },
        Call { dst: 2, site: 0 }, // 3: protected
        ToStr {
            dst: 3,
            src: 2,
            kind: INT,
        },
        Print { site: 1 },
        Jmp { target: 8 },
        Print { site: 2 }, // 7: handler
        LoadInt { dst: 1, imm: -2 },
        Call { dst: 2, site: 0 },
        ToStr {
            dst: 3,
            src: 2,
            kind: INT,
        },
        Print { site: 1 },
        RetVoid,
    ];
    let main = F::new("main", 0, 6)
        .refs(&[3, 4, 5])
        .consts(vec![Const::Str(b"caught:".to_vec())])
        .site(0, &[0, 1])
        .site(0, &[3])
        .site(0, &[5, 4])
        .handler(3, 6, 7, Some(4))
        .code(1, code);
    let p = program(vec![div_fn(), main], 1);
    assert_eq!(run_ok(&p), "caught: division by zero\n-3\n");
}

#[test]
fn uncaught_division_report() {
    let main = F::new("main", 0, 3).ret(ValKind::Int).site(0, &[0, 1]).code(
        1,
        vec![
            LoadInt { dst: 0, imm: 1 },
            LoadInt { dst: 1, imm: 0 },
            Call { dst: 2, site: 0 },
            Ret { src: 2 },
        ],
    );
    let p = program(vec![div_fn(), main], 1);
    let (code, out, err) = run_prog(&p, VmOptions::default());
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "t.bp:30:5: runtime error: division by zero\n  at div (t.bp:30:5)\n  at main (t.bp:3:5)\n"
    );
}

#[test]
fn integer_edge_cases() {
    let consts = vec![Const::Int(i64::MIN), Const::Float(-7.5), Const::Float(2.0)];
    let mut code = vec![
        LoadConst { dst: 0, k: 0 },
        LoadInt { dst: 1, imm: -1 },
        DivI { dst: 2, a: 0, b: 1 },
        ModI { dst: 3, a: 0, b: 1 },
        LoadInt { dst: 4, imm: 65 },
        LoadInt { dst: 5, imm: 1 },
        Shl { dst: 4, a: 5, b: 4 },
        LoadInt { dst: 5, imm: -7 },
        LoadInt { dst: 6, imm: 2 },
        ModI { dst: 5, a: 5, b: 6 },
        MulI { dst: 6, a: 0, b: 1 },
        LoadConst { dst: 7, k: 1 },
        LoadConst { dst: 8, k: 2 },
        ModF { dst: 7, a: 7, b: 8 },
    ];
    for (r, k) in [
        (2, INT),
        (3, INT),
        (4, INT),
        (5, INT),
        (6, INT),
        (7, ValKind::Float as u8),
    ] {
        code.push(ToStr {
            dst: 9,
            src: r,
            kind: k,
        });
        code.push(Print { site: 0 });
    }
    code.push(RetVoid);
    let main = F::new("main", 0, 10)
        .refs(&[9])
        .consts(consts)
        .site(0, &[9])
        .code(1, code);
    let p = program(vec![main], 0);
    let min = i64::MIN.to_string();
    assert_eq!(run_ok(&p), format!("{min}\n0\n2\n-1\n{min}\n-1.5\n"));
}

#[test]
fn arrays_and_index_errors() {
    let s = |x: &str| Const::Str(x.as_bytes().to_vec());
    let code = vec![
        LoadInt { dst: 0, imm: 10 },
        LoadInt { dst: 1, imm: 20 },
        LoadInt { dst: 2, imm: 30 },
        NewArray { dst: 3, site: 0 }, // [10, 20, 30]
        LoadInt { dst: 4, imm: -1 },
        ArrGet {
            dst: 5,
            arr: 3,
            idx: 4,
            elem: 0,
        }, // 30
        LoadInt { dst: 4, imm: 0 },
        ArrSet {
            arr: 3,
            idx: 4,
            src: 5,
            elem: 0,
        }, // [30, 20, 30]
        ArrLen { dst: 6, arr: 3 },
        ToStr {
            dst: 7,
            src: 3,
            kind: REF,
        },
        ToStr {
            dst: 8,
            src: 6,
            kind: INT,
        },
        Print { site: 1 }, // "[30, 20, 30] 3"
        LoadInt { dst: 4, imm: 3 },
        ArrGet {
            dst: 5,
            arr: 3,
            idx: 4,
            elem: 0,
        }, // 13: raises
        Print { site: 2 }, // not reached
        Jmp { target: 19 },
        Print { site: 3 }, // 16: handler: print(e)
        LoadInt { dst: 4, imm: -4 },
        ArrSet {
            arr: 3,
            idx: 4,
            src: 5,
            elem: 0,
        }, // 18: raises too, not caught... (outside range)
        RetVoid,
    ];
    let main = F::new("main", 0, 10)
        .refs(&[3, 7, 8, 9])
        .consts(vec![s("unreachable")])
        .site(INT as u32, &[0, 1, 2])
        .site(0, &[7, 8])
        .site(0, &[9])
        .site(0, &[9])
        .handler(13, 16, 16, Some(9))
        .code(1, code);
    let p = program(vec![main], 0);
    let (code, out, err) = run_prog(&p, VmOptions::default());
    assert_eq!(
        out,
        "[30, 20, 30] 3\narray index out of bounds: index 3, length 3\n"
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "t.bp:19:5: runtime error: array index out of bounds: index -4, length 3\n  at main (t.bp:19:5)\n"
    );
}

#[test]
fn maps() {
    let s = |x: &str| Const::Str(x.as_bytes().to_vec());
    let kinds = REF as u32 | ((INT as u32) << 8);
    let code = vec![
        LoadConst { dst: 0, k: 0 }, // "a"
        LoadInt { dst: 1, imm: 1 },
        LoadConst { dst: 2, k: 1 }, // "b"
        LoadInt { dst: 3, imm: 2 },
        LoadInt { dst: 4, imm: 5 },
        NewMap { dst: 5, site: 0 }, // {"a": 5, "b": 2}: later duplicate overwrites
        LoadConst { dst: 6, k: 2 }, // "c"
        MapSet {
            map: 5,
            key: 6,
            val: 3,
        },
        LoadConst { dst: 6, k: 3 }, // a fresh "a" object
        MapSet {
            map: 5,
            key: 6,
            val: 1,
        },
        MapGet {
            dst: 7,
            map: 5,
            key: 2,
        },
        ToStr {
            dst: 8,
            src: 5,
            kind: REF,
        },
        ToStr {
            dst: 9,
            src: 7,
            kind: INT,
        },
        Print { site: 1 },
        LoadConst { dst: 6, k: 4 },
        MapGet {
            dst: 7,
            map: 5,
            key: 6,
        }, // 15: missing key
        RetVoid,
    ];
    let main = F::new("main", 0, 10)
        .refs(&[0, 2, 5, 6, 8, 9])
        .consts(vec![s("a"), s("b"), s("c"), s("a"), s("zz")])
        .site(kinds, &[0, 1, 2, 3, 0, 4])
        .site(0, &[8, 9])
        .code(1, code);
    let p = program(vec![main], 0);
    let (code, out, err) = run_prog(&p, VmOptions::default());
    assert_eq!(out, "{\"a\": 1, \"b\": 2, \"c\": 2} 2\n");
    assert_eq!(code, 1);
    assert!(
        err.starts_with("t.bp:16:5: runtime error: key not found in map: \""),
        "{err}"
    );
}

#[test]
fn tuples_structs_closures_and_equality() {
    let s = |x: &str| Const::Str(x.as_bytes().to_vec());
    let layout = Layout {
        name: "Point".into(),
        fields: vec![("x".into(), ValKind::Int), ("name".into(), ValKind::Ref)],
        is_class: false,
    };
    let code = vec![
        LoadInt { dst: 0, imm: 3 },
        LoadConst { dst: 1, k: 0 },
        NewTuple { dst: 2, site: 0 }, // (3, "p")
        TupleGet {
            dst: 3,
            tup: 2,
            idx: 1,
        }, // "p"
        NewStruct { dst: 4, site: 1 }, // Point{x: 3, name: "p"}
        LoadInt { dst: 5, imm: 9 },
        SetField {
            obj: 4,
            idx: 0,
            src: 5,
        },
        GetField {
            dst: 6,
            obj: 4,
            idx: 0,
        }, // 9
        NewStruct { dst: 7, site: 2 },     // Point{x: 9, name: "p"}
        EqRef { dst: 8, a: 4, b: 7 },      // true (deep)
        MakeClosure { dst: 9, site: 3 },   // fn double
        CallIndirect { dst: 10, site: 4 }, // double(9) = 18
        ToStr {
            dst: 11,
            src: 2,
            kind: REF,
        },
        ToStr {
            dst: 12,
            src: 4,
            kind: REF,
        },
        ToStr {
            dst: 13,
            src: 8,
            kind: ValKind::Bool as u8,
        },
        ToStr {
            dst: 14,
            src: 10,
            kind: INT,
        },
        ToStr {
            dst: 15,
            src: 9,
            kind: REF,
        },
        Print { site: 5 },
        RetVoid,
    ];
    let main = F::new("main", 0, 16)
        .refs(&[1, 2, 3, 4, 7, 9, 11, 12, 13, 14, 15])
        .consts(vec![s("p")])
        .site_k(0, &[0, 1], &[ValKind::Int, ValKind::Ref])
        .site(0, &[0, 3])
        .site(0, &[6, 3])
        .site_k(1, &[], &[])
        .site(9, &[6])
        .site(0, &[11, 12, 13, 14, 15])
        .code(1, code);
    let double = F::new("double", 1, 2)
        .ret(ValKind::Int)
        .code(40, vec![AddI { dst: 1, a: 0, b: 0 }, Ret { src: 1 }]);
    let mut p = program(vec![main, double], 0);
    p.layouts = vec![layout];
    assert_eq!(
        run_ok(&p),
        "(3, \"p\") Point{x: 9, name: \"p\"} true 18 <fn double>\n"
    );
}

#[test]
fn null_reference_is_a_runtime_error() {
    let code = vec![
        LoadNull { dst: 0 },
        GetField {
            dst: 1,
            obj: 0,
            idx: 0,
        },
        RetVoid,
    ];
    let main = F::new("main", 0, 2).refs(&[0]).code(1, code);
    let (code, _, err) = run_prog(&program(vec![main], 0), VmOptions::default());
    assert_eq!(code, 1);
    assert!(
        err.starts_with("t.bp:2:5: runtime error: null reference\n"),
        "{err}"
    );
}

#[test]
fn throw_uncaught_and_rethrow_keeps_origin() {
    let s = |x: &str| Const::Str(x.as_bytes().to_vec());
    // thrower() at line 50: throw "boom"
    let thrower = F::new("thrower", 0, 1)
        .refs(&[0])
        .consts(vec![s("boom")])
        .code(50, vec![LoadConst { dst: 0, k: 0 }, Throw { src: 0 }]);
    // main: try { thrower() } catch-all r0 { print("finally"); rethrow r0 }
    let main = F::new("main", 0, 2)
        .refs(&[0, 1])
        .consts(vec![s("finally")])
        .site(0, &[])
        .site(0, &[1])
        .handler(0, 1, 2, Some(0))
        .code(
            1,
            vec![
                Call { dst: 1, site: 0 },
                RetVoid,
                LoadConst { dst: 1, k: 0 },
                Print { site: 1 },
                Rethrow { src: 0 },
            ],
        );
    let p = program(vec![thrower, main], 1);
    let (code, out, err) = run_prog(&p, VmOptions::default());
    assert_eq!(code, 1);
    assert_eq!(out, "finally\n");
    assert_eq!(
        err,
        "t.bp:51:5: unhandled exception: boom\n  at thrower (t.bp:51:5)\n  at main (t.bp:1:5)\n"
    );
}

#[test]
fn runtime_error_from_builtin_is_catchable() {
    let pop = bp_runtime::builtins::lookup("array_pop").expect("array_pop builtin");
    let push = bp_runtime::builtins::lookup("array_push").expect("array_push builtin");
    let code = vec![
        LoadInt { dst: 2, imm: 77 },
        NewArray { dst: 0, site: 0 },
        LoadInt { dst: 1, imm: 4 },
        CallBuiltin { dst: 2, site: 1 }, // array_push(a, 4): void, r2 unchanged
        CallBuiltin { dst: 1, site: 2 }, // array_pop(a) -> 4
        CallBuiltin { dst: 1, site: 2 }, // 5: array_pop on an empty array raises
        RetVoid,
        Print { site: 3 }, // 7: handler
        ToStr {
            dst: 3,
            src: 1,
            kind: INT,
        },
        ToStr {
            dst: 4,
            src: 2,
            kind: INT,
        },
        Print { site: 4 },
        RetVoid,
    ];
    let main = F::new("main", 0, 6)
        .refs(&[0, 3, 4, 5])
        .site(INT as u32, &[])
        .site(push, &[0, 1])
        .site(pop, &[0])
        .site(0, &[5])
        .site(0, &[3, 4])
        .handler(5, 6, 7, Some(5))
        .code(1, code);
    let p = program(vec![main], 0);
    assert_eq!(run_ok(&p), "array_pop on empty array\n4 77\n");
}

#[test]
fn unknown_extern_is_an_error_not_a_crash() {
    let main = F::new("main", 0, 1)
        .site(0, &[])
        .code(1, vec![CallExtern { dst: 0, site: 0 }, RetVoid]);
    let (code, _, err) = run_prog(&program(vec![main], 0), VmOptions::default());
    assert_eq!(code, 1);
    assert!(err.contains("extern"), "{err}");
}

#[test]
fn init_globals_and_exit_status() {
    // init: g0 = 40; main: return g0 + 260
    let init = F::new("<init>", 0, 1).code(
        1,
        vec![LoadInt { dst: 0, imm: 40 }, SetGlobal { src: 0, idx: 0 }, RetVoid],
    );
    let main = F::new("main", 0, 1).ret(ValKind::Int).code(
        5,
        vec![
            GetGlobal { dst: 0, idx: 0 },
            AddIImm {
                dst: 0,
                a: 0,
                imm: 260,
            },
            Ret { src: 0 },
        ],
    );
    let mut p = program(vec![init, main], 1);
    p.init = Some(0);
    p.globals = vec![GlobalDef {
        name: "g".into(),
        kind: ValKind::Int,
    }];
    assert_eq!(run_prog(&p, VmOptions::default()).0, 300);
}

/// A loop that allocates a new string per iteration while keeping one string in a
/// register and one in a global; under GC stress every iteration collects.
fn alloc_loop_program(n: i64) -> Program {
    let s = |x: &str| Const::Str(x.as_bytes().to_vec());
    let init = F::new("<init>", 0, 3)
        .refs(&[0, 1, 2])
        .consts(vec![s("glo"), s("bal")])
        .code(
            1,
            vec![
                LoadConst { dst: 0, k: 0 },
                LoadConst { dst: 1, k: 1 },
                Concat { dst: 2, a: 0, b: 1 },
                SetGlobal { src: 2, idx: 0 },
                RetVoid,
            ],
        );
    let code = vec![
        LoadConst { dst: 0, k: 0 },
        LoadConst { dst: 1, k: 1 },
        Concat { dst: 2, a: 0, b: 1 }, // kept: "keeper"
        LoadInt { dst: 3, imm: 0 },
        LoadConst { dst: 4, k: 2 },
        BrLeI {
            a: 4,
            b: 3,
            target: 11,
        }, // 5
        ToStr {
            dst: 5,
            src: 3,
            kind: INT,
        },
        Concat { dst: 6, a: 2, b: 5 },
        NewArray { dst: 7, site: 0 },
        AddIImm { dst: 3, a: 3, imm: 1 },
        Loop {
            target: 5,
            loop_id: 0,
        },
        GetGlobal { dst: 5, idx: 0 }, // 11
        ToStr {
            dst: 7,
            src: 7,
            kind: REF,
        },
        Print { site: 1 },
        RetVoid,
    ];
    let main = F::new("main", 0, 8)
        .refs(&[0, 1, 2, 5, 6, 7])
        .consts(vec![s("keep"), s("er"), Const::Int(n)])
        .site(REF as u32, &[6, 2])
        .site(0, &[2, 5, 6, 7])
        .loops(1)
        .code(10, code);
    let mut p = program(vec![init, main], 1);
    p.init = Some(0);
    p.globals = vec![GlobalDef {
        name: "g".into(),
        kind: ValKind::Ref,
    }];
    p
}

#[test]
fn gc_stress_keeps_roots_alive() {
    let n = 2000;
    let p = alloc_loop_program(n);
    let mut vm = Vm::new(
        &p,
        VmOptions {
            gc_stress: bp_runtime::heap::GcStress::Every,
            ..Default::default()
        },
    );
    vm.capture = true;
    assert_eq!(vm.run_program(), 0, "{}", vm.err);
    let out = String::from_utf8(vm.take_output()).unwrap();
    let last = format!("keeper{}", n - 1);
    assert_eq!(out, format!("keeper global {last} [\"{last}\", \"keeper\"]\n"));
    let stats = vm.rt.heap.stats;
    // Three allocations per iteration, but `to_str(i)` of a single digit is a
    // shared string (no allocation, no collection).
    assert!(stats.collections >= 3 * n as u64 - 10, "{stats:?}");
    // Only the constants and a handful of live objects remain.
    assert!(vm.rt.heap.objects() < 20, "{} objects", vm.rt.heap.objects());
}

#[test]
fn gc_normal_mode_collects_big_loops() {
    let p = alloc_loop_program(200_000);
    let mut vm = Vm::new(&p, VmOptions::default());
    vm.capture = true;
    assert_eq!(vm.run_program(), 0, "{}", vm.err);
    assert!(vm.rt.heap.stats.collections >= 1);
    assert!(vm.rt.heap.objects() < 200_000);
}

#[test]
fn gc_stress_with_caught_runtime_errors() {
    // Runtime errors allocate their message; catching writes it to a register.
    let s = |x: &str| Const::Str(x.as_bytes().to_vec());
    let code = vec![
        LoadInt { dst: 0, imm: 0 },
        LoadInt { dst: 1, imm: 0 },
        BrGeIImm {
            a: 0,
            imm: 300,
            target: 9,
        }, // 2
        LoadConst { dst: 4, k: 0 },
        DivI { dst: 2, a: 0, b: 1 }, // 4: raises
        Jmp { target: 9 },
        Concat { dst: 3, a: 4, b: 3 }, // 6: handler, r3 = "!" + e
        AddIImm { dst: 0, a: 0, imm: 1 },
        Loop {
            target: 2,
            loop_id: 0,
        },
        Print { site: 0 }, // 9
        RetVoid,
    ];
    let main = F::new("main", 0, 5)
        .refs(&[3, 4])
        .consts(vec![s("!")])
        .site(0, &[3])
        .handler(4, 5, 6, Some(3))
        .loops(1)
        .code(1, code);
    let p = program(vec![main], 0);
    let (code, out, err) = run_prog(
        &p,
        VmOptions {
            gc_stress: bp_runtime::heap::GcStress::Every,
            ..Default::default()
        },
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "!division by zero\n", ""));
}

#[test]
fn verifier_rejects_bad_register() {
    let main = F::new("main", 0, 1).code(1, vec![LoadInt { dst: 3, imm: 1 }, RetVoid]);
    let (code, _, err) = run_prog(&program(vec![main], 0), VmOptions::default());
    assert_eq!(code, 1);
    assert!(err.starts_with("internal error: invalid bytecode"), "{err}");
}

#[test]
fn verifier_rejects_root_map_mismatch() {
    let main = F::new("main", 0, 1)
        .consts(vec![Const::Str(b"x".to_vec())])
        .code(1, vec![LoadConst { dst: 0, k: 0 }, RetVoid]);
    let (code, _, err) = run_prog(&program(vec![main], 0), VmOptions::default());
    assert_eq!(code, 1);
    assert!(err.contains("not in the root map"), "{err}");
}

#[test]
fn verifier_checks_the_operands_of_every_instruction() {
    let verify = |f: Function| {
        crate::vm::verify::verify(&program(vec![f], 0))
            .err()
            .unwrap_or_default()
    };
    // A call site's register, a jump target, a closure register, a call site.
    let f = F::new("main", 0, 2)
        .site(0, &[0, 2])
        .code(1, vec![Print { site: 0 }, RetVoid]);
    assert!(verify(f).contains("register r2 >= nregs 2"));
    let f = F::new("main", 0, 1).code(1, vec![Jmp { target: 1 }]);
    assert!(verify(f).contains("jump target 1 out of range"));
    let f = F::new("main", 0, 2)
        .site(300, &[])
        .code(1, vec![CallIndirect { dst: 0, site: 0 }, RetVoid]);
    assert!(verify(f).contains("closure register r300 out of range"));
    let f = F::new("main", 0, 1).code(1, vec![NewArray { dst: 0, site: 0 }, RetVoid]);
    assert!(verify(f).contains("call site 0 out of range"));
    // The result of a void call is not written, so its kind is not checked.
    let g = F::new("g", 0, 1).code(1, vec![RetVoid]);
    let main = F::new("main", 0, 1)
        .refs(&[0])
        .site(1, &[])
        .code(1, vec![Call { dst: 0, site: 0 }, RetVoid]);
    assert_eq!(crate::vm::verify::verify(&program(vec![main, g], 0)), Ok(()));
}

#[test]
fn verifier_rejects_falling_off_the_end() {
    let main = F::new("main", 0, 1).code(1, vec![LoadInt { dst: 0, imm: 1 }]);
    let (code, _, err) = run_prog(&program(vec![main], 0), VmOptions::default());
    assert_eq!(code, 1);
    assert!(err.contains("does not end with"), "{err}");
}

#[test]
fn gc_stress_deep_frames_keep_their_registers() {
    // rec(n): s = to_str(n); if n == 0: return s; return rec(n - 1) + "," + s
    let rec = F::new("rec", 1, 5)
        .refs(&[1, 2, 4])
        .ret(ValKind::Ref)
        .consts(vec![Const::Str(b",".to_vec())])
        .site(0, &[3])
        .site(0, &[2, 4, 1])
        .code(
            1,
            vec![
                ToStr {
                    dst: 1,
                    src: 0,
                    kind: INT,
                },
                BrNeIImm {
                    a: 0,
                    imm: 0,
                    target: 3,
                },
                Ret { src: 1 },
                AddIImm {
                    dst: 3,
                    a: 0,
                    imm: -1,
                },
                Call { dst: 2, site: 0 },
                LoadConst { dst: 4, k: 0 },
                ConcatN { dst: 2, site: 1 },
                Ret { src: 2 },
            ],
        );
    let main = F::new("main", 0, 2).refs(&[1]).site(0, &[0]).site(0, &[1]).code(
        20,
        vec![
            LoadInt { dst: 0, imm: 300 },
            Call { dst: 1, site: 0 },
            Print { site: 1 },
            RetVoid,
        ],
    );
    let p = program(vec![rec, main], 1);
    let want: Vec<String> = (0..=300).map(|i| i.to_string()).collect();
    let (code, out, err) = run_prog(
        &p,
        VmOptions {
            gc_stress: bp_runtime::heap::GcStress::Every,
            ..Default::default()
        },
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, want.join(",") + "\n");
}

#[test]
fn exit_code_of_main_and_void_main() {
    let main = F::new("main", 0, 1)
        .ret(ValKind::Int)
        .code(1, vec![LoadInt { dst: 0, imm: -1 }, Ret { src: 0 }]);
    assert_eq!(run_prog(&program(vec![main], 0), VmOptions::default()).0, -1);
    let main = F::new("main", 0, 0).code(1, vec![RetVoid]);
    assert_eq!(run_prog(&program(vec![main], 0), VmOptions::default()).0, 0);
}

#[test]
fn exit_builtin_stops_at_once() {
    let exit = bp_runtime::builtins::lookup("exit").expect("exit builtin");
    let s = |x: &str| Const::Str(x.as_bytes().to_vec());
    let main = F::new("main", 0, 2)
        .refs(&[0])
        .ret(ValKind::Int)
        .consts(vec![s("before"), s("after")])
        .site(0, &[0])
        .site(exit, &[1])
        .code(
            1,
            vec![
                LoadConst { dst: 0, k: 0 },
                Print { site: 0 },
                LoadInt { dst: 1, imm: 259 },
                CallBuiltin { dst: 1, site: 1 },
                LoadConst { dst: 0, k: 1 },
                Print { site: 0 },
                Ret { src: 1 },
            ],
        );
    let (code, out, err) = run_prog(&program(vec![main], 0), VmOptions::default());
    assert_eq!((code, out.as_str(), err.as_str()), (3, "before\n", ""));
}

#[cfg(debug_assertions)]
#[test]
fn internal_panics_become_internal_errors() {
    // A type-confused program (indexing a string as an array) trips a debug
    // assertion in the runtime; the run reports it instead of crashing.
    let main = F::new("main", 0, 3)
        .refs(&[0])
        .consts(vec![Const::Str(b"s".to_vec())])
        .code(
            1,
            vec![
                LoadConst { dst: 0, k: 0 },
                LoadInt { dst: 1, imm: 0 },
                ArrGet {
                    dst: 2,
                    arr: 0,
                    idx: 1,
                    elem: 0,
                },
                RetVoid,
            ],
        );
    let (code, _, err) = run_prog(&program(vec![main], 0), VmOptions::default());
    assert_eq!(code, 1);
    assert!(err.starts_with("internal error: "), "{err}");
}
