//! The garbage-collected heap: object layouts, allocation and a non-moving,
//! stop-the-world mark-sweep collector.
//!
//! # Design
//! * Every object starts with an [`ObjHeader`] (all-objects list link, kind, mark bit)
//!   and is a `Box` of one `#[repr(C)]` struct below, so a `*mut ObjHeader` can be cast
//!   to the concrete object type after checking `kind`.
//! * Objects never move, so raw pointers held in VM registers, JIT machine registers
//!   or Rust locals stay valid as long as the object is reachable from a root when a
//!   collection runs.
//! * **Collections only happen at safepoints**: allocation never collects. The VM
//!   (and JIT code) calls [`Heap::collect`] between instructions when
//!   [`Heap::wants_gc`] says so, after the allocating instruction has written its
//!   result into a register. Runtime builtins therefore never need to root their
//!   intermediate objects. Code that runs BetterPython code while holding objects in
//!   Rust locals (a builtin calling back into the VM) must push them onto
//!   [`Heap::temp_roots`].
//! * Roots: the VM register stack (per-function reference maps), globals, pinned
//!   constants ([`Heap::pin`]) and `temp_roots`.
//! * GC stress mode (`BP_GC_STRESS=1`): every safepoint after any allocation collects.

use crate::limits::{self, LimitError};
use crate::ordmap::OrderedMap;
use crate::value::{ValKind, Value};
use std::any::Any;
use std::hash::{Hash, Hasher};

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
    next: *mut ObjHeader,
    pub kind: ObjKind,
    /// The collector's mark. Between collections it is false on every object, and
    /// the printing walk (format.rs) borrows it to flag the containers on its
    /// current path ([`set_path_mark`]); the walk clears every flag it set before it
    /// returns, also when unwinding, and no collection can run during a walk.
    marked: bool,
}

/// Whether container `v` is flagged as on the printing walk's path.
#[inline]
pub(crate) fn path_mark(v: Value) -> bool {
    // SAFETY: non-null Ref values always point to a live object (GC invariant).
    unsafe { (*v.as_ptr()).marked }
}

/// Flag (or unflag) container `v` as on the printing walk's path. The caller must
/// clear every flag it sets before the next collection (see [`ObjHeader::marked`]).
#[inline]
pub(crate) fn set_path_mark(v: Value, on: bool) {
    // SAFETY: as in `path_mark`; the heap is used by one thread at a time and no
    // Rust reference to the header is live across this write.
    unsafe { (*v.as_ptr()).marked = on }
}

#[repr(C)]
pub struct StrObj {
    pub hdr: ObjHeader,
    pub bytes: Box<[u8]>,
}

#[repr(C)]
pub struct ArrayObj {
    pub hdr: ObjHeader,
    pub elem: ValKind,
    pub items: Vec<Value>,
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
/// and iteration stays a linear scan. Only the bookkeeping is hand-written; probing,
/// growth and rehashing are hashbrown's. Keys are hashed
/// with [`hash_value`] ([`FxHasher`] with its fmix64 finish).
#[repr(C)]
pub struct MapObj {
    pub hdr: ObjHeader,
    pub key: ValKind,
    pub val: ValKind,
    pub entries: OrderedMap,
}

#[repr(C)]
pub struct TupleObj {
    pub hdr: ObjHeader,
    pub kinds: Box<[ValKind]>,
    pub items: Box<[Value]>,
}

/// A struct or class instance; its layout is `Heap::layouts[layout]`.
#[repr(C)]
pub struct StructObj {
    pub hdr: ObjHeader,
    pub layout: u32,
    pub fields: Box<[Value]>,
}

/// A function value: a function id and its captured values.
#[repr(C)]
pub struct ClosureObj {
    pub hdr: ObjHeader,
    pub func: u32,
    pub kinds: Box<[ValKind]>,
    pub captures: Box<[Value]>,
}

#[repr(C)]
pub struct OpaqueObj {
    pub hdr: ObjHeader,
    pub payload: Box<dyn Any + Send + Sync>,
}

/// Field names and kinds of a struct or class, registered once at program load.
#[derive(Clone, Debug)]
pub struct Layout {
    pub name: String,
    pub fields: Vec<(String, ValKind)>,
    pub is_class: bool,
}

/// A map key: the slot bits plus the map's key kind, hashed and compared by value
/// (strings by content).
#[derive(Clone, Copy, Debug)]
pub struct MapKey {
    pub bits: Value,
    pub kind: ValKind,
}

impl Hash for MapKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(hash_value(self.bits, self.kind));
    }
}

impl PartialEq for MapKey {
    fn eq(&self, other: &MapKey) -> bool {
        values_equal(self.bits, other.bits, self.kind)
    }
}
impl Eq for MapKey {}

