//! Bytecode analyses used by the translator: reachability, basic-block leaders,
//! register liveness (for the write-back at side exits) and a per-register machine
//! type guess. What each instruction reads, writes and branches to comes from the
//! bytecode's own description ([`Instr::operands`], [`Instr::successors`]).

use super::sinking::{self, SunkStruct};
use super::{inlining, ranges};
use crate::bytecode::{Const, Flow, Function, Instr, Op, Program, Reg, Resizes, SiteUse};
use bp_runtime::builtins;
use bp_runtime::value::ValKind;
use std::collections::BTreeMap;

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

/// Loop headers (targets of `Loop` and `ForLoop` back-edges), sorted, without
/// duplicates.
pub fn loop_headers(f: &Function) -> Vec<u32> {
    let mut v: Vec<u32> = f
        .code
        .iter()
        .filter(|i| i.op().flow().is_back_edge())
        .filter_map(|i| i.jump_target())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The loop headers (sorted) that a version entered at the loops `osr_loops`
/// (`abi::osr_bit`) has entries for: those a back-edge of one of the loops
/// jumps to (the tier asks for an entry by the `loop_id` of the back-edge the
/// VM counted).
pub fn entered_headers(f: &Function, osr_loops: u64) -> Vec<u32> {
    let mut bits: BTreeMap<u32, u64> = BTreeMap::new();
    for ins in &f.code {
        if let (Some(h), Some(id)) = (ins.jump_target(), ins.loop_id()) {
            *bits.entry(h).or_insert(0) |= super::abi::osr_bit(id);
        }
    }
    bits.into_iter()
        .filter(|&(_, b)| b & osr_loops != 0)
        .map(|(h, _)| h)
        .collect()
}

/// Results of the analyses of one function.
pub struct Analysis {
    /// Instruction reachable from pc 0 or a loop header, through normal edges
    /// and from an instruction to the handlers covering it (compiled code
    /// catches exceptions itself).
    pub reachable: Vec<bool>,
    /// Per instruction: a `CallIndirect` or `CallMethod` that writes its
    /// destination whenever it returns ([`writes_result`]), whose operands
    /// here count it as written rather than read.
    pub writes_result: Vec<bool>,
    /// Instruction starts a basic block.
    pub leader: Vec<bool>,
    /// Registers live before each instruction (including what an exception
    /// handler covering it may read).
    pub live_in: Vec<RegSet>,
    /// Loop headers (OSR and re-entry points).
    pub headers: Vec<u32>,
    /// The registers split into webs (see `translate::web_variables` for their
    /// Cranelift variables).
    pub webs: Webs,
    /// Loops whose arrays' headers are read once, before the loop (sorted by
    /// header).
    pub cached: Vec<CachedLoop>,
    /// Per instruction: the innermost loop of `cached` containing it (the one
    /// with the greatest header), if any. The others containing it follow by
    /// [`CachedLoop::parent`].
    pub cached_innermost: Vec<Option<u32>>,
    /// Per register: it holds references (GC root).
    pub is_ref: Vec<bool>,
    /// Per instruction: its operands.
    pub ops: Vec<Operands>,
    /// Per instruction: the exception handlers covering it (indices into
    /// `Function::handlers`, innermost first).
    pub covering: Vec<Vec<u32>>,
    /// Per instruction: a call whose callees the translator inlines
    /// ([`inlining::plan`]).
    pub inlined: Vec<bool>,
    /// What is left of the inlining budget for the other call sites.
    pub inline_budget: usize,
    /// The `CallIndirect`s planned inlined, by pc: the functions each checks
    /// its callee against ([`inlining::Plan::closure_callees`]).
    pub closure_callees: std::collections::HashMap<u32, Vec<u32>>,
    /// Per instruction: an array access whose bounds its loop's pre-header
    /// checks ([`bounds_checks`]).
    pub hoisted: Vec<bool>,
    /// Per web: a reference web read from its frame slot ([`frame_read_webs`]).
    pub frame_read: Vec<bool>,
    /// Per web: a reference web whose every definition loads a string of the
    /// constant pool ([`constant_webs`]): never stored to its frame slot.
    pub constant: Vec<bool>,
    /// The intervals of the dividends of integer divisions ([`ranges`]).
    pub ranges: ranges::Ranges,
    /// Per instruction: an inlined `Call` whose tuple result is never
    /// allocated ([`virtual_tuples`]).
    pub virtual_tuple: Vec<bool>,
    /// Per instruction: a `TupleGet` of such a tuple.
    pub virtual_read: Vec<bool>,
    /// Per instruction: an inlined `Call` whose struct result is never
    /// allocated ([`virtual_structs`]).
    pub virtual_struct: Vec<bool>,
    /// Per instruction: the inlined `Call` that reads such a struct, with the
    /// pc of the `Call` that made it: this one's exits are that one's.
    pub rewind_exit: Vec<Option<u32>>,
    /// Per instruction: an inlined `Call` whose struct result is only read
    /// field by field before it dies ([`structs_read_apart`]): never allocated
    /// when the translator makes virtual values.
    pub struct_read_apart: Vec<bool>,
    /// Per instruction: the same for an inlined `Call` whose callee returns
    /// an array literal of scalars that the caller only reads at constant
    /// indices within it ([`arrays_read_apart`]).
    pub array_read_apart: Vec<bool>,
    /// Per instruction: an `ArrGet` of an invariant row ([`invariant_rows`]).
    pub row_load: Vec<Option<RowRef>>,
    /// Per web: a web whose every value in its loop is that row: accesses
    /// through it use the row's length and data pointer from the pre-header.
    pub row_web: Vec<Option<RowRef>>,
    /// Per instruction: a substring kept as a slice ([`virtual_slices`]).
    pub virtual_slice: Vec<bool>,
    /// The reads of those slices (their registers hold null).
    pub slice_reads: SliceReads,
}

/// The analyses of function `f` of program `p`, for its first version
/// (`speculate`: see `TransCtx::speculate`) or a later one.
pub fn analyze(p: &Program, f: &Function, speculate: bool) -> Analysis {
    let n = f.code.len();
    let writes_result: Vec<bool> = f.code.iter().map(|i| writes_result(p, f, i)).collect();
    let ops: Vec<Operands> = f
        .code
        .iter()
        .zip(&writes_result)
        .map(|(i, &writes)| {
            let mut o = i.operands(p, f);
            // (Its destination is the last register it reads.)
            if let (true, Some(d)) = (writes, o.dst) {
                o.uses.pop();
                o.def = Some(d);
            }
            o
        })
        .collect();
    let headers = loop_headers(f);

    let covering = f.covering_handlers();
    let handler_targets = |pc: usize| {
        covering[pc]
            .iter()
            .map(|&hi| f.handlers[hi as usize].target as usize)
    };

    // Reachability from the entry and every loop header, through normal
    // edges and into the handlers.
    let mut reachable = vec![false; n];
    let mut work: Vec<usize> = vec![0];
    work.extend(headers.iter().map(|&h| h as usize));
    while let Some(pc) = work.pop() {
        if pc >= n || reachable[pc] {
            continue;
        }
        reachable[pc] = true;
        for s in f.code[pc].successors(pc).chain(handler_targets(pc)) {
            if s < n && !reachable[s] {
                work.push(s);
            }
        }
    }

    // Leaders: the entry, loop headers, handler targets, jump targets and the
    // instructions after jumps.
    let mut leader = vec![false; n + 1];
    leader[0] = true;
    for &h in &headers {
        leader[h as usize] = true;
    }
    for h in &f.handlers {
        if let Some(l) = leader.get_mut(h.target as usize) {
            *l = true;
        }
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
            for h in handler_targets(pc) {
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
    let mut webs = build_webs(f, &ops, &headers, &covering, &live_in, nregs);
    webs.is_float = float_guess(p, f, &ops, &webs);

    let inlining::Plan {
        inlined,
        budget: inline_budget,
        closure_callees,
    } = inlining::plan(p, f, speculate);
    let ends = loop_ends(f, &headers);
    let mut cached = cached_loops(p, f, &ops, &reachable, &headers, &ends, &inlined);
    let cached_innermost = nest_cached_loops(&mut cached, n);
    let hoisted = bounds_checks(f, &ops, &leader, &webs, &mut cached, &cached_innermost);
    for l in cached.iter_mut() {
        l.unrolled = unrollable(p, f, l, &leader, &reachable, &inlined);
    }
    outermost_promotions(&mut cached);
    let ranges = ranges::analyze(f, &leader, &ops);

    let mut a = Analysis {
        reachable,
        leader,
        live_in,
        headers,
        webs,
        writes_result,
        cached,
        cached_innermost,
        is_ref,
        ops,
        covering,
        inlined,
        inline_budget,
        closure_callees,
        hoisted,
        frame_read: Vec::new(),
        constant: Vec::new(),
        ranges,
        virtual_tuple: Vec::new(),
        virtual_read: Vec::new(),
        virtual_struct: Vec::new(),
        struct_read_apart: Vec::new(),
        array_read_apart: Vec::new(),
        rewind_exit: Vec::new(),
        row_load: Vec::new(),
        row_web: Vec::new(),
        virtual_slice: Vec::new(),
        slice_reads: SliceReads::new(),
    };
    a.constant = constant_webs(f, &a);
    a.frame_read = frame_read_webs(f, &a, &ends);
    for (read, _) in a.frame_read.iter_mut().zip(&a.constant).filter(|(_, &c)| c) {
        *read = false;
    }
    (a.virtual_tuple, a.virtual_read) = virtual_tuples(p, f, &a);
    (a.virtual_struct, a.rewind_exit) = virtual_structs(p, f, &a);
    a.struct_read_apart = structs_read_apart(p, f, &a);
    a.array_read_apart = arrays_read_apart(p, f, &a);
    (a.virtual_slice, a.slice_reads) = virtual_slices(f, &a);
    if speculate {
        (a.row_load, a.row_web) = invariant_rows(f, &mut a);
        for li in 0..a.cached.len() {
            a.cached[li].structs = sinking::sunk_structs(p, f, &a, &a.cached[li]);
        }
    } else {
        (a.row_load, a.row_web) = (vec![None; n], vec![None; a.webs.count]);
    }
    a
}

/// Whether compiled code runs `ins` with no side exit, no exception, no
/// allocation and no call: integer arithmetic (it wraps; a division by a
/// constant other than 0), float arithmetic, comparisons of numbers, moves and
/// loads of constants.
fn quiet(ins: &Instr) -> bool {
    use Instr::*;
    match *ins {
        DivIImm { imm, .. } | ModIImm { imm, .. } => imm != 0,
        AddModIImm { imm, .. } | MulModIImm { imm, .. } => imm != 0,
        Mov { .. } | LoadInt { .. } | LoadBool { .. } | LoadConst { .. } => true,
        AddI { .. } | SubI { .. } | MulI { .. } | AddIImm { .. } | MulIImm { .. } | NegI { .. } => true,
        BitAnd { .. } | BitOr { .. } | BitXor { .. } | BitNot { .. } => true,
        BitAndImm { .. } | BitOrImm { .. } | BitXorImm { .. } | ShlImm { .. } | ShrImm { .. } => true,
        AddF { .. } | SubF { .. } | MulF { .. } | DivF { .. } | NegF { .. } => true,
        EqI { .. }
        | NeI { .. }
        | LtI { .. }
        | LeI { .. }
        | EqF { .. }
        | NeF { .. }
        | LtF { .. }
        | LeF { .. } => true,
        Not { .. } => true,
        _ => false,
    }
}

/// Whether `ins` only jumps or branches (every branch instruction tests
/// numbers or bools; a back edge is not one of these): no exit either.
fn quiet_branch(ins: &Instr) -> bool {
    matches!(ins.op().flow(), Flow::Branch | Flow::Jump)
}

/// The builtin a `CallBuiltin` calls, with its arguments.
fn builtin_call<'f>(f: &'f Function, ins: &Instr) -> Option<(&'static builtins::Builtin, &'f [Reg])> {
    let &Instr::CallBuiltin { site, .. } = ins else {
        return None;
    };
    let s = f.sites.get(site as usize)?;
    Some((builtins::all().get(s.target as usize)?, &s.args))
}

/// Substrings kept as slices. A `CallBuiltin` of a slicing builtin
/// (`Inline::Slice`: `substr`) whose result is only compared (`EqStr`,
/// `NeStr`) and measured (`len`) before it dies, and while it lives only
/// [`quiet`] instructions, branches and those uses run, needs no string: the
/// translator keeps the address and length of the bytes it would copy and
/// answers the uses from them; the register gets null. Nothing can see the
/// difference: nothing exits, raises or collects while the register holds the
/// placeholder (so the bytes it points into, which a root keeps alive at the
/// call, are not freed either, and a string never changes). The region where
/// the result lives is entered only through the call (every predecessor of
/// an instruction in it is the call or in it), so no other value of the
/// register reaches a use, and it holds no loop header (a re-entry point) and
/// no handler. A tokenizer's `word = substr(text, start, i - start)`,
/// compared with keywords and measured, allocated a string per word.
/// Returns the calls, and the reads of their results, by (pc, register), with
/// the call's pc.
fn virtual_slices(f: &Function, a: &Analysis) -> (Vec<bool>, SliceReads) {
    let n = f.code.len();
    let slicing = |pc: usize| {
        builtin_call(f, &f.code[pc])
            .is_some_and(|(b, args)| matches!(b.inline, builtins::Inline::Slice(_)) && args.len() == 3)
    };
    if !(0..n).any(slicing) {
        return (vec![false; n], SliceReads::new());
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (pc, ins) in f.code.iter().enumerate() {
        if a.reachable[pc] {
            for s in ins.successors(pc).filter(|&s| s < n) {
                preds[s].push(pc);
            }
        }
    }
    let entries: Vec<u32> = (f.handlers.iter().map(|h| h.target))
        .chain(a.headers.iter().copied())
        .collect();
    // Another slice made or read while one lives (`substr(a, i, 2) ==
    // substr(b, j, 2)`) runs quietly too: reading one exits nowhere, and
    // making one can only raise (a null source), which is harmless if no
    // handler that covers it reads the register. The greatest fixpoint:
    // every call a slice at first, then those that do not fit given the
    // others are dropped until none is.
    let candidates: Vec<(usize, Reg, Vec<bool>)> = (0..n)
        .filter(|&pc| a.reachable[pc] && slicing(pc))
        .filter_map(|pc| match f.code[pc] {
            Instr::CallBuiltin { dst, .. } => Some((pc, dst, slice_region(f, a, pc, dst))),
            _ => None,
        })
        .collect();
    let reads_of = |calls: &[bool]| {
        let mut reads = SliceReads::new();
        for (pc, dst, region) in candidates.iter().filter(|c| calls[c.0]) {
            for q in (0..n).filter(|&q| region[q] && a.ops[q].uses.contains(dst)) {
                reads.insert((q as u32, *dst), *pc as u32);
            }
        }
        reads
    };
    let mut calls = vec![false; n];
    for c in &candidates {
        calls[c.0] = true;
    }
    loop {
        let reads = reads_of(&calls);
        let mut next = vec![false; n];
        for (pc, dst, region) in candidates.iter().filter(|c| calls[c.0]) {
            let (pc, dst) = (*pc, *dst);
            let slice_read = |q: usize, r: Reg| r == dst || reads.contains_key(&(q as u32, r));
            let reads_slices = |q: usize| match f.code[q] {
                Instr::EqStr { a: x, b: y, .. } | Instr::NeStr { a: x, b: y, .. } => {
                    slice_read(q, x) || slice_read(q, y)
                }
                ref ins => builtin_call(f, ins).is_some_and(|(b, args)| {
                    matches!(b.inline, builtins::Inline::Str(builtins::StrOp::Len))
                        && matches!(args, &[r] if slice_read(q, r))
                }),
            };
            let handled_without_it = |q: usize| {
                a.covering[q]
                    .iter()
                    .all(|&hi| !a.live_in[f.handlers[hi as usize].target as usize].contains(dst))
            };
            next[pc] = (0..n).filter(|&q| region[q]).all(|q| {
                let quietly = quiet(&f.code[q])
                    || quiet_branch(&f.code[q])
                    || reads_slices(q)
                    || (calls[q] && handled_without_it(q));
                let entered_only_here = preds[q].iter().all(|&p| p == pc || region[p]);
                let reads_as_slice = !a.ops[q].uses.contains(&dst) || reads_slices(q);
                quietly && reads_as_slice && entered_only_here && !entries.contains(&(q as u32))
            });
        }
        if next == calls {
            return (calls, reads);
        }
        calls = next;
    }
}

/// The instructions before which the result of the call at `pc` in register
/// `dst` is live, reached from the call without a new definition of `dst`.
fn slice_region(f: &Function, a: &Analysis, pc: usize, dst: Reg) -> Vec<bool> {
    let n = f.code.len();
    let live = |q: usize| a.live_in[q].contains(dst);
    let mut region = vec![false; n];
    let mut work: Vec<usize> = f.code[pc].successors(pc).filter(|&s| s < n && live(s)).collect();
    while let Some(q) = work.pop() {
        if std::mem::replace(&mut region[q], true) {
            continue;
        }
        if a.ops[q].writes() != Some(dst) {
            work.extend(
                f.code[q]
                    .successors(q)
                    .filter(|&s| s < n && live(s) && !region[s]),
            );
        }
    }
    region
}

/// The reads of substrings kept as slices ([`virtual_slices`]): by the pc
/// and the register read, the pc of the call that made the slice.
pub type SliceReads = std::collections::HashMap<(u32, Reg), u32>;

/// At most this many rows per loop are loaded in its pre-header (three
/// variables each: the row, its length and its data pointer).
const MAX_INVARIANT_ROWS: usize = 4;

/// Loop-invariant row loads. In an innermost cached loop that resizes no
/// array and stores no reference into any array (so no array of arrays
/// changes while it runs: only `ArrSet` writes elements, and calls that are
/// not inlined make a loop `resizes`), an `ArrGet` of a reference element
/// from an array register the loop never writes and caches, at an index
/// computed in the same basic block from registers the loop never writes
/// ([`invariant_index`]), reads the same row on every iteration. The loop's
/// pre-header loads it once with its length and data pointer, and exits to
/// the VM at the header when the index is out of range or the row is null
/// (the VM then runs the loop with the accesses in place, as for the hoisted
/// bounds checks); the `ArrGet` is then a copy of the row, and element
/// accesses through a web that only ever holds that row within the loop use
/// its length and data pointer. `edit_distance`'s `dp[i - 1][j]`: five row
/// loads and their checks per iteration.
///
/// Returns [`Analysis::row_load`] and [`Analysis::row_web`], and fills the
/// loops' [`CachedLoop::rows`]. Only in the first version of a function
/// (`speculate`), whose exits at a header lead to a version without them.
fn invariant_rows(f: &Function, a: &mut Analysis) -> (Vec<Option<RowRef>>, Vec<Option<RowRef>>) {
    let n = f.code.len();
    let mut row_load = vec![None; n];
    let mut row_web = vec![None; a.webs.count];
    for li in 0..a.cached.len() {
        let l = &a.cached[li];
        if !l.innermost || l.resizes {
            continue;
        }
        let body = l.header as usize..=(l.end as usize).min(n.saturating_sub(1));
        let stores_refs = body.clone().any(|pc| {
            a.reachable[pc]
                && matches!(f.code[pc], Instr::ArrSet { src, .. }
                    if a.is_ref.get(src as usize).copied().unwrap_or(true))
        });
        if stores_refs {
            continue;
        }
        let mut rows: Vec<InvariantRow> = Vec::new();
        for pc in body.clone() {
            let Instr::ArrGet { dst, arr, idx, .. } = f.code[pc] else {
                continue;
            };
            let l = &a.cached[li];
            let candidate = a.reachable[pc]
                && a.is_ref.get(dst as usize).copied().unwrap_or(false)
                && !l.written.contains(arr)
                && l.arrays.binary_search(&arr).is_ok();
            if !candidate {
                continue;
            }
            let Some(index) = invariant_index(f, &a.ops, &a.leader, &l.written, pc, idx, 0) else {
                continue;
            };
            let row = InvariantRow {
                arr,
                index,
                array: false,
            };
            let k = match rows.iter().position(|r| *r == row) {
                Some(k) => k,
                None if rows.len() < MAX_INVARIANT_ROWS => {
                    rows.push(row);
                    rows.len() - 1
                }
                None => continue,
            };
            row_load[pc] = Some((li as u32, k as u16));
        }
        a.cached[li].rows = rows;
    }
    // The webs dead at a row's loop header whose every definition in the
    // loop is a load of that row: within the loop (entered only through its
    // header), each of their values is that row.
    for (pc, load) in row_load.iter().enumerate() {
        let Some((li, k)) = *load else { continue };
        let Some(w) = a.webs.def.get(pc).copied().flatten() else {
            continue;
        };
        let l = &a.cached[li as usize];
        let reg = a.webs.reg[w as usize];
        let live_at_header = a.live_in[l.header as usize].contains(reg) && a.webs.at(l.header, reg) == w;
        let only_this_row = (l.header as usize..=(l.end as usize).min(n.saturating_sub(1)))
            .filter(|&q| a.webs.def[q] == Some(w))
            .all(|q| row_load[q] == Some((li, k)));
        if !live_at_header && only_this_row {
            row_web[w as usize] = Some((li, k));
        }
    }
    for pc in (0..n).filter(|&pc| a.reachable[pc]) {
        let (Instr::ArrGet { arr, .. } | Instr::ArrSet { arr, .. } | Instr::ArrLen { arr, .. }) = f.code[pc]
        else {
            continue;
        };
        if let Some((li, k)) = row_web[a.webs.at(pc as u32, arr) as usize] {
            if a.cached[li as usize].contains(pc as u32) {
                a.cached[li as usize].rows[k as usize].array = true;
            }
        }
    }
    (row_load, row_web)
}

/// The value register `r` has at instruction `pc`, as an expression of
/// registers that the loop (which writes `written`) never writes: `r` itself
/// if the basic block of `pc` does not write it before `pc`, else the
/// integer arithmetic that last wrote it there, operands likewise (at most
/// a few levels deep). `None` for anything else.
fn invariant_index(
    f: &Function,
    ops: &[Operands],
    leader: &[bool],
    written: &RegSet,
    pc: usize,
    r: Reg,
    depth: u32,
) -> Option<IndexExpr> {
    use Instr::*;
    if depth > 6 {
        return None;
    }
    let mut q = pc;
    let def = loop {
        if leader[q] {
            break None;
        }
        q -= 1;
        if ops[q].writes() == Some(r) {
            break Some(q);
        }
    };
    let Some(q) = def else {
        return (!written.contains(r)).then_some(IndexExpr::Reg(r));
    };
    let sub = |x: Reg| invariant_index(f, ops, leader, written, q, x, depth + 1);
    let bin = |op: IndexOp, x: Option<IndexExpr>, y: Option<IndexExpr>| {
        Some(IndexExpr::Bin(op, Box::new(x?), Box::new(y?)))
    };
    let imm = |k: i32| Some(IndexExpr::Const(k as i64));
    match f.code[q] {
        LoadInt { imm: k, .. } => imm(k),
        Mov { src, .. } => sub(src),
        AddI { a, b, .. } => bin(IndexOp::Add, sub(a), sub(b)),
        SubI { a, b, .. } => bin(IndexOp::Sub, sub(a), sub(b)),
        MulI { a, b, .. } => bin(IndexOp::Mul, sub(a), sub(b)),
        DivI { a, b, .. } => bin(IndexOp::Div, sub(a), sub(b)),
        ModI { a, b, .. } => bin(IndexOp::Mod, sub(a), sub(b)),
        AddIImm { a, imm: k, .. } => bin(IndexOp::Add, sub(a), imm(k)),
        MulIImm { a, imm: k, .. } => bin(IndexOp::Mul, sub(a), imm(k)),
        DivIImm { a, imm: k, .. } => bin(IndexOp::Div, sub(a), imm(k)),
        ModIImm { a, imm: k, .. } => bin(IndexOp::Mod, sub(a), imm(k)),
        AddModIImm { a, b, imm: k, .. } => bin(IndexOp::Mod, bin(IndexOp::Add, sub(a), sub(b)), imm(k)),
        MulModIImm { a, b, imm: k, .. } => bin(IndexOp::Mod, bin(IndexOp::Mul, sub(a), sub(b)), imm(k)),
        _ => None,
    }
}

/// Per instruction: an inlined `Call` whose callee returns a tuple it makes
/// (`inlining::tuple_returned`: `divmod`'s `return (q, r)`) that the caller
/// only takes apart, with `TupleGet`s in the same basic block, before the
/// register is dead, and with nothing between that could exit, collect or
/// read the register otherwise: the translator then computes the items and
/// never allocates the tuple (the register's frame slot gets null). Nothing
/// can see the difference: the tuple is immutable, every read of it is
/// answered from the items, and no exit, handler or collection happens while
/// the register holds it.
/// Returns the calls, and the `TupleGet`s that read their results.
fn virtual_tuples(p: &Program, f: &Function, a: &Analysis) -> (Vec<bool>, Vec<bool>) {
    let n = f.code.len();
    let mut out = vec![false; n];
    let mut reads = vec![false; n];
    for (pc, ins) in f.code.iter().enumerate() {
        let &Instr::Call { dst, .. } = ins else {
            continue;
        };
        if !a.is_ref.get(dst as usize).copied().unwrap_or(false) {
            continue;
        }
        let Some(callee) = inlined_callee(p, f, pc, &a.inlined) else {
            continue;
        };
        let returns_new_tuple = callee
            .code
            .windows(2)
            .any(|w| inlining::tuple_returned(callee, &w[0], Some(&w[1])));
        let web = a.webs.def_at(pc as u32, dst, &a.ops[pc]) as usize;
        if !returns_new_tuple || a.frame_read.get(web).copied().unwrap_or(true) {
            continue;
        }
        let taken_apart = |_: usize, ins: &Instr| matches!(*ins, Instr::TupleGet { tup, .. } if tup == dst);
        if let Some(gets) = only_taken_apart(f, a, pc, dst, taken_apart) {
            out[pc] = true;
            for q in gets {
                reads[q] = true;
            }
        }
    }
    (out, reads)
}

/// Per instruction: an inlined `Call` (at `pc0`) whose callee ends by making
/// the struct it returns, of scalar fields only, where the next instruction
/// (at `pc1`, in the same basic block) is an inlined `Call` that passes it to
/// a callee whose straight body only reads its fields, and the register
/// holding it is dead after that: `v = add(v, scale(g, 0.5))`. The
/// translator then never allocates the struct: its fields are values
/// (`ValueNumbering::struct_items`), the register's frame slot keeps its
/// value from before `pc0`, and every exit of the instruction at `pc1` is the exit at `pc0` (returned
/// per `pc1`): the VM runs both calls again from `pc0`, which makes the
/// struct. That is the same state: nothing but the struct's register was
/// written between `pc0` and `pc1`, the body at `pc1` writes its result
/// after its last exit, and the call at `pc0` changed nothing else. Nothing
/// else can see the struct: it holds no reference for the collector, the two
/// calls cannot throw, and no handler covers them.
fn virtual_structs(p: &Program, f: &Function, a: &Analysis) -> (Vec<bool>, Vec<Option<u32>>) {
    let n = f.code.len();
    let mut made = vec![false; n];
    let mut rewind = vec![None; n];
    for pc0 in 0..n.saturating_sub(1) {
        let pc1 = pc0 + 1;
        let Instr::Call { dst: t, .. } = f.code[pc0] else {
            continue;
        };
        let (Some(maker), Some(reader)) = (
            inlined_callee(p, f, pc0, &a.inlined),
            inlined_callee(p, f, pc1, &a.inlined),
        ) else {
            continue;
        };
        let Instr::Call { dst: d1, site: s1 } = f.code[pc1] else {
            continue;
        };
        let Some(args) = f.sites.get(s1 as usize).map(|s| &s.args) else {
            continue;
        };
        // (The reader's result may go to the same register.)
        let live_after = d1 != t && a.live_in.get(pc1 + 1).is_some_and(|l| l.contains(t));
        // (The VM runs the call at `pc0` again with the frame's registers.
        // It may read the struct's register, `r8 = scale(r8, r9)`: the
        // register's frame slot keeps the value it had before `pc0`, since
        // the placeholder is never stored (`ValueNumbering::virtual_structs`).)
        if a.leader[pc1]
            || inlining::covered(f, pc0)
            || inlining::covered(f, pc1)
            || rewind[pc0].is_some()
            || !a.is_ref.get(t as usize).copied().unwrap_or(false)
            || live_after
            || !args.contains(&t)
            || !makes_scalar_struct(maker)
        {
            continue;
        }
        let params: Vec<Reg> = (0..args.len())
            .filter(|&i| args[i] == t)
            .map(|i| i as Reg)
            .collect();
        if !reads_only_fields(p, reader, &params) {
            continue;
        }
        made[pc0] = true;
        rewind[pc1] = Some(pc0 as u32);
    }
    (made, rewind)
}

/// Whether `callee` (a straight body inlined whole) ends by making the struct
/// it returns (`NewStruct` then `Ret` of it), of fields from registers that
/// hold no references, and allocates nothing else.
pub(super) fn makes_scalar_struct(callee: &Function) -> bool {
    let code = &callee.code;
    let [.., Instr::NewStruct { dst, site }, Instr::Ret { src }] = code[..] else {
        return false;
    };
    let scalar = |r: Reg| !callee.ref_regs.get(r as usize).copied().unwrap_or(true);
    let allocations = code.iter().filter(|ins| ins.op().allocates()).count();
    src == dst
        && allocations == 1
        && callee
            .sites
            .get(site as usize)
            .is_some_and(|s| s.args.iter().all(|&r| scalar(r)))
}

/// Whether `callee` is one straight line that calls nothing: inlined whole,
/// with no block boundary (where the translator forgets the fields of the
/// structs it knows) and no call inlined in turn (which could branch, or be
/// left a real call).
pub(super) fn straight_without_calls(callee: &Function) -> bool {
    callee
        .code
        .iter()
        .all(|ins| ins.jump_target().is_none() && !matches!(ins, Instr::Call { .. }))
}

/// Whether `callee` is [`straight_without_calls`], stores nothing (an
/// updater's body, `inlining::updater`, checks the objects it touches
/// before it, which a struct kept as values is not), and reads its
/// parameters `params` only with `GetField`, and never writes them.
pub(super) fn reads_only_fields(p: &Program, callee: &Function, params: &[Reg]) -> bool {
    straight_without_calls(callee)
        && !callee
            .code
            .iter()
            .any(|ins| matches!(ins, Instr::SetField { .. } | Instr::ArrSet { .. }))
        && callee.code.iter().all(|ins| {
            let ops = ins.operands(p, callee);
            let field_read = matches!(ins, Instr::GetField { .. });
            !ops.def.is_some_and(|d| params.contains(&d))
                && (field_read || !ops.uses.iter().any(|u| params.contains(u)))
        })
}

/// Per instruction: an inlined `Call` whose callee ends by making the struct
/// it returns, of scalar fields only ([`makes_scalar_struct`]), that the caller
/// only reads field by field (`GetField`s, in the same basic block, with
/// nothing between that could exit, collect or read the register otherwise)
/// before the register is dead: `let m: P = mid(a, b)` then `m.x` and `m.y`.
/// The translator then never allocates the struct: the `GetField`s are the
/// values its fields were made of (`ValueNumbering::struct_items`), and the
/// register's frame slot keeps the value it had, which nothing reads before
/// it is written again. As for [`virtual_tuples`], nothing can see the
/// difference: no exit, handler or collection happens while the register
/// holds the struct, and no store into it either (only the reads run).
fn structs_read_apart(p: &Program, f: &Function, a: &Analysis) -> Vec<bool> {
    let made = |maker: &Function| makes_scalar_struct(maker).then_some(());
    let field_read =
        |t: Reg, _: &(), _: usize, ins: &Instr| matches!(*ins, Instr::GetField { obj, .. } if obj == t);
    let found = calls_read_apart(p, f, a, made, field_read);
    // (A struct the next call reads is never made already: `virtual_structs`.)
    found
        .iter()
        .zip(&a.virtual_struct)
        .map(|(&r, &v)| r && !v)
        .collect()
}

/// Per instruction: an inlined `Call` whose callee ends by making the array it
/// returns from a literal of ints, floats or bools ([`makes_scalar_array`]),
/// that the caller only reads at constant indices within the literal
/// (`ArrGet`s whose index register a `LoadInt` of the same basic block set),
/// under the conditions of [`structs_read_apart`]: `let m: [float] =
/// mid(a, b)` then `m[0]` and `m[1]`. The translator then never allocates
/// the array; the reads are the values it was made of. Nothing can resize or
/// store into it while it lives: only quiet instructions run.
fn arrays_read_apart(p: &Program, f: &Function, a: &Analysis) -> Vec<bool> {
    let item_read = |t: Reg, &n: &usize, q: usize, ins: &Instr| {
        let in_literal = |idx: Reg| {
            constant_in_block(f, a, q, idx).is_some_and(|k| usize::try_from(k).is_ok_and(|k| k < n))
        };
        matches!(*ins, Instr::ArrGet { arr, idx, .. } if arr == t && in_literal(idx))
    };
    calls_read_apart(p, f, a, makes_scalar_array, item_read)
}

/// Per instruction: an inlined `Call` with a reference result whose callee
/// `made` accepts (giving what the reads need to know of the object: the
/// length of an array literal), which the caller only reads with the
/// instructions `read` accepts ([`only_taken_apart`]: at least one, in the
/// same basic block, only quiet instructions between, before the register
/// dies), and whose register no exit reads from its frame slot.
fn calls_read_apart<T>(
    p: &Program,
    f: &Function,
    a: &Analysis,
    made: impl Fn(&Function) -> Option<T>,
    read: impl Fn(Reg, &T, usize, &Instr) -> bool,
) -> Vec<bool> {
    let read_apart = |pc: usize| {
        let Instr::Call { dst, .. } = f.code[pc] else {
            return false;
        };
        if !a.is_ref.get(dst as usize).copied().unwrap_or(false) {
            return false;
        }
        let Some(known) = inlined_callee(p, f, pc, &a.inlined).and_then(&made) else {
            return false;
        };
        let web = a.webs.def_at(pc as u32, dst, &a.ops[pc]) as usize;
        if a.frame_read.get(web).copied().unwrap_or(true) {
            return false;
        }
        let takes_apart = |q: usize, ins: &Instr| read(dst, &known, q, ins);
        only_taken_apart(f, a, pc, dst, takes_apart).is_some_and(|reads| !reads.is_empty())
    };
    (0..f.code.len()).map(read_apart).collect()
}

/// The number of items of the array literal `callee` (a straight body inlined
/// whole) ends by returning (`NewArray` of items then `Ret` of it), if they
/// are ints, floats or bools and it allocates nothing else.
pub(super) fn makes_scalar_array(callee: &Function) -> Option<usize> {
    let code = &callee.code;
    let [.., Instr::NewArray { dst, site }, Instr::Ret { src }] = code[..] else {
        return None;
    };
    let s = callee.sites.get(site as usize)?;
    let scalar = matches!(
        ValKind::from_u8(s.target as u8),
        ValKind::Int | ValKind::Float | ValKind::Bool
    );
    let allocations = code.iter().filter(|ins| ins.op().allocates()).count();
    (src == dst && allocations == 1 && scalar && !s.args.is_empty()).then_some(s.args.len())
}

/// The value register `r` holds at instruction `q`, if a `LoadInt` of the
/// same basic block set it last.
fn constant_in_block(f: &Function, a: &Analysis, q: usize, r: Reg) -> Option<i64> {
    let mut at = q;
    while at > 0 && !a.leader[at] {
        at -= 1;
        if a.ops[at].def == Some(r) {
            return match f.code[at] {
                Instr::LoadInt { imm, .. } => Some(imm as i64),
                _ => None,
            };
        }
    }
    None
}

/// The instructions that read the tuple, struct or array instruction `pc`
/// writes to `t` (those at which `takes_apart` holds: its `TupleGet`s,
/// `GetField`s or `ArrGet`s), if they are its only reads, in the same basic
/// block, with only instructions that neither exit nor allocate in between,
/// before `t` is dead.
fn only_taken_apart(
    f: &Function,
    a: &Analysis,
    pc: usize,
    t: Reg,
    takes_apart: impl Fn(usize, &Instr) -> bool,
) -> Option<Vec<usize>> {
    let mut gets = Vec::new();
    for q in pc + 1..f.code.len() {
        if !a.live_in[q].contains(t) {
            return Some(gets);
        }
        if a.leader[q] {
            return None;
        }
        let takes_apart = takes_apart(q, &f.code[q]);
        let quiet = takes_apart || quiet(&f.code[q]);
        // (Any other read of `t`, a `Mov` of it say, lets the object escape.)
        let reads_t = a.ops[q].uses.contains(&t);
        if !quiet || (reads_t && !takes_apart) || a.ops[q].def == Some(t) {
            return None;
        }
        if takes_apart {
            gets.push(q);
        }
    }
    None
}

/// A loop (`header..=end`, the span of its `Loop` back-edges) with a
/// *pre-header*: code run on every entry to the loop. Every way into the loop
/// passes it: the code before it, and OSR / deopt re-entry at its header
/// (re-entry at a nested header enters that loop's own pre-header, after the
/// caches of the loops around it are loaded). A loop gets one
///
/// * when it calls nothing that could resize an array (`resizes` is false): the
///   length and data pointer of the arrays it indexes through registers it
///   never writes are loaded there once, instead of at every access. Only
///   element stores happen inside, and they do not move data; the collector
///   never moves objects;
/// * or when it divides by registers it never writes (`divisors`): their
///   magic multipliers are computed there once.
#[derive(Clone, Debug)]
pub struct CachedLoop {
    pub header: u32,
    pub end: u32,
    /// Array registers whose headers are cached, sorted (none if `resizes`).
    pub arrays: Vec<Reg>,
    /// The loop may resize arrays (it has calls not inlined): it caches no
    /// array and checks no call in its pre-header.
    pub resizes: bool,
    /// Divisor registers of the `DivI` / `ModI` inside it that the pre-header
    /// prepares for ([`invariant_divisors`]), sorted.
    pub divisors: Vec<Reg>,
    /// The innermost other cached loop containing this loop's header.
    pub parent: Option<usize>,
    /// A counted loop (`for i in range(..)`): its counter and limit registers
    /// (see [`bounds_checks`]), with the accesses whose bounds its pre-header
    /// checks for all the counter's values.
    pub counted: Option<Counted>,
    /// No other loop header is inside it: every way into its body passes its
    /// pre-header.
    pub innermost: bool,
    /// The registers its body writes.
    pub written: RegSet,
    /// The translator unrolls it ([`unrollable`]).
    pub unrolled: bool,
    /// The scalar globals it keeps in variables (`promoted_globals`): index
    /// and kind, sorted by index.
    pub globals: Vec<(u32, ValKind)>,
    /// The rows its pre-header loads once ([`invariant_rows`]).
    pub rows: Vec<InvariantRow>,
    /// The registers it keeps as the fields of their structs
    /// ([`sinking::sunk_structs`]).
    pub structs: Vec<SunkStruct>,
}

/// A row of an array of arrays that an innermost loop reads at an index that
/// does not change while it runs (`dp[i - 1]` in a loop over `j`): its
/// pre-header loads it, with its length and data pointer, once
/// ([`invariant_rows`]).
#[derive(Clone, Debug, PartialEq)]
pub struct InvariantRow {
    /// The array of rows: a register the loop never writes, whose header the
    /// loop caches.
    pub arr: Reg,
    /// The index, as computed from registers the loop never writes.
    pub index: IndexExpr,
    /// An element access in the loop reads the row as an array (through a
    /// web of [`Analysis::row_web`]): the program is typed, so the row is an
    /// array, and the pre-header reads its length and data pointer. (A row
    /// of `[str]` or `[Node]` is loaded, but its header is not read.)
    pub array: bool,
}

/// An invariant row: its loop (an index into [`Analysis::cached`]) and its
/// index in that loop's [`CachedLoop::rows`].
pub type RowRef = (u32, u16);

/// An integer computed from registers a loop never writes, constants and the
/// VM's integer arithmetic (truncating division), which a pre-header can
/// compute again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexExpr {
    Reg(Reg),
    Const(i64),
    Bin(IndexOp, Box<IndexExpr>, Box<IndexExpr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// The counter of a loop whose only back-edge is `ForLoop { ctr, limit }` at
/// its end and whose body writes neither `ctr` nor `limit`: in the body, `ctr`
/// takes the values `c0 ..= limit - 1`, `c0` being its value at the header on
/// entry (the header is reached only with `ctr < limit`: by the test before the
/// loop, by the `ForLoop`, or by re-entry, which happens at a point the
/// interpreter reached the same way).
#[derive(Clone, Debug)]
pub struct Counted {
    pub ctr: Reg,
    pub limit: Reg,
    /// Distinct (array, index offset) pairs of the hoisted accesses.
    pub checks: Vec<(Reg, IndexOffset)>,
}

/// The index of a hoisted array access: the loop counter plus this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexOffset {
    Imm(i64),
    /// A register the loop never writes.
    Reg(Reg),
}

impl CachedLoop {
    pub fn contains(&self, pc: u32) -> bool {
        self.header <= pc && pc <= self.end
    }
}

/// Whether the instruction may change an array's length or data pointer (or run
/// code that may): its `may_resize_arrays` property (calls of user functions,
/// closures, extern functions and builtins other than the pure ones and the
/// string operations compiled inline).
pub(crate) fn may_resize_arrays(ins: &Instr, f: &Function) -> bool {
    match ins.op().may_resize_arrays() {
        Resizes::No => false,
        Resizes::Yes => true,
        Resizes::UnlessPureBuiltin => {
            // A string operation compiled inline (`ord`, `len`, ...) only
            // raises on its general path, like a pure one.
            let harmless = builtin_call(f, ins).is_some_and(|(b, _)| {
                b.flags & builtins::PURE != 0 || matches!(b.inline, builtins::Inline::Str(_))
            });
            !harmless
        }
    }
}

/// The array register the instruction indexes, if its element access can use
/// the array's cached length and data pointer: `ArrGet` and `ArrSet`. (`ArrLen`
/// reads a cached length when there is one, but does not make an array worth
/// caching.)
#[rustfmt::skip]
fn indexed_array(ins: &Instr) -> Option<Reg> {
    use Instr::*;
    match *ins {
        ArrGet { arr, .. } | ArrSet { arr, .. } => Some(arr),
        Mov { .. } | LoadInt { .. } | LoadConst { .. } | LoadBool { .. } | LoadNull { .. }
        | GetGlobal { .. } | SetGlobal { .. } => None,
        AddI { .. } | SubI { .. } | MulI { .. } | DivI { .. } | ModI { .. } | AddIImm { .. }
        | MulIImm { .. } | DivIImm { .. } | ModIImm { .. } | AddModIImm { .. } | MulModIImm { .. }
        | BitAndImm { .. } | BitOrImm { .. }
        | BitXorImm { .. } | ShlImm { .. } | ShrImm { .. } | NegI { .. }
        | BitAnd { .. } | BitOr { .. } | BitXor { .. } | Shl { .. } | Shr { .. } | BitNot { .. } => None,
        AddF { .. } | SubF { .. } | MulF { .. } | DivF { .. } | ModF { .. } | NegF { .. } => None,
        EqI { .. } | NeI { .. } | LtI { .. } | LeI { .. } | EqF { .. } | NeF { .. } | LtF { .. }
        | LeF { .. } | EqRef { .. } | NeRef { .. } | EqStr { .. } | NeStr { .. } | Not { .. } => None,
        Jmp { .. } | Loop { .. } | ForLoop { .. } | JmpIf { .. } | JmpIfNot { .. } | BrEqI { .. } | BrNeI { .. }
        | BrLtI { .. } | BrLeI { .. } | BrEqIImm { .. } | BrNeIImm { .. } | BrLtIImm { .. }
        | BrLeIImm { .. } | BrGtIImm { .. } | BrGeIImm { .. } | BrLtF { .. } | BrLeF { .. }
        | BrNotLtF { .. } | BrNotLeF { .. } => None,
        Call { .. } | CallIndirect { .. } | CallBuiltin { .. } | CallExtern { .. } | Ret { .. } | RetVoid => None,
        NewObject { .. } | CallMethod { .. } | NullCheck { .. } | IsNull { .. } | InstanceOf { .. }
        | CheckClass { .. } | TypeOf { .. } => None,
        GetCapture { .. } | NewCell { .. } | CellGet { .. } | CellSet { .. } => None,
        Concat { .. } | ConcatN { .. } | ToStr { .. } | Print { .. } => None,
        NewArray { .. } | ArrLen { .. } | NewMap { .. } | MapGet { .. } | MapSet { .. } | NewTuple { .. }
        | TupleGet { .. } | NewStruct { .. } | GetField { .. } | SetField { .. }
        | MakeClosure { .. } => None,
        Throw { .. } | Rethrow { .. } => None,
    }
}

/// At most this many arrays per loop get cached headers (two registers each).
/// nbody's inner loop indexes seven arrays: caching three of them ran 1020 M
/// instructions (callgrind, whole program), five 913 M, all seven 885 M; a
/// spilled cache is one reload, cheaper than the null check and two header loads
/// it replaces.
const MAX_CACHED_ARRAYS: usize = 8;

fn cached_loops(
    p: &Program,
    f: &Function,
    ops: &[Operands],
    reachable: &[bool],
    headers: &[u32],
    ends: &[u32],
    inlined: &[bool],
) -> Vec<CachedLoop> {
    let n = f.code.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (pc, ins) in f.code.iter().enumerate() {
        if reachable[pc] {
            for s in ins.successors(pc) {
                if s < n {
                    preds[s].push(pc);
                }
            }
        }
    }
    let body = |i: usize| headers[i] as usize..=(ends[i] as usize).min(n.saturating_sub(1));
    // Single entry: only the header is reached from outside.
    let single_entry: Vec<bool> = (0..headers.len())
        .map(|i| {
            body(i)
                .filter(|&pc| pc != headers[i] as usize && reachable[pc])
                .all(|pc| preds[pc].iter().all(|p| body(i).contains(p)))
        })
        .collect();
    // (A handler in the loop writes its message register too.)
    let written: Vec<RegSet> = (0..headers.len())
        .map(|i| {
            let mut w = RegSet::default();
            for pc in body(i) {
                if let Some(d) = ops[pc].writes() {
                    w.insert(d);
                }
            }
            for h in f
                .handlers
                .iter()
                .filter(|h| body(i).contains(&(h.target as usize)))
            {
                if let Some(m) = h.reg {
                    w.insert(m);
                }
            }
            w
        })
        .collect();
    let divisors = invariant_divisors(f, reachable, headers, ends, &single_entry, &written);
    let mut loops = Vec::new();
    for (li, (&h, &end)) in headers.iter().zip(ends).enumerate() {
        if !single_entry[li] {
            continue;
        }
        let body = body(li);
        // (An inlined call's body resizes nothing: see `Op::inlinable`.)
        let resizes = body
            .clone()
            .any(|pc| !inlined[pc] && may_resize_arrays(&f.code[pc], f));
        let written = written[li];
        let arrays = if resizes {
            Vec::new()
        } else {
            cached_arrays(f, headers, ends, h, end, &written)
        };
        // A loop without arrays to cache still gets a pre-header when it is
        // innermost and inlines calls: their frame limit (and function values)
        // are checked there (`Tr::call_guards`).
        let innermost = !headers.iter().any(|&o| o > h && o <= end);
        let inlines = body.clone().any(|pc| reachable[pc] && inlined[pc]);
        let guards = !resizes && innermost && inlines;
        // An innermost loop that divides floats may be unrolled (see
        // `translate::pairing`), which needs its `counted`.
        let divides = !resizes && innermost && body.clone().any(|pc| divides_floats(p, f, pc, inlined));
        let globals = if resizes {
            Vec::new()
        } else {
            scalar_globals(p, f, body.clone(), inlined)
        };
        // The fields it reads may be kept in variables (`sinking`).
        let reads_fields = !resizes
            && innermost
            && body
                .clone()
                .any(|pc| reachable[pc] && matches!(f.code[pc], Instr::GetField { .. }));
        if !arrays.is_empty()
            || guards
            || divides
            || reads_fields
            || !divisors[li].is_empty()
            || !globals.is_empty()
        {
            loops.push(CachedLoop {
                header: h,
                end,
                arrays,
                resizes,
                divisors: divisors[li].clone(),
                parent: None,
                counted: None,
                innermost,
                written,
                unrolled: false,
                globals,
                rows: Vec::new(),
                structs: Vec::new(),
            });
        }
    }
    loops
}

/// Whether the translator unrolls loop `l` twice, to pair its float divisions
/// (`translate::pairing`): innermost, counted (`ForLoop` at its end back to
/// its header), calling nothing it does not inline (a call inlines its
/// callee's early returns, in branches), one basic block, and dividing floats
/// in its body or in a `Call` it inlines whose code has no branches (a
/// division in a branch would not dominate its twin in the second copy).
fn unrollable(
    p: &Program,
    f: &Function,
    l: &CachedLoop,
    leader: &[bool],
    reachable: &[bool],
    inlined: &[bool],
) -> bool {
    let (h, end) = (l.header as usize, l.end as usize);
    if !l.innermost || l.resizes || l.counted.is_none() || end >= f.code.len() {
        return false;
    }
    if !matches!(f.code[end], Instr::ForLoop { target, .. } if target == l.header) {
        return false;
    }
    // (A `Ret` only at its end.)
    let straight = |callee: &Function| {
        let last = callee.code.len().saturating_sub(1);
        straight_without_calls(callee)
            && (callee.code.iter().take(last)).all(|ins| !matches!(ins, Instr::Ret { .. } | Instr::RetVoid))
    };
    let mut divides = false;
    for pc in h..=end {
        if (pc > h && leader[pc]) || !reachable[pc] {
            return false;
        }
        match f.code[pc] {
            Instr::CallIndirect { .. } | Instr::CallMethod { .. } => return false,
            Instr::Call { .. } if inlined[pc] && !inlined_callee(p, f, pc, inlined).is_some_and(straight) => {
                return false
            }
            _ => {}
        }
        divides |= divides_floats(p, f, pc, inlined);
    }
    divides
}

/// The scalar (int, float, bool) globals that the instructions at `pcs` read
/// or write, themselves or in the `Call`s they inline, sorted by index: a
/// loop that calls nothing it does not inline keeps them in variables (the
/// translator's `promoted_global`), loaded in its pre-header and stored on
/// every way out of it: its exits to the code after it, returns, side exits.
/// Nothing else reads globals while it runs: no call runs other code, and
/// a thread has its own copies of the globals. (A reference global stays in
/// memory, where the collector finds it.)
fn scalar_globals(
    p: &Program,
    f: &Function,
    pcs: std::ops::RangeInclusive<usize>,
    inlined: &[bool],
) -> Vec<(u32, ValKind)> {
    let mut found: Vec<(u32, ValKind)> = Vec::new();
    let mut note = |code: &[Instr]| {
        for ins in code {
            let (Instr::GetGlobal { idx, .. } | Instr::SetGlobal { idx, .. }) = *ins else {
                continue;
            };
            let Some(kind) = p.globals.get(idx as usize).map(|g| g.kind) else {
                continue;
            };
            if kind != ValKind::Ref && !found.iter().any(|&(i, _)| i == idx) {
                found.push((idx, kind));
            }
        }
    };
    for pc in pcs {
        let Some(ins) = f.code.get(pc) else { break };
        note(std::slice::from_ref(ins));
        if let Some(callee) = inlined_callee(p, f, pc, inlined) {
            note(&callee.code);
        }
    }
    found.sort_unstable_by_key(|&(i, _)| i);
    found
}

/// A global that a loop around keeps in a variable already is not promoted
/// again by the loops inside it (they use the outer loop's variable).
fn outermost_promotions(loops: &mut [CachedLoop]) {
    for li in 0..loops.len() {
        let mut outer = loops[li].parent;
        while let Some(o) = outer {
            let theirs = loops[o].globals.clone();
            loops[li].globals.retain(|g| !theirs.contains(g));
            outer = loops[o].parent;
        }
    }
}

/// The callee of the instruction at `pc` if it is a `Call` the translator
/// inlines.
pub(super) fn inlined_callee<'p>(
    p: &'p Program,
    f: &Function,
    pc: usize,
    inlined: &[bool],
) -> Option<&'p Function> {
    let &Instr::Call { site, .. } = f.code.get(pc)? else {
        return None;
    };
    if inlined.get(pc) != Some(&true) {
        return None;
    }
    f.sites
        .get(site as usize)
        .and_then(|s| p.functions.get(s.target as usize))
}

/// Whether the instruction at `pc` is a `DivF`, or a `Call` inlined whose
/// callee has one.
fn divides_floats(p: &Program, f: &Function, pc: usize, inlined: &[bool]) -> bool {
    matches!(f.code.get(pc), Some(Instr::DivF { .. }))
        || inlined_callee(p, f, pc, inlined)
            .is_some_and(|callee| callee.code.iter().any(|i| matches!(i, Instr::DivF { .. })))
}

/// Whether `ins`, a `CallIndirect` or `CallMethod` of `f`, writes its
/// destination whenever it returns: its site has been seen calling a
/// function that returns a value, and the type checker gives every function
/// one site can call the same result type. ([`Instr::operands`] counts such
/// a destination as read: for all the bytecode says, the callee may be void
/// and leave it alone. A loop around the call then kept the register live
/// from one round to the next, and exits after the loop stored it.)
pub(crate) fn writes_result(p: &Program, f: &Function, ins: &Instr) -> bool {
    if !matches!(ins.op().site_use(), Some(SiteUse::ClosureReg | SiteUse::Method)) {
        return false;
    }
    let Some(site) = ins.site() else {
        return false;
    };
    f.call_feedback.seen(site).iter().any(|&fid| {
        p.functions
            .get(fid as usize)
            .is_some_and(|g| g.ret_kind.is_some())
    })
}

/// The array registers loop `h..=end` caches (sorted): those it indexes
/// through registers it never writes (`written`), at most
/// [`MAX_CACHED_ARRAYS`] of the most accessed.
fn cached_arrays(
    f: &Function,
    headers: &[u32],
    ends: &[u32],
    h: u32,
    end: u32,
    written: &RegSet,
) -> Vec<Reg> {
    let (h, end) = (h as usize, (end as usize).min(f.code.len().saturating_sub(1)));
    // Accesses per array register the loop never writes, in its own body
    // and in its nested loops (the span of each nested header seen).
    let mut accesses = [0usize; 256];
    let mut nested_access = [false; 256];
    let mut nested_until: Option<usize> = None;
    for pc in h..=end {
        if pc != h {
            if let Ok(i) = headers.binary_search(&(pc as u32)) {
                nested_until = nested_until.max(Some(ends[i] as usize));
            }
        }
        let in_nested = nested_until.is_some_and(|e| pc <= e);
        if let Some(arr) = indexed_array(&f.code[pc]) {
            if f.ref_regs.get(arr as usize).copied().unwrap_or(false) && !written.contains(arr) {
                if in_nested {
                    nested_access[arr as usize] = true;
                } else {
                    accesses[arr as usize] += 1;
                }
            }
        }
    }
    // A loop with nested loops caches only the arrays it indexes itself
    // *and* its nested loops index (they use its cache instead of loading
    // their own): a cache is live through the nested loops, and one that
    // served only this loop's own, less frequent, accesses would take a
    // register from the inner loop (matmul's `a[i * n + k]`, cached for
    // the `k` loop, made the `j` loop spill). Arrays only the nested loops
    // index are theirs to cache.
    if nested_until.is_some() {
        for (r, a) in accesses.iter_mut().enumerate() {
            if !nested_access[r] {
                *a = 0;
            }
        }
    }
    // Each cached array keeps two values live through the loop: cache the
    // most-accessed few only, so that a loop over many arrays does not
    // spill its loop variables (see MAX_CACHED_ARRAYS).
    let mut count: Vec<(usize, Reg)> = (0..=Reg::MAX)
        .filter(|&r| accesses[r as usize] > 0)
        .map(|r| (accesses[r as usize], r))
        .collect();
    count.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    let mut arrays: Vec<Reg> = count.iter().take(MAX_CACHED_ARRAYS).map(|&(_, r)| r).collect();
    arrays.sort_unstable();
    arrays
}

/// Per loop of `headers`: the divisor registers it prepares magic multipliers
/// for in its pre-header (sorted), so that a `DivI` / `ModI` inside it
/// multiplies instead of dividing (`Tr::int_division`). A site's divisor goes
/// to the outermost loop around it that never writes the register and has a
/// pre-header (a single entry).
///
/// The pre-header's computation costs about as much as a few divisions, so a
/// site is prepared for only when its loop runs it many times per entry, as far
/// as the code shows: the loop is not nested in another loop (it is entered
/// once per call of the function), or the site is in a loop nested inside it.
/// A loop of a few iterations entered on every iteration of a loop around it
/// (which writes the divisor) keeps its divisions.
fn invariant_divisors(
    f: &Function,
    reachable: &[bool],
    headers: &[u32],
    ends: &[u32],
    single_entry: &[bool],
    written: &[RegSet],
) -> Vec<Vec<Reg>> {
    let mut divisors: Vec<Vec<Reg>> = vec![Vec::new(); headers.len()];
    let contains = |li: usize, pc: u32| headers[li] <= pc && pc <= ends[li];
    for (pc, ins) in f.code.iter().enumerate() {
        let (Instr::DivI { b, .. } | Instr::ModI { b, .. }) = *ins else {
            continue;
        };
        let pc = pc as u32;
        if !reachable[pc as usize] {
            continue;
        }
        // The loops around the site, outermost (least header) first.
        let around: Vec<usize> = (0..headers.len()).filter(|&li| contains(li, pc)).collect();
        let Some(pos) = around
            .iter()
            .position(|&li| single_entry[li] && !written[li].contains(b))
        else {
            continue;
        };
        // (Loops nest: the ones before it in `around` are around it.)
        let nested_in_another = pos > 0;
        let site_nested_inside = pos + 1 < around.len();
        if nested_in_another && !site_nested_inside {
            continue;
        }
        let list = &mut divisors[around[pos]];
        if let Err(i) = list.binary_search(&b) {
            list.insert(i, b);
        }
    }
    divisors
}

/// The end of each loop of `headers`: its last back-edge (one pass over the
/// code).
pub(crate) fn loop_ends(f: &Function, headers: &[u32]) -> Vec<u32> {
    let mut ends: Vec<u32> = headers.to_vec();
    for (pc, ins) in f.code.iter().enumerate() {
        if let (true, Some(target)) = (ins.op().flow().is_back_edge(), ins.jump_target()) {
            if let Ok(i) = headers.binary_search(&target) {
                ends[i] = ends[i].max(pc as u32);
            }
        }
    }
    ends
}

/// The reference webs whose every definition is a `LoadConst` of a string:
/// `w == "alpha0"` loads the constant into a register for each comparison.
/// Such a register is kept in its variable only, never stored to its frame
/// slot: the pool's strings are never freed, so the collector need not find
/// it there, and the slot keeps what it held, a reference it still marks (or
/// null). What reads the frame instead of the variable is given it then:
/// an exit writes it back where it is live (`Tr::write_back`), like an
/// integer, and so does an instruction run by `rt_op` that reads it. Not a
/// web the frame defines: one live when the function starts (a parameter),
/// or a handler's message register.
fn constant_webs(f: &Function, a: &Analysis) -> Vec<bool> {
    let mut constant = vec![false; a.webs.count];
    let mut other = vec![false; a.webs.count];
    for (pc, ins) in f.code.iter().enumerate() {
        let Some(w) = a.webs.def.get(pc).copied().flatten() else {
            continue;
        };
        let is_str = matches!(*ins, Instr::LoadConst { k, .. } if matches!(f.consts.get(k as usize), Some(Const::Str(_))));
        let slot = if is_str { &mut constant } else { &mut other };
        if let Some(s) = slot.get_mut(w as usize) {
            *s = true;
        }
    }
    let framed = (0..f.nregs as usize).map(|r| a.webs.at(0, r as Reg)).chain(
        f.handlers
            .iter()
            .filter_map(|h| h.reg.map(|r| a.webs.at(h.target, r))),
    );
    for w in framed {
        if let Some(o) = other.get_mut(w as usize) {
            *o = true;
        }
    }
    constant
        .iter()
        .zip(&other)
        .enumerate()
        .map(|(w, (&c, &o))| c && !o && a.webs.is_ref.get(w).copied().unwrap_or(false))
        .collect()
}

/// Per web: a reference web that the translator reads from its frame slot
/// rather than keeping its value in a Cranelift variable (see
/// `Tr::load_ref`): one live through a loop that does not read it. Such a
/// value would otherwise hold a machine register through the loop (matmul's
/// arrays through its inner loop, where the register allocator then spilled
/// the loop's own values). An array access whose array an enclosing cached
/// loop caches does not read the register.
fn frame_read_webs(f: &Function, a: &Analysis, ends: &[u32]) -> Vec<bool> {
    let mut frame = vec![false; a.webs.count];
    let cached_at = |pc: usize, r: Reg| {
        let first = a.cached_innermost.get(pc).copied().flatten();
        std::iter::successors(first.map(|l| l as usize), |&l| a.cached[l].parent)
            .filter(|&l| a.cached[l].contains(pc as u32))
            .any(|l| a.cached[l].arrays.binary_search(&r).is_ok())
    };
    // Per web: the last loop (index + 1) whose body reads it; one pass over
    // each loop's body, as for the other per-loop analyses.
    let mut read_in = vec![0usize; a.webs.count];
    for (li, (&h, &end)) in a.headers.iter().zip(ends).enumerate() {
        let (h, end) = (h as usize, (end as usize).min(f.code.len().saturating_sub(1)));
        let Some(live) = a.live_in.get(h) else { continue };
        for pc in h..=end {
            for &r in &a.ops[pc].uses {
                let through_cache = indexed_array(&f.code[pc]) == Some(r) && cached_at(pc, r);
                if a.is_ref.get(r as usize).copied().unwrap_or(false) && !through_cache {
                    if let Some(slot) = read_in.get_mut(a.webs.at(pc as u32, r) as usize) {
                        *slot = li + 1;
                    }
                }
            }
        }
        for r in live.iter() {
            if a.is_ref.get(r as usize).copied().unwrap_or(false) {
                let w = a.webs.at(h as u32, r) as usize;
                if read_in.get(w) != Some(&(li + 1)) {
                    frame[w] = true;
                }
            }
        }
    }
    frame
}

/// Bounds-check hoisting. In a counted cached loop ([`Counted`]), an `ArrGet` or
/// `ArrSet` of an array the loop caches, whose index is the counter plus a
/// constant or a register the loop never writes (computed in the same basic
/// block, or the counter itself), reads in range for every iteration iff its
/// first and last indices, `c0 + off` and `limit - 1 + off`, are in range and
/// do not overflow: the pre-header checks that once, and the access needs no
/// check. A failed check exits to the VM at the header, which runs the loop with
/// its checks (and raises where one fails); a version that exits too often is
/// recompiled without hoisting (`TransCtx::speculate`). Indices whose web has a
/// negative constant (handled inline, see the translator) are not hoisted.
/// Returns, per instruction, whether its check is hoisted.
fn bounds_checks(
    f: &Function,
    ops: &[Operands],
    leader: &[bool],
    webs: &Webs,
    loops: &mut [CachedLoop],
    innermost: &[Option<u32>],
) -> Vec<bool> {
    let n = f.code.len();
    let mut hoisted = vec![false; n];
    for l in loops.iter_mut() {
        let (h, end) = (l.header as usize, l.end as usize);
        let Some(&Instr::ForLoop {
            ctr, limit, target, ..
        }) = f.code.get(end)
        else {
            continue;
        };
        let body = h..end;
        let written_in_body = |r: Reg| body.clone().any(|pc| ops[pc].writes() == Some(r));
        let other_back_edge = body.clone().any(|pc| f.code[pc].jump_target() == Some(l.header));
        if target != l.header
            || ctr == limit
            || other_back_edge
            || written_in_body(ctr)
            || written_in_body(limit)
        {
            continue;
        }
        l.counted = Some(Counted {
            ctr,
            limit,
            checks: Vec::new(),
        });
    }
    for pc in 0..n {
        let (arr, idx) = match f.code[pc] {
            Instr::ArrGet { arr, idx, .. } | Instr::ArrSet { arr, idx, .. } => (arr, idx),
            _ => continue,
        };
        let Some(li) = innermost[pc] else { continue };
        let l = &loops[li as usize];
        let Some(c) = &l.counted else { continue };
        if l.arrays.binary_search(&arr).is_err() || webs.neg_const[webs.at(pc as u32, idx) as usize] {
            continue;
        }
        let invariant = |r: Reg| r != c.ctr && !l.written.contains(r);
        // The last definition of `idx` in this basic block, before `pc`.
        let mut q = pc;
        let mut def = None;
        while !leader[q] {
            q -= 1;
            if ops[q].writes() == Some(idx) {
                def = Some(q);
                break;
            }
        }
        let offset = match def.map(|q| f.code[q]) {
            None if idx == c.ctr => Some(IndexOffset::Imm(0)),
            Some(Instr::AddIImm { a, imm, .. }) if a == c.ctr => Some(IndexOffset::Imm(imm as i64)),
            Some(Instr::AddI { a, b, .. }) if a == c.ctr && invariant(b) => Some(IndexOffset::Reg(b)),
            Some(Instr::AddI { a, b, .. }) if b == c.ctr && invariant(a) => Some(IndexOffset::Reg(a)),
            _ => None,
        };
        let Some(offset) = offset else { continue };
        hoisted[pc] = true;
        if let Some(c) = &mut loops[li as usize].counted {
            if !c.checks.contains(&(arr, offset)) {
                c.checks.push((arr, offset));
            }
        }
    }
    hoisted
}

/// Set each cached loop's parent and return, per instruction, the innermost
/// cached loop containing it, in one sweep over the code with a stack of the
/// open loops (`loops` is sorted by header). The top of the stack, once the
/// loops that ended are popped, is the containing loop with the greatest
/// header; every loop containing an instruction is on the parent chain of its
/// innermost loop, since it also contains that loop's header.
fn nest_cached_loops(loops: &mut [CachedLoop], n: usize) -> Vec<Option<u32>> {
    let mut innermost = vec![None; n];
    let mut open: Vec<usize> = Vec::new();
    let mut next = 0;
    for (pc, slot) in innermost.iter_mut().enumerate() {
        let pc32 = pc as u32;
        while open.last().is_some_and(|&l| loops[l].end < pc32) {
            open.pop();
        }
        while next < loops.len() && loops[next].header <= pc32 {
            // (A header beyond the code never matches: such a loop is skipped.)
            if loops[next].header == pc32 {
                loops[next].parent = open.last().copied();
                open.push(next);
            }
            next += 1;
        }
        *slot = open.last().map(|&l| l as u32);
    }
    innermost
}

/// The registers of a function split into *webs*: the classes of definitions that
/// reach a common use (unioned at control-flow merges). The bytecode compiler
/// reuses a register for unrelated values (an index computed into the register
/// that then receives a float element, say); as separate webs they get separate
/// Cranelift variables, each with its own machine type, so a float web lives in a
/// float register without conversions. Where a register is live, exactly one web
/// of it is (all definitions reaching a point where it is live reach the same
/// use), so write-back and reload at side exits and re-entry points are exact.
#[derive(Default)]
pub struct Webs {
    /// Number of webs.
    pub count: usize,
    /// Per instruction: the web of every register before it (empty when the
    /// instruction is unreachable).
    pub before: Vec<Vec<u32>>,
    /// Per instruction: the web its definition (if any) writes.
    pub def: Vec<Option<u32>>,
    /// Per web: its bytecode register.
    pub reg: Vec<Reg>,
    /// Per web: it holds references (its register is a reference register).
    pub is_ref: Vec<bool>,
    /// Per web: keep it in a float machine register (a guess; see [`float_guess`]).
    pub is_float: Vec<bool>,
    /// Per web: one of its definitions is a negative constant or a negation (as
    /// an array index it likely counts from the end).
    pub neg_const: Vec<bool>,
}

impl Webs {
    /// The web of register `r` before instruction `pc`.
    pub fn at(&self, pc: u32, r: Reg) -> u32 {
        self.before
            .get(pc as usize)
            .and_then(|s| s.get(r as usize))
            .copied()
            .unwrap_or(r as u32)
    }

    /// The web that instruction `pc` writes when it defines `r`, else the web of
    /// `r` before it.
    pub fn def_at(&self, pc: u32, r: Reg, ops: &Operands) -> u32 {
        match (ops.def, self.def.get(pc as usize).copied().flatten()) {
            (Some(d), Some(w)) if d == r => w,
            _ => self.at(pc, r),
        }
    }
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[parent[x as usize] as usize];
        parent[x as usize] = p;
        x = p;
    }
    x
}

