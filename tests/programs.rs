//! File-driven test suite: every `*.bp` program under `tests/programs/` is run by the
//! `bp` binary and its stdout, exit status and stderr are checked.
//!
//! # Layout
//!
//! * `tests/programs/<area>/<name>.bp` is a program; `<name>.out` next to it holds the
//!   exact expected stdout (a missing `.out` file means "no output expected").
//! * Files inside a directory named `modules_lib`, and files whose first line is
//!   `# skip-file`, are helper modules and are not run on their own.
//!
//! # Directives
//!
//! Comment lines at the very top of a `.bp` file (the header ends at the first line that
//! does not start with `#`) may carry directives:
//!
//! ```text
//! # expect-exit: 1                  expected exit status (default 0)
//! # expect-stderr: division by zero TEXT must occur in stderr (may be repeated)
//! # expect-stderr-any: 3:5 || 3:9   at least one of the `||`-separated texts must occur
//! # args: a b c                     program arguments (split on whitespace)
//! # stdin: line one\nline two       stdin contents; `\n`, `\t`, `\r`, `\\` are unescaped
//! # skip-modes: gcstress jitgc jitgen -- REASON   modes this program does not run in
//! ```
//!
//! `skip-modes` names known modes (see below), then ` -- ` and a reason, which is
//! required: skipping a mode hides bugs, so each use must say why. It is meant for
//! programs that build millions of objects, which the collect-at-every-allocation
//! modes (`gcstress`, `jitgc`, `jitgen`) make quadratic; a small version of the same program
//! should run in every mode. Skipped trials are listed as ignored.
//!
//! A needle that looks like a source position (`LINE:COL`, digits only) only matches
//! where it is not glued to more digits: `3:5` matches `f.bp:3:5:` but not `13:5` or `3:57`.
//!
//! Any other header comment line is an ordinary comment, except that an unknown key
//! starting with `expect` is reported as an error (to catch typos).
//!
//! # Modes
//!
//! Each program runs once per mode. The modes come from the environment variable
//! `BP_TEST_MODES` (comma separated, default: all of them; `all` selects all):
//!
//! | mode          | command line                    | extra environment   |
//! |---------------|---------------------------------|---------------------|
//! | `interp`      | `bp run --no-jit FILE`          |                     |
//! | `gcstress`    | `bp run --no-jit FILE`          | `BP_GC_STRESS=1`    |
//! | `jit0`        | `bp run --jit-threshold 0 --jit-stats FILE` (must report `failed=0`) | |
//! | `deoptstress` | `bp run --jit-threshold 0 FILE` | `BP_DEOPT_STRESS=1` |
//! | `jit`         | `bp run --jit FILE`             |                     |
//! | `jitgc`       | `bp run --jit-threshold 0 FILE` | `BP_GC_STRESS=1`    |
//! | `jitgen`      | `bp run --jit-threshold 0 FILE` | `BP_GC_STRESS=gen`  |
//! | `fmt`         | `bp run --no-jit FILE`, FILE formatted by `bp fmt` first | |
//!
//! `jit` is the default tiering (compile after 100 calls, OSR for hot loops), so
//! interpreted and compiled frames mix; `jitgc` collects at every allocation while
//! every function runs compiled. `jitgen` collects at about every other such
//! safepoint, so objects stay young across some of them and get stored into old
//! ones between collections; after every minor collection the collector checks
//! that no old object refers to an unmarked one, which finds a store that bypassed
//! the write barrier (docs/architecture.md, "Generations"). `fmt` runs a copy of the whole tree in which every
//! program was formatted (`bp::formatter`; a program that does not parse is copied as it
//! is), and checks stdout and the exit status but not stderr, whose positions move: it
//! shows that formatting preserves what every program does. The meta trial
//! `meta::fmt_idempotent` checks that formatting a formatted program changes nothing.
//!
//! Built without the `jit` feature (`cargo test --no-default-features`), `bp` is
//! an interpreter only: the default (and `all`) is `interp,gcstress,fmt`, and asking
//! for a JIT mode is an error.
//!
//! Trials are named `<mode>::<area>/<name>`, e.g. `interp::core/arith_int`, so the usual
//! libtest filters work: `cargo test --test programs -- interp::core/`.

use libtest_mimic::{Arguments, Failed, Trial};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Wall-clock limit for one program run.
const TIMEOUT: Duration = Duration::from_secs(60);

/// How much of a long stdout/stderr is shown in a failure report.
const SHOW_LIMIT: usize = 6000;

