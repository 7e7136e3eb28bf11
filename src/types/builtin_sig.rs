//! The checker's side of builtin signatures: unifying the parsed signatures of
//! the runtime's builtin table (`bp_runtime::builtins::signatures`, parsed once
//! by `bp_runtime::builtins::sig`, whose module documentation describes the
//! signature language) with argument types at call sites.
//!
//! Type variables are bound by the first argument that mentions them and must then
//! agree ([`Bindings::unify`]). The compiler asks [`kind_of_t`] what `T` is bound
//! to at a call (builtins with the `KIND_OF_T` flag need its value kind).

use super::Type;
use bp_runtime::value::ValKind;

pub use bp_runtime::builtins::sig::{display_sig_type, BuiltinSig, SigType, TypeVar};

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
        (Type::Array(x), Type::Array(y)) | (Type::Chan(x), Type::Chan(y)) => same_type(x, y),
        (Type::Map(k1, v1), Type::Map(k2, v2)) => same_type(k1, k2) && same_type(v1, v2),
        (Type::Tuple(xs), Type::Tuple(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_type(x, y))
        }
        (Type::Fn(p1, r1), Type::Fn(p2, r2)) => {
            p1.len() == p2.len() && p1.iter().zip(p2).all(|(x, y)| same_type(x, y)) && same_type(r1, r2)
        }
        (Type::Nullable(x), Type::Nullable(y)) => same_type(x, y),
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
        Type::Nullable(t) => has_error(t),
        _ => false,
    }
}

impl Bindings {
    /// The type bound to `v`, if any.
    pub fn get(&self, v: TypeVar) -> Option<&Type> {
        self.vars[v.index()].as_ref()
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
            (SigType::Array(pe), Type::Array(te)) | (SigType::Chan(pe), Type::Chan(te)) => self.unify(pe, te),
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
            SigType::Chan(e) => Type::Chan(Box::new(self.subst(e)?)),
            SigType::Map(k, v) => Type::Map(Box::new(self.subst(k)?), Box::new(self.subst(v)?)),
            SigType::Tuple(ts) => Type::Tuple(ts.iter().map(|t| self.subst(t)).collect::<Option<_>>()?),
            SigType::Fn(ps, r) => Type::Fn(
                ps.iter().map(|t| self.subst(t)).collect::<Option<_>>()?,
                Box::new(self.subst(r)?),
            ),
        })
    }
}

/// The value kind of the type bound to `T` at a call of a `KIND_OF_T` builtin
/// (the compiler passes it as an extra argument): the first argument that
/// mentions `T` binds it, else the call's result type; `Int` if neither does.
pub fn kind_of_t<'t>(sig: &BuiltinSig, arg_types: impl IntoIterator<Item = &'t Type>, ret: &Type) -> ValKind {
    let mut bound: Option<Type> = None;
    for (p, t) in sig.params.iter().zip(arg_types) {
        bind_var(p, t, TypeVar::T, &mut bound);
    }
    if bound.is_none() {
        bind_var(&sig.ret, ret, TypeVar::T, &mut bound);
    }
    bound.map(|t| t.kind()).unwrap_or(ValKind::Int)
}

