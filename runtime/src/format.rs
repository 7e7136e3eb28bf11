//! Text conversion of values: `%g` floats (LANGUAGE.md §8.3) and `to_str` / `print`
//! formatting of every kind, including containers (§16).

use crate::heap::{
    as_array, as_closure, as_map, as_struct, as_tuple, obj_kind, str_bytes, with_layout, ObjKind,
};
use crate::value::{ValKind, Value};

/// C `printf("%g", v)`: 6 significant digits, trailing zeros removed, exponent form
/// outside `1e-4 <= |v| < 1e6` (after rounding).
pub fn fmt_g(v: f64) -> String {
    let mut s = String::new();
    write_g(&mut s, v);
    s
}

/// Append the `%g` text of `v` to `out`.
pub fn write_g(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str(if v.is_sign_negative() { "-nan" } else { "nan" });
        return;
    }
    if v.is_infinite() {
        out.push_str(if v < 0.0 { "-inf" } else { "inf" });
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    // Round to 6 significant digits in exponent form to learn the decimal exponent
    // of the *rounded* value (999999.5 rounds to 1e+06).
    let e_form = format!("{:.5e}", v);
    let (mant, exp) = match e_form.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (e_form.as_str(), 0),
    };
    if (-4..6).contains(&exp) {
        let decimals = (5 - exp) as usize;
        let fixed = format!("{:.*}", decimals, v);
        out.push_str(strip_zeros(&fixed));
    } else {
        out.push_str(strip_zeros(mant));
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Append the `to_str` text of a value of kind `kind` (strings raw at top level).
pub fn write_value(out: &mut Vec<u8>, v: Value, kind: ValKind) {
    write_inner(out, v, kind, false, 0)
}

/// The `to_str` text of a value as a new byte vector.
pub fn value_to_bytes(v: Value, kind: ValKind) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, v, kind);
    out
}

/// Function names for printing function values (`<fn name>`); set at program load.
pub fn set_function_names(names: Vec<String>) {
    FUNC_NAMES.with(|f| *f.borrow_mut() = names);
}

thread_local! {
    static FUNC_NAMES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

const MAX_DEPTH: usize = 200;

fn write_inner(out: &mut Vec<u8>, v: Value, kind: ValKind, nested: bool, depth: usize) {
    match kind {
        ValKind::Int => out.extend_from_slice(v.as_int().to_string().as_bytes()),
        ValKind::Float => {
            let mut s = String::new();
            write_g(&mut s, v.as_float());
            out.extend_from_slice(s.as_bytes());
        }
        ValKind::Bool => out.extend_from_slice(if v.as_bool() { b"true" } else { b"false" }),
        ValKind::Ref => {
            if v.is_null() {
                out.extend_from_slice(b"null");
                return;
            }
            if depth > MAX_DEPTH {
                out.extend_from_slice(b"...");
                return;
            }
            match obj_kind(v) {
                ObjKind::Str => {
                    if nested {
                        write_quoted(out, str_bytes(v));
                    } else {
                        out.extend_from_slice(str_bytes(v));
                    }
                }
                ObjKind::Array => {
                    let a = as_array(v);
                    write_list(out, b"[", b"]", a.items.iter(), |out, x| {
                        write_inner(out, *x, a.elem, true, depth + 1)
                    });
                }
                ObjKind::Map => {
                    let m = as_map(v);
                    write_list(out, b"{", b"}", m.entries.iter(), |out, (k, x)| {
                        write_inner(out, k.bits, m.key, true, depth + 1);
                        out.extend_from_slice(b": ");
                        write_inner(out, *x, m.val, true, depth + 1);
                    });
                }
                ObjKind::Tuple => {
                    let t = as_tuple(v);
                    // A one-element tuple keeps its comma: `(1,)`.
                    let close: &[u8] = if t.items.len() == 1 { b",)" } else { b")" };
                    let items = t.items.iter().zip(t.kinds.iter());
                    write_list(out, b"(", close, items, |out, (x, k)| {
                        write_inner(out, *x, *k, true, depth + 1)
                    });
                }
                ObjKind::Struct | ObjKind::Class => {
                    let s = as_struct(v);
                    with_layout(s.layout, |l| {
                        out.extend_from_slice(l.name.as_bytes());
                        write_list(out, b"{", b"}", s.fields.iter().enumerate(), |out, (i, x)| {
                            let (name, k) = field_at(&l.fields, i);
                            out.extend_from_slice(name.as_bytes());
                            out.extend_from_slice(b": ");
                            write_inner(out, *x, k, true, depth + 1);
                        });
                    });
                }
                ObjKind::Closure => {
                    let c = as_closure(v);
                    FUNC_NAMES.with(|f| {
                        let f = f.borrow();
                        let name = f.get(c.func as usize).map(String::as_str).unwrap_or("lambda");
                        out.extend_from_slice(format!("<fn {name}>").as_bytes());
                    });
                }
                ObjKind::Opaque => out.extend_from_slice(b"<ptr>"),
            }
        }
    }
}

/// Append `open`, the `items` separated by `sep`, then `close`; `item` writes one
/// item and may fail (the JSON encoder stops at a nesting error).
pub fn write_seq<T, E>(
    out: &mut Vec<u8>,
    [open, sep, close]: [&[u8]; 3],
    items: impl IntoIterator<Item = T>,
    mut item: impl FnMut(&mut Vec<u8>, T) -> Result<(), E>,
) -> Result<(), E> {
    out.extend_from_slice(open);
    for (i, x) in items.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        item(out, x)?;
    }
    out.extend_from_slice(close);
    Ok(())
}

