//! Size-class cells for struct and class instances, for array objects (an
//! [`ArrayObj`](super::object::ArrayObj) has the size of an instance of 3 fields;
//! `gc.rs`, `ARRAY_CELL`), for tuples and function values (their items after
//! them: `gc.rs`, `values_cell`) and for short strings (the smallest cell that
//! holds the header and the bytes; `gc.rs`, `str_cell`).
//!
//! An object of the size of an instance of `n < CELL_CLASSES` fields lives in
//! a cell of exactly [`instance_size`]`(n)` bytes, carved from a chunk of
//! [`CHUNK_BYTES`] the heap owns. Allocation takes a free cell (compiled code
//! does it inline, see docs/jit.md, "Inline allocation"). Cells never move and
//! chunks are only freed when the heap is dropped, so the collector stays
//! non-moving. There are two kinds of chunk:
//!
//! * **Instance chunks** hold struct and class instances, array objects, tuples
//!   and function values of one size, which are on no list. A chunk starts with mark bits, one per word; the
//!   collector marks an instance there ([`mark_instance`]) and never visits a
//!   dead one or a free cell. After a collection every instance chunk is
//!   *unswept*. Instances are allocated by bumping a cursor through a *hole*,
//!   a run of cells whose bit is clear; when it is used up, the next hole is
//!   found in the bits of the current chunk, then of the next unswept chunk of
//!   that size (lazy sweeping, as in the Boehm collector and Go's spans, with
//!   Immix's bump allocation into holes). Nothing is written to a free cell
//!   before it is allocated. An instance owns no memory beyond its cell, so a
//!   dead one needs nothing else, and a collection's cost is the live
//!   instances, not the dead ones (`binary_trees` frees 15 M nodes: 284 →
//!   242 ms compiled, docs/benchmarks.md). An array whose elements are in its
//!   cell (or that has none) is the same; one that owns a buffer is known by
//!   its chunk's *owner bits*, which the collection reads to free the
//!   buffers of the dead ones ([`Cells::sweep_owners`]).
//! * **Object chunks** hold strings, which are on the all-objects list like
//!   every other object (a string may own a buffer). The free cells of each size are
//!   a list linked through their header's `next` word: allocation pops one, the
//!   sweep frees a dead object (its buffer, if it has one) and pushes its cell
//!   back, and an empty list is refilled from a new chunk.
//!
//! The first [`CHUNKS_ALONE`] chunks are allocations of their own; after them a
//! heap carves its chunks from regions of [`REGION_BYTES`], which the global
//! allocator of `bp` maps on their own and, with `BP_HUGE_PAGES=1`, backs with
//! transparent huge pages (`src/allocator.rs`): a program whose heap grows past
//! 2 MiB then takes one page fault per 2 MiB of cells instead of 512 (`alloc`
//! took 4,000 faults in fresh chunks); a small program's heap still grows by
//! 32 KiB. Chunks are aligned to their size, so the chunk of a cell is its
//! address with the low bits cleared.
//!
//! A heap's chunks can be handed to another heap ([`Cells::adopt`]) together with
//! the objects in them: nothing is copied, the chunks change owner.

use super::gc::{ARRAY_CELL, INLINE_ARRAY_MAX};
use super::object::{instance_size, ObjHeader};
use std::alloc::Layout;
use std::ptr::NonNull;

/// Instances of `0 .. CELL_CLASSES` fields are allocated in cells.
pub const CELL_CLASSES: usize = 17;

/// The size of a chunk of cells.
const CHUNK_BYTES: usize = 32 << 10;

/// The alignment of chunks: their size, so that the chunk of a cell is its
/// address with the low bits cleared (an instance's mark bit, [`mark_instance`]).
const CHUNK_ALIGN: usize = CHUNK_BYTES;

/// The alignment of an allocation that needs no more: an instance of
/// `CELL_CLASSES` or more fields, and an object chunk of its own (cells are
/// 8-aligned: cell sizes are multiples of 8).
const LARGE_ALIGN: usize = 16;

/// The mark bits at the start of an instance chunk: one per 8-byte word of the
/// chunk, set for a cell's first word when its instance is marked.
const MARK_WORDS: usize = CHUNK_BYTES / 8 / 64;

/// Where an instance chunk's owner bits start, after its mark bits: one per
/// word as those, set for a cell whose array owns a buffer of its own (see
/// "Arrays that own a buffer" below).
const OWNER_BITS_AT: usize = MARK_WORDS * 8;

/// Where an instance chunk's fresh-owner bits start, after its owner bits:
/// set with an owner bit, cleared by the next collection, which counts the
/// buffer of a fresh owner that survives as the old generation's.
const FRESH_BITS_AT: usize = OWNER_BITS_AT + MARK_WORDS * 8;

/// Where an instance chunk's owner flag is, after its fresh-owner bits: not
/// zero when some owner bit of the chunk may be set, so that a collection
/// reads the bits of only those chunks.
const OWNER_FLAG_AT: usize = FRESH_BITS_AT + MARK_WORDS * 8;

/// Where an instance chunk's first cell starts: after its mark, owner and
/// fresh-owner bits and its owner flag.
const INSTANCE_CELLS_AT: usize = OWNER_FLAG_AT + 8;

/// How many chunks a heap allocates one by one before it carves them from
/// regions (2 MiB of chunks).
const CHUNKS_ALONE: usize = 64;

/// The size of a region chunks are carved from: a whole transparent huge page.
const REGION_BYTES: usize = 2 << 20;

