//! Side exits: deopt and exception exit blocks, write-back of registers to the frame, the
//! stress deopts, the frame record and the re-entry dispatch.

use super::*;

impl<'a, 'f> Tr<'a, 'f> {
    /// Store the values the scalar registers in `set` have before instruction `pc`
    /// to their frame slots (reference registers are always there already).
    pub(super) fn write_back(&mut self, pc: u32, set: RegSet) {
        for r in set.iter() {
            if (r as usize) < self.f.nregs as usize && self.kept_in_variable(pc, r) {
                let w = self.an.webs.at(pc, r) as usize;
                let v = self.b.use_var(self.vars[w]);
                let fl = self.mem_flags(Mem::Frame);
                self.b.ins().store(fl, v, self.frame.base, r as i32 * 8);
            }
        }
    }

    /// Whether register `r` before `pc` is in its variable only, not in its
    /// frame slot: a number, or a reference web of constants
    /// (`Analysis::constant`).
    pub(super) fn kept_in_variable(&self, pc: u32, r: Reg) -> bool {
        !self.is_ref(r) || self.an.constant[self.an.webs.at(pc, r) as usize]
    }

    /// The current frame depth (this function's record is `frames[d - 1]`). It is
    /// reloaded at each use rather than kept live across calls, which keeps
    /// register pressure (and callee-saved spills) down in call-heavy code.
    pub(super) fn depth(&mut self) -> CV {
        self.b.use_var(self.frame.depth)
    }

    /// Pop this function's frame record: `depth = d - 1` (a store; nothing is
    /// loaded).
    pub(super) fn pop_frame(&mut self) {
        let d = self.depth();
        let d1 = self.b.ins().iadd_imm_s(d, -1);
        let (a, off) = self.depth_addr();
        let fl = self.mem_flags(Mem::Vm);
        self.b.ins().store(fl, d1, a, off);
    }

    /// The address of the running VM: the context, which compiled code keeps in
    /// Cranelift's pinned register (set by the entry shim).
    pub(super) fn vm_addr(&mut self) -> CV {
        self.b.ins().get_pinned_reg(I64)
    }

    /// The address of the frame depth counter as `(base, offset)`.
    pub(super) fn depth_addr(&mut self) -> (CV, i32) {
        (self.vm_addr(), self.tc.offs.vm_depth)
    }

    /// Address of this function's frame record, given the depth `d`.
    pub(super) fn record(&mut self, d: CV) -> CV {
        let fs = self.tc.offs.frame_size as i64;
        let scaled = self.b.ins().imul_imm_s(d, fs);
        let frames = self.run_word(self.tc.offs.run.frames);
        let rec = self.b.ins().iadd(scaled, frames);
        self.b.ins().iadd_imm_s(rec, -fs)
    }

    pub(super) fn store_pc(&mut self, pc: u32) {
        let d = self.depth();
        let rec = self.record(d);
        let v = self.b.ins().iconst(I32, pc as i64);
        let fl = self.mem_flags(Mem::Vm);
        self.b.ins().store(fl, v, rec, self.tc.offs.frame_pc);
    }

    pub(super) fn exit_block(&mut self, kind: Exit, pc: u32) -> Block {
        // The exits of a call that reads a struct never allocated are those
        // of the call that made it (`Analysis::rewind_exit`).
        let pc = match self.rewind {
            Some((reader, maker)) if reader == pc && !matches!(kind, Exit::Exc) => maker,
            _ => pc,
        };
        // (Before the loop runs, its structs are in their registers' slots.)
        let kind = match kind {
            Exit::Deopt if self.in_pre_header => Exit::Entry,
            _ => kind,
        };
        let key = (kind as u8, pc);
        if let Some(&b) = self.exits.get(&key) {
            return b;
        }
        if matches!(kind, Exit::Ovf) || matches!(kind, Exit::Raise) && self.has_handler(pc) {
            // The overflow exits and the raise exits a handler covers continue
            // in the exception exit (filled in the same round of `fill_exits`).
            self.exit_block(Exit::Exc, pc);
        }
        let blk = self.b.create_block();
        if matches!(kind, Exit::Exc) {
            self.b.append_block_param(blk, I64);
        }
        self.b.set_cold_block(blk);
        self.exits.insert(key, blk);
        self.todo.push((kind, pc, blk));
        blk
    }

