//! Compile-time diagnostics and the source map.
//!
//! Every stage reports problems as [`Diagnostic`]s (a span and one sentence). The
//! driver renders them with `ariadne` (chosen because it prints the source line with
//! a caret like modern compilers and needs no configuration) after a
//! `file:line:col: error: message` header line that tools and tests can grep.

use crate::ast::{FileId, Span};
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    /// Optional extra lines (`help: ...`).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            notes: vec![],
        }
    }
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
            notes: vec![],
        }
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
}

/// A collection of diagnostics; stages push into it and keep going where they can.
#[derive(Default, Debug)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }
    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::error(span, message));
    }
    pub fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::warning(span, message));
    }
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }
}

pub struct SourceFile {
    pub path: String,
    pub text: String,
    /// Byte offset of the start of every line.
    line_starts: Vec<u32>,
}

impl SourceFile {
    pub fn new(path: String, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i as u32 + 1);
            }
        }
        SourceFile {
            path,
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in bytes) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        (line as u32 + 1, offset - self.line_starts[line] + 1)
    }
}

/// All source files of one compilation, indexed by [`FileId`].
#[derive(Default)]
pub struct SourceMap {
    pub files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: String, text: String) -> FileId {
        self.files.push(SourceFile::new(path, text));
        (self.files.len() - 1) as FileId
    }
    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id as usize]
    }
    /// `path:line:col` of the start of a span.
    pub fn location(&self, span: Span) -> String {
        match self.files.get(span.file as usize) {
            Some(f) => {
                let (l, c) = f.line_col(span.lo);
                format!("{}:{}:{}", f.path, l, c)
            }
            None => "<unknown>".to_string(),
        }
    }

    /// Render one diagnostic: a `file:line:col: error: message` line followed by an
    /// ariadne snippet with the source line and a caret.
    pub fn render(&self, d: &Diagnostic, color: bool) -> String {
        use ariadne::{Config, Label, Report, ReportKind, Source};
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{}: {}: {}\n", self.location(d.span), kind, d.message);
        let Some(file) = self.files.get(d.span.file as usize) else {
            return out;
        };
        // ariadne works in character offsets; convert from bytes.
        let lo = char_offset(&file.text, d.span.lo as usize);
        let hi = char_offset(&file.text, (d.span.hi.max(d.span.lo + 1)) as usize).max(lo + 1);
        let rk = match d.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let mut report = Report::build(rk, (file.path.as_str(), lo..hi))
            .with_config(Config::default().with_color(color))
            .with_message(&d.message)
            .with_label(Label::new((file.path.as_str(), lo..hi)).with_message(""));
        for n in &d.notes {
            report = report.with_note(n);
        }
        let mut buf = Vec::new();
        if file.text.trim().is_empty() {
            return out;
        }
        if report
            .finish()
            .write((file.path.as_str(), Source::from(file.text.as_str())), &mut buf)
            .is_ok()
        {
            // ariadne's first line repeats the message we already printed with its
            // location; keep only the snippet.
            let text = String::from_utf8_lossy(&buf);
            let snippet = text.split_once('\n').map(|(_, rest)| rest).unwrap_or("");
            let _ = write!(out, "{snippet}");
        }
        out
    }
}

fn char_offset(text: &str, byte: usize) -> usize {
    let byte = byte.min(text.len());
    let mut b = byte;
    while b > 0 && !text.is_char_boundary(b) {
        b -= 1;
    }
    text[..b].chars().count()
}
