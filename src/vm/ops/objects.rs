//! Strings, output, arrays, maps, tuples, structs and closures.
//!
//! These helpers take and return plain [`Value`]s; the dispatch loop reads the
//! operand registers, calls them, writes the result register and then reaches a
//! safepoint if the helper allocated. Errors are static message texts that the loop
//! raises as runtime errors.
//!
//! A helper that reads an object through a `Value` is an `unsafe fn` (a value can
//! be forged from an int; docs/architecture.md, "Forged values"): its contract is
//! that each operand holds what the verifier's register types say it holds, null
//! or a live object of that kind. Helpers that only store values (`new_array`,
//! `new_tuple`, ...) are safe.

use crate::bytecode::{CallSite, Program};
use bp_runtime::format::{write_value, WriteError};
use bp_runtime::heap::{
    as_array, as_array_mut, as_closure, as_map, as_map_mut, as_struct, as_struct_mut, as_tuple, obj_kind,
    str_bytes, Heap, MapKey, ObjKind,
};
use bp_runtime::limits::{self, LimitError};
use bp_runtime::value::{ValKind, Value};

pub const NULL_REF: &str = "null reference";
pub const INDEX_OOB: &str = "array index out of bounds";
pub const KEY_NOT_FOUND: &str = "key not found in map";

/// At most this many bytes of a missing key are quoted in the error message.
const SHOWN_KEY_BYTES: usize = 60;

/// The message of a failed element access, with the values that matter (as Python
/// shows them): `array index out of bounds: index 5, length 3`, `key not found in
/// map: "bob"`. `basic` is the helper's error; any other error (a null base) is
/// returned as it is. Called only on the error path.
///
/// # Safety
/// `base` must be the array or map the access read (null or a live object of that
/// kind) and `key` the index or a value of the map's key kind.
#[cold]
#[inline(never)]
pub unsafe fn access_error(base: Value, key: Value, basic: &'static str) -> String {
    if base.is_null() {
        return basic.to_string();
    }
    if basic == INDEX_OOB {
        // SAFETY: non-null, so a live array by the caller's contract.
        let len = unsafe { as_array(base) }.len();
        return format!("{INDEX_OOB}: index {}, length {len}", key.as_int());
    }
    if basic != KEY_NOT_FOUND {
        return basic.to_string();
    }
    // SAFETY: non-null, so a live map by the caller's contract.
    let kind = unsafe { as_map(base) }.key;
    let mut shown = Vec::new();
    // SAFETY: `key` is of the map's key kind (the caller's contract).
    let is_str = kind == ValKind::Ref && !key.is_null() && unsafe { obj_kind(key) } == ObjKind::Str;
    if is_str {
        // SAFETY: a live string (checked above).
        let bytes = unsafe { str_bytes(key) };
        bp_runtime::format::write_quoted(&mut shown, &bytes[..bytes.len().min(SHOWN_KEY_BYTES)]);
        if bytes.len() > SHOWN_KEY_BYTES {
            shown.extend_from_slice("…".as_bytes());
        }
    } else {
        // SAFETY: as above; a key is a scalar, a string or a tuple of them.
        let _ = unsafe { write_value(&mut shown, key, kind) };
        if shown.len() > SHOWN_KEY_BYTES {
            shown.truncate(SHOWN_KEY_BYTES);
            shown.extend_from_slice("…".as_bytes());
        }
    }
    format!("{KEY_NOT_FOUND}: {}", String::from_utf8_lossy(&shown))
}

/// Bytes accounted to the heap per map entry of room (see `Heap::note_growth`).
/// A map is accounted when it grows, by its new room, so that filling room it
/// already has (compiled code's `m[k] = v` leaf, [`map_store`]) needs no heap.
const MAP_ENTRY_BYTES: usize = 32;

/// Index `i` into a sequence of `len` items; negative indices count from the end.
#[inline(always)]
pub fn index(i: i64, len: usize) -> Option<usize> {
    let j = if i < 0 { i.wrapping_add(len as i64) } else { i };
    if (j as u64) < len as u64 {
        Some(j as usize)
    } else {
        None
    }
}

#[inline(always)]
fn non_null(v: Value) -> Result<Value, &'static str> {
    if v.is_null() {
        Err(NULL_REF)
    } else {
        Ok(v)
    }
}

