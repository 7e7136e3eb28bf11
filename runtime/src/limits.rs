//! Size limits of strings, arrays and maps, and fallible allocation of the buffers
//! whose size a program chooses.
//!
//! Every operation that builds a string, array or map (the `+` and f-string
//! instructions, every builtin, reading input and files) checks its result size
//! against the caps here *before* allocating, and allocates the result with
//! `try_reserve`, so that a program asking for too much gets the catchable runtime
//! error `result too large (...)` or `out of memory` at the operation's position
//! instead of Rust's allocation-failure abort (which throws buffered stdout away).
//!
//! The caps are far above what ordinary programs use and low enough that one
//! result never needs more than a few GiB: a string holds at most 2^30 bytes
//! (1 GiB), an array at most 2^28 elements (2 GiB of 8-byte slots; byte buffers are
//! `[int]` arrays and share the cap), a map at most 2^28 entries.

use crate::rt::RtError;
use crate::value::Value;

/// Most bytes in one string.
pub const MAX_STR_LEN: usize = 1 << 30;
/// Most elements in one array (byte buffers included).
pub const MAX_ARRAY_LEN: usize = 1 << 28;
/// Most entries in one map.
pub const MAX_MAP_LEN: usize = 1 << 28;

/// Why a result could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitError {
    /// The string would be longer than [`MAX_STR_LEN`].
    StrTooLarge,
    /// The array would be longer than [`MAX_ARRAY_LEN`].
    ArrayTooLarge,
    /// The map would have more than [`MAX_MAP_LEN`] entries.
    MapTooLarge,
    /// The allocator refused the memory.
    OutOfMemory,
}

/// The error texts (the numbers are the caps above; a unit test keeps them equal).
pub const STR_TOO_LARGE: &str = "result too large (max 1073741824 bytes in a string)";
pub const ARRAY_TOO_LARGE: &str = "result too large (max 268435456 elements in an array)";
pub const MAP_TOO_LARGE: &str = "result too large (max 268435456 entries in a map)";
pub const OUT_OF_MEMORY: &str = "out of memory";

impl LimitError {
    /// The runtime error message.
    pub const fn message(self) -> &'static str {
        match self {
            LimitError::StrTooLarge => STR_TOO_LARGE,
            LimitError::ArrayTooLarge => ARRAY_TOO_LARGE,
            LimitError::MapTooLarge => MAP_TOO_LARGE,
            LimitError::OutOfMemory => OUT_OF_MEMORY,
        }
    }
}

impl From<LimitError> for RtError {
    fn from(e: LimitError) -> RtError {
        RtError::msg(e.message())
    }
}

/// `Ok` if a string of `len` bytes is allowed.
#[inline]
pub fn check_str_len(len: usize) -> Result<(), LimitError> {
    if len <= MAX_STR_LEN {
        Ok(())
    } else {
        Err(LimitError::StrTooLarge)
    }
}

/// `Ok` if an array of `len` elements is allowed.
#[inline]
pub fn check_array_len(len: usize) -> Result<(), LimitError> {
    if len <= MAX_ARRAY_LEN {
        Ok(())
    } else {
        Err(LimitError::ArrayTooLarge)
    }
}

/// The total length of strings of lengths `lens`, if it is within the string cap.
/// Never overflows, whatever the lengths.
#[inline]
pub fn total_str_len(lens: impl IntoIterator<Item = usize>) -> Result<usize, LimitError> {
    let mut total = 0usize;
    for n in lens {
        total = total.checked_add(n).ok_or(LimitError::StrTooLarge)?;
        check_str_len(total)?;
    }
    Ok(total)
}

/// An empty vector with room for exactly `n` items, or `OutOfMemory`. Exact, so
/// that a vector filled to `n` becomes a boxed slice without reallocating.
#[inline]
fn exact_vec<T>(n: usize) -> Result<Vec<T>, LimitError> {
    let mut v = Vec::new();
    crate::rt::fallibly(|| v.try_reserve_exact(n)).map_err(|_| LimitError::OutOfMemory)?;
    Ok(v)
}

/// An empty byte buffer for a string result of exactly `len` bytes.
#[inline]
pub fn str_buf(len: usize) -> Result<Vec<u8>, LimitError> {
    check_str_len(len)?;
    exact_vec(len)
}

/// An empty buffer for an array result of exactly `len` elements.
#[inline]
pub fn array_buf<T>(len: usize) -> Result<Vec<T>, LimitError> {
    check_array_len(len)?;
    exact_vec(len)
}

/// A copy of `bytes` for a new string, allocated fallibly.
#[inline]
pub fn str_copy(bytes: &[u8]) -> Result<Vec<u8>, LimitError> {
    let mut v = str_buf(bytes.len())?;
    v.extend_from_slice(bytes);
    Ok(v)
}

