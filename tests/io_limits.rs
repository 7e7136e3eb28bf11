//! `bp` with a stdout that cannot be written, huge `--max-depth` values, an
//! address-space limit, and the allocation-failure path (issue 9, items 4 and 5 and
//! part of 3). Every case runs the `bp` binary (or, for the allocation-failure hook,
//! this test binary) as a child process, with a time limit.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Duration;

use support::{assert_clean_error, assert_success, Bp, Kept, Run, TempDir};

/// This test binary uses the allocator wrapper of `bp`, so that the child run of
/// [`allocation_failure_hook_keeps_stdout`] goes through the same path.
#[global_allocator]
static GLOBAL: bp::fatal::GuardedAlloc<std::alloc::System> = bp::fatal::GuardedAlloc(std::alloc::System);

const GIB: u64 = 1 << 30;
/// Status of a run stopped by a closed stdout pipe (128 + SIGPIPE).
const BROKEN_PIPE: i32 = 141;
/// Longest a single child may run.
const TIME_LIMIT: Duration = Duration::from_secs(60);

const HELLO: &str = "def main() -> int:\n    print(\"hello\")\n    return 0\n";

/// `while true: print(i)`, with a `try` around the print that would swallow a
/// catchable error: a closed stdout must stop it all the same.
const PRINT_LOOP: &str = "\
def main() -> int:
    let i: int = 0
    while true:
        try:
            print(i)
        catch e:
            i = i - 1
        i = i + 1
    return 0
";

/// Prints, then recurses without end (catching the first `stack overflow`, then
/// letting the second one escape).
const DEEP: &str = "\
def down(n: int) -> int:
    return down(n + 1) + 1

