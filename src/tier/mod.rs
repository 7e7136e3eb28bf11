//! The tier layer: connects the interpreter (`crate::vm`) and the compiler
//! (`crate::jit`), and is the only module that knows both (`docs/architecture.md`,
//! "Layers").
//!
//! * [`JitOptions`] is the VM's [`TierFactory`]: it attaches a [`Tier`] to a VM.
//! * [`Tier`] implements the VM's [`TierHooks`]: when to compile (thresholds, the
//!   deopt budget and versions in [`policy`]), entering compiled code (calls and
//!   OSR at loop headers), and the `--jit-stats` report.
//! * [`runtime`]: the `extern "C"` helpers that compiled code calls, with the VM as
//!   the ABI's opaque context; [`exec`]: the single-instruction executor behind
//!   `rt_op`.
//! * [`background`]: the run's compile worker, which compiles the functions
//!   the VMs found hot while they go on interpreting (unless `--jit-sync`).
//!
//! A function over the JIT's size budget (`jit::MAX_JIT_INSTRS` bytecode or
//! `jit::MAX_JIT_IR` Cranelift instructions) is never compiled: the policy marks
//! it too big, so the hooks leave it to the interpreter whether it gets hot by
//! calls, by a loop (no OSR) or with `--jit-threshold 0`.

mod background;
mod exec;
mod placement;
pub mod policy;
pub mod runtime;

#[cfg(test)]
mod tests;

use crate::bytecode::{Instr, Program};
use crate::jit::abi::{self, Context, EnterFn, FrameLayout, Offsets, RunAddrs, RunOffsets};
use crate::jit::{CompileOptions, EntryTable, Jit};
use crate::native_stack::{native_sp, native_stack_limit};
use crate::vm::frame::{Frame, FrameStack};
use crate::vm::tiering::RunView;
use crate::vm::tiering::{Attached, LoopAction, Outcome, TierFactory, TierHooks};
use crate::vm::{Stop, Vm};
pub use policy::JitTotals;
use policy::{Deopt, Policy};
use std::cell::Cell;
use std::mem::offset_of;
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Options of the JIT tier (`bp run --jit-*`).
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
    /// Print the Cranelift IR and the machine code of compiled functions: all
    /// with `Some("")`, those named so with `Some(name)`.
    pub dump: Option<String>,
    /// Append compiled functions to `/tmp/perf-PID.map`.
    pub perf_map: bool,
    /// Print one line per JIT event to stderr as it happens (`--jit-log`).
    pub log: bool,
    /// Address space reserved for code, in bytes (`crate::limits`).
    pub code_arena: usize,
    /// Compile on the program's thread, which waits (`--jit-sync`), instead
    /// of on the run's compile worker ([`background`]).
    pub sync: bool,
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions {
            threshold: 100,
            osr_threshold: None,
            stress: 0,
            stats: false,
            dump: None,
            perf_map: false,
            log: false,
            code_arena: crate::limits::CODE_ARENA,
            sync: false,
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

impl JitOptions {
    /// Whether hot functions are compiled on the run's compile worker while
    /// the program goes on ([`background`]). Not with `--jit-sync`, nor when
    /// every function is compiled at start, nor under deopt stress, whose
    /// runs must take their side exits in a reproducible order.
    fn background(&self) -> bool {
        !self.sync && self.threshold != 0 && self.stress == 0
    }

    /// These options as the VM's tier factory (`VmOptions::tier`). The VMs of
    /// one run (one per thread) that it attaches to share one JIT: code compiled
    /// for one thread is called by all (see [`JitFactory`]).
    pub fn factory(self) -> Arc<dyn TierFactory> {
        Arc::new(JitFactory {
            opts: self,
            shared: None,
        })
    }

    fn compile_options(&self) -> CompileOptions {
        CompileOptions {
            stress: self.stress,
            dump: self.dump.clone(),
            perf_map: self.perf_map,
            code_arena: self.code_arena,
        }
    }
}

/// A tier factory: attaches a [`Tier`] with a JIT of its own to a VM, or, made
/// by a tier for the threads of its VM ([`TierHooks::thread_factory`]), one that
/// shares that tier's JIT.
#[derive(Debug)]
pub struct JitFactory {
    opts: JitOptions,
    /// The JIT to share (for VMs of the same program, alive while this is).
    shared: Option<Arc<SharedJit>>,
}

/// A JIT and its policy, shared by the VMs of the threads of one run: compiled
/// code finds the running VM in the pinned register (docs/jit.md), so a function
/// is compiled once and called by every thread; the policy's state (versions,
/// deopt budgets, statistics) is the run's. Hotness counters stay per VM.
pub struct SharedJit {
    core: Arc<JitCore>,
    /// The compile worker ([`background`]), started by the first function
    /// queued.
    worker: Mutex<WorkerState>,
}

/// Whether a run's compile worker runs.
enum WorkerState {
    NotStarted,
    Running(background::Worker),
    /// It could not be started: the VMs compile on their own threads.
    Unavailable,
}

impl Drop for SharedJit {
    /// Stop the compile worker before the VMs, and the program they borrow,
    /// are gone.
    fn drop(&mut self) {
        let worker = std::mem::replace(
            self.worker.get_mut().unwrap_or_else(|e| e.into_inner()),
            WorkerState::Unavailable,
        );
        if let WorkerState::Running(w) = worker {
            w.stop();
        }
    }
}

/// The run's JIT and policy: what the VMs and the compile worker share.
pub(crate) struct JitCore {
    /// The JIT, set up by the first compilation (a program that never gets hot
    /// never pays for the ISA, the code arena and the shims).
    jit: Mutex<Option<Jit>>,
    policy: Mutex<Policy>,
    /// The entry table, from the start (the VMs read it before every call).
    entry: Arc<EntryTable>,
    /// The JIT's entry shim ([`EnterFn`]), once the JIT is set up.
    enter: OnceLock<usize>,
    /// The program compiled for, and the register-stack slots and frame depth of
    /// the VMs (compiled code omits a register-stack check that these make
    /// unnecessary, so a VM with other sizes gets a JIT of its own).
    program: usize,
    sizes: (usize, usize),
    /// With `--jit-log`: the compilations waiting for `finalize` (function, what
    /// made it compile, compile time).
    logged: Mutex<Vec<(usize, Trigger, std::time::Duration)>>,
}

impl std::fmt::Debug for SharedJit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedJit")
            .field("program", &self.core.program)
            .finish()
    }
}

