//! Which calls the translator replaces by the callee's body (the emission is in
//! `translate/inline.rs`): calls of short, straight-line callees whose
//! instructions change nothing but their registers (`Op::inlinable`).
//! spectral-norm's `a(i, j)` (ten instructions, called 250 M times) is the case
//! this is for; monomorphic method calls reading a field and closures reading a
//! capture are inlined the same way. A callee that begins by testing its
//! parameters and returns early on one outcome has that early path inlined
//! ([`early_return`]; fib's base case) and is called for the other. A `void`
//! callee that only stores parameters and constants into fields ([`initializer`]:
//! a constructor's `__init__`) is inlined with its checks moved before its stores.
//!
//! The analysis plans the direct calls (`Call`), and in a function's first
//! version the closure call sites whose seen functions are all inlined, with
//! [`plan`], so that a loop whose only calls are inlined still gets its array
//! headers cached; the translator inlines the callees of the other method and
//! closure call sites it resolves to one function within what is left of the
//! [`BUDGET`]. A callee may end by making the tuple it returns
//! ([`tuple_returned`]). A callee with branches that updates slots of
//! objects known at the call ([`updater`]: a method moving a particle, a
//! closure keeping a count in a captured array) is inlined with the checks of
//! those objects before its body.

use crate::bytecode::{Const, Function, Instr, Program, Reg};
use bp_runtime::builtins::{self, Inline};
use bp_runtime::value::ValKind;

/// Most bytecode instructions of a callee that is inlined.
pub const MAX_CALLEE_INSTRS: usize = 24;

/// Most bytecode instructions inlined into one function, all calls together:
/// inlining must not push a function over the JIT's size budget or make a long
/// function's compilation much slower.
pub const BUDGET: usize = 512;

/// Whether a call of `f` (in program `p`) with `nargs` arguments can be replaced
/// by its body: short, one straight line of [`Op::inlinable`] instructions
/// ending in its only `Ret`, with number constants only, builtins that are
/// machine code, and no register read before it is written (the parameters and
/// a lambda's closure are written by the call) ([`straight_path`]); it may end
/// by allocating the struct or array it returns (`return Vec2{x: a.x + b.x,
/// y: a.y + b.y}`: [`allocation_chain`]). Or a short body with forward
/// branches ([`branching`]).
///
/// [`Op::inlinable`]: crate::bytecode::Op::inlinable
pub fn inlinable(p: &Program, f: &Function, nargs: usize) -> bool {
    inlinable_body(p, f, nargs, true)
}

/// [`inlinable`], where the calls the body makes may be inlined in turn
/// ([`nested_call`]) if `nested`.
fn inlinable_body(p: &Program, f: &Function, nargs: usize, nested: bool) -> bool {
    let n = f.code.len();
    if n == 0 || n > MAX_CALLEE_INSTRS || f.nparams as usize != nargs || f.ret_kind.is_none() {
        return false;
    }
    f.handlers.is_empty()
        && (straight_path(p, f, 0, &mut written_by_call(f, nargs), Some(nargs), nested).is_some()
            || branching(p, f, nargs, nested))
}

/// Most instructions the translator emits for a [`branching`] body: each path
/// from a branch on is emitted on its own (tail duplication: a block two
/// paths reach is emitted once for each), so this bounds what a body of at
/// most [`MAX_CALLEE_INSTRS`] instructions with merges can grow to.
pub const MAX_BRANCHING_EMITTED: usize = 2 * MAX_CALLEE_INSTRS;

/// Whether `f` called with `nargs` arguments is a short body with forward
/// branches only (`if`/`elif`/`else`, `and`/`or`, early `return`s; no loop):
/// from its start, every path is a line of [`inlinable`]-style instructions,
/// forward `Jmp`s and forward compare-and-branches on integers, bools or floats,
/// ending in a `Ret`, with no register read before every path to it wrote it,
/// and at most [`MAX_BRANCHING_EMITTED`] instructions over all paths. The
/// translator emits it as a tree of blocks whose leaves jump to one join with
/// the result (`Tr::inline_branching`): `wrap(i, n)`, `clamp`, `sign`, `max`.
pub fn branching(p: &Program, f: &Function, nargs: usize, nested: bool) -> bool {
    let mut emitted = 0;
    let mut path = Path::at_call(f, nargs);
    f.code.iter().any(|ins| branch_of(ins).is_some())
        && paths_to_end(
            p,
            f,
            0,
            &mut path,
            &mut emitted,
            Paths::Pure { nested },
            &mut Vec::new(),
        )
}

