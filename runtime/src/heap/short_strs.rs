//! The strings of at most one byte, shared: one immortal object per byte value
//! and one empty string, in a static table of the process.
//!
//! Every string of length 0 or 1 the runtime makes is one of these
//! ([`Heap::alloc_str_parts`](super::Heap::alloc_str_parts) and the constant
//! pool hand them out), so `str_char_at(s, i)`, `chr(c)`, `substr(s, i, 1)` and
//! `to_str(d)` of a digit allocate nothing, in the interpreter and in compiled
//! code, which indexes the table inline (`abi::SHORT_STRS`). Scanning a text
//! character by character was an allocation and a collection's share per
//! character (docs/benchmarks.md, "One-byte strings").
//!
//! The objects are immortal in the way of a `ConstPool`'s strings: their
//! headers are marked for good, so a collection that reaches one neither writes
//! to it nor traces it, and they are on no heap's list, so no sweep frees them.
//! They are immutable statics (read-only memory): nothing ever writes to them.

use super::object::{ObjHeader, ObjKind, StrObj, IMMORTAL};
use crate::value::Value;

/// A shared string: the object, and its byte right after it (so it is laid out
/// like a string with inline bytes, and `ptr` points at `bytes`).
#[repr(C)]
pub struct ShortStr {
    obj: StrObj,
    bytes: [u8; 8],
}

// SAFETY: the table is never written after its constant initialisation (its
// raw pointers point into itself); shared reads from any thread are sound.
unsafe impl Sync for ShortStr {}

/// Index of the empty string in [`SHORT_STRS`] (after the 256 one-byte strings).
pub const EMPTY_STR_INDEX: usize = 256;

/// The one-byte string of byte `b` is entry `b`; the empty string is entry
/// [`EMPTY_STR_INDEX`].
pub static SHORT_STRS: [ShortStr; 257] = short_strs(std::ptr::addr_of!(SHORT_STRS).cast());

const fn short_strs(table: *const ShortStr) -> [ShortStr; 257] {
    const NONE: ShortStr = ShortStr {
        obj: StrObj {
            hdr: ObjHeader {
                next: std::ptr::null_mut(),
                kind: ObjKind::Str,
                mark: IMMORTAL,
                buffered: false,
                on_path: false,
                hint: u32::MAX,
            },
            ptr: std::ptr::null(),
            len: 0,
        },
        bytes: [0; 8],
    };
    let mut out = [NONE; 257];
    let mut i = 0;
    while i < 257 {
        // SAFETY (const evaluation): `i` is within the table; the pointer is
        // only computed here, not read.
        let entry = unsafe { table.add(i) };
        out[i].obj.ptr = unsafe { entry.cast::<u8>().add(std::mem::offset_of!(ShortStr, bytes)) };
        if i < EMPTY_STR_INDEX {
            out[i].obj.len = 1;
            out[i].bytes[0] = i as u8;
        }
        i += 1;
    }
    out
}

/// The size of a [`SHORT_STRS`] entry (compiled code indexes the table by byte).
pub const SHORT_STR_SIZE: usize = std::mem::size_of::<ShortStr>();

/// The shared string of `bytes` when it has at most one byte.
#[inline(always)]
pub fn short_str(bytes: &[u8]) -> Option<Value> {
    match bytes {
        [] => Some(empty_str()),
        &[b] => Some(one_byte_str(b)),
        _ => None,
    }
}

/// The one-byte string of byte `b`.
#[inline(always)]
pub fn one_byte_str(b: u8) -> Value {
    entry(b as usize)
}

/// The empty string.
#[inline(always)]
pub fn empty_str() -> Value {
    entry(EMPTY_STR_INDEX)
}

/// The index in [`SHORT_STRS`] of `v`, if it is one of the shared strings
/// (the one-byte strings by their byte, the empty string last): every string
/// of at most one byte is, so that this is the string's identity by content.
#[inline(always)]
pub fn short_str_index(v: Value) -> Option<usize> {
    let offset = (v.as_ptr() as usize).wrapping_sub(SHORT_STRS.as_ptr() as usize);
    (offset < std::mem::size_of_val(&SHORT_STRS) && offset.is_multiple_of(SHORT_STR_SIZE))
        .then_some(offset / SHORT_STR_SIZE)
}

/// The string of entry `i` of the table.
#[inline(always)]
fn entry(i: usize) -> Value {
    Value::obj(std::ptr::addr_of!(SHORT_STRS[i]).cast_mut().cast::<ObjHeader>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::str_bytes;

    #[test]
    fn every_entry_reads_as_its_string() {
        for b in 0..=255u8 {
            let v = one_byte_str(b);
            // SAFETY: a shared string is a live, immortal string.
            assert_eq!(unsafe { str_bytes(v) }, &[b]);
            assert_eq!(short_str(&[b]), Some(v));
            assert_eq!(short_str_index(v), Some(b as usize));
        }
        let e = short_str(b"").expect("empty");
        // SAFETY: as above.
        assert_eq!(unsafe { str_bytes(e) }, b"");
        assert_eq!(short_str_index(e), Some(EMPTY_STR_INDEX));
        assert_eq!(short_str(b"ab"), None);
    }

    #[test]
    fn entries_are_immortal_strings_on_no_list() {
        for s in &SHORT_STRS {
            assert_eq!(s.obj.hdr.mark, IMMORTAL);
            assert_eq!(s.obj.hdr.kind, ObjKind::Str);
            assert!(s.obj.hdr.next.is_null());
            assert!(!s.obj.hdr.buffered);
        }
    }
}