// SAFETY: the JIT and the policy are only used under their mutexes; the entry
// table's slots are atomic words (any value read is a valid entry).
unsafe impl Send for JitCore {}
// SAFETY: as for `Send`.
unsafe impl Sync for JitCore {}

// Locks a mutex of the tier, ignoring poisoning (a panic inside a compilation is
// caught and reported; the state it leaves is consistent enough to go on).
use bp_runtime::builtins::thread::guard as lock;

impl JitFactory {
    /// The JIT for `vm`: the one to share when it was made for the same program
    /// and sizes, else a new one.
    fn shared_for(&self, vm: &Vm<'_>) -> Arc<SharedJit> {
        let program = vm.program as *const Program as usize;
        let max_depth = vm.max_depth.min(vm.frames.capacity().saturating_sub(1));
        let sizes = (vm.stack.limit(), max_depth);
        if let Some(s) = &self.shared {
            if s.core.program == program && s.core.sizes == sizes {
                return s.clone();
            }
        }
        let core = JitCore {
            entry: EntryTable::new(vm.program.functions.len()),
            enter: OnceLock::new(),
            jit: Mutex::new(None),
            policy: Mutex::new(Policy::new(vm.program.functions.len(), self.opts.stress != 0)),
            program,
            sizes,
            logged: Mutex::new(Vec::new()),
        };
        Arc::new(SharedJit {
            core: Arc::new(core),
            worker: Mutex::new(WorkerState::NotStarted),
        })
    }
}

