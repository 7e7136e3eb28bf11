//! Expressions: precedence climbing over the table of LANGUAGE.md §6.1, unary and
//! postfix operators, atoms, and f-string interpolations (parsed by a sub-parser over
//! the interpolation text, with spans pointing into the file).

use super::{Fail, PResult, Parser, MAX_CHAIN, MAX_EXPR_HEIGHT};
use crate::ast::*;
use crate::lexer::{self, FStrPiece, TokenKind};

/// Binary operator and precedence level (1 = `or`, lowest; 10 = `* / %`).
fn binop(k: &TokenKind) -> Option<(BinOp, u8)> {
    use TokenKind as T;
    Some(match k {
        T::Or => (BinOp::Or, 1),
        T::And => (BinOp::And, 2),
        T::Pipe => (BinOp::BitOr, 3),
        T::Caret => (BinOp::BitXor, 4),
        T::Amp => (BinOp::BitAnd, 5),
        T::EqEq => (BinOp::Eq, 6),
        T::NotEq => (BinOp::Ne, 6),
        T::Lt => (BinOp::Lt, 7),
        T::Le => (BinOp::Le, 7),
        T::Gt => (BinOp::Gt, 7),
        T::Ge => (BinOp::Ge, 7),
        T::Shl => (BinOp::Shl, 8),
        T::Shr => (BinOp::Shr, 8),
        T::Plus => (BinOp::Add, 9),
        T::Minus => (BinOp::Sub, 9),
        T::Star => (BinOp::Mul, 10),
        T::Slash => (BinOp::Div, 10),
        T::Percent => (BinOp::Mod, 10),
        _ => return None,
    })
}

/// Precedence of `e is C`: that of the comparisons.
const CLASS_TEST_PREC: u8 = 7;
/// Precedence of `e as C`: above every binary operator.
const CLASS_CAST_PREC: u8 = 11;

