//! Where compiled code lives: one region of address space, reserved once and
//! mapped readable, writable and executable, into which `cranelift-jit` packs
//! the functions one after another (docs/jit.md, "Code memory").
//!
//! `cranelift-jit`'s own arena keeps write and execute apart: every
//! compilation starts a new page-aligned segment, makes it writable, and
//! makes it executable when the function is finalized. That is two
//! `mprotect`s per compiled function, and the second takes write permission
//! away from a page the other CPU may have in its TLB, so the kernel
//! interrupts that CPU (where the program runs) to flush it; and each
//! function takes a fresh page of its own. Here nothing changes protection
//! after the reservation. Where the system refuses writable executable
//! memory (`SELinux`'s `deny_execmem`, `PaX`), [`reserve`] falls back to
//! `cranelift-jit`'s arena.

use cranelift_jit::{ArenaMemoryProvider, BranchProtection, JITMemoryKind, JITMemoryProvider};
use cranelift_module::{ModuleError, ModuleResult};
use std::io;

/// Reserve about `size` bytes (down to `min`, halving, when the address-space
/// limit does not leave that much) for compiled code: readable, writable and
/// executable where the system allows it, else `cranelift-jit`'s arena.
pub(super) fn reserve(size: usize, min: usize) -> Result<Box<dyn JITMemoryProvider + Send>, String> {
    reserve_with(size, min, CodeArena::reserve)
}

/// [`reserve`], with `rwx` mapping the writable executable region.
fn reserve_with(
    size: usize,
    min: usize,
    rwx: impl FnMut(usize) -> io::Result<CodeArena>,
) -> Result<Box<dyn JITMemoryProvider + Send>, String> {
    match crate::limits::halving(size.max(min), min, rwx) {
        Ok(arena) => Ok(Box::new(arena)),
        Err(e) if refused_execmem(&e) => {
            crate::limits::halving(size.max(min), min, ArenaMemoryProvider::new_with_size)
                .map(|a| Box::new(a) as Box<dyn JITMemoryProvider + Send>)
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Whether `e` says that writable executable memory is not allowed here (as
/// opposed to there being too little address space).
fn refused_execmem(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM))
}

/// A reserved region with a bump pointer: functions and their data are
/// written where they run, and stay until the process ends.
struct CodeArena {
    base: *mut u8,
    size: usize,
    /// Bytes handed out.
    used: usize,
    /// Of them, the ones written since the last [`JITMemoryProvider::finalize`]
    /// (from here to `used`): their instruction-cache lines are made coherent
    /// there.
    unpublished: usize,
}

// SAFETY: the arena is owned by the JIT, which one thread at a time uses (behind
// its mutex); the raw pointer is an address in the process, valid on any thread.
unsafe impl Send for CodeArena {}

impl CodeArena {
    /// Map `size` bytes readable, writable and executable, without reserving
    /// swap for them (pages are materialised when code is written to them).
    fn reserve(size: usize) -> io::Result<CodeArena> {
        // SAFETY: a fresh anonymous private mapping at an address of the
        // kernel's choice: no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(CodeArena {
            base: p.cast(),
            size,
            used: 0,
            unpublished: 0,
        })
    }
}

impl JITMemoryProvider for CodeArena {
    /// The next `size` bytes at `align`, whatever `kind`: code and the little
    /// data `cranelift-jit` places beside it share the region.
    fn allocate(&mut self, size: usize, align: u64, _kind: JITMemoryKind) -> io::Result<*mut u8> {
        let align = usize::try_from(align).ok().filter(|a| a.is_power_of_two());
        let Some(align) = align else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad code alignment"));
        };
        let start = self.used.checked_add(align - 1).map(|s| s & !(align - 1));
        match start.and_then(|s| s.checked_add(size).map(|end| (s, end))) {
            Some((start, end)) if end <= self.size => {
                self.used = end;
                // SAFETY: `start + size <= self.size`: inside the mapping.
                Ok(unsafe { self.base.add(start) })
            }
            _ => Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "the JIT's code arena is full",
            )),
        }
    }

    /// Nothing to free: code is never freed (frames may run it until the end).
    unsafe fn free_memory(&mut self) {}

    /// The code written since the last call becomes executable as it is: the
    /// instruction caches are made coherent with it (a no-op on x86-64), and
    /// every thread's pipeline is flushed (a `membarrier` on AArch64). Branch
    /// target identification is never asked for (bp's flags do not set
    /// `use_bti`); it would need the pages' protection changed, so it is
    /// refused rather than ignored.
    fn finalize(&mut self, branch_protection: BranchProtection) -> ModuleResult<()> {
        if branch_protection != BranchProtection::None {
            let err = io::Error::new(
                io::ErrorKind::Unsupported,
                "branch target identification is not supported by bp's code arena",
            );
            return Err(ModuleError::Allocation { err });
        }
        let len = self.used - self.unpublished;
        if len > 0 {
            // SAFETY: `unpublished..used` is inside the mapping.
            let start = unsafe { self.base.add(self.unpublished) };
            let io = |err: io::Error| ModuleError::Allocation { err };
            // SAFETY: the range is mapped and holds the code just written.
            unsafe { wasmtime_jit_icache_coherence::clear_cache(start.cast(), len) }.map_err(io)?;
            wasmtime_jit_icache_coherence::pipeline_flush_mt().map_err(io)?;
        }
        self.unpublished = self.used;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_packed_and_aligned() {
        let mut a = CodeArena::reserve(1 << 16).unwrap();
        let p = a.allocate(10, 16, JITMemoryKind::Executable).unwrap();
        let q = a.allocate(10, 16, JITMemoryKind::Executable).unwrap();
        assert_eq!(q as usize - p as usize, 16);
        assert_eq!(q as usize % 16, 0);
        assert!(a.allocate(1 << 16, 16, JITMemoryKind::Executable).is_err());
        assert!(a.finalize(BranchProtection::None).is_ok());
        assert_eq!(a.unpublished, a.used);
    }

    /// Where writable executable memory is refused, the code goes to
    /// `cranelift-jit`'s arena (write and execute kept apart); a lack of
    /// address space is an error, as before.
    #[test]
    fn refused_execmem_falls_back_to_cranelift_s_arena() {
        let refused = |_| Err(io::Error::from_raw_os_error(libc::EACCES));
        assert!(reserve_with(1 << 22, 1 << 22, refused).is_ok());
        let no_room = |_| Err(io::Error::from_raw_os_error(libc::ENOMEM));
        assert!(reserve_with(1 << 22, 1 << 22, no_room).is_err());
    }
}
