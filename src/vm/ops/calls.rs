//! Calls: frame setup for user functions and closures, builtin and extern dispatch.

use crate::bytecode::Reg;
use crate::vm::frame::{FnView, Frame};
use crate::vm::{panic_message, Vm};
use bp_runtime::rt::{RtError, RtResult};
use bp_runtime::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Error text when the frame limit or the register stack is exhausted.
pub const STACK_OVERFLOW: &str = "stack overflow";
impl Vm<'_> {
    /// Push a frame for function `callee` called from the innermost frame, which
    /// is at its call instruction `call_pc`: the callee's window starts at
    /// `new_base` (the end of the caller's window); copy the caller's argument
    /// registers `args` (read relative to `caller_base`) into the callee's registers
    /// `0..args.len()`, zero the callee's other registers, record `dst`, count the
    /// call.
    ///
    /// Fails with `stack overflow` when the frame limit or the register stack is
    /// exhausted, and with an internal error for an unknown callee or another
    /// number of arguments than its parameters (both excluded by the verifier
    /// for `Call` and checked beforehand for `CallIndirect`).
    ///
    /// # Safety
    /// The caller's frame is the innermost one (the frame stack is not empty).
    #[inline(always)]
    pub(crate) unsafe fn push_frame(
        &mut self,
        callee: u32,
        caller_base: usize,
        new_base: usize,
        args: &[Reg],
        dst: Reg,
        call_pc: usize,
    ) -> Result<(), &'static str> {
        let view = match self.fn_views.get(callee as usize) {
            Some(v) if v.nparams as usize == args.len() => v as *const FnView<'_>,
            Some(_) => return Err("internal error: a call with the wrong number of arguments"),
            None => return Err("internal error: call of an unknown function"),
        };
        // SAFETY: checked just above (and the verifier checked `nparams <=
        // nregs` for every function); the caller's frame is the innermost one
        // (the caller's contract).
        unsafe { self.push_frame_of(callee, view, caller_base, new_base, args, dst, call_pc, false) }
    }

    /// [`Vm::push_frame`] for a callee whose id and parameters the caller has
    /// checked (the verifier, for a `Call`): only the limits are checked
    /// here. `view` is the callee's (`Vm::fn_views`), where its register
    /// count and reference registers are. With `closure`, the caller stores
    /// the callee's closure in the register after the arguments right after
    /// this (`CallIndirect`), which then need not be nulled.
    ///
    /// # Safety
    /// `callee` must be a function of the program with `args.len()`
    /// parameters and `view` its view in `self.fn_views`; the caller's frame
    /// is the innermost one (the frame stack is not empty).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) unsafe fn push_frame_of(
        &mut self,
        callee: u32,
        view: *const FnView<'_>,
        caller_base: usize,
        new_base: usize,
        args: &[Reg],
        dst: Reg,
        call_pc: usize,
        closure: bool,
    ) -> Result<(), &'static str> {
        // SAFETY: the caller's contract: a view of `self.fn_views`, which is
        // never changed while the VM lives (nor by anything below).
        let view = unsafe { &*view };
        let nregs = view.nregs;
        if self.frames.len() >= self.max_depth || new_base + nregs > self.stack.limit() {
            return Err(STACK_OVERFLOW);
        }
        let sp = self.stack.as_ptr();
        // SAFETY: the caller's window starts at `caller_base <= limit`, so every `u8`
        // register of it is inside the stack (REG_SLACK); the callee's window
        // `new_base..new_base + nregs` ends at or below `limit` (checked above) and
        // `args.len() <= nregs` (the caller's contract); its reference registers
        // are below `nregs`. Each copy reads and writes one in-bounds slot.
        unsafe {
            copy_args(sp.add(caller_base), sp.add(new_base), args);
            let refs = &view.local_refs[closure as usize];
            null_references(sp.add(new_base), refs);
        }
        // SAFETY: `len < max_depth <= capacity` (checked above; `Vm::new` clamps
        // `max_depth` to the frame stack's capacity), and the caller's frame is
        // live (the caller's contract).
        unsafe {
            self.frames.set_top_pc_unchecked(call_pc as u32);
            self.frames.push_unchecked(Frame {
                func: callee,
                pc: 0,
                base: new_base,
                dst,
            });
        }
        // SAFETY: the caller's contract: a function of the program, which has a
        // call counter.
        unsafe { self.count_call_of(callee as usize) };
        Ok(())
    }

    /// Call `extern` function `id` with the arguments gathered in `arg_buf`.
    /// Buffered stdout is flushed first so that output of C code stays in order.
    /// The result is `None` for a `void` extern (its destination is left alone).
    ///
    /// # Safety
    /// `arg_buf` must match the extern's declared parameters (a `str` or `ptr`
    /// argument null or a live object), as the type checker guarantees for a call.
    pub(crate) unsafe fn call_extern(&mut self, id: u32) -> Result<Option<bp_runtime::Value>, RtError> {
        if self.capture {
            self.captured.append(&mut self.rt.out);
        } else {
            self.rt.flush()?;
        }
        // SAFETY: the caller's contract.
        let v = unsafe { self.ffi.call(&mut self.rt, id, &self.arg_buf) }?;
        let has_result = self
            .ffi
            .sig(id)
            .is_some_and(|g| g.ret != bp_runtime::ffi::FfiType::Void);
        Ok(has_result.then_some(v))
    }

    /// `CallExtern` (`is_extern`) or `CallBuiltin` of `id` with the arguments in
    /// `arg_buf`: the result, or `None` when the callee returns `void` (the call's
    /// destination register keeps its value).
    ///
    /// # Safety
    /// `arg_buf` must match the callee's signature (see [`Vm::call_builtin_on`]
    /// and [`Vm::call_extern`]).
    #[inline]
    pub(crate) unsafe fn call_native(&mut self, is_extern: bool, id: u32) -> Result<Option<Value>, RtError> {
        if is_extern {
            return self.call_extern(id);
        }
        let v = self.call_builtin(id as usize)?;
        let void = self
            .builtins
            .get(id as usize)
            .is_some_and(|b| b.flags & bp_runtime::builtins::RETURNS_VOID != 0);
        Ok((!void).then_some(v))
    }

    /// `CallBuiltin` of builtin `id` through its leaf twin, if it has one
    /// (`Inline::Leaf`, `Inline::MapFind`: a direct call that allocates
    /// nothing and returns its result in `arg_buf[0]`, as compiled code makes
    /// it; `Inline::NativeUnary`, `Inline::NativeBinary`: a float function
    /// called on the floats; `Inline::Unary`, `Binary`, `Clamp`, `Str`: the
    /// builtin itself, which only computes), with the arguments in
    /// `arg_buf`: the result (`None` inside for a `void` builtin). `None`
    /// when it has none, or when the twin declines
    /// (the builtin raises; the twin changed nothing, and the caller makes
    /// the general call). `map_has_key` 30 % faster interpreted than through
    /// [`Vm::call_native`]'s layers and its result in memory.
    ///
    /// # Safety
    /// As [`Vm::call_builtin_on`], for `self.arg_buf`.
    #[inline(always)]
    pub(crate) unsafe fn call_leaf_twin(&mut self, id: u32) -> Option<Option<Value>> {
        use bp_runtime::builtins::Inline;
        let b = self.builtins.get(id as usize)?;
        let (twin, find) = match (b.inline, &self.arg_buf[..]) {
            (Inline::Leaf(f), _) => (f, false),
            (Inline::MapFind(f), _) => (f, true),
            // The float functions of libm (`sin`, `exp`, `fpow`, ...) through
            // the same native twins compiled code calls: no argument slice,
            // no `Result`, no unwind guard of the general call.
            (Inline::NativeUnary(f), &[x]) => return Some(Some(Value::float(f(x.as_float())))),
            (Inline::NativeBinary(f), &[x, y]) => {
                return Some(Some(Value::float(f(x.as_float(), y.as_float()))))
            }
            // The builtins compiled code computes with machine instructions
            // (`int_to_float`, `fsqrt`, `abs`, `min`, ..., and `len`,
            // `str_char_at`, `ord`, `chr`, whose one-byte strings are the
            // shared ones): functions of their arguments that allocate
            // nothing, called without the general call's capture and unwind
            // guard; an error (`ord("")`) is raised by the general call.
            (Inline::Unary(_) | Inline::Binary(_) | Inline::Clamp | Inline::Str(_), _) => {
                // SAFETY: the caller's contract: the builtin's arguments.
                return unsafe { (b.func)(&mut self.rt, &self.arg_buf) }.ok().map(Some);
            }
            _ => return None,
        };
        if self.arg_buf.is_empty() {
            return None;
        }
        // SAFETY: the caller's contract: the builtin's arguments, at least one
        // (room for the result).
        if unsafe { twin(self.arg_buf.as_mut_ptr()) } != 0 {
            return None;
        }
        if b.flags & bp_runtime::builtins::RETURNS_VOID != 0 {
            return Some(None);
        }
        let v = self.arg_buf[0];
        // (`MapFind` gives the key's position plus one.)
        Some(Some(if find { Value::bool(v.as_int() != 0) } else { v }))
    }

    /// Call builtin `id` with the arguments in `self.arg_buf`.
    ///
    /// # Safety
    /// As [`Vm::call_builtin_on`], for `self.arg_buf`.
    #[inline]
    pub(crate) unsafe fn call_builtin(&mut self, id: usize) -> RtResult {
        let args = std::mem::take(&mut self.arg_buf);
        let r = self.call_builtin_on(id, &args);
        self.arg_buf = args;
        r
    }

    /// Call builtin `id` with `args` (the interpreter's gathered arguments, or the
    /// argument block of compiled code). A panic inside the builtin becomes an
    /// `internal error` runtime error.
    ///
    /// # Safety
    /// `args` must match builtin `id`'s signature (the contract of
    /// [`BuiltinFn`](bp_runtime::builtins::BuiltinFn)), as the type checker
    /// guarantees for a call it accepts.
    pub(crate) unsafe fn call_builtin_on(&mut self, id: usize, args: &[Value]) -> RtResult {
        let Some(b) = self.builtins.get(id) else {
            return Err(RtError::Error(format!("internal error: unknown builtin {id}")));
        };
        let func = b.func;
        if self.capture {
            self.captured.append(&mut self.rt.out);
        }
        let hosted = b.flags & bp_runtime::builtins::HOSTED != 0;
        let this = &mut *self;
        // SAFETY: the caller's contract.
        match catch_unwind(AssertUnwindSafe(|| {
            if hosted {
                this.call_hosted(b.name, args)
            } else {
                unsafe { func(&mut this.rt, args) }
            }
        })) {
            Ok(r) => r,
            Err(payload) => Err(RtError::Error(format!(
                "internal error: builtin {} failed: {}",
                b.name,
                panic_message(&*payload)
            ))),
        }
    }
}

