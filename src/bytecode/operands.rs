//! What each instruction reads and writes and where control goes after it: the one
//! description of the instructions' operands, used by the load-time verifier
//! (`vm::verify`), the JIT's analyses (`jit::analysis`) and the disassembler.
//!
//! The table indices an instruction carries (constants, globals, loop ids, callee
//! ids, ...) are checked by the verifier; here only the call site is looked up, to
//! find its registers. An out-of-range site has no registers.

use super::{CallSite, FfiType, Function, Instr, Program, Reg};

/// The registers one instruction reads and writes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Operands {
    /// Registers read, in operand order: the instruction's own register fields,
    /// then the registers of its call site (arguments, elements, captures), then,
    /// for `CallIndirect`, the closure register and `dst` (the callee, and so
    /// whether `dst` is written, is only known at run time: it may keep its old
    /// value, so it counts as read).
    pub uses: Vec<Reg>,
    /// Register written on normal completion, if any: `dst`, except for calls whose
    /// callee returns nothing (and `CallIndirect`, see `uses`).
    pub def: Option<Reg>,
    /// The result register the instruction names (`dst`), written or not.
    pub dst: Option<Reg>,
}

impl Instr {
    /// The index of the instruction's call site (`sites[site]`), if it has one.
    pub fn site(&self) -> Option<u32> {
        use Instr::*;
        match *self {
            Call { site, .. }
            | CallIndirect { site, .. }
            | CallBuiltin { site, .. }
            | CallExtern { site, .. }
            | ConcatN { site, .. }
            | Print { site }
            | NewArray { site, .. }
            | NewMap { site, .. }
            | NewTuple { site, .. }
            | NewStruct { site, .. }
            | MakeClosure { site, .. } => Some(site),
            _ => None,
        }
    }

