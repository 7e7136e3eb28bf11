//! The foreign function interface: calling C functions declared with
//! `extern fn name(params) -> R from "lib" [as "sym"]` (LANGUAGE.md §11, docs/ffi.md).
//!
//! One [`FfiTable`] exists per program run. It holds the signatures of the program's
//! extern declarations (indexed by extern id, like `Program::externs`), opens each
//! library lazily on the first call of a function from it and caches library
//! handles and resolved symbol addresses. [`FfiTable::call`] marshals the argument
//! slots, calls the C function and converts the result into a value.
//!
//! # Library lookup
//! * `""`, `"libc"` and `"libc.so.6"` mean the running process: `dlopen(NULL)`,
//!   whose symbol scope is the executable and everything it links (libc, and libm
//!   when the executable links it). A symbol not found there is then looked up in
//!   `libm.so.6`, so `sqrt` or `cos` declared `from "libc"` work as in the original,
//!   whose executable always linked libm. The error, if both fail, is the one from
//!   the process lookup.
//! * Anything else is passed to `dlopen` as written (`RTLD_NOW | RTLD_LOCAL`): a name
//!   with a `/` is a path, relative to the current working directory; a bare name
//!   (`"libm.so.6"`) is searched for by the dynamic loader.
//! * Libraries are never closed: handles live until the process exits (a `ptr` or a
//!   string returned by C may point into the library, and unloading code that may
//!   have registered destructors or thread-local state is a classic source of
//!   crashes). `dlopen` counts references, so running many programs in one process
//!   opens each library once.
//! * Failures are runtime errors, i.e. catchable exceptions:
//!   `FFI: cannot load library '<lib>': <dlerror>` and
//!   `FFI: symbol '<symbol>' not found in '<lib>': <dlerror>`. Failures are not
//!   cached: the next call tries again.
//!
//! We call `dlopen`/`dlsym`/`dlerror` through the `libc` crate rather than using
//! `libloading`: we need exactly `dlopen(NULL)`, our own `RTLD_*` flags, the
//! `dlerror` text verbatim for the error messages, and handles that are never
//! closed (libloading's `Library` closes on drop, which we would have to defeat with
//! `mem::forget`). `libc` is already in the workspace, so this adds no dependency.
//!
//! # Marshalling
//! | declared | argument passed as | result read as |
//! |---|---|---|
//! | `float` | C `double` | `double` |
//! | `int`, `i64`, `u64` | 64-bit integer | the full 64-bit register |
//! | `i8 i16 i32 u8 u16 u32` ([`FfiType::I32`] etc.) | the value converted to that width (`as i32`), sign/zero-extended | the low bits of the register, sign/zero-extended |
//! | `bool` | 0 or 1 | C `bool`: the low 8 bits, non-zero is `true` |
//! | `str` | pointer to a NUL-terminated copy of the bytes, cut at the first NUL byte; `null` → `NULL` | `const char *` copied into a new string; `NULL` → `null` |
//! | `ptr` | the address held by a [`FfiPtr`] handle; `null` → `NULL` | a new [`FfiPtr`] handle; `NULL` → `null` |
//! | `void` | — | `null` |
//!
//! The copies of `str` arguments live until the result has been converted (a `str`
//! result may point into one, as `strchr`'s does); C must not keep the pointer.
//! Returned strings are copied and never freed (C keeps ownership). A `ptr`
//! argument that is not null and not a handle made by this module (a mutex, say) is
//! a runtime error.
//!
//! # The calling technique (no libffi)
//! On x86-64 System V (Linux, the BSDs, macOS) and AArch64 AAPCS64, arguments are
//! classified one by one: integer-class arguments (integers, `bool`, pointers) take
//! the next free general-purpose register and `double`s the next free vector
//! register, **independently of how the two classes interleave** in the parameter
//! list. So `double f(double a, int b, double c, int d)` receives `b, d` in the
//! first two integer registers and `a, c` in the first two float registers, exactly
//! as if it were declared `f(int b, int d, double a, double c)`.
//!
//! Therefore every supported C function can be called through one fixed function
//! type, `extern "C" fn(i64 × 8, f64 × 8) -> R`: the integer-class arguments go in
//! order into the first integer parameters (the rest are 0) and the `double`s in
//! order into the float parameters (the rest are 0.0). The callee reads the
//! registers it has parameters for and ignores the others. `R` is `f64` (read from
//! `xmm0`/`d0`) for `float` results and `i64` (`rax`/`x0`) for everything else,
//! including `void` (the value is ignored).
//!
//! Stack arguments: an argument that finds the registers of its class used up (the
//! 7th integer-class argument on x86-64, the 9th on AArch64, the 9th `double` on
//! both) goes to the next 8-byte word of the stack-argument area, in declaration
//! order, whatever its class. [`assign_slots`] classifies the parameters that way,
//! and the call passes the stack words as further `u64` parameters of the fixed
//! function type: `extern "C" fn(i64 × 8, f64 × 8, u64 × K) -> R` for the smallest
//! generated `K` that holds them (`ffi_call.rs`, generated by
//! `runtime/tools/gen_ffi_call.py`: K = 0, 8, 32 or 248). On x86-64 the 7th and 8th
//! integer parameters of that type are themselves the first two stack words, so the
//! first two stack words travel there. A callee reads the stack words it has
//! parameters for and ignores the others; the caller pops stack arguments, so
//! passing more than the callee expects is harmless.
//!
//! Consequently a declaration may have any mix of up to 255 parameters; beyond
//! [`MAX_STACK_WORDS`] stack words a call raises `FFI: too many arguments`. Apple's
//! AArch64 convention packs narrow stack arguments, so there a fixed-width parameter
//! narrower than 64 bits that goes to the stack raises an error. Not supported: variadic C functions (`printf`: their
//! calling convention differs — x86-64 needs `al` set, Apple AArch64 passes variadic
//! arguments on the stack), C `float` (32-bit) parameters or results, structs by
//! value, callbacks into BetterPython, `errno`. Other targets (Windows x64, whose
//! convention assigns registers by position, 32-bit targets) raise
//! `FFI: extern functions are not supported on this platform`.
//!
//! # Safety
//! Calling through the fixed function type trusts the `extern fn` declaration
//! completely, exactly like a C prototype: a declaration that does not match the
//! real function (wrong types, a variadic function, too few parameters) is
//! undefined behaviour, and a C function that crashes crashes the process. This is
//! inherent to an FFI without type information from the library.
//!
//! Panics in this module (a bug) are caught in [`FfiTable::call`] and turned into a
//! runtime error, so no unwinding crosses into VM or JIT-compiled frames. C code
//! cannot unwind into Rust either: the function type is `extern "C"`, so a C++
//! exception escaping the callee aborts the process.

