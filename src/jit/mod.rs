//! The Cranelift JIT: compiles register bytecode to machine code.
//!
//! Functions are translated from register bytecode to Cranelift IR
//! ([`translate`]) and compiled for the host CPU. This module knows nothing of the
//! VM: everything compiled code needs from the runtime (status codes, helper
//! signatures and addresses, frame and object offsets) comes in through [`abi`].
//! When to compile, the deopt budget, versions and statistics are the tier's
//! (`crate::tier`), which also implements the helpers. The ABI, the deopt
//! protocol, OSR and the GC rules for compiled code are described in
//! `docs/jit.md`; in short:
//!
//! * every compiled function is `fn(base, depth, a_0..a_3) -> status` in the
//!   compiled convention (Winch on x86-64), entered from Rust through the entry
//!   shim ([`abi::EnterFn`]): `base` is the frame's register window, the first
//!   four arguments are in machine registers and the others in the window, the
//!   result is written to register 0, the frame record was pushed by the caller
//!   and is popped by the callee;
//! * calls go through the entry table `entry[fid]` (the interpreter trampoline,
//!   [`abi::Helpers::tramp`], until the function is compiled);
//! * a side exit writes the live registers back and calls the resume helper
//!   ([`abi::Helpers::resume`]), which interprets the rest of the frame.

pub mod abi;
pub mod analysis;
mod code_memory;
pub mod host;
pub mod inlining;
pub mod loop_align;
pub mod ranges;
pub mod sinking;
pub mod translate;

use crate::bytecode::Program;
use abi::{Helpers, Offsets, RunAddrs};
use bp_runtime::value::Value;
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context as CodegenContext;
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module};
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use translate::{jit_call_conv, jit_signature, reg_args, translate, Addrs, TransCtx, REG_ARGS};
pub use translate::{TransError, MAX_JIT_INSTRS, MAX_JIT_IR};

/// How the JIT compiles (the tier's options that concern code generation).
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Deopt stress (`BP_DEOPT_STRESS`): 0 off; 1 take every side exit on its
    /// 1st, 2nd, 4th, 8th... visit; 2 take every side exit every time.
    pub stress: u8,
    /// Print the Cranelift IR and the machine code of compiled functions: `None`
    /// none, `Some("")` every function, `Some(name)` the functions named `name`.
    pub dump: Option<String>,
    /// Append compiled functions to `/tmp/perf-PID.map`.
    pub perf_map: bool,
    /// Address space reserved for code, in bytes (`crate::limits`).
    pub code_arena: usize,
}

impl CompileOptions {
    /// Whether `--jit-dump` covers the function named `name`.
    fn dumps(&self, name: &str) -> bool {
        self.dump.as_deref().is_some_and(|d| d.is_empty() || d == name)
    }
}

/// The IR text `ir` of `f` with the source position of each instruction that has
/// one (`@pc`, the bytecode index the translator set) appended as `; line:col`.
fn with_source_positions(ir: &str, f: &crate::bytecode::Function) -> String {
    let mut out = String::with_capacity(ir.len() + ir.len() / 4);
    for line in ir.lines() {
        out.push_str(line);
        let pc = line
            .trim_start()
            .strip_prefix('@')
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|hex| usize::from_str_radix(hex, 16).ok());
        if let Some(loc) = pc.and_then(|pc| f.locs.get(pc)) {
            out.push_str(&format!("  ; {}:{}", loc.line, loc.col));
        }
        out.push('\n');
    }
    out
}

/// The `--jit-dump` table that names the addresses compiled code calls and reads
/// (they appear in the IR as `iconst` immediates).
fn helper_legend(a: &Addrs) -> String {
    let named = [
        ("rt_resume (side exit)", a.h_resume),
        ("rt_raise (a guard for an error failed)", a.h_raise),
        ("rt_propagate (exception leaves the frame)", a.h_propagate),
        ("rt_catch (a handler of the frame catches)", a.h_catch),
        ("rt_throw (throw, rethrow)", a.h_throw),
        ("rt_op (one instruction in the VM)", a.h_op),
        ("rt_overflow", a.h_overflow),
        ("rt_overflow_at", a.h_overflow_at),
        ("rt_fmod", a.h_fmod),
        ("rt_eq_ref (deep equality)", a.h_eq_ref),
        ("rt_bad_reentry", a.h_bad_reentry),
        ("rt_builtin", a.h_builtin),
        ("rt_new (allocate an object)", a.h_new),
        ("rt_obj (map/string operations)", a.h_obj),
        ("rt_map_set (a map store's leaf twin)", a.h_map_set),
        ("rt_write_barrier (remember an old object)", a.h_barrier),
        ("the entry table", a.entry),
        ("the trampoline shim (functions not compiled)", a.tramp),
        ("the function table", a.fn_info),
    ];
    let mut s = String::from("; ---- addresses in the code below ----\n");
    for (name, addr) in named {
        // As the IR writes the same immediate (`0x55b4_06c7_de50`).
        let imm = cranelift_codegen::ir::immediates::Imm64::new(addr as i64);
        s.push_str(&format!(";   {imm} = {name}\n"));
    }
    s
}

