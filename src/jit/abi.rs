//! The ABI between compiled code and the runtime that runs it: everything the JIT
//! needs to know about the outside world, handed in as numbers and typed function
//! pointers, so that the JIT does not depend on the VM (`docs/architecture.md`,
//! "Layers"; the protocol itself is in `docs/jit.md`).
//!
//! * status codes returned by compiled functions and helpers ([`ST_RETURN`]...);
//! * [`Context`]: the opaque first argument of every helper (the tier passes its
//!   VM; compiled code only embeds the address and passes it on);
//! * the helper signatures and the table of their addresses ([`Helpers`]);
//! * typed selectors between the translator and its helpers ([`NewKind`],
//!   [`ObjOp`]) instead of bare numbers;
//! * the byte offsets compiled code reads inline ([`Offsets`]): frame records and
//!   the frame-depth counter from the tier ([`FrameLayout`]), heap objects from the
//!   runtime's object ABI ([`bp_runtime::heap::abi`]), all from `offset_of!`;
//! * the addresses of the run's register stack, frame stack and globals
//!   ([`RunAddrs`]).

use crate::bytecode::CallSite;
use bp_runtime::builtins::LeafFn;
use bp_runtime::heap::abi;
use bp_runtime::value::Value;

/// Status: returned normally (result in register 0 of the frame).
pub const ST_RETURN: u64 = 0;

/// The entry-table value of a function without compiled code (not an address:
/// code is aligned). The VMs compare slots with it; compiled code that loads it
/// calls the trampoline shim instead. The table exists before the JIT does (the
/// JIT is set up on the first compilation), so the shim's address cannot be it.
pub const NOT_COMPILED: usize = 1;
/// Status: an exception is pending (in the VM).
pub const ST_EXCEPTION: u64 = 1;
/// Status: `exit` or a fatal error, recorded by the tier.
pub const ST_STOP: u64 = 2;
/// Status (from `rt_resume` only): re-enter at loop header `(status >> 2) - 1`.
pub const ST_REENTER: u64 = 3;
/// Status (from `rt_raise` only): the instruction raised, and the exception is
/// pending at it in the compiled frame, which is still the innermost one
/// (where [`ST_EXCEPTION`] from a resumed frame means it has left).
pub const ST_RAISED: u64 = ST_EXCEPTION | 4;

/// The runtime context that compiled code passes to every helper. Opaque here:
/// the tier decides what it is (its VM) and casts it back in the helpers.
#[repr(C)]
pub struct Context {
    _opaque: [u8; 0],
    _not_send_sync_unpin: std::marker::PhantomData<(*mut u8, std::marker::PhantomPinned)>,
}

/// The type of `rt_op`: `(ctx, base, pc) -> status`.
pub type JitFn = unsafe extern "C" fn(*mut Context, *mut Value, u64) -> u64;

/// `rt_throw(ctx, msg, pc | rethrow << 32) -> status`: raise the string `msg`
/// (the raw bits of a reference) at `pc` of the compiled frame (a `Rethrow`
/// when bit 32 is set), pending, and return 1 (2 on an internal error).
pub type ThrowFn = unsafe extern "C" fn(*mut Context, u64, u64) -> u64;

/// The bit of `rt_throw`'s last argument that makes it a `Rethrow`.
pub const THROW_RETHROW: u64 = 1 << 32;

/// The type of `rt_resume` and `rt_raise`: `(ctx, base, pc, osr_loops) -> status`, where
/// `osr_loops` are the loops whose headers the exiting code can be re-entered
/// at ([`osr_bit`]): status [`ST_REENTER`] names one of them only.
pub type ResumeFn = unsafe extern "C" fn(*mut Context, *mut Value, u64, u64) -> u64;

/// The bit of loop `loop_id` (the `loop_id` of its back-edges) in a set of
/// loops a version of a function can be entered at, by OSR or by re-entry
/// after a side exit (docs/jit.md, "OSR entries"). Loops from 63 on share the
/// last bit: asking for one of them gives entries to all.
pub const fn osr_bit(loop_id: usize) -> u64 {
    1 << if loop_id < 63 { loop_id } else { 63 }
}

/// Every loop of a function ([`osr_bit`]): what `bp jit-ir` and the compile
/// tests translate with, so that each header's entry is compiled too.
pub const ALL_LOOPS: u64 = u64::MAX;

