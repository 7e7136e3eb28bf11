//! Statements and blocks: scopes, `let`, assignments, expression statements, and
//! dispatch to the control-flow and exception compilers.

use super::expr::writes_early;
use super::func::{Dst, FnCompiler};
use crate::ast::{Block, Expr, ExprKind, FStrPart, LocalId, Pattern, Res, Span, Stmt, StmtKind};
use crate::bytecode::{Instr, Reg};
use crate::types::Type;
use std::collections::HashMap;

/// Whether control never falls off the end of `b` (its last statement is a
/// `return`, `throw`, `break` or `continue`).
pub(crate) fn block_ends_in_jump(b: &Block) -> bool {
    matches!(
        b.stmts.last().map(|s| &s.kind),
        Some(StmtKind::Return(_) | StmtKind::Throw(_) | StmtKind::Break | StmtKind::Continue)
    )
}

impl<'a, 'c> FnCompiler<'a, 'c> {
    /// A block in its own scope.
    pub fn block(&mut self, b: &'a Block) {
        self.push_scope();
        self.block_stmts(b);
        self.pop_scope();
    }

    /// The statements of a block, in the current scope.
    ///
    /// A local declared by a `let` of this block is freed right after the last
    /// statement of the block that mentions it (statement-granularity liveness):
    /// a loop or `try` statement that mentions it keeps it alive to its end, and a
    /// `let` inside a loop body re-initialises the local every iteration, so its
    /// register can be reused by the following statements.
    pub fn block_stmts(&mut self, b: &'a Block) {
        if self.over_code_budget(b.span) {
            return;
        }
        let n = b.stmts.len();
        let mut last_use: HashMap<LocalId, usize> = HashMap::new();
        for (i, s) in b.stmts.iter().enumerate() {
            walk_stmt(s, &mut |id| {
                last_use.insert(id, i);
            });
        }
        let mut die_at: Vec<Vec<LocalId>> = vec![Vec::new(); n];
        for (i, s) in b.stmts.iter().enumerate() {
            let mut dies = |local: LocalId| {
                let k = last_use.get(&local).copied().unwrap_or(i).max(i);
                die_at[k].push(local);
            };
            match &s.kind {
                StmtKind::Let { local, .. } | StmtKind::Def { local, .. } => dies(*local),
                StmtKind::LetTuple { pattern, .. } => pattern.for_each_var(&mut |_, local| dies(local)),
                _ => {}
            }
        }
        for (i, (s, dying)) in b.stmts.iter().zip(die_at).enumerate() {
            self.map_size_hint = map_filled_after(s, &b.stmts[i + 1..]);
            self.stmt(s);
            self.map_size_hint = None;
            for id in dying {
                self.kill_local(id);
            }
        }
    }

    pub fn stmt(&mut self, s: &'a Stmt) {
        let sp = s.span;
        if self.over_code_budget(sp) {
            return;
        }
        match &s.kind {
            StmtKind::Let { init, local, .. } => {
                self.init_local(*local, init, sp);
            }
            StmtKind::Def { func, local, .. } => self.nested_def(*local, func, sp),
            StmtKind::LetTuple { pattern, init, .. } => {
                let v = self.expr_val(init);
                self.destructure(pattern, v.reg, sp);
                self.release(v);
            }
            StmtKind::Assign { target, value } => self.assign(target, value, sp),
            StmtKind::Expr(e) => self.expr_effect(e),
            StmtKind::If { branches, else_block } => self.if_stmt(branches, else_block.as_ref(), sp),
            StmtKind::While { cond, body } => self.while_stmt(cond, body, sp),
            StmtKind::ForRange {
                start,
                end,
                body,
                local,
                ..
            } => self.for_range(*local, start, end, body, sp),
            StmtKind::ForIn {
                iter,
                body,
                local,
                pattern,
                ..
            } => self.for_in(*local, pattern.as_ref(), iter, body, sp),
            StmtKind::Match {
                subject,
                cases,
                default,
            } => self.match_stmt(subject, cases, default.as_ref(), sp),
            StmtKind::Try { body, catch, finally } => {
                self.try_stmt(body, catch.as_ref(), finally.as_ref(), sp)
            }
            StmtKind::Throw(e) => {
                let v = self.expr_val(e);
                self.emit(Instr::Throw { src: v.reg }, sp);
                self.release(v);
            }
            StmtKind::Assert { cond, message } => self.assert_stmt(cond, message.as_ref(), sp),
            StmtKind::Break => self.break_continue(true, sp),
            StmtKind::Continue => self.break_continue(false, sp),
            StmtKind::Return(v) => self.return_stmt(v.as_ref(), sp),
            StmtKind::Pass => {}
        }
    }

