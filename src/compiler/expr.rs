//! Expressions: literals, names, operators, indexing, fields, container and
//! struct literals, f-strings, lambdas.
//!
//! Three entry points:
//! * [`FnCompiler::expr_to`] compiles into a given register. Every form writes
//!   its destination only with its **last** instruction, after all operands have
//!   been read, except those for which [`writes_early`] is true.
//! * [`FnCompiler::expr_val`] returns wherever the value is: a local's own
//!   register (no copy) or a fresh temporary.
//! * [`FnCompiler::expr_effect`] evaluates for side effects only.

use super::func::{FnCompiler, Val};
use super::LambdaJob;
use crate::ast::{BinOp, Expr, ExprKind, FStrPart, Res, UnOp};
use crate::bytecode::{Instr, Reg};
use crate::types::Type;
use bp_runtime::value::ValKind;

/// Array literal elements passed to one `NewArray` (the rest are pushed).
pub(crate) const ARRAY_CHUNK: usize = 64;
/// Map literal pairs passed to one `NewMap` (the rest are inserted with `MapSet`).
pub(crate) const MAP_CHUNK: usize = 32;

/// The value of an integer literal, possibly negated.
pub(crate) fn const_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(n) => Some(*n),
        ExprKind::Unary {
            op: UnOp::Neg,
            operand,
        } => match &operand.kind {
            ExprKind::Int(n) => Some(n.wrapping_neg()),
            _ => None,
        },
        _ => None,
    }
}

/// An integer literal that fits an `i16` immediate.
pub(crate) fn small_int(e: &Expr) -> Option<i16> {
    if !matches!(e.ty, Type::Int) {
        return None;
    }
    const_int(e).and_then(|n| i16::try_from(n).ok())
}

/// Whether compiling `e` into a register may write that register before all of
/// `e`'s operands have been read (or before `e` can no longer throw). Such
/// expressions are compiled into a temporary when the destination is a live
/// variable.
pub(crate) fn writes_early(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Binary {
            op: BinOp::And | BinOp::Or,
            ..
        } => true,
        ExprKind::New { .. } => true,
        ExprKind::Array(es) | ExprKind::Tuple(es) => es.len() > ARRAY_CHUNK,
        ExprKind::Map(ps) => ps.len() > MAP_CHUNK,
        _ => false,
    }
}

/// Whether evaluating `e` can have no effect at all (no call, no possible error).
pub(crate) fn is_pure_leaf(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Name { .. }
            | ExprKind::Lambda { .. }
            | ExprKind::SelfRef
    )
}

/// The `typeof` text of a static type.
pub(crate) fn typeof_name(t: &Type) -> &'static str {
    match t {
        Type::Int | Type::Fixed(_) => "int",
        Type::Float => "float",
        Type::Bool => "bool",
        Type::Str => "str",
        Type::Array(_) => "array",
        Type::Map(_, _) => "map",
        Type::Tuple(_) => "tuple",
        Type::Struct(_) => "struct",
        Type::Class(_) => "class",
        Type::Fn(_, _) => "fn",
        Type::Ptr => "ptr",
        Type::Void => "null",
        Type::Unknown | Type::Error | Type::EmptyElem => "null",
    }
}

/// Integer-like static types (ints, fixed-width ints).
pub(crate) fn is_int(t: &Type) -> bool {
    matches!(t, Type::Int | Type::Fixed(_))
}

impl<'a, 'c> FnCompiler<'a, 'c> {
    /// Compile `e` and return the register holding its value.
    pub fn expr_val(&mut self, e: &'a Expr) -> Val {
        match &e.kind {
            ExprKind::Name {
                res: Res::Local(id), ..
            } => {
                let reg = self.local_reg(*id, e.span);
                Val { reg, temp: false }
            }
            ExprKind::SelfRef => {
                let reg = self.self_reg(e.span);
                Val { reg, temp: false }
            }
            _ => {
                let t = self.temp(&e.ty);
                self.expr_to(e, t.reg);
                t
            }
        }
    }

    /// Evaluate `e` for its side effects only.
    pub fn expr_effect(&mut self, e: &'a Expr) {
        match &e.kind {
            ExprKind::Call { .. }
            | ExprKind::MethodCall { .. }
            | ExprKind::New { .. }
            | ExprKind::Super { .. } => self.call_expr(e, None),
            _ if is_pure_leaf(e) => {}
            _ => {
                let v = self.expr_val(e);
                self.release(v);
            }
        }
    }

