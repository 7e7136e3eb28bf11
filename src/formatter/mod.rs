//! `bp fmt`: the canonical layout of BetterPython source.
//!
//! The formatter rewrites the *layout* of a program and nothing else: it re-emits
//! the lexer's tokens with canonical spacing and indentation, and keeps every
//! comment and the author's line structure. Because the tokens are the program,
//! formatting cannot change what a program means; [`format_source`] checks that by
//! lexing its own output again and refusing to return text whose tokens differ.
//!
//! The style, in the manner of black (docs/user-guide.md, "bp fmt"):
//! * 4 spaces per block level; a line continued inside brackets is indented one
//!   more level per bracket open at its start;
//! * spacing as [`spacing::space_between`] decides: one space around binary
//!   operators, `=` and `->`, after `,` and `:` (none before them), none inside
//!   brackets, after a unary operator, or before the `(` of a call or the `[` of an
//!   index;
//! * comments stay where they are: a comment after code gets two spaces before its
//!   `#`, a comment on a line of its own the indentation of the block it is in;
//! * blank lines are kept, at most two in a row at the top level and one inside a
//!   block, none at the start of the file or of a block; a top-level definition
//!   (`def`, `struct`, `class`, `enum`, with its decorators and the comments right
//!   above it) is separated from what precedes and follows it by a blank line;
//! * no trailing whitespace, `\n` line ends, one `\n` at the end of the file.
//!
//! Long lines are not re-wrapped: the author's breaks inside brackets are kept.

pub mod command;
mod spacing;

use crate::diag::Diagnostics;
use crate::lexer::{self, Token, TokenKind};

/// Spaces per block level (and per bracket in a continued line).
const INDENT: usize = 4;

/// Format a whole source file (its bytes, as read). Returns the formatted bytes,
/// or the diagnostics of a file that does not parse: only a program that parses
/// is formatted.
pub fn format_source(bytes: Vec<u8>) -> Result<Vec<u8>, Diagnostics> {
    let decoded = lexer::decode_source(bytes);
    let raw = decoded.raw.as_deref();
    let mut diags = Diagnostics::default();
    crate::parser::parse_decoded(&decoded.text, raw, 0, "fmt", &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    let tokens = lexer::lex_decoded(&decoded.text, raw, 0, &mut diags);
    let src = raw.unwrap_or(decoded.text.as_bytes());
    let out = Formatter::new(src).run(&tokens);
    check_same_tokens(&tokens, src, &out)?;
    Ok(out)
}

/// The safety net: the output must lex to exactly the tokens of the input.
fn check_same_tokens(before: &[Token], src: &[u8], out: &[u8]) -> Result<(), Diagnostics> {
    let decoded = lexer::decode_source(out.to_vec());
    let mut diags = Diagnostics::default();
    let after = lexer::lex_decoded(&decoded.text, decoded.raw.as_deref(), 0, &mut diags);
    let text = |t: &Token, bytes: &[u8]| {
        bytes
            .get(t.span.lo as usize..t.span.hi as usize)
            .map(<[u8]>::to_vec)
    };
    // An f-string token carries the offsets of its interpolations, which move: its
    // text must not change.
    let same = |a: &Token, b: &Token| match (&a.kind, &b.kind) {
        (TokenKind::FStr(_), TokenKind::FStr(_)) => text(a, src) == text(b, out),
        (x, y) => x == y,
    };
    let differs_at = before
        .iter()
        .zip(&after)
        .position(|(a, b)| !same(a, b))
        .or((before.len() != after.len()).then_some(before.len().min(after.len())));
    match differs_at {
        None if !diags.has_errors() => Ok(()),
        at => {
            let at = at.unwrap_or(0);
            let span = before
                .get(at)
                .or(before.last())
                .map(|t| t.span)
                .unwrap_or_default();
            let mut diags = Diagnostics::default();
            diags.error(
                span,
                "internal error: formatting would change the program's tokens here; the file is left as it is",
            );
            Err(diags)
        }
    }
}

/// A comment on a line of its own, waiting for the code after it (which decides
/// its indentation).
struct Comment {
    /// Blank lines before it.
    blank_before: usize,
    /// Its column in the source.
    column: usize,
    text: Vec<u8>,
}

struct Formatter<'s> {
    src: &'s [u8],
    out: Vec<u8>,
    /// Source columns of the open blocks (the top level is 0).
    blocks: Vec<usize>,
    /// Source columns of the blocks closed since the last line, innermost last.
    closed: Vec<usize>,
    /// Brackets open in the current logical line.
    brackets: usize,
    /// Something has been written on the current output line.
    line_open: bool,
    /// The previous token of the current logical line, and whether it was a unary
    /// operator.
    prev: Option<(TokenKind, bool)>,
    /// The first token of the current logical line.
    first: Option<TokenKind>,
    /// Own-line comments since the last line of code.
    comments: Vec<Comment>,
    /// Blank lines since the last line of code or comment.
    blank: usize,
    /// The last logical line ended with `:` (it opened a block).
    opened_block: bool,
    /// A top-level block was closed since the last line (a definition ended).
    closed_definition: bool,
    /// The first token of the last top-level logical line.
    last_top: Option<TokenKind>,
}