// ----- strings and output -----

/// `a + b` on strings. The result is capped at `limits::MAX_STR_LEN` bytes and
/// allocated fallibly, like every string the runtime builds (the JIT calls this
/// same function through `rt_obj`).
///
/// # Safety
/// `a` and `b` must be null or live strings.
#[inline]
pub unsafe fn concat(heap: &mut Heap, a: Value, b: Value) -> Result<Value, &'static str> {
    let (a, y) = (non_null(a)?, str_bytes(non_null(b)?));
    heap.alloc_str_after(a, &[str_bytes(a), y])
        .map_err(LimitError::message)
}

/// Concatenation of `parts` (f-strings, chains of `+`), capped and allocated as
/// [`concat`], in one allocation. `kinds` is empty (every part a string) or gives
/// each part's kind: a string part is copied, any other is written as `to_str`
/// would write it (the compiler passes `to_str(n)` of an int as `n`).
///
/// # Safety
/// Every part must be a value of its kind: a string part null or a live string.
#[inline]
pub unsafe fn concat_n(heap: &mut Heap, parts: &[Value], kinds: &[ValKind]) -> Result<Value, &'static str> {
    let kind = |i: usize| kinds.get(i).copied().unwrap_or(ValKind::Ref);
    if parts.len() <= FEW_PARTS && (0..parts.len()).all(|i| matches!(kind(i), ValKind::Ref | ValKind::Int)) {
        let ints = (0..parts.len()).fold(0, |m, i| m | ((kind(i) == ValKind::Int) as u64) << i);
        return concat_few(heap, parts, ints, false);
    }
    // Text of the parts that are neither strings nor ints (the compiler passes none
    // today), written first so that the slices below can borrow it.
    let mut texts: Vec<Vec<u8>> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if !matches!(kind(i), ValKind::Ref | ValKind::Int) {
            let mut out = Vec::new();
            write_value(&mut out, *p, kind(i)).map_err(WriteError::message)?;
            texts.push(out);
        }
    }
    let mut texts = texts.iter();
    // The usual few parts are gathered on the stack, more in vectors.
    const FEW: usize = 8;
    let (mut few, mut few_digits) = ([&[][..]; FEW], [itoa::Buffer::new(); FEW]);
    let (mut many, mut many_digits) = (Vec::new(), Vec::new());
    let (bytes, digits): (&mut [&[u8]], &mut [itoa::Buffer]) = if parts.len() <= FEW {
        (&mut few[..parts.len()], &mut few_digits[..parts.len()])
    } else {
        many.resize(parts.len(), &[][..]);
        many_digits.resize(parts.len(), itoa::Buffer::new());
        (&mut many, &mut many_digits)
    };
    for (i, ((b, p), d)) in bytes.iter_mut().zip(parts).zip(digits.iter_mut()).enumerate() {
        *b = match kind(i) {
            ValKind::Ref => str_bytes(non_null(*p)?),
            ValKind::Int => d.format(p.as_int()).as_bytes(),
            _ => texts.next().map_or(&[][..], |t| &t[..]),
        };
    }
    heap.alloc_str_parts(bytes).map_err(LimitError::message)
}

/// Most parts [`concat_few`] takes.
pub const FEW_PARTS: usize = 4;