/// Most bytecode instructions of an [`updater`] that is inlined.
pub const MAX_UPDATER_INSTRS: usize = 48;

/// Whether a call of `f` with `nargs` arguments is an updater that can be
/// inlined: a function, method or lambda (without handlers) of at most
/// [`MAX_UPDATER_INSTRS`] instructions with forward branches only, that
/// reads and writes slots of objects known when it is called, never writing
/// its parameters, and otherwise computes with instructions that have no
/// guard at all ([`guard_free`]). The objects ([`slot_checks`]): its
/// parameters, whose fields it reads and writes (`def step(self, dt:
/// float)` that moves a particle and bounces it off a wall), the closure it
/// is called through, whose captures it reads, and arrays that are
/// parameters or captures, whose elements it reads and writes at constant
/// indices (a counter keeping its state in `state[0]`, the language's way to
/// keep state in a closure, `return state[0]`). Every path is checked as
/// for [`branching`], ending in `Ret`, or `RetVoid` for a `void` one.
///
/// It changes the heap, so like an [`initializer`] it could not exit at the
/// call once it has stored. The translator checks those objects (not null,
/// enough slots) before the body, where an exit still leaves nothing done
/// (`Tr::inline_updater`); in the body nothing can exit then, and its
/// stores and reads happen in order.
pub fn updater(p: &Program, f: &Function, nargs: usize) -> bool {
    updater_checks(p, f, nargs).is_some()
}

/// The [`slot_checks`] of `f` called with `nargs` arguments, if it is an
/// [`updater`]: what the translator checks before the body it inlines.
pub fn updater_checks(p: &Program, f: &Function, nargs: usize) -> Option<Vec<SlotCheck>> {
    let n = f.code.len();
    if n == 0 || n > MAX_UPDATER_INSTRS || f.nparams as usize != nargs || !f.handlers.is_empty() {
        return None;
    }
    let stores = f
        .code
        .iter()
        .any(|ins| matches!(ins, Instr::SetField { .. } | Instr::ArrSet { .. }));
    stores.then(|| slot_checks(p, f, nargs)).flatten()
}

/// An object whose slots an [`updater`]'s body reads or writes, checked
/// before the body: not null, with at least `count` slots of kind `slots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotCheck {
    /// The register the body reaches it through.
    pub reg: Reg,
    pub slots: Slots,
    /// The highest index the body uses plus one.
    pub count: u32,
    /// The closure register and capture index the body's only write of
    /// `reg` reads it from (`GetCapture`), or `None`: `reg` is a parameter
    /// (or the closure), written by the call.
    pub capture: Option<(Reg, u8)>,
}

/// The kind of slots a [`SlotCheck`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slots {
    /// A struct's or instance's fields (`GetField`, `SetField`).
    Fields,
    /// A closure's captured values (`GetCapture`).
    Captures,
    /// An array's elements (`ArrGet`, `ArrSet`).
    Elements,
}

/// The objects whose slots an [`updater`] `f` (of `p`) called with `nargs`
/// arguments touches, in the order to check them (the closure's captures
/// before the arrays read from them), if every path of its body is one an
/// updater may have ([`paths_to_end`]) and every object is known when it is
/// called: no field of an object that is not a parameter, no capture of
/// another closure, no array that is neither a parameter nor a capture
/// written once, no element index that is not a constant on its path, and
/// no reference stored into an array.
pub fn slot_checks(p: &Program, f: &Function, nargs: usize) -> Option<Vec<SlotCheck>> {
    let mut checks = Vec::new();
    let mut emitted = 0;
    let mut path = Path::at_call(f, nargs);
    if !paths_to_end(p, f, 0, &mut path, &mut emitted, Paths::Updater, &mut checks) {
        return None;
    }
    checks.sort_by_key(|c: &SlotCheck| c.slots == Slots::Elements);
    Some(checks)
}

