//! Inlined calls: the callee's body translated in the caller's Cranelift
//! function instead of a call (which calls: `jit::inlining`).
//!
//! The body's registers are SSA values only ([`Inlined`]): they are never in a
//! frame, and nothing in the body can collect, so none needs to be a root. The
//! caller's registers keep the values they had before the call until the result
//! is written, so every guard of the body (a null receiver, a zero divisor, the
//! deopt stress) exits to the VM *at the call*: the interpreter then runs the
//! call from its start, and since the body changed nothing, the program cannot
//! tell. The call's limits (frame depth, register stack) are still checked, so
//! `stack overflow` is raised exactly where the interpreter raises it.

use super::*;
use crate::jit::inlining::inlinable;

/// The callee being inlined: its function and the values of its registers.
pub(super) struct Inlined<'a> {
    pub f: &'a Function,
    regs: Vec<Option<CV>>,
}

impl Inlined<'_> {
    pub fn set(&mut self, r: Reg, v: CV) {
        if let Some(slot) = self.regs.get_mut(r as usize) {
            *slot = Some(v);
        }
    }
}

impl<'a, 'f> Tr<'a, 'f> {
    /// The value of register `r` of the callee being inlined, if one is.
    pub(super) fn inlined_reg(&mut self, r: Reg) -> Option<CV> {
        let v = self.inl.as_ref()?.regs.get(r as usize).copied().flatten();
        // `inlinable` checked that every register is written before it is read.
        Some(v.unwrap_or_else(|| self.b.ins().iconst(I64, 0)))
    }

    /// The call at `pc` of function `fid` with arguments `args` (and the
    /// function value `closure` it is called through, if any), translated as
    /// the callee's body if the analysis planned it (a `Call`), or else if it is
    /// [`inlinable`] and within what is left of the budget. Returns whether
    /// it was; if not, nothing was emitted. (An error leaves the body half
    /// emitted: the function is not compiled.)
    pub(super) fn try_inline(
        &mut self,
        pc: u32,
        dst: Reg,
        args: &[Reg],
        fid: u32,
        closure: Option<CV>,
    ) -> Result<bool, String> {
        let p = self.tc.program;
        let Some(callee) = p.functions.get(fid as usize) else {
            return Ok(false);
        };
        let planned = matches!(self.code_fn().code.get(pc as usize), Some(Instr::Call { .. }));
        let ok = if planned {
            self.an.inlined.get(pc as usize).copied().unwrap_or(false)
        } else {
            callee.code.len() <= self.inline_budget
                && inlinable(p, callee, args.len())
                && (!callee.takes_closure || closure.is_some())
        };
        if !ok || self.inl.is_some() {
            return Ok(false);
        }
        self.inline_body(pc, dst, args, callee, closure)?;
        if !planned {
            self.inline_budget -= callee.code.len();
        }
        Ok(true)
    }

    fn inline_body(
        &mut self,
        pc: u32,
        dst: Reg,
        args: &[Reg],
        callee: &'a Function,
        closure: Option<CV>,
    ) -> Result<(), String> {
        let d = self.depth();
        let callee_base = self.b.ins().iadd_imm_s(self.frame.base, self.f.nregs as i64 * 8);
        self.check_call_limits(pc, d, callee_base, CalleeRegs::Static(callee.nregs as u32));
        let mut regs = vec![None; callee.nregs as usize];
        for (i, &r) in args.iter().enumerate() {
            regs[i] = Some(self.get_raw(r));
        }
        if callee.takes_closure {
            if let Some(slot) = regs.get_mut(args.len()) {
                *slot = closure;
            }
        }
        self.inl = Some(Inlined { f: callee, regs });
        let mut result = None;
        for &ins in &callee.code {
            if let Instr::Ret { src } = ins {
                result = Some(self.get_raw(src));
                break;
            }
            // Every guard of the body exits at the call (`pc`). An instruction
            // that always exits (none that `inlinable` accepts) would close the
            // block: what follows goes to a fresh one that nothing reaches.
            if !self.op(pc, ins)? {
                let dead = self.b.create_block();
                self.b.seal_block(dead);
                self.b.switch_to_block(dead);
            }
        }
        self.inl = None;
        let v = result.ok_or("an inlined body without `Ret`")?;
        self.set(dst, v);
        Ok(())
    }
}
