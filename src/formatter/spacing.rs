//! Where the formatter puts a space between two tokens of a line.

use crate::lexer::TokenKind;

/// Whether a token can end an operand: after it, `-` is binary, `(` is a call and
/// `[` an index.
fn ends_operand(k: &TokenKind) -> bool {
    use TokenKind::*;
    matches!(
        k,
        Ident(_)
            | Int(_)
            | Float(_)
            | Str(_)
            | FStr(_)
            | True
            | False
            | Null
            | SelfKw
            | Ptr
            | RParen
            | RBracket
            | RBrace
    )
}

/// Whether `kind`, following `prev` in its line, is a unary operator.
pub(super) fn is_unary(kind: &TokenKind, prev: Option<&TokenKind>) -> bool {
    match kind {
        TokenKind::Tilde => true,
        TokenKind::Minus | TokenKind::Plus => !prev.is_some_and(ends_operand),
        _ => false,
    }
}

/// Whether a top-level line starting with `kind` begins a definition.
pub(super) fn starts_definition(kind: &TokenKind) -> bool {
    use TokenKind::*;
    matches!(kind, Def | Struct | Class | Enum | At | Export)
}

/// Whether a space separates `prev` (a unary operator if `prev_unary`) from `cur`
/// in a line whose first token is `first`.
pub(super) fn space_between(
    prev: &TokenKind,
    prev_unary: bool,
    cur: &TokenKind,
    first: Option<&TokenKind>,
) -> bool {
    use TokenKind::*;
    // `Node?`: the nullable mark is written against its type.
    if matches!(cur, Comma | Colon | Dot | RParen | RBracket | RBrace | Question) {
        return false;
    }
    if prev_unary && matches!(prev, Minus | Plus) && matches!(cur, Minus | Plus) {
        // `- -x`, not `--x`.
        return true;
    }
    if prev_unary || matches!(prev, LParen | LBracket | LBrace | Dot | At) {
        return false;
    }
    match cur {
        // `import m (f, g)` keeps its space; elsewhere `name(` is a call and
        // `fn(`/`super(` are written together.
        LParen if matches!(first, Some(Import)) => true,
        LParen => !(ends_operand(prev) || matches!(prev, Fn | Super)),
        LBracket => !ends_operand(prev),
        // `Point{x: 1}`: a struct literal.
        LBrace => !matches!(prev, Ident(_)),
        _ => true,
    }
}