def main() -> int:
    print(\"start\")
    try:
        print(down(0))
    catch e:
        print(\"caught\", e)
    return down(0)
";

/// The execution modes: interpreter, every function compiled, default tiering
/// (loops compiled by OSR).
#[cfg(feature = "jit")]
const MODES: [&[&str]; 3] = [&["--no-jit"], &["--jit-threshold", "0"], &[]];
/// Without the JIT: the interpreter, asked for and by default.
#[cfg(not(feature = "jit"))]
const MODES: [&[&str]; 2] = [&["--no-jit"], &[]];

/// The commands that print a translation of the program (`jit-ir` needs the JIT).
const PRINTING_COMMANDS: &[&str] = if cfg!(feature = "jit") {
    &["disasm", "jit-ir"]
} else {
    &["disasm"]
};

/// Write `src` to `prog.bp` in a new directory (removed when the returned
/// [`TempDir`] is dropped).
fn program(src: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new("io-limits");
    let path = dir.write("prog.bp", src);
    (dir, path)
}

/// `bp ARGS...` within [`TIME_LIMIT`].
fn bp(args: &[&str]) -> Bp {
    Bp::new(args).time_limit(TIME_LIMIT)
}

/// `bp run MODE... FILE`.
fn bp_run(mode: &[&str], file: &PathBuf) -> Bp {
    bp(&["run"]).args(mode).arg(file)
}

/// A pipe whose read end is already closed: every write to the other end fails
/// with EPIPE, deterministically.
fn closed_pipe() -> std::fs::File {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: `fds[0]` is the read end we own; `fds[1]` becomes a `File`.
    unsafe {
        libc::close(fds[0]);
        std::os::fd::FromRawFd::from_raw_fd(fds[1])
    }
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full")
}

/// Run `cmd` with stdout into a closed pipe: it must exit quietly with 141.
fn assert_quiet_on_closed_pipe(cmd: Bp, what: &str) {
    let out = cmd.stdout_to(closed_pipe()).run();
    assert_eq!(out.code(what), BROKEN_PIPE, "{what}: {}", out.stderr_text());
    assert!(out.stderr.is_empty(), "{what}: stderr:\n{}", out.stderr_text());
}

/// Run `cmd` with stdout on /dev/full: one line on stderr and status 1.
fn assert_error_on_full_device(cmd: Bp, what: &str) {
    let out = cmd.stdout_to(dev_full()).run();
    assert_eq!(out.code(what), 1, "{what}");
    assert!(
        out.stderr_text()
            .ends_with("bp: error writing to stdout: No space left on device\n"),
        "{what}: stderr:\n{}",
        out.stderr_text()
    );
}

#[test]
fn print_loop_into_a_pipe_closed_by_the_reader_stops_quietly() {
    let (_dir, file) = program(PRINT_LOOP);
    for mode in MODES {
        let what = format!("print loop {mode:?} | head -1");
        let mut running = bp_run(mode, &file).spawn();
        // `head -1`: read one line, then close the pipe.
        let mut first = String::new();
        BufReader::new(running.child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read the first line");
        assert_eq!(first, "0\n", "{what}");
        let out = running.finish();
        assert_eq!(out.code(&what), BROKEN_PIPE, "{what}: {}", out.stderr_text());
        assert!(out.stderr.is_empty(), "{what}: stderr:\n{}", out.stderr_text());
    }
}

#[test]
fn print_loop_into_a_closed_pipe_stops_quietly() {
    let (_dir, file) = program(PRINT_LOOP);
    for mode in MODES {
        assert_quiet_on_closed_pipe(bp_run(mode, &file), &format!("print loop {mode:?}"));
    }
}

#[test]
fn output_to_a_full_device_is_one_error_line_and_status_1() {
    let (_d1, hello) = program(HELLO);
    let (_d2, print_loop) = program(PRINT_LOOP);
    // `exit` flushes first: its status gives way to the write error.
    let (_d3, exit) = program("def main() -> int:\n    print(\"x\")\n    exit(3)\n    return 0\n");
    // A failure at `read_line`'s flush (before reading).
    let (_d4, read) =
        program("def main() -> int:\n    print(\"prompt\")\n    print(read_line())\n    return 0\n");
    for mode in MODES {
        for (name, file) in [
            ("hello", &hello),
            ("loop", &print_loop),
            ("exit", &exit),
            ("read_line", &read),
        ] {
            assert_error_on_full_device(bp_run(mode, file), &format!("{name} {mode:?} > /dev/full"));
        }
    }
}

#[test]
fn an_uncaught_error_is_still_reported_when_stdout_fails() {
    let (_dir, file) = program("def main() -> int:\n    print(\"x\")\n    throw \"boom\"\n    return 0\n");
    let out = bp_run(&["--no-jit"], &file).stdout_to(dev_full()).run();
    assert_eq!(out.code("throw > /dev/full"), 1);
    let err = out.stderr_text();
    assert!(err.contains("boom"), "{err}");
    assert!(
        err.ends_with("bp: error writing to stdout: No space left on device\n"),
        "{err}"
    );
}

/// A program whose disassembly and IR are far larger than a pipe's buffer.
fn big_program() -> (TempDir, PathBuf) {
    let mut src = String::from("def main() -> int:\n");
    for i in 0..400 {
        src.push_str(&format!("    print({i}, \"some text to print\")\n"));
    }
    src.push_str("    return 0\n");
    program(&src)
}

#[test]
fn disasm_and_jit_ir_into_a_closed_pipe_stop_quietly() {
    let (_dir, file) = big_program();
    for &cmd in PRINTING_COMMANDS {
        let what = format!("bp {cmd} | (closed)");
        assert_quiet_on_closed_pipe(bp(&[cmd]).arg(&file), &what);
    }
}

#[test]
fn disasm_and_jit_ir_to_a_full_device_report_the_error() {
    let (_dir, file) = big_program();
    for &cmd in PRINTING_COMMANDS {
        assert_error_on_full_device(bp(&[cmd]).arg(&file), &format!("bp {cmd} > /dev/full"));
    }
}

#[test]
fn help_to_a_full_device_reports_the_error() {
    assert_error_on_full_device(bp(&["--help"]), "bp --help > /dev/full");
}

#[test]
fn diagnostics_to_a_full_stderr_do_not_panic() {
    let (_dir, file) = program("def main() -> int:\n    return x\n");
    let out = bp(&["check"]).arg(&file).stderr_to(dev_full()).run();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn huge_max_depth_values_are_usage_errors() {
    let (_dir, file) = program(HELLO);
    for depth in [
        "100000000000000",
        "1e14",
        "9223372036854775807",
        "18446744073709551615",
        "18446744073709551616",
        "33554433",
        "0",
    ] {
        let what = format!("--max-depth {depth}");
        let out = bp(&["run", "--max-depth", depth]).arg(&file).run();
        assert_eq!(out.code(&what), 2, "{what}");
        let err = out.stderr_text();
        assert!(
            err.contains("invalid value") && err.contains("--max-depth"),
            "{what}: {err}"
        );
        assert!(out.stdout.is_empty(), "{what}");
    }
}

#[test]
fn the_max_depth_ceiling_runs() {
    let (_dir, file) = program(HELLO);
    for mode in MODES {
        let out = bp_run(mode, &file).args(["--max-depth", "33554432"]).run();
        assert_eq!(out.code("ceiling"), 0, "{mode:?}");
        assert_eq!(out.stdout_text(), "hello\n");
    }
}

#[test]
fn hello_world_runs_under_an_address_space_limit() {
    let (_dir, file) = program(HELLO);
    for limit in [GIB, 2 * GIB] {
        for mode in MODES {
            let what = format!("hello {mode:?} under {} GiB", limit / GIB);
            let out = bp_run(mode, &file).memory_limit(limit).run();
            assert_success(&out, &what, "hello\n");
        }
        for &cmd in ["check"].iter().chain(PRINTING_COMMANDS) {
            let what = format!("bp {cmd} under {} GiB", limit / GIB);
            let out = bp(&[cmd]).arg(&file).memory_limit(limit).run();
            assert_eq!(out.code(&what), 0, "{what}: {}", out.stderr_text());
        }
    }
}

#[test]
fn deep_recursion_under_an_address_space_limit_is_a_stack_overflow_error() {
    let (_dir, file) = program(DEEP);
    for limit in [GIB, 2 * GIB] {
        for mode in MODES {
            for depth in [None, Some("33554432")] {
                let what = format!("deep recursion {mode:?} {depth:?} under {} GiB", limit / GIB);
                let mut cmd = bp_run(mode, &file);
                if let Some(d) = depth {
                    cmd = cmd.args(["--max-depth", d]);
                }
                let out: Run = cmd.memory_limit(limit).run();
                assert_clean_error(
                    &out,
                    &what,
                    &format!("{}:2:12", file.display()),
                    &["stack overflow"],
                    Kept::Is("start\ncaught stack overflow\n"),
                );
            }
        }
    }
}

#[test]
fn running_out_of_memory_keeps_stdout_and_exits_1() {
    // 2 GiB of array under a 2 GiB limit: a catchable `out of memory` error where
    // the allocation is fallible, else the allocation-failure path; either way
    // stdout is kept, stderr says so, and the status is 1.
    let (_dir, file) = program(
        "def main() -> int:\n    print(\"before\")\n    let xs: [int] = array_fill(268435456, 1)\n    print(array_len(xs))\n    return 0\n",
    );
    for mode in MODES {
        let what = format!("array_fill {mode:?} under 2 GiB");
        let out = bp_run(mode, &file).memory_limit(2 * GIB).run();
        assert_eq!(out.code(&what), 1, "{what}: {}", out.stderr_text());
        assert_eq!(out.stdout_text(), "before\n", "{what}");
        assert!(
            out.stderr_text().contains("out of memory"),
            "{what}: {}",
            out.stderr_text()
        );
    }
}

/// Set in the child run of [`allocation_failure_hook_keeps_stdout`].
const OOM_CHILD: &str = "BP_IO_LIMITS_OOM_CHILD";
const OOM_MARKER: &str = "buffered output written before the allocation failure\n";

#[test]
fn allocation_failure_hook_keeps_stdout() {
    if std::env::var_os(OOM_CHILD).is_some() {
        fail_an_infallible_allocation();
    }
    // Run this test again in a child process, which takes the path below.
    let out = Bp::program(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "allocation_failure_hook_keeps_stdout",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(OOM_CHILD, "1")
        .memory_limit(GIB)
        .time_limit(TIME_LIMIT)
        .run();
    let stderr = out.stderr_text();
    assert_eq!(out.code("child"), 1, "{stderr}");
    assert!(
        out.stdout_text().contains(OOM_MARKER),
        "stdout:\n{}",
        out.stdout_text()
    );
    // Exactly one line: the allocator ends the process before Rust's own
    // allocation-failure message.
    assert_eq!(
        stderr,
        format!("bp: out of memory (could not allocate {} bytes)\n", 1u64 << 40)
    );
}

#[test]
fn a_fallible_allocation_gets_its_failure_back() {
    // 32 TiB is more than any test machine has: the allocator returns null, and
    // inside `fallibly` the wrapper hands it back instead of ending the process.
    let mut v: Vec<u8> = Vec::new();
    let r = bp_runtime::rt::fallibly(|| v.try_reserve_exact(std::hint::black_box(1usize << 45)));
    assert!(r.is_err());
    assert!(!bp_runtime::rt::in_fallible_scope());
}

/// The child: register a stdout buffer as `bp` does for a running program, then
/// make an allocation that cannot fail gracefully fail.
fn fail_an_infallible_allocation() -> ! {
    bp::fatal::install_abort_handler();
    let buffered = OOM_MARKER.as_bytes().to_vec();
    let _registered = bp_runtime::rt::register_emergency_stdout(&buffered);
    // 1 TiB under a 1 GiB limit: the allocator returns null outside a fallible
    // scope, and the wrapper ends the process.
    let huge: Vec<u8> = Vec::with_capacity(std::hint::black_box(1usize << 40));
    std::hint::black_box(&huge);
    panic!("the allocation of 1 TiB succeeded under a 1 GiB limit");
}
