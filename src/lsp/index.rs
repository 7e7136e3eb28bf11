//! What an editor asks about a checked program, derived from the annotated AST
//! after checking (no hooks in the checker): the definitions (name, kind, where),
//! every reference (a span and what it names, declarations included), the type of
//! every expression of the file being edited, and where each local is visible.
//!
//! A struct, an enum and a class are each one kind of [`Def`] whose members
//! (fields, methods, enum members) are defs with that parent, so a class is one
//! more kind of item: its fields and methods resolve through `Type::Class` the
//! way a struct's do through `Type::Struct`.

use crate::ast::{
    self, Block, Expr, ExprKind, FuncDef, Item, LocalId, LocalInfo, Pattern, Res, Span, Stmt, StmtKind,
    TypeExpr, TypeExprKind,
};
use crate::diag::SourceMap;
use crate::types::{ProgramInfo, Type, TypeDisplay};
use std::collections::HashMap;

pub type DefId = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefKind {
    Module,
    Function,
    Method,
    Extern,
    Struct,
    Class,
    Field,
    Enum,
    EnumMember,
    Global,
    Param,
    Local,
}

impl DefKind {
    /// How hover names it.
    pub fn describe(self) -> &'static str {
        match self {
            DefKind::Module => "module",
            DefKind::Function => "function",
            DefKind::Method => "method",
            DefKind::Extern => "extern function",
            DefKind::Struct => "struct",
            DefKind::Class => "class",
            DefKind::Field => "field",
            DefKind::Enum => "enum",
            DefKind::EnumMember => "enum member",
            DefKind::Global => "global",
            DefKind::Param => "parameter",
            DefKind::Local => "local variable",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Def {
    pub name: String,
    pub kind: DefKind,
    /// The name where it is declared (a module: the start of its file).
    pub span: Span,
    /// The whole declaration (document symbols).
    pub full: Span,
    /// What hover and completion show: `def f(a: int) -> int`, `x: int`.
    pub detail: String,
    /// The struct, class or enum a field, method or member belongs to.
    pub parent: Option<DefId>,
    /// The value's type (variables, fields; functions: their `fn` type).
    pub ty: Type,
    /// Parameter names and types as shown (functions), for signature help.
    pub params: Vec<String>,
    /// Locals: the byte range of their file where the name is visible.
    pub scope: Option<(u32, u32)>,
    /// Locals: the indentation of the line that declares them.
    pub indent: u32,
    /// Top-level items: `export`ed (what `m.` offers from another module).
    pub exported: bool,
}

/// What a reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Def(DefId),
    /// A runtime builtin by id.
    Builtin(u32),
    /// `print` or `typeof`.
    Intrinsic(&'static str),
}

#[derive(Clone, Debug)]
pub struct Ref {
    pub span: Span,
    pub target: Target,
}

#[derive(Default)]
pub struct Index {
    pub defs: Vec<Def>,
    /// Every use of a name, declarations included.
    pub refs: Vec<Ref>,
    /// The type of every expression of the entry file (module 0).
    pub types: Vec<(Span, Type)>,
    /// Each module's top-level names.
    pub items: Vec<HashMap<String, DefId>>,
    /// Each module's def (index = module index).
    pub modules: Vec<DefId>,
    /// Each module's imports: alias -> module index.
    pub imports: Vec<HashMap<String, usize>>,
    /// Each module's names imported unqualified (`import m (f)`).
    pub unqualified: Vec<HashMap<String, DefId>>,
    /// The checker's tables (to print types).
    pub info: ProgramInfo,
    /// The members of each struct, class and enum, in declaration order.
    children: HashMap<DefId, Vec<DefId>>,
    /// (type def, member name) -> member (the first of that name).
    member_names: HashMap<(DefId, String), DefId>,
    funcs: HashMap<u32, DefId>,
    globals: HashMap<u32, DefId>,
    externs: Vec<DefId>,
    structs: HashMap<u32, DefId>,
    classes: HashMap<u32, DefId>,
    /// Class def -> the def of the class it extends.
    bases: HashMap<DefId, DefId>,
}

/// Most classes followed up an inheritance chain (the checker reports a cycle;
/// this only bounds the walk).
const MAX_INHERITANCE: usize = 100;

impl Index {
    pub fn build(modules: &[ast::Module], info: ProgramInfo, sources: &SourceMap) -> Index {
        let mut ix = Index {
            info,
            ..Index::default()
        };
        for m in modules {
            let path = sources.files.get(m.file as usize).map_or("", |f| f.path.as_str());
            let def = ix.add(Def::new(
                &m.name,
                DefKind::Module,
                Span::new(m.file, 0, 0),
                format!("module {} ({path})", m.name),
            ));
            ix.modules.push(def);
            ix.items.push(HashMap::new());
            ix.imports.push(HashMap::new());
            ix.unqualified.push(HashMap::new());
        }
        for (mi, m) in modules.iter().enumerate() {
            ix.declare_items(mi, m, modules);
        }
        for (mi, m) in modules.iter().enumerate() {
            ix.link_classes(mi, m);
        }
        for (mi, m) in modules.iter().enumerate() {
            let text = sources.files.get(m.file as usize).map_or("", |f| f.text.as_str());
            let mut w = Walker {
                ix: &mut ix,
                mi,
                text,
                frames: Vec::new(),
            };
            w.module(m);
        }
        ix
    }

    fn add(&mut self, def: Def) -> DefId {
        let id = self.defs.len();
        if def.kind != DefKind::Module {
            self.refs.push(Ref {
                span: def.span,
                target: Target::Def(id),
            });
        }
        if let Some(parent) = def.parent {
            self.children.entry(parent).or_default().push(id);
            self.member_names.entry((parent, def.name.clone())).or_insert(id);
        }
        self.defs.push(def);
        id
    }

    fn show(&self, ty: &Type, mi: usize) -> String {
        TypeDisplay {
            ty,
            info: Some(&self.info),
            here: Some(mi),
        }
        .to_string()
    }

    /// `name(a: int, b: str) -> R` from the written parameter names and the
    /// checked types.
    fn signature(
        &self,
        name: &str,
        params: &[ast::Param],
        types: &[Type],
        ret: &Type,
        mi: usize,
    ) -> (String, Vec<String>) {
        let shown: Vec<String> = params
            .iter()
            .enumerate()
            .map(|(i, p)| match (p.ty.is_some(), types.get(i)) {
                (true, Some(t)) => format!("{}: {}", p.name.name, self.show(t, mi)),
                _ => p.name.name.clone(),
            })
            .collect();
        (
            format!("{name}({}) -> {}", shown.join(", "), self.show(ret, mi)),
            shown,
        )
    }

    fn declare_func(
        &mut self,
        mi: usize,
        f: &FuncDef,
        kind: DefKind,
        parent: Option<DefId>,
        owner: &str,
    ) -> DefId {
        let (params, ret) = match self.info.funcs.get(f.func_id as usize) {
            Some(fi) => (fi.params.clone(), fi.ret.clone()),
            None => (Vec::new(), Type::Error),
        };
        let shown_name = if owner.is_empty() {
            f.name.name.clone()
        } else {
            format!("{owner}.{}", f.name.name)
        };
        let (sig, shown) = self.signature(&shown_name, &f.params, &params, &ret, mi);
        let mut def = Def::new(&f.name.name, kind, f.name.span, format!("def {sig}"));
        def.full = f.span.to(f.body.span);
        def.parent = parent;
        def.ty = Type::Fn(params, Box::new(ret));
        def.params = shown;
        def.exported = f.exported;
        self.add(def)
    }

    /// Register the top-level items of module `mi` and their members.
    fn declare_items(&mut self, mi: usize, m: &ast::Module, modules: &[ast::Module]) {
        for item in &m.items {
            match item {
                Item::Func(f) => {
                    let id = self.declare_func(mi, f, DefKind::Function, None, "");
                    self.funcs.insert(f.func_id, id);
                    self.items[mi].entry(f.name.name.clone()).or_insert(id);
                }
                Item::Struct(s) => {
                    let sid = find_type(
                        &self.info.structs,
                        |t| (t.module, t.name.as_str()),
                        mi,
                        &s.name.name,
                    );
                    let id = self.declare_type(
                        mi,
                        DefKind::Struct,
                        &s.name,
                        s.span,
                        &s.fields,
                        &s.methods,
                        sid,
                        s.exported,
                    );
                    if let Some(sid) = sid {
                        self.structs.entry(sid).or_insert(id);
                    }
                }
                Item::Class(c) => {
                    let cid = find_type(
                        &self.info.classes,
                        |t| (t.module, t.name.as_str()),
                        mi,
                        &c.name.name,
                    );
                    let id = self.declare_type(
                        mi,
                        DefKind::Class,
                        &c.name,
                        c.span,
                        &c.fields,
                        &c.methods,
                        cid,
                        c.exported,
                    );
                    if let Some(cid) = cid {
                        self.classes.entry(cid).or_insert(id);
                    }
                }
                Item::Enum(e) => self.declare_enum(mi, e),
                Item::Global(g) => {
                    let ty = self
                        .info
                        .globals
                        .get(g.global_id as usize)
                        .map_or(Type::Error, |gi| gi.ty.clone());
                    let mut def = Def::new(
                        &g.name.name,
                        DefKind::Global,
                        g.name.span,
                        format!("let {}: {}", g.name.name, self.show(&ty, mi)),
                    );
                    def.full = g.span;
                    def.ty = ty;
                    def.exported = g.exported;
                    let id = self.add(def);
                    self.globals.insert(g.global_id, id);
                    self.items[mi].entry(g.name.name.clone()).or_insert(id);
                }
                Item::Extern(x) => {
                    let xi = self.info.externs.get(self.externs.len()).cloned();
                    let (params, ret) = xi.map_or((Vec::new(), Type::Error), |x| (x.params, x.ret));
                    let (sig, shown) = self.signature(&x.name.name, &x.params, &params, &ret, mi);
                    let mut def = Def::new(
                        &x.name.name,
                        DefKind::Extern,
                        x.name.span,
                        format!("extern def {sig}"),
                    );
                    def.full = x.span;
                    def.ty = Type::Fn(params, Box::new(ret));
                    def.params = shown;
                    def.exported = x.exported;
                    let id = self.add(def);
                    self.externs.push(id);
                    self.items[mi].entry(x.name.name.clone()).or_insert(id);
                }
                Item::Import(imp) => {
                    let Some(target) = modules.iter().position(|t| t.name == imp.module.name) else {
                        continue;
                    };
                    let alias = imp.alias.as_ref().unwrap_or(&imp.module);
                    self.imports[mi].insert(alias.name.clone(), target);
                    let module_def = self.modules[target];
                    self.refs.push(Ref {
                        span: imp.module.span,
                        target: Target::Def(module_def),
                    });
                }
            }
        }
    }

    /// A struct or class with its fields and methods. `tid`: its id in the
    /// checker's table, when it has one.
    #[allow(clippy::too_many_arguments)]
    fn declare_type(
        &mut self,
        mi: usize,
        kind: DefKind,
        name: &ast::Ident,
        span: Span,
        fields: &[ast::FieldDecl],
        methods: &[FuncDef],
        tid: Option<u32>,
        exported: bool,
    ) -> DefId {
        let word = if kind == DefKind::Class { "class" } else { "struct" };
        let checked: Vec<(String, Type)> = match (kind, tid) {
            (DefKind::Class, Some(t)) => self.info.classes.get(t as usize).map(|c| c.fields.clone()),
            (_, Some(t)) => self.info.structs.get(t as usize).map(|s| s.fields.clone()),
            _ => None,
        }
        .unwrap_or_default();
        let mut full = span;
        let field_lines: Vec<String> = fields
            .iter()
            .map(|fd| {
                let ty = field_type(&checked, &fd.name.name);
                format!("    {}: {}", fd.name.name, self.show(&ty, mi))
            })
            .collect();
        let mut def = Def::new(
            &name.name,
            kind,
            name.span,
            format!("{word} {}:\n{}", name.name, field_lines.join("\n")),
        );
        def.exported = exported;
        def.ty = match (kind, tid) {
            (DefKind::Struct, Some(t)) => Type::Struct(t),
            (DefKind::Class, Some(t)) => Type::Class(t),
            _ => Type::Error,
        };
        let id = self.add(def);
        self.items[mi].entry(name.name.clone()).or_insert(id);
        for fd in fields {
            let ty = field_type(&checked, &fd.name.name);
            let detail = format!("{}.{}: {}", name.name, fd.name.name, self.show(&ty, mi));
            let mut f = Def::new(&fd.name.name, DefKind::Field, fd.name.span, detail);
            f.full = fd.name.span.to(fd.ty.span);
            full = full.to(f.full);
            f.parent = Some(id);
            f.ty = ty;
            self.add(f);
        }
        for meth in methods {
            let mid = self.declare_func(mi, meth, DefKind::Method, Some(id), &name.name);
            full = full.to(self.defs[mid].full);
            if tid.is_some() {
                self.funcs.insert(meth.func_id, mid);
            }
        }
        self.defs[id].full = full;
        id
    }

    /// Record the class each class of module `mi` extends.
    fn link_classes(&mut self, mi: usize, m: &ast::Module) {
        for item in &m.items {
            let Item::Class(c) = item else { continue };
            let (Some(&id), Some(parent)) = (self.items[mi].get(&c.name.name), &c.parent) else {
                continue;
            };
            let by_checker = find_type(
                &self.info.classes,
                |t| (t.module, t.name.as_str()),
                mi,
                &c.name.name,
            )
            .and_then(|cid| self.info.classes.get(cid as usize)?.parent)
            .and_then(|p| self.classes.get(&p).copied());
            let base = by_checker.or_else(|| self.item_named(mi, &parent.name));
            if let Some(base) = base.filter(|&b| self.defs[b].kind == DefKind::Class && b != id) {
                self.bases.insert(id, base);
            }
        }
    }

    /// The top-level item `name` of module `mi`, or `m.name` of a module it imports.
    pub fn item_named(&self, mi: usize, name: &str) -> Option<DefId> {
        match name.split_once('.') {
            Some((module, rest)) => {
                let &target = self.imports.get(mi)?.get(module)?;
                self.items.get(target)?.get(rest).copied()
            }
            None => self.items.get(mi)?.get(name).copied(),
        }
    }

    fn declare_enum(&mut self, mi: usize, e: &ast::EnumDef) {
        let mut def = Def::new(
            &e.name.name,
            DefKind::Enum,
            e.name.span,
            format!("enum {}", e.name.name),
        );
        def.full = e.span;
        def.exported = e.exported;
        def.ty = Type::Int;
        let id = self.add(def);
        self.items[mi].entry(e.name.name.clone()).or_insert(id);
        let mut next: i64 = 0;
        for (v, explicit) in &e.variants {
            let value = explicit.unwrap_or(next);
            next = value.wrapping_add(1);
            let mut m = Def::new(
                &v.name,
                DefKind::EnumMember,
                v.span,
                format!("{}.{} = {value}", e.name.name, v.name),
            );
            m.parent = Some(id);
            m.ty = Type::Int;
            let mid = self.add(m);
            self.defs[id].full = self.defs[id].full.to(self.defs[mid].span);
        }
    }

    /// The struct or class def of values of type `ty`.
    pub fn type_def(&self, ty: &Type) -> Option<DefId> {
        match ty.non_null() {
            Type::Struct(sid) => self.structs.get(sid).copied(),
            Type::Class(cid) => self.classes.get(cid).copied(),
            _ => None,
        }
    }

    /// Member `name` (field, method, enum member) of the type def `parent`; for a
    /// class, its own or else inherited.
    pub fn member(&self, parent: DefId, name: &str) -> Option<DefId> {
        self.lineage(parent)
            .find_map(|d| self.member_names.get(&(d, name.to_string())).copied())
    }

    /// The members declared by a struct, class or enum, in declaration order.
    pub fn members(&self, parent: DefId) -> &[DefId] {
        self.children.get(&parent).map_or(&[], Vec::as_slice)
    }

    /// The members a value of the type def `parent` has: its own, then those it
    /// inherits that it does not redefine.
    pub fn all_members(&self, parent: DefId) -> Vec<DefId> {
        let mut seen = std::collections::HashSet::new();
        let mut found = Vec::new();
        for d in self.lineage(parent) {
            for &m in self.members(d) {
                if seen.insert(self.defs[m].name.as_str()) {
                    found.push(m);
                }
            }
        }
        found
    }

    /// `def` and the classes it extends, nearest first.
    fn lineage(&self, def: DefId) -> impl Iterator<Item = DefId> + '_ {
        std::iter::successors(Some(def), |d| self.bases.get(d).copied()).take(MAX_INHERITANCE)
    }

    /// The reference under byte `offset` of `file` (a cursor just after a name
    /// still counts); the innermost one when several contain it.
    pub fn ref_at(&self, file: u32, offset: u32) -> Option<&Ref> {
        self.refs
            .iter()
            .filter(|r| {
                r.span.file == file && r.span.lo <= offset && offset <= r.span.hi && r.span.lo < r.span.hi
            })
            .min_by_key(|r| r.span.hi - r.span.lo)
    }

    /// The innermost expression of the entry file around `offset`, with its type.
    pub fn type_at(&self, offset: u32) -> Option<&(Span, Type)> {
        self.types
            .iter()
            .filter(|(s, t)| s.lo <= offset && offset < s.hi && !matches!(t, Type::Unknown | Type::Error))
            .min_by_key(|(s, _)| s.hi - s.lo)
    }

    pub fn refs_to(&self, target: Target) -> impl Iterator<Item = &Ref> {
        self.refs.iter().filter(move |r| r.target == target)
    }

    /// Display a type as the entry module writes it.
    pub fn type_name(&self, ty: &Type) -> String {
        self.show(ty, 0)
    }
}

impl Def {
    fn new(name: &str, kind: DefKind, span: Span, detail: String) -> Def {
        Def {
            name: name.to_string(),
            kind,
            span,
            full: span,
            detail,
            parent: None,
            ty: Type::Error,
            params: Vec::new(),
            scope: None,
            indent: 0,
            exported: false,
        }
    }
}

/// The id of the struct or class `name` of module `mi` in a checker table, given
/// each entry's module and name.
fn find_type<T>(table: &[T], key: impl Fn(&T) -> (usize, &str), mi: usize, name: &str) -> Option<u32> {
    table.iter().position(|t| key(t) == (mi, name)).map(|i| i as u32)
}

fn field_type(checked: &[(String, Type)], name: &str) -> Type {
    checked
        .iter()
        .find(|(n, _)| n == name)
        .map_or(Type::Error, |(_, t)| t.clone())
}

/// Walks one module's bodies, recording references, types and local scopes.
struct Walker<'a> {
    ix: &'a mut Index,
    mi: usize,
    /// The module's source text (to tell written names from hidden locals).
    text: &'a str,
    /// The locals of the enclosing function and lambdas, by `LocalId`.
    frames: Vec<Vec<Option<DefId>>>,
}

