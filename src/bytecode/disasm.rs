//! Human-readable listing of a [`Program`] (`bp disasm FILE`).
//!
//! Format (stable; tests may snapshot it):
//!
//! ```text
//! globals: 0 limit:int
//! layouts: 0 Point{x:int, y:int}
//! init: fn 3
//! main: fn 1
//!
//! fn 1 main(0 params) -> int   [main.bp:5]
//!   registers: 3  refs: r1
//!   constants: k0 = 3.5, k1 = "hi"
//!   loops: 1
//!      0  L6    LoadInt      r0, 5
//!      1  L7    Call         r2 = fact(r0)
//!      2  L7    BrLeI        r1, r0 -> 5
//!   handlers:
//!     [0, 4) -> 7  r2
//! ```
//!
//! Operands: registers `rN`, constants `kN (value)`, jump targets `-> N`, call
//! sites with the callee's name, builtin and extern names, field names when the
//! object's layout is known (the register was last written by `NewStruct` in the
//! same straight-line region).

use super::{CallSite, Const, Function, Instr, Program};
use bp_runtime::format::{write_quoted_as, Quoting};
use std::fmt::Write as _;

/// Disassemble the whole program.
pub fn disassemble(p: &Program) -> String {
    let mut out = String::new();
    if !p.globals.is_empty() {
        let gs: Vec<String> = p
            .globals
            .iter()
            .enumerate()
            .map(|(i, g)| format!("{i} {}:{}", g.name, kind_name(g.kind as u8)))
            .collect();
        let _ = writeln!(out, "globals: {}", gs.join(", "));
    }
    if !p.layouts.is_empty() {
        let ls: Vec<String> = p
            .layouts
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let fs: Vec<String> = l
                    .fields
                    .iter()
                    .map(|(n, k)| format!("{n}:{}", kind_name(*k as u8)))
                    .collect();
                let class = if l.is_class { "class " } else { "" };
                format!("{i} {class}{}{{{}}}", l.name, fs.join(", "))
            })
            .collect();
        let _ = writeln!(out, "layouts: {}", ls.join(", "));
    }
    for (i, e) in p.externs.iter().enumerate() {
        let ps: Vec<String> = e.params.iter().map(|t| format!("{t:?}").to_lowercase()).collect();
        let _ = writeln!(
            out,
            "extern {i} {}({}) -> {} from \"{}\" as \"{}\"",
            e.name,
            ps.join(", "),
            format!("{:?}", e.ret).to_lowercase(),
            e.library,
            e.symbol
        );
    }
    if let Some(init) = p.init {
        let _ = writeln!(out, "init: fn {init}");
    }
    let _ = writeln!(out, "main: fn {}", p.main);
    for (id, f) in p.functions.iter().enumerate() {
        out.push('\n');
        disassemble_function(p, id, f, &mut out);
    }
    out
}

/// Disassemble one function (appended to `out`).
pub fn disassemble_function(p: &Program, id: usize, f: &Function, out: &mut String) {
    let file = p.files.get(f.file as usize).map(|s| s.as_str()).unwrap_or("?");
    let params: Vec<String> = f
        .param_kinds
        .iter()
        .map(|k| kind_name(*k as u8).to_string())
        .collect();
    let ret = match f.ret_kind {
        Some(k) => kind_name(k as u8),
        None => "void",
    };
    let _ = writeln!(
        out,
        "fn {id} {}({}) -> {ret}   [{file}:{}]",
        f.name,
        params.join(", "),
        f.line
    );
    let refs: Vec<String> = f
        .ref_regs
        .iter()
        .enumerate()
        .filter(|(_, &r)| r)
        .map(|(i, _)| format!("r{i}"))
        .collect();
    let _ = writeln!(
        out,
        "  registers: {}  refs: {}",
        f.nregs,
        if refs.is_empty() {
            "-".to_string()
        } else {
            refs.join(" ")
        }
    );
    if !f.consts.is_empty() {
        let cs: Vec<String> = f
            .consts
            .iter()
            .enumerate()
            .map(|(i, c)| format!("k{i} = {}", const_text(c)))
            .collect();
        let _ = writeln!(out, "  constants: {}", cs.join(", "));
    }
    if f.num_loops > 0 {
        let _ = writeln!(out, "  loops: {}", f.num_loops);
    }
    // Jump targets end straight-line regions for the layout tracking.
    let mut is_target = vec![false; f.code.len() + 1];
    for i in &f.code {
        if let Some(t) = i.jump_target() {
            if let Some(slot) = is_target.get_mut(t as usize) {
                *slot = true;
            }
        }
    }
    for h in &f.handlers {
        if let Some(slot) = is_target.get_mut(h.target as usize) {
            *slot = true;
        }
    }
    let mut layout_of: Vec<Option<u32>> = vec![None; 256];
    for (pc, i) in f.code.iter().enumerate() {
        if is_target[pc] {
            layout_of.iter_mut().for_each(|x| *x = None);
        }
        let line = f.locs.get(pc).map(|l| l.line).unwrap_or(0);
        let (mn, ops) = render(p, f, i, &layout_of);
        let text = format!("  {pc:>4}  L{line:<4} {mn:<12} {ops}");
        out.push_str(text.trim_end());
        out.push('\n');
        // Track which registers hold a struct of a known layout.
        if let Some(d) = i.operands(p, f).dst {
            layout_of[d as usize] = match i {
                Instr::NewStruct { site, .. } => f.sites.get(*site as usize).map(|s| s.target),
                _ => None,
            };
        }
    }
    if !f.handlers.is_empty() {
        let _ = writeln!(out, "  handlers:");
        for h in &f.handlers {
            let reg = match h.reg {
                Some(r) => format!("  r{r}"),
                None => String::new(),
            };
            let _ = writeln!(out, "    [{}, {}) -> {}{reg}", h.start, h.end, h.target);
        }
    }
}

