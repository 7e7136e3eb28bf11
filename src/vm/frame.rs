//! The register stack and call records.
//!
//! # Layout
//!
//! All registers of all live frames live in one preallocated, never reallocated
//! buffer of [`Value`]s ([`RegStack`]). A frame is a window `base..base + nregs` of
//! that buffer; the callee's window starts right after the caller's
//! (`callee.base = caller.base + caller.nregs`). Because the buffer never moves, JIT
//! code may keep raw pointers into it (`frame: *mut Value` in the JIT ABI).
//!
//! The buffer has [`REG_SLACK`] extra slots past the last usable one, so that
//! `base + r` is inside the allocation for *every* `u8` register index `r` of any
//! frame whose window starts at or below [`RegStack::limit`]; register accesses in
//! the interpreter therefore need no bounds check.
//!
//! Call records ([`Frame`]) are kept separately in a `Vec<Frame>`: the innermost
//! frame is the last element.

use bp_runtime::value::Value;

/// Slots reserved past the usable part of the register stack: one full register
/// window (registers are `u8`).
pub const REG_SLACK: usize = 256;

/// One call record.
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
    /// for entry frames and for void functions).
    pub dst: u8,
}

/// The register stack: a fixed-size, zero-initialised buffer of value slots.
pub struct RegStack {
    ptr: *mut Value,
    len: usize,
}

impl RegStack {
    /// Allocate `usable + REG_SLACK` zeroed slots (lazily committed by the OS).
    pub fn new(usable: usize) -> RegStack {
        let len = usable.saturating_add(REG_SLACK);
        // `vec![0u64; n]` uses a zeroing allocation (calloc), so untouched pages
        // cost nothing.
        let v: Vec<u64> = vec![0u64; len];
        let mut v = std::mem::ManuallyDrop::new(v.into_boxed_slice());
        let ptr = v.as_mut_ptr() as *mut Value;
        RegStack { ptr, len }
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
        // SAFETY: `ptr`/`len` come from a leaked `Box<[u64]>` of exactly `len`
        // elements; `Value` is `repr(transparent)` over `u64`.
        unsafe {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.ptr as *mut u64,
                self.len,
            )));
        }
    }
}
