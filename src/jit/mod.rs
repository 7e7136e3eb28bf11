//! The Cranelift JIT tier.
//!
//! Hot functions are translated from register bytecode to Cranelift IR
//! ([`translate`]) and compiled for the host CPU; the register VM stays the
//! deoptimization fallback. The ABI, the deopt protocol, OSR and the GC rules for
//! compiled code are described in `docs/jit.md`; in short:
//!
//! * every compiled function is `fn(base, depth, a_0..a_3) -> status` in the
//!   compiled convention (Winch on x86-64), entered from Rust through the entry
//!   shim ([`EnterFn`]): `base` is the frame's register window, the first four
//!   arguments are in machine registers and the others in the window, the result
//!   is written to register 0, the frame record was pushed by the caller and is
//!   popped by the callee;
//! * calls go through the entry table `entry[fid]` (the interpreter trampoline
//!   [`runtime::jit_tramp`] until the function is compiled);
//! * a side exit writes the live registers back and calls [`runtime::rt_resume`],
//!   which interprets the rest of the frame.

pub mod analysis;
mod layout;
pub mod runtime;
pub mod translate;

#[cfg(test)]
mod tests;

use crate::bytecode::Program;
use crate::vm::Vm;
use bp_runtime::value::Value;
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{ArenaMemoryProvider, JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module};
pub use layout::Offsets;
use std::io::Write;
use std::time::{Duration, Instant};
use translate::{jit_call_conv, jit_signature, reg_args, translate, Addrs, TransCtx, REG_ARGS};
pub use translate::{TransError, MAX_JIT_INSTRS, MAX_JIT_IR};

/// Status: returned normally (result in register 0 of the frame).
pub const ST_RETURN: u64 = 0;
/// Status: an exception is pending in `Vm::pending`.
pub const ST_EXCEPTION: u64 = 1;
/// Status: `exit` or a fatal error, in `Vm::jit_stop`.
pub const ST_STOP: u64 = 2;
/// Status (from `rt_resume` only): re-enter at loop header `(status >> 2) - 1`.
pub const ST_REENTER: u64 = 3;

