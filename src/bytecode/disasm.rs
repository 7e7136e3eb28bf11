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

use super::{CallSite, Const, Function, Instr, Program, Role, SiteUse};
use bp_runtime::format::{write_quoted_as, Quoting};
use bp_runtime::value::ValKind;
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
            layout_of[d as usize] = struct_layout(f, i);
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

/// The layout of the struct the instruction creates, if it creates one.
fn struct_layout(f: &Function, i: &Instr) -> Option<u32> {
    let site = i.site().and_then(|s| f.sites.get(s as usize))?;
    match i.op().site_use()? {
        SiteUse::Struct => Some(site.target),
        SiteUse::Function
        | SiteUse::ClosureReg
        | SiteUse::Builtin
        | SiteUse::Extern
        | SiteUse::Strings
        | SiteUse::Print
        | SiteUse::Array
        | SiteUse::Map
        | SiteUse::Tuple
        | SiteUse::Closure
        | SiteUse::Method => None,
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

/// Mnemonic and operand text of one instruction: its template from the
/// declaration with each `{field}` rendered by the field's role.
fn render(p: &Program, f: &Function, i: &Instr, layout_of: &[Option<u32>]) -> (&'static str, String) {
    let op = i.op();
    let fields = op.operands();
    let vals = i.operand_values();
    let vals = vals.as_slice();
    // The struct or tuple a `Field` / `Slot` operand indexes: the first register read.
    let object = op.operand_with(Role::Read).map(|at| vals[at] as u8);
    let mut text = String::new();
    let mut rest = op.template();
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let name = &rest[open + 1..close];
        match fields.iter().position(|&(n, _)| n == name) {
            Some(at) => text.push_str(&operand_text(p, f, fields[at].1, vals[at], object, layout_of)),
            None => text.push_str(&rest[open..=close.min(rest.len() - 1)]),
        }
        rest = rest.get(close + 1..).unwrap_or("");
    }
    text.push_str(rest);
    (op.name(), text)
}

/// The text of one operand with value `v` and role `role`.
fn operand_text(
    p: &Program,
    f: &Function,
    role: Role,
    v: i64,
    object: Option<u8>,
    layout_of: &[Option<u32>],
) -> String {
    match role {
        Role::Read | Role::Write | Role::ReadWrite => format!("r{v}"),
        Role::Int | Role::Target | Role::LoopId | Role::Slot => v.to_string(),
        Role::Bool => (v != 0).to_string(),
        Role::Const => match f.consts.get(v as usize) {
            Some(c) => format!("k{v} ({})", const_text(c)),
            None => format!("k{v} (?)"),
        },
        Role::Global => global(p, v as u32),
        Role::Kind => kind_name(v as u8).to_string(),
        Role::Class => p
            .layouts
            .get(v as usize)
            .map_or_else(|| format!("class#{v}"), |l| l.name.clone()),
        Role::Field => {
            let layout = object.and_then(|o| layout_of.get(o as usize).copied().flatten());
            field_name(p, layout, v as u8)
        }
        Role::Site(used) => {
            let empty = CallSite::default();
            let site = f.sites.get(v as usize).unwrap_or(&empty);
            site_text(p, used, site)
        }
    }
}

/// The text of a call site, by what it holds.
fn site_text(p: &Program, used: SiteUse, cs: &CallSite) -> String {
    match used {
        SiteUse::Function => format!("{}({})", func_name(p, cs.target), regs(&cs.args)),
        SiteUse::ClosureReg => format!("r{}({})", cs.target, regs(&cs.args)),
        SiteUse::Builtin => {
            let name = bp_runtime::builtins::all()
                .get(cs.target as usize)
                .map(|b| b.name.to_string())
                .unwrap_or_else(|| format!("builtin#{}", cs.target));
            format!("{name}({})", regs(&cs.args))
        }
        SiteUse::Extern => {
            let name = p
                .externs
                .get(cs.target as usize)
                .map(|e| e.name.clone())
                .unwrap_or_else(|| format!("extern#{}", cs.target));
            format!("{name}({})", regs(&cs.args))
        }
        SiteUse::Strings => {
            // A part that is not a string is marked with its kind (`r3:int`).
            let parts: Vec<String> = cs
                .args
                .iter()
                .enumerate()
                .map(|(i, r)| match cs.kinds.get(i) {
                    Some(&k) if k != ValKind::Ref => format!("r{r}:{}", kind_name(k as u8)),
                    _ => format!("r{r}"),
                })
                .collect();
            format!("concat({})", parts.join(", "))
        }
        SiteUse::Method => format!("method {}({})", cs.target, regs(&cs.args)),
        SiteUse::Print => format!("({})", regs(&cs.args)),
        SiteUse::Array => format!("[{}] of {}", regs(&cs.args), kind_name(cs.target as u8)),
        SiteUse::Map => {
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
            let hint = match cs.target >> super::MAP_SIZE_HINT {
                0 => String::new(),
                n => format!(" (room for {n})"),
            };
            format!("{{{}}} of {kk}: {vk}{hint}", pairs.join(", "))
        }
        SiteUse::Tuple => {
            let ks: Vec<&str> = cs.kinds.iter().map(|k| kind_name(*k as u8)).collect();
            format!("({}) of ({})", regs(&cs.args), ks.join(", "))
        }
        SiteUse::Struct => {
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
            format!("{name}{{{}}}", fields.join(", "))
        }
        SiteUse::Closure => {
            let caps = if cs.args.is_empty() {
                String::new()
            } else {
                format!(" [{}]", regs(&cs.args))
            };
            format!("fn {}{caps}", func_name(p, cs.target))
        }
    }
}

fn global(p: &Program, idx: u32) -> String {
    match p.globals.get(idx as usize) {
        Some(g) => format!("g{idx} ({})", g.name),
        None => format!("g{idx}"),
    }
}
