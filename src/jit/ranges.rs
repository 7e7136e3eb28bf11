//! Integer ranges of registers: for each division or remainder by a register or
//! a constant, an interval the dividend is known to lie in, so that the
//! translator can pick a cheaper sequence than the signed magic-number division
//! of [`crate::jit::translate`] (`x % c` with `0 <= x < 2c` is one compare and a
//! conditional move; a dividend known not to be negative needs no rounding
//! correction; a power-of-two divisor becomes a mask).
//!
//! A forward abstract interpretation over the bytecode's basic blocks (the
//! interval domain of Cousot and Cousot): every register holds an interval of
//! `i64`, everything not computed by an integer instruction this pass knows is
//! the full range, and branches on integer comparisons narrow their operands on
//! each edge (`for i in range(0, n)` gives `0 <= i < n` in the body through the
//! `ForLoop` back-edge and the entry test). Loops reach a fixpoint by widening:
//! a bound still growing after a few visits of a block jumps to the first of
//! the function's constants ([`thresholds`]) past twice its value, and after
//! a few such steps to the end of the range, so the pass ends after a bounded
//! number of steps; the typical accumulator `total = (total + x) % m` stops
//! at `m - 1`.
//!
//! The ranges hold for every execution of the function, so also for the states
//! the compiled code is entered with by OSR and at deopt re-entry: those are
//! states the interpreter reached running the same bytecode. Exception handlers
//! start from the full range for every register. Arithmetic that may wrap gives
//! the full range. The pass runs only for functions with an integer division or
//! remainder (its only reader), and gives up (no ranges) past a step budget.

