//! Expressions: literals, names, operators, indexing, fields, container and
//! struct literals, f-strings, lambdas.
//!
//! Entry points:
//! * [`FnCompiler::expr_in`] compiles into a [`Dst`]: a given register
//!   (`Dst::Reg`, also [`FnCompiler::expr_to`]) or a fresh temporary (`Dst::Any`).
//!   Every form evaluates its operands left to right, releases their
//!   temporaries, and only then takes its result register (for `Dst::Any` the
//!   lowest free one of its class, typically the first operand's temporary) and
//!   writes it with its **last** instruction, which reads its operands before
//!   writing. So a left-associative chain `a + b + c + ...` of any length needs
//!   one temporary, `f(g(x), h(y))` two, and a given destination may be a
//!   variable that the expression reads. The exceptions, which write the
//!   destination before they are done, are the forms for which [`writes_early`]
//!   is true.
//! * [`FnCompiler::expr_val`] returns wherever the value is: a local's own
//!   register (no copy) or a fresh temporary.
//! * [`FnCompiler::eval_list`] evaluates operand lists (call arguments, literal
//!   elements); equal literals in one list share a register.
//! * [`FnCompiler::expr_effect`] evaluates for side effects only.

use super::func::{Dst, FnCompiler, Val};
use super::LambdaJob;
use crate::ast::{BinOp, Expr, ExprKind, FStrPart, Res, Span, UnOp};
use crate::bytecode::{Const, Instr, Reg};
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

/// An integer literal that fits an `i32` immediate (`AddIImm`, `MulIImm`, ...).
pub(crate) fn imm_int(e: &Expr) -> Option<i32> {
    if !matches!(e.ty, Type::Int) {
        return None;
    }
    const_int(e).and_then(|n| i32::try_from(n).ok())
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
/// Whether evaluating `e` has no effect and cannot fail, so that it may move
/// before a concatenation: a literal, a variable, int `+ - * & | ^` (which wrap)
/// and `to_str` of such an int. Nested at most a few levels.
fn is_quiet(e: &Expr) -> bool {
    fn quiet(e: &Expr, depth: u32) -> bool {
        if is_pure_leaf(e) {
            return true;
        }
        if depth == 0 {
            return false;
        }
        match &e.kind {
            ExprKind::Binary { op, lhs, rhs } => {
                matches!(
                    op,
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor
                ) && lhs.ty == Type::Int
                    && rhs.ty == Type::Int
                    && quiet(lhs, depth - 1)
                    && quiet(rhs, depth - 1)
            }
            _ => int_to_str_arg(e).is_some_and(|x| quiet(x, depth - 1)),
        }
    }
    quiet(e, 4)
}

/// Whether `e` is a `bool` computed from quiet operands ([`is_quiet`]) by
/// comparisons of numbers or bools, `not`, `and` and `or`: no call, no possible
/// error, a few instructions. As the right operand of `and` / `or` it is
/// evaluated unconditionally and combined by `&` / `|` (0 and 1) instead of
/// branched around, so a predicate such as `(k >= 97 and k <= 122) or k == 95`
/// is straight-line code: cheaper than a branch in compiled code, and a callee
/// the JIT inlines (`Op::inlinable` admits no jumps).
fn is_cheap_condition(e: &Expr) -> bool {
    fn cheap(e: &Expr, depth: u32) -> bool {
        if e.ty != Type::Bool {
            return false;
        }
        match &e.kind {
            ExprKind::Bool(_) | ExprKind::Name { .. } => true,
            ExprKind::Unary {
                op: UnOp::Not,
                operand,
            } => depth > 0 && cheap(operand, depth - 1),
            ExprKind::Binary {
                op: BinOp::And | BinOp::Or,
                lhs,
                rhs,
            } => depth > 0 && cheap(lhs, depth - 1) && cheap(rhs, depth - 1),
            ExprKind::Binary {
                op: BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge,
                lhs,
                rhs,
            } => {
                matches!(lhs.ty, Type::Int | Type::Float | Type::Bool)
                    && rhs.ty == lhs.ty
                    && is_quiet(lhs)
                    && is_quiet(rhs)
            }
            _ => false,
        }
    }
    cheap(e, 3)
}

/// `x` when `e` is `to_str(x)` (or `str(x)`) of an int `x`.
fn int_to_str_arg(e: &Expr) -> Option<&Expr> {
    let ExprKind::Call {
        args,
        res: Res::Builtin(id),
        ..
    } = &e.kind
    else {
        return None;
    };
    let name = bp_runtime::builtins::all().get(*id as usize).map(|b| b.name);
    match (name, &args[..]) {
        (Some("to_str" | "str"), [x]) if x.ty == Type::Int => Some(x),
        _ => None,
    }
}

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

/// A literal operand, identified by the value its load instruction produces.
#[derive(Clone, PartialEq)]
pub(crate) enum ConstLeaf {
    Int(i64),
    Float(u64),
    Bool(bool),
    Str(Vec<u8>),
}

/// The constant that `e` loads, if it is a literal (possibly a negated number).
/// Equal literals of one operand list can share a register: loading them has no
/// effect, and string constants are shared immutable objects anyway.
pub(crate) fn const_leaf(e: &Expr) -> Option<ConstLeaf> {
    match &e.kind {
        ExprKind::Int(n) => Some(ConstLeaf::Int(*n)),
        ExprKind::Float(x) => Some(ConstLeaf::Float(x.to_bits())),
        ExprKind::Bool(b) => Some(ConstLeaf::Bool(*b)),
        ExprKind::Str(s) => Some(ConstLeaf::Str(s.clone())),
        ExprKind::Unary {
            op: UnOp::Neg,
            operand,
        } => match &operand.kind {
            ExprKind::Int(n) => Some(ConstLeaf::Int(n.wrapping_neg())),
            ExprKind::Float(x) => Some(ConstLeaf::Float((-x).to_bits())),
            _ => None,
        },
        _ => None,
    }
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
        Type::Chan(_) => "chan",
        Type::Nullable(t) => typeof_name(t),
        Type::Void | Type::Null => "null",
        Type::Unknown | Type::Error | Type::EmptyElem => "null",
    }
}

