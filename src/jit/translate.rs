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
//!   status from a call or helper (stop → return 2; handler covering pc → write
//!   back and `rt_resume_exc`; else `rt_propagate` and return 1); `ovf(pc)`
//!   raises `stack overflow`.
//! * the *re-entry dispatch*: a switch over the loop headers; each case loads the
//!   registers live at the header from the frame and jumps to it. Both OSR and
//!   `rt_resume` returning status 3 (the interpreter reached a loop header of the
//!   deoptimized frame) come back through it.

use super::analysis::{analyze, Analysis, RegSet};
use super::layout::Offsets;
use crate::bytecode::{Const, Function, Instr, Program, Reg};
use bp_runtime::builtins::{self, BinaryOp, Inline, UnaryOp};
use bp_runtime::value::Value;
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
    /// The `Vm` of the run (pinned while the JIT exists): compiled code embeds it
    /// (and the address of its frame depth counter) as an immediate instead of
    /// keeping its `vm` parameter live.
    pub vm: u64,
    /// Frame record 0.
    pub frames: u64,
    /// Register stack slot 0.
    pub stack: u64,
    /// Address of register stack slot `limit` (a callee window must end at or
    /// below it).
    pub stack_end: u64,
    /// Maximum number of frames.
    pub max_depth: u64,
    /// Whether calls must check that the callee's window fits the register stack.
    /// False when that follows from the depth check: every window has at most
    /// `m` registers (the largest `nregs` of the program) and windows are
    /// contiguous from slot 0, so `max_depth * m <= limit` bounds every window.
    pub check_stack: bool,
    /// Native stack pointer below which calls raise `stack overflow`.
    pub native_limit: u64,
    pub globals: u64,
    /// Entry table: one code address per function.
    pub entry: u64,
    /// Per function: `nregs | nparams << 16 | returns_void << 24` (u32).
    pub fn_info: u64,
    pub h_resume: u64,
    pub h_resume_exc: u64,
    pub h_propagate: u64,
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
    /// A zeroed, 256-byte block that reads like an empty object.
    pub zero_obj: u64,
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
    /// Object headers that compiled code never writes: lengths, data pointers,
    /// closure fields, the function info table.
    Hdr,
    /// Array elements, struct fields, tuple items.
    Heap,
    /// Global variables.
    Global,
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

/// Direction of [`Tr::heap_access`].
#[derive(Clone, Copy)]
enum Access {
    Load(Reg),
    Store(Reg),
}

#[derive(Clone, Copy)]
enum Exit {
    Deopt,
    Exc,
    /// A call at this pc would exceed a limit: raise `stack overflow` here, then
    /// continue as the exception path `Exc` of the same pc.
    Ovf,
}

struct Tr<'a, 'f> {
    tc: &'a TransCtx<'a>,
    fid: u32,
    f: &'a Function,
    /// This frame's depth (the `depth` parameter, without the OSR bit).
    depth_var: Variable,
    an: Analysis,
    b: FunctionBuilder<'f>,
    /// One variable (and machine type) per web of registers ([`analysis::Webs`]).
    vars: Vec<Variable>,
    vty: Vec<Type>,
    /// The instruction being translated: register accesses go to the webs live
    /// there.
    cur: u32,
    blocks: Vec<Option<Block>>,
    base: CV,
    exits: BTreeMap<(u8, u32), Block>,
    todo: Vec<(Exit, u32, Block)>,
    reentry: Block,
    sig3: SigRef,
    /// Signatures of compiled functions by number of register arguments.
    sig_call: [SigRef; REG_ARGS + 1],
    /// This function itself, for direct recursive calls.
    self_ref: Option<ir::FuncRef>,
    sig2: SigRef,
    sig_ff: SigRef,
    sig_f: SigRef,
    sig_builtin: SigRef,
    /// The alias regions of [`Mem`], by discriminant.
    regions: [ir::AliasRegion; 5],
    /// Values known to be zero exactly when another value is: a remainder by
    /// `2^k` (`x % 2^k == 0` iff `x & (2^k - 1) == 0`, whatever the sign).
    zero_equiv: std::collections::HashMap<CV, CV>,
    /// Within the current bytecode block (each entry dominates the rest of it):
    /// integer sums and products already computed, by operands, and the
    /// `(index, length)` pairs whose bounds check passed. `c[k] = c[k] + x`
    /// computes `k` twice into two registers; with these the store reuses the
    /// load's check.
    vn: std::collections::HashMap<(u8, CV, CV), CV>,
    checked: Vec<(CV, CV)>,
    /// Per loop of `an.cached`: its pre-header block.
    pre: Vec<Block>,
    /// Per loop of `an.cached`, per cached array: variables for its length and
    /// data pointer.
    cvars: Vec<Vec<(Variable, Variable)>>,
    /// The argument block of direct builtin calls (one per function, sized for
    /// its largest call), created on first use.
    arg_slot: Option<ir::StackSlot>,
    /// Counter that makes the address constants of [`Tr::depth_addr`] unique.
    uniq: u32,
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
    let an = analyze(p, f);
    let mut b = FunctionBuilder::new(func, fctx);
    let nregs = f.nregs as usize;
    let (vars, vty) = web_variables(&mut b, &an.webs);
    let sig3 = b.import_signature(sig(tc.call_conv, &[I64, I64, I64], &[I64]));
    let sig_call: [SigRef; REG_ARGS + 1] =
        std::array::from_fn(|k| b.import_signature(jit_signature(tc.jit_cc, k)));
    // Direct calls to itself (the function's name is the module's name for it).
    let self_ref = match b.func.name.clone() {
        ir::UserFuncName::User(u) => {
            let name = b.func.declare_imported_user_function(u);
            let k = reg_args(f);
            Some(b.import_function(ir::ExtFuncData {
                name: ir::ExternalName::User(name),
                signature: sig_call[k],
                colocated: true,
                patchable: false,
            }))
        }
        ir::UserFuncName::Testcase(_) => None,
    };
    let sig2 = b.import_signature(sig(tc.call_conv, &[I64, I64], &[I64]));
    let sig_ff = b.import_signature(sig(tc.call_conv, &[F64, F64], &[F64]));
    let names = ["vm", "frame", "header", "heap", "global"];
    let regions = std::array::from_fn(|i| {
        b.func.dfg.alias_regions.insert(ir::AliasRegionData {
            user_id: i as u32 + 1,
            description: names[i].into(),
        })
    });
    let sig_f = b.import_signature(sig(tc.call_conv, &[F64], &[F64]));
    let sig_builtin = b.import_signature(sig(tc.call_conv, &[I64, I64, I64, I64, I64], &[I64]));

    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let (base, epc) = (params[0], params[1]);
    let reentry = b.create_block();
    b.append_block_param(reentry, I64);
    b.set_cold_block(reentry);
    let start = b.create_block();
    // `epc` is this frame's depth (its record is `frames[depth - 1]`); with bit 63
    // set, the frame enters at the loop header in its record's `pc` (OSR).
    // Passing the depth saves loading the depth counter, whose store-to-load
    // forwarding chain through every call and return would be the critical path
    // of call-heavy code.
    let depth_var = b.declare_var(I64);
    let is_osr = b.ins().icmp_imm_s(IntCC::SignedLessThan, epc, 0);
    let osr = b.create_block();
    b.set_cold_block(osr);
    b.ins().brif(is_osr, osr, &[], start, &[]);
    b.seal_block(entry);
    b.seal_block(start);
    b.seal_block(osr);
    b.switch_to_block(osr);
    {
        let d = b.ins().band_imm_s(epc, i64::MAX);
        b.def_var(depth_var, d);
        let fs = tc.offs.frame_size as i64;
        let scaled = b.ins().imul_imm_s(d, fs);
        let rec = b.ins().iadd_imm_s(scaled, tc.addrs.frames as i64 - fs);
        let pc = b.ins().load(I32, MemFlagsData::trusted(), rec, tc.offs.frame_pc);
        let pc = b.ins().uextend(I64, pc);
        let enc = b.ins().iadd_imm_s(pc, 1);
        b.ins().jump(reentry, &[enc.into()]);
    }
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
    let mut blocks = vec![None; f.code.len()];
    for pc in 0..f.code.len() {
        if an.reachable[pc] && an.leader[pc] {
            blocks[pc] = Some(b.create_block());
        }
    }

    let mut t = Tr {
        tc,
        fid,
        f,
        depth_var,
        an,
        b,
        vars,
        vty,
        cur: 0,
        zero_equiv: std::collections::HashMap::new(),
        vn: std::collections::HashMap::new(),
        checked: Vec::new(),
        pre,
        cvars,
        blocks,
        base,
        exits: BTreeMap::new(),
        todo: Vec::new(),
        reentry,
        sig3,
        sig_call,
        self_ref,
        sig2,
        sig_ff,
        sig_f,
        sig_builtin,
        arg_slot: None,
        regions,
        uniq: 0,
    };

