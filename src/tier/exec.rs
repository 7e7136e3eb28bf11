//! The single-instruction executor behind `rt_op`: compiled code calls it for the
//! instructions it does not translate inline (the translator's `generic` path).

use crate::bytecode::Instr;
use crate::vm::ops::objects;
use crate::vm::Vm;
use bp_runtime::rt::RtError;
use bp_runtime::value::Value;

/// Why [`Vm::exec_op`] did not complete.
pub(crate) enum OpErr {
    Raise(String),
    Exit(i32),
}

impl Vm<'_> {
    /// Execute instruction `pc` of function `fid` (the innermost frame, window at
    /// `base_idx`) exactly as the dispatch loop does, reading its operands from and
    /// writing its result to the frame's registers, then reach a safepoint.
    /// Compiled code calls this (through `rt_op`) for the instructions it does not
    /// inline; sharing the `ops` functions keeps the semantics identical.
    ///
    /// The match names every instruction: a new one is a compile error here until
    /// it is either executed or listed with those the translator never sends.
    pub(crate) fn exec_op(&mut self, fid: u32, pc: u32, base_idx: usize) -> Result<(), OpErr> {
        let program = self.program;
        let Some(func) = program.functions.get(fid as usize) else {
            return Err(OpErr::Raise("internal error: bad function in JIT helper".into()));
        };
        let Some(&ins) = func.code.get(pc as usize) else {
            return Err(OpErr::Raise("internal error: bad pc in JIT helper".into()));
        };
        macro_rules! reg {
            ($r:expr) => {
                self.stack.get(base_idx + $r as usize)
            };
        }
        macro_rules! set {
            ($r:expr, $v:expr) => {{
                let v: Value = $v;
                self.stack.set(base_idx + $r as usize, v)
            }};
        }
        macro_rules! site {
            ($s:expr) => {
                match func.sites.get($s as usize) {
                    Some(s) => s,
                    None => return Err(OpErr::Raise("internal error: bad call site".into())),
                }
            };
        }
        // `extend` of an exact-size iterator reserves once and keeps the length in
        // a register; a `push` per argument stored it to the VM each time.
        macro_rules! gather {
            ($s:expr) => {{
                let stack = &self.stack;
                self.arg_buf.clear();
                self.arg_buf
                    .extend($s.args.iter().map(|&r| stack.get(base_idx + r as usize)));
            }};
        }
        let raise = |m: &str| OpErr::Raise(m.to_string());
        use Instr::*;
        match ins {
            CallExtern { dst, site } => {
                let s = site!(site);
                gather!(s);
                // SAFETY: `arg_buf` holds the call's argument registers, which
                // match the extern's declared parameters (type checker).
                match unsafe { self.call_extern(s.target) } {
                    Ok(v) => {
                        if let Some(v) = v {
                            set!(dst, v);
                        }
                    }
                    Err(RtError::Error(m)) => return Err(OpErr::Raise(m)),
                    Err(RtError::Exit(code)) => return Err(OpErr::Exit(code)),
                }
            }
            ConcatN { dst, site } => {
                let s = site!(site);
                gather!(s);
                // SAFETY: the site's kinds are the static kinds of its registers
                // (compiler; empty: all strings), a string null or live.
                let v = unsafe { objects::concat_n(&mut self.rt.heap, &self.arg_buf, &s.kinds) }
                    .map_err(raise)?;
                set!(dst, v);
            }
            Print { site } => {
                let s = site!(site);
                gather!(s);
                // SAFETY: the site's kinds are the static kinds of its registers
                // (compiler): each reference is null or a live object.
                unsafe { objects::print(&mut self.rt.out, &self.arg_buf, &s.kinds) }.map_err(raise)?;
                self.maybe_flush().map_err(OpErr::Exit)?;
            }
            NewMap { dst, site } => {
                let s = site!(site);
                gather!(s);
                // SAFETY: the keys are registers of the map's key type (type
                // checker): a reference key is null or a live object.
                let v = unsafe { objects::new_map(&mut self.rt.heap, s.target, &self.arg_buf) };
                set!(dst, v);
            }
            MakeClosure { dst, site } => {
                let s = site!(site);
                gather!(s);
                let v = objects::make_closure(&mut self.rt.heap, s, &self.arg_buf);
                set!(dst, v);
            }
            TypeOf { dst, src, k } => {
                let v = reg!(src);
                let Some(name) = self
                    .consts
                    .get(fid as usize)
                    .and_then(|c| c.get(k as usize))
                    .copied()
                else {
                    return Err(raise("internal error: bad constant"));
                };
                // SAFETY: `src` is null or a live object (type checker); `name` a
                // string constant.
                let v = unsafe { objects::type_name(&mut self.rt.heap, program, v, name) };
                set!(dst, v);
            }
            // The translator compiles these inline, through their own helpers
            // (`rt_builtin`, `rt_new`, `rt_obj`, `rt_eq_ref`) or as a side exit to
            // the interpreter: they never reach `rt_op`.
            Mov { .. }
            | LoadInt { .. }
            | LoadConst { .. }
            | LoadBool { .. }
            | LoadNull { .. }
            | GetGlobal { .. }
            | SetGlobal { .. }
            | AddI { .. }
            | SubI { .. }
            | MulI { .. }
            | DivI { .. }
            | ModI { .. }
            | AddIImm { .. }
            | MulIImm { .. }
            | DivIImm { .. }
            | ModIImm { .. }
            | AddModIImm { .. }
            | MulModIImm { .. }
            | BitAndImm { .. }
            | BitOrImm { .. }
            | BitXorImm { .. }
            | ShlImm { .. }
            | ShrImm { .. }
            | NegI { .. }
            | BitAnd { .. }
            | BitOr { .. }
            | BitXor { .. }
            | Shl { .. }
            | Shr { .. }
            | BitNot { .. }
            | AddF { .. }
            | SubF { .. }
            | MulF { .. }
            | DivF { .. }
            | ModF { .. }
            | NegF { .. }
            | EqI { .. }
            | NeI { .. }
            | LtI { .. }
            | LeI { .. }
            | EqF { .. }
            | NeF { .. }
            | LtF { .. }
            | LeF { .. }
            | EqRef { .. }
            | NeRef { .. }
            | EqStr { .. }
            | NeStr { .. }
            | Not { .. }
            | Jmp { .. }
            | Loop { .. }
            | ForLoop { .. }
            | JmpIf { .. }
            | JmpIfNot { .. }
            | BrEqI { .. }
            | BrNeI { .. }
            | BrLtI { .. }
            | BrLeI { .. }
            | BrEqIImm { .. }
            | BrNeIImm { .. }
            | BrLtIImm { .. }
            | BrLeIImm { .. }
            | BrGtIImm { .. }
            | BrGeIImm { .. }
            | BrLtF { .. }
            | BrLeF { .. }
            | BrNotLtF { .. }
            | BrNotLeF { .. }
            | Call { .. }
            | CallIndirect { .. }
            | CallBuiltin { .. }
            | Ret { .. }
            | RetVoid
            | Concat { .. }
            | ToStr { .. }
            | NewArray { .. }
            | ArrGet { .. }
            | ArrSet { .. }
            | ArrLen { .. }
            | MapGet { .. }
            | MapSet { .. }
            | NewTuple { .. }
            | TupleGet { .. }
            | NewStruct { .. }
            | GetField { .. }
            | SetField { .. }
            | NewObject { .. }
            | GetCapture { .. }
            | NewCell { .. }
            | CellGet { .. }
            | CellSet { .. }
            | CallMethod { .. }
            | NullCheck { .. }
            | IsNull { .. }
            | InstanceOf { .. }
            | CheckClass { .. }
            | Throw { .. }
            | Rethrow { .. } => {
                return Err(OpErr::Raise(format!(
                    "internal error: {ins:?} is not executed by the JIT helper"
                )))
            }
        }
        self.safepoint();
        Ok(())
    }
}
