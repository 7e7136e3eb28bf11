//! Programs that run out of memory or past a size cap (`bp_runtime::limits`), run by
//! the `bp` binary under an address-space limit (`setrlimit(RLIMIT_AS)` in the child
//! before `exec`).
//!
//! Each must end cleanly: exit status 1 (not a signal, not Rust's allocation-failure
//! abort 134), one `prog.bp:LINE:COL: runtime error: MESSAGE` line on stderr (plus
//! the usual `  at ...` stack trace lines) with no panic or allocator message, and
//! the stdout written before the failure kept; or, where the program catches the
//! error, go on normally.
//!
//! Every program runs interpreted (`--no-jit`) and with every function compiled
//! (`--jit-threshold 0`). The runs are serialised (each may use a few GiB) and each
//! has a wall-clock limit.
//!
//! Which error a program that keeps growing gets depends on how much address space
//! the process needs besides the program's data (stacks, allocator arenas): the
//! string cap (`result too large`) or a refused allocation (`out of memory`). Tests
//! of such programs accept both; tests that must see one of them are built so that
//! only it can happen.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// 4 GiB of address space: enough for `bp` itself (its 1 GiB main-thread stack and
/// register stacks), too little for a 2 GiB array twice.
const LIMIT_4G: u64 = 4 << 30;
/// Room for a 1 GiB string being built (1.5 GiB while its buffer doubles) besides
/// what `bp` needs: the string cap, not the allocator, stops the program.
const LIMIT_6G: u64 = 6 << 30;

/// Wall-clock limit of one run.
const TIMEOUT: Duration = Duration::from_secs(180);

/// The two engines: the interpreter alone, and every function compiled.
const MODES: [&[&str]; 2] = [&["--no-jit"], &["--jit-threshold", "0"]];

/// One memory-hungry child at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The messages of `bp_runtime::limits` (prefixes).
const TOO_LARGE: &str = "result too large";
const OOM: &str = "out of memory";
const STR_TOO_LARGE: &str = "result too large (max 1073741824 bytes in a string)";

/// What the program reads on stdin.
enum Input {
    Nothing,
    /// `/dev/zero`: NUL bytes without end and without a newline.
    DevZero,
    /// This byte, written without end through a pipe by a thread, until the program
    /// exits and closes the pipe.
    Endless(u8),
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// A fresh directory for one run's program file; removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("bp-limits-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Limit the address space of the calling process (run in the child after `fork`).
fn limit_address_space(bytes: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct; it is async-signal-safe, as
    // `pre_exec` requires.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Read a child's pipe to the end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        out
    })
}

/// Write `byte` to the child's stdin until the child closes it.
fn feed_endless(mut stdin: impl Write + Send + 'static, byte: u8) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let chunk = vec![byte; 1 << 16];
        // Ends with EPIPE once the program has exited (Rust ignores SIGPIPE).
        while stdin.write_all(&chunk).is_ok() {}
    })
}

/// Wait for `child`, killing it after [`TIMEOUT`].
fn wait_bounded(child: &mut Child, tag: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if start.elapsed() < TIMEOUT => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{tag}: no result within {TIMEOUT:?}");
            }
        }
    }
}

/// Run `source` as `prog.bp` with `bp run MODE prog.bp` under an address-space limit
/// of `limit` bytes.
fn run(tag: &str, source: &str, mode: &[&str], limit: u64, input: Input) -> Run {
    run_with_files(tag, source, mode, limit, input, &[])
}

/// [`run`] with sparse files (name, size in bytes) beside the program: big files
/// that cost no disk space.
fn run_with_files(
    tag: &str,
    source: &str,
    mode: &[&str],
    limit: u64,
    input: Input,
    sparse: &[(&str, u64)],
) -> Run {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new(tag);
    std::fs::write(dir.0.join("prog.bp"), source).expect("write program");
    for &(name, size) in sparse {
        let f = std::fs::File::create(dir.0.join(name)).expect("create sparse file");
        f.set_len(size).expect("size sparse file");
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bp"));
    cmd.arg("run")
        .args(mode)
        .arg("prog.bp")
        .current_dir(&dir.0)
        .env_remove("BP_GC_STRESS")
        .env_remove("BP_DEOPT_STRESS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match input {
        Input::Nothing => cmd.stdin(Stdio::null()),
        Input::DevZero => cmd.stdin(std::fs::File::open("/dev/zero").expect("open /dev/zero")),
        Input::Endless(_) => cmd.stdin(Stdio::piped()),
    };
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || limit_address_space(limit));
    }
    let mut child = cmd.spawn().expect("spawn bp");
    let feeder = match (input, child.stdin.take()) {
        (Input::Endless(byte), Some(stdin)) => Some(feed_endless(stdin, byte)),
        _ => None,
    };
    let out = drain(child.stdout.take().expect("stdout pipe"));
    let err = drain(child.stderr.take().expect("stderr pipe"));
    let status = wait_bounded(&mut child, tag);
    if let Some(f) = feeder {
        f.join().expect("stdin feeder");
    }
    Run {
        status,
        stdout: String::from_utf8_lossy(&out.join().expect("stdout reader")).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned(),
    }
}

