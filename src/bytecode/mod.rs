//! Register bytecode: the instruction set, functions and programs.
//!
//! Instructions are 3-address and typed: the compiler picks `AddI` or `AddF`
//! from the static types, so the VM never checks a type at run time. Each
//! instruction is at most 8 bytes (asserted below). Registers are `u8` indices
//! into the current frame's register window (at most 256 per function). Jump
//! targets are absolute instruction indices within the function.
//!
//! Variable-length operand lists (call arguments, literal elements) live in the
//! function's [`CallSite`] table and are referenced by index.
//!
//! The instruction set is declared once, in `isa.rs` (the [`Instr`] enum, [`Op`], the
//! operand roles and the disassembly are generated from it); the properties the
//! passes need are exhaustive matches in `props.rs`. Which registers an instruction
//! reads and writes and where control goes after it follows from the roles, in
//! `operands.rs` ([`Instr::operands`], [`Instr::successors`]), for the verifier, the
//! JIT's analyses and the disassembler. The table in `docs/bytecode.md` is generated
//! from the declaration (`docs_table_matches_the_declaration` in
//! `tests/doc_examples.rs`; `BP_BLESS=1` rewrites it).

pub mod disasm;
mod isa;
mod operands;
mod props;

pub use isa::{docs_table, Instr, Op, OperandValues, Role, SiteUse};
pub use operands::Operands;
pub use props::{Calls, Flow, Lowering, Resizes, ResultKind};

/// Where a `NewMap`'s site target carries a size hint (the number of entries
/// the code adds right away, which the map makes room for): its bits from 16
/// on; the key and value kinds are bits 0-15.
pub const MAP_SIZE_HINT: u32 = 16;

use bp_runtime::heap::Layout;
use bp_runtime::value::ValKind;
use std::sync::atomic::{AtomicU32, Ordering};

/// A register index within a frame.
pub type Reg = u8;

const _: () = assert!(std::mem::size_of::<Instr>() <= 8);

/// Variable-length operands of one instruction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallSite {
    /// Function id, builtin id, extern id, callee register, element kind, layout id
    /// ... depending on the instruction.
    pub target: u32,
    pub args: Vec<Reg>,
    /// Value kinds where the instruction needs them (tuple elements, captures,
    /// print arguments).
    pub kinds: Vec<ValKind>,
}

/// An entry of a function's exception table. When an exception is raised at a pc
/// in `start..end`, the first matching entry (innermost `try` first) catches it:
/// the exception message is stored in `reg` (unless `reg` is `None`) and execution
/// continues at `target`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Handler {
    pub start: u32,
    pub end: u32,
    pub target: u32,
    pub reg: Option<Reg>,
}

/// A constant of the pool.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Int(i64),
    Float(f64),
    Str(Vec<u8>),
}

/// Source position of an instruction (1-based).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Function {
    /// Display name used in stack traces (`main`, `Point.norm`, `<lambda>`).
    pub name: String,
    /// Index into [`Program::files`].
    pub file: u32,
    /// A lambda with captures: a call passes the closure in register `nparams`,
    /// after the parameters (`GetCapture` reads the captured values from it).
    pub takes_closure: bool,
    /// Number of parameters; they arrive in registers `0..nparams`.
    pub nparams: u8,
    /// Registers used (frame size), at most 256.
    pub nregs: u16,
    /// For every register, whether it ever holds a reference (GC root map). A
    /// register holds values of one kind only during the whole function.
    pub ref_regs: Vec<bool>,
    pub param_kinds: Vec<ValKind>,
    /// Kind of the result, `None` for void functions.
    pub ret_kind: Option<ValKind>,
    pub code: Vec<Instr>,
    /// Source position of each instruction (same length as `code`).
    pub locs: Vec<Loc>,
    pub consts: Vec<Const>,
    pub sites: Vec<CallSite>,
    pub handlers: Vec<Handler>,
    /// Number of distinct `Loop` back-edge counters.
    pub num_loops: u16,
    /// Line of the `def` (for traces).
    pub line: u32,
    /// Per call site: which function values the interpreter has called there.
    pub call_feedback: CallFeedback,
}

/// What the interpreter saw at each `CallIndirect` site of a function: no call
/// yet, up to [`CallFeedback::WAYS`] distinct functions (their ids, in the order
/// first seen), or more (megamorphic). The JIT reads it when it compiles the
/// function and turns a site that saw a few functions into a polymorphic inline
/// cache: a check of the callee against each and a direct (often inlined) call,
/// the general call for anything else. Relaxed atomics, because the program is
/// shared read-only; a stale or torn value only costs speed (the compiled code
/// checks the callee before every direct call).
#[derive(Debug, Default)]
pub struct CallFeedback(Box<[AtomicU32]>);

/// [`CallFeedback`] of a site that called more than [`CallFeedback::WAYS`]
/// functions (stored in its first slot).
const MEGAMORPHIC: u32 = u32::MAX;

