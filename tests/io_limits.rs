//! `bp` with a stdout that cannot be written, huge `--max-depth` values, an
//! address-space limit, and the allocation-failure path (issue 9, items 4 and 5 and
//! part of 3). Every case runs the `bp` binary (or, for the allocation-failure hook,
//! this test binary) as a child process, with a time limit.

use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
const MODES: [&[&str]; 3] = [&["--no-jit"], &["--jit-threshold", "0"], &[]];

/// A fresh directory for this test's files.
fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "bp-io-limits-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// Write `src` to a new program file.
fn program(src: &str) -> PathBuf {
    let path = temp_dir().join("prog.bp");
    std::fs::write(&path, src).expect("write the program");
    path
}

/// `bp ARGS...`, without a backtrace setting from the environment.
fn bp(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bp"));
    cmd.args(args).env_remove("RUST_BACKTRACE").stdin(Stdio::null());
    cmd
}

/// `bp run MODE... FILE`.
fn bp_run(mode: &[&str], file: &PathBuf) -> Command {
    let mut cmd = bp(&["run"]);
    cmd.args(mode).arg(file);
    cmd
}

/// Run the child with an address-space limit (`RLIMIT_AS`) of `bytes`.
fn limit_address_space(cmd: &mut Command, bytes: u64) -> &mut Command {
    // SAFETY: `setrlimit` is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(move || {
            let r = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Wait for `child` at most [`TIME_LIMIT`]; kill it and fail past that.
fn wait_limited(child: &mut Child, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for bp") {
            return status;
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {TIME_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run `cmd` to completion (within [`TIME_LIMIT`]) with stdout and stderr captured.
fn output(cmd: &mut Command, what: &str) -> Output {
    output_to(cmd, what, None, None)
}

/// Run `cmd` to completion (within [`TIME_LIMIT`]) with stdout and stderr written to
/// the given files, or captured where `None`.
fn output_to(
    cmd: &mut Command,
    what: &str,
    stdout: Option<std::fs::File>,
    stderr: Option<std::fs::File>,
) -> Output {
    let pipe_or = |f: Option<std::fs::File>| f.map_or_else(Stdio::piped, Stdio::from);
    let mut child = cmd
        .stdout(pipe_or(stdout))
        .stderr(pipe_or(stderr))
        .spawn()
        .expect("start bp");
    let out = child.stdout.take();
    let err = child.stderr.take();
    let read_out = std::thread::spawn(move || out.map(read_all).unwrap_or_default());
    let read_err = std::thread::spawn(move || err.map(read_all).unwrap_or_default());
    let status = wait_limited(&mut child, what);
    Output {
        status,
        stdout: read_out.join().expect("stdout reader"),
        stderr: read_err.join().expect("stderr reader"),
    }
}

fn read_all(mut r: impl std::io::Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The exit code, failing on a signal.
fn code(status: ExitStatus, what: &str, stderr: &[u8]) -> i32 {
    match status.code() {
        Some(c) => c,
        None => panic!(
            "{what}: killed by signal {:?}; stderr:\n{}",
            status.signal(),
            text(stderr)
        ),
    }
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
fn assert_quiet_on_closed_pipe(cmd: &mut Command, what: &str) {
    let out = output_to(cmd, what, Some(closed_pipe()), None);
    assert_eq!(
        code(out.status, what, &out.stderr),
        BROKEN_PIPE,
        "{what}: {}",
        text(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{what}: stderr:\n{}", text(&out.stderr));
}

/// Run `cmd` with stdout on /dev/full: one line on stderr and status 1.
fn assert_error_on_full_device(cmd: &mut Command, what: &str) {
    let out = output_to(cmd, what, Some(dev_full()), None);
    assert_eq!(code(out.status, what, &out.stderr), 1, "{what}");
    assert!(
        text(&out.stderr).ends_with("bp: error writing to stdout: No space left on device\n"),
        "{what}: stderr:\n{}",
        text(&out.stderr)
    );
}

#[test]
fn print_loop_into_a_pipe_closed_by_the_reader_stops_quietly() {
    let file = program(PRINT_LOOP);
    for mode in MODES {
        let what = format!("print loop {mode:?} | head -1");
        let mut child = bp_run(mode, &file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bp");
        // `head -1`: read one line, then close the pipe.
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read the first line");
        assert_eq!(first, "0\n", "{what}");
        let err = child.stderr.take().expect("stderr");
        let read_err = std::thread::spawn(move || read_all(err));
        let status = wait_limited(&mut child, &what);
        let stderr = read_err.join().expect("stderr reader");
        assert_eq!(
            code(status, &what, &stderr),
            BROKEN_PIPE,
            "{what}: {}",
            text(&stderr)
        );
        assert!(stderr.is_empty(), "{what}: stderr:\n{}", text(&stderr));
    }
}

#[test]
fn print_loop_into_a_closed_pipe_stops_quietly() {
    let file = program(PRINT_LOOP);
    for mode in MODES {
        assert_quiet_on_closed_pipe(&mut bp_run(mode, &file), &format!("print loop {mode:?}"));
    }
}

#[test]
fn output_to_a_full_device_is_one_error_line_and_status_1() {
    let hello = program(HELLO);
    let print_loop = program(PRINT_LOOP);
    // `exit` flushes first: its status gives way to the write error.
    let exit = program("def main() -> int:\n    print(\"x\")\n    exit(3)\n    return 0\n");
    // A failure at `read_line`'s flush (before reading).
    let read = program("def main() -> int:\n    print(\"prompt\")\n    print(read_line())\n    return 0\n");
    for mode in MODES {
        for (name, file) in [
            ("hello", &hello),
            ("loop", &print_loop),
            ("exit", &exit),
            ("read_line", &read),
        ] {
            assert_error_on_full_device(&mut bp_run(mode, file), &format!("{name} {mode:?} > /dev/full"));
        }
    }
}

#[test]
fn an_uncaught_error_is_still_reported_when_stdout_fails() {
    let file = program("def main() -> int:\n    print(\"x\")\n    throw \"boom\"\n    return 0\n");
    let out = output_to(
        &mut bp_run(&["--no-jit"], &file),
        "throw > /dev/full",
        Some(dev_full()),
        None,
    );
    assert_eq!(code(out.status, "throw", &out.stderr), 1);
    let err = text(&out.stderr);
    assert!(err.contains("boom"), "{err}");
    assert!(
        err.ends_with("bp: error writing to stdout: No space left on device\n"),
        "{err}"
    );
}

/// A program whose disassembly and IR are far larger than a pipe's buffer.
fn big_program() -> PathBuf {
    let mut src = String::from("def main() -> int:\n");
    for i in 0..400 {
        src.push_str(&format!("    print({i}, \"some text to print\")\n"));
    }
    src.push_str("    return 0\n");
    program(&src)
}

#[test]
fn disasm_and_jit_ir_into_a_closed_pipe_stop_quietly() {
    let file = big_program();
    for cmd in ["disasm", "jit-ir"] {
        let what = format!("bp {cmd} | (closed)");
        let mut c = bp(&[cmd]);
        c.arg(&file);
        assert_quiet_on_closed_pipe(&mut c, &what);
    }
}

#[test]
fn disasm_and_jit_ir_to_a_full_device_report_the_error() {
    let file = big_program();
    for cmd in ["disasm", "jit-ir"] {
        let mut c = bp(&[cmd]);
        c.arg(&file);
        assert_error_on_full_device(&mut c, &format!("bp {cmd} > /dev/full"));
    }
}

#[test]
fn help_to_a_full_device_reports_the_error() {
    assert_error_on_full_device(&mut bp(&["--help"]), "bp --help > /dev/full");
}

#[test]
fn diagnostics_to_a_full_stderr_do_not_panic() {
    let file = program("def main() -> int:\n    return x\n");
    let out = output_to(
        bp(&["check"]).arg(&file),
        "check 2> /dev/full",
        None,
        Some(dev_full()),
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn huge_max_depth_values_are_usage_errors() {
    let file = program(HELLO);
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
        let out = output(bp(&["run", "--max-depth", depth]).arg(&file), &what);
        assert_eq!(code(out.status, &what, &out.stderr), 2, "{what}");
        let err = text(&out.stderr);
        assert!(
            err.contains("invalid value") && err.contains("--max-depth"),
            "{what}: {err}"
        );
        assert!(out.stdout.is_empty(), "{what}");
    }
}

#[test]
fn the_max_depth_ceiling_runs() {
    let file = program(HELLO);
    for mode in MODES {
        let out = output(bp_run(mode, &file).args(["--max-depth", "33554432"]), "ceiling");
        assert_eq!(code(out.status, "ceiling", &out.stderr), 0, "{mode:?}");
        assert_eq!(text(&out.stdout), "hello\n");
    }
}

#[test]
fn hello_world_runs_under_an_address_space_limit() {
    let file = program(HELLO);
    for limit in [GIB, 2 * GIB] {
        for mode in MODES {
            let what = format!("hello {mode:?} under {} GiB", limit / GIB);
            let out = output(limit_address_space(&mut bp_run(mode, &file), limit), &what);
            assert_eq!(
                code(out.status, &what, &out.stderr),
                0,
                "{what}: {}",
                text(&out.stderr)
            );
            assert_eq!(text(&out.stdout), "hello\n", "{what}");
            assert!(out.stderr.is_empty(), "{what}: {}", text(&out.stderr));
        }
        for cmd in ["check", "disasm", "jit-ir"] {
            let what = format!("bp {cmd} under {} GiB", limit / GIB);
            let out = output(limit_address_space(bp(&[cmd]).arg(&file), limit), &what);
            assert_eq!(
                code(out.status, &what, &out.stderr),
                0,
                "{what}: {}",
                text(&out.stderr)
            );
        }
    }
}

#[test]
fn deep_recursion_under_an_address_space_limit_is_a_stack_overflow_error() {
    let file = program(DEEP);
    for limit in [GIB, 2 * GIB] {
        for mode in MODES {
            for depth in [None, Some("33554432")] {
                let what = format!("deep recursion {mode:?} {depth:?} under {} GiB", limit / GIB);
                let mut cmd = bp_run(mode, &file);
                if let Some(d) = depth {
                    cmd.args(["--max-depth", d]);
                }
                let out = output(limit_address_space(&mut cmd, limit), &what);
                assert_eq!(
                    code(out.status, &what, &out.stderr),
                    1,
                    "{what}: {}",
                    text(&out.stderr)
                );
                assert_eq!(text(&out.stdout), "start\ncaught stack overflow\n", "{what}");
                assert!(
                    text(&out.stderr).contains("runtime error: stack overflow"),
                    "{what}: {}",
                    text(&out.stderr)
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
    let file = program(
        "def main() -> int:\n    print(\"before\")\n    let xs: [int] = array_fill(268435456, 1)\n    print(array_len(xs))\n    return 0\n",
    );
    for mode in MODES {
        let what = format!("array_fill {mode:?} under 2 GiB");
        let out = output(limit_address_space(&mut bp_run(mode, &file), 2 * GIB), &what);
        assert_eq!(
            code(out.status, &what, &out.stderr),
            1,
            "{what}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "before\n", "{what}");
        assert!(
            text(&out.stderr).contains("out of memory"),
            "{what}: {}",
            text(&out.stderr)
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
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "--exact",
        "allocation_failure_hook_keeps_stdout",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(OOM_CHILD, "1")
    .env_remove("RUST_BACKTRACE");
    let out = output(limit_address_space(&mut cmd, GIB), "allocation-failure child");
    let stderr = text(&out.stderr);
    assert_eq!(code(out.status, "child", &out.stderr), 1, "{stderr}");
    assert!(
        text(&out.stdout).contains(OOM_MARKER),
        "stdout:\n{}",
        text(&out.stdout)
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