use crate::bytecode::{Const, Function, Instr, Operands, Reg};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A closed interval of `i64` (`lo <= hi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub lo: i64,
    pub hi: i64,
}

impl Interval {
    pub const FULL: Interval = Interval {
        lo: i64::MIN,
        hi: i64::MAX,
    };

    pub fn new(lo: i64, hi: i64) -> Interval {
        Interval { lo, hi }
    }

    fn constant(c: i64) -> Interval {
        Interval { lo: c, hi: c }
    }

    /// `[lo, hi]` computed in `i128`: the full range if it leaves `i64` (the
    /// operation may have wrapped).
    fn wide(lo: i128, hi: i128) -> Interval {
        match (i64::try_from(lo), i64::try_from(hi)) {
            (Ok(lo), Ok(hi)) => Interval { lo, hi },
            _ => Interval::FULL,
        }
    }

    fn union(self, o: Interval) -> Interval {
        Interval::new(self.lo.min(o.lo), self.hi.max(o.hi))
    }

    /// The intersection, `None` if empty.
    fn meet(self, lo: i64, hi: i64) -> Option<Interval> {
        let (lo, hi) = (self.lo.max(lo), self.hi.min(hi));
        (lo <= hi).then_some(Interval { lo, hi })
    }

    fn non_negative(self) -> bool {
        self.lo >= 0
    }

    fn add(self, o: Interval) -> Interval {
        Interval::wide(self.lo as i128 + o.lo as i128, self.hi as i128 + o.hi as i128)
    }

    fn sub(self, o: Interval) -> Interval {
        Interval::wide(self.lo as i128 - o.hi as i128, self.hi as i128 - o.lo as i128)
    }

    fn mul(self, o: Interval) -> Interval {
        let p = [
            self.lo as i128 * o.lo as i128,
            self.lo as i128 * o.hi as i128,
            self.hi as i128 * o.lo as i128,
            self.hi as i128 * o.hi as i128,
        ];
        Interval::wide(p.into_iter().min().unwrap_or(0), p.into_iter().max().unwrap_or(0))
    }

    /// Truncating division by a divisor in `d` (the VM's `/`): known only for
    /// a positive divisor, where the quotient moves with the dividend and
    /// towards zero as the divisor grows.
    fn div(self, d: Interval) -> Interval {
        if d.lo <= 0 {
            return Interval::FULL;
        }
        let q = [self.lo / d.lo, self.lo / d.hi, self.hi / d.lo, self.hi / d.hi];
        Interval::new(q.into_iter().min().unwrap_or(0), q.into_iter().max().unwrap_or(0))
    }

    /// The remainder by a divisor in `d` (the VM's `%`: the sign of the
    /// dividend, magnitude below the divisor's; a zero divisor raises).
    fn rem(self, d: Interval) -> Interval {
        let m = (d.lo as i128).abs().max((d.hi as i128).abs()) - 1;
        let m = i64::try_from(m.max(0)).unwrap_or(i64::MAX);
        if self.lo >= 0 {
            Interval::new(0, self.hi.min(m))
        } else if self.hi <= 0 {
            Interval::new(self.lo.max(-m), 0)
        } else {
            Interval::new(self.lo.max(-m), self.hi.min(m))
        }
    }

    /// `a & b`: not negative and at most the other if either is not negative.
    fn and(self, o: Interval) -> Interval {
        match (self.non_negative(), o.non_negative()) {
            (true, true) => Interval::new(0, self.hi.min(o.hi)),
            (true, false) => Interval::new(0, self.hi),
            (false, true) => Interval::new(0, o.hi),
            (false, false) => Interval::FULL,
        }
    }

    /// `a | b` and `a ^ b` of two values not negative: below the next power of
    /// two of the larger.
    fn or_xor(self, o: Interval) -> Interval {
        if !(self.non_negative() && o.non_negative()) {
            return Interval::FULL;
        }
        let top = self.hi.max(o.hi) as u64;
        let bits = 64 - top.leading_zeros();
        Interval::new(0, ((1u128 << bits) - 1).min(i64::MAX as u128) as i64)
    }

    /// `a >> s` (arithmetic; the VM takes the count modulo 64).
    fn shr(self, s: Interval) -> Interval {
        if s.lo == s.hi {
            let k = (s.lo & 63) as u32;
            return Interval::new(self.lo >> k, self.hi >> k);
        }
        if self.non_negative() {
            Interval::new(0, self.hi)
        } else if self.hi < 0 {
            Interval::new(self.lo, -1)
        } else {
            Interval::new(self.lo, self.hi)
        }
    }

    /// `a << s` for a constant count (modulo 64): the product by `2^s` unless
    /// it may wrap.
    fn shl(self, s: Interval) -> Interval {
        if s.lo != s.hi {
            return Interval::FULL;
        }
        let k = (s.lo & 63) as u32;
        Interval::wide((self.lo as i128) << k, (self.hi as i128) << k)
    }
}

/// The dividend's interval per instruction (`DivI`, `ModI`, `DivIImm`,
/// `ModIImm`, and the sum or product of `AddModIImm`, `MulModIImm`), where it
/// is narrower than the full range.
#[derive(Clone, Debug, Default)]
pub struct Ranges {
    dividend: Vec<Option<Interval>>,
}

impl Ranges {
    /// The interval the dividend of the division at `pc` lies in, if known.
    pub fn dividend(&self, pc: u32) -> Option<Interval> {
        self.dividend.get(pc as usize).copied().flatten()
    }
}

/// Block visits after which a growing bound is widened.
const WIDEN_AFTER: u32 = 3;
/// Widenings of one register at one block to a threshold before one to the
/// end of the range.
const WIDEN_STEPS: u8 = 16;
/// Block visits per block (on average) before the pass gives up.
const STEP_BUDGET: usize = 64;

type State = Vec<Interval>;

/// The ranges of `f`'s dividends (empty when it has no integer division).
/// `leader` marks the first instruction of each basic block, `ops` says what
/// each instruction writes.
pub fn analyze(f: &Function, leader: &[bool], ops: &[Operands]) -> Ranges {
    let n = f.code.len();
    if n == 0 || !f.code.iter().any(divides) {
        return Ranges::default();
    }
    let mut pass = Pass::new(f, leader, ops);
    if !pass.run() {
        return Ranges::default();
    }
    let mut dividend = vec![None; n];
    for bi in 0..pass.starts.len() {
        let Some(mut st) = pass.entry[bi].clone() else {
            continue;
        };
        for pc in pass.starts[bi]..pass.end(bi) {
            let ins = &f.code[pc];
            dividend[pc] = dividend_in(&st, ins).filter(|&iv| iv != Interval::FULL);
            step(&mut st, ins, ops[pc].writes(), f);
        }
    }
    Ranges { dividend }
}

/// Whether the instruction is an integer division or remainder.
fn divides(ins: &Instr) -> bool {
    matches!(
        ins,
        Instr::DivI { .. }
            | Instr::ModI { .. }
            | Instr::DivIImm { .. }
            | Instr::ModIImm { .. }
            | Instr::AddModIImm { .. }
            | Instr::MulModIImm { .. }
    )
}

/// The interval of the dividend of an integer division or remainder in state
/// `st`: its register's, or of the sum or product a fused remainder divides.
fn dividend_in(st: &State, ins: &Instr) -> Option<Interval> {
    let get = |r: Reg| st.get(r as usize).copied();
    match *ins {
        Instr::DivI { a, .. }
        | Instr::ModI { a, .. }
        | Instr::DivIImm { a, .. }
        | Instr::ModIImm { a, .. } => get(a),
        Instr::AddModIImm { a, b, .. } => Some(get(a)?.add(get(b)?)),
        Instr::MulModIImm { a, b, .. } => Some(get(a)?.mul(get(b)?)),
        _ => None,
    }
}

/// The fixpoint computation's state: the blocks and their entry states.
struct Pass<'a> {
    f: &'a Function,
    ops: &'a [Operands],
    nregs: usize,
    /// First instruction of each block, ascending.
    starts: Vec<usize>,
    /// Block index of each instruction that starts one.
    block_of: Vec<Option<usize>>,
    /// Entry state of each block (`None`: not reached yet).
    entry: Vec<Option<State>>,
    visits: Vec<u32>,
    /// Per block and register: how many times its bounds were widened.
    widened: Vec<u8>,
    /// The bounds widening steps to, sorted ([`thresholds`]).
    thresholds: Vec<i64>,
}

impl<'a> Pass<'a> {
    fn new(f: &'a Function, leader: &[bool], ops: &'a [Operands]) -> Pass<'a> {
        let n = f.code.len();
        // The translator's blocks, and the handlers' entries (which need not
        // start one of those).
        let mut is_start = leader.to_vec();
        is_start.resize(n, false);
        is_start[0] = true;
        for h in &f.handlers {
            if let Some(s) = is_start.get_mut(h.target as usize) {
                *s = true;
            }
        }
        let starts: Vec<usize> = (0..n).filter(|&pc| is_start[pc]).collect();
        let mut block_of = vec![None; n];
        for (bi, &s) in starts.iter().enumerate() {
            block_of[s] = Some(bi);
        }
        let nb = starts.len();
        Pass {
            f,
            ops,
            nregs: f.nregs as usize,
            starts,
            block_of,
            entry: vec![None; nb],
            visits: vec![0; nb],
            widened: vec![0; nb * f.nregs as usize],
            thresholds: thresholds(f),
        }
    }

    /// One past the last instruction of block `bi`.
    fn end(&self, bi: usize) -> usize {
        self.starts.get(bi + 1).copied().unwrap_or(self.f.code.len())
    }

    /// Iterate to the fixpoint; false if the step budget ran out.
    fn run(&mut self) -> bool {
        let full = vec![Interval::FULL; self.nregs];
        // Blocks to visit, lowest first (in program order a loop's body
        // follows its entry), each queued at most once.
        let mut work: BinaryHeap<Reverse<usize>> = BinaryHeap::new();
        let mut queued = vec![false; self.starts.len()];
        self.entry[0] = Some(full.clone());
        work.push(Reverse(0));
        queued[0] = true;
        for h in &self.f.handlers {
            if let Some(bi) = self.block_of.get(h.target as usize).copied().flatten() {
                self.entry[bi] = Some(full.clone());
                if !std::mem::replace(&mut queued[bi], true) {
                    work.push(Reverse(bi));
                }
            }
        }
        let mut budget = STEP_BUDGET * self.starts.len();
        while let Some(Reverse(bi)) = work.pop() {
            queued[bi] = false;
            if budget == 0 {
                return false;
            }
            budget -= 1;
            let Some(mut st) = self.entry[bi].clone() else {
                continue;
            };
            let last = self.end(bi) - 1;
            for pc in self.starts[bi]..last {
                step(&mut st, &self.f.code[pc], self.ops[pc].writes(), self.f);
            }
            for (succ, out) in edges(&st, &self.f.code[last], last, self.ops[last].writes(), self.f) {
                let Some(sb) = self.block_of.get(succ).copied().flatten() else {
                    continue;
                };
                if self.merge(sb, out) && !std::mem::replace(&mut queued[sb], true) {
                    work.push(Reverse(sb));
                }
            }
        }
        true
    }

    /// Join `incoming` into block `bi`'s entry state (widening after a few
    /// visits); whether it changed.
    fn merge(&mut self, bi: usize, incoming: State) -> bool {
        self.visits[bi] += 1;
        let widen = self.visits[bi] > WIDEN_AFTER;
        let Some(old) = &mut self.entry[bi] else {
            self.entry[bi] = Some(incoming);
            return true;
        };
        let mut changed = false;
        for (r, (o, i)) in old.iter_mut().zip(incoming).enumerate() {
            let mut j = o.union(i);
            if j == *o {
                continue;
            }
            if widen {
                // A bound that keeps moving goes to the next threshold, and
                // after a few of those to the end of the range (but one), so
                // that each register of each block widens a bounded number
                // of times whatever the number of constants.
                let count = &mut self.widened[bi * self.nregs + r];
                *count = count.saturating_add(1);
                let far = *count > WIDEN_STEPS;
                if j.lo < o.lo {
                    j.lo = if far {
                        j.lo.min(i64::MIN + 1)
                    } else {
                        widen_down(&self.thresholds, j.lo)
                    };
                }
                if j.hi > o.hi {
                    j.hi = if far {
                        j.hi.max(i64::MAX - 1)
                    } else {
                        widen_up(&self.thresholds, j.hi)
                    };
                }
            }
            *o = j;
            changed = true;
        }
        changed
    }
}

/// The bounds widening steps to: the constants `f` loads (`i < n` for a
/// constant `n` stops at `n - 1`) and branches on, the largest remainders of
/// its divisors, 0 and -1, and the ends of the range but one (a loop counter
/// that may reach `i64::MAX` may wrap; one that stops below it does not).
/// Not the operands of arithmetic: they would only add steps.
fn thresholds(f: &Function) -> Vec<i64> {
    let mut t = vec![0, -1, i64::MIN + 1, i64::MAX - 1];
    for ins in &f.code {
        match *ins {
            Instr::LoadInt { imm, .. } => t.extend([imm as i64 - 1, imm as i64]),
            Instr::LoadConst { k, .. } => {
                if let Some(&Const::Int(c)) = f.consts.get(k as usize) {
                    t.extend([c.saturating_sub(1), c]);
                }
            }
            Instr::DivIImm { imm, .. }
            | Instr::ModIImm { imm, .. }
            | Instr::AddModIImm { imm, .. }
            | Instr::MulModIImm { imm, .. } => {
                let m = (imm as i64).abs() - 1;
                t.extend([m, -m]);
            }
            Instr::BrEqIImm { imm, .. }
            | Instr::BrNeIImm { imm, .. }
            | Instr::BrLtIImm { imm, .. }
            | Instr::BrLeIImm { imm, .. }
            | Instr::BrGtIImm { imm, .. }
            | Instr::BrGeIImm { imm, .. } => {
                let c = imm as i64;
                t.extend([c - 1, c, c + 1]);
            }
            _ => {}
        }
    }
    t.sort_unstable();
    t.dedup();
    t
}

/// The upper bound `v` widened: the first threshold at or past twice `v`
/// (so that dense constants are passed in a few steps, where a bound that
/// keeps growing by a small step would stop at each).
fn widen_up(t: &[i64], v: i64) -> i64 {
    let target = if v > 0 { v.saturating_mul(2) } else { v };
    t.iter()
        .copied()
        .find(|&c| c >= target)
        .unwrap_or(i64::MAX)
        .max(v)
}

/// The lower bound `v` widened, as [`widen_up`].
fn widen_down(t: &[i64], v: i64) -> i64 {
    let target = if v < 0 { v.saturating_mul(2) } else { v };
    t.iter()
        .rev()
        .copied()
        .find(|&c| c <= target)
        .unwrap_or(i64::MIN)
        .min(v)
}

/// The effect on `st` of one instruction (of a branch: before it branches),
/// which writes `def`.
fn step(st: &mut State, ins: &Instr, def: Option<Reg>, f: &Function) {
    let nregs = st.len();
    let get = |st: &State, r: Reg| st.get(r as usize).copied().unwrap_or(Interval::FULL);
    let c = |imm: i32| Interval::constant(imm as i64);
    let (dst, v) = match *ins {
        Instr::Mov { dst, src } => (dst, get(st, src)),
        Instr::LoadInt { dst, imm } => (dst, c(imm)),
        Instr::LoadConst { dst, k } => match f.consts.get(k as usize) {
            Some(&Const::Int(v)) => (dst, Interval::constant(v)),
            _ => (dst, Interval::FULL),
        },
        Instr::AddI { dst, a, b } => (dst, get(st, a).add(get(st, b))),
        Instr::SubI { dst, a, b } => (dst, get(st, a).sub(get(st, b))),
        Instr::MulI { dst, a, b } => (dst, get(st, a).mul(get(st, b))),
        Instr::DivI { dst, a, b } => (dst, get(st, a).div(get(st, b))),
        Instr::ModI { dst, a, b } => (dst, get(st, a).rem(get(st, b))),
        Instr::AddIImm { dst, a, imm } => (dst, get(st, a).add(c(imm))),
        Instr::MulIImm { dst, a, imm } => (dst, get(st, a).mul(c(imm))),
        Instr::DivIImm { dst, a, imm } => (dst, get(st, a).div(c(imm))),
        Instr::ModIImm { dst, a, imm } => (dst, get(st, a).rem(c(imm))),
        Instr::AddModIImm { dst, a, b, imm } => (dst, get(st, a).add(get(st, b)).rem(c(imm))),
        Instr::MulModIImm { dst, a, b, imm } => (dst, get(st, a).mul(get(st, b)).rem(c(imm))),
        Instr::BitAnd { dst, a, b } => (dst, get(st, a).and(get(st, b))),
        Instr::BitAndImm { dst, a, imm } => (dst, get(st, a).and(c(imm))),
        Instr::BitOr { dst, a, b } | Instr::BitXor { dst, a, b } => (dst, get(st, a).or_xor(get(st, b))),
        Instr::BitOrImm { dst, a, imm } | Instr::BitXorImm { dst, a, imm } => {
            (dst, get(st, a).or_xor(c(imm)))
        }
        Instr::Shr { dst, a, b } => (dst, get(st, a).shr(get(st, b))),
        Instr::ShrImm { dst, a, imm } => (dst, get(st, a).shr(c(imm))),
        Instr::Shl { dst, a, b } => (dst, get(st, a).shl(get(st, b))),
        Instr::ShlImm { dst, a, imm } => (dst, get(st, a).shl(c(imm))),
        Instr::NegI { dst, src } => (dst, Interval::constant(0).sub(get(st, src))),
        Instr::ArrLen { dst, .. } => (dst, Interval::new(0, i64::MAX)),
        // `ForLoop` adds one to its counter; the edges narrow it ([`edges`]).
        Instr::ForLoop { ctr, .. } => (ctr, get(st, ctr).add(Interval::constant(1))),
        _ => {
            // Whatever else an instruction writes is not known here.
            if let Some(d) = def.filter(|&d| (d as usize) < nregs) {
                st[d as usize] = Interval::FULL;
            }
            return;
        }
    };
    if (dst as usize) < nregs {
        st[dst as usize] = v;
    }
}

/// The states leaving the block-ending instruction `ins` at `pc` along each
/// normal edge, narrowed by the comparison it branches on (an edge whose
/// comparison cannot hold is left out).
fn edges(st: &State, ins: &Instr, pc: usize, def: Option<Reg>, f: &Function) -> Vec<(usize, State)> {
    let mut after = st.clone();
    step(&mut after, ins, def, f);
    let Some(target) = ins.jump_target().map(|t| t as usize) else {
        return ins.successors(pc).map(|s| (s, after.clone())).collect();
    };
    let next = pc + 1;
    let imm = |v: i16| Some(Interval::constant(v as i64));
    // (a, b-or-immediate, the comparison on the taken edge).
    let cmp = match *ins {
        Instr::BrEqI { a, b, .. } => Some((a, None, Some(b), Cmp::Eq)),
        Instr::BrNeI { a, b, .. } => Some((a, None, Some(b), Cmp::Ne)),
        Instr::BrLtI { a, b, .. } => Some((a, None, Some(b), Cmp::Lt)),
        Instr::BrLeI { a, b, .. } => Some((a, None, Some(b), Cmp::Le)),
        Instr::BrEqIImm { a, imm: k, .. } => Some((a, imm(k), None, Cmp::Eq)),
        Instr::BrNeIImm { a, imm: k, .. } => Some((a, imm(k), None, Cmp::Ne)),
        Instr::BrLtIImm { a, imm: k, .. } => Some((a, imm(k), None, Cmp::Lt)),
        Instr::BrLeIImm { a, imm: k, .. } => Some((a, imm(k), None, Cmp::Le)),
        Instr::BrGtIImm { a, imm: k, .. } => Some((a, imm(k), None, Cmp::Gt)),
        Instr::BrGeIImm { a, imm: k, .. } => Some((a, imm(k), None, Cmp::Ge)),
        _ => None,
    };
    let mut out = Vec::with_capacity(2);
    if let Instr::ForLoop { ctr, limit, .. } = *ins {
        // Taken: the incremented counter is below the limit.
        if let Some(s) = narrow(&after, ctr, None, Some(limit), Cmp::Lt) {
            out.push((target, s));
        }
        if ins.falls_through() {
            out.push((next, after));
        }
        return out;
    }
    match cmp {
        Some((a, k, b, op)) => {
            if let Some(s) = narrow(&after, a, k, b, op) {
                out.push((target, s));
            }
            if let Some(s) = narrow(&after, a, k, b, op.negate()) {
                out.push((next, s));
            }
        }
        None => out.extend(ins.successors(pc).map(|s| (s, after.clone()))),
    }
    out
}

/// An integer comparison `a OP b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn negate(self) -> Cmp {
        match self {
            Cmp::Eq => Cmp::Ne,
            Cmp::Ne => Cmp::Eq,
            Cmp::Lt => Cmp::Ge,
            Cmp::Le => Cmp::Gt,
            Cmp::Gt => Cmp::Le,
            Cmp::Ge => Cmp::Lt,
        }
    }
}