    /// Declare the variables of pattern `p` and bind them to the parts of the
    /// value in `src` (a tuple, unless `p` is a single variable).
    pub fn destructure(&mut self, p: &'a Pattern, src: Reg, sp: Span) {
        let elems = match p {
            Pattern::Ignore(_) => return,
            Pattern::Var { local, .. } => {
                let r = self.declare_local(*local, sp);
                self.emit(Instr::Mov { dst: r, src }, sp);
                return;
            }
            Pattern::Tuple { elems, .. } => elems,
        };
        for (i, e) in elems.iter().enumerate() {
            let Ok(idx) = u8::try_from(i) else {
                self.error(sp, "a pattern destructures at most 256 tuple elements");
                return;
            };
            match e {
                Pattern::Ignore(_) => {}
                Pattern::Var { local, .. } => {
                    let dst = self.declare_local(*local, sp);
                    self.emit(Instr::TupleGet { dst, tup: src, idx }, sp);
                }
                Pattern::Tuple { .. } => {
                    let part = self.temp_kind(true);
                    self.emit(
                        Instr::TupleGet {
                            dst: part.reg,
                            tup: src,
                            idx,
                        },
                        sp,
                    );
                    self.destructure(e, part.reg, sp);
                    self.release(part);
                }
            }
        }
    }

    /// `assert cond[, message]`: when `cond` is false, throw `assertion failed: `
    /// followed by the message (evaluated only then) or the condition's text.
    fn assert_stmt(&mut self, cond: &'a Expr, message: Option<&'a Expr>, sp: Span) {
        let ok = self.new_label();
        self.cond_jump(cond, true, ok);
        let text = self.temp_kind(true);
        match message {
            Some(m) => {
                self.load_str(text.reg, b"assertion failed: ", sp);
                let m = self.expr_val(m);
                self.emit(
                    Instr::Concat {
                        dst: text.reg,
                        a: text.reg,
                        b: m.reg,
                    },
                    sp,
                );
                self.release(m);
            }
            None => {
                let what = format!("assertion failed: {}", self.cx.source_text(cond.span));
                self.load_str(text.reg, what.as_bytes(), sp);
            }
        }
        self.emit(Instr::Throw { src: text.reg }, sp);
        self.release(text);
        self.bind(ok);
    }

    /// `target = value`. Evaluation order: container, index/key, then value.
    fn assign(&mut self, target: &'a Expr, value: &'a Expr, sp: crate::ast::Span) {
        match &target.kind {
            ExprKind::Name {
                res: Res::Local(id), ..
            } => {
                let r = self.local_reg(*id, target.span);
                self.assign_reg(r, value);
                self.update_cell(*id, sp);
            }
            ExprKind::SelfRef => {
                let r = self.self_reg(target.span);
                self.assign_reg(r, value);
            }
            ExprKind::Name {
                res: Res::Global(idx),
                ..
            } => {
                let v = self.expr_val(value);
                self.emit(
                    Instr::SetGlobal {
                        src: v.reg,
                        idx: *idx,
                    },
                    sp,
                );
                self.release(v);
            }
            ExprKind::Index { base, index } => {
                let b = self.expr_val(base);
                let i = self.expr_val(index);
                let v = self.expr_val(value);
                match &base.ty {
                    Type::Array(t) => {
                        self.emit(
                            Instr::ArrSet {
                                arr: b.reg,
                                idx: i.reg,
                                src: v.reg,
                                elem: t.kind() as u8,
                            },
                            sp,
                        );
                    }
                    Type::Map(_, _) => {
                        self.emit(
                            Instr::MapSet {
                                map: b.reg,
                                key: i.reg,
                                val: v.reg,
                            },
                            sp,
                        );
                    }
                    other => self.internal(sp, format!("cannot assign to an element of {other}")),
                }
                self.release(v);
                self.release(i);
                self.release(b);
            }
            ExprKind::Field {
                base,
                field,
                field_index,
            } => {
                if !matches!(base.ty, Type::Struct(_) | Type::Class(_)) {
                    self.internal(
                        sp,
                        format!("cannot assign to field '{}' of {}", field.name, base.ty),
                    );
                    return;
                }
                let Ok(idx) = u8::try_from(*field_index) else {
                    self.error(sp, "structs are limited to 256 fields");
                    return;
                };
                let o = self.expr_val(base);
                let v = self.expr_val(value);
                self.emit(
                    Instr::SetField {
                        obj: o.reg,
                        idx,
                        src: v.reg,
                    },
                    sp,
                );
                self.release(v);
                self.release(o);
            }
            _ => self.internal(sp, "invalid assignment target"),
        }
    }

