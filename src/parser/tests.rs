use super::*;

// ---- helpers ---------------------------------------------------------------------

fn parse(src: &str) -> (Module, Vec<String>) {
    let mut d = Diagnostics::default();
    let m = parse_module(src, 0, "test", &mut d);
    let errs = d
        .list
        .iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .map(|d| d.message.clone())
        .collect();
    (m, errs)
}

fn parse_ok(src: &str) -> Module {
    let (m, errs) = parse(src);
    assert!(errs.is_empty(), "unexpected errors: {errs:?}\nin:\n{src}");
    m
}

fn errs(src: &str) -> Vec<String> {
    parse(src).1
}

fn has_err(src: &str, needle: &str) -> bool {
    let e = errs(src);
    e.iter().any(|m| m.contains(needle)) || panic!("no error containing {needle:?} in {e:?}\nsrc:\n{src}")
}

/// The statements of `main` in a program whose main body is `body` (indented 4).
fn body(body: &str) -> Vec<Stmt> {
    let src = format!("def main() -> int:\n{}\n", indent(body));
    let m = parse_ok(&src);
    match m.items.into_iter().next() {
        Some(Item::Func(f)) => f.body.stmts,
        other => panic!("{other:?}"),
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

fn one_stmt(src: &str) -> StmtKind {
    let mut s = body(src);
    assert_eq!(s.len(), 1);
    s.remove(0).kind
}

/// Parse an expression and print it as an S-expression.
fn ex(src: &str) -> String {
    let mut d = Diagnostics::default();
    let e = parse_expr_str(src, 0, &mut d);
    let msgs: Vec<_> = d.list.iter().map(|d| d.message.clone()).collect();
    assert!(msgs.is_empty(), "errors for {src:?}: {msgs:?}");
    sx(&e.expect("expression"))
}

fn expr_errs(src: &str) -> Vec<String> {
    let mut d = Diagnostics::default();
    let _ = parse_expr_str(src, 0, &mut d);
    d.list.iter().map(|d| d.message.clone()).collect()
}

fn list(es: &[Expr]) -> String {
    es.iter().map(sx).collect::<Vec<_>>().join(" ")
}

fn ty(t: &TypeExpr) -> String {
    match &t.kind {
        TypeExprKind::Named(n) => n.clone(),
        TypeExprKind::Array(e) => format!("[{}]", ty(e)),
        TypeExprKind::Map(k, v) => format!("{{{}: {}}}", ty(k), ty(v)),
        TypeExprKind::Tuple(ts) => format!("({})", ts.iter().map(ty).collect::<Vec<_>>().join(", ")),
        TypeExprKind::Fn(ps, r) => format!(
            "fn({}) -> {}",
            ps.iter().map(ty).collect::<Vec<_>>().join(", "),
            ty(r)
        ),
        TypeExprKind::Chan(e) => format!("chan[{}]", ty(e)),
        TypeExprKind::Nullable(t) => format!("{}?", ty(t)),
    }
}

fn sx(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Str(b) => format!("{:?}", String::from_utf8_lossy(b)),
        ExprKind::FString(parts) => {
            let ps: Vec<String> = parts
                .iter()
                .map(|p| match p {
                    FStrPart::Lit(b) => format!("{:?}", String::from_utf8_lossy(b)),
                    FStrPart::Expr(e) => sx(e),
                })
                .collect();
            format!("(f {})", ps.join(" "))
        }
        ExprKind::Name { name, .. } => name.name.clone(),
        ExprKind::Array(es) => format!("[{}]", list(es)),
        ExprKind::Map(kv) => {
            format!(
                "{{{}}}",
                kv.iter()
                    .map(|(k, v)| format!("{}:{}", sx(k), sx(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        ExprKind::Tuple(es) => format!("(tuple {})", list(es)).replace("(tuple )", "(tuple)"),
        ExprKind::StructLit { name, fields, .. } => format!(
            "({}{{{}}})",
            name.name,
            fields
                .iter()
                .map(|(f, v)| format!("{}:{}", f.name, sx(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ExprKind::Unary { op, operand } => {
            let o = match op {
                UnOp::Neg => "neg",
                UnOp::Not => "not",
                UnOp::BitNot => "~",
            };
            format!("({o} {})", sx(operand))
        }
        ExprKind::Binary { op, lhs, rhs } => format!("({} {} {})", op.symbol(), sx(lhs), sx(rhs)),
        ExprKind::Index { base, index } => format!("(idx {} {})", sx(base), sx(index)),
        ExprKind::Field { base, field, .. } => format!("(. {} {})", sx(base), field.name),
        ExprKind::Call { callee, args, .. } => {
            format!("(call {} {})", callee.name, list(args)).replace(" )", ")")
        }
        ExprKind::BoundMethod { receiver, .. } => format!("(bound {})", sx(receiver)),
        ExprKind::CallValue { callee, args } => {
            format!("(callv {} {})", sx(callee), list(args)).replace(" )", ")")
        }
        ExprKind::MethodCall {
            receiver,
            method,
            args,
            ..
        } => format!("(mcall {} {} {})", sx(receiver), method.name, list(args)).replace(" )", ")"),
        ExprKind::Lambda {
            params, ret, body, ..
        } => format!(
            "(lambda ({}) {} {})",
            params
                .iter()
                .map(|p| format!("{}:{}", p.name.name, p.ty.as_ref().map(ty).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" "),
            ty(ret),
            match body {
                LambdaBody::Expr(e) => sx(e),
                LambdaBody::Block(b) => format!("(block {})", b.stmts.len()),
            }
        ),
        ExprKind::New { class, args, .. } => {
            format!("(new {} {})", class.name, list(args)).replace(" )", ")")
        }
        ExprKind::Super { method, args, .. } => format!(
            "(super {} {})",
            method.as_ref().map(|m| m.name.as_str()).unwrap_or("-"),
            list(args)
        )
        .replace(" )", ")"),
        ExprKind::SelfRef => "self".to_string(),
        ExprKind::Null => "null".to_string(),
        ExprKind::Is { expr, class, .. } => format!("(is {} {})", sx(expr), class.name),
        ExprKind::As { expr, class, .. } => format!("(as {} {})", sx(expr), class.name),
        ExprKind::NonNull { inner, .. } => format!("(nonnull {})", sx(inner)),
    }
}

#[test]
fn class_tests_and_nullable_types() {
    assert_eq!(ex("a is B and c as D == e"), "(and (is a B) (== (as c D) e))");
    assert_eq!(ex("x * y as C"), "(* x (as y C))");
    assert_eq!(ex("p != null"), "(!= p null)");
}

// ---- expressions -----------------------------------------------------------------

#[test]
fn precedence() {
    assert_eq!(ex("1 + 2 * 3"), "(+ 1 (* 2 3))");
    assert_eq!(ex("(1 + 2) * 3"), "(* (+ 1 2) 3)");
    assert_eq!(ex("x & 1 == 0"), "(& x (== 1 0))");
    assert_eq!(ex("not a == b"), "(== (not a) b)");
    assert_eq!(ex("-a * b"), "(* (neg a) b)");
    assert_eq!(ex("a - b - c"), "(- (- a b) c)");
    assert_eq!(ex("a / b * c % d"), "(% (* (/ a b) c) d)");
    assert_eq!(ex("a or b and c"), "(or a (and b c))");
    assert_eq!(ex("a and b or c and d"), "(or (and a b) (and c d))");
    assert_eq!(ex("a | b ^ c & d"), "(| a (^ b (& c d)))");
    assert_eq!(ex("a == b < c"), "(== a (< b c))");
    assert_eq!(ex("a < b < c"), "(< (< a b) c)");
    assert_eq!(ex("a << 1 + 2"), "(<< a (+ 1 2))");
    assert_eq!(ex("a < b << c"), "(< a (<< b c))");
    assert_eq!(ex("1 | 2 or 3"), "(or (| 1 2) 3)");
    assert_eq!(ex("~x + 1"), "(+ (~ x) 1)");
    assert_eq!(ex("- - x"), "(neg (neg x))");
    assert_eq!(ex("not not b"), "(not (not b))");
    assert_eq!(ex("-a[0]"), "(neg (idx a 0))");
    assert_eq!(ex("-p.x"), "(neg (. p x))");
    assert_eq!(ex("a != b == c"), "(== (!= a b) c)");
    assert_eq!(ex("a >= b and c <= d"), "(and (>= a b) (<= c d))");
    assert_eq!(ex("a >> 2 << 3"), "(<< (>> a 2) 3)");
}

#[test]
fn postfix_and_calls() {
    assert_eq!(ex("f()"), "(call f)");
    assert_eq!(ex("f(1, x, g(2))"), "(call f 1 x (call g 2))");
    assert_eq!(ex("f(1, 2,)"), "(call f 1 2)");
    assert_eq!(ex("grid[i][j]"), "(idx (idx grid i) j)");
    assert_eq!(ex("line.start.x"), "(. (. line start) x)");
    assert_eq!(ex("make()[0]"), "(idx (call make) 0)");
    assert_eq!(ex("make().x"), "(. (call make) x)");
    assert_eq!(ex("geo.area(1, 2)"), "(mcall geo area 1 2)");
    assert_eq!(ex("p.items[0].norm()"), "(mcall (idx (. p items) 0) norm)");
    assert_eq!(ex("self.x"), "(. self x)");
    assert_eq!(ex("self.m(1)"), "(mcall self m 1)");
    assert_eq!(ex("f(\n1,\n2\n)"), "(call f 1 2)");
}

#[test]
fn literals() {
    assert_eq!(ex("42"), "42");
    assert_eq!(ex("0x2A"), "42");
    assert_eq!(ex("0b101010"), "42");
    assert_eq!(ex("4.2"), "4.2");
    assert_eq!(ex("true"), "true");
    assert_eq!(ex("false"), "false");
    assert_eq!(ex("\"hi\\n\""), "\"hi\\n\"");
    assert_eq!(ex("[1, 2, 3]"), "[1 2 3]");
    assert_eq!(ex("[1, 2, 3,]"), "[1 2 3]");
    assert_eq!(ex("[]"), "[]");
    assert_eq!(ex("[[1], []]"), "[[1] []]");
    assert_eq!(ex("{\"a\": 1, \"b\": 2}"), "{\"a\":1 \"b\":2}");
    assert_eq!(ex("{1: 2,}"), "{1:2}");
    assert_eq!(ex("{}"), "{}");
    assert_eq!(ex("Point{x: 1, y: 2}"), "(Point{x:1 y:2})");
    assert_eq!(ex("Point{x: 1, y: 2,}"), "(Point{x:1 y:2})");
    assert_eq!(ex("Empty{}"), "(Empty{})");
    assert_eq!(
        ex("Label{text: \"a\", at: Point{x: 1, y: 2}}.at.x"),
        "(. (. (Label{text:\"a\" at:(Point{x:1 y:2})}) at) x)"
    );
    assert_eq!(ex("(1, 2)"), "(tuple 1 2)");
    assert_eq!(ex("(1,)"), "(tuple 1)");
    assert_eq!(ex("()"), "(tuple)");
    assert_eq!(ex("(1, 2, 3,)"), "(tuple 1 2 3)");
    assert_eq!(ex("(1)"), "1");
    assert_eq!(ex("((x))"), "x");
}

#[test]
fn struct_literal_lookahead() {
    // `{` after a name starts a struct literal only before `}` or `IDENT :`.
    let (m, e) = parse("def f() -> int:\n    g{1: 2}\n");
    assert!(!e.is_empty());
    drop(m);
    assert_eq!(ex("[a, {b: 1}]"), "[a {b:1}]");
}

#[test]
fn integer_limits() {
    assert_eq!(ex("9223372036854775807"), "9223372036854775807");
    assert_eq!(ex("-9223372036854775808"), "-9223372036854775808");
    assert_eq!(ex("- 9223372036854775808"), "-9223372036854775808");
    assert_eq!(ex("1 - -9223372036854775808"), "(- 1 -9223372036854775808)");
    assert_eq!(
        expr_errs("9223372036854775808"),
        vec!["integer literal too large"]
    );
    assert_eq!(
        expr_errs("1 - 9223372036854775808"),
        vec!["integer literal too large"]
    );
    assert_eq!(
        expr_errs("-9223372036854775809"),
        vec!["integer literal too large"]
    );
    assert_eq!(expr_errs("0xFFFFFFFFFFFFFFFF"), vec!["integer literal too large"]);
    assert_eq!(
        expr_errs("-(9223372036854775808)"),
        vec!["integer literal too large"]
    );
    // The span of the folded literal covers the minus sign.
    let mut d = Diagnostics::default();
    let e = parse_expr_str("  -9223372036854775808", 0, &mut d).unwrap();
    assert_eq!((e.span.lo, e.span.hi), (2, 22));
}

#[test]
fn lambdas_new_super() {
    assert_eq!(ex("fn(v: int) -> int: v * 2"), "(lambda (v:int) int (* v 2))");
    assert_eq!(ex("fn() -> bool: true"), "(lambda () bool true)");
    assert_eq!(
        ex("fn(a: [int], b: {str: int}) -> fn(int) -> int: f"),
        "(lambda (a:[int] b:{str: int}) fn(int) -> int f)"
    );
    assert_eq!(ex("new Animal(\"x\", 3)"), "(new Animal \"x\" 3)");
    assert_eq!(ex("new Animal()"), "(new Animal)");
    assert_eq!(ex("super(1)"), "(super - 1)");
    assert_eq!(ex("super.speak()"), "(super speak)");
    assert!(expr_errs("fn(v) -> int: v")[0].contains("expected ':'"));
    assert!(expr_errs("fn(v: int): v")[0].contains("'->'"));
}

#[test]
fn fstrings() {
    assert_eq!(
        ex("f\"{who} has {n * 2} cats\""),
        "(f who \" has \" (* n 2) \" cats\")"
    );
    assert_eq!(ex("f\"{{literal}} {x}\""), "(f \"{literal} \" x)");
    assert_eq!(ex("f\"\""), "(f \"\")");
    assert_eq!(ex("f\"{len({1: 2})}\""), "(f (call len {1:2}))");
    assert_eq!(ex("f\"{m[\\\"k\\\"]}\""), "(f (idx m \"k\"))");
    assert_eq!(ex("f\"{f\\\"{x}\\\"}\""), "(f (f x))");
    assert_eq!(ex("f\"{ a }\""), "(f a)");
    // Spans inside interpolations are absolute.
    let src = "def main() -> int:\n    print(f\"ab {x + } cd\")\n";
    let mut d = Diagnostics::default();
    parse_module(src, 0, "t", &mut d);
    assert_eq!(d.list.len(), 1, "{:?}", d.list);
    assert_eq!(d.list[0].span.lo as usize, src.find('}').unwrap());
    let src = "def main() -> int:\n    print(f\"ab {x $ y} cd\")\n";
    let mut d = Diagnostics::default();
    parse_module(src, 0, "t", &mut d);
    assert_eq!(d.list[0].message, "unexpected character '$'");
    assert_eq!(d.list[0].span.lo as usize, src.find('$').unwrap());
    let mut d = Diagnostics::default();
    let e = parse_expr_str("f\"..{value}\"", 0, &mut d).unwrap();
    let ExprKind::FString(parts) = &e.kind else {
        panic!()
    };
    let FStrPart::Expr(v) = &parts[1] else { panic!() };
    assert_eq!((v.span.lo, v.span.hi), (5, 10));
    assert_eq!(expr_errs("f\"{}\""), vec!["empty expression in f-string"]);
    assert_eq!(
        expr_errs("f\"{a b}\""),
        vec!["unexpected identifier 'b' after the f-string expression"]
    );
    assert_eq!(expr_errs("f\"{x\""), vec!["unterminated {} in f-string"]);
    assert!(expr_errs("f\"{x:>5}\"")[0].contains("':'"));
}

// ---- statements ------------------------------------------------------------------

#[test]
fn let_and_assignments() {
    match one_stmt("let x: int = 1 + 2") {
        StmtKind::Let {
            name, ty: t, init, ..
        } => {
            assert_eq!(name.name, "x");
            assert_eq!(ty(&t), "int");
            assert_eq!(sx(&init), "(+ 1 2)");
        }
        other => panic!("{other:?}"),
    }
    match one_stmt("let m: {str: [int]} = {}") {
        StmtKind::Let { ty: t, .. } => assert_eq!(ty(&t), "{str: [int]}"),
        other => panic!("{other:?}"),
    }
    match one_stmt("let t: (int, str) = (1, \"a\")") {
        StmtKind::Let { ty: t, .. } => assert_eq!(ty(&t), "(int, str)"),
        other => panic!("{other:?}"),
    }
    match one_stmt("let f: fn(int, ptr) -> void = g") {
        StmtKind::Let { ty: t, .. } => assert_eq!(ty(&t), "fn(int, ptr) -> void"),
        other => panic!("{other:?}"),
    }
    match one_stmt("let c: chan[[str]]? = chan_new(0)") {
        StmtKind::Let { ty: t, .. } => assert_eq!(ty(&t), "chan[[str]]?"),
        other => panic!("{other:?}"),
    }
    for (src, target) in [
        ("x = 1", "x"),
        ("a[i] = v", "(idx a i)"),
        ("g[i][j] = v", "(idx (idx g i) j)"),
        ("p.items[0] = v", "(idx (. p items) 0)"),
        ("a.b.c = v", "(. (. a b) c)"),
        ("f().x = v", "(. (call f) x)"),
        ("self.x = v", "(. self x)"),
    ] {
        match one_stmt(src) {
            StmtKind::Assign { target: t, value } => {
                assert_eq!(sx(&t), target);
                assert!(matches!(value.kind, ExprKind::Name { .. } | ExprKind::Int(_)));
            }
            other => panic!("{src}: {other:?}"),
        }
    }
    assert!(matches!(one_stmt("print(1, 2)"), StmtKind::Expr(_)));
    assert!(matches!(one_stmt("\"docstring\""), StmtKind::Expr(_)));
}

#[test]
fn assignment_errors() {
    let b = |s: &str| format!("def main() -> int:\n    {s}\n");
    assert!(has_err(&b("f() = 3"), "invalid assignment target"));
    assert!(has_err(&b("1 = 3"), "invalid assignment target"));
    assert!(has_err(&b("a + b = 3"), "invalid assignment target"));
    assert!(has_err(&b("x += 1"), "compound assignment '+=' is not supported"));
    assert!(has_err(
        &b("x <<= 1"),
        "expected an expression after '<<', found '='"
    ));
    assert!(has_err(
        &b("a = b = c"),
        "expected end of line after assignment, found '='"
    ));
    assert!(has_err(&b("let x = 5"), "expected ':' in let, found '='"));
    assert!(has_err(&b("let x: int"), "expected '=' in let"));
    assert!(has_err(&b("print(1) print(2)"), "expected end of line"));
}

#[test]
fn if_elif_else() {
    let s = one_stmt("if a:\n    x = 1\nelif b:\n    x = 2\nelif c:\n    pass\nelse:\n    x = 3");
    match s {
        StmtKind::If { branches, else_block } => {
            assert_eq!(branches.len(), 3);
            assert_eq!(sx(&branches[1].0), "b");
            assert!(matches!(branches[2].1.stmts[0].kind, StmtKind::Pass));
            assert_eq!(else_block.unwrap().stmts.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    match one_stmt("if a:\n    pass") {
        StmtKind::If { branches, else_block } => {
            assert_eq!(branches.len(), 1);
            assert!(else_block.is_none());
        }
        other => panic!("{other:?}"),
    }
    // Nested blocks
    let s = body("if a:\n    if b:\n        while c:\n            break\n    y = 2\nz = 3");
    assert_eq!(s.len(), 2);
}

#[test]
fn loops() {
    match one_stmt("while i < 10:\n    i = i + 1\n    continue") {
        StmtKind::While { cond, body } => {
            assert_eq!(sx(&cond), "(< i 10)");
            assert_eq!(body.stmts.len(), 2);
            assert!(matches!(body.stmts[1].kind, StmtKind::Continue));
        }
        other => panic!("{other:?}"),
    }
    match one_stmt("for i in range(2, n + 1):\n    print(i)") {
        StmtKind::ForRange {
            var,
            start,
            end,
            body,
            ..
        } => {
            assert_eq!(var.name, "i");
            assert_eq!(sx(&start), "2");
            assert_eq!(sx(&end), "(+ n 1)");
            assert_eq!(body.stmts.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    match one_stmt("for w in [\"a\", \"b\"]:\n    break") {
        StmtKind::ForIn { var, iter, .. } => {
            assert_eq!(var.name, "w");
            assert_eq!(sx(&iter), "[\"a\" \"b\"]");
        }
        other => panic!("{other:?}"),
    }
    match one_stmt("for k in scores:\n    pass") {
        StmtKind::ForIn { iter, .. } => assert_eq!(sx(&iter), "scores"),
        other => panic!("{other:?}"),
    }
    let b = |s: &str| format!("def main() -> int:\n    {s}\n        pass\n");
    assert!(has_err(&b("for i in range(3):"), "exactly 2 arguments"));
    assert!(has_err(&b("for i in range(0, 9, 2):"), "exactly 2 arguments"));
    assert!(has_err(&b("for i range(3):"), "expected 'in'"));
}

#[test]
fn match_statement() {
    let s = one_stmt("match code:\n    case 200:\n        print(\"ok\")\n    default:\n        pass\n    case 404:\n        print(\"missing\")");
    match s {
        StmtKind::Match {
            subject,
            cases,
            default,
        } => {
            assert_eq!(sx(&subject), "code");
            assert_eq!(cases.len(), 2);
            assert_eq!(sx(&cases[1].0), "404");
            assert!(default.is_some());
        }
        other => panic!("{other:?}"),
    }
    let src = "def main() -> int:\n    match x:\n        default:\n            pass\n        default:\n            pass\n";
    assert_eq!(errs(src), vec!["duplicate default case in match"]);
    let mut d = Diagnostics::default();
    parse_module(src, 0, "t", &mut d);
    assert_eq!(d.list[0].span.lo as usize, src.rfind("default").unwrap());
    assert!(has_err(
        "def main() -> int:\n    match x:\n        print(1)\n",
        "expected 'case' or 'default'"
    ));
}

#[test]
fn try_throw_return() {
    match one_stmt("try:\n    throw \"x\"\ncatch err:\n    print(err)\nfinally:\n    print(1)") {
        StmtKind::Try { body, catch, finally } => {
            assert!(matches!(body.stmts[0].kind, StmtKind::Throw(_)));
            assert_eq!(catch.unwrap().name.unwrap().name, "err");
            assert!(finally.is_some());
        }
        other => panic!("{other:?}"),
    }
    match one_stmt("try:\n    pass\ncatch:\n    pass") {
        StmtKind::Try { catch, finally, .. } => {
            assert!(catch.unwrap().name.is_none());
            assert!(finally.is_none());
        }
        other => panic!("{other:?}"),
    }
    match one_stmt("try:\n    pass\nfinally:\n    pass") {
        StmtKind::Try { catch, finally, .. } => {
            assert!(catch.is_none());
            assert!(finally.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(one_stmt("return"), StmtKind::Return(None)));
    match one_stmt("return a + 1") {
        StmtKind::Return(Some(e)) => assert_eq!(sx(&e), "(+ a 1)"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(one_stmt("pass"), StmtKind::Pass));
    assert!(matches!(one_stmt("break"), StmtKind::Break));
}

#[test]
fn block_errors() {
    assert!(has_err(
        "def main() -> int:\n    if x: print(1)\n",
        "one-line bodies are not allowed"
    ));
    assert!(has_err(
        "def main() -> int:\n    if x:\n    print(1)\n",
        "expected an indented block"
    ));
    assert!(has_err(
        "def main() -> int:\nreturn 0\n",
        "expected an indented block"
    ));
    assert!(has_err(
        "def main() -> int:\n    x = 1\n        y = 2\n",
        "unexpected indentation"
    ));
    assert!(has_err(
        "def main() -> int:\n    else:\n        pass\n",
        "'else' without a matching 'if'"
    ));
    assert!(has_err(
        "def main() -> int:\n    struct P:\n        x: int\n",
        "only allowed at top level"
    ));
    assert!(has_err(
        "def main() -> int:\n    if x\n        pass\n",
        "expected ':' after the if condition, found end of line"
    ));
    assert!(has_err(
        "def main() -> int:\n\tpass\n",
        "tabs are not allowed in indentation"
    ));
    assert!(has_err(
        "def main() -> int:\n    if x:\n        a\n      b\n",
        "indentation error"
    ));
}

#[test]
fn statement_spans() {
    let src = "def main() -> int:\n    let x: int = 1\n    if x == 1:\n        x = 2\n";
    let m = parse_ok(src);
    let Item::Func(f) = &m.items[0] else { panic!() };
    let s0 = &f.body.stmts[0];
    assert_eq!(&src[s0.span.lo as usize..s0.span.hi as usize], "let x: int = 1");
    let s1 = &f.body.stmts[1];
    assert_eq!(
        &src[s1.span.lo as usize..s1.span.hi as usize],
        "if x == 1:\n        x = 2"
    );
    assert_eq!(&src[f.span.lo as usize..f.span.hi as usize], "def main() -> int:");
    let StmtKind::If { branches, .. } = &s1.kind else {
        panic!()
    };
    let c = &branches[0].0;
    assert_eq!(&src[c.span.lo as usize..c.span.hi as usize], "x == 1");
}

// ---- items -----------------------------------------------------------------------

#[test]
fn items() {
    let src = r#"
import geometry
import geometry as geo
import util (area, perim)
import util as u (area,)
extern fn c_strlen(s: str) -> int from "libc.so.6" as "strlen"
export extern fn my_add(a: int, b: int) -> int from "./libmine.so"

@packed
struct Point:
    x: int
    y: int

    def norm(self) -> int:
        return self.x * self.x + self.y * self.y

    def shift(self, dx: int) -> void:
        self.x = self.x + dx

struct Empty:
    pass

enum Level:
    LOW
    MID = 10
    HIGH
    NEG = -3

class Dog(Animal):
    name: str
    def speak(self) -> str:
        return super.speak()

class Animal:
    name: str

let limit: int = 10
export let greeting: str = "hi"

export def area(w: int, h: int,) -> int:
    return w * h

def main() -> int:
    return 0
"#;
    let m = parse_ok(src);
    assert_eq!(m.name, "test");
    let mut it = m.items.iter();
    let Some(Item::Import(i)) = it.next() else {
        panic!()
    };
    assert_eq!(
        (i.module.name.as_str(), i.alias.is_none(), i.names.len()),
        ("geometry", true, 0)
    );
    let Some(Item::Import(i)) = it.next() else {
        panic!()
    };
    assert_eq!(i.alias.as_ref().unwrap().name, "geo");
    let Some(Item::Import(i)) = it.next() else {
        panic!()
    };
    assert_eq!(
        i.names.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["area", "perim"]
    );
    let Some(Item::Import(i)) = it.next() else {
        panic!()
    };
    assert_eq!((i.alias.as_ref().unwrap().name.as_str(), i.names.len()), ("u", 1));
    let Some(Item::Extern(e)) = it.next() else {
        panic!()
    };
    assert_eq!(
        (e.name.name.as_str(), e.library.as_str(), e.symbol.as_deref()),
        ("c_strlen", "libc.so.6", Some("strlen"))
    );
    assert_eq!(ty(&e.ret), "int");
    assert!(!e.exported);
    let Some(Item::Extern(e)) = it.next() else {
        panic!()
    };
    assert!(e.exported && e.symbol.is_none() && e.params.len() == 2);
    let Some(Item::Struct(s)) = it.next() else {
        panic!()
    };
    assert_eq!(s.name.name, "Point");
    assert_eq!(s.decorators[0].name, "packed");
    assert_eq!(s.fields.len(), 2);
    assert_eq!(s.methods.len(), 2);
    assert!(s.methods[0].params[0].ty.is_none());
    assert_eq!(s.methods[0].params[0].name.name, "self");
    assert_eq!(s.methods[1].params.len(), 2);
    let Some(Item::Struct(s)) = it.next() else {
        panic!()
    };
    assert!(s.fields.is_empty());
    let Some(Item::Enum(e)) = it.next() else { panic!() };
    let vs: Vec<_> = e.variants.iter().map(|(n, v)| (n.name.as_str(), *v)).collect();
    assert_eq!(
        vs,
        [
            ("LOW", None),
            ("MID", Some(10)),
            ("HIGH", None),
            ("NEG", Some(-3))
        ]
    );
    let Some(Item::Class(c)) = it.next() else { panic!() };
    assert_eq!(c.parent.as_ref().unwrap().name, "Animal");
    assert_eq!((c.fields.len(), c.methods.len()), (1, 1));
    let Some(Item::Class(c)) = it.next() else { panic!() };
    assert!(c.parent.is_none());
    let Some(Item::Global(g)) = it.next() else {
        panic!()
    };
    assert_eq!((g.name.name.as_str(), g.exported), ("limit", false));
    let Some(Item::Global(g)) = it.next() else {
        panic!()
    };
    assert!(g.exported);
    let Some(Item::Func(f)) = it.next() else { panic!() };
    assert!(f.exported);
    assert_eq!(f.params.len(), 2);
    assert_eq!(ty(&f.ret), "int");
    let Some(Item::Func(f)) = it.next() else { panic!() };
    assert_eq!(f.name.name, "main");
    assert!(it.next().is_none());
}

#[test]
fn item_errors() {
    assert!(has_err(
        "print(1)\n",
        "expected 'def', 'struct', 'enum', 'class', 'import', 'extern', 'let', or 'export' at top level"
    ));
    assert!(has_err(
        "@fast\nstruct P:\n    x: int\n",
        "unknown decorator 'fast'"
    ));
    assert!(has_err(
        "def f(x) -> int:\n    pass\n",
        "expected ':' after parameter 'x'"
    ));
    assert!(has_err(
        "def f(x: int):\n    pass\n",
        "expected '->' and a return type"
    ));
    assert!(has_err(
        "def f(self) -> int:\n    pass\n",
        "'self' is only allowed as a method parameter"
    ));
    assert!(has_err(
        "struct P:\n    x int\n",
        "expected ':' after field name 'x'"
    ));
    assert!(has_err(
        "struct P:\n    1\n",
        "expected a field or a method in struct body"
    ));
    assert!(has_err("enum E:\n    A = x\n", "expected an integer"));
    assert!(has_err(
        "enum E:\n    A = 9223372036854775808\n",
        "integer literal too large"
    ));
    assert!(has_err("extern fn f() -> int\n", "expected 'from'"));
    assert!(has_err("import\n", "expected a module name"));
    assert!(has_err(
        "let x: int = \n",
        "expected an expression, found end of line"
    ));
    assert!(has_err("  def f() -> int:\n    pass\n", "unexpected indentation"));
    // `@packed` on a function is only a warning.
    let mut d = Diagnostics::default();
    parse_module("@packed\ndef f() -> int:\n    return 1\n", 0, "t", &mut d);
    assert!(!d.has_errors() && d.list.len() == 1);
}

#[test]
fn several_errors_are_reported() {
    let src = "\
def f() -> int:
    let x = 1
    y = = 2
    if x:
        z +=
    return 0

print(1)

def g(a int) -> int:
    return a

struct S:
    a int

def h() -> int:
    return (1 +
";
    let (m, e) = parse(src);
    assert!(e.len() >= 6, "{e:?}");
    // Functions with errors inside are still returned.
    assert!(m
        .items
        .iter()
        .any(|i| matches!(i, Item::Func(f) if f.name.name == "f")));
    assert!(m.items.iter().any(|i| matches!(i, Item::Struct(_))));
}

#[test]
fn recovery_inside_blocks_keeps_good_statements() {
    let src =
        "def main() -> int:\n    let a: int = 1\n    let b: int = )\n    let c: int = 3\n    return a\n";
    let (m, e) = parse(src);
    assert_eq!(e.len(), 1);
    let Item::Func(f) = &m.items[0] else { panic!() };
    assert_eq!(f.body.stmts.len(), 3);
}

#[test]
fn unclosed_bracket_recovers_at_next_def() {
    let src = "def f() -> int:\n    return g(1,\n\ndef main() -> int:\n    return 0\n";
    let (m, e) = parse(src);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(m
        .items
        .iter()
        .any(|i| matches!(i, Item::Func(f) if f.name.name == "main")));
}

// ---- robustness ----------------------------------------------------------------

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
    for src in [
        "",
        ")))",
        "(((",
        "]]]",
        "}}}",
        "\n\n",
        ":",
        "def",
        "def f(",
        "let",
        "@",
        "@\n",
        "f\"{",
        "-",
        "not",
        "fn(",
        "new",
        "super",
        "\t",
        "\u{0}",
        "match x:\n",
        "if x:\n",
    ] {
        let _ = parse(src);
        let _ = expr_errs(src);
    }
    for seed in 0..200 {
        let bytes = lcg_bytes(seed, 400);
        let src = String::from_utf8_lossy(&bytes);
        let _ = parse(&src);
    }
    // Garbage made of the language's own tokens is more interesting for the parser.
    let words = [
        "def ",
        "f",
        "(",
        ")",
        "->",
        "int",
        ":",
        "\n",
        "    ",
        "\n    ",
        "let ",
        "x",
        "=",
        "1",
        "+",
        "[",
        "]",
        "{",
        "}",
        ",",
        "if ",
        "else",
        "elif ",
        "for ",
        "in ",
        "range",
        "match ",
        "case ",
        "default",
        "try",
        "catch ",
        "finally",
        "return ",
        "struct ",
        "enum ",
        "class ",
        "import ",
        "extern ",
        "fn",
        "new ",
        "super",
        "self",
        ".",
        "f\"{x}\"",
        "\"s\"",
        "@packed\n",
        "-",
        "not ",
        "pass",
        "9223372036854775808",
        "export ",
        "as ",
        "from ",
    ];
    for seed in 0..1500 {
        let src: String = lcg_bytes(seed, 120)
            .iter()
            .map(|b| words[*b as usize % words.len()])
            .collect();
        let _ = parse(&src);
        let _ = expr_errs(&src);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let n = 10_000;
    let src = format!("{}1{}", "(".repeat(n), ")".repeat(n));
    let e = expr_errs(&src);
    assert_eq!(e, vec!["expression nested too deeply"]);
    let src = format!(
        "def main() -> int:\n    return {}1{}\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    assert_eq!(errs(&src), vec!["expression nested too deeply"]);
    // Unclosed parens, brackets, braces.
    let _ = errs(&format!("def main() -> int:\n    return {}\n", "(".repeat(n)));
    let _ = errs(&format!("def main() -> int:\n    return {}\n", "[".repeat(n)));
    let _ = errs(&format!("def main() -> int:\n    return {}\n", "{".repeat(n)));
    let _ = errs(&format!("def main() -> int:\n    return {}\n", "f(".repeat(n)));
    // Unary chains and nested types.
    assert_eq!(
        expr_errs(&format!("{}1", "-".repeat(n))),
        vec!["expression nested too deeply"]
    );
    assert_eq!(
        expr_errs(&format!("{}x", "not ".repeat(n))),
        vec!["expression nested too deeply"]
    );
    assert!(has_err(
        &format!("let x: {}int{} = 1\n", "[".repeat(n), "]".repeat(n)),
        "type nested too deeply"
    ));
    // Lambdas nested in lambdas.
    let e = expr_errs(&format!("{}1", "fn() -> int: ".repeat(n)));
    assert!(e.len() == 1 && e[0].ends_with("nested too deeply"), "{e:?}");
    // Deeply nested blocks.
    let mut src = String::from("def main() -> int:\n");
    for i in 0..1000 {
        src.push_str(&" ".repeat(i + 1));
        src.push_str("if x:\n");
    }
    src.push_str(&" ".repeat(1001));
    src.push_str("pass\n");
    assert!(has_err(&src, "block nested too deeply"));
    // Long chains are flat loops in the parser but deep trees: bounded too.
    let src = format!("1{}", " + 1".repeat(5000));
    assert!(expr_errs(&src)[0].contains("expression too long"));
    let src = format!("a{}", "[0]".repeat(5000));
    assert!(expr_errs(&src)[0].contains("expression too long"));
}

#[test]
fn nesting_below_the_limit_works() {
    let n = (MAX_DEPTH - 2) as usize;
    assert_eq!(ex(&format!("{}1{}", "(".repeat(n), ")".repeat(n))), "1");
    let src = format!("1{}", " + 1".repeat(MAX_CHAIN - 1));
    assert!(expr_errs(&src).is_empty());
    // The function body is one block, plus MAX_BLOCK_DEPTH - 1 nested `if`s.
    let n = (MAX_BLOCK_DEPTH - 1) as usize;
    let mut src = String::from("def main() -> int:\n");
    for i in 0..n {
        src.push_str(&" ".repeat(i + 1));
        src.push_str("if x:\n");
    }
    src.push_str(&" ".repeat(n + 1));
    src.push_str("return (((((((((((((((((((((((((1)))))))))))))))))))))))))\n");
    parse_ok(&src);
}

#[test]
fn diagnostics_are_sorted_and_cascades_dropped() {
    // The parser would also complain about the missing expression after `=`.
    assert_eq!(
        errs("def main() -> int:\n    x = $\n"),
        vec!["unexpected character '$'"]
    );
    // Lexer error on line 3, parser error on line 2: reported in source order.
    let e = errs("def main() -> int:\n    let x = 1\n    let s: str = \"\\q\"\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("expected ':' in let"));
    assert!(e[1].starts_with("unknown escape sequence"));
    // Diagnostics already in the list (from another file) are left alone.
    let mut d = Diagnostics::default();
    d.error(Span::new(7, 100, 101), "earlier");
    parse_module("x\n", 0, "t", &mut d);
    assert_eq!(d.list[0].message, "earlier");
    assert_eq!(d.list.len(), 2);
}

#[test]
fn unterminated_string_does_not_spill_into_next_line() {
    let src = "def main() -> int:\n    print(\"abc)\n    return 0\n";
    assert_eq!(errs(src), vec!["unterminated string"]);
}
