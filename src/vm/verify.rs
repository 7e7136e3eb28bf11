//! Load-time bytecode verification.
//!
//! The dispatch loop reads instructions, constants, call sites, globals and
//! registers without bounds checks; this pass establishes the facts that make that
//! sound, and catches compiler bugs in the GC root maps early:
//! * every function has at most 256 registers, non-empty code ending in an
//!   unconditional terminator (`Jmp`, `Loop`, `Ret`, `RetVoid`, `Throw`,
//!   `Rethrow`), so execution never runs off the end;
//! * every register operand is below `nregs`; jump, loop and handler targets are
//!   inside the code; constant, site, global, loop, function, builtin and layout
//!   indices are in range;
//! * `Call` passes exactly `nparams` arguments;
//! * the root map agrees with what instructions produce: allocating instructions,
//!   `LoadNull` and string constants write reference registers; arithmetic,
//!   comparisons and number constants write non-reference registers; `Mov` keeps
//!   the kind; `GetGlobal`/`SetGlobal`, `Call` results and parameters agree with the
//!   declared kinds.

use crate::bytecode::{CallSite, Const, Function, Instr, Program, Reg};
use bp_runtime::builtins;
use bp_runtime::value::ValKind;

/// Check `program`; the error names the function and instruction.
pub fn verify(program: &Program) -> Result<(), String> {
    let nf = program.functions.len();
    if program.main as usize >= nf {
        return Err(format!("main function id {} out of range", program.main));
    }
    if let Some(init) = program.init {
        if init as usize >= nf {
            return Err(format!("init function id {init} out of range"));
        }
    }
    for (fi, f) in program.functions.iter().enumerate() {
        verify_function(program, f).map_err(|e| format!("function {fi} ({}): {e}", f.name))?;
    }
    Ok(())
}

fn is_terminator(i: &Instr) -> bool {
    matches!(
        i,
        Instr::Jmp { .. }
            | Instr::Loop { .. }
            | Instr::Ret { .. }
            | Instr::RetVoid
            | Instr::Throw { .. }
            | Instr::Rethrow { .. }
    )
}

/// Register result kinds an instruction's `dst` must have in the root map.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    Ref,
    Scalar,
}

fn verify_function(p: &Program, f: &Function) -> Result<(), String> {
    let nregs = f.nregs as usize;
    if nregs > 256 {
        return Err(format!("{nregs} registers (at most 256)"));
    }
    if f.nparams as usize > nregs {
        return Err("more parameters than registers".into());
    }
    match f.code.last() {
        None => return Err("empty code".into()),
        Some(i) if !is_terminator(i) => {
            return Err(format!("code does not end with a return, jump or throw: {i:?}"))
        }
        _ => {}
    }
    let is_ref = |r: usize| f.ref_regs.get(r).copied().unwrap_or(false);
    if f.param_kinds.len() == f.nparams as usize {
        for (r, k) in f.param_kinds.iter().enumerate() {
            if (*k == ValKind::Ref) != is_ref(r) {
                return Err(format!("parameter register r{r} disagrees with the root map"));
            }
        }
    }
    let len = f.code.len();
    for h in &f.handlers {
        if h.start > h.end || h.end as usize > len || h.target as usize >= len {
            return Err(format!("handler {h:?} out of range"));
        }
        if let Some(r) = h.reg {
            if r as usize >= nregs || !is_ref(r as usize) {
                return Err(format!("handler register r{r} is not a reference register"));
            }
        }
    }
    for (pc, ins) in f.code.iter().enumerate() {
        verify_instr(p, f, ins).map_err(|e| format!("pc {pc} {ins:?}: {e}"))?;
    }
    Ok(())
}

