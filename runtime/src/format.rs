//! Text conversion of values: `%g` floats (LANGUAGE.md §8.3) and `to_str` / `print`
//! formatting of every kind, including containers (§16).

use crate::heap::{
    as_array, as_closure, as_map, as_struct, as_tuple, obj_kind, path_mark, set_path_mark, str_bytes,
    with_layout, ObjKind,
};
use crate::value::{ValKind, Value};
use std::io::Write;

/// C `printf("%g", v)`: 6 significant digits, trailing zeros removed, exponent form
/// outside `1e-4 <= |v| < 1e6` (after rounding).
pub fn fmt_g(v: f64) -> String {
    let mut s = String::new();
    write_g(&mut s, v);
    s
}

/// Append the `%g` text of `v` to `out`.
pub fn write_g(out: &mut String, v: f64) {
    let mut buf = [0u8; G_MAX];
    let n = g_bytes(v, &mut buf);
    // The text is ASCII.
    out.push_str(std::str::from_utf8(&buf[..n]).unwrap_or_default());
}

/// The longest `%g` text: a sign, 6 digits, a point, `e-308`.
pub const G_MAX: usize = 16;

/// Write the `%g` text of `v` to `out`; its length.
///
/// C defines `%g` by the exponent `X` of the `%e` form of precision 5: fixed
/// notation with `5 - X` decimals if `-4 <= X < 6`, else that `%e` form, then
/// trailing zeros go. Both notations show the same 6 significant digits, `v`
/// correctly rounded to 6 digits ([`six_digits`]), which are placed here with
/// no allocation.
pub fn g_bytes(v: f64, out: &mut [u8; G_MAX]) -> usize {
    let special: Option<&[u8]> = if v.is_nan() {
        // Without its sign: IEEE 754 leaves the sign of a NaN result
        // unspecified, and compilers use that (Cranelift and LLVM both
        // commute the operands of `+` and `*`, and with two NaN operands the
        // result is the first one's), so no sign could be the same in every
        // tier and on every machine. Python prints `nan` too.
        Some(b"nan")
    } else if v.is_infinite() {
        Some(if v < 0.0 { b"-inf" } else { b"inf" })
    } else if v == 0.0 {
        Some(if v.is_sign_negative() { b"-0" } else { b"0" })
    } else {
        None
    };
    if let Some(text) = special {
        out[..text.len()].copy_from_slice(text);
        return text.len();
    }
    let (digits, mut nd, exp) = six_digits(v.abs());
    // Trailing zeros of the significant digits never show.
    while nd > 1 && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    let digits = &digits[..nd];
    let mut n = 0;
    let mut put = |out: &mut [u8; G_MAX], c: u8| {
        out[n] = c;
        n += 1;
    };
    if v < 0.0 {
        put(out, b'-');
    }
    if (-4..6).contains(&exp) {
        if exp < 0 {
            put(out, b'0');
            put(out, b'.');
            for _ in 0..(-exp - 1) {
                put(out, b'0');
            }
            digits.iter().for_each(|&d| put(out, d));
        } else {
            let int_digits = exp as usize + 1;
            for i in 0..int_digits {
                put(out, digits.get(i).copied().unwrap_or(b'0'));
            }
            if digits.len() > int_digits {
                put(out, b'.');
                digits[int_digits..].iter().for_each(|&d| put(out, d));
            }
        }
    } else {
        put(out, digits[0]);
        if digits.len() > 1 {
            put(out, b'.');
            digits[1..].iter().for_each(|&d| put(out, d));
        }
        put(out, b'e');
        put(out, if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a >= 100 {
            put(out, b'0' + (a / 100) as u8);
        }
        put(out, b'0' + (a / 10 % 10) as u8);
        put(out, b'0' + (a % 10) as u8);
    }
    n
}

/// The significant digits of a finite positive `v` correctly rounded to 6
/// (ASCII; how many, at most 6: fewer when `v` has fewer), and the decimal
/// exponent of the rounded value (`d.ddddd × 10^exp`).
///
/// From the shortest text that reads back as `v` (zmij): if it has at most 6
/// digits it is the rounded value itself (it is within half a unit in the last
/// place of `v`, far less than half a step of 6 digits). Longer, its 7th digit
/// and what follows decide the rounding as the exact value's would: the
/// midpoint between two 6-digit neighbours is a 7-digit number, and it is not
/// between `v` and its shortest text unless it is that text (a shorter or
/// closer candidate would have been chosen). Only that tie, a shortest text of
/// 7 digits ending in 5, is decided by the exact expansion (Rust's `{:.5e}`),
/// and so are subnormals, whose half unit is not small.
/// Floats in f-strings: 184 -> 77 ms for 600 k (LuaJIT 64).
fn six_digits(v: f64) -> ([u8; 6], usize, i32) {
    if let Some(fast) = six_digits_scaled(v) {
        return fast;
    }
    if v < f64::MIN_POSITIVE {
        // A subnormal has too few bits for the argument above (`5e-324` reads
        // back as the least one, 4.94066e-324).
        return exact_six_digits(v);
    }
    let mut buf = zmij::Buffer::new();
    let text = buf.format_finite(v).as_bytes();
    let (mantissa, e10) = split_exponent(text);
    let int_len = mantissa.iter().position(|&c| c == b'.').unwrap_or(mantissa.len()) as i32;
    let all = mantissa.iter().filter(|c| c.is_ascii_digit());
    let zeros = all.clone().take_while(|&&c| c == b'0').count();
    let mut sig = [0u8; 24];
    let mut len = 0;
    for &c in all.skip(zeros) {
        if len < sig.len() {
            sig[len] = c;
            len += 1;
        }
    }
    while len > 1 && sig[len - 1] == b'0' {
        len -= 1;
    }
    let mut exp = int_len - 1 - zeros as i32 + e10;
    let mut digits = [b'0'; 6];
    if len <= 6 {
        digits[..len].copy_from_slice(&sig[..len]);
        return (digits, len.max(1), exp);
    }
    digits.copy_from_slice(&sig[..6]);
    let up = match sig[6] {
        b'5' if len == 7 => match above_decimal(v, &sig[..7], exp - 6) {
            Some(up) => up,
            None => return exact_six_digits(v),
        },
        d => d >= b'5',
    };
    if up {
        let mut i = 6;
        loop {
            if i == 0 {
                // 999999 + 1: one digit more in front.
                digits = *b"100000";
                exp += 1;
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    (digits, 6, exp)
}

/// Powers of ten exact in an `f64`.
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
];

/// [`six_digits`] of a normal positive `v` by one multiplication, when that
/// decides: `s = v × 10^k` (or `v / 10^-k`) scaled into `[10^5, 10^6)`, with
/// `10^|k|` exact (`|k| <= 22`: `v` from about `1e-17` to `1e27`), is `v`'s
/// exact scaled value rounded once, so within half a unit in its last place
/// (`2^-33` below `2^20`). The 6 digits are `s` rounded to an integer unless
/// its fraction is within `2^-30` of one half, where the rounding of the
/// product could have crossed the midpoint: `None` then, and for every `v`
/// out of range (the shortest text decides those). Four in five of the
/// formatting benchmark's floats took 40 ns through the shortest text.
fn six_digits_scaled(v: f64) -> Option<([u8; 6], usize, i32)> {
    if !(f64::MIN_POSITIVE..f64::INFINITY).contains(&v) {
        return None;
    }
    let scaled = |e: i32| {
        let k = 5 - e;
        let p = *EXACT_POW10.get(k.unsigned_abs() as usize)?;
        Some(if k >= 0 { v * p } else { v / p })
    };
    // `floor(e2 × log10(2))` for the binary exponent `e2` (in integers, exact
    // for |e2| < 1650): the decimal exponent, or one less.
    let e2 = ((v.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let mut e = (e2 * 1_262_611) >> 22;
    let mut s = scaled(e)?;
    if s >= 1e6 {
        e += 1;
        s = scaled(e)?;
    }
    if !(1e5..1e6).contains(&s) {
        return None;
    }
    // (Truncation is the floor of a positive number, and needs no call.)
    let whole = s as u32;
    let frac = s - f64::from(whole);
    if (frac - 0.5).abs() <= 1.0 / (1u64 << 30) as f64 {
        return None;
    }
    let mut n = whole + u32::from(frac > 0.5);
    if n == 1_000_000 {
        n = 100_000;
        e += 1;
    }
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    Some((digits, 6, e))
}

/// Whether `v` is above the decimal `digits × 10^k` (ASCII digits, at most
/// 7: an integer `D` exact in an `f64`), which is the text that reads back as
/// `v`, so within an ulp of it; `None` when they are equal or this cannot
/// tell exactly. For `k < 0`: `p = v · 10^-k` rounded and its error `e =
/// fma(v, 10^-k, -p)` are exact when `10^-k` is (up to `10^22`); `p - D` is
/// exact (Sterbenz: `p` is within a factor 2 of `D`), and a rounded sum has
/// the sign of the exact one, so `(p - D) + e` has the sign of `v · 10^-k - D`.
/// For `k >= 0`: `D · 10^k` compared as an integer, when exact.
fn above_decimal(v: f64, digits: &[u8], k: i32) -> Option<bool> {
    let d = digits.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0')) as f64;
    let scale = *EXACT_POW10.get(k.unsigned_abs() as usize)?;
    let sign = if k < 0 {
        let p = v * scale;
        let e = v.mul_add(scale, -p);
        (p - d) + e
    } else {
        let n = d * scale;
        if n >= (1u64 << 53) as f64 {
            return None;
        }
        v - n
    };
    if sign == 0.0 {
        None
    } else {
        Some(sign > 0.0)
    }
}

/// [`six_digits`] from the exact decimal expansion of `v` (Rust's `{:.5e}`).
fn exact_six_digits(v: f64) -> ([u8; 6], usize, i32) {
    let mut e_form = [0u8; 24];
    let e_len = {
        let mut w = &mut e_form[..];
        // Writing `d.ddddde-308` to a slice of enough room cannot fail.
        let _ = write!(w, "{:.5e}", v);
        24 - w.len()
    };
    let (mantissa, exp) = split_exponent(&e_form[..e_len]);
    let mut digits = [b'0'; 6];
    for (d, &c) in digits
        .iter_mut()
        .zip(mantissa.iter().filter(|c| c.is_ascii_digit()))
    {
        *d = c;
    }
    (digits, 6, exp)
}

/// A number's text split at its `e`: the mantissa and the exponent (0 when
/// there is none).
fn split_exponent(text: &[u8]) -> (&[u8], i32) {
    match text.iter().position(|&c| c == b'e') {
        Some(at) => {
            let exp = std::str::from_utf8(&text[at + 1..])
                .ok()
                .and_then(|t| t.parse().ok());
            (&text[..at], exp.unwrap_or(0))
        }
        None => (text, 0),
    }
}

/// Longest text that printing or `to_str` (or `json_stringify`) of one value may
/// produce: the longest string (builtins/string.rs). Past it the conversion fails
/// with `result too large` instead of exhausting memory: a value whose parts are
/// shared many times over (a chain of diamonds, 60 deep) has an exponentially long
/// text although the value graph is small.
pub const MAX_TEXT_LEN: usize = crate::limits::MAX_STR_LEN;

/// Why a value could not be written as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The text would pass [`MAX_TEXT_LEN`].
    TooLarge,
    /// JSON only: a container contains itself (JSON has no notation for that).
    Cycle,
}

impl WriteError {
    pub fn message(self) -> &'static str {
        match self {
            // The same cap and message as every other string result.
            WriteError::TooLarge => crate::limits::STR_TOO_LARGE,
            WriteError::Cycle => "a container contains itself",
        }
    }
}

/// Append the `to_str` text of a value of kind `kind` (strings raw at top level).
///
/// # Shared and cyclic values
/// * A container met again **on the current path** (one that contains itself,
///   directly or through others) prints as `...` there: `xs.push(xs)` prints
///   `[1, ...]`, the middle node of a doubly linked list prints its neighbours once
///   and `...` where they point back.
/// * A container shared but not cyclic (the same struct in two fields) prints in
///   full each time it appears, as it would in Python or JavaScript: the text is what
///   the value *is*, whatever the sharing. The work is linear in the length of the
///   text, and the text is capped at [`MAX_TEXT_LEN`] (`result too large`), which
///   bounds the exponential case of deeply nested sharing.
/// * There is no nesting limit and no native recursion: the containers being written
///   are kept on an explicit stack, so a 2,000,000-node list prints in linear time.
///
/// On an error, `out` keeps what was written so far (callers drop it).
///
/// # Safety
/// `v` must be a value of kind `kind`: when that is `Ref`, null or a live object,
/// not bits forged from an int (everything it reaches is then live too, read by
/// the element kinds its containers record).
pub unsafe fn write_value(out: &mut Vec<u8>, v: Value, kind: ValKind) -> Result<(), WriteError> {
    write_graph(out, v, kind, Style::Text, MAX_TEXT_LEN)
}

/// The `to_str` text of a value as a new byte vector.
///
/// # Safety
/// As [`write_value`].
pub unsafe fn value_to_bytes(v: Value, kind: ValKind) -> Result<Vec<u8>, WriteError> {
    let mut out = Vec::new();
    write_value(&mut out, v, kind)?;
    Ok(out)
}

/// Function names for printing function values (`<fn name>`); set at program load.
pub fn set_function_names(names: Vec<String>) {
    FUNC_NAMES.with(|f| *f.borrow_mut() = names);
}

thread_local! {
    static FUNC_NAMES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The notation [`write_graph`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `print` / `to_str` text (LANGUAGE.md §16).
    Text,
    /// Compact JSON (`json_stringify`, docs/stdlib.md).
    Json,
}

/// A container being written: its children `next..` are still to come.
struct Frame {
    v: Value,
    kind: ObjKind,
    /// Whether a child was written (a separator goes before the next one).
    wrote_child: bool,
    next: usize,
}

/// The explicit-stack walk over a value graph behind [`write_value`] and
/// `json_stringify`. Its unsafe methods take values reached from the value
/// [`write_graph`] was given, which its contract makes live; every frame on
/// `stack` holds a live container entered by [`Walk::enter`].
struct Walk {
    style: Style,
    /// The containers being written, outermost first. Each is flagged with
    /// [`set_path_mark`] while it is here, which makes the back-reference test O(1)
    /// without a hash set (one costs a cache miss per container on a long list).
    stack: Vec<Frame>,
    /// Where the text of this value started in `out`, and how long it may grow.
    start: usize,
    limit: usize,
}

/// Append the text of `v` in `style`, without native recursion (see [`write_value`]).
///
/// # Safety
/// As [`write_value`]. The walk allocates no objects and reaches no safepoint, so
/// what is live at the start stays live.
pub unsafe fn write_graph(
    out: &mut Vec<u8>,
    v: Value,
    kind: ValKind,
    style: Style,
    limit: usize,
) -> Result<(), WriteError> {
    let mut w = Walk {
        style,
        stack: Vec::new(),
        start: out.len(),
        limit,
    };
    if !w.leaf(out, v, kind, false)? {
        w.enter(out, v);
    }
    while let Some(top) = w.stack.last_mut() {
        let i = top.next;
        top.next += 1;
        match child_at(top.v, top.kind, i) {
            Slot::End => w.leave(out),
            Slot::Deleted => {}
            Slot::Item(x, k, label) => {
                let first = !std::mem::replace(&mut top.wrote_child, true);
                w.check_size(out, 0)?;
                w.label(out, first, label)?;
                if !w.leaf(out, x, k, true)? {
                    if w.on_path(x) {
                        w.back_reference(out)?;
                    } else {
                        w.enter(out, x);
                    }
                }
            }
        }
    }
    w.check_size(out, 0)
}

/// What comes before a child: nothing, a struct field name or a map key.
enum Label {
    None,
    Field(u32, usize),
    Key(Value, ValKind),
}

/// Position `i` of a container.
enum Slot {
    Item(Value, ValKind, Label),
    /// A deleted map entry.
    Deleted,
    End,
}

/// # Safety
/// `v` is a live container of kind `kind`.
unsafe fn child_at(v: Value, kind: ObjKind, i: usize) -> Slot {
    match kind {
        ObjKind::Array => {
            let a = as_array(v);
            a.get(i).map_or(Slot::End, |x| Slot::Item(x, a.elem, Label::None))
        }
        ObjKind::Tuple => {
            let t = as_tuple(v);
            match (t.items.get(i), t.kinds.get(i)) {
                (Some(x), Some(k)) => Slot::Item(*x, *k, Label::None),
                _ => Slot::End,
            }
        }
        ObjKind::Struct | ObjKind::Class => {
            let s = as_struct(v);
            match s.fields.get(i) {
                Some(x) => {
                    let k = with_layout(s.layout, |l| l.fields.get(i).map_or(ValKind::Int, |f| f.1));
                    Slot::Item(*x, k, Label::Field(s.layout, i))
                }
                None => Slot::End,
            }
        }
        ObjKind::Map => {
            let m = as_map(v);
            if i >= m.entries.slot_count() {
                return Slot::End;
            }
            match m.entries.slot(i) {
                Some((k, x)) => Slot::Item(*x, m.val, Label::Key(k.bits(), m.key)),
                None => Slot::Deleted,
            }
        }
        _ => Slot::End,
    }
}

impl Drop for Walk {
    /// Unflag the containers still on the path (the walk stopped early: an error or
    /// a panic), so that the collector finds every mark clear.
    fn drop(&mut self) {
        for f in &self.stack {
            // SAFETY: a frame's value is a live container the walk entered.
            unsafe { set_path_mark(f.v, false) };
        }
    }
}

impl Walk {
    fn check_size(&self, out: &[u8], more: usize) -> Result<(), WriteError> {
        if (out.len() - self.start).saturating_add(more) > self.limit {
            Err(WriteError::TooLarge)
        } else {
            Ok(())
        }
    }

    /// Whether container `v` is on the current path.
    ///
    /// # Safety
    /// `v` is a live container.
    unsafe fn on_path(&self, v: Value) -> bool {
        path_mark(v)
    }

    /// Write the opening of container `v` and push its frame.
    ///
    /// # Safety
    /// `v` is a live container.
    unsafe fn enter(&mut self, out: &mut Vec<u8>, v: Value) {
        let kind = obj_kind(v);
        let json = self.style == Style::Json;
        match kind {
            ObjKind::Array | ObjKind::Tuple if json => out.push(b'['),
            ObjKind::Array => out.push(b'['),
            ObjKind::Tuple => out.push(b'('),
            ObjKind::Struct | ObjKind::Class if !json => {
                with_layout(as_struct(v).layout, |l| out.extend_from_slice(l.name.as_bytes()));
                out.push(b'{');
            }
            _ => out.push(b'{'),
        }
        // SAFETY: `v` is a non-null container the walk reached: live.
        unsafe { set_path_mark(v, true) };
        self.stack.push(Frame {
            v,
            kind,
            wrote_child: false,
            next: 0,
        });
    }

    /// Write the closing of the innermost container and pop its frame.
    fn leave(&mut self, out: &mut Vec<u8>) {
        let Some(f) = self.stack.pop() else { return };
        // SAFETY (both blocks): a frame's value is a live container the walk
        // entered, of the frame's kind.
        unsafe { set_path_mark(f.v, false) };
        match f.kind {
            ObjKind::Array => out.push(b']'),
            ObjKind::Tuple if self.style == Style::Json => out.push(b']'),
            // A one-element tuple keeps its comma: `(1,)`.
            ObjKind::Tuple if unsafe { as_tuple(f.v) }.items.len() == 1 => out.extend_from_slice(b",)"),
            ObjKind::Tuple => out.push(b')'),
            _ => out.push(b'}'),
        }
    }

    /// A container met again on the current path.
    fn back_reference(&self, out: &mut Vec<u8>) -> Result<(), WriteError> {
        match self.style {
            Style::Text => {
                out.extend_from_slice(b"...");
                Ok(())
            }
            Style::Json => Err(WriteError::Cycle),
        }
    }

    /// The separator and the field name or map key before a child.
    ///
    /// # Safety
    /// A `Label::Key` holds a live value of its kind (a key of a live map).
    unsafe fn label(&mut self, out: &mut Vec<u8>, first: bool, label: Label) -> Result<(), WriteError> {
        let json = self.style == Style::Json;
        if !first {
            out.extend_from_slice(if json { b"," } else { b", " });
        }
        let colon: &[u8] = if json { b":" } else { b": " };
        match label {
            Label::None => return Ok(()),
            Label::Field(layout, i) => with_layout(layout, |l| {
                let numbered;
                let name = match l.fields.get(i) {
                    Some((name, _)) => name.as_bytes(),
                    None => {
                        numbered = format!("_{i}");
                        numbered.as_bytes()
                    }
                };
                if json {
                    write_quoted_as(out, name, Quoting::Json);
                } else {
                    out.extend_from_slice(name);
                }
            }),
            Label::Key(k, kind) if json => {
                // JSON keys are strings: a non-string key is its `to_str` text.
                if kind == ValKind::Ref && !k.is_null() && obj_kind(k) == ObjKind::Str {
                    self.check_size(out, str_bytes(k).len())?;
                    write_quoted_as(out, str_bytes(k), Quoting::Json);
                } else {
                    let text = value_to_bytes(k, kind)?;
                    self.check_size(out, text.len())?;
                    write_quoted_as(out, &text, Quoting::Json);
                }
            }
            // Map keys are scalars or strings (the checker), so this never walks a
            // container; if it did, it would be a separate walk with its own stack.
            Label::Key(k, kind) => {
                if !self.leaf(out, k, kind, true)? {
                    let text = value_to_bytes(k, kind)?;
                    self.check_size(out, text.len())?;
                    out.extend_from_slice(&text);
                }
            }
        }
        out.extend_from_slice(colon);
        Ok(())
    }

    /// Write `v` if it is not a container to walk into (false: it is one). `nested`:
    /// inside a container, where text strings are quoted.
    ///
    /// # Safety
    /// `v` is a value of kind `kind`, live if a reference.
    unsafe fn leaf(
        &self,
        out: &mut Vec<u8>,
        v: Value,
        kind: ValKind,
        nested: bool,
    ) -> Result<bool, WriteError> {
        let json = self.style == Style::Json;
        match kind {
            ValKind::Int => {
                // Writing to a `Vec` cannot fail.
                let _ = write!(out, "{}", v.as_int());
            }
            ValKind::Float if json && !v.as_float().is_finite() => out.extend_from_slice(b"null"),
            ValKind::Float => {
                let mut g = [0u8; G_MAX];
                let n = g_bytes(v.as_float(), &mut g);
                out.extend_from_slice(&g[..n]);
            }
            ValKind::Bool => out.extend_from_slice(if v.as_bool() { b"true" } else { b"false" }),
            ValKind::Ref if v.is_null() => out.extend_from_slice(b"null"),
            ValKind::Ref => match obj_kind(v) {
                ObjKind::Str => {
                    let s = str_bytes(v);
                    self.check_size(out, s.len())?;
                    match (json, nested) {
                        (true, _) => write_quoted_as(out, s, Quoting::Json),
                        (false, true) => write_quoted(out, s),
                        (false, false) => out.extend_from_slice(s),
                    }
                    self.check_size(out, 0)?;
                }
                ObjKind::Closure | ObjKind::Opaque if json => out.extend_from_slice(b"null"),
                ObjKind::Closure => {
                    let c = as_closure(v);
                    FUNC_NAMES.with(|f| {
                        let f = f.borrow();
                        let name = f.get(c.func as usize).map(String::as_str).unwrap_or("lambda");
                        out.extend_from_slice(format!("<fn {name}>").as_bytes());
                    });
                }
                ObjKind::Opaque => out.extend_from_slice(b"<ptr>"),
                ObjKind::Array | ObjKind::Map | ObjKind::Tuple | ObjKind::Struct | ObjKind::Class => {
                    return Ok(false)
                }
            },
        }
        Ok(true)
    }
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
    use super::{fmt_g, write_graph, write_quoted_as, write_value, Quoting, Style, WriteError};
    use crate::heap::{as_array, as_array_mut, path_mark, set_layouts, Heap, Layout};
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read.

    fn text(v: Value) -> String {
        let mut out = Vec::new();
        unsafe { write_value(&mut out, v, ValKind::Ref) }.expect("small text");
        String::from_utf8(out).expect("ascii")
    }

    /// `Node{v: int, prev: [Node], next: [Node]}` (layout 0).
    fn node_layout() {
        set_layouts(vec![Layout {
            name: "Node".into(),
            fields: vec![
                ("v".into(), ValKind::Int),
                ("prev".into(), ValKind::Ref),
                ("next".into(), ValKind::Ref),
            ],
            is_class: false,
        }]);
    }

    /// A node and its (empty) `prev` and `next` arrays.
    fn node(h: &mut Heap, v: i64) -> (Value, Value, Value) {
        let prev = h.alloc_array(ValKind::Ref, vec![]);
        let next = h.alloc_array(ValKind::Ref, vec![]);
        let n = h.alloc_struct(0, false, vec![Value::int(v), prev, next]);
        (n, prev, next)
    }

    #[test]
    fn back_references_print_as_dots() {
        node_layout();
        let mut h = Heap::new(false);
        let (a, _, a_next) = node(&mut h, 1);
        let (m, m_prev, m_next) = node(&mut h, 2);
        let (c, c_prev, _) = node(&mut h, 3);
        // SAFETY: `a_next` is a live array of this test's heap.
        unsafe { as_array_mut(a_next) }.push(m);
        // SAFETY: `m_prev` is a live array of this test's heap.
        unsafe { as_array_mut(m_prev) }.push(a);
        // SAFETY: `m_next` is a live array of this test's heap.
        unsafe { as_array_mut(m_next) }.push(c);
        // SAFETY: `c_prev` is a live array of this test's heap.
        unsafe { as_array_mut(c_prev) }.push(m);
        assert_eq!(
            text(m),
            "Node{v: 2, prev: [Node{v: 1, prev: [], next: [...]}], next: [Node{v: 3, prev: [...], next: []}]}"
        );
        let own = h.alloc_array(ValKind::Ref, vec![]);
        // SAFETY: `own` is a live array of this test's heap.
        unsafe { as_array_mut(own) }.push(own);
        assert_eq!(text(own), "[...]");
        // Shared but not cyclic: in full each time.
        let shared = h.alloc_array(ValKind::Int, vec![Value::int(7)]);
        let twice = h.alloc_array(ValKind::Ref, vec![shared, shared]);
        assert_eq!(text(twice), "[[7], [7]]");
        for v in [a, m, c, own, shared, twice] {
            // SAFETY: `v` is a live object of this test's heap.
            assert!(!unsafe { path_mark(v) }, "a path flag was left set");
        }
    }

    #[test]
    fn long_nesting_prints_without_native_recursion() {
        let t = std::thread::Builder::new().stack_size(256 << 10).spawn(|| {
            let mut h = Heap::new(false);
            let mut v = h.alloc_array(ValKind::Int, vec![Value::int(0)]);
            let n = 200_000;
            for _ in 0..n {
                v = h.alloc_array(ValKind::Ref, vec![v]);
            }
            let s = text(v);
            assert_eq!(s, format!("{}0{}", "[".repeat(n + 1), "]".repeat(n + 1)));
            let mut json = Vec::new();
            unsafe { write_graph(&mut json, v, ValKind::Ref, Style::Json, usize::MAX) }.expect("no cycle");
            assert_eq!(json.len(), s.len());
        });
        t.expect("spawn").join().expect("the walk finished");
    }

    #[test]
    fn text_of_exponential_sharing_is_capped() {
        // 60 levels of diamonds: 2^60 leaves in the text, 61 arrays in the graph.
        let mut h = Heap::new(false);
        let leaf = h.alloc_array(ValKind::Int, vec![Value::int(1)]);
        let mut v = leaf;
        let mut levels = vec![];
        for _ in 0..60 {
            v = h.alloc_array(ValKind::Ref, vec![v, v]);
            levels.push(v);
        }
        let mut out = b"kept".to_vec();
        assert_eq!(
            unsafe { write_graph(&mut out, v, ValKind::Ref, Style::Text, 1 << 16) },
            Err(WriteError::TooLarge)
        );
        assert!(out.starts_with(b"kept[[[[") && out.len() <= 4 + (1 << 16) + 16);
        assert!(
            // SAFETY: `l` is a live object of this test's heap.
            levels.iter().all(|&l| !unsafe { path_mark(l) }),
            "flags cleared after an error"
        );
        // The flags being clear, a later walk sees no false back-references.
        assert_eq!(text(unsafe { as_array(levels[1]) }.to_vec()[0]), "[[1], [1]]");
    }

    #[test]
    fn json_rejects_a_cycle_and_clears_its_flags() {
        let mut h = Heap::new(false);
        let inner = h.alloc_array(ValKind::Ref, vec![]);
        let outer = h.alloc_array(ValKind::Ref, vec![inner]);
        // SAFETY: `inner` is a live array of this test's heap.
        unsafe { as_array_mut(inner) }.push(outer);
        let mut out = Vec::new();
        let r = unsafe { write_graph(&mut out, outer, ValKind::Ref, Style::Json, usize::MAX) };
        assert_eq!(r, Err(WriteError::Cycle));
        // SAFETY: `inner` is a live object, `outer` is a live object of this test's heap.
        assert!(!unsafe { path_mark(inner) } && !unsafe { path_mark(outer) });
        assert_eq!(text(outer), "[[...]]");
    }

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
            (-f64::NAN, "nan"),
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

    /// The 6 digits from the shortest text are those of the exact expansion:
    /// on random bit patterns over the whole range (subnormals included), on
    /// decimal texts of 6 to 9 digits (whose shortest text is often 7 digits
    /// ending in 5, a tie), and on their neighbours one unit in the last place
    /// away.
    #[test]
    fn six_digits_from_the_shortest_text_are_the_exact_ones() {
        use super::{exact_six_digits, six_digits};
        let strip = |(d, n, e): ([u8; 6], usize, i32)| {
            let mut n = n;
            while n > 1 && d[n - 1] == b'0' {
                n -= 1;
            }
            (d[..n].to_vec(), e)
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut values = Vec::new();
        for _ in 0..200_000 {
            let v = f64::from_bits(next() >> 1);
            if v.is_finite() && v > 0.0 {
                values.push(v);
            }
        }
        for _ in 0..100_000 {
            let digits = next() % 1_000_000_000;
            let exp = (next() % 40) as i32 - 20;
            let v: f64 = format!("{digits}e{exp}").parse().expect("a float");
            if v > 0.0 {
                values.extend([
                    v,
                    f64::from_bits(v.to_bits() + 1),
                    f64::from_bits(v.to_bits() - 1),
                ]);
            }
        }
        // Shortest texts of 7 digits ending in 5 (the ties), at every scale.
        for _ in 0..100_000 {
            let tie = (next() % 900_000 + 100_000) * 10 + 5;
            let exp = (next() % 60) as i32 - 30;
            let v: f64 = format!("{tie}e{exp}").parse().expect("a float");
            values.extend([
                v,
                f64::from_bits(v.to_bits() + 1),
                f64::from_bits(v.to_bits() - 1),
            ]);
        }
        // Products like the benchmarks' `i * 0.37`: many 7-digit ties, decided
        // by `above_decimal` (also at large and small scales).
        for i in 1..300_000 {
            let v = i as f64 * 0.37;
            values.extend([v, v * 1e-9, v * 1e12, v * 1e-21]);
        }
        for v in values {
            assert_eq!(strip(six_digits(v)), strip(exact_six_digits(v)), "{v:e}");
        }
    }
}
