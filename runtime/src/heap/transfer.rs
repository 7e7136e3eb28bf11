//! Moving values between the heaps of two threads.
//!
//! Every language thread has its own heap (docs/architecture.md, "Threads and
//! memory"), so a value that crosses from one thread to another — the argument
//! and globals of `thread_spawn`, the result of `thread_join`, a channel message
//! — is deep-copied. [`Parcel::pack`] copies the graph reachable from some values
//! into a fresh private [`Heap`] on the sending thread; the parcel then moves to the
//! receiving thread, whose [`Parcel::unpack`] adopts the parcel's objects into its
//! own heap without copying them again (the all-objects list is spliced).
//!
//! The copy keeps the shape of the graph: an object reached twice is copied once
//! (two array slots that held the same instance hold the same copy), and cycles are
//! copied as cycles. It is iterative (a worklist, no native recursion), so a
//! million-node list is copied like a short one. Strings, containers, instances and
//! closures are copied; host objects (mutexes, condition variables, channels,
//! thread handles, C pointers) are shared: the copy refers to the same state.

use super::access::{
    as_array, as_array_mut, as_closure, as_closure_mut, as_map, as_map_mut, as_opaque, str_bytes,
};
use super::access::{as_struct, as_struct_mut, as_tuple, as_tuple_mut, obj_kind};
use super::equality::MapKey;
use super::gc::Heap;
use super::object::{with_layout, ObjKind};
use crate::limits::LimitError;
use crate::value::{ValKind, Value};
use std::collections::HashMap;

/// Values copied out of one heap, with the private heap that owns their objects.
pub struct Parcel {
    heap: Heap,
    values: Vec<Value>,
}

// SAFETY: the parcel's heap holds only the objects `pack` made, reachable from
// nothing but the parcel's values and each other; no thread but the parcel's
// holder can reach them until `unpack` hands them to the receiving heap. Host
// objects' payloads are `Send + Sync`.
unsafe impl Send for Parcel {}

impl Parcel {
    /// A parcel of scalar values (no objects to copy).
    pub fn scalars(values: Vec<Value>) -> Parcel {
        Parcel {
            heap: Heap::new(false),
            values,
        }
    }

    /// Deep-copy `items` (each a value and its kind) into a new parcel.
    ///
    /// # Safety
    /// Every item of kind `Ref` must be null or a live object of the current
    /// thread's heap (not bits forged from an int); the struct layouts of the
    /// running program must be registered on this thread (`set_layouts`).
    pub unsafe fn pack(items: &[(Value, ValKind)]) -> Result<Parcel, LimitError> {
        let mut c = Copier {
            heap: Heap::new(false),
            seen: HashMap::new(),
            work: Vec::new(),
        };
        let mut values = Vec::with_capacity(items.len());
        for &(v, kind) in items {
            // SAFETY: the caller's contract.
            values.push(unsafe { c.copy(v, kind) }?);
        }
        // SAFETY: every pair on the worklist is a live source object and its new
        // shell (`Copier::copy`).
        unsafe { c.finish() }?;
        Ok(Parcel { heap: c.heap, values })
    }

    /// Move the parcel's objects into `dst` and return its values, in the order they
    /// were packed. Not a safepoint: the caller roots the values before the next
    /// collection.
    pub fn unpack(mut self, dst: &mut Heap) -> Vec<Value> {
        dst.adopt(&mut self.heap);
        std::mem::take(&mut self.values)
    }

    /// The packed values (their objects still in the parcel).
    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

/// State of one [`Parcel::pack`].
struct Copier {
    heap: Heap,
    /// Source object address → its copy.
    seen: HashMap<usize, Value>,
    /// (source, copy) pairs whose children are still the source's.
    work: Vec<(Value, Value)>,
}

impl Copier {
    /// The copy of `v` (of kind `kind`): scalars and null as they are; an object
    /// already copied, its copy; otherwise a new shell queued for [`Copier::finish`].
    ///
    /// # Safety
    /// As [`Parcel::pack`], for `v`.
    unsafe fn copy(&mut self, v: Value, kind: ValKind) -> Result<Value, LimitError> {
        if kind != ValKind::Ref || v.is_null() {
            return Ok(v);
        }
        let key = v.as_ptr() as usize;
        if let Some(&c) = self.seen.get(&key) {
            return Ok(c);
        }
        // SAFETY: the caller's contract: a live object.
        let shell = unsafe { self.shell(v) }?;
        self.seen.insert(key, shell);
        self.work.push((v, shell));
        Ok(shell)
    }

