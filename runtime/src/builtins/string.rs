//! String builtins (LANGUAGE.md §9.2) and the character-class predicates (§9.4).
//!
//! Strings are immutable byte strings: every length and index is in bytes, character
//! classes are ASCII (C locale). Indices coming from the program are always range
//! checked; no builtin here panics on any argument value.
//!
//! `PURE` marks builtins that are deterministic, have no side effects, fail only on
//! a null argument or a result past the string size cap (`crate::limits`; or when
//! memory runs out) and read only immutable data (strings and scalars). Builtins
//! that read arrays, build arrays or can raise other errors are not `PURE`.

use super::inline::leaf_builtin;
use super::{b, Builtin, Inline, StrOp, PURE};
use crate::heap::{as_array, empty_str, obj_kind, one_byte_str, str_bytes, Heap, ObjKind};
use crate::limits::{self, LimitError};
use crate::rt::{Rt, RtError, RtResult};
use crate::value::{ValKind, Value};
// Substring search: the `memchr` crate's (vectorised `memchr` of a byte, two-way
// for longer needles), not a byte loop with a `memcmp` call per candidate.
use memchr::memmem;

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("len", "(str) -> int", "length of the string in bytes", len, PURE).inlined(Inline::Str(StrOp::Len)),
    b("substr", "(str, int, int) -> str", "the bytes from offset `start` (2nd), at most `length` (3rd) of them, clamped to the string", substr, PURE).inlined(Inline::Slice(substr_leaf)),
    b("str_char_at", "(str, int) -> str", "the one-byte string at the byte offset, `\"\"` out of range", str_char_at, PURE).inlined(Inline::Str(StrOp::CharAt)),
    b("str_upper", "(str) -> str", "ASCII letters to upper case, other bytes unchanged", str_upper, PURE),
    b("str_lower", "(str) -> str", "ASCII letters to lower case, other bytes unchanged", str_lower, PURE),
    b("str_trim", "(str) -> str", "without leading and trailing ASCII whitespace", str_trim, PURE),
    b("starts_with", "(str, str) -> bool", "whether the string begins with the prefix", starts_with, PURE).inlined(Inline::Leaf(starts_with_leaf)),
    b("ends_with", "(str, str) -> bool", "whether the string ends with the suffix", ends_with, PURE).inlined(Inline::Leaf(ends_with_leaf)),
    b("str_find", "(str, str) -> int", "byte offset of the first occurrence of the needle, `-1` if absent", str_find, PURE).inlined(Inline::Leaf(str_find_leaf)),
    b("str_index_of", "(str, str) -> int", "alias of `str_find`", str_find, PURE).inlined(Inline::Leaf(str_find_leaf)),
    b("str_contains", "(str, str) -> bool", "whether the needle occurs in the string", str_contains, PURE).inlined(Inline::Leaf(str_contains_leaf)),
    b("str_count", "(str, str) -> int", "number of non-overlapping occurrences of the needle (`0` for an empty one)", str_count, PURE).inlined(Inline::Leaf(str_count_leaf)),
    b("str_replace", "(str, str, str) -> str", "the first occurrence (only) of the 2nd string replaced by the 3rd", str_replace, PURE),
    b("str_reverse", "(str) -> str", "the bytes in reverse order", str_reverse, PURE),
    b("str_repeat", "(str, int) -> str", "the string repeated n times (n at most 1000)", str_repeat, 0),
    b("str_pad_left", "(str, int, str) -> str", "padded on the left to the width with bytes taken cyclically from the 3rd string", str_pad_left, 0),
    b("str_pad_right", "(str, int, str) -> str", "padded on the right to the width with bytes taken cyclically from the 3rd string", str_pad_right, 0),
    b("str_split", "(str, str) -> [str]", "the pieces between the separators, empty ones kept (an empty separator splits into bytes)", str_split, 0),
    b("str_split_str", "(str, str) -> [str]", "alias of `str_split`", str_split, 0),
    b("str_join", "([str], str) -> str", "the strings joined with the separator between them", str_join, 0),
    b("str_join_arr", "([str], str) -> str", "alias of `str_join`", str_join, 0),
    b("str_concat_all", "([str]) -> str", "the strings concatenated", str_concat_all, 0),
    b("chr", "(int) -> str", "the one-byte string of an ASCII code (0 to 127)", chr, 0).inlined(Inline::Str(StrOp::Chr)),
    b("ord", "(str) -> int", "the first byte of a non-empty string (0 to 255)", ord, 0).inlined(Inline::Str(StrOp::Ord)),
    b("str_bytes", "(str) -> [int]", "the bytes of the string as ints 0 to 255", str_to_bytes, 0),
    b("str_to_bytes", "(str) -> [int]", "alias of `str_bytes`", str_to_bytes, 0),
    b("str_from_chars", "([int]) -> str", "the string made of the low 8 bits of each int", str_from_chars, 0),
    b("bytes_to_str", "(str) -> str", "its argument unchanged", bytes_to_str, PURE),
    // §9.4 character-class predicates.
    b("is_digit", "(str) -> bool", "non-empty and every byte an ASCII digit", is_digit, PURE).inlined(Inline::Leaf(is_digit_leaf)),
    b("is_alpha", "(str) -> bool", "non-empty and every byte an ASCII letter", is_alpha, PURE).inlined(Inline::Leaf(is_alpha_leaf)),
    b("is_alnum", "(str) -> bool", "non-empty and every byte an ASCII letter or digit", is_alnum, PURE).inlined(Inline::Leaf(is_alnum_leaf)),
    b("is_space", "(str) -> bool", "non-empty and every byte ASCII whitespace", is_space, PURE).inlined(Inline::Leaf(is_space_leaf)),
];

