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

impl Operands {
    /// The register the instruction may write: `def`, or the `dst` of a call
    /// whose callee is known only at run time (which counts as read, not
    /// defined, for liveness). What an analysis of "the registers a loop
    /// writes" must use.
    pub fn writes(&self) -> Option<Reg> {
        self.def.or(self.dst)
    }
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
                Role::ReadWrite => {
                    uses.push(v as Reg);
                    dst = Some(v as Reg);
                }
                Role::Int
                | Role::Bool
                | Role::Const
                | Role::Global
                | Role::Site(_)
                | Role::Target
                | Role::LoopId
                | Role::Kind
                | Role::Field
                | Role::Slot
                | Role::Class => {}
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
            // The callee (and whether it returns a value) is known at run time.
            Some(SiteUse::Method) => {
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

    /// The loop a back-edge (`Loop`, `ForLoop`) counts for: its field with role
    /// `LoopId`.
    pub fn loop_id(&self) -> Option<usize> {
        self.operand(|r| r == Role::LoopId).map(|v| v as usize)
    }

    /// Whether execution can continue with the next instruction: false for the
    /// unconditional jumps (`Jmp`, `Loop`), returns and throws.
    pub fn falls_through(&self) -> bool {
        match self.op().flow() {
            Flow::Next | Flow::Branch | Flow::BackBranch => true,
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

impl Function {
    /// Per instruction: the handlers whose range covers it, in table order
    /// (innermost first). Built per handler over its own range, so the cost is
    /// the total length of the ranges, not instructions × handlers.
    pub fn covering_handlers(&self) -> Vec<Vec<u32>> {
        let n = self.code.len();
        let mut covering = vec![Vec::new(); n];
        for (hi, h) in self.handlers.iter().enumerate() {
            let end = (h.end as usize).min(n);
            for c in &mut covering[(h.start as usize).min(end)..end] {
                c.push(hi as u32);
            }
        }
        covering
    }

    /// The register a lambda with captures finds its closure in (the one after
    /// its parameters), if it takes one.
    pub fn closure_register(&self) -> Option<Reg> {
        self.takes_closure.then_some(self.nparams)
    }

    /// The reads of a register that some path from the entry reaches before any
    /// write of it: `(pc, register)` pairs, parameters (and a lambda's closure
    /// register) counting as written on entry. The compiler writes every
    /// register before it reads it, so for its functions this is empty; the
    /// interpreter and compiled code rely on that when they clear only the
    /// reference registers of a new frame (`tests/entry_registers.rs` checks the
    /// programs of the test suite).
    ///
    /// A call whose callee is known only at run time (`CallIndirect`,
    /// `CallMethod`) counts its destination as written, not read: its
    /// [`Operands`] list it as read because a void callee leaves it alone, and
    /// the type checker lets no one read the result of a void call. An
    /// instruction covered by a handler may jump there before it writes.
    pub fn read_before_written(&self, p: &Program) -> Vec<(usize, Reg)> {
        type Set = [u64; 4];
        let add = |s: &mut Set, r: Reg| s[r as usize / 64] |= 1 << (r % 64);
        let has = |s: &Set, r: Reg| s[r as usize / 64] & (1 << (r % 64)) != 0;
        let meet = |a: &Set, b: &Set| -> Set { std::array::from_fn(|i| a[i] & b[i]) };
        let n = self.code.len();
        let ops: Vec<Operands> = self
            .code
            .iter()
            .map(|ins| {
                let mut o = ins.operands(p, self);
                if matches!(ins.op().site_use(), Some(SiteUse::ClosureReg | SiteUse::Method)) {
                    if let Some(d) = o.dst {
                        o.uses.pop();
                        o.def = Some(d);
                    }
                }
                o
            })
            .collect();
        // Registers written on every path to each instruction (`None`: not reached).
        let mut written: Vec<Option<Set>> = vec![None; n];
        let mut entry = Set::default();
        for r in (0..self.nparams).chain(self.closure_register()) {
            add(&mut entry, r);
        }
        let covering = self.covering_handlers();
        let mut work = vec![(0usize, entry)];
        while let Some((pc, arriving)) = work.pop() {
            if pc >= n {
                continue;
            }
            let before = match written[pc] {
                Some(old) => {
                    let met = meet(&old, &arriving);
                    if met == old {
                        continue;
                    }
                    met
                }
                None => arriving,
            };
            written[pc] = Some(before);
            for h in covering[pc]
                .iter()
                .filter_map(|&hi| self.handlers.get(hi as usize))
            {
                let mut at_handler = before;
                if let Some(r) = h.reg {
                    add(&mut at_handler, r);
                }
                work.push((h.target as usize, at_handler));
            }
            let mut after = before;
            if let Some(d) = ops[pc].def {
                add(&mut after, d);
            }
            for s in self.code[pc].successors(pc) {
                work.push((s, after));
            }
        }
        let mut reads = Vec::new();
        for (pc, o) in ops.iter().enumerate() {
            if let Some(w) = &written[pc] {
                reads.extend(o.uses.iter().filter(|&&r| !has(w, r)).map(|&r| (pc, r)));
            }
        }
        reads
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Const, Handler};
    use super::*;

    fn function_with_sites(sites: Vec<CallSite>) -> Function {
        Function {
            nregs: 8,
            sites,
            consts: vec![Const::Int(1)],
            ..Function::default()
        }
    }

    fn ops(ins: Instr, p: &Program, f: &Function) -> (Vec<Reg>, Option<Reg>, Option<Reg>) {
        let o = ins.operands(p, f);
        (o.uses, o.def, o.dst)
    }

    /// Registers read in field order, the written one as `dst` and `def`.
    #[test]
    fn registers_follow_the_roles() {
        let p = Program::default();
        let f = function_with_sites(vec![]);
        use Instr::*;
        assert_eq!(ops(Mov { dst: 1, src: 2 }, &p, &f), (vec![2], Some(1), Some(1)));
        assert_eq!(
            ops(
                ArrSet {
                    arr: 1,
                    idx: 2,
                    src: 3,
                    elem: 0
                },
                &p,
                &f
            ),
            (vec![1, 2, 3], None, None)
        );
        assert_eq!(
            ops(
                SetField {
                    obj: 4,
                    idx: 0,
                    src: 5
                },
                &p,
                &f
            ),
            (vec![4, 5], None, None)
        );
        assert_eq!(
            ops(LoadConst { dst: 3, k: 0 }, &p, &f),
            (vec![], Some(3), Some(3))
        );
        assert_eq!(
            ops(
                BrLtIImm {
                    a: 6,
                    imm: -1,
                    target: 0
                },
                &p,
                &f
            ),
            (vec![6], None, None)
        );
        assert_eq!(ops(RetVoid, &p, &f), (vec![], None, None));
    }

    /// A site's registers follow the instruction's own; a closure call also reads
    /// the closure and (maybe left unwritten) `dst`; a call of a void function
    /// names `dst` without writing it.
    #[test]
    fn call_sites_add_their_registers() {
        let site = |target, args: Vec<Reg>| CallSite {
            target,
            args,
            kinds: vec![],
        };
        let f = function_with_sites(vec![site(0, vec![1, 2]), site(7, vec![3])]);
        let p = Program {
            functions: vec![Function::default()],
            ..Program::default()
        };
        use Instr::*;
        assert_eq!(ops(Call { dst: 4, site: 0 }, &p, &f), (vec![1, 2], None, Some(4)));
        assert_eq!(
            ops(CallIndirect { dst: 5, site: 1 }, &p, &f),
            (vec![3, 7, 5], None, Some(5))
        );
        assert_eq!(
            ops(NewArray { dst: 6, site: 0 }, &p, &f),
            (vec![1, 2], Some(6), Some(6))
        );
        assert_eq!(ops(Print { site: 0 }, &p, &f), (vec![1, 2], None, None));
        // An out-of-range site has no registers.
        assert_eq!(
            ops(ConcatN { dst: 2, site: 9 }, &p, &f),
            (vec![], Some(2), Some(2))
        );
    }

    /// Jump targets and successors from the `Target` role and the flow property.
    #[test]
    fn control_flow_follows_flow_and_target() {
        use Instr::*;
        let succ = |i: Instr| i.successors(10).collect::<Vec<_>>();
        assert_eq!(succ(Jmp { target: 3 }), vec![3]);
        assert_eq!(
            succ(Loop {
                target: 2,
                loop_id: 0
            }),
            vec![2]
        );
        assert_eq!(succ(JmpIf { cond: 0, target: 4 }), vec![11, 4]);
        assert_eq!(succ(AddI { dst: 0, a: 1, b: 2 }), vec![11]);
        assert_eq!(succ(Throw { src: 0 }), Vec::<usize>::new());
        assert_eq!(succ(Ret { src: 0 }), Vec::<usize>::new());
        let mut br = BrNotLeF {
            a: 0,
            b: 1,
            target: 5,
        };
        if let Some(t) = br.jump_target_mut() {
            *t = 9;
        }
        assert_eq!(
            br,
            BrNotLeF {
                a: 0,
                b: 1,
                target: 9
            }
        );
        assert_eq!(Mov { dst: 0, src: 1 }.jump_target(), None);
        assert!(Loop {
            target: 0,
            loop_id: 0
        }
        .ends_block());
        assert!(!Print { site: 0 }.ends_block());
    }

    /// Reads before any write: found on one path of a branch, through a
    /// handler (which the instruction may reach before it writes), and not for
    /// parameters, a lambda's closure register or a void-able call's
    /// destination.
    #[test]
    fn reads_before_writes_are_found_on_any_path() {
        use Instr::*;
        let p = Program::default();
        let f = |nparams: u8, code: Vec<Instr>| Function {
            nparams,
            nregs: 8,
            code,
            ..Function::default()
        };
        // r1 is written on the fall-through path only.
        let branchy = f(
            1,
            vec![
                JmpIf { cond: 0, target: 2 },
                LoadInt { dst: 1, imm: 1 },
                Ret { src: 1 },
            ],
        );
        assert_eq!(branchy.read_before_written(&p), vec![(2, 1)]);
        let straight = f(1, vec![AddIImm { dst: 1, a: 0, imm: 1 }, Ret { src: 1 }]);
        assert_eq!(straight.read_before_written(&p), vec![]);
        // The handler may run before `AddI` wrote r2; it reads r2.
        let mut guarded = f(
            2,
            vec![AddI { dst: 2, a: 0, b: 1 }, Ret { src: 2 }, Ret { src: 2 }],
        );
        guarded.handlers = vec![Handler {
            start: 0,
            end: 1,
            target: 2,
            reg: Some(3),
        }];
        assert_eq!(guarded.read_before_written(&p), vec![(2, 2)]);
        // A lambda reads its closure register; a closure call's destination.
        let mut lambda = f(
            1,
            vec![
                GetCapture {
                    dst: 2,
                    clo: 1,
                    idx: 0,
                },
                CallIndirect { dst: 3, site: 0 },
                Ret { src: 3 },
            ],
        );
        lambda.takes_closure = true;
        lambda.sites = vec![CallSite {
            target: 2,
            args: vec![0],
            ..CallSite::default()
        }];
        assert_eq!(lambda.read_before_written(&p), vec![]);
    }
}