/// The run ended with exit status 1 and exactly one error line
/// `prog.bp:POS: runtime error: M...` where `M` is one of `messages`, followed only
/// by stack trace lines; no panic, no allocator abort; stdout is `stdout`.
fn assert_clean_error(r: &Run, what: &str, pos: &str, messages: &[&str], stdout: &str) {
    let report = format!(
        "{what}: status {:?} (signal {:?})\n--- stdout (first 500 bytes)\n{}\n--- stderr\n{}",
        r.status.code(),
        r.status.signal(),
        &r.stdout[..r.stdout.len().min(500)],
        r.stderr
    );
    assert_eq!(r.status.signal(), None, "killed by a signal: {report}");
    assert_eq!(r.status.code(), Some(1), "{report}");
    for bad in [
        "panicked",
        "memory allocation of",
        "internal error",
        "RUST_BACKTRACE",
    ] {
        assert!(!r.stderr.contains(bad), "stderr mentions {bad:?}: {report}");
    }
    let mut lines = r.stderr.lines();
    let first = lines.next().unwrap_or("");
    let head = format!("prog.bp:{pos}: runtime error: ");
    let message = first
        .strip_prefix(&head)
        .unwrap_or_else(|| panic!("want {head}...: {report}"));
    assert!(
        messages.iter().any(|m| message.starts_with(m)),
        "message {message:?} is none of {messages:?}: {report}"
    );
    for l in lines {
        assert!(
            l.starts_with("  at ") || l.starts_with("  ... "),
            "extra stderr line {l:?}: {report}"
        );
    }
    assert_eq!(r.stdout, stdout, "stdout: {report}");
}

/// The run ended with exit status 0 and printed `stdout` (the program caught the
/// error), with nothing on stderr.
fn assert_caught(r: &Run, what: &str, stdout: &str) {
    assert_eq!(
        (r.status.code(), r.stdout.as_str(), r.stderr.as_str()),
        (Some(0), stdout, ""),
        "{what}: signal {:?}",
        r.status.signal()
    );
}

/// Run `source` in both modes and check each run with `check`.
fn in_both_modes(tag: &str, source: &str, limit: u64, input: impl Fn() -> Input, check: impl Fn(&Run, &str)) {
    for mode in MODES {
        let what = format!("{tag} {}", mode.join(" "));
        let r = run(tag, source, mode, limit, input());
        check(&r, &what);
    }
}

