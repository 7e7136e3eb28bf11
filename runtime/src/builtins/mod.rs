//! The builtin function library, declared once in tables that the type checker
//! (signatures), the compiler (extra kind arguments), the VM (dispatch by id) and
//! the JIT (inlining, direct calls) all read.
//!
//! Each area module exports `pub const TABLE: &[Builtin]`. A builtin's id is its
//! index in [`all`], which concatenates the area tables in a fixed order.
//!
//! # Signature language
//! `sig` is written as text, `"(str, int, int) -> str"`, and parsed once by
//! [`sig::parse`] into a [`BuiltinSig`] ([`signature`], by id, on first use), which is
//! what every reader uses. Types are `int float bool str void ptr`, `[T]`,
//! `{K: V}`, `(A, B)`, `fn(A) -> B`, the type variables `T`, `K`, `V` (bound by the
//! first argument that mentions them and then required to agree), and `any` (any
//! type; the compiler passes the argument's [`ValKind`](crate::value::ValKind) as
//! an extra trailing int argument for every `any` parameter so the builtin can
//! read it). A parameter may be named (`n: int`) and the list may end with `...`
//! (any number of further arguments).
//!
//! # Calling convention
//! `func(rt, args)` gets the argument slots in order (plus the extra kind arguments
//! described above and for [`KIND_OF_T`]) and returns the result slot
//! (`Value::NULL`/0 for `void`), or an [`RtError`]: a runtime error becomes a
//! catchable exception carrying its message. Builtins never collect garbage (see
//! `heap`), so they may hold objects in Rust locals freely.
//!
//! # Safety
//! A builtin reads its reference arguments without checking them (a `Value` is
//! untagged bits), so [`BuiltinFn`] is an `unsafe fn` whose contract is: **the
//! arguments match the builtin's signature**, as the type checker guarantees for
//! every call it accepts. Each builtin that reads a reference is an `unsafe fn`
//! with that contract (stated here once, not on each), and so are the private
//! helpers that read arguments (`arr`, `map`, `str_arg`, `string_elems`, ...): their
//! `Value` parameters are arguments of the calling builtin, or values read from
//! them by the element kinds their containers record. Builtins that read only
//! scalars stay safe `fn`s. Inside these functions the body's implicit unsafety
//! covers what that contract justifies; an `unsafe { }` block with its own
//! `// SAFETY:` line marks anything resting on more (not aliasing a `&mut`, a
//! fresh allocation).
//!
//! # Compiled code
//! [`Builtin::inline`] says how JIT code performs the call: through the
//! `rt_builtin` helper (the default), as machine instructions, or as a direct
//! call of a native twin (see [`inline`]).

use crate::rt::{Rt, RtResult};
use crate::value::Value;
use std::sync::OnceLock;

pub use inline::{
    heap_leaf, leaf, leaf_on_object, BinaryOp, HeapLeafFn, Inline, LeafFn, StrOp, UnaryOp, LEAF_DECLINED,
};
pub use sig::{BuiltinSig, SigType, TypeVar};

pub mod array;
pub mod bytes;
pub mod conv;
pub mod crypto;
pub mod file;
pub mod inline;
pub mod io;
pub mod json;
pub mod map;
pub mod math;
pub mod random;
pub mod regex;
pub mod sig;
pub mod string;
pub mod system;
pub mod thread;

/// A builtin's implementation: `func(rt, args)` (see "Calling convention").
///
/// # Safety
/// `args` must match the builtin's signature, as the type checker guarantees for
/// every call it accepts (and the compiler's extra kind arguments): an argument
/// of a reference type is null or a live object of that type, not bits forged from
/// an int.
pub type BuiltinFn = unsafe fn(&mut Rt, &[Value]) -> RtResult;

/// Flag: the compiler appends the `ValKind` (as an int) of the type bound to `T` as
/// an extra last argument (e.g. `array_fill` must know what kind of array to make).
pub const KIND_OF_T: u8 = 1;
/// Flag: no side effects and the result depends only on the arguments (the JIT may
/// constant-fold or inline it).
pub const PURE: u8 = 2;
/// Flag: the VM implements this builtin itself (it needs the program, the globals
/// or the exception machinery: `thread_spawn`, `thread_join`); the table's
/// `func` only reports an internal error.
pub const HOSTED: u8 = 4;
/// Flag: the builtin returns `void` (its signature ends in `-> void`), so a call
/// leaves its destination register alone. Set by [`b`] from the signature text,
/// so that a call need not look up the parsed signature ([`signature`]).
pub const RETURNS_VOID: u8 = 8;

