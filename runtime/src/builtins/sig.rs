//! Builtin signatures: the one parser of the `sig` strings of the builtin tables
//! and the parsed form ([`BuiltinSig`]) that every reader uses — the type checker
//! (unification with argument types, `src/types/builtin_sig.rs`), the compiler
//! (which arguments get an extra kind argument), the VM (whether a call has a
//! result, what kind the verifier expects) and the JIT.
//!
//! The parser lives here, next to the tables, rather than in the checker: the VM
//! and the JIT read signatures too and must not depend on the front end. The
//! tables keep their readable strings; [`super::signatures`] parses each one once,
//! on first use, into a table indexed by builtin id.
//!
//! A signature is `"(P1, P2, ...) -> R"`. Types are `int float bool str void ptr`,
//! `[T]`, `{K: V}`, `(A, B)`, `fn(A) -> B`, `chan[T]`, the type variables `T`, `K`, `V` and
//! `any`. As small extensions, a parameter may be written `name: type` (the name is
//! ignored), and a trailing `...` parameter accepts any number of further arguments
//! of any (non-void) type.

use crate::value::ValKind;
use std::fmt;

/// A type variable of a builtin signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeVar {
    T,
    K,
    V,
}

impl TypeVar {
    /// A dense index (0, 1, 2), for tables of bindings.
    pub fn index(self) -> usize {
        match self {
            TypeVar::T => 0,
            TypeVar::K => 1,
            TypeVar::V => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TypeVar::T => "T",
            TypeVar::K => "K",
            TypeVar::V => "V",
        }
    }
}

/// A type in a builtin signature.
#[derive(Clone, Debug, PartialEq)]
pub enum SigType {
    Int,
    Float,
    Bool,
    Str,
    Void,
    Ptr,
    Array(Box<SigType>),
    Map(Box<SigType>, Box<SigType>),
    Tuple(Vec<SigType>),
    Fn(Vec<SigType>, Box<SigType>),
    /// `chan[T]`: a channel of `T` values (a handle shared between threads).
    Chan(Box<SigType>),
    Var(TypeVar),
    /// Any type (the compiler passes the argument's value kind as an extra argument).
    Any,
}

impl SigType {
    /// How a value of this type is stored in a slot, when the signature alone
    /// says: `None` for `void` (no value) and for a type variable or `any` (the
    /// kind depends on the call site).
    pub fn value_kind(&self) -> Option<ValKind> {
        match self {
            SigType::Int => Some(ValKind::Int),
            SigType::Float => Some(ValKind::Float),
            SigType::Bool => Some(ValKind::Bool),
            SigType::Str
            | SigType::Ptr
            | SigType::Array(_)
            | SigType::Map(..)
            | SigType::Tuple(_)
            | SigType::Fn(..)
            | SigType::Chan(_) => Some(ValKind::Ref),
            SigType::Void | SigType::Var(_) | SigType::Any => None,
        }
    }
}

/// A parsed builtin signature.
#[derive(Clone, Debug, PartialEq)]
pub struct BuiltinSig {
    pub params: Vec<SigType>,
    /// A trailing `...`: any number of further arguments of any type.
    pub variadic: bool,
    pub ret: SigType,
}

impl BuiltinSig {
    /// Whether the builtin is declared `-> void`: it produces no result and leaves
    /// the call's destination register alone.
    pub fn returns_void(&self) -> bool {
        // (`matches!`, not `==`: the derived comparison of the recursive type is
        // a call, and the interpreter asks this after every builtin call.)
        matches!(self.ret, SigType::Void)
    }
}

impl fmt::Display for SigType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", display_sig_type(self, &|_| None))
    }
}

/// The canonical text of a signature: the form the tables are written in
/// (parameter names are not kept).
impl fmt::Display for BuiltinSig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut params: Vec<String> = self.params.iter().map(|p| p.to_string()).collect();
        if self.variadic {
            params.push("...".into());
        }
        write!(f, "({}) -> {}", params.join(", "), self.ret)
    }
}