/// The type of the resume helpers: `(vm, base, pc) -> status`.
pub type JitFn = unsafe extern "C" fn(*mut Vm<'static>, *mut Value, u64) -> u64;

/// The type of the interpreter trampoline [`runtime::jit_tramp`] (reached from
/// compiled code through a shim in the compiled functions' calling convention):
/// `(vm, base, entry_pc, a_0, .., a_3) -> status`, with the register arguments
/// of the call (only the first `min(nparams, REG_ARGS)` are meaningful).
pub type TrampFn = unsafe extern "C" fn(*mut Vm<'static>, *mut Value, u64, u64, u64, u64, u64) -> u64;

/// The type of the entry shim through which Rust calls compiled code:
/// `(code, vm, base, entry_pc) -> status`. It passes `base[0..REG_ARGS]` as the
/// register arguments and calls `code` in the compiled functions' convention
/// (`vm` is not passed on: compiled code has its address as a constant).
/// `entry_pc` is the frame's depth (`Vm::frames.len()`, its record being the
/// last one); with bit 63 set, the frame enters at the loop header in its
/// record's `pc` (OSR).
pub type EnterFn = unsafe extern "C" fn(usize, *mut Vm<'static>, *mut Value, u64) -> u64;

/// A compiled function whose deopts since its compilation reach this count goes
/// back to the interpreter.
const DEOPT_LIMIT: u64 = 64;
/// Compilations per function at most (code is never freed, so recompiling a
/// function that keeps deoptimizing must stop somewhere).
const MAX_VERSIONS: u32 = 3;

/// Options of the JIT tier.
#[derive(Clone, Debug)]
pub struct JitOptions {
    /// Calls before a function is compiled; 0 compiles every function before the
    /// program starts.
    pub threshold: u32,
    /// Loop back-edges before the loop's function is compiled and entered by OSR
    /// (default: 10 × `threshold`, or 1 when `threshold` is 0).
    pub osr_threshold: Option<u32>,
    /// Deopt stress (`BP_DEOPT_STRESS`): 0 off; 1 take every side exit on its
    /// 1st, 2nd, 4th, 8th... visit; 2 take every side exit every time.
    pub stress: u8,
    /// Print statistics at exit (`--jit-stats`).
    pub stats: bool,
    /// Print the Cranelift IR and the machine code of compiled functions.
    pub dump: bool,
    /// Append compiled functions to `/tmp/perf-PID.map`.
    pub perf_map: bool,
    /// Address space reserved for code, in bytes (`crate::limits`).
    pub code_arena: usize,
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions {
            threshold: 100,
            osr_threshold: None,
            stress: 0,
            stats: false,
            dump: false,
            perf_map: false,
            code_arena: crate::limits::CODE_ARENA,
        }
    }
}

impl JitOptions {
    pub fn loop_threshold(&self) -> u32 {
        self.osr_threshold
            .unwrap_or(if self.threshold == 0 {
                1
            } else {
                self.threshold.saturating_mul(10)
            })
            .max(1)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Not compiled (yet).
    Interp,
    Compiled,
    /// Compilation failed; stays interpreted.
    Failed,
    /// Over the size budget ([`MAX_JIT_INSTRS`], [`MAX_JIT_IR`]): stays
    /// interpreted, OSR included (HotSpot and V8 do the same with huge
    /// methods: compile cost grows faster than the function).
    TooBig,
    /// Gave up on its code after too many deopts; may be recompiled when it gets
    /// hot again (up to `MAX_VERSIONS` compilations).
    Disabled,
}

#[derive(Clone, Debug)]
struct FnInfo {
    state: State,
    versions: u32,
    deopts: u64,
    deopts_version: u64,
    osr: u64,
    reentries: u64,
    code_size: usize,
    compile_time: Duration,
    error: Option<String>,
    /// A compiled version side-exited on a valid negative array index: later
    /// versions handle negative indices inline.
    neg_index: bool,
}

/// Totals for `--jit-stats`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JitTotals {
    pub compiled: u64,
    pub failed: u64,
    /// Functions over the size budget, left to the interpreter (not failures).
    pub too_big: u64,
    pub deopts: u64,
    pub osr: u64,
    pub reentries: u64,
    pub disabled: u64,
    pub code_bytes: u64,
    pub compile_time: Duration,
}

/// The JIT state of one run.
pub struct Jit {
    module: JITModule,
    /// The ISA for functions over [`LARGE_FUNCTION_WORK`].
    large_isa: OwnedTargetIsa,
    ctx: Context,
    fctx: FunctionBuilderContext,
    /// Entry table: code address per function (the trampoline if not compiled).
    entry: Box<[usize]>,
    /// The trampoline shim (compiled convention → `jit_tramp`).
    tramp: usize,
    /// The entry shim ([`EnterFn`]).
    enter: usize,
    /// The calling convention of compiled functions.
    jit_cc: cranelift_codegen::isa::CallConv,
    /// The VM's address, read by the trampoline shim (set with `addrs.vm`).
    vm_cell: Box<u64>,
    /// Per function: `nregs | nparams << 16 | void << 24`. Only read by compiled
    /// indirect calls (through its address in `addrs`); owned here to keep it alive.
    #[allow(dead_code)]
    fn_info: Box<[u32]>,
    funcs: Vec<FnInfo>,
    opts: JitOptions,
    addrs: Addrs,
    offs: Offsets,
    /// Deopt-stress visit counters (kept alive: compiled code points into them).
    stress_ctrs: Vec<Box<[u32]>>,
    /// Defined but not yet finalized: (function, module id, code size, name).
    unfinalized: Vec<(usize, FuncId, usize, String)>,
    totals: JitTotals,
    perf_map: Option<std::fs::File>,
    names: u64,
}

/// The host ISA with the flags the JIT uses.
pub fn host_isa() -> Result<OwnedTargetIsa, String> {
    let builder = cranelift_native::builder().map_err(|e| format!("host not supported: {e}"))?;
    builder
        .finish(settings::Flags::new(jit_flags()?))
        .map_err(|e| e.to_string())
}

/// The host ISA for functions over [`LARGE_FUNCTION_WORK`]: the JIT's flags
/// without Cranelift's optimizer (`opt_level = none`).
fn large_function_isa() -> Result<OwnedTargetIsa, String> {
    let builder = cranelift_native::builder().map_err(|e| format!("host not supported: {e}"))?;
    let mut flags = jit_flags()?;
    flags.set("opt_level", "none").map_err(|e| e.to_string())?;
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())
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

/// Cranelift flags for JIT code (also used for the cross-compilation test).
pub fn jit_flags() -> Result<settings::Builder, String> {
    let mut fb = settings::builder();
    for (k, v) in [
        ("opt_level", "speed"),
        ("is_pic", "false"),
        ("use_colocated_libcalls", "false"),
        ("enable_probestack", "false"),
        (
            "enable_verifier",
            if cfg!(debug_assertions) { "true" } else { "false" },
        ),
    ] {
        fb.set(k, v).map_err(|e| format!("cranelift flag {k}: {e}"))?;
    }
    Ok(fb)
}

/// The lowest native stack address compiled code may use, with a margin for the
/// Rust code (interpreter, helpers, collector) that runs between two checks.
pub fn native_stack_limit() -> usize {
    let sp = crate::vm::tier::native_sp();
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain libc queries about the current thread's stack; `attr` is
        // initialised by `pthread_getattr_np` before use and destroyed after.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
                let mut addr: *mut libc::c_void = std::ptr::null_mut();
                let mut size: libc::size_t = 0;
                let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
                libc::pthread_attr_destroy(&mut attr);
                let lo = addr as usize;
                if ok && lo < sp && sp <= lo + size {
                    let margin = (size / 8).clamp(64 << 10, 4 << 20);
                    return lo + margin;
                }
            }
        }
    }
    // Unknown stack bounds: assume a conservative 1 MiB below the current point.
    sp.saturating_sub(1 << 20)
}