/// `st` with register `a` and the other operand (register `b`, or the
/// constant `k`) narrowed so that `a OP b` holds; `None` if it cannot.
fn narrow(st: &State, a: Reg, k: Option<Interval>, b: Option<Reg>, op: Cmp) -> Option<State> {
    let get = |r: Reg| st.get(r as usize).copied().unwrap_or(Interval::FULL);
    let x = get(a);
    let y = match (k, b) {
        (Some(k), _) => k,
        (None, Some(b)) => get(b),
        (None, None) => return Some(st.clone()),
    };
    let (nx, ny) = match op {
        Cmp::Eq => {
            let m = x.meet(y.lo, y.hi)?;
            (m, m)
        }
        Cmp::Ne => {
            // Only a constant at an end of the other's range narrows it.
            let cut = |v: Interval, c: Interval| -> Option<Interval> {
                if c.lo != c.hi {
                    return Some(v);
                }
                match (v.lo == c.lo, v.hi == c.lo) {
                    (true, true) => None,
                    (true, false) => Some(Interval::new(v.lo + 1, v.hi)),
                    (false, true) => Some(Interval::new(v.lo, v.hi - 1)),
                    (false, false) => Some(v),
                }
            };
            (cut(x, y)?, cut(y, x)?)
        }
        Cmp::Lt => (
            x.meet(i64::MIN, y.hi.checked_sub(1)?)?,
            y.meet(x.lo.checked_add(1)?, i64::MAX)?,
        ),
        Cmp::Le => (x.meet(i64::MIN, y.hi)?, y.meet(x.lo, i64::MAX)?),
        Cmp::Gt => (
            x.meet(y.lo.checked_add(1)?, i64::MAX)?,
            y.meet(i64::MIN, x.hi.checked_sub(1)?)?,
        ),
        Cmp::Ge => (x.meet(y.lo, i64::MAX)?, y.meet(i64::MIN, x.hi)?),
    };
    let mut s = st.clone();
    if (a as usize) < s.len() {
        s[a as usize] = nx;
    }
    if let (None, Some(b)) = (k, b) {
        if (b as usize) < s.len() && b != a {
            s[b as usize] = ny;
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{compile_source, Stop};

    /// The dividend intervals of function `name` of `src`, in code order.
    fn dividends(src: &str, name: &str) -> Vec<Option<Interval>> {
        let c = compile_source(
            std::path::Path::new("t.bp"),
            src.as_bytes().to_vec(),
            Stop::Bytecode,
        );
        let p = c.program.expect("compiles");
        let f = p.functions.iter().find(|f| f.name == name).expect("function");
        let an = crate::jit::analysis::analyze(&p, f, false);
        (0..f.code.len())
            .filter(|&pc| divides(&f.code[pc]))
            .map(|pc| an.ranges.dividend(pc as u32))
            .collect()
    }

    #[test]
    fn an_accumulator_modulo_m_stays_below_twice_m() {
        let src = "def main() -> int:\n    let total: int = 0\n    for i in range(0, 50000000):\n        total = (total + i * 7 + (i ^ (i >> 3))) % 1000000007\n    print(total)\n    return 0\n";
        let d = dividends(src, "main");
        let hi = 1_000_000_006 + 49_999_999 * 7 + ((1 << 26) - 1);
        assert_eq!(d, vec![Some(Interval::new(0, hi))]);
        assert!(hi < 2 * 1_000_000_007);
    }

    #[test]
    fn a_fused_remainder_divides_the_sum_or_product() {
        // `AddModIImm` and `MulModIImm`: the dividend is the sum or product of
        // the operands, not either operand.
        let src = "def main() -> int:\n    let t: int = 0\n    for i in range(0, 1000):\n        let j: int = i % 10\n        let k: int = 0 - i\n        t = t + (i * j) % 7 + (j + k) % 5\n    print(t)\n    return 0\n";
        let d = dividends(src, "main");
        assert_eq!(
            d,
            vec![
                Some(Interval::new(0, 999)),
                Some(Interval::new(0, 999 * 9)),
                Some(Interval::new(-999, 9))
            ]
        );
    }

    #[test]
    fn a_counter_below_an_unknown_limit_is_not_negative() {
        let src = "def f(n: int) -> int:\n    let t: int = 0\n    for i in range(0, n):\n        t = t + i % 3\n    return t\n\ndef main() -> int:\n    print(f(9))\n    return 0\n";
        assert_eq!(dividends(src, "f"), vec![Some(Interval::new(0, i64::MAX - 1))]);
    }

    #[test]
    fn a_counter_the_body_sets_and_a_parameter_are_unknown() {
        let src = "def f(n: int) -> int:\n    let t: int = n % 5\n    for i in range(0, 10):\n        if i == 4:\n            i = 0 - n\n        t = t + i % 3\n    return t\n\ndef main() -> int:\n    print(f(9))\n    return 0\n";
        assert_eq!(dividends(src, "f"), vec![None, None]);
    }

    #[test]
    fn many_loops_and_constants_stay_within_the_step_budget() {
        // Counters below an unknown limit in 60 loops, among 120 constants:
        // each widens through a few thresholds, then to the end of the range.
        let mut src = String::from("def f(n: int) -> int:\n    let t: int = 0\n");
        for k in 0..60 {
            src += &format!(
                "    for i{k} in range(0, n):\n        t = (t + i{k} % {}) % {}\n",
                7 + k,
                1000 + k
            );
        }
        src += "    return t\n\ndef main() -> int:\n    print(f(3))\n    return 0\n";
        let d = dividends(&src, "f");
        assert_eq!(d.len(), 120);
        // `i % c` of a counter that is not negative, `t + ...` too.
        assert!(d.iter().all(|iv| iv.is_some_and(|iv| iv.lo >= 0)), "{d:?}");
    }

    #[test]
    fn a_handler_starts_from_nothing_known() {
        let src = "def f(n: int) -> int:\n    let k: int = 0\n    let t: int = 0\n    for i in range(0, 10):\n        try:\n            k = i\n            if i == n:\n                throw \"x\"\n        catch e:\n            k = 0 - 100\n        t = t + k % 4\n    return t\n\ndef main() -> int:\n    print(f(3))\n    return 0\n";
        let d = dividends(src, "f");
        // `k` is -100 after the handler: whatever is known must include it.
        let k = d.last().copied().flatten();
        assert!(k.is_none_or(|k| k.lo <= -100), "{d:?}");
    }

    #[test]
    fn remainder_bounds_follow_the_dividend_sign() {
        let m = Interval::constant(1_000_000_007);
        assert_eq!(Interval::new(0, 10).rem(m), Interval::new(0, 10));
        assert_eq!(Interval::new(0, i64::MAX).rem(m), Interval::new(0, 1_000_000_006));
        assert_eq!(Interval::new(-5, -1).rem(m), Interval::new(-5, 0));
        assert_eq!(
            Interval::FULL.rem(m),
            Interval::new(-1_000_000_006, 1_000_000_006)
        );
        assert_eq!(Interval::new(3, 9).rem(Interval::FULL), Interval::new(0, 9));
    }

    #[test]
    fn arithmetic_that_may_wrap_is_unknown() {
        let big = Interval::new(0, i64::MAX);
        assert_eq!(big.add(Interval::constant(1)), Interval::FULL);
        assert_eq!(big.mul(Interval::constant(2)), Interval::FULL);
        assert_eq!(
            Interval::new(0, 10).mul(Interval::new(-3, 7)),
            Interval::new(-30, 70)
        );
        assert_eq!(
            Interval::new(0, 1 << 40).shl(Interval::constant(30)),
            Interval::FULL
        );
        assert_eq!(
            Interval::new(i64::MIN, 0).sub(Interval::constant(1)),
            Interval::FULL
        );
    }

    #[test]
    fn bit_operations_of_non_negative_values_stay_below_a_power_of_two() {
        let i = Interval::new(0, 49_999_999);
        let s = i.shr(Interval::constant(3));
        assert_eq!(s, Interval::new(0, 6_249_999));
        assert_eq!(i.or_xor(s), Interval::new(0, (1 << 26) - 1));
        assert_eq!(
            Interval::new(-1, 5).and(Interval::constant(255)),
            Interval::new(0, 255)
        );
        assert_eq!(Interval::new(-1, 5).or_xor(Interval::constant(1)), Interval::FULL);
    }

    #[test]
    fn narrowing_drops_impossible_edges() {
        let st = vec![Interval::new(0, 10), Interval::constant(5)];
        assert_eq!(
            narrow(&st, 0, None, Some(1), Cmp::Lt).unwrap()[0],
            Interval::new(0, 4)
        );
        assert_eq!(
            narrow(&st, 0, None, Some(1), Cmp::Ge).unwrap()[0],
            Interval::new(5, 10)
        );
        assert!(narrow(&st, 1, Some(Interval::constant(9)), None, Cmp::Eq).is_none());
        assert_eq!(
            narrow(&st, 0, Some(Interval::constant(0)), None, Cmp::Ne).unwrap()[0],
            Interval::new(1, 10)
        );
    }
}
