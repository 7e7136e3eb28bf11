//! `bp test`: find the test files, run their test functions, report each.
//!
//! A test file is a `test_*.bp` file (found recursively below the given folders;
//! a file named on the command line is run whatever its name). A test is a
//! top-level `def test_*() -> void` of that file. Each file is compiled on its own
//! (it needs no `main`; its imports are also looked for in the folder `bp test`
//! runs in) and gets one VM, so its globals are initialised once and shared by its
//! tests, which run in the order they are defined. A test passes when it returns;
//! it fails when an exception (a failed `assert`, a runtime error, a `throw`)
//! escapes it, or when it calls `exit`. The output of a test is captured and shown
//! only when it fails.

use crate::driver::{compile_test_file, render_diagnostics};
use crate::vm::{verify, Stop, Vm, VmOptions};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// What `bp test` was asked to do.
pub struct TestRequest<'a> {
    /// Files and folders; empty means the current folder.
    pub paths: &'a [PathBuf],
    /// Only tests whose name contains this.
    pub filter: Option<&'a str>,
    /// The folder `bp test` runs in (imports are also looked for there).
    pub root: &'a Path,
    /// Colour diagnostics.
    pub color: bool,
}

/// Counts of one `bp test` run.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    /// Test files that do not compile.
    pub broken_files: usize,
}

impl Summary {
    /// The exit status: 1 when anything failed or did not compile.
    pub fn status(&self) -> i32 {
        i32::from(self.failed + self.broken_files > 0)
    }

    fn line(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed, self.failed);
        if self.broken_files > 0 {
            s.push_str(&format!(", {} file(s) did not compile", self.broken_files));
        }
        s
    }
}

/// Run the tests `req` asks for. Reports go to `out` (one line per test, then the
/// summary line); `options` makes the VM options of each file's run.
pub fn run(
    req: &TestRequest,
    options: &dyn Fn() -> VmOptions,
    out: &mut dyn Write,
) -> std::io::Result<Summary> {
    let mut summary = Summary::default();
    let (files, missing) = test_files(req.paths);
    for m in missing {
        writeln!(out, "bp test: {m}")?;
        summary.broken_files += 1;
    }
    for file in files {
        // `./test_a.bp` is shown as `test_a.bp`.
        let file = file.strip_prefix(".").map(Path::to_path_buf).unwrap_or(file);
        run_file(&file, req, options(), out, &mut summary)?;
    }
    writeln!(out, "{}", summary.line())?;
    Ok(summary)
}

/// The test files below `paths` (sorted, each once) and the paths that cannot be
/// read.
fn test_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &default[..] } else { paths };
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => collect_test_files(p, &mut files),
            Ok(_) => files.push(p.clone()),
            Err(e) => missing.push(format!("cannot read '{}': {e}", p.display())),
        }
    }
    files.sort();
    files.dedup();
    (files, missing)
}

/// Add the `test_*.bp` files below `dir`, skipping hidden folders and build
/// output (`target`, `node_modules`).
fn collect_test_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        match entry.file_type() {
            Ok(t) if t.is_dir() => {
                let skipped = name.starts_with('.') || name == "target" || name == "node_modules";
                if !skipped {
                    collect_test_files(&path, files);
                }
            }
            Ok(_) if name.starts_with("test_") && name.ends_with(".bp") => files.push(path),
            _ => {}
        }
    }
}

/// Compile one test file and run its tests.
fn run_file(
    file: &Path,
    req: &TestRequest,
    opts: VmOptions,
    out: &mut dyn Write,
    summary: &mut Summary,
) -> std::io::Result<()> {
    let compiled = compile_test_file(file, req.root);
    let Some(program) = &compiled.program else {
        write!(out, "{}", render_diagnostics(&compiled, req.color))?;
        writeln!(out, "{}: does not compile", file.display())?;
        summary.broken_files += 1;
        return Ok(());
    };
    let tests: Vec<u32> = program
        .functions
        .iter()
        .enumerate()
        .filter(|(_, f)| is_test_name(&f.name) && req.filter.is_none_or(|k| f.name.contains(k)))
        .map(|(i, _)| i as u32)
        .collect();
    if tests.is_empty() {
        return Ok(());
    }
    if let Err(msg) = verify::verify(program) {
        writeln!(out, "{}: internal error: invalid bytecode: {msg}", file.display())?;
        summary.broken_files += 1;
        return Ok(());
    }
    let mut vm = Vm::new(program, opts);
    vm.capture = true;
    vm.tier_start();
    if let Some(init) = program.init {
        if let Err(stop) = vm.call_function(init, &[]) {
            let why = failure_text(&mut vm, stop);
            writeln!(
                out,
                "{}: the globals could not be initialised\n{}",
                file.display(),
                indent(&why)
            )?;
            summary.broken_files += 1;
            return Ok(());
        }
    }
    for fid in tests {
        run_test(&mut vm, file, fid, out, summary)?;
    }
    vm.tier_finish();
    Ok(())
}

/// A test function's name: `test_*` in the file itself (imported functions are
/// named `module.f`).
fn is_test_name(name: &str) -> bool {
    name.starts_with("test_") && !name.contains('.')
}

/// Run one test function and report it.
fn run_test(
    vm: &mut Vm,
    file: &Path,
    fid: u32,
    out: &mut dyn Write,
    summary: &mut Summary,
) -> std::io::Result<()> {
    let program = vm.program;
    let f = &program.functions[fid as usize];
    write!(out, "{}::{} ... ", file.display(), f.name)?;
    out.flush()?;
    let failure = if f.nparams != 0 || f.ret_kind.is_some() {
        Some("a test function takes no parameters and returns void".to_string())
    } else {
        match catch_unwind(AssertUnwindSafe(|| vm.call_function(fid, &[]))) {
            Ok(Ok(_)) => None,
            Ok(Err(stop)) => Some(failure_text(vm, stop)),
            Err(payload) => Some(format!("internal error: {}", crate::vm::panic_message(&*payload))),
        }
    };
    let output = vm.take_output();
    match failure {
        None => {
            summary.passed += 1;
            writeln!(out, "ok")
        }
        Some(why) => {
            summary.failed += 1;
            writeln!(out, "FAILED\n{}", indent(&why))?;
            if !output.is_empty() {
                writeln!(
                    out,
                    "    --- output ---\n{}",
                    indent(&String::from_utf8_lossy(&output))
                )?;
            }
            Ok(())
        }
    }
}

/// Why a call stopped, as the report of an uncaught error.
fn failure_text(vm: &mut Vm, stop: Stop) -> String {
    match stop {
        Stop::Exit(code) => format!("exit({code}) was called"),
        Stop::Exception => match vm.pending.take() {
            Some(exc) => vm.format_uncaught(&exc),
            None => "an exception escaped".to_string(),
        },
        Stop::Fatal(msg) => msg,
        Stop::Reenter(_) => "internal error: JIT re-entry escaped".to_string(),
    }
}

/// `text` with every line indented by four spaces, without a final newline.
fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
