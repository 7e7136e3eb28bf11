//! Classes and nullable references (LANGUAGE.md §4.15 made real; docs/language.md,
//! "Classes" and "Nullable references").
//!
//! * Declaration: `declare_class` gives each class an id and its methods function
//!   ids; `resolve_class` resolves the parent, the own fields and the method
//!   signatures; `finish_classes` then builds, parents first, every class's full
//!   field list (the parent's fields first, so a field has one position in every
//!   subclass) and method table (the parent's slots first; an override keeps its
//!   slot and must keep its signature). `__init__` is not in the method table: it
//!   is found through [`ClassInfo::init`], own or inherited.
//! * A field whose type cannot be null and has no zero value (strings, containers,
//!   structs, classes, functions) must be given a value by `__init__`
//!   ([`Checker::check_field_init`]), so `new` can allocate every instance with
//!   zero bits and no such field is ever read as null.
//! * Method calls whose target is the same in every subclass of the receiver's
//!   static class are direct calls (`Res::Func`); the others dispatch through the
//!   method table (`Res::Virtual(slot)`).
//! * `T?` is accepted where `T` is needed: [`Checker::coerce`] wraps the expression
//!   in `ExprKind::NonNull`, a run-time check with a message naming what was null.
//!   Flow facts (`if x != null:`, `if x == null: return`, `x is C`) narrow locals
//!   so that no check is needed there ([`Facts`]).

use super::{block_returns, Checker, NamedType, VarLookup, Want, MAX_FIELDS};
use crate::ast::{self, Block, ClassDef, Expr, ExprKind, Ident, LocalId, Res, Span, Stmt, StmtKind, UnOp};
use crate::types::builtin_sig::same_type;
use crate::types::{ClassInfo, Type};
use std::collections::HashMap;

/// What the later phases need about a class beyond [`ClassInfo`].
#[derive(Default)]
pub(super) struct ClassDecl {
    /// Own methods: name, function id, where the name is written.
    methods: Vec<(String, u32, Span)>,
    /// Own fields with their resolved types.
    fields: Vec<(String, Type, Span)>,
    /// Where the class name is written.
    span: Span,
}

/// Facts about locals known at a point of a function body: local -> the type it is
/// known to have there (`T` for a `T?` known non-null, or a subclass after `is`).
#[derive(Default)]
pub(super) struct Facts {
    pub(super) known: HashMap<LocalId, Type>,
    /// Every local assigned so far, in order. A branch that ends removes the facts
    /// about the locals it assigned from the facts it restores.
    assigned: Vec<LocalId>,
}

/// Facts that hold when a condition is true, and when it is false.
type CondFacts = (Vec<(LocalId, Type)>, Vec<(LocalId, Type)>);

/// A field of this type has no zero value that is not null, so `__init__` must
/// give it one (or the field is declared `T?`).
fn needs_value(t: &Type) -> bool {
    matches!(
        t,
        Type::Str
            | Type::Array(_)
            | Type::Map(..)
            | Type::Tuple(_)
            | Type::Struct(_)
            | Type::Class(_)
            | Type::Fn(..)
    )
}

/// A block that never falls through to the statement after it.
fn block_exits(b: &Block) -> bool {
    block_returns(b)
        || matches!(
            b.stmts.last().map(|s| &s.kind),
            Some(StmtKind::Break | StmtKind::Continue)
        )
}

