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
//! checks of table indices and kinds are here, driven by the operand roles of the
//! declaration (a constant, global, loop or call-site operand is checked whatever
//! the instruction) and by its `result` property (`bytecode/props.rs`), so a new
//! instruction needs no code here unless it brings a new role, site use or result
//! kind, which the exhaustive matches below then point at.

use crate::bytecode::{CallSite, Const, Function, Instr, Program, Reg, ResultKind, Role, SiteUse};
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
    // A lambda's closure register: the interpreter keeps a copy of it for
    // `GetCapture`, so nothing may write it.
    let closure_reg = f.closure_register();
    if closure_reg.is_some_and(|r| r as usize >= nregs) {
        return Err("no register for the closure".into());
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
            if closure_reg == Some(r) {
                return Err(format!("handler register r{r} is the closure register"));
            }
        }
    }
    for (pc, ins) in f.code.iter().enumerate() {
        verify_instr(p, f, ins).map_err(|e| format!("pc {pc} {ins:?}: {e}"))?;
    }
    Ok(())
}

fn verify_instr(p: &Program, f: &Function, ins: &Instr) -> Result<(), String> {
    let nregs = f.nregs as usize;
    let reg = |r: Reg| -> Result<(), String> {
        if (r as usize) < nregs {
            Ok(())
        } else {
            Err(format!("register r{r} >= nregs {nregs}"))
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
    if ins.op().site_use() == Some(SiteUse::ClosureReg) && cs.target as usize >= nregs {
        return Err(format!("closure register r{} out of range", cs.target));
    }
    let ops = ins.operands(p, f);
    ops.uses.iter().chain(&ops.dst).try_for_each(|&r| reg(r))?;
    // A lambda's closure register holds its closure throughout (the interpreter
    // keeps a copy), and `GetCapture` reads only that.
    let closure_reg = f.closure_register();
    if let Some(r) = ops.dst.filter(|&d| closure_reg == Some(d)) {
        return Err(format!("r{r} is the closure register"));
    }
    if let Instr::GetCapture { clo, .. } = *ins {
        if closure_reg != Some(clo) {
            return Err(format!("r{clo} is not the closure register"));
        }
    }

    // The other indices and the shape of the call site, by operand role.
    let op = ins.op();
    let vals = ins.operand_values();
    for (&(_, role), &v) in op.operands().iter().zip(vals.as_slice()) {
        verify_operand(p, f, ins, role, v, cs)?;
    }

    // What the root map must say about the result register.
    if let (Some(d), Some(w)) = (ops.def, result_want(p, f, ins, cs)) {
        match (w, is_ref(f, d)) {
            (Want::Ref, false) => {
                return Err(format!("r{d} receives a reference but is not in the root map"))
            }
            (Want::Scalar, true) => return Err(format!("r{d} receives a number but is in the root map")),
            _ => {}
        }
    }
    Ok(())
}

fn is_ref(f: &Function, r: Reg) -> bool {
    f.ref_regs.get(r as usize).copied().unwrap_or(false)
}

fn kind_want(k: ValKind) -> Want {
    if k == ValKind::Ref {
        Want::Ref
    } else {
        Want::Scalar
    }
}

/// Check the table index or value `v` of one operand with role `role` (registers,
/// the site index and the jump target are checked before).
fn verify_operand(
    p: &Program,
    f: &Function,
    ins: &Instr,
    role: Role,
    v: i64,
    cs: &CallSite,
) -> Result<(), String> {
    match role {
        Role::Const => {
            if v as usize >= f.consts.len() {
                return Err(format!("constant {v} out of range"));
            }
        }
        Role::Global => {
            let g = p
                .globals
                .get(v as usize)
                .ok_or_else(|| format!("global {v} out of range"))?;
            // A register stored into the global must agree with its kind (the
            // register loaded from it is checked as the result).
            for r in ins.operands(p, f).uses {
                if (g.kind == ValKind::Ref) != is_ref(f, r) {
                    return Err(format!("r{r} and global {v} disagree on being a reference"));
                }
            }
        }
        Role::LoopId => {
            if v >= f.num_loops as i64 {
                return Err(format!("loop id {v} >= num_loops {}", f.num_loops));
            }
        }
        Role::Site(used) => verify_site(p, used, cs)?,
        Role::Class => {
            if p.layouts.get(v as usize).is_none_or(|l| !l.is_class) {
                return Err(format!("layout {v} is not a class"));
            }
        }
        // Checked before (registers, jump targets) or not table indices: an
        // immediate, a kind, a field or slot index (the object's layout is not
        // known here; the accessors check it).
        Role::Read
        | Role::Write
        | Role::ReadWrite
        | Role::Int
        | Role::Bool
        | Role::Target
        | Role::Kind
        | Role::Field
        | Role::Slot => {}
    }
    Ok(())
}

/// Check the ids a call site holds and its shape.
fn verify_site(p: &Program, used: SiteUse, cs: &CallSite) -> Result<(), String> {
    match used {
        SiteUse::Function => {
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
        }
        SiteUse::Builtin => {
            builtins::signature(cs.target).ok_or_else(|| format!("builtin {} out of range", cs.target))?;
        }
        SiteUse::Print => {
            if !cs.kinds.is_empty() && cs.kinds.len() != cs.args.len() {
                return Err("print kinds do not match its arguments".into());
            }
        }
        SiteUse::Strings => {
            if !cs.kinds.is_empty() && cs.kinds.len() != cs.args.len() {
                return Err("concatenation kinds do not match its parts".into());
            }
        }
        SiteUse::Map => {
            if !cs.args.len().is_multiple_of(2) {
                return Err("odd number of map literal operands".into());
            }
        }
        SiteUse::Tuple => {
            if cs.kinds.len() != cs.args.len() {
                return Err("tuple kinds do not match its elements".into());
            }
        }
        SiteUse::Struct => {
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
        }
        SiteUse::Closure => {
            if cs.target as usize >= p.functions.len() {
                return Err(format!("function {} out of range", cs.target));
            }
            if cs.kinds.len() != cs.args.len() {
                return Err("capture kinds do not match the captures".into());
            }
        }
        SiteUse::Method => {
            if cs.args.is_empty() {
                return Err("a method call without a receiver".into());
            }
        }
        // The closure register is checked with the registers; an extern id when
        // the call is made; array elements have nothing to check.
        SiteUse::ClosureReg | SiteUse::Extern | SiteUse::Array => {}
    }
    Ok(())
}

/// What the root map must say about the register the instruction writes (`None`:
/// nothing is known, or it writes none). Its indices were checked before.
fn result_want(p: &Program, f: &Function, ins: &Instr, cs: &CallSite) -> Option<Want> {
    match ins.op().result() {
        ResultKind::Nothing | ResultKind::Unknown => None,
        ResultKind::Scalar => Some(Want::Scalar),
        ResultKind::Ref => Some(Want::Ref),
        ResultKind::OfSource => {
            let src = *ins.operands(p, f).uses.first()?;
            Some(if is_ref(f, src) { Want::Ref } else { Want::Scalar })
        }
        ResultKind::OfConstant => {
            let k = ins.operand_values().as_slice()[ins.op().operand_with(Role::Const)?];
            match f.consts.get(k as usize)? {
                Const::Str(_) => Some(Want::Ref),
                Const::Int(_) | Const::Float(_) => Some(Want::Scalar),
            }
        }
        ResultKind::OfGlobal => {
            let idx = ins.operand_values().as_slice()[ins.op().operand_with(Role::Global)?];
            p.globals.get(idx as usize).map(|g| kind_want(g.kind))
        }
        ResultKind::OfFunction => p.functions.get(cs.target as usize)?.ret_kind.map(kind_want),
        // `None` for `void` and for a result whose kind the call site decides.
        ResultKind::OfBuiltin => builtins::signature(cs.target)?.ret.value_kind().map(kind_want),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::{GlobalDef, Instr::*};
    use bp_runtime::heap::Layout;

    /// The error of verifying a one-function program whose code is `code` then
    /// `RetVoid`, with registers r0 (int) and r1 (reference), after `edit`.
    fn error_of(code: Vec<Instr>, edit: impl FnOnce(&mut Program)) -> String {
        let mut code = code;
        code.push(RetVoid);
        let f = Function {
            name: "main".into(),
            nregs: 2,
            ref_regs: vec![false, true],
            locs: vec![Default::default(); code.len()],
            code,
            ..Function::default()
        };
        let mut p = Program {
            functions: vec![f],
            ..Program::default()
        };
        edit(&mut p);
        verify(&p).err().unwrap_or_default()
    }

    fn site(target: u32, args: &[Reg], kinds: &[ValKind]) -> CallSite {
        CallSite {
            target,
            args: args.to_vec(),
            kinds: kinds.to_vec(),
        }
    }

    fn with_site(s: CallSite) -> impl FnOnce(&mut Program) {
        move |p| p.functions[0].sites.push(s)
    }

    /// Table indices are checked by the role of the operand that carries them.
    #[test]
    fn indices_are_checked_by_role() {
        let none = |_: &mut Program| {};
        assert!(error_of(vec![LoadConst { dst: 0, k: 0 }], none).contains("constant 0 out of range"));
        assert!(error_of(vec![GetGlobal { dst: 0, idx: 3 }], none).contains("global 3 out of range"));
        assert!(error_of(
            vec![Loop {
                target: 0,
                loop_id: 0
            }],
            none
        )
        .contains("loop id 0 >= num_loops 0"));
        let int_global = |p: &mut Program| {
            p.globals.push(GlobalDef {
                name: "g".into(),
                kind: ValKind::Int,
            })
        };
        assert!(error_of(vec![SetGlobal { src: 1, idx: 0 }], int_global)
            .contains("r1 and global 0 disagree on being a reference"));
        assert_eq!(error_of(vec![SetGlobal { src: 0, idx: 0 }], int_global), "");
    }

    /// A call site is checked by what it holds.
    #[test]
    fn call_sites_are_checked_by_use() {
        let call = vec![Call { dst: 0, site: 0 }];
        assert!(error_of(call.clone(), with_site(site(5, &[], &[]))).contains("function 5 out of range"));
        assert!(
            error_of(call, with_site(site(0, &[0], &[]))).contains("1 arguments for 0 parameters of main")
        );
        let builtin = vec![CallBuiltin { dst: 0, site: 0 }];
        assert!(error_of(builtin, with_site(site(u32::MAX, &[], &[]))).contains("builtin"));
        let print = vec![Print { site: 0 }];
        assert!(
            error_of(print, with_site(site(0, &[0], &[ValKind::Int, ValKind::Int]))).contains("print kinds")
        );
        let map = vec![NewMap { dst: 1, site: 0 }];
        assert!(error_of(map, with_site(site(0, &[0], &[]))).contains("odd number of map literal operands"));
        let tuple = vec![NewTuple { dst: 1, site: 0 }];
        assert!(error_of(tuple, with_site(site(0, &[0], &[]))).contains("tuple kinds"));
        let new_struct = vec![NewStruct { dst: 1, site: 0 }];
        assert!(error_of(new_struct.clone(), with_site(site(0, &[], &[]))).contains("layout 0 out of range"));
        let one_field = |p: &mut Program| {
            p.functions[0].sites.push(site(0, &[], &[]));
            p.layouts.push(Layout {
                name: "P".into(),
                fields: vec![("x".into(), ValKind::Int)],
                is_class: false,
            });
        };
        assert!(error_of(new_struct, one_field).contains("0 values for the 1 fields of P"));
        let closure = vec![MakeClosure { dst: 1, site: 0 }];
        assert!(error_of(closure.clone(), with_site(site(4, &[], &[]))).contains("function 4 out of range"));
        assert!(error_of(closure, with_site(site(0, &[0], &[]))).contains("capture kinds"));
    }

    /// `GetCapture` reads a lambda's closure register (r1 here: the register
    /// after its one parameter), which nothing else may write.
    #[test]
    fn only_the_closure_register_holds_captures() {
        let lambda = |p: &mut Program| {
            p.functions[0].takes_closure = true;
            p.functions[0].nparams = 1;
        };
        let get = |clo| vec![GetCapture { dst: 0, clo, idx: 0 }];
        assert!(error_of(get(1), |_| {}).contains("r1 is not the closure register"));
        assert!(error_of(get(0), lambda).contains("r0 is not the closure register"));
        assert_eq!(error_of(get(1), lambda), "");
        assert!(error_of(vec![LoadNull { dst: 1 }], lambda).contains("r1 is the closure register"));
    }

    /// The result register's root-map entry is checked against the result kind.
    #[test]
    fn results_are_checked_by_kind() {
        let none = |_: &mut Program| {};
        let not_ref = "receives a reference but is not in the root map";
        let is_ref = "receives a number but is in the root map";
        assert!(error_of(vec![Mov { dst: 0, src: 1 }], none).contains(not_ref));
        assert!(error_of(vec![AddI { dst: 1, a: 0, b: 0 }], none).contains(is_ref));
        assert!(error_of(vec![LoadNull { dst: 0 }], none).contains(not_ref));
        assert!(error_of(vec![Concat { dst: 0, a: 1, b: 1 }], none).contains(not_ref));
        let str_const = |p: &mut Program| p.functions[0].consts.push(Const::Str(b"s".to_vec()));
        assert!(error_of(vec![LoadConst { dst: 0, k: 0 }], str_const).contains(not_ref));
        let ref_global = |p: &mut Program| {
            p.globals.push(GlobalDef {
                name: "g".into(),
                kind: ValKind::Ref,
            })
        };
        assert!(error_of(vec![GetGlobal { dst: 0, idx: 0 }], ref_global).contains(not_ref));
        // Unknown kinds (elements, fields) are not checked.
        assert_eq!(
            error_of(
                vec![ArrGet {
                    dst: 0,
                    arr: 1,
                    idx: 0,
                    elem: 0
                }],
                none
            ),
            ""
        );
    }
}
