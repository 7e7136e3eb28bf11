//! Document symbols: the document's items as an outline (structs, classes and
//! enums with their members).

use super::analysis::Analysis;
use super::index::{Def, DefId, DefKind};
use lsp_types::{DocumentSymbol, SymbolKind};

pub fn document_symbols(a: &Analysis) -> Vec<DocumentSymbol> {
    let ix = &a.index;
    let mut top: Vec<DefId> = ix.items[0]
        .values()
        .copied()
        .filter(|&d| ix.defs[d].span.file == 0)
        .collect();
    top.sort_by_key(|&d| ix.defs[d].span.lo);
    top.into_iter().map(|d| symbol(a, d)).collect()
}

fn symbol(a: &Analysis, d: DefId) -> DocumentSymbol {
    let def = &a.index.defs[d];
    let children: Vec<DocumentSymbol> = a.index.members(d).iter().map(|&m| symbol(a, m)).collect();
    #[allow(deprecated)] // `deprecated` is a required field of the type; `tags` replaces it
    DocumentSymbol {
        name: def.name.clone(),
        detail: Some(first_line(def)),
        kind: kind(def.kind),
        tags: None,
        deprecated: None,
        range: a.range(def.full),
        selection_range: a.range(def.span),
        children: (!children.is_empty()).then_some(children),
    }
}

fn first_line(def: &Def) -> String {
    def.detail
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches(':')
        .to_string()
}

fn kind(k: DefKind) -> SymbolKind {
    match k {
        DefKind::Module => SymbolKind::MODULE,
        DefKind::Function | DefKind::Extern => SymbolKind::FUNCTION,
        DefKind::Method => SymbolKind::METHOD,
        DefKind::Struct => SymbolKind::STRUCT,
        DefKind::Class => SymbolKind::CLASS,
        DefKind::Field => SymbolKind::FIELD,
        DefKind::Enum => SymbolKind::ENUM,
        DefKind::EnumMember => SymbolKind::ENUM_MEMBER,
        DefKind::Global | DefKind::Param | DefKind::Local => SymbolKind::VARIABLE,
    }
}
