//! The BetterPython runtime, shared by the register VM and JIT-compiled code:
//! the value representation, the garbage-collected heap, text formatting, and the
//! builtin function library.

pub mod builtins;
pub mod ffi;
mod ffi_call;
pub mod format;
pub mod heap;
pub mod limits;
pub mod ordmap;
pub mod rt;
pub mod value;

pub use rt::{Rt, RtError};
pub use value::{ValKind, Value};
