//! The collector: the all-objects list, allocation, and a non-moving,
//! stop-the-world mark-sweep collection (see the module documentation of
//! [`crate::heap`] for the rules).

use super::access::{as_array, as_closure, as_map, as_struct, as_tuple};
use super::buffers::{ArrayBuf, FixedSlice};
use super::cells::{instance_marked, large_layout, mark_instance, note_owner, Cells, Owner, CELL_CLASSES};
use super::object::{
    closure_size, instance_size, str_inline_bytes, str_layout, tuple_size, with_layout, with_layouts,
    with_values_size, ArrayObj, ClosureObj, Layout, MapObj, ObjHeader, ObjKind, OpaqueObj, StrBuf, StrObj,
    StructHead, StructObj, TupleObj, IMMORTAL, MARK_A, MARK_B, OLD_BIT, STRUCT_HEAD, UNMARKED,
};
use super::remembered;
use super::short_strs::{empty_str, one_byte_str, short_str};
use crate::limits::{self, LimitError};
use crate::ordmap::OrderedMap;
use crate::value::{ValKind, Value};
use std::any::Any;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// Counters reported by `--gc-stats` and used by tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct GcStats {
    pub collections: u64,
    /// Of them, the full ones (the others were minor: see [`Heap::collect`]).
    pub major_collections: u64,
    pub objects_freed: u64,
    pub bytes_allocated: u64,
}

/// Stress modes of the collector, for tests (`BP_GC_STRESS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GcStress {
    #[default]
    Off,
    /// Collect at every safepoint after an allocation (`BP_GC_STRESS=1`): a
    /// value not rooted across one is freed at once.
    Every,
    /// Collect at a pseudo-random half of those safepoints (`BP_GC_STRESS=gen`).
    /// Under [`GcStress::Every`] a new object is old at the next safepoint, so
    /// a store of a young object into an old one never happens; here objects
    /// stay young across safepoints and such stores happen between
    /// collections, where the check after each minor collection finds one
    /// that bypassed the write barrier.
    Generations,
}

/// A program id held by an object (see [`Heap::remap_program_ids`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramId {
    /// The function of a function value.
    Function(u32),
    /// The layout of a struct or class instance.
    Layout(u32),
}

pub struct Heap {
    head: *mut ObjHeader,
    /// The first old object of the all-objects list: the list's head when the
    /// last collection ended. The objects before it are young (allocated
    /// since), the ones from it on old; a minor collection sweeps only the
    /// young ones.
    young_end: *mut ObjHeader,
    /// This heap's id in the remembered set of its thread (`remembered.rs`).
    id: u64,
    /// Bytes allocated since the last collection.
    since_gc: usize,
    /// What the old objects cost a full collection ([`trace_cost`]): the
    /// survivors of the last major collection and what minor ones promoted
    /// since (dead ones included, until the next major collection).
    old_cost: usize,
    /// Of `old_cost`, the objects of the all-objects list (the instances in
    /// cells are counted from their chunks' mark bits at each collection).
    old_list_cost: usize,
    /// How many objects of the all-objects list are old.
    old_list_objects: usize,
    /// Of `old_cost`, the references in the buffers of old arrays that own
    /// one (their cells count with the instances): the live ones of the last
    /// major collection and those promoted since ([`Heap::sweep_owners`]).
    owners_cost: usize,
    /// The memory outside their cells that the objects minor collections
    /// promoted since the last major one hold ([`held_bytes`]): a string's
    /// bytes, an array's buffer. It counts toward the next major collection
    /// with `old_cost`, so that old garbage holding large buffers (the
    /// intermediate strings of a loop) is freed in time.
    old_held: usize,
    /// What the last major collection found alive (its survivors' cost): the
    /// pace of both kinds of collection ([`Heap::sweep`], [`Heap::major_due`]).
    major_live: usize,
    /// The next collection must be major: objects came from another heap
    /// ([`Heap::adopt`]), or a caller needs every dead object freed.
    force_major: bool,
    /// The mark of the last major collection ([`MARK_A`] or [`MARK_B`]): every
    /// old object of the all-objects list has it.
    mark: u8,
    threshold: usize,
    stress: bool,
    /// Under [`GcStress::Generations`], the state of the generator that picks
    /// which safepoints collect; 0 otherwise.
    stress_skips: u64,
    gray: Vec<*mut ObjHeader>,
    /// Large arrays' reference elements still to be queued ([`Marker::mark_slots`]).
    ranges: Vec<(*const Value, usize)>,
    pinned: Vec<Value>,
    /// Values held by Rust code across a collection ([`Heap::push_temp_root`]).
    temp_roots: Vec<Value>,
    /// The statistics, but for the objects and bytes allocated from the
    /// holes of instance chunks since the last collection, which
    /// [`Heap::settle_counts`] adds ([`Heap::bytes_allocated`] includes them).
    pub stats: GcStats,
    /// The objects alive after the last collection and those allocated since,
    /// but for the ones allocated from holes since then ([`Heap::objects`]
    /// includes them).
    objects: usize,
    /// The size-class cells of instances, arrays, short strings, tuples and
    /// function values (`cells.rs`).
    cells: Cells,
    /// What `since_gc` may reach without a collection: `threshold`, or 0 in
    /// stress mode (so that every safepoint after an allocation collects).
    /// Read by [`Heap::wants_gc`]. See [`Heap::gc_limit_changed`].
    gc_limit: usize,
}

/// The least allocation between two collections. With pacing by the survivors'
/// cost ([`trace_cost`]), 1 MiB rather than 4: a program whose live data is
/// small reuses its garbage's cells while they are in the cache instead of
/// touching 4 MiB of fresh pages first (page faults: strings 1,708 -> 916;
/// interleaved: binary_trees 337 -> 324 ms, string_build 159 -> 153 ms, the
/// other allocating programs the same or faster; docs/benchmarks.md).
const MIN_THRESHOLD: usize = 1 << 20;

/// In stress mode, every this many collections one is major (the others are
/// minor, each followed by the check for a missing write barrier).
const STRESS_MAJOR_EVERY: u64 = 8;

/// Where the ids of heaps come from (0 is nobody's: `remembered.rs`).
static NEXT_HEAP_ID: AtomicU64 = AtomicU64::new(1);

/// How many collections any heap of the process has made (wrapping). A map
/// remembers which string object found its last entry only until the next
/// collection (`OrderedMap::last_by_identity`): a collection may free that
/// string, and another one may then be allocated at its address.
static GC_EPOCH: AtomicU32 = AtomicU32::new(0);

/// The current collection epoch ([`GC_EPOCH`]).
#[inline(always)]
pub(crate) fn gc_epoch() -> u32 {
    GC_EPOCH.load(Ordering::Relaxed)
}

impl Default for Heap {
    fn default() -> Self {
        Heap::new(false)
    }
}

/// Marks reachable objects; the VM calls [`Marker::mark`] for every root slot.
pub struct Marker<'a> {
    /// The mark of this collection (see [`MARK_A`]).
    mark: u8,
    gray: &'a mut Vec<*mut ObjHeader>,
    /// Runs of reference slots of more than [`RANGE_CHUNK`] values, queued
    /// [`RANGE_CHUNK`] at a time as the gray stack empties ([`drain_gray`]).
    ranges: &'a mut Vec<(*const Value, usize)>,
    /// The program's struct and class layouts, borrowed once for the whole
    /// marking: which fields of an instance are references. Looking each
    /// instance's layout up in the thread-local registry cost a thread-local
    /// access and a `RefCell` borrow per instance (2 % of `alloc`).
    layouts: &'a [Layout],
}

impl Marker<'_> {
    /// Queue `v` to be marked and traced ([`drain_gray`]). Its header is not
    /// read here: that read is the cache miss of the mark phase, which
    /// `drain_gray` overlaps with others by prefetching.
    ///
    /// # Safety
    /// `v` must be null or a live object of this heap (a root slot of reference
    /// kind), not bits forged from an int: marking writes to its header.
    #[inline]
    pub unsafe fn mark(&mut self, v: Value) {
        if !v.is_null() {
            self.gray.push(v.as_ptr());
        }
    }
    /// Mark the values of `slots` if they are references. A long run of them
    /// (a large array's) is queued a chunk at a time, not at once: an array of
    /// 400 k strings grew the gray stack to 3.2 MB, fresh pages at every
    /// collection (`tokenize`).
    ///
    /// # Safety
    /// When `kind` is `Ref`, every slot must be null or a live object of this
    /// heap, and the slots must stay in place until the marking is done.
    pub unsafe fn mark_slots(&mut self, slots: &[Value], kind: ValKind) {
        if kind == ValKind::Ref && slots.len() > RANGE_CHUNK {
            self.ranges.push((slots.as_ptr(), slots.len()));
        } else if kind == ValKind::Ref {
            for v in slots {
                // SAFETY: the caller's contract.
                unsafe { self.mark(*v) };
            }
        }
    }
}

impl Heap {
    pub fn new(stress: bool) -> Heap {
        Heap {
            head: std::ptr::null_mut(),
            young_end: std::ptr::null_mut(),
            id: NEXT_HEAP_ID.fetch_add(1, Ordering::Relaxed),
            since_gc: 0,
            old_cost: 0,
            old_list_cost: 0,
            old_list_objects: 0,
            owners_cost: 0,
            old_held: 0,
            major_live: 0,
            force_major: false,
            mark: MARK_A,
            threshold: MIN_THRESHOLD,
            stress,
            stress_skips: 0,
            gray: Vec::new(),
            ranges: Vec::new(),
            pinned: Vec::new(),
            temp_roots: Vec::new(),
            stats: GcStats::default(),
            objects: 0,
            cells: Cells::new(),
            gc_limit: if stress { 0 } else { MIN_THRESHOLD },
        }
    }

    pub fn set_stress(&mut self, mode: GcStress) {
        self.stress = mode != GcStress::Off;
        // (Any odd seed: the generator is an xorshift.)
        self.stress_skips = if mode == GcStress::Generations {
            0x9e37_79b9_7f4a_7c15
        } else {
            0
        };
        self.gc_limit_changed();
        if self.stress {
            // Compiled code's inline allocation from a hole must find it
            // used up ([`Heap::pop_cell`]).
            for n in 0..CELL_CLASSES {
                self.cells.close_hole(n);
            }
        }
    }

    /// Under [`GcStress::Generations`]: whether this safepoint skips its
    /// collection (about every other one does; `wants_gc` stays true, so the
    /// next safepoint asks again).
    fn stress_skips_this_one(&mut self) -> bool {
        if self.stress_skips == 0 {
            return false;
        }
        let mut x = self.stress_skips;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.stress_skips = x;
        x & 1 == 0
    }

    /// True when the next safepoint should collect.
    #[inline(always)]
    pub fn wants_gc(&self) -> bool {
        // `gc_limit` is `threshold`, or 0 in stress mode: one comparison.
        self.since_gc > self.gc_limit
    }

    /// Keep `v` alive forever (constants of the program).
    ///
    /// # Safety
    /// `v` must be null or a live object of this heap, not bits forged from an
    /// int: every collection marks it.
    pub unsafe fn pin(&mut self, v: Value) {
        self.pinned.push(v);
    }

    /// Keep `v` alive until [`Heap::truncate_temp_roots`] removes it: for a value
    /// held by Rust code across a collection (a new object not yet in any root).
    ///
    /// # Safety
    /// `v` must be null or a live object of this heap, not bits forged from an
    /// int: every collection marks it while it is a root.
    pub unsafe fn push_temp_root(&mut self, v: Value) {
        self.temp_roots.push(v);
    }

    /// How many temporary roots there are (to restore with
    /// [`Heap::truncate_temp_roots`]).
    pub fn temp_roots_len(&self) -> usize {
        self.temp_roots.len()
    }

    /// Drop the temporary roots pushed after there were `len`.
    pub fn truncate_temp_roots(&mut self, len: usize) {
        self.temp_roots.truncate(len);
    }

    fn link<T>(&mut self, obj: Box<T>, extra: usize) -> Value {
        let p = Box::into_raw(obj) as *mut ObjHeader;
        // SAFETY: every object type is #[repr(C)] with the header first, and `p`
        // is a new object.
        unsafe { self.link_raw(p, std::mem::size_of::<T>() + extra) }
    }

    /// Put the new object `p` of `size` bytes on the all-objects list and count it
    /// (what compiled code's inline allocation does too; docs/jit.md).
    ///
    /// # Safety
    /// `p` must be a new object of this heap with its header written, on no list.
    #[inline(always)]
    unsafe fn link_raw(&mut self, p: *mut ObjHeader, size: usize) -> Value {
        // SAFETY: the caller's contract.
        unsafe {
            (*p).next = self.head;
        }
        self.head = p;
        self.count_new(size);
        Value::obj(p)
    }

    /// Count a new object of `size` bytes (toward the next collection, and
    /// in the statistics).
    #[inline(always)]
    fn count_new(&mut self, size: usize) {
        self.since_gc += size;
        self.stats.bytes_allocated += size as u64;
        self.objects += 1;
    }

    /// A free cell for an instance or array of class `n < CELL_CLASSES` (its
    /// contents are garbage), the next of its hole. The cell itself is not
    /// counted: a hole counts toward the next collection when it is taken,
    /// and in the statistics when it is used up ([`Heap::settle_counts`]),
    /// as compiled code's inline allocation, which only bumps the hole's
    /// cursor, needs. In stress mode the hole is closed after the cell, so
    /// that every inline allocation calls its helper, which collects.
    #[inline(always)]
    fn pop_cell(&mut self, n: usize) -> *mut ObjHeader {
        let p = self.cells.pop_instance(n, &mut self.since_gc);
        if self.stress {
            self.cells.close_hole(n);
        }
        p
    }

    /// Count the `bytes` a new object in a cell holds outside it (an array's
    /// buffer) toward the next collection and in the statistics.
    #[inline(always)]
    fn count_outside_cell(&mut self, bytes: usize) {
        self.since_gc += bytes;
        self.stats.bytes_allocated += bytes as u64;
    }

    /// Add the objects and bytes allocated from holes since the last time to
    /// `objects` and the statistics.
    fn settle_counts(&mut self) {
        let (cells, bytes) = self.cells.take_allocated();
        self.objects += cells;
        self.stats.bytes_allocated += bytes as u64;
    }

    /// How many objects there are: those alive after the last collection
    /// and those allocated since.
    pub fn objects(&self) -> usize {
        self.objects + self.cells.allocated().0
    }

    /// The bytes allocated so far (`GcStats::bytes_allocated`, with those of
    /// the holes in use).
    pub fn bytes_allocated(&self) -> u64 {
        self.stats.bytes_allocated + self.cells.allocated().1 as u64
    }

    fn header(kind: ObjKind) -> ObjHeader {
        ObjHeader {
            next: std::ptr::null_mut(),
            kind,
            mark: UNMARKED,
            buffered: false,
            on_path: false,
            hint: u32::MAX,
        }
    }