fn build_webs(
    f: &Function,
    ops: &[Operands],
    headers: &[u32],
    covering: &[Vec<u32>],
    live_in: &[RegSet],
    nregs: usize,
) -> Webs {
    let n = f.code.len();
    // Ids: 0..nregs the value of each register on entry (parameters, or the zeroed
    // slots), then one per instruction (its definition), then one per handler (the
    // message register the unwinder writes), then one per register per loop
    // header (its value when the VM enters the loop there: OSR, or a return
    // from a deopt). A re-entry value is a definition of its own, joined only
    // with the webs of that register at that header: were it the entry value,
    // every web of a register that reaches a header would be one, and a
    // register that is a loop counter in one loop and a float sum in the next
    // would be one web, held in an integer variable and moved to a float
    // register and back around every operation of the sum (a chain of two
    // `fadd`s took three times as long).
    let reentry_base = nregs + n + f.handlers.len();
    let nids = reentry_base + headers.len() * nregs;
    let mut parent: Vec<u32> = (0..nids as u32).collect();
    let mut before: Vec<Option<Vec<u32>>> = vec![None; n];
    let entry: Vec<u32> = (0..nregs as u32).collect();
    let mut stack: Vec<(usize, Vec<u32>)> = headers
        .iter()
        .enumerate()
        .rev()
        .map(|(i, &h)| {
            let first = (reentry_base + i * nregs) as u32;
            (h as usize, (first..first + nregs as u32).collect())
        })
        .collect();
    stack.push((0, entry.clone()));
    // Every instruction is visited once; a later arrival at a visited one unions
    // the webs that differ (classes are global, so nothing has to be revisited)
    // of the registers live there: a dead one's values meet no read. (Unioned
    // too, the `LoadConst` of each `w == "alpha0"` joined the `ConcatN` that
    // last wrote that register before the loop, and every web of a register
    // reused across a function was one.)
    while let Some((pc, st)) = stack.pop() {
        if pc >= n {
            continue;
        }
        if let Some(cur) = &before[pc] {
            let live = live_in.get(pc).copied().unwrap_or_default();
            for r in (0..nregs).filter(|&r| live.contains(r as Reg)) {
                let a = find(&mut parent, cur[r]);
                let b = find(&mut parent, st[r]);
                if a != b {
                    parent[a as usize] = b;
                }
            }
            continue;
        }
        for &hi in &covering[pc] {
            let h = &f.handlers[hi as usize];
            let mut hs = st.clone();
            if let Some(m) = h.reg {
                if (m as usize) < nregs {
                    hs[m as usize] = (nregs + n) as u32 + hi;
                }
            }
            stack.push((h.target as usize, hs));
        }
        let mut out = st.clone();
        if let Some(d) = ops[pc].def {
            if (d as usize) < nregs {
                out[d as usize] = (nregs + pc) as u32;
            }
        }
        before[pc] = Some(st);
        for s in f.code[pc].successors(pc) {
            stack.push((s, out.clone()));
        }
    }
    // Compact the classes to 0..count.
    let mut compact = vec![u32::MAX; nids];
    let mut count = 0u32;
    let mut id = |parent: &mut Vec<u32>, x: u32| {
        let root = find(parent, x) as usize;
        if compact[root] == u32::MAX {
            compact[root] = count;
            count += 1;
        }
        compact[root]
    };
    let mut reg_of = Vec::new();
    let record = |w: u32, r: usize, reg_of: &mut Vec<usize>| {
        if reg_of.len() <= w as usize {
            reg_of.resize(w as usize + 1, usize::MAX);
        }
        reg_of[w as usize] = r;
    };
    for r in 0..nregs {
        let w = id(&mut parent, r as u32);
        record(w, r, &mut reg_of);
    }
    let before: Vec<Vec<u32>> = before
        .into_iter()
        .map(|s| match s {
            Some(s) => s
                .into_iter()
                .enumerate()
                .map(|(r, x)| {
                    let w = id(&mut parent, x);
                    record(w, r, &mut reg_of);
                    w
                })
                .collect(),
            None => Vec::new(),
        })
        .collect();
    let def: Vec<Option<u32>> = (0..n)
        .map(|pc| {
            ops[pc].def.filter(|&d| (d as usize) < nregs).map(|d| {
                let w = id(&mut parent, (nregs + pc) as u32);
                record(w, d as usize, &mut reg_of);
                w
            })
        })
        .collect();
    let count = count as usize;
    let reg = (0..count)
        .map(|w| reg_of.get(w).map_or(0, |&r| r.min(Reg::MAX as usize) as Reg))
        .collect();
    let is_ref = (0..count)
        .map(|w| {
            let r = reg_of.get(w).copied().unwrap_or(usize::MAX);
            f.ref_regs.get(r).copied().unwrap_or(false)
        })
        .collect();
    let mut neg_const = vec![false; count];
    for (pc, w) in def.iter().enumerate() {
        if let (true, Some(w)) = (defines_negative_int(f, &f.code[pc]), w) {
            neg_const[*w as usize] = true;
        }
    }
    Webs {
        count,
        before,
        def,
        reg,
        is_ref,
        is_float: Vec::new(),
        neg_const,
    }
}

