//! `extern "C"` helpers called by compiled code.
//!
//! Every helper catches panics: a Rust panic must never unwind through JIT frames
//! (they have no unwind information). A caught panic becomes a fatal internal
//! error (status 2) or, for the pure helpers, a "failed" result that makes the
//! compiled code deoptimize so the interpreter reports it.
//!
//! Status codes (the low two bits of every status):
//! * 0: returned normally (the result, if any, is in register 0 of the frame);
//! * 1: an exception is pending in `Vm::pending` (the frame has been popped
//!   when it comes from a callee);
//! * 2: stop (`exit`, fatal error) in `Vm::jit_stop`;
//! * 3: only from `rt_resume`/`rt_resume_exc`: continue the frame's compiled code
//!   at loop header `(status >> 2) - 1`.

use super::translate::REG_ARGS;
const _: () = assert!(REG_ARGS == 4, "jit_tramp takes four register arguments");
use super::{ST_EXCEPTION, ST_REENTER, ST_RETURN, ST_STOP};
use crate::vm::ops::calls::STACK_OVERFLOW;
use crate::vm::ops::objects;
use crate::vm::tier::OpErr;
use crate::vm::{panic_message, Stop, Vm};
use bp_runtime::rt::RtError;
use bp_runtime::value::{ValKind, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Run `body` on the VM behind `vm`, turning a panic into a fatal stop.
///
/// # Safety
/// `vm` must be the VM that is running the compiled code that calls the helper
/// (compiled code receives it as its first argument and passes it on).
unsafe fn with_vm(vm: *mut Vm<'static>, body: impl FnOnce(&mut Vm<'static>) -> u64) -> u64 {
    // SAFETY: guaranteed by the caller; the VM is not otherwise borrowed while
    // compiled code runs (the Rust code that entered it passed it as a raw pointer).
    let vm = unsafe { &mut *vm };
    match catch_unwind(AssertUnwindSafe(|| body(&mut *vm))) {
        Ok(st) => st,
        Err(payload) => {
            let msg = panic_message(&*payload);
            vm.jit_stop = Some(Stop::Fatal(format!("internal error: {msg}")));
            ST_STOP
        }
    }
}

/// Map the result of running the interpreter for a frame to a status.
fn interp_status(vm: &mut Vm<'static>, base: *mut Value, r: Result<Value, Stop>) -> u64 {
    match r {
        Ok(v) => {
            // SAFETY: `base` is the frame's register window (register 0 is inside
            // the register stack).
            unsafe { *base = v };
            ST_RETURN
        }
        Err(Stop::Exception) => ST_EXCEPTION,
        Err(Stop::Reenter(h)) => ST_REENTER | ((h as u64 + 1) << 2),
        Err(s) => {
            vm.jit_stop = Some(s);
            ST_STOP
        }
    }
}

/// A zeroed block that reads like an empty object (length 0, null data pointer):
/// loop pre-headers read the header of a null array from here instead of from
/// address 0, so the cached length 0 sends every access to the side exit, where
/// the VM raises the null error.
#[repr(C, align(64))]
pub struct ZeroObject(pub [u64; 32]);
pub static ZERO_OBJECT: ZeroObject = ZeroObject([0; 32]);

