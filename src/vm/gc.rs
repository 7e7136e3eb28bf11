//! Safepoints and precise root scanning.
//!
//! The heap never collects by itself; the VM calls [`Vm::safepoint`] where no heap
//! pointer lives outside the roots below:
//! * after every allocating instruction, once its result is in its register;
//! * after a handler has caught an exception (its message may be new).
//!
//! Roots:
//! * every live frame's registers that its function's `ref_regs` marks (registers
//!   are nulled on frame entry, so they hold null or a live object; the other
//!   registers are not scanned and not cleared);
//! * globals of kind `Ref`;
//! * the pending exception and the recently caught exceptions (for `Rethrow`);
//! * pinned constants and the heap's temporary roots (marked by the heap itself).

use crate::vm::Vm;

impl Vm<'_> {
    /// Collect if the heap asks for it.
    #[inline(always)]
    pub fn safepoint(&mut self) {
        if self.rt.heap.wants_gc() {
            self.collect_garbage();
        }
    }

    /// [`Vm::safepoint`] where `extra`, a new object not yet stored in any root
    /// (a runtime helper's result that compiled code will write to its register),
    /// must survive the collection.
    ///
    /// # Safety
    /// `extra` must be null or a live object of this VM's heap, not bits forged
    /// from an int (it is marked).
    pub unsafe fn safepoint_rooting(&mut self, extra: Option<bp_runtime::value::Value>) {
        if self.rt.heap.wants_gc() {
            let roots = self.rt.heap.temp_roots_len();
            if let Some(v) = extra {
                // SAFETY: the caller's contract.
                unsafe { self.rt.heap.push_temp_root(v) };
            }
            self.collect_garbage();
            self.rt.heap.truncate_temp_roots(roots);
        }
    }

    /// Mark from all roots and sweep.
    #[cold]
    #[inline(never)]
    pub fn collect_garbage(&mut self) {
        let Vm {
            rt,
            stack,
            frames,
            globals,
            ref_regs,
            ref_globals,
            pending,
            caught,
            ..
        } = self;
        let stack_len = stack.len();
        let sp = stack.as_ptr();
        rt.heap.collect(&mut |m| {
            for f in frames.iter() {
                let Some(regs) = ref_regs.get(f.func as usize) else {
                    continue;
                };
                for &r in regs.iter() {
                    let i = f.base + r as usize;
                    if i < stack_len {
                        // SAFETY: `i` is inside the register stack, and `r` is a
                        // reference register of the frame's function (its register
                        // map): null or a live object.
                        unsafe { m.mark(*sp.add(i)) };
                    }
                }
            }
            for &g in ref_globals.iter() {
                if let Some(v) = globals.get(g as usize) {
                    // SAFETY: `g` is a global of reference type: null or a live object.
                    unsafe { m.mark(*v) };
                }
            }
            // SAFETY: an exception's message is a string the VM allocated (or null).
            if let Some(e) = pending.as_ref() {
                unsafe { m.mark(e.msg) };
            }
            for e in caught.iter() {
                // SAFETY: as above.
                unsafe { m.mark(e.msg) };
            }
        });
    }
}
