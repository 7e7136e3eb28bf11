//! The object ABI: the byte offsets at which compiled code reads heap objects
//! inline. Every object type named here is `#[repr(C)]`, so the offsets are fixed
//! at compile time by `offset_of!`, in this one place; the JIT reads these
//! constants and nothing else about object layouts.

use super::buffers::{ArrayBuf, FixedSlice};
use super::gc::Heap;
use super::object::{
    instance_size, ArrayObj, ClosureObj, ObjHeader, ObjKind, StrObj, StructHead, TupleObj, STRUCT_HEAD,
};
use std::mem::offset_of;

/// The object kind byte in every object's header.
pub const HDR_KIND: i32 = offset_of!(ObjHeader, kind) as i32;
/// The mark byte in every object's header (0 on a new object). The write
/// barrier tests its [`MARK_OLD_BIT`].
pub const HDR_MARK: i32 = offset_of!(ObjHeader, mark) as i32;
/// A string's position hint (`u32`): where a map last found it as a key
/// (any value; compiled code checks the entry there holds the very object).
pub const HDR_HINT: i32 = offset_of!(ObjHeader, hint) as i32;
/// The bit of the mark byte that only an old object not in the remembered
/// set has: a store of a reference into it must call the barrier's slow
/// path ([`super::object::write_barrier`]).
pub const MARK_OLD_BIT: u8 = super::object::OLD_BIT;
// The kind byte, the mark, the string's `buffered` flag and the printing
// walk's path flag are one 32-bit word, which compiled code's inline
// allocation writes at once: the kind, and zeros.
const _: () = assert!(offset_of!(ObjHeader, mark) == offset_of!(ObjHeader, kind) + 1);
const _: () = assert!(offset_of!(ObjHeader, buffered) == offset_of!(ObjHeader, kind) + 2);
const _: () = assert!(offset_of!(ObjHeader, on_path) == offset_of!(ObjHeader, kind) + 3);
const _: () = assert!(std::mem::size_of::<ObjKind>() == 1);
/// The value of that byte for a function value.
pub const KIND_CLOSURE: u8 = ObjKind::Closure as u8;
/// The kind byte of a struct and of a class instance.
pub const KIND_STRUCT: u8 = ObjKind::Struct as u8;
pub const KIND_CLASS: u8 = ObjKind::Class as u8;

/// An array's data pointer (`*mut Value`) and length (`u64`).
pub const ARRAY_PTR: i32 = (offset_of!(ArrayObj, items) + offset_of!(ArrayBuf, ptr)) as i32;
pub const ARRAY_LEN: i32 = (offset_of!(ArrayObj, items) + offset_of!(ArrayBuf, len)) as i32;
/// An array's capacity (`u64`) and element kind (a `ValKind` byte), which
/// compiled code writes when it allocates an empty array inline.
pub const ARRAY_CAP: i32 = (offset_of!(ArrayObj, items) + offset_of!(ArrayBuf, cap)) as i32;
pub const ARRAY_ELEM: i32 = offset_of!(ArrayObj, elem) as i32;
/// How many elements an array's cell holds after the object (a byte; 0 for
/// an empty array), which compiled code writes with every array it
/// allocates.
pub const ARRAY_INLINE: i32 = offset_of!(ArrayObj, inline_cap) as i32;
/// The kind byte of an array.
pub const KIND_ARRAY: u8 = ObjKind::Array as u8;
/// An array object lives in the cell of an instance of this many fields.
pub const ARRAY_CELL: usize = super::gc::ARRAY_CELL;
/// The data pointer of an empty array (capacity 0): `Vec::new`'s, a dangling
/// pointer aligned for `Value`, which is never read or freed.
pub const EMPTY_ARRAY_PTR: u64 = std::mem::align_of::<crate::value::Value>() as u64;

/// A string's byte pointer (`*const u8`) and length (`u64`).
pub const STR_PTR: i32 = offset_of!(StrObj, ptr) as i32;
pub const STR_LEN: i32 = offset_of!(StrObj, len) as i32;
/// The shared strings of at most one byte (`short_strs.rs`): the one of byte
/// `b` is at [`short_strs`]` + b * SHORT_STR_SIZE`, the empty one at index
/// [`EMPTY_STR_INDEX`].
pub const SHORT_STR_SIZE: usize = super::short_strs::SHORT_STR_SIZE;
pub const EMPTY_STR_INDEX: usize = super::short_strs::EMPTY_STR_INDEX;

