//! Register bytecode → Cranelift IR, one function at a time.
//!
//! The translator is independent of the JIT module: it fills an `ir::Function`
//! for any target ISA (the AArch64 test compiles every test program for a foreign
//! ISA with it). Addresses of VM structures and runtime helpers are constants of
//! the run ([`Addrs`]), embedded as immediates.
//!
//! # Shape of a compiled function (see `docs/jit.md` for the ABI)
//! * `entry(base, depth, a_0..a_{k-1})`: a call (bit 63 of `depth` clear)
//!   checks the native stack, takes the parameters (the first four in machine
//!   registers) and zeroes the other reference slots (the caller pushed the
//!   complete frame record and checked the other limits); with bit 63 set it
//!   jumps to the *re-entry dispatch* with the loop header in its record (OSR).
//! * one Cranelift block per bytecode basic block; the webs of a bytecode
//!   register (`analysis::Webs`) are `Variable`s (`I64`, or `F64` for webs that
//!   mostly hold floats; webs of one register and type share one, see
//!   [`web_variables`]); every definition of a reference register is also stored
//!   to its frame slot.
//! * a size budget ([`MAX_JIT_INSTRS`], [`MAX_JIT_IR`]): past it translation
//!   stops with [`TransError::TooBig`] and the function stays interpreted.
//! * a *pre-header* before each loop of `analysis::CachedLoop`, where the lengths
//!   and data pointers of the arrays it indexes are read once.
//! * cold *exit blocks*, created on demand per pc: `deopt(pc)` writes the live
//!   scalar registers back and calls `rt_resume`; `exc(pc)` handles a nonzero
//!   status from a call or helper (stop → return 2; handler covering pc →
//!   `rt_catch` and on at the handler's block; else `rt_propagate` and return
//!   1); `ovf(pc)` raises `stack overflow`; `raise(pc)` has the VM run an
//!   instruction whose guard for an error failed (`rt_raise`), then goes on
//!   as `exc(pc)` if it raised.
//! * the *re-entry dispatch*: a switch over the headers of the loops the version
//!   can be entered at (`TransCtx::osr_loops`); each case loads the registers
//!   live at the header from the frame and jumps to it. Both OSR and
//!   `rt_resume` returning status 3 (the interpreter reached one of those
//!   headers in the deoptimized frame) come back through it.

mod appends;
mod arith;
pub(crate) use arith::div_magic;
mod calls;
mod cells;
mod exits;
mod heap;
mod inline;
mod instr;
mod map_found;
mod pairing;
mod sinking;
mod strings;
mod threading;

use super::abi::{NewKind, ObjOp, Offsets, CONCAT_MAX_PARTS, ST_EXCEPTION, ST_RAISED, THROW_RETHROW};
use super::analysis::{
    analyze, entered_headers, Analysis, CachedLoop, IndexExpr, IndexOffset, IndexOp, RegSet,
};
use super::ranges::Interval;
use crate::bytecode::{Const, Function, Instr, Program, Reg};
use bp_runtime::builtins::{self, BinaryOp, Inline, StrOp, UnaryOp};
use bp_runtime::value::{ValKind, Value};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F64, I32, I64, I8};
use cranelift_codegen::ir::{
    self, AbiParam, Block, InstBuilder, MemFlagsData, SigRef, Signature, Type, Value as CV,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Switch, Variable};
use std::collections::BTreeMap;

/// Addresses of the run's VM structures and of the runtime helpers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Addrs {
    /// Whether calls must check that the callee's window fits the register stack.
    /// False when that follows from the depth check: every window has at most
    /// `m` registers (the largest `nregs` of the program) and windows are
    /// contiguous from slot 0, so `max_depth * m <= limit` bounds every window
    /// (the same for every VM that shares the code: see the tier).
    pub check_stack: bool,
    /// Entry table: one code address per function, or `abi::NOT_COMPILED`.
    pub entry: u64,
    /// The trampoline shim: what a call of a function without code calls.
    pub tramp: u64,
    /// Per function: `nregs | nparams << 16 | returns_void << 24` (u32).
    pub fn_info: u64,
    pub h_resume: u64,
    /// `rt_raise(vm, base, pc, osr_loops)`: a guard for an error failed.
    pub h_raise: u64,
    pub h_propagate: u64,
    /// `rt_catch(vm, pc)`: a handler of this frame catches the exception.
    pub h_catch: u64,
    /// `rt_throw(vm, msg, pc | rethrow << 32)`.
    pub h_throw: u64,
    pub h_op: u64,
    /// `rt_overflow(vm, base)`: the callee pops its record, raises in the caller.
    pub h_overflow: u64,
    /// `rt_overflow_at(vm, pc)`: a call at `pc` of this frame overflows.
    pub h_overflow_at: u64,
    pub h_fmod: u64,
    pub h_eq_ref: u64,
    pub h_bad_reentry: u64,
    /// `rt_builtin(vm, id, args, nargs, pc) -> status`.
    pub h_builtin: u64,
    /// `rt_new(vm, site, args, nargs | tag << 32, pc) -> status`.
    pub h_new: u64,
    /// `rt_obj(vm, tag, args, kind, pc) -> status`.
    pub h_obj: u64,
    /// `MapSet`'s leaf twin `(args) -> declined`.
    pub h_map_set: u64,
    /// `rt_write_barrier(obj) -> 0`: remember an old object (`Tr::write_barrier`).
    pub h_barrier: u64,
    /// A zeroed, 256-byte block that reads like an empty object.
    pub zero_obj: u64,
    /// The shared strings of at most one byte (`bp_runtime::heap::abi::short_strs`).
    pub short_strs: u64,
}

/// Everything the translator needs besides the function itself.
pub struct TransCtx<'a> {
    pub program: &'a Program,
    /// The function's materialised constant pool (string constants are pinned
    /// heap objects).
    pub consts: &'a [Value],
    pub addrs: &'a Addrs,
    pub offs: &'a Offsets,
    /// Deopt stress: 0 off, 1 take each exit on its 1st, 2nd, 4th, 8th... visit,
    /// 2 take every exit every time.
    pub stress: u8,
    /// Address of one `u32` visit counter per pc (stress mode only).
    pub stress_ctrs: u64,
    /// The calling convention of the runtime helpers (the platform's C one).
    pub call_conv: CallConv,
    /// The calling convention of compiled functions ([`jit_call_conv`]).
    pub jit_cc: CallConv,
    pub frontend_config: TargetFrontendConfig,
    /// The target is little-endian.
    pub little_endian: bool,
    /// An earlier version of the function met a negative array index: handle
    /// negative indices inline instead of speculating that there are none.
    pub neg_index: bool,
    /// The first version of the function, which speculates: it checks the
    /// bounds of counted loops' array accesses in their pre-headers
    /// (`analysis::Counted`) instead of at each access, and a closure call site
    /// calls only the functions it has seen, deoptimizing on another
    /// (`Tr::call_closure`), and calls a handler covers may be inlined (an
    /// error of the body exits at the call). Off for the versions after one
    /// that was given up (its speculation may be what failed).
    pub speculate: bool,
    /// The loops (`abi::osr_bit`) whose headers this version can be entered at,
    /// by OSR or by re-entry after a side exit: the re-entry dispatch has a
    /// case for each, and the resume helpers are told. An entry makes every
    /// register live at its header a block parameter there, so a version has
    /// only those the tier has asked for (docs/jit.md, "OSR entries").
    pub osr_loops: u64,
    /// Mark every IR instruction with the bytecode index it comes from (for
    /// `--jit-dump`, which shows the source position of each).
    pub source_positions: bool,
}

/// Arguments passed in machine registers (the first `REG_ARGS` parameters of a
/// function; the others are written to the callee's window).
pub const REG_ARGS: usize = 4;

/// The number of register arguments of `f`.
pub fn reg_args(f: &Function) -> usize {
    (f.nparams as usize).min(REG_ARGS)
}

/// The signature of a compiled function with `k` register arguments:
/// `(base, depth, a_0, .., a_{k-1}) -> status` (floats as their bits; bit 63 of
/// `depth` set for OSR / re-entry from the VM). The
/// VM's address is a constant of the compiled code, so it is not passed.
pub fn jit_signature(cc: CallConv, k: usize) -> Signature {
    let mut s = sig(cc, &[I64, I64], &[I64]);
    s.params.extend((0..k).map(|_| AbiParam::new(I64)));
    s
}

/// The calling convention of compiled functions for an ISA whose C convention is
/// `default`: on x86-64 `Winch`, which has no callee-saved registers, so that a
/// function does not save and restore five registers on every call (values live
/// across calls are spilled around the calls instead, only where they are live);
/// elsewhere the C convention. The VM enters compiled code through a C-convention
/// shim, and the trampoline is reached through one (see `jit::Jit::new`).
pub fn jit_call_conv(default: CallConv, arch: target_lexicon::Architecture) -> CallConv {
    match arch {
        target_lexicon::Architecture::X86_64 => CallConv::Winch,
        _ => default,
    }
}

fn sig(cc: CallConv, params: &[Type], rets: &[Type]) -> Signature {
    let mut s = Signature::new(cc);
    s.params.extend(params.iter().map(|&t| AbiParam::new(t)));
    s.returns.extend(rets.iter().map(|&t| AbiParam::new(t)));
    s
}

