//! Calls: runtime helpers, user functions (direct and indirect), and builtins through
//! the argument block.

use super::*;

impl<'a, 'f> Tr<'a, 'f> {
    pub(super) fn call_helper(&mut self, sig: Sig, addr: u64, args: &[CV]) -> CV {
        let sig = self.sig(sig);
        let fp = self.iconst(addr as i64);
        let call = self.b.ins().call_indirect(sig, fp, args);
        self.b.inst_results(call)[0]
    }

    /// The call at `pc` of the user function `target` with arguments `args`,
    /// its result into `dst` (unless the callee returns nothing).
    pub(super) fn emit_call(
        &mut self,
        pc: u32,
        dst: Reg,
        args: &[Reg],
        target: CallTarget,
    ) -> Result<(), String> {
        if let CallTarget::Direct {
            fid,
            recursive,
            closure,
            ..
        } = target
        {
            if !recursive && self.try_inline(pc, dst, args, fid, closure)? {
                return Ok(());
            }
            let early = closure.is_none().then(|| self.early_return_of(fid, args.len()));
            if let Some(er) = early.flatten() {
                return self.call_with_early_return(pc, dst, args, target, fid, er);
            }
        }
        self.real_call(pc, dst, args, target)
    }

    /// The call of `target` at `pc`: push the callee's frame record, call its
    /// code (or itself, or the trampoline), check the status, read the result.
    pub(super) fn real_call(
        &mut self,
        pc: u32,
        dst: Reg,
        args: &[Reg],
        target: CallTarget,
    ) -> Result<(), String> {
        let (callee, callee_nregs, void, static_void, is_self, closure) = match target {
            CallTarget::Direct {
                fid: _,
                id,
                nregs,
                returns_void,
                recursive,
                closure,
            } => (
                id,
                CalleeRegs::Static(nregs),
                None,
                returns_void,
                recursive,
                closure,
            ),
            CallTarget::Indirect {
                id,
                nregs,
                is_void,
                closure,
            } => (
                id,
                CalleeRegs::Dynamic(nregs),
                // (A site whose callees return a value writes its destination:
                // `analysis::writes_result`, which the webs assume.)
                (!self.an.writes_result.get(pc as usize).copied().unwrap_or(false)).then_some(is_void),
                false,
                false,
                closure,
            ),
        };
        let nregs = self.f.nregs as i64;
        // `d` is this frame's depth, `d + 1` the callee's.
        let d = self.depth();
        let callee_base = self.b.ins().iadd_imm_s(self.frame.base, nregs * 8);
        let at_limit = self.at_frame_limit(d);
        self.check_call_limits(Exit::Ovf, pc, Some(at_limit), callee_base, callee_nregs);
        // The callee's record `frames[d]` (this frame's is the one before it: one
        // address constant for both).
        let offs = *self.tc.offs;
        let fs = offs.frame_size as i64;
        let scaled = self.b.ins().imul_imm_s(d, fs);
        let frames = self.run_word(offs.run.frames);
        let rec2 = self.b.ins().iadd(scaled, frames);
        // This frame's pc: where an exception escaping the callee is reported.
        let pcv = self.b.ins().iconst(I32, pc as i64);
        let fl = self.mem_flags(Mem::Vm);
        self.b.ins().store(fl, pcv, rec2, offs.frame_pc - offs.frame_size);
        // Arguments: the first `REG_ARGS` in machine registers, the others into
        // the callee's registers `REG_ARGS..n`.
        let k = args.len().min(REG_ARGS);
        let d1 = self.b.ins().iadd_imm_s(d, 1);
        let mut call_args = vec![callee_base, d1];
        for (i, &r) in args.iter().enumerate() {
            if i < REG_ARGS {
                let v = self.get_i(r);
                call_args.push(v);
            } else {
                let v = self.get_raw(r);
                let fl = self.mem_flags(Mem::Frame);
                self.b.ins().store(fl, v, callee_base, i as i32 * 8);
            }
        }
        // A function value's closure, in the callee's register after its
        // parameters (a lambda with captures reads them from it).
        if let Some(c) = closure {
            let fl = self.mem_flags(Mem::Frame);
            self.b.ins().store(fl, c, callee_base, args.len() as i32 * 8);
        }
        // Push the callee's frame record.
        if offs.frame_pc == offs.frame_func + 4 && self.tc.little_endian {
            // `func` and `pc = 0` in one 64-bit store (callee ids are below 2^32).
            let fl = self.mem_flags(Mem::Vm);
            self.b.ins().store(fl, callee, rec2, offs.frame_func);
        } else {
            let callee32 = self.b.ins().ireduce(I32, callee);
            let fl = self.mem_flags(Mem::Vm);
            self.b.ins().store(fl, callee32, rec2, offs.frame_func);
            let z32 = self.b.ins().iconst(I32, 0);
            let fl = self.mem_flags(Mem::Vm);
            self.b.ins().store(fl, z32, rec2, offs.frame_pc);
        }
        // `base` of the callee's record: this frame's base index plus its window.
        let fl = self.mem_flags(Mem::Vm);
        let my_base = self
            .b
            .ins()
            .load(I64, fl, rec2, offs.frame_base - offs.frame_size);
        let callee_idx = self.b.ins().iadd_imm_s(my_base, nregs);
        self.b.ins().store(fl, callee_idx, rec2, offs.frame_base);
        let (depth_addr, depth_off) = self.depth_addr();
        let fl = self.mem_flags(Mem::Vm);
        self.b.ins().store(fl, d1, depth_addr, depth_off);
        // entry[callee](callee_base, callee_base, args...), or a direct call
        // of this function itself.
        let me = if is_self { self.self_ref() } else { None };
        let call = match me {
            Some(me) => self.b.ins().call(me, &call_args),
            _ => {
                let eoff = self.b.ins().ishl_imm_s(callee, 3);
                let eaddr = self.b.ins().iadd_imm_s(eoff, self.tc.addrs.entry as i64);
                let fl = self.mem_flags(Mem::Vm);
                let slot = self.b.ins().load(I64, fl, eaddr, 0);
                // A function without code: the trampoline (one compare and a
                // conditional move; the table says `NOT_COMPILED`, see abi.rs).
                let none = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::Equal, slot, crate::jit::abi::NOT_COMPILED as i64);
                let tramp = self.iconst(self.tc.addrs.tramp as i64);
                let code = self.b.ins().select(none, tramp, slot);
                let sig = self.sig(Sig::Compiled(k));
                self.b.ins().call_indirect(sig, code, &call_args)
            }
        };
        let st = self.b.inst_results(call)[0];
        self.check_status(st, pc);
        if static_void {
            return Ok(());
        }
        let fl = self.mem_flags(Mem::Frame);
        let ty = self.def_ty(dst);
        let v = self.b.ins().load(ty, fl, callee_base, 0);
        let v = match void {
            Some(is_void) => {
                let old = self.get_raw(dst);
                self.b.ins().select(is_void, old, v)
            }
            None => v,
        };
        self.set(dst, v);
        Ok(())
    }

    /// Whether this frame, at depth `d`, is at the frame limit (`d + 1 >
    /// max_depth`), tested where a call is made. The flag computed at entry
    /// ([`Frame::at_limit`]) would be live across every call: in fib the call
    /// sequence was 9 % slower with it.
    pub(super) fn at_frame_limit(&mut self, d: CV) -> CV {
        frame_limit_reached(&mut self.b, self.tc, d)
    }

    /// The limits of a call at `pc` from this frame of a callee whose window
    /// starts at `callee_base`, checked here (before anything is written)
    /// rather than in the callee, where the depth would have to be loaded again:
    /// the callee's frame must fit the frame stack (`at_limit`: this frame is
    /// at the frame limit; `None`: known not to be), and its window the register stack (unless the
    /// depth check implies it). Past either the code takes exit `exit` at
    /// `pc`: `Exit::Ovf` raises `stack overflow` there, as the interpreter
    /// does; a call inlined in an inlined body exits to the VM instead
    /// (`Tr::inline_nested`). (The callee checks the native stack.)
    pub(super) fn check_call_limits(
        &mut self,
        exit: Exit,
        pc: u32,
        at_limit: Option<CV>,
        callee_base: CV,
        callee_nregs: CalleeRegs,
    ) {
        let a = self.tc.addrs;
        let run = self.tc.offs.run;
        if at_limit.is_none() && !a.check_stack {
            return;
        }
        let ovf = self.exit_block(exit, pc);
        if let Some(at_limit) = at_limit {
            let ok = self.b.create_block();
            self.b.ins().brif(at_limit, ovf, &[], ok, &[]);
            self.b.seal_block(ok);
            self.b.switch_to_block(ok);
        }
        if a.check_stack {
            let stack_end = self.run_word(run.stack_end);
            let end = match callee_nregs {
                CalleeRegs::Static(n) => self.b.ins().iadd_imm_s(callee_base, n as i64 * 8),
                CalleeRegs::Dynamic(n) => {
                    let bytes = self.b.ins().ishl_imm_s(n, 3);
                    self.b.ins().iadd(callee_base, bytes)
                }
            };
            let c = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, stack_end);
            let ok = self.b.create_block();
            self.b.ins().brif(c, ovf, &[], ok, &[]);
            self.b.seal_block(ok);
            self.b.switch_to_block(ok);
        }
    }

    /// `CallBuiltin` of builtin `id`, as its table entry declares
    /// (`Builtin::inline`): machine instructions, a direct call of its native
    /// twin, or else a direct call of the builtin through `rt_builtin` (no
    /// instruction decoding in the VM).
    pub(super) fn call_builtin(&mut self, pc: u32, dst: Reg, id: u32, args: &[Reg]) -> Result<(), String> {
        let (Some(b), Some(sig)) = (builtins::all().get(id as usize), builtins::signature(id)) else {
            return Err(format!("unknown builtin {id}"));
        };
        let inlined = match (b.inline, args) {
            (Inline::Unary(op), &[a]) => Some(self.inline_unary(op, a)),
            (Inline::Binary(op), &[a, c]) => Some(self.inline_binary(op, a, c)),
            (Inline::Clamp, &[a, lo, hi]) => Some(self.inline_clamp(a, lo, hi)),
            (Inline::NativeUnary(f), &[a]) => {
                let x = self.get_f(a);
                Some(self.call_helper(Sig::FloatUnary, f as usize as u64, &[x]))
            }
            (Inline::NativeBinary(f), &[a, c]) => {
                let x = self.get_f(a);
                let y = self.get_f(c);
                Some(self.call_helper(Sig::FloatBinary, f as usize as u64, &[x, y]))
            }
            (Inline::Str(op), _) if args.len() == op.arity() => {
                self.inline_str_builtin(pc, dst, id, op, args);
                return Ok(());
            }
            (Inline::Slice(_), &[src, start, length]) if self.virtual_slice_at(pc) => {
                self.virtual_slice(pc, dst, id, [src, start, length]);
                return Ok(());
            }
            (Inline::MapFind(twin), &[map, key]) => {
                self.map_has_key(pc, dst, twin, map, key);
                return Ok(());
            }
            (
                Inline::Call
                | Inline::Leaf(_)
                | Inline::HeapLeaf(_)
                | Inline::Slice(_)
                | Inline::Str(_)
                | Inline::MapFind(_),
                _,
            ) => None,
            // Operands that do not fit the operation (the compiler emits none):
            // the generic call is still right.
            (
                Inline::Unary(_)
                | Inline::Binary(_)
                | Inline::Clamp
                | Inline::NativeUnary(_)
                | Inline::NativeBinary(_),
                _,
            ) => None,
        };
        if let Some(v) = inlined {
            self.set(dst, v);
            return Ok(());
        }
        self.stress(pc, pc);
        let addr = self.arg_block(args);
        // Bit 32: the result is a reference (the helper roots it while it collects).
        let void = sig.returns_void();
        let ref_result = !void && self.is_ref(dst);
        let info = args.len() as i64 | (ref_result as i64) << 32;
        let h = self.tc.addrs.h_builtin;
        let dst = (!void).then_some(dst);
        match b.inline {
            Inline::Leaf(twin) | Inline::MapFind(twin) => {
                self.leaf_call(pc, twin as usize as u64, addr, (h, id as i64, info), dst)
            }
            Inline::HeapLeaf(twin) | Inline::Slice(twin) => {
                let (vm, off) = self.heap_addr();
                let heap = self.b.ins().iadd_imm_s(vm, off as i64);
                let st = self.call_helper(Sig::TwoInts, twin as usize as u64, &[heap, addr]);
                self.unless_declined(pc, st, addr, (h, id as i64, info), dst);
            }
            _ => self.block_helper(pc, h, id as i64, addr, info, dst),
        }
        Ok(())
    }

    /// An operation with a leaf twin (`builtins::LeafFn` at address `twin`: a
    /// builtin's `Inline::Leaf`, or `rt_map_set`), its operands in the block at
    /// `args`: a direct call of the twin; when it declines, in a cold block, the
    /// general call `(helper, a, b)` of [`Tr::block_helper`] (`rt_builtin` or
    /// `rt_obj`), which raises the operation's error. Both leave the result in
    /// `args[0]`.
    pub(super) fn leaf_call(
        &mut self,
        pc: u32,
        twin: u64,
        args: CV,
        general: (u64, i64, i64),
        dst: Option<Reg>,
    ) {
        let st = self.call_helper(Sig::Leaf, twin, &[args]);
        self.unless_declined(pc, st, args, general, dst);
    }

    /// After a leaf twin's call that returned `st`: when it declined, in a
    /// cold block, the general call `(helper, a, b)` of [`Tr::block_helper`];
    /// then the result from `args[0]` to `dst`.
    fn unless_declined(&mut self, pc: u32, st: CV, args: CV, general: (u64, i64, i64), dst: Option<Reg>) {
        let declined = self.b.create_block();
        self.b.set_cold_block(declined);
        let join = self.b.create_block();
        self.b.ins().brif(st, declined, &[], join, &[]);
        self.b.seal_block(declined);
        self.b.switch_to_block(declined);
        let (helper, a, b) = general;
        self.block_helper(pc, helper, a, args, b, None);
        self.b.ins().jump(join, &[]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        if let Some(d) = dst {
            let fl = self.mem_flags(Mem::Frame);
            let ty = self.def_ty(d);
            let v = self.b.ins().load(ty, fl, args, 0);
            self.set(d, v);
        }
    }

    /// Call a helper of the form `(vm, a, args, b, pc) -> status` whose operands
    /// are in the argument block at `args` (`rt_builtin`, `rt_new`, `rt_obj`),
    /// check its status and take its result, if `dst` wants one, from `args[0]`.
    pub(super) fn block_helper(&mut self, pc: u32, helper: u64, a: i64, args: CV, b: i64, dst: Option<Reg>) {
        let av = self.iconst(a);
        self.block_helper_op(pc, helper, av, args, b, dst);
    }

    /// [`Tr::block_helper`] whose first word `av` is computed.
    pub(super) fn block_helper_op(
        &mut self,
        pc: u32,
        helper: u64,
        av: CV,
        args: CV,
        b: i64,
        dst: Option<Reg>,
    ) {
        let bv = self.iconst(b);
        let pcv = self.iconst(pc as i64);
        let vm = self.vm_addr();
        let st = self.call_helper(Sig::Builtin, helper, &[vm, av, args, bv, pcv]);
        self.check_status(st, pc);
        if let Some(d) = dst {
            let fl = self.mem_flags(Mem::Frame);
            let ty = self.def_ty(d);
            let v = self.b.ins().load(ty, fl, args, 0);
            self.set(d, v);
        }
    }

    /// Store the values of `args` to the function's argument block (a stack slot
    /// sized for its largest direct builtin or constructor call, created on first
    /// use); returns its address.
    pub(super) fn arg_block(&mut self, args: &[Reg]) -> CV {
        let values: Vec<CV> = args.iter().map(|&r| self.get_raw(r)).collect();
        self.arg_block_of(&values)
    }

    /// [`Tr::arg_block`] of the values `values`.
    pub(super) fn arg_block_of(&mut self, values: &[CV]) -> CV {
        let slot = match self.frame.arg_block {
            Some(s) => s,
            None => {
                let most = self
                    .f
                    .code
                    .iter()
                    .filter_map(|i| match i {
                        Instr::CallBuiltin { site, .. }
                        | Instr::ConcatN { site, .. }
                        | Instr::NewArray { site, .. }
                        | Instr::NewTuple { site, .. }
                        | Instr::NewStruct { site, .. } => self.f.sites.get(*site as usize),
                        _ => None,
                    })
                    .map(|s| s.args.len())
                    // `MapSet`'s three operands (`rt_obj`).
                    .chain(std::iter::once(3))
                    .max()
                    .unwrap_or(0)
                    .max(1);
                let s = self.b.create_sized_stack_slot(ir::StackSlotData::new(
                    ir::StackSlotKind::ExplicitSlot,
                    most as u32 * 8,
                    3,
                ));
                self.frame.arg_block = Some(s);
                s
            }
        };
        // A constructor inlined from a callee may have more operands than any
        // instruction of this function (the IR is not compiled yet: the slot
        // can still grow).
        let size = &mut self.b.func.sized_stack_slots[slot].size;
        *size = (*size).max(values.len() as u32 * 8);
        let addr = self.b.ins().stack_addr(I64, slot, 0);
        for (i, &v) in values.iter().enumerate() {
            let fl = self.mem_flags(Mem::Frame);
            self.b.ins().store(fl, v, addr, i as i32 * 8);
        }
        addr
    }

    /// What a direct call of function `fid` with `nargs` arguments needs from the
    /// function table: its register count and whether it returns nothing (`None`
    /// if there is no such function taking `nargs` arguments).
    fn direct_callee(&self, fid: u32, nargs: usize) -> Option<(u32, bool)> {
        let cf = self.tc.program.functions.get(fid as usize)?;
        (cf.nparams as usize == nargs).then_some((cf.nregs as u32, cf.ret_kind.is_none()))
    }

    /// The direct call of function `fid` ([`Tr::direct_callee`]), passing the
    /// function value `closure` if the call is through one.
    fn direct_target(
        &mut self,
        fid: u32,
        (nregs, returns_void): (u32, bool),
        closure: Option<CV>,
    ) -> CallTarget {
        CallTarget::Direct {
            fid,
            id: self.iconst(fid as i64),
            nregs,
            returns_void,
            recursive: fid == self.fid,
            closure,
        }
    }

    /// `Call` at `pc` of call site `site`: a call of a function known when translating.
    pub(super) fn call_direct(&mut self, pc: u32, dst: Reg, site: u32) -> Result<(), String> {
        let s = self.f.sites.get(site as usize).ok_or("bad call site")?.clone();
        let callee = self
            .direct_callee(s.target, s.args.len())
            .ok_or("a call of an unknown function or with a wrong number of arguments")?;
        self.stress(pc, pc);
        let target = self.direct_target(s.target, callee, None);
        self.emit_call(pc, dst, &s.args, target)?;
        Ok(())
    }

    /// What the function table says about the function with id `callee` (a run-time
    /// value): its parameter count, whether it returns nothing (an `I8` truth
    /// value) and its register count.
    fn callee_info(&mut self, callee: CV) -> (CV, CV, CV) {
        let ioff = self.b.ins().ishl_imm_s(callee, 2);
        let iaddr = self.b.ins().iadd_imm_s(ioff, self.tc.addrs.fn_info as i64);
        let fl = self.mem_flags(Mem::Hdr);
        let info32 = self.b.ins().load(I32, fl, iaddr, 0);
        let info = self.b.ins().uextend(I64, info32);
        let np = self.b.ins().ushr_imm_s(info, 16);
        let np = self.b.ins().band_imm_s(np, 0xff);
        let vbit = self.b.ins().ushr_imm_s(info, 24);
        let vbit = self.b.ins().band_imm_s(vbit, 1);
        let is_void = self.b.ins().icmp_imm_s(IntCC::NotEqual, vbit, 0);
        let nregs = self.b.ins().band_imm_s(info, 0xffff);
        (np, is_void, nregs)
    }

    /// `CallIndirect` at `pc` of call site `site`: a function value is called here
    /// (with its captures); a null, a wrong kind or a wrong arity deoptimizes (the
    /// VM raises).
    pub(super) fn call_closure(&mut self, pc: u32, dst: Reg, site: u32) -> Result<(), String> {
        let s = self.f.sites.get(site as usize).ok_or("bad call site")?.clone();
        self.stress(pc, pc);
        // The loop's pre-header checked the function value: call (inline) it.
        if let Some((fid, r)) = self
            .guarding_loop(pc)
            .and_then(|li| self.preheader_closure(li, pc))
        {
            let clo = self.get_i(r);
            let known = self
                .direct_callee(fid, s.args.len())
                .ok_or("internal error: a checked closure of another arity")?;
            let target = self.direct_target(fid, known, Some(clo));
            return self.emit_call(pc, dst, &s.args, target);
        }
        // Null, kind and arity problems are raised by the VM.
        let (clo, callee) = self.function_value(s.target as Reg, pc);
        // A site where the interpreter saw a few functions: a polymorphic inline
        // cache, checking the callee against each and calling it directly (and
        // so inlining a small one); anything else takes the general path below.
        // A site the analysis planned inlined checks exactly the functions the
        // plan read (and inlines each: `Tr::try_inline`).
        let planned = self.planned_closure_callees(pc);
        let seen = match &planned {
            Some(fids) => fids.clone(),
            None => self.f.call_feedback.seen(site),
        };
        let cached: Vec<_> = seen
            .iter()
            .filter_map(|&fid| Some((fid, self.direct_callee(fid, s.args.len())?)))
            .collect();
        // The first version calls only the functions seen here and leaves any
        // other to the VM: no general call in the code, so a loop around an
        // inlined callee keeps its values in registers (a call clobbers them
        // all). A version after one given up for its deopts calls any function.
        let only_seen = self.tc.speculate && !cached.is_empty() && cached.len() == seen.len();
        if planned.is_some() && !only_seen {
            return Err("internal error: a planned closure call site with other callees".into());
        }
        let join = self.b.create_block();
        for (fid, known) in cached {
            let hit = self.b.ins().icmp_imm_s(IntCC::Equal, callee, fid as i64);
            let (direct, next) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(hit, direct, &[], next, &[]);
            self.b.seal_block(direct);
            self.switch_to_arm(direct);
            let target = self.direct_target(fid, known, Some(clo));
            self.emit_call(pc, dst, &s.args, target)?;
            self.b.ins().jump(join, &[]);
            self.b.seal_block(next);
            self.switch_to_arm(next);
        }
        if only_seen {
            let exit = self.exit_block(Exit::Deopt, pc);
            self.b.ins().jump(exit, &[]);
            self.b.seal_block(join);
            self.switch_to_arm(join);
            return Ok(());
        }
        let (np, is_void, nr) = self.callee_info(callee);
        let bad_arity = self.b.ins().icmp_imm_s(IntCC::NotEqual, np, s.args.len() as i64);
        self.guard(bad_arity, pc);
        let target = CallTarget::Indirect {
            id: callee,
            nregs: nr,
            is_void,
            closure: Some(clo),
        };
        self.emit_call(pc, dst, &s.args, target)?;
        self.b.ins().jump(join, &[]);
        self.b.seal_block(join);
        self.switch_to_arm(join);
        Ok(())
    }

    /// Switch to `block`, one arm of a call site's dispatch on its callee (or
    /// the arms' join): what the translator learnt about values in another
    /// arm (`ValueNumbering`: a sum an inlined body computed, an index it
    /// checked) does not hold here, and a value computed there is not
    /// available here.
    fn switch_to_arm(&mut self, block: Block) {
        self.b.switch_to_block(block);
        self.vn.forget_block();
    }

    /// The function value in register `r` and its function id, with guards
    /// (exiting at `pc`) that it is not null and is a function value.
    pub(super) fn function_value(&mut self, r: Reg, pc: u32) -> (CV, CV) {
        let offs = *self.tc.offs;
        let clo = self.non_null(r, pc);
        let fl = self.mem_flags(Mem::Hdr);
        let kind = self.b.ins().load(I8, fl, clo, offs.hdr_kind);
        let bad_kind = self
            .b
            .ins()
            .icmp_imm_s(IntCC::NotEqual, kind, offs.closure_kind as i64);
        self.guard(bad_kind, pc);
        let fl = self.mem_flags(Mem::Hdr);
        let f32v = self.b.ins().load(I32, fl, clo, offs.clo_func);
        (clo, self.b.ins().uextend(I64, f32v))
    }

    /// The functions the analysis planned the `CallIndirect` at `pc` of the
    /// function being translated (not of an inlined body) to check and inline.
    pub(super) fn planned_closure_callees(&self, pc: u32) -> Option<Vec<u32>> {
        if self.inl.is_some() {
            return None;
        }
        self.an.closure_callees.get(&pc).cloned()
    }

    /// `CallMethod` at `pc` on a receiver of static class `class` (a layout id),
    /// compiled as an inline cache built from the class tables: the classes of the
    /// receiver's static class are layouts `class ..= subtree_end[class]`, and the
    /// runs of them that share an implementation are [`method_ranges`]. Up to
    /// [`MAX_CHAIN`] runs: a range check of the receiver's layout each (one
    /// unsigned compare) and a direct call of that implementation. More (a
    /// megamorphic site), or a receiver outside every run: the callee is read from
    /// the method table and called like a function value. A null receiver
    /// side-exits (the VM raises).
    pub(super) fn call_method(&mut self, pc: u32, dst: Reg, site: u32, class: u32) -> Result<(), String> {
        let s = self.f.sites.get(site as usize).ok_or("bad call site")?.clone();
        let receiver = *s.args.first().ok_or("method call without a receiver")?;
        self.stress(pc, pc);
        let o = self.non_null(receiver, pc);
        let fl = self.mem_flags(Mem::Hdr);
        let l32 = self.b.ins().load(I32, fl, o, self.tc.offs.struct_layout);
        let layout = self.b.ins().uextend(I64, l32);
        let ranges = method_ranges(&self.tc.program.classes, class, s.target);
        if ranges.len() > MAX_CHAIN {
            return self.call_through_table(pc, dst, &s, layout);
        }
        let join = self.b.create_block();
        for (lo, hi, fid) in ranges {
            let rel = self.b.ins().iadd_imm_s(layout, -(lo as i64));
            let hit = self
                .b
                .ins()
                .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, rel, (hi - lo) as i64);
            let (call, next) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(hit, call, &[], next, &[]);
            self.b.seal_block(call);
            self.switch_to_arm(call);
            let known = self.direct_callee(fid, s.args.len()).ok_or("bad method")?;
            let target = self.direct_target(fid, known, None);
            self.emit_call(pc, dst, &s.args, target)?;
            self.b.ins().jump(join, &[]);
            self.b.seal_block(next);
            self.switch_to_arm(next);
        }
        // Not reached for a well-typed receiver; kept so that any layout is called right.
        self.call_through_table(pc, dst, &s, layout)?;
        self.b.ins().jump(join, &[]);
        self.b.seal_block(join);
        self.switch_to_arm(join);
        Ok(())
    }

    /// The megamorphic path of `CallMethod`: `methods[vtable_base[layout] + slot]`
    /// (two loads from tables that do not change while the program runs), called
    /// with the callee's register count and result kind from the function table.
    fn call_through_table(
        &mut self,
        pc: u32,
        dst: Reg,
        s: &crate::bytecode::CallSite,
        layout: CV,
    ) -> Result<(), String> {
        let classes = &self.tc.program.classes;
        let (bases, methods) = (
            classes.vtable_base.as_ptr() as i64,
            classes.methods.as_ptr() as i64,
        );
        let boff = self.b.ins().ishl_imm_s(layout, 2);
        let baddr = self.b.ins().iadd_imm_s(boff, bases);
        let fl = self.mem_flags(Mem::Hdr);
        let base32 = self.b.ins().load(I32, fl, baddr, 0);
        let base = self.b.ins().uextend(I64, base32);
        let idx = self.b.ins().iadd_imm_s(base, s.target as i64);
        let moff = self.b.ins().ishl_imm_s(idx, 2);
        let maddr = self.b.ins().iadd_imm_s(moff, methods);
        let fl = self.mem_flags(Mem::Hdr);
        let f32v = self.b.ins().load(I32, fl, maddr, 0);
        let callee = self.b.ins().uextend(I64, f32v);
        let (_, is_void, nr) = self.callee_info(callee);
        let target = CallTarget::Indirect {
            id: callee,
            nregs: nr,
            is_void,
            closure: None,
        };
        self.emit_call(pc, dst, &s.args, target)
    }
}

/// Most implementations a `CallMethod` site checks one by one before it reads the
/// method table instead.
const MAX_CHAIN: usize = 4;

/// The layouts of class `class`'s subtree grouped into runs of consecutive layouts
/// that run the same implementation of slot `slot`: `(first, last, function)`.
fn method_ranges(classes: &crate::bytecode::ClassTables, class: u32, slot: u32) -> Vec<(u32, u32, u32)> {
    let end = classes.subtree_end.get(class as usize).copied().unwrap_or(class);
    let mut out: Vec<(u32, u32, u32)> = Vec::new();
    for l in class..=end {
        let Some(fid) = classes.method(l, slot) else {
            continue;
        };
        match out.last_mut() {
            Some((_, hi, f)) if *f == fid && *hi + 1 == l => *hi = l,
            _ => out.push((l, l, fid)),
        }
        if out.len() > MAX_CHAIN {
            break;
        }
    }
    out
}