/// Environment variables that select engine behaviour; cleared for modes that do not set
/// them so that the caller's environment cannot leak into a run.
const MODE_ENV_VARS: &[&str] = &["BP_GC_STRESS", "BP_DEOPT_STRESS", "BP_JIT_LOG"];

struct Mode {
    name: &'static str,
    flags: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// Run the formatted copy of the program (and do not check stderr).
    formatted: bool,
}

const MODES: &[Mode] = &[
    Mode {
        name: "interp",
        flags: &["--no-jit"],
        env: &[],
        formatted: false,
    },
    Mode {
        name: "gcstress",
        flags: &["--no-jit"],
        env: &[("BP_GC_STRESS", "1")],
        formatted: false,
    },
    Mode {
        name: "jit0",
        // With the statistics line, which must report `failed=0` (every function
        // of every program compiles).
        flags: &["--jit-threshold", "0", "--jit-stats"],
        env: &[],
        formatted: false,
    },
    Mode {
        name: "deoptstress",
        flags: &["--jit-threshold", "0"],
        env: &[("BP_DEOPT_STRESS", "1")],
        formatted: false,
    },
    Mode {
        name: "jit",
        flags: &["--jit"],
        env: &[],
        formatted: false,
    },
    Mode {
        name: "jitgc",
        flags: &["--jit-threshold", "0"],
        env: &[("BP_GC_STRESS", "1")],
        formatted: false,
    },
    Mode {
        name: "jitgen",
        flags: &["--jit-threshold", "0"],
        env: &[("BP_GC_STRESS", "gen")],
        formatted: false,
    },
    Mode {
        name: "fmt",
        flags: &["--no-jit"],
        env: &[],
        formatted: true,
    },
];

#[cfg(feature = "jit")]
const DEFAULT_MODES: &str = "interp,gcstress,jit0,deoptstress,jit,jitgc,jitgen,fmt";
#[cfg(not(feature = "jit"))]
const DEFAULT_MODES: &str = "interp,gcstress,fmt";

impl Mode {
    /// Whether `bp` can run this mode: the modes without `--no-jit` need the JIT.
    fn available(&self) -> bool {
        cfg!(feature = "jit") || self.flags.contains(&"--no-jit")
    }
}

/// Expectations and inputs of one program, read from its header comments and `.out` file.
#[derive(Debug, Clone, Default)]
struct Spec {
    expect_exit: i32,
    expect_stderr: Vec<String>,
    expect_stderr_any: Vec<Vec<String>>,
    args: Vec<String>,
    stdin: Vec<u8>,
    /// Modes this program is not run in (`skip-modes`).
    skip_modes: Vec<String>,
    expected_stdout: Vec<u8>,
}

/// A discovered test program.
struct Program {
    /// Absolute (or at least usable) path of the `.bp` file.
    path: PathBuf,
    /// `area/name` (relative path without extension, `/`-separated).
    id: String,
    /// The parsed spec, or why it could not be read (reported as a failing trial).
    spec: Result<Spec, String>,
}

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("programs");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_bp"));

    let modes = match selected_modes() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };

    let mut files = Vec::new();
    let mut outs = Vec::new();
    if let Err(e) = collect_files(&root, &mut files, &mut outs) {
        eprintln!("error: cannot scan {}: {e}", root.display());
        std::process::exit(2);
    }
    files.sort();
    outs.sort();

    let mut programs = Vec::new();
    for path in files {
        if is_helper_module(&path) {
            continue;
        }
        let id = program_id(&root, &path);
        let spec = read_spec(&path);
        programs.push(Program { path, id, spec });
    }

    let mut trials = Vec::new();

    // Sanity checks that do not depend on a mode.
    {
        let count = programs.len();
        let root_shown = root.display().to_string();
        trials.push(Trial::test("meta::programs_found", move || {
            if count == 0 {
                Err(format!("no test programs found under {root_shown}").into())
            } else {
                Ok(())
            }
        }));
        let orphans: Vec<String> = outs
            .iter()
            .filter(|o| !o.with_extension("bp").is_file())
            .map(|o| o.display().to_string())
            .collect();
        trials.push(Trial::test(
            "meta::skip_modes_directive",
            check_skip_modes_parsing,
        ));
        trials.push(Trial::test("meta::no_orphan_out_files", move || {
            if orphans.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    ".out files without a matching .bp file:\n  {}",
                    orphans.join("\n  ")
                )
                .into())
            }
        }));
    }

    let mirror = if modes.iter().any(|m| m.formatted) {
        match FormattedTree::build(&root) {
            Ok(tree) => Some(tree),
            Err(e) => {
                eprintln!(
                    "error: cannot build the formatted copy of {}: {e}",
                    root.display()
                );
                std::process::exit(2);
            }
        }
    } else {
        None
    };
    if let Some(tree) = &mirror {
        let unstable = tree.not_idempotent.clone();
        trials.push(Trial::test("meta::fmt_idempotent", move || {
            if unstable.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "formatting these formatted programs changes them again:\n  {}",
                    unstable.join("\n  ")
                )
                .into())
            }
        }));
    }

    for &mode in &modes {
        for prog in &programs {
            let name = format!("{}::{}", mode.name, prog.id);
            let path = match (&mirror, mode.formatted) {
                (Some(tree), true) => tree.path_of(&root, &prog.path),
                _ => prog.path.clone(),
            };
            let spec = prog.spec.clone();
            let bin = bin.clone();
            let skipped = spec
                .as_ref()
                .is_ok_and(|s| s.skip_modes.iter().any(|m| m == mode.name));
            let trial = Trial::test(name, move || {
                let spec = spec.map_err(Failed::from)?;
                run_trial(&bin, mode, &path, &spec)
            });
            trials.push(trial.with_ignored_flag(skipped));
        }
    }

    let conclusion = libtest_mimic::run(&args, trials);
    drop(mirror);
    conclusion.exit();
}

