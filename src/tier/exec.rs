//! The single-instruction executor behind `rt_op`: compiled code calls it for the
//! instructions it does not translate inline (the translator's `generic` path).

use crate::bytecode::Instr;
use crate::vm::ops::{arith, objects};
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
            // A guard of the translation failed (`Op::raises_at_guard`): the
            // interpreter's arms, which raise here.
            DivI { dst, a, b } => set!(
                dst,
                Value::int(arith::div_i(reg!(a).as_int(), reg!(b).as_int()).map_err(raise)?)
            ),
            ModI { dst, a, b } => set!(
                dst,
                Value::int(arith::mod_i(reg!(a).as_int(), reg!(b).as_int()).map_err(raise)?)
            ),
            DivIImm { dst, a, imm } => set!(
                dst,
                Value::int(arith::div_i(reg!(a).as_int(), imm as i64).map_err(raise)?)
            ),
            ModIImm { dst, a, imm } => set!(
                dst,
                Value::int(arith::mod_i(reg!(a).as_int(), imm as i64).map_err(raise)?)
            ),
            AddModIImm { dst, a, b, imm } => {
                let r = arith::add_mod_i(reg!(a).as_int(), reg!(b).as_int(), imm as i64).map_err(raise)?;
                set!(dst, Value::int(r))
            }
            MulModIImm { dst, a, b, imm } => {
                let r = arith::mul_mod_i(reg!(a).as_int(), reg!(b).as_int(), imm as i64).map_err(raise)?;
                set!(dst, Value::int(r))
            }
            ArrGet { dst, arr, idx, elem } => {
                let (a, i) = (reg!(arr), reg!(idx));
                // SAFETY: `arr` is an array register (type checker): null or a
                // live array, of element kind `elem` (its static type's).
                match unsafe { objects::arr_get(a, i, elem) } {
                    Ok(v) => set!(dst, v),
                    // SAFETY: as above.
                    Err(m) => return Err(OpErr::Raise(unsafe { objects::access_error(a, i, m) })),
                }
            }
            ArrSet { arr, idx, src, elem } => {
                let (a, i, v) = (reg!(arr), reg!(idx), reg!(src));
                // SAFETY: as `ArrGet`; `src` of the element kind.
                if let Err(m) = unsafe { objects::arr_set(a, i, v, elem) } {
                    // SAFETY: as above.
                    return Err(OpErr::Raise(unsafe { objects::access_error(a, i, m) }));
                }
            }
            ArrLen { dst, arr } => {
                // SAFETY: as `ArrGet`.
                set!(dst, unsafe { objects::arr_len(reg!(arr)) }.map_err(raise)?)
            }
            TupleGet { dst, tup, idx } => {
                // SAFETY: `tup` is a tuple register (type checker): null or a live tuple.
                set!(dst, unsafe { objects::tuple_get(reg!(tup), idx) }.map_err(raise)?)
            }
            GetField { dst, obj, idx } => {
                // SAFETY: `obj` is a struct register (type checker): null or a live struct.
                set!(dst, unsafe { objects::get_field(reg!(obj), idx) }.map_err(raise)?)
            }
            SetField { obj, idx, src } => {
                // SAFETY: as `GetField`.
                unsafe { objects::set_field(reg!(obj), idx, reg!(src)) }.map_err(raise)?
            }
            NullCheck { src, k } => {
                let Some(&msg) = self.consts.get(fid as usize).and_then(|c| c.get(k as usize)) else {
                    return Err(raise("internal error: bad constant"));
                };
                // SAFETY: the compiler makes `k` a string constant, live for the
                // whole run.
                unsafe { objects::null_check(reg!(src), msg) }.map_err(OpErr::Raise)?
            }
            CheckClass { src, class } => {
                // SAFETY: `src` holds a class type (type checker).
                unsafe { objects::check_class(program, reg!(src), class) }.map_err(OpErr::Raise)?
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
            | AddIImm { .. }
            | MulIImm { .. }
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
            | MapGet { .. }
            | MapSet { .. }
            | NewTuple { .. }
            | NewStruct { .. }
            | NewObject { .. }
            | GetCapture { .. }
            | NewCell { .. }
            | CellGet { .. }
            | CellSet { .. }
            | CallMethod { .. }
            | IsNull { .. }
            | InstanceOf { .. }
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
