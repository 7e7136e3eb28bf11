//! Size-class cells for struct and class instances, for array objects (an
//! [`ArrayObj`](super::object::ArrayObj) has the size of an instance of 3 fields;
//! `gc.rs`, `ARRAY_CELL`) and for short strings (the smallest cell that holds the
//! header and the bytes; `gc.rs`, `str_cell`).
//!
//! An instance of `n < CELL_CLASSES` fields lives in a cell of exactly
//! [`instance_size`]`(n)` bytes, carved from a chunk the heap owns. The free cells
//! of each size are a list linked through their header's `next` word, whose head
//! is in [`Cells::free`]: allocation pops a cell (compiled code does it inline, see
//! docs/jit.md, "Inline allocation"), the sweep pushes a dead instance back, and an
//! empty list is refilled with a new chunk. Cells never move and chunks are only
//! freed when the heap is dropped, so the collector stays non-moving; a live
//! instance is on the all-objects list like any other object, a free cell is not.
//!
//! The first [`CHUNKS_ALONE`] chunks are allocations of their own; after them a
//! heap carves its chunks from regions of [`REGION_BYTES`], which the global
//! allocator of `bp` backs with transparent huge pages (`src/allocator.rs`): a
//! program whose heap grows past 2 MiB then takes one page fault per 2 MiB of
//! cells instead of 512 (`alloc` took 4,000 faults in fresh chunks), and a
//! small program's heap still grows by 32 KiB.
//!
//! A heap's chunks can be handed to another heap ([`Cells::adopt`]) together with
//! the objects in them: nothing is copied, the chunks change owner.

use super::object::{instance_size, ObjHeader};
use std::alloc::Layout;
use std::ptr::NonNull;

/// Instances of `0 .. CELL_CLASSES` fields are allocated in cells.
pub const CELL_CLASSES: usize = 17;

/// The size of a chunk of cells.
const CHUNK_BYTES: usize = 32 << 10;

/// The alignment of chunks (and so of every cell: cell sizes are multiples of 8).
const CHUNK_ALIGN: usize = 16;

/// How many chunks a heap allocates one by one before it carves them from
/// regions (2 MiB of chunks).
const CHUNKS_ALONE: usize = 64;

/// The size of a region chunks are carved from: a whole transparent huge page.
const REGION_BYTES: usize = 2 << 20;

pub(super) struct Cells {
    /// The first free cell of each size (`free[n]` for instances of `n` fields), or
    /// null; each free cell's `next` word links to the next free cell of its size.
    /// Compiled code pops from these lists (`Heap::OFF_FREE_CELLS`).
    pub(super) free: [*mut ObjHeader; CELL_CLASSES],
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

fn chunk_layout() -> Layout {
    // Never fails: the size is a nonzero multiple of a power-of-two alignment.
    Layout::from_size_align(CHUNK_BYTES, CHUNK_ALIGN).unwrap_or(Layout::new::<u64>())
}

fn region_layout() -> Layout {
    // Never fails, as `chunk_layout`.
    Layout::from_size_align(REGION_BYTES, CHUNK_ALIGN).unwrap_or(Layout::new::<u64>())
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
            blocks: Vec::new(),
            chunk_count: 0,
            region_next: std::ptr::null_mut(),
            region_end: std::ptr::null_mut(),
        }
    }

    /// A free cell for an instance of `n < CELL_CLASSES` fields (its contents are
    /// garbage), taken off its free list, which is refilled from a new chunk when
    /// empty.
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

    /// Push the dead instance `p` of `n < CELL_CLASSES` fields onto its free list.
    ///
    /// # Safety
    /// `p` must be a cell of this heap's chunks holding an instance of `n` fields,
    /// unlinked from the all-objects list and not used afterwards.
    #[inline]
    pub(super) unsafe fn push(&mut self, p: *mut ObjHeader, n: usize) {
        // SAFETY: the caller's contract: `p` is a cell nobody else uses.
        unsafe { (*p).next = self.free[n] };
        self.free[n] = p;
    }

    /// Carve a new chunk into cells of `instance_size(n)` bytes and put them on the
    /// (empty) free list of `n`, first cell first.
    #[cold]
    fn refill(&mut self, n: usize) {
        let base = self.new_chunk();
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

    /// A new chunk of `CHUNK_BYTES`: an allocation of its own for the first
    /// [`CHUNKS_ALONE`] (and whenever a new region is refused), then the next
    /// one of the newest region.
    fn new_chunk(&mut self) -> NonNull<u8> {
        self.chunk_count += 1;
        if self.region_next == self.region_end {
            if self.chunk_count <= CHUNKS_ALONE {
                return self.chunk_alone();
            }
            // A region the allocator refuses (a memory limit) is no error:
            // the heap goes on in chunks of their own.
            // SAFETY: the layout's size is not zero.
            let region = crate::rt::fallibly(|| unsafe { std::alloc::alloc(region_layout()) });
            let Some(region) = NonNull::new(region) else {
                return self.chunk_alone();
            };
            self.blocks.push((region, region_layout()));
            self.region_next = region.as_ptr();
            // SAFETY: one past the end of the region just allocated.
            self.region_end = unsafe { region.as_ptr().add(REGION_BYTES) };
        }
        let chunk = self.region_next;
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
    fn chunk_alone(&mut self) -> NonNull<u8> {
        let chunk = alloc_block(chunk_layout());
        self.blocks.push((chunk, chunk_layout()));
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
        for n in 0..CELL_CLASSES {
            let theirs = std::mem::replace(&mut other.free[n], std::ptr::null_mut());
            if theirs.is_null() {
                continue;
            }
            // Append our list to the end of theirs.
            let mut tail = theirs;
            // SAFETY: `theirs` is a free list of cells whose chunks are now ours;
            // its last cell's `next` is null.
            unsafe {
                while !(*tail).next.is_null() {
                    tail = (*tail).next;
                }
                (*tail).next = self.free[n];
            }
            self.free[n] = theirs;
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

/// The layout of an instance of `n >= CELL_CLASSES` fields (a single allocation).
pub(super) fn large_layout(n: usize) -> Layout {
    // Field counts are capped far below any overflow (the checker's MAX_FIELDS).
    Layout::from_size_align(instance_size(n), CHUNK_ALIGN).unwrap_or(Layout::new::<u64>())
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
}
