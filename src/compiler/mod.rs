//! The register compiler: translates the type-checked AST into register bytecode
//! ([`crate::bytecode`]).
//!
//! # Organisation
//! * [`compile_program`] (this file): program assembly — function table (one
//!   [`Function`] per checker function id, lambdas included), the global
//!   initialiser `<init>`, layouts, globals and externs.
//! * `func.rs`: the per-function builder (emission, labels, constants, scopes,
//!   control stack).
//! * `regalloc.rs`: the two-class register allocator.
//! * `expr.rs`: expressions; `call.rs`: calls, builtins and intrinsics;
//!   `stmt.rs`: statements; `control.rs`: conditions, `if`, loops, `match`,
//!   `break`/`continue`/`return`; `exceptions.rs`: `try`/`catch`/`finally`, `throw`.
//!
//! # Conventions
//! * Parameters arrive in registers `0..n` and keep them. Every other local gets a
//!   register when declared; a `let` local gives it back right after the last
//!   statement of its block that mentions it (statement-granularity liveness, so
//!   hundreds of sequential locals fit in 256 registers), loop and catch variables
//!   at the end of their block. Temporaries are freed as soon as consumed. A
//!   register is a reference register or a scalar register for the whole function
//!   (the GC root map is static).
//! * Expressions are compiled either *into* a destination register (`expr_to`) or
//!   to "wherever the value is" (`expr_val`: a local is read in place, anything
//!   else goes to a fresh temporary). Operands are evaluated first and their
//!   temporaries freed before the result register is taken, so chains reuse one
//!   temporary (see `expr.rs`). A `let` initialiser is compiled into a fresh
//!   temporary that then becomes the local's register; `x = e` compiles `e` into
//!   `x`'s register unless `e` would write its destination before it has finished
//!   reading its operands (`and`/`or`, `new`, chunked literals).
//! * Every instruction carries the location of the expression or statement that
//!   produced it.
//!
//! The exact schemes for loops and `try`/`finally` are documented in `control.rs`
//! and `exceptions.rs`.

mod call;
mod control;
mod exceptions;
mod expr;
mod func;
pub mod regalloc;
mod stmt;
#[cfg(test)]
mod tests;

use crate::ast::{FuncDef, Item, LambdaBody, LocalInfo, Module, Span};
use crate::bytecode::{ClassTables, ExternDef, FfiType, Function, GlobalDef, Instr, Loc, Program};
use crate::diag::{Diagnostic, Diagnostics, SourceMap};
use crate::types::{ProgramInfo, Type};
use bp_runtime::heap::Layout;
use std::collections::{HashMap, HashSet};

use func::FnCompiler;

/// A lambda body waiting to be compiled as its own function.
pub(crate) struct LambdaJob<'a> {
    pub func_id: u32,
    pub locals: &'a [LocalInfo],
    pub body: &'a LambdaBody,
    pub span: Span,
    /// (variable of the creator, the lambda's local for it), in capture order.
    pub captures: &'a [(crate::ast::LocalId, crate::ast::LocalId)],
    /// Per capture: the closure holds a cell (else the value).
    pub cells: Vec<bool>,
}

/// Program-wide compilation state shared by the function compilers.
pub(crate) struct Ctx<'a> {
    pub info: &'a ProgramInfo,
    pub sources: &'a SourceMap,
    pub diags: Vec<Diagnostic>,
    /// Lambdas discovered while compiling, compiled after the named functions.
    pub lambdas: Vec<LambdaJob<'a>>,
    queued_lambdas: HashSet<u32>,
    /// Class id -> layout id (see [`class_order`]).
    class_layouts: Vec<u32>,
}

