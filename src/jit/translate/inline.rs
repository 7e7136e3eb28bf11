//! Inlined calls: the callee's body translated in the caller's Cranelift
//! function instead of a call (which calls: `jit::inlining`).
//!
//! The body's registers are SSA values only ([`Inlined`]): they are never in a
//! frame, and nothing in the body can collect, so none needs to be a root. (A
//! tuple the body returns is allocated last, from its items, which the
//! allocation's slow path passes in its argument block: the other registers
//! are dead by then. Or it is not allocated at all, when the caller only
//! takes it apart: `Analysis::virtual_tuple`.) The
//! caller's registers keep the values they had before the call until the result
//! is written, so every guard of the body (a null receiver, a zero divisor, the
//! deopt stress) exits to the VM *at the call*: the interpreter then runs the
//! call from its start, and since the body changed nothing, the program cannot
//! tell. The call's limits (frame depth, register stack) are still checked, so
//! `stack overflow` is raised exactly where the interpreter raises it. An
//! initializer's body does change the heap; it is emitted with every check
//! before its first store ([`Tr::inline_initializer`]), so the same holds.

use super::instr::When;
use super::*;
use crate::jit::analysis::may_resize_arrays;
use crate::jit::inlining::{
    branch_of, early_return, initializer, inlined_whole, updater_checks, EarlyReturn, SlotCheck, Slots,
};

/// The callee being inlined: its function and the values of its registers.
pub(super) struct Inlined<'a> {
    pub f: &'a Function,
    regs: Vec<Option<CV>>,
    /// The tuple the body returns is never allocated (`Analysis::virtual_tuple`).
    pub virtual_tuple: bool,
    /// The struct the body returns is never allocated (`Analysis::virtual_struct`).
    pub virtual_struct: bool,
    /// The array the body returns is never allocated
    /// (`Analysis::array_read_apart`).
    pub virtual_array: bool,
    /// The closure's captured values the body reads, loaded by the loop's
    /// pre-header (`Tr::load_captures`): by index, the variable holding it.
    pub captures: Vec<(u8, Variable)>,
    /// The objects of an updater's body that the loop's pre-header checked
    /// (`Tr::precheck_updater`): its call checks them no more.
    pub prechecked: Vec<Prechecked>,
    /// The objects of an updater checked before its body: their slots are
    /// read and written with no check (`Tr::inline_updater`).
    checked: Vec<Checked>,
}

/// An object of an updater's body, checked before the body (not null, with
/// enough slots): the register the body reaches it through, and where its
/// slots are.
#[derive(Clone)]
struct Checked {
    reg: Reg,
    slots: CheckedSlots,
    /// Its elements kept in variables ([`Prechecked::cells`]).
    cells: Vec<(u32, usize)>,
}

/// An object of an updater's body that a loop's pre-header checked (not
/// null, enough slots) for every call in the loop: the closure the body is
/// called through, or an array it captured. Neither can change while the
/// loop runs: the function value's register is one the loop never writes, a
/// closure's captures are fixed when it is made, and nothing in the loop
/// resizes an array (`Tr::guarding_loop`), so the slots stay where they are.
#[derive(Clone)]
pub(super) struct Prechecked {
    /// The callee's register the body reaches it through.
    pub(super) reg: Reg,
    pub(super) slots: Slots,
    /// Where its slots are.
    pub(super) ptr: Variable,
    /// Of an array: the elements the loop keeps in variables
    /// (`translate/cells.rs`), by index, each with its cell.
    pub(super) cells: Vec<(u32, usize)>,
}

/// The cell of `cells` (by element index) at the constant index `at`.
fn cell_at(cells: &[(u32, usize)], at: Option<i64>) -> Option<usize> {
    let at = u32::try_from(at?).ok()?;
    cells.iter().find(|&&(i, _)| i == at).map(|&(_, id)| id)
}

