//! Background compilation: a run's compile worker, a thread that compiles the
//! functions the VMs found hot while they go on interpreting them.
//!
//! A VM that finds a function hot (by calls or by a loop) queues it
//! ([`Worker::submit`]) and goes on interpreting; the worker compiles it and
//! makes it callable by writing its entry-table slot, which every VM reads
//! before a call. A loop waiting for its function's code enters it by OSR at
//! its next hot-loop check (the loop counter starts over when it is queued).
//! This is how HotSpot's and V8's optimizing tiers work: the program never
//! waits for the compiler, which on a machine with a spare core costs it
//! nothing but the interpreted time in between. Compiling on the program's
//! thread instead (`--jit-sync`, `--jit-threshold 0`, deopt stress) makes the
//! order of tier changes deterministic, which tests of the tiering need.
//!
//! The worker is started by the first submission, so a program that never
//! gets hot starts no thread. It shares the run's [`JitCore`] (the JIT and
//! the policy behind their mutexes), never a VM. It stops when the run's
//! [`super::SharedJit`] is dropped ([`Worker::stop`]): functions still queued
//! are dropped, the one being compiled is finished, and the thread is joined,
//! so that it never outlives the program it reads. With `--jit-stats` or
//! `--jit-log` the end of a run first waits for the queue to empty
//! ([`Worker::drain`]), so that the report covers every function that got
//! hot.

use super::placement::Placement;
use super::{JitCore, JitOptions, Trigger};
use crate::bytecode::Program;
use crate::jit::TransError;
use bp_runtime::value::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Native stack of the worker: Cranelift and the translator recurse over the
/// function's blocks and inlined calls, as they did on the program's thread
/// (whose stack is large: `crate::limits`). Only touched pages take memory.
const WORKER_STACK: usize = 64 << 20;

/// A function to compile.
pub(super) struct Job {
    pub(super) fid: usize,
    pub(super) trigger: Trigger,
    /// The function's constant pool (immortal values: strings of the run's
    /// constant pool are never freed, so another thread may embed them).
    pub(super) consts: Box<[Value]>,
}

// SAFETY: the values are constants of the run's pool: ints, floats, and
// immortal strings (`crate::vm`'s constant pool), which any thread may read.
unsafe impl Send for Job {}

/// The compile worker of a run.
pub(super) struct Worker {
    jobs: Sender<Job>,
    state: Arc<QueueState>,
    thread: JoinHandle<()>,
}

/// What the VMs and the worker know about the queue.
struct QueueState {
    /// Jobs submitted and not yet done (or skipped).
    pending: Mutex<usize>,
    /// Notified when `pending` falls to 0.
    idle: Condvar,
    /// Set by [`Worker::stop`]: skip the jobs still queued.
    stopping: AtomicBool,
    /// Where an idle worker is woken (`None`: where the kernel puts it).
    placement: Option<Placement>,
}

impl QueueState {
    fn done_one(&self) {
        let mut pending = super::lock(&self.pending);
        *pending = pending.saturating_sub(1);
        if *pending == 0 {
            self.idle.notify_all();
        }
    }
}

