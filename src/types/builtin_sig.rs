//! Builtin signatures: parsing the `sig` strings of the runtime's builtin table
//! (`bp_runtime::builtins`, mini-language documented in `runtime/src/builtins/mod.rs`)
//! and unifying them with argument types at call sites.
//!
//! A signature is `"(P1, P2, ...) -> R"`. Types are `int float bool str void ptr`,
//! `[T]`, `{K: V}`, `(A, B)`, `fn(A) -> B`, the type variables `T`, `K`, `V` and
//! `any`. As small extensions, a parameter may be written `name: type` (the name is
//! ignored), and a trailing `...` parameter accepts any number of further arguments
//! of any (non-void) type.
//!
//! Type variables are bound by the first argument that mentions them and must then
//! agree ([`Bindings::unify`]); the compiler can re-run the unification with the
//! checked argument types ([`Bindings::from_args`]) to learn what `T` is bound to
//! (builtins with the `KIND_OF_T` flag need its value kind).

use super::Type;
use std::fmt;
use std::sync::OnceLock;

/// A type variable of a builtin signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeVar {
    T,
    K,
    V,
}

impl TypeVar {
    fn index(self) -> usize {
        match self {
            TypeVar::T => 0,
            TypeVar::K => 1,
            TypeVar::V => 2,
        }
    }
    fn name(self) -> &'static str {
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
    Var(TypeVar),
    /// Any type (the compiler passes the argument's value kind as an extra argument).
    Any,
}

/// A parsed builtin signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Sig {
    pub params: Vec<SigType>,
    /// A trailing `...`: any number of further arguments of any type.
    pub variadic: bool,
    pub ret: SigType,
}

impl fmt::Display for SigType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", display_sig_type(self, &|_| None))
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
                    match self.next() {
                        Some(Tok::Arrow) => {}
                        other => return Err(format!("expected '->', found {}", describe(other.as_ref()))),
                    }
                    SigType::Fn(ps, Box::new(self.ty()?))
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
pub fn parse_sig(s: &str) -> Result<Sig, String> {
    let mut p = SigParser {
        toks: tokenize(s)?,
        pos: 0,
    };
    p.expect('(')?;
    let (params, variadic) = p.list(true, true)?;
    match p.next() {
        Some(Tok::Arrow) => {}
        other => return Err(format!("expected '->', found {}", describe(other.as_ref()))),
    }
    let ret = p.ty()?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected {} after the return type", describe(p.peek())));
    }
    if params.contains(&SigType::Void) {
        return Err("a parameter cannot be void".into());
    }
    Ok(Sig {
        params,
        variadic,
        ret,
    })
}

/// The parsed signatures of the runtime's builtin table, indexed by builtin id.
pub fn builtin_sigs() -> &'static [Result<Sig, String>] {
    static SIGS: OnceLock<Vec<Result<Sig, String>>> = OnceLock::new();
    SIGS.get_or_init(|| {
        bp_runtime::builtins::all()
            .iter()
            .map(|b| parse_sig(b.sig))
            .collect()
    })
}

/// The signature of builtin `id`, or why it could not be parsed.
pub fn builtin_sig(id: u32) -> Result<&'static Sig, String> {
    match builtin_sigs().get(id as usize) {
        Some(Ok(s)) => Ok(s),
        Some(Err(e)) => Err(e.clone()),
        None => Err(format!("no builtin with id {id}")),
    }
}

// ---------------------------------------------------------------------------
// Unification

/// Bindings of the type variables `T`, `K`, `V` at one call site.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bindings {
    vars: [Option<Type>; 3],
}