// ---------------------------------------------------------------------------
// Helpers shared with the other builtin modules.
// ---------------------------------------------------------------------------

/// The error raised when a builtin receives a null reference where an object is
/// required (only reachable through holes in the type system).
pub(crate) fn null_error() -> RtError {
    RtError::msg("null reference")
}

/// The bytes of a `str` argument; a null reference is a runtime error, not a panic.
#[inline]
pub(crate) unsafe fn str_arg<'a>(v: Value) -> Result<&'a [u8], RtError> {
    if v.is_null() {
        Err(null_error())
    } else {
        Ok(str_bytes(v))
    }
}

/// C `isspace` in the C locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
#[inline]
pub(crate) fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

// ---------------------------------------------------------------------------
// §9.2
// ---------------------------------------------------------------------------

unsafe fn len(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(str_arg(a[0])?.len() as i64))
}

unsafe fn substr(rt: &mut Rt, a: &[Value]) -> RtResult {
    let s = str_arg(a[0])?;
    Ok(rt
        .heap
        .alloc_str_copy(substr_range(s, a[1].as_int(), a[2].as_int()))?)
}

/// The bytes of `s` that `substr(s, start, len)` takes: `start` and then
/// `len` clamped to the string.
fn substr_range(s: &[u8], start: i64, len: i64) -> &[u8] {
    let n = s.len() as i64;
    let start = start.clamp(0, n);
    let len = len.clamp(0, n - start);
    &s[start as usize..(start + len) as usize]
}

/// [`substr`]'s heap twin ([`super::HeapLeafFn`]): compiled code's `substr`
/// without `rt_builtin` (a tokenizer takes one per word). A null string, or a
/// result whose allocation would make a collection due, declines.
unsafe extern "C" fn substr_leaf(heap: *mut Heap, args: *mut Value) -> u64 {
    // SAFETY: the caller's contract: three arguments, the first null or a
    // live string, whose bytes do not move while the copy is made.
    unsafe {
        super::heap_leaf(heap, args, |heap, a| {
            let s = *a;
            if s.is_null() {
                return None;
            }
            let part = substr_range(str_bytes(s), (*a.add(1)).as_int(), (*a.add(2)).as_int());
            heap.alloc_str_copy_quietly(part)
        })
    }
}

unsafe fn str_char_at(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let s = str_arg(a[0])?;
    let i = a[1].as_int();
    // The shared one-byte strings: no allocation (heap/short_strs.rs).
    Ok(match usize::try_from(i).ok().and_then(|i| s.get(i)) {
        Some(&b) => one_byte_str(b),
        None => empty_str(),
    })
}

unsafe fn str_upper(rt: &mut Rt, a: &[Value]) -> RtResult {
    let mut out = limits::str_copy(str_arg(a[0])?)?;
    out.make_ascii_uppercase();
    Ok(rt.str(out))
}

unsafe fn str_lower(rt: &mut Rt, a: &[Value]) -> RtResult {
    let mut out = limits::str_copy(str_arg(a[0])?)?;
    out.make_ascii_lowercase();
    Ok(rt.str(out))
}

