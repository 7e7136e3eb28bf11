//! `extern "C"` helpers called by compiled code (their signatures and the table
//! of their addresses are the JIT's ABI, `crate::jit::abi`). The ABI's opaque
//! context is the running [`Vm`]; [`HELPERS`] is the table the tier hands to the
//! JIT.
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
//! * 2: stop (`exit`, fatal error), recorded in the tier (`Tier::stop`);
//! * 3: only from `rt_resume`: continue the frame's compiled code
//!   at loop header `(status >> 2) - 1`.

use super::exec::OpErr;
use super::{tier_of, Tier};
use crate::bytecode::CallSite;
use crate::jit::abi::{
    Context, CtxFn, Helpers, JitFn, NewKind, ObjOp, ResumeFn, ThrowFn, CONCAT_MAX_PARTS, ST_EXCEPTION,
    ST_RAISED, ST_REENTER, ST_RETURN, ST_STOP, THROW_RETHROW,
};
use crate::jit::translate::REG_ARGS;
use crate::native_stack::native_sp;
use crate::vm::ops::calls::STACK_OVERFLOW;
use crate::vm::ops::objects;
use crate::vm::{panic_message, Stop, Vm};
use bp_runtime::builtins::leaf;
use bp_runtime::rt::RtError;
use bp_runtime::value::{ValKind, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};

const _: () = assert!(REG_ARGS == 4, "jit_tramp takes four register arguments");

/// The helpers as the JIT's ABI names them.
pub static HELPERS: Helpers = Helpers {
    tramp: jit_tramp,
    resume: rt_resume as ResumeFn,
    raise: rt_raise as ResumeFn,
    propagate: rt_propagate as CtxFn,
    catch: rt_catch as CtxFn,
    throw: rt_throw as ThrowFn,
    op: rt_op as JitFn,
    overflow: rt_overflow as CtxFn,
    overflow_at: rt_overflow_at as CtxFn,
    fmod: rt_fmod,
    eq_ref: rt_eq_ref,
    bad_reentry: rt_bad_reentry as CtxFn,
    builtin: rt_builtin,
    new: rt_new,
    obj: rt_obj,
    map_set: rt_map_set,
    write_barrier: rt_write_barrier,
    zero_obj: &ZERO_OBJECT.0,
};

/// Run `body` on the VM behind the context `ctx`, turning a panic into a fatal
/// stop.
///
/// # Safety
/// `ctx` must be the VM that is running the compiled code that calls the helper
/// (compiled code embeds its address and passes it on).
unsafe fn with_vm(ctx: *mut Context, body: impl FnOnce(&mut Vm<'_>) -> u64) -> u64 {
    // SAFETY: guaranteed by the caller; the VM is not otherwise borrowed while
    // compiled code runs (the Rust code that entered it passed it as a raw pointer).
    let vm = unsafe { &mut *ctx.cast::<Vm<'_>>() };
    match catch_unwind(AssertUnwindSafe(|| body(&mut *vm))) {
        Ok(st) => st,
        Err(payload) => {
            let msg = panic_message(&*payload);
            stop(vm, Stop::Fatal(format!("internal error: {msg}")))
        }
    }
}

/// The tier of the VM that runs compiled code.
fn tier<'t>(vm: &Vm<'_>) -> Option<&'t Tier> {
    // SAFETY: compiled code (and so every helper) runs only under a `Tier`, which
    // lives as long as the VM, and the helpers use the reference within their call.
    unsafe { tier_of(vm) }
}

/// Record `s` as the reason compiled code stops; returns status 2.
#[cold]
#[inline(never)]
fn stop(vm: &Vm<'_>, s: Stop) -> u64 {
    if let Some(t) = tier(vm) {
        t.set_stop(s);
    }
    ST_STOP
}

/// Stop with the internal error `what` (a helper got what no translator emits);
/// returns status 2.
#[cold]
#[inline(never)]
fn internal_error(vm: &Vm<'_>, what: &str) -> u64 {
    stop(vm, Stop::Fatal(format!("internal error: {what}")))
}

