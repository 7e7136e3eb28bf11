//! The register VM: executes a [`Program`] of register bytecode.
//!
//! # Structure
//! * [`frame`]: the register stack (one preallocated buffer of value slots, never
//!   reallocated) and the call records.
//! * [`interp`]: the single dispatch loop that runs every frame (no Rust recursion per
//!   BetterPython call).
//! * `ops/`: instruction families (arithmetic, control, calls, objects, exceptions).
//! * [`gc`]: safepoints and precise root scanning.
//! * [`error`]: uncaught-error reports with stack traces.
//! * [`verify`]: load-time bytecode checks that let the dispatch loop skip bounds
//!   checks.
//! * [`tiering`]: the narrow interface through which a compiling tier (the JIT,
//!   `crate::tier`) is told about hot code and runs compiled frames; the VM does
//!   not depend on the JIT.
//!
//! # Calling convention
//! A frame is the register window `base..base + nregs` of the register stack. A call
//! from a frame at `base` with `nregs` registers puts the callee's window at
//! `base + nregs`, copies the argument registers listed in the call site into the
//! callee's registers `0..nargs`, zeroes the callee's other registers (so reference
//! registers never hold stale pointers) and pushes a [`Frame`]. `Ret` writes the
//! result into the caller's destination register (recorded in the callee's
//! `Frame::dst`) and resumes the caller at the instruction after the call.
//! Compiled code uses the same windows and frame records; it passes the first four
//! arguments in machine registers and returns through register 0 (`docs/jit.md`).
//!
//! # GC roots
//! Collections happen only at safepoints chosen here: after every instruction that
//! allocates (once its result is in its register), after a call has set up the
//! callee's frame and after a handler has caught an exception (see [`gc`]). Roots:
//! for every live frame, the registers its function marks in `ref_regs`; the
//! globals of kind `Ref`; pinned constants (the heap's own list); the exception in
//! flight and the few recently caught exceptions kept for `Rethrow`.

pub mod error;
pub mod frame;
pub mod gc;
mod interp;
pub mod ops;
pub mod threads;
pub mod tiering;
pub mod verify;

#[cfg(test)]
mod tests;

use crate::bytecode::{Const, Program};
use bp_runtime::builtins::{self, Builtin};
use bp_runtime::heap::{self, ConstPool, GcStress, Heap};
use bp_runtime::rt::Rt;
use bp_runtime::value::{ValKind, Value};
pub use frame::{Frame, FrameStack, RegStack};
pub use ops::exceptions::{ExcKind, Exception};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use tiering::{Outcome, TierFactory, Tiering};

/// Options of one run.
#[derive(Clone, Debug)]
pub struct VmOptions {
    /// Collect at every safepoint that follows an allocation, or at about
    /// every other one (`GcStress`).
    pub gc_stress: GcStress,
    /// Maximum number of live frames; one more call raises `stack overflow`. At
    /// most [`crate::limits::MAX_DEPTH_CEILING`], and lower if the frame stack
    /// cannot be allocated that large.
    pub max_depth: usize,
    /// Usable slots of the register stack; a call that would not fit raises
    /// `stack overflow`.
    pub stack_slots: usize,
    /// Program arguments (`argv()`), after the script path, as bytes (an argument
    /// need not be UTF-8).
    pub args: Vec<Vec<u8>>,
    /// Log every call to stderr (debugging aid).
    pub trace_calls: bool,
    /// Call count at which a function is handed to the tier
    /// ([`tiering::TierHooks::hot_function`]). 0 disables the hook.
    pub hot_call_threshold: u32,
    /// Back-edge count at which a loop is handed to the tier
    /// ([`tiering::TierHooks::hot_loop`]).
    pub hot_loop_threshold: u32,
    /// The compiling tier (`crate::tier::JitOptions` with the `jit` feature):
    /// `None` runs the interpreter alone. When set, its thresholds replace the
    /// two above.
    pub tier: Option<Arc<dyn TierFactory>>,
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions {
            gc_stress: GcStress::Off,
            max_depth: crate::limits::DEFAULT_MAX_DEPTH,
            stack_slots: crate::limits::REG_SLOTS,
            args: Vec::new(),
            trace_calls: false,
            hot_call_threshold: 1000,
            hot_loop_threshold: 10_000,
            tier: None,
        }
    }
}

