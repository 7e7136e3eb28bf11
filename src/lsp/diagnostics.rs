//! The analysis's diagnostics as LSP diagnostics of the document.

use super::analysis::Analysis;
use crate::ast::Span;
use crate::diag::{self, Severity};
use lsp_types::{Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity};

/// Every error and warning of the document, with exact ranges. A problem in an
/// imported file is shown at the `import` that brings it in (with its place in
/// that file as related information), since the editor publishes per document.
pub fn document_diagnostics(a: &Analysis) -> Vec<Diagnostic> {
    a.diagnostics.iter().map(|d| convert(a, d)).collect()
}

fn convert(a: &Analysis, d: &diag::Diagnostic) -> Diagnostic {
    let mut message = d.message.clone();
    for note in &d.notes {
        message.push('\n');
        message.push_str(note);
    }
    let mut related: Vec<DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|(span, what)| {
            Some(DiagnosticRelatedInformation {
                location: a.location(*span)?,
                message: what.clone(),
            })
        })
        .collect();
    let span = if d.span.file == 0 {
        d.span
    } else {
        if let Some(location) = a.location(d.span) {
            related.push(DiagnosticRelatedInformation {
                location,
                message: d.message.clone(),
            });
        }
        message = format!("in {}: {message}", a.sources.location(d.span));
        import_of(a, d.span.file)
    };
    Diagnostic {
        range: a.range(span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        source: Some("bp".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Diagnostic::default()
    }
}

/// Where the document imports the module of `file` directly, or else the start
/// of the document (a module imported by an imported module).
fn import_of(a: &Analysis, file: u32) -> Span {
    a.index
        .refs
        .iter()
        .filter(|r| r.span.file == 0)
        .find(|r| match r.target {
            super::index::Target::Def(d) => {
                let def = &a.index.defs[d];
                def.kind == super::index::DefKind::Module && def.span.file == file
            }
            _ => false,
        })
        .map_or(Span::new(0, 0, 0), |r| r.span)
}