/// Helpers that take one number besides the context (`rt_propagate(ctx, pc)`,
/// `rt_catch(ctx, pc)`, `rt_overflow(ctx, base)`, `rt_overflow_at(ctx, pc)`,
/// `rt_bad_reentry(ctx, enc)`): `-> status`.
pub type CtxFn = unsafe extern "C" fn(*mut Context, u64) -> u64;

/// The type of the interpreter trampoline (reached from compiled code through a
/// shim in the compiled functions' calling convention):
/// `(ctx, base, entry_pc, a_0, .., a_3) -> status`, with the register arguments
/// of the call (only the first `min(nparams, REG_ARGS)` are meaningful).
pub type TrampFn = unsafe extern "C" fn(*mut Context, *mut Value, u64, u64, u64, u64, u64) -> u64;

/// The type of the entry shim through which Rust calls compiled code:
/// `(code, ctx, base, entry_pc) -> status`. It passes `base[0..REG_ARGS]` as the
/// register arguments and calls `code` in the compiled functions' convention
/// (`ctx` is not passed on: compiled code has its address as a constant).
/// `entry_pc` is the frame's depth (the number of frame records, its own being the
/// last one); with bit 63 set, the frame enters at the loop header in its
/// record's `pc` (OSR).
pub type EnterFn = unsafe extern "C" fn(usize, *mut Context, *mut Value, u64) -> u64;

/// `rt_fmod(a, b)`: the VM's `ModF`.
pub type FmodFn = extern "C" fn(f64, f64) -> f64;
/// `rt_eq_ref(a, b)`: deep equality of two references, 1 or 0 (2: failed).
pub type EqRefFn = unsafe extern "C" fn(u64, u64) -> u64;
/// `rt_write_barrier(obj) -> 0`: the write barrier's slow path
/// (`heap::write_barrier`), after compiled code found `obj` old and not
/// remembered.
pub type BarrierFn = unsafe extern "C" fn(u64) -> u64;
/// `rt_builtin(ctx, id, args, nargs | ref_result << 32, pc) -> status`.
pub type BuiltinFn = unsafe extern "C" fn(*mut Context, u64, *mut Value, u64, u64) -> u64;
/// `rt_new(ctx, site, args, nargs | NewKind << 32, pc) -> status`.
pub type NewFn = unsafe extern "C" fn(*mut Context, *const CallSite, *mut Value, u64, u64) -> u64;
/// `rt_obj(ctx, ObjOp, args, kind, pc) -> status`.
pub type ObjFn = unsafe extern "C" fn(*mut Context, u64, *mut Value, u64, u64) -> u64;

/// The object `rt_new` builds (bits 32.. of its `info` argument). The helper
/// matches the number against these discriminants and treats any other as an
/// internal error (no translator emits one).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum NewKind {
    Array = 0,
    Tuple = 1,
    Struct = 2,
    /// `NewObject`: the `site` argument is the class's layout id, no elements.
    Object = 3,
    /// `NewCell`: the `site` argument is the value's kind, `args[0]` the value.
    Cell = 4,
}

/// The operation `rt_obj` performs (its second argument). The helper matches the
/// number against these discriminants and treats any other as an internal error
/// (no translator emits one).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum ObjOp {
    /// `args = [map, key]`.
    MapGet = 0,
    /// `args = [map, key, value]`.
    MapSet = 1,
    /// `args = [a, b]`.
    Concat = 2,
    /// `args = [value]`, its kind in `kind`.
    ToStr = 3,
    /// `args` = the parts of a `ConcatN`; `kind` = their number (low byte, at most
    /// [`CONCAT_MAX_PARTS`]) | a mask of the parts that are ints << 8 (the others
    /// are strings).
    ConcatN = 4,
    /// As `ConcatN`, whose first part is a string that only the destination
    /// register refers to: with few parts (the runtime's `concat_few`), it is
    /// extended in place when its buffer has room (`translate/appends.rs`).
    AppendN = 5,
}

/// The most parts of a `ConcatN` that compiled code passes to `rt_obj` (the bits
/// of its int mask); a longer one goes through `rt_op`.
pub const CONCAT_MAX_PARTS: usize = 56;

