//! Completion. After `.`, the members of what is before it: a struct's (class's)
//! fields and methods, a tuple's elements, an enum's members, a module's exported
//! functions and types. Elsewhere, the names in scope at the cursor: visible locals and
//! parameters, the module's items and imports, builtins with their signatures,
//! and keywords.
//!
//! The receiver before `.` is typed from the analysis when the line parsed (the
//! expression that ends at the dot), else read from the text as a chain of names
//! (`a.b.c.`) resolved with the scope at the cursor, so that the line being typed,
//! which does not parse yet, still completes.

use super::analysis::Analysis;
use super::hover::{builtin_signature, intrinsic_signature, INTRINSICS};
use super::index::{DefId, DefKind, Index};
use crate::types::Type;
use lsp_types::{CompletionItem, CompletionItemKind, Documentation, Position};

pub const KEYWORDS: [&str; 38] = [
    "and", "as", "assert", "break", "case", "catch", "class", "continue", "default", "def", "elif", "else",
    "enum", "export", "extern", "false", "finally", "fn", "for", "from", "if", "import", "in", "let",
    "match", "new", "not", "or", "ptr", "return", "self", "struct", "super", "throw", "true", "try", "while",
    "pass",
];

pub fn completion(a: &Analysis, pos: Position) -> Vec<CompletionItem> {
    let offset = a.offset(pos) as usize;
    let before = &a.text()[..offset];
    let word_start = suffix_start(before, is_word_char);
    match before[..word_start].strip_suffix('.') {
        Some(receiver) => members_after_dot(a, receiver),
        None => in_scope(a, offset as u32),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A character of a chain of names (`a.b.c`).
pub fn is_name_chain_char(c: char) -> bool {
    is_word_char(c) || c == '.'
}

/// Where the longest end of `text` made of characters satisfying `keep` starts.
pub fn suffix_start(text: &str, keep: fn(char) -> bool) -> usize {
    text.char_indices()
        .rev()
        .find(|&(_, c)| !keep(c))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// What a receiver before `.` can be.
enum Receiver {
    Value(Type),
    /// An enum by name (its members).
    TypeDef(DefId),
    Module(usize),
}

fn members_after_dot(a: &Analysis, receiver: &str) -> Vec<CompletionItem> {
    let dot = receiver.len() as u32;
    let parsed = a
        .index
        .types
        .iter()
        .filter(|(s, t)| s.hi == dot && !matches!(t, Type::Unknown | Type::Error | Type::Void))
        .max_by_key(|(s, _)| s.hi - s.lo)
        .map(|(_, t)| Receiver::Value(t.clone()));
    let at = Cursor::new(a.text(), dot);
    match parsed.or_else(|| receiver_from_text(&a.index, receiver, at)) {
        Some(Receiver::Value(t)) => value_members(&a.index, &t),
        Some(Receiver::TypeDef(d)) => a
            .index
            .members(d)
            .iter()
            .map(|&m| def_item(&a.index, m))
            .collect(),
        Some(Receiver::Module(mi)) => module_members(&a.index, mi),
        None => Vec::new(),
    }
}

/// The chain of names that ends `text` (`a.b.c`), resolved from the scope at
/// `offset`.
fn receiver_from_text(ix: &Index, text: &str, at: Cursor) -> Option<Receiver> {
    let start = suffix_start(text, is_name_chain_char);
    let mut names = text[start..].split('.');
    let first = names.next().filter(|n| !n.is_empty())?;
    let mut receiver = resolve_first(ix, first, at)?;
    for name in names {
        let t = match receiver {
            Receiver::Value(t) => t,
            // `m.E.`: an enum of an imported module.
            Receiver::Module(mi) => {
                let d = *ix.items[mi].get(name)?;
                receiver = (ix.defs[d].kind == DefKind::Enum).then_some(Receiver::TypeDef(d))?;
                continue;
            }
            Receiver::TypeDef(_) => return None,
        };
        let member = match &t {
            Type::Tuple(ts) => Some(ts.get(name.parse::<usize>().ok()?)?.clone()),
            _ => ix
                .type_def(&t)
                .and_then(|d| ix.member(d, name))
                .map(|m| ix.defs[m].ty.clone()),
        };
        receiver = Receiver::Value(member?);
    }
    Some(receiver)
}

/// The type of the value a chain of names (`p`, `self.items`) ends in.
pub fn chain_type(ix: &Index, text: &str, at: Cursor) -> Option<Type> {
    match receiver_from_text(ix, text, at)? {
        Receiver::Value(t) => Some(t),
        _ => None,
    }
}

fn resolve_first(ix: &Index, name: &str, at: Cursor) -> Option<Receiver> {
    if let Some(local) = visible_locals(ix, at)
        .into_iter()
        .find(|&d| ix.defs[d].name == name)
    {
        return Some(Receiver::Value(ix.defs[local].ty.clone()));
    }
    if let Some(&d) = ix.items[0].get(name) {
        let def = &ix.defs[d];
        // Only an enum has members reached through its name (`Color.RED`).
        return Some(match def.kind {
            DefKind::Enum => Receiver::TypeDef(d),
            DefKind::Struct | DefKind::Class => return None,
            _ => Receiver::Value(def.ty.clone()),
        });
    }
    ix.imports[0].get(name).map(|&mi| Receiver::Module(mi))
}

fn value_members(ix: &Index, t: &Type) -> Vec<CompletionItem> {
    if let Type::Tuple(ts) = t {
        return ts
            .iter()
            .enumerate()
            .map(|(i, t)| item(i.to_string(), CompletionItemKind::FIELD, ix.type_name(t)))
            .collect();
    }
    match ix.type_def(t) {
        Some(d) => ix.all_members(d).into_iter().map(|m| def_item(ix, m)).collect(),
        None => Vec::new(),
    }
}

/// What `m.` offers: the module's exported functions and types.
fn module_members(ix: &Index, mi: usize) -> Vec<CompletionItem> {
    let reachable = |d: DefId| {
        let kind = ix.defs[d].kind;
        let named = matches!(
            kind,
            DefKind::Function | DefKind::Struct | DefKind::Class | DefKind::Enum
        );
        named && ix.defs[d].exported
    };
    let mut items: Vec<CompletionItem> = ix.items[mi]
        .values()
        .filter(|&&d| reachable(d))
        .map(|&d| def_item(ix, d))
        .collect();
    items.sort_by(|x, y| x.label.cmp(&y.label));
    items
}

/// Where completion or signature help is asked: the byte offset in the document
/// and the indentation of its line.
#[derive(Clone, Copy)]
pub struct Cursor {
    pub offset: u32,
    pub indent: u32,
}

impl Cursor {
    pub fn new(text: &str, offset: u32) -> Cursor {
        let line_start = text[..offset as usize].rfind('\n').map_or(0, |i| i + 1);
        let indent = text[line_start..]
            .bytes()
            .take_while(|&b| b == b' ' || b == b'\t')
            .count();
        Cursor {
            offset,
            indent: indent as u32,
        }
    }
}

/// The locals and parameters of the document visible at the cursor, innermost
/// first: in their scope, after their declaration, and on a line indented at
/// least as deep as the declaration (a line typed below a block, which is not
/// part of the parse yet, is inside the block only if it is indented like it).
pub fn visible_locals(ix: &Index, at: Cursor) -> Vec<DefId> {
    let offset = at.offset;
    let mut found: Vec<DefId> = ix
        .defs
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            matches!(d.kind, DefKind::Local | DefKind::Param)
                && d.span.file == 0
                && d.scope.is_some_and(|(lo, hi)| lo <= offset && offset <= hi)
                && (d.kind == DefKind::Param || d.span.hi <= offset)
                && d.indent <= at.indent
        })
        .map(|(i, _)| i)
        .collect();
    found.sort_by_key(|&d| std::cmp::Reverse(ix.defs[d].span.lo));
    found
}

fn in_scope(a: &Analysis, offset: u32) -> Vec<CompletionItem> {
    let ix = &a.index;
    let mut items = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in visible_locals(ix, Cursor::new(a.text(), offset)) {
        if seen.insert(ix.defs[d].name.clone()) {
            items.push(def_item(ix, d));
        }
    }
    for (name, &d) in ix.items[0].iter().chain(ix.unqualified[0].iter()) {
        if seen.insert(name.clone()) {
            items.push(def_item(ix, d));
        }
    }
    for (alias, &mi) in &ix.imports[0] {
        if seen.insert(alias.clone()) {
            let detail = ix.defs[ix.modules[mi]].detail.clone();
            items.push(item(alias.clone(), CompletionItemKind::MODULE, detail));
        }
    }
    for (id, b) in bp_runtime::builtins::all().iter().enumerate() {
        if seen.insert(b.name.to_string()) {
            let (sig, doc) = builtin_signature(id as u32);
            items.push(documented(
                item(b.name.to_string(), CompletionItemKind::FUNCTION, sig),
                doc,
            ));
        }
    }
    for name in INTRINSICS {
        let (sig, doc) = intrinsic_signature(name);
        items.push(documented(
            item(name.to_string(), CompletionItemKind::FUNCTION, sig),
            doc,
        ));
    }
    for k in KEYWORDS {
        if seen.insert(k.to_string()) {
            items.push(item(k.to_string(), CompletionItemKind::KEYWORD, String::new()));
        }
    }
    items
}

fn def_item(ix: &Index, d: DefId) -> CompletionItem {
    let def = &ix.defs[d];
    let kind = match def.kind {
        DefKind::Module => CompletionItemKind::MODULE,
        DefKind::Function | DefKind::Extern => CompletionItemKind::FUNCTION,
        DefKind::Method => CompletionItemKind::METHOD,
        DefKind::Struct => CompletionItemKind::STRUCT,
        DefKind::Class => CompletionItemKind::CLASS,
        DefKind::Field => CompletionItemKind::FIELD,
        DefKind::Enum => CompletionItemKind::ENUM,
        DefKind::EnumMember => CompletionItemKind::ENUM_MEMBER,
        DefKind::Global | DefKind::Param | DefKind::Local => CompletionItemKind::VARIABLE,
    };
    let detail = def.detail.lines().next().unwrap_or_default().to_string();
    item(def.name.clone(), kind, detail)
}

fn item(label: String, kind: CompletionItemKind, detail: String) -> CompletionItem {
    CompletionItem {
        label,
        kind: Some(kind),
        detail: (!detail.is_empty()).then_some(detail),
        ..CompletionItem::default()
    }
}

fn documented(mut item: CompletionItem, doc: &str) -> CompletionItem {
    item.documentation = Some(Documentation::String(doc.to_string()));
    item
}
