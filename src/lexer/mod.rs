//! Lexer: raw tokens from `logos`, then a layout pass producing `NEWLINE`, `INDENT`
//! and `DEDENT` (LANGUAGE.md §2, with the §16 decisions: tabs in indentation are an
//! error, newlines inside brackets continue the line, comment-only and blank lines are
//! ignored, CRLF is accepted).
//!
//! The lexer never panics and never stops early: every problem becomes a diagnostic
//! and lexing continues with the next character.

use crate::ast::{FileId, Span};
use crate::diag::{Diagnostic, Diagnostics};
use logos::Logos;
use std::rc::Rc;

#[cfg(test)]
mod tests;

/// One piece of an f-string as split by the lexer.
#[derive(Clone, Debug, PartialEq)]
pub enum FStrPiece {
    /// Literal bytes (escapes, `{{` and `}}` already processed).
    Lit(Vec<u8>),
    /// The source text of one `{...}` interpolation (with `\"` and `\\` unescaped)
    /// and, for every byte of `text` plus one past the end, its absolute byte offset in
    /// the file, so that a sub-parser reports errors at the right place.
    Expr { text: String, map: Vec<u32> },
}

/// A problem found inside a logos callback: relative byte range and message.
#[derive(Clone, Debug)]
pub struct RawError {
    lo: usize,
    hi: usize,
    msg: String,
    /// Offset of an earlier multi-line string literal worth mentioning in a note.
    multiline_hint: Option<usize>,
}

/// State shared with the logos callbacks.
#[derive(Default)]
pub struct Extras {
    /// The file's bytes when some are not UTF-8 (the text being lexed then holds a
    /// placeholder at each such byte, see [`decode_source`]): string literals take
    /// their content from here.
    raw: Option<Rc<[u8]>>,
    /// Content ranges of the string literals and f-strings lexed so far, in order
    /// (only recorded with `raw`).
    literal_ranges: Vec<(usize, usize)>,
    errors: Vec<RawError>,
    /// Start of the last string literal containing a raw newline: if a later literal
    /// is unterminated, that one probably lacks its closing quote.
    last_multiline: Option<usize>,
    /// The last literal was unterminated (the layout pass then closes open brackets,
    /// so that the damage stays on that line).
    unterminated: bool,
}

/// Token kinds. The variants with a `logos` attribute are produced by the raw lexer;
/// `Indent`, `Dedent` and `Eof` are only produced by the layout pass.
#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(extras = Extras)]
#[logos(skip r"[ \t\r\f]+")]
#[logos(skip(r"#[^\n]*", allow_greedy = true))]
pub enum TokenKind {
    // ---- keywords (§2.5) plus `pass` (§16) ----
    #[token("and")]
    And,
    #[token("as")]
    As,
    #[token("assert")]
    Assert,
    #[token("break")]
    Break,
    #[token("case")]
    Case,
    #[token("catch")]
    Catch,
    #[token("class")]
    Class,
    #[token("continue")]
    Continue,
    #[token("default")]
    Default,
    #[token("def")]
    Def,
    #[token("elif")]
    Elif,
    #[token("else")]
    Else,
    #[token("enum")]
    Enum,
    #[token("export")]
    Export,
    #[token("extern")]
    Extern,
    #[token("false")]
    False,
    #[token("finally")]
    Finally,
    #[token("fn")]
    Fn,
    #[token("for")]
    For,
    #[token("from")]
    From,
    #[token("if")]
    If,
    #[token("import")]
    Import,
    #[token("in")]
    In,
    #[token("is")]
    Is,
    #[token("let")]
    Let,
    #[token("match")]
    Match,
    #[token("new")]
    New,
    #[token("not")]
    Not,
    #[token("null")]
    Null,
    #[token("or")]
    Or,
    #[token("ptr")]
    Ptr,
    #[token("return")]
    Return,
    #[token("self")]
    SelfKw,
    #[token("struct")]
    Struct,
    #[token("super")]
    Super,
    #[token("throw")]
    Throw,
    #[token("true")]
    True,
    #[token("try")]
    Try,
    #[token("while")]
    While,
    #[token("pass")]
    Pass,