/// A small fast hasher (FxHash) for map keys; hash flooding is not a concern for a
/// language runtime without untrusted network input by default.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        // Final avalanche (murmur3 fmix64): without it the low bits, which pick the
        // bucket, depend on few input bytes and string keys collide badly.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// At most this many values of one key are hashed (a key and, for a tuple, the items
/// below it, in a fixed order). Equal keys still hash alike, because the order depends
/// only on the content; a deep key costs bounded work and no native recursion.
const HASH_MAX_VALUES: usize = 64;

/// Hash of a value by content (used for map keys).
pub fn hash_value(v: Value, kind: ValKind) -> u64 {
    let mut h = FxHasher::default();
    // Tuple items still to hash, last item first (an empty `Vec` does not allocate,
    // so scalar and string keys cost no allocation).
    let mut pending: Vec<(Value, ValKind)> = Vec::new();
    hash_one(&mut h, v, kind, &mut pending);
    for _ in 1..HASH_MAX_VALUES {
        let Some((x, k)) = pending.pop() else { break };
        hash_one(&mut h, x, k, &mut pending);
    }
    h.finish()
}

/// Feed one value to `h`; a tuple feeds its length and queues its items.
fn hash_one(h: &mut FxHasher, v: Value, kind: ValKind, pending: &mut Vec<(Value, ValKind)>) {
    match kind {
        ValKind::Int | ValKind::Bool => h.write_u64(v.0),
        ValKind::Float => {
            let f = v.as_float();
            // 0.0 and -0.0 are equal, so they must hash alike.
            h.write_u64(if f == 0.0 { 0 } else { v.0 })
        }
        ValKind::Ref if v.is_null() => h.write_u64(0),
        ValKind::Ref => match obj_kind(v) {
            ObjKind::Str => {
                let b = str_bytes(v);
                h.write_u64(b.len() as u64);
                h.write(b);
            }
            ObjKind::Tuple => {
                let t = as_tuple(v);
                h.write_u64(t.items.len() as u64);
                pending.extend(t.items.iter().copied().zip(t.kinds.iter().copied()).rev());
            }
            _ => h.write_u64(v.0),
        },
    }
}

/// Value equality of LANGUAGE.md §16: scalars by value (IEEE for floats), strings,
/// arrays, tuples, maps and structs deeply, class instances and functions by identity.
///
/// * **Identity first**: a reference equals itself at once, without looking inside
///   (as in Python: `xs == xs` is true even when `xs` holds a NaN, and `head == head`
///   on a long list costs nothing).
/// * **No native recursion**: the walk keeps the container pairs still being compared
///   on an explicit stack ([`EqFrame`]), so a 2,000,000-node list compares without
///   overflowing the native stack. A pair whose last child is being compared is
///   replaced by that child, so a linked list keeps the stack small.
/// * **Cycles**: equality is co-inductive. After the first [`EQ_MEMO_AFTER`] container
///   pairs, some of the pairs that are expanded are remembered ([`EQ_MEMO_EVERY`]),
///   and meeting a remembered pair again counts as equal: its children are already
///   being compared, and every comparison is a conjunction, so a difference anywhere
///   still makes the whole comparison false. This ends the walk on values that contain
///   themselves, and it keeps a structure with shared parts (a DAG) linear in the
///   number of distinct pairs.
pub fn values_equal(a: Value, b: Value, kind: ValKind) -> bool {
    match shallow_eq(a, b, kind) {
        Shallow::Equal => true,
        Shallow::Unequal => false,
        Shallow::Descend(k) => containers_equal(a, b, k),
    }
}

/// The outcome of comparing two values without looking inside containers.
enum Shallow {
    Equal,
    Unequal,
    /// Two distinct containers of this kind: their children decide.
    Descend(ObjKind),
}

impl Shallow {
    fn from_bool(equal: bool) -> Shallow {
        if equal {
            Shallow::Equal
        } else {
            Shallow::Unequal
        }
    }
}

fn shallow_eq(a: Value, b: Value, kind: ValKind) -> Shallow {
    match kind {
        ValKind::Int | ValKind::Bool => Shallow::from_bool(a.0 == b.0),
        ValKind::Float => Shallow::from_bool(a.as_float() == b.as_float()),
        // The identity shortcut; it also makes `null == null` true.
        ValKind::Ref if a == b => Shallow::Equal,
        ValKind::Ref if a.is_null() || b.is_null() => Shallow::Unequal,
        ValKind::Ref => {
            let ka = obj_kind(a);
            if ka != obj_kind(b) {
                return Shallow::Unequal;
            }
            match ka {
                ObjKind::Str => Shallow::from_bool(str_bytes(a) == str_bytes(b)),
                // Compared by identity, and `a != b`.
                ObjKind::Class | ObjKind::Closure | ObjKind::Opaque => Shallow::Unequal,
                ObjKind::Array | ObjKind::Map | ObjKind::Tuple | ObjKind::Struct => Shallow::Descend(ka),
            }
        }
    }
}

