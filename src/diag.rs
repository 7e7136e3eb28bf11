//! Compile-time diagnostics and the source map.
//!
//! Every stage reports problems as [`Diagnostic`]s (a span and one sentence). The
//! driver renders each as a `file:line:col: error: message` header line that tools and
//! tests can grep, followed by a snippet that `ariadne` draws: the source line with
//! the span marked under it, and the notes.
//!
//! One rule decides lines everywhere (the header, the snippet, the lexer, runtime
//! locations): a line ends at `\n` (so also at `\r\n`). A lone `\r`, a form feed, a
//! vertical tab, U+0085, U+2028 and U+2029 are characters inside a line. Columns count
//! characters (Unicode scalar values) from 1; a byte of the file that is not UTF-8
//! counts as one character.
//!
//! Rendering is bounded whatever the input: long words quoted in messages (a 10 MB
//! identifier) are shortened, the snippet shows a window of at most
//! [`SNIPPET_CHARS`] characters of its line, and at most [`MAX_DIAGNOSTICS`] errors
//! (and as many warnings) are kept per compilation.
//!
//! ariadne is handed that window only (an `Excerpt`), never the file: it would end
//! lines at more characters than `\n`, and show all of a long line.

use crate::ast::{FileId, Span};
use ariadne::{Color, Config, Fmt, Label, Report, ReportKind, Source};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

/// Errors (and, separately, warnings) kept per compilation; the rest are counted
/// and summarised in one line.
pub const MAX_DIAGNOSTICS: usize = 100;
/// Longest run of identifier characters shown in a message; longer ones are cut and
/// end in `…`.
pub const MAX_QUOTED_WORD: usize = 40;
/// Longest message (in characters) shown; longer ones are cut and end in `…`.
pub const MAX_MESSAGE: usize = 500;
/// Characters of the source line shown in a snippet (a window around the span).
pub const SNIPPET_CHARS: usize = 100;
/// Characters shown before the span when the line has to be cut.
const SNIPPET_LEFT: usize = 40;

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
    /// Other places that explain the error (the bracket that is not closed), each
    /// shown after the main snippet with its own position and line.
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            notes: vec![],
            related: vec![],
        }
    }
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
            notes: vec![],
            related: vec![],
        }
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
    /// Another place that explains the error, with what it is.
    pub fn with_related(mut self, span: Span, what: impl Into<String>) -> Diagnostic {
        self.related.push((span, what.into()));
        self
    }
}

/// A collection of diagnostics; stages push into it and keep going where they can.
/// Beyond [`MAX_DIAGNOSTICS`] of a severity, diagnostics are only counted.
#[derive(Default, Debug)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
    /// Errors not kept because the list already held [`MAX_DIAGNOSTICS`] errors.
    pub dropped_errors: usize,
    /// Warnings not kept, likewise.
    pub dropped_warnings: usize,
    kept_errors: usize,
    kept_warnings: usize,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        let (kept, dropped) = match d.severity {
            Severity::Error => (&mut self.kept_errors, &mut self.dropped_errors),
            Severity::Warning => (&mut self.kept_warnings, &mut self.dropped_warnings),
        };
        if *kept >= MAX_DIAGNOSTICS {
            *dropped += 1;
            return;
        }
        *kept += 1;
        self.list.push(d);
    }
    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        for d in ds {
            self.push(d);
        }
    }
    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::error(span, message));
    }
    pub fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::warning(span, message));
    }
    pub fn has_errors(&self) -> bool {
        self.dropped_errors > 0 || self.list.iter().any(|d| d.severity == Severity::Error)
    }
    /// Remove the kept diagnostics from `from` on (the parser drops errors that a
    /// lexer error on the same line explains), keeping the counts right.
    pub fn split_off(&mut self, from: usize) -> Vec<Diagnostic> {
        let tail = self.list.split_off(from.min(self.list.len()));
        for d in &tail {
            match d.severity {
                Severity::Error => self.kept_errors -= 1,
                Severity::Warning => self.kept_warnings -= 1,
            }
        }
        tail
    }
}

/// Bytes between two entries of [`SourceFile::char_marks`].
const CHAR_MARK: usize = 256;