    // ---- identifiers and literals ----
    #[regex("[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice().to_string())]
    Ident(String),
    /// An integer literal's value. Values above `i64::MAX` are kept (saturating at
    /// `u64::MAX`) so that the parser can accept `-9223372036854775808` and report
    /// `integer literal too large` otherwise.
    #[regex("[0-9]+", lex_decimal)]
    #[regex("0[xX][0-9A-Za-z_]*", lex_hex)]
    #[regex("0[bB][0-9A-Za-z_]*", lex_binary)]
    Int(u64),
    #[regex(r"[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?", lex_float)]
    #[regex(r"[0-9]+[eE][+-]?[0-9]+", lex_float)]
    #[regex(r"[0-9]+(\.[0-9]+)?[eE][+-]?", lex_bad_exponent)]
    Float(f64),
    /// A string literal's bytes (escapes processed).
    #[token("\"", lex_string)]
    Str(Vec<u8>),
    #[token("f\"", lex_fstring)]
    FStr(Vec<FStrPiece>),

    // ---- operators and punctuation (§2.6) ----
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("~")]
    Tilde,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("=")]
    Assign,
    #[token("->")]
    Arrow,
    #[token(":")]
    Colon,
    #[token(",")]
    Comma,
    #[token(".")]
    Dot,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("@")]
    At,
    #[token("?")]
    Question,

    // ---- layout ----
    /// End of a logical line (a raw `\n` / `\r\n` before the layout pass).
    #[regex(r"\r?\n")]
    Newline,
    Indent,
    Dedent,
    Eof,
}

