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
//!
//! One exception on Linux: a block of [`MAPPED_MIN`] (1 MiB) or more, made
//! by `alloc` or grown to that size by `realloc`, is an anonymous mapping of
//! its own, which later growth extends with `mremap` (as glibc's `realloc`
//! does for its mapped chunks), and whose pages can be transparent huge pages
//! (`MADV_HUGEPAGE`, [`HUGE_PAGE`]) with `BP_HUGE_PAGES=1`.
//!
//! * **Growth without copies.** mimalloc grows a block by allocating a new one
//!   and copying, so a growing vector (a large map's entries, an array built
//!   by `array_push`) touched about twice its final size in fresh pages, each
//!   zeroed by the kernel and then overwritten by the copy; `mremap` moves the
//!   pages instead.
//! * **Huge pages, when asked for** ([`huge_pages_wanted`]: off by default,
//!   because a virtual machine's host may have to back each one again).
//!   The kernel clears one 2 MiB page per fault instead of
//!   512 pages of 4 KiB with one fault each (a fault costs about 1.7 µs on the
//!   benchmark machine), and a large array or map index takes 512 times fewer
//!   TLB entries: `maps` 45 -> 39 ms and `sieve` 60 -> 48 ms, with 4,309 ->
//!   1,994 and 8,298 -> 512 page faults (docs/benchmarks.md). A mapping is
//!   made of whole huge pages ([`mapping_len`]), so a block takes up to
//!   2 MiB more memory than its size once its last page is touched; blocks
//!   under 1 MiB, mimalloc's own memory, and so a small program, keep 4 KiB
//!   pages. `MIMALLOC_ALLOW_THP=0` in the environment turns huge pages off
//!   for the process whatever the system's setting (mimalloc then sets
//!   `PR_SET_THP_DISABLE`).
//! * **Reuse.** Like glibc's mapping threshold, [`MAP_FROM`] rises past the
//!   size of every mapped block freed: a program that keeps building and
//!   dropping blocks of one size reuses mimalloc's memory for them rather
//!   than faulting in a fresh mapping each time (building a 300 000-element
//!   array by `array_push` 100 times took 59,300 page faults instead of 6,400
//!   without that). The last mapping freed (up to [`SPARE_MAX`]) is not
//!   unmapped but kept as the [`SPARE`], which the next block that needs a
//!   fresh mapping of its length takes, pages and all: `sieve`'s five arrays
//!   of 2 million and a few flags, each a little larger than the last, fault
//!   their pages in once instead of five times.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment every mimalloc block has.
const WORD: usize = std::mem::size_of::<usize>();

/// The size from which a block lives in a mapping of its own (Linux). The
/// int half of `maps` (a 200 000-entry map: 8 MB of entries that double as
/// they fill) took 4,744 page faults, 2,100 of them in the
/// copies of growth; see docs/benchmarks.md for what this changed.
#[cfg(target_os = "linux")]
const MAPPED_MIN: usize = 1 << 20;

/// The size from which a new or grown block goes into a mapping now:
/// [`MAPPED_MIN`], raised past the size of every mapped block freed (up to
/// [`MAP_FROM_MAX`]).
#[cfg(target_os = "linux")]
static MAP_FROM: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(MAPPED_MIN);

/// The most [`MAP_FROM`] rises to (glibc's `DEFAULT_MMAP_THRESHOLD_MAX` on
/// 64-bit targets).
#[cfg(target_os = "linux")]
const MAP_FROM_MAX: usize = 32 << 20;

/// The size of a transparent huge page (what a page-middle-directory entry
/// maps with 4 KiB pages, on x86-64 and AArch64).
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// The length of the mapping that holds a block of `size` bytes (at least
/// [`MAPPED_MIN`]): whole huge pages, because Linux (6.7 and later) places an
/// anonymous mapping of such a length at a huge-page boundary, and `mremap`
/// keeps it there (growing in place, or moving to a new boundary). A block of
/// 1 MiB that grows to 2 MiB then stays where it is. The tail past `size` is
/// never touched, so it takes address space but no memory. `None`: too large.
#[cfg(target_os = "linux")]
fn mapping_len(size: usize) -> Option<usize> {
    size.checked_next_multiple_of(HUGE_PAGE)
}

