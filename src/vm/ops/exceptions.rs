//! Exceptions: raising (runtime errors, `throw`, `Rethrow`) and unwinding through
//! the handler tables of the frames.
//!
//! An exception is a message string plus where it came from. While it unwinds,
//! every frame it passes through is recorded for the stack trace (the first
//! [`TRACE_KEEP`] of them are kept, the rest only counted). When a handler catches
//! it, the message goes to the handler's register and the exception record is kept
//! in a short list of recently caught exceptions, keyed by the message value (a
//! string pointer), so that a `Rethrow` of that value continues with the original
//! location and trace.

use crate::bytecode::Handler;
use crate::vm::{Stop, Vm};
use bp_runtime::value::Value;

/// Frames of a trace that are kept (the rest are counted).
pub const TRACE_KEEP: usize = 20;
/// Caught exceptions remembered for `Rethrow`.
const CAUGHT_KEEP: usize = 16;

/// What raised an exception (decides the wording of the uncaught report).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExcKind {
    /// A runtime error detected by the VM or a builtin.
    Runtime,
    /// A `throw` statement.
    Thrown,
}

/// An exception in flight (or recently caught).
#[derive(Clone, Debug)]
pub struct Exception {
    /// The message: a string object (a GC root while the record exists).
    pub msg: Value,
    pub kind: ExcKind,
    /// (function id, pc) of the raising instruction.
    pub origin: (u32, u32),
    /// (function id, pc) of the first frames unwound through, innermost first.
    pub trace: Vec<(u32, u32)>,
    /// Number of frames unwound through (may exceed `trace.len()`).
    pub depth: usize,
    /// Frame count when it was last caught (the catching frame is the top one).
    caught_at: usize,
    /// The innermost frame is in `trace` already: it was re-raised (`Rethrow`)
    /// in the frame that caught it, which the unwinder then does not note again.
    noted_top: bool,
}

impl Exception {
    /// An exception that has unwound through the frames of `trace` already (a
    /// joined thread's, raised again by `thread_join`).
    pub fn with_trace(
        msg: Value,
        kind: ExcKind,
        origin: (u32, u32),
        trace: Vec<(u32, u32)>,
        depth: usize,
    ) -> Exception {
        Exception {
            msg,
            kind,
            origin,
            depth: depth.max(trace.len()),
            trace,
            caught_at: 0,
            noted_top: false,
        }
    }

    /// Record the frame `(func, pc)` the exception is leaving or caught in,
    /// unless it is in the trace already ([`Exception::noted_top`]).
    fn note_frame(&mut self, func: u32, pc: u32) {
        if std::mem::take(&mut self.noted_top) {
            return;
        }
        if self.trace.len() < TRACE_KEEP {
            self.trace.push((func, pc));
        }
        self.depth += 1;
    }
}

