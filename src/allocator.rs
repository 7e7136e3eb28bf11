//! The global allocator of `bp`: mimalloc, called through its C API.
//!
//! Every heap object of a program is a separate allocation, and mimalloc makes
//! allocation-heavy programs about twice as fast as glibc malloc
//! (docs/benchmarks.md). The `mimalloc` crate's `GlobalAlloc` passes every request
//! to `mi_malloc_aligned`, whatever its alignment. For a block size that is not a
//! power of two (an array object is 48 bytes) mimalloc's aligned path cannot prove
//! the alignment from the size class, so it over-allocates and adjusts the pointer:
//! 15 % of the `alloc` benchmark's time was in `mi_theap_malloc_zero_aligned_at_*`
//! and `mi_good_size`. Every mimalloc block is aligned to a machine word (block sizes
//! are whole words, pages start aligned), so a request with at most that
//! alignment, which is nearly every Rust allocation, takes plain `mi_malloc`, as
//! std's `System` allocator takes plain `malloc` below its `MIN_ALIGN`.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment every mimalloc block has.
const WORD: usize = std::mem::size_of::<usize>();

/// mimalloc as the global allocator (wrapped by [`crate::fatal::GuardedAlloc`]).
pub struct MiMalloc;

// SAFETY: every method hands the request to mimalloc's matching function; the plain
// functions are used only when the layout's alignment is at most a word, which
// every mimalloc block satisfies, and blocks from either family are freed and
// reallocated by the same mimalloc heap (`mi_free` and `mi_realloc` take both).
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: FFI calls with a size and a power-of-two alignment.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (the caller's contract).
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout` (the caller's
        // contract); the new block keeps the alignment, as `alloc` chooses it.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}