pub struct SourceFile {
    pub path: String,
    /// The text as the lexer saw it (a byte that is not UTF-8 is replaced by a NUL
    /// placeholder of the same length, see [`crate::lexer::decode_source`]).
    pub text: String,
    /// Byte offset of the start of every line.
    line_starts: Vec<u32>,
    /// Number of characters in `text[..k * CHAR_MARK]` for every `k`, so that a
    /// column costs at most `CHAR_MARK` bytes of counting.
    char_marks: Vec<u32>,
    /// Sorted offsets of the bytes that were not UTF-8 in the file.
    invalid: Vec<u32>,
}

impl SourceFile {
    pub fn new(path: String, text: String) -> SourceFile {
        SourceFile::with_invalid(path, text, Vec::new())
    }

    /// A file whose `text` holds placeholders at the sorted offsets `invalid`.
    pub fn with_invalid(path: String, text: String, invalid: Vec<u32>) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        let mut char_marks = Vec::with_capacity(text.len() / CHAR_MARK + 1);
        let mut chars = 0u32;
        char_marks.push(0);
        for chunk in text.as_bytes().chunks(CHAR_MARK) {
            chars += count_char_starts(chunk);
            char_marks.push(chars);
        }
        SourceFile {
            path,
            text,
            line_starts,
            char_marks,
            invalid,
        }
    }

    /// Index (0-based) of the line holding byte `offset`.
    fn line_index(&self, offset: u32) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// Number of characters before byte `offset`.
    fn chars_before(&self, offset: u32) -> u32 {
        let off = (offset as usize).min(self.text.len());
        let mark = off / CHAR_MARK;
        let counted = self.char_marks.get(mark).copied().unwrap_or(0);
        counted + count_char_starts(&self.text.as_bytes()[mark * CHAR_MARK..off])
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let offset = offset.min(self.text.len() as u32);
        let line = self.line_index(offset);
        let start = self.line_starts[line];
        let col = self.chars_before(offset) - self.chars_before(start) + 1;
        (line as u32 + 1, col)
    }

    /// Byte range of line `line` (0-based) without its `\n` or `\r\n`.
    fn line_range(&self, line: usize) -> (usize, usize) {
        let start = self.line_starts[line] as usize;
        let mut end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |&s| s as usize - 1);
        if end > start && self.text.as_bytes()[end - 1] == b'\r' && end < self.text.len() {
            end -= 1;
        }
        (start, end)
    }

    fn is_invalid_byte(&self, offset: usize) -> bool {
        self.invalid.binary_search(&(offset as u32)).is_ok()
    }
}

/// The number of bytes of `b` that start a UTF-8 character.
fn count_char_starts(b: &[u8]) -> u32 {
    b.iter().filter(|&&c| c & 0xC0 != 0x80).count() as u32
}

/// All source files of one compilation, indexed by [`FileId`].
#[derive(Default)]
pub struct SourceMap {
    pub files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: String, text: String) -> FileId {
        self.add_file(SourceFile::new(path, text))
    }
    pub fn add_file(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
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

    /// Render one diagnostic: our `file:line:col: error: message` line (exact
    /// positions, whatever the snippet shows), then the snippet ariadne draws from the
    /// `Excerpt` of the span, with the notes.
    pub fn render(&self, d: &Diagnostic, color: bool) -> String {
        let (kind, paint) = match d.severity {
            Severity::Error => ("error", Color::Red),
            Severity::Warning => ("warning", Color::Yellow),
        };
        let mut out = format!(
            "{}: {}: {}\n",
            self.location(d.span),
            kind.fg(color.then_some(paint)),
            shorten_message(&d.message)
        );
        match self.files.get(d.span.file as usize) {
            Some(file) if !file.text.is_empty() => {
                out.push_str(&draw_snippet(&Excerpt::of(file, d.span), d, paint, color));
            }
            // An empty file has no line to show; the notes still count.
            _ => {
                for n in &d.notes {
                    let _ = writeln!(out, "note: {}", shorten_message(n));
                }
            }
        }
        for (span, what) in &d.related {
            let _ = writeln!(
                out,
                "{}: {}: {}",
                self.location(*span),
                "note".fg(color.then_some(Color::Blue)),
                shorten_message(what)
            );
            if let Some(file) = self.files.get(span.file as usize).filter(|f| !f.text.is_empty()) {
                let plain = Diagnostic {
                    notes: Vec::new(),
                    related: Vec::new(),
                    ..d.clone()
                };
                out.push_str(&draw_snippet(
                    &Excerpt::of(file, *span),
                    &plain,
                    Color::Blue,
                    color,
                ));
            }
        }
        out
    }
}

