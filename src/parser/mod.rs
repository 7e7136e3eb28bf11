//! Recursive-descent parser over the grammar of LANGUAGE.md Appendix A, with the
//! precedence table of §6.1 and the §16 extensions (`pass`, line continuation inside
//! brackets, trailing commas, `p.items[0] = v`).
//!
//! Errors are recorded in [`Diagnostics`] and the parser recovers at the next line
//! (skipping the indented block that may follow), so one run reports several errors.
//! Recursion is bounded by [`MAX_DEPTH`] and the trees it builds by
//! [`MAX_EXPR_HEIGHT`] (later stages recurse on them); deeper input is an error,
//! never a stack overflow.

mod expr;
#[cfg(test)]
mod tests;

use crate::ast::*;
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::lexer::{self, Token, TokenKind};

/// Maximum nesting of recursive constructs (parenthesised/unary/lambda expressions,
/// types, blocks), counted together. At opt-level 1 a level costs about 3-5 KiB of
/// stack (about 10 KiB unoptimised).
pub const MAX_DEPTH: u32 = 128;
/// Maximum nesting of blocks (checked when a block starts, where only enclosing
/// blocks count), below [`MAX_DEPTH`] so that expressions inside still have room.
pub const MAX_BLOCK_DEPTH: u32 = 100;
/// Maximum number of binary operators in one chain, or postfix operators on one
/// operand (each one adds a level to the AST that later stages walk recursively).
pub const MAX_CHAIN: usize = 1000;
/// Maximum height of an expression tree (the longest path from an expression
/// statement's root to a leaf, counting every node). Chains inside nested
/// parentheses would otherwise stack up (128 levels of 1000-operator chains make a
/// tree 128,000 levels deep), and the checker, the compiler and dropping the tree
/// all recurse on it: the bound keeps their native stack use to a few MiB.
pub const MAX_EXPR_HEIGHT: u32 = 2000;

/// Lex and parse one source file. Never panics; on errors the diagnostics are
/// recorded and the returned module holds the items that could be parsed.
///
/// The diagnostics of this file are appended to `diags` in source order; a parser
/// error on a line that already has a lexer error is dropped as a likely consequence.
pub fn parse_module(src: &str, file: FileId, name: &str, diags: &mut Diagnostics) -> Module {
    parse_decoded(src, None, file, name, diags)
}

/// [`parse_module`] for a file decoded by [`lexer::decode_source`] (`raw`: its bytes
/// when some are not UTF-8).
pub fn parse_decoded(
    src: &str,
    raw: Option<&[u8]>,
    file: FileId,
    name: &str,
    diags: &mut Diagnostics,
) -> Module {
    parse_with(lexer::lex_decoded, src, raw, file, name, diags)
}

/// [`parse_decoded`] for a snippet (`bp -c`): its statements are the body of `main`
/// ([`lexer::lex_snippet`]).
pub fn parse_snippet(
    src: &str,
    raw: Option<&[u8]>,
    file: FileId,
    name: &str,
    diags: &mut Diagnostics,
) -> Module {
    parse_with(lexer::lex_snippet, src, raw, file, name, diags)
}

/// A lexer of whole files: [`lexer::lex_decoded`] or [`lexer::lex_snippet`].
type Lexer = fn(&str, Option<&[u8]>, FileId, &mut Diagnostics) -> Vec<lexer::Token>;

/// Lex `src` with `lex`, parse the tokens into module `name`, and tidy the file's
/// diagnostics.
fn parse_with(
    lex: Lexer,
    src: &str,
    raw: Option<&[u8]>,
    file: FileId,
    name: &str,
    diags: &mut Diagnostics,
) -> Module {
    let first = diags.list.len();
    let toks = lex(src, raw, file, diags);
    parse_tokens(toks, src, file, name, diags, first)
}

/// [`parse_decoded`] for a `bp repl` session: the statements of each region
/// `(from, to, name)` (the session's inputs that are not definitions) are the
/// body of `def NAME() -> void` ([`lexer::wrap_statements`]).
pub fn parse_session(
    src: &str,
    raw: Option<&[u8]>,
    file: FileId,
    name: &str,
    diags: &mut Diagnostics,
    regions: &[(usize, usize, &str)],
) -> Module {
    let first = diags.list.len();
    let toks = lexer::lex_decoded(src, raw, file, diags);
    let toks = lexer::wrap_statements(toks, file, regions);
    parse_tokens(toks, src, file, name, diags, first)
}

/// Parse the tokens of `src` into module `name`; the lexer's diagnostics are
/// `diags.list[first..]`.
fn parse_tokens(
    toks: Vec<lexer::Token>,
    src: &str,
    file: FileId,
    name: &str,
    diags: &mut Diagnostics,
    first: usize,
) -> Module {
    let lex_end = diags.list.len();
    let mut p = Parser::new(toks, file, diags, 0);
    let items = p.items();
    tidy_diagnostics(src, diags, first, lex_end);
    Module {
        name: name.to_string(),
        file,
        items,
    }
}

/// Drop parser errors (`diags.list[lex_end..]`) on lines having a lexer error
/// (`diags.list[first..lex_end]`), then sort this file's diagnostics by position.
fn tidy_diagnostics(src: &str, diags: &mut Diagnostics, first: usize, lex_end: usize) {
    let line_of = |off: u32| -> (usize, usize) {
        let b = src.as_bytes();
        let off = (off as usize).min(b.len());
        let lo = b[..off].iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        let hi = b[off..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| off + i);
        (lo, hi)
    };
    let lex_lines: Vec<(usize, usize)> = diags.list[first..lex_end]
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| line_of(d.span.lo))
        .collect();
    if !lex_lines.is_empty() {
        let parsed = diags.split_off(lex_end);
        diags.extend(
            parsed
                .into_iter()
                .filter(|d| !lex_lines.contains(&line_of(d.span.lo))),
        );
    }
    diags.list[first..].sort_by_key(|d| d.span.lo);
}