/// Integer-like static types (ints, fixed-width ints).
pub(crate) fn is_int(t: &Type) -> bool {
    matches!(t, Type::Int | Type::Fixed(_))
}

impl<'a, 'c> FnCompiler<'a, 'c> {
    /// Compile `e` and return the register holding its value: a local's own
    /// register (read in place), else a temporary allocated after `e`'s operands.
    pub fn expr_val(&mut self, e: &'a Expr) -> Val {
        match &e.kind {
            ExprKind::Name {
                res: Res::Local(id), ..
            } if !self.cell_locals[*id as usize] => {
                let reg = self.local_reg(*id, e.span);
                Val { reg, temp: false }
            }
            ExprKind::SelfRef => {
                let reg = self.self_reg(e.span);
                Val { reg, temp: false }
            }
            _ => self.expr_in(e, Dst::Any),
        }
    }

    /// Evaluate operands left to right, each with [`FnCompiler::expr_val`]; equal
    /// literals share one register (the later occurrences are not owned, so
    /// [`FnCompiler::release_all`] frees every register once).
    pub fn eval_list<I>(&mut self, es: I) -> Vec<Val>
    where
        I: IntoIterator<Item = &'a Expr>,
    {
        let mut seen: Vec<(ConstLeaf, Reg)> = Vec::new();
        es.into_iter()
            .map(|e| self.list_val(e, &mut seen, false))
            .collect()
    }

    /// One operand of a list (see [`FnCompiler::eval_list`]); with `as_str`, the
    /// value converted by [`FnCompiler::str_val`].
    pub fn list_val(&mut self, e: &'a Expr, seen: &mut Vec<(ConstLeaf, Reg)>, as_str: bool) -> Val {
        let key = match const_leaf(e) {
            Some(k) if !as_str || e.ty == Type::Str => Some(k),
            _ => None,
        };
        if let Some(k) = &key {
            if let Some((_, reg)) = seen.iter().find(|(s, _)| s == k) {
                return Val {
                    reg: *reg,
                    temp: false,
                };
            }
        }
        let v = if as_str { self.str_val(e) } else { self.expr_val(e) };
        if let Some(k) = key {
            seen.push((k, v.reg));
        }
        v
    }

    /// Evaluate `e` for its side effects only.
    pub fn expr_effect(&mut self, e: &'a Expr) {
        match &e.kind {
            ExprKind::Call { .. }
            | ExprKind::MethodCall { .. }
            | ExprKind::New { .. }
            | ExprKind::Super { .. } => {
                self.call_expr(e, None);
            }
            _ if is_pure_leaf(e) => {}
            _ => {
                let v = self.expr_val(e);
                self.release(v);
            }
        }
    }

    /// Compile `e` into `dst` (whose class must match `e`'s type).
    pub fn expr_to(&mut self, e: &'a Expr, dst: Reg) {
        self.expr_in(e, Dst::Reg(dst));
    }