fn kind_name(k: u8) -> &'static str {
    match k {
        0 => "int",
        1 => "float",
        2 => "bool",
        _ => "ref",
    }
}

fn const_text(c: &Const) -> String {
    match c {
        Const::Int(i) => i.to_string(),
        Const::Float(x) => {
            if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
                format!("{x:.1}")
            } else {
                format!("{x}")
            }
        }
        Const::Str(s) => quote(s),
    }
}

fn quote(s: &[u8]) -> String {
    let mut o = Vec::new();
    write_quoted_as(&mut o, s, Quoting::Ascii);
    // Printable ASCII only.
    String::from_utf8_lossy(&o).into_owned()
}

fn regs(rs: &[u8]) -> String {
    rs.iter().map(|r| format!("r{r}")).collect::<Vec<_>>().join(", ")
}

fn func_name(p: &Program, id: u32) -> String {
    match p.functions.get(id as usize) {
        Some(f) => f.name.clone(),
        None => format!("fn#{id}"),
    }
}

fn field_name(p: &Program, layout: Option<u32>, idx: u8) -> String {
    layout
        .and_then(|l| p.layouts.get(l as usize))
        .and_then(|l| l.fields.get(idx as usize))
        .map(|(n, _)| n.clone())
        .unwrap_or_else(|| format!("#{idx}"))
}