/// [`concat_n`] of at most [`FEW_PARTS`] strings and ints (`s + to_str(n) + ","`,
/// `"k" + to_str(i)`, short f-strings: nearly every concatenation), with
/// nothing on the stack but a digit buffer per part; the general path's
/// set-up was about as costly as the copying (callgrind). Part `i` is an int
/// if bit `i` of `int_mask` is set (compiled code passes its site's mask
/// as is), else a string. With `unshared_left` the first part is a string
/// that nothing but the destination refers to (compiled code's `s = s + t`,
/// `ObjOp::AppendN`): it is extended in place when its buffer allows, and is
/// then the result itself ([`Heap::append`]).
///
/// # Safety
/// As [`concat_n`]; at most [`FEW_PARTS`] parts. With `unshared_left`, the
/// first part is a string as [`Heap::append_in_place`] requires.
#[inline(always)]
pub unsafe fn concat_few(
    heap: &mut Heap,
    parts: &[Value],
    int_mask: u64,
    unshared_left: bool,
) -> Result<Value, &'static str> {
    let mut digits = [
        itoa::Buffer::new(),
        itoa::Buffer::new(),
        itoa::Buffer::new(),
        itoa::Buffer::new(),
    ];
    let mut bytes: [&[u8]; FEW_PARTS] = [&[]; FEW_PARTS];
    for (i, ((b, p), d)) in bytes.iter_mut().zip(parts).zip(digits.iter_mut()).enumerate() {
        *b = if int_mask >> i & 1 != 0 {
            d.format(p.as_int()).as_bytes()
        } else {
            str_bytes(non_null(*p)?)
        };
    }
    let bytes = &bytes[..parts.len().min(FEW_PARTS)];
    match parts.first() {
        // SAFETY: the caller's contract for `unshared_left`.
        Some(&first) if unshared_left && int_mask & 1 == 0 => heap.append(first, bytes),
        // A string on the left may be appended to in place (`s = s + t`).
        Some(&first) if int_mask & 1 == 0 => heap.alloc_str_after(first, bytes),
        _ => heap.alloc_str_parts(bytes),
    }
    .map_err(LimitError::message)
}

/// `to_str(v)` for a value of kind `kind`. A string converts to itself (strings are
/// immutable), so that case allocates nothing. A text longer than the string cap
/// is the error `result too large`.
///
/// # Safety
/// `v` must be a value of kind `kind`: when that is `Ref`, null or a live object.
#[inline]
pub unsafe fn to_str(heap: &mut Heap, v: Value, kind: ValKind) -> Result<Value, &'static str> {
    match kind {
        ValKind::Int => {
            let mut digits = itoa::Buffer::new();
            let text = digits.format(v.as_int());
            heap.alloc_str_parts(&[text.as_bytes()])
                .map_err(LimitError::message)
        }
        // Straight to the string, as for ints (no buffer, no graph walk).
        ValKind::Float => {
            let mut text = [0u8; bp_runtime::format::G_MAX];
            let n = bp_runtime::format::g_bytes(v.as_float(), &mut text);
            heap.alloc_str_parts(&[&text[..n]]).map_err(LimitError::message)
        }
        ValKind::Ref if !v.is_null() && obj_kind(v) == ObjKind::Str => Ok(v),
        _ => {
            let mut out = Vec::new();
            write_value(&mut out, v, kind).map_err(WriteError::message)?;
            Ok(heap.alloc_str(out))
        }
    }
}

/// `print(args...)`: the values separated by spaces, then a newline. `kinds` gives
/// the kind of each value; when it does not match `args` (the usual case: the
/// compiler converted everything to strings) every value is a string. On an error
/// (`result too large`) nothing of this call stays in `out`.
///
/// # Safety
/// Each value must be of its kind in `kinds` (a string when `kinds` does not
/// match): when that is `Ref`, null or a live object.
pub unsafe fn print(out: &mut Vec<u8>, args: &[Value], kinds: &[ValKind]) -> Result<(), &'static str> {
    let start = out.len();
    for (i, v) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let kind = if kinds.len() == args.len() {
            kinds[i]
        } else {
            ValKind::Ref
        };
        if let Err(e) = write_value(out, *v, kind) {
            out.truncate(start);
            return Err(e.message());
        }
    }
    out.push(b'\n');
    Ok(())
}

// ----- arrays -----

/// `arr[idx]` of an array of element kind `elem` (the instruction's: the
/// array's static type).
///
/// # Safety
/// `arr` must be null or a live array (a register the verifier types as an
/// array) whose element kind is `elem`: the type checker gives every array the
/// element kind of its static type, and `elem` says how its buffer is laid out
/// (bytes for `[bool]`), as in compiled code.
#[inline(always)]
pub unsafe fn arr_get(arr: Value, idx: Value, elem: u8) -> Result<Value, &'static str> {
    let a = as_array(non_null(arr)?);
    debug_assert_eq!(a.elem as u8, elem, "ArrGet's element kind");
    match index(idx.as_int(), a.len()) {
        // SAFETY: `index` returned an in-bounds position; the buffer holds
        // bytes exactly when `elem` is `bool` (the caller's contract).
        Some(i) => Ok(unsafe { a.get_unchecked_as(i, elem == ValKind::Bool as u8) }),
        None => Err(INDEX_OOB),
    }
}