/// Whether instruction `ins` of updater `f` (of `p`, called with `nargs`
/// arguments), reached on `path`, accesses the slot of an object known when
/// it is called, noting what the check before the body must cover in
/// `checks`; `None` if `ins` accesses no slot.
fn slot_access(
    p: &Program,
    f: &Function,
    nargs: usize,
    path: &Path,
    ins: &Instr,
    checks: &mut Vec<SlotCheck>,
) -> Option<bool> {
    let closure = f.takes_closure.then_some(nargs as Reg);
    let (reg, slots, count, capture) = match *ins {
        Instr::GetField { obj, idx, .. } | Instr::SetField { obj, idx, .. } => {
            if obj as usize >= nargs {
                return Some(false);
            }
            (obj, Slots::Fields, idx as u32 + 1, None)
        }
        Instr::GetCapture { clo, idx, .. } => {
            if Some(clo) != closure {
                return Some(false);
            }
            (clo, Slots::Captures, idx as u32 + 1, None)
        }
        // (A reference stored into an array could change a row a loop
        // around the call keeps in a variable: `Analysis::invariant_rows`
        // looks at the loop's own stores only.)
        Instr::ArrSet { elem, .. } if elem == ValKind::Ref as u8 => return Some(false),
        Instr::ArrGet { arr, idx, .. } | Instr::ArrSet { arr, idx, .. } => {
            let capture = match only_write(p, f, arr) {
                _ if (arr as usize) < nargs => None,
                Some(Instr::GetCapture { clo, idx, .. }) if Some(*clo) == closure => Some((*clo, *idx)),
                _ => return Some(false),
            };
            let Some(at) = path.consts.get(idx as usize).copied().flatten() else {
                return Some(false);
            };
            (arr, Slots::Elements, at + 1, capture)
        }
        _ => return None,
    };
    Some(match checks.iter_mut().find(|c| c.reg == reg) {
        Some(c) if c.slots == slots && c.capture == capture => {
            c.count = c.count.max(count);
            true
        }
        Some(_) => false,
        None => {
            checks.push(SlotCheck {
                reg,
                slots,
                count,
                capture,
            });
            true
        }
    })
}

/// The only instruction of `f` (of `p`) that writes register `r`, if
/// exactly one does.
fn only_write<'f>(p: &Program, f: &'f Function, r: Reg) -> Option<&'f Instr> {
    let mut writes = f.code.iter().filter(|ins| ins.operands(p, f).writes() == Some(r));
    let first = writes.next()?;
    writes.next().is_none().then_some(first)
}

/// What a path through a callee's body knows of its registers on the way
/// to an instruction.
#[derive(Clone)]
struct Path {
    /// Written (parameters and the closure by the call).
    written: Vec<bool>,
    /// Holding this non-negative constant (a `LoadInt`'s).
    consts: Vec<Option<u32>>,
}

impl Path {
    /// At the start of `f` called with `nargs` arguments.
    fn at_call(f: &Function, nargs: usize) -> Path {
        Path {
            written: written_by_call(f, nargs),
            consts: vec![None; f.nregs as usize],
        }
    }
}

/// Whether the translator emits `ins` (of `f`) without any guard, stress
/// point or call that could fail: so an [`updater`]'s body, once it has
/// stored, cannot exit. Moves, number constants, int arithmetic that wraps,
/// float arithmetic, comparisons, and builtins that are machine code.
fn guard_free(f: &Function, ins: &Instr) -> bool {
    use crate::bytecode::Op::*;
    match ins.op() {
        Mov | LoadInt | LoadBool | LoadNull => true,
        AddI | SubI | MulI | AddIImm | MulIImm | NegI | BitAnd | BitOr | BitXor | Shl | Shr | BitNot => true,
        BitAndImm | BitOrImm | BitXorImm | ShlImm | ShrImm => true,
        AddF | SubF | MulF | DivF | NegF => true,
        EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | Not => true,
        LoadConst | CallBuiltin => inlinable_in_body(f, ins),
        _ => false,
    }
}

/// What the paths of a body with branches may hold and end in.
#[derive(Clone, Copy)]
enum Paths {
    /// A [`branching`] body: [`inlinable`]-style instructions (and calls
    /// inlined in turn if `nested`), ending in `Ret`.
    Pure { nested: bool },
    /// An [`updater`]: [`guard_free`] instructions and accesses to the
    /// slots of the objects of its [`slot_checks`], ending in `Ret` or
    /// `RetVoid`.
    Updater,
}

/// Whether `ins` (of `f`) is a `Call` the translator inlines inside an
/// inlined body (one level deep: `def px(g, n, x, y)` calling `clamp`): its
/// callee is [`inlinable`] without calls of its own and allocates nothing
/// (nothing in the outer body may collect). Its guards exit at the outer
/// call, like the outer body's.
fn nested_call(p: &Program, f: &Function, ins: &Instr) -> bool {
    call_target(p, f, ins).is_some_and(|(callee, nargs)| {
        !callee.takes_closure
            && !callee.code.iter().any(|i| i.op().allocates())
            && inlinable_body(p, callee, nargs, false)
    })
}

