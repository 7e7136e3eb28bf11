//! Language threads (`thread_spawn`, `thread_join`): every thread runs its own VM,
//! with its own heap, register stack and tier, on its own OS thread.
//!
//! # Memory model: isolated heaps
//! Threads share no objects, so no heap is ever touched by two threads and each
//! collector runs without stopping the others (docs/architecture.md, "Threads
//! and memory"). What crosses between threads is copied ([`Parcel`]):
//! * `thread_spawn(f, arg)` copies `f` (with its captures), `arg` and a snapshot of
//!   every global into the new thread's heap; the new thread's writes to globals
//!   are its own.
//! * `thread_join(t)` copies the result back (an `int`), or raises the thread's
//!   exception again in the joining thread, with the thread's trace.
//! * Channels (`chan[T]`, runtime/src/builtins/thread.rs) copy every message.
//! * Host objects are shared, not copied: mutexes, condition variables, channels
//!   and thread handles work across threads.
//!
//! The program (bytecode) is shared read-only: the first spawn puts a copy of it
//! behind an `Arc` that every thread of the run then uses.

use super::{ExcKind, Exception, Stop, Vm, VmOptions};
use crate::bytecode::Program;
use crate::native_stack::spawn_with_stack;
use bp_runtime::builtins::thread::{
    guard, set_current_thread_id, thread_state, ThreadEnd, ThreadFailure, ThreadHandle, ThreadState,
};
use bp_runtime::heap::{as_closure, obj_kind, ConstPool, Heap, ObjKind, Parcel};
use bp_runtime::rt::Rt;
use bp_runtime::rt::{RtError, RtResult};
use bp_runtime::value::{ValKind, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// Native stack of a language thread: compiled code uses one native frame per
/// call. Reserved, not touched; halved when it cannot be had (`spawn_with_stack`).
const THREAD_STACK: usize = 256 << 20;

/// What every thread of one run shares.
struct Shared {
    program: Arc<Program>,
    /// The id of the next thread (the main thread is 0).
    next_id: AtomicI64,
    /// Threads not yet joined: the end of the program waits for those that were
    /// not detached either.
    live: Mutex<Vec<Arc<ThreadState>>>,
}

/// The thread support of one VM.
pub struct ThreadHost {
    /// Options for the VMs of new threads (the arguments are the runtime's).
    opts: VmOptions,
    /// The program's constants, shared with the VMs of new threads.
    consts: Arc<ConstPool>,
    /// Set by the first spawn of the run (inherited by the threads it starts).
    shared: Option<Arc<Shared>>,
    /// The VM's program behind an `Arc`, when the runner has it so
    /// ([`ThreadHost::share_program`]).
    program: Option<Arc<Program>>,
    /// The exception of a joined thread, for the raise that `thread_join`'s
    /// error starts (see [`Vm::take_foreign_exception`]).
    foreign: Option<(i64, ThreadFailure)>,
}

impl ThreadHost {
    pub fn new(mut opts: VmOptions, consts: Arc<ConstPool>) -> ThreadHost {
        opts.args = Vec::new();
        ThreadHost {
            opts,
            consts,
            shared: None,
            program: None,
            foreign: None,
        }
    }

    /// `program`, the VM's own program, is behind this `Arc`: threads use it.
    pub fn share_program(&mut self, program: Arc<Program>) {
        self.program = Some(program);
    }
}

impl Vm<'_> {
    /// Builtin `name`, flagged `HOSTED`: implemented here because it needs the VM.
    /// (Cold and not inlined into `call_builtin_on`, whose stack frame it
    /// grew from 136 bytes to 1.6 KB for every builtin call.)
    #[inline(never)]
    #[cold]
    pub(crate) fn call_hosted(&mut self, name: &str, args: &[Value]) -> RtResult {
        match name {
            "thread_spawn" => self.thread_spawn(args),
            "thread_join" => self.thread_join(args),
            _ => Err(RtError::msg(format!(
                "internal error: no host for builtin {name}"
            ))),
        }
    }

    /// The shared state of this run's threads, made on the first spawn.
    fn shared(&mut self) -> Arc<Shared> {
        let program = self.program;
        let own = self.threads.program.take();
        self.threads
            .shared
            .get_or_insert_with(|| {
                Arc::new(Shared {
                    // The VM's own program when it is shared (`run_shared`): the
                    // threads then also share the code compiled for it.
                    program: own.unwrap_or_else(|| Arc::new(program.clone())),
                    next_id: AtomicI64::new(1),
                    live: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }

    /// `thread_spawn(f, arg)`: start `f(arg)` on a new thread; its handle.
    fn thread_spawn(&mut self, args: &[Value]) -> RtResult {
        let (f, arg) = match args {
            [f, arg, ..] => (*f, *arg),
            _ => return Err(RtError::msg("internal error: thread_spawn without arguments")),
        };
        if f.is_null() {
            return Err(RtError::msg("thread_spawn: the function is null"));
        }
        let mut items = vec![(f, ValKind::Ref), (arg, ValKind::Int)];
        items.extend(
            self.globals
                .iter()
                .zip(&self.program.globals)
                .map(|(v, g)| (*v, g.kind)),
        );
        // SAFETY: `f` is a live function value (type checker; null excluded), and
        // every global holds a value of its declared kind.
        let parcel = unsafe { Parcel::pack(&items) }
            .map_err(|e| RtError::msg(format!("thread_spawn: {}", e.message())))?;
        let shared = self.shared();
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let state = ThreadState::new(id);
        let mut opts = self.threads.opts.clone();
        opts.args = self.rt.args.clone();
        // The thread's tier shares this VM's compiled code when the thread runs
        // this very program (always, when the runner shared it: `run_shared`).
        if std::ptr::eq(&*shared.program, self.program) {
            if let Some(f) = self.tier_hooks().and_then(|h| h.thread_factory()) {
                opts.tier = Some(f);
            }
        }
        let job = Job {
            consts: self.threads.consts.clone(),
            shared: shared.clone(),
            opts,
            parcel,
            state: state.clone(),
            capture: self.capture,
        };
        // Output before the spawn comes before the thread's (when capturing, the
        // caller has moved it out of `rt.out` already).
        self.rt.flush()?;
        start_os_thread(id, job)?;
        guard(&shared.live).push(state.clone());
        Ok(self.rt.heap.alloc_opaque(Arc::new(ThreadHandle(state))))
    }

    /// `thread_join(t)`: wait for thread `t`; its result, or its exception raised
    /// again here.
    fn thread_join(&mut self, args: &[Value]) -> RtResult {
        let t = args.first().copied().unwrap_or(Value::NULL);
        // SAFETY: `t` is null or a live object (a `ptr` argument).
        let Some(state) = (unsafe { thread_state(t) }) else {
            return Err(RtError::msg("thread_join expects a thread"));
        };
        if !state.claim() {
            return Err(RtError::msg(format!(
                "thread_join: thread {} was joined or detached already",
                state.id
            )));
        }
        self.rt.flush()?;
        let end = state.wait();
        if let Some(shared) = &self.threads.shared {
            guard(&shared.live).retain(|s| !Arc::ptr_eq(s, &state));
        }
        self.captured.extend_from_slice(&end.output);
        match end.result {
            Ok(parcel) => Ok(parcel
                .unpack(&mut self.rt.heap)
                .first()
                .copied()
                .unwrap_or(Value::int(0))),
            Err(failure) => {
                let msg = failure.message.clone();
                self.threads.foreign = Some((state.id, failure));
                // `set_pending_error` takes the thread's record.
                Err(RtError::Error(msg))
            }
        }
    }

    /// The exception record for a runtime error raised now, when that error is a
    /// joined thread's exception: its origin and trace from the thread, then a
    /// marker naming the thread.
    pub(crate) fn take_foreign_exception(&mut self, msg: Value) -> Option<Exception> {
        let (id, f) = self.threads.foreign.take()?;
        let mut exc = exception_of(msg, &f);
        exc.trace.push((THREAD_MARK, id.clamp(0, u32::MAX as i64) as u32));
        Some(exc)
    }

    /// At the end of the program: wait for the threads nobody joined or detached,
    /// reporting the exceptions that escaped them. Returns the exit status: `code`,
    /// or 1 if it was 0 and such a thread failed.
    pub(crate) fn wait_for_threads(&mut self, mut code: i32) -> i32 {
        let Some(shared) = self.threads.shared.clone() else {
            return code;
        };
        loop {
            let next = guard(&shared.live).pop();
            let Some(state) = next else { break };
            if !state.claim() {
                continue;
            }
            let end = state.wait();
            self.captured.extend_from_slice(&end.output);
            if let Err(f) = end.result {
                let report = self.failure_report(&f);
                self.err.push_str(&format!("thread {}: {report}", state.id));
                if code == 0 {
                    code = 1;
                }
            }
        }
        code
    }

    /// The uncaught-exception report of thread failure `f`, made by this VM.
    fn failure_report(&mut self, f: &ThreadFailure) -> String {
        let msg = self.rt.heap.alloc_str(f.message.as_bytes());
        self.format_uncaught(&exception_of(msg, f))
    }

    /// Call function value `f` with the one argument `arg` from outside the
    /// interpreter (a thread's entry), to completion.
    fn call_value(&mut self, f: Value, arg: Value) -> Result<Value, Stop> {
        // SAFETY: `f` is a live object of this heap (unpacked from the parcel).
        if f.is_null() || unsafe { obj_kind(f) } != ObjKind::Closure {
            return Err(Stop::Fatal("internal error: a thread without a function".into()));
        }
        // SAFETY: a live closure (checked above).
        let fid = unsafe { as_closure(f) }.func;
        let Some(func) = self.program.functions.get(fid as usize) else {
            return Err(Stop::Fatal(format!("internal error: no function {fid}")));
        };
        // A lambda with captures finds its closure in the register after its
        // parameters (as `CallIndirect` passes it).
        if func.nregs > func.nparams as u16 {
            self.call_function(fid, &[arg, f])
        } else {
            self.call_function(fid, &[arg])
        }
    }
}

/// Marker of a trace entry that separates a thread's frames from the frames of
/// the thread that joined it; the entry's second half is the thread's id.
pub const THREAD_MARK: u32 = u32::MAX;

/// Everything a new thread starts from.
struct Job {
    shared: Arc<Shared>,
    consts: Arc<ConstPool>,
    opts: VmOptions,
    parcel: Parcel,
    state: Arc<ThreadState>,
    capture: bool,
}

/// Start the OS thread of language thread `id`.
fn start_os_thread(id: i64, job: Job) -> Result<(), RtError> {
    match spawn_with_stack(format!("bp-thread-{id}"), THREAD_STACK, move || {
        run_thread(id, job)
    }) {
        Ok(_) => Ok(()),
        Err(e) => Err(RtError::msg(format!("thread_spawn: cannot start a thread: {e}"))),
    }
}

/// The body of a language thread: a VM over the shared program, the copied
/// globals, `f(arg)`, then the outcome for the joiner.
fn run_thread(id: i64, job: Job) {
    set_current_thread_id(id);
    let Job {
        shared,
        consts,
        opts,
        parcel,
        state,
        capture,
    } = job;
    let program = shared.program.clone();
    let args = opts.args.clone();
    let mut vm = Vm::with_constants(&program, opts, Rt::new(Heap::new(false), args), Some(consts));
    vm.capture = capture;
    vm.threads.shared = Some(shared);
    let values = parcel.unpack(&mut vm.rt.heap);
    let (f, arg) = (values[0], values[1]);
    for (slot, v) in vm.globals.iter_mut().zip(&values[2..]) {
        *slot = *v;
    }
    drop(values);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        vm.tier_start();
        vm.call_value(f, arg)
    }));
    let result = match outcome {
        Ok(Ok(v)) => Ok(Parcel::scalars(vec![v])),
        // `exit(n)` in a thread ends the thread as if its function returned `n`.
        Ok(Err(Stop::Exit(code))) => Ok(Parcel::scalars(vec![Value::int(code as i64)])),
        Ok(Err(Stop::Exception)) => Err(match vm.pending.take() {
            Some(exc) => failure_of(&exc),
            None => plain_failure("internal error: a lost exception".into()),
        }),
        Ok(Err(Stop::Fatal(msg))) => Err(plain_failure(msg)),
        Ok(Err(Stop::Reenter(_))) => Err(plain_failure("internal error: JIT re-entry escaped".into())),
        Err(payload) => Err(plain_failure(format!(
            "internal error: {}",
            super::panic_message(&*payload)
        ))),
    };
    let output = if capture {
        vm.take_output()
    } else {
        // A failing stdout was reported by the write that failed; nothing to add.
        let _ = vm.rt.flush();
        Vec::new()
    };
    let end = ThreadEnd { result, output };
    // Nobody will join a detached thread: it reports its own failure.
    if let Some(ThreadEnd { result: Err(f), .. }) = state.finish(end) {
        use std::io::Write;
        let report = vm.failure_report(&f);
        let _ = write!(std::io::stderr().lock(), "thread {id}: {report}");
    }
}

/// The exception record, with message `msg` (a string of the VM that gets it),
/// of thread failure `f`: its kind, origin and trace in the thread.
fn exception_of(msg: Value, f: &ThreadFailure) -> Exception {
    let kind = if f.thrown {
        ExcKind::Thrown
    } else {
        ExcKind::Runtime
    };
    Exception::with_trace(msg, kind, f.origin, f.trace.clone(), f.depth)
}

/// The failure record of exception `exc` of a thread's VM.
fn failure_of(exc: &Exception) -> ThreadFailure {
    ThreadFailure {
        // SAFETY: an exception's message is a string the VM allocated, or null.
        message: unsafe { super::error::message_text(exc.msg) },
        thrown: exc.kind == ExcKind::Thrown,
        origin: exc.origin,
        trace: exc.trace.clone(),
        depth: exc.depth,
    }
}

/// A failure without a location (a fatal error of the thread's VM).
fn plain_failure(message: String) -> ThreadFailure {
    ThreadFailure {
        message,
        thrown: false,
        origin: (u32::MAX, 0),
        trace: Vec::new(),
        depth: 0,
    }
}