/// Why the dispatch loop stopped before the entry frame returned.
#[derive(Debug)]
pub enum Stop {
    /// `exit(code)` was called.
    Exit(i32),
    /// An exception escaped the entry frame; it is in [`Vm::pending`].
    Exception,
    /// The VM cannot continue (invalid state); the message is complete.
    Fatal(String),
    /// Internal to the tier protocol: the interpreter that resumed a deoptimized
    /// frame reached the loop header at this pc, where the frame's compiled code
    /// takes over again (see `docs/jit.md`). Never escapes the tier's
    /// `rt_resume`.
    Reenter(u32),
}

/// The virtual machine state for one program run.
pub struct Vm<'p> {
    pub program: &'p Program,
    pub rt: Rt,
    /// `extern fn` libraries and symbols, opened on first use.
    pub ffi: bp_runtime::ffi::FfiTable,
    /// Register stack shared by all frames.
    pub stack: RegStack,
    /// Call records, innermost last (shared with JIT code).
    pub frames: FrameStack,
    pub globals: Vec<Value>,
    /// The exception that escaped the entry frame, if any; also the exception in
    /// flight while it propagates through compiled frames (status 1).
    pub pending: Option<Exception>,
    /// Materialised constant pools, per function (strings pinned on the heap).
    /// Never resized or replaced: the `fn_views` point into them.
    pub(crate) consts: Vec<Box<[Value]>>,
    /// Per function, the registers that hold references (GC root map as a list).
    pub(crate) ref_regs: Vec<Box<[u8]>>,
    /// Per function, what entering a frame of it reads (pointing into
    /// `consts` and `tier.loop_counts`).
    pub(crate) fn_views: Box<[frame::FnView<'p>]>,
    /// Indices of the globals of kind `Ref`.
    pub(crate) ref_globals: Box<[u32]>,
    /// Recently caught exceptions (newest last), so that `Rethrow` can keep the
    /// original location and trace.
    pub(crate) caught: std::collections::VecDeque<Exception>,
    /// The trace vector of the last caught exception dropped from `caught`,
    /// emptied, for the next new exception: a loop that throws and catches
    /// allocates no vector per exception.
    pub(crate) spare_trace: Vec<(u32, u32)>,
    /// Scratch buffer for builtin arguments.
    pub(crate) arg_buf: Vec<Value>,
    pub(crate) builtins: &'static [Builtin],
    pub(crate) max_depth: usize,
    pub(crate) trace_calls: bool,
    /// Keep stdout instead of flushing it (tests): output accumulates in `rt.out`
    /// and is moved to `captured` before every builtin call, so that builtins that
    /// flush (`exit`, input) do not leak it to the real stdout.
    pub(crate) capture: bool,
    pub(crate) captured: Vec<u8>,
    /// Text written to stderr at the end of the run (or returned when capturing).
    pub err: String,
    /// Hotness counters, thresholds, the compiled-entry table and the tier's
    /// hooks (see [`tiering`]).
    pub tier: Tiering,
    /// Starting and joining threads (see [`threads`]).
    pub(crate) threads: threads::ThreadHost,
    /// Where compiled code finds this VM's structures.
    pub run_view: tiering::RunView,
}