/// Parse a single expression (the whole of `src`; newlines are ignored). Returns
/// `None` after reporting an error. Spans are offsets in `src`.
pub fn parse_expr_str(src: &str, file: FileId, diags: &mut Diagnostics) -> Option<Expr> {
    let map: Vec<u32> = (0..=src.len() as u32).collect();
    let toks = lexer::lex_fragment(src, file, &map, diags);
    let mut p = Parser::new(toks, file, diags, 0);
    p.whole_expr("expression")
}

/// The error was already reported; unwind to a recovery point.
#[derive(Debug)]
pub(crate) struct Fail;
pub(crate) type PResult<T> = Result<T, Fail>;

pub(crate) struct Parser<'d> {
    /// The brackets opened and not yet closed in the current line (cleared at each
    /// line end): the one an error about a missing closer points at.
    open_brackets: Vec<(char, Span)>,
    toks: Vec<Token>,
    pos: usize,
    file: FileId,
    diags: &'d mut Diagnostics,
    /// Current nesting depth (see [`MAX_DEPTH`]).
    depth: u32,
    /// End offset of the last consumed non-layout token.
    prev_hi: u32,
    /// "nested too deeply" was already reported (report it once per parser).
    depth_reported: bool,
    /// How the end of input is named in messages (`end of file`, or `'}'` inside an
    /// f-string interpolation).
    eof_name: &'static str,
    /// Height of the expression tree the last expression parser returned (see
    /// [`MAX_EXPR_HEIGHT`]); each parser that builds a node from sub-expressions
    /// sets it from theirs.
    height: u32,
}

impl<'d> Parser<'d> {
    pub(crate) fn new(mut toks: Vec<Token>, file: FileId, diags: &'d mut Diagnostics, depth: u32) -> Self {
        if toks.last().map(|t| &t.kind) != Some(&TokenKind::Eof) {
            let end = toks.last().map(|t| t.span.hi).unwrap_or(0);
            toks.push(Token {
                kind: TokenKind::Eof,
                span: Span::new(file, end, end),
            });
        }
        Parser {
            open_brackets: Vec::new(),
            toks,
            pos: 0,
            file,
            diags,
            depth,
            prev_hi: 0,
            depth_reported: false,
            eof_name: "end of file",
            height: 0,
        }
    }

    // ---- token access -------------------------------------------------------

