//! The register stack and call records.
//!
//! # Layout
//!
//! All registers of all live frames live in one preallocated, never reallocated
//! buffer of [`Value`]s ([`RegStack`]). A frame is a window `base..base + nregs` of
//! that buffer; the callee's window starts right after the caller's
//! (`callee.base = caller.base + caller.nregs`). Because the buffer never moves, JIT
//! code may keep raw pointers into it (`base: *mut Value` in the JIT ABI).
//!
//! The buffer has [`REG_SLACK`] extra slots past the last usable one, so that
//! `base + r` is inside the allocation for *every* `u8` register index `r` of any
//! frame whose window starts at or below [`RegStack::limit`]; register accesses in
//! the interpreter therefore need no bounds check.
//!
//! Call records ([`Frame`]) are kept separately in a [`FrameStack`]: a preallocated,
//! never reallocated array of `#[repr(C)]` records plus a depth counter. The innermost
//! frame is the last live element. JIT code pushes and pops records inline (it writes
//! the record at index `depth` and stores `depth + 1`), so interpreted and compiled
//! activations share one stack that the garbage collector and the exception unwinder
//! walk (see `docs/jit.md`).

use crate::bytecode::{CallSite, Function, Instr, Reg};
use bp_runtime::rt::fallibly;
use bp_runtime::value::Value;

/// Slots reserved past the usable part of the register stack: one full register
/// window (registers are `u8`).
pub const REG_SLACK: usize = 256;

/// One call record. `#[repr(C)]`: JIT code reads and writes the fields at their
/// `offset_of!` offsets.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Function id (index into `Program::functions`).
    pub func: u32,
    /// Program counter of this frame. For the innermost frame it is only up to date
    /// when the interpreter leaves its loop or raises; for every other frame it is
    /// the index of the call instruction that is in progress (the caller resumes at
    /// `pc + 1`).
    pub pc: u32,
    /// Index of register 0 of this frame in the register stack.
    pub base: usize,
    /// Register of the *caller's* window that receives this frame's result (unused
    /// for entry frames, for void functions and for frames pushed by JIT code, whose
    /// caller reads the result from the callee's register 0).
    pub dst: u8,
}

/// The call-record stack: a fixed array of [`Frame`]s and the number of live ones.
///
/// The array is allocated once (zeroed, so untouched pages cost nothing) and never
/// moves: JIT code keeps its address as a constant. `len` is the only mutable
/// state; JIT code updates it through `Vm` (`offset_of!`).
#[repr(C)]
pub struct FrameStack {
    ptr: *mut Frame,
    /// Number of live frames (the depth).
    pub(crate) len: usize,
    cap: usize,
}

impl FrameStack {
    /// A stack with room for `cap` frames, at most
    /// [`MAX_DEPTH_CEILING`](crate::limits::MAX_DEPTH_CEILING) + 1; fewer (down to
    /// 1,000) when that much memory cannot be had. [`FrameStack::capacity`] tells
    /// how many.
    pub fn new(cap: usize) -> FrameStack {
        const WORDS: usize = std::mem::size_of::<Frame>() / 8;
        let want = cap.clamp(1, crate::limits::MAX_DEPTH_CEILING + 1);
        // Frame is plain data (integers) for which all-zero bytes are valid.
        let (ptr, cap) = alloc_zeroed_words(want, want.min(1000), WORDS);
        FrameStack {
            ptr: ptr as *mut Frame,
            len: 0,
            cap,
        }
    }

    /// Address of record 0 (for JIT code).
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut Frame {
        self.ptr
    }