    /// Continue in a fresh block when `cond` is false; side exit to the VM at `pc`
    /// when it is true.
    pub(super) fn guard(&mut self, cond: CV, pc: u32) {
        let exit = self.exit_block(Exit::Deopt, pc);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, exit, &[], cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// As [`Tr::guard`], for a guard that tests for an error of the
    /// instruction at `pc` (a null reference, an index out of range, a zero
    /// divisor, a failed cast): when the instruction is one that
    /// `Op::raises_at_guard`, the exit has the VM run it, and a raised error
    /// is caught or propagated by this code without a deopt. (In an inlined
    /// body `pc` is the call's, which the VM runs again from its start.)
    pub(super) fn raise_guard(&mut self, cond: CV, pc: u32) {
        let exit = self.exit_block(self.error_exit(pc), pc);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, exit, &[], cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// An exit at `pc` that the instruction always takes (a constant zero
    /// divisor): a side exit, or the raise exit when it `raises_at_guard`.
    pub(super) fn always_exit(&mut self, pc: u32) {
        let exit = self.exit_block(self.error_exit(pc), pc);
        self.b.ins().jump(exit, &[]);
    }

    /// The exit for a failed guard of the instruction at `pc` that tests for
    /// its error: the raise exit if it `raises_at_guard` and is this
    /// function's own, else a side exit.
    fn error_exit(&self, pc: u32) -> Exit {
        let raises = self
            .f
            .code
            .get(pc as usize)
            .is_some_and(|i| i.op().raises_at_guard());
        if raises && self.inl.is_none() {
            Exit::Raise
        } else {
            Exit::Deopt
        }
    }

    /// Branch to the exception/stop path of `pc` when status `st` is nonzero.
    pub(super) fn check_status(&mut self, st: CV, pc: u32) {
        let exit = self.exit_block(Exit::Exc, pc);
        let cont = self.b.create_block();
        self.b.ins().brif(st, exit, &[st.into()], cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// Deopt stress: an exit to the VM at `deopt_pc`, counted at `site`.
    pub(super) fn stress(&mut self, site: u32, deopt_pc: u32) {
        match self.tc.stress {
            0 => {}
            1 => {
                let addr = self.iconst(self.tc.stress_ctrs as i64 + site as i64 * 4);
                let fl = self.mem_flags(Mem::Vm);
                let c = self.b.ins().load(I32, fl, addr, 0);
                let c1 = self.b.ins().iadd_imm_s(c, 1);
                let fl = self.mem_flags(Mem::Vm);
                self.b.ins().store(fl, c1, addr, 0);
                let both = self.b.ins().band(c1, c);
                let take = self.b.ins().icmp_imm_s(IntCC::Equal, both, 0);
                self.guard(take, deopt_pc);
            }
            _ => {
                let take = self.b.ins().iconst(I8, 1);
                self.guard(take, deopt_pc);
            }
        }
    }

    /// After `rt_resume`: on to the one block that decides
    /// what status `st` means ([`Tr::fill_resume_tail`]), shared by every exit
    /// (a third fewer blocks and instructions in the exits of a function).
    pub(super) fn after_resume(&mut self, st: CV) {
        let tail = self.shared_tail(|t| &mut t.resume_tail, 1);
        self.b.ins().jump(tail, &[st.into()]);
    }

    /// Branch on `cond` to two new cold blocks (taken, not taken), sealed:
    /// this branch is their only way in.
    fn cold_branch(&mut self, cond: CV) -> (Block, Block) {
        let (yes, no) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(yes);
        self.b.set_cold_block(no);
        self.b.ins().brif(cond, yes, &[], no, &[]);
        self.b.seal_block(yes);
        self.b.seal_block(no);
        (yes, no)
    }

    /// Return status `st` if it is `exit` or a fatal error (2); otherwise go
    /// on (in a new block).
    fn return_if_stopped(&mut self, st: CV) {
        let is_stop = self.b.ins().icmp_imm_s(IntCC::Equal, st, 2);
        let (stop, go_on) = self.cold_branch(is_stop);
        self.b.switch_to_block(stop);
        self.b.ins().return_(&[st]);
        self.b.switch_to_block(go_on);
    }

    /// At an exit at `pc` (`pcv` its value): the live registers to the
    /// frame, then the VM resumes there ([`Tr::fill_leave_calls`]).
    fn resume_vm(&mut self, pc: u32, pcv: CV, kind: Exit) {
        self.leave_for_vm(pc, kind);
        let call = self.shared_tail(|t| &mut t.resume_call, 1);
        self.b.ins().jump(call, &[pcv.into()]);
    }

    /// The live registers at `pc` to the frame, with the structs of the loops
    /// around it that keep them as fields (except at an `Exit::Entry`, before
    /// they do): what an exit does before the VM takes the frame.
    fn leave_for_vm(&mut self, pc: u32, kind: Exit) {
        let live = self.live_in(pc);
        self.write_back(pc, live);
        if !matches!(kind, Exit::Entry) {
            let loops: Vec<usize> = self.cached_loops_around(pc).collect();
            self.materialize_structs(&loops, pc, None);
        }
    }

    /// Call `helper` (`rt_resume` or `rt_raise`) for the exit at `pcv`, told
    /// which loops this code can take the frame back at; its status.
    fn call_leave(&mut self, helper: u64, pcv: CV) -> CV {
        let vm = self.vm_addr();
        let loops = self.iconst(self.tc.osr_loops as i64);
        self.call_helper(Sig::Resume, helper, &[vm, self.frame.base, pcv, loops])
    }

    /// At a raise exit at `pc` (`pcv` its value): the live registers to the
    /// frame, then `rt_raise` runs the instruction in the VM. An error it
    /// raised goes on to the exception exit of `pc`; any other status is as
    /// after `rt_resume`. Where no handler covers `pc` that is the same code
    /// for every such exit but its pc ([`Tr::fill_leave_calls`]).
    fn raise_in_vm(&mut self, pc: u32, pcv: CV) -> Result<(), String> {
        self.leave_for_vm(pc, Exit::Raise);
        if !self.has_handler(pc) {
            let call = self.shared_tail(|t| &mut t.raise_call, 1);
            self.b.ins().jump(call, &[pcv.into()]);
            return Ok(());
        }
        let st = self.call_leave(self.tc.addrs.h_raise, pcv);
        let exc = self.exits.get(&(Exit::Exc as u8, pc)).copied();
        let exc = exc.ok_or("raise exit without an exception exit")?;
        self.after_raise(st, exc, None);
        Ok(())
    }

    /// After `rt_raise` returned status `st`: a raised error goes on to
    /// the exception exit `exc` with the status (and `pc`, for the
    /// propagate tail, which takes it); anything else is as after
    /// `rt_resume`.
    fn after_raise(&mut self, st: CV, exc: Block, pc: Option<CV>) {
        let raised = self.b.ins().icmp_imm_s(IntCC::Equal, st, ST_RAISED as i64);
        let resumed = self.b.create_block();
        self.b.set_cold_block(resumed);
        let one = self.iconst(ST_EXCEPTION as i64);
        let args: Vec<cranelift_codegen::ir::BlockArg> =
            std::iter::once(one).chain(pc).map(Into::into).collect();
        self.b.ins().brif(raised, exc, &args, resumed, &[]);
        self.b.seal_block(resumed);
        self.b.switch_to_block(resumed);
        self.after_resume(st);
    }

    /// The calls every exit shares (created by [`Tr::resume_vm`] and
    /// [`Tr::raise_in_vm`]): an exit block writes its registers back and jumps
    /// here with its pc, so that a function with many guards has one call of
    /// `rt_resume` (and one of `rt_raise`) rather than one per exit: about a
    /// fifth fewer Cranelift instructions in a small function, and no call's
    /// clobbers for the register allocator to work through at each exit.
    fn fill_leave_calls(&mut self) {
        if let Some(call) = self.resume_call {
            self.b.seal_block(call);
            self.b.switch_to_block(call);
            let pcv = self.b.block_params(call)[0];
            let st = self.call_leave(self.tc.addrs.h_resume, pcv);
            self.after_resume(st);
        }
        if let Some(call) = self.raise_call {
            self.b.seal_block(call);
            self.b.switch_to_block(call);
            let pcv = self.b.block_params(call)[0];
            let st = self.call_leave(self.tc.addrs.h_raise, pcv);
            let tail = self.shared_tail(|t| &mut t.propagate_tail, 2);
            self.after_raise(st, tail, Some(pcv));
        }
    }

    /// The exception in flight reached `pc` (`pcv` its value), which a
    /// handler of this function covers: `rt_catch` catches it as the VM's
    /// unwinder would (the message into the handler's register, in its frame
    /// slot), and the code goes on at the handler's block, its registers
    /// those of `pc`. Nothing is written back: the frame stays compiled.
    fn catch_at(&mut self, pc: u32, pcv: CV) -> Result<(), String> {
        let hi = self.an.covering.get(pc as usize).and_then(|c| c.first());
        let h = hi
            .and_then(|&hi| self.f.handlers.get(hi as usize))
            .copied()
            .ok_or("a catch without a handler")?;
        let vm = self.vm_addr();
        let st = self.call_helper(Sig::TwoInts, self.tc.addrs.h_catch, &[vm, pcv]);
        let (failed, caught) = self.cold_branch(st);
        self.b.switch_to_block(failed);
        self.b.ins().return_(&[st]);
        self.b.switch_to_block(caught);
        if let Some(m) = h.reg.filter(|&m| u16::from(m) < self.f.nregs) {
            let w = self.an.webs.at(h.target, m) as usize;
            let fl = self.mem_flags(Mem::Frame);
            let msg = self.b.ins().load(self.vty[w], fl, self.frame.base, m as i32 * 8);
            self.b.def_var(self.vars[w], msg);
        }
        // As at re-entry: the message may be a string an append register
        // holds.
        self.clear_appends();
        let target = self.block(h.target)?;
        self.b.ins().jump(target, &[]);
        Ok(())
    }

    /// The cold block with `params` integer parameters in `slot`, created on
    /// first use: code that every exit of a kind shares, filled after them.
    fn shared_tail(&mut self, slot: fn(&mut Self) -> &mut Option<Block>, params: usize) -> Block {
        if let Some(b) = *slot(self) {
            return b;
        }
        let b = self.b.create_block();
        for _ in 0..params {
            self.b.append_block_param(b, I64);
        }
        self.b.set_cold_block(b);
        *slot(self) = Some(b);
        b
    }

    /// The block where an exception leaves the function (status, pc), if
    /// any exit needs it: `exit` and fatal errors (status 2) return as they
    /// are; an exception pops this frame in `rt_propagate`.
    fn fill_propagate_tail(&mut self) {
        let Some(tail) = self.propagate_tail else {
            return;
        };
        self.b.seal_block(tail);
        self.b.switch_to_block(tail);
        let (st, pcv) = (self.b.block_params(tail)[0], self.b.block_params(tail)[1]);
        self.return_if_stopped(st);
        let vm = self.vm_addr();
        let st2 = self.call_helper(Sig::TwoInts, self.tc.addrs.h_propagate, &[vm, pcv]);
        self.b.ins().return_(&[st2]);
    }

    /// The block after `rt_resume` (if any exit needs it):
    /// status 3 re-enters this code at a loop header, anything else is this
    /// function's status.
    fn fill_resume_tail(&mut self) {
        let Some(tail) = self.resume_tail else {
            return;
        };
        self.b.seal_block(tail);
        self.b.switch_to_block(tail);
        let st = self.b.block_params(tail)[0];
        if self.entered.is_empty() {
            // `rt_resume` re-enters only at a loop this code has an entry
            // for: a version without any (every loop-free function) takes
            // the status back as it is.
            self.b.ins().return_(&[st]);
            return;
        }
        let low = self.b.ins().band_imm_s(st, 3);
        let is_re = self.b.ins().icmp_imm_s(IntCC::Equal, low, 3);
        let (re, ret) = self.cold_branch(is_re);
        self.b.switch_to_block(re);
        let enc = self.b.ins().ushr_imm_s(st, 2);
        self.b.ins().jump(self.reentry, &[enc.into()]);
        self.b.switch_to_block(ret);
        self.b.ins().return_(&[st]);
    }

    pub(super) fn has_handler(&self, pc: u32) -> bool {
        self.an.covering.get(pc as usize).is_some_and(|c| !c.is_empty())
    }

    pub(super) fn live_in(&self, pc: u32) -> RegSet {
        self.an.live_in.get(pc as usize).copied().unwrap_or_default()
    }

    /// Stop the translation once it is over [`MAX_JIT_IR`].
    pub(super) fn check_size(&self) -> Result<(), TransError> {
        if self.b.func.dfg.num_insts() > MAX_JIT_IR {
            return Err(TransError::TooBig(format!(
                "more than {MAX_JIT_IR} Cranelift instructions"
            )));
        }
        Ok(())
    }

    pub(super) fn fill_exits(&mut self) -> Result<(), TransError> {
        // Every exit block has all its predecessors by now: seal, then fill it.
        // Overflow and raise exits first: they jump to the exception exit of
        // their pc, which must not be sealed before that.
        let mut todo = std::mem::take(&mut self.todo);
        todo.sort_by_key(|&(kind, _, _)| !matches!(kind, Exit::Ovf | Exit::Raise));
        for (kind, pc, blk) in todo {
            // An exit writes back up to every register: check as it goes.
            self.check_size()?;
            self.b.seal_block(blk);
            self.b.switch_to_block(blk);
            let pcv = self.iconst(pc as i64);
            // (The overflow exit continues in the exception exit, which stores.)
            if !matches!(kind, Exit::Ovf) {
                self.store_globals_at(pc);
            }
            match kind {
                Exit::Deopt | Exit::Entry => self.resume_vm(pc, pcv, kind),
                Exit::Raise => self.raise_in_vm(pc, pcv)?,
                Exit::Ovf => {
                    let vm = self.vm_addr();
                    let st = self.call_helper(Sig::TwoInts, self.tc.addrs.h_overflow_at, &[vm, pcv]);
                    let exc = self.exits.get(&(Exit::Exc as u8, pc)).copied();
                    let exc = exc.ok_or("overflow exit without an exception exit")?;
                    self.b.ins().jump(exc, &[st.into()]);
                }
                Exit::Exc => {
                    let st = self.b.block_params(blk)[0];
                    if !self.has_handler(pc) {
                        // The exception leaves the function: the same for
                        // every such exit but its pc.
                        let tail = self.shared_tail(|t| &mut t.propagate_tail, 2);
                        self.b.ins().jump(tail, &[st.into(), pcv.into()]);
                        continue;
                    }
                    self.return_if_stopped(st);
                    self.catch_at(pc, pcv)?;
                }
            }
        }
        if !self.todo.is_empty() {
            return Err("exit block created while filling exits".into());
        }
        self.fill_leave_calls();
        self.fill_resume_tail();
        self.fill_propagate_tail();
        Ok(())
    }

    /// The re-entry dispatch: a case for the header of each loop of
    /// `TransCtx::osr_loops`; any other header calls `rt_bad_reentry` (the tier
    /// never asks for one).
    pub(super) fn fill_reentry(&mut self) -> Result<(), String> {
        self.b.switch_to_block(self.reentry);
        let enc = self.b.block_params(self.reentry)[0];
        let mut sw = Switch::new();
        let mut cases = Vec::new();
        for h in self.entered.clone() {
            let target = self.block(h)?;
            let blk = self.b.create_block();
            self.b.set_cold_block(blk);
            sw.set_entry(h as u128 + 1, blk);
            cases.push((h, blk, target));
        }
        let bad = self.b.create_block();
        self.b.set_cold_block(bad);
        sw.emit(&mut self.b, enc, bad);
        for (h, blk, target) in cases {
            self.b.seal_block(blk);
            self.b.switch_to_block(blk);
            let live = self.live_in(h);
            for r in live.iter() {
                if (r as usize) < self.f.nregs as usize {
                    let w = self.an.webs.at(h, r) as usize;
                    if self.is_ref(r) && self.an.frame_read[w] {
                        // (Read from its slot where it is used: `Tr::get_raw`.)
                        continue;
                    }
                    let (ty, fl, base) = (self.vty[w], self.mem_flags(Mem::Frame), self.frame.base);
                    let v = self.b.ins().load(ty, fl, base, r as i32 * 8);
                    self.b.def_var(self.vars[w], v);
                }
            }
            // The interpreter may have copied any string (appends.rs).
            self.clear_appends();
            // A cached loop's header is entered through its pre-header, which
            // loads its caches and does its hoisted bounds checks; the caches
            // of the loops around it are loaded here (their divisor checks
            // exit at `h`: the exits are filled after this).
            match self.cached_loop_at_header(h) {
                Some(li) => {
                    self.load_outer_caches(h, li);
                    let pre = self.loops.pre_headers[li];
                    self.b.ins().jump(pre, &[]);
                }
                None => {
                    self.load_caches(h, None);
                    self.b.ins().jump(target, &[]);
                }
            }
        }
        self.b.seal_block(bad);
        self.b.switch_to_block(bad);
        let vm = self.vm_addr();
        let st = self.call_helper(Sig::TwoInts, self.tc.addrs.h_bad_reentry, &[vm, enc]);
        self.b.ins().return_(&[st]);
        Ok(())
    }
}