    /// A new string of `bytes`: copied into the object when borrowed or short, an
    /// owned buffer of more than [`STR_ADOPT_MIN`] bytes adopted as it is ([`StrObj`]).
    /// Buffers built for a result should have exactly their length as capacity
    /// (`limits::str_buf`), so that boxing them does not reallocate.
    pub fn alloc_str(&mut self, bytes: impl StrSource) -> Value {
        bytes.into_str(self)
    }

    /// A new string holding a copy of `bytes`, allocated fallibly (a copy of a
    /// large string can fail under a memory limit).
    #[inline]
    pub fn alloc_str_copy(&mut self, bytes: &[u8]) -> Result<Value, LimitError> {
        self.alloc_str_parts(&[bytes])
    }

    /// [`Heap::alloc_str_copy`] only if no collection is due after it (for a
    /// heap twin, `builtins::HeapLeafFn`, after which compiled code makes no
    /// safepoint check); `None` otherwise, or when the allocator refuses. The
    /// check counts the header and the bytes: a string's cell may be a little
    /// larger, and then the next allocation of this kind declines.
    pub fn alloc_str_copy_quietly(&mut self, bytes: &[u8]) -> Option<Value> {
        let size = std::mem::size_of::<StrObj>().saturating_add(bytes.len());
        if self.since_gc.saturating_add(size) > self.gc_limit {
            return None;
        }
        self.alloc_str_copy(bytes).ok()
    }

    /// A new string of the bytes of `parts` one after another, in one allocation
    /// (concatenation, f-strings, number formatting). The length is capped at
    /// `limits::MAX_STR_LEN`; `OutOfMemory` if the allocator refuses.
    pub fn alloc_str_parts(&mut self, parts: &[&[u8]]) -> Result<Value, LimitError> {
        let n = limits::total_str_len(parts.iter().map(|p| p.len()))?;
        self.alloc_str_parts_of(parts, n)
    }

    /// [`Heap::alloc_str_parts`] of parts whose total length `n` (at most the
    /// cap) the caller has computed.
    fn alloc_str_parts_of(&mut self, parts: &[&[u8]], n: usize) -> Result<Value, LimitError> {
        if n <= 1 {
            // A string of at most one byte is the shared one (short_strs.rs).
            return Ok(match parts.iter().find_map(|p| p.first()) {
                Some(&b) => one_byte_str(b),
                None => empty_str(),
            });
        }
        let (p, size) = self.str_memory(n).ok_or(LimitError::OutOfMemory)?;
        let bytes = str_inline_bytes(p);
        // SAFETY: `p` is a new allocation of the header plus `n` bytes, and the parts
        // (borrowed, so not this new object) add up to `n` bytes.
        unsafe {
            p.write(StrObj {
                hdr: Self::header(ObjKind::Str),
                ptr: bytes,
                len: n,
            });
            copy_parts(bytes, parts);
            Ok(self.link_raw(p.cast(), size))
        }
    }

    /// A new string of the bytes of `parts`, the first of which are those of
    /// string `first` (concatenation whose left operand is a string). A result
    /// shorter than [`STR_BUF_MIN`] is an ordinary string ([`Heap::alloc_str_parts`]).
    /// A longer one is on a shared buffer ([`StrBuf`]): when `first` is the
    /// longest string on a buffer with room for the other parts, they are
    /// appended in place and only a new header is allocated; otherwise the
    /// result goes to a new buffer with as much room again.
    ///
    /// # Safety
    /// `first` must be a live string and `parts[0]` its bytes, and no part may be
    /// bytes of a buffer `first` is on beyond `first`'s own length (the parts are
    /// borrowed from live strings, whose bytes are never written again).
    #[inline]
    pub unsafe fn alloc_str_after(&mut self, first: Value, parts: &[&[u8]]) -> Result<Value, LimitError> {
        let n = limits::total_str_len(parts.iter().map(|p| p.len()))?;
        if n < STR_BUF_MIN {
            return self.alloc_str_parts_of(parts, n);
        }
        // SAFETY: the caller's contract: a live string.
        unsafe { self.alloc_str_buffered(first, parts, n) }
    }

    /// `s + ...` of the bytes of `parts` (`parts[0]` is `s`'s own bytes, as
    /// for [`Heap::alloc_str_after`]) where nothing but the destination refers
    /// to string `s`: what compiled code does for `s = s + t` when it knows
    /// that (docs/jit.md, "Strings appended to in place"). `s` itself, extended
    /// in place ([`Heap::append_in_place`]) when its buffer has room; else
    /// [`Heap::alloc_str_after`]. (Starting a buffer below [`STR_BUF_MIN`] for
    /// such strings saved 30 % of `string_build`'s instructions but no time.)
    ///
    /// # Safety
    /// As [`Heap::append_in_place`].
    #[inline]
    pub unsafe fn append(&mut self, s: Value, parts: &[&[u8]]) -> Result<Value, LimitError> {
        // SAFETY: the caller's contract.
        unsafe {
            if self.append_in_place(s, parts) {
                return Ok(s);
            }
            self.alloc_str_after(s, parts)
        }
    }

    /// Extend string `s` in place by the bytes of `parts[1..]` (`parts[0]` is
    /// `s`'s own bytes, as for [`Heap::alloc_str_after`]): when `s` is the
    /// longest string on its buffer and the buffer has room, the bytes go after
    /// it and `s`'s length grows; no object is allocated. Returns whether it did;
    /// otherwise nothing changed.
    ///
    /// # Safety
    /// `s` must be a live string that no other value refers to (no register,
    /// object, map memo or compiled-code fact): its length changes under it.
    /// No part may be bytes of `s`'s buffer beyond `s`'s length.
    #[inline]
    pub unsafe fn append_in_place(&mut self, s: Value, parts: &[&[u8]]) -> bool {
        let s = s.as_ptr().cast::<StrObj>();
        // SAFETY: the caller's contract: a live string.
        let (ptr, len, buffered) = unsafe { ((*s).ptr, (*s).len, (*s).hdr.buffered) };
        if !buffered {
            return false;
        }
        let Ok(n) = limits::total_str_len(parts.iter().map(|p| p.len())) else {
            return false;
        };
        // SAFETY: a buffered string points at the bytes of its live buffer; the
        // bytes from `used` on belong to no string, and `s` is its own (the
        // caller's contract), so its length may change.
        unsafe {
            let buf = StrBuf::of(ptr);
            if (*buf).used != len || (*buf).cap < n {
                return false;
            }
            copy_parts(StrBuf::bytes(buf).add(len), parts.get(1..).unwrap_or(&[]));
            (*buf).used = n;
            (*s).len = n;
        }
        // The new bytes count towards the next collection as a new string's would.
        self.since_gc += n - len;
        true
    }

    /// [`Heap::alloc_str_after`] of a result of `n >= STR_BUF_MIN` bytes.
    ///
    /// # Safety
    /// As [`Heap::alloc_str_after`].
    unsafe fn alloc_str_buffered(
        &mut self,
        first: Value,
        parts: &[&[u8]],
        n: usize,
    ) -> Result<Value, LimitError> {
        // SAFETY: the caller's contract: a live string.
        let (fptr, flen, buffered) = unsafe {
            let s = first.as_ptr().cast::<StrObj>();
            ((*s).ptr, (*s).len, (*s).hdr.buffered)
        };
        let rest = parts.get(1..).unwrap_or(&[]);
        if buffered {
            // SAFETY: a buffered string points at the bytes of its live buffer.
            let buf = unsafe { StrBuf::of(fptr) };
            // SAFETY: `buf` is live; the bytes from `used` on belong to no string.
            unsafe {
                if (*buf).used == flen && (*buf).cap >= n {
                    copy_parts(StrBuf::bytes(buf).add(flen), rest);
                    (*buf).used = n;
                    return self.buffered_str(buf, n, n - flen);
                }
            }
        }
        // Room for as much again; without it if the allocator refuses that much
        // (a memory limit), so that no result fails that fits exactly.
        let cap = n.saturating_mul(2).min(limits::MAX_STR_LEN);
        let (buf, cap) = match StrBuf::alloc(cap) {
            Some(buf) => (buf, cap),
            None => (StrBuf::alloc(n).ok_or(LimitError::OutOfMemory)?, n),
        };
        // SAFETY: a new buffer of `cap >= n` bytes, which no part is in.
        unsafe { copy_parts(StrBuf::bytes(buf), parts) };
        // SAFETY: as just above.
        unsafe { (*buf).used = n };
        self.buffered_str(buf, n, cap)
    }

    /// A new string of the first `len` bytes of `buf` (`used` is at least
    /// `len`), accounted as `bytes` new bytes.
    fn buffered_str(&mut self, buf: *mut StrBuf, len: usize, bytes: usize) -> Result<Value, LimitError> {
        let Some((p, size)) = self.str_memory(0) else {
            // (A header alone always fits a cell: `str_cell`.)
            return Err(LimitError::OutOfMemory);
        };
        // SAFETY: `p` is a new allocation of a header; the buffer gains a string,
        // released when the header is freed (`free_object`).
        unsafe {
            (*buf).strings += 1;
            p.write(StrObj {
                hdr: ObjHeader {
                    buffered: true,
                    ..Self::header(ObjKind::Str)
                },
                ptr: StrBuf::bytes(buf),
                len,
            });
            Ok(self.link_raw(p.cast(), size + bytes))
        }
    }

