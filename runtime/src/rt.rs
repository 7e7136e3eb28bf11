//! The runtime context handed to every builtin: the heap, buffered stdout, the
//! random generator state and the program arguments.
//!
//! # Standard output
//!
//! `print` appends to [`Rt::out`]; the buffer is written to file descriptor 1 when
//! it is large, before anything that may block or hand over to other code
//! (`read_line`, `sleep`, `extern` calls, ...) and at exit. A write that fails stops
//! the program: [`Rt::flush`] records the error and returns `RtError::Exit`, which no
//! `try` can catch, so even `while true: print(x)` ends at its next flush. A closed
//! pipe (`EPIPE`; Rust ignores `SIGPIPE`) ends it quietly with status
//! [`BROKEN_PIPE_STATUS`], as a Unix tool killed by `SIGPIPE` appears to the shell;
//! any other error (`ENOSPC` on `/dev/full`) ends it with status 1 and the line of
//! [`Rt::output_error_message`].
//!
//! The buffer can also be registered ([`register_emergency_stdout`]) so that a
//! process that is about to die (allocation failure, `abort`) still writes it out,
//! from a signal handler, without allocating ([`emergency_flush_stdout`]).

use crate::heap::Heap;
use crate::value::Value;
use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Why a builtin (or a VM instruction implemented in the runtime) did not produce a
/// value.
#[derive(Clone, Debug, PartialEq)]
pub enum RtError {
    /// A runtime error; becomes a catchable exception whose message is the text.
    Error(String),
    /// `exit(code)`, or stdout cannot be written: stop the program now with this
    /// status.
    Exit(i32),
}

impl RtError {
    pub fn msg(s: impl Into<String>) -> RtError {
        RtError::Error(s.into())
    }
}

pub type RtResult = Result<Value, RtError>;

pub struct Rt {
    pub heap: Heap,
    /// Buffered standard output; flushed when large and at exit.
    pub out: Vec<u8>,
    /// Why writing stdout failed; once set, output is discarded and every flush
    /// stops the program again.
    pub out_error: Option<std::io::Error>,
    /// State of the language's 64-bit LCG (LANGUAGE.md §9.7), initially 1.
    pub rng: u64,
    /// Program arguments (after the script path), as the bytes the OS passed
    /// (they need not be UTF-8).
    pub args: Vec<Vec<u8>>,
    /// What objects of the heap may refer to and must outlive it: the constant
    /// pools of the programs that ran on it (`ConstPool`).
    pub keep_alive: Vec<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
}

/// Buffered stdout above which the VM flushes it (after each `print`).
pub const OUT_FLUSH: usize = 1 << 16;

/// Exit status of a program whose stdout is a closed pipe: 128 + `SIGPIPE`, the
/// status a shell reports for a Unix tool killed by `SIGPIPE` (`yes | head -1`).
pub const BROKEN_PIPE_STATUS: i32 = 128 + 13;

impl Rt {
    pub fn new(heap: Heap, args: Vec<Vec<u8>>) -> Rt {
        Rt {
            heap,
            out: Vec::with_capacity(OUT_FLUSH),
            out_error: None,
            rng: 1,
            args,
            keep_alive: Vec::new(),
        }
    }

    /// Write buffered stdout to file descriptor 1. When that fails (now or
    /// earlier), the buffer is dropped and the result is `RtError::Exit` with
    /// [`Rt::output_status`]: the program must stop.
    pub fn flush(&mut self) -> Result<(), RtError> {
        if self.out_error.is_none() && !self.out.is_empty() {
            if let Err(e) = write_all_fd(libc::STDOUT_FILENO, &self.out) {
                self.out_error = Some(e);
            }
        }
        self.out.clear();
        match self.output_status() {
            0 => Ok(()),
            code => Err(RtError::Exit(code)),
        }
    }

    /// 0 while stdout works; otherwise the exit status of the program
    /// ([`BROKEN_PIPE_STATUS`] for a closed pipe, 1 for any other error).
    pub fn output_status(&self) -> i32 {
        self.out_error.as_ref().map_or(0, stdout_failure_status)
    }

    /// The line to report on stderr for a failed stdout (`bp: error writing to
    /// stdout: No space left on device`); `None` when stdout works or is a closed
    /// pipe (which ends the program quietly).
    pub fn output_error_message(&self) -> Option<String> {
        self.out_error.as_ref().and_then(stdout_failure_message)
    }

    /// Allocate a string value.
    #[inline]
    pub fn str(&mut self, bytes: impl crate::heap::StrSource) -> Value {
        self.heap.alloc_str(bytes)
    }
}

/// The exit status of a process whose stdout failed with `e`:
/// [`BROKEN_PIPE_STATUS`] for a closed pipe, 1 for any other error. The one rule
/// for program output and for `bp`'s own output (disassembly, help).
pub fn stdout_failure_status(e: &std::io::Error) -> i32 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        BROKEN_PIPE_STATUS
    } else {
        1
    }
}