/// Map the result of running the interpreter for a frame to a status.
fn interp_status(vm: &mut Vm<'_>, base: *mut Value, r: Result<Value, Stop>) -> u64 {
    match r {
        Ok(v) => {
            // SAFETY: `base` is the frame's register window (register 0 is inside
            // the register stack).
            unsafe { *base = v };
            ST_RETURN
        }
        Err(Stop::Exception) => ST_EXCEPTION,
        Err(Stop::Reenter(h)) => ST_REENTER | ((h as u64 + 1) << 2),
        Err(s) => stop(vm, s),
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
    ctx: *mut Context,
    base: *mut Value,
    _entry_pc: u64,
    a0: u64,
    a1: u64,
    a2: u64,
    a3: u64,
) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            // The compiled caller pushed the complete record (`base` is the index
            // of `base` in the register stack).
            let Some(&top) = vm.frames.last() else {
                return stop(
                    vm,
                    Stop::Fatal("internal error: trampoline without a frame".into()),
                );
            };
            let fid = top.func;
            let Some(f) = vm.program.functions.get(fid as usize) else {
                return stop(
                    vm,
                    Stop::Fatal("internal error: trampoline for an unknown function".into()),
                );
            };
            let Some(tier) = tier(vm) else {
                return stop(
                    vm,
                    Stop::Fatal("internal error: trampoline without a tier".into()),
                );
            };
            // The limits that the VM checks before pushing a frame (compiled callers
            // leave them to the callee).
            if vm.frames.len() > vm.max_depth
                || top.base + f.nregs as usize > vm.stack.limit()
                || (native_sp() as u64) < vm.run_view.native_limit
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
            // A lambda with captures keeps its closure, stored by the caller in
            // the register after the parameters.
            let first_local = f.nparams as usize + f.takes_closure as usize;
            for r in first_local..f.nregs as usize {
                vm.stack.set(top.base + r, Value::NULL);
            }
            vm.count_call(fid as usize);
            if let Some(code) = vm.compiled_entry(fid) {
                // A call: `entry_pc` is the frame's depth (see `abi::EnterFn`).
                let depth = vm.frames.len() as u64;
                return tier.enter_compiled(vm, code, base, depth);
            }
            let depth = vm.frames.len();
            let r = vm.interp(depth - 1, None);
            interp_status(vm, base, r)
        })
    }
}

/// Side exit: the compiled code of the innermost frame wrote its live registers
/// back; the interpreter continues the frame at `pc` until it returns (or until
/// it reaches the header of one of `osr_loops`, the loops that code has entries
/// for: status 3).
///
/// # Safety
/// Called by compiled code only, with the JIT ABI.
pub unsafe extern "C" fn rt_resume(ctx: *mut Context, base: *mut Value, pc: u64, osr_loops: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            let negative = Tier::negative_index_at(vm, pc as u32);
            resume_frame(vm, base, pc as u32, pc as u32, osr_loops, negative)
        })
    }
}

/// A guard of instruction `pc` of the innermost (compiled) frame failed, one
/// that tests for the instruction's errors (`Op::raises_at_guard`); the live
/// registers are written back. The VM runs the instruction: if it raises, the
/// error is pending at `pc` (status [`ST_RAISED`]) and compiled code catches
/// it or lets it leave the frame; if not (a negative index, which the code
/// speculated against), the interpreter continues the frame after it, as
/// after a side exit at `pc`.
///
/// # Safety
/// Called by compiled code only, with the JIT ABI.
pub unsafe extern "C" fn rt_raise(ctx: *mut Context, base: *mut Value, pc: u64, osr_loops: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            let Some(&top) = vm.frames.last() else {
                return stop(vm, Stop::Fatal("internal error: raise without a frame".into()));
            };
            // (Before the instruction, which may overwrite its index.)
            let negative = Tier::negative_index_at(vm, pc as u32);
            match vm.exec_op(top.func, pc as u32, top.base) {
                Ok(()) => resume_frame(vm, base, pc as u32, pc as u32 + 1, osr_loops, negative),
                Err(OpErr::Raise(msg)) => {
                    vm.set_pending_error(&msg, top.func, pc as u32);
                    ST_RAISED
                }
                Err(OpErr::Exit(code)) => stop(vm, Stop::Exit(code)),
            }
        })
    }
}