pub(super) struct Cells {
    /// The first free cell of each size of an object chunk (`free[n]` for the
    /// size of an instance of `n` fields: strings), or null; each free cell's
    /// `next` word links to the next free cell of its size.
    pub(super) free: [*mut ObjHeader; CELL_CLASSES],
    /// Per size class of the objects of instance chunks (see "Instance
    /// chunks" above), the hole instances are
    /// allocated from: `[cursor, limit)`, a run of free cells of the current
    /// chunk, both null when there is none. Allocation bumps the cursor by the
    /// cell size (compiled code's inline `new` too: `Heap::OFF_INSTANCE_HOLES`).
    pub(super) holes: [Hole; CELL_CLASSES],
    /// Per size class, where its hole started: the cells from there to the
    /// cursor have been allocated since. Allocation from a hole (compiled
    /// code's inline, and the runtime's) counts nothing: the whole hole
    /// counted toward the next collection when it was taken
    /// ([`Cells::pop_instance`]), and the heap's count of objects and bytes
    /// allocated takes the cells of each hole when it is used up or a
    /// collection comes ([`Cells::take_allocated`]). That took three
    /// read-modify-writes of heap words off every inline allocation (two:
    /// `alloc` 4–7 % faster; the third, the collection's pace: see
    /// docs/benchmarks.md).
    hole_start: [*mut u8; CELL_CLASSES],
    /// Cells and bytes allocated from holes used up since the last
    /// [`Cells::take_allocated`].
    retired: (usize, usize),
    /// Per size class, the instance chunk the hole is in, if any.
    current: [Option<NonNull<u8>>; CELL_CLASSES],
    /// Every instance chunk, with its size class.
    instance_chunks: Vec<(NonNull<u8>, u8)>,
    /// Per size class, the instance chunks not swept since the last
    /// collection: their cells whose mark bit is clear are free.
    unswept: [Vec<NonNull<u8>>; CELL_CLASSES],
    /// Every allocation this heap owns, a chunk or a region of chunks, with
    /// its layout (freed when the heap is dropped).
    blocks: Vec<(NonNull<u8>, Layout)>,
    /// How many chunks this heap has carved into cells.
    chunk_count: usize,
    /// The part of the newest region not carved into chunks yet:
    /// `[region_next, region_end)`, both null when there is none.
    region_next: *mut u8,
    region_end: *mut u8,
}

// SAFETY: the cells and chunks are owned by one heap, which is used by one thread at
// a time; nothing in them refers to thread-local state.
unsafe impl Send for Cells {}

/// The layout of a chunk that is an allocation of its own: aligned to its size
/// for an instance chunk, whose cells find their mark bits by address; to a
/// word for an object chunk, which the allocator then takes from its ordinary
/// pages instead of its aligned path (hello world's peak: about 0.1 MB less).
fn chunk_layout(instances: bool) -> Layout {
    let align = if instances { CHUNK_ALIGN } else { LARGE_ALIGN };
    // Never fails: the size is a nonzero multiple of a power-of-two alignment.
    Layout::from_size_align(CHUNK_BYTES, align).unwrap_or(Layout::new::<u64>())
}

/// A region's layout: page-aligned, so that the allocator can map it with huge
/// pages; chunks are carved from its first `CHUNK_ALIGN` boundary on.
fn region_layout() -> Layout {
    // Never fails, as `chunk_layout`.
    Layout::from_size_align(REGION_BYTES, 4096).unwrap_or(Layout::new::<u64>())
}

/// A new block of `layout` from the global allocator (which aborts the
/// program as out of memory if there is none).
fn alloc_block(layout: Layout) -> NonNull<u8> {
    // SAFETY: the layout's size is not zero.
    let base = unsafe { std::alloc::alloc(layout) };
    match NonNull::new(base) {
        Some(base) => base,
        None => std::alloc::handle_alloc_error(layout),
    }
}

impl Cells {
    pub(super) fn new() -> Cells {
        Cells {
            free: [std::ptr::null_mut(); CELL_CLASSES],
            holes: [Hole::EMPTY; CELL_CLASSES],
            hole_start: [std::ptr::null_mut(); CELL_CLASSES],
            retired: (0, 0),
            current: [None; CELL_CLASSES],
            instance_chunks: Vec::new(),
            unswept: std::array::from_fn(|_| Vec::new()),
            blocks: Vec::new(),
            chunk_count: 0,
            region_next: std::ptr::null_mut(),
            region_end: std::ptr::null_mut(),
        }
    }

    /// A free cell of an object chunk, of the size of an instance of `n <
    /// CELL_CLASSES` fields (its contents are garbage), taken off its free
    /// list, which is refilled from a new chunk when empty.
    #[inline]
    pub(super) fn pop(&mut self, n: usize) -> *mut ObjHeader {
        if self.free[n].is_null() {
            self.refill(n);
        }
        let p = self.free[n];
        // SAFETY: `p` is a free cell of this heap (not null after `refill`); its
        // `next` word links the free list.
        self.free[n] = unsafe { (*p).next };
        p
    }

    /// Push the dead object `p` in a cell of an object chunk of size `n <
    /// CELL_CLASSES` onto its free list.
    ///
    /// # Safety
    /// `p` must be a cell of this heap's object chunks of size `n`, unlinked
    /// from the all-objects list and not used afterwards.
    #[inline]
    pub(super) unsafe fn push(&mut self, p: *mut ObjHeader, n: usize) {
        // SAFETY: the caller's contract: `p` is a cell nobody else uses.
        unsafe { (*p).next = self.free[n] };
        self.free[n] = p;
    }

