//! `bp repl`: sessions piped through standard input (every engine mode), and an
//! interactive session on a pseudo-terminal (prompts, line editing, Ctrl-C,
//! Ctrl-D, the history file).

mod support;

use support::{Bp, Input, TempDir, INTERPRETED_AND_COMPILED};

/// Run a piped session of `input` with the engine options `mode`.
fn session(mode: &[&str], input: &str) -> support::Run {
    Bp::new(["repl"])
        .args(mode)
        .stdin(Input::Bytes(input.as_bytes().to_vec()))
        .run()
}

/// Run `input` in every engine mode and check stdout, stderr and the status.
fn check(input: &str, stdout: &str, stderr_has: &[&str], status: i32) {
    for mode in INTERPRETED_AND_COMPILED
        .iter()
        .chain([&["--gc-stress"][..]].iter())
    {
        let run = session(mode, input);
        let report = format!(
            "mode {mode:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            run.stdout_text(),
            run.stderr_text()
        );
        assert_eq!(run.code("bp repl"), status, "{report}");
        assert_eq!(run.stdout_text(), stdout, "{report}");
        let stderr = run.stderr_text();
        for want in stderr_has {
            assert!(stderr.contains(want), "stderr lacks {want:?}: {report}");
        }
        if stderr_has.is_empty() {
            assert_eq!(stderr, "", "{report}");
        }
        for bad in ["panicked", "internal error"] {
            assert!(!stderr.contains(bad), "{report}");
        }
    }
}

#[test]
fn definitions_persist_and_expressions_print_their_value() {
    check(
        "1 + 2\n\
         # a comment alone prints nothing\n\
         let base: int = 40\n\
         def add(a: int) -> int:\n    return a + base\n\n\
         add(2)\n\
         base = 1\n\
         add(2)\n\
         \"text\"\n\
         [1, 2]\n\
         print(\"void calls print nothing more\")\n",
        "3\n42\n3\ntext\n[1, 2]\nvoid calls print nothing more\n",
        &[],
        0,
    );
}

#[test]
fn errors_are_reported_and_the_session_keeps_its_state() {
    check(
        "let xs: [int] = [1, 2, 3]\n\
         nope + 1\n\
         xs[10]\n\
         for i in range(0, 2):\n    print(i)\n    missing()\n\n\
         def f() -> int:\n    return 1 / 0\n\n\
         f()\n\
         let y: int = f()\n\
         y\n\
         xs\n",
        "[1, 2, 3]\n",
        &[
            "<input>:1:1: error: undefined variable 'nope'",
            "<input>:1:1: runtime error: array index out of bounds: index 10, length 3\n    xs[10]\n    ^\n",
            "<input>:3:5: error: unknown function 'missing'",
            // The function was entered as input 5; traces name the inputs.
            "<input 5>:2:12: runtime error: division by zero\n    return 1 / 0\n           ^\n",
            "  at f (<input 5>:2:12)",
            "  at <input> (<input>:1:1)",
            "  at <init> (<input>:1:14)",
            // The failed `let` defined nothing.
            "<input>:1:1: error: undefined variable 'y'",
        ],
        0,
    );
}

#[test]
fn blocks_end_at_a_blank_line_and_brackets_continue_lines() {
    check(
        "let total: int = 0\n\
         for i in range(1, 4):\n    total = total + i\n\n\
         total\n\
         let m: {str: int} = {\n  \"a\": 1,\n  \"b\": 2\n}\n\
         m\n",
        "6\n{\"a\": 1, \"b\": 2}\n",
        &[],
        0,
    );
}