/// The whole huge pages inside the block at `addr` of `size` bytes, as
/// (start, length), if there are any.
#[cfg(target_os = "linux")]
fn huge_interior(addr: usize, size: usize) -> Option<(usize, usize)> {
    let start = addr.checked_next_multiple_of(HUGE_PAGE)?;
    let end = addr.checked_add(size)? & !(HUGE_PAGE - 1);
    (end > start).then(|| (start, end - start))
}

/// Whether mappings get huge pages: only with `BP_HUGE_PAGES=1` in the
/// environment (read once; `getenv`, which allocates nothing, as the
/// allocator must not).
///
/// Off by default because on the benchmark machine, a Firecracker virtual
/// machine whose guest reports free 2 MiB blocks to the host (`virtio_balloon`
/// page reporting), a huge page is exactly such a block, which the host has
/// let go and must back again on first touch: about 10 ms per fault after
/// other programs had run (`binary_trees` 0.17 s or 0.46-0.64 s, the same
/// 1,200 faults, where without huge pages it is 0.18 s every time). In the
/// benchmark harness, where PyPy and CPython run between bp's runs, compiled
/// `binary_trees` took 935 and 974 ms with huge pages and 200 and 204 without
/// (docs/benchmarks.md, "Huge pages made opt-in"). On a quiet machine they
/// save 5-10 % of the memory-heavy programs, which is what the variable is for;
/// the JVM also leaves them to a flag (`-XX:+UseTransparentHugePages`).
#[cfg(target_os = "linux")]
fn huge_pages_wanted() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    // 0: not read yet, 1: no, 2: yes.
    static WANTED: AtomicU8 = AtomicU8::new(0);
    match WANTED.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: a NUL-terminated name; the result, if not null, is a
            // NUL-terminated string of the environment, read at once.
            let yes = unsafe {
                let v = libc::getenv(c"BP_HUGE_PAGES".as_ptr());
                !v.is_null() && std::ffi::CStr::from_ptr(v).to_bytes() == b"1"
            };
            WANTED.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
        w => w == 2,
    }
}

/// Ask for transparent huge pages in the whole huge pages of the mapping at
/// `ptr` of `size` bytes. Advice only: if the kernel has none to give (or
/// THP is off), the block keeps 4 KiB pages.
///
/// # Safety
/// `ptr` must be a mapping of at least `size` bytes made by this allocator.
#[cfg(target_os = "linux")]
unsafe fn advise_huge_pages(ptr: *mut u8, size: usize) {
    if !huge_pages_wanted() {
        return;
    }
    if let Some((start, len)) = huge_interior(ptr as usize, size) {
        // SAFETY: the range lies inside the caller's mapping; `madvise` only
        // sets a flag of it, and its failure changes nothing.
        unsafe { libc::madvise(start as *mut c_void, len, libc::MADV_HUGEPAGE) };
    }
}

/// The largest freed mapping kept as the spare ([`SPARE`]): more would stay
/// resident, unused, until the next block of its length.
#[cfg(target_os = "linux")]
const SPARE_MAX: usize = 64 << 20;

/// The last freed mapping of at most [`SPARE_MAX`] bytes, kept instead of
/// unmapped: its address and length. The next block that needs a fresh
/// mapping of exactly that length ([`mapping_len`]) takes it, pages already
/// faulted in (huge ones, cleared once), instead of faulting in new ones. A
/// program that makes a large block, drops it and makes one of about the same
/// size again (`sieve`'s array of 2 million flags per round) touches its
/// memory once; before, every round's block was a new mapping whose pages the
/// kernel cleared again, 38 % of `sieve`'s time.
#[cfg(target_os = "linux")]
static SPARE: std::sync::Mutex<Option<(usize, usize)>> = std::sync::Mutex::new(None);

/// The spare mapping, or nothing; whoever takes it owns it.
#[cfg(target_os = "linux")]
fn spare() -> std::sync::MutexGuard<'static, Option<(usize, usize)>> {
    // Nothing panics while the lock is held; a poisoned lock still holds a
    // valid pair.
    SPARE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A mapping for a block of `size` bytes: the spare if its length is the one
