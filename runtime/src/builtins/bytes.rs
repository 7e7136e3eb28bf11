//! Byte buffers (LANGUAGE.md §9.14): ordinary `[int]` arrays whose elements are
//! used as bytes. Reads mask elements to 8 bits; writes store `v & 255`.
//! Multi-byte `bytes_write_*`/`bytes_read_*` are little-endian, `int_to_bytes` /
//! `int_from_bytes` big-endian. Every index and range is checked; violations are
//! the runtime errors of §7.2.

use super::inline::leaf_builtin;
use super::string::null_error;
use super::{b, Builtin, Inline};
use crate::heap::{as_array, as_array_mut, ArrayObj};
use crate::limits;
use crate::rt::{Rt, RtError, RtResult};
use crate::value::{ValKind, Value};

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("bytes_new", "(int) -> [int]", "a buffer of n zero bytes", bytes_new, 0),
    b("bytes_len", "([int]) -> int", "length of the buffer", bytes_len, 0).inlined(Inline::Leaf(bytes_len_leaf)),
    b("bytes_get", "([int], int) -> int", "the byte at the index (0 to 255)", bytes_get, 0).inlined(Inline::Leaf(bytes_get_leaf)),
    b("bytes_set", "([int], int, int) -> void", "stores the low 8 bits of the 3rd at the index", bytes_set, 0).inlined(Inline::Leaf(bytes_set_leaf)),
    b("bytes_append", "([int], int) -> void", "appends the low 8 bits of the value", bytes_append, 0),
    b("bytes_write_u16", "([int], int) -> void", "appends 2 bytes, little-endian", bytes_write_u16, 0),
    b("bytes_write_u32", "([int], int) -> void", "appends 4 bytes, little-endian", bytes_write_u32, 0),
    b("bytes_write_i64", "([int], int) -> void", "appends 8 bytes, little-endian", bytes_write_i64, 0),
    b("bytes_read_u16", "([int], int) -> int", "the unsigned 2-byte little-endian value at the offset", bytes_read_u16, 0),
    b("bytes_read_u32", "([int], int) -> int", "the unsigned 4-byte little-endian value at the offset", bytes_read_u32, 0),
    b("bytes_read_i64", "([int], int) -> int", "the 8-byte little-endian value at the offset", bytes_read_i64, 0),
    b("int_to_bytes", "(int, int) -> [int]", "the 1st as big-endian bytes, as many as the 2nd (1 to 8)", int_to_bytes, 0),
    b("int_from_bytes", "([int], int, int) -> int", "the unsigned big-endian value at the offset (2nd) of as many bytes as the 3rd (1 to 8)", int_from_bytes, 0),
];

unsafe fn arr<'a>(v: Value) -> Result<&'a ArrayObj, RtError> {
    if v.is_null() {
        Err(null_error())
    } else {
        Ok(as_array(v))
    }
}

/// The array for a builtin that stores ints into it. Storing ints into an array of
/// references would corrupt the heap, so a mismatched array (only possible through
/// a type-system hole) is an error.
///
/// # Safety
/// `v` must be null or a live array (an argument the builtin's signature types as
/// `[int]`), not otherwise borrowed while the result is in use.
unsafe fn int_arr_mut<'a>(v: Value, name: &str) -> Result<&'a mut ArrayObj, RtError> {
    if v.is_null() {
        return Err(null_error());
    }
    // SAFETY: non-null, so a live array by the caller's contract.
    let a = unsafe { as_array_mut(v) };
    if a.elem != ValKind::Int {
        return Err(RtError::msg(format!("{name} expects ([int], ...)")));
    }
    Ok(a)
}