impl<'a> Ctx<'a> {
    pub fn new(info: &'a ProgramInfo, sources: &'a SourceMap) -> Ctx<'a> {
        Ctx {
            info,
            sources,
            diags: Vec::new(),
            lambdas: Vec::new(),
            queued_lambdas: HashSet::new(),
            class_layouts: class_layouts(info),
        }
    }

    /// The layout id of class `cid`.
    pub fn class_layout(&self, cid: u32) -> u32 {
        self.class_layouts.get(cid as usize).copied().unwrap_or(0)
    }

    pub fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    /// The source text of `span` (lossy where it is not UTF-8).
    pub fn source_text(&self, span: Span) -> String {
        self.sources
            .files
            .get(span.file as usize)
            .and_then(|f| f.text.get(span.lo as usize..span.hi as usize))
            .unwrap_or("")
            .to_string()
    }

    /// 1-based line/column of the start of `span`.
    pub fn loc(&self, span: Span) -> Loc {
        match self.sources.files.get(span.file as usize) {
            Some(f) if (span.lo as usize) <= f.text.len() => {
                let (line, col) = f.line_col(span.lo);
                Loc { line, col }
            }
            _ => Loc::default(),
        }
    }

    /// Queue a lambda body for compilation (once per function id).
    pub fn queue_lambda(&mut self, job: LambdaJob<'a>) {
        if self.queued_lambdas.insert(job.func_id) {
            self.lambdas.push(job);
        }
    }
}