/// Whether the instruction defines a negative int constant or a negation (as an
/// array index, such a value likely counts from the end).
#[rustfmt::skip]
fn defines_negative_int(f: &Function, ins: &Instr) -> bool {
    use Instr::*;
    match *ins {
        LoadInt { imm, .. } => imm < 0,
        LoadConst { k, .. } => matches!(f.consts.get(k as usize), Some(Const::Int(i)) if *i < 0),
        NegI { .. } => true,
        Mov { .. } | LoadBool { .. } | LoadNull { .. } | GetGlobal { .. } | SetGlobal { .. } => false,
        AddI { .. } | SubI { .. } | MulI { .. } | DivI { .. } | ModI { .. } | AddIImm { .. }
        | MulIImm { .. } | DivIImm { .. } | ModIImm { .. } | AddModIImm { .. } | MulModIImm { .. }
        | BitAndImm { .. } | BitOrImm { .. }
        | BitXorImm { .. } | ShlImm { .. } | ShrImm { .. } | BitAnd { .. }
        | BitOr { .. } | BitXor { .. } | Shl { .. } | Shr { .. } | BitNot { .. } => false,
        AddF { .. } | SubF { .. } | MulF { .. } | DivF { .. } | ModF { .. } | NegF { .. } => false,
        EqI { .. } | NeI { .. } | LtI { .. } | LeI { .. } | EqF { .. } | NeF { .. } | LtF { .. }
        | LeF { .. } | EqRef { .. } | NeRef { .. } | EqStr { .. } | NeStr { .. } | Not { .. } => false,
        Jmp { .. } | Loop { .. } | ForLoop { .. } | JmpIf { .. } | JmpIfNot { .. } | BrEqI { .. } | BrNeI { .. }
        | BrLtI { .. } | BrLeI { .. } | BrEqIImm { .. } | BrNeIImm { .. } | BrLtIImm { .. }
        | BrLeIImm { .. } | BrGtIImm { .. } | BrGeIImm { .. } | BrLtF { .. } | BrLeF { .. }
        | BrNotLtF { .. } | BrNotLeF { .. } => false,
        Call { .. } | CallIndirect { .. } | CallBuiltin { .. } | CallExtern { .. } | Ret { .. } | RetVoid => false,
        Concat { .. } | ConcatN { .. } | ToStr { .. } | Print { .. } => false,
        NewArray { .. } | ArrGet { .. } | ArrSet { .. } | ArrLen { .. } | NewMap { .. } | MapGet { .. }
        | MapSet { .. } | NewTuple { .. } | TupleGet { .. } | NewStruct { .. } | GetField { .. }
        | SetField { .. } | MakeClosure { .. } => false,
        NewObject { .. } | CallMethod { .. } | NullCheck { .. } | IsNull { .. } | InstanceOf { .. }
        | CheckClass { .. } | TypeOf { .. } => false,
        GetCapture { .. } | NewCell { .. } | CellGet { .. } | CellSet { .. } => false,
        Throw { .. } | Rethrow { .. } => false,
    }
}

