//! Loop-carried structs kept as their fields (`jit::sinking`): the field
//! variables, the pre-header that loads them, and the struct made from them
//! where the VM or the code after the loop could see the register.

use super::*;
use crate::jit::sinking::{Made, SunkStruct};

impl<'a, 'f> Tr<'a, 'f> {
    /// The struct register `r` is kept as at instruction `pc` of this
    /// function, if a loop around it keeps it: (loop, index in its
    /// `CachedLoop::structs`).
    pub(super) fn sunk(&self, pc: u32, r: Reg) -> Option<(usize, usize)> {
        if self.inl.is_some() {
            return None;
        }
        self.cached_loops_around(pc).find_map(|li| {
            let si = self.an.cached[li].structs.iter().position(|s| s.reg == r)?;
            Some((li, si))
        })
    }

    fn sunk_struct(&self, (li, si): (usize, usize)) -> SunkStruct {
        self.an.cached[li].structs[si].clone()
    }

    /// A read of the kept register: a placeholder value (null) whose fields
    /// are the variables'
    /// (`ValueNumbering::struct_items`), which every `GetField` of it, here
    /// or in an inlined callee, then reads. (A fresh one each time: the facts
    /// are forgotten at block boundaries.)
    pub(super) fn sunk_read(&mut self, s: (usize, usize)) -> CV {
        let vars = self.loops.struct_vars[s.0][s.1].clone();
        let items: Vec<CV> = vars.iter().map(|&(v, _)| self.b.use_var(v)).collect();
        let placeholder = self.b.ins().iconst(I64, 0);
        self.vn.struct_items.insert(placeholder, items);
        placeholder
    }

    /// A new struct for the kept register, with the field values `items`:
    /// they go to the variables, and its flag "made since entry" is set (the
    /// struct is to be made where it is needed, [`Tr::materialize_structs`]).
    pub(super) fn sunk_write(&mut self, s: (usize, usize), items: &[CV]) -> Result<(), String> {
        let vars = self.loops.struct_vars[s.0][s.1].clone();
        if items.len() != vars.len() {
            return Err("a kept struct made with another number of fields".into());
        }
        for (&(var, ty), &v) in vars.iter().zip(items) {
            let v = self.as_type(v, ty);
            self.b.def_var(var, v);
        }
        let made = self.b.ins().iconst(I8, 1);
        self.b.def_var(self.loops.struct_made[s.0][s.1], made);
        Ok(())
    }

