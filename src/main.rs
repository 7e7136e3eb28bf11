//! `bp`: the BetterPython command line.

use bp::allocator::MiMalloc;
use bp::driver::{compile_file, render_diagnostics, Compiled, Stop};
use bp::fatal::GuardedAlloc;
use bp::limits::{Reservations, DEFAULT_MAX_DEPTH, MAX_DEPTH_CEILING};
use bp::vm::tiering::TierFactory;
use bp_runtime::rt::{stdout_failure_message, stdout_failure_status, write_all_fd};
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// mimalloc (`bp::allocator`). The wrapper turns a failed allocation outside a
/// fallible scope into one clean out-of-memory line with stdout kept (`bp::fatal`).
#[global_allocator]
static GLOBAL: GuardedAlloc<MiMalloc> = GuardedAlloc(MiMalloc);

/// Sets mimalloc's options before the first allocation, which Rust's runtime
/// makes before `main` (its record of the main thread): an entry of
/// `.init_array`, which the C library runs before that, after mimalloc's own
/// (prioritised) initialisation.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE_ALLOCATOR: extern "C" fn() = {
    extern "C" fn configure() {
        bp::allocator::configure();
    }
    configure
};

#[derive(Parser)]
#[command(
    name = "bp",
    version,
    about = "BetterPython: statically typed Python-syntax language with a register VM and JIT"
)]
struct Cli {
    /// When to colour diagnostics: `auto` (on a terminal, unless NO_COLOR is set),
    /// `always` or `never`.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Clone, Copy, Default, clap::ValueEnum)]
enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// The `--color` choice of this run (set once, before the command runs).
static COLOR: std::sync::OnceLock<ColorChoice> = std::sync::OnceLock::new();

// `defer`: a subcommand's arguments are built only when it is the one
// parsed, not at every start (building the whole tree was 100 k of hello
// world's 1.1 M instructions: docs/benchmarks.md, "Start-up: 1.117 M →
// 0.885 M instructions").
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Compile and run a program.
    Run(RunArgs),
    /// Run the tests: every `def test_*() -> void` of every `test_*.bp` file.
    Test(TestArgs),
    /// An interactive session (also `bp` alone on a terminal).
    ///
    /// Definitions persist and expressions print their value; standard input that
    /// is not a terminal is read without prompts.
    Repl(ReplArgs),
    /// Parse and type-check a program without running it.
    Check {
        /// The program's entry file.
        file: PathBuf,
    },
    /// Format source files in place, in the one canonical layout (see the user guide).
    Fmt {
        /// Change nothing: list the files that are not formatted and exit 1 if any.
        #[arg(long)]
        check: bool,
        /// Files, or directories (every `.bp` file below them); `-` formats standard
        /// input to standard output.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run the language server (LSP over stdin/stdout) for editors: diagnostics,
    /// hover, definition, references, completion, rename, formatting.
    Lsp,
    /// Print the register bytecode of every function.
    Disasm {
        /// The program's entry file.
        file: PathBuf,
    },
    /// Translate every function to Cranelift IR and compile it without running the
    /// program; print the IR (and the machine code with --asm).
    JitIr {
        /// The program's entry file.
        file: PathBuf,
        /// Target: `host` (default) or `aarch64` (cross-compiled, not runnable).
        #[arg(long, default_value = "host")]
        target: String,
        /// Also print the generated machine code.
        #[arg(long)]
        asm: bool,
    },
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Run CODE, statements that become the body of `main` (or a whole program if it
    /// defines `main`); the arguments after it go to the program.
    #[arg(short = 'c', value_name = "CODE")]
    code: Option<String>,
    /// The program's entry file; `-` reads the program from standard input.
    #[arg(required_unless_present = "code")]
    file: Option<PathBuf>,
    /// Arguments passed to the program (`argv()`), as bytes: they need not be UTF-8.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

#[derive(Args)]
struct TestArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Run only the tests whose name contains SUBSTRING.
    #[arg(short = 'k', value_name = "SUBSTRING")]
    filter: Option<String>,
    /// Test files, or folders to search for `test_*.bp` files (default: the
    /// current folder).
    paths: Vec<PathBuf>,
}

#[derive(Args)]
struct ReplArgs {
    #[command(flatten)]
    engine: EngineArgs,
}

// How programs run: the options `bp run`, `bp test` and `bp repl` share. (A
// plain comment: clap makes a doc comment here the `about` of the subcommands
// that flatten this struct, over their own, since their arguments are added
// only when they are parsed: `defer` on `Command`.)
#[derive(Args)]
struct EngineArgs {
    /// Interpreter only: never JIT-compile.
    #[arg(long, conflicts_with = "jit")]
    no_jit: bool,
    /// JIT-compile hot functions (the default).
    #[arg(long)]
    jit: bool,
    /// Calls before a function is JIT-compiled (0 = compile every function before
    /// the program starts). Default 100.
    #[arg(long, value_name = "N")]
    jit_threshold: Option<u32>,
    /// Loop back-edges before the loop's function is compiled and entered by OSR
    /// (default 10 x the call threshold; 1 when it is 0).
    #[arg(long, value_name = "N")]
    jit_osr_threshold: Option<u32>,
    /// Compile hot functions on the program's thread, which waits for each
    /// compilation, instead of on the background compiler thread (a
    /// reproducible order of tier changes, as HotSpot's -Xbatch).
    #[arg(long)]
    jit_sync: bool,
    /// Print JIT statistics to stderr at exit.
    #[arg(long)]
    jit_stats: bool,
    /// Print the Cranelift IR (with the source position of each instruction) and the
    /// machine code of every compiled function to stderr; `--jit-dump=NAME` only of
    /// the functions named NAME.
    #[arg(long, value_name = "NAME", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    jit_dump: Option<String>,
    /// Print one line per JIT event to stderr as it happens: compilations, OSR
    /// entries, deopts, functions given back to the interpreter (also BP_JIT_LOG=1).
    #[arg(long)]
    jit_log: bool,
    /// Write /tmp/perf-PID.map so that `perf` can name JIT code.
    #[arg(long)]
    perf_map: bool,
    /// Collect garbage at every safepoint after an allocation (also BP_GC_STRESS=1).
    #[arg(long)]
    gc_stress: bool,
    /// Maximum call depth before `stack overflow` (at most 33554432; lower under
    /// an address-space limit, see docs/architecture.md).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DEPTH as u64,
          value_parser = clap::value_parser!(u64).range(1..=MAX_DEPTH_CEILING as u64))]
    max_depth: u64,
}

