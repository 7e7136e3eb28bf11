//! What the passes need to know about each instruction beyond its operands: one
//! exhaustive `match` per property, with no catch-all arm, so that a new
//! instruction is a compile error here until each property is decided for it.
//!
//! They are `const fn`s on [`Op`]: free to call anywhere, and usable in constant
//! expressions. Readers: the verifier (`result`), the JIT analysis (`flow`,
//! `may_resize_arrays`), the operand description (`flow`), the interpreter's
//! safepoints and the translator's dispatch (`allocates`, `lowering`: the unit
//! tests below check their `match` arms against these two, since a lookup in the
//! dispatch loop itself would be run-time work).

use super::isa::Op;

/// Where control goes after an instruction (besides raising an exception).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// To the next instruction.
    Next,
    /// To the next instruction or to its jump target.
    Branch,
    /// To its jump target.
    Jump,
    /// To its jump target, a loop header (`Loop`): OSR entry, hotness counter.
    BackEdge,
    /// To the next instruction or to its jump target, a loop header (`ForLoop`):
    /// when it jumps, the same as `BackEdge`.
    BackBranch,
    /// Out of the function.
    Return,
    /// To the exception handler or out of the function.
    Throw,
}

/// What the register an instruction writes holds, as far as the load-time
/// verifier can tell (it checks the root map `ref_regs` against it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultKind {
    /// It writes no register.
    Nothing,
    /// An int, float or bool.
    Scalar,
    /// A reference (or null).
    Ref,
    /// What its source register holds (`Mov`).
    OfSource,
    /// A reference for a string constant, else a number (`LoadConst`).
    OfConstant,
    /// The declared kind of its global.
    OfGlobal,
    /// The callee function's declared result kind.
    OfFunction,
    /// The builtin signature's result kind (none when the call site decides it).
    OfBuiltin,
    /// Not known from the program tables (an element, a field, a closure's or an
    /// extern function's result).
    Unknown,
}

/// What an instruction may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calls {
    Nothing,
    /// A user function (bytecode or compiled).
    Function,
    /// The function in a closure value.
    Closure,
    /// A runtime builtin.
    Builtin,
    /// An `extern` (FFI) function.
    Extern,
}

/// Whether an instruction may change an array's length or data pointer (or run
/// code that may). The JIT keeps the length and data pointer of the arrays a loop
/// indexes in registers when nothing in the loop may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resizes {
    No,
    Yes,
    /// Unless the builtin it calls is `PURE`.
    UnlessPureBuiltin,
}

/// How the JIT translates an instruction (`src/jit/translate/instr.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lowering {
    /// Machine instructions (with guards that exit to the VM).
    Inline,
    /// A call of a dedicated helper (`rt_new`, `rt_obj`, `rt_eq_ref`, `fmod`,
    /// `rt_throw`).
    Helper,
    /// Through the single-instruction helper `rt_op`, which runs the VM's
    /// implementation of it (`generic` in the translator).
    RtOp,
    /// A dedicated helper for its usual forms, `rt_op` for the rare others (the
    /// translator decides per instruction).
    HelperOrRtOp,
    /// As its builtin's table entry says (`builtins::Inline`).
    Builtin,
    /// A call of compiled code or, for a function not compiled, through the VM.
    Call,
}

impl Flow {
    /// Whether the jump target is a loop header whose back-edge counts toward
    /// hotness (`BackEdge`, `BackBranch`).
    pub const fn is_back_edge(self) -> bool {
        matches!(self, Flow::BackEdge | Flow::BackBranch)
    }
}