/// A copy of the test tree in a temporary directory, with every program formatted.
struct FormattedTree {
    dir: PathBuf,
    /// Programs whose formatted text formats differently again.
    not_idempotent: Vec<String>,
}

impl FormattedTree {
    fn build(root: &Path) -> std::io::Result<FormattedTree> {
        let dir = std::env::temp_dir().join(format!("bp-test-{}-formatted", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut tree = FormattedTree {
            dir,
            not_idempotent: Vec::new(),
        };
        tree.copy(root, &tree.dir.clone())?;
        Ok(tree)
    }

    fn copy(&mut self, from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let (src, dst) = (entry.path(), to.join(entry.file_name()));
            if entry.file_type()?.is_dir() {
                self.copy(&src, &dst)?;
                continue;
            }
            let bytes = std::fs::read(&src)?;
            let bytes = match src.extension().is_some_and(|e| e == "bp") {
                true => match bp::formatter::format_source(bytes.clone()) {
                    Ok(formatted) => {
                        if bp::formatter::format_source(formatted.clone()).ok().as_ref() != Some(&formatted) {
                            self.not_idempotent.push(src.display().to_string());
                        }
                        formatted
                    }
                    Err(_) => bytes,
                },
                false => bytes,
            };
            std::fs::write(&dst, bytes)?;
        }
        Ok(())
    }

    /// Where the copy of `path` (a file below `root`) is.
    fn path_of(&self, root: &Path, path: &Path) -> PathBuf {
        self.dir.join(path.strip_prefix(root).unwrap_or(path))
    }
}

impl Drop for FormattedTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn selected_modes() -> Result<Vec<&'static Mode>, String> {
    let raw = std::env::var("BP_TEST_MODES").unwrap_or_else(|_| DEFAULT_MODES.to_string());
    let raw = if raw.trim().is_empty() {
        DEFAULT_MODES.to_string()
    } else {
        raw
    };
    let mut out: Vec<&'static Mode> = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if name == "all" {
            for m in MODES.iter().filter(|m| m.available()) {
                if !out.iter().any(|o| o.name == m.name) {
                    out.push(m);
                }
            }
            continue;
        }
        match MODES.iter().find(|m| m.name == name) {
            Some(m) if !m.available() => {
                return Err(format!(
                    "BP_TEST_MODES: mode '{name}' needs the JIT (cargo feature `jit`)"
                ))
            }
            Some(m) => {
                if !out.iter().any(|o| o.name == m.name) {
                    out.push(m);
                }
            }
            None => {
                let known: Vec<&str> = MODES.iter().map(|m| m.name).collect();
                return Err(format!(
                    "BP_TEST_MODES: unknown mode '{name}' (known: {}, or 'all')",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

/// Recursively collects `*.bp` and `*.out` files.
fn collect_files(dir: &Path, bps: &mut Vec<PathBuf>, outs: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            collect_files(&path, bps, outs)?;
        } else if path.extension().is_some_and(|e| e == "bp") {
            bps.push(path);
        } else if path.extension().is_some_and(|e| e == "out") {
            outs.push(path);
        }
    }
    Ok(())
}

/// Helper modules for import tests: anything below a `modules_lib` directory, or a file
/// whose first line is `# skip-file`.
fn is_helper_module(path: &Path) -> bool {
    if path
        .parent()
        .into_iter()
        .flat_map(|p| p.components())
        .any(|c| c.as_os_str() == "modules_lib")
    {
        return true;
    }
    match std::fs::read(path) {
        Ok(bytes) => {
            let first = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
            String::from_utf8_lossy(first).trim_end() == "# skip-file"
        }
        Err(_) => false,
    }
}

fn program_id(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_spec(path: &Path) -> Result<Spec, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut spec = parse_directives(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let out_path = path.with_extension("out");
    spec.expected_stdout = match std::fs::read(&out_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", out_path.display())),
    };
    Ok(spec)
}

fn parse_directives(source: &[u8]) -> Result<Spec, String> {
    let text = String::from_utf8_lossy(source);
    let mut spec = Spec::default();
    for (idx, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim_end_matches('\r');
        let Some(body) = line.strip_prefix('#') else { break };
        let body = body.trim_start();
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let lineno = idx + 1;
        match key {
            "expect-exit" => {
                spec.expect_exit = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("line {lineno}: bad expect-exit value {:?}", value.trim()))?;
            }
            "expect-stderr" => {
                let t = value.trim();
                if t.is_empty() {
                    return Err(format!("line {lineno}: empty expect-stderr"));
                }
                spec.expect_stderr.push(t.to_string());
            }
            "expect-stderr-any" => {
                let alts: Vec<String> = value
                    .split("||")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if alts.is_empty() {
                    return Err(format!("line {lineno}: empty expect-stderr-any"));
                }
                spec.expect_stderr_any.push(alts);
            }
            "skip-modes" => {
                let modes = parse_skip_modes(value).map_err(|e| format!("line {lineno}: {e}"))?;
                spec.skip_modes.extend(modes);
            }
            "args" => spec.args.extend(value.split_whitespace().map(str::to_string)),
            "stdin" => {
                let v = value.strip_prefix(' ').unwrap_or(value);
                spec.stdin.extend_from_slice(&unescape(v));
            }
            k if k.starts_with("expect") => {
                return Err(format!("line {lineno}: unknown directive '{k}'"));
            }
            _ => {}
        }
    }
    Ok(spec)
}

/// `MODE... -- REASON`: the mode names, each a known mode, and a reason that is not
/// empty.
fn parse_skip_modes(value: &str) -> Result<Vec<String>, String> {
    let Some((names, reason)) = value.split_once(" -- ") else {
        return Err("skip-modes needs ` -- REASON` after the mode names".to_string());
    };
    if reason.trim().is_empty() {
        return Err("skip-modes needs a reason after ` -- `".to_string());
    }
    let names: Vec<String> = names.split_whitespace().map(str::to_string).collect();
    if names.is_empty() {
        return Err("skip-modes names no mode".to_string());
    }
    for name in &names {
        if !MODES.iter().any(|m| m.name == name) {
            let known: Vec<&str> = MODES.iter().map(|m| m.name).collect();
            return Err(format!(
                "skip-modes: unknown mode '{name}' (known: {})",
                known.join(", ")
            ));
        }
    }
    Ok(names)
}

/// The `skip-modes` directive accepts known modes with a reason and rejects the rest.
fn check_skip_modes_parsing() -> Result<(), Failed> {
    let spec = parse_directives(b"# skip-modes: gcstress jitgc -- millions of nodes\ndef main() -> int:\n")?;
    if spec.skip_modes != ["gcstress", "jitgc"] {
        return Err(format!("parsed {:?}", spec.skip_modes).into());
    }
    let bad: [&[u8]; 4] = [
        b"# skip-modes: gcstress jitgc\n",
        b"# skip-modes: gcstress --  \n",
        b"# skip-modes: gcstres -- typo\n",
        b"# skip-modes:  -- no modes\n",
    ];
    for src in bad {
        if parse_directives(src).is_ok() {
            return Err(format!("accepted {:?}", String::from_utf8_lossy(src)).into());
        }
    }
    Ok(())
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('r') => out.push(b'\r'),
            Some('\\') => out.push(b'\\'),
            Some(other) => {
                out.push(b'\\');
                let mut buf = [0u8; 4];
                out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
            None => out.push(b'\\'),
        }
    }
    out
}

struct RunResult {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    elapsed: Duration,
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error (e.g. the child was killed) just ends the capture.
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn run_program(bin: &Path, mode: &Mode, path: &Path, spec: &Spec) -> Result<RunResult, String> {
    let dir = path
        .parent()
        .expect("a test program path always has a parent directory");
    let file_name = path
        .file_name()
        .expect("a test program path always has a file name");

    let mut cmd = Command::new(bin);
    cmd.arg("run")
        .args(mode.flags)
        .arg(file_name)
        .args(&spec.args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in MODE_ENV_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in mode.env {
        cmd.env(k, v);
    }

    let start = Instant::now();
    let mut child: Child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;

    let mut stdin = child.stdin.take().expect("stdin was configured as piped");
    let input = spec.stdin.clone();
    let writer = std::thread::spawn(move || {
        // The program may exit without reading its input; a broken pipe is fine.
        let _ = stdin.write_all(&input);
        drop(stdin);
    });
    let out_reader = spawn_reader(child.stdout.take().expect("stdout was configured as piped"));
    let err_reader = spawn_reader(child.stderr.take().expect("stderr was configured as piped"));

    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                if start.elapsed() > TIMEOUT {
                    let _ = child.kill();
                    let _ = child.wait();
                    let _ = writer.join();
                    let stdout = out_reader.join().unwrap_or_default();
                    let stderr = err_reader.join().unwrap_or_default();
                    return Err(format!(
                        "TIMEOUT: killed after {} s\n--- stdout so far ---\n{}\n--- stderr so far ---\n{}",
                        TIMEOUT.as_secs(),
                        shorten(&String::from_utf8_lossy(&stdout)),
                        shorten(&String::from_utf8_lossy(&stderr)),
                    ));
                }
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("waiting for the child process failed: {e}")),
        }
    };
    let elapsed = start.elapsed();
    let _ = writer.join();
    let stdout = out_reader
        .join()
        .map_err(|_| "stdout reader thread panicked".to_string())?;
    let stderr = err_reader
        .join()
        .map_err(|_| "stderr reader thread panicked".to_string())?;
    Ok(RunResult {
        status,
        stdout,
        stderr,
        elapsed,
    })
}

