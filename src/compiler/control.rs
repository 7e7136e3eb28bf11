//! Control flow: conditions (fused compare-and-branch), `if`/`elif`/`else`,
//! `while`, `for ... in range`, `for ... in` arrays and maps, `match`, `break`,
//! `continue`, `return`.
//!
//! # Loop schemes
//! Every loop gets its own `loop_id`, which its back-edge counts (hotness, OSR at
//! the header). `B` is the body, `exit` the label after the loop.
//!
//! ```text
//! while c:              for i in range(a, b):        for x in coll:
//!  header:                i = a                        h = coll       (hidden; map: h = map_keys(coll))
//!    if !c goto exit      t = b     (once; hidden)     n = ArrLen h   (hidden; read once)
//!    B                    if t <= i goto exit          k = 0          (hidden counter)
//!    Loop header        header:                        if n <= k goto exit
//!  exit:                  B                          header:
//!                       cont:                          x = h[k]
//!                         ForLoop i, t -> header       B
//!                       exit:                        cont:
//!                                                      ForLoop k, n -> header
//!                                                    exit:
//! ```
//! `continue` jumps to `header` (while) or `cont`; `break` to `exit`. `ForLoop`
//! adds one to its counter and jumps back while it is below the limit. `h` is the
//! variable's own register when `coll` is a local the body never reassigns, and
//! `t` is `b`'s own register when `b` is such a local. `i` is the loop variable's
//! own register, so assignments to it in the body affect iteration.
//!
//! `b` is evaluated before every round, so the scheme above is used when its
//! value cannot change ([`FnCompiler::invariant_end`]); otherwise the range loop
//! tests at its header and steps in two instructions:
//!
//! ```text
//!   i = a
//! header:
//!   t = b                 (every round; `BrGeIImm i, b` for a small literal)
//!   if t <= i goto exit
//!   B
//! cont:
//!   i = i + 1
//!   Loop header
//! exit:
//! ```
//! A loop id that does not fit `ForLoop`'s 8-bit field (the 257th loop of a
//! function) gets `i = i + 1; if t <= i goto exit; Loop header` instead.

use super::expr::{cmp_class, is_int, small_int, CmpClass};
use super::func::{Ctl, Dst, FnCompiler, Label, Val};
use crate::ast::{BinOp, Block, Expr, ExprKind, LocalId, Pattern, Res, Span, StmtKind, UnOp};
use crate::bytecode::{Instr, Reg};
use crate::types::Type;
use bp_runtime::value::ValKind;

impl<'a, 'c> FnCompiler<'a, 'c> {
    /// Jump to `target` when `e` (a bool) evaluates to `when`; fall through otherwise.
    pub fn cond_jump(&mut self, e: &'a Expr, when: bool, target: Label) {
        let sp = e.span;
        match &e.kind {
            ExprKind::Bool(b) => {
                if *b == when {
                    self.jmp(target, sp);
                }
            }
            ExprKind::Unary {
                op: UnOp::Not,
                operand,
            } => self.cond_jump(operand, !when, target),
            ExprKind::Binary {
                op: BinOp::And,
                lhs,
                rhs,
            } => {
                if when {
                    let skip = self.new_label();
                    self.cond_jump(lhs, false, skip);
                    self.cond_jump(rhs, true, target);
                    self.bind(skip);
                } else {
                    self.cond_jump(lhs, false, target);
                    self.cond_jump(rhs, false, target);
                }
            }
            ExprKind::Binary {
                op: BinOp::Or,
                lhs,
                rhs,
            } => {
                if when {
                    self.cond_jump(lhs, true, target);
                    self.cond_jump(rhs, true, target);
                } else {
                    let skip = self.new_label();
                    self.cond_jump(lhs, true, skip);
                    self.cond_jump(rhs, false, target);
                    self.bind(skip);
                }
            }
            ExprKind::Binary { op, lhs, rhs }
                if matches!(
                    op,
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
                ) && (cmp_class(&lhs.ty) == CmpClass::Int
                    || (lhs.ty == Type::Float && !matches!(op, BinOp::Eq | BinOp::Ne))) =>
            {
                if lhs.ty == Type::Float {
                    self.float_branch(*op, lhs, rhs, when, target, sp);
                } else {
                    self.int_branch(*op, lhs, rhs, when, target, sp);
                }
            }
            _ => {
                let v = self.expr_val(e);
                let i = if when {
                    Instr::JmpIf {
                        cond: v.reg,
                        target: 0,
                    }
                } else {
                    Instr::JmpIfNot {
                        cond: v.reg,
                        target: 0,
                    }
                };
                self.emit_jump(i, target, sp);
                self.release(v);
            }
        }
    }