unsafe fn str_trim(rt: &mut Rt, a: &[Value]) -> RtResult {
    let s = str_arg(a[0])?;
    let start = s.iter().position(|&c| !is_c_space(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|&c| !is_c_space(c)).map_or(start, |p| p + 1);
    if start == 0 && end == s.len() {
        return Ok(a[0]);
    }
    Ok(rt.heap.alloc_str_copy(&s[start..end])?)
}

leaf_builtin!(starts_with, starts_with_leaf, 2, |a| {
    Ok(Value::bool(str_arg(a[0])?.starts_with(str_arg(a[1])?)))
});

leaf_builtin!(ends_with, ends_with_leaf, 2, |a| {
    Ok(Value::bool(str_arg(a[0])?.ends_with(str_arg(a[1])?)))
});

leaf_builtin!(str_find, str_find_leaf, 2, |a| {
    let pos = memmem::find(str_arg(a[0])?, str_arg(a[1])?);
    Ok(Value::int(pos.map_or(-1, |p| p as i64)))
});

leaf_builtin!(str_contains, str_contains_leaf, 2, |a| {
    Ok(Value::bool(
        memmem::find(str_arg(a[0])?, str_arg(a[1])?).is_some(),
    ))
});

leaf_builtin!(str_count, str_count_leaf, 2, |a| {
    let s = str_arg(a[0])?;
    let needle = str_arg(a[1])?;
    if needle.is_empty() {
        return Ok(Value::int(0));
    }
    // (Non-overlapping occurrences, left to right.)
    let count = memmem::find_iter(s, needle).count();
    Ok(Value::int(count as i64))
});

unsafe fn str_replace(rt: &mut Rt, a: &[Value]) -> RtResult {
    let s = str_arg(a[0])?;
    let old = str_arg(a[1])?;
    let new = str_arg(a[2])?;
    if old.is_empty() {
        return Ok(a[0]);
    }
    match memmem::find(s, old) {
        None => Ok(a[0]),
        Some(p) => {
            let mut out = limits::str_buf(limits::total_str_len([s.len() - old.len(), new.len()])?)?;
            out.extend_from_slice(&s[..p]);
            out.extend_from_slice(new);
            out.extend_from_slice(&s[p + old.len()..]);
            Ok(rt.str(out))
        }
    }
}

unsafe fn str_reverse(rt: &mut Rt, a: &[Value]) -> RtResult {
    let mut out = limits::str_copy(str_arg(a[0])?)?;
    out.reverse();
    Ok(rt.str(out))
}

unsafe fn str_repeat(rt: &mut Rt, a: &[Value]) -> RtResult {
    let s = str_arg(a[0])?;
    let n = a[1].as_int();
    if n > 1000 {
        return Err(RtError::msg("str_repeat: count too large (max 1000)"));
    }
    if n <= 0 || s.is_empty() {
        return Ok(rt.str(Vec::new()));
    }
    let mut out = limits::str_buf(s.len().saturating_mul(n as usize))?;
    for _ in 0..n {
        out.extend_from_slice(s);
    }
    Ok(rt.str(out))
}

unsafe fn pad(rt: &mut Rt, a: &[Value], left: bool) -> RtResult {
    let s = str_arg(a[0])?;
    let width = a[1].as_int();
    let fill = str_arg(a[2])?;
    if width <= s.len() as i64 || fill.is_empty() {
        return Ok(a[0]);
    }
    let width = usize::try_from(width).unwrap_or(usize::MAX);
    let mut out = limits::str_buf(width)?;
    let cycle = fill.iter().cycle().take(width - s.len()).copied();
    if left {
        out.extend(cycle);
        out.extend_from_slice(s);
    } else {
        out.extend_from_slice(s);
        out.extend(cycle);
    }
    Ok(rt.str(out))
}

unsafe fn str_pad_left(rt: &mut Rt, a: &[Value]) -> RtResult {
    pad(rt, a, true)
}

unsafe fn str_pad_right(rt: &mut Rt, a: &[Value]) -> RtResult {
    pad(rt, a, false)
}

unsafe fn str_split(rt: &mut Rt, a: &[Value]) -> RtResult {
    let s = str_arg(a[0])?;
    let sep = str_arg(a[1])?;
    let mut items;
    if sep.is_empty() {
        items = limits::array_buf(s.len())?;
        for &c in s {
            items.push(rt.str(vec![c]));
        }
    } else {
        items = Vec::new();
        let mut start = 0;
        // (Non-overlapping occurrences, left to right.)
        for p in memmem::find_iter(s, sep) {
            limits::grow_array(&mut items, 1)?;
            items.push(rt.str(&s[start..p]));
            start = p + sep.len();
        }
        limits::grow_array(&mut items, 1)?;
        items.push(rt.str(&s[start..]));
    }
    Ok(rt.heap.alloc_array(ValKind::Ref, items))
}

/// The elements of a `[str]` argument, checked at run time to be strings (the
/// array could come through a type-system hole). Joining walks them twice, for
/// the length and then for the bytes, rather than collecting their slices: a
/// list of 400 k pieces made a 6.4 MB vector of slices to join (`tokenize`).
unsafe fn string_elems<'a>(v: Value, err: &str) -> Result<&'a [Value], RtError> {
    if v.is_null() {
        return Err(null_error());
    }
    let arr = as_array(v);
    let items = match arr.words() {
        Some(items) if arr.elem == ValKind::Ref => items,
        _ if arr.is_empty() => &[],
        _ => return Err(RtError::msg(err)),
    };
    if items.iter().any(|&x| x.is_null() || obj_kind(x) != ObjKind::Str) {
        return Err(RtError::msg(err));
    }
    Ok(items)
}

/// The strings `parts` joined by `sep`, capped at the string size limit.
///
/// # Safety
/// Every element of `parts` must be a live string ([`string_elems`]).
unsafe fn join(parts: &[Value], sep: &[u8]) -> Result<Vec<u8>, LimitError> {
    let seps = sep.len().saturating_mul(parts.len().saturating_sub(1));
    // SAFETY: the caller's contract: live strings.
    let lengths = parts.iter().map(|&p| unsafe { str_bytes(p) }.len());
    let total = limits::total_str_len(lengths.chain([seps]))?;
    let mut out = limits::str_buf(total)?;
    for (i, &p) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        // SAFETY: as above.
        out.extend_from_slice(unsafe { str_bytes(p) });
    }
    Ok(out)
}

