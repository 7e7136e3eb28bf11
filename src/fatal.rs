//! The last-resort path of a process that must die: an allocation that cannot fail
//! gracefully failed, or something called `abort()`.
//!
//! Rust cannot yet replace the allocation-failure handler on stable
//! (`set_alloc_error_hook` is unstable): an infallible allocation that gets null
//! (`Vec::push`, `Box::new`, ...) prints `memory allocation of N bytes failed` and
//! calls `abort()`. Fallible allocations (`try_reserve`), which turn into the
//! program's catchable `out of memory` error, get the same null from the allocator,
//! so the allocator itself must not stop the process. Instead:
//!
//! * [`GuardedAlloc`] wraps the global allocator and notes the size of a failed
//!   allocation ([`bp_runtime::rt::note_failed_allocation`]); whoever handles a
//!   failure gracefully clears the note (the VM, when it raises the program's
//!   runtime error);
//! * the `SIGABRT` handler ([`install_abort_handler`]) writes the running program's
//!   buffered stdout ([`bp_runtime::rt::emergency_flush_stdout`]); if a failed
//!   allocation is noted, the abort is the allocation-failure abort: it adds `bp:
//!   out of memory (could not allocate N bytes)` to stderr (after std's `memory
//!   allocation of N bytes failed`, which cannot be turned off on stable) and
//!   exits with status 1. Any other abort then proceeds as before (the process
//!   dies of `SIGABRT`), with stdout kept.
//!
//! Everything here allocates nothing and calls only async-signal-safe functions.

use bp_runtime::rt::{failed_allocation, note_failed_allocation};
use std::alloc::{GlobalAlloc, Layout};

/// A global allocator that delegates to `A` and notes failed allocations for the
/// abort handler.
pub struct GuardedAlloc<A>(pub A);

/// Note an allocation of `size` bytes that returned `p` if it failed.
#[inline(always)]
fn note(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        note_failed_allocation(size);
    }
    p
}

// SAFETY: every method forwards to `A` unchanged; `note` only records the outcome.
unsafe impl<A: GlobalAlloc> GlobalAlloc for GuardedAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        note(unsafe { self.0.alloc(layout) }, layout.size())
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        note(unsafe { self.0.alloc_zeroed(layout) }, layout.size())
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        note(unsafe { self.0.realloc(ptr, layout, new_size) }, new_size)
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
    // SAFETY: `abort()` raised this signal on the thread that called it, which
    // is stopped here; the stdout buffer is only ever used by the thread that
    // runs the program (see `emergency_flush_stdout`).
    unsafe { bp_runtime::rt::emergency_flush_stdout() };
    let size = failed_allocation();
    if size != 0 {
        let mut buf = [0u8; 80];
        let line = out_of_memory_line(size, &mut buf);
        let _ = bp_runtime::rt::write_all_fd(libc::STDERR_FILENO, line);
        // SAFETY: ends the process at once, as `abort` would have.
        unsafe { libc::_exit(1) };
    }
    // Any other abort: returning lets `abort()` end the process with SIGABRT.
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
}