/// The float-guess scores of an arithmetic, comparison or branch instruction for
/// the registers it reads and for its result (positive: float).
fn arith_scores(op: Op) -> (i32, i32) {
    use Op::*;
    match op {
        AddF | SubF | MulF | DivF | ModF | NegF => (2, 2),
        EqF | NeF | LtF | LeF => (2, -1),
        BrLtF | BrLeF | BrNotLtF | BrNotLeF => (2, 0),
        AddI | SubI | MulI | DivI | ModI | AddIImm | MulIImm | DivIImm | ModIImm => (-2, -2),
        AddModIImm | MulModIImm => (-2, -2),
        BitAnd | BitOr | BitXor | Shl | Shr => (-2, -2),
        BitAndImm | BitOrImm | BitXorImm | ShlImm | ShrImm => (-2, -2),
        // Reads and writes its counter, reads its limit: ints.
        ForLoop => (-2, -2),
        EqI | NeI | LtI | LeI => (-2, -2),
        BrEqI | BrNeI | BrLtI | BrLeI => (-2, 0),
        BrEqIImm | BrNeIImm | BrLtIImm | BrLeIImm | BrGtIImm | BrGeIImm => (-2, 0),
        // No score, or scored by their operands' declared kinds in `float_guess`.
        NegI | BitNot | EqRef | NeRef | EqStr | NeStr | Not => (0, 0),
        Mov | LoadInt | LoadConst | LoadBool | LoadNull | GetGlobal | SetGlobal => (0, 0),
        Jmp | Loop | JmpIf | JmpIfNot => (0, 0),
        Call | CallIndirect | CallBuiltin | CallExtern | Ret | RetVoid => (0, 0),
        Concat | ConcatN | ToStr | Print => (0, 0),
        NewArray | ArrGet | ArrSet | ArrLen | NewMap | MapGet | MapSet | NewTuple | TupleGet | NewStruct
        | GetField | SetField | MakeClosure => (0, 0),
        NewObject | CallMethod | NullCheck | IsNull | InstanceOf | CheckClass | TypeOf => (0, 0),
        GetCapture | NewCell | CellGet | CellSet => (0, 0),
        Throw | Rethrow => (0, 0),
    }
}