/// The runtime helpers compiled code calls (the tier implements them), typed so
/// that a helper whose signature drifts from the ABI does not compile.
#[derive(Clone, Copy)]
pub struct Helpers {
    /// The interpreter trampoline: the entry of every function not compiled.
    pub tramp: TrampFn,
    pub resume: ResumeFn,
    /// A guard for an error of the instruction failed: the VM runs it.
    pub raise: ResumeFn,
    /// The exception in flight leaves the frame: record it, pop it.
    pub propagate: CtxFn,
    /// A handler of the frame catches the exception in flight (compiled code
    /// goes on at its target).
    pub catch: CtxFn,
    /// `throw` and `Rethrow`.
    pub throw: ThrowFn,
    pub op: JitFn,
    /// The callee pops its record and raises `stack overflow` in the caller.
    pub overflow: CtxFn,
    /// A call at `pc` of this frame overflows.
    pub overflow_at: CtxFn,
    pub fmod: FmodFn,
    pub eq_ref: EqRefFn,
    pub bad_reentry: CtxFn,
    pub builtin: BuiltinFn,
    pub new: NewFn,
    pub obj: ObjFn,
    /// `MapSet`'s leaf twin (on `[map, key, value]`): stores in the room the
    /// map has; declines on a null map, a full one or one at the length limit,
    /// and compiled code then calls `rt_obj`.
    pub map_set: LeafFn,
    pub write_barrier: BarrierFn,
    /// A zeroed block of 256 bytes that reads like an empty object.
    pub zero_obj: &'static [u64; 32],
}

/// Layout of one frame record (the tier's `offset_of!` on the VM's `Frame`).
#[derive(Clone, Copy, Debug)]
pub struct FrameLayout {
    pub size: i32,
    pub func: i32,
    pub pc: i32,
    pub base: i32,
}

/// The sizes of the VMs the code is compiled for (they decide whether calls
/// must check the register stack).
#[derive(Clone, Copy, Debug)]
pub struct RunAddrs {
    /// Usable slots of the register stack (a callee window must end at or below
    /// slot `stack_slots`).
    pub stack_slots: usize,
    /// Maximum number of frames.
    pub max_depth: usize,
}

/// Where compiled code finds the structures of the running thread's VM: byte
/// offsets, from the context (the VM, which compiled code keeps in the pinned
/// register), of words that hold their addresses and limits. Compiled code is
/// shared by the VMs of every thread of a run, so it embeds none of them.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOffsets {
    /// Address of frame record 0.
    pub frames: i32,
    /// Address of global 0.
    pub globals: i32,
    /// Address of register stack slot `limit` (a callee window must end at or
    /// below it).
    pub stack_end: i32,
    /// Maximum number of frames.
    pub max_depth: i32,
    /// Native stack pointer below which calls raise `stack overflow`.
    pub native_limit: i32,
}

/// Offsets used by the translator (all in bytes).
#[derive(Clone, Copy, Debug)]
pub struct Offsets {
    /// The running VM's structures (see [`RunOffsets`]).
    pub run: RunOffsets,
    pub frame_size: i32,
    pub frame_func: i32,
    pub frame_pc: i32,
    pub frame_base: i32,
    /// Offset of the frame depth counter from the context address.
    pub vm_depth: i32,
    pub hdr_kind: i32,
    pub closure_kind: u8,
    pub clo_func: i32,
    /// Array items: pointer and length words.
    pub arr_items: (i32, i32),
    /// A struct's or class instance's field 0 (the fields are inline, 8 bytes
    /// each) and its field count (`u32`).
    pub struct_fields: i32,
    pub struct_len: i32,
    /// A struct's or class instance's layout id (`u32`).
    pub struct_layout: i32,
    /// Inline allocation of instances (docs/jit.md, "Inline allocation").
    pub alloc: AllocOffsets,
    /// Tuple items: pointer and length words.
    pub tuple_items: (i32, i32),
    /// A string's byte pointer and length words.
    pub str_bytes: (i32, i32),
    /// A tuple allocated inline (`Tr::new_small_tuple`): its kind byte, the
    /// size of the object its items follow, and its kinds' pointer and count
    /// words (the kinds follow the items).
    pub kind_tuple: u8,
    pub tuple_head: i32,
    pub tuple_kinds: (i32, i32),
    /// The size of an entry of the shared strings' table ([`Addrs::short_strs`](crate::jit::translate::Addrs::short_strs)),
    /// and the index of the empty string in it (the one of byte `b` is entry `b`).
    pub short_str_size: i64,
    pub empty_str_index: i64,
    /// Closure captures: pointer and length words.
    pub clo_captures: (i32, i32),
    /// A map's entries: the offset of their data pointer in the map object,
    /// an entry's size and the offset of its value (`abi::map_layout`).
    pub map_entries: (i32, i32, i32),
    /// A map's direct table of small int keys: the offsets of its data
    /// pointer and length (`abi::map_layout`).
    pub map_direct: (i32, i32),
    /// A key object's position hint (`abi::HDR_HINT`), and where it is
    /// checked: the map's entries' length word and an entry's key bits
    /// (`abi::map_layout`).
    pub hdr_hint: i32,
    pub map_hinted: (i32, i32),
}

