//! The dispatch loop: one `match` over [`Instr`] that runs every frame.
//!
//! The current frame's function, code, constants and register window are cached
//! in locals and reloaded only when the innermost frame changes (call, return,
//! caught exception). Unchecked accesses rely on the facts established by
//! [`super::verify`] and on the register-stack slack (see [`super::frame`]).

use super::frame::FnView;
use super::ops::arith;
use super::ops::calls::STACK_OVERFLOW;
use super::ops::objects;
use super::tiering::{LoopAction, Outcome};
use super::{Stop, Vm};
use crate::bytecode::{CallSite, Instr, Program};
use bp_runtime::heap::{as_closure, obj_kind, ObjKind};
use bp_runtime::rt::RtError;
use bp_runtime::value::{ValKind, Value};

impl<'p> Vm<'p> {
    /// Run the innermost frame (and everything it calls) until the frame at depth
    /// `entry_depth` returns (`Ok` with its result), `exit` is called, or an
    /// exception escapes that frame.
    ///
    /// `resumed`: the entry frame is a deoptimized compiled frame (called from
    /// `rt_resume`), whose code can take it back at the headers of the loops in
    /// the set (the tier's encoding, passed on to [`TierHooks::hot_loop`]): when
    /// it reaches one of them hot, the interpreter returns
    /// `Err(Stop::Reenter(pc))` to that code.
    ///
    /// [`TierHooks::hot_loop`]: super::tiering::TierHooks::hot_loop
    // `!(a < b)` on floats is deliberate: it is true for NaN (`BrNotLtF`).
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub(crate) fn interp(&mut self, entry_depth: usize, resumed: Option<u64>) -> Result<Value, Stop> {
        let program: &'p Program = self.program;
        let stack: *mut Value = self.stack.as_ptr();
        let globals: *mut Value = self.globals.as_mut_ptr();
        // Without a tier: count back-edges, never call the hook.
        let hot_loop = self.tier.loop_threshold();
        let entry_table: *const usize = self.tier.entry;
        let not_compiled: usize = self.tier.not_compiled;

        let views: *const FnView<'p> = self.fn_views.as_ptr();
        let mut fid: usize;
        // The current function's view (`Vm::fn_views`): its code, constants,
        // loop counters and register count, read through `view!()`.
        let mut view: *const FnView<'p>;
        let mut code: *const Instr;
        let mut base_idx: usize;
        let mut base: *mut Value;
        let mut pc: usize;
        // The closure of the current frame, if its function takes one (a copy of
        // its closure register, which the verifier lets nothing overwrite).
        let mut closure: Value;

        // Load frame (function `fid`, registers from `base_idx`, at `pc`) into the
        // locals; `closure` from the frame's closure register, or as given when
        // the caller has it at hand (a closure call), which keeps the callee's
        // `GetCapture` from waiting for the register just stored.
        macro_rules! enter_frame {
            ($fid:expr, $base_idx:expr, $pc:expr) => {{
                enter_frame!(@locals $fid, $base_idx, $pc);
                closure = match view!().closure_reg {
                    Some(r) => reg!(r),
                    None => Value::NULL,
                };
            }};
            ($fid:expr, $base_idx:expr, $pc:expr, $closure:expr) => {{
                enter_frame!(@locals $fid, $base_idx, $pc);
                closure = $closure;
            }};
            (@locals $fid:expr, $base_idx:expr, $pc:expr) => {{
                fid = $fid;
                // SAFETY: frames are only pushed for valid function ids (checked in
                // `push_frame` and `call_function`); there is one view per function.
                view = unsafe { views.add(fid) };
                code = view!().code;
                base_idx = $base_idx;
                // SAFETY: frames are only pushed with `base + nregs <= stack.limit()`.
                base = unsafe { stack.add(base_idx) };
                pc = $pc;
            }};
        }
        // Load the innermost frame into the locals.
        macro_rules! enter_top {
            () => {{
                let f = match self.frames.last() {
                    Some(f) => *f,
                    None => return Err(Stop::Fatal("internal error: no frame to run".into())),
                };
                enter_frame!(f.func as usize, f.base, f.pc as usize);
            }};
        }
        // The current function's view.
        macro_rules! view {
            () => {{
                // SAFETY: `view` points into `self.fn_views`, which lives as long as
                // the VM and is never changed after it is made. (Also used inside
                // other `unsafe` blocks.)
                #[allow(unused_unsafe)]
                let v: &FnView<'p> = unsafe { &*view };
                v
            }};
        }
        // Read register `r` of the current frame.
        macro_rules! reg {
            ($r:expr) => {
                // SAFETY: `base <= stack.limit()` and a `u8` register index is below
                // REG_SLACK, so the slot is inside the register stack.
                unsafe { *base.add($r as usize) }
            };
        }
        // Write register `r` of the current frame.
        macro_rules! set {
            ($r:expr, $v:expr) => {{
                let v: Value = $v;
                // SAFETY: as for `reg!`.
                unsafe { *base.add($r as usize) = v }
            }};
        }
        // Call site `s` of the current function.
        macro_rules! site {
            ($s:expr) => {{
                // SAFETY: the verifier checked every site index against `sites.len()`.
                let s: &'p CallSite = unsafe { &*view!().sites.add($s as usize) };
                s
            }};
        }
        // Copy the argument registers of a site into `self.arg_buf`.
        // (`extend` of an exact-size iterator reserves once; a `push` per argument
        // stored the length to the VM each time.)
        macro_rules! gather {
            ($s:expr) => {{
                self.arg_buf.clear();
                self.arg_buf.extend($s.args.iter().map(|&r| reg!(r)));
            }};
        }
        // Handle the outcome of raising an exception at the current instruction.
        macro_rules! after_raise {
            ($res:expr) => {{
                match $res {
                    Ok(()) => {
                        enter_top!();
                        continue;
                    }
                    Err(stop) => return Err(stop),
                }
            }};
        }
        // Raise the runtime error with message `msg` at the current instruction.
        macro_rules! raise {
            ($msg:expr) => {{
                let msg: &str = $msg;
                after_raise!(self.raise_error(msg, pc - 1, entry_depth))
            }};
        }
        // Unwrap a helper result or raise its error.
        macro_rules! tri {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(m) => raise!(m),
                }
            };
        }
        // A GC safepoint: in the arms of exactly the instructions whose
        // `Op::allocates` is true (a unit test in `bytecode/props.rs` checks the arms).
        macro_rules! safepoint {
            () => {
                if self.rt.heap.wants_gc() {
                    self.collect_garbage();
                }
            };
        }
        macro_rules! int_op {
            ($dst:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
                let $x = reg!($a).as_int();
                let $y = reg!($b).as_int();
                set!($dst, Value::int($e));
            }};
        }
        macro_rules! float_op {
            ($dst:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
                let $x = reg!($a).as_float();
                let $y = reg!($b).as_float();
                set!($dst, Value::float($e));
            }};
        }
        macro_rules! cmp_i {
            ($dst:expr, $a:expr, $b:expr, $op:tt) => {{
                let c = reg!($a).as_int() $op reg!($b).as_int();
                set!($dst, Value::bool(c));
            }};
        }
        macro_rules! cmp_f {
            ($dst:expr, $a:expr, $b:expr, $op:tt) => {{
                let c = reg!($a).as_float() $op reg!($b).as_float();
                set!($dst, Value::bool(c));
            }};
        }
        // Run the compiled code `code` for the frame just pushed at `new_base` (a call
        // of `callee` whose result goes to `dst`), then continue after the call.
        macro_rules! call_compiled {
            ($code:expr, $new_base:expr, $dst:expr, $callee:expr) => {{
                match self.call_compiled($code, $new_base, 0) {
                    Outcome::Returned(v) => {
                        // SAFETY: the verifier checked the callee id.
                        let returns = unsafe { program.functions.get_unchecked($callee as usize) }
                            .ret_kind
                            .is_some();
                        if returns {
                            set!($dst, v);
                        }
                    }
                    Outcome::Exception => after_raise!(self.unwind_pending(entry_depth)),
                    Outcome::Stop(s) => return Err(s),
                    Outcome::Overflow => {
                        self.frames.pop();
                        raise!(STACK_OVERFLOW);
                    }
                }
            }};
        }
        // Run the frame just pushed for function `callee`: its compiled code if it
        // has some (then go on with the next instruction), else the interpreter.
        macro_rules! run_callee {
            ($callee:expr, $new_base:expr, $dst:expr $(, $closure:expr)?) => {{
                if !entry_table.is_null() {
                    // SAFETY: the entry table has one slot per function, and callee
                    // ids are valid (verified sites, checked closure ids, method
                    // tables built by the compiler from the checker's ids).
                    let code = unsafe { super::tiering::read_entry(entry_table, $callee as usize) };
                    if code != not_compiled {
                        call_compiled!(code, $new_base, $dst, $callee);
                        continue;
                    }
                }
                // The frame `push_frame` just pushed, known without reading it back.
                enter_frame!($callee as usize, $new_base, 0 $(, $closure)?);
            }};
        }
        macro_rules! jump_if {
            ($c:expr, $t:expr) => {
                if $c {
                    pc = $t as usize;
                }
            };
        }

        // A back-edge to the loop header `target` (`Loop`, and `ForLoop` when it
        // jumps): count it toward the hotness of loop `loop_id`, jump, and when the
        // loop is hot let the tier compile it and enter it (OSR), or re-enter the
        // compiled code of a deoptimized frame.
        macro_rules! back_edge {
            ($target:expr, $loop_id:expr) => {{
                let target: u32 = $target;
                let loop_id = $loop_id as usize;
                // SAFETY: the verifier checked `loop_id < num_loops`, the length of
                // this function's counter vector, which is never resized.
                let c = unsafe { &mut *view!().loop_ctrs.add(loop_id) };
                *c = c.saturating_add(1);
                pc = target as usize;
                if *c >= hot_loop {
                    let is_entry = self.frames.len() == entry_depth + 1;
                    let resumed = if is_entry { resumed } else { None };
                    match self.tier_hot_loop(fid, loop_id, target, resumed) {
                        LoopAction::Continue => {}
                        LoopAction::Reenter => {
                            self.frames.set_top_pc(target);
                            return Err(Stop::Reenter(target));
                        }
                        LoopAction::Ran { outcome, dst } => match outcome {
                            // The compiled code ran this frame to its end and
                            // popped it: continue as after `Ret`.
                            Outcome::Returned(v) => {
                                let returns = view!().func.ret_kind.is_some();
                                if self.frames.len() <= entry_depth {
                                    return Ok(v);
                                }
                                enter_top!();
                                pc += 1;
                                if returns {
                                    set!(dst, v);
                                }
                            }
                            Outcome::Exception => after_raise!(self.unwind_pending(entry_depth)),
                            Outcome::Stop(s) => return Err(s),
                            Outcome::Overflow => {}
                        },
                    }
                }
            }};
        }

        enter_top!();
        loop {
            // Matched through a reference, not copied: a copy makes the compiler
            // load and decode every field of the 8-byte instruction before the
            // jump (17 machine instructions per dispatch); through a reference each
            // arm loads only the fields it uses (8). See docs/benchmarks.md,
            // "Interpreter dispatch".
            // SAFETY: `pc < code.len()`: it starts at 0 or at a verified jump/handler
            // target, or follows a non-terminator (the last instruction of every
            // function is an unconditional terminator, checked by the verifier).
            let ins: &Instr = unsafe { &*code.add(pc) };
            pc += 1;
            match *ins {
                // ----- moves and constants -----
                Instr::Mov { dst, src } => set!(dst, reg!(src)),
                Instr::LoadInt { dst, imm } => set!(dst, Value::int(imm as i64)),
                Instr::LoadConst { dst, k } => {
                    // SAFETY: the verifier checked `k < consts.len()`; the pool is
                    // materialised with one value per constant.
                    set!(dst, unsafe { *view!().consts.add(k as usize) })
                }
                Instr::LoadBool { dst, val } => set!(dst, Value::bool(val)),
                Instr::LoadNull { dst } => set!(dst, Value::NULL),
                Instr::GetGlobal { dst, idx } => {
                    // SAFETY: the verifier checked `idx < globals.len()`; the globals
                    // vector is never resized after load.
                    set!(dst, unsafe { *globals.add(idx as usize) })
                }
                Instr::SetGlobal { src, idx } => {
                    let v = reg!(src);
                    // SAFETY: as for `GetGlobal`.
                    unsafe { *globals.add(idx as usize) = v }
                }

                // ----- integer arithmetic -----
                Instr::AddI { dst, a, b } => int_op!(dst, a, b, |x, y| x.wrapping_add(y)),
                Instr::SubI { dst, a, b } => int_op!(dst, a, b, |x, y| x.wrapping_sub(y)),
                Instr::MulI { dst, a, b } => int_op!(dst, a, b, |x, y| x.wrapping_mul(y)),
                Instr::DivI { dst, a, b } => {
                    let r = tri!(arith::div_i(reg!(a).as_int(), reg!(b).as_int()));
                    set!(dst, Value::int(r));
                }
                Instr::ModI { dst, a, b } => {
                    let r = tri!(arith::mod_i(reg!(a).as_int(), reg!(b).as_int()));
                    set!(dst, Value::int(r));
                }
                Instr::AddIImm { dst, a, imm } => {
                    set!(dst, Value::int(reg!(a).as_int().wrapping_add(imm as i64)))
                }
                Instr::MulIImm { dst, a, imm } => {
                    set!(dst, Value::int(reg!(a).as_int().wrapping_mul(imm as i64)))
                }
                Instr::DivIImm { dst, a, imm } => {
                    let r = tri!(arith::div_i(reg!(a).as_int(), imm as i64));
                    set!(dst, Value::int(r));
                }
                Instr::ModIImm { dst, a, imm } => {
                    let r = tri!(arith::mod_i(reg!(a).as_int(), imm as i64));
                    set!(dst, Value::int(r));
                }
                Instr::AddModIImm { dst, a, b, imm } => {
                    let r = tri!(arith::add_mod_i(reg!(a).as_int(), reg!(b).as_int(), imm as i64));
                    set!(dst, Value::int(r));
                }
                Instr::MulModIImm { dst, a, b, imm } => {
                    let r = tri!(arith::mul_mod_i(reg!(a).as_int(), reg!(b).as_int(), imm as i64));
                    set!(dst, Value::int(r));
                }
                Instr::BitAndImm { dst, a, imm } => set!(dst, Value::int(reg!(a).as_int() & imm as i64)),
                Instr::BitOrImm { dst, a, imm } => set!(dst, Value::int(reg!(a).as_int() | imm as i64)),
                Instr::BitXorImm { dst, a, imm } => set!(dst, Value::int(reg!(a).as_int() ^ imm as i64)),
                Instr::ShlImm { dst, a, imm } => {
                    set!(dst, Value::int(arith::shl(reg!(a).as_int(), imm as i64)))
                }
                Instr::ShrImm { dst, a, imm } => {
                    set!(dst, Value::int(arith::shr(reg!(a).as_int(), imm as i64)))
                }
                Instr::NegI { dst, src } => set!(dst, Value::int(reg!(src).as_int().wrapping_neg())),
                Instr::BitAnd { dst, a, b } => int_op!(dst, a, b, |x, y| x & y),
                Instr::BitOr { dst, a, b } => int_op!(dst, a, b, |x, y| x | y),
                Instr::BitXor { dst, a, b } => int_op!(dst, a, b, |x, y| x ^ y),
                Instr::Shl { dst, a, b } => int_op!(dst, a, b, |x, y| arith::shl(x, y)),
                Instr::Shr { dst, a, b } => int_op!(dst, a, b, |x, y| arith::shr(x, y)),
                Instr::BitNot { dst, src } => set!(dst, Value::int(!reg!(src).as_int())),

                // ----- float arithmetic -----
                Instr::AddF { dst, a, b } => float_op!(dst, a, b, |x, y| x + y),
                Instr::SubF { dst, a, b } => float_op!(dst, a, b, |x, y| x - y),
                Instr::MulF { dst, a, b } => float_op!(dst, a, b, |x, y| x * y),
                Instr::DivF { dst, a, b } => float_op!(dst, a, b, |x, y| x / y),
                Instr::ModF { dst, a, b } => float_op!(dst, a, b, |x, y| arith::fmod(x, y)),
                Instr::NegF { dst, src } => set!(dst, Value::float(-reg!(src).as_float())),

                // ----- comparisons -----
                Instr::EqI { dst, a, b } => cmp_i!(dst, a, b, ==),
                Instr::NeI { dst, a, b } => cmp_i!(dst, a, b, !=),
                Instr::LtI { dst, a, b } => cmp_i!(dst, a, b, <),
                Instr::LeI { dst, a, b } => cmp_i!(dst, a, b, <=),
                Instr::EqF { dst, a, b } => cmp_f!(dst, a, b, ==),
                Instr::NeF { dst, a, b } => cmp_f!(dst, a, b, !=),
                Instr::LtF { dst, a, b } => cmp_f!(dst, a, b, <),
                Instr::LeF { dst, a, b } => cmp_f!(dst, a, b, <=),
                Instr::EqRef { dst, a, b } => {
                    let (x, y) = (reg!(a), reg!(b));
                    // SAFETY: a register holds a value of its static type (type
                    // checker), live while a root: `a`, `b` are null or live objects.
                    let c = unsafe { bp_runtime::heap::values_equal(x, y, ValKind::Ref) };
                    set!(dst, Value::bool(c));
                }
                Instr::NeRef { dst, a, b } => {
                    let (x, y) = (reg!(a), reg!(b));
                    // SAFETY: as `EqRef`.
                    let c = unsafe { bp_runtime::heap::values_equal(x, y, ValKind::Ref) };
                    set!(dst, Value::bool(!c));
                }
                Instr::EqStr { dst, a, b } => {
                    let (x, y) = (reg!(a), reg!(b));
                    // SAFETY: as `EqRef`; the registers hold strings.
                    let c = unsafe { bp_runtime::heap::strs_equal(x, y) };
                    set!(dst, Value::bool(c));
                }
                Instr::NeStr { dst, a, b } => {
                    let (x, y) = (reg!(a), reg!(b));
                    // SAFETY: as `EqStr`.
                    let c = unsafe { bp_runtime::heap::strs_equal(x, y) };
                    set!(dst, Value::bool(!c));
                }
                Instr::Not { dst, src } => set!(dst, Value::bool(!reg!(src).as_bool())),

                // ----- control flow -----
                Instr::Jmp { target } => pc = target as usize,
                Instr::Loop { target, loop_id } => back_edge!(target, loop_id),
                Instr::ForLoop {
                    ctr,
                    limit,
                    loop_id,
                    target,
                } => {
                    let i = reg!(ctr).as_int().wrapping_add(1);
                    set!(ctr, Value::int(i));
                    if i < reg!(limit).as_int() {
                        back_edge!(target, loop_id);
                    }
                }
                Instr::JmpIf { cond, target } => jump_if!(reg!(cond).as_bool(), target),
                Instr::JmpIfNot { cond, target } => jump_if!(!reg!(cond).as_bool(), target),
                Instr::BrEqI { a, b, target } => jump_if!(reg!(a).as_int() == reg!(b).as_int(), target),
                Instr::BrNeI { a, b, target } => jump_if!(reg!(a).as_int() != reg!(b).as_int(), target),
                Instr::BrLtI { a, b, target } => jump_if!(reg!(a).as_int() < reg!(b).as_int(), target),
                Instr::BrLeI { a, b, target } => jump_if!(reg!(a).as_int() <= reg!(b).as_int(), target),
                Instr::BrEqIImm { a, imm, target } => jump_if!(reg!(a).as_int() == imm as i64, target),
                Instr::BrNeIImm { a, imm, target } => jump_if!(reg!(a).as_int() != imm as i64, target),
                Instr::BrLtIImm { a, imm, target } => jump_if!(reg!(a).as_int() < imm as i64, target),
                Instr::BrLeIImm { a, imm, target } => jump_if!(reg!(a).as_int() <= imm as i64, target),
                Instr::BrGtIImm { a, imm, target } => jump_if!(reg!(a).as_int() > imm as i64, target),
                Instr::BrGeIImm { a, imm, target } => jump_if!(reg!(a).as_int() >= imm as i64, target),
                Instr::BrLtF { a, b, target } => jump_if!(reg!(a).as_float() < reg!(b).as_float(), target),
                Instr::BrLeF { a, b, target } => jump_if!(reg!(a).as_float() <= reg!(b).as_float(), target),
                Instr::BrNotLtF { a, b, target } => {
                    jump_if!(!(reg!(a).as_float() < reg!(b).as_float()), target)
                }
                Instr::BrNotLeF { a, b, target } => {
                    jump_if!(!(reg!(a).as_float() <= reg!(b).as_float()), target)
                }

                // ----- calls -----
                Instr::Call { dst, site } => {
                    let s = site!(site);
                    let new_base = base_idx + view!().nregs;
                    // SAFETY: the verifier checked the site's target (a function of
                    // the program, which has a view) and that it passes exactly
                    // `nparams <= nregs` arguments; the dispatch loop runs the
                    // innermost frame.
                    tri!(unsafe {
                        self.push_frame_of(
                            s.target,
                            views.add(s.target as usize),
                            base_idx,
                            new_base,
                            &s.args,
                            dst,
                            pc - 1,
                            false,
                        )
                    });
                    run_callee!(s.target, new_base, dst);
                }
                Instr::CallIndirect { dst, site } => {
                    let s = site!(site);
                    let clo = reg!(s.target as u8);
                    if clo.is_null() {
                        raise!("null reference: calling a null function value");
                    }
                    // SAFETY: `s.target` is a register of function type (type
                    // checker): non-null here, so a live object.
                    if unsafe { obj_kind(clo) } != ObjKind::Closure {
                        raise!("internal error: calling a value that is not a function");
                    }
                    // SAFETY: a live closure (checked just above).
                    let callee = unsafe { as_closure(clo) }.func;
                    // Only a compiling tier reads the feedback.
                    if !entry_table.is_null() {
                        view!().func.call_feedback.note(site, callee);
                    }
                    if callee as usize >= program.functions.len() {
                        raise!("internal error: a closure of an unknown function");
                    }
                    // SAFETY: one view per function (checked just above).
                    let callee_view = unsafe { views.add(callee as usize) };
                    // SAFETY: as just above.
                    if unsafe { (*callee_view).nparams } as usize != s.args.len() {
                        raise!("internal error: closure arity mismatch");
                    }
                    let new_base = base_idx + view!().nregs;
                    // SAFETY: `callee` is a function of the program (just looked
                    // up), `callee_view` its view, and it takes exactly the site's
                    // arguments, and the verifier checked `nparams <= nregs` for
                    // every function; the dispatch loop runs the innermost frame.
                    tri!(unsafe {
                        self.push_frame_of(
                            callee,
                            callee_view,
                            base_idx,
                            new_base,
                            &s.args,
                            dst,
                            pc - 1,
                            true,
                        )
                    });
                    // A lambda with captures finds its closure in the register after
                    // its parameters (it reads the captures from it: `GetCapture`).
                    // SAFETY: the callee's window (at least `nparams + 1` registers
                    // for a lambda with captures, which the compiler allocates) was
                    // checked against the stack by `push_frame`; a function without
                    // captures never reads it, and the slot is inside the stack's
                    // slack beyond any window.
                    unsafe { *stack.add(new_base + s.args.len()) = clo };
                    // The callee's closure (if it takes one) is `clo`, whether it
                    // reads it or not.
                    run_callee!(callee, new_base, dst, clo);
                }
                Instr::CallBuiltin { dst, site } | Instr::CallExtern { dst, site } => {
                    let s = site!(site);
                    gather!(s);
                    let is_extern = matches!(ins, Instr::CallExtern { .. });
                    // SAFETY: as below.
                    let twin = (!is_extern)
                        .then(|| unsafe { self.call_leaf_twin(s.target) })
                        .flatten();
                    if let Some(v) = twin {
                        // (A leaf twin allocates nothing: no safepoint.)
                        if let Some(v) = v {
                            set!(dst, v);
                        }
                        continue;
                    }
                    // SAFETY: `arg_buf` holds the call's argument registers, which
                    // match the callee's signature (type checker).
                    match unsafe { self.call_native(is_extern, s.target) } {
                        Ok(v) => {
                            if let Some(v) = v {
                                set!(dst, v);
                            }
                            safepoint!();
                        }
                        Err(RtError::Error(m)) => raise!(&m),
                        Err(RtError::Exit(code)) => {
                            self.frames.set_top_pc((pc - 1) as u32);
                            return Err(Stop::Exit(code));
                        }
                    }
                }
                Instr::Ret { src } => {
                    let v = reg!(src);
                    if self.frames.len() <= entry_depth + 1 {
                        self.frames.pop();
                        return Ok(v);
                    }
                    // SAFETY: the frame stack holds this frame and, above the
                    // entry depth, its caller.
                    let (done, caller) = unsafe { self.frames.pop_to_caller() };
                    enter_frame!(caller.func as usize, caller.base, caller.pc as usize + 1);
                    set!(done.dst, v);
                }
                Instr::RetVoid => {
                    if self.frames.len() <= entry_depth + 1 {
                        self.frames.pop();
                        return Ok(Value::NULL);
                    }
                    // SAFETY: as for `Ret`.
                    let (_, caller) = unsafe { self.frames.pop_to_caller() };
                    enter_frame!(caller.func as usize, caller.base, caller.pc as usize + 1);
                }

                // ----- strings and output -----
                Instr::Concat { dst, a, b } => {
                    let (x, y) = (reg!(a), reg!(b));
                    // SAFETY: `a`, `b` are `str` registers (type checker): null or live strings.
                    let v = tri!(unsafe { objects::concat(&mut self.rt.heap, x, y) });
                    set!(dst, v);
                    safepoint!();
                }
                Instr::ConcatN { dst, site } => {
                    let s = site!(site);
                    gather!(s);
                    // SAFETY: the site's kinds are the static kinds of its registers
                    // (compiler; empty: all strings), a string null or live.
                    let v = tri!(unsafe { objects::concat_n(&mut self.rt.heap, &self.arg_buf, &s.kinds) });
                    set!(dst, v);
                    safepoint!();
                }
                Instr::ToStr { dst, src, kind } => {
                    let x = reg!(src);
                    // SAFETY: `kind` is the kind of `src`'s static type (compiler):
                    // a reference is null or a live object.
                    let v = tri!(unsafe { objects::to_str(&mut self.rt.heap, x, ValKind::from_u8(kind)) });
                    set!(dst, v);
                    safepoint!();
                }
                Instr::Print { site } => {
                    let s = site!(site);
                    gather!(s);
                    // SAFETY: the site's kinds are the static kinds of its registers
                    // (compiler): each reference is null or a live object.
                    tri!(unsafe { objects::print(&mut self.rt.out, &self.arg_buf, &s.kinds) });
                    // Stdout cannot be written: stop (no `try` may swallow it).
                    if let Err(code) = self.maybe_flush() {
                        self.frames.set_top_pc((pc - 1) as u32);
                        return Err(Stop::Exit(code));
                    }
                }

                // ----- arrays, maps, tuples, structs, closures -----
                Instr::NewArray { dst, site } => {
                    let s = site!(site);
                    gather!(s);
                    let v = objects::new_array(&mut self.rt.heap, s, &self.arg_buf);
                    set!(dst, v);
                    safepoint!();
                }
                Instr::ArrGet { dst, arr, idx, elem } => {
                    let (a, i) = (reg!(arr), reg!(idx));
                    // SAFETY: `arr` is an array register (type checker): null or a
                    // live array, of element kind `elem` (its static type's).
                    match unsafe { objects::arr_get(a, i, elem) } {
                        Ok(v) => set!(dst, v),
                        // SAFETY: as above.
                        Err(m) => raise!(&unsafe { objects::access_error(a, i, m) }),
                    }
                }
                Instr::ArrSet { arr, idx, src, elem } => {
                    let (a, i, v) = (reg!(arr), reg!(idx), reg!(src));
                    // SAFETY: the verifier types `arr` as an array register: null or a
                    // live array, of element kind `elem` (its static type's).
                    if let Err(m) = unsafe { objects::arr_set(a, i, v, elem) } {
                        // SAFETY: as above.
                        raise!(&unsafe { objects::access_error(a, i, m) })
                    }
                }
                Instr::ArrLen { dst, arr } => {
                    let a = reg!(arr);
                    // SAFETY: as `ArrGet`.
                    set!(dst, tri!(unsafe { objects::arr_len(a) }))
                }
                Instr::NewMap { dst, site } => {
                    let s = site!(site);
                    gather!(s);
                    // SAFETY: the keys are registers of the map's key type (type
                    // checker): a reference key is null or a live object.
                    let v = unsafe { objects::new_map(&mut self.rt.heap, s.target, &self.arg_buf) };
                    set!(dst, v);
                    safepoint!();
                }
                Instr::MapGet { dst, map, key } => {
                    let (m, k) = (reg!(map), reg!(key));
                    // SAFETY: `map` is a map register and `key` of its key type
                    // (type checker): null or live objects.
                    match unsafe { objects::map_get(m, k) } {
                        Ok(v) => set!(dst, v),
                        // SAFETY: as above.
                        Err(e) => raise!(&unsafe { objects::access_error(m, k, e) }),
                    }
                }
                Instr::MapSet { map, key, val } => {
                    let (m, k, v) = (reg!(map), reg!(key), reg!(val));
                    // SAFETY: the verifier types `map` as a map register: null or a live map.
                    tri!(unsafe { objects::map_set(&mut self.rt.heap, m, k, v) });
                    safepoint!();
                }
                Instr::NewTuple { dst, site } => {
                    let s = site!(site);
                    gather!(s);
                    let v = objects::new_tuple(&mut self.rt.heap, s, &self.arg_buf);
                    set!(dst, v);
                    safepoint!();
                }
                Instr::TupleGet { dst, tup, idx } => {
                    let t = reg!(tup);
                    // SAFETY: `tup` is a tuple register (type checker): null or a live tuple.
                    set!(dst, tri!(unsafe { objects::tuple_get(t, idx) }))
                }
                Instr::NewStruct { dst, site } => {
                    let s = site!(site);
                    gather!(s);
                    let v = objects::new_struct(&mut self.rt.heap, program, s, &self.arg_buf);
                    set!(dst, v);
                    safepoint!();
                }
                Instr::GetField { dst, obj, idx } => {
                    let o = reg!(obj);
                    // SAFETY: `obj` is a struct register (type checker): null or a live struct.
                    set!(dst, tri!(unsafe { objects::get_field(o, idx) }))
                }
                Instr::SetField { obj, idx, src } => {
                    let (o, v) = (reg!(obj), reg!(src));
                    // SAFETY: the verifier types `obj` as a struct register: null or a live struct.
                    tri!(unsafe { objects::set_field(o, idx, v) })
                }
                Instr::MakeClosure { dst, site } => {
                    let s = site!(site);
                    gather!(s);
                    let v = objects::make_closure(&mut self.rt.heap, s, &self.arg_buf);
                    set!(dst, v);
                    safepoint!();
                }
                Instr::GetCapture { dst, clo: _, idx } => {
                    // SAFETY: the verifier checked that `clo` is the function's
                    // closure register, which nothing else writes: `closure` holds
                    // its value, the live closure being run, whose captures the
                    // compiler numbered (null if the function takes none, which
                    // raises).
                    set!(dst, tri!(unsafe { objects::get_capture(closure, idx) }))
                }
                Instr::NewCell { dst, src, kind } => {
                    let v = objects::new_cell(&mut self.rt.heap, reg!(src), kind);
                    set!(dst, v);
                    safepoint!();
                }
                Instr::CellGet { dst, cell } => {
                    let c = reg!(cell);
                    // SAFETY: `cell` holds a cell made by `NewCell` (compiler).
                    set!(dst, tri!(unsafe { objects::cell_get(c) }))
                }
                Instr::CellSet { cell, src } => {
                    let (c, v) = (reg!(cell), reg!(src));
                    // SAFETY: as for `CellGet`.
                    tri!(unsafe { objects::cell_set(c, v) })
                }

                // ----- classes and null references -----
                Instr::NewObject { dst, class } => {
                    let v = objects::new_object(&mut self.rt.heap, program, class);
                    set!(dst, v);
                    safepoint!();
                }
                Instr::CallMethod { dst, site, .. } => {
                    let s = site!(site);
                    let receiver = reg!(s.args[0]);
                    // SAFETY: the receiver register holds a class type (type
                    // checker): null or a live instance.
                    let callee = tri!(unsafe { objects::method_target(program, receiver, s.target) });
                    let new_base = base_idx + view!().nregs;
                    // SAFETY: the dispatch loop runs the innermost frame.
                    tri!(unsafe { self.push_frame(callee, base_idx, new_base, &s.args, dst, pc - 1) });
                    run_callee!(callee, new_base, dst);
                }
                Instr::NullCheck { src, k } => {
                    let v = reg!(src);
                    // SAFETY: the verifier checked `k`; the compiler makes it a
                    // string constant, live for the whole run.
                    if let Err(m) = unsafe { objects::null_check(v, *view!().consts.add(k as usize)) } {
                        raise!(&m);
                    }
                }
                Instr::IsNull { dst, src } => set!(dst, Value::bool(reg!(src).is_null())),
                Instr::InstanceOf { dst, src, class } => {
                    let v = reg!(src);
                    // SAFETY: `src` holds a class type (type checker).
                    let layout = unsafe { objects::layout_of(v) };
                    let yes = layout.is_some_and(|l| program.classes.is_instance(l, class));
                    set!(dst, Value::bool(yes))
                }
                Instr::CheckClass { src, class } => {
                    let v = reg!(src);
                    // SAFETY: `src` holds a class type (type checker).
                    if let Err(m) = unsafe { objects::check_class(program, v, class) } {
                        raise!(&m);
                    }
                }
                Instr::TypeOf { dst, src, k } => {
                    // SAFETY: `src` is null or a live object; `k` a string constant
                    // (verifier).
                    let v = reg!(src);
                    let v = unsafe {
                        objects::type_name(&mut self.rt.heap, program, v, *view!().consts.add(k as usize))
                    };
                    set!(dst, v);
                    safepoint!();
                }

                // ----- exceptions -----
                Instr::Throw { src } => after_raise!(self.throw(reg!(src), pc - 1, false, entry_depth)),
                Instr::Rethrow { src } => after_raise!(self.throw(reg!(src), pc - 1, true, entry_depth)),
            }
        }
    }
}
