//! Object layouts: the header every heap object starts with, one `#[repr(C)]`
//! struct per object kind, and the registry of struct and class layouts.

use super::buffers::{ArrayBuf, Elem, FixedSlice};
use crate::limits::{self, LimitError};
use crate::ordmap::OrderedMap;
use crate::value::{ValKind, Value};
use std::any::Any;

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjKind {
    Str,
    Array,
    Map,
    Tuple,
    Struct,
    Class,
    Closure,
    /// Host objects (mutexes, condition variables, FFI handles).
    Opaque,
}

#[repr(C)]
pub struct ObjHeader {
    pub(super) next: *mut ObjHeader,
    pub kind: ObjKind,
    /// The collector's mark, which is also the object's generation: 0 for a
    /// young object ([`UNMARKED`]), odd for an old one (the mark of the
    /// collection that last marked it, [`MARK_A`] or [`MARK_B`], or
    /// [`IMMORTAL`]), [`REMEMBERED`] for an old one in the remembered set.
    /// Marks are sticky: a collection leaves its survivors marked, so between
    /// collections a marked object is an old one (docs/architecture.md,
    /// "Generations"). An instance in a cell is marked in its chunk's bits
    /// (`cells.rs`); this byte then only says whether it is old.
    pub(super) mark: u8,
    /// For a string: its bytes are in a shared growable buffer ([`StrBuf`]). Only
    /// read for strings (compiled code's inline allocation of instances leaves it
    /// as the cell's last occupant had it).
    pub(super) buffered: bool,
    /// The printing walk (format.rs) flags the containers on its current path
    /// here ([`set_path_mark`]); the walk clears every flag it sets before it
    /// returns, also when unwinding.
    pub(super) on_path: bool,
    /// For a string: the position in a map's entries at which a lookup with
    /// this very object as the key last found it (any value: a map checks
    /// the entry there holds this object before it believes it,
    /// `MapKey::position_hint`). In the header's padding. Read and written
    /// as an atomic, relaxed: a string constant may be read by two threads.
    pub(super) hint: u32,
}

/// [`ObjHeader::mark`] of a young object: allocated since the last collection
/// (or, while a collection marks, not reached yet).
pub(super) const UNMARKED: u8 = 0;
/// The two marks of old objects. Major collections alternate between them:
/// one marks with the mark the previous one did not use, so every old object
/// reads as unmarked to it without a pass that clears the marks first; a
/// minor collection marks with the mark of the last major one, which every
/// old object of the all-objects list has.
pub(super) const MARK_A: u8 = 1;
pub(super) const MARK_B: u8 = 3;
/// [`ObjHeader::mark`] of an object no collection marks, traces or frees (the
/// shared short strings and a program's string constants).
pub const IMMORTAL: u8 = 0xff;
/// The bit every old object's mark has, and the write barrier tests.
pub const OLD_BIT: u8 = 1;
/// [`ObjHeader::mark`] of an old object that may refer to young ones: the
/// write barrier ([`write_barrier`]) put it in the remembered set when a
/// reference was first stored into it after a collection, and the next
/// minor collection traces it as a root.
pub(super) const REMEMBERED: u8 = 2;
const _: () = assert!(MARK_A & OLD_BIT != 0 && MARK_B & OLD_BIT != 0 && IMMORTAL & OLD_BIT != 0);
const _: () = assert!(UNMARKED & OLD_BIT == 0 && REMEMBERED & OLD_BIT == 0);

/// The write barrier: a store of a reference into the object `p` is about to
/// happen (or has happened, with no safepoint in between). An old object that
/// is not remembered yet goes into the remembered set, so that the next
/// minor collection finds the young objects it may now refer to. Compiled
/// code does the same test inline and calls the slow path
/// ([`super::remembered::remember`]).
///
/// # Safety
/// `p` must be a live object.
#[inline(always)]
pub unsafe fn write_barrier(p: *mut ObjHeader) {
    // SAFETY: the caller's contract.
    unsafe {
        if (*p).mark & OLD_BIT != 0 {
            super::remembered::remember(p);
        }
    }
}