impl Op {
    /// Where control goes after it.
    pub const fn flow(self) -> Flow {
        use Op::*;
        match self {
            Mov | LoadInt | LoadConst | LoadBool | LoadNull | GetGlobal | SetGlobal => Flow::Next,
            AddI | SubI | MulI | DivI | ModI | AddIImm | MulIImm | DivIImm | ModIImm | AddModIImm
            | MulModIImm | BitAndImm | BitOrImm | BitXorImm | ShlImm | ShrImm | NegI | BitAnd | BitOr
            | BitXor | Shl | Shr | BitNot => Flow::Next,
            AddF | SubF | MulF | DivF | ModF | NegF => Flow::Next,
            EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | EqRef | NeRef | EqStr | NeStr | Not => Flow::Next,
            Jmp => Flow::Jump,
            Loop => Flow::BackEdge,
            ForLoop => Flow::BackBranch,
            JmpIf | JmpIfNot | BrEqI | BrNeI | BrLtI | BrLeI | BrEqIImm | BrNeIImm | BrLtIImm | BrLeIImm
            | BrGtIImm | BrGeIImm | BrLtF | BrLeF | BrNotLtF | BrNotLeF => Flow::Branch,
            Call | CallIndirect | CallBuiltin | CallExtern => Flow::Next,
            Ret | RetVoid => Flow::Return,
            Concat | ConcatN | ToStr | Print => Flow::Next,
            NewArray | ArrGet | ArrSet | ArrLen | NewMap | MapGet | MapSet | NewTuple | TupleGet
            | NewStruct | GetField | SetField | MakeClosure => Flow::Next,
            NewObject | CallMethod | NullCheck | IsNull | InstanceOf | CheckClass | TypeOf => Flow::Next,
            GetCapture | NewCell | CellGet | CellSet => Flow::Next,
            Throw | Rethrow => Flow::Throw,
        }
    }

    /// What the register it writes holds.
    pub const fn result(self) -> ResultKind {
        use Op::*;
        use ResultKind as R;
        match self {
            Mov => R::OfSource,
            LoadInt | LoadBool => R::Scalar,
            LoadConst => R::OfConstant,
            LoadNull => R::Ref,
            GetGlobal => R::OfGlobal,
            SetGlobal => R::Nothing,
            AddI | SubI | MulI | DivI | ModI | AddIImm | MulIImm | DivIImm | ModIImm | AddModIImm
            | MulModIImm | BitAndImm | BitOrImm | BitXorImm | ShlImm | ShrImm | NegI | BitAnd | BitOr
            | BitXor | Shl | Shr | BitNot => R::Scalar,
            AddF | SubF | MulF | DivF | ModF | NegF => R::Scalar,
            EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | EqRef | NeRef | EqStr | NeStr | Not => R::Scalar,
            Jmp | Loop | JmpIf | JmpIfNot | BrEqI | BrNeI | BrLtI | BrLeI | BrEqIImm | BrNeIImm
            | BrLtIImm | BrLeIImm | BrGtIImm | BrGeIImm | BrLtF | BrLeF | BrNotLtF | BrNotLeF => R::Nothing,
            ForLoop => R::Scalar,
            Call => R::OfFunction,
            CallBuiltin => R::OfBuiltin,
            CallIndirect | CallExtern => R::Unknown,
            Ret | RetVoid => R::Nothing,
            Concat | ConcatN | ToStr => R::Ref,
            Print => R::Nothing,
            NewArray | NewMap | NewTuple | NewStruct | MakeClosure => R::Ref,
            ArrGet | MapGet | TupleGet | GetField => R::Unknown,
            ArrLen => R::Scalar,
            ArrSet | MapSet | SetField => R::Nothing,
            NewObject | TypeOf => R::Ref,
            CallMethod => R::Unknown,
            NullCheck | CheckClass => R::Nothing,
            IsNull | InstanceOf => R::Scalar,
            GetCapture | CellGet => R::Unknown,
            NewCell => R::Ref,
            CellSet => R::Nothing,
            Throw | Rethrow => R::Nothing,
        }
    }