impl<'p> Vm<'p> {
    /// Load `program`: materialise constants, register layouts and function names,
    /// allocate the register stack and the globals. The program should have passed
    /// [`verify::verify`].
    pub fn new(program: &'p Program, mut opts: VmOptions) -> Vm<'p> {
        let args = std::mem::take(&mut opts.args);
        Vm::with_runtime(program, opts, Rt::new(Heap::new(false), args))
    }

    /// [`Vm::new`] with the runtime (heap, stdout buffer, random state) of an
    /// earlier VM, taken back by [`Vm::into_runtime`]: `bp repl` runs every input
    /// as a new program on the same heap. Objects in `rt.heap` must hold the
    /// function and layout ids of `program` (`Heap::remap_program_ids`); the
    /// globals start null (the caller sets the ones it carries). `opts.args` is
    /// not used: the arguments are the runtime's.
    pub fn with_runtime(program: &'p Program, opts: VmOptions, rt: Rt) -> Vm<'p> {
        Vm::with_constants(program, opts, rt, None)
    }

    /// [`Vm::with_runtime`] with the constant pool of another VM of the same
    /// program (a thread's VM shares its creator's: compiled code embeds the
    /// constants' addresses), or a new one when `pool` is `None`.
    pub(crate) fn with_constants(
        program: &'p Program,
        opts: VmOptions,
        mut rt: Rt,
        pool: Option<Arc<ConstPool>>,
    ) -> Vm<'p> {
        heap::set_layouts(program.layouts.clone());
        bp_runtime::format::set_function_names(program.functions.iter().map(|f| f.name.clone()).collect());
        let pool = pool.unwrap_or_else(|| Arc::new(constant_pool(program)));
        let consts = pool.functions.clone();
        rt.keep_alive.push(pool.clone());
        let heap = &mut rt.heap;
        heap.set_stress(opts.gc_stress);
        let ref_regs: Vec<Box<[u8]>> = program
            .functions
            .iter()
            .map(|f| {
                (0..f.nregs.min(256) as usize)
                    .filter(|&r| f.ref_regs.get(r).copied().unwrap_or(false))
                    .map(|r| r as u8)
                    .collect()
            })
            .collect();
        let ref_globals = program
            .globals
            .iter()
            .enumerate()
            .filter(|(_, g)| g.kind == ValKind::Ref)
            .map(|(i, _)| i as u32)
            .collect();
        let builtins = builtins::all();
        // The frame stack holds `max_depth + 1` records (the entry frame of a
        // program's `main` plus its calls); it may get fewer when memory is short.
        let frames = FrameStack::new(opts.max_depth.max(1).saturating_add(1));
        let max_depth = opts
            .max_depth
            .clamp(1, frames.capacity().saturating_sub(1).max(1));
        let counts = (
            vec![0; program.functions.len()],
            program
                .functions
                .iter()
                .map(|f| vec![0; f.num_loops as usize])
                .collect(),
        );
        let mut vm = Vm {
            program,
            rt,
            ffi: bp_runtime::ffi::FfiTable::new(program.externs.clone()),
            stack: RegStack::new(opts.stack_slots),
            frames,
            globals: vec![Value::NULL; program.globals.len()],
            pending: None,
            consts,
            ref_regs,
            fn_views: Box::default(),
            ref_globals,
            caught: std::collections::VecDeque::new(),
            spare_trace: Vec::new(),
            arg_buf: Vec::with_capacity(16),
            builtins,
            max_depth,
            trace_calls: opts.trace_calls,
            capture: false,
            captured: Vec::new(),
            err: String::new(),
            tier: Tiering::new(counts, opts.hot_call_threshold, opts.hot_loop_threshold),
            threads: threads::ThreadHost::new(opts.clone(), pool),
            run_view: tiering::RunView::default(),
        };
        vm.fn_views = program
            .functions
            .iter()
            .zip(&vm.ref_regs)
            .zip(vm.consts.iter().zip(vm.tier.loop_counts.iter_mut()))
            .map(|((f, refs), (consts, ctrs))| frame::FnView::for_function(f, refs, consts, ctrs))
            .collect();
        vm.run_view = tiering::RunView {
            frames: vm.frames.as_ptr() as u64,
            globals: vm.globals.as_ptr() as u64,
            stack_end: vm.stack.as_ptr() as u64 + vm.stack.limit() as u64 * 8,
            max_depth: vm.max_depth.min(vm.frames.capacity().saturating_sub(1)) as u64,
            native_limit: 0,
        };
        if let Some(factory) = &opts.tier {
            vm.attach_tier(&**factory);
        }
        vm
    }

    /// Call function `fid` with `args` from outside the interpreter (the program
    /// entry points `<init>` and `main`) and run it to completion.
    /// `Ok` holds the result (null for void functions). An exception that escapes
    /// the function is left in [`Vm::pending`].
    pub fn call_function(&mut self, fid: u32, args: &[Value]) -> Result<Value, Stop> {
        let Some(f) = self.program.functions.get(fid as usize) else {
            return Err(Stop::Fatal(format!("internal error: no function {fid}")));
        };
        let base = match self.frames.last() {
            Some(top) => top.base + self.program.functions[top.func as usize].nregs as usize,
            None => 0,
        };
        let nregs = f.nregs as usize;
        if args.len() > nregs {
            return Err(Stop::Fatal(format!(
                "internal error: too many arguments for {}",
                f.name
            )));
        }
        if base + nregs > self.stack.limit() || self.frames.len() >= self.max_depth {
            return Err(Stop::Fatal("stack overflow".to_string()));
        }
        for i in 0..nregs {
            self.stack
                .set(base + i, args.get(i).copied().unwrap_or(Value::NULL));
        }
        let entry_depth = self.frames.len();
        self.frames.push(Frame {
            func: fid,
            pc: 0,
            base,
            dst: 0,
        });
        self.count_call(fid as usize);
        if let Some(code) = self.compiled_entry(fid) {
            return match self.call_compiled(code, base, 0) {
                Outcome::Returned(v) => Ok(v),
                Outcome::Exception => Err(Stop::Exception),
                Outcome::Stop(s) => Err(s),
                Outcome::Overflow => {
                    self.frames.pop();
                    Err(Stop::Fatal("stack overflow".to_string()))
                }
            };
        }
        self.interp(entry_depth, None)
    }

    /// Run the global initialiser (if any) then `main`; return the exit status.
    pub fn run_program(&mut self) -> i32 {
        let program = self.program;
        self.tier_start();
        if let Some(init) = program.init {
            if let Err(stop) = self.call_function(init, &[]) {
                return self.stop_status(stop);
            }
        }
        match self.call_function(program.main, &[]) {
            Ok(v) => match program
                .functions
                .get(program.main as usize)
                .and_then(|f| f.ret_kind)
            {
                Some(ValKind::Int) => v.as_int() as i32,
                _ => 0,
            },
            Err(stop) => self.stop_status(stop),
        }
    }

    /// Exit status for a stop; reports uncaught exceptions and fatal errors into
    /// `self.err`.
    fn stop_status(&mut self, stop: Stop) -> i32 {
        match stop {
            Stop::Exit(code) => code,
            Stop::Exception => {
                if let Some(exc) = self.pending.take() {
                    let report = self.format_uncaught(&exc);
                    self.err.push_str(&report);
                }
                1
            }
            Stop::Fatal(msg) => {
                self.err.push_str(&msg);
                self.err.push('\n');
                1
            }
            Stop::Reenter(_) => {
                self.err.push_str("internal error: JIT re-entry escaped\n");
                1
            }
        }
    }

    /// End this VM between two calls (no frame is live) and give back its runtime
    /// and the values of its globals (indexed as `program.globals`), for
    /// [`Vm::with_runtime`]. The program's constants are unpinned and garbage is
    /// collected first, so that the heap holds only what the globals reach.
    pub fn into_runtime(mut self) -> (Rt, Vec<Value>) {
        self.pending = None;
        self.caught.clear();
        // Frames left by an internal error are not roots of anything to carry.
        while self.frames.pop().is_some() {}
        self.rt.heap.unpin_all();
        self.collect_garbage();
        (self.rt, self.globals)
    }

    /// The stdout produced so far when capturing (see `run_capture`).
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.captured);
        out.append(&mut self.rt.out);
        out
    }

    /// Flush stdout when the buffer is large (not when capturing). `Err` holds the
    /// exit status when stdout cannot be written: the program must stop.
    #[inline]
    pub(crate) fn maybe_flush(&mut self) -> Result<(), i32> {
        if !self.capture && self.rt.out.len() >= bp_runtime::rt::OUT_FLUSH {
            return self.rt.flush().map_err(|_| self.rt.output_status());
        }
        Ok(())
    }
}

