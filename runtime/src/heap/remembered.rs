//! The remembered set: the old objects a reference was stored into since the
//! last collection (docs/architecture.md, "Generations").
//!
//! A minor collection marks from the roots and from these objects only: every
//! other old object refers to old objects alone, because a reference to a
//! young object can only get into an old one by a store, and every store of a
//! reference into an existing object passes the write barrier
//! ([`super::object::write_barrier`]; compiled code does its test inline).
//!
//! The set is per thread, not per heap: the barrier runs where no heap is at
//! hand (`as_array_mut`, a leaf helper of compiled code). A thread has one
//! heap that collects (its VM's), but tests and `bp repl` may make others; the
//! set therefore records which heap last claimed it, and a heap that finds it
//! claimed by another one since its own last collection cannot trust it and
//! collects in full ([`take`]), which needs no remembered set.

use super::object::{ObjHeader, REMEMBERED};
use std::cell::RefCell;

struct Remembered {
    /// The id of the heap whose collection last took the set ([`take`]); 0
    /// for none.
    owner: u64,
    objects: Vec<*mut ObjHeader>,
}

thread_local! {
    static SET: RefCell<Remembered> = const {
        RefCell::new(Remembered {
            owner: 0,
            objects: Vec::new(),
        })
    };
}

/// The barrier's slow path: put the old object `p` into the remembered set.
///
/// # Safety
/// `p` must be a live old object, not in the set.
#[cold]
#[inline(never)]
pub(crate) unsafe fn remember(p: *mut ObjHeader) {
    // SAFETY: the caller's contract: a live object, used by this thread only.
    unsafe { (*p).mark = REMEMBERED };
    SET.with_borrow_mut(|set| set.objects.push(p));
}

/// For a collection of heap `owner`: the objects remembered since its last
/// collection, if no other heap of this thread collected in between (then
/// the set may miss stores into `owner`'s objects and the collection must be
/// full: `None`). Either way `owner` claims the set, which is left empty.
/// The objects returned may be dead but are not freed: only a collection
/// frees, and every collection takes the set first.
pub(super) fn take(owner: u64) -> Option<Vec<*mut ObjHeader>> {
    SET.with_borrow_mut(|set| {
        let objects = std::mem::take(&mut set.objects);
        let mine = set.owner == owner;
        set.owner = owner;
        mine.then_some(objects)
    })
}

/// For a major collection of heap `owner`, which needs no remembered set:
/// claim the set and empty it (keeping its buffer).
pub(super) fn clear(owner: u64) {
    SET.with_borrow_mut(|set| {
        set.owner = owner;
        set.objects.clear();
    });
}

/// Give the (emptied) buffer of a set [`take`] returned back, to be filled
/// again without growing from nothing.
pub(super) fn give_back(owner: u64, mut objects: Vec<*mut ObjHeader>) {
    objects.clear();
    SET.with_borrow_mut(|set| {
        if set.owner == owner && set.objects.is_empty() {
            set.objects = objects;
        }
    });
}

/// Heap `owner` is dropped. If it ever collected, objects of it may be in
/// the set (old objects exist only in a heap that collected), even if another
/// heap of this thread owns the set now: empty the set and let nobody own it,
/// so that the next collection of this thread is a full one.
pub(super) fn release(owner: u64, collected: bool) {
    // (At thread exit the set may be gone already: nothing to empty then.)
    let _ = SET.try_with(|set| {
        if let Ok(mut set) = set.try_borrow_mut() {
            if set.owner == owner || collected {
                set.owner = 0;
                set.objects = Vec::new();
            }
        }
    });
}