use crate::ffi_call;
use crate::heap::{as_opaque, obj_kind, str_bytes, ObjKind};
use crate::rt::{Rt, RtError, RtResult};
use crate::value::Value;
use std::collections::HashMap;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// How an extern argument or result is marshalled (see the table in the module
/// docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FfiType {
    /// `int`, `i64`, `u64`: a 64-bit integer.
    Int,
    /// `float`: a C `double`.
    Float,
    /// `bool`: a C `bool` (`_Bool`).
    Bool,
    /// `str`: `const char *`.
    Str,
    /// `ptr` (and, defensively, any other reference type): a raw pointer.
    Ptr,
    /// `void` (results only).
    Void,
    /// Fixed-width integer types narrower than 64 bits (LANGUAGE.md §4.14):
    /// arguments are converted to the width, results read from the low bits and
    /// sign- or zero-extended to `int`. See [`FfiType::fixed`].
    I8,
    I16,
    I32,
    U8,
    U16,
    U32,
}

impl FfiType {
    /// The marshalling of a fixed-width integer type by its name (`"i32"`, ...).
    /// `i64` and `u64` are plain [`FfiType::Int`]; an unknown name is `Int` too.
    pub fn fixed(name: &str) -> FfiType {
        match name {
            "i8" => FfiType::I8,
            "i16" => FfiType::I16,
            "i32" => FfiType::I32,
            "u8" => FfiType::U8,
            "u16" => FfiType::U16,
            "u32" => FfiType::U32,
            _ => FfiType::Int,
        }
    }

    /// True for the types passed in floating-point registers.
    fn is_float(self) -> bool {
        self == FfiType::Float
    }

    /// Convert a 64-bit integer to this (integer) type's width and back, the way C
    /// converts an argument to a narrower parameter type or reads a narrow result.
    fn narrow(self, x: i64) -> i64 {
        match self {
            FfiType::I8 => x as i8 as i64,
            FfiType::I16 => x as i16 as i64,
            FfiType::I32 => x as i32 as i64,
            FfiType::U8 => x as u8 as i64,
            FfiType::U16 => x as u16 as i64,
            FfiType::U32 => x as u32 as i64,
            _ => x,
        }
    }
}

/// The signature of one `extern fn` declaration. Field for field the same as
/// `bytecode::ExternDef`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternSig {
    /// The BetterPython name (possibly module-qualified), used in error messages.
    pub name: String,
    /// The library as written in the declaration (`""`, `"libc"`, a path, ...).
    pub library: String,
    /// The C symbol (`as "sym"`, or the declared name).
    pub symbol: String,
    pub params: Vec<FfiType>,
    pub ret: FfiType,
}

/// The payload of the opaque heap object that represents a C pointer (`ptr`)
/// returned by an extern function. Null pointers are never wrapped: they are the
/// null value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FfiPtr(pub usize);

/// The C address held by a `ptr` value, if it is a handle made by the FFI
/// (`Some(0)` for null). `None` for other opaque objects (mutexes, ...).
///
/// # Safety
/// `v` must be null or a live object (a value of type `ptr`), not bits forged
/// from an int.
pub unsafe fn ffi_ptr_addr(v: Value) -> Option<usize> {
    if v.is_null() {
        return Some(0);
    }
    if obj_kind(v) != ObjKind::Opaque {
        return None;
    }
    as_opaque(v).payload.downcast_ref::<FfiPtr>().map(|p| p.0)
}

/// Integer-class and float arguments passed in registers by the C calling
/// convention (System V x86-64: 6 and 8; AArch64: 8 and 8).
#[cfg(target_arch = "x86_64")]
const INT_REGS: usize = 6;
#[cfg(not(target_arch = "x86_64"))]
const INT_REGS: usize = 8;
const FLOAT_REGS: usize = 8;
/// Most stack words a call passes: those of the largest generated function type,
/// and on x86-64 the two integer parameters of the fixed type that are on the stack.
pub const MAX_STACK_WORDS: usize = ffi_call::TIERS[ffi_call::TIERS.len() - 1] + (8 - INT_REGS);

/// Where an argument goes: an integer or float register parameter of the fixed
/// function type, or the `n`th word of the stack-argument area.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Int(u8),
    Float(u8),
    Stack(u16),
}

/// Assign argument slots as the C calling convention does: integer-class
/// arguments to the integer registers and `double`s to the float registers in
/// order, and every argument that finds its registers used up to the next stack
/// word, in declaration order. `None` if more than [`MAX_STACK_WORDS`] spill.
fn assign_slots(params: &[FfiType]) -> Option<Vec<Slot>> {
    let (mut ints, mut floats, mut stack) = (0usize, 0usize, 0usize);
    let mut slots = Vec::with_capacity(params.len());
    for t in params {
        let slot = match t.is_float() {
            true if floats < FLOAT_REGS => {
                floats += 1;
                Slot::Float(floats as u8 - 1)
            }
            false if ints < INT_REGS => {
                ints += 1;
                Slot::Int(ints as u8 - 1)
            }
            _ => {
                stack += 1;
                Slot::Stack(stack as u16 - 1)
            }
        };
        slots.push(slot);
    }
    (stack <= MAX_STACK_WORDS).then_some(slots)
}

