//! Conversion builtins (LANGUAGE.md §9.3): `to_str`, int/float/string conversions
//! with C semantics (`strtod`, `strtoll`, x86 `cvttsd2si`). `typeof` and `print` are
//! compiler intrinsics; `json_stringify` lives elsewhere.

use super::inline::leaf_builtin;
use super::string::{is_c_space, str_arg};
use super::{b, Builtin, Inline, UnaryOp, PURE};
use crate::format::{fmt_g, value_to_bytes};
use crate::heap::{obj_kind, ObjKind};
use crate::rt::{Rt, RtError, RtResult};
use crate::value::{ValKind, Value};

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("to_str", "(any) -> str", "the text `print` shows for the value", to_str, 0),
    b("int_to_float", "(int) -> float", "the int as a float", int_to_float, PURE).inlined(Inline::Unary(UnaryOp::IntToFloat)),
    b("float_to_int", "(float) -> int", "truncated toward zero (NaN and out-of-range values give the minimum int)", float_to_int, PURE).inlined(Inline::Unary(UnaryOp::FloatToInt)),
    b("float_to_str", "(float) -> str", "the `%g` text of the float", float_to_str, PURE),
    b("str_to_float", "(str) -> float", "the longest leading float (C `strtod`), `0.0` if none", str_to_float, PURE).inlined(Inline::Leaf(str_to_float_leaf)),
    b("parse_int", "(str) -> int", "the leading decimal integer (C `strtoll`), `0` if none; saturates", parse_int, PURE).inlined(Inline::Leaf(parse_int_leaf)),
    b("int_to_hex", "(int) -> str", "lowercase hexadecimal, two's complement for negatives", int_to_hex, PURE),
    b("hex_to_int", "(str) -> int", "the value of hex digits (no prefix, no sign); another character is an error", hex_to_int, 0).inlined(Inline::Leaf(hex_to_int_leaf)),
];

/// `(int64_t)f` as x86 `cvttsd2si` computes it: truncation toward zero, and the
/// "integer indefinite" value `i64::MIN` for NaN and out-of-range values.
pub(crate) fn f64_to_i64_x86(f: f64) -> i64 {
    // 2^63 is exactly representable; every double in [-2^63, 2^63) truncates to a
    // representable integer.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

unsafe fn to_str(rt: &mut Rt, a: &[Value]) -> RtResult {
    let kind = ValKind::from_u8(a[1].as_int() as u8);
    let v = a[0];
    if kind == ValKind::Ref && !v.is_null() && obj_kind(v) == ObjKind::Str {
        // Strings are immutable: the text of a string is the string itself.
        return Ok(v);
    }
    let text = value_to_bytes(v, kind).map_err(|e| RtError::msg(e.message()))?;
    Ok(rt.str(text))
}

fn int_to_float(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::float(a[0].as_int() as f64))
}

fn float_to_int(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::int(f64_to_i64_x86(a[0].as_float())))
}

fn float_to_str(rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(rt.str(fmt_g(a[0].as_float()).into_bytes()))
}

// The parsers read their string and allocate nothing: leaf twins, so that a
// loop parsing fields does not pay the general builtin call for each.
leaf_builtin!(str_to_float, str_to_float_leaf, 1, |a| Ok(Value::float(strtod(
    str_arg(a[0])?
))));

leaf_builtin!(parse_int, parse_int_leaf, 1, |a| Ok(Value::int(strtoll10(
    str_arg(a[0])?
))));

fn int_to_hex(rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(rt.str(format!("{:x}", a[0].as_int() as u64).into_bytes()))
}

leaf_builtin!(hex_to_int, hex_to_int_leaf, 1, |a| {
    let mut acc: u64 = 0;
    for &c in str_arg(a[0])? {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(RtError::msg("hex_to_int: invalid hex character")),
        };
        acc = acc.wrapping_mul(16).wrapping_add(d as u64);
    }
    Ok(Value::int(acc as i64))
});

/// The start of a number for C's `strto*`: leading whitespace and an optional
/// sign. Returns whether the sign is `-` and where the rest begins.
fn c_sign(s: &[u8]) -> (bool, usize) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    match s.get(i) {
        Some(b'-') => (true, i + 1),
        Some(b'+') => (false, i + 1),
        _ => (false, i),
    }
}