impl<'s> Formatter<'s> {
    fn new(src: &'s [u8]) -> Formatter<'s> {
        Formatter {
            src,
            out: Vec::with_capacity(src.len() + src.len() / 8),
            blocks: vec![0],
            closed: Vec::new(),
            brackets: 0,
            line_open: false,
            prev: None,
            first: None,
            comments: Vec::new(),
            blank: 0,
            opened_block: false,
            closed_definition: false,
            last_top: None,
        }
    }

    fn run(mut self, tokens: &[Token]) -> Vec<u8> {
        let mut end = 0usize;
        for tok in tokens {
            let (lo, hi) = (tok.span.lo as usize, tok.span.hi as usize);
            self.gap(end, lo);
            match &tok.kind {
                TokenKind::Newline => self.end_line(),
                TokenKind::Indent => {
                    let column = self.column(lo);
                    self.blocks.push(column);
                }
                TokenKind::Dedent => {
                    if self.blocks.len() > 1 {
                        if let Some(c) = self.blocks.pop() {
                            self.closed.push(c);
                        }
                    }
                    if self.blocks.len() == 1 {
                        self.closed_definition = true;
                    }
                }
                TokenKind::Eof => {}
                kind => self.token(kind, lo, hi),
            }
            end = end.max(hi);
        }
        self.gap(end, self.src.len());
        if !self.comments.is_empty() {
            let level = self.blocks.len() - 1;
            self.flush_comments(level, false);
        }
        self.out
    }

    /// The source column of offset `at` (indentation has no tabs: the lexer
    /// rejects them).
    fn column(&self, at: usize) -> usize {
        let line_start = self.src[..at]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        at - line_start
    }

    /// The text between two tokens: blanks, line breaks and comments (the lexer
    /// skips nothing else).
    fn gap(&mut self, lo: usize, hi: usize) {
        if lo >= hi {
            return;
        }
        let at_line_start = lo == 0 || self.src[lo - 1] == b'\n';
        let mut start = lo;
        let mut broke_line = false;
        let pieces: Vec<&[u8]> = self.src[lo..hi].split(|&c| c == b'\n').collect();
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            let text = trim(piece);
            let column = self.column(start) + (piece.len() - trim_start(piece).len());
            start += piece.len() + 1;
            if i > 0 {
                broke_line = true;
            }
            let whole_line = (i > 0 || at_line_start) && i < last;
            if text.is_empty() {
                if whole_line {
                    self.blank += 1;
                }
                continue;
            }
            if i == 0 && self.line_open {
                // A comment after code.
                self.out.extend_from_slice(b"  ");
                self.out.extend_from_slice(text);
            } else {
                self.comments.push(Comment {
                    blank_before: std::mem::take(&mut self.blank),
                    column,
                    text: text.to_vec(),
                });
            }
        }
        if broke_line && self.brackets > 0 && self.line_open {
            // A line break inside brackets: the author's break is kept.
            self.out.push(b'\n');
            self.line_open = false;
        }
    }

    /// A token of code.
    fn token(&mut self, kind: &TokenKind, lo: usize, hi: usize) {
        if !self.line_open {
            self.start_line(kind);
        } else if let Some((prev, prev_unary)) = &self.prev {
            if spacing::space_between(prev, *prev_unary, kind, self.first.as_ref()) {
                self.out.push(b' ');
            }
        }
        self.out.extend_from_slice(&self.src[lo..hi]);
        let unary = spacing::is_unary(kind, self.prev.as_ref().map(|(k, _)| k));
        match kind {
            TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => self.brackets += 1,
            TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => {
                self.brackets = self.brackets.saturating_sub(1)
            }
            _ => {}
        }
        if self.first.is_none() {
            self.first = Some(kind.clone());
        }
        self.prev = Some((kind.clone(), unary));
    }

