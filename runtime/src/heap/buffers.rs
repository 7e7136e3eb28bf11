//! The value buffers inside heap objects, with a layout compiled code can read.
//!
//! The layout of `Vec<Value>` and `Box<[Value]>` is not specified by Rust, but JIT
//! code reads an array's length and data pointer, and a tuple's or closure's
//! slots, inline. [`ArrayBuf`] is a `#[repr(C)]` owner of a `Vec`'s buffer and
//! [`FixedSlice`] the pointer and length of a run of values in its object's own
//! allocation, so their field offsets come from `offset_of!`
//! ([`super::abi`]). `ArrayBuf` does not reimplement growth: every operation that may
//! reallocate rebuilds the `Vec` it was made from ([`ArrayBuf::with_vec`]), runs
//! `Vec`'s own method and takes the parts back, so capacity rules, the allocator
//! and `try_reserve` behave exactly as before. Only `push`, `pop` and `clear`, on
//! the interpreter's and builtins' hot paths, touch the parts directly (through
//! `with_vec` they cost about 15% on a push/pop loop); `push` grows by
//! `Vec::reserve(1)`, the same amortised growth `Vec::push` uses.

use crate::value::Value;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// The element buffer of an array: the parts of a `Vec<Value>`, or of a
/// `Vec<u8>` for an array of `bool` (one byte per element; docs/architecture.md,
/// "Values"). The buffer does not know which: its owner, an
/// [`ArrayObj`](super::object::ArrayObj), does (its element kind), and names the
/// element type `T` on every call, so these methods are `unsafe`.
///
/// The field order (capacity, pointer, length) is the order rustc 1.95 gives
/// `Vec<Value>`, so compiled code kept the offsets it had when they were probed.
/// The length and capacity count elements, whatever their size.
#[repr(C)]
pub struct ArrayBuf {
    pub(super) cap: usize,
    /// Never null: `Vec`'s dangling pointer when nothing is allocated, or the
    /// shared empty pointer compiled code's inline `[]` writes (aligned for
    /// `Value`, so for `u8` too).
    pub(super) ptr: *mut u8,
    pub(super) len: usize,
}

// SAFETY: an `ArrayBuf` owns its buffer exactly as the `Vec<Value>` or `Vec<u8>` it
// was made from, which is `Send` and `Sync` (`Value` is a plain `u64`).
unsafe impl Send for ArrayBuf {}
// SAFETY: as above.
unsafe impl Sync for ArrayBuf {}

/// The element types an [`ArrayBuf`] holds: `Value`, or `u8` for `bool`, and
/// how a `Value` of the array's element kind is stored as one.
pub(super) trait Elem: Copy {
    fn from_value(v: Value) -> Self;
    fn to_value(self) -> Value;
}

impl Elem for Value {
    #[inline(always)]
    fn from_value(v: Value) -> Value {
        v
    }
    #[inline(always)]
    fn to_value(self) -> Value {
        self
    }
}

/// A `bool` as a byte, 0 or 1.
impl Elem for u8 {
    #[inline(always)]
    fn from_value(v: Value) -> u8 {
        v.as_bool() as u8
    }
    #[inline(always)]
    fn to_value(self) -> Value {
        Value::bool(self != 0)
    }
}

impl ArrayBuf {
    pub(super) fn from_vec<T: Elem>(vec: Vec<T>) -> ArrayBuf {
        let mut vec = ManuallyDrop::new(vec);
        ArrayBuf {
            cap: vec.capacity(),
            ptr: vec.as_mut_ptr().cast(),
            len: vec.len(),
        }
    }

    /// The elements of an array in a cell with room for `cap` of them after
    /// its object (of which this is the last field): `ptr` points there.
    ///
    /// # Safety
    /// `ptr` is the address right after where this `ArrayBuf` will stay, with
    /// room for `cap` elements of the array's element type, the first `len`
    /// initialised.
    pub(super) unsafe fn inline(ptr: *mut u8, len: usize, cap: usize) -> ArrayBuf {
        ArrayBuf { cap, ptr, len }
    }