fn verify_instr(p: &Program, f: &Function, ins: &Instr) -> Result<(), String> {
    use Instr::*;
    let nregs = f.nregs as usize;
    let len = f.code.len();
    let is_ref = |r: Reg| f.ref_regs.get(r as usize).copied().unwrap_or(false);
    let reg = |r: Reg| -> Result<(), String> {
        if (r as usize) < nregs {
            Ok(())
        } else {
            Err(format!("register r{r} >= nregs {nregs}"))
        }
    };
    let regs = |rs: &[Reg]| rs.iter().try_for_each(|r| reg(*r));
    let dst_kind = |r: Reg, w: Want| -> Result<(), String> {
        reg(r)?;
        match (w, is_ref(r)) {
            (Want::Ref, false) => Err(format!("r{r} receives a reference but is not in the root map")),
            (Want::Scalar, true) => Err(format!("r{r} receives a number but is in the root map")),
            _ => Ok(()),
        }
    };
    let target = |t: u32| -> Result<(), String> {
        if (t as usize) < len {
            Ok(())
        } else {
            Err(format!("jump target {t} out of range"))
        }
    };
    let site = |s: u32| -> Result<&CallSite, String> {
        let cs = f
            .sites
            .get(s as usize)
            .ok_or_else(|| format!("call site {s} out of range"))?;
        regs(&cs.args)?;
        Ok(cs)
    };
    let kind_want = |k: ValKind| {
        if k == ValKind::Ref {
            Want::Ref
        } else {
            Want::Scalar
        }
    };
    match *ins {
        Mov { dst, src } => {
            reg(src)?;
            dst_kind(dst, if is_ref(src) { Want::Ref } else { Want::Scalar })?;
        }
        LoadInt { dst, .. } | LoadBool { dst, .. } => dst_kind(dst, Want::Scalar)?,
        LoadConst { dst, k } => match f.consts.get(k as usize) {
            None => return Err(format!("constant {k} out of range")),
            Some(Const::Str(_)) => dst_kind(dst, Want::Ref)?,
            Some(_) => dst_kind(dst, Want::Scalar)?,
        },
        LoadNull { dst } => dst_kind(dst, Want::Ref)?,
        GetGlobal { dst, idx } => {
            let g = p
                .globals
                .get(idx as usize)
                .ok_or_else(|| format!("global {idx} out of range"))?;
            dst_kind(dst, kind_want(g.kind))?;
        }
        SetGlobal { src, idx } => {
            let g = p
                .globals
                .get(idx as usize)
                .ok_or_else(|| format!("global {idx} out of range"))?;
            reg(src)?;
            if (g.kind == ValKind::Ref) != is_ref(src) {
                return Err(format!("r{src} and global {idx} disagree on being a reference"));
            }
        }
        AddI { dst, a, b }
        | SubI { dst, a, b }
        | MulI { dst, a, b }
        | DivI { dst, a, b }
        | ModI { dst, a, b }
        | BitAnd { dst, a, b }
        | BitOr { dst, a, b }
        | BitXor { dst, a, b }
        | Shl { dst, a, b }
        | Shr { dst, a, b }
        | AddF { dst, a, b }
        | SubF { dst, a, b }
        | MulF { dst, a, b }
        | DivF { dst, a, b }
        | ModF { dst, a, b }
        | EqI { dst, a, b }
        | NeI { dst, a, b }
        | LtI { dst, a, b }
        | LeI { dst, a, b }
        | EqF { dst, a, b }
        | NeF { dst, a, b }
        | LtF { dst, a, b }
        | LeF { dst, a, b }
        | EqRef { dst, a, b }
        | NeRef { dst, a, b } => {
            regs(&[a, b])?;
            dst_kind(dst, Want::Scalar)?;
        }
        AddIImm { dst, a, .. } => {
            reg(a)?;
            dst_kind(dst, Want::Scalar)?;
        }
        NegI { dst, src } | BitNot { dst, src } | NegF { dst, src } | Not { dst, src } => {
            reg(src)?;
            dst_kind(dst, Want::Scalar)?;
        }
        Jmp { target: t } => target(t)?,
        Loop { target: t, loop_id } => {
            target(t)?;
            if loop_id >= f.num_loops {
                return Err(format!("loop id {loop_id} >= num_loops {}", f.num_loops));
            }
        }
        JmpIf { cond, target: t } | JmpIfNot { cond, target: t } => {
            reg(cond)?;
            target(t)?;
        }
        BrEqI { a, b, target: t }
        | BrNeI { a, b, target: t }
        | BrLtI { a, b, target: t }
        | BrLeI { a, b, target: t }
        | BrLtF { a, b, target: t }
        | BrLeF { a, b, target: t }
        | BrNotLtF { a, b, target: t }
        | BrNotLeF { a, b, target: t } => {
            regs(&[a, b])?;
            target(t)?;
        }
        BrEqIImm { a, target: t, .. }
        | BrNeIImm { a, target: t, .. }
        | BrLtIImm { a, target: t, .. }
        | BrLeIImm { a, target: t, .. }
        | BrGtIImm { a, target: t, .. }
        | BrGeIImm { a, target: t, .. } => {
            reg(a)?;
            target(t)?;
        }
        Call { dst, site: s } => {
            let cs = site(s)?;
            let callee = p
                .functions
                .get(cs.target as usize)
                .ok_or_else(|| format!("function {} out of range", cs.target))?;
            if cs.args.len() != callee.nparams as usize {
                return Err(format!(
                    "{} arguments for {} parameters of {}",
                    cs.args.len(),
                    callee.nparams,
                    callee.name
                ));
            }
            reg(dst)?;
            if let Some(k) = callee.ret_kind {
                dst_kind(dst, kind_want(k))?;
            }
        }
        CallIndirect { dst, site: s } => {
            let cs = site(s)?;
            if cs.target as usize >= nregs {
                return Err(format!("closure register r{} out of range", cs.target));
            }
            reg(dst)?;
        }
        CallBuiltin { dst, site: s } => {
            let cs = site(s)?;
            let b = builtins::all()
                .get(cs.target as usize)
                .ok_or_else(|| format!("builtin {} out of range", cs.target))?;
            reg(dst)?;
            let ret = b.sig.rsplit("->").next().unwrap_or("").trim();
            match ret {
                "void" | "T" | "K" | "V" | "any" => {}
                "int" | "float" | "bool" => dst_kind(dst, Want::Scalar)?,
                _ => dst_kind(dst, Want::Ref)?,
            }
        }
        CallExtern { dst, site: s } => {
            site(s)?;
            reg(dst)?;
        }
        Ret { src } => reg(src)?,
        RetVoid => {}
        Concat { dst, a, b } => {
            regs(&[a, b])?;
            dst_kind(dst, Want::Ref)?;
        }
        ConcatN { dst, site: s } | NewArray { dst, site: s } => {
            site(s)?;
            dst_kind(dst, Want::Ref)?;
        }
        ToStr { dst, src, .. } => {
            reg(src)?;
            dst_kind(dst, Want::Ref)?;
        }
        Print { site: s } => {
            let cs = site(s)?;
            if !cs.kinds.is_empty() && cs.kinds.len() != cs.args.len() {
                return Err("print kinds do not match its arguments".into());
            }
        }
        ArrGet { dst, arr, idx } => {
            regs(&[arr, idx])?;
            reg(dst)?;
        }
        ArrSet { arr, idx, src } => regs(&[arr, idx, src])?,
        ArrLen { dst, arr } => {
            reg(arr)?;
            dst_kind(dst, Want::Scalar)?;
        }
        NewMap { dst, site: s } => {
            let cs = site(s)?;
            if cs.args.len() % 2 != 0 {
                return Err("odd number of map literal operands".into());
            }
            dst_kind(dst, Want::Ref)?;
        }
        MapGet { dst, map, key } => {
            regs(&[map, key])?;
            reg(dst)?;
        }
        MapSet { map, key, val } => regs(&[map, key, val])?,
        NewTuple { dst, site: s } => {
            let cs = site(s)?;
            if cs.kinds.len() != cs.args.len() {
                return Err("tuple kinds do not match its elements".into());
            }
            dst_kind(dst, Want::Ref)?;
        }
        TupleGet { dst, tup, .. } => {
            reg(tup)?;
            reg(dst)?;
        }
        NewStruct { dst, site: s } => {
            let cs = site(s)?;
            let l = p
                .layouts
                .get(cs.target as usize)
                .ok_or_else(|| format!("layout {} out of range", cs.target))?;
            if l.fields.len() != cs.args.len() {
                return Err(format!(
                    "{} values for the {} fields of {}",
                    cs.args.len(),
                    l.fields.len(),
                    l.name
                ));
            }
            dst_kind(dst, Want::Ref)?;
        }
        GetField { dst, obj, .. } => {
            reg(obj)?;
            reg(dst)?;
        }
        SetField { obj, src, .. } => regs(&[obj, src])?,
        MakeClosure { dst, site: s } => {
            let cs = site(s)?;
            if cs.target as usize >= p.functions.len() {
                return Err(format!("function {} out of range", cs.target));
            }
            if cs.kinds.len() != cs.args.len() {
                return Err("capture kinds do not match the captures".into());
            }
            dst_kind(dst, Want::Ref)?;
        }
        Throw { src } | Rethrow { src } => reg(src)?,
    }
    Ok(())
}
