//! Running the program on a stack of its own without a thread of its own: the
//! calling thread switches to a reserved stack with glibc's `makecontext` and
//! `swapcontext` and comes back when the program is done (docs/architecture.md,
//! "Stack sizes and the address-space limit").
//!
//! Below the stack lies a guard region that is never mapped readable. Rust's
//! own handler for a fault there only knows the guard pages of the stacks the
//! standard library made, so a handler installed here recognises this one: a
//! native stack overflow in Rust code (which the parser's and checker's depth
//! limits and compiled code's stack checks are there to prevent) still ends
//! with the standard library's message and an abort, which flushes stdout
//! (`fatal::install_abort_handler`), rather than with a bare `SIGSEGV`. Faults
//! anywhere else go on to the handler that was there before.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

/// Bytes below the stack that are never mapped readable: a frame larger than
/// this could step over them, and Rust probes the pages of every frame larger
/// than one page, so none does.
const GUARD: usize = 64 << 10;

thread_local! {
    /// The stack this thread runs on, if [`run`] switched it: the lowest
    /// usable address and the size.
    static CURRENT: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
    /// The job [`run`] hands to [`start`] on the new stack (type-erased: a
    /// `Job<F, T>` that `run` owns and waits for).
    static JOB: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

/// The guard region of the switched stack, `[GUARD_LO, GUARD_HI)`, for the
/// fault handler (atomics: read in a signal handler). One per process: the
/// program's; the unit tests switch from several threads, and only the one
/// that overflows, in a process of its own, relies on it.
static GUARD_LO: AtomicUsize = AtomicUsize::new(0);
static GUARD_HI: AtomicUsize = AtomicUsize::new(0);

/// The stack [`run`] switched the calling thread to, if it did: its lowest
/// usable address and size (for `native_stack_limit`).
pub(super) fn current_stack() -> Option<(usize, usize)> {
    CURRENT.get()
}

/// What [`start`] runs and where it leaves the outcome.
struct Job<F, T> {
    f: Option<F>,
    outcome: Option<std::thread::Result<T>>,
}

/// A reserved stack: `size` bytes from `lo`, after a guard region, mapped
/// until dropped.
struct Reserved {
    base: *mut libc::c_void,
    lo: usize,
    size: usize,
}

impl Reserved {
    /// Reserve `size` bytes (halved on refusal down to `MIN_NATIVE_STACK`)
    /// with a guard region below them.
    fn new(size: usize) -> std::io::Result<Reserved> {
        crate::limits::halving(size, crate::limits::MIN_NATIVE_STACK, Reserved::exactly)
    }

    /// Reserve `size` bytes with a guard region below them, or fail.
    fn exactly(size: usize) -> std::io::Result<Reserved> {
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        // The guard region's protection is changed before any use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size + GUARD,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the first `GUARD` bytes of the mapping just made.
        if unsafe { libc::mprotect(base, GUARD, libc::PROT_NONE) } != 0 {
            let err = std::io::Error::last_os_error();
            // SAFETY: the whole mapping just made, not used.
            unsafe { libc::munmap(base, size + GUARD) };
            return Err(err);
        }
        Ok(Reserved {
            base,
            lo: base as usize + GUARD,
            size,
        })
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; nothing runs on it any more (the
        // switch back happened before the drop).
        unsafe { libc::munmap(self.base, self.size + GUARD) };
    }
}

/// Run `f` on a stack of `size` bytes (see `run_on_own_stack`; `_name` is the
/// thread's name where a thread runs it).
pub(super) fn run<F: FnOnce() -> T, T>(_name: &str, size: usize, f: F) -> Result<T, String> {
    let stack = Reserved::new(size).map_err(|e| format!("cannot reserve the program's stack: {e}"))?;
    install_fault_handler();
    let mut job = Job {
        f: Some(f),
        outcome: None,
    };
    // SAFETY: `ucontext_t` is plain data, filled in by `getcontext` before use.
    let mut back: libc::ucontext_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut ctx: libc::ucontext_t = unsafe { std::mem::zeroed() };
    // SAFETY: `getcontext` fills `ctx`.
    if unsafe { libc::getcontext(&mut ctx) } != 0 {
        return Err(format!(
            "cannot switch to the program's stack: {}",
            std::io::Error::last_os_error()
        ));
    }
    ctx.uc_stack.ss_sp = stack.lo as *mut libc::c_void;
    ctx.uc_stack.ss_size = stack.size;
    ctx.uc_link = &mut back;
    let previous = CURRENT.replace(Some((stack.lo, stack.size)));
    GUARD_LO.store(stack.base as usize, Ordering::Relaxed);
    GUARD_HI.store(stack.lo, Ordering::Relaxed);
    JOB.set((&mut job as *mut Job<F, T>).cast());
    // SAFETY: `ctx` runs `start::<F, T>` (no arguments) on the reserved stack,
    // which outlives the switch, and returns to `back` (`uc_link`) when it
    // ends; `start` finds `job` through `JOB` and lets no panic unwind out of
    // it. `swapcontext` saves this thread's state in `back` and returns here.
    let switched = unsafe {
        libc::makecontext(&mut ctx, start::<F, T>, 0);
        libc::swapcontext(&mut back, &ctx)
    };
    JOB.set(std::ptr::null_mut());
    CURRENT.set(previous);
    GUARD_LO.store(0, Ordering::Relaxed);
    GUARD_HI.store(0, Ordering::Relaxed);
    drop(stack);
    if switched != 0 {
        return Err(format!(
            "cannot switch to the program's stack: {}",
            std::io::Error::last_os_error()
        ));
    }
    match job.outcome {
        Some(Ok(v)) => Ok(v),
        _ => Err("internal error: the program's thread failed".into()),
    }
}

/// The first function on the new stack: run the job, keep its outcome (a
/// panic is caught here: it must not unwind into the frame `makecontext`
/// made), and return, which switches back to `run`.
extern "C" fn start<F: FnOnce() -> T, T>() {
    let job = JOB.get().cast::<Job<F, T>>();
    // SAFETY: `run` set `JOB` to its `Job<F, T>` right before switching here,
    // and does not touch it until this function returns.
    let job = unsafe { &mut *job };
    if let Some(f) = job.f.take() {
        job.outcome = Some(catch_unwind(AssertUnwindSafe(f)));
    }
}

/// The handlers that were there for `SIGSEGV` and `SIGBUS` before ours.
static mut PREVIOUS: [Option<libc::sigaction>; 2] = [None, None];

/// Install [`on_fault`] for `SIGSEGV` and `SIGBUS` (once per process),
/// keeping the handlers it replaces.
fn install_fault_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        for (i, sig) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
            // SAFETY: `action` is fully initialised before `sigaction` reads it;
            // `on_fault` has the `sa_sigaction` signature. `PREVIOUS` is written
            // here only, before the handler that reads it is installed.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault
                    as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                    as libc::sighandler_t;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) == 0 {
                    (*std::ptr::addr_of_mut!(PREVIOUS))[i] = Some(old);
                    libc::sigaction(sig, &action, std::ptr::null_mut());
                }
            }
        }
    });
}