/// Whether a parameter of type `t` in slot `slot` can be passed: Apple's AArch64
/// convention gives stack arguments their natural size (not 8 bytes).
fn slot_supported(t: FfiType, slot: Slot) -> bool {
    let narrow = matches!(
        t,
        FfiType::I8 | FfiType::I16 | FfiType::I32 | FfiType::U8 | FfiType::U16 | FfiType::U32 | FfiType::Bool
    );
    !(cfg!(all(target_arch = "aarch64", target_vendor = "apple")) && narrow && matches!(slot, Slot::Stack(_)))
}

struct Entry {
    sig: ExternSig,
    /// `None`: too many arguments to call.
    slots: Option<Vec<Slot>>,
    /// The resolved function address, after the first successful call.
    addr: Option<usize>,
}

/// The extern functions of one program run: signatures, opened libraries and
/// resolved symbols.
///
/// Library handles and function addresses are stored as plain integers: they are
/// process-wide and valid on any thread, so the table is `Send + Sync`.
pub struct FfiTable {
    entries: Vec<Entry>,
    /// Opened libraries by name as written; the running process is under
    /// [`PROCESS`].
    libs: HashMap<String, usize>,
    /// Searched for symbols the process does not export ([`LIBM`]; tests change it).
    process_fallback: String,
}

/// The key of the running process in [`FfiTable::libs`] (no library file has an
/// empty name).
const PROCESS: &str = "";
/// Where math functions declared `from "libc"` are looked up if the process does
/// not export them.
const LIBM: &str = "libm.so.6";

/// True for the library names that mean "the running process".
fn is_process(lib: &str) -> bool {
    matches!(lib, "" | "libc" | "libc.so.6")
}

impl FfiTable {
    /// A table for the given extern declarations, indexed by extern id. Nothing is
    /// opened until the first call.
    pub fn new(sigs: Vec<ExternSig>) -> FfiTable {
        FfiTable {
            entries: sigs
                .into_iter()
                .map(|sig| Entry {
                    slots: assign_slots(&sig.params),
                    sig,
                    addr: None,
                })
                .collect(),
            libs: HashMap::new(),
            process_fallback: LIBM.to_string(),
        }
    }

    /// Number of extern functions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The signature of extern `id`.
    pub fn sig(&self, id: u32) -> Option<&ExternSig> {
        self.entries.get(id as usize).map(|e| &e.sig)
    }

    /// Call extern function `id` with the argument slots `args` (one per declared
    /// parameter, in order). Returns the result slot (`Value::NULL` for `void`), or
    /// a runtime error (library or symbol not found, too many arguments, a `ptr`
    /// argument that is not an FFI pointer). Allocates at most one object (the
    /// result) and never collects.
    ///
    /// # Safety
    /// `args` must match the declared parameter types (as the type checker
    /// guarantees for a call of the extern): a `str` or `ptr` argument is null or a
    /// live object, not bits forged from an int.
    pub unsafe fn call(&mut self, rt: &mut Rt, id: u32, args: &[Value]) -> RtResult {
        match catch_unwind(AssertUnwindSafe(|| self.call_inner(rt, id, args))) {
            Ok(r) => r,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string());
                let name = self.sig(id).map(|s| s.name.as_str()).unwrap_or("?");
                Err(RtError::msg(format!(
                    "FFI: internal error calling '{name}': {what}"
                )))
            }
        }
    }

    /// # Safety
    /// As [`FfiTable::call`].
    unsafe fn call_inner(&mut self, rt: &mut Rt, id: u32, args: &[Value]) -> RtResult {
        let idx = id as usize;
        let Some(entry) = self.entries.get(idx) else {
            return Err(RtError::msg(format!("FFI: no extern function #{id}")));
        };
        let name = &entry.sig.name;
        if entry.slots.is_none() {
            return Err(RtError::msg(format!(
                "FFI: too many arguments for '{name}' (at most {MAX_STACK_WORDS} of them beyond the {INT_REGS} integer and {FLOAT_REGS} float register arguments)"
            )));
        }
        if args.len() != entry.sig.params.len() {
            return Err(RtError::msg(format!(
                "FFI: '{name}' takes {} arguments, got {}",
                entry.sig.params.len(),
                args.len()
            )));
        }
        let addr = match entry.addr {
            Some(a) => a,
            None => {
                let a = self.resolve(idx)?;
                self.entries[idx].addr = Some(a);
                a
            }
        };
        let entry = &self.entries[idx];
        let name = &entry.sig.name;
        let slots = entry.slots.as_deref().unwrap_or_default();

        let mut ints = [0i64; 8];
        let mut floats = [0f64; 8];
        let mut stack = [0u64; MAX_STACK_WORDS];
        let mut stack_words = 0usize;
        // Copies of the `str` arguments; the pointers passed stay valid while these
        // are alive (a CString's buffer does not move when the CString does).
        let mut strs: Vec<CString> = Vec::new();
        for (i, ((t, slot), v)) in entry.sig.params.iter().zip(slots).zip(args).enumerate() {
            if !slot_supported(*t, *slot) {
                return Err(RtError::msg(format!(
                    "FFI: argument {} of '{name}' is a fixed-width integer narrower than 64 bits passed on the stack, which this platform's convention packs; declare it int",
                    i + 1
                )));
            }
            match *slot {
                Slot::Float(k) => floats[k as usize] = v.as_float(),
                Slot::Stack(k) if t.is_float() => {
                    stack[k as usize] = v.as_float().to_bits();
                    stack_words = stack_words.max(k as usize + 1);
                }
                Slot::Int(_) | Slot::Stack(_) => {
                    let word = match t {
                        FfiType::Str => {
                            if v.is_null() {
                                0
                            } else {
                                let bytes = str_bytes(*v);
                                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                                let c = CString::new(&bytes[..end])
                                    .map_err(|e| RtError::msg(format!("FFI: internal error: {e}")))?;
                                let p = c.as_ptr() as i64;
                                strs.push(c);
                                p
                            }
                        }
                        FfiType::Ptr => match ffi_ptr_addr(*v) {
                            Some(a) => a as i64,
                            None => {
                                return Err(RtError::msg(format!(
                                    "FFI: argument {} of '{name}' is not a pointer from an extern function",
                                    i + 1
                                )))
                            }
                        },
                        FfiType::Bool => v.as_bool() as i64,
                        other => other.narrow(v.as_int()),
                    };
                    match *slot {
                        Slot::Int(k) => ints[k as usize] = word,
                        Slot::Stack(k) => {
                            stack[k as usize] = word as u64;
                            stack_words = stack_words.max(k as usize + 1);
                        }
                        Slot::Float(_) => {}
                    }
                }
            }
        }

        let ret = entry.sig.ret;
        // SAFETY: `addr` is a function symbol resolved by `dlsym`; the declaration
        // says it takes the arguments we place in the slots (module docs: "The
        // calling technique" and "Safety"). The `str` copies in `strs` outlive the
        // call.
        let raw = unsafe { call_raw(addr, &ints, &floats, &stack[..stack_words], ret.is_float()) }?;

        let result = match ret {
            FfiType::Void => Value::NULL,
            FfiType::Float => Value::float(f64::from_bits(raw)),
            FfiType::Bool => Value::bool(raw as u8 != 0),
            FfiType::Str => {
                if raw == 0 {
                    Value::NULL
                } else {
                    // SAFETY: the declaration says the function returns a
                    // NUL-terminated `const char *`, valid at least until we copy it
                    // here. It may point into a `str` argument (`strchr`), so the
                    // copies in `strs` are still alive.
                    let bytes = unsafe { CStr::from_ptr(raw as usize as *const c_char) }.to_bytes();
                    rt.str(bytes)
                }
            }
            FfiType::Ptr => {
                if raw == 0 {
                    Value::NULL
                } else {
                    rt.heap.alloc_opaque(std::sync::Arc::new(FfiPtr(raw as usize)))
                }
            }
            other => Value::int(other.narrow(raw as i64)),
        };
        // Only now: a returned `const char *` may point into an argument copy.
        drop(strs);
        Ok(result)
    }

    /// Open the library of extern `idx` (cached) and look up its symbol.
    fn resolve(&mut self, idx: usize) -> Result<usize, RtError> {
        let lib = self.entries[idx].sig.library.clone();
        let sym = self.entries[idx].sig.symbol.clone();
        let not_found = |e: String| RtError::msg(format!("FFI: symbol '{sym}' not found in '{lib}': {e}"));
        if is_process(&lib) {
            let h = self.open(PROCESS, None)?;
            match sys::sym(h, &sym) {
                Ok(a) => Ok(a),
                Err(first) => {
                    // libm may not be linked into this executable (see the docs).
                    let fallback = self.process_fallback.clone();
                    match self.open(&fallback, Some(&fallback)) {
                        Ok(m) => sys::sym(m, &sym).map_err(|_| not_found(first)),
                        Err(_) => Err(not_found(first)),
                    }
                }
            }
        } else {
            let h = self.open(&lib, Some(&lib))?;
            sys::sym(h, &sym).map_err(not_found)
        }
    }

    /// The handle of library `key` (cached); `path` is what to pass to `dlopen`
    /// (`None` for the running process).
    fn open(&mut self, key: &str, path: Option<&str>) -> Result<usize, RtError> {
        if let Some(&h) = self.libs.get(key) {
            return Ok(h);
        }
        let h = sys::open(path)
            .map_err(|e| RtError::msg(format!("FFI: cannot load library '{}': {e}", path.unwrap_or(key))))?;
        self.libs.insert(key.to_string(), h);
        Ok(h)
    }
}