    /// Integer (or bool) comparison branch. Inverting an integer comparison is exact.
    fn int_branch(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, when: bool, target: Label, sp: Span) {
        let op = if when { op } else { negate(op) };
        let ints = is_int(&lhs.ty);
        if ints {
            if let Some(imm) = small_int(rhs) {
                let a = self.expr_val(lhs);
                self.emit_jump(br_imm(op, a.reg, imm), target, sp);
                self.release(a);
                return;
            }
            if let Some(imm) = small_int(lhs) {
                let b = self.expr_val(rhs);
                self.emit_jump(br_imm(mirror(op), b.reg, imm), target, sp);
                self.release(b);
                return;
            }
        }
        let av = self.expr_val(lhs);
        let bv = self.expr_val(rhs);
        let (a, b) = (av.reg, bv.reg);
        let i = match op {
            BinOp::Eq => Instr::BrEqI { a, b, target: 0 },
            BinOp::Ne => Instr::BrNeI { a, b, target: 0 },
            BinOp::Lt => Instr::BrLtI { a, b, target: 0 },
            BinOp::Le => Instr::BrLeI { a, b, target: 0 },
            BinOp::Gt => Instr::BrLtI {
                a: b,
                b: a,
                target: 0,
            },
            _ => Instr::BrLeI {
                a: b,
                b: a,
                target: 0,
            },
        };
        self.emit_jump(i, target, sp);
        self.release(bv);
        self.release(av);
    }

    /// Float ordering branch; the negated forms keep NaN semantics (`!(a < b)` is
    /// true when either is NaN).
    fn float_branch(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, when: bool, target: Label, sp: Span) {
        let av = self.expr_val(lhs);
        let bv = self.expr_val(rhs);
        let (a, b) = (av.reg, bv.reg);
        // Normalise `>`/`>=` to `<`/`<=` with swapped operands.
        let (lt, x, y) = match op {
            BinOp::Lt => (true, a, b),
            BinOp::Le => (false, a, b),
            BinOp::Gt => (true, b, a),
            _ => (false, b, a),
        };
        let i = match (lt, when) {
            (true, true) => Instr::BrLtF {
                a: x,
                b: y,
                target: 0,
            },
            (false, true) => Instr::BrLeF {
                a: x,
                b: y,
                target: 0,
            },
            (true, false) => Instr::BrNotLtF {
                a: x,
                b: y,
                target: 0,
            },
            (false, false) => Instr::BrNotLeF {
                a: x,
                b: y,
                target: 0,
            },
        };
        self.emit_jump(i, target, sp);
        self.release(bv);
        self.release(av);
    }

    /// `if c1: B1 elif c2: B2 ... else: E`
    pub fn if_stmt(&mut self, branches: &'a [(Expr, Block)], else_block: Option<&'a Block>, sp: Span) {
        let end = self.new_label();
        let n = branches.len();
        for (i, (cond, body)) in branches.iter().enumerate() {
            if let Some(t) = self.simple_jump(body) {
                // `if c: break` / `if c: continue` is one conditional branch.
                self.cond_jump(cond, true, t);
                continue;
            }
            let next = self.new_label();
            self.cond_jump(cond, false, next);
            self.block(body);
            let last = i + 1 == n && else_block.is_none();
            if !last && !super::stmt::block_ends_in_jump(body) {
                self.jmp(end, sp);
            }
            self.bind(next);
        }
        if let Some(b) = else_block {
            self.block(b);
        }
        self.bind(end);
    }