/// The entry of every function that is not compiled (through the trampoline
/// shim, which adds `vm`): compiled code called it with the callee's frame record
/// pushed, the first `min(nparams, REG_ARGS)` arguments in `a0..a3` (the other
/// `a_i` hold no meaning) and the others in `base[REG_ARGS..nparams]`. Count the
/// call (which may compile the callee) and run it.
///
/// # Safety
/// Called by the trampoline shim only, with the JIT ABI.
pub unsafe extern "C" fn jit_tramp(
    vm: *mut Vm<'static>,
    base: *mut Value,
    _entry_pc: u64,
    a0: u64,
    a1: u64,
    a2: u64,
    a3: u64,
) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(vm, |vm| {
            // The compiled caller pushed the complete record (`base` is the index
            // of `base` in the register stack).
            let Some(&top) = vm.frames.last() else {
                vm.jit_stop = Some(Stop::Fatal("internal error: trampoline without a frame".into()));
                return ST_STOP;
            };
            let fid = top.func;
            let Some(f) = vm.program.functions.get(fid as usize) else {
                vm.jit_stop = Some(Stop::Fatal(
                    "internal error: trampoline for an unknown function".into(),
                ));
                return ST_STOP;
            };
            // The limits that the VM checks before pushing a frame (compiled callers
            // leave them to the callee).
            if vm.frames.len() > vm.max_depth
                || top.base + f.nregs as usize > vm.stack.limit()
                || crate::vm::tier::native_sp() < vm.native_limit
            {
                return raise_overflow_in_caller(vm);
            }
            // The caller passed the first arguments in registers and wrote the
            // others to the window; zero the rest of the window like the
            // interpreter's calls do.
            let nreg = (f.nparams as usize).min(REG_ARGS);
            for (r, a) in [a0, a1, a2, a3].into_iter().enumerate().take(nreg) {
                vm.stack.set(top.base + r, Value(a));
            }
            for r in f.nparams as usize..f.nregs as usize {
                vm.stack.set(top.base + r, Value::NULL);
            }
            vm.count_call(fid as usize);
            if let Some(code) = vm.compiled_entry(fid) {
                // A call: `entry_pc` is the frame's depth (see `jit::EnterFn`).
                let depth = vm.frames.len() as u64;
                return vm.enter_compiled(code, base, depth);
            }
            let depth = vm.frames.len();
            let r = vm.interp(depth - 1, false);
            interp_status(vm, base, r)
        })
    }
}

/// Side exit: the compiled code of the innermost frame wrote its live registers
/// back; the interpreter continues the frame at `pc` until it returns (or until
/// it reaches a loop header, status 3).
///
/// # Safety
/// Called by compiled code only, with the JIT ABI.
pub unsafe extern "C" fn rt_resume(vm: *mut Vm<'static>, base: *mut Value, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe { resume_in_vm(vm, base, pc, false) }
}

/// The exception in flight reached compiled code at `pc`, which a handler of the
/// function covers: the live registers are written back; let the VM's handler
/// logic catch it and continue the frame in the interpreter.
///
/// # Safety
/// Called by compiled code only, with the JIT ABI.
pub unsafe extern "C" fn rt_resume_exc(vm: *mut Vm<'static>, base: *mut Value, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe { resume_in_vm(vm, base, pc, true) }
}

/// Continue the innermost frame in the interpreter at `pc` (counting a deopt),
/// first letting the VM catch the pending exception if `catch` is set.
///
/// # Safety
/// As for [`rt_resume`].
unsafe fn resume_in_vm(vm: *mut Vm<'static>, base: *mut Value, pc: u64, catch: bool) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(vm, |vm| {
            let Some(top) = vm.frames.last_mut() else {
                vm.jit_stop = Some(Stop::Fatal("internal error: resume without a frame".into()));
                return ST_STOP;
            };
            top.pc = pc as u32;
            let fid = top.func;
            if !catch {
                vm.note_negative_index(fid, pc as u32);
            }
            vm.note_deopt(fid);
            let depth = vm.frames.len();
            if catch {
                if let Err(e) = vm.unwind_pending(depth - 1) {
                    return interp_status(vm, base, Err(e));
                }
            }
            let r = vm.interp(depth - 1, true);
            interp_status(vm, base, r)
        })
    }
}

/// The exception in flight leaves the innermost (compiled) frame at `pc`: record
/// the frame in the trace and pop it. Returns 1.
///
/// # Safety
/// Called by compiled code only.
pub unsafe extern "C" fn rt_propagate(vm: *mut Vm<'static>, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(vm, |vm| {
            if vm.propagate_pending(pc as u32) {
                ST_EXCEPTION
            } else {
                vm.jit_stop = Some(Stop::Fatal("internal error: no exception to propagate".into()));
                ST_STOP
            }
        })
    }
}

/// Execute instruction `pc` of the innermost frame in the VM (operands and result
/// in the frame's registers). Returns 0, 1 (exception pending) or 2 (stop).
///
/// # Safety
/// Called by compiled code only, with the JIT ABI.
pub unsafe extern "C" fn rt_op(vm: *mut Vm<'static>, _base: *mut Value, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(vm, |vm| {
            let Some(&top) = vm.frames.last() else {
                vm.jit_stop = Some(Stop::Fatal("internal error: helper without a frame".into()));
                return ST_STOP;
            };
            match vm.exec_op(top.func, pc as u32, top.base) {
                Ok(()) => ST_RETURN,
                Err(OpErr::Raise(msg)) => {
                    vm.set_pending_error(&msg, top.func, pc as u32);
                    ST_EXCEPTION
                }
                Err(OpErr::Exit(code)) => {
                    vm.jit_stop = Some(Stop::Exit(code));
                    ST_STOP
                }
            }
        })
    }
}