    fn peek(&self) -> &TokenKind {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &TokenKind {
        let i = (self.pos + n).min(self.toks.len() - 1);
        &self.toks[i].kind
    }

    fn at(&self, k: &TokenKind) -> bool {
        self.peek() == k
    }

    /// Span of the current token.
    fn span(&self) -> Span {
        self.toks[self.pos.min(self.toks.len() - 1)].span
    }

    fn bump(&mut self) -> Token {
        let i = self.pos.min(self.toks.len() - 1);
        let t = self.toks[i].clone();
        if t.kind != TokenKind::Eof {
            self.pos += 1;
        }
        match t.kind {
            TokenKind::LParen => self.open_brackets.push(('(', t.span)),
            TokenKind::LBracket => self.open_brackets.push(('[', t.span)),
            TokenKind::LBrace => self.open_brackets.push(('{', t.span)),
            TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => {
                self.open_brackets.pop();
            }
            TokenKind::Newline => self.open_brackets.clear(),
            _ => {}
        }
        if !matches!(
            t.kind,
            TokenKind::Newline | TokenKind::Indent | TokenKind::Dedent | TokenKind::Eof
        ) {
            self.prev_hi = t.span.hi;
        }
        t
    }

    fn eat(&mut self, k: &TokenKind) -> bool {
        if self.at(k) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// From `start` to the end of the last consumed token.
    fn span_from(&self, start: Span) -> Span {
        Span::new(self.file, start.lo, self.prev_hi.max(start.hi))
    }

    fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.error(span, msg);
    }

    /// Report `expected <what> <ctx>, found <current>` at the current token.
    fn error_expected(&mut self, what: &str, ctx: &str) -> Fail {
        let found = self.found();
        let span = self.span();
        let sep = if ctx.is_empty() { "" } else { " " };
        let mut d = Diagnostic::error(span, format!("expected {what}{sep}{ctx}, found {found}"));
        // A missing closer: point at the bracket it would close.
        if let Some(&(open, at)) = self.open_brackets.last() {
            let closer = match open {
                '(' => "')'",
                '[' => "']'",
                _ => "'}'",
            };
            if what.contains(closer) {
                d = d.with_related(at, format!("the '{open}' opened here is not closed"));
            }
        }
        self.diags.push(d);
        Fail
    }

    /// Description of the current token for messages.
    fn found(&self) -> String {
        match self.peek() {
            TokenKind::Eof => self.eof_name.to_string(),
            k => k.describe(),
        }
    }

    fn expect(&mut self, k: &TokenKind, ctx: &str) -> PResult<Span> {
        if self.at(k) {
            Ok(self.bump().span)
        } else {
            let what = format!("'{}'", k.text().unwrap_or("?"));
            Err(self.error_expected(&what, ctx))
        }
    }

    fn expect_ident(&mut self, what: &str, ctx: &str) -> PResult<Ident> {
        if let TokenKind::Ident(name) = self.peek() {
            let name = name.clone();
            let span = self.bump().span;
            Ok(Ident { name, span })
        } else {
            Err(self.error_expected(what, ctx))
        }
    }

    /// Enter one level of nesting; fails (reporting once) beyond [`MAX_DEPTH`].
    fn enter(&mut self, what: &str) -> PResult<()> {
        self.enter_limit(what, MAX_DEPTH)
    }

    fn enter_limit(&mut self, what: &str, limit: u32) -> PResult<()> {
        if self.depth >= limit {
            if !self.depth_reported {
                self.depth_reported = true;
                let span = self.span();
                self.error(span, format!("{what} nested too deeply"));
            }
            return Err(Fail);
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// The end of a simple statement or one-line item: a NEWLINE.
    fn end_line(&mut self, what: &str) -> PResult<()> {
        match self.peek() {
            TokenKind::Newline => {
                self.bump();
                Ok(())
            }
            TokenKind::Eof | TokenKind::Dedent => Ok(()),
            _ => Err(self.error_expected("end of line", &format!("after {what}"))),
        }
    }

    // ---- recovery -------------------------------------------------------------

    /// Skip the rest of the current logical line (consuming its NEWLINE).
    fn skip_line(&mut self) {
        loop {
            match self.peek() {
                TokenKind::Eof | TokenKind::Dedent => return,
                TokenKind::Newline => {
                    self.bump();
                    return;
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    /// Recover after an error in a line: skip it, and parse (then drop) the indented
    /// block that follows it if any, so that errors inside it are still reported.
    fn sync(&mut self) {
        self.skip_line();
        if self.at(&TokenKind::Indent) {
            let _ = self.indented_block();
        }
    }

    /// Skip an indented block without parsing it (used when nesting is too deep).
    fn skip_block_flat(&mut self) {
        let mut level = 0u32;
        loop {
            match self.peek() {
                TokenKind::Eof => return,
                TokenKind::Indent => level += 1,
                TokenKind::Dedent => {
                    level = level.saturating_sub(1);
                    if level == 0 {
                        self.bump();
                        return;
                    }
                }
                _ => {}
            }
            self.bump();
        }
    }

    // ---- items ------------------------------------------------------------------

    fn items(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                TokenKind::Eof => break,
                TokenKind::Newline | TokenKind::Dedent => {
                    self.bump();
                }
                TokenKind::Indent => {
                    let _ = self.unexpected_indent();
                }
                _ => match self.item() {
                    Ok(item) => items.push(item),
                    Err(Fail) => self.sync(),
                },
            }
        }
        items
    }

    fn item(&mut self) -> PResult<Item> {
        let mut decorators = Vec::new();
        while self.at(&TokenKind::At) {
            self.bump();
            let name = self.expect_ident("a decorator name", "after '@'")?;
            if name.name != "packed" {
                self.error(name.span, format!("unknown decorator '{}'", name.name));
            } else {
                decorators.push(name);
            }
            while self.eat(&TokenKind::Newline) {}
        }
        let exported = self.eat(&TokenKind::Export);
        if !decorators.is_empty() && !self.at(&TokenKind::Struct) {
            let span = decorators[0].span;
            self.diags.warning(
                span,
                "decorator '@packed' has no effect here (it applies to structs)",
            );
        }
        match self.peek() {
            TokenKind::Def => Ok(Item::Func(self.func_def(exported, false)?)),
            TokenKind::Struct => Ok(Item::Struct(self.struct_def(exported, decorators)?)),
            TokenKind::Enum => Ok(Item::Enum(self.enum_def(exported)?)),
            TokenKind::Class => Ok(Item::Class(self.class_def(exported)?)),
            TokenKind::Let => {
                let start = self.span();
                let (name, ty, init) = self.let_parts()?;
                let span = self.span_from(start);
                self.end_line("global variable declaration")?;
                Ok(Item::Global(GlobalLet {
                    name,
                    ty,
                    init,
                    exported,
                    span,
                    global_id: 0,
                }))
            }
            TokenKind::Import => {
                if exported {
                    let span = self.span();
                    self.error(span, "'export' cannot be applied to an import");
                }
                Ok(Item::Import(self.import()?))
            }
            TokenKind::Extern => Ok(Item::Extern(self.extern_decl(exported)?)),
            _ => {
                let found = self.found();
                let span = self.span();
                self.error(
                    span,
                    format!(
                        "expected 'def', 'struct', 'enum', 'class', 'import', 'extern', 'let', or 'export' at top level, found {found}"
                    ),
                );
                Err(Fail)
            }
        }
    }

    /// `name(params) -> type` of a function definition or an extern declaration,
    /// after its keywords (`ctx` says where the name is expected). `allow_self`
    /// allows a `self` parameter; `what` names the function kind in messages.
    fn signature(
        &mut self,
        ctx: &str,
        allow_self: bool,
        what: &str,
    ) -> PResult<(Ident, Vec<Param>, TypeExpr)> {
        let name = self.expect_ident("a function name", ctx)?;
        self.expect(
            &TokenKind::LParen,
            &format!("after the function name '{}'", name.name),
        )?;
        let params = self.params(allow_self, what)?;
        if !self.at(&TokenKind::Arrow) {
            return Err(self.error_expected(
                "'->' and a return type",
                &format!("after the parameters of '{}'", name.name),
            ));
        }
        self.bump();
        let ret = self.ty()?;
        Ok((name, params, ret))
    }

    /// `def name(params) -> type:` block. `method` allows a `self` parameter.
    fn func_def(&mut self, exported: bool, method: bool) -> PResult<FuncDef> {
        let start = self.expect(&TokenKind::Def, "")?;
        let (name, params, ret) = self.signature("after 'def'", method, "function")?;
        self.expect(
            &TokenKind::Colon,
            &format!("after the signature of '{}'", name.name),
        )?;
        let span = self.span_from(start);
        let body = self.block(&format!("the definition of '{}'", name.name));
        Ok(FuncDef {
            name,
            params,
            ret,
            body,
            exported,
            span,
            func_id: 0,
            locals: Vec::new(),
        })
    }

    /// `def name(params) -> R:` and its block inside a function body: a local
    /// function (a closure over the enclosing function's variables).
    fn nested_def(&mut self) -> PResult<StmtKind> {
        let fd = self.func_def(false, false)?;
        let func = Expr::new(
            ExprKind::Lambda {
                params: fd.params,
                ret: fd.ret,
                body: LambdaBody::Block(fd.body),
                func_id: 0,
                locals: Vec::new(),
                captures: Vec::new(),
            },
            fd.span,
        );
        Ok(StmtKind::Def {
            name: fd.name,
            func: Box::new(func),
            local: 0,
        })
    }

    /// Parameters after `(` up to and including `)`.
    fn params(&mut self, allow_self: bool, what: &str) -> PResult<Vec<Param>> {
        let mut params = Vec::new();
        loop {
            if self.eat(&TokenKind::RParen) {
                break;
            }
            if self.at(&TokenKind::SelfKw) {
                let span = self.bump().span;
                if !allow_self {
                    self.error(
                        span,
                        format!("'self' is only allowed as a method parameter, not in a {what}"),
                    );
                }
                let ty = if self.eat(&TokenKind::Colon) {
                    Some(self.ty()?)
                } else {
                    None
                };
                params.push(Param {
                    name: Ident {
                        name: "self".to_string(),
                        span,
                    },
                    ty,
                    local: 0,
                });
            } else {
                let name = self.expect_ident("a parameter name", &format!("in {what} parameters"))?;
                self.expect(
                    &TokenKind::Colon,
                    &format!("after parameter '{}' (parameters need a type)", name.name),
                )?;
                let ty = self.ty()?;
                params.push(Param {
                    name,
                    ty: Some(ty),
                    local: 0,
                });
            }
            if !self.eat(&TokenKind::Comma) {
                self.expect(&TokenKind::RParen, &format!("after {what} parameters"))?;
                break;
            }
        }
        Ok(params)
    }

    /// `:` NEWLINE INDENT, opening the body of a struct/class/enum/match.
    fn open_body(&mut self, what: &str) -> PResult<()> {
        self.expect(&TokenKind::Colon, &format!("after {what}"))?;
        if !self.eat(&TokenKind::Newline) {
            return Err(self.error_expected("a new line", &format!("after '{what}:'")));
        }
        if !self.eat(&TokenKind::Indent) {
            return Err(self.error_expected("an indented block", &format!("after '{what}:'")));
        }
        Ok(())
    }

    fn struct_def(&mut self, exported: bool, decorators: Vec<Ident>) -> PResult<StructDef> {
        let start = self.expect(&TokenKind::Struct, "")?;
        let name = self.expect_ident("a struct name", "after 'struct'")?;
        let span = self.span_from(start);
        self.open_body(&format!("struct {}", name.name))?;
        let (fields, methods) = self.members("struct");
        Ok(StructDef {
            name,
            fields,
            methods,
            decorators,
            exported,
            span,
        })
    }

    fn class_def(&mut self, exported: bool) -> PResult<ClassDef> {
        let start = self.expect(&TokenKind::Class, "")?;
        let name = self.expect_ident("a class name", "after 'class'")?;
        let mut parent = None;
        if self.eat(&TokenKind::LParen) {
            parent = Some(self.qualified_ident("a parent class name", "in class declaration")?);
            self.expect(&TokenKind::RParen, "after the parent class name")?;
        }
        let span = self.span_from(start);
        self.open_body(&format!("class {}", name.name))?;
        let (fields, methods) = self.members("class");
        Ok(ClassDef {
            name,
            parent,
            fields,
            methods,
            exported,
            span,
        })
    }

    /// Fields and methods of a struct or class body, after its INDENT; consumes the
    /// closing DEDENT.
    fn members(&mut self, what: &str) -> (Vec<FieldDecl>, Vec<FuncDef>) {
        let mut fields = Vec::new();
        let mut methods = Vec::new();
        self.body_lines(|p| match p.peek() {
            TokenKind::Indent => p.unexpected_indent(),
            TokenKind::Pass => p.pass_line(),
            TokenKind::Def => p.func_def(false, true).map(|f| methods.push(f)),
            TokenKind::Ident(_) => p.field_decl().map(|f| fields.push(f)),
            _ => Err(p.error_expected("a field or a method", &format!("in {what} body"))),
        });
        (fields, methods)
    }

    fn field_decl(&mut self) -> PResult<FieldDecl> {
        let name = self.expect_ident("a field name", "")?;
        self.expect(&TokenKind::Colon, &format!("after field name '{}'", name.name))?;
        let ty = self.ty()?;
        self.end_line("field declaration")?;
        Ok(FieldDecl { name, ty })
    }

    /// A name, or `module.Name` (one identifier whose text holds the dot).
    pub(crate) fn qualified_ident(&mut self, what: &str, ctx: &str) -> PResult<Ident> {
        let first = self.expect_ident(what, ctx)?;
        if self.at(&TokenKind::Dot) && matches!(self.peek_at(1), TokenKind::Ident(_)) {
            self.bump();
            let member = self.expect_ident(what, ctx)?;
            return Ok(Ident {
                name: format!("{}.{}", first.name, member.name),
                span: first.span.to(member.span),
            });
        }
        Ok(first)
    }

    fn enum_def(&mut self, exported: bool) -> PResult<EnumDef> {
        let start = self.expect(&TokenKind::Enum, "")?;
        let name = self.expect_ident("an enum name", "after 'enum'")?;
        let span = self.span_from(start);
        self.open_body(&format!("enum {}", name.name))?;
        let mut variants = Vec::new();
        self.body_lines(|p| match p.peek() {
            TokenKind::Pass => p.pass_line(),
            _ => p.enum_variant().map(|v| variants.push(v)),
        });
        Ok(EnumDef {
            name,
            variants,
            exported,
            span,
        })
    }

    fn enum_variant(&mut self) -> PResult<(Ident, Option<i64>)> {
        let name = self.expect_ident("a variant name", "in enum body")?;
        let mut value = None;
        if self.eat(&TokenKind::Assign) {
            let neg = self.eat(&TokenKind::Minus);
            let span = self.span();
            let TokenKind::Int(v) = *self.peek() else {
                return Err(self.error_expected(
                    "an integer",
                    &format!("after '=' for enum variant '{}'", name.name),
                ));
            };
            self.bump();
            value = Some(match (neg, v) {
                (false, v) if v <= i64::MAX as u64 => v as i64,
                (true, v) if v <= i64::MAX as u64 => -(v as i64),
                (true, v) if v == 1u64 << 63 => i64::MIN,
                _ => {
                    self.error(span, "integer literal too large");
                    0
                }
            });
        }
        self.end_line("enum variant")?;
        Ok((name, value))
    }

    fn import(&mut self) -> PResult<Import> {
        let start = self.expect(&TokenKind::Import, "")?;
        let module = self.expect_ident("a module name", "after 'import'")?;
        let alias = if self.eat(&TokenKind::As) {
            Some(self.expect_ident("an alias name", "after 'as'")?)
        } else {
            None
        };
        let mut names = Vec::new();
        if self.eat(&TokenKind::LParen) {
            loop {
                if self.eat(&TokenKind::RParen) {
                    break;
                }
                names.push(self.expect_ident("a function name", "in import list")?);
                if !self.eat(&TokenKind::Comma) {
                    self.expect(&TokenKind::RParen, "to close the import list")?;
                    break;
                }
            }
        }
        let span = self.span_from(start);
        self.end_line("import")?;
        Ok(Import {
            module,
            alias,
            names,
            span,
        })
    }

    fn extern_decl(&mut self, exported: bool) -> PResult<ExternDecl> {
        let start = self.expect(&TokenKind::Extern, "")?;
        self.expect(&TokenKind::Fn, "after 'extern'")?;
        let (name, params, ret) = self.signature("after 'extern fn'", false, "extern function")?;
        self.expect(&TokenKind::From, "and a library name after the extern signature")?;
        let library = self.string_lit("a library name string", "after 'from'")?;
        let symbol = if self.eat(&TokenKind::As) {
            Some(self.string_lit("a symbol name string", "after 'as'")?)
        } else {
            None
        };
        let span = self.span_from(start);
        self.end_line("extern declaration")?;
        Ok(ExternDecl {
            name,
            params,
            ret,
            library,
            symbol,
            exported,
            span,
        })
    }

    fn string_lit(&mut self, what: &str, ctx: &str) -> PResult<String> {
        if let TokenKind::Str(bytes) = self.peek() {
            let s = String::from_utf8_lossy(bytes).into_owned();
            self.bump();
            Ok(s)
        } else {
            Err(self.error_expected(what, ctx))
        }
    }

    // ---- types ------------------------------------------------------------------

    fn ty(&mut self) -> PResult<TypeExpr> {
        self.enter("type")?;
        let r = self.ty_inner();
        self.leave();
        r
    }

    fn ty_inner(&mut self) -> PResult<TypeExpr> {
        let start = self.span();
        let kind = match self.peek().clone() {
            TokenKind::Ident(name) => {
                self.bump();
                // `geo.Point`: a type of an imported module.
                match (self.peek(), self.peek_at(1)) {
                    (TokenKind::Dot, TokenKind::Ident(member)) => {
                        let qualified = format!("{name}.{member}");
                        self.bump();
                        self.bump();
                        TypeExprKind::Named(qualified)
                    }
                    // `chan[T]`: the one generic type with a name.
                    (TokenKind::LBracket, _) if name == "chan" => {
                        self.bump();
                        let elem = self.ty()?;
                        self.expect(&TokenKind::RBracket, "to close the channel type")?;
                        TypeExprKind::Chan(Box::new(elem))
                    }
                    _ => TypeExprKind::Named(name),
                }
            }
            TokenKind::Ptr => {
                self.bump();
                TypeExprKind::Named("ptr".to_string())
            }
            TokenKind::LBracket => {
                self.bump();
                let elem = self.ty()?;
                self.expect(&TokenKind::RBracket, "to close the array type")?;
                TypeExprKind::Array(Box::new(elem))
            }
            TokenKind::LBrace => {
                self.bump();
                let k = self.ty()?;
                self.expect(&TokenKind::Colon, "between the key and value types of a map type")?;
                let v = self.ty()?;
                self.expect(&TokenKind::RBrace, "to close the map type")?;
                TypeExprKind::Map(Box::new(k), Box::new(v))
            }
            TokenKind::LParen => {
                self.bump();
                let (mut tys, trailing_comma) = self.type_list("tuple type")?;
                if tys.len() == 1 && !trailing_comma {
                    // `(T)` groups, as in `(fn(int) -> int)?`; `(T,)` is a 1-tuple.
                    let inner = tys.remove(0);
                    return self.nullable_suffix(TypeExpr {
                        kind: inner.kind,
                        span: self.span_from(start),
                    });
                }
                TypeExprKind::Tuple(tys)
            }
            TokenKind::Fn => {
                self.bump();
                self.expect(&TokenKind::LParen, "after 'fn' in a function type")?;
                let (params, _) = self.type_list("function type")?;
                self.expect(&TokenKind::Arrow, "and a return type in a function type")?;
                let ret = self.ty()?;
                TypeExprKind::Fn(params, Box::new(ret))
            }
            _ => return Err(self.error_expected("a type", "")),
        };
        let t = TypeExpr {
            kind,
            span: self.span_from(start),
        };
        self.nullable_suffix(t)
    }

    /// `T?` after the type `t` has been parsed.
    fn nullable_suffix(&mut self, t: TypeExpr) -> PResult<TypeExpr> {
        if !self.at(&TokenKind::Question) {
            return Ok(t);
        }
        let q = self.bump().span;
        if self.at(&TokenKind::Question) {
            let span = self.span();
            self.error(span, "a type can be made nullable only once ('T?', not 'T??')");
            return Err(Fail);
        }
        let span = t.span.to(q);
        Ok(TypeExpr {
            kind: TypeExprKind::Nullable(Box::new(t)),
            span,
        })
    }

    /// Types separated by commas after `(`, up to and including `)`; also whether a
    /// comma came last (`(T,)`).
    fn type_list(&mut self, what: &str) -> PResult<(Vec<TypeExpr>, bool)> {
        let mut tys = Vec::new();
        let mut trailing_comma = false;
        loop {
            if self.eat(&TokenKind::RParen) {
                break;
            }
            tys.push(self.ty()?);
            trailing_comma = self.eat(&TokenKind::Comma);
            if !trailing_comma {
                self.expect(&TokenKind::RParen, &format!("to close the {what}"))?;
                break;
            }
        }
        Ok((tys, trailing_comma))
    }

    // ---- statements -------------------------------------------------------------

    /// `:` then a block. Never fails: problems are reported and an empty (or
    /// partial) block is returned.
    fn block(&mut self, what: &str) -> Block {
        let start = self.span();
        if !self.eat(&TokenKind::Newline) {
            let found = self.found();
            let span = self.span();
            self.error(
                span,
                format!("expected a new line and an indented block after ':' in {what}, found {found} (one-line bodies are not allowed)"),
            );
            self.skip_line();
            if !self.at(&TokenKind::Indent) {
                return Block {
                    stmts: Vec::new(),
                    span: start,
                };
            }
        } else if !self.at(&TokenKind::Indent) {
            let found = self.found();
            let span = self.span();
            self.error(
                span,
                format!("expected an indented block for {what}, found {found}"),
            );
            return Block {
                stmts: Vec::new(),
                span: start,
            };
        }
        self.indented_block()
    }

    /// The lines of an indented body, after its INDENT, up to and including its
    /// closing DEDENT (or the end of the file): blank lines are skipped, every
    /// other line goes to `line`, and when that fails the rest of the line (and any
    /// block under it) is skipped.
    fn body_lines(&mut self, mut line: impl FnMut(&mut Self) -> PResult<()>) {
        loop {
            match self.peek() {
                TokenKind::Eof => break,
                TokenKind::Dedent => {
                    self.bump();
                    break;
                }
                TokenKind::Newline => {
                    self.bump();
                }
                _ => {
                    if line(self).is_err() {
                        self.sync();
                    }
                }
            }
        }
    }

    /// An INDENT where no block may start: report it, then parse the block for its
    /// errors and drop it.
    fn unexpected_indent(&mut self) -> PResult<()> {
        let span = self.span();
        self.error(span, "unexpected indentation");
        let _ = self.indented_block();
        Ok(())
    }

    /// A `pass` line in a body.
    fn pass_line(&mut self) -> PResult<()> {
        self.bump();
        self.end_line("'pass'")
    }

    /// Statements of a block starting at its INDENT; consumes the closing DEDENT.
    fn indented_block(&mut self) -> Block {
        let start = self.bump().span; // INDENT
        if self.enter_limit("block", MAX_BLOCK_DEPTH).is_err() {
            self.pos -= 1;
            self.skip_block_flat();
            return Block {
                stmts: Vec::new(),
                span: start,
            };
        }
        let mut stmts = Vec::new();
        self.body_lines(|p| match p.peek() {
            TokenKind::Indent => p.unexpected_indent(),
            _ => p.stmt().map(|s| stmts.push(s)),
        });
        self.leave();
        let span = match (stmts.first(), stmts.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => start,
        };
        Block { stmts, span }
    }

    fn stmt(&mut self) -> PResult<Stmt> {
        let start = self.span();
        let kind = self.stmt_kind()?;
        Ok(Stmt {
            kind,
            span: self.span_from(start),
        })
    }

    /// Dispatch on the first token; every statement form has its own function so
    /// that the recursive path through nested blocks only carries small frames.
    fn stmt_kind(&mut self) -> PResult<StmtKind> {
        match self.peek() {
            TokenKind::Let => self.let_stmt(),
            TokenKind::Def => self.nested_def(),
            TokenKind::If => self.if_stmt(),
            TokenKind::While => self.while_stmt(),
            TokenKind::For => self.for_stmt(),
            TokenKind::Match => self.match_stmt(),
            TokenKind::Try => self.try_stmt(),
            TokenKind::Assert => self.assert_stmt(),
            TokenKind::Throw
            | TokenKind::Break
            | TokenKind::Continue
            | TokenKind::Pass
            | TokenKind::Return => self.keyword_stmt(),
            TokenKind::Elif
            | TokenKind::Else
            | TokenKind::Catch
            | TokenKind::Finally
            | TokenKind::Case
            | TokenKind::Default => Err(self.misplaced()),
            // The start of a top-level item (`let` is a statement too, above).
            k if lexer::starts_item(k) => Err(self.misplaced()),
            _ => self.expr_stmt(),
        }
    }

    /// A keyword that cannot start a statement here.
    fn misplaced(&mut self) -> Fail {
        let span = self.span();
        let kw = self.peek().describe();
        let msg = match self.peek() {
            TokenKind::Elif | TokenKind::Else => format!("{kw} without a matching 'if'"),
            TokenKind::Catch | TokenKind::Finally => format!("{kw} without a matching 'try'"),
            TokenKind::Case | TokenKind::Default => format!("{kw} outside of a match statement"),
            _ => format!("{kw} is only allowed at top level"),
        };
        self.error(span, msg);
        Fail
    }

    fn let_stmt(&mut self) -> PResult<StmtKind> {
        if self.peek_at(1) == &TokenKind::LParen {
            return self.let_tuple_stmt();
        }
        let (name, ty, init) = self.let_parts()?;
        self.end_line("let statement")?;
        Ok(StmtKind::Let {
            name,
            ty,
            init,
            local: 0,
        })
    }

    /// `let (a, (b, _)): type = expr`.
    fn let_tuple_stmt(&mut self) -> PResult<StmtKind> {
        self.bump(); // let
        let pattern = self.pattern()?;
        self.expect(&TokenKind::Colon, "after the let pattern (a let needs a type)")?;
        let ty = self.ty()?;
        self.expect(&TokenKind::Assign, "in let (a let needs an initial value)")?;
        let init = self.expr()?;
        self.end_line("let statement")?;
        Ok(match pattern {
            // `let (x): T = e` is `let x: T = e` (the parentheses only group).
            Pattern::Var { name, .. } => StmtKind::Let {
                name,
                ty,
                init,
                local: 0,
            },
            pattern => StmtKind::LetTuple { pattern, ty, init },
        })
    }

    /// A destructuring pattern: a variable name, `_`, or `(p, p, ...)`. A single
    /// element in parentheses without a trailing comma is that element.
    fn pattern(&mut self) -> PResult<Pattern> {
        match self.peek() {
            TokenKind::LParen => {
                self.enter("pattern")?;
                let r = self.tuple_pattern();
                self.leave();
                r
            }
            TokenKind::Ident(n) if n == "_" => Ok(Pattern::Ignore(self.bump().span)),
            _ => {
                let name = self.expect_ident("a variable name, '_' or '('", "in the pattern")?;
                Ok(Pattern::Var { name, local: 0 })
            }
        }
    }

    /// `(p, p, ...)`; the `(` is current.
    fn tuple_pattern(&mut self) -> PResult<Pattern> {
        let start = self.bump().span; // (
        if self.at(&TokenKind::RParen) {
            self.error(
                self.span_from(start),
                "a pattern needs at least one variable name or '_'",
            );
            return Err(Fail);
        }
        let mut elems = Vec::new();
        let trailing_comma = loop {
            elems.push(self.pattern()?);
            let comma = self.eat(&TokenKind::Comma);
            if !comma || self.at(&TokenKind::RParen) {
                break comma;
            }
        };
        self.expect(&TokenKind::RParen, "to close the pattern")?;
        if elems.len() == 1 && !trailing_comma {
            return Ok(elems.pop().unwrap_or(Pattern::Ignore(start)));
        }
        Ok(Pattern::Tuple {
            elems,
            span: self.span_from(start),
        })
    }

    /// The loop variable of a `for`: a name, or a pattern (`(k, v)` or `k, v`).
    fn loop_target(&mut self) -> PResult<(Ident, Option<Pattern>)> {
        let start = self.span();
        let first = self.pattern()?;
        let pattern = if self.at(&TokenKind::Comma) {
            let mut elems = vec![first];
            while self.eat(&TokenKind::Comma) {
                if self.at(&TokenKind::In) {
                    break;
                }
                elems.push(self.pattern()?);
            }
            Pattern::Tuple {
                elems,
                span: self.span_from(start),
            }
        } else {
            first
        };
        Ok(match pattern {
            Pattern::Var { name, .. } => (name, None),
            // `for _ in ...` keeps its (unused) variable.
            Pattern::Ignore(span) => (
                Ident {
                    name: "_".to_string(),
                    span,
                },
                None,
            ),
            p => {
                // The element's hidden local; the name cannot clash with a user's.
                let span = self.span_from(start);
                let var = Ident {
                    name: "(loop element)".to_string(),
                    span,
                };
                (var, Some(p))
            }
        })
    }

    fn while_stmt(&mut self) -> PResult<StmtKind> {
        self.bump(); // while
        let cond = self.expr()?;
        self.expect(&TokenKind::Colon, "after the while condition")?;
        let body = self.block("while loop");
        Ok(StmtKind::While { cond, body })
    }

    /// `assert cond` or `assert cond, message`.
    fn assert_stmt(&mut self) -> PResult<StmtKind> {
        self.bump(); // assert
        let cond = self.expr()?;
        let message = if self.eat(&TokenKind::Comma) {
            Some(self.expr()?)
        } else {
            None
        };
        self.end_line("assert statement")?;
        Ok(StmtKind::Assert { cond, message })
    }

    /// `throw e`, `break`, `continue`, `pass`, `return [e]`.
    fn keyword_stmt(&mut self) -> PResult<StmtKind> {
        let kw = self.bump().kind;
        let (kind, what) = match kw {
            TokenKind::Throw => (StmtKind::Throw(self.expr()?), "throw statement"),
            TokenKind::Break => (StmtKind::Break, "'break'"),
            TokenKind::Continue => (StmtKind::Continue, "'continue'"),
            TokenKind::Pass => (StmtKind::Pass, "'pass'"),
            _ => {
                let value = match self.peek() {
                    TokenKind::Newline | TokenKind::Eof | TokenKind::Dedent => None,
                    _ => Some(self.expr()?),
                };
                (StmtKind::Return(value), "return statement")
            }
        };
        self.end_line(what)?;
        Ok(kind)
    }

    /// An expression statement or an assignment.
    fn expr_stmt(&mut self) -> PResult<StmtKind> {
        let e = self.expr()?;
        if let ExprKind::Name { name, .. } = &e.kind {
            let line_goes_on = !matches!(
                self.peek(),
                TokenKind::Newline | TokenKind::Eof | TokenKind::Assign
            );
            if let Some(hint) = crate::suggest::python_hint(&name.name).filter(|_| line_goes_on) {
                // `elsif x:`, `None x`...: a Python spelling at the start of a line.
                self.error(
                    e.span,
                    format!("'{}' is not a BetterPython keyword: {hint}", name.name),
                );
                return Err(Fail);
            }
        }
        if !self.at(&TokenKind::Assign) {
            self.end_line("expression statement")?;
            return Ok(StmtKind::Expr(e));
        }
        if !matches!(
            e.kind,
            ExprKind::Name { .. } | ExprKind::Index { .. } | ExprKind::Field { .. }
        ) {
            self.error(
                e.span,
                "invalid assignment target (expected a variable, an element `a[i]` or a field `x.f`)",
            );
            return Err(Fail);
        }
        self.bump(); // =
        let value = self.expr()?;
        self.end_line("assignment")?;
        Ok(StmtKind::Assign { target: e, value })
    }

    /// `let name: type = expr` (without the line end).
    fn let_parts(&mut self) -> PResult<(Ident, TypeExpr, Expr)> {
        self.expect(&TokenKind::Let, "")?;
        let name = self.expect_ident("a variable name", "after 'let'")?;
        self.expect(&TokenKind::Colon, "in let")?;
        let ty = self.ty()?;
        self.expect(&TokenKind::Assign, "in let (a let needs an initial value)")?;
        let init = self.expr()?;
        Ok((name, ty, init))
    }

    fn if_stmt(&mut self) -> PResult<StmtKind> {
        self.bump(); // if
        let cond = self.expr()?;
        self.expect(&TokenKind::Colon, "after the if condition")?;
        let body = self.block("if statement");
        let mut branches = vec![(cond, body)];
        let mut else_block = None;
        loop {
            match self.peek() {
                TokenKind::Elif => {
                    self.bump();
                    // An error in an elif header must not lose the whole statement.
                    let cond = match self.expr() {
                        Ok(c) => c,
                        Err(Fail) => {
                            self.sync();
                            continue;
                        }
                    };
                    if self
                        .expect(&TokenKind::Colon, "after the elif condition")
                        .is_err()
                    {
                        self.sync();
                        continue;
                    }
                    let body = self.block("elif branch");
                    branches.push((cond, body));
                }
                TokenKind::Else => {
                    self.bump();
                    if self.expect(&TokenKind::Colon, "after 'else'").is_err() {
                        self.sync();
                        break;
                    }
                    else_block = Some(self.block("else branch"));
                    break;
                }
                _ => break,
            }
        }
        Ok(StmtKind::If { branches, else_block })
    }

    fn for_stmt(&mut self) -> PResult<StmtKind> {
        self.bump(); // for
        let (var, pattern) = self.loop_target()?;
        self.expect(&TokenKind::In, "after the loop variable")?;
        let is_range = matches!(self.peek(), TokenKind::Ident(n) if n == "range")
            && self.peek_at(1) == &TokenKind::LParen;
        if is_range {
            if let Some(p) = &pattern {
                let span = match p {
                    Pattern::Tuple { span, .. } | Pattern::Ignore(span) => *span,
                    Pattern::Var { name, .. } => name.span,
                };
                self.error(span, "a range loop has one variable name, not a pattern");
                return Err(Fail);
            }
            let range_span = self.bump().span;
            self.bump(); // (
            let args = self.args("range")?;
            let span = self.span_from(range_span);
            let n = args.len();
            let mut it = args.into_iter();
            let (start, end) = match (it.next(), it.next()) {
                (Some(a), Some(b)) if n == 2 => (a, b),
                _ => {
                    self.error(
                        span,
                        format!("range() in a for loop takes exactly 2 arguments (start, end), got {n}"),
                    );
                    let zero = || Expr::new(ExprKind::Int(0), span);
                    (zero(), zero())
                }
            };
            self.expect(&TokenKind::Colon, "after the for header")?;
            let body = self.block("for loop");
            Ok(StmtKind::ForRange {
                var,
                start,
                end,
                body,
                local: 0,
            })
        } else {
            let iter = self.expr()?;
            self.expect(&TokenKind::Colon, "after the for header")?;
            let body = self.block("for loop");
            Ok(StmtKind::ForIn {
                var,
                pattern,
                iter,
                body,
                local: 0,
            })
        }
    }

    fn match_stmt(&mut self) -> PResult<StmtKind> {
        self.bump(); // match
        let subject = self.expr()?;
        self.open_body("the match subject")?;
        let mut cases = Vec::new();
        let mut default: Option<Block> = None;
        self.body_lines(|p| match p.peek() {
            TokenKind::Case => {
                p.bump();
                let e = p.expr()?;
                p.expect(&TokenKind::Colon, "after the case value")?;
                let body = p.block("case");
                cases.push((e, body));
                Ok(())
            }
            TokenKind::Default => {
                let span = p.bump().span;
                p.expect(&TokenKind::Colon, "after 'default'")?;
                let body = p.block("default case");
                if default.is_some() {
                    p.error(span, "duplicate default case in match");
                } else {
                    default = Some(body);
                }
                Ok(())
            }
            _ => Err(p.error_expected("'case' or 'default'", "in match body")),
        });
        Ok(StmtKind::Match {
            subject,
            cases,
            default,
        })
    }

    fn try_stmt(&mut self) -> PResult<StmtKind> {
        self.bump(); // try
        self.expect(&TokenKind::Colon, "after 'try'")?;
        let body = self.block("try block");
        let mut catch = None;
        if self.eat(&TokenKind::Catch) {
            let name = match self.peek() {
                TokenKind::Ident(_) => Some(self.expect_ident("a variable name", "after 'catch'")?),
                _ => None,
            };
            if self.expect(&TokenKind::Colon, "after catch").is_err() {
                self.sync();
            } else {
                let body = self.block("catch block");
                catch = Some(CatchClause { name, body, local: 0 });
            }
        }
        let mut finally = None;
        if self.eat(&TokenKind::Finally) {
            if self.expect(&TokenKind::Colon, "after 'finally'").is_err() {
                self.sync();
            } else {
                finally = Some(self.block("finally block"));
            }
        }
        Ok(StmtKind::Try { body, catch, finally })
    }
}
