//! The value buffers inside heap objects, with a layout compiled code can read.
//!
//! The layout of `Vec<Value>` and `Box<[Value]>` is not specified by Rust, but JIT
//! code reads an array's length and data pointer, and a tuple's, struct's or
//! closure's slots, inline. [`ValueVec`] and [`ValueBox`] are `#[repr(C)]` owners of
//! the same buffers, so their field offsets come from `offset_of!`
//! ([`super::abi`]). They do not reimplement growth: every operation that may
//! reallocate rebuilds the `Vec` it was made from ([`ValueVec::with_vec`]), runs
//! `Vec`'s own method and takes the parts back, so capacity rules, the allocator
//! and `try_reserve` behave exactly as before. Only `push`, `pop` and `clear`, on
//! the interpreter's and builtins' hot paths, touch the parts directly (through
//! `with_vec` they cost about 15% on a push/pop loop); `push` grows by
//! `Vec::reserve(1)`, the same amortised growth `Vec::push` uses.

use crate::value::Value;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// A growable buffer of values: the parts of a `Vec<Value>`.
///
/// The field order (capacity, pointer, length) is the order rustc 1.95 gives
/// `Vec<Value>`, so compiled code kept the offsets it had when they were probed.
#[repr(C)]
pub struct ValueVec {
    pub(super) cap: usize,
    /// Never null: `Vec`'s dangling pointer when nothing is allocated.
    pub(super) ptr: *mut Value,
    pub(super) len: usize,
}

// SAFETY: a `ValueVec` owns its buffer exactly as the `Vec<Value>` it was made from,
// which is `Send` and `Sync` (`Value` is a plain `u64`).
unsafe impl Send for ValueVec {}
// SAFETY: as above.
unsafe impl Sync for ValueVec {}

impl ValueVec {
    pub fn new() -> ValueVec {
        ValueVec::from(Vec::new())
    }

    /// Run `f` on the buffer as a `Vec<Value>`, then take its parts back (also when
    /// `f` unwinds, so the buffer is never freed twice or lost).
    #[inline(always)]
    pub fn with_vec<R>(&mut self, f: impl FnOnce(&mut Vec<Value>) -> R) -> R {
        /// Writes the `Vec`'s parts back into the `ValueVec` when dropped.
        struct Restore<'a> {
            owner: &'a mut ValueVec,
            vec: ManuallyDrop<Vec<Value>>,
        }
        impl Drop for Restore<'_> {
            #[inline(always)]
            fn drop(&mut self) {
                let vec = &mut *self.vec;
                (self.owner.cap, self.owner.ptr, self.owner.len) =
                    (vec.capacity(), vec.as_mut_ptr(), vec.len());
            }
        }
        // SAFETY: the parts come from a `Vec<Value>` (see `From<Vec<Value>>`) and
        // are kept up to date by `Restore`; the rebuilt `Vec` is never dropped
        // (`ManuallyDrop`), so ownership stays with `self`.
        let vec = ManuallyDrop::new(unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) });
        let mut restore = Restore { owner: self, vec };
        f(&mut restore.vec)
    }

    #[inline(always)]
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// `Vec::push`: when full, `reserve(1)` grows the buffer exactly as `push` would
    /// (both call the same amortised growth); then the value is written in place.
    #[inline(always)]
    pub fn push(&mut self, v: Value) {
        if self.len == self.cap {
            self.with_vec(|vec| vec.reserve(1));
        }
        // SAFETY: `len < cap`, so slot `len` is inside the allocation.
        unsafe { self.ptr.add(self.len).write(v) };
        self.len += 1;
    }

    #[inline(always)]
    pub fn pop(&mut self) -> Option<Value> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slot `len` (the old last one) is initialised; `Value` is `Copy`.
        Some(unsafe { self.ptr.add(self.len).read() })
    }

    pub fn insert(&mut self, index: usize, v: Value) {
        self.with_vec(|vec| vec.insert(index, v))
    }

    pub fn remove(&mut self, index: usize) -> Value {
        self.with_vec(|vec| vec.remove(index))
    }

    /// `Vec::clear`: `Value` has no destructor, so this only forgets the values.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn extend(&mut self, values: impl IntoIterator<Item = Value>) {
        self.with_vec(|vec| vec.extend(values))
    }
}

