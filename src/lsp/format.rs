//! Formatting through `bp fmt`'s engine: one edit that replaces the document
//! with its canonical layout, none when it is already formatted or does not
//! parse (the formatter refuses files with syntax errors, which the diagnostics
//! already show).

use super::position::LineIndex;
use crate::formatter;
use lsp_types::{Position, Range, TextEdit};

pub fn format_document(text: &str) -> Vec<TextEdit> {
    let Ok(formatted) = formatter::format_source(text.as_bytes().to_vec()) else {
        return Vec::new();
    };
    if formatted == text.as_bytes() {
        return Vec::new();
    }
    let Ok(formatted) = String::from_utf8(formatted) else {
        return Vec::new();
    };
    let lines = LineIndex::new(text);
    let end = lines.position(text.len() as u32);
    vec![TextEdit::new(Range::new(Position::new(0, 0), end), formatted)]
}
