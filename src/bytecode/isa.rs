//! The instruction set, declared once.
//!
//! [`instruction_set!`] below is the only list of the instructions, in the manner of
//! wasmi's `for_each_op!` and LuaJIT's `BCDEF`: per instruction its family, its
//! meaning (the doc comment), its fields with their type and operand [`Role`], and
//! how `bp disasm` shows its operands. From it the macro generates
//!
//! * the [`Instr`] enum with its doc comments (the variant names and fields that
//!   the compiler, the interpreter and the translator match on);
//! * [`Op`], the instruction without its fields, with its mnemonic, family,
//!   meaning, operand list and disassembly template ([`Op::ALL`] lists them all);
//! * [`Instr::operand_values`] and [`Instr::jump_target_mut`].
//!
//! What follows from the roles is computed from them, not written per instruction:
//! the registers read and written and the call site (`operands.rs`), the jump
//! target, the index checks of the verifier, the operand text of the
//! disassembler, and the table in `docs/bytecode.md` (checked by a test,
//! rewritten with `BP_BLESS=1`). What does not follow from the roles (control
//! flow, result kind, allocation, calls, JIT lowering) is one exhaustive `match`
//! per property in `props.rs`.
//!
//! Syntax of an entry: `Name { field: Type = Role, ... } => "template";` (a
//! variant without fields has no braces). The template is the operand text of
//! `bp disasm`: each `{field}` is replaced by that operand, rendered by its role
//! (a unit test checks that every field appears exactly once).

use super::Reg;

/// What an instruction's field is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A register the instruction reads.
    Read,
    /// The register the instruction writes (its result, `dst`).
    Write,
    /// A register the instruction reads and then writes (its result, like `Write`).
    ReadWrite,
    /// An immediate integer.
    Int,
    /// An immediate bool.
    Bool,
    /// An index into the function's constant pool.
    Const,
    /// An index into the program's globals.
    Global,
    /// An index into the function's call-site table; what the site holds.
    Site(SiteUse),
    /// A jump target: an instruction index in the same function.
    Target,
    /// A loop back-edge counter of the function (`< num_loops`).
    LoopId,
    /// A value kind (`ValKind as u8`).
    Kind,
    /// A field of the struct in the instruction's first register read.
    Field,
    /// An element of the tuple in the instruction's first register read.
    Slot,
    /// A class: its layout id (a class's subclasses have the layout ids after it).
    Class,
}

/// What the call site of an instruction holds: the meaning of its `target`, `args`
/// and `kinds` (see `CallSite`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteUse {
    /// `target` a function id; `args` its arguments, exactly `nparams` of them.
    Function,
    /// `target` the register holding the closure; `args` its arguments.
    ClosureReg,
    /// `target` a builtin id; `args` its arguments.
    Builtin,
    /// `target` an extern id; `args` its arguments.
    Extern,
    /// `args` the parts to concatenate; `kinds` empty (all strings) or one per
    /// part: a string part is copied, an int (or other scalar) part is written as
    /// `to_str` writes it.
    Strings,
    /// `args` strings to print; `kinds` empty or one per argument.
    Print,
    /// `target` the element kind; `args` the elements.
    Array,
    /// `target` = key kind | value kind << 8; `args` = keys and values alternating.
    Map,
    /// `args` the elements, `kinds` their kinds.
    Tuple,
    /// `target` a layout id; `args` the field values in declaration order.
    Struct,
    /// `target` a function id; `args` the captured registers, `kinds` their kinds.
    Closure,
    /// `target` a method-table slot; `args` the receiver, then the arguments.
    Method,
}

/// The operand values of one instruction in declaration order, widened to `i64`
/// (a bool is 0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperandValues {
    values: [i64; 4],
    len: usize,
}

impl OperandValues {
    fn new(vals: &[i64]) -> Self {
        let mut values = [0; 4];
        values[..vals.len()].copy_from_slice(vals);
        OperandValues {
            values,
            len: vals.len(),
        }
    }

