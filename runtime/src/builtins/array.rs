//! Array builtins (LANGUAGE.md §9.11).
//!
//! Arrays are mutable, so none of these is `PURE` (even `array_len` reads mutable
//! state). Every index from the program is range checked; new arrays take the
//! element kind of their source array; growth is reported to the GC accounting.

use super::inline::leaf_builtin;
use super::string::null_error;
use super::{b, leaf_on_object, Builtin, Inline, KIND_OF_T};
use crate::heap::{as_array, as_array_mut, obj_kind, str_bytes, values_equal, ArrayObj, ObjKind};
use crate::limits;
use crate::rt::{Rt, RtError, RtResult};
use crate::value::{ValKind, Value};
use std::cmp::Ordering;

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("array_len", "([T]) -> int", "number of elements", array_len, 0),
    b("array_push", "([T], T) -> void", "appends an element", array_push, 0).inlined(Inline::Leaf(array_push_leaf)),
    b("array_pop", "([T]) -> T", "removes and returns the last element (an error on an empty array)", array_pop, 0).inlined(Inline::Leaf(array_pop_leaf)),
    b("array_insert", "([T], int, T) -> void", "inserts the value before the index (clamped to the array)", array_insert, 0),
    b("array_remove", "([T], int) -> T", "removes and returns the element at the index (an error out of range)", array_remove, 0),
    b("array_sort", "([T]) -> void", "sorts in place, ascending (numbers by value, strings bytewise)", array_sort, 0),
    b("array_slice", "([T], int, int) -> [T]", "a new array of the elements from the 2nd index up to (not including) the 3rd, clamped", array_slice, 0),
    b("array_concat", "([T], [T]) -> [T]", "a new array: the elements of the first, then of the second", array_concat, 0),
    b("array_copy", "([T]) -> [T]", "a shallow copy", array_copy, 0),
    b("array_clear", "([T]) -> void", "removes every element", array_clear, 0),
    b("array_index_of", "([T], T) -> int", "index of the first element `==` to the value, `-1` if none", array_index_of, 0).inlined(Inline::Leaf(array_index_of_leaf)),
    b("array_contains", "([T], T) -> bool", "whether an element `==` to the value exists", array_contains, 0).inlined(Inline::Leaf(array_contains_leaf)),
    b("array_reverse", "([T]) -> void", "reverses in place", array_reverse, 0),
    b("array_fill", "(int, T) -> [T]", "a new array of n copies of the value (the same object for a container)", array_fill, KIND_OF_T),
];

/// An array argument for reading; null is a runtime error, not a panic.
#[inline]
unsafe fn arr<'a>(v: Value) -> Result<&'a ArrayObj, RtError> {
    if v.is_null() {
        Err(null_error())
    } else {
        Ok(as_array(v))
    }
}

/// An array argument for mutation; null is a runtime error, not a panic.
///
/// # Safety
/// `v` must be null or a live array (an argument the builtin's signature types as
/// `[T]`), not otherwise borrowed while the result is in use.
#[inline]
unsafe fn arr_mut<'a>(v: Value) -> Result<&'a mut ArrayObj, RtError> {
    if v.is_null() {
        Err(null_error())
    } else {
        // SAFETY: non-null, so a live array by the caller's contract.
        Ok(unsafe { as_array_mut(v) })
    }
}

unsafe fn array_len(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(arr(a[0])?.len() as i64))
}

fn array_push(rt: &mut Rt, a: &[Value]) -> RtResult {
    // SAFETY: a[0] is the `[T]` argument of this builtin's signature (the checker
    // enforces it): null or a live array, and nothing else borrows it here.
    let items = unsafe { arr_mut(a[0]) }?;
    let before = items.capacity();
    items.grow(1)?;
    items.push(a[1]);
    // The buffer's growth counts toward the next collection; a push within
    // the capacity allocates nothing (and compiled code makes it without the
    // heap: `array_push_leaf`).
    rt.heap
        .note_growth((items.capacity() - before) * items.elem_size());
    Ok(Value::NULL)
}