/// [`write_seq`] separated by `, `, for items that cannot fail.
fn write_list<T>(
    out: &mut Vec<u8>,
    open: &[u8],
    close: &[u8],
    items: impl IntoIterator<Item = T>,
    mut item: impl FnMut(&mut Vec<u8>, T),
) {
    let done: Result<(), std::convert::Infallible> = write_seq(out, [open, b", ", close], items, |out, x| {
        item(out, x);
        Ok(())
    });
    let Ok(()) = done;
}

/// The name and kind of field `i` of a layout's `fields` (`_i`, an int, past the
/// end).
pub fn field_at(fields: &[(String, ValKind)], i: usize) -> (String, ValKind) {
    fields.get(i).cloned().unwrap_or((format!("_{i}"), ValKind::Int))
}

/// Which bytes a quoted string writes as hex escapes, and how.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Quoting {
    /// The language's repr of a string inside a container: control bytes and DEL
    /// as `\xHH`, every other byte copied.
    Repr,
    /// A JSON string: control bytes as `\u00HH`, every other byte copied (DEL and
    /// non-ASCII bytes included: strings are bytes).
    Json,
    /// Printable ASCII only (`bp disasm`): every other byte as `\xHH`.
    Ascii,
}

/// Append `s` double-quoted: `"` `\` newline tab CR as `\"` `\\` `\n` `\t` `\r`,
/// the bytes `quoting` selects as hex escapes, the others copied.
pub fn write_quoted_as(out: &mut Vec<u8>, s: &[u8], quoting: Quoting) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = |out: &mut Vec<u8>, prefix: &[u8], b: u8| {
        out.extend_from_slice(prefix);
        out.extend_from_slice(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
    };
    out.push(b'"');
    for &b in s {
        match (b, quoting) {
            (b'"' | b'\\', _) => out.extend_from_slice(&[b'\\', b]),
            (b'\n', _) => out.extend_from_slice(b"\\n"),
            (b'\t', _) => out.extend_from_slice(b"\\t"),
            (b'\r', _) => out.extend_from_slice(b"\\r"),
            (0..=0x1f, Quoting::Json) => hex(out, b"\\u00", b),
            (0..=0x1f | 0x7f, Quoting::Repr) | (0..=0x1f | 0x7f..=0xff, Quoting::Ascii) => {
                hex(out, b"\\x", b)
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// A string as it appears inside a container: double-quoted with escapes
/// ([`Quoting::Repr`]).
pub fn write_quoted(out: &mut Vec<u8>, s: &[u8]) {
    write_quoted_as(out, s, Quoting::Repr)
}

#[cfg(test)]
mod tests {
    use super::{fmt_g, write_quoted_as, Quoting};

    #[test]
    fn quoting_styles() {
        let s = b"a\"\\\n\t\r\x00\x1f\x7f\xc3\xa9 ~";
        let quoted = |q| {
            let mut out = Vec::new();
            write_quoted_as(&mut out, s, q);
            out
        };
        let common = br#""a\"\\\n\t\r"#.as_slice();
        let repr = [common, br#"\x00\x1f\x7f"#, b"\xc3\xa9", br#" ~""#].concat();
        let json = [common, br#"\u0000\u001f"#, b"\x7f\xc3\xa9", br#" ~""#].concat();
        let ascii = [common, br#"\x00\x1f\x7f\xc3\xa9 ~""#].concat();
        assert_eq!(quoted(Quoting::Repr), repr);
        assert_eq!(quoted(Quoting::Json), json);
        assert_eq!(quoted(Quoting::Ascii), ascii);
    }

    #[test]
    #[allow(clippy::approx_constant)]
    fn g_format_table() {
        let cases: &[(f64, &str)] = &[
            (3.0, "3"),
            (2.5, "2.5"),
            (0.1 + 0.2, "0.3"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.23457e+06"),
            (999999.5, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000123456789, "0.000123457"),
            (3.14159265, "3.14159"),
            (100.0 / 3.0, "33.3333"),
            (1e15, "1e+15"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e20, "1e+20"),
            (123456789.0, "1.23457e+08"),
            (1.0 / 3.0, "0.333333"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-f64::NAN, "-nan"),
            (f64::NAN, "nan"),
            (1e-300, "1e-300"),
            (-2.5e-7, "-2.5e-07"),
            (42.0, "42"),
            (0.5, "0.5"),
            (1e100, "1e+100"),
        ];
        for (v, want) in cases {
            assert_eq!(fmt_g(*v), *want, "formatting {v:e}");
        }
    }
}