/// `size` needs (its old bytes still in it: `reused`), else a new one.
/// Null if the kernel refuses.
#[cfg(target_os = "linux")]
fn fresh_mapping(size: usize) -> (*mut u8, bool) {
    let Some(len) = mapping_len(size) else {
        return (std::ptr::null_mut(), false);
    };
    {
        let mut spare = spare();
        if let Some((addr, spare_len)) = *spare {
            if spare_len == len {
                *spare = None;
                return (addr as *mut u8, true);
            }
        }
    }
    (map(size), false)
}

/// A new anonymous mapping for a block of `size` bytes (zeroed, page-aligned),
/// with huge pages asked for; null if the kernel refuses.
#[cfg(target_os = "linux")]
fn map(size: usize) -> *mut u8 {
    let Some(len) = mapping_len(size) else {
        return std::ptr::null_mut();
    };
    // SAFETY: a new private anonymous mapping at an address of the kernel's
    // choice; nothing existing is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    // SAFETY: `p` is the mapping just made, of `len` bytes.
    unsafe { advise_huge_pages(p.cast(), len) };
    p.cast()
}

/// Whether a new block of `size` bytes aligned to `align` (allocated, or
/// grown from a mimalloc block) is a mapping of its own rather than a mimalloc
/// block: at least [`MAPPED_MIN`], at most page-aligned, and not of a size
/// whose mappings the program keeps freeing ([`MAP_FROM`]).
#[cfg(target_os = "linux")]
#[inline]
fn maps_fresh(size: usize, align: usize) -> bool {
    size >= MAPPED_MIN && align <= 4096 && size >= MAP_FROM.load(std::sync::atomic::Ordering::Relaxed)
}

/// Give back the mapped block at `ptr` of `size` bytes: it becomes the
/// [`SPARE`] (the spare it replaces is unmapped) or, longer than
/// [`SPARE_MAX`], is unmapped; and stop mapping blocks of that size
/// ([`MAP_FROM`]).
///
/// # Safety
/// `ptr` must be a mapping of `size` bytes made by this allocator, not used
/// again.
#[cfg(target_os = "linux")]
unsafe fn release_mapping(ptr: *mut u8, size: usize) {
    let len = mapping_len(size).unwrap_or(size);
    // The mapping becomes the spare (the one it replaces is unmapped), or, too
    // large for that, is unmapped.
    let unmapped = if len <= SPARE_MAX {
        spare().replace((ptr as usize, len))
    } else {
        Some((ptr as usize, len))
    };
    if let Some((addr, len)) = unmapped {
        // SAFETY: the caller's contract, or the old spare, which nobody else
        // holds; either mapping was made `len` long.
        unsafe { libc::munmap(addr as *mut c_void, len) };
    }
    MAP_FROM.fetch_max(
        size.saturating_add(1).min(MAP_FROM_MAX),
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// Whether the block at `ptr` of `size` bytes is one of [`MAPPED_MIN`]'s
/// mappings rather than a mimalloc block. Only blocks of that size can be.
#[cfg(target_os = "linux")]
#[inline]
fn is_mapped(ptr: *mut u8, size: usize) -> bool {
    // SAFETY: mimalloc's test of whether an address is memory it manages (a
    // lookup in its page map); nothing is read through `ptr`.
    size >= MAPPED_MIN && !unsafe { mi::mi_is_in_heap_region(ptr.cast_const().cast()) }
}

/// Grow or shrink the block at `ptr` (`old` bytes, alignment `align`, at most
/// a page) to `new_size` bytes when one side of the change is a mapping: from
/// mimalloc into a new mapping, within a mapping by `mremap`, or from a
/// mapping back to mimalloc below [`MAPPED_MIN`]. `None`: mimalloc's own
/// `realloc` is the right call. Null: the memory was refused.
///
/// # Safety
/// As [`GlobalAlloc::realloc`].
#[cfg(target_os = "linux")]
unsafe fn realloc_mapped(ptr: *mut u8, old: usize, align: usize, new_size: usize) -> Option<*mut u8> {
    let mapped = is_mapped(ptr, old);
    // SAFETY (the calls below): `ptr` is a live block of `old` bytes (the
    // caller's contract), a mapping exactly when `mapped`; new mappings are
    // anonymous and private, at an address of the kernel's choice; copies stay
    // within both blocks; the old block is freed by its own family once copied.
    unsafe {
        match (mapped, new_size >= MAPPED_MIN) {
            (true, true) => {
                let (Some(old_len), Some(new_len)) = (mapping_len(old), mapping_len(new_size)) else {
                    return Some(std::ptr::null_mut());
                };
                let p = libc::mremap(ptr.cast(), old_len, new_len, libc::MREMAP_MAYMOVE);
                if p == libc::MAP_FAILED {
                    return Some(std::ptr::null_mut());
                }
                advise_huge_pages(p.cast(), new_len);
                Some(p.cast())
            }
            (true, false) => {
                let p = mi_alloc(new_size, align);
                if !p.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, p, new_size.min(old));
                    release_mapping(ptr, old);
                }
                Some(p)
            }
            (false, true) if new_size > old && maps_fresh(new_size, align) => {
                // The copy fills the first `old` bytes; the rest is unspecified.
                let (p, _) = fresh_mapping(new_size);
                if p.is_null() {
                    // mimalloc may still find the memory.
                    return None;
                }
                std::ptr::copy_nonoverlapping(ptr, p, old);
                mi::mi_free(ptr.cast());
                Some(p)
            }
            (false, _) => None,
        }
    }
}