/// Render a signature type, printing a bound type variable as its binding
/// (`lookup` returns the text of the binding, or `None` to print the variable).
pub fn display_sig_type(t: &SigType, lookup: &dyn Fn(TypeVar) -> Option<String>) -> String {
    let list = |ts: &[SigType]| {
        ts.iter()
            .map(|t| display_sig_type(t, lookup))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match t {
        SigType::Int => "int".into(),
        SigType::Float => "float".into(),
        SigType::Bool => "bool".into(),
        SigType::Str => "str".into(),
        SigType::Void => "void".into(),
        SigType::Ptr => "ptr".into(),
        SigType::Any => "any".into(),
        SigType::Var(v) => lookup(*v).unwrap_or_else(|| v.name().to_string()),
        SigType::Array(e) => format!("[{}]", display_sig_type(e, lookup)),
        SigType::Map(k, v) => format!(
            "{{{}: {}}}",
            display_sig_type(k, lookup),
            display_sig_type(v, lookup)
        ),
        SigType::Tuple(ts) if ts.len() == 1 => format!("({},)", list(ts)),
        SigType::Tuple(ts) => format!("({})", list(ts)),
        SigType::Fn(ps, r) => format!("fn({}) -> {}", list(ps), display_sig_type(r, lookup)),
        SigType::Chan(e) => format!("chan[{}]", display_sig_type(e, lookup)),
    }
}

// ---------------------------------------------------------------------------
// Parsing

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    Arrow,
    Ellipsis,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(s[st..i].to_string()));
        } else if s[i..].starts_with("->") {
            out.push(Tok::Arrow);
            i += 2;
        } else if s[i..].starts_with("...") {
            out.push(Tok::Ellipsis);
            i += 3;
        } else if b"()[]{},:".contains(&c) {
            out.push(Tok::Punct(c as char));
            i += 1;
        } else {
            return Err(format!(
                "unexpected character '{}'",
                s[i..].chars().next().unwrap_or('?')
            ));
        }
    }
    Ok(out)
}

struct SigParser {
    toks: Vec<Tok>,
    pos: usize,
}

impl SigParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek2(&self) -> Option<&Tok> {
        self.toks.get(self.pos + 1)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(Tok::Punct(p)) if p == c => Ok(()),
            other => Err(format!("expected '{c}', found {}", describe(other.as_ref()))),
        }
    }
    fn expect_arrow(&mut self) -> Result<(), String> {
        match self.next() {
            Some(Tok::Arrow) => Ok(()),
            other => Err(format!("expected '->', found {}", describe(other.as_ref()))),
        }
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `( [param {, param}] )` after the `(`; returns the types and whether `...` ended it.
    fn list(&mut self, allow_names: bool, allow_ellipsis: bool) -> Result<(Vec<SigType>, bool), String> {
        let mut out = Vec::new();
        if self.eat(')') {
            return Ok((out, false));
        }
        loop {
            if allow_ellipsis && self.peek() == Some(&Tok::Ellipsis) {
                self.pos += 1;
                self.expect(')')?;
                return Ok((out, true));
            }
            if allow_names
                && matches!(self.peek(), Some(Tok::Ident(_)))
                && self.peek2() == Some(&Tok::Punct(':'))
            {
                self.pos += 2;
            }
            out.push(self.ty()?);
            if self.eat(')') {
                return Ok((out, false));
            }
            self.expect(',')?;
            // A trailing comma, as in the one-element tuple `(int,)`.
            if self.eat(')') {
                return Ok((out, false));
            }
        }
    }

    fn ty(&mut self) -> Result<SigType, String> {
        match self.next() {
            Some(Tok::Ident(name)) => Ok(match name.as_str() {
                "int" => SigType::Int,
                "float" => SigType::Float,
                "bool" => SigType::Bool,
                "str" => SigType::Str,
                "void" => SigType::Void,
                "ptr" => SigType::Ptr,
                "any" => SigType::Any,
                "T" => SigType::Var(TypeVar::T),
                "K" => SigType::Var(TypeVar::K),
                "V" => SigType::Var(TypeVar::V),
                "fn" => {
                    self.expect('(')?;
                    let (ps, _) = self.list(true, false)?;
                    self.expect_arrow()?;
                    SigType::Fn(ps, Box::new(self.ty()?))
                }
                "chan" => {
                    self.expect('[')?;
                    let e = self.ty()?;
                    self.expect(']')?;
                    SigType::Chan(Box::new(e))
                }
                _ => return Err(format!("unknown type '{name}'")),
            }),
            Some(Tok::Punct('[')) => {
                let e = self.ty()?;
                self.expect(']')?;
                Ok(SigType::Array(Box::new(e)))
            }
            Some(Tok::Punct('{')) => {
                let k = self.ty()?;
                self.expect(':')?;
                let v = self.ty()?;
                self.expect('}')?;
                Ok(SigType::Map(Box::new(k), Box::new(v)))
            }
            Some(Tok::Punct('(')) => {
                let (ts, _) = self.list(false, false)?;
                Ok(SigType::Tuple(ts))
            }
            other => Err(format!("expected a type, found {}", describe(other.as_ref()))),
        }
    }
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "the end".into(),
        Some(Tok::Ident(s)) => format!("'{s}'"),
        Some(Tok::Punct(c)) => format!("'{c}'"),
        Some(Tok::Arrow) => "'->'".into(),
        Some(Tok::Ellipsis) => "'...'".into(),
    }
}

