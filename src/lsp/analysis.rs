//! One analysis of an open document: the real front end run on its text (imports
//! read from disk), the diagnostics, and the [`Index`] built from the annotated
//! AST. Every request reads an analysis; a change makes a new one.
//!
//! Syntax errors: the parser recovers at the next line (a line that does not
//! parse is dropped with the block under it), so the analysis of a file being
//! typed holds everything but the broken lines, and hover, definition and the
//! rest work there. For the line being typed, completion and signature help read
//! the text before the cursor (`completion.rs`, `signature.rs`) and resolve it
//! with this index: the names in scope at the cursor and the types of the
//! variables the recovered parse knows.

use super::index::Index;
use super::position::LineIndex;
use crate::diag::{Diagnostic, SourceMap};
use crate::driver;
use lsp_types::{Location, Position, Range, Url};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub struct Analysis {
    pub uri: Url,
    pub index: Index,
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    /// Position conversion of every file, built when first needed.
    lines: Vec<OnceLock<LineIndex>>,
}

impl Analysis {
    /// Analyse `text`, the content of the document `uri`.
    pub fn new(uri: &Url, text: &str) -> Analysis {
        let path = document_path(uri);
        let analyzed = driver::analyze_source(&path, text.as_bytes().to_vec());
        let index = Index::build(&analyzed.modules, analyzed.info, &analyzed.sources);
        let lines = analyzed.sources.files.iter().map(|_| OnceLock::new()).collect();
        Analysis {
            uri: uri.clone(),
            index,
            sources: analyzed.sources,
            diagnostics: analyzed.diags.list,
            lines,
        }
    }

    /// The entry file's text as analysed.
    pub fn text(&self) -> &str {
        self.line_index(0).text()
    }

    pub fn line_index(&self, file: u32) -> &LineIndex {
        let text = self
            .sources
            .files
            .get(file as usize)
            .map_or("", |f| f.text.as_str());
        match self.lines.get(file as usize) {
            Some(cell) => cell.get_or_init(|| LineIndex::new(text)),
            None => {
                static EMPTY: OnceLock<LineIndex> = OnceLock::new();
                EMPTY.get_or_init(|| LineIndex::new(""))
            }
        }
    }

    /// The byte offset of a position of the document.
    pub fn offset(&self, pos: Position) -> u32 {
        self.line_index(0).offset(pos)
    }

    pub fn range(&self, span: crate::ast::Span) -> Range {
        self.line_index(span.file).range(span.lo, span.hi)
    }

    /// The file `file` as a URI (the document's own URI for the document).
    pub fn file_uri(&self, file: u32) -> Option<Url> {
        if file == 0 {
            return Some(self.uri.clone());
        }
        let path = PathBuf::from(&self.sources.files.get(file as usize)?.path);
        let path = path.canonicalize().unwrap_or(path);
        Url::from_file_path(path).ok()
    }

    pub fn location(&self, span: crate::ast::Span) -> Option<Location> {
        Some(Location::new(self.file_uri(span.file)?, self.range(span)))
    }
}

/// The path the front end sees for a document: its file path, or for a document
/// that is not a file (an unsaved buffer), a name in the current folder so that
/// imports are looked for there.
fn document_path(uri: &Url) -> PathBuf {
    if uri.scheme() == "file" {
        if let Ok(path) = uri.to_file_path() {
            return path;
        }
    }
    let name = uri
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .unwrap_or("untitled.bp");
    Path::new(".").join(name)
}