impl TierFactory for JitFactory {
    fn attach(&self, vm: &mut Vm<'_>) -> Result<Attached, String> {
        let tier = Tier {
            shared: self.shared_for(vm),
            opts: self.opts.clone(),
            stop: Cell::new(None),
        };
        Ok(Attached {
            entry: tier.core().entry.as_ptr(),
            not_compiled: abi::NOT_COMPILED,
            hot_call: self.opts.threshold,
            hot_loop: self.opts.loop_threshold(),
            hooks: Box::new(tier),
        })
    }
}

/// The layout of the VM's frame records and the offsets of its frame-depth counter
/// and its heap (from the VM's address, the context of compiled code), with the
/// runtime's object offsets.
pub fn offsets() -> Offsets {
    let frame = FrameLayout {
        size: std::mem::size_of::<Frame>() as i32,
        func: offset_of!(Frame, func) as i32,
        pc: offset_of!(Frame, pc) as i32,
        base: offset_of!(Frame, base) as i32,
    };
    let depth = offset_of!(Vm<'static>, frames) + offset_of!(FrameStack, len);
    let view = offset_of!(Vm<'static>, run_view);
    let run = RunOffsets {
        frames: (view + offset_of!(RunView, frames)) as i32,
        globals: (view + offset_of!(RunView, globals)) as i32,
        stack_end: (view + offset_of!(RunView, stack_end)) as i32,
        max_depth: (view + offset_of!(RunView, max_depth)) as i32,
        native_limit: (view + offset_of!(RunView, native_limit)) as i32,
    };
    let heap = offset_of!(Vm<'static>, rt) + offset_of!(bp_runtime::rt::Rt, heap);
    Offsets::new(frame, depth as i32, run, heap as i32)
}

/// `bp jit-ir`: the IR (and machine code) of every function of `program`,
/// compiled for `target` without running it.
pub fn dump_ir(program: &Program, target: &str, asm: bool) -> Result<String, String> {
    crate::jit::dump_ir(program, target, asm, &offsets())
}

/// The JIT statistics of a VM's tier, if it has one.
pub fn totals(vm: &Vm<'_>) -> Option<JitTotals> {
    tier_ref(vm).map(|t| t.policy().totals())
}

/// The JIT tier of one VM (one thread of a run). The JIT and the policy are the
/// run's ([`SharedJit`], behind mutexes, each locked only for a step that does
/// not call compiled code); the rest is this VM's, behind cells: the VM calls the
/// hooks with `&self`, and compiled code they run may call them again.
pub struct Tier {
    shared: Arc<SharedJit>,
    opts: JitOptions,
    /// Why compiled code stopped with status 2 (`exit`, fatal error).
    stop: Cell<Option<Stop>>,
}

/// What made a function compile (for `--jit-log`).
#[derive(Clone, Copy, Debug)]
enum Trigger {
    /// `--jit-threshold 0`: every function before the program starts.
    Start,
    /// Its call counter reached the threshold.
    Calls,
    /// One of its loops got hot (its `abi::osr_bit`): the code will have its
    /// entry.
    Loop(u64),
}

/// The tier of `vm`, if it has one.
fn tier_ref<'v>(vm: &'v Vm<'_>) -> Option<&'v Tier> {
    vm.tier_hooks()?.as_any().downcast_ref::<Tier>()
}

/// The tier of `vm` as a `Tier`, without the type check of [`tier_ref`] (the
/// helpers' path).
///
/// # Safety
/// `vm`'s tier must be a `Tier` (true whenever compiled code runs: only a `Tier`
/// compiles), and the reference must not outlive the VM.
pub(crate) unsafe fn tier_of<'t>(vm: &Vm<'_>) -> Option<&'t Tier> {
    let hooks: *const dyn TierHooks = vm.tier_hooks()?;
    debug_assert!(tier_ref(vm).is_some(), "the VM's tier is not the JIT tier");
    // SAFETY: a `Tier` behind the trait object (guaranteed by the caller), which
    // lives as long as the VM.
    Some(unsafe { &*hooks.cast::<Tier>() })
}

/// The VM as the context pointer of the JIT ABI.
fn context(vm: &mut Vm<'_>) -> *mut Context {
    (vm as *mut Vm<'_>).cast::<Context>()
}

impl JitCore {
    /// The run's JIT, set up now if this is the first compilation.
    /// Also how long setting it up took (zero when it existed).
    fn jit(
        &self,
        program: &Program,
        opts: &JitOptions,
    ) -> Result<(MutexGuard<'_, Option<Jit>>, Duration), String> {
        let mut guard = lock(&self.jit);
        let mut setup = Duration::ZERO;
        if guard.is_none() {
            let t0 = Instant::now();
            let (stack_slots, max_depth) = self.sizes;
            let run = RunAddrs {
                stack_slots,
                max_depth,
            };
            let jit = Jit::new(
                program,
                self.entry.clone(),
                run,
                offsets(),
                &runtime::HELPERS,
                opts.compile_options(),
            )?;
            let _ = self.enter.set(jit.enter_addr());
            *guard = Some(jit);
            setup = t0.elapsed();
        }
        Ok((guard, setup))
    }

    fn policy(&self) -> MutexGuard<'_, Policy> {
        lock(&self.policy)
    }

    /// Compile function `fid` of `program`, whose constants are `consts` (not
    /// yet callable: see [`JitCore::finalize`]); false if it failed or is over
    /// the size budget.
    fn compile(
        &self,
        program: &Program,
        consts: &[bp_runtime::value::Value],
        fid: usize,
        trigger: Trigger,
        opts: &JitOptions,
    ) -> bool {
        let t0 = Instant::now();
        let version = self.policy().version(fid);
        let mut setup = Duration::ZERO;
        let r = match self.jit(program, opts) {
            Ok((mut guard, took)) => {
                setup = took;
                match guard.as_mut() {
                    // Another thread compiled it since this one decided to (checked
                    // under the JIT's lock; finalized by the next `finalize`).
                    Some(jit) if jit.has_code(fid, version.osr_loops) => {
                        drop(guard);
                        self.policy().unqueue(fid);
                        return true;
                    }
                    Some(jit) => jit.compile(program, consts, fid as u32, version),
                    None => Err(crate::jit::TransError::Failed("internal error: no JIT".into())),
                }
            }
            Err(e) => Err(crate::jit::TransError::Failed(format!(
                "the JIT cannot start: {e}"
            ))),
        };
        if !setup.is_zero() {
            self.policy().set_up(setup);
        }
        // The function's compile time, without the JIT's setup.
        let elapsed = t0.elapsed().saturating_sub(setup);
        if opts.log {
            match &r {
                Ok(()) => lock(&self.logged).push((fid, trigger, elapsed)),
                Err(e) => log(opts, format!("not compiled {}: {e}", function_name(program, fid))),
            }
        }
        self.policy().compiled(fid, r, elapsed)
    }

    /// Make the compiled functions callable and record the outcome.
    fn finalize(&self, program: &Program, opts: &JitOptions) {
        let done = match lock(&self.jit).as_mut() {
            Some(jit) => jit.finalize(),
            None => Vec::new(),
        };
        if opts.log {
            self.log_compiled(program, opts, &done);
        }
        self.policy().finalized(done);
    }

    /// `--jit-log`: one line per function just made callable (or that failed).
    fn log_compiled(&self, program: &Program, opts: &JitOptions, done: &[crate::jit::Finalized]) {
        let logged = std::mem::take(&mut *lock(&self.logged));
        for (fid, result) in done {
            let (trigger, time) = logged
                .iter()
                .find(|(f, _, _)| f == fid)
                .map_or((Trigger::Calls, std::time::Duration::ZERO), |&(_, t, d)| (t, d));
            let bytecode = program.functions.get(*fid).map_or(0, |f| f.code.len());
            let what = match result {
                Ok(size) => format!(
                    "compile {} trigger={} bytecode={bytecode} code={size}B time={}us",
                    function_name(program, *fid),
                    trigger.name(),
                    time.as_micros()
                ),
                Err(e) => format!("not compiled {}: {e}", function_name(program, *fid)),
            };
            log(opts, what);
        }
    }
}

/// `--jit-log`: write `jit: LINE` to stderr now (errors are ignored, as for
/// diagnostics).
fn log(opts: &JitOptions, line: String) {
    if opts.log {
        let _ = bp_runtime::rt::write_all_fd(libc::STDERR_FILENO, format!("jit: {line}\n").as_bytes());
    }
}

impl Tier {
    /// The run's JIT and policy.
    fn core(&self) -> &JitCore {
        &self.shared.core
    }

    fn policy(&self) -> MutexGuard<'_, Policy> {
        self.core().policy()
    }

    /// Compile function `fid` now, on this thread (not yet callable: see
    /// [`Tier::finalize`]); false if it failed or is over the size budget.
    fn compile(&self, vm: &mut Vm<'_>, fid: usize, trigger: Trigger) -> bool {
        self.core()
            .compile(vm.program, consts_of(vm, fid), fid, trigger, &self.opts)
    }

    /// Queue function `fid` for the run's compile worker, if this run compiles
    /// in the background ([`JitOptions::background`]): true if it is queued,
    /// or already was. False: the caller compiles it now.
    fn compile_in_background(&self, vm: &Vm<'_>, fid: usize, trigger: Trigger) -> bool {
        if !self.opts.background() {
            return false;
        }
        let mut worker = lock(&self.shared.worker);
        if let WorkerState::NotStarted = *worker {
            *worker = match background::Worker::start(self.shared.core.clone(), vm.program, self.opts.clone())
            {
                Some(w) => WorkerState::Running(w),
                None => WorkerState::Unavailable,
            };
        }
        let WorkerState::Running(w) = &*worker else {
            return false;
        };
        let loop_bit = match trigger {
            Trigger::Loop(bit) => Some(bit),
            Trigger::Start | Trigger::Calls => None,
        };
        if !self.policy().claim_for_queue(fid, loop_bit) {
            // Another thread's VM queued it first.
            return true;
        }
        let consts = consts_of(vm, fid).into();
        let job = background::Job { fid, trigger, consts };
        if w.submit(job).is_err() {
            self.policy().unqueue(fid);
            return false;
        }
        true
    }

    /// Make the compiled functions callable and record the outcome.
    fn finalize(&self, vm: &Vm<'_>) {
        self.core().finalize(vm.program, &self.opts);
    }

    /// `--jit-log`: write `jit: LINE` to stderr now.
    fn log(&self, line: String) {
        log(&self.opts, line);
    }

    /// Set the loop counters of `fid` to `value`.
    fn set_loop_counts(vm: &mut Vm<'_>, fid: usize, value: u32) {
        if let Some(c) = vm.tier.loop_counts.get_mut(fid) {
            c.iter_mut().for_each(|c| *c = value);
        }
    }

    /// Record why compiled code stopped (status 2).
    fn set_stop(&self, stop: Stop) {
        self.stop.set(Some(stop));
    }

    /// Call compiled code `code` through the entry shim (arguments from the
    /// window `base`; `epc` is the frame's depth, encoded as in [`EnterFn`]).
    ///
    /// # Safety
    /// `code` must be compiled code of this tier's JIT for the innermost frame of
    /// `vm`, whose window starts at `base`, and `vm` must be at the address the
    /// code was compiled for.
    unsafe fn enter_compiled(
        &self,
        vm: &mut Vm<'_>,
        code: usize,
        base: *mut bp_runtime::value::Value,
        epc: u64,
    ) -> u64 {
        // SAFETY: `enter` is the JIT's entry shim; the rest is guaranteed by the
        // caller. The VM is passed as a raw pointer: compiled code and its helpers
        // are its only users until the call returns.
        unsafe {
            let enter = self.core().enter.get().copied().unwrap_or(0);
            if enter == 0 {
                self.set_stop(Stop::Fatal("internal error: compiled code without a JIT".into()));
                return abi::ST_STOP;
            }
            let f: EnterFn = std::mem::transmute::<usize, EnterFn>(enter);
            f(code, context(vm), base, epc)
        }
    }

    /// Whether instruction `pc` of the innermost frame is an array access
    /// whose index register now holds a negative number.
    fn negative_index_at(vm: &Vm<'_>, pc: u32) -> bool {
        let Some(top) = vm.frames.last() else { return false };
        let ins = vm
            .program
            .functions
            .get(top.func as usize)
            .and_then(|f| f.code.get(pc as usize));
        match ins {
            Some(Instr::ArrGet { idx, .. } | Instr::ArrSet { idx, .. }) => {
                (vm.stack.get(top.base + *idx as usize).0 as i64) < 0
            }
            _ => false,
        }
    }

    /// Compiled code of `fid` side-exits at `pc` (innermost frame), or `rt_raise`
    /// found no error there: if that is an array access with a negative index
    /// (`negative`: [`Tier::negative_index_at`], before the access), tell the
    /// policy (compiled code speculates that indices are not negative; see
    /// [`Policy::note_negative_index`]).
    fn note_negative_index(&self, fid: u32, negative: bool) {
        if negative {
            self.policy().note_negative_index(fid as usize);
        }
    }

    /// A compiled frame of `fid` deoptimized at `pc`: count it, maybe give up on
    /// the function's code, and arrange for the frame to re-enter its code at
    /// the next loop header.
    fn note_deopt(&self, vm: &mut Vm<'_>, fid: u32, pc: u32) {
        let threshold = vm.tier.hot_loop.max(1);
        let verdict = self.policy().note_deopt(fid as usize);
        if self.opts.log {
            self.log_deopt(vm, fid, pc, verdict);
        }
        let fid = fid as usize;
        if verdict == Deopt::Disable {
            if let Some(jit) = lock(&self.core().jit).as_mut() {
                jit.reset_entry(fid);
            }
        }
        if verdict == Deopt::Keep {
            Self::set_loop_counts(vm, fid, threshold);
        } else {
            // Back to the interpreter; it may get hot (and be recompiled) again.
            if let Some(c) = vm.tier.call_counts.get_mut(fid) {
                *c = 0;
            }
            Self::set_loop_counts(vm, fid, 0);
        }
    }
}

