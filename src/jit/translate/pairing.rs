//! Float divisions paired across two iterations of an unrolled loop. A
//! division's throughput bounds loops such as spectral_norm's
//! `s = s + a(i, j) * v[j]`, whose `a(i, j) = 1.0 / int_to_float(...)` is a
//! pure function of the counter `j` and of values the loop never changes:
//! `divsd` accepts a division only every few cycles, and the rest of the
//! iteration is cheaper. `divpd` divides two lanes in the same time.
//!
//! So an innermost counted loop whose body is one basic block (its inlined
//! callees without branches) and divides floats is translated twice per trip
//! around it (*unrolled*): copy A for counter `j`, its `ForLoop` continuing into
//! copy B (the same instructions, for `j + 1`) unless the loop ends there, and
//! copy B's `ForLoop` going back to the header. Each copy is the bytecode
//! translated as it is, so every exit of either copy leaves the state the
//! interpreter would have at that instruction. A division of copy A computes
//! its operands for `j + 1` too (its pure instructions again, with the counter
//! plus one: [`Tr::next_iteration`]), divides both pairs at once and passes the
//! second quotient to the same division in copy B, which divides nothing. The
//! quotients are those of `fdiv` (both are correctly rounded). At the loop's
//! last iteration, copy A's second quotient is for a counter past the end: it
//! is computed (division never traps) and dropped.
//!
//! A loop without a division that pairs is not unrolled.

use super::*;
use cranelift_codegen::ir::{types::F64X2, InstBuilderBase, ValueDef};
use std::collections::{HashMap, HashSet};

/// At most this many instructions are computed again for the next
/// iteration's operands of one division.
const MAX_RECOMPUTED: usize = 24;

/// The unrolled loop being translated.
pub(super) struct Unroll {
    /// Its index in `Analysis::cached`.
    li: usize,
    /// Translating copy B (the second).
    second: bool,
    /// Per division of copy A, in the order translated: the second quotient,
    /// if it paired. Copy B translates the same divisions in the same order.
    quotients: Vec<Option<CV>>,
    /// Copy B's divisions translated so far.
    taken: usize,
}

impl<'a, 'f> Tr<'a, 'f> {
    /// At the header of cached loop `li`: start unrolling it if the analysis
    /// found it qualifies (`CachedLoop::unrolled`).
    pub(super) fn start_unroll(&mut self, li: usize) {
        self.unroll = self.an.cached[li].unrolled.then(|| Unroll {
            li,
            second: false,
            quotients: Vec::new(),
            taken: 0,
        });
    }

    /// The `ForLoop` at `pc` ending an unrolled loop's copy A whose divisions
    /// paired: continue into copy B (translated here) unless the loop ends.
    /// Returns `false` (nothing emitted) for any other `ForLoop`.
    pub(super) fn unrolled_for_loop(&mut self, pc: u32, ctr: Reg, limit: Reg) -> Result<bool, String> {
        let Some(u) = self.unroll.as_mut() else {
            return Ok(false);
        };
        let header = self.an.cached[u.li].header;
        if u.second || u.quotients.iter().all(Option::is_none) || self.an.cached[u.li].end != pc {
            self.unroll = None;
            return Ok(false);
        }
        u.second = true;
        let more = self.for_loop_step(pc, ctr, limit);
        let second = self.b.create_block();
        let after = self.edge(pc + 1)?;
        self.b.ins().brif(more, second, &[], after, &[]);
        self.b.seal_block(second);
        self.b.switch_to_block(second);
        self.vn.forget_block();
        for q in header..=pc {
            let open = self.translate_at(q)?;
            if !open && q != pc {
                return Err("an unrolled loop's body closed its block".into());
            }
        }
        self.unroll = None;
        Ok(true)
    }

    /// `x / y` for the `DivF` being translated in an unrolled loop: in copy
    /// A, paired with the next iteration's if it can be ([`Tr::pair_division`]);
    /// in copy B, the quotient copy A computed for it. `None` otherwise.
    pub(super) fn paired_division(&mut self, x: CV, y: CV) -> Option<CV> {
        let u = self.unroll.as_mut()?;
        if u.second {
            let q = u.quotients.get(u.taken).copied().flatten();
            u.taken += 1;
            return q;
        }
        let li = u.li;
        let pair = self.pair_division(li, x, y);
        self.unroll.as_mut()?.quotients.push(pair.map(|(_, q1)| q1));
        pair.map(|(q0, _)| q0)
    }

