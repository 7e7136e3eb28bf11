//! Map builtins (LANGUAGE.md §9.12). Maps keep insertion order (§16); keys are
//! compared by value ([`MapKey`]). Maps are mutable, so none of these is `PURE`.

use super::inline::leaf_builtin;
use super::string::null_error;
use super::{b, leaf_on_object, Builtin, Inline};
use crate::heap::{as_map, as_map_mut, MapKey, MapObj};
use crate::limits;
use crate::rt::{Rt, RtError, RtResult};
use crate::value::Value;

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("map_len", "({K: V}) -> int", "number of entries", map_len, 0).inlined(Inline::Leaf(map_len_leaf)),
    b("map_keys", "({K: V}) -> [K]", "the keys, in insertion order", map_keys, 0),
    b("map_values", "({K: V}) -> [V]", "the values, in the order of `map_keys`", map_values, 0),
    b("map_has_key", "({K: V}, K) -> bool", "whether the key is present", map_has_key, 0).inlined(Inline::MapFind(map_find_leaf)),
    b("map_delete", "({K: V}, K) -> bool", "removes the key; whether it was present", map_delete, 0),
];

/// A map argument; null is a runtime error, not a panic.
#[inline]
unsafe fn map<'a>(v: Value) -> Result<&'a MapObj, RtError> {
    if v.is_null() {
        Err(null_error())
    } else {
        Ok(as_map(v))
    }
}

leaf_builtin!(map_len, map_len_leaf, 1, |a| Ok(Value::int(
    map(a[0])?.entries.len() as i64
)));

unsafe fn map_keys(rt: &mut Rt, a: &[Value]) -> RtResult {
    let m = map(a[0])?;
    let mut keys = limits::array_buf(m.entries.len())?;
    keys.extend(m.entries.keys().map(|k| k.bits()));
    Ok(rt.heap.alloc_array(m.key, keys))
}

unsafe fn map_values(rt: &mut Rt, a: &[Value]) -> RtResult {
    let m = map(a[0])?;
    let mut values = limits::array_buf(m.entries.len())?;
    values.extend(m.entries.values().copied());
    Ok(rt.heap.alloc_array(m.val, values))
}

unsafe fn map_has_key(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let m = map(a[0])?;
    Ok(Value::bool(m.entries.contains_key(&MapKey::new(a[1], m.key))))
}

/// [`map_has_key`]'s find twin, which compiled code also calls to place the
/// key of `m[k]`.
pub const FIND_TWIN: super::LeafFn = map_find_leaf;

/// [`map_has_key`]'s find twin ([`Inline::MapFind`]): compiled code's
/// membership test, without the general builtin call (a tenth of an int-keyed
/// lookup loop), giving where the key is: its entry's position plus one, 0 if
/// it is absent. Declines on a null map.
///
/// # Safety
/// `args` holds `map_has_key`'s two arguments (the checker's types).
unsafe extern "C" fn map_find_leaf(args: *mut Value) -> u64 {
    // SAFETY: the caller's contract; a non-null map argument is a live map.
    unsafe {
        leaf_on_object(args, |m, k| {
            let m = as_map(m);
            let pos = m.entries.position(&MapKey::new(k, m.key));
            Some(Value::int(pos.map_or(0, |p| p as i64 + 1)))
        })
    }
}

unsafe fn map_delete(_rt: &mut Rt, a: &[Value]) -> RtResult {
    if a[0].is_null() {
        return Err(null_error());
    }
    // SAFETY: a[0] is the non-null `{K: V}` argument of this builtin's signature
    // (the checker enforces it): a live map, and nothing else borrows it here.
    let m = unsafe { as_map_mut(a[0]) };
    let key = MapKey::new(a[1], m.key);
    Ok(Value::bool(m.entries.remove(&key).is_some()))
}

#[cfg(test)]
mod tests {
    use super::super::string::testutil::*;
    use crate::heap::{as_array, as_map_mut, MapKey};
    use crate::rt::Rt;
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    fn str_int_map(rt: &mut Rt, pairs: &[(&str, i64)]) -> Value {
        let m = rt.heap.alloc_map(ValKind::Ref, ValKind::Int);
        for &(k, v) in pairs {
            let k = rt.str(k.as_bytes());
            // SAFETY: `m` is a live map of this test's heap.
            unsafe { as_map_mut(m) }
                .entries
                .insert(unsafe { MapKey::new(k, ValKind::Ref) }, Value::int(v));
        }
        m
    }

