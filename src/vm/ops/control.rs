//! Control-flow support: call counting and the hooks where the JIT will take
//! over hot functions and loops. Jumps, branches and the `Loop` back-edge counter
//! are inlined in the dispatch loop.

use crate::vm::Vm;

impl Vm<'_> {
    /// Count a call of function `fid` (every call, from the interpreter or an entry
    /// point) and hand the function to the JIT hook when it becomes hot.
    #[inline(always)]
    pub(crate) fn count_call(&mut self, fid: usize) {
        if let Some(c) = self.call_counts.get_mut(fid) {
            *c = c.saturating_add(1);
            if *c == self.hot_call_threshold {
                self.jit_hot_function(fid);
            }
        }
        if self.trace_calls {
            self.trace_call(fid);
        }
    }

    /// JIT hook: function `fid` just reached `hot_call_threshold` calls.
    ///
    /// No-op for now. The JIT milestone compiles the function here and patches its
    /// entry in the per-function entry table, so that later calls (from the VM and
    /// from compiled code) run the compiled code in the same register window.
    #[cold]
    #[inline(never)]
    pub fn jit_hot_function(&mut self, fid: usize) {
        let _ = fid;
    }

    /// JIT hook: loop `loop_id` of function `fid` just reached
    /// `hot_loop_threshold` back-edges.
    ///
    /// No-op for now. The JIT milestone compiles the function with an OSR entry at
    /// the loop header (`Instr::Loop::target`) and switches to it here.
    #[cold]
    #[inline(never)]
    pub fn jit_hot_loop(&mut self, fid: usize, loop_id: usize) {
        let _ = (fid, loop_id);
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
            eprint!("{line}");
        }
    }
}
