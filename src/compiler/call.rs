//! Calls: user functions (`Call`), methods and module functions, function values
//! (`CallIndirect`), runtime builtins (`CallBuiltin`, with the extra kind
//! arguments their signatures ask for), externs (`CallExtern`) and compiler
//! intrinsics (`print`, `typeof`, ...).
//!
//! Arguments are evaluated left to right into registers (a local argument is
//! passed from its own register; the VM copies the registers listed in the call
//! site into the callee's window). A call whose result is not used still gets a
//! destination register of the right class (a scalar one for `void`), so the VM
//! never writes a value of the wrong class into a register. A `void` call used as
//! a value yields the integer 0.

use super::expr::typeof_name;
use super::func::{Dst, FnCompiler, Val};
use crate::ast::{Expr, ExprKind, Res, Span};
use crate::bytecode::{Const, Instr, Reg};
use crate::types::builtin_sig::kind_of_t;
use crate::types::Type;
use bp_runtime::builtins::{self, SigType, KIND_OF_T};
use bp_runtime::value::ValKind;

impl<'a, 'c> FnCompiler<'a, 'c> {
    /// Compile a call-like expression (`Call`, `MethodCall`, `New`, `Super`); the
    /// result goes to `dst` (discarded when `None`). Returns the result register
    /// (meaningless when `dst` is `None`).
    pub fn call_expr(&mut self, e: &'a Expr, dst: Option<Dst>) -> Val {
        match &e.kind {
            ExprKind::Call { callee, args, res } => {
                let args: Vec<&'a Expr> = args.iter().collect();
                self.call_res(res, &callee.name, args, e, dst)
            }
            ExprKind::MethodCall {
                receiver,
                method,
                args,
                res,
            } => {
                let module_recv = matches!(
                    &receiver.kind,
                    ExprKind::Name {
                        res: Res::Unresolved,
                        ..
                    }
                );
                let is_module = module_recv
                    || match res {
                        Res::Func(id) => self
                            .cx
                            .info
                            .funcs
                            .get(*id as usize)
                            .map(|f| f.params.len() == args.len())
                            .unwrap_or(false),
                        _ => false,
                    };
                let mut all: Vec<&'a Expr> = Vec::with_capacity(args.len() + 1);
                if !is_module {
                    all.push(receiver);
                }
                all.extend(args.iter());
                self.call_res(res, &method.name, all, e, dst)
            }
            ExprKind::New {
                args, class_id, init, ..
            } => self.new_object(*class_id, *init, args, e, dst),
            ExprKind::CallValue { callee, args } => {
                let f = self.expr_in(callee, Dst::Any);
                let args: Vec<&'a Expr> = args.iter().collect();
                self.indirect_call(f, &args, e, dst)
            }
            // `super.m(args)`: the parent's implementation, called directly on `self`.
            ExprKind::Super { args, func_id, .. } => {
                let receiver = self.self_reg(e.span);
                let mut vals = vec![Val {
                    reg: receiver,
                    temp: false,
                }];
                vals.extend(self.eval_args(&args.iter().collect::<Vec<_>>()));
                let site = self.site(*func_id, regs(&vals), Vec::new());
                self.release_all(&vals);
                let (d, wanted) = self.call_dst(dst, &e.ty);
                self.emit(Instr::Call { dst: d.reg, site }, e.span);
                self.after_call(d, wanted, &e.ty, e.span)
            }
            _ => {
                // Not a call: evaluate normally.
                match dst {
                    Some(d) => self.expr_in(e, d),
                    None => {
                        self.expr_effect(e);
                        NO_VAL
                    }
                }
            }
        }
    }