    // Normal entry: parameters from the frame, other reference slots zeroed (the
    // window may hold stale bits that the collector must not see).
    t.b.switch_to_block(start);
    // The caller pushed the complete frame record (`func`, `pc`, `base`) and
    // checked the frame depth and the register stack for it. The native stack
    // is checked here (the caller's checks would share one stack pointer value,
    // which Cranelift would then keep live across calls): below the limit this
    // frame pops its record and raises `stack overflow` in the caller, at the
    // call.
    {
        let sp = t.b.ins().get_stack_pointer(I64);
        let c =
            t.b.ins()
                .icmp_imm_s(IntCC::UnsignedLessThan, sp, tc.addrs.native_limit as i64);
        let ovf = t.b.create_block();
        t.b.set_cold_block(ovf);
        let body = t.b.create_block();
        t.b.ins().brif(c, ovf, &[], body, &[]);
        t.b.seal_block(ovf);
        t.b.seal_block(body);
        t.b.switch_to_block(ovf);
        let vm = t.vmc();
        let st = t.call_helper(t.sig2, tc.addrs.h_overflow, &[vm, base]);
        t.b.ins().return_(&[st]);
        t.b.switch_to_block(body);
    }
    // Parameters: the first `REG_ARGS` in machine registers (reference ones are
    // stored to their slots: the collector must see them), the others in the
    // window.
    for r in 0..f.nparams as usize {
        let w = t.an.webs.at(0, r as Reg) as usize;
        let v = if r < REG_ARGS {
            let v = params[2 + r];
            if t.vty[w] == F64 {
                t.b.ins().bitcast(F64, MemFlagsData::new(), v)
            } else {
                v
            }
        } else {
            let fl = t.m(Mem::Frame);
            t.b.ins().load(t.vty[w], fl, base, (r * 8) as i32)
        };
        t.b.def_var(t.vars[w], v);
        if r < REG_ARGS && t.is_ref(r as Reg) {
            let fl = t.m(Mem::Frame);
            t.b.ins().store(fl, v, base, (r * 8) as i32);
        }
    }
    let zero = t.b.ins().iconst(I64, 0);
    for r in f.nparams as usize..nregs {
        if t.an.is_ref[r] {
            let fl = t.m(Mem::Frame);
            t.b.ins().store(fl, zero, base, (r * 8) as i32);
        }
    }
    let b0 = match t.cached_loop_at_header(0) {
        Some(li) => t.pre[li],
        None => t.block(0)?,
    };
    t.b.ins().jump(b0, &[]);

    // Highest predecessor pc of each instruction (normal edges, reachable code).
    let mut max_pred = vec![0usize; f.code.len()];
    for (pc, ins) in f.code.iter().enumerate() {
        if t.an.reachable[pc] {
            for s in super::analysis::successors(ins, pc) {
                if s < max_pred.len() {
                    max_pred[s] = max_pred[s].max(pc);
                }
            }
        }
    }

    // The body.
    let mut open = false;
    for pc in 0..f.code.len() {
        if !t.an.reachable[pc] {
            continue;
        }
        if t.an.leader[pc] {
            let blk = t.block(pc as u32)?;
            if open {
                let e = t.edge(pc as u32)?;
                t.b.ins().jump(e, &[]);
            }
            if let Some(li) = t.cached_loop_at_header(pc as u32) {
                // The pre-header: read the cached array headers, enter the loop.
                t.cur = pc as u32;
                let pre = t.pre[li];
                t.b.switch_to_block(pre);
                t.load_caches(pc as u32, Some(li));
                t.b.ins().jump(blk, &[]);
            }
            // A block whose predecessors all come before it (and that is not a
            // re-entry point) has them all by now: seal it, which keeps the SSA
            // construction cheap. The others are sealed at the end.
            if pc > 0 && max_pred[pc] < pc && t.an.headers.binary_search(&(pc as u32)).is_err() {
                t.b.seal_block(blk);
            }
            t.b.switch_to_block(blk);
            t.vn.clear();
            t.checked.clear();
        } else if !open {
            // Only after an instruction that always exits; nothing reaches here.
            let blk = t.b.create_block();
            t.b.seal_block(blk);
            t.b.switch_to_block(blk);
            t.vn.clear();
            t.checked.clear();
        }
        t.cur = pc as u32;
        open = t.instr(pc as u32)?;
        t.check_size()?;
    }
    if open {
        return Err("code runs off the end".into());
    }

    t.fill_exits()?;
    t.fill_reentry()?;
    t.check_size()?;
    t.b.seal_all_blocks();
    t.b.finalize(tc.frontend_config);
    Ok(())
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
    /// pre-header when it enters a cached loop from outside.
    fn edge(&self, pc: u32) -> Result<Block, String> {
        match self.cached_loop_at_header(pc) {
            Some(li) if !self.an.cached[li].contains(self.cur) => Ok(self.pre[li]),
            _ => self.block(pc),
        }
    }

