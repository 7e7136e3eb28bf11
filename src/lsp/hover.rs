//! Hover: what a name is (its declaration with types, a builtin's signature and
//! one-line doc), or else the type of the innermost expression under the cursor.

use super::analysis::Analysis;
use super::index::{DefKind, Target};
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

pub fn hover(a: &Analysis, pos: Position) -> Option<Hover> {
    let offset = a.offset(pos);
    if let Some(r) = a.index.ref_at(0, offset) {
        return Some(markdown(a, describe(a, r.target), r.span));
    }
    let (span, ty) = a.index.type_at(offset)?;
    let text = code(&a.index.type_name(ty));
    Some(markdown(a, text, *span))
}

/// Markdown for what `target` is.
pub fn describe(a: &Analysis, target: Target) -> String {
    match target {
        Target::Def(d) => {
            let def = &a.index.defs[d];
            let mut text = code(&def.detail);
            if matches!(
                def.kind,
                DefKind::Param | DefKind::Local | DefKind::Field | DefKind::EnumMember | DefKind::Module
            ) {
                text.push_str(&format!("\n{}", def.kind.describe()));
            }
            text
        }
        Target::Builtin(id) => {
            let (sig, doc) = builtin_signature(id);
            format!("{}\n\nbuiltin: {doc}", code(&sig))
        }
        Target::Intrinsic(name) => {
            let (sig, doc) = intrinsic_signature(name);
            format!("{}\n\nbuiltin: {doc}", code(&sig))
        }
    }
}

fn code(text: &str) -> String {
    format!("```bp\n{text}\n```\n")
}

fn markdown(a: &Analysis, value: String, span: crate::ast::Span) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range: Some(a.range(span)),
    }
}

/// `name(params) -> ret` and the one-line doc of runtime builtin `id`.
pub fn builtin_signature(id: u32) -> (String, &'static str) {
    let table = bp_runtime::builtins::all();
    match (table.get(id as usize), bp_runtime::builtins::signature(id)) {
        (Some(b), Some(sig)) => (format!("{}{sig}", b.name), b.doc),
        _ => (String::from("builtin"), ""),
    }
}

/// The two builtins the compiler handles itself (no entry in the runtime table).
pub fn intrinsic_signature(name: &str) -> (String, &'static str) {
    match name {
        "print" => (
            "print(...) -> void".to_string(),
            "writes its arguments separated by spaces, then a newline",
        ),
        _ => (
            "typeof(x: any) -> str".to_string(),
            "the name of the static type of its argument",
        ),
    }
}

/// The intrinsics by name, for completion.
pub const INTRINSICS: [&str; 2] = ["print", "typeof"];
