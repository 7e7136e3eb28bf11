//! The per-instruction dispatch: one bytecode instruction to Cranelift IR, delegating to
//! the family modules.

use super::arith::Commutative;
use super::*;

/// Whether a comparison's result is taken as it is or negated.
#[derive(Clone, Copy)]
pub(super) enum When {
    True,
    False,
}

impl<'a, 'f> Tr<'a, 'f> {
    /// Branch on `cond` to `target`, else fall through to `pc + 1`.
    pub(super) fn branch(&mut self, cond: CV, pc: u32, target: u32) -> Result<bool, String> {
        let t = self.edge(target)?;
        let e = self.edge(pc + 1)?;
        self.b.ins().brif(cond, t, &[], e, &[]);
        Ok(false)
    }

    /// The `ForLoop` at `pc` up to its branch: `ctr += 1`, and whether the
    /// loop goes on (`ctr < limit`).
    pub(super) fn for_loop_step(&mut self, pc: u32, ctr: Reg, limit: Reg) -> CV {
        // Deopt stress resumes the VM at this instruction, which counts the
        // back-edge and re-enters at the header.
        self.stress(pc, pc);
        let x = self.get_i(ctr);
        let i = self.b.ins().iadd_imm_s(x, 1);
        self.set(ctr, i);
        let n = self.get_i(limit);
        self.b.ins().icmp(IntCC::SignedLessThan, i, n)
    }

    /// The truth value of `a cc b` (ints).
    pub(super) fn int_test(&mut self, a: Reg, b: Reg, cc: IntCC) -> CV {
        let x = self.get_i(a);
        let y = self.get_i(b);
        self.b.ins().icmp(cc, x, y)
    }

    /// The truth value of `a cc imm`.
    pub(super) fn imm_test(&mut self, a: Reg, imm: i16, cc: IntCC) -> CV {
        // `x % 2 == 0` tests the low bit.
        let x = match self.low_bits_tested(a, imm, cc) {
            Some(low) => low.bits,
            None => self.get_i(a),
        };
        self.b.ins().icmp_imm_s(cc, x, imm as i64)
    }

    /// The low bits of `x` that `a cc imm` tests for zero, if `a` is `x % 2^k`
    /// and the test is `== 0` or `!= 0`.
    fn low_bits_tested(&mut self, a: Reg, imm: i16, cc: IntCC) -> Option<LowBits> {
        if imm != 0 || !matches!(cc, IntCC::Equal | IntCC::NotEqual) {
            return None;
        }
        let r = self.get_i(a);
        self.vn.zero_equiv.get(&r).copied()
    }

    /// `dst = a == b` (`When::True`) or `a != b` (`When::False`) on references:
    /// deep equality in the helper `rt_eq_ref` (2: it failed, exit to the VM).
    fn ref_equality(&mut self, pc: u32, dst: Reg, a: Reg, b: Reg, when: When) {
        self.stress(pc, pc);
        let x = self.get_i(a);
        let y = self.get_i(b);
        let r = self.call_helper(Sig::TwoInts, self.tc.addrs.h_eq_ref, &[x, y]);
        let failed = self.b.ins().icmp_imm_s(IntCC::Equal, r, 2);
        self.guard(failed, pc);
        let v = match when {
            When::True => r,
            When::False => self.b.ins().bxor_imm_s(r, 1),
        };
        self.set(dst, v);
    }

    /// Translate the instruction at `pc`. Returns whether the current block is
    /// still open (falls through to `pc + 1`).
    pub(super) fn instr(&mut self, pc: u32) -> Result<bool, String> {
        let ins = self.f.code[pc as usize];
        self.before_for_appends(&ins);
        if !self.keeps_struct_items(pc, &ins) {
            self.vn.forget_structs();
        }
        self.before_for_map_facts(&ins);
        let def = self.an.ops[pc as usize].def;
        let held = def.and_then(|d| self.vn.struct_regs.get(&d).copied());
        self.rewind = self.an.rewind_exit[pc as usize].map(|maker| (pc, maker));
        let open = self.op(pc, ins);
        self.rewind = None;
        self.after_for_map_facts(pc, def);
        // The instruction wrote its register: its `set` recorded a new
        // struct, or forgot the old one; a helper that wrote the register's
        // slot itself did neither.
        if let (Some(d), Some(old)) = (def, held) {
            if self.vn.struct_regs.get(&d) == Some(&old) {
                self.vn.struct_regs.remove(&d);
            }
        }
        open
    }

