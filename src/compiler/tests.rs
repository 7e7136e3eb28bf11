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
        return Err(diags.list.iter().map(|d| format!("{}: {}", sources.location(d.span), d.message)).collect());
    }
    let p = super::compile_program(&mods, &info, &sources, &mut diags);
    if diags.has_errors() {
        return Err(diags.list.iter().map(|d| format!("{}: {}\n", sources.location(d.span), d.message)).collect());
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
    let id = p.functions.iter().position(|f| f.name == name).unwrap_or_else(|| panic!("no function {name}"));
    let mut out = String::new();
    crate::bytecode::disasm::disassemble_function(&p, id, &p.functions[id], &mut out);
    out
}

fn func<'p>(p: &'p Program, name: &str) -> &'p crate::bytecode::Function {
    p.functions.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no function {name}"))
}

/// Compile and run; returns (exit status, stdout, stderr).
fn run(src: &str) -> (i32, String, String) {
    let p = build_ok(src);
    let (code, out, err) = crate::vm::run_capture(&p, crate::vm::VmOptions::default());
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

fn run_ok(src: &str) -> String {
    let (code, out, err) = run(src);
    assert_eq!(code, 0, "exit status {code}; stdout:\n{out}\nstderr:\n{err}\nlisting:\n{}", disasm(src));
    out
}

/// Every function's invariants: registers in range, classes consistent with
/// the kinds of parameters, handler ranges inside the code, jump targets valid.
fn check_invariants(p: &Program) {
    for f in &p.functions {
        assert_eq!(f.ref_regs.len(), f.nregs as usize, "{}", f.name);
        assert_eq!(f.code.len(), f.locs.len(), "{}", f.name);
        assert!(f.nregs <= 256);
        for (i, k) in f.param_kinds.iter().enumerate() {
            assert_eq!(f.ref_regs[i], *k == bp_runtime::value::ValKind::Ref, "{} param {i}", f.name);
        }
        for i in &f.code {
            if let Some(t) = crate::bytecode::disasm::jump_target(i) {
                assert!((t as usize) <= f.code.len(), "{}: jump out of range", f.name);
            }
        }
        for h in &f.handlers {
            assert!(h.start < h.end && (h.end as usize) <= f.code.len() && (h.target as usize) < f.code.len());
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