    /// Whether it allocates, or runs code that may (a call): the interpreter
    /// reaches a GC safepoint in its arm, and `rt_op` and the JIT's helpers after
    /// running it. A call of bytecode (`Calls::Function`, `Calls::Closure`) has no
    /// safepoint of its own in the interpreter: the callee's allocating
    /// instructions have theirs, and pushing its frame allocates nothing.
    pub const fn allocates(self) -> bool {
        use Op::*;
        match self {
            Mov | LoadInt | LoadConst | LoadBool | LoadNull | GetGlobal | SetGlobal => false,
            AddI | SubI | MulI | DivI | ModI | AddIImm | MulIImm | DivIImm | ModIImm | AddModIImm
            | MulModIImm | BitAndImm | BitOrImm | BitXorImm | ShlImm | ShrImm | NegI | BitAnd | BitOr
            | BitXor | Shl | Shr | BitNot => false,
            AddF | SubF | MulF | DivF | ModF | NegF => false,
            // Deep equality walks with an explicit stack on the Rust heap, not the GC heap.
            EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | EqRef | NeRef | EqStr | NeStr | Not => false,
            Jmp | Loop | ForLoop | JmpIf | JmpIfNot | BrEqI | BrNeI | BrLtI | BrLeI | BrEqIImm | BrNeIImm
            | BrLtIImm | BrLeIImm | BrGtIImm | BrGeIImm | BrLtF | BrLeF | BrNotLtF | BrNotLeF => false,
            Call | CallIndirect | CallBuiltin | CallExtern => true,
            Ret | RetVoid => false,
            Concat | ConcatN | ToStr => true,
            // Writes to the output buffer, not the heap.
            Print => false,
            NewArray | NewMap | NewTuple | NewStruct | MakeClosure => true,
            // Inserting may grow the map's tables.
            MapSet => true,
            ArrGet | ArrSet | ArrLen | MapGet | TupleGet | GetField | SetField => false,
            NewObject | CallMethod | TypeOf => true,
            NullCheck | IsNull | InstanceOf | CheckClass => false,
            NewCell => true,
            GetCapture | CellGet | CellSet => false,
            // Raising allocates nothing until a handler catches (a safepoint of its own).
            Throw | Rethrow => false,
        }
    }

    /// What it may call.
    pub const fn calls(self) -> Calls {
        use Op::*;
        match self {
            Mov | LoadInt | LoadConst | LoadBool | LoadNull | GetGlobal | SetGlobal => Calls::Nothing,
            AddI | SubI | MulI | DivI | ModI | AddIImm | MulIImm | DivIImm | ModIImm | AddModIImm
            | MulModIImm | BitAndImm | BitOrImm | BitXorImm | ShlImm | ShrImm | NegI | BitAnd | BitOr
            | BitXor | Shl | Shr | BitNot => Calls::Nothing,
            AddF | SubF | MulF | DivF | ModF | NegF => Calls::Nothing,
            EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | EqRef | NeRef | EqStr | NeStr | Not => {
                Calls::Nothing
            }
            Jmp | Loop | ForLoop | JmpIf | JmpIfNot | BrEqI | BrNeI | BrLtI | BrLeI | BrEqIImm | BrNeIImm
            | BrLtIImm | BrLeIImm | BrGtIImm | BrGeIImm | BrLtF | BrLeF | BrNotLtF | BrNotLeF => {
                Calls::Nothing
            }
            Call => Calls::Function,
            CallIndirect => Calls::Closure,
            CallBuiltin => Calls::Builtin,
            CallExtern => Calls::Extern,
            Ret | RetVoid => Calls::Nothing,
            Concat | ConcatN | ToStr | Print => Calls::Nothing,
            NewArray | ArrGet | ArrSet | ArrLen | NewMap | MapGet | MapSet | NewTuple | TupleGet
            | NewStruct | GetField | SetField | MakeClosure => Calls::Nothing,
            CallMethod => Calls::Function,
            NewObject | NullCheck | IsNull | InstanceOf | CheckClass | TypeOf => Calls::Nothing,
            GetCapture | NewCell | CellGet | CellSet => Calls::Nothing,
            Throw | Rethrow => Calls::Nothing,
        }
    }