/// Container pairs compared before [`values_equal`] starts remembering pairs: small
/// acyclic values never allocate the set.
const EQ_MEMO_AFTER: usize = 64;

/// Past [`EQ_MEMO_AFTER`], one expanded pair in this many is remembered (every pair is
/// looked up first, and one found is not expanded). That is enough to end every walk:
/// a remembered pair is never expanded again, so each pair remembered is a new one,
/// and after at most `EQ_MEMO_EVERY` × (number of distinct pairs) expansions every
/// pair is remembered.
/// A long acyclic list therefore costs a small set, not one entry per node.
const EQ_MEMO_EVERY: usize = 64;

/// A pair of containers of the same kind and shape whose children `next..len` are
/// still to compare (for a map, `len` counts the entry slots of `a`, tombstones
/// included).
struct EqFrame {
    a: Value,
    b: Value,
    kind: ObjKind,
    next: usize,
    len: usize,
}

/// One step of an [`EqFrame`]: the pair of children at a position.
enum Child {
    Pair(Value, Value, ValKind),
    /// A deleted map entry: nothing to compare.
    Skip,
    /// A key of `a` that `b` lacks.
    Missing,
}

impl EqFrame {
    /// The frame for two distinct containers of kind `kind`, or `None` when their
    /// shapes (length, struct type) already differ.
    fn new(a: Value, b: Value, kind: ObjKind) -> Option<EqFrame> {
        let (len, same_shape) = match kind {
            ObjKind::Array => {
                let (x, y) = (as_array(a), as_array(b));
                (x.items.len(), x.items.len() == y.items.len())
            }
            ObjKind::Tuple => {
                let (x, y) = (as_tuple(a), as_tuple(b));
                (x.items.len(), x.items.len() == y.items.len())
            }
            ObjKind::Map => {
                let (x, y) = (as_map(a), as_map(b));
                (x.entries.slot_count(), x.entries.len() == y.entries.len())
            }
            ObjKind::Struct => {
                let (x, y) = (as_struct(a), as_struct(b));
                let same = x.layout == y.layout && x.fields.len() == y.fields.len();
                (x.fields.len(), same)
            }
            _ => (0, a == b),
        };
        same_shape.then_some(EqFrame {
            a,
            b,
            kind,
            next: 0,
            len,
        })
    }

    fn child(&self, i: usize) -> Child {
        let (a, b) = (self.a, self.b);
        match self.kind {
            ObjKind::Array => {
                let x = as_array(a);
                Child::Pair(x.items[i], as_array(b).items[i], x.elem)
            }
            ObjKind::Tuple => {
                let x = as_tuple(a);
                Child::Pair(x.items[i], as_tuple(b).items[i], x.kinds[i])
            }
            ObjKind::Struct => {
                let x = as_struct(a);
                Child::Pair(x.fields[i], as_struct(b).fields[i], field_kind(x.layout, i))
            }
            ObjKind::Map => {
                let x = as_map(a);
                match x.entries.slot(i) {
                    None => Child::Skip,
                    Some((k, v)) => match as_map(b).entries.get(k) {
                        Some(w) => Child::Pair(*v, *w, x.val),
                        None => Child::Missing,
                    },
                }
            }
            _ => Child::Skip,
        }
    }
}

/// The explicit-stack walk behind [`values_equal`] for two distinct containers.
fn containers_equal(a: Value, b: Value, kind: ObjKind) -> bool {
    let Some(mut cur) = EqFrame::new(a, b, kind) else {
        return false;
    };
    // The pairs whose remaining children wait for `cur`'s, innermost last. A pair of
    // flat containers never pushes anything, so it allocates nothing.
    let mut parents: Vec<EqFrame> = Vec::new();
    let mut memo = PairMemo::default();
    loop {
        if cur.next == cur.len {
            match parents.pop() {
                Some(p) => {
                    cur = p;
                    continue;
                }
                None => return true,
            }
        }
        let i = cur.next;
        cur.next += 1;
        let (x, y, k) = match cur.child(i) {
            Child::Pair(x, y, k) => (x, y, k),
            Child::Skip => continue,
            Child::Missing => return false,
        };
        match shallow_eq(x, y, k) {
            Shallow::Equal => {}
            Shallow::Unequal => return false,
            Shallow::Descend(kx) => {
                if memo.already_compared(x, y) {
                    continue;
                }
                let Some(child) = EqFrame::new(x, y, kx) else {
                    return false;
                };
                let parent = std::mem::replace(&mut cur, child);
                // A parent with nothing left to compare is dropped: the child takes
                // its place, so a linked list keeps a short stack.
                if parent.next < parent.len {
                    parents.push(parent);
                }
            }
        }
    }
}

