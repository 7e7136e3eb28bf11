//! Static types and the type checker.
//!
//! `check::check_program` annotates the AST in place (expression types, name
//! resolutions, local tables) and returns a [`ProgramInfo`] with the program-wide
//! tables the register compiler needs.

pub mod builtin_sig;
pub mod check;

use bp_runtime::value::ValKind;
use std::fmt;

/// A BetterPython type. Types are compared structurally (LANGUAGE.md §4.2).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Type {
    /// Not yet computed (before checking).
    #[default]
    Unknown,
    /// The type of an erroneous expression; compatible with everything so that one
    /// error does not cascade.
    Error,
    Int,
    Float,
    Bool,
    Str,
    Void,
    Ptr,
    /// `i8 i16 i32 i64 u8 u16 u32 u64`: only usable in `extern` declarations.
    Fixed(&'static str),
    Array(Box<Type>),
    Map(Box<Type>, Box<Type>),
    Tuple(Vec<Type>),
    /// A struct, by id in [`ProgramInfo::structs`].
    Struct(u32),
    /// A class instance, by id in [`ProgramInfo::classes`].
    Class(u32),
    Fn(Vec<Type>, Box<Type>),
    /// `chan[T]`: a channel of `T` values, shared between threads (a host object).
    Chan(Box<Type>),
    /// `T?`: a reference of type `T` or null (`T` is never `Nullable` or scalar).
    Nullable(Box<Type>),
    /// The type of the literal `null`: accepted where any `T?` is expected.
    Null,
    /// The element type of an empty literal `[]` / `{}` before it meets an expected type.
    EmptyElem,
}

impl Type {
    /// How a value of this type is stored in a 64-bit slot.
    pub fn kind(&self) -> ValKind {
        match self {
            Type::Int | Type::Fixed(_) | Type::Unknown | Type::Error | Type::Void => ValKind::Int,
            Type::Float => ValKind::Float,
            Type::Bool => ValKind::Bool,
            _ => ValKind::Ref,
        }
    }
    pub fn is_ref(&self) -> bool {
        self.kind() == ValKind::Ref
    }
    /// The type without its `?`: `T` for `T?`, else the type itself.
    pub fn non_null(&self) -> &Type {
        match self {
            Type::Nullable(t) => t,
            t => t,
        }
    }
    /// The class id of a class type.
    pub fn class_id(&self) -> Option<u32> {
        match self {
            Type::Class(c) => Some(*c),
            _ => None,
        }
    }
    /// `T?` or `null`: a value of this type may be null.
    pub fn is_nullable(&self) -> bool {
        matches!(self, Type::Nullable(_) | Type::Null)
    }
}

/// Program-wide tables produced by the checker.
#[derive(Clone, Debug, Default)]
pub struct ProgramInfo {
    pub structs: Vec<StructInfo>,
    pub classes: Vec<ClassInfo>,
    pub funcs: Vec<FuncInfo>,
    pub globals: Vec<GlobalInfo>,
    pub externs: Vec<FuncInfo>,
    /// Function id of `main`.
    pub main: u32,
    /// The functions behind `obj.m` values, one per method used that way.
    pub bound_methods: Vec<BoundMethod>,
}