    /// A shallow copy of `v`: the same kind and scalars, its reference children
    /// still the source's (maps start empty), fixed by [`Copier::fix`].
    ///
    /// # Safety
    /// `v` must be a live object.
    unsafe fn shell(&mut self, v: Value) -> Result<Value, LimitError> {
        let h = &mut self.heap;
        // SAFETY (every arm): the caller's contract, a live object of the kind its
        // header says.
        unsafe {
            Ok(match obj_kind(v) {
                ObjKind::Str => h.alloc_str_copy(str_bytes(v))?,
                ObjKind::Array => {
                    let a = as_array(v);
                    h.alloc_array_copy(a, 0..a.len())?
                }
                ObjKind::Map => {
                    let m = as_map(v);
                    h.alloc_map(m.key, m.val)
                }
                ObjKind::Tuple => {
                    let t = as_tuple(v);
                    h.alloc_tuple(&t.kinds, &t.items)
                }
                kind @ (ObjKind::Struct | ObjKind::Class) => {
                    let s = as_struct(v);
                    h.alloc_struct(s.layout, kind == ObjKind::Class, &s.fields[..])
                }
                ObjKind::Closure => {
                    let c = as_closure(v);
                    h.alloc_closure(c.func, &c.kinds, &c.captures)
                }
                ObjKind::Opaque => h.alloc_opaque(as_opaque(v).payload.clone()),
            })
        }
    }

    /// Copy the children of every queued shell until the worklist is empty.
    ///
    /// # Safety
    /// Every queued pair must be a live source object and its shell.
    unsafe fn finish(&mut self) -> Result<(), LimitError> {
        while let Some((src, dst)) = self.work.pop() {
            // SAFETY: the caller's contract.
            unsafe { self.fix(src, dst) }?;
        }
        Ok(())
    }