    /// A new string that takes over `bytes` without copying them.
    fn adopt_str(&mut self, bytes: Box<[u8]>) -> Value {
        let len = bytes.len();
        // (A header alone always fits a cell: `str_cell`.)
        let Some((p, size)) = self.str_memory(0) else {
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<StrObj>())
        };
        // SAFETY: `p` is a new allocation of a header; the buffer is freed with it
        // (`free_object`).
        unsafe {
            p.write(StrObj {
                hdr: Self::header(ObjKind::Str),
                ptr: Box::into_raw(bytes).cast::<u8>(),
                len,
            });
            self.link_raw(p.cast(), size + len)
        }
    }

    /// Memory for a string object with `inline` bytes after its header, and its
    /// size: a cell when it fits one ([`str_cell`]), else an allocation of its
    /// own; `None` if the allocator refuses. Short strings are the most common
    /// objects of string-heavy programs: a cell is a free-list pop, and the sweep
    /// pushes it back, where `malloc` and `free` cost several times that.
    #[inline]
    fn str_memory(&mut self, inline: usize) -> Option<(*mut StrObj, usize)> {
        if let Some(n) = str_cell(inline) {
            return Some((self.cells.pop(n).cast::<StrObj>(), instance_size(n)));
        }
        let layout = str_layout(inline)?;
        // SAFETY: the layout's size is at least the header's, not zero. A refusal
        // is the caller's `OutOfMemory` (a catchable error), not the end.
        let p = crate::rt::fallibly(|| unsafe { std::alloc::alloc(layout) }).cast::<StrObj>();
        (!p.is_null()).then_some((p, layout.size()))
    }

    /// A new array holding a copy of elements `range` of `src` (of its kind),
    /// allocated fallibly. `range` must lie within `src`.
    pub fn alloc_array_copy(
        &mut self,
        src: &ArrayObj,
        range: std::ops::Range<usize>,
    ) -> Result<Value, LimitError> {
        if let Some(bytes) = src.bytes() {
            let mut copy = limits::array_buf(range.len())?;
            copy.extend_from_slice(&bytes[range]);
            return Ok(self.alloc_bool_array(copy));
        }
        let words = src.words().unwrap_or(&[]);
        Ok(self.alloc_array(src.elem, limits::array_copy(&words[range])?))
    }

    /// A new array of `items`. The array object lives in a cell of the size of an
    /// instance of [`ARRAY_CELL`] fields (its buffer is a separate allocation):
    /// taking it from the heap's free list instead of the global allocator made
    /// the allocation-heavy `alloc` benchmark faster (docs/benchmarks.md). A
    /// `[bool]`'s elements are packed into bytes ([`ArrayObj`]); a large one is
    /// better made by [`Heap::alloc_bool_array`].
    pub fn alloc_array(&mut self, elem: ValKind, items: Vec<Value>) -> Value {
        self.alloc_array_obj(|hdr| ArrayObj::new(hdr, elem, items))
    }

    /// A new array of `items` (an array literal, a closure's cell): one that
    /// [`keeps_elements_in_cell`] is in a cell with room for them after the
    /// array object ([`ArrayObj`]), else as [`Heap::alloc_array`].
    pub fn alloc_array_of(&mut self, elem: ValKind, items: &[Value]) -> Value {
        let n = items.len();
        if !keeps_elements_in_cell(elem, n) {
            return self.alloc_array(elem, items.to_vec());
        }
        let p = self.pop_cell(ARRAY_CELL + n).cast::<ArrayObj>();
        // SAFETY: `p` is a free cell of `size_of::<ArrayObj>() + 8n` bytes,
        // aligned for it (the assertions at `ARRAY_CELL`), that nothing else
        // uses; the elements go right after the object, where `items` points.
        // It owns no buffer, and is on no list (its chunk's bits keep it).
        unsafe {
            let elems = p.add(1).cast::<Value>();
            std::ptr::copy_nonoverlapping(items.as_ptr(), elems, n);
            p.write(ArrayObj {
                hdr: Self::header(ObjKind::Array),
                elem,
                inline_cap: n as u8,
                items: ArrayBuf::inline(elems.cast(), n, n),
            });
            debug_assert!((*p).items.is_inline());
        }
        Value::obj(p.cast())
    }

    /// A new `[bool]` of `bytes` (each 0 or 1).
    pub fn alloc_bool_array(&mut self, bytes: Vec<u8>) -> Value {
        self.alloc_array_obj(|hdr| ArrayObj::new_bools(hdr, bytes))
    }

    /// Put the array `make` builds from its header into a cell of an instance
    /// chunk (on no list: its chunk's bits keep it), with its owner bit set
    /// when it owns a buffer (`cells.rs`, "Arrays that own a buffer").
    #[inline]
    fn alloc_array_obj(&mut self, make: impl FnOnce(ObjHeader) -> ArrayObj) -> Value {
        let obj = make(Self::header(ObjKind::Array));
        let n = obj.capacity() * obj.elem_size();
        let owns = obj.owns_buffer();
        let p = self.pop_cell(ARRAY_CELL).cast::<ArrayObj>();
        // SAFETY: `p` is a free cell of an instance chunk of
        // `size_of::<ArrayObj>()` bytes, aligned for it (the assertions at
        // `ARRAY_CELL`), that nothing else uses.
        unsafe {
            p.write(obj);
            if owns {
                note_owner(p.cast());
            }
        }
        self.count_outside_cell(n);
        Value::obj(p.cast())
    }

    pub fn alloc_map(&mut self, key: ValKind, val: ValKind) -> Value {
        self.link(
            Box::new(MapObj {
                hdr: Self::header(ObjKind::Map),
                key,
                val,
                entries: OrderedMap::new(),
            }),
            0,
        )
    }

    /// A new tuple of `items` of kinds `kinds` (as many), in one allocation
    /// ([`TupleObj`]): a cell when it fits one ([`values_cell`]).
    pub fn alloc_tuple(&mut self, kinds: &[ValKind], items: &[Value]) -> Value {
        self.alloc_with_values(kinds, items, |kinds, items| TupleObj {
            hdr: Self::header(ObjKind::Tuple),
            kinds,
            items,
        })
    }

    /// An object of type `T` (a tuple or a function value) that `make` builds
    /// from its values and their kinds, which go right after it in the same
    /// allocation ([`with_values_size`]): a cell of an instance chunk when it
    /// fits one (on no list, like an instance: it owns nothing outside its
    /// cell, so the collection never visits a dead one), else a block of its
    /// own on the all-objects list.
    fn alloc_with_values<T>(
        &mut self,
        kinds: &[ValKind],
        values: &[Value],
        make: impl FnOnce(FixedSlice<ValKind>, FixedSlice<Value>) -> T,
    ) -> Value {
        let n = values.len();
        assert_eq!(kinds.len(), n, "an object's kinds and values");
        let size = with_values_size(std::mem::size_of::<T>(), n);
        let class = values_cell(size);
        let p = match class {
            Some(class) => self.pop_cell(class),
            None => {
                let layout = values_layout(size);
                // SAFETY: the layout's size is at least the object's, not zero.
                let p = unsafe { std::alloc::alloc(layout) };
                if p.is_null() {
                    std::alloc::handle_alloc_error(layout);
                }
                p.cast()
            }
        }
        .cast::<T>();
        // SAFETY: `p` is a new allocation of `size` bytes aligned for `T` and
        // for values (a cell of that size, or the layout's; `T`'s size is a
        // multiple of 8); the values go right after the object and the kinds
        // after them, where the slices point. `T` starts with its header.
        unsafe {
            let values_at = p.add(1).cast::<Value>();
            let kinds_at = values_at.add(n).cast::<ValKind>();
            copy_few(values, values_at);
            copy_few(kinds, kinds_at);
            p.write(make(
                FixedSlice {
                    ptr: kinds_at,
                    len: n,
                },
                FixedSlice {
                    ptr: values_at,
                    len: n,
                },
            ));
            match class {
                Some(_) => Value::obj(p.cast()),
                None => self.link_raw(p.cast(), size),
            }
        }
    }

    /// A new struct (or, with `is_class`, class instance) of layout `layout` holding
    /// a copy of `fields`, in one allocation (see [`StructObj`](super::StructObj)).
    pub fn alloc_struct(&mut self, layout: u32, is_class: bool, fields: impl AsRef<[Value]>) -> Value {
        let fields = fields.as_ref();
        let p = self.alloc_instance(layout, is_class, fields.len());
        // SAFETY: `p` is a new instance with room for `fields.len()` fields after
        // its fixed part; `fields` is not inside it.
        unsafe {
            let data = (p as *mut u8).add(STRUCT_HEAD) as *mut Value;
            std::ptr::copy_nonoverlapping(fields.as_ptr(), data, fields.len());
            self.link_instance(p, fields.len())
        }
    }

    /// A new struct or class instance of layout `layout` with `n` fields, every one
    /// zero (0, 0.0, false and null are all zero bits).
    pub fn alloc_struct_zeroed(&mut self, layout: u32, is_class: bool, n: usize) -> Value {
        let p = self.alloc_instance(layout, is_class, n);
        // SAFETY: `p` is a new instance with room for `n` fields after its fixed part.
        unsafe {
            let data = (p as *mut u8).add(STRUCT_HEAD) as *mut Value;
            std::ptr::write_bytes(data, 0, n);
            self.link_instance(p, n)
        }
    }

    /// Count the new instance `p` of `n` fields, whose header and fields are
    /// written: in a cell (`n < CELL_CLASSES`) it is on no list (its chunk's
    /// mark bits keep it, `cells.rs`), else it goes on the all-objects list.
    ///
    /// # Safety
    /// As [`Heap::link_raw`].
    #[inline(always)]
    unsafe fn link_instance(&mut self, p: *mut ObjHeader, n: usize) -> Value {
        if n >= CELL_CLASSES {
            // SAFETY: the caller's contract.
            return unsafe { self.link_raw(p, instance_size(n)) };
        }
        Value::obj(p)
    }

    /// The memory of a new instance of `n` fields with its fixed part written (the
    /// fields are not, and it is on no list yet): a cell of an instance chunk for
    /// `n < CELL_CLASSES`, else an allocation of its own.
    fn alloc_instance(&mut self, layout: u32, is_class: bool, n: usize) -> *mut ObjHeader {
        let p = if n < CELL_CLASSES {
            self.pop_cell(n)
        } else {
            let l = large_layout(n);
            // SAFETY: the layout's size is not zero.
            let p = unsafe { std::alloc::alloc(l) };
            if p.is_null() {
                std::alloc::handle_alloc_error(l)
            }
            p as *mut ObjHeader
        };
        let kind = if is_class { ObjKind::Class } else { ObjKind::Struct };
        // SAFETY: `p` is memory for an instance of `n` fields that nothing else
        // uses; its fixed part is a `StructHead`. Field counts are capped (the
        // checker's MAX_FIELDS), far below `u32::MAX`.
        unsafe {
            (p as *mut StructHead).write(StructHead {
                hdr: Self::header(kind),
                layout,
                nfields: n as u32,
            })
        };
        p
    }

    /// A new function value of function `func` with `captures` of kinds
    /// `kinds` (as many), in one allocation ([`ClosureObj`]).
    pub fn alloc_closure(&mut self, func: u32, kinds: &[ValKind], captures: &[Value]) -> Value {
        self.alloc_with_values(kinds, captures, |kinds, captures| ClosureObj {
            hdr: Self::header(ObjKind::Closure),
            func,
            kinds,
            captures,
        })
    }

    /// A host object holding `payload` (shared, not copied, when the object is
    /// copied to another thread's heap: see `transfer.rs`).
    pub fn alloc_opaque(&mut self, payload: Arc<dyn Any + Send + Sync>) -> Value {
        self.link(
            Box::new(OpaqueObj {
                hdr: Self::header(ObjKind::Opaque),
                payload,
            }),
            64,
        )
    }

    /// A string that no collection of any heap marks, traces or frees: marked
    /// once and for all, and owned by this heap's list, which must be a heap that
    /// never collects (a [`ConstPool`]'s).
    fn alloc_immortal_str(&mut self, bytes: &[u8]) -> Value {
        if let Some(v) = short_str(bytes) {
            // Immortal already, and read-only.
            return v;
        }
        let v = self.alloc_str(bytes);
        // SAFETY: `v` was just allocated (a live string of this heap).
        unsafe { (*v.as_ptr()).mark = IMMORTAL };
        v
    }

    /// Take every object of `other` into this heap (they stay where they are; only
    /// ownership moves), leaving `other` empty. Their bytes count as allocated
    /// here since the last collection. Used to receive a [`super::Parcel`].
    pub fn adopt(&mut self, other: &mut Heap) {
        // The chunks that hold `other`'s instances come along (before `other`
        // could be dropped with them), and with them the count of its objects
        // allocated from holes (`adopt_regions`).
        self.adopt_regions(other);
        self.objects += std::mem::take(&mut other.objects);
        // Objects `other` marked would pass for old here, and old ones of its
        // may refer to young ones no remembered set of this heap lists.
        self.force_major |= other.stats.collections > 0;
        let bytes = std::mem::take(&mut other.since_gc);
        self.since_gc += bytes;
        self.stats.bytes_allocated += bytes as u64;
        if other.head.is_null() {
            return;
        }
        let mut tail = other.head;
        // SAFETY: `other` owns its list; each node is a live object whose `next`
        // links the rest, and `&mut` access means nothing else walks it.
        unsafe {
            while !(*tail).next.is_null() {
                tail = (*tail).next;
            }
            (*tail).next = self.head;
        }
        self.head = std::mem::replace(&mut other.head, std::ptr::null_mut());
    }

    /// Account for memory a container grew by after allocation (array push, map
    /// insert), so that programs building big structures still trigger collections.
    #[inline]
    pub fn note_growth(&mut self, bytes: usize) {
        self.since_gc += bytes;
    }

    /// Collect: mark from the roots given by `roots` (plus pinned and temporary
    /// roots), then free what is unmarked. Usually a *minor* collection, which
    /// marks only young objects (those allocated since the last collection),
    /// starting from the roots and the remembered set, and sweeps only them;
    /// the survivors are old from then on. A *major* one (when one is due,
    /// [`Heap::major_due`], or when the remembered set cannot be trusted)
    /// marks and sweeps everything.
    pub fn collect(&mut self, roots: &mut dyn FnMut(&mut Marker)) {
        if self.stress_skips_this_one() {
            return;
        }
        if !self.major_due() {
            if let Some(objects) = remembered::take(self.id) {
                self.mark(roots, Some(&objects));
                remembered::give_back(self.id, objects);
                if self.stress {
                    // SAFETY: right after marking: every object of this heap is
                    // live or unmarked and not freed yet.
                    unsafe { self.check_no_old_to_young() };
                }
                self.sweep(false);
                return;
            }
        }
        self.collect_major(roots);
    }

    /// Whether the next collection must be major: objects came from another
    /// heap, stress mode's every eighth, or the old objects (with the memory
    /// the promoted ones hold outside their cells) have grown by half since
    /// the last major collection (docs/architecture.md, "Generations").
    fn major_due(&self) -> bool {
        let limit = (self.major_live + self.major_live / 2).max(MIN_THRESHOLD);
        self.force_major
            || (self.stress && self.stats.collections.is_multiple_of(STRESS_MAJOR_EVERY))
            || self.old_cost + self.old_held > limit
    }

    /// A major collection (see [`Heap::collect`]): afterwards every object of the
    /// heap that is not reachable from the roots is freed.
    pub fn collect_major(&mut self, roots: &mut dyn FnMut(&mut Marker)) {
        // The remembered set is not needed: every object reached is traced,
        // old ones too, as this collection's mark is not theirs. (Those in the
        // set keep their `REMEMBERED` mark until marked again or freed.)
        remembered::clear(self.id);
        self.mark = if self.mark == MARK_A { MARK_B } else { MARK_A };
        self.cells.clear_instance_marks();
        self.mark(roots, None);
        self.sweep(true);
        self.force_major = false;
        self.stats.major_collections += 1;
    }

    /// Mark from the roots and, in a minor collection, from the remembered
    /// objects `remembered` (which are old, so marking does not enter them).
    fn mark(&mut self, roots: &mut dyn FnMut(&mut Marker), remembered: Option<&[*mut ObjHeader]>) {
        GC_EPOCH.fetch_add(1, Ordering::Relaxed);
        let mut gray = std::mem::take(&mut self.gray);
        let mut ranges = std::mem::take(&mut self.ranges);
        with_layouts(|layouts| {
            let mut m = Marker {
                mark: self.mark,
                gray: &mut gray,
                ranges: &mut ranges,
                layouts,
            };
            for v in self.pinned.iter().chain(self.temp_roots.iter()) {
                // SAFETY: pinned constants and temporary roots are null or live
                // objects (the contracts of `pin` and `push_temp_root`).
                unsafe { m.mark(*v) };
            }
            roots(&mut m);
            for &p in remembered.unwrap_or_default() {
                // SAFETY: the write barrier remembered `p`, a live old object
                // then, and nothing was freed since (every collection takes
                // the set first): its references are null or live objects.
                unsafe {
                    (*p).mark = self.mark;
                    trace(p, &mut m);
                }
            }
            // SAFETY: everything queued is a live object (`mark`'s contract).
            unsafe { drain_gray(&mut m) };
        });
        // A stack that held one entry per reference of a large array (all to
        // one object, say) is not kept at that size between collections.
        gray.shrink_to(GRAY_KEPT);
        self.gray = gray;
        self.ranges = ranges;
    }

    /// Stress mode's check after a minor collection's marking: no marked
    /// object refers to an unmarked one. One that did would be an old object a
    /// reference to a young one was stored into without the write barrier:
    /// the young one would be freed while it is still referred to.
    ///
    /// # Safety
    /// Marking has just ended: every object of the heap is live or unmarked,
    /// and none is freed yet.
    unsafe fn check_no_old_to_young(&self) {
        let check = |p: *mut ObjHeader| {
            // SAFETY: the caller's contract: `p` is a marked, live object.
            unsafe {
                for_each_ref(p, &mut |child| {
                    if !is_marked(child, self.mark) {
                        panic!(
                            "internal error: an old {:?} refers to an unmarked {:?} (a store without the write barrier)",
                            (*p).kind,
                            (*child).kind
                        );
                    }
                })
            }
        };
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: `cur` walks the all-objects list.
            unsafe {
                if (*cur).mark == self.mark {
                    check(cur);
                }
                cur = (*cur).next;
            }
        }
        self.cells.for_each_marked_instance(&mut |p| check(p));
    }

    /// Unpin every pinned value: the constants of a program that is replaced by
    /// another (`bp repl` compiles the session again for every input). A constant
    /// still referred to by a root stays alive through that root.
    pub fn unpin_all(&mut self) {
        self.pinned.clear();
    }

    /// Rewrite the program ids that the objects reachable from `roots` (and the
    /// heap's own roots) hold, for a heap carried from one program to the next
    /// (`bp repl`): every function value's function id through `func` and every
    /// struct or class instance's layout id through `layout`. It collects
    /// first, so that only live objects are rewritten (a dead one may hold an
    /// id that has no image). When an id has no image, nothing is changed and
    /// that id is returned.
    ///
    /// # Safety
    /// Every value of `roots` must be null or a live object of this heap, not
    /// bits forged from an int, and nothing else may hold an object of this
    /// heap that they do not reach.
    pub unsafe fn remap_program_ids(
        &mut self,
        roots: &[Value],
        func: &dyn Fn(u32) -> Option<u32>,
        layout: &dyn Fn(u32) -> Option<u32>,
    ) -> Result<(), ProgramId> {
        // SAFETY: the caller's contract.
        self.collect_major(&mut |m| roots.iter().for_each(|&v| unsafe { m.mark(v) }));
        let image = |is_func: bool, id: u32| if is_func { func(id) } else { layout(id) };
        // First a pass that only reads, so that a missing id leaves the heap as it was.
        self.for_each_program_id(&mut |is_func, id| match image(is_func, *id) {
            Some(_) => Ok(()),
            None if is_func => Err(ProgramId::Function(*id)),
            None => Err(ProgramId::Layout(*id)),
        })?;
        self.for_each_program_id(&mut |is_func, id| {
            *id = image(is_func, *id).unwrap_or(*id);
            Ok(())
        })
    }

    /// Call `f` with every function id of a function value (`true`) and every
    /// layout id of an instance (`false`), stopping at its first `Err`. Right
    /// after a major collection: the instances in cells are those it marked.
    fn for_each_program_id(
        &mut self,
        f: &mut dyn FnMut(bool, &mut u32) -> Result<(), ProgramId>,
    ) -> Result<(), ProgramId> {
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: `cur` walks the all-objects list, whose nodes are live objects
            // of the kind their header says (`#[repr(C)]`, header first); `&mut self`
            // means no other reference to them is in use.
            unsafe {
                match (*cur).kind {
                    ObjKind::Closure => f(true, &mut (*(cur as *mut ClosureObj)).func)?,
                    ObjKind::Struct | ObjKind::Class => f(false, &mut (*(cur as *mut StructHead)).layout)?,
                    ObjKind::Str | ObjKind::Array | ObjKind::Map | ObjKind::Tuple | ObjKind::Opaque => {}
                }
                cur = (*cur).next;
            }
        }
        let mut result = Ok(());
        self.cells.for_each_marked_instance(&mut |p| {
            if result.is_err() {
                return;
            }
            // SAFETY: `p` is a live object in a cell of this heap, of the kind
            // its header says.
            result = unsafe {
                match (*p).kind {
                    ObjKind::Closure => f(true, &mut (*(p as *mut ClosureObj)).func),
                    ObjKind::Struct | ObjKind::Class => f(false, &mut (*(p as *mut StructHead)).layout),
                    ObjKind::Array | ObjKind::Tuple | ObjKind::Str | ObjKind::Map | ObjKind::Opaque => Ok(()),
                }
            };
        });
        result
    }

    /// Free every unmarked object of the all-objects list (a minor collection:
    /// of its young part) and the buffers of the dead arrays that own one,
    /// and leave the instance chunks to be swept as their cells are needed
    /// (`cells.rs`). The survivors stay marked: old. Then pace the next
    /// collection.
    fn sweep(&mut self, major: bool) {
        self.settle_counts();
        self.sweep_owners(major);
        let (instances, instance_bytes) = self.cells.instances_marked();
        let before = self.objects;
        let stop = if major {
            std::ptr::null_mut()
        } else {
            self.young_end
        };
        let (mut survivors, mut survivors_cost) = (0, 0);
        let mut prev: *mut ObjHeader = std::ptr::null_mut();
        let mut cur = self.head;
        while cur != stop {
            // SAFETY: `cur` walks the all-objects list (its young part ends at
            // `stop`, an old object a minor collection does not free); each
            // node is a live Box until freed here, and is unlinked before
            // being freed.
            unsafe {
                let next = (*cur).next;
                if (*cur).mark == self.mark {
                    survivors_cost += trace_cost(cur);
                    if !major {
                        self.old_held += held_bytes(cur);
                    }
                    survivors += 1;
                    prev = cur;
                } else {
                    if prev.is_null() {
                        self.head = next;
                    } else {
                        (*prev).next = next;
                    }
                    free_object(cur, &mut self.cells);
                }
                cur = next;
            }
        }
        self.young_end = self.head;
        if major {
            self.old_list_objects = survivors;
            self.old_list_cost = survivors_cost;
        } else {
            self.old_list_objects += survivors;
            self.old_list_cost += survivors_cost;
        }
        self.objects = instances + self.old_list_objects;
        self.stats.objects_freed += before.saturating_sub(self.objects) as u64;
        self.old_cost = self.old_list_cost + instance_bytes + self.owners_cost;
        if major {
            self.old_held = 0;
            self.major_live = self.old_cost;
        }
        self.stats.collections += 1;
        self.since_gc = 0;
        // Both paces follow what the last major collection found alive: a
        // nursery of twice that (as the whole heap's pace was before there
        // were generations: docs/benchmarks.md), and a major collection when
        // the old objects have grown by half ([`Heap::major_due`]). Pacing
        // the nursery by the old objects' cost instead let the promoted
        // garbage grow the nursery with it.
        self.threshold = (self.major_live * 2).max(MIN_THRESHOLD);
        self.gc_limit_changed();
    }

    /// Free the buffers of the dead arrays that own one (`cells.rs`, "Arrays
    /// that own a buffer"), and count the live ones as the old generation's:
    /// in a major collection all of them (`owners_cost` anew), in a minor one
    /// those given their buffer since the last collection (their references
    /// toward `owners_cost`, their buffers toward `old_held`), as the sweep of
    /// the all-objects list counts its survivors.
    fn sweep_owners(&mut self, major: bool) {
        let (mut cost, mut held) = (0, 0);
        self.cells.sweep_owners(major, &mut |p, fate| {
            // SAFETY: `p` is an array object of this heap that owns a buffer
            // (its owner bit); a dead one is not reachable, and its cell is
            // free once this returns: its buffer is freed (the array's drop)
            // and nothing reads it again.
            unsafe {
                match fate {
                    Owner::Dead => std::ptr::drop_in_place(p.cast::<ArrayObj>()),
                    Owner::Promoted | Owner::Live => {
                        cost += trace_cost(p) - std::mem::size_of::<ArrayObj>();
                        if fate == Owner::Promoted {
                            held += held_bytes(p);
                        }
                    }
                }
            }
        });
        if major {
            self.owners_cost = cost;
        } else {
            self.owners_cost += cost;
            self.old_held += held;
        }
    }
}