unsafe fn str_join(rt: &mut Rt, a: &[Value]) -> RtResult {
    let parts = string_elems(a[0], "str_join_arr: array elements must be strings")?;
    let sep = str_arg(a[1])?;
    Ok(rt.str(join(parts, sep)?))
}

unsafe fn str_concat_all(rt: &mut Rt, a: &[Value]) -> RtResult {
    let parts = string_elems(a[0], "str_concat_all: array elements must be strings")?;
    Ok(rt.str(join(parts, b"")?))
}

fn chr(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let code = a[0].as_int();
    if !(0..=127).contains(&code) {
        return Err(RtError::msg("chr expects 0-127"));
    }
    Ok(one_byte_str(code as u8))
}

unsafe fn ord(_rt: &mut Rt, a: &[Value]) -> RtResult {
    match str_arg(a[0])?.first() {
        Some(&c) => Ok(Value::int(c as i64)),
        None => Err(RtError::msg("ord expects non-empty string")),
    }
}

unsafe fn str_to_bytes(rt: &mut Rt, a: &[Value]) -> RtResult {
    let s = str_arg(a[0])?;
    let mut items = limits::array_buf(s.len())?;
    items.extend(s.iter().map(|&c| Value::int(c as i64)));
    Ok(rt.heap.alloc_array(ValKind::Int, items))
}

unsafe fn str_from_chars(rt: &mut Rt, a: &[Value]) -> RtResult {
    if a[0].is_null() {
        return Err(null_error());
    }
    let arr = as_array(a[0]);
    let mut out = limits::str_buf(arr.len())?;
    out.extend(arr.iter().map(|v| v.as_int() as u8));
    Ok(rt.str(out))
}

unsafe fn bytes_to_str(_rt: &mut Rt, a: &[Value]) -> RtResult {
    str_arg(a[0])?;
    Ok(a[0])
}

// ---------------------------------------------------------------------------
// §9.4
// ---------------------------------------------------------------------------

unsafe fn all_bytes(v: Value, pred: fn(u8) -> bool) -> RtResult {
    let s = str_arg(v)?;
    Ok(Value::bool(!s.is_empty() && s.iter().all(|&c| pred(c))))
}

leaf_builtin!(is_digit, is_digit_leaf, 1, |a| all_bytes(a[0], |c| c
    .is_ascii_digit()));
leaf_builtin!(is_alpha, is_alpha_leaf, 1, |a| all_bytes(a[0], |c| c
    .is_ascii_alphabetic()));
leaf_builtin!(is_alnum, is_alnum_leaf, 1, |a| all_bytes(a[0], |c| c
    .is_ascii_alphanumeric()));
leaf_builtin!(is_space, is_space_leaf, 1, |a| all_bytes(a[0], is_c_space));

/// Helpers for the unit tests of all builtin modules.
#[cfg(test)]
pub(crate) mod testutil {
    use crate::builtins::{all, lookup};
    use crate::heap::{as_array, str_bytes, Heap};
    use crate::rt::{Rt, RtError, RtResult};
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    pub fn rt() -> Rt {
        Rt::new(Heap::new(false), vec![])
    }

    pub fn call(rt: &mut Rt, name: &str, args: &[Value]) -> RtResult {
        let id = lookup(name).unwrap_or_else(|| panic!("no builtin {name}"));
        unsafe { (all()[id as usize].func)(rt, args) }
    }

    /// Call a builtin that must succeed.
    pub fn ok(rt: &mut Rt, name: &str, args: &[Value]) -> Value {
        match call(rt, name, args) {
            Ok(v) => v,
            Err(e) => panic!("{name} failed: {e:?}"),
        }
    }

    /// Check that builtin `name`'s leaf twin gives the builtin's result on
    /// `args`, or declines, leaving them as they were, where the builtin
    /// fails. The twin runs first (on a copy of the argument block).
    pub fn twin_agrees(rt: &mut Rt, name: &str, args: &[Value]) {
        use crate::builtins::{Inline, LEAF_DECLINED};
        let id = lookup(name).unwrap_or_else(|| panic!("no builtin {name}"));
        let Inline::Leaf(twin) = all()[id as usize].inline else {
            panic!("{name} has no leaf twin");
        };
        let mut block = args.to_vec();
        // SAFETY: an argument block of the builtin's arity and signature.
        let status = unsafe { twin(block.as_mut_ptr()) };
        match call(rt, name, args) {
            Ok(v) => {
                assert_eq!(status, 0, "{name}{args:?}: the twin declined");
                assert_eq!(block[0], v, "{name}{args:?}");
            }
            Err(_) => {
                assert_eq!(status, LEAF_DECLINED, "{name}{args:?}: the twin did not decline");
                assert_eq!(
                    block, args,
                    "{name}{args:?}: a declining twin changed its arguments"
                );
            }
        }
    }

    /// Call a builtin that must fail; returns the error message.
    pub fn err(rt: &mut Rt, name: &str, args: &[Value]) -> String {
        match call(rt, name, args) {
            Ok(_) => panic!("{name} unexpectedly succeeded"),
            Err(RtError::Error(m)) => m,
            Err(e) => panic!("{name}: unexpected {e:?}"),
        }
    }