/// Magic multiplier and shift for signed 64-bit division by `d` (`|d| >= 2`,
/// `d != i64::MIN`): `q = smulhi(x, m)` (`+ x` if `d > 0 && m < 0`, `- x` if
/// `d < 0 && m > 0`), then `q >>= s` (arithmetic) and `q += q >>> 63`.
/// Hacker's Delight, 2nd ed., figure 10-1.
pub fn magic_s64(d: i64) -> (i64, u32) {
    let two63: u64 = 1 << 63;
    let ad = d.unsigned_abs();
    let t = two63.wrapping_add((d as u64) >> 63);
    let anc = t - 1 - t % ad;
    let mut p: u32 = 63;
    let mut q1 = two63 / anc;
    let mut r1 = two63 - q1 * anc;
    let mut q2 = two63 / ad;
    let mut r2 = two63 - q2 * ad;
    loop {
        p += 1;
        q1 = q1.wrapping_mul(2);
        r1 = r1.wrapping_mul(2);
        if r1 >= anc {
            q1 = q1.wrapping_add(1);
            r1 = r1.wrapping_sub(anc);
        }
        q2 = q2.wrapping_mul(2);
        r2 = r2.wrapping_mul(2);
        if r2 >= ad {
            q2 = q2.wrapping_add(1);
            r2 = r2.wrapping_sub(ad);
        }
        let delta = ad - r2;
        if !(q1 < delta || (q1 == delta && r1 == 0)) {
            break;
        }
    }
    let m = q2.wrapping_add(1) as i64;
    let m = if d < 0 { m.wrapping_neg() } else { m };
    (m, p - 64)
}

/// Disjoint categories of memory for Cranelift's alias analysis, so that a store
/// to an array element does not force the array's length and data pointer to be
/// reloaded (and a frame-slot store does not invalidate anything else). Calls
/// clobber every category, which covers all runtime helpers that resize arrays.
#[derive(Clone, Copy)]
enum Mem {
    /// Frame records, the frame depth, the entry table, stress counters.
    Vm = 0,
    /// Register slots of frames (and the builtin argument block).
    Frame,
    /// Object headers: lengths, data pointers, closure fields, the function info
    /// table. Compiled code writes them only in an inline allocation, before the
    /// new object is used; those writes are in this category too.
    Hdr,
    /// Array elements, struct fields, tuple items.
    Heap,
    /// Global variables.
    Global,
    /// The heap's words that inline allocation reads and writes (free-cell
    /// lists, the all-objects list head, the allocation counters).
    Alloc,
}

/// A Cranelift operation on one or two values (emitted with the builder).
type BinOp = fn(&mut FunctionBuilder, CV, CV) -> CV;
type UnOp = fn(&mut FunctionBuilder, CV) -> CV;

/// The number of registers of a callee (for the register stack check).
#[derive(Clone, Copy)]
enum CalleeRegs {
    Static(u32),
    Dynamic(CV),
}

/// The callee of a call of a user function (see [`Tr::emit_call`]).
#[derive(Clone, Copy)]
enum CallTarget {
    /// A `Call`: everything but the callee's id value is known when translating.
    Direct {
        /// The callee's function id, and as a constant.
        fid: u32,
        id: CV,
        nregs: u32,
        /// The callee returns nothing: the destination register is not written.
        returns_void: bool,
        /// The callee is this function: called directly, not through the entry table.
        recursive: bool,
        /// The function value called, if the call is through one (stored to the
        /// callee's register after its parameters).
        closure: Option<CV>,
    },
    /// A `CallIndirect` of a closure without captures: the callee and what
    /// depends on it are run-time values.
    Indirect {
        id: CV,
        nregs: CV,
        /// Nonzero if the callee returns nothing (the destination keeps its value).
        is_void: CV,
        /// The function value called (stored to the callee's register after its
        /// parameters), if it is one.
        closure: Option<CV>,
    },
}

/// Which result of a truncating integer division (`DivI` or `ModI`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum DivOp {
    Quotient,
    Remainder,
}

/// Direction of [`Tr::heap_access`].
#[derive(Clone, Copy)]
enum Access {
    Load(Reg),
    Store(Reg),
}

#[derive(Clone, Copy)]
enum Exit {
    /// A side exit: the interpreter runs the instruction at this pc again.
    Deopt,
    /// A nonzero status at this pc: catch the exception here, or let it leave.
    Exc,
    /// A call at this pc would exceed a limit: raise `stack overflow` here, then
    /// continue as the exception path `Exc` of the same pc.
    Ovf,
    /// A guard for the errors of the instruction at this pc failed
    /// (`Op::raises_at_guard`): `rt_raise` runs it in the VM; if it raised,
    /// on as the exception path `Exc` of the same pc, else as after a side
    /// exit.
    Raise,
    /// A side exit from a loop's pre-header at its header, before the loop
    /// keeps any struct as fields (`translate/sinking.rs`): the registers
    /// are those of the frame.
    Entry,
}

/// A Cranelift signature of the calls compiled code makes.
#[derive(Clone, Copy)]
enum Sig {
    /// `(vm, base, pc) -> status`: `rt_op`; also any helper `(i64, i64, i64)
    /// -> i64` (`bytes_equal`, `rt_throw`).
    VmBasePc,
    /// `(vm, base, pc, osr_loops) -> status`: `rt_resume`, `rt_raise`.
    Resume,
    /// A compiled function with this many register arguments.
    Compiled(usize),
    /// Helpers `(i64, i64) -> i64` (`rt_propagate`, `rt_catch`, `rt_overflow`, ...).
    TwoInts,
    /// Float functions `(f64, f64) -> f64` (`fmod`, `pow`, ...).
    FloatBinary,
    /// Float functions `(f64) -> f64` (math builtins).
    FloatUnary,
    /// The builtin helper `(vm, a, args, b, pc) -> status` (see [`Tr::block_helper`]).
    Builtin,
    /// A builtin's leaf twin `(args) -> declined` (see [`Tr::leaf_call`]).
    Leaf,
}

/// How many [`Sig`]s there are (`Compiled` once per register argument count).
const SIGS: usize = 7 + REG_ARGS + 1;

impl Sig {
    /// The signature's slot in [`Tr::sigs`].
    fn slot(self) -> usize {
        match self {
            Sig::VmBasePc => 0,
            Sig::Resume => 1,
            Sig::TwoInts => 2,
            Sig::FloatBinary => 3,
            Sig::FloatUnary => 4,
            Sig::Builtin => 5,
            Sig::Leaf => 6,
            Sig::Compiled(k) => 7 + k,
        }
    }

    /// The signature itself, in the calling conventions of `tc`.
    fn signature(self, tc: &TransCtx) -> ir::Signature {
        let c = tc.call_conv;
        match self {
            Sig::VmBasePc => sig(c, &[I64, I64, I64], &[I64]),
            Sig::Resume => sig(c, &[I64, I64, I64, I64], &[I64]),
            Sig::TwoInts => sig(c, &[I64, I64], &[I64]),
            Sig::FloatBinary => sig(c, &[F64, F64], &[F64]),
            Sig::FloatUnary => sig(c, &[F64], &[F64]),
            Sig::Builtin => sig(c, &[I64, I64, I64, I64, I64], &[I64]),
            Sig::Leaf => sig(c, &[I64], &[I64]),
            Sig::Compiled(k) => jit_signature(tc.jit_cc, k),
        }
    }
}

/// The values of this function's frame.
struct Frame {
    /// The address of register 0 (the `base` parameter).
    base: CV,
    /// This frame's depth (the `depth` parameter, without the OSR bit).
    depth: Variable,
    /// Whether a call from this frame would pass the frame limit (`depth >=
    /// max_depth`; an `I8`), for the calls inlined in a function with loops.
    /// Both are fixed for an activation, so it is computed once per entry
    /// ([`frame_limit_reached`]): a call inlined in a loop then tests a
    /// register instead of loading the limit and comparing. Cranelift does not
    /// hoist that check itself (it keeps every branch where it is), and in
    /// spectral_norm's inner loop, around an inlined `A(i, j)`, it cost 15 %.
    /// (Loop-free functions skip Cranelift's optimizer, which would remove
    /// the flag where nothing is inlined: they test at the call instead.)
    at_limit: Option<Variable>,
    /// The argument block of direct builtin calls (one per function, sized for
    /// its largest call), created on first use.
    arg_block: Option<ir::StackSlot>,
}

/// Values already computed within the current bytecode block (each entry
/// dominates the rest of it), and values known to be zero together.
struct ValueNumbering {
    /// Values known to be zero exactly when another value is: a remainder by
    /// `2^k` (`x % 2^k == 0` iff `x & (2^k - 1) == 0`, whatever the sign),
    /// with that `x` and `k`.
    zero_equiv: std::collections::HashMap<CV, LowBits>,
    /// Strings known to be entries of the shared table of one-byte strings
    /// (the results of `str_char_at` and `chr`), with their index: the byte,
    /// or the empty string's index (`translate/strings.rs`).
    short_strs: std::collections::HashMap<CV, CV>,
    /// Values whose low bits are known to be zero, how many: in the block a
    /// branch on `x % 2^k == 0` enters only when it holds ([`Tr::zero_facts`]).
    low_zeros: std::collections::HashMap<CV, u32>,
    /// Integer sums and products already computed, by operands, and the
    /// `(index, length)` pairs whose bounds check passed. `c[k] = c[k] + x`
    /// computes `k` twice into two registers; with these the store reuses the
    /// load's check.
    computed: std::collections::HashMap<(arith::Commutative, CV, CV), CV>,
    bounds_checked: Vec<(CV, CV)>,
    /// Tuples made in this function, with their items (a tuple never changes,
    /// and its items were computed before it, so this holds wherever the
    /// tuple's value is used): `TupleGet` reads the item instead of memory.
    tuple_items: std::collections::HashMap<CV, Vec<CV>>,
    /// The placeholders (null) of the tuples never allocated
    /// (`Analysis::virtual_tuple`), each in `tuple_items`.
    virtual_tuples: std::collections::HashSet<CV>,
    /// The placeholders (null) of the structs never allocated
    /// (`Analysis::virtual_struct`): a register set to one keeps its frame
    /// slot as it was (nothing reads the slot before the register is dead:
    /// no exit, for the reader's are the maker's, and no collection).
    virtual_structs: std::collections::HashSet<CV>,
    /// The placeholders (null) of the arrays never allocated
    /// (`Analysis::array_read_apart`), with their items: a register set to
    /// one keeps its frame slot as it was, and `ArrGet`s of it at constant
    /// indices are the items.
    virtual_arrays: std::collections::HashMap<CV, Vec<CV>>,
    /// Structs allocated in this bytecode block by a `NewStruct` of the
    /// function or of a body it inlined, with the values of their fields:
    /// `GetField` of such a struct is the value it was made with, read from
    /// no memory and checked for nothing (`add(v, scale(g, 0.5))` reads the
    /// fields of the struct `scale` just made). Forgotten at every instruction
    /// that could store into a field ([`Tr::keeps_struct_items`]) and at
    /// every block boundary.
    struct_items: std::collections::HashMap<CV, Vec<CV>>,
    /// Reference registers of the function that hold one of those structs,
    /// set in this block: a read of such a register, which would load it
    /// from its frame slot, is the struct's value (the slot holds it: only
    /// this code writes it, and the collector moves nothing).
    struct_regs: std::collections::HashMap<Reg, CV>,
    /// References a guard of this bytecode block found not null (`p.x + p.y`
    /// checks `p` once): made by an instruction of the function itself, whose
    /// guards dominate the rest of the block ([`Tr::non_null`]).
    non_null: std::collections::HashSet<CV>,
    /// In the straight-line body of a callee being inlined (`Some` while it
    /// is translated, `Tr::inlined_result`): the length and data pointer of
    /// each array value it indexed, which its first access found not null.
    /// `mid(a, b)` reading `a[0]` then `a[1]` checks and loads `a` once.
    /// Emptied before an instruction that may resize an array.
    inline_arrays: Option<std::collections::HashMap<CV, (CV, CV)>>,
    /// Where maps hold keys (`map_found.rs`).
    maps: map_found::MapFacts,
}