    /// `x / y` and the same division for the next iteration of loop `li`,
    /// divided at once, if both operands are pure functions of the counter
    /// and of registers the loop never writes (nothing emitted but dead code
    /// otherwise).
    fn pair_division(&mut self, li: usize, x: CV, y: CV) -> Option<(CV, CV)> {
        let header = self.an.cached[li].header;
        let ctr = self.an.cached[li].counted.as_ref()?.ctr;
        let w = self.an.webs.at(header, ctr) as usize;
        if self.vty[w] != I64 {
            return None;
        }
        let j = self.b.use_var(self.vars[w]);
        let invariant = self.invariant_values(li);
        let j1 = self.b.ins().iadd_imm_s(j, 1);
        let mut next = HashMap::from([(j, j1)]);
        let mut budget = MAX_RECOMPUTED;
        let x1 = self.next_iteration(x, &invariant, &mut next, &mut budget)?;
        let y1 = self.next_iteration(y, &invariant, &mut next, &mut budget)?;
        if x1 == x && y1 == y {
            // Not a function of the counter: Cranelift hoists it.
            return None;
        }
        let xs = self.pair(x, x1);
        let ys = self.pair(y, y1);
        let qs = self.b.ins().fdiv(xs, ys);
        let q0 = self.b.ins().extractlane(qs, 0);
        let q1 = self.b.ins().extractlane(qs, 1);
        Some((q0, q1))
    }

    /// `[a, b]` as an `f64x2`.
    fn pair(&mut self, a: CV, b: CV) -> CV {
        let v = self.b.ins().scalar_to_vector(F64X2, a);
        self.b.ins().insertlane(v, b, 1)
    }

    /// The current values of the number registers loop `li` never writes
    /// (live at its header): the same in every iteration.
    fn invariant_values(&mut self, li: usize) -> HashSet<CV> {
        let header = self.an.cached[li].header;
        let written = self.an.cached[li].written;
        let live = self.live_in(header);
        let mut set = HashSet::new();
        for r in live.iter() {
            if written.contains(r) || self.is_ref(r) || r as usize >= self.f.nregs as usize {
                continue;
            }
            let w = self.an.webs.at(header, r) as usize;
            set.insert(self.b.use_var(self.vars[w]));
        }
        set
    }

    /// The value `v` has in the next iteration (the counter's value mapped in
    /// `next` to itself plus one): `v` itself if it depends only on
    /// `invariant` values, else its pure instructions emitted again on the
    /// next iteration's values. `None` if it depends on anything else (a load,
    /// a block parameter, a call), or takes more than `budget` instructions.
    fn next_iteration(
        &mut self,
        v: CV,
        invariant: &HashSet<CV>,
        next: &mut HashMap<CV, CV>,
        budget: &mut usize,
    ) -> Option<CV> {
        let v = self.b.func.dfg.resolve_aliases(v);
        if let Some(&n) = next.get(&v) {
            return Some(n);
        }
        if invariant.contains(&v) {
            return Some(v);
        }
        let ValueDef::Result(inst, 0) = self.b.func.dfg.value_def(v) else {
            return None;
        };
        let op = self.b.func.dfg.insts[inst].opcode();
        let pure = !(op.can_trap()
            || op.can_load()
            || op.can_store()
            || op.other_side_effects()
            || op.is_call()
            || op.is_branch()
            || op.is_terminator());
        if !pure || self.b.func.dfg.inst_results(inst).len() != 1 || *budget == 0 {
            return None;
        }
        *budget -= 1;
        let args = self.b.func.dfg.inst_args(inst).to_vec();
        let mut mapped = Vec::with_capacity(args.len());
        for &a in &args {
            mapped.push(self.next_iteration(a, invariant, next, budget)?);
        }
        let n = if mapped == args {
            v
        } else {
            let ctrl = self.b.func.dfg.ctrl_typevar(inst);
            let dfg = &mut self.b.func.dfg;
            let mut data = dfg.insts[inst].deep_clone(&mut dfg.value_lists);
            data.arguments_mut(&mut dfg.value_lists).copy_from_slice(&mapped);
            let (copy, dfg) = self.b.ins().build(data, ctrl);
            dfg.first_result(copy)
        };
        next.insert(v, n);
        Some(n)
    }
}