/// The outcome of making one compiled function callable ([`Jit::finalize`]):
/// its code size in bytes, or why it could not be finalized.
pub type Finalized = (usize, Result<usize, String>);

/// What a version of a function is compiled for, decided by the tier's policy.
#[derive(Clone, Copy, Debug)]
pub struct Version {
    /// Handle negative array indices inline ([`TransCtx::neg_index`]).
    pub neg_index: bool,
    /// The first version, which speculates ([`TransCtx::speculate`]).
    pub speculate: bool,
    /// The loops it can be entered at ([`TransCtx::osr_loops`]).
    pub osr_loops: u64,
}

/// A function compiled and not yet made callable ([`Jit::finalize`]).
struct Unfinalized {
    fid: usize,
    id: FuncId,
    /// Where the function's code starts in its definition: after the
    /// padding that aligns its innermost loop ([`loop_align`]).
    entry_offset: usize,
    size: usize,
    name: String,
    osr_loops: u64,
}

/// The code generator of one run: the Cranelift module, the shims between Rust
/// and compiled code, and the entry table.
pub struct Jit {
    module: JITModule,
    /// The ISAs functions are compiled with ([`Isas::for_function`]; the
    /// module's own is [`Isas::optimizing`]).
    isas: Isas,
    ctx: CodegenContext,
    fctx: FunctionBuilderContext,
    /// Entry table: code address per function (the trampoline if not compiled).
    entry: Arc<EntryTable>,
    /// The trampoline shim (compiled convention → `Helpers::tramp`).
    tramp: usize,
    /// The entry shim ([`abi::EnterFn`]).
    enter: usize,
    /// The calling convention of compiled functions.
    jit_cc: cranelift_codegen::isa::CallConv,
    /// Per function: `nregs | nparams << 16 | void << 24`. Only read by compiled
    /// indirect calls (through its address in `addrs`); owned here to keep it alive.
    #[allow(dead_code)]
    fn_info: Box<[u32]>,
    opts: CompileOptions,
    /// `--jit-dump` printed the table of helper addresses already.
    legend_shown: bool,
    addrs: Addrs,
    offs: Offsets,
    /// Deopt-stress visit counters (kept alive: compiled code points into them).
    stress_ctrs: Vec<Box<[u32]>>,
    /// Defined but not yet finalized.
    unfinalized: Vec<Unfinalized>,
    perf_map: Option<std::fs::File>,
    names: u64,
}

/// The two ISAs of one target that the JIT compiles with: with Cranelift's
/// optimizer and without it (`opt_level = none`); [`optimize`] decides per
/// function.
pub struct Isas {
    pub optimizing: OwnedTargetIsa,
    pub unoptimized: OwnedTargetIsa,
}

impl Isas {
    /// Both ISAs of `builder`'s target with the shared `flags` (whose
    /// `opt_level` is that of the optimizing one).
    fn new(builder: cranelift_codegen::isa::Builder, mut flags: settings::Builder) -> Result<Isas, String> {
        let optimizing = builder
            .finish(settings::Flags::new(flags.clone()))
            .map_err(|e| e.to_string())?;
        flags.set("opt_level", "none").map_err(|e| e.to_string())?;
        let unoptimized = builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())?;
        Ok(Isas {
            optimizing,
            unoptimized,
        })
    }

    /// The ISA to compile `func`, the translation of a function with `loops`
    /// loops, with.
    pub fn for_function(&self, loops: u16, func: &cranelift_codegen::ir::Function) -> &OwnedTargetIsa {
        if optimize(loops, func) {
            &self.optimizing
        } else {
            &self.unoptimized
        }
    }
}

