//! How compiled code performs a builtin call, declared in the builtin's table
//! entry ([`super::Builtin::inline`]) and read by the JIT's translator, which
//! matches on it with no catch-all: a new operation must be given its machine
//! instructions there.
//!
//! Only `PURE` builtins whose semantics an instruction sequence reproduces
//! exactly (bit for bit, on every edge case: NaN, infinities, the int range,
//! shift counts of 64 and more) are inlined; `tests/programs/jit/inline_builtins.bp`
//! checks them against the interpreter. Each operation states the signature it
//! implements ([`UnaryOp::signature`], ...), and a unit test checks the entries
//! that use it.

/// How compiled code calls a builtin.
#[derive(Clone, Copy, Debug)]
pub enum Inline {
    /// Through the `rt_builtin` helper, which calls the table's `func` (the default).
    Call,
    /// Machine instructions for a one-argument builtin.
    Unary(UnaryOp),
    /// Machine instructions for a two-argument builtin.
    Binary(BinaryOp),
    /// `clamp(v, lo, hi)`: `v < lo ? lo : (v > hi ? hi : v)`.
    Clamp,
    /// A direct call of the builtin's native twin `(float) -> float` (the same Rust
    /// function as the builtin, so results are bit-identical), without `rt_builtin`.
    NativeUnary(extern "C" fn(f64) -> f64),
    /// A direct call of the native twin of a `(float, float) -> float` builtin.
    NativeBinary(extern "C" fn(f64, f64) -> f64),
}

/// A one-argument builtin computed by machine instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `abs` (wrapping: `abs(INT_MIN)` is `INT_MIN`).
    Abs,
    /// The int `floor`, `ceil` and `round`: the argument itself.
    Identity,
    Sign,
    /// The int `sqrt`: `(int)sqrt((float)n)` with x86 conversion semantics.
    Sqrt,
    BitNot,
    IntToFloat,
    /// Truncation with x86 semantics (NaN and out-of-range values give `INT_MIN`).
    FloatToInt,
    FAbs,
    FFloor,
    FCeil,
    FSqrt,
    IsNan,
    IsInf,
}

/// A two-argument builtin computed by machine instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Min,
    Max,
    BitAnd,
    BitOr,
    BitXor,
    /// Shift counts are taken modulo 64, as by the builtins.
    Shl,
    Shr,
}

impl UnaryOp {
    /// The signature of the builtins this operation implements.
    pub fn signature(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Abs | Identity | Sign | Sqrt | BitNot => "(int) -> int",
            IntToFloat => "(int) -> float",
            FloatToInt => "(float) -> int",
            FAbs | FFloor | FCeil | FSqrt => "(float) -> float",
            IsNan | IsInf => "(float) -> bool",
        }
    }
}

impl BinaryOp {
    /// The signature of the builtins this operation implements.
    pub fn signature(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Min | Max | BitAnd | BitOr | BitXor | Shl | Shr => "(int, int) -> int",
        }
    }
}

impl Inline {
    /// The signature a builtin inlined this way must have; `None` for [`Inline::Call`].
    pub fn signature(self) -> Option<&'static str> {
        match self {
            Inline::Call => None,
            Inline::Unary(op) => Some(op.signature()),
            Inline::Binary(op) => Some(op.signature()),
            Inline::Clamp => Some("(int, int, int) -> int"),
            Inline::NativeUnary(_) => Some("(float) -> float"),
            Inline::NativeBinary(_) => Some("(float, float) -> float"),
        }
    }
}
