//! Equality and hashing by value (LANGUAGE.md §16): map keys, [`values_equal`] and
//! [`hash_value`]. Both walk value graphs with an explicit stack, never native
//! recursion.
//!
//! Both read the objects a value refers to, so they are `unsafe fn` (see
//! docs/architecture.md, "Forged values"); [`MapKey`] is built by an `unsafe`
//! constructor that takes over that contract, so that its safe `Hash` and `Eq` can
//! call them.

use super::access::{as_array, as_map, as_struct, as_tuple, obj_kind, str_bytes};
use super::object::{field_kind, ObjKind, IMMORTAL};
use crate::value::{ValKind, Value};
use std::hash::{Hash, Hasher};

/// A map key: the slot bits plus the map's key kind, hashed and compared by value
/// (strings by content). The fields are private: a key can only be made by
/// [`MapKey::new`], whose contract lets the safe `Hash` and `Eq` read the value.
#[derive(Clone, Copy, Debug)]
pub struct MapKey {
    bits: Value,
    kind: ValKind,
    /// Set by the map on the keys it stores: the key's hash determines it
    /// ([`MapKey::hash_exact`]). In the padding, so a key stays 16 bytes.
    exact: bool,
}

impl MapKey {
    /// The offset of the key's bits in a key.
    pub(crate) const BITS_OFFSET: usize = std::mem::offset_of!(MapKey, bits);

    /// The key `bits`, read as `kind`.
    ///
    /// # Safety
    /// `bits` must be a value of kind `kind`: when that is `Ref`, null or a live
    /// object (not bits forged from an int) that stays alive as long as the key is
    /// hashed or compared; and the key must be compared only with keys of the same
    /// kind. (The keys of one map all have its key kind, and a key stored in a map
    /// is traced by the collector.)
    #[inline(always)]
    pub unsafe fn new(bits: Value, kind: ValKind) -> MapKey {
        MapKey {
            bits,
            kind,
            exact: false,
        }
    }

    /// This key, recorded as one whose hash determines it (or not).
    #[inline(always)]
    pub(crate) fn with_exact(self, exact: bool) -> MapKey {
        MapKey { exact, ..self }
    }

    /// Whether the key was stored as one whose hash determines it.
    #[inline(always)]
    pub(crate) fn is_exact(&self) -> bool {
        self.exact
    }

    /// The key's slot bits.
    #[inline(always)]
    pub fn bits(&self) -> Value {
        self.bits
    }

    /// The key, if it is an int.
    #[inline(always)]
    pub(crate) fn as_int(&self) -> Option<i64> {
        (self.kind == ValKind::Int).then(|| self.bits.as_int())
    }

    /// The key's bits, if keys of its kind with equal bits are equal keys: an
    /// int or bool, or a string (the same object, while it lives). Not a float
    /// (NaN is not equal to itself), nor a tuple (it may hold one).
    #[inline(always)]
    pub(crate) fn identity(&self) -> Option<Value> {
        match self.kind {
            ValKind::Int | ValKind::Bool => Some(self.bits),
            // SAFETY: `MapKey::new`'s contract: a live value of kind `kind`.
            ValKind::Ref if !self.bits.is_null() && unsafe { obj_kind(self.bits) } == ObjKind::Str => {
                Some(self.bits)
            }
            _ => None,
        }
    }

    /// Whether the key is an object a collection may free: a reference, not
    /// null, not immortal (a string constant, a shared short string).
    #[inline(always)]
    pub(crate) fn is_mortal_object(&self) -> bool {
        // SAFETY: `MapKey::new`'s contract: a live object when not null.
        self.kind == ValKind::Ref && !self.bits.is_null() && unsafe { (*self.bits.as_ptr()).mark } != IMMORTAL
    }

    /// The key's index in the table of shared strings, if it is a string of
    /// at most one byte (all of which are shared: [`short_str_index`]).
    ///
    /// [`short_str_index`]: super::short_strs::short_str_index
    #[inline(always)]
    pub(crate) fn short_str_index(&self) -> Option<usize> {
        match self.kind {
            ValKind::Ref => super::short_strs::short_str_index(self.bits),
            _ => None,
        }
    }