    /// Whether it may change an array's length or data pointer: only code it
    /// calls can (element stores do not move data; the collector never moves
    /// objects).
    pub const fn may_resize_arrays(self) -> Resizes {
        use Op::*;
        match self {
            Mov | LoadInt | LoadConst | LoadBool | LoadNull | GetGlobal | SetGlobal => Resizes::No,
            AddI | SubI | MulI | DivI | ModI | AddIImm | MulIImm | DivIImm | ModIImm | AddModIImm
            | MulModIImm | BitAndImm | BitOrImm | BitXorImm | ShlImm | ShrImm | NegI | BitAnd | BitOr
            | BitXor | Shl | Shr | BitNot => Resizes::No,
            AddF | SubF | MulF | DivF | ModF | NegF => Resizes::No,
            EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | EqRef | NeRef | EqStr | NeStr | Not => {
                Resizes::No
            }
            Jmp | Loop | ForLoop | JmpIf | JmpIfNot | BrEqI | BrNeI | BrLtI | BrLeI | BrEqIImm | BrNeIImm
            | BrLtIImm | BrLeIImm | BrGtIImm | BrGeIImm | BrLtF | BrLeF | BrNotLtF | BrNotLeF => Resizes::No,
            Call | CallIndirect | CallExtern => Resizes::Yes,
            CallBuiltin => Resizes::UnlessPureBuiltin,
            Ret | RetVoid => Resizes::No,
            Concat | ConcatN | ToStr | Print => Resizes::No,
            NewArray | ArrGet | ArrSet | ArrLen | NewMap | MapGet | MapSet | NewTuple | TupleGet
            | NewStruct | GetField | SetField | MakeClosure => Resizes::No,
            CallMethod => Resizes::Yes,
            NewObject | NullCheck | IsNull | InstanceOf | CheckClass | TypeOf => Resizes::No,
            GetCapture | NewCell | CellGet | CellSet => Resizes::No,
            Throw | Rethrow => Resizes::No,
        }
    }

    /// Whether the JIT's guards in its translation test for its runtime errors
    /// (a null reference, an index out of range, a zero divisor, a failed
    /// cast), so that a failed one has the VM run it (`rt_raise`, through
    /// `rt_op`'s executor): the error is then pending at this instruction of
    /// the compiled frame, which catches it or lets it leave like any other,
    /// rather than deoptimizing. (Where a guard speculates, on a non-negative
    /// index, the VM completes the instruction and the frame goes on in the
    /// interpreter as after a side exit.)
    pub const fn raises_at_guard(self) -> bool {
        use Op::*;
        match self {
            DivI | ModI | DivIImm | ModIImm | AddModIImm | MulModIImm => true,
            ArrGet | ArrSet | ArrLen | TupleGet | GetField | SetField => true,
            NullCheck | CheckClass => true,
            Mov | LoadInt | LoadConst | LoadBool | LoadNull | GetGlobal | SetGlobal => false,
            AddI | SubI | MulI | AddIImm | MulIImm | BitAndImm | BitOrImm | BitXorImm | ShlImm | ShrImm
            | NegI | BitAnd | BitOr | BitXor | Shl | Shr | BitNot => false,
            AddF | SubF | MulF | DivF | ModF | NegF => false,
            EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | EqRef | NeRef | EqStr | NeStr | Not => false,
            Jmp | Loop | ForLoop | JmpIf | JmpIfNot | BrEqI | BrNeI | BrLtI | BrLeI | BrEqIImm | BrNeIImm
            | BrLtIImm | BrLeIImm | BrGtIImm | BrGeIImm | BrLtF | BrLeF | BrNotLtF | BrNotLeF => false,
            // A null callee or receiver, or a failed speculation, deoptimizes.
            Call | CallIndirect | CallBuiltin | CallExtern | CallMethod => false,
            Ret | RetVoid => false,
            Concat | ConcatN | ToStr | Print => false,
            NewArray | NewMap | MapGet | MapSet | NewTuple | NewStruct | MakeClosure | NewObject => false,
            IsNull | InstanceOf | TypeOf => false,
            GetCapture | NewCell | CellGet | CellSet => false,
            Throw | Rethrow => false,
        }
    }

