//! `json_stringify` (LANGUAGE.md §9.3), extended from the original's scalars-only
//! encoder to real JSON for containers (docs/stdlib.md):
//!
//! * `null` → `null`, bools → `true`/`false`, ints in decimal, floats with `%g`
//!   (non-finite floats → `null`, JSON has no NaN/Infinity);
//! * strings are JSON strings: `"` `\` newline tab CR as `\"` `\\` `\n` `\t` `\r`,
//!   other control bytes as `\u00XX`, every other byte copied (strings are bytes);
//! * arrays and tuples → `[1,2]`; maps → objects `{"a":1}` (keys that are not
//!   strings are converted to their `to_str` text); structs and class instances →
//!   objects of their fields in declaration order; functions and `ptr` → `null`.
//!
//! Output is compact (no spaces), like JavaScript's `JSON.stringify`. The encoder is
//! the walk of `print` (format.rs: explicit stack, any nesting depth, text capped at
//! `MAX_TEXT_LEN`); a container that contains itself is an error.

use super::{b, Builtin};
use crate::format::{write_graph, Style, MAX_TEXT_LEN};
use crate::rt::{Rt, RtError, RtResult};
use crate::value::{ValKind, Value};

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[b("json_stringify", "(any) -> str", "compact JSON text of any value (containers and structs included)", json_stringify, 0)];

unsafe fn json_stringify(rt: &mut Rt, a: &[Value]) -> RtResult {
    let kind = ValKind::from_u8(a[1].as_int() as u8);
    let mut out = Vec::new();
    // The walk of `print` (explicit stack, any depth), in JSON notation; a container
    // that contains itself is an error, as JSON cannot express it.
    write_graph(&mut out, a[0], kind, Style::Json, MAX_TEXT_LEN)
        .map_err(|e| RtError::msg(format!("json_stringify: {}", e.message())))?;
    Ok(rt.str(out))
}

#[cfg(test)]
mod tests {
    use crate::builtins::string::testutil::*;
    use crate::heap::{as_array_mut, as_map_mut, set_layouts, Layout, MapKey};
    use crate::rt::Rt;
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    fn js(rt: &mut Rt, v: Value, k: ValKind) -> String {
        text(ok(rt, "json_stringify", &[v, i(k as i64)]))
    }

    #[test]
    fn scalars() {
        let mut rt = rt();
        assert_eq!(js(&mut rt, i(-42), ValKind::Int), "-42");
        assert_eq!(js(&mut rt, Value::bool(true), ValKind::Bool), "true");
        assert_eq!(js(&mut rt, Value::bool(false), ValKind::Bool), "false");
        assert_eq!(js(&mut rt, f(2.5), ValKind::Float), "2.5");
        assert_eq!(js(&mut rt, f(1e6), ValKind::Float), "1e+06");
        assert_eq!(js(&mut rt, f(-0.0), ValKind::Float), "-0");
        assert_eq!(js(&mut rt, f(f64::NAN), ValKind::Float), "null");
        assert_eq!(js(&mut rt, f(f64::NEG_INFINITY), ValKind::Float), "null");
        assert_eq!(js(&mut rt, Value::NULL, ValKind::Ref), "null");
    }

    #[test]
    fn strings_are_escaped() {
        let mut rt = rt();
        let v = rt.str(&b"a\"b\\c\nd\te\rf\x01\x1f\x7f\xc3\xa9"[..]);
        assert_eq!(
            js(&mut rt, v, ValKind::Ref),
            "\"a\\\"b\\\\c\\nd\\te\\rf\\u0001\\u001f\x7f\u{e9}\""
        );
        let e = s(&mut rt, "");
        assert_eq!(js(&mut rt, e, ValKind::Ref), "\"\"");
    }

