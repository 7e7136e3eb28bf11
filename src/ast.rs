//! Abstract syntax tree produced by the parser and annotated in place by the type
//! checker (`ty` fields and resolutions), then read by the register compiler.
//!
//! Every node carries a [`Span`]. Annotation fields start as their `Default`
//! (`Type::Unknown`, `Res::Unresolved`, ...) and are filled by `types::check`.

use crate::types::Type;

/// Index of a source file in the [`crate::diag::SourceMap`].
pub type FileId = u32;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub lo: u32,
    pub hi: u32,
}

impl Span {
    pub fn new(file: FileId, lo: u32, hi: u32) -> Span {
        Span { file, lo, hi }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed source file.
#[derive(Clone, Debug, Default)]
pub struct Module {
    /// Module name (file stem); the entry module is named after its file too.
    pub name: String,
    pub file: FileId,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug)]
pub enum Item {
    Func(FuncDef),
    Struct(StructDef),
    Enum(EnumDef),
    Class(ClassDef),
    Global(GlobalLet),
    Import(Import),
    Extern(ExternDecl),
}

#[derive(Clone, Debug)]
pub struct FuncDef {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub body: Block,
    pub exported: bool,
    /// Span of the `def ... :` header.
    pub span: Span,
    /// Filled by the checker: the function's index in the program's function table.
    pub func_id: u32,
    /// Filled by the checker: the type of every local (indexed by `LocalId`).
    pub locals: Vec<LocalInfo>,
}

/// A declared local variable (parameter, `let`, loop variable, catch variable).
#[derive(Clone, Debug)]
pub struct LocalInfo {
    pub name: String,
    pub ty: Type,
    pub span: Span,
    /// A lambda uses it (filled by the checker).
    pub captured: bool,
    /// An assignment `name = ...` changes it after its declaration.
    pub reassigned: bool,
    /// Declared by `let name` or as a parameter (the declarations a captured
    /// variable may be assigned after: the compiler keeps it in a cell).
    pub cellable: bool,
}

pub type LocalId = u32;

#[derive(Clone, Debug)]
pub struct Param {
    pub name: Ident,
    /// `None` only for a bare `self` parameter of a method.
    pub ty: Option<TypeExpr>,
    /// Filled by the checker (parameters are locals 0..n in order).
    pub local: LocalId,
}

#[derive(Clone, Debug)]
pub struct StructDef {
    pub name: Ident,
    pub fields: Vec<FieldDecl>,
    pub methods: Vec<FuncDef>,
    pub decorators: Vec<Ident>,
    pub exported: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct FieldDecl {
    pub name: Ident,
    pub ty: TypeExpr,
}

#[derive(Clone, Debug)]
pub struct EnumDef {
    pub name: Ident,
    /// Variant name and optional explicit value (`= INT`).
    pub variants: Vec<(Ident, Option<i64>)>,
    pub exported: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ClassDef {
    pub name: Ident,
    pub parent: Option<Ident>,
    pub fields: Vec<FieldDecl>,
    pub methods: Vec<FuncDef>,
    pub exported: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct GlobalLet {
    pub name: Ident,
    pub ty: TypeExpr,
    pub init: Expr,
    pub exported: bool,
    pub span: Span,
    /// Filled by the checker: index in the program's global table.
    pub global_id: u32,
}

#[derive(Clone, Debug)]
pub struct Import {
    pub module: Ident,
    pub alias: Option<Ident>,
    /// `import m (a, b)`: names made callable unqualified.
    pub names: Vec<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ExternDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub library: String,
    pub symbol: Option<String>,
    pub exported: bool,
    pub span: Span,
}

/// A type as written in the source.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExprKind {
    /// `int`, `float`, `bool`, `str`, `void`, `ptr`, `i8`..`u64`, or a struct/class/enum name.
    Named(String),
    Array(Box<TypeExpr>),
    Map(Box<TypeExpr>, Box<TypeExpr>),
    Tuple(Vec<TypeExpr>),
    Fn(Vec<TypeExpr>, Box<TypeExpr>),
    /// `chan[T]`: a channel of `T` values.
    Chan(Box<TypeExpr>),
    /// `T?`: a `T` or `null`.
    Nullable(Box<TypeExpr>),
}

/// The body of a function value: a lambda's expression, or the statements of a
/// `def` nested in a function body.
#[derive(Clone, Debug)]
pub enum LambdaBody {
    Expr(Box<Expr>),
    Block(Block),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

/// A destructuring pattern: the target of `let (a, (b, _)): T = e` and of
/// `for (k, v) in xs:`.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// Binds the element to a new local (`local` is set by the checker).
    Var { name: Ident, local: LocalId },
    /// `_`: the element is not bound.
    Ignore(Span),
    /// `(p0, p1, ...)`: the element is a tuple with as many elements.
    Tuple { elems: Vec<Pattern>, span: Span },
}

impl Pattern {
    /// Call `f` with every variable the pattern binds, left to right.
    pub fn for_each_var(&self, f: &mut impl FnMut(&Ident, LocalId)) {
        match self {
            Pattern::Var { name, local } => f(name, *local),
            Pattern::Ignore(_) => {}
            Pattern::Tuple { elems, .. } => elems.iter().for_each(|p| p.for_each_var(f)),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    /// `let name: ty = init`
    Let {
        name: Ident,
        ty: TypeExpr,
        init: Expr,
        local: LocalId,
    },
    /// `let (a, (b, _)): ty = init`: the tuple `init` destructured into new locals
    /// (`pattern` is a [`Pattern::Tuple`]).
    LetTuple {
        pattern: Pattern,
        ty: TypeExpr,
        init: Expr,
    },
    /// `target = value`; `target` is a `Name`, `Index` or `Field` expression.
    Assign {
        target: Expr,
        value: Expr,
    },
    Expr(Expr),
    /// `if c: ... elif c: ... else: ...` — `branches` holds the `if` and every `elif`.
    If {
        branches: Vec<(Expr, Block)>,
        else_block: Option<Block>,
    },
    While {
        cond: Expr,
        body: Block,
    },
    /// `for var in range(start, end):`
    ForRange {
        var: Ident,
        start: Expr,
        end: Expr,
        body: Block,
        local: LocalId,
    },
    /// `for var in iter:` over an array (elements) or a map (keys). With a
    /// `pattern` (`for (k, v) in pairs:`), `var` names a hidden local that holds
    /// the element, which is destructured into the pattern's locals before the body.
    ForIn {
        var: Ident,
        pattern: Option<Pattern>,
        iter: Expr,
        body: Block,
        local: LocalId,
    },
    /// `match subject:` with `case expr:` arms and an optional `default:`.
    Match {
        subject: Expr,
        cases: Vec<(Expr, Block)>,
        default: Option<Block>,
    },
    /// `try:` block, optional `catch [name]:`, optional `finally:`.
    Try {
        body: Block,
        catch: Option<CatchClause>,
        finally: Option<Block>,
    },
    Throw(Expr),
    /// `assert cond` or `assert cond, message`: raises `assertion failed: message`
    /// (without a message, the condition's source text) when `cond` is false.
    Assert {
        cond: Expr,
        message: Option<Expr>,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    Pass,
    /// `def name(params) -> R:` inside a function body: a local `name` holding the
    /// function value `func` (an [`ExprKind::Lambda`] with a block body), declared
    /// before the body is checked so that the function can call itself.
    Def {
        name: Ident,
        func: Box<Expr>,
        local: LocalId,
    },
}

#[derive(Clone, Debug)]
pub struct CatchClause {
    pub name: Option<Ident>,
    pub body: Block,
    /// Filled by the checker when `name` is present.
    pub local: LocalId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            And => "and",
            Or => "or",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            Shl => "<<",
            Shr => ">>",
        }
    }
}

/// One piece of an f-string.
#[derive(Clone, Debug)]
pub enum FStrPart {
    Lit(Vec<u8>),
    Expr(Expr),
}

/// What a name or callee refers to; filled by the checker.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Res {
    #[default]
    Unresolved,
    Local(LocalId),
    Global(u32),
    /// A user function (also methods and lambdas after lifting), by function id.
    Func(u32),
    /// A runtime builtin, by its index in the runtime's builtin table.
    Builtin(u32),
    /// A compiler-handled builtin (`print`, `to_str`, `typeof`, `len`, ...), by name.
    Intrinsic(&'static str),
    /// An `extern fn`, by index in the program's extern table.
    Extern(u32),
    /// A method of a class that a subclass overrides: dispatched on the receiver's
    /// runtime class through method-table slot `slot`.
    Virtual(u32),
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// Filled by the checker.
    pub ty: Type,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr {
            kind,
            span,
            ty: Type::Unknown,
        }
    }
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A string literal's bytes (escapes already processed).
    Str(Vec<u8>),
    FString(Vec<FStrPart>),
    Name {
        name: Ident,
        res: Res,
    },
    Array(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    /// `(a, b, ...)`; the checker may retype a tuple literal as an array literal when an
    /// array is expected (programs of the original use tuples as arrays).
    Tuple(Vec<Expr>),
    /// `Name{field: e, ...}` in the order written; `struct_id` and `field_index` are
    /// filled by the checker.
    StructLit {
        name: Ident,
        fields: Vec<(Ident, Expr)>,
        struct_id: u32,
        field_index: Vec<u32>,
    },
    Unary {
        op: UnOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `base.field`; `field_index` filled by the checker (struct field position or
    /// tuple element). `E.V` on an enum is rewritten by the checker to `Int`.
    Field {
        base: Box<Expr>,
        field: Ident,
        field_index: u32,
    },
    /// `name(args)`; `res` says what `name` is.
    Call {
        callee: Ident,
        args: Vec<Expr>,
        res: Res,
    },
    /// `callee(args)` where the callee is an expression other than a name
    /// (`make_adder(1)(2)`, `fs[0](x)`): a call of a function value.
    CallValue {
        callee: Box<Expr>,
        args: Vec<Expr>,
    },
    /// `receiver.method(args)`: a method call, or `module.func(args)` (the checker
    /// resolves `res`; for a module call `receiver` is a bare module name).
    MethodCall {
        receiver: Box<Expr>,
        method: Ident,
        args: Vec<Expr>,
        res: Res,
    },
    /// `fn(params) -> ret: body`; filled by the checker: `func_id` of the lifted
    /// function and the lambda's own locals (its parameters).
    Lambda {
        params: Vec<Param>,
        ret: TypeExpr,
        body: LambdaBody,
        func_id: u32,
        locals: Vec<LocalInfo>,
        /// Filled by the checker: the variables of the enclosing function (or
        /// lambda) the lambda uses, as (local of the enclosing one, the lambda's
        /// own local that stands for it), in the order of the closure's captures.
        captures: Vec<(LocalId, LocalId)>,
    },
    /// `new Name(args)`: allocates an instance of class `class_id` (filled by the
    /// checker) and calls its `__init__` (`init`, own or inherited) with `args`.
    New {
        class: Ident,
        args: Vec<Expr>,
        class_id: u32,
        init: Option<u32>,
    },
    /// `super.m(args)` (`super(args)` means `super.__init__(args)`): a direct call
    /// of the parent class's implementation `func_id` (filled by the checker) with
    /// `self` as the receiver.
    Super {
        method: Option<Ident>,
        args: Vec<Expr>,
        func_id: u32,
    },
    SelfRef,
    /// `null`: the reference that refers to nothing (type `Null`, accepted where a
    /// `T?` is expected).
    Null,
    /// `e is C`: whether `e` refers to an instance of class `C` or of a subclass
    /// (false for null); `class_id` is filled by the checker.
    Is {
        expr: Box<Expr>,
        class: Ident,
        class_id: u32,
    },
    /// `e as C`: `e` seen as a `C`; raises when it is not an instance of `C` (or
    /// of a subclass), null included.
    As {
        expr: Box<Expr>,
        class: Ident,
        class_id: u32,
    },
    /// `obj.m` without a call (set by the checker for a field access that names a
    /// method): a function value that calls `m` on the object `receiver` had then.
    /// `func_id` is the bound-method function ([`crate::types::BoundMethod`]).
    BoundMethod {
        receiver: Box<Expr>,
        method: Ident,
        func_id: u32,
    },
    /// Inserted by the checker where a `T?` is used as a `T`: raises `message` when
    /// `inner` is null, else is `inner`.
    NonNull {
        inner: Box<Expr>,
        message: String,
    },
}