/// The pairs remembered by [`containers_equal`] (see [`EQ_MEMO_EVERY`]).
#[derive(Default)]
struct PairMemo {
    expanded: usize,
    seen: std::collections::HashSet<(u64, u64), std::hash::BuildHasherDefault<FxHasher>>,
}

impl PairMemo {
    /// True when the pair `(a, b)` is remembered (it is being compared already, and
    /// co-induction counts it as equal); otherwise count it as expanded and maybe
    /// remember it.
    fn already_compared(&mut self, a: Value, b: Value) -> bool {
        if self.expanded >= EQ_MEMO_AFTER && self.seen.contains(&(a.0, b.0)) {
            return true;
        }
        // Only pairs really expanded count, so that each pair remembered is new.
        self.expanded += 1;
        if self.expanded > EQ_MEMO_AFTER && self.expanded.is_multiple_of(EQ_MEMO_EVERY) {
            self.seen.insert((a.0, b.0));
        }
        false
    }
}

// ---------------------------------------------------------------------------
// Typed access. These functions rely on the type checker's guarantee that a slot of
// a given static type always holds a live object of the matching kind; they check
// the kind in debug builds.
// ---------------------------------------------------------------------------

#[inline(always)]
pub fn obj_kind(v: Value) -> ObjKind {
    assert!(!v.is_null(), "null reference");
    // SAFETY: non-null Ref values always point to a live object (GC invariant).
    unsafe { (*v.as_ptr()).kind }
}

macro_rules! accessor {
    ($name:ident, $name_mut:ident, $ty:ty, $kind:pat) => {
        #[inline(always)]
        pub fn $name<'a>(v: Value) -> &'a $ty {
            debug_assert!(matches!(obj_kind(v), $kind));
            assert!(!v.is_null(), "null reference");
            // SAFETY: the static type guarantees the object kind; objects never move
            // and are only freed at safepoints, when no Rust reference is live.
            unsafe { &*(v.as_ptr() as *const $ty) }
        }
        #[inline(always)]
        #[allow(clippy::mut_from_ref)]
        pub fn $name_mut<'a>(v: Value) -> &'a mut $ty {
            debug_assert!(matches!(obj_kind(v), $kind));
            assert!(!v.is_null(), "null reference");
            // SAFETY: as above; the interpreter is single-threaded per heap, and
            // callers never hold two references to the same object across this.
            unsafe { &mut *(v.as_ptr() as *mut $ty) }
        }
    };
}

accessor!(as_str, as_str_mut, StrObj, ObjKind::Str);
accessor!(as_array, as_array_mut, ArrayObj, ObjKind::Array);
accessor!(as_map, as_map_mut, MapObj, ObjKind::Map);
accessor!(as_tuple, as_tuple_mut, TupleObj, ObjKind::Tuple);
accessor!(
    as_struct,
    as_struct_mut,
    StructObj,
    ObjKind::Struct | ObjKind::Class
);
accessor!(as_closure, as_closure_mut, ClosureObj, ObjKind::Closure);
accessor!(as_opaque, as_opaque_mut, OpaqueObj, ObjKind::Opaque);

/// The bytes of a string value.
#[inline(always)]
pub fn str_bytes<'a>(v: Value) -> &'a [u8] {
    &as_str(v).bytes
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

fn field_kind(layout: u32, i: usize) -> ValKind {
    with_layout(layout, |l| l.fields.get(i).map(|f| f.1).unwrap_or(ValKind::Int))
}

/// Counters reported by `--gc-stats` and used by tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct GcStats {
    pub collections: u64,
    pub objects_freed: u64,
    pub bytes_allocated: u64,
}

pub struct Heap {
    head: *mut ObjHeader,
    /// Bytes allocated since the last collection.
    since_gc: usize,
    /// Estimated bytes live after the last collection.
    live: usize,
    threshold: usize,
    stress: bool,
    gray: Vec<*mut ObjHeader>,
    pinned: Vec<Value>,
    /// Values held by Rust code across a call back into BetterPython code.
    pub temp_roots: Vec<Value>,
    pub stats: GcStats,
    pub objects: usize,
}

const MIN_THRESHOLD: usize = 4 << 20;

impl Default for Heap {
    fn default() -> Self {
        Heap::new(false)
    }
}

/// Marks reachable objects; the VM calls [`Marker::mark`] for every root slot.
pub struct Marker<'a> {
    gray: &'a mut Vec<*mut ObjHeader>,
}

impl Marker<'_> {
    #[inline]
    pub fn mark(&mut self, v: Value) {
        if v.is_null() {
            return;
        }
        let p = v.as_ptr();
        // SAFETY: root slots of reference kind hold null or a live object.
        unsafe {
            if !(*p).marked {
                (*p).marked = true;
                self.gray.push(p);
            }
        }
    }
    pub fn mark_slots(&mut self, slots: &[Value], kind: ValKind) {
        if kind == ValKind::Ref {
            for v in slots {
                self.mark(*v);
            }
        }
    }
}