/// The callee of `ins` (of `f`) and its number of arguments, if it is a `Call`.
fn call_target<'p>(p: &'p Program, f: &Function, ins: &Instr) -> Option<(&'p Function, usize)> {
    let &Instr::Call { site, .. } = ins else {
        return None;
    };
    let s = f.sites.get(site as usize)?;
    Some((p.functions.get(s.target as usize)?, s.args.len()))
}

/// The bytecode instructions a call of `f` inlined whole adds to its caller:
/// its own and those of the calls it inlines in turn ([`nested_call`]), for
/// the inlining budget.
pub fn inline_cost(p: &Program, f: &Function) -> usize {
    let nested: usize = f
        .code
        .iter()
        .filter_map(|ins| call_target(p, f, ins))
        .map(|(callee, _)| callee.code.len())
        .sum();
    f.code.len() + nested
}

/// Whether every path of `f` from `at` ends as `kind` says, within twice
/// the size bound of `kind`'s bodies (`emitted`: the instructions counted so
/// far; `path`: what the way to `at` wrote; `checks`: an updater's
/// [`slot_checks`] so far).
fn paths_to_end(
    p: &Program,
    f: &Function,
    mut at: u32,
    path: &mut Path,
    emitted: &mut usize,
    kind: Paths,
    checks: &mut Vec<SlotCheck>,
) -> bool {
    let (budget, first_writable) = match kind {
        Paths::Pure { .. } => (MAX_BRANCHING_EMITTED, 0),
        // (A parameter, or the closure, written over would no longer be the
        // object checked.)
        Paths::Updater => (
            2 * MAX_UPDATER_INSTRS,
            f.nparams as usize + f.takes_closure as usize,
        ),
    };
    loop {
        *emitted += 1;
        let Some(ins) = f.code.get(at as usize) else {
            return false;
        };
        if *emitted > budget {
            return false;
        }
        if let Instr::Jmp { target } = *ins {
            if target <= at {
                return false;
            }
            at = target;
            continue;
        }
        if let Some((uses, target)) = branch_of(ins) {
            let read = uses
                .iter()
                .flatten()
                .all(|&r| path.written.get(r as usize).copied().unwrap_or(false));
            if !read || target <= at || !paths_to_end(p, f, target, &mut path.clone(), emitted, kind, checks)
            {
                return false;
            }
            at += 1;
            continue;
        }
        let ok = match kind {
            Paths::Pure { nested } => {
                let call = nested && nested_call(p, f, ins);
                if call {
                    // (Its body is emitted on this path too.)
                    *emitted += call_target(p, f, ins).map_or(0, |(c, _)| c.code.len());
                }
                inlinable_in_body(f, ins) || call
            }
            Paths::Updater => match *ins {
                Instr::Ret { .. } | Instr::RetVoid => true,
                _ => slot_access(p, f, f.nparams as usize, path, ins, checks)
                    .unwrap_or_else(|| guard_free(f, ins)),
            },
        };
        if !ok || !track_written(p, f, ins, &mut path.written, first_writable) {
            return false;
        }
        if let Some(d) = ins.operands(p, f).writes() {
            let constant = match *ins {
                Instr::LoadInt { imm, .. } => u32::try_from(imm).ok(),
                _ => None,
            };
            if let Some(c) = path.consts.get_mut(d as usize) {
                *c = constant;
            }
        }
        match (kind, ins) {
            (Paths::Pure { .. } | Paths::Updater, Instr::Ret { .. }) | (Paths::Updater, Instr::RetVoid) => {
                return true
            }
            _ => at += 1,
        }
    }
}

/// The registers a compare-and-branch reads and its target, if `ins` is one:
/// one of [`int_branch`]'s, or of two floats.
pub fn branch_of(ins: &Instr) -> Option<([Option<Reg>; 2], u32)> {
    use Instr::*;
    match *ins {
        BrLtF { a, b, target }
        | BrLeF { a, b, target }
        | BrNotLtF { a, b, target }
        | BrNotLeF { a, b, target } => Some(([Some(a), Some(b)], target)),
        _ => int_branch(ins),
    }
}

/// Whether a call of `f` with `nargs` arguments is replaced by `f`'s whole body
/// within an inlining budget of `budget` instructions: `f` fits it and is
/// [`inlinable`], an [`initializer`] or an [`updater`]. The analysis's plan and the translator's
/// method and closure calls both decide by this.
pub fn inlined_whole(p: &Program, f: &Function, nargs: usize, budget: usize) -> bool {
    inline_cost(p, f) <= budget
        && (inlinable(p, f, nargs) || initializer(p, f, nargs) || updater(p, f, nargs))
}