/// The host's ISAs with the flags the JIT uses.
pub fn host_isas() -> Result<Isas, String> {
    let builder = host::isa_builder()?;
    Isas::new(builder, jit_flags()?)
}

/// Functions whose translation has more Cranelift instructions × blocks than
/// this are compiled without Cranelift's e-graph optimizer. Its value numbering
/// finds the dominator-tree depth of every pure value by a linear scan of the
/// path from the root (`depth_of_block_in_gvn_map`), so its time grows with
/// values × dominator-tree depth (at most the blocks): quadratically on an
/// `elif` chain or long straight-line code with side exits (measured in a debug
/// build: an `elif` chain of 4x the branches took 11x as long). Such functions
/// lose constant folding, value numbering and redundant-load elimination, not
/// correctness; where the dominator tree is shallow the optimizer stays (it
/// saves the register allocator more than it costs: the `wide` shape of
/// docs/jit.md compiles in half the time with it). The largest function of the
/// test programs has 3,901 × 754 (2.9 M; deopt stress: 8,188 × 1,486).
pub const LARGE_FUNCTION_WORK: u64 = 1 << 26;

/// Whether a function goes through Cranelift's e-graph optimizer: only if it
/// has loops (`loops`: its bytecode's; inlined callees are straight-line code),
/// and its IR `func` (instructions × blocks) is within [`LARGE_FUNCTION_WORK`].
///
/// In loop-free code the optimizer has nothing to hoist, and the translator
/// already folds what it can: measured on the 16 benchmarks (2026-12-04,
/// interleaved, median of 5), run time is unchanged, and the loop-free
/// functions compile in about 25 % less time (`method_dispatch`'s
/// `Op.apply` 193 → 143 µs, `closures`' lambdas 300–500 → 240–330 µs, `a`
/// of `spectral_norm` 320 → 270 µs). Functions with loops keep it:
/// without it, `mandelbrot`, `nbody` and `collatz` ran 10 % slower.
pub fn optimize(loops: u16, func: &cranelift_codegen::ir::Function) -> bool {
    let insts = func.dfg.num_insts() as u64;
    let blocks = func.layout.blocks().count() as u64;
    loops > 0 && insts.saturating_mul(blocks) <= LARGE_FUNCTION_WORK
}

/// Cranelift flags for JIT code (also used for the cross-compilation test).
pub fn jit_flags() -> Result<settings::Builder, String> {
    let mut fb = settings::builder();
    for (k, v) in [
        ("opt_level", "speed"),
        ("is_pic", "false"),
        ("use_colocated_libcalls", "false"),
        ("enable_probestack", "false"),
        // Compiled code keeps the running VM (the context) in the pinned register
        // (r15 on x86-64, x21 on AArch64): code is shared by the VMs of all
        // threads, so it cannot embed the VM's address.
        ("enable_pinned_reg", "true"),
        // The block starts, for aligning loops (`loop_align::padding`).
        ("machine_code_cfg_info", "true"),
        (
            "enable_verifier",
            if cfg!(debug_assertions) { "true" } else { "false" },
        ),
    ] {
        fb.set(k, v).map_err(|e| format!("cranelift flag {k}: {e}"))?;
    }
    Ok(fb)
}

/// Write `--jit-dump` text to stderr; a failing stderr is ignored (unlike
/// `eprintln!`, which panics).
fn dump_to_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