/// C `strtoll(s, NULL, 10)`: leading whitespace, optional sign, decimal digits up to
/// the first non-digit; no digits → 0; overflow saturates.
pub(crate) fn strtoll10(s: &[u8]) -> i64 {
    let (neg, i) = c_sign(s);
    // Accumulate with the final sign so that i64::MIN is reachable.
    let mut acc: i64 = 0;
    for &c in s.get(i..).unwrap_or_default() {
        if !c.is_ascii_digit() {
            break;
        }
        let d = (c - b'0') as i64;
        let next = acc
            .checked_mul(10)
            .and_then(|x| if neg { x.checked_sub(d) } else { x.checked_add(d) });
        match next {
            Some(v) => acc = v,
            None => return if neg { i64::MIN } else { i64::MAX },
        }
    }
    acc
}

/// C `strtod(s, NULL)`: skips leading whitespace and converts the longest valid
/// prefix: an optional sign, then a decimal number with optional exponent, a hex
/// float (`0x1.8p3`), `inf`/`infinity` or `nan`/`nan(...)` (case-insensitive). No
/// valid prefix gives `0.0`.
pub(crate) fn strtod(s: &[u8]) -> f64 {
    let (neg, i) = c_sign(s);
    let rest = s.get(i..).unwrap_or_default();
    let magnitude = if starts_with_ci(rest, b"inf") {
        f64::INFINITY
    } else if starts_with_ci(rest, b"nan") {
        f64::NAN
    } else if let Some(v) = hex_float(rest) {
        v
    } else {
        match decimal_prefix(rest) {
            Some(v) => v,
            // No conversion: the sign is not consumed either, the result is +0.0.
            None => return 0.0,
        }
    };
    if neg {
        -magnitude
    } else {
        magnitude
    }
}

