//! The type checker (LANGUAGE.md §3–§7, §9, §10 with the §16 decisions).
//!
//! [`check_program`] works in three phases over all modules:
//!
//! 1. **Declarations**: every module's top-level names are registered (structs, enums,
//!    functions, struct methods, externs, globals, imports) and function / global ids
//!    are assigned; then all written types are resolved (struct fields, signatures,
//!    global types), so that bodies can refer to anything declared anywhere.
//! 2. **Global initialisers**, per module in source order; an initialiser sees only
//!    the globals declared before it.
//! 3. **Function bodies** (top-level functions and struct methods).
//!
//! The AST is annotated in place: every `Expr.ty`, name/call resolutions, local
//! tables, struct/field indices. Points the compiler must know:
//!
//! * Rewrites: `E.V` → `Int(value)`; a tuple literal where an array is expected →
//!   `Array`; a tuple index is always a non-negative `Int` literal afterwards (`t[-1]`
//!   → `t[n-1]`); `mod.f` / an imported `f` used as a value → `Name` with
//!   `Res::Func`; `[]` / `{}` get the expected type.
//! * `MethodCall` with `Res::Func(id)` is a struct method call (receiver type
//!   `Struct`, passed as `self`, so `funcs[id].params.len() == args.len() + 1`) or a
//!   module call `mod.f(args)` (receiver is a `Name` left `Res::Unresolved` with type
//!   `Void`; it is not an argument).
//! * Calls of `extern` functions: fixed-width parameter/return types (`i32`, ...)
//!   accept / produce plain `int` in BetterPython code; `ProgramInfo::externs` keeps
//!   the declared types for marshalling.
//! * Builtin calls: `Res::Builtin(id)`, checked against the builtin's parsed
//!   signature; `builtin_sig::kind_of_t` with the argument types tells the compiler
//!   what `T` is bound to (for `KIND_OF_T` builtins).
//! * A void call has type `Void` and only appears as an expression statement or a
//!   lambda body of declared type `void`.
//! * Function ids: top-level functions and struct methods of every module in source
//!   order, then lambdas in checking order. `FuncDef.locals` / `Lambda.locals`: the
//!   parameters first (`self` first for methods), then `let`, `for` and `catch`
//!   variables in order of appearance.
//!
//! Errors never stop the checker: an erroneous expression gets `Type::Error`, which is
//! compatible with everything, so that one mistake yields one diagnostic.

mod class;
mod expr;
mod stmt;
#[cfg(test)]
mod tests;

use super::builtin_sig::same_type;
use super::{FuncInfo, GlobalInfo, ProgramInfo, StructInfo, Type, TypeDisplay};
use crate::ast::{self, Block, FileId, Item, LocalId, LocalInfo, Span, StmtKind, TypeExpr, TypeExprKind};
use crate::diag::Diagnostics;
use std::collections::{HashMap, HashSet};

/// Type-check the program. `modules[0]` is the entry module; the others are the
/// modules it (transitively) imports. Annotates the AST in place and returns the
/// program-wide tables. Problems are reported to `diags`; when `diags` has errors
/// afterwards the annotations are incomplete and must not be compiled.
pub fn check_program(modules: &mut [ast::Module], diags: &mut Diagnostics) -> ProgramInfo {
    check_program_with(modules, diags, true)
}

/// [`check_program`]; without `require_main` a program may have no `main` (a test
/// file, whose `test_*` functions are called one by one).
pub fn check_program_with(
    modules: &mut [ast::Module],
    diags: &mut Diagnostics,
    require_main: bool,
) -> ProgramInfo {
    let mut c = Checker::new(diags);
    let Some(entry) = modules.first() else {
        c.diags.error(Span::default(), "no main function");
        return c.info;
    };
    let entry_file = entry.file;
    let main_defined = entry
        .items
        .iter()
        .any(|it| matches!(it, Item::Func(f) if f.name.name == "main"));
    c.declare(modules);
    c.resolve_declarations(modules);
    c.check_globals(modules);
    c.check_bodies(modules);
    c.check_main(entry_file, main_defined || !require_main);
    c.info
}

/// Most parameters of a function (and arguments of a call): a call copies its
/// arguments into the callee's first registers, and a frame has 256 registers.
pub const MAX_PARAMS: usize = 255;
/// Most fields of a struct (field indices are one byte in the bytecode).
pub const MAX_FIELDS: usize = 256;

/// The two names compiled specially instead of through the runtime's builtin table.
const INTRINSICS: [&str; 2] = ["print", "typeof"];

struct EnumInfo {
    name: String,
    /// Member name -> value.
    variants: HashMap<String, i64>,
}

/// What a module declares at top level, by name.
#[derive(Default)]
struct ModScope {
    name: String,
    /// Top-level functions (the first definition of each name).
    funcs: HashMap<String, u32>,
    structs: HashMap<String, u32>,
    enums: HashMap<String, EnumInfo>,
    classes: HashMap<String, u32>,
    /// Global name -> global id.
    globals: HashMap<String, u32>,
    /// Extern name -> extern id.
    externs: HashMap<String, u32>,
    /// Import name or alias -> module index.
    imports: HashMap<String, usize>,
    /// Names made callable unqualified by `import m (f)` -> function id.
    selective: HashMap<String, u32>,
    /// Every top-level name, for duplicate detection.
    names: HashMap<String, Span>,
    /// Structs, classes and enums declared `export` (usable as `m.Name`).
    exported_types: HashSet<String>,
}