impl Tier {
    /// `--jit-log`: a deopt, with where and why, and what becomes of the code.
    fn log_deopt(&self, vm: &Vm<'_>, fid: u32, pc: u32, verdict: Deopt) {
        let ins = vm
            .program
            .functions
            .get(fid as usize)
            .and_then(|f| f.code.get(pc as usize));
        let reason = match ins {
            Some(i) => format!("side exit at {}", i.op().name()),
            None => "side exit".to_string(),
        };
        let name = function_name(vm.program, fid as usize);
        self.log(format!("deopt {name} at {}: {reason}", vm.location(fid, pc)));
        if verdict == Deopt::Disable {
            self.log(format!(
                "disable {name}: {} deopts of this version; back to the interpreter",
                policy::DEOPT_LIMIT
            ));
        }
    }
}

impl Trigger {
    fn name(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Calls => "calls",
            Trigger::Loop(_) => "loop",
        }
    }
}

/// The constants of function `fid` as `vm` materialised them (the run's
/// immortal constant pool), which its compiled code embeds.
fn consts_of<'v>(vm: &'v Vm<'_>, fid: usize) -> &'v [bp_runtime::value::Value] {
    vm.consts.get(fid).map_or(&[], |c| c)
}

/// `name (file:line)` of function `fid`, for `--jit-log`.
fn function_name(program: &Program, fid: usize) -> String {
    match program.functions.get(fid) {
        Some(f) => {
            let file = program.files.get(f.file as usize).map_or("?", String::as_str);
            format!("{} ({file}:{})", crate::diag::shorten_message(&f.name), f.line)
        }
        None => format!("#{fid}"),
    }
}

