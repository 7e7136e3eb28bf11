//! Statements and blocks: scopes, `let`, assignments, expression statements, and
//! dispatch to the control-flow and exception compilers.

use super::expr::writes_early;
use super::func::FnCompiler;
use crate::ast::{Block, Expr, ExprKind, Res, Stmt, StmtKind};
use crate::bytecode::Instr;
use crate::types::Type;

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
    pub fn block_stmts(&mut self, b: &'a Block) {
        for s in &b.stmts {
            self.stmt(s);
        }
    }

    pub fn stmt(&mut self, s: &'a Stmt) {
        let sp = s.span;
        match &s.kind {
            StmtKind::Let { init, local, .. } => {
                let r = self.declare_local(*local, sp);
                self.expr_to(init, r);
            }
            StmtKind::Assign { target, value } => self.assign(target, value, sp),
            StmtKind::Expr(e) => self.expr_effect(e),
            StmtKind::If { branches, else_block } => self.if_stmt(branches, else_block.as_ref(), sp),
            StmtKind::While { cond, body } => self.while_stmt(cond, body, sp),
            StmtKind::ForRange { start, end, body, local, .. } => self.for_range(*local, start, end, body, sp),
            StmtKind::ForIn { iter, body, local, .. } => self.for_in(*local, iter, body, sp),
            StmtKind::Match { subject, cases, default } => self.match_stmt(subject, cases, default.as_ref(), sp),
            StmtKind::Try { body, catch, finally } => self.try_stmt(body, catch.as_ref(), finally.as_ref(), sp),
            StmtKind::Throw(e) => {
                let v = self.expr_val(e);
                self.emit(Instr::Throw { src: v.reg }, sp);
                self.release(v);
            }
            StmtKind::Break => self.break_continue(true, sp),
            StmtKind::Continue => self.break_continue(false, sp),
            StmtKind::Return(v) => self.return_stmt(v.as_ref(), sp),
            StmtKind::Pass => {}
        }
    }

    /// `target = value`. Evaluation order: container, index/key, then value.
    fn assign(&mut self, target: &'a Expr, value: &'a Expr, sp: crate::ast::Span) {
        match &target.kind {
            ExprKind::Name { res: Res::Local(id), .. } => {
                let r = self.local_reg(*id, target.span);
                self.assign_reg(r, value);
            }
            ExprKind::SelfRef => {
                let r = self.self_reg(target.span);
                self.assign_reg(r, value);
            }
            ExprKind::Name { res: Res::Global(idx), .. } => {
                let v = self.expr_val(value);
                self.emit(Instr::SetGlobal { src: v.reg, idx: *idx }, sp);
                self.release(v);
            }
            ExprKind::Index { base, index } => {
                let b = self.expr_val(base);
                let i = self.expr_val(index);
                let v = self.expr_val(value);
                match &base.ty {
                    Type::Array(_) => {
                        self.emit(Instr::ArrSet { arr: b.reg, idx: i.reg, src: v.reg }, sp);
                    }
                    Type::Map(_, _) => {
                        self.emit(Instr::MapSet { map: b.reg, key: i.reg, val: v.reg }, sp);
                    }
                    other => self.internal(sp, format!("cannot assign to an element of {other}")),
                }
                self.release(v);
                self.release(i);
                self.release(b);
            }
            ExprKind::Field { base, field, field_index } => {
                if !matches!(base.ty, Type::Struct(_) | Type::Class(_)) {
                    self.internal(sp, format!("cannot assign to field '{}' of {}", field.name, base.ty));
                    return;
                }
                let Ok(idx) = u8::try_from(*field_index) else {
                    self.error(sp, "structs are limited to 256 fields");
                    return;
                };
                let o = self.expr_val(base);
                let v = self.expr_val(value);
                self.emit(Instr::SetField { obj: o.reg, idx, src: v.reg }, sp);
                self.release(v);
                self.release(o);
            }
            _ => self.internal(sp, "invalid assignment target"),
        }
    }

    /// Assign to a variable's register: compile straight into it unless the value
    /// would write it early.
    fn assign_reg(&mut self, r: crate::bytecode::Reg, value: &'a Expr) {
        if writes_early(value) {
            let t = self.temp(&value.ty);
            self.expr_to(value, t.reg);
            self.emit(Instr::Mov { dst: r, src: t.reg }, value.span);
            self.release(t);
        } else {
            self.expr_to(value, r);
        }
    }
}
