//! The per-function code builder: instruction emission with source locations,
//! labels and jump patching, the constant pool, call sites, lexical scopes of
//! locals, and the control stack used by `break`/`continue`/`return` and
//! `finally`.

use super::regalloc::RegAlloc;
use super::Ctx;
use crate::ast::{Block, FileId, LocalId, LocalInfo, Span};
use crate::bytecode::{CallSite, Const, Function, Handler, Instr, Loc, Reg};
use crate::types::Type;
use bp_runtime::value::ValKind;
use std::collections::HashMap;

/// A forward-referencable code position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Label(u32);

/// A value produced by an expression: the register holding it, and whether that
/// register is a temporary owned by the consumer (to be freed once consumed) or a
/// local variable's register (read in place, never freed by the consumer).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Val {
    pub reg: Reg,
    pub temp: bool,
}

/// Where an expression's result goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dst {
    /// A fresh temporary of the result's class, allocated only once the operands
    /// have been evaluated and their temporaries freed (so it typically reuses the
    /// register of the first operand: a left-associative chain needs one
    /// temporary, not one per operator).
    Any,
    /// This register, written by the last instruction only, after every operand
    /// has been read (it may be a variable that the expression reads). The forms
    /// for which [`super::expr::writes_early`] holds are the exception.
    Reg(Reg),
}

/// One entry of the control stack (innermost last).
pub(crate) enum Ctl<'a> {
    /// A loop: where `break` and `continue` go.
    Loop { brk: Label, cont: Label },
    /// A `try` statement whose try or catch block is being compiled. `holes` are
    /// code ranges emitted inside it that its handlers must not cover (copies of
    /// `finally` blocks run on the way out by `return`/`break`/`continue`).
    Try {
        holes: Vec<(u32, u32)>,
        finally: Option<&'a Block>,
    },
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum ConstKey {
    Int(i64),
    Float(u64),
    Str(Vec<u8>),
}

pub(crate) struct FnCompiler<'a, 'c> {
    pub cx: &'c mut Ctx<'a>,
    pub code: Vec<Instr>,
    pub locs: Vec<Loc>,
    pub consts: Vec<Const>,
    const_map: HashMap<ConstKey, u32>,
    pub sites: Vec<CallSite>,
    pub handlers: Vec<Handler>,
    pub num_loops: u16,
    pub ra: RegAlloc,
    labels: Vec<Option<u32>>,
    fixups: Vec<(usize, Label)>,
    pub locals: &'a [LocalInfo],
    pub local_regs: Vec<Option<Reg>>,
    /// Per local assigned after a lambda captured it: the cell the lambdas share,
    /// updated at every assignment (the local keeps its own register too).
    cell_regs: Vec<Option<Reg>>,
    /// Per local of a lambda standing for a captured cell: its register holds
    /// the cell, and a read loads from it.
    pub cell_locals: Vec<bool>,
    /// The function is a lambda with captures (see `Function::takes_closure`).
    pub takes_closure: bool,
    scopes: Vec<Vec<LocalId>>,
    pub ctl: Vec<Ctl<'a>>,
    /// Declared return type of the function being compiled.
    pub ret_ty: Type,
    /// Function id being compiled (`None` for the global initialiser).
    pub func_id: Option<u32>,
    pub file: FileId,
    /// Where the function first needed more than 256 registers: the construct of the
    /// first instruction emitted after the overflow.
    overflow_at: Option<Span>,
    /// The function exceeded [`MAX_CODE`] (reported once; no more statements are
    /// compiled).
    too_large: bool,
    /// How many entries the empty map literal of the `let` being compiled
    /// will get right away (`block_stmts`: the assignments into it that
    /// follow), for its `NewMap` to make room for
    /// ([`MAP_SIZE_HINT`](crate::bytecode::MAP_SIZE_HINT)).
    pub map_size_hint: Option<u32>,
}

/// Most instructions of one function. `finally` code is copied onto every exit of
/// its `try`, so `try`/`finally` nested inside `finally` blocks doubles the code per
/// level: without a bound, 30 such levels would take hours and gigabytes.
pub const MAX_CODE: usize = 1 << 21;