impl TierHooks for Tier {
    /// Start of a run: the native-stack limit; with threshold 0, compile every
    /// function now.
    fn start(&self, vm: &mut Vm<'_>) {
        // Lowest native stack address compiled code may call below.
        vm.run_view.native_limit = native_stack_limit() as u64;
        if self.opts.threshold == 0 {
            for fid in 0..vm.program.functions.len() {
                self.compile(vm, fid, Trigger::Start);
            }
            self.finalize(vm);
        }
    }

    /// Function `fid` just reached the call threshold: compile it and patch its
    /// entry, so that later calls (from the VM and from compiled code) run the
    /// compiled code in the same register window. In the background (the call
    /// goes on interpreted), or now.
    fn hot_function(&self, vm: &mut Vm<'_>, fid: usize) {
        let wants = self.policy().wants_compile(fid);
        if !wants && self.opts.log && self.policy().gave_up(fid) {
            self.log(format!(
                "give up {}: {} versions deoptimized too often; it stays interpreted",
                function_name(vm.program, fid),
                policy::MAX_VERSIONS
            ));
        }
        if wants && self.compile_in_background(vm, fid, Trigger::Calls) {
            return;
        }
        if wants && self.compile(vm, fid, Trigger::Calls) {
            self.finalize(vm);
            // Interpreted activations of the function (e.g. further up a
            // recursion) switch to the code at their next loop header.
            let threshold = vm.tier.hot_loop.max(1);
            Self::set_loop_counts(vm, fid, threshold);
        }
    }

