//! The command line's shortcuts (`bp FILE`, `bp -c CODE`, `bp run -` and a
//! `#!/usr/bin/env bp` line), its logs and dumps, and what it sets up before
//! a program runs.

mod support;

use std::os::unix::fs::PermissionsExt;
use support::{Bp, Input, TempDir};

#[test]
fn c_runs_statements_as_main_with_positions_of_the_snippet() {
    let run = Bp::new([
        "-c",
        "let xs: [int] = [1, 2]\nfor x in xs:\n    print(x * 10)\nprint(argv())",
        "a",
        "b",
    ])
    .run();
    assert_eq!(run.code("bp -c"), 0, "{}", run.stderr_text());
    assert_eq!(run.stdout_text(), "10\n20\n[\"a\", \"b\"]\n");
    let bad = Bp::new(["-c", "print(1)\nprint(nope)"]).run();
    assert_eq!(bad.code("bp -c with an error"), 1);
    assert!(
        bad.stderr_text()
            .contains("<string>:2:7: error: undefined variable 'nope'"),
        "{}",
        bad.stderr_text()
    );
    let program = Bp::new(["-c", "def main() -> int:\n    print(\"whole\")\n    return 4"]).run();
    assert_eq!(
        (program.code("bp -c with main"), program.stdout_text()),
        (4, "whole\n".to_string())
    );
    assert_eq!(Bp::new(["-c", ""]).run().code("bp -c ''"), 0);
}