/// Compile a checked program. `modules[0]` is the entry module. Problems (more than
/// 256 registers in a function, inconsistencies of the annotated AST) are reported
/// into `diags`; the returned program is then not meant to be run.
pub fn compile_program(
    modules: &[Module],
    info: &ProgramInfo,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Program {
    let mut cx = Ctx::new(info, sources);

    let nfuncs = info.funcs.len();
    let mut functions: Vec<Option<Function>> = vec![None; nfuncs];

    for m in modules {
        for item in &m.items {
            match item {
                Item::Func(fd) => compile_funcdef(&mut cx, fd, &mut functions),
                Item::Struct(sd) => {
                    for fd in &sd.methods {
                        compile_funcdef(&mut cx, fd, &mut functions);
                    }
                }
                Item::Class(cd) => {
                    for fd in &cd.methods {
                        compile_funcdef(&mut cx, fd, &mut functions);
                    }
                }
                _ => {}
            }
        }
    }

    // `<init>` and its per-module helpers get the ids after the checker's functions.
    let init_fns = compile_init(&mut cx, modules, nfuncs as u32);

    for bm in &info.bound_methods {
        let f = compile_bound_method(&mut cx, bm);
        if let Some(slot) = functions.get_mut(bm.func_id as usize) {
            *slot = Some(f);
        }
    }

    while let Some(job) = cx.lambdas.pop() {
        let f = compile_lambda(&mut cx, &job);
        if let Some(slot) = functions.get_mut(job.func_id as usize) {
            *slot = Some(f);
        }
    }

    let mut out: Vec<Function> = functions
        .into_iter()
        .enumerate()
        .map(|(id, f)| f.unwrap_or_else(|| stub_function(&mut cx, id as u32)))
        .collect();
    let init_id = if init_fns.is_empty() {
        None
    } else {
        Some(out.len() as u32)
    };
    out.extend(init_fns);

    let mut layouts: Vec<Layout> = info
        .structs
        .iter()
        .map(|s| Layout {
            name: s.name.clone(),
            fields: s.fields.iter().map(|(n, t)| (n.clone(), t.kind())).collect(),
            is_class: false,
        })
        .collect();
    let classes = class_tables(info, &cx.class_layouts, &mut layouts);

    let globals = info
        .globals
        .iter()
        .map(|g| GlobalDef {
            name: g.name.clone(),
            kind: g.ty.kind(),
        })
        .collect();

    let externs = build_externs(modules, info);

    diags.extend(std::mem::take(&mut cx.diags));
    Program {
        functions: out,
        globals,
        layouts,
        files: sources.files.iter().map(|f| f.path.clone()).collect(),
        main: info.main,
        init: init_id,
        externs,
        classes,
    }
}

/// Classes in a preorder of the inheritance forest (each class followed by its
/// subclasses), so that a class's subclasses have the layout ids right after it.
fn class_order(info: &ProgramInfo) -> Vec<u32> {
    let n = info.classes.len();
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (cid, c) in info.classes.iter().enumerate() {
        match c.parent {
            Some(p) if (p as usize) < n => children[p as usize].push(cid as u32),
            _ => roots.push(cid as u32),
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<u32> = roots.into_iter().rev().collect();
    while let Some(c) = stack.pop() {
        order.push(c);
        stack.extend(children[c as usize].iter().rev());
    }
    order
}

/// Class id -> layout id: the class layouts follow the struct layouts in
/// [`class_order`].
fn class_layouts(info: &ProgramInfo) -> Vec<u32> {
    let mut out = vec![0; info.classes.len()];
    for (i, cid) in class_order(info).into_iter().enumerate() {
        out[cid as usize] = (info.structs.len() + i) as u32;
    }
    out
}

/// Append the class layouts to `layouts` and build the method tables and subtree
/// ranges.
fn class_tables(info: &ProgramInfo, class_layouts: &[u32], layouts: &mut Vec<Layout>) -> ClassTables {
    let order = class_order(info);
    let total = info.structs.len() + order.len();
    let mut t = ClassTables {
        vtable_base: vec![0; total],
        vtable_len: vec![0; total],
        methods: Vec::new(),
        subtree_end: (0..total as u32).collect(),
    };
    for &cid in &order {
        let c = &info.classes[cid as usize];
        let layout = class_layouts[cid as usize] as usize;
        layouts.push(Layout {
            name: c.name.clone(),
            fields: c.fields.iter().map(|(n, ty)| (n.clone(), ty.kind())).collect(),
            is_class: true,
        });
        t.vtable_base[layout] = t.methods.len() as u32;
        t.vtable_len[layout] = c.vtable.len() as u32;
        t.methods.extend(c.vtable.iter().map(|(_, fid)| *fid));
        // Every ancestor's subtree reaches at least this class.
        let mut at = Some(cid);
        let mut steps = 0;
        while let Some(a) = at {
            let al = class_layouts[a as usize] as usize;
            t.subtree_end[al] = t.subtree_end[al].max(layout as u32);
            at = info.classes[a as usize].parent;
            steps += 1;
            if steps > order.len() {
                break;
            }
        }
    }
    t
}

fn compile_funcdef<'a>(cx: &mut Ctx<'a>, fd: &'a FuncDef, functions: &mut [Option<Function>]) {
    let fid = fd.func_id;
    let Some(finfo) = cx.info.funcs.get(fid as usize) else {
        cx.error(
            fd.span,
            format!("internal compiler error: function '{}' has no id", fd.name.name),
        );
        return;
    };
    let name = finfo.name.clone();
    let ret = finfo.ret.clone();
    let mut fc = FnCompiler::new(cx, &fd.locals, ret.clone(), Some(fid), fd.span.file);
    let mut param_kinds = Vec::new();
    for (i, p) in fd.params.iter().enumerate() {
        let r = fc.declare_param(p.local, fd.span);
        // Past 256 registers (too many parameters, reported below) allocation
        // hands back register 0.
        if r as usize != i && !fc.ra.overflowed() {
            fc.internal(fd.span, "parameters must be the first locals");
        }
        let ty = fd
            .locals
            .get(p.local as usize)
            .map(|l| l.ty.clone())
            .unwrap_or(Type::Int);
        param_kinds.push(ty.kind());
    }
    for p in &fd.params {
        fc.make_cell_if_needed(p.local, fd.span);
    }
    fc.push_scope();
    fc.block_stmts(&fd.body);
    fc.pop_scope();
    if !stmt::block_ends_in_jump(&fd.body) {
        fc.implicit_return(fd.body.span.to(fd.span));
    }
    if fd.params.len() > crate::types::check::MAX_PARAMS {
        // The checker reports it first; this keeps the compiler safe on its own.
        fc.error(fd.name.span, format!("function '{name}' has too many parameters"));
    }
    let f = fc.finish(name, fd.span, fd.params.len() as u8, param_kinds, ret_kind(&ret));
    if let Some(slot) = functions.get_mut(fid as usize) {
        *slot = Some(f);
    }
}

fn compile_lambda<'a>(cx: &mut Ctx<'a>, job: &LambdaJob<'a>) -> Function {
    let (name, params, ret) = match cx.info.funcs.get(job.func_id as usize) {
        Some(fi) => (fi.name.clone(), fi.params.clone(), fi.ret.clone()),
        None => {
            cx.error(job.span, "internal compiler error: lambda has no function id");
            ("<lambda>".to_string(), Vec::new(), Type::Void)
        }
    };
    let nparams = params.len();
    let mut fc = FnCompiler::new(cx, job.locals, ret.clone(), Some(job.func_id), job.span.file);
    let mut param_kinds = Vec::new();
    for (i, p) in params.iter().enumerate() {
        fc.declare_param(i as u32, job.span);
        param_kinds.push(job.locals.get(i).map(|l| l.ty.kind()).unwrap_or(p.kind()));
    }
    if !job.captures.is_empty() {
        // The closure arrives in the register after the parameters; each captured
        // variable (its value, or the cell it lives in) is loaded from it.
        let clo = fc.ra.alloc(true);
        if clo as usize != nparams && !fc.ra.overflowed() {
            fc.internal(job.span, "the closure register must follow the parameters");
        }
        fc.takes_closure = true;
        for (i, (&(_, inner), &is_cell)) in job.captures.iter().zip(&job.cells).enumerate() {
            let Ok(idx) = u8::try_from(i) else {
                fc.error(job.span, "a lambda captures at most 256 variables");
                break;
            };
            let is_ref = is_cell || job.locals.get(inner as usize).is_some_and(|l| l.ty.is_ref());
            let reg = fc.ra.alloc(is_ref);
            fc.local_regs[inner as usize] = Some(reg);
            fc.cell_locals[inner as usize] = is_cell;
            fc.emit(Instr::GetCapture { dst: reg, clo, idx }, job.span);
        }
    }
    for i in 0..nparams {
        fc.make_cell_if_needed(i as u32, job.span);
    }
    match job.body {
        LambdaBody::Expr(body) if ret == Type::Void => {
            fc.expr_effect(body);
            fc.emit(Instr::RetVoid, body.span);
        }
        LambdaBody::Expr(body) => {
            let v = fc.expr_val(body);
            fc.emit(Instr::Ret { src: v.reg }, body.span);
            fc.release(v);
        }
        // A `def` nested in a function body.
        LambdaBody::Block(body) => {
            fc.push_scope();
            fc.block_stmts(body);
            fc.pop_scope();
            if !stmt::block_ends_in_jump(body) {
                fc.implicit_return(body.span.to(job.span));
            }
        }
    }
    fc.finish(
        name,
        job.span,
        nparams.min(255) as u8,
        param_kinds,
        ret_kind(&ret),
    )
}

/// The global initialiser `<init>`: every global's initialiser in dependency order
/// (imported modules before their importers, the entry module last). The
/// initialisers of an imported module run in a function of their own, `<init
/// NAME>`, called from `<init>`, so that locations refer to the right file.
/// Returns the functions to append (`<init>` first).
fn compile_init<'a>(cx: &mut Ctx<'a>, modules: &'a [Module], first_id: u32) -> Vec<Function> {
    let has_globals = |m: &Module| m.items.iter().any(|i| matches!(i, Item::Global(_)));
    if !modules.iter().any(has_globals) {
        return Vec::new();
    }
    let order: Vec<usize> = module_init_order(modules)
        .into_iter()
        .filter(|&i| has_globals(&modules[i]))
        .collect();
    let mut helpers = Vec::new();
    let file = modules.first().map(|m| m.file).unwrap_or(0);
    let mut fc = FnCompiler::new(cx, &[], Type::Void, None, file);
    let mut last_span = Span::new(file, 0, 0);
    for mi in order {
        let m = &modules[mi];
        if mi == 0 {
            last_span = init_globals(&mut fc, m).unwrap_or(last_span);
        } else {
            let id = first_id + 1 + helpers.len() as u32;
            let mut hc = FnCompiler::new(fc.cx, &[], Type::Void, None, m.file);
            let span = init_globals(&mut hc, m).unwrap_or_default();
            hc.emit(Instr::RetVoid, span);
            helpers.push(hc.finish(format!("<init {}>", m.name), span, 0, Vec::new(), None));
            let t = fc.temp_kind(false);
            let site = fc.site(id, Vec::new(), Vec::new());
            // Located at the start of the entry file (the helper has the real locations).
            fc.emit(Instr::Call { dst: t.reg, site }, Span::new(file, 0, 0));
            fc.release(t);
        }
    }
    fc.emit(Instr::RetVoid, last_span);
    let mut out = vec![fc.finish("<init>".to_string(), last_span, 0, Vec::new(), None)];
    out.extend(helpers);
    out
}