    /// Carve a new object chunk into cells of `instance_size(n)` bytes and put
    /// them on the (empty) free list of `n`, first cell first.
    #[cold]
    fn refill(&mut self, n: usize) {
        let base = self.new_chunk(false);
        let size = instance_size(n);
        let count = CHUNK_BYTES / size;
        let mut next = self.free[n];
        for i in (0..count).rev() {
            // SAFETY: cell `i` lies inside the chunk (`(i + 1) * size <=
            // CHUNK_BYTES`) and is 8-aligned; its `next` word is written before
            // it is read.
            unsafe {
                let cell = base.as_ptr().add(i * size) as *mut ObjHeader;
                std::ptr::addr_of_mut!((*cell).next).write(next);
                next = cell;
            }
        }
        self.free[n] = next;
    }

    // ----- Instance chunks -----
    //
    // Struct and class instances of fewer than `CELL_CLASSES` fields live in
    // chunks of their own, one size class per chunk, and are on no list. The
    // collector marks one in its chunk's bitmap ([`mark_instance`]) instead of
    // its header, and never visits a dead one, nor a free cell: after marking,
    // every instance chunk is *unswept* ([`Cells::instances_marked`]). An
    // allocation takes the next cell of its size class's hole, a run of free
    // cells; when the hole is used up, the next one is found in the bitmap of
    // the current chunk, then of the next unswept chunk of that size, else a
    // new chunk is one hole ([`Cells::next_hole`]). An instance owns no memory
    // beyond its cell, so a dead one needs nothing else, and a collection's
    // cost is the live instances, not the dead ones. A chunk's bits are
    // cleared when the next collection starts ([`Cells::clear_instance_marks`]).

    /// A free cell for an instance of `n < CELL_CLASSES` fields (its contents are
    /// garbage), the next of its hole. When a new hole is taken, its bytes are
    /// added to `charged` (the heap's `since_gc`: a hole counts toward the
    /// next collection when it is taken, not cell by cell, so that compiled
    /// code's inline allocation only bumps the cursor).
    #[inline]
    pub(super) fn pop_instance(&mut self, n: usize, charged: &mut usize) -> *mut ObjHeader {
        let size = instance_size(n);
        let hole = &mut self.holes[n];
        if (hole.limit as usize).wrapping_sub(hole.cursor as usize) < size {
            *charged += self.next_hole(n);
        }
        let hole = &mut self.holes[n];
        let p = hole.cursor;
        // SAFETY: the hole holds at least one cell of `size` bytes after
        // `next_hole` (a new chunk if need be), so the cursor stays within it.
        hole.cursor = unsafe { p.add(size) };
        p.cast()
    }

    /// Find the next hole of instances of `n` fields: the next run of cells
    /// with a clear mark bit in the current chunk, else in the next unswept
    /// chunk of that size, else a new chunk, which is one hole. Returns its
    /// size in bytes.
    #[cold]
    fn next_hole(&mut self, n: usize) -> usize {
        self.retire_hole(n);
        loop {
            if let Some(chunk) = self.current[n] {
                // Go on after the hole just used up (the first cell of a chunk
                // just taken: its hole is empty, at the chunk's cells).
                let from = self.holes[n].limit as usize - chunk.as_ptr() as usize;
                // SAFETY: `chunk` is an instance chunk of class `n` of this heap,
                // its bits set by the last collection (or clear in a new chunk).
                if let Some(hole) = unsafe { find_hole(chunk, n, from) } {
                    self.holes[n] = hole;
                    self.hole_start[n] = hole.cursor;
                    return hole.limit as usize - hole.cursor as usize;
                }
            }
            let chunk = match self.unswept[n].pop() {
                Some(chunk) => chunk,
                None => self.new_instance_chunk(n),
            };
            self.current[n] = Some(chunk);
            // SAFETY: the chunk's cells start `INSTANCE_CELLS_AT` bytes in.
            let first = unsafe { chunk.as_ptr().add(INSTANCE_CELLS_AT) };
            self.holes[n] = Hole {
                cursor: first,
                limit: first,
            };
            self.hole_start[n] = first;
        }
    }

    /// End the hole of class `n` at its cursor, so that the next allocation of
    /// that class, compiled code's inline one too, finds it used up (GC
    /// stress mode: every `new` of compiled code then calls its helper). The
    /// cells after it stay free: the next hole starts there.
    pub(super) fn close_hole(&mut self, n: usize) {
        self.holes[n].limit = self.holes[n].cursor;
    }

    /// Count the cells taken from the hole of class `n` since it started (or
    /// since the last count) as allocated, and start counting from its
    /// cursor.
    fn retire_hole(&mut self, n: usize) {
        let taken = self.taken_from_hole(n);
        self.retired.0 += taken / instance_size(n);
        self.retired.1 += taken;
        self.hole_start[n] = self.holes[n].cursor;
    }

    /// The bytes taken from the hole of class `n` since it started.
    fn taken_from_hole(&self, n: usize) -> usize {
        self.holes[n].cursor as usize - self.hole_start[n] as usize
    }

    /// The cells and bytes allocated from holes since the last call, which
    /// the heap adds to its counts (before a collection, and when it hands
    /// its cells to another heap).
    pub(super) fn take_allocated(&mut self) -> (usize, usize) {
        for n in 0..CELL_CLASSES {
            self.retire_hole(n);
        }
        std::mem::take(&mut self.retired)
    }