    /// Whether the JIT may translate it in the body of a callee it inlines in
    /// place of a call (`src/jit/translate/inline.rs`): it changes nothing but
    /// its result register (no store, no allocation, no call that could do
    /// either), it reads nothing the caller's loop caches stand for, and it
    /// neither jumps nor returns (the body is one straight line ending in
    /// `Ret`). A guard in it then exits to the VM *at the call*, which runs the
    /// call again from its start: nothing the body did is lost or done twice.
    /// `CallBuiltin` only when its builtin is inline machine code, `LoadConst`
    /// only of a number (the inliner checks both).
    pub const fn inlinable(self) -> bool {
        use Op::*;
        match self {
            Mov | LoadInt | LoadConst | LoadBool | LoadNull | GetGlobal => true,
            SetGlobal => false,
            AddI | SubI | MulI | DivI | ModI | AddIImm | NegI | BitAnd | BitOr | BitXor | Shl | Shr
            | BitNot => true,
            MulIImm | DivIImm | ModIImm | AddModIImm | MulModIImm | BitAndImm | BitOrImm | BitXorImm
            | ShlImm | ShrImm => true,
            AddF | SubF | MulF | DivF | ModF | NegF => true,
            EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | Not => true,
            // Deep equality through a helper: kept out for simplicity.
            EqRef | NeRef => false,
            // A helper call on the slow path, and a callee comparing strings
            // has string constants (not inlined anyway).
            EqStr | NeStr => false,
            Jmp | Loop | ForLoop | JmpIf | JmpIfNot | BrEqI | BrNeI | BrLtI | BrLeI | BrEqIImm | BrNeIImm
            | BrLtIImm | BrLeIImm | BrGtIImm | BrGeIImm | BrLtF | BrLeF | BrNotLtF | BrNotLeF => false,
            Call | CallIndirect | CallExtern | CallMethod => false,
            CallBuiltin => true,
            // `Ret` ends the body; `RetVoid` is for void callees, which are not inlined.
            Ret => true,
            RetVoid => false,
            Concat | ConcatN | ToStr | Print => false,
            NewArray | NewMap | NewTuple | NewStruct | MakeClosure | NewObject | NewCell => false,
            ArrSet | MapSet | SetField | CellSet | MapGet | TypeOf => false,
            // An element read or a length in an inlined body loads the
            // array's header itself (it reads none of the caller's loop
            // caches: `Tr::cached_array`) and checks the index at the call.
            ArrGet | ArrLen => true,
            TupleGet | GetField | GetCapture | CellGet => true,
            NullCheck | IsNull | InstanceOf | CheckClass => true,
            Throw | Rethrow => false,
        }
    }