    /// Compile `e` into `dst` (whose class must match `e`'s type).
    pub fn expr_to(&mut self, e: &'a Expr, dst: Reg) {
        let sp = e.span;
        match &e.kind {
            ExprKind::Int(n) => self.load_int(dst, *n, sp),
            ExprKind::Float(x) => self.load_float(dst, *x, sp),
            ExprKind::Bool(b) => {
                self.emit(Instr::LoadBool { dst, val: *b }, sp);
            }
            ExprKind::Str(s) => self.load_str(dst, s, sp),
            ExprKind::FString(parts) => self.fstring(parts, dst, e),
            ExprKind::Name { name, res } => match res {
                Res::Local(id) => {
                    let r = self.local_reg(*id, sp);
                    if r != dst {
                        self.emit(Instr::Mov { dst, src: r }, sp);
                    }
                }
                Res::Global(idx) => {
                    self.emit(Instr::GetGlobal { dst, idx: *idx }, sp);
                }
                Res::Func(fid) => {
                    let site = self.site(*fid, Vec::new(), Vec::new());
                    self.emit(Instr::MakeClosure { dst, site }, sp);
                }
                _ => self.internal(sp, format!("name '{}' is not a value ({res:?})", name.name)),
            },
            ExprKind::SelfRef => {
                let r = self.self_reg(sp);
                if r != dst {
                    self.emit(Instr::Mov { dst, src: r }, sp);
                }
            }
            ExprKind::Array(elems) | ExprKind::Tuple(elems) => match &e.ty {
                Type::Array(el) => self.array_lit(elems, el, &e.ty, dst, e),
                Type::Tuple(ts) => self.tuple_lit(elems, ts, dst, e),
                other => self.internal(sp, format!("sequence literal typed {other}")),
            },
            ExprKind::Map(pairs) => self.map_lit(pairs, dst, e),
            ExprKind::StructLit {
                fields,
                struct_id,
                field_index,
                ..
            } => self.struct_lit(fields, *struct_id, field_index, dst, e),
            ExprKind::Unary { op, operand } => self.unary(*op, operand, dst, e),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, dst, e),
            ExprKind::Index { base, index } => self.index(base, index, dst, e),
            ExprKind::Field {
                base,
                field,
                field_index,
            } => match &base.ty {
                Type::Struct(_) | Type::Class(_) => {
                    let Ok(idx) = u8::try_from(*field_index) else {
                        self.error(sp, "structs are limited to 256 fields");
                        return;
                    };
                    let b = self.expr_val(base);
                    self.emit(Instr::GetField { dst, obj: b.reg, idx }, sp);
                    self.release(b);
                }
                Type::Tuple(ts) => {
                    let idx = *field_index as usize;
                    if idx >= ts.len() || idx > 255 {
                        self.internal(sp, format!("tuple element {idx} out of range"));
                        return;
                    }
                    let b = self.expr_val(base);
                    self.emit(
                        Instr::TupleGet {
                            dst,
                            tup: b.reg,
                            idx: idx as u8,
                        },
                        sp,
                    );
                    self.release(b);
                }
                other => self.internal(sp, format!("field '{}' of a value of type {other}", field.name)),
            },
            ExprKind::Call { .. }
            | ExprKind::MethodCall { .. }
            | ExprKind::New { .. }
            | ExprKind::Super { .. } => self.call_expr(e, Some(dst)),
            ExprKind::Lambda {
                func_id,
                locals,
                body,
                ..
            } => {
                self.cx.queue_lambda(LambdaJob {
                    func_id: *func_id,
                    locals,
                    body,
                    span: sp,
                });
                let site = self.site(*func_id, Vec::new(), Vec::new());
                self.emit(Instr::MakeClosure { dst, site }, sp);
            }
        }
    }

    /// The register of `self` inside a method.
    pub fn self_reg(&mut self, span: crate::ast::Span) -> Reg {
        let id = self.locals.iter().position(|l| l.name == "self").unwrap_or(0);
        self.local_reg(id as u32, span)
    }

    /// Write the zero value of `ty` into `dst`: `0`, `0.0`, `false`, `""`, an empty
    /// array/map with the right kinds, a tuple of zero values, null otherwise.
    pub fn zero_to(&mut self, ty: &Type, dst: Reg, span: crate::ast::Span) {
        match ty {
            Type::Int | Type::Fixed(_) | Type::Unknown | Type::Error | Type::Void => {
                self.load_int(dst, 0, span)
            }
            Type::Float => self.load_float(dst, 0.0, span),
            Type::Bool => {
                self.emit(Instr::LoadBool { dst, val: false }, span);
            }
            Type::Str => self.load_str(dst, b"", span),
            Type::Array(el) => {
                let site = self.site(el.kind() as u32, Vec::new(), Vec::new());
                self.emit(Instr::NewArray { dst, site }, span);
            }
            Type::Map(k, v) => {
                let site = self.site(map_kinds(k, v), Vec::new(), Vec::new());
                self.emit(Instr::NewMap { dst, site }, span);
            }
            Type::Tuple(ts) => {
                let mut vals = Vec::with_capacity(ts.len());
                for t in ts {
                    let v = self.temp(t);
                    self.zero_to(t, v.reg, span);
                    vals.push(v);
                }
                let args = vals.iter().map(|v| v.reg).collect();
                let kinds = ts.iter().map(|t| t.kind()).collect();
                let site = self.site(0, args, kinds);
                self.emit(Instr::NewTuple { dst, site }, span);
                self.release_all(&vals);
            }
            Type::Struct(_) | Type::Class(_) | Type::Fn(_, _) | Type::Ptr | Type::EmptyElem => {
                self.emit(Instr::LoadNull { dst }, span);
            }
        }
    }

    /// A string register holding `e` converted with `to_str` (strings as is; a void
    /// value prints as `null`).
    pub fn str_val(&mut self, e: &'a Expr) -> Val {
        match &e.ty {
            Type::Str => self.expr_val(e),
            Type::Void => {
                self.expr_effect(e);
                let t = self.temp_kind(true);
                self.load_str(t.reg, b"null", e.span);
                t
            }
            ty => {
                let v = self.expr_val(e);
                self.release(v);
                let t = self.temp_kind(true);
                self.emit(
                    Instr::ToStr {
                        dst: t.reg,
                        src: v.reg,
                        kind: ty.kind() as u8,
                    },
                    e.span,
                );
                t
            }
        }
    }

    fn fstring(&mut self, parts: &'a [FStrPart], dst: Reg, e: &'a Expr) {
        let sp = e.span;
        match parts {
            [] => self.load_str(dst, b"", sp),
            [FStrPart::Lit(s)] => self.load_str(dst, s, sp),
            [FStrPart::Expr(x)] if x.ty == Type::Str => self.expr_to(x, dst),
            [FStrPart::Expr(x)] if x.ty != Type::Void => {
                let v = self.expr_val(x);
                self.emit(
                    Instr::ToStr {
                        dst,
                        src: v.reg,
                        kind: x.ty.kind() as u8,
                    },
                    x.span,
                );
                self.release(v);
            }
            _ => {
                let mut vals = Vec::with_capacity(parts.len());
                for p in parts {
                    match p {
                        FStrPart::Lit(s) => {
                            let t = self.temp_kind(true);
                            self.load_str(t.reg, s, sp);
                            vals.push(t);
                        }
                        FStrPart::Expr(x) => {
                            let v = self.str_val(x);
                            vals.push(v);
                        }
                    }
                }
                if let [a, b] = vals[..] {
                    self.emit(
                        Instr::Concat {
                            dst,
                            a: a.reg,
                            b: b.reg,
                        },
                        sp,
                    );
                } else {
                    let args = vals.iter().map(|v| v.reg).collect();
                    let site = self.site(0, args, Vec::new());
                    self.emit(Instr::ConcatN { dst, site }, sp);
                }
                self.release_all(&vals);
            }
        }
    }

    fn array_lit(&mut self, elems: &'a [Expr], el: &Type, arr_ty: &Type, dst: Reg, e: &'a Expr) {
        let sp = e.span;
        let kind = el.kind() as u32;
        let first = elems.len().min(ARRAY_CHUNK);
        let vals: Vec<Val> = elems[..first].iter().map(|x| self.expr_val(x)).collect();
        let args = vals.iter().map(|v| v.reg).collect();
        let site = self.site(kind, args, Vec::new());
        self.emit(Instr::NewArray { dst, site }, sp);
        self.release_all(&vals);
        if elems.len() > first {
            let Some(push) = bp_runtime::builtins::lookup("array_push") else {
                self.error(
                    sp,
                    "array literal too long (more than 64 elements) and no array_push builtin",
                );
                return;
            };
            for x in &elems[first..] {
                let v = self.expr_val(x);
                self.emit_builtin(push, &[(dst, arr_ty), (v.reg, el)], &Type::Void, None, x.span);
                self.release(v);
            }
        }
    }

    fn tuple_lit(&mut self, elems: &'a [Expr], ts: &[Type], dst: Reg, e: &'a Expr) {
        if elems.len() > 255 {
            self.error(e.span, "tuple literal too long");
            return;
        }
        let vals: Vec<Val> = elems.iter().map(|x| self.expr_val(x)).collect();
        let args = vals.iter().map(|v| v.reg).collect();
        let kinds = elems
            .iter()
            .enumerate()
            .map(|(i, x)| ts.get(i).map(|t| t.kind()).unwrap_or_else(|| x.ty.kind()))
            .collect();
        let site = self.site(0, args, kinds);
        self.emit(Instr::NewTuple { dst, site }, e.span);
        self.release_all(&vals);
    }

    fn map_lit(&mut self, pairs: &'a [(Expr, Expr)], dst: Reg, e: &'a Expr) {
        let sp = e.span;
        let Type::Map(kt, vt) = &e.ty else {
            self.internal(sp, format!("map literal typed {}", e.ty));
            return;
        };
        let first = pairs.len().min(MAP_CHUNK);
        let mut vals = Vec::with_capacity(first * 2);
        for (k, v) in &pairs[..first] {
            vals.push(self.expr_val(k));
            vals.push(self.expr_val(v));
        }
        let args = vals.iter().map(|v| v.reg).collect();
        let site = self.site(map_kinds(kt, vt), args, Vec::new());
        self.emit(Instr::NewMap { dst, site }, sp);
        self.release_all(&vals);
        for (k, v) in &pairs[first..] {
            let kv = self.expr_val(k);
            let vv = self.expr_val(v);
            self.emit(
                Instr::MapSet {
                    map: dst,
                    key: kv.reg,
                    val: vv.reg,
                },
                k.span,
            );
            self.release(vv);
            self.release(kv);
        }
    }

    fn struct_lit(
        &mut self,
        fields: &'a [(crate::ast::Ident, Expr)],
        struct_id: u32,
        field_index: &[u32],
        dst: Reg,
        e: &'a Expr,
    ) {
        let sp = e.span;
        let Some(sinfo) = self.cx.info.structs.get(struct_id as usize) else {
            self.internal(sp, format!("unknown struct #{struct_id}"));
            return;
        };
        let decl: Vec<Type> = sinfo.fields.iter().map(|(_, t)| t.clone()).collect();
        let mut slots: Vec<Option<Val>> = vec![None; decl.len()];
        // Evaluate in the order written, place in declaration order.
        for (i, (name, fe)) in fields.iter().enumerate() {
            let v = self.expr_val(fe);
            let pos = field_index.get(i).map(|&p| p as usize).unwrap_or(i);
            match slots.get_mut(pos) {
                Some(slot) => {
                    if let Some(old) = slot.replace(v) {
                        self.release(old);
                    }
                }
                None => {
                    self.internal(name.span, format!("field '{}' has no position", name.name));
                    self.release(v);
                }
            }
        }
        let mut vals = Vec::with_capacity(decl.len());
        for (pos, slot) in slots.into_iter().enumerate() {
            match slot {
                Some(v) => vals.push(v),
                None => {
                    let t = self.temp(&decl[pos]);
                    self.zero_to(&decl[pos], t.reg, sp);
                    vals.push(t);
                }
            }
        }
        let args = vals.iter().map(|v| v.reg).collect();
        let site = self.site(struct_id, args, Vec::new());
        self.emit(Instr::NewStruct { dst, site }, sp);
        self.release_all(&vals);
    }

    fn unary(&mut self, op: UnOp, operand: &'a Expr, dst: Reg, e: &'a Expr) {
        let sp = e.span;
        match op {
            UnOp::Neg => match (&operand.kind, &operand.ty) {
                (ExprKind::Int(n), _) => self.load_int(dst, n.wrapping_neg(), sp),
                (ExprKind::Float(x), _) => self.load_float(dst, -x, sp),
                (_, Type::Float) => {
                    let v = self.expr_val(operand);
                    self.emit(Instr::NegF { dst, src: v.reg }, sp);
                    self.release(v);
                }
                _ => {
                    let v = self.expr_val(operand);
                    self.emit(Instr::NegI { dst, src: v.reg }, sp);
                    self.release(v);
                }
            },
            UnOp::Not => {
                let v = self.expr_val(operand);
                self.emit(Instr::Not { dst, src: v.reg }, sp);
                self.release(v);
            }
            UnOp::BitNot => {
                let v = self.expr_val(operand);
                self.emit(Instr::BitNot { dst, src: v.reg }, sp);
                self.release(v);
            }
        }
    }

    fn binary(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, dst: Reg, e: &'a Expr) {
        let sp = e.span;
        match op {
            BinOp::And | BinOp::Or => {
                // Short-circuit: dst = lhs; if it decides, skip rhs.
                let end = self.new_label();
                self.expr_to(lhs, dst);
                let j = if op == BinOp::And {
                    Instr::JmpIfNot { cond: dst, target: 0 }
                } else {
                    Instr::JmpIf { cond: dst, target: 0 }
                };
                self.emit_jump(j, end, sp);
                self.expr_to(rhs, dst);
                self.bind(end);
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                self.compare_to(op, lhs, rhs, dst, e)
            }
            _ => self.arith(op, lhs, rhs, dst, e),
        }
    }

    fn arith(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, dst: Reg, e: &'a Expr) {
        let sp = e.span;
        let ty = &lhs.ty;
        if is_int(ty) {
            // Immediate forms: x + k, k + x, x - k.
            match op {
                BinOp::Add => {
                    if let Some(imm) = small_int(rhs) {
                        let a = self.expr_val(lhs);
                        self.emit(Instr::AddIImm { dst, a: a.reg, imm }, sp);
                        self.release(a);
                        return;
                    }
                    if let Some(imm) = small_int(lhs) {
                        let b = self.expr_val(rhs);
                        self.emit(Instr::AddIImm { dst, a: b.reg, imm }, sp);
                        self.release(b);
                        return;
                    }
                }
                BinOp::Sub => {
                    if let Some(imm) = small_int(rhs).and_then(|k| k.checked_neg()) {
                        let a = self.expr_val(lhs);
                        self.emit(Instr::AddIImm { dst, a: a.reg, imm }, sp);
                        self.release(a);
                        return;
                    }
                }
                _ => {}
            }
        }
        if *ty != rhs.ty && !(is_int(ty) && is_int(&rhs.ty)) {
            self.internal(
                sp,
                format!(
                    "operands of '{}' have different types {} and {}",
                    op.symbol(),
                    ty,
                    rhs.ty
                ),
            );
            return;
        }
        let av = self.expr_val(lhs);
        let bv = self.expr_val(rhs);
        let (a, b) = (av.reg, bv.reg);
        let i = match (ty, op) {
            (Type::Float, BinOp::Add) => Instr::AddF { dst, a, b },
            (Type::Float, BinOp::Sub) => Instr::SubF { dst, a, b },
            (Type::Float, BinOp::Mul) => Instr::MulF { dst, a, b },
            (Type::Float, BinOp::Div) => Instr::DivF { dst, a, b },
            (Type::Float, BinOp::Mod) => Instr::ModF { dst, a, b },
            (Type::Str, BinOp::Add) => Instr::Concat { dst, a, b },
            (t, BinOp::Add) if is_int(t) => Instr::AddI { dst, a, b },
            (t, BinOp::Sub) if is_int(t) => Instr::SubI { dst, a, b },
            (t, BinOp::Mul) if is_int(t) => Instr::MulI { dst, a, b },
            (t, BinOp::Div) if is_int(t) => Instr::DivI { dst, a, b },
            (t, BinOp::Mod) if is_int(t) => Instr::ModI { dst, a, b },
            (t, BinOp::BitAnd) if is_int(t) => Instr::BitAnd { dst, a, b },
            (t, BinOp::BitOr) if is_int(t) => Instr::BitOr { dst, a, b },
            (t, BinOp::BitXor) if is_int(t) => Instr::BitXor { dst, a, b },
            (t, BinOp::Shl) if is_int(t) => Instr::Shl { dst, a, b },
            (t, BinOp::Shr) if is_int(t) => Instr::Shr { dst, a, b },
            (t, op) => {
                self.internal(sp, format!("operator '{}' on {}", op.symbol(), t));
                Instr::Mov { dst, src: dst }
            }
        };
        self.emit(i, sp);
        self.release(bv);
        self.release(av);
    }

    fn compare_to(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, dst: Reg, e: &'a Expr) {
        let sp = e.span;
        let av = self.expr_val(lhs);
        let bv = self.expr_val(rhs);
        let (a, b) = (av.reg, bv.reg);
        let i = match (cmp_class(&lhs.ty), op) {
            (CmpClass::Int, BinOp::Eq) => Instr::EqI { dst, a, b },
            (CmpClass::Int, BinOp::Ne) => Instr::NeI { dst, a, b },
            (CmpClass::Int, BinOp::Lt) => Instr::LtI { dst, a, b },
            (CmpClass::Int, BinOp::Le) => Instr::LeI { dst, a, b },
            (CmpClass::Int, BinOp::Gt) => Instr::LtI { dst, a: b, b: a },
            (CmpClass::Int, BinOp::Ge) => Instr::LeI { dst, a: b, b: a },
            (CmpClass::Float, BinOp::Eq) => Instr::EqF { dst, a, b },
            (CmpClass::Float, BinOp::Ne) => Instr::NeF { dst, a, b },
            (CmpClass::Float, BinOp::Lt) => Instr::LtF { dst, a, b },
            (CmpClass::Float, BinOp::Le) => Instr::LeF { dst, a, b },
            (CmpClass::Float, BinOp::Gt) => Instr::LtF { dst, a: b, b: a },
            (CmpClass::Float, BinOp::Ge) => Instr::LeF { dst, a: b, b: a },
            (CmpClass::Ref, BinOp::Eq) => Instr::EqRef { dst, a, b },
            (CmpClass::Ref, BinOp::Ne) => Instr::NeRef { dst, a, b },
            (_, op) => {
                self.internal(sp, format!("operator '{}' on {}", op.symbol(), lhs.ty));
                Instr::LoadBool { dst, val: false }
            }
        };
        self.emit(i, sp);
        self.release(bv);
        self.release(av);
    }

    fn index(&mut self, base: &'a Expr, index: &'a Expr, dst: Reg, e: &'a Expr) {
        let sp = e.span;
        match &base.ty {
            Type::Array(_) => {
                let b = self.expr_val(base);
                let i = self.expr_val(index);
                self.emit(
                    Instr::ArrGet {
                        dst,
                        arr: b.reg,
                        idx: i.reg,
                    },
                    sp,
                );
                self.release(i);
                self.release(b);
            }
            Type::Map(_, _) => {
                let b = self.expr_val(base);
                let k = self.expr_val(index);
                self.emit(
                    Instr::MapGet {
                        dst,
                        map: b.reg,
                        key: k.reg,
                    },
                    sp,
                );
                self.release(k);
                self.release(b);
            }
            Type::Tuple(ts) => {
                let n = ts.len() as i64;
                let Some(raw) = const_int(index) else {
                    self.internal(index.span, "tuple index must be an integer literal");
                    return;
                };
                let idx = if raw < 0 { raw + n } else { raw };
                if idx < 0 || idx >= n || idx > 255 {
                    self.error(
                        index.span,
                        format!("tuple index {raw} out of range for a tuple of {n} elements"),
                    );
                    return;
                }
                let b = self.expr_val(base);
                self.emit(
                    Instr::TupleGet {
                        dst,
                        tup: b.reg,
                        idx: idx as u8,
                    },
                    sp,
                );
                self.release(b);
            }
            other => self.internal(sp, format!("cannot index a value of type {other}")),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpClass {
    Int,
    Float,
    Ref,
}

/// How `==`/`<` compare values of type `t`: ints and bools as integers, floats as
/// IEEE doubles, everything else by reference/deep equality (`EqRef`).
pub(crate) fn cmp_class(t: &Type) -> CmpClass {
    match t.kind() {
        ValKind::Int | ValKind::Bool => CmpClass::Int,
        ValKind::Float => CmpClass::Float,
        ValKind::Ref => CmpClass::Ref,
    }
}

/// `NewMap` target: key kind | value kind << 8.
pub(crate) fn map_kinds(k: &Type, v: &Type) -> u32 {
    (k.kind() as u32) | ((v.kind() as u32) << 8)
}