impl ValueNumbering {
    /// At the start of a bytecode block: forget what the block before knew
    /// (the facts a single edge carries in are entered afterwards).
    fn forget_block(&mut self) {
        self.computed.clear();
        self.bounds_checked.clear();
        self.low_zeros.clear();
        self.non_null.clear();
        if let Some(m) = self.inline_arrays.as_mut() {
            m.clear();
        }
        self.maps.forget();
        self.forget_structs();
    }

    fn forget_structs(&mut self) {
        self.struct_items.clear();
        self.struct_regs.clear();
    }
}

/// `bits = x & (2^k - 1)`: the low `k` bits of `x`.
#[derive(Clone, Copy)]
struct LowBits {
    bits: CV,
    x: CV,
    k: u32,
}

/// The variables of an invariant row (`analysis::InvariantRow`) while its
/// loop runs: the row, its length and its data pointer.
#[derive(Clone, Copy)]
struct RowVars {
    row: Variable,
    len: Variable,
    ptr: Variable,
}

/// The array caches and divisor multipliers of the loops of `an.cached`.
struct LoopCaches {
    /// Per loop: its pre-header block.
    pre_headers: Vec<Block>,
    /// Per loop, per cached array: variables for its length and data pointer.
    array_vars: Vec<Vec<(Variable, Variable)>>,
    /// Per loop, per divisor of `CachedLoop::divisors`: variables for its
    /// magic multiplier (0: divide) and shift ([`Tr::prepare_divisors`]).
    divisor_vars: Vec<Vec<(Variable, Variable)>>,
    /// Per loop, per row of `CachedLoop::rows`: its variables
    /// ([`Tr::load_invariant_rows`]).
    row_vars: Vec<Vec<RowVars>>,
    /// Per loop, per global of `CachedLoop::globals`: the variable that holds
    /// it while the loop runs ([`Tr::promoted_global`]).
    global_vars: Vec<Vec<Variable>>,
    /// Per loop, per register of `CachedLoop::structs`, per field: the
    /// variable that holds the field while the loop runs, and its machine
    /// type (`translate/sinking.rs`).
    struct_vars: Vec<Vec<Vec<(Variable, Type)>>>,
    /// Per loop, per register of `CachedLoop::structs`: whether the loop
    /// has made a new struct for it since it was entered (0 or 1).
    struct_made: Vec<Vec<Variable>>,
    /// Per `CallIndirect` whose function value a pre-header checked
    /// ([`Tr::call_guards`]), by pc: the captured values its callee reads,
    /// by index, each in the variable the pre-header loaded it into
    /// ([`Tr::load_captures`]).
    captures: std::collections::HashMap<u32, Vec<(u8, Variable)>>,
    /// Per such `CallIndirect` whose callee is an updater
    /// ([`Tr::precheck_updater`]), by pc: the objects of its body the
    /// pre-header checked, by the callee's register, with the variable
    /// holding where their slots are.
    prechecked: std::collections::HashMap<u32, Vec<inline::Prechecked>>,
    /// The cells of updaters kept in variables while their loops run
    /// (`translate/cells.rs`), of every loop.
    cells: Vec<cells::PromotedCell>,
    /// The pairs of them that may be one element.
    cell_twins: Vec<cells::CellTwins>,
    /// Blocks on edges that leave loops holding globals or structs, to be filled with
    /// the stores of those globals: (block, pc of the jump, its target, the
    /// block the edge goes on to).
    leaving: Vec<(Block, u32, u32, Block)>,
}

struct Tr<'a, 'f> {
    tc: &'a TransCtx<'a>,
    /// Per call of `Analysis::virtual_slice`, by pc: variables for the
    /// address and the length of the bytes of its substring
    /// ([`Tr::virtual_slice`]).
    slice_vars: std::collections::HashMap<u32, (Variable, Variable)>,
    fid: u32,
    f: &'a Function,
    an: Analysis,
    b: FunctionBuilder<'f>,
    /// One variable (and machine type) per web of registers ([`analysis::Webs`]).
    vars: Vec<Variable>,
    vty: Vec<Type>,
    /// The instruction being translated: register accesses go to the webs live
    /// there.
    cur: u32,
    blocks: Vec<Option<Block>>,
    frame: Frame,
    exits: BTreeMap<(u8, u32), Block>,
    /// While the instruction at the first pc is translated: its exits are
    /// those of the second (`Analysis::rewind_exit`).
    rewind: Option<(u32, u32)>,
    /// Why the function cannot be compiled, found where no error could be
    /// returned (a kept struct's register written another way).
    bad: Option<String>,
    /// A loop's pre-header is being emitted: its side exits are
    /// `Exit::Entry` ones (no struct is kept as fields yet).
    in_pre_header: bool,
    todo: Vec<(Exit, u32, Block)>,
    reentry: Block,
    /// The loop headers this version can be entered at (the re-entry
    /// dispatch's cases).
    entered: Vec<u32>,
    /// The signatures imported so far, by [`Sig::slot`]: each on its first
    /// use ([`Tr::sig`]). Cranelift lowers every signature a function
    /// declares, used or not, which was a tenth of compiling a small one.
    sigs: [Option<SigRef>; SIGS],
    /// This function itself, for direct recursive calls (declared on the
    /// first: [`Tr::self_ref`]).
    self_ref: Option<ir::FuncRef>,
    /// The alias regions of [`Mem`], by discriminant.
    regions: [ir::AliasRegion; 6],
    vn: ValueNumbering,
    /// Per bytecode block entered by the edge of a branch on `x % 2^k == 0`
    /// on which it holds: `x` and `k`, which become a fact of the block
    /// ([`ValueNumbering::low_zeros`]) if that edge is its only way in.
    zero_facts: std::collections::HashMap<u32, (CV, u32)>,
    loops: LoopCaches,
    /// The callee whose body is being translated in place of a call, if any:
    /// register accesses then go to its registers ([`inline::Inlined`]).
    inl: Option<inline::Inlined<'a>>,
    /// The loop being unrolled, if one is ([`pairing`]).
    unroll: Option<pairing::Unroll>,
    /// A string-constant test left for the branch after it
    /// ([`strings::StrTest`]).
    str_test: Option<strings::StrTest<'a>>,
    /// What the entry block's guards proved about the registers no
    /// instruction writes ([`heap::EntryFacts`]).
    entry_facts: Option<heap::EntryFacts>,
    /// The block every exit goes on to after resuming the VM
    /// ([`Tr::after_resume`]), once one needs it.
    resume_tail: Option<Block>,
    /// The block that calls `rt_resume` for every side exit, given the exit's
    /// pc ([`Tr::fill_leave_calls`]), once one needs it.
    resume_call: Option<Block>,
    /// The block that calls `rt_raise` for every raise exit at a pc no
    /// handler covers, given the pc, once one needs it.
    raise_call: Option<Block>,
    /// The block every exception exit without a handler goes on to
    /// (`Tr::fill_propagate_tail`), once one needs it.
    propagate_tail: Option<Block>,
    /// Bytecode instructions still allowed to be inlined into this function.
    inline_budget: usize,
    /// The append registers and their flags: whether the string in the
    /// register is referred to by nothing else ([`appends`]).
    appends: Vec<(Reg, Variable)>,
}

/// Why a function was not translated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransError {
    /// Over the size budget ([`MAX_JIT_INSTRS`], [`MAX_JIT_IR`]): the function
    /// stays interpreted. The text says which limit.
    TooBig(String),
    /// The translator does not accept the function (a bug or bad bytecode).
    Failed(String),
}

impl From<String> for TransError {
    fn from(e: String) -> Self {
        TransError::Failed(e)
    }
}

impl From<&str> for TransError {
    fn from(e: &str) -> Self {
        TransError::Failed(e.to_string())
    }
}

impl std::fmt::Display for TransError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransError::TooBig(e) => write!(f, "too big: {e}"),
            TransError::Failed(e) => f.write_str(e),
        }
    }
}

/// The JIT's size budget, in bytecode instructions: a longer function is not
/// compiled (it stays interpreted, like a function over [`MAX_JIT_IR`]), and
/// is not even analysed, so its size costs nothing but this comparison. The
/// largest function of the test programs and benchmarks has 434 instructions.
pub const MAX_JIT_INSTRS: usize = 16_384;

/// The JIT's size budget, in Cranelift IR instructions: translation stops as
/// soon as it has emitted more, and the function stays interpreted. Cranelift's
/// optimizer and register allocator grow faster than linearly on long
/// functions (the e-graph pass scans the dominator-tree path of every constant,
/// the register allocator splits values live across thousands of calls), so
/// this is what bounds compile time and memory; see docs/jit.md ("Compile
/// cost") for the measurements behind the value. The largest function of the
/// test programs translates to 3,901 instructions (8,188 with deopt stress).
pub const MAX_JIT_IR: usize = 32_768;