    /// The position at which a map last found this key's object, if it is a
    /// string not among the shared short strings (which are in a `static`
    /// and never take a hint): a map whose entry there holds the same object
    /// has found it without a hash ([`ObjHeader::hint`]). `identity`: the
    /// key's [`Self::identity`], which the caller has.
    ///
    /// [`ObjHeader::hint`]: super::object::ObjHeader
    #[inline(always)]
    pub(crate) fn position_hint(&self, identity: Option<Value>) -> Option<usize> {
        let hint = self
            .hint_cell(identity)?
            .load(std::sync::atomic::Ordering::Relaxed);
        Some(hint as usize)
    }

    /// Note that a map found this key's object at `pos` (see
    /// [`Self::position_hint`]).
    #[inline(always)]
    pub(crate) fn set_position_hint(&self, identity: Option<Value>, pos: usize) {
        if let Some(cell) = self.hint_cell(identity) {
            cell.store(pos as u32, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The hint word of the key's object, if the key is a string (a
    /// reference with an `identity`) that can take one.
    #[inline(always)]
    fn hint_cell(&self, identity: Option<Value>) -> Option<&std::sync::atomic::AtomicU32> {
        if self.kind != ValKind::Ref || identity.is_none() || self.short_str_index().is_some() {
            return None;
        }
        let hdr = self.bits.as_ptr();
        // SAFETY: `MapKey::new`'s contract: a live string, and not one of the
        // shared short strings in their `static` (checked above), so its
        // header is writable heap memory; the word is only ever accessed
        // atomically (`ObjHeader::hint`).
        Some(unsafe { std::sync::atomic::AtomicU32::from_ptr(std::ptr::addr_of_mut!((*hdr).hint)) })
    }

    /// Whether keys of this kind are equal exactly when their bits are (an int
    /// or bool): then a key whose bits no stored key has is absent.
    #[inline(always)]
    pub(crate) fn bits_decide(&self) -> bool {
        matches!(self.kind, ValKind::Int | ValKind::Bool)
    }

    /// The hash of the key by content ([`hash_value`]).
    #[inline]
    pub fn content_hash(&self) -> u64 {
        // SAFETY: `MapKey::new`'s contract: a live value of kind `kind`.
        unsafe { hash_value(self.bits, self.kind) }
    }

    /// [`Self::content_hash`], and whether it determines the key among the keys
    /// of its kind: for an int or bool, a string of at most [`SHORT_STR_KEY`]
    /// bytes and a pair of ints of 32 bits each the hash is a bijection of the
    /// content (see [`hash_value`]), so two such keys are equal exactly when their hashes are,
    /// and a map can compare them without reading the stored key's bytes (a cache
    /// miss per lookup on a map larger than the cache).
    #[inline]
    pub fn hash_exact(&self) -> (u64, bool) {
        // SAFETY: `MapKey::new`'s contract: a live value of kind `kind`.
        unsafe { hash_and_exactness(self.bits, self.kind) }
    }
}

/// Strings up to this many bytes hash injectively: their length and bytes packed
/// into one word ([`packed_bytes`]) go through the hasher's bijective steps.
pub const SHORT_STR_KEY: usize = 7;

/// The at most 7 bytes `b` in the low bytes of a word, little-endian: different
/// slices of one length give different words. Both the last word of a string's
/// hash ([`FxHasher::write`]) and a short string's whole key ([`hash_value`]).
///
/// The bytes are read with at most two loads (overlapping from 4 bytes on) rather
/// than copied into a buffer: a word load of bytes just stored one by one stalls
/// on store forwarding.
#[inline(always)]
fn packed_bytes(b: &[u8]) -> u64 {
    let n = b.len();
    debug_assert!(n <= SHORT_STR_KEY);
    if n >= 4 {
        let u32_at = |i: usize| b[i..i + 4].try_into().map_or(0, u32::from_le_bytes) as u64;
        // Bytes 0-3, then bytes 4.. from the load of the last four.
        u32_at(0) | ((u32_at(n - 4) >> (8 * (8 - n))) << 32)
    } else {
        b.iter()
            .enumerate()
            .fold(0, |w, (i, &x)| w | ((x as u64) << (8 * i)))
    }
}

impl Hash for MapKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.content_hash());
    }
}