/// A function made for `obj.m` used as a value: it takes the method's parameters
/// (without `self`), and its closure holds the object.
#[derive(Clone, Debug)]
pub struct BoundMethod {
    pub func_id: u32,
    /// The method: a direct call (`Res::Func`) or a method-table slot
    /// (`Res::Virtual`).
    pub target: crate::ast::Res,
    /// The receiver's static class (for a method-table slot).
    pub class: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct StructInfo {
    /// The name as declared (what the runtime prints: `P{x: 1}`).
    pub name: String,
    /// Index of the declaring module (0: the entry module).
    pub module: usize,
    /// `module.name` (for diagnostics seen from another module).
    pub qualified: String,
    pub fields: Vec<(String, Type)>,
    /// Method name -> function id.
    pub methods: Vec<(String, u32)>,
}

/// A class: its fields (the parent's first, so a field is at the same position in
/// every subclass) and its method table.
#[derive(Clone, Debug)]
pub struct ClassInfo {
    pub name: String,
    pub module: usize,
    pub qualified: String,
    pub parent: Option<u32>,
    pub fields: Vec<(String, Type)>,
    /// The method table: slot -> (method name, function id of the implementation
    /// this class uses, own or inherited). A subclass keeps its parent's slots and
    /// appends its new methods; an override replaces the function in its slot.
    pub vtable: Vec<(String, u32)>,
    /// `__init__`, own or inherited.
    pub init: Option<u32>,
}

impl ClassInfo {
    pub fn slot(&self, method: &str) -> Option<usize> {
        self.vtable.iter().position(|(n, _)| n == method)
    }
}

#[derive(Clone, Debug)]
pub struct FuncInfo {
    /// Display name: `f`, `Point.norm`, `mod.f`, `<lambda@12>`.
    pub name: String,
    pub params: Vec<Type>,
    pub ret: Type,
}

#[derive(Clone, Debug)]
pub struct GlobalInfo {
    pub name: String,
    pub ty: Type,
}

/// Prints types as the language writes them: `int`, `[str]`, `{str: int}`,
/// `(int, str)`, `fn(int) -> bool`; structs need the program tables, so they print
/// as `struct#N` here — use [`TypeDisplay`] for user-facing text.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        TypeDisplay {
            ty: self,
            info: None,
            here: None,
        }
        .fmt(f)
    }
}

/// A type together with the tables needed to print struct names.
pub struct TypeDisplay<'a> {
    pub ty: &'a Type,
    pub info: Option<&'a ProgramInfo>,
    /// The module whose code is being talked about: structs of other modules print
    /// qualified (`geom.P`), so that two modules' `P` are told apart.
    pub here: Option<usize>,
}

impl<'a> fmt::Display for TypeDisplay<'a> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sub = |t: &'a Type| TypeDisplay {
            ty: t,
            info: self.info,
            here: self.here,
        };
        match self.ty {
            Type::Unknown | Type::Error => write!(f, "<error>"),
            Type::Int => write!(f, "int"),
            Type::Float => write!(f, "float"),
            Type::Bool => write!(f, "bool"),
            Type::Str => write!(f, "str"),
            Type::Void => write!(f, "void"),
            Type::Ptr => write!(f, "ptr"),
            Type::Fixed(n) => write!(f, "{n}"),
            Type::EmptyElem => write!(f, "?"),
            Type::Array(e) => write!(f, "[{}]", sub(e)),
            Type::Chan(e) => write!(f, "chan[{}]", sub(e)),
            Type::Map(k, v) => write!(f, "{{{}: {}}}", sub(k), sub(v)),
            Type::Tuple(ts) => {
                write!(f, "(")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{}", sub(t))?;
                }
                if ts.len() == 1 {
                    write!(f, ",")?;
                }
                write!(f, ")")
            }
            Type::Struct(id) => match self.info.and_then(|i| i.structs.get(*id as usize)) {
                Some(s) if self.here.is_some_and(|m| m != s.module) => write!(f, "{}", s.qualified),
                Some(s) => write!(f, "{}", s.name),
                None => write!(f, "struct#{id}"),
            },
            Type::Class(id) => match self.info.and_then(|i| i.classes.get(*id as usize)) {
                Some(s) if self.here.is_some_and(|m| m != s.module) => write!(f, "{}", s.qualified),
                Some(s) => write!(f, "{}", s.name),
                None => write!(f, "class#{id}"),
            },
            Type::Nullable(t) if matches!(**t, Type::Fn(..)) => write!(f, "({})?", sub(t)),
            Type::Nullable(t) => write!(f, "{}?", sub(t)),
            Type::Null => write!(f, "null"),
            Type::Fn(ps, r) => {
                write!(f, "fn(")?;
                for (i, t) in ps.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{}", sub(t))?;
                }
                write!(f, ") -> {}", sub(r))
            }
        }
    }
}