/// What a snippet shows of a source line, made so that ariadne sees exactly one
/// line: the line holding the start of the span (by this module's line rule), cut to
/// a window of at most [`SNIPPET_CHARS`] characters around the span with `…` at a cut
/// end, each character shown by one character (see [`stand_in`]).
struct Excerpt {
    /// The line's number in the file (1-based).
    line: usize,
    text: String,
    /// The part of the span on the line, in characters of `text` (ariadne's unit).
    span: Range<usize>,
}

impl Excerpt {
    fn of(file: &SourceFile, span: Span) -> Excerpt {
        let lo = (span.lo as usize).min(file.text.len());
        let line = file.line_index(lo as u32);
        let (start, end) = file.line_range(line);
        let whole = &file.text[start..end];
        let lo = floor_boundary(whole, lo - start);
        let hi = (span.hi as usize).saturating_sub(start).clamp(lo, whole.len());
        let hi = floor_boundary(whole, hi);
        let (ws, we) = snippet_window(whole, lo);
        let cut_left = usize::from(ws > 0);
        let mut text = String::with_capacity(we - ws + 6);
        if cut_left > 0 {
            text.push('…');
        }
        text.extend(
            whole[ws..we]
                .char_indices()
                .map(|(i, ch)| stand_in(ch, file.is_invalid_byte(start + ws + i))),
        );
        if we < whole.len() {
            text.push('…');
        }
        let chars = |to: usize| cut_left + whole[ws..to.min(we)].chars().count();
        Excerpt {
            line: line + 1,
            span: chars(lo)..chars(hi),
            text,
        }
    }
}

/// The byte range of `text` shown in a snippet: all of it when it has at most
/// [`SNIPPET_CHARS`] characters, else a window of that many starting up to
/// [`SNIPPET_LEFT`] characters before `lo`.
fn snippet_window(text: &str, lo: usize) -> (usize, usize) {
    if text.char_indices().nth(SNIPPET_CHARS).is_none() {
        return (0, text.len());
    }
    let ws = text[..lo]
        .char_indices()
        .rev()
        .nth(SNIPPET_LEFT - 1)
        .map_or(0, |(i, _)| i);
    let we = text[ws..]
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(text.len(), |(i, _)| ws + i);
    (ws, we)
}

/// The character a snippet shows for `ch`: always exactly one, so that offsets in
/// characters hold. Control characters would act on the terminal, and ariadne ends a
/// line at `\r`, vertical tab, form feed, U+0085, U+2028 and U+2029, which here are
/// characters inside a line: C0 controls and DEL become their Control Pictures symbol
/// (`␍`, `␋`, `␌`, `␀`, `␡`); C1 controls (U+0085 among them), U+2028, U+2029 and
/// bytes that were not UTF-8 become `�`. A tab stays; ariadne expands it.
fn stand_in(ch: char, invalid_byte: bool) -> char {
    match ch {
        _ if invalid_byte => '\u{FFFD}',
        '\t' => '\t',
        '\0'..='\x1f' => char::from_u32(0x2400 + ch as u32).unwrap_or('\u{FFFD}'),
        '\x7f' => '\u{2421}',
        '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' => '\u{FFFD}',
        _ => ch,
    }
}

/// The snippet of a diagnostic, drawn by ariadne from its excerpt: the line, the
/// span marked under it, and the notes.
fn draw_snippet(excerpt: &Excerpt, d: &Diagnostic, paint: Color, color: bool) -> String {
    let kind = match d.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let span = excerpt.span.clone();
    let mut report = Report::build(kind, span.clone())
        .with_config(Config::default().with_color(color))
        .with_label(Label::new(span).with_message("").with_color(paint));
    for n in &d.notes {
        report = report.with_note(shorten_message(n));
    }
    let mut drawn = Vec::new();
    match report
        .finish()
        .write(Source::from(excerpt.text.as_str()), &mut drawn)
    {
        Ok(()) => renumber(&String::from_utf8_lossy(&drawn), excerpt.line),
        Err(_) => String::new(),
    }
}

