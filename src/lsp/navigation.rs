//! Go to definition, find references and rename: all three start from the
//! reference under the cursor and read the index's reference list.

use super::analysis::Analysis;
use super::index::{DefKind, Target};
use lsp_types::{Location, Position, TextEdit, Url, WorkspaceEdit};
use std::collections::HashMap;

/// The definition the name under the cursor refers to (none for builtins, which
/// have no source).
pub fn definition(a: &Analysis, pos: Position) -> Option<Location> {
    let r = a.index.ref_at(0, a.offset(pos))?;
    let Target::Def(d) = r.target else {
        return None;
    };
    a.location(a.index.defs[d].span)
}

/// Every place naming what the name under the cursor names, in the document and
/// in the modules it imports; with `include_declaration`, the declaration too.
pub fn references(a: &Analysis, pos: Position, include_declaration: bool) -> Vec<Location> {
    let Some(r) = a.index.ref_at(0, a.offset(pos)) else {
        return Vec::new();
    };
    let declaration = match r.target {
        Target::Def(d) => Some(a.index.defs[d].span),
        _ => None,
    };
    let mut found: Vec<Location> = a
        .index
        .refs_to(r.target)
        .filter(|x| include_declaration || Some(x.span) != declaration)
        .filter_map(|x| a.location(x.span))
        .collect();
    found.sort_by_cached_key(|l| (l.uri.to_string(), l.range.start.line, l.range.start.character));
    found.dedup();
    found
}

/// Rename what the name under the cursor names, everywhere the analysis sees it.
/// Builtins and modules (whose name is their file's) cannot be renamed.
pub fn rename(a: &Analysis, pos: Position, new_name: &str) -> Result<WorkspaceEdit, String> {
    if !is_identifier(new_name) {
        return Err(format!("'{new_name}' is not a valid name"));
    }
    let r = a
        .index
        .ref_at(0, a.offset(pos))
        .ok_or("there is no name to rename here")?;
    let Target::Def(d) = r.target else {
        return Err("a builtin cannot be renamed".to_string());
    };
    if a.index.defs[d].kind == DefKind::Module {
        return Err("a module is named after its file; rename the file".to_string());
    }
    let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
    for x in a.index.refs_to(r.target) {
        let Some(location) = a.location(x.span) else {
            continue;
        };
        let edits = changes.entry(location.uri).or_default();
        let edit = TextEdit::new(location.range, new_name.to_string());
        if !edits.contains(&edit) {
            edits.push(edit);
        }
    }
    Ok(WorkspaceEdit::new(changes))
}

/// A name the lexer reads as one identifier (`[A-Za-z_][A-Za-z0-9_]*`, not a
/// keyword or a type name).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    starts_well
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !super::completion::KEYWORDS.contains(&name)
        && !matches!(name, "int" | "float" | "bool" | "str" | "void")
}