/// A call at `pc` of the innermost (compiled) frame would exceed the frame,
/// register stack or native stack limit: make `stack overflow` the pending
/// exception of that frame at `pc`, as the VM's calls do. Returns 1 (2 if
/// there is no frame).
///
/// # Safety
/// Called by compiled code only.
pub unsafe extern "C" fn rt_overflow_at(vm: *mut Vm<'static>, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(vm, |vm| match vm.frames.last() {
            Some(&top) => {
                vm.set_pending_error(STACK_OVERFLOW, top.func, pc as u32);
                ST_EXCEPTION
            }
            None => {
                vm.jit_stop = Some(Stop::Fatal("stack overflow".into()));
                ST_STOP
            }
        })
    }
}

/// A compiled function found on entry that the native stack is exhausted: pop
/// its record and raise `stack overflow` in the caller, at the call (as the VM's
/// calls do). Returns 1.
///
/// # Safety
/// Called by compiled code only.
pub unsafe extern "C" fn rt_overflow(vm: *mut Vm<'static>, _base: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe { with_vm(vm, raise_overflow_in_caller) }
}

/// Pop the innermost frame and make `stack overflow` the pending exception of its
/// caller, at the caller's current pc.
fn raise_overflow_in_caller(vm: &mut Vm<'static>) -> u64 {
    vm.frames.pop();
    match vm.frames.last() {
        Some(&caller) => {
            vm.set_pending_error(STACK_OVERFLOW, caller.func, caller.pc);
            ST_EXCEPTION
        }
        None => {
            vm.jit_stop = Some(Stop::Fatal("stack overflow".into()));
            ST_STOP
        }
    }
}

/// Re-entry at an unknown pc (a JIT bug). Returns 2.
///
/// # Safety
/// Called by compiled code only.
pub unsafe extern "C" fn rt_bad_reentry(vm: *mut Vm<'static>, enc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(vm, |vm| {
            vm.jit_stop = Some(Stop::Fatal(format!(
                "internal error: compiled code re-entered at unknown pc {}",
                enc.wrapping_sub(1)
            )));
            ST_STOP
        })
    }
}

/// `fmod(a, b)` (the VM's `ModF`).
pub extern "C" fn rt_fmod(a: f64, b: f64) -> f64 {
    catch_unwind(|| crate::vm::ops::arith::fmod(a, b)).unwrap_or(f64::NAN)
}

/// Deep equality of two references: 1 or 0, or 2 if it failed (the compiled code
/// then lets the VM execute the comparison).
///
/// # Safety
/// Called by compiled code only; `a` and `b` are the bits of two reference
/// registers of the verified function: null or live objects.
pub unsafe extern "C" fn rt_eq_ref(a: u64, b: u64) -> u64 {
    catch_unwind(|| bp_runtime::heap::values_equal(Value(a), Value(b), ValKind::Ref) as u64).unwrap_or(2)
}

/// `NewArray` (tag 0), `NewTuple` (1) or `NewStruct` (2) of call site `site` from
/// compiled code, without decoding the instruction: the elements are `args[0..n]`
/// (`n` = the low 32 bits of `info`, the tag the next ones); the new object goes
/// to `args[0]`. Then the VM's safepoint, with the object rooted. Returns 0 (2 on
/// an internal error).
///
/// # Safety
/// Called by compiled code only; `site` points to the call site of the
/// instruction in the running program, `args` is valid for `max(n, 1)` values.
pub unsafe extern "C" fn rt_new(
    vm: *mut Vm<'static>,
    site: *const crate::bytecode::CallSite,
    args: *mut Value,
    info: u64,
    _pc: u64,
) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(vm, |vm| {
            // SAFETY: the translator embedded the address of a call site of the
            // program, which outlives the compiled code; `args` holds `n` values.
            let (s, a) = (&*site, std::slice::from_raw_parts(args, info as u32 as usize));
            let heap = &mut vm.rt.heap;
            let v = match info >> 32 {
                0 => objects::new_array(heap, s, a),
                1 => objects::new_tuple(heap, s, a),
                _ => objects::new_struct(heap, vm.program, s, a),
            };
            vm.safepoint_rooting(Some(v));
            // SAFETY: `args` has room for at least one value.
            *args = v;
            ST_RETURN
        })
    }
}