    /// Compile `e` into `d`; returns the result register (owned by the caller when
    /// `d` is [`Dst::Any`]: always a fresh temporary then, even for a variable).
    pub fn expr_in(&mut self, e: &'a Expr, d: Dst) -> Val {
        let sp = e.span;
        match &e.kind {
            ExprKind::Int(n) => {
                let o = self.dst_reg(d, &e.ty);
                self.load_int(o.reg, *n, sp);
                o
            }
            ExprKind::Float(x) => {
                let o = self.dst_reg(d, &e.ty);
                self.load_float(o.reg, *x, sp);
                o
            }
            ExprKind::Bool(b) => {
                let o = self.dst_reg(d, &e.ty);
                self.emit(Instr::LoadBool { dst: o.reg, val: *b }, sp);
                o
            }
            ExprKind::Str(s) => {
                let o = self.dst_reg(d, &e.ty);
                self.load_str(o.reg, s, sp);
                o
            }
            ExprKind::FString(parts) => self.fstring(parts, d, e),
            ExprKind::Name { name, res } => match res {
                // A captured cell: load its value.
                Res::Local(id) if self.cell_locals[*id as usize] => {
                    let cell = self.local_reg(*id, sp);
                    let o = self.dst_reg(d, &e.ty);
                    self.emit(Instr::CellGet { dst: o.reg, cell }, sp);
                    o
                }
                Res::Local(id) => {
                    let r = self.local_reg(*id, sp);
                    let o = self.dst_reg(d, &e.ty);
                    if r != o.reg {
                        self.emit(Instr::Mov { dst: o.reg, src: r }, sp);
                    }
                    o
                }
                Res::Global(idx) => {
                    let o = self.dst_reg(d, &e.ty);
                    self.emit(
                        Instr::GetGlobal {
                            dst: o.reg,
                            idx: *idx,
                        },
                        sp,
                    );
                    o
                }
                Res::Func(fid) => {
                    let site = self.site(*fid, Vec::new(), Vec::new());
                    let o = self.dst_reg(d, &e.ty);
                    self.emit(Instr::MakeClosure { dst: o.reg, site }, sp);
                    o
                }
                _ => {
                    self.internal(sp, format!("name '{}' is not a value ({res:?})", name.name));
                    self.dst_reg(d, &e.ty)
                }
            },
            ExprKind::SelfRef => {
                let r = self.self_reg(sp);
                let o = self.dst_reg(d, &e.ty);
                if r != o.reg {
                    self.emit(Instr::Mov { dst: o.reg, src: r }, sp);
                }
                o
            }
            ExprKind::Array(elems) | ExprKind::Tuple(elems) => match &e.ty {
                Type::Array(el) => self.array_lit(elems, el, &e.ty, d, e),
                Type::Tuple(ts) => self.tuple_lit(elems, ts, d, e),
                other => {
                    self.internal(sp, format!("sequence literal typed {other}"));
                    self.dst_reg(d, &e.ty)
                }
            },
            ExprKind::Map(pairs) => self.map_lit(pairs, d, e),
            ExprKind::StructLit {
                fields,
                struct_id,
                field_index,
                ..
            } => self.struct_lit(fields, *struct_id, field_index, d, e),
            ExprKind::Unary { op, operand } => self.unary(*op, operand, d, e),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, d, e),
            ExprKind::Index { base, index } => self.index(base, index, d, e),
            ExprKind::Field {
                base,
                field,
                field_index,
            } => match &base.ty {
                Type::Struct(_) | Type::Class(_) => {
                    let Ok(idx) = u8::try_from(*field_index) else {
                        self.error(sp, "structs are limited to 256 fields");
                        return self.dst_reg(d, &e.ty);
                    };
                    self.unary_op(base, d, e, |dst, obj| Instr::GetField { dst, obj, idx })
                }
                Type::Tuple(ts) => {
                    let idx = *field_index as usize;
                    if idx >= ts.len() || idx > 255 {
                        self.internal(sp, format!("tuple element {idx} out of range"));
                        return self.dst_reg(d, &e.ty);
                    }
                    let idx = idx as u8;
                    self.unary_op(base, d, e, |dst, tup| Instr::TupleGet { dst, tup, idx })
                }
                other => {
                    self.internal(sp, format!("field '{}' of a value of type {other}", field.name));
                    self.dst_reg(d, &e.ty)
                }
            },
            ExprKind::Call { .. }
            | ExprKind::MethodCall { .. }
            | ExprKind::CallValue { .. }
            | ExprKind::New { .. }
            | ExprKind::Super { .. } => self.call_expr(e, Some(d)),
            ExprKind::Null => {
                let o = self.dst_reg(d, &e.ty);
                self.emit(Instr::LoadNull { dst: o.reg }, sp);
                o
            }
            ExprKind::BoundMethod {
                receiver, func_id, ..
            } => {
                let v = self.expr_val(receiver);
                let site = self.site(*func_id, vec![v.reg], vec![ValKind::Ref]);
                self.release(v);
                let o = self.dst_reg(d, &e.ty);
                self.emit(Instr::MakeClosure { dst: o.reg, site }, sp);
                o
            }
            ExprKind::NonNull { inner, message } => {
                let o = self.expr_in(inner, d);
                let k = self.konst(Const::Str(message.as_bytes().to_vec()));
                self.emit(Instr::NullCheck { src: o.reg, k }, sp);
                o
            }
            ExprKind::Is { expr, class_id, .. } => {
                let class = self.cx.class_layout(*class_id);
                self.unary_op(expr, d, e, |dst, src| Instr::InstanceOf { dst, src, class })
            }
            ExprKind::As { expr, class_id, .. } => {
                let class = self.cx.class_layout(*class_id);
                let o = self.expr_in(expr, d);
                self.emit(Instr::CheckClass { src: o.reg, class }, sp);
                o
            }
            ExprKind::Lambda {
                func_id,
                locals,
                body,
                captures,
                ..
            } => {
                let mut args = Vec::with_capacity(captures.len());
                let mut kinds = Vec::with_capacity(captures.len());
                let mut cells = Vec::with_capacity(captures.len());
                for &(outer, _) in captures {
                    let (reg, is_cell) = self.capture_of(outer, sp);
                    args.push(reg);
                    let ty = &self.locals[outer as usize].ty;
                    kinds.push(if is_cell { ValKind::Ref } else { ty.kind() });
                    cells.push(is_cell);
                }
                self.cx.queue_lambda(LambdaJob {
                    func_id: *func_id,
                    locals,
                    body,
                    span: sp,
                    captures,
                    cells,
                });
                let site = self.site(*func_id, args, kinds);
                let o = self.dst_reg(d, &e.ty);
                self.emit(Instr::MakeClosure { dst: o.reg, site }, sp);
                o
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
                let vals = self.zero_vals(ts, span);
                let args = vals.iter().map(|v| v.reg).collect();
                let kinds = ts.iter().map(|t| t.kind()).collect();
                let site = self.site(0, args, kinds);
                self.release_all(&vals);
                self.emit(Instr::NewTuple { dst, site }, span);
            }
            Type::Struct(_)
            | Type::Class(_)
            | Type::Fn(_, _)
            | Type::Ptr
            | Type::Chan(_)
            | Type::EmptyElem
            | Type::Nullable(_)
            | Type::Null => {
                self.emit(Instr::LoadNull { dst }, span);
            }
        }
    }

    /// Registers holding the zero values of `tys` (for the fields of a new object or
    /// tuple). Immutable zero values (numbers, bools, `""`, null) of the same kind
    /// share one register; arrays, maps and tuples get one each. Every distinct
    /// register appears once in the result as an owned temporary; the others are
    /// not owned, so [`FnCompiler::release_all`] frees each register once.
    pub fn zero_vals(&mut self, tys: &[Type], span: crate::ast::Span) -> Vec<Val> {
        // Sharing key: 0 int-like, 1 float, 2 bool, 3 str, 4 null.
        let share_key = |t: &Type| -> Option<usize> {
            match t {
                Type::Int | Type::Fixed(_) | Type::Unknown | Type::Error | Type::Void => Some(0),
                Type::Float => Some(1),
                Type::Bool => Some(2),
                Type::Str => Some(3),
                Type::Struct(_)
                | Type::Class(_)
                | Type::Fn(_, _)
                | Type::Ptr
                | Type::Chan(_)
                | Type::EmptyElem
                | Type::Nullable(_)
                | Type::Null => Some(4),
                Type::Array(_) | Type::Map(_, _) | Type::Tuple(_) => None,
            }
        };
        let mut shared: [Option<Reg>; 5] = [None; 5];
        let mut out = Vec::with_capacity(tys.len());
        for t in tys {
            match share_key(t) {
                Some(k) if shared[k].is_some() => out.push(Val {
                    reg: shared[k].unwrap_or(0),
                    temp: false,
                }),
                key => {
                    let v = self.temp(t);
                    self.zero_to(t, v.reg, span);
                    if let Some(k) = key {
                        shared[k] = Some(v.reg);
                    }
                    out.push(v);
                }
            }
        }
        out
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

    fn fstring(&mut self, parts: &'a [FStrPart], d: Dst, e: &'a Expr) -> Val {
        let sp = e.span;
        match parts {
            [] => {
                let o = self.dst_reg(d, &e.ty);
                self.load_str(o.reg, b"", sp);
                o
            }
            [FStrPart::Lit(s)] => {
                let o = self.dst_reg(d, &e.ty);
                self.load_str(o.reg, s, sp);
                o
            }
            [FStrPart::Expr(x)] if x.ty == Type::Str => self.expr_in(x, d),
            [FStrPart::Expr(x)] if x.ty != Type::Void => {
                let v = self.expr_val(x);
                self.release(v);
                let o = self.dst_reg(d, &e.ty);
                self.emit(
                    Instr::ToStr {
                        dst: o.reg,
                        src: v.reg,
                        kind: x.ty.kind() as u8,
                    },
                    x.span,
                );
                o
            }
            _ => {
                let mut vals = Vec::with_capacity(parts.len());
                // Int parts go in as ints, formatted into the result by `ConcatN`.
                let mut kinds = Vec::with_capacity(parts.len());
                let mut seen: Vec<(ConstLeaf, Reg)> = Vec::new();
                for p in parts {
                    match p {
                        FStrPart::Lit(s) => {
                            let k = ConstLeaf::Str(s.clone());
                            match seen.iter().find(|(c, _)| *c == k) {
                                Some(&(_, reg)) => vals.push(Val { reg, temp: false }),
                                None => {
                                    let t = self.temp_kind(true);
                                    self.load_str(t.reg, s, sp);
                                    seen.push((k, t.reg));
                                    vals.push(t);
                                }
                            }
                            kinds.push(ValKind::Ref);
                        }
                        FStrPart::Expr(x) if x.ty == Type::Int => {
                            vals.push(self.expr_val(x));
                            kinds.push(ValKind::Int);
                        }
                        FStrPart::Expr(x) => {
                            let v = self.list_val(x, &mut seen, true);
                            vals.push(v);
                            kinds.push(ValKind::Ref);
                        }
                    }
                }
                self.release_all(&vals);
                let o = self.dst_reg(d, &e.ty);
                self.emit_concat(o.reg, &vals, kinds, sp);
                o
            }
        }
    }

    /// `dst` = the concatenation of the parts `vals` of kinds `kinds` (strings, or
    /// ints formatted into the result): a `Concat` of two strings, else a
    /// `ConcatN` (whose kinds stay empty when every part is a string).
    fn emit_concat(&mut self, dst: Reg, vals: &[Val], kinds: Vec<ValKind>, sp: Span) {
        let all_strings = kinds.iter().all(|&k| k == ValKind::Ref);
        if let ([a, b], true) = (vals, all_strings) {
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
            let kinds = if all_strings { Vec::new() } else { kinds };
            let site = self.site(0, args, kinds);
            self.emit(Instr::ConcatN { dst, site }, sp);
        }
    }

    fn array_lit(&mut self, elems: &'a [Expr], el: &Type, arr_ty: &Type, d: Dst, e: &'a Expr) -> Val {
        let sp = e.span;
        let kind = el.kind() as u32;
        let first = elems.len().min(ARRAY_CHUNK);
        let vals = self.eval_list(&elems[..first]);
        let args = vals.iter().map(|v| v.reg).collect();
        let site = self.site(kind, args, Vec::new());
        self.release_all(&vals);
        let o = self.dst_reg(d, &e.ty);
        self.emit(Instr::NewArray { dst: o.reg, site }, sp);
        if elems.len() > first {
            let Some(push) = bp_runtime::builtins::lookup("array_push") else {
                self.error(
                    sp,
                    "array literal too long (more than 64 elements) and no array_push builtin",
                );
                return o;
            };
            for x in &elems[first..] {
                let v = self.expr_val(x);
                self.emit_builtin(
                    push,
                    &[(o.reg, arr_ty), (v.reg, el)],
                    &Type::Void,
                    None,
                    x.span,
                    &[v],
                );
            }
        }
        o
    }

    fn tuple_lit(&mut self, elems: &'a [Expr], ts: &[Type], d: Dst, e: &'a Expr) -> Val {
        if elems.len() > 255 {
            self.error(e.span, "tuple literal too long");
            return self.dst_reg(d, &e.ty);
        }
        let vals = self.eval_list(elems);
        let args = vals.iter().map(|v| v.reg).collect();
        let kinds = elems
            .iter()
            .enumerate()
            .map(|(i, x)| ts.get(i).map(|t| t.kind()).unwrap_or_else(|| x.ty.kind()))
            .collect();
        let site = self.site(0, args, kinds);
        self.release_all(&vals);
        let o = self.dst_reg(d, &e.ty);
        self.emit(Instr::NewTuple { dst: o.reg, site }, e.span);
        o
    }

    fn map_lit(&mut self, pairs: &'a [(Expr, Expr)], d: Dst, e: &'a Expr) -> Val {
        let sp = e.span;
        let Type::Map(kt, vt) = &e.ty else {
            self.internal(sp, format!("map literal typed {}", e.ty));
            return self.dst_reg(d, &e.ty);
        };
        let first = pairs.len().min(MAP_CHUNK);
        let vals = self.eval_list(pairs[..first].iter().flat_map(|(k, v)| [k, v]));
        let args = vals.iter().map(|v| v.reg).collect();
        // (Only the empty literal a `let` is compiled for takes the hint.)
        let hint = match pairs.is_empty() {
            true => self.map_size_hint.take().unwrap_or(0),
            false => 0,
        };
        let target = map_kinds(kt, vt) | hint << crate::bytecode::MAP_SIZE_HINT;
        let site = self.site(target, args, Vec::new());
        self.release_all(&vals);
        let o = self.dst_reg(d, &e.ty);
        self.emit(Instr::NewMap { dst: o.reg, site }, sp);
        for (k, v) in &pairs[first..] {
            let kv = self.expr_val(k);
            let vv = self.expr_val(v);
            self.emit(
                Instr::MapSet {
                    map: o.reg,
                    key: kv.reg,
                    val: vv.reg,
                },
                k.span,
            );
            self.release(vv);
            self.release(kv);
        }
        o
    }

    fn struct_lit(
        &mut self,
        fields: &'a [(crate::ast::Ident, Expr)],
        struct_id: u32,
        field_index: &[u32],
        d: Dst,
        e: &'a Expr,
    ) -> Val {
        let sp = e.span;
        let Some(sinfo) = self.cx.info.structs.get(struct_id as usize) else {
            self.internal(sp, format!("unknown struct #{struct_id}"));
            return self.dst_reg(d, &e.ty);
        };
        let decl: Vec<Type> = sinfo.fields.iter().map(|(_, t)| t.clone()).collect();
        let mut slots: Vec<Option<Val>> = vec![None; decl.len()];
        // Evaluate in the order written, place in declaration order. (Values of
        // fields written twice are released with the others: their registers may
        // be shared with equal literals.)
        let mut seen = Vec::new();
        let mut extra = Vec::new();
        for (i, (name, fe)) in fields.iter().enumerate() {
            let v = self.list_val(fe, &mut seen, false);
            let pos = field_index.get(i).map(|&p| p as usize).unwrap_or(i);
            match slots.get_mut(pos) {
                Some(slot) => {
                    if let Some(old) = slot.replace(v) {
                        extra.push(old);
                    }
                }
                None => {
                    self.internal(name.span, format!("field '{}' has no position", name.name));
                    extra.push(v);
                }
            }
        }
        // Zero values for the fields not written.
        let missing: Vec<Type> = slots
            .iter()
            .zip(&decl)
            .filter(|(s, _)| s.is_none())
            .map(|(_, t)| t.clone())
            .collect();
        let mut zeros = self.zero_vals(&missing, sp).into_iter();
        let vals: Vec<Val> = slots
            .into_iter()
            .map(|s| s.or_else(|| zeros.next()).unwrap_or(Val { reg: 0, temp: false }))
            .collect();
        let args = vals.iter().map(|v| v.reg).collect();
        let site = self.site(struct_id, args, Vec::new());
        self.release_all(&vals);
        self.release_all(&extra);
        let o = self.dst_reg(d, &e.ty);
        self.emit(Instr::NewStruct { dst: o.reg, site }, sp);
        o
    }

    /// `e` as one instruction `make(dst, src)` on the value of `operand` (read
    /// before the result is written, so the result may reuse its temporary).
    pub(crate) fn unary_op(
        &mut self,
        operand: &'a Expr,
        d: Dst,
        e: &'a Expr,
        make: impl FnOnce(Reg, Reg) -> Instr,
    ) -> Val {
        let v = self.expr_val(operand);
        self.release(v);
        let o = self.dst_reg(d, &e.ty);
        self.emit(make(o.reg, v.reg), e.span);
        o
    }

    /// `e` as one instruction `make(dst, a, b)` on the values of `lhs` and `rhs`
    /// (evaluated in that order, read before the result is written).
    fn binary_op(
        &mut self,
        lhs: &'a Expr,
        rhs: &'a Expr,
        d: Dst,
        e: &'a Expr,
        make: impl FnOnce(Reg, Reg, Reg) -> Instr,
    ) -> Val {
        let av = self.expr_val(lhs);
        let bv = self.expr_val(rhs);
        self.release(bv);
        self.release(av);
        let o = self.dst_reg(d, &e.ty);
        self.emit(make(o.reg, av.reg, bv.reg), e.span);
        o
    }

    /// `lhs + rhs` on strings, as one `ConcatN` where that changes nothing a
    /// program can see, so that `s + to_str(n) + ","` builds one string instead of
    /// three:
    ///
    /// * **Chains**: in `(a + b) + c` the inner concatenation runs after `c` is
    ///   evaluated instead of before, so a left operand that is itself a string `+`
    ///   joins the parts only while every right operand above it is quiet
    ///   ([`is_quiet`]: evaluating it has no effect and cannot fail).
    /// * **`to_str` of an int** part is passed as the int and formatted into the
    ///   result (the same text; converting an int cannot fail).
    ///
    /// Two plain string parts stay a `Concat`.
    fn string_concat(&mut self, lhs: &'a Expr, rhs: &'a Expr, d: Dst, e: &'a Expr) -> Val {
        // Each part takes a register until the concatenation: a long chain is
        // joined in groups of at most this many (the stack holds that many parts'
        // slices at run time, `objects::concat_n`).
        const MAX_PARTS: usize = 8;
        let mut parts = vec![rhs];
        let mut left = lhs;
        let mut quiet_above = is_quiet(rhs);
        while quiet_above && parts.len() < MAX_PARTS - 1 {
            match &left.kind {
                ExprKind::Binary {
                    op: BinOp::Add,
                    lhs: l,
                    rhs: r,
                } if left.ty == Type::Str => {
                    parts.push(r);
                    quiet_above = is_quiet(r);
                    left = l;
                }
                _ => break,
            }
        }
        parts.push(left);
        parts.reverse();
        let mut vals = Vec::with_capacity(parts.len());
        let mut kinds = Vec::with_capacity(parts.len());
        for part in parts {
            let (x, kind) = match int_to_str_arg(part) {
                Some(x) => (x, ValKind::Int),
                None => (part, ValKind::Ref),
            };
            vals.push(self.expr_val(x));
            kinds.push(kind);
        }
        self.release_all(&vals);
        let o = self.dst_reg(d, &e.ty);
        self.emit_concat(o.reg, &vals, kinds, e.span);
        o
    }

    fn unary(&mut self, op: UnOp, operand: &'a Expr, d: Dst, e: &'a Expr) -> Val {
        let sp = e.span;
        match op {
            UnOp::Neg => match (&operand.kind, &operand.ty) {
                (ExprKind::Int(n), _) => {
                    let o = self.dst_reg(d, &e.ty);
                    self.load_int(o.reg, n.wrapping_neg(), sp);
                    o
                }
                (ExprKind::Float(x), _) => {
                    let o = self.dst_reg(d, &e.ty);
                    self.load_float(o.reg, -x, sp);
                    o
                }
                (_, Type::Float) => self.unary_op(operand, d, e, |dst, src| Instr::NegF { dst, src }),
                _ => self.unary_op(operand, d, e, |dst, src| Instr::NegI { dst, src }),
            },
            UnOp::Not => self.unary_op(operand, d, e, |dst, src| Instr::Not { dst, src }),
            UnOp::BitNot => self.unary_op(operand, d, e, |dst, src| Instr::BitNot { dst, src }),
        }
    }

    fn binary(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, d: Dst, e: &'a Expr) -> Val {
        let sp = e.span;
        match op {
            BinOp::And | BinOp::Or if is_cheap_condition(rhs) => {
                // Both sides, no branch: `rhs` cannot fail or have an effect.
                self.binary_op(lhs, rhs, d, e, |dst, a, b| match op {
                    BinOp::And => Instr::BitAnd { dst, a, b },
                    _ => Instr::BitOr { dst, a, b },
                })
            }
            BinOp::And | BinOp::Or => {
                // Short-circuit: dst = lhs; if it decides, skip rhs. With no
                // destination given, the fresh temporary holding lhs is the result.
                let end = self.new_label();
                let o = self.expr_in(lhs, d);
                let j = if op == BinOp::And {
                    Instr::JmpIfNot {
                        cond: o.reg,
                        target: 0,
                    }
                } else {
                    Instr::JmpIf {
                        cond: o.reg,
                        target: 0,
                    }
                };
                self.emit_jump(j, end, sp);
                self.expr_to(rhs, o.reg);
                self.bind(end);
                o
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                self.compare_to(op, lhs, rhs, d, e)
            }
            _ => self.arith(op, lhs, rhs, d, e),
        }
    }

    fn arith(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, d: Dst, e: &'a Expr) -> Val {
        let sp = e.span;
        let ty = &lhs.ty;
        if is_int(ty) && is_int(&rhs.ty) {
            if let Some(o) = self.fused_mod(op, lhs, rhs, d, e) {
                return o;
            }
            // Immediate forms: `x op k` for a literal `k` that fits an `i32`, and
            // `k op x` for the commutative operators (the literal has no effect, so
            // evaluating only `x` keeps the order of effects). Subtraction of a
            // constant is an addition of its negation; `x / 0` and `x % 0` keep the
            // register form (they raise).
            type Make = fn(Reg, Reg, i32) -> Instr;
            let commutative: Option<Make> = match op {
                BinOp::Add => Some(|dst, a, imm| Instr::AddIImm { dst, a, imm }),
                BinOp::Mul => Some(|dst, a, imm| Instr::MulIImm { dst, a, imm }),
                BinOp::BitAnd => Some(|dst, a, imm| Instr::BitAndImm { dst, a, imm }),
                BinOp::BitOr => Some(|dst, a, imm| Instr::BitOrImm { dst, a, imm }),
                BinOp::BitXor => Some(|dst, a, imm| Instr::BitXorImm { dst, a, imm }),
                _ => None,
            };
            let right: Option<Make> = match op {
                BinOp::Div => Some(|dst, a, imm| Instr::DivIImm { dst, a, imm }),
                BinOp::Mod => Some(|dst, a, imm| Instr::ModIImm { dst, a, imm }),
                BinOp::Shl => Some(|dst, a, imm| Instr::ShlImm { dst, a, imm }),
                BinOp::Shr => Some(|dst, a, imm| Instr::ShrImm { dst, a, imm }),
                _ => commutative,
            };
            let k = match op {
                BinOp::Sub => imm_int(rhs).and_then(|k| k.checked_neg()),
                BinOp::Div | BinOp::Mod => imm_int(rhs).filter(|&k| k != 0),
                _ => imm_int(rhs),
            };
            if op == BinOp::Sub {
                if let Some(imm) = k {
                    return self.unary_op(lhs, d, e, |dst, a| Instr::AddIImm { dst, a, imm });
                }
            } else if let (Some(make), Some(imm)) = (right, k) {
                return self.unary_op(lhs, d, e, |dst, a| make(dst, a, imm));
            }
            if let (Some(make), Some(imm)) = (commutative, imm_int(lhs)) {
                return self.unary_op(rhs, d, e, |dst, a| make(dst, a, imm));
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
            return self.dst_reg(d, &e.ty);
        }
        if (ty, op) == (&Type::Str, BinOp::Add) {
            return self.string_concat(lhs, rhs, d, e);
        }
        let mut unknown = false;
        let o = self.binary_op(lhs, rhs, d, e, |dst, a, b| match (ty, op) {
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
            _ => {
                unknown = true;
                Instr::Mov { dst, src: dst }
            }
        });
        if unknown {
            self.internal(sp, format!("operator '{}' on {}", op.symbol(), ty));
        }
        o
    }

    /// `(a + b) % k` and `(a * b) % k` on ints, for a literal `k != 0` and
    /// registers `a`, `b` (no immediate form applies), as one `AddModIImm` or
    /// `MulModIImm`: the interpreter dispatches once and does not store and reload
    /// the product (docs/benchmarks.md, "Modular arithmetic in one instruction").
    /// Neither part can raise, so the fused instruction raises nothing either.
    fn fused_mod(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, d: Dst, e: &'a Expr) -> Option<Val> {
        if op != BinOp::Mod {
            return None;
        }
        let k = imm_int(rhs).filter(|&k| k != 0)?;
        let ExprKind::Binary {
            op: inner,
            lhs: a,
            rhs: b,
        } = &lhs.kind
        else {
            return None;
        };
        let ints = [&e.ty, &lhs.ty, &a.ty, &b.ty]
            .iter()
            .all(|t| matches!(t, Type::Int));
        if !ints || imm_int(a).is_some() || imm_int(b).is_some() {
            return None;
        }
        let make: fn(Reg, Reg, Reg, i32) -> Instr = match inner {
            BinOp::Add => |dst, a, b, imm| Instr::AddModIImm { dst, a, b, imm },
            BinOp::Mul => |dst, a, b, imm| Instr::MulModIImm { dst, a, b, imm },
            _ => return None,
        };
        Some(self.binary_op(a, b, d, e, |dst, x, y| make(dst, x, y, k)))
    }

    fn compare_to(&mut self, op: BinOp, lhs: &'a Expr, rhs: &'a Expr, d: Dst, e: &'a Expr) -> Val {
        // `x == null`, `null != x`: a null test.
        let null_test = match (&lhs.kind, &rhs.kind) {
            (_, ExprKind::Null) => Some(lhs),
            (ExprKind::Null, _) => Some(rhs),
            _ => None,
        };
        if let Some(x) = null_test {
            let o = self.unary_op(x, d, e, |dst, src| Instr::IsNull { dst, src });
            if op == BinOp::Ne {
                self.emit(
                    Instr::Not {
                        dst: o.reg,
                        src: o.reg,
                    },
                    e.span,
                );
            }
            return o;
        }
        let class = cmp_class(&lhs.ty);
        let mut unknown = false;
        let o = self.binary_op(lhs, rhs, d, e, |dst, a, b| match (class, op) {
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
            (CmpClass::Str, BinOp::Eq) => Instr::EqStr { dst, a, b },
            (CmpClass::Str, BinOp::Ne) => Instr::NeStr { dst, a, b },
            (CmpClass::Ref, BinOp::Eq) => Instr::EqRef { dst, a, b },
            (CmpClass::Ref, BinOp::Ne) => Instr::NeRef { dst, a, b },
            _ => {
                unknown = true;
                Instr::LoadBool { dst, val: false }
            }
        });
        if unknown {
            self.internal(e.span, format!("operator '{}' on {}", op.symbol(), lhs.ty));
        }
        o
    }

    fn index(&mut self, base: &'a Expr, index: &'a Expr, d: Dst, e: &'a Expr) -> Val {
        let sp = e.span;
        match &base.ty {
            Type::Array(t) => {
                let elem = t.kind() as u8;
                self.binary_op(base, index, d, e, |dst, arr, idx| Instr::ArrGet {
                    dst,
                    arr,
                    idx,
                    elem,
                })
            }
            Type::Map(_, _) => {
                self.binary_op(base, index, d, e, |dst, map, key| Instr::MapGet { dst, map, key })
            }
            Type::Tuple(ts) => {
                let n = ts.len() as i64;
                let Some(raw) = const_int(index) else {
                    self.internal(index.span, "tuple index must be an integer literal");
                    return self.dst_reg(d, &e.ty);
                };
                let idx = if raw < 0 { raw + n } else { raw };
                if idx < 0 || idx >= n || idx > 255 {
                    self.error(
                        index.span,
                        format!("tuple index {raw} out of range for a tuple of {n} elements"),
                    );
                    return self.dst_reg(d, &e.ty);
                }
                let idx = idx as u8;
                self.unary_op(base, d, e, |dst, tup| Instr::TupleGet { dst, tup, idx })
            }
            other => {
                self.internal(sp, format!("cannot index a value of type {other}"));
                self.dst_reg(d, &e.ty)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpClass {
    Int,
    Float,
    /// `str` and `str?`: by their bytes (`EqStr`).
    Str,
    Ref,
}

/// How `==`/`<` compare values of type `t`: ints and bools as integers, floats as
/// IEEE doubles, strings by their bytes (`EqStr`), everything else by
/// reference/deep equality (`EqRef`).
pub(crate) fn cmp_class(t: &Type) -> CmpClass {
    let is_str = |t: &Type| *t == Type::Str;
    match t {
        Type::Str => return CmpClass::Str,
        Type::Nullable(inner) if is_str(inner) => return CmpClass::Str,
        _ => {}
    }
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