#[test]
fn values_of_structs_enums_and_functions_survive_later_definitions() {
    check(
        "struct P:\n    a: int\n    b: str\n\n\
         enum Color:\n    RED\n    GREEN\n\n\
         let ps: [P] = [P{a: 1, b: \"x\"}]\n\
         let c: Color = Color.GREEN\n\
         let fs: [fn(int) -> int] = []\n\
         array_push(fs, fn(v: int) -> int: v + 100)\n\
         def twice(x: int) -> int:\n    return 2 * x\n\n\
         let g: fn(int) -> int = twice\n\
         struct Q:\n    z: float\n\n\
         def first() -> fn(int) -> int:\n    return fs[0]\n\n\
         let h: fn(int) -> int = first()\n\
         h(1)\n\
         g(5)\n\
         ps\n\
         c\n",
        "101\n10\n[P{a: 1, b: \"x\"}]\n1\n",
        &[],
        0,
    );
}

#[test]
fn redefinitions_replace_functions_and_globals() {
    check(
        "def f(x: int) -> int:\n    return x + 1\n\n\
         let g: fn(int) -> int = f\n\
         def f(x: int) -> int:\n    return x + 2\n\n\
         f(0)\n\
         g(0)\n\
         let n: int = 5\n\
         let n: str = \"five\"\n\
         n\n",
        "2\n2\nfive\n",
        &[],
        0,
    );
}

#[test]
fn an_input_that_breaks_a_value_of_the_session_is_refused() {
    check(
        "def make() -> fn(int) -> int:\n    return fn(v: int) -> int: v * 2\n\n\
         let h: fn(int) -> int = make()\n\
         def make() -> fn(int) -> int:\n    return fn(v: int) -> int: v * 3\n\n\
         h(5)\n\
         make\n",
        "10\n<fn make>\n",
        &[
            "<input>: error: this input removes or changes a lambda of <input 1>, which a value of the session still refers to; the input was not run",
        ],
        0,
    );
}

#[test]
fn imports_persist_and_their_globals_are_initialised_once() {
    let dir = TempDir::new("repl-import");
    dir.write(
        "counter.bp",
        "let START: int = 10\nexport def next(n: int) -> int:\n    return n + START\n",
    );
    let run = Bp::new(["repl", "--no-jit"])
        .current_dir(dir.path())
        .stdin(Input::Bytes(
            b"import counter\ncounter.next(1)\ndef more() -> int:\n    return counter.next(2)\n\nmore()\n"
                .to_vec(),
        ))
        .run();
    support::assert_success(&run, "bp repl import", "11\n12\n");
}

#[test]
fn an_input_that_makes_an_earlier_one_wrong_is_refused() {
    check(
        "let n: int = 5\n\
         def f() -> int:\n    return n + 1\n\n\
         let n: str = \"x\"\n\
         f()\n",
        "6\n",
        &[
            "<input 2>:2:12: error: operator '+' cannot be applied to str and int",
            "<input>: error: this input makes an earlier input wrong (above); it was not run",
        ],
        0,
    );
}

#[test]
fn every_example_program_piped_in_runs_as_with_bp_run() {
    // A program's text is a session of definitions (blocks need no blank line
    // after them when piped, and blank lines inside a struct are kept); then
    // `exit(main())` runs it.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut programs: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bp"))
        .collect();
    programs.sort();
    assert!(programs.len() >= 10, "{programs:?}");
    for program in programs {
        let mut input = std::fs::read(&program).expect("read example");
        input.extend_from_slice(b"\nexit(main())\n");
        let want = std::fs::read_to_string(program.with_extension("out")).expect(".out");
        let run = Bp::new(["repl", "--no-jit"])
            .current_dir(&dir)
            .stdin(Input::Bytes(input))
            .run();
        support::assert_success(&run, &program.display().to_string(), &want);
    }
}

#[test]
fn read_line_reads_the_next_line_of_a_piped_session() {
    check(
        "let name: str = read_line()\nAda\nf\"hello {name}\"\nread_line()\n",
        "hello Ada\n\n",
        &[],
        0,
    );
}

#[test]
fn exit_ends_the_session_with_its_status() {
    check("print(1)\nexit(3)\nprint(2)\n", "1\n", &[], 3);
}

