//! The requests on analyses of small programs, without the protocol layer
//! (tests/lsp.rs drives the server as an editor does). `$0` marks the cursor.

use super::analysis::Analysis;
use super::{completion, hover, navigation, signature};
use lsp_types::{HoverContents, Position, Url};

/// The analysis of `text` without its `$0`, and the position of the `$0`.
fn analyse(text: &str) -> (Analysis, Position) {
    let at = text.find("$0").expect("a $0 cursor");
    let text = text.replacen("$0", "", 1);
    let uri = Url::parse("file:///nonexistent-bp-lsp-test/t.bp").expect("a URI");
    let a = Analysis::new(&uri, &text);
    let pos = a.line_index(0).position(at as u32);
    (a, pos)
}

fn hover_text(text: &str) -> String {
    let (a, pos) = analyse(text);
    match hover::hover(&a, pos).map(|h| h.contents) {
        Some(HoverContents::Markup(m)) => m.value,
        other => panic!("no markup hover: {other:?}"),
    }
}

/// The line and column of the definition of what is at the cursor.
fn definition(text: &str) -> (u32, u32) {
    let (a, pos) = analyse(text);
    let loc = navigation::definition(&a, pos).expect("a definition");
    (loc.range.start.line, loc.range.start.character)
}

fn completions(text: &str) -> Vec<String> {
    let (a, pos) = analyse(text);
    completion::completion(&a, pos)
        .into_iter()
        .map(|i| i.label)
        .collect()
}

const SHAPES: &str = "\
enum Color:
    RED
    GREEN = 5

let limit: int = 10

struct Box:
    w: int
    h: int

    def area(self) -> int:
        return self.w * self.h
";

fn program(body: &str) -> String {
    format!("{SHAPES}\ndef main() -> int:\n{body}")
}

#[test]
fn enum_members_are_names_although_the_checker_folds_them() {
    let text = program("    let c: int = Color.GR$0EEN\n    return c\n");
    assert!(hover_text(&text).contains("Color.GREEN = 5"));
    assert_eq!(definition(&text), (2, 4));
    let text = program("    let c: int = Col$0or.RED\n    return c\n");
    assert_eq!(definition(&text), (0, 5));
    let names = completions(&program("    let c: int = Color.$0\n    return 0\n"));
    assert_eq!(names, vec!["RED", "GREEN"]);
}

#[test]
fn globals_fields_methods_and_self() {
    assert!(hover_text(&program("    return li$0mit\n")).contains("let limit: int"));
    let text = program("    let b: Box = Box{w: 2, h$0: 3}\n    return b.area()\n");
    assert_eq!(definition(&text), (8, 4));
    let text = program("    let b: Box = Box{w: 2, h: 3}\n    return b.ar$0ea()\n");
    assert_eq!(definition(&text), (10, 8));
    let text = SHAPES.replace("return self.w", "return se$0lf.w");
    assert!(hover_text(&text).contains("self: Box"));
    let text = SHAPES.replace("self.w *", "self.w$0 *");
    assert_eq!(definition(&text), (7, 4));
}

#[test]
fn loop_catch_and_lambda_variables() {
    let text = program("    for i in range(0, 3):\n        print(i$0)\n    return 0\n");
    assert!(hover_text(&text).contains("i: int"));
    let text = program(
        "    let pairs: [(int, str)] = [(1, \"a\")]\n    for (k, v) in pairs:\n        print(k, v$0)\n    return 0\n",
    );
    assert!(hover_text(&text).contains("v: str"));
    let text = program("    try:\n        throw \"x\"\n    catch e:\n        print(e$0)\n    return 0\n");
    assert!(hover_text(&text).contains("e: str"), "{}", hover_text(&text));
    let text = program("    let f: fn(int) -> int = fn(x: int) -> int: x$0 + 1\n    return f(1)\n");
    assert!(hover_text(&text).contains("x: int") && hover_text(&text).contains("parameter"));
}

