//! Byte offsets that compiled code uses to read VM and heap structures inline.
//!
//! Most come from `offset_of!` on `#[repr(C)]` types. The positions of the pointer
//! and length words inside a `Vec<Value>` and a `Box<[Value]>` are not specified
//! by Rust, so they are *probed* once at start-up: a value with a known pointer
//! and length is inspected word by word. If the probe does not recognise the
//! layout, the inline paths that need it are replaced by helper calls (they are
//! never wrong, only slower).

use crate::vm::frame::{Frame, FrameStack};
use crate::vm::Vm;
use bp_runtime::heap::{ArrayObj, ClosureObj, ObjHeader, ObjKind, StructObj, TupleObj};
use bp_runtime::value::Value;
use std::mem::offset_of;

/// Offsets used by the translator (all in bytes).
#[derive(Clone, Copy, Debug)]
pub struct Offsets {
    pub frame_size: i32,
    pub frame_func: i32,
    pub frame_pc: i32,
    pub frame_base: i32,
    /// Offset of the frame depth counter inside `Vm`.
    pub vm_depth: i32,
    pub hdr_kind: i32,
    pub closure_kind: u8,
    pub clo_func: i32,
    /// Array items: pointer and length words (None if the probe failed).
    pub arr_items: Option<(i32, i32)>,
    /// Struct fields: pointer and length words.
    pub struct_fields: Option<(i32, i32)>,
    /// Tuple items: pointer and length words.
    pub tuple_items: Option<(i32, i32)>,
    /// Closure captures: pointer and length words.
    pub clo_captures: Option<(i32, i32)>,
}

/// Word positions (pointer, length) inside a `Vec<Value>`.
fn probe_vec() -> Option<(usize, usize)> {
    const W: usize = std::mem::size_of::<usize>();
    if std::mem::size_of::<Vec<Value>>() != 3 * W {
        return None;
    }
    let mut v: Vec<Value> = Vec::with_capacity(7);
    v.extend([Value(1), Value(2), Value(3)]);
    let ptr = v.as_ptr() as usize;
    let (len, cap) = (v.len(), v.capacity());
    if len == cap {
        return None;
    }
    // SAFETY: `Vec<Value>` is exactly three machine words (checked above) with no
    // padding; reading its bytes as words reads initialised integers/pointers.
    let words: [usize; 3] = unsafe { std::mem::transmute_copy(&v) };
    let p = words.iter().position(|&w| w == ptr)?;
    let l = words.iter().position(|&w| w == len)?;
    if words.iter().filter(|&&w| w == len).count() != 1 {
        return None;
    }
    Some((p * W, l * W))
}

/// Word positions (pointer, length) inside a `Box<[Value]>`.
fn probe_boxed_slice() -> Option<(usize, usize)> {
    const W: usize = std::mem::size_of::<usize>();
    if std::mem::size_of::<Box<[Value]>>() != 2 * W {
        return None;
    }
    let b: Box<[Value]> = vec![Value(1), Value(2), Value(3)].into_boxed_slice();
    let ptr = b.as_ptr() as usize;
    // SAFETY: a boxed slice is a (pointer, length) pair of two words (checked).
    let words: [usize; 2] = unsafe { std::mem::transmute_copy(&b) };
    let p = words.iter().position(|&w| w == ptr)?;
    let l = words.iter().position(|&w| w == 3)?;
    if p == l {
        return None;
    }
    Some((p * W, l * W))
}

impl Offsets {
    pub fn compute() -> Offsets {
        let vec = probe_vec();
        let bs = probe_boxed_slice();
        let at =
            |base: usize, pl: Option<(usize, usize)>| pl.map(|(p, l)| ((base + p) as i32, (base + l) as i32));
        Offsets {
            frame_size: std::mem::size_of::<Frame>() as i32,
            frame_func: offset_of!(Frame, func) as i32,
            frame_pc: offset_of!(Frame, pc) as i32,
            frame_base: offset_of!(Frame, base) as i32,
            vm_depth: (offset_of!(Vm<'static>, frames) + offset_of!(FrameStack, len)) as i32,
            hdr_kind: offset_of!(ObjHeader, kind) as i32,
            closure_kind: ObjKind::Closure as u8,
            clo_func: offset_of!(ClosureObj, func) as i32,
            arr_items: at(offset_of!(ArrayObj, items), vec),
            struct_fields: at(offset_of!(StructObj, fields), bs),
            tuple_items: at(offset_of!(TupleObj, items), bs),
            clo_captures: at(offset_of!(ClosureObj, captures), bs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_find_the_layout() {
        let o = Offsets::compute();
        assert!(o.arr_items.is_some());
        assert!(o.struct_fields.is_some());
        assert!(o.tuple_items.is_some());
        assert_eq!(o.frame_size % 8, 0);
    }
}