/// Call the function at `addr` with the fixed argument list and return the raw
/// result bits (an `i64`, or an `f64`'s bits when `float_ret`). `stack` holds the
/// words of the C stack-argument area in order.
///
/// The fixed function types have eight integer parameters; on x86-64 the last two
/// of them are already the first two stack words, so those words travel there.
///
/// # Safety
/// `addr` must be a C function whose register parameters are (a prefix of)
/// `ints` and `floats` and whose stack parameters are (a prefix of) `stack`, and
/// whose result is a `double` if `float_ret`, else an integer, pointer or `void`.
#[cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn call_raw(
    addr: usize,
    ints: &[i64; 8],
    floats: &[f64; 8],
    stack: &[u64],
    float_ret: bool,
) -> Result<u64, RtError> {
    let mut ints = *ints;
    let leading = (8 - INT_REGS).min(stack.len());
    for (k, w) in stack[..leading].iter().enumerate() {
        ints[INT_REGS + k] = *w as i64;
    }
    let rest = &stack[leading..];
    let Some(&tier) = ffi_call::TIERS.iter().find(|&&t| t >= rest.len()) else {
        return Err(RtError::msg("FFI: too many stack arguments"));
    };
    macro_rules! call_tier {
        ($($k:literal => $f:ident),*) => {
            match tier {
                $($k => {
                    let mut words = [0u64; $k];
                    words[..rest.len()].copy_from_slice(rest);
                    // SAFETY: the caller's contract: the function is compatible with
                    // these arguments and returns a `double` if `float_ret`.
                    unsafe {
                        if float_ret {
                            ffi_call::$f::<f64>(addr, &ints, floats, &words).to_bits()
                        } else {
                            ffi_call::$f::<i64>(addr, &ints, floats, &words) as u64
                        }
                    }
                })*
                _ => return Err(RtError::msg("FFI: internal error: no call tier")),
            }
        };
    }
    Ok(call_tier!(0 => call_stack_0, 8 => call_stack_8, 32 => call_stack_32, 248 => call_stack_248))
}

#[cfg(not(all(unix, any(target_arch = "x86_64", target_arch = "aarch64"))))]
unsafe fn call_raw(
    _addr: usize,
    _ints: &[i64; 8],
    _floats: &[f64; 8],
    _stack: &[u64],
    _float_ret: bool,
) -> Result<u64, RtError> {
    Err(RtError::msg(
        "FFI: extern functions are not supported on this platform",
    ))
}