#[test]
fn a_variable_a_lambda_captures_is_the_enclosing_one() {
    let body = "    let base: int = 10\n    let add: fn(int) -> int = fn(x: int) -> int: x + ba$0se\n    return add(1) + base\n";
    let text = program(body);
    assert_eq!(definition(&text), (14, 8));
    let (a, pos) = analyse(&text);
    let refs = navigation::references(&a, pos, true);
    let lines: Vec<u32> = refs.iter().map(|r| r.range.start.line).collect();
    assert_eq!(lines, vec![14, 15, 16]);
}

#[test]
fn locals_complete_only_where_they_are_visible() {
    let names = completions(&program(
        "    let early: int = 1\n    if early > 0:\n        let inner: int = 2\n    $0\n    let late: int = 3\n    return 0\n",
    ));
    assert!(names.contains(&"early".to_string()), "{names:?}");
    assert!(!names.contains(&"inner".to_string()), "{names:?}");
    assert!(!names.contains(&"late".to_string()), "{names:?}");
    assert!(names.contains(&"limit".to_string()) && names.contains(&"Box".to_string()));
    // A line typed at the end of a block still sees the block's locals.
    let names = completions(&program(
        "    if true:\n        let inner: int = 2\n        inn$0\n    return 0\n",
    ));
    assert!(names.contains(&"inner".to_string()), "{names:?}");
}

#[test]
fn members_of_tuples_and_chains_complete_from_the_text() {
    let names = completions(&program(
        "    let t: (int, str) = (1, \"a\")\n    print(t.$0\n    return 0\n",
    ));
    assert_eq!(names, vec!["0", "1"]);
    let body = "    let b: Box = Box{w: 2, h: 3}\n    let bs: [Box] = [b]\n    print(b.w.$0\n    return 0\n";
    assert!(completions(&program(body)).is_empty());
    let names = completions(&program(
        "    let b: Box = Box{w: 2, h: 3}\n    b.$0\n    return 0\n",
    ));
    assert_eq!(names, vec!["w", "h", "area"]);
}

#[test]
fn signature_help_of_builtins_and_function_values() {
    let (a, pos) = analyse(&program("    print(len($0\n    return 0\n"));
    let help = signature::signature_help(&a, pos).expect("help");
    assert!(help.signatures[0].label.starts_with("len("), "{help:?}");
    let (a, pos) = analyse(&program(
        "    let f: fn(int, str) -> int = fn(x: int, s: str) -> int: x\n    f(1, $0\n",
    ));
    let help = signature::signature_help(&a, pos).expect("help");
    assert_eq!(help.signatures[0].label, "f(int, str) -> int");
    assert_eq!(help.active_parameter, Some(1));
}

#[test]
fn a_file_that_does_not_parse_still_answers_where_it_parsed() {
    let text = program("    let b: Box = Box{w: 2, h: 3}\n    let x: int = b.w +\n    return b.ar$0ea()\n");
    assert_eq!(definition(&text), (10, 8));
}

const CLASSES: &str = "\
class Animal:
    name: str

    def __init__(self, name: str) -> void:
        self.name = name

    def speak(self) -> str:
        return \"...\"

class Dog(Animal):
    def speak(self) -> str:
        return super.speak() + \"woof\"