    /// Whether the elements are in the cell, right after this `ArrayBuf`
    /// (see [`ArrayBuf::inline`]), rather than in an allocation of their own.
    /// (No allocation of its own can start right after the `ArrayBuf`: an
    /// array object is in a cell of a chunk, and what follows a cell is the
    /// next cell, or the end of the chunk, which the allocator follows with
    /// another block of a chunk's size, never one of a small buffer.)
    #[inline(always)]
    pub(super) fn is_inline(&self) -> bool {
        self.ptr as usize == self as *const ArrayBuf as usize + std::mem::size_of::<ArrayBuf>()
            && self.cap <= super::gc::INLINE_ARRAY_MAX
    }

    /// Move elements kept in the cell to an allocation of their own, with room
    /// to grow (twice the cell's room), before an operation that reallocates.
    ///
    /// # Safety
    /// As [`ArrayBuf::with_vec`].
    #[cold]
    #[inline(never)]
    unsafe fn move_out_of_cell<T: Elem>(&mut self) {
        let mut vec: Vec<T> = Vec::with_capacity((2 * self.cap).max(4));
        // SAFETY: the first `len` elements at `ptr` are initialised `T`s (the
        // caller's contract), and `vec` has room for them.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.cast::<T>(), vec.as_mut_ptr(), self.len);
            vec.set_len(self.len);
        }
        *self = ArrayBuf::from_vec(vec);
    }

    /// Run `f` on the buffer as a `Vec<T>`, then take its parts back (also when
    /// `f` unwinds, so the buffer is never freed twice or lost). Elements in
    /// the cell move out first (a `Vec` owns its allocation).
    ///
    /// # Safety
    /// `T` must be the type of the elements the buffer was made with.
    #[inline(always)]
    pub(super) unsafe fn with_vec<T: Elem, R>(&mut self, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
        if self.is_inline() {
            // SAFETY: the caller's contract.
            unsafe { self.move_out_of_cell::<T>() };
        }
        /// Writes the `Vec`'s parts back into the `ArrayBuf` when dropped.
        struct Restore<'a, T> {
            owner: &'a mut ArrayBuf,
            vec: ManuallyDrop<Vec<T>>,
        }
        impl<T> Drop for Restore<'_, T> {
            #[inline(always)]
            fn drop(&mut self) {
                let vec = &mut *self.vec;
                (self.owner.cap, self.owner.ptr, self.owner.len) =
                    (vec.capacity(), vec.as_mut_ptr().cast(), vec.len());
            }
        }
        // SAFETY: the parts come from a `Vec<T>` (the caller's contract) and are
        // kept up to date by `Restore`; the rebuilt `Vec` is never dropped
        // (`ManuallyDrop`), so ownership stays with `self`.
        let vec = ManuallyDrop::new(unsafe { Vec::from_raw_parts(self.ptr.cast::<T>(), self.len, self.cap) });
        let mut restore = Restore { owner: self, vec };
        f(&mut restore.vec)
    }

    /// The elements.
    ///
    /// # Safety
    /// As [`ArrayBuf::with_vec`].
    #[inline(always)]
    pub(super) unsafe fn as_slice<T: Elem>(&self) -> &[T] {
        // SAFETY: `ptr` is non-null and aligned for `T`, and its first `len`
        // elements are initialised (a `Vec`'s invariants, kept by `with_vec`).
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<T>(), self.len) }
    }

    /// The elements, to change.
    ///
    /// # Safety
    /// As [`ArrayBuf::with_vec`].
    #[inline(always)]
    pub(super) unsafe fn as_mut_slice<T: Elem>(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`; `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.cast::<T>(), self.len) }
    }

    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub(super) fn capacity(&self) -> usize {
        self.cap
    }

    /// `Vec::push`: when full, `reserve(1)` grows the buffer exactly as `push` would
    /// (both call the same amortised growth); then the element is written in place.
    ///
    /// # Safety
    /// As [`ArrayBuf::with_vec`].
    #[inline(always)]
    pub(super) unsafe fn push<T: Elem>(&mut self, v: T) {
        if self.len == self.cap {
            // SAFETY: the caller's contract.
            unsafe { self.with_vec::<T, _>(|vec| vec.reserve(1)) };
        }
        // SAFETY: `len < cap`, so slot `len` is inside the allocation.
        unsafe { self.ptr.cast::<T>().add(self.len).write(v) };
        self.len += 1;
    }

    /// # Safety
    /// As [`ArrayBuf::with_vec`].
    #[inline(always)]
    pub(super) unsafe fn pop<T: Elem>(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slot `len` (the old last one) is initialised; `T` is `Copy`.
        Some(unsafe { self.ptr.cast::<T>().add(self.len).read() })
    }

    /// `Vec::clear`: the elements have no destructor, so this only forgets them.
    pub(super) fn clear(&mut self) {
        self.len = 0;
    }

    /// Free the buffer (the array is being freed).
    ///
    /// # Safety
    /// As [`ArrayBuf::with_vec`]; the buffer is not used afterwards.
    pub(super) unsafe fn free<T: Elem>(&mut self) {
        if !self.is_inline() {
            // SAFETY: the parts are those of a live `Vec<T>` owned by `self`.
            drop(unsafe { Vec::from_raw_parts(self.ptr.cast::<T>(), self.len, self.cap) });
        }
        self.cap = 0;
        self.len = 0;
    }
}

