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
//!
//! The registers each instruction reads and writes, its call site and its jump
//! target come from the bytecode's own description ([`Instr::operands`]); the
//! checks of table indices and kinds are here.

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

/// The site of instructions without one.
static NO_SITE: CallSite = CallSite {
    target: 0,
    args: Vec::new(),
    kinds: Vec::new(),
};

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
        Some(i) if i.falls_through() => {
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
    let is_ref = |r: Reg| f.ref_regs.get(r as usize).copied().unwrap_or(false);
    let reg = |r: Reg| -> Result<(), String> {
        if (r as usize) < nregs {
            Ok(())
        } else {
            Err(format!("register r{r} >= nregs {nregs}"))
        }
    };
    let kind_want = |k: ValKind| {
        if k == ValKind::Ref {
            Want::Ref
        } else {
            Want::Scalar
        }
    };

    // The call site, the jump target, then every register the instruction reads or
    // names as its result.
    let cs: &CallSite = match ins.site() {
        Some(s) => f
            .sites
            .get(s as usize)
            .ok_or_else(|| format!("call site {s} out of range"))?,
        None => &NO_SITE,
    };
    if let Some(t) = ins.jump_target() {
        if t as usize >= f.code.len() {
            return Err(format!("jump target {t} out of range"));
        }
    }
    // Before the registers: the operands hold the closure register truncated to a `Reg`.
    if matches!(ins, CallIndirect { .. }) && cs.target as usize >= nregs {
        return Err(format!("closure register r{} out of range", cs.target));
    }
    let ops = ins.operands(p, f);
    ops.uses.iter().chain(&ops.dst).try_for_each(|&r| reg(r))?;

    // The other indices, the shape of the call site, and what the root map must
    // say about the result register.
    let want = match *ins {
        Mov { src, .. } => Some(if is_ref(src) { Want::Ref } else { Want::Scalar }),
        LoadConst { k, .. } => match f.consts.get(k as usize) {
            None => return Err(format!("constant {k} out of range")),
            Some(Const::Str(_)) => Some(Want::Ref),
            Some(_) => Some(Want::Scalar),
        },
        GetGlobal { idx, .. } | SetGlobal { idx, .. } => {
            let g = p
                .globals
                .get(idx as usize)
                .ok_or_else(|| format!("global {idx} out of range"))?;
            if let SetGlobal { src, .. } = *ins {
                if (g.kind == ValKind::Ref) != is_ref(src) {
                    return Err(format!("r{src} and global {idx} disagree on being a reference"));
                }
            }
            Some(kind_want(g.kind))
        }
        Loop { loop_id, .. } => {
            if loop_id >= f.num_loops {
                return Err(format!("loop id {loop_id} >= num_loops {}", f.num_loops));
            }
            None
        }
        Call { .. } => {
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
            callee.ret_kind.map(kind_want)
        }
        CallBuiltin { .. } => {
            let sig = builtins::signature(cs.target)
                .ok_or_else(|| format!("builtin {} out of range", cs.target))?;
            // `None` for `void` and for a result whose kind the call site decides.
            sig.ret.value_kind().map(kind_want)
        }
        Print { .. } => {
            if !cs.kinds.is_empty() && cs.kinds.len() != cs.args.len() {
                return Err("print kinds do not match its arguments".into());
            }
            None
        }
        NewMap { .. } => {
            if !cs.args.len().is_multiple_of(2) {
                return Err("odd number of map literal operands".into());
            }
            Some(Want::Ref)
        }
        NewTuple { .. } => {
            if cs.kinds.len() != cs.args.len() {
                return Err("tuple kinds do not match its elements".into());
            }
            Some(Want::Ref)
        }
        NewStruct { .. } => {
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
            Some(Want::Ref)
        }
        MakeClosure { .. } => {
            if cs.target as usize >= p.functions.len() {
                return Err(format!("function {} out of range", cs.target));
            }
            if cs.kinds.len() != cs.args.len() {
                return Err("capture kinds do not match the captures".into());
            }
            Some(Want::Ref)
        }
        LoadNull { .. } | Concat { .. } | ConcatN { .. } | ToStr { .. } | NewArray { .. } => Some(Want::Ref),
        // The callee, element or field kind is not known here.
        CallIndirect { .. }
        | CallExtern { .. }
        | ArrGet { .. }
        | MapGet { .. }
        | TupleGet { .. }
        | GetField { .. } => None,
        // Every other result is a number or a bool.
        _ => Some(Want::Scalar),
    };
    if let (Some(d), Some(w)) = (ops.def, want) {
        match (w, is_ref(d)) {
            (Want::Ref, false) => {
                return Err(format!("r{d} receives a reference but is not in the root map"))
            }
            (Want::Scalar, true) => return Err(format!("r{d} receives a number but is in the root map")),
            _ => {}
        }
    }
    Ok(())
}