/// Whether container `v` is flagged as on the printing walk's path.
#[inline]
///
/// # Safety
/// `v` must be a live object (not null, not bits forged from an int).
pub(crate) unsafe fn path_mark(v: Value) -> bool {
    // SAFETY: the caller's contract.
    unsafe { (*v.as_ptr()).on_path }
}

/// Flag (or unflag) container `v` as on the printing walk's path. The caller must
/// clear every flag it sets before it returns (see [`ObjHeader::on_path`]).
///
/// # Safety
/// `v` must be a live object (not null, not bits forged from an int).
#[inline]
pub(crate) unsafe fn set_path_mark(v: Value, on: bool) {
    // SAFETY: the caller's contract; the heap is used by one thread at a time and no
    // Rust reference to the header is live across this write.
    unsafe { (*v.as_ptr()).on_path = on }
}

/// A string (immutable bytes). The bytes live in one of two places, and `ptr` points
/// at whichever it is, so reading them never branches ([`str_bytes`](super::str_bytes)):
///
/// * **inline**, right after this header, in the same allocation: every string the
///   runtime builds by copying (concatenation, `to_str`, slices, literals, short
///   results). One allocation per string and no second pointer to chase is what
///   string-keyed maps and string building spend their time on (docs/benchmarks.md).
/// * **adopted**: a large result already built in a buffer of its own
///   (`file_read`, `str_join`, ...) is kept as it is rather than copied; see
///   [`StrSource`](super::StrSource).
/// * **buffered** (`hdr.buffered`): the start of a shared growable buffer
///   ([`StrBuf`]), which concatenation in a loop appends to in place.
///
/// The heap frees an adopted buffer with its string, and a shared one with the
/// last string on it.
#[repr(C)]
pub struct StrObj {
    pub hdr: ObjHeader,
    pub(super) ptr: *const u8,
    pub(super) len: usize,
}

/// A growable buffer of string bytes shared by the strings that are prefixes of
/// it, so that `s = s + t` in a loop appends `t` in place instead of copying `s`
/// (the usual string builder, without a builder type). Strings are immutable:
/// each string on the buffer reads only its own first `len` bytes, and the bytes
/// up to `used` are never written again. A concatenation whose left operand ends
/// exactly at `used` (no longer string on the buffer was made from it) writes the
/// rest after it, if it fits, and makes a new string of the longer prefix; any
/// other concatenation copies as before. The buffer counts the strings on it
/// (`strings`) and is freed with the last one.
///
/// Laid out as this header followed by `cap` bytes; a string on it points at
/// those bytes ([`StrBuf::of`] finds the header back).
#[repr(C)]
pub(super) struct StrBuf {
    /// Strings whose bytes are in this buffer.
    pub strings: usize,
    /// Bytes written: the length of the longest string on the buffer.
    pub used: usize,
    /// Bytes after the header.
    pub cap: usize,
}

impl StrBuf {
    fn layout(cap: usize) -> Option<std::alloc::Layout> {
        let size = std::mem::size_of::<StrBuf>().checked_add(cap)?;
        std::alloc::Layout::from_size_align(size, std::mem::align_of::<StrBuf>()).ok()
    }

    /// A new empty buffer of `cap` bytes with no strings on it; `None` if the
    /// allocator refuses (softly: [`crate::rt::fallibly`]).
    pub fn alloc(cap: usize) -> Option<*mut StrBuf> {
        let layout = Self::layout(cap)?;
        // SAFETY: the layout's size is at least the header's, not zero.
        let p = crate::rt::fallibly(|| unsafe { std::alloc::alloc(layout) }).cast::<StrBuf>();
        if p.is_null() {
            return None;
        }
        // SAFETY: a new allocation of the header's size and alignment (and more).
        unsafe {
            p.write(StrBuf {
                strings: 0,
                used: 0,
                cap,
            })
        };
        Some(p)
    }