impl Heap {
    pub fn new(stress: bool) -> Heap {
        Heap {
            head: std::ptr::null_mut(),
            since_gc: 0,
            live: 0,
            threshold: MIN_THRESHOLD,
            stress,
            gray: Vec::new(),
            pinned: Vec::new(),
            temp_roots: Vec::new(),
            stats: GcStats::default(),
            objects: 0,
        }
    }

    pub fn set_stress(&mut self, on: bool) {
        self.stress = on;
    }

    /// True when the next safepoint should collect.
    #[inline(always)]
    pub fn wants_gc(&self) -> bool {
        self.since_gc > self.threshold || (self.stress && self.since_gc > 0)
    }

    /// Keep `v` alive forever (constants of the program).
    pub fn pin(&mut self, v: Value) {
        self.pinned.push(v);
    }

    fn link<T>(&mut self, obj: Box<T>, extra: usize) -> Value {
        let p = Box::into_raw(obj) as *mut ObjHeader;
        // SAFETY: every object type is #[repr(C)] with the header first.
        unsafe {
            (*p).next = self.head;
        }
        self.head = p;
        let size = std::mem::size_of::<T>() + extra;
        self.since_gc += size;
        self.stats.bytes_allocated += size as u64;
        self.objects += 1;
        Value::obj(p)
    }

    fn header(kind: ObjKind) -> ObjHeader {
        ObjHeader {
            next: std::ptr::null_mut(),
            kind,
            marked: false,
        }
    }

    /// A new string of `bytes`. Buffers built for a result should have exactly
    /// their length as capacity (`limits::str_buf`), so that boxing them does not
    /// reallocate.
    pub fn alloc_str(&mut self, bytes: impl Into<Box<[u8]>>) -> Value {
        let bytes = bytes.into();
        let n = bytes.len();
        self.link(
            Box::new(StrObj {
                hdr: Self::header(ObjKind::Str),
                bytes,
            }),
            n,
        )
    }

    /// A new string holding a copy of `bytes`, allocated fallibly (a copy of a
    /// large string can fail under a memory limit).
    pub fn alloc_str_copy(&mut self, bytes: &[u8]) -> Result<Value, LimitError> {
        Ok(self.alloc_str(limits::str_copy(bytes)?))
    }

    /// A new array holding a copy of `items`, allocated fallibly.
    pub fn alloc_array_copy(&mut self, elem: ValKind, items: &[Value]) -> Result<Value, LimitError> {
        Ok(self.alloc_array(elem, limits::array_copy(items)?))
    }

    pub fn alloc_array(&mut self, elem: ValKind, items: Vec<Value>) -> Value {
        let n = items.capacity() * 8;
        self.link(
            Box::new(ArrayObj {
                hdr: Self::header(ObjKind::Array),
                elem,
                items,
            }),
            n,
        )
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

    pub fn alloc_tuple(&mut self, kinds: Box<[ValKind]>, items: Box<[Value]>) -> Value {
        let n = items.len() * 9;
        self.link(
            Box::new(TupleObj {
                hdr: Self::header(ObjKind::Tuple),
                kinds,
                items,
            }),
            n,
        )
    }

    pub fn alloc_struct(&mut self, layout: u32, is_class: bool, fields: Box<[Value]>) -> Value {
        let n = fields.len() * 8;
        let kind = if is_class { ObjKind::Class } else { ObjKind::Struct };
        self.link(
            Box::new(StructObj {
                hdr: Self::header(kind),
                layout,
                fields,
            }),
            n,
        )
    }

    pub fn alloc_closure(&mut self, func: u32, kinds: Box<[ValKind]>, captures: Box<[Value]>) -> Value {
        let n = captures.len() * 9;
        self.link(
            Box::new(ClosureObj {
                hdr: Self::header(ObjKind::Closure),
                func,
                kinds,
                captures,
            }),
            n,
        )
    }

    pub fn alloc_opaque(&mut self, payload: Box<dyn Any + Send + Sync>) -> Value {
        self.link(
            Box::new(OpaqueObj {
                hdr: Self::header(ObjKind::Opaque),
                payload,
            }),
            64,
        )
    }

    /// Account for memory a container grew by after allocation (array push, map
    /// insert), so that programs building big structures still trigger collections.
    #[inline]
    pub fn note_growth(&mut self, bytes: usize) {
        self.since_gc += bytes;
    }

    /// Mark from the roots given by `roots` (plus pinned and temporary roots), then
    /// free everything unmarked.
    pub fn collect(&mut self, roots: &mut dyn FnMut(&mut Marker)) {
        let mut gray = std::mem::take(&mut self.gray);
        {
            let mut m = Marker { gray: &mut gray };
            for v in self.pinned.iter().chain(self.temp_roots.iter()) {
                m.mark(*v);
            }
            roots(&mut m);
            while let Some(p) = m.gray.pop() {
                // SAFETY: gray objects are live and marked.
                unsafe { trace(p, &mut m) };
            }
        }
        self.gray = gray;
        self.sweep();
        self.stats.collections += 1;
        self.since_gc = 0;
        self.threshold = (self.live * 2).max(MIN_THRESHOLD);
    }

    fn sweep(&mut self) {
        let mut live = 0usize;
        let mut prev: *mut ObjHeader = std::ptr::null_mut();
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: `cur` walks the all-objects list; each node is a live Box until
            // freed here, and is unlinked before being freed.
            unsafe {
                let next = (*cur).next;
                if (*cur).marked {
                    (*cur).marked = false;
                    live += object_size(cur);
                    prev = cur;
                } else {
                    if prev.is_null() {
                        self.head = next;
                    } else {
                        (*prev).next = next;
                    }
                    free_object(cur);
                    self.objects -= 1;
                    self.stats.objects_freed += 1;
                }
                cur = next;
            }
        }
        self.live = live;
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: the heap owns every object in its list; nothing uses them after
            // the heap is dropped.
            unsafe {
                let next = (*cur).next;
                free_object(cur);
                cur = next;
            }
        }
        self.head = std::ptr::null_mut();
    }
}