/// Compile the global initialisers of module `m` in source order; returns the span
/// of the last one.
fn init_globals<'a>(fc: &mut FnCompiler<'a, '_>, m: &'a Module) -> Option<Span> {
    let mut last = None;
    for item in &m.items {
        if let Item::Global(g) = item {
            let t = fc.expr_in(&g.init, func::Dst::Any);
            fc.emit(
                Instr::SetGlobal {
                    src: t.reg,
                    idx: g.global_id,
                },
                g.span,
            );
            fc.release(t);
            last = Some(g.span);
        }
    }
    last
}

/// Module indices in initialisation order: a post-order walk of the import graph
/// from the entry module, then any module not reached.
fn module_init_order(modules: &[Module]) -> Vec<usize> {
    let by_name: HashMap<&str, usize> = modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.as_str(), i))
        .collect();
    let mut state = vec![0u8; modules.len()]; // 0 new, 1 visiting, 2 done
    let mut order = Vec::new();
    fn visit(
        i: usize,
        modules: &[Module],
        by_name: &HashMap<&str, usize>,
        state: &mut [u8],
        order: &mut Vec<usize>,
    ) {
        if state[i] != 0 {
            return;
        }
        state[i] = 1;
        for item in &modules[i].items {
            if let Item::Import(imp) = item {
                if let Some(&j) = by_name.get(imp.module.name.as_str()) {
                    visit(j, modules, by_name, state, order);
                }
            }
        }
        state[i] = 2;
        order.push(i);
    }
    // Imported modules (in reverse load order) first, then the entry module.
    for i in (1..modules.len()).rev() {
        visit(i, modules, &by_name, &mut state, &mut order);
    }
    if !modules.is_empty() {
        visit(0, modules, &by_name, &mut state, &mut order);
    }
    order
}