/// Inline allocation (compiled code) and the moving of cells between heaps.
impl Heap {
    /// Byte offset of the field compiled code's inline allocation reads and
    /// writes (`heap::abi`; docs/jit.md, "Inline allocation"):
    /// `holes[0]` of the cells (instances of 0 fields): its cursor, then its
    /// limit; `holes[n]` is 16 bytes per field further.
    pub(super) const OFF_INSTANCE_HOLES: usize =
        std::mem::offset_of!(Heap, cells) + std::mem::offset_of!(Cells, holes);

    /// Recompute `gc_limit` after `threshold` or `stress` changed.
    fn gc_limit_changed(&mut self) {
        self.gc_limit = if self.stress { 0 } else { self.threshold };
    }

    /// Take over the cell chunks of `other` (and its free cells), for
    /// `Heap::adopt`, which moves `other`'s objects to this heap: the instances in
    /// those chunks then live in memory this heap owns and frees. `other` keeps
    /// no chunks. Whatever moves instances from one heap to another must call
    /// this before `other` is dropped (dropping a heap frees its chunks, and with
    /// them every instance in them, wherever it is linked). Nothing is copied:
    /// the chunks change owner, and `other`'s free lists are put in front of
    /// this heap's (a walk over `other`'s free cells).
    pub fn adopt_regions(&mut self, other: &mut Heap) {
        other.settle_counts();
        self.cells.adopt(&mut other.cells);
    }

    /// Bytes of cell chunks this heap holds (used or free).
    pub fn cell_bytes(&self) -> usize {
        self.cells.chunk_bytes()
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        remembered::release(self.id, self.stats.collections > 0);
        self.cells.for_each_owner(&mut |p| {
            // SAFETY: `p` is an array object of this heap that owns a buffer;
            // nothing uses the heap's objects once it is dropped.
            unsafe { std::ptr::drop_in_place(p.cast::<ArrayObj>()) }
        });

        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: the heap owns every object in its list; nothing uses them after
            // the heap is dropped.
            unsafe {
                let next = (*cur).next;
                free_object(cur, &mut self.cells);
                cur = next;
            }
        }
        self.head = std::ptr::null_mut();
    }
}

/// Objects taken off the gray stack and prefetched before they are marked:
/// binary_trees' collections took 8 % less time with 8, 15 % with 16 and 17 %
/// with 32 (and 29 % with the second line prefetched too, see `drain_gray`).
const PREFETCH_AHEAD: usize = 32;

/// Entries of the gray stack's buffer kept from one collection to the next.
const GRAY_KEPT: usize = 1 << 16;

/// How many slots of a long run ([`Marker::mark_slots`]) are queued at a time.
const RANGE_CHUNK: usize = 1024;

/// Mark and trace everything queued on `m`'s gray stack, and everything it
/// reaches. An object is marked when it is taken off the stack, not when it is
/// queued, and it is prefetched [`PREFETCH_AHEAD`] objects before that: the
/// header loads of a tree's nodes, which were each a cache miss in turn (half
/// of binary_trees' collection time was the one load of a child's mark), then
/// overlap. Queueing before checking the mark may queue an object once per
/// reference to it, so the stack can hold up to one entry per live reference
/// rather than per live object; taking the last-queued objects first keeps
/// the order depth-first.
///
/// # Safety
/// Every object queued on the stack, and every reference slot of a live
/// object, must be null or a live object of this heap.
unsafe fn drain_gray(m: &mut Marker) {
    let mut ahead = [std::ptr::null_mut::<ObjHeader>(); PREFETCH_AHEAD];
    let (mut first, mut len) = (0usize, 0usize);
    loop {
        while len < PREFETCH_AHEAD {
            if m.gray.is_empty() {
                // SAFETY: the caller's contract: the runs' slots are in place.
                unsafe { queue_next_chunk(m) };
            }
            let Some(p) = m.gray.pop() else { break };
            // The header, and the line after it where an object's first
            // fields often are (a `Node`'s two children at bytes 24..40).
            prefetch(p);
            prefetch(p.cast::<u8>().wrapping_add(32).cast());
            ahead[(first + len) % PREFETCH_AHEAD] = p;
            len += 1;
        }
        if len == 0 {
            return;
        }
        let p = ahead[first];
        first = (first + 1) % PREFETCH_AHEAD;
        len -= 1;
        // SAFETY: the caller's contract: `p` is a live object.
        unsafe {
            if mark_object(p, m.mark) {
                trace(p, m);
            }
        }
    }
}

/// Queue the next [`RANGE_CHUNK`] slots of the last run of `m`, if any.
///
/// # Safety
/// The run's slots must be in place, each null or a live object of this heap.
unsafe fn queue_next_chunk(m: &mut Marker) {
    let Some((p, n)) = m.ranges.pop() else { return };
    let k = n.min(RANGE_CHUNK);
    if n > k {
        // SAFETY: `k < n`: still within the run.
        m.ranges.push((unsafe { p.add(k) }, n - k));
    }
    // SAFETY: the caller's contract: `p..p + k` are slots of the run.
    let chunk = unsafe { std::slice::from_raw_parts(p, k) };
    for v in chunk {
        // SAFETY: the caller's contract.
        unsafe { m.mark(*v) };
    }
}

/// Copy `from` to `to`: element by element for the few of a pair or a triple,
/// where a `memmove` call was a sixth of the time of returning a pair.
///
/// # Safety
/// `to` must be valid for writes of `from.len()` elements and not overlap `from`.
#[inline(always)]
unsafe fn copy_few<T: Copy>(from: &[T], to: *mut T) {
    // SAFETY: the caller's contract.
    unsafe {
        match *from {
            [a] => to.write(a),
            [a, b] => {
                to.write(a);
                to.add(1).write(b);
            }
            [a, b, c] => {
                to.write(a);
                to.add(1).write(b);
                to.add(2).write(c);
            }
            _ => std::ptr::copy_nonoverlapping(from.as_ptr(), to, from.len()),
        }
    }
}

/// The cell class of an object with values of `size` bytes
/// ([`with_values_size`]: an instance of that many fields), if it fits a cell.
pub(super) fn values_cell(size: usize) -> Option<usize> {
    let fields = (size - instance_size(0)) / 8;
    (fields < CELL_CLASSES).then_some(fields)
}

/// The layout of an object with values of `size` bytes too large for a cell.
fn values_layout(size: usize) -> std::alloc::Layout {
    match std::alloc::Layout::from_size_align(size, std::mem::align_of::<Value>()) {
        Ok(l) => l,
        // (At most 256 values: the size is small.)
        Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<TupleObj>()),
    }
}

/// Give back the memory of an object with values of `size` bytes on the
/// all-objects list: one too large for a cell (one in a cell is on no list,
/// and its chunk's sweep reuses the cell).
///
/// # Safety
/// `p` must be such an object, allocated by [`Heap::alloc_with_values`], and
/// not used again.
unsafe fn free_with_values(p: *mut ObjHeader, size: usize) {
    debug_assert!(
        values_cell(size).is_none(),
        "an object in a cell on the all-objects list"
    );
    if values_cell(size).is_none() {
        // SAFETY: the caller's contract: a block of that layout.
        unsafe { std::alloc::dealloc(p.cast(), values_layout(size)) }
    }
}

/// Mark the object `p` with `mark` (the collection's: see [`MARK_A`]); true
/// if it was not marked. An object in a cell of an instance chunk (an
/// instance, array, tuple or function value: [`in_cell`]) is marked in its
/// chunk's bits (`cells.rs`), and its header says it is old; every other
/// object is marked in its header. (An immortal object is marked already.)
///
/// # Safety
/// `p` must be a live object of the heap being collected, or immortal.
#[inline(always)]
unsafe fn mark_object(p: *mut ObjHeader, mark: u8) -> bool {
    // SAFETY: the caller's contract; an instance's fixed part is a `StructHead`,
    // and one of fewer than `CELL_CLASSES` fields is in a cell of an instance
    // chunk (`Heap::alloc_instance`).
    unsafe {
        if in_cell(p) {
            if !mark_instance(p) {
                return false;
            }
            // A young one is old from now on, and so is one in a remembered
            // set that a major collection dropped (any old mark will do for
            // the barrier: the chunk's bits are the instance's mark).
            if (*p).mark & OLD_BIT == 0 {
                (*p).mark = mark;
            }
            return true;
        }
        let old = (*p).mark;
        if old == mark || old == IMMORTAL {
            return false;
        }
        (*p).mark = mark;
        true
    }
}

/// Whether `p` is in a cell of an instance chunk, marked in its chunk's
/// bits: an instance of fewer than `CELL_CLASSES` fields, an array, or a
/// tuple or function value that fits a cell ([`values_cell`]).
///
/// # Safety
/// `p` must be a live object.
#[inline(always)]
unsafe fn in_cell(p: *mut ObjHeader) -> bool {
    // SAFETY: the caller's contract; an instance's fixed part is a `StructHead`.
    unsafe {
        match (*p).kind {
            ObjKind::Array => true,
            ObjKind::Struct | ObjKind::Class => ((*(p as *const StructHead)).nfields as usize) < CELL_CLASSES,
            ObjKind::Tuple => values_cell(tuple_size((*(p as *const TupleObj)).items.len)).is_some(),
            ObjKind::Closure => values_cell(closure_size((*(p as *const ClosureObj)).captures.len)).is_some(),
            ObjKind::Str | ObjKind::Map | ObjKind::Opaque => false,
        }
    }
}

