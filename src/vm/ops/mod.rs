//! Instruction families. Small, hot operations are `#[inline(always)]` helpers
//! called from the dispatch loop in [`super::interp`]; rare and error paths are
//! `#[cold]`.

pub mod arith;
pub mod calls;
pub mod control;
pub mod exceptions;
pub mod objects;
