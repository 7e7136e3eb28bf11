//! Loop-carried structs kept as their fields (allocation sinking).
//!
//! `v = add(v, scale(g, 0.5))` in a loop makes a new `Vec2` every round, and
//! the next round only reads its fields. An innermost loop may keep such a
//! register's struct as one Cranelift variable per field instead: the
//! pre-header loads the fields of the struct the register holds on entry,
//! every `GetField` of it (in the loop, or in a callee inlined there) is the
//! variable, and every new struct for it just sets the variables. The struct
//! is made only where something outside the loop's code could see the
//! register: on the edges that leave the loop, and at its exits to the VM
//! (the translator's `Tr::materialize_structs`). LuaJIT's allocation sinking
//! does this for its traces ("Allocation Sinking Optimization", its wiki).
//!
//! Which registers qualify is decided here ([`sunk_structs`]); why each
//! condition is needed is said where it is tested. The frame slot of such a
//! register keeps the struct it had on entry, and a flag says whether the
//! loop has made a new one since: so an exit knows whether the struct to give
//! the VM is the original (which other variables may share: it must stay
//! the same object) or one to make from the variables.

use super::analysis::{
    inlined_callee, makes_scalar_struct, reads_only_fields, straight_without_calls, Analysis, CachedLoop,
    RegSet,
};
use crate::bytecode::{Function, Instr, Op, Program, Reg};
use bp_runtime::builtins;
use bp_runtime::value::ValKind;

/// A register that an innermost loop keeps as the fields of its struct.
#[derive(Clone, Debug, PartialEq)]
pub struct SunkStruct {
    pub reg: Reg,
    /// What the loop does with it.
    pub made: Made,
    /// The kinds of its fields, in order. Of a struct the loop makes: every
    /// field, ints, floats or bools (never a reference, which the collector
    /// would have to find). Of one it only reads: the fields up to the last
    /// it reads, each as a word (`ValKind::Int`; a use as a float converts).
    pub fields: Vec<ValKind>,
}

/// How a loop treats a register it keeps as fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Made {
    /// It makes new structs for it, of `layout`. `site` is the address of a
    /// `NewStruct` call site making one (of this function or of a callee:
    /// the program outlives the code), for `rt_new` where the struct is
    /// made.
    New { layout: u32, site: usize },
    /// It only reads the fields of the struct (or class instance) it holds
    /// on entry: they are loaded once, and nothing is ever made.
    ReadOnly,
}

