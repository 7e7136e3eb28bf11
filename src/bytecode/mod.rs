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
//! Which registers an instruction reads and writes and where control goes after it
//! is described once, in `operands.rs` ([`Instr::operands`], [`Instr::successors`]),
//! for the verifier, the JIT's analyses and the disassembler.
//!
//! The table of all instructions with their semantics is in `docs/bytecode.md`;
//! keep both in sync.

pub mod disasm;
mod operands;

pub use operands::Operands;

use bp_runtime::heap::Layout;
use bp_runtime::value::ValKind;

/// A register index within a frame.
pub type Reg = u8;

/// One instruction. Fused compare-and-branch forms (`Br*`) jump when the
/// comparison is **true**; the compiler swaps operands for `>`/`>=` and inverts
/// integer comparisons itself (floats have explicit negated forms because of NaN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    // ----- moves and constants -----
    /// `dst = src`
    Mov { dst: Reg, src: Reg },
    /// `dst = imm` (an int)
    LoadInt { dst: Reg, imm: i32 },
    /// `dst = consts[k]` (int, float or string constant)
    LoadConst { dst: Reg, k: u32 },
    /// `dst = val` (a bool)
    LoadBool { dst: Reg, val: bool },
    /// `dst = null` (a reference slot holding no object)
    LoadNull { dst: Reg },
    /// `dst = globals[idx]`
    GetGlobal { dst: Reg, idx: u32 },
    /// `globals[idx] = src`
    SetGlobal { src: Reg, idx: u32 },

    // ----- integer arithmetic (wrapping i64) -----
    /// `dst = a + b`
    AddI { dst: Reg, a: Reg, b: Reg },
    /// `dst = a - b`
    SubI { dst: Reg, a: Reg, b: Reg },
    /// `dst = a * b`
    MulI { dst: Reg, a: Reg, b: Reg },
    /// `dst = a / b` truncating; `b == 0` raises `division by zero`; `MIN / -1` wraps
    DivI { dst: Reg, a: Reg, b: Reg },
    /// `dst = a % b` (sign of `a`); `b == 0` raises `modulo by zero`; `MIN % -1` is 0
    ModI { dst: Reg, a: Reg, b: Reg },
    /// `dst = a + imm` (also used for subtraction of a constant)
    AddIImm { dst: Reg, a: Reg, imm: i16 },
    /// `dst = -src` (wrapping)
    NegI { dst: Reg, src: Reg },
    /// `dst = a & b`
    BitAnd { dst: Reg, a: Reg, b: Reg },
    /// `dst = a | b`
    BitOr { dst: Reg, a: Reg, b: Reg },
    /// `dst = a ^ b`
    BitXor { dst: Reg, a: Reg, b: Reg },
    /// `dst = a << (b mod 64)`
    Shl { dst: Reg, a: Reg, b: Reg },
    /// `dst = a >> (b mod 64)` (arithmetic)
    Shr { dst: Reg, a: Reg, b: Reg },
    /// `dst = !src` (bitwise complement)
    BitNot { dst: Reg, src: Reg },

    // ----- float arithmetic (IEEE f64) -----
    /// `dst = a + b`
    AddF { dst: Reg, a: Reg, b: Reg },
    /// `dst = a - b`
    SubF { dst: Reg, a: Reg, b: Reg },
    /// `dst = a * b`
    MulF { dst: Reg, a: Reg, b: Reg },
    /// `dst = a / b` (no error on zero)
    DivF { dst: Reg, a: Reg, b: Reg },
    /// `dst = fmod(a, b)`
    ModF { dst: Reg, a: Reg, b: Reg },
    /// `dst = -src`
    NegF { dst: Reg, src: Reg },

    // ----- comparisons producing a bool -----
    /// `dst = a == b` on ints or bools
    EqI { dst: Reg, a: Reg, b: Reg },
    /// `dst = a != b` on ints or bools
    NeI { dst: Reg, a: Reg, b: Reg },
    /// `dst = a < b` on ints
    LtI { dst: Reg, a: Reg, b: Reg },
    /// `dst = a <= b` on ints
    LeI { dst: Reg, a: Reg, b: Reg },
    /// `dst = a == b` on floats (IEEE)
    EqF { dst: Reg, a: Reg, b: Reg },
    /// `dst = a != b` on floats (IEEE)
    NeF { dst: Reg, a: Reg, b: Reg },
    /// `dst = a < b` on floats
    LtF { dst: Reg, a: Reg, b: Reg },
    /// `dst = a <= b` on floats
    LeF { dst: Reg, a: Reg, b: Reg },
    /// `dst = a == b` on references: deep value equality (§16)
    EqRef { dst: Reg, a: Reg, b: Reg },
    /// `dst = a != b` on references
    NeRef { dst: Reg, a: Reg, b: Reg },
    /// `dst = not src` (bool)
    Not { dst: Reg, src: Reg },

    // ----- control flow -----
    /// `pc = target`
    Jmp { target: u32 },
    /// Loop back-edge: counts toward the function's hotness (`loop_id` selects the
    /// counter; the JIT enters by OSR at `target`, the loop header), then `pc = target`.
    Loop { target: u32, loop_id: u16 },
    /// `if cond { pc = target }`
    JmpIf { cond: Reg, target: u32 },
    /// `if !cond { pc = target }`
    JmpIfNot { cond: Reg, target: u32 },
    /// `if a == b (ints) { pc = target }`
    BrEqI { a: Reg, b: Reg, target: u32 },
    /// `if a != b (ints) { pc = target }`
    BrNeI { a: Reg, b: Reg, target: u32 },
    /// `if a < b (ints) { pc = target }`
    BrLtI { a: Reg, b: Reg, target: u32 },
    /// `if a <= b (ints) { pc = target }`
    BrLeI { a: Reg, b: Reg, target: u32 },
    /// `if a == imm { pc = target }`
    BrEqIImm { a: Reg, imm: i16, target: u32 },
    /// `if a != imm { pc = target }`
    BrNeIImm { a: Reg, imm: i16, target: u32 },
    /// `if a < imm { pc = target }`
    BrLtIImm { a: Reg, imm: i16, target: u32 },
    /// `if a <= imm { pc = target }`
    BrLeIImm { a: Reg, imm: i16, target: u32 },
    /// `if a > imm { pc = target }`
    BrGtIImm { a: Reg, imm: i16, target: u32 },
    /// `if a >= imm { pc = target }`
    BrGeIImm { a: Reg, imm: i16, target: u32 },
    /// `if a < b (floats) { pc = target }`
    BrLtF { a: Reg, b: Reg, target: u32 },
    /// `if a <= b (floats) { pc = target }`
    BrLeF { a: Reg, b: Reg, target: u32 },
    /// `if !(a < b) (floats; true for NaN) { pc = target }`
    BrNotLtF { a: Reg, b: Reg, target: u32 },
    /// `if !(a <= b) (floats; true for NaN) { pc = target }`
    BrNotLeF { a: Reg, b: Reg, target: u32 },

    // ----- calls -----
    /// Call user function `sites[site].target` with argument registers
    /// `sites[site].args`; result to `dst` (unchanged for void functions).
    Call { dst: Reg, site: u32 },
    /// Call the function value (closure) in register `sites[site].target as Reg`.
    CallIndirect { dst: Reg, site: u32 },
    /// Call runtime builtin `sites[site].target`.
    CallBuiltin { dst: Reg, site: u32 },
    /// Call `extern` function `sites[site].target`.
    CallExtern { dst: Reg, site: u32 },
    /// Return the value in `src`.
    Ret { src: Reg },
    /// Return from a void function.
    RetVoid,

    // ----- strings and output -----
    /// `dst = a + b` (string concatenation)
    Concat { dst: Reg, a: Reg, b: Reg },
    /// `dst` = concatenation of the string registers `sites[site].args`
    ConcatN { dst: Reg, site: u32 },
    /// `dst = to_str(src)` where `src` holds a value of kind `kind` (`ValKind as u8`)
    ToStr { dst: Reg, src: Reg, kind: u8 },
    /// Print the string registers `sites[site].args` separated by spaces, then a newline.
    Print { site: u32 },

    // ----- arrays, maps, tuples, structs, closures -----
    /// `dst = [args...]`; element kind is `sites[site].target` (`ValKind as u8`)
    NewArray { dst: Reg, site: u32 },
    /// `dst = arr[idx]` (negative counts from the end; out of range raises)
    ArrGet { dst: Reg, arr: Reg, idx: Reg },
    /// `arr[idx] = src` (same index rules)
    ArrSet { arr: Reg, idx: Reg, src: Reg },
    /// `dst = array_len(arr)`
    ArrLen { dst: Reg, arr: Reg },
    /// `dst = {k1: v1, ...}` from `sites[site].args` = `[k1, v1, k2, v2, ...]`;
    /// `target` = key kind | (value kind << 8)
    NewMap { dst: Reg, site: u32 },
    /// `dst = map[key]`; a missing key raises `key not found in map`
    MapGet { dst: Reg, map: Reg, key: Reg },
    /// `map[key] = val` (insert or overwrite)
    MapSet { map: Reg, key: Reg, val: Reg },
    /// `dst = (args...)` with element kinds `sites[site].kinds`
    NewTuple { dst: Reg, site: u32 },
    /// `dst = tup[idx]`
    TupleGet { dst: Reg, tup: Reg, idx: u8 },
    /// `dst = Layout{args...}` for layout `sites[site].target`, fields in
    /// declaration order
    NewStruct { dst: Reg, site: u32 },
    /// `dst = obj.fields[idx]`
    GetField { dst: Reg, obj: Reg, idx: u8 },
    /// `obj.fields[idx] = src`
    SetField { obj: Reg, idx: u8, src: Reg },
    /// `dst` = function value for function `sites[site].target` capturing
    /// `sites[site].args` (kinds in `sites[site].kinds`)
    MakeClosure { dst: Reg, site: u32 },

    // ----- exceptions -----
    /// Raise the string in `src` as an exception.
    Throw { src: Reg },
    /// Re-raise the exception held in `src` (caught by a compiler-generated
    /// catch-all around a `finally`), keeping its original location and trace.
    Rethrow { src: Reg },
}

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
}

/// Extern (FFI) declarations and their marshalling types live in the runtime, which
/// performs the calls.
pub use bp_runtime::ffi::{ExternSig as ExternDef, FfiType};

#[cfg(test)]
mod tests {
    /// `docs/bytecode.md` documents the instruction set in one table: keep it complete.
    #[test]
    fn docs_table_names_every_instruction() {
        let src = include_str!("mod.rs");
        let docs = include_str!("../../docs/bytecode.md");
        let start = src.find("pub enum Instr {").expect("Instr enum");
        let end = src[start..].find("\n}").expect("end of Instr") + start;
        let mut n = 0;
        for line in src[start..end].lines().skip(1) {
            let t = line.trim();
            let name: String = t.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_uppercase()) {
                continue;
            }
            n += 1;
            assert!(
                docs.contains(&format!("| `{name}` |")),
                "docs/bytecode.md lacks instruction {name}"
            );
        }
        assert!(n > 60, "found only {n} instructions");
    }
}