    /// The address of the buffer's bytes.
    #[inline(always)]
    pub fn bytes(p: *mut StrBuf) -> *mut u8 {
        p.wrapping_add(1).cast()
    }

    /// The buffer whose bytes start at `bytes` (a buffered string's `ptr`).
    ///
    /// # Safety
    /// `bytes` must be [`StrBuf::bytes`] of a live buffer.
    #[inline(always)]
    pub unsafe fn of(bytes: *const u8) -> *mut StrBuf {
        // SAFETY: the caller's contract: the header is right before the bytes.
        unsafe { bytes.cast_mut().cast::<StrBuf>().sub(1) }
    }

    /// One string on buffer `p` less; the last one frees it.
    ///
    /// # Safety
    /// `p` must be a live buffer with a string on it that is being freed.
    pub unsafe fn release(p: *mut StrBuf) {
        // SAFETY: the caller's contract.
        unsafe {
            (*p).strings -= 1;
            if (*p).strings == 0 {
                if let Some(layout) = Self::layout((*p).cap) {
                    std::alloc::dealloc(p.cast(), layout);
                }
            }
        }
    }
}

/// Where a string object's inline bytes start: right after its header.
#[inline(always)]
pub(super) fn str_inline_bytes(p: *mut StrObj) -> *mut u8 {
    p.cast::<u8>().wrapping_add(std::mem::size_of::<StrObj>())
}

/// The allocation layout of a string object with `inline` bytes after its header
/// (0 for one whose bytes are adopted); `None` past `isize::MAX`.
#[inline]
pub(super) fn str_layout(inline: usize) -> Option<std::alloc::Layout> {
    let size = std::mem::size_of::<StrObj>().checked_add(inline)?;
    std::alloc::Layout::from_size_align(size, std::mem::align_of::<StrObj>()).ok()
}

/// An array `[T]`: its element kind and its elements.
///
/// The elements of a `[bool]` take one byte each (a `Vec<u8>` of 0 and 1), every
/// other kind a [`Value`] (a `Vec<Value>`): a sieve of 2 M flags is 2 MB, as in
/// C, not 16. Which buffer an array has follows from `elem`, which is fixed when
/// the array is made ([`ArrayObj::new`]); the buffer is private, and the methods
/// below read and write elements as `Value`s whatever their size. Compiled code
/// reads the length and data pointer inline (`abi::ARRAY_PTR`, `ARRAY_LEN`) and
/// loads or stores a byte for an array it knows is `[bool]` (`ArrGet`'s `elem`).
///
/// A small array literal (and a closure's cell) keeps its elements in its own
/// cell, right after this object ([`Heap::alloc_array_of`](super::Heap::alloc_array_of)):
/// no buffer to allocate or free, and the elements on the header's cache
/// line. `inline_cap` says how many the cell has room for; the buffer is
/// there as long as `items` points at it, and moves out to an allocation of
/// its own when the array grows past it.
#[repr(C)]
pub struct ArrayObj {
    pub hdr: ObjHeader,
    /// The element kind. Never changed after the array is made: it says how
    /// `items` is laid out.
    pub elem: ValKind,
    /// The elements the cell holds after this object (0: none): the cell is
    /// of [`ARRAY_CELL`](super::gc::ARRAY_CELL)` + inline_cap` words. Fixed
    /// when the array is made.
    pub(super) inline_cap: u8,
    pub(super) items: ArrayBuf,
}