    /// Maximum number of frames.
    #[inline(always)]
    pub fn capacity(&self) -> usize {
        self.cap
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Push a record. Callers check the depth limit first; pushing past the
    /// capacity is an internal error (a panic, reported as such).
    #[inline(always)]
    pub fn push(&mut self, f: Frame) {
        assert!(self.len < self.cap, "internal error: frame stack exhausted");
        // SAFETY: `len < cap` and the buffer holds `cap` records.
        unsafe { *self.ptr.add(self.len) = f };
        self.len += 1;
    }

    /// [`FrameStack::push`] without the capacity check.
    ///
    /// # Safety
    /// `len() < capacity()`.
    #[inline(always)]
    pub unsafe fn push_unchecked(&mut self, f: Frame) {
        // SAFETY: the caller's contract; the buffer holds `cap` records.
        unsafe { *self.ptr.add(self.len) = f };
        self.len += 1;
    }

    /// Set the pc of the innermost frame (its call in progress), if there is one.
    #[inline(always)]
    pub fn set_top_pc(&mut self, pc: u32) {
        if let Some(top) = self.last_mut() {
            top.pc = pc;
        }
    }

    /// [`FrameStack::set_top_pc`] of a stack known to hold a frame.
    ///
    /// # Safety
    /// `len() > 0`.
    #[inline(always)]
    pub unsafe fn set_top_pc_unchecked(&mut self, pc: u32) {
        debug_assert!(self.len > 0);
        // SAFETY: the caller's contract: record `len - 1` is live.
        unsafe { (*self.ptr.add(self.len - 1)).pc = pc };
    }

    /// Pop the innermost record of a stack known to hold one, and return it
    /// with the record under it (the new innermost), which the caller knows
    /// to exist too: a return to an interpreted caller.
    ///
    /// # Safety
    /// `len() >= 2`.
    #[inline(always)]
    pub unsafe fn pop_to_caller(&mut self) -> (Frame, Frame) {
        debug_assert!(self.len >= 2);
        self.len -= 1;
        // SAFETY: the caller's contract: records `len` (the popped one) and
        // `len - 1` were live.
        unsafe { (*self.ptr.add(self.len), *self.ptr.add(self.len - 1)) }
    }

    #[inline(always)]
    pub fn pop(&mut self) -> Option<Frame> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: `len < cap` (it was decremented from a valid depth).
        Some(unsafe { *self.ptr.add(self.len) })
    }

    #[inline(always)]
    pub fn last(&self) -> Option<&Frame> {
        self.as_slice().last()
    }

    #[inline(always)]
    pub fn last_mut(&mut self) -> Option<&mut Frame> {
        self.as_mut_slice().last_mut()
    }

    /// The live records, outermost first.
    #[inline(always)]
    pub fn as_slice(&self) -> &[Frame] {
        // SAFETY: the first `len <= cap` records are initialised (zeroed at
        // allocation, then written by pushes).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [Frame] {
        // SAFETY: as for `as_slice`; `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Frame> {
        self.as_slice().iter()
    }

    /// Record `i` (0 = outermost), live or not.
    pub fn get(&self, i: usize) -> Option<Frame> {
        if i < self.cap {
            // SAFETY: `i < cap`; every record is initialised.
            Some(unsafe { *self.ptr.add(i) })
        } else {
            None
        }
    }
}

