//! Math builtins: integer math (LANGUAGE.md §9.5), float math on C `libm` doubles
//! (§9.6) and the bitwise helpers (§9.13). None of them can fail; all are `PURE`.

use super::conv::f64_to_i64_x86;
use super::{b, BinaryOp, Builtin, Inline, UnaryOp, PURE};
use crate::rt::{Rt, RtResult};
use crate::value::Value;

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    // §9.5 integer math
    b("abs", "(int) -> int", "absolute value (wraps for the minimum int)", abs, PURE).inlined(Inline::Unary(UnaryOp::Abs)),
    b("min", "(int, int) -> int", "the smaller of two ints", min, PURE).inlined(Inline::Binary(BinaryOp::Min)),
    b("max", "(int, int) -> int", "the larger of two ints", max, PURE).inlined(Inline::Binary(BinaryOp::Max)),
    b("pow", "(int, int) -> int", "the 1st to the power of the 2nd, computed in doubles and truncated", pow, PURE),
    b("sqrt", "(int) -> int", "integer square root (floor)", sqrt, PURE).inlined(Inline::Unary(UnaryOp::Sqrt)),
    b("floor", "(int) -> int", "the int itself (use `ffloor` for floats)", identity, PURE).inlined(Inline::Unary(UnaryOp::Identity)),
    b("ceil", "(int) -> int", "the int itself (use `fceil` for floats)", identity, PURE).inlined(Inline::Unary(UnaryOp::Identity)),
    b("round", "(int) -> int", "the int itself (use `fround` for floats)", identity, PURE).inlined(Inline::Unary(UnaryOp::Identity)),
    b("clamp", "(int, int, int) -> int", "the 1st limited to the range from the 2nd to the 3rd", clamp, PURE).inlined(Inline::Clamp),
    b("sign", "(int) -> int", "-1, 0 or 1", sign, PURE).inlined(Inline::Unary(UnaryOp::Sign)),
    // §9.6 float math
    b("sin", "(float) -> float", "sine (radians)", sin, PURE).inlined(Inline::NativeUnary(native::sin)),
    b("cos", "(float) -> float", "cosine (radians)", cos, PURE).inlined(Inline::NativeUnary(native::cos)),
    b("tan", "(float) -> float", "tangent (radians)", tan, PURE).inlined(Inline::NativeUnary(native::tan)),
    b("asin", "(float) -> float", "arc sine", asin, PURE).inlined(Inline::NativeUnary(native::asin)),
    b("acos", "(float) -> float", "arc cosine", acos, PURE).inlined(Inline::NativeUnary(native::acos)),
    b("atan", "(float) -> float", "arc tangent", atan, PURE).inlined(Inline::NativeUnary(native::atan)),
    b("atan2", "(float, float) -> float", "angle of the point (x, y), given y then x", atan2, PURE).inlined(Inline::NativeBinary(native::atan2)),
    b("log", "(float) -> float", "natural logarithm", log, PURE).inlined(Inline::NativeUnary(native::log)),
    b("log10", "(float) -> float", "base-10 logarithm", log10, PURE).inlined(Inline::NativeUnary(native::log10)),
    b("log2", "(float) -> float", "base-2 logarithm", log2, PURE).inlined(Inline::NativeUnary(native::log2)),
    b("exp", "(float) -> float", "e to the power x", exp, PURE).inlined(Inline::NativeUnary(native::exp)),
    b("fabs", "(float) -> float", "absolute value", fabs, PURE).inlined(Inline::Unary(UnaryOp::FAbs)),
    b("ffloor", "(float) -> float", "largest integral float not above x", ffloor, PURE).inlined(Inline::Unary(UnaryOp::FFloor)),
    b("fceil", "(float) -> float", "smallest integral float not below x", fceil, PURE).inlined(Inline::Unary(UnaryOp::FCeil)),
    b("fround", "(float) -> float", "nearest integral float, halves away from zero", fround, PURE).inlined(Inline::NativeUnary(native::fround)),
    b("fsqrt", "(float) -> float", "square root (NaN for negatives)", fsqrt, PURE).inlined(Inline::Unary(UnaryOp::FSqrt)),
    b("fpow", "(float, float) -> float", "the 1st to the power of the 2nd", fpow, PURE).inlined(Inline::NativeBinary(native::fpow)),
    b("is_nan", "(float) -> bool", "whether x is NaN", is_nan, PURE).inlined(Inline::Unary(UnaryOp::IsNan)),
    b("is_inf", "(float) -> bool", "whether x is plus or minus infinity", is_inf, PURE).inlined(Inline::Unary(UnaryOp::IsInf)),
    // §9.13 bitwise helpers
    b("bit_and", "(int, int) -> int", "bitwise and, as `&`", bit_and, PURE).inlined(Inline::Binary(BinaryOp::BitAnd)),
    b("bit_or", "(int, int) -> int", "bitwise or, as `|`", bit_or, PURE).inlined(Inline::Binary(BinaryOp::BitOr)),
    b("bit_xor", "(int, int) -> int", "bitwise exclusive or, as `^`", bit_xor, PURE).inlined(Inline::Binary(BinaryOp::BitXor)),
    b("bit_not", "(int) -> int", "bitwise complement, as `~`", bit_not, PURE).inlined(Inline::Unary(UnaryOp::BitNot)),
    b("bit_shl", "(int, int) -> int", "shift left, as `<<`", bit_shl, PURE).inlined(Inline::Binary(BinaryOp::Shl)),
    b("bit_shr", "(int, int) -> int", "arithmetic shift right, as `>>`", bit_shr, PURE).inlined(Inline::Binary(BinaryOp::Shr)),
];

