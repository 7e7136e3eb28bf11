//! What the integration tests that run the `bp` binary share: fresh temporary
//! directories, a builder that runs `bp` (or another program) with captured output,
//! optional stdin, an address-space limit and a wall-clock limit, and the checks of
//! a clean ending (issue 9: never a signal or a panic, never lost stdout).
//!
//! A test file uses it with `mod support;` (Cargo compiles `tests/support/mod.rs`
//! into each such test binary instead of making it a test of its own).

// Each test binary compiles this module separately and uses only part of it: what
// one of them leaves unused is not dead.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The command-line options of the two ways most tests run a program: interpreted,
/// and with every function compiled (the latter only when `bp` has the JIT).
pub const INTERPRETED_AND_COMPILED: &[&[&str]] = if cfg!(feature = "jit") {
    &[&["--no-jit"], &["--jit-threshold", "0"]]
} else {
    &[&["--no-jit"]]
};

/// Wall-clock limit of a run unless [`Bp::time_limit`] sets another.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(120);

/// A fresh directory, unique to this process and this call, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Create `$TMPDIR/bp-test-PID-N-TAG` (`TAG` only makes it easy to recognise).
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bp-test-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Write `contents` to the file `name` in the directory and return its path.
    pub fn write(&self, name: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write a test file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the child reads on stdin.
pub enum Input {
    /// Nothing: end of file at once.
    Null,
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
    /// This file (`/dev/zero`, say).
    File(File),
    /// This byte without end, written through a pipe by a thread until the child
    /// exits and closes the pipe.
    Endless(u8),
}

/// A child process to run: `bp` with arguments unless [`Bp::program`] names another.
///
/// The environment variables that change how `bp` runs or reports (`RUST_BACKTRACE`,
/// `BP_GC_STRESS`, `BP_DEOPT_STRESS`) are removed, so that a run does not depend on
/// the caller's environment.
pub struct Bp {
    cmd: Command,
    label: Vec<OsString>,
    input: Input,
    stdout: Option<File>,
    stderr: Option<File>,
    memory_limit: Option<u64>,
    time_limit: Duration,
}

impl Bp {
    /// `bp ARGS...`.
    pub fn new<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Bp {
        Bp::program(env!("CARGO_BIN_EXE_bp")).args(args)
    }

    /// Another program (this test binary run again, say), without arguments yet.
    pub fn program(path: impl AsRef<OsStr>) -> Bp {
        let mut cmd = Command::new(path.as_ref());
        for var in ["RUST_BACKTRACE", "BP_GC_STRESS", "BP_DEOPT_STRESS", "BP_JIT_LOG"] {
            cmd.env_remove(var);
        }
        let name = Path::new(path.as_ref()).file_name().unwrap_or_default();
        Bp {
            cmd,
            label: vec![name.to_os_string()],
            input: Input::Null,
            stdout: None,
            stderr: None,
            memory_limit: None,
            time_limit: DEFAULT_TIME_LIMIT,
        }
    }

    /// One more argument.
    pub fn arg(self, arg: impl AsRef<OsStr>) -> Bp {
        self.args([arg])
    }

    /// More arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Bp {
        for a in args {
            self.cmd.arg(a.as_ref());
            self.label.push(a.as_ref().to_os_string());
        }
        self
    }

    /// Run in `dir` (so that messages name files relative to it).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Bp {
        self.cmd.current_dir(dir);
        self
    }

    /// Set an environment variable of the child.
    pub fn env(mut self, key: &str, value: &str) -> Bp {
        self.cmd.env(key, value);
        self
    }

    /// What the child reads on stdin (default: [`Input::Null`]).
    pub fn stdin(mut self, input: Input) -> Bp {
        self.input = input;
        self
    }

    /// Send stdout to `file` instead of capturing it.
    pub fn stdout_to(mut self, file: File) -> Bp {
        self.stdout = Some(file);
        self
    }

    /// Send stderr to `file` instead of capturing it.
    pub fn stderr_to(mut self, file: File) -> Bp {
        self.stderr = Some(file);
        self
    }

    /// Limit the child's address space (`RLIMIT_AS`) to `bytes`.
    pub fn memory_limit(mut self, bytes: u64) -> Bp {
        self.memory_limit = Some(bytes);
        self
    }

    /// Kill the child and fail the test if it runs longer than `limit`.
    pub fn time_limit(mut self, limit: Duration) -> Bp {
        self.time_limit = limit;
        self
    }

    /// Start the child; stdout and stderr are pipes unless sent to files. The caller
    /// may take `child.stdout` to read it itself before [`Running::finish`].
    pub fn spawn(mut self) -> Running {
        let label = self.label.join(OsStr::new(" ")).to_string_lossy().into_owned();
        let pipe_or = |f: Option<File>| f.map_or_else(Stdio::piped, Stdio::from);
        self.cmd.stdout(pipe_or(self.stdout)).stderr(pipe_or(self.stderr));
        let feed = match self.input {
            Input::Null => {
                self.cmd.stdin(Stdio::null());
                None
            }
            Input::File(f) => {
                self.cmd.stdin(f);
                None
            }
            Input::Bytes(bytes) => {
                self.cmd.stdin(Stdio::piped());
                Some(Feed::Once(bytes))
            }
            Input::Endless(byte) => {
                self.cmd.stdin(Stdio::piped());
                Some(Feed::Endless(byte))
            }
        };
        if let Some(bytes) = self.memory_limit {
            // SAFETY: the closure runs in the forked child before `exec` and only
            // calls `setrlimit`, which is async-signal-safe as `pre_exec` requires.
            unsafe {
                self.cmd.pre_exec(move || limit_address_space(bytes));
            }
        }
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{label}: cannot start: {e}"));
        let feeder = match (feed, child.stdin.take()) {
            (Some(feed), Some(stdin)) => Some(feed.start(stdin)),
            _ => None,
        };
        Running {
            child,
            feeder,
            label,
            time_limit: self.time_limit,
        }
    }

    /// Run the child to its end (within the time limit), capturing what it writes.
    pub fn run(self) -> Run {
        self.spawn().finish()
    }
}