/// `arr[idx] = v` (as [`arr_get`]).
///
/// # Safety
/// As [`arr_get`].
#[inline(always)]
pub unsafe fn arr_set(arr: Value, idx: Value, v: Value, elem: u8) -> Result<(), &'static str> {
    // SAFETY: non-null, so a live array by the caller's contract.
    let a = unsafe { as_array_mut(non_null(arr)?) };
    debug_assert_eq!(a.elem as u8, elem, "ArrSet's element kind");
    match index(idx.as_int(), a.len()) {
        Some(i) => {
            // SAFETY: as in `arr_get`.
            unsafe { a.set_unchecked_as(i, v, elem == ValKind::Bool as u8) };
            Ok(())
        }
        None => Err(INDEX_OOB),
    }
}

/// `array_len(arr)`.
///
/// # Safety
/// `arr` must be null or a live array.
#[inline(always)]
pub unsafe fn arr_len(arr: Value) -> Result<Value, &'static str> {
    Ok(Value::int(as_array(non_null(arr)?).len() as i64))
}

// ----- maps -----

/// The array literal of call site `s` (element kind in `s.target`) with the
/// elements `items` (the site's registers, in order).
pub fn new_array(heap: &mut Heap, s: &CallSite, items: &[Value]) -> Value {
    heap.alloc_array_of(ValKind::from_u8(s.target as u8), items)
}

/// The tuple of call site `s` (element kinds in `s.kinds`).
pub fn new_tuple(heap: &mut Heap, s: &CallSite, items: &[Value]) -> Value {
    heap.alloc_tuple(&s.kinds, items)
}

/// The struct (or class instance) of layout `s.target` with the given fields.
pub fn new_struct(heap: &mut Heap, program: &Program, s: &CallSite, fields: &[Value]) -> Value {
    let is_class = program.layouts.get(s.target as usize).is_some_and(|l| l.is_class);
    heap.alloc_struct(s.target, is_class, fields)
}

// ----- closures -----

/// Capture `idx` of closure `clo`.
///
/// # Safety
/// `clo` must be null or a live closure.
pub unsafe fn get_capture(clo: Value, idx: u8) -> Result<Value, &'static str> {
    // SAFETY: the caller's contract; non-null checked first.
    let c = unsafe { as_closure(non_null(clo)?) };
    c.captures
        .get(idx as usize)
        .copied()
        .ok_or("internal error: capture out of range")
}

/// A cell holding `v` (of kind `kind`): a one-element array, so that the
/// collector, printing and the JIT's element access need nothing new; a
/// `bool`'s is an `[int]` ([`bp_runtime::heap::cell_elem_kind`]).
pub fn new_cell(heap: &mut Heap, v: Value, kind: u8) -> Value {
    heap.alloc_array_of(bp_runtime::heap::cell_elem_kind(ValKind::from_u8(kind)), &[v])
}

/// The value in `cell`.
///
/// # Safety
/// `cell` must be null or a live cell.
pub unsafe fn cell_get(cell: Value) -> Result<Value, &'static str> {
    // SAFETY: the caller's contract; non-null checked first.
    let a = unsafe { as_array(non_null(cell)?) };
    a.get(0).ok_or("internal error: empty cell")
}

/// Store `v` in `cell`.
///
/// # Safety
/// `cell` must be null or a live cell.
pub unsafe fn cell_set(cell: Value, v: Value) -> Result<(), &'static str> {
    // SAFETY: the caller's contract; non-null checked first, and no other
    // reference to the cell's items is live.
    let a = unsafe { as_array_mut(non_null(cell)?) };
    if a.set(0, v) {
        Ok(())
    } else {
        Err("internal error: empty cell")
    }
}

// ----- classes -----

/// A new instance of class layout `class` with every field zero (0, 0.0, false and
/// null are all zero bits).
pub fn new_object(heap: &mut Heap, program: &Program, class: u32) -> Value {
    let n = program.layouts.get(class as usize).map_or(0, |l| l.fields.len());
    heap.alloc_struct_zeroed(class, true, n)
}