/// [`array_push`]'s leaf twin ([`super::LeafFn`]): compiled code's push into
/// an array with room (no allocation: the buffer has spare capacity), without
/// the general builtin call, which was a tenth of the `strings` benchmark
/// (`rt_builtin` and `call_builtin_on`). A null array or a full buffer
/// declines to the general call, which raises or grows.
///
/// # Safety
/// `args` holds `array_push`'s two arguments (the checker's types).
unsafe extern "C" fn array_push_leaf(args: *mut Value) -> u64 {
    // SAFETY: the caller's contract; a non-null array argument is a live
    // array, which nothing else borrows during the call.
    unsafe {
        leaf_on_object(args, |array, v| {
            let items = as_array_mut(array);
            // (At the length limit the general call raises, whatever the capacity.)
            if items.len() >= items.capacity() || items.len() >= limits::MAX_ARRAY_LEN {
                return None;
            }
            items.push(v);
            Some(Value::NULL)
        })
    }
}

// The twin pops without the general builtin call (half of a loop that pushes
// and pops a stack); a null or empty array declines to it, which raises.
leaf_builtin!(array_pop, array_pop_leaf, 1, |a| {
    // SAFETY: a[0] is the `[T]` argument of this builtin's signature (the checker
    // enforces it): null or a live array, and nothing else borrows it here.
    unsafe { arr_mut(a[0]) }?
        .pop()
        .ok_or_else(|| RtError::msg("array_pop on empty array"))
});

fn array_insert(rt: &mut Rt, a: &[Value]) -> RtResult {
    // SAFETY: a[0] is the `[T]` argument of this builtin's signature (the checker
    // enforces it): null or a live array, and nothing else borrows it here.
    let items = unsafe { arr_mut(a[0]) }?;
    let i = a[1].as_int().clamp(0, items.len() as i64) as usize;
    items.grow(1)?;
    items.insert(i, a[2]);
    rt.heap.note_growth(items.elem_size());
    Ok(Value::NULL)
}

fn array_remove(_rt: &mut Rt, a: &[Value]) -> RtResult {
    // SAFETY: a[0] is the `[T]` argument of this builtin's signature (the checker
    // enforces it): null or a live array, and nothing else borrows it here.
    let items = unsafe { arr_mut(a[0]) }?;
    let i = a[1].as_int();
    if i < 0 || i >= items.len() as i64 {
        return Err(RtError::msg("array_remove: index out of bounds"));
    }
    Ok(items.remove(i as usize))
}

/// Sort each run of `items` between "barrier" elements independently. This is
/// exactly what the original's insertion sort does when some elements compare as
/// "already ordered" with everything (NaN, non-strings among strings): nothing ever
/// moves across them.
unsafe fn sort_between_barriers(
    items: &mut [Value],
    barrier: impl Fn(&Value) -> bool,
    cmp: impl Fn(&Value, &Value) -> Ordering,
) {
    for run in items.split_mut(barrier) {
        run.sort_by(&cmp);
    }
}

unsafe fn array_sort(_rt: &mut Rt, a: &[Value]) -> RtResult {
    // SAFETY: a[0] is the `[T]` argument of this builtin's signature (the checker
    // enforces it): null or a live array, and nothing else borrows it here.
    let arr = unsafe { arr_mut(a[0]) }?;
    // Equal ints (and bools) are indistinguishable, so stability is moot.
    if let Some(bools) = arr.bytes_mut() {
        bools.sort_unstable();
        return Ok(Value::NULL);
    }
    let elem = arr.elem;
    let items = arr.words_mut().unwrap_or_default();
    match elem {
        ValKind::Int | ValKind::Bool => items.sort_unstable_by_key(|v| v.as_int()),
        // Stable: 0.0 and -0.0 compare equal but print differently.
        ValKind::Float => sort_between_barriers(
            items,
            |v| v.as_float().is_nan(),
            |x, y| x.as_float().partial_cmp(&y.as_float()).unwrap_or(Ordering::Equal),
        ),
        ValKind::Ref => sort_between_barriers(
            items,
            |v| v.is_null() || obj_kind(*v) != ObjKind::Str,
            |x, y| str_bytes(*x).cmp(str_bytes(*y)),
        ),
    }
    Ok(Value::NULL)
}