fn main() {
    bp::fatal::install_abort_handler();
    let cli = match Cli::try_parse_from(with_implicit_run(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => exit_after_usage(e),
    };
    let _ = COLOR.set(cli.color);
    let sizes = Reservations::for_this_process();
    let code =
        run_on_program_thread(sizes, move || exit_process(run_command(cli, sizes))).unwrap_or_else(|msg| {
            write_stderr(&format!("bp: {msg}\n"));
            1
        });
    std::process::exit(code);
}

/// End the process with status `code`, from the program's stack, once the
/// command is done: everything it owned that has an effect when dropped is
/// dropped (`bp run` leaves the VM as it is on purpose: `vm::Output`), and its
/// output is written. When the program still had a thread of its own, ending
/// that thread for `main` to join it and call `exit` cost about 0.06 ms of hello
/// world's 1.57 (hyperfine medians): as `strace` showed, the thread handed its
/// 1 GiB stack back with `madvise`, `main` woke and unmapped it, and the
/// allocator's exit handler returned its free pages to the kernel one `madvise`
/// at a time, work the kernel does anyway when the process ends. Switching back
/// from the program's stack and unmapping it would be the same kind of work.
/// Nothing this program registers with `atexit` needs to run; Rust's own stdout
/// buffer is flushed here.
fn exit_process(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: `_exit` ends the process without running `atexit` handlers or
    // destructors; nothing depends on them (above), and no other thread of the
    // program is still running (the VM joins the program's threads, and the
    // compile worker only ever writes the JIT's own memory).
    unsafe { libc::_exit(code) }
}

/// Print clap's help, version or usage error and exit with its status; a stdout
/// that cannot be written is handled as for program output.
fn exit_after_usage(e: clap::Error) -> ! {
    match e.print() {
        // Help and version go to stdout; usage errors to stderr, whose own
        // failures are ignored.
        Err(err) if !e.use_stderr() => std::process::exit(output_failure_status(&err)),
        _ => std::process::exit(e.exit_code()),
    }
}

/// Run `f` with a native stack of `sizes.native_stack` bytes (the parser and
/// checker recurse on nested expressions, and compiled code uses the native
/// stack), or a smaller one down to 8 MiB when the address space does not leave
/// that much (`native_stack::run_on_own_stack`). `Err` says why it could not run.
fn run_on_program_thread(
    sizes: Reservations,
    f: impl FnOnce() -> i32 + Send + 'static,
) -> Result<i32, String> {
    bp::native_stack::run_on_own_stack("bp-main", sizes.native_stack, f)
}

/// All of standard input, at most the size of the largest source file.
fn read_stdin() -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(bp::driver::MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > bp::driver::MAX_SOURCE_BYTES {
        return Err(std::io::Error::other(format!(
            "the input is too large (the limit is {} MiB)",
            bp::driver::MAX_SOURCE_BYTES >> 20
        )));
    }
    Ok(bytes)
}

/// Write `text` to stdout. Returns 0, or the exit status when stdout cannot be
/// written (see [`output_failure_status`]).
fn write_stdout(text: &str) -> i32 {
    match write_all_fd(libc::STDOUT_FILENO, text.as_bytes()) {
        Ok(()) => 0,
        Err(e) => output_failure_status(&e),
    }
}

/// The exit status for an error writing stdout, as for a program's output: a closed
/// pipe ends quietly with 141 (what the shell shows for a tool killed by SIGPIPE);
/// any other error is reported on stderr and gives 1.
fn output_failure_status(e: &std::io::Error) -> i32 {
    if let Some(line) = stdout_failure_message(e) {
        write_stderr(&line);
    }
    stdout_failure_status(e)
}

/// Write `text` to stderr; errors are ignored (there is nowhere left to report
/// them).
fn write_stderr(text: &str) {
    let _ = write_all_fd(libc::STDERR_FILENO, text.as_bytes());
}

fn report(c: &Compiled) {
    write_stderr(&render_diagnostics(c, stderr_wants_colour()));
}

/// Colour diagnostics as `--color` says; by default only on a terminal, and never
/// when `NO_COLOR` is set to anything but the empty string (<https://no-color.org>).
fn stderr_wants_colour() -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

fn run_command(cli: Cli, sizes: Reservations) -> i32 {
    match cli.cmd {
        Command::Check { file } => {
            let c = compile_file(&file, Stop::AfterCheck);
            report(&c);
            i32::from(c.diags.has_errors())
        }
        Command::Fmt { check, paths } => {
            let out = bp::formatter::command::run(&paths, check, stderr_wants_colour(), read_stdin);
            write_stderr(&out.stderr);
            match write_all_fd(libc::STDOUT_FILENO, &out.stdout) {
                Ok(()) => out.status,
                Err(e) => output_failure_status(&e),
            }
        }
        Command::Lsp => match bp::lsp::run() {
            Ok(()) => 0,
            Err(e) => {
                write_stderr(&format!("bp lsp: {e}\n"));
                1
            }
        },
        Command::Disasm { file } => {
            let c = compile_file(&file, Stop::Bytecode);
            report(&c);
            match &c.program {
                Some(p) => write_stdout(&bp::bytecode::disasm::disassemble(p)),
                None => 1,
            }
        }
        Command::JitIr { file, target, asm } => jit_ir(&file, &target, asm),
        Command::Run(r) => {
            // With `-c`, the positional arguments all go to the program.
            let args = r
                .code
                .is_some()
                .then(|| r.file.clone().map(PathBuf::into_os_string));
            let args = args
                .flatten()
                .into_iter()
                .chain(r.args.iter().cloned())
                .map(os_bytes)
                .collect();
            let opts = match vm_options(&r.engine, sizes, args) {
                Ok(opts) => opts,
                Err(flag) => return without_jit(flag),
            };
            let c = match compile_run_target(&r) {
                Ok(c) => c,
                Err(msg) => {
                    write_stderr(&format!("bp: {msg}\n"));
                    return 1;
                }
            };
            report(&c);
            let Some(program) = c.program else { return 1 };
            bp::vm::run_shared(std::sync::Arc::new(program), opts)
        }
        Command::Test(t) => run_tests(t, sizes),
        Command::Repl(r) => {
            let vm = match vm_options(&r.engine, sizes, Vec::new()) {
                Ok(opts) => opts,
                Err(flag) => return without_jit(flag),
            };
            bp::repl::run(bp::repl::ReplOptions {
                vm,
                color: stderr_wants_colour(),
            })
        }
    }
}

/// Compile what `bp run` runs: the file, standard input (`-`) or the `-c` snippet.
fn compile_run_target(r: &RunArgs) -> Result<Compiled, String> {
    if let Some(code) = &r.code {
        let path = std::path::Path::new("<string>");
        let whole_program = code.lines().any(|l| l.starts_with("def main("));
        return Ok(match whole_program {
            true => bp::driver::compile_source(path, code.clone().into_bytes(), Stop::Bytecode),
            false => bp::driver::compile_snippet(path, code.clone().into_bytes()),
        });
    }
    match &r.file {
        Some(f) if f.as_os_str() == "-" => {
            let bytes =
                read_stdin().map_err(|e| format!("cannot read the program from standard input: {e}"))?;
            Ok(bp::driver::compile_source(
                std::path::Path::new("<stdin>"),
                bytes,
                Stop::Bytecode,
            ))
        }
        Some(f) => Ok(compile_file(f, Stop::Bytecode)),
        None => Err("no program given".to_string()),
    }
}

/// `bp FILE [args]` and `bp -c CODE [args]` mean `bp run ...` (so that a
/// `#!/usr/bin/env bp` line works): insert `run` when the first argument is not a
/// subcommand or an option but `-c`, a `.bp` file name or an existing file. `bp`
/// alone on a terminal means `bp repl`.
fn with_implicit_run(mut args: Vec<OsString>) -> Vec<OsString> {
    let Some(first) = args.get(1) else {
        // `bp` alone on a terminal starts the REPL.
        if std::io::stdin().is_terminal() {
            args.push(OsString::from("repl"));
        }
        return args;
    };
    let text = first.to_string_lossy();
    // The subcommand names are looked up last: building the command tree is work
    // that every `bp run ...` would otherwise do twice at start-up.
    let is_subcommand = || text == "help" || Cli::command().get_subcommands().any(|c| c.get_name() == text);
    let program = !text.starts_with('-')
        && (text.ends_with(".bp") || std::path::Path::new(first).is_file())
        && !is_subcommand();
    if text == "-c" || program {
        args.insert(1, OsString::from("run"));
    }
    args
}

/// `bp test`: the report goes to stdout as the tests run.
fn run_tests(t: TestArgs, sizes: Reservations) -> i32 {
    // Refuse a JIT option of an interpreter-only build before running anything.
    let opts = match vm_options(&t.engine, sizes, Vec::new()) {
        Ok(opts) => opts,
        Err(flag) => return without_jit(flag),
    };
    let root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let req = bp::testrunner::TestRequest {
        paths: &t.paths,
        filter: t.filter.as_deref(),
        root: &root,
        color: stderr_wants_colour(),
    };
    let options = || opts.clone();
    let mut out = StdoutWriter;
    match bp::testrunner::run(&req, &options, &mut out) {
        Ok(summary) => summary.status(),
        Err(e) => output_failure_status(&e),
    }
}

/// Standard output, unbuffered (each test's line appears as it runs), through the
/// same writer as program output.
struct StdoutWriter;

impl std::io::Write for StdoutWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_all_fd(libc::STDOUT_FILENO, buf).map(|()| buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The VM options of `bp run` and `bp test` (`Err` names a JIT option that an
/// interpreter-only build refuses).
fn vm_options(
    e: &EngineArgs,
    sizes: Reservations,
    args: Vec<Vec<u8>>,
) -> Result<bp::vm::VmOptions, &'static str> {
    let tier = jit_tier(e, sizes)?;
    let gc_stress = match std::env::var("BP_GC_STRESS").as_deref() {
        Ok("gen") => bp_runtime::heap::GcStress::Generations,
        Ok(v) if v != "0" && !v.is_empty() => bp_runtime::heap::GcStress::Every,
        _ if e.gc_stress => bp_runtime::heap::GcStress::Every,
        _ => bp_runtime::heap::GcStress::Off,
    };
    Ok(bp::vm::VmOptions {
        gc_stress,
        // Under an address-space limit the frame stack may hold fewer.
        max_depth: usize::try_from(e.max_depth)
            .unwrap_or(MAX_DEPTH_CEILING)
            .min(sizes.max_frames),
        stack_slots: sizes.reg_slots,
        args,
        tier,
        ..Default::default()
    })
}

/// `bp jit-ir FILE`.
#[cfg(feature = "jit")]
fn jit_ir(file: &std::path::Path, target: &str, asm: bool) -> i32 {
    let c = compile_file(file, Stop::Bytecode);
    report(&c);
    let Some(program) = c.program else { return 1 };
    match bp::tier::dump_ir(&program, target, asm) {
        Ok(text) => write_stdout(&text),
        Err(e) => {
            write_stderr(&format!("bp: {e}\n"));
            1
        }
    }
}

#[cfg(not(feature = "jit"))]
fn jit_ir(_file: &std::path::Path, _target: &str, _asm: bool) -> i32 {
    without_jit("jit-ir")
}

/// The JIT tier `bp run` asks for: `None` with `--no-jit` (the interpreter
/// alone; the JIT is never created).
#[cfg(feature = "jit")]
fn jit_tier(r: &EngineArgs, sizes: Reservations) -> Result<Option<Arc<dyn TierFactory>>, &'static str> {
    if r.no_jit {
        return Ok(None);
    }
    let _ = r.jit; // the default
    let stress = match std::env::var("BP_DEOPT_STRESS") {
        Ok(v) if v == "2" || v.eq_ignore_ascii_case("always") => 2,
        Ok(v) if !v.is_empty() && v != "0" => 1,
        _ => 0,
    };
    let opts = bp::tier::JitOptions {
        threshold: r.jit_threshold.unwrap_or(100),
        osr_threshold: r.jit_osr_threshold,
        stress,
        stats: r.jit_stats,
        dump: r.jit_dump.clone(),
        perf_map: r.perf_map,
        log: r.jit_log || std::env::var("BP_JIT_LOG").is_ok_and(|v| v != "0" && !v.is_empty()),
        code_arena: sizes.code_arena,
        sync: r.jit_sync,
    };
    Ok(Some(opts.factory()))
}

/// Without the JIT, `bp run` interprets; a JIT option is an error (`Err` names it).
#[cfg(not(feature = "jit"))]
fn jit_tier(r: &EngineArgs, _sizes: Reservations) -> Result<Option<Arc<dyn TierFactory>>, &'static str> {
    let asked = [
        (r.jit, "--jit"),
        (r.jit_threshold.is_some(), "--jit-threshold"),
        (r.jit_osr_threshold.is_some(), "--jit-osr-threshold"),
        (r.jit_sync, "--jit-sync"),
        (r.jit_stats, "--jit-stats"),
        (r.jit_dump.is_some(), "--jit-dump"),
        (r.jit_log, "--jit-log"),
        (r.perf_map, "--perf-map"),
    ];
    match asked.iter().find(|(set, _)| *set) {
        Some((_, flag)) => Err(flag),
        None => Ok(None),
    }
}

/// A JIT command or option in a build without the JIT (`jit_tier` never refuses
/// one otherwise): one line, exit status 2 (as for a usage error).
fn without_jit(what: &str) -> i32 {
    write_stderr(&format!(
        "bp: {what}: bp was built without the JIT (cargo feature `jit`)\n"
    ));
    2
}

/// The bytes of a command-line argument as the OS passed them.
fn os_bytes(arg: OsString) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        arg.into_vec()
    }
    #[cfg(not(unix))]
    {
        arg.to_string_lossy().into_owned().into_bytes()
    }
}