/// The names assigned anywhere in `b` (for the facts a loop cannot keep).
fn assigned_names(b: &Block, out: &mut Vec<String>) {
    for s in &b.stmts {
        match &s.kind {
            StmtKind::Assign { target, .. } => {
                if let ExprKind::Name { name, .. } = &target.kind {
                    out.push(name.name.clone());
                }
            }
            StmtKind::If { branches, else_block } => {
                branches.iter().for_each(|(_, b)| assigned_names(b, out));
                if let Some(b) = else_block {
                    assigned_names(b, out);
                }
            }
            StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } | StmtKind::ForIn { body, .. } => {
                assigned_names(body, out)
            }
            StmtKind::Match { cases, default, .. } => {
                cases.iter().for_each(|(_, b)| assigned_names(b, out));
                if let Some(b) = default {
                    assigned_names(b, out);
                }
            }
            StmtKind::Try { body, catch, finally } => {
                assigned_names(body, out);
                if let Some(c) = catch {
                    assigned_names(&c.body, out);
                }
                if let Some(b) = finally {
                    assigned_names(b, out);
                }
            }
            _ => {}
        }
    }
}

impl Checker<'_> {
    // ---- declarations ---------------------------------------------------------------

    /// Phase 1a for `class C(P):`: an id for the class and function ids for its methods.
    pub(super) fn declare_class(&mut self, mi: usize, c: &mut ClassDef) {
        let cid = self.info.classes.len() as u32;
        self.info.classes.push(ClassInfo {
            name: c.name.name.clone(),
            module: mi,
            qualified: format!("{}.{}", self.mods[mi].name, c.name.name),
            parent: None,
            fields: Vec::new(),
            vtable: Vec::new(),
            init: None,
        });
        if self.claim_name(mi, &c.name, false) {
            self.mods[mi].classes.insert(c.name.name.clone(), cid);
        }
        let mut decl = ClassDecl {
            span: c.name.span,
            ..ClassDecl::default()
        };
        for meth in c.methods.iter_mut() {
            let qual = self.qualified(mi, &format!("{}.{}", c.name.name, meth.name.name));
            let id = self.new_func(qual, true, meth.name.span);
            meth.func_id = id;
            if decl.methods.iter().any(|(n, ..)| *n == meth.name.name) {
                let msg = format!("duplicate method '{}' in class '{}'", meth.name.name, c.name.name);
                self.error(meth.name.span, msg);
            } else {
                decl.methods.push((meth.name.name.clone(), id, meth.name.span));
            }
        }
        self.class_decls.push(decl);
    }

    /// Phase 1b: the parent, the own fields and the method signatures of class `cid`.
    pub(super) fn resolve_class(&mut self, cid: u32, c: &mut ClassDef) {
        if let Some(p) = &c.parent {
            match self.named_type(&p.name, p.span) {
                Some(NamedType::Class(pid)) if pid == cid => self.error(
                    p.span,
                    format!("class '{}' cannot inherit from itself", c.name.name),
                ),
                Some(NamedType::Class(pid)) => self.info.classes[cid as usize].parent = Some(pid),
                Some(_) => {
                    let msg = format!(
                        "'{}' is not a class; a class can only inherit from a class",
                        p.name
                    );
                    self.error(p.span, msg);
                }
                None if p.name.contains('.') => {}
                None => {
                    let known: Vec<String> = self.mods[self.cur].classes.keys().cloned().collect();
                    let msg = format!("unknown class '{}'", p.name);
                    self.unknown_name_error(p.span, msg, &p.name, &known);
                }
            }
        }
        let mut fields: Vec<(String, Type, Span)> = Vec::new();
        for fd in &c.fields {
            let ty = self.resolve_type(&fd.ty, false);
            if fields.iter().any(|(n, ..)| *n == fd.name.name) {
                let msg = format!("duplicate field '{}' in class '{}'", fd.name.name, c.name.name);
                self.error(fd.name.span, msg);
                continue;
            }
            fields.push((fd.name.name.clone(), ty, fd.name.span));
        }
        if let Some(d) = self.class_decls.get_mut(cid as usize) {
            d.fields = fields;
        }
        for meth in c.methods.iter_mut() {
            self.resolve_signature(meth, Some(Type::Class(cid)));
            let ret = &self.info.funcs[meth.func_id as usize].ret;
            if meth.name.name == "__init__" && !matches!(ret, Type::Void | Type::Error) {
                let msg = format!("__init__ must return void, not {}", self.tn(ret));
                self.error(meth.ret.span, msg);
            }
        }
    }

    /// Phase 1c: break inheritance cycles, then build every class's fields and method
    /// table, parents first.
    pub(super) fn finish_classes(&mut self) {
        let n = self.info.classes.len();
        for cid in 0..n {
            let mut path = vec![cid as u32];
            let mut at = self.info.classes[cid].parent;
            while let Some(p) = at {
                if p as usize == cid {
                    let names: Vec<String> = path
                        .iter()
                        .chain(std::iter::once(&(cid as u32)))
                        .map(|&c| self.info.classes[c as usize].name.clone())
                        .collect();
                    let msg = format!("inheritance cycle: {}", names.join(" -> "));
                    self.error(self.class_decls[cid].span, msg);
                    self.info.classes[cid].parent = None;
                    break;
                }
                if path.len() > n {
                    break; // a cycle above this class: reported at its members
                }
                path.push(p);
                at = self.info.classes[p as usize].parent;
            }
        }
        let mut order: Vec<(usize, usize)> = (0..n).map(|c| (self.class_depth(c as u32), c)).collect();
        order.sort_unstable();
        for (_, cid) in order {
            self.build_class(cid);
        }
    }

    /// How many ancestors class `cid` has.
    fn class_depth(&self, cid: u32) -> usize {
        let mut d = 0;
        let mut at = self.info.classes[cid as usize].parent;
        while let Some(p) = at {
            d += 1;
            if d > self.info.classes.len() {
                break;
            }
            at = self.info.classes[p as usize].parent;
        }
        d
    }

    fn build_class(&mut self, cid: usize) {
        let parent = self.info.classes[cid].parent;
        let (mut fields, mut vtable, mut init) = match parent {
            Some(p) => {
                let pc = &self.info.classes[p as usize];
                (pc.fields.clone(), pc.vtable.clone(), pc.init)
            }
            None => (Vec::new(), Vec::new(), None),
        };
        let decl = std::mem::take(&mut self.class_decls[cid]);
        let cname = self.info.classes[cid].name.clone();
        for (name, ty, span) in &decl.fields {
            if vtable.iter().any(|(n, _)| n == name) {
                let msg = format!("field '{name}' of class '{cname}' has the name of an inherited method");
                self.error(*span, msg);
                continue;
            }
            if fields.iter().any(|(n, _)| n == name) {
                let msg = format!("field '{name}' of class '{cname}' is already declared by a parent class");
                self.error(*span, msg);
                continue;
            }
            fields.push((name.clone(), ty.clone()));
        }
        if fields.len() > MAX_FIELDS {
            let msg = format!(
                "class '{cname}' has {} fields with its parents'; at most {MAX_FIELDS} are allowed",
                fields.len()
            );
            self.error(decl.span, msg);
            fields.truncate(MAX_FIELDS);
        }
        for (name, fid, span) in &decl.methods {
            if fields.iter().any(|(n, _)| n == name) {
                let msg = format!("'{name}' of class '{cname}' is both a field and a method");
                self.error(*span, msg);
            }
            if name == "__init__" {
                init = Some(*fid);
                continue;
            }
            match vtable.iter().position(|(n, _)| n == name) {
                Some(slot) => {
                    let old = vtable[slot].1;
                    self.check_override(&cname, name, old, *fid, *span);
                    vtable[slot].1 = *fid;
                }
                None => vtable.push((name.clone(), *fid)),
            }
        }
        let c = &mut self.info.classes[cid];
        c.fields = fields;
        c.vtable = vtable;
        c.init = init;
        self.class_decls[cid] = decl;
    }

    /// An override must take the same parameters and return the same type.
    fn check_override(&mut self, cname: &str, method: &str, old: u32, new: u32, span: Span) {
        let (o, n) = (&self.info.funcs[old as usize], &self.info.funcs[new as usize]);
        let sig = |f: &crate::types::FuncInfo| {
            Type::Fn(
                f.params.iter().skip(1).cloned().collect(),
                Box::new(f.ret.clone()),
            )
        };
        let (os, ns) = (sig(o), sig(n));
        if same_type(&os, &ns) {
            return;
        }
        let (os_text, ns_text) = (self.tn(&os), self.tn(&ns));
        let parent = o.name.clone();
        let msg = format!(
            "method '{method}' of class '{cname}' overrides '{parent}' with a different signature: {ns_text} here, {os_text} in the parent"
        );
        let at = self.func_meta[old as usize].span;
        let d = crate::diag::Diagnostic::error(span, msg)
            .with_related(at, format!("'{parent}' is declared here as {os_text}"));
        self.diags.push(d);
    }

    /// Every field that needs a value ([`needs_value`]) is assigned by the
    /// top-level statements of `__init__` (`self.f = ...`) or by the parent's
    /// `__init__` through `super.__init__(...)`; a class without its own `__init__`
    /// relies on the inherited one for the parent's fields.
    pub(super) fn check_field_init(&mut self, cid: u32, c: &ClassDef) {
        let info = &self.info.classes[cid as usize];
        let inherited = info
            .parent
            .map_or(0, |p| self.info.classes[p as usize].fields.len());
        let own_init = c.methods.iter().find(|m| m.name.name == "__init__");
        let mut given: Vec<String> = Vec::new();
        let mut parent_covered = own_init.is_none() && info.init.is_some();
        if let Some(init) = own_init {
            for s in &init.body.stmts {
                if let Some(f) = assigns_self_field(s) {
                    given.push(f.to_string());
                }
                match &s.kind {
                    StmtKind::Expr(Expr {
                        kind: ExprKind::Super { method, .. },
                        ..
                    }) if method.as_ref().is_none_or(|m| m.name == "__init__") => parent_covered = true,
                    _ => {}
                }
            }
        }
        let mut missing = Vec::new();
        for (i, (name, ty)) in info.fields.iter().enumerate() {
            let covered = given.contains(name) || (i < inherited && parent_covered);
            if needs_value(ty) && !covered {
                missing.push((i, name.clone(), ty.clone()));
            }
        }
        let cname = info.name.clone();
        for (i, name, ty) in missing {
            let t = self.tn(&ty);
            let own_span = c.fields.iter().find(|f| f.name.name == name).map(|f| f.name.span);
            let msg = match own_init {
                Some(_) if i < inherited => format!(
                    "__init__ of class '{cname}' must give the inherited field '{name}' a value (assign self.{name} or call super.__init__(...))"
                ),
                Some(_) => format!(
                    "field '{name}' of class '{cname}' ({t}) is not given a value by __init__: assign self.{name} = ... at the top level of __init__, or declare it {t}?"
                ),
                None => format!(
                    "field '{name}' of class '{cname}' ({t}) needs a value: give the class an __init__ that assigns self.{name}, or declare it {t}? (null until assigned)"
                ),
            };
            let span = match own_init {
                Some(init) => init.name.span,
                None => own_span.unwrap_or(c.name.span),
            };
            self.error(span, msg);
        }
    }

    // ---- class relations --------------------------------------------------------------

    /// Whether class `sub` is `sup` or one of its descendants.
    pub(super) fn is_subclass(&self, sub: u32, sup: u32) -> bool {
        let mut at = Some(sub);
        let mut steps = 0;
        while let Some(c) = at {
            if c == sup {
                return true;
            }
            steps += 1;
            if steps > self.info.classes.len() {
                return false;
            }
            at = self.info.classes.get(c as usize).and_then(|ci| ci.parent);
        }
        false
    }

    /// `a` is `b`, or a class that descends from class `b` (no containers: they are
    /// invariant).
    pub(super) fn subtype(&self, a: &Type, b: &Type) -> bool {
        match (a, b) {
            (Type::Class(x), Type::Class(y)) => self.is_subclass(*x, *y),
            _ => same_type(a, b),
        }
    }

    /// How a call of method-table slot `slot` on a receiver of static class `cid`
    /// is made: directly when every subclass uses the same implementation.
    pub(super) fn dispatch(&self, cid: u32, slot: usize) -> Res {
        let fid = self.info.classes[cid as usize].vtable[slot].1;
        let same_everywhere = (0..self.info.classes.len() as u32)
            .filter(|&d| self.is_subclass(d, cid))
            .all(|d| self.info.classes[d as usize].vtable.get(slot).map(|e| e.1) == Some(fid));
        if same_everywhere {
            Res::Func(fid)
        } else {
            Res::Virtual(slot as u32)
        }
    }

    // ---- nullable references ------------------------------------------------------------

    /// `e` (of type `t`) is used where a non-null value is needed: a `T?` gets a
    /// run-time check whose message is `null reference: ` + `what(T?)`. Returns the
    /// type the use sees.
    pub(super) fn use_non_null(&mut self, e: &mut Expr, t: Type, what: impl FnOnce(&str) -> String) -> Type {
        match t {
            Type::Nullable(inner) => {
                let message = format!(
                    "null reference: {}",
                    what(&self.tn(&Type::Nullable(inner.clone())))
                );
                wrap_non_null(e, (*inner).clone(), message);
                *inner
            }
            Type::Null => {
                self.error(e.span, "this is always null here");
                Type::Error
            }
            t => t,
        }
    }

    /// If a value of type `t` is accepted where `want` is expected (subclass to
    /// parent, `T` or `null` to `T?`, `T?` to `T` with a run-time check), the type
    /// the context sees; `None` if not.
    pub(super) fn coerce(&mut self, e: &mut Expr, t: &Type, want: &Type, ctx: Want) -> Option<Type> {
        match (t, want) {
            (Type::Null, Type::Nullable(_)) => Some(want.clone()),
            (Type::Nullable(x), Type::Nullable(w)) if self.subtype(x, w) => Some(want.clone()),
            (Type::Nullable(x), w) if self.subtype(x, w) => {
                let (found, w_text) = (self.tn(t), self.tn(w));
                let message = format!("null reference: {}", null_use_text(ctx, &found, &w_text));
                wrap_non_null(e, (**x).clone(), message);
                Some(w.clone())
            }
            (x, Type::Nullable(w)) if self.subtype(x, w) => Some(want.clone()),
            (x, w) if self.subtype(x, w) => Some(want.clone()),
            _ => None,
        }
    }

    /// Whether `==` / `!=` may compare values of types `a` and `b`.
    pub(super) fn comparable(&self, a: &Type, b: &Type) -> bool {
        let (x, y) = (a.non_null(), b.non_null());
        match (a, b) {
            (Type::Null, t) | (t, Type::Null) => t.is_ref() || t.is_nullable(),
            _ => same_type(x, y) || self.subtype(x, y) || self.subtype(y, x),
        }
    }

    /// A note for a mismatch between containers whose elements are related classes.
    pub(super) fn invariance_note(&self, found: &Type, want: &Type) -> Option<String> {
        let related = |a: &Type, b: &Type| match (a.non_null(), b.non_null()) {
            (Type::Class(x), Type::Class(y)) => x != y && self.is_subclass(*x, *y),
            _ => false,
        };
        let hit = match (found, want) {
            (Type::Array(a), Type::Array(b)) => related(a, b),
            (Type::Map(k1, a), Type::Map(k2, b)) => same_type(k1, k2) && related(a, b),
            _ => false,
        };
        hit.then(|| {
            format!(
                "containers are invariant: a {} is not a {} (it could be given elements of another subclass); build the container with the parent's element type",
                self.tn(found),
                self.tn(want)
            )
        })
    }

    // ---- expressions ----------------------------------------------------------------------

    /// The class named `name` in the current module, or an error.
    fn class_named(&mut self, name: &Ident) -> Option<u32> {
        match self.named_type(&name.name, name.span) {
            Some(NamedType::Class(cid)) => return Some(cid),
            None if name.name.contains('.') => return None,
            _ => {}
        }
        let m = &self.mods[self.cur];
        if m.structs.contains_key(&name.name) {
            let msg = format!("'{}' is a struct, not a class", name.name);
            self.error(name.span, msg);
        } else {
            let known: Vec<String> = m.classes.keys().cloned().collect();
            let msg = format!("unknown class '{}'", name.name);
            self.unknown_name_error(name.span, msg, &name.name, &known);
        }
        None
    }

    /// `new C(args)`.
    pub(super) fn check_new(&mut self, e: &mut Expr) -> Type {
        let span = e.span;
        let ExprKind::New {
            class,
            args,
            class_id,
            init,
        } = &mut e.kind
        else {
            return Type::Error;
        };
        let m = &self.mods[self.cur];
        if !m.classes.contains_key(&class.name) && m.structs.contains_key(&class.name) {
            let msg = format!(
                "'{}' is a struct: write {}{{field: value, ...}} instead of 'new'",
                class.name, class.name
            );
            self.error(class.span, msg);
            self.check_loose(args);
            return Type::Error;
        }
        let Some(cid) = self.class_named(class) else {
            self.check_loose(args);
            return Type::Error;
        };
        *class_id = cid;
        let c = &self.info.classes[cid as usize];
        *init = c.init;
        let cname = c.name.clone();
        match c.init {
            Some(fid) => {
                let params: Vec<Type> = self.info.funcs[fid as usize]
                    .params
                    .iter()
                    .skip(1)
                    .cloned()
                    .collect();
                self.check_args(&format!("{cname}.__init__"), &params, args, span);
            }
            None if !args.is_empty() => {
                let msg = format!("class '{cname}' has no __init__, so 'new {cname}()' takes no arguments");
                self.error(span, msg);
                self.check_loose(args);
            }
            None => {}
        }
        Type::Class(cid)
    }

    /// `super.m(args)` / `super(args)` inside a method of a class with a parent.
    pub(super) fn check_super(&mut self, e: &mut Expr) -> Type {
        let span = e.span;
        let ExprKind::Super {
            method,
            args,
            func_id,
        } = &mut e.kind
        else {
            return Type::Error;
        };
        let in_method = matches!(self.lookup_var("self"), VarLookup::Local(..));
        let Some(cid) = self.cur_class.filter(|_| in_method) else {
            self.error(span, "'super' is only allowed in the methods of a class");
            self.check_loose(args);
            return Type::Error;
        };
        let c = &self.info.classes[cid as usize];
        let Some(pid) = c.parent else {
            let msg = format!("class '{}' has no parent class", c.name);
            self.error(span, msg);
            self.check_loose(args);
            return Type::Error;
        };
        let p = &self.info.classes[pid as usize];
        let mname = method
            .as_ref()
            .map_or("__init__", |m| m.name.as_str())
            .to_string();
        let target = if mname == "__init__" {
            p.init
        } else {
            p.slot(&mname).map(|s| p.vtable[s].1)
        };
        let Some(fid) = target else {
            let msg = format!("parent class '{}' has no method '{mname}'", p.name);
            self.error(method.as_ref().map_or(span, |m| m.span), msg);
            self.check_loose(args);
            return Type::Error;
        };
        *func_id = fid;
        let display = format!("{}.{mname}", p.name);
        let f = &self.info.funcs[fid as usize];
        let (params, ret): (Vec<Type>, Type) = (f.params.iter().skip(1).cloned().collect(), f.ret.clone());
        self.check_args(&display, &params, args, span);
        ret
    }

    /// `e is C` (a bool) and `e as C` (a `C`).
    pub(super) fn check_class_test(&mut self, e: &mut Expr) -> Type {
        let is = matches!(e.kind, ExprKind::Is { .. });
        let (ExprKind::Is {
            expr,
            class,
            class_id,
        }
        | ExprKind::As {
            expr,
            class,
            class_id,
        }) = &mut e.kind
        else {
            return Type::Error;
        };
        let fail = if is { Type::Bool } else { Type::Error };
        let t = self.check_value(expr);
        let Some(target) = self.class_named(class) else {
            return fail;
        };
        *class_id = target;
        let op = if is { "is" } else { "as" };
        match t.non_null() {
            Type::Class(sc) => {
                if !self.is_subclass(target, *sc) && !self.is_subclass(*sc, target) {
                    let msg = format!(
                        "'{op}' between unrelated classes: a {} is never a {}",
                        self.tn(t.non_null()),
                        class.name
                    );
                    self.error(e.span, msg);
                    return fail;
                }
            }
            Type::Error => return fail,
            other => {
                let msg = format!("'{op}' needs a class instance, found {}", self.tn(other));
                self.error(expr.span, msg);
                return fail;
            }
        }
        if is {
            Type::Bool
        } else {
            Type::Class(target)
        }
    }

    // ---- flow facts -------------------------------------------------------------------------

    /// The facts a condition establishes when true and when false.
    pub(super) fn cond_facts(&self, e: &Expr) -> CondFacts {
        let local_of = |x: &Expr| match &x.kind {
            ExprKind::Name {
                res: Res::Local(id), ..
            } => Some(*id),
            _ => None,
        };
        match &e.kind {
            ExprKind::Binary { op, lhs, rhs } => match op {
                ast::BinOp::Eq | ast::BinOp::Ne => {
                    let (x, other) = if matches!(rhs.kind, ExprKind::Null) {
                        (lhs, rhs)
                    } else {
                        (rhs, lhs)
                    };
                    if !matches!(other.kind, ExprKind::Null) {
                        return Default::default();
                    }
                    let Some(id) = local_of(x) else {
                        return Default::default();
                    };
                    let fact = match self.declared_type(id) {
                        Some(Type::Nullable(t)) => vec![(id, *t)],
                        _ => Vec::new(),
                    };
                    if *op == ast::BinOp::Ne {
                        (fact, Vec::new())
                    } else {
                        (Vec::new(), fact)
                    }
                }
                ast::BinOp::And => {
                    let ((mut t1, _), (t2, _)) = (self.cond_facts(lhs), self.cond_facts(rhs));
                    t1.extend(t2);
                    (t1, Vec::new())
                }
                ast::BinOp::Or => {
                    let ((_, mut f1), (_, f2)) = (self.cond_facts(lhs), self.cond_facts(rhs));
                    f1.extend(f2);
                    (Vec::new(), f1)
                }
                _ => Default::default(),
            },
            ExprKind::Unary {
                op: UnOp::Not,
                operand,
            } => {
                let (t, f) = self.cond_facts(operand);
                (f, t)
            }
            ExprKind::Is { expr, class_id, .. } => match local_of(expr) {
                Some(id) => (vec![(id, Type::Class(*class_id))], Vec::new()),
                None => Default::default(),
            },
            _ => Default::default(),
        }
    }

    fn declared_type(&self, id: LocalId) -> Option<Type> {
        self.ctxs
            .last()
            .and_then(|c| c.locals.get(id as usize))
            .map(|l| l.ty.clone())
    }

    /// Start a branch of the flow: returns what [`Checker::end_branch`] needs.
    pub(super) fn begin_branch(&mut self) -> (HashMap<LocalId, Type>, usize) {
        match self.ctxs.last() {
            Some(c) => (c.facts.known.clone(), c.facts.assigned.len()),
            None => Default::default(),
        }
    }

    /// End a branch: the facts from before it, without those about locals the
    /// branch assigned.
    pub(super) fn end_branch(&mut self, saved: (HashMap<LocalId, Type>, usize)) {
        let Some(c) = self.ctxs.last_mut() else { return };
        let (mut known, from) = saved;
        for id in &c.facts.assigned[from.min(c.facts.assigned.len())..] {
            known.remove(id);
        }
        c.facts.known = known;
    }

    pub(super) fn add_facts(&mut self, facts: Vec<(LocalId, Type)>) {
        if let Some(c) = self.ctxs.last_mut() {
            c.facts.known.extend(facts);
        }
    }

    /// Local `id` was assigned a value of type `t`: earlier facts about it end; if
    /// the value cannot be null, it is known non-null from here.
    pub(super) fn note_assigned(&mut self, id: LocalId, t: &Type) {
        let declared = self.declared_type(id);
        let Some(c) = self.ctxs.last_mut() else { return };
        c.facts.known.remove(&id);
        c.facts.assigned.push(id);
        if let Some(Type::Nullable(inner)) = declared {
            if !t.is_nullable() && *t != Type::Error {
                c.facts.known.insert(id, *inner);
            }
        }
    }

    /// Before a loop body: facts about locals the body assigns do not hold on its
    /// later iterations.
    pub(super) fn forget_assigned_in(&mut self, body: &Block) {
        let mut names = Vec::new();
        assigned_names(body, &mut names);
        for n in names {
            if let VarLookup::Local(id, _) = self.lookup_var(&n) {
                if let Some(c) = self.ctxs.last_mut() {
                    c.facts.known.remove(&id);
                    c.facts.assigned.push(id);
                }
            }
        }
    }

    /// `if`/`elif`/`else` with the facts of each condition; after an `if` without
    /// `else` whose branches all leave, the facts of every condition being false.
    pub(super) fn check_if(&mut self, branches: &mut [(Expr, Block)], else_block: &mut Option<Block>) {
        let outer = self.begin_branch();
        let mut all_exit = true;
        for (i, (cond, body)) in branches.iter_mut().enumerate() {
            self.check_cond(cond, if i == 0 { "if" } else { "elif" });
            let (when_true, when_false) = self.cond_facts(cond);
            let before = self.begin_branch();
            self.add_facts(when_true);
            self.check_block(body);
            self.end_branch(before);
            all_exit &= block_exits(body);
            self.add_facts(when_false);
        }
        if let Some(b) = else_block {
            let before = self.begin_branch();
            self.check_block(b);
            self.end_branch(before);
        }
        if else_block.is_none() && all_exit {
            // The facts gathered so far (every condition false) hold after the `if`.
            return;
        }
        self.end_branch(outer);
    }
}