/// Whether the live object `p` is marked with `mark` (stress mode's check).
///
/// # Safety
/// `p` must be a live object.
unsafe fn is_marked(p: *mut ObjHeader, mark: u8) -> bool {
    // SAFETY: the caller's contract.
    unsafe {
        if in_cell(p) {
            instance_marked(p)
        } else {
            (*p).mark == mark || (*p).mark == IMMORTAL
        }
    }
}

/// Ask the CPU to bring the cache line at `p` in (a hint: it never faults).
#[inline(always)]
fn prefetch(p: *const ObjHeader) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that reads nothing and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above (`prfm` never faults).
    unsafe {
        std::arch::asm!("prfm pldl1keep, [{0}]", in(reg) p, options(nostack, readonly, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = p;
}

/// Queue the children of `p` that hold references.
///
/// # Safety
/// `p` must point to a live object. The children it marks are then live too: each
/// is read as the kind its container records (the contract of `mark_slots`).
#[inline(always)]
unsafe fn trace(p: *mut ObjHeader, m: &mut Marker) {
    // SAFETY: the caller's contract; a run of an array's reference slots stays
    // in place while the marking lasts (no mutator runs).
    unsafe { visit_refs(p, m) }
}

/// What [`visit_refs`] shows the references of an object to.
trait RefVisitor {
    /// An array's elements, all of reference kind.
    fn slots(&mut self, slots: &[Value]);
    /// Any other value of reference kind.
    fn one(&mut self, v: Value);
    /// The fields of reference kind of the instance `s`, by its layout.
    fn fields(&mut self, s: &StructObj) {
        with_layout(s.layout, |l| visit_fields(s, l, self));
    }
}

/// Show `to` the fields of `s` that layout `l` says are references.
#[inline(always)]
fn visit_fields(s: &StructObj, l: &Layout, to: &mut (impl RefVisitor + ?Sized)) {
    for (x, f) in s.fields.iter().zip(&l.fields) {
        if f.1 == ValKind::Ref {
            to.one(*x);
        }
    }
}

impl RefVisitor for Marker<'_> {
    #[inline(always)]
    fn slots(&mut self, slots: &[Value]) {
        // SAFETY: `visit_refs`' callers vouch for the object: its reference
        // slots are null or live objects, in place while marking lasts.
        unsafe { self.mark_slots(slots, ValKind::Ref) }
    }
    #[inline(always)]
    fn one(&mut self, v: Value) {
        // SAFETY: as above.
        unsafe { self.mark(v) }
    }
    #[inline(always)]
    fn fields(&mut self, s: &StructObj) {
        if let Some(l) = self.layouts.get(s.layout as usize) {
            visit_fields(s, l, self);
        }
    }
}

/// The references of an object, as a list (stress mode's check).
struct RefList(Vec<Value>);

impl RefVisitor for RefList {
    fn slots(&mut self, slots: &[Value]) {
        self.0.extend_from_slice(slots);
    }
    fn one(&mut self, v: Value) {
        self.0.push(v);
    }
}

/// Call `f` with every non-null reference `p` holds (stress mode's check).
///
/// # Safety
/// `p` must point to a live object.
unsafe fn for_each_ref(p: *mut ObjHeader, f: &mut dyn FnMut(*mut ObjHeader)) {
    let mut refs = RefList(Vec::new());
    // SAFETY: the caller's contract.
    unsafe { visit_refs(p, &mut refs) };
    for v in refs.0 {
        if !v.is_null() {
            f(v.as_ptr());
        }
    }
}

/// Show `to` the values of `p` of reference kind (null or not): the one
/// description of what an object refers to, for marking and for stress mode's
/// check.
///
/// # Safety
/// `p` must point to a live object.
#[inline(always)]
unsafe fn visit_refs(p: *mut ObjHeader, to: &mut impl RefVisitor) {
    let v = Value::obj(p);
    // SAFETY: the caller's contract: a live object of the kind its header says.
    unsafe {
        match (*p).kind {
            ObjKind::Str | ObjKind::Opaque => {}
            ObjKind::Array => {
                let a = as_array(v);
                if let (Some(items), ValKind::Ref) = (a.words(), a.elem) {
                    to.slots(items);
                }
            }
            ObjKind::Map => {
                let mo = as_map(v);
                // (Keys that are all immortal objects need no marking.)
                let keys = mo.key == ValKind::Ref && mo.entries.has_mortal_keys();
                if keys || mo.val == ValKind::Ref {
                    for (k, val) in mo.entries.iter() {
                        if keys {
                            to.one(k.bits());
                        }
                        if mo.val == ValKind::Ref {
                            to.one(*val);
                        }
                    }
                }
            }
            ObjKind::Tuple => {
                let t = as_tuple(v);
                visit_kinded(&t.items, &t.kinds, to);
            }
            ObjKind::Struct | ObjKind::Class => to.fields(as_struct(v)),
            ObjKind::Closure => {
                let c = as_closure(v);
                visit_kinded(&c.captures, &c.kinds, to);
            }
        }
    }
}

/// Show `to` the values of `items` whose kind in `kinds` is a reference (a
/// tuple's items, a closure's captures).
#[inline(always)]
fn visit_kinded(items: &[Value], kinds: &[ValKind], to: &mut impl RefVisitor) {
    for (x, k) in items.iter().zip(kinds) {
        if *k == ValKind::Ref {
            to.one(*x);
        }
    }
}

/// Owned buffers longer than this are adopted by a new string instead of copied into
/// it: the copy would cost more than the second allocation saves.
pub const STR_ADOPT_MIN: usize = 256;

/// What [`Heap::alloc_str`] makes a string from: borrowed bytes are copied into the
/// object; an owned buffer is copied when short and adopted when long ([`StrObj`]).
pub trait StrSource {
    fn into_str(self, heap: &mut Heap) -> Value;
}

impl StrSource for &[u8] {
    fn into_str(self, heap: &mut Heap) -> Value {
        match heap.alloc_str_parts(&[self]) {
            Ok(v) => v,
            // As `Box::new` would: the caller asked for an infallible copy.
            Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<StrObj>()),
        }
    }
}

/// An owned buffer: copied into the object when short (and the copy can be had),
/// adopted otherwise. The buffer is boxed only when adopted, so a short `Vec` with
/// spare capacity is never reallocated just to be copied.
fn owned_into_str(bytes: impl AsRef<[u8]> + Into<Box<[u8]>>, heap: &mut Heap) -> Value {
    if bytes.as_ref().len() <= STR_ADOPT_MIN {
        if let Ok(v) = heap.alloc_str_parts(&[bytes.as_ref()]) {
            return v;
        }
    }
    heap.adopt_str(bytes.into())
}

impl StrSource for Box<[u8]> {
    fn into_str(self, heap: &mut Heap) -> Value {
        owned_into_str(self, heap)
    }
}

impl StrSource for Vec<u8> {
    fn into_str(self, heap: &mut Heap) -> Value {
        owned_into_str(self, heap)
    }
}

/// What live object `p` costs a collection, in bytes read: its header and the
/// references the marker traces in it, but not the bytes of a string nor the
/// items of an array or map of scalars, which marking never reads. The next
/// collection comes after twice the survivors' cost has been allocated, so the
/// collector's work stays a bounded share of the allocation's however the live
/// data is made, and a heap of strings or scalar arrays (a map of 200 k ints, a
/// 16 MB sieve) does not let twice its size of garbage pile up before a
/// collection: that garbage was page faults (docs/benchmarks.md, eighth session).
///
/// # Safety
/// `p` must point to a live object.
unsafe fn trace_cost(p: *mut ObjHeader) -> usize {
    let v = Value::obj(p);
    match (*p).kind {
        ObjKind::Str => std::mem::size_of::<StrObj>(),
        ObjKind::Array => {
            let a = as_array(v);
            let refs = if a.elem == ValKind::Ref { a.len() * 8 } else { 0 };
            std::mem::size_of::<ArrayObj>() + refs
        }
        ObjKind::Map => {
            let mo = as_map(v);
            let traced = mo.key == ValKind::Ref || mo.val == ValKind::Ref;
            let entries = if traced { mo.entries.slot_count() * 32 } else { 0 };
            std::mem::size_of::<MapObj>() + entries
        }
        ObjKind::Tuple => std::mem::size_of::<TupleObj>() + as_tuple(v).items.len() * 9,
        ObjKind::Struct | ObjKind::Class => instance_size(as_struct(v).fields.len()),
        ObjKind::Closure => std::mem::size_of::<ClosureObj>() + as_closure(v).captures.len() * 9,
        ObjKind::Opaque => std::mem::size_of::<OpaqueObj>() + 64,
    }
}

/// The memory the object `p` holds outside its cell or block: a string's
/// bytes when they are not inline, an array's buffer, a map's entries.
///
/// # Safety
/// `p` must point to a live object.
unsafe fn held_bytes(p: *mut ObjHeader) -> usize {
    let v = Value::obj(p);
    // SAFETY: the caller's contract.
    unsafe {
        match (*p).kind {
            ObjKind::Str => {
                let s = p.cast::<StrObj>();
                if (*s).ptr.cast_mut() == str_inline_bytes(s) {
                    0
                } else {
                    (*s).len
                }
            }
            ObjKind::Array => {
                let a = as_array(v);
                if a.owns_buffer() {
                    a.capacity() * a.elem_size()
                } else {
                    0
                }
            }
            ObjKind::Map => as_map(v).entries.capacity() * 32,
            _ => 0,
        }
    }
}

/// The cell class of array objects: an [`ArrayObj`] is exactly as large as an
/// instance of this many fields.
pub(super) const ARRAY_CELL: usize = (std::mem::size_of::<ArrayObj>() - STRUCT_HEAD) / 8;
const _: () = assert!(instance_size(ARRAY_CELL) == std::mem::size_of::<ArrayObj>());
const _: () = assert!(ARRAY_CELL < CELL_CLASSES);
const _: () = assert!(std::mem::align_of::<ArrayObj>() <= 8);

/// The most elements an array keeps in its own cell ([`Heap::alloc_array_of`]):
/// its cell class must exist, and 8 words (a cache line) covers pairs, small
/// vectors and closures' cells.
pub const INLINE_ARRAY_MAX: usize = 8;
const _: () = assert!(ARRAY_CELL + INLINE_ARRAY_MAX < CELL_CLASSES);
const _: () = assert!(INLINE_ARRAY_MAX <= u8::MAX as usize);

/// Whether a new array of `n` elements of kind `elem` keeps them in its own
/// cell ([`Heap::alloc_array_of`], and compiled code's inline allocation):
/// 1 to [`INLINE_ARRAY_MAX`] words (a `[bool]` holds bytes).
pub fn keeps_elements_in_cell(elem: ValKind, n: usize) -> bool {
    (1..=INLINE_ARRAY_MAX).contains(&n) && elem != ValKind::Bool
}

/// The element kind of a closure's cell holding a value of kind `kind`: a
/// one-element array, of `[int]` for a `bool` (its value, 0 or 1, is the same
/// word), since `CellGet` and `CellSet` read and write a word where a
/// `[bool]` would hold a byte.
pub fn cell_elem_kind(kind: ValKind) -> ValKind {
    match kind {
        ValKind::Bool => ValKind::Int,
        k => k,
    }
}

/// Copy `parts` one after another to `dst`.
///
/// # Safety
/// `dst` must be valid for writes of the parts' total length, and no part may
/// overlap it.
#[inline(always)]
unsafe fn copy_parts(mut dst: *mut u8, parts: &[&[u8]]) {
    for part in parts {
        // SAFETY: the caller's contract.
        unsafe {
            copy_bytes(part.as_ptr(), dst, part.len());
            dst = dst.add(part.len());
        }
    }
}

/// Results of at least this many bytes whose left operand is a string go to a
/// shared growable buffer ([`StrBuf`]): below it a copy costs about what the
/// buffer's own allocation does, and short strings stay in cells.
pub const STR_BUF_MIN: usize = 64;

/// Copy `len` bytes from `src` to `dst`. Up to 16 bytes (most parts of a
/// concatenation: a separator, a number, a short word) with two possibly
/// overlapping loads and stores instead of a call of `memcpy`.
///
/// # Safety
/// As [`std::ptr::copy_nonoverlapping`].
#[inline(always)]
unsafe fn copy_bytes(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: every access is inside `src[..len]` or `dst[..len]`, which the
    // caller guarantees valid and disjoint; the reads and writes are unaligned.
    unsafe {
        match len {
            0 => {}
            1..=3 => {
                *dst = *src;
                *dst.add(len / 2) = *src.add(len / 2);
                *dst.add(len - 1) = *src.add(len - 1);
            }
            4..=7 => copy_ends::<u32>(src, dst, len),
            8..=16 => copy_ends::<u64>(src, dst, len),
            _ => std::ptr::copy_nonoverlapping(src, dst, len),
        }
    }
}

/// Copy `len` bytes, where `size_of::<T>() <= len <= 2 * size_of::<T>()`, as the
/// first and the last `T` of the range (overlapping when `len` is less than two).
///
/// # Safety
/// As [`copy_bytes`], and `len` in that range.
#[inline(always)]
unsafe fn copy_ends<T: Copy>(src: *const u8, dst: *mut u8, len: usize) {
    let last = len - std::mem::size_of::<T>();
    // SAFETY: both `T`s lie inside `src[..len]` and `dst[..len]` (the caller's
    // contract); the accesses are unaligned.
    unsafe {
        let (a, b) = (
            src.cast::<T>().read_unaligned(),
            src.add(last).cast::<T>().read_unaligned(),
        );
        dst.cast::<T>().write_unaligned(a);
        dst.add(last).cast::<T>().write_unaligned(b);
    }
}

/// The cell class of a string object with `inline` bytes after its header (the
/// smallest instance size that holds it), or `None` when it is too long for a
/// cell (over 120 bytes). [`Heap::str_memory`] and [`free_object`] both decide
/// by this.
#[inline]
fn str_cell(inline: usize) -> Option<usize> {
    let size = std::mem::size_of::<StrObj>().checked_add(inline)?;
    let n = (size - STRUCT_HEAD).div_ceil(8);
    (n < CELL_CLASSES).then_some(n)
}
const _: () = assert!(std::mem::size_of::<StrObj>() >= STRUCT_HEAD);
const _: () = assert!(std::mem::align_of::<StrObj>() <= 8);

