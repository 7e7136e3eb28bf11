//! BetterPython: lexer → parser → type checker → register compiler → register VM
//! (→ Cranelift JIT, with the `jit` feature). Each stage is one module; `driver`
//! strings them together. Layers: `vm` interprets, `jit` compiles, `tier` (above
//! both) connects them; see docs/architecture.md.

pub mod allocator;
pub mod ast;
pub mod bytecode;
pub mod compiler;
pub mod diag;
pub mod driver;
pub mod fatal;
pub mod formatter;
#[cfg(feature = "jit")]
pub mod jit;
pub mod lexer;
pub mod limits;
pub mod lsp;
pub mod native_stack;
pub mod parser;
pub mod repl;
pub mod suggest;
pub mod testrunner;
#[cfg(feature = "jit")]
pub mod tier;
pub mod types;
pub mod vm;