impl<'a, 'c> FnCompiler<'a, 'c> {
    pub fn new(
        cx: &'c mut Ctx<'a>,
        locals: &'a [LocalInfo],
        ret_ty: Type,
        func_id: Option<u32>,
        file: FileId,
    ) -> FnCompiler<'a, 'c> {
        FnCompiler {
            cx,
            code: Vec::new(),
            locs: Vec::new(),
            consts: Vec::new(),
            const_map: HashMap::new(),
            sites: Vec::new(),
            handlers: Vec::new(),
            num_loops: 0,
            ra: RegAlloc::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
            locals,
            local_regs: vec![None; locals.len()],
            cell_regs: vec![None; locals.len()],
            cell_locals: vec![false; locals.len()],
            takes_closure: false,
            scopes: Vec::new(),
            ctl: Vec::new(),
            ret_ty,
            func_id,
            file,
            overflow_at: None,
            too_large: false,
            map_size_hint: None,
        }
    }

    /// Whether the function already has more than [`MAX_CODE`] instructions; the
    /// first time, report it at `span` (the statement that would add more).
    pub fn over_code_budget(&mut self, span: Span) -> bool {
        if self.code.len() <= MAX_CODE {
            return false;
        }
        if !self.too_large {
            self.too_large = true;
            let name = match self.func_id.and_then(|id| self.cx.info.funcs.get(id as usize)) {
                Some(f) => format!("function '{}'", f.name),
                None => "the global initialisation code".to_string(),
            };
            self.error(
                span,
                format!(
                    "{name} is too large: more than {MAX_CODE} instructions (`finally` blocks are copied onto every exit of their `try`)"
                ),
            );
        }
        true
    }

    // ----- diagnostics -----

