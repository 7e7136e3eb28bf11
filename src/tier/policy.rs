//! The tier's policy: per-function state (interpreted, compiled, failed, too big,
//! disabled), the deopt budget and the number of versions, and the statistics
//! of `--jit-stats`. Nothing here compiles: `super::Tier` asks this module
//! whether to compile and tells it what happened.

use crate::bytecode::Program;
use crate::jit::{Finalized, TransError, Version};
use std::time::Duration;

/// A compiled function whose deopts since its compilation reach this count goes
/// back to the interpreter.
pub(crate) const DEOPT_LIMIT: u64 = 64;
/// Versions given up for their deopts per function at most (code is never
/// freed, so recompiling a function that keeps deoptimizing must stop
/// somewhere). Versions made for another loop entry do not count: there are
/// at most as many as loops.
pub(crate) const MAX_VERSIONS: u32 = 3;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum State {
    /// Not compiled (yet).
    Interp,
    Compiled,
    /// Compilation failed; stays interpreted.
    Failed,
    /// Over the size budget ([`crate::jit::MAX_JIT_INSTRS`], [`crate::jit::MAX_JIT_IR`]): stays
    /// interpreted, OSR included (HotSpot and V8 do the same with huge
    /// methods: compile cost grows faster than the function).
    TooBig,
    /// Gave up on its code after too many deopts; may be recompiled when it gets
    /// hot again (up to `MAX_VERSIONS` compilations).
    Disabled,
}

#[derive(Clone, Debug)]
pub(crate) struct FnInfo {
    state: State,
    versions: u32,
    /// Of `versions`, those given up for their deopts.
    given_up: u32,
    /// The loops asked to be entered by OSR or re-entry so far
    /// (`abi::osr_bit`): every version from now on has their entries.
    osr_loops: u64,
    /// A version with another loop's entry could not be compiled (over the
    /// size budget, or failed): the installed code stays, and no more
    /// entries are asked for.
    entries_fixed: bool,
    deopts: u64,
    deopts_version: u64,
    osr: u64,
    reentries: u64,
    code_size: usize,
    compile_time: Duration,
    error: Option<String>,
    /// A compiled version side-exited on a valid negative array index: later
    /// versions handle negative indices inline.
    neg_index: bool,
    /// Waiting for the compile worker (`super::background`): no VM queues it
    /// again meanwhile.
    queued: bool,
}

/// Totals for `--jit-stats`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JitTotals {
    pub compiled: u64,
    pub failed: u64,
    /// Functions over the size budget, left to the interpreter (not failures).
    pub too_big: u64,
    pub deopts: u64,
    pub osr: u64,
    pub reentries: u64,
    pub disabled: u64,
    pub code_bytes: u64,
    pub compile_time: Duration,
    /// Setting up the JIT (ISA, code arena, shims), done by the first compilation
    /// and not counted in `compile_time`.
    pub setup_time: Duration,
}

/// What becomes of a compiled function's code after a deopt.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Deopt {
    /// It stays in use; the frame re-enters it at the next loop header.
    Keep,
    /// The function was not running compiled code (or is unknown).
    Interpret,
    /// Too many deopts: back to the interpreter (calls go to the trampoline).
    Disable,
}

/// The per-function state and the totals of one run.
pub(crate) struct Policy {
    funcs: Vec<FnInfo>,
    totals: JitTotals,
    /// Deopt stress: never give up on code.
    stress: bool,
}

impl Policy {
    pub(crate) fn new(functions: usize, stress: bool) -> Policy {
        let fresh = FnInfo {
            state: State::Interp,
            versions: 0,
            given_up: 0,
            osr_loops: 0,
            entries_fixed: false,
            neg_index: false,
            queued: false,
            deopts: 0,
            deopts_version: 0,
            osr: 0,
            reentries: 0,
            code_size: 0,
            compile_time: Duration::ZERO,
            error: None,
        };
        Policy {
            funcs: vec![fresh; functions],
            totals: JitTotals::default(),
            stress,
        }
    }

    pub(crate) fn totals(&self) -> JitTotals {
        self.totals
    }

