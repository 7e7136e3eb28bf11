use super::format_source;

fn fmt(src: &str) -> String {
    match format_source(src.as_bytes().to_vec()) {
        Ok(out) => String::from_utf8(out).expect("utf-8"),
        Err(d) => panic!(
            "does not format: {:?}",
            d.list.iter().map(|d| &d.message).collect::<Vec<_>>()
        ),
    }
}

/// `src` formats to `want`, and `want` is a fixed point.
fn check(src: &str, want: &str) {
    assert_eq!(fmt(src), want, "formatting {src:?}");
    assert_eq!(fmt(want), want, "formatting is not idempotent on {want:?}");
}

#[test]
fn spacing_around_operators_commas_and_annotations() {
    check(
        "def f(a:int,b :int)->int:\n  return a+b*-a\n",
        "def f(a: int, b: int) -> int:\n    return a + b * -a\n",
    );
    check(
        "def main() -> int:\n    let xs:[int]=[ 1,2 ,3 ]\n    print(xs[ -1 ],xs [0])\n    return 0\n",
        "def main() -> int:\n    let xs: [int] = [1, 2, 3]\n    print(xs[-1], xs[0])\n    return 0\n",
    );
    check(
        "def main() -> int:\n    let m:{str:int}={ \"a\":1 }\n    if not(m[\"a\"]==1)and true:\n        return -1\n    return 0\n",
        "def main() -> int:\n    let m: {str: int} = {\"a\": 1}\n    if not (m[\"a\"] == 1) and true:\n        return -1\n    return 0\n",
    );
}

#[test]
fn literals_lambdas_tuples_and_imports_keep_their_shape() {
    check(
        "import util (twice,half)\nstruct P:\n    x: int\n\ndef main() -> int:\n    let p:P=P{x:1}\n    let f:fn(int)->int=fn(v:int)->int:v*2\n    let t:(int,(str,float))=(1,(\"a\",2.5))\n    print(t.1.0,p.x,f(3),(1,))\n    return 0\n",
        "import util (twice, half)\n\nstruct P:\n    x: int\n\ndef main() -> int:\n    let p: P = P{x: 1}\n    let f: fn(int) -> int = fn(v: int) -> int: v * 2\n    let t: (int, (str, float)) = (1, (\"a\", 2.5))\n    print(t.1.0, p.x, f(3), (1,))\n    return 0\n",
    );
}

#[test]
fn comments_stay_with_their_code() {
    check(
        "# top\n\n\n\n\ndef main() -> int:   # after the header\n\n      # first in the block\n      let x: int = 1  #  after code\n      # end of the block\n# before g\ndef g() -> int:\n  return 2\n",
        "# top\n\n\ndef main() -> int:  # after the header\n    # first in the block\n    let x: int = 1  #  after code\n    # end of the block\n\n# before g\ndef g() -> int:\n    return 2\n",
    );
}

#[test]
fn breaks_inside_brackets_are_kept_and_indented_by_depth() {
    check(
        "def main() -> int:\n    let xs: [[int]] = [\n  [1, 2],   # first\n        # between\n   [3,\n 4],\n  ]\n    return 0\n",
        "def main() -> int:\n    let xs: [[int]] = [\n        [1, 2],  # first\n        # between\n        [3,\n            4],\n    ]\n    return 0\n",
    );
}

#[test]
fn blank_lines_are_capped_and_definitions_set_apart() {
    check(
        "let A: int = 1\ndef f() -> int:\n\n\n    let a: int = 1\n\n\n\n    return a\nlet B: int = 2\n@packed\n\nstruct G:\n    x: int\n\n\n\n\n",
        "let A: int = 1\n\ndef f() -> int:\n    let a: int = 1\n\n    return a\n\nlet B: int = 2\n\n@packed\nstruct G:\n    x: int\n",
    );
}

#[test]
fn a_program_that_does_not_parse_is_not_formatted() {
    assert!(format_source(b"def main( -> int:\n".to_vec()).is_err());
}

#[test]
fn bytes_that_are_not_utf8_in_strings_are_kept() {
    let src = b"def main() -> int:\n    print( \"\xff\xfe\" )\n    return 0\n".to_vec();
    let out = format_source(src).expect("formats");
    assert_eq!(
        out,
        b"def main() -> int:\n    print(\"\xff\xfe\")\n    return 0\n".to_vec()
    );
}

#[test]
fn classes_and_nullable_types() {
    check(
        "class A(B):\n    n: Node ?\n    def f(self, x: A ?) -> (fn(int) -> int) ?:\n        return null\ndef main() -> int:\n    let a: A = new A()\n    print(a is  A, a as A, super.f(null))\n    return 0\n",
        "class A(B):\n    n: Node?\n    def f(self, x: A?) -> (fn(int) -> int)?:\n        return null\n\ndef main() -> int:\n    let a: A = new A()\n    print(a is A, a as A, super.f(null))\n    return 0\n",
    );
}
