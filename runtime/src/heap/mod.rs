//! The garbage-collected heap: object layouts, allocation and a non-moving,
//! stop-the-world mark-sweep collector.
//!
//! | file | holds |
//! |---|---|
//! | `abi.rs` | the offsets compiled code reads objects at (`offset_of!`) |
//! | `buffers.rs` | [`ArrayBuf`] and [`FixedSlice`], the `#[repr(C)]` element buffers inside objects |
//! | `object.rs` | [`ObjHeader`], the object structs, [`Layout`] and the layout registry |
//! | `access.rs` | typed access to an object from a [`Value`] ([`as_array`], [`str_bytes`], ...) |
//! | `equality.rs` | [`values_equal`], [`hash_value`], [`MapKey`], [`FxHasher`] |
//! | `gc.rs` | [`Heap`]: allocation, roots, [`Marker`], collection |
//! | `cells.rs` | the size-class cells struct and class instances live in (free lists compiled code pops inline) |
//! | `remembered.rs` | the remembered set: old objects a reference was stored into since the last collection |
//! | `transfer.rs` | [`Parcel`]: deep copies of values from one thread's heap to another's |
//!
//! # Design
//! * Every object starts with an [`ObjHeader`] (all-objects list link, kind, mark bit)
//!   and is a `Box` of one `#[repr(C)]` struct below, so a `*mut ObjHeader` can be cast
//!   to the concrete object type after checking `kind`. Struct and class instances
//!   are the exception: one allocation of header, layout id, field count and the
//!   fields inline ([`StructObj`], a slice-tailed type), in a size-class cell
//!   (`cells.rs`) or, with many fields, an allocation of its own.
//! * Objects never move, so raw pointers held in VM registers, JIT machine registers
//!   or Rust locals stay valid as long as the object is reachable from a root when a
//!   collection runs.
//! * **Collections only happen at safepoints**: allocation never collects. The VM
//!   (and JIT code) calls [`Heap::collect`] between instructions when
//!   [`Heap::wants_gc`] says so, after the allocating instruction has written its
//!   result into a register. Runtime builtins therefore never need to root their
//!   intermediate objects. Code that collects while holding objects in Rust locals
//!   (a runtime helper's new result) must root them with [`Heap::push_temp_root`].
//! * Roots: the VM register stack (per-function reference maps), globals, pinned
//!   constants ([`Heap::pin`]) and the temporary roots.
//! * Reading an object through a [`Value`](crate::value::Value) is `unsafe` (a
//!   value can be forged from an int); see `access.rs` and docs/architecture.md,
//!   "Forged values".
//! * **Generations, by sticky marks** (docs/architecture.md, "Generations"): a
//!   collection leaves its survivors marked, and marked means old. A *minor*
//!   collection marks from the roots and the remembered set only, never
//!   entering an old object, and sweeps only what was allocated since the last
//!   collection; a *major* one clears every mark first and marks and sweeps
//!   everything. Every store of a reference into an existing object passes the
//!   write barrier ([`write_barrier`]: the `_mut` accessors of `access.rs`, and
//!   compiled code's stores inline), which remembers an old object.
//! * GC stress mode (`BP_GC_STRESS=1`): every safepoint after any allocation
//!   collects, minor but for every eighth, and after each minor collection
//!   checks that no old object refers to an unmarked one (a missing barrier).

pub mod abi;
mod access;
mod buffers;
mod cells;
mod equality;
mod gc;
mod object;
mod remembered;
mod short_strs;
mod transfer;

pub use access::*;
pub use buffers::{ArrayBuf, FixedSlice};
pub use cells::CELL_CLASSES;
pub use equality::{hash_value, strs_equal, values_equal, FxHasher, MapKey};
pub(crate) use gc::gc_epoch;
pub use gc::{
    cell_elem_kind, keeps_elements_in_cell, ConstPool, GcStats, GcStress, Heap, Marker, ProgramId, StrSource,
    INLINE_ARRAY_MAX, STR_ADOPT_MIN,
};
pub use object::write_barrier;
pub(crate) use object::{path_mark, set_path_mark};
pub use object::{
    set_layouts, with_layout, ArrayIter, ArrayObj, ClosureObj, Layout, MapObj, ObjHeader, ObjKind, OpaqueObj,
    StrObj, StructObj, TupleObj,
};
pub use short_strs::{empty_str, one_byte_str, short_str, SHORT_STRS};
pub use transfer::Parcel;
