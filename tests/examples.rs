//! The programs of `examples/` run and print what their `.out` files say, both
//! interpreted and with every function compiled, and are in `bp fmt`'s layout.
//! Every `examples/*.bp` must have an `.out` beside it.

mod support;

use std::path::{Path, PathBuf};
use support::Bp;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// The `.bp` files of `examples/`, sorted.
fn programs() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/")
        .map(|e| e.expect("examples/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "bp"))
        .collect();
    found.sort();
    found
}

#[test]
fn every_example_prints_its_out_file() {
    let found = programs();
    assert!(
        found.len() >= 12,
        "expected a dozen examples, found {}",
        found.len()
    );
    for program in &found {
        let out = program.with_extension("out");
        let want = std::fs::read_to_string(&out)
            .unwrap_or_else(|e| panic!("{}: no expected output {}: {e}", program.display(), out.display()));
        for mode in support::INTERPRETED_AND_COMPILED {
            let run = Bp::new(["run"]).args(*mode).arg(program).run();
            assert_eq!(
                (run.code("example"), run.stdout_text()),
                (0, want.clone()),
                "{} ({mode:?}) printed something else; stderr:\n{}",
                program.display(),
                run.stderr_text()
            );
        }
    }
}

#[test]
fn examples_are_formatted() {
    let run = Bp::new(["fmt", "--check"]).arg(examples_dir()).run();
    assert_eq!(
        run.code("bp fmt --check examples"),
        0,
        "bp fmt --check examples/ lists files to reformat:\n{}",
        run.stdout_text()
    );
}