    /// `map_has_key`'s find twin answers as the builtin on present and absent
    /// keys, with the position of a present key's entry (plus one), and
    /// declines (changing nothing) on a null map.
    #[test]
    fn has_key_find_twin_agrees() {
        let mut rt = rt();
        let m = str_int_map(&mut rt, &[("a", 1), ("a rather longer key", 2)]);
        let keys = [
            ("a", 1),
            ("b", 0),
            ("a rather longer key", 2),
            ("a rather longer kez", 0),
            ("", 0),
        ];
        for (key, pos1) in keys {
            let k = rt.str(key.as_bytes());
            let mut args = [m, k];
            // SAFETY: a `({str: int}, str)` argument block of live values.
            assert_eq!(unsafe { super::map_find_leaf(args.as_mut_ptr()) }, 0);
            assert_eq!(args[0].as_int(), pos1, "{key}");
            let found = ok(&mut rt, "map_has_key", &[m, k]);
            assert_eq!(Value::bool(pos1 != 0), found, "{key}");
        }
        let k = rt.str("a".as_bytes());
        let mut args = [Value::NULL, k];
        // SAFETY: as above, with a null map.
        let st = unsafe { super::map_find_leaf(args.as_mut_ptr()) };
        assert_eq!(st, crate::builtins::LEAF_DECLINED);
        assert_eq!(args, [Value::NULL, k]);
    }

    #[test]
    fn len_keys_values_in_insertion_order() {
        let mut rt = rt();
        let m = str_int_map(&mut rt, &[("zeta", 1), ("alpha", 2), ("mid", 3), ("alpha", 4)]);
        assert_eq!(ok(&mut rt, "map_len", &[m]).as_int(), 3);
        let keys = ok(&mut rt, "map_keys", &[m]);
        assert_eq!(texts(keys), ["zeta", "alpha", "mid"]);
        assert_eq!(unsafe { as_array(keys) }.elem, ValKind::Ref);
        let values = ok(&mut rt, "map_values", &[m]);
        assert_eq!(ints(values), [1, 4, 3]);
        assert_eq!(unsafe { as_array(values) }.elem, ValKind::Int);
        let e = rt.heap.alloc_map(ValKind::Int, ValKind::Float);
        assert_eq!(ok(&mut rt, "map_len", &[e]).as_int(), 0);
        assert_eq!(
            unsafe { as_array(ok(&mut rt, "map_keys", &[e])) }.elem,
            ValKind::Int
        );
        assert_eq!(
            unsafe { as_array(ok(&mut rt, "map_values", &[e])) }.elem,
            ValKind::Float
        );
    }

    #[test]
    fn has_key_and_delete_keep_order() {
        let mut rt = rt();
        let m = str_int_map(&mut rt, &[("a", 1), ("b", 2), ("c", 3), ("d", 4)]);
        // Lookups by content: a different string object with the same bytes.
        let b = s(&mut rt, "b");
        let x = s(&mut rt, "x");
        assert!(ok(&mut rt, "map_has_key", &[m, b]).as_bool());
        assert!(!ok(&mut rt, "map_has_key", &[m, x]).as_bool());
        assert!(ok(&mut rt, "map_delete", &[m, b]).as_bool());
        assert!(!ok(&mut rt, "map_delete", &[m, b]).as_bool());
        assert!(!ok(&mut rt, "map_delete", &[m, x]).as_bool());
        assert!(!ok(&mut rt, "map_has_key", &[m, b]).as_bool());
        assert_eq!(texts(ok(&mut rt, "map_keys", &[m])), ["a", "c", "d"]);
        assert_eq!(ints(ok(&mut rt, "map_values", &[m])), [1, 3, 4]);
        assert_eq!(ok(&mut rt, "map_len", &[m]).as_int(), 3);
    }

    #[test]
    fn scalar_keys() {
        let mut rt = rt();
        let m = rt.heap.alloc_map(ValKind::Float, ValKind::Int);
        // SAFETY: `m` is a live map of this test's heap.
        unsafe { as_map_mut(m) }
            .entries
            .insert(unsafe { MapKey::new(f(0.0), ValKind::Float) }, i(1));
        // SAFETY: `m` is a live map of this test's heap.
        unsafe { as_map_mut(m) }
            .entries
            .insert(unsafe { MapKey::new(f(f64::NAN), ValKind::Float) }, i(2));
        assert!(ok(&mut rt, "map_has_key", &[m, f(-0.0)]).as_bool());
        assert!(!ok(&mut rt, "map_has_key", &[m, f(f64::NAN)]).as_bool());
        assert!(!ok(&mut rt, "map_has_key", &[m, f(1.0)]).as_bool());
        let im = rt.heap.alloc_map(ValKind::Int, ValKind::Int);
        // SAFETY: `im` is a live map of this test's heap.
        unsafe { as_map_mut(im) }
            .entries
            .insert(unsafe { MapKey::new(i(i64::MIN), ValKind::Int) }, i(1));
        assert!(ok(&mut rt, "map_has_key", &[im, i(i64::MIN)]).as_bool());
        assert!(ok(&mut rt, "map_delete", &[im, i(i64::MIN)]).as_bool());
        assert_eq!(ok(&mut rt, "map_len", &[im]).as_int(), 0);
    }

    #[test]
    fn null_maps_are_errors_not_panics() {
        let mut rt = rt();
        for name in ["map_len", "map_keys", "map_values"] {
            assert_eq!(err(&mut rt, name, &[Value::NULL]), "null reference");
        }
        for name in ["map_has_key", "map_delete"] {
            assert_eq!(err(&mut rt, name, &[Value::NULL, i(1)]), "null reference");
        }
    }
}