impl TokenKind {
    /// The fixed spelling of keywords and punctuation (`None` for tokens with data
    /// and layout tokens).
    pub fn text(&self) -> Option<&'static str> {
        use TokenKind::*;
        Some(match self {
            And => "and",
            As => "as",
            Assert => "assert",
            Break => "break",
            Case => "case",
            Catch => "catch",
            Class => "class",
            Continue => "continue",
            Default => "default",
            Def => "def",
            Elif => "elif",
            Else => "else",
            Enum => "enum",
            Export => "export",
            Extern => "extern",
            False => "false",
            Finally => "finally",
            Fn => "fn",
            For => "for",
            From => "from",
            If => "if",
            Import => "import",
            In => "in",
            Is => "is",
            Let => "let",
            Match => "match",
            New => "new",
            Not => "not",
            Null => "null",
            Or => "or",
            Ptr => "ptr",
            Return => "return",
            SelfKw => "self",
            Struct => "struct",
            Super => "super",
            Throw => "throw",
            True => "true",
            Try => "try",
            While => "while",
            Pass => "pass",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            EqEq => "==",
            NotEq => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Amp => "&",
            Pipe => "|",
            Caret => "^",
            Tilde => "~",
            Shl => "<<",
            Shr => ">>",
            Assign => "=",
            Arrow => "->",
            Colon => ":",
            Comma => ",",
            Dot => ".",
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            LBrace => "{",
            RBrace => "}",
            At => "@",
            Question => "?",
            Ident(_) | Int(_) | Float(_) | Str(_) | FStr(_) | Newline | Indent | Dedent | Eof => return None,
        })
    }

    /// How the token is named in diagnostics: `'def'`, `'('`, `identifier 'x'`,
    /// `end of line`, ...
    pub fn describe(&self) -> String {
        use TokenKind::*;
        match self {
            Ident(name) => format!("identifier '{name}'"),
            Int(_) => "integer literal".to_string(),
            Float(_) => "float literal".to_string(),
            Str(_) => "string literal".to_string(),
            FStr(_) => "f-string".to_string(),
            Newline => "end of line".to_string(),
            Indent => "indentation".to_string(),
            Dedent => "end of block".to_string(),
            Eof => "end of file".to_string(),
            other => format!("'{}'", other.text().unwrap_or("?")),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Lex a whole source file. The result always ends with [`TokenKind::Eof`], preceded
/// by a `NEWLINE` if the last line had tokens and by one `DEDENT` per open block.
pub fn lex(src: &str, file: FileId, diags: &mut Diagnostics) -> Vec<Token> {
    Layout::new(src, file, None, false, diags).run()
}

/// Lex a file decoded by [`decode_source`]: `raw` is [`Decoded::raw`], the file's bytes
/// when some are not UTF-8. Such bytes are accepted inside string literals (the
/// string holds them, LANGUAGE.md §2.1) and are an error anywhere else.
pub fn lex_decoded(src: &str, raw: Option<&[u8]>, file: FileId, diags: &mut Diagnostics) -> Vec<Token> {
    let mut layout = Layout::new(src, file, None, false, diags);
    layout.raw = raw.filter(|r| r.len() == src.len());
    layout.run()
}

/// Lex a snippet (`bp -c`): its statements become the body of a `def main() ->
/// void` whose header tokens are zero-width at offset 0, so every position is the
/// snippet's own.
pub fn lex_snippet(src: &str, raw: Option<&[u8]>, file: FileId, diags: &mut Diagnostics) -> Vec<Token> {
    let toks = lex_decoded(src, raw, file, diags);
    wrap_statements(toks, file, &[(0, src.len(), "main")])
}

/// Make the tokens of each region `(from, to, name)` (byte ranges in source
/// order, each starting a line at indentation 0) the body of a `def NAME() ->
/// void` whose header tokens are zero-width at `from`, so every position stays
/// the source's own: a snippet (`bp -c`) is one region, a `bp repl` session has
/// one per input of statements between its definitions.
pub fn wrap_statements(mut toks: Vec<Token>, file: FileId, regions: &[(usize, usize, &str)]) -> Vec<Token> {
    let eof = toks.pop();
    let mut out = Vec::with_capacity(toks.len() + 12 * regions.len());
    let mut rest = toks.into_iter().peekable();
    let at = |kind: TokenKind, offset: usize| Token {
        kind,
        span: Span::new(file, offset as u32, offset as u32),
    };
    for &(from, to, name) in regions {
        // What comes before, with the dedents at `from` that close it.
        let before = |t: &Token| {
            let lo = t.span.lo as usize;
            lo < from || (lo == from && matches!(t.kind, TokenKind::Dedent | TokenKind::Newline))
        };
        out.extend(std::iter::from_fn(|| rest.next_if(before)));
        let header = [
            TokenKind::Def,
            TokenKind::Ident(name.to_string()),
            TokenKind::LParen,
            TokenKind::RParen,
            TokenKind::Arrow,
            TokenKind::Ident("void".to_string()),
            TokenKind::Colon,
            TokenKind::Newline,
            TokenKind::Indent,
        ];
        out.extend(header.into_iter().map(|k| at(k, from)));
        let body_start = out.len();
        // The body, with the dedents at `to` that close its own blocks.
        let inside = |t: &Token| {
            let lo = t.span.lo as usize;
            lo < to || (lo == to && t.kind == TokenKind::Dedent)
        };
        out.extend(std::iter::from_fn(|| rest.next_if(inside)));
        if out.len() == body_start {
            out.extend([at(TokenKind::Pass, from), at(TokenKind::Newline, from)]);
        }
        out.push(at(TokenKind::Dedent, to));
    }
    out.extend(rest);
    out.extend(eof);
    out
}

/// A source file as the front end sees it.
pub struct Decoded {
    /// The text, with every byte that is not UTF-8 replaced by [`PLACEHOLDER`] (so
    /// that offsets are the file's, after the byte-order mark).
    pub text: String,
    /// The file's bytes (after the byte-order mark) when some are not UTF-8.
    pub raw: Option<Vec<u8>>,
    /// Sorted offsets of the bytes that are not UTF-8.
    pub invalid: Vec<u32>,
}

/// Stands for a byte that is not UTF-8 in [`Decoded::text`]; the lexer tells it from
/// a real NUL by looking at [`Decoded::raw`].
pub const PLACEHOLDER: char = '\0';

/// The UTF-8 byte-order mark, skipped at the start of a file as Python does.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decode a source file: skip a UTF-8 byte-order mark and replace bytes that are
/// not UTF-8 by placeholders (one per byte) that the lexer accepts only inside
/// string literals.
pub fn decode_source(mut bytes: Vec<u8>) -> Decoded {
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => {
            return Decoded {
                text,
                raw: None,
                invalid: Vec::new(),
            }
        }
        Err(e) => e.into_bytes(),
    };
    let mut text = String::with_capacity(bytes.len());
    let mut invalid = Vec::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for _ in chunk.invalid() {
            invalid.push(text.len() as u32);
            text.push(PLACEHOLDER);
        }
    }
    Decoded {
        text,
        raw: Some(bytes),
        invalid,
    }
}