/// A function id the checker allocated but no body was found for: returns the zero
/// value of its result type.
/// The function behind an `obj.m` value: its parameters are the method's without
/// `self`; the object is the closure's one capture. It calls the method (through
/// the method table if the method is overridden) and returns its result.
fn compile_bound_method(cx: &mut Ctx<'_>, bm: &crate::types::BoundMethod) -> Function {
    let (name, params, ret) = match cx.info.funcs.get(bm.func_id as usize) {
        Some(fi) => (fi.name.clone(), fi.params.clone(), fi.ret.clone()),
        None => (format!("<fn {}>", bm.func_id), Vec::new(), Type::Void),
    };
    let class = bm.class.map(|c| cx.class_layout(c));
    let mut fc = FnCompiler::new(cx, &[], ret.clone(), Some(bm.func_id), 0);
    let mut args = Vec::with_capacity(params.len() + 1);
    for p in &params {
        args.push(fc.alloc(p));
    }
    let clo = fc.ra.alloc(true);
    fc.takes_closure = true;
    let receiver = fc.ra.alloc(true);
    let sp = Span::default();
    fc.emit(
        Instr::GetCapture {
            dst: receiver,
            clo,
            idx: 0,
        },
        sp,
    );
    args.insert(0, receiver);
    let dst = fc.ra.alloc(ret.is_ref());
    let site = fc.site(
        match bm.target {
            crate::ast::Res::Virtual(slot) => slot,
            crate::ast::Res::Func(fid) => fid,
            _ => 0,
        },
        args,
        Vec::new(),
    );
    match (bm.target.clone(), class) {
        (crate::ast::Res::Virtual(_), Some(layout)) => {
            let class = u16::try_from(layout).unwrap_or(0);
            fc.emit(Instr::CallMethod { dst, site, class }, sp);
        }
        _ => {
            fc.emit(Instr::Call { dst, site }, sp);
        }
    }
    if ret == Type::Void {
        fc.emit(Instr::RetVoid, sp);
    } else {
        fc.emit(Instr::Ret { src: dst }, sp);
    }
    let kinds = params.iter().map(|t| t.kind()).collect();
    fc.finish(name, sp, params.len().min(255) as u8, kinds, ret_kind(&ret))
}