    /// The registers the instruction reads and writes in function `f` of `p`.
    pub fn operands(&self, p: &Program, f: &Function) -> Operands {
        use Instr::*;
        let (mut uses, dst) = match *self {
            LoadInt { dst, .. }
            | LoadConst { dst, .. }
            | LoadBool { dst, .. }
            | LoadNull { dst }
            | GetGlobal { dst, .. }
            | Call { dst, .. }
            | CallIndirect { dst, .. }
            | CallBuiltin { dst, .. }
            | CallExtern { dst, .. }
            | ConcatN { dst, .. }
            | NewArray { dst, .. }
            | NewMap { dst, .. }
            | NewTuple { dst, .. }
            | NewStruct { dst, .. }
            | MakeClosure { dst, .. } => (vec![], Some(dst)),
            Mov { dst, src }
            | NegI { dst, src }
            | BitNot { dst, src }
            | NegF { dst, src }
            | Not { dst, src }
            | ToStr { dst, src, .. }
            | AddIImm { dst, a: src, .. }
            | ArrLen { dst, arr: src }
            | TupleGet { dst, tup: src, .. }
            | GetField { dst, obj: src, .. } => (vec![src], Some(dst)),
            AddI { dst, a, b }
            | SubI { dst, a, b }
            | MulI { dst, a, b }
            | DivI { dst, a, b }
            | ModI { dst, a, b }
            | BitAnd { dst, a, b }
            | BitOr { dst, a, b }
            | BitXor { dst, a, b }
            | Shl { dst, a, b }
            | Shr { dst, a, b }
            | AddF { dst, a, b }
            | SubF { dst, a, b }
            | MulF { dst, a, b }
            | DivF { dst, a, b }
            | ModF { dst, a, b }
            | EqI { dst, a, b }
            | NeI { dst, a, b }
            | LtI { dst, a, b }
            | LeI { dst, a, b }
            | EqF { dst, a, b }
            | NeF { dst, a, b }
            | LtF { dst, a, b }
            | LeF { dst, a, b }
            | EqRef { dst, a, b }
            | NeRef { dst, a, b }
            | Concat { dst, a, b }
            | ArrGet { dst, arr: a, idx: b }
            | MapGet { dst, map: a, key: b } => (vec![a, b], Some(dst)),
            Jmp { .. } | Loop { .. } | RetVoid | Print { .. } => (vec![], None),
            SetGlobal { src, .. }
            | Ret { src }
            | Throw { src }
            | Rethrow { src }
            | JmpIf { cond: src, .. }
            | JmpIfNot { cond: src, .. }
            | BrEqIImm { a: src, .. }
            | BrNeIImm { a: src, .. }
            | BrLtIImm { a: src, .. }
            | BrLeIImm { a: src, .. }
            | BrGtIImm { a: src, .. }
            | BrGeIImm { a: src, .. } => (vec![src], None),
            BrEqI { a, b, .. }
            | BrNeI { a, b, .. }
            | BrLtI { a, b, .. }
            | BrLeI { a, b, .. }
            | BrLtF { a, b, .. }
            | BrLeF { a, b, .. }
            | BrNotLtF { a, b, .. }
            | BrNotLeF { a, b, .. }
            | SetField { obj: a, src: b, .. } => (vec![a, b], None),
            ArrSet { arr, idx, src }
            | MapSet {
                map: arr,
                key: idx,
                val: src,
            } => (vec![arr, idx, src], None),
        };
        let site: Option<&CallSite> = self.site().and_then(|s| f.sites.get(s as usize));
        if let Some(s) = site {
            uses.extend_from_slice(&s.args);
        }
        // The target of a call site; an unknown one makes an out-of-range id.
        let target = site.map_or(u32::MAX, |s| s.target);
        let def = match *self {
            Call { .. } => dst.filter(|_| {
                p.functions
                    .get(target as usize)
                    .is_some_and(|g| g.ret_kind.is_some())
            }),
            CallIndirect { dst, .. } => {
                if let Some(s) = site {
                    uses.push(s.target as Reg);
                }
                uses.push(dst);
                None
            }
            CallBuiltin { .. } => {
                dst.filter(|_| !bp_runtime::builtins::signature(target).is_some_and(|s| s.returns_void()))
            }
            CallExtern { .. } => dst.filter(|_| {
                p.externs
                    .get(target as usize)
                    .is_some_and(|e| e.ret != FfiType::Void)
            }),
            _ => dst,
        };
        Operands { uses, def, dst }
    }

    /// The jump target of a jump-like instruction (`Jmp`, `Loop`, `JmpIf*`, `Br*`).
    pub fn jump_target(&self) -> Option<u32> {
        let mut copy = *self;
        copy.jump_target_mut().map(|t| *t)
    }

    /// Mutable access to the jump target of a jump-like instruction.
    pub fn jump_target_mut(&mut self) -> Option<&mut u32> {
        use Instr::*;
        match self {
            Jmp { target }
            | Loop { target, .. }
            | JmpIf { target, .. }
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
            | BrNotLeF { target, .. } => Some(target),
            _ => None,
        }
    }

    /// Whether execution can continue with the next instruction: false for the
    /// unconditional jumps (`Jmp`, `Loop`), returns and throws.
    pub fn falls_through(&self) -> bool {
        use Instr::*;
        !matches!(
            self,
            Jmp { .. } | Loop { .. } | Ret { .. } | RetVoid | Throw { .. } | Rethrow { .. }
        )
    }

    /// Whether the instruction ends a basic block: it jumps, branches, returns or
    /// throws.
    pub fn ends_block(&self) -> bool {
        !self.falls_through() || self.jump_target().is_some()
    }

    /// Normal (non-exceptional) successors of the instruction at `pc`: the next
    /// instruction if control can fall through to it, then the jump target.
    pub fn successors(&self, pc: usize) -> impl Iterator<Item = usize> {
        let next = self.falls_through().then_some(pc + 1);
        next.into_iter().chain(self.jump_target().map(|t| t as usize))
    }
}
