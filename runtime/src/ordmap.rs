//! [`OrderedMap`]: the insertion-ordered hash map behind `{K: V}` ([`MapObj`]).
//!
//! [`MapObj`]: crate::heap::MapObj

use crate::heap::{gc_epoch, MapKey};
use crate::limits::LimitError;
use crate::value::Value;
use hashbrown::HashTable;
use std::cell::Cell;

/// One live entry. The hash is cached so that growing the index and compacting never
/// rehash keys (a string key's hash reads all of its bytes).
#[derive(Clone, Copy, Debug)]
struct Bucket {
    hash: u64,
    key: MapKey,
    value: Value,
}

// A map stays 112 bytes (its `MapObj`, 136, in mimalloc's 160-byte bin), and
// an entry 32: the key's `exact` flag lives in its padding.
const _: () = assert!(std::mem::size_of::<OrderedMap>() == 112);
const _: () = assert!(std::mem::size_of::<Option<Bucket>>() == 32);

/// An insertion-ordered hash map from [`MapKey`] to [`Value`] with O(1) removal.
///
/// * `entries` holds the entries in insertion order; a deleted entry leaves a tombstone
///   (`None`) so that nothing after it moves.
/// * `index` maps a key (through its hash) to its position in `entries`. It only ever
///   holds positions of live entries (those the direct table does not cover), each with 32 bits of the key's hash ([`Slot`]),
///   so that growing the index never reads the entries (on a large map every such
///   read is a cache miss: 7 % of an int-keyed insert loop).
/// * When tombstones make up more than half of `entries`, the vector is compacted in
///   order and `index` is rebuilt from the cached hashes. The O(n) compaction happens at
///   most once per n/2 deletions, so deletion is O(1) amortised. Deleting the last entry
///   pops it (and any tombstones before it) instead of leaving a tombstone.
///
/// * A map of at most [`SMALL_MAP`] entry positions has no index: a lookup scans
///   the entries, comparing the key's bits first (an int, or the very string object
///   the map holds) and then the cached hashes. Most maps are small (records,
///   objects read from JSON, dispatch tables), and building and growing an index
///   for a handful of keys was a quarter of the time of a program that makes
///   them (docs/benchmarks.md, "Small maps without an index, and objects read
///   apart").
///
/// * `direct` maps the small non-negative int keys straight to their positions, so
///   that looking one up is an array access instead of a hash and a probe (Lua's
///   "array part", with the entries' order kept). It covers `0..direct.len()` and is
///   exact there; `index` does not hold those keys, so that inserting, finding and
///   removing one never hashes it (a set of 120 k ints of 0..200 k: 37 -> 22 ms).
///
/// * A string key's object notes the position at which a map last found it
///   ([`MapKey::position_hint`], in its header's padding): a lookup with the
///   key objects a map holds (names from a list, the constant names of a
///   dispatch table) reads the entry there, and if it holds that very object
///   has found it with no hash and no probe (nested tables of 100 x 50 string
///   keys: 26.2 -> 21.3 ms; a table of 500 objects by name: 12.4 -> 9.5). The
///   entry's check makes a stale position (another map, entries moved) cost
///   one compare.
///
/// Insertion appends; overwriting an existing key keeps its position; deleting a key and
/// inserting it again puts it at the end. Iteration skips tombstones, so it visits the
/// live entries in insertion order.
#[derive(Default)]
pub struct OrderedMap {
    entries: Vec<Option<Bucket>>,
    index: HashTable<Slot>,
    /// For each int key `k` in `0..direct.len()`: its entry's position plus one, 0
    /// if it is absent. Grown (to a power of two) when an int key just past it is
    /// inserted and the map has at least a quarter as many entries as the grown
    /// table would have slots, so it costs at most 16 bytes per entry, about what
    /// the index would for the keys it covers; emptied when the map compacts to
    /// below a quarter of that ([`Self::rebuild_direct`]).
    /// A map of string keys has one slot per string of at most one byte
    /// instead (by its index among the shared strings: `str_char_at` and
    /// `chr` give those), made when it holds [`SHORT_KEYS_FOR_TABLE`] such
    /// keys: counting characters into a map then needs no hash.
    direct: Vec<u32>,
    /// Number of `None` slots in `entries` (a `u32`, as positions are: see
    /// [`Slot`]; so that `mortal_keys` fits beside it).
    tombstones: u32,
    /// The position of the entry the last lookup or insertion found, plus one
    /// (0: none). `if map_has_key(m, k): m[k] = m[k] + 1` looks the same key up
    /// three times; the second and third compare it with this entry (which is
    /// in cache) instead of probing the index of a large map again.
    last: Cell<u32>,
    /// The bits of the key that found or inserted the entry at `last`, when equal
    /// bits mean an equal key ([`MapKey::identity`]), else `None`. The second and
    /// third operation of `if map_has_key(m, k): m[k] = m[k] + 1` on a fresh string
    /// `k` then cost a comparison instead of hashing `k` again. A string's bits
    /// name it only while it lives, and `k` may be a young string a minor
    /// collection frees without ever looking at this (old) map: the bits count
    /// only in the collection epoch they were taken in (`key_epoch`).
    last_key: Cell<Option<Value>>,
    /// The collection epoch (`heap::gc_epoch`) in which `last_key` was set.
    key_epoch: Cell<u32>,
    /// Some key ever put in is an object a collection may free (not an
    /// immortal one: a string constant, a shared short string). The
    /// collector traces the keys of a map only then: a record built with
    /// constant names has nothing in its keys to mark.
    mortal_keys: bool,
}

/// The slot of the direct table an int key `k >= 0` would have: `k`; that of a
/// string of at most one byte: its index among the shared strings, its byte
/// (a negative key, a longer string or any other kind of key has none).
#[inline(always)]
fn direct_index(key: &MapKey) -> Option<usize> {
    match key.as_int() {
        Some(k) => usize::try_from(k).ok(),
        None => key.short_str_index(),
    }
}

/// The direct table of a map of one-byte string keys: a slot per shared
/// string (1 KiB).
const SHORT_STR_SLOTS: usize = crate::heap::abi::EMPTY_STR_INDEX + 1;

/// A map gets a direct table for its one-byte string keys when it holds at
/// least this many (so the table costs at most 64 bytes per such key),
/// checked when its length reaches a power of two.
const SHORT_KEYS_FOR_TABLE: usize = 16;

/// The most entry positions (tombstones included) of a map without an index.
/// Scanning them costs a comparison of a word per entry, 32 bytes apart: up to
/// eight, about what probing the index costs.
pub const SMALL_MAP: usize = 8;

/// The most slots of the direct table per entry of the map: Lua's array part
/// is at least half full; a slot here is 4 bytes against the 9 to 18 an
/// index slot with its control byte takes, so a quarter full costs no more.
const DIRECT_SLOTS_PER_ENTRY: usize = 4;

/// The direct table's smallest size, and its largest (16 MiB).
const MIN_DIRECT: usize = 16;
const MAX_DIRECT: usize = 1 << 22;

/// An entry of the index: the position of a live entry and the low 32 bits of its
/// key's hash, 8 bytes as a bare position would take. Positions fit: a map holds at
/// most `limits::MAX_MAP_LEN` (2^28) live entries and at most as many tombstones.
#[derive(Clone, Copy, Debug)]
struct Slot {
    pos: u32,
    hash: u32,
}

impl Slot {
    fn new(pos: usize, hash: u64) -> Slot {
        debug_assert!(pos <= u32::MAX as usize);
        Slot {
            pos: pos as u32,
            hash: hash as u32,
        }
    }

    #[inline]
    fn pos(self) -> usize {
        self.pos as usize
    }

    /// The hash the index files this slot under, rebuilt from its 32 bits.
    #[inline]
    fn table_hash(self) -> u64 {
        table_hash(self.hash as u64)
    }
}

/// The hash the index uses for a key of content hash `hash`: its low 32 bits in both
/// halves. hashbrown picks the bucket from the low bits and the 7-bit tag from the top
/// ones, so both come from the 32 bits a [`Slot`] keeps (independently up to 2^25
/// buckets), and the index can grow without reading the entries.
#[inline]
fn table_hash(hash: u64) -> u64 {
    let low = hash & 0xffff_ffff;
    (low << 32) | low
}

/// Whether `slot` is of the live entry that holds `key` (of content hash `hash`,
/// `exact` if that determines it: [`MapKey::hash_exact`]). The slot's hash bits are
/// compared first, without reading the entry ([`holds`] then).
#[inline(always)]
fn key_at_is(entries: &[Option<Bucket>], slot: Slot, hash: u64, exact: bool, key: &MapKey) -> bool {
    slot.hash == hash as u32 && matches!(&entries[slot.pos()], Some(b) if holds(b, hash, exact, key))
}

