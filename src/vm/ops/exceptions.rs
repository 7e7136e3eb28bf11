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
        }
    }

    fn note_frame(&mut self, func: u32, pc: u32) {
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
        let v = self.rt.heap.alloc_str(msg.as_bytes());
        self.raise_new(v, ExcKind::Runtime, pc, entry_depth)
    }

    /// Raise the string `msg` (a `throw`) at instruction `pc` of the innermost frame.
    #[cold]
    #[inline(never)]
    pub(crate) fn raise_value(&mut self, msg: Value, pc: usize, entry_depth: usize) -> Result<(), Stop> {
        self.raise_new(msg, ExcKind::Thrown, pc, entry_depth)
    }

    /// Re-raise `msg` at instruction `pc`: if it is a recently caught exception, keep
    /// its original location, kind and trace; otherwise raise it as a new `throw`.
    #[cold]
    #[inline(never)]
    pub(crate) fn rethrow(&mut self, msg: Value, pc: usize, entry_depth: usize) -> Result<(), Stop> {
        match self.caught.iter().rposition(|e| e.msg == msg) {
            Some(i) => {
                let exc = self.caught.remove(i);
                let depth = self.frames.len();
                let Some(top) = self.frames.last_mut() else {
                    return Err(Stop::Fatal("internal error: rethrow without a frame".into()));
                };
                top.pc = pc as u32;
                // The frame that caught it is already in the trace.
                let skip = exc.caught_at == depth;
                self.unwind(exc, skip, entry_depth)
            }
            None => self.raise_new(msg, ExcKind::Thrown, pc, entry_depth),
        }
    }

    /// The record of an exception raised now at `origin`: a new one, or, when the
    /// error is a joined thread's exception (`thread_join`), the thread's.
    fn new_exception(&mut self, msg: Value, kind: ExcKind, origin: (u32, u32)) -> Exception {
        self.take_foreign_exception(msg)
            .unwrap_or_else(|| Exception::with_trace(msg, kind, origin, Vec::new(), 0))
    }

    fn raise_new(&mut self, msg: Value, kind: ExcKind, pc: usize, entry_depth: usize) -> Result<(), Stop> {
        let Some(top) = self.frames.last_mut() else {
            return Err(Stop::Fatal("internal error: exception without a frame".into()));
        };
        top.pc = pc as u32;
        let origin = (top.func, pc as u32);
        let exc = self.new_exception(msg, kind, origin);
        self.unwind(exc, false, entry_depth)
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
        self.unwind(exc, false, entry_depth)
    }

    /// Make the runtime error `msg`, raised at instruction `pc` of function `fid`
    /// (the innermost frame), the exception in flight without unwinding anything
    /// yet (compiled code then resumes the frame in the VM or propagates it).
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

    /// Find a handler for `exc`, starting with the innermost frame at its saved pc
    /// and popping frames that have none, down to the entry frame.
    pub(crate) fn unwind(
        &mut self,
        mut exc: Exception,
        mut skip_first: bool,
        entry_depth: usize,
    ) -> Result<(), Stop> {
        let program = self.program;
        loop {
            let Some(&f) = self.frames.last() else {
                return Err(Stop::Fatal(
                    "internal error: unwinding past the last frame".into(),
                ));
            };
            if !skip_first {
                exc.note_frame(f.func, f.pc);
            }
            skip_first = false;
            let handler = program
                .functions
                .get(f.func as usize)
                .and_then(|func| func.handlers.iter().find(|h| h.start <= f.pc && f.pc < h.end));
            if let Some(h) = handler {
                if let Some(r) = h.reg {
                    self.stack.set(f.base + r as usize, exc.msg);
                }
                let depth = self.frames.len();
                self.frames.set_top_pc(h.target);
                exc.caught_at = depth;
                if self.caught.len() >= CAUGHT_KEEP {
                    self.caught.remove(0);
                }
                self.caught.push(exc);
                // The message of a runtime error was just allocated.
                self.safepoint();
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