// ---------------------------------------------------------------------------
// §9.5
// ---------------------------------------------------------------------------

fn abs(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(a[0].as_int().wrapping_abs()))
}

fn min(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(a[0].as_int().min(a[1].as_int())))
}

fn max(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(a[0].as_int().max(a[1].as_int())))
}

/// `(int64_t)pow((double)base, (double)exp)` with x86 conversion semantics.
fn pow(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let r = (a[0].as_int() as f64).powf(a[1].as_int() as f64);
    Ok(Value::int(f64_to_i64_x86(r)))
}

/// `(int64_t)sqrt((double)n)`: floor of the square root; negative → NaN → i64::MIN.
fn sqrt(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(f64_to_i64_x86((a[0].as_int() as f64).sqrt())))
}

fn identity(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(a[0])
}

fn clamp(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let (v, lo, hi) = (a[0].as_int(), a[1].as_int(), a[2].as_int());
    // Not `i64::clamp`: that panics when lo > hi; the documented rule checks `lo` first.
    Ok(Value::int(if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    }))
}

fn sign(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(a[0].as_int().signum()))
}

// ---------------------------------------------------------------------------
// §9.6
// ---------------------------------------------------------------------------

/// The float builtins that are the Rust functions of the same name. Each
/// `native_unary` and `native_binary` one also gets a native twin, an
/// `extern "C" fn` in module `native` calling the same Rust function, which
/// compiled code calls directly (its table entry says so); both give bit-identical
/// results. The `inlined` ones are machine instructions in compiled code.
macro_rules! float_fns {
    (
        native_unary { $($name:ident => $e:expr;)* }
        native_binary { $($name2:ident => $e2:expr;)* }
        inlined { $($name3:ident => $e3:expr;)* }
    ) => {
        $(
            fn $name(_rt: &mut Rt, a: &[Value]) -> RtResult {
                let f: fn(f64) -> f64 = $e;
                Ok(Value::float(f(a[0].as_float())))
            }
        )*
        $(
            fn $name2(_rt: &mut Rt, a: &[Value]) -> RtResult {
                let f: fn(f64, f64) -> f64 = $e2;
                Ok(Value::float(f(a[0].as_float(), a[1].as_float())))
            }
        )*
        $(
            fn $name3(_rt: &mut Rt, a: &[Value]) -> RtResult {
                let f: fn(f64) -> f64 = $e3;
                Ok(Value::float(f(a[0].as_float())))
            }
        )*
        /// The native twins of the float builtins, for compiled code.
        mod native {
            $(
                pub extern "C" fn $name(x: f64) -> f64 {
                    let f: fn(f64) -> f64 = $e;
                    // These functions cannot panic; the guard keeps the rule that
                    // no panic unwinds into compiled code.
                    std::panic::catch_unwind(|| f(x)).unwrap_or(f64::NAN)
                }
            )*
            $(
                pub extern "C" fn $name2(x: f64, y: f64) -> f64 {
                    let f: fn(f64, f64) -> f64 = $e2;
                    std::panic::catch_unwind(|| f(x, y)).unwrap_or(f64::NAN)
                }
            )*
        }
    };
}

float_fns! {
    native_unary {
        sin => f64::sin;
        cos => f64::cos;
        tan => f64::tan;
        asin => f64::asin;
        acos => f64::acos;
        atan => f64::atan;
        log => f64::ln;
        log10 => f64::log10;
        log2 => f64::log2;
        exp => f64::exp;
        // Half away from zero, like C `round`.
        fround => f64::round;
    }
    native_binary {
        atan2 => f64::atan2;
        fpow => f64::powf;
    }
    inlined {
        fabs => f64::abs;
        ffloor => f64::floor;
        fceil => f64::ceil;
        fsqrt => f64::sqrt;
    }
}

fn is_nan(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::bool(a[0].as_float().is_nan()))
}

fn is_inf(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::bool(a[0].as_float().is_infinite()))
}