    /// The cells and bytes allocated from holes since the last
    /// [`Cells::take_allocated`], without taking them.
    pub(super) fn allocated(&self) -> (usize, usize) {
        (0..CELL_CLASSES).fold(self.retired, |(cells, bytes), n| {
            let taken = self.taken_from_hole(n);
            (cells + taken / instance_size(n), bytes + taken)
        })
    }

    /// A new instance chunk of class `n`, its mark bits clear.
    fn new_instance_chunk(&mut self, n: usize) -> NonNull<u8> {
        let chunk = self.new_chunk(true);
        // SAFETY: a new chunk of `CHUNK_BYTES`, ours; its first
        // `INSTANCE_CELLS_AT` bytes are its mark bits.
        unsafe { std::ptr::write_bytes(chunk.as_ptr(), 0, INSTANCE_CELLS_AT) };
        self.instance_chunks.push((chunk, n as u8));
        chunk
    }

    /// Clear the mark bits of every instance chunk (a major collection
    /// starts; its owner bits stay).
    pub(super) fn clear_instance_marks(&mut self) {
        for &(chunk, _) in &self.instance_chunks {
            // SAFETY: the chunk's first `OWNER_BITS_AT` bytes are its mark bits.
            unsafe { std::ptr::write_bytes(chunk.as_ptr(), 0, OWNER_BITS_AT) };
        }
    }

    // ----- Arrays that own a buffer -----
    //
    // Array objects live in instance chunks too, on no list, and a dead one
    // is never visited, as a dead instance. But an array whose elements grew
    // out of its cell (or were made in a buffer of their own) owns that
    // buffer, which must be freed when the array dies. Such an array has its
    // *owner bit* set ([`note_owner`], by whatever gave it the buffer, which
    // needs no heap for it: the bit is found from the array's address). A
    // collection looks at the owner bits of the chunks whose owner flag is
    // set: an owner whose mark bit is clear is dead, and its buffer is freed
    // ([`Cells::sweep_owners`]). In a minor collection every old object's mark
    // bit is still set, so only young owners are found dead there; a major
    // collection finds the old ones. Nothing else of a dead array is read.

    /// After marking: call `f` with every owner of a buffer and what became
    /// of it ([`Owner`]), and forget the dead ones (their cells are free
    /// from now on). In a minor collection (`major` false) the live owners
    /// reported are only the fresh ones (given a buffer since the last
    /// collection); in a major one, every live owner.
    pub(super) fn sweep_owners(&mut self, major: bool, f: &mut dyn FnMut(*mut ObjHeader, Owner)) {
        for base in self.owner_chunks() {
            // SAFETY: the chunk's header holds its mark, owner and fresh bits
            // (`MARK_WORDS` words each) and its owner flag; every bit set in
            // the owner bits is the first word of a cell holding an array
            // object that owns a buffer (`note_owner`), which `f` may free.
            unsafe {
                let marks = base as *const u64;
                let owners = base.add(OWNER_BITS_AT) as *mut u64;
                let fresh = base.add(FRESH_BITS_AT) as *mut u64;
                let mut any = 0;
                for w in 0..MARK_WORDS {
                    let (own, mark, new) = (*owners.add(w), *marks.add(w), *fresh.add(w));
                    if own == 0 {
                        continue;
                    }
                    let live = own & mark;
                    let cell = |bit: usize| base.add((w * 64 + bit) * 8).cast();
                    for_each_bit(own & !mark, |bit| f(cell(bit), Owner::Dead));
                    for_each_bit(live & new, |bit| f(cell(bit), Owner::Promoted));
                    if major {
                        for_each_bit(live & !new, |bit| f(cell(bit), Owner::Live));
                    }
                    *owners.add(w) = live;
                    *fresh.add(w) = 0;
                    any |= live;
                }
                *(base.add(OWNER_FLAG_AT) as *mut u64) = (any != 0) as u64;
            }
        }
    }

    /// Call `f` with every owner of a buffer, dead or alive (the heap is
    /// being dropped: their buffers are freed).
    pub(super) fn for_each_owner(&self, f: &mut dyn FnMut(*mut ObjHeader)) {
        for base in self.owner_chunks() {
            // SAFETY: as in `sweep_owners`.
            unsafe {
                let owners = base.add(OWNER_BITS_AT) as *const u64;
                for w in 0..MARK_WORDS {
                    for_each_bit(*owners.add(w), |bit| f(base.add((w * 64 + bit) * 8).cast()));
                }
            }
        }
    }