/// `a` and `b` are the same type (LANGUAGE.md §4.2); `Error` matches anything.
pub fn same_type(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Error, _) | (_, Type::Error) => true,
        (Type::Array(x), Type::Array(y)) => same_type(x, y),
        (Type::Map(k1, v1), Type::Map(k2, v2)) => same_type(k1, k2) && same_type(v1, v2),
        (Type::Tuple(xs), Type::Tuple(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_type(x, y))
        }
        (Type::Fn(p1, r1), Type::Fn(p2, r2)) => {
            p1.len() == p2.len() && p1.iter().zip(p2).all(|(x, y)| same_type(x, y)) && same_type(r1, r2)
        }
        _ => a == b,
    }
}

/// Whether `t` mentions `Type::Error` (or is still unknown) anywhere.
pub fn has_error(t: &Type) -> bool {
    match t {
        Type::Error | Type::Unknown => true,
        Type::Array(e) => has_error(e),
        Type::Map(k, v) => has_error(k) || has_error(v),
        Type::Tuple(ts) => ts.iter().any(has_error),
        Type::Fn(ps, r) => ps.iter().any(has_error) || has_error(r),
        _ => false,
    }
}

impl Bindings {
    /// The type bound to `v`, if any.
    pub fn get(&self, v: TypeVar) -> Option<&Type> {
        self.vars[v.index()].as_ref()
    }

    /// Unify every argument type with its parameter, in order; `None` if an argument
    /// does not fit. The compiler uses this to learn the binding of `T`.
    pub fn from_args(sig: &Sig, args: &[Type]) -> Option<Bindings> {
        let mut b = Bindings::default();
        for (p, a) in sig.params.iter().zip(args) {
            if !b.unify(p, a) {
                return None;
            }
        }
        Some(b)
    }

    /// Match the parameter type `p` against the argument type `t`, binding type
    /// variables. Returns false if they do not fit (bindings may then be partial).
    pub fn unify(&mut self, p: &SigType, t: &Type) -> bool {
        if matches!(t, Type::Error | Type::Unknown) {
            return true;
        }
        match (p, t) {
            (SigType::Any, _) => *t != Type::Void,
            (SigType::Var(v), _) => {
                if *t == Type::Void {
                    return false;
                }
                let slot = &mut self.vars[v.index()];
                match slot {
                    None => {
                        *slot = Some(t.clone());
                        true
                    }
                    Some(b) => {
                        if !same_type(b, t) {
                            return false;
                        }
                        if has_error(b) && !has_error(t) {
                            *slot = Some(t.clone());
                        }
                        true
                    }
                }
            }
            (SigType::Int, Type::Int)
            | (SigType::Float, Type::Float)
            | (SigType::Bool, Type::Bool)
            | (SigType::Str, Type::Str)
            | (SigType::Void, Type::Void)
            | (SigType::Ptr, Type::Ptr) => true,
            (SigType::Array(pe), Type::Array(te)) => self.unify(pe, te),
            (SigType::Map(pk, pv), Type::Map(tk, tv)) => self.unify(pk, tk) && self.unify(pv, tv),
            (SigType::Tuple(ps), Type::Tuple(ts)) => {
                ps.len() == ts.len() && ps.iter().zip(ts).all(|(p, t)| self.unify(p, t))
            }
            (SigType::Fn(pp, pr), Type::Fn(tp, tr)) => {
                pp.len() == tp.len() && pp.iter().zip(tp).all(|(p, t)| self.unify(p, t)) && self.unify(pr, tr)
            }
            _ => false,
        }
    }

