//! Bytecode analyses used by the translator: operands of each instruction,
//! successors, reachability, basic-block leaders, register liveness (for the
//! write-back at side exits) and a per-register machine type guess.

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

/// Registers read and written by one instruction.
#[derive(Default, Debug, Clone)]
pub struct Operands {
    pub uses: Vec<Reg>,
    /// Register written on normal completion, if any.
    pub def: Option<Reg>,
}

/// Whether function `fid` returns a value.
fn returns_value(p: &Program, fid: u32) -> bool {
    p.functions
        .get(fid as usize)
        .is_some_and(|f| f.ret_kind.is_some())
}

/// Whether builtin `id` is declared `-> void`.
pub fn builtin_is_void(id: u32) -> bool {
    bp_runtime::builtins::all()
        .get(id as usize)
        .is_some_and(|b| b.sig.trim_end().ends_with("-> void"))
}

/// Operands of `ins` in function `f`.
pub fn operands(p: &Program, f: &Function, ins: &Instr) -> Operands {
    use Instr::*;
    let site_args = |s: u32| -> Vec<Reg> {
        f.sites
            .get(s as usize)
            .map(|s| s.args.clone())
            .unwrap_or_default()
    };
    let (uses, def): (Vec<Reg>, Option<Reg>) = match *ins {
        Mov { dst, src } => (vec![src], Some(dst)),
        LoadInt { dst, .. } | LoadConst { dst, .. } | LoadBool { dst, .. } | LoadNull { dst } => {
            (vec![], Some(dst))
        }
        GetGlobal { dst, .. } => (vec![], Some(dst)),
        SetGlobal { src, .. } => (vec![src], None),
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
        | Concat { dst, a, b } => (vec![a, b], Some(dst)),
        AddIImm { dst, a, .. } => (vec![a], Some(dst)),
        NegI { dst, src } | BitNot { dst, src } | NegF { dst, src } | Not { dst, src } => {
            (vec![src], Some(dst))
        }
        Jmp { .. } | Loop { .. } | RetVoid => (vec![], None),
        JmpIf { cond, .. } | JmpIfNot { cond, .. } => (vec![cond], None),
        BrEqI { a, b, .. }
        | BrNeI { a, b, .. }
        | BrLtI { a, b, .. }
        | BrLeI { a, b, .. }
        | BrLtF { a, b, .. }
        | BrLeF { a, b, .. }
        | BrNotLtF { a, b, .. }
        | BrNotLeF { a, b, .. } => (vec![a, b], None),
        BrEqIImm { a, .. }
        | BrNeIImm { a, .. }
        | BrLtIImm { a, .. }
        | BrLeIImm { a, .. }
        | BrGtIImm { a, .. }
        | BrGeIImm { a, .. } => (vec![a], None),
        Call { dst, site } => {
            let target = f.sites.get(site as usize).map(|s| s.target).unwrap_or(u32::MAX);
            let def = if returns_value(p, target) { Some(dst) } else { None };
            (site_args(site), def)
        }
        CallIndirect { dst, site } => {
            // The callee (and whether it returns a value) is only known at run time:
            // `dst` may keep its old value, so it is read as well as written.
            let mut u = site_args(site);
            if let Some(s) = f.sites.get(site as usize) {
                u.push(s.target as Reg);
            }
            u.push(dst);
            (u, None)
        }
        CallBuiltin { dst, site } => {
            let id = f.sites.get(site as usize).map(|s| s.target).unwrap_or(u32::MAX);
            let def = if builtin_is_void(id) { None } else { Some(dst) };
            (site_args(site), def)
        }
        CallExtern { dst, site } => {
            let id = f.sites.get(site as usize).map(|s| s.target).unwrap_or(u32::MAX);
            let returns = p
                .externs
                .get(id as usize)
                .is_some_and(|e| e.ret != crate::bytecode::FfiType::Void);
            (site_args(site), if returns { Some(dst) } else { None })
        }
        Ret { src } => (vec![src], None),
        ConcatN { dst, site } | NewArray { dst, site } | NewMap { dst, site } | NewTuple { dst, site } => {
            (site_args(site), Some(dst))
        }
        NewStruct { dst, site } | MakeClosure { dst, site } => (site_args(site), Some(dst)),
        ToStr { dst, src, .. } => (vec![src], Some(dst)),
        Print { site } => (site_args(site), None),
        ArrGet { dst, arr, idx } => (vec![arr, idx], Some(dst)),
        ArrSet { arr, idx, src } => (vec![arr, idx, src], None),
        ArrLen { dst, arr } => (vec![arr], Some(dst)),
        MapGet { dst, map, key } => (vec![map, key], Some(dst)),
        MapSet { map, key, val } => (vec![map, key, val], None),
        TupleGet { dst, tup, .. } => (vec![tup], Some(dst)),
        GetField { dst, obj, .. } => (vec![obj], Some(dst)),
        SetField { obj, src, .. } => (vec![obj, src], None),
        Throw { src } | Rethrow { src } => (vec![src], None),
    };
    Operands { uses, def }
}

/// Normal (non-exceptional) successors of the instruction at `pc`.
pub fn successors(ins: &Instr, pc: usize) -> Vec<usize> {
    use Instr::*;
    match *ins {
        Jmp { target } | Loop { target, .. } => vec![target as usize],
        JmpIf { target, .. }
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
        | BrNotLeF { target, .. } => vec![pc + 1, target as usize],
        Ret { .. } | RetVoid | Throw { .. } | Rethrow { .. } => vec![],
        _ => vec![pc + 1],
    }
}

