//! Bytecode analyses used by the translator: reachability, basic-block leaders,
//! register liveness (for the write-back at side exits) and a per-register machine
//! type guess. What each instruction reads, writes and branches to comes from the
//! bytecode's own description ([`Instr::operands`], [`Instr::successors`]).

use crate::bytecode::{Const, Function, Instr, Program, Reg};
use bp_runtime::value::ValKind;

/// A set of registers (256 bits).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct RegSet(pub [u64; 4]);

impl RegSet {
    #[inline]
    pub fn insert(&mut self, r: Reg) {
        self.0[(r >> 6) as usize] |= 1u64 << (r & 63);
    }
    #[inline]
    pub fn remove(&mut self, r: Reg) {
        self.0[(r >> 6) as usize] &= !(1u64 << (r & 63));
    }
    #[inline]
    pub fn contains(&self, r: Reg) -> bool {
        self.0[(r >> 6) as usize] & (1u64 << (r & 63)) != 0
    }
    pub fn union(&mut self, o: &RegSet) {
        for i in 0..4 {
            self.0[i] |= o.0[i];
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = Reg> + '_ {
        (0..256usize)
            .filter(|&r| self.contains(r as Reg))
            .map(|r| r as Reg)
    }
}

/// Registers read and written by one instruction ([`Instr::operands`]).
pub use crate::bytecode::Operands;

/// Normal (non-exceptional) successors of the instruction at `pc`
/// ([`Instr::successors`]).
pub fn successors(ins: &Instr, pc: usize) -> impl Iterator<Item = usize> {
    ins.successors(pc)
}

/// Loop headers (targets of `Loop` back-edges), sorted, without duplicates.
pub fn loop_headers(f: &Function) -> Vec<u32> {
    let mut v: Vec<u32> = f
        .code
        .iter()
        .filter_map(|i| match i {
            Instr::Loop { target, .. } => Some(*target),
            _ => None,
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Results of the analyses of one function.
pub struct Analysis {
    /// Instruction reachable from pc 0 or a loop header through normal edges.
    pub reachable: Vec<bool>,
    /// Instruction starts a basic block.
    pub leader: Vec<bool>,
    /// Registers live before each instruction (including what an exception
    /// handler covering it may read).
    pub live_in: Vec<RegSet>,
    /// Loop headers (OSR and re-entry points).
    pub headers: Vec<u32>,
    /// Per register: keep it in a float machine register.
    pub is_float: Vec<bool>,
    /// Per register: it holds references (GC root).
    pub is_ref: Vec<bool>,
    /// Per instruction: its operands.
    pub ops: Vec<Operands>,
}

pub fn analyze(p: &Program, f: &Function) -> Analysis {
    let n = f.code.len();
    let ops: Vec<Operands> = f.code.iter().map(|i| i.operands(p, f)).collect();
    let headers = loop_headers(f);

    // Reachability through normal edges from the entry and every loop header.
    let mut reachable = vec![false; n];
    let mut work: Vec<usize> = vec![0];
    work.extend(headers.iter().map(|&h| h as usize));
    while let Some(pc) = work.pop() {
        if pc >= n || reachable[pc] {
            continue;
        }
        reachable[pc] = true;
        for s in f.code[pc].successors(pc) {
            if s < n && !reachable[s] {
                work.push(s);
            }
        }
    }

    // Leaders.
    let mut leader = vec![false; n + 1];
    leader[0] = true;
    for &h in &headers {
        leader[h as usize] = true;
    }
    for (pc, ins) in f.code.iter().enumerate() {
        if ins.ends_block() {
            leader[pc + 1] = true;
        }
        let succ: Vec<usize> = ins.successors(pc).collect();
        if succ != [pc + 1] {
            for s in succ {
                if s <= n {
                    leader[s] = true;
                }
            }
        }
    }
    leader.truncate(n);

    // Liveness (backward, iterated to a fixpoint). An instruction covered by a
    // handler may transfer to it before writing its destination, so the handler's
    // live-in is added without the kill.
    let mut live_in = vec![RegSet::default(); n];
    let handler_targets: Vec<Vec<usize>> = (0..n)
        .map(|pc| {
            f.handlers
                .iter()
                .filter(|h| h.start as usize <= pc && pc < h.end as usize)
                .map(|h| h.target as usize)
                .collect()
        })
        .collect();
    loop {
        let mut changed = false;
        for pc in (0..n).rev() {
            let ins = &f.code[pc];
            let mut out = RegSet::default();
            for s in ins.successors(pc) {
                if s < n {
                    out.union(&live_in[s]);
                }
            }
            if let Some(d) = ops[pc].def {
                out.remove(d);
            }
            for &u in &ops[pc].uses {
                out.insert(u);
            }
            for &h in &handler_targets[pc] {
                if h < n {
                    let hl = live_in[h];
                    out.union(&hl);
                }
            }
            if out != live_in[pc] {
                live_in[pc] = out;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    let nregs = f.nregs as usize;
    let is_ref: Vec<bool> = (0..nregs)
        .map(|r| f.ref_regs.get(r).copied().unwrap_or(false))
        .collect();
    let is_float = float_guess(p, f, &ops, nregs, &is_ref);

    Analysis {
        reachable,
        leader,
        live_in,
        headers,
        is_float,
        is_ref,
        ops,
    }
}

/// Guess which registers mostly hold floats, so that they live in float machine
/// registers. Only a performance choice: every access converts (bitcast) when a
/// register is used as the other scalar type, so a wrong guess is still correct.
fn float_guess(p: &Program, f: &Function, ops: &[Operands], nregs: usize, is_ref: &[bool]) -> Vec<bool> {
    use Instr::*;
    let mut score = vec![0i32; nregs];
    let mut fl = |r: Reg, d: i32| {
        if let Some(s) = score.get_mut(r as usize) {
            *s += d;
        }
    };
    // What a declared kind says about a register.
    let kind_score = |k: Option<&ValKind>| match k {
        Some(ValKind::Float) => 1,
        Some(ValKind::Int | ValKind::Bool) => -1,
        _ => 0,
    };
    for (i, k) in f.param_kinds.iter().enumerate() {
        fl(i as Reg, kind_score(Some(k)));
    }
    for (ins, ops) in f.code.iter().zip(ops) {
        // Float and integer arithmetic, comparisons and branches: scores for the
        // registers they read and for their result.
        let (read, result) = match ins {
            AddF { .. } | SubF { .. } | MulF { .. } | DivF { .. } | ModF { .. } | NegF { .. } => (2, 2),
            EqF { .. } | NeF { .. } | LtF { .. } | LeF { .. } => (2, -1),
            BrLtF { .. } | BrLeF { .. } | BrNotLtF { .. } | BrNotLeF { .. } => (2, 0),
            AddI { .. } | SubI { .. } | MulI { .. } | DivI { .. } | ModI { .. } | AddIImm { .. } => (-2, -2),
            BitAnd { .. } | BitOr { .. } | BitXor { .. } | Shl { .. } | Shr { .. } => (-2, -2),
            EqI { .. } | NeI { .. } | LtI { .. } | LeI { .. } => (-2, -2),
            BrEqI { .. } | BrNeI { .. } | BrLtI { .. } | BrLeI { .. } => (-2, 0),
            BrEqIImm { .. } | BrNeIImm { .. } | BrLtIImm { .. } => (-2, 0),
            BrLeIImm { .. } | BrGtIImm { .. } | BrGeIImm { .. } => (-2, 0),
            _ => (0, 0),
        };
        if read != 0 {
            for &r in &ops.uses {
                fl(r, read);
            }
            if let Some(d) = ops.def {
                fl(d, result);
            }
        }
        match *ins {
            LoadConst { dst, k } => match f.consts.get(k as usize) {
                Some(Const::Float(_)) => fl(dst, 2),
                Some(Const::Int(_)) => fl(dst, -2),
                _ => {}
            },
            LoadInt { dst, .. } => fl(dst, -1),
            ToStr { src, kind, .. } => {
                if ValKind::from_u8(kind) == ValKind::Float {
                    fl(src, 1)
                } else {
                    fl(src, -1)
                }
            }
            GetGlobal { dst, idx } | SetGlobal { src: dst, idx } => {
                fl(dst, kind_score(p.globals.get(idx as usize).map(|g| &g.kind)))
            }
            Call { dst, site } => {
                if let Some(s) = f.sites.get(site as usize) {
                    if let Some(callee) = p.functions.get(s.target as usize) {
                        for (i, &r) in s.args.iter().enumerate() {
                            fl(r, kind_score(callee.param_kinds.get(i)));
                        }
                        fl(dst, kind_score(callee.ret_kind.as_ref()));
                    }
                }
            }
            ArrGet { idx, .. } | ArrSet { idx, .. } => fl(idx, -2),
            _ => {}
        }
    }
    (0..nregs).map(|r| !is_ref[r] && score[r] > 0).collect()
}