/// The constants of every function of `program`, strings made immortal.
fn constant_pool(program: &Program) -> ConstPool {
    let mut pool = ConstPool::new();
    for f in &program.functions {
        let values: Box<[Value]> = f
            .consts
            .iter()
            .map(|c| match c {
                Const::Int(i) => Value::int(*i),
                Const::Float(x) => Value::float(*x),
                Const::Str(s) => pool.string(s),
            })
            .collect();
        pool.functions.push(values);
    }
    pool
}

/// Run `program` and return its exit status. Stdout is flushed; runtime errors and
/// uncaught exceptions are written to stderr.
pub fn run(program: &Program, opts: VmOptions) -> i32 {
    let (code, _, err) = run_inner(program, opts, Output::Print, None);
    write_stderr(&err);
    code
}

/// Write the report of a run to stderr (errors writing it are ignored).
fn write_stderr(err: &str) {
    if !err.is_empty() {
        use std::io::Write;
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(err.as_bytes());
        let _ = e.flush();
    }
}

/// [`run`] for `bp run`: threads the program starts use `program` itself (and
/// the code compiled for it) instead of a copy of it, and the process exits
/// when this returns, so the VM is not taken apart ([`Output::PrintThenExit`]).
pub fn run_shared(program: Arc<Program>, opts: VmOptions) -> i32 {
    let (code, _, err) = run_inner(&program, opts, Output::PrintThenExit, Some(program.clone()));
    write_stderr(&err);
    code
}