    fn call_res(&mut self, res: &Res, name: &str, args: Vec<&'a Expr>, e: &'a Expr, dst: Option<Dst>) -> Val {
        let sp = e.span;
        match res {
            Res::Func(id) => self.user_call(*id, &args, e, dst),
            Res::Builtin(id) => self.builtin_call(*id, &args, e, dst),
            Res::Intrinsic(n) => self.intrinsic(n, &args, e, dst),
            Res::Extern(id) => {
                let vals = self.eval_args(&args);
                let site = self.site(*id, regs(&vals), Vec::new());
                self.release_all(&vals);
                let (d, out) = self.call_dst(dst, &e.ty);
                self.emit(Instr::CallExtern { dst: d.reg, site }, sp);
                self.after_call(d, out, &e.ty, sp)
            }
            Res::Local(id) if self.cell_locals[*id as usize] => {
                let cell = self.local_reg(*id, sp);
                let callee = self.temp_kind(true);
                self.emit(
                    Instr::CellGet {
                        dst: callee.reg,
                        cell,
                    },
                    sp,
                );
                self.indirect_call(callee, &args, e, dst)
            }
            Res::Local(id) => {
                let callee = self.local_reg(*id, sp);
                self.indirect_call(
                    Val {
                        reg: callee,
                        temp: false,
                    },
                    &args,
                    e,
                    dst,
                )
            }
            Res::Global(idx) => {
                let callee = self.temp_kind(true);
                self.emit(
                    Instr::GetGlobal {
                        dst: callee.reg,
                        idx: *idx,
                    },
                    sp,
                );
                self.indirect_call(callee, &args, e, dst)
            }
            Res::Virtual(slot) => {
                let static_class = match args.first().map(|r| r.ty.non_null()) {
                    Some(Type::Class(cid)) => self.cx.class_layout(*cid),
                    _ => 0,
                };
                let Ok(class) = u16::try_from(static_class) else {
                    self.error(
                        sp,
                        "too many structs and classes for a method call (at most 65535)",
                    );
                    return self.no_result(dst, &e.ty);
                };
                let vals = self.eval_args(&args);
                let site = self.site(*slot, regs(&vals), Vec::new());
                self.release_all(&vals);
                let (d, wanted) = self.call_dst(dst, &e.ty);
                self.emit(
                    Instr::CallMethod {
                        dst: d.reg,
                        site,
                        class,
                    },
                    sp,
                );
                self.after_call(d, wanted, &e.ty, sp)
            }
            Res::Unresolved => {
                self.internal(sp, format!("unresolved call to '{name}'"));
                self.no_result(dst, &e.ty)
            }
        }
    }

    /// `new C(args)`: allocate with zero fields, then `__init__(obj, args)`. The
    /// object is built in a temporary (the arguments may mention the destination).
    fn new_object(
        &mut self,
        class_id: u32,
        init: Option<u32>,
        args: &'a [Expr],
        e: &'a Expr,
        dst: Option<Dst>,
    ) -> Val {
        let sp = e.span;
        let class = self.cx.class_layout(class_id);
        let obj = self.temp_kind(true);
        self.emit(Instr::NewObject { dst: obj.reg, class }, sp);
        if let Some(fid) = init {
            let mut vals = vec![Val {
                reg: obj.reg,
                temp: false,
            }];
            vals.extend(self.eval_args(&args.iter().collect::<Vec<_>>()));
            let site = self.site(fid, regs(&vals), Vec::new());
            self.release_all(&vals);
            let scratch = self.temp_kind(false);
            self.emit(
                Instr::Call {
                    dst: scratch.reg,
                    site,
                },
                sp,
            );
            self.release(scratch);
        }
        match dst {
            Some(d) => {
                self.release(obj);
                let o = self.dst_reg(d, &e.ty);
                if o.reg != obj.reg {
                    self.emit(
                        Instr::Mov {
                            dst: o.reg,
                            src: obj.reg,
                        },
                        sp,
                    );
                }
                o
            }
            None => {
                self.release(obj);
                NO_VAL
            }
        }
    }