    pub fn as_slice(&self) -> &[i64] {
        &self.values[..self.len]
    }
}

/// `Some(x)` for the field with role `Target`, else `None` (for
/// [`Instr::jump_target_mut`]).
macro_rules! if_target {
    (Target, $x:ident) => {
        Some($x)
    };
    ($other:ident, $x:ident) => {
        None
    };
}

macro_rules! instruction_set {
    ($(
        family $family:literal {
            $(
                $(#[doc = $doc:literal])*
                $name:ident $({ $($field:ident : $ty:ident = $role:ident $(($site:ident))?),* $(,)? })?
                    => $template:literal;
            )*
        }
    )*) => {
        /// One instruction. Fused compare-and-branch forms (`Br*`) jump when the
        /// comparison is **true**; the compiler swaps operands for `>`/`>=` and inverts
        /// integer comparisons itself (floats have explicit negated forms because of NaN).
        ///
        /// Generated from the declaration in `isa.rs`.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum Instr {
            $($(
                $(#[doc = $doc])*
                $name $({ $($field: $ty),* })?,
            )*)*
        }

        /// An instruction without its fields (its opcode).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Op {
            $($( $name, )*)*
        }

        impl Op {
            /// Every instruction, in declaration order.
            pub const ALL: &'static [Op] = &[$($( Op::$name, )*)*];

            /// The mnemonic (the variant's name).
            pub const fn name(self) -> &'static str {
                match self {
                    $($( Op::$name => stringify!($name), )*)*
                }
            }

            /// The family it is listed under (docs/bytecode.md).
            pub const fn family(self) -> &'static str {
                match self {
                    $($( Op::$name => $family, )*)*
                }
            }

            /// Its meaning: the lines of its doc comment.
            pub const fn doc(self) -> &'static [&'static str] {
                match self {
                    $($( Op::$name => &[$($doc),*], )*)*
                }
            }

            /// Its fields: name and role, in declaration order.
            pub const fn operands(self) -> &'static [(&'static str, Role)] {
                match self {
                    $($( Op::$name => &[$($( (stringify!($field), Role::$role $((SiteUse::$site))?) ),*)?], )*)*
                }
            }

            /// The `bp disasm` operand text, with a `{field}` per field.
            pub const fn template(self) -> &'static str {
                match self {
                    $($( Op::$name => $template, )*)*
                }
            }
        }

        impl Instr {
            /// The instruction's opcode.
            pub const fn op(&self) -> Op {
                match self {
                    $($( Instr::$name { .. } => Op::$name, )*)*
                }
            }

            /// Its field values, in the order of [`Op::operands`].
            pub fn operand_values(&self) -> OperandValues {
                match *self {
                    $($( Instr::$name $({ $($field),* })? => OperandValues::new(&[$($($field as i64),*)?]), )*)*
                }
            }

            /// Mutable access to the jump target (the field with role `Target`), if any.
            #[allow(unused_variables)]
            pub fn jump_target_mut(&mut self) -> Option<&mut u32> {
                match self {
                    $($( Instr::$name $({ $($field),* })? => None $($( .or(if_target!($role, $field)) )*)?, )*)*
                }
            }
        }
    };
}