    /// Whether instruction `ins` at `pc` of the function stores into no
    /// field of any struct, so that the fields of the structs this block made
    /// (`ValueNumbering::struct_items`) keep their values: an instruction an
    /// inlined body may have (`Op::inlinable`: it writes registers only), an
    /// allocation, or a `Call` of a callee inlined whole that returns a value
    /// and has no `SetField` (an initializer stores into fields, and an
    /// updater may). Any other call may run code that stores into a field.
    fn keeps_struct_items(&self, pc: u32, ins: &Instr) -> bool {
        use Instr::*;
        match *ins {
            NewStruct { .. } | NewArray { .. } | NewTuple { .. } => true,
            Call { site, .. } => {
                self.an.inlined.get(pc as usize).copied().unwrap_or(false)
                    && self
                        .f
                        .sites
                        .get(site as usize)
                        .and_then(|s| self.tc.program.functions.get(s.target as usize))
                        .is_some_and(|callee| {
                            callee.ret_kind.is_some()
                                && !callee.code.iter().any(|i| matches!(i, SetField { .. }))
                        })
            }
            CallBuiltin { site, .. } => self
                .f
                .sites
                .get(site as usize)
                .is_some_and(|s| crate::jit::inlining::builtin_is_machine_code(s.target, s.args.len())),
            _ => ins.op().inlinable(),
        }
    }

    /// The value field `idx` of the struct in register `obj` was made with, if
    /// this block made it (`ValueNumbering::struct_items`).
    fn struct_item(&mut self, obj: Reg, idx: u8) -> Option<CV> {
        let o = self.get_raw(obj);
        self.vn.struct_items.get(&o)?.get(idx as usize).copied()
    }

