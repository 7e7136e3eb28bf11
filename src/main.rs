//! `bp`: the BetterPython command line.

use bp::driver::{compile_file, render_diagnostics, Compiled, Stop};
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Every heap object of a program is a separate allocation: mimalloc makes
/// allocation-heavy programs about twice as fast as glibc malloc (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "bp",
    version,
    about = "BetterPython: statically typed Python-syntax language with a register VM and JIT"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile and run a program.
    Run(RunArgs),
    /// Parse and type-check a program without running it.
    Check {
        /// The program's entry file.
        file: PathBuf,
    },
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
    /// Print JIT statistics to stderr at exit.
    #[arg(long)]
    jit_stats: bool,
    /// Print the Cranelift IR and machine code of every compiled function to stderr.
    #[arg(long)]
    jit_dump: bool,
    /// Write /tmp/perf-PID.map so that `perf` can name JIT code.
    #[arg(long)]
    perf_map: bool,
    /// Collect garbage at every safepoint after an allocation (also BP_GC_STRESS=1).
    #[arg(long)]
    gc_stress: bool,
    /// Maximum call depth before `stack overflow`.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    max_depth: usize,
    /// The program's entry file.
    file: PathBuf,
    /// Arguments passed to the program (`argv()`), as bytes: they need not be UTF-8.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

/// Native stack for the thread that compiles and runs the program: the parser and
/// checker recurse on nested expressions, and JIT code uses the native stack.
const STACK_SIZE: usize = 1 << 30;

fn main() {
    let cli = Cli::parse();
    let code = std::thread::Builder::new()
        .name("bp-main".into())
        .stack_size(STACK_SIZE)
        .spawn(move || run_command(cli))
        .ok()
        .and_then(|h| h.join().ok())
        .unwrap_or_else(|| {
            eprintln!("bp: internal error: the main thread failed");
            1
        });
    std::process::exit(code);
}

fn report(c: &Compiled) {
    let text = render_diagnostics(c, std::io::stderr().is_terminal());
    if !text.is_empty() {
        eprint!("{text}");
    }
}

fn run_command(cli: Cli) -> i32 {
    match cli.cmd {
        Command::Check { file } => {
            let c = compile_file(&file, Stop::AfterCheck);
            report(&c);
            i32::from(c.diags.has_errors())
        }
        Command::Disasm { file } => {
            let c = compile_file(&file, Stop::Bytecode);
            report(&c);
            match &c.program {
                Some(p) => {
                    print!("{}", bp::bytecode::disasm::disassemble(p));
                    0
                }
                None => 1,
            }
        }
        Command::JitIr { file, target, asm } => {
            let c = compile_file(&file, Stop::Bytecode);
            report(&c);
            let Some(program) = c.program else { return 1 };
            match bp::jit::dump_ir(&program, &target, asm) {
                Ok(text) => {
                    print!("{text}");
                    0
                }
                Err(e) => {
                    eprintln!("bp: {e}");
                    1
                }
            }
        }
        Command::Run(r) => {
            let c = compile_file(&r.file, Stop::Bytecode);
            report(&c);
            let Some(program) = c.program else { return 1 };
            let gc_stress =
                r.gc_stress || std::env::var("BP_GC_STRESS").is_ok_and(|v| v != "0" && !v.is_empty());
            // `--no-jit`: the interpreter alone; the JIT is never created.
            let jit = if r.no_jit {
                None
            } else {
                let _ = r.jit; // the default
                let stress = match std::env::var("BP_DEOPT_STRESS") {
                    Ok(v) if v == "2" || v.eq_ignore_ascii_case("always") => 2,
                    Ok(v) if !v.is_empty() && v != "0" => 1,
                    _ => 0,
                };
                Some(bp::jit::JitOptions {
                    threshold: r.jit_threshold.unwrap_or(100),
                    osr_threshold: r.jit_osr_threshold,
                    stress,
                    stats: r.jit_stats,
                    dump: r.jit_dump,
                    perf_map: r.perf_map,
                })
            };
            let opts = bp::vm::VmOptions {
                gc_stress,
                max_depth: r.max_depth,
                args: r.args.into_iter().map(os_bytes).collect(),
                jit,
                ..Default::default()
            };
            bp::vm::run(&program, opts)
        }
    }
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