/// A fixed-length run of `T` in memory its object does not own separately: a
/// tuple's items and kinds, which live in the tuple's own allocation, after
/// the object ([`Heap::alloc_tuple`](super::Heap::alloc_tuple)). Freeing the
/// tuple frees them; nothing here is dropped.
#[repr(C)]
pub struct FixedSlice<T> {
    /// Never null, aligned for `T` (the end of the object when empty).
    pub(super) ptr: *mut T,
    pub(super) len: usize,
}

// SAFETY: a `FixedSlice` is part of its object, which is sent and shared as a
// whole.
unsafe impl<T: Send> Send for FixedSlice<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for FixedSlice<T> {}

impl<T> Deref for FixedSlice<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` and `len` describe initialised memory of the live object.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T> DerefMut for FixedSlice<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_buf_grows_like_vec() {
        // SAFETY (every block below): the buffer is made of `Value`s, or of `u8`s
        // for `bytes`, and used as such.
        let mut a = ArrayBuf::from_vec(Vec::<Value>::new());
        let mut b: Vec<Value> = Vec::new();
        for i in 0..1000 {
            unsafe { a.push(Value::int(i)) };
            b.push(Value::int(i));
            assert_eq!(a.capacity(), b.capacity());
        }
        assert_eq!(unsafe { a.as_slice::<Value>() }, &b[..]);
        assert_eq!(unsafe { a.pop::<Value>() }, b.pop());
        unsafe { a.with_vec(|v| v.extend([Value::int(7), Value::int(8)])) };
        assert_eq!(a.len(), 1001);
        let cap = a.capacity();
        a.clear();
        assert_eq!(a.len(), 0);
        unsafe { a.push(Value::int(1)) };
        assert_eq!(a.capacity(), cap);
        assert_eq!(unsafe { a.as_slice::<Value>() }, &[Value::int(1)]);
        unsafe { a.free::<Value>() };

        let mut bytes = ArrayBuf::from_vec(vec![1u8, 0]);
        for i in 0..100u8 {
            unsafe { bytes.push(i & 1) };
        }
        assert_eq!(bytes.len(), 102);
        assert_eq!(unsafe { bytes.as_slice::<u8>() }[..4], [1, 0, 0, 1]);
        unsafe { bytes.free::<u8>() };
    }

    #[test]
    fn array_buf_keeps_its_buffer_when_an_operation_unwinds() {
        let mut a = ArrayBuf::from_vec(vec![Value::int(1), Value::int(2)]);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: a buffer of `Value`s.
            unsafe {
                a.with_vec(|v: &mut Vec<Value>| {
                    v.push(Value::int(3));
                    panic!("inside");
                })
            }
        }));
        assert!(r.is_err());
        // SAFETY: as above.
        assert_eq!(
            unsafe { a.as_slice::<Value>() },
            &[Value::int(1), Value::int(2), Value::int(3)]
        );
        // SAFETY: as above.
        unsafe { a.free::<Value>() };
    }
}