/// A declared type found by name.
#[derive(Clone, Copy)]
enum NamedType {
    Struct(u32),
    Class(u32),
    Enum,
}

/// Per-function data that the tables in [`ProgramInfo`] do not carry.
struct FuncMeta {
    exported: bool,
    /// The function's name (lambdas: the whole lambda), for diagnostics.
    span: Span,
}

struct GlobalMeta {
    /// Position among the module's globals (initialisation order).
    order: usize,
}

/// The checking state of one function body, lambda body or global initialiser.
struct FnCtx {
    locals: Vec<LocalInfo>,
    /// Nested block scopes; each holds the names of the locals it declares.
    scopes: Vec<Vec<String>>,
    /// A lambda's captures: (local of the enclosing context, own local).
    captures: Vec<(LocalId, LocalId)>,
    /// Visible locals by name (innermost last), so that a lookup does not scan
    /// every local of a long function.
    visible: HashMap<String, Vec<LocalId>>,
    ret: Type,
    /// Where the return type is written (a named function's), for the note of a
    /// return type mismatch.
    ret_span: Option<Span>,
    loop_depth: u32,
    /// What is known about locals at the current point (narrowing).
    facts: class::Facts,
}

impl FnCtx {
    fn new(ret: Type) -> FnCtx {
        FnCtx {
            locals: Vec::new(),
            scopes: vec![Vec::new()],
            captures: Vec::new(),
            visible: HashMap::new(),
            ret,
            ret_span: None,
            loop_depth: 0,
            facts: class::Facts::default(),
        }
    }
    fn find(&self, name: &str) -> Option<LocalId> {
        self.visible.get(name).and_then(|ids| ids.last()).copied()
    }
    /// Make local `id` visible as `name` until its scope ends.
    fn bind(&mut self, name: &str, id: LocalId) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(name.to_string());
            self.visible.entry(name.to_string()).or_default().push(id);
        }
    }
    fn pop_scope(&mut self) {
        for name in self.scopes.pop().unwrap_or_default() {
            if let Some(ids) = self.visible.get_mut(&name) {
                ids.pop();
                if ids.is_empty() {
                    self.visible.remove(&name);
                }
            }
        }
    }
}

/// What a plain name refers to as a variable.
enum VarLookup {
    Local(LocalId, Type),
    /// A local of an enclosing function, seen from inside a lambda.
    Captured(Type),
    Global(u32, Type),
    /// A global of this module whose definition comes later (in an initialiser).
    LaterGlobal,
    NotFound,
}

/// Which context an expected type comes from (for the mismatch message).
#[derive(Clone, Copy)]
enum Want<'a> {
    Plain,
    Arg(usize, &'a str),
    Return,
    Field(&'a str, &'a str),
    Elem,
    MapKey,
    MapValue,
    Case,
    Lambda,
    TupleElem(usize),
}

pub(crate) struct Checker<'d> {
    diags: &'d mut Diagnostics,
    info: ProgramInfo,
    mods: Vec<ModScope>,
    func_meta: Vec<FuncMeta>,
    global_meta: Vec<GlobalMeta>,
    /// Module whose code is being checked.
    cur: usize,
    /// While checking a global initialiser: the position of that global (later
    /// globals of the module are not visible yet).
    global_limit: Option<usize>,
    /// Enclosing function contexts; the last is the current one (lambdas push).
    ctxs: Vec<FnCtx>,
    /// (struct id, method name) -> function id: [`StructInfo::methods`] indexed.
    method_ids: HashMap<(u32, String), u32>,
    /// Per class id: what `declare_class` and `resolve_class` found.
    class_decls: Vec<class::ClassDecl>,
    /// The class whose method body is being checked.
    cur_class: Option<u32>,
    /// `obj.m` values: (is a class, class or struct id, method) -> function id.
    bound_ids: HashMap<(bool, u32, String), u32>,
}

impl<'d> Checker<'d> {
    fn new(diags: &'d mut Diagnostics) -> Checker<'d> {
        Checker {
            diags,
            info: ProgramInfo::default(),
            mods: Vec::new(),
            func_meta: Vec::new(),
            global_meta: Vec::new(),
            cur: 0,
            global_limit: None,
            ctxs: Vec::new(),
            method_ids: HashMap::new(),
            class_decls: Vec::new(),
            cur_class: None,
            bound_ids: HashMap::new(),
        }
    }

    /// The function id of method `name` of struct `sid`.
    fn method_id(&self, sid: u32, name: &str) -> Option<u32> {
        self.method_ids.get(&(sid, name.to_string())).copied()
    }

    // ---- diagnostics helpers --------------------------------------------------

    fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.error(span, msg);
    }

    /// An error about the unknown `name`, with a note saying what was probably meant
    /// (a close name among `candidates`, or the BetterPython spelling of a Python one).
    fn unknown_name_error(&mut self, span: Span, msg: String, name: &str, candidates: &[String]) {
        let mut d = crate::diag::Diagnostic::error(span, msg);
        if let Some(note) = crate::suggest::note(name, candidates.iter().map(String::as_str)) {
            d = d.with_note(note);
        }
        self.diags.push(d);
    }

    /// The names a value can have here: visible locals, the module's globals and
    /// functions.
    fn value_names(&self) -> Vec<String> {
        let m = &self.mods[self.cur];
        let locals = self.ctxs.iter().flat_map(|c| c.visible.keys());
        locals
            .chain(m.globals.keys())
            .chain(m.funcs.keys())
            .cloned()
            .collect()
    }

