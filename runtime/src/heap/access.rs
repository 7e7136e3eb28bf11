//! Typed access to heap objects from a [`Value`].

use super::object::{
    write_barrier, ArrayObj, ClosureObj, MapObj, ObjKind, OpaqueObj, StrObj, StructHead, StructObj, TupleObj,
};
use crate::value::Value;

// ---------------------------------------------------------------------------
// Typed access. A `Value` is 64 untagged bits that `Value::int` can forge, so every
// function here that dereferences one is an `unsafe fn`: the caller vouches that the
// value is a live object of the right kind, usually by the type checker's guarantee
// that a slot of a given static type always holds one (docs/architecture.md,
// "Forged values"). The kind is checked in debug builds; null panics.
// ---------------------------------------------------------------------------

/// The kind of the object `v` points to.
///
/// # Safety
/// `v` must be null (which panics) or a live object, not bits forged from an int.
#[inline(always)]
pub unsafe fn obj_kind(v: Value) -> ObjKind {
    assert!(!v.is_null(), "null reference");
    // SAFETY: the caller's contract: non-null, so a live object.
    unsafe { (*v.as_ptr()).kind }
}

macro_rules! accessor {
    ($name:ident, $name_mut:ident, $ty:ty, $kind:pat, $barrier:expr) => {
        /// A shared reference to the object `v` points to.
        ///
        /// # Safety
        /// `v` must be null (which panics) or a live object of this kind, not bits
        /// forged from an int, and no mutable reference to that object may be in
        /// use while the result is. The result must not outlive a safepoint that
        /// could free the object. The heap is used by one thread at a time.
        #[inline(always)]
        pub unsafe fn $name<'a>(v: Value) -> &'a $ty {
            // SAFETY (both blocks): the caller's contract; objects never move and
            // are only freed at safepoints.
            debug_assert!(matches!(unsafe { obj_kind(v) }, $kind));
            assert!(!v.is_null(), "null reference");
            unsafe { &*(v.as_ptr() as *const $ty) }
        }
        /// A mutable reference to the object `v` points to. For an object that
        /// holds values, this is the write barrier's place
        /// ([`write_barrier`]): whoever changes an object through the result
        /// may store a reference into it.
        ///
        /// # Safety
        /// `v` must be a reference to a live object of this kind (not bits forged
        /// from an int), and no other reference to that object may be in use while
        /// the result is. The heap is used by one thread at a time.
        #[inline(always)]
        #[allow(clippy::mut_from_ref)]
        pub unsafe fn $name_mut<'a>(v: Value) -> &'a mut $ty {
            // SAFETY: the caller's contract: a live object.
            debug_assert!(matches!(unsafe { obj_kind(v) }, $kind));
            assert!(!v.is_null(), "null reference");
            if $barrier {
                // SAFETY: the caller's contract: a live object.
                unsafe { write_barrier(v.as_ptr()) };
            }
            // SAFETY: the caller's contract: a live object of this kind, not aliased;
            // objects never move and are only freed at safepoints.
            unsafe { &mut *(v.as_ptr() as *mut $ty) }
        }
    };
}

// Strings and host objects hold no values: no barrier.
accessor!(as_str, as_str_mut, StrObj, ObjKind::Str, false);
accessor!(as_array, as_array_mut, ArrayObj, ObjKind::Array, true);
accessor!(as_map, as_map_mut, MapObj, ObjKind::Map, true);
accessor!(as_tuple, as_tuple_mut, TupleObj, ObjKind::Tuple, true);

/// The fat pointer to the instance `v` points to: its address with its field count
/// as the metadata of the `fields` slice.
///
/// # Safety
/// `v` must be a live struct or class instance (not null, not bits forged from an
/// int).
#[inline(always)]
unsafe fn struct_ptr(v: Value) -> *mut StructObj {
    let p = v.as_ptr();
    // SAFETY: the caller's contract: a live instance, whose fixed part starts with
    // its field count's word (`StructHead`, `#[repr(C)]`).
    let n = unsafe { (*(p as *const StructHead)).nfields } as usize;
    // A slice pointer cast to a type with a slice tail keeps the address and the
    // length, which is the tail's length (the allocation holds `n` fields).
    std::ptr::slice_from_raw_parts_mut(p as *mut Value, n) as *mut StructObj
}

/// A shared reference to the struct or class instance `v` points to.
///
/// # Safety
/// `v` must be null (which panics) or a live struct or class instance, not bits
/// forged from an int, and no mutable reference to that object may be in use while
/// the result is. The result must not outlive a safepoint that could free the
/// object. The heap is used by one thread at a time.
#[inline(always)]
pub unsafe fn as_struct<'a>(v: Value) -> &'a StructObj {
    // SAFETY (both blocks): the caller's contract; objects never move and are only
    // freed at safepoints.
    debug_assert!(matches!(unsafe { obj_kind(v) }, ObjKind::Struct | ObjKind::Class));
    assert!(!v.is_null(), "null reference");
    unsafe { &*struct_ptr(v) }
}

/// A mutable reference to the struct or class instance `v` points to, after the
/// write barrier ([`write_barrier`]).
///
/// # Safety
/// `v` must be a reference to a live struct or class instance (not bits forged
/// from an int), and no other reference to that object may be in use while the
/// result is. The heap is used by one thread at a time.
#[inline(always)]
#[allow(clippy::mut_from_ref)]
pub unsafe fn as_struct_mut<'a>(v: Value) -> &'a mut StructObj {
    // SAFETY: the caller's contract: a live object.
    debug_assert!(matches!(unsafe { obj_kind(v) }, ObjKind::Struct | ObjKind::Class));
    assert!(!v.is_null(), "null reference");
    // SAFETY: the caller's contract: a live instance, not aliased; objects never
    // move and are only freed at safepoints. (The write barrier, as in the
    // other accessors.)
    unsafe {
        write_barrier(v.as_ptr());
        &mut *struct_ptr(v)
    }
}
accessor!(as_closure, as_closure_mut, ClosureObj, ObjKind::Closure, true);
accessor!(as_opaque, as_opaque_mut, OpaqueObj, ObjKind::Opaque, false);

/// The bytes of a string value.
///
/// # Safety
/// As [`as_str`]: `v` is null (which panics) or a live string.
#[inline(always)]
pub unsafe fn str_bytes<'a>(v: Value) -> &'a [u8] {
    // SAFETY: the caller's contract.
    unsafe {
        let s = as_str(v);
        // `ptr` points at `len` bytes the string owns (inline or adopted), which
        // never change while it lives.
        std::slice::from_raw_parts(s.ptr, s.len)
    }
}