impl Walker<'_> {
    fn module(&mut self, m: &ast::Module) {
        let file_end = self.text.len() as u32;
        for (i, item) in m.items.iter().enumerate() {
            let limit = m.items.get(i + 1).map_or(file_end, item_start);
            match item {
                Item::Func(f) => self.func(f, limit),
                Item::Struct(s) => self.members(&s.fields, &s.methods, limit),
                Item::Class(c) => {
                    if let Some(p) = &c.parent {
                        self.type_name(&p.name, p.span);
                    }
                    self.members(&c.fields, &c.methods, limit)
                }
                Item::Global(g) => {
                    self.type_expr(&g.ty);
                    self.frames.push(Vec::new());
                    self.expr(&g.init);
                    self.frames.pop();
                }
                Item::Extern(x) => {
                    x.params
                        .iter()
                        .filter_map(|p| p.ty.as_ref())
                        .for_each(|t| self.type_expr(t));
                    self.type_expr(&x.ret);
                }
                Item::Import(imp) => self.selective_imports(imp),
                Item::Enum(_) => {}
            }
        }
    }

    /// `import m (f, g)`: each name refers to the function of `m`.
    fn selective_imports(&mut self, imp: &ast::Import) {
        let alias = imp.alias.as_ref().unwrap_or(&imp.module);
        let Some(&target) = self.ix.imports[self.mi].get(&alias.name) else {
            return;
        };
        for n in &imp.names {
            if let Some(&def) = self.ix.items[target].get(&n.name) {
                self.reference(n.span, def);
                self.ix.unqualified[self.mi].insert(n.name.clone(), def);
            }
        }
    }

    fn members(&mut self, fields: &[ast::FieldDecl], methods: &[FuncDef], limit: u32) {
        fields.iter().for_each(|f| self.type_expr(&f.ty));
        for (i, m) in methods.iter().enumerate() {
            let end = methods.get(i + 1).map_or(limit, |n| n.span.lo);
            self.func(m, end);
        }
    }

    fn reference(&mut self, span: Span, def: DefId) {
        self.ix.refs.push(Ref {
            span,
            target: Target::Def(def),
        });
    }

    /// Defs for a function's or lambda's locals (parameters first); the name of
    /// each is a reference to it. Hidden locals (a loop's element) have no def.
    /// `captures`: (local of the enclosing frame, own local standing for it) of a
    /// lambda; the own local is the enclosing variable, not a new def.
    fn frame(
        &mut self,
        locals: &[LocalInfo],
        params: usize,
        scope: (u32, u32),
        captures: &[(LocalId, LocalId)],
    ) {
        let enclosing = self.frames.last();
        let captured: HashMap<LocalId, Option<DefId>> = captures
            .iter()
            .map(|&(outer, inner)| {
                (
                    inner,
                    enclosing.and_then(|f| f.get(outer as usize).copied().flatten()),
                )
            })
            .collect();
        let mut frame = Vec::with_capacity(locals.len());
        for (i, l) in locals.iter().enumerate() {
            if let Some(&outer) = captured.get(&(i as LocalId)) {
                frame.push(outer);
                continue;
            }
            let written = self.text.get(l.span.lo as usize..l.span.hi as usize) == Some(l.name.as_str());
            if !written {
                frame.push(None);
                continue;
            }
            let kind = if i < params {
                DefKind::Param
            } else {
                DefKind::Local
            };
            let detail = format!("{}: {}", l.name, self.ix.show(&l.ty, self.mi));
            let mut def = Def::new(&l.name, kind, l.span, detail);
            def.ty = l.ty.clone();
            def.scope = Some(scope);
            def.indent = indentation(self.text, l.span.lo);
            frame.push(Some(self.ix.add(def)));
        }
        self.frames.push(frame);
    }

    fn func(&mut self, f: &FuncDef, limit: u32) {
        for p in &f.params {
            if let Some(t) = &p.ty {
                self.type_expr(t);
            }
        }
        self.type_expr(&f.ret);
        self.frame(&f.locals, f.params.len(), (f.span.lo, limit), &[]);
        self.block(&f.body, limit);
        self.frames.pop();
    }

    /// Local `id` of the current frame is visible from `from` to `to`.
    fn scope(&mut self, id: ast::LocalId, from: u32, to: u32) {
        let def = self
            .frames
            .last()
            .and_then(|f| f.get(id as usize))
            .copied()
            .flatten();
        if let Some(def) = def {
            self.ix.defs[def].scope = Some((from, to));
        }
    }

    fn pattern(&mut self, p: &Pattern, to: u32) {
        p.for_each_var(&mut |name, local| {
            let def = self
                .frames
                .last()
                .and_then(|f| f.get(local as usize))
                .copied()
                .flatten();
            if let Some(def) = def {
                self.ix.defs[def].scope = Some((name.span.lo, to));
            }
        });
    }

    /// `limit`: where the text that may still belong to this block ends (the
    /// next statement of the enclosing block), so that a line being typed after
    /// the block's last statement still sees its locals.
    fn block(&mut self, b: &Block, limit: u32) {
        for (i, s) in b.stmts.iter().enumerate() {
            let next = b.stmts.get(i + 1).map_or(limit, |n| n.span.lo);
            self.stmt(s, next, limit);
        }
    }

    /// `next`: where the statement's own text may end; `limit`: the block's.
    fn stmt(&mut self, s: &Stmt, next: u32, limit: u32) {
        match &s.kind {
            StmtKind::Let {
                name,
                ty,
                init,
                local,
            } => {
                self.type_expr(ty);
                self.expr(init);
                self.scope(*local, name.span.lo, limit);
            }
            StmtKind::Def { name, func, local } => {
                // In scope from its name on: the body may call it.
                self.scope(*local, name.span.lo, limit);
                self.expr(func);
            }
            StmtKind::LetTuple { pattern, ty, init } => {
                self.type_expr(ty);
                self.expr(init);
                self.pattern(pattern, limit);
            }
            StmtKind::Assign { target, value } => {
                self.expr(target);
                self.expr(value);
            }
            StmtKind::Expr(e) | StmtKind::Throw(e) | StmtKind::Return(Some(e)) => self.expr(e),
            StmtKind::If { branches, else_block } => {
                for (cond, body) in branches {
                    self.expr(cond);
                    self.block(body, next);
                }
                if let Some(b) = else_block {
                    self.block(b, next);
                }
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.block(body, next);
            }
            StmtKind::ForRange {
                var,
                start,
                end,
                body,
                local,
            } => {
                self.expr(start);
                self.expr(end);
                self.scope(*local, var.span.lo, next);
                self.block(body, next);
            }
            StmtKind::ForIn {
                var,
                pattern,
                iter,
                body,
                local,
            } => {
                self.expr(iter);
                match pattern {
                    Some(p) => self.pattern(p, next),
                    None => self.scope(*local, var.span.lo, next),
                }
                self.block(body, next);
            }
            StmtKind::Match {
                subject,
                cases,
                default,
            } => {
                self.expr(subject);
                for (case, body) in cases {
                    self.expr(case);
                    self.block(body, next);
                }
                if let Some(b) = default {
                    self.block(b, next);
                }
            }
            StmtKind::Try { body, catch, finally } => {
                self.block(body, next);
                if let Some(c) = catch {
                    if let Some(name) = &c.name {
                        self.scope(c.local, name.span.lo, next);
                    }
                    self.block(&c.body, next);
                }
                if let Some(b) = finally {
                    self.block(b, next);
                }
            }
            StmtKind::Assert { cond, message } => {
                self.expr(cond);
                if let Some(m) = message {
                    self.expr(m);
                }
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) | StmtKind::Pass => {}
        }
    }

    fn type_expr(&mut self, t: &TypeExpr) {
        match &t.kind {
            TypeExprKind::Named(n) => {
                self.type_name(n, t.span);
            }
            TypeExprKind::Array(e) | TypeExprKind::Chan(e) => self.type_expr(e),
            TypeExprKind::Map(k, v) => {
                self.type_expr(k);
                self.type_expr(v);
            }
            TypeExprKind::Tuple(ts) => ts.iter().for_each(|t| self.type_expr(t)),
            TypeExprKind::Fn(ps, r) => {
                ps.iter().for_each(|t| self.type_expr(t));
                self.type_expr(r);
            }
            TypeExprKind::Nullable(t) => self.type_expr(t),
        }
    }

    /// A struct, class or enum named in a type, a literal, `new`, `is` or `as`.
    fn type_name(&mut self, name: &str, span: Span) -> Option<DefId> {
        self.named_item(name, span, |k| {
            matches!(k, DefKind::Struct | DefKind::Class | DefKind::Enum)
        })
    }

    /// The item `name` (or `m.name`, of an imported module) written at `span`,
    /// when its kind is one `wanted` accepts: a reference to it (and to the
    /// module).
    fn named_item(&mut self, name: &str, span: Span, wanted: fn(DefKind) -> bool) -> Option<DefId> {
        let def = self.ix.item_named(self.mi, name)?;
        if !wanted(self.ix.defs[def].kind) {
            return None;
        }
        let item_span = match name.split_once('.') {
            Some((module, rest)) => {
                self.module_name(
                    module,
                    Span::new(span.file, span.lo, span.lo + module.len() as u32),
                );
                Span::new(span.file, span.hi.saturating_sub(rest.len() as u32), span.hi)
            }
            None => span,
        };
        self.reference(item_span, def);
        Some(def)
    }

    /// A resolved name (`res`) written at `span`; `m.f` (a module's function used
    /// as a value) refers to the module and to the function.
    fn resolved(&mut self, name: &str, span: Span, res: &Res) {
        let span = match name.rsplit_once('.') {
            Some((module, func)) => {
                let module_span = Span::new(span.file, span.lo, span.lo + module.len() as u32);
                self.module_name(module, module_span);
                Span::new(span.file, span.hi.saturating_sub(func.len() as u32), span.hi)
            }
            None => span,
        };
        let target = match res {
            Res::Local(id) => self
                .frames
                .last()
                .and_then(|f| f.get(*id as usize))
                .copied()
                .flatten()
                .map(Target::Def),
            Res::Global(id) => self.ix.globals.get(id).copied().map(Target::Def),
            Res::Func(id) => self.ix.funcs.get(id).copied().map(Target::Def),
            Res::Extern(id) => self.ix.externs.get(*id as usize).copied().map(Target::Def),
            Res::Builtin(id) => Some(Target::Builtin(*id)),
            Res::Intrinsic(name) => Some(Target::Intrinsic(name)),
            // A dispatched method: the caller resolves it by the receiver's type.
            Res::Virtual(_) | Res::Unresolved => None,
        };
        if let Some(target) = target {
            self.ix.refs.push(Ref { span, target });
        }
    }

    /// `name` used as a module (`m` of `m.f(x)`).
    fn module_name(&mut self, name: &str, span: Span) -> bool {
        match self.ix.imports[self.mi].get(name) {
            Some(&target) => {
                let def = self.ix.modules[target];
                self.reference(span, def);
                true
            }
            None => false,
        }
    }

    /// `E.V` (or `m.E.V`) was rewritten by the checker to its value: recover the
    /// names from the text of the span.
    fn enum_member(&mut self, span: Span) {
        let Some(text) = self.text.get(span.lo as usize..span.hi as usize) else {
            return;
        };
        let Some((base, member)) = text.rsplit_once('.') else {
            return;
        };
        let (base, member) = (base.trim_end(), member.trim_start());
        let base_span = Span::new(span.file, span.lo, span.lo + base.len() as u32);
        let Some(def) = self.named_item(base, base_span, |k| k == DefKind::Enum) else {
            return;
        };
        if let Some(m) = self.ix.member(def, member) {
            self.reference(Span::new(span.file, span.hi - member.len() as u32, span.hi), m);
        }
    }

    fn expr(&mut self, e: &Expr) {
        if self.mi == 0 {
            self.ix.types.push((e.span, e.ty.clone()));
        }
        match &e.kind {
            ExprKind::Int(_) => self.enum_member(e.span),
            ExprKind::Float(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {}
            ExprKind::FString(parts) => {
                for p in parts {
                    if let ast::FStrPart::Expr(x) = p {
                        self.expr(x);
                    }
                }
            }
            ExprKind::Name { name, res } => self.resolved(&name.name, name.span, res),
            ExprKind::Array(xs) | ExprKind::Tuple(xs) => xs.iter().for_each(|x| self.expr(x)),
            ExprKind::Map(pairs) => pairs.iter().for_each(|(k, v)| {
                self.expr(k);
                self.expr(v);
            }),
            ExprKind::StructLit { name, fields, .. } => {
                let def = self.type_name(&name.name, name.span);
                for (f, value) in fields {
                    if let Some(m) = def.and_then(|d| self.ix.member(d, &f.name)) {
                        self.reference(f.span, m);
                    }
                    self.expr(value);
                }
            }
            ExprKind::Unary { operand, .. } => self.expr(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Index { base, index } => {
                self.expr(base);
                self.expr(index);
            }
            ExprKind::Field { base, field, .. } => {
                self.expr(base);
                if let Some(m) = self
                    .ix
                    .type_def(&base.ty)
                    .and_then(|d| self.ix.member(d, &field.name))
                {
                    self.reference(field.span, m);
                }
            }
            ExprKind::CallValue { callee, args } => {
                self.expr(callee);
                args.iter().for_each(|a| self.expr(a));
            }
            // `obj.m` as a value: a reference to the method.
            ExprKind::BoundMethod { receiver, method, .. } => {
                self.expr(receiver);
                if let Some(m) = self
                    .ix
                    .type_def(&receiver.ty)
                    .and_then(|d| self.ix.member(d, &method.name))
                {
                    self.reference(method.span, m);
                }
            }
            ExprKind::Call { callee, args, res } => {
                self.resolved(&callee.name, callee.span, res);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::MethodCall {
                receiver,
                method,
                args,
                res,
            } => {
                let module_call = matches!(&receiver.kind, ExprKind::Name { name, res: Res::Unresolved }
                    if receiver.ty == Type::Void && self.module_name(&name.name, name.span));
                if !module_call {
                    self.expr(receiver);
                }
                match res {
                    Res::Virtual(_) => {
                        let by_type = self.ix.type_def(&receiver.ty);
                        if let Some(m) = by_type.and_then(|d| self.ix.member(d, &method.name)) {
                            self.reference(method.span, m);
                        }
                    }
                    _ => self.resolved(&method.name, method.span, res),
                }
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::Lambda {
                params,
                ret,
                body,
                locals,
                captures,
                ..
            } => {
                params
                    .iter()
                    .filter_map(|p| p.ty.as_ref())
                    .for_each(|t| self.type_expr(t));
                self.type_expr(ret);
                let end = match body {
                    ast::LambdaBody::Expr(x) => x.span.hi.max(e.span.hi),
                    ast::LambdaBody::Block(b) => b.span.hi.max(e.span.hi),
                };
                self.frame(locals, params.len(), (e.span.lo, end), captures);
                match body {
                    ast::LambdaBody::Expr(x) => self.expr(x),
                    ast::LambdaBody::Block(b) => self.block(b, end),
                }
                self.frames.pop();
            }
            ExprKind::New { class, args, .. } => {
                self.type_name(&class.name, class.span);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::Super {
                method,
                args,
                func_id,
            } => {
                if let (Some(m), Some(&def)) = (method, self.ix.funcs.get(func_id)) {
                    self.reference(m.span, def);
                }
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::Is { expr, class, .. } | ExprKind::As { expr, class, .. } => {
                self.expr(expr);
                self.type_name(&class.name, class.span);
            }
            ExprKind::NonNull { inner, .. } => self.expr(inner),
            ExprKind::Null => {}
            ExprKind::SelfRef => {
                let def = self.frames.last().and_then(|f| f.first()).copied().flatten();
                if let Some(def) = def.filter(|&d| self.ix.defs[d].name == "self") {
                    self.reference(e.span, def);
                }
            }
        }
    }
}

/// The indentation (spaces and tabs) of the line holding byte `offset`.
fn indentation(text: &str, offset: u32) -> u32 {
    let before = text.get(..offset as usize).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    text[line_start..]
        .bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .count() as u32
}

/// Where an item's text starts (its header).
fn item_start(item: &Item) -> u32 {
    match item {
        Item::Func(f) => f.span.lo,
        Item::Struct(s) => s.span.lo,
        Item::Enum(e) => e.span.lo,
        Item::Class(c) => c.span.lo,
        Item::Global(g) => g.span.lo,
        Item::Import(i) => i.span.lo,
        Item::Extern(x) => x.span.lo,
    }
}