    /// Translate `ins` as the instruction at `pc`: of this function, or of the
    /// callee being inlined at the call at `pc` (see inline.rs), whose registers,
    /// constants and call sites it then refers to.
    pub(super) fn op(&mut self, pc: u32, ins: Instr) -> Result<bool, String> {
        use Instr::*;
        let offs = *self.tc.offs;
        match ins {
            Mov { dst, src } => {
                let v = self.get_raw(src);
                self.set(dst, v);
            }
            LoadInt { dst, imm } => {
                let v = self.iconst(imm as i64);
                self.set(dst, v);
            }
            LoadConst { dst, k } => {
                let v = match self.code_fn().consts.get(k as usize) {
                    Some(Const::Int(i)) => self.iconst(*i),
                    Some(Const::Float(x)) => self.b.ins().f64const(*x),
                    // (The materialised pool is this function's: an inlined
                    // callee loads only numbers, see `Op::inlinable`.)
                    Some(Const::Str(_)) if self.inl.is_some() => {
                        return Err("a string constant in an inlined callee".into())
                    }
                    Some(Const::Str(_)) => {
                        let p = self.tc.consts.get(k as usize).map(|v| v.0).unwrap_or(0);
                        self.iconst(p as i64)
                    }
                    None => return Err(format!("bad constant {k}")),
                };
                self.set(dst, v);
            }
            LoadBool { dst, val } => {
                let v = self.iconst(val as i64);
                self.set(dst, v);
            }
            LoadNull { dst } => {
                let v = self.iconst(0);
                self.set(dst, v);
            }
            GetGlobal { dst, idx } => {
                // An inlined body's registers have no machine type of their
                // own: the global's kind gives it (a float then needs no
                // conversion on its way to float arithmetic).
                let ty = match (&self.inl, self.tc.program.globals.get(idx as usize)) {
                    (Some(_), Some(g)) => global_type(g.kind),
                    _ => self.def_ty(dst),
                };
                let v = match self.promoted_global(idx) {
                    Some((var, _)) => {
                        let v = self.b.use_var(var);
                        self.as_type(v, ty)
                    }
                    None => {
                        let addr = self.global_addr(idx);
                        let fl = self.mem_flags(Mem::Global);
                        self.b.ins().load(ty, fl, addr, 0)
                    }
                };
                self.set(dst, v);
            }
            SetGlobal { src, idx } => {
                let v = self.get_raw(src);
                match self.promoted_global(idx) {
                    Some((var, ty)) => {
                        let v = self.as_type(v, ty);
                        self.b.def_var(var, v);
                    }
                    None => {
                        let addr = self.global_addr(idx);
                        let fl = self.mem_flags(Mem::Global);
                        self.b.ins().store(fl, v, addr, 0);
                    }
                }
            }

            AddI { dst, a, b } => {
                let v = self.commutative(Commutative::Add, a, b, Self::add_reassoc);
                self.set(dst, v);
            }
            SubI { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().isub(x, y)),
            MulI { dst, a, b } => {
                let v = self.commutative(Commutative::Mul, a, b, |t, x, y| t.b.ins().imul(x, y));
                self.set(dst, v);
            }
            BitAnd { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().band(x, y)),
            BitOr { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().bor(x, y)),
            BitXor { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().bxor(x, y)),
            // Cranelift masks the shift amount to the type width: `b mod 64`.
            Shl { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().ishl(x, y)),
            Shr { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().sshr(x, y)),
            DivI { dst, a, b } => self.int_division(pc, dst, a, b, DivOp::Quotient),
            ModI { dst, a, b } => self.int_division(pc, dst, a, b, DivOp::Remainder),
            AddIImm { dst, a, imm } => {
                let x = self.get_i(a);
                let v = self.b.ins().iadd_imm_s(x, imm as i64);
                self.set(dst, v);
            }
            MulIImm { dst, a, imm } => {
                let x = self.get_i(a);
                let v = match imm {
                    // `x + (x << s)`, which x86-64 computes in one `lea`
                    // (Cranelift keeps a multiply as `imul`: 3 cycles, not 1).
                    3 | 5 | 9 => {
                        let shifted = self.b.ins().ishl_imm_s(x, (imm - 1).trailing_zeros() as i64);
                        self.b.ins().iadd(x, shifted)
                    }
                    _ => self.b.ins().imul_imm_s(x, imm as i64),
                };
                self.set(dst, v);
            }
            DivIImm { dst, a, imm } => return Ok(self.int_division_imm(pc, dst, a, imm, DivOp::Quotient)),
            ModIImm { dst, a, imm } => return Ok(self.int_division_imm(pc, dst, a, imm, DivOp::Remainder)),
            // The sum or product as `AddI` and `MulI` compute it, then the remainder.
            AddModIImm { dst, a, b, imm } => {
                let sum = |t: &mut Self| t.commutative(Commutative::Add, a, b, Self::add_reassoc);
                return Ok(self.division_imm_of(pc, dst, imm, DivOp::Remainder, sum));
            }
            MulModIImm { dst, a, b, imm } => {
                let product =
                    |t: &mut Self| t.commutative(Commutative::Mul, a, b, |t, x, y| t.b.ins().imul(x, y));
                return Ok(self.division_imm_of(pc, dst, imm, DivOp::Remainder, product));
            }
            BitAndImm { dst, a, imm } => self.int_imm(dst, a, |b, x| b.ins().band_imm_s(x, imm as i64)),
            BitOrImm { dst, a, imm } => self.int_imm(dst, a, |b, x| b.ins().bor_imm_s(x, imm as i64)),
            BitXorImm { dst, a, imm } => self.int_imm(dst, a, |b, x| b.ins().bxor_imm_s(x, imm as i64)),
            // `imm mod 64`, as the register forms (Cranelift masks too).
            ShlImm { dst, a, imm } => self.int_imm(dst, a, |b, x| b.ins().ishl_imm_s(x, imm as i64 & 63)),
            ShrImm { dst, a, imm } => self.int_imm(dst, a, |b, x| b.ins().sshr_imm_s(x, imm as i64 & 63)),
            NegI { dst, src } => {
                let x = self.get_i(src);
                let v = self.b.ins().ineg(x);
                self.set(dst, v);
            }
            BitNot { dst, src } => {
                let x = self.get_i(src);
                let v = self.b.ins().bnot(x);
                self.set(dst, v);
            }

            AddF { dst, a, b } => self.float_bin(dst, a, b, |b, x, y| b.ins().fadd(x, y)),
            SubF { dst, a, b } => self.float_bin(dst, a, b, |b, x, y| b.ins().fsub(x, y)),
            MulF { dst, a, b } => {
                let v = self.float_mul(a, b);
                self.set(dst, v);
            }
            DivF { dst, a, b } => {
                let (x, y) = (self.get_f(a), self.get_f(b));
                let q = match self.paired_division(x, y) {
                    Some(q) => q,
                    None => self.b.ins().fdiv(x, y),
                };
                self.set(dst, q);
            }
            ModF { dst, a, b } => {
                let x = self.get_f(a);
                let y = self.get_f(b);
                let v = self.call_helper(Sig::FloatBinary, self.tc.addrs.h_fmod, &[x, y]);
                self.set(dst, v);
            }
            NegF { dst, src } => {
                // Flip the sign bit as an integer operation, not `fneg`: Cranelift
                // rewrites `fneg(x) * fneg(y)` to `x * y`, which changes the sign
                // of a NaN result (printed `nan` / `-nan`) against the interpreter
                // (found by tests/differential.rs).
                let x = self.get_i(src);
                let v = self.b.ins().bxor_imm_s(x, i64::MIN);
                self.set(dst, v);
            }

            EqI { dst, a, b } => self.icmp_set(dst, a, b, IntCC::Equal),
            NeI { dst, a, b } => self.icmp_set(dst, a, b, IntCC::NotEqual),
            LtI { dst, a, b } => self.icmp_set(dst, a, b, IntCC::SignedLessThan),
            LeI { dst, a, b } => self.icmp_set(dst, a, b, IntCC::SignedLessThanOrEqual),
            EqF { dst, a, b } => self.fcmp_set(dst, a, b, FloatCC::Equal),
            NeF { dst, a, b } => self.fcmp_set(dst, a, b, FloatCC::NotEqual),
            LtF { dst, a, b } => self.fcmp_set(dst, a, b, FloatCC::LessThan),
            LeF { dst, a, b } => self.fcmp_set(dst, a, b, FloatCC::LessThanOrEqual),
            EqRef { dst, a, b } => self.ref_equality(pc, dst, a, b, When::True),
            NeRef { dst, a, b } => self.ref_equality(pc, dst, a, b, When::False),
            EqStr { dst, a, b } => self.str_equality(pc, dst, a, b, When::True),
            NeStr { dst, a, b } => self.str_equality(pc, dst, a, b, When::False),
            Not { dst, src } => {
                let x = self.get_i(src);
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                self.set_bool(dst, c);
            }

            Jmp { target } => {
                self.map_facts_on_jump(target);
                let t = self.edge(target)?;
                self.b.ins().jump(t, &[]);
                return Ok(false);
            }
            Loop { target, .. } => {
                self.stress(pc, target);
                let t = self.edge(target)?;
                self.b.ins().jump(t, &[]);
                return Ok(false);
            }
            ForLoop {
                ctr, limit, target, ..
            } => {
                if self.unrolled_for_loop(pc, ctr, limit)? {
                    return Ok(false);
                }
                let more = self.for_loop_step(pc, ctr, limit);
                return self.branch(more, pc, target);
            }
            JmpIf { target, .. }
            | JmpIfNot { target, .. }
            | BrEqI { target, .. }
            | BrNeI { target, .. }
            | BrLtI { target, .. }
            | BrLeI { target, .. }
            | BrEqIImm { target, .. }
            | BrNeIImm { target, .. }
            | BrLtIImm { target, .. }
            | BrLeIImm { target, .. }
            | BrGtIImm { target, .. }
            | BrGeIImm { target, .. }
            | BrLtF { target, .. }
            | BrLeF { target, .. }
            | BrNotLtF { target, .. }
            | BrNotLeF { target, .. } => return self.compare_branch(pc, ins, target),

            Call { dst, site } => self.call_direct(pc, dst, site)?,
            CallIndirect { dst, site } => self.call_closure(pc, dst, site)?,
            CallBuiltin { dst, site } => {
                let s = self
                    .code_fn()
                    .sites
                    .get(site as usize)
                    .ok_or("bad call site")?
                    .clone();
                self.call_builtin(pc, dst, s.target, &s.args)?;
            }
            CallExtern { .. } => self.generic(pc),
            Ret { src } => {
                self.store_globals_at(pc);
                let v = self.get_raw(src);
                let fl = self.mem_flags(Mem::Frame);
                self.b.ins().store(fl, v, self.frame.base, 0);
                self.pop_frame();
                let z = self.iconst(0);
                self.b.ins().return_(&[z]);
                return Ok(false);
            }
            RetVoid => {
                self.store_globals_at(pc);
                self.pop_frame();
                let z = self.iconst(0);
                self.b.ins().return_(&[z]);
                return Ok(false);
            }

            NewArray { dst, site } => self.new_object(pc, dst, site, NewKind::Array)?,
            NewTuple { dst, site } => self.new_object(pc, dst, site, NewKind::Tuple)?,
            NewStruct { dst, site } => {
                let fields = self.code_fn().sites.get(site as usize).map(|s| s.args.clone());
                let items: Vec<CV> = fields.iter().flatten().map(|&r| self.get_raw(r)).collect();
                if let Some(s) = self.sunk(pc, dst) {
                    // For a register its loop keeps as fields: never allocated.
                    return self.sunk_write(s, &items).map(|()| true);
                }
                self.new_object(pc, dst, site, NewKind::Struct)?;
                let s = self.get_raw(dst);
                self.vn.struct_items.insert(s, items);
            }
            MapGet { dst, map, key } => match self.found_entry(map, key) {
                Some(at) => {
                    self.stress(pc, pc);
                    self.access(at, Access::Load(dst));
                }
                None => self.map_get_by_position(pc, dst, map, key),
            },
            MapSet { map, key, val } => match self.found_entry(map, key) {
                Some(at) => {
                    self.stress(pc, pc);
                    self.access(at, Access::Store(val));
                    let m = self.get_raw(map);
                    self.write_barrier(m, val);
                }
                None => self.map_set(pc, map, key, val),
            },
            Concat { dst, a, b } => self.concat(pc, dst, a, b),
            ToStr { dst, src, kind } => self.object_op(pc, ObjOp::ToStr, &[src], kind as i64, Some(dst)),
            ConcatN { dst, site } => self.concat_n(pc, dst, site)?,
            Print { .. } | NewMap { .. } | MakeClosure { .. } => self.generic(pc),
            TypeOf { .. } => self.generic(pc),
            GetCapture { dst, clo, idx } => match self.preloaded_capture(idx) {
                Some(var) => {
                    let v = self.b.use_var(var);
                    self.set(dst, v);
                }
                None => self.heap_access(pc, offs.clo_captures, Access::Load(dst), |t, o| {
                    t.fixed_slot(clo, idx, pc, o)
                }),
            },
            CellGet { dst, cell } => self.heap_access(pc, offs.arr_items, Access::Load(dst), |t, o| {
                t.fixed_slot(cell, 0, pc, o)
            }),
            CellSet { cell, src } => {
                self.heap_access(pc, offs.arr_items, Access::Store(src), |t, o| {
                    t.fixed_slot(cell, 0, pc, o)
                });
                let c = self.get_raw(cell);
                self.write_barrier(c, src);
            }
            NewCell { dst, src, kind } => self.new_cell(pc, dst, src, kind),
            NewObject { dst, class } => self.new_class_instance(pc, dst, class),
            CallMethod { dst, site, class } => self.call_method(pc, dst, site, class as u32)?,
            // A null side-exits; the VM raises the check's message.
            NullCheck { src, .. } => {
                self.non_null(src, pc);
            }
            IsNull { dst, src } => {
                let o = self.get_i(src);
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, o, 0);
                self.set_bool(dst, c);
            }
            InstanceOf { dst, src, class } => {
                let c = self.instance_of(src, class);
                self.set_bool(dst, c);
            }
            // Not an instance (or null): side exit; the VM raises.
            CheckClass { src, class } => {
                let o = self.non_null(src, pc);
                let c = self.layout_in_class(o, class);
                let bad = self.b.ins().icmp_imm_s(IntCC::Equal, c, 0);
                self.raise_guard(bad, pc);
            }

            ArrGet { dst, arr, idx, elem } => {
                // (Asked only when there are virtual arrays: reading a
                // reference register kept in its frame slot is a load, which
                // Cranelift keeps even when nothing uses it.)
                let virtual_array = (!self.vn.virtual_arrays.is_empty())
                    .then(|| self.get_raw(arr))
                    .filter(|a| self.vn.virtual_arrays.contains_key(a));
                if let Some(a) = virtual_array {
                    // An array never allocated: its item at a constant index.
                    let i = self.get_i(idx);
                    let item = self.const_int(i).and_then(|k| {
                        let items = self.vn.virtual_arrays.get(&a)?;
                        items.get(usize::try_from(k).ok()?).copied()
                    });
                    let item = item.ok_or("internal error: an item of an array never allocated")?;
                    self.set(dst, item);
                } else if !self.invariant_row_get(pc, dst) {
                    self.array_access(pc, arr, idx, elem, Access::Load(dst));
                }
            }
            ArrSet { arr, idx, src, elem } => {
                self.array_access(pc, arr, idx, elem, Access::Store(src));
                if elem == ValKind::Ref as u8 {
                    // (Not null: the access checked.)
                    let a = self.get_raw(arr);
                    self.write_barrier(a, src);
                }
            }
            ArrLen { dst, arr } => {
                self.stress(pc, pc);
                let a = self.non_null(arr, pc);
                // In a cached loop the length is in a register already.
                let len = match self.cached_array(arr) {
                    Some((len, _)) => len,
                    None => {
                        let fl = self.mem_flags(Mem::Hdr);
                        self.b.ins().load(I64, fl, a, offs.arr_items.1)
                    }
                };
                self.set(dst, len);
            }
            TupleGet { dst, tup, idx } => {
                // A tuple made in this function: its item, computed already.
                let t = self.get_raw(tup);
                if let Some(&item) = self
                    .vn
                    .tuple_items
                    .get(&t)
                    .and_then(|items| items.get(idx as usize))
                {
                    if !self.vn.virtual_tuples.contains(&t) {
                        self.stress(pc, pc);
                    }
                    self.set(dst, item);
                } else if self.vn.virtual_tuples.contains(&t)
                    || (self.virtual_values_on()
                        && self.an.virtual_read.get(pc as usize).copied().unwrap_or(false))
                {
                    return Err("internal error: an item of a tuple never allocated".into());
                } else {
                    self.heap_access(pc, offs.tuple_items, Access::Load(dst), |t, o| {
                        t.tuple_item_slot(tup, idx, pc, o)
                    })
                }
            }
            GetField { dst, obj, idx } => {
                if let Some(v) = self.struct_item(obj, idx) {
                    self.stress(pc, pc);
                    self.set(dst, v);
                    return Ok(true);
                }
                let fields = (offs.struct_fields, offs.struct_len);
                self.heap_access(pc, fields, Access::Load(dst), |t, o| {
                    t.field_slot(obj, idx, pc, o)
                })
            }
            SetField { obj, idx, src } => {
                let fields = (offs.struct_fields, offs.struct_len);
                self.heap_access(pc, fields, Access::Store(src), |t, o| {
                    t.field_slot(obj, idx, pc, o)
                });
                let o = self.get_raw(obj);
                self.write_barrier(o, src);
            }

            Throw { src } | Rethrow { src } => {
                // `rt_throw` makes the exception; the exception exit catches
                // it here or lets it leave the frame.
                let rethrow = matches!(ins, Rethrow { .. });
                // (A web of constants is in its variable only:
                // `Analysis::constant`.)
                let msg = match self.kept_in_variable(pc, src) {
                    true => self.get_raw(src),
                    false => self.load_ref(src),
                };
                let vm = self.vm_addr();
                let op = self.iconst(pc as i64 | if rethrow { THROW_RETHROW as i64 } else { 0 });
                let st = self.call_helper(Sig::VmBasePc, self.tc.addrs.h_throw, &[vm, msg, op]);
                let exit = self.exit_block(Exit::Exc, pc);
                self.b.ins().jump(exit, &[st.into()]);
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The compare-and-branch `ins` (one of `inlining::branch_of`'s) at
    /// `pc` of the function: jump to `target` when it says so, else fall
    /// through to `pc + 1`. A test of `x % 2^k == 0` also tells the block its
    /// zero edge enters that `x` has `k` low zero bits.
    fn compare_branch(&mut self, pc: u32, ins: Instr, target: u32) -> Result<bool, String> {
        if let Some(test) = self.str_test.take() {
            return self.str_test_branch(pc, ins, target, test);
        }
        let (c, when) = self
            .branch_condition(ins)
            .ok_or("internal error: not a compare-and-branch")?;
        // (Not in an inlined body, whose pcs are the callee's.)
        if let Some((a, imm, cc)) = imm_compare(&ins).filter(|_| self.inl.is_none() && target != pc + 1) {
            if let Some(low) = self.low_bits_tested(a, imm, cc) {
                let zero_edge = if cc == IntCC::Equal { target } else { pc + 1 };
                self.zero_facts.insert(zero_edge, (low.x, low.k));
            }
        }
        self.map_facts_on_edges(pc, &ins, target);
        let t = self.edge(target)?;
        let e = self.edge(pc + 1)?;
        self.branch_when(c, when, t, e);
        Ok(false)
    }

    /// Go to `taken` where a compare-and-branch whose condition is `c`
    /// jumps (where `c` holds, or where it does not: `when`), else to
    /// `next`.
    pub(super) fn branch_when(&mut self, c: CV, when: When, taken: Block, next: Block) {
        match when {
            When::True => self.b.ins().brif(c, taken, &[], next, &[]),
            When::False => self.b.ins().brif(c, next, &[], taken, &[]),
        };
    }

    /// The condition of the compare-and-branch `ins` (one of
    /// `inlining::branch_of`'s), computed on the registers of the function or
    /// of the callee being inlined, and whether the branch jumps when it holds
    /// (`When::True`) or when it does not (`BrNotLtF`, `BrNotLeF`: also on
    /// unordered operands, NaN). The function's own branches and an inlined
    /// body's both read it.
    pub(super) fn branch_condition(&mut self, ins: Instr) -> Option<(CV, When)> {
        use Instr::*;
        let float = |tr: &mut Self, a: Reg, b: Reg, cc: FloatCC| {
            let x = tr.get_f(a);
            let y = tr.get_f(b);
            tr.b.ins().fcmp(cc, x, y)
        };
        Some(match ins {
            JmpIf { cond, .. } => (self.get_i(cond), When::True),
            JmpIfNot { cond, .. } => {
                let c = self.get_i(cond);
                (self.b.ins().icmp_imm_s(IntCC::Equal, c, 0), When::True)
            }
            BrEqI { a, b, .. } => (self.int_test(a, b, IntCC::Equal), When::True),
            BrNeI { a, b, .. } => (self.int_test(a, b, IntCC::NotEqual), When::True),
            BrLtI { a, b, .. } => (self.int_test(a, b, IntCC::SignedLessThan), When::True),
            BrLeI { a, b, .. } => (self.int_test(a, b, IntCC::SignedLessThanOrEqual), When::True),
            BrLtF { a, b, .. } => (float(self, a, b, FloatCC::LessThan), When::True),
            BrLeF { a, b, .. } => (float(self, a, b, FloatCC::LessThanOrEqual), When::True),
            BrNotLtF { a, b, .. } => (float(self, a, b, FloatCC::LessThan), When::False),
            BrNotLeF { a, b, .. } => (float(self, a, b, FloatCC::LessThanOrEqual), When::False),
            _ => {
                let (a, imm, cc) = imm_compare(&ins)?;
                (self.imm_test(a, imm, cc), When::True)
            }
        })
    }
}

/// The register, constant and condition of a compare-and-branch with an
/// immediate (`BrEqIImm` ... `BrGeIImm`).
fn imm_compare(ins: &Instr) -> Option<(Reg, i16, IntCC)> {
    use Instr::*;
    use IntCC::*;
    Some(match *ins {
        BrEqIImm { a, imm, .. } => (a, imm, Equal),
        BrNeIImm { a, imm, .. } => (a, imm, NotEqual),
        BrLtIImm { a, imm, .. } => (a, imm, SignedLessThan),
        BrLeIImm { a, imm, .. } => (a, imm, SignedLessThanOrEqual),
        BrGtIImm { a, imm, .. } => (a, imm, SignedGreaterThan),
        BrGeIImm { a, imm, .. } => (a, imm, SignedGreaterThanOrEqual),
        _ => return None,
    })
}