    /// Declare local `id` initialised with `init`. The value is computed into a
    /// fresh temporary (allocated after `init`'s operands are freed) that then
    /// becomes the local's register, so the local costs no register while its
    /// initialiser is evaluated.
    pub fn init_local(&mut self, id: LocalId, init: &'a Expr, sp: crate::ast::Span) -> Reg {
        let r = if self.local_is_ref(id) == Some(init.ty.is_ref()) {
            let v = self.expr_in(init, Dst::Any);
            if v.temp {
                self.adopt_local(id, v.reg);
                v.reg
            } else {
                let r = self.declare_local(id, sp);
                self.emit(Instr::Mov { dst: r, src: v.reg }, init.span);
                r
            }
        } else {
            let r = self.declare_local(id, sp);
            self.expr_to(init, r);
            r
        };
        self.make_cell_if_needed(id, sp);
        r
    }

    /// `def` inside a function: the local holds the new function value. Its cell
    /// (when a closure captures it, e.g. the function itself, to recurse) exists
    /// before the closure is made, holding null until the value is stored.
    fn nested_def(&mut self, id: LocalId, func: &'a Expr, sp: crate::ast::Span) {
        let r = self.declare_local(id, sp);
        self.emit(Instr::LoadNull { dst: r }, sp);
        self.make_cell_if_needed(id, sp);
        self.expr_to(func, r);
        self.update_cell(id, sp);
    }

    /// Assign to a variable's register: compile straight into it unless the value
    /// would write it early.
    fn assign_reg(&mut self, r: crate::bytecode::Reg, value: &'a Expr) {
        if writes_early(value) {
            let t = self.expr_in(value, Dst::Any);
            self.emit(Instr::Mov { dst: r, src: t.reg }, value.span);
            self.release(t);
        } else {
            self.expr_to(value, r);
        }
    }
}

/// Call `f` for every local of the current function mentioned in `s` (lambda
/// bodies have their own locals and are not entered).
pub(crate) fn walk_stmt(s: &Stmt, f: &mut impl FnMut(LocalId)) {
    match &s.kind {
        StmtKind::Let { init, local, .. } => {
            f(*local);
            walk_expr(init, f);
        }
        StmtKind::Def { func, local, .. } => {
            f(*local);
            walk_expr(func, f);
        }
        StmtKind::LetTuple { pattern, init, .. } => {
            pattern.for_each_var(&mut |_, local| f(local));
            walk_expr(init, f);
        }
        StmtKind::Assign { target, value } => {
            walk_expr(target, f);
            walk_expr(value, f);
        }
        StmtKind::Expr(e) | StmtKind::Throw(e) | StmtKind::Return(Some(e)) => walk_expr(e, f),
        StmtKind::Assert { cond, message } => {
            walk_expr(cond, f);
            if let Some(m) = message {
                walk_expr(m, f);
            }
        }
        StmtKind::If { branches, else_block } => {
            for (c, b) in branches {
                walk_expr(c, f);
                walk_block(b, f);
            }
            if let Some(b) = else_block {
                walk_block(b, f);
            }
        }
        StmtKind::While { cond, body } => {
            walk_expr(cond, f);
            walk_block(body, f);
        }
        StmtKind::ForRange {
            start,
            end,
            body,
            local,
            ..
        } => {
            f(*local);
            walk_expr(start, f);
            walk_expr(end, f);
            walk_block(body, f);
        }
        StmtKind::ForIn {
            iter,
            body,
            local,
            pattern,
            ..
        } => {
            f(*local);
            if let Some(p) = pattern {
                p.for_each_var(&mut |_, local| f(local));
            }
            walk_expr(iter, f);
            walk_block(body, f);
        }
        StmtKind::Match {
            subject,
            cases,
            default,
        } => {
            walk_expr(subject, f);
            for (c, b) in cases {
                walk_expr(c, f);
                walk_block(b, f);
            }
            if let Some(b) = default {
                walk_block(b, f);
            }
        }
        StmtKind::Try { body, catch, finally } => {
            walk_block(body, f);
            if let Some(c) = catch {
                if c.name.is_some() {
                    f(c.local);
                }
                walk_block(&c.body, f);
            }
            if let Some(b) = finally {
                walk_block(b, f);
            }
        }
        StmtKind::Return(None) | StmtKind::Break | StmtKind::Continue | StmtKind::Pass => {}
    }
}

fn walk_block(b: &Block, f: &mut impl FnMut(LocalId)) {
    for s in &b.stmts {
        walk_stmt(s, f);
    }
}