/// What a declared kind says about a register.
fn kind_score(k: Option<&ValKind>) -> i32 {
    match k {
        Some(ValKind::Float) => 1,
        Some(ValKind::Int | ValKind::Bool) => -1,
        _ => 0,
    }
}

/// The float-guess scores from what the instruction declares about its registers
/// (constants, kinds, globals, callee signatures, array indices): `add(web,
/// score)` for the web `u(r)` of a register it reads or `d(r)` of one it writes.
// Kept in groups by family, like the other exhaustive matches over instructions.
#[rustfmt::skip]
fn kind_scores(
    p: &Program,
    f: &Function,
    ins: &Instr,
    u: &dyn Fn(Reg) -> u32,
    d: &dyn Fn(Reg) -> u32,
    add: &mut dyn FnMut(u32, i32),
) {
    use Instr::*;
    match *ins {
        LoadConst { dst, k } => match f.consts.get(k as usize) {
            Some(Const::Float(_)) => add(d(dst), 2),
            Some(Const::Int(_)) => add(d(dst), -2),
            _ => {}
        },
        LoadInt { dst, .. } => add(d(dst), -1),
        ToStr { src, kind, .. } => {
            if ValKind::from_u8(kind) == ValKind::Float {
                add(u(src), 1)
            } else {
                add(u(src), -1)
            }
        }
        GetGlobal { dst, idx } => add(d(dst), kind_score(p.globals.get(idx as usize).map(|g| &g.kind))),
        SetGlobal { src, idx } => add(u(src), kind_score(p.globals.get(idx as usize).map(|g| &g.kind))),
        Call { dst, site } => {
            if let Some(s) = f.sites.get(site as usize) {
                if let Some(callee) = p.functions.get(s.target as usize) {
                    for (i, &r) in s.args.iter().enumerate() {
                        add(u(r), kind_score(callee.param_kinds.get(i)));
                    }
                    add(d(dst), kind_score(callee.ret_kind.as_ref()));
                }
            }
        }
        ArrGet { idx, .. } | ArrSet { idx, .. } => add(u(idx), -2),
        // Scored by `arith_scores` above, or nothing to learn.
        Mov { .. } | LoadBool { .. } | LoadNull { .. } => {}
        AddI { .. } | SubI { .. } | MulI { .. } | DivI { .. } | ModI { .. } | AddIImm { .. }
        | MulIImm { .. } | DivIImm { .. } | ModIImm { .. } | AddModIImm { .. } | MulModIImm { .. }
        | BitAndImm { .. } | BitOrImm { .. }
        | BitXorImm { .. } | ShlImm { .. } | ShrImm { .. } | NegI { .. }
        | BitAnd { .. } | BitOr { .. } | BitXor { .. } | Shl { .. } | Shr { .. } | BitNot { .. } => {}
        AddF { .. } | SubF { .. } | MulF { .. } | DivF { .. } | ModF { .. } | NegF { .. } => {}
        EqI { .. } | NeI { .. } | LtI { .. } | LeI { .. } | EqF { .. } | NeF { .. } | LtF { .. }
        | LeF { .. } | EqRef { .. } | NeRef { .. } | EqStr { .. } | NeStr { .. } | Not { .. } => {}
        Jmp { .. } | Loop { .. } | ForLoop { .. } | JmpIf { .. } | JmpIfNot { .. } | BrEqI { .. } | BrNeI { .. }
        | BrLtI { .. } | BrLeI { .. } | BrEqIImm { .. } | BrNeIImm { .. } | BrLtIImm { .. }
        | BrLeIImm { .. } | BrGtIImm { .. } | BrGeIImm { .. } | BrLtF { .. } | BrLeF { .. }
        | BrNotLtF { .. } | BrNotLeF { .. } => {}
        CallIndirect { .. } | CallBuiltin { .. } | CallExtern { .. } | Ret { .. } | RetVoid => {}
        Concat { .. } | ConcatN { .. } | Print { .. } => {}
        NewArray { .. } | ArrLen { .. } | NewMap { .. } | MapGet { .. } | MapSet { .. }
        | NewTuple { .. } | TupleGet { .. } | NewStruct { .. } | GetField { .. } | SetField { .. }
        | MakeClosure { .. } => {}
        NewObject { .. } | CallMethod { .. } | NullCheck { .. } | IsNull { .. } | InstanceOf { .. }
        | CheckClass { .. } | TypeOf { .. } => {}
        GetCapture { .. } | NewCell { .. } | CellGet { .. } | CellSet { .. } => {}
        Throw { .. } | Rethrow { .. } => {}
    }
}

