//! Expression checking (LANGUAGE.md §6, §4.12, §9, §10 with the §16 decisions).
//!
//! `check_expr(e, expected)` computes and records `e.ty`. `expected` is only a hint
//! (the caller compares the result, usually through `check_expect`); it makes empty
//! literals `[]` / `{}` typeable and turns a tuple literal into an array literal where
//! an array is expected.

use super::{valid_map_key, Checker, FnCtx, FuncMeta, NamedType, VarLookup, Want, INTRINSICS};
use crate::ast::{BinOp, Expr, ExprKind, FStrPart, Ident, LambdaBody, Res, Span, UnOp};
use crate::types::builtin_sig::{display_sig_type, has_error, same_type, Bindings, SigType};
use crate::types::{FuncInfo, Type};

/// Field `name` among `fields`: its index and type, or the "has no field" message
/// (naming the owner `owner()`) and the field names to suggest from.
fn find_field(
    fields: &[(String, Type)],
    name: &str,
    owner: impl FnOnce() -> String,
) -> Result<(u32, Type), (String, Vec<String>)> {
    match fields.iter().position(|(n, _)| n == name) {
        Some(i) => Ok((i as u32, fields[i].1.clone())),
        None => Err((
            format!("{} has no field '{name}'", owner()),
            fields.iter().map(|(n, _)| n.clone()).collect(),
        )),
    }
}

/// `[]` or `{}`: literals whose type must come from the context.
fn is_empty_literal(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Array(v) => v.is_empty(),
        ExprKind::Map(v) => v.is_empty(),
        _ => false,
    }
}

/// A value of this type can be called (a `(fn(...) -> R)?` with a run-time null
/// check, made by `CallIndirect`).
fn callable(t: &Type) -> bool {
    matches!(t.non_null(), Type::Fn(..) | Type::Error)
}