/// The object whose slot `ins` reads or writes, if it is a slot access an
/// updater's body may have.
fn slot_object(ins: &Instr) -> Option<Reg> {
    match *ins {
        Instr::GetField { obj, .. } | Instr::SetField { obj, .. } => Some(obj),
        Instr::GetCapture { clo, .. } => Some(clo),
        Instr::ArrGet { arr, .. } | Instr::ArrSet { arr, .. } => Some(arr),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum CheckedSlots {
    /// Inline in the object.
    Fields,
    /// At this data pointer, loaded by the check (nothing in the body can
    /// move them: it calls nothing).
    Captures(CV),
    Elements(CV),
}

impl Inlined<'_> {
    pub fn set(&mut self, r: Reg, v: CV) {
        if let Some(slot) = self.regs.get_mut(r as usize) {
            *slot = Some(v);
        }
    }

    /// The values of the registers now: one path of a branch in the body
    /// must not see what the other wrote (they are not SSA variables).
    pub fn snapshot(&self) -> Vec<Option<CV>> {
        self.regs.clone()
    }

    pub fn restore(&mut self, regs: Vec<Option<CV>>) {
        self.regs = regs;
    }
}

impl<'a, 'f> Tr<'a, 'f> {
    /// The value of register `r` of the callee being inlined, if one is.
    pub(super) fn inlined_reg(&mut self, r: Reg) -> Option<CV> {
        let v = self.inl.as_ref()?.regs.get(r as usize).copied().flatten();
        // `inlinable` checked that every register is written before it is read.
        Some(v.unwrap_or_else(|| self.b.ins().iconst(I64, 0)))
    }

    /// The variable holding captured value `idx` of the closure whose body
    /// is being inlined, if the loop's pre-header loaded it.
    pub(super) fn preloaded_capture(&self, idx: u8) -> Option<Variable> {
        let inl = self.inl.as_ref()?;
        inl.captures.iter().find(|&&(i, _)| i == idx).map(|&(_, v)| v)
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
        let planned = match self.code_fn().code.get(pc as usize) {
            Some(Instr::Call { .. }) => true,
            Some(Instr::CallIndirect { .. }) => self.planned_closure_callees(pc).is_some(),
            _ => false,
        };
        let ok = if planned {
            self.an.inlined.get(pc as usize).copied().unwrap_or(false)
        } else {
            inlined_whole(p, callee, args.len(), self.inline_budget)
                && (!callee.takes_closure || closure.is_some())
        };
        // (A later version makes the calls a handler covers: see `inlining::plan`.)
        let conservative = !self.tc.speculate && crate::jit::inlining::covered(self.f, pc as usize);
        if !ok || self.inl.is_some() || conservative {
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
        let mut regs = self.argument_values(callee, args);
        if callee.takes_closure {
            if let Some(slot) = regs.get_mut(args.len()) {
                *slot = closure;
            }
        }
        // (Only a planned `Call`'s result is virtual.)
        let virtual_tuple = self.virtual_values_on()
            && matches!(self.f.code.get(pc as usize), Some(Instr::Call { .. }))
            && self.an.virtual_tuple.get(pc as usize).copied().unwrap_or(false);
        let own_call = self.inl.is_none() && matches!(self.f.code.get(pc as usize), Some(Instr::Call { .. }));
        let virtual_struct = own_call
            && (self.an.virtual_struct.get(pc as usize).copied().unwrap_or(false)
                || self.sunk(pc, dst).is_some()
                || (self.virtual_values_on()
                    && self
                        .an
                        .struct_read_apart
                        .get(pc as usize)
                        .copied()
                        .unwrap_or(false)));
        let virtual_array = own_call
            && self.virtual_values_on()
            && self
                .an
                .array_read_apart
                .get(pc as usize)
                .copied()
                .unwrap_or(false);
        let (captures, prechecked) = match self.inl {
            None => (
                self.loops.captures.get(&pc).cloned().unwrap_or_default(),
                self.loops.prechecked.get(&pc).cloned().unwrap_or_default(),
            ),
            Some(_) => (Vec::new(), Vec::new()),
        };
        let callee = Inlined {
            f: callee,
            regs,
            virtual_tuple,
            virtual_struct,
            virtual_array,
            captures,
            prechecked,
            checked: Vec::new(),
        };
        let p = self.tc.program;
        if callee.f.ret_kind.is_none() && initializer(p, callee.f, args.len()) {
            return self.inline_initializer(pc, callee);
        }
        // (Disjoint from `inlinable`: an updater stores.)
        if let Some(checks) = updater_checks(p, callee.f, args.len()) {
            return self.inline_updater(pc, dst, callee, checks);
        }
        let at_limit = self.at_limit_for_inlined(pc);
        self.inline_path(pc, dst, callee, 0, at_limit)
    }

    /// An [`initializer`](crate::jit::inlining::initializer) inlined: the call's
    /// limits, then the body in order with every check its stores need (deopt
    /// stress, null receiver, field in bounds) and those of its computations
    /// (a zero divisor), each exiting at the call when nothing has changed yet,
    /// then the stores, which cannot fail. A `void` call leaves its destination
    /// alone.
    fn inline_initializer(&mut self, pc: u32, callee: Inlined<'a>) -> Result<(), String> {
        let at_limit = self.at_limit_for_inlined(pc);
        let f = self.enter_inlined(pc, at_limit, callee);
        let fields = (self.tc.offs.struct_fields, self.tc.offs.struct_len);
        let mut stores = Vec::new();
        let mut promoted = Vec::new();
        let mut barriers = Vec::new();
        for &ins in &f.code {
            match ins {
                Instr::SetField { obj, idx, src } => {
                    self.stress(pc, pc);
                    let addr = self.field_slot(obj, idx, pc, fields);
                    // The value now: a later instruction may reuse `src`.
                    stores.push((addr, Mem::Heap, self.get_raw(src)));
                    if self.may_store_ref(src) {
                        barriers.push(self.get_raw(obj));
                    }
                }
                Instr::SetGlobal { src, idx } => {
                    let v = self.get_raw(src);
                    match self.promoted_global(idx) {
                        // (Nothing after it can exit: it takes effect with the stores.)
                        Some((var, ty)) => promoted.push((var, self.as_type(v, ty))),
                        None => {
                            let addr = self.global_addr(idx);
                            stores.push((addr, Mem::Global, v));
                        }
                    }
                }
                Instr::RetVoid => break,
                // Exits at the call, if any, come before every store.
                _ => self.inlined_op(pc, ins)?,
            }
        }
        for (addr, region, v) in stores {
            let fl = self.mem_flags(region);
            self.b.ins().store(fl, v, addr, 0);
        }
        for (var, v) in promoted {
            self.b.def_var(var, v);
        }
        barriers.dedup();
        for obj in barriers {
            self.barrier_on(obj);
        }
        self.inl = None;
        Ok(())
    }

    /// An [`updater`](crate::jit::inlining::updater) inlined: the call's
    /// limits, the deopt stress, and the checks of every object whose slots
    /// the body reads or writes (`inlining::slot_checks`: not null, enough fields,
    /// captures or elements), each exiting at the call when nothing has
    /// changed yet; then the body, its paths as for a branching body
    /// ([`Self::inline_paths`]) joining after it with the result, if it
    /// returns one, for `dst`. Its slot accesses need no check then and its
    /// other instructions have none (`inlining::guard_free`), so once it has
    /// stored nothing exits. A `void` call leaves its destination alone.
    fn inline_updater(
        &mut self,
        pc: u32,
        dst: Reg,
        callee: Inlined<'a>,
        checks: Vec<SlotCheck>,
    ) -> Result<(), String> {
        let at_limit = self.at_limit_for_inlined(pc);
        let f = self.enter_inlined(pc, at_limit, callee);
        self.stress(pc, pc);
        let mut checked = Vec::with_capacity(checks.len());
        for c in checks {
            let known = self.check_slots(pc, c, &checked);
            checked.push(known);
        }
        if let Some(inl) = self.inl.as_mut() {
            inl.checked = checked;
        }
        let join = self.b.create_block();
        let mut result_ty = None;
        self.inline_paths(pc, f, 0, join, &mut result_ty)?;
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        self.vn.forget_block();
        self.inl = None;
        if result_ty.is_some() {
            let result = self.b.block_params(join)[0];
            self.set(dst, result);
        }
        Ok(())
    }

    /// The check of `c` before an updater's body inlined at the call at `pc`
    /// (`before`: the checks made so far, the closure's among them when `c`
    /// is an array it captured), exiting at the call; where its slots are,
    /// and the cells the loop keeps of it if the loop's pre-header checked
    /// it ([`Prechecked`]).
    fn check_slots(&mut self, pc: u32, c: SlotCheck, before: &[Checked]) -> Checked {
        let offs = *self.tc.offs;
        let prechecked = self.inl.as_ref().and_then(|inl| {
            inl.prechecked
                .iter()
                .find(|p| p.reg == c.reg && p.slots == c.slots)
                .map(|p| (p.ptr, p.cells.clone()))
        });
        if let Some((var, cells)) = prechecked {
            let ptr = self.b.use_var(var);
            let slots = match c.slots {
                Slots::Captures => CheckedSlots::Captures(ptr),
                Slots::Elements => CheckedSlots::Elements(ptr),
                Slots::Fields => CheckedSlots::Fields,
            };
            return Checked {
                reg: c.reg,
                slots,
                cells,
            };
        }
        let last = c.count.saturating_sub(1);
        let slots = match c.slots {
            Slots::Fields => {
                // (The address of the last field is not needed: only the checks.)
                self.field_slot(c.reg, last as u8, pc, (offs.struct_fields, offs.struct_len));
                CheckedSlots::Fields
            }
            Slots::Captures => {
                let o = self.non_null(c.reg, pc);
                let ptr = self.fixed_slots(o, offs.clo_captures, last, |t, oob| t.raise_guard(oob, pc));
                CheckedSlots::Captures(ptr)
            }
            Slots::Elements => {
                let a = match c.capture {
                    None => self.get_i(c.reg),
                    Some((clo, idx)) => {
                        let captures = before.iter().find_map(|c| match c.slots {
                            CheckedSlots::Captures(ptr) if c.reg == clo => Some(ptr),
                            _ => None,
                        });
                        self.captured(idx, captures)
                    }
                };
                let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, a, 0);
                self.raise_guard(is_null, pc);
                let ptr = self.fixed_slots(a, offs.arr_items, last, |t, short| t.raise_guard(short, pc));
                CheckedSlots::Elements(ptr)
            }
        };
        Checked {
            reg: c.reg,
            slots,
            cells: Vec::new(),
        }
    }

    /// Captured value `idx` of the closure an updater's body is called
    /// through: the loop's pre-header loaded it, or it is read at the data
    /// pointer of the captures the closure's check loaded (`captures`).
    fn captured(&mut self, idx: u8, captures: Option<CV>) -> CV {
        if let Some(var) = self.preloaded_capture(idx) {
            return self.b.use_var(var);
        }
        match captures {
            Some(ptr) => {
                let fl = self.mem_flags(Mem::Heap);
                self.b.ins().load(I64, fl, ptr, idx as i32 * 8)
            }
            // (`slot_checks` checks the closure of every capture read.)
            None => self.b.ins().iconst(I64, 0),
        }
    }

    /// In the pre-header of a loop whose `CallIndirect` at `pc` calls
    /// function `fid` (checked there, with the captures it reads loaded:
    /// `captures` is their data pointer): if `fid` is an updater, check the
    /// closure and the arrays it captured once for the whole loop, exiting
    /// to the VM at the header `h` when one is null or too short (the VM
    /// then runs the loop with the checks at the call). The body inlined at
    /// the call then checks only its parameters ([`Prechecked`]): a counter
    /// called in a loop (`state[0] = state[0] + step`) made eight loads and
    /// eight branches per call for checks whose answer cannot change.
    pub(super) fn precheck_updater(&mut self, h: u32, pc: u32, fid: u32, captures: Option<CV>) {
        let Some(&Instr::CallIndirect { site, .. }) = self.f.code.get(pc as usize) else {
            return;
        };
        let p = self.tc.program;
        let (Some(s), Some(f)) = (self.f.sites.get(site as usize), p.functions.get(fid as usize)) else {
            return;
        };
        let (Some(checks), Some(captures)) = (updater_checks(p, f, s.args.len()), captures) else {
            return;
        };
        let loaded = self.loops.captures.get(&pc).cloned().unwrap_or_default();
        let mut done = Vec::new();
        for c in checks {
            let ptr = match (c.slots, c.capture) {
                // (The pre-header checked the function value and the
                // captures its body reads: `Tr::call_guards`.)
                (Slots::Captures, _) => captures,
                (Slots::Elements, Some((_, idx))) => {
                    let Some(&(_, var)) = loaded.iter().find(|&&(i, _)| i == idx) else {
                        continue;
                    };
                    let a = self.b.use_var(var);
                    let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, a, 0);
                    self.guard(is_null, h);
                    let last = c.count.saturating_sub(1);
                    self.fixed_slots(a, self.tc.offs.arr_items, last, |t, short| t.guard(short, h))
                }
                _ => continue,
            };
            let var = self.b.declare_var(I64);
            self.b.def_var(var, ptr);
            done.push(Prechecked {
                reg: c.reg,
                slots: c.slots,
                ptr: var,
                cells: Vec::new(),
            });
        }
        self.loops.prechecked.insert(pc, done);
    }

    /// A slot access of an object an updater's body checked before it
    /// ([`Self::inline_updater`]): the access, with no check. Returns
    /// whether `ins` was one.
    fn checked_slot_access(&mut self, ins: Instr) -> bool {
        let Some(inl) = self.inl.as_ref() else {
            return false;
        };
        let Some(c) = slot_object(&ins).and_then(|r| inl.checked.iter().find(|c| c.reg == r)) else {
            return false;
        };
        let (slots, cells) = (c.slots, c.cells.clone());
        match (ins, slots) {
            (Instr::GetField { dst, obj, idx }, CheckedSlots::Fields) => {
                let addr = self.inline_field_addr(obj, idx);
                self.access(addr, Access::Load(dst));
            }
            (Instr::SetField { obj, idx, src }, CheckedSlots::Fields) => {
                let addr = self.inline_field_addr(obj, idx);
                self.access(addr, Access::Store(src));
                let o = self.get_raw(obj);
                self.write_barrier(o, src);
            }
            (Instr::GetCapture { dst, idx, .. }, CheckedSlots::Captures(ptr)) => {
                let v = self.captured(idx, Some(ptr));
                self.set(dst, v);
            }
            (Instr::ArrGet { dst, idx, elem, .. }, CheckedSlots::Elements(ptr)) => {
                let i = self.get_i(idx);
                match cell_at(&cells, self.const_int(i)).and_then(|id| self.cell_value(id)) {
                    Some(v) => {
                        let ty = self.def_ty(dst);
                        let v = self.as_type(v, ty);
                        self.set(dst, v);
                    }
                    None => self.element(ptr, i, elem == ValKind::Bool as u8, Access::Load(dst)),
                }
            }
            (Instr::ArrSet { arr, idx, src, elem }, CheckedSlots::Elements(ptr)) => {
                let i = self.get_i(idx);
                self.element(ptr, i, elem == ValKind::Bool as u8, Access::Store(src));
                if let Some(id) = cell_at(&cells, self.const_int(i)) {
                    let v = self.get_raw(src);
                    self.cell_stored(id, v);
                }
                if elem == ValKind::Ref as u8 {
                    let a = self.get_raw(arr);
                    self.write_barrier(a, src);
                }
            }
            _ => return false,
        }
        true
    }

    /// The address of field `idx` of the object in `obj`, which was checked.
    fn inline_field_addr(&mut self, obj: Reg, idx: u8) -> CV {
        let o = self.get_raw(obj);
        let off = self.tc.offs.struct_fields as i64 + idx as i64 * 8;
        self.b.ins().iadd_imm_s(o, off)
    }

    /// Whether the analysis's virtual values apply at the current
    /// instruction (tuples never allocated, `Analysis::virtual_tuple` and
    /// `virtual_read`; substrings kept as slices, `Analysis::virtual_slice`):
    /// one of the function itself, and not in deopt stress, whose exits could
    /// come while a register holds the placeholder of such a value.
    pub(super) fn virtual_values_on(&self) -> bool {
        self.inl.is_none() && self.tc.stress == 0
    }

    /// Translate `ins` of the body being inlined at the call at `pc`. Every
    /// guard of the body exits at the call. An instruction that always exits
    /// (none that `inlinable` accepts) would close the block: what follows goes
    /// to a fresh one that nothing reaches.
    fn inlined_op(&mut self, pc: u32, ins: Instr) -> Result<(), String> {
        if let Instr::Call { dst, site } = ins {
            return self.inline_nested(pc, dst, site);
        }
        if self.checked_slot_access(ins) {
            return Ok(());
        }
        if !self.op(pc, ins)? {
            let dead = self.b.create_block();
            self.b.seal_block(dead);
            self.b.switch_to_block(dead);
        }
        Ok(())
    }

    /// The registers of `callee` called with `args`: the argument values, the
    /// others not yet written.
    fn argument_values(&mut self, callee: &Function, args: &[Reg]) -> Vec<Option<CV>> {
        let mut regs = vec![None; callee.nregs as usize];
        for (i, &r) in args.iter().enumerate() {
            if let Some(slot) = regs.get_mut(i) {
                *slot = Some(self.get_raw(r));
            }
        }
        regs
    }

    /// Whether this frame is at the frame limit, for a whole callee inlined:
    /// the flag computed at entry if the function has one ([`Frame::at_limit`]),
    /// otherwise tested here; `None` (known not to be) for a call at `pc` in a
    /// loop whose pre-header checked it ([`Tr::guarding_loop`]).
    fn at_limit_for_inlined(&mut self, pc: u32) -> Option<CV> {
        if self.guarding_loop(pc).is_some() {
            return None;
        }
        Some(match self.frame.at_limit {
            Some(var) => self.b.use_var(var),
            None => {
                let d = self.depth();
                self.at_frame_limit(d)
            }
        })
    }

    /// Check the call's limits at `pc` (so that `stack overflow` is raised where
    /// the interpreter raises it; `at_limit`: whether this frame is at the frame
    /// limit) and make `callee` the body being translated; returns its function.
    fn enter_inlined(&mut self, pc: u32, at_limit: Option<CV>, callee: Inlined<'a>) -> &'a Function {
        let callee_base = self.b.ins().iadd_imm_s(self.frame.base, self.f.nregs as i64 * 8);
        let f = callee.f;
        self.check_call_limits(
            Exit::Ovf,
            pc,
            at_limit,
            callee_base,
            CalleeRegs::Static(f.nregs as u32),
        );
        self.inl = Some(callee);
        f
    }

    /// The inlined callee's instructions from `start` to its first `Ret`,
    /// translated in place after checking the call's limits (so that `stack
    /// overflow` is raised where the interpreter raises it; `at_limit` as for
    /// [`Self::enter_inlined`]); the result goes to the caller's `dst`.
    fn inline_path(
        &mut self,
        pc: u32,
        dst: Reg,
        callee: Inlined<'a>,
        start: u32,
        at_limit: Option<CV>,
    ) -> Result<(), String> {
        let f = self.enter_inlined(pc, at_limit, callee);
        let result = self.inlined_result(pc, f, start)?;
        self.inl = None;
        match self.sunk(pc, dst) {
            // A new struct for a register its loop keeps as fields.
            Some(s) => {
                let items = self.vn.struct_items.get(&result).cloned();
                let items = items.ok_or("a kept struct made by a callee without its fields")?;
                self.sunk_write(s, &items)
            }
            None => {
                self.set(dst, result);
                Ok(())
            }
        }
    }

    /// The instructions of `f`, the body being inlined at the call at `pc`,
    /// from `start` to its `Ret` (or, in a [`branching`] body, its `Ret`s):
    /// the value it returns.
    ///
    /// [`branching`]: crate::jit::inlining::branching
    fn inlined_result(&mut self, pc: u32, f: &'a Function, start: u32) -> Result<CV, String> {
        let body = f.code.get(start as usize..).unwrap_or_default();
        let branches = body
            .iter()
            .take_while(|ins| !matches!(ins, Instr::Ret { .. }))
            .any(|ins| matches!(ins, Instr::Jmp { .. }) || branch_of(ins).is_some());
        if branches {
            return self.inline_branching(pc, f, start);
        }
        // Arrays the body indexes are checked and read once (`inline_arrays`:
        // the body is one straight path, each guard dominating what follows).
        let outer = self.vn.inline_arrays.replace(Default::default());
        let mut result = Err("an inlined path without `Ret`".to_string());
        for &ins in body {
            if let Instr::Ret { src } = ins {
                result = Ok(self.get_raw(src));
                break;
            }
            if matches!(ins, Instr::Call { .. }) || may_resize_arrays(&ins, f) {
                if let Some(m) = self.vn.inline_arrays.as_mut() {
                    m.clear();
                }
            }
            if let Err(e) = self.inlined_op(pc, ins) {
                result = Err(e);
                break;
            }
        }
        // (An enclosing body's arrays may have been resized by this one.)
        self.vn.inline_arrays = outer.map(|_| Default::default());
        result
    }

    /// A `Call` in the body being inlined at the call at `pc`, inlined in
    /// turn (`inlining::nested_call`: its callee calls nothing and allocates
    /// nothing): its body with its own registers, then the result to the
    /// outer body's `dst`. The inner frame would be two deep: where that is
    /// past the frame limit or the register stack, the code exits to the VM
    /// at the outer call, which the interpreter runs and raises `stack
    /// overflow` in, as it would have.
    fn inline_nested(&mut self, pc: u32, dst: Reg, site: u32) -> Result<(), String> {
        let outer = self.inl.as_ref().ok_or("a nested call outside an inlined body")?;
        let outer_nregs = outer.f.nregs as i64;
        let s = outer.f.sites.get(site as usize).ok_or("bad call site")?;
        let args = s.args.clone();
        let callee = self
            .tc
            .program
            .functions
            .get(s.target as usize)
            .ok_or("a call of an unknown function")?;
        // (The outer body's frame would be `d + 1`, this one `d + 2`.)
        let d = self.depth();
        let d1 = self.b.ins().iadd_imm_s(d, 1);
        let at_limit = self.at_frame_limit(d1);
        let base = self
            .b
            .ins()
            .iadd_imm_s(self.frame.base, (self.f.nregs as i64 + outer_nregs) * 8);
        let nregs = CalleeRegs::Static(callee.nregs as u32);
        self.check_call_limits(Exit::Deopt, pc, Some(at_limit), base, nregs);
        let regs = self.argument_values(callee, &args);
        let outer = self.inl.replace(Inlined {
            f: callee,
            regs,
            virtual_tuple: false,
            virtual_struct: false,
            virtual_array: false,
            captures: Vec::new(),
            prechecked: Vec::new(),
            checked: Vec::new(),
        });
        let result = self.inlined_result(pc, callee, 0);
        self.inl = outer;
        self.set(dst, result?);
        Ok(())
    }

    /// The body of `f` from `start`, a [`branching`] one, inlined at the call
    /// at `pc`: each branch of the body becomes a branch to two fresh blocks,
    /// each path is translated on its own with the registers its way there
    /// wrote (a block that two paths reach is emitted for each), and every
    /// `Ret` jumps to a join block with its value, which is the result. No
    /// path has a loop, so the tree is finite ([`MAX_BRANCHING_EMITTED`]
    /// instructions at most). What a path learnt about values
    /// (`ValueNumbering`) is forgotten where another path, or the join,
    /// begins.
    ///
    /// [`branching`]: crate::jit::inlining::branching
    /// [`MAX_BRANCHING_EMITTED`]: crate::jit::inlining::MAX_BRANCHING_EMITTED
    fn inline_branching(&mut self, pc: u32, f: &'a Function, start: u32) -> Result<CV, String> {
        let join = self.b.create_block();
        let mut result_ty = None;
        self.inline_paths(pc, f, start, join, &mut result_ty)?;
        if result_ty.is_none() {
            return Err("an inlined body without `Ret`".into());
        }
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        self.vn.forget_block();
        Ok(self.b.block_params(join)[0])
    }

    /// The paths of the inlined `f` from `at` (see [`Self::inline_branching`]);
    /// `result_ty`: the machine type of the join's parameter, set by the
    /// first `Ret` translated.
    fn inline_paths(
        &mut self,
        pc: u32,
        f: &'a Function,
        mut at: u32,
        join: Block,
        result_ty: &mut Option<Type>,
    ) -> Result<(), String> {
        loop {
            let ins = *f
                .code
                .get(at as usize)
                .ok_or("an inlined path runs off its body")?;
            match ins {
                // (An updater's: its join has no parameter.)
                Instr::RetVoid => {
                    self.b.ins().jump(join, &[]);
                    return Ok(());
                }
                Instr::Ret { src } => {
                    let v = self.get_raw(src);
                    let ty = match *result_ty {
                        Some(ty) => ty,
                        None => {
                            let ty = self.b.func.dfg.value_type(v);
                            self.b.append_block_param(join, ty);
                            *result_ty = Some(ty);
                            ty
                        }
                    };
                    let v = self.as_type(v, ty);
                    self.b.ins().jump(join, &[v.into()]);
                    return Ok(());
                }
                // (Forward only: `inlining::branching`.)
                Instr::Jmp { target } if target > at => at = target,
                _ => match branch_of(&ins) {
                    Some((_, target)) if target > at => {
                        let (cond, when) = self.branch_condition(ins).ok_or("an inlined branch")?;
                        let (taken, next) = (self.b.create_block(), self.b.create_block());
                        self.branch_when(cond, when, taken, next);
                        self.b.seal_block(taken);
                        self.b.seal_block(next);
                        let regs = self.inl.as_ref().map(Inlined::snapshot);
                        self.b.switch_to_block(taken);
                        self.vn.forget_block();
                        self.inline_paths(pc, f, target, join, result_ty)?;
                        if let (Some(inl), Some(regs)) = (self.inl.as_mut(), regs) {
                            inl.restore(regs);
                        }
                        self.b.switch_to_block(next);
                        self.vn.forget_block();
                        at += 1;
                    }
                    Some(_) => return Err("a backward branch in an inlined body".into()),
                    None => {
                        self.inlined_op(pc, ins)?;
                        at += 1;
                    }
                },
            }
        }
    }

    /// The early return of a direct call of `fid` with `nargs` arguments to
    /// inline at the call site ([`early_return`]), within what is left of the
    /// inlining budget (not inside an inlined body).
    pub(super) fn early_return_of(&self, fid: u32, nargs: usize) -> Option<EarlyReturn> {
        if self.inl.is_some() {
            return None;
        }
        let callee = self.tc.program.functions.get(fid as usize)?;
        early_return(self.tc.program, callee, nargs).filter(|er| er.len <= self.inline_budget)
    }

    /// A call of `fid` whose early return `er` is inlined: the call site
    /// computes what the callee's first compare reads (its instructions
    /// before the compare, whose guards exit to the VM at the call) and makes
    /// the compare; on the early outcome it runs the path to the callee's
    /// `Ret` inline (as [`Self::try_inline`] does a whole body: the call's
    /// limits are checked, and a guard exits to the VM at the call),
    /// otherwise it makes the call.
    pub(super) fn call_with_early_return(
        &mut self,
        pc: u32,
        dst: Reg,
        args: &[Reg],
        target: CallTarget,
        fid: u32,
        er: EarlyReturn,
    ) -> Result<(), String> {
        let p = self.tc.program;
        let callee = p
            .functions
            .get(fid as usize)
            .ok_or("a call of an unknown function")?;
        self.inline_budget -= er.len;
        let regs = self.argument_values(callee, args);
        self.inl = Some(Inlined {
            f: callee,
            regs,
            virtual_tuple: false,
            virtual_struct: false,
            virtual_array: false,
            captures: Vec::new(),
            prechecked: Vec::new(),
            checked: Vec::new(),
        });
        for &ins in callee.code.get(..er.branch as usize).unwrap_or_default() {
            self.inlined_op(pc, ins)?;
        }
        // (An integer or bool compare: it jumps when its condition holds.)
        let jumps = match callee
            .code
            .get(er.branch as usize)
            .map(|&ins| self.branch_condition(ins))
        {
            Some(Some((c, When::True))) => Some(c),
            _ => None,
        };
        let inlined = self.inl.take().ok_or("the inlined callee")?;
        let jumps = jumps.ok_or("an early return without its compare")?;
        let (early, call, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        if er.on_jump {
            self.b.ins().brif(jumps, early, &[], call, &[]);
        } else {
            self.b.ins().brif(jumps, call, &[], early, &[]);
        }
        self.b.seal_block(early);
        self.b.seal_block(call);

        // The early return, inline.
        self.b.switch_to_block(early);
        // (Tested here like the call's: the call is next to it, and the flag
        // would be live across it.)
        let d = self.depth();
        let at_limit = self.at_frame_limit(d);
        self.inline_path(pc, dst, inlined, er.start, Some(at_limit))?;
        self.b.ins().jump(join, &[]);

        // The call. (What the early path learnt does not hold here.)
        self.b.switch_to_block(call);
        self.vn.computed.clear();
        self.vn.bounds_checked.clear();
        self.real_call(pc, dst, args, target)?;
        self.b.ins().jump(join, &[]);

        self.b.seal_block(join);
        self.b.switch_to_block(join);
        self.vn.computed.clear();
        self.vn.bounds_checked.clear();
        Ok(())
    }
}
