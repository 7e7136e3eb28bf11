//! BetterPython: lexer → parser → type checker → register compiler → register VM
//! (→ Cranelift JIT). Each stage is one module; `driver` strings them together.

pub mod ast;
pub mod bytecode;
pub mod compiler;
pub mod diag;
pub mod driver;
pub mod fatal;
pub mod formatter;
pub mod jit;
pub mod lexer;
pub mod limits;
pub mod parser;
pub mod suggest;
pub mod types;
pub mod vm;