/// Whether the instruction ends a basic block.
pub fn ends_block(ins: &Instr) -> bool {
    use Instr::*;
    matches!(
        ins,
        Jmp { .. }
            | Loop { .. }
            | JmpIf { .. }
            | JmpIfNot { .. }
            | BrEqI { .. }
            | BrNeI { .. }
            | BrLtI { .. }
            | BrLeI { .. }
            | BrEqIImm { .. }
            | BrNeIImm { .. }
            | BrLtIImm { .. }
            | BrLeIImm { .. }
            | BrGtIImm { .. }
            | BrGeIImm { .. }
            | BrLtF { .. }
            | BrLeF { .. }
            | BrNotLtF { .. }
            | BrNotLeF { .. }
            | Ret { .. }
            | RetVoid
            | Throw { .. }
            | Rethrow { .. }
    )
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
    let ops: Vec<Operands> = f.code.iter().map(|i| operands(p, f, i)).collect();
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
        for s in successors(&f.code[pc], pc) {
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
        if ends_block(ins) {
            leader[pc + 1] = true;
        }
        let succ = successors(ins, pc);
        if succ.len() != 1 || succ[0] != pc + 1 {
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
            for s in successors(ins, pc) {
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
    let is_float = float_guess(p, f, nregs, &is_ref);

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
fn float_guess(p: &Program, f: &Function, nregs: usize, is_ref: &[bool]) -> Vec<bool> {
    use Instr::*;
    let mut score = vec![0i32; nregs];
    let mut fl = |r: Reg, d: i32| {
        if let Some(s) = score.get_mut(r as usize) {
            *s += d;
        }
    };
    for (i, k) in f.param_kinds.iter().enumerate() {
        match k {
            ValKind::Float => fl(i as Reg, 1),
            ValKind::Int | ValKind::Bool => fl(i as Reg, -1),
            ValKind::Ref => {}
        }
    }
    for ins in &f.code {
        match *ins {
            AddF { dst, a, b }
            | SubF { dst, a, b }
            | MulF { dst, a, b }
            | DivF { dst, a, b }
            | ModF { dst, a, b } => {
                fl(dst, 2);
                fl(a, 2);
                fl(b, 2);
            }
            NegF { dst, src } => {
                fl(dst, 2);
                fl(src, 2);
            }
            EqF { a, b, dst } | NeF { a, b, dst } | LtF { a, b, dst } | LeF { a, b, dst } => {
                fl(a, 2);
                fl(b, 2);
                fl(dst, -1);
            }
            BrLtF { a, b, .. } | BrLeF { a, b, .. } | BrNotLtF { a, b, .. } | BrNotLeF { a, b, .. } => {
                fl(a, 2);
                fl(b, 2);
            }
            LoadConst { dst, k } => match f.consts.get(k as usize) {
                Some(Const::Float(_)) => fl(dst, 2),
                Some(Const::Int(_)) => fl(dst, -2),
                _ => {}
            },
            ToStr { src, kind, .. } => {
                if ValKind::from_u8(kind) == ValKind::Float {
                    fl(src, 1)
                } else {
                    fl(src, -1)
                }
            }
            GetGlobal { dst, idx } | SetGlobal { src: dst, idx } => {
                match p.globals.get(idx as usize).map(|g| g.kind) {
                    Some(ValKind::Float) => fl(dst, 1),
                    Some(ValKind::Int) | Some(ValKind::Bool) => fl(dst, -1),
                    _ => {}
                }
            }
            Call { dst, site } => {
                if let Some(s) = f.sites.get(site as usize) {
                    if let Some(callee) = p.functions.get(s.target as usize) {
                        for (i, &r) in s.args.iter().enumerate() {
                            match callee.param_kinds.get(i) {
                                Some(ValKind::Float) => fl(r, 1),
                                Some(ValKind::Int) | Some(ValKind::Bool) => fl(r, -1),
                                _ => {}
                            }
                        }
                        match callee.ret_kind {
                            Some(ValKind::Float) => fl(dst, 1),
                            Some(ValKind::Int) | Some(ValKind::Bool) => fl(dst, -1),
                            _ => {}
                        }
                    }
                }
            }
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
            | EqI { dst, a, b }
            | NeI { dst, a, b }
            | LtI { dst, a, b }
            | LeI { dst, a, b } => {
                fl(dst, -2);
                fl(a, -2);
                fl(b, -2);
            }
            AddIImm { dst, a, .. } => {
                fl(dst, -2);
                fl(a, -2);
            }
            LoadInt { dst, .. } => fl(dst, -1),
            BrEqI { a, b, .. } | BrNeI { a, b, .. } | BrLtI { a, b, .. } | BrLeI { a, b, .. } => {
                fl(a, -2);
                fl(b, -2);
            }
            BrEqIImm { a, .. }
            | BrNeIImm { a, .. }
            | BrLtIImm { a, .. }
            | BrLeIImm { a, .. }
            | BrGtIImm { a, .. }
            | BrGeIImm { a, .. } => fl(a, -2),
            ArrGet { idx, .. } | ArrSet { idx, .. } => fl(idx, -2),
            _ => {}
        }
    }
    (0..nregs).map(|r| !is_ref[r] && score[r] > 0).collect()
}