/// Limit the address space of the calling process (the child, after `fork`).
fn limit_address_space(bytes: u64) -> std::io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: `setrlimit` only reads the struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What a thread writes to the child's stdin.
enum Feed {
    /// These bytes, then end of file.
    Once(Vec<u8>),
    /// This byte without end.
    Endless(u8),
}

impl Feed {
    /// Write on a thread (so that a child that does not read cannot block the test);
    /// the pipe closes when the thread ends.
    fn start(self, mut stdin: impl Write + Send + 'static) -> JoinHandle<()> {
        std::thread::spawn(move || match self {
            // A child that exits without reading it all is no error of the feeder.
            Feed::Once(bytes) => drop(stdin.write_all(&bytes)),
            Feed::Endless(byte) => {
                let chunk = vec![byte; 1 << 16];
                // Ends with EPIPE once the child has exited (Rust ignores SIGPIPE).
                while stdin.write_all(&chunk).is_ok() {}
            }
        })
    }
}

/// A started child.
pub struct Running {
    /// The child; its stdout and stderr pipes are still in it unless taken.
    pub child: Child,
    feeder: Option<JoinHandle<()>>,
    label: String,
    time_limit: Duration,
}

impl Running {
    /// Read the pipes still in the child to their ends (on threads, so that neither
    /// can fill up and block the child), wait for it within the time limit, and
    /// return what it did. A pipe taken by the caller reads as empty.
    pub fn finish(mut self) -> Run {
        let out = self.child.stdout.take().map(drain);
        let err = self.child.stderr.take().map(drain);
        let status = self.wait();
        if let Some(feeder) = self.feeder.take() {
            feeder.join().expect("stdin feeder");
        }
        let collect =
            |h: Option<JoinHandle<Vec<u8>>>| h.map(|h| h.join().expect("pipe reader")).unwrap_or_default();
        Run {
            status,
            stdout: collect(out),
            stderr: collect(err),
        }
    }