    /// Report an error at `span`.
    pub fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.cx.error(span, msg);
    }

    /// Report an inconsistency of the annotated AST (a checker bug).
    pub fn internal(&mut self, span: Span, msg: impl Into<String>) {
        let m = msg.into();
        self.cx.error(span, format!("internal compiler error: {m}"));
    }

    // ----- emission -----

    pub fn pc(&self) -> u32 {
        self.code.len() as u32
    }

    pub fn loc(&self, span: Span) -> Loc {
        self.cx.loc(span)
    }

    /// Append an instruction produced by the construct at `span`.
    pub fn emit(&mut self, i: Instr, span: Span) -> usize {
        if self.overflow_at.is_none() && self.ra.overflowed() {
            self.overflow_at = Some(span);
        }
        let loc = self.loc(span);
        self.code.push(i);
        self.locs.push(loc);
        self.code.len() - 1
    }

    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() as u32 - 1)
    }

    /// Bind `l` to the current position.
    pub fn bind(&mut self, l: Label) {
        let pc = self.pc();
        if let Some(slot) = self.labels.get_mut(l.0 as usize) {
            *slot = Some(pc);
        }
    }

    /// Emit a jump-like instruction (its target field is patched to `l` later).
    pub fn emit_jump(&mut self, i: Instr, l: Label, span: Span) {
        let at = self.emit(i, span);
        self.fixups.push((at, l));
    }

    pub fn jmp(&mut self, l: Label, span: Span) {
        self.emit_jump(Instr::Jmp { target: 0 }, l, span);
    }

    /// A new `Loop` counter id.
    pub fn new_loop_id(&mut self) -> u16 {
        let id = self.num_loops;
        self.num_loops = self.num_loops.saturating_add(1);
        id
    }

    /// Index of a constant in the pool (deduplicated).
    pub fn konst(&mut self, c: Const) -> u32 {
        let key = match &c {
            Const::Int(i) => ConstKey::Int(*i),
            Const::Float(f) => ConstKey::Float(f.to_bits()),
            Const::Str(s) => ConstKey::Str(s.clone()),
        };
        if let Some(&k) = self.const_map.get(&key) {
            return k;
        }
        let k = self.consts.len() as u32;
        self.consts.push(c);
        self.const_map.insert(key, k);
        k
    }

    pub fn site(&mut self, target: u32, args: Vec<Reg>, kinds: Vec<ValKind>) -> u32 {
        self.sites.push(CallSite { target, args, kinds });
        self.sites.len() as u32 - 1
    }

    /// `dst = n` with `LoadInt` when it fits, else a pool constant.
    pub fn load_int(&mut self, dst: Reg, n: i64, span: Span) {
        match i32::try_from(n) {
            Ok(imm) => {
                self.emit(Instr::LoadInt { dst, imm }, span);
            }
            Err(_) => {
                let k = self.konst(Const::Int(n));
                self.emit(Instr::LoadConst { dst, k }, span);
            }
        }
    }

    pub fn load_str(&mut self, dst: Reg, s: &[u8], span: Span) {
        let k = self.konst(Const::Str(s.to_vec()));
        self.emit(Instr::LoadConst { dst, k }, span);
    }

    pub fn load_float(&mut self, dst: Reg, x: f64, span: Span) {
        let k = self.konst(Const::Float(x));
        self.emit(Instr::LoadConst { dst, k }, span);
    }

    /// Add exception-table entries covering `start..end` minus `holes`.
    pub fn add_handler(&mut self, start: u32, end: u32, holes: &[(u32, u32)], target: u32, reg: Option<Reg>) {
        let mut hs: Vec<(u32, u32)> = holes.to_vec();
        hs.sort_unstable();
        let mut cur = start;
        for (a, b) in hs {
            if b <= cur || a >= end {
                continue;
            }
            if a > cur {
                self.handlers.push(Handler {
                    start: cur,
                    end: a,
                    target,
                    reg,
                });
            }
            cur = cur.max(b);
        }
        if cur < end {
            self.handlers.push(Handler {
                start: cur,
                end,
                target,
                reg,
            });
        }
    }

    // ----- registers -----

    /// Allocate a register suited to values of type `ty`.
    pub fn alloc(&mut self, ty: &Type) -> Reg {
        self.ra.alloc(ty.is_ref())
    }

    /// A temporary for a value of type `ty`.
    pub fn temp(&mut self, ty: &Type) -> Val {
        Val {
            reg: self.alloc(ty),
            temp: true,
        }
    }

    pub fn temp_kind(&mut self, is_ref: bool) -> Val {
        Val {
            reg: self.ra.alloc(is_ref),
            temp: true,
        }
    }

    /// The register receiving a result of type `ty`: `Reg(r)` as is (not owned),
    /// a fresh temporary for `Any` (owned by the caller). Call it after the
    /// operands' temporaries have been released, right before the instruction
    /// that writes the result.
    pub fn dst_reg(&mut self, d: Dst, ty: &Type) -> Val {
        match d {
            Dst::Reg(reg) => Val { reg, temp: false },
            Dst::Any => self.temp(ty),
        }
    }

    /// Free `v` if it is a temporary.
    pub fn release(&mut self, v: Val) {
        if v.temp {
            self.ra.free(v.reg);
        }
    }

    pub fn release_all(&mut self, vs: &[Val]) {
        for v in vs.iter().rev() {
            self.release(*v);
        }
    }

    // ----- scopes and locals -----

    pub fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    /// End the innermost scope, freeing its locals' registers.
    pub fn pop_scope(&mut self) {
        if let Some(ids) = self.scopes.pop() {
            for id in ids.into_iter().rev() {
                self.kill_local(id);
            }
        }
    }

    /// Give local `id` a register for the rest of the current scope.
    pub fn declare_local(&mut self, id: LocalId, span: Span) -> Reg {
        let Some(info) = self.locals.get(id as usize) else {
            self.internal(span, format!("local #{id} is not in the function's local table"));
            return self.ra.alloc(false);
        };
        let reg = self.ra.alloc(info.ty.is_ref());
        self.local_regs[id as usize] = Some(reg);
        if let Some(s) = self.scopes.last_mut() {
            s.push(id);
        }
        reg
    }

    /// Make `reg` (a temporary holding the local's initial value, of the local's
    /// class) the register of local `id` for the rest of the current scope.
    pub fn adopt_local(&mut self, id: LocalId, reg: Reg) {
        if let Some(slot) = self.local_regs.get_mut(id as usize) {
            *slot = Some(reg);
            if let Some(s) = self.scopes.last_mut() {
                s.push(id);
            }
        } else {
            self.ra.free(reg);
        }
    }

    /// Whether local `id` is declared with a reference type (`None`: unknown local).
    pub fn local_is_ref(&self, id: LocalId) -> Option<bool> {
        self.locals.get(id as usize).map(|l| l.ty.is_ref())
    }

    /// Free the register of local `id` before the end of its scope (it is dead),
    /// and its cell's.
    pub fn kill_local(&mut self, id: LocalId) {
        for slots in [&mut self.local_regs, &mut self.cell_regs] {
            if let Some(slot) = slots.get_mut(id as usize) {
                if let Some(r) = slot.take() {
                    self.ra.free(r);
                }
            }
        }
    }

    /// Whether local `id` is assigned after a lambda captured it: it is kept in a
    /// cell as well (see `cell_regs`).
    pub fn needs_cell(&self, id: LocalId) -> bool {
        self.locals
            .get(id as usize)
            .is_some_and(|l| l.captured && l.reassigned && l.cellable)
    }

    /// Give local `id` (just declared, in its register) its cell, if it needs one.
    pub fn make_cell_if_needed(&mut self, id: LocalId, span: Span) {
        if !self.needs_cell(id) {
            return;
        }
        let r = self.local_reg(id, span);
        let kind = self.locals[id as usize].ty.kind() as u8;
        let cell = self.ra.alloc(true);
        self.emit(
            Instr::NewCell {
                dst: cell,
                src: r,
                kind,
            },
            span,
        );
        self.cell_regs[id as usize] = Some(cell);
    }

    /// After an assignment to local `id`: update its cell, if it has one.
    pub fn update_cell(&mut self, id: LocalId, span: Span) {
        if let Some(cell) = self.cell_regs.get(id as usize).copied().flatten() {
            let src = self.local_reg(id, span);
            self.emit(Instr::CellSet { cell, src }, span);
        }
    }

    /// What a closure capturing local `id` holds: its cell (if it has one, or if
    /// the local itself stands for a captured cell) or its value; and whether that
    /// is a cell.
    pub fn capture_of(&mut self, id: LocalId, span: Span) -> (Reg, bool) {
        if let Some(cell) = self.cell_regs.get(id as usize).copied().flatten() {
            return (cell, true);
        }
        let is_cell = self.cell_locals.get(id as usize).copied().unwrap_or(false);
        (self.local_reg(id, span), is_cell)
    }

    /// Give parameter `id` its register (parameters live for the whole function).
    pub fn declare_param(&mut self, id: LocalId, span: Span) -> Reg {
        let Some(info) = self.locals.get(id as usize) else {
            self.internal(
                span,
                format!("parameter #{id} is not in the function's local table"),
            );
            return self.ra.alloc(false);
        };
        let reg = self.ra.alloc(info.ty.is_ref());
        self.local_regs[id as usize] = Some(reg);
        reg
    }

    /// The register of a visible local.
    pub fn local_reg(&mut self, id: LocalId, span: Span) -> Reg {
        match self.local_regs.get(id as usize).copied().flatten() {
            Some(r) => r,
            None => {
                let name = self
                    .locals
                    .get(id as usize)
                    .map(|l| l.name.clone())
                    .unwrap_or_default();
                self.internal(span, format!("local '{name}' (#{id}) used outside its scope"));
                0
            }
        }
    }

    // ----- finishing -----

    /// Patch jumps and build the [`Function`].
    pub fn finish(
        mut self,
        name: String,
        span: Span,
        nparams: u8,
        param_kinds: Vec<ValKind>,
        ret_kind: Option<ValKind>,
    ) -> Function {
        let fixups = std::mem::take(&mut self.fixups);
        for (at, l) in fixups {
            match self.labels.get(l.0 as usize).copied().flatten() {
                Some(t) => {
                    if let Some(slot) = self.code[at].jump_target_mut() {
                        *slot = t;
                    }
                }
                None => self.internal(span, "unbound jump label"),
            }
        }
        if self.ra.overflowed() {
            let at = self.overflow_at.unwrap_or(span);
            self.error(
                at,
                format!(
                    "function '{name}' needs more than 256 registers here (too many values live at once)"
                ),
            );
        }
        let line = self.loc(span).line;
        let nsites = self.sites.len();
        Function {
            name,
            file: self.file,
            nparams,
            takes_closure: self.takes_closure,
            nregs: self.ra.nregs(),
            ref_regs: self.ra.ref_regs(),
            param_kinds,
            ret_kind,
            code: self.code,
            locs: self.locs,
            consts: self.consts,
            sites: self.sites,
            handlers: self.handlers,
            num_loops: self.num_loops,
            line,
            call_feedback: crate::bytecode::CallFeedback::new(nsites),
        }
    }
}