/// The elements of an array, front to back, as `Value`s ([`ArrayObj::iter`]).
#[derive(Clone)]
pub enum ArrayIter<'a> {
    Words(std::slice::Iter<'a, Value>),
    Bytes(std::slice::Iter<'a, u8>),
}

impl Iterator for ArrayIter<'_> {
    type Item = Value;
    #[inline]
    fn next(&mut self) -> Option<Value> {
        match self {
            ArrayIter::Words(it) => it.next().copied(),
            ArrayIter::Bytes(it) => it.next().map(|&b| b.to_value()),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ArrayIter::Words(it) => it.size_hint(),
            ArrayIter::Bytes(it) => it.size_hint(),
        }
    }
    /// In O(1), as the slice iterators' (so that `skip` does not walk: the
    /// `bytes_read_*` builtins read at an offset of a large buffer).
    #[inline]
    fn nth(&mut self, n: usize) -> Option<Value> {
        match self {
            ArrayIter::Words(it) => it.nth(n).copied(),
            ArrayIter::Bytes(it) => it.nth(n).map(|&b| b.to_value()),
        }
    }
}

impl DoubleEndedIterator for ArrayIter<'_> {
    fn next_back(&mut self) -> Option<Value> {
        match self {
            ArrayIter::Words(it) => it.next_back().copied(),
            ArrayIter::Bytes(it) => it.next_back().map(|&b| b.to_value()),
        }
    }
    /// In O(1), as `nth` (a reversed `take` of a `skip` calls it).
    #[inline]
    fn nth_back(&mut self, n: usize) -> Option<Value> {
        match self {
            ArrayIter::Words(it) => it.nth_back(n).copied(),
            ArrayIter::Bytes(it) => it.nth_back(n).map(|&b| b.to_value()),
        }
    }
}

impl ExactSizeIterator for ArrayIter<'_> {}

/// Code over an array's two buffers, written once: `$body` runs with `$buf`
/// bound to the array's `&mut ArrayBuf` and the type `$t` naming its element
/// type, `u8` for `[bool]` and `Value` for every other kind.
macro_rules! by_width {
    ($a:expr, |$buf:ident: $t:ident| $body:expr) => {
        if $a.elem == ValKind::Bool {
            type $t = u8;
            let $buf = &mut $a.items;
            // SAFETY: a `[bool]`'s buffer holds bytes (`ArrayObj::new`).
            unsafe { $body }
        } else {
            type $t = Value;
            let $buf = &mut $a.items;
            // SAFETY: every other array's buffer holds `Value`s.
            unsafe { $body }
        }
    };
}

impl ArrayObj {
    /// An array object of element kind `elem` holding `items` (packed into bytes
    /// for `[bool]`).
    pub(super) fn new(hdr: ObjHeader, elem: ValKind, items: Vec<Value>) -> ArrayObj {
        let items = if elem == ValKind::Bool {
            let mut bytes = Vec::with_capacity(items.capacity());
            bytes.extend(items.iter().map(|&v| u8::from_value(v)));
            ArrayBuf::from_vec(bytes)
        } else {
            ArrayBuf::from_vec(items)
        };
        ArrayObj {
            hdr,
            elem,
            inline_cap: 0,
            items,
        }
    }

    /// A `[bool]` holding `bytes` (each 0 or 1).
    pub(super) fn new_bools(hdr: ObjHeader, bytes: Vec<u8>) -> ArrayObj {
        debug_assert!(bytes.iter().all(|&b| b <= 1));
        ArrayObj {
            hdr,
            elem: ValKind::Bool,
            inline_cap: 0,
            items: ArrayBuf::from_vec(bytes),
        }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.items.len() == 0
    }

    /// How many elements the buffer has room for.
    pub fn capacity(&self) -> usize {
        self.items.capacity()
    }

    /// The bytes one element takes: 1 for `[bool]`, else 8.
    #[inline(always)]
    pub fn elem_size(&self) -> usize {
        if self.elem == ValKind::Bool {
            1
        } else {
            8
        }
    }

