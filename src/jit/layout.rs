//! Byte offsets that compiled code uses to read VM and heap structures inline.
//!
//! All come from `offset_of!` on `#[repr(C)]` types: the frame records and the VM's
//! depth counter here, the heap objects from the runtime's object ABI
//! ([`bp_runtime::heap::abi`]). Nothing is probed at start-up.

use crate::vm::frame::{Frame, FrameStack};
use crate::vm::Vm;
use bp_runtime::heap::abi;
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
    /// Array items: pointer and length words.
    pub arr_items: (i32, i32),
    /// Struct fields: pointer and length words.
    pub struct_fields: (i32, i32),
    /// Tuple items: pointer and length words.
    pub tuple_items: (i32, i32),
    /// Closure captures: pointer and length words.
    pub clo_captures: (i32, i32),
}

impl Offsets {
    pub fn compute() -> Offsets {
        Offsets {
            frame_size: std::mem::size_of::<Frame>() as i32,
            frame_func: offset_of!(Frame, func) as i32,
            frame_pc: offset_of!(Frame, pc) as i32,
            frame_base: offset_of!(Frame, base) as i32,
            vm_depth: (offset_of!(Vm<'static>, frames) + offset_of!(FrameStack, len)) as i32,
            hdr_kind: abi::HDR_KIND,
            closure_kind: abi::KIND_CLOSURE,
            clo_func: abi::CLOSURE_FUNC,
            arr_items: (abi::ARRAY_PTR, abi::ARRAY_LEN),
            struct_fields: (abi::STRUCT_PTR, abi::STRUCT_LEN),
            tuple_items: (abi::TUPLE_PTR, abi::TUPLE_LEN),
            clo_captures: (abi::CLOSURE_CAPTURES_PTR, abi::CLOSURE_CAPTURES_LEN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_records_are_whole_words() {
        let o = Offsets::compute();
        assert_eq!(o.frame_size % 8, 0);
    }
}