/// Replace `e` by a null check of it.
fn wrap_non_null(e: &mut Expr, ty: Type, message: String) {
    let span = e.span;
    let inner = std::mem::replace(e, Expr::new(ExprKind::Null, span));
    *e = Expr {
        kind: ExprKind::NonNull {
            inner: Box::new(inner),
            message,
        },
        span,
        ty,
    };
}

/// What a null found where a `want` is needed is called in the error message.
fn null_use_text(ctx: Want, found: &str, want: &str) -> String {
    match ctx {
        Want::Arg(i, f) => format!("argument {} of '{f}' is a null {found}", i + 1),
        Want::Return => format!("returning a null {found} from a function that returns {want}"),
        Want::Field(s, f) => format!("field '{f}' of '{s}' given a null {found}"),
        Want::Elem => format!("array element is a null {found}"),
        Want::MapKey | Want::MapValue => format!("map entry is a null {found}"),
        Want::TupleElem(i) => format!("tuple element {i} is a null {found}"),
        Want::Plain | Want::Case | Want::Lambda => format!("a null {found} where a {want} is needed"),
    }
}

/// The field `f` if `s` is a statement of the form `self.f = ...`.
fn assigns_self_field(s: &Stmt) -> Option<&str> {
    match &s.kind {
        StmtKind::Assign { target, .. } => match &target.kind {
            ExprKind::Field { base, field, .. } if matches!(base.kind, ExprKind::SelfRef) => {
                Some(&field.name)
            }
            _ => None,
        },
        _ => None,
    }
}