    /// The elements, unless this is a `[bool]` (whose elements are bytes).
    #[inline(always)]
    pub fn words(&self) -> Option<&[Value]> {
        // SAFETY: an array that is not `[bool]` holds `Value`s.
        (self.elem != ValKind::Bool).then(|| unsafe { self.items.as_slice::<Value>() })
    }

    /// The elements to change, unless this is a `[bool]`.
    #[inline(always)]
    pub fn words_mut(&mut self) -> Option<&mut [Value]> {
        // SAFETY: as in `words`.
        (self.elem != ValKind::Bool).then(|| unsafe { self.items.as_mut_slice::<Value>() })
    }

    /// The elements of a `[bool]`, one byte (0 or 1) each.
    #[inline(always)]
    pub fn bytes(&self) -> Option<&[u8]> {
        // SAFETY: a `[bool]` holds bytes.
        (self.elem == ValKind::Bool).then(|| unsafe { self.items.as_slice::<u8>() })
    }

    /// The elements of a `[bool]`, to change (each must stay 0 or 1).
    #[inline(always)]
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        // SAFETY: as in `bytes`.
        (self.elem == ValKind::Bool).then(|| unsafe { self.items.as_mut_slice::<u8>() })
    }

    /// The elements front to back.
    #[inline]
    pub fn iter(&self) -> ArrayIter<'_> {
        // SAFETY: the buffer holds bytes exactly for a `[bool]`.
        unsafe {
            if self.elem == ValKind::Bool {
                ArrayIter::Bytes(self.items.as_slice::<u8>().iter())
            } else {
                ArrayIter::Words(self.items.as_slice::<Value>().iter())
            }
        }
    }

    /// The elements, copied into a `Vec<Value>`.
    pub fn to_vec(&self) -> Vec<Value> {
        self.iter().collect()
    }

    /// Element `i`, if `i < len`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Option<Value> {
        if i < self.len() {
            // SAFETY: in range.
            Some(unsafe { self.get_unchecked(i) })
        } else {
            None
        }
    }

    /// Element `i`.
    ///
    /// # Safety
    /// `i < self.len()`.
    #[inline(always)]
    pub unsafe fn get_unchecked(&self, i: usize) -> Value {
        // SAFETY: the caller's contract; `bytes` is what `elem` says.
        unsafe { self.get_unchecked_as(i, self.elem == ValKind::Bool) }
    }

    /// Element `i` of an array whose buffer holds bytes if `bytes` (a
    /// `[bool]`), else words: the interpreter's `ArrGet`, which knows the kind
    /// from the instruction as compiled code does, without reading `elem`.
    ///
    /// # Safety
    /// `i < self.len()`, and `bytes` is `self.elem == ValKind::Bool`.
    #[inline(always)]
    pub unsafe fn get_unchecked_as(&self, i: usize, bytes: bool) -> Value {
        // SAFETY: the caller's contract: in range, and the buffer holds bytes
        // exactly when `bytes`.
        unsafe {
            if bytes {
                self.byte_at(i)
            } else {
                *self.items.as_slice::<Value>().get_unchecked(i)
            }
        }
    }

    /// Element `i` of a `[bool]`, out of line: the interpreter's `ArrGet` of
    /// any other array keeps one path (and one dispatch jump) without it, which
    /// measured 11 % faster on `fannkuch_redux` than a second path inline.
    ///
    /// # Safety
    /// As [`ArrayObj::get_unchecked_as`] with `bytes`.
    #[cold]
    #[inline(never)]
    unsafe fn byte_at(&self, i: usize) -> Value {
        // SAFETY: the caller's contract.
        unsafe { *self.items.as_slice::<u8>().get_unchecked(i) }.to_value()
    }

    /// Set element `i` of a `[bool]` to `v`, out of line (as [`ArrayObj::byte_at`]).
    ///
    /// # Safety
    /// As [`ArrayObj::byte_at`].
    #[cold]
    #[inline(never)]
    unsafe fn set_byte_at(&mut self, i: usize, v: Value) {
        // SAFETY: the caller's contract.
        unsafe { *self.items.as_mut_slice::<u8>().get_unchecked_mut(i) = u8::from_value(v) };
    }

    /// Set element `i` to `v`; false (nothing written) if `i >= len`.
    #[inline(always)]
    pub fn set(&mut self, i: usize, v: Value) -> bool {
        if i < self.len() {
            // SAFETY: in range.
            unsafe { self.set_unchecked(i, v) };
            true
        } else {
            false
        }
    }

    /// Set element `i` to `v`.
    ///
    /// # Safety
    /// `i < self.len()`.
    #[inline(always)]
    pub unsafe fn set_unchecked(&mut self, i: usize, v: Value) {
        // SAFETY: the caller's contract; `bytes` is what `elem` says.
        unsafe { self.set_unchecked_as(i, v, self.elem == ValKind::Bool) }
    }

    /// Set element `i` to `v` (as [`ArrayObj::get_unchecked_as`]).
    ///
    /// # Safety
    /// As [`ArrayObj::get_unchecked_as`].
    #[inline(always)]
    pub unsafe fn set_unchecked_as(&mut self, i: usize, v: Value, bytes: bool) {
        // SAFETY: as in `get_unchecked_as`.
        unsafe {
            if bytes {
                self.set_byte_at(i, v);
            } else {
                *self.items.as_mut_slice::<Value>().get_unchecked_mut(i) = v;
            }
        }
    }

    /// Append `v` (growing the buffer as `Vec::push` does).
    #[inline(always)]
    pub fn push(&mut self, v: Value) {
        if self.items.len() == self.items.capacity() {
            return self.push_growing(v);
        }
        by_width!(self, |buf: T| buf.push(T::from_value(v)))
    }

    /// [`ArrayObj::push`] into a full buffer, which grows (out of the cell,
    /// into a buffer this array then owns).
    #[cold]
    #[inline(never)]
    fn push_growing(&mut self, v: Value) {
        by_width!(self, |buf: T| buf.push(T::from_value(v)));
        self.note_owner();
    }

    /// Whether the elements are in a buffer of this array's own (not in its
    /// cell, and not the empty buffer of an array that never had one), which
    /// is freed with it.
    pub(super) fn owns_buffer(&self) -> bool {
        self.items.capacity() > 0 && !self.items.is_inline()
    }

    /// After an operation that may have given the array a buffer of its own:
    /// tell its chunk, so that the collection that finds the array dead frees
    /// the buffer (`cells.rs`, "Arrays that own a buffer").
    fn note_owner(&mut self) {
        if self.owns_buffer() {
            // SAFETY: every array object is in a cell of an instance chunk of
            // its heap (`Heap::alloc_array_of`, `alloc_array_obj`, and compiled
            // code's inline allocation), which `&mut self` lets us change.
            unsafe { super::cells::note_owner(self as *mut ArrayObj as *mut ObjHeader) };
        }
    }

    /// Remove and return the last element.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<Value> {
        by_width!(self, |buf: T| buf.pop::<T>().map(T::to_value))
    }

    /// `Vec::insert` (`index <= len`, else it panics).
    pub fn insert(&mut self, index: usize, v: Value) {
        by_width!(self, |buf: T| buf
            .with_vec(|vec: &mut Vec<T>| vec.insert(index, T::from_value(v))));
        self.note_owner();
    }

    /// `Vec::remove` (`index < len`, else it panics).
    pub fn remove(&mut self, index: usize) -> Value {
        let v = by_width!(self, |buf: T| buf
            .with_vec(|vec: &mut Vec<T>| vec.remove(index).to_value()));
        self.note_owner();
        v
    }

    /// Append every value of `values`.
    pub fn extend(&mut self, values: impl IntoIterator<Item = Value>) {
        by_width!(self, |buf: T| buf.with_vec(
            |vec: &mut Vec<T>| vec.extend(values.into_iter().map(T::from_value))
        ));
        self.note_owner();
    }

    /// Make room for `additional` more elements ([`limits::grow_array`]: the
    /// array length cap, and out of memory as an error).
    pub fn grow(&mut self, additional: usize) -> Result<(), LimitError> {
        let r = by_width!(self, |buf: T| buf
            .with_vec(|vec: &mut Vec<T>| limits::grow_array(vec, additional)));
        self.note_owner();
        r
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn reverse(&mut self) {
        by_width!(self, |buf: T| buf.as_mut_slice::<T>().reverse())
    }

    /// Where the elements start (what compiled code reads at `abi::ARRAY_PTR`).
    pub fn data_ptr(&self) -> *const u8 {
        self.items.ptr
    }
}

