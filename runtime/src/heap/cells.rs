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

pub(super) struct Cells {
    /// The first free cell of each size (`free[n]` for instances of `n` fields), or
    /// null; each free cell's `next` word links to the next free cell of its size.
    /// Compiled code pops from these lists (`Heap::OFF_FREE_CELLS`).
    pub(super) free: [*mut ObjHeader; CELL_CLASSES],
    /// Every chunk this heap owns (freed when the heap is dropped).
    chunks: Vec<NonNull<u8>>,
}

// SAFETY: the cells and chunks are owned by one heap, which is used by one thread at
// a time; nothing in them refers to thread-local state.
unsafe impl Send for Cells {}

fn chunk_layout() -> Layout {
    // Never fails: the size is a nonzero multiple of a power-of-two alignment.
    Layout::from_size_align(CHUNK_BYTES, CHUNK_ALIGN).unwrap_or(Layout::new::<u64>())
}

impl Cells {
    pub(super) fn new() -> Cells {
        Cells {
            free: [std::ptr::null_mut(); CELL_CLASSES],
            chunks: Vec::new(),
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
        let layout = chunk_layout();
        // SAFETY: the layout's size is not zero.
        let base = unsafe { std::alloc::alloc(layout) };
        let Some(base) = NonNull::new(base) else {
            std::alloc::handle_alloc_error(layout)
        };
        self.chunks.push(base);
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

    /// Take over the chunks and free cells of `other`, which keeps none: the
    /// objects in those chunks now belong to this heap (whose owner moves them to
    /// its all-objects list, see `Heap::adopt_regions`).
    pub(super) fn adopt(&mut self, other: &mut Cells) {
        self.chunks.append(&mut other.chunks);
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
        self.chunks.len() * CHUNK_BYTES
    }
}

impl Drop for Cells {
    fn drop(&mut self) {
        for c in self.chunks.drain(..) {
            // SAFETY: every chunk was allocated by `refill` with this layout, and
            // the heap that owned it is being dropped: nothing uses its cells.
            unsafe { std::alloc::dealloc(c.as_ptr(), chunk_layout()) };
        }
    }
}

/// The layout of an instance of `n >= CELL_CLASSES` fields (a single allocation).
pub(super) fn large_layout(n: usize) -> Layout {
    // Field counts are capped far below any overflow (the checker's MAX_FIELDS).
    Layout::from_size_align(instance_size(n), CHUNK_ALIGN).unwrap_or(Layout::new::<u64>())
}
