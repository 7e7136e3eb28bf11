//! The VM side of tiering: entering compiled code from the interpreter (calls and
//! OSR at loop headers), the JIT hooks for hot functions and loops, and the
//! single-instruction executor that compiled code calls for the instructions it
//! does not inline (`rt_op`). The JIT itself is in `crate::jit`; the ABI and the
//! deopt protocol are described in `docs/jit.md`.
//!
//! A function over the JIT's size budget (`jit::MAX_JIT_INSTRS` bytecode or
//! `jit::MAX_JIT_IR` Cranelift instructions) is never compiled: `Jit::compile`
//! marks it too big, so these hooks leave it to the interpreter whether it gets
//! hot by calls, by a loop (no OSR) or with `--jit-threshold 0`.

use super::ops::arith;
use super::ops::objects;
use super::{Stop, Vm};
use crate::bytecode::Instr;
use crate::jit::{self, EnterFn};
use bp_runtime::rt::RtError;
use bp_runtime::value::{ValKind, Value};

/// What happened to a frame handed to compiled code.
pub(crate) enum JitOutcome {
    /// The frame returned this value (null for void functions) and was popped.
    Returned(Value),
    /// An exception escaped the frame (it is in `Vm::pending`); the frame was popped.
    Exception,
    /// `exit` or a fatal error.
    Stop(Stop),
    /// The native stack is too deep to enter compiled code; nothing was run.
    Overflow,
}

/// Decision of the hot-loop hook.
pub(crate) enum LoopAction {
    /// Keep interpreting.
    Continue,
    /// The frame is a deoptimized compiled frame: hand it back to its code.
    Reenter,
    /// Compiled code ran the current frame to its end (OSR); `dst` is the frame's
    /// result register in its caller.
    Ran { outcome: JitOutcome, dst: u8 },
}

/// Why [`Vm::exec_op`] did not complete.
pub(crate) enum OpErr {
    Raise(String),
    Exit(i32),
}

/// An approximation of the native stack pointer.
#[inline(always)]
pub(crate) fn native_sp() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

impl<'p> Vm<'p> {
    /// The compiled code of function `fid`, if it has any (and the JIT is on).
    #[inline]
    pub(crate) fn compiled_entry(&self, fid: u32) -> Option<usize> {
        if self.jit_entry.is_null() || fid as usize >= self.program.functions.len() {
            return None;
        }
        // SAFETY: the entry table has one slot per function (checked above) and
        // lives as long as the JIT.
        let code = unsafe { *self.jit_entry.add(fid as usize) };
        (code != self.jit_tramp).then_some(code)
    }

    /// Run compiled code `code` for the innermost frame, whose window starts at
    /// `base_idx` (`entry_pc` 0: from the start; `pc + 1`: at loop header `pc`).
    pub(crate) fn call_compiled(&mut self, code: usize, base_idx: usize, entry_pc: u64) -> JitOutcome {
        if native_sp() < self.native_limit {
            return JitOutcome::Overflow;
        }
        // Compiled code embeds the VM's address (see `Jit::compile`).
        if self.jit.as_ref().map(|j| j.vm_addr()) != Some(self as *mut Vm<'p> as u64) {
            return JitOutcome::Stop(Stop::Fatal(
                "internal error: compiled code called for a VM that moved".into(),
            ));
        }
        let base_ptr = self.stack.as_ptr().wrapping_add(base_idx);
        // The ABI's encoding: the frame's depth, with bit 63 set for an entry at
        // the loop header in the frame record's `pc`.
        let depth = self.frames.len() as u64;
        let epc = if entry_pc == 0 {
            depth
        } else {
            if let Some(top) = self.frames.last_mut() {
                top.pc = (entry_pc - 1) as u32;
            }
            depth | 1 << 63
        };
        // SAFETY: `code` comes from the JIT's entry table, so it is a function
        // compiled with the JIT ABI for this VM (`jit::JitFn`); the frame record is
        // on top of the frame stack and its window starts at `base_ptr`. The VM is
        // passed as a raw pointer: compiled code and its helpers are the only users
        // of the VM until the call returns.
        let st = unsafe { self.enter_compiled(code, base_ptr, epc) };
        match st & 3 {
            jit::ST_RETURN => JitOutcome::Returned(self.stack.get(base_idx)),
            jit::ST_EXCEPTION => JitOutcome::Exception,
            _ => JitOutcome::Stop(
                self.jit_stop
                    .take()
                    .unwrap_or_else(|| Stop::Fatal(format!("internal error: JIT status {st}"))),
            ),
        }
    }