instruction_set! {
    family "moves and constants" {
        /// `dst = src`
        Mov { dst: Reg = Write, src: Reg = Read } => "{dst}, {src}";
        /// `dst = imm` (an int)
        LoadInt { dst: Reg = Write, imm: i32 = Int } => "{dst}, {imm}";
        /// `dst = consts[k]` (int, float or string constant)
        LoadConst { dst: Reg = Write, k: u32 = Const } => "{dst}, {k}";
        /// `dst = val` (a bool)
        LoadBool { dst: Reg = Write, val: bool = Bool } => "{dst}, {val}";
        /// `dst = null` (a reference slot holding no object)
        LoadNull { dst: Reg = Write } => "{dst}";
        /// `dst = globals[idx]`
        GetGlobal { dst: Reg = Write, idx: u32 = Global } => "{dst}, {idx}";
        /// `globals[idx] = src`
        SetGlobal { src: Reg = Read, idx: u32 = Global } => "{idx}, {src}";
    }
    family "integer arithmetic (wrapping i64)" {
        /// `dst = a + b`
        AddI { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a - b`
        SubI { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a * b`
        MulI { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a / b` truncating; `b == 0` raises `division by zero`; `MIN / -1` wraps
        DivI { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a % b` (sign of `a`); `b == 0` raises `modulo by zero`; `MIN % -1` is 0
        ModI { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a + imm` (also used for subtraction of a constant)
        AddIImm { dst: Reg = Write, a: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {imm}";
        /// `dst = a * imm`
        MulIImm { dst: Reg = Write, a: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {imm}";
        /// `dst = a / imm` truncating, as `DivI` (the compiler emits it for `imm != 0` only)
        DivIImm { dst: Reg = Write, a: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {imm}";
        /// `dst = a % imm` (sign of `a`), as `ModI` (the compiler emits it for `imm != 0` only)
        ModIImm { dst: Reg = Write, a: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {imm}";
        /// `dst = (a + b) % imm`: `AddI` then `ModIImm` in one instruction, for `(a + b) % k`
        /// (the compiler emits it for `k != 0` only)
        AddModIImm { dst: Reg = Write, a: Reg = Read, b: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {b}, {imm}";
        /// `dst = (a * b) % imm`: `MulI` then `ModIImm` in one instruction, for `(a * b) % k`
        /// (the compiler emits it for `k != 0` only)
        MulModIImm { dst: Reg = Write, a: Reg = Read, b: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {b}, {imm}";
        /// `dst = a & imm`
        BitAndImm { dst: Reg = Write, a: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {imm}";
        /// `dst = a | imm`
        BitOrImm { dst: Reg = Write, a: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {imm}";
        /// `dst = a ^ imm`
        BitXorImm { dst: Reg = Write, a: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {imm}";
        /// `dst = a << (imm mod 64)`
        ShlImm { dst: Reg = Write, a: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {imm}";
        /// `dst = a >> (imm mod 64)` (arithmetic)
        ShrImm { dst: Reg = Write, a: Reg = Read, imm: i32 = Int } => "{dst}, {a}, {imm}";
        /// `dst = -src` (wrapping)
        NegI { dst: Reg = Write, src: Reg = Read } => "{dst}, {src}";
        /// `dst = a & b`
        BitAnd { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a | b`
        BitOr { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a ^ b`
        BitXor { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a << (b mod 64)`
        Shl { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a >> (b mod 64)` (arithmetic)
        Shr { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = !src` (bitwise complement)
        BitNot { dst: Reg = Write, src: Reg = Read } => "{dst}, {src}";
    }
    family "float arithmetic (IEEE f64)" {
        /// `dst = a + b`
        AddF { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a - b`
        SubF { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a * b`
        MulF { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a / b` (no error on zero)
        DivF { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = fmod(a, b)`
        ModF { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = -src`
        NegF { dst: Reg = Write, src: Reg = Read } => "{dst}, {src}";
    }
    family "comparisons producing a bool" {
        /// `dst = a == b` on ints or bools
        EqI { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a != b` on ints or bools
        NeI { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a < b` on ints
        LtI { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a <= b` on ints
        LeI { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a == b` on floats (IEEE)
        EqF { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a != b` on floats (IEEE)
        NeF { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a < b` on floats
        LtF { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a <= b` on floats
        LeF { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a == b` on references: deep value equality (§16)
        EqRef { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a != b` on references
        NeRef { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a == b` on strings: the same bytes (a null string equals only
        /// null). Compiled code decides by identity, length and first byte
        /// inline and compares the rest in the deep-equality helper.
        EqStr { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = a != b` on strings
        NeStr { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst = not src` (bool)
        Not { dst: Reg = Write, src: Reg = Read } => "{dst}, {src}";
    }
    family "control flow" {
        /// `pc = target`
        Jmp { target: u32 = Target } => "-> {target}";
        /// Loop back-edge: counts toward the function's hotness (`loop_id` selects the
        /// counter; the JIT enters by OSR at `target`, the loop header), then `pc = target`.
        Loop { target: u32 = Target, loop_id: u16 = LoopId } => "-> {target}  (loop {loop_id})";
        /// The back-edge of `for i in range(a, b)`: `ctr = ctr + 1` (wrapping); if
        /// `ctr < limit`, count it toward the function's hotness like `Loop` and
        /// `pc = target` (the loop header, where the JIT enters by OSR), else go on.
        ForLoop { ctr: Reg = ReadWrite, limit: Reg = Read, loop_id: u8 = LoopId, target: u32 = Target }
            => "{ctr} + 1 < {limit} -> {target}  (loop {loop_id})";
        /// `if cond { pc = target }`
        JmpIf { cond: Reg = Read, target: u32 = Target } => "{cond} -> {target}";
        /// `if !cond { pc = target }`
        JmpIfNot { cond: Reg = Read, target: u32 = Target } => "{cond} -> {target}";
        /// `if a == b (ints) { pc = target }`
        BrEqI { a: Reg = Read, b: Reg = Read, target: u32 = Target } => "{a}, {b} -> {target}";
        /// `if a != b (ints) { pc = target }`
        BrNeI { a: Reg = Read, b: Reg = Read, target: u32 = Target } => "{a}, {b} -> {target}";
        /// `if a < b (ints) { pc = target }`
        BrLtI { a: Reg = Read, b: Reg = Read, target: u32 = Target } => "{a}, {b} -> {target}";
        /// `if a <= b (ints) { pc = target }`
        BrLeI { a: Reg = Read, b: Reg = Read, target: u32 = Target } => "{a}, {b} -> {target}";
        /// `if a == imm { pc = target }`
        BrEqIImm { a: Reg = Read, imm: i16 = Int, target: u32 = Target } => "{a}, {imm} -> {target}";
        /// `if a != imm { pc = target }`
        BrNeIImm { a: Reg = Read, imm: i16 = Int, target: u32 = Target } => "{a}, {imm} -> {target}";
        /// `if a < imm { pc = target }`
        BrLtIImm { a: Reg = Read, imm: i16 = Int, target: u32 = Target } => "{a}, {imm} -> {target}";
        /// `if a <= imm { pc = target }`
        BrLeIImm { a: Reg = Read, imm: i16 = Int, target: u32 = Target } => "{a}, {imm} -> {target}";
        /// `if a > imm { pc = target }`
        BrGtIImm { a: Reg = Read, imm: i16 = Int, target: u32 = Target } => "{a}, {imm} -> {target}";
        /// `if a >= imm { pc = target }`
        BrGeIImm { a: Reg = Read, imm: i16 = Int, target: u32 = Target } => "{a}, {imm} -> {target}";
        /// `if a < b (floats) { pc = target }`
        BrLtF { a: Reg = Read, b: Reg = Read, target: u32 = Target } => "{a}, {b} -> {target}";
        /// `if a <= b (floats) { pc = target }`
        BrLeF { a: Reg = Read, b: Reg = Read, target: u32 = Target } => "{a}, {b} -> {target}";
        /// `if !(a < b) (floats; true for NaN) { pc = target }`
        BrNotLtF { a: Reg = Read, b: Reg = Read, target: u32 = Target } => "{a}, {b} -> {target}";
        /// `if !(a <= b) (floats; true for NaN) { pc = target }`
        BrNotLeF { a: Reg = Read, b: Reg = Read, target: u32 = Target } => "{a}, {b} -> {target}";
    }
    family "calls" {
        /// Call user function `sites[site].target` with argument registers
        /// `sites[site].args`; result to `dst` (unchanged for void functions).
        Call { dst: Reg = Write, site: u32 = Site(Function) } => "{dst} = {site}";
        /// Call the function value (closure) in register `sites[site].target as Reg`.
        CallIndirect { dst: Reg = Write, site: u32 = Site(ClosureReg) } => "{dst} = {site}";
        /// Call runtime builtin `sites[site].target`.
        CallBuiltin { dst: Reg = Write, site: u32 = Site(Builtin) } => "{dst} = {site}";
        /// Call `extern` function `sites[site].target`.
        CallExtern { dst: Reg = Write, site: u32 = Site(Extern) } => "{dst} = {site}";
        /// Return the value in `src`.
        Ret { src: Reg = Read } => "{src}";
        /// Return from a void function.
        RetVoid => "";
    }
    family "strings and output" {
        /// `dst = a + b` (string concatenation)
        Concat { dst: Reg = Write, a: Reg = Read, b: Reg = Read } => "{dst}, {a}, {b}";
        /// `dst` = concatenation of the parts `sites[site].args`: strings, or ints (and other scalars) formatted as by `to_str` where `kinds` says so (chains of `+`, f-strings)
        ConcatN { dst: Reg = Write, site: u32 = Site(Strings) } => "{dst} = {site}";
        /// `dst = to_str(src)` where `src` holds a value of kind `kind` (`ValKind as u8`)
        ToStr { dst: Reg = Write, src: Reg = Read, kind: u8 = Kind } => "{dst}, {src} ({kind})";
        /// Print the string registers `sites[site].args` separated by spaces, then a newline.
        Print { site: u32 = Site(Print) } => "{site}";
    }
    family "arrays, maps, tuples, structs, closures" {
        /// `dst = [args...]`; element kind is `sites[site].target` (`ValKind as u8`)
        NewArray { dst: Reg = Write, site: u32 = Site(Array) } => "{dst} = {site}";
        /// `dst = arr[idx]` (negative counts from the end; out of range raises);
        /// `elem` is the array's element kind (`ValKind as u8`): compiled code
        /// loads a byte from a `[bool]`, a word from any other array
        ArrGet { dst: Reg = Write, arr: Reg = Read, idx: Reg = Read, elem: u8 = Kind } => "{dst} = {arr}[{idx}] ({elem})";
        /// `arr[idx] = src` (same index rules and `elem`)
        ArrSet { arr: Reg = Read, idx: Reg = Read, src: Reg = Read, elem: u8 = Kind } => "{arr}[{idx}] = {src} ({elem})";
        /// `dst = array_len(arr)`
        ArrLen { dst: Reg = Write, arr: Reg = Read } => "{dst} = len {arr}";
        /// `dst = {k1: v1, ...}` from `sites[site].args` = `[k1, v1, k2, v2, ...]`;
        /// `target` = key kind | (value kind << 8) | (size hint << 16): room
        /// for that many entries if more than the pairs
        NewMap { dst: Reg = Write, site: u32 = Site(Map) } => "{dst} = {site}";
        /// `dst = map[key]`; a missing key raises `key not found in map`
        MapGet { dst: Reg = Write, map: Reg = Read, key: Reg = Read } => "{dst} = {map}[{key}]";
        /// `map[key] = val` (insert or overwrite)
        MapSet { map: Reg = Read, key: Reg = Read, val: Reg = Read } => "{map}[{key}] = {val}";
        /// `dst = (args...)` with element kinds `sites[site].kinds`
        NewTuple { dst: Reg = Write, site: u32 = Site(Tuple) } => "{dst} = {site}";
        /// `dst = tup[idx]`
        TupleGet { dst: Reg = Write, tup: Reg = Read, idx: u8 = Slot } => "{dst} = {tup}.{idx}";
        /// `dst = Layout{args...}` for layout `sites[site].target`, fields in
        /// declaration order
        NewStruct { dst: Reg = Write, site: u32 = Site(Struct) } => "{dst} = {site}";
        /// `dst = obj.fields[idx]`
        GetField { dst: Reg = Write, obj: Reg = Read, idx: u8 = Field } => "{dst} = {obj}.{idx}";
        /// `obj.fields[idx] = src`
        SetField { obj: Reg = Read, idx: u8 = Field, src: Reg = Read } => "{obj}.{idx} = {src}";
        /// `dst` = function value for function `sites[site].target` capturing
        /// `sites[site].args` (kinds in `sites[site].kinds`)
        MakeClosure { dst: Reg = Write, site: u32 = Site(Closure) } => "{dst} = {site}";
        /// `dst` = capture `idx` of the closure in `clo` (a lambda's own closure,
        /// which a call passes in the register after the parameters)
        GetCapture { dst: Reg = Write, clo: Reg = Read, idx: u8 = Slot } => "{dst} = {clo}.captures[{idx}]";
        /// `dst` = a new cell holding `src` (of kind `kind`): a captured variable
        /// that is assigned after a closure captured it
        NewCell { dst: Reg = Write, src: Reg = Read, kind: u8 = Kind } => "{dst} = cell {src} ({kind})";
        /// `dst` = the value in cell `cell`
        CellGet { dst: Reg = Write, cell: Reg = Read } => "{dst} = *{cell}";
        /// Store `src` into cell `cell`
        CellSet { cell: Reg = Read, src: Reg = Read } => "*{cell} = {src}";
    }
    family "classes and null references" {
        /// `dst` = a new instance of class `class` with every field zero (0, 0.0,
        /// false, null); `__init__` is a separate call
        NewObject { dst: Reg = Write, class: u32 = Class } => "{dst} = new {class}";
        /// Call method-table slot `sites[site].target` of the receiver's class with
        /// `sites[site].args` (the receiver first); a null receiver raises. `class`
        /// is the receiver's static class (the JIT's candidates)
        CallMethod { dst: Reg = Write, site: u32 = Site(Method), class: u16 = Class } => "{dst} = {site} on {class}";
        /// Raise string constant `k` (`null reference: ...`) if `src` is null
        NullCheck { src: Reg = Read, k: u32 = Const } => "{src}, {k}";
        /// `dst = src is null`
        IsNull { dst: Reg = Write, src: Reg = Read } => "{dst}, {src}";
        /// `dst` = `src` is an instance of class `class` or of a subclass (false for null)
        InstanceOf { dst: Reg = Write, src: Reg = Read, class: u32 = Class } => "{dst}, {src} is {class}";
        /// Raise unless `src` is an instance of class `class` or of a subclass (`e as C`)
        CheckClass { src: Reg = Read, class: u32 = Class } => "{src} as {class}";
        /// `dst` = the `typeof` text of `src`: `"null"` for null, an instance's class
        /// name, else the string constant `k` (the static type's name)
        TypeOf { dst: Reg = Write, src: Reg = Read, k: u32 = Const } => "{dst}, {src} ({k})";
    }
    family "exceptions" {
        /// Raise the string in `src` as an exception.
        Throw { src: Reg = Read } => "{src}";
        /// Re-raise the exception held in `src` (caught by a compiler-generated
        /// catch-all around a `finally`), keeping its original location and trace.
        Rethrow { src: Reg = Read } => "{src}";
    }
}

impl Op {
    /// The field with role `role`'s position, if the instruction has one.
    pub fn operand_with(self, role: Role) -> Option<usize> {
        self.operands().iter().position(|&(_, r)| r == role)
    }

    /// What its call site holds, if it has one.
    pub fn site_use(self) -> Option<SiteUse> {
        self.operands().iter().find_map(|&(_, r)| match r {
            Role::Site(u) => Some(u),
            _ => None,
        })
    }

    /// Its meaning in one line (the doc comment's lines joined).
    pub fn meaning(self) -> String {
        let lines: Vec<&str> = self.doc().iter().map(|l| l.trim()).collect();
        lines.join(" ")
    }
}

/// The instruction table of `docs/bytecode.md`, generated from the declaration and
/// the properties (`docs_table_matches_the_declaration` in `tests/doc_examples.rs`
/// keeps the file in step).
pub fn docs_table() -> String {
    let mut out =
        String::from("| instruction | operands | semantics | allocates | JIT |\n|---|---|---|---|---|\n");
    let mut family = "";
    for &op in Op::ALL {
        if op.family() != family {
            family = op.family();
            out.push_str(&format!("| **{family}** | | | | |\n"));
        }
        let operands: Vec<String> = op
            .operands()
            .iter()
            .map(|&(name, role)| format!("{name}:{}", role_word(role)))
            .collect();
        let lowering = match op.lowering() {
            super::Lowering::Inline => "inline",
            super::Lowering::Helper => "helper",
            super::Lowering::RtOp => "`rt_op`",
            super::Lowering::HelperOrRtOp => "helper (rare forms `rt_op`)",
            super::Lowering::Builtin => "builtin",
            super::Lowering::Call => "call",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {lowering} |\n",
            op.name(),
            operands.join(", "),
            op.meaning().replace('|', "\\|"),
            if op.allocates() { "yes" } else { "" },
        ));
    }
    out
}

/// How the docs table names a role.
fn role_word(role: Role) -> &'static str {
    match role {
        Role::Read => "in",
        Role::Write => "out",
        Role::ReadWrite => "inout",
        Role::Int => "int",
        Role::Bool => "bool",
        Role::Const => "const",
        Role::Global => "global",
        Role::Site(SiteUse::Function) => "site(function)",
        Role::Site(SiteUse::ClosureReg) => "site(closure register)",
        Role::Site(SiteUse::Builtin) => "site(builtin)",
        Role::Site(SiteUse::Extern) => "site(extern)",
        Role::Site(SiteUse::Strings) => "site(strings)",
        Role::Site(SiteUse::Print) => "site(print)",
        Role::Site(SiteUse::Array) => "site(array)",
        Role::Site(SiteUse::Map) => "site(map)",
        Role::Site(SiteUse::Tuple) => "site(tuple)",
        Role::Site(SiteUse::Struct) => "site(struct)",
        Role::Site(SiteUse::Closure) => "site(closure)",
        Role::Site(SiteUse::Method) => "site(method)",
        Role::Target => "target",
        Role::LoopId => "loop",
        Role::Kind => "kind",
        Role::Field => "field",
        Role::Slot => "slot",
        Role::Class => "class",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_fit_in_eight_bytes() {
        assert!(std::mem::size_of::<Instr>() <= 8);
    }

    /// Every field appears in the disassembly template exactly once, and the
    /// template names nothing else.
    #[test]
    fn templates_name_every_field_once() {
        for &op in Op::ALL {
            let t = op.template();
            for (name, _) in op.operands() {
                let n = t.matches(&format!("{{{name}}}")).count();
                assert_eq!(n, 1, "{}: template {t:?} shows `{name}` {n} times", op.name());
            }
            let placeholders = t.matches('{').count();
            assert_eq!(placeholders, op.operands().len(), "{}: template {t:?}", op.name());
        }
    }

    /// At most one result register, jump target and call site per instruction;
    /// `Field` and `Slot` name an element of the first register read.
    #[test]
    fn roles_are_consistent() {
        for &op in Op::ALL {
            let roles: Vec<Role> = op.operands().iter().map(|&(_, r)| r).collect();
            let count = |f: fn(&Role) -> bool| roles.iter().filter(|r| f(r)).count();
            assert!(
                count(|r| matches!(r, Role::Write | Role::ReadWrite)) <= 1,
                "{}",
                op.name()
            );
            assert!(count(|r| *r == Role::Target) <= 1, "{}", op.name());
            assert!(count(|r| matches!(r, Role::Site(_))) <= 1, "{}", op.name());
            if count(|r| matches!(r, Role::Field | Role::Slot)) > 0 {
                assert!(roles.contains(&Role::Read), "{}", op.name());
            }
        }
    }
}