/// A fault in the switched stack's guard region is a native stack overflow:
/// report it as the standard library does and abort. Any other fault goes to
/// the handler that was there before (the standard library's, which deals
/// with its own guard pages and otherwise lets the fault kill the process).
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO` handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    if (GUARD_LO.load(Ordering::Relaxed)..GUARD_HI.load(Ordering::Relaxed)).contains(&addr) {
        const MSG: &[u8] =
            b"\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow, aborting\n";
        // SAFETY: `write` and `abort` are async-signal-safe.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::abort();
        }
    }
    let i = usize::from(sig == libc::SIGBUS);
    // SAFETY: `PREVIOUS` is only written before this handler is installed.
    let previous = unsafe { (*std::ptr::addr_of!(PREVIOUS))[i] };
    match previous {
        Some(p) if p.sa_flags & libc::SA_SIGINFO != 0 && p.sa_sigaction > libc::SIG_IGN => {
            // SAFETY: an `SA_SIGINFO` handler takes these three arguments.
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(p.sa_sigaction) };
            handler(sig, info, ctx);
        }
        Some(p) if p.sa_sigaction > libc::SIG_IGN => {
            // SAFETY: a plain handler takes the signal number.
            let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(p.sa_sigaction) };
            handler(sig);
        }
        // No handler before (or an ignored fault, which cannot go on): the
        // default action, which returning from here takes when the faulting
        // instruction runs again.
        _ => {
            // SAFETY: restores the default disposition; async-signal-safe.
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_runs_on_the_reserved_stack_and_its_limit_is_known() {
        let size = 16 << 20;
        let (sp, limit, stack) = run("t", size, || {
            (
                super::super::native_sp(),
                super::super::native_stack_limit(),
                current_stack(),
            )
        })
        .expect("runs");
        let (lo, got) = stack.expect("switched");
        assert_eq!(got, size);
        assert!(lo < sp && sp <= lo + size, "sp {sp:#x} not in {lo:#x}+{size:#x}");
        assert_eq!(limit, lo + super::super::limit_margin(size));
        assert_eq!(current_stack(), None, "back on the thread's own stack");
    }

    #[test]
    fn a_panic_on_the_reserved_stack_is_an_error_and_the_thread_goes_on() {
        let r = run("t", 8 << 20, || -> u32 { panic!("expected by the test") });
        assert!(r.is_err());
        assert_eq!(run("t", 8 << 20, || 7).expect("runs again"), 7);
    }

    /// A native stack overflow in Rust code on the reserved stack ends with the
    /// standard library's message and `SIGABRT`, in a child process (this test
    /// binary, asked to overflow).
    #[test]
    fn an_overflow_of_the_reserved_stack_aborts_with_a_message() {
        const ENV: &str = "BP_TEST_OVERFLOW_OWN_STACK";
        if std::env::var_os(ENV).is_some() {
            #[inline(never)]
            #[allow(unconditional_recursion)] // Until the stack runs out: the test.
            fn deeper(n: u64) -> u64 {
                let frame = std::hint::black_box([n; 64]);
                deeper(frame[7] + 1) + std::hint::black_box(1)
            }
            let _ = run("t", 8 << 20, || deeper(0));
            return;
        }
        let exe = std::env::current_exe().expect("test binary");
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "native_stack::switch::tests::an_overflow_of_the_reserved_stack_aborts_with_a_message",
                "--nocapture",
            ])
            .env(ENV, "1")
            .output()
            .expect("child runs");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("has overflowed its stack"), "{stderr}");
    }
}