impl Jit {
    /// Set up the JIT for `program`, run by VMs of the sizes `run`, with the
    /// runtime's `helpers` and frame layout `offs`; compiled functions go into
    /// `entry` (one slot per function of `program`).
    pub fn new(
        program: &Program,
        entry: Arc<EntryTable>,
        run: RunAddrs,
        offs: Offsets,
        helpers: &Helpers,
        opts: CompileOptions,
    ) -> Result<Jit, String> {
        let isas = host_isas()?;
        let isa = isas.optimizing.clone();
        let arena = code_memory::reserve(opts.code_arena, crate::limits::MIN_CODE_ARENA)?;
        let mut jb = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
        jb.memory_provider(arena);
        let mut module = JITModule::new(jb);
        let default_cc = module.isa().default_call_conv();
        let jit_cc = jit_call_conv(default_cc, module.isa().triple().architecture);
        let (tramp, enter) =
            compile_shims(&mut module, &*isas.unoptimized, default_cc, jit_cc, helpers.tramp)?;
        let n = program.functions.len();
        if entry.len() != n {
            return Err("internal error: an entry table of the wrong size".into());
        }
        let fn_info: Box<[u32]> = program
            .functions
            .iter()
            .map(|f| {
                (f.nregs as u32 & 0xffff) | ((f.nparams as u32) << 16) | ((f.ret_kind.is_none() as u32) << 24)
            })
            .collect();
        let max_nregs = program
            .functions
            .iter()
            .map(|f| f.nregs as usize)
            .max()
            .unwrap_or(0);
        let addrs = Addrs {
            check_stack: run.max_depth as u128 * max_nregs as u128 > run.stack_slots as u128,
            entry: entry.as_ptr() as u64,
            tramp: tramp as u64,
            fn_info: fn_info.as_ptr() as u64,
            h_resume: helpers.resume as usize as u64,
            h_raise: helpers.raise as usize as u64,
            h_propagate: helpers.propagate as usize as u64,
            h_catch: helpers.catch as usize as u64,
            h_throw: helpers.throw as usize as u64,
            h_op: helpers.op as usize as u64,
            h_overflow: helpers.overflow as usize as u64,
            h_overflow_at: helpers.overflow_at as usize as u64,
            h_fmod: helpers.fmod as usize as u64,
            h_eq_ref: helpers.eq_ref as usize as u64,
            h_bad_reentry: helpers.bad_reentry as usize as u64,
            zero_obj: helpers.zero_obj.as_ptr() as usize as u64,
            h_builtin: helpers.builtin as usize as u64,
            h_obj: helpers.obj as usize as u64,
            h_map_set: helpers.map_set as usize as u64,
            h_barrier: helpers.write_barrier as usize as u64,
            h_new: helpers.new as usize as u64,
            short_strs: bp_runtime::heap::abi::short_strs(),
        };
        Ok(Jit {
            isas,
            ctx: module.make_context(),
            module,
            fctx: FunctionBuilderContext::new(),
            entry,
            tramp,
            enter,
            jit_cc,
            fn_info,
            opts,
            addrs,
            offs,
            stress_ctrs: Vec::new(),
            legend_shown: false,
            unfinalized: Vec::new(),
            perf_map: None,
            names: 0,
        })
    }

    /// The entry of functions that are not compiled (the trampoline shim).
    pub fn tramp_addr(&self) -> usize {
        self.tramp
    }

    /// The entry shim ([`abi::EnterFn`]).
    pub fn enter_addr(&self) -> usize {
        self.enter
    }

    /// Whether `fid` has code, callable or waiting for [`Jit::finalize`], with
    /// the entries of (at least) `osr_loops`.
    pub fn has_code(&self, fid: usize, osr_loops: u64) -> bool {
        let has = |loops: u64| loops & osr_loops == osr_loops;
        (self.entry.get(fid) != abi::NOT_COMPILED && has(self.entry.osr_loops(fid)))
            || self.unfinalized.iter().any(|u| u.fid == fid && has(u.osr_loops))
    }

    /// Send the calls of `fid` back to the trampoline (its code stays allocated:
    /// frames may still be running it).
    pub fn reset_entry(&mut self, fid: usize) {
        self.entry.reset(fid);
    }