/// Whether a call of `f` with `nargs` arguments is an initializer (or updater)
/// that can be inlined: a `void` function (not a lambda with captures, without
/// handlers) of at most [`MAX_CALLEE_INSTRS`] instructions, one straight line
/// to its `RetVoid`, that computes with [`inlinable`]-style instructions and
/// stores into fields of its parameters and into globals: a constructor's
/// `__init__` (`self.left = left`, `self.n = 0`), `self.count = self.count +
/// 1`, `total = total + x`.
///
/// Its stores change the heap, so unlike a pure body it could not exit at the
/// call once one is done: the interpreter would run the call again. The
/// translator therefore makes every check of the body (null receivers, field
/// bounds, zero divisors, deopt stress) in order, and all the stores, which
/// cannot fail, after the last of them (`Tr::inline_initializer`). So that
/// no read sees a store not yet made, a read of a field index after a store to
/// a field of that index (of any object: they may be the same), and of a
/// global after a store to it, are not accepted.
pub fn initializer(p: &Program, f: &Function, nargs: usize) -> bool {
    use Instr::*;
    let n = f.code.len();
    if n == 0 || n > MAX_CALLEE_INSTRS || f.nparams as usize != nargs || f.ret_kind.is_some() {
        return false;
    }
    if f.takes_closure || !f.handlers.is_empty() || !matches!(f.code.last(), Some(RetVoid)) {
        return false;
    }
    let mut written = written_by_call(f, nargs);
    let mut stored_fields = Vec::new();
    let mut stored_globals = Vec::new();
    let is_written = |written: &[bool], r: Reg| written.get(r as usize).copied().unwrap_or(false);
    for ins in &f.code[..n - 1] {
        match *ins {
            SetField { obj, src, idx } if (obj as usize) < nargs && is_written(&written, src) => {
                stored_fields.push(idx);
                continue;
            }
            SetGlobal { src, idx } if is_written(&written, src) => {
                stored_globals.push(idx);
                continue;
            }
            // (Two fields of different indices are never the same memory,
            // whichever objects they are of.)
            GetField { idx, .. } if stored_fields.contains(&idx) => return false,
            GetGlobal { idx, .. } if stored_globals.contains(&idx) => return false,
            Ret { .. } => return false,
            _ => {}
        }
        // A parameter written over would no longer be the object whose fields
        // the checks made before the stores were about: locals only.
        if !inlinable_in_body(f, ins) || !track_written(p, f, ins, &mut written, nargs) {
            return false;
        }
    }
    true
}

/// Whether instruction `ins` of `f` can be translated in place of a call of
/// `f`: [`Op::inlinable`], and a constant load only of a number (the
/// materialised pool is the caller's), a builtin call only of one that is
/// machine code, no division by the constant 0 (never emitted; translated as
/// an exit that closes the block).
///
/// [`Op::inlinable`]: crate::bytecode::Op::inlinable
fn inlinable_in_body(f: &Function, ins: &Instr) -> bool {
    ins.op().inlinable()
        && match *ins {
            Instr::LoadConst { k, .. } => {
                matches!(f.consts.get(k as usize), Some(Const::Int(_) | Const::Float(_)))
            }
            Instr::DivIImm { imm: 0, .. }
            | Instr::ModIImm { imm: 0, .. }
            | Instr::AddModIImm { imm: 0, .. }
            | Instr::MulModIImm { imm: 0, .. } => false,
            Instr::CallBuiltin { site, .. } => f
                .sites
                .get(site as usize)
                .is_some_and(|s| builtin_is_machine_code(s.target, s.args.len())),
            _ => true,
        }
}

/// Whether `ins` is a `NewTuple` that compiled code allocates inline and whose
/// result the `next` instruction returns (`divmod`'s `return (q, r)`): the
/// allocation is then the body's last effect, with no exit after it, so an
/// exit in the body still leaves nothing done, and the tuple's items are all
/// the references the body has while it allocates (in the helper's argument
/// block on its slow path, which may collect).
pub fn tuple_returned(f: &Function, ins: &Instr, next: Option<&Instr>) -> bool {
    let (&Instr::NewTuple { dst, site }, Some(&Instr::Ret { src })) = (ins, next) else {
        return false;
    };
    src == dst
        && f.sites
            .get(site as usize)
            .is_some_and(|s| bp_runtime::heap::abi::tuple_cell(s.args.len()).is_some())
}