    /// If `b` is just `break` or `continue` and leaving needs no `finally` code,
    /// the label it jumps to.
    fn simple_jump(&self, b: &Block) -> Option<Label> {
        let [s] = b.stmts.as_slice() else { return None };
        let is_break = match s.kind {
            StmtKind::Break => true,
            StmtKind::Continue => false,
            _ => return None,
        };
        let li = self.ctl.iter().rposition(|c| matches!(c, Ctl::Loop { .. }))?;
        if self.ctl[li + 1..]
            .iter()
            .any(|c| matches!(c, Ctl::Try { finally: Some(_), .. }))
        {
            return None;
        }
        match &self.ctl[li] {
            Ctl::Loop { brk, cont } => Some(if is_break { *brk } else { *cont }),
            Ctl::Try { .. } => None,
        }
    }

    pub fn while_stmt(&mut self, cond: &'a Expr, body: &'a Block, sp: Span) {
        let id = self.new_loop_id();
        let header = self.new_label();
        let exit = self.new_label();
        self.bind(header);
        self.cond_jump(cond, false, exit);
        self.loop_rest(body, None, header, exit, id, sp);
    }

    /// The rest of a loop after its header (bound at `header`) and exit test:
    /// `body`, where `break` goes to `exit` and `continue` to `step`'s label, or to
    /// `header` without a step; then, for a counting loop, `step`'s label (bound
    /// here) and, with a limit register, the back-edge `ForLoop counter, limit ->
    /// header` (one added to the counter, back while it is below the limit), else
    /// one added to the counter and the back-edge `Loop header`; either counted as
    /// loop `id`; and `exit`.
    fn loop_rest(
        &mut self,
        body: &'a Block,
        step: Option<(Label, Reg, Option<Reg>)>,
        header: Label,
        exit: Label,
        id: u16,
        sp: Span,
    ) {
        let cont = step.map_or(header, |(cont, _, _)| cont);
        self.ctl.push(Ctl::Loop { brk: exit, cont });
        self.block(body);
        self.ctl.pop();
        if let Some((cont, ctr, limit)) = step {
            self.bind(cont);
            if let (Some(limit), Ok(loop_id)) = (limit, u8::try_from(id)) {
                self.emit_jump(
                    Instr::ForLoop {
                        ctr,
                        limit,
                        loop_id,
                        target: 0,
                    },
                    header,
                    sp,
                );
                self.bind(exit);
                return;
            }
            self.emit(
                Instr::AddIImm {
                    dst: ctr,
                    a: ctr,
                    imm: 1,
                },
                sp,
            );
            if let Some(limit) = limit {
                // A loop id beyond `ForLoop`'s field: its test here.
                self.emit_jump(
                    Instr::BrLeI {
                        a: limit,
                        b: ctr,
                        target: 0,
                    },
                    exit,
                    sp,
                );
            }
        }
        self.emit_jump(
            Instr::Loop {
                target: 0,
                loop_id: id,
            },
            header,
            sp,
        );
        self.bind(exit);
    }