/// The stderr line for a stdout that failed with `e`
/// (`bp: error writing to stdout: No space left on device`); `None` for a closed
/// pipe, which ends the process quietly.
pub fn stdout_failure_message(e: &std::io::Error) -> Option<String> {
    (e.kind() != std::io::ErrorKind::BrokenPipe)
        .then(|| format!("bp: error writing to stdout: {}\n", io_error_text(e)))
}

/// The text of an I/O error without std's ` (os error N)` suffix.
pub fn io_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => match text.strip_suffix(&format!(" (os error {code})")) {
            Some(t) => t.to_string(),
            None => text,
        },
        None => text,
    }
}

/// Write all of `bytes` to file descriptor `fd`, retrying after signals and short
/// writes, and waiting when the descriptor is non-blocking and full. Allocates
/// nothing and calls only async-signal-safe functions (it is also the emergency
/// flush of a dying process).
pub fn write_all_fd(fd: libc::c_int, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid buffer of `bytes.len()` bytes.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
            continue;
        }
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EAGAIN) => wait_writable(fd),
            _ => return Err(e),
        }
    }
    Ok(())
}

/// Block until `fd` (a non-blocking descriptor that returned `EAGAIN`) is writable.
fn wait_writable(fd: libc::c_int) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`. Errors (EINTR) just retry the write.
    unsafe { libc::poll(&mut p, 1, -1) };
}

/// The stdout buffer of the running program, for [`emergency_flush_stdout`]; null
/// when none is registered.
static EMERGENCY_STDOUT: AtomicPtr<Vec<u8>> = AtomicPtr::new(std::ptr::null_mut());

/// Register `buf` (the running program's [`Rt::out`]) as the buffer that
/// [`emergency_flush_stdout`] writes, until the returned guard is dropped. Only one
/// buffer is registered at a time; the call registers nothing when another one is.
/// The buffer must stay at this address while the guard lives.
pub fn register_emergency_stdout(buf: &Vec<u8>) -> EmergencyStdout {
    let p = buf as *const Vec<u8> as *mut Vec<u8>;
    let mine = EMERGENCY_STDOUT
        .compare_exchange(std::ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if mine {
        OWNS_EMERGENCY_STDOUT.with(|o| o.set(true));
    }
    EmergencyStdout(if mine { p } else { std::ptr::null_mut() })
}

/// Keeps a buffer registered for [`emergency_flush_stdout`]; unregisters it when
/// dropped (also when a panic unwinds past it).
#[must_use = "the buffer is unregistered when the guard is dropped"]
pub struct EmergencyStdout(*mut Vec<u8>);

impl Drop for EmergencyStdout {
    fn drop(&mut self) {
        if !self.0.is_null() {
            OWNS_EMERGENCY_STDOUT.with(|o| o.set(false));
            let _ = EMERGENCY_STDOUT.compare_exchange(
                self.0,
                std::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }
}

/// Write the registered stdout buffer to file descriptor 1, for a process that is
/// about to die (from a `SIGABRT` handler or the allocation-failure path). Allocates
/// nothing; errors are ignored. The buffer is unregistered first, so a second call
/// writes nothing. On any thread but the one that registered the buffer it writes
/// nothing either: that thread may be in the middle of changing it.
///
/// # Safety
/// Call only while the current thread is stopped inside the runtime (the allocator
/// returning null, or a synchronous signal such as `SIGABRT` raised by `abort()`),
/// so that the buffer is not being mutated by this thread during the call. Its
/// pointer and length are always consistent there: `Vec` growth replaces the pointer
/// only after the new block is filled, and a failed growth leaves it untouched.
pub unsafe fn emergency_flush_stdout() {
    if !OWNS_EMERGENCY_STDOUT.with(|o| o.get()) {
        return;
    }
    let p = EMERGENCY_STDOUT.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if p.is_null() {
        return;
    }
    // SAFETY: `p` was registered from a live `Vec` that stays in place until it is
    // unregistered; the caller guarantees nothing mutates it now.
    let buf = unsafe { &*p };
    let _ = write_all_fd(libc::STDOUT_FILENO, buf);
}

thread_local! {
    /// How many [`fallibly`] calls are active on this thread. `const`-initialised
    /// and without a destructor, so the allocator may read it at any time.
    static FALLIBLE_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Whether this thread registered the emergency stdout buffer (only its owner
    /// may write it out: another thread could catch it in the middle of a change).
    static OWNS_EMERGENCY_STDOUT: Cell<bool> = const { Cell::new(false) };
}

/// Run `f`, whose allocations may fail softly: inside it a null from the global
/// allocator is handed back to the caller (`try_reserve` turns it into the
/// program's catchable `out of memory`). Everywhere else the `bp` binary's
/// allocator treats a null as fatal (`bp::fatal`): it writes stdout out, prints one
/// line and exits with status 1, instead of Rust's allocation-failure abort.
#[inline]
pub fn fallibly<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            FALLIBLE_DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    FALLIBLE_DEPTH.with(|d| d.set(d.get() + 1));
    let _leave = Leave;
    f()
}

/// Whether the current thread is inside [`fallibly`]. Allocates nothing.
#[inline]
pub fn in_fallible_scope() -> bool {
    FALLIBLE_DEPTH.with(|d| d.get() != 0)
}