    /// What the next version of `fid` is compiled for:
    /// * negative array indices inline once a version met one;
    /// * speculation (bounds checks hoisted out of counted loops, closure call
    ///   sites that call only the functions seen there) until a version is
    ///   given up for its deopts: it may have been failing them, and the next
    ///   ones are conservative;
    /// * the entries of every loop asked for so far.
    pub(crate) fn version(&self, fid: usize) -> Version {
        let f = self.funcs.get(fid);
        Version {
            neg_index: f.is_some_and(|f| f.neg_index),
            speculate: f.is_some_and(|f| f.given_up == 0),
            osr_loops: f.map_or(0, |f| f.osr_loops),
        }
    }

    /// A compilation of `fid` took `time` and ended with `result`; returns
    /// whether it produced code (still to be finalized).
    /// The JIT was set up (in `time`), for the first compilation.
    pub(crate) fn set_up(&mut self, time: Duration) {
        self.totals.setup_time += time;
    }

    pub(crate) fn compiled(&mut self, fid: usize, result: Result<(), TransError>, time: Duration) -> bool {
        self.totals.compile_time += time;
        let Some(fi) = self.funcs.get_mut(fid) else {
            return false;
        };
        fi.compile_time += time;
        if result.is_err() {
            fi.queued = false;
        }
        if fi.state == State::Compiled {
            if let Err(TransError::TooBig(e) | TransError::Failed(e)) = result {
                // A version for another loop entry: the code in use stays.
                fi.entries_fixed = true;
                fi.error = Some(e);
                return false;
            }
        }
        match result {
            Ok(()) => true,
            Err(TransError::TooBig(e)) => {
                self.totals.too_big += 1;
                fi.state = State::TooBig;
                fi.error = Some(e);
                false
            }
            Err(TransError::Failed(e)) => {
                self.totals.failed += 1;
                fi.state = State::Failed;
                fi.error = Some(e);
                false
            }
        }
    }

    /// Record the functions the JIT just made callable (or failed to).
    pub(crate) fn finalized(&mut self, done: Vec<Finalized>) {
        for (fid, result) in done {
            let Some(fi) = self.funcs.get_mut(fid) else {
                continue;
            };
            fi.queued = false;
            match result {
                Ok(size) => {
                    fi.state = State::Compiled;
                    fi.versions += 1;
                    fi.deopts_version = 0;
                    fi.code_size = size;
                    self.totals.compiled += 1;
                    self.totals.code_bytes += size as u64;
                }
                Err(e) => {
                    fi.state = State::Failed;
                    fi.error = Some(e);
                    self.totals.failed += 1;
                }
            }
        }
    }

    /// The call threshold was reached: compile unless compiled, failed, or out of
    /// recompilations.
    pub(crate) fn wants_compile(&self, fid: usize) -> bool {
        match self.funcs.get(fid) {
            Some(f) if f.queued => false,
            Some(f) => match f.state {
                State::Interp => true,
                State::Disabled => f.given_up < MAX_VERSIONS,
                State::Compiled | State::Failed | State::TooBig => false,
            },
            None => false,
        }
    }

    /// Whether `fid` was given up: disabled after its last allowed version.
    pub(crate) fn gave_up(&self, fid: usize) -> bool {
        self.funcs
            .get(fid)
            .is_some_and(|f| f.state == State::Disabled && f.given_up >= MAX_VERSIONS)
    }

    /// The loop of bit `loop_bit` (`abi::osr_bit`) of the function is hot:
    /// compile it if it was never compiled, or again if no version was asked
    /// to have that loop's entry yet.
    pub(crate) fn wants_compile_for_loop(&self, fid: usize, loop_bit: u64) -> bool {
        self.funcs.get(fid).is_some_and(|f| {
            !f.queued
                && match f.state {
                    State::Interp => true,
                    State::Compiled => !f.entries_fixed && f.osr_loops & loop_bit == 0,
                    State::Disabled | State::Failed | State::TooBig => false,
                }
        })
    }

    /// Every version of `fid` from now on has the entry of the loop of
    /// `loop_bit`.
    pub(crate) fn add_osr_loop(&mut self, fid: usize, loop_bit: u64) {
        if let Some(f) = self.funcs.get_mut(fid) {
            f.osr_loops |= loop_bit;
        }
    }