/// A deopt of the innermost frame at `deopt_pc` (`negative`: an array access
/// there had a negative index, which the function's next version then takes
/// inline): count it, and continue the frame in the interpreter at
/// `resume_pc` until it returns or reaches one of `osr_loops`.
fn resume_frame(
    vm: &mut Vm<'_>,
    base: *mut Value,
    deopt_pc: u32,
    resume_pc: u32,
    osr_loops: u64,
    negative: bool,
) -> u64 {
    let Some(top) = vm.frames.last_mut() else {
        return stop(vm, Stop::Fatal("internal error: resume without a frame".into()));
    };
    top.pc = resume_pc;
    let fid = top.func;
    if let Some(tier) = tier(vm) {
        tier.note_negative_index(fid, negative);
        tier.note_deopt(vm, fid, deopt_pc);
    }
    let depth = vm.frames.len();
    let r = vm.interp(depth - 1, Some(osr_loops));
    interp_status(vm, base, r)
}

/// `throw msg` (or, with [`THROW_RETHROW`] in `op`, `Rethrow msg`) at pc `op
/// as u32` of the innermost (compiled) frame: the exception is in flight, and
/// compiled code catches it or lets it leave the frame. Returns 1.
///
/// # Safety
/// Called by compiled code only; `msg` is a string reference of the frame.
pub unsafe extern "C" fn rt_throw(ctx: *mut Context, msg: u64, op: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            if vm.throw_pending(Value(msg), op as u32, op & THROW_RETHROW != 0) {
                ST_EXCEPTION
            } else {
                internal_error(vm, "throw without a frame")
            }
        })
    }
}

/// A handler of the innermost (compiled) frame covers `pc`, where the
/// exception in flight reached it: catch it there (the message to the
/// handler's register, the record kept for `Rethrow`). Returns 0; compiled
/// code goes on at the handler.
///
/// # Safety
/// Called by compiled code only.
pub unsafe extern "C" fn rt_catch(ctx: *mut Context, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            if vm.catch_pending(pc as u32) {
                ST_RETURN
            } else {
                internal_error(vm, "no exception or handler to catch it")
            }
        })
    }
}

/// The exception in flight leaves the innermost (compiled) frame at `pc`: record
/// the frame in the trace and pop it. Returns 1.
///
/// # Safety
/// Called by compiled code only.
pub unsafe extern "C" fn rt_propagate(ctx: *mut Context, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            if vm.propagate_pending(pc as u32) {
                ST_EXCEPTION
            } else {
                stop(
                    vm,
                    Stop::Fatal("internal error: no exception to propagate".into()),
                )
            }
        })
    }
}

/// Execute instruction `pc` of the innermost frame in the VM (operands and result
/// in the frame's registers). Returns 0, 1 (exception pending) or 2 (stop).
///
/// # Safety
/// Called by compiled code only, with the JIT ABI.
pub unsafe extern "C" fn rt_op(ctx: *mut Context, _base: *mut Value, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            let Some(&top) = vm.frames.last() else {
                return stop(vm, Stop::Fatal("internal error: helper without a frame".into()));
            };
            match vm.exec_op(top.func, pc as u32, top.base) {
                Ok(()) => ST_RETURN,
                Err(OpErr::Raise(msg)) => {
                    vm.set_pending_error(&msg, top.func, pc as u32);
                    ST_EXCEPTION
                }
                Err(OpErr::Exit(code)) => stop(vm, Stop::Exit(code)),
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
pub unsafe extern "C" fn rt_overflow_at(ctx: *mut Context, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| match vm.frames.last() {
            Some(&top) => {
                vm.set_pending_error(STACK_OVERFLOW, top.func, pc as u32);
                ST_EXCEPTION
            }
            None => stop(vm, Stop::Fatal("stack overflow".into())),
        })
    }
}

/// A compiled function found on entry that the native stack is exhausted: pop
/// its record and raise `stack overflow` in the caller, at the call (as the VM's
/// calls do). Returns 1.
///
/// # Safety
/// Called by compiled code only.
pub unsafe extern "C" fn rt_overflow(ctx: *mut Context, _base: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe { with_vm(ctx, raise_overflow_in_caller) }
}

/// Pop the innermost frame and make `stack overflow` the pending exception of its
/// caller, at the caller's current pc.
fn raise_overflow_in_caller(vm: &mut Vm<'_>) -> u64 {
    vm.frames.pop();
    match vm.frames.last() {
        Some(&caller) => {
            vm.set_pending_error(STACK_OVERFLOW, caller.func, caller.pc);
            ST_EXCEPTION
        }
        None => stop(vm, Stop::Fatal("stack overflow".into())),
    }
}