/// Whether signature text `sig` ends in `-> void` (for [`b`], at compile time).
const fn sig_returns_void(sig: &str) -> bool {
    let (s, t) = (sig.as_bytes(), b"-> void".as_slice());
    if s.len() < t.len() {
        return false;
    }
    let mut i = 0;
    while i < t.len() {
        if s[s.len() - t.len() + i] != t[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[derive(Clone, Copy)]
pub struct Builtin {
    pub name: &'static str,
    /// The signature as written (see "Signature language"); read it parsed, from
    /// [`signatures`].
    pub sig: &'static str,
    /// One line saying what it does, for the reference in `docs/language.md`
    /// (generated by [`reference`]).
    pub doc: &'static str,
    pub func: BuiltinFn,
    pub flags: u8,
    /// How compiled code performs the call.
    pub inline: Inline,
}

impl Builtin {
    /// This builtin, inlined in compiled code as `how` (table entries:
    /// `b(...).inlined(Inline::Unary(UnaryOp::Abs))`).
    pub const fn inlined(self, how: Inline) -> Builtin {
        Builtin { inline: how, ..self }
    }
}

/// Shorthand constructor used by the area tables: a builtin that compiled code
/// calls through `rt_builtin` (name, signature, one-line description,
/// implementation, flags).
pub const fn b(
    name: &'static str,
    sig: &'static str,
    doc: &'static str,
    func: BuiltinFn,
    flags: u8,
) -> Builtin {
    Builtin {
        name,
        sig,
        doc,
        func,
        flags: if sig_returns_void(sig) {
            flags | RETURNS_VOID
        } else {
            flags
        },
        inline: Inline::Call,
    }
}

/// The area tables in id order, each with the title the reference gives it.
pub const AREAS: &[(&str, &[Builtin])] = &[
    ("Strings", string::TABLE),
    ("Conversions", conv::TABLE),
    ("Math", math::TABLE),
    ("Arrays", array::TABLE),
    ("Maps", map::TABLE),
    ("Console input", io::TABLE),
    ("JSON", json::TABLE),
    ("Random numbers", random::TABLE),
    ("Files", file::TABLE),
    ("System", system::TABLE),
    ("Hashing and encoding", crypto::TABLE),
    ("Byte buffers", bytes::TABLE),
    ("Regular expressions", regex::TABLE),
    ("Threading primitives", thread::TABLE),
];

/// Every builtin, indexed by id.
pub fn all() -> &'static [Builtin] {
    static ALL: OnceLock<Vec<Builtin>> = OnceLock::new();
    ALL.get_or_init(|| {
        // Sized first: collecting the areas' iterator grew the vector step by
        // step, a dozen reallocations of up to 16 KB at every start.
        let mut all = Vec::with_capacity(AREAS.iter().map(|(_, t)| t.len()).sum());
        for (_, table) in AREAS {
            all.extend_from_slice(table);
        }
        all
    })
}

/// The id of the builtin named `name`. (One index per process, hashed with
/// [`FxHasher`](crate::heap::FxHasher): the standard library's SipHash made
/// the type checker's own map of the 158 names 4 % of hello world's
/// instructions.)
pub fn id_of(name: &str) -> Option<u32> {
    type Index =
        std::collections::HashMap<&'static str, u32, std::hash::BuildHasherDefault<crate::heap::FxHasher>>;
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            let mut index = Index::with_capacity_and_hasher(all().len(), Default::default());
            index.extend(all().iter().enumerate().map(|(i, b)| (b.name, i as u32)));
            index
        })
        .get(name)
        .copied()
}

/// The builtin reference of `docs/language.md`: one table per area, a row per
/// builtin with its canonical signature and its description. A test of the root
/// crate (`tests/doc_examples.rs`) keeps the file equal to this text.
pub fn reference() -> String {
    let mut out = String::new();
    let mut id = 0;
    for (title, table) in AREAS {
        out.push_str(&format!("\n### {title}\n\n| builtin | meaning |\n|---|---|\n"));
        for builtin in *table {
            out.push_str(&format!(
                "| `{}{}` | {} |\n",
                builtin.name,
                signature(id).map(ToString::to_string).unwrap_or_default(),
                builtin.doc.replace('|', "\\|")
            ));
            id += 1;
        }
    }
    out
}