/// Translate function `fid` into `func` (whose signature must be
/// [`jit_signature`]). A function over the size budget is
/// [`TransError::TooBig`]. After an error, `fctx` is reset (Cranelift
/// requires an empty context for the next function).
pub fn translate(
    tc: &TransCtx,
    fid: u32,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<(), TransError> {
    let r = translate_function(tc, fid, func, fctx);
    if r.is_err() {
        *fctx = FunctionBuilderContext::new();
    }
    r
}

#[allow(clippy::needless_range_loop)] // pc indexes several per-instruction tables
fn translate_function(
    tc: &TransCtx,
    fid: u32,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<(), TransError> {
    let p = tc.program;
    let f = p
        .functions
        .get(fid as usize)
        .ok_or_else(|| format!("no function {fid}"))?;
    if f.code.is_empty() {
        return Err("empty function".into());
    }
    if f.code.len() > MAX_JIT_INSTRS {
        return Err(TransError::TooBig(format!(
            "{} bytecode instructions (budget {MAX_JIT_INSTRS})",
            f.code.len()
        )));
    }
    let an = analyze(p, f, tc.speculate);
    let mut b = FunctionBuilder::new(func, fctx);
    let (vars, vty) = web_variables(&mut b, &an.webs);
    let names = ["vm", "frame", "header", "heap", "global", "alloc"];
    let regions = std::array::from_fn(|i| {
        b.func.dfg.alias_regions.insert(ir::AliasRegionData {
            user_id: i as u32 + 1,
            description: names[i].into(),
        })
    });

    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let (base, epc) = (params[0], params[1]);
    let reentry = b.create_block();
    b.append_block_param(reentry, I64);
    b.set_cold_block(reentry);
    // `epc` is this frame's depth (its record is `frames[depth - 1]`); with bit 63
    // set, the frame enters at the loop header in its record's `pc` (OSR).
    // Passing the depth saves loading the depth counter, whose store-to-load
    // forwarding chain through every call and return would be the critical path
    // of call-heavy code.
    let depth_var = b.declare_var(I64);
    let at_limit_var = (f.num_loops > 0).then(|| b.declare_var(I8));
    // A version without any entry is never entered with bit 63 set (the tier
    // enters a loop only in code that has its entry): every call goes
    // straight in, without the test.
    let entered = entered_headers(f, tc.osr_loops);
    let start = if entered.is_empty() {
        // The normal entry goes on in the function's first block.
        b.seal_block(entry);
        entry
    } else {
        let start = b.create_block();
        let is_osr = b.ins().icmp_imm_s(IntCC::SignedLessThan, epc, 0);
        let osr = b.create_block();
        b.set_cold_block(osr);
        b.ins().brif(is_osr, osr, &[], start, &[]);
        b.seal_block(entry);
        b.seal_block(start);
        b.seal_block(osr);
        b.switch_to_block(osr);
        let d = b.ins().band_imm_s(epc, i64::MAX);
        b.def_var(depth_var, d);
        if let Some(var) = at_limit_var {
            let at_limit = frame_limit_reached(&mut b, tc, d);
            b.def_var(var, at_limit);
        }
        let fs = tc.offs.frame_size as i64;
        let scaled = b.ins().imul_imm_s(d, fs);
        let vm = b.ins().get_pinned_reg(I64);
        let frames = b.ins().load(I64, run_word_flags(), vm, tc.offs.run.frames);
        let rec = b.ins().iadd(scaled, frames);
        let rec = b.ins().iadd_imm_s(rec, -fs);
        let pc = b.ins().load(I32, MemFlagsData::trusted(), rec, tc.offs.frame_pc);
        let pc = b.ins().uextend(I64, pc);
        let enc = b.ins().iadd_imm_s(pc, 1);
        b.ins().jump(reentry, &[enc.into()]);
        start
    };
    b.switch_to_block(start);
    b.def_var(depth_var, epc);

    let pre: Vec<Block> = an.cached.iter().map(|_| b.create_block()).collect();
    let cvars: Vec<Vec<(Variable, Variable)>> = an
        .cached
        .iter()
        .map(|l| {
            l.arrays
                .iter()
                .map(|_| (b.declare_var(I64), b.declare_var(I64)))
                .collect()
        })
        .collect();
    let dvars: Vec<Vec<(Variable, Variable)>> = an
        .cached
        .iter()
        .map(|l| {
            l.divisors
                .iter()
                .map(|_| (b.declare_var(I64), b.declare_var(I64)))
                .collect()
        })
        .collect();
    let rvars: Vec<Vec<RowVars>> = an
        .cached
        .iter()
        .map(|l| {
            l.rows
                .iter()
                .map(|_| RowVars {
                    row: b.declare_var(I64),
                    len: b.declare_var(I64),
                    ptr: b.declare_var(I64),
                })
                .collect()
        })
        .collect();
    let gvars: Vec<Vec<Variable>> = an
        .cached
        .iter()
        .map(|l| {
            l.globals
                .iter()
                .map(|&(_, kind)| b.declare_var(global_type(kind)))
                .collect()
        })
        .collect();
    let svars: Vec<Vec<Vec<(Variable, Type)>>> = an
        .cached
        .iter()
        .map(|l| {
            l.structs
                .iter()
                .map(|s| {
                    (s.fields.iter())
                        .map(|&k| (b.declare_var(global_type(k)), global_type(k)))
                        .collect()
                })
                .collect()
        })
        .collect();
    let smade: Vec<Vec<Variable>> = an
        .cached
        .iter()
        .map(|l| l.structs.iter().map(|_| b.declare_var(I8)).collect())
        .collect();
    let mut blocks = vec![None; f.code.len()];
    for pc in 0..f.code.len() {
        if an.reachable[pc] && an.leader[pc] {
            blocks[pc] = Some(b.create_block());
        }
    }

    let slice_vars = (an.virtual_slice.iter().enumerate())
        .filter(|(_, &slice)| slice)
        .map(|(pc, _)| (pc as u32, (b.declare_var(I64), b.declare_var(I64))))
        .collect();
    let inline_budget = an.inline_budget;
    let entry_facts = heap::entry_facts(f, &an);
    let mut t = Tr {
        tc,
        slice_vars,
        fid,
        f,
        an,
        b,
        vars,
        vty,
        cur: 0,
        vn: ValueNumbering {
            zero_equiv: std::collections::HashMap::new(),
            short_strs: std::collections::HashMap::new(),
            tuple_items: std::collections::HashMap::new(),
            struct_items: std::collections::HashMap::new(),
            struct_regs: std::collections::HashMap::new(),
            virtual_tuples: std::collections::HashSet::new(),
            virtual_structs: std::collections::HashSet::new(),
            virtual_arrays: std::collections::HashMap::new(),
            non_null: std::collections::HashSet::new(),
            inline_arrays: None,
            low_zeros: std::collections::HashMap::new(),
            computed: std::collections::HashMap::new(),
            bounds_checked: Vec::new(),
            maps: Default::default(),
        },
        zero_facts: std::collections::HashMap::new(),
        loops: LoopCaches {
            pre_headers: pre,
            array_vars: cvars,
            divisor_vars: dvars,
            row_vars: rvars,
            global_vars: gvars,
            struct_vars: svars,
            struct_made: smade,
            captures: Default::default(),
            prechecked: Default::default(),
            cells: Vec::new(),
            cell_twins: Vec::new(),
            leaving: Vec::new(),
        },
        blocks,
        frame: Frame {
            base,
            depth: depth_var,
            at_limit: at_limit_var,
            arg_block: None,
        },
        exits: BTreeMap::new(),
        rewind: None,
        bad: None,
        in_pre_header: false,
        todo: Vec::new(),
        reentry,
        entered,
        sigs: [None; SIGS],
        self_ref: None,
        regions,
        inl: None,
        unroll: None,
        str_test: None,
        entry_facts,
        resume_tail: None,
        resume_call: None,
        raise_call: None,
        propagate_tail: None,
        inline_budget,
        appends: Vec::new(),
    };

    // Normal entry: parameters from the frame, other reference slots zeroed (the
    // window may hold stale bits that the collector must not see).
    t.b.switch_to_block(start);
    if let Some(var) = at_limit_var {
        let at_limit = frame_limit_reached(&mut t.b, tc, epc);
        t.b.def_var(var, at_limit);
    }
    t.check_native_stack();
    t.take_parameters(&params);
    t.declare_appends();
    let b0 = match t.cached_loop_at_header(0) {
        Some(li) => t.loops.pre_headers[li],
        None => t.block(0)?,
    };
    t.b.ins().jump(b0, &[]);

    t.translate_body()?;

    t.fill_leaving(None);
    // (The re-entry code may exit: its divisor checks, `Tr::prepare_divisors`.)
    t.fill_reentry()?;
    t.fill_exits()?;
    t.check_size()?;
    if let Some(header) = crate::jit::loop_align::innermost_loop(f) {
        if let Some(&Some(block)) = t.blocks.get(header as usize) {
            crate::jit::loop_align::mark_header(t.b.func, block);
        }
    }
    t.b.seal_all_blocks();
    t.b.finalize(tc.frontend_config);
    threading::thread_bool_joins(func);
    Ok(())
}

/// The machine type of a global of `kind` held in a variable.
fn global_type(kind: ValKind) -> Type {
    if kind == ValKind::Float {
        F64
    } else {
        I64
    }
}

/// Whether a frame at depth `d` is at the frame limit: a call from it would
/// pass `max_depth` (see [`Frame::at_limit`]).
fn frame_limit_reached(b: &mut FunctionBuilder, tc: &TransCtx, d: CV) -> CV {
    let vm = b.ins().get_pinned_reg(I64);
    let max_depth = b.ins().load(I64, run_word_flags(), vm, tc.offs.run.max_depth);
    b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, d, max_depth)
}

/// The Cranelift variable and machine type of each web: webs of one register
/// with the same machine type share one variable. That gives the same SSA values
/// as a variable per web (where a register is live exactly one of its webs is,
/// so every definition a use can reach belongs to the use's web), but keeps the
/// number of variables at most twice the number of registers: the SSA builder
/// keeps a table per variable indexed by block, so a variable per web made its
/// memory and time grow with webs × blocks, quadratic in the function's length
/// (a 50,000-branch `elif` chain needed gigabytes).
fn web_variables(b: &mut FunctionBuilder, webs: &super::analysis::Webs) -> (Vec<Variable>, Vec<Type>) {
    let mut by_reg: std::collections::HashMap<(Reg, bool), Variable> = std::collections::HashMap::new();
    let mut vars = Vec::with_capacity(webs.count);
    let mut vty = Vec::with_capacity(webs.count);
    for w in 0..webs.count {
        let float = webs.is_float[w];
        let ty = if float { F64 } else { I64 };
        let reg = webs.reg.get(w).copied().unwrap_or(0);
        vars.push(*by_reg.entry((reg, float)).or_insert_with(|| b.declare_var(ty)));
        vty.push(ty);
    }
    (vars, vty)
}

impl<'a, 'f> Tr<'a, 'f> {
    fn block(&self, pc: u32) -> Result<Block, String> {
        self.blocks
            .get(pc as usize)
            .copied()
            .flatten()
            .ok_or_else(|| format!("no block for pc {pc}"))
    }

    /// The loop of `an.cached` whose header is `pc` (it is the innermost cached
    /// loop containing `pc`, if there is one).
    fn cached_loop_at_header(&self, pc: u32) -> Option<usize> {
        self.cached_loops_around(pc)
            .next()
            .filter(|&li| self.an.cached[li].header == pc)
    }

    /// The cached loops containing `pc`, innermost (greatest header) first.
    fn cached_loops_around(&self, pc: u32) -> impl Iterator<Item = usize> + '_ {
        let first = self.an.cached_innermost.get(pc as usize).copied().flatten();
        std::iter::successors(first.map(|l| l as usize), |&l| self.an.cached[l].parent)
            .filter(move |&l| self.an.cached[l].contains(pc))
    }

    /// The block an edge from the current instruction to `pc` goes to: the
    /// pre-header when it enters a cached loop from outside; first a block
    /// that stores the globals of the loops it leaves, if they hold any
    /// ([`Tr::fill_leaving`]).
    fn edge(&mut self, pc: u32) -> Result<Block, String> {
        let to = match self.cached_loop_at_header(pc) {
            Some(li) if !self.an.cached[li].contains(self.cur) => self.loops.pre_headers[li],
            _ => self.block(pc)?,
        };
        if self.inl.is_none() && self.left_loops(self.cur, pc).next().is_some() {
            let stub = self.b.create_block();
            self.loops.leaving.push((stub, self.cur, pc, to));
            return Ok(stub);
        }
        Ok(to)
    }

    /// The loops around `from` that hold globals or structs and do not
    /// contain `to` (the ones a jump from `from` to `to` leaves; `to` beyond
    /// the code for leaving the function).
    fn left_loops(&self, from: u32, to: u32) -> impl Iterator<Item = usize> + '_ {
        self.cached_loops_around(from).filter(move |&li| {
            let l = &self.an.cached[li];
            !l.contains(to) && (!l.globals.is_empty() || !l.structs.is_empty())
        })
    }

    /// The variable and machine type of global `idx` at the current
    /// instruction, if a loop around it holds the global
    /// (`CachedLoop::globals`).
    fn promoted_global(&self, idx: u32) -> Option<(Variable, Type)> {
        self.cached_loops_around(self.cur).find_map(|li| {
            let l = &self.an.cached[li];
            let gi = l.globals.binary_search_by_key(&idx, |&(i, _)| i).ok()?;
            Some((self.loops.global_vars[li][gi], global_type(l.globals[gi].1)))
        })
    }

    /// The address of global `idx`.
    fn global_addr(&mut self, idx: u32) -> CV {
        let base = self.run_word(self.tc.offs.run.globals);
        self.b.ins().iadd_imm_s(base, idx as i64 * 8)
    }

    /// In loop `li`'s pre-header (or at re-entry inside it): its globals from
    /// memory into their variables.
    fn load_promoted_globals(&mut self, li: usize) {
        for gi in 0..self.an.cached[li].globals.len() {
            let (idx, kind) = self.an.cached[li].globals[gi];
            let addr = self.global_addr(idx);
            let fl = self.mem_flags(Mem::Global);
            let v = self.b.ins().load(global_type(kind), fl, addr, 0);
            self.b.def_var(self.loops.global_vars[li][gi], v);
        }
    }

    /// Store the globals of the loops `loops` holds to memory.
    fn store_promoted_globals(&mut self, loops: &[usize]) {
        for &li in loops {
            for gi in 0..self.an.cached[li].globals.len() {
                let idx = self.an.cached[li].globals[gi].0;
                let v = self.b.use_var(self.loops.global_vars[li][gi]);
                let addr = self.global_addr(idx);
                let fl = self.mem_flags(Mem::Global);
                self.b.ins().store(fl, v, addr, 0);
            }
        }
    }

    /// Before leaving compiled code at `pc` (a side exit, a return): store
    /// the globals of every loop around `pc` that holds some.
    fn store_globals_at(&mut self, pc: u32) {
        let loops: Vec<usize> = self.left_loops(pc, u32::MAX).collect();
        self.store_promoted_globals(&loops);
    }

    /// The blocks of edges that leave loops holding globals or structs
    /// (those to `to`, or all): store those globals, make the structs the
    /// code at the target reads, go on. Each has its one predecessor by now.
    fn fill_leaving(&mut self, only: Option<u32>) {
        let all = std::mem::take(&mut self.loops.leaving);
        let (now, later): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|&(_, _, t, _)| only.is_none_or(|o| o == t));
        self.loops.leaving = later;
        for (stub, from, to, next) in now {
            self.b.seal_block(stub);
            self.b.switch_to_block(stub);
            let loops: Vec<usize> = self.left_loops(from, to).collect();
            self.store_promoted_globals(&loops);
            self.materialize_structs(&loops, from, Some(to));
            self.b.ins().jump(next, &[]);
        }
    }

    /// Whether `pc` is the target of an exception handler.
    fn is_handler(&self, pc: u32) -> bool {
        self.f.handlers.iter().any(|h| h.target == pc)
    }

    /// At the start of bytecode block `pc` with `preds` incoming edges: the
    /// fact a branch left for it ([`Tr::zero_facts`]) holds here if that
    /// branch's edge is the only way in ([`Tr::one_way_in`]).
    fn enter_zero_fact(&mut self, pc: u32, preds: u32) {
        let Some((x, k)) = self.zero_facts.remove(&pc) else {
            return;
        };
        if self.one_way_in(pc, preds) {
            self.vn.low_zeros.insert(x, k);
        }
    }

    /// Whether bytecode block `pc`, with `preds` incoming edges, is entered
    /// by one edge only, so that what held on that edge holds in it: one
    /// edge, not a loop header (where the VM re-enters), not an exception
    /// handler.
    fn one_way_in(&self, pc: u32, preds: u32) -> bool {
        preds == 1 && self.an.headers.binary_search(&pc).is_err() && !self.is_handler(pc)
    }

    /// Read the length and data pointer of the cached arrays of loop `only` (in
    /// its pre-header, followed by its hoisted bounds checks and call guards),
    /// or of every cached loop containing header `h`, with the values the array
    /// registers have at `h`, and prepare for their divisors. A null array reads
    /// the zero block: length 0.
    fn load_caches(&mut self, h: u32, only: Option<usize>) {
        match only {
            Some(li) => {
                self.in_pre_header = true;
                // First the helper calls, while few values are live.
                self.prepare_divisors(h, li);
                self.load_promoted_globals(li);
                // (Before the other checks, whose exits make the structs.)
                self.load_sunk_structs(h, li);
                self.divisor_guards(h);
                // The data pointers after the checks, which need the lengths
                // only: defined where fewer values are live, the pointers are
                // given registers for the whole loop rather than split around
                // it (Cranelift's allocator then stored them back to their
                // spill slots on every back edge in matmul's inner loop).
                let headers = self.load_cached_lengths(h, li);
                self.hoisted_checks(h, li);
                self.call_guards(h, li);
                self.load_cached_pointers(li, &headers);
                self.load_invariant_rows(h, li);
                self.in_pre_header = false;
            }
            None => {
                // Outermost first.
                let mut loops: Vec<usize> = self.cached_loops_around(h).collect();
                loops.reverse();
                for li in loops {
                    self.load_loop_caches(h, li);
                }
                self.divisor_guards(h);
            }
        }
    }

    /// The caches of the cached loops containing header `h` other than `li`
    /// (whose header it is), outermost first: re-entry at `h` then goes through
    /// `li`'s pre-header.
    fn load_outer_caches(&mut self, h: u32, li: usize) {
        let mut loops: Vec<usize> = self.cached_loops_around(h).filter(|&l| l != li).collect();
        loops.reverse();
        for l in loops {
            self.load_loop_caches(h, l);
        }
    }

    /// In loop `li`'s pre-header (or at re-entry inside it), with the values
    /// its divisor registers have at header `h`: each one's magic multiplier
    /// ([`div_magic`], a call) and shift, `ceil(log2(d)) - 1`, for
    /// [`Tr::divide_by_prepared`]. The multiplier is 0 for a divisor below 2
    /// (which the first version does not run: [`Tr::divisor_guards`]).
    fn prepare_divisors(&mut self, h: u32, li: usize) {
        for di in 0..self.an.cached[li].divisors.len() {
            let r = self.an.cached[li].divisors[di];
            let (mv, sv) = self.loops.divisor_vars[li][di];
            let w = self.an.webs.at(h, r) as usize;
            let (m, s) = if !self.is_ref(r) {
                let v = self.b.use_var(self.vars[w]);
                let d = match self.vty[w] {
                    I64 => v,
                    _ => self.b.ins().bitcast(I64, MemFlagsData::new(), v),
                };
                let magic: extern "C" fn(i64) -> i64 = div_magic;
                let m = self.call_helper(Sig::Leaf, magic as usize as u64, &[d]);
                let below = self.b.ins().iadd_imm_s(d, -1);
                let zeros = self.b.ins().clz(below);
                let sixty_three = self.iconst(63);
                let s = self.b.ins().isub(sixty_three, zeros);
                (m, s)
            } else {
                // (No int division has a reference divisor.)
                (self.iconst(0), self.iconst(0))
            };
            self.b.def_var(mv, m);
            self.b.def_var(sv, s);
        }
    }

    /// In the first version (`TransCtx::speculate`), where loop `h` is
    /// entered (its pre-header, or the re-entry at a header that is not a
    /// cached loop's): exit at `h` if a divisor of a cached loop around it is
    /// below 2. The loops then divide with no branch and no check, and a
    /// division whose result is not used goes away (`life`'s `(y + dy + n) %
    /// n` for a row the pre-header loaded). After the promoted globals are
    /// loaded: an exit stores them back. The loops around are checked again
    /// (a compare each) because re-entry at an inner loop's header reaches
    /// its pre-header without theirs.
    fn divisor_guards(&mut self, h: u32) {
        if !self.tc.speculate {
            return;
        }
        let loops: Vec<usize> = self.cached_loops_around(h).collect();
        for li in loops {
            for di in 0..self.an.cached[li].divisors.len() {
                let m = self.b.use_var(self.loops.divisor_vars[li][di].0);
                let small = self.b.ins().icmp_imm_s(IntCC::Equal, m, 0);
                self.guard(small, h);
            }
        }
    }

    /// Read the length and data pointer of loop `li`'s cached arrays, and
    /// prepare for its divisors.
    fn load_loop_caches(&mut self, h: u32, li: usize) {
        self.prepare_divisors(h, li);
        self.load_promoted_globals(li);
        let headers = self.load_cached_lengths(h, li);
        self.load_cached_pointers(li, &headers);
    }

    /// Read the lengths of loop `li`'s cached arrays, with the values the array
    /// registers have at header `h`; returns the header each data pointer is to
    /// be read from (`None` for an array whose cache an enclosing loop shares,
    /// which is set here).
    fn load_cached_lengths(&mut self, h: u32, li: usize) -> Vec<Option<CV>> {
        let l_off = self.tc.offs.arr_items.1;
        let arrays = self.an.cached[li].arrays.clone();
        let mut headers = Vec::with_capacity(arrays.len());
        for (ai, &a) in arrays.iter().enumerate() {
            let (lv, pv) = self.loops.array_vars[li][ai];
            // An enclosing loop that caches the array too has read the same
            // header (neither loop writes the register or resizes arrays).
            if let Some((outer_len, outer_ptr)) = self.enclosing_cache(li, a) {
                let (len, ptr) = (self.b.use_var(outer_len), self.b.use_var(outer_ptr));
                self.b.def_var(lv, len);
                self.b.def_var(pv, ptr);
                headers.push(None);
                continue;
            }
            let w = self.an.webs.at(h, a) as usize;
            let o = if self.is_ref(a) {
                self.load_ref(a)
            } else {
                self.b.use_var(self.vars[w])
            };
            let o = if self.vty[w] == F64 {
                self.b.ins().bitcast(I64, MemFlagsData::new(), o)
            } else {
                o
            };
            let zero = self.iconst(self.tc.addrs.zero_obj as i64);
            let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, o, 0);
            let hdr = self.b.ins().select(is_null, zero, o);
            let fl = self.mem_flags(Mem::Hdr);
            let len = self.b.ins().load(I64, fl, hdr, l_off);
            self.b.def_var(lv, len);
            headers.push(Some(hdr));
        }
        headers
    }

    /// Read the data pointers of loop `li`'s cached arrays from `headers`
    /// ([`Self::load_cached_lengths`]).
    fn load_cached_pointers(&mut self, li: usize, headers: &[Option<CV>]) {
        let p_off = self.tc.offs.arr_items.0;
        for (ai, hdr) in headers.iter().enumerate() {
            if let Some(hdr) = *hdr {
                let fl = self.mem_flags(Mem::Hdr);
                let ptr = self.b.ins().load(I64, fl, hdr, p_off);
                let pv = self.loops.array_vars[li][ai].1;
                self.b.def_var(pv, ptr);
            }
        }
    }

    /// The cache variables (length, data pointer) of array register `arr` in
    /// the innermost cached loop enclosing loop `li` that caches it, if any.
    fn enclosing_cache(&self, li: usize, arr: Reg) -> Option<(Variable, Variable)> {
        let mut l = self.an.cached[li].parent;
        while let Some(pl) = l {
            if let Ok(ai) = self.an.cached[pl].arrays.binary_search(&arr) {
                return Some(self.loops.array_vars[pl][ai]);
            }
            l = self.an.cached[pl].parent;
        }
        None
    }

    /// Whether the bounds checks of counted loops are done in their pre-headers.
    fn hoisting(&self) -> bool {
        self.tc.speculate && !self.tc.neg_index
    }

    /// The bounds checks of loop `li`'s hoisted accesses, in its pre-header (at
    /// header `h`): for each (array, offset), the first and last index the counter
    /// gives, `c0 + off` and `limit - 1 + off`, must not overflow and must be in
    /// range (unsigned compare with the cached length); otherwise exit to the VM
    /// at the header.
    fn hoisted_checks(&mut self, h: u32, li: usize) {
        let Some(c) = self.an.cached[li].counted.clone() else {
            return;
        };
        if !self.hoisting() || c.checks.is_empty() {
            return;
        }
        let first = self.get_i(c.ctr);
        let limit = self.get_i(c.limit);
        // `limit - 1` does not overflow: `first < limit` at the header.
        let last = self.b.ins().iadd_imm_s(limit, -1);
        let mut bad = self.b.ins().iconst(I8, 0);
        for (arr, off) in c.checks {
            let Some(ai) = self.an.cached[li].arrays.binary_search(&arr).ok() else {
                continue;
            };
            let len = self.b.use_var(self.loops.array_vars[li][ai].0);
            let off_kind = off;
            let off = match off {
                IndexOffset::Imm(k) => self.iconst(k),
                IndexOffset::Reg(r) => self.get_i(r),
            };
            for x in [first, last] {
                let i = self.b.ins().iadd(x, off);
                if let IndexOffset::Imm(0) = off_kind {
                    let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
                    bad = self.b.ins().bor(bad, oob);
                    continue;
                }
                // Signed overflow: the sum's sign differs from both operands'.
                let sx = self.b.ins().bxor(x, i);
                let so = self.b.ins().bxor(off, i);
                let both = self.b.ins().band(sx, so);
                let ovf = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, both, 0);
                let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
                let fail = self.b.ins().bor(ovf, oob);
                bad = self.b.ins().bor(bad, fail);
            }
        }
        self.guard(bad, h);
    }

    /// The cached loop whose pre-header checks the calls inlined at `pc`
    /// ([`Tr::call_guards`]): in the first version (`TransCtx::speculate`),
    /// the innermost cached loop containing `pc`, if no other loop header is
    /// inside it (every way into its body then passes the pre-header: the
    /// code before it, and re-entry at its header).
    fn guarding_loop(&self, pc: u32) -> Option<usize> {
        if !self.tc.speculate || self.inl.is_some() || self.frame.at_limit.is_none() {
            return None;
        }
        let li = self.an.cached_innermost.get(pc as usize).copied().flatten()? as usize;
        let l = &self.an.cached[li];
        (l.contains(pc) && l.innermost && !l.resizes).then_some(li)
    }

    /// The function that loop `li`'s pre-header checks the callee of the
    /// `CallIndirect` at `pc` against, and the register of the function value:
    /// the site's only planned callee (`Analysis::closure_callees`), called
    /// through a register the loop never writes.
    fn preheader_closure(&self, li: usize, pc: u32) -> Option<(u32, Reg)> {
        let Some(&Instr::CallIndirect { site, .. }) = self.f.code.get(pc as usize) else {
            return None;
        };
        let &[fid] = self.an.closure_callees.get(&pc)?.as_slice() else {
            return None;
        };
        let clo = self.f.sites.get(site as usize)?.target as Reg;
        (!self.an.cached[li].written.contains(clo) && self.is_ref(clo)).then_some((fid, clo))
    }

    /// In the pre-header of loop `li` (header `h`), if it is the
    /// [`guarding_loop`](Tr::guarding_loop) of the calls inlined in it: check
    /// once that this frame is not at the frame limit, and that each function
    /// value of a [`preheader_closure`](Tr::preheader_closure) site is that
    /// function; otherwise exit to the VM at the header, which runs the loop
    /// with the checks at the calls. The inlined calls then check neither.
    fn call_guards(&mut self, h: u32, li: usize) {
        let (header, end) = (self.an.cached[li].header, self.an.cached[li].end);
        if self.guarding_loop(header) != Some(li) {
            return;
        }
        // (The calls in a cached loop are all inlined: others may resize arrays.)
        let calls: Vec<u32> = (header..=end)
            .filter(|&pc| {
                self.an.reachable[pc as usize]
                    && matches!(
                        self.f.code[pc as usize],
                        Instr::Call { .. } | Instr::CallIndirect { .. } | Instr::CallMethod { .. }
                    )
            })
            .collect();
        let Some(var) = self.frame.at_limit.filter(|_| !calls.is_empty()) else {
            return;
        };
        let at_limit = self.b.use_var(var);
        self.guard(at_limit, h);
        for pc in calls {
            let Some((fid, clo)) = self.preheader_closure(li, pc) else {
                continue;
            };
            let (value, callee) = self.function_value(clo, h);
            let other = self.b.ins().icmp_imm_s(IntCC::NotEqual, callee, fid as i64);
            self.guard(other, h);
            let captures = self.load_captures(h, pc, fid, value);
            self.precheck_updater(h, pc, fid, captures);
        }
        self.promote_cells(li);
    }

    /// In a pre-header, after [`Tr::call_guards`] checked that the function
    /// value `clo` called at `pc` is function `fid`: load once the values it
    /// captured that `fid` reads (`GetCapture`), which cannot change (a
    /// closure's captures are fixed when it is made; a variable assigned after
    /// it is captured is captured as a cell). The body inlined at `pc` reads
    /// the variables instead of the closure (`Inlined::captures`), so the
    /// loop does not check the closure and load from it every round. A
    /// function value with fewer captures (no function made by the compiler)
    /// exits to the VM at the header `h`.
    /// Returns the captures' data pointer, if the callee reads any.
    fn load_captures(&mut self, h: u32, pc: u32, fid: u32, clo: CV) -> Option<CV> {
        let f = self.tc.program.functions.get(fid as usize)?;
        let read: std::collections::BTreeSet<u8> = f
            .code
            .iter()
            .filter_map(|i| match *i {
                Instr::GetCapture { idx, .. } => Some(idx),
                _ => None,
            })
            .collect();
        let &last = read.last()?;
        let ptr = self.fixed_slots(clo, self.tc.offs.clo_captures, last.into(), |t, few| {
            t.guard(few, h)
        });
        let mut vars = Vec::with_capacity(read.len());
        for idx in read {
            let fl = self.mem_flags(Mem::Heap);
            let v = self.b.ins().load(I64, fl, ptr, idx as i32 * 8);
            let var = self.b.declare_var(I64);
            self.b.def_var(var, v);
            vars.push((idx, var));
        }
        self.loops.captures.insert(pc, vars);
        Some(ptr)
    }

    /// The cached (length, data pointer) of array register `arr` at the current
    /// instruction, if its loop caches them, or if it holds an invariant row
    /// there ([`Tr::load_invariant_rows`]).
    fn cached_array(&mut self, arr: Reg) -> Option<(CV, CV)> {
        if let Some(c) = self.loop_pair(arr, |l| &l.arrays, |c| &c.array_vars) {
            return Some(c);
        }
        let v = self.row_at(self.web_read(arr))?;
        Some((self.b.use_var(v.len), self.b.use_var(v.ptr)))
    }

    /// The variables of the invariant row that web `w` holds at the current
    /// instruction, if it is one (`Analysis::row_web`, only in the first
    /// version), the instruction is in the row's loop, and the pre-header
    /// loaded it.
    fn row_at(&self, w: usize) -> Option<RowVars> {
        if self.inl.is_some() {
            return None;
        }
        let (li, k) = self.an.row_web.get(w).copied().flatten()?;
        let (li, k) = (li as usize, k as usize);
        let l = &self.an.cached[li];
        (l.contains(self.cur) && l.rows[k].array).then(|| self.loops.row_vars[li][k])
    }

    /// In loop `li`'s pre-header (header `h`): load each of its invariant
    /// rows (`CachedLoop::rows`) once, with its length and data pointer, from
    /// the loop's cached array of rows at the index computed again from the
    /// registers the loop never writes. An index out of range (or a division
    /// in it that would raise), or a null row, exits to the VM at the header,
    /// which runs the loop with its accesses in place.
    fn load_invariant_rows(&mut self, h: u32, li: usize) {
        let (p_off, l_off) = self.tc.offs.arr_items;
        for k in 0..self.an.cached[li].rows.len() {
            let row = self.an.cached[li].rows[k].clone();
            let Some(ai) = self.an.cached[li].arrays.binary_search(&row.arr).ok() else {
                continue;
            };
            let (lv, pv) = self.loops.array_vars[li][ai];
            let (len, ptr) = (self.b.use_var(lv), self.b.use_var(pv));
            let mut bad = self.b.ins().iconst(I8, 0);
            let i = self.index_value(&row.index, &mut bad);
            let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
            let bad = self.b.ins().bor(bad, oob);
            self.guard(bad, h);
            let off = self.b.ins().ishl_imm_s(i, 3);
            let addr = self.b.ins().iadd(ptr, off);
            let fl = self.mem_flags(Mem::Heap);
            let r = self.b.ins().load(I64, fl, addr, 0);
            let null = self.b.ins().icmp_imm_s(IntCC::Equal, r, 0);
            self.guard(null, h);
            let v = self.loops.row_vars[li][k];
            self.b.def_var(v.row, r);
            if row.array {
                let fl = self.mem_flags(Mem::Hdr);
                let rlen = self.b.ins().load(I64, fl, r, l_off);
                let fl = self.mem_flags(Mem::Hdr);
                let rptr = self.b.ins().load(I64, fl, r, p_off);
                self.b.def_var(v.len, rlen);
                self.b.def_var(v.ptr, rptr);
            }
        }
    }

    /// The value of index expression `e` in a pre-header: the loop's own
    /// instructions compute the same (integer arithmetic wraps around). A
    /// division by 0 (where the loop raises) or by -1 (whose `MIN / -1` would
    /// trap) sets `bad` instead.
    fn index_value(&mut self, e: &IndexExpr, bad: &mut CV) -> CV {
        match e {
            IndexExpr::Reg(r) => self.get_i(*r),
            IndexExpr::Const(k) => self.iconst(*k),
            IndexExpr::Bin(op, x, y) => {
                let x = self.index_value(x, bad);
                let y = self.index_value(y, bad);
                match op {
                    IndexOp::Add => self.b.ins().iadd(x, y),
                    IndexOp::Sub => self.b.ins().isub(x, y),
                    IndexOp::Mul => self.b.ins().imul(x, y),
                    IndexOp::Div | IndexOp::Mod => {
                        // `y + 1 <= 1` (unsigned) for 0 and -1.
                        let y1 = self.b.ins().iadd_imm_s(y, 1);
                        let unsafe_divisor = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, y1, 1);
                        *bad = self.b.ins().bor(*bad, unsafe_divisor);
                        let one = self.iconst(1);
                        let safe = self.b.ins().select(unsafe_divisor, one, y);
                        if *op == IndexOp::Div {
                            self.b.ins().sdiv(x, safe)
                        } else {
                            self.b.ins().srem(x, safe)
                        }
                    }
                }
            }
        }
    }

    /// `ArrGet` at `pc` of an invariant row its loop's pre-header loaded
    /// (`Analysis::row_load`, only in the first version).
    fn invariant_row_get(&mut self, pc: u32, dst: Reg) -> bool {
        if self.inl.is_some() {
            return false;
        }
        let Some((li, k)) = self.an.row_load.get(pc as usize).copied().flatten() else {
            return false;
        };
        self.stress(pc, pc);
        let v = self.loops.row_vars[li as usize][k as usize];
        let r = self.b.use_var(v.row);
        self.vn.non_null.insert(r);
        self.set(dst, r);
        true
    }

    /// The values of the pair of variables that the innermost loop around the
    /// current instruction whose `list` has register `r` keeps for it in
    /// `vars` (an enclosing loop's are valid in its nested loops too). Not in
    /// an inlined body: its registers are not the ones the loops are for.
    fn loop_pair(
        &mut self,
        r: Reg,
        list: impl Fn(&CachedLoop) -> &[Reg],
        vars: impl Fn(&LoopCaches) -> &[Vec<(Variable, Variable)>],
    ) -> Option<(CV, CV)> {
        if self.inl.is_some() {
            return None;
        }
        let (li, i) = self
            .cached_loops_around(self.cur)
            .find_map(|li| list(&self.an.cached[li]).binary_search(&r).ok().map(|i| (li, i)))?;
        let (a, b) = vars(&self.loops)[li][i];
        Some((self.b.use_var(a), self.b.use_var(b)))
    }

    /// A word of the running VM (`offs.run`): its address or limit, which never
    /// changes while compiled code runs.
    fn run_word(&mut self, off: i32) -> CV {
        let vm = self.b.ins().get_pinned_reg(I64);
        self.b.ins().load(I64, run_word_flags(), vm, off)
    }

    /// Flags of a (trusted: aligned, non-trapping) access to memory category `m`.
    fn mem_flags(&self, m: Mem) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(self.regions[m as usize]))
    }

    /// Signature `s`, imported into the function on its first use.
    fn sig(&mut self, s: Sig) -> SigRef {
        if let Some(r) = self.sigs[s.slot()] {
            return r;
        }
        let r = self.b.import_signature(s.signature(self.tc));
        self.sigs[s.slot()] = Some(r);
        r
    }

    /// This function itself, for a direct recursive call (its name is the
    /// module's name for it), declared on the first; `None` for a function
    /// named otherwise (a test case).
    fn self_ref(&mut self) -> Option<ir::FuncRef> {
        if self.self_ref.is_none() {
            let ir::UserFuncName::User(u) = self.b.func.name.clone() else {
                return None;
            };
            let signature = self.sig(Sig::Compiled(reg_args(self.f)));
            let name = self.b.func.declare_imported_user_function(u);
            self.self_ref = Some(self.b.import_function(ir::ExtFuncData {
                name: ir::ExternalName::User(name),
                signature,
                colocated: true,
                patchable: false,
            }));
        }
        self.self_ref
    }

    fn iconst(&mut self, v: i64) -> CV {
        self.b.ins().iconst(I64, v)
    }

    /// Whether register `r` holds references (always false in an inlined body,
    /// whose values live in SSA values only: nothing in it can collect).
    fn is_ref(&self, r: Reg) -> bool {
        self.inl.is_none() && self.an.is_ref.get(r as usize).copied().unwrap_or(false)
    }

    /// The function whose constants and call sites the instruction being
    /// translated refers to: this one, or the callee being inlined.
    fn code_fn(&self) -> &'a Function {
        self.inl.as_ref().map_or(self.f, |i| i.f)
    }

    /// The web of register `r` read by the current instruction.
    fn web_read(&self, r: Reg) -> usize {
        self.an.webs.at(self.cur, r) as usize
    }

    /// The web of register `r` written by the current instruction.
    fn web_written(&self, r: Reg) -> usize {
        let ops = &self.an.ops[self.cur as usize];
        self.an.webs.def_at(self.cur, r, ops) as usize
    }

    /// The machine type of the value the current instruction writes to `r` (in
    /// an inlined body, loads are words: a use as a float converts).
    fn def_ty(&self, r: Reg) -> Type {
        if self.inl.is_some() {
            return I64;
        }
        self.vty[self.web_written(r)]
    }

    fn get_raw(&mut self, r: Reg) -> CV {
        if let Some(v) = self.inlined_reg(r) {
            return v;
        }
        if let Some(s) = self.sunk(self.cur, r) {
            return self.sunk_read(s);
        }
        let w = self.web_read(r);
        if self.is_ref(r) && self.an.frame_read[w] {
            if let Some(&v) = self.vn.struct_regs.get(&r) {
                return v;
            }
            return self.load_ref(r);
        }
        // A second read of a register in a block with several predecessors
        // gets the alias Cranelift made of the block parameter it found
        // trivial; the facts of `self.vn` are keyed by the value itself.
        let v = self.b.use_var(self.vars[w]);
        self.b.func.dfg.resolve_aliases(v)
    }

    /// Reference register `r`, read from its frame slot, where every definition
    /// of it is stored (for the collector). Reading it there rather than keeping
    /// the stored value live in a machine register costs a load only where the
    /// value would otherwise have been kept across a call (a spill and a reload
    /// in the compiled convention) or across another frame store: Cranelift
    /// forwards the stored value to a load that follows the store with no frame
    /// store in between, and merges repeated loads. An object read in an outer
    /// loop then takes no register through the inner loops (matmul's `a`, and
    /// the result array `c` read at `Ret`).
    fn load_ref(&mut self, r: Reg) -> CV {
        let fl = self.mem_flags(Mem::Frame);
        self.b.ins().load(I64, fl, self.frame.base, r as i32 * 8)
    }

    /// `v` as a value of machine type `ty` (the same bits).
    fn as_type(&mut self, v: CV, ty: Type) -> CV {
        if self.b.func.dfg.value_type(v) == ty {
            v
        } else {
            self.b.ins().bitcast(ty, MemFlagsData::new(), v)
        }
    }

    fn get_i(&mut self, r: Reg) -> CV {
        let v = self.get_raw(r);
        self.as_type(v, I64)
    }

    fn get_f(&mut self, r: Reg) -> CV {
        let v = self.get_raw(r);
        self.as_type(v, F64)
    }

    /// Define register `r` (converting between I64 and F64 as needed); reference
    /// registers are also stored to their frame slot.
    fn set(&mut self, r: Reg, v: CV) {
        if let Some(inl) = &mut self.inl {
            inl.set(r, v);
            return;
        }
        if self.sunk(self.cur, r).is_some() {
            self.bad = Some(format!(
                "register {r}, a kept struct, written other than by a new struct"
            ));
        }
        let w = self.web_written(r);
        let want = self.vty[w];
        let have = self.b.func.dfg.value_type(v);
        let v = if have != want {
            self.b.ins().bitcast(want, MemFlagsData::new(), v)
        } else {
            v
        };
        self.b.def_var(self.vars[w], v);
        if self.is_ref(r) {
            if self.vn.struct_items.contains_key(&v) {
                self.vn.struct_regs.insert(r, v);
            } else {
                self.vn.struct_regs.remove(&r);
            }
            if self.vn.virtual_structs.contains(&v) || self.vn.virtual_arrays.contains_key(&v) {
                return;
            }
            // (Written back where the frame is read: `Analysis::constant`.)
            if self.an.constant[w] {
                return;
            }
            let fl = self.mem_flags(Mem::Frame);
            self.b.ins().store(fl, v, self.frame.base, r as i32 * 8);
        }
    }

    fn set_bool(&mut self, r: Reg, c: CV) {
        let v = self.b.ins().uextend(I64, c);
        self.set(r, v);
    }

    /// The caller pushed the complete frame record (`func`, `pc`, `base`) and
    /// checked the frame depth and the register stack for it. The native stack
    /// is checked here (the caller's checks would share one stack pointer value,
    /// which Cranelift would then keep live across calls): below the limit this
    /// frame pops its record and raises `stack overflow` in the caller, at the
    /// call.
    fn check_native_stack(&mut self) {
        let sp = self.b.ins().get_stack_pointer(I64);
        let limit = self.run_word(self.tc.offs.run.native_limit);
        let c = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        let ovf = self.b.create_block();
        self.b.set_cold_block(ovf);
        let body = self.b.create_block();
        self.b.ins().brif(c, ovf, &[], body, &[]);
        self.b.seal_block(ovf);
        self.b.seal_block(body);
        self.b.switch_to_block(ovf);
        let vm = self.vm_addr();
        let st = self.call_helper(Sig::TwoInts, self.tc.addrs.h_overflow, &[vm, self.frame.base]);
        self.b.ins().return_(&[st]);
        self.b.switch_to_block(body);
    }

    /// Parameters: the first `REG_ARGS` in machine registers (reference ones are
    /// stored to their slots: the collector must see them), the others in the
    /// window.
    fn take_parameters(&mut self, params: &[CV]) {
        let nregs = self.f.nregs as usize;
        for r in 0..self.f.nparams as usize {
            let w = self.an.webs.at(0, r as Reg) as usize;
            let v = if r < REG_ARGS {
                let v = params[2 + r];
                if self.vty[w] == F64 {
                    self.b.ins().bitcast(F64, MemFlagsData::new(), v)
                } else {
                    v
                }
            } else {
                let fl = self.mem_flags(Mem::Frame);
                self.b
                    .ins()
                    .load(self.vty[w], fl, self.frame.base, (r * 8) as i32)
            };
            self.b.def_var(self.vars[w], v);
            if r < REG_ARGS && self.is_ref(r as Reg) {
                let fl = self.mem_flags(Mem::Frame);
                self.b.ins().store(fl, v, self.frame.base, (r * 8) as i32);
            }
        }
        // A lambda's closure, stored by the caller after the parameters.
        let mut first_local = self.f.nparams as usize;
        if self.f.takes_closure && first_local < nregs {
            let w = self.an.webs.at(0, first_local as Reg) as usize;
            let fl = self.mem_flags(Mem::Frame);
            let v = self
                .b
                .ins()
                .load(self.vty[w], fl, self.frame.base, (first_local * 8) as i32);
            self.b.def_var(self.vars[w], v);
            first_local += 1;
        }
        let zero = self.b.ins().iconst(I64, 0);
        for r in first_local..nregs {
            if self.an.is_ref[r] {
                let fl = self.mem_flags(Mem::Frame);
                self.b.ins().store(fl, zero, self.frame.base, (r * 8) as i32);
            }
        }
    }

    /// Translate the instruction at `pc` as the current one; whether its block
    /// is still open.
    fn translate_at(&mut self, pc: u32) -> Result<bool, String> {
        self.cur = pc;
        if self.tc.source_positions {
            self.b.set_srcloc(cranelift_codegen::ir::SourceLoc::new(pc));
        }
        let open = self.instr(pc)?;
        match self.bad.take() {
            Some(why) => Err(why),
            None => Ok(open),
        }
    }

    /// Translate the reachable instructions in order, one Cranelift block per
    /// bytecode basic block (with the pre-header of a cached loop before it).
    #[allow(clippy::needless_range_loop)] // pc indexes several per-instruction tables
    fn translate_body(&mut self) -> Result<(), TransError> {
        // Highest predecessor pc of each instruction, and how many edges come
        // in (normal edges, reachable code).
        let mut max_pred = vec![0usize; self.f.code.len()];
        let mut preds = vec![0u32; self.f.code.len()];
        for (pc, ins) in self.f.code.iter().enumerate() {
            if self.an.reachable[pc] {
                for s in super::analysis::successors(ins, pc) {
                    if s < max_pred.len() {
                        max_pred[s] = max_pred[s].max(pc);
                        preds[s] += 1;
                    }
                }
            }
        }

        // The body.
        let mut open = false;
        for pc in 0..self.f.code.len() {
            if !self.an.reachable[pc] {
                continue;
            }
            if pc > 0 && (self.an.leader[pc] || !open) {
                self.leave_entry_block();
            }
            if self.an.leader[pc] {
                let blk = self.block(pc as u32)?;
                if open {
                    let e = self.edge(pc as u32)?;
                    self.b.ins().jump(e, &[]);
                }
                // Every jump to `pc` from before it is emitted, and the block
                // may be sealed below: the edges that leave loops holding
                // globals must reach it first.
                self.fill_leaving(Some(pc as u32));
                if let Some(li) = self.cached_loop_at_header(pc as u32) {
                    // The pre-header: read the cached array headers, enter the loop.
                    self.cur = pc as u32;
                    let pre = self.loops.pre_headers[li];
                    self.b.switch_to_block(pre);
                    self.load_caches(pc as u32, Some(li));
                    self.b.ins().jump(blk, &[]);
                    self.start_unroll(li);
                }
                // A block whose predecessors all come before it (and that is not a
                // re-entry point, nor a handler, entered from the exception
                // exits made last) has them all by now: seal it, which keeps
                // the SSA construction cheap. The others are sealed at the end.
                if pc > 0
                    && max_pred[pc] < pc
                    && self.an.headers.binary_search(&(pc as u32)).is_err()
                    && !self.is_handler(pc as u32)
                {
                    self.b.seal_block(blk);
                }
                self.b.switch_to_block(blk);
                self.vn.forget_block();
                self.enter_zero_fact(pc as u32, preds[pc]);
                self.enter_map_facts(pc as u32, preds[pc]);
            } else if !open {
                // Only after an instruction that always exits; nothing reaches here.
                let blk = self.b.create_block();
                self.b.seal_block(blk);
                self.b.switch_to_block(blk);
                self.vn.forget_block();
            }
            open = self.translate_at(pc as u32)?;
            self.check_size()?;
        }
        if open {
            return Err("code runs off the end".into());
        }
        Ok(())
    }
}

/// Flags of a load of a word of the running VM (`Offsets::run`): read-only
/// while compiled code runs, so Cranelift may merge and hoist such loads.
fn run_word_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}