/// The registers loop `l` keeps as fields: those that
///
/// * the loop writes only with new structs of scalar fields: a `NewStruct`
///   of its own, or an inlined `Call` of a straight callee that ends by
///   making the struct it returns (`add`, `scale`), all of one struct
///   layout;
/// * it reads only with `GetField`, or as an argument of an inlined `Call`
///   of a straight callee that reads that parameter only with `GetField`:
///   nothing else gets hold of the object, so nothing can store into it,
///   compare it or keep it;
///
/// in an innermost loop of a version that speculates, which
///
/// * stores into no field of any struct, and calls nothing it does not
///   inline (no code that could): the struct a register holds on entry may
///   be shared with other variables, and its fields are read once, in the
///   pre-header, so nothing may change them while the loop runs;
/// * has no instruction that a handler covers: the handler would read the
///   frame, which holds no struct the loop made.
pub fn sunk_structs(p: &Program, f: &Function, a: &Analysis, l: &CachedLoop) -> Vec<SunkStruct> {
    let n = f.code.len();
    if !l.innermost || l.resizes || l.header as usize >= n {
        return Vec::new();
    }
    let body: Vec<usize> = (l.header as usize..=(l.end as usize).min(n - 1))
        .filter(|&pc| a.reachable[pc])
        .collect();
    let quiet = body
        .iter()
        .all(|&pc| a.covering[pc].is_empty() && stores_no_fields(p, f, pc, &a.inlined));
    if !quiet {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut used = RegSet::default();
    for &pc in &body {
        for &u in &a.ops[pc].uses {
            used.insert(u);
        }
    }
    for r in used.iter() {
        if !a.is_ref.get(r as usize).copied().unwrap_or(false) {
            continue;
        }
        if let Some(s) = sunk_register(p, f, a, &body, r) {
            out.push(s);
        }
    }
    out
}

/// Register `r` as a [`SunkStruct`] of the loop whose reachable
/// instructions are `body`, if it qualifies ([`sunk_structs`]).
fn sunk_register(p: &Program, f: &Function, a: &Analysis, body: &[usize], r: Reg) -> Option<SunkStruct> {
    let mut made: Option<(u32, usize)> = None;
    let mut last_read = 0u8;
    for &pc in body {
        let ops = &a.ops[pc];
        if ops.writes() == Some(r) {
            // (A struct the next call only reads is never made anyway.)
            if a.virtual_struct[pc] {
                return None;
            }
            let (layout, site) = struct_maker(p, f, pc, &a.inlined)?;
            if made.is_some_and(|(l, _)| l != layout) {
                return None;
            }
            made = Some((layout, site));
        }
        if ops.uses.contains(&r) {
            last_read = last_read.max(fields_read(p, f, pc, &a.inlined, r)?);
        }
    }
    let Some((layout, site)) = made else {
        return Some(SunkStruct {
            reg: r,
            made: Made::ReadOnly,
            fields: vec![ValKind::Int; last_read as usize + 1],
        });
    };
    let l = p.layouts.get(layout as usize)?;
    let fields: Vec<ValKind> = l.fields.iter().map(|&(_, k)| k).collect();
    let scalar = fields
        .iter()
        .all(|k| matches!(k, ValKind::Int | ValKind::Float | ValKind::Bool));
    (!l.is_class && scalar).then_some(SunkStruct {
        reg: r,
        made: Made::New { layout, site },
        fields,
    })
}

/// The layout and call-site address of the struct the instruction at `pc`
/// makes, if it is a `NewStruct` of scalar fields or an inlined `Call` of a
/// straight callee that ends by making the struct it returns.
fn struct_maker(p: &Program, f: &Function, pc: usize, inlined: &[bool]) -> Option<(u32, usize)> {
    let scalar = |g: &Function, r: Reg| !g.ref_regs.get(r as usize).copied().unwrap_or(true);
    match f.code[pc] {
        Instr::NewStruct { site, .. } => {
            let s = f.sites.get(site as usize)?;
            s.args
                .iter()
                .all(|&r| scalar(f, r))
                .then_some((s.target, s as *const _ as usize))
        }
        Instr::Call { .. } => {
            let callee = inlined_callee(p, f, pc, inlined)?;
            if !makes_scalar_struct(callee) || !straight_without_calls(callee) {
                return None;
            }
            let Some(&Instr::NewStruct { site, .. }) = callee.code.iter().rev().nth(1) else {
                return None;
            };
            let s = callee.sites.get(site as usize)?;
            Some((s.target, s as *const _ as usize))
        }
        _ => None,
    }
}

/// If the instruction at `pc` reads register `r` only for its fields (a
/// `GetField` of it, or an inlined `Call` of a straight callee that reads
/// every parameter `r` is passed to only with `GetField`), the last field
/// it reads.
fn fields_read(p: &Program, f: &Function, pc: usize, inlined: &[bool], r: Reg) -> Option<u8> {
    match f.code[pc] {
        Instr::GetField { obj, dst, idx } => (obj == r && dst != r).then_some(idx),
        Instr::Call { site, .. } => {
            let callee = inlined_callee(p, f, pc, inlined)?;
            let s = f.sites.get(site as usize)?;
            let params: Vec<Reg> = (0..s.args.len())
                .filter(|&i| s.args[i] == r)
                .map(|i| i as Reg)
                .collect();
            if !reads_only_fields(p, callee, &params) {
                return None;
            }
            let last = callee.code.iter().filter_map(|ins| match *ins {
                Instr::GetField { obj, idx, .. } if params.contains(&obj) => Some(idx),
                _ => None,
            });
            Some(last.max().unwrap_or(0))
        }
        _ => None,
    }
}

/// Whether the instruction at `pc` can store into no field of any struct,
/// nor run code that could: not a `SetField`, nor a call other than an
/// inlined `Call` of a callee returning a value whose code (and that of the
/// calls it inlines in turn) has no `SetField` (an initializer is inlined
/// with its stores), or a builtin that runs no program code (a loop that
/// does not resize arrays calls only pure builtins and string operations).
fn stores_no_fields(p: &Program, f: &Function, pc: usize, inlined: &[bool]) -> bool {
    use Op::*;
    let ins = &f.code[pc];
    match ins.op() {
        SetField | CallIndirect | CallMethod | CallExtern => false,
        Call => inlined_callee(p, f, pc, inlined)
            .is_some_and(|callee| callee.ret_kind.is_some() && body_stores_no_fields(p, callee, 1)),
        CallBuiltin => ins
            .site()
            .and_then(|site| f.sites.get(site as usize))
            .and_then(|s| builtins::all().get(s.target as usize))
            .is_some_and(|b| b.flags & builtins::PURE != 0 || matches!(b.inline, builtins::Inline::Str(_))),
        // Registers, globals, array elements, map entries and cells are
        // written, objects made, branches taken: no field of a struct.
        Mov | LoadInt | LoadConst | LoadBool | LoadNull | GetGlobal | SetGlobal => true,
        AddI | SubI | MulI | DivI | ModI | AddIImm | NegI | BitAnd | BitOr | BitXor | Shl | Shr | BitNot => {
            true
        }
        MulIImm | DivIImm | ModIImm | AddModIImm | MulModIImm | BitAndImm | BitOrImm | BitXorImm | ShlImm
        | ShrImm => true,
        AddF | SubF | MulF | DivF | ModF | NegF => true,
        EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | Not | EqRef | NeRef | EqStr | NeStr => true,
        Jmp | Loop | ForLoop | JmpIf | JmpIfNot | BrEqI | BrNeI | BrLtI | BrLeI | BrEqIImm | BrNeIImm
        | BrLtIImm | BrLeIImm | BrGtIImm | BrGeIImm | BrLtF | BrLeF | BrNotLtF | BrNotLeF => true,
        Ret | RetVoid | Throw | Rethrow => true,
        Concat | ConcatN | ToStr | Print | TypeOf => true,
        NewArray | NewMap | NewTuple | NewStruct | MakeClosure | NewObject | NewCell => true,
        ArrSet | MapSet | CellSet | MapGet | ArrGet | ArrLen | TupleGet | GetField | GetCapture | CellGet => {
            true
        }
        NullCheck | IsNull | InstanceOf | CheckClass => true,
    }
}

/// Whether the code of `callee` has no `SetField` and calls only functions
/// whose code has none either, `depth` levels down (and none below).
fn body_stores_no_fields(p: &Program, callee: &Function, depth: u32) -> bool {
    callee.code.iter().all(|ins| match *ins {
        Instr::SetField { .. }
        | Instr::CallIndirect { .. }
        | Instr::CallMethod { .. }
        | Instr::CallExtern { .. } => false,
        Instr::Call { site, .. } => {
            depth > 0
                && callee
                    .sites
                    .get(site as usize)
                    .and_then(|s| p.functions.get(s.target as usize))
                    .is_some_and(|g| body_stores_no_fields(p, g, depth - 1))
        }
        _ => true,
    })
}
