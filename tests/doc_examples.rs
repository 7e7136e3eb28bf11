//! The examples of the language guide (`docs/language.md`) run and print what the
//! guide says they print, and the generated parts of the docs (the builtin
//! reference, the instruction table of `docs/bytecode.md`) match their sources.
//!
//! An example is a fenced code block tagged `bp` (a whole program) followed, after
//! optional blank lines, by a block tagged `text` with its expected stdout. Each runs
//! interpreted and with every function compiled.

mod support;

use support::{Bp, TempDir};

struct Example {
    line: usize,
    program: String,
    output: String,
}

/// The fenced block tagged `tag` starting at line `i` of `lines`: its text and the
/// index of the line after its closing fence.
fn fenced(lines: &[&str], i: usize, tag: &str) -> Option<(String, usize)> {
    if lines.get(i)?.trim_end() != format!("```{tag}") {
        return None;
    }
    let len = lines[i + 1..].iter().position(|l| l.trim_end() == "```")?;
    let body: String = lines[i + 1..i + 1 + len]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    Some((body, i + len + 2))
}

fn examples(doc: &str) -> Vec<Example> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some((program, after)) = fenced(&lines, i, "bp") else {
            i += 1;
            continue;
        };
        let mut j = after;
        while lines.get(j).is_some_and(|l| l.trim().is_empty()) {
            j += 1;
        }
        let (output, next) = fenced(&lines, j, "text")
            .unwrap_or_else(|| panic!("line {}: a bp example without a text block after it", i + 1));
        out.push(Example {
            line: i + 1,
            program,
            output,
        });
        i = next;
    }
    out
}

#[test]
fn language_guide_examples_print_what_the_guide_says() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/language.md");
    let doc = std::fs::read_to_string(path).expect("docs/language.md");
    let found = examples(&doc);
    assert!(!found.is_empty(), "no examples found in docs/language.md");
    let dir = TempDir::new("doc-examples");
    for ex in &found {
        let file = dir.write(format!("example_{}.bp", ex.line), &ex.program);
        for mode in support::INTERPRETED_AND_COMPILED {
            let run = Bp::new(["run"]).args(*mode).arg(&file).run();
            assert_eq!(
                (run.code("example"), run.stdout_text()),
                (0, ex.output.clone()),
                "docs/language.md:{}: the example ({mode:?}) printed something else; stderr:\n{}",
                ex.line,
                run.stderr_text()
            );
        }
    }
}

/// Check that the part of `file` (a path below the crate root) between the marker
/// lines `begin` and `end` is `want`, the text generated from `source`; with
/// `BP_BLESS=1` rewrite it instead. On a difference, list the lines each side lacks.
fn check_generated_section(file: &str, begin: &str, end: &str, want: &str, source: &str) {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let start = doc
        .find(begin)
        .unwrap_or_else(|| panic!("{file}: no start marker {begin:?}"))
        + begin.len();
    let stop = doc[start..]
        .find(end)
        .unwrap_or_else(|| panic!("{file}: no end marker {end:?}"))
        + start;
    let have = &doc[start..stop];
    if have == want {
        return;
    }
    if std::env::var_os("BP_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, format!("{}{want}{}", &doc[..start], &doc[stop..]))
            .unwrap_or_else(|e| panic!("write {file}: {e}"));
        return;
    }
    let (h, w): (Vec<&str>, Vec<&str>) = (have.lines().collect(), want.lines().collect());
    let mut report = String::new();
    for line in w.iter().filter(|l| !h.contains(l)) {
        report.push_str(&format!("  missing from {file}: {line}\n"));
    }
    for line in h.iter().filter(|l| !w.contains(l)) {
        report.push_str(&format!("  not in {source}: {line}\n"));
    }
    if report.is_empty() {
        report.push_str("  the same lines in a different order\n");
    }
    panic!("{file}'s generated section differs from {source} (BP_BLESS=1 rewrites it):\n{report}");
}

/// The builtin reference of docs/language.md is the text generated from the builtin
/// tables (`bp_runtime::builtins::reference`).
#[test]
fn builtin_reference_matches_the_tables() {
    check_generated_section(
        "docs/language.md",
        "<!-- builtins:begin (generated from runtime/src/builtins; BP_BLESS=1 cargo test --test doc_examples rewrites it) -->\n",
        "<!-- builtins:end -->",
        &bp_runtime::builtins::reference(),
        "the builtin tables",
    );
}

/// The instruction table of docs/bytecode.md is the one generated from the
/// declaration in src/bytecode/isa.rs (`BP_BLESS=1 cargo test docs_table` rewrites it).
#[test]
fn docs_table_matches_the_declaration() {
    check_generated_section(
        "docs/bytecode.md",
        "<!-- instruction table: generated from src/bytecode/isa.rs -->\n",
        "<!-- end of instruction table -->\n",
        &bp::bytecode::docs_table(),
        "the instruction declaration",
    );
}