impl Default for ValueVec {
    fn default() -> Self {
        ValueVec::new()
    }
}

impl From<Vec<Value>> for ValueVec {
    #[inline]
    fn from(vec: Vec<Value>) -> ValueVec {
        let mut vec = ManuallyDrop::new(vec);
        ValueVec {
            cap: vec.capacity(),
            ptr: vec.as_mut_ptr(),
            len: vec.len(),
        }
    }
}

impl Drop for ValueVec {
    fn drop(&mut self) {
        // SAFETY: the parts are those of a live `Vec<Value>` owned by `self`.
        drop(unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) });
    }
}

impl Deref for ValueVec {
    type Target = [Value];
    #[inline(always)]
    fn deref(&self) -> &[Value] {
        // SAFETY: `ptr` is non-null and aligned, and its first `len` values are
        // initialised (a `Vec`'s invariants, kept by `with_vec`).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl DerefMut for ValueVec {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [Value] {
        // SAFETY: as in `deref`; `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl std::fmt::Debug for ValueVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a ValueVec {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A fixed-length buffer of values: the parts of a `Box<[Value]>`.
#[repr(C)]
pub struct ValueBox {
    /// Never null: the box's dangling pointer when it is empty.
    pub(super) ptr: *mut Value,
    pub(super) len: usize,
}

// SAFETY: a `ValueBox` owns its buffer exactly as the `Box<[Value]>` it was made
// from, which is `Send` and `Sync`.
unsafe impl Send for ValueBox {}
// SAFETY: as above.
unsafe impl Sync for ValueBox {}

impl From<Box<[Value]>> for ValueBox {
    #[inline]
    fn from(values: Box<[Value]>) -> ValueBox {
        let len = values.len();
        ValueBox {
            ptr: Box::into_raw(values) as *mut Value,
            len,
        }
    }
}

impl Drop for ValueBox {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr, self.len);
        // SAFETY: the parts are those of a live `Box<[Value]>` owned by `self`.
        drop(unsafe { Box::from_raw(slice) });
    }
}

impl Deref for ValueBox {
    type Target = [Value];
    #[inline(always)]
    fn deref(&self) -> &[Value] {
        // SAFETY: `ptr` and `len` describe the live, initialised boxed slice.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl DerefMut for ValueBox {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [Value] {
        // SAFETY: as in `deref`; `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl std::fmt::Debug for ValueBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a ValueBox {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_vec_grows_like_vec() {
        let mut a = ValueVec::new();
        let mut b: Vec<Value> = Vec::new();
        for i in 0..1000 {
            a.push(Value::int(i));
            b.push(Value::int(i));
            assert_eq!(a.capacity(), b.capacity());
        }
        assert_eq!(&a[..], &b[..]);
        assert_eq!(a.pop(), b.pop());
        a.extend([Value::int(7), Value::int(8)]);
        assert_eq!(a.len(), 1001);
        let cap = a.capacity();
        a.clear();
        assert!(a.is_empty());
        a.push(Value::int(1));
        assert_eq!(a.capacity(), cap);
        assert_eq!(&a[..], &[Value::int(1)]);
    }

    #[test]
    fn value_vec_keeps_its_buffer_when_an_operation_unwinds() {
        let mut a = ValueVec::from(vec![Value::int(1), Value::int(2)]);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            a.with_vec(|v| {
                v.push(Value::int(3));
                panic!("inside");
            })
        }));
        assert!(r.is_err());
        assert_eq!(&a[..], &[Value::int(1), Value::int(2), Value::int(3)]);
    }

    #[test]
    fn value_box_holds_its_slice() {
        let mut b = ValueBox::from(vec![Value::int(1), Value::int(2)].into_boxed_slice());
        b[1] = Value::int(5);
        assert_eq!(&b[..], &[Value::int(1), Value::int(5)]);
        let empty = ValueBox::from(Vec::new().into_boxed_slice());
        assert!(empty.is_empty());
    }
}