/// `s = s + s` in a loop: the case. Ends at the string cap or when memory
/// runs out, whichever comes first, at the `+`; what was printed before stays.
#[test]
fn doubling_a_string_uncaught() {
    let src = "\
def main() -> int:
    print(\"before\")
    let s: str = \"ab\"
    let n: int = 0
    while n < 64:
        s = s + s
        n = n + 1
    print(\"unreachable\", n)
    return 0
";
    in_both_modes(
        "double",
        src,
        LIMIT_4G,
        || Input::Nothing,
        |r, what| assert_clean_error(r, what, "6:13", &[OOM, TOO_LARGE], "before\n"),
    );
}

/// The same growth inside `try`: the error is an ordinary catchable one, and the
/// program goes on.
#[test]
fn doubling_a_string_caught() {
    let src = "\
def main() -> int:
    print(\"before\")
    let s: str = \"ab\"
    let n: int = 0
    try:
        while n < 64:
            s = s + s
            n = n + 1
    catch e:
        print(\"caught\", starts_with(e, \"out of memory\") or starts_with(e, \"result too large\"))
    print(\"after\", n > 20, n < 64)
    return 0
";
    in_both_modes(
        "double-caught",
        src,
        LIMIT_4G,
        || Input::Nothing,
        |r, what| assert_caught(r, what, "before\ncaught true\nafter true true\n"),
    );
}

/// Results just past the string cap are refused before anything is allocated, the
/// same way by `+`, `str_join`, `str_concat_all` and f-strings.
#[test]
fn string_results_past_the_cap() {
    let src = "\
def main() -> int:
    let unit: str = str_repeat(str_repeat(\"ab\", 1000), 1000)
    let s: str = str_repeat(unit, 300)
    print(\"built\", len(s))
    try:
        let t: str = s + s
        print(\"no error\", len(t))
    catch e:
        print(\"concat:\", e)
    try:
        let parts: [str] = [s, s]
        print(len(str_join(parts, \"\")))
    catch e:
        print(\"join:\", e)
    try:
        print(len(str_concat_all([s, unit, s])))
    catch e:
        print(\"concat_all:\", e)
    let f: str = f\"{s}-{s}\"
    print(\"unreachable\", len(f))
    return 0
";
    let want = format!(
        "built 600000000\nconcat: {STR_TOO_LARGE}\njoin: {STR_TOO_LARGE}\nconcat_all: {STR_TOO_LARGE}\n"
    );
    in_both_modes(
        "str-cap",
        src,
        LIMIT_4G,
        || Input::Nothing,
        |r, what| assert_clean_error(r, what, "19:18", &[STR_TOO_LARGE], &want),
    );
}

/// `array_fill` at its maximum (2 GiB of slots): two of them do not fit in 4 GiB,
/// so one fill fails, cleanly, at the call.
#[test]
fn array_fill_at_the_cap_under_4g() {
    let src = "\
def main() -> int:
    print(\"before\")
    let keep: [[int]] = []
    for i in range(0, 3):
        array_push(keep, array_fill(268435456, i))
        print(\"filled\", i)
    print(\"unreachable\")
    return 0
";
    in_both_modes(
        "fill",
        src,
        LIMIT_4G,
        || Input::Nothing,
        |r, what| {
            let filled = r.stdout.matches("filled").count();
            let want: String = std::iter::once("before\n".to_string())
                .chain((0..filled).map(|i| format!("filled {i}\n")))
                .collect();
            assert!(filled < 2, "{what}: two 2 GiB arrays in 4 GiB? {}", r.stdout);
            assert_clean_error(r, what, "5:26", &[OOM], &want)
        },
    );
    let caught = "\
def main() -> int:
    let keep: [[int]] = []
    try:
        for i in range(0, 3):
            array_push(keep, array_fill(268435456, i))
    catch e:
        print(\"caught\", e)
    print(\"after\", array_len(keep) < 2)
    return 0
";
    in_both_modes(
        "fill-caught",
        caught,
        LIMIT_4G,
        || Input::Nothing,
        |r, what| assert_caught(r, what, "caught out of memory\nafter true\n"),
    );
}

/// `read_line` on an endless stream without a newline reads at most a string's
/// worth: the NULs of `/dev/zero` with room for a 1 GiB string hit the cap.
#[test]
fn read_line_from_dev_zero_stops_at_the_cap() {
    let src = "\
def main() -> int:
    print(\"prompt\")
    let line: str = read_line()
    print(\"read\", len(line))
    return 0
";
    in_both_modes(
        "zero",
        src,
        LIMIT_6G,
        || Input::DevZero,
        |r, what| assert_clean_error(r, what, "3:21", &[STR_TOO_LARGE], "prompt\n"),
    );
}

/// The same through a pipe, under 4 GiB: the cap or the memory limit ends it.
#[test]
fn read_line_from_an_endless_pipe_under_4g() {
    let src = "\
def main() -> int:
    print(\"prompt\")
    try:
        let line: str = read_line()
        print(\"read\", len(line))
    catch e:
        print(\"caught\", starts_with(e, \"out of memory\") or starts_with(e, \"result too large\"))
    print(\"again\")
    let rest: str = read_line()
    print(\"unreachable\", len(rest))
    return 0
";
    in_both_modes(
        "pipe",
        src,
        LIMIT_4G,
        || Input::Endless(b'a'),
        |r, what| assert_clean_error(r, what, "9:21", &[OOM, TOO_LARGE], "prompt\ncaught true\nagain\n"),
    );
}

/// Growth by f-string and by `str_join` is bounded like `+`.
#[test]
fn growth_by_fstring_and_join() {
    for (tag, step, pos) in [
        ("fstring", "s = f\"{s}{s}\"", "6:13"),
        ("join", "s = str_join([s, s], \"\")", "6:13"),
    ] {
        let src = format!(
            "\
def main() -> int:
    print(\"before\")
    let s: str = \"ab\"
    let n: int = 0
    while n < 64:
        {step}
        n = n + 1
    return 0
"
        );
        in_both_modes(
            tag,
            &src,
            LIMIT_4G,
            || Input::Nothing,
            |r, what| assert_clean_error(r, what, pos, &[OOM, TOO_LARGE], "before\n"),
        );
    }
}

/// Files bigger than a string or an array may be are refused from their size,
/// before reading; a file that never ends (`/dev/zero`, size 0) stops at the cap.
#[test]
fn reading_files_past_the_caps() {
    let src = "\
def main() -> int:
    print(\"size\", file_size(\"big.txt\"))
    try:
        print(len(file_read(\"big.txt\")))
    catch e:
        print(\"file_read:\", e)
    try:
        print(array_len(file_read_bytes(\"big.bin\")))
    catch e:
        print(\"file_read_bytes:\", e)
    try:
        print(array_len(file_read_bytes(\"/dev/zero\")))
    catch e:
        print(\"endless:\", e)
    print(len(file_read(\"big.txt\")))
    return 0
";
    let array_too_large = "result too large (max 268435456 elements in an array)";
    let want = format!(
        "size 1073741825\nfile_read: {STR_TOO_LARGE}\nfile_read_bytes: {array_too_large}\nendless: {array_too_large}\n"
    );
    let files = [("big.txt", (1 << 30) + 1), ("big.bin", (1 << 28) + 1)];
    for mode in MODES {
        let what = format!("files {}", mode.join(" "));
        let r = run_with_files("files", src, mode, LIMIT_4G, Input::Nothing, &files);
        assert_clean_error(&r, &what, "15:15", &[STR_TOO_LARGE], &want);
    }
}
