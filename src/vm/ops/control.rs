//! Control-flow support: call counting (the tier's hooks are called through
//! `vm::tiering`). Jumps, branches and the `Loop` back-edge counter are inlined in the
//! dispatch loop.

use crate::vm::Vm;

impl Vm<'_> {
    /// Count a call of function `fid` (every call, from the interpreter or an entry
    /// point) and hand the function to the tier when it becomes hot. Without a
    /// tier (`--no-jit`) nothing reads the counters, and calls are not counted
    /// (interpreted `closures`: 3 % fewer instructions).
    #[inline(always)]
    pub(crate) fn count_call(&mut self, fid: usize) {
        if fid < self.tier.call_counts.len() {
            // SAFETY: checked just above.
            unsafe { self.count_call_of(fid) }
        }
    }

    /// [`Vm::count_call`] of a function id known to be in range.
    ///
    /// # Safety
    /// `fid` must be a function of the program (it has a call counter).
    #[inline(always)]
    pub(crate) unsafe fn count_call_of(&mut self, fid: usize) {
        if !self.tier.entry.is_null() {
            // SAFETY: the caller's contract; there is one counter per function.
            let c = unsafe { self.tier.call_counts.get_unchecked_mut(fid) };
            *c = c.saturating_add(1);
            if *c == self.tier.hot_call {
                self.tier_hot_function(fid);
            }
        }
        if self.trace_calls {
            self.trace_call(fid);
        }
    }

    /// `--trace-calls`: log a call to stderr.
    #[cold]
    #[inline(never)]
    pub(crate) fn trace_call(&mut self, fid: usize) {
        let name = self
            .program
            .functions
            .get(fid)
            .map(|f| f.name.as_str())
            .unwrap_or("?");
        let line = format!("[call] {name} (depth {})\n", self.frames.len());
        if self.capture {
            self.err.push_str(&line);
        } else {
            // Not `eprint!`, which panics when stderr fails.
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        }
    }
}