    /// Read the length and data pointer of the cached arrays of loop `only` (or of
    /// every cached loop containing header `h`, for re-entry at `h`) into their
    /// variables, with the values the array registers have at `h`. A null array
    /// reads the zero block: length 0.
    fn load_caches(&mut self, h: u32, only: Option<usize>) {
        let (p_off, l_off) = self.tc.offs.arr_items;
        let loops: Vec<usize> = match only {
            Some(li) => vec![li],
            // Outermost first.
            None => {
                let mut v: Vec<usize> = self.cached_loops_around(h).collect();
                v.reverse();
                v
            }
        };
        for li in loops {
            let l = &self.an.cached[li];
            for (ai, &a) in l.arrays.clone().iter().enumerate() {
                let w = self.an.webs.at(h, a) as usize;
                let o = self.b.use_var(self.vars[w]);
                let o = if self.vty[w] == F64 {
                    self.b.ins().bitcast(I64, MemFlagsData::new(), o)
                } else {
                    o
                };
                let zero = self.ic(self.tc.addrs.zero_obj as i64);
                let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, o, 0);
                let hdr = self.b.ins().select(is_null, zero, o);
                let fl = self.m(Mem::Hdr);
                let len = self.b.ins().load(I64, fl, hdr, l_off);
                let ptr = self.b.ins().load(I64, fl, hdr, p_off);
                let (lv, pv) = self.cvars[li][ai];
                self.b.def_var(lv, len);
                self.b.def_var(pv, ptr);
            }
        }
    }

    /// The cached (length, data pointer) of array register `arr` at the current
    /// instruction, if its loop caches them.
    fn cached_array(&mut self, arr: Reg) -> Option<(CV, CV)> {
        // The innermost cached loop containing the instruction that caches `arr`
        // (an enclosing loop's caches are valid in its nested loops too).
        let (li, ai) = self.cached_loops_around(self.cur).find_map(|li| {
            self.an.cached[li]
                .arrays
                .binary_search(&arr)
                .ok()
                .map(|ai| (li, ai))
        })?;
        let (lv, pv) = self.cvars[li][ai];
        Some((self.b.use_var(lv), self.b.use_var(pv)))
    }

    /// Flags of a (trusted: aligned, non-trapping) access to memory category `m`.
    fn m(&self, m: Mem) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(self.regions[m as usize]))
    }

    fn ic(&mut self, v: i64) -> CV {
        self.b.ins().iconst(I64, v)
    }

    fn is_ref(&self, r: Reg) -> bool {
        self.an.is_ref.get(r as usize).copied().unwrap_or(false)
    }

    /// The web of register `r` read by the current instruction.
    fn wu(&self, r: Reg) -> usize {
        self.an.webs.at(self.cur, r) as usize
    }

    /// The web of register `r` written by the current instruction.
    fn wd(&self, r: Reg) -> usize {
        let ops = &self.an.ops[self.cur as usize];
        self.an.webs.def_at(self.cur, r, ops) as usize
    }

    /// The machine type of the value the current instruction writes to `r`.
    fn def_ty(&self, r: Reg) -> Type {
        self.vty[self.wd(r)]
    }

    fn get_raw(&mut self, r: Reg) -> CV {
        let w = self.wu(r);
        self.b.use_var(self.vars[w])
    }

    fn get_i(&mut self, r: Reg) -> CV {
        let v = self.get_raw(r);
        if self.vty[self.wu(r)] == F64 {
            self.b.ins().bitcast(I64, MemFlagsData::new(), v)
        } else {
            v
        }
    }

    fn get_f(&mut self, r: Reg) -> CV {
        let v = self.get_raw(r);
        if self.vty[self.wu(r)] == I64 {
            self.b.ins().bitcast(F64, MemFlagsData::new(), v)
        } else {
            v
        }
    }

    /// Define register `r` (converting between I64 and F64 as needed); reference
    /// registers are also stored to their frame slot.
    fn set(&mut self, r: Reg, v: CV) {
        let w = self.wd(r);
        let want = self.vty[w];
        let have = self.b.func.dfg.value_type(v);
        let v = if have != want {
            self.b.ins().bitcast(want, MemFlagsData::new(), v)
        } else {
            v
        };
        self.b.def_var(self.vars[w], v);
        if self.is_ref(r) {
            let fl = self.m(Mem::Frame);
            self.b.ins().store(fl, v, self.base, r as i32 * 8);
        }
    }

    fn set_bool(&mut self, r: Reg, c: CV) {
        let v = self.b.ins().uextend(I64, c);
        self.set(r, v);
    }

    /// Store the values the scalar registers in `set` have before instruction `pc`
    /// to their frame slots (reference registers are always there already).
    fn write_back(&mut self, pc: u32, set: RegSet) {
        for r in set.iter() {
            if (r as usize) < self.f.nregs as usize && !self.is_ref(r) {
                let w = self.an.webs.at(pc, r) as usize;
                let v = self.b.use_var(self.vars[w]);
                let fl = self.m(Mem::Frame);
                self.b.ins().store(fl, v, self.base, r as i32 * 8);
            }
        }
    }

    /// The current frame depth (this function's record is `frames[d - 1]`). It is
    /// reloaded at each use rather than kept live across calls, which keeps
    /// register pressure (and callee-saved spills) down in call-heavy code.
    fn depth(&mut self) -> CV {
        self.b.use_var(self.depth_var)
    }

    /// Pop this function's frame record: `depth = d - 1` (a store; nothing is
    /// loaded).
    fn pop_frame(&mut self) {
        let d = self.depth();
        let d1 = self.b.ins().iadd_imm_s(d, -1);
        let (a, off) = self.depth_addr();
        let fl = self.m(Mem::Vm);
        self.b.ins().store(fl, d1, a, off);
    }

    /// The address of the VM (an immediate; Cranelift rematerialises it where it
    /// is needed instead of keeping it in a callee-saved register).
    fn vmc(&mut self) -> CV {
        self.ic(self.tc.addrs.vm as i64)
    }

    /// The address of the frame depth counter as `(constant, offset)`. Every use
    /// gets a different constant: Cranelift would merge equal ones into one value
    /// and, when that value was already rematerialised once, keep it live across
    /// calls (in a callee-saved register or a spill slot) instead of
    /// rematerialising it again.
    fn depth_addr(&mut self) -> (CV, i32) {
        self.uniq = (self.uniq + 1) % 4096;
        let off = self.uniq as i32 * 8;
        let a = self.tc.addrs.vm.wrapping_add(self.tc.offs.vm_depth as u64);
        (self.ic(a.wrapping_sub(off as u64) as i64), off)
    }

    /// Address of this function's frame record, given the depth `d`.
    fn record(&mut self, d: CV) -> CV {
        let fs = self.tc.offs.frame_size as i64;
        let scaled = self.b.ins().imul_imm_s(d, fs);
        self.b.ins().iadd_imm_s(scaled, self.tc.addrs.frames as i64 - fs)
    }

    fn store_pc(&mut self, pc: u32) {
        let d = self.depth();
        let rec = self.record(d);
        let v = self.b.ins().iconst(I32, pc as i64);
        let fl = self.m(Mem::Vm);
        self.b.ins().store(fl, v, rec, self.tc.offs.frame_pc);
    }

    fn exit_block(&mut self, kind: Exit, pc: u32) -> Block {
        let key = (kind as u8, pc);
        if let Some(&b) = self.exits.get(&key) {
            return b;
        }
        if matches!(kind, Exit::Ovf) {
            // The overflow exit continues in the exception exit (filled in the
            // same round of `fill_exits`).
            self.exit_block(Exit::Exc, pc);
        }
        let blk = self.b.create_block();
        if matches!(kind, Exit::Exc) {
            self.b.append_block_param(blk, I64);
        }
        self.b.set_cold_block(blk);
        self.exits.insert(key, blk);
        self.todo.push((kind, pc, blk));
        blk
    }

    /// Continue in a fresh block when `cond` is false; side exit to the VM at `pc`
    /// when it is true.
    fn guard(&mut self, cond: CV, pc: u32) {
        let exit = self.exit_block(Exit::Deopt, pc);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, exit, &[], cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// Branch to the exception/stop path of `pc` when status `st` is nonzero.
    fn check_status(&mut self, st: CV, pc: u32) {
        let exit = self.exit_block(Exit::Exc, pc);
        let cont = self.b.create_block();
        self.b.ins().brif(st, exit, &[st.into()], cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// Deopt stress: an exit to the VM at `deopt_pc`, counted at `site`.
    fn stress(&mut self, site: u32, deopt_pc: u32) {
        match self.tc.stress {
            0 => {}
            1 => {
                let addr = self.ic(self.tc.stress_ctrs as i64 + site as i64 * 4);
                let fl = self.m(Mem::Vm);
                let c = self.b.ins().load(I32, fl, addr, 0);
                let c1 = self.b.ins().iadd_imm_s(c, 1);
                let fl = self.m(Mem::Vm);
                self.b.ins().store(fl, c1, addr, 0);
                let both = self.b.ins().band(c1, c);
                let take = self.b.ins().icmp_imm_s(IntCC::Equal, both, 0);
                self.guard(take, deopt_pc);
            }
            _ => {
                let take = self.b.ins().iconst(I8, 1);
                self.guard(take, deopt_pc);
            }
        }
    }

    fn call_helper(&mut self, sig: SigRef, addr: u64, args: &[CV]) -> CV {
        let fp = self.ic(addr as i64);
        let call = self.b.ins().call_indirect(sig, fp, args);
        self.b.inst_results(call)[0]
    }

    /// After `rt_resume`/`rt_resume_exc`: status 3 re-enters this code at a loop
    /// header, anything else is this function's status.
    fn after_resume(&mut self, st: CV) {
        let low = self.b.ins().band_imm_s(st, 3);
        let is_re = self.b.ins().icmp_imm_s(IntCC::Equal, low, 3);
        let re = self.b.create_block();
        let ret = self.b.create_block();
        self.b.set_cold_block(re);
        self.b.set_cold_block(ret);
        self.b.ins().brif(is_re, re, &[], ret, &[]);
        self.b.seal_block(re);
        self.b.seal_block(ret);
        self.b.switch_to_block(re);
        let enc = self.b.ins().ushr_imm_s(st, 2);
        self.b.ins().jump(self.reentry, &[enc.into()]);
        self.b.switch_to_block(ret);
        self.b.ins().return_(&[st]);
    }

    fn has_handler(&self, pc: u32) -> bool {
        self.an.covering.get(pc as usize).is_some_and(|c| !c.is_empty())
    }

    fn live_in(&self, pc: u32) -> RegSet {
        self.an.live_in.get(pc as usize).copied().unwrap_or_default()
    }

    /// Stop the translation once it is over [`MAX_JIT_IR`].
    fn check_size(&self) -> Result<(), TransError> {
        if self.b.func.dfg.num_insts() > MAX_JIT_IR {
            return Err(TransError::TooBig(format!(
                "more than {MAX_JIT_IR} Cranelift instructions"
            )));
        }
        Ok(())
    }

    fn fill_exits(&mut self) -> Result<(), TransError> {
        // Every exit block has all its predecessors by now: seal, then fill it.
        // Overflow exits first: they jump to the exception exit of their pc,
        // which must not be sealed before that.
        let mut todo = std::mem::take(&mut self.todo);
        todo.sort_by_key(|&(kind, _, _)| !matches!(kind, Exit::Ovf));
        for (kind, pc, blk) in todo {
            // An exit writes back up to every register: check as it goes.
            self.check_size()?;
            self.b.seal_block(blk);
            self.b.switch_to_block(blk);
            let pcv = self.ic(pc as i64);
            match kind {
                Exit::Deopt => {
                    let live = self.live_in(pc);
                    self.write_back(pc, live);
                    let vm = self.vmc();
                    let st = self.call_helper(self.sig3, self.tc.addrs.h_resume, &[vm, self.base, pcv]);
                    self.after_resume(st);
                }
                Exit::Ovf => {
                    let vm = self.vmc();
                    let st = self.call_helper(self.sig2, self.tc.addrs.h_overflow_at, &[vm, pcv]);
                    let exc = self.exits.get(&(Exit::Exc as u8, pc)).copied();
                    let exc = exc.ok_or("overflow exit without an exception exit")?;
                    self.b.ins().jump(exc, &[st.into()]);
                }
                Exit::Exc => {
                    let st = self.b.block_params(blk)[0];
                    let is_stop = self.b.ins().icmp_imm_s(IntCC::Equal, st, 2);
                    let stop = self.b.create_block();
                    let exc = self.b.create_block();
                    self.b.set_cold_block(stop);
                    self.b.set_cold_block(exc);
                    self.b.ins().brif(is_stop, stop, &[], exc, &[]);
                    self.b.seal_block(stop);
                    self.b.seal_block(exc);
                    self.b.switch_to_block(stop);
                    self.b.ins().return_(&[st]);
                    self.b.switch_to_block(exc);
                    if self.has_handler(pc) {
                        let live = self.live_in(pc);
                        self.write_back(pc, live);
                        let vm = self.vmc();
                        let st2 =
                            self.call_helper(self.sig3, self.tc.addrs.h_resume_exc, &[vm, self.base, pcv]);
                        self.after_resume(st2);
                    } else {
                        let vm = self.vmc();
                        let st2 = self.call_helper(self.sig2, self.tc.addrs.h_propagate, &[vm, pcv]);
                        self.b.ins().return_(&[st2]);
                    }
                }
            }
        }
        if self.todo.is_empty() {
            Ok(())
        } else {
            Err("exit block created while filling exits".into())
        }
    }

    fn fill_reentry(&mut self) -> Result<(), String> {
        self.b.switch_to_block(self.reentry);
        let enc = self.b.block_params(self.reentry)[0];
        let mut sw = Switch::new();
        let mut cases = Vec::new();
        for &h in &self.an.headers.clone() {
            let target = self.block(h)?;
            let blk = self.b.create_block();
            self.b.set_cold_block(blk);
            sw.set_entry(h as u128 + 1, blk);
            cases.push((h, blk, target));
        }
        let bad = self.b.create_block();
        self.b.set_cold_block(bad);
        sw.emit(&mut self.b, enc, bad);
        for (h, blk, target) in cases {
            self.b.seal_block(blk);
            self.b.switch_to_block(blk);
            let live = self.live_in(h);
            for r in live.iter() {
                if (r as usize) < self.f.nregs as usize {
                    let w = self.an.webs.at(h, r) as usize;
                    let (ty, fl, base) = (self.vty[w], self.m(Mem::Frame), self.base);
                    let v = self.b.ins().load(ty, fl, base, r as i32 * 8);
                    self.b.def_var(self.vars[w], v);
                }
            }
            self.load_caches(h, None);
            self.b.ins().jump(target, &[]);
        }
        self.b.seal_block(bad);
        self.b.switch_to_block(bad);
        let vm = self.vmc();
        let st = self.call_helper(self.sig2, self.tc.addrs.h_bad_reentry, &[vm, enc]);
        self.b.ins().return_(&[st]);
        Ok(())
    }

    /// Branch on `cond` to `target`, else fall through to `pc + 1`.
    fn branch(&mut self, cond: CV, pc: u32, target: u32) -> Result<bool, String> {
        let t = self.edge(target)?;
        let e = self.edge(pc + 1)?;
        self.b.ins().brif(cond, t, &[], e, &[]);
        Ok(false)
    }

    /// `op` on the int values of registers `a` and `b`.
    fn int2(&mut self, a: Reg, b: Reg, op: BinOp) -> CV {
        let x = self.get_i(a);
        let y = self.get_i(b);
        op(&mut self.b, x, y)
    }

    /// `op` on the int value of register `a`.
    fn int1(&mut self, a: Reg, op: UnOp) -> CV {
        let x = self.get_i(a);
        op(&mut self.b, x)
    }

    /// `op` on the float value of register `a`.
    fn float1(&mut self, a: Reg, op: UnOp) -> CV {
        let x = self.get_f(a);
        op(&mut self.b, x)
    }

    fn int_bin(&mut self, dst: Reg, a: Reg, b: Reg, op: BinOp) {
        let v = self.int2(a, b, op);
        self.set(dst, v);
    }

    fn float_bin(&mut self, dst: Reg, a: Reg, b: Reg, op: BinOp) {
        let x = self.get_f(a);
        let y = self.get_f(b);
        let v = op(&mut self.b, x, y);
        self.set(dst, v);
    }

    fn icmp_set(&mut self, dst: Reg, a: Reg, b: Reg, cc: IntCC) {
        let x = self.get_i(a);
        let y = self.get_i(b);
        let c = self.b.ins().icmp(cc, x, y);
        self.set_bool(dst, c);
    }

    fn fcmp_set(&mut self, dst: Reg, a: Reg, b: Reg, cc: FloatCC) {
        let x = self.get_f(a);
        let y = self.get_f(b);
        let c = self.b.ins().fcmp(cc, x, y);
        self.set_bool(dst, c);
    }

    /// The instruction through the generic helper `rt_op`: write back its scalar
    /// operands, call, check the status, reload its result.
    fn generic(&mut self, pc: u32) {
        self.store_pc(pc);
        self.stress(pc, pc);
        let ops = self.an.ops[pc as usize].clone();
        let mut done = RegSet::default();
        for &r in &ops.uses {
            if !done.contains(r) && !self.is_ref(r) && (r as usize) < self.f.nregs as usize {
                done.insert(r);
                let v = self.get_raw(r);
                let fl = self.m(Mem::Frame);
                self.b.ins().store(fl, v, self.base, r as i32 * 8);
            }
        }
        let pcv = self.ic(pc as i64);
        let vm = self.vmc();
        let st = self.call_helper(self.sig3, self.tc.addrs.h_op, &[vm, self.base, pcv]);
        self.check_status(st, pc);
        if let Some(d) = ops.def {
            let w = self.wd(d);
            let (ty, fl, base) = (self.vty[w], self.m(Mem::Frame), self.base);
            let v = self.b.ins().load(ty, fl, base, d as i32 * 8);
            self.b.def_var(self.vars[w], v);
        }
    }

    /// The value of `v` if it is an integer constant (e.g. a register loaded by
    /// `LoadInt` earlier in the same block).
    fn const_int(&self, v: CV) -> Option<i64> {
        let dfg = &self.b.func.dfg;
        match dfg.value_def(v) {
            ir::ValueDef::Result(inst, 0) => match dfg.insts[inst] {
                ir::InstructionData::UnaryImm {
                    opcode: ir::Opcode::Iconst,
                    imm,
                } if dfg.value_type(v) == I64 => Some(imm.bits()),
                _ => None,
            },
            _ => None,
        }
    }

    /// `x / c` or `x % c` (truncating, remainder with the sign of `x`) for a
    /// constant `c != 0`, with the VM's results for `MIN / -1` (wraps) and
    /// `MIN % -1` (0). General divisors use the signed magic-number method
    /// (Hacker's Delight 10-1); see [`magic_s64`].
    fn div_by_const(&mut self, x: CV, c: i64, is_div: bool) -> CV {
        let q = match c {
            1 => x,
            -1 => self.b.ins().ineg(x),
            i64::MIN => {
                // Only MIN itself divides to 1; everything else to 0.
                let eq = self.b.ins().icmp_imm_s(IntCC::Equal, x, i64::MIN);
                self.b.ins().uextend(I64, eq)
            }
            _ if c.unsigned_abs().is_power_of_two() => {
                // `|c| = 2^k`: shifts. A negative `x` is biased by `2^k - 1` so
                // that the shift truncates toward zero; the remainder keeps the
                // sign of `x` (and is the same for `c` and `-c`).
                let k = c.unsigned_abs().trailing_zeros() as i64;
                let sign = self.b.ins().sshr_imm_s(x, 63);
                let bias = self.b.ins().ushr_imm_s(sign, 64 - k);
                let t = self.b.ins().iadd(x, bias);
                if !is_div {
                    let low = self.b.ins().band_imm_s(t, (1i64 << k) - 1);
                    let r = self.b.ins().isub(low, bias);
                    let bits = self.b.ins().band_imm_s(x, (1i64 << k) - 1);
                    self.zero_equiv.insert(r, bits);
                    return r;
                }
                let q = self.b.ins().sshr_imm_s(t, k);
                if c < 0 {
                    self.b.ins().ineg(q)
                } else {
                    q
                }
            }
            _ => {
                let (m, sh) = magic_s64(c);
                let mv = self.ic(m);
                let mut q = self.b.ins().smulhi(x, mv);
                if c > 0 && m < 0 {
                    q = self.b.ins().iadd(q, x);
                } else if c < 0 && m > 0 {
                    q = self.b.ins().isub(q, x);
                }
                if sh > 0 {
                    q = self.b.ins().sshr_imm_s(q, sh as i64);
                }
                // Round towards zero: add 1 when the quotient is negative. For
                // `c > 0` that is when `x` is (Hacker's Delight 10-1), and the sign
                // of `x` is known before the multiply, which keeps the `shr` off
                // the dependency chain (`loop_int`'s `% 1000000007`).
                let sign = if c > 0 {
                    self.b.ins().ushr_imm_s(x, 63)
                } else {
                    self.b.ins().ushr_imm_s(q, 63)
                };
                self.b.ins().iadd(q, sign)
            }
        };
        if is_div {
            q
        } else {
            let qc = self.b.ins().imul_imm_s(q, c);
            self.b.ins().isub(x, qc)
        }
    }

    /// The commutative integer operation `op` (numbered `tag` in `vn`) on the
    /// registers `a` and `b`: the value already computed in this bytecode block
    /// for the same operands (in either order), else a new one.
    fn commutative(&mut self, tag: u8, a: Reg, b: Reg, op: fn(&mut Self, CV, CV) -> CV) -> CV {
        let x = self.get_i(a);
        let y = self.get_i(b);
        if let Some(&v) = self.vn.get(&(tag, x, y)).or_else(|| self.vn.get(&(tag, y, x))) {
            return v;
        }
        let v = op(self, x, y);
        self.vn.insert((tag, x, y), v);
        v
    }

    /// `x + y`, reassociated as `p + (q + y)` when `x = p + q` and `p` is a block
    /// parameter (typically a loop-carried value such as an accumulator) while
    /// `q` and `y` are not: the loop-carried dependency chain then has one add
    /// instead of two (`total = (total + i * 7 + (i ^ (i >> 3))) % m`). Integer
    /// addition wraps, so any association gives the same result.
    fn add_reassoc(&mut self, x: CV, y: CV) -> CV {
        let dfg = &self.b.func.dfg;
        let is_param = |v: CV| matches!(dfg.value_def(v), ir::ValueDef::Param(..));
        if let ir::ValueDef::Result(inst, 0) = dfg.value_def(x) {
            if let ir::InstructionData::Binary {
                opcode: ir::Opcode::Iadd,
                args: [p, q],
            } = dfg.insts[inst]
            {
                if is_param(p) && !is_param(q) && !is_param(y) {
                    let qy = self.b.ins().iadd(q, y);
                    return self.b.ins().iadd(p, qy);
                }
            }
        }
        self.b.ins().iadd(x, y)
    }

    /// Null check of the object in `r`; returns its pointer.
    fn non_null(&mut self, r: Reg, pc: u32) -> CV {
        let o = self.get_i(r);
        let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, o, 0);
        self.guard(is_null, pc);
        o
    }

    /// An inline load or store of element `idx` (a register) of the array in
    /// `arr`, with the VM's index rules: negative counts from the end, out of range
    /// side-exits (the VM then raises). In a cached loop the length and data
    /// pointer come from the pre-header (a null array has length 0 there, so it
    /// side-exits like an index out of range); elsewhere they are loaded here,
    /// after a null check.
    fn array_access(&mut self, pc: u32, arr: Reg, idx: Reg, acc: Access) {
        let (p_off, l_off) = self.tc.offs.arr_items;
        self.stress(pc, pc);
        let (len, ptr) = match self.cached_array(arr) {
            Some(c) => c,
            None => {
                let a = self.non_null(arr, pc);
                let fl = self.m(Mem::Hdr);
                let len = self.b.ins().load(I64, fl, a, l_off);
                let fl = self.m(Mem::Hdr);
                let ptr = self.b.ins().load(I64, fl, a, p_off);
                (len, ptr)
            }
        };
        let i = self.get_i(idx);
        if !self.tc.neg_index && !self.an.webs.neg_const[self.wu(idx)] {
            // Speculate `0 <= i < len`: one unsigned compare, the exit covers both
            // ends. A valid negative index side-exits here; the VM then reads
            // from the end, and flags the function so that its next version
            // takes the path below (see `Jit::note_negative_index`).
            if !self.checked.contains(&(i, len)) {
                let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
                self.guard(oob, pc);
                self.checked.push((i, len));
            }
            self.element(ptr, i, acc);
            return;
        }
        // Negative indices count from the end: a cold path computes `i + len`.
        let inb = self.b.ins().icmp(IntCC::UnsignedLessThan, i, len);
        let ok = self.b.create_block();
        let j = self.b.append_block_param(ok, I64);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(inb, ok, &[i.into()], slow, &[]);
        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        let adj = self.b.ins().iadd(i, len);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, adj, len);
        self.guard(oob, pc);
        self.b.ins().jump(ok, &[adj.into()]);
        self.b.seal_block(ok);
        self.b.switch_to_block(ok);
        self.element(ptr, j, acc);
    }

    /// Load or store element `j` (in range) of the array data at `ptr`.
    fn element(&mut self, ptr: CV, j: CV, acc: Access) {
        let off = self.b.ins().ishl_imm_s(j, 3);
        let addr = self.b.ins().iadd(ptr, off);
        self.access(addr, acc);
    }

    /// The load (`Access::Load(dst)`) or store (`Access::Store(src)`) at `addr`.
    fn access(&mut self, addr: CV, acc: Access) {
        let fl = self.m(Mem::Heap);
        match acc {
            Access::Load(dst) => {
                let ty = self.def_ty(dst);
                let v = self.b.ins().load(ty, fl, addr, 0);
                self.set(dst, v);
            }
            Access::Store(src) => {
                let v = self.get_raw(src);
                self.b.ins().store(fl, v, addr, 0);
            }
        }
    }

    /// Address of fixed slot `idx` of a struct or tuple in `obj` (bounds-checked).
    fn fixed_slot(&mut self, obj: Reg, idx: u8, pc: u32, (p_off, l_off): (i32, i32)) -> CV {
        let o = self.non_null(obj, pc);
        let fl = self.m(Mem::Hdr);
        let len = self.b.ins().load(I64, fl, o, l_off);
        let oob = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, len, idx as i64);
        self.guard(oob, pc);
        let fl = self.m(Mem::Hdr);
        let ptr = self.b.ins().load(I64, fl, o, p_off);
        self.b.ins().iadd_imm_s(ptr, idx as i64 * 8)
    }

    /// An inline load (`Access::Load(dst)`) or store (`Access::Store(src)`) of the
    /// element whose address `addr_of` computes (with its checks) from the
    /// container's (pointer, length) layout.
    fn heap_access(
        &mut self,
        pc: u32,
        layout: (i32, i32),
        acc: Access,
        addr_of: impl FnOnce(&mut Self, (i32, i32)) -> CV,
    ) {
        self.stress(pc, pc);
        let addr = addr_of(self, layout);
        self.access(addr, acc);
    }

    /// A call of a user function whose id and "returns void" flag are `callee`
    /// and `void` (constants or run-time values).
    #[allow(clippy::too_many_arguments)]
    fn emit_call(
        &mut self,
        pc: u32,
        dst: Reg,
        args: &[Reg],
        callee: CV,
        callee_nregs: CalleeRegs,
        void: Option<CV>,
        static_void: bool,
        is_self: bool,
    ) {
        let nregs = self.f.nregs as i64;
        // `d` is this frame's depth, `d + 1` the callee's.
        let d = self.depth();
        let callee_base = self.b.ins().iadd_imm_s(self.base, nregs * 8);
        // The limits, checked here (before anything is written) rather than in
        // the callee, where the depth would have to be loaded again: the callee's
        // frame must fit the frame stack, and its window the register stack
        // (unless the depth check implies it). Past either this call raises
        // `stack overflow` at `pc`, as in the interpreter. (The callee checks the
        // native stack.)
        {
            let a = self.tc.addrs;
            let ovf = self.exit_block(Exit::Ovf, pc);
            let c = self
                .b
                .ins()
                .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, d, a.max_depth as i64);
            // (`d + 1 > max_depth`)
            let ok = self.b.create_block();
            self.b.ins().brif(c, ovf, &[], ok, &[]);
            self.b.seal_block(ok);
            self.b.switch_to_block(ok);
            if a.check_stack {
                let c = match callee_nregs {
                    CalleeRegs::Static(n) => self.b.ins().icmp_imm_s(
                        IntCC::UnsignedGreaterThan,
                        callee_base,
                        a.stack_end as i64 - n as i64 * 8,
                    ),
                    CalleeRegs::Dynamic(n) => {
                        let bytes = self.b.ins().ishl_imm_s(n, 3);
                        let end = self.b.ins().iadd(callee_base, bytes);
                        self.b
                            .ins()
                            .icmp_imm_s(IntCC::UnsignedGreaterThan, end, a.stack_end as i64)
                    }
                };
                let ok = self.b.create_block();
                self.b.ins().brif(c, ovf, &[], ok, &[]);
                self.b.seal_block(ok);
                self.b.switch_to_block(ok);
            }
        }
        // The callee's record `frames[d]` (this frame's is the one before it: one
        // address constant for both).
        let offs = *self.tc.offs;
        let fs = offs.frame_size as i64;
        let scaled = self.b.ins().imul_imm_s(d, fs);
        let rec2 = self.b.ins().iadd_imm_s(scaled, self.tc.addrs.frames as i64);
        // This frame's pc: where an exception escaping the callee is reported.
        let pcv = self.b.ins().iconst(I32, pc as i64);
        let fl = self.m(Mem::Vm);
        self.b.ins().store(fl, pcv, rec2, offs.frame_pc - offs.frame_size);
        // Arguments: the first `REG_ARGS` in machine registers, the others into
        // the callee's registers `REG_ARGS..n`.
        let k = args.len().min(REG_ARGS);
        let d1 = self.b.ins().iadd_imm_s(d, 1);
        let mut call_args = vec![callee_base, d1];
        for (i, &r) in args.iter().enumerate() {
            if i < REG_ARGS {
                let v = self.get_i(r);
                call_args.push(v);
            } else {
                let v = self.get_raw(r);
                let fl = self.m(Mem::Frame);
                self.b.ins().store(fl, v, callee_base, i as i32 * 8);
            }
        }
        // Push the callee's frame record.
        if offs.frame_pc == offs.frame_func + 4 && self.tc.little_endian {
            // `func` and `pc = 0` in one 64-bit store (callee ids are below 2^32).
            let fl = self.m(Mem::Vm);
            self.b.ins().store(fl, callee, rec2, offs.frame_func);
        } else {
            let callee32 = self.b.ins().ireduce(I32, callee);
            let fl = self.m(Mem::Vm);
            self.b.ins().store(fl, callee32, rec2, offs.frame_func);
            let z32 = self.b.ins().iconst(I32, 0);
            let fl = self.m(Mem::Vm);
            self.b.ins().store(fl, z32, rec2, offs.frame_pc);
        }
        // `base` of the callee's record: this frame's base index plus its window.
        let fl = self.m(Mem::Vm);
        let my_base = self
            .b
            .ins()
            .load(I64, fl, rec2, offs.frame_base - offs.frame_size);
        let callee_idx = self.b.ins().iadd_imm_s(my_base, nregs);
        self.b.ins().store(fl, callee_idx, rec2, offs.frame_base);
        let (depth_addr, depth_off) = self.depth_addr();
        let fl = self.m(Mem::Vm);
        self.b.ins().store(fl, d1, depth_addr, depth_off);
        // entry[callee](callee_base, callee_base, args...), or a direct call
        // of this function itself.
        let call = match self.self_ref {
            Some(me) if is_self => self.b.ins().call(me, &call_args),
            _ => {
                let eoff = self.b.ins().ishl_imm_s(callee, 3);
                let eaddr = self.b.ins().iadd_imm_s(eoff, self.tc.addrs.entry as i64);
                let fl = self.m(Mem::Vm);
                let code = self.b.ins().load(I64, fl, eaddr, 0);
                self.b.ins().call_indirect(self.sig_call[k], code, &call_args)
            }
        };
        let st = self.b.inst_results(call)[0];
        self.check_status(st, pc);
        if static_void {
            return;
        }
        let fl = self.m(Mem::Frame);
        let ty = self.def_ty(dst);
        let v = self.b.ins().load(ty, fl, callee_base, 0);
        let v = match void {
            Some(is_void) => {
                let old = self.get_raw(dst);
                self.b.ins().select(is_void, old, v)
            }
            None => v,
        };
        self.set(dst, v);
    }

    /// `CallBuiltin` of builtin `id`, as its table entry declares
    /// (`Builtin::inline`): machine instructions, a direct call of its native
    /// twin, or else a direct call of the builtin through `rt_builtin` (no
    /// instruction decoding in the VM).
    fn call_builtin(&mut self, pc: u32, dst: Reg, id: u32, args: &[Reg]) -> Result<(), String> {
        let (Some(b), Some(sig)) = (builtins::all().get(id as usize), builtins::signature(id)) else {
            return Err(format!("unknown builtin {id}"));
        };
        let inlined = match (b.inline, args) {
            (Inline::Unary(op), &[a]) => Some(self.inline_unary(op, a)),
            (Inline::Binary(op), &[a, c]) => Some(self.inline_binary(op, a, c)),
            (Inline::Clamp, &[a, lo, hi]) => Some(self.inline_clamp(a, lo, hi)),
            (Inline::NativeUnary(f), &[a]) => {
                let x = self.get_f(a);
                let fp = self.ic(f as usize as i64);
                let call = self.b.ins().call_indirect(self.sig_f, fp, &[x]);
                Some(self.b.inst_results(call)[0])
            }
            (Inline::NativeBinary(f), &[a, c]) => {
                let x = self.get_f(a);
                let y = self.get_f(c);
                let fp = self.ic(f as usize as i64);
                let call = self.b.ins().call_indirect(self.sig_ff, fp, &[x, y]);
                Some(self.b.inst_results(call)[0])
            }
            (Inline::Call, _) => None,
            // Operands that do not fit the operation (the compiler emits none):
            // the generic call is still right.
            (
                Inline::Unary(_)
                | Inline::Binary(_)
                | Inline::Clamp
                | Inline::NativeUnary(_)
                | Inline::NativeBinary(_),
                _,
            ) => None,
        };
        if let Some(v) = inlined {
            self.set(dst, v);
            return Ok(());
        }
        self.stress(pc, pc);
        let addr = self.arg_block(args);
        // Bit 32: the result is a reference (the helper roots it while it collects).
        let void = sig.returns_void();
        let ref_result = !void && self.is_ref(dst);
        let info = args.len() as i64 | (ref_result as i64) << 32;
        let h = self.tc.addrs.h_builtin;
        self.block_helper(pc, h, id as i64, addr, info, (!void).then_some(dst));
        Ok(())
    }

    /// Call a helper of the form `(vm, a, args, b, pc) -> status` whose operands
    /// are in the argument block at `args` (`rt_builtin`, `rt_new`, `rt_obj`),
    /// check its status and take its result, if `dst` wants one, from `args[0]`.
    fn block_helper(&mut self, pc: u32, helper: u64, a: i64, args: CV, b: i64, dst: Option<Reg>) {
        let av = self.ic(a);
        let bv = self.ic(b);
        let pcv = self.ic(pc as i64);
        let vm = self.vmc();
        let st = self.call_helper(self.sig_builtin, helper, &[vm, av, args, bv, pcv]);
        self.check_status(st, pc);
        if let Some(d) = dst {
            let fl = self.m(Mem::Frame);
            let ty = self.def_ty(d);
            let v = self.b.ins().load(ty, fl, args, 0);
            self.set(d, v);
        }
    }

    /// Store the values of `args` to the function's argument block (a stack slot
    /// sized for its largest direct builtin or constructor call, created on first
    /// use); returns its address.
    fn arg_block(&mut self, args: &[Reg]) -> CV {
        let slot = match self.arg_slot {
            Some(s) => s,
            None => {
                let most = self
                    .f
                    .code
                    .iter()
                    .filter_map(|i| match i {
                        Instr::CallBuiltin { site, .. }
                        | Instr::NewArray { site, .. }
                        | Instr::NewTuple { site, .. }
                        | Instr::NewStruct { site, .. } => self.f.sites.get(*site as usize),
                        _ => None,
                    })
                    .map(|s| s.args.len())
                    // `MapSet`'s three operands (`rt_obj`).
                    .chain(std::iter::once(3))
                    .max()
                    .unwrap_or(0)
                    .max(1);
                let s = self.b.create_sized_stack_slot(ir::StackSlotData::new(
                    ir::StackSlotKind::ExplicitSlot,
                    most as u32 * 8,
                    3,
                ));
                self.arg_slot = Some(s);
                s
            }
        };
        let addr = self.b.ins().stack_addr(I64, slot, 0);
        for (i, &r) in args.iter().enumerate() {
            let v = self.get_raw(r);
            let fl = self.m(Mem::Frame);
            self.b.ins().store(fl, v, addr, i as i32 * 8);
        }
        addr
    }

    /// `NewArray`, `NewTuple` or `NewStruct` (constructor `tag`, see
    /// `runtime::rt_new`) of call site `site`: the elements go to the argument
    /// block, the helper allocates (no instruction decoding) and collects if it
    /// must, with the new object rooted.
    fn new_object(&mut self, pc: u32, dst: Reg, site: u32, tag: u64) -> Result<(), String> {
        let s = self.f.sites.get(site as usize).ok_or("bad call site")?;
        let site_addr = s as *const crate::bytecode::CallSite as usize as i64;
        let args = s.args.clone();
        self.stress(pc, pc);
        let addr = self.arg_block(&args);
        let info = args.len() as i64 | (tag as i64) << 32;
        self.block_helper(pc, self.tc.addrs.h_new, site_addr, addr, info, Some(dst));
        Ok(())
    }

    /// `MapGet`, `MapSet`, `Concat` or `ToStr` (tag of `runtime::rt_obj`) on the
    /// operands `ops`, writing `dst` if there is one.
    fn object_op(&mut self, pc: u32, tag: i64, ops: &[Reg], kind: u8, dst: Option<Reg>) {
        self.stress(pc, pc);
        let addr = self.arg_block(ops);
        self.block_helper(pc, self.tc.addrs.h_obj, tag, addr, kind as i64, dst);
    }

    /// Cranelift instructions with the exact semantics of a one-argument builtin
    /// (see runtime/src/builtins/inline.rs, math.rs and conv.rs).
    fn inline_unary(&mut self, op: UnaryOp, a: Reg) -> CV {
        match op {
            UnaryOp::Abs => self.int1(a, |b, x| b.ins().iabs(x)),
            UnaryOp::Identity => self.get_i(a),
            UnaryOp::Sign => self.int1(a, |b, x| {
                let pos = b.ins().icmp_imm_s(IntCC::SignedGreaterThan, x, 0);
                let neg = b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
                let p = b.ins().uextend(I64, pos);
                let n = b.ins().uextend(I64, neg);
                b.ins().isub(p, n)
            }),
            UnaryOp::Sqrt => {
                let r = self.int1(a, |b, x| {
                    let f = b.ins().fcvt_from_sint(F64, x);
                    b.ins().sqrt(f)
                });
                self.f64_to_i64_x86(r)
            }
            UnaryOp::BitNot => self.int1(a, |b, x| b.ins().bnot(x)),
            UnaryOp::IntToFloat => self.int1(a, |b, x| b.ins().fcvt_from_sint(F64, x)),
            UnaryOp::FloatToInt => {
                let x = self.get_f(a);
                self.f64_to_i64_x86(x)
            }
            UnaryOp::FAbs => self.float1(a, |b, x| b.ins().fabs(x)),
            UnaryOp::FFloor => self.float1(a, |b, x| b.ins().floor(x)),
            UnaryOp::FCeil => self.float1(a, |b, x| b.ins().ceil(x)),
            UnaryOp::FSqrt => self.float1(a, |b, x| b.ins().sqrt(x)),
            UnaryOp::IsNan => self.float1(a, |b, x| {
                let c = b.ins().fcmp(FloatCC::Unordered, x, x);
                b.ins().uextend(I64, c)
            }),
            UnaryOp::IsInf => self.float1(a, |b, x| {
                let m = b.ins().fabs(x);
                let inf = b.ins().f64const(f64::INFINITY);
                let c = b.ins().fcmp(FloatCC::Equal, m, inf);
                b.ins().uextend(I64, c)
            }),
        }
    }

    /// Cranelift instructions with the exact semantics of a two-argument builtin.
    fn inline_binary(&mut self, op: BinaryOp, a: Reg, c: Reg) -> CV {
        match op {
            BinaryOp::Min => self.int2(a, c, |b, x, y| b.ins().smin(x, y)),
            BinaryOp::Max => self.int2(a, c, |b, x, y| b.ins().smax(x, y)),
            // The same operations as the `BitAnd` ... `Shr` instructions; Cranelift
            // takes shift amounts modulo 64, like the builtins.
            BinaryOp::BitAnd => self.int2(a, c, |b, x, y| b.ins().band(x, y)),
            BinaryOp::BitOr => self.int2(a, c, |b, x, y| b.ins().bor(x, y)),
            BinaryOp::BitXor => self.int2(a, c, |b, x, y| b.ins().bxor(x, y)),
            BinaryOp::Shl => self.int2(a, c, |b, x, y| b.ins().ishl(x, y)),
            BinaryOp::Shr => self.int2(a, c, |b, x, y| b.ins().sshr(x, y)),
        }
    }

    /// `clamp(v, lo, hi)`: `v < lo ? lo : (v > hi ? hi : v)`, `lo` checked first.
    fn inline_clamp(&mut self, v: Reg, lo: Reg, hi: Reg) -> CV {
        let (x, l, h) = (self.get_i(v), self.get_i(lo), self.get_i(hi));
        let gt = self.b.ins().icmp(IntCC::SignedGreaterThan, x, h);
        let upper = self.b.ins().select(gt, h, x);
        let lt = self.b.ins().icmp(IntCC::SignedLessThan, x, l);
        self.b.ins().select(lt, l, upper)
    }

    /// x86 `cvttsd2si`: truncate, with NaN and out-of-range values giving
    /// `i64::MIN` (the runtime's `f64_to_i64_x86`); never traps.
    fn f64_to_i64_x86(&mut self, x: CV) -> CV {
        let lo = self.b.ins().f64const(-9_223_372_036_854_775_808.0);
        let hi = self.b.ins().f64const(9_223_372_036_854_775_808.0);
        let ge = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, lo);
        let lt = self.b.ins().fcmp(FloatCC::LessThan, x, hi);
        let ok = self.b.ins().band(ge, lt);
        let t = self.b.ins().fcvt_to_sint_sat(I64, x);
        let min = self.ic(i64::MIN);
        self.b.ins().select(ok, t, min)
    }

    /// Translate the instruction at `pc`. Returns whether the current block is
    /// still open (falls through to `pc + 1`).
    fn instr(&mut self, pc: u32) -> Result<bool, String> {
        use Instr::*;
        let ins = self.f.code[pc as usize];
        let offs = *self.tc.offs;
        match ins {
            Mov { dst, src } => {
                let v = self.get_raw(src);
                self.set(dst, v);
            }
            LoadInt { dst, imm } => {
                let v = self.ic(imm as i64);
                self.set(dst, v);
            }
            LoadConst { dst, k } => {
                let v = match self.f.consts.get(k as usize) {
                    Some(Const::Int(i)) => self.ic(*i),
                    Some(Const::Float(x)) => self.b.ins().f64const(*x),
                    Some(Const::Str(_)) => {
                        let p = self.tc.consts.get(k as usize).map(|v| v.0).unwrap_or(0);
                        self.ic(p as i64)
                    }
                    None => return Err(format!("bad constant {k}")),
                };
                self.set(dst, v);
            }
            LoadBool { dst, val } => {
                let v = self.ic(val as i64);
                self.set(dst, v);
            }
            LoadNull { dst } => {
                let v = self.ic(0);
                self.set(dst, v);
            }
            GetGlobal { dst, idx } => {
                let addr = self.ic(self.tc.addrs.globals as i64 + idx as i64 * 8);
                let fl = self.m(Mem::Global);
                let ty = self.def_ty(dst);
                let v = self.b.ins().load(ty, fl, addr, 0);
                self.set(dst, v);
            }
            SetGlobal { src, idx } => {
                let addr = self.ic(self.tc.addrs.globals as i64 + idx as i64 * 8);
                let v = self.get_raw(src);
                let fl = self.m(Mem::Global);
                self.b.ins().store(fl, v, addr, 0);
            }

            AddI { dst, a, b } => {
                let v = self.commutative(0, a, b, Self::add_reassoc);
                self.set(dst, v);
            }
            SubI { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().isub(x, y)),
            MulI { dst, a, b } => {
                let v = self.commutative(1, a, b, |t, x, y| t.b.ins().imul(x, y));
                self.set(dst, v);
            }
            BitAnd { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().band(x, y)),
            BitOr { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().bor(x, y)),
            BitXor { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().bxor(x, y)),
            // Cranelift masks the shift amount to the type width: `b mod 64`.
            Shl { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().ishl(x, y)),
            Shr { dst, a, b } => self.int_bin(dst, a, b, |b, x, y| b.ins().sshr(x, y)),
            DivI { dst, a, b } | ModI { dst, a, b } => {
                let is_div = matches!(ins, DivI { .. });
                let x = self.get_i(a);
                let y = self.get_i(b);
                self.stress(pc, pc);
                let v = match self.const_int(y) {
                    // A constant divisor (the common `% 1000000007`): no zero check,
                    // and a multiply by a magic number instead of `idiv`.
                    Some(c) if c != 0 => self.div_by_const(x, c, is_div),
                    _ => {
                        // Division by zero raises in the VM; `sdiv`/`srem` would trap.
                        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                        self.guard(zero, pc);
                        // `MIN / -1` would trap too: divide by 1 instead and fix up.
                        let m1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                        let one = self.ic(1);
                        let safe = self.b.ins().select(m1, one, y);
                        if is_div {
                            let q = self.b.ins().sdiv(x, safe);
                            let n = self.b.ins().ineg(x);
                            self.b.ins().select(m1, n, q)
                        } else {
                            let r = self.b.ins().srem(x, safe);
                            let z = self.ic(0);
                            self.b.ins().select(m1, z, r)
                        }
                    }
                };
                self.set(dst, v);
            }
            AddIImm { dst, a, imm } => {
                let x = self.get_i(a);
                let v = self.b.ins().iadd_imm_s(x, imm as i64);
                self.set(dst, v);
            }
            NegI { dst, src } => {
                let x = self.get_i(src);
                let v = self.b.ins().ineg(x);
                self.set(dst, v);
            }
            BitNot { dst, src } => {
                let x = self.get_i(src);
                let v = self.b.ins().bnot(x);
                self.set(dst, v);
            }

            AddF { dst, a, b } => self.float_bin(dst, a, b, |b, x, y| b.ins().fadd(x, y)),
            SubF { dst, a, b } => self.float_bin(dst, a, b, |b, x, y| b.ins().fsub(x, y)),
            MulF { dst, a, b } => self.float_bin(dst, a, b, |b, x, y| b.ins().fmul(x, y)),
            DivF { dst, a, b } => self.float_bin(dst, a, b, |b, x, y| b.ins().fdiv(x, y)),
            ModF { dst, a, b } => {
                let x = self.get_f(a);
                let y = self.get_f(b);
                let fp = self.ic(self.tc.addrs.h_fmod as i64);
                let call = self.b.ins().call_indirect(self.sig_ff, fp, &[x, y]);
                let v = self.b.inst_results(call)[0];
                self.set(dst, v);
            }
            NegF { dst, src } => {
                // Flip the sign bit as an integer operation, not `fneg`: Cranelift
                // rewrites `fneg(x) * fneg(y)` to `x * y`, which changes the sign
                // of a NaN result (printed `nan` / `-nan`) against the interpreter
                // (found by tests/differential.rs).
                let x = self.get_i(src);
                let v = self.b.ins().bxor_imm_s(x, i64::MIN);
                self.set(dst, v);
            }

            EqI { dst, a, b } => self.icmp_set(dst, a, b, IntCC::Equal),
            NeI { dst, a, b } => self.icmp_set(dst, a, b, IntCC::NotEqual),
            LtI { dst, a, b } => self.icmp_set(dst, a, b, IntCC::SignedLessThan),
            LeI { dst, a, b } => self.icmp_set(dst, a, b, IntCC::SignedLessThanOrEqual),
            EqF { dst, a, b } => self.fcmp_set(dst, a, b, FloatCC::Equal),
            NeF { dst, a, b } => self.fcmp_set(dst, a, b, FloatCC::NotEqual),
            LtF { dst, a, b } => self.fcmp_set(dst, a, b, FloatCC::LessThan),
            LeF { dst, a, b } => self.fcmp_set(dst, a, b, FloatCC::LessThanOrEqual),
            EqRef { dst, a, b } | NeRef { dst, a, b } => {
                self.stress(pc, pc);
                let x = self.get_i(a);
                let y = self.get_i(b);
                let r = self.call_helper(self.sig2, self.tc.addrs.h_eq_ref, &[x, y]);
                let failed = self.b.ins().icmp_imm_s(IntCC::Equal, r, 2);
                self.guard(failed, pc);
                let v = if matches!(ins, NeRef { .. }) {
                    self.b.ins().bxor_imm_s(r, 1)
                } else {
                    r
                };
                self.set(dst, v);
            }
            Not { dst, src } => {
                let x = self.get_i(src);
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                self.set_bool(dst, c);
            }

            Jmp { target } => {
                let t = self.edge(target)?;
                self.b.ins().jump(t, &[]);
                return Ok(false);
            }
            Loop { target, .. } => {
                self.stress(pc, target);
                let t = self.edge(target)?;
                self.b.ins().jump(t, &[]);
                return Ok(false);
            }
            JmpIf { cond, target } => {
                let c = self.get_i(cond);
                return self.branch(c, pc, target);
            }
            JmpIfNot { cond, target } => {
                let c = self.get_i(cond);
                let z = self.b.ins().icmp_imm_s(IntCC::Equal, c, 0);
                return self.branch(z, pc, target);
            }
            BrEqI { a, b, target }
            | BrNeI { a, b, target }
            | BrLtI { a, b, target }
            | BrLeI { a, b, target } => {
                let cc = match ins {
                    BrEqI { .. } => IntCC::Equal,
                    BrNeI { .. } => IntCC::NotEqual,
                    BrLtI { .. } => IntCC::SignedLessThan,
                    _ => IntCC::SignedLessThanOrEqual,
                };
                let x = self.get_i(a);
                let y = self.get_i(b);
                let c = self.b.ins().icmp(cc, x, y);
                return self.branch(c, pc, target);
            }
            BrEqIImm { a, imm, target }
            | BrNeIImm { a, imm, target }
            | BrLtIImm { a, imm, target }
            | BrLeIImm { a, imm, target }
            | BrGtIImm { a, imm, target }
            | BrGeIImm { a, imm, target } => {
                let cc = match ins {
                    BrEqIImm { .. } => IntCC::Equal,
                    BrNeIImm { .. } => IntCC::NotEqual,
                    BrLtIImm { .. } => IntCC::SignedLessThan,
                    BrLeIImm { .. } => IntCC::SignedLessThanOrEqual,
                    BrGtIImm { .. } => IntCC::SignedGreaterThan,
                    _ => IntCC::SignedGreaterThanOrEqual,
                };
                let mut x = self.get_i(a);
                if imm == 0 && matches!(cc, IntCC::Equal | IntCC::NotEqual) {
                    // `x % 2 == 0` tests the low bit.
                    x = self.zero_equiv.get(&x).copied().unwrap_or(x);
                }
                let c = self.b.ins().icmp_imm_s(cc, x, imm as i64);
                return self.branch(c, pc, target);
            }
            BrLtF { a, b, target }
            | BrLeF { a, b, target }
            | BrNotLtF { a, b, target }
            | BrNotLeF { a, b, target } => {
                let cc = match ins {
                    BrLtF { .. } | BrNotLtF { .. } => FloatCC::LessThan,
                    _ => FloatCC::LessThanOrEqual,
                };
                let x = self.get_f(a);
                let y = self.get_f(b);
                let c = self.b.ins().fcmp(cc, x, y);
                if matches!(ins, BrNotLtF { .. } | BrNotLeF { .. }) {
                    // Jump when the comparison is false (or unordered).
                    let t = self.edge(target)?;
                    let e = self.edge(pc + 1)?;
                    self.b.ins().brif(c, e, &[], t, &[]);
                    return Ok(false);
                }
                return self.branch(c, pc, target);
            }

            Call { dst, site } => {
                let s = self.f.sites.get(site as usize).ok_or("bad call site")?.clone();
                let cf = self
                    .tc
                    .program
                    .functions
                    .get(s.target as usize)
                    .ok_or("bad callee")?;
                self.stress(pc, pc);
                let callee = self.ic(s.target as i64);
                let void = cf.ret_kind.is_none();
                if s.args.len() != cf.nparams as usize {
                    return Err("call with a wrong number of arguments".into());
                }
                let n = CalleeRegs::Static(cf.nregs as u32);
                let is_self = s.target == self.fid;
                self.emit_call(pc, dst, &s.args, callee, n, None, void, is_self);
            }
            CallIndirect { dst, site } => {
                let s = self.f.sites.get(site as usize).ok_or("bad call site")?.clone();
                self.stress(pc, pc);
                // Null, kind and arity problems are raised by the VM.
                let clo = self.non_null(s.target as Reg, pc);
                let fl = self.m(Mem::Hdr);
                let kind = self.b.ins().load(I8, fl, clo, offs.hdr_kind);
                let bad_kind = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::NotEqual, kind, offs.closure_kind as i64);
                self.guard(bad_kind, pc);
                // Closures with captured values are called by the VM (it decides
                // where the captures go); compiled code calls bare functions.
                let fl = self.m(Mem::Hdr);
                let ncap = self.b.ins().load(I64, fl, clo, offs.clo_captures.1);
                let has_caps = self.b.ins().icmp_imm_s(IntCC::NotEqual, ncap, 0);
                self.guard(has_caps, pc);
                let fl = self.m(Mem::Hdr);
                let f32v = self.b.ins().load(I32, fl, clo, offs.clo_func);
                let callee = self.b.ins().uextend(I64, f32v);
                let ioff = self.b.ins().ishl_imm_s(callee, 2);
                let iaddr = self.b.ins().iadd_imm_s(ioff, self.tc.addrs.fn_info as i64);
                let fl = self.m(Mem::Hdr);
                let info32 = self.b.ins().load(I32, fl, iaddr, 0);
                let info = self.b.ins().uextend(I64, info32);
                let np = self.b.ins().ushr_imm_s(info, 16);
                let np = self.b.ins().band_imm_s(np, 0xff);
                let bad_arity = self.b.ins().icmp_imm_s(IntCC::NotEqual, np, s.args.len() as i64);
                self.guard(bad_arity, pc);
                let vbit = self.b.ins().ushr_imm_s(info, 24);
                let vbit = self.b.ins().band_imm_s(vbit, 1);
                let is_void = self.b.ins().icmp_imm_s(IntCC::NotEqual, vbit, 0);
                let nr = self.b.ins().band_imm_s(info, 0xffff);
                let n = CalleeRegs::Dynamic(nr);
                self.emit_call(pc, dst, &s.args, callee, n, Some(is_void), false, false);
            }
            CallBuiltin { dst, site } => {
                let s = self.f.sites.get(site as usize).ok_or("bad call site")?.clone();
                self.call_builtin(pc, dst, s.target, &s.args)?;
            }
            CallExtern { .. } => self.generic(pc),
            Ret { src } => {
                let v = self.get_raw(src);
                let fl = self.m(Mem::Frame);
                self.b.ins().store(fl, v, self.base, 0);
                self.pop_frame();
                let z = self.ic(0);
                self.b.ins().return_(&[z]);
                return Ok(false);
            }
            RetVoid => {
                self.pop_frame();
                let z = self.ic(0);
                self.b.ins().return_(&[z]);
                return Ok(false);
            }

            NewArray { dst, site } => self.new_object(pc, dst, site, 0)?,
            NewTuple { dst, site } => self.new_object(pc, dst, site, 1)?,
            NewStruct { dst, site } => self.new_object(pc, dst, site, 2)?,
            MapGet { dst, map, key } => self.object_op(pc, 0, &[map, key], 0, Some(dst)),
            MapSet { map, key, val } => self.object_op(pc, 1, &[map, key, val], 0, None),
            Concat { dst, a, b } => self.object_op(pc, 2, &[a, b], 0, Some(dst)),
            ToStr { dst, src, kind } => self.object_op(pc, 3, &[src], kind, Some(dst)),
            ConcatN { .. } | Print { .. } | NewMap { .. } | MakeClosure { .. } => self.generic(pc),

            ArrGet { dst, arr, idx } => self.array_access(pc, arr, idx, Access::Load(dst)),
            ArrSet { arr, idx, src } => self.array_access(pc, arr, idx, Access::Store(src)),
            ArrLen { dst, arr } => {
                self.stress(pc, pc);
                let a = self.non_null(arr, pc);
                // In a cached loop the length is in a register already.
                let len = match self.cached_array(arr) {
                    Some((len, _)) => len,
                    None => {
                        let fl = self.m(Mem::Hdr);
                        self.b.ins().load(I64, fl, a, offs.arr_items.1)
                    }
                };
                self.set(dst, len);
            }
            TupleGet { dst, tup, idx } => {
                self.heap_access(pc, offs.tuple_items, Access::Load(dst), |t, o| {
                    t.fixed_slot(tup, idx, pc, o)
                })
            }
            GetField { dst, obj, idx } => {
                self.heap_access(pc, offs.struct_fields, Access::Load(dst), |t, o| {
                    t.fixed_slot(obj, idx, pc, o)
                })
            }
            SetField { obj, idx, src } => {
                self.heap_access(pc, offs.struct_fields, Access::Store(src), |t, o| {
                    t.fixed_slot(obj, idx, pc, o)
                })
            }

            Throw { .. } | Rethrow { .. } => {
                // Raised by the VM, which owns the handler tables and traces.
                let exit = self.exit_block(Exit::Deopt, pc);
                self.b.ins().jump(exit, &[]);
                return Ok(false);
            }
        }
        Ok(true)
    }
}