    /// Whether the value of `e`, the end of a `range` loop with body `body`, is the
    /// same at every round: it reads only literals and locals that the body never
    /// assigns (not captured cells), through integer operators, which have no
    /// effects (a division by zero raises at the first evaluation either way).
    fn invariant_end(&self, e: &Expr, body: &Block) -> bool {
        match &e.kind {
            ExprKind::Int(_) => true,
            ExprKind::Name {
                res: Res::Local(id), ..
            } => {
                !self.cell_locals.get(*id as usize).copied().unwrap_or(true)
                    && !super::stmt::block_assigns(body, *id)
            }
            ExprKind::Unary {
                op: UnOp::Neg | UnOp::BitNot,
                operand,
            } => is_int(&operand.ty) && self.invariant_end(operand, body),
            ExprKind::Binary { op, lhs, rhs } => {
                matches!(
                    op,
                    BinOp::Add
                        | BinOp::Sub
                        | BinOp::Mul
                        | BinOp::Div
                        | BinOp::Mod
                        | BinOp::BitAnd
                        | BinOp::BitOr
                        | BinOp::BitXor
                        | BinOp::Shl
                        | BinOp::Shr
                ) && is_int(&lhs.ty)
                    && is_int(&rhs.ty)
                    && self.invariant_end(lhs, body)
                    && self.invariant_end(rhs, body)
            }
            _ => false,
        }
    }

    /// `for i in range(a, b)`. `b` is evaluated before every round (an existing
    /// rule: `range(0, array_len(xs))` sees the array grow). When its value cannot
    /// change during the loop ([`Self::invariant_end`]: literals, locals the body never
    /// assigns, integer arithmetic on them) it is evaluated once, before the loop,
    /// into a register of its own (the local's own register for a local), and the
    /// back-edge is one `ForLoop`; otherwise the loop tests `b` at its header.
    pub fn for_range(&mut self, local: LocalId, start: &'a Expr, end: &'a Expr, body: &'a Block, sp: Span) {
        self.push_scope();
        let i = self.init_local(local, start, sp);
        let id = self.new_loop_id();
        let header = self.new_label();
        let cont = self.new_label();
        let exit = self.new_label();
        if !self.invariant_end(end, body) {
            self.bind(header);
            match small_int(end) {
                Some(imm) => self.emit_jump(Instr::BrGeIImm { a: i, imm, target: 0 }, exit, end.span),
                None => {
                    let t = self.expr_val(end);
                    self.emit_jump(
                        Instr::BrLeI {
                            a: t.reg,
                            b: i,
                            target: 0,
                        },
                        exit,
                        end.span,
                    );
                    self.release(t);
                }
            }
            self.loop_rest(body, Some((cont, i, None)), header, exit, id, sp);
            self.pop_scope();
            return;
        }
        // A local's own register, else a temporary that lives through the loop.
        let limit = self.expr_val(end);
        self.emit_jump(
            Instr::BrLeI {
                a: limit.reg,
                b: i,
                target: 0,
            },
            exit,
            end.span,
        );
        self.bind(header);
        self.loop_rest(body, Some((cont, i, Some(limit.reg))), header, exit, id, sp);
        self.pop_scope();
        self.release(limit);
    }