    /// Mark `fid` queued for the compile worker if it still wants compiling
    /// (for the hot loop of `loop_bit`, whose entry it will then have, or by
    /// calls); false if it does not, e.g. because another thread's VM queued
    /// it first.
    pub(crate) fn claim_for_queue(&mut self, fid: usize, loop_bit: Option<u64>) -> bool {
        let wants = match loop_bit {
            Some(bit) => self.wants_compile_for_loop(fid, bit),
            None => self.wants_compile(fid),
        };
        if !wants {
            return false;
        }
        if let Some(bit) = loop_bit {
            self.add_osr_loop(fid, bit);
        }
        if let Some(f) = self.funcs.get_mut(fid) {
            f.queued = true;
        }
        true
    }

    /// `fid` is no longer waiting for the compile worker (it could not be
    /// queued, or another thread had compiled it).
    pub(crate) fn unqueue(&mut self, fid: usize) {
        if let Some(f) = self.funcs.get_mut(fid) {
            f.queued = false;
        }
    }

    pub(crate) fn note_osr(&mut self, fid: usize) {
        self.totals.osr += 1;
        if let Some(f) = self.funcs.get_mut(fid) {
            f.osr += 1;
        }
    }

    pub(crate) fn note_reentry(&mut self, fid: usize) {
        self.totals.reentries += 1;
        if let Some(f) = self.funcs.get_mut(fid) {
            f.reentries += 1;
        }
    }

    /// A compiled frame of `fid` side-exited at an array access with a negative
    /// index (compiled code speculates that indices are not negative). Its next
    /// version handles them inline; this one is given up at once (outside stress
    /// mode), so that the function gets hot and is recompiled soon.
    pub(crate) fn note_negative_index(&mut self, fid: usize) {
        if let Some(f) = self.funcs.get_mut(fid) {
            if !f.neg_index && !self.stress {
                f.deopts_version = DEOPT_LIMIT;
            }
            f.neg_index = true;
        }
    }

    /// Count a deopt of `fid` and decide what becomes of its code.
    pub(crate) fn note_deopt(&mut self, fid: usize) -> Deopt {
        self.totals.deopts += 1;
        let stress = self.stress;
        let Some(f) = self.funcs.get_mut(fid) else {
            return Deopt::Interpret;
        };
        f.deopts += 1;
        f.deopts_version = f.deopts_version.saturating_add(1);
        if f.state != State::Compiled {
            return Deopt::Interpret;
        }
        if !stress && f.deopts_version >= DEOPT_LIMIT {
            f.state = State::Disabled;
            f.given_up += 1;
            f.deopts_version = 0;
            self.totals.disabled += 1;
            return Deopt::Disable;
        }
        Deopt::Keep
    }

    /// The `--jit-stats` report (empty unless enabled).
    pub(crate) fn report(&self, program: &Program) -> String {
        let t = &self.totals;
        let mut s = format!(
            "jit: compiled={} failed={} too_big={} deopts={} osr={} compile_ms={:.3} reentries={} disabled={} code_bytes={} setup_ms={:.3}\n",
            t.compiled,
            t.failed,
            t.too_big,
            t.deopts,
            t.osr,
            t.compile_time.as_secs_f64() * 1000.0,
            t.reentries,
            t.disabled,
            t.code_bytes,
            t.setup_time.as_secs_f64() * 1000.0
        );
        for (fid, fi) in self.funcs.iter().enumerate() {
            if fi.state == State::Interp && fi.deopts == 0 {
                continue;
            }
            let name = program.functions.get(fid).map(|f| f.name.as_str()).unwrap_or("?");
            let instrs = program.functions.get(fid).map_or(0, |f| f.code.len());
            let state = match fi.state {
                State::Interp => "interpreted",
                State::Compiled => "compiled",
                State::Failed => "FAILED",
                State::TooBig => "too big, interpreted",
                State::Disabled => "disabled",
            };
            s.push_str(&format!(
                "jit:   fn {fid} {name}: {state} versions={} code={}B deopts={} osr={} reentries={} compile_us={} bytecode={instrs} compile_ns_per_instr={}",
                fi.versions,
                fi.code_size,
                fi.deopts,
                fi.osr,
                fi.reentries,
                fi.compile_time.as_micros(),
                fi.compile_time.as_nanos() / instrs.max(1) as u128
            ));
            if let Some(e) = &fi.error {
                let what = if fi.state == State::TooBig {
                    "size"
                } else {
                    "error"
                };
                s.push_str(&format!(" {what}: {}", e.replace('\n', " ")));
            }
            s.push('\n');
        }
        s
    }
}