/// Mnemonic and operand text of one instruction.
fn render(p: &Program, f: &Function, i: &Instr, layout_of: &[Option<u32>]) -> (&'static str, String) {
    use Instr::*;
    let empty = CallSite::default();
    let site = |s: u32| f.sites.get(s as usize).unwrap_or(&empty);
    let konst = |k: u32| match f.consts.get(k as usize) {
        Some(c) => format!("k{k} ({})", const_text(c)),
        None => format!("k{k} (?)"),
    };
    let r3 = |dst: u8, a: u8, b: u8| format!("r{dst}, r{a}, r{b}");
    match *i {
        Mov { dst, src } => ("Mov", format!("r{dst}, r{src}")),
        LoadInt { dst, imm } => ("LoadInt", format!("r{dst}, {imm}")),
        LoadConst { dst, k } => ("LoadConst", format!("r{dst}, {}", konst(k))),
        LoadBool { dst, val } => ("LoadBool", format!("r{dst}, {val}")),
        LoadNull { dst } => ("LoadNull", format!("r{dst}")),
        GetGlobal { dst, idx } => ("GetGlobal", format!("r{dst}, {}", global(p, idx))),
        SetGlobal { src, idx } => ("SetGlobal", format!("{}, r{src}", global(p, idx))),
        AddI { dst, a, b } => ("AddI", r3(dst, a, b)),
        SubI { dst, a, b } => ("SubI", r3(dst, a, b)),
        MulI { dst, a, b } => ("MulI", r3(dst, a, b)),
        DivI { dst, a, b } => ("DivI", r3(dst, a, b)),
        ModI { dst, a, b } => ("ModI", r3(dst, a, b)),
        AddIImm { dst, a, imm } => ("AddIImm", format!("r{dst}, r{a}, {imm}")),
        NegI { dst, src } => ("NegI", format!("r{dst}, r{src}")),
        BitAnd { dst, a, b } => ("BitAnd", r3(dst, a, b)),
        BitOr { dst, a, b } => ("BitOr", r3(dst, a, b)),
        BitXor { dst, a, b } => ("BitXor", r3(dst, a, b)),
        Shl { dst, a, b } => ("Shl", r3(dst, a, b)),
        Shr { dst, a, b } => ("Shr", r3(dst, a, b)),
        BitNot { dst, src } => ("BitNot", format!("r{dst}, r{src}")),
        AddF { dst, a, b } => ("AddF", r3(dst, a, b)),
        SubF { dst, a, b } => ("SubF", r3(dst, a, b)),
        MulF { dst, a, b } => ("MulF", r3(dst, a, b)),
        DivF { dst, a, b } => ("DivF", r3(dst, a, b)),
        ModF { dst, a, b } => ("ModF", r3(dst, a, b)),
        NegF { dst, src } => ("NegF", format!("r{dst}, r{src}")),
        EqI { dst, a, b } => ("EqI", r3(dst, a, b)),
        NeI { dst, a, b } => ("NeI", r3(dst, a, b)),
        LtI { dst, a, b } => ("LtI", r3(dst, a, b)),
        LeI { dst, a, b } => ("LeI", r3(dst, a, b)),
        EqF { dst, a, b } => ("EqF", r3(dst, a, b)),
        NeF { dst, a, b } => ("NeF", r3(dst, a, b)),
        LtF { dst, a, b } => ("LtF", r3(dst, a, b)),
        LeF { dst, a, b } => ("LeF", r3(dst, a, b)),
        EqRef { dst, a, b } => ("EqRef", r3(dst, a, b)),
        NeRef { dst, a, b } => ("NeRef", r3(dst, a, b)),
        Not { dst, src } => ("Not", format!("r{dst}, r{src}")),
        Jmp { target } => ("Jmp", format!("-> {target}")),
        Loop { target, loop_id } => ("Loop", format!("-> {target}  (loop {loop_id})")),
        JmpIf { cond, target } => ("JmpIf", format!("r{cond} -> {target}")),
        JmpIfNot { cond, target } => ("JmpIfNot", format!("r{cond} -> {target}")),
        BrEqI { a, b, target } => ("BrEqI", format!("r{a}, r{b} -> {target}")),
        BrNeI { a, b, target } => ("BrNeI", format!("r{a}, r{b} -> {target}")),
        BrLtI { a, b, target } => ("BrLtI", format!("r{a}, r{b} -> {target}")),
        BrLeI { a, b, target } => ("BrLeI", format!("r{a}, r{b} -> {target}")),
        BrEqIImm { a, imm, target } => ("BrEqIImm", format!("r{a}, {imm} -> {target}")),
        BrNeIImm { a, imm, target } => ("BrNeIImm", format!("r{a}, {imm} -> {target}")),
        BrLtIImm { a, imm, target } => ("BrLtIImm", format!("r{a}, {imm} -> {target}")),
        BrLeIImm { a, imm, target } => ("BrLeIImm", format!("r{a}, {imm} -> {target}")),
        BrGtIImm { a, imm, target } => ("BrGtIImm", format!("r{a}, {imm} -> {target}")),
        BrGeIImm { a, imm, target } => ("BrGeIImm", format!("r{a}, {imm} -> {target}")),
        BrLtF { a, b, target } => ("BrLtF", format!("r{a}, r{b} -> {target}")),
        BrLeF { a, b, target } => ("BrLeF", format!("r{a}, r{b} -> {target}")),
        BrNotLtF { a, b, target } => ("BrNotLtF", format!("r{a}, r{b} -> {target}")),
        BrNotLeF { a, b, target } => ("BrNotLeF", format!("r{a}, r{b} -> {target}")),
        Call { dst, site: s } => {
            let cs = site(s);
            (
                "Call",
                format!("r{dst} = {}({})", func_name(p, cs.target), regs(&cs.args)),
            )
        }
        CallIndirect { dst, site: s } => {
            let cs = site(s);
            (
                "CallIndirect",
                format!("r{dst} = r{}({})", cs.target, regs(&cs.args)),
            )
        }
        CallBuiltin { dst, site: s } => {
            let cs = site(s);
            let name = bp_runtime::builtins::all()
                .get(cs.target as usize)
                .map(|b| b.name.to_string())
                .unwrap_or_else(|| format!("builtin#{}", cs.target));
            ("CallBuiltin", format!("r{dst} = {name}({})", regs(&cs.args)))
        }
        CallExtern { dst, site: s } => {
            let cs = site(s);
            let name = p
                .externs
                .get(cs.target as usize)
                .map(|e| e.name.clone())
                .unwrap_or_else(|| format!("extern#{}", cs.target));
            ("CallExtern", format!("r{dst} = {name}({})", regs(&cs.args)))
        }
        Ret { src } => ("Ret", format!("r{src}")),
        RetVoid => ("RetVoid", String::new()),
        Concat { dst, a, b } => ("Concat", r3(dst, a, b)),
        ConcatN { dst, site: s } => ("ConcatN", format!("r{dst} = concat({})", regs(&site(s).args))),
        ToStr { dst, src, kind } => ("ToStr", format!("r{dst}, r{src} ({})", kind_name(kind))),
        Print { site: s } => ("Print", format!("({})", regs(&site(s).args))),
        NewArray { dst, site: s } => {
            let cs = site(s);
            (
                "NewArray",
                format!("r{dst} = [{}] of {}", regs(&cs.args), kind_name(cs.target as u8)),
            )
        }
        ArrGet { dst, arr, idx } => ("ArrGet", format!("r{dst} = r{arr}[r{idx}]")),
        ArrSet { arr, idx, src } => ("ArrSet", format!("r{arr}[r{idx}] = r{src}")),
        ArrLen { dst, arr } => ("ArrLen", format!("r{dst} = len r{arr}")),
        NewMap { dst, site: s } => {
            let cs = site(s);
            let pairs: Vec<String> = cs
                .args
                .chunks(2)
                .map(|c| match c {
                    [k, v] => format!("r{k}: r{v}"),
                    [k] => format!("r{k}: ?"),
                    _ => String::new(),
                })
                .collect();
            let kk = kind_name((cs.target & 0xff) as u8);
            let vk = kind_name(((cs.target >> 8) & 0xff) as u8);
            (
                "NewMap",
                format!("r{dst} = {{{}}} of {kk}: {vk}", pairs.join(", ")),
            )
        }
        MapGet { dst, map, key } => ("MapGet", format!("r{dst} = r{map}[r{key}]")),
        MapSet { map, key, val } => ("MapSet", format!("r{map}[r{key}] = r{val}")),
        NewTuple { dst, site: s } => {
            let cs = site(s);
            let ks: Vec<&str> = cs.kinds.iter().map(|k| kind_name(*k as u8)).collect();
            (
                "NewTuple",
                format!("r{dst} = ({}) of ({})", regs(&cs.args), ks.join(", ")),
            )
        }
        TupleGet { dst, tup, idx } => ("TupleGet", format!("r{dst} = r{tup}.{idx}")),
        NewStruct { dst, site: s } => {
            let cs = site(s);
            let layout = p.layouts.get(cs.target as usize);
            let name = layout
                .map(|l| l.name.clone())
                .unwrap_or_else(|| format!("layout#{}", cs.target));
            let fields: Vec<String> = cs
                .args
                .iter()
                .enumerate()
                .map(|(i, r)| match layout.and_then(|l| l.fields.get(i)) {
                    Some((n, _)) => format!("{n}: r{r}"),
                    None => format!("r{r}"),
                })
                .collect();
            ("NewStruct", format!("r{dst} = {name}{{{}}}", fields.join(", ")))
        }
        GetField { dst, obj, idx } => {
            let l = layout_of.get(obj as usize).copied().flatten();
            ("GetField", format!("r{dst} = r{obj}.{}", field_name(p, l, idx)))
        }
        SetField { obj, idx, src } => {
            let l = layout_of.get(obj as usize).copied().flatten();
            ("SetField", format!("r{obj}.{} = r{src}", field_name(p, l, idx)))
        }
        MakeClosure { dst, site: s } => {
            let cs = site(s);
            let caps = if cs.args.is_empty() {
                String::new()
            } else {
                format!(" [{}]", regs(&cs.args))
            };
            (
                "MakeClosure",
                format!("r{dst} = fn {}{caps}", func_name(p, cs.target)),
            )
        }
        Throw { src } => ("Throw", format!("r{src}")),
        Rethrow { src } => ("Rethrow", format!("r{src}")),
    }
}

fn global(p: &Program, idx: u32) -> String {
    match p.globals.get(idx as usize) {
        Some(g) => format!("g{idx} ({})", g.name),
        None => format!("g{idx}"),
    }
}