    /// Translate and compile `version` of function `fid` (not yet callable:
    /// see [`Jit::finalize`]); `consts` are its constants (immortal strings
    /// shared by every VM of the run). The code finds the running VM in the
    /// pinned register (the context), so every VM of the run (one per thread)
    /// can run it.
    pub fn compile(
        &mut self,
        program: &Program,
        consts: &[Value],
        fid: u32,
        version: Version,
    ) -> Result<(), TransError> {
        let f = program.functions.get(fid as usize).ok_or("no such function")?;
        self.module.clear_context(&mut self.ctx);
        let cc = self.module.isa().default_call_conv();
        let sig = jit_signature(self.jit_cc, reg_args(f));
        self.names += 1;
        let name = format!("bp:{}#{}", f.name, self.names);
        let id = self
            .module
            .declare_function(&name, Linkage::Local, &sig)
            .map_err(|e| e.to_string())?;
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, id.as_u32());
        let stress_ctrs = if self.opts.stress == 1 {
            let ctrs = vec![0u32; f.code.len().max(1)].into_boxed_slice();
            let p = ctrs.as_ptr() as u64;
            self.stress_ctrs.push(ctrs);
            p
        } else {
            0
        };
        let tc = TransCtx {
            program,
            consts,
            addrs: &self.addrs,
            offs: &self.offs,
            stress: self.opts.stress,
            stress_ctrs,
            call_conv: cc,
            jit_cc: self.jit_cc,
            frontend_config: self.module.isa().frontend_config(),
            little_endian: self.module.isa().endianness() == cranelift_codegen::ir::Endianness::Little,
            neg_index: version.neg_index,
            speculate: version.speculate,
            osr_loops: version.osr_loops,
            source_positions: self.opts.dumps(&f.name),
        };
        translate(&tc, fid, &mut self.ctx.func, &mut self.fctx)?;
        let dump = self.opts.dumps(&f.name);
        if dump {
            if !self.legend_shown {
                self.legend_shown = true;
                dump_to_stderr(&helper_legend(&self.addrs));
            }
            dump_to_stderr(&format!(
                "; ---- {} (fn {fid}) ----\n{}\n",
                f.name,
                with_source_positions(&self.ctx.func.display().to_string(), f)
            ));
            self.ctx.set_disasm(true);
        }
        let isa = self.isas.for_function(f.num_loops, &self.ctx.func).clone();
        let entry_offset = define_with_isa(&mut self.module, &mut self.ctx, &*isa, id)?;
        let size = self
            .ctx
            .compiled_code()
            .map(|c| c.code_info().total_size as usize)
            .unwrap_or(0);
        if dump {
            dump_to_stderr(&format!(
                "; ---- {} after Cranelift's optimizations ----\n{}\n",
                f.name,
                with_source_positions(&self.ctx.func.display().to_string(), f)
            ));
            if let Some(text) = self.ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
                dump_to_stderr(&format!(
                    "; ---- machine code of {} ({size} bytes) ----\n{text}\n",
                    f.name
                ));
            }
        }
        self.unfinalized.push(Unfinalized {
            fid: fid as usize,
            id,
            entry_offset,
            size,
            name,
            osr_loops: version.osr_loops,
        });
        Ok(())
    }

    /// Make the compiled functions callable and patch their entries. Returns,
    /// per function compiled since the last call, its code size or the error.
    pub fn finalize(&mut self) -> Vec<Finalized> {
        if self.unfinalized.is_empty() {
            return Vec::new();
        }
        if let Err(e) = self.module.finalize_definitions() {
            let msg = format!("finalize: {e}");
            return std::mem::take(&mut self.unfinalized)
                .into_iter()
                .map(|u| (u.fid, Err(msg.clone())))
                .collect();
        }
        let mut done = Vec::with_capacity(self.unfinalized.len());
        for u in std::mem::take(&mut self.unfinalized) {
            let code = self.module.get_finalized_function(u.id) as usize + u.entry_offset;
            self.entry.set(u.fid, code, u.osr_loops);
            if self.opts.perf_map {
                self.write_perf_map(code, u.size, &u.name);
            }
            done.push((u.fid, Ok(u.size)));
        }
        done
    }

    fn write_perf_map(&mut self, code: usize, size: usize, name: &str) {
        if self.perf_map.is_none() {
            let path = format!("/tmp/perf-{}.map", std::process::id());
            self.perf_map = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok();
        }
        if let Some(f) = self.perf_map.as_mut() {
            let _ = writeln!(f, "{code:x} {size:x} {name}");
            let _ = f.flush();
        }
    }
}

/// The entry table: per function, the address of its compiled code or
/// [`abi::NOT_COMPILED`]. Made by the tier before any JIT exists (the VMs compare
/// its slots with `NOT_COMPILED` before every call), written by [`Jit::finalize`]
/// and [`Jit::reset_entry`], read by every thread's VM and compiled code (a slot
/// is one aligned word: a reader sees the old or the new address, both valid).
///
/// Beside each slot, the loops the newest code of the function can be entered
/// at ([`Version::osr_loops`]). A later version's set contains an earlier
/// one's (the policy only adds loops), and [`EntryTable::set`] stores it after
/// the code: so a reader that loads the set first and then the slot gets code
/// with at least those entries ([`EntryTable::osr_loops`]).
pub struct EntryTable {
    code: Box<[AtomicUsize]>,
    osr_loops: Box<[AtomicU64]>,
}