/// Whether entry `b` holds `key` (of `hash`, `exact` as for [`key_at_is`]):
/// its cached hash first; two keys whose hashes determine them are compared
/// by hash alone, without reading the stored key's object.
#[inline(always)]
fn holds(b: &Bucket, hash: u64, exact: bool, key: &MapKey) -> bool {
    b.hash == hash && ((exact && b.key.is_exact()) || b.key == *key)
}

impl OrderedMap {
    pub fn new() -> OrderedMap {
        OrderedMap::default()
    }

    /// Whether some key may be an object a collection frees (see
    /// `mortal_keys`): if not, the collector need not visit the keys.
    #[inline]
    pub fn has_mortal_keys(&self) -> bool {
        self.mortal_keys
    }

    /// Number of live entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len() - self.tombstones as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry slots allocated (live, tombstones and spare), for GC accounting.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Make room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
        let index_room = self.index_room_for(additional);
        self.index.reserve(index_room, |s| s.table_hash());
    }

    /// Whether the map scans its entries instead of probing an index.
    #[inline(always)]
    fn is_small(&self) -> bool {
        self.entries.len() <= SMALL_MAP
    }

    /// The room the index must have beyond its slots for `additional` more
    /// entries: none while they leave the map small, all the live ones when
    /// they make it large (an index is built from them), else `additional`.
    fn index_room_for(&self, additional: usize) -> usize {
        if self.entries.len().saturating_add(additional) <= SMALL_MAP {
            0
        } else if self.is_small() {
            self.len().saturating_add(additional)
        } else {
            additional
        }
    }

    /// Make room for `additional` more entries, or `OutOfMemory` if the allocator
    /// refuses (instead of aborting). Cheap when there is room already.
    #[inline]
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), LimitError> {
        crate::rt::fallibly(|| {
            self.entries.try_reserve(additional).ok()?;
            let index_room = self.index_room_for(additional);
            self.index.try_reserve(index_room, |s| s.table_hash()).ok()
        })
        .ok_or(LimitError::OutOfMemory)
    }

    /// (Not inlined: its callers are the map builtins and compiled code's leaf
    /// calls, each of which it would double in size for no fewer instructions.)
    #[inline(never)]
    fn find(&self, key: &MapKey) -> Option<usize> {
        if let Some(hit) = self.direct_hit(key) {
            return hit;
        }
        match self.last_found_indirect(key) {
            Ok(i) => Some(i),
            Err(_) if self.is_small() => None,
            Err((hash, exact)) => self.probe(hash, exact, key),
        }
    }

    /// The position of `key` in a small map (its every entry scanned), or the
    /// key's hash and exactness ([`MapKey::hash_exact`]) if it is absent. The
    /// key's bits are compared first: an int or bool is equal exactly when they
    /// are, and a string the map holds is usually looked up with that very object
    /// (a string constant, or a key read from the map), which then costs no hash.
    #[inline(always)]
    fn scan(&self, key: &MapKey) -> Result<usize, (u64, bool)> {
        if let Some(id) = key.identity() {
            let same = |e: &Option<Bucket>| matches!(e, Some(b) if b.key.bits() == id);
            if let Some(i) = self.entries.iter().position(same) {
                // (For compiled code, which checks a string key's hint
                // inline before it calls the runtime.)
                key.set_position_hint(Some(id), i);
                return Ok(i);
            }
            if key.bits_decide() {
                return Err(key.hash_exact());
            }
        }
        let (hash, exact) = key.hash_exact();
        let equal = |e: &Option<Bucket>| matches!(e, Some(b) if holds(b, hash, exact, key));
        self.entries.iter().position(equal).ok_or((hash, exact))
    }

    /// The position of the entry the last lookup or insertion found, if it
    /// holds `key`: by the key's bits when they determine it
    /// ([`Self::last_by_identity`]), else by its hash ([`Self::last_is`]).
    /// `Err`: the key's hash and exactness ([`MapKey::hash_exact`]), for the probe.
    #[inline(always)]
    fn last_found(&self, key: &MapKey) -> Result<usize, (u64, bool)> {
        if let Some(hit) = self.direct_hit(key) {
            return hit.ok_or_else(|| key.hash_exact());
        }
        self.last_found_indirect(key)
    }

    /// [`Self::last_found`] of a key the direct table does not cover.
    #[inline(always)]
    fn last_found_indirect(&self, key: &MapKey) -> Result<usize, (u64, bool)> {
        if self.is_small() {
            return self.scan(key);
        }
        if let Some(i) = self.last_by_identity(key) {
            return Ok(i);
        }
        if let Some(id) = key.identity() {
            if let Some(i) = self.next_by_identity(id, key) {
                return Ok(i);
            }
            if let Some(i) = self.hinted(id, key) {
                return Ok(i);
            }
        }
        let (hash, exact) = key.hash_exact();
        self.last_is(hash, exact, key)
            .or_else(|| self.next_is(hash, exact, key))
            .ok_or((hash, exact))
    }

    /// The position after that of the last entry found, if it holds `key` (of
    /// `hash`, `exact`): reading `m[k]` for every `k` of `for k in m` (or of
    /// `map_keys(m)`) meets the entries in order, each the one after the last,
    /// and is then a comparison with an entry next to one in cache instead of a
    /// probe of the index (20 passes over 100 k keys: 46 -> 33 ms, LuaJIT 30).
    #[inline(always)]
    fn next_is(&self, hash: u64, exact: bool, key: &MapKey) -> Option<usize> {
        match self.last.get() {
            0 => None,
            last => self.entry_is(last as usize, hash, exact, key),
        }
    }

    /// Position `i`, if the entry there holds `key` (of `hash`, `exact`):
    /// remembered, so that the next operation with this very key skips the
    /// hash.
    #[inline(always)]
    fn entry_is(&self, i: usize, hash: u64, exact: bool, key: &MapKey) -> Option<usize> {
        if i >= self.entries.len() || !key_at_is(&self.entries, Slot::new(i, hash), hash, exact, key) {
            return None;
        }
        self.remember(i, key);
        Some(i)
    }

    /// What the direct table says of `key`, if it covers it (an int key in
    /// `0..direct.len()`): the position of its entry, or `None` if it is
    /// absent.
    #[inline(always)]
    fn direct_hit(&self, key: &MapKey) -> Option<Option<usize>> {
        // (Most maps have no direct table: then the key's slot, which for a
        // string is a division, is not worked out.)
        if self.direct.is_empty() {
            return None;
        }
        let p = *self.direct.get(direct_index(key)?)?;
        Some((p as usize).checked_sub(1))
    }

    /// The slot of the direct table for `key`, if it covers it.
    #[inline]
    fn direct_slot(&mut self, key: &MapKey) -> Option<&mut u32> {
        self.direct.get_mut(direct_index(key)?)
    }

    /// Whether the direct table covers `key` (and the index does not hold it).
    #[inline]
    fn covers(&self, key: &MapKey) -> bool {
        direct_index(key).is_some_and(|k| k < self.direct.len())
    }

    /// After the entry of `key` was appended at position `pos`: note it in the
    /// direct table, growing the table to cover it if the map is dense enough.
    fn note_direct(&mut self, key: &MapKey, pos: usize) {
        let Some(k) = direct_index(key) else {
            return;
        };
        if k >= self.direct.len() {
            let (want, worth) = match key.as_int() {
                Some(_) => {
                    let want = (k + 1).next_power_of_two().max(MIN_DIRECT);
                    (want, want <= DIRECT_SLOTS_PER_ENTRY * self.len())
                }
                None => (SHORT_STR_SLOTS, self.short_keys_fill_a_table()),
            };
            if !worth || want > MAX_DIRECT {
                return;
            }
            self.rebuild_direct(want);
        }
        if let Some(slot) = self.direct.get_mut(k) {
            *slot = u32::try_from(pos + 1).unwrap_or(0);
        }
    }

    /// Whether a string-keyed map should get its direct table: its length
    /// has just reached a power of two, and it holds at least
    /// [`SHORT_KEYS_FOR_TABLE`] keys of at most one byte (counted then: a
    /// count costs a pass over the entries at most once per doubling).
    fn short_keys_fill_a_table(&self) -> bool {
        let n = self.len();
        n >= SHORT_KEYS_FOR_TABLE
            && n.is_power_of_two()
            && self.keys().filter(|k| k.short_str_index().is_some()).count() >= SHORT_KEYS_FOR_TABLE
    }

    /// Make the direct table `len` slots long (none: empty), fill it from the
    /// entries, and rebuild the index of a large map from the keys it does not
    /// cover (which can only be fewer than before when the table grows, and
    /// are all the keys when it goes).
    fn rebuild_direct(&mut self, len: usize) {
        self.direct.clear();
        if len == 0 {
            self.direct.shrink_to_fit();
        } else {
            self.direct.resize(len, 0);
            for (i, b) in self.entries.iter().enumerate() {
                let k = b.as_ref().and_then(|b| direct_index(&b.key));
                if let Some(slot) = k.and_then(|k| self.direct.get_mut(k)) {
                    // (Positions fit in `u32`: see `Slot`.)
                    *slot = u32::try_from(i + 1).unwrap_or(0);
                }
            }
        }
        self.index.clear();
        if !self.is_small() {
            self.build_index();
        }
    }

    /// The position of the live entry holding `key` (of `hash`, `exact`), found
    /// through the index, and remembered.
    #[inline(always)]
    fn probe(&self, hash: u64, exact: bool, key: &MapKey) -> Option<usize> {
        let entries = &self.entries;
        let i = self
            .index
            .find(table_hash(hash), |&s| key_at_is(entries, s, hash, exact, key))
            .map(|s| s.pos())?;
        self.remember(i, key);
        Some(i)
    }

    /// The position of the last entry found, if `key` has the bits of the key
    /// that found it and such bits determine a key ([`Self::last_key`]).
    #[inline(always)]
    pub(crate) fn last_by_identity(&self, key: &MapKey) -> Option<usize> {
        if self.last_key.get() != Some(key.bits()) || self.key_epoch.get() != gc_epoch() {
            return None;
        }
        // `last_key` is only set together with `last`, and both are forgotten
        // together when entries go or move.
        (self.last.get() as usize).checked_sub(1)
    }

    /// The position after that of the last entry found, if its key has the
    /// bits of `key` and such bits determine a key ([`MapKey::identity`]: an
    /// int, or the very string object, which the entry keeps alive): `m[k]` for
    /// the keys of `map_keys(m)` in order, with no hash computed.
    #[inline(always)]
    fn next_by_identity(&self, id: Value, key: &MapKey) -> Option<usize> {
        let next = self.last.get() as usize;
        if next == 0 {
            return None;
        }
        match self.entries.get(next)? {
            Some(b) if b.key.bits() == id => {
                self.remember_identified(next, Some(id), key);
                Some(next)
            }
            _ => None,
        }
    }

    /// The position at which a lookup last found `key`'s object, if the
    /// entry there holds that very object ([`MapKey::position_hint`]): a map
    /// looked up with the key objects it holds (names from a list, a
    /// dispatch table's constant names) finds them with no hash and no probe.
    /// (`id`: the key's identity.)
    #[inline(always)]
    fn hinted(&self, id: Value, key: &MapKey) -> Option<usize> {
        let pos = key.position_hint(Some(id))?;
        match self.entries.get(pos)? {
            // (Where it was found last: nothing to note.)
            Some(b) if b.key.bits() == id => {
                self.remember_position(pos, Some(id));
                Some(pos)
            }
            _ => None,
        }
    }

    /// The position of the last entry found, if it holds `key` (of `hash`).
    #[inline(always)]
    fn last_is(&self, hash: u64, exact: bool, key: &MapKey) -> Option<usize> {
        let i = (self.last.get() as usize).checked_sub(1)?;
        self.entry_is(i, hash, exact, key)
    }

    /// Remember that `key` found (or inserted) the entry at `pos`.
    #[inline]
    fn remember(&self, pos: usize, key: &MapKey) {
        self.remember_identified(pos, key.identity(), key);
    }

    /// [`Self::remember`] for a key of identity `id` ([`MapKey::identity`]),
    /// noting the position in its object too ([`MapKey::position_hint`]).
    #[inline]
    fn remember_identified(&self, pos: usize, id: Option<Value>, key: &MapKey) {
        self.remember_position(pos, id);
        key.set_position_hint(id, pos);
    }

    /// The position part of [`Self::remember`].
    #[inline]
    fn remember_position(&self, pos: usize, id: Option<Value>) {
        // (Positions fit in `u32`: see `Slot`.)
        let last = u32::try_from(pos + 1).unwrap_or(0);
        self.last.set(last);
        self.last_key.set(if last == 0 { None } else { id });
        self.key_epoch.set(gc_epoch());
    }

    /// Forget the last entry found (entries are about to go or move).
    #[inline]
    fn forget_last(&self) {
        self.last.set(0);
        self.last_key.set(None);
    }

    #[inline]
    pub fn get(&self, key: &MapKey) -> Option<&Value> {
        let i = self.find(key)?;
        self.entries[i].as_ref().map(|b| &b.value)
    }

    #[inline]
    pub fn contains_key(&self, key: &MapKey) -> bool {
        self.find(key).is_some()
    }

    /// The position of `key`'s entry, if it is there. It stays the entry's
    /// position until an entry is removed ([`Self::remove`], [`Self::clear`]):
    /// inserting appends, overwriting keeps it, and a vector that grows keeps
    /// the entries' order. Compiled code reads and overwrites the value there
    /// directly after `map_has_key` ([`entry_layout`]).
    #[inline]
    pub fn position(&self, key: &MapKey) -> Option<usize> {
        self.find(key)
    }

    /// Insert or overwrite. A new key goes to the end; an existing key keeps its position
    /// and its original key object, and the old value is returned.
    pub fn insert(&mut self, key: MapKey, value: Value) -> Option<Value> {
        let (hash, exact) = match self.last_found(&key) {
            Ok(i) => return self.replace_value(i, value),
            Err(h) => h,
        };
        self.reserve(1);
        self.put(hash, exact, key, value)
    }

    /// [`Self::insert`], failing with `OutOfMemory` when the allocator refuses
    /// to grow the map (instead of aborting). Overwriting the key the last
    /// lookup found (`if map_has_key(m, k): m[k] = m[k] + 1`) costs no probe,
    /// and overwriting any key reserves nothing unless the map is full.
    pub fn try_insert(&mut self, key: MapKey, value: Value) -> Result<Option<Value>, LimitError> {
        let (hash, exact) = match self.last_found(&key) {
            Ok(i) => return Ok(self.replace_value(i, value)),
            Err(h) => h,
        };
        // A full vector or index grows before the probe even if the key turns
        // out to be there: `put` must not reallocate.
        if self.is_full() {
            self.try_reserve(1)?;
        }
        Ok(self.put(hash, exact, key, value))
    }

    /// Insert or overwrite `key` (of content hash `hash`, `exact` as
    /// [`MapKey::hash_exact`] says), with room for one more entry reserved.
    fn put(&mut self, hash: u64, exact: bool, key: MapKey, value: Value) -> Option<Value> {
        let key = key.with_exact(exact);
        self.mortal_keys |= key.is_mortal_object();
        if self.is_small() {
            // (The caller's `last_found` scanned the map: the key is new.)
            self.push_entry(Bucket { hash, key, value });
            return None;
        }
        let next = self.entries.len();
        if self.covers(&key) {
            // (And absent: the caller's `last_found` asked the direct table.)
            self.entries.push(Some(Bucket { hash, key, value }));
            self.remember(next, &key);
            self.note_direct(&key, next);
            return None;
        }
        let entries = &self.entries;
        match self.index.entry(
            table_hash(hash),
            |&s| key_at_is(entries, s, hash, exact, &key),
            |s| s.table_hash(),
        ) {
            hashbrown::hash_table::Entry::Occupied(o) => {
                let i = o.get().pos();
                self.remember(i, &key);
                self.replace_value(i, value)
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(Slot::new(next, hash));
                self.entries.push(Some(Bucket { hash, key, value }));
                self.remember(next, &key);
                self.note_direct(&key, next);
                None
            }
        }
    }

    /// Append the entry of a new key to a small map, with room reserved (for
    /// the index too, if this makes the map large: it is built now).
    fn push_entry(&mut self, bucket: Bucket) {
        let pos = self.entries.len();
        let key = bucket.key;
        self.entries.push(Some(bucket));
        if self.is_small() {
            key.set_position_hint(key.identity(), pos);
        } else {
            self.build_index();
            self.remember(pos, &key);
        }
        self.note_direct(&key, pos);
    }

    /// Fill the (empty) index with the live entries the direct table does not
    /// cover, with room reserved.
    fn build_index(&mut self) {
        debug_assert_eq!(self.index.len(), 0);
        for (i, b) in self.entries.iter().enumerate() {
            if let Some(b) = b.as_ref().filter(|b| !self.covers(&b.key)) {
                self.index
                    .insert_unique(table_hash(b.hash), Slot::new(i, b.hash), |s| s.table_hash());
            }
        }
    }

    /// Insert or overwrite without growing: false (and nothing done) when `key`
    /// is new and the entry vector or the index is full. Compiled code's leaf
    /// twin of `m[k] = v`, which must not allocate (the key the last lookup found
    /// costs no probe).
    #[inline]
    pub fn set_in_place(&mut self, key: MapKey, value: Value) -> bool {
        let (hash, exact) = match self.last_found(&key) {
            Ok(i) => {
                self.replace_value(i, value);
                return true;
            }
            Err(h) => h,
        };
        if self.is_full() {
            return match self.probe(hash, exact, &key) {
                Some(i) => self.replace_value(i, value).is_some(),
                None => false,
            };
        }
        self.put(hash, exact, key, value);
        true
    }

    /// Whether a new entry needs the entry vector or the index to grow (`put`
    /// must not reallocate): the index needs room for one more slot, or for
    /// every live entry when the new one makes the map large.
    #[inline]
    fn is_full(&self) -> bool {
        let index_full = match self.entries.len().cmp(&SMALL_MAP) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => self.index.capacity() <= self.len(),
            std::cmp::Ordering::Greater => self.index.capacity() <= self.index.len(),
        };
        self.entries.len() == self.entries.capacity() || index_full
    }

    /// Put `value` in the live entry at `i`; its old value.
    #[inline]
    fn replace_value(&mut self, i: usize, value: Value) -> Option<Value> {
        self.entries[i]
            .as_mut()
            .map(|b| std::mem::replace(&mut b.value, value))
    }

    /// Remove `key`, keeping the order of the other entries. O(1) amortised.
    pub fn remove(&mut self, key: &MapKey) -> Option<Value> {
        // Removing empties an entry and may move the others (compaction).
        self.forget_last();
        let i = if let Some(hit) = self.direct_hit(key) {
            hit?
        } else if self.is_small() {
            self.scan(key).ok()?
        } else {
            let (hash, exact) = key.hash_exact();
            let entries = &self.entries;
            match self
                .index
                .find_entry(table_hash(hash), |&s| key_at_is(entries, s, hash, exact, key))
            {
                Ok(o) => o.remove().0.pos(),
                Err(_) => return None,
            }
        };
        if let Some(slot) = self.direct_slot(key) {
            *slot = 0;
        }
        let removed = self.entries[i].take().map(|b| b.value);
        self.clear_key_bits(i);
        if i + 1 == self.entries.len() {
            // The last entry: drop it and the tombstones right before it.
            self.entries.pop();
            while let Some(None) = self.entries.last() {
                self.entries.pop();
                self.tombstones -= 1;
            }
        } else {
            self.tombstones += 1;
        }
        if self.tombstones as usize * 2 > self.entries.len() {
            self.compact();
        } else if self.is_small() && !self.index.is_empty() {
            // Popped back to small: a small map has no index.
            self.index.clear();
        }
        removed
    }

    /// Zero the key's bits in the place of the entry at `i`, just deleted:
    /// compiled code checks a key object's position hint by comparing the
    /// key bits there with the object's address ([`EntryLayout::key`]),
    /// without reading whether the entry is live, and no object is at 0.
    fn clear_key_bits(&mut self, i: usize) {
        let key = entry_layout_key();
        if let Some(place) = self.entries.get_mut(i) {
            let at = place as *mut Option<Bucket> as *mut u8;
            // SAFETY: a `Bucket`'s key bits lie within its `Option`'s place
            // (a niche-filled `Option` keeps its payload where the `Bucket`
            // has it, `entry_layout`), 8 aligned bytes that are not the
            // niche (a `Value` has none), so writing them leaves it `None`.
            // Volatile: a store into the payload of a `None` is dead to the
            // compiler, not to compiled code.
            unsafe { (at.add(key) as *mut u64).write_volatile(0) };
        }
    }

    /// Remove every entry.
    pub fn clear(&mut self) {
        self.forget_last();
        self.entries.clear();
        self.index.clear();
        self.direct.clear();
        self.tombstones = 0;
    }

    /// Drop the tombstones (keeping the order of the live entries) and rebuild the
    /// index. Gives memory back when the map has shrunk to a quarter of its allocation.
    fn compact(&mut self) {
        self.entries.retain(Option::is_some);
        self.tombstones = 0;
        let live = self.entries.len();
        if self.entries.capacity() > 4 * live.max(8) {
            self.entries.shrink_to(2 * live);
        }
        self.index.clear();
        if self.index.capacity() > 4 * live.max(8) {
            self.index.shrink_to(2 * live, |s| s.table_hash());
        }
        // The positions moved; a table four times the map's size goes (and
        // the index is rebuilt with it).
        let len = match self.direct.len() {
            n if n > 4 * live.max(MIN_DIRECT) => 0,
            n => n,
        };
        self.rebuild_direct(len);
    }

    /// The live entries in insertion order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = (&MapKey, &Value)> + '_ {
        self.entries
            .iter()
            .filter_map(|e| e.as_ref().map(|b| (&b.key, &b.value)))
    }

    /// The live keys in insertion order.
    #[inline]
    pub fn keys(&self) -> impl Iterator<Item = &MapKey> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// The live values in insertion order.
    #[inline]
    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Number of entry positions, deleted ones included: the bound of [`Self::slot`].
    #[inline]
    pub fn slot_count(&self) -> usize {
        self.entries.len()
    }

    /// The entry at position `i` (`None` if it was deleted), so that a walk over a
    /// value graph can keep its place in a map as a number (format.rs, heap.rs).
    #[inline]
    pub fn slot(&self, i: usize) -> Option<(&MapKey, &Value)> {
        self.entries.get(i)?.as_ref().map(|b| (&b.key, &b.value))
    }

    /// Check the invariants (tests only).
    #[cfg(test)]
    fn check(&self) {
        let covered = self.keys().filter(|k| self.covers(k)).count();
        let indexed = if self.is_small() { 0 } else { self.len() - covered };
        assert_eq!(self.index.len(), indexed);
        assert_eq!(
            self.entries.iter().filter(|e| e.is_none()).count(),
            self.tombstones as usize
        );
        assert!(!matches!(self.entries.last(), Some(None)), "trailing tombstone");
        assert!(self.tombstones as usize * 2 <= self.entries.len());
        for &s in self.index.iter() {
            let i = s.pos();
            let b = self.entries[i].as_ref().expect("index points at a tombstone");
            assert!(
                !self.covers(&b.key),
                "the index holds a key the direct table covers"
            );
            assert_eq!(s.hash, b.hash as u32);
            assert_eq!((b.hash, b.key.is_exact()), b.key.hash_exact());
            assert_eq!(self.find(&b.key), Some(i));
        }
        for (k, &p) in self.direct.iter().enumerate() {
            let at = self
                .entries
                .iter()
                .position(|e| e.as_ref().is_some_and(|b| direct_index(&b.key) == Some(k)));
            assert_eq!(at.map_or(0, |i| i as u32 + 1), p, "direct slot {k}");
        }
    }
}