    #[test]
    fn containers() {
        let mut rt = rt();
        let arr = int_array(&mut rt, &[1, 2, 3]);
        assert_eq!(js(&mut rt, arr, ValKind::Ref), "[1,2,3]");
        let empty = int_array(&mut rt, &[]);
        assert_eq!(js(&mut rt, empty, ValKind::Ref), "[]");
        let strs = str_array(&mut rt, &["a", "b\""]);
        assert_eq!(js(&mut rt, strs, ValKind::Ref), "[\"a\",\"b\\\"\"]");
        let nested = rt.heap.alloc_array(ValKind::Ref, vec![arr, empty, Value::NULL]);
        assert_eq!(js(&mut rt, nested, ValKind::Ref), "[[1,2,3],[],null]");
        let floats = rt
            .heap
            .alloc_array(ValKind::Float, vec![f(0.5), f(f64::INFINITY)]);
        assert_eq!(js(&mut rt, floats, ValKind::Ref), "[0.5,null]");

        let m = rt.heap.alloc_map(ValKind::Ref, ValKind::Ref);
        let (ka, kb) = (s(&mut rt, "a"), s(&mut rt, "b"));
        // SAFETY: `m` is a live map of this test's heap.
        unsafe { as_map_mut(m) }
            .entries
            .insert(unsafe { MapKey::new(ka, ValKind::Ref) }, arr);
        // SAFETY: `m` is a live map of this test's heap.
        unsafe { as_map_mut(m) }
            .entries
            .insert(unsafe { MapKey::new(kb, ValKind::Ref) }, strs);
        assert_eq!(
            js(&mut rt, m, ValKind::Ref),
            "{\"a\":[1,2,3],\"b\":[\"a\",\"b\\\"\"]}"
        );
        let im = rt.heap.alloc_map(ValKind::Int, ValKind::Bool);
        // SAFETY: `im` is a live map of this test's heap.
        unsafe { as_map_mut(im) }
            .entries
            .insert(unsafe { MapKey::new(i(2), ValKind::Int) }, Value::bool(true));
        // SAFETY: `im` is a live map of this test's heap.
        unsafe { as_map_mut(im) }
            .entries
            .insert(unsafe { MapKey::new(i(-1), ValKind::Int) }, Value::bool(false));
        assert_eq!(js(&mut rt, im, ValKind::Ref), "{\"2\":true,\"-1\":false}");
        let fm = rt.heap.alloc_map(ValKind::Float, ValKind::Int);
        // SAFETY: `fm` is a live map of this test's heap.
        unsafe { as_map_mut(fm) }
            .entries
            .insert(unsafe { MapKey::new(f(1.5), ValKind::Float) }, i(1));
        assert_eq!(js(&mut rt, fm, ValKind::Ref), "{\"1.5\":1}");

        let name = s(&mut rt, "x");
        let t = rt.heap.alloc_tuple(&[ValKind::Int, ValKind::Ref], &[i(1), name]);
        assert_eq!(js(&mut rt, t, ValKind::Ref), "[1,\"x\"]");
    }

    #[test]
    fn structs_use_field_names() {
        let mut rt = rt();
        set_layouts(vec![Layout {
            name: "P".into(),
            fields: vec![
                ("x".into(), ValKind::Int),
                ("tag".into(), ValKind::Ref),
                ("w".into(), ValKind::Float),
            ],
            is_class: false,
        }]);
        let tag = s(&mut rt, "t");
        let p = rt.heap.alloc_struct(0, false, vec![i(3), tag, f(0.25)]);
        assert_eq!(js(&mut rt, p, ValKind::Ref), "{\"x\":3,\"tag\":\"t\",\"w\":0.25}");
        set_layouts(vec![]);
    }

    #[test]
    fn self_containing_array_is_an_error() {
        let mut rt = rt();
        let a = rt.heap.alloc_array(ValKind::Ref, vec![]);
        // SAFETY: `a` is a live array of this test's heap.
        unsafe { as_array_mut(a) }.push(a);
        let msg = err(&mut rt, "json_stringify", &[a, i(ValKind::Ref as i64)]);
        assert_eq!(msg, "json_stringify: a container contains itself");
    }
}