/// Push the children of `p` that hold references.
///
/// # Safety
/// `p` must point to a live object.
unsafe fn trace(p: *mut ObjHeader, m: &mut Marker) {
    let v = Value::obj(p);
    match (*p).kind {
        ObjKind::Str | ObjKind::Opaque => {}
        ObjKind::Array => {
            let a = as_array(v);
            m.mark_slots(&a.items, a.elem);
        }
        ObjKind::Map => {
            let mo = as_map(v);
            if mo.key == ValKind::Ref || mo.val == ValKind::Ref {
                for (k, val) in mo.entries.iter() {
                    if mo.key == ValKind::Ref {
                        m.mark(k.bits);
                    }
                    if mo.val == ValKind::Ref {
                        m.mark(*val);
                    }
                }
            }
        }
        ObjKind::Tuple => {
            let t = as_tuple(v);
            for (x, k) in t.items.iter().zip(t.kinds.iter()) {
                if *k == ValKind::Ref {
                    m.mark(*x);
                }
            }
        }
        ObjKind::Struct | ObjKind::Class => {
            let s = as_struct(v);
            with_layout(s.layout, |l| {
                for (i, x) in s.fields.iter().enumerate() {
                    if l.fields.get(i).map(|f| f.1) == Some(ValKind::Ref) {
                        m.mark(*x);
                    }
                }
            });
        }
        ObjKind::Closure => {
            let c = as_closure(v);
            for (x, k) in c.captures.iter().zip(c.kinds.iter()) {
                if *k == ValKind::Ref {
                    m.mark(*x);
                }
            }
        }
    }
}

/// # Safety
/// `p` must point to a live object.
unsafe fn object_size(p: *mut ObjHeader) -> usize {
    let v = Value::obj(p);
    match (*p).kind {
        ObjKind::Str => std::mem::size_of::<StrObj>() + as_str(v).bytes.len(),
        ObjKind::Array => std::mem::size_of::<ArrayObj>() + as_array(v).items.capacity() * 8,
        ObjKind::Map => std::mem::size_of::<MapObj>() + as_map(v).entries.capacity() * 32,
        ObjKind::Tuple => std::mem::size_of::<TupleObj>() + as_tuple(v).items.len() * 9,
        ObjKind::Struct | ObjKind::Class => std::mem::size_of::<StructObj>() + as_struct(v).fields.len() * 8,
        ObjKind::Closure => std::mem::size_of::<ClosureObj>() + as_closure(v).captures.len() * 9,
        ObjKind::Opaque => std::mem::size_of::<OpaqueObj>() + 64,
    }
}

