use super::*;
use TokenKind as T;

fn lex_all(src: &str) -> (Vec<Token>, Vec<String>) {
    let mut d = Diagnostics::default();
    let toks = lex(src, 0, &mut d);
    (toks, d.list.iter().map(|d| d.message.clone()).collect())
}

fn kinds(src: &str) -> Vec<TokenKind> {
    let (toks, errs) = lex_all(src);
    assert!(errs.is_empty(), "unexpected errors for {src:?}: {errs:?}");
    toks.into_iter().map(|t| t.kind).collect()
}

fn errors(src: &str) -> Vec<String> {
    lex_all(src).1
}

fn count(ks: &[TokenKind], k: &TokenKind) -> usize {
    ks.iter().filter(|x| *x == k).count()
}

fn id(s: &str) -> TokenKind {
    T::Ident(s.to_string())
}

/// The single literal token of `src` (a literal followed by NEWLINE EOF).
fn lit(src: &str) -> TokenKind {
    let ks = kinds(src);
    assert_eq!(ks.len(), 3, "{src:?} gave {ks:?}");
    ks[0].clone()
}

fn str_bytes(src: &str) -> Vec<u8> {
    match lit(src) {
        T::Str(b) => b,
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn empty_and_blank_sources() {
    assert_eq!(kinds(""), vec![T::Eof]);
    assert_eq!(
        kinds("\n\n   \n# only a comment\n   # indented comment\n"),
        vec![T::Eof]
    );
    assert_eq!(kinds("x"), vec![id("x"), T::Newline, T::Eof]);
}

#[test]
fn simple_block() {
    let ks = kinds("def f() -> int:\n    return 1\n");
    assert_eq!(
        ks,
        vec![
            T::Def,
            id("f"),
            T::LParen,
            T::RParen,
            T::Arrow,
            id("int"),
            T::Colon,
            T::Newline,
            T::Indent,
            T::Return,
            T::Int(1),
            T::Newline,
            T::Dedent,
            T::Eof
        ]
    );
}

#[test]
fn nested_blocks_and_dedent_to_eof() {
    let src = "a:\n  b:\n      c:\n         d\n";
    let ks = kinds(src);
    assert_eq!(count(&ks, &T::Indent), 3);
    assert_eq!(count(&ks, &T::Dedent), 3);
    assert_eq!(count(&ks, &T::Newline), 4);
    // No trailing newline at EOF: NEWLINE is still produced before the DEDENTs.
    let ks = kinds("a:\n    b");
    assert_eq!(&ks[ks.len() - 4..], &[id("b"), T::Newline, T::Dedent, T::Eof]);
}

#[test]
fn multiple_dedents_at_once() {
    let src = "a:\n    b:\n        c:\n            d\ne\n";
    let ks = kinds(src);
    let pos_e = ks.iter().position(|k| *k == id("e")).unwrap();
    assert_eq!(
        &ks[pos_e - 4..pos_e],
        &[T::Newline, T::Dedent, T::Dedent, T::Dedent]
    );
}

#[test]
fn blank_and_comment_lines_are_ignored() {
    let src = "a:\n    b\n\n        # deeper comment\n  # shallower comment\n\n    c\nd\n";
    let ks = kinds(src);
    assert_eq!(count(&ks, &T::Indent), 1);
    assert_eq!(count(&ks, &T::Dedent), 1);
    // One NEWLINE per logical line, never two in a row, none before the first line.
    assert_eq!(count(&ks, &T::Newline), 4);
    for w in ks.windows(2) {
        assert!(!(w[0] == T::Newline && w[1] == T::Newline));
    }
    let ks = kinds("\n\n# c\nx\n");
    assert_eq!(ks, vec![id("x"), T::Newline, T::Eof]);
    // Trailing comment on a code line.
    assert_eq!(kinds("x # c\n"), vec![id("x"), T::Newline, T::Eof]);
}

#[test]
fn continuation_inside_brackets() {
    let src = "f(1,\n        2,\n  3)\nx = [\n1,\n]\ny = {\n  \"a\": 1\n}\n";
    let ks = kinds(src);
    assert_eq!(count(&ks, &T::Indent), 0);
    assert_eq!(count(&ks, &T::Dedent), 0);
    assert_eq!(count(&ks, &T::Newline), 3);
    // Continuation inside a block.
    let ks = kinds("a:\n    f(1,\n2)\n    g\n");
    assert_eq!(count(&ks, &T::Indent), 1);
    assert_eq!(count(&ks, &T::Dedent), 1);
    assert_eq!(count(&ks, &T::Newline), 3);
}

#[test]
fn unclosed_bracket_recovers_at_item_keyword() {
    let (toks, errs) = lex_all("let x: int = f(1,\ndef g() -> int:\n    return 1\n");
    assert!(errs.is_empty());
    let ks: Vec<_> = toks.into_iter().map(|t| t.kind).collect();
    let def = ks.iter().position(|k| *k == T::Def).unwrap();
    assert_eq!(ks[def - 1], T::Newline);
    assert_eq!(count(&ks, &T::Indent), 1);
}

#[test]
fn tabs_in_indentation() {
    let (toks, errs) = lex_all("a:\n\tb\n");
    assert_eq!(errs, vec!["tabs are not allowed in indentation"]);
    let tab = toks.iter().find(|t| t.kind == id("b")).unwrap().span.lo - 1;
    let mut d = Diagnostics::default();
    lex("a:\n\tb\n", 0, &mut d);
    assert_eq!(d.list[0].span.lo, tab);
    // Still produces a sensible block structure.
    let ks: Vec<_> = toks.into_iter().map(|t| t.kind).collect();
    assert_eq!(count(&ks, &T::Indent), 1);
    assert_eq!(count(&ks, &T::Dedent), 1);
    // A tab after the indentation is just whitespace.
    assert!(errors("a:\n    b\t= 1\n").is_empty());
    // A tab on a blank line is irrelevant.
    assert!(errors("a\n\t\nb\n").is_empty());
}

#[test]
fn inconsistent_dedent() {
    let errs = errors("a:\n    b\n  c\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("indentation error"), "{errs:?}");
}

#[test]
fn unexpected_indent_is_a_token() {
    let ks = kinds("  x\n");
    assert_eq!(ks, vec![T::Indent, id("x"), T::Newline, T::Dedent, T::Eof]);
}

#[test]
fn crlf_line_endings() {
    let ks = kinds("a:\r\n    b\r\n\r\n    c\r\nd\r\n");
    assert_eq!(
        ks,
        vec![
            id("a"),
            T::Colon,
            T::Newline,
            T::Indent,
            id("b"),
            T::Newline,
            id("c"),
            T::Newline,
            T::Dedent,
            id("d"),
            T::Newline,
            T::Eof
        ]
    );
}

#[test]
fn keywords_and_identifiers() {
    let src = "and as break case catch class continue default def elif else enum export extern false finally fn for from if import in let match new not or ptr return self struct super throw true try while pass";
    let ks = kinds(src);
    assert_eq!(ks.len(), 37 + 2);
    assert!(ks[..37]
        .iter()
        .all(|k| k.text().is_some() && !matches!(k, T::Ident(_))));
    assert_eq!(
        kinds("range _x int str2 andy")[..5],
        [id("range"), id("_x"), id("int"), id("str2"), id("andy")]
    );
}

#[test]
fn operators_longest_match() {
    let ks = kinds("+ - * / % == != < <= > >= & | ^ ~ << >> = -> : , . ( ) [ ] { } @");
    let expected = vec![
        T::Plus,
        T::Minus,
        T::Star,
        T::Slash,
        T::Percent,
        T::EqEq,
        T::NotEq,
        T::Lt,
        T::Le,
        T::Gt,
        T::Ge,
        T::Amp,
        T::Pipe,
        T::Caret,
        T::Tilde,
        T::Shl,
        T::Shr,
        T::Assign,
        T::Arrow,
        T::Colon,
        T::Comma,
        T::Dot,
        T::LParen,
        T::RParen,
        T::LBracket,
        T::RBracket,
        T::LBrace,
        T::RBrace,
        T::At,
    ];
    assert_eq!(ks[..expected.len()], expected[..]);
    assert_eq!(kinds("a<<=b")[..4], [id("a"), T::Shl, T::Assign, id("b")]);
    assert_eq!(kinds("x+=1")[..4], [id("x"), T::Plus, T::Assign, T::Int(1)]);
    assert_eq!(kinds("a//b")[..4], [id("a"), T::Slash, T::Slash, id("b")]);
    assert_eq!(kinds("a--b")[..4], [id("a"), T::Minus, T::Minus, id("b")]);
}

#[test]
fn integer_literals() {
    assert_eq!(lit("0"), T::Int(0));
    assert_eq!(lit("42"), T::Int(42));
    assert_eq!(lit("007"), T::Int(7));
    assert_eq!(lit("0xFF"), T::Int(255));
    assert_eq!(lit("0Xdead"), T::Int(0xdead));
    assert_eq!(lit("0b1010"), T::Int(10));
    assert_eq!(lit("0B1"), T::Int(1));
    assert_eq!(lit("9223372036854775807"), T::Int(i64::MAX as u64));
    assert_eq!(lit("9223372036854775808"), T::Int(1 << 63));
    assert_eq!(lit("0xFFFFFFFFFFFFFFFF"), T::Int(u64::MAX));
    assert_eq!(lit("99999999999999999999999"), T::Int(u64::MAX));
    assert_eq!(errors("0x").len(), 1);
    assert!(errors("0x").iter().all(|e| e.contains("invalid hex literal")));
    assert!(errors("0b102")[0].contains("invalid binary literal"));
    assert!(errors("0xZZ")[0].contains("invalid hex literal"));
}

#[test]
fn float_literals() {
    assert_eq!(lit("1.5"), T::Float(1.5));
    assert_eq!(lit("3.25"), T::Float(3.25));
    assert_eq!(lit("2.5e-1"), T::Float(0.25));
    assert_eq!(lit("1e3"), T::Float(1000.0));
    assert_eq!(lit("1E+6"), T::Float(1e6));
    assert_eq!(lit("42e-1"), T::Float(4.2));
    assert_eq!(lit("0.1"), T::Float(0.1));
    // `1.` and `.5` are not floats.
    assert_eq!(kinds("1.")[..2], [T::Int(1), T::Dot]);
    assert_eq!(kinds(".5")[..2], [T::Dot, T::Int(5)]);
    assert_eq!(kinds("1.x")[..3], [T::Int(1), T::Dot, id("x")]);
    assert!(errors("1e")[0].contains("expected a digit after the exponent"));
    assert!(errors("1.5e+")[0].contains("expected a digit after the exponent"));
}

#[test]
fn string_literals_and_escapes() {
    assert_eq!(str_bytes(r#""""#), b"");
    assert_eq!(str_bytes(r#""hello""#), b"hello");
    assert_eq!(str_bytes(r#""a\nb\tc\"d\\e\rf\0g""#), b"a\nb\tc\"d\\e\rf\0g");
    assert_eq!(str_bytes(r#""\x41\x7a\xff\x00""#), vec![0x41, 0x7a, 0xff, 0x00]);
    assert_eq!(
        str_bytes("\"h\u{e9}llo \u{1F600}\""),
        "h\u{e9}llo \u{1F600}".as_bytes()
    );
    assert_eq!(str_bytes("\"a\nb\""), b"a\nb");
    // A raw newline inside a string does not start a new line for the layout pass.
    let ks = kinds("f(\"a\nb\", 1)\nx\n");
    assert_eq!(count(&ks, &T::Newline), 2);
    let ks = kinds("a:\n    s = \"x\ny\"\n    t\n");
    assert_eq!(count(&ks, &T::Indent), 1);
    assert_eq!(count(&ks, &T::Dedent), 1);
}

#[test]
fn string_errors() {
    let (toks, errs) = lex_all(r#""a\qb""#);
    assert_eq!(errs, vec!["unknown escape sequence '\\q'"]);
    assert_eq!(toks[0].kind, T::Str(b"aqb".to_vec()));
    let mut d = Diagnostics::default();
    lex(r#"x = "ab\q""#, 0, &mut d);
    assert_eq!(d.list[0].span.lo, 7); // at the backslash
    assert!(errors(r#""\x4""#)[0].contains("two hex digits"));
    assert!(errors(r#""\xg1""#)[0].contains("two hex digits"));
    assert!(errors("\"\\\u{e9}\"")[0].contains("unknown escape sequence '\\\u{e9}'"));
    assert_eq!(errors("\"abc"), vec!["unterminated string"]);
    // An unterminated string stops at the end of its line.
    let (toks, errs) = lex_all("x = \"abc\ny = 1\n");
    assert_eq!(errs, vec!["unterminated string"]);
    assert!(toks.iter().any(|t| t.kind == id("y")));
    // Ending in a backslash.
    assert_eq!(errors("\"abc\\"), vec!["unterminated string"]);
}

fn fstr(src: &str) -> Vec<FStrPiece> {
    let (toks, errs) = lex_all(src);
    assert!(errs.is_empty(), "{errs:?}");
    match &toks[0].kind {
        T::FStr(p) => p.clone(),
        other => panic!("not an f-string: {other:?}"),
    }
}

fn fexpr(text: &str, lo: u32) -> FStrPiece {
    FStrPiece::Expr {
        text: text.to_string(),
        map: (lo..=lo + text.len() as u32).collect(),
    }
}

#[test]
fn fstring_splitting() {
    assert_eq!(fstr(r#"f"""#), vec![FStrPiece::Lit(vec![])]);
    assert_eq!(fstr(r#"f"abc""#), vec![FStrPiece::Lit(b"abc".to_vec())]);
    assert_eq!(
        fstr(r#"f"x={x}!""#),
        vec![
            FStrPiece::Lit(b"x=".to_vec()),
            fexpr("x", 5),
            FStrPiece::Lit(b"!".to_vec())
        ]
    );
    assert_eq!(fstr(r#"f"{a}{b + 1}""#), vec![fexpr("a", 3), fexpr("b + 1", 6)]);
    assert_eq!(fstr(r#"f"{{x}} }""#), vec![FStrPiece::Lit(b"{x} }".to_vec())]);
    assert_eq!(
        fstr(r#"f"a\n{x}\t""#),
        vec![
            FStrPiece::Lit(b"a\n".to_vec()),
            fexpr("x", 6),
            FStrPiece::Lit(b"\t".to_vec())
        ]
    );
    // Nested braces (a map literal inside an interpolation).
    assert_eq!(fstr(r#"f"{len({1: 2})}""#), vec![fexpr("len({1: 2})", 3)]);
    // `\"` inside an interpolation is unescaped, offsets still point into the file.
    match &fstr(r#"f"{m[\"k\"]}""#)[0] {
        FStrPiece::Expr { text, map } => {
            assert_eq!(text, "m[\"k\"]");
            assert_eq!(map, &vec![3, 4, 5, 7, 8, 10, 11]);
        }
        other => panic!("{other:?}"),
    }
    // `f` followed by a space is an identifier then a string.
    assert_eq!(kinds(r#"f "x""#)[..2], [id("f"), T::Str(b"x".to_vec())]);
}

#[test]
fn fstring_errors() {
    assert_eq!(errors(r#"f"{x""#), vec!["unterminated {} in f-string"]);
    assert_eq!(errors(r#"f"a {b {c} d""#), vec!["unterminated {} in f-string"]);
    assert_eq!(errors(r#"f"\q{x}""#), vec!["unknown escape sequence '\\q'"]);
    assert_eq!(errors(r#"f"abc"#), vec!["unterminated string"]);
}

#[test]
fn fragment_lexing_maps_offsets() {
    let mut d = Diagnostics::default();
    let map: Vec<u32> = (100..=105).collect();
    let toks = lex_fragment("a +\n$", 0, &map, &mut d);
    let ks: Vec<_> = toks.iter().map(|t| t.kind.clone()).collect();
    assert_eq!(ks, vec![id("a"), T::Plus, T::Eof]);
    assert_eq!(toks[1].span, Span::new(0, 102, 103));
    assert_eq!(d.list.len(), 1);
    assert_eq!(d.list[0].span.lo, 104);
}

#[test]
fn unexpected_characters() {
    assert_eq!(errors("a ; b"), vec!["unexpected character ';'"]);
    assert_eq!(
        errors("'x'"),
        vec!["unexpected character '''", "unexpected character '''"]
    );
    assert_eq!(
        errors("$ \\ !"),
        vec![
            "unexpected character '$'",
            "unexpected character '\\'",
            "unexpected character '!'"
        ]
    );
    assert_eq!(errors("\u{e9}"), vec!["unexpected character '\u{e9}'"]);
    let mut d = Diagnostics::default();
    lex("ab $", 0, &mut d);
    assert_eq!((d.list[0].span.lo, d.list[0].span.hi), (3, 4));
}

#[test]
fn spans_are_byte_offsets() {
    let (toks, _) = lex_all("let \u{e9}x");
    assert_eq!(toks[0].span, Span::new(0, 0, 3));
    let (toks, _) = lex_all("# \u{e9}\u{e9}\nfoo = \"\u{e9}\"\n");
    assert_eq!(toks[0].span, Span::new(0, 7, 10));
    assert_eq!(toks[2].span, Span::new(0, 13, 17));
}

/// Deterministic pseudo-random bytes.
fn lcg_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as u8
        })
        .collect()
}

#[test]
fn garbage_never_panics() {
    for seed in 0..200 {
        let bytes = lcg_bytes(seed, 300);
        let src = String::from_utf8_lossy(&bytes);
        let toks = lex_all(&src).0;
        assert_eq!(toks.last().map(|t| &t.kind), Some(&T::Eof));
        let mut ind = 0i64;
        for t in &toks {
            match t.kind {
                T::Indent => ind += 1,
                T::Dedent => ind -= 1,
                _ => {}
            }
            assert!(ind >= 0);
        }
        assert_eq!(ind, 0);
    }
    // Printable garbage built from the language's own characters.
    let alphabet = b"  \n\n\t(){}[]\"\\fx1.e#:=,-";
    for seed in 0..300 {
        let src: String = lcg_bytes(seed, 200)
            .iter()
            .map(|b| alphabet[*b as usize % alphabet.len()] as char)
            .collect();
        let _ = lex_all(&src);
    }
    for s in [
        "", ")))", "\"", "f\"", "f\"{", "\\", "0x", "1e", "\t", "\r", "\r\n", "\n\t\n", "{\n", "f\"{\\\"",
    ] {
        let _ = lex_all(s);
    }
}

// ---- source bytes -------------------------------------------------------------------

/// Decode and lex `bytes`; the tokens and the error messages.
fn lex_bytes(bytes: &[u8]) -> (Vec<TokenKind>, Vec<String>) {
    let d = decode_source(bytes.to_vec());
    let mut diags = Diagnostics::default();
    let toks = lex_decoded(&d.text, d.raw.as_deref(), 0, &mut diags);
    (
        toks.into_iter().map(|t| t.kind).collect(),
        diags.list.iter().map(|d| d.message.clone()).collect(),
    )
}

#[test]
fn byte_order_mark_is_skipped_only_at_the_start() {
    let d = decode_source(b"\xEF\xBB\xBFx".to_vec());
    assert_eq!((d.text.as_str(), d.raw.is_none()), ("x", true));
    let (_, errs) = lex_bytes("x\u{feff}".as_bytes());
    assert_eq!(errs, ["unexpected character '\u{feff}'"]);
}

#[test]
fn bytes_that_are_not_utf8_keep_offsets() {
    let d = decode_source(b"a\xffb\xc3".to_vec());
    assert_eq!(d.text, "a\0b\0");
    assert_eq!(d.invalid, [1, 3]);
    assert_eq!(d.raw.as_deref(), Some(&b"a\xffb\xc3"[..]));
}

#[test]
fn string_literals_hold_bytes_that_are_not_utf8() {
    let (toks, errs) = lex_bytes(b"\"a\xff\\n\xfe\" f\"\xc3{x}\"");
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(toks[0], T::Str(b"a\xff\n\xfe".to_vec()));
    let T::FStr(pieces) = &toks[1] else {
        panic!("{toks:?}")
    };
    assert_eq!(pieces[0], FStrPiece::Lit(b"\xc3".to_vec()));
}

#[test]
fn bytes_that_are_not_utf8_elsewhere_are_one_error_per_run() {
    let (toks, errs) = lex_bytes(b"x\xff\xfe y # \x80\n\"\\\xff\"");
    // (Bytes outside literals are reported after lexing; the parser sorts by position.)
    assert_eq!(
        errs,
        [
            "unknown escape sequence: '\\' followed by the byte 0xFF",
            "invalid UTF-8: bytes starting with 0xFF (only string literals may hold bytes that are not UTF-8)",
            "invalid UTF-8: byte 0x80 (only string literals may hold bytes that are not UTF-8)",
        ]
    );
    assert_eq!(toks[..2], [id("x"), id("y")]);
    // A real NUL is still an unexpected character.
    assert_eq!(lex_bytes(b"\0 \xff").1[0], "unexpected character '\\0'");
}

#[test]
fn a_run_of_unexpected_characters_is_one_error() {
    assert_eq!(errors("x = $$$$ 1"), ["unexpected character '$'"]);
    assert_eq!(errors("$ $").len(), 2);
}

#[test]
fn tuple_paths_split_after_a_dot() {
    // `t.0.1` is two tuple indices, not `t` `.` `0.1`.
    assert_eq!(
        kinds("t.0.1"),
        vec![id("t"), T::Dot, T::Int(0), T::Dot, T::Int(1), T::Newline, T::Eof]
    );
    let (toks, _) = lex_all("t.12.3");
    let spans: Vec<(u32, u32)> = toks.iter().take(5).map(|t| (t.span.lo, t.span.hi)).collect();
    assert_eq!(spans, vec![(0, 1), (1, 2), (2, 4), (4, 5), (5, 6)]);
    // Elsewhere a float stays a float, also with an exponent after a dot.
    assert_eq!(kinds("x = 0.5")[2], T::Float(0.5));
    assert_eq!(kinds("t.1e3")[2], T::Float(1000.0));
}