    /// Wait for the child; past the time limit, kill it and fail.
    fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return status;
            }
            if start.elapsed() > self.time_limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{}: still running after {:?}", self.label, self.time_limit);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Read a child's pipe to its end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// How a child ended and what it wrote (empty where sent to a file).
pub struct Run {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

impl Run {
    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The exit code; fails (showing stderr) if a signal ended the child.
    pub fn code(&self, what: &str) -> i32 {
        match self.status.code() {
            Some(code) => code,
            None => panic!(
                "{what}: killed by signal {:?}; stderr:\n{}",
                self.status.signal(),
                self.stderr_text()
            ),
        }
    }

    /// Status, start of stdout and stderr, for failure messages.
    fn report(&self, what: &str) -> String {
        let stdout = self.stdout_text();
        let cut = (0..=stdout.len().min(500))
            .rev()
            .find(|&i| stdout.is_char_boundary(i))
            .unwrap_or(0);
        format!(
            "{what}: status {:?} (signal {:?})\n--- stdout (first 500 bytes)\n{}\n--- stderr\n{}",
            self.status.code(),
            self.status.signal(),
            &stdout[..cut],
            self.stderr_text()
        )
    }
}

/// What a failing run must have written to stdout before it stopped.
pub enum Kept<'a> {
    /// Exactly this.
    Is(&'a str),
    /// This, maybe followed by more.
    StartsWith(&'a str),
}

/// The run ended cleanly with an uncaught runtime error: exit status 1 (no signal,
/// not Rust's allocation-failure abort 134); stderr is one line
/// `AT: runtime error: M...`, `AT` being `file:line:col` and `M` one of `messages`,
/// followed only by stack trace lines, with no panic, allocator or internal-error
/// message; and the stdout written before the error is kept.
pub fn assert_clean_error(r: &Run, what: &str, at: &str, messages: &[&str], stdout: Kept) {
    let report = r.report(what);
    assert_eq!(r.status.signal(), None, "killed by a signal: {report}");
    assert_eq!(r.status.code(), Some(1), "{report}");
    let stderr = r.stderr_text();
    for bad in [
        "panicked",
        "memory allocation of",
        "internal error",
        "RUST_BACKTRACE",
    ] {
        assert!(!stderr.contains(bad), "stderr mentions {bad:?}: {report}");
    }
    let mut lines = stderr.lines();
    let head = format!("{at}: runtime error: ");
    let message = lines
        .next()
        .and_then(|first| first.strip_prefix(&head))
        .unwrap_or_else(|| panic!("want {head}...: {report}"));
    assert!(
        messages.iter().any(|m| message.starts_with(m)),
        "message {message:?} is none of {messages:?}: {report}"
    );
    // The source line and the caret under it, when the file can be read.
    let mut lines = lines.peekable();
    for _ in 0..2 {
        lines.next_if(|l| l.starts_with("    "));
    }
    for l in lines {
        assert!(
            l.starts_with("  at ") || l.starts_with("  ... "),
            "extra stderr line {l:?}: {report}"
        );
    }
    let out = r.stdout_text();
    match stdout {
        Kept::Is(want) => assert_eq!(out, want, "stdout: {report}"),
        Kept::StartsWith(want) => assert!(
            out.starts_with(want),
            "stdout does not start with {want:?}: {report}"
        ),
    }
}

/// The run succeeded: exit status 0, stdout is `stdout`, nothing on stderr.
pub fn assert_success(r: &Run, what: &str, stdout: &str) {
    assert_eq!(
        (
            r.status.code(),
            r.stdout_text().as_str(),
            r.stderr_text().as_str()
        ),
        (Some(0), stdout, ""),
        "{what}: signal {:?}",
        r.status.signal()
    );
}
