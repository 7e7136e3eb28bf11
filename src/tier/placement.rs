//! Where the compile worker runs when it is woken: on another CPU than the
//! interpreter that woke it.
//!
//! Linux puts a new thread, and a thread woken by another, on the CPU of the
//! thread that started or woke it, and lets it wait there behind that thread
//! rather than preempt it. The waker here is an interpreter that just found a
//! hot function and goes on running it, so the worker waited for the
//! interpreter's time slice to end or for the next load balancing: measured on
//! the 2-core test machine, 0.2 to 4 ms before it compiled anything, with the
//! other core idle, and `mandelbrot`'s loop ran interpreted all that time
//! (docs/benchmarks.md, "The compile worker's wake-up"). So before a job is
//! queued for an idle worker, the worker's affinity is narrowed to the CPUs
//! other than the waker's, which wakes it on one of those; it takes back the
//! process's whole affinity as soon as it has the job, so that otherwise the
//! scheduler places it as it likes.
//!
//! Elsewhere than Linux, or with a single CPU to run on, nothing is done.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// The process's CPUs, and whether the worker is narrowed to a part of them.
pub(super) struct Placement {
    #[cfg(target_os = "linux")]
    all: libc::cpu_set_t,
    /// Set by [`Placement::move_away`], cleared by [`Placement::release`].
    narrowed: AtomicBool,
}

#[cfg(target_os = "linux")]
const SET_SIZE: usize = std::mem::size_of::<libc::cpu_set_t>();

impl Placement {
    /// The placement for this process; `None` if it may run on one CPU only
    /// (or the OS cannot say).
    #[cfg(target_os = "linux")]
    pub(super) fn for_this_process() -> Option<Placement> {
        // SAFETY: `cpu_set_t` is plain bits (all zero is the empty set), and
        // the call writes at most `SET_SIZE` bytes into it.
        let all = unsafe {
            let mut all: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, SET_SIZE, &mut all) != 0 {
                return None;
            }
            all
        };
        // SAFETY: reads the set's bits.
        (unsafe { libc::CPU_COUNT(&all) } > 1).then_some(Placement {
            all,
            narrowed: AtomicBool::new(false),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn for_this_process() -> Option<Placement> {
        None
    }

    /// Narrow `worker`'s affinity to the process's CPUs other than the calling
    /// thread's, before waking it. A failure leaves it where the kernel puts it.
    #[cfg(target_os = "linux")]
    pub(super) fn move_away(&self, worker: &JoinHandle<()>) {
        use std::os::unix::thread::JoinHandleExt;
        // SAFETY: `sched_getcpu` has no preconditions.
        let Ok(cpu) = usize::try_from(unsafe { libc::sched_getcpu() }) else {
            return;
        };
        let mut others = self.all;
        if cpu >= libc::CPU_SETSIZE as usize {
            return;
        }
        // SAFETY: `cpu` is within the set (checked above).
        if unsafe {
            libc::CPU_CLR(cpu, &mut others);
            libc::CPU_COUNT(&others)
        } == 0
        {
            return;
        }
        // SAFETY: the handle's thread is not yet joined (the worker owns the
        // handle until `stop` joins it), so its pthread_t is valid; the set is
        // `SET_SIZE` bytes.
        let narrowed = unsafe { libc::pthread_setaffinity_np(worker.as_pthread_t(), SET_SIZE, &others) };
        // (After the narrowing and before the job is sent: the worker's
        // `release` for that job sees it.)
        if narrowed == 0 {
            self.narrowed.store(true, Ordering::Release);
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn move_away(&self, _worker: &JoinHandle<()>) {}

    /// On the worker, once it has a job: take back the whole affinity if it
    /// was narrowed.
    pub(super) fn release(&self) {
        if self.narrowed.swap(false, Ordering::AcqRel) {
            #[cfg(target_os = "linux")]
            // SAFETY: as in `move_away`, for the calling thread (0).
            unsafe {
                libc::sched_setaffinity(0, SET_SIZE, &self.all);
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    /// The CPUs `thread` may run on (0: the calling thread).
    fn cpus_of(thread: libc::pthread_t) -> usize {
        // SAFETY: as in `move_away`; the set is written by the call.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(libc::pthread_getaffinity_np(thread, SET_SIZE, &mut set), 0);
            libc::CPU_COUNT(&set) as usize
        }
    }

    #[test]
    fn a_worker_is_moved_off_the_wakers_cpu_until_it_has_its_job() {
        let Some(p) = Placement::for_this_process() else {
            // One CPU: nothing to move to, and nothing is done.
            return;
        };
        // SAFETY: reads the set's bits.
        let all = unsafe { libc::CPU_COUNT(&p.all) } as usize;
        let p = std::sync::Arc::new(p);
        let (job, jobs) = channel::<()>();
        let (report, reports) = channel::<usize>();
        let worker = {
            let p = p.clone();
            std::thread::spawn(move || {
                while jobs.recv().is_ok() {
                    p.release();
                    // SAFETY: `pthread_self` has no preconditions.
                    report.send(cpus_of(unsafe { libc::pthread_self() })).unwrap();
                }
            })
        };
        use std::os::unix::thread::JoinHandleExt;
        for _ in 0..2 {
            p.move_away(&worker);
            assert_eq!(cpus_of(worker.as_pthread_t()), all - 1, "narrowed before the job");
            job.send(()).unwrap();
            assert_eq!(reports.recv().unwrap(), all, "whole again once it has the job");
        }
        // A release without a narrowing leaves the affinity alone.
        p.release();
        drop(job);
        worker.join().unwrap();
    }
}
