//! The native stack of the thread that runs the program: where it is now and how
//! deep compiled code may go. Compiled code uses one native frame per call, so the
//! tier checks the native stack pointer before entering it and compiled code checks
//! it on every call (`docs/jit.md`). Kept here, below both the VM and the JIT, so
//! that neither has to import the other for it.

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
                    let margin = (size / 8).clamp(64 << 10, 4 << 20);
                    return lo + margin;
                }
            }
        }
    }
    // Unknown stack bounds: assume a conservative 1 MiB below the current point.
    sp.saturating_sub(1 << 20)
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
    let mut stack = stack;
    loop {
        let mine = std::sync::Arc::clone(&job);
        let spawned = std::thread::Builder::new()
            .name(name.clone())
            .stack_size(stack)
            .spawn(move || {
                let f = mine.lock().ok().and_then(|mut j| j.take());
                f.map(|f| f())
            });
        match spawned {
            Ok(h) => return Ok(h),
            Err(_) if stack > crate::limits::MIN_NATIVE_STACK => stack /= 2,
            Err(e) => return Err(e),
        }
    }
}
