//! The fixed reservations of a run and how they are sized.
//!
//! A run reserves address space up front for four things that must never move or
//! grow while the program runs:
//!
//! | what | default | why fixed |
//! |---|---|---|
//! | native stack of the thread that compiles and runs the program | 1 GiB | compiled code uses one native frame per call; the parser and checker recurse |
//! | register stack ([`crate::vm::RegStack`]) | 2^25 slots (256 MiB) | JIT code keeps raw pointers into it |
//! | frame stack ([`crate::vm::FrameStack`]) | `--max-depth` + 1 records of 24 bytes | JIT code keeps its address |
//! | JIT code arena | 512 MiB | code is never moved |
//!
//! None of them is touched up front (the pages are committed by the OS on first
//! use), so they cost address space only. When the process has an address-space
//! limit (`RLIMIT_AS`, or `RLIMIT_DATA` for the writable ones), each reservation is
//! scaled to a fixed share of the space still free at start-up (about a quarter in
//! all), so that a program runs under `ulimit -v` and most of the space stays for
//! its heap. A smaller register or frame stack lowers the depth at which calls
//! raise `stack overflow`; a smaller native stack makes compiled code raise it
//! earlier (its native-stack check); the error stays catchable either way.

/// Highest `--max-depth` accepted: the frame stack for it reserves 768 MiB, and with
/// at least one register per frame the default register stack cannot hold more
/// frames anyway.
pub const MAX_DEPTH_CEILING: usize = 1 << 25;
/// Default call-depth limit (`--max-depth`).
pub const DEFAULT_MAX_DEPTH: usize = 200_000;
/// Native stack of the program's thread without an address-space limit.
pub const NATIVE_STACK: usize = 1 << 30;
/// Usable register-stack slots without an address-space limit.
pub const REG_SLOTS: usize = 1 << 25;
/// JIT code arena without an address-space limit.
pub const CODE_ARENA: usize = 512 << 20;

/// Bytes of one frame-stack record (`vm::Frame`).
const FRAME_BYTES: usize = 24;
/// Smallest sizes under a tight limit (below them the program would hardly run).
pub const MIN_NATIVE_STACK: usize = 8 << 20;
const MIN_REG_SLOTS: usize = 1 << 17;
const MIN_FRAMES: usize = 10_000;
pub const MIN_CODE_ARENA: usize = 4 << 20;

/// `reserve(size)`, tried again at half the size while it fails and the size
/// is above `min`: the first success, or the failure at `min` or below. How
/// the native stacks and the JIT's code arena meet an address-space limit
/// tighter than [`Reservations`] expected (docs/architecture.md, "Stack sizes
/// and the address-space limit").
pub fn halving<R, E>(
    mut size: usize,
    min: usize,
    mut reserve: impl FnMut(usize) -> Result<R, E>,
) -> Result<R, E> {
    loop {
        match reserve(size) {
            Ok(r) => return Ok(r),
            Err(_) if size > min => size /= 2,
            Err(e) => return Err(e),
        }
    }
}

/// Sizes of the reservations of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservations {
    /// Native stack of the thread that compiles and runs the program, in bytes.
    pub native_stack: usize,
    /// Usable slots of the register stack (`VmOptions::stack_slots`).
    pub reg_slots: usize,
    /// Most frames the frame stack may hold: the effective depth limit is the
    /// smaller of this and `--max-depth`.
    pub max_frames: usize,
    /// JIT code arena, in bytes (`JitOptions::code_arena`).
    pub code_arena: usize,
}

impl Reservations {
    /// The sizes without an address-space limit.
    pub const UNLIMITED: Reservations = Reservations {
        native_stack: NATIVE_STACK,
        reg_slots: REG_SLOTS,
        max_frames: MAX_DEPTH_CEILING,
        code_arena: CODE_ARENA,
    };

    /// The sizes when `free` bytes of address space are left: native stack 1/8,
    /// register stack 1/16, JIT code 1/32 and frame stack 1/64 of it, each between
    /// its minimum and its unlimited size.
    pub fn for_free_space(free: usize) -> Reservations {
        let u = Reservations::UNLIMITED;
        Reservations {
            native_stack: (free / 8).clamp(MIN_NATIVE_STACK, u.native_stack),
            reg_slots: (free / 16 / 8).clamp(MIN_REG_SLOTS, u.reg_slots),
            max_frames: (free / 64 / FRAME_BYTES).clamp(MIN_FRAMES, u.max_frames),
            code_arena: (free / 32).clamp(MIN_CODE_ARENA, u.code_arena),
        }
    }