impl Drop for ArrayObj {
    fn drop(&mut self) {
        by_width!(self, |buf: T| buf.free::<T>())
    }
}

/// A `{K: V}` map.
///
/// Maps are insertion-ordered (LANGUAGE.md §16): iteration, printing, `map_keys`,
/// `json_stringify` and so on see the keys in the order they were first inserted;
/// overwriting keeps a key's position, and deleting a key and inserting it again puts
/// it at the end.
///
/// # Why [`OrderedMap`] and not `IndexMap`
/// `IndexMap` keeps the order in a dense entry vector, so an order-preserving delete
/// (`shift_remove`) moves every later entry: deleting 100 k keys from a 200 k-entry map
/// took over a minute. `swap_remove` is O(1) but breaks the order. Putting tombstones
/// into an `IndexMap` (an `Option` value) does not help either, because re-inserting a
/// deleted key must move it to the end, which is again O(n). `hashlink::LinkedHashMap`
/// has O(1) ordered removal, but it allocates one linked-list node per entry, iterates
/// by pointer chasing, and its `insert` moves an existing key to the back.
///
/// [`OrderedMap`] is indexmap's layout with lazy removal: an entry vector in insertion
/// order whose deleted slots become tombstones, plus hashbrown's `HashTable` (the
/// well-kept raw table under indexmap and std's `HashMap`) from key to position. The
/// vector is compacted when tombstones exceed half of it, so delete is O(1) amortised
/// and iteration stays a linear scan. A map of at most
/// [`SMALL_MAP`](crate::ordmap::SMALL_MAP) entries has no index and scans its
/// entries instead. Only the bookkeeping is hand-written; probing,
/// growth and rehashing are hashbrown's. Keys are hashed
/// with [`hash_value`]: ints, bools and short strings by a bijective word hash,
/// other keys by [`FxHasher`] with its fmix64 finish.
#[repr(C)]
pub struct MapObj {
    pub hdr: ObjHeader,
    pub key: ValKind,
    pub val: ValKind,
    pub entries: OrderedMap,
}