impl Drop for FrameStack {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed_words` for exactly this many words.
        unsafe {
            free_words(
                self.ptr as *mut u64,
                self.cap * (std::mem::size_of::<Frame>() / 8),
            )
        }
    }
}

const _: () = assert!(std::mem::size_of::<Frame>().is_multiple_of(8));

/// What a frame of one function needs when the dispatch loop enters it (at a
/// call, a return or a caught exception): one record per function, made with
/// the VM ([`FnView::for_function`]). A call and a return load the function's
/// code, constants, loop counters, register count and closure register from
/// this one record rather than from three tables, and the dispatch loop keeps
/// a pointer to it instead of four locals that the compiler spilled to the
/// stack at every call (docs/benchmarks.md, "The interpreter's calls").
pub(crate) struct FnView<'p> {
    pub func: &'p Function,
    /// `func.code`.
    pub code: *const Instr,
    /// `func.sites`.
    pub sites: *const CallSite,
    /// The function's materialised constant pool (`Vm::consts`).
    pub consts: *const Value,
    /// The function's back-edge counters (`Tiering::loop_counts`).
    pub loop_ctrs: *mut u32,
    pub nregs: usize,
    pub nparams: u8,
    /// The register a lambda with captures finds its closure in, if it takes one.
    pub closure_reg: Option<Reg>,
    /// The function's reference registers that are not parameters: those a
    /// call nulls in the new frame. `[1]` leaves out the register after the
    /// parameters, in which an indirect call stores the closure.
    pub local_refs: [Box<[u8]>; 2],
}

impl<'p> FnView<'p> {
    /// The view of `func`, whose reference registers are `refs`, constants
    /// `consts` and loop counters `loop_ctrs`. The view points into both:
    /// the VM owns them, made before its views and never resized or replaced
    /// while they live.
    pub(crate) fn for_function(
        func: &'p Function,
        refs: &[u8],
        consts: &[Value],
        loop_ctrs: &mut [u32],
    ) -> Self {
        let locals = |from: u8| refs.iter().copied().filter(|&r| r >= from).collect();
        FnView {
            func,
            code: func.code.as_ptr(),
            sites: func.sites.as_ptr(),
            consts: consts.as_ptr(),
            loop_ctrs: loop_ctrs.as_mut_ptr(),
            nregs: func.nregs as usize,
            nparams: func.nparams,
            closure_reg: func.closure_register(),
            local_refs: [locals(func.nparams), locals(func.nparams.saturating_add(1))],
        }
    }
}

/// The register stack: a fixed-size, zero-initialised buffer of value slots.
pub struct RegStack {
    ptr: *mut Value,
    len: usize,
}

impl RegStack {
    /// Allocate `usable + REG_SLACK` zeroed slots (lazily committed by the OS);
    /// fewer usable slots (down to 4,096) when that much memory cannot be had.
    /// [`RegStack::limit`] tells how many.
    pub fn new(usable: usize) -> RegStack {
        let want = usable.saturating_add(REG_SLACK);
        let min = usable.min(4096) + REG_SLACK;
        let (ptr, len) = alloc_zeroed_words(want, min, 1);
        RegStack {
            ptr: ptr as *mut Value,
            len,
        }
    }

    /// Pointer to slot 0. Valid for `len()` slots for the lifetime of the stack.
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut Value {
        self.ptr
    }

    /// Total number of slots, slack included.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false (the stack has at least the slack slots); for clippy.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Highest slot index a frame window may end at (exclusive): a frame with
    /// `base + nregs <= limit()` fits, and any `u8` register of it is in bounds.
    #[inline(always)]
    pub fn limit(&self) -> usize {
        self.len - REG_SLACK
    }

    /// Read slot `i` (bounds-checked; for cold paths).
    pub fn get(&self, i: usize) -> Value {
        assert!(i < self.len);
        // SAFETY: `i < len` and the buffer holds `len` initialised slots.
        unsafe { *self.ptr.add(i) }
    }

    /// Write slot `i` (bounds-checked; for cold paths).
    pub fn set(&mut self, i: usize, v: Value) {
        assert!(i < self.len);
        // SAFETY: `i < len` and the buffer holds `len` initialised slots.
        unsafe { *self.ptr.add(i) = v }
    }

    /// The slots `from..to` (bounds-checked).
    pub fn slice(&self, from: usize, to: usize) -> &[Value] {
        assert!(from <= to && to <= self.len);
        // SAFETY: the range is inside the buffer, which lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.add(from), to - from) }
    }
}

impl Drop for RegStack {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed_words` for exactly `len` words;
        // `Value` is `repr(transparent)` over `u64`.
        unsafe { free_words(self.ptr as *mut u64, self.len) }
    }
}