    pub fn s(rt: &mut Rt, text: &str) -> Value {
        rt.str(text.as_bytes())
    }

    pub fn text(v: Value) -> String {
        String::from_utf8_lossy(unsafe { str_bytes(v) }).into_owned()
    }

    pub fn i(n: i64) -> Value {
        Value::int(n)
    }

    pub fn f(x: f64) -> Value {
        Value::float(x)
    }

    pub fn int_array(rt: &mut Rt, xs: &[i64]) -> Value {
        rt.heap
            .alloc_array(ValKind::Int, xs.iter().map(|&x| Value::int(x)).collect())
    }

    pub fn str_array(rt: &mut Rt, xs: &[&str]) -> Value {
        let items = xs.iter().map(|x| rt.str(x.as_bytes())).collect();
        rt.heap.alloc_array(ValKind::Ref, items)
    }

    pub fn ints(v: Value) -> Vec<i64> {
        unsafe { as_array(v) }.iter().map(|x| x.as_int()).collect()
    }

    pub fn texts(v: Value) -> Vec<String> {
        unsafe { as_array(v) }.iter().map(text).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use crate::heap::as_array;
    use crate::value::{ValKind, Value};

    fn str1(name: &str, x: &str) -> String {
        let mut rt = rt();
        let a = s(&mut rt, x);
        text(ok(&mut rt, name, &[a]))
    }

    /// Result of a two-string builtin returning a scalar (the heap is gone after).
    fn str2(name: &str, x: &str, y: &str) -> Value {
        let mut rt = rt();
        let a = s(&mut rt, x);
        let b = s(&mut rt, y);
        ok(&mut rt, name, &[a, b])
    }

    fn split(name: &str, x: &str, y: &str) -> Vec<String> {
        let mut rt = rt();
        let a = s(&mut rt, x);
        let b = s(&mut rt, y);
        let v = ok(&mut rt, name, &[a, b]);
        assert_eq!(unsafe { as_array(v) }.elem, ValKind::Ref);
        texts(v)
    }

    #[test]
    fn len_and_substr() {
        let mut rt = rt();
        let h = s(&mut rt, "hello");
        assert_eq!(ok(&mut rt, "len", &[h]).as_int(), 5);
        let cases: &[(i64, i64, &str)] = &[
            (1, 3, "ell"),
            (-5, 2, "he"),
            (3, 100, "lo"),
            (5, 1, ""),
            (99, 1, ""),
            (2, -1, ""),
            (i64::MIN, i64::MAX, "hello"),
            (i64::MAX, i64::MAX, ""),
            (0, i64::MIN, ""),
        ];
        for &(st, n, want) in cases {
            assert_eq!(
                text(ok(&mut rt, "substr", &[h, i(st), i(n)])),
                want,
                "substr({st}, {n})"
            );
        }
    }

    #[test]
    fn char_at() {
        let mut rt = rt();
        let h = s(&mut rt, "abc");
        for (idx, want) in [
            (0, "a"),
            (2, "c"),
            (3, ""),
            (-1, ""),
            (i64::MIN, ""),
            (i64::MAX, ""),
        ] {
            assert_eq!(text(ok(&mut rt, "str_char_at", &[h, i(idx)])), want);
        }
    }

    #[test]
    fn case_trim_reverse() {
        assert_eq!(str1("str_upper", "aBc1é"), "ABC1é");
        assert_eq!(str1("str_lower", "AbC1"), "abc1");
        assert_eq!(str1("str_trim", " \t\n\x0b\x0c\rhi there \r\n"), "hi there");
        assert_eq!(str1("str_trim", "   "), "");
        assert_eq!(str1("str_trim", ""), "");
        assert_eq!(str1("str_trim", "x"), "x");
        assert_eq!(str1("str_reverse", "abc"), "cba");
        assert_eq!(str1("str_reverse", ""), "");
    }

    #[test]
    fn prefix_suffix_find() {
        assert!(str2("starts_with", "hello", "he").as_bool());
        assert!(str2("starts_with", "hello", "").as_bool());
        assert!(!str2("starts_with", "he", "hello").as_bool());
        assert!(str2("ends_with", "hello", "llo").as_bool());
        assert!(str2("ends_with", "", "").as_bool());
        assert!(!str2("ends_with", "hello", "hel").as_bool());
        assert_eq!(str2("str_find", "hello", "l").as_int(), 2);
        assert_eq!(str2("str_find", "hello", "lo").as_int(), 3);
        assert_eq!(str2("str_find", "hello", "xyz").as_int(), -1);
        assert_eq!(str2("str_find", "hello", "").as_int(), 0);
        assert_eq!(str2("str_find", "", "").as_int(), 0);
        assert_eq!(str2("str_find", "ab", "abc").as_int(), -1);
        assert_eq!(str2("str_index_of", "aab", "ab").as_int(), 1);
        assert!(str2("str_contains", "hello", "ell").as_bool());
        assert!(str2("str_contains", "hello", "").as_bool());
        assert!(!str2("str_contains", "hello", "elo").as_bool());
    }

    #[test]
    fn count() {
        assert_eq!(str2("str_count", "aaaa", "aa").as_int(), 2);
        assert_eq!(str2("str_count", "aaa", "aa").as_int(), 1);
        assert_eq!(str2("str_count", "abcabc", "c").as_int(), 2);
        assert_eq!(str2("str_count", "abc", "").as_int(), 0);
        assert_eq!(str2("str_count", "", "a").as_int(), 0);
    }

    #[test]
    fn replace_first_only() {
        let mut rt = rt();
        let x = s(&mut rt, "a-b-c");
        let dash = s(&mut rt, "-");
        let plus = s(&mut rt, "+");
        let empty = s(&mut rt, "");
        let zz = s(&mut rt, "zz");
        assert_eq!(text(ok(&mut rt, "str_replace", &[x, dash, plus])), "a+b-c");
        assert_eq!(text(ok(&mut rt, "str_replace", &[x, empty, plus])), "a-b-c");
        assert_eq!(text(ok(&mut rt, "str_replace", &[x, zz, plus])), "a-b-c");
        assert_eq!(text(ok(&mut rt, "str_replace", &[x, dash, empty])), "ab-c");
        assert_eq!(text(ok(&mut rt, "str_replace", &[x, x, zz])), "zz");
    }

    #[test]
    fn repeat() {
        let mut rt = rt();
        let ab = s(&mut rt, "ab");
        assert_eq!(text(ok(&mut rt, "str_repeat", &[ab, i(3)])), "ababab");
        assert_eq!(text(ok(&mut rt, "str_repeat", &[ab, i(0)])), "");
        assert_eq!(text(ok(&mut rt, "str_repeat", &[ab, i(-5)])), "");
        assert_eq!(text(ok(&mut rt, "str_repeat", &[ab, i(i64::MIN)])), "");
        assert_eq!(text(ok(&mut rt, "str_repeat", &[ab, i(1000)])).len(), 2000);
        assert_eq!(
            err(&mut rt, "str_repeat", &[ab, i(1001)]),
            "str_repeat: count too large (max 1000)"
        );
        assert_eq!(
            err(&mut rt, "str_repeat", &[ab, i(i64::MAX)]),
            "str_repeat: count too large (max 1000)"
        );
    }

    #[test]
    fn padding() {
        let mut rt = rt();
        let seven = s(&mut rt, "7");
        let ab = s(&mut rt, "ab");
        let xy = s(&mut rt, "xy");
        let empty = s(&mut rt, "");
        assert_eq!(text(ok(&mut rt, "str_pad_left", &[seven, i(5), ab])), "abab7");
        assert_eq!(text(ok(&mut rt, "str_pad_right", &[seven, i(4), xy])), "7xyx");
        assert_eq!(text(ok(&mut rt, "str_pad_left", &[seven, i(1), ab])), "7");
        assert_eq!(text(ok(&mut rt, "str_pad_left", &[seven, i(-3), ab])), "7");
        assert_eq!(text(ok(&mut rt, "str_pad_left", &[seven, i(i64::MIN), ab])), "7");
        assert_eq!(text(ok(&mut rt, "str_pad_left", &[seven, i(10), empty])), "7");
        assert_eq!(
            text(ok(&mut rt, "str_pad_right", &[seven, i(i64::MAX), empty])),
            "7"
        );
        let too_large = crate::limits::STR_TOO_LARGE;
        assert_eq!(err(&mut rt, "str_pad_left", &[seven, i(i64::MAX), ab]), too_large);
        assert_eq!(
            err(&mut rt, "str_pad_right", &[seven, i(i64::MAX - 1), ab]),
            too_large
        );
        assert_eq!(
            err(&mut rt, "str_pad_right", &[seven, i(1 << 30 | 1), ab]),
            too_large
        );
    }

    #[test]
    fn split_keeps_empty_pieces() {
        assert_eq!(split("str_split", "a,b,,c,", ","), ["a", "b", "", "c", ""]);
        assert_eq!(split("str_split", "", ","), [""]);
        assert_eq!(split("str_split", "abc", ""), ["a", "b", "c"]);
        assert!(split("str_split", "", "").is_empty());
        assert_eq!(split("str_split_str", "a::b:::c", "::"), ["a", "b", ":c"]);
        assert_eq!(split("str_split", "abc", "abc"), ["", ""]);
        assert_eq!(split("str_split", "ab", "abc"), ["ab"]);
    }

    #[test]
    fn join_and_concat() {
        let mut rt = rt();
        let parts = str_array(&mut rt, &["a", "b", "c"]);
        let sep = s(&mut rt, ", ");
        assert_eq!(text(ok(&mut rt, "str_join", &[parts, sep])), "a, b, c");
        assert_eq!(text(ok(&mut rt, "str_join_arr", &[parts, sep])), "a, b, c");
        assert_eq!(text(ok(&mut rt, "str_concat_all", &[parts])), "abc");
        let none = str_array(&mut rt, &[]);
        assert_eq!(text(ok(&mut rt, "str_join", &[none, sep])), "");
        assert_eq!(text(ok(&mut rt, "str_concat_all", &[none])), "");
        let one = str_array(&mut rt, &["x"]);
        assert_eq!(text(ok(&mut rt, "str_join", &[one, sep])), "x");
        // Arrays that are not really [str] (type-system holes) are runtime errors.
        let nums = int_array(&mut rt, &[1, 2]);
        assert_eq!(
            err(&mut rt, "str_join", &[nums, sep]),
            "str_join_arr: array elements must be strings"
        );
        assert_eq!(
            err(&mut rt, "str_concat_all", &[nums]),
            "str_concat_all: array elements must be strings"
        );
        let with_null = rt.heap.alloc_array(ValKind::Ref, vec![sep, Value::NULL]);
        assert_eq!(
            err(&mut rt, "str_join", &[with_null, sep]),
            "str_join_arr: array elements must be strings"
        );
        let nested = rt.heap.alloc_array(ValKind::Ref, vec![parts]);
        assert_eq!(
            err(&mut rt, "str_concat_all", &[nested]),
            "str_concat_all: array elements must be strings"
        );
        assert_eq!(err(&mut rt, "str_join", &[Value::NULL, sep]), "null reference");
    }

    #[test]
    fn chr_ord() {
        let mut rt = rt();
        assert_eq!(text(ok(&mut rt, "chr", &[i(65)])), "A");
        assert_eq!(
            unsafe { crate::heap::str_bytes(ok(&mut rt, "chr", &[i(0)])) },
            b"\0"
        );
        assert_eq!(text(ok(&mut rt, "chr", &[i(127)])), "\x7f");
        for bad in [128, -1, i64::MIN, i64::MAX, 256 + 65] {
            assert_eq!(err(&mut rt, "chr", &[i(bad)]), "chr expects 0-127");
        }
        let a = s(&mut rt, "abc");
        assert_eq!(ok(&mut rt, "ord", &[a]).as_int(), 97);
        let hi = rt.str(&[0xffu8, 1][..]);
        assert_eq!(ok(&mut rt, "ord", &[hi]).as_int(), 255);
        let e = s(&mut rt, "");
        assert_eq!(err(&mut rt, "ord", &[e]), "ord expects non-empty string");
    }

    #[test]
    fn bytes_round_trip() {
        let mut rt = rt();
        let hi = rt.str(&b"hi\xff"[..]);
        for name in ["str_bytes", "str_to_bytes"] {
            let arr = ok(&mut rt, name, &[hi]);
            assert_eq!(ints(arr), [104, 105, 255]);
            assert_eq!(unsafe { as_array(arr) }.elem, ValKind::Int);
        }
        let codes = int_array(&mut rt, &[104, 105, 289, -1]);
        assert_eq!(
            unsafe { crate::heap::str_bytes(ok(&mut rt, "str_from_chars", &[codes])) },
            b"hi!\xff"
        );
        let none = int_array(&mut rt, &[]);
        assert_eq!(text(ok(&mut rt, "str_from_chars", &[none])), "");
        assert_eq!(ok(&mut rt, "bytes_to_str", &[hi]), hi);
    }

    #[test]
    fn char_classes() {
        let cases: &[(&str, [bool; 4])] = &[
            ("", [false, false, false, false]),
            ("0129", [true, false, true, false]),
            ("abcXYZ", [false, true, true, false]),
            ("a1", [false, false, true, false]),
            (" \t\n\r\x0b\x0c", [false, false, false, true]),
            ("a b", [false, false, false, false]),
            ("é", [false, false, false, false]),
        ];
        for (x, want) in cases {
            for (name, w) in ["is_digit", "is_alpha", "is_alnum", "is_space"].iter().zip(want) {
                let mut rt = rt();
                let v = s(&mut rt, x);
                assert_eq!(ok(&mut rt, name, &[v]).as_bool(), *w, "{name}({x:?})");
            }
        }
    }

    /// The leaf twins of the string predicates and searches give what their
    /// builtins give, and decline (changing nothing) on a null string.
    #[test]
    fn leaf_twins_agree() {
        use crate::builtins::{all, lookup, Inline, LEAF_DECLINED};
        let texts = ["", "a", "0129", "hello", "aaaa", " \t", "abcabc", "é"];
        for b in all() {
            let Inline::Leaf(twin) = b.inline else {
                continue;
            };
            let two = match b.name {
                "starts_with" | "ends_with" | "str_find" | "str_index_of" | "str_contains" | "str_count" => {
                    true
                }
                "is_digit" | "is_alpha" | "is_alnum" | "is_space" => false,
                _ => continue,
            };
            let id = lookup(b.name).map(|i| i as usize);
            assert!(id.is_some());
            for x in texts {
                for y in if two { &texts[..] } else { &texts[..1] } {
                    let mut rt = rt();
                    let args: Vec<Value> = if two {
                        vec![s(&mut rt, x), s(&mut rt, y)]
                    } else {
                        vec![s(&mut rt, x)]
                    };
                    let want = ok(&mut rt, b.name, &args);
                    let mut block = args.clone();
                    // SAFETY: an argument block of live strings, of the builtin's arity.
                    assert_eq!(unsafe { twin(block.as_mut_ptr()) }, 0);
                    assert_eq!(block[0], want, "{}({x:?}, {y:?})", b.name);
                    let mut null = args.clone();
                    null[0] = Value::NULL;
                    let before = null.clone();
                    // SAFETY: as above, with a null first argument.
                    assert_eq!(unsafe { twin(null.as_mut_ptr()) }, LEAF_DECLINED);
                    assert_eq!(null, before);
                }
            }
        }
    }

    /// Every builtin of LANGUAGE.md §9.2–9.6 and §9.11–9.13 owned by these modules
    /// is registered, with a well-formed signature.
    #[test]
    fn catalogue_is_complete() {
        const NAMES: &str = "len substr str_char_at str_upper str_lower str_trim starts_with \
            ends_with str_find str_index_of str_contains str_count str_replace str_reverse \
            str_repeat str_pad_left str_pad_right str_split str_split_str str_join str_join_arr \
            str_concat_all chr ord str_bytes str_to_bytes str_from_chars bytes_to_str \
            to_str int_to_float float_to_int float_to_str str_to_float parse_int int_to_hex \
            hex_to_int is_digit is_alpha is_alnum is_space abs min max pow sqrt floor ceil \
            round clamp sign sin cos tan asin acos atan atan2 log log10 log2 exp fabs ffloor \
            fceil fround fsqrt fpow is_nan is_inf array_len array_push array_pop array_insert \
            array_remove array_sort array_slice array_concat array_copy array_clear \
            array_index_of array_contains array_reverse array_fill map_len map_keys map_values \
            map_has_key map_delete bit_and bit_or bit_xor bit_not bit_shl bit_shr";
        let names: Vec<&str> = NAMES.split_whitespace().collect();
        assert_eq!(names.len(), 94);
        for name in &names {
            let id = crate::builtins::lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            let sig = crate::builtins::all()[id as usize].sig;
            assert!(crate::builtins::sig::parse(sig).is_ok(), "{name}: bad sig {sig}");
        }
        let ours = [super::TABLE, super::super::conv::TABLE, super::super::math::TABLE]
            .iter()
            .map(|t| t.len())
            .sum::<usize>()
            + super::super::array::TABLE.len()
            + super::super::map::TABLE.len();
        assert_eq!(ours, names.len(), "unexpected extra builtins");
    }

    /// Every builtin whose parameters are scalars or strings survives extreme
    /// arguments (it may return an error, but never panics or aborts).
    #[test]
    fn extreme_scalar_arguments_never_panic() {
        use crate::builtins::SigType;
        let ints = [0, 1, -1, 3, 1000, 1001, i64::MIN, i64::MAX, i64::MAX - 1, 1 << 40];
        let floats = [
            0.0,
            -0.0,
            1.5,
            -2.5,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e308,
            5e-324,
        ];
        let texts = [
            "",
            "a",
            "ab",
            " -12.5e3x",
            "0x1p-1074",
            "\u{ff}\x00",
            "ffffffffffffffffff",
            "nan",
            "  \t",
        ];
        let mut rt = rt();
        let strs: Vec<Value> = texts.iter().map(|t| s(&mut rt, t)).collect();
        // Only this crate's pure-computation tables: other areas (files, sleep, exit)
        // must not be called with arbitrary arguments.
        let tables = [super::TABLE, super::super::conv::TABLE, super::super::math::TABLE];
        for bi in tables.iter().flat_map(|t| t.iter()) {
            let sig = crate::builtins::sig::parse(bi.sig).unwrap_or_else(|e| panic!("{}: {e}", bi.name));
            let choices: Option<Vec<Vec<Value>>> = sig
                .params
                .iter()
                .map(|p| match p {
                    SigType::Int => Some(ints.iter().map(|&x| i(x)).collect()),
                    SigType::Float => Some(floats.iter().map(|&x| f(x)).collect()),
                    SigType::Str => Some(strs.clone()),
                    _ => None,
                })
                .collect();
            let Some(choices) = choices else { continue };
            // Every combination of the candidate values.
            let mut idx = vec![0usize; choices.len()];
            loop {
                let args: Vec<Value> = idx.iter().zip(&choices).map(|(&k, c)| c[k]).collect();
                let _ = unsafe { (bi.func)(&mut rt, &args) };
                let mut d = 0;
                while d < idx.len() {
                    idx[d] += 1;
                    if idx[d] < choices[d].len() {
                        break;
                    }
                    idx[d] = 0;
                    d += 1;
                }
                if d == idx.len() {
                    break;
                }
            }
        }
    }

    #[test]
    fn null_strings_are_errors_not_panics() {
        let mut rt = rt();
        for name in [
            "len",
            "str_upper",
            "str_trim",
            "ord",
            "str_bytes",
            "is_digit",
            "bytes_to_str",
        ] {
            assert_eq!(err(&mut rt, name, &[Value::NULL]), "null reference");
        }
        assert_eq!(err(&mut rt, "str_from_chars", &[Value::NULL]), "null reference");
    }
}