/// A tuple, in one allocation: this object, then its items (8 bytes each), then
/// their kinds (a byte each, padded to 8 bytes), which `items` and `kinds`
/// point at ([`tuple_size`]). Small tuples live in the heap's size-class cells,
/// as arrays do; a tuple allocated and freed per call (a function returning a
/// pair) is one cell, not three allocations.
#[repr(C)]
pub struct TupleObj {
    pub hdr: ObjHeader,
    pub kinds: FixedSlice<ValKind>,
    pub items: FixedSlice<Value>,
}

/// The bytes of an object of `head` bytes (a multiple of 8) followed by `n`
/// values and their kinds (a byte each, padded to 8 bytes): a tuple with its
/// items, a function value with its captures.
pub const fn with_values_size(head: usize, n: usize) -> usize {
    head + 8 * n + n.div_ceil(8) * 8
}

/// The bytes of a tuple of `n` items ([`TupleObj`]).
pub const fn tuple_size(n: usize) -> usize {
    with_values_size(std::mem::size_of::<TupleObj>(), n)
}

/// The bytes of a function value of `n` captures ([`ClosureObj`]).
pub const fn closure_size(n: usize) -> usize {
    with_values_size(std::mem::size_of::<ClosureObj>(), n)
}

/// A struct or class instance, in one allocation: the header, the layout id (its
/// layout is `layouts[layout]`, see [`with_layout`]), the field count, then the
/// fields inline. A dynamically sized type: `&StructObj` is a fat pointer whose
/// metadata is the field count ([`as_struct`](super::as_struct) builds it from
/// `nfields`), so `fields` is an ordinary slice. Instances of up to
/// [`CELL_CLASSES`](super::cells::CELL_CLASSES)` - 1` fields live in the heap's
/// size-class cells (`cells.rs`), bigger ones are single allocations of their own.
#[repr(C)]
pub struct StructObj {
    pub hdr: ObjHeader,
    pub layout: u32,
    /// The number of fields (written once, at allocation).
    pub(super) nfields: u32,
    pub fields: [Value],
}