/// A mimalloc block of `size` bytes aligned to `align` (a power of two): plain
/// `mi_malloc` up to a word, which every mimalloc block satisfies.
///
/// # Safety
/// `align` must be a power of two.
#[inline]
unsafe fn mi_alloc(size: usize, align: usize) -> *mut u8 {
    // SAFETY: FFI calls with a size and a power-of-two alignment.
    unsafe {
        if align <= WORD {
            mi::mi_malloc(size).cast()
        } else {
            mi::mi_malloc_aligned(size, align).cast()
        }
    }
}

/// A fresh block of `layout` (which [`maps_fresh`]) in a mapping of its own,
/// zeroed if `zeroed` (a new mapping is; the spare is cleared), or from
/// mimalloc (zeroed) if the kernel refuses the mapping.
#[cfg(target_os = "linux")]
#[cold]
fn map_or_mimalloc(layout: Layout, zeroed: bool) -> *mut u8 {
    let (p, reused) = fresh_mapping(layout.size());
    if !p.is_null() {
        if reused && zeroed {
            // SAFETY: the spare is a mapping of at least `layout.size()` bytes
            // that nobody else holds.
            unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
        }
        return p;
    }
    // SAFETY: an FFI call with a size and a power-of-two alignment.
    unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()).cast() }
}

/// The address space mimalloc reserves at a time for its arenas, in KiB (its
/// default is 1 GiB). An arena starts with about 80 bitmaps of one bit per
/// 64 KiB slice, and creating it writes each bitmap's header: for 1 GiB that
/// touched 40 pages, a twentieth of hello world's peak memory; for 64 MiB the
/// bitmaps share 4 pages. A program that needs more gets more arenas, whose
/// size mimalloc doubles every eighth one.
const ARENA_RESERVE_KIB: std::ffi::c_long = 64 * 1024;

/// mimalloc's `mi_option_arena_reserve` (its `mimalloc.h`; the Rust crate's
/// list of options predates it). `tests/cli.rs` checks the arena a run
/// reserves.
const OPTION_ARENA_RESERVE: mi::mi_option_t = 23;

/// Set the mimalloc options that only take effect before its first
/// allocation; the `bp` binary calls this from `.init_array`, before Rust's
/// runtime allocates. They are defaults: `MIMALLOC_ARENA_RESERVE` in the
/// environment still wins.
pub fn configure() {
    // SAFETY: sets an option's default value, which mimalloc reads when it
    // reserves an arena.
    unsafe { mi::mi_option_set_default(OPTION_ARENA_RESERVE, ARENA_RESERVE_KIB) };
}

/// mimalloc as the global allocator (wrapped by [`crate::fatal::GuardedAlloc`]).
pub struct MiMalloc;