/// `MapGet` (tag 0: `args = [map, key]`), `MapSet` (1: `[map, key, value]`),
/// `Concat` (2: `[a, b]`), `ToStr` (3: `[value]`, kind in `kind`) from compiled
/// code, with the same `vm::ops::objects` functions and safepoints as the
/// interpreter but no instruction decoding; the result (if any) goes to `args[0]`,
/// rooted while the collector runs (the operands are references in their frame
/// slots, or scalars). Returns 0, 1 (raised; pending at `pc`) or 2.
///
/// # Safety
/// Called by compiled code only; `args` is valid for the tag's operands.
pub unsafe extern "C" fn rt_obj(vm: *mut Vm<'static>, tag: u64, args: *mut Value, kind: u64, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(vm, |vm| {
            // SAFETY: the compiled caller stored the tag's operands to `args`.
            let arg = |i: usize| *args.add(i);
            let heap = &mut vm.rt.heap;
            let r = match tag {
                0 => objects::map_get(arg(0), arg(1)).map(Some),
                // SAFETY: the translator passes a map register of the verified
                // function as operand 0: null or a live map.
                1 => objects::map_set(heap, arg(0), arg(1), arg(2)).map(|()| None),
                2 => objects::concat(heap, arg(0), arg(1)).map(Some),
                _ => objects::to_str(heap, arg(0), ValKind::from_u8(kind as u8)).map(Some),
            };
            match r {
                Ok(v) => {
                    // `MapGet` allocates nothing: no safepoint, as in the VM.
                    if tag != 0 {
                        vm.safepoint_rooting(v);
                    }
                    if let Some(v) = v {
                        // SAFETY: `args` has room for the result (operand 0).
                        *args = v;
                    }
                    ST_RETURN
                }
                Err(msg) => {
                    let fid = vm.frames.last().map_or(0, |f| f.func);
                    vm.set_pending_error(msg, fid, pc as u32);
                    ST_EXCEPTION
                }
            }
        })
    }
}

/// Direct call of builtin `id` from compiled code, without decoding the
/// instruction: the arguments are `args[0..n]` (a block in the caller's native
/// frame) where `n` is the low 32 bits of `nargs`; the result goes to `args[0]`. Then the
/// safepoint that follows every builtin in the VM, with the result rooted if bit
/// 32 of `nargs` says it is a reference (compiled code keeps its other references
/// in their frame slots). Returns 0, 1 (the builtin raised; the error
/// is pending at `pc`) or 2 (`exit`, fatal error).
///
/// # Safety
/// Called by compiled code only; `args` must be valid for `max(nargs, 1)` values.
pub unsafe extern "C" fn rt_builtin(
    vm: *mut Vm<'static>,
    id: u64,
    args: *mut Value,
    nargs: u64,
    pc: u64,
) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(vm, |vm| {
            // SAFETY: the compiled caller passes a block of `nargs` initialised values.
            let a = std::slice::from_raw_parts(args, nargs as u32 as usize);
            let ref_result = nargs >> 32 & 1 != 0;
            match vm.call_builtin_on(id as usize, a) {
                Ok(v) => {
                    // The VM's safepoint, with the result (not yet in its
                    // register) as an extra root.
                    vm.safepoint_rooting(ref_result.then_some(v));
                    // SAFETY: `args` has room for at least one value.
                    *args = v;
                    ST_RETURN
                }
                Err(RtError::Error(msg)) => {
                    let fid = vm.frames.last().map_or(0, |f| f.func);
                    vm.set_pending_error(&msg, fid, pc as u32);
                    ST_EXCEPTION
                }
                Err(RtError::Exit(code)) => {
                    vm.jit_stop = Some(Stop::Exit(code));
                    ST_STOP
                }
            }
        })
    }
}