/// ariadne's drawing without its first two lines (the report kind, which our header
/// gives, and a `[ file:line:col ]` reference that would count from the window), with
/// the line's real number in the margin. ariadne numbers the lines of the text it is
/// given, here one (0.6's `Source::with_display_line_offset` changes the reference
/// line only), so the margin is widened to fit the number. Trailing blanks go.
fn renumber(drawn: &str, line: usize) -> String {
    let number = line.to_string();
    let widen = number.len() - 1;
    let mut out = String::with_capacity(drawn.len() + 8 * widen);
    let mut lines = drawn.lines().skip(2).peekable();
    let mut numbered = false;
    while let Some(l) = lines.next() {
        let l = l.trim_end();
        if lines.peek().is_none() {
            let rule = format!("{}╯", "─".repeat(3 + widen));
            out.push_str(&l.replacen("───╯", &rule, 1));
        } else if !numbered && l.contains("1 │") {
            numbered = true;
            out.push_str(&l.replacen("1 │", &format!("{number} │"), 1));
        } else {
            out.extend(std::iter::repeat_n(' ', widen));
            out.push_str(l);
        }
        out.push('\n');
    }
    out
}

/// The largest character boundary of `text` at or below `i`.
fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A message as shown: every run of identifier characters longer than
/// [`MAX_QUOTED_WORD`] cut (a 10 MB identifier quoted in a message stays short), the
/// whole at most [`MAX_MESSAGE`] characters. Messages quote source text as
/// identifiers, numbers and types, so this bounds every message.
pub fn shorten_message(msg: &str) -> Cow<'_, str> {
    let long_word = {
        let mut run = 0;
        msg.bytes().any(|b| {
            run = if is_word_byte(b) { run + 1 } else { 0 };
            run > MAX_QUOTED_WORD
        })
    };
    if !long_word && msg.len() <= MAX_MESSAGE {
        return Cow::Borrowed(msg);
    }
    let mut out = String::new();
    let mut run = 0;
    let mut chars = 0;
    for ch in msg.chars() {
        if chars >= MAX_MESSAGE {
            out.push('…');
            break;
        }
        run = if ch.is_ascii() && is_word_byte(ch as u8) {
            run + 1
        } else {
            0
        };
        if run > MAX_QUOTED_WORD {
            if run == MAX_QUOTED_WORD + 1 {
                out.push('…');
                chars += 1;
            }
            continue;
        }
        out.push(ch);
        chars += 1;
    }
    Cow::Owned(out)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new("t.bp".into(), text.into())
    }

    fn render(text: &str, lo: u32, hi: u32) -> String {
        let mut map = SourceMap::default();
        let f = map.add("t.bp".into(), text.into());
        map.render(&Diagnostic::error(Span::new(f, lo, hi), "boom"), false)
    }

    #[test]
    fn columns_count_characters() {
        let f = file("a = \"éé\"; b\nx");
        assert_eq!(f.line_col(0), (1, 1));
        let b = f.text.find('b').unwrap() as u32;
        assert_eq!(f.line_col(b), (1, 11));
        assert_eq!(f.line_col(f.text.len() as u32), (2, 2));
    }

    #[test]
    fn columns_far_into_a_long_line() {
        let text = format!("{}x", "é".repeat(1000));
        let f = file(&text);
        assert_eq!(f.line_col(2000), (1, 1001));
    }

    #[test]
    fn only_newline_ends_a_line() {
        for sep in ["\r", "\x0b", "\x0c", "\u{85}", "\u{2028}", "\u{2029}"] {
            let text = format!("one{sep}two\nthree");
            let lo = text.find('t').unwrap() as u32;
            let out = render(&text, lo, lo + 3);
            assert!(out.starts_with("t.bp:1:5: error: boom\n"), "{sep:?}: {out}");
            assert!(out.contains(" 1 │ one"), "{sep:?}: {out}");
            assert!(out.contains("two"), "{sep:?}: {out}");
            assert!(!out.contains("three"), "{sep:?}: {out}");
            assert_eq!(out.lines().count(), 6, "{sep:?}: {out}");
        }
    }

    #[test]
    fn the_span_is_marked_under_the_line() {
        let out = render("let x: int = \"a\"\n", 13, 16);
        assert_eq!(
            out,
            "t.bp:1:14: error: boom\n   │\n 1 │ let x: int = \"a\"\n   │              ─┬─\n   │               ╰───\n───╯\n"
        );
    }

    #[test]
    fn the_margin_shows_the_real_line_number() {
        let text = format!("{}let x: int = \"a\"\n", "\n".repeat(1233));
        let mut map = SourceMap::default();
        let f = map.add("t.bp".into(), text);
        let d = Diagnostic::warning(Span::new(f, 1233 + 13, 1233 + 16), "boom").with_note("why");
        assert_eq!(
            map.render(&d, false),
            "t.bp:1234:14: warning: boom\n      │\n 1234 │ let x: int = \"a\"\n      │              ─┬─\n      │               ╰───\n      │\n      │ Note: why\n──────╯\n"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let mut map = SourceMap::default();
        let f = map.add("t.bp".into(), "x\n".into());
        let d = Diagnostic::error(Span::new(f, 0, 1), "boom");
        assert!(!map.render(&d, false).contains('\x1b'));
        let coloured = map.render(&d, true);
        assert!(coloured.contains("\x1b[31merror\x1b[0m: boom\n"), "{coloured:?}");
        assert!(coloured.contains("1 │"), "{coloured:?}");
    }

    #[test]
    fn the_mark_after_wide_characters_and_tabs() {
        let out = render("\"漢字\"\tx\n", 9, 10);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[2], " 1 │ \"漢字\"    x");
        assert_eq!(lines[3], "   │           ┬");
    }

    #[test]
    fn crlf_line_ends_are_not_shown() {
        let out = render("ab\r\ncd\r\n", 4, 5);
        assert!(out.contains(" 2 │ cd\n"), "{out}");
    }

    #[test]
    fn span_at_the_end_of_the_file() {
        let out = render("abc", 3, 3);
        assert!(out.contains(" 1 │ abc\n   │    │\n"), "{out}");
    }

    #[test]
    fn notes_of_an_empty_file_are_shown() {
        let mut map = SourceMap::default();
        let f = map.add("t.bp".into(), String::new());
        let d = Diagnostic::error(Span::new(f, 0, 0), "boom").with_note("why");
        assert_eq!(map.render(&d, false), "t.bp:1:1: error: boom\nnote: why\n");
    }

    #[test]
    fn long_lines_are_cut_around_the_span() {
        let text = format!("{}X{}", "a".repeat(100_000), "b".repeat(100_000));
        let out = render(&text, 100_000, 100_001);
        assert!(out.len() < 600, "{}", out.len());
        let lines: Vec<&str> = out.lines().collect();
        let col = lines[2].chars().position(|c| c == 'X');
        assert_eq!(lines[3].chars().position(|c| c == '┬'), col, "{out}");
        assert!(lines[2].contains('…'));
    }

    #[test]
    fn invisible_characters_are_shown_visibly() {
        let out = render("a\u{2028}b\x0cc\0d\x0be\u{85}f\rg", 0, 1);
        assert!(
            out.contains(" 1 │ a\u{FFFD}b\u{240C}c\u{2400}d\u{240B}e\u{FFFD}f\u{240D}g\n"),
            "{out}"
        );
    }

    #[test]
    fn long_words_in_messages_are_shortened() {
        let long = "x".repeat(10_000_000);
        let msg = format!("unknown name '{long}'");
        let s = shorten_message(&msg);
        assert_eq!(s, format!("unknown name '{}…'", "x".repeat(MAX_QUOTED_WORD)));
        assert_eq!(shorten_message("fine 'name'"), "fine 'name'");
        let many = "a b ".repeat(1000);
        assert_eq!(shorten_message(&many).chars().count(), MAX_MESSAGE + 1);
    }

    #[test]
    fn diagnostics_beyond_the_cap_are_counted() {
        let mut d = Diagnostics::default();
        for _ in 0..MAX_DIAGNOSTICS + 5 {
            d.error(Span::default(), "e");
            d.warning(Span::default(), "w");
        }
        assert_eq!(d.list.len(), 2 * MAX_DIAGNOSTICS);
        assert_eq!((d.dropped_errors, d.dropped_warnings), (5, 5));
        assert!(d.has_errors());
    }
}
