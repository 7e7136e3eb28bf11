//! A new frame's registers other than its parameters and reference registers
//! hold stale bits: the interpreter (`vm::ops::calls`) and compiled code clear
//! only the reference registers, which the collector scans. That is sound
//! because the compiler writes every register before reading it. This test
//! checks that for every function of every program of the suite and of the
//! benchmarks (`Function::read_before_written`); a read it finds would make a
//! program's output depend on what an earlier call left in the register stack.

use bp::driver::{compile_file, Stop};
use std::path::{Path, PathBuf};

/// Every `.bp` file under `dir`, recursively, in a stable order.
fn programs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            programs(&p, out);
        } else if p.extension().is_some_and(|e| e == "bp") {
            out.push(p);
        }
    }
}

#[test]
fn the_compiler_writes_every_register_before_reading_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["tests/programs", "benches/programs", "examples"] {
        programs(&root.join(dir), &mut files);
    }
    let mut compiled = 0;
    let mut reads = Vec::new();
    for file in &files {
        // Programs that must not compile (diagnostics tests) have nothing to check.
        let Some(program) = compile_file(file, Stop::Bytecode).program else {
            continue;
        };
        compiled += 1;
        for f in &program.functions {
            for (pc, r) in f.read_before_written(&program) {
                reads.push(format!("{}: {} pc {pc} reads r{r}", file.display(), f.name));
            }
        }
    }
    assert!(
        compiled > 500,
        "only {compiled} programs compiled: were the folders moved?"
    );
    assert!(
        reads.is_empty(),
        "registers read before written:\n{}",
        reads.join("\n")
    );
}