    /// Loop `loop_id` of function `fid` is hot. Continue the frame in compiled
    /// code from the loop header: when `resumed` (a deoptimized frame) has the
    /// loop's entry, by returning to that frame's code, which is waiting in
    /// `rt_resume`; else by OSR (a native call that runs the frame to its end)
    /// into the function's newest code, once it has the loop's entry. A
    /// function without code, or whose code lacks the entry, is compiled (in
    /// the background: see [`Tier::hot_function`]) with it: a version has the
    /// entries of the loops asked for so far only (docs/jit.md, "OSR
    /// entries").
    fn hot_loop(
        &self,
        vm: &mut Vm<'_>,
        fid: usize,
        loop_id: usize,
        target: u32,
        resumed: Option<u64>,
    ) -> LoopAction {
        if let Some(c) = vm.tier.loop_counts.get_mut(fid).and_then(|v| v.get_mut(loop_id)) {
            *c = 0;
        }
        let bit = abi::osr_bit(loop_id);
        if resumed.is_some_and(|loops| loops & bit != 0) {
            // (Not once the function's code was given up: see `note_deopt`.)
            if vm.compiled_entry(fid as u32).is_none() {
                return LoopAction::Continue;
            }
            self.policy().note_reentry(fid);
            return LoopAction::Reenter;
        }
        if self.policy().wants_compile_for_loop(fid, bit) {
            let later = vm
                .program
                .functions
                .get(fid)
                .map_or(0, |f| loops_after(f, loop_id));
            self.policy().add_osr_loop(fid, later);
            if self.compile_in_background(vm, fid, Trigger::Loop(bit)) {
                // The loop is entered by OSR at a later check, once the
                // worker has made the code callable.
                return LoopAction::Continue;
            }
            self.policy().add_osr_loop(fid, bit);
            if !self.compile(vm, fid, Trigger::Loop(bit)) {
                return LoopAction::Continue;
            }
            self.finalize(vm);
        }
        // The loops first, then the code: it has at least those entries
        // (`EntryTable`).
        if self.core().entry.osr_loops(fid) & bit == 0 {
            return LoopAction::Continue;
        }
        let Some(code) = vm.compiled_entry(fid as u32) else {
            return LoopAction::Continue;
        };
        let Some(&top) = vm.frames.last() else {
            return LoopAction::Continue;
        };
        self.policy().note_osr(fid);
        if self.opts.log {
            self.log(format!(
                "osr {} at {}",
                function_name(vm.program, fid),
                vm.location(fid as u32, loop_statement_pc(vm, fid, target))
            ));
        }
        match self.call_compiled(vm, code, top.base, target as u64 + 1) {
            Outcome::Overflow => LoopAction::Continue,
            outcome => LoopAction::Ran {
                outcome,
                dst: top.dst,
            },
        }
    }

