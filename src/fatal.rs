//! The last-resort path of a process that must die: an allocation that cannot fail
//! gracefully failed, or something called `abort()`.
//!
//! Rust cannot yet replace the allocation-failure handler on stable
//! (`set_alloc_error_hook` is unstable): an infallible allocation that gets null
//! (`Vec::push`, `Box::new`, ...) would print `memory allocation of N bytes failed`
//! and call `abort()`, throwing the program's buffered stdout away. So the allocator
//! itself decides:
//!
//! * [`GuardedAlloc`] wraps the global allocator. A null inside
//!   [`bp_runtime::rt::fallibly`] (the `try_reserve` paths, which become the
//!   program's catchable `out of memory`, and stacks that are allocated smaller when
//!   the address space is tight) goes back to the caller. Any other null is fatal:
//!   the running program's buffered stdout is written
//!   ([`bp_runtime::rt::emergency_flush_stdout`]), stderr gets the one line
//!   `bp: out of memory (could not allocate N bytes)`, and the process exits with
//!   status 1.
//! * the `SIGABRT` handler ([`install_abort_handler`]) writes the buffered stdout of
//!   any other abort before the process dies of the signal as before.
//!
//! Everything on these paths allocates nothing and calls only async-signal-safe
//! functions.

use bp_runtime::rt::in_fallible_scope;
use std::alloc::{GlobalAlloc, Layout};

/// A global allocator that delegates to `A` and ends the process cleanly when an
/// allocation that cannot fail gracefully fails (module documentation).
pub struct GuardedAlloc<A>(pub A);

/// Pass on the result `p` of an allocation of `size` bytes; a null outside a
/// fallible scope ends the process.
#[inline(always)]
fn check(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() && !in_fallible_scope() {
        out_of_memory(size);
    }
    p
}

/// Write the program's stdout, one line on stderr, and exit with status 1.
#[cold]
#[inline(never)]
fn out_of_memory(size: usize) -> ! {
    // SAFETY: the allocator is running on this thread, so this thread is not in the
    // middle of changing its stdout buffer (a failed growth of it leaves it intact).
    unsafe { bp_runtime::rt::emergency_flush_stdout() };
    let mut buf = [0u8; 80];
    let line = out_of_memory_line(size, &mut buf);
    let _ = bp_runtime::rt::write_all_fd(libc::STDERR_FILENO, line);
    // SAFETY: ends the process at once; nothing may run that could allocate.
    unsafe { libc::_exit(1) }
}

// SAFETY: every method forwards to `A` unchanged; `check` only looks at the outcome.
unsafe impl<A: GlobalAlloc> GlobalAlloc for GuardedAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        check(unsafe { self.0.alloc(layout) }, layout.size())
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        check(unsafe { self.0.alloc_zeroed(layout) }, layout.size())
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        check(unsafe { self.0.realloc(ptr, layout, new_size) }, new_size)
    }
}

/// Install the `SIGABRT` handler described in the module documentation.
#[cfg(unix)]
pub fn install_abort_handler() {
    // SAFETY: `on_abort` is an async-signal-safe handler with the `sa_handler`
    // signature; `action` is fully initialised before `sigaction` reads it.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_abort as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // On the alternate signal stack when the thread has one (an abort after
        // a native stack overflow).
        action.sa_flags = libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGABRT, &action, std::ptr::null_mut());
    }
}

#[cfg(not(unix))]
pub fn install_abort_handler() {}

#[cfg(unix)]
extern "C" fn on_abort(_sig: libc::c_int) {
    // SAFETY: `abort()` raised this signal on the thread that called it, which is
    // stopped here (the flush writes nothing on any other thread).
    unsafe { bp_runtime::rt::emergency_flush_stdout() };
    // Returning lets `abort()` end the process with SIGABRT.
}

/// `bp: out of memory (could not allocate N bytes)\n`, formatted into `buf`
/// without allocating.
pub fn out_of_memory_line(size: usize, buf: &mut [u8; 80]) -> &[u8] {
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        buf[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    put(b"bp: out of memory (could not allocate ");
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = size;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    put(&digits[i..]);
    put(b" bytes)\n");
    &buf[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_out_of_memory_line_names_the_size() {
        let mut buf = [0u8; 80];
        assert_eq!(
            out_of_memory_line(0, &mut buf),
            b"bp: out of memory (could not allocate 0 bytes)\n"
        );
        assert_eq!(
            out_of_memory_line(usize::MAX, &mut buf),
            b"bp: out of memory (could not allocate 18446744073709551615 bytes)\n"
        );
    }

    /// The binaries link GCC's unwinder statically (build.rs): a panic still
    /// unwinds to `catch_unwind`, which every `extern "C"` helper relies on,
    /// instead of aborting the process. Through a function that is not
    /// inlined, and on another thread, as helpers run on the program's threads.
    #[test]
    fn panics_unwind_to_catch_unwind() {
        #[inline(never)]
        fn fails(n: usize) -> usize {
            if std::hint::black_box(n) > 0 {
                panic!("expected by the test");
            }
            n
        }
        let caught = std::thread::spawn(|| std::panic::catch_unwind(|| fails(1)).is_err())
            .join()
            .expect("the thread itself does not panic");
        assert!(caught);
    }
}