    /// The names that can be called here: functions, builtins, externs, imported
    /// names and visible locals.
    fn callable_names(&self) -> Vec<String> {
        let m = &self.mods[self.cur];
        let builtins = bp_runtime::builtins::all().iter().map(|b| b.name.to_string());
        let mut names = self.value_names();
        names.extend(
            builtins
                .chain(m.externs.keys().cloned())
                .chain(m.selective.keys().cloned()),
        );
        names
    }

    /// The type names known here.
    fn type_names(&self) -> Vec<String> {
        let m = &self.mods[self.cur];
        let builtin = [
            "int", "float", "bool", "str", "void", "ptr", "i8", "i16", "i32", "i64", "u8", "u16", "u32",
            "u64",
        ];
        let declared = m
            .structs
            .keys()
            .chain(m.enums.keys())
            .chain(m.classes.keys())
            .cloned();
        builtin.iter().map(|s| s.to_string()).chain(declared).collect()
    }

    /// The module and plain name of a type name written `Name` or `alias.Name` in
    /// the current module; an unknown module is reported.
    fn type_scope<'n>(&mut self, name: &'n str, span: Span) -> Option<(usize, &'n str)> {
        let Some((alias, plain)) = name.split_once('.') else {
            return Some((self.cur, name));
        };
        match self.mods[self.cur].imports.get(alias) {
            Some(&mi) => Some((mi, plain)),
            None => {
                let known: Vec<String> = self.mods[self.cur].imports.keys().cloned().collect();
                let msg = format!("unknown module '{alias}' in type '{name}'");
                self.unknown_name_error(span, msg, alias, &known);
                None
            }
        }
    }

    /// The struct, class or enum named `name` (`Point` or `geo.Point`), if any. One
    /// of another module must be exported (an error otherwise, but it is found).
    fn named_type(&mut self, name: &str, span: Span) -> Option<NamedType> {
        let (mi, plain) = self.type_scope(name, span)?;
        let m = &self.mods[mi];
        let found = if let Some(&sid) = m.structs.get(plain) {
            NamedType::Struct(sid)
        } else if let Some(&cid) = m.classes.get(plain) {
            NamedType::Class(cid)
        } else if m.enums.contains_key(plain) {
            NamedType::Enum
        } else {
            if mi != self.cur {
                let msg = format!("module '{}' has no type '{plain}'", m.name);
                self.error(span, msg);
            }
            return None;
        };
        if mi != self.cur && !m.exported_types.contains(plain) {
            let msg = format!(
                "'{plain}' is not exported from module '{}' (declare it with 'export')",
                m.name
            );
            self.error(span, msg);
        }
        Some(found)
    }

    /// A type as the user writes it (struct names, not ids).
    fn tn(&self, t: &Type) -> String {
        TypeDisplay {
            ty: t,
            info: Some(&self.info),
            here: Some(self.cur),
        }
        .to_string()
    }

    fn mismatch(&mut self, span: Span, want: Want, expected: &Type, found: &Type) {
        let (e, f) = (self.tn(expected), self.tn(found));
        let msg = match want {
            Want::Plain => format!("type mismatch: expected {e}, found {f}"),
            Want::Arg(i, name) => format!("argument {} of '{name}': expected {e}, found {f}", i + 1),
            Want::Return => format!("return type mismatch: expected {e}, found {f}"),
            Want::Field(s, fld) => format!("field '{fld}' of struct '{s}': expected {e}, found {f}"),
            Want::Elem => format!("array element type mismatch: expected {e}, found {f}"),
            Want::MapKey => format!("map key type mismatch: expected {e}, found {f}"),
            Want::MapValue => format!("map value type mismatch: expected {e}, found {f}"),
            Want::Case => format!("case type mismatch: the match subject is {e}, the case is {f}"),
            Want::Lambda => format!("lambda body type mismatch: declared return type {e}, found {f}"),
            Want::TupleElem(i) => format!("tuple element {i}: expected {e}, found {f}"),
        };
        let mut d = crate::diag::Diagnostic::error(span, msg);
        if let Some(note) = self.invariance_note(found, expected) {
            d = d.with_note(note);
        }
        if *found == Type::Null && expected.is_ref() {
            d = d.with_note(format!("only a nullable type holds null: declare it {e}?"));
        }
        if let (Type::Class(_), Type::Class(c)) = (found.non_null(), expected.non_null()) {
            if self.is_subclass(*c, found.non_null().class_id().unwrap_or(*c)) {
                d = d.with_note(format!(
                    "a parent is not a subclass; check and convert with 'x as {}'",
                    self.tn(expected.non_null())
                ));
            }
        }
        if let (Want::Return, Some(at)) = (want, self.ctxs.last().and_then(|c| c.ret_span)) {
            d = d.with_related(at, format!("the return type {e} is declared here"));
        }
        self.diags.push(d);
    }

    /// A function, method, lambda or extern with more than [`MAX_PARAMS`] parameters
    /// is an error at its name (once, not per parameter).
    fn check_param_count(&mut self, what: &str, n: usize, span: Span) {
        if n > MAX_PARAMS {
            self.error(
                span,
                format!("{what} has {n} parameters; at most {MAX_PARAMS} are allowed"),
            );
        }
    }

    /// A call with more than [`MAX_PARAMS`] arguments is an error at the call;
    /// false after reporting it.
    fn check_arg_count(&mut self, n: usize, span: Span) -> bool {
        if n > MAX_PARAMS {
            self.error(
                span,
                format!("too many arguments in one call ({n}; at most {MAX_PARAMS} are allowed)"),
            );
            return false;
        }
        true
    }

    // ---- phase 1: declarations ----------------------------------------------------

    /// Register a top-level name of module `mi`; false (after an error) if taken.
    fn claim_name(&mut self, mi: usize, name: &ast::Ident, is_func: bool) -> bool {
        if let Some(_prev) = self.mods[mi].names.get(&name.name) {
            let is_prev_func = self.mods[mi].funcs.contains_key(&name.name);
            if is_func && is_prev_func {
                self.error(name.span, format!("duplicate function '{}'", name.name));
            } else {
                self.error(name.span, format!("duplicate symbol '{}'", name.name));
            }
            return false;
        }
        self.mods[mi].names.insert(name.name.clone(), name.span);
        true
    }

    fn qualified(&self, mi: usize, name: &str) -> String {
        if mi == 0 {
            name.to_string()
        } else {
            format!("{}.{}", self.mods[mi].name, name)
        }
    }

    fn new_func(&mut self, name: String, exported: bool, span: Span) -> u32 {
        let id = self.info.funcs.len() as u32;
        self.info.funcs.push(FuncInfo {
            name,
            params: Vec::new(),
            ret: Type::Error,
        });
        self.func_meta.push(FuncMeta { exported, span });
        id
    }

    /// Phase 1a: names and ids.
    fn declare(&mut self, modules: &mut [ast::Module]) {
        for m in modules.iter() {
            self.mods.push(ModScope {
                name: m.name.clone(),
                ..ModScope::default()
            });
        }
        for (mi, m) in modules.iter_mut().enumerate() {
            let mut global_order = 0;
            for item in m.items.iter_mut() {
                match item {
                    Item::Func(f) => {
                        let id = self.new_func(self.qualified(mi, &f.name.name), f.exported, f.name.span);
                        f.func_id = id;
                        if self.claim_name(mi, &f.name, true) {
                            self.mods[mi].funcs.insert(f.name.name.clone(), id);
                            if bp_runtime::builtins::id_of(&f.name.name).is_some()
                                || INTRINSICS.contains(&f.name.name.as_str())
                            {
                                self.diags.warning(
                                    f.name.span,
                                    format!(
                                        "function '{}' shadows the builtin of the same name",
                                        f.name.name
                                    ),
                                );
                            }
                        }
                    }
                    Item::Struct(s) => {
                        if s.exported {
                            self.mods[mi].exported_types.insert(s.name.name.clone());
                        }
                        let sid = self.info.structs.len() as u32;
                        self.info.structs.push(StructInfo {
                            name: s.name.name.clone(),
                            module: mi,
                            qualified: format!("{}.{}", self.mods[mi].name, s.name.name),
                            fields: Vec::new(),
                            methods: Vec::new(),
                        });
                        if self.claim_name(mi, &s.name, false) {
                            self.mods[mi].structs.insert(s.name.name.clone(), sid);
                        }
                        for meth in s.methods.iter_mut() {
                            let qual = self.qualified(mi, &format!("{}.{}", s.name.name, meth.name.name));
                            let id = self.new_func(qual, true, meth.name.span);
                            meth.func_id = id;
                            if self.method_id(sid, &meth.name.name).is_some() {
                                let msg = format!(
                                    "duplicate method '{}' in struct '{}'",
                                    meth.name.name, s.name.name
                                );
                                self.error(meth.name.span, msg);
                            } else {
                                self.info.structs[sid as usize]
                                    .methods
                                    .push((meth.name.name.clone(), id));
                                self.method_ids.insert((sid, meth.name.name.clone()), id);
                            }
                        }
                    }
                    Item::Enum(e) => {
                        if e.exported {
                            self.mods[mi].exported_types.insert(e.name.name.clone());
                        }
                        let mut variants: HashMap<String, i64> = HashMap::new();
                        let mut next: i64 = 0;
                        for (v, explicit) in &e.variants {
                            let val = explicit.unwrap_or(next);
                            next = val.wrapping_add(1);
                            if variants.contains_key(&v.name) {
                                self.error(
                                    v.span,
                                    format!("duplicate member '{}' in enum '{}'", v.name, e.name.name),
                                );
                                continue;
                            }
                            variants.insert(v.name.clone(), val);
                        }
                        if self.claim_name(mi, &e.name, false) {
                            self.mods[mi].enums.insert(
                                e.name.name.clone(),
                                EnumInfo {
                                    name: e.name.name.clone(),
                                    variants,
                                },
                            );
                        }
                    }
                    Item::Class(c) => {
                        if c.exported {
                            self.mods[mi].exported_types.insert(c.name.name.clone());
                        }
                        self.declare_class(mi, c)
                    }
                    Item::Global(g) => {
                        let id = self.info.globals.len() as u32;
                        g.global_id = id;
                        self.info.globals.push(GlobalInfo {
                            name: self.qualified(mi, &g.name.name),
                            ty: Type::Error,
                        });
                        self.global_meta.push(GlobalMeta { order: global_order });
                        global_order += 1;
                        if self.claim_name(mi, &g.name, false) {
                            self.mods[mi].globals.insert(g.name.name.clone(), id);
                        }
                    }
                    Item::Extern(x) => {
                        let id = self.info.externs.len() as u32;
                        self.info.externs.push(FuncInfo {
                            name: self.qualified(mi, &x.name.name),
                            params: Vec::new(),
                            ret: Type::Error,
                        });
                        if self.claim_name(mi, &x.name, false) {
                            self.mods[mi].externs.insert(x.name.name.clone(), id);
                            if bp_runtime::builtins::id_of(&x.name.name).is_some()
                                || INTRINSICS.contains(&x.name.name.as_str())
                            {
                                self.diags.warning(
                                    x.name.span,
                                    format!(
                                        "extern function '{}' shadows the builtin of the same name",
                                        x.name.name
                                    ),
                                );
                            }
                        }
                    }
                    Item::Import(imp) => {
                        let alias = imp.alias.as_ref().unwrap_or(&imp.module).clone();
                        match modules_index(&self.mods, &imp.module.name) {
                            // Importing the same module twice under one name is harmless
                            // (`import m` and `import m (f)`).
                            Some(target) if self.mods[mi].imports.get(&alias.name) == Some(&target) => {}
                            Some(target) => {
                                if self.claim_name(mi, &alias, false) {
                                    self.mods[mi].imports.insert(alias.name.clone(), target);
                                }
                            }
                            None => self.error(
                                imp.module.span,
                                format!("cannot find module '{}'", imp.module.name),
                            ),
                        }
                    }
                }
            }
        }
        // Selective imports need every module's functions.
        for (mi, m) in modules.iter().enumerate() {
            for item in &m.items {
                let Item::Import(imp) = item else { continue };
                let Some(target) = modules_index(&self.mods, &imp.module.name) else {
                    continue;
                };
                for n in &imp.names {
                    match self.mods[target].funcs.get(&n.name).copied() {
                        Some(fid) => {
                            if !self.func_meta[fid as usize].exported {
                                let msg = format!(
                                    "function '{}' is not exported from module '{}'",
                                    n.name, imp.module.name
                                );
                                self.error(n.span, msg);
                            }
                            if self.claim_name(mi, n, false) {
                                self.mods[mi].selective.insert(n.name.clone(), fid);
                            }
                        }
                        None => self.error(
                            n.span,
                            format!("module '{}' has no function '{}'", imp.module.name, n.name),
                        ),
                    }
                }
            }
        }
    }

    /// Phase 1b: resolve the written types of every declaration.
    fn resolve_declarations(&mut self, modules: &mut [ast::Module]) {
        // Struct ids were assigned in this same order by `declare` (also to structs
        // whose name turned out to be a duplicate, so that their methods check).
        let mut next_sid = 0u32;
        let mut next_cid = 0u32;
        for (mi, m) in modules.iter_mut().enumerate() {
            self.cur = mi;
            for item in m.items.iter_mut() {
                match item {
                    Item::Func(f) => self.resolve_signature(f, None),
                    Item::Struct(s) => {
                        let sid = next_sid;
                        next_sid += 1;
                        let mut fields: Vec<(String, Type)> = Vec::new();
                        let mut names = HashSet::new();
                        if s.fields.len() > MAX_FIELDS {
                            let msg = format!(
                                "struct '{}' has {} fields; at most {MAX_FIELDS} are allowed",
                                s.name.name,
                                s.fields.len()
                            );
                            self.error(s.name.span, msg);
                        }
                        // Past the limit (an error), fields are left out.
                        for fd in s.fields.iter().take(MAX_FIELDS) {
                            let ty = self.resolve_type(&fd.ty, false);
                            if !names.insert(fd.name.name.as_str()) {
                                let msg =
                                    format!("duplicate field '{}' in struct '{}'", fd.name.name, s.name.name);
                                self.error(fd.name.span, msg);
                                continue;
                            }
                            fields.push((fd.name.name.clone(), ty));
                        }
                        self.info.structs[sid as usize].fields = fields;
                        for meth in s.methods.iter_mut() {
                            self.resolve_signature(meth, Some(Type::Struct(sid)));
                        }
                    }
                    Item::Global(g) => {
                        let ty = self.resolve_type(&g.ty, false);
                        if let Some(gi) = self.info.globals.get_mut(g.global_id as usize) {
                            gi.ty = ty;
                        }
                    }
                    Item::Extern(x) => {
                        let mut params = Vec::new();
                        for p in &x.params {
                            match &p.ty {
                                Some(t) => {
                                    let ty = self.resolve_type(t, false);
                                    self.check_ffi_type(&ty, t.span);
                                    params.push(ty)
                                }
                                None => {
                                    self.error(p.name.span, "'self' is only allowed in methods");
                                    params.push(Type::Error);
                                }
                            }
                        }
                        let ret = self.resolve_type(&x.ret, true);
                        self.check_ffi_type(&ret, x.ret.span);
                        let what = format!("extern function '{}'", x.name.name);
                        self.check_param_count(&what, x.params.len(), x.name.span);
                        if let Some(&id) = self.mods[mi].externs.get(&x.name.name) {
                            self.info.externs[id as usize].params = params;
                            self.info.externs[id as usize].ret = ret;
                        }
                    }
                    Item::Class(c) => {
                        self.resolve_class(next_cid, c);
                        next_cid += 1;
                    }
                    Item::Enum(_) | Item::Import(_) => {}
                }
            }
        }
        self.finish_classes();
    }

    /// Only scalars, strings and `ptr` cross the C boundary (LANGUAGE.md §11).
    fn check_ffi_type(&mut self, ty: &Type, span: Span) {
        let ok = matches!(
            ty,
            Type::Int
                | Type::Float
                | Type::Bool
                | Type::Str
                | Type::Ptr
                | Type::Void
                | Type::Fixed(_)
                | Type::Error
        );
        if !ok {
            let msg = format!(
                "type {} cannot be passed to or returned from an extern function",
                TypeDisplay {
                    ty,
                    info: Some(&self.info),
                    here: Some(self.cur),
                }
            );
            self.error(span, msg);
        }
    }

    /// Parameter and return types of a function or method (`self` first for methods).
    fn resolve_signature(&mut self, f: &mut ast::FuncDef, self_ty: Option<Type>) {
        let mut params = Vec::new();
        for (i, p) in f.params.iter_mut().enumerate() {
            p.local = i as LocalId;
            let is_self = p.name.name == "self";
            let ty = match (&p.ty, &self_ty) {
                (None, Some(st)) if is_self && i == 0 => st.clone(),
                (Some(t), Some(st)) if is_self && i == 0 => {
                    let ty = self.resolve_type(t, false);
                    if !same_type(&ty, st) {
                        let msg = format!("'self' must have type {}, found {}", self.tn(st), self.tn(&ty));
                        self.error(t.span, msg);
                    }
                    st.clone()
                }
                _ if is_self => {
                    let msg = if self_ty.is_some() {
                        "'self' must be the first parameter of a method"
                    } else {
                        "'self' is only allowed in methods"
                    };
                    self.error(p.name.span, msg);
                    Type::Error
                }
                (Some(t), _) => self.resolve_type(t, false),
                (None, _) => Type::Error,
            };
            params.push(ty);
        }
        if let Some(st) = &self_ty {
            if f.params.first().is_none_or(|p| p.name.name != "self") {
                let what = match st {
                    Type::Class(_) => "class",
                    _ => "struct",
                };
                let msg = format!(
                    "method '{}' of {what} '{}' must take 'self' as its first parameter",
                    f.name.name,
                    self.tn(st)
                );
                self.error(f.name.span, msg);
            }
        }
        let ret = self.resolve_type(&f.ret, true);
        let what = format!("function '{}'", f.name.name);
        self.check_param_count(&what, f.params.len(), f.name.span);
        if let Some(fi) = self.info.funcs.get_mut(f.func_id as usize) {
            fi.params = params;
            fi.ret = ret;
        }
    }

    /// The type written as `te` in the current module. `void` is only accepted where
    /// `allow_void` (return types).
    fn resolve_type(&mut self, te: &TypeExpr, allow_void: bool) -> Type {
        match &te.kind {
            TypeExprKind::Named(n) => match n.as_str() {
                "int" => Type::Int,
                "float" => Type::Float,
                "bool" => Type::Bool,
                "str" => Type::Str,
                "ptr" => Type::Ptr,
                "void" => {
                    if allow_void {
                        Type::Void
                    } else {
                        self.error(te.span, "void is only allowed as a return type");
                        Type::Error
                    }
                }
                "i8" => Type::Fixed("i8"),
                "i16" => Type::Fixed("i16"),
                "i32" => Type::Fixed("i32"),
                "i64" => Type::Fixed("i64"),
                "u8" => Type::Fixed("u8"),
                "u16" => Type::Fixed("u16"),
                "u32" => Type::Fixed("u32"),
                "u64" => Type::Fixed("u64"),
                _ => match self.named_type(n, te.span) {
                    Some(NamedType::Struct(sid)) => Type::Struct(sid),
                    // Enum values are ints; the enum name is accepted as a synonym.
                    Some(NamedType::Enum) => Type::Int,
                    Some(NamedType::Class(cid)) => Type::Class(cid),
                    None if n.contains('.') => Type::Error, // reported by `named_type`
                    None => {
                        let known = self.type_names();
                        self.unknown_name_error(te.span, format!("unknown type '{n}'"), n, &known);
                        Type::Error
                    }
                },
            },
            TypeExprKind::Array(e) => Type::Array(Box::new(self.resolve_type(e, false))),
            TypeExprKind::Chan(e) => Type::Chan(Box::new(self.resolve_type(e, false))),
            TypeExprKind::Map(k, v) => {
                let kt = self.resolve_type(k, false);
                if !valid_map_key(&kt) {
                    let msg = format!(
                        "map keys must be int, float, bool, str or a tuple of them, found {}",
                        self.tn(&kt)
                    );
                    self.error(k.span, msg);
                }
                Type::Map(Box::new(kt), Box::new(self.resolve_type(v, false)))
            }
            TypeExprKind::Tuple(ts) => Type::Tuple(ts.iter().map(|t| self.resolve_type(t, false)).collect()),
            TypeExprKind::Fn(ps, r) => {
                let ps = ps.iter().map(|t| self.resolve_type(t, false)).collect();
                Type::Fn(ps, Box::new(self.resolve_type(r, true)))
            }
            TypeExprKind::Nullable(inner) => match self.resolve_type(inner, false) {
                Type::Error => Type::Error,
                t if t.is_ref() && t != Type::Ptr => Type::Nullable(Box::new(t)),
                t => {
                    let msg = format!(
                        "{}? is not a type: only references (classes, structs, str, arrays, maps, tuples, functions) can be null",
                        self.tn(&t)
                    );
                    self.error(te.span, msg);
                    Type::Error
                }
            },
        }
    }

    // ---- phases 2 and 3 --------------------------------------------------------------

    fn check_globals(&mut self, modules: &mut [ast::Module]) {
        for (mi, m) in modules.iter_mut().enumerate() {
            self.cur = mi;
            for item in m.items.iter_mut() {
                let Item::Global(g) = item else { continue };
                let id = g.global_id as usize;
                let Some(meta) = self.global_meta.get(id) else {
                    continue;
                };
                self.global_limit = Some(meta.order);
                let ty = self.info.globals[id].ty.clone();
                self.ctxs.push(FnCtx::new(Type::Void));
                self.check_expect(&mut g.init, &ty, Want::Plain);
                self.ctxs.pop();
                self.global_limit = None;
            }
        }
    }

    fn check_bodies(&mut self, modules: &mut [ast::Module]) {
        for (mi, m) in modules.iter_mut().enumerate() {
            self.cur = mi;
            for item in m.items.iter_mut() {
                match item {
                    Item::Func(f) => self.check_func(f),
                    Item::Struct(s) => {
                        for meth in s.methods.iter_mut() {
                            self.check_func(meth);
                        }
                    }
                    Item::Class(c) => {
                        let Some(&cid) = self.mods[mi].classes.get(&c.name.name) else {
                            continue; // a duplicate name, reported
                        };
                        self.check_field_init(cid, c);
                        self.cur_class = Some(cid);
                        for meth in c.methods.iter_mut() {
                            self.check_func(meth);
                        }
                        self.cur_class = None;
                    }
                    _ => {}
                }
            }
        }
    }

    fn check_func(&mut self, f: &mut ast::FuncDef) {
        let Some(fi) = self.info.funcs.get(f.func_id as usize) else {
            return;
        };
        let (params, ret) = (fi.params.clone(), fi.ret.clone());
        let mut ctx = FnCtx::new(ret.clone());
        ctx.ret_span = Some(f.ret.span).filter(|s| s.hi > s.lo);
        self.ctxs.push(ctx);
        for (p, ty) in f.params.iter_mut().zip(params) {
            p.local = self.declare_local(&p.name, ty);
            self.ctx().locals[p.local as usize].cellable = true;
        }
        self.check_block(&mut f.body);
        if ret != Type::Void && !block_returns(&f.body) {
            self.diags.warning(
                f.name.span,
                format!("function '{}' may end without returning a value", f.name.name),
            );
        }
        if let Some(ctx) = self.ctxs.pop() {
            self.check_captured_assignments(&ctx.locals);
            f.locals = ctx.locals;
        }
    }

    /// `main_defined`: the entry module has a `def main` (whose name may have been
    /// taken by an earlier item, an error already reported).
    fn check_main(&mut self, entry_file: FileId, main_defined: bool) {
        match self.mods.first().and_then(|m| m.funcs.get("main")).copied() {
            None if main_defined => {}
            None => self.error(Span::new(entry_file, 0, 0), "no main function"),
            Some(id) => {
                self.info.main = id;
                let fi = &self.info.funcs[id as usize];
                let bad_params = !fi.params.is_empty();
                let bad_ret = !matches!(fi.ret, Type::Int | Type::Void | Type::Error);
                let ret = self.tn(&fi.ret);
                // Point at the definition of main.
                let span = self.func_meta[id as usize].span;
                if bad_params {
                    self.error(span, "'main' must not take parameters");
                }
                if bad_ret {
                    self.error(span, format!("'main' must return int or void, not {ret}"));
                }
            }
        }
    }

    // ---- locals and name lookup ---------------------------------------------------------

    fn ctx(&mut self) -> &mut FnCtx {
        if self.ctxs.is_empty() {
            self.ctxs.push(FnCtx::new(Type::Void));
        }
        let n = self.ctxs.len() - 1;
        &mut self.ctxs[n]
    }

    /// A local that no name refers to (a `for` loop's element before it is
    /// destructured); `what` only names it in the local table.
    fn declare_hidden_local(&mut self, what: &ast::Ident, ty: Type) -> LocalId {
        let ctx = self.ctx();
        let id = ctx.locals.len() as LocalId;
        ctx.locals.push(LocalInfo {
            name: what.name.clone(),
            ty,
            span: what.span,
            captured: false,
            reassigned: false,
            cellable: false,
        });
        id
    }

    /// `name`, a local of an enclosing function, used inside the current lambda:
    /// every lambda between them gets a local standing for it (bound in its
    /// outermost scope, so later uses find it), recorded as a capture. Returns the
    /// current lambda's local and its type.
    fn capture(&mut self, name: &str) -> Option<(LocalId, Type)> {
        let n = self.ctxs.len();
        let k = (0..n.saturating_sub(1))
            .rev()
            .find(|&k| self.ctxs[k].find(name).is_some())?;
        let mut outer = self.ctxs[k].find(name)?;
        self.ctxs[k].locals[outer as usize].captured = true;
        let ty = self.ctxs[k].locals[outer as usize].ty.clone();
        let span = self.ctxs[k].locals[outer as usize].span;
        for j in k + 1..n {
            let ctx = &mut self.ctxs[j];
            let inner = match ctx.captures.iter().find(|(o, _)| *o == outer) {
                Some(&(_, inner)) => inner,
                None => {
                    let inner = ctx.locals.len() as LocalId;
                    ctx.locals.push(LocalInfo {
                        name: name.to_string(),
                        ty: ty.clone(),
                        span,
                        captured: j + 1 < n,
                        reassigned: false,
                        cellable: false,
                    });
                    ctx.captures.push((outer, inner));
                    if let Some(scope) = ctx.scopes.first_mut() {
                        scope.push(name.to_string());
                        ctx.visible.entry(name.to_string()).or_default().insert(0, inner);
                    }
                    inner
                }
            };
            if j + 1 < n {
                ctx.locals[inner as usize].captured = true;
            }
            outer = inner;
        }
        Some((outer, ty))
    }

    /// A captured variable assigned after its declaration lives in a cell; only a
    /// `let` variable or a parameter can (the others are bound anew by their loop
    /// or `catch`): report the others once the function is checked.
    fn check_captured_assignments(&mut self, locals: &[LocalInfo]) {
        for l in locals {
            if l.captured && l.reassigned && !l.cellable {
                let msg = format!(
                    "'{}' is used by a lambda, so it cannot be assigned here: a loop or catch variable is a new variable each time; copy it into a 'let' variable to change it",
                    l.name
                );
                self.error(l.span, msg);
            }
        }
    }

    /// Declare a local in the innermost scope of the current function; a name that
    /// is already visible (local, parameter, global of the module) is an error, but
    /// the local is created anyway so that ids stay consistent.
    fn declare_local(&mut self, name: &ast::Ident, ty: Type) -> LocalId {
        let visible =
            self.ctx().find(&name.name).is_some() || self.mods[self.cur].globals.contains_key(&name.name);
        if visible {
            self.error(name.span, format!("duplicate symbol '{}'", name.name));
        }
        let id = self.declare_hidden_local(name, ty);
        self.ctx().bind(&name.name, id);
        id
    }

    fn push_scope(&mut self) {
        self.ctx().scopes.push(Vec::new());
    }

    fn pop_scope(&mut self) {
        self.ctx().pop_scope();
    }

    fn lookup_var(&self, name: &str) -> VarLookup {
        if let Some(ctx) = self.ctxs.last() {
            if let Some(id) = ctx.find(name) {
                return VarLookup::Local(id, ctx.locals[id as usize].ty.clone());
            }
        }
        let n = self.ctxs.len();
        for ctx in self.ctxs[..n.saturating_sub(1)].iter().rev() {
            if let Some(id) = ctx.find(name) {
                return VarLookup::Captured(ctx.locals[id as usize].ty.clone());
            }
        }
        if let Some(&gid) = self.mods[self.cur].globals.get(name) {
            if let Some(limit) = self.global_limit {
                if self
                    .global_meta
                    .get(gid as usize)
                    .is_some_and(|m| m.order >= limit)
                {
                    return VarLookup::LaterGlobal;
                }
            }
            return VarLookup::Global(gid, self.info.globals[gid as usize].ty.clone());
        }
        VarLookup::NotFound
    }

    /// A function callable by its plain name in the current module.
    fn lookup_func(&self, name: &str) -> Option<u32> {
        let m = &self.mods[self.cur];
        m.funcs.get(name).or_else(|| m.selective.get(name)).copied()
    }
}