/// Follow instruction `ins` of `f` through `written` (per register of the
/// body, whether it holds a value yet): false if it reads a register not
/// written, or writes one below `first_writable` or outside the body; else
/// marks the register it writes.
fn track_written(
    p: &Program,
    f: &Function,
    ins: &Instr,
    written: &mut [bool],
    first_writable: usize,
) -> bool {
    let ops = ins.operands(p, f);
    if ops
        .uses
        .iter()
        .any(|&r| !written.get(r as usize).copied().unwrap_or(false))
    {
        return false;
    }
    match ops.def {
        None => true,
        Some(d) if (d as usize) < first_writable => false,
        Some(d) => written.get_mut(d as usize).map(|w| *w = true).is_some(),
    }
}

/// The early return of a callee that begins by comparing its parameters, or
/// values a few [`inlinable`]-style instructions compute from them: the call
/// site computes them and makes the compare itself, and runs the path to the
/// `Ret` inline, calling the function only for the other outcome (partial
/// inlining; fib's `if n < 2: return n`, where half of all calls end, and a
/// tree walk's `if array_len(n.kids) == 0: return 1`, where half of the nodes
/// are leaves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlyReturn {
    /// The pc of the compare-and-branch: the instructions before it compute
    /// its operands, on both outcomes (their guards exit at the call, where
    /// nothing has been done yet).
    pub branch: u32,
    /// The path is taken when the branch jumps (else when it falls through).
    pub on_jump: bool,
    /// The first instruction of the path, which ends at its first `Ret`.
    pub start: u32,
    /// The instructions before the branch and on the path (for the inlining
    /// budget).
    pub len: usize,
}

/// Most instructions before an [`EarlyReturn`]'s compare: loads and a little
/// arithmetic, which the call site computes on both outcomes (the callee
/// computes them again on the other).
pub const MAX_EARLY_PREFIX: usize = 4;

/// The [`EarlyReturn`] of a call of `f` with `nargs` arguments, if `f` (not a
/// lambda with captures, without handlers, returning a value) begins with at
/// most [`MAX_EARLY_PREFIX`] [`inlinable`]-style instructions and then an
/// integer compare-and-branch of values they or the call wrote (or of one and a
/// constant, or a branch on a bool), and one of the branch's two successors
/// starts a path of at most
/// [`MAX_CALLEE_INSTRS`] [`inlinable`]-style instructions ending in `Ret`.
pub fn early_return(p: &Program, f: &Function, nargs: usize) -> Option<EarlyReturn> {
    if f.nparams as usize != nargs || f.ret_kind.is_none() || f.takes_closure || !f.handlers.is_empty() {
        return None;
    }
    let mut written = written_by_call(f, nargs);
    let branch = f.code.iter().position(|ins| int_branch(ins).is_some())?;
    if branch > MAX_EARLY_PREFIX {
        return None;
    }
    for ins in &f.code[..branch] {
        if !inlinable_in_body(f, ins) || !track_written(p, f, ins, &mut written, 0) {
            return None;
        }
    }
    let (uses, target) = int_branch(&f.code[branch])?;
    if !uses
        .iter()
        .flatten()
        .all(|&r| written.get(r as usize).copied().unwrap_or(false))
    {
        return None;
    }
    // (A prefix that wrote a reference, held in no frame, rules out an
    // allocation on the path: `straight_path`.)
    let refs_kept = !f.code[..branch].iter().any(|ins| writes_ref(p, f, ins));
    let branch = branch as u32;
    [(false, branch + 1), (true, target)]
        .into_iter()
        .filter(|&(_, start)| start > branch)
        .find_map(|(on_jump, start)| {
            let params = refs_kept.then_some(nargs);
            let len = straight_path(p, f, start, &mut written.clone(), params, false)?;
            Some(EarlyReturn {
                branch,
                on_jump,
                start,
                len: branch as usize + len,
            })
        })
}

/// The registers a branch on integers reads and its target, if `ins` is one:
/// a compare-and-branch of two registers or of one and a constant, or a
/// branch on a bool.
fn int_branch(ins: &Instr) -> Option<([Option<Reg>; 2], u32)> {
    use Instr::*;
    match *ins {
        JmpIf { cond, target } | JmpIfNot { cond, target } => Some(([Some(cond), None], target)),
        BrEqI { a, b, target } | BrNeI { a, b, target } | BrLtI { a, b, target } | BrLeI { a, b, target } => {
            Some(([Some(a), Some(b)], target))
        }
        BrEqIImm { a, target, .. }
        | BrNeIImm { a, target, .. }
        | BrLtIImm { a, target, .. }
        | BrLeIImm { a, target, .. }
        | BrGtIImm { a, target, .. }
        | BrGeIImm { a, target, .. } => Some(([Some(a), None], target)),
        _ => None,
    }
}