/// The address of the shared strings' table (a static of the process).
pub fn short_strs() -> u64 {
    super::short_strs::SHORT_STRS.as_ptr() as u64
}

/// A struct's or class instance's layout id (`u32`).
pub const STRUCT_LAYOUT: i32 = offset_of!(StructHead, layout) as i32;
/// A struct's or class instance's field count (`u32`).
pub const STRUCT_LEN: i32 = offset_of!(StructHead, nfields) as i32;
/// Field 0 of a struct or class instance: the fields are inline, 8 bytes each.
pub const STRUCT_FIELDS: i32 = STRUCT_HEAD as i32;

/// The size in bytes of an instance of `n` fields (what inline allocation counts).
pub const fn struct_size(n: usize) -> usize {
    instance_size(n)
}

/// A tuple's kinds: pointer (at the items' end) and count.
pub const TUPLE_KINDS_PTR: i32 =
    (offset_of!(TupleObj, kinds) + offset_of!(FixedSlice<crate::value::ValKind>, ptr)) as i32;
pub const TUPLE_KINDS_LEN: i32 =
    (offset_of!(TupleObj, kinds) + offset_of!(FixedSlice<crate::value::ValKind>, len)) as i32;
/// The kind byte of a tuple, and the size of the object its items follow.
pub const KIND_TUPLE: u8 = ObjKind::Tuple as u8;
pub const TUPLE_HEAD: i32 = std::mem::size_of::<TupleObj>() as i32;

/// The cell class (an instance of that many fields) of a tuple of `n` items,
/// if it fits a cell; its items then follow the object and their kinds follow
/// them (`Heap::alloc_tuple`), which is how compiled code allocates it inline.
pub fn tuple_cell(n: usize) -> Option<usize> {
    super::gc::values_cell(super::object::tuple_size(n))
}

/// A tuple's item pointer and item count.
pub const TUPLE_PTR: i32 =
    (offset_of!(TupleObj, items) + offset_of!(FixedSlice<crate::value::Value>, ptr)) as i32;
pub const TUPLE_LEN: i32 =
    (offset_of!(TupleObj, items) + offset_of!(FixedSlice<crate::value::Value>, len)) as i32;

/// A function value's function id (`u32`), and its captured values' pointer and count.
pub const CLOSURE_FUNC: i32 = offset_of!(ClosureObj, func) as i32;
pub const CLOSURE_CAPTURES_PTR: i32 =
    (offset_of!(ClosureObj, captures) + offset_of!(FixedSlice<crate::value::Value>, ptr)) as i32;
pub const CLOSURE_CAPTURES_LEN: i32 =
    (offset_of!(ClosureObj, captures) + offset_of!(FixedSlice<crate::value::Value>, len)) as i32;

/// What compiled code reads of a map object ([`map_layout`]).
#[derive(Clone, Copy, Debug)]
pub struct MapLayout {
    /// Where it reads and overwrites the value of the entry at a known
    /// position (`OrderedMap::position`): the offset of the word that points
    /// at the entries, an entry's size, and the offset of the value in an
    /// entry.
    pub entries: (i32, i32, i32),
    /// Where it finds the position of a small int key: the offsets of the
    /// direct table's data pointer and length (`u32` slots: the position of
    /// key `k`'s entry plus one, 0 if absent; an empty table unless the keys
    /// are ints).
    pub direct: (i32, i32),
    /// Where it checks a key object's position hint ([`HDR_HINT`]): the
    /// offsets of the entries' length word in the map object and of the key's
    /// bits in an entry (0 in a deleted entry's place, which no object key
    /// has: `OrderedMap::remove`).
    pub hinted: (i32, i32),
}

/// The [`MapLayout`] of this build. Measured, not constants: `Vec` does not
/// declare the order of its words (`ordmap::entry_layout`).
pub fn map_layout() -> MapLayout {
    let l = crate::ordmap::entry_layout();
    let map = offset_of!(super::object::MapObj, entries);
    MapLayout {
        entries: ((map + l.data) as i32, l.stride as i32, l.value as i32),
        direct: ((map + l.direct_data) as i32, (map + l.direct_len) as i32),
        hinted: ((map + l.len) as i32, l.key as i32),
    }
}