/// Lex the text of an f-string interpolation: no layout tokens at all (newlines are
/// ignored as inside brackets), spans translated through `map` (see
/// [`FStrPiece::Expr`]). Ends with `Eof`.
pub fn lex_fragment(src: &str, file: FileId, map: &[u32], diags: &mut Diagnostics) -> Vec<Token> {
    Layout::new(src, file, Some(map), true, diags).run()
}

// ---------------------------------------------------------------------------------
// logos callbacks

type Lx<'s> = logos::Lexer<'s, TokenKind>;

fn push_err(lex: &mut Lx, lo: usize, hi: usize, msg: impl Into<String>) {
    lex.extras.errors.push(RawError {
        lo,
        hi,
        msg: msg.into(),
        multiline_hint: None,
    });
}

fn lex_decimal(lex: &mut Lx) -> u64 {
    let mut v: u64 = 0;
    for b in lex.slice().bytes() {
        v = v.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    v
}

fn lex_radix(lex: &mut Lx, radix: u32, what: &str) -> u64 {
    let digits = lex.slice().get(2..).unwrap_or("");
    let mut v: u64 = 0;
    let mut ok = !digits.is_empty();
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => v = v.saturating_mul(u64::from(radix)).saturating_add(u64::from(d)),
            None => ok = false,
        }
    }
    if !ok {
        let span = lex.span();
        push_err(
            lex,
            span.start,
            span.end,
            format!("invalid {what} literal '{}'", lex.slice()),
        );
        return 0;
    }
    v
}

fn lex_hex(lex: &mut Lx) -> u64 {
    lex_radix(lex, 16, "hex")
}

fn lex_binary(lex: &mut Lx) -> u64 {
    lex_radix(lex, 2, "binary")
}

fn lex_float(lex: &mut Lx) -> f64 {
    lex.slice().parse::<f64>().unwrap_or(0.0)
}

fn lex_bad_exponent(lex: &mut Lx) -> f64 {
    let span = lex.span();
    push_err(
        lex,
        span.start,
        span.end,
        "invalid number: expected a digit after the exponent",
    );
    0.0
}

/// Find the closing quote of a string whose content starts at `bytes[0]`. Returns the
/// content length and whether the literal is terminated. An unterminated literal is
/// cut at the end of its first line so that the rest of the file still lexes.
fn string_end(bytes: &[u8]) -> (usize, bool) {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return (i, true),
            _ => i += 1,
        }
    }
    (
        bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len()),
        false,
    )
}