    /// Call compiled code `code` through the entry shim (arguments from the
    /// window `base`; `epc` is the frame's depth, encoded as in [`jit::EnterFn`]).
    ///
    /// # Safety
    /// `code` must be compiled code of this VM's JIT for the innermost frame,
    /// whose window starts at `base`, and the VM must be at the address the code
    /// was compiled for.
    pub(crate) unsafe fn enter_compiled(&mut self, code: usize, base: *mut Value, epc: u64) -> u64 {
        // SAFETY: `jit_enter` is the JIT's entry shim (set together with
        // `jit_entry`, so it is valid whenever there is compiled code); the rest is
        // guaranteed by the caller. The VM is passed as a raw pointer: compiled code
        // and its helpers are its only users until the call returns.
        unsafe {
            let f: EnterFn = std::mem::transmute::<usize, EnterFn>(self.jit_enter);
            f(code, (self as *mut Vm<'p>).cast::<Vm<'static>>(), base, epc)
        }
    }

    /// JIT hook: function `fid` just reached the call threshold: compile it and
    /// patch its entry, so that later calls (from the VM and from compiled code) run
    /// the compiled code in the same register window.
    #[cold]
    #[inline(never)]
    pub fn jit_hot_function(&mut self, fid: usize) {
        let program = self.program;
        let threshold = self.hot_loop_threshold.max(1);
        let home = self as *mut Vm<'p> as u64;
        let Vm {
            jit,
            consts,
            loop_counts,
            ..
        } = self;
        if let Some(j) = jit.as_mut() {
            if j.wants_compile(fid) && j.compile(home, program, consts, fid as u32) {
                j.finalize();
                // Interpreted activations of the function (e.g. further up a
                // recursion) switch to the code at their next loop header.
                if let Some(c) = loop_counts.get_mut(fid) {
                    c.iter_mut().for_each(|c| *c = threshold);
                }
            }
        }
    }

    /// JIT hook: loop `loop_id` of function `fid` (the innermost frame, which jumps
    /// to the loop header `target`) is hot. Compile the function if needed and
    /// continue the frame in compiled code from the loop header: by OSR (a native
    /// call that runs the frame to its end), or, when `reenter`, by returning to the
    /// frame's compiled code that is waiting in `rt_resume`.
    #[cold]
    #[inline(never)]
    pub(crate) fn jit_hot_loop(
        &mut self,
        fid: usize,
        loop_id: usize,
        target: u32,
        reenter: bool,
    ) -> LoopAction {
        if let Some(c) = self.loop_counts.get_mut(fid).and_then(|v| v.get_mut(loop_id)) {
            *c = 0;
        }
        let program = self.program;
        let home = self as *mut Vm<'p> as u64;
        let Some(j) = self.jit.as_mut() else {
            return LoopAction::Continue;
        };
        if j.wants_compile_for_loop(fid) {
            if !j.compile(home, program, &self.consts, fid as u32) {
                return LoopAction::Continue;
            }
            j.finalize();
        }
        let Some(code) = self.compiled_entry(fid as u32) else {
            return LoopAction::Continue;
        };
        let Some(j) = self.jit.as_mut() else {
            return LoopAction::Continue;
        };
        if reenter {
            j.note_reentry(fid);
            return LoopAction::Reenter;
        }
        let Some(&top) = self.frames.last() else {
            return LoopAction::Continue;
        };
        j.note_osr(fid);
        match self.call_compiled(code, top.base, target as u64 + 1) {
            JitOutcome::Overflow => LoopAction::Continue,
            outcome => LoopAction::Ran {
                outcome,
                dst: top.dst,
            },
        }
    }

    /// Start of a run with the JIT on: with threshold 0, compile every function now.
    pub(crate) fn jit_start(&mut self) {
        let program = self.program;
        let limit = self.native_limit;
        let home = self as *mut Vm<'p> as u64;
        let Vm { jit, consts, .. } = self;
        if let Some(j) = jit.as_mut() {
            j.set_native_limit(limit);
            if j.options().threshold == 0 {
                for fid in 0..program.functions.len() {
                    j.compile(home, program, consts, fid as u32);
                }
                j.finalize();
            }
        }
    }

    /// End of a run: `--jit-stats` report (to stderr, after the program's own).
    pub(crate) fn jit_finish(&mut self) {
        if let Some(j) = self.jit.as_mut() {
            let report = j.report(self.program);
            self.err.push_str(&report);
        }
    }

    /// Compiled code of `fid` side-exits at `pc` (innermost frame): if that is an
    /// array access whose index is negative, tell the JIT (it speculates that
    /// indices are not negative; see `Jit::note_negative_index`).
    pub(crate) fn note_negative_index(&mut self, fid: u32, pc: u32) {
        let Some(j) = self.jit.as_mut() else { return };
        let Some(top) = self.frames.last() else { return };
        let ins = self
            .program
            .functions
            .get(fid as usize)
            .and_then(|f| f.code.get(pc as usize));
        if let Some(Instr::ArrGet { idx, .. } | Instr::ArrSet { idx, .. }) = ins {
            if (self.stack.get(top.base + *idx as usize).0 as i64) < 0 {
                j.note_negative_index(fid as usize);
            }
        }
    }

    /// A compiled frame of `fid` deoptimized (or caught an exception through the
    /// VM): count it, maybe give up on the function's code, and arrange for the
    /// frame to re-enter its code at the next loop header.
    pub(crate) fn note_deopt(&mut self, fid: u32) {
        let threshold = self.hot_loop_threshold.max(1);
        let Vm {
            jit,
            call_counts,
            loop_counts,
            ..
        } = self;
        let Some(j) = jit.as_mut() else { return };
        let keep = j.note_deopt(fid as usize);
        let fid = fid as usize;
        if keep {
            if let Some(c) = loop_counts.get_mut(fid) {
                c.iter_mut().for_each(|c| *c = threshold);
            }
        } else {
            // Back to the interpreter; it may get hot (and be recompiled) again.
            if let Some(c) = call_counts.get_mut(fid) {
                *c = 0;
            }
            if let Some(c) = loop_counts.get_mut(fid) {
                c.iter_mut().for_each(|c| *c = 0);
            }
        }
    }

    /// Execute instruction `pc` of function `fid` (the innermost frame, window at
    /// `base_idx`) exactly as the dispatch loop does, reading its operands from and
    /// writing its result to the frame's registers, then reach a safepoint.
    /// Compiled code calls this (through `rt_op`) for the instructions it does not
    /// inline; sharing the `ops` functions keeps the semantics identical.
    pub(crate) fn exec_op(&mut self, fid: u32, pc: u32, base_idx: usize) -> Result<(), OpErr> {
        let program = self.program;
        let Some(func) = program.functions.get(fid as usize) else {
            return Err(OpErr::Raise("internal error: bad function in JIT helper".into()));
        };
        let Some(&ins) = func.code.get(pc as usize) else {
            return Err(OpErr::Raise("internal error: bad pc in JIT helper".into()));
        };
        let sp = self.stack.as_ptr();
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
        macro_rules! gather {
            ($s:expr) => {{
                self.arg_buf.clear();
                for &r in $s.args.iter() {
                    let v = reg!(r);
                    self.arg_buf.push(v);
                }
            }};
        }
        let raise = |m: &str| OpErr::Raise(m.to_string());
        let _ = sp;
        match ins {
            Instr::DivI { dst, a, b } => {
                let r = arith::div_i(reg!(a).as_int(), reg!(b).as_int()).map_err(raise)?;
                set!(dst, Value::int(r));
            }
            Instr::ModI { dst, a, b } => {
                let r = arith::mod_i(reg!(a).as_int(), reg!(b).as_int()).map_err(raise)?;
                set!(dst, Value::int(r));
            }
            Instr::EqRef { dst, a, b } => {
                // SAFETY: a register holds a value of its static type (type
                // checker), live while a root: `a`, `b` are null or live objects.
                let c = unsafe { bp_runtime::heap::values_equal(reg!(a), reg!(b), ValKind::Ref) };
                set!(dst, Value::bool(c));
            }
            Instr::NeRef { dst, a, b } => {
                // SAFETY: as `EqRef`.
                let c = unsafe { bp_runtime::heap::values_equal(reg!(a), reg!(b), ValKind::Ref) };
                set!(dst, Value::bool(!c));
            }
            // (`CallBuiltin` is never sent here: compiled code calls builtins
            // directly through `rt_builtin`.)
            Instr::CallExtern { dst, site } => {
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
            Instr::Concat { dst, a, b } => {
                // SAFETY: `a`, `b` are `str` registers (type checker): null or live strings.
                let v = unsafe { objects::concat(&mut self.rt.heap, reg!(a), reg!(b)) }.map_err(raise)?;
                set!(dst, v);
            }
            Instr::ConcatN { dst, site } => {
                let s = site!(site);
                gather!(s);
                // SAFETY: the parts are `str` registers: null or live strings.
                let v = unsafe { objects::concat_n(&mut self.rt.heap, &self.arg_buf) }.map_err(raise)?;
                set!(dst, v);
            }
            Instr::ToStr { dst, src, kind } => {
                // SAFETY: `kind` is the kind of `src`'s static type (compiler): a
                // reference is null or a live object.
                let v = unsafe { objects::to_str(&mut self.rt.heap, reg!(src), ValKind::from_u8(kind)) }
                    .map_err(raise)?;
                set!(dst, v);
            }
            Instr::Print { site } => {
                let s = site!(site);
                gather!(s);
                // SAFETY: the site's kinds are the static kinds of its registers
                // (compiler): each reference is null or a live object.
                unsafe { objects::print(&mut self.rt.out, &self.arg_buf, &s.kinds) }.map_err(raise)?;
                self.maybe_flush().map_err(OpErr::Exit)?;
            }
            Instr::NewArray { dst, site } => {
                let s = site!(site);
                gather!(s);
                let v = objects::new_array(&mut self.rt.heap, s, &self.arg_buf);
                set!(dst, v);
            }
            Instr::ArrGet { dst, arr, idx } => {
                // SAFETY: `arr` is an array register (type checker): null or a live array.
                let v = unsafe { objects::arr_get(reg!(arr), reg!(idx)) }.map_err(raise)?;
                set!(dst, v);
            }
            Instr::ArrSet { arr, idx, src } => {
                // SAFETY: the verifier types `arr` as an array register: null or a live array.
                unsafe { objects::arr_set(reg!(arr), reg!(idx), reg!(src)) }.map_err(raise)?
            }
            Instr::ArrLen { dst, arr } => {
                // SAFETY: as `ArrGet`.
                let v = unsafe { objects::arr_len(reg!(arr)) }.map_err(raise)?;
                set!(dst, v);
            }
            Instr::NewMap { dst, site } => {
                let s = site!(site);
                gather!(s);
                // SAFETY: the keys are registers of the map's key type (type
                // checker): a reference key is null or a live object.
                let v = unsafe { objects::new_map(&mut self.rt.heap, s.target, &self.arg_buf) };
                set!(dst, v);
            }
            Instr::MapGet { dst, map, key } => {
                // SAFETY: `map` is a map register and `key` of its key type (type
                // checker): null or live objects.
                let v = unsafe { objects::map_get(reg!(map), reg!(key)) }.map_err(raise)?;
                set!(dst, v);
            }
            Instr::MapSet { map, key, val } => {
                // SAFETY: the verifier types `map` as a map register: null or a live map.
                unsafe { objects::map_set(&mut self.rt.heap, reg!(map), reg!(key), reg!(val)) }
                    .map_err(raise)?
            }
            Instr::NewTuple { dst, site } => {
                let s = site!(site);
                gather!(s);
                let v = objects::new_tuple(&mut self.rt.heap, s, &self.arg_buf);
                set!(dst, v);
            }
            Instr::TupleGet { dst, tup, idx } => {
                // SAFETY: `tup` is a tuple register (type checker): null or a live tuple.
                let v = unsafe { objects::tuple_get(reg!(tup), idx) }.map_err(raise)?;
                set!(dst, v);
            }
            Instr::NewStruct { dst, site } => {
                let s = site!(site);
                gather!(s);
                let v = objects::new_struct(&mut self.rt.heap, program, s, &self.arg_buf);
                set!(dst, v);
            }
            Instr::GetField { dst, obj, idx } => {
                // SAFETY: `obj` is a struct register (type checker): null or a live struct.
                let v = unsafe { objects::get_field(reg!(obj), idx) }.map_err(raise)?;
                set!(dst, v);
            }
            Instr::SetField { obj, idx, src } => {
                // SAFETY: the verifier types `obj` as a struct register: null or a live struct.
                unsafe { objects::set_field(reg!(obj), idx, reg!(src)) }.map_err(raise)?
            }
            Instr::MakeClosure { dst, site } => {
                let s = site!(site);
                gather!(s);
                let v = objects::make_closure(&mut self.rt.heap, s, &self.arg_buf);
                set!(dst, v);
            }
            other => {
                return Err(OpErr::Raise(format!(
                    "internal error: {other:?} is not executed by the JIT helper"
                )))
            }
        }
        self.safepoint();
        Ok(())
    }
}