    /// Run compiled code `code` for the innermost frame, whose window starts at
    /// `base_idx` (`entry_pc` 0: from the start; `pc + 1`: at loop header `pc`).
    #[inline]
    fn call_compiled(&self, vm: &mut Vm<'_>, code: usize, base_idx: usize, entry_pc: u64) -> Outcome {
        if (native_sp() as u64) < vm.run_view.native_limit {
            return Outcome::Overflow;
        }
        let base_ptr = vm.stack.as_ptr().wrapping_add(base_idx);
        // The ABI's encoding: the frame's depth, with bit 63 set for an entry at
        // the loop header in the frame record's `pc`.
        let depth = vm.frames.len() as u64;
        let epc = if entry_pc == 0 {
            depth
        } else {
            vm.frames.set_top_pc((entry_pc - 1) as u32);
            depth | 1 << 63
        };
        // SAFETY: `code` comes from the entry table, so it is a function compiled
        // with the JIT ABI for this VM (the address was checked above); the frame
        // record is on top of the frame stack and its window starts at `base_ptr`.
        let st = unsafe { self.enter_compiled(vm, code, base_ptr, epc) };
        match st & 3 {
            abi::ST_RETURN => Outcome::Returned(vm.stack.get(base_idx)),
            abi::ST_EXCEPTION => Outcome::Exception,
            _ => Outcome::Stop(
                self.stop
                    .take()
                    .unwrap_or_else(|| Stop::Fatal(format!("internal error: JIT status {st}"))),
            ),
        }
    }