fn hex_val(b: Option<&u8>) -> Option<u8> {
    let b = *b?;
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Process the escape sequence whose backslash is at `text[i]`; append its bytes to
/// `out` and return the index after it. `base` is the offset of `text` in the source;
/// `b` is the literal's bytes (`text` itself, or the raw bytes of a file that is not
/// all UTF-8: they differ only at placeholders).
fn escape(text: &str, b: &[u8], i: usize, base: usize, out: &mut Vec<u8>, errs: &mut Vec<RawError>) -> usize {
    let simple = match b.get(i + 1) {
        None => return i + 1, // only in an unterminated literal, already reported
        Some(b'n') => b'\n',
        Some(b't') => b'\t',
        Some(b'"') => b'"',
        Some(b'\\') => b'\\',
        Some(b'r') => b'\r',
        Some(b'0') => 0,
        Some(b'x') => {
            if let (Some(h), Some(l)) = (hex_val(b.get(i + 2)), hex_val(b.get(i + 3))) {
                out.push(h * 16 + l);
                return i + 4;
            }
            errs.push(RawError {
                lo: base + i,
                hi: base + i + 2,
                msg: "invalid escape sequence '\\x': expected two hex digits".to_string(),
                multiline_hint: None,
            });
            return i + 2;
        }
        Some(&byte) if text.as_bytes().get(i + 1) != Some(&byte) => {
            // A byte that is not UTF-8 after the backslash.
            errs.push(RawError {
                lo: base + i,
                hi: base + i + 2,
                msg: format!("unknown escape sequence: '\\' followed by the byte 0x{byte:02X}"),
                multiline_hint: None,
            });
            out.push(byte);
            return i + 2;
        }
        Some(_) => {
            // `i + 1` follows an ASCII backslash, so it is a char boundary.
            let ch = text.get(i + 1..).and_then(|s| s.chars().next()).unwrap_or('?');
            let shown: String = if ch.is_control() {
                ch.escape_debug().collect()
            } else {
                ch.to_string()
            };
            errs.push(RawError {
                lo: base + i,
                hi: base + i + 1 + ch.len_utf8(),
                msg: format!("unknown escape sequence '\\{shown}'"),
                multiline_hint: None,
            });
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            return i + 1 + ch.len_utf8();
        }
    };
    out.push(simple);
    i + 2
}

/// Scan the literal after the opening quote (whose span is `lex.span()`), bump past it
/// and return its raw content and the content's offset.
fn scan_literal<'s>(lex: &mut Lx<'s>) -> (&'s str, usize) {
    let open = lex.span();
    let rest: &'s str = lex.remainder();
    let (end, terminated) = string_end(rest.as_bytes());
    let content = rest.get(..end).unwrap_or("");
    if terminated {
        lex.bump(end + 1);
        if content.contains('\n') {
            lex.extras.last_multiline = Some(open.start);
        }
    } else {
        lex.bump(end);
        lex.extras.unterminated = true;
        let hint = lex.extras.last_multiline;
        lex.extras.errors.push(RawError {
            lo: open.start,
            hi: open.end,
            msg: "unterminated string".to_string(),
            multiline_hint: hint,
        });
    }
    if lex.extras.raw.is_some() {
        lex.extras
            .literal_ranges
            .push((open.end, open.end + content.len()));
    }
    (content, open.end)
}

/// The bytes of a literal's content at `base`: from the file's raw bytes when it has
/// bytes that are not UTF-8 (the text holds placeholders there).
fn literal_bytes<'s>(raw: &'s Option<Rc<[u8]>>, content: &'s str, base: usize) -> &'s [u8] {
    raw.as_deref()
        .and_then(|r| r.get(base..base + content.len()))
        .unwrap_or(content.as_bytes())
}