pub(crate) fn walk_expr(e: &Expr, f: &mut impl FnMut(LocalId)) {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::SelfRef => {}
        // The variables a lambda captures are used where it is created.
        ExprKind::Lambda { captures, .. } => captures.iter().for_each(|&(outer, _)| f(outer)),
        ExprKind::Name { res, .. } => {
            if let Res::Local(id) = res {
                f(*id);
            }
        }
        ExprKind::FString(parts) => {
            for p in parts {
                if let FStrPart::Expr(x) = p {
                    walk_expr(x, f);
                }
            }
        }
        ExprKind::Array(es) | ExprKind::Tuple(es) => es.iter().for_each(|x| walk_expr(x, f)),
        ExprKind::Map(ps) => {
            for (k, v) in ps {
                walk_expr(k, f);
                walk_expr(v, f);
            }
        }
        ExprKind::StructLit { fields, .. } => fields.iter().for_each(|(_, x)| walk_expr(x, f)),
        ExprKind::Unary { operand, .. } => walk_expr(operand, f),
        ExprKind::Binary { lhs, rhs, .. } => {
            walk_expr(lhs, f);
            walk_expr(rhs, f);
        }
        ExprKind::Index { base, index } => {
            walk_expr(base, f);
            walk_expr(index, f);
        }
        ExprKind::Field { base, .. } => walk_expr(base, f),
        ExprKind::Call { args, res, .. } => {
            if let Res::Local(id) = res {
                f(*id);
            }
            args.iter().for_each(|x| walk_expr(x, f));
        }
        ExprKind::MethodCall {
            receiver, args, res, ..
        } => {
            if let Res::Local(id) = res {
                f(*id);
            }
            walk_expr(receiver, f);
            args.iter().for_each(|x| walk_expr(x, f));
        }
        ExprKind::CallValue { callee, args } => {
            walk_expr(callee, f);
            args.iter().for_each(|x| walk_expr(x, f));
        }
        ExprKind::BoundMethod { receiver, .. } => walk_expr(receiver, f),
        ExprKind::New { args, .. } | ExprKind::Super { args, .. } => {
            args.iter().for_each(|x| walk_expr(x, f))
        }
        ExprKind::Null => {}
        ExprKind::Is { expr, .. } | ExprKind::As { expr, .. } | ExprKind::NonNull { inner: expr, .. } => {
            walk_expr(expr, f)
        }
    }
}

/// Whether some statement of `b` (at any depth) assigns local `id`.
pub(crate) fn block_assigns(b: &Block, id: LocalId) -> bool {
    b.stmts.iter().any(|s| stmt_assigns(s, id))
}

fn stmt_assigns(s: &Stmt, id: LocalId) -> bool {
    match &s.kind {
        StmtKind::Assign { target, .. } => {
            matches!(&target.kind, ExprKind::Name { res: Res::Local(t), .. } if *t == id)
        }
        StmtKind::If { branches, else_block } => {
            branches.iter().any(|(_, b)| block_assigns(b, id))
                || else_block.as_ref().is_some_and(|b| block_assigns(b, id))
        }
        StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } | StmtKind::ForIn { body, .. } => {
            block_assigns(body, id)
        }
        StmtKind::Match { cases, default, .. } => {
            cases.iter().any(|(_, b)| block_assigns(b, id))
                || default.as_ref().is_some_and(|b| block_assigns(b, id))
        }
        StmtKind::Try { body, catch, finally } => {
            block_assigns(body, id)
                || catch.as_ref().is_some_and(|c| block_assigns(&c.body, id))
                || finally.as_ref().is_some_and(|b| block_assigns(b, id))
        }
        _ => false,
    }
}

/// If `s` is `let m: {K: V} = {}` and the statements `rest` after it begin
/// with assignments `m[k] = v`, how many (at most 2^15): the empty map's
/// `NewMap` makes room for that many entries, so that a record built key by
/// key (`r = {}` then `r["id"] = ...`, five times) takes one allocation of
/// its size instead of growing from 4 to 8 (`FnCompiler::map_size_hint`).
fn map_filled_after(s: &Stmt, rest: &[Stmt]) -> Option<u32> {
    let StmtKind::Let { init, local, .. } = &s.kind else {
        return None;
    };
    if !matches!(&init.kind, ExprKind::Map(pairs) if pairs.is_empty()) {
        return None;
    }
    let into_it = |s: &Stmt| match &s.kind {
        StmtKind::Assign { target, .. } => match &target.kind {
            ExprKind::Index { base, .. } => {
                matches!(&base.kind, ExprKind::Name { res: Res::Local(l), .. } if l == local)
            }
            _ => false,
        },
        _ => false,
    };
    let n = rest.iter().take_while(|s| into_it(s)).count().min(1 << 15);
    (n > 0).then_some(n as u32)
}
