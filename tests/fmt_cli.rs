//! `bp fmt` on the command line: in place, `--check`, `-` (stdin to stdout),
//! directories, and files that do not parse (left untouched, diagnostics, exit 1).

mod support;

use support::{Bp, Input, TempDir};

const MESSY: &str = "def main()->int:\n  print(1+2)\n  return 0\n";
const TIDY: &str = "def main() -> int:\n    print(1 + 2)\n    return 0\n";

#[test]
fn formats_files_in_place_and_reports_a_summary() {
    let dir = TempDir::new("fmt-in-place");
    let messy = dir.write("messy.bp", MESSY);
    let tidy = dir.write("tidy.bp", TIDY);
    let run = Bp::new(["fmt"]).arg(&messy).arg(&tidy).run();
    assert_eq!(run.code("bp fmt"), 0, "stderr: {}", run.stderr_text());
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), TIDY);
    assert_eq!(std::fs::read_to_string(&tidy).unwrap(), TIDY);
    assert!(run
        .stderr_text()
        .contains("1 file(s) reformatted, 1 file(s) left unchanged"));
    assert!(run.stdout.is_empty());
}

#[test]
fn check_lists_unformatted_files_and_changes_nothing() {
    let dir = TempDir::new("fmt-check");
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    let messy = dir.write("sub/messy.bp", MESSY);
    dir.write("tidy.bp", TIDY);
    dir.write("notes.txt", "not a program");
    let run = Bp::new(["fmt", "--check"]).arg(dir.path()).run();
    assert_eq!(run.code("bp fmt --check"), 1);
    assert_eq!(run.stdout_text(), format!("{}\n", messy.display()));
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), MESSY);
    let clean = Bp::new(["fmt", "--check"]).arg(dir.path().join("tidy.bp")).run();
    assert_eq!(clean.code("bp fmt --check on a formatted file"), 0);
}

#[test]
fn dash_filters_stdin_to_stdout() {
    let run = Bp::new(["fmt", "-"])
        .stdin(Input::Bytes(MESSY.as_bytes().to_vec()))
        .run();
    assert_eq!(run.code("bp fmt -"), 0, "stderr: {}", run.stderr_text());
    assert_eq!(run.stdout_text(), TIDY);
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_left_alone() {
    let dir = TempDir::new("fmt-bad");
    let bad_text = "def main( -> int:\n  return 0\n";
    let bad = dir.write("bad.bp", bad_text);
    let messy = dir.write("messy.bp", MESSY);
    let run = Bp::new(["fmt"]).arg(&bad).arg(&messy).run();
    assert_eq!(run.code("bp fmt with a bad file"), 1);
    assert!(
        run.stderr_text().contains("bad.bp:1:11: error:"),
        "stderr: {}",
        run.stderr_text()
    );
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), bad_text);
    // The other file is still formatted.
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), TIDY);
}

#[test]
fn a_missing_path_is_an_error() {
    let dir = TempDir::new("fmt-missing");
    let run = Bp::new(["fmt"]).arg(dir.path().join("nope.bp")).run();
    assert_eq!(run.code("bp fmt on a missing file"), 1);
    assert!(
        run.stderr_text().contains("bp fmt: cannot read"),
        "stderr: {}",
        run.stderr_text()
    );
}