/// `dlopen` and `dlsym`, returning the `dlerror` text on failure.
#[cfg(unix)]
mod sys {
    use std::ffi::{c_void, CStr, CString};

    /// The text of the last `dlerror`, if any.
    fn last_error() -> Option<String> {
        // SAFETY: `dlerror` returns null or a NUL-terminated message that stays
        // valid until the next dl* call on this thread; we copy it at once.
        unsafe {
            let e = libc::dlerror();
            if e.is_null() {
                None
            } else {
                Some(CStr::from_ptr(e).to_string_lossy().into_owned())
            }
        }
    }

    /// Open a library (`None`: the running process). Never closed.
    pub fn open(path: Option<&str>) -> Result<usize, String> {
        let c = match path {
            Some(p) => Some(CString::new(p).map_err(|_| "library name contains a NUL byte".to_string())?),
            None => None,
        };
        let p = c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: `p` is null or a NUL-terminated string alive for the call. Loading
        // a library runs its initialisers: trusting the library is what `extern fn
        // ... from` asks for.
        let h = unsafe {
            libc::dlerror();
            libc::dlopen(p, libc::RTLD_NOW | libc::RTLD_LOCAL)
        };
        if h.is_null() {
            Err(last_error().unwrap_or_else(|| "unknown error".to_string()))
        } else {
            Ok(h as usize)
        }
    }

    /// Look up a symbol; a symbol whose address is null counts as missing (calling
    /// it would crash).
    pub fn sym(handle: usize, name: &str) -> Result<usize, String> {
        let c = CString::new(name).map_err(|_| "symbol name contains a NUL byte".to_string())?;
        // SAFETY: `handle` came from a successful `dlopen` and is never closed; `c`
        // is NUL-terminated and alive for the call.
        let p = unsafe {
            libc::dlerror();
            libc::dlsym(handle as *mut c_void, c.as_ptr())
        };
        if p.is_null() {
            Err(last_error().unwrap_or_else(|| format!("{name}: symbol has a null address")))
        } else {
            Ok(p as usize)
        }
    }
}

