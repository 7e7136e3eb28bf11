//! How compiled code performs a builtin call, declared in the builtin's table
//! entry ([`super::Builtin::inline`]) and read by the JIT's translator, which
//! matches on it with no catch-all: a new operation must be given its machine
//! instructions there.
//!
//! A builtin that allocates nothing may instead have a leaf twin
//! ([`Inline::Leaf`]): a plain native function compiled code calls directly,
//! falling back to the general call when the twin declines. One that allocates
//! a string may have a heap twin ([`Inline::HeapLeaf`]), which also gets the
//! heap and allocates only what leaves no collection due; `substr`'s is an
//! [`Inline::Slice`], whose result compiled code may keep as a slice of its
//! source.
//!
//! Only `PURE` builtins whose semantics an instruction sequence reproduces
//! exactly (bit for bit, on every edge case: NaN, infinities, the int range,
//! shift counts of 64 and more) are inlined; `tests/programs/jit/inline_builtins.bp`
//! checks them against the interpreter. Each operation states the signature it
//! implements ([`UnaryOp::signature`], ...), and a unit test checks the entries
//! that use it.

use crate::heap::Heap;
use crate::value::Value;

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
    /// A string builtin computed inline from the string's length and bytes and
    /// the shared strings of one byte (`heap::SHORT_STRS`); the general call
    /// through `rt_builtin` where the builtin raises (a null string, `ord("")`,
    /// `chr` outside 0 to 127).
    Str(StrOp),
    /// A direct call of the builtin's leaf twin ([`LeafFn`]), without `rt_builtin`
    /// and its table lookup, capture check and status protocol; when the twin
    /// declines, the general call through `rt_builtin`, which raises the error.
    Leaf(LeafFn),
    /// A direct call of the builtin's heap twin ([`HeapLeafFn`]): a leaf twin
    /// that may allocate from the running VM's heap, as long as no collection
    /// is due afterwards (compiled code makes no safepoint check after it);
    /// otherwise it declines and the general call allocates and collects.
    HeapLeaf(HeapLeafFn),
    /// `substr(s, start, length)`, whose result is the bytes of `s` from
    /// `start` clamped to `0..=len(s)`, at most `length` (clamped to
    /// `0..=len(s) - start`) of them: where compiled code only compares and
    /// measures the result, it keeps the address and length of those bytes
    /// and makes no string (the JIT's `analysis::virtual_slices`); elsewhere
    /// the heap twin, as [`Inline::HeapLeaf`].
    Slice(HeapLeafFn),
    /// `map_has_key(m, k)`: a direct call of its find twin, a [`LeafFn`]
    /// whose result is the position of the key's entry plus one, 0 if it is
    /// absent (`OrderedMap::position`). Compiled code compares it with 0 and
    /// keeps it: the `m[k]` and `m[k] = v` that follow where the key was found
    /// read and overwrite the value at that position, without a lookup, until
    /// an entry may have been removed.
    MapFind(LeafFn),
}

/// The leaf twin of a builtin that allocates nothing and calls nothing back (so
/// that it needs neither the VM nor a safepoint): it reads the call's arguments
/// from `args` (the compiled caller's argument block), and either writes the
/// result to `args[0]` and returns 0, or changes nothing and returns 1: the call
/// would raise an error (a null argument), or the twin caught a panic. The caller
/// then makes the general call, which raises the error with its message. The
/// twin must give the builtin's result exactly: the interpreter runs the
/// builtin itself.
pub type LeafFn = unsafe extern "C" fn(args: *mut Value) -> u64;

/// A leaf twin ([`LeafFn`]) that is also given the running VM's heap, from
/// which it may allocate its result with the heap's `*_quietly` allocations
/// (which decline rather than leave a collection due).
pub type HeapLeafFn = unsafe extern "C" fn(heap: *mut Heap, args: *mut Value) -> u64;

/// What a leaf twin returns when it declines (see [`LeafFn`]).
pub const LEAF_DECLINED: u64 = 1;

/// Run a leaf twin's body `f` on `args`: its result to `args[0]` and 0, or
/// [`LEAF_DECLINED`] when it gives `None` or panics.
///
/// # Safety
/// `args` must be valid for reads of the arguments `f` reads and for a write of
/// one value.
#[inline(always)]
pub unsafe fn leaf(args: *mut Value, f: impl FnOnce(*const Value) -> Option<Value>) -> u64 {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(args))) {
        Ok(Some(v)) => {
            // SAFETY: the caller's contract: room for one value at `args`.
            unsafe { *args = v };
            0
        }
        Ok(None) | Err(_) => LEAF_DECLINED,
    }
}