/// Copy the caller's argument registers `args` (relative to `from`) into the
/// callee's first registers at `to`. The usual one to three arguments are
/// straight-line copies: the general loop costs more to set up than to run.
///
/// # Safety
/// Every `from + r` for `r` in `args` and `to..to + args.len()` must be valid.
#[inline(always)]
unsafe fn copy_args(from: *const Value, to: *mut Value, args: &[Reg]) {
    // SAFETY: the caller's contract.
    unsafe {
        match *args {
            [] => {}
            [a] => *to = *from.add(a as usize),
            [a, b] => {
                *to = *from.add(a as usize);
                *to.add(1) = *from.add(b as usize);
            }
            [a, b, c] => {
                *to = *from.add(a as usize);
                *to.add(1) = *from.add(b as usize);
                *to.add(2) = *from.add(c as usize);
            }
            _ => {
                for (i, &r) in args.iter().enumerate() {
                    *to.add(i) = *from.add(r as usize);
                }
            }
        }
    }
}

/// Null the reference registers `refs` of a new frame at `to`, those that
/// are not parameters (`FnView::local_refs`: the arguments filled the others), so
/// that the collector, which scans exactly its reference registers, finds
/// null or live objects. Other registers keep stale bits: the compiler writes
/// every register before reading it (`tests/entry_registers.rs` checks the
/// programs of the suite), and the collector never reads them. (The list
/// without the parameters, made once per function, took a comparison per
/// reference register off every call: interpreted `closures` 3 % faster.)
///
/// # Safety
/// `to + r` must be valid for writes for every `r` in `refs`.
#[inline(always)]
unsafe fn null_references(to: *mut Value, refs: &[u8]) {
    for &r in refs {
        // SAFETY: the caller's contract.
        unsafe { *to.add(r as usize) = Value::NULL };
    }
}