    /// Begin an output line with `kind`: blank lines and comments before it, then
    /// its indentation.
    fn start_line(&mut self, kind: &TokenKind) {
        let level = self.blocks.len() - 1;
        let indent = if self.first.is_none() {
            self.separate_line(kind, level);
            level
        } else {
            // A continued line: one more level per bracket open at its start.
            let closing = matches!(kind, TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace);
            let depth = self.brackets - usize::from(closing && self.brackets > 0);
            self.blank = 0;
            self.flush_comments(level + depth, true);
            level + depth
        };
        self.out.resize(self.out.len() + indent * INDENT, b' ');
        self.line_open = true;
    }

    /// The blank lines and comments before a logical line at block level `level`
    /// whose first token is `kind`.
    fn separate_line(&mut self, kind: &TokenKind, level: usize) {
        // A definition is set apart from what precedes it (but not from its own
        // decorators) and from what follows it.
        let after_decorator = matches!(self.last_top, Some(TokenKind::At));
        let defines = spacing::starts_definition(kind) && !after_decorator;
        let needs_gap = level == 0 && (self.closed_definition || defines);
        if level == 0 {
            self.last_top = Some(kind.clone());
        }
        let at_file_start = self.out.is_empty();
        // Nothing separates a block's first line from its header, or a decorator
        // from what it decorates.
        let first_in_block = self.opened_block || (level == 0 && after_decorator);
        self.closed_definition = false;
        self.opened_block = false;
        let max_blank = if level == 0 { 2 } else { 1 };
        // The comments right above the line (no blank line between) belong to it.
        let mut attached = self.comments.len();
        if self.blank == 0 {
            while attached > 0 && self.comment_level(&self.comments[attached - 1]) == level {
                attached -= 1;
                if self.comments[attached].blank_before > 0 {
                    break;
                }
            }
        }
        let comments = std::mem::take(&mut self.comments);
        let line_blank = std::mem::take(&mut self.blank);
        let mut first = true;
        for (i, c) in comments.iter().enumerate() {
            let mut blank = c.blank_before.min(max_blank);
            if i == attached && needs_gap && !at_file_start {
                blank = blank.max(1);
            }
            if first && (at_file_start || first_in_block) {
                blank = 0;
            }
            first = false;
            let indent = self.comment_level(c);
            self.write_comment_line(blank, indent, &c.text);
        }
        let mut blank = line_blank.min(max_blank);
        if attached == comments.len() && needs_gap && !at_file_start {
            blank = blank.max(1);
        }
        if first && (at_file_start || first_in_block) {
            blank = 0;
        }
        self.blank_lines(blank);
        self.closed.clear();
    }

    /// The block level of an own-line comment before the next line of code. Between
    /// two lines of one block it is that block's; before the first line of a block,
    /// that block's; where blocks end, the innermost one (open or just closed) whose
    /// column is at most the comment's.
    fn comment_level(&self, c: &Comment) -> usize {
        let next = self.blocks.len() - 1;
        let deepest = next + self.closed.len();
        let levels = self.blocks.iter().chain(self.closed.iter().rev());
        let by_column = levels
            .take_while(|&&col| col <= c.column)
            .count()
            .saturating_sub(1);
        by_column.clamp(next, deepest)
    }

    /// Write the pending comments at `indent` levels (inside brackets) or at their
    /// own levels.
    fn flush_comments(&mut self, indent: usize, fixed: bool) {
        let max_blank = if indent == 0 { 2 } else { 1 };
        let comments = std::mem::take(&mut self.comments);
        for c in &comments {
            let blank = if fixed || self.out.is_empty() {
                0
            } else {
                c.blank_before.min(max_blank)
            };
            let level = if fixed { indent } else { self.comment_level(c) };
            self.write_comment_line(blank, level, &c.text);
        }
    }

    fn write_comment_line(&mut self, blank: usize, level: usize, text: &[u8]) {
        self.blank_lines(blank);
        self.out.resize(self.out.len() + level * INDENT, b' ');
        self.out.extend_from_slice(text);
        self.out.push(b'\n');
    }

    fn blank_lines(&mut self, n: usize) {
        if !self.out.is_empty() {
            self.out.resize(self.out.len() + n, b'\n');
        }
    }

    /// The end of a logical line.
    fn end_line(&mut self) {
        if self.line_open {
            self.out.push(b'\n');
        }
        self.opened_block = matches!(self.prev, Some((TokenKind::Colon, _)));
        self.line_open = false;
        self.prev = None;
        self.first = None;
        self.brackets = 0;
    }
}

/// `b` without leading blanks.
fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| is_blank(c)).count();
    &b[n..]
}

/// `b` without leading and trailing blanks.
fn trim(b: &[u8]) -> &[u8] {
    let b = trim_start(b);
    let n = b.iter().rev().take_while(|&&c| is_blank(c)).count();
    &b[..b.len() - n]
}

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\x0c')
}

#[cfg(test)]
mod tests;