/// The fixed part of a [`StructObj`] (everything before its fields), a sized type
/// for allocation and for the offsets of `abi.rs`.
#[repr(C)]
pub(super) struct StructHead {
    pub(super) hdr: ObjHeader,
    pub(super) layout: u32,
    pub(super) nfields: u32,
}

/// The byte offset of field 0 of a [`StructObj`]: the size of its fixed part
/// (already a multiple of a value's alignment).
pub(super) const STRUCT_HEAD: usize = std::mem::size_of::<StructHead>();
const _: () = assert!(STRUCT_HEAD.is_multiple_of(std::mem::align_of::<Value>()));

/// The size in bytes of an instance with `n` fields.
#[inline(always)]
pub(super) const fn instance_size(n: usize) -> usize {
    STRUCT_HEAD + n * std::mem::size_of::<Value>()
}

/// A function value: a function id and its captured values, in one
/// allocation as a tuple is ([`TupleObj`], [`closure_size`]): the captures
/// right after the object, then their kinds.
#[repr(C)]
pub struct ClosureObj {
    pub hdr: ObjHeader,
    pub func: u32,
    pub kinds: FixedSlice<ValKind>,
    pub captures: FixedSlice<Value>,
}

#[repr(C)]
pub struct OpaqueObj {
    pub hdr: ObjHeader,
    /// Shared by every copy of the object in other threads' heaps.
    pub payload: std::sync::Arc<dyn Any + Send + Sync>,
}

/// Field names and kinds of a struct or class, registered once at program load.
#[derive(Clone, Debug)]
pub struct Layout {
    pub name: String,
    pub fields: Vec<(String, ValKind)>,
    pub is_class: bool,
}

thread_local! {
    /// Struct/class layouts of the running program, readable without a heap
    /// reference (equality and printing need them deep inside containers).
    static LAYOUTS: std::cell::RefCell<Vec<Layout>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Register the program's struct and class layouts (done once at load).
pub fn set_layouts(layouts: Vec<Layout>) {
    LAYOUTS.with(|l| *l.borrow_mut() = layouts);
}

/// Run `f` with the layouts of the program's structs and classes, by id.
pub fn with_layouts<R>(f: impl FnOnce(&[Layout]) -> R) -> R {
    LAYOUTS.with(|l| f(&l.borrow()))
}

/// Run `f` with the layout of struct/class `id`.
pub fn with_layout<R>(id: u32, f: impl FnOnce(&Layout) -> R) -> R {
    LAYOUTS.with(|l| {
        let l = l.borrow();
        match l.get(id as usize) {
            Some(layout) => f(layout),
            None => f(&Layout {
                name: format!("struct#{id}"),
                fields: vec![],
                is_class: false,
            }),
        }
    })
}

pub(super) fn field_kind(layout: u32, i: usize) -> ValKind {
    with_layout(layout, |l| l.fields.get(i).map(|f| f.1).unwrap_or(ValKind::Int))
}