impl Worker {
    /// Start the worker of `core`, which compiles for `program` with `opts`.
    /// `None` if the thread cannot be started (then the VMs compile
    /// themselves).
    ///
    /// `program` must outlive the worker: [`Worker::stop`] joins it, and the
    /// run's `SharedJit` stops it when it is dropped, before the VMs that
    /// borrow the program are gone.
    pub(super) fn start(core: Arc<JitCore>, program: &Program, opts: JitOptions) -> Option<Worker> {
        let (jobs, queue) = channel();
        let state = Arc::new(QueueState {
            pending: Mutex::new(0),
            idle: Condvar::new(),
            stopping: AtomicBool::new(false),
            placement: Placement::for_this_process(),
        });
        let shared = state.clone();
        let program = program as *const Program as usize;
        let thread = std::thread::Builder::new()
            .name("bp-jit".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                // SAFETY: the program outlives the worker (`start`'s contract)
                // and is never mutated while VMs run it.
                let program = unsafe { &*(program as *const Program) };
                compile_queued(&core, program, &opts, &queue, &shared);
            })
            .ok()?;
        Some(Worker { jobs, state, thread })
    }

    /// Queue `job`; it comes back if the worker is gone.
    pub(super) fn submit(&self, job: Job) -> Result<(), Job> {
        let was_idle = {
            let mut pending = super::lock(&self.state.pending);
            *pending += 1;
            *pending == 1
        };
        if let (true, Some(p)) = (was_idle, &self.state.placement) {
            p.move_away(&self.thread);
        }
        self.jobs.send(job).map_err(|e| {
            self.state.done_one();
            e.0
        })
    }

    /// Wait until every job submitted so far is done.
    pub(super) fn drain(&self) {
        let mut pending = super::lock(&self.state.pending);
        // (With a timeout, so that a worker that died without counting its
        // jobs down cannot keep the run from ending.)
        while *pending > 0 && !self.thread.is_finished() {
            pending = match self.state.idle.wait_timeout(pending, Duration::from_millis(20)) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Drop the queued jobs, let the worker finish the one it is compiling,
    /// and join it.
    pub(super) fn stop(self) {
        self.state.stopping.store(true, Ordering::Relaxed);
        drop(self.jobs);
        // A panic on the worker was already reported by the panic hook; the
        // functions it left queued stay interpreted.
        let _ = self.thread.join();
    }
}

/// The worker's loop: compile each queued function and make it callable at
/// once, until the queue is closed, the functions hot by a loop first
/// ([`next_job`]).
fn compile_queued(
    core: &JitCore,
    program: &Program,
    opts: &JitOptions,
    queue: &Receiver<Job>,
    state: &QueueState,
) {
    let mut waiting: Vec<Job> = Vec::new();
    while let Some(job) = next_job(queue, &mut waiting) {
        if let Some(p) = &state.placement {
            p.release();
        }
        if !state.stopping.load(Ordering::Relaxed) {
            // (A function that failed or is too big was recorded by the policy.)
            let compiled = catch_unwind(AssertUnwindSafe(|| {
                if core.compile(program, &job.consts, job.fid, job.trigger, opts) {
                    core.finalize(program, opts);
                }
            }));
            if compiled.is_err() {
                // A bug in the compiler (the panic hook printed it): the
                // function stays interpreted and the program goes on.
                let failed = TransError::Failed("internal error: the compiler panicked".into());
                core.policy().compiled(job.fid, Err(failed), Duration::ZERO);
            }
        }
        state.done_one();
    }
}

/// The next function to compile: of those queued (`waiting`, and what the
/// channel holds now), the first that a loop made hot, else the first;
/// `None` once the queue is closed and empty. A loop waiting for its code
/// runs interpreted until the code is there, while a function hot by its
/// calls is called by code that may be compiled already: `benches/micro/
/// vec2`'s `main` waited behind its three helpers (1.6 ms, cold), which it
/// inlines anyway. (HotSpot's compile queue, too, picks by how hot a
/// method is now, not by when it was queued.)
fn next_job(queue: &Receiver<Job>, waiting: &mut Vec<Job>) -> Option<Job> {
    if waiting.is_empty() {
        waiting.push(queue.recv().ok()?);
    }
    waiting.extend(queue.try_iter());
    let first = waiting
        .iter()
        .position(|j| matches!(j.trigger, Trigger::Loop(_)))
        .unwrap_or(0);
    Some(waiting.remove(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(fid: usize, trigger: Trigger) -> Job {
        Job {
            fid,
            trigger,
            consts: Box::new([]),
        }
    }

    /// The functions a loop made hot are compiled first, the others in the
    /// order they came; the queue ends when it is closed and empty.
    #[test]
    fn loops_are_compiled_first() {
        let (tx, rx) = channel();
        let mut waiting = Vec::new();
        for j in [
            job(1, Trigger::Calls),
            job(2, Trigger::Calls),
            job(3, Trigger::Loop(1)),
        ] {
            tx.send(j).expect("send");
        }
        let mut order = vec![next_job(&rx, &mut waiting).map(|j| j.fid)];
        tx.send(job(4, Trigger::Loop(2))).expect("send");
        drop(tx);
        while let Some(j) = next_job(&rx, &mut waiting) {
            order.push(Some(j.fid));
        }
        assert_eq!(order, [Some(3), Some(4), Some(1), Some(2)]);
    }
}