/// Find the type bound to variable `var` by matching pattern `p` against `t`.
fn bind_var(p: &SigType, t: &Type, var: TypeVar, out: &mut Option<Type>) {
    if out.is_some() {
        return;
    }
    match (p, t) {
        (SigType::Var(v), t) if *v == var && !matches!(t, Type::EmptyElem | Type::Unknown | Type::Error) => {
            *out = Some(t.clone());
        }
        (SigType::Array(pe), Type::Array(te)) => bind_var(pe, te, var, out),
        (SigType::Map(pk, pv), Type::Map(tk, tv)) => {
            bind_var(pk, tk, var, out);
            bind_var(pv, tv, var, out);
        }
        (SigType::Tuple(ps), Type::Tuple(ts)) => {
            for (p, t) in ps.iter().zip(ts) {
                bind_var(p, t, var, out);
            }
        }
        (SigType::Fn(ps, pr), Type::Fn(ts, tr)) => {
            for (p, t) in ps.iter().zip(ts) {
                bind_var(p, t, var, out);
            }
            bind_var(pr, tr, var, out);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bp_runtime::builtins::sig::parse as parse_sig;

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
        let mut b = Bindings::default();
        assert!(b.unify(
            &m.params[0],
            &Type::Map(Box::new(Type::Str), Box::new(Type::Float))
        ));
        assert_eq!(b.subst(&m.ret), Some(Type::Array(Box::new(Type::Float))));
        assert!(!Bindings::default().unify(&m.params[0], &Type::Int));
    }

    #[test]
    fn kind_of_t_from_arguments_then_result() {
        let fill = parse_sig("(int, T) -> [T]").unwrap();
        let float_array = Type::Array(Box::new(Type::Float));
        assert_eq!(
            kind_of_t(&fill, [&Type::Int, &Type::Str], &float_array),
            ValKind::Ref
        );
        // An argument of unknown type does not bind `T`: the result type does.
        assert_eq!(
            kind_of_t(&fill, [&Type::Int, &Type::Error], &float_array),
            ValKind::Float
        );
        let make = parse_sig("() -> [T]").unwrap();
        assert_eq!(
            kind_of_t(&make, [], &Type::Array(Box::new(Type::Bool))),
            ValKind::Bool
        );
        assert_eq!(kind_of_t(&make, [], &Type::Error), ValKind::Int);
    }

    /// Source text of a value of signature type `t`, with `T` = int, `K` = str,
    /// `V` = float and `any` = int.
    fn value_of(t: &SigType) -> String {
        let list = |ts: &[SigType]| ts.iter().map(value_of).collect::<Vec<_>>().join(", ");
        match t {
            SigType::Int | SigType::Any | SigType::Var(TypeVar::T) => "1".into(),
            SigType::Float | SigType::Var(TypeVar::V) => "1.5".into(),
            SigType::Bool => "true".into(),
            SigType::Str | SigType::Var(TypeVar::K) => "\"k\"".into(),
            SigType::Ptr => "mutex_new()".into(),
            SigType::Array(e) => format!("[{}]", value_of(e)),
            SigType::Map(k, v) => format!("{{{}: {}}}", value_of(k), value_of(v)),
            SigType::Tuple(ts) if ts.len() == 1 => format!("({},)", list(ts)),
            SigType::Tuple(ts) => format!("({})", list(ts)),
            // Functions of the test's prelude (`PRELUDE`).
            SigType::Chan(e) if **e == SigType::Var(TypeVar::T) => "int_chan()".into(),
            SigType::Fn(ps, r) if ps[..] == [SigType::Int] && **r == SigType::Int => "twice".into(),
            SigType::Void | SigType::Fn(..) | SigType::Chan(_) => {
                panic!("no builtin takes a {t} argument yet: teach this test to write one")
            }
        }
    }

    fn type_text(t: &SigType) -> String {
        display_sig_type(t, &|v| {
            Some(
                match v {
                    TypeVar::T => "int",
                    TypeVar::K => "str",
                    TypeVar::V => "float",
                }
                .to_string(),
            )
        })
    }

    /// Whether `t` mentions a type variable (so an argument can bind it).
    fn mentions_var(t: &SigType) -> bool {
        match t {
            SigType::Var(_) => true,
            SigType::Array(e) | SigType::Chan(e) => mentions_var(e),
            SigType::Map(k, v) => mentions_var(k) || mentions_var(v),
            SigType::Tuple(ts) => ts.iter().any(mentions_var),
            SigType::Fn(ps, r) => ps.iter().any(mentions_var) || mentions_var(r),
            _ => false,
        }
    }

    /// Definitions the calls of [`value_of`] use.
    const PRELUDE: &str = "def int_chan() -> chan[int]:\n    return chan_new(0)\n\ndef twice(x: int) -> int:\n    return 2 * x\n\n";

    fn check_errors(src: &str) -> Vec<String> {
        let mut diags = crate::diag::Diagnostics::default();
        let mut modules = vec![crate::parser::parse_module(src, 0, "main", &mut diags)];
        crate::types::check::check_program(&mut modules, &mut diags);
        diags
            .list
            .iter()
            .filter(|d| d.severity == crate::diag::Severity::Error)
            .map(|d| d.message.clone())
            .collect()
    }

    /// The checker accepts a call of every builtin with arguments of the types its
    /// parsed signature lists, giving the result type the signature declares, and
    /// rejects a call with one argument too many: the checker reads the same
    /// parsed form as the compiler, the VM and the JIT.
    #[test]
    fn the_checker_accepts_every_builtin_as_its_signature_says() {
        let mut calls = String::new();
        for (i, (b, sig)) in bp_runtime::builtins::all()
            .iter()
            .zip(bp_runtime::builtins::signatures())
            .enumerate()
        {
            let args = sig.params.iter().map(value_of).collect::<Vec<_>>().join(", ");
            let call = format!("{}({args})", b.name);
            if sig.returns_void() {
                calls += &format!("    {call}\n");
            } else {
                calls += &format!("    let r{i}: {} = {call}\n", type_text(&sig.ret));
            }
            if !sig.variadic {
                let extra = if args.is_empty() {
                    "1".to_string()
                } else {
                    format!("{args}, 1")
                };
                let src = format!(
                    "{PRELUDE}def main() -> int:\n    {}({extra})\n    return 0\n",
                    b.name
                );
                let errors = check_errors(&src);
                let quoted = format!("'{}'", b.name);
                // The one error is the argument count. A result type that only the
                // context determines (`chan_new`) cannot be inferred in a statement
                // either: then exactly that second error, about the same call.
                let inferable =
                    Bindings::default().subst(&sig.ret).is_some() || sig.params.iter().any(mentions_var);
                let want_second = format!("cannot infer the result type of {quoted} here");
                let ok = match &errors[..] {
                    [only] => only.contains(&quoted),
                    [first, second] => !inferable && first.contains(&quoted) && *second == want_second,
                    _ => false,
                };
                assert!(
                    ok,
                    "{} with {} arguments: {errors:?}",
                    b.name,
                    sig.params.len() + 1
                );
            }
        }
        let src = format!("{PRELUDE}def main() -> int:\n{calls}    return 0\n");
        assert_eq!(check_errors(&src), Vec::<String>::new(), "in\n{src}");
    }
}