/// Guess which webs mostly hold floats, so that they live in float machine
/// registers. Only a performance choice: every access converts (bitcast) when a
/// web is used as the other scalar type, so a wrong guess is still correct.
fn float_guess(p: &Program, f: &Function, ops: &[Operands], webs: &Webs) -> Vec<bool> {
    let mut score = vec![0i32; webs.count];
    let mut add = |w: u32, d: i32| {
        if let Some(s) = score.get_mut(w as usize) {
            *s += d;
        }
    };
    for (i, k) in f.param_kinds.iter().enumerate() {
        add(webs.at(0, i as Reg), kind_score(Some(k)));
    }
    for (pc, (ins, ops)) in f.code.iter().zip(ops).enumerate() {
        let pc32 = pc as u32;
        if webs.before.get(pc).is_none_or(|s| s.is_empty()) {
            continue;
        }
        // A use of `r` at this instruction / the definition of `r` by it.
        let u = |r: Reg| webs.at(pc32, r);
        let d = |r: Reg| webs.def_at(pc32, r, ops);
        // Float and integer arithmetic, comparisons and branches: scores for the
        // registers they read and for their result.
        let (read, result) = arith_scores(ins.op());
        if read != 0 {
            for &r in &ops.uses {
                add(u(r), read);
            }
            if let Some(r) = ops.def {
                add(d(r), result);
            }
        }
        kind_scores(p, f, ins, &u, &d, &mut add);
    }
    (0..webs.count).map(|w| !webs.is_ref[w] && score[w] > 0).collect()
}