/// Where compiled code finds the value of the entry at a [position]: the
/// offset in an [`OrderedMap`] of the word that points at its entries, the
/// size of an entry, and the offset of the value in one; and where it finds
/// the position of a small int key: the offsets of the direct table's data
/// pointer and length (`u32` slots, position plus one).
///
/// [position]: OrderedMap::position
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryLayout {
    pub data: usize,
    /// The offset of the entries' length word.
    pub len: usize,
    pub stride: usize,
    pub value: usize,
    /// The offset of the key's bits in an entry (0 in a deleted entry's place:
    /// [`OrderedMap::remove`]).
    pub key: usize,
    pub direct_data: usize,
    pub direct_len: usize,
}

/// The offsets in a `Vec<T>` of its data pointer and its length: the words
/// of `v` that hold its `as_ptr()` and its `len()` (which must differ from
/// each other and from its capacity).
fn vec_words<T>(v: &Vec<T>) -> (usize, usize) {
    let words = std::mem::size_of::<Vec<T>>() / 8;
    // SAFETY: a `Vec` is `words` initialised pointer-sized words (its data
    // pointer, capacity and length), all readable as `usize`.
    let word = |i: usize| unsafe { (v as *const Vec<T> as *const usize).add(i).read() };
    let find = |x: usize| {
        (0..words)
            .find(|&i| word(i) == x)
            .unwrap_or_else(|| unreachable!("a vector holds its data pointer and length"))
    };
    (find(v.as_ptr() as usize) * 8, find(v.len()) * 8)
}