fn stub_function(cx: &mut Ctx<'_>, id: u32) -> Function {
    let (name, params, ret) = match cx.info.funcs.get(id as usize) {
        Some(fi) => (fi.name.clone(), fi.params.clone(), fi.ret.clone()),
        None => (format!("<fn {id}>"), Vec::new(), Type::Void),
    };
    let mut fc = FnCompiler::new(cx, &[], ret.clone(), Some(id), 0);
    for p in &params {
        fc.alloc(p);
    }
    fc.implicit_return(Span::default());
    let kinds = params.iter().map(|t| t.kind()).collect();
    fc.finish(
        name,
        Span::default(),
        params.len().min(255) as u8,
        kinds,
        ret_kind(&ret),
    )
}

pub(crate) fn ret_kind(t: &Type) -> Option<bp_runtime::value::ValKind> {
    if *t == Type::Void {
        None
    } else {
        Some(t.kind())
    }
}

fn ffi_type(t: &Type) -> FfiType {
    match t {
        Type::Fixed(n) => FfiType::fixed(n),
        Type::Int => FfiType::Int,
        Type::Float => FfiType::Float,
        Type::Bool => FfiType::Bool,
        Type::Str => FfiType::Str,
        Type::Void => FfiType::Void,
        _ => FfiType::Ptr,
    }
}

/// The extern table: signatures from the checker, library and symbol from the
/// declarations (matched by name, possibly module-qualified, in declaration order).
fn build_externs(modules: &[Module], info: &ProgramInfo) -> Vec<ExternDef> {
    let decls: Vec<(&Module, &crate::ast::ExternDecl)> = modules
        .iter()
        .flat_map(|m| {
            m.items.iter().filter_map(move |it| match it {
                Item::Extern(d) => Some((m, d)),
                _ => None,
            })
        })
        .collect();
    let mut used = vec![false; decls.len()];
    info.externs
        .iter()
        .enumerate()
        .map(|(i, fi)| {
            let matches = |(m, d): &(&Module, &crate::ast::ExternDecl)| {
                d.name.name == fi.name || format!("{}.{}", m.name, d.name.name) == fi.name
            };
            let found = decls.iter().enumerate().position(|(j, d)| !used[j] && matches(d));
            let pick = found.or(if i < decls.len() && !used[i] {
                Some(i)
            } else {
                None
            });
            let (library, symbol) = match pick {
                Some(j) => {
                    used[j] = true;
                    let d = decls[j].1;
                    (
                        d.library.clone(),
                        d.symbol.clone().unwrap_or_else(|| d.name.name.clone()),
                    )
                }
                None => (
                    String::new(),
                    fi.name.rsplit('.').next().unwrap_or(&fi.name).to_string(),
                ),
            };
            ExternDef {
                name: fi.name.clone(),
                library,
                symbol,
                params: fi.params.iter().map(ffi_type).collect(),
                ret: ffi_type(&fi.ret),
            }
        })
        .collect()
}