impl EntryTable {
    /// A table of `n` functions, none compiled.
    pub fn new(n: usize) -> Arc<EntryTable> {
        Arc::new(EntryTable {
            code: (0..n).map(|_| AtomicUsize::new(abi::NOT_COMPILED)).collect(),
            osr_loops: (0..n).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }

    /// Slot 0, for the VMs and compiled code (`AtomicUsize` has `usize`'s layout).
    pub fn as_ptr(&self) -> *const usize {
        self.code.as_ptr().cast()
    }

    /// The slot of `fid` (`NOT_COMPILED` for an unknown function).
    pub fn get(&self, fid: usize) -> usize {
        self.code
            .get(fid)
            .map_or(abi::NOT_COMPILED, |e| e.load(Ordering::Acquire))
    }

    /// The loops that the code in `fid`'s slot, read after this, can be
    /// entered at (at least: a newer version may have more).
    pub fn osr_loops(&self, fid: usize) -> u64 {
        self.osr_loops.get(fid).map_or(0, |e| e.load(Ordering::Acquire))
    }

    /// Make `code`, which can be entered at the loops `osr_loops`, `fid`'s.
    fn set(&self, fid: usize, code: usize, osr_loops: u64) {
        if let (Some(c), Some(o)) = (self.code.get(fid), self.osr_loops.get(fid)) {
            c.store(code, Ordering::Release);
            o.store(osr_loops, Ordering::Release);
        }
    }

    /// Send `fid`'s calls back to the trampoline (its set of loops stays: it
    /// describes no code until the slot is set again, and only grows).
    fn reset(&self, fid: usize) {
        if let Some(c) = self.code.get(fid) {
            c.store(abi::NOT_COMPILED, Ordering::Release);
        }
    }
}

/// Compile the two shims between Rust and compiled code and return their
/// addresses: the trampoline shim (`(base, entry_pc, a0, .., a3)` in the
/// compiled functions' convention, calling the trampoline helper `tramp` with
/// the context read from the pinned register) and the entry shim ([`abi::EnterFn`], C convention: loads the register arguments from the
/// window and calls the code in the compiled convention; the C convention makes
/// it save the callee-saved registers that compiled code does not preserve).
/// They are compiled with `isa`, the one without Cranelift's optimizer: a call
/// and a return each need none, and as the first compilation of every run they
/// made the JIT's setup 60-85 µs slower through it (docs/jit.md).
fn compile_shims(
    module: &mut JITModule,
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    c_cc: cranelift_codegen::isa::CallConv,
    jit_cc: cranelift_codegen::isa::CallConv,
    tramp: abi::TrampFn,
) -> Result<(usize, usize), String> {
    use cranelift_codegen::ir::{types::I64, AbiParam, InstBuilder, MemFlagsData, Signature};
    use cranelift_frontend::FunctionBuilder;
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let full = jit_signature(jit_cc, REG_ARGS);
    let mut c_full = Signature::new(c_cc);
    c_full.params.extend([AbiParam::new(I64); 3 + REG_ARGS]);
    c_full.returns.push(AbiParam::new(I64));
    let mut enter_sig = Signature::new(c_cc);
    enter_sig.params.extend([AbiParam::new(I64); 4]);
    enter_sig.returns.push(AbiParam::new(I64));
    let mut ids = Vec::new();
    for (name, sig) in [("bp:tramp", &full), ("bp:enter", &enter_sig)] {
        let id = module
            .declare_function(name, Linkage::Local, sig)
            .map_err(|e| e.to_string())?;
        module.clear_context(&mut ctx);
        ctx.func.signature = sig.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let blk = b.create_block();
            b.append_block_params_for_function_params(blk);
            b.switch_to_block(blk);
            b.seal_block(blk);
            let p = b.block_params(blk).to_vec();
            let st = if name == "bp:tramp" {
                let s = b.import_signature(c_full.clone());
                let f = tramp as usize;
                let fp = b.ins().iconst(I64, f as i64);
                let vm = b.ins().get_pinned_reg(I64);
                let mut args = vec![vm];
                args.extend_from_slice(&p);
                let call = b.ins().call_indirect(s, fp, &args);
                b.inst_results(call)[0]
            } else {
                let s = b.import_signature(full.clone());
                let mut args = vec![p[2], p[3]];
                for i in 0..REG_ARGS {
                    // In bounds: the register stack has a full window of slack.
                    let v = b.ins().load(I64, MemFlagsData::trusted(), p[2], i as i32 * 8);
                    args.push(v);
                }
                // The pinned register is callee-saved for our Rust caller, but
                // Cranelift does not save it: keep the caller's value (also a
                // VM's, when compiled code re-enters through a helper) and put
                // it back before returning.
                let saved = b.ins().get_pinned_reg(I64);
                b.ins().set_pinned_reg(p[1]);
                let call = b.ins().call_indirect(s, p[0], &args);
                let st = b.inst_results(call)[0];
                b.ins().set_pinned_reg(saved);
                st
            };
            b.ins().return_(&[st]);
            b.finalize(module.isa().frontend_config());
        }
        let entry_offset = define_with_isa(module, &mut ctx, isa, id)?;
        ids.push((id, entry_offset));
    }
    module.finalize_definitions().map_err(|e| e.to_string())?;
    let tramp = module.get_finalized_function(ids[0].0) as usize + ids[0].1;
    let enter = module.get_finalized_function(ids[1].0) as usize + ids[1].1;
    Ok((tramp, enter))
}

/// Compile the function in `ctx` with `isa` and define it in `module` as `id`:
/// what `JITModule::define_function` does, with an ISA other than the module's,
/// and with padding before the code that aligns its innermost loop
/// ([`loop_align`]). Returns where the code starts in the definition.
fn define_with_isa(
    module: &mut JITModule,
    ctx: &mut cranelift_codegen::Context,
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    id: FuncId,
) -> Result<usize, String> {
    let mut cp = cranelift_codegen::control::ControlPlane::default();
    ctx.compile(isa, &mut cp).map_err(|e| format!("{:?}", e.inner))?;
    let code = ctx.compiled_code().ok_or("no compiled code")?;
    let pad = loop_align::padding(code);
    let mut alignment = code.buffer.alignment;
    if pad > 0 {
        alignment = alignment.max(loop_align::LOOP_ALIGNMENT);
    }
    let relocs: Vec<cranelift_module::ModuleReloc> = code
        .buffer
        .relocs()
        .iter()
        .map(|r| {
            let mut r = cranelift_module::ModuleReloc::from_mach_reloc(r, &ctx.func, id);
            loop_align::shift_reloc(&mut r, id, pad);
            r
        })
        .collect();
    let bytes = loop_align::padded(code.code_buffer(), pad);
    module
        .define_function_bytes(id, u64::from(alignment), &bytes, &relocs)
        .map_err(|e| format!("{e:?}"))?;
    Ok(pad as usize)
}

/// The ISAs for `target`: `host`, `aarch64` (`aarch64-unknown-linux-gnu`) or
/// `x86_64` (`x86_64-unknown-linux-gnu`), with the JIT's flags and the IR
/// verifier on.
pub fn isas_for(target: &str) -> Result<Isas, String> {
    let mut flags = jit_flags()?;
    flags.set("enable_verifier", "true").map_err(|e| e.to_string())?;
    let builder = match target {
        "host" => cranelift_native::builder().map_err(|e| e.to_string())?,
        "aarch64" | "arm64" | "x86_64" | "x86-64" => {
            let triple = if target.starts_with("aarch") || target == "arm64" {
                "aarch64-unknown-linux-gnu"
            } else {
                "x86_64-unknown-linux-gnu"
            };
            let t: target_lexicon::Triple = triple.parse().map_err(|e| format!("{e}"))?;
            cranelift_codegen::isa::lookup(t).map_err(|e| e.to_string())?
        }
        other => return Err(format!("unknown target '{other}' (host, aarch64, x86_64)")),
    };
    Isas::new(builder, flags)
}

/// The result of compiling one function ahead of time (no VM, not runnable).
pub struct AotFunction {
    pub fid: u32,
    pub name: String,
    /// Code size in bytes, or the translation/compilation error (or the
    /// function is over the size budget).
    pub result: Result<usize, TransError>,
    pub ir: String,
    pub asm: String,
}

/// Addresses for [`compile_all`], which has no VM: plausible, and distinct so
/// that each embedded immediate in an IR dump names one structure or helper.
pub(crate) fn placeholder_addrs() -> Addrs {
    Addrs {
        check_stack: false,
        entry: 0x4000_0000,
        tramp: 0x4800_0000,
        fn_info: 0x5000_0000,
        h_resume: 0x6000_0000,
        h_catch: 0x6000_0100,
        h_propagate: 0x6000_0200,
        h_op: 0x6000_0300,
        h_overflow: 0x6000_0400,
        h_fmod: 0x6000_0500,
        h_eq_ref: 0x6000_0600,
        h_bad_reentry: 0x6000_0700,
        h_builtin: 0x6000_0800,
        h_overflow_at: 0x6000_0900,
        h_new: 0x6000_0a00,
        h_obj: 0x6000_0b00,
        zero_obj: 0x6000_0c00,
        h_map_set: 0x6000_0e00,
        short_strs: 0x6000_0f00,
        h_barrier: 0x6000_1000,
        h_throw: 0x6000_1100,
        h_raise: 0x6000_1200,
    }
}

/// Translate and compile every function of `program` for the target of `isas`
/// without running it (addresses of VM structures are placeholders), each with
/// the ISA `bp run` would use ([`Isas::for_function`]). Used by `bp jit-ir` and
/// by the cross-compilation test.
pub fn compile_all(
    program: &Program,
    isas: &Isas,
    asm: bool,
    stress: u8,
    offs: &Offsets,
) -> Vec<AotFunction> {
    let addrs = placeholder_addrs();
    let isa = &*isas.optimizing;
    let cc = isa.default_call_conv();
    let jit_cc = jit_call_conv(cc, isa.triple().architecture);
    let mut fctx = FunctionBuilderContext::new();
    let mut out = Vec::new();
    for (fid, f) in program.functions.iter().enumerate() {
        let consts: Vec<Value> = (0..f.consts.len())
            .map(|k| Value(0x7000_0000 + 8 * k as u64))
            .collect();
        let tc = TransCtx {
            program,
            consts: &consts,
            addrs: &addrs,
            offs,
            stress,
            stress_ctrs: 0x8000_0000,
            call_conv: cc,
            jit_cc,
            frontend_config: isa.frontend_config(),
            little_endian: isa.endianness() == cranelift_codegen::ir::Endianness::Little,
            neg_index: false,
            speculate: true,
            osr_loops: abi::ALL_LOOPS,
            source_positions: false,
        };
        let mut ctx = CodegenContext::new();
        ctx.func.signature = jit_signature(jit_cc, reg_args(f));
        ctx.func.name = UserFuncName::user(0, fid as u32);
        ctx.set_disasm(asm);
        let mut ir = String::new();
        let result = translate(&tc, fid as u32, &mut ctx.func, &mut fctx).and_then(|()| {
            ir = ctx.func.display().to_string();
            let mut cp = cranelift_codegen::control::ControlPlane::default();
            ctx.compile(&**isas.for_function(f.num_loops, &ctx.func), &mut cp)
                .map(|c| c.code_info().total_size as usize)
                .map_err(|e| TransError::Failed(format!("{:?}", e.inner)))
        });
        let asm_text = ctx
            .compiled_code()
            .and_then(|c| c.vcode.clone())
            .unwrap_or_default();
        out.push(AotFunction {
            fid: fid as u32,
            name: f.name.clone(),
            result,
            ir,
            asm: asm_text,
        });
    }
    out
}

/// `bp jit-ir`: the IR (and machine code) of every function, compiled for
/// `target` with the frame offsets `offs`.
pub fn dump_ir(program: &Program, target: &str, asm: bool, offs: &Offsets) -> Result<String, String> {
    let isas = isas_for(target)?;
    let isa = &*isas.optimizing;
    let mut s = String::new();
    let mut failed = 0;
    for f in compile_all(program, &isas, asm, 0, offs) {
        match &f.result {
            Ok(size) => s.push_str(&format!(
                "; fn {} {}: {size} bytes of {} code\n",
                f.fid,
                f.name,
                isa.name()
            )),
            // Not an error: `bp run` leaves such a function to the interpreter.
            Err(TransError::TooBig(e)) => s.push_str(&format!(
                "; fn {} {}: not compiled, over the JIT's size budget ({e}); it runs interpreted\n",
                f.fid, f.name
            )),
            Err(e) => {
                failed += 1;
                s.push_str(&format!("; fn {} {}: FAILED: {e}\n", f.fid, f.name));
            }
        }
        s.push_str(&f.ir);
        if asm && !f.asm.is_empty() {
            s.push_str(&format!("; machine code\n{}\n", f.asm));
        }
        s.push('\n');
    }
    if failed > 0 {
        return Err(format!("{failed} function(s) failed to compile\n{s}"));
    }
    Ok(s)
}
