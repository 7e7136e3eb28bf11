//! Link options for a small start-up footprint (docs/benchmarks.md, "Start-up
//! memory"). Both are for the `bp` binary on x86-64 Linux with glibc, where rustc
//! links with its own LLD by default (since Rust 1.90; this crate needs 1.95):
//!
//! * `--symbol-ordering-file=link/startup-order.txt` puts the functions a program
//!   runs when it starts (listed by `scripts/startup-order.py`) next to each other,
//!   so starting touches a few contiguous pages of code rather than pages all over
//!   the text section;
//! * `-z pack-relative-relocs` stores the ~12,000 relative relocations of the
//!   position-independent binary as a compact bitmap (RELR) instead of 24-byte
//!   entries: 270 KB less to read at every start. The loader needs glibc 2.36.
//! * GCC's unwinder is linked from its static archive (`libgcc_eh.a`) rather than
//!   from `libgcc_s.so.1`, which Rust's standard library asks for: placed before
//!   it on the command line, the archive defines the `_Unwind_*` functions first,
//!   and `--as-needed` (rustc's default) then drops `libgcc_s` from the binary.
//!   Loading that library ran its constructor, `__cpu_indicator_init`, which
//!   queries the CPU with about ten `cpuid` instructions: under a hypervisor each
//!   one traps, 6.5 µs apiece on the test machine, and hello world started
//!   0.1 ms sooner without it (docs/benchmarks.md, "Start-up without
//!   libgcc_s"). It is the same unwinder, of the same GCC.
//!
//! Elsewhere (another target, a linker set by the user, a cross build, an older
//! glibc) nothing is added: the options are about footprint, never correctness.

use std::env;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=link/startup-order.txt");
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    println!("cargo::rerun-if-env-changed=CC");
    if !links_with_rust_lld_for_host_glibc() {
        return;
    }
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let order = format!("{manifest}/link/startup-order.txt");
    if std::path::Path::new(&order).exists() {
        println!("cargo::rustc-link-arg-bin=bp=-Wl,--symbol-ordering-file={order}");
        // A name the file lists that this build no longer has is simply not placed.
        println!("cargo::rustc-link-arg-bin=bp=-Wl,--no-warn-symbol-ordering");
    }
    if let Some(dir) = static_unwinder_dir() {
        println!("cargo::rustc-link-search=native={dir}");
        println!("cargo::rustc-link-lib=static:-bundle=gcc_eh");
    }
    if host_glibc_at_least(2, 36) {
        println!("cargo::rustc-link-arg-bin=bp=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this is a native x86-64 Linux glibc build with rustc's default linker.
fn links_with_rust_lld_for_host_glibc() -> bool {
    let target = env::var("TARGET").unwrap_or_default();
    let host = env::var("HOST").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let linker_chosen = env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
        || ["linker", "link-self-contained", "fuse-ld"]
            .iter()
            .any(|f| flags.contains(f));
    target == "x86_64-unknown-linux-gnu" && host == target && !linker_chosen
}

/// The directory of the C compiler's `libgcc_eh.a` (asked of `$CC`, or `cc`), if
/// it has one.
fn static_unwinder_dir() -> Option<String> {
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = std::process::Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    let path = std::path::PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // (A compiler that does not know the file prints its bare name back.)
    if !out.status.success() || !path.is_absolute() || !path.exists() {
        return None;
    }
    Some(path.parent()?.to_str()?.to_string())
}

/// Whether the C library this build script runs on (the host's, which for a
/// native build is the target's) is glibc `major.minor` or newer.
fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn gnu_get_libc_version() -> *const std::ffi::c_char;
        }
        // SAFETY: glibc returns a pointer to a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
        let mut parts = version
            .to_str()
            .unwrap_or("0.0")
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        found >= (major, minor)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (major, minor);
        false
    }
}