fn starts_with_ci(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

/// The value of the longest decimal-number prefix of `s` (no sign), if any.
fn decimal_prefix(s: &[u8]) -> Option<f64> {
    let digit_at = |k: usize| s.get(k).is_some_and(|c| c.is_ascii_digit());
    let mut i = 0;
    let mut digits = 0;
    while digit_at(i) {
        i += 1;
        digits += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while digit_at(i) {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_start = j;
        while digit_at(j) {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    // The prefix is ASCII and matches Rust's float grammar (which also accepts
    // "1." and ".5" and saturates huge exponents), so parsing is correctly rounded.
    std::str::from_utf8(&s[..i]).ok()?.parse::<f64>().ok()
}

/// A hex float `0x<hexdigits>[.<hexdigits>][p[+-]<digits>]` (no sign), if `s` starts
/// with one that has at least one hex digit.
fn hex_float(s: &[u8]) -> Option<f64> {
    if s.len() < 3 || s[0] != b'0' || (s[1] | 0x20) != b'x' {
        return None;
    }
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut any = false;
    let mut sticky = false;
    let mut seen_dot = false;
    let mut i = 2;
    while let Some(&c) = s.get(i) {
        if c == b'.' && !seen_dot {
            seen_dot = true;
            i += 1;
            continue;
        }
        let d = match (c as char).to_digit(16) {
            Some(d) => d as u64,
            None => break,
        };
        any = true;
        if mant >> 60 == 0 {
            mant = (mant << 4) | d;
            if seen_dot {
                exp -= 4;
            }
        } else {
            // Beyond 60 significant bits only "is anything left" matters for rounding.
            sticky |= d != 0;
            if !seen_dot {
                exp += 4;
            }
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut j = i + 1;
        let mut eneg = false;
        if let Some(&c) = s.get(j) {
            if c == b'+' || c == b'-' {
                eneg = c == b'-';
                j += 1;
            }
        }
        let mut e: i64 = 0;
        let mut edigits = 0;
        while let Some(&c) = s.get(j) {
            if !c.is_ascii_digit() {
                break;
            }
            e = (e * 10 + (c - b'0') as i64).min(1_000_000);
            edigits += 1;
            j += 1;
        }
        if edigits > 0 {
            exp += if eneg { -e } else { e };
        }
    }
    if sticky {
        mant |= 1;
    }
    Some(scale_by_pow2(mant as f64, exp))
}

/// `x * 2^e` without intermediate overflow of the power.
fn scale_by_pow2(mut x: f64, mut e: i64) -> f64 {
    if x == 0.0 {
        return x;
    }
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
        if x.is_infinite() {
            return x;
        }
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
        if x == 0.0 {
            return x;
        }
    }
    x * 2f64.powi(e as i32)
}

#[cfg(test)]
mod tests {
    use super::super::string::testutil::*;
    use super::{strtod, strtoll10};
    use crate::heap::{as_array_mut, as_map_mut, MapKey};
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    fn to_str_of(rt: &mut crate::rt::Rt, v: Value, kind: ValKind) -> String {
        text(ok(rt, "to_str", &[v, i(kind as i64)]))
    }

    #[test]
    fn to_str_all_kinds() {
        let mut rt = rt();
        assert_eq!(to_str_of(&mut rt, i(-42), ValKind::Int), "-42");
        assert_eq!(to_str_of(&mut rt, f(2.5), ValKind::Float), "2.5");
        assert_eq!(to_str_of(&mut rt, f(1e20), ValKind::Float), "1e+20");
        assert_eq!(to_str_of(&mut rt, Value::bool(true), ValKind::Bool), "true");
        assert_eq!(to_str_of(&mut rt, Value::bool(false), ValKind::Bool), "false");
        assert_eq!(to_str_of(&mut rt, Value::NULL, ValKind::Ref), "null");
        let hi = s(&mut rt, "hi");
        assert_eq!(ok(&mut rt, "to_str", &[hi, i(3)]), hi);
        let arr = str_array(&mut rt, &["a", "b"]);
        assert_eq!(to_str_of(&mut rt, arr, ValKind::Ref), "[\"a\", \"b\"]");
        let nums = int_array(&mut rt, &[1, 2, 3]);
        assert_eq!(to_str_of(&mut rt, nums, ValKind::Ref), "[1, 2, 3]");
        // SAFETY: `nums` is a live array of this test's heap.
        unsafe { as_array_mut(nums) }.clear();
        assert_eq!(to_str_of(&mut rt, nums, ValKind::Ref), "[]");
        let m = rt.heap.alloc_map(ValKind::Ref, ValKind::Float);
        let k = s(&mut rt, "a");
        // SAFETY: `m` is a live map of this test's heap.
        unsafe { as_map_mut(m) }
            .entries
            .insert(unsafe { MapKey::new(k, ValKind::Ref) }, f(0.5));
        assert_eq!(to_str_of(&mut rt, m, ValKind::Ref), "{\"a\": 0.5}");
    }

    #[test]
    fn int_float_conversions() {
        let mut rt = rt();
        assert_eq!(ok(&mut rt, "int_to_float", &[i(3)]).as_float(), 3.0);
        assert_eq!(
            ok(&mut rt, "int_to_float", &[i(i64::MAX)]).as_float(),
            9223372036854775808.0
        );
        let cases: &[(f64, i64)] = &[
            (2.9, 2),
            (-2.9, -2),
            (0.0, 0),
            (-0.5, 0),
            (9.2e18, 9_200_000_000_000_000_000),
            (-9223372036854775808.0, i64::MIN),
            (9223372036854775808.0, i64::MIN),
            (1e300, i64::MIN),
            (-1e300, i64::MIN),
            (f64::INFINITY, i64::MIN),
            (f64::NEG_INFINITY, i64::MIN),
            (f64::NAN, i64::MIN),
            (9223372036854774784.0, 9223372036854774784),
        ];
        for &(x, want) in cases {
            assert_eq!(
                ok(&mut rt, "float_to_int", &[f(x)]).as_int(),
                want,
                "float_to_int({x})"
            );
        }
        assert_eq!(text(ok(&mut rt, "float_to_str", &[f(0.1 + 0.2)])), "0.3");
        assert_eq!(
            text(ok(&mut rt, "float_to_str", &[f(123456789.0)])),
            "1.23457e+08"
        );
        assert_eq!(text(ok(&mut rt, "float_to_str", &[f(-0.0)])), "-0");
        assert_eq!(text(ok(&mut rt, "float_to_str", &[f(f64::INFINITY)])), "inf");
    }

    #[test]
    fn strtod_prefixes() {
        let cases: &[(&str, f64)] = &[
            (" 2.5xyz", 2.5),
            ("2.5", 2.5),
            ("\t\n -3.25e2abc", -325.0),
            ("+.5", 0.5),
            ("5.", 5.0),
            ("1e5", 1e5),
            ("1e", 1.0),
            ("1e+", 1.0),
            ("1e-2x", 0.01),
            ("1.5E3", 1500.0),
            ("abc", 0.0),
            ("", 0.0),
            (".", 0.0),
            ("-", 0.0),
            ("+-1", 0.0),
            ("- 1", 0.0),
            ("0x1p3", 8.0),
            ("0X1.8p1", 3.0),
            ("0xff", 255.0),
            ("-0x10", -16.0),
            ("0x", 0.0),
            ("0xg", 0.0),
            ("0x.8", 0.5),
            ("0x1p", 1.0),
            ("0x1p-2", 0.25),
            ("0x1.fffffffffffff8p0", 2.0),
            ("0x1.fffffffffffff7ffffp0", 1.9999999999999998),
            ("1e400", f64::INFINITY),
            ("-1e400", f64::NEG_INFINITY),
            ("1e-400", 0.0),
            ("1e99999999999999999999999", f64::INFINITY),
            ("inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("INFx", f64::INFINITY),
            ("in", 0.0),
            ("0.1", 0.1),
            ("123456789012345678901234567890", 1.2345678901234568e29),
            ("00012", 12.0),
        ];
        for &(text, want) in cases {
            let got = strtod(text.as_bytes());
            assert!(
                got == want || (got.is_nan() && want.is_nan()),
                "strtod({text:?}) = {got}, want {want}"
            );
        }
        assert!(strtod(b"-0").is_sign_negative());
        assert!(strtod(b"-x").is_sign_positive());
        assert!(strtod(b"nan").is_nan() && strtod(b"nan").is_sign_positive());
        assert!(strtod(b"  -NaN(123)").is_nan() && strtod(b"-nan").is_sign_negative());
        let mut rt = rt();
        let v = s(&mut rt, " 2.5xyz");
        assert_eq!(ok(&mut rt, "str_to_float", &[v]).as_float(), 2.5);
    }

    #[test]
    fn strtoll_prefixes() {
        let cases: &[(&str, i64)] = &[
            ("42", 42),
            ("-12abc", -12),
            ("12abc", 12),
            ("  +7", 7),
            ("\n\t-0", 0),
            ("abc", 0),
            ("", 0),
            ("-", 0),
            ("- 5", 0),
            ("1 2", 1),
            ("3.9", 3),
            ("9223372036854775807", i64::MAX),
            ("9223372036854775808", i64::MAX),
            ("99999999999999999999", i64::MAX),
            ("-9223372036854775808", i64::MIN),
            ("-9223372036854775809", i64::MIN),
            ("-99999999999999999999999", i64::MIN),
            ("000000000000000000000000001", 1),
        ];
        for &(text, want) in cases {
            assert_eq!(strtoll10(text.as_bytes()), want, "parse_int({text:?})");
        }
        let mut rt = rt();
        let v = s(&mut rt, "99999999999999999999");
        assert_eq!(ok(&mut rt, "parse_int", &[v]).as_int(), i64::MAX);
    }

    /// The parsers' leaf twins give the builtins' results, and decline on a
    /// null string and a bad hex digit.
    #[test]
    fn parser_twins_agree() {
        let mut rt = rt();
        for text in [
            "",
            "42",
            "  -17x",
            "9999999999999999999999",
            "1e3",
            "-0.5e-2z",
            "0x1F",
            "ff",
            "fG",
            "nan",
            "inf",
        ] {
            let v = s(&mut rt, text);
            for name in ["parse_int", "str_to_float", "hex_to_int"] {
                twin_agrees(&mut rt, name, &[v]);
                twin_agrees(&mut rt, name, &[Value::NULL]);
            }
        }
    }

    #[test]
    fn hex() {
        let mut rt = rt();
        for (n, want) in [
            (255, "ff"),
            (0, "0"),
            (-1, "ffffffffffffffff"),
            (i64::MIN, "8000000000000000"),
            (4096, "1000"),
        ] {
            assert_eq!(text(ok(&mut rt, "int_to_hex", &[i(n)])), want);
        }
        for (t, want) in [
            ("ff", 255),
            ("FF", 255),
            ("", 0),
            ("0", 0),
            ("DeadBeef", 0xdeadbeef),
            ("ffffffffffffffff", -1),
            ("1ffffffffffffffff", -1),
            ("10000000000000000", 0),
        ] {
            let v = s(&mut rt, t);
            assert_eq!(
                ok(&mut rt, "hex_to_int", &[v]).as_int(),
                want,
                "hex_to_int({t:?})"
            );
        }
        for t in ["0x10", "-1", "g", " 1", "1 "] {
            let v = s(&mut rt, t);
            assert_eq!(
                err(&mut rt, "hex_to_int", &[v]),
                "hex_to_int: invalid hex character"
            );
        }
    }
}