fn lex_string(lex: &mut Lx) -> Vec<u8> {
    let (content, base) = scan_literal(lex);
    let raw = lex.extras.raw.clone();
    let b = literal_bytes(&raw, content, base);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i = escape(content, b, i, base, &mut out, &mut lex.extras.errors);
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn lex_fstring(lex: &mut Lx) -> Vec<FStrPiece> {
    let (content, base) = scan_literal(lex);
    let raw = lex.extras.raw.clone();
    let b = literal_bytes(&raw, content, base);
    split_fstring(content, b, base, &mut lex.extras.errors)
}

/// Split the raw content of an f-string (starting at source offset `base`) into
/// literal pieces and interpolations. `b` is the content's bytes (see [`escape`]):
/// literal pieces may hold bytes that are not UTF-8, interpolations may not.
fn split_fstring(content: &str, b: &[u8], base: usize, errs: &mut Vec<RawError>) -> Vec<FStrPiece> {
    let t = content.as_bytes();
    let mut pieces = Vec::new();
    let mut lit = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i = escape(content, b, i, base, &mut lit, errs),
            b'{' if b.get(i + 1) == Some(&b'{') => {
                lit.push(b'{');
                i += 2;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                lit.push(b'}');
                i += 2;
            }
            b'{' => {
                // Find the matching `}`, counting nested braces.
                let mut depth = 1;
                let mut j = i + 1;
                while j < b.len() {
                    match b[j] {
                        b'\\' => j += 1,
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if j >= b.len() {
                    errs.push(RawError {
                        lo: base + i,
                        hi: base + i + 1,
                        msg: "unterminated {} in f-string".to_string(),
                        multiline_hint: None,
                    });
                    i = b.len();
                    continue;
                }
                if !lit.is_empty() {
                    pieces.push(FStrPiece::Lit(std::mem::take(&mut lit)));
                }
                // Interpolation text with `\"` and `\\` unescaped (the original
                // unescapes the whole f-string before looking for braces).
                let mut text = Vec::with_capacity(j - i);
                let mut map = Vec::with_capacity(j - i + 1);
                let mut k = i + 1;
                while k < j {
                    if b[k] == b'\\' && matches!(b.get(k + 1), Some(b'"') | Some(b'\\')) && k + 1 < j {
                        text.push(b[k + 1]);
                        map.push((base + k) as u32);
                        k += 2;
                    } else if b[k] != t[k] {
                        errs.push(not_utf8_error(base + k, base + k + 1, b[k]));
                        text.push(b' ');
                        map.push((base + k) as u32);
                        k += 1;
                    } else {
                        text.push(b[k]);
                        map.push((base + k) as u32);
                        k += 1;
                    }
                }
                map.push((base + j) as u32);
                // Only ASCII bytes were removed, so the text is still valid UTF-8.
                let text = String::from_utf8(text).unwrap_or_default();
                pieces.push(FStrPiece::Expr { text, map });
                i = j + 1;
            }
            c => {
                lit.push(c);
                i += 1;
            }
        }
    }
    if !lit.is_empty() || pieces.is_empty() {
        pieces.push(FStrPiece::Lit(lit));
    }
    pieces
}

/// A byte that is not UTF-8 outside a string literal.
fn not_utf8_error(lo: usize, hi: usize, byte: u8) -> RawError {
    let what = if hi - lo > 1 {
        "bytes starting with"
    } else {
        "byte"
    };
    RawError {
        lo,
        hi,
        msg: format!(
            "invalid UTF-8: {what} 0x{byte:02X} (only string literals may hold bytes that are not UTF-8)"
        ),
        multiline_hint: None,
    }
}

// ---------------------------------------------------------------------------------
// layout pass

struct Layout<'a> {
    src: &'a str,
    file: FileId,
    /// Offset translation for f-string fragments (`None`: identity).
    map: Option<&'a [u32]>,
    /// Fragment mode: no NEWLINE / INDENT / DEDENT.
    fragment: bool,
    diags: &'a mut Diagnostics,
    out: Vec<Token>,
    indents: Vec<u32>,
    /// Open `(` `[` `{` count.
    depth: u32,
    /// Offset just after the last raw newline.
    line_start: usize,
    /// A raw newline was seen since the last token.
    at_line_start: bool,
    /// The current logical line has produced a token.
    line_has_content: bool,
    /// The file's bytes when some are not UTF-8 (see [`lex_decoded`]).
    raw: Option<&'a [u8]>,
}

impl<'a> Layout<'a> {
    fn new(
        src: &'a str,
        file: FileId,
        map: Option<&'a [u32]>,
        fragment: bool,
        diags: &'a mut Diagnostics,
    ) -> Self {
        Layout {
            src,
            file,
            map,
            fragment,
            diags,
            out: Vec::new(),
            indents: vec![0],
            depth: 0,
            line_start: 0,
            at_line_start: true,
            line_has_content: false,
            raw: None,
        }
    }

    /// Whether the text holds a placeholder for a byte that is not UTF-8 at `at`.
    fn is_placeholder(&self, at: usize) -> bool {
        self.raw.is_some_and(|r| r.get(at) != self.src.as_bytes().get(at))
    }