/// Write `--jit-dump` text to stderr; a failing stderr is ignored (unlike
/// `eprintln!`, which panics).
fn dump_to_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Reserve `size` bytes of address space for code, or less (down to 4 MiB) when the
/// address-space limit does not leave that much.
fn reserve_code_arena(size: usize) -> Result<ArenaMemoryProvider, String> {
    let mut size = size.max(4 << 20);
    loop {
        match ArenaMemoryProvider::new_with_size(size) {
            Ok(a) => return Ok(a),
            Err(_) if size > 4 << 20 => size /= 2,
            Err(e) => return Err(e.to_string()),
        }
    }
}

impl Jit {
    /// Set up the JIT for `vm` (its register stack, frame stack and globals must
    /// not move afterwards; they are heap buffers that never do).
    pub fn new(vm: &Vm<'_>, opts: JitOptions) -> Result<Jit, String> {
        let isa = host_isa()?;
        let arena = reserve_code_arena(opts.code_arena)?;
        let mut jb = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
        jb.memory_provider(Box::new(arena));
        let mut module = JITModule::new(jb);
        let default_cc = module.isa().default_call_conv();
        let jit_cc = jit_call_conv(default_cc, module.isa().triple().architecture);
        let vm_cell = Box::new(0u64);
        let (tramp, enter) = compile_shims(&mut module, default_cc, jit_cc, &vm_cell)?;
        let program = vm.program;
        let n = program.functions.len();
        let entry = vec![tramp; n].into_boxed_slice();
        let fn_info: Box<[u32]> = program
            .functions
            .iter()
            .map(|f| {
                (f.nregs as u32 & 0xffff) | ((f.nparams as u32) << 16) | ((f.ret_kind.is_none() as u32) << 24)
            })
            .collect();
        let offs = Offsets::compute();
        let stack = vm.stack.as_ptr() as u64;
        let max_depth = vm.max_depth.min(vm.frames.capacity().saturating_sub(1));
        let max_nregs = program
            .functions
            .iter()
            .map(|f| f.nregs as usize)
            .max()
            .unwrap_or(0);
        let addrs = Addrs {
            // Set by the first compilation (the `Vm` may still move until it runs).
            vm: 0,
            frames: vm.frames.as_ptr() as u64,
            stack,
            stack_end: stack + vm.stack.limit() as u64 * 8,
            max_depth: max_depth as u64,
            check_stack: max_depth as u128 * max_nregs as u128 > vm.stack.limit() as u128,
            native_limit: 0,
            globals: vm.globals.as_ptr() as u64,
            entry: entry.as_ptr() as u64,
            fn_info: fn_info.as_ptr() as u64,
            h_resume: runtime::rt_resume as JitFn as usize as u64,
            h_resume_exc: runtime::rt_resume_exc as JitFn as usize as u64,
            h_propagate: runtime::rt_propagate as unsafe extern "C" fn(*mut Vm<'static>, u64) -> u64 as usize
                as u64,
            h_op: runtime::rt_op as JitFn as usize as u64,
            h_overflow: runtime::rt_overflow as unsafe extern "C" fn(*mut Vm<'static>, u64) -> u64 as usize
                as u64,
            h_overflow_at: runtime::rt_overflow_at as unsafe extern "C" fn(*mut Vm<'static>, u64) -> u64
                as usize as u64,
            h_fmod: runtime::rt_fmod as extern "C" fn(f64, f64) -> f64 as usize as u64,
            h_eq_ref: runtime::rt_eq_ref as unsafe extern "C" fn(u64, u64) -> u64 as usize as u64,
            h_bad_reentry: runtime::rt_bad_reentry as unsafe extern "C" fn(*mut Vm<'static>, u64) -> u64
                as usize as u64,
            zero_obj: runtime::ZERO_OBJECT.0.as_ptr() as usize as u64,
            h_builtin: runtime::rt_builtin
                as unsafe extern "C" fn(*mut Vm<'static>, u64, *mut Value, u64, u64) -> u64
                as usize as u64,
            h_obj: runtime::rt_obj as unsafe extern "C" fn(*mut Vm<'static>, u64, *mut Value, u64, u64) -> u64
                as usize as u64,
            h_new: runtime::rt_new
                as unsafe extern "C" fn(
                    *mut Vm<'static>,
                    *const crate::bytecode::CallSite,
                    *mut Value,
                    u64,
                    u64,
                ) -> u64 as usize as u64,
        };
        let funcs = vec![
            FnInfo {
                state: State::Interp,
                versions: 0,
                neg_index: false,
                deopts: 0,
                deopts_version: 0,
                osr: 0,
                reentries: 0,
                code_size: 0,
                compile_time: Duration::ZERO,
                error: None,
            };
            n
        ];
        Ok(Jit {
            large_isa: large_function_isa()?,
            ctx: module.make_context(),
            module,
            fctx: FunctionBuilderContext::new(),
            entry,
            tramp,
            enter,
            jit_cc,
            vm_cell,
            fn_info,
            funcs,
            opts,
            addrs,
            offs,
            stress_ctrs: Vec::new(),
            unfinalized: Vec::new(),
            totals: JitTotals::default(),
            perf_map: None,
            names: 0,
        })
    }

    pub fn options(&self) -> &JitOptions {
        &self.opts
    }

    pub fn totals(&self) -> JitTotals {
        self.totals
    }

    pub(crate) fn entry_table(&self) -> *const usize {
        self.entry.as_ptr()
    }

    pub(crate) fn tramp_addr(&self) -> usize {
        self.tramp
    }

    pub(crate) fn enter_addr(&self) -> usize {
        self.enter
    }

    /// The address of the `Vm` that compiled code was compiled for (0 before the
    /// first compilation).
    pub(crate) fn vm_addr(&self) -> u64 {
        self.addrs.vm
    }

    pub(crate) fn set_native_limit(&mut self, limit: usize) {
        self.addrs.native_limit = limit as u64;
    }

    /// The call threshold was reached: compile unless compiled, failed, or out of
    /// recompilations.
    pub(crate) fn wants_compile(&self, fid: usize) -> bool {
        match self.funcs.get(fid) {
            Some(f) => match f.state {
                State::Interp => true,
                State::Disabled => f.versions < MAX_VERSIONS,
                State::Compiled | State::Failed | State::TooBig => false,
            },
            None => false,
        }
    }

    /// A loop of the function is hot: compile it if it was never compiled.
    pub(crate) fn wants_compile_for_loop(&self, fid: usize) -> bool {
        self.funcs.get(fid).is_some_and(|f| f.state == State::Interp)
    }

    pub(crate) fn note_osr(&mut self, fid: usize) {
        self.totals.osr += 1;
        if let Some(f) = self.funcs.get_mut(fid) {
            f.osr += 1;
        }
    }

    pub(crate) fn note_reentry(&mut self, fid: usize) {
        self.totals.reentries += 1;
        if let Some(f) = self.funcs.get_mut(fid) {
            f.reentries += 1;
        }
    }

    /// A compiled frame of `fid` side-exited at an array access with a negative
    /// index (compiled code speculates that indices are not negative). Its next
    /// version handles them inline; this one is given up at once (outside stress
    /// mode), so that the function gets hot and is recompiled soon.
    pub(crate) fn note_negative_index(&mut self, fid: usize) {
        if let Some(f) = self.funcs.get_mut(fid) {
            if !f.neg_index && self.opts.stress == 0 {
                f.deopts_version = DEOPT_LIMIT;
            }
            f.neg_index = true;
        }
    }

    /// Count a deopt of `fid`; returns whether its code stays in use.
    pub(crate) fn note_deopt(&mut self, fid: usize) -> bool {
        self.totals.deopts += 1;
        let tramp = self.tramp_addr();
        let stress = self.opts.stress != 0;
        let Some(f) = self.funcs.get_mut(fid) else {
            return false;
        };
        f.deopts += 1;
        f.deopts_version = f.deopts_version.saturating_add(1);
        if f.state != State::Compiled {
            return false;
        }
        if !stress && f.deopts_version >= DEOPT_LIMIT {
            f.state = State::Disabled;
            f.deopts_version = 0;
            if let Some(e) = self.entry.get_mut(fid) {
                *e = tramp;
            }
            self.totals.disabled += 1;
            return false;
        }
        true
    }

    /// Translate and compile function `fid` for the `Vm` at `vm` (not yet
    /// callable: see [`Jit::finalize`]). False if it failed or is over the size
    /// budget (the function stays interpreted). Compiled code embeds the VM's address, so every compilation
    /// of a JIT must be for the same address (the VM does not move while it runs;
    /// [`Vm::call_compiled`](crate::vm::Vm) checks it).
    pub(crate) fn compile(&mut self, vm: u64, program: &Program, consts: &[Box<[Value]>], fid: u32) -> bool {
        let t0 = Instant::now();
        let r = if self.addrs.vm == 0 || self.addrs.vm == vm {
            self.addrs.vm = vm;
            *self.vm_cell = vm;
            self.compile_inner(program, consts, fid)
        } else {
            Err(TransError::Failed(
                "internal error: the VM moved since the previous compilation".into(),
            ))
        };
        let dt = t0.elapsed();
        self.totals.compile_time += dt;
        let Some(fi) = self.funcs.get_mut(fid as usize) else {
            return false;
        };
        fi.compile_time += dt;
        match r {
            Ok(()) => true,
            Err(TransError::TooBig(e)) => {
                self.totals.too_big += 1;
                fi.state = State::TooBig;
                fi.error = Some(e);
                false
            }
            Err(TransError::Failed(e)) => {
                self.totals.failed += 1;
                fi.state = State::Failed;
                fi.error = Some(e);
                false
            }
        }
    }

    fn compile_inner(
        &mut self,
        program: &Program,
        consts: &[Box<[Value]>],
        fid: u32,
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
        let empty: Box<[Value]> = Box::new([]);
        let tc = TransCtx {
            program,
            consts: consts.get(fid as usize).unwrap_or(&empty),
            addrs: &self.addrs,
            offs: &self.offs,
            stress: self.opts.stress,
            stress_ctrs,
            call_conv: cc,
            jit_cc: self.jit_cc,
            frontend_config: self.module.isa().frontend_config(),
            little_endian: self.module.isa().endianness() == cranelift_codegen::ir::Endianness::Little,
            neg_index: self.funcs.get(fid as usize).is_some_and(|f| f.neg_index),
        };
        translate(&tc, fid, &mut self.ctx.func, &mut self.fctx)?;
        if self.opts.dump {
            dump_to_stderr(&format!(
                "; ---- {} (fn {fid}) ----\n{}\n",
                f.name,
                self.ctx.func.display()
            ));
            self.ctx.set_disasm(true);
        }
        let blocks = self.ctx.func.layout.blocks().count() as u64;
        if self.ctx.func.dfg.num_insts() as u64 * blocks > LARGE_FUNCTION_WORK {
            self.define_large(id)?;
        } else {
            self.module
                .define_function(id, &mut self.ctx)
                .map_err(|e| format!("{e:?}"))?;
        }
        let size = self
            .ctx
            .compiled_code()
            .map(|c| c.code_info().total_size as usize)
            .unwrap_or(0);
        if self.opts.dump {
            dump_to_stderr(&format!(
                "; ---- {} after Cranelift's optimizations ----\n{}\n",
                f.name,
                self.ctx.func.display()
            ));
            if let Some(text) = self.ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
                dump_to_stderr(&format!(
                    "; ---- machine code of {} ({size} bytes) ----\n{text}\n",
                    f.name
                ));
            }
        }
        self.unfinalized.push((fid as usize, id, size, name));
        Ok(())
    }

    /// Compile the function in `self.ctx` with [`Jit::large_isa`] and define it
    /// as `id` (what `JITModule::define_function` does with the module's ISA).
    fn define_large(&mut self, id: FuncId) -> Result<(), String> {
        let mut cp = cranelift_codegen::control::ControlPlane::default();
        let alignment = self
            .ctx
            .compile(&*self.large_isa, &mut cp)
            .map_err(|e| format!("{:?}", e.inner))?
            .buffer
            .alignment as u64;
        let code = self.ctx.compiled_code().ok_or("no compiled code")?;
        let relocs: Vec<cranelift_module::ModuleReloc> = code
            .buffer
            .relocs()
            .iter()
            .map(|r| cranelift_module::ModuleReloc::from_mach_reloc(r, &self.ctx.func, id))
            .collect();
        let bytes = code.code_buffer().to_vec();
        self.module
            .define_function_bytes(id, alignment, &bytes, &relocs)
            .map_err(|e| format!("{e:?}"))
    }

    /// Make the compiled functions callable and patch their entries.
    pub(crate) fn finalize(&mut self) {
        if self.unfinalized.is_empty() {
            return;
        }
        if let Err(e) = self.module.finalize_definitions() {
            for (fid, _, _, _) in std::mem::take(&mut self.unfinalized) {
                if let Some(fi) = self.funcs.get_mut(fid) {
                    fi.state = State::Failed;
                    fi.error = Some(format!("finalize: {e}"));
                }
                self.totals.failed += 1;
            }
            return;
        }
        for (fid, id, size, name) in std::mem::take(&mut self.unfinalized) {
            let code = self.module.get_finalized_function(id) as usize;
            if let Some(e) = self.entry.get_mut(fid) {
                *e = code;
            }
            if let Some(fi) = self.funcs.get_mut(fid) {
                fi.state = State::Compiled;
                fi.versions += 1;
                fi.deopts_version = 0;
                fi.code_size = size;
            }
            self.totals.compiled += 1;
            self.totals.code_bytes += size as u64;
            if self.opts.perf_map {
                self.write_perf_map(code, size, &name);
            }
        }
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

    /// The `--jit-stats` report (empty unless enabled).
    pub(crate) fn report(&mut self, program: &Program) -> String {
        if !self.opts.stats {
            return String::new();
        }
        let t = &self.totals;
        let mut s = format!(
            "jit: compiled={} failed={} too_big={} deopts={} osr={} compile_ms={:.3} reentries={} disabled={} code_bytes={}\n",
            t.compiled,
            t.failed,
            t.too_big,
            t.deopts,
            t.osr,
            t.compile_time.as_secs_f64() * 1000.0,
            t.reentries,
            t.disabled,
            t.code_bytes
        );
        for (fid, fi) in self.funcs.iter().enumerate() {
            if fi.state == State::Interp && fi.deopts == 0 {
                continue;
            }
            let name = program.functions.get(fid).map(|f| f.name.as_str()).unwrap_or("?");
            let state = match fi.state {
                State::Interp => "interpreted",
                State::Compiled => "compiled",
                State::Failed => "FAILED",
                State::TooBig => "too big, interpreted",
                State::Disabled => "disabled",
            };
            s.push_str(&format!(
                "jit:   fn {fid} {name}: {state} versions={} code={}B deopts={} osr={} reentries={} compile_us={}",
                fi.versions,
                fi.code_size,
                fi.deopts,
                fi.osr,
                fi.reentries,
                fi.compile_time.as_micros()
            ));
            if let Some(e) = &fi.error {
                let what = if fi.state == State::TooBig {
                    "size"
                } else {
                    "error"
                };
                s.push_str(&format!(" {what}: {}", e.replace('\n', " ")));
            }
            s.push('\n');
        }
        s
    }
}

/// Compile the two shims between Rust and compiled code and return their
/// addresses: the trampoline shim (`(base, entry_pc, a0, .., a3)` in the
/// compiled functions' convention, calling [`runtime::jit_tramp`] with the VM
/// read from `vm_cell`) and the
/// entry shim ([`EnterFn`], C convention: loads the register arguments from the
/// window and calls the code in the compiled convention; the C convention makes
/// it save the callee-saved registers that compiled code does not preserve).
fn compile_shims(
    module: &mut JITModule,
    c_cc: cranelift_codegen::isa::CallConv,
    jit_cc: cranelift_codegen::isa::CallConv,
    vm_cell: &u64,
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
                let f = runtime::jit_tramp as TrampFn as usize;
                let fp = b.ins().iconst(I64, f as i64);
                let cell = b.ins().iconst(I64, vm_cell as *const u64 as i64);
                let vm = b.ins().load(I64, MemFlagsData::trusted(), cell, 0);
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
                let call = b.ins().call_indirect(s, p[0], &args);
                b.inst_results(call)[0]
            };
            b.ins().return_(&[st]);
            b.finalize(module.isa().frontend_config());
        }
        module
            .define_function(id, &mut ctx)
            .map_err(|e| format!("{e:?}"))?;
        ids.push(id);
    }
    module.finalize_definitions().map_err(|e| e.to_string())?;
    let tramp = module.get_finalized_function(ids[0]) as usize;
    let enter = module.get_finalized_function(ids[1]) as usize;
    Ok((tramp, enter))
}

/// An ISA for `target`: `host`, `aarch64` (`aarch64-unknown-linux-gnu`) or
/// `x86_64` (`x86_64-unknown-linux-gnu`), with the JIT's flags and the IR
/// verifier on.
pub fn isa_for(target: &str) -> Result<OwnedTargetIsa, String> {
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
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())
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
fn placeholder_addrs() -> Addrs {
    Addrs {
        vm: 0x0900_0000,
        frames: 0x1000_0000,
        stack: 0x2000_0000,
        stack_end: 0x2800_0000,
        max_depth: 200_000,
        check_stack: false,
        native_limit: 0x10_0000,
        globals: 0x3000_0000,
        entry: 0x4000_0000,
        fn_info: 0x5000_0000,
        h_resume: 0x6000_0000,
        h_resume_exc: 0x6000_0100,
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
    }
}

/// Translate and compile every function of `program` for `isa` without running
/// it (addresses of VM structures are placeholders). Used by `bp jit-ir` and by
/// the cross-compilation test.
pub fn compile_all(
    program: &Program,
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    asm: bool,
    stress: u8,
) -> Vec<AotFunction> {
    let offs = Offsets::compute();
    let addrs = placeholder_addrs();
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
            offs: &offs,
            stress,
            stress_ctrs: 0x8000_0000,
            call_conv: cc,
            jit_cc,
            frontend_config: isa.frontend_config(),
            little_endian: isa.endianness() == cranelift_codegen::ir::Endianness::Little,
            neg_index: false,
        };
        let mut ctx = Context::new();
        ctx.func.signature = jit_signature(jit_cc, reg_args(f));
        ctx.func.name = UserFuncName::user(0, fid as u32);
        ctx.set_disasm(asm);
        let mut ir = String::new();
        let result = translate(&tc, fid as u32, &mut ctx.func, &mut fctx).and_then(|()| {
            ir = ctx.func.display().to_string();
            let mut cp = cranelift_codegen::control::ControlPlane::default();
            ctx.compile(isa, &mut cp)
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
/// `target`.
pub fn dump_ir(program: &Program, target: &str, asm: bool) -> Result<String, String> {
    let isa = isa_for(target)?;
    let mut s = String::new();
    let mut failed = 0;
    for f in compile_all(program, &*isa, asm, 0) {
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