/// The interactive session on a pseudo-terminal.
mod terminal {
    use expectrl::process::unix::WaitStatus;
    use expectrl::{ControlCode, Eof, Expect, Session};
    use std::process::Command;
    use std::time::Duration;

    /// Generous: the machine running the tests may be loaded.
    const WAIT: Duration = Duration::from_secs(30);

    fn start(state_home: &std::path::Path, args: &[&str]) -> expectrl::session::OsSession {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bp"));
        cmd.args(args)
            .env("XDG_STATE_HOME", state_home)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
        let mut s = Session::spawn(cmd).expect("spawn bp on a pty");
        s.set_expect_timeout(Some(WAIT));
        s.expect("Ctrl-D exits").expect("banner");
        s.expect(">>> ").expect("first prompt");
        s
    }

    fn exit_status(s: &mut expectrl::session::OsSession) -> i32 {
        s.expect(Eof).expect("end of output");
        match s.get_process().wait().expect("wait") {
            WaitStatus::Exited(_, code) => code,
            other => panic!("bp ended with {other:?}"),
        }
    }

    #[test]
    fn a_session_on_a_terminal() {
        let state = super::TempDir::new("repl-pty");
        let mut s = start(state.path(), &["repl"]);
        // A definition, a use, an expression printed.
        s.send_line("let k: int = 6").unwrap();
        s.expect(">>> ").unwrap();
        s.send_line("def times(x: int) -> int:").unwrap();
        s.expect("... ").unwrap();
        s.send_line("    return x * k").unwrap();
        s.expect("... ").unwrap();
        s.send_line("").unwrap();
        s.expect(">>> ").unwrap();
        s.send_line("times(7)").unwrap();
        s.expect("\r\n42\r\n").unwrap();
        s.expect(">>> ").unwrap();
        // An error, then the session goes on with its state.
        s.send_line("times(\"a\")").unwrap();
        s.expect("error: ").unwrap();
        s.expect(">>> ").unwrap();
        s.send_line("k + 1000").unwrap();
        s.expect("\r\n1006\r\n").unwrap();
        s.expect(">>> ").unwrap();
        // Ctrl-C abandons the line being typed, and a block being entered.
        s.send("k = 1000").unwrap();
        s.send(ControlCode::EndOfText).unwrap();
        s.expect(">>> ").unwrap();
        s.send_line("if true:").unwrap();
        s.expect("... ").unwrap();
        s.send_line("    k = 2000").unwrap();
        s.expect("... ").unwrap();
        s.send(ControlCode::EndOfText).unwrap();
        s.expect(">>> ").unwrap();
        s.send_line("k * 1111").unwrap();
        s.expect("\r\n6666\r\n").unwrap();
        s.expect(">>> ").unwrap();
        // Ctrl-D ends the session with status 0.
        s.send(ControlCode::EndOfTransmission).unwrap();
        assert_eq!(exit_status(&mut s), 0);
        let history = std::fs::read_to_string(state.path().join("bp/history")).unwrap_or_default();
        assert!(history.contains("times(7)"), "history: {history:?}");
    }

    #[test]
    fn bp_alone_on_a_terminal_starts_the_repl() {
        let state = super::TempDir::new("repl-pty-alone");
        let mut s = start(state.path(), &[]);
        s.send_line("exit(4)").unwrap();
        assert_eq!(exit_status(&mut s), 4);
    }

    #[test]
    fn an_unwritable_history_is_no_error() {
        let state = super::TempDir::new("repl-pty-history");
        // The state folder is a file: the history cannot be written there.
        let blocked = state.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let mut s = start(&blocked, &["repl", "--no-jit"]);
        s.send_line("1 + 1").unwrap();
        s.expect("\r\n2\r\n").unwrap();
        s.expect(">>> ").unwrap();
        s.send(ControlCode::EndOfTransmission).unwrap();
        assert_eq!(exit_status(&mut s), 0);
    }
}