    /// The instance chunks whose owner bits may be set: of the classes that
    /// hold arrays, with the owner flag set.
    fn owner_chunks(&self) -> impl Iterator<Item = *mut u8> + '_ {
        self.instance_chunks
            .iter()
            .filter(|&&(_, n)| array_class(n as usize))
            .map(|&(chunk, _)| chunk.as_ptr())
            // SAFETY: an instance chunk's header holds its owner flag.
            .filter(|&base| unsafe { *(base.add(OWNER_FLAG_AT) as *const u64) != 0 })
    }

    /// Marking is over: every instance chunk becomes unswept and no hole is
    /// left (the cells after a hole's cursor are unmarked, so sweeping finds
    /// them again), and the survivors are counted. Returns their number and
    /// bytes.
    pub(super) fn instances_marked(&mut self) -> (usize, usize) {
        for n in 0..CELL_CLASSES {
            self.retire_hole(n);
        }
        self.holes = [Hole::EMPTY; CELL_CLASSES];
        self.hole_start = [std::ptr::null_mut(); CELL_CLASSES];
        self.current = [None; CELL_CLASSES];
        for list in &mut self.unswept {
            list.clear();
        }
        let (mut count, mut bytes) = (0, 0);
        for &(chunk, n) in &self.instance_chunks {
            // SAFETY: the chunk's first `MARK_WORDS` words are its bits.
            let marks = unsafe { std::slice::from_raw_parts(chunk.as_ptr() as *const u64, MARK_WORDS) };
            let live: usize = marks.iter().map(|w| w.count_ones() as usize).sum();
            count += live;
            bytes += live * instance_size(n as usize);
            self.unswept[n as usize].push(chunk);
        }
        (count, bytes)
    }

    /// Call `f` with every object in a cell of an instance chunk (an
    /// instance, array, tuple or function value) that the last collection
    /// marked: right after a collection, every live one.
    pub(super) fn for_each_marked_instance(&self, f: &mut dyn FnMut(*mut ObjHeader)) {
        for &(chunk, n) in &self.instance_chunks {
            let size = instance_size(n as usize);
            for at in (INSTANCE_CELLS_AT..instance_cells_end(size)).step_by(size) {
                // SAFETY: the cell at `at` lies inside the chunk, whose first
                // words are its bits.
                unsafe {
                    if marked_at(chunk, at) {
                        f(chunk.as_ptr().add(at).cast());
                    }
                }
            }
        }
    }

    /// A new chunk of `CHUNK_BYTES`: an allocation of its own for the first
    /// [`CHUNKS_ALONE`] (and whenever a new region is refused), then the next
    /// one of the newest region.
    fn new_chunk(&mut self, instances: bool) -> NonNull<u8> {
        self.chunk_count += 1;
        if self.region_next == self.region_end {
            if self.chunk_count <= CHUNKS_ALONE {
                return self.chunk_alone(instances);
            }
            // A region the allocator refuses (a memory limit) is no error:
            // the heap goes on in chunks of their own.
            // SAFETY: the layout's size is not zero.
            let region = crate::rt::fallibly(|| unsafe { std::alloc::alloc(region_layout()) });
            let Some(region) = NonNull::new(region) else {
                return self.chunk_alone(instances);
            };
            self.blocks.push((region, region_layout()));
            // Chunks are aligned to their size: a region the allocator did
            // not align so (it maps regions page-aligned) gives one chunk
            // fewer.
            let skip = region.as_ptr().align_offset(CHUNK_ALIGN);
            // SAFETY: `skip < CHUNK_BYTES`, inside the region; the end is one
            // past the last whole chunk after it.
            unsafe {
                self.region_next = region.as_ptr().add(skip);
                self.region_end = region
                    .as_ptr()
                    .add(skip + (REGION_BYTES - skip) / CHUNK_BYTES * CHUNK_BYTES);
            }
        }
        let chunk = self.region_next;
        // The chunk is filled with cells right away: its eight pages are
        // faulted in by one call rather than by eight page faults, one per
        // first touch (compiled `alloc`, which takes most of its 7,000
        // faults in fresh chunks, 64.6 -> 60.2 ms; docs/benchmarks.md,
        // "Fresh chunks faulted in at once"). Linux 5.14 on; an older kernel
        // refuses the advice and the pages fault in as before.
        #[cfg(target_os = "linux")]
        // SAFETY: the chunk lies inside the region (below); populating its
        // pages only faults them in, and a failure changes nothing.
        unsafe {
            libc::madvise(chunk.cast(), CHUNK_BYTES, libc::MADV_POPULATE_WRITE);
        }
        // SAFETY: `[region_next, region_end)` is the uncarved rest of a region,
        // a whole number of chunks (`REGION_BYTES` is a multiple of
        // `CHUNK_BYTES`), and not empty: this chunk lies inside it, and the
        // next pointer stays within the region or one past its end.
        unsafe {
            self.region_next = chunk.add(CHUNK_BYTES);
            NonNull::new_unchecked(chunk)
        }
    }

    /// A chunk that is an allocation of its own.
    fn chunk_alone(&mut self, instances: bool) -> NonNull<u8> {
        let layout = chunk_layout(instances);
        let chunk = alloc_block(layout);
        self.blocks.push((chunk, layout));
        chunk
    }

    /// Take over the chunks and free cells of `other`, which keeps none: the
    /// objects in those chunks now belong to this heap (whose owner moves them to
    /// its all-objects list, see `Heap::adopt_regions`).
    pub(super) fn adopt(&mut self, other: &mut Cells) {
        self.blocks.append(&mut other.blocks);
        self.chunk_count += std::mem::take(&mut other.chunk_count);
        // Keep whichever uncarved region rest is larger; the other one stays
        // unused (its region is freed with the heap).
        let rest = |c: &Cells| c.region_end as usize - c.region_next as usize;
        if rest(other) > rest(self) {
            self.region_next = other.region_next;
            self.region_end = other.region_end;
        }
        other.region_next = std::ptr::null_mut();
        other.region_end = std::ptr::null_mut();
        self.instance_chunks.append(&mut other.instance_chunks);
        for n in 0..CELL_CLASSES {
            // Their current chunk's rest of a hole is given up (its cells are
            // unmarked: the next collection finds them); the chunk is ours.
            other.retire_hole(n);
            other.holes[n] = Hole::EMPTY;
            other.hole_start[n] = std::ptr::null_mut();
            other.current[n] = None;
            self.unswept[n].append(&mut other.unswept[n]);
            // SAFETY: their list is a free list of cells whose chunks are now ours.
            unsafe { prepend_list(&mut self.free[n], &mut other.free[n]) };
        }
    }

    /// The bytes of chunk memory this heap holds.
    pub(super) fn chunk_bytes(&self) -> usize {
        self.chunk_count * CHUNK_BYTES
    }
}