fn run_trial(bin: &Path, mode: &Mode, path: &Path, spec: &Spec) -> Result<(), Failed> {
    let res = run_program(bin, mode, path, spec)
        .map_err(|e| Failed::from(format!("{}\ncommand: {}", e, command_line(bin, mode, path, spec))))?;

    let mut problems: Vec<String> = Vec::new();
    let stderr_text = String::from_utf8_lossy(&res.stderr);

    let code = res.status.code();
    if let Some(sig) = signal_of(&res.status) {
        problems.push(format!("process was killed by signal {sig}"));
    }
    match code {
        Some(c) if c == spec.expect_exit => {}
        Some(c) => problems.push(format!("exit status: expected {}, got {c}", spec.expect_exit)),
        None => problems.push(format!(
            "exit status: expected {}, got none (signal)",
            spec.expect_exit
        )),
    }

    if res.stdout != spec.expected_stdout {
        problems.push(stdout_diff(&spec.expected_stdout, &res.stdout));
    }

    // Formatting moves source positions, which stderr shows.
    let checks_stderr = !mode.formatted;
    for needle in spec.expect_stderr.iter().filter(|_| checks_stderr) {
        if !stderr_contains(&stderr_text, needle) {
            problems.push(format!("stderr does not contain {needle:?}"));
        }
    }
    for alts in spec.expect_stderr_any.iter().filter(|_| checks_stderr) {
        if !alts.iter().any(|a| stderr_contains(&stderr_text, a)) {
            problems.push(format!("stderr contains none of {alts:?}"));
        }
    }
    if mode.flags.contains(&"--jit-stats") {
        // Programs rejected before they run print no statistics.
        if let Some(line) = stderr_text.lines().find(|l| l.starts_with("jit: compiled=")) {
            if !line.contains(" failed=0 ") {
                problems.push(format!("a function failed to compile: {line}"));
            }
        }
    }
    for bad in ["panicked", "RUST_BACKTRACE"] {
        if stderr_text.contains(bad) {
            problems.push(format!("stderr contains {bad:?}: the implementation panicked"));
        }
    }

    if problems.is_empty() {
        return Ok(());
    }
    let mut msg = String::new();
    msg.push_str(&format!("program: {}\n", path.display()));
    msg.push_str(&format!("command: {}\n", command_line(bin, mode, path, spec)));
    msg.push_str(&format!(
        "exit status: {} (expected {}), ran {:.2} s\n",
        match (code, signal_of(&res.status)) {
            (Some(c), _) => c.to_string(),
            (None, Some(s)) => format!("signal {s}"),
            (None, None) => "unknown".to_string(),
        },
        spec.expect_exit,
        res.elapsed.as_secs_f64()
    ));
    for p in &problems {
        msg.push_str("* ");
        msg.push_str(p);
        msg.push('\n');
    }
    msg.push_str("--- stderr ---\n");
    msg.push_str(&shorten(&stderr_text));
    if !stderr_text.ends_with('\n') {
        msg.push('\n');
    }
    Err(msg.into())
}