    /// The sizes for this process: [`Reservations::UNLIMITED`] unless an
    /// address-space limit is set, else scaled to the space it leaves free now.
    pub fn for_this_process() -> Reservations {
        match free_address_space() {
            Some(free) => Reservations::for_free_space(free),
            None => Reservations::UNLIMITED,
        }
    }
}

/// Bytes of address space this process may still map under `RLIMIT_AS` (and of
/// writable memory under `RLIMIT_DATA`); `None` when neither limit is set.
#[cfg(unix)]
pub fn free_address_space() -> Option<usize> {
    let as_limit = soft_limit(libc::RLIMIT_AS);
    let data_limit = soft_limit(libc::RLIMIT_DATA);
    if as_limit.is_none() && data_limit.is_none() {
        // The usual case: no file to read at start-up.
        return None;
    }
    let page = page_size();
    // `/proc/self/statm`: total and data+stack sizes, in pages.
    let statm = std::fs::read_to_string("/proc/self/statm").ok();
    let field = |i: usize| -> Option<usize> {
        let pages: usize = statm.as_deref()?.split_whitespace().nth(i)?.parse().ok()?;
        pages.checked_mul(page)
    };
    let free_under = |limit: Option<usize>, used: Option<usize>| -> Option<usize> {
        let limit = limit?;
        // Without /proc, assume half the limit is already used.
        Some(limit.saturating_sub(used.unwrap_or(limit / 2)))
    };
    let as_free = free_under(as_limit, field(0));
    let data_free = free_under(data_limit, field(5));
    match (as_free, data_free) {
        (Some(a), Some(d)) => Some(a.min(d)),
        (a, d) => a.or(d),
    }
}

#[cfg(not(unix))]
pub fn free_address_space() -> Option<usize> {
    None
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
type Resource = libc::c_int;

/// The soft limit of `resource`, `None` when unlimited.
#[cfg(unix)]
fn soft_limit(resource: Resource) -> Option<usize> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid `rlimit` to fill.
    if unsafe { libc::getrlimit(resource, &mut r) } != 0 || r.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    Some(usize::try_from(r.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(unix)]
fn page_size() -> usize {
    // SAFETY: a plain query.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_space_gets_the_default_sizes() {
        assert_eq!(Reservations::for_free_space(usize::MAX), Reservations::UNLIMITED);
    }

    #[test]
    fn a_limit_scales_every_reservation_to_about_a_quarter() {
        let free = 900 << 20;
        let r = Reservations::for_free_space(free);
        let total = r.native_stack + r.reg_slots * 8 + r.max_frames * FRAME_BYTES + r.code_arena;
        assert!(total <= free / 4, "{r:?}");
        assert!(r.max_frames >= DEFAULT_MAX_DEPTH, "{r:?}");
        assert!(r.reg_slots >= 1 << 22, "{r:?}");
    }

    #[test]
    fn a_refused_reservation_is_tried_at_half_the_size_down_to_the_minimum() {
        let mut tried = Vec::new();
        let fits_16 = halving(64, 8, |s| {
            tried.push(s);
            if s <= 16 {
                Ok(s)
            } else {
                Err(s)
            }
        });
        assert_eq!((fits_16, &tried[..]), (Ok(16), &[64, 32, 16][..]));
        tried.clear();
        let never = halving(64, 8, |s| {
            tried.push(s);
            Err::<(), _>(s)
        });
        assert_eq!((never, &tried[..]), (Err(8), &[64, 32, 16, 8][..]));
        assert_eq!(
            halving(5, 8, Err::<(), _>),
            Err(5),
            "at or below the minimum: one try"
        );
    }

    #[test]
    fn tiny_space_keeps_the_minimums() {
        let r = Reservations::for_free_space(0);
        assert_eq!(r.native_stack, MIN_NATIVE_STACK);
        assert_eq!(r.reg_slots, MIN_REG_SLOTS);
        assert_eq!(r.max_frames, MIN_FRAMES);
        assert_eq!(r.code_arena, MIN_CODE_ARENA);
    }

    #[test]
    fn frame_record_size_is_as_assumed() {
        assert_eq!(std::mem::size_of::<crate::vm::Frame>(), FRAME_BYTES);
    }
}