    /// Replace the reference children of shell `dst` by copies of `src`'s.
    ///
    /// # Safety
    /// `src` must be a live object and `dst` its shell from [`Copier::shell`].
    unsafe fn fix(&mut self, src: Value, dst: Value) -> Result<(), LimitError> {
        // SAFETY (every arm): `src` and `dst` are live objects of the same kind;
        // `dst` is only reached through this function while it is being fixed.
        unsafe {
            match obj_kind(src) {
                ObjKind::Str | ObjKind::Opaque => {}
                ObjKind::Array => {
                    let kind = as_array(src).elem;
                    if kind == ValKind::Ref {
                        for i in 0..as_array(src).len() {
                            let c = self.copy(as_array(src).get_unchecked(i), kind)?;
                            as_array_mut(dst).set_unchecked(i, c);
                        }
                    }
                }
                ObjKind::Map => {
                    let (kk, vk) = (as_map(src).key, as_map(src).val);
                    let entries: Vec<(Value, Value)> =
                        as_map(src).entries.iter().map(|(k, v)| (k.bits(), *v)).collect();
                    as_map_mut(dst).entries.try_reserve(entries.len())?;
                    for (k, v) in entries {
                        let (k, v) = (self.copy(k, kk)?, self.copy(v, vk)?);
                        // The key's copy hashes and compares like the source key: its
                        // content is the same, whether or not its own children are
                        // fixed yet (they are copies of the same content or the
                        // source's, which are alive).
                        as_map_mut(dst).entries.insert(MapKey::new(k, kk), v);
                    }
                }
                ObjKind::Tuple => {
                    for i in 0..as_tuple(src).items.len() {
                        let kind = as_tuple(src).kinds[i];
                        let c = self.copy(as_tuple(src).items[i], kind)?;
                        as_tuple_mut(dst).items[i] = c;
                    }
                }
                ObjKind::Struct | ObjKind::Class => {
                    let layout = as_struct(src).layout;
                    let kinds: Vec<ValKind> = with_layout(layout, |l| l.fields.iter().map(|f| f.1).collect());
                    for (i, kind) in kinds.into_iter().enumerate() {
                        let Some(&f) = as_struct(src).fields.get(i) else {
                            break;
                        };
                        let c = self.copy(f, kind)?;
                        as_struct_mut(dst).fields[i] = c;
                    }
                }
                ObjKind::Closure => {
                    for i in 0..as_closure(src).captures.len() {
                        let kind = as_closure(src).kinds[i];
                        let c = self.copy(as_closure(src).captures[i], kind)?;
                        as_closure_mut(dst).captures[i] = c;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Parcel;
    use crate::heap::{as_array, as_array_mut, as_map, as_tuple, str_bytes, Heap, MapKey};
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests): the values are live objects
    // these tests allocated, read as the kinds they were made with.

    /// A deep copy in another heap keeps sharing and cycles, is independent of the
    /// source, and survives the source heap.
    #[test]
    fn copies_keep_shape_and_independence() {
        let mut src = Heap::new(false);
        let word = src.alloc_str(&b"shared"[..]);
        let inner = src.alloc_array(ValKind::Ref, vec![word, word]);
        // A cell that contains itself: a one-element array of kind Ref.
        let cyc = src.alloc_array(ValKind::Ref, vec![Value::NULL]);
        unsafe { as_array_mut(cyc).set(0, cyc) };
        let tup = src.alloc_tuple(
            &[ValKind::Ref, ValKind::Ref, ValKind::Int, ValKind::Ref],
            &[inner, inner, Value::int(7), cyc],
        );
        let map = src.alloc_map(ValKind::Ref, ValKind::Int);
        let key = src.alloc_str(&b"key"[..]);
        unsafe {
            crate::heap::as_map_mut(map)
                .entries
                .insert(MapKey::new(key, ValKind::Ref), Value::int(3))
        };
        let parcel = unsafe {
            Parcel::pack(&[
                (tup, ValKind::Ref),
                (map, ValKind::Ref),
                (Value::int(5), ValKind::Int),
            ])
        }
        .expect("small values copy");
        drop(src);
        let mut dst = Heap::new(false);
        let before = dst.objects();
        let vals = parcel.unpack(&mut dst);
        // tuple, inner array, one string, the cycle, the map and its key.
        assert_eq!(dst.objects() - before, 6);
        assert_eq!(vals[2].as_int(), 5);
        unsafe {
            let t = as_tuple(vals[0]);
            assert_eq!(t.items[0], t.items[1], "shared array copied once");
            let a = as_array(t.items[0]).to_vec();
            assert_eq!(a[0], a[1], "shared string copied once");
            assert_eq!(str_bytes(a[0]), b"shared");
            assert_eq!(t.items[2].as_int(), 7);
            let c = t.items[3];
            assert_eq!(as_array(c).to_vec()[0], c, "cycle copied as a cycle");
            let m = as_map(vals[1]);
            let probe = dst.alloc_str(&b"key"[..]);
            assert_eq!(
                m.entries
                    .get(&MapKey::new(probe, ValKind::Ref))
                    .map(|v| v.as_int()),
                Some(3)
            );
        }
        // The copies belong to `dst`: a collection without roots frees them all.
        dst.collect(&mut |_| {});
        assert_eq!(dst.objects(), 0);
    }

    /// Scalars need no heap; a parcel dropped without unpacking frees its copies.
    #[test]
    fn scalars_and_dropped_parcels() {
        let p = Parcel::scalars(vec![Value::int(1), Value::float(2.5)]);
        assert_eq!(p.values()[1].as_float(), 2.5);
        let mut src = Heap::new(false);
        let s = src.alloc_str(&b"xy"[..]);
        let parcel = unsafe { Parcel::pack(&[(s, ValKind::Ref)]) }.expect("copy");
        drop(parcel);
        assert_eq!(src.objects(), 1);
    }
}