/// Fixed-width integer types only exist at the FFI boundary; BetterPython code passes
/// and receives plain ints there.
fn fixed_as_int(t: &Type) -> Type {
    match t {
        Type::Fixed(_) => Type::Int,
        other => other.clone(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl Checker<'_> {
    /// Check `e` where a value of type `want` is required; a mismatch is reported
    /// according to `ctx`. Returns the type of `e` (`Error` after a mismatch).
    pub(super) fn check_expect(&mut self, e: &mut Expr, want: &Type, ctx: Want) -> Type {
        // `[]` where a `[T]?` is expected is a `[T]`.
        let t = self.check_expr(e, Some(want.non_null()));
        if !same_type(&t, want) {
            if let Some(seen) = self.coerce(e, &t, want, ctx) {
                return seen;
            }
            self.mismatch(e.span, ctx, want, &t);
            return Type::Error;
        }
        if has_error(&t) {
            want.clone()
        } else {
            t
        }
    }

    /// Check an expression whose value is used with no particular expected type; it
    /// must have a value (not be a void call).
    pub(super) fn check_value(&mut self, e: &mut Expr) -> Type {
        let t = self.check_expr(e, None);
        if t == Type::Void {
            self.error(e.span, "this expression has no value (its type is void)");
            return Type::Error;
        }
        t
    }

    /// Check an expression and record its type in `e.ty`.
    pub(super) fn check_expr(&mut self, e: &mut Expr, expected: Option<&Type>) -> Type {
        let t = self.expr_inner(e, expected);
        e.ty = t.clone();
        t
    }

    fn expr_inner(&mut self, e: &mut Expr, expected: Option<&Type>) -> Type {
        let span = e.span;
        match &mut e.kind {
            ExprKind::Int(_) => Type::Int,
            ExprKind::Float(_) => Type::Float,
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Str(_) => Type::Str,
            ExprKind::FString(parts) => {
                for p in parts.iter_mut() {
                    if let FStrPart::Expr(x) = p {
                        self.check_value(x);
                    }
                }
                Type::Str
            }
            ExprKind::Name { name, res } => self.check_name(name, res),
            ExprKind::Array(elems) => self.check_array(elems, expected, span),
            ExprKind::Map(pairs) => self.check_map(pairs, expected, span),
            ExprKind::Tuple(elems) => {
                if let Some(Type::Array(_)) = expected {
                    // Programs of the original use tuple literals as arrays.
                    let elems = std::mem::take(elems);
                    e.kind = ExprKind::Array(elems);
                    return match &mut e.kind {
                        ExprKind::Array(elems) => self.check_array(elems, expected, span),
                        _ => Type::Error,
                    };
                }
                let want = match expected {
                    Some(Type::Tuple(ts)) if ts.len() == elems.len() => Some(ts.clone()),
                    _ => None,
                };
                let mut out = Vec::with_capacity(elems.len());
                for (i, x) in elems.iter_mut().enumerate() {
                    let t = match &want {
                        Some(ts) => self.check_expect(x, &ts[i], Want::TupleElem(i)),
                        None => self.check_value(x),
                    };
                    out.push(t);
                }
                Type::Tuple(out)
            }
            ExprKind::StructLit {
                name,
                fields,
                struct_id,
                field_index,
            } => {
                let found = match self.named_type(&name.name, name.span) {
                    Some(NamedType::Struct(sid)) => Some(sid),
                    _ => None,
                };
                let Some(sid) = found else {
                    let msg = if self.mods[self.cur].classes.contains_key(&name.name) {
                        format!(
                            "'{}' is a class: create instances with 'new {}(...)'",
                            name.name, name.name
                        )
                    } else {
                        format!("unknown struct '{}'", name.name)
                    };
                    self.error(name.span, msg);
                    for (_, x) in fields.iter_mut() {
                        self.check_expr(x, Some(&Type::Error));
                    }
                    return Type::Error;
                };
                *struct_id = sid;
                let decl = self.info.structs[sid as usize].fields.clone();
                let sname = name.name.clone();
                field_index.clear();
                let mut seen = vec![false; decl.len()];
                for (fname, x) in fields.iter_mut() {
                    match decl.iter().position(|(n, _)| *n == fname.name) {
                        Some(i) => {
                            if seen[i] {
                                let msg =
                                    format!("duplicate field '{}' in struct literal '{sname}'", fname.name);
                                self.error(fname.span, msg);
                            }
                            seen[i] = true;
                            field_index.push(i as u32);
                            self.check_expect(x, &decl[i].1, Want::Field(&sname, &fname.name));
                        }
                        None => {
                            let known: Vec<String> = decl.iter().map(|(n, _)| n.clone()).collect();
                            let msg = format!("struct '{sname}' has no field '{}'", fname.name);
                            self.unknown_name_error(fname.span, msg, &fname.name, &known);
                            field_index.push(0);
                            self.check_expr(x, Some(&Type::Error));
                        }
                    }
                }
                for (i, (n, _)) in decl.iter().enumerate() {
                    if !seen[i] {
                        self.error(
                            name.span,
                            format!("missing field '{n}' in struct literal '{sname}'"),
                        );
                    }
                }
                Type::Struct(sid)
            }
            ExprKind::Unary { op, operand } => {
                let op = *op;
                let t = self.check_expr(operand, None);
                let (ok, result, sym, want) = match op {
                    UnOp::Neg => (
                        matches!(t, Type::Int | Type::Float),
                        t.clone(),
                        "-",
                        "int or float",
                    ),
                    UnOp::Not => (t == Type::Bool, Type::Bool, "not", "bool"),
                    UnOp::BitNot => (t == Type::Int, Type::Int, "~", "int"),
                };
                if t == Type::Error {
                    return if op == UnOp::Neg { Type::Error } else { result };
                }
                if !ok {
                    let msg = format!("operand of '{sym}': expected {want}, found {}", self.tn(&t));
                    self.error(span, msg);
                    return Type::Error;
                }
                result
            }
            ExprKind::Binary { op, lhs, rhs } => self.check_binary(*op, lhs, rhs, span),
            ExprKind::Index { base, index } => self.check_index(base, index, span),
            ExprKind::Field { .. } => self.check_field(e),
            ExprKind::Call { .. } => self.check_call(e, expected),
            ExprKind::MethodCall { .. } => self.check_method_call(e),
            ExprKind::CallValue { callee, args } => {
                let t = self.check_value(callee);
                let t = self.use_non_null(callee, t, |t| format!("calling a null {t}"));
                match &t {
                    Type::Fn(..) => self.call_value("the function value", &t, args, span),
                    Type::Error => {
                        self.check_loose(args);
                        Type::Error
                    }
                    other => {
                        let msg = format!(
                            "this is not a function (it has type {}); it cannot be called",
                            self.tn(other)
                        );
                        self.error(callee.span, msg);
                        self.check_loose(args);
                        Type::Error
                    }
                }
            }
            ExprKind::Lambda { .. } => self.check_lambda(e, None),
            ExprKind::New { .. } => self.check_new(e),
            ExprKind::Super { .. } => self.check_super(e),
            ExprKind::Null => Type::Null,
            ExprKind::Is { .. } | ExprKind::As { .. } => self.check_class_test(e),
            // Inserted by `coerce` on an expression already checked.
            ExprKind::NonNull { inner, .. } => inner.ty.non_null().clone(),
            // Made by `check_field` from a checked expression: not checked again.
            ExprKind::BoundMethod { .. } => Type::Error,
            ExprKind::SelfRef => match self.lookup_var("self") {
                VarLookup::Local(_, t) => t,
                VarLookup::Captured(_) => match self.capture("self") {
                    Some((_, t)) => t,
                    None => Type::Error,
                },
                _ => {
                    self.error(span, "'self' used outside of a method");
                    Type::Error
                }
            },
        }
    }

    /// Check expressions whose types cannot be related to anything (after an error):
    /// no further errors for empty literals.
    pub(super) fn check_loose(&mut self, args: &mut [Expr]) {
        for a in args.iter_mut() {
            self.check_expr(a, Some(&Type::Error));
        }
    }

    /// The type of an empty literal that met no usable expected type.
    fn empty_literal(&mut self, expected: Option<&Type>, span: Span, what: &str) -> Type {
        match expected {
            Some(Type::Error) => {}
            Some(t) => {
                let msg = format!("type mismatch: expected {}, found an empty {what}", self.tn(t));
                self.error(span, msg);
            }
            None => self.error(span, "cannot infer the type of an empty literal"),
        }
        Type::Error
    }

    fn check_array(&mut self, elems: &mut [Expr], expected: Option<&Type>, span: Span) -> Type {
        if let Some(Type::Array(et)) = expected {
            let et = (**et).clone();
            for x in elems.iter_mut() {
                self.check_expect(x, &et, Want::Elem);
            }
            return Type::Array(Box::new(et));
        }
        if elems.is_empty() {
            return self.empty_literal(expected, span, "array");
        }
        // The element type comes from the first element that is not itself empty.
        let Some(first) = elems.iter().position(|x| !is_empty_literal(x)) else {
            self.error(span, "cannot infer the type of an empty literal");
            self.check_loose(elems);
            return Type::Error;
        };
        let et = self.check_value(&mut elems[first]);
        for (i, x) in elems.iter_mut().enumerate() {
            if i != first {
                self.check_expect(x, &et, Want::Elem);
            }
        }
        Type::Array(Box::new(et))
    }

    fn check_map(&mut self, pairs: &mut [(Expr, Expr)], expected: Option<&Type>, span: Span) -> Type {
        if let Some(Type::Map(kt, vt)) = expected {
            let (kt, vt) = ((**kt).clone(), (**vt).clone());
            for (k, v) in pairs.iter_mut() {
                self.check_expect(k, &kt, Want::MapKey);
                self.check_expect(v, &vt, Want::MapValue);
            }
            return Type::Map(Box::new(kt), Box::new(vt));
        }
        if pairs.is_empty() {
            return self.empty_literal(expected, span, "map");
        }
        let kt = self.check_value(&mut pairs[0].0);
        if !valid_map_key(&kt) {
            let msg = format!(
                "map keys must be int, float, bool, str or a tuple of them, found {}",
                self.tn(&kt)
            );
            self.error(pairs[0].0.span, msg);
        }
        let first_v = pairs.iter().position(|(_, v)| !is_empty_literal(v));
        let vt = match first_v {
            Some(i) => self.check_value(&mut pairs[i].1),
            None => {
                self.error(pairs[0].1.span, "cannot infer the type of an empty literal");
                Type::Error
            }
        };
        for (i, (k, v)) in pairs.iter_mut().enumerate() {
            if i != 0 {
                self.check_expect(k, &kt, Want::MapKey);
            }
            if Some(i) != first_v {
                self.check_expect(v, &vt, Want::MapValue);
            }
        }
        Type::Map(Box::new(kt), Box::new(vt))
    }

    fn check_name(&mut self, name: &Ident, res: &mut Res) -> Type {
        match self.lookup_var(&name.name) {
            VarLookup::Local(id, t) => {
                *res = Res::Local(id);
                // Narrowed by the flow (`if x != null:`)?
                match self.ctxs.last().and_then(|c| c.facts.known.get(&id)) {
                    Some(known) => known.clone(),
                    None => t,
                }
            }
            VarLookup::Global(id, t) => {
                *res = Res::Global(id);
                t
            }
            VarLookup::Captured(_) => match self.capture(&name.name) {
                Some((id, t)) => {
                    *res = Res::Local(id);
                    t
                }
                None => Type::Error,
            },
            VarLookup::LaterGlobal => {
                self.error(
                    name.span,
                    format!("global '{}' is used before its definition", name.name),
                );
                Type::Error
            }
            VarLookup::NotFound => {
                if let Some(fid) = self.lookup_func(&name.name) {
                    *res = Res::Func(fid);
                    return self.func_type(fid);
                }
                let n = name.name.as_str();
                let m = &self.mods[self.cur];
                let msg = if m.externs.contains_key(n) {
                    format!("extern function '{n}' cannot be used as a value")
                } else if bp_runtime::builtins::id_of(n).is_some() || INTRINSICS.contains(&n) {
                    format!("builtin function '{n}' cannot be used as a value")
                } else if m.structs.contains_key(n) {
                    format!("'{n}' is a struct, not a value")
                } else if m.classes.contains_key(n) {
                    format!("'{n}' is a class, not a value (create an instance with 'new {n}(...)')")
                } else if m.enums.contains_key(n) {
                    format!("'{n}' is an enum, not a value (use {n}.MEMBER)")
                } else if m.imports.contains_key(n) {
                    format!("'{n}' is a module, not a value")
                } else {
                    let known = self.value_names();
                    let msg = format!("undefined variable '{n}'");
                    self.unknown_name_error(name.span, msg, n, &known);
                    return Type::Error;
                };
                self.error(name.span, msg);
                Type::Error
            }
        }
    }

    fn func_type(&self, fid: u32) -> Type {
        match self.info.funcs.get(fid as usize) {
            Some(f) => Type::Fn(f.params.clone(), Box::new(f.ret.clone())),
            None => Type::Error,
        }
    }

    fn check_binary(&mut self, op: BinOp, lhs: &mut Expr, rhs: &mut Expr, span: Span) -> Type {
        use Type::{Bool, Error, Float, Int, Str};
        let sym = op.symbol();
        match op {
            BinOp::And | BinOp::Or => {
                let lt = self.check_expr(lhs, Some(&Bool));
                // The right operand runs only when the left one is true (`and`) or
                // false (`or`): it sees what that says (`x != null and x.v > 0`).
                let (when_true, when_false) = self.cond_facts(lhs);
                let saved = self.begin_branch();
                self.add_facts(if op == BinOp::And { when_true } else { when_false });
                let rt = self.check_expr(rhs, Some(&Bool));
                self.end_branch(saved);
                if !same_type(&lt, &Bool) || !same_type(&rt, &Bool) {
                    let msg = format!(
                        "operator '{sym}' cannot be applied to {} and {}",
                        self.tn(&lt),
                        self.tn(&rt)
                    );
                    self.error(span, msg);
                }
                Bool
            }
            BinOp::Eq | BinOp::Ne => {
                let (lt, rt) = if is_empty_literal(lhs) && !is_empty_literal(rhs) {
                    let rt = self.check_value(rhs);
                    (self.check_expr(lhs, Some(&rt)), rt)
                } else {
                    let lt = self.check_value(lhs);
                    // The left type is only a hint for literals that need one (`xs == []`,
                    // `arr == (1, 2)`); otherwise a mismatch is reported for the operator.
                    let hint = is_empty_literal(rhs) || matches!(rhs.kind, ExprKind::Tuple(_));
                    (
                        lt.clone(),
                        self.check_expr(rhs, if hint { Some(&lt) } else { None }),
                    )
                };
                if rt == Type::Void {
                    self.error(rhs.span, "this expression has no value (its type is void)");
                } else if !self.comparable(&lt, &rt) {
                    let msg = format!(
                        "cannot compare {} and {} with '{sym}'",
                        self.tn(&lt),
                        self.tn(&rt)
                    );
                    self.error(span, msg);
                }
                Bool
            }
            _ => {
                let lt = self.check_expr(lhs, None);
                let rt = self.check_expr(rhs, None);
                let (result, ok, note) = match op {
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                        let fits = |t: &Type| matches!(t, Int | Float) || (op == BinOp::Add && *t == Str);
                        let note = if op == BinOp::Add {
                            " (+ supports int+int, float+float, or str+str)"
                        } else {
                            " (arithmetic needs two ints or two floats)"
                        };
                        match (&lt, &rt) {
                            (Error, Error) => (Error, true, note),
                            (Error, t) | (t, Error) => (if fits(t) { t.clone() } else { Error }, true, note),
                            (a, b) if a == b && fits(a) => (a.clone(), true, note),
                            _ => (Error, false, note),
                        }
                    }
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        if lt == Str && rt == Str {
                            let msg = format!(
                                "strings cannot be compared with '{sym}' (comparisons expect int or float)"
                            );
                            self.error(span, msg);
                            return Bool;
                        }
                        let ok = matches!((&lt, &rt), (Error, _) | (_, Error) | (Int, Int) | (Float, Float));
                        (Bool, ok, " (comparisons expect int or float)")
                    }
                    _ => {
                        // & | ^ << >>
                        let ok = (matches!(lt, Int | Error) && matches!(rt, Int | Error))
                            || lt == Error
                            || rt == Error;
                        (if ok { Int } else { Error }, ok, " (bitwise ops expect int)")
                    }
                };
                if !ok {
                    let (l, r) = (self.tn(&lt), self.tn(&rt));
                    self.error(
                        span,
                        format!("operator '{sym}' cannot be applied to {l} and {r}{note}"),
                    );
                }
                result
            }
        }
    }

    fn check_index(&mut self, base: &mut Expr, index: &mut Expr, span: Span) -> Type {
        let bt = self.check_expr(base, None);
        let bt = self.use_non_null(base, bt, |t| format!("indexing a null {t}"));
        match bt {
            Type::Array(et) => {
                let it = self.check_expr(index, Some(&Type::Int));
                if !same_type(&it, &Type::Int) {
                    let msg = format!("array index must be int, found {}", self.tn(&it));
                    self.error(index.span, msg);
                }
                *et
            }
            Type::Map(kt, vt) => {
                self.check_expect(index, &kt, Want::MapKey);
                *vt
            }
            Type::Tuple(ts) => {
                let lit = match &index.kind {
                    ExprKind::Int(n) => Some(*n),
                    ExprKind::Unary {
                        op: UnOp::Neg,
                        operand,
                    } => match operand.kind {
                        ExprKind::Int(n) => n.checked_neg(),
                        _ => None,
                    },
                    _ => None,
                };
                let len = ts.len() as i64;
                let Some(n) = lit else {
                    self.check_expr(index, None);
                    self.error(index.span, "a tuple index must be an integer literal");
                    return Type::Error;
                };
                let pos = if n < 0 { n + len } else { n };
                if pos < 0 || pos >= len {
                    let msg = format!(
                        "tuple index {n} is out of range for {}",
                        self.tn(&Type::Tuple(ts))
                    );
                    self.error(index.span, msg);
                    self.check_expr(index, None);
                    return Type::Error;
                }
                // Negative literals count from the end; the compiler sees the position.
                *index = Expr {
                    kind: ExprKind::Int(pos),
                    span: index.span,
                    ty: Type::Int,
                };
                ts[pos as usize].clone()
            }
            Type::Error => {
                self.check_expr(index, Some(&Type::Error));
                Type::Error
            }
            Type::Str => {
                self.check_expr(index, None);
                self.error(
                    span,
                    "cannot index a value of type str (use str_char_at or substr)",
                );
                Type::Error
            }
            other => {
                self.check_expr(index, None);
                let msg = format!("cannot index a value of type {}", self.tn(&other));
                self.error(span, msg);
                Type::Error
            }
        }
    }

    /// `E.V` for an enum `E`, or `m.f` for an imported module `m` (a function value):
    /// the replacement node and its type. `None` if `base` is not such a name.
    fn static_path(&mut self, base: &Ident, field: &Ident) -> Option<(ExprKind, Type)> {
        if !matches!(self.lookup_var(&base.name), VarLookup::NotFound) {
            return None;
        }
        let m = &self.mods[self.cur];
        if let Some(en) = m.enums.get(&base.name) {
            let value = en.variants.get(&field.name).copied();
            let ename = en.name.clone();
            return Some(match value {
                Some(v) => (ExprKind::Int(v), Type::Int),
                None => {
                    self.error(
                        field.span,
                        format!("enum '{ename}' has no member '{}'", field.name),
                    );
                    (ExprKind::Int(0), Type::Error)
                }
            });
        }
        let &mi = m.imports.get(&base.name)?;
        let fid = self.module_func(mi, field)?;
        let name = Ident {
            name: format!("{}.{}", base.name, field.name),
            span: base.span.to(field.span),
        };
        Some((
            ExprKind::Name {
                name,
                res: Res::Func(fid),
            },
            self.func_type(fid),
        ))
    }

    /// `m.E.V` for an enum `E` of the imported module `m`; `None` if `m.E` is not
    /// such an enum.
    fn module_enum_member(&mut self, m: &Ident, e: &Ident, member: &Ident) -> Option<(ExprKind, Type)> {
        if !matches!(self.lookup_var(&m.name), VarLookup::NotFound) {
            return None;
        }
        let &mi = self.mods[self.cur].imports.get(&m.name)?;
        let target = &self.mods[mi];
        let en = target.enums.get(&e.name)?;
        let value = en.variants.get(&member.name).copied();
        let exported = target.exported_types.contains(&e.name);
        let (mname, ename) = (target.name.clone(), en.name.clone());
        if !exported {
            let msg = format!("'{ename}' is not exported from module '{mname}' (declare it with 'export')");
            self.error(e.span, msg);
        }
        Some(match value {
            Some(v) => (ExprKind::Int(v), Type::Int),
            None => {
                let msg = format!("enum '{mname}.{ename}' has no member '{}'", member.name);
                self.error(member.span, msg);
                (ExprKind::Int(0), Type::Error)
            }
        })
    }

    /// Function `f` of module `mi` accessed as `m.f`; reports a missing or
    /// non-exported function (the function is still returned when it exists).
    fn module_func(&mut self, mi: usize, f: &Ident) -> Option<u32> {
        let mname = self.mods[mi].name.clone();
        match self.mods[mi].funcs.get(&f.name).copied() {
            Some(fid) => {
                if !self.func_meta[fid as usize].exported {
                    self.error(
                        f.span,
                        format!("function '{}' is not exported from module '{mname}'", f.name),
                    );
                }
                Some(fid)
            }
            None => {
                self.error(f.span, format!("module '{mname}' has no function '{}'", f.name));
                None
            }
        }
    }

    fn check_field(&mut self, e: &mut Expr) -> Type {
        let path = match &e.kind {
            ExprKind::Field { base, field, .. } => match &base.kind {
                ExprKind::Name { name, .. } => {
                    let is_module = self.mods[self.cur].imports.contains_key(&name.name);
                    match self.static_path(name, field) {
                        Some(p) => Some(p),
                        None if is_module && matches!(self.lookup_var(&name.name), VarLookup::NotFound) => {
                            Some((ExprKind::Int(0), Type::Error))
                        }
                        None => None,
                    }
                }
                // `m.E.V`: a member of an enum of an imported module.
                ExprKind::Field {
                    base: inner,
                    field: ename,
                    ..
                } => match &inner.kind {
                    ExprKind::Name { name: m, .. } => self.module_enum_member(m, ename, field),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        if let Some((kind, t)) = path {
            e.kind = kind;
            return t;
        }
        let span = e.span;
        let ExprKind::Field {
            base,
            field,
            field_index,
        } = &mut e.kind
        else {
            return Type::Error;
        };
        let bt = self.check_expr(base, None);
        let fname = field.name.clone();
        let bt = self.use_non_null(base, bt, |t| format!("field '{fname}' of a null {t}"));
        // `obj.m` without a call: the method bound to the object.
        if let Some((func_id, ty)) = self.bound_method(&bt, &fname) {
            let kind = std::mem::replace(&mut e.kind, ExprKind::Null);
            if let ExprKind::Field { base, field, .. } = kind {
                e.kind = ExprKind::BoundMethod {
                    receiver: base,
                    method: field,
                    func_id,
                };
            }
            return ty;
        }
        // (A method name was taken as a bound method above.)
        let declared = match &bt {
            Type::Class(cid) => {
                let c = &self.info.classes[*cid as usize];
                Some(find_field(&c.fields, &field.name, || {
                    format!("class '{}'", c.name)
                }))
            }
            Type::Struct(sid) => {
                let s = &self.info.structs[*sid as usize];
                Some(find_field(&s.fields, &field.name, || {
                    format!("struct '{}'", s.name)
                }))
            }
            _ => None,
        };
        match declared {
            Some(Ok((i, t))) => {
                *field_index = i;
                return t;
            }
            Some(Err((msg, known))) => {
                self.unknown_name_error(field.span, msg, &field.name, &known);
                return Type::Error;
            }
            None => {}
        }
        match &bt {
            Type::Tuple(ts) => match field.name.parse::<usize>() {
                Ok(i) if i < ts.len() => {
                    *field_index = i as u32;
                    ts[i].clone()
                }
                Ok(_) => {
                    let msg = format!("tuple index {} is out of range for {}", field.name, self.tn(&bt));
                    self.error(field.span, msg);
                    Type::Error
                }
                Err(_) => {
                    let msg = format!(
                        "type {} has no field '{}' (tuple elements are read as .0, .1, ...)",
                        self.tn(&bt),
                        field.name
                    );
                    self.error(field.span, msg);
                    Type::Error
                }
            },
            Type::Error => Type::Error,
            other => {
                let msg = format!("cannot access field '{}' on type {}", field.name, self.tn(other));
                self.error(span, msg);
                Type::Error
            }
        }
    }

    /// Check arguments against parameter types (arity and each type).
    pub(super) fn check_args(&mut self, fname: &str, params: &[Type], args: &mut [Expr], span: Span) {
        if params.len() != args.len() {
            let msg = format!(
                "function '{fname}' expects {} argument{}, got {}",
                params.len(),
                plural(params.len()),
                args.len()
            );
            self.error(span, msg);
        }
        for (i, a) in args.iter_mut().enumerate() {
            match params.get(i) {
                Some(p) => {
                    self.check_expect(a, p, Want::Arg(i, fname));
                }
                None => {
                    self.check_expr(a, Some(&Type::Error));
                }
            }
        }
    }

    /// Call a value of function type (a local or global variable).
    fn call_value(&mut self, name: &str, t: &Type, args: &mut [Expr], span: Span) -> Type {
        match t.non_null() {
            Type::Fn(ps, r) => {
                self.check_args(name, ps, args, span);
                (**r).clone()
            }
            _ => {
                self.check_loose(args);
                Type::Error
            }
        }
    }

    fn check_call(&mut self, e: &mut Expr, expected: Option<&Type>) -> Type {
        let span = e.span;
        let ExprKind::Call { callee, args, res } = &mut e.kind else {
            return Type::Error;
        };
        let name = callee.name.clone();
        if !self.check_arg_count(args.len(), span) {
            self.check_loose(args);
            return Type::Error;
        }
        // 1. A variable of function type (innermost binding wins).
        let var = self.lookup_var(&name);
        match &var {
            VarLookup::Local(id, t) if callable(t) => {
                *res = Res::Local(*id);
                return self.call_value(&name, t, args, span);
            }
            VarLookup::Global(id, t) if callable(t) => {
                *res = Res::Global(*id);
                return self.call_value(&name, t, args, span);
            }
            VarLookup::Captured(t) if callable(t) => {
                if let Some((id, t)) = self.capture(&name) {
                    *res = Res::Local(id);
                    return self.call_value(&name, &t, args, span);
                }
                self.check_loose(args);
                return Type::Error;
            }
            _ => {}
        }
        // 2. A user function of this module (or imported by name): wins over builtins.
        if let Some(fid) = self.lookup_func(&name) {
            *res = Res::Func(fid);
            let f = &self.info.funcs[fid as usize];
            let (params, ret) = (f.params.clone(), f.ret.clone());
            self.check_args(&name, &params, args, span);
            return ret;
        }
        // 3. An extern function of this module.
        if let Some(&xid) = self.mods[self.cur].externs.get(&name) {
            *res = Res::Extern(xid);
            let x = &self.info.externs[xid as usize];
            let params: Vec<Type> = x.params.iter().map(fixed_as_int).collect();
            let ret = fixed_as_int(&x.ret);
            self.check_args(&name, &params, args, span);
            return ret;
        }
        // 4. print / typeof.
        if name == "print" {
            *res = Res::Intrinsic("print");
            for a in args.iter_mut() {
                self.check_value(a);
            }
            return Type::Void;
        }
        if name == "typeof" {
            *res = Res::Intrinsic("typeof");
            if args.len() != 1 {
                self.error(
                    span,
                    format!("function 'typeof' expects 1 argument, got {}", args.len()),
                );
            }
            for a in args.iter_mut() {
                self.check_value(a);
            }
            return Type::Str;
        }
        // 5. The runtime's builtins.
        if let Some(bid) = bp_runtime::builtins::id_of(&name) {
            *res = Res::Builtin(bid);
            return self.check_builtin(bid, &name, args, span, expected);
        }
        let msg = match &var {
            VarLookup::Local(_, t) | VarLookup::Global(_, t) | VarLookup::Captured(t) => {
                format!("'{name}' is not a function (it has type {})", self.tn(t))
            }
            _ if self.mods[self.cur].structs.contains_key(&name) => {
                format!("'{name}' is a struct; create one with a literal {name}{{field: value, ...}}")
            }
            _ => {
                let known = self.callable_names();
                self.unknown_name_error(callee.span, format!("unknown function '{name}'"), &name, &known);
                self.check_loose(args);
                return Type::Error;
            }
        };
        self.error(callee.span, msg);
        self.check_loose(args);
        Type::Error
    }

    fn check_builtin(
        &mut self,
        id: u32,
        name: &str,
        args: &mut [Expr],
        span: Span,
        expected: Option<&Type>,
    ) -> Type {
        let Some(sig) = bp_runtime::builtins::signature(id) else {
            self.error(span, format!("internal error: no builtin '{name}' (#{id})"));
            self.check_loose(args);
            return Type::Error;
        };
        let n = sig.params.len();
        if args.len() != n && !(sig.variadic && args.len() > n) {
            let at_least = if sig.variadic { "at least " } else { "" };
            let msg = format!(
                "function '{name}' expects {at_least}{n} argument{}, got {}",
                plural(n),
                args.len()
            );
            self.error(span, msg);
        }
        let mut b = Bindings::default();
        // Empty literals wait until the other arguments have bound the type variables.
        let mut deferred = Vec::new();
        for (i, a) in args.iter_mut().enumerate() {
            match sig.params.get(i) {
                Some(p) => {
                    if is_empty_literal(a) && b.subst(p).is_none() {
                        deferred.push(i);
                    } else {
                        self.builtin_arg(a, p, &mut b, name, i);
                    }
                }
                None if sig.variadic => {
                    self.check_value(a);
                }
                None => {
                    self.check_expr(a, Some(&Type::Error));
                }
            }
        }
        for i in deferred {
            self.builtin_arg(&mut args[i], &sig.params[i], &mut b, name, i);
        }
        if let Some(t) = b.subst(&sig.ret) {
            return t;
        }
        // A result type that no argument determines, e.g. `() -> [T]`: use the context.
        if let Some(exp) = expected {
            if b.unify(&sig.ret, exp) {
                if let Some(t) = b.subst(&sig.ret) {
                    return t;
                }
            }
        }
        if !args.iter().any(|a| has_error(&a.ty)) {
            self.error(span, format!("cannot infer the result type of '{name}' here"));
        }
        Type::Error
    }

    fn builtin_arg(&mut self, a: &mut Expr, p: &SigType, b: &mut Bindings, name: &str, i: usize) {
        if let Some(want) = b.subst(p) {
            self.check_expect(a, &want, Want::Arg(i, name));
            return;
        }
        let t = if *p == SigType::Any {
            self.check_value(a)
        } else {
            let t = self.check_expr(a, None);
            self.use_non_null(a, t, |t| format!("argument {} of '{name}' is a null {t}", i + 1))
        };
        if !b.unify(p, &t) {
            let shown = display_sig_type(p, &|v| b.get(v).map(|t| self.tn(t)));
            let msg = format!(
                "argument {} of '{name}': expected {shown}, found {}",
                i + 1,
                self.tn(&t)
            );
            self.error(a.span, msg);
        }
    }

    /// For `obj.name` where `name` is a method (and no field) of the struct or class
    /// type `t`: the function id of the bound method (made once per method) and its
    /// function type.
    fn bound_method(&mut self, t: &Type, name: &str) -> Option<(u32, Type)> {
        let (key, target, class, fid) = match t {
            Type::Struct(sid) => {
                if self.info.structs[*sid as usize]
                    .fields
                    .iter()
                    .any(|(n, _)| n == name)
                {
                    return None;
                }
                let fid = self.method_id(*sid, name)?;
                ((false, *sid, name.to_string()), Res::Func(fid), None, fid)
            }
            Type::Class(cid) => {
                let c = &self.info.classes[*cid as usize];
                if c.fields.iter().any(|(n, _)| n == name) {
                    return None;
                }
                let slot = c.slot(name)?;
                let fid = c.vtable[slot].1;
                (
                    (true, *cid, name.to_string()),
                    self.dispatch(*cid, slot),
                    Some(*cid),
                    fid,
                )
            }
            _ => return None,
        };
        let f = &self.info.funcs[fid as usize];
        let ty = Type::Fn(
            f.params.iter().skip(1).cloned().collect(),
            Box::new(f.ret.clone()),
        );
        if let Some(&id) = self.bound_ids.get(&key) {
            return Some((id, ty));
        }
        let (params, ret) = (f.params.iter().skip(1).cloned().collect(), f.ret.clone());
        let display = format!("{}.{name}", self.tn(t));
        let id = self.info.funcs.len() as u32;
        self.info.funcs.push(FuncInfo {
            name: display,
            params,
            ret,
        });
        let span = self.func_meta[fid as usize].span;
        self.func_meta.push(FuncMeta {
            exported: false,
            span,
        });
        self.info.bound_methods.push(crate::types::BoundMethod {
            func_id: id,
            target,
            class,
        });
        self.bound_ids.insert(key, id);
        Some((id, ty))
    }

    /// The index and type of field `name` of a struct or class type `t` when it
    /// holds a function and there is no method of that name.
    fn function_field(&self, t: &Type, name: &str) -> Option<(u32, Type)> {
        let (fields, is_method) = match t {
            Type::Struct(sid) => (
                &self.info.structs[*sid as usize].fields,
                self.method_id(*sid, name).is_some(),
            ),
            Type::Class(cid) => {
                let c = &self.info.classes[*cid as usize];
                (&c.fields, c.slot(name).is_some())
            }
            _ => return None,
        };
        if is_method {
            return None;
        }
        let i = fields.iter().position(|(n, _)| n == name)?;
        matches!(fields[i].1.non_null(), Type::Fn(..)).then(|| (i as u32, fields[i].1.clone()))
    }

    /// `obj.name(args)` where the struct or class `owner` has no method `name`: a
    /// field of that name cannot be called (it holds no function), else the
    /// method is unknown (with a close name suggested from `known`).
    fn no_method_error(
        &mut self,
        owner: &str,
        is_field: bool,
        known: &[String],
        method: &Ident,
        args: &mut [Expr],
    ) -> Type {
        if is_field {
            let msg = format!(
                "'{}' is a field of {owner}, not a method (only a field holding a function can be called)",
                method.name
            );
            self.error(method.span, msg);
        } else {
            let msg = format!("{owner} has no method '{}'", method.name);
            self.unknown_name_error(method.span, msg, &method.name, known);
        }
        self.check_loose(args);
        Type::Error
    }

    /// The arguments of a call of method `fid` (its parameters after `self`);
    /// returns its result type.
    fn check_method_args(&mut self, display: &str, fid: u32, args: &mut [Expr], span: Span) -> Type {
        let f = &self.info.funcs[fid as usize];
        let params: Vec<Type> = f.params.iter().skip(1).cloned().collect();
        let ret = f.ret.clone();
        self.check_args(display, &params, args, span);
        ret
    }

    fn check_method_call(&mut self, e: &mut Expr) -> Type {
        let span = e.span;
        let ExprKind::MethodCall {
            receiver,
            method,
            args,
            res,
        } = &mut e.kind
        else {
            return Type::Error;
        };
        if !self.check_arg_count(args.len(), span) {
            self.check_loose(args);
            return Type::Error;
        }
        // `mod.f(args)`: a call of function `f` of an imported module.
        if let ExprKind::Name { name, .. } = &receiver.kind {
            let target = self.mods[self.cur].imports.get(&name.name).copied();
            if let (Some(mi), VarLookup::NotFound) = (target, self.lookup_var(&name.name)) {
                let display = format!("{}.{}", name.name, method.name);
                receiver.ty = Type::Void;
                return match self.module_func(mi, method) {
                    Some(fid) => {
                        *res = Res::Func(fid);
                        let f = &self.info.funcs[fid as usize];
                        let (params, ret) = (f.params.clone(), f.ret.clone());
                        self.check_args(&display, &params, args, span);
                        ret
                    }
                    None => {
                        self.check_loose(args);
                        Type::Error
                    }
                };
            }
        }
        let rt = self.check_expr(receiver, None);
        let mname = method.name.clone();
        let rt = self.use_non_null(receiver, rt, |t| format!("method '{mname}' called on a null {t}"));
        // `obj.f(args)` where `f` is a field holding a function: call its value.
        if let Some((index, fty)) = self.function_field(&rt, &mname) {
            let kind = std::mem::replace(&mut e.kind, ExprKind::Null);
            let ExprKind::MethodCall {
                receiver,
                method,
                mut args,
                ..
            } = kind
            else {
                return Type::Error;
            };
            let fspan = receiver.span.to(method.span);
            let mut callee = Expr::new(
                ExprKind::Field {
                    base: receiver,
                    field: method,
                    field_index: index,
                },
                fspan,
            );
            callee.ty = fty.clone();
            let fty = self.use_non_null(&mut callee, fty, |t| {
                format!("calling the null {t} in field '{mname}'")
            });
            let ret = self.call_value(&mname, &fty, &mut args, span);
            e.kind = ExprKind::CallValue {
                callee: Box::new(callee),
                args,
            };
            return ret;
        }
        match &rt {
            // The receiver is passed as one more argument.
            Type::Struct(_) | Type::Class(_) if !self.check_arg_count(args.len() + 1, span) => {
                self.check_loose(args);
                Type::Error
            }
            Type::Class(cid) => {
                let c = &self.info.classes[*cid as usize];
                match c.slot(&method.name) {
                    Some(slot) => {
                        let fid = c.vtable[slot].1;
                        let display = format!("{}.{}", c.name, method.name);
                        *res = self.dispatch(*cid, slot);
                        self.check_method_args(&display, fid, args, span)
                    }
                    None => {
                        let owner = format!("class '{}'", c.name);
                        let is_field = c.fields.iter().any(|(n, _)| *n == method.name);
                        let known: Vec<String> = c.vtable.iter().map(|(n, _)| n.clone()).collect();
                        if method.name == "__init__" {
                            let msg = format!(
                                "__init__ runs through 'new {}(...)' (or super.__init__ in a subclass)",
                                c.name
                            );
                            self.error(method.span, msg);
                            self.check_loose(args);
                            return Type::Error;
                        }
                        self.no_method_error(&owner, is_field, &known, method, args)
                    }
                }
            }
            Type::Struct(sid) => {
                let s = &self.info.structs[*sid as usize];
                match self.method_id(*sid, &method.name) {
                    Some(fid) => {
                        *res = Res::Func(fid);
                        let display = format!("{}.{}", s.name, method.name);
                        self.check_method_args(&display, fid, args, span)
                    }
                    None => {
                        let owner = format!("struct '{}'", s.name);
                        let is_field = s.fields.iter().any(|(n, _)| *n == method.name);
                        let known: Vec<String> = s.methods.iter().map(|(n, _)| n.clone()).collect();
                        self.no_method_error(&owner, is_field, &known, method, args)
                    }
                }
            }
            Type::Error => {
                self.check_loose(args);
                Type::Error
            }
            other => {
                let msg = format!("type {} has no method '{}'", self.tn(other), method.name);
                self.error(method.span, msg);
                self.check_loose(args);
                Type::Error
            }
        }
    }
}

impl Checker<'_> {
    /// The parameter and result types a lambda (or nested `def`) declares,
    /// resolved (with their errors reported once).
    pub(super) fn lambda_signature(&mut self, e: &Expr) -> (Vec<Type>, Type) {
        let ExprKind::Lambda { params, ret, .. } = &e.kind else {
            return (Vec::new(), Type::Error);
        };
        let mut ptys = Vec::with_capacity(params.len());
        for p in params.iter() {
            match &p.ty {
                Some(t) => ptys.push(self.resolve_type(t, false)),
                None => {
                    self.error(
                        p.name.span,
                        format!("lambda parameter '{}' needs a type", p.name.name),
                    );
                    ptys.push(Type::Error);
                }
            }
        }
        (ptys, self.resolve_type(ret, true))
    }

    /// A lambda, or the function of a nested `def` (`def`: its name and its
    /// signature, resolved already): its body in a function context of its own,
    /// whose uses of the enclosing functions' variables become captures.
    pub(super) fn check_lambda(&mut self, e: &mut Expr, def: Option<(&str, (Vec<Type>, Type))>) -> Type {
        let (name, (ptys, rt)) = match def {
            Some((name, sig)) => (name.to_string(), sig),
            None => ("<lambda>".to_string(), self.lambda_signature(e)),
        };
        let span = e.span;
        let ExprKind::Lambda {
            params,
            body,
            func_id,
            locals,
            captures,
            ..
        } = &mut e.kind
        else {
            return Type::Error;
        };
        self.check_param_count("lambda", params.len(), span);
        self.ctxs.push(FnCtx::new(rt.clone()));
        for (p, t) in params.iter_mut().zip(&ptys) {
            p.local = self.declare_local(&p.name, t.clone());
            self.ctx().locals[p.local as usize].cellable = true;
        }
        match body {
            LambdaBody::Expr(body) => {
                self.check_expect(body, &rt, Want::Lambda);
            }
            LambdaBody::Block(block) => {
                self.check_block(block);
                if rt != Type::Void && !super::block_returns(block) {
                    self.diags.warning(
                        span,
                        format!("function '{name}' may end without returning a value"),
                    );
                }
            }
        }
        if let Some(ctx) = self.ctxs.pop() {
            self.check_captured_assignments(&ctx.locals);
            *captures = ctx.captures;
            *locals = ctx.locals;
        }
        let id = self.info.funcs.len() as u32;
        self.info.funcs.push(FuncInfo {
            name,
            params: ptys.clone(),
            ret: rt.clone(),
        });
        self.func_meta.push(FuncMeta {
            exported: false,
            span,
        });
        *func_id = id;
        Type::Fn(ptys, Box::new(rt))
    }
}