impl CallFeedback {
    /// How many distinct functions a site records before it counts as
    /// megamorphic: the inline cache's longest chain of checks. Four, as V8's
    /// polymorphic inline caches.
    pub const WAYS: usize = 4;

    /// Feedback for `n` call sites, none seen yet.
    pub fn new(n: usize) -> CallFeedback {
        CallFeedback((0..n * Self::WAYS).map(|_| AtomicU32::new(0)).collect())
    }

    /// The slots of site `site`: function id + 1 per function seen, 0 when free.
    fn slots(&self, site: u32) -> Option<&[AtomicU32]> {
        let start = (site as usize).checked_mul(Self::WAYS)?;
        self.0.get(start..start + Self::WAYS)
    }

    /// Site `site` called function `callee`.
    #[inline(always)]
    pub fn note(&self, site: u32, callee: u32) {
        let Some(slots) = self.slots(site) else { return };
        let this = callee.saturating_add(1);
        // The common cases, a monomorphic site and a megamorphic one (nothing
        // more to record), are one load.
        let first = slots[0].load(Ordering::Relaxed);
        if first == this || first == MEGAMORPHIC {
            return;
        }
        self.note_slow(slots, this);
    }

    #[inline(never)]
    fn note_slow(&self, slots: &[AtomicU32], this: u32) {
        for c in slots {
            match c.load(Ordering::Relaxed) {
                MEGAMORPHIC => return,
                seen if seen == this => return,
                0 => {
                    c.store(this, Ordering::Relaxed);
                    return;
                }
                _ => {}
            }
        }
        slots[0].store(MEGAMORPHIC, Ordering::Relaxed);
    }

    /// The functions site `site` has called, in the order first seen, if it
    /// called at least one and at most [`CallFeedback::WAYS`]; empty otherwise.
    pub fn seen(&self, site: u32) -> Vec<u32> {
        let Some(slots) = self.slots(site) else {
            return Vec::new();
        };
        if slots[0].load(Ordering::Relaxed) == MEGAMORPHIC {
            return Vec::new();
        }
        slots
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .take_while(|&v| v != 0 && v != MEGAMORPHIC)
            .map(|v| v - 1)
            .collect()
    }
}

impl Clone for CallFeedback {
    fn clone(&self) -> CallFeedback {
        CallFeedback(
            self.0
                .iter()
                .map(|c| AtomicU32::new(c.load(Ordering::Relaxed)))
                .collect(),
        )
    }
}

#[derive(Clone, Debug)]
pub struct GlobalDef {
    pub name: String,
    pub kind: ValKind,
}

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub functions: Vec<Function>,
    pub globals: Vec<GlobalDef>,
    /// Struct and class layouts, indexed by layout id (struct ids first, then classes).
    pub layouts: Vec<Layout>,
    /// Source file paths, indexed by `Function::file`.
    pub files: Vec<String>,
    /// Entry point.
    pub main: u32,
    /// The function that runs the global initialisers before `main`, if any.
    pub init: Option<u32>,
    /// Extern (FFI) declarations, indexed by extern id.
    pub externs: Vec<ExternDef>,
    /// What method calls and class tests need, by layout id.
    pub classes: ClassTables,
}

/// The classes of a program, by layout id. Class layouts follow the struct layouts
/// in a preorder of the inheritance forest, so the subclasses of a class are the
/// layouts right after it: `x is C` is `C <= layout(x) <= subtree_end[C]`.
#[derive(Clone, Debug, Default)]
pub struct ClassTables {
    /// Per layout: where its method table starts in `methods` (structs: 0).
    pub vtable_base: Vec<u32>,
    /// Per layout: the number of its method-table slots (structs: 0).
    pub vtable_len: Vec<u32>,
    /// The method tables of all classes one after the other: function ids.
    pub methods: Vec<u32>,
    /// Per layout: the last layout id of its subtree (itself for a struct or a
    /// class without subclasses).
    pub subtree_end: Vec<u32>,
}

impl ClassTables {
    /// The function that slot `slot` of layout `layout`'s method table holds.
    pub fn method(&self, layout: u32, slot: u32) -> Option<u32> {
        let base = *self.vtable_base.get(layout as usize)?;
        if slot >= *self.vtable_len.get(layout as usize)? {
            return None;
        }
        self.methods.get((base + slot) as usize).copied()
    }

    /// Whether an object of layout `layout` is an instance of class `class`.
    pub fn is_instance(&self, layout: u32, class: u32) -> bool {
        layout >= class
            && self
                .subtree_end
                .get(class as usize)
                .is_some_and(|&end| layout <= end)
    }
}

/// Extern (FFI) declarations and their marshalling types live in the runtime, which
/// performs the calls.
pub use bp_runtime::ffi::{ExternSig as ExternDef, FfiType};