#[cfg(not(unix))]
mod sys {
    pub fn open(_path: Option<&str>) -> Result<usize, String> {
        Err("dynamic libraries are not supported on this platform".to_string())
    }
    pub fn sym(_handle: usize, _name: &str) -> Result<usize, String> {
        Err("dynamic libraries are not supported on this platform".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::Heap;

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read.

    fn rt() -> Rt {
        Rt::new(Heap::new(false), vec![])
    }

    fn sig(name: &str, library: &str, symbol: &str, params: &[FfiType], ret: FfiType) -> ExternSig {
        ExternSig {
            name: name.to_string(),
            library: library.to_string(),
            symbol: symbol.to_string(),
            params: params.to_vec(),
            ret,
        }
    }

    use FfiType::{Bool, Float, Int, Ptr, Str, Void};

    #[test]
    fn ffi_libc_functions() {
        let mut rt = rt();
        let mut t = FfiTable::new(vec![
            sig("c_strlen", "libc.so.6", "strlen", &[Str], Int),
            sig("abs_c", "libc", "abs", &[Int], Int),
            sig("atoi", "", "atoi", &[Str], Int),
            sig("atoi32", "libc", "atoi", &[Str], FfiType::I32),
        ]);
        let hello = rt.str(&b"hello"[..]);
        let empty = rt.str(&b""[..]);
        let nul = rt.str(&b"ab\0cd"[..]);
        assert_eq!(unsafe { t.call(&mut rt, 0, &[hello]) }, Ok(Value::int(5)));
        assert_eq!(unsafe { t.call(&mut rt, 0, &[empty]) }, Ok(Value::int(0)));
        // Interior NUL: C sees the bytes up to the first NUL.
        assert_eq!(unsafe { t.call(&mut rt, 0, &[nul]) }, Ok(Value::int(2)));
        assert_eq!(
            unsafe { t.call(&mut rt, 1, &[Value::int(-42)]) },
            Ok(Value::int(42))
        );
        let num = rt.str(&b"123xyz"[..]);
        assert_eq!(unsafe { t.call(&mut rt, 2, &[num]) }, Ok(Value::int(123)));
        let neg = rt.str(&b"-42"[..]);
        assert_eq!(unsafe { t.call(&mut rt, 3, &[neg]) }, Ok(Value::int(-42)));
    }

    #[test]
    fn ffi_libm_functions() {
        let mut rt = rt();
        let mut t = FfiTable::new(vec![
            sig("sqrt_c", "libm.so.6", "sqrt", &[Float], Float),
            sig("cos_c", "libm.so.6", "cos", &[Float], Float),
            sig("pow_c", "libm.so.6", "pow", &[Float, Float], Float),
            sig("floor_c", "libm.so.6", "floor", &[Float], Float),
            // Math from "libc": found in the process or, failing that, in libm.
            sig("sqrt", "libc", "sqrt", &[Float], Float),
            sig("cos", "", "cos", &[Float], Float),
            // Mixed (float, int).
            sig("ldexp", "libm.so.6", "ldexp", &[Float, Int], Float),
        ]);
        let f = |x: f64| Value::float(x);
        assert_eq!(unsafe { t.call(&mut rt, 0, &[f(2.0)]) }, Ok(f(2f64.sqrt())));
        assert_eq!(unsafe { t.call(&mut rt, 1, &[f(0.0)]) }, Ok(f(1.0)));
        assert_eq!(unsafe { t.call(&mut rt, 2, &[f(2.0), f(10.0)]) }, Ok(f(1024.0)));
        assert_eq!(unsafe { t.call(&mut rt, 3, &[f(-2.5)]) }, Ok(f(-3.0)));
        assert_eq!(unsafe { t.call(&mut rt, 4, &[f(16.0)]) }, Ok(f(4.0)));
        assert_eq!(unsafe { t.call(&mut rt, 5, &[f(0.0)]) }, Ok(f(1.0)));
        assert_eq!(
            unsafe { t.call(&mut rt, 6, &[f(1.5), Value::int(3)]) },
            Ok(f(12.0))
        );
    }

    fn err_text(r: RtResult) -> String {
        match r {
            Err(RtError::Error(m)) => m,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn ffi_load_and_symbol_errors() {
        let mut rt = rt();
        let mut t = FfiTable::new(vec![
            sig("f", "libbp_no_such_library.so", "f", &[], Int),
            sig("g", "libc", "bp_no_such_symbol", &[], Int),
            sig("h", "libm.so.6", "bp_no_such_symbol", &[], Int),
            sig("k", "./no/such/dir/libx.so", "k", &[], Void),
        ]);
        assert_eq!(
            err_text(unsafe { t.call(&mut rt, 0, &[]) }),
            "FFI: cannot load library 'libbp_no_such_library.so': \
             libbp_no_such_library.so: cannot open shared object file: No such file or directory"
        );
        // Not cached: the second call fails the same way.
        assert!(err_text(unsafe { t.call(&mut rt, 0, &[]) }).starts_with("FFI: cannot load library"));
        let e = err_text(unsafe { t.call(&mut rt, 1, &[]) });
        assert!(
            e.starts_with("FFI: symbol 'bp_no_such_symbol' not found in 'libc': "),
            "{e}"
        );
        assert!(e.contains("undefined symbol: bp_no_such_symbol"), "{e}");
        let e = err_text(unsafe { t.call(&mut rt, 2, &[]) });
        assert!(
            e.starts_with("FFI: symbol 'bp_no_such_symbol' not found in 'libm.so.6': "),
            "{e}"
        );
        assert_eq!(
            err_text(unsafe { t.call(&mut rt, 3, &[]) }),
            "FFI: cannot load library './no/such/dir/libx.so': \
             ./no/such/dir/libx.so: cannot open shared object file: No such file or directory"
        );
    }

    #[test]
    fn ffi_argument_errors() {
        let mut rt = rt();
        let mut t = FfiTable::new(vec![
            sig("many", "libc", "abs", &[Int; 300], Int),
            sig("many_f", "libc", "abs", &[Float; 300], Int),
            sig("eight_each", "libc", "abs", &[[Int, Float]; 8].concat(), Int),
            sig("free_c", "libc", "free", &[Ptr], Void),
        ]);
        let regs = format!(
            "at most {MAX_STACK_WORDS} of them beyond the {INT_REGS} integer and 8 float register arguments"
        );
        assert_eq!(
            err_text(unsafe { t.call(&mut rt, 0, &[Value::int(1); 300]) }),
            format!("FFI: too many arguments for 'many' ({regs})")
        );
        assert_eq!(
            err_text(unsafe { t.call(&mut rt, 1, &[Value::float(1.0); 300]) }),
            format!("FFI: too many arguments for 'many_f' ({regs})")
        );
        let mut args = vec![];
        for i in 0..8 {
            args.push(Value::int(-i));
            args.push(Value::float(0.5));
        }
        // abs reads the first integer argument only.
        assert_eq!(unsafe { t.call(&mut rt, 2, &args) }, Ok(Value::int(0)));
        // A mutex-like opaque object is not an FFI pointer; a string is not either.
        let other = rt.heap.alloc_opaque(std::sync::Arc::new(5u32));
        assert_eq!(
            err_text(unsafe { t.call(&mut rt, 3, &[other]) }),
            "FFI: argument 1 of 'free_c' is not a pointer from an extern function"
        );
        let s = rt.str(&b"x"[..]);
        assert!(err_text(unsafe { t.call(&mut rt, 3, &[s]) }).contains("is not a pointer"));
        // free(NULL) is fine.
        assert_eq!(unsafe { t.call(&mut rt, 3, &[Value::NULL]) }, Ok(Value::NULL));
        assert!(err_text(unsafe { t.call(&mut rt, 3, &[]) }).contains("takes 1 arguments, got 0"));
        assert!(err_text(unsafe { t.call(&mut rt, 9, &[]) }).contains("no extern function"));
    }

    #[test]
    fn ffi_libc_pointers_and_strings() {
        let mut rt = rt();
        let mut t = FfiTable::new(vec![
            sig("malloc", "libc", "malloc", &[Int], Ptr),
            sig("memset", "libc", "memset", &[Ptr, Int, Int], Ptr),
            // strstr(p, "") is p: read a C buffer back as a string.
            sig("ptr_text", "libc", "strstr", &[Ptr, Str], Str),
            sig("free", "libc", "free", &[Ptr], Void),
            sig("getenv", "libc", "getenv", &[Str], Str),
            sig("strchr", "libc", "strchr", &[Str, Int], Str),
            sig("toupper", "libc", "toupper", &[Int], Int),
        ]);
        let p = unsafe { t.call(&mut rt, 0, &[Value::int(8)]) }.unwrap();
        assert!(!p.is_null());
        let addr = unsafe { ffi_ptr_addr(p) }.unwrap();
        assert_ne!(addr, 0);
        let q = unsafe { t.call(&mut rt, 1, &[p, Value::int(0), Value::int(8)]) }.unwrap();
        let q = unsafe { t.call(&mut rt, 1, &[q, Value::int(b'z' as i64), Value::int(3)]) }.unwrap();
        // memset returns its argument, wrapped in a new handle.
        assert_eq!(unsafe { ffi_ptr_addr(q) }, Some(addr));
        let empty = rt.str(&b""[..]);
        let s = unsafe { t.call(&mut rt, 2, &[q, empty]) }.unwrap();
        assert_eq!(unsafe { str_bytes(s) }, b"zzz");
        assert_eq!(unsafe { t.call(&mut rt, 3, &[p]) }, Ok(Value::NULL));
        let unset = rt.str(&b"BP_FFI_TEST_SURELY_UNSET_VARIABLE"[..]);
        assert_eq!(unsafe { t.call(&mut rt, 4, &[unset]) }, Ok(Value::NULL));
        let hello = rt.str(&b"hello"[..]);
        let s = unsafe { t.call(&mut rt, 5, &[hello, Value::int(b'l' as i64)]) }.unwrap();
        assert_eq!(unsafe { str_bytes(s) }, b"llo");
        assert_eq!(
            unsafe { t.call(&mut rt, 5, &[hello, Value::int(b'q' as i64)]) },
            Ok(Value::NULL)
        );
        assert_eq!(
            unsafe { t.call(&mut rt, 6, &[Value::int(97)]) },
            Ok(Value::int(65))
        );
    }

    #[test]
    fn ffi_fixed_width_narrowing() {
        assert_eq!(FfiType::fixed("i32"), FfiType::I32);
        assert_eq!(FfiType::fixed("u64"), FfiType::Int);
        assert_eq!(FfiType::I8.narrow(200), -56);
        assert_eq!(FfiType::U8.narrow(-1), 255);
        assert_eq!(FfiType::I16.narrow(40000), -25536);
        assert_eq!(FfiType::U16.narrow(-1), 65535);
        assert_eq!(FfiType::U32.narrow(-1), 4294967295);
        assert_eq!(FfiType::Int.narrow(-1), -1);
    }

    /// Build `tests/ffi/mylib.c` into a fresh temporary directory; `None` (with a
    /// message) when no C compiler is available.
    fn build_mylib() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ffi/mylib.c");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("bp-ffi-test-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let lib = dir.join("libmylib.so");
        // The target's C compiler when cross-testing (scripts/test-aarch64.sh sets
        // `CC_aarch64_unknown_linux_gnu`, the `cc` crate's convention), else `cc`.
        let cc = std::env::var(format!("CC_{}_unknown_linux_gnu", std::env::consts::ARCH))
            .unwrap_or_else(|_| "cc".to_string());
        let out = std::process::Command::new(&cc)
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&lib)
            .arg(&src)
            .output();
        match out {
            Ok(o) if o.status.success() => Some((dir, lib)),
            Ok(o) => panic!(
                "cc failed to build {}: {}",
                src.display(),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => {
                eprintln!("skipping the custom-library FFI test: cannot run {cc}: {e}");
                let _ = std::fs::remove_dir_all(&dir);
                None
            }
        }
    }

    #[test]
    fn ffi_custom_library() {
        let Some((dir, lib)) = build_mylib() else { return };
        let l = lib.to_str().expect("utf-8 temp path");
        use FfiType::{I32, I8, U8};
        let names: &[(&str, &[FfiType], FfiType)] = &[
            ("add_ints", &[Int, Int], Int),                // 0
            ("add_doubles", &[Float, Float], Float),       // 1
            ("half", &[Float], Float),                     // 2
            ("count_vowels", &[Str], Int),                 // 3
            ("greeting", &[], Str),                        // 4
            ("no_string", &[], Str),                       // 5
            ("mix4", &[Float, Int, Float, Int], Float),    // 6
            ("sum8", &[Int; 8], Int),                      // 7
            ("mix16", &[[Int, Float]; 8].concat(), Float), // 8
            ("get_point", &[], Ptr),                       // 9
            ("point_sum", &[Ptr], Int),                    // 10
            ("point_set", &[Ptr, Int, Int], Void),         // 11
            ("null_ptr", &[], Ptr),                        // 12
            ("counter_add", &[Int], Void),                 // 13
            ("counter_get", &[], Int),                     // 14
            ("negate", &[I32], I32),                       // 15
            ("is_positive", &[Int], Bool),                 // 16
            ("low_byte", &[Int], U8),                      // 17
            ("as_schar", &[Int], I8),                      // 18
            ("bool_not", &[Bool], Bool),                   // 19
            ("ratio", &[Int, Int], Float),                 // 20
            ("byte_len", &[Str], Int),                     // 21
        ];
        let mixed30: Vec<FfiType> = [[Int, Float]; 15].concat();
        let ints20: Vec<FfiType> = [[Int, I32]; 10].concat();
        let mut sigs: Vec<ExternSig> = names.iter().map(|(n, p, r)| sig(n, l, n, p, *r)).collect();
        sigs.push(sig("renamed", l, "add_ints", &[Int, Int], Int)); // 22
        sigs.push(sig("missing", l, "bp_not_in_mylib", &[], Int)); // 23
        sigs.push(sig("mixed30", l, "mixed30", &mixed30, Float)); // 24
        sigs.push(sig("ints20", l, "ints20", &ints20, Int)); // 25
        let mut t = FfiTable::new(sigs);
        let mut rt = rt();
        let (i, f) = (Value::int, Value::float);

        assert_eq!(unsafe { t.call(&mut rt, 0, &[i(2), i(40)]) }, Ok(i(42)));
        assert_eq!(unsafe { t.call(&mut rt, 1, &[f(1.25), f(2.5)]) }, Ok(f(3.75)));
        assert_eq!(unsafe { t.call(&mut rt, 2, &[f(7.0)]) }, Ok(f(3.5)));
        let s = rt.str(&b"Programming in C"[..]);
        assert_eq!(unsafe { t.call(&mut rt, 3, &[s]) }, Ok(i(4)));
        let g = unsafe { t.call(&mut rt, 4, &[]) }.unwrap();
        assert_eq!(unsafe { str_bytes(g) }, b"hello from mylib");
        assert_eq!(unsafe { t.call(&mut rt, 5, &[]) }, Ok(Value::NULL));
        // a + 10 b + 100 c + 1000 d
        assert_eq!(
            unsafe { t.call(&mut rt, 6, &[f(0.5), i(2), f(3.0), i(4)]) },
            Ok(f(4320.5))
        );
        // Positions 7 and 8 are on the stack on x86-64.
        let args: Vec<Value> = (1..=8).map(|k| i(k * 10)).collect();
        let expect: i64 = (1..=8).map(|k| k * k * 10).sum();
        assert_eq!(unsafe { t.call(&mut rt, 7, &args) }, Ok(i(expect)));
        let mut args = vec![];
        for k in 1..=8 {
            args.push(i(k));
            args.push(f(k as f64));
        }
        let weighted: i64 = (1..=8).map(|k| k * k).sum();
        assert_eq!(
            unsafe { t.call(&mut rt, 8, &args) },
            Ok(f(weighted as f64 + weighted as f64 / 1000.0))
        );

        // Beyond the argument registers: 15 ints and 15 doubles interleaved, and 20
        // integer-class arguments of two widths.
        let mut args = vec![];
        let mut want = 0.0;
        for k in 1..=15i64 {
            args.push(i(k * 3 - 20));
            args.push(f(k as f64 * 1.5));
            want += ((k * 3 - 20) * k) as f64 + (k as f64 * 1.5) * k as f64 / 1000.0;
        }
        assert_eq!(unsafe { t.call(&mut rt, 24, &args) }, Ok(f(want)));
        let args: Vec<Value> = (1..=20).map(|k| i(k * 7 - 50)).collect();
        let want: i64 = (1..=20).map(|k| (k * 7 - 50) * k).sum();
        assert_eq!(unsafe { t.call(&mut rt, 25, &args) }, Ok(i(want)));

        // ptr round trip.
        let p = unsafe { t.call(&mut rt, 9, &[]) }.unwrap();
        assert!(!p.is_null());
        assert_eq!(unsafe { t.call(&mut rt, 10, &[p]) }, Ok(i(7)));
        assert_eq!(
            unsafe { t.call(&mut rt, 11, &[p, i(10), i(-3)]) },
            Ok(Value::NULL)
        );
        let p2 = unsafe { t.call(&mut rt, 9, &[]) }.unwrap();
        assert_eq!(unsafe { ffi_ptr_addr(p2) }, unsafe { ffi_ptr_addr(p) });
        assert_eq!(unsafe { t.call(&mut rt, 10, &[p2]) }, Ok(i(7)));
        assert_eq!(unsafe { t.call(&mut rt, 12, &[]) }, Ok(Value::NULL));
        assert_eq!(unsafe { t.call(&mut rt, 10, &[Value::NULL]) }, Ok(i(-1)));

        assert_eq!(unsafe { t.call(&mut rt, 13, &[i(5)]) }, Ok(Value::NULL));
        assert_eq!(unsafe { t.call(&mut rt, 13, &[i(6)]) }, Ok(Value::NULL));
        assert_eq!(unsafe { t.call(&mut rt, 14, &[]) }, Ok(i(11)));

        assert_eq!(unsafe { t.call(&mut rt, 15, &[i(42)]) }, Ok(i(-42)));
        assert_eq!(unsafe { t.call(&mut rt, 15, &[i(-7)]) }, Ok(i(7)));
        for (x, want) in [(5, true), (-5, false), (0, false), (1 << 40, true)] {
            assert_eq!(
                unsafe { t.call(&mut rt, 16, &[i(x)]) },
                Ok(Value::bool(want)),
                "is_positive({x})"
            );
        }
        assert_eq!(unsafe { t.call(&mut rt, 17, &[i(0x1ff)]) }, Ok(i(255)));
        assert_eq!(unsafe { t.call(&mut rt, 18, &[i(0xff)]) }, Ok(i(-1)));
        assert_eq!(
            unsafe { t.call(&mut rt, 19, &[Value::bool(true)]) },
            Ok(Value::bool(false))
        );
        assert_eq!(
            unsafe { t.call(&mut rt, 19, &[Value::bool(false)]) },
            Ok(Value::bool(true))
        );
        assert_eq!(unsafe { t.call(&mut rt, 20, &[i(1), i(4)]) }, Ok(f(0.25)));
        let s = rt.str(&b"abc\0def"[..]);
        assert_eq!(unsafe { t.call(&mut rt, 21, &[s]) }, Ok(i(3)));
        assert_eq!(unsafe { t.call(&mut rt, 22, &[i(2), i(3)]) }, Ok(i(5)));
        let e = err_text(unsafe { t.call(&mut rt, 23, &[]) });
        assert!(
            e.starts_with(&format!("FFI: symbol 'bp_not_in_mylib' not found in '{l}': ")),
            "{e}"
        );
        assert!(e.contains("undefined symbol: bp_not_in_mylib"), "{e}");

        // The fallback for symbols declared `from "libc"` that the process does not
        // export (libm in production; mylib here, since this test binary links libm).
        let mut t3 = FfiTable::new(vec![
            sig("greeting", "libc", "greeting", &[], Str),
            sig("nowhere", "libc", "bp_not_in_mylib", &[], Int),
        ]);
        t3.process_fallback = l.to_string();
        let g = unsafe { t3.call(&mut rt, 0, &[]) }.unwrap();
        assert_eq!(unsafe { str_bytes(g) }, b"hello from mylib");
        let e = err_text(unsafe { t3.call(&mut rt, 1, &[]) });
        assert!(
            e.starts_with("FFI: symbol 'bp_not_in_mylib' not found in 'libc': "),
            "{e}"
        );

        // A relative path is resolved against the current working directory.
        let cwd = std::env::current_dir().expect("cwd");
        if let Some(rel) = pathdiff(&lib, &cwd) {
            let mut t2 = FfiTable::new(vec![sig("half", &rel, "half", &[Float], Float)]);
            assert_eq!(
                unsafe { t2.call(&mut rt, 0, &[f(1.0)]) },
                Ok(f(0.5)),
                "relative path {rel}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `target` as a `./`-style path relative to `base` (both absolute).
    fn pathdiff(target: &std::path::Path, base: &std::path::Path) -> Option<String> {
        let t: Vec<_> = target.components().collect();
        let b: Vec<_> = base.components().collect();
        let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let mut s = String::from(".");
        for _ in common..b.len() {
            s.push_str("/..");
        }
        for c in &t[common..] {
            s.push('/');
            s.push_str(c.as_os_str().to_str()?);
        }
        Some(s)
    }

    #[test]
    fn ffi_table_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<FfiTable>();
        check::<FfiPtr>();
    }
}