    /// `p` with its type variables replaced by their bindings; `None` if it mentions
    /// an unbound variable or `any`.
    pub fn subst(&self, p: &SigType) -> Option<Type> {
        Some(match p {
            SigType::Int => Type::Int,
            SigType::Float => Type::Float,
            SigType::Bool => Type::Bool,
            SigType::Str => Type::Str,
            SigType::Void => Type::Void,
            SigType::Ptr => Type::Ptr,
            SigType::Any => return None,
            SigType::Var(v) => return self.get(*v).cloned(),
            SigType::Array(e) => Type::Array(Box::new(self.subst(e)?)),
            SigType::Map(k, v) => Type::Map(Box::new(self.subst(k)?), Box::new(self.subst(v)?)),
            SigType::Tuple(ts) => Type::Tuple(ts.iter().map(|t| self.subst(t)).collect::<Option<_>>()?),
            SigType::Fn(ps, r) => Type::Fn(
                ps.iter().map(|t| self.subst(t)).collect::<Option<_>>()?,
                Box::new(self.subst(r)?),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let s = parse_sig("(str, int, int) -> str").unwrap();
        assert_eq!(s.params, vec![SigType::Str, SigType::Int, SigType::Int]);
        assert_eq!(s.ret, SigType::Str);
        assert!(!s.variadic);
        let s = parse_sig("({K: V}, K) -> bool").unwrap();
        assert_eq!(
            s.params[0],
            SigType::Map(
                Box::new(SigType::Var(TypeVar::K)),
                Box::new(SigType::Var(TypeVar::V))
            )
        );
        let s = parse_sig("() -> [str]").unwrap();
        assert!(s.params.is_empty());
        let s = parse_sig("(fn(T) -> bool, (int, str), any) -> void").unwrap();
        assert_eq!(s.params.len(), 3);
        assert_eq!(s.params[1].to_string(), "(int, str)");
        assert_eq!(s.params[0].to_string(), "fn(T) -> bool");
        let s = parse_sig("(a: [T], v: T) -> void").unwrap();
        assert_eq!(s.params[1], SigType::Var(TypeVar::T));
        let s = parse_sig("(str, ...) -> ptr").unwrap();
        assert!(s.variadic);
        assert_eq!(s.params.len(), 1);
        let s = parse_sig("(...) -> ptr").unwrap();
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
        ] {
            assert!(parse_sig(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_runtime_builtin_signature_parses() {
        for (b, s) in bp_runtime::builtins::all().iter().zip(builtin_sigs()) {
            assert!(
                s.is_ok(),
                "builtin '{}' has a bad signature '{}': {:?}",
                b.name,
                b.sig,
                s
            );
        }
    }

    #[test]
    fn unification_binds_and_checks() {
        let s = parse_sig("([T], T) -> void").unwrap();
        let mut b = Bindings::default();
        assert!(b.unify(&s.params[0], &Type::Array(Box::new(Type::Int))));
        assert_eq!(b.subst(&s.params[1]), Some(Type::Int));
        assert!(!b.unify(&s.params[1], &Type::Str));
        assert!(b.unify(&s.params[1], &Type::Error));
        // Error bindings are refined by later arguments.
        let mut b = Bindings::default();
        assert!(b.unify(&SigType::Var(TypeVar::T), &Type::Array(Box::new(Type::Error))));
        assert!(b.unify(&SigType::Var(TypeVar::T), &Type::Array(Box::new(Type::Str))));
        assert_eq!(b.get(TypeVar::T), Some(&Type::Array(Box::new(Type::Str))));
        // any accepts everything but void; variables never bind void.
        assert!(b.unify(&SigType::Any, &Type::Struct(3)));
        assert!(!b.unify(&SigType::Any, &Type::Void));
        assert!(!Bindings::default().unify(&SigType::Var(TypeVar::K), &Type::Void));
        assert_eq!(
            Bindings::default().subst(&SigType::Array(Box::new(SigType::Var(TypeVar::T)))),
            None
        );
        let m = parse_sig("({K: V}) -> [V]").unwrap();
        let b = Bindings::from_args(&m, &[Type::Map(Box::new(Type::Str), Box::new(Type::Float))]).unwrap();
        assert_eq!(b.subst(&m.ret), Some(Type::Array(Box::new(Type::Float))));
        assert!(Bindings::from_args(&m, &[Type::Int]).is_none());
    }

    #[test]
    fn display_with_bindings() {
        let s = parse_sig("({K: V}, K) -> bool").unwrap();
        let txt = display_sig_type(&s.params[0], &|v| (v == TypeVar::K).then(|| "str".to_string()));
        assert_eq!(txt, "{str: V}");
    }
}