/// [`EntryLayout::key`] of this build, measured once.
fn entry_layout_key() -> usize {
    static KEY: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *KEY.get_or_init(|| entry_layout().key)
}

/// The [`EntryLayout`] of this build. `Vec` does not declare the order of its
/// words, so it is measured on a map of one entry: the words of the vector
/// that hold its data pointer and length, and the value's and the key's
/// addresses within the entry (an `Option` of a niche-filled `Bucket` may
/// put the payload anywhere).
pub fn entry_layout() -> EntryLayout {
    let mut m = OrderedMap::new();
    // SAFETY: an int key is plain bits.
    let key = unsafe { MapKey::new(Value::int(1), crate::value::ValKind::Int) };
    m.insert(key, Value::int(2));
    let (data, len) = vec_words(&m.entries);
    // (Three slots in room for eight: the length is neither the pointer nor the capacity.)
    let mut slots: Vec<u32> = Vec::with_capacity(8);
    slots.extend([0, 0, 0]);
    let (direct_data, direct_len) = vec_words(&slots);
    let entry = &m.entries[0];
    let offset_in_entry = |field: usize| field - entry as *const Option<Bucket> as usize;
    let (value, key) = match entry {
        Some(b) => (
            offset_in_entry(&b.value as *const Value as usize),
            offset_in_entry(&b.key as *const MapKey as usize) + MapKey::BITS_OFFSET,
        ),
        None => unreachable!("the entry just inserted is live"),
    };
    let direct = std::mem::offset_of!(OrderedMap, direct);
    EntryLayout {
        data: std::mem::offset_of!(OrderedMap, entries) + data,
        len: std::mem::offset_of!(OrderedMap, entries) + len,
        stride: std::mem::size_of::<Option<Bucket>>(),
        value,
        key,
        direct_data: direct + direct_data,
        direct_len: direct + direct_len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{str_bytes, Heap};
    use crate::value::ValKind;

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read.

    fn k(i: i64) -> MapKey {
        unsafe { MapKey::new(Value::int(i), ValKind::Int) }
    }

    #[test]
    fn try_reserve_fails_softly() {
        let mut m = OrderedMap::new();
        m.try_reserve(3).expect("room for 3 entries");
        assert!(m.capacity() >= 3);
        assert_eq!(m.try_reserve(usize::MAX), Err(LimitError::OutOfMemory));
        m.insert(k(1), Value::int(1));
        assert_eq!(keys(&m), [1]);
    }

    /// Looking keys up in insertion order finds each as the entry after the
    /// last one found (`next_is`); every answer is still right: after
    /// deletions (tombstones between entries), for absent keys, for string keys
    /// of other objects with the same bytes, and in reverse order.
    #[test]
    fn lookups_in_order_find_the_next_entry() {
        // Negative keys: the direct table, which would answer first, covers none.
        let ik = |i: i64| k(-1 - i);
        let mut m = from(&(0..100).map(|i| -1 - i).collect::<Vec<_>>());
        for i in (0..100).step_by(3) {
            m.remove(&ik(i));
        }
        for _ in 0..2 {
            for i in 0..100 {
                let want = (i % 3 != 0).then_some((-1 - i) * 10);
                assert_eq!(m.get(&ik(i)).map(|v| v.as_int()), want, "key {i}");
                assert_eq!(m.get(&ik(1000 + i)), None);
            }
            for i in (0..100).rev() {
                assert_eq!(m.contains_key(&ik(i)), i % 3 != 0);
            }
        }
        assert!(
            m.last_by_identity(&ik(1)).is_some(),
            "the last found is remembered"
        );
        let mut h = Heap::new(false);
        let mut words = OrderedMap::new();
        let key = |h: &mut Heap, i: usize| unsafe {
            MapKey::new(h.alloc_str(format!("w{i}").into_bytes()), ValKind::Ref)
        };
        let mut stored = Vec::new();
        for i in 0..50 {
            let kk = key(&mut h, i);
            stored.push(kk);
            words.insert(kk, Value::int(i as i64));
        }
        for i in 0..50 {
            let probe = key(&mut h, i);
            assert_eq!(words.get(&probe).map(|v| v.as_int()), Some(i as i64));
        }
        // The stored key objects themselves (what `map_keys` gives), in order:
        // each is the next entry's key by identity, no hash needed.
        assert_eq!(words.get(&stored[0]).map(|v| v.as_int()), Some(0));
        for (i, kk) in stored.iter().enumerate().skip(1) {
            assert_eq!(words.next_by_identity(kk.bits(), kk), Some(i), "key {i}");
            assert_eq!(words.get(kk).map(|v| v.as_int()), Some(i as i64));
        }
        // An int key after a tombstone is not next by identity, and is found.
        assert_eq!(m.get(&ik(1)).map(|v| v.as_int()), Some(-20));
        assert_eq!(m.next_by_identity(ik(2).bits(), &ik(2)), Some(2));
        assert_eq!(m.get(&ik(4)).map(|v| v.as_int()), Some(-50));
        m.check();
        words.check();
    }

    /// The direct table answers for the small int keys exactly as the index
    /// would: as it grows with the map, after removals and compactions, beside
    /// negative and far keys it does not cover, and after a clear; a sparse
    /// map gets none.
    #[test]
    fn direct_table_is_exact() {
        let mut m = OrderedMap::new();
        for i in 0..1000 {
            let key = (i * 7919) % 1000;
            m.insert(k(key), Value::int(key));
            m.insert(k(-key - 1), Value::int(-key));
        }
        m.insert(k(1 << 40), Value::int(7));
        assert_eq!(m.direct.len(), 1024);
        m.check();
        for i in 0..1100 {
            let want = (i < 1000).then_some(i);
            assert_eq!(m.get(&k(i)).map(|v| v.as_int()), want);
        }
        for i in (0..1000).step_by(3) {
            m.remove(&k(i));
        }
        m.check();
        for i in 0..1000 {
            assert_eq!(m.contains_key(&k(i)), i % 3 != 0, "key {i}");
        }
        // Most go: the map compacts and the entries move.
        for i in 0..1000 {
            m.remove(&k(-i - 1));
            if i % 3 != 0 && i > 100 {
                m.remove(&k(i));
            }
        }
        m.check();
        assert_eq!(m.get(&k(100)).map(|v| v.as_int()), Some(100));
        assert_eq!(m.get(&k(1 << 40)).map(|v| v.as_int()), Some(7));
        assert!(
            m.direct.len() <= 4 * m.len().max(MIN_DIRECT),
            "a sparse table goes"
        );
        m.clear();
        assert!(m.direct.is_empty());
        let sparse = from(&(0..100).map(|i| i * 100).collect::<Vec<_>>());
        assert!(sparse.direct.len() <= DIRECT_SLOTS_PER_ENTRY * sparse.len());
        assert_eq!(sparse.get(&k(9900)).map(|v| v.as_int()), Some(99000));
    }

    /// The layout compiled code reads values by finds each key's value at its
    /// position, as the vector grows and after removals.
    #[test]
    fn entry_layout_finds_values_at_positions() {
        let l = entry_layout();
        let mut m = OrderedMap::new();
        for round in 0..3 {
            for i in 0..200 {
                m.insert(k(i), Value::int(i * 10 + round));
            }
            for i in (0..200).step_by(3 + round as usize) {
                m.remove(&k(i));
            }
            for i in 0..200 {
                let Some(pos) = m.position(&k(i)) else {
                    continue;
                };
                let base = &m as *const OrderedMap as usize;
                // SAFETY: `data` is the offset of the entries' data pointer in
                // the map, and `pos` that of a live entry.
                let v = unsafe {
                    let data = ((base + l.data) as *const usize).read();
                    ((data + pos * l.stride + l.value) as *const Value).read()
                };
                assert_eq!(v.as_int(), i * 10 + round);
                // SAFETY: the direct table's data pointer and length words.
                let direct = unsafe {
                    let len = ((base + l.direct_len) as *const usize).read();
                    let data = ((base + l.direct_data) as *const *const u32).read();
                    (i as usize) < len && data.add(i as usize).read() as usize == pos + 1
                };
                assert!(direct, "key {i} in the direct table");
            }
            // Every entry's key bits where compiled code reads them: the
            // key's, or 0 for a deleted one.
            let base = &m as *const OrderedMap as usize;
            // SAFETY: the entries' data pointer and length words, and the
            // key bits word of each of the `len` entries.
            let bits: Vec<u64> = unsafe {
                let data = ((base + l.data) as *const usize).read();
                let len = ((base + l.len) as *const usize).read();
                (0..len)
                    .map(|i| ((data + i * l.stride + l.key) as *const u64).read_volatile())
                    .collect()
            };
            assert_eq!(bits.len(), m.slot_count());
            for (i, &b) in bits.iter().enumerate() {
                let want = m.slot(i).map_or(0, |(key, _)| key.bits().as_int() as u64);
                assert_eq!(b, want, "entry {i}");
            }
        }
    }

    /// A map of at most `SMALL_MAP` positions has no index and finds its keys
    /// by scanning: string keys by the same object and by another of the same
    /// bytes, absent keys of both kinds; it gets its index when it grows past
    /// the bound (`set_in_place` declining to build it), and drops it when
    /// removals take it back below.
    #[test]
    fn small_maps_scan_and_grow_an_index() {
        let mut h = Heap::new(false);
        let s = |h: &mut Heap, t: &str| unsafe { MapKey::new(h.alloc_str(t.as_bytes()), ValKind::Ref) };
        let mut m = OrderedMap::new();
        let stored: Vec<MapKey> = (0..SMALL_MAP).map(|i| s(&mut h, &format!("key{i}"))).collect();
        for (i, kk) in stored.iter().enumerate() {
            assert_eq!(m.insert(*kk, Value::int(i as i64)), None);
            m.check();
        }
        assert_eq!(m.index.len(), 0, "small: no index");
        for (i, kk) in stored.iter().enumerate() {
            let other = s(&mut h, &format!("key{i}"));
            assert_eq!(m.get(kk).map(|v| v.as_int()), Some(i as i64));
            assert_eq!(m.get(&other).map(|v| v.as_int()), Some(i as i64));
        }
        let absent = s(&mut h, "key99");
        assert_eq!(m.get(&absent), None);
        // At the bound, compiled code's leaf declines (the index would need
        // memory) and the general insert builds the index.
        assert!(!m.set_in_place(absent, Value::int(99)));
        assert_eq!(m.insert(absent, Value::int(99)), None);
        assert_eq!(m.index.len(), SMALL_MAP + 1, "large: every entry indexed");
        m.check();
        for (i, kk) in stored.iter().enumerate() {
            let other = s(&mut h, &format!("key{i}"));
            assert_eq!(m.get(&other).map(|v| v.as_int()), Some(i as i64));
            assert_eq!(m.get(kk).map(|v| v.as_int()), Some(i as i64));
        }
        // Removing the last entries pops them: small again, without an index.
        assert!(m.remove(&absent).is_some());
        assert_eq!(m.index.len(), 0);
        m.check();
        assert_eq!(m.get(&stored[3]).map(|v| v.as_int()), Some(3));
        // Int keys: equal exactly when their bits are; a tombstone is skipped.
        let mut ints = from(&[-5, -6, -7]);
        assert!(ints.remove(&k(-6)).is_some());
        assert_eq!(ints.get(&k(-6)), None);
        assert_eq!(ints.get(&k(-7)).map(|v| v.as_int()), Some(-70));
        assert!(ints.set_in_place(k(-6), Value::int(6)));
        assert_eq!(keys(&ints), [-5, -7, -6]);
        ints.check();
    }

    /// A string key found in a map notes its position in its object
    /// (`MapKey::position_hint`), and the next lookup with that object uses
    /// it only if the entry there holds the very object: the same key
    /// objects in two maps at different positions, another object of the
    /// same bytes, after removals move the entries, and the shared one-byte
    /// strings (in a `static`, never written).
    #[test]
    fn position_hints_are_checked() {
        let mut h = Heap::new(false);
        let s = |h: &mut Heap, t: &str| unsafe { MapKey::new(h.alloc_str(t.as_bytes()), ValKind::Ref) };
        let keys = string_keys(&mut h, "name", 40);
        let (mut a, b) = (keyed(&keys, 0, false), keyed(&keys, 100, true));
        for round in 0..3 {
            for (i, kk) in keys.iter().enumerate() {
                let other = s(&mut h, &format!("name{i}"));
                assert_eq!(a.get(kk).map(|v| v.as_int()), Some(i as i64), "round {round}");
                assert_eq!(b.get(kk).map(|v| v.as_int()), Some(100 + i as i64));
                assert_eq!(a.get(&other).map(|v| v.as_int()), Some(i as i64));
                let hint = kk.position_hint(kk.identity());
                assert!(
                    hint == Some(i) || hint == Some(39 - i),
                    "a position of it: {hint:?}"
                );
            }
        }
        // Removals: the map compacts and the entries move.
        for kk in keys.iter().step_by(2) {
            assert!(a.remove(kk).is_some());
        }
        for (i, kk) in keys.iter().enumerate() {
            let want = (i % 2 == 1).then_some(i as i64);
            assert_eq!(a.get(kk).map(|v| v.as_int()), want, "key {i}");
        }
        a.check();
        b.check();
        // One-byte strings (fewer than make a direct table) take no hint.
        let mut c = OrderedMap::new();
        let one: Vec<MapKey> = (b'a'..b'k')
            .map(|x| s(&mut h, std::str::from_utf8(&[x]).unwrap_or("?")))
            .collect();
        for (i, kk) in one.iter().enumerate() {
            c.insert(*kk, Value::int(i as i64));
        }
        for (i, kk) in one.iter().enumerate() {
            assert_eq!(c.get(kk).map(|v| v.as_int()), Some(i as i64));
            assert_eq!(kk.position_hint(kk.identity()), None);
        }
    }

    /// `n` heap strings `prefix0`, `prefix1`, ... as map keys.
    fn string_keys(h: &mut Heap, prefix: &str, n: usize) -> Vec<MapKey> {
        // SAFETY: live strings, as `MapKey::new` requires.
        (0..n)
            .map(|i| unsafe { MapKey::new(h.alloc_str(format!("{prefix}{i}").as_bytes()), ValKind::Ref) })
            .collect()
    }

    /// A map of `keys[i]` to `base + i`, inserted in order or in reverse.
    fn keyed(keys: &[MapKey], base: i64, reverse: bool) -> OrderedMap {
        let mut m = OrderedMap::new();
        let mut put = |(i, k): (usize, &MapKey)| {
            m.insert(*k, Value::int(base + i as i64));
        };
        if reverse {
            keys.iter().enumerate().rev().for_each(&mut put);
        } else {
            keys.iter().enumerate().for_each(&mut put);
        }
        m
    }

    /// A small map (no index: it scans) notes the positions of the string
    /// key objects it inserts or finds by identity too, for compiled code's
    /// inline check of the hint: two small maps of the same keys in opposite
    /// orders move the hints back and forth, and a stale hint is never
    /// believed, after a removal either.
    #[test]
    fn small_maps_note_positions() {
        let mut h = Heap::new(false);
        let keys = string_keys(&mut h, "field", 5);
        let mut a = keyed(&keys, 0, false);
        for (i, kk) in keys.iter().enumerate() {
            assert_eq!(kk.position_hint(kk.identity()), Some(i), "inserted at {i}");
        }
        let b = keyed(&keys, 10, true);
        assert!(a.is_small() && b.is_small());
        for (i, kk) in keys.iter().enumerate() {
            assert_eq!(a.get(kk).map(|v| v.as_int()), Some(i as i64));
            assert_eq!(kk.position_hint(kk.identity()), Some(i), "found in a");
            assert_eq!(b.get(kk).map(|v| v.as_int()), Some(10 + i as i64));
            assert_eq!(kk.position_hint(kk.identity()), Some(4 - i), "found in b");
        }
        assert!(a.remove(&keys[0]).is_some());
        for (i, kk) in keys.iter().enumerate().skip(1) {
            assert_eq!(a.get(kk).map(|v| v.as_int()), Some(i as i64), "key {i}");
        }
        assert_eq!(a.get(&keys[0]), None);
        a.check();
        b.check();
    }

    /// A map says whether it ever held a key object a collection may free:
    /// not for ints, string constants (immortal) or the shared short
    /// strings; yes once a heap string goes in, and from then on.
    #[test]
    fn maps_know_whether_their_keys_need_marking() {
        let mut h = Heap::new(false);
        let ints = from(&[1, 2, 3]);
        assert!(!ints.has_mortal_keys());
        let mut pool = crate::heap::ConstPool::new();
        let constant = pool.string(b"name");
        let one = h.alloc_str(&b"a"[..]);
        let mut m = OrderedMap::new();
        // SAFETY: live strings.
        let (kc, k1) = unsafe {
            (
                MapKey::new(constant, ValKind::Ref),
                MapKey::new(one, ValKind::Ref),
            )
        };
        m.insert(kc, Value::int(1));
        m.insert(k1, Value::int(2));
        assert!(!m.has_mortal_keys(), "constants and shared strings only");
        let made = h.alloc_str(&b"made at run time"[..]);
        // SAFETY: a live string.
        m.insert(unsafe { MapKey::new(made, ValKind::Ref) }, Value::int(3));
        assert!(m.has_mortal_keys());
        // SAFETY: as above.
        assert!(m.remove(&unsafe { MapKey::new(made, ValKind::Ref) }).is_some());
        assert!(m.has_mortal_keys(), "sticky");
    }

    /// A map of string keys gets a direct table of the one-byte strings once
    /// it holds 16 of them (checked at a power of two), which then answers
    /// for them as the index would: after removals, for absent ones, for the
    /// empty string, beside longer keys; a map with few such keys gets none.
    #[test]
    fn one_byte_string_keys_get_a_direct_table() {
        use crate::heap::{empty_str, one_byte_str};
        let mut h = Heap::new(false);
        let s = |v: Value| unsafe { MapKey::new(v, ValKind::Ref) };
        let long = |h: &mut Heap, t: &str| unsafe { MapKey::new(h.alloc_str(t.as_bytes()), ValKind::Ref) };
        let mut m = OrderedMap::new();
        for i in 0..15u8 {
            m.insert(s(one_byte_str(b'a' + i)), Value::int(i as i64));
        }
        assert!(m.direct.is_empty(), "15 keys: no table yet");
        m.insert(s(one_byte_str(b'z')), Value::int(25));
        assert_eq!(m.direct.len(), SHORT_STR_SLOTS);
        let word = long(&mut h, "word");
        m.insert(word, Value::int(-1));
        m.insert(s(empty_str()), Value::int(-2));
        m.check();
        for i in 0..15u8 {
            assert_eq!(
                m.get(&s(one_byte_str(b'a' + i))).map(|v| v.as_int()),
                Some(i as i64)
            );
        }
        assert_eq!(m.get(&s(empty_str())).map(|v| v.as_int()), Some(-2));
        assert_eq!(m.get(&s(one_byte_str(b'!'))), None);
        assert_eq!(m.get(&long(&mut h, "word")).map(|v| v.as_int()), Some(-1));
        assert!(m.remove(&s(one_byte_str(b'c'))).is_some());
        assert_eq!(m.get(&s(one_byte_str(b'c'))), None);
        m.check();
        // Few one-byte keys among longer ones: no table.
        let mut few = OrderedMap::new();
        for i in 0..40 {
            few.insert(long(&mut h, &format!("key{i}")), Value::int(i));
        }
        few.insert(s(one_byte_str(b'x')), Value::int(7));
        for i in 40..100 {
            few.insert(long(&mut h, &format!("key{i}")), Value::int(i));
        }
        assert!(few.direct.is_empty());
        assert_eq!(few.get(&s(one_byte_str(b'x'))).map(|v| v.as_int()), Some(7));
        few.check();
    }

    /// `set_in_place` (compiled code's `m[k] = v` leaf) overwrites any key and
    /// inserts while there is room, and leaves a full map alone for a new key.
    #[test]
    fn set_in_place_never_grows() {
        // (More keys than `SMALL_MAP`: the index fills too.)
        let mut m = from(&(1..=12).collect::<Vec<_>>());
        // A key the last lookup found (no probe), then one probed.
        assert!(m.contains_key(&k(2)));
        assert!(m.set_in_place(k(2), Value::int(-20)));
        assert!(m.set_in_place(k(1), Value::int(-10)));
        // New keys go in until the entry vector or the index is full (the
        // direct table covers 1..=12, so the index holds only the new ones).
        assert_eq!(m.index.len(), 0);
        let room = m.capacity().min(m.len() + m.index.capacity());
        while m.len() < room {
            let next = 100 + m.len() as i64;
            assert!(m.set_in_place(k(next), Value::int(next)));
        }
        let (n, cap) = (m.len(), m.capacity());
        assert!(!m.set_in_place(k(999), Value::int(9)));
        assert!(m.set_in_place(k(3), Value::int(-30)));
        assert_eq!((m.len(), m.capacity()), (n, cap));
        assert_eq!(keys(&m)[..3], [1, 2, 3]);
        assert_eq!(m.get(&k(2)).map(|v| v.as_int()), Some(-20));
        assert_eq!(m.get(&k(3)).map(|v| v.as_int()), Some(-30));
        assert_eq!(m.get(&k(999)), None);
        m.check();
    }

    /// `try_insert` appends new keys and overwrites existing ones in place, with
    /// and without the remembered last entry, and when the map is full.
    #[test]
    fn try_insert_appends_and_overwrites() {
        let mut m = OrderedMap::new();
        for i in 0..100 {
            assert_eq!(m.try_insert(k(i), Value::int(i)), Ok(None));
        }
        // The last key (remembered), then an earlier one (probed).
        assert_eq!(
            m.try_insert(k(99), Value::int(-99))
                .map(|o| o.map(|v| v.as_int())),
            Ok(Some(99))
        );
        assert_eq!(
            m.try_insert(k(7), Value::int(-7)).map(|o| o.map(|v| v.as_int())),
            Ok(Some(7))
        );
        // A full vector grows before the probe, even for an existing key.
        while m.entries.len() < m.entries.capacity() {
            let next = m.entries.len() as i64;
            assert_eq!(m.try_insert(k(next), Value::int(next)), Ok(None));
        }
        let n = m.len();
        assert_eq!(
            m.try_insert(k(3), Value::int(-3)).map(|o| o.map(|v| v.as_int())),
            Ok(Some(3))
        );
        assert_eq!(m.len(), n);
        assert_eq!(m.try_insert(k(-1), Value::int(1)), Ok(None));
        assert_eq!(keys(&m).last(), Some(&-1));
        assert_eq!(keys(&m)[..4], [0, 1, 2, 3]);
        assert_eq!(m.get(&k(7)).map(|v| v.as_int()), Some(-7));
        assert_eq!(m.get(&k(99)).map(|v| v.as_int()), Some(-99));
    }

    /// The remembered last entry answers repeated lookups of one key and is
    /// forgotten when entries move or go.
    #[test]
    fn last_found_entry_is_remembered_and_forgotten() {
        // (Negative keys: the direct table, which would answer first, covers
        // none. More than `SMALL_MAP`: a small map has no index, and scans.)
        let mut m = from(&[-1, -2, -3, -4, -5, -6, -7, -8, -101, -102, -103]);
        assert!(m.contains_key(&k(-3)));
        // An int key's bits are the key: the next operations skip the hash.
        assert_eq!(m.last_by_identity(&k(-3)), Some(2));
        assert_eq!(m.get(&k(-3)).map(|v| v.as_int()), Some(-30));
        assert_eq!(m.insert(k(-3), Value::int(-31)).map(|v| v.as_int()), Some(-30));
        assert_eq!(m.get(&k(-4)).map(|v| v.as_int()), Some(-40));
        assert_eq!(m.last_by_identity(&k(-3)), None);
        assert_eq!(m.get(&k(-3)).map(|v| v.as_int()), Some(-31));
        // Removing the remembered key, then compacting, moves the others.
        assert_eq!(m.remove(&k(-3)).map(|v| v.as_int()), Some(-31));
        assert_eq!(m.last_by_identity(&k(-3)), None);
        assert!(!m.contains_key(&k(-3)));
        assert_eq!(m.get(&k(-8)).map(|v| v.as_int()), Some(-80));
        for i in 1..=6 {
            m.remove(&k(-i));
        }
        m.check();
        assert_eq!(keys(&m), [-7, -8, -101, -102, -103]);
        assert_eq!(m.get(&k(-8)).map(|v| v.as_int()), Some(-80));
        assert_eq!(m.insert(k(-8), Value::int(-81)).map(|v| v.as_int()), Some(-80));
        assert_eq!(values(&m), [-70, -81, -1010, -1020, -1030]);
        m.clear();
        assert_eq!(m.last_by_identity(&k(-8)), None);
        assert_eq!(m.get(&k(-8)), None);
        assert_eq!(m.insert(k(-9), Value::int(-90)), None);
        assert_eq!(keys(&m), [-9]);
    }

    /// Only keys whose equal bits mean equal keys are remembered by their bits:
    /// not a float (NaN is equal to no key), nor null.
    #[test]
    fn only_keys_determined_by_their_bits_have_an_identity() {
        let f = |x: f64| unsafe { MapKey::new(Value::float(x), ValKind::Float) };
        assert_eq!(f(f64::NAN).identity(), None);
        assert_eq!(f(1.5).identity(), None);
        assert_eq!(k(7).identity(), Some(Value::int(7)));
        let b = unsafe { MapKey::new(Value::int(1), ValKind::Bool) };
        assert_eq!(b.identity(), Some(Value::int(1)));
        let null = unsafe { MapKey::new(Value::NULL, ValKind::Ref) };
        assert_eq!(null.identity(), None);
        let mut h = Heap::new(false);
        let s = h.alloc_str(&b"key"[..]);
        assert_eq!(unsafe { MapKey::new(s, ValKind::Ref) }.identity(), Some(s));
        let t = h.alloc_tuple(&[ValKind::Float], &[Value::float(f64::NAN)]);
        assert_eq!(unsafe { MapKey::new(t, ValKind::Ref) }.identity(), None);
    }

    fn keys(m: &OrderedMap) -> Vec<i64> {
        m.keys().map(|k| k.bits().as_int()).collect()
    }

    fn values(m: &OrderedMap) -> Vec<i64> {
        m.values().map(|v| v.as_int()).collect()
    }

    fn from(ks: &[i64]) -> OrderedMap {
        let mut m = OrderedMap::new();
        for &i in ks {
            assert_eq!(m.insert(k(i), Value::int(i * 10)), None);
        }
        m.check();
        m
    }

    #[test]
    fn delete_then_reinsert_goes_to_the_end() {
        let mut m = from(&[1, 2, 3, 4, 5]);
        assert_eq!(m.remove(&k(2)).map(|v| v.as_int()), Some(20));
        assert_eq!(m.remove(&k(2)), None);
        assert_eq!(keys(&m), [1, 3, 4, 5]);
        assert_eq!(m.insert(k(2), Value::int(7)), None);
        m.check();
        assert_eq!(keys(&m), [1, 3, 4, 5, 2]);
        assert_eq!(values(&m), [10, 30, 40, 50, 7]);
        assert_eq!(m.get(&k(2)).map(|v| v.as_int()), Some(7));
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn overwrite_keeps_position() {
        let mut m = from(&[1, 2, 3]);
        assert_eq!(m.insert(k(1), Value::int(100)).map(|v| v.as_int()), Some(10));
        assert_eq!(m.insert(k(2), Value::int(200)).map(|v| v.as_int()), Some(20));
        m.check();
        assert_eq!(keys(&m), [1, 2, 3]);
        assert_eq!(values(&m), [100, 200, 30]);
        // Also after a tombstone before the key.
        m.remove(&k(1));
        m.insert(k(3), Value::int(300));
        m.check();
        assert_eq!(keys(&m), [2, 3]);
        assert_eq!(values(&m), [200, 300]);
    }

    #[test]
    fn iteration_skips_tombstones() {
        let mut m = from(&[1, 2, 3, 4, 5, 6]);
        m.remove(&k(2));
        m.remove(&k(4));
        m.check();
        // Two tombstones in six slots: not compacted yet.
        assert_eq!(m.tombstones, 2);
        assert_eq!(m.entries.len(), 6);
        assert_eq!(keys(&m), [1, 3, 5, 6]);
        assert_eq!(values(&m), [10, 30, 50, 60]);
        assert_eq!(m.iter().count(), m.len());
        assert!(!m.contains_key(&k(2)));
        assert!(m.contains_key(&k(5)));
        assert_eq!(m.get(&k(4)), None);
    }

    #[test]
    fn deleting_the_last_entry_leaves_no_tombstones() {
        let mut m = from(&[1, 2, 3, 4]);
        m.remove(&k(3));
        m.remove(&k(4));
        m.check();
        // 4 popped, and with it the tombstone of 3.
        assert_eq!((m.entries.len(), m.tombstones), (2, 0));
        m.remove(&k(1));
        m.remove(&k(2));
        m.check();
        assert!(m.is_empty());
        assert_eq!(m.entries.len(), 0);
        m.insert(k(9), Value::int(1));
        assert_eq!(keys(&m), [9]);
    }

    #[test]
    fn many_deletes_compact_in_order() {
        let n = 10_000;
        let mut m = from(&(0..n).collect::<Vec<_>>());
        // Delete every key not divisible by 10, front to back.
        for i in 0..n {
            if i % 10 != 0 {
                assert!(m.remove(&k(i)).is_some());
            }
            assert!(m.tombstones as usize * 2 <= m.entries.len());
        }
        m.check();
        assert_eq!(m.len(), (n / 10) as usize);
        // Compaction ran (at most half of the slots are tombstones) and gave memory back.
        assert!(m.entries.len() <= 2 * m.len());
        assert!(m.capacity() < n as usize);
        assert_eq!(keys(&m), (0..n).step_by(10).collect::<Vec<_>>());
        for i in 0..n {
            assert_eq!(m.get(&k(i)).map(|v| v.as_int()), (i % 10 == 0).then_some(i * 10));
        }
        // Re-inserting after compaction appends.
        m.insert(k(1), Value::int(-1));
        m.insert(k(0), Value::int(-2));
        m.check();
        assert_eq!(keys(&m).last(), Some(&1));
        assert_eq!(keys(&m)[0], 0);
        assert_eq!(m.get(&k(0)).map(|v| v.as_int()), Some(-2));
    }

    #[test]
    fn queue_pattern_stays_small() {
        // Insert at the back, delete at the front: tombstones pile up at the front and
        // are compacted away, so the entry vector never grows far past the live count.
        let mut m = OrderedMap::new();
        for i in 0..100_000 {
            m.insert(k(i), Value::int(i));
            if i >= 100 {
                assert!(m.remove(&k(i - 100)).is_some());
            }
            assert!(m.entries.len() <= 2 * m.len() + 1);
        }
        m.check();
        assert_eq!(keys(&m), (99_900..100_000).collect::<Vec<_>>());
    }

    #[test]
    fn clear_and_reuse() {
        let mut m = from(&[1, 2, 3]);
        m.remove(&k(2));
        m.clear();
        m.check();
        assert!(m.is_empty());
        assert_eq!(m.iter().count(), 0);
        assert_eq!(m.get(&k(1)), None);
        m.insert(k(3), Value::int(1));
        m.insert(k(1), Value::int(2));
        m.check();
        assert_eq!(keys(&m), [3, 1]);
    }

    #[test]
    fn string_keys_compare_by_content_across_compaction() {
        let mut h = Heap::new(false);
        let mut m = OrderedMap::new();
        let sk = |h: &mut Heap, s: &str| unsafe { MapKey::new(h.alloc_str(s.as_bytes()), ValKind::Ref) };
        for i in 0..100 {
            let key = sk(&mut h, &format!("k{i}"));
            m.insert(key, Value::int(i));
        }
        for i in (0..100).filter(|i| i % 3 != 0) {
            // A different string object with the same bytes finds the entry.
            let key = sk(&mut h, &format!("k{i}"));
            assert_eq!(m.remove(&key).map(|v| v.as_int()), Some(i));
        }
        m.check();
        let key = sk(&mut h, "k1");
        m.insert(key, Value::int(-1));
        let key = sk(&mut h, "k0");
        m.insert(key, Value::int(-2));
        m.check();
        let ks: Vec<String> = m
            .keys()
            .map(|k| String::from_utf8_lossy(unsafe { str_bytes(k.bits()) }).into_owned())
            .collect();
        let mut want: Vec<String> = (0..100).step_by(3).map(|i| format!("k{i}")).collect();
        want.push("k1".into());
        assert_eq!(ks, want);
        let key = sk(&mut h, "k0");
        assert_eq!(m.get(&key).map(|v| v.as_int()), Some(-2));
    }

    /// Random inserts, overwrites and deletes against a naive ordered model.
    #[test]
    fn matches_a_naive_model() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20 {
            let mut m = OrderedMap::new();
            let mut model: Vec<(i64, i64)> = Vec::new();
            let range = [4, 16, 64, 512][round % 4];
            for step in 0..3000 {
                let key = (next() % range) as i64;
                let val = step as i64;
                if next() % 100 < 45 {
                    let got = m.remove(&k(key)).map(|v| v.as_int());
                    let want = model.iter().position(|e| e.0 == key).map(|p| model.remove(p).1);
                    assert_eq!(got, want);
                } else {
                    let got = m.insert(k(key), Value::int(val)).map(|v| v.as_int());
                    let want = match model.iter_mut().find(|e| e.0 == key) {
                        Some(e) => Some(std::mem::replace(&mut e.1, val)),
                        None => {
                            model.push((key, val));
                            None
                        }
                    };
                    assert_eq!(got, want);
                }
                if step % 97 == 0 {
                    m.check();
                }
                assert_eq!(m.len(), model.len());
            }
            m.check();
            let pairs: Vec<(i64, i64)> = m.iter().map(|(k, v)| (k.bits().as_int(), v.as_int())).collect();
            assert_eq!(pairs, model);
        }
    }
}