impl Drop for Cells {
    fn drop(&mut self) {
        for (block, layout) in self.blocks.drain(..) {
            // SAFETY: every block was allocated by `alloc_block` with this
            // layout, and the heap that owned it is being dropped: nothing
            // uses its cells.
            unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
        }
    }
}

/// Put the free list `theirs` in front of the free list `ours`, leaving
/// `theirs` empty.
///
/// # Safety
/// Both must be free lists of cells of the same size, null-terminated, that
/// only the caller uses.
unsafe fn prepend_list(ours: &mut *mut ObjHeader, theirs: &mut *mut ObjHeader) {
    let first = std::mem::replace(theirs, std::ptr::null_mut());
    if first.is_null() {
        return;
    }
    let mut tail = first;
    // SAFETY: the caller's contract: `tail` walks a null-terminated free list.
    unsafe {
        while !(*tail).next.is_null() {
            tail = (*tail).next;
        }
        (*tail).next = *ours;
    }
    *ours = first;
}

/// What became of an owner of a buffer in a collection ([`Cells::sweep_owners`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Owner {
    /// Unmarked: its buffer is to be freed, and its cell is free.
    Dead,
    /// Marked, and given its buffer since the collection before: its buffer
    /// is the old generation's from now on.
    Promoted,
    /// Marked, an owner since before the last collection (reported by a
    /// major collection only).
    Live,
}

/// Whether cells of class `n` may hold array objects (whose chunks then may
/// have owner bits set): from an empty array's to one with the most elements
/// in its cell.
fn array_class(n: usize) -> bool {
    (ARRAY_CELL..=ARRAY_CELL + INLINE_ARRAY_MAX).contains(&n)
}

/// Call `f` with the index of every set bit of `word`, lowest first.
#[inline]
fn for_each_bit(mut word: u64, mut f: impl FnMut(usize)) {
    while word != 0 {
        f(word.trailing_zeros() as usize);
        word &= word - 1;
    }
}

/// Set the owner bit of the array object in cell `p` of an instance chunk,
/// and its fresh bit and its chunk's owner flag: the array owns a buffer,
/// which the collection that finds it dead frees ([`Cells::sweep_owners`]).
/// An array that is an owner already is left as it is: its buffer, which
/// may have grown since, is counted once, when it is promoted (as the sweep
/// of the all-objects list counts a survivor's `held_bytes` once).
///
/// # Safety
/// `p` must be a cell of an instance chunk of a live heap, holding an array
/// object, which only the caller uses.
#[inline]
pub(super) unsafe fn note_owner(p: *mut ObjHeader) {
    let addr = p as usize;
    let chunk = addr & !(CHUNK_BYTES - 1);
    let bit = (addr - chunk) / 8;
    let mask = 1u64 << (bit % 64);
    // SAFETY: the caller's contract: `chunk` is the instance chunk holding
    // `p`; its header holds the owner and fresh bits and the owner flag.
    unsafe {
        let base = chunk as *mut u8;
        let owners = (base.add(OWNER_BITS_AT) as *mut u64).add(bit / 64);
        if *owners & mask != 0 {
            return;
        }
        *owners |= mask;
        *(base.add(FRESH_BITS_AT) as *mut u64).add(bit / 64) |= mask;
        *(base.add(OWNER_FLAG_AT) as *mut u64) = 1;
    }
}

/// A run of free instance cells, `[cursor, limit)`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct Hole {
    pub(super) cursor: *mut u8,
    pub(super) limit: *mut u8,
}

impl Hole {
    const EMPTY: Hole = Hole {
        cursor: std::ptr::null_mut(),
        limit: std::ptr::null_mut(),
    };
}

/// Where the cells of `size` bytes of an instance chunk end: the offset past
/// its last whole cell.
const fn instance_cells_end(size: usize) -> usize {
    INSTANCE_CELLS_AT + (CHUNK_BYTES - INSTANCE_CELLS_AT) / size * size
}

/// Whether the mark bit of the cell `at` bytes into instance chunk `chunk` is set.
///
/// # Safety
/// `chunk` must be an instance chunk and `at < CHUNK_BYTES` a multiple of 8.
#[inline(always)]
unsafe fn marked_at(chunk: NonNull<u8>, at: usize) -> bool {
    let bit = at / 8;
    // SAFETY: the caller's contract: the chunk's first `MARK_WORDS` words are
    // its bits, and `bit / 64 < MARK_WORDS`.
    unsafe { *(chunk.as_ptr() as *const u64).add(bit / 64) & (1 << (bit % 64)) != 0 }
}

/// Per cell class, the bits of an instance chunk's mark bitmap that are the
/// first words of its cells (one bit per word of the chunk): where a mark
/// bit can be set. Computed at compile time.
static CELL_STARTS: [[u64; MARK_WORDS]; CELL_CLASSES] = cell_starts();