    fn eval_args(&mut self, args: &[&'a Expr]) -> Vec<Val> {
        self.eval_list(args.iter().copied())
    }

    /// Destination register of a call, to be taken once the argument temporaries
    /// have been released: the register for `dst`, or, for a discarded result, a
    /// scratch register of the result's class. The second value says whether the
    /// result is wanted.
    fn call_dst(&mut self, dst: Option<Dst>, ret: &Type) -> (Val, bool) {
        match dst {
            Some(d) => (self.dst_reg(d, ret), true),
            None => (self.temp(ret), false),
        }
    }

    /// After a call into `d`: free a scratch destination; a `void` call used as a
    /// value yields 0. Returns the result register.
    fn after_call(&mut self, d: Val, wanted: bool, ret: &Type, span: Span) -> Val {
        if !wanted {
            self.release(d);
            return NO_VAL;
        }
        if *ret == Type::Void {
            self.load_int(d.reg, 0, span);
        }
        d
    }

    /// The result of a call that could not be compiled (an error was reported).
    fn no_result(&mut self, dst: Option<Dst>, ret: &Type) -> Val {
        match dst {
            Some(d) => self.dst_reg(d, ret),
            None => NO_VAL,
        }
    }

    /// `Call` of user function `id`.
    fn user_call(&mut self, id: u32, args: &[&'a Expr], e: &'a Expr, dst: Option<Dst>) -> Val {
        let sp = e.span;
        let vals = self.eval_args(args);
        let site = self.site(id, regs(&vals), Vec::new());
        self.release_all(&vals);
        let (d, wanted) = self.call_dst(dst, &e.ty);
        self.emit(Instr::Call { dst: d.reg, site }, sp);
        self.after_call(d, wanted, &e.ty, sp)
    }

    fn indirect_call(&mut self, callee: Val, args: &[&'a Expr], e: &'a Expr, dst: Option<Dst>) -> Val {
        let sp = e.span;
        let vals = self.eval_args(args);
        let site = self.site(callee.reg as u32, regs(&vals), Vec::new());
        self.release_all(&vals);
        self.release(callee);
        let (d, wanted) = self.call_dst(dst, &e.ty);
        self.emit(Instr::CallIndirect { dst: d.reg, site }, sp);
        self.after_call(d, wanted, &e.ty, sp)
    }

    fn builtin_call(&mut self, id: u32, args: &[&'a Expr], e: &'a Expr, dst: Option<Dst>) -> Val {
        // Builtins with a dedicated instruction.
        let name = builtins::all().get(id as usize).map(|b| b.name).unwrap_or("");
        match (name, args) {
            ("to_str", [_]) => return self.intrinsic("to_str", args, e, dst),
            ("array_len", [a]) if matches!(a.ty, Type::Array(_)) => {
                return self.intrinsic("array_len", args, e, dst)
            }
            _ => {}
        }
        let vals = self.eval_args(args);
        let typed: Vec<(Reg, &Type)> = vals.iter().zip(args).map(|(v, a)| (v.reg, &a.ty)).collect();
        self.emit_builtin(id, &typed, &e.ty, dst, e.span, &vals)
    }

    /// Emit `CallBuiltin` of builtin `id` on argument registers of the given types,
    /// appending the kind arguments required by the signature: one int per `any`
    /// parameter (the argument's `ValKind`), then, for `KIND_OF_T` builtins, the
    /// kind of the type bound to `T`. `owned` (temporaries holding arguments) are
    /// released before the destination is taken. Returns the result register
    /// (meaningless when `dst` is `None`).
    pub fn emit_builtin(
        &mut self,
        id: u32,
        args: &[(Reg, &Type)],
        ret: &Type,
        dst: Option<Dst>,
        span: Span,
        owned: &[Val],
    ) -> Val {
        let (Some(b), Some(sig)) = (builtins::all().get(id as usize), builtins::signature(id)) else {
            self.internal(span, format!("unknown builtin #{id}"));
            self.release_all(owned);
            return self.no_result(dst, ret);
        };
        let mut extra_kinds: Vec<ValKind> = sig
            .params
            .iter()
            .zip(args)
            .filter(|(p, _)| **p == SigType::Any)
            .map(|(_, (_, t))| t.kind())
            .collect();
        if b.flags & KIND_OF_T != 0 {
            extra_kinds.push(kind_of_t(sig, args.iter().map(|(_, t)| *t), ret));
        }
        // One register per distinct kind value.
        let mut extras: Vec<Val> = Vec::with_capacity(extra_kinds.len());
        let mut loaded: Vec<(ValKind, Reg)> = Vec::new();
        for k in extra_kinds {
            match loaded.iter().find(|(lk, _)| *lk == k) {
                Some(&(_, reg)) => extras.push(Val { reg, temp: false }),
                None => {
                    let t = self.temp_kind(false);
                    self.load_int(t.reg, k as i64, span);
                    loaded.push((k, t.reg));
                    extras.push(t);
                }
            }
        }
        let mut r: Vec<Reg> = args.iter().map(|(r, _)| *r).collect();
        r.extend(regs(&extras));
        let site = self.site(id, r, Vec::new());
        self.release_all(&extras);
        self.release_all(owned);
        let (d, wanted) = self.call_dst(dst, ret);
        self.emit(Instr::CallBuiltin { dst: d.reg, site }, span);
        self.after_call(d, wanted, ret, span)
    }

    /// Builtins handled by the compiler.
    fn intrinsic(&mut self, name: &str, args: &[&'a Expr], e: &'a Expr, dst: Option<Dst>) -> Val {
        let sp = e.span;
        match (name, args) {
            ("print", _) => {
                let mut seen = Vec::new();
                let vals: Vec<Val> = args.iter().map(|a| self.list_val(a, &mut seen, true)).collect();
                let kinds = vec![ValKind::Ref; vals.len()];
                let site = self.site(0, regs(&vals), kinds);
                self.emit(Instr::Print { site }, sp);
                self.release_all(&vals);
                match dst {
                    Some(d) => {
                        let o = self.dst_reg(d, &e.ty);
                        self.load_int(o.reg, 0, sp);
                        o
                    }
                    None => NO_VAL,
                }
            }
            ("typeof", [a]) => {
                if !super::expr::is_pure_leaf(a) {
                    self.expr_effect(a);
                }
                match dst {
                    // Classes and nullable values: what the value is at run time.
                    Some(d) if matches!(a.ty, Type::Class(_) | Type::Nullable(_) | Type::Null) => {
                        let k = self.konst(Const::Str(typeof_name(&a.ty).as_bytes().to_vec()));
                        self.unary_op(a, d, e, |dst, src| Instr::TypeOf { dst, src, k })
                    }
                    Some(d) => {
                        let o = self.dst_reg(d, &e.ty);
                        self.load_str(o.reg, typeof_name(&a.ty).as_bytes(), sp);
                        o
                    }
                    None => NO_VAL,
                }
            }
            ("to_str" | "str", [a]) => match (dst, &a.ty) {
                (None, _) => {
                    self.expr_effect(a);
                    NO_VAL
                }
                (Some(d), Type::Str) => self.expr_in(a, d),
                (Some(d), Type::Void) => {
                    self.expr_effect(a);
                    let o = self.dst_reg(d, &e.ty);
                    self.load_str(o.reg, b"null", sp);
                    o
                }
                (Some(d), ty) => {
                    let kind = ty.kind() as u8;
                    self.unary_op(a, d, e, |dst, src| Instr::ToStr { dst, src, kind })
                }
            },
            ("len" | "array_len", [a]) if matches!(a.ty, Type::Array(_)) => {
                let v = self.expr_val(a);
                self.release(v);
                let (d, wanted) = self.call_dst(dst, &Type::Int);
                self.emit(
                    Instr::ArrLen {
                        dst: d.reg,
                        arr: v.reg,
                    },
                    sp,
                );
                if wanted {
                    d
                } else {
                    self.release(d);
                    NO_VAL
                }
            }
            _ => {
                let candidates: &[&str] = match (name, args.first().map(|a| &a.ty)) {
                    ("len", Some(Type::Map(_, _))) => &["map_len", "map_size", "len"],
                    ("len", Some(Type::Str)) => &["len", "str_len"],
                    _ => &[],
                };
                let id = candidates
                    .iter()
                    .chain(std::iter::once(&name))
                    .find_map(|n| builtins::lookup(n));
                match id {
                    Some(id) => self.builtin_call(id, args, e, dst),
                    None => {
                        self.error(sp, format!("builtin '{name}' is not available"));
                        self.no_result(dst, &e.ty)
                    }
                }
            }
        }
    }
}

/// The "result" of a call whose value is discarded.
const NO_VAL: Val = Val { reg: 0, temp: false };

fn regs(vals: &[Val]) -> Vec<Reg> {
    vals.iter().map(|v| v.reg).collect()
}