    /// Report the bytes that are not UTF-8 outside the string literals (`literals`:
    /// sorted content ranges), one error per run of such bytes.
    fn report_invalid_bytes(&mut self, literals: &[(usize, usize)]) {
        let Some(raw) = self.raw else { return };
        let src = self.src.as_bytes();
        let mut lits = literals.iter().peekable();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == src[i] {
                i += 1;
                continue;
            }
            while lits.peek().is_some_and(|&&(_, hi)| hi <= i) {
                lits.next();
            }
            let in_literal = lits.peek().is_some_and(|&&(lo, _)| lo <= i);
            let mut j = i + 1;
            while j < raw.len() && raw[j] != src[j] {
                j += 1;
            }
            if !in_literal {
                let e = not_utf8_error(i, j, raw[i]);
                self.raw_error(e);
            }
            i = j;
        }
    }

    fn abs(&self, rel: usize) -> u32 {
        match self.map {
            None => rel as u32,
            Some(m) => m.get(rel).or(m.last()).copied().unwrap_or(0),
        }
    }

    fn span(&self, lo: usize, hi: usize) -> Span {
        Span::new(self.file, self.abs(lo), self.abs(hi))
    }

    fn error(&mut self, lo: usize, hi: usize, msg: impl Into<String>) {
        let span = self.span(lo, hi);
        self.diags.error(span, msg);
    }

    fn raw_error(&mut self, e: RawError) {
        let span = self.span(e.lo, e.hi);
        let mut d = Diagnostic::error(span, e.msg);
        if let (Some(at), None) = (e.multiline_hint, self.map) {
            let line = 1 + self
                .src
                .as_bytes()
                .iter()
                .take(at)
                .filter(|&&b| b == b'\n')
                .count();
            d = d.with_note(format!(
                "the string literal starting on line {line} spans several lines; is its closing quote missing?"
            ));
        }
        self.diags.push(d);
    }

    /// `t.0.1` lexes as `t`, `.`, `0.1`: a float right after a `.` that is two
    /// runs of digits (no exponent) is two tuple indices, `0`, `.`, `1`. Returns
    /// whether it pushed them.
    fn split_tuple_path(&mut self, text: &str, lo: usize) -> bool {
        if self.out.last().map(|t| &t.kind) != Some(&TokenKind::Dot) {
            return false;
        }
        let Some((a, b)) = text.split_once('.') else {
            return false;
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return false;
        }
        let (Ok(x), Ok(y)) = (a.parse::<u64>(), b.parse::<u64>()) else {
            return false;
        };
        let dot = lo + a.len();
        self.token(TokenKind::Int(x), lo, dot);
        self.token(TokenKind::Dot, dot, dot + 1);
        self.token(TokenKind::Int(y), dot + 1, dot + 1 + b.len());
        true
    }

    fn push(&mut self, kind: TokenKind, lo: usize, hi: usize) {
        let span = self.span(lo, hi);
        self.out.push(Token { kind, span });
    }

    fn run(mut self) -> Vec<Token> {
        let src = self.src;
        let extras = Extras {
            raw: self.raw.map(Rc::from),
            ..Extras::default()
        };
        let mut lex = TokenKind::lexer_with_extras(src, extras);
        let mut last_unexpected = None;
        while let Some(res) = lex.next() {
            let range = lex.span();
            for e in std::mem::take(&mut lex.extras.errors) {
                self.raw_error(e);
            }
            match res {
                Ok(kind) => {
                    if matches!(kind, TokenKind::Float(_)) && self.split_tuple_path(lex.slice(), range.start)
                    {
                        continue;
                    }
                    self.token(kind, range.start, range.end);
                    if std::mem::take(&mut lex.extras.unterminated) {
                        self.depth = 0;
                    }
                }
                Err(()) => {
                    // A run of unexpected characters is one error (a file of garbage
                    // must not give one error per byte).
                    let continues_run = last_unexpected == Some(range.start);
                    last_unexpected = Some(range.end);
                    if continues_run || self.is_placeholder(range.start) {
                        continue; // placeholders: see `report_invalid_bytes`
                    }
                    let ch = lex.slice().chars().next().unwrap_or('?');
                    let shown: String = if ch.is_control() {
                        ch.escape_debug().collect()
                    } else {
                        ch.to_string()
                    };
                    self.error(range.start, range.end, format!("unexpected character '{shown}'"));
                }
            }
        }
        for e in std::mem::take(&mut lex.extras.errors) {
            self.raw_error(e);
        }
        let literals = std::mem::take(&mut lex.extras.literal_ranges);
        self.report_invalid_bytes(&literals);
        let end = src.len();
        if !self.fragment {
            if self.line_has_content {
                self.push(TokenKind::Newline, end, end);
            }
            while self.indents.len() > 1 {
                self.indents.pop();
                self.push(TokenKind::Dedent, end, end);
            }
        }
        self.push(TokenKind::Eof, end, end);
        self.out
    }

    fn token(&mut self, mut kind: TokenKind, lo: usize, hi: usize) {
        if let TokenKind::FStr(pieces) = &mut kind {
            // Translate interpolation offsets of a nested f-string to file offsets.
            if let Some(m) = self.map {
                for p in pieces.iter_mut() {
                    if let FStrPiece::Expr { map, .. } = p {
                        for off in map.iter_mut() {
                            *off = m.get(*off as usize).or(m.last()).copied().unwrap_or(0);
                        }
                    }
                }
            }
        }
        if self.fragment {
            if kind != TokenKind::Newline {
                self.push(kind, lo, hi);
            }
            return;
        }
        if kind == TokenKind::Newline {
            if self.depth == 0 && self.line_has_content {
                self.push(TokenKind::Newline, lo, hi);
                self.line_has_content = false;
            }
            self.at_line_start = true;
            self.line_start = hi;
            return;
        }
        if self.at_line_start && self.depth > 0 && lo == self.line_start && starts_item(&kind) {
            // A line starting at column 0 with an item keyword inside an unclosed
            // bracket: the bracket was surely never closed. Resynchronise here; the
            // parser reports the missing bracket.
            self.depth = 0;
            if self.line_has_content {
                self.push(TokenKind::Newline, lo, lo);
                self.line_has_content = false;
            }
        }
        if self.at_line_start && self.depth == 0 {
            self.indentation(lo);
        }
        self.at_line_start = false;
        self.line_has_content = true;
        match kind {
            TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => self.depth += 1,
            TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => {
                self.depth = self.depth.saturating_sub(1)
            }
            _ => {}
        }
        self.push(kind, lo, hi);
    }

    /// Compare the indentation of a line whose first token starts at `lo` with the
    /// indentation stack and emit INDENT / DEDENT tokens.
    fn indentation(&mut self, lo: usize) {
        let ws = self.src.as_bytes().get(self.line_start..lo).unwrap_or(&[]);
        let mut col: u32 = 0;
        let mut tab_at = None;
        // Only leading whitespace counts (an unexpected character before the first
        // token, already reported, ends it).
        for (k, &b) in ws.iter().enumerate() {
            if !matches!(b, b' ' | b'\t' | b'\r' | b'\x0c') {
                break;
            }
            if b == b'\t' {
                tab_at.get_or_insert(self.line_start + k);
                col = (col / 8 + 1) * 8; // keep going as sensibly as possible
            } else if b == b'\x0c' {
                // A form feed (page break) resets the count, as in Python.
                col = 0;
            } else {
                col += 1;
            }
        }
        let top = self.indents.last().copied().unwrap_or(0);
        if let Some(t) = tab_at {
            self.error(t, t + 1, "tabs are not allowed in indentation");
            // Avoid cascading errors: a tab-indented line only opens a block after a
            // line ending with ':', and a dedent snaps to the nearest enclosing level.
            let opens_block = self.out.len() >= 2 && self.out[self.out.len() - 2].kind == TokenKind::Colon;
            if col > top && !opens_block {
                col = top;
            } else if col <= top && opens_block {
                col = top + 1;
            } else if col < top {
                col = self
                    .indents
                    .iter()
                    .copied()
                    .filter(|&l| l <= col)
                    .max()
                    .unwrap_or(0);
            }
        }
        if col > top {
            self.indents.push(col);
            self.push(TokenKind::Indent, lo, lo);
        } else if col < top {
            while self.indents.len() > 1 && self.indents.last().is_some_and(|&t| t > col) {
                self.indents.pop();
                self.push(TokenKind::Dedent, lo, lo);
            }
            if let Some(last) = self.indents.last_mut() {
                if *last != col {
                    // Treat the line as belonging to the enclosing block.
                    *last = col;
                    self.error(
                        lo,
                        lo + 1,
                        "indentation error: unindent does not match any outer indentation level",
                    );
                }
            }
        }
    }
}

/// Tokens that start a top-level item (used to recover from an unclosed bracket;
/// in a block the parser reports them as misplaced, except `let`).
pub(crate) fn starts_item(kind: &TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Def
            | TokenKind::Struct
            | TokenKind::Enum
            | TokenKind::Class
            | TokenKind::Import
            | TokenKind::Extern
            | TokenKind::Export
            | TokenKind::Let
            | TokenKind::At
    )
}