impl Parser<'_> {
    /// A full expression (lowest precedence).
    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.enter("expression")?;
        let r = self.binary(1);
        self.leave();
        r
    }

    /// Record that the expression just built at `span` has height `h` (see
    /// [`MAX_EXPR_HEIGHT`]); fails (reporting once) beyond the limit.
    fn set_height(&mut self, h: u32, span: Span) -> PResult<()> {
        if h > MAX_EXPR_HEIGHT {
            if !self.depth_reported {
                self.depth_reported = true;
                self.error(
                    span,
                    format!("expression nested too deeply (more than {MAX_EXPR_HEIGHT} levels)"),
                );
            }
            return Err(Fail);
        }
        self.height = h;
        Ok(())
    }

    /// Parse an expression and also return its height.
    fn expr_h(&mut self) -> PResult<(Expr, u32)> {
        let e = self.expr()?;
        Ok((e, self.height))
    }

    /// Parse the whole token stream as one expression; `None` after an error.
    pub(crate) fn whole_expr(&mut self, what: &str) -> Option<Expr> {
        let e = self.expr().ok()?;
        if !self.at(&TokenKind::Eof) {
            let found = self.found();
            let span = self.span();
            self.error(span, format!("unexpected {found} after the {what}"));
            return None;
        }
        Some(e)
    }

    fn binary(&mut self, min_prec: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        let mut h = self.height;
        let mut chain = 0usize;
        loop {
            // `e is C` (a comparison) and `e as C` (tighter than `*`).
            let class_op = match self.peek() {
                TokenKind::Is => Some(CLASS_TEST_PREC),
                TokenKind::As => Some(CLASS_CAST_PREC),
                _ => None,
            };
            if let Some(prec) = class_op {
                if prec < min_prec {
                    break;
                }
                let is = self.bump().kind == TokenKind::Is;
                let what = if is { "after 'is'" } else { "after 'as'" };
                let class = self.qualified_ident("a class name", what)?;
                let span = lhs.span.to(class.span);
                h += 1;
                self.set_height(h, span)?;
                let expr = Box::new(lhs);
                let kind = if is {
                    ExprKind::Is {
                        expr,
                        class,
                        class_id: 0,
                    }
                } else {
                    ExprKind::As {
                        expr,
                        class,
                        class_id: 0,
                    }
                };
                lhs = Expr::new(kind, span);
                continue;
            }
            let Some((op, prec)) = binop(self.peek()) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            let op_span = self.bump().span;
            if self.at(&TokenKind::Assign) && matches!(prec, 3 | 4 | 5 | 8 | 9 | 10) {
                let span = op_span.to(self.span());
                let sym = op.symbol();
                self.error(
                    span,
                    format!(
                        "expected an expression after '{sym}', found '=' (compound assignment '{sym}=' is not supported; write 'x = x {sym} ...')"
                    ),
                );
                return Err(Fail);
            }
            chain += 1;
            if chain > MAX_CHAIN {
                self.error(
                    op_span,
                    format!("expression too long (more than {MAX_CHAIN} operators in a row)"),
                );
                return Err(Fail);
            }
            let rhs = self.binary(prec + 1)?;
            let span = lhs.span.to(rhs.span);
            h = 1 + h.max(self.height);
            self.set_height(h, op_span)?;
            lhs = Expr::new(
                ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            );
        }
        self.height = h;
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let op = match self.peek() {
            TokenKind::Minus => UnOp::Neg,
            TokenKind::Not => UnOp::Not,
            TokenKind::Tilde => UnOp::BitNot,
            _ => return self.postfix(),
        };
        let start = self.bump().span;
        if op == UnOp::Neg
            && self.peek() == &TokenKind::Int(1u64 << 63)
            && !matches!(self.peek_at(1), TokenKind::LBracket | TokenKind::Dot)
        {
            // `-9223372036854775808` is i64::MIN (the literal alone is too large).
            let lit = self.bump().span;
            self.height = 1;
            return Ok(Expr::new(ExprKind::Int(i64::MIN), start.to(lit)));
        }
        self.enter("expression")?;
        let r = self.unary();
        self.leave();
        let operand = r?;
        let span = start.to(operand.span);
        self.set_height(self.height + 1, start)?;
        Ok(Expr::new(
            ExprKind::Unary {
                op,
                operand: Box::new(operand),
            },
            span,
        ))
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.atom()?;
        let mut h = self.height;
        let mut chain = 0usize;
        while matches!(
            self.peek(),
            TokenKind::LBracket | TokenKind::Dot | TokenKind::LParen
        ) {
            chain += 1;
            if chain > MAX_CHAIN {
                let span = self.span();
                self.error(
                    span,
                    format!("expression too long (more than {MAX_CHAIN} postfix operators in a row)"),
                );
                return Err(Fail);
            }
            let op_span = self.span();
            e = self.postfix_op(e)?;
            // `postfix_op` leaves the height of its index or arguments (0 for none).
            h = 1 + h.max(self.height);
            self.set_height(h, op_span)?;
        }
        self.height = h;
        Ok(e)
    }

    /// One `[index]`, `.field` or `.method(args)` applied to `e`.
    fn postfix_op(&mut self, e: Expr) -> PResult<Expr> {
        if self.eat(&TokenKind::LParen) {
            // `f(a)(b)`: the result of an expression called.
            let args = self.args("the function value")?;
            let span = self.span_from(e.span);
            return Ok(Expr::new(
                ExprKind::CallValue {
                    callee: Box::new(e),
                    args,
                },
                span,
            ));
        }
        if self.eat(&TokenKind::LBracket) {
            let index = Box::new(self.expr()?); // sets the height
            self.expect(&TokenKind::RBracket, "to close the index")?;
            let span = self.span_from(e.span);
            return Ok(Expr::new(
                ExprKind::Index {
                    base: Box::new(e),
                    index,
                },
                span,
            ));
        }
        self.bump(); // .
        let name = match self.peek() {
            // `t.0`: a tuple element (the lexer splits `t.0.1` into two).
            &TokenKind::Int(i) => Ident {
                name: i.to_string(),
                span: self.bump().span,
            },
            _ => self.expect_ident("a field or method name", "after '.'")?,
        };
        let start = e.span;
        let kind = if self.eat(&TokenKind::LParen) {
            let args = self.args(&name.name)?;
            ExprKind::MethodCall {
                receiver: Box::new(e),
                method: name,
                args,
                res: Res::Unresolved,
            }
        } else {
            self.height = 0;
            ExprKind::Field {
                base: Box::new(e),
                field: name,
                field_index: 0,
            }
        };
        Ok(Expr::new(kind, self.span_from(start)))
    }

    /// Arguments after `(`, up to and including `)`; trailing comma allowed.
    /// `callee` names the called thing in error messages.
    /// Leaves the largest height of the arguments (0 for none).
    pub(crate) fn args(&mut self, callee: &str) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        let mut h = 0;
        loop {
            if self.eat(&TokenKind::RParen) {
                break;
            }
            let (a, ha) = self.expr_h()?;
            args.push(a);
            h = h.max(ha);
            if !self.eat(&TokenKind::Comma) {
                if !self.at(&TokenKind::RParen) {
                    return Err(self.error_expected("',' or ')'", &format!("in the arguments of '{callee}'")));
                }
                self.bump();
                break;
            }
        }
        self.height = h;
        Ok(args)
    }

    /// An atom. Each kind is parsed by its own function so that the recursive path
    /// (e.g. through parentheses) only carries small stack frames.
    fn atom(&mut self) -> PResult<Expr> {
        match self.peek() {
            TokenKind::Ident(_) => self.ident_atom(),
            TokenKind::LParen => self.paren_atom(),
            TokenKind::LBracket => self.array_atom(),
            TokenKind::LBrace => self.map_atom(),
            TokenKind::Fn => self.lambda_atom(),
            TokenKind::New | TokenKind::Super => self.new_super_atom(),
            _ => self.literal_atom(),
        }
    }

    fn literal_atom(&mut self) -> PResult<Expr> {
        let start = self.span();
        let kind = match self.peek().clone() {
            TokenKind::Int(v) => {
                self.bump();
                match i64::try_from(v) {
                    Ok(v) => ExprKind::Int(v),
                    Err(_) => {
                        self.error(start, "integer literal too large");
                        ExprKind::Int(0)
                    }
                }
            }
            TokenKind::Float(f) => {
                self.bump();
                ExprKind::Float(f)
            }
            TokenKind::Str(bytes) => {
                self.bump();
                ExprKind::Str(bytes)
            }
            TokenKind::FStr(pieces) => {
                self.bump();
                let kind = self.fstring(pieces);
                self.set_height(self.height + 1, start)?;
                return Ok(Expr::new(kind, self.span_from(start)));
            }
            TokenKind::True => {
                self.bump();
                ExprKind::Bool(true)
            }
            TokenKind::Null => {
                self.bump();
                ExprKind::Null
            }
            TokenKind::False => {
                self.bump();
                ExprKind::Bool(false)
            }
            TokenKind::SelfKw => {
                self.bump();
                ExprKind::SelfRef
            }
            _ => return Err(self.error_expected("an expression", "")),
        };
        self.height = 1;
        Ok(Expr::new(kind, self.span_from(start)))
    }

    /// A name, a call `name(args)` or a struct literal `Name{...}`.
    fn ident_atom(&mut self) -> PResult<Expr> {
        let ident = self.expect_ident("a name", "")?;
        let start = ident.span;
        if ident.name == "lambda" && matches!(self.peek(), TokenKind::Ident(_) | TokenKind::Colon) {
            // Python's lambda: say how BetterPython writes one.
            self.error(
                start,
                "BetterPython has no 'lambda' keyword: a lambda is written `fn(x: int) -> int: x + 1`",
            );
            return Err(Fail);
        }
        let kind = if self.eat(&TokenKind::LParen) {
            let args = self.args(&ident.name)?;
            self.set_height(self.height + 1, start)?;
            ExprKind::Call {
                callee: ident,
                args,
                res: Res::Unresolved,
            }
        } else if self.at(&TokenKind::Dot)
            && matches!(self.peek_at(1), TokenKind::Ident(_))
            && self.peek_at(2) == &TokenKind::LBrace
            && (self.peek_at(3) == &TokenKind::RBrace
                || (matches!(self.peek_at(3), TokenKind::Ident(_)) && self.peek_at(4) == &TokenKind::Colon))
        {
            // `geo.Point{x: 1}`: a struct of an imported module.
            self.bump();
            let member = self.expect_ident("a struct name", "after '.'")?;
            let name = Ident {
                name: format!("{}.{}", ident.name, member.name),
                span: start.to(member.span),
            };
            let lit = self.struct_lit(name)?;
            self.set_height(self.height + 1, start)?;
            lit
        } else if self.at(&TokenKind::LBrace)
            && (self.peek_at(1) == &TokenKind::RBrace
                || (matches!(self.peek_at(1), TokenKind::Ident(_)) && self.peek_at(2) == &TokenKind::Colon))
        {
            let lit = self.struct_lit(ident)?;
            self.set_height(self.height + 1, start)?;
            lit
        } else {
            self.height = 1;
            ExprKind::Name {
                name: ident,
                res: Res::Unresolved,
            }
        };
        Ok(Expr::new(kind, self.span_from(start)))
    }

    /// `()`, `(e)`, `(e,)`, `(a, b, ...)`.
    fn paren_atom(&mut self) -> PResult<Expr> {
        let start = self.bump().span; // (
        if self.eat(&TokenKind::RParen) {
            self.height = 1;
            return Ok(Expr::new(ExprKind::Tuple(Vec::new()), self.span_from(start)));
        }
        let (first, mut h) = self.expr_h()?;
        if !self.eat(&TokenKind::Comma) {
            self.expect(&TokenKind::RParen, "to close '('")?;
            // A parenthesised expression keeps its node; the span grows to include
            // the parentheses.
            let mut e = first;
            e.span = self.span_from(start);
            return Ok(e);
        }
        let mut elems = vec![first];
        loop {
            if self.eat(&TokenKind::RParen) {
                break;
            }
            let (e, he) = self.expr_h()?;
            elems.push(e);
            h = h.max(he);
            if !self.eat(&TokenKind::Comma) {
                self.expect(&TokenKind::RParen, "to close the tuple")?;
                break;
            }
        }
        self.set_height(h + 1, start)?;
        Ok(Expr::new(ExprKind::Tuple(elems), self.span_from(start)))
    }

    fn array_atom(&mut self) -> PResult<Expr> {
        let start = self.bump().span; // [
        let mut elems = Vec::new();
        let mut h = 0;
        loop {
            if self.eat(&TokenKind::RBracket) {
                break;
            }
            let (e, he) = self.expr_h()?;
            elems.push(e);
            h = h.max(he);
            if !self.eat(&TokenKind::Comma) {
                self.expect(&TokenKind::RBracket, "to close the array literal")?;
                break;
            }
        }
        self.set_height(h + 1, start)?;
        Ok(Expr::new(ExprKind::Array(elems), self.span_from(start)))
    }

    fn map_atom(&mut self) -> PResult<Expr> {
        let start = self.bump().span; // {
        let mut pairs = Vec::new();
        let mut h = 0;
        loop {
            if self.eat(&TokenKind::RBrace) {
                break;
            }
            let (k, hk) = self.expr_h()?;
            self.expect(&TokenKind::Colon, "after a map key")?;
            let (v, hv) = self.expr_h()?;
            h = h.max(hk).max(hv);
            pairs.push((k, v));
            if !self.eat(&TokenKind::Comma) {
                self.expect(&TokenKind::RBrace, "to close the map literal")?;
                break;
            }
        }
        self.set_height(h + 1, start)?;
        Ok(Expr::new(ExprKind::Map(pairs), self.span_from(start)))
    }

    /// `fn(params) -> R: body`.
    fn lambda_atom(&mut self) -> PResult<Expr> {
        let start = self.bump().span; // fn
        self.expect(&TokenKind::LParen, "after 'fn' in a lambda")?;
        let params = self.params(false, "lambda")?;
        if !self.at(&TokenKind::Arrow) {
            return Err(self.error_expected("'->' and a return type", "after the lambda parameters"));
        }
        self.bump();
        let ret = self.ty()?;
        self.expect(&TokenKind::Colon, "before the lambda body")?;
        let body = LambdaBody::Expr(Box::new(self.expr()?));
        self.set_height(self.height + 1, start)?;
        let kind = ExprKind::Lambda {
            params,
            ret,
            body,
            func_id: 0,
            locals: Vec::new(),
            captures: Vec::new(),
        };
        Ok(Expr::new(kind, self.span_from(start)))
    }

    /// `new Name(args)`, `super(args)`, `super.m(args)`.
    fn new_super_atom(&mut self) -> PResult<Expr> {
        let tok = self.bump();
        let kind = if tok.kind == TokenKind::New {
            let class = self.qualified_ident("a class name", "after 'new'")?;
            self.expect(&TokenKind::LParen, &format!("after 'new {}'", class.name))?;
            let args = self.args(&format!("new {}", class.name))?;
            ExprKind::New {
                class,
                args,
                class_id: 0,
                init: None,
            }
        } else if self.eat(&TokenKind::LParen) {
            let args = self.args("super")?;
            ExprKind::Super {
                method: None,
                args,
                func_id: 0,
            }
        } else if self.eat(&TokenKind::Dot) {
            let method = self.expect_ident("a method name", "after 'super.'")?;
            self.expect(&TokenKind::LParen, &format!("after 'super.{}'", method.name))?;
            let args = self.args(&format!("super.{}", method.name))?;
            ExprKind::Super {
                method: Some(method),
                args,
                func_id: 0,
            }
        } else {
            return Err(self.error_expected("'(' or '.'", "after 'super'"));
        };
        self.set_height(self.height + 1, tok.span)?;
        Ok(Expr::new(kind, self.span_from(tok.span)))
    }

    /// `Name{field: e, ...}` after the name; the `{` is current.
    fn struct_lit(&mut self, name: Ident) -> PResult<ExprKind> {
        self.bump(); // {
        let mut fields = Vec::new();
        let mut h = 0;
        loop {
            if self.eat(&TokenKind::RBrace) {
                break;
            }
            let f = self.expect_ident("a field name", &format!("in the '{}' literal", name.name))?;
            self.expect(&TokenKind::Colon, &format!("after field name '{}'", f.name))?;
            let (v, hv) = self.expr_h()?;
            h = h.max(hv);
            fields.push((f, v));
            if !self.eat(&TokenKind::Comma) {
                self.expect(
                    &TokenKind::RBrace,
                    &format!("to close the '{}' literal", name.name),
                )?;
                break;
            }
        }
        self.height = h;
        Ok(ExprKind::StructLit {
            name,
            fields,
            struct_id: 0,
            field_index: Vec::new(),
        })
    }

    /// Parse the interpolations of an f-string with sub-parsers. Errors are reported;
    /// a failed interpolation is left out of the result.
    /// Leaves the largest height of the interpolations (0 for none).
    fn fstring(&mut self, pieces: Vec<FStrPiece>) -> ExprKind {
        let mut parts = Vec::with_capacity(pieces.len());
        let mut h = 0;
        for piece in pieces {
            match piece {
                FStrPiece::Lit(bytes) => parts.push(FStrPart::Lit(bytes)),
                FStrPiece::Expr { text, map } => {
                    let first = map.first().copied().unwrap_or(0);
                    let last = map.last().copied().unwrap_or(first);
                    let braces = Span::new(self.file, first.saturating_sub(1), last + 1);
                    let toks = lexer::lex_fragment(&text, self.file, &map, self.diags);
                    let mut sub = Parser::new(toks, self.file, &mut *self.diags, self.depth + 1);
                    sub.eof_name = "the end of the f-string expression";
                    if sub.at(&TokenKind::Eof) {
                        sub.error(braces, "empty expression in f-string");
                        continue;
                    }
                    if let Some(e) = sub.whole_expr("f-string expression") {
                        h = h.max(sub.height);
                        parts.push(FStrPart::Expr(e));
                    }
                }
            }
        }
        self.height = h;
        ExprKind::FString(parts)
    }
}