unsafe fn array_slice(rt: &mut Rt, a: &[Value]) -> RtResult {
    let src = arr(a[0])?;
    let len = src.len() as i64;
    let start = a[1].as_int().clamp(0, len);
    let end = a[2].as_int().clamp(start, len);
    Ok(rt.heap.alloc_array_copy(src, start as usize..end as usize)?)
}

unsafe fn array_concat(rt: &mut Rt, a: &[Value]) -> RtResult {
    let (x, y) = (arr(a[0])?, arr(a[1])?);
    let mut items = limits::array_buf(x.len().saturating_add(y.len()))?;
    items.extend(x.iter());
    items.extend(y.iter());
    Ok(rt.heap.alloc_array(x.elem, items))
}

unsafe fn array_copy(rt: &mut Rt, a: &[Value]) -> RtResult {
    let src = arr(a[0])?;
    Ok(rt.heap.alloc_array_copy(src, 0..src.len())?)
}

unsafe fn array_clear(_rt: &mut Rt, a: &[Value]) -> RtResult {
    // SAFETY: a[0] is the `[T]` argument of this builtin's signature (the checker
    // enforces it): null or a live array, and nothing else borrows it here.
    unsafe { arr_mut(a[0]) }?.clear();
    Ok(Value::NULL)
}

/// Position of the first element equal to `v` (deep equality, LANGUAGE.md §16).
unsafe fn index_of(a: &[Value]) -> Result<Option<usize>, RtError> {
    let src = arr(a[0])?;
    Ok(src.iter().position(|x| values_equal(x, a[1], src.elem)))
}

// The searches read the array and allocate nothing on the heap: leaf twins.
leaf_builtin!(array_index_of, array_index_of_leaf, 2, |a| {
    // SAFETY: the builtin's arguments (`[T]`, `T`), of its signature.
    Ok(Value::int(unsafe { index_of(a) }?.map_or(-1, |i| i as i64)))
});

leaf_builtin!(array_contains, array_contains_leaf, 2, |a| {
    // SAFETY: as `array_index_of`.
    Ok(Value::bool(unsafe { index_of(a) }?.is_some()))
});

fn array_reverse(_rt: &mut Rt, a: &[Value]) -> RtResult {
    // SAFETY: a[0] is the `[T]` argument of this builtin's signature (the checker
    // enforces it): null or a live array, and nothing else borrows it here.
    unsafe { arr_mut(a[0]) }?.reverse();
    Ok(Value::NULL)
}

/// `array_fill(n, v)` plus the trailing `ValKind` of `T` (flag `KIND_OF_T`).
fn array_fill(rt: &mut Rt, a: &[Value]) -> RtResult {
    let n = a[0].as_int();
    let kind = ValKind::from_u8(a[2].as_int() as u8);
    let n = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
    if kind == ValKind::Bool {
        let mut bytes = limits::array_buf(n)?;
        bytes.resize(n, a[1].as_bool() as u8);
        return Ok(rt.heap.alloc_bool_array(bytes));
    }
    let mut items = limits::array_buf(n)?;
    items.resize(n, a[1]);
    Ok(rt.heap.alloc_array(kind, items))
}

#[cfg(test)]
mod tests {
    use super::super::string::testutil::*;
    use crate::heap::{as_array, as_array_mut};
    use crate::rt::Rt;
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    fn floats(v: Value) -> Vec<f64> {
        unsafe { as_array(v) }.iter().map(|x| x.as_float()).collect()
    }

    fn float_array(rt: &mut Rt, xs: &[f64]) -> Value {
        rt.heap
            .alloc_array(ValKind::Float, xs.iter().map(|&x| Value::float(x)).collect())
    }

