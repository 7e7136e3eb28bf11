//! Typed access to heap objects from a [`Value`].

use super::object::{ArrayObj, ClosureObj, MapObj, ObjKind, OpaqueObj, StrObj, StructObj, TupleObj};
use crate::value::Value;

// ---------------------------------------------------------------------------
// Typed access. These functions rely on the type checker's guarantee that a slot of
// a given static type always holds a live object of the matching kind; they check
// the kind in debug builds. The `_mut` forms, which write through the value, are
// `unsafe fn`; the read forms still trust the caller (docs/architecture.md, "Forged
// values").
// ---------------------------------------------------------------------------

#[inline(always)]
pub fn obj_kind(v: Value) -> ObjKind {
    assert!(!v.is_null(), "null reference");
    // SAFETY: non-null Ref values always point to a live object (GC invariant).
    unsafe { (*v.as_ptr()).kind }
}

macro_rules! accessor {
    ($name:ident, $name_mut:ident, $ty:ty, $kind:pat) => {
        #[inline(always)]
        pub fn $name<'a>(v: Value) -> &'a $ty {
            debug_assert!(matches!(obj_kind(v), $kind));
            assert!(!v.is_null(), "null reference");
            // SAFETY: the static type guarantees the object kind; objects never move
            // and are only freed at safepoints, when no Rust reference is live.
            unsafe { &*(v.as_ptr() as *const $ty) }
        }
        /// A mutable reference to the object `v` points to.
        ///
        /// # Safety
        /// `v` must be a reference to a live object of this kind (not bits forged
        /// from an int), and no other reference to that object may be in use while
        /// the result is. The heap is used by one thread at a time.
        #[inline(always)]
        #[allow(clippy::mut_from_ref)]
        pub unsafe fn $name_mut<'a>(v: Value) -> &'a mut $ty {
            debug_assert!(matches!(obj_kind(v), $kind));
            assert!(!v.is_null(), "null reference");
            // SAFETY: the caller's contract: a live object of this kind, not aliased;
            // objects never move and are only freed at safepoints.
            unsafe { &mut *(v.as_ptr() as *mut $ty) }
        }
    };
}

accessor!(as_str, as_str_mut, StrObj, ObjKind::Str);
accessor!(as_array, as_array_mut, ArrayObj, ObjKind::Array);
accessor!(as_map, as_map_mut, MapObj, ObjKind::Map);
accessor!(as_tuple, as_tuple_mut, TupleObj, ObjKind::Tuple);
accessor!(
    as_struct,
    as_struct_mut,
    StructObj,
    ObjKind::Struct | ObjKind::Class
);
accessor!(as_closure, as_closure_mut, ClosureObj, ObjKind::Closure);
accessor!(as_opaque, as_opaque_mut, OpaqueObj, ObjKind::Opaque);

/// The bytes of a string value.
#[inline(always)]
pub fn str_bytes<'a>(v: Value) -> &'a [u8] {
    &as_str(v).bytes
}
