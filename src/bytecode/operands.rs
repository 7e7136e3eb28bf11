//! What each instruction reads and writes and where control goes after it: the one
//! description of the instructions' operands, used by the load-time verifier
//! (`vm::verify`), the JIT's analyses (`jit::analysis`) and the disassembler. It is
//! computed from the operand roles of the declaration (`isa.rs`) and the control
//! flow property (`props.rs`), never listed per instruction.
//!
//! The table indices an instruction carries (constants, globals, loop ids, callee
//! ids, ...) are checked by the verifier; here only the call site is looked up, to
//! find its registers. An out-of-range site has no registers.

use super::{CallSite, FfiType, Flow, Function, Instr, Program, Reg, Role, SiteUse};

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
        self.operand(|r| matches!(r, Role::Site(_))).map(|v| v as u32)
    }

    /// The value of the first field whose role satisfies `pick`.
    fn operand(&self, pick: impl Fn(Role) -> bool) -> Option<i64> {
        let op = self.op();
        let vals = self.operand_values();
        op.operands()
            .iter()
            .zip(vals.as_slice())
            .find(|((_, role), _)| pick(*role))
            .map(|(_, &v)| v)
    }

    /// The registers the instruction reads and writes in function `f` of `p`.
    pub fn operands(&self, p: &Program, f: &Function) -> Operands {
        let op = self.op();
        let vals = self.operand_values();
        let mut uses = Vec::new();
        let mut dst = None;
        for (&(_, role), &v) in op.operands().iter().zip(vals.as_slice()) {
            match role {
                Role::Read => uses.push(v as Reg),
                Role::Write => dst = Some(v as Reg),
                Role::Int
                | Role::Bool
                | Role::Const
                | Role::Global
                | Role::Site(_)
                | Role::Target
                | Role::LoopId
                | Role::Kind
                | Role::Field
                | Role::Slot => {}
            }
        }
        let site: Option<&CallSite> = self.site().and_then(|s| f.sites.get(s as usize));
        if let Some(s) = site {
            uses.extend_from_slice(&s.args);
        }
        // The target of a call site; an unknown one makes an out-of-range id.
        let target = site.map_or(u32::MAX, |s| s.target);
        let def = match op.site_use() {
            Some(SiteUse::Function) => dst.filter(|_| {
                p.functions
                    .get(target as usize)
                    .is_some_and(|g| g.ret_kind.is_some())
            }),
            Some(SiteUse::ClosureReg) => {
                if let Some(s) = site {
                    uses.push(s.target as Reg);
                }
                uses.extend(dst);
                None
            }
            Some(SiteUse::Builtin) => {
                dst.filter(|_| !bp_runtime::builtins::signature(target).is_some_and(|s| s.returns_void()))
            }
            Some(SiteUse::Extern) => dst.filter(|_| {
                p.externs
                    .get(target as usize)
                    .is_some_and(|e| e.ret != FfiType::Void)
            }),
            Some(
                SiteUse::Strings
                | SiteUse::Print
                | SiteUse::Array
                | SiteUse::Map
                | SiteUse::Tuple
                | SiteUse::Struct
                | SiteUse::Closure,
            )
            | None => dst,
        };
        Operands { uses, def, dst }
    }

    /// The jump target of a jump-like instruction (`Jmp`, `Loop`, `JmpIf*`, `Br*`):
    /// its field with role `Target`.
    pub fn jump_target(&self) -> Option<u32> {
        self.operand(|r| r == Role::Target).map(|v| v as u32)
    }

    /// Whether execution can continue with the next instruction: false for the
    /// unconditional jumps (`Jmp`, `Loop`), returns and throws.
    pub fn falls_through(&self) -> bool {
        match self.op().flow() {
            Flow::Next | Flow::Branch => true,
            Flow::Jump | Flow::BackEdge | Flow::Return | Flow::Throw => false,
        }
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