    #[test]
    fn push_pop_len_growth() {
        let mut rt = rt();
        let a = int_array(&mut rt, &[]);
        assert_eq!(ok(&mut rt, "array_len", &[a]).as_int(), 0);
        let before = rt.heap.wants_gc();
        assert!(!before);
        for k in 0..3 {
            assert_eq!(ok(&mut rt, "array_push", &[a, i(k * 10)]), Value::NULL);
        }
        assert_eq!(ints(a), [0, 10, 20]);
        assert_eq!(ok(&mut rt, "array_len", &[a]).as_int(), 3);
        assert_eq!(ok(&mut rt, "array_pop", &[a]).as_int(), 20);
        assert_eq!(ok(&mut rt, "array_pop", &[a]).as_int(), 10);
        assert_eq!(ok(&mut rt, "array_pop", &[a]).as_int(), 0);
        assert_eq!(err(&mut rt, "array_pop", &[a]), "array_pop on empty array");
        // Growth is reported: enough pushes make the heap ask for a collection.
        rt.heap.set_stress(crate::heap::GcStress::Every);
        let b = rt.heap.alloc_array(ValKind::Int, Vec::new());
        // SAFETY: `b` is a live array of this heap.
        rt.heap.collect(&mut |m| unsafe { m.mark(b) });
        assert!(!rt.heap.wants_gc());
        ok(&mut rt, "array_push", &[b, i(1)]);
        assert!(rt.heap.wants_gc());
    }

    /// `array_pop`'s leaf twin pops as the builtin, from int and byte-wide
    /// (bool) arrays, and declines (changing nothing) on an empty array and a
    /// null one.
    #[test]
    fn pop_leaf_twin_pops_then_declines() {
        let mut rt = rt();
        let a = int_array(&mut rt, &[7, i64::MIN]);
        let bools = rt
            .heap
            .alloc_array(ValKind::Bool, vec![Value::bool(true), Value::bool(false)]);
        for (arr, want) in [
            (a, i(i64::MIN)),
            (a, i(7)),
            (bools, Value::bool(false)),
            (bools, Value::bool(true)),
        ] {
            let mut args = [arr];
            // SAFETY: a `([T])` argument block of a live array.
            assert_eq!(unsafe { super::array_pop_leaf(args.as_mut_ptr()) }, 0);
            assert_eq!(args[0], want);
        }
        for arr in [a, Value::NULL] {
            let mut args = [arr];
            // SAFETY: as above; empty, then null.
            let st = unsafe { super::array_pop_leaf(args.as_mut_ptr()) };
            assert_eq!((st, args), (crate::builtins::LEAF_DECLINED, [arr]));
        }
        assert_eq!(err(&mut rt, "array_pop", &[a]), "array_pop on empty array");
    }

    /// `array_push`'s leaf twin pushes while the buffer has room, exactly as the
    /// builtin, and declines (changing nothing) on a full buffer and a null
    /// array; the builtin counts only the buffer's growth toward a collection.
    #[test]
    fn push_leaf_twin_fills_the_capacity_then_declines() {
        let mut rt = rt();
        let a = rt.heap.alloc_array(ValKind::Int, Vec::with_capacity(3));
        for k in 0..3 {
            let mut args = [a, i(k)];
            // SAFETY: an `([int], int)` argument block of live values.
            assert_eq!(unsafe { super::array_push_leaf(args.as_mut_ptr()) }, 0);
        }
        assert_eq!(ints(a), [0, 1, 2]);
        let mut args = [a, i(3)];
        // SAFETY: as above; the buffer is full.
        let st = unsafe { super::array_push_leaf(args.as_mut_ptr()) };
        assert_eq!((st, args), (crate::builtins::LEAF_DECLINED, [a, i(3)]));
        assert_eq!(ints(a), [0, 1, 2]);
        // The general call grows the buffer, and only that growth is counted.
        rt.heap.set_stress(crate::heap::GcStress::Every);
        // SAFETY: `a` is a live array of this heap.
        rt.heap.collect(&mut |m| unsafe { m.mark(a) });
        ok(&mut rt, "array_push", &[a, i(3)]);
        assert!(rt.heap.wants_gc());
        assert_eq!(ints(a), [0, 1, 2, 3]);
        let mut args = [Value::NULL, i(1)];
        // SAFETY: as above, with a null array.
        let st = unsafe { super::array_push_leaf(args.as_mut_ptr()) };
        assert_eq!((st, args), (crate::builtins::LEAF_DECLINED, [Value::NULL, i(1)]));
    }