    /// End of a run: `--jit-stats` report (to stderr, after the program's own).
    /// With the report or the log, the functions still queued for the compile
    /// worker are compiled first, so that they cover every function that got hot.
    fn finish(&self, vm: &mut Vm<'_>) {
        if self.opts.stats || self.opts.log {
            if let WorkerState::Running(w) = &*lock(&self.shared.worker) {
                w.drain();
            }
        }
        if self.opts.stats {
            let report = self.policy().report(vm.program);
            vm.err.push_str(&report);
        }
    }

    fn thread_factory(&self) -> Option<Arc<dyn TierFactory>> {
        Some(Arc::new(JitFactory {
            opts: self.opts.clone(),
            shared: Some(self.shared.clone()),
        }))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The pc that stands for the loop whose header is `header` in a log line: its
/// back-edge (the last instruction that jumps back to the header), which carries
/// the loop statement's position; the header itself is the first instruction of
/// the body for a counted loop, a line further down.
/// The loops (`abi::osr_bit`s) of function `f` that begin after the end of
/// its loop `loop_id`: a version compiled because that loop got hot has their
/// entries too. The code often arrives after the loop has ended (a loop that
/// fills an array before the one that works on it), and the frame then goes
/// on to one of those; without an entry it waits for another version, another
/// compilation of the whole function (`particles`: 1.9 ms of a 14 ms run).
pub(crate) fn loops_after(f: &crate::bytecode::Function, loop_id: usize) -> u64 {
    let back_edges = || {
        f.code.iter().enumerate().filter_map(|(pc, i)| {
            let (header, id) = (i.jump_target()?, i.loop_id()?);
            Some((pc as u32, header, id))
        })
    };
    let Some(end) = back_edges()
        .filter(|&(_, _, id)| id == loop_id)
        .map(|(pc, _, _)| pc)
        .max()
    else {
        return 0;
    };
    back_edges()
        .filter(|&(_, header, _)| header > end)
        .fold(0, |bits, (_, _, id)| bits | abi::osr_bit(id))
}

fn loop_statement_pc(vm: &Vm<'_>, fid: usize, header: u32) -> u32 {
    let Some(f) = vm.program.functions.get(fid) else {
        return header;
    };
    f.code
        .iter()
        .enumerate()
        .rev()
        .find(|(pc, i)| *pc as u32 > header && i.jump_target() == Some(header))
        .map_or(header, |(pc, _)| pc as u32)
}