/// Parse a signature string such as `"([T], T) -> void"`.
pub fn parse(s: &str) -> Result<BuiltinSig, String> {
    let mut p = SigParser {
        toks: tokenize(s)?,
        pos: 0,
    };
    p.expect('(')?;
    let (params, variadic) = p.list(true, true)?;
    p.expect_arrow()?;
    let ret = p.ty()?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected {} after the return type", describe(p.peek())));
    }
    if params.contains(&SigType::Void) {
        return Err("a parameter cannot be void".into());
    }
    Ok(BuiltinSig {
        params,
        variadic,
        ret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let s = parse("(str, int, int) -> str").unwrap();
        assert_eq!(s.params, vec![SigType::Str, SigType::Int, SigType::Int]);
        assert_eq!(s.ret, SigType::Str);
        assert!(!s.variadic);
        let s = parse("({K: V}, K) -> bool").unwrap();
        assert_eq!(
            s.params[0],
            SigType::Map(
                Box::new(SigType::Var(TypeVar::K)),
                Box::new(SigType::Var(TypeVar::V))
            )
        );
        let s = parse("() -> [str]").unwrap();
        assert!(s.params.is_empty());
        let s = parse("(fn(T) -> bool, (int, str), any) -> void").unwrap();
        assert_eq!(s.params.len(), 3);
        assert_eq!(s.params[1].to_string(), "(int, str)");
        assert_eq!(s.params[0].to_string(), "fn(T) -> bool");
        assert!(s.returns_void());
        let s = parse("(a: [T], v: T) -> void").unwrap();
        assert_eq!(s.params[1], SigType::Var(TypeVar::T));
        let s = parse("(str, ...) -> ptr").unwrap();
        assert!(s.variadic);
        assert_eq!(s.params.len(), 1);
        let s = parse("(...) -> ptr").unwrap();
        assert!(s.variadic && s.params.is_empty());
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "(int",
            "(int) ->",
            "(int) -> foo",
            "int -> int",
            "(int) -> int int",
            "([int) -> int",
            "(void) -> int",
            "(#) -> int",
            "(int, ..., int) -> int",
            "(fn(...) -> int) -> int",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// The canonical text drops parameter names and spacing differences, and
    /// parses back to the same signature.
    #[test]
    fn canonical_text_round_trips() {
        for (text, canonical) in [
            ("(a: [T],v: T)->void", "([T], T) -> void"),
            ("( str , ... ) -> ptr", "(str, ...) -> ptr"),
            (
                "((int,)) -> fn(int, {str: [K]}) -> (bool, V)",
                "((int,)) -> fn(int, {str: [K]}) -> (bool, V)",
            ),
        ] {
            let s = parse(text).unwrap();
            assert_eq!(s.to_string(), canonical);
            assert_eq!(parse(canonical).unwrap(), s);
        }
    }

    #[test]
    fn value_kinds() {
        let ret = |s: &str| parse(s).unwrap().ret.value_kind();
        assert_eq!(ret("() -> int"), Some(ValKind::Int));
        assert_eq!(ret("() -> float"), Some(ValKind::Float));
        assert_eq!(ret("() -> bool"), Some(ValKind::Bool));
        for r in ["str", "ptr", "[int]", "{K: V}", "(int, int)", "fn() -> int"] {
            assert_eq!(ret(&format!("() -> {r}")), Some(ValKind::Ref), "{r}");
        }
        for r in ["void", "T", "K", "V", "any"] {
            assert_eq!(ret(&format!("() -> {r}")), None, "{r}");
        }
    }

    #[test]
    fn display_with_bindings() {
        let s = parse("({K: V}, K) -> bool").unwrap();
        let txt = display_sig_type(&s.params[0], &|v| (v == TypeVar::K).then(|| "str".to_string()));
        assert_eq!(txt, "{str: V}");
    }
}