/// # Safety
/// `p` must be an unlinked object allocated by [`Heap`], not used afterwards.
unsafe fn free_object(p: *mut ObjHeader) {
    match (*p).kind {
        ObjKind::Str => drop(Box::from_raw(p as *mut StrObj)),
        ObjKind::Array => drop(Box::from_raw(p as *mut ArrayObj)),
        ObjKind::Map => drop(Box::from_raw(p as *mut MapObj)),
        ObjKind::Tuple => drop(Box::from_raw(p as *mut TupleObj)),
        ObjKind::Struct | ObjKind::Class => drop(Box::from_raw(p as *mut StructObj)),
        ObjKind::Closure => drop(Box::from_raw(p as *mut ClosureObj)),
        ObjKind::Opaque => drop(Box::from_raw(p as *mut OpaqueObj)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_objects_are_freed_and_roots_survive() {
        let mut h = Heap::new(false);
        let keep = h.alloc_str(&b"keep"[..]);
        let arr = h.alloc_array(ValKind::Ref, vec![keep]);
        for _ in 0..100 {
            h.alloc_str(&b"garbage"[..]);
        }
        assert_eq!(h.objects, 102);
        h.collect(&mut |m| m.mark(arr));
        assert_eq!(h.objects, 2);
        assert_eq!(str_bytes(as_array(arr).items[0]), b"keep");
        h.collect(&mut |_| {});
        assert_eq!(h.objects, 0);
    }

    #[test]
    fn map_keys_compare_by_content() {
        let mut h = Heap::new(false);
        let m = h.alloc_map(ValKind::Ref, ValKind::Int);
        let k1 = h.alloc_str(&b"a"[..]);
        let k2 = h.alloc_str(&b"a"[..]);
        as_map_mut(m).entries.insert(
            MapKey {
                bits: k1,
                kind: ValKind::Ref,
            },
            Value::int(1),
        );
        as_map_mut(m).entries.insert(
            MapKey {
                bits: k2,
                kind: ValKind::Ref,
            },
            Value::int(2),
        );
        assert_eq!(as_map(m).entries.len(), 1);
        h.collect(&mut |mk| mk.mark(m));
        assert_eq!(h.objects, 2);
    }

    #[test]
    fn gc_traces_live_map_entries_only() {
        let mut h = Heap::new(false);
        let m = h.alloc_map(ValKind::Ref, ValKind::Ref);
        for i in 0..10 {
            let k = h.alloc_str(format!("k{i}").into_bytes());
            let v = h.alloc_str(format!("v{i}").into_bytes());
            as_map_mut(m).entries.insert(
                MapKey {
                    bits: k,
                    kind: ValKind::Ref,
                },
                v,
            );
        }
        // Delete k1, k3, k5 (tombstones in the middle) and k9 (popped at the end).
        for i in [1, 3, 5, 9] {
            let k = h.alloc_str(format!("k{i}").into_bytes());
            let key = MapKey {
                bits: k,
                kind: ValKind::Ref,
            };
            assert!(as_map_mut(m).entries.remove(&key).is_some());
        }
        h.collect(&mut |mk| mk.mark(m));
        // The map plus 6 live keys and 6 live values; deleted entries are not traced.
        assert_eq!(h.objects, 13);
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = as_map(m)
            .entries
            .iter()
            .map(|(k, v)| (str_bytes(k.bits).to_vec(), str_bytes(*v).to_vec()))
            .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = [0, 2, 4, 6, 7, 8]
            .iter()
            .map(|i| (format!("k{i}").into_bytes(), format!("v{i}").into_bytes()))
            .collect();
        assert_eq!(pairs, want);
    }

    #[test]
    fn deep_equality() {
        let mut h = Heap::new(false);
        let a = h.alloc_array(ValKind::Float, vec![Value::float(1.0), Value::float(-0.0)]);
        let b = h.alloc_array(ValKind::Float, vec![Value::float(1.0), Value::float(0.0)]);
        assert!(values_equal(a, b, ValKind::Ref));
        let c = h.alloc_array(ValKind::Float, vec![Value::float(f64::NAN)]);
        let d = h.alloc_array(ValKind::Float, vec![Value::float(f64::NAN)]);
        // Identity first: a container equals itself without looking inside.
        assert!(values_equal(c, c, ValKind::Ref));
        assert!(!values_equal(c, d, ValKind::Ref));
        assert!(!values_equal(
            Value::float(f64::NAN),
            Value::float(f64::NAN),
            ValKind::Float
        ));
    }

    /// Runs `f` on a thread with a small native stack, so that a walk recursing per
    /// node would overflow it.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        let t = std::thread::Builder::new().stack_size(256 << 10).spawn(f);
        t.expect("spawn a test thread").join().expect("the walk finished");
    }

    /// `Node{v: int, next: [Node]}` (layout 0).
    fn node_layout() {
        set_layouts(vec![Layout {
            name: "Node".into(),
            fields: vec![("v".into(), ValKind::Int), ("next".into(), ValKind::Ref)],
            is_class: false,
        }]);
    }

    /// A list of `n` nodes `0, 1, ...`, the last holding `last`.
    fn chain(h: &mut Heap, n: i64, last: i64) -> Value {
        let mut next = h.alloc_array(ValKind::Ref, vec![]);
        for i in (0..n).rev() {
            let v = if i == n - 1 { last } else { i };
            let node = h.alloc_struct(0, false, vec![Value::int(v), next].into());
            next = h.alloc_array(ValKind::Ref, vec![node]);
        }
        as_array(next).items[0]
    }

    #[test]
    fn long_lists_compare_without_native_recursion() {
        on_small_stack(|| {
            node_layout();
            let mut h = Heap::new(false);
            let n = 200_000;
            let (a, b, c) = (chain(&mut h, n, 0), chain(&mut h, n, 0), chain(&mut h, n, -1));
            assert!(values_equal(a, a, ValKind::Ref));
            assert!(values_equal(a, b, ValKind::Ref));
            assert!(!values_equal(a, c, ValKind::Ref));
            let m = h.alloc_map(ValKind::Int, ValKind::Ref);
            let m2 = h.alloc_map(ValKind::Int, ValKind::Ref);
            let key = MapKey {
                bits: Value::int(1),
                kind: ValKind::Int,
            };
            as_map_mut(m).entries.insert(key, a);
            as_map_mut(m2).entries.insert(key, b);
            assert!(values_equal(m, m2, ValKind::Ref));
            as_map_mut(m2).entries.insert(key, c);
            assert!(!values_equal(m, m2, ValKind::Ref));
        });
    }

    #[test]
    fn shared_parts_compare_in_linear_time() {
        // A chain of diamonds: each level's array holds the next level twice, so
        // there are 2^60 paths through 60 levels.
        fn diamonds(h: &mut Heap, levels: usize, leaf: i64) -> Value {
            let mut v = h.alloc_array(ValKind::Int, vec![Value::int(leaf)]);
            for _ in 0..levels {
                v = h.alloc_array(ValKind::Ref, vec![v, v]);
            }
            v
        }
        let mut h = Heap::new(false);
        let (a, b, c) = (
            diamonds(&mut h, 60, 1),
            diamonds(&mut h, 60, 1),
            diamonds(&mut h, 60, 2),
        );
        assert!(values_equal(a, b, ValKind::Ref));
        assert!(!values_equal(a, c, ValKind::Ref));
    }

    #[test]
    fn a_difference_behind_a_cycle_still_counts() {
        // Rings of 200 arrays (longer than the pairs compared before remembering
        // starts), equal except for one int deep inside.
        fn ring(h: &mut Heap, n: usize, mark: i64) -> Value {
            let first = h.alloc_array(ValKind::Ref, vec![]);
            let mut cur = first;
            for i in 0..n {
                let tag = h.alloc_array(ValKind::Int, vec![Value::int(if i == n / 2 { mark } else { 0 })]);
                let next = if i + 1 == n {
                    first
                } else {
                    h.alloc_array(ValKind::Ref, vec![])
                };
                as_array_mut(cur).items.extend([tag, next]);
                cur = next;
            }
            first
        }
        let mut h = Heap::new(false);
        let (a, b, c) = (ring(&mut h, 200, 0), ring(&mut h, 200, 0), ring(&mut h, 200, 1));
        assert!(values_equal(a, b, ValKind::Ref));
        assert!(!values_equal(a, c, ValKind::Ref));
    }

    #[test]
    fn deep_tuple_keys_hash_in_bounded_work() {
        on_small_stack(|| {
            let mut h = Heap::new(false);
            let kinds: Box<[ValKind]> = vec![ValKind::Int, ValKind::Ref].into();
            let nest = |h: &mut Heap, n: i64, last: i64| {
                let mut t = Value::NULL;
                for i in (0..n).rev() {
                    let v = if i == n - 1 { last } else { i };
                    t = h.alloc_tuple(kinds.clone(), vec![Value::int(v), t].into());
                }
                t
            };
            let (a, b, c) = (
                nest(&mut h, 500_000, 0),
                nest(&mut h, 500_000, 0),
                nest(&mut h, 3, 9),
            );
            assert_eq!(hash_value(a, ValKind::Ref), hash_value(b, ValKind::Ref));
            assert!(values_equal(a, b, ValKind::Ref));
            // Keys that differ only past the hashed prefix still differ as keys.
            let d = nest(&mut h, 500_000, 1);
            assert_eq!(hash_value(a, ValKind::Ref), hash_value(d, ValKind::Ref));
            assert!(!values_equal(a, d, ValKind::Ref));
            assert_ne!(hash_value(a, ValKind::Ref), hash_value(c, ValKind::Ref));
        });
    }

    #[test]
    fn cyclic_values_compare_without_overflow() {
        let mut h = Heap::new(false);
        let a = h.alloc_array(ValKind::Ref, vec![]);
        let b = h.alloc_array(ValKind::Ref, vec![]);
        as_array_mut(a).items.push(a);
        as_array_mut(b).items.push(b);
        assert!(values_equal(a, b, ValKind::Ref));
        let c = h.alloc_array(ValKind::Ref, vec![]);
        let one = h.alloc_array(ValKind::Int, vec![Value::int(1)]);
        as_array_mut(c).items.push(c);
        as_array_mut(c).items.push(one);
        assert!(!values_equal(a, c, ValKind::Ref));
    }
}