    #[test]
    fn insert_and_remove() {
        let mut rt = rt();
        let a = int_array(&mut rt, &[1, 2, 3]);
        ok(&mut rt, "array_insert", &[a, i(1), i(9)]);
        assert_eq!(ints(a), [1, 9, 2, 3]);
        ok(&mut rt, "array_insert", &[a, i(-5), i(0)]);
        assert_eq!(ints(a), [0, 1, 9, 2, 3]);
        ok(&mut rt, "array_insert", &[a, i(i64::MAX), i(7)]);
        assert_eq!(ints(a), [0, 1, 9, 2, 3, 7]);
        ok(&mut rt, "array_insert", &[a, i(i64::MIN), i(-1)]);
        ok(&mut rt, "array_insert", &[a, i(7), i(8)]);
        assert_eq!(ints(a), [-1, 0, 1, 9, 2, 3, 7, 8]);
        assert_eq!(ok(&mut rt, "array_remove", &[a, i(3)]).as_int(), 9);
        assert_eq!(ok(&mut rt, "array_remove", &[a, i(0)]).as_int(), -1);
        assert_eq!(ok(&mut rt, "array_remove", &[a, i(5)]).as_int(), 8);
        assert_eq!(ints(a), [0, 1, 2, 3, 7]);
        for bad in [5, -1, i64::MIN, i64::MAX] {
            assert_eq!(
                err(&mut rt, "array_remove", &[a, i(bad)]),
                "array_remove: index out of bounds"
            );
        }
        let e = int_array(&mut rt, &[]);
        assert_eq!(
            err(&mut rt, "array_remove", &[e, i(0)]),
            "array_remove: index out of bounds"
        );
    }

    #[test]
    fn sort_ints_bools_strings() {
        let mut rt = rt();
        let a = int_array(&mut rt, &[5, -1, 3, i64::MIN, 3, i64::MAX, 0]);
        ok(&mut rt, "array_sort", &[a]);
        assert_eq!(ints(a), [i64::MIN, -1, 0, 3, 3, 5, i64::MAX]);
        let bools = rt.heap.alloc_array(
            ValKind::Bool,
            [true, false, true, false].map(Value::bool).to_vec(),
        );
        ok(&mut rt, "array_sort", &[bools]);
        assert_eq!(ints(bools), [0, 0, 1, 1]);
        let words = str_array(&mut rt, &["pear", "Apple", "apple", "", "app", "b"]);
        ok(&mut rt, "array_sort", &[words]);
        assert_eq!(texts(words), ["", "Apple", "app", "apple", "b", "pear"]);
        let e = int_array(&mut rt, &[]);
        ok(&mut rt, "array_sort", &[e]);
        assert!(ints(e).is_empty());
    }