/// The [`Heap`] words inline allocation reads and writes: the hole objects the
/// size of an instance of 0 fields are allocated from, its cursor and then its
/// limit (`HEAP_INSTANCE_HOLES + 16 * n` for `n` fields, `n <`
/// [`CELL_CLASSES`](super::CELL_CLASSES)). The objects compiled code allocates
/// inline (instances, arrays, tuples) live in instance chunks and are on no
/// list: their chunk marks them, and the heap counts a hole's cells toward the
/// next collection when it takes the hole (`cells.rs`).
pub const HEAP_INSTANCE_HOLES: i32 = Heap::OFF_INSTANCE_HOLES as i32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{as_array, as_array_mut, as_closure, as_struct, as_tuple, Heap, ObjHeader};
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read.

    /// Read the word at byte `off` of the object `v` points to, as compiled code does.
    fn word(v: Value, off: i32) -> u64 {
        // SAFETY: `v` is a live object of at least `off + 8` bytes (the tests below
        // pass offsets of fields inside it).
        unsafe { std::ptr::read((v.0 as *const u8).add(off as usize) as *const u64) }
    }

    /// Read the `T` at byte `off` of the object `v` points to.
    fn at<T: Copy>(v: Value, off: i32) -> T {
        // SAFETY: `v` is a live object with an initialised `T` at `off` (the
        // tests below pass offsets of fields of that type inside it).
        unsafe { std::ptr::read((v.0 as *const u8).add(off as usize) as *const T) }
    }

    #[test]
    fn offsets_find_the_fields_compiled_code_reads() {
        let mut h = Heap::new(false);
        let mut items = Vec::with_capacity(5);
        items.extend([Value::int(1), Value::int(2)]);
        let arr = h.alloc_array(ValKind::Int, items);
        assert_eq!(word(arr, ARRAY_PTR), unsafe { as_array(arr) }.data_ptr() as u64);
        assert_eq!(word(arr, ARRAY_LEN), 2);

        let tup = h.alloc_tuple(&[ValKind::Int; 3], &[Value::int(0); 3]);
        assert_eq!(
            word(tup, TUPLE_PTR),
            unsafe { as_tuple(tup) }.items.as_ptr() as u64
        );
        assert_eq!(word(tup, TUPLE_LEN), 3);
        // The layout compiled code allocates: items after the object, kinds
        // after them, in a cell of class `tuple_cell(n)`.
        assert_eq!(word(tup, TUPLE_PTR), tup.0 + TUPLE_HEAD as u64);
        assert_eq!(word(tup, TUPLE_KINDS_PTR), tup.0 + TUPLE_HEAD as u64 + 3 * 8);
        assert_eq!(word(tup, TUPLE_KINDS_LEN), 3);
        assert_eq!(at::<u8>(tup, HDR_KIND), KIND_TUPLE);
        assert_eq!(
            struct_size(tuple_cell(3).expect("a cell")),
            super::super::object::tuple_size(3)
        );

        let st = h.alloc_struct(7, false, [1, 2, 3, 4].map(Value::int));
        assert_eq!(at::<u32>(st, STRUCT_LAYOUT), 7);
        assert_eq!(at::<u32>(st, STRUCT_LEN), 4);
        assert_eq!(word(st, STRUCT_FIELDS + 2 * 8), 3);
        assert_eq!(
            unsafe { as_struct(st) }.fields.as_ptr() as u64,
            st.0 + STRUCT_FIELDS as u64
        );
        assert_eq!(at::<u8>(st, HDR_KIND), KIND_STRUCT);
        assert_eq!(at::<u8>(st, HDR_MARK), 0);

        let clo = h.alloc_closure(77, &[ValKind::Int], &[Value::int(0)]);
        assert_eq!(at::<u32>(clo, CLOSURE_FUNC), 77);
        assert_eq!(
            word(clo, CLOSURE_CAPTURES_PTR),
            unsafe { as_closure(clo) }.captures.as_ptr() as u64
        );
        assert_eq!(word(clo, CLOSURE_CAPTURES_LEN), 1);
        assert_eq!(at::<u8>(clo, HDR_KIND), KIND_CLOSURE);
    }

    /// Allocate a cell of `n` fields the way compiled code does inline
    /// (`Tr::alloc_cell`): take the next cell of the hole of that size, write
    /// its header with `kind`, then its contents with `init`. `None` when the
    /// fast path would take the helper.
    fn inline_cell(h: &mut Heap, n: usize, kind: u8, init: impl FnOnce(*mut u8)) -> Option<Value> {
        let base = h as *mut Heap as *mut u8;
        // The hole's cursor and limit words of the heap (pointers are read and
        // written as pointers, keeping their provenance for Miri).
        let ptr_at = |off: i32| {
            // SAFETY: `off` is one of the heap word offsets above.
            unsafe { base.add(off as usize) as *mut *mut u8 }
        };
        // SAFETY: every address is a word of `h` (offsets from `offset_of!`) or of
        // the cell taken, which is `struct_size(n)` bytes.
        unsafe {
            let size = struct_size(n);
            let cursor = ptr_at(HEAP_INSTANCE_HOLES + 16 * n as i32);
            let limit = ptr_at(HEAP_INSTANCE_HOLES + 16 * n as i32 + 8);
            let c = *cursor;
            if (*limit as usize).wrapping_sub(c as usize) < size {
                return None;
            }
            *cursor = c.add(size);
            *c.add(HDR_KIND as usize) = kind;
            *c.add(HDR_MARK as usize) = 0;
            init(c);
            Some(Value::obj(c as *mut ObjHeader))
        }
    }

    /// [`inline_cell`] of a class instance of layout `layout` with `n` fields
    /// `40, 41, ...`.
    fn inline_alloc(h: &mut Heap, layout: u32, n: usize) -> Option<Value> {
        inline_cell(h, n, KIND_CLASS, |c| {
            // SAFETY: `c` is a cell of `struct_size(n)` bytes.
            unsafe {
                *(c.add(STRUCT_LAYOUT as usize) as *mut u32) = layout;
                *(c.add(STRUCT_LEN as usize) as *mut u32) = n as u32;
                for i in 0..n {
                    *(c.add(STRUCT_FIELDS as usize + 8 * i) as *mut u64) = 40 + i as u64;
                }
            }
        })
    }

    /// An empty array written field by field as compiled code writes it is
    /// an array the runtime can grow, read, keep and free.
    #[test]
    fn an_empty_array_allocated_inline_is_an_array() {
        let mut h = Heap::new(false);
        assert_eq!(struct_size(ARRAY_CELL), std::mem::size_of::<ArrayObj>());
        // The first array makes the hole of its cells.
        let first = h.alloc_array(ValKind::Ref, Vec::new());
        assert_eq!(word(first, ARRAY_CAP), 0);
        assert_eq!(word(first, ARRAY_PTR), EMPTY_ARRAY_PTR);
        assert_eq!(at::<u8>(first, ARRAY_ELEM), ValKind::Ref as u8);
        assert_eq!(at::<u8>(first, HDR_KIND), KIND_ARRAY);
        let v = inline_cell(&mut h, ARRAY_CELL, KIND_ARRAY, |c| {
            // SAFETY: `c` is a cell of `size_of::<ArrayObj>()` bytes.
            unsafe {
                *c.add(ARRAY_ELEM as usize) = ValKind::Int as u8;
                *c.add(ARRAY_INLINE as usize) = 0;
                *(c.add(ARRAY_CAP as usize) as *mut u64) = 0;
                *(c.add(ARRAY_PTR as usize) as *mut u64) = EMPTY_ARRAY_PTR;
                *(c.add(ARRAY_LEN as usize) as *mut u64) = 0;
            }
        })
        .expect("a free cell");
        let a = unsafe { as_array_mut(v) };
        assert_eq!((a.elem, a.len()), (ValKind::Int, 0));
        for i in 0..100 {
            a.push(Value::int(i));
        }
        h.collect(&mut |m| unsafe { m.mark(v) });
        assert_eq!(unsafe { as_array(v) }.to_vec()[99], Value::int(99));
        // Dead, it is freed with its buffer (Miri and the debug allocator
        // check the free).
        h.collect_major(&mut |_| {});
        assert_eq!(h.objects(), 0);
    }

    /// A small array written field by field as compiled code writes it
    /// (`Tr::new_small_array`: its elements in its cell, after the object) is
    /// the array `Heap::alloc_array_of` makes: the runtime reads it, moves its
    /// elements out when it grows, and frees it to its own size's list.
    #[test]
    fn a_small_array_allocated_inline_is_an_array() {
        let mut h = Heap::new(false);
        let head = std::mem::size_of::<ArrayObj>();
        assert_eq!(struct_size(ARRAY_CELL + 2), head + 16);
        // The first array makes the hole of its cells.
        let first = h.alloc_array_of(ValKind::Int, &[Value::int(1), Value::int(2)]);
        assert_eq!(at::<u8>(first, ARRAY_INLINE), 2);
        assert_eq!(word(first, ARRAY_PTR), first.as_ptr() as u64 + head as u64);
        let v = inline_cell(&mut h, ARRAY_CELL + 2, KIND_ARRAY, |c| {
            // SAFETY: `c` is a cell of `size_of::<ArrayObj>() + 16` bytes.
            unsafe {
                *c.add(ARRAY_ELEM as usize) = ValKind::Int as u8;
                *c.add(ARRAY_INLINE as usize) = 2;
                *(c.add(ARRAY_CAP as usize) as *mut u64) = 2;
                *(c.add(ARRAY_PTR as usize) as *mut *mut u8) = c.add(head);
                *(c.add(ARRAY_LEN as usize) as *mut u64) = 2;
                *(c.add(head) as *mut u64) = Value::int(10).0;
                *(c.add(head + 8) as *mut u64) = Value::int(11).0;
            }
        })
        .expect("a free cell");
        let a = unsafe { as_array_mut(v) };
        assert_eq!(a.to_vec(), [Value::int(10), Value::int(11)]);
        for i in 12..100 {
            a.push(Value::int(i));
        }
        h.collect(&mut |m| unsafe { m.mark(v) });
        assert_eq!(unsafe { as_array(v) }.to_vec()[89], Value::int(99));
        // Dead, both are freed: the grown one with its buffer.
        h.collect_major(&mut |_| {});
        assert_eq!(h.objects(), 0);
    }

    #[test]
    fn inline_allocation_through_the_heap_words() {
        let mut h = Heap::new(false);
        // The first instance of 3 fields makes a new chunk its size's hole.
        let first = h.alloc_struct(1, true, [Value::int(7); 3]);
        let before = (h.objects(), h.bytes_allocated());
        let v = inline_alloc(&mut h, 5, 3).expect("a free cell");
        assert_ne!(v, first);
        assert_eq!(h.objects(), before.0 + 1);
        assert_eq!(h.bytes_allocated(), before.1 + struct_size(3) as u64);
        let s = unsafe { as_struct(v) };
        assert_eq!((s.layout, s.fields.len()), (5, 3));
        assert_eq!(s.fields[2], Value::int(42));
        // The new instance is kept while marked, and its cell is reused once it
        // is dead. After a collection no hole is left: the helper finds the
        // next one (the first cell, dead), then inline allocation goes on in it.
        h.collect(&mut |m| unsafe { m.mark(v) });
        assert_eq!(h.objects(), 1);
        assert_eq!(unsafe { as_struct(v) }.fields[0], Value::int(40));
        h.collect_major(&mut |_| {});
        assert_eq!(h.objects(), 0);
        assert!(inline_alloc(&mut h, 5, 3).is_none());
        assert_eq!(h.alloc_struct(1, true, [Value::int(7); 3]), first);
        let again = inline_alloc(&mut h, 5, 3).expect("a cell of the hole");
        assert_eq!(again, v);
        // Stress mode: no inline allocation, every `new` takes the helper.
        let mut st = Heap::new(true);
        st.alloc_struct(1, true, [Value::int(7); 3]);
        assert!(inline_alloc(&mut st, 5, 3).is_none());
    }

    #[test]
    fn adopted_cells_stay_valid() {
        let mut a = Heap::new(false);
        let mut b = Heap::new(false);
        let v = b.alloc_struct(2, false, [Value::int(1), Value::int(2)]);
        a.alloc_struct(2, false, [Value::int(3), Value::int(4)]);
        a.adopt_regions(&mut b);
        assert_eq!(b.cell_bytes(), 0);
        drop(b);
        // `v`'s chunk now belongs to `a`: still readable, and both free lists are
        // usable.
        assert_eq!(unsafe { as_struct(v) }.fields[1], Value::int(2));
        for _ in 0..10_000 {
            a.alloc_struct(2, false, [Value::int(5); 2]);
        }
        assert_eq!(unsafe { as_struct(v) }.fields[1], Value::int(2));
        // `v` is not on `a`'s object list (moving objects is `Heap::adopt`'s
        // part), so it is not swept.
    }
}
