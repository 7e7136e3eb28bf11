//! The value representation shared by the VM, the runtime library and JIT code.
//!
//! Every value is one untagged 64-bit slot. The static type decides how to read it:
//! `int` is an `i64`, `float` the bits of an `f64`, `bool` 0 or 1, and every other
//! type (str, arrays, maps, tuples, structs, classes, functions, ptr) is a pointer to
//! a garbage-collected object ([`crate::heap::ObjHeader`]) or 0 for null. Nothing is
//! checked at run time; the type checker guarantees that a slot is always read as the
//! type it was written as. Heap objects are self-describing (their header has a kind)
//! and containers record the [`ValKind`] of their elements, which is all the runtime
//! needs to print, compare, hash and trace them.

use crate::heap::ObjHeader;

/// One 64-bit slot: a register, a global, an array element, a field.
#[repr(transparent)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug)]
pub struct Value(pub u64);

/// How a slot is to be read. This is the only type information the runtime keeps
/// about non-object values; it is stored in container headers and in the per-function
/// register maps (for GC roots).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValKind {
    Int = 0,
    Float = 1,
    Bool = 2,
    /// A pointer to a heap object, or 0 (null).
    Ref = 3,
}

impl ValKind {
    pub fn from_u8(b: u8) -> ValKind {
        match b & 3 {
            0 => ValKind::Int,
            1 => ValKind::Float,
            2 => ValKind::Bool,
            _ => ValKind::Ref,
        }
    }
}

impl Value {
    pub const NULL: Value = Value(0);

    #[inline(always)]
    pub fn int(i: i64) -> Value {
        Value(i as u64)
    }
    #[inline(always)]
    pub fn float(f: f64) -> Value {
        Value(f.to_bits())
    }
    #[inline(always)]
    pub fn bool(b: bool) -> Value {
        Value(b as u64)
    }
    #[inline(always)]
    pub fn obj(p: *mut ObjHeader) -> Value {
        Value(p as u64)
    }
    #[inline(always)]
    pub fn as_int(self) -> i64 {
        self.0 as i64
    }
    #[inline(always)]
    pub fn as_float(self) -> f64 {
        f64::from_bits(self.0)
    }
    #[inline(always)]
    pub fn as_bool(self) -> bool {
        self.0 != 0
    }
    #[inline(always)]
    pub fn as_ptr(self) -> *mut ObjHeader {
        self.0 as *mut ObjHeader
    }
    #[inline(always)]
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}