/// Run `program` keeping its output: returns (exit status, stdout bytes, stderr
/// text). Meant for tests; output beyond what fits in memory is not a concern there.
pub fn run_capture(program: &Program, opts: VmOptions) -> (i32, Vec<u8>, String) {
    run_inner(program, opts, Output::Capture, None)
}

/// Where a run's stdout goes, and what becomes of the VM after it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    /// Kept and returned (tests).
    Capture,
    /// Written to the process's stdout.
    Print,
    /// Written to the process's stdout, and the process exits right after the
    /// run: the VM is left as it is instead of dropped. Freeing every object
    /// one by one, the compiled code and the stacks only to exit took 2 to 5 %
    /// of `maps` and 0.2 ms of hello world (docs/benchmarks.md); the kernel
    /// takes the memory back at exit anyway. Nothing the VM owns has an effect
    /// when dropped once its output is flushed and its threads are joined.
    PrintThenExit,
}

/// `shared`: `program` itself behind an `Arc`, for the threads it starts.
fn run_inner(
    program: &Program,
    opts: VmOptions,
    output: Output,
    shared: Option<Arc<Program>>,
) -> (i32, Vec<u8>, String) {
    let capture = output == Output::Capture;
    if let Err(msg) = verify::verify(program) {
        return (
            1,
            Vec::new(),
            format!("internal error: invalid bytecode: {msg}\n"),
        );
    }
    let mut vm = Vm::new(program, opts);
    vm.capture = capture;
    if let Some(p) = shared {
        vm.threads.share_program(p);
    }
    // `vm` stays here until the end of the run, and so does its stdout buffer (the
    // guard is dropped first).
    let emergency = (!capture).then(|| bp_runtime::rt::register_emergency_stdout(&vm.rt.out));
    let mut code = match catch_unwind(AssertUnwindSafe(|| vm.run_program())) {
        Ok(code) => code,
        Err(payload) => {
            let msg = panic_message(&*payload);
            vm.err.push_str(&format!("internal error: {msg}\n"));
            1
        }
    };
    // Output of main before the threads' that end after it.
    if !capture {
        let _ = vm.rt.flush();
    }
    code = vm.wait_for_threads(code);
    vm.tier_finish();
    let out = if capture {
        vm.take_output()
    } else {
        let flushed = vm.rt.flush();
        if flushed.is_err() && code == 0 {
            code = vm.rt.output_status();
        }
        Vec::new()
    };
    if let Some(line) = vm.rt.output_error_message() {
        vm.err.push_str(&line);
    }
    let err = std::mem::take(&mut vm.err);
    drop(emergency);
    if output == Output::PrintThenExit {
        std::mem::forget(vm);
    }
    (code, out, err)
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}