/// Re-entry at an unknown pc (a JIT bug). Returns 2.
///
/// # Safety
/// Called by compiled code only.
pub unsafe extern "C" fn rt_bad_reentry(ctx: *mut Context, enc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            stop(
                vm,
                Stop::Fatal(format!(
                    "internal error: compiled code re-entered at unknown pc {}",
                    enc.wrapping_sub(1)
                )),
            )
        })
    }
}

/// `fmod(a, b)` (the VM's `ModF`).
pub extern "C" fn rt_fmod(a: f64, b: f64) -> f64 {
    catch_unwind(|| crate::vm::ops::arith::fmod(a, b)).unwrap_or(f64::NAN)
}

/// The write barrier's slow path: compiled code stored a reference into `obj`,
/// an old object not in the remembered set yet (`heap::write_barrier`).
///
/// # Safety
/// Called by compiled code only; `obj` is a live object of the running VM's
/// heap.
pub unsafe extern "C" fn rt_write_barrier(obj: u64) -> u64 {
    // (It cannot panic; a panic must not unwind into compiled code.)
    let _ = catch_unwind(|| {
        // SAFETY: the caller's contract.
        unsafe { bp_runtime::heap::write_barrier(Value(obj).as_ptr()) }
    });
    0
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

/// `NewArray`, `NewTuple`, `NewStruct` or `NewObject` (the [`NewKind`] in bits
/// 32.. of `info`) of call site `site` (for `NewObject`: the class layout id in
/// place of the pointer) from compiled code, without decoding the instruction: the
/// elements are `args[0..n]` (`n` = the low 32 bits of `info`); the new object goes
/// to `args[0]`. Then the VM's safepoint, with the object rooted. Returns 0 (2 on
/// an internal error).
///
/// # Safety
/// Called by compiled code only; `site` points to the call site of the
/// instruction in the running program, `args` is valid for `max(n, 1)` values.
pub unsafe extern "C" fn rt_new(
    ctx: *mut Context,
    site: *const CallSite,
    args: *mut Value,
    info: u64,
    _pc: u64,
) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            // SAFETY: for the kinds with a call site, the translator embedded the
            // address of a call site of the program, which outlives the compiled
            // code (dereferenced only in those arms); `args` holds `n` values.
            let a = std::slice::from_raw_parts(args, info as u32 as usize);
            let heap = &mut vm.rt.heap;
            const ARRAY: u64 = NewKind::Array as u64;
            const TUPLE: u64 = NewKind::Tuple as u64;
            const STRUCT: u64 = NewKind::Struct as u64;
            const OBJECT: u64 = NewKind::Object as u64;
            const CELL: u64 = NewKind::Cell as u64;
            let v = match info >> 32 {
                ARRAY => objects::new_array(heap, &*site, a),
                TUPLE => objects::new_tuple(heap, &*site, a),
                STRUCT => objects::new_struct(heap, vm.program, &*site, a),
                OBJECT => objects::new_object(heap, vm.program, site as usize as u32),
                CELL => match a.first() {
                    Some(&v) => objects::new_cell(heap, v, site as usize as u8),
                    None => return internal_error(vm, "a cell without its value in rt_new"),
                },
                _ => return internal_error(vm, "unknown object kind in rt_new"),
            };
            vm.safepoint_rooting(Some(v));
            // SAFETY: `args` has room for at least one value.
            *args = v;
            ST_RETURN
        })
    }
}