    pub fn for_in(
        &mut self,
        local: LocalId,
        pattern: Option<&'a Pattern>,
        iter: &'a Expr,
        body: &'a Block,
        sp: Span,
    ) {
        self.push_scope();
        // Hidden registers: the collection (or the map's key snapshot), its length,
        // the index.
        let in_place = match (&iter.ty, &iter.kind) {
            // A variable the body never reassigns is indexed in place.
            (
                Type::Array(_),
                ExprKind::Name {
                    res: Res::Local(id), ..
                },
            ) if !super::stmt::block_assigns(body, *id) => Some(self.local_reg(*id, iter.span)),
            _ => None,
        };
        // The kind of the elements: of the array, or of the map's keys.
        let elem = match &iter.ty {
            Type::Array(t) | Type::Map(t, _) => t.kind(),
            _ => ValKind::Ref,
        } as u8;
        let coll = match (&iter.ty, in_place) {
            (_, Some(reg)) => Val { reg, temp: false },
            (Type::Map(k, _), None) => {
                let Some(keys) = bp_runtime::builtins::lookup("map_keys") else {
                    self.error(iter.span, "iterating over a map needs the map_keys builtin");
                    self.pop_scope();
                    return;
                };
                let m = self.expr_val(iter);
                let keys_ty = Type::Array(k.clone());
                self.emit_builtin(
                    keys,
                    &[(m.reg, &iter.ty)],
                    &keys_ty,
                    Some(Dst::Any),
                    iter.span,
                    &[m],
                )
            }
            // A fresh register: the body may reassign the variable.
            (Type::Array(_), None) => self.expr_in(iter, Dst::Any),
            (other, None) => {
                self.internal(iter.span, format!("for-in over a value of type {other}"));
                self.pop_scope();
                return;
            }
        };
        let len = self.temp_kind(false);
        let idx = self.temp_kind(false);
        self.emit(
            Instr::ArrLen {
                dst: len.reg,
                arr: coll.reg,
            },
            iter.span,
        );
        self.emit(Instr::LoadInt { dst: idx.reg, imm: 0 }, sp);
        let x = self.declare_local(local, sp);
        let id = self.new_loop_id();
        let header = self.new_label();
        let cont = self.new_label();
        let exit = self.new_label();
        self.emit_jump(
            Instr::BrLeI {
                a: len.reg,
                b: idx.reg,
                target: 0,
            },
            exit,
            sp,
        );
        self.bind(header);
        self.emit(
            Instr::ArrGet {
                dst: x,
                arr: coll.reg,
                idx: idx.reg,
                elem,
            },
            sp,
        );
        if let Some(p) = pattern {
            self.destructure(p, x, sp);
        }
        self.loop_rest(body, Some((cont, idx.reg, Some(len.reg))), header, exit, id, sp);
        self.pop_scope();
        self.release(idx);
        self.release(len);
        self.release(coll);
    }

    /// `match s: case e1: B1 ... default: D`
    ///
    /// ```text
    ///   s = subject                 (once)
    ///   if s == e1 goto L1          (cases tested top to bottom)
    ///   if s == e2 goto L2
    ///   D                           (default, if any)
    ///   goto end
    /// L1: B1; goto end
    /// L2: B2
    /// end:
    /// ```
    pub fn match_stmt(
        &mut self,
        subject: &'a Expr,
        cases: &'a [(Expr, Block)],
        default: Option<&'a Block>,
        sp: Span,
    ) {
        let s = self.expr_val(subject);
        let end = self.new_label();
        let mut labels = Vec::with_capacity(cases.len());
        for (ce, _) in cases {
            let l = self.new_label();
            labels.push(l);
            if ce.ty != subject.ty && !(is_int(&ce.ty) && is_int(&subject.ty)) {
                // A case of another type never matches (but is still evaluated).
                self.expr_effect(ce);
                continue;
            }
            match cmp_class(&subject.ty) {
                CmpClass::Int => match (is_int(&subject.ty), small_int(ce)) {
                    (true, Some(imm)) => self.emit_jump(
                        Instr::BrEqIImm {
                            a: s.reg,
                            imm,
                            target: 0,
                        },
                        l,
                        ce.span,
                    ),
                    _ => {
                        let c = self.expr_val(ce);
                        self.emit_jump(
                            Instr::BrEqI {
                                a: s.reg,
                                b: c.reg,
                                target: 0,
                            },
                            l,
                            ce.span,
                        );
                        self.release(c);
                    }
                },
                class => {
                    let c = self.expr_val(ce);
                    self.release(c);
                    let t = self.temp_kind(false);
                    let i = if class == CmpClass::Float {
                        Instr::EqF {
                            dst: t.reg,
                            a: s.reg,
                            b: c.reg,
                        }
                    } else if class == CmpClass::Str {
                        Instr::EqStr {
                            dst: t.reg,
                            a: s.reg,
                            b: c.reg,
                        }
                    } else {
                        Instr::EqRef {
                            dst: t.reg,
                            a: s.reg,
                            b: c.reg,
                        }
                    };
                    self.emit(i, ce.span);
                    self.emit_jump(
                        Instr::JmpIf {
                            cond: t.reg,
                            target: 0,
                        },
                        l,
                        ce.span,
                    );
                    self.release(t);
                }
            }
        }
        self.release(s);
        if let Some(d) = default {
            self.block(d);
        }
        if !cases.is_empty() && !default.is_some_and(super::stmt::block_ends_in_jump) {
            self.jmp(end, sp);
        }
        let n = cases.len();
        for (i, ((_, body), l)) in cases.iter().zip(labels).enumerate() {
            self.bind(l);
            self.block(body);
            if i + 1 < n && !super::stmt::block_ends_in_jump(body) {
                self.jmp(end, sp);
            }
        }
        self.bind(end);
    }