#[test]
fn a_file_name_alone_means_run_and_a_shebang_line_works() {
    let dir = TempDir::new("cli-shebang");
    let script = dir.write(
        "greet",
        "#!/usr/bin/env bp\ndef main() -> int:\n    print(\"hi\", argv())\n    return 0\n",
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = Bp::new([script.as_os_str(), "x".as_ref()]).run();
    assert_eq!(
        (run.code("bp FILE"), run.stdout_text()),
        (0, "hi [\"x\"]\n".to_string()),
        "{}",
        run.stderr_text()
    );
    // Executed directly, with `bp` on PATH.
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_bp"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let direct = Bp::program(&script).arg("y").env("PATH", &path).run();
    assert_eq!(
        (direct.code("./greet"), direct.stdout_text()),
        (0, "hi [\"y\"]\n".to_string()),
        "{}",
        direct.stderr_text()
    );
    let named = dir.write("prog.bp", "def main() -> int:\n    return 5\n");
    assert_eq!(Bp::new([named]).run().code("bp prog.bp"), 5);
}

#[test]
fn run_dash_reads_the_program_from_stdin() {
    let run = Bp::new(["run", "-"])
        .stdin(Input::Bytes(
            b"def main() -> int:\n    print(\"from stdin\")\n    return 0\n".to_vec(),
        ))
        .run();
    assert_eq!(
        (run.code("bp run -"), run.stdout_text()),
        (0, "from stdin\n".to_string()),
        "{}",
        run.stderr_text()
    );
    let bad = Bp::new(["run", "-"])
        .stdin(Input::Bytes(b"def main( -> int:\n".to_vec()))
        .run();
    assert_eq!(bad.code("bp run - with an error"), 1);
    assert!(bad.stderr_text().contains("<stdin>:1:"), "{}", bad.stderr_text());
}

#[test]
fn subcommands_and_options_are_not_taken_for_files() {
    let help = Bp::new(["help"]).run();
    assert_eq!(help.code("bp help"), 0);
    assert!(help.stdout_text().contains("Usage"));
    let missing = Bp::new(["nonexistent.bp"]).run();
    assert_eq!(missing.code("bp missing.bp"), 1);
    assert!(
        missing.stderr_text().contains("cannot read 'nonexistent.bp'"),
        "{}",
        missing.stderr_text()
    );
}

/// A subcommand's arguments are built only when it is parsed (`defer` in
/// main.rs): its help still starts with its own description, not with that of
/// the options it shares with others, and lists those options.
#[test]
fn each_subcommand_help_starts_with_its_own_description() {
    for (cmd, about) in [
        ("run", "Compile and run a program"),
        ("test", "Run the tests"),
        ("repl", "An interactive session"),
        ("check", "Parse and type-check a program"),
        ("fmt", "Format source files in place"),
    ] {
        let help = Bp::new([cmd, "--help"]).run();
        assert_eq!(help.code("bp CMD --help"), 0);
        let text = help.stdout_text();
        assert!(text.starts_with(about), "bp {cmd} --help:\n{text}");
        if cmd != "check" && cmd != "fmt" {
            assert!(text.contains("--jit-threshold"), "bp {cmd} --help:\n{text}");
        }
    }
    let top = Bp::new(["--help"]).run().stdout_text();
    assert!(
        top.contains("run ") && top.contains("Compile and run a program"),
        "{top}"
    );
}

#[test]
fn runtime_errors_show_the_source_line_with_a_caret() {
    let dir = TempDir::new("cli-caret");
    let p = dir.write(
        "rt.bp",
        "def get(xs: [int], i: int) -> int:\n    return xs[i]\n\ndef main() -> int:\n    print(\"before\")\n    print(get([1, 2, 3], 5))\n    return 0\n",
    );
    for mode in support::INTERPRETED_AND_COMPILED {
        let run = Bp::new(["run"]).args(*mode).arg(&p).run();
        assert_eq!(run.code("a runtime error"), 1);
        assert_eq!(run.stdout_text(), "before\n");
        let want = format!(
            "{f}:2:12: runtime error: array index out of bounds: index 5, length 3\n    return xs[i]\n           ^\n  at get ({f}:2:12)\n  at main ({f}:6:11)\n",
            f = p.display()
        );
        assert_eq!(run.stderr_text(), want, "{mode:?}");
    }
    // Without a file to read the line from, the report has no excerpt.
    let snippet = Bp::new(["-c", "print([1][3])"]).run();
    assert_eq!(
        snippet.stderr_text(),
        "<string>:1:7: runtime error: array index out of bounds: index 3, length 1\n  at main (<string>:1:7)\n"
    );
}

/// `--jit-log` (and `BP_JIT_LOG=1`): one stderr line per compilation, OSR entry,
/// deopt and function given back to the interpreter.
#[cfg(feature = "jit")]
#[test]
fn jit_log_reports_compilations_osr_and_deopts() {
    let dir = TempDir::new("cli-jit-log");
    let p = dir.write(
        "hot.bp",
        "def f(xs: [int], i: int) -> int:\n    return xs[i]\n\ndef main() -> int:\n    let xs: [int] = [1, 2, 3]\n    let total: int = 0\n    for i in range(0, 300):\n        total = total + f(xs, i % 3)\n    for k in range(0, 3000):\n        total = total + k\n    print(total, f(xs, -1))\n    return 0\n",
    );
    // On the program's thread (`--jit-sync`), so that `f` is compiled before
    // its last call and `main` before its second loop ends.
    let run = Bp::new(["run", "--jit-log", "--jit-sync"]).arg(&p).run();
    assert_eq!(
        (run.code("--jit-log"), run.stdout_text()),
        (0, "4499100 3\n".to_string())
    );
    let log = run.stderr_text();
    let f = p.display();
    for want in [
        format!("jit: compile f ({f}:1) trigger=calls bytecode=2 code="),
        format!("jit: compile main ({f}:4) trigger=loop bytecode="),
        format!("jit: osr main ({f}:4) at {f}:9:"),
        format!("jit: deopt f ({f}:1) at {f}:2:12: side exit at ArrGet"),
        format!("jit: disable f ({f}:1): 64 deopts of this version; back to the interpreter"),
    ] {
        assert!(log.contains(&want), "missing {want:?} in:\n{log}");
    }
    assert!(log.lines().all(|l| l.starts_with("jit: ")), "{log}");
    let env = Bp::new(["run", "--jit-threshold", "0"])
        .arg(&p)
        .env("BP_JIT_LOG", "1")
        .run();
    assert!(
        env.stderr_text().contains("trigger=start"),
        "{}",
        env.stderr_text()
    );
    let quiet = Bp::new(["run"]).arg(&p).run();
    assert_eq!(quiet.stderr_text(), "");
}

/// Threads share compiled code: a hot function that four threads run is compiled
/// once for the run, with the default tiering (each thread's counters get hot on
/// their own) and with every function compiled at start.
#[cfg(feature = "jit")]
#[test]
fn threads_compile_a_function_once() {
    let dir = TempDir::new("cli-jit-threads");
    let p = dir.write(
        "threads.bp",
        "def step(x: int) -> int:\n    return (x * 31 + 7) % 1000003\n\ndef work(seed: int) -> int:\n    let acc: int = seed\n    for i in range(0, 50000):\n        acc = step(acc)\n    return acc\n\ndef main() -> int:\n    let hs: [ptr] = []\n    for k in range(0, 4):\n        array_push(hs, thread_spawn(work, k))\n    let total: int = 0\n    for h in hs:\n        total = total + thread_join(h)\n    print(total > 0)\n    return 0\n",
    );
    for opts in [
        &["run", "--jit-log"][..],
        &["run", "--jit-log", "--jit-threshold", "0"],
    ] {
        let run = Bp::new(opts.iter().copied()).arg(&p).run();
        assert_eq!(
            (run.code("threads"), run.stdout_text()),
            (0, "true\n".to_string())
        );
        let log = run.stderr_text();
        for f in ["step", "work"] {
            let compiles = log
                .lines()
                .filter(|l| l.starts_with(&format!("jit: compile {f} (")))
                .count();
            assert_eq!(compiles, 1, "{f} compiled {compiles} times with {opts:?}:\n{log}");
        }
    }
}

/// `--jit-dump=NAME` dumps only that function, with the addresses of the helpers
/// named and the source position of each IR instruction.
#[cfg(feature = "jit")]
#[test]
fn jit_dump_can_select_a_function_and_shows_source_positions() {
    let dir = TempDir::new("cli-jit-dump");
    let p = dir.write(
        "d.bp",
        "def f(xs: [int], i: int) -> int:\n    return xs[i]\n\ndef main() -> int:\n    print(f([1, 2], 1))\n    return 0\n",
    );
    let one = Bp::new(["run", "--jit-threshold", "0", "--jit-dump=f"])
        .arg(&p)
        .run();
    assert_eq!(
        (one.code("--jit-dump=f"), one.stdout_text()),
        (0, "2\n".to_string())
    );
    let text = one.stderr_text();
    assert!(text.contains("; ---- addresses in the code below ----"), "{text}");
    assert!(text.contains(" = rt_resume (side exit)"), "{text}");
    assert!(text.contains("; ---- f (fn "), "{text}");
    assert!(!text.contains("; ---- main (fn "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("@0000") && l.ends_with("; 2:12")),
        "{text}"
    );
    let all = Bp::new(["run", "--jit-threshold", "0", "--jit-dump"])
        .arg(&p)
        .run();
    let text = all.stderr_text();
    assert!(
        text.contains("; ---- f (fn ") && text.contains("; ---- main (fn "),
        "{text}"
    );
}

/// bp sets mimalloc's arena size before anything allocates (the first
/// arena's bitmaps are part of every run's memory: src/allocator.rs), and the
/// environment still overrides it.
#[test]
fn the_first_arena_is_64_mib_unless_the_environment_says_otherwise() {
    let reserved = |env: &[(&str, &str)]| {
        let mut bp = Bp::new(["-c", "print(1)"]).env("MIMALLOC_VERBOSE", "1");
        for (name, value) in env {
            bp = bp.env(name, value);
        }
        let run = bp.run();
        assert_eq!(run.code("bp -c"), 0, "{}", run.stderr_text());
        let lines = run.stderr_text();
        lines
            .lines()
            .filter(|l| l.starts_with("mimalloc: reserved"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(reserved(&[]), ["mimalloc: reserved 65536 KiB memory"]);
    assert_eq!(
        reserved(&[("MIMALLOC_ARENA_RESERVE", "1GiB")]),
        ["mimalloc: reserved 1048576 KiB memory"]
    );
}