/// # Safety
/// `p` must be an unlinked object allocated by the [`Heap`] whose cells `cells`
/// are, not used afterwards.
unsafe fn free_object(p: *mut ObjHeader, cells: &mut Cells) {
    match (*p).kind {
        ObjKind::Str => {
            let s = p.cast::<StrObj>();
            let (bytes, len) = ((*s).ptr.cast_mut(), (*s).len);
            let inline = if bytes == str_inline_bytes(s) {
                len
            } else if (*s).hdr.buffered {
                StrBuf::release(StrBuf::of(bytes));
                0
            } else {
                // An adopted buffer: a `Box<[u8]>` of `len` bytes (`adopt_str`).
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(bytes, len)));
                0
            };
            if let Some(n) = str_cell(inline) {
                cells.push(p, n);
            } else if let Some(layout) = str_layout(inline) {
                std::alloc::dealloc(p.cast(), layout);
            }
        }
        // In a cell of an instance chunk, on no list: never freed here (the
        // collection frees the buffer of a dead one, `Heap::sweep_owners`).
        ObjKind::Array => debug_assert!(false, "an array on the all-objects list"),
        ObjKind::Map => drop(Box::from_raw(p as *mut MapObj)),
        // One allocation each, nothing to drop (`Heap::alloc_with_values`).
        ObjKind::Tuple => free_with_values(p, tuple_size((*(p as *mut TupleObj)).items.len)),
        ObjKind::Struct | ObjKind::Class => {
            // Fields are plain values: nothing to drop, only memory to give back.
            // An instance in a cell is on no list, so never freed here: the
            // sweep of its chunk reuses the cell (`cells.rs`).
            let n = (*(p as *mut StructHead)).nfields as usize;
            debug_assert!(n >= CELL_CLASSES, "an instance in a cell on the all-objects list");
            if n >= CELL_CLASSES {
                std::alloc::dealloc(p as *mut u8, large_layout(n));
            }
        }
        ObjKind::Closure => free_with_values(p, closure_size((*(p as *mut ClosureObj)).captures.len)),
        ObjKind::Opaque => drop(Box::from_raw(p as *mut OpaqueObj)),
    }
}

/// The string constants of a program, shared by the VMs of every thread of a run
/// and by the code the JIT compiles for them (which embeds their addresses).
///
/// The strings are immortal: their headers are marked for good, so the collector
/// of a heap that reaches one (through a register, a global or a container) neither
/// writes to it nor traces it, and they are in no thread's heap, so no sweep frees
/// them. They are freed with the pool, which every VM that uses them keeps alive
/// (`Rt::keep_alive`).
pub struct ConstPool {
    heap: Heap,
    /// Per function, its constant pool as values (numbers as they are, strings as
    /// the immortal objects).
    pub functions: Vec<Box<[Value]>>,
}

// SAFETY: after construction the pool is only read: its strings are immutable and
// their headers are never written (they are marked already), by any thread.
unsafe impl Send for ConstPool {}
// SAFETY: as for `Send`: shared reads only.
unsafe impl Sync for ConstPool {}

impl ConstPool {
    pub fn new() -> ConstPool {
        ConstPool {
            heap: Heap::new(false),
            functions: Vec::new(),
        }
    }

    /// An immortal string of this pool holding `bytes`.
    pub fn string(&mut self, bytes: &[u8]) -> Value {
        self.heap.alloc_immortal_str(bytes)
    }
}