    /// `break` / `continue`: run the `finally` blocks of the `try` statements being
    /// left (innermost first), then jump.
    pub fn break_continue(&mut self, is_break: bool, sp: Span) {
        let Some(li) = self.ctl.iter().rposition(|c| matches!(c, Ctl::Loop { .. })) else {
            let what = if is_break { "break" } else { "continue" };
            self.error(sp, format!("{what} outside of loop"));
            return;
        };
        let target = match &self.ctl[li] {
            Ctl::Loop { brk, cont } => {
                if is_break {
                    *brk
                } else {
                    *cont
                }
            }
            Ctl::Try { .. } => return,
        };
        self.exit_copies(li + 1, sp);
        self.jmp(target, sp);
    }

    /// `return [e]`: evaluate the value (into a fresh register if `finally` code
    /// runs before returning, since that code may assign the variable being
    /// returned), run the `finally` blocks of every enclosing `try` (innermost
    /// first), return.
    pub fn return_stmt(&mut self, value: Option<&'a Expr>, sp: Span) {
        let has_finally = self
            .ctl
            .iter()
            .any(|c| matches!(c, Ctl::Try { finally: Some(_), .. }));
        match value {
            None => {
                self.exit_copies(0, sp);
                self.implicit_return(sp);
            }
            Some(e) if e.ty == Type::Void || self.ret_ty == Type::Void => {
                self.expr_effect(e);
                self.exit_copies(0, sp);
                self.emit(Instr::RetVoid, sp);
            }
            Some(e) => {
                let v = if has_finally {
                    self.expr_in(e, Dst::Any)
                } else {
                    self.expr_val(e)
                };
                self.exit_copies(0, sp);
                self.emit(Instr::Ret { src: v.reg }, sp);
                self.release(v);
            }
        }
    }

    /// Falling off the end of the body (or a bare `return`): `RetVoid`, or return
    /// the zero value of the declared result type.
    pub fn implicit_return(&mut self, sp: Span) {
        if self.ret_ty == Type::Void {
            self.emit(Instr::RetVoid, sp);
        } else {
            let rt = self.ret_ty.clone();
            let t = self.temp(&rt);
            self.zero_to(&rt, t.reg, sp);
            self.emit(Instr::Ret { src: t.reg }, sp);
            self.release(t);
        }
    }
}

/// The comparison that is true exactly when `op` is false (exact for integers).
fn negate(op: BinOp) -> BinOp {
    match op {
        BinOp::Eq => BinOp::Ne,
        BinOp::Ne => BinOp::Eq,
        BinOp::Lt => BinOp::Ge,
        BinOp::Le => BinOp::Gt,
        BinOp::Gt => BinOp::Le,
        BinOp::Ge => BinOp::Lt,
        other => other,
    }
}

/// `a op b` == `b mirror(op) a`.
fn mirror(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        other => other,
    }
}

fn br_imm(op: BinOp, a: crate::bytecode::Reg, imm: i16) -> Instr {
    match op {
        BinOp::Eq => Instr::BrEqIImm { a, imm, target: 0 },
        BinOp::Ne => Instr::BrNeIImm { a, imm, target: 0 },
        BinOp::Lt => Instr::BrLtIImm { a, imm, target: 0 },
        BinOp::Le => Instr::BrLeIImm { a, imm, target: 0 },
        BinOp::Gt => Instr::BrGtIImm { a, imm, target: 0 },
        _ => Instr::BrGeIImm { a, imm, target: 0 },
    }
}