    /// How the JIT translates it.
    pub const fn lowering(self) -> Lowering {
        use Lowering as L;
        use Op::*;
        match self {
            Mov | LoadInt | LoadConst | LoadBool | LoadNull | GetGlobal | SetGlobal => L::Inline,
            AddI | SubI | MulI | DivI | ModI | AddIImm | MulIImm | DivIImm | ModIImm | AddModIImm
            | MulModIImm | BitAndImm | BitOrImm | BitXorImm | ShlImm | ShrImm | NegI | BitAnd | BitOr
            | BitXor | Shl | Shr | BitNot => L::Inline,
            AddF | SubF | MulF | DivF | NegF => L::Inline,
            ModF => L::Helper,
            EqI | NeI | LtI | LeI | EqF | NeF | LtF | LeF | Not => L::Inline,
            EqRef | NeRef => L::Helper,
            EqStr | NeStr => L::Inline,
            Jmp | Loop | ForLoop | JmpIf | JmpIfNot | BrEqI | BrNeI | BrLtI | BrLeI | BrEqIImm | BrNeIImm
            | BrLtIImm | BrLeIImm | BrGtIImm | BrGeIImm | BrLtF | BrLeF | BrNotLtF | BrNotLeF => L::Inline,
            Call | CallIndirect => L::Call,
            CallBuiltin => L::Builtin,
            CallExtern => L::RtOp,
            Ret | RetVoid => L::Inline,
            Concat | ToStr => L::Helper,
            // `rt_obj`; more than 56 parts, or a part neither a string nor an int,
            // `rt_op` (`Tr::concat_n`).
            ConcatN => L::HelperOrRtOp,
            Print => L::RtOp,
            NewArray | NewTuple | NewStruct | MapGet | MapSet => L::Helper,
            NewMap | MakeClosure => L::RtOp,
            ArrGet | ArrSet | ArrLen | TupleGet | GetField | SetField => L::Inline,
            CallMethod => L::Call,
            NullCheck | IsNull | InstanceOf | CheckClass => L::Inline,
            NewObject => L::Helper,
            TypeOf => L::RtOp,
            GetCapture | CellGet | CellSet => L::Inline,
            NewCell => L::Helper,
            Throw | Rethrow => L::Helper,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::isa::Role;
    use super::*;
    use std::collections::BTreeSet;

    /// The arms of the first `match` introduced by `header` in `src`: per arm, the
    /// variant names of its pattern and its body. An arm starts at a line with the
    /// indentation of the first arm whose text starts with a variant name
    /// (optionally `Instr::`); `| Name` lines at that indentation continue its
    /// pattern; everything up to the next arm is its body.
    fn arms(src: &str, header: &str) -> Vec<(Vec<String>, String)> {
        let start = src.find(header).unwrap_or_else(|| panic!("`{header}` not found"));
        let lines: Vec<&str> = src[start..].lines().skip(1).collect();
        let indent_of = |l: &str| l.len() - l.trim_start().len();
        let is_pattern = |l: &str| {
            let t = l
                .trim_start()
                .trim_start_matches("| ")
                .trim_start_matches("Instr::");
            t.starts_with(|c: char| c.is_ascii_uppercase())
        };
        let first = lines.iter().find(|l| is_pattern(l)).expect("no arm");
        let indent = indent_of(first);
        let names_in = |l: &str| -> Vec<String> {
            let pattern = l.split("=>").next().unwrap_or("");
            pattern
                .split('|')
                .map(|seg| seg.trim().trim_start_matches("Instr::"))
                .map(|seg| {
                    seg.chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect::<String>()
                })
                .filter(|n| n.starts_with(|c: char| c.is_ascii_uppercase()))
                .collect()
        };
        let mut out: Vec<(Vec<String>, String)> = Vec::new();
        for l in lines {
            let at_arm = indent_of(l) == indent && !l.trim().is_empty();
            if indent_of(l) < indent && !l.trim().is_empty() {
                break; // the end of the match
            }
            if at_arm && is_pattern(l) {
                let continues = l.trim_start().starts_with('|');
                match out.last_mut() {
                    Some((names, body)) if continues && body.is_empty() => names.extend(names_in(l)),
                    _ => out.push((names_in(l), String::new())),
                }
                if let Some((_, body)) = out.last_mut() {
                    // The rest of a one-line arm is its body.
                    if let Some((_, rest)) = l.split_once("=>") {
                        body.push_str(rest);
                    }
                }
            } else if let Some((_, body)) = out.last_mut() {
                body.push_str(l);
                body.push('\n');
            }
        }
        out
    }

    /// The variants whose arm's body contains `needle`; every instruction must have
    /// exactly one arm.
    fn arms_containing(src: &str, header: &str, needle: &str) -> BTreeSet<&'static str> {
        let arms = arms(src, header);
        let mut seen = BTreeSet::new();
        let mut with = BTreeSet::new();
        for (names, body) in &arms {
            for n in names {
                let op = Op::ALL
                    .iter()
                    .find(|o| o.name() == n)
                    .unwrap_or_else(|| panic!("arm for unknown instruction {n}"));
                assert!(seen.insert(op.name()), "two arms for {n}");
                if body.contains(needle) {
                    with.insert(op.name());
                }
            }
        }
        assert_eq!(seen.len(), Op::ALL.len(), "arms not found for every instruction");
        with
    }

    /// The interpreter reaches a safepoint in exactly the arms of the
    /// instructions that allocate, except the calls of bytecode, whose callee's
    /// instructions have their own. (A check here rather than a property lookup
    /// in the dispatch loop: the loop stays as it is.)
    #[test]
    fn interpreter_safepoints_follow_allocates() {
        let src = include_str!("../vm/interp.rs");
        let with = arms_containing(src, "match *ins {", "safepoint!()");
        let want: BTreeSet<&str> = Op::ALL
            .iter()
            .filter(|o| o.allocates() && !matches!(o.calls(), Calls::Function | Calls::Closure))
            .map(|o| o.name())
            .collect();
        assert_eq!(
            with, want,
            "src/vm/interp.rs: the arms calling safepoint!() (left) must be those of the \
             instructions whose Op::allocates is true (right)"
        );
    }

    /// The translator sends to `rt_op` (`self.generic(pc)`) exactly the
    /// instructions whose lowering is `RtOp`.
    #[test]
    fn translator_sends_rt_op_instructions_to_generic() {
        let src = include_str!("../jit/translate/instr.rs");
        let with = arms_containing(src, "match ins {", "self.generic(pc)");
        let want: BTreeSet<&str> = Op::ALL
            .iter()
            .filter(|o| o.lowering() == Lowering::RtOp)
            .map(|o| o.name())
            .collect();
        assert_eq!(
            with, want,
            "src/jit/translate/instr.rs: the arms calling self.generic(pc) (left) must be \
             those of the instructions whose Op::lowering is RtOp (right)"
        );
    }

    /// The single-instruction executor behind `rt_op` and `rt_raise` (the tier
    /// layer's `exec_op`) executes exactly the instructions whose lowering is
    /// `RtOp` or `HelperOrRtOp` and those that `raises_at_guard`; the others
    /// share its one arm that reports an internal error.
    #[test]
    fn rt_op_executes_exactly_the_rt_op_instructions() {
        let src = include_str!("../tier/exec.rs");
        let refused = arms_containing(src, "match ins {", "is not executed by the JIT helper");
        let executed: BTreeSet<&str> = Op::ALL
            .iter()
            .map(|o| o.name())
            .filter(|n| !refused.contains(n))
            .collect();
        let want: BTreeSet<&str> = Op::ALL
            .iter()
            .filter(|o| {
                matches!(o.lowering(), Lowering::RtOp | Lowering::HelperOrRtOp) || o.raises_at_guard()
            })
            .map(|o| o.name())
            .collect();
        assert_eq!(
            executed, want,
            "src/tier/exec.rs: the instructions exec_op executes (left) must be those whose \
             Op::lowering is RtOp, and those that raise at a guard (right)"
        );
    }

    /// Properties that must agree with the operand roles.
    #[test]
    fn properties_agree_with_roles() {
        for &op in Op::ALL {
            let has = |role: Role| op.operand_with(role).is_some();
            let jumps = matches!(
                op.flow(),
                Flow::Branch | Flow::Jump | Flow::BackEdge | Flow::BackBranch
            );
            assert_eq!(jumps, has(Role::Target), "{}: flow vs jump target", op.name());
            assert_eq!(op.flow().is_back_edge(), has(Role::LoopId), "{}", op.name());
            assert_eq!(
                op.result() == ResultKind::Nothing,
                !has(Role::Write) && !has(Role::ReadWrite),
                "{}: result vs dst",
                op.name()
            );
            let calls = op.calls() != Calls::Nothing;
            assert!(!calls || op.allocates(), "{}: a call may allocate", op.name());
            assert!(!calls || op.may_resize_arrays() != Resizes::No, "{}", op.name());
        }
    }
}