// SAFETY: every method hands the request to mimalloc's matching function; the plain
// functions are used only when the layout's alignment is at most a word, which
// every mimalloc block satisfies, and blocks from either family are freed and
// reallocated by the same mimalloc heap (`mi_free` and `mi_realloc` take both).
// The mappings `alloc` and `realloc` make (page-aligned, of at least
// `MAPPED_MIN` bytes, `mapping_len` long) are recognised by their size and by
// mimalloc's page map, and are unmapped or remapped, never given to mimalloc.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        #[cfg(target_os = "linux")]
        if maps_fresh(layout.size(), layout.align()) {
            return map_or_mimalloc(layout, false);
        }
        // SAFETY: a layout's alignment is a power of two.
        unsafe { mi_alloc(layout.size(), layout.align()) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        #[cfg(target_os = "linux")]
        if maps_fresh(layout.size(), layout.align()) {
            return map_or_mimalloc(layout, true);
        }
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
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        #[cfg(target_os = "linux")]
        if is_mapped(ptr, layout.size()) {
            // SAFETY: a mapping of `layout.size()` bytes made by `realloc`
            // (the caller passes the block's current layout).
            unsafe { release_mapping(ptr, layout.size()) };
            return;
        }
        // SAFETY: `ptr` came from this allocator (the caller's contract).
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A mapping is page-aligned, which satisfies every alignment we ask of
        // the allocator up to a page (mimalloc handles larger ones).
        #[cfg(target_os = "linux")]
        if layout.align() <= 4096 && (new_size >= MAPPED_MIN || layout.size() >= MAPPED_MIN) {
            // SAFETY: forwarded with the caller's guarantees.
            if let Some(p) = unsafe { realloc_mapped(ptr, layout.size(), layout.align(), new_size) } {
                return p;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Held by the tests that free mappings, so that the spare one each leaves
    /// is not taken or replaced by another test meanwhile.
    #[cfg(target_os = "linux")]
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[cfg(target_os = "linux")]
    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fill `n` bytes at `p` with a pattern of `seed`.
    unsafe fn fill(p: *mut u8, n: usize, seed: u8) {
        for i in (0..n).step_by(4093) {
            // SAFETY: `i < n`, within the block.
            unsafe { *p.add(i) = (i as u8).wrapping_add(seed) };
        }
    }

    /// Whether the first `n` bytes at `p` still hold `fill`'s pattern.
    unsafe fn holds(p: *const u8, n: usize, seed: u8) -> bool {
        // SAFETY: `i < n`, within the block.
        (0..n)
            .step_by(4093)
            .all(|i| unsafe { *p.add(i) } == (i as u8).wrapping_add(seed))
    }

    /// Allocate `first` bytes aligned to `align`, then `realloc` the block to
    /// each size of `steps` in turn, checking after each move that it kept its
    /// bytes and alignment and whether it is a mapping (`mapped`).
    fn move_through(first: usize, align: usize, steps: &[(usize, bool)]) {
        let a = MiMalloc;
        let mut layout = Layout::from_size_align(first, align).unwrap();
        // SAFETY: each block is used within its current size and freed once,
        // with its current layout.
        unsafe {
            let mut p = a.alloc(layout);
            fill(p, first, 7);
            let mut size = first;
            for &(new_size, mapped) in steps {
                p = a.realloc(p, layout, new_size);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "{size} -> {new_size}");
                assert!(holds(p, size.min(new_size), 7), "{size} -> {new_size}");
                fill(p, new_size, 7);
                #[cfg(target_os = "linux")]
                assert_eq!(is_mapped(p, new_size), mapped, "{new_size}");
                #[cfg(not(target_os = "linux"))]
                let _ = mapped;
                size = new_size;
                layout = Layout::from_size_align(size, align).unwrap();
            }
            a.dealloc(p, layout);
        }
    }

    /// A block grown past `MAPPED_MIN` keeps its bytes through every move:
    /// mimalloc to a mapping, mapping to a larger and a smaller one, back to
    /// mimalloc; one aligned above a word keeps its alignment too. (The sizes
    /// are above `MAP_FROM_MAX`: another test's freed mapping may have raised
    /// `MAP_FROM` meanwhile.)
    #[test]
    fn moves_through_a_mapping_keep_bytes_and_alignment() {
        #[cfg(target_os = "linux")]
        let _serial = serial();
        let steps = [
            (600_000, false),
            (40 << 20, true),
            (48 << 20, true),
            (5 << 20, true),
            (200, false),
        ];
        move_through(1000, 8, &steps);
        move_through(64, 256, &steps);
    }

    /// Fresh blocks of `MAPPED_MIN` or more are mappings (above
    /// `MAP_FROM_MAX` always: below it, another test's freed mapping may have
    /// raised `MAP_FROM`), zeroed when asked, and keep their bytes through
    /// growth; the first one of a size freed makes the next one of that size
    /// mimalloc's.
    #[test]
    #[cfg(target_os = "linux")]
    fn large_fresh_blocks_are_mappings_until_one_is_freed() {
        let _serial = serial();
        let a = MiMalloc;
        let size = MAP_FROM_MAX + 4096;
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: as above.
        unsafe {
            let p = a.alloc_zeroed(layout);
            assert!(!p.is_null());
            assert!(is_mapped(p, size));
            assert!((0..size).step_by(4093).all(|i| *p.add(i) == 0));
            fill(p, size, 3);
            let q = a.realloc(p, layout, size * 2);
            assert!(is_mapped(q, size * 2));
            assert!(holds(q, size, 3));
            a.dealloc(q, Layout::from_size_align(size * 2, 8).unwrap());
            // `MAP_FROM` is now past every size below `MAP_FROM_MAX`.
            let small = Layout::from_size_align(MAP_FROM_MAX - 4096, 8).unwrap();
            let r = a.alloc(small);
            assert!(!r.is_null());
            assert!(!is_mapped(r, small.size()));
            fill(r, small.size(), 5);
            assert!(holds(r, small.size(), 5));
            a.dealloc(r, small);
        }
    }

    /// A freed mapping of at most `SPARE_MAX` bytes is kept as the spare; the
    /// next fresh block of the same mapping length takes it (cleared if asked
    /// to be zeroed), one of another length does not, and a larger mapping
    /// freed is unmapped rather than kept. (Sizes above `MAP_FROM_MAX`, so
    /// that the blocks are mappings whatever `MAP_FROM` is.)
    #[test]
    #[cfg(target_os = "linux")]
    fn a_freed_mapping_is_reused_by_the_next_block_of_its_length() {
        let _serial = serial();
        let a = MiMalloc;
        let layout = Layout::from_size_align((58 << 20) + 1, 8).unwrap();
        let other = Layout::from_size_align((62 << 20) + 1, 8).unwrap();
        let huge = Layout::from_size_align((66 << 20) + 1, 8).unwrap();
        // SAFETY: each block is used within its size and freed once with its
        // layout.
        unsafe {
            let p = a.alloc(layout);
            assert!(is_mapped(p, layout.size()));
            fill(p, layout.size(), 9);
            a.dealloc(p, layout);
            assert_eq!(*spare(), Some((p as usize, 60 << 20)));
            let q = a.alloc_zeroed(layout);
            assert_eq!(q, p, "the spare was not reused");
            assert_eq!(*spare(), None);
            assert!((0..layout.size()).step_by(4093).all(|i| *q.add(i) == 0));
            a.dealloc(q, layout);
            let r = a.alloc(other);
            assert_ne!(r, q);
            assert!(is_mapped(r, other.size()));
            a.dealloc(r, other);
            assert_eq!(*spare(), Some((r as usize, 64 << 20)));
            let h = a.alloc(huge);
            a.dealloc(h, huge);
            assert_eq!(*spare(), Some((r as usize, 64 << 20)));
        }
    }

    /// A mapping is whole huge pages long, and only whole huge pages inside a
    /// block are advised.
    #[test]
    #[cfg(target_os = "linux")]
    fn mappings_are_whole_huge_pages() {
        assert_eq!(mapping_len(MAPPED_MIN), Some(HUGE_PAGE));
        assert_eq!(mapping_len(HUGE_PAGE), Some(HUGE_PAGE));
        assert_eq!(mapping_len(HUGE_PAGE + 1), Some(2 * HUGE_PAGE));
        assert_eq!(mapping_len(usize::MAX - 1), None);
        assert_eq!(
            huge_interior(HUGE_PAGE, 2 * HUGE_PAGE),
            Some((HUGE_PAGE, 2 * HUGE_PAGE))
        );
        assert_eq!(
            huge_interior(HUGE_PAGE + 4096, 2 * HUGE_PAGE),
            Some((2 * HUGE_PAGE, HUGE_PAGE))
        );
        assert_eq!(huge_interior(HUGE_PAGE + 4096, HUGE_PAGE), None);
        assert_eq!(huge_interior(usize::MAX - 4095, 4096), None);
    }
}