/// The parsed signature of builtin `id`: its table string parsed by
/// [`sig::parse`] on first use, each one separately, so that start-up does not
/// parse the signatures of builtins a program never calls (parsing all of them
/// was a quarter of the instructions of `bp run hello.bp`).
///
/// # Panics
/// If a table signature does not parse: the tables are constant program text,
/// and the unit test `every_signature_parses_and_round_trips` checks them all.
pub fn signature(id: u32) -> Option<&'static BuiltinSig> {
    static SIGS: OnceLock<Vec<OnceLock<BuiltinSig>>> = OnceLock::new();
    let b = all().get(id as usize)?;
    let slots = SIGS.get_or_init(|| (0..all().len()).map(|_| OnceLock::new()).collect());
    let slot = slots.get(id as usize)?;
    Some(slot.get_or_init(|| {
        sig::parse(b.sig).unwrap_or_else(|e| panic!("builtin '{}': bad signature '{}': {e}", b.name, b.sig))
    }))
}

/// The parsed signature of every builtin, in id order (see [`signature`]).
pub fn signatures() -> impl Iterator<Item = &'static BuiltinSig> {
    (0..all().len() as u32).filter_map(signature)
}

/// The id of a builtin by name.
pub fn lookup(name: &str) -> Option<u32> {
    all().iter().position(|b| b.name == name).map(|i| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `RETURNS_VOID` flag `b` sets from the signature text agrees with
    /// the parsed signature.
    #[test]
    fn the_void_flag_matches_the_signature() {
        for (id, b) in all().iter().enumerate() {
            let parsed = signature(id as u32).map(|s| s.returns_void());
            assert_eq!(Some(b.flags & RETURNS_VOID != 0), parsed, "{}", b.name);
        }
        assert!(all().iter().any(|b| b.flags & RETURNS_VOID != 0));
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = all().iter().map(|b| b.name).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "duplicate builtin name");
    }

    /// `id_of` finds every builtin by its name, and nothing else.
    #[test]
    fn id_of_finds_each_builtin_by_name() {
        for (id, b) in all().iter().enumerate() {
            assert_eq!(id_of(b.name), Some(id as u32), "{}", b.name);
        }
        assert_eq!(id_of("no_such_builtin"), None);
        assert_eq!(id_of(""), None);
    }

    /// Every builtin says what it does, in one line without a final period.
    #[test]
    fn every_builtin_has_a_one_line_doc() {
        for b in all() {
            assert!(!b.doc.is_empty(), "{}: no doc", b.name);
            assert!(
                !b.doc.contains('\n') && !b.doc.ends_with('.'),
                "{}: doc '{}'",
                b.name,
                b.doc
            );
        }
    }

    /// Every table signature parses, and is written in the canonical form that its
    /// parsed signature prints (so the text and the parsed form cannot drift).
    #[test]
    fn every_signature_parses_and_round_trips() {
        for b in all() {
            let parsed = sig::parse(b.sig).unwrap_or_else(|e| panic!("{}: '{}': {e}", b.name, b.sig));
            assert_eq!(parsed.to_string(), b.sig, "{}: not in canonical form", b.name);
        }
        assert_eq!(signatures().count(), all().len());
    }

    /// Only pure builtins are computed by instructions alone, and each inlined
    /// builtin has the signature its operation implements (an `(int) -> int`
    /// builtin cannot be given a float instruction). A string operation need not
    /// be pure: where its builtin raises (`ord("")`, `chr(200)`), compiled code
    /// makes the general call.
    #[test]
    fn inlined_builtins_are_pure_and_fit_their_operation() {
        let mut inlined = 0;
        for (b, s) in all().iter().zip(signatures()) {
            let Some(want) = b.inline.signature() else {
                continue;
            };
            inlined += 1;
            if !matches!(b.inline, Inline::Str(_)) {
                assert!(b.flags & PURE != 0, "{} is inlined but not PURE", b.name);
            }
            assert_eq!(
                s.to_string(),
                want,
                "{}: signature does not fit {:?}",
                b.name,
                b.inline
            );
        }
        // The 9 int math builtins, fabs ffloor fceil fsqrt is_nan is_inf, the 6 bit
        // operations, int_to_float and float_to_int, and the 13 float math builtins
        // with native twins, the 4 string operations, and `substr` (a slice).
        assert_eq!(inlined, 9 + 6 + 6 + 2 + 13 + 4 + 1);
    }
}