def main() -> int:
    let d: Animal = new Dog(\"rex\")
    let maybe: Animal? = null
    print(d.speak(), d.name, maybe is Dog)
    return 0
";

#[test]
fn classes_inheritance_dispatch_and_super() {
    // `d.speak()` is dispatched (Dog overrides it): the method of d's static class.
    assert_eq!(definition(&CLASSES.replace("d.speak()", "d.spe$0ak()")), (6, 8));
    assert_eq!(definition(&CLASSES.replace("d.name", "d.na$0me")), (1, 4));
    assert_eq!(
        definition(&CLASSES.replace("super.speak()", "super.spe$0ak()")),
        (6, 8)
    );
    assert_eq!(definition(&CLASSES.replace("new Dog", "new D$0og")), (9, 6));
    assert_eq!(
        definition(&CLASSES.replace("class Dog(Animal)", "class Dog(Ani$0mal)")),
        (0, 6)
    );
    assert_eq!(definition(&CLASSES.replace("is Dog", "is D$0og")), (9, 6));
    assert!(hover_text(&CLASSES.replace("let maybe", "let ma$0ybe")).contains("maybe: Animal?"));
    // Members after `.`, through a nullable type too; a subclass's include the
    // inherited ones.
    let members = |receiver: &str| {
        let typing = CLASSES.replace("    return 0\n", &format!("    {receiver}.$0\n    return 0\n"));
        completions(&typing)
    };
    assert_eq!(members("d"), vec!["name", "__init__", "speak"]);
    assert_eq!(members("maybe"), vec!["name", "__init__", "speak"]);
    let (a, _) = analyse(&format!("$0{CLASSES}"));
    let ix = &a.index;
    let dog = ix.items[0]["Dog"];
    let names: Vec<&str> = ix
        .all_members(dog)
        .iter()
        .map(|&m| ix.defs[m].name.as_str())
        .collect();
    assert_eq!(names, vec!["speak", "name", "__init__"]);
    // `new Dog(`: the inherited `__init__` without `self`.
    let (a, pos) = analyse(&CLASSES.replace("new Dog(\"rex\")", "new Dog($0"));
    let help = signature::signature_help(&a, pos).expect("help");
    assert_eq!(
        help.signatures[0].label,
        "def Animal.__init__(self, name: str) -> void"
    );
    let params = help.signatures[0].parameters.clone().unwrap_or_default();
    assert_eq!(params.len(), 1);
    // The outline.
    let outline: Vec<(String, Vec<String>)> = super::symbols::document_symbols(&a)
        .into_iter()
        .map(|s| {
            (
                s.name,
                s.children
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.name)
                    .collect(),
            )
        })
        .collect();
    let expected = [
        ("Animal", vec!["name", "__init__", "speak"]),
        ("Dog", vec!["speak"]),
        ("main", vec![]),
    ];
    let expected: Vec<(String, Vec<String>)> = expected
        .into_iter()
        .map(|(n, c)| (n.to_string(), c.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(outline, expected);
}

/// Every program of the test suite, whole, cut off part way (as while typing) and
/// without its middle line, answers every request at positions all over it
/// without panicking (the checker runs on what a broken file's parse recovered).
#[test]
fn every_request_on_every_test_program_and_its_prefixes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let mut files = Vec::new();
    for area in std::fs::read_dir(&root).expect("tests/programs") {
        let area = area.expect("an entry").path();
        for entry in std::fs::read_dir(&area).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|e| e == "bp") {
                files.push(entry.path());
            }
        }
    }
    assert!(files.len() > 100, "{} programs", files.len());
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // a program that is not UTF-8 cannot come from an editor
        };
        let uri = Url::from_file_path(&path).expect("a file URI");
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let middle = lines.len() / 2;
        let without_middle_line: String = lines
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != middle)
            .map(|(_, l)| *l)
            .collect();
        let mut variants = vec![without_middle_line];
        for cut in [text.len() / 3, text.len() * 2 / 3, text.len()] {
            let cut = (cut..=text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(text.len());
            variants.push(text[..cut].to_string());
        }
        for variant in variants {
            let a = Analysis::new(&uri, &variant);
            let lines = a.line_index(0);
            for offset in (0..=variant.len()).step_by(variant.len() / 20 + 1) {
                let pos = lines.position(offset as u32);
                let _ = hover::hover(&a, pos);
                let _ = navigation::definition(&a, pos);
                let _ = navigation::references(&a, pos, true);
                let _ = navigation::rename(&a, pos, "renamed");
                let _ = completion::completion(&a, pos);
                let _ = signature::signature_help(&a, pos);
            }
            let _ = super::symbols::document_symbols(&a);
            let _ = super::diagnostics::document_diagnostics(&a);
        }
    }
}