/// The layout id of `v`, or `None` for null.
///
/// # Safety
/// `v` must be null or a live struct or class instance.
pub unsafe fn layout_of(v: Value) -> Option<u32> {
    if v.is_null() {
        None
    } else {
        // SAFETY: the caller's contract; non-null.
        Some(unsafe { as_struct(v) }.layout)
    }
}

/// The function a call of method-table slot `slot` on `receiver` runs.
///
/// # Safety
/// `receiver` must be null or a live class instance.
pub unsafe fn method_target(program: &Program, receiver: Value, slot: u32) -> Result<u32, &'static str> {
    // SAFETY: the caller's contract.
    let layout = unsafe { layout_of(receiver) }.ok_or(NULL_REF)?;
    program
        .classes
        .method(layout, slot)
        .ok_or("internal error: method slot out of range")
}

/// `typeof(v)` for a class or nullable value: `null`, the class name of an
/// instance, or `static_name`.
///
/// # Safety
/// `v` must be null or a live object.
pub unsafe fn type_name(heap: &mut Heap, program: &Program, v: Value, static_name: Value) -> Value {
    if v.is_null() {
        return heap.alloc_str(&b"null"[..]);
    }
    // SAFETY: the caller's contract; non-null.
    if unsafe { obj_kind(v) } == ObjKind::Class {
        // SAFETY: a live class instance (checked above).
        let layout = unsafe { as_struct(v) }.layout;
        if let Some(l) = program.layouts.get(layout as usize) {
            return heap.alloc_str(l.name.as_bytes());
        }
    }
    static_name
}

/// The message of a failed `e as C`.
///
/// # Safety
/// `v` must be null or a live class instance.
#[cold]
pub unsafe fn cast_error(program: &Program, v: Value, class: u32) -> String {
    let name = |l: u32| program.layouts.get(l as usize).map_or("?", |l| l.name.as_str());
    // SAFETY: the caller's contract.
    match unsafe { layout_of(v) } {
        None => format!("null reference: null is not a {}", name(class)),
        Some(l) => format!("cast failed: a {} is not a {}", name(l), name(class)),
    }
}

/// `CheckClass`: `Ok` if `v` is an instance of class `class` (or of a
/// subclass), else the error a cast raises.
///
/// # Safety
/// `v` must be null or a live class instance.
#[inline]
pub unsafe fn check_class(program: &Program, v: Value, class: u32) -> Result<(), String> {
    // SAFETY: the caller's contract.
    let layout = unsafe { layout_of(v) };
    if layout.is_some_and(|l| program.classes.is_instance(l, class)) {
        Ok(())
    } else {
        // SAFETY: the caller's contract.
        Err(unsafe { cast_error(program, v, class) })
    }
}

/// `NullCheck`: `Ok` unless `v` is null, then the error `msg` (the check's
/// string constant).
///
/// # Safety
/// `msg` must be a live string.
#[inline]
pub unsafe fn null_check(v: Value, msg: Value) -> Result<(), String> {
    if !v.is_null() {
        return Ok(());
    }
    // SAFETY: the caller's contract.
    let text = unsafe { bp_runtime::heap::str_bytes(msg) };
    Err(String::from_utf8_lossy(text).into_owned())
}

/// The closure of function `s.target` with the captured values (kinds in
/// `s.kinds`).
pub fn make_closure(heap: &mut Heap, s: &CallSite, captures: &[Value]) -> Value {
    heap.alloc_closure(s.target, &s.kinds, captures)
}

/// `{k1: v1, ...}` from `pairs = [k1, v1, k2, v2, ...]`; `kinds` = key kind |
/// (value kind << 8) | (size hint << 16): room is made for the pairs or, if
/// more, as many entries as the hint says the code adds right away. Later
/// duplicates overwrite earlier ones.
///
/// # Safety
/// Every key in `pairs` must be of the key kind: when that is `Ref`, null or a live
/// object (keys are hashed by content).
pub unsafe fn new_map(heap: &mut Heap, kinds: u32, pairs: &[Value]) -> Value {
    let key = ValKind::from_u8(kinds as u8);
    let val = ValKind::from_u8((kinds >> 8) as u8);
    let hint = (kinds >> crate::bytecode::MAP_SIZE_HINT) as usize;
    let m = heap.alloc_map(key, val);
    // SAFETY: `m` was just allocated as a map and nothing else refers to it yet.
    let mo = unsafe { as_map_mut(m) };
    mo.entries.reserve((pairs.len() / 2).max(hint));
    for kv in pairs.chunks_exact(2) {
        mo.entries.insert(MapKey::new(kv[0], key), kv[1]);
    }
    heap.note_growth(mo.entries.capacity() * MAP_ENTRY_BYTES);
    m
}