/// Define the builtin `$name` (a `BuiltinFn`) and its leaf twin `$twin`
/// ([`LeafFn`]), for a builtin of `$n` arguments whose result the function
/// `$body` computes from the arguments alone (it needs no `Rt`): the twin
/// declines on an error, and the general call raises it. One body, so the two
/// agree.
macro_rules! leaf_builtin {
    ($name:ident, $twin:ident, $n:literal, $body:expr) => {
        unsafe fn $name(_rt: &mut $crate::rt::Rt, a: &[$crate::value::Value]) -> $crate::rt::RtResult {
            let body: unsafe fn(&[$crate::value::Value]) -> $crate::rt::RtResult = $body;
            // SAFETY: the builtin's contract (arguments of its signature).
            unsafe { body(a) }
        }

        /// The leaf twin (`LeafFn`) of the builtin of the same body.
        ///
        /// # Safety
        /// `args` holds the builtin's arguments (the checker's types).
        unsafe extern "C" fn $twin(args: *mut $crate::value::Value) -> u64 {
            let body: unsafe fn(&[$crate::value::Value]) -> $crate::rt::RtResult = $body;
            // SAFETY: the caller's contract: `$n` arguments at `args`, and room
            // for the result.
            unsafe { $crate::builtins::leaf(args, |a| body(std::slice::from_raw_parts(a, $n)).ok()) }
        }
    };
}
pub(crate) use leaf_builtin;

/// [`leaf`] for a heap twin ([`HeapLeafFn`]): `f` also gets the heap.
///
/// # Safety
/// As [`leaf`]; `heap` must be the running VM's heap, not otherwise borrowed
/// during the call (compiled code holds no reference to it).
#[inline(always)]
pub unsafe fn heap_leaf(
    heap: *mut Heap,
    args: *mut Value,
    f: impl FnOnce(&mut Heap, *const Value) -> Option<Value>,
) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { leaf(args, |a| f(&mut *heap, a)) }
}

/// [`leaf`] for a builtin of an object and one more argument (`map_has_key`,
/// `array_push`): `f` gets both, and a null object declines (the general call
/// raises the null-reference error).
///
/// # Safety
/// `args` must hold two arguments and be valid for a write of one value.
#[inline(always)]
pub unsafe fn leaf_on_object(args: *mut Value, f: impl FnOnce(Value, Value) -> Option<Value>) -> u64 {
    // SAFETY: the caller's contract: two arguments at `args`.
    unsafe {
        leaf(args, |a| {
            let (object, arg) = (*a, *a.add(1));
            if object.is_null() {
                return None;
            }
            f(object, arg)
        })
    }
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

/// A string builtin computed by machine instructions ([`Inline::Str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrOp {
    /// `len(s)`: the length word.
    Len,
    /// `str_char_at(s, i)`: the shared string of byte `i`, the empty string
    /// out of range.
    CharAt,
    /// `ord(s)`: the first byte.
    Ord,
    /// `chr(c)`: the shared string of byte `c`.
    Chr,
}

impl StrOp {
    /// The signature of the builtin this operation implements.
    pub fn signature(self) -> &'static str {
        match self {
            StrOp::Len => "(str) -> int",
            StrOp::CharAt => "(str, int) -> str",
            StrOp::Ord => "(str) -> int",
            StrOp::Chr => "(int) -> str",
        }
    }

    /// How many arguments the builtin takes.
    pub fn arity(self) -> usize {
        match self {
            StrOp::Len | StrOp::Ord | StrOp::Chr => 1,
            StrOp::CharAt => 2,
        }
    }
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
    /// The signature a builtin inlined this way must have; `None` for
    /// [`Inline::Call`], [`Inline::Leaf`] and [`Inline::MapFind`] (the twin is
    /// written for its builtin).
    pub fn signature(self) -> Option<&'static str> {
        match self {
            Inline::Call | Inline::Leaf(_) | Inline::HeapLeaf(_) | Inline::MapFind(_) => None,
            Inline::Unary(op) => Some(op.signature()),
            Inline::Binary(op) => Some(op.signature()),
            Inline::Clamp => Some("(int, int, int) -> int"),
            Inline::Slice(_) => Some("(str, int, int) -> str"),
            Inline::Str(op) => Some(op.signature()),
            Inline::NativeUnary(_) => Some("(float) -> float"),
            Inline::NativeBinary(_) => Some("(float, float) -> float"),
        }
    }
}