fn modules_index(mods: &[ModScope], name: &str) -> Option<usize> {
    mods.iter().position(|m| m.name == name)
}

/// Map keys must be hashable scalars (LANGUAGE.md §4.8).
/// Scalars, strings and tuples of them: the immutable types, which hash by value.
fn valid_map_key(t: &Type) -> bool {
    match t {
        Type::Int | Type::Float | Type::Bool | Type::Str | Type::Error => true,
        Type::Tuple(ts) => ts.iter().all(valid_map_key),
        _ => false,
    }
}

// ---- "definitely returns" analysis ----------------------------------------------------

/// Whether running the block can never reach its end (every path returns or throws).
fn block_returns(b: &Block) -> bool {
    b.stmts.iter().any(stmt_returns)
}

fn stmt_returns(s: &ast::Stmt) -> bool {
    match &s.kind {
        StmtKind::Return(_) | StmtKind::Throw(_) => true,
        StmtKind::If { branches, else_block } => {
            else_block.as_ref().is_some_and(block_returns) && branches.iter().all(|(_, b)| block_returns(b))
        }
        StmtKind::Match { cases, default, .. } => {
            default.as_ref().is_some_and(block_returns) && cases.iter().all(|(_, b)| block_returns(b))
        }
        StmtKind::Try { body, catch, finally } => {
            finally.as_ref().is_some_and(block_returns)
                || (block_returns(body) && catch.as_ref().is_none_or(|c| block_returns(&c.body)))
        }
        // `while true:` without a `break` only ends by returning or throwing.
        StmtKind::While { cond, body } => {
            matches!(cond.kind, ast::ExprKind::Bool(true)) && !block_breaks(body)
        }
        _ => false,
    }
}

/// Whether the block contains a `break` that leaves the loop whose body it is.
fn block_breaks(b: &Block) -> bool {
    b.stmts.iter().any(|s| match &s.kind {
        StmtKind::Break => true,
        StmtKind::If { branches, else_block } => {
            branches.iter().any(|(_, b)| block_breaks(b)) || else_block.as_ref().is_some_and(block_breaks)
        }
        StmtKind::Match { cases, default, .. } => {
            cases.iter().any(|(_, b)| block_breaks(b)) || default.as_ref().is_some_and(block_breaks)
        }
        StmtKind::Try { body, catch, finally } => {
            block_breaks(body)
                || catch.as_ref().is_some_and(|c| block_breaks(&c.body))
                || finally.as_ref().is_some_and(block_breaks)
        }
        _ => false,
    })
}