impl Vm<'_> {
    /// Raise the runtime error `msg` at instruction `pc` of the innermost frame.
    /// `Ok` means a handler caught it: the innermost frame (possibly a caller of the
    /// raising frame) is to resume at its `pc`. `Err` means it escaped the frame at
    /// `entry_depth` (it is then in `self.pending`).
    #[cold]
    #[inline(never)]
    pub(crate) fn raise_error(&mut self, msg: &str, pc: usize, entry_depth: usize) -> Result<(), Stop> {
        let Some(&top) = self.frames.last() else {
            return Err(Stop::Fatal("internal error: exception without a frame".into()));
        };
        self.set_pending_error(msg, top.func, pc as u32);
        self.unwind_pending(entry_depth)
    }

    /// Raise the string `msg` at instruction `pc` of the innermost frame: a
    /// `throw`, or a `Rethrow` when `rethrow` ([`Vm::throw_pending`], which
    /// compiled code calls too).
    #[cold]
    #[inline(never)]
    pub(crate) fn throw(
        &mut self,
        msg: Value,
        pc: usize,
        rethrow: bool,
        entry_depth: usize,
    ) -> Result<(), Stop> {
        if !self.throw_pending(msg, pc as u32, rethrow) {
            return Err(Stop::Fatal("internal error: throw without a frame".into()));
        }
        self.unwind_pending(entry_depth)
    }

    /// Raise the string `msg` at `pc` of the innermost frame, a `throw`, or a
    /// `Rethrow` when `rethrow` (which continues a recently caught exception
    /// of that message with its location and trace), and make it the exception
    /// in flight without unwinding anything yet: compiled code then catches it
    /// or lets it leave the frame. False if there is no frame (an internal
    /// error).
    pub fn throw_pending(&mut self, msg: Value, pc: u32, rethrow: bool) -> bool {
        let depth = self.frames.len();
        let Some(top) = self.frames.last_mut() else {
            return false;
        };
        top.pc = pc;
        let origin = (top.func, pc);
        let caught = rethrow
            .then(|| self.caught.iter().rposition(|e| e.msg == msg))
            .flatten()
            .and_then(|i| self.caught.remove(i));
        let exc = match caught {
            Some(mut exc) => {
                // The frame that caught it is in the trace already.
                exc.noted_top = exc.caught_at == depth;
                exc
            }
            None => self.new_exception(msg, ExcKind::Thrown, origin),
        };
        self.pending = Some(exc);
        true
    }

    /// The record of an exception raised now at `origin`: a new one, or, when the
    /// error is a joined thread's exception (`thread_join`), the thread's.
    fn new_exception(&mut self, msg: Value, kind: ExcKind, origin: (u32, u32)) -> Exception {
        self.take_foreign_exception(msg).unwrap_or_else(|| {
            let trace = std::mem::take(&mut self.spare_trace);
            Exception::with_trace(msg, kind, origin, trace, 0)
        })
    }

    /// Continue unwinding the exception in [`Vm::pending`] (set by compiled code
    /// that returned status 1) from the innermost frame, which is at its saved pc.
    pub(crate) fn unwind_pending(&mut self, entry_depth: usize) -> Result<(), Stop> {
        let Some(exc) = self.pending.take() else {
            return Err(Stop::Fatal("internal error: no exception in flight".into()));
        };
        if self.frames.len() <= entry_depth {
            self.pending = Some(exc);
            return Err(Stop::Exception);
        }
        self.unwind(exc, entry_depth)
    }

    /// Make the runtime error `msg`, raised at instruction `pc` of function `fid`
    /// (the innermost frame), the exception in flight without unwinding anything
    /// yet (compiled code then catches it or lets it leave the frame).
    #[cold]
    pub fn set_pending_error(&mut self, msg: &str, fid: u32, pc: u32) {
        let v = self.rt.heap.alloc_str(msg.as_bytes());
        self.frames.set_top_pc(pc);
        self.pending = Some(self.new_exception(v, ExcKind::Runtime, (fid, pc)));
    }

    /// Compiled code lets the exception in flight leave its frame (no handler covers
    /// `pc`): record the frame in the trace and pop it, as [`Vm::unwind`] does.
    /// False if there is no exception or no frame (an internal error).
    pub fn propagate_pending(&mut self, pc: u32) -> bool {
        let Some(top) = self.frames.last_mut() else {
            return false;
        };
        top.pc = pc;
        let f = *top;
        let Some(exc) = self.pending.as_mut() else {
            return false;
        };
        exc.note_frame(f.func, f.pc);
        self.frames.pop();
        true
    }

    /// Compiled code catches the exception in flight at `pc` of the innermost
    /// frame, which a handler of its function covers: as [`Vm::unwind`] does,
    /// record the frame in the trace, put the message in the handler's
    /// register and keep the record for `Rethrow`, and reach a safepoint
    /// (every reference of a compiled frame is in its slot). Compiled code
    /// then goes on at the handler's target itself. False if there is no
    /// exception, frame or handler (an internal error).
    pub fn catch_pending(&mut self, pc: u32) -> bool {
        let Some(top) = self.frames.last_mut() else {
            return false;
        };
        top.pc = pc;
        let f = *top;
        let Some(h) = self.handler_at(f.func, pc) else {
            return false;
        };
        let Some(mut exc) = self.pending.take() else {
            return false;
        };
        exc.note_frame(f.func, pc);
        self.catch(exc, f.base, &h);
        true
    }

    /// The handler of function `func` that catches an exception at `pc`: the
    /// first of its table that covers `pc` (the compiler lists inner ones
    /// first).
    fn handler_at(&self, func: u32, pc: u32) -> Option<Handler> {
        let f = self.program.functions.get(func as usize)?;
        f.handlers.iter().find(|h| h.start <= pc && pc < h.end).copied()
    }

    /// Catch `exc` by handler `h` of the innermost frame, whose registers
    /// start at `base`: the message to the handler's register, the frame on
    /// at the handler's target, the record kept for `Rethrow`; then a
    /// safepoint (the message of a runtime error was allocated without one:
    /// a loop that catches one on every round allocates nothing else).
    fn catch(&mut self, mut exc: Exception, base: usize, h: &Handler) {
        if let Some(r) = h.reg {
            self.stack.set(base + r as usize, exc.msg);
        }
        let depth = self.frames.len();
        self.frames.set_top_pc(h.target);
        exc.caught_at = depth;
        if self.caught.len() >= CAUGHT_KEEP {
            if let Some(old) = self.caught.pop_front() {
                let mut trace = old.trace;
                trace.clear();
                self.spare_trace = trace;
            }
        }
        self.caught.push_back(exc);
        self.safepoint();
    }

    /// Find a handler for `exc`, starting with the innermost frame at its saved pc
    /// and popping frames that have none, down to the entry frame.
    pub(crate) fn unwind(&mut self, mut exc: Exception, entry_depth: usize) -> Result<(), Stop> {
        loop {
            let Some(&f) = self.frames.last() else {
                return Err(Stop::Fatal(
                    "internal error: unwinding past the last frame".into(),
                ));
            };
            exc.note_frame(f.func, f.pc);
            if let Some(h) = self.handler_at(f.func, f.pc) {
                self.catch(exc, f.base, &h);
                return Ok(());
            }
            self.frames.pop();
            if self.frames.len() <= entry_depth {
                self.pending = Some(exc);
                return Err(Stop::Exception);
            }
        }
    }
}