const fn cell_starts() -> [[u64; MARK_WORDS]; CELL_CLASSES] {
    let mut table = [[0u64; MARK_WORDS]; CELL_CLASSES];
    let mut n = 0;
    while n < CELL_CLASSES {
        let size = instance_size(n);
        let end = instance_cells_end(size);
        let mut at = INSTANCE_CELLS_AT;
        while at < end {
            let bit = at / 8;
            table[n][bit / 64] |= 1 << (bit % 64);
            at += size;
        }
        n += 1;
    }
    table
}

/// The first run of cells of class `n` with a clear mark bit in instance
/// chunk `chunk`, starting from the cell `from` bytes into it (or the first
/// cell after), as a hole; `None` if there is none. A word of the bitmap at
/// a time: a word whose cells are all marked is one compare (against
/// [`CELL_STARTS`]), and the hole ends at the next set bit, which is the
/// first word of a marked cell (only those bits are ever set).
///
/// # Safety
/// `chunk` must be an instance chunk of cells of class `n` that only the
/// caller uses.
unsafe fn find_hole(chunk: NonNull<u8>, n: usize, from: usize) -> Option<Hole> {
    let starts = &CELL_STARTS[n];
    // SAFETY: the caller's contract: the chunk's first `MARK_WORDS` words
    // are its mark bits.
    let marks = unsafe { std::slice::from_raw_parts(chunk.as_ptr() as *const u64, MARK_WORDS) };
    // Bits below `from` (a cell boundary or the end of the last hole) are
    // out of the search.
    let first_bit = from.max(INSTANCE_CELLS_AT) / 8;
    let mut w = first_bit / 64;
    if w >= MARK_WORDS {
        return None;
    }
    let mut below = (1u64 << (first_bit % 64)) - 1;
    // The first cell whose mark bit is clear.
    let start = loop {
        let free = starts[w] & !marks[w] & !below;
        if free != 0 {
            break w * 64 + free.trailing_zeros() as usize;
        }
        w += 1;
        if w == MARK_WORDS {
            return None;
        }
        below = 0;
    };
    // The next marked cell after it, or the end of the chunk's cells.
    let mut w = start / 64;
    let mut taken = marks[w] & !(2u64 << (start % 64)).wrapping_sub(1);
    let end_bit = loop {
        if taken != 0 {
            break w * 64 + taken.trailing_zeros() as usize;
        }
        w += 1;
        if w == MARK_WORDS {
            break instance_cells_end(instance_size(n)) / 8;
        }
        taken = marks[w];
    };
    let base = chunk.as_ptr();
    // SAFETY: both are cell boundaries inside the chunk, or its cells' end.
    Some(unsafe {
        Hole {
            cursor: base.add(start * 8),
            limit: base.add(end_bit * 8),
        }
    })
}

/// The layout of an instance of `n >= CELL_CLASSES` fields (a single allocation).
pub(super) fn large_layout(n: usize) -> Layout {
    // Field counts are capped far below any overflow (the checker's MAX_FIELDS).
    Layout::from_size_align(instance_size(n), LARGE_ALIGN).unwrap_or(Layout::new::<u64>())
}

/// Set the mark bit of the instance in cell `p` of an instance chunk; true if
/// it was clear (the instance is newly marked).
///
/// # Safety
/// `p` must be a cell of an instance chunk ([`Cells::pop_instance`]) of a live
/// heap, which only the caller uses.
#[inline(always)]
pub(super) unsafe fn mark_instance(p: *mut ObjHeader) -> bool {
    let addr = p as usize;
    let chunk = addr & !(CHUNK_BYTES - 1);
    let bit = (addr - chunk) / 8;
    let word = (chunk as *mut u64).wrapping_add(bit / 64);
    let mask = 1u64 << (bit % 64);
    // SAFETY: the caller's contract: `chunk` is the instance chunk holding
    // `p`, whose first `MARK_WORDS` words are its mark bits.
    unsafe {
        let w = *word;
        *word = w | mask;
        w & mask == 0
    }
}