impl PartialEq for MapKey {
    #[inline]
    fn eq(&self, other: &MapKey) -> bool {
        let (a, b) = (self.bits, other.bits);
        // SAFETY: `MapKey::new`'s contract, for both keys: live values, and both
        // of kind `self.kind`. The fast paths are `values_equal`'s own answers for
        // the usual key kinds, inline.
        unsafe {
            match self.kind {
                ValKind::Int | ValKind::Bool => a.0 == b.0,
                ValKind::Ref if a.0 == b.0 => true,
                ValKind::Ref
                    if !a.is_null()
                        && !b.is_null()
                        && obj_kind(a) == ObjKind::Str
                        && obj_kind(b) == ObjKind::Str =>
                {
                    str_bytes(a) == str_bytes(b)
                }
                kind => values_equal(a, b, kind),
            }
        }
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
    /// Whole 8-byte words, then the 1-7 bytes left as one word ([`packed_bytes`]).
    /// Slices of different lengths can end in the same word, so callers hash the
    /// length too, as [`hash_value`] does.
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.write_u64(w.try_into().map_or(0, u64::from_le_bytes));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            self.write_u64(packed_bytes(rest));
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
///
/// # Safety
/// `v` must be a value of kind `kind`: when that is `Ref`, null or a live object,
/// not bits forged from an int (the objects it reaches are then live too).
#[inline]
pub unsafe fn hash_value(v: Value, kind: ValKind) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { hash_and_exactness(v, kind).0 }
}

/// [`hash_value`], and whether the hash determines the value among those of its
/// kind ([`MapKey::hash_exact`]), found in the same pass over the value.
///
/// An int or bool key is hashed inline (a map operation on one is a few dozen
/// instructions, and the call was a fifth of them); everything else is not.
///
/// # Safety
/// As [`hash_value`].
#[inline(always)]
unsafe fn hash_and_exactness(v: Value, kind: ValKind) -> (u64, bool) {
    match kind {
        ValKind::Int | ValKind::Bool => (hash_word(v.0), true),
        // SAFETY: the caller's contract.
        _ => unsafe { hash_ref_and_exactness(v, kind) },
    }
}

/// The hash of one word (an int, a bool, a short string's bytes and length):
/// multiply by an odd constant, fold the high half into the low half, twice.
/// Each step is a bijection, so different words never share a hash (which makes
/// these keys exact), and the low 32 bits, from which the index takes both the
/// bucket and the tag, depend on every bit of the word. One multiplication and
/// one shift fewer than `FxHasher`'s `write_u64` and fmix64 finish, with the
/// same spread on sequential, strided and short-string keys: a map probe waits
/// for this hash on every lookup.
#[inline(always)]
fn hash_word(w: u64) -> u64 {
    let x = w.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let x = (x ^ (x >> 32)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 32)
}

/// [`hash_and_exactness`] of a value that is not an int or bool.
///
/// # Safety
/// As [`hash_value`].
#[inline(never)]
unsafe fn hash_ref_and_exactness(v: Value, kind: ValKind) -> (u64, bool) {
    let mut h = FxHasher::default();
    // The usual map keys besides ints, strings, without the walk.
    match kind {
        ValKind::Ref if !v.is_null() && obj_kind(v) == ObjKind::Str => {
            let b = str_bytes(v);
            if b.len() <= SHORT_STR_KEY {
                // The length and bytes as one word, hashed as an int is: different
                // short strings never share a hash.
                return (hash_word(packed_bytes(b) | ((b.len() as u64) << 56)), true);
            }
            h.write_u64(b.len() as u64);
            h.write(b);
            (h.finish(), false)
        }
        ValKind::Ref if !v.is_null() && obj_kind(v) == ObjKind::Tuple => match int_pair_word(v) {
            Some(w) => (hash_word(w), true),
            None => (hash_tuple(h, v), false),
        },
        _ => (hash_queued(h, v, kind), false),
    }
}

/// A pair of ints of 32 bits each (a grid's `(row, col)`) as one word: tuple
/// keys of one map all have its key type, and among pairs of ints those of
/// this range are packed injectively, so such a key's hash ([`hash_word`]
/// of the word) determines it, like a short string's.
///
/// # Safety
/// `v` is a live tuple.
#[inline(always)]
unsafe fn int_pair_word(v: Value) -> Option<u64> {
    let t = as_tuple(v);
    match (&t.kinds[..], &t.items[..]) {
        ([ValKind::Int, ValKind::Int], [a, b]) => {
            let (a, b) = (i32::try_from(a.as_int()).ok()?, i32::try_from(b.as_int()).ok()?);
            Some((a as u32 as u64) | ((b as u32 as u64) << 32))
        }
        _ => None,
    }
}

/// [`hash_value`] of the live tuple `v` that is not an exact pair: item by
/// item when none is a tuple ([`hash_flat_tuple`]), else through the bounded
/// walk ([`hash_queued`]).
///
/// # Safety
/// `v` must be a live tuple.
#[inline(never)]
unsafe fn hash_tuple(h: FxHasher, v: Value) -> u64 {
    match hash_flat_tuple(h, v) {
        Some(flat) => flat,
        None => hash_queued(h, v, ValKind::Ref),
    }
}

/// [`hash_value`] through the bounded walk, by its queue of the items still
/// to hash, for any value (a tuple, or a float, null or other object).
///
/// # Safety
/// As [`hash_value`].
#[inline(never)]
unsafe fn hash_queued(mut h: FxHasher, v: Value, kind: ValKind) -> u64 {
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

/// [`hash_queued`] of a tuple none of whose items is a tuple (the usual tuple
/// key, `(row, col)` or `(name, n)`), with the same result, without the walk's
/// queue (whose first push allocated, and a tuple key paid that on every
/// lookup); `None` for a tuple that holds a tuple, which takes the walk.
///
/// # Safety
/// `v` must be a live tuple.
#[inline]
unsafe fn hash_flat_tuple(mut h: FxHasher, v: Value) -> Option<u64> {
    let t = as_tuple(v);
    // The walk hashes the tuple and then at most `HASH_MAX_VALUES - 1` items.
    if t.items.len() >= HASH_MAX_VALUES {
        return None;
    }
    h.write_u64(t.items.len() as u64);
    let mut none = Vec::new();
    for (&x, &k) in t.items.iter().zip(t.kinds.iter()) {
        if k == ValKind::Ref && !x.is_null() && obj_kind(x) == ObjKind::Tuple {
            return None;
        }
        // Never queues: `x` is not a tuple.
        hash_one(&mut h, x, k, &mut none);
    }
    Some(h.finish())
}

/// Feed one value to `h`; a tuple feeds its length and queues its items.
///
/// # Safety
/// As [`hash_value`].
unsafe fn hash_one(h: &mut FxHasher, v: Value, kind: ValKind, pending: &mut Vec<(Value, ValKind)>) {
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
///
/// # Safety
/// `a` and `b` must be values of kind `kind`: when that is `Ref`, each null or a
/// live object, not bits forged from an int (the objects they reach, by the element
/// kinds their containers record, are then live too).
pub unsafe fn values_equal(a: Value, b: Value, kind: ValKind) -> bool {
    match shallow_eq(a, b, kind) {
        Shallow::Equal => true,
        Shallow::Unequal => false,
        Shallow::Descend(ObjKind::Tuple) => {
            flat_tuples_equal(a, b).unwrap_or_else(|| containers_equal(a, b, ObjKind::Tuple))
        }
        Shallow::Descend(k) => containers_equal(a, b, k),
    }
}

/// Whether two distinct tuples are equal, decided item by item without
/// looking inside containers (the usual tuple key holds scalars and strings);
/// `None` when a pair of items needs the walk ([`containers_equal`]).
///
/// # Safety
/// `a` and `b` are live tuples (as [`values_equal`]).
unsafe fn flat_tuples_equal(a: Value, b: Value) -> Option<bool> {
    let (x, y) = (as_tuple(a), as_tuple(b));
    if x.items.len() != y.items.len() {
        return Some(false);
    }
    for ((&p, &q), &k) in x.items.iter().zip(y.items.iter()).zip(x.kinds.iter()) {
        match shallow_eq(p, q, k) {
            Shallow::Equal => {}
            // Equality is a conjunction: one difference decides it.
            Shallow::Unequal => return Some(false),
            Shallow::Descend(_) => return None,
        }
    }
    Some(true)
}

/// Whether two strings (each null or a live string) are equal: the same
/// object, or both non-null with the same bytes ([`values_equal`] on strings,
/// without its dispatch on the kind: `EqStr`).
///
/// # Safety
/// `a` and `b` must each be null or a live string.
#[inline]
pub unsafe fn strs_equal(a: Value, b: Value) -> bool {
    if a == b {
        return true;
    }
    if a.is_null() || b.is_null() {
        return false;
    }
    // SAFETY: the caller's contract: two live strings.
    unsafe { str_bytes(a) == str_bytes(b) }
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

/// # Safety
/// As [`values_equal`].
unsafe fn shallow_eq(a: Value, b: Value, kind: ValKind) -> Shallow {
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
    ///
    /// # Safety
    /// `a` and `b` are live objects of kind `kind` (as [`values_equal`]).
    unsafe fn new(a: Value, b: Value, kind: ObjKind) -> Option<EqFrame> {
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

    /// # Safety
    /// The frame's containers are still live (they are while the walk runs: it
    /// allocates no objects and never reaches a safepoint), and `i < self.len`.
    unsafe fn child(&self, i: usize) -> Child {
        let (a, b) = (self.a, self.b);
        match self.kind {
            ObjKind::Array => {
                let (x, y) = (as_array(a), as_array(b));
                // In range of both: the frame's `len`, equal for both.
                Child::Pair(x.get_unchecked(i), y.get_unchecked(i), x.elem)
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
///
/// # Safety
/// As [`values_equal`], for two live objects of kind `kind`. Every child read rests
/// on the same contract: a container's children are read as the element kinds it
/// records, which is how they were written.
unsafe fn containers_equal(a: Value, b: Value, kind: ObjKind) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{as_array_mut, as_map_mut, set_layouts, Heap, Layout};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read.

    #[test]
    fn string_hash_depends_on_content_only() {
        let mut h = Heap::new(false);
        let long = vec![b'k'; crate::heap::STR_ADOPT_MIN + 9];
        // The same bytes inline and adopted hash and compare alike.
        let (a, b) = (h.alloc_str(&long[..]), h.alloc_str(long.clone()));
        let key = |v| unsafe { MapKey::new(v, ValKind::Ref) };
        assert_eq!(key(a).content_hash(), key(b).content_hash());
        assert!(key(a) == key(b));
        // Every short length and a change in any byte give a different hash.
        let mut seen = std::collections::HashSet::new();
        for n in 0..=17usize {
            let base: Vec<u8> = (0..n as u8).map(|i| b'a' + i).collect();
            assert!(
                seen.insert(key(h.alloc_str(&base[..])).content_hash()),
                "length {n}"
            );
            for i in 0..n {
                let mut changed = base.clone();
                changed[i] ^= 0x20;
                let v = h.alloc_str(&changed[..]);
                assert!(seen.insert(key(v).content_hash()), "length {n}, byte {i}");
                assert!(key(v) != key(h.alloc_str(&base[..])));
            }
        }
    }

    #[test]
    fn short_string_and_int_hashes_determine_the_key() {
        let mut h = Heap::new(false);
        let key = |v| unsafe { MapKey::new(v, ValKind::Ref) };
        // Every string of up to 2 bytes over a small alphabet, and the empty one:
        // exact, and no two share a hash.
        let alphabet = [b'a', b'b', 0, 0xff];
        let mut seen = std::collections::HashMap::new();
        let mut strings: Vec<Vec<u8>> = vec![vec![]];
        for &x in &alphabet {
            strings.push(vec![x]);
            for &y in &alphabet {
                strings.push(vec![x, y]);
            }
        }
        strings.push(b"1234567".to_vec());
        strings.push(b"123456\0".to_vec());
        for s in &strings {
            let (hash, exact) = key(h.alloc_str(&s[..])).hash_exact();
            assert!(exact, "{s:?}");
            assert_eq!(seen.insert(hash, s.clone()), None, "{s:?}");
        }
        // Longer strings are compared by content.
        assert!(!key(h.alloc_str(&b"12345678"[..])).hash_exact().1);
        let int = |i| unsafe { MapKey::new(Value::int(i), ValKind::Int) };
        assert!(int(-1).hash_exact().1);
        assert_ne!(int(1).hash_exact().0, int(2).hash_exact().0);
        let float = unsafe { MapKey::new(Value::float(1.0), ValKind::Float) };
        assert!(!float.hash_exact().1);
        // Pairs of 32-bit ints are exact, and no two share a hash; a pair out
        // of that range, or of other kinds, is compared by content.
        let pair_kinds: Box<[ValKind]> = vec![ValKind::Int, ValKind::Int].into();
        let mut pair = |a: i64, b: i64| key(h.alloc_tuple(&pair_kinds, &[Value::int(a), Value::int(b)]));
        let mut pairs = std::collections::HashMap::new();
        for (a, b) in [
            (0, 0),
            (0, 1),
            (1, 0),
            (-1, 0),
            (0, -1),
            (i32::MIN as i64, i32::MAX as i64),
            (7, 7),
        ] {
            let (hash, exact) = pair(a, b).hash_exact();
            assert!(exact, "({a}, {b})");
            assert_eq!(pairs.insert(hash, (a, b)), None, "({a}, {b})");
        }
        assert_eq!(pair(3, -4).hash_exact(), pair(3, -4).hash_exact());
        assert!(!pair(1 << 32, 0).hash_exact().1);
        assert!(!pair(0, i32::MIN as i64 - 1).hash_exact().1);
        let int_bool: Box<[ValKind]> = vec![ValKind::Int, ValKind::Bool].into();
        let t = h.alloc_tuple(&int_bool, &[Value::int(1), Value::bool(true)]);
        assert!(!key(t).hash_exact().1);
    }

    /// The low 32 bits of an exact key's hash (the index's bucket and tag)
    /// spread sequential, strided and short-string keys at least as well as a
    /// random function would: 200,000 keys fill no fewer of 2^18 buckets than
    /// 98 % of the expected count (more is fine: an even spread).
    #[test]
    fn word_hashes_spread_patterned_keys() {
        let buckets = 1usize << 18;
        let n = 200_000usize;
        let expected = buckets as f64 * (1.0 - (1.0 - 1.0 / buckets as f64).powi(n as i32));
        let short_str = |i: usize| {
            let s = format!("k{i}");
            let b = s.as_bytes();
            packed_bytes(b) | ((b.len() as u64) << 56)
        };
        let patterns: [(&str, &dyn Fn(usize) -> u64); 7] = [
            ("sequential", &|i| i as u64),
            ("negative", &|i| (i as u64).wrapping_neg()),
            ("stride 1024", &|i| (i as u64) << 10),
            ("stride 2^32", &|i| (i as u64) << 32),
            ("stride 2^40", &|i| (i as u64) << 40),
            ("short strings", &short_str),
            ("grid pairs", &|i| ((i / 450) as u64) << 32 | (i % 450) as u64),
        ];
        for (name, key) in patterns {
            let mut used = vec![false; buckets];
            for i in 0..n {
                used[hash_word(key(i)) as u32 as usize % buckets] = true;
            }
            let filled = used.iter().filter(|&&u| u).count() as f64;
            assert!(
                filled > 0.98 * expected,
                "{name}: {filled} buckets filled, {expected:.0} expected"
            );
        }
    }

    #[test]
    fn map_keys_compare_by_content() {
        let mut h = Heap::new(false);
        let m = h.alloc_map(ValKind::Ref, ValKind::Int);
        let k1 = h.alloc_str(&b"ab"[..]);
        let k2 = h.alloc_str(&b"ab"[..]);
        // SAFETY: `m` is a live map of this test's heap.
        unsafe { as_map_mut(m) }
            .entries
            .insert(unsafe { MapKey::new(k1, ValKind::Ref) }, Value::int(1));
        // SAFETY: `m` is a live map of this test's heap.
        unsafe { as_map_mut(m) }
            .entries
            .insert(unsafe { MapKey::new(k2, ValKind::Ref) }, Value::int(2));
        assert_eq!(unsafe { as_map(m) }.entries.len(), 1);
        // SAFETY: `m` is a live map of `h`.
        h.collect(&mut |mk| unsafe { mk.mark(m) });
        assert_eq!(h.objects(), 2);
    }

    #[test]
    fn deep_equality() {
        let mut h = Heap::new(false);
        let a = h.alloc_array(ValKind::Float, vec![Value::float(1.0), Value::float(-0.0)]);
        let b = h.alloc_array(ValKind::Float, vec![Value::float(1.0), Value::float(0.0)]);
        assert!(unsafe { values_equal(a, b, ValKind::Ref) });
        let c = h.alloc_array(ValKind::Float, vec![Value::float(f64::NAN)]);
        let d = h.alloc_array(ValKind::Float, vec![Value::float(f64::NAN)]);
        // Identity first: a container equals itself without looking inside.
        assert!(unsafe { values_equal(c, c, ValKind::Ref) });
        assert!(!unsafe { values_equal(c, d, ValKind::Ref) });
        assert!(!unsafe { values_equal(Value::float(f64::NAN), Value::float(f64::NAN), ValKind::Float) });
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
            let node = h.alloc_struct(0, false, vec![Value::int(v), next]);
            next = h.alloc_array(ValKind::Ref, vec![node]);
        }
        unsafe { as_array(next) }.to_vec()[0]
    }

    #[test]
    fn long_lists_compare_without_native_recursion() {
        on_small_stack(|| {
            node_layout();
            let mut h = Heap::new(false);
            let n = 200_000;
            let (a, b, c) = (chain(&mut h, n, 0), chain(&mut h, n, 0), chain(&mut h, n, -1));
            assert!(unsafe { values_equal(a, a, ValKind::Ref) });
            assert!(unsafe { values_equal(a, b, ValKind::Ref) });
            assert!(!unsafe { values_equal(a, c, ValKind::Ref) });
            let m = h.alloc_map(ValKind::Int, ValKind::Ref);
            let m2 = h.alloc_map(ValKind::Int, ValKind::Ref);
            let key = unsafe { MapKey::new(Value::int(1), ValKind::Int) };
            // SAFETY: `m` is a live map of this test's heap.
            unsafe { as_map_mut(m) }.entries.insert(key, a);
            // SAFETY: `m2` is a live map of this test's heap.
            unsafe { as_map_mut(m2) }.entries.insert(key, b);
            assert!(unsafe { values_equal(m, m2, ValKind::Ref) });
            // SAFETY: `m2` is a live map of this test's heap.
            unsafe { as_map_mut(m2) }.entries.insert(key, c);
            assert!(!unsafe { values_equal(m, m2, ValKind::Ref) });
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
        assert!(unsafe { values_equal(a, b, ValKind::Ref) });
        assert!(!unsafe { values_equal(a, c, ValKind::Ref) });
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
                // SAFETY: `cur` is a live array of this test's heap.
                unsafe { as_array_mut(cur) }.extend([tag, next]);
                cur = next;
            }
            first
        }
        let mut h = Heap::new(false);
        let (a, b, c) = (ring(&mut h, 200, 0), ring(&mut h, 200, 0), ring(&mut h, 200, 1));
        assert!(unsafe { values_equal(a, b, ValKind::Ref) });
        assert!(!unsafe { values_equal(a, c, ValKind::Ref) });
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
                    t = h.alloc_tuple(&kinds, &[Value::int(v), t]);
                }
                t
            };
            let (a, b, c) = (
                nest(&mut h, 500_000, 0),
                nest(&mut h, 500_000, 0),
                nest(&mut h, 3, 9),
            );
            assert_eq!(unsafe { hash_value(a, ValKind::Ref) }, unsafe {
                hash_value(b, ValKind::Ref)
            });
            assert!(unsafe { values_equal(a, b, ValKind::Ref) });
            // Keys that differ only past the hashed prefix still differ as keys.
            let d = nest(&mut h, 500_000, 1);
            assert_eq!(unsafe { hash_value(a, ValKind::Ref) }, unsafe {
                hash_value(d, ValKind::Ref)
            });
            assert!(!unsafe { values_equal(a, d, ValKind::Ref) });
            assert_ne!(unsafe { hash_value(a, ValKind::Ref) }, unsafe {
                hash_value(c, ValKind::Ref)
            });
        });
    }

    /// A tuple key of scalars and strings hashes as the queued walk hashes it,
    /// and compares item by item as the walk would; one that holds a tuple
    /// takes the walk.
    #[test]
    fn flat_tuples_hash_and_compare_as_the_walk() {
        let mut h = Heap::new(false);
        let kinds: Box<[ValKind]> = vec![
            ValKind::Int,
            ValKind::Float,
            ValKind::Bool,
            ValKind::Ref,
            ValKind::Ref,
        ]
        .into();
        let long = vec![b'x'; 40];
        let tuple = |h: &mut Heap, i: i64, f: f64, s: &[u8]| {
            let s = h.alloc_str(s);
            h.alloc_tuple(
                &kinds,
                &[
                    Value::int(i),
                    Value::float(f),
                    Value::bool(i % 2 == 0),
                    s,
                    Value::NULL,
                ],
            )
        };
        let a = tuple(&mut h, 7, 0.0, b"ab");
        let same = tuple(&mut h, 7, -0.0, b"ab");
        let long_a = tuple(&mut h, 7, 1.5, &long);
        let long_b = tuple(&mut h, 7, 1.5, &long);
        let other = tuple(&mut h, 8, 0.0, b"ab");
        let nan = tuple(&mut h, 7, f64::NAN, b"ab");
        for t in [a, same, long_a, other, nan] {
            // SAFETY: live tuples of this test's heap.
            let (flat, queued) = unsafe {
                (
                    hash_flat_tuple(FxHasher::default(), t),
                    hash_queued(FxHasher::default(), t, ValKind::Ref),
                )
            };
            assert_eq!(flat, Some(queued));
        }
        // SAFETY: live tuples of this test's heap.
        unsafe {
            assert!(values_equal(a, same, ValKind::Ref));
            assert!(values_equal(long_a, long_b, ValKind::Ref));
            assert!(!values_equal(a, other, ValKind::Ref));
            assert!(!values_equal(nan, nan_twin(&mut h, nan), ValKind::Ref));
            assert!(values_equal(nan, nan, ValKind::Ref), "a value equals itself");
        }
        // A tuple holding a tuple: the walk hashes and compares it.
        let nested_kinds: Box<[ValKind]> = vec![ValKind::Int, ValKind::Ref].into();
        let x = h.alloc_tuple(&nested_kinds, &[Value::int(1), a]);
        let y = h.alloc_tuple(&nested_kinds, &[Value::int(1), same]);
        let z = h.alloc_tuple(&nested_kinds, &[Value::int(1), other]);
        // SAFETY: live tuples of this test's heap.
        unsafe {
            assert_eq!(hash_flat_tuple(FxHasher::default(), x), None);
            assert_eq!(flat_tuples_equal(x, y), None);
            assert_eq!(hash_value(x, ValKind::Ref), hash_value(y, ValKind::Ref));
            assert!(values_equal(x, y, ValKind::Ref));
            assert!(!values_equal(x, z, ValKind::Ref));
        }
    }

    /// A copy of the tuple `t` of [`flat_tuples_hash_and_compare_as_the_walk`].
    fn nan_twin(h: &mut Heap, t: Value) -> Value {
        // SAFETY: `t` is a live tuple of this test's heap.
        let (kinds, items): (Vec<ValKind>, Vec<Value>) = unsafe {
            let t = as_tuple(t);
            (t.kinds.to_vec(), t.items.to_vec())
        };
        h.alloc_tuple(&kinds, &items)
    }

    #[test]
    fn cyclic_values_compare_without_overflow() {
        let mut h = Heap::new(false);
        let a = h.alloc_array(ValKind::Ref, vec![]);
        let b = h.alloc_array(ValKind::Ref, vec![]);
        // SAFETY: `a` is a live array of this test's heap.
        unsafe { as_array_mut(a) }.push(a);
        // SAFETY: `b` is a live array of this test's heap.
        unsafe { as_array_mut(b) }.push(b);
        assert!(unsafe { values_equal(a, b, ValKind::Ref) });
        let c = h.alloc_array(ValKind::Ref, vec![]);
        let one = h.alloc_array(ValKind::Int, vec![Value::int(1)]);
        // SAFETY: `c` is a live array of this test's heap.
        unsafe { as_array_mut(c) }.push(c);
        // SAFETY: `c` is a live array of this test's heap.
        unsafe { as_array_mut(c) }.push(one);
        assert!(!unsafe { values_equal(a, c, ValKind::Ref) });
    }
}
