//! Front-end cases the file-driven suite cannot express: byte-order marks, bytes that
//! are not UTF-8 (in sources, program arguments and file names), the size of the
//! diagnostics for huge inputs, their colour, and the absence of spurious or internal
//! errors.
//! Each test runs the `bp` binary on files in a fresh temporary directory.

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Bp, Run, TempDir};

/// `bp ARGS`.
fn bp(args: &[&OsStr]) -> Run {
    Bp::new(args).run()
}

/// `bp run --no-jit FILE ARGS` in the file's directory (so that messages name the
/// file without its directory).
fn run(path: &Path, extra: &[&[u8]]) -> Run {
    let name = path.file_name().unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    Bp::new([OsStr::new("run"), OsStr::new("--no-jit"), name])
        .args(extra.iter().map(|a| OsStr::from_bytes(a)))
        .current_dir(dir)
        .run()
}

/// The run's stderr as text.
fn stderr(o: &Run) -> String {
    o.stderr_text()
}

/// The run's `: error: ` lines.
fn error_lines(o: &Run) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.contains(": error: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn byte_order_mark_is_skipped() {
    let d = TempDir::new("bom");
    let ok = d.write(
        "ok.bp",
        b"\xEF\xBB\xBFdef main() -> int:\n    print(\"hi\")\n    return 0\n",
    );
    let o = run(&ok, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout, b"hi\n");
    // Positions start after the mark: column 1 is the first character.
    let bad = d.write("bad.bp", b"\xEF\xBB\xBFdef main() -> int:\n    return \"no\"\n");
    let o = run(&bad, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("bad.bp:2:12: error: return type mismatch"),
        "{}",
        stderr(&o)
    );
    // A mark anywhere else is an ordinary (unexpected) character.
    let inner = d.write(
        "inner.bp",
        "def main() -> int:\n    \u{feff}return 0\n".as_bytes(),
    );
    let o = run(&inner, &[]);
    assert!(
        stderr(&o).contains("inner.bp:2:5: error: unexpected character"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bytes_that_are_not_utf8_are_kept_in_string_literals() {
    let d = TempDir::new("raw-strings");
    let p = d.write(
        "raw.bp",
        b"def main() -> int:\n    let s: str = \"\xff\xfe\x80\"\n    print(len(s))\n    print(s + f\"{len(s)}\xc3\")\n    return 0\n",
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout, b"3\n\xff\xfe\x803\xc3\n");
}

#[test]
fn bytes_that_are_not_utf8_elsewhere_are_errors_with_positions() {
    let d = TempDir::new("raw-elsewhere");
    let p = d.write(
        "bad.bp",
        b"def main() -> int:\n    let x\xff: int = 1\n    let s: str = f\"{x \xfe}\"\n    return 0 # \xc3\n",
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for needle in [
        "bad.bp:2:10: error: invalid UTF-8: byte 0xFF",
        "bad.bp:3:23: error: invalid UTF-8: byte 0xFE",
        "bad.bp:4:16: error: invalid UTF-8: byte 0xC3",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert_eq!(error_lines(&o).len(), 3, "{err}");
    // The snippet shows the byte as U+FFFD and keeps the mark under it.
    assert!(
        err.contains(" 2 │     let x\u{fffd}: int = 1\n   │          ┬\n"),
        "{err}"
    );
}

#[test]
fn program_arguments_need_not_be_utf8() {
    let d = TempDir::new("args");
    let p = d.write(
        "args.bp",
        b"def main() -> int:\n    for a in argv():\n        print(len(a), a)\n    return argc()\n",
    );
    let o = run(&p, &[b"\xff", b"ok", b"a\xc3"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(o.stdout, b"1 \xff\n2 ok\n2 a\xc3\n");
}

#[test]
fn file_names_need_not_be_utf8() {
    let d = TempDir::new("path");
    let name = OsStr::from_bytes(b"prog\xff.bp");
    let p = d.write(name, b"def main() -> int:\n    return \"x\"\n");
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("prog\u{fffd}.bp:2:12: error:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_ten_megabyte_identifier_gives_a_short_message() {
    let d = TempDir::new("long-ident");
    let name = "a".repeat(10 << 20);
    let p = d.write(
        "long.bp",
        format!("def main() -> int:\n    let x: int = {name}\n    return 0\n").as_bytes(),
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.len() < 2000, "{} bytes of stderr", err.len());
    assert!(
        err.contains(&format!(
            "long.bp:2:18: error: undefined variable '{}…'",
            "a".repeat(40)
        )),
        "{err}"
    );
}

#[test]
fn a_megabyte_function_name_gives_a_short_stack_trace() {
    let d = TempDir::new("long-fn-name");
    let name = "f".repeat(5 << 20);
    let p = d.write(
        "trace.bp",
        format!(
            "def {name}(n: int) -> int:\n    return 10 / n\n\ndef main() -> int:\n    print(\"before\")\n    return {name}(0)\n"
        )
        .as_bytes(),
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "before\n");
    let err = stderr(&o);
    assert!(err.len() < 2000, "{} bytes of stderr", err.len());
    assert!(err.contains("trace.bp:2:"), "{err}");
    assert!(
        err.contains(&format!("  at {}… (trace.bp:2:", "f".repeat(40))),
        "{err}"
    );
}

#[test]
fn a_file_of_garbage_gives_bounded_output_quickly() {
    let d = TempDir::new("garbage");
    let junk: Vec<u8> = b"$ ? ; ' ".iter().copied().cycle().take(3 << 20).collect();
    let p = d.write("junk.bp", &junk);
    let start = Instant::now();
    let o = run(&p, &[]);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.len() < 100_000, "{} bytes of stderr", err.len());
    assert_eq!(error_lines(&o).len(), 100, "{err}");
    assert!(
        err.contains("more error(s) and 0 more warning(s) not shown"),
        "{err}"
    );
}

#[test]
fn an_endless_source_is_an_error() {
    let o = bp(&[OsStr::new("check"), OsStr::new("/dev/zero")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is too large (the limit is 16 MiB)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn too_many_parameters_is_one_error_at_the_def() {
    let d = TempDir::new("params");
    let params: Vec<String> = (0..300).map(|i| format!("p{i}: int")).collect();
    let p = d.write(
        "params.bp",
        format!(
            "def main() -> int:\n    return 0\n\ndef f({}) -> int:\n    return p0\n",
            params.join(", ")
        )
        .as_bytes(),
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        error_lines(&o),
        ["params.bp:4:5: error: function 'f' has 300 parameters; at most 255 are allowed"],
        "{}",
        stderr(&o)
    );
}

#[test]
fn extern_main_beside_def_main_is_only_a_duplicate() {
    let d = TempDir::new("extern-main");
    let p = d.write(
        "m.bp",
        b"extern fn main() -> int from \"libc.so.6\"\n\ndef main() -> int:\n    return 0\n",
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        error_lines(&o),
        ["m.bp:3:5: error: duplicate symbol 'main'"],
        "{}",
        stderr(&o)
    );
}

#[test]
fn nested_finally_blocks_hit_the_code_budget_quickly() {
    // `finally` code is copied onto every exit of its `try`: 60 levels of try/finally
    // nested in finally blocks would need 2^60 copies.
    let d = TempDir::new("finally");
    let mut src = String::from("def main() -> int:\n");
    for level in 1..=60 {
        let pad = "    ".repeat(level);
        src.push_str(&format!("{pad}try:\n{pad}    return {level}\n{pad}finally:\n"));
    }
    src.push_str(&format!("{}print(0)\n    return 0\n", "    ".repeat(61)));
    let p = d.write("fin.bp", src.as_bytes());
    let start = Instant::now();
    let o = run(&p, &[]);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(o.status.code(), Some(1));
    let errors = error_lines(&o);
    assert_eq!(errors.len(), 1, "{}", stderr(&o));
    assert!(
        errors[0].contains("error: function 'main' is too large: more than 2097152 instructions"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn diagnostics_are_coloured_only_on_a_terminal_without_no_color() {
    let d = TempDir::new("colour");
    let p = d.write("c.bp", b"def main() -> int:\n    return \"x\"\n");
    // Not a terminal (a pipe): no colour.
    let piped = stderr(&run(&p, &[]));
    assert!(!piped.contains('\x1b'), "{piped:?}");
    // On a pseudo-terminal (util-linux `script`), colour unless NO_COLOR is set.
    let on_a_terminal = |no_color: Option<&str>| {
        let mut cmd = Command::new("script");
        let bp = env!("CARGO_BIN_EXE_bp");
        cmd.args(["-qec", &format!("'{bp}' check '{}'", p.display()), "/dev/null"]);
        cmd.env_remove("NO_COLOR");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        cmd.output().ok().filter(|o| o.status.code() == Some(1))
    };
    let Some(coloured) = on_a_terminal(None) else {
        eprintln!("skipped: no working `script` to give bp a terminal");
        return;
    };
    let text = String::from_utf8_lossy(&coloured.stdout).into_owned();
    assert!(
        text.contains("\x1b[31merror\x1b[0m: return type mismatch"),
        "{text:?}"
    );
    let plain = on_a_terminal(Some("1")).expect("script ran before");
    let text = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(
        text.contains("c.bp:2:12: error: return type mismatch"),
        "{text:?}"
    );
}

#[test]
fn color_flag_overrides_the_terminal_test() {
    let d = TempDir::new("colour-flag");
    let p = d.write("c.bp", b"def main() -> int:\n    return \"x\"\n");
    // On a pipe, `--color always` colours anyway (also after the subcommand)...
    for args in [["--color", "always", "check"], ["check", "--color", "always"]] {
        let run = Bp::new(args).arg(&p).run();
        let text = run.stderr_text();
        assert!(
            text.contains("\x1b[31merror\x1b[0m: return type mismatch"),
            "{args:?}: {text:?}"
        );
    }
    // ... and `--color never` never does, whatever NO_COLOR says.
    let run = Bp::new(["--color", "never", "check"])
        .arg(&p)
        .env("NO_COLOR", "")
        .run();
    assert!(!run.stderr_text().contains('\x1b'), "{:?}", run.stderr_text());
    let bad = Bp::new(["--color", "sometimes", "check"]).arg(&p).run();
    assert_eq!(bad.code("bp --color sometimes"), 2);
}