/// `map[key]`.
///
/// # Safety
/// `map` must be null or a live map, and `key` of its key kind (null or a live
/// object if that is `Ref`).
#[inline]
pub unsafe fn map_get(map: Value, key: Value) -> Result<Value, &'static str> {
    let mo = as_map(non_null(map)?);
    match mo.entries.get(&MapKey::new(key, mo.key)) {
        Some(v) => Ok(*v),
        None => Err(KEY_NOT_FOUND),
    }
}

/// `map[key] = v`: overwrite in place or append a new entry. A new entry past
/// `limits::MAX_MAP_LEN` is `result too large`; growth is allocated fallibly.
///
/// # Safety
/// `map` must be null or a live map (a register the verifier types as a map), and
/// `key` of its key kind (null or a live object if that is `Ref`).
#[inline]
pub unsafe fn map_set(heap: &mut Heap, map: Value, key: Value, v: Value) -> Result<(), &'static str> {
    // SAFETY: non-null, so a live map by the caller's contract.
    let mo = unsafe { as_map_mut(non_null(map)?) };
    let k = MapKey::new(key, mo.key);
    if mo.entries.len() >= limits::MAX_MAP_LEN && !mo.entries.contains_key(&k) {
        return Err(limits::MAP_TOO_LARGE);
    }
    let room = mo.entries.capacity();
    mo.entries.try_insert(k, v).map_err(LimitError::message)?;
    heap.note_growth(mo.entries.capacity().saturating_sub(room) * MAP_ENTRY_BYTES);
    Ok(())
}

/// `map[key] = v` in the room the map has: an overwrite, or an insertion that
/// needs no growth (nothing allocated, nothing to account); `None` (nothing
/// done) when the map is null, full for a new key, or at `limits::MAX_MAP_LEN`.
/// The leaf twin of `MapSet` in compiled code, which then takes [`map_set`].
///
/// # Safety
/// As [`map_set`].
#[inline]
pub unsafe fn map_store(map: Value, key: Value, v: Value) -> Option<()> {
    if map.is_null() {
        return None;
    }
    // SAFETY: non-null, so a live map by the caller's contract.
    let mo = unsafe { as_map_mut(map) };
    if mo.entries.len() >= limits::MAX_MAP_LEN {
        return None;
    }
    mo.entries.set_in_place(MapKey::new(key, mo.key), v).then_some(())
}

// ----- tuples, structs -----

/// `tup[idx]` (a constant index checked by the type checker).
///
/// # Safety
/// `tup` must be null or a live tuple.
#[inline(always)]
pub unsafe fn tuple_get(tup: Value, idx: u8) -> Result<Value, &'static str> {
    match as_tuple(non_null(tup)?).items.get(idx as usize) {
        Some(v) => Ok(*v),
        None => Err("internal error: tuple index out of range"),
    }
}

/// `obj.fields[idx]`.
///
/// # Safety
/// `obj` must be null or a live struct or class instance.
#[inline(always)]
pub unsafe fn get_field(obj: Value, idx: u8) -> Result<Value, &'static str> {
    match as_struct(non_null(obj)?).fields.get(idx as usize) {
        Some(v) => Ok(*v),
        None => Err("internal error: field index out of range"),
    }
}

/// `obj.fields[idx] = v`.
///
/// # Safety
/// `obj` must be null or a live struct or class instance (a register the verifier
/// types as one).
#[inline(always)]
pub unsafe fn set_field(obj: Value, idx: u8, v: Value) -> Result<(), &'static str> {
    // SAFETY: non-null, so a live struct by the caller's contract.
    let s = unsafe { as_struct_mut(non_null(obj)?) };
    match s.fields.get_mut(idx as usize) {
        Some(slot) => {
            *slot = v;
            Ok(())
        }
        None => Err("internal error: field index out of range"),
    }
}
