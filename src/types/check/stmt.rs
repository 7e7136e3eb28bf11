//! Statement checking (LANGUAGE.md §5, §7).

use super::{Checker, VarLookup, Want};
use crate::ast::{Block, Expr, ExprKind, Ident, Pattern, Res, Stmt, StmtKind};
use crate::types::builtin_sig::same_type;
use crate::types::Type;

impl Checker<'_> {
    /// Check a block in a new scope.
    pub(super) fn check_block(&mut self, b: &mut Block) {
        self.push_scope();
        for s in b.stmts.iter_mut() {
            self.check_stmt(s);
        }
        self.pop_scope();
    }

    pub(super) fn check_cond(&mut self, e: &mut Expr, what: &str) {
        let t = self.check_expr(e, Some(&Type::Bool));
        if !same_type(&t, &Type::Bool) {
            let msg = format!("{what} condition must be bool, found {}", self.tn(&t));
            self.error(e.span, msg);
        }
    }

    /// Declare the variables of `p`, which destructures a value of type `t`.
    fn bind_pattern(&mut self, p: &mut Pattern, t: &Type) {
        match p {
            Pattern::Var { name, local } => *local = self.declare_local(name, t.clone()),
            Pattern::Ignore(_) => {}
            Pattern::Tuple { elems, span } => {
                let elem_types: Vec<Type> = match t {
                    Type::Tuple(ts) if ts.len() == elems.len() => ts.clone(),
                    Type::Error => vec![Type::Error; elems.len()],
                    Type::Tuple(ts) => {
                        let msg = format!(
                            "this pattern has {} but the value has type {} ({})",
                            plural(elems.len(), "element"),
                            self.tn(t),
                            plural(ts.len(), "element")
                        );
                        self.error(*span, msg);
                        vec![Type::Error; elems.len()]
                    }
                    other => {
                        let msg = format!(
                            "cannot destructure a value of type {}: not a tuple",
                            self.tn(other)
                        );
                        self.error(*span, msg);
                        vec![Type::Error; elems.len()]
                    }
                };
                for (p, et) in elems.iter_mut().zip(&elem_types) {
                    self.bind_pattern(p, et);
                }
            }
        }
    }

    fn check_stmt(&mut self, s: &mut Stmt) {
        let span = s.span;
        match &mut s.kind {
            StmtKind::Let {
                name,
                ty,
                init,
                local,
            } => {
                let t = self.resolve_type(ty, false);
                self.check_expect(init, &t, Want::Plain);
                *local = self.declare_local(name, t);
                self.ctx().locals[*local as usize].cellable = true;
                self.note_assigned(*local, &init.ty);
            }
            StmtKind::LetTuple { pattern, ty, init } => {
                let t = self.resolve_type(ty, false);
                self.check_expect(init, &t, Want::Plain);
                self.bind_pattern(pattern, &t);
            }
            StmtKind::Def { name, func, local } => {
                // The local exists (with the function's type) before the body is
                // checked, so that the function can call itself.
                let sig = self.lambda_signature(func);
                *local = self.declare_local(name, Type::Fn(sig.0.clone(), Box::new(sig.1.clone())));
                let l = &mut self.ctx().locals[*local as usize];
                // Stored after the closure is made: a capture of it (a recursive
                // call) goes through a cell.
                l.cellable = true;
                l.reassigned = true;
                func.ty = self.check_lambda(func, Some((&name.name, sig)));
            }
            StmtKind::Assign { target, value } => {
                let t = self.check_place(target);
                self.check_expect(value, &t, Want::Plain);
                if let ExprKind::Name {
                    res: Res::Local(id), ..
                } = target.kind
                {
                    self.note_assigned(id, &value.ty);
                    self.ctx().locals[id as usize].reassigned = true;
                }
            }
            StmtKind::Expr(e) => {
                self.check_expr(e, None);
            }
            StmtKind::If { branches, else_block } => self.check_if(branches, else_block),
            StmtKind::While { cond, body } => {
                self.forget_assigned_in(body);
                self.check_cond(cond, "while");
                let (when_true, _) = self.cond_facts(cond);
                let saved = self.begin_branch();
                self.add_facts(when_true);
                self.check_loop_body(body);
                self.end_branch(saved);
            }
            StmtKind::ForRange {
                var,
                start,
                end,
                body,
                local,
            } => {
                for (e, which) in [(start, "start"), (end, "end")] {
                    let t = self.check_expr(e, Some(&Type::Int));
                    if !same_type(&t, &Type::Int) {
                        let msg = format!("range {which} must be int, found {}", self.tn(&t));
                        self.error(e.span, msg);
                    }
                }
                self.forget_assigned_in(body);
                self.push_scope();
                *local = self.declare_local(var, Type::Int);
                let saved = self.begin_branch();
                self.check_loop_body(body);
                self.end_branch(saved);
                self.pop_scope();
            }
            StmtKind::ForIn {
                var,
                pattern,
                iter,
                body,
                local,
            } => {
                let t = self.check_expr(iter, None);
                let t = self.use_non_null(iter, t, |t| format!("for-in over a null {t}"));
                self.forget_assigned_in(body);
                let elem = match &t {
                    Type::Array(e) => (**e).clone(),
                    Type::Map(k, _) => (**k).clone(),
                    Type::Error => Type::Error,
                    other => {
                        let msg = format!("for-in requires array or map, found {}", self.tn(other));
                        self.error(iter.span, msg);
                        Type::Error
                    }
                };
                self.push_scope();
                match pattern {
                    None => *local = self.declare_local(var, elem),
                    Some(p) => {
                        *local = self.declare_hidden_local(var, elem.clone());
                        self.bind_pattern(p, &elem);
                    }
                }
                let saved = self.begin_branch();
                self.check_loop_body(body);
                self.end_branch(saved);
                self.pop_scope();
            }
            StmtKind::Match {
                subject,
                cases,
                default,
            } => {
                let st = self.check_value(subject);
                for (c, b) in cases.iter_mut() {
                    self.check_expect(c, &st, Want::Case);
                    let saved = self.begin_branch();
                    self.check_block(b);
                    self.end_branch(saved);
                }
                if let Some(b) = default {
                    let saved = self.begin_branch();
                    self.check_block(b);
                    self.end_branch(saved);
                }
            }
            StmtKind::Try { body, catch, finally } => {
                // Any part may stop part-way (an exception): facts found inside do
                // not hold after it.
                let saved = self.begin_branch();
                self.check_block(body);
                self.end_branch(saved);
                if let Some(c) = catch {
                    self.push_scope();
                    if let Some(n) = &c.name {
                        c.local = self.declare_local(n, Type::Str);
                    }
                    let saved = self.begin_branch();
                    self.check_block(&mut c.body);
                    self.end_branch(saved);
                    self.pop_scope();
                }
                if let Some(f) = finally {
                    let saved = self.begin_branch();
                    self.check_block(f);
                    self.end_branch(saved);
                }
            }
            StmtKind::Assert { cond, message } => {
                self.check_cond(cond, "assert");
                if let Some(m) = message {
                    let t = self.check_expr(m, Some(&Type::Str));
                    if !same_type(&t, &Type::Str) {
                        let msg = format!("assert message: expected str, found {}", self.tn(&t));
                        self.error(m.span, msg);
                    }
                }
            }
            StmtKind::Throw(e) => {
                let t = self.check_expr(e, Some(&Type::Str));
                if !same_type(&t, &Type::Str) {
                    let msg = format!("thrown value: expected str, found {}", self.tn(&t));
                    self.error(e.span, msg);
                }
            }
            StmtKind::Break => {
                if self.ctx().loop_depth == 0 {
                    self.error(span, "break outside of loop");
                }
            }
            StmtKind::Continue => {
                if self.ctx().loop_depth == 0 {
                    self.error(span, "continue outside of loop");
                }
            }
            StmtKind::Return(value) => {
                let ret = self.ctx().ret.clone();
                match value {
                    None => {
                        if !matches!(ret, Type::Void | Type::Error) {
                            let msg =
                                format!("missing return value (the function returns {})", self.tn(&ret));
                            self.error(span, msg);
                        }
                    }
                    Some(e) => {
                        if ret == Type::Void {
                            let t = self.check_expr(e, None);
                            let msg = if t == Type::Void {
                                "cannot return a value from a void function".to_string()
                            } else {
                                format!("return type mismatch: expected void, found {}", self.tn(&t))
                            };
                            self.error(e.span, msg);
                        } else {
                            self.check_expect(e, &ret, Want::Return);
                        }
                    }
                }
            }
            StmtKind::Pass => {}
        }
    }

    fn check_loop_body(&mut self, body: &mut Block) {
        self.ctx().loop_depth += 1;
        self.check_block(body);
        self.ctx().loop_depth -= 1;
    }

    /// Check an assignment target and return the type a stored value must have.
    fn check_place(&mut self, target: &mut Expr) -> Type {
        let span = target.span;
        if let ExprKind::Name { name, res } = &mut target.kind {
            let t = self.place_name(name, res);
            target.ty = t.clone();
            return t;
        }
        let was_field = matches!(target.kind, ExprKind::Field { .. });
        let t = self.check_expr(target, None);
        let problem = match &target.kind {
            ExprKind::Index { base, .. } | ExprKind::Field { base, .. }
                if matches!(base.ty, Type::Tuple(_)) =>
            {
                Some("cannot assign to an element of a tuple (tuples are immutable)")
            }
            ExprKind::Index { .. } | ExprKind::Field { .. } => None,
            ExprKind::Int(_) if was_field => Some("cannot assign to an enum member"),
            ExprKind::Name { .. } if was_field => Some("cannot assign to a function"),
            ExprKind::SelfRef => Some("cannot assign to 'self'"),
            _ => Some("invalid assignment target"),
        };
        match problem {
            Some(msg) => {
                self.error(span, msg);
                Type::Error
            }
            None => t,
        }
    }

    fn place_name(&mut self, name: &Ident, res: &mut Res) -> Type {
        match self.lookup_var(&name.name) {
            VarLookup::Local(id, t) => {
                *res = Res::Local(id);
                t
            }
            VarLookup::Global(id, t) => {
                *res = Res::Global(id);
                t
            }
            VarLookup::Captured(_) => {
                let msg = format!(
                    "'{}' belongs to the enclosing function; a lambda or nested def reads it but cannot assign to it (return the new value, or keep it in an array or an object)",
                    name.name
                );
                self.error(name.span, msg);
                Type::Error
            }
            VarLookup::LaterGlobal | VarLookup::NotFound => {
                let msg = if self.lookup_func(&name.name).is_some() {
                    format!("cannot assign to function '{}'", name.name)
                } else {
                    let known = self.value_names();
                    let msg = format!("undefined variable '{}'", name.name);
                    self.unknown_name_error(name.span, msg, &name.name, &known);
                    return Type::Error;
                };
                self.error(name.span, msg);
                Type::Error
            }
        }
    }
}

/// `1 element`, `3 elements`.
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
