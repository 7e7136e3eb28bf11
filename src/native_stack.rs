//! The native stack of the thread that runs the program: where it is now and how
//! deep compiled code may go. Compiled code uses one native frame per call, so the
//! tier checks the native stack pointer before entering it and compiled code checks
//! it on every call (`docs/jit.md`). Kept here, below both the VM and the JIT, so
//! that neither has to import the other for it.
//!
//! The program runs on a stack of its own (1 GiB unless the address space is
//! limited: `limits.rs`), on the main thread, which [`run_on_own_stack`]
//! switches to it (`switch.rs`, on Linux with glibc); elsewhere on a thread
//! started with that stack ([`spawn_with_stack`], which the program's own
//! threads use everywhere).

#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod switch;

/// Without glibc's `makecontext` (or on another target): the program's stack
/// is a thread's.
#[cfg(not(all(
    target_os = "linux",
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod switch {
    /// No stack is ever switched to.
    pub(super) fn current_stack() -> Option<(usize, usize)> {
        None
    }

    /// Run `f` on a thread named `name` with a stack of `size` bytes.
    pub(super) fn run<T: Send + 'static>(
        name: &str,
        size: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        const FAILED: &str = "internal error: the program's thread failed";
        match super::spawn_with_stack(name.to_string(), size, f) {
            Ok(h) => h
                .join()
                .map_err(|_| FAILED.to_string())?
                .ok_or_else(|| FAILED.to_string()),
            Err(e) => Err(format!("cannot start the program's thread: {e}")),
        }
    }
}

/// An approximation of the native stack pointer.
#[inline(always)]
pub fn native_sp() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

/// The lowest native stack address compiled code may use, with a margin for the
/// Rust code (interpreter, helpers, collector) that runs between two checks.
pub fn native_stack_limit() -> usize {
    let sp = native_sp();
    if let Some((lo, size)) = switch::current_stack() {
        if lo < sp && sp <= lo + size {
            return lo + limit_margin(size);
        }
    }
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
                    return lo + limit_margin(size);
                }
            }
        }
    }
    // Unknown stack bounds: assume a conservative 1 MiB below the current point.
    sp.saturating_sub(1 << 20)
}

/// How far above the bottom of a stack of `size` bytes compiled code stops.
fn limit_margin(size: usize) -> usize {
    (size / 8).clamp(64 << 10, 4 << 20)
}

/// Run `f` on a native stack of `size` bytes, or, when the address space does
/// not leave that much, the largest of `size / 2`, `size / 4`, ... down to
/// [`crate::limits::MIN_NATIVE_STACK`] that can be had (reserved, not touched),
/// and return its result. On Linux with glibc the calling thread switches to
/// that stack and back (`switch.rs`): starting a thread for it cost hello
/// world 70-170 µs of its 1.5 ms, the time this virtual machine takes to wake
/// the other CPU, where Linux starts the new thread (docs/benchmarks.md).
/// Elsewhere a thread named `name` runs it. `Err`: the stack could not be
/// had, or `f` panicked (the panic hook has reported it).
pub fn run_on_own_stack<T: Send + 'static>(
    name: &str,
    size: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    switch::run(name, size, f)
}

/// Start `f` on a new OS thread named `name` with a native stack of `stack` bytes,
/// or, when the address space does not leave that much, the largest of `stack / 2`,
/// `stack / 4`, ... down to [`crate::limits::MIN_NATIVE_STACK`] that can be had (the stack is
/// reserved, not touched). `Err` is the last refusal.
pub fn spawn_with_stack<T: Send + 'static>(
    name: String,
    stack: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<Option<T>>> {
    // Shared so that `f` survives a spawn that fails (and drops its closure).
    let job = std::sync::Arc::new(std::sync::Mutex::new(Some(f)));
    crate::limits::halving(stack, crate::limits::MIN_NATIVE_STACK, |stack| {
        let mine = std::sync::Arc::clone(&job);
        std::thread::Builder::new()
            .name(name.clone())
            .stack_size(stack)
            .spawn(move || {
                let f = mine.lock().ok().and_then(|mut j| j.take());
                f.map(|f| f())
            })
    })
}