/// Whether the instance `p` in a cell is marked in its chunk's bits.
///
/// # Safety
/// As [`mark_instance`].
pub(super) unsafe fn instance_marked(p: *mut ObjHeader) -> bool {
    let addr = p as usize;
    let chunk = addr & !(CHUNK_BYTES - 1);
    // SAFETY: the caller's contract: `chunk` is the instance chunk holding
    // `p`, a nonzero address, and `p` is a cell of it.
    unsafe { marked_at(NonNull::new_unchecked(chunk as *mut u8), addr - chunk) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pop `count` cells of `n` fields from `cells` and write a distinct word
    /// (`mark + i`) into each; the cells popped.
    fn pop_and_mark(cells: &mut Cells, n: usize, count: usize, mark: u64) -> Vec<*mut ObjHeader> {
        (0..count)
            .map(|i| {
                let p = cells.pop(n);
                assert_eq!(p as usize % 8, 0);
                // SAFETY: `p` is a free cell of at least one word, now ours.
                unsafe { (p as *mut u64).write(mark + i as u64) };
                p
            })
            .collect()
    }

    /// After its first `CHUNKS_ALONE` chunks a heap carves chunks from
    /// regions: the cells do not overlap, the chunks count once each, and a
    /// heap that adopts another carves on from the larger region rest.
    #[test]
    fn chunks_come_from_regions_after_the_first_ones() {
        let n = 3;
        let per_chunk = CHUNK_BYTES / instance_size(n);
        let chunks = CHUNKS_ALONE + 70;
        let mut a = Cells::new();
        let cells = pop_and_mark(&mut a, n, per_chunk * chunks, 0);
        assert_eq!(a.chunk_bytes(), chunks * CHUNK_BYTES);
        // 64 chunks alone, then 70 from two regions of 64.
        assert_eq!(a.blocks.len(), CHUNKS_ALONE + 2);
        for (i, &p) in cells.iter().enumerate() {
            // SAFETY: every cell was written by `pop_and_mark` and is still ours.
            assert_eq!(
                unsafe { (p as *const u64).read() },
                i as u64,
                "cell {i} overlaps another"
            );
        }
        let mut b = Cells::new();
        pop_and_mark(&mut b, n, per_chunk, 1 << 40);
        b.adopt(&mut a);
        assert_eq!((a.chunk_count, a.blocks.len()), (0, 0));
        assert!(a.region_next.is_null() && a.region_end.is_null());
        assert_eq!(b.chunk_bytes(), (chunks + 1) * CHUNK_BYTES);
        // `b`'s next chunks come out of `a`'s second region, not a new one.
        let blocks = b.blocks.len();
        pop_and_mark(&mut b, n, per_chunk * 10, 1 << 41);
        assert_eq!(b.blocks.len(), blocks);
        assert_eq!(b.chunk_bytes(), (chunks + 11) * CHUNK_BYTES);
    }

    /// `find_hole`, a word of the bitmap at a time, finds the holes a walk
    /// over the cells one by one finds, in every cell class, for marks at
    /// random (dense and sparse) and from every cell.
    #[test]
    fn holes_are_the_runs_of_unmarked_cells() {
        let mut c = Cells::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in 0..CELL_CLASSES {
            let size = instance_size(n);
            let end = instance_cells_end(size);
            let chunk = c.new_instance_chunk(n);
            for density in [0, 1, 4, 8, 15, 16] {
                // SAFETY: the chunk's first `MARK_WORDS` words are its bits,
                // and every cell's bit is inside them.
                unsafe {
                    std::ptr::write_bytes(chunk.as_ptr(), 0, OWNER_BITS_AT);
                    for at in (INSTANCE_CELLS_AT..end).step_by(size) {
                        if random() % 16 < density {
                            mark_instance(chunk.as_ptr().add(at).cast());
                        }
                    }
                }
                for from in (INSTANCE_CELLS_AT..=end).step_by(size) {
                    // SAFETY: as above.
                    let naive = unsafe {
                        let mut at = from;
                        while at < end && marked_at(chunk, at) {
                            at += size;
                        }
                        let start = at;
                        while at < end && !marked_at(chunk, at) {
                            at += size;
                        }
                        (start < end).then_some((start, at))
                    };
                    // SAFETY: `chunk` is an instance chunk of class `n`.
                    let found = unsafe { find_hole(chunk, n, from) }.map(|h| {
                        let base = chunk.as_ptr() as usize;
                        (h.cursor as usize - base, h.limit as usize - base)
                    });
                    assert_eq!(found, naive, "class {n}, density {density}, from {from}");
                }
            }
        }
    }

    /// Instances are handed out from holes in address order; after marking,
    /// the unmarked cells are handed out again (the marked ones never), and
    /// only when no unswept chunk has one is a new chunk made.
    #[test]
    fn instance_cells_are_reused_through_holes() {
        let n = 2;
        let size = instance_size(n);
        let per_chunk = (CHUNK_BYTES - INSTANCE_CELLS_AT) / size;
        let mut c = Cells::new();
        let mut charged = 0;
        let first: Vec<*mut ObjHeader> = (0..2 * per_chunk)
            .map(|_| c.pop_instance(n, &mut charged))
            .collect();
        assert_eq!(c.instance_chunks.len(), 2);
        assert_eq!(first[1] as usize - first[0] as usize, size);
        assert_eq!(first[0] as usize % CHUNK_ALIGN, INSTANCE_CELLS_AT);
        c.clear_instance_marks();
        // In address order, as `seen` is sorted below (the second chunk may
        // lie below the first).
        let mut kept: Vec<*mut ObjHeader> = first.iter().copied().step_by(3).collect();
        kept.sort();
        for &p in &kept {
            // SAFETY: `p` is a cell of one of `c`'s instance chunks.
            unsafe {
                assert!(mark_instance(p));
                assert!(!mark_instance(p), "marked once");
            }
        }
        assert_eq!(c.instances_marked(), (kept.len(), kept.len() * size));
        let mut seen = Vec::new();
        c.for_each_marked_instance(&mut |p| seen.push(p));
        seen.sort();
        assert_eq!(seen, kept);
        let mut again: Vec<*mut ObjHeader> = (0..first.len() - kept.len())
            .map(|_| c.pop_instance(n, &mut charged))
            .collect();
        assert_eq!(c.instance_chunks.len(), 2, "the free cells were found again");
        again.sort();
        again.dedup();
        assert_eq!(again.len(), first.len() - kept.len());
        assert!(
            again.iter().all(|p| !kept.contains(p)),
            "a marked cell was handed out"
        );
        c.pop_instance(n, &mut charged);
        assert_eq!(c.instance_chunks.len(), 3);
        // A second collection that marks nothing frees every cell.
        c.clear_instance_marks();
        assert_eq!(c.instances_marked(), (0, 0));
        for _ in 0..3 * per_chunk {
            c.pop_instance(n, &mut charged);
        }
        assert_eq!(c.instance_chunks.len(), 3);
    }
}
