//! Strings appended to in place: `s = s + t` in a loop.
//!
//! The runtime already writes `t` after `s` in `s`'s buffer when `s` is the
//! longest string on it (`Heap::alloc_str_after`), but it must still make a new
//! string object for the longer result: the old `s` may be held elsewhere and
//! must keep its length. Compiled code can know better. An *append register*
//! is one that some `Concat` or `ConcatN` both reads as its first part and
//! writes (`s = s + ...`); for each, a Cranelift variable says whether the string in
//! the register is *unshared*: it was made by a concatenation into that
//! register, and since then the register has only been read by instructions
//! that copy bytes or read the length and never keep the reference
//! ([`keeps_unshared`]). The concatenation then passes `ObjOp::AppendN`, and
//! the runtime extends that very string in place when its buffer has room
//! (`Heap::append_in_place`): no new object, none to sweep.
//!
//! The flag is a run-time value, so that the loop's phi merges "unshared"
//! from the back edge with "shared" from the loop's entry (`s = ""`, a
//! parameter) without a fixed point: the first round passes `ConcatN` and
//! makes a new string, the rounds after it append in place. Every other way
//! into the code starts with the flag clear: the function's entry, and
//! re-entry from the interpreter (OSR), which may have copied the string.
//! Nothing else is affected: the string stays a string of the right length in
//! its register, which the collector, a deoptimization and an exception
//! handler see as before. Its header does not move and no reference is stored,
//! so neither the write barrier nor the map memo of key identity (a map key
//! or lookup argument is not among the readers that keep the flag) is
//! involved.
//!
//! Loads of a string's length are `readonly` (strings.rs), which lets
//! Cranelift merge two loads from the same SSA value across a call; each
//! concatenation's result is a new SSA value (loaded from the argument block
//! after the call), so no load of the longer string merges with one of the
//! shorter.

use cranelift_codegen::ir::{types::I8, InstBuilder, Value as CV};
use cranelift_frontend::Variable;

use super::super::abi::{ObjOp, CONCAT_MAX_PARTS};
use super::Tr;
use crate::bytecode::{Function, Instr, Reg};
use bp_runtime::builtins::{self, Inline, StrOp};
use bp_runtime::value::ValKind;

/// The append registers of `f`: the destination of every `Concat` that reads
/// it as its left operand, and of every `ConcatN` that reads it as its first
/// part, a string, with parts of strings and ints that `rt_obj` takes (at most
/// `CONCAT_MAX_PARTS`).
pub(super) fn append_registers(f: &Function) -> Vec<Reg> {
    let mut regs: Vec<Reg> = f
        .code
        .iter()
        .filter_map(|ins| match *ins {
            Instr::Concat { dst, a, .. } => (a == dst).then_some(dst),
            Instr::ConcatN { dst, site } => {
                let s = f.sites.get(site as usize)?;
                let parts_fit = s.args.len() <= CONCAT_MAX_PARTS
                    && s.kinds.iter().all(|k| matches!(k, ValKind::Ref | ValKind::Int));
                let left_is_dst =
                    s.args.first() == Some(&dst) && s.kinds.first().is_none_or(|&k| k == ValKind::Ref);
                (parts_fit && left_is_dst).then_some(dst)
            }
            _ => None,
        })
        .collect();
    regs.sort_unstable();
    regs.dedup();
    regs
}

/// Whether `ins`, which reads or writes `r`, leaves the flag of `r` to
/// others: a concatenation (one into another register only copies the
/// string's bytes; one into `r` sets the flag itself, [`Tr::appended`]), or
/// an inlined `len`, `str_char_at` or `ord` into another register, which
/// reads the length or a byte.
fn keeps_unshared(f: &Function, ins: &Instr, r: Reg) -> bool {
    match *ins {
        Instr::Concat { .. } | Instr::ConcatN { .. } => true,
        Instr::CallBuiltin { dst, site } => {
            dst != r
                && f.sites.get(site as usize).is_some_and(|s| {
                    builtins::all().get(s.target as usize).is_some_and(|b| {
                        matches!(b.inline, Inline::Str(StrOp::Len | StrOp::CharAt | StrOp::Ord))
                    })
                })
        }
        _ => false,
    }
}

impl Tr<'_, '_> {
    /// Declare the flag of each append register, clear: call at the function's
    /// entry, before the first instruction.
    pub(super) fn declare_appends(&mut self) {
        let regs = append_registers(self.f);
        self.appends = regs.into_iter().map(|r| (r, self.b.declare_var(I8))).collect();
        self.clear_appends();
    }

    /// Clear every flag: at the entry and at each re-entry from the
    /// interpreter.
    pub(super) fn clear_appends(&mut self) {
        for i in 0..self.appends.len() {
            let zero = self.b.ins().iconst(I8, 0);
            self.b.def_var(self.appends[i].1, zero);
        }
    }

    /// The flag of append register `r`, if it is one and this function's
    /// own code is being translated (an inlined callee's registers are not
    /// these).
    pub(super) fn append_var(&self, r: Reg) -> Option<Variable> {
        if self.inl.is_some() {
            return None;
        }
        self.appends.iter().find(|&&(a, _)| a == r).map(|&(_, v)| v)
    }

    /// Before the instruction at `pc` of this function (not of an inlined
    /// callee, whose registers are not these): clear the flag of each append
    /// register that `ins` reads or writes other than as [`keeps_unshared`]
    /// allows.
    pub(super) fn before_for_appends(&mut self, ins: &Instr) {
        if self.appends.is_empty() || self.inl.is_some() {
            return;
        }
        let ops = ins.operands(self.tc.program, self.f);
        for i in 0..self.appends.len() {
            let (r, var) = self.appends[i];
            let mentioned = ops.uses.contains(&r) || ops.writes() == Some(r);
            if mentioned && !keeps_unshared(self.f, ins, r) {
                let zero = self.b.ins().iconst(I8, 0);
                self.b.def_var(var, zero);
            }
        }
    }

    /// The operation word for the concatenation into `dst` whose first part is
    /// `first`: `AppendN` when the flag of `dst` (an append register that is
    /// also `first`) is set, `ConcatN` otherwise.
    pub(super) fn append_op(&mut self, dst: Reg, first: Option<Reg>) -> CV {
        let concat = self.iconst(ObjOp::ConcatN as i64);
        let Some(var) = self.append_var(dst).filter(|_| first == Some(dst)) else {
            return concat;
        };
        let flag = self.b.use_var(var);
        let append = self.iconst(ObjOp::AppendN as i64);
        self.b.ins().select(flag, append, concat)
    }

    /// After a concatenation into `dst`: through `rt_obj` (`unshared`), the string in
    /// `dst` is new or extended in place and referred to by nothing else;
    /// through the VM's general path it counts as shared.
    pub(super) fn appended(&mut self, dst: Reg, unshared: bool) {
        if let Some(var) = self.append_var(dst) {
            let flag = self.b.ins().iconst(I8, unshared as i64);
            self.b.def_var(var, flag);
        }
    }
}