/// Allocate `want` zeroed units of `unit` `u64`s each, or, when that fails, the
/// largest of `want / 2`, `want / 4`, ... that succeeds, down to `min`; returns the
/// block and its length in units. A zeroing allocation (calloc, fresh pages from
/// the OS) leaves the pages untouched, so a large stack costs address space only
/// until it is used. The larger tries may fail softly ([`fallibly`]); failing even
/// at `min` is an allocation failure (the process's out-of-memory path).
fn alloc_zeroed_words(want: usize, min: usize, unit: usize) -> (*mut u64, usize) {
    // Larger blocks than `isize::MAX` bytes cannot exist.
    let most = isize::MAX as usize / 8 / unit;
    let min = min.clamp(1, most);
    let mut units = want.clamp(min, most);
    while units > min {
        let p = alloc_words(units * unit);
        if !p.is_null() {
            return (p, units);
        }
        units = (units / 2).max(min);
    }
    if min * unit >= MAPPED_WORDS {
        let p = alloc_words(min * unit);
        if !p.is_null() {
            return (p, min);
        }
    }
    let layout = words_layout(min * unit);
    // SAFETY: `layout` has a non-zero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) } as *mut u64;
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    (p, min)
}

/// The layout of `words` `u64`s (`words * 8` is at most `isize::MAX`, so it exists).
fn words_layout(words: usize) -> std::alloc::Layout {
    match std::alloc::Layout::array::<u64>(words) {
        Ok(l) => l,
        Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<u64>()),
    }
}

/// Free a block from [`alloc_zeroed_words`].
///
/// # Safety
/// `p` must come from `alloc_zeroed_words` with this length, and not be used again.
unsafe fn free_words(p: *mut u64, words: usize) {
    if words >= MAPPED_WORDS {
        // SAFETY: the caller passes the mapping and length `alloc_words` made.
        unsafe { libc::munmap(p.cast(), words * 8) };
        return;
    }
    // SAFETY: the caller passes the block and length `alloc_zeroed_words` returned.
    unsafe { std::alloc::dealloc(p as *mut u8, words_layout(words)) }
}

/// Blocks of at least this many words (1 MiB) are mapped from the OS directly.
/// A stack is reserved at its full size but used from its start, so its pages
/// must be zero without being touched: the allocator may hand back a reused block
/// that it zeroes by writing every page (with one VM per thread, ten threads
/// then touched over a gigabyte), whereas a fresh anonymous mapping is zero and
/// costs memory only for the pages used. Unmapped when freed.
const MAPPED_WORDS: usize = 1 << 17;

/// `words` zeroed words (null if refused): an anonymous mapping from
/// [`MAPPED_WORDS`] on, else the global allocator.
fn alloc_words(words: usize) -> *mut u64 {
    if words >= MAPPED_WORDS {
        // SAFETY: an anonymous private mapping of a non-zero size at an address of
        // the kernel's choice; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                words * 8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        return if p == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            p.cast()
        };
    }
    let layout = words_layout(words);
    // SAFETY: `layout` has a non-zero size.
    fallibly(|| unsafe { std::alloc::alloc_zeroed(layout) }) as *mut u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_too_large_for_the_address_space_is_allocated_smaller() {
        // No machine maps 2^58 frames (6 EiB): the allocation shrinks by halves
        // until it succeeds, and the block it returns is whole and zeroed.
        let want = 1usize << 58;
        let (p, units) = alloc_zeroed_words(want, 1000, 3);
        assert!(units < want && units >= 1000, "{units}");
        // SAFETY: `p` holds `units * 3` zeroed words; they are freed once below.
        unsafe {
            assert_eq!(*p, 0);
            assert_eq!(*p.add(units * 3 - 1), 0);
            free_words(p, units * 3);
        }
    }

    #[test]
    fn huge_capacities_are_clamped_to_the_ceiling() {
        let f = FrameStack::new(usize::MAX);
        assert!(f.capacity() <= crate::limits::MAX_DEPTH_CEILING + 1);
        assert!(f.capacity() >= 1000);
        let r = RegStack::new(usize::MAX);
        assert!(r.limit() >= 4096);
    }
}