/// The number of instructions from `start` to the first `Ret` (inclusive), if
/// they are at most [`MAX_CALLEE_INSTRS`] and one straight line of
/// [`Op::inlinable`] instructions with number constants only, builtins that are
/// machine code, and no register read before it is written (`written`: the
/// parameters, and a lambda's closure, which the call writes, and what ran
/// before `start`). The path may end by making the tuple it returns
/// ([`tuple_returned`]), and, when `params` is `Some(nargs)`, by allocating
/// what it returns ([`allocation_chain`]) if no reference register was
/// written since the call.
///
/// [`Op::inlinable`]: crate::bytecode::Op::inlinable
fn straight_path(
    p: &Program,
    f: &Function,
    start: u32,
    written: &mut [bool],
    params: Option<usize>,
    nested: bool,
) -> Option<usize> {
    let path = f.code.get(start as usize..)?;
    let mut refs_written = false;
    for (i, ins) in path.iter().take(MAX_CALLEE_INSTRS).enumerate() {
        let chain = params.is_some_and(|nargs| !refs_written && allocation_chain(p, f, nargs, path, i));
        let ok = inlinable_in_body(f, ins)
            || tuple_returned(f, ins, path.get(i + 1))
            || chain
            || (nested && nested_call(p, f, ins));
        if !ok || !track_written(p, f, ins, written, 0) {
            return None;
        }
        refs_written |= !chain && writes_ref(p, f, ins);
        if let Instr::Ret { .. } = ins {
            return Some(i + 1);
        }
    }
    None
}

/// Whether instruction `i` of `path` (of `f`, in program `p`) allocates an
/// array or a struct in a chain that ends the path (`return Node{kids: [],
/// n: 1}`): after it come only instructions of scalars (no reference read or
/// written), then the chain's next allocation, which takes its result as an
/// operand, or the `Ret` of its result; and its reference operands are
/// parameters, which the caller's frame keeps, or the result of the chain's
/// allocation before it, which its argument block keeps while it may
/// collect. No other reference is held across an allocation then, and an
/// exit before the last (deopt stress) leaves only garbage behind: the VM
/// runs the call again.
fn allocation_chain(p: &Program, f: &Function, nargs: usize, path: &[Instr], i: usize) -> bool {
    let alloc = |ins: Option<&Instr>| match ins {
        Some(&Instr::NewArray { dst, site } | &Instr::NewStruct { dst, site }) => {
            f.sites.get(site as usize).map(|s| (dst, &s.args[..]))
        }
        _ => None,
    };
    let is_ref = |r: Reg| may_be_ref(f, r);
    let scalar = |ins: &Instr| {
        let ops = ins.operands(p, f);
        inlinable_in_body(f, ins) && !ops.uses.iter().chain(&ops.def).any(|&r| is_ref(r))
    };
    let Some((dst, args)) = alloc(path.get(i)) else {
        return false;
    };
    let before = path[..i].iter().rev().find(|ins| !scalar(ins));
    let prev = alloc(before).map(|(d, _)| d);
    if !args
        .iter()
        .all(|&r| !is_ref(r) || (r as usize) < nargs || Some(r) == prev)
    {
        return false;
    }
    match path[i + 1..].iter().find(|ins| !scalar(ins)) {
        Some(&Instr::Ret { src }) => src == dst,
        next => alloc(next).is_some_and(|(_, next_args)| next_args.contains(&dst)),
    }
}

/// Whether register `r` of `f` may hold a reference (a register the root map
/// does not know counts as one).
fn may_be_ref(f: &Function, r: Reg) -> bool {
    f.ref_regs.get(r as usize).copied().unwrap_or(true)
}

/// Whether `ins` (of `f`, in program `p`) writes a register that may hold a
/// reference.
fn writes_ref(p: &Program, f: &Function, ins: &Instr) -> bool {
    ins.operands(p, f).def.is_some_and(|d| may_be_ref(f, d))
}

/// Per register of `f` called with `nargs` arguments, whether the call writes it:
/// the parameters, and a lambda's closure after them.
fn written_by_call(f: &Function, nargs: usize) -> Vec<bool> {
    let mut written = vec![false; f.nregs as usize];
    let first_local = nargs + f.takes_closure as usize;
    for w in written.iter_mut().take(first_local) {
        *w = true;
    }
    written
}