/// `MapGet`, `MapSet`, `Concat` or `ToStr` (the [`ObjOp`] `op`, which names the
/// operands in `args`; `kind` is `ToStr`'s value kind) from compiled code, with the same `vm::ops::objects` functions and safepoints as the
/// interpreter but no instruction decoding; the result (if any) goes to `args[0]`,
/// rooted while the collector runs (the operands are references in their frame
/// slots, or scalars). Returns 0, 1 (raised; pending at `pc`) or 2.
///
/// # Safety
/// Called by compiled code only; `args` is valid for the operation's operands.
pub unsafe extern "C" fn rt_obj(ctx: *mut Context, op: u64, args: *mut Value, kind: u64, pc: u64) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
            // SAFETY: the compiled caller stored the operation's operands to `args`.
            let arg = |i: usize| *args.add(i);
            let heap = &mut vm.rt.heap;
            const MAP_GET: u64 = ObjOp::MapGet as u64;
            const MAP_SET: u64 = ObjOp::MapSet as u64;
            const CONCAT: u64 = ObjOp::Concat as u64;
            const TO_STR: u64 = ObjOp::ToStr as u64;
            const CONCAT_N: u64 = ObjOp::ConcatN as u64;
            const APPEND_N: u64 = ObjOp::AppendN as u64;
            let r = match op {
                MAP_GET => objects::map_get(arg(0), arg(1)).map(Some),
                // SAFETY: the translator passes a map register of the verified
                // function as operand 0: null or a live map.
                MAP_SET => objects::map_set(heap, arg(0), arg(1), arg(2)).map(|()| None),
                CONCAT => objects::concat(heap, arg(0), arg(1)).map(Some),
                TO_STR => objects::to_str(heap, arg(0), ValKind::from_u8(kind as u8)).map(Some),
                // `kind`: the number of parts | the mask of int parts << 8.
                CONCAT_N | APPEND_N if kind & 0xff <= objects::FEW_PARTS as u64 => {
                    // SAFETY: the compiled caller stored the parts to `args`, each
                    // of the kind its mask bit says (the site's kinds); with
                    // `AppendN`, only the destination refers to the first.
                    let parts = std::slice::from_raw_parts(args, (kind & 0xff) as usize);
                    objects::concat_few(heap, parts, kind >> 8, op == APPEND_N).map(Some)
                }
                CONCAT_N | APPEND_N => {
                    // `kind`: the number of parts | the mask of int parts << 8.
                    let n = ((kind & 0xff) as usize).min(CONCAT_MAX_PARTS);
                    let mut kinds = [ValKind::Ref; CONCAT_MAX_PARTS];
                    for (i, k) in kinds[..n].iter_mut().enumerate() {
                        if (kind >> 8) >> i & 1 != 0 {
                            *k = ValKind::Int;
                        }
                    }
                    // SAFETY: the compiled caller stored the `n` parts to `args`,
                    // each of the kind its mask bit says (the site's kinds).
                    let parts = std::slice::from_raw_parts(args, n);
                    objects::concat_n(heap, parts, &kinds[..n]).map(Some)
                }
                _ => return internal_error(vm, "unknown operation in rt_obj"),
            };
            match r {
                Ok(v) => {
                    // `MapGet` allocates nothing: no safepoint, as in the VM.
                    if op != MAP_GET {
                        vm.safepoint_rooting(v);
                    }
                    if let Some(v) = v {
                        // SAFETY: `args` has room for the result (operand 0).
                        *args = v;
                    }
                    ST_RETURN
                }
                Err(msg) => {
                    // A missing key is reported with the key, as the VM does.
                    let msg = match op {
                        MAP_GET => objects::access_error(arg(0), arg(1), msg),
                        _ => msg.to_string(),
                    };
                    let fid = vm.frames.last().map_or(0, |f| f.func);
                    vm.set_pending_error(&msg, fid, pc as u32);
                    ST_EXCEPTION
                }
            }
        })
    }
}

/// `MapSet`'s leaf twin: `args = [map, key, value]` overwrites a key or inserts
/// one in the room the map has; declines on a null map, on a new key when the
/// map is full (it must grow, which allocates and is accounted to the heap), and
/// at the length limit (`rt_obj` decides between an overwrite and the error),
/// and the compiled caller then takes `rt_obj`. No safepoint: nothing is allocated.
///
/// # Safety
/// Called by compiled code only; `args` holds a map register's value (null or a
/// live map), a key of its key kind and a value of its value kind.
pub unsafe extern "C" fn rt_map_set(args: *mut Value) -> u64 {
    // SAFETY: the caller's contract.
    unsafe {
        leaf(args, |a| {
            objects::map_store(*a, *a.add(1), *a.add(2)).map(|()| *a)
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
    ctx: *mut Context,
    id: u64,
    args: *mut Value,
    nargs: u64,
    pc: u64,
) -> u64 {
    // SAFETY: forwarded from the caller (the JIT ABI).
    unsafe {
        with_vm(ctx, |vm| {
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
                Err(RtError::Exit(code)) => stop(vm, Stop::Exit(code)),
            }
        })
    }
}
