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

mod support;

use std::sync::Mutex;
use std::time::Duration;

use support::{assert_clean_error, assert_success, Bp, Input, Kept, Run, TempDir};

/// 4 GiB of address space: enough for `bp` itself (its 1 GiB main-thread stack and
/// register stacks), too little for a 2 GiB array twice.
const LIMIT_4G: u64 = 4 << 30;
/// Room for a 1 GiB string being built (1.5 GiB while its buffer doubles) besides
/// what `bp` needs: the string cap, not the allocator, stops the program.
const LIMIT_6G: u64 = 6 << 30;

/// Wall-clock limit of one run.
const TIMEOUT: Duration = Duration::from_secs(180);

/// The two engines: the interpreter alone, and every function compiled (when `bp`
/// has the JIT).
const MODES: &[&[&str]] = support::INTERPRETED_AND_COMPILED;

/// One memory-hungry child at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The messages of `bp_runtime::limits` (prefixes).
const TOO_LARGE: &str = "result too large";
const OOM: &str = "out of memory";
const STR_TOO_LARGE: &str = "result too large (max 1073741824 bytes in a string)";

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
    dir.write("prog.bp", source);
    for &(name, size) in sparse {
        let f = std::fs::File::create(dir.path().join(name)).expect("create sparse file");
        f.set_len(size).expect("size sparse file");
    }
    Bp::new(["run"])
        .args(mode)
        .arg("prog.bp")
        .current_dir(dir.path())
        .stdin(input)
        .memory_limit(limit)
        .time_limit(TIMEOUT)
        .run()
}

/// `/dev/zero`: NUL bytes without end and without a newline.
fn dev_zero() -> Input {
    Input::File(std::fs::File::open("/dev/zero").expect("open /dev/zero"))
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
        || Input::Null,
        |r, what| assert_clean_error(r, what, "prog.bp:6:13", &[OOM, TOO_LARGE], Kept::Is("before\n")),
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
        || Input::Null,
        |r, what| assert_success(r, what, "before\ncaught true\nafter true true\n"),
    );
}

/// A string the allocator refuses (well below the cap, under 1.5 GiB of address
/// space: about 1 GiB besides `bp`'s stacks, so the doubling that would hold 512
/// MiB and 1 GiB at once is refused) is the catchable `out of memory` at the
/// `+`, not the end of the process, whether it is an ordinary string or the
/// start of a shared buffer (`s = s + t`, docs/architecture.md "Values"). (At
/// 2 GiB it fitted once the program stopped having a thread of its own, whose
/// glibc malloc arena reserved 64 MiB: the doubling then reached the cap.)
#[test]
fn a_refused_string_is_a_catchable_out_of_memory() {
    let src = "\
def main() -> int:
    let s: str = \"ab\"
    let n: int = 0
    try:
        while n < 64:
            s = s + s
            n = n + 1
    catch e:
        print(\"caught\", e)
    s = \"\"
    print(\"after\", n > 20, n < 30)
    return 0
";
    in_both_modes(
        "refused",
        src,
        3 << 29,
        || Input::Null,
        |r, what| assert_success(r, what, "caught out of memory\nafter true true\n"),
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
        || Input::Null,
        |r, what| assert_clean_error(r, what, "prog.bp:19:18", &[STR_TOO_LARGE], Kept::Is(&want)),
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
        || Input::Null,
        |r, what| {
            let filled = r.stdout_text().matches("filled").count();
            let want: String = std::iter::once("before\n".to_string())
                .chain((0..filled).map(|i| format!("filled {i}\n")))
                .collect();
            assert!(
                filled < 2,
                "{what}: two 2 GiB arrays in 4 GiB? {}",
                r.stdout_text()
            );
            assert_clean_error(r, what, "prog.bp:5:26", &[OOM], Kept::Is(&want))
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
        || Input::Null,
        |r, what| assert_success(r, what, "caught out of memory\nafter true\n"),
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
    in_both_modes("zero", src, LIMIT_6G, dev_zero, |r, what| {
        assert_clean_error(r, what, "prog.bp:3:21", &[STR_TOO_LARGE], Kept::Is("prompt\n"))
    });
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
        |r, what| {
            assert_clean_error(
                r,
                what,
                "prog.bp:9:21",
                &[OOM, TOO_LARGE],
                Kept::Is("prompt\ncaught true\nagain\n"),
            )
        },
    );
}

/// Growth by f-string and by `str_join` is bounded like `+`.
#[test]
fn growth_by_fstring_and_join() {
    for (tag, step, pos) in [
        ("fstring", "s = f\"{s}{s}\"", "prog.bp:6:13"),
        ("join", "s = str_join([s, s], \"\")", "prog.bp:6:13"),
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
            || Input::Null,
            |r, what| assert_clean_error(r, what, pos, &[OOM, TOO_LARGE], Kept::Is("before\n")),
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
        let r = run_with_files("files", src, mode, LIMIT_4G, Input::Null, &files);
        assert_clean_error(&r, &what, "prog.bp:15:15", &[STR_TOO_LARGE], Kept::Is(&want));
    }
}