/// Substring test; a needle that looks like a source position (`12:5`) must not be
/// glued to further digits, so `3:5` does not match `13:5` or `3:55`.
fn stderr_contains(haystack: &str, needle: &str) -> bool {
    let is_position = needle.split_once(':').is_some_and(|(l, c)| {
        !l.is_empty()
            && !c.is_empty()
            && l.bytes().all(|b| b.is_ascii_digit())
            && c.bytes().all(|b| b.is_ascii_digit())
    });
    if !is_position {
        return haystack.contains(needle);
    }
    let bytes = haystack.as_bytes();
    haystack.match_indices(needle).any(|(start, m)| {
        let end = start + m.len();
        let digit_before = start > 0 && bytes[start - 1].is_ascii_digit();
        let digit_after = end < bytes.len() && bytes[end].is_ascii_digit();
        !digit_before && !digit_after
    })
}

#[cfg(unix)]
fn signal_of(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn signal_of(_status: &ExitStatus) -> Option<i32> {
    None
}

/// A shell command line that reproduces the run.
fn command_line(bin: &Path, mode: &Mode, path: &Path, spec: &Spec) -> String {
    let dir = path
        .parent()
        .map_or_else(|| ".".to_string(), |d| d.display().to_string());
    let file = path
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    let mut parts: Vec<String> = vec![format!("cd {dir} &&")];
    parts.extend(mode.env.iter().map(|(k, v)| format!("{k}={v}")));
    parts.push(bin.display().to_string());
    parts.push("run".to_string());
    parts.extend(mode.flags.iter().map(|s| s.to_string()));
    parts.push(file);
    parts.extend(spec.args.iter().cloned());
    if !spec.stdin.is_empty() {
        parts.push("< (stdin from the # stdin: directive)".to_string());
    }
    parts.join(" ")
}

fn shorten(s: &str) -> String {
    if s.len() <= SHOW_LIMIT {
        return s.to_string();
    }
    let mut cut = SHOW_LIMIT;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n... ({} more bytes)", &s[..cut], s.len() - cut)
}

fn stdout_diff(expected: &[u8], actual: &[u8]) -> String {
    let exp = String::from_utf8_lossy(expected);
    let act = String::from_utf8_lossy(actual);
    let exp_lines: Vec<&str> = exp.split_inclusive('\n').collect();
    let act_lines: Vec<&str> = act.split_inclusive('\n').collect();
    let mut first = None;
    for i in 0..exp_lines.len().max(act_lines.len()) {
        if exp_lines.get(i) != act_lines.get(i) {
            first = Some(i);
            break;
        }
    }
    let mut msg = String::from("stdout differs");
    match first {
        Some(i) => {
            msg.push_str(&format!(
                " at line {}:\n    expected: {}\n    actual:   {}\n",
                i + 1,
                exp_lines
                    .get(i)
                    .map_or("<end of output>".to_string(), |l| format!("{l:?}")),
                act_lines
                    .get(i)
                    .map_or("<end of output>".to_string(), |l| format!("{l:?}")),
            ));
        }
        None => msg.push_str(" (in bytes not shown by a lossy UTF-8 view)\n"),
    }
    msg.push_str("--- expected stdout ---\n");
    msg.push_str(&shorten(&exp));
    if !exp.ends_with('\n') && !exp.is_empty() {
        msg.push_str("\n<no newline at end>\n");
    }
    msg.push_str("--- actual stdout ---\n");
    msg.push_str(&shorten(&act));
    if !act.ends_with('\n') && !act.is_empty() {
        msg.push_str("\n<no newline at end>\n");
    }
    msg
}
