//! The object ABI: the byte offsets at which compiled code reads heap objects
//! inline. Every object type named here is `#[repr(C)]`, so the offsets are fixed
//! at compile time by `offset_of!`, in this one place; the JIT reads these
//! constants and nothing else about object layouts.

use super::buffers::{ValueBox, ValueVec};
use super::object::{ArrayObj, ClosureObj, ObjHeader, ObjKind, StructObj, TupleObj};
use std::mem::offset_of;

/// The object kind byte in every object's header.
pub const HDR_KIND: i32 = offset_of!(ObjHeader, kind) as i32;
/// The value of that byte for a function value.
pub const KIND_CLOSURE: u8 = ObjKind::Closure as u8;

/// An array's data pointer (`*mut Value`) and length (`u64`).
pub const ARRAY_PTR: i32 = (offset_of!(ArrayObj, items) + offset_of!(ValueVec, ptr)) as i32;
pub const ARRAY_LEN: i32 = (offset_of!(ArrayObj, items) + offset_of!(ValueVec, len)) as i32;

/// A struct's or class instance's field pointer and field count.
pub const STRUCT_PTR: i32 = (offset_of!(StructObj, fields) + offset_of!(ValueBox, ptr)) as i32;
pub const STRUCT_LEN: i32 = (offset_of!(StructObj, fields) + offset_of!(ValueBox, len)) as i32;

/// A struct's or class instance's layout id (`u32`).
pub const STRUCT_LAYOUT: i32 = offset_of!(StructObj, layout) as i32;

/// A tuple's item pointer and item count.
pub const TUPLE_PTR: i32 = (offset_of!(TupleObj, items) + offset_of!(ValueBox, ptr)) as i32;
pub const TUPLE_LEN: i32 = (offset_of!(TupleObj, items) + offset_of!(ValueBox, len)) as i32;

/// A function value's function id (`u32`), and its captured values' pointer and count.
pub const CLOSURE_FUNC: i32 = offset_of!(ClosureObj, func) as i32;
pub const CLOSURE_CAPTURES_PTR: i32 = (offset_of!(ClosureObj, captures) + offset_of!(ValueBox, ptr)) as i32;
pub const CLOSURE_CAPTURES_LEN: i32 = (offset_of!(ClosureObj, captures) + offset_of!(ValueBox, len)) as i32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{as_array, as_closure, as_struct, as_tuple, Heap};
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read.

    /// Read the word at byte `off` of the object `v` points to, as compiled code does.
    fn word(v: Value, off: i32) -> u64 {
        // SAFETY: `v` is a live object of at least `off + 8` bytes (the tests below
        // pass offsets of fields inside it).
        unsafe { std::ptr::read((v.0 as *const u8).add(off as usize) as *const u64) }
    }

    #[test]
    fn offsets_find_the_fields_compiled_code_reads() {
        let mut h = Heap::new(false);
        let mut items = Vec::with_capacity(5);
        items.extend([Value::int(1), Value::int(2)]);
        let arr = h.alloc_array(ValKind::Int, items);
        assert_eq!(
            word(arr, ARRAY_PTR),
            unsafe { as_array(arr) }.items.as_ptr() as u64
        );
        assert_eq!(word(arr, ARRAY_LEN), 2);

        let tup = h.alloc_tuple(vec![ValKind::Int; 3].into(), vec![Value::int(0); 3].into());
        assert_eq!(
            word(tup, TUPLE_PTR),
            unsafe { as_tuple(tup) }.items.as_ptr() as u64
        );
        assert_eq!(word(tup, TUPLE_LEN), 3);

        let st = h.alloc_struct(0, false, vec![Value::int(0); 4].into());
        assert_eq!(
            word(st, STRUCT_PTR),
            unsafe { as_struct(st) }.fields.as_ptr() as u64
        );
        assert_eq!(word(st, STRUCT_LEN), 4);

        let clo = h.alloc_closure(77, vec![ValKind::Int].into(), vec![Value::int(0)].into());
        assert_eq!(word(clo, CLOSURE_FUNC) as u32, 77);
        assert_eq!(
            word(clo, CLOSURE_CAPTURES_PTR),
            unsafe { as_closure(clo) }.captures.as_ptr() as u64
        );
        assert_eq!(word(clo, CLOSURE_CAPTURES_LEN), 1);
        assert_eq!(word(clo, HDR_KIND) as u8, KIND_CLOSURE);
    }
}