    #[test]
    fn sort_is_stable() {
        let mut rt = rt();
        // Equal strings that are distinct objects keep their relative order.
        let words = str_array(&mut rt, &["b", "a", "b", "a", "b"]);
        let before: Vec<Value> = unsafe { as_array(words) }.to_vec();
        ok(&mut rt, "array_sort", &[words]);
        let after = unsafe { as_array(words) }.to_vec();
        assert_eq!(after[..], [before[1], before[3], before[0], before[2], before[4]]);
        // 0.0 and -0.0 are equal: their order is kept.
        let zs = float_array(&mut rt, &[1.0, 0.0, -0.0, -1.0, -0.0, 0.0]);
        ok(&mut rt, "array_sort", &[zs]);
        let bits: Vec<bool> = floats(zs).iter().map(|x| x.is_sign_negative()).collect();
        assert_eq!(floats(zs), [-1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(bits, [true, false, true, true, false, false]);
    }

    #[test]
    fn sort_barriers() {
        let mut rt = rt();
        let xs = float_array(&mut rt, &[3.0, 1.0, f64::NAN, 2.0, -1.0, 0.5]);
        ok(&mut rt, "array_sort", &[xs]);
        let got = floats(xs);
        assert_eq!(got[..2], [1.0, 3.0]);
        assert!(got[2].is_nan());
        assert_eq!(got[3..], [-1.0, 0.5, 2.0]);
        // Non-strings in a reference array never move and nothing crosses them.
        let inner = int_array(&mut rt, &[]);
        let c = rt.str(&b"c"[..]);
        let a_ = rt.str(&b"a"[..]);
        let b_ = rt.str(&b"b"[..]);
        let mixed = rt
            .heap
            .alloc_array(ValKind::Ref, vec![c, a_, Value::NULL, b_, a_, inner, c, b_]);
        ok(&mut rt, "array_sort", &[mixed]);
        assert_eq!(
            unsafe { as_array(mixed) }.to_vec()[..],
            [a_, c, Value::NULL, a_, b_, inner, b_, c]
        );
        // Arrays of arrays are left alone.
        let i2 = int_array(&mut rt, &[1]);
        let nested = rt.heap.alloc_array(ValKind::Ref, vec![i2, inner]);
        ok(&mut rt, "array_sort", &[nested]);
        assert_eq!(unsafe { as_array(nested) }.to_vec()[..], [i2, inner]);
    }

    #[test]
    fn slices() {
        let mut rt = rt();
        let a = int_array(&mut rt, &[0, 1, 2, 3, 4]);
        let cases: &[(i64, i64, &[i64])] = &[
            (1, 3, &[1, 2]),
            (0, 5, &[0, 1, 2, 3, 4]),
            (-3, 2, &[0, 1]),
            (3, 100, &[3, 4]),
            (3, 3, &[]),
            (4, 2, &[]),
            (7, 9, &[]),
            (-5, -1, &[]),
            (i64::MIN, i64::MAX, &[0, 1, 2, 3, 4]),
            (i64::MAX, i64::MIN, &[]),
        ];
        for &(st, en, want) in cases {
            let s = ok(&mut rt, "array_slice", &[a, i(st), i(en)]);
            assert_eq!(ints(s), want, "slice({st}, {en})");
            assert_eq!(unsafe { as_array(s) }.elem, ValKind::Int);
        }
        let fs = float_array(&mut rt, &[1.5]);
        assert_eq!(
            unsafe { as_array(ok(&mut rt, "array_slice", &[fs, i(0), i(0)])) }.elem,
            ValKind::Float
        );
    }

    #[test]
    fn concat_copy_clear_reverse() {
        let mut rt = rt();
        let a = int_array(&mut rt, &[1, 2]);
        let b = int_array(&mut rt, &[3]);
        let c = ok(&mut rt, "array_concat", &[a, b]);
        assert_eq!(ints(c), [1, 2, 3]);
        assert_eq!(ints(ok(&mut rt, "array_concat", &[a, a])), [1, 2, 1, 2]);
        let words = str_array(&mut rt, &["x"]);
        let c2 = ok(&mut rt, "array_concat", &[words, words]);
        assert_eq!(unsafe { as_array(c2) }.elem, ValKind::Ref);
        assert_eq!(texts(c2), ["x", "x"]);
        let copy = ok(&mut rt, "array_copy", &[a]);
        assert_ne!(copy, a);
        // SAFETY: `copy` is a live array of this test's heap.
        unsafe { as_array_mut(copy) }.push(i(9));
        assert_eq!(ints(a), [1, 2]);
        assert_eq!(
            unsafe { as_array(ok(&mut rt, "array_copy", &[words])) }.elem,
            ValKind::Ref
        );
        ok(&mut rt, "array_reverse", &[c]);
        assert_eq!(ints(c), [3, 2, 1]);
        assert_eq!(ok(&mut rt, "array_clear", &[c]), Value::NULL);
        assert!(ints(c).is_empty());
        ok(&mut rt, "array_reverse", &[c]);
        assert!(ints(c).is_empty());
    }

    #[test]
    fn index_of_and_contains() {
        let mut rt = rt();
        let a = int_array(&mut rt, &[5, 6, 5]);
        assert_eq!(ok(&mut rt, "array_index_of", &[a, i(5)]).as_int(), 0);
        assert_eq!(ok(&mut rt, "array_index_of", &[a, i(6)]).as_int(), 1);
        assert_eq!(ok(&mut rt, "array_index_of", &[a, i(7)]).as_int(), -1);
        assert!(ok(&mut rt, "array_contains", &[a, i(6)]).as_bool());
        assert!(!ok(&mut rt, "array_contains", &[a, i(7)]).as_bool());
        // Strings by content.
        let words = str_array(&mut rt, &["a", "b"]);
        let b = s(&mut rt, "b");
        assert_eq!(ok(&mut rt, "array_index_of", &[words, b]).as_int(), 1);
        // Floats by IEEE equality.
        let fs = float_array(&mut rt, &[f64::NAN, -0.0]);
        assert_eq!(ok(&mut rt, "array_index_of", &[fs, f(f64::NAN)]).as_int(), -1);
        assert_eq!(ok(&mut rt, "array_index_of", &[fs, f(0.0)]).as_int(), 1);
        // Containers deeply (§16).
        let x1 = int_array(&mut rt, &[1, 2]);
        let x2 = int_array(&mut rt, &[1, 2]);
        let x3 = int_array(&mut rt, &[1]);
        let nested = rt.heap.alloc_array(ValKind::Ref, vec![x3, x1]);
        assert_eq!(ok(&mut rt, "array_index_of", &[nested, x2]).as_int(), 1);
        assert!(ok(&mut rt, "array_contains", &[nested, x2]).as_bool());
        let empty = int_array(&mut rt, &[]);
        assert!(!ok(&mut rt, "array_contains", &[nested, empty]).as_bool());
    }

    /// The searches' leaf twins give the builtins' results, on ints, strings,
    /// floats and nested arrays, and decline on a null array.
    #[test]
    fn search_twins_agree() {
        let mut rt = rt();
        let ints = int_array(&mut rt, &[5, 6, 5]);
        let words = str_array(&mut rt, &["a", "b"]);
        let fs = float_array(&mut rt, &[f64::NAN, -0.0]);
        let x1 = int_array(&mut rt, &[1, 2]);
        let x2 = int_array(&mut rt, &[1, 2]);
        let nested = rt.heap.alloc_array(ValKind::Ref, vec![x1]);
        let (a, b, z) = (s(&mut rt, "a"), s(&mut rt, "b"), s(&mut rt, "z"));
        let cases = [
            (ints, i(6)),
            (ints, i(7)),
            (words, b),
            (words, a),
            (words, z),
            (fs, f(f64::NAN)),
            (fs, f(0.0)),
            (nested, x2),
            (Value::NULL, i(1)),
        ];
        for (array, x) in cases {
            for name in ["array_index_of", "array_contains"] {
                twin_agrees(&mut rt, name, &[array, x]);
            }
        }
    }

    #[test]
    fn fill() {
        let mut rt = rt();
        let a = ok(&mut rt, "array_fill", &[i(3), i(7), i(ValKind::Int as i64)]);
        assert_eq!(ints(a), [7, 7, 7]);
        assert_eq!(unsafe { as_array(a) }.elem, ValKind::Int);
        let e = ok(&mut rt, "array_fill", &[i(-1), f(1.0), i(ValKind::Float as i64)]);
        assert!(floats(e).is_empty());
        assert_eq!(unsafe { as_array(e) }.elem, ValKind::Float);
        let e = ok(
            &mut rt,
            "array_fill",
            &[i(i64::MIN), f(1.0), i(ValKind::Float as i64)],
        );
        assert!(floats(e).is_empty());
        let inner = int_array(&mut rt, &[]);
        let grid = ok(&mut rt, "array_fill", &[i(2), inner, i(ValKind::Ref as i64)]);
        assert_eq!(unsafe { as_array(grid) }.elem, ValKind::Ref);
        assert_eq!(unsafe { as_array(grid) }.to_vec()[..], [inner, inner]);
        assert_eq!(
            err(&mut rt, "array_fill", &[i(i64::MAX), i(0), i(0)]),
            crate::limits::ARRAY_TOO_LARGE
        );
    }

    #[test]
    fn null_arrays_are_errors_not_panics() {
        let mut rt = rt();
        let n = Value::NULL;
        let cases: &[(&str, &[Value])] = &[
            ("array_len", &[n]),
            ("array_push", &[n, Value::int(1)]),
            ("array_pop", &[n]),
            ("array_insert", &[n, Value::int(0), Value::int(1)]),
            ("array_remove", &[n, Value::int(0)]),
            ("array_sort", &[n]),
            ("array_slice", &[n, Value::int(0), Value::int(1)]),
            ("array_concat", &[n, n]),
            ("array_copy", &[n]),
            ("array_clear", &[n]),
            ("array_index_of", &[n, Value::int(0)]),
            ("array_contains", &[n, Value::int(0)]),
            ("array_reverse", &[n]),
        ];
        for (name, args) in cases {
            assert_eq!(err(&mut rt, name, args), "null reference", "{name}");
        }
    }
}