/// What inline allocation of an object in a cell (an instance, array or
/// tuple) reads and writes: the heap's words (offsets from the heap, which is
/// at `vm_heap` bytes from the context) and the new object's header.
#[derive(Clone, Copy, Debug)]
pub struct AllocOffsets {
    /// Offset of the heap from the context address.
    pub vm_heap: i32,
    /// The hole objects the size of an instance of 0 fields are allocated
    /// from: its cursor, and 8 bytes further its limit; of `n` fields 16
    /// bytes per field further. Such objects live in instance chunks and go
    /// on no list (`runtime/src/heap/cells.rs`).
    pub instance_holes: i32,
    pub cell_classes: usize,
    /// The size of an instance of 0 fields; `n` fields add 8 bytes each (how
    /// far inline allocation bumps a hole's cursor).
    pub instance_head: i32,
    /// The header's mark byte, and the bit of it only an old object that is
    /// not remembered has: the write barrier's test (docs/jit.md, "Write
    /// barrier").
    pub hdr_mark: i32,
    pub mark_old_bit: u8,
    /// The kind byte of a struct and of a class instance.
    pub kind_struct: u8,
    pub kind_class: u8,
    /// An array allocated inline: the kind byte of an array, the cell
    /// class it lives in (instances of that many fields; one more per
    /// element kept in the cell), its element-kind byte, the byte of how many
    /// elements its cell holds, its capacity word, and the data pointer of an
    /// empty array (capacity 0).
    pub kind_array: u8,
    pub array_cell: usize,
    pub arr_elem: i32,
    pub arr_inline: i32,
    pub arr_cap: i32,
    pub empty_array_ptr: u64,
}

impl Offsets {
    /// The offsets for frame records laid out as `frame`, a depth counter at
    /// `depth` bytes from the context, the running VM's structures at `run`, the
    /// heap at `heap` bytes from the context, and the runtime's heap objects.
    pub fn new(frame: FrameLayout, depth: i32, run: RunOffsets, heap: i32) -> Offsets {
        let map = abi::map_layout();
        Offsets {
            run,
            frame_size: frame.size,
            frame_func: frame.func,
            frame_pc: frame.pc,
            frame_base: frame.base,
            vm_depth: depth,
            hdr_kind: abi::HDR_KIND,
            closure_kind: abi::KIND_CLOSURE,
            clo_func: abi::CLOSURE_FUNC,
            arr_items: (abi::ARRAY_PTR, abi::ARRAY_LEN),
            struct_fields: abi::STRUCT_FIELDS,
            struct_len: abi::STRUCT_LEN,
            struct_layout: abi::STRUCT_LAYOUT,
            alloc: AllocOffsets {
                vm_heap: heap,
                instance_holes: abi::HEAP_INSTANCE_HOLES,
                cell_classes: bp_runtime::heap::CELL_CLASSES,
                instance_head: abi::struct_size(0) as i32,
                hdr_mark: abi::HDR_MARK,
                mark_old_bit: abi::MARK_OLD_BIT,
                kind_struct: abi::KIND_STRUCT,
                kind_class: abi::KIND_CLASS,
                kind_array: abi::KIND_ARRAY,
                array_cell: abi::ARRAY_CELL,
                arr_elem: abi::ARRAY_ELEM,
                arr_inline: abi::ARRAY_INLINE,
                arr_cap: abi::ARRAY_CAP,
                empty_array_ptr: abi::EMPTY_ARRAY_PTR,
            },
            tuple_items: (abi::TUPLE_PTR, abi::TUPLE_LEN),
            str_bytes: (abi::STR_PTR, abi::STR_LEN),
            kind_tuple: abi::KIND_TUPLE,
            tuple_head: abi::TUPLE_HEAD,
            tuple_kinds: (abi::TUPLE_KINDS_PTR, abi::TUPLE_KINDS_LEN),
            short_str_size: abi::SHORT_STR_SIZE as i64,
            empty_str_index: abi::EMPTY_STR_INDEX as i64,
            clo_captures: (abi::CLOSURE_CAPTURES_PTR, abi::CLOSURE_CAPTURES_LEN),
            map_entries: map.entries,
            map_direct: map.direct,
            hdr_hint: abi::HDR_HINT,
            map_hinted: map.hinted,
        }
    }
}