impl Default for ConstPool {
    fn default() -> Self {
        ConstPool::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{as_array_mut, as_map_mut, as_tuple_mut, str_bytes, MapKey};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read.

    /// Whether string `v` keeps its bytes inline (not in an adopted buffer).
    fn is_inline(v: Value) -> bool {
        let p = v.as_ptr().cast::<StrObj>();
        unsafe { (*p).ptr == str_inline_bytes(p).cast_const() }
    }

    #[test]
    fn strings_are_inline_unless_a_long_buffer_is_handed_over() {
        let mut h = Heap::new(false);
        let long = vec![b'x'; STR_ADOPT_MIN + 1];
        let cases: [(Value, &[u8], bool); 6] = [
            (h.alloc_str(&b""[..]), b"", true),
            (h.alloc_str(&b"abc"[..]), b"abc", true),
            (h.alloc_str(b"owned".to_vec()), b"owned", true),
            (h.alloc_str(long.clone()), &long, false),
            (h.alloc_str(long.clone().into_boxed_slice()), &long, false),
            (
                h.alloc_str_parts(&[b"ab", b"", b"cd"]).expect("small"),
                b"abcd",
                true,
            ),
        ];
        for (v, want, inline) in cases {
            assert_eq!(unsafe { str_bytes(v) }, want);
            assert_eq!(is_inline(v), inline, "{:?}", String::from_utf8_lossy(want));
        }
        // Borrowed bytes are copied whatever their length.
        let copy = h.alloc_str_copy(&long).expect("copy");
        assert!(is_inline(copy));
        // Both kinds are accounted with their bytes and freed.
        assert!(h.since_gc >= 3 * long.len());
        h.collect(&mut |_| {});
        assert_eq!(h.objects(), 0);
    }

    #[test]
    fn a_string_past_the_cap_is_an_error_not_an_abort() {
        let mut h = Heap::new(false);
        let r = h.alloc_str_parts(&[b"a", &vec![0u8; limits::MAX_STR_LEN]]);
        assert!(r.is_err());
        assert_eq!(h.objects(), 0);
    }

    #[test]
    fn unreachable_objects_are_freed_and_roots_survive() {
        let mut h = Heap::new(false);
        let keep = h.alloc_str(&b"keep"[..]);
        let arr = h.alloc_array(ValKind::Ref, vec![keep]);
        for _ in 0..100 {
            h.alloc_str(&b"garbage"[..]);
        }
        assert_eq!(h.objects(), 102);
        // SAFETY: `arr` is a live array of `h`.
        h.collect(&mut |m| unsafe { m.mark(arr) });
        assert_eq!(h.objects(), 2);
        assert_eq!(unsafe { str_bytes(as_array(arr).to_vec()[0]) }, b"keep");
        h.collect_major(&mut |_| {});
        assert_eq!(h.objects(), 0);
    }

    /// Marking queues an object once per reference to it (the mark is checked
    /// when it is taken off the stack): many references to one object, cycles
    /// and a deep chain are each traced once, and the stack's buffer is not
    /// kept at its peak size.
    #[test]
    fn shared_objects_cycles_and_deep_chains_are_marked_once() {
        let mut h = Heap::new(false);
        let shared = h.alloc_str(&b"shared"[..]);
        let many = h.alloc_array(ValKind::Ref, vec![shared; 200_000]);
        // A chain of 100 000 one-element arrays, the last pointing at the first.
        let first = h.alloc_array(ValKind::Ref, vec![Value::NULL]);
        let mut last = first;
        for _ in 0..100_000 {
            last = h.alloc_array(ValKind::Ref, vec![last]);
        }
        unsafe { as_array_mut(first) }.set(0, last);
        for _ in 0..1000 {
            h.alloc_str(&b"garbage"[..]);
        }
        // SAFETY: `many` and `first` are live arrays of `h`.
        h.collect(&mut |m| unsafe {
            m.mark(many);
            m.mark(first);
        });
        assert_eq!(h.objects(), 2 + 100_001);
        assert!(h.gray.capacity() <= GRAY_KEPT);
        assert_eq!(unsafe { str_bytes(as_array(many).to_vec()[199_999]) }, b"shared");
        // A major collection marks afresh: it frees what is no longer reachable,
        // old or not.
        h.collect_major(&mut |m| unsafe { m.mark(many) });
        assert_eq!(h.objects(), 2);
    }

    /// `copy_bytes` copies exactly `len` bytes at every length of its short
    /// cases and their edges, touching nothing after them.
    #[test]
    fn copy_bytes_copies_every_length() {
        let src: Vec<u8> = (1..=40).collect();
        for len in 0..=40 {
            let mut dst = [0u8; 48];
            // SAFETY: `src` has 40 bytes and `dst` 48, both at least `len`; they
            // are distinct arrays.
            unsafe { copy_bytes(src.as_ptr(), dst.as_mut_ptr(), len) };
            assert_eq!(&dst[..len], &src[..len], "len {len}");
            assert!(
                dst[len..].iter().all(|&b| b == 0),
                "len {len}: wrote past the end"
            );
        }
    }

    /// Strings on both sides of the cell limit (120 inline bytes), built by copy
    /// and by adopting a buffer, keep their bytes through collections that free
    /// their neighbours, and the cells the dead ones leave are reused by strings
    /// of the same class.
    #[test]
    fn strings_in_and_out_of_cells_survive_and_are_reused() {
        let mut h = Heap::new(false);
        let text = |n: usize, salt: u8| -> Vec<u8> { (0..n).map(|i| b'a' + (i as u8 ^ salt) % 26).collect() };
        let lens = [2, 3, 7, 8, 9, 112, 119, 120, 121, 128, 200, STR_ADOPT_MIN + 1];
        let mut kept = Vec::new();
        for (k, &n) in lens.iter().enumerate() {
            let salt = k as u8;
            kept.push((
                h.alloc_str_parts(&[&text(n, salt)]).expect("small"),
                text(n, salt),
            ));
            kept.push((h.alloc_str(text(n, salt).into_boxed_slice()), text(n, salt)));
            h.alloc_str(&text(n, salt ^ 1)[..]);
        }
        assert_eq!(str_cell(120), Some(CELL_CLASSES - 1));
        assert_eq!(str_cell(121), None);
        let roots: Vec<Value> = kept.iter().map(|(v, _)| *v).collect();
        let collect = |h: &mut Heap| {
            // SAFETY: the roots are live strings of `h`.
            h.collect(&mut |m| unsafe { roots.iter().for_each(|&v| m.mark(v)) })
        };
        collect(&mut h);
        assert_eq!(h.objects(), kept.len());
        let chunks = h.cells.chunk_bytes();
        // 2,000 rounds allocate 8,000 strings of the 32-byte class alone, more
        // than a chunk holds: without reuse, new chunks would appear.
        for _ in 0..2000 {
            for &n in &lens[..9] {
                h.alloc_str(&text(n, 7)[..]);
            }
            collect(&mut h);
        }
        assert_eq!(h.cells.chunk_bytes(), chunks, "freed string cells are reused");
        for (v, want) in &kept {
            // SAFETY: `v` is a live string of `h` (a root of every collection).
            assert_eq!(unsafe { str_bytes(*v) }, &want[..]);
        }
    }

    /// Concatenation onto a buffered string appends in place only from the
    /// longest string on the buffer: a second concatenation onto the same left
    /// operand copies, so no string's bytes ever change; and the buffer lives
    /// exactly as long as some string on it.
    #[test]
    fn appends_share_a_buffer_and_never_change_a_string() {
        let mut h = Heap::new(false);
        let base = vec![b'x'; STR_BUF_MIN];
        let s0 = h.alloc_str_parts(&[&base]).expect("small");
        let head = |v: Value| unsafe { (*v.as_ptr().cast::<StrObj>()).hdr.buffered };
        let bytes = |v: Value| unsafe { str_bytes(v).to_vec() };
        let buffer = |v: Value| unsafe { StrBuf::of((*v.as_ptr().cast::<StrObj>()).ptr) };
        // An ordinary string on the left: the result starts a buffer.
        let s1 = unsafe { h.alloc_str_after(s0, &[&bytes(s0), b"ab", b"c"]) }.expect("room");
        assert!(!head(s0) && head(s1));
        // From the longest string: in place, on the same buffer.
        let s2 = unsafe { h.alloc_str_after(s1, &[&bytes(s1), b"de"]) }.expect("room");
        assert_eq!(buffer(s2), buffer(s1));
        // From a shorter one again: a copy, which leaves `s2` as it was.
        let s3 = unsafe { h.alloc_str_after(s1, &[&bytes(s1), b"XY"]) }.expect("room");
        assert_ne!(buffer(s3), buffer(s1));
        let s4 = unsafe { h.alloc_str_after(s2, &[&bytes(s2), b"fg"]) }.expect("room");
        assert_eq!(buffer(s4), buffer(s1));
        // Onto itself (too long for the room left: a new buffer).
        let s6 = unsafe { h.alloc_str_after(s4, &[&bytes(s4), &bytes(s4)]) }.expect("room");
        let want = |tail: &[u8]| [&base[..], tail].concat();
        assert_eq!(bytes(s1), want(b"abc"));
        assert_eq!(bytes(s2), want(b"abcde"));
        assert_eq!(bytes(s3), want(b"abcXY"));
        assert_eq!(bytes(s4), want(b"abcdefg"));
        assert_eq!(bytes(s6), [want(b"abcdefg"), want(b"abcdefg")].concat());
        // Short results stay ordinary strings.
        let short = h.alloc_str_parts(&[b"k"]).expect("small");
        let k1 = unsafe { h.alloc_str_after(short, &[&bytes(short), b"1"]) }.expect("small");
        assert!(!head(k1));
        assert_eq!(bytes(k1), b"k1");
        // Keep only `s2` (in the middle of its buffer) and `s3`: the others go,
        // and the buffers keep the bytes of the strings still on them.
        let roots = [s2, s3];
        // SAFETY: the roots are live strings of `h`.
        h.collect(&mut |m| unsafe { roots.iter().for_each(|&v| m.mark(v)) });
        assert_eq!(h.objects(), 2);
        assert_eq!(bytes(s2), want(b"abcde"));
        assert_eq!(bytes(s3), want(b"abcXY"));
        // `s2` is no longer the longest on its buffer (`s4` was), so appending to
        // it copies.
        let s5 = unsafe { h.alloc_str_after(s2, &[&bytes(s2), b"!"]) }.expect("room");
        assert_ne!(buffer(s5), buffer(s2));
        assert_eq!(bytes(s5), want(b"abcde!"));
        h.collect_major(&mut |_| {});
        assert_eq!(h.objects(), 0);
    }

    /// `Heap::append` of an unshared string: a short one moves to a buffer,
    /// which then grows in place, the same string object longer each time,
    /// with its bytes counted towards the next collection; once another
    /// string was made on the buffer from it, it copies instead.
    #[test]
    fn an_unshared_string_is_appended_to_in_place() {
        let mut h = Heap::new(false);
        let bytes = |v: Value| unsafe { str_bytes(v).to_vec() };
        let buffered = |v: Value| unsafe { (*v.as_ptr().cast::<StrObj>()).hdr.buffered };
        let base = vec![b'x'; STR_BUF_MIN];
        let s0 = h.alloc_str_parts(&[b"ab"]).expect("small");
        // SAFETY (all appends below): live strings of `h`, the left one held
        // by nothing else, as `append` requires.
        let s1 = unsafe { h.append(s0, &[&bytes(s0), &base]) }.expect("room");
        assert!(s1 != s0 && buffered(s1) && !buffered(s0));
        let (objects, since) = (h.objects(), h.since_gc);
        let s2 = unsafe { h.append(s1, &[&bytes(s1), b"ef", b"gh"]) }.expect("room");
        assert!(s2 == s1, "extended in place");
        let want = |tail: &[u8]| [&b"ab"[..], &base, tail].concat();
        assert_eq!(bytes(s2), want(b"efgh"));
        assert_eq!((h.objects(), h.since_gc), (objects, since + 4));
        // A string made from it on its buffer: appending to it now copies, and
        // the other keeps its bytes.
        let other = unsafe { h.alloc_str_after(s2, &[&bytes(s2), b"!"]) }.expect("room");
        let s3 = unsafe { h.append(s2, &[&bytes(s2), b"ij"]) }.expect("room");
        assert!(s3 != s2);
        assert_eq!(bytes(other), want(b"efgh!"));
        assert_eq!(bytes(s3), want(b"efghij"));
        assert_eq!(bytes(s2), want(b"efgh"));
        // A short string is not on a buffer: a new string.
        let short = h.alloc_str_parts(&[b"k"]).expect("small");
        let k1 = unsafe { h.append(short, &[&bytes(short), b"1"]) }.expect("small");
        assert!(k1 != short && bytes(k1) == b"k1" && bytes(short) == b"k");
    }

    /// Arrays of 1 to `INLINE_ARRAY_MAX` words keep them in their cell until
    /// an operation reallocates, and go back to their own size's list.
    #[test]
    fn small_arrays_keep_their_elements_in_the_cell_until_they_grow() {
        let mut h = Heap::new(false);
        let mut arrays = Vec::new();
        for n in 0..=INLINE_ARRAY_MAX + 1 {
            let items: Vec<Value> = (0..n as i64).map(Value::int).collect();
            arrays.push(h.alloc_array_of(ValKind::Int, &items));
        }
        let bools = h.alloc_array_of(ValKind::Bool, &[Value::bool(true), Value::bool(false)]);
        for (n, &v) in arrays.iter().enumerate() {
            // SAFETY: live arrays of `h`.
            let a = unsafe { as_array(v) };
            let inline = (1..=INLINE_ARRAY_MAX).contains(&n);
            assert_eq!(a.items.is_inline(), inline, "{n} elements");
            assert_eq!(a.inline_cap as usize, if inline { n } else { 0 });
            assert_eq!(a.to_vec(), (0..n as i64).map(Value::int).collect::<Vec<_>>());
        }
        // SAFETY: a live array of `h`.
        assert!(!unsafe { as_array(bools) }.items.is_inline());
        // Every operation that reallocates moves the elements out first; the
        // cell keeps its room (and its size class, for when it is freed).
        let grown = arrays[2];
        // SAFETY: a live array of `h`, borrowed by nothing else.
        let a = unsafe { as_array_mut(grown) };
        a.push(Value::int(2));
        assert!(!a.items.is_inline());
        assert_eq!((a.inline_cap, a.len()), (2, 3));
        a.insert(0, Value::int(-1));
        a.extend([Value::int(3), Value::int(4)]);
        assert_eq!(a.remove(0), Value::int(-1));
        assert_eq!(a.to_vec(), (0..5).map(Value::int).collect::<Vec<_>>());
        for (op, n) in [("insert", 3), ("remove", 4), ("extend", 5), ("grow", 6)] {
            let v = h.alloc_array_of(ValKind::Ref, &vec![Value::NULL; n]);
            // SAFETY: a live array of `h`, borrowed by nothing else.
            let a = unsafe { as_array_mut(v) };
            match op {
                "insert" => a.insert(1, Value::NULL),
                "remove" => drop(a.remove(1)),
                "extend" => a.extend([Value::NULL]),
                _ => a.grow(100).expect("room"),
            }
            assert!(!a.items.is_inline(), "{op}");
            arrays.push(v);
        }
        // `pop` and `reverse` stay in the cell.
        // SAFETY: a live array of `h`, borrowed by nothing else.
        let a = unsafe { as_array_mut(arrays[3]) };
        a.reverse();
        assert_eq!(a.pop(), Some(Value::int(0)));
        assert!(a.items.is_inline());
        // Freed, each cell goes back to its own size's list (the debug
        // allocator and Miri catch a buffer freed that was never allocated).
        h.collect(&mut |_| {});
        assert_eq!(h.objects(), 0);
        let again = h.alloc_array_of(ValKind::Int, &[Value::int(7), Value::int(8)]);
        // SAFETY: a live array of `h`.
        assert_eq!(
            unsafe { as_array(again) }.to_vec(),
            [Value::int(7), Value::int(8)]
        );
    }

    /// An array's iterator steps to an element directly (`nth`, `nth_back`,
    /// so `skip` and a reversed `take` do not walk the buffer), for words and
    /// for a `[bool]`'s bytes.
    #[test]
    fn array_iterators_step_to_an_element() {
        let mut h = Heap::new(false);
        let ints = h.alloc_array(ValKind::Int, (0..100).map(Value::int).collect());
        let bools = h.alloc_bool_array((0..100).map(|i| (i % 3 == 0) as u8).collect());
        // SAFETY: live arrays of `h`.
        let (a, b) = unsafe { (as_array(ints), as_array(bools)) };
        assert_eq!(a.iter().nth(40), Some(Value::int(40)));
        assert_eq!(a.iter().nth_back(10), Some(Value::int(89)));
        assert_eq!(a.iter().nth(100), None);
        let window: Vec<Value> = a.iter().skip(90).take(3).rev().collect();
        assert_eq!(window, [92, 91, 90].map(Value::int));
        assert_eq!(b.iter().nth(3), Some(Value::bool(true)));
        assert_eq!(b.iter().nth(4), Some(Value::bool(false)));
        assert_eq!(b.iter().nth_back(0), Some(Value::bool(true)));
        let flags: Vec<Value> = b.iter().skip(5).take(2).rev().collect();
        assert_eq!(flags, [Value::bool(true), Value::bool(false)]);
    }

    #[test]
    fn program_ids_are_rewritten_all_or_none() {
        let mut h = Heap::new(false);
        let f = h.alloc_closure(3, &[], &[]);
        let p = h.alloc_struct(1, false, [Value::NULL; 0]);
        let c = h.alloc_struct(2, true, [Value::NULL; 0]);
        // Dead: its layout 9 has no image, and that is no error.
        h.alloc_struct(9, false, [Value::NULL; 2]);
        h.alloc_str(&b"no ids"[..]);
        let roots = [f, p, c];
        // SAFETY: `f`, `p` and `c` are live objects of `h` of the kinds read.
        let ids = |_: &Heap| unsafe { (as_closure(f).func, as_struct(p).layout, as_struct(c).layout) };
        // Layout 2 has no image: nothing changes.
        let partial = |id: u32| (id != 2 && id != 9).then_some(id + 10);
        // SAFETY (each call): the roots are live objects of `h`, and hold all
        // that is live.
        assert_eq!(
            unsafe { h.remap_program_ids(&roots, &|id| Some(id + 100), &partial) },
            Err(ProgramId::Layout(2))
        );
        assert_eq!(ids(&h), (3, 1, 2));
        assert_eq!(
            unsafe { h.remap_program_ids(&roots, &|_| None, &|id| Some(id)) },
            Err(ProgramId::Function(3))
        );
        assert_eq!(ids(&h), (3, 1, 2));
        // Layout 9 has no image either, but only a dead instance holds it.
        assert_eq!(
            unsafe { h.remap_program_ids(&roots, &|id| Some(id + 100), &|id| (id != 9).then_some(id + 10)) },
            Ok(())
        );
        assert_eq!(ids(&h), (103, 11, 12));
        assert_eq!(h.objects(), 3);
    }

    #[test]
    fn unpinned_constants_are_collected() {
        let mut h = Heap::new(false);
        let s = h.alloc_str(&b"constant"[..]);
        // SAFETY: `s` is a string just allocated in `h`.
        unsafe { h.pin(s) };
        h.collect(&mut |_| {});
        assert_eq!(h.objects(), 1);
        h.unpin_all();
        h.collect_major(&mut |_| {});
        assert_eq!(h.objects(), 0);
    }

    #[test]
    fn gc_traces_live_map_entries_only() {
        let mut h = Heap::new(false);
        let m = h.alloc_map(ValKind::Ref, ValKind::Ref);
        for i in 0..10 {
            let k = h.alloc_str(format!("k{i}").into_bytes());
            let v = h.alloc_str(format!("v{i}").into_bytes());
            // SAFETY: `m` is a live map of this test's heap.
            unsafe { as_map_mut(m) }
                .entries
                .insert(unsafe { MapKey::new(k, ValKind::Ref) }, v);
        }
        // Delete k1, k3, k5 (tombstones in the middle) and k9 (popped at the end).
        for i in [1, 3, 5, 9] {
            let k = h.alloc_str(format!("k{i}").into_bytes());
            let key = unsafe { MapKey::new(k, ValKind::Ref) };
            // SAFETY: `m` is a live map of this test's heap.
            assert!(unsafe { as_map_mut(m) }.entries.remove(&key).is_some());
        }
        // SAFETY: `m` is a live map of `h`.
        h.collect(&mut |mk| unsafe { mk.mark(m) });
        // The map plus 6 live keys and 6 live values; deleted entries are not traced.
        assert_eq!(h.objects(), 13);
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = unsafe { as_map(m) }
            .entries
            .iter()
            .map(|(k, v)| {
                (
                    unsafe { str_bytes(k.bits()) }.to_vec(),
                    unsafe { str_bytes(*v) }.to_vec(),
                )
            })
            .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = [0, 2, 4, 6, 7, 8]
            .iter()
            .map(|i| (format!("k{i}").into_bytes(), format!("v{i}").into_bytes()))
            .collect();
        assert_eq!(pairs, want);
    }

    /// A tuple is one allocation, its items and kinds after the object: in a
    /// cell up to the largest class, a block of its own beyond; so is a
    /// function value with its captures. Both, of every size, read back,
    /// survive a collection with their references, and the cells of dead ones
    /// are reused.
    #[test]
    fn tuples_and_function_values_are_one_allocation() {
        let mut h = Heap::new(false);
        assert_eq!(values_cell(tuple_size(2)), Some(ARRAY_CELL + 3));
        assert!(values_cell(tuple_size(20)).is_none());
        let word = h.alloc_str(&b"word"[..]);
        let make = |h: &mut Heap, n: usize| {
            let kinds: Vec<ValKind> = (0..n)
                .map(|i| [ValKind::Int, ValKind::Ref, ValKind::Float, ValKind::Bool][i % 4])
                .collect();
            let items: Vec<Value> = (0..n)
                .map(|i| match kinds[i] {
                    ValKind::Ref => word,
                    ValKind::Float => Value::float(i as f64 + 0.5),
                    _ => Value::int(i as i64 % 2),
                })
                .collect();
            (h.alloc_tuple(&kinds, &items), kinds, items)
        };
        let kept: Vec<_> = (0..=24).map(|n| make(&mut h, n)).collect();
        let dead = make(&mut h, 2).0;
        let roots: Vec<Value> = kept.iter().map(|t| t.0).collect();
        // SAFETY: the roots are live tuples of `h`.
        h.collect(&mut |m| unsafe { roots.iter().for_each(|&v| m.mark(v)) });
        assert_eq!(h.objects(), kept.len() + 1, "the tuples and the string they hold");
        for (v, kinds, items) in &kept {
            // SAFETY: a live tuple.
            let t = unsafe { as_tuple(*v) };
            assert_eq!(&t.kinds[..], &kinds[..]);
            assert_eq!(
                t.items.iter().map(|x| x.0).collect::<Vec<_>>(),
                items.iter().map(|x| x.0).collect::<Vec<_>>()
            );
        }
        assert_eq!(make(&mut h, 2).0, dead, "the freed cell is reused");
        // Function values are laid out the same way, their captures after them.
        let closures: Vec<Value> = kept
            .iter()
            .map(|(_, kinds, items)| h.alloc_closure(kinds.len() as u32, kinds, items))
            .collect();
        let roots: Vec<Value> = closures
            .iter()
            .chain(kept.iter().map(|t| &t.0))
            .copied()
            .collect();
        // SAFETY: the roots are live objects of `h`.
        h.collect(&mut |m| unsafe { roots.iter().for_each(|&v| m.mark(v)) });
        for (c, (_, kinds, items)) in closures.iter().zip(&kept) {
            // SAFETY: a live function value.
            let f = unsafe { as_closure(*c) };
            assert_eq!(f.func as usize, kinds.len());
            assert_eq!(&f.kinds[..], &kinds[..]);
            assert_eq!(
                f.captures.iter().map(|x| x.0).collect::<Vec<_>>(),
                items.iter().map(|x| x.0).collect::<Vec<_>>()
            );
        }
        // Unreachable, every one goes (cells back to their lists, blocks freed).
        h.collect_major(&mut |_| {});
        assert_eq!(h.objects(), 0);
    }

    /// The references of large arrays are queued a chunk at a time: every
    /// element of arrays longer than a chunk (nested in one another, and one
    /// holding the same string throughout) survives, the gray stack stays
    /// within what it keeps between collections, and the garbage goes.
    #[test]
    fn large_arrays_are_marked_a_chunk_at_a_time() {
        let mut h = Heap::new(false);
        let n = RANGE_CHUNK * 3 + 5;
        let word = |h: &mut Heap, i: usize| h.alloc_str(format!("w{i}").into_bytes());
        let inner: Vec<Value> = (0..n).map(|i| word(&mut h, i)).collect();
        let inner = h.alloc_array(ValKind::Ref, inner);
        let same = word(&mut h, n);
        let repeated = h.alloc_array(ValKind::Ref, vec![same; n]);
        let mut outer = vec![inner, repeated];
        outer.extend((0..n).map(|i| word(&mut h, i + n)));
        let outer = h.alloc_array(ValKind::Ref, outer);
        for i in 0..1000 {
            word(&mut h, i);
        }
        let live = h.objects() - 1000;
        // SAFETY: `outer` is a live array of `h`.
        h.collect(&mut |m| unsafe { m.mark(outer) });
        assert_eq!(h.objects(), live);
        assert!(h.gray.capacity() <= GRAY_KEPT && h.ranges.is_empty());
        // SAFETY: the arrays and their strings survived.
        unsafe {
            let a = as_array(inner).to_vec();
            for (i, v) in a.iter().enumerate() {
                assert_eq!(str_bytes(*v), format!("w{i}").as_bytes());
            }
            assert_eq!(
                str_bytes(as_array(outer).to_vec()[n + 1]),
                format!("w{}", 2 * n - 1).as_bytes()
            );
        }
    }

    /// A map remembers which string object found its last entry, so that the
    /// next operation with that object skips the hash. A collection that frees
    /// the object makes the map forget it: a new string allocated at the same
    /// address (the cell free list hands it out again) is looked up by content.
    #[test]
    fn collection_forgets_the_key_object_a_map_remembers() {
        let mut h = Heap::new(false);
        let m = h.alloc_map(ValKind::Ref, ValKind::Int);
        let key = |h: &mut Heap, s: &str| unsafe { MapKey::new(h.alloc_str(s.as_bytes()), ValKind::Ref) };
        // (A map large enough to have an index: a small one remembers nothing.)
        for i in 0..crate::ordmap::SMALL_MAP {
            let filler = key(&mut h, &format!("f{i}"));
            // SAFETY: `m` is a live map of this test's heap.
            unsafe { as_map_mut(m) }.entries.insert(filler, Value::int(0));
        }
        let stored = key(&mut h, "xx");
        // SAFETY: as above.
        unsafe { as_map_mut(m) }.entries.insert(stored, Value::int(1));
        // A different object of the same content finds the entry, and is remembered.
        let probe = key(&mut h, "xx");
        let entries = || &unsafe { as_map(m) }.entries;
        let at = crate::ordmap::SMALL_MAP;
        assert_eq!(entries().get(&probe).map(|v| v.as_int()), Some(1));
        assert_eq!(entries().last_by_identity(&probe), Some(at));
        // The probe dies; the map and its own key live.
        h.collect(&mut |mk| unsafe { mk.mark(m) });
        let other = key(&mut h, "yy");
        assert_eq!(other.bits(), probe.bits(), "the freed cell is not reused");
        assert_eq!(entries().last_by_identity(&other), None);
        assert_eq!(entries().get(&other), None);
        assert!(!entries().contains_key(&other));
        // SAFETY: as above.
        assert_eq!(
            unsafe { as_map_mut(m) }.entries.insert(other, Value::int(2)),
            None
        );
        assert_eq!(entries().len(), at + 2);
    }

    /// The next collection is paced by what the survivors cost marking and
    /// sweeping, not by their size: 8 MB of live ints cost one array header, so
    /// the threshold stays at its floor; an array of references costs its items.
    #[test]
    fn pacing_counts_what_marking_reads() {
        let mut h = Heap::new(false);
        let ints = h.alloc_array(ValKind::Int, vec![Value::int(7); 1 << 20]);
        let long = h.alloc_str(vec![b'x'; 1 << 20]);
        // SAFETY: both are live objects of this heap.
        h.collect(&mut |m| unsafe {
            m.mark(ints);
            m.mark(long);
        });
        assert_eq!(h.threshold, MIN_THRESHOLD);
        let n = 1 << 20;
        let strs = h.alloc_array(ValKind::Ref, vec![long; n]);
        // SAFETY: as above. (A major collection: minor ones keep the pace of
        // the last major one.)
        h.collect_major(&mut |m| unsafe {
            m.mark(ints);
            m.mark(strs);
        });
        let cost = 2 * std::mem::size_of::<ArrayObj>() + n * 8 + std::mem::size_of::<StrObj>();
        assert_eq!(h.threshold, 2 * cost);
    }

    /// Allocate `n` garbage strings in `h`.
    fn garbage(h: &mut Heap, n: usize) {
        for _ in 0..n {
            h.alloc_str(&b"garbage"[..]);
        }
    }

    /// A minor collection frees the young garbage and keeps the old objects,
    /// reachable or not, without marking them again; a major one frees the old
    /// garbage too.
    #[test]
    fn minor_collections_keep_old_objects_and_major_ones_free_them() {
        let mut h = Heap::new(false);
        let keep = h.alloc_str(&b"keep"[..]);
        let arr = h.alloc_array(ValKind::Ref, vec![keep]);
        // SAFETY (every block of this test): `arr` is a live array of `h`.
        h.collect(&mut |m| unsafe { m.mark(arr) });
        assert_eq!((h.objects(), h.stats.major_collections), (2, 1));
        garbage(&mut h, 50);
        h.collect(&mut |_| {});
        // The array and its string are old: no root needed, nothing marked.
        assert_eq!((h.objects(), h.stats.major_collections), (2, 1));
        assert_eq!(unsafe { str_bytes(as_array(arr).to_vec()[0]) }, b"keep");
        h.collect_major(&mut |_| {});
        assert_eq!((h.objects(), h.stats.major_collections), (0, 2));
    }

    /// Objects taken from holes are counted with their hole: between
    /// collections by `objects()` and `bytes_allocated()`, and in the
    /// statistics once a collection has taken them, including across a hole
    /// used up and one found again.
    #[test]
    fn objects_from_holes_are_counted() {
        let mut h = Heap::new(false);
        let per_chunk = 32 << 10 >> 5; // more than one chunk's cells of 32 bytes
        let n = per_chunk + 10;
        let kept = h.alloc_struct(0, false, [Value::int(1)]);
        for _ in 0..n {
            h.alloc_struct(0, false, [Value::int(2)]);
        }
        let a = h.alloc_array_of(ValKind::Int, &[Value::int(1), Value::int(2)]);
        let size = instance_size(1) as u64;
        assert_eq!(h.objects(), n + 2);
        assert_eq!(
            h.bytes_allocated(),
            (n as u64 + 1) * size + std::mem::size_of::<ArrayObj>() as u64 + 16
        );
        // SAFETY: `kept` is a live struct of `h`.
        h.collect(&mut |m| unsafe { m.mark(kept) });
        assert_eq!(h.objects(), 1);
        assert_eq!(h.stats.objects_freed, n as u64 + 1);
        let _ = a;
    }

    /// A hole counts toward the next collection when it is taken, whole, and
    /// its cells do not count again; an array's buffer counts when it is
    /// made. In stress mode every allocation from a hole leaves the hole used
    /// up, so that compiled code's inline allocation takes its helper.
    #[test]
    fn holes_count_toward_the_next_collection_when_taken() {
        let mut h = Heap::new(false);
        h.alloc_struct(0, false, [Value::int(1)]);
        let hole = h.since_gc;
        assert!(
            hole > 100 * instance_size(1) && hole <= 32 << 10,
            "a new chunk is one hole"
        );
        assert_eq!(hole % instance_size(1), 0);
        for _ in 0..100 {
            h.alloc_struct(0, false, [Value::int(2)]);
        }
        assert_eq!(h.since_gc, hole, "cells of a taken hole");
        h.alloc_array(ValKind::Int, Vec::with_capacity(10));
        let with_array_hole = h.since_gc;
        assert!(with_array_hole > hole + 80, "the array's hole and its buffer");
        h.alloc_array(ValKind::Int, Vec::with_capacity(10));
        assert_eq!(h.since_gc, with_array_hole + 80, "only the second buffer");
        // Taking out the closing in `pop_cell` fails this.
        h.set_stress(GcStress::Every);
        h.alloc_struct(0, false, [Value::int(3)]);
        let hole = h.cells.holes[1];
        assert_eq!(hole.cursor, hole.limit, "stress leaves the hole used up");
        assert!(
            h.cells.holes.iter().all(|h| h.cursor == h.limit),
            "set_stress closes every hole"
        );
    }

    /// How many arrays of `h` have their owner bit set.
    fn owners(h: &Heap) -> usize {
        let mut n = 0;
        h.cells.for_each_owner(&mut |_| n += 1);
        n
    }

    /// Arrays are on no list: a collection frees the buffer of a dead one
    /// that owns one, whichever way it got it (made with it, grown out of
    /// its cell, grown from empty), young ones in a minor collection and old
    /// ones in a major one; and an old array that gets a buffer counts it as
    /// the old generation's.
    #[test]
    fn collections_free_the_buffers_of_dead_arrays() {
        let mut h = Heap::new(false);
        let made = |h: &mut Heap| h.alloc_array(ValKind::Int, Vec::with_capacity(10));
        let grown = |h: &mut Heap| {
            let a = h.alloc_array_of(ValKind::Int, &[Value::int(1), Value::int(2)]);
            // SAFETY: `a` is a live array of `h`.
            unsafe { (0..20).for_each(|i| as_array_mut(a).push(Value::int(i))) };
            a
        };
        let extended = |h: &mut Heap| {
            let a = h.alloc_array(ValKind::Int, Vec::new());
            // SAFETY: as above.
            unsafe { as_array_mut(a).extend((0..5).map(Value::int)) };
            a
        };
        let kept = grown(&mut h);
        let s = h.alloc_str(&b"a string not short"[..]);
        let refs = h.alloc_array(ValKind::Ref, vec![s; 30]);
        let (m, e) = (made(&mut h), extended(&mut h));
        let small = h.alloc_array_of(ValKind::Int, &[Value::int(7)]);
        assert_eq!(owners(&h), 4, "the inline array owns nothing");
        // SAFETY (every block below): the arrays marked are live arrays of `h`.
        h.collect(&mut |m| unsafe {
            m.mark(kept);
            m.mark(refs)
        });
        assert_eq!((owners(&h), h.objects()), (2, 3));
        assert!(h.owners_cost >= 30 * 8, "the references of a live owner");
        // SAFETY: the dead arrays' cells are free but still the chunk's memory,
        // and nothing was allocated since: their buffers were freed (which
        // leaves no capacity).
        unsafe {
            assert_eq!((as_array(m).capacity(), as_array(e).capacity()), (0, 0));
            assert_eq!(
                as_array(small).len(),
                1,
                "an array without a buffer is not touched"
            );
        }
        // Old now: a minor collection keeps it without a root, and counts
        // the buffer of an old array grown since.
        let old = h.alloc_array(ValKind::Int, Vec::new());
        h.collect(&mut |m| unsafe { m.mark(old) });
        h.collect(&mut |m| unsafe { m.mark(old) });
        let held = h.old_held;
        unsafe { as_array_mut(old).extend((0..100).map(Value::int)) };
        [made(&mut h), grown(&mut h)].iter().for_each(drop);
        assert_eq!(owners(&h), 5);
        h.collect(&mut |_| {});
        assert_eq!(
            owners(&h),
            3,
            "the young dead owners are freed, the old ones kept"
        );
        assert!(h.old_held >= held + 100 * 8);
        // An old owner that grows again is not counted again.
        let held = h.old_held;
        unsafe { as_array_mut(old).extend((0..1000).map(Value::int)) };
        h.collect(&mut |_| {});
        assert_eq!(h.old_held, held, "an owner's buffer is counted once");
        assert_eq!(unsafe { as_array(kept).len() }, 22);
        h.collect_major(&mut |_| {});
        assert_eq!((owners(&h), h.objects()), (0, 0));
    }

    /// A young object stored into an old one survives a minor collection
    /// through the remembered set, with no other reference to it.
    #[test]
    fn the_write_barrier_keeps_young_objects_of_old_ones() {
        let mut h = Heap::new(false);
        let arr = h.alloc_array(ValKind::Ref, vec![Value::NULL; 2]);
        let tup = h.alloc_tuple(&[ValKind::Ref], &[Value::NULL]);
        let map = h.alloc_map(ValKind::Int, ValKind::Ref);
        let roots = [arr, tup, map];
        // SAFETY (every block of this test): the roots are live objects of `h`,
        // and `young` values are live strings of `h`.
        h.collect(&mut |m| unsafe { roots.iter().for_each(|&v| m.mark(v)) });
        let young: Vec<Value> = (0..3)
            .map(|i| h.alloc_str(format!("young {i}").as_bytes()))
            .collect();
        unsafe {
            as_array_mut(arr).set(1, young[0]);
            as_tuple_mut(tup).items[0] = young[1];
            as_map_mut(map)
                .entries
                .insert(MapKey::new(Value::int(1), ValKind::Int), young[2]);
        }
        garbage(&mut h, 50);
        // Only the old objects' own roots: they are not traced but as
        // remembered objects.
        h.collect(&mut |_| {});
        assert_eq!(h.stats.major_collections, 1, "a minor collection");
        assert_eq!(h.objects(), 6);
        unsafe {
            assert_eq!(str_bytes(as_array(arr).to_vec()[1]), b"young 0");
            assert_eq!(str_bytes(as_tuple(tup).items[0]), b"young 1");
            let got = as_map(map)
                .entries
                .get(&MapKey::new(Value::int(1), ValKind::Int))
                .copied();
            assert_eq!(str_bytes(got.unwrap_or(Value::NULL)), b"young 2");
            // Remembered no more: the next store into them remembers them again.
            for v in roots {
                assert_eq!((*v.as_ptr()).mark, h.mark);
            }
        }
    }

    /// In stress mode a minor collection checks that no old object refers to
    /// an unmarked one: a store that bypassed the write barrier is found at
    /// once, not when the freed object is used.
    #[test]
    #[should_panic(expected = "without the write barrier")]
    fn stress_mode_finds_a_store_without_the_barrier() {
        let mut h = Heap::new(true);
        let arr = h.alloc_array(ValKind::Ref, vec![Value::NULL]);
        // SAFETY: `arr` is a live array of `h` (the first collection is major).
        h.collect(&mut |m| unsafe { m.mark(arr) });
        let young = h.alloc_str(&b"young"[..]);
        // SAFETY: `arr` is a live array, written around its accessor's barrier.
        unsafe { (*(arr.as_ptr() as *mut ArrayObj)).set(0, young) };
        h.collect(&mut |m| unsafe { m.mark(arr) });
    }

    /// A heap whose thread's remembered set another heap took since its last
    /// collection cannot trust it: its next collection is major.
    #[test]
    fn another_heap_collecting_makes_the_next_collection_major() {
        let (mut a, mut b) = (Heap::new(false), Heap::new(false));
        a.collect(&mut |_| {});
        a.collect(&mut |_| {});
        assert_eq!((a.stats.collections, a.stats.major_collections), (2, 1));
        b.collect(&mut |_| {});
        a.collect(&mut |_| {});
        assert_eq!((a.stats.collections, a.stats.major_collections), (3, 2));
    }

    /// An old map remembers which (young) string found its last entry; a
    /// minor collection frees that string without looking at the map, and a
    /// new string may then take its cell: the map must not take the new one
    /// for the old (the remembered key counts only until a collection).
    #[test]
    fn a_map_forgets_a_key_object_a_minor_collection_freed() {
        let mut h = Heap::new(false);
        let map = h.alloc_map(ValKind::Ref, ValKind::Int);
        let key = h.alloc_str(&b"alpha"[..]);
        // SAFETY (every block of this test): `map` is a live map of `h` and the
        // strings are live strings of `h` when used.
        unsafe {
            as_map_mut(map)
                .entries
                .insert(MapKey::new(key, ValKind::Ref), Value::int(1))
        };
        h.collect(&mut |m| unsafe { m.mark(map) });
        let probe = h.alloc_str(&b"alpha"[..]);
        let found = unsafe {
            as_map(map)
                .entries
                .get(&MapKey::new(probe, ValKind::Ref))
                .copied()
        };
        assert_eq!(found.map(|v| v.0), Some(1));
        h.collect(&mut |_| {});
        assert_eq!(h.stats.major_collections, 1, "a minor collection");
        let other = h.alloc_str(&b"omega"[..]);
        assert_eq!(
            other, probe,
            "the freed cell is reused (the case this test is about)"
        );
        let found = unsafe {
            as_map(map)
                .entries
                .get(&MapKey::new(other, ValKind::Ref))
                .copied()
        };
        assert_eq!(found.map(|v| v.0), None);
    }
}