    /// In loop `li`'s pre-header (header `h`): the fields of the struct each
    /// kept register holds into their variables, its flag cleared. A null register, or an
    /// object not of the struct's layout (which a typed program cannot
    /// have), exits to the VM at the header before anything is kept
    /// (`Exit::Entry`).
    pub(super) fn load_sunk_structs(&mut self, h: u32, li: usize) {
        let offs = self.tc.offs;
        for si in 0..self.an.cached[li].structs.len() {
            let s = self.sunk_struct((li, si));
            let vars = self.loops.struct_vars[li][si].clone();
            let not_yet = self.b.ins().iconst(I8, 0);
            self.b.def_var(self.loops.struct_made[li][si], not_yet);
            if !self.live_in(h).contains(s.reg) {
                // Written before it is read in every round.
                for &(var, ty) in &vars {
                    let zero = self.zero_of(ty);
                    self.b.def_var(var, zero);
                }
                continue;
            }
            let p = self.load_ref(s.reg);
            let null = self.b.ins().icmp_imm_s(IntCC::Equal, p, 0);
            let exit = self.exit_block(Exit::Entry, h);
            self.branch_to_exit(null, exit);
            let fl = self.mem_flags(Mem::Hdr);
            let len = self.b.ins().load(I32, fl, p, offs.struct_len);
            let bad = match s.made {
                Made::New { layout, .. } => {
                    let fl = self.mem_flags(Mem::Hdr);
                    let found = self.b.ins().load(I32, fl, p, offs.struct_layout);
                    let other = self.b.ins().icmp_imm_s(IntCC::NotEqual, found, layout as i64);
                    let short = self.b.ins().icmp_imm_s(IntCC::NotEqual, len, vars.len() as i64);
                    self.b.ins().bor(other, short)
                }
                // (A class instance of a subclass has more fields.)
                Made::ReadOnly => self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::UnsignedLessThan, len, vars.len() as i64),
            };
            self.branch_to_exit(bad, exit);
            for (i, &(var, ty)) in vars.iter().enumerate() {
                let fl = self.mem_flags(Mem::Heap);
                let v = self.b.ins().load(ty, fl, p, offs.struct_fields + i as i32 * 8);
                self.b.def_var(var, v);
            }
        }
    }

    fn zero_of(&mut self, ty: Type) -> CV {
        if ty == F64 {
            self.b.ins().f64const(0.0)
        } else {
            self.b.ins().iconst(ty, 0)
        }
    }

    /// Go to `exit` when `cond` is true, else on in a fresh block.
    fn branch_to_exit(&mut self, cond: CV, exit: Block) {
        let cont = self.b.create_block();
        self.b.ins().brif(cond, exit, &[], cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// Where the code leaves the loops `loops` for the VM at `pc`, or for the
    /// code at `to` (then also into the registers' variables): the struct of
    /// each register they keep that is live there, into its frame slot. The
    /// slot holds the struct the register had on entry: it stays unless the
    /// loop made a new one since (its flag), as other variables may share
    /// it; else the slot gets a new struct made of the variables (inline, or
    /// by `rt_new`: a safepoint, where every other reference is in its slot,
    /// and the fields are scalars).
    ///
    /// On the way out of the loop, the other live numbers go through their
    /// frame slots around those calls, which then end their live ranges:
    /// else regalloc2 gave a number live after the loop its stack slot in
    /// the loop too (`e` of `benches/micro/vec2`, stored and reloaded on
    /// every back-edge).
    pub(super) fn materialize_structs(&mut self, loops: &[usize], pc: u32, to: Option<u32>) {
        let live = self.live_in(to.unwrap_or(pc));
        let makes = loops.iter().any(|&li| {
            (self.an.cached[li].structs.iter())
                .any(|s| matches!(s.made, Made::New { .. }) && live.contains(s.reg))
        });
        if !makes {
            return;
        }
        if let Some(to) = to {
            self.write_back(to, live);
        }
        for &li in loops {
            for si in 0..self.an.cached[li].structs.len() {
                let s = self.sunk_struct((li, si));
                let Made::New { layout, site } = s.made else {
                    // Its frame slot holds it all the while.
                    continue;
                };
                if !live.contains(s.reg) {
                    continue;
                }
                let vars = self.loops.struct_vars[li][si].clone();
                let made = self.loops.struct_made[li][si];
                let obj = self.materialize(s.reg, (layout, site), (&vars, made), pc, to.is_none());
                if let Some(to) = to {
                    let w = self.an.webs.at(to, s.reg) as usize;
                    let v = self.as_type(obj, self.vty[w]);
                    self.b.def_var(self.vars[w], v);
                }
            }
        }
        if let Some(to) = to {
            self.reload(to, live);
        }
    }

    /// The scalar registers of `live` from their frame slots into their
    /// variables at `pc` (after [`Tr::write_back`]).
    fn reload(&mut self, pc: u32, live: RegSet) {
        for r in live.iter() {
            if (r as usize) < self.f.nregs as usize && !self.is_ref(r) {
                let w = self.an.webs.at(pc, r) as usize;
                let fl = self.mem_flags(Mem::Frame);
                let v = self.b.ins().load(self.vty[w], fl, self.frame.base, r as i32 * 8);
                self.b.def_var(self.vars[w], v);
            }
        }
    }

    /// The struct kept register `reg` stands for (of `layout`, as call site
    /// `site` makes it), in its frame slot ([`Tr::materialize_structs`]);
    /// returns it. Making it is `cold` at an exit; on the way out of the
    /// loop it is the usual case, and allocated inline.
    fn materialize(
        &mut self,
        reg: Reg,
        (layout, site): (u32, usize),
        (vars, made): (&[(Variable, Type)], Variable),
        pc: u32,
        cold: bool,
    ) -> CV {
        let p = self.load_ref(reg);
        let (make, join) = (self.b.create_block(), self.b.create_block());
        let obj = self.b.append_block_param(join, I64);
        if cold {
            self.b.set_cold_block(make);
        }
        let made = self.b.use_var(made);
        self.b.ins().brif(made, make, &[], join, &[p.into()]);
        self.b.seal_block(make);
        self.b.switch_to_block(make);
        let items: Vec<CV> = vars.iter().map(|&(v, _)| self.b.use_var(v)).collect();
        let q = self.new_struct_value(layout, &items, |t| t.rt_new_struct(site, &items, pc));
        let fl = self.mem_flags(Mem::Frame);
        self.b.ins().store(fl, q, self.frame.base, reg as i32 * 8);
        self.b.ins().jump(join, &[q.into()]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        obj
    }

    /// `rt_new` of the struct of call site `site` with the field values
    /// `items`; returns it. (It fails only with an internal error, status
    /// 2: the function returns it.)
    fn rt_new_struct(&mut self, site: usize, items: &[CV], pc: u32) -> CV {
        let args = self.arg_block_of(items);
        let site = self.iconst(site as i64);
        let info = self.iconst(items.len() as i64 | (NewKind::Struct as i64) << 32);
        let pcv = self.iconst(pc as i64);
        let vm = self.vm_addr();
        let st = self.call_helper(Sig::Builtin, self.tc.addrs.h_new, &[vm, site, args, info, pcv]);
        let (failed, made) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(failed);
        self.b.ins().brif(st, failed, &[], made, &[]);
        self.b.seal_block(failed);
        self.b.seal_block(made);
        self.b.switch_to_block(failed);
        self.b.ins().return_(&[st]);
        self.b.switch_to_block(made);
        let fl = self.mem_flags(Mem::Frame);
        self.b.ins().load(I64, fl, args, 0)
    }
}