/// A copy of `items` for a new array, allocated fallibly.
#[inline]
pub fn array_copy(items: &[Value]) -> Result<Vec<Value>, LimitError> {
    let mut v = array_buf(items.len())?;
    v.extend_from_slice(items);
    Ok(v)
}

/// Make room for `additional` more items in `v`, which may hold at most `max`:
/// amortised doubling as `Vec::reserve` does, but never past `max` and failing with
/// `too_large` or `OutOfMemory` instead of aborting.
#[inline]
fn grow_within<T>(
    v: &mut Vec<T>,
    additional: usize,
    max: usize,
    too_large: LimitError,
) -> Result<(), LimitError> {
    let need = v
        .len()
        .checked_add(additional)
        .filter(|&n| n <= max)
        .ok_or(too_large)?;
    if need > v.capacity() {
        let target = need.max(v.capacity().saturating_mul(2)).min(max);
        crate::rt::fallibly(|| v.try_reserve_exact(target - v.len())).map_err(|_| LimitError::OutOfMemory)?;
    }
    Ok(())
}

/// Make room for `additional` more bytes in a string being built.
#[inline]
pub fn grow_str(buf: &mut Vec<u8>, additional: usize) -> Result<(), LimitError> {
    grow_within(buf, additional, MAX_STR_LEN, LimitError::StrTooLarge)
}

/// Make room for `additional` more elements in an array's buffer (push, insert,
/// append): `Value`s, or bytes for a `[bool]`.
#[inline]
pub fn grow_array<T>(items: &mut Vec<T>, additional: usize) -> Result<(), LimitError> {
    grow_within(items, additional, MAX_ARRAY_LEN, LimitError::ArrayTooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_caps() {
        assert!(STR_TOO_LARGE.contains(&format!("max {MAX_STR_LEN} bytes")));
        assert!(ARRAY_TOO_LARGE.contains(&format!("max {MAX_ARRAY_LEN} elements")));
        assert!(MAP_TOO_LARGE.contains(&format!("max {MAX_MAP_LEN} entries")));
        for e in [
            LimitError::StrTooLarge,
            LimitError::ArrayTooLarge,
            LimitError::MapTooLarge,
        ] {
            assert!(e.message().starts_with("result too large"));
        }
        assert_eq!(
            RtError::from(LimitError::OutOfMemory),
            RtError::msg("out of memory")
        );
    }

    #[test]
    fn caps_are_checked_before_allocating() {
        assert_eq!(check_str_len(MAX_STR_LEN), Ok(()));
        assert_eq!(check_str_len(MAX_STR_LEN + 1), Err(LimitError::StrTooLarge));
        assert_eq!(check_array_len(MAX_ARRAY_LEN), Ok(()));
        assert_eq!(check_array_len(MAX_ARRAY_LEN + 1), Err(LimitError::ArrayTooLarge));
        assert_eq!(str_buf(MAX_STR_LEN + 1), Err(LimitError::StrTooLarge));
        assert_eq!(
            array_buf::<Value>(usize::MAX).err(),
            Some(LimitError::ArrayTooLarge)
        );
        assert_eq!(total_str_len([3, 4]), Ok(7));
        assert_eq!(total_str_len([MAX_STR_LEN, 1]), Err(LimitError::StrTooLarge));
        assert_eq!(
            total_str_len([usize::MAX, usize::MAX]),
            Err(LimitError::StrTooLarge)
        );
    }

    #[test]
    fn exact_buffers_box_without_reallocating() {
        let v = str_copy(b"abc").unwrap();
        assert_eq!(v.capacity(), 3);
        let a = array_copy(&[Value::int(1)]).unwrap();
        assert_eq!(a.capacity(), 1);
    }

    #[test]
    fn growth_doubles_but_stops_at_the_cap() {
        let mut v: Vec<u8> = Vec::new();
        grow_str(&mut v, 10).unwrap();
        assert!(v.capacity() >= 10);
        v.resize(10, 0);
        grow_str(&mut v, 1).unwrap();
        assert!(v.capacity() >= 20);
        assert_eq!(grow_str(&mut v, MAX_STR_LEN), Err(LimitError::StrTooLarge));
        assert_eq!(grow_str(&mut v, usize::MAX), Err(LimitError::StrTooLarge));
        let mut items: Vec<Value> = Vec::new();
        assert_eq!(
            grow_array(&mut items, MAX_ARRAY_LEN + 1),
            Err(LimitError::ArrayTooLarge)
        );
        grow_array(&mut items, 1).unwrap();
        assert!(items.capacity() >= 1);
    }

    /// The allocator's refusal is an error value, not an abort.
    #[test]
    fn refused_allocation_is_out_of_memory() {
        let mut v: Vec<u8> = Vec::new();
        assert_eq!(
            grow_within(&mut v, usize::MAX / 2, usize::MAX, LimitError::StrTooLarge),
            Err(LimitError::OutOfMemory)
        );
    }
}