/// The index `i` if `0 <= i < len`.
fn index(i: i64, len: usize) -> Option<usize> {
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// The start of the range `off .. off + n` if it lies inside `0..len`.
fn range(off: i64, n: usize, len: usize) -> Option<usize> {
    usize::try_from(off)
        .ok()
        .filter(|&o| o.checked_add(n).is_some_and(|end| end <= len))
}

fn byte(v: Value) -> u64 {
    (v.as_int() as u64) & 255
}

fn bytes_new(rt: &mut Rt, a: &[Value]) -> RtResult {
    // A buffer is an `[int]` array: the array size cap applies.
    let n = usize::try_from(a[0].as_int().max(0)).unwrap_or(usize::MAX);
    let mut items = limits::array_buf(n)?;
    items.resize(n, Value::int(0));
    Ok(rt.heap.alloc_array(ValKind::Int, items))
}

// Reading and storing one byte allocates nothing: leaf twins, so that a loop
// over a buffer does not pay the general builtin call per byte.
leaf_builtin!(bytes_len, bytes_len_leaf, 1, |a| {
    // SAFETY: a[0] is the `[int]` argument of this builtin's signature.
    Ok(Value::int(unsafe { arr(a[0]) }?.len() as i64))
});

leaf_builtin!(bytes_get, bytes_get_leaf, 2, |a| {
    // SAFETY: as `bytes_len`.
    let items = unsafe { arr(a[0]) }?;
    match index(a[1].as_int(), items.len()).and_then(|i| items.get(i)) {
        Some(x) => Ok(Value::int(byte(x) as i64)),
        None => Err(RtError::msg("bytes_get: index out of bounds")),
    }
});

leaf_builtin!(bytes_set, bytes_set_leaf, 3, |a| {
    // SAFETY: a[0] is the `[int]` argument of this builtin's signature (the
    // checker enforces it): null or a live array, and nothing else borrows it here.
    let items = unsafe { int_arr_mut(a[0], "bytes_set") }?;
    match index(a[1].as_int(), items.len()) {
        Some(i) if items.set(i, Value::int(byte(a[2]) as i64)) => Ok(Value::NULL),
        _ => Err(RtError::msg("bytes_set: index out of bounds")),
    }
});

/// Append the low `n` bytes of `v`, little-endian.
fn append_le(rt: &mut Rt, a: &[Value], n: usize, name: &str) -> RtResult {
    // SAFETY: a[0] is the `[int]` argument of this builtin's signature (the
    // checker enforces it): null or a live array, and nothing else borrows it here.
    let items = unsafe { int_arr_mut(a[0], name) }?;
    let v = a[1].as_int() as u64;
    items.grow(n)?;
    items.extend((0..n).map(|k| Value::int(((v >> (8 * k)) & 255) as i64)));
    rt.heap.note_growth(8 * n);
    Ok(Value::NULL)
}

fn bytes_append(rt: &mut Rt, a: &[Value]) -> RtResult {
    append_le(rt, a, 1, "bytes_append")
}

fn bytes_write_u16(rt: &mut Rt, a: &[Value]) -> RtResult {
    append_le(rt, a, 2, "bytes_write_u16")
}

fn bytes_write_u32(rt: &mut Rt, a: &[Value]) -> RtResult {
    append_le(rt, a, 4, "bytes_write_u32")
}

fn bytes_write_i64(rt: &mut Rt, a: &[Value]) -> RtResult {
    append_le(rt, a, 8, "bytes_write_i64")
}

/// Read `n` bytes little-endian at `off` (unsigned below 8 bytes).
unsafe fn read_le(a: &[Value], n: usize, name: &str) -> RtResult {
    let items = arr(a[0])?;
    let Some(off) = range(a[1].as_int(), n, items.len()) else {
        return Err(RtError::msg(format!("{name}: out of bounds")));
    };
    let v = items
        .iter()
        .skip(off)
        .take(n)
        .rev()
        .fold(0u64, |acc, x| (acc << 8) | byte(x));
    Ok(Value::int(v as i64))
}

unsafe fn bytes_read_u16(_rt: &mut Rt, a: &[Value]) -> RtResult {
    read_le(a, 2, "bytes_read_u16")
}

unsafe fn bytes_read_u32(_rt: &mut Rt, a: &[Value]) -> RtResult {
    read_le(a, 4, "bytes_read_u32")
}

unsafe fn bytes_read_i64(_rt: &mut Rt, a: &[Value]) -> RtResult {
    read_le(a, 8, "bytes_read_i64")
}

/// A size argument that must be 1..8.
fn size(v: Value, name: &str) -> Result<usize, RtError> {
    match v.as_int() {
        n @ 1..=8 => Ok(n as usize),
        _ => Err(RtError::msg(format!("{name}: size must be 1-8"))),
    }
}

fn int_to_bytes(rt: &mut Rt, a: &[Value]) -> RtResult {
    let n = size(a[1], "int_to_bytes")?;
    let v = a[0].as_int() as u64;
    let items = (0..n)
        .rev()
        .map(|k| Value::int(((v >> (8 * k)) & 255) as i64))
        .collect();
    Ok(rt.heap.alloc_array(ValKind::Int, items))
}

unsafe fn int_from_bytes(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let items = arr(a[0])?;
    let n = size(a[2], "int_from_bytes")?;
    let Some(off) = range(a[1].as_int(), n, items.len()) else {
        return Err(RtError::msg("int_from_bytes: out of bounds"));
    };
    let v = items
        .iter()
        .skip(off)
        .take(n)
        .fold(0u64, |acc, x| (acc << 8) | byte(x));
    Ok(Value::int(v as i64))
}

#[cfg(test)]
mod tests {
    use crate::builtins::string::testutil::*;
    use crate::heap::as_array;
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    #[test]
    fn new_len_get_set() {
        let mut rt = rt();
        let b = ok(&mut rt, "bytes_new", &[i(3)]);
        assert_eq!(ints(b), [0, 0, 0]);
        assert_eq!(unsafe { as_array(b) }.elem, ValKind::Int);
        assert!(ints(ok(&mut rt, "bytes_new", &[i(-4)])).is_empty());
        assert!(ints(ok(&mut rt, "bytes_new", &[i(i64::MIN)])).is_empty());
        assert_eq!(
            err(&mut rt, "bytes_new", &[i(i64::MAX)]),
            crate::limits::ARRAY_TOO_LARGE
        );
        assert_eq!(ok(&mut rt, "bytes_len", &[b]).as_int(), 3);

        ok(&mut rt, "bytes_set", &[b, i(0), i(0x1ff)]);
        ok(&mut rt, "bytes_set", &[b, i(2), i(-1)]);
        assert_eq!(ints(b), [255, 0, 255]);
        assert_eq!(ok(&mut rt, "bytes_get", &[b, i(0)]).as_int(), 255);
        // Elements outside 0..255 (written with plain indexing) read masked.
        let raw = int_array(&mut rt, &[300, -2]);
        assert_eq!(ok(&mut rt, "bytes_get", &[raw, i(0)]).as_int(), 44);
        assert_eq!(ok(&mut rt, "bytes_get", &[raw, i(1)]).as_int(), 254);

        for bad in [-1, 3, i64::MIN, i64::MAX] {
            assert_eq!(
                err(&mut rt, "bytes_get", &[b, i(bad)]),
                "bytes_get: index out of bounds"
            );
            assert_eq!(
                err(&mut rt, "bytes_set", &[b, i(bad), i(1)]),
                "bytes_set: index out of bounds"
            );
        }
        assert_eq!(ints(b), [255, 0, 255]);
    }

    /// The byte twins give the builtins' results and store what they store;
    /// they decline out of bounds and on a null buffer.
    #[test]
    fn byte_twins_agree() {
        let mut rt = rt();
        let buf = ok(&mut rt, "bytes_new", &[i(4)]);
        twin_agrees(&mut rt, "bytes_len", &[buf]);
        twin_agrees(&mut rt, "bytes_len", &[Value::NULL]);
        for (at, v) in [(0, 300), (3, -1), (4, 1), (-1, 1)] {
            twin_agrees(&mut rt, "bytes_set", &[buf, i(at), i(v)]);
            twin_agrees(&mut rt, "bytes_get", &[buf, i(at)]);
        }
        twin_agrees(&mut rt, "bytes_set", &[Value::NULL, i(0), i(1)]);
        twin_agrees(&mut rt, "bytes_get", &[Value::NULL, i(0)]);
        // SAFETY: `buf` is a live `[int]` array.
        let items: Vec<i64> = unsafe { as_array(buf) }.iter().map(|v| v.as_int()).collect();
        assert_eq!(items, [44, 0, 0, 255]);
    }

    #[test]
    fn append_and_little_endian() {
        let mut rt = rt();
        let b = int_array(&mut rt, &[]);
        ok(&mut rt, "bytes_append", &[b, i(0x141)]);
        ok(&mut rt, "bytes_write_u16", &[b, i(0xabcd)]);
        ok(&mut rt, "bytes_write_u32", &[b, i(0x1234_5678_9abc)]);
        ok(&mut rt, "bytes_write_i64", &[b, i(-2)]);
        assert_eq!(
            ints(b),
            [0x41, 0xcd, 0xab, 0xbc, 0x9a, 0x78, 0x56, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(ok(&mut rt, "bytes_read_u16", &[b, i(1)]).as_int(), 0xabcd);
        assert_eq!(ok(&mut rt, "bytes_read_u32", &[b, i(3)]).as_int(), 0x5678_9abc);
        assert_eq!(ok(&mut rt, "bytes_read_i64", &[b, i(7)]).as_int(), -2);
        let full = int_array(&mut rt, &[255, 255, 255, 255]);
        assert_eq!(
            ok(&mut rt, "bytes_read_u32", &[full, i(0)]).as_int(),
            4_294_967_295
        );
        assert_eq!(ok(&mut rt, "bytes_read_u16", &[full, i(2)]).as_int(), 65535);
    }

    #[test]
    fn read_bounds() {
        let mut rt = rt();
        let b = int_array(&mut rt, &[1, 2, 3, 4]);
        for (name, n) in [
            ("bytes_read_u16", 2),
            ("bytes_read_u32", 4),
            ("bytes_read_i64", 8),
        ] {
            for off in [-1, 5 - n, i64::MAX, i64::MIN, i64::MAX - 1] {
                assert_eq!(
                    err(&mut rt, name, &[b, i(off)]),
                    format!("{name}: out of bounds"),
                    "{name}({off})"
                );
            }
        }
        assert_eq!(ok(&mut rt, "bytes_read_u16", &[b, i(2)]).as_int(), 0x0403);
        assert_eq!(ok(&mut rt, "bytes_read_u32", &[b, i(0)]).as_int(), 0x0403_0201);
        let empty = int_array(&mut rt, &[]);
        assert_eq!(
            err(&mut rt, "bytes_read_u16", &[empty, i(0)]),
            "bytes_read_u16: out of bounds"
        );
    }

    #[test]
    fn big_endian_conversions() {
        let mut rt = rt();
        assert_eq!(ints(ok(&mut rt, "int_to_bytes", &[i(258), i(2)])), [1, 2]);
        assert_eq!(ints(ok(&mut rt, "int_to_bytes", &[i(258), i(1)])), [2]);
        assert_eq!(ints(ok(&mut rt, "int_to_bytes", &[i(-1), i(8)])), [255; 8]);
        assert_eq!(
            ints(ok(&mut rt, "int_to_bytes", &[i(0x0102_0304), i(4)])),
            [1, 2, 3, 4]
        );
        for bad in [0, 9, -1, i64::MAX] {
            assert_eq!(
                err(&mut rt, "int_to_bytes", &[i(1), i(bad)]),
                "int_to_bytes: size must be 1-8"
            );
        }
        let b = int_array(&mut rt, &[1, 2, 255, 255, 255, 255, 255, 255, 255, 254]);
        assert_eq!(ok(&mut rt, "int_from_bytes", &[b, i(0), i(2)]).as_int(), 258);
        assert_eq!(
            ok(&mut rt, "int_from_bytes", &[b, i(2), i(4)]).as_int(),
            0xffff_ffff
        );
        assert_eq!(ok(&mut rt, "int_from_bytes", &[b, i(2), i(8)]).as_int(), -2);
        assert_eq!(ok(&mut rt, "int_from_bytes", &[b, i(9), i(1)]).as_int(), 254);
        for bad in [0, 9] {
            assert_eq!(
                err(&mut rt, "int_from_bytes", &[b, i(0), i(bad)]),
                "int_from_bytes: size must be 1-8"
            );
        }
        for off in [-1, 3, 10, i64::MAX] {
            assert_eq!(
                err(&mut rt, "int_from_bytes", &[b, i(off), i(8)]),
                "int_from_bytes: out of bounds"
            );
        }
        // Round trip.
        let v = ok(&mut rt, "int_to_bytes", &[i(-123_456_789), i(8)]);
        assert_eq!(
            ok(&mut rt, "int_from_bytes", &[v, i(0), i(8)]).as_int(),
            -123_456_789
        );
    }

    #[test]
    fn holes_are_errors_not_corruption() {
        let mut rt = rt();
        let strs = str_array(&mut rt, &["a"]);
        assert_eq!(
            err(&mut rt, "bytes_append", &[strs, i(1)]),
            "bytes_append expects ([int], ...)"
        );
        assert_eq!(
            err(&mut rt, "bytes_set", &[strs, i(0), i(1)]),
            "bytes_set expects ([int], ...)"
        );
        assert_eq!(unsafe { as_array(strs) }.len(), 1);
        for name in ["bytes_len", "bytes_append"] {
            assert_eq!(err(&mut rt, name, &[Value::NULL, i(0)]), "null reference");
        }
    }
}