/// Whether builtin `id` called with `nargs` arguments is translated to machine
/// instructions (or a call of its native float twin): no helper, no status, no
/// exit (see `Tr::call_builtin`).
pub fn builtin_is_machine_code(id: u32, nargs: usize) -> bool {
    match builtins::all().get(id as usize).map(|b| b.inline) {
        Some(Inline::Unary(_) | Inline::NativeUnary(_)) => nargs == 1,
        Some(Inline::Binary(_) | Inline::NativeBinary(_)) => nargs == 2,
        Some(Inline::Clamp) => nargs == 3,
        // (A string operation calls `rt_builtin` where the builtin raises.)
        Some(
            Inline::Call
            | Inline::Leaf(_)
            | Inline::HeapLeaf(_)
            | Inline::Slice(_)
            | Inline::Str(_)
            | Inline::MapFind(_),
        )
        | None => false,
    }
}

/// Whether a handler of `f` covers instruction `pc`: a call there is not
/// inlined in a version after one given up (see [`plan`]).
pub fn covered(f: &Function, pc: usize) -> bool {
    f.handlers
        .iter()
        .any(|h| (h.start as usize..h.end as usize).contains(&pc))
}

/// The inlining plan of function `f`: per instruction, whether it is a call
/// that is inlined (in code order, while the budget lasts), and what is left of
/// the budget for the call sites the translator resolves itself. (A recursive
/// call is never inlined: its callee has a `Call`.)
///
/// A `Call` is inlined when its callee is [`inlined_whole`], except, in a
/// later version, one that a handler covers: a guard of an inlined body exits
/// at the call (the VM runs the call again, so that an error is raised in the
/// callee's frame), and a version given up for its deopts may have been given
/// up for such errors, caught here; a call makes them exceptions of compiled
/// code instead. In the first
/// version of a function (`speculate`, see `TransCtx::speculate`) a
/// `CallIndirect` whose site has seen a few functions, each of which would be
/// inlined whole, is too: the translator then checks the callee against them,
/// inlines each, and deoptimizes on any other function, so the site makes no
/// call (`Plan::closure_callees` are the functions it checks, read from the
/// feedback once, here: the interpreter may add to it meanwhile).
pub fn plan(p: &Program, f: &Function, speculate: bool) -> Plan {
    let mut budget = BUDGET;
    let mut closure_callees = std::collections::HashMap::new();
    let mut inlined = vec![false; f.code.len()];
    for (pc, ins) in f.code.iter().enumerate() {
        inlined[pc] = match *ins {
            Instr::Call { .. } if !speculate && covered(f, pc) => false,
            Instr::Call { site, .. } => {
                let Some(s) = f.sites.get(site as usize) else {
                    continue;
                };
                let Some(callee) = p.functions.get(s.target as usize) else {
                    continue;
                };
                let ok = inlined_whole(p, callee, s.args.len(), budget);
                if ok {
                    budget -= inline_cost(p, callee);
                }
                ok
            }
            Instr::CallIndirect { site, .. } if speculate => {
                let Some(s) = f.sites.get(site as usize) else {
                    continue;
                };
                let seen = f.call_feedback.seen(site);
                let mut size = 0usize;
                let all = !seen.is_empty()
                    && seen.iter().all(|&fid| {
                        let Some(callee) = p.functions.get(fid as usize) else {
                            return false;
                        };
                        let ok = !std::ptr::eq(callee, f)
                            && inlined_whole(p, callee, s.args.len(), budget.saturating_sub(size));
                        size += inline_cost(p, callee);
                        ok
                    });
                if all && size <= budget {
                    budget -= size;
                    closure_callees.insert(pc as u32, seen);
                    true
                } else {
                    false
                }
            }
            _ => false,
        };
    }
    Plan {
        inlined,
        budget,
        closure_callees,
    }
}

/// What [`plan`] decided for one function.
pub struct Plan {
    /// Per instruction: a `Call`, or a `CallIndirect` of `closure_callees`,
    /// whose callees are all inlined.
    pub inlined: Vec<bool>,
    /// What is left of the [`BUDGET`] for the call sites the translator
    /// resolves itself.
    pub budget: usize,
    /// Per `CallIndirect` planned inlined (by pc): the functions it checks the
    /// callee against, in that order.
    pub closure_callees: std::collections::HashMap<u32, Vec<u32>>,
}
