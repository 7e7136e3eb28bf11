//! The layers of `docs/architecture.md` ("Layers"), checked: the interpreter
//! (`src/vm`) and the compiler (`src/jit`) do not import each other nor the tier
//! above them (`src/tier`), and the VM never names Cranelift. The check reads the
//! source (comments left out), so a new `use` that breaks a layer fails here.
//!
//! Also the interpreter-only build (`cargo test --no-default-features`): `bp run`
//! interprets, and every JIT command or option is refused with one line and
//! exit status 2.

mod support;

use std::path::{Path, PathBuf};

/// `*.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `line` without its `//` comment (doc comments included).
fn code_part(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

/// The lines of the files under `src/<layer>` that mention one of `forbidden`
/// outside comments, as `file:line: text`.
fn violations(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(layer);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (i, line) in text.lines().enumerate() {
            let code = code_part(line);
            if forbidden.iter().any(|f| code.contains(f)) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_vm_knows_neither_the_jit_nor_the_tier() {
    let found = violations("vm", &["crate::jit", "crate::tier", "cranelift"]);
    assert!(
        found.is_empty(),
        "src/vm reaches above its layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_jit_knows_neither_the_vm_nor_the_tier() {
    let found = violations("jit", &["crate::vm", "crate::tier"]);
    assert!(
        found.is_empty(),
        "src/jit reaches outside its layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_and_skips_comments() {
    assert_eq!(
        code_part("use crate::vm::Vm; // crate::jit"),
        "use crate::vm::Vm; "
    );
    assert_eq!(code_part("/// see crate::vm::Vm"), "");
}

/// The interpreter-only build.
#[cfg(not(feature = "jit"))]
mod without_jit {
    use super::support::{Bp, TempDir};

    const HELLO: &str = "def main() -> int:\n    print(\"hello\")\n    return 0\n";
    const REFUSAL: &str = "bp was built without the JIT (cargo feature `jit`)";

    #[test]
    fn runs_interpret() {
        let dir = TempDir::new("layers-run");
        let file = dir.write("prog.bp", HELLO);
        for flags in [&[][..], &["--no-jit"][..]] {
            let out = Bp::new(["run"]).args(flags).arg(&file).run();
            assert_eq!(out.code("run"), 0, "{flags:?}: {}", out.stderr_text());
            assert_eq!(out.stdout_text(), "hello\n", "{flags:?}");
        }
    }

    #[test]
    fn jit_commands_and_options_are_refused() {
        let dir = TempDir::new("layers-refused");
        let file = dir.write("prog.bp", HELLO);
        let asks: [&[&str]; 7] = [
            &["jit-ir"],
            &["run", "--jit"],
            &["run", "--jit-threshold", "0"],
            &["run", "--jit-osr-threshold", "5"],
            &["run", "--jit-stats"],
            &["run", "--jit-dump"],
            &["run", "--perf-map"],
        ];
        for ask in asks {
            let out = Bp::new(ask).arg(&file).run();
            let err = out.stderr_text();
            assert_eq!(out.code("refused"), 2, "{ask:?}: {err}");
            assert!(err.contains(REFUSAL), "{ask:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{ask:?}: {err}");
            assert!(out.stdout.is_empty(), "{ask:?}");
        }
    }
}