// ---------------------------------------------------------------------------
// §9.13: identical to the operators; shift counts are taken modulo 64 (x86).
// ---------------------------------------------------------------------------

fn bit_and(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(a[0].as_int() & a[1].as_int()))
}

fn bit_or(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(a[0].as_int() | a[1].as_int()))
}

fn bit_xor(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(a[0].as_int() ^ a[1].as_int()))
}

fn bit_not(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(!a[0].as_int()))
}

fn bit_shl(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(
        a[0].as_int().wrapping_shl((a[1].as_int() & 63) as u32),
    ))
}

fn bit_shr(_rt: &mut Rt, a: &[Value]) -> RtResult {
    // Arithmetic (sign-propagating) shift of the signed value.
    Ok(Value::int(
        a[0].as_int().wrapping_shr((a[1].as_int() & 63) as u32),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::string::testutil::*;

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    fn int_call(name: &str, args: &[i64]) -> i64 {
        let mut rt = rt();
        let args: Vec<_> = args.iter().map(|&x| i(x)).collect();
        ok(&mut rt, name, &args).as_int()
    }

    fn float_call(name: &str, args: &[f64]) -> f64 {
        let mut rt = rt();
        let args: Vec<_> = args.iter().map(|&x| f(x)).collect();
        ok(&mut rt, name, &args).as_float()
    }

    #[test]
    fn integer_math() {
        assert_eq!(int_call("abs", &[-5]), 5);
        assert_eq!(int_call("abs", &[5]), 5);
        assert_eq!(int_call("abs", &[i64::MIN]), i64::MIN);
        assert_eq!(int_call("min", &[3, -2]), -2);
        assert_eq!(int_call("max", &[3, -2]), 3);
        assert_eq!(int_call("floor", &[-7]), -7);
        assert_eq!(int_call("ceil", &[7]), 7);
        assert_eq!(int_call("round", &[i64::MAX]), i64::MAX);
        assert_eq!(int_call("clamp", &[5, 0, 10]), 5);
        assert_eq!(int_call("clamp", &[-5, 0, 10]), 0);
        assert_eq!(int_call("clamp", &[15, 0, 10]), 10);
        // lo > hi: the `lo` rule is checked first.
        assert_eq!(int_call("clamp", &[5, 10, 0]), 10);
        assert_eq!(int_call("clamp", &[15, 10, 0]), 0);
        assert_eq!(int_call("sign", &[-9]), -1);
        assert_eq!(int_call("sign", &[0]), 0);
        assert_eq!(int_call("sign", &[i64::MAX]), 1);
        assert_eq!(int_call("sign", &[i64::MIN]), -1);
    }

    #[test]
    fn int_pow_and_sqrt() {
        assert_eq!(int_call("pow", &[2, 10]), 1024);
        assert_eq!(int_call("pow", &[2, 62]), 1 << 62);
        assert_eq!(int_call("pow", &[2, 63]), i64::MIN);
        assert_eq!(int_call("pow", &[2, 64]), i64::MIN);
        assert_eq!(int_call("pow", &[-2, 63]), i64::MIN);
        assert_eq!(int_call("pow", &[-3, 3]), -27);
        assert_eq!(int_call("pow", &[10, 18]), 1_000_000_000_000_000_000);
        assert_eq!(int_call("pow", &[3, 0]), 1);
        assert_eq!(int_call("pow", &[0, 0]), 1);
        assert_eq!(int_call("pow", &[2, -1]), 0);
        assert_eq!(int_call("pow", &[1, -5]), 1);
        assert_eq!(int_call("pow", &[-1, -5]), -1);
        assert_eq!(int_call("pow", &[-1, i64::MIN]), 1);
        assert_eq!(
            int_call("pow", &[0, -1]),
            i64::MIN,
            "inf converts to the x86 indefinite value"
        );
        assert_eq!(int_call("pow", &[i64::MAX, i64::MAX]), i64::MIN);
        assert_eq!(int_call("sqrt", &[16]), 4);
        assert_eq!(int_call("sqrt", &[17]), 4);
        assert_eq!(int_call("sqrt", &[0]), 0);
        assert_eq!(int_call("sqrt", &[-1]), i64::MIN);
        assert_eq!(int_call("sqrt", &[i64::MAX]), 3_037_000_499);
        assert_eq!(int_call("sqrt", &[i64::MIN]), i64::MIN);
    }

    #[test]
    fn float_math() {
        assert_eq!(float_call("sin", &[0.0]), 0.0);
        assert_eq!(float_call("cos", &[0.0]), 1.0);
        assert!((float_call("tan", &[1.0]) - 1.5574077246549023).abs() < 1e-15);
        assert!((float_call("asin", &[1.0]) - std::f64::consts::FRAC_PI_2).abs() < 1e-15);
        assert_eq!(float_call("acos", &[1.0]), 0.0);
        assert!((float_call("atan", &[1.0]) - std::f64::consts::FRAC_PI_4).abs() < 1e-15);
        assert!((float_call("atan2", &[1.0, -1.0]) - 3.0 * std::f64::consts::FRAC_PI_4).abs() < 1e-15);
        assert_eq!(float_call("atan2", &[0.0, -0.0]), std::f64::consts::PI);
        assert_eq!(float_call("log", &[1.0]), 0.0);
        assert!(float_call("log", &[-1.0]).is_nan());
        assert_eq!(float_call("log", &[0.0]), f64::NEG_INFINITY);
        assert_eq!(float_call("log10", &[1000.0]), 3.0);
        assert_eq!(float_call("log2", &[8.0]), 3.0);
        assert_eq!(float_call("exp", &[0.0]), 1.0);
        assert_eq!(float_call("fabs", &[-2.5]), 2.5);
        assert_eq!(float_call("ffloor", &[-2.5]), -3.0);
        assert_eq!(float_call("fceil", &[-2.5]), -2.0);
        assert_eq!(float_call("fround", &[2.5]), 3.0);
        assert_eq!(float_call("fround", &[-2.5]), -3.0);
        assert_eq!(float_call("fround", &[0.49999999999999994]), 0.0);
        assert_eq!(float_call("fsqrt", &[2.25]), 1.5);
        let nan = float_call("fsqrt", &[-1.0]);
        assert!(nan.is_nan());
        assert_eq!(float_call("fpow", &[2.0, 0.5]), std::f64::consts::SQRT_2);
        assert_eq!(float_call("fpow", &[2.0, -1.0]), 0.5);
        let mut rt = rt();
        assert!(ok(&mut rt, "is_nan", &[f(f64::NAN)]).as_bool());
        assert!(!ok(&mut rt, "is_nan", &[f(f64::INFINITY)]).as_bool());
        assert!(ok(&mut rt, "is_inf", &[f(f64::NEG_INFINITY)]).as_bool());
        assert!(!ok(&mut rt, "is_inf", &[f(f64::NAN)]).as_bool());
        assert!(!ok(&mut rt, "is_inf", &[f(1e308)]).as_bool());
    }

    #[test]
    fn bits() {
        assert_eq!(int_call("bit_and", &[12, 10]), 8);
        assert_eq!(int_call("bit_or", &[12, 10]), 14);
        assert_eq!(int_call("bit_xor", &[12, 10]), 6);
        assert_eq!(int_call("bit_not", &[0]), -1);
        assert_eq!(int_call("bit_not", &[i64::MAX]), i64::MIN);
        assert_eq!(int_call("bit_shl", &[1, 3]), 8);
        assert_eq!(int_call("bit_shl", &[1, 63]), i64::MIN);
        assert_eq!(int_call("bit_shl", &[1, 64]), 1);
        assert_eq!(int_call("bit_shl", &[1, -1]), i64::MIN);
        assert_eq!(int_call("bit_shl", &[3, i64::MIN]), 3);
        assert_eq!(int_call("bit_shl", &[1, i64::MAX]), i64::MIN);
        assert_eq!(int_call("bit_shr", &[-16, 2]), -4);
        assert_eq!(int_call("bit_shr", &[16, 2]), 4);
        assert_eq!(int_call("bit_shr", &[i64::MIN, 63]), -1);
        assert_eq!(int_call("bit_shr", &[256, 64 + 4]), 16);
        assert_eq!(int_call("bit_shr", &[-1, -1]), -1);
    }

    /// The native twin a table entry names computes exactly what the builtin does
    /// (an entry pointing at the wrong twin would give compiled code other results).
    #[test]
    fn native_twins_match_their_builtins() {
        use crate::builtins::Inline;
        let xs = [0.0, -0.0, 0.5, -0.5, 2.0, 1e300, -1e300, f64::INFINITY, f64::NAN];
        let mut rt = rt();
        let mut twins = 0;
        for b in super::TABLE {
            for (&x, &y) in xs.iter().zip(xs.iter().rev()) {
                let (via_builtin, via_twin) = match b.inline {
                    Inline::NativeUnary(twin) => (unsafe { (b.func)(&mut rt, &[f(x)]) }, twin(x)),
                    Inline::NativeBinary(twin) => (unsafe { (b.func)(&mut rt, &[f(x), f(y)]) }, twin(x, y)),
                    _ => break,
                };
                let via_builtin = via_builtin.map(|v| v.as_float().to_bits()).ok();
                assert_eq!(via_builtin, Some(via_twin.to_bits()), "{}({x}, {y})", b.name);
                twins += 1;
            }
        }
        assert_eq!(twins, 13 * xs.len());
    }
}
