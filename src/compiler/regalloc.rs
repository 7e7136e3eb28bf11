//! Register allocation for one function.
//!
//! Registers come in two classes that never mix: **reference** registers (they
//! hold heap pointers or null and are GC roots) and **scalar** registers (ints,
//! floats, bools). Once a register index has been handed out for one class it
//! belongs to that class for the whole function, because the collector scans a
//! function's reference registers from one static bitmap (`Function::ref_regs`)
//! without knowing the pc.
//!
//! Allocation is a simple "lowest free register of the class, else a new one"
//! scheme: locals hold their register for their lexical scope, temporaries are
//! freed as soon as they are consumed, and the compiler takes an expression's
//! result register only after freeing its operands' temporaries (so that the
//! lowest-free rule hands back the first operand's register). At most 256 registers exist per function;
//! asking for more sets a flag (the driver reports `function 'f' needs more than
//! 256 registers`) and hands back register 0 so that compilation can go on
//! without panicking.

use crate::bytecode::Reg;

/// The maximum number of registers of one frame.
pub const MAX_REGS: usize = 256;

#[derive(Debug, Default, Clone)]
pub struct RegAlloc {
    /// Class of every register created so far (`true` = reference).
    is_ref: Vec<bool>,
    /// Whether the register is currently allocated.
    in_use: Vec<bool>,
    /// Free scalar registers, sorted descending (so `pop` yields the lowest).
    free_scalar: Vec<Reg>,
    /// Free reference registers, sorted descending.
    free_ref: Vec<Reg>,
    overflow: bool,
}

impl RegAlloc {
    pub fn new() -> RegAlloc {
        RegAlloc::default()
    }

    /// Allocate a register of the given class (`is_ref`: reference register).
    pub fn alloc(&mut self, is_ref: bool) -> Reg {
        let free = if is_ref {
            &mut self.free_ref
        } else {
            &mut self.free_scalar
        };
        if let Some(r) = free.pop() {
            self.in_use[r as usize] = true;
            return r;
        }
        let n = self.is_ref.len();
        if n >= MAX_REGS {
            self.overflow = true;
            return 0;
        }
        self.is_ref.push(is_ref);
        self.in_use.push(true);
        n as Reg
    }

    /// Return a register to its class's free list. Freeing a register that is not
    /// allocated is ignored (it can only happen after an overflow).
    pub fn free(&mut self, r: Reg) {
        let i = r as usize;
        if i >= self.in_use.len() || !self.in_use[i] {
            return;
        }
        self.in_use[i] = false;
        let free = if self.is_ref[i] {
            &mut self.free_ref
        } else {
            &mut self.free_scalar
        };
        // Keep the list sorted descending so that `pop` returns the lowest index.
        let pos = free.partition_point(|&x| x > r);
        free.insert(pos, r);
    }

    /// Whether register `r` is a reference register.
    pub fn is_ref(&self, r: Reg) -> bool {
        self.is_ref.get(r as usize).copied().unwrap_or(false)
    }

    /// Number of registers the frame needs.
    pub fn nregs(&self) -> u16 {
        self.is_ref.len() as u16
    }

    /// The GC root map: for every register, whether it holds references.
    pub fn ref_regs(&self) -> Vec<bool> {
        self.is_ref.clone()
    }

    /// Whether more than [`MAX_REGS`] registers were requested.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Number of registers currently allocated (for tests and assertions).
    pub fn live_count(&self) -> usize {
        self.in_use.iter().filter(|&&b| b).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_sequentially() {
        let mut ra = RegAlloc::new();
        assert_eq!(ra.alloc(false), 0);
        assert_eq!(ra.alloc(true), 1);
        assert_eq!(ra.alloc(false), 2);
        assert_eq!(ra.nregs(), 3);
        assert_eq!(ra.ref_regs(), vec![false, true, false]);
    }

    #[test]
    fn reuses_after_free() {
        let mut ra = RegAlloc::new();
        let a = ra.alloc(false);
        let b = ra.alloc(false);
        let c = ra.alloc(false);
        ra.free(b);
        assert_eq!(ra.alloc(false), b);
        ra.free(c);
        ra.free(a);
        // Lowest free first.
        assert_eq!(ra.alloc(false), a);
        assert_eq!(ra.alloc(false), c);
        assert_eq!(ra.nregs(), 3);
        assert_eq!(ra.live_count(), 3);
    }

    #[test]
    fn classes_never_mix() {
        let mut ra = RegAlloc::new();
        let s = ra.alloc(false);
        let r = ra.alloc(true);
        ra.free(s);
        ra.free(r);
        // A reference request must not get the freed scalar register and vice versa.
        let r2 = ra.alloc(true);
        assert_eq!(r2, r);
        let s2 = ra.alloc(false);
        assert_eq!(s2, s);
        ra.free(s2);
        let r3 = ra.alloc(true);
        assert_ne!(r3, s2);
        assert!(ra.is_ref(r3));
        assert!(!ra.is_ref(s2));
        // Stress: random-ish interleaving keeps classes stable.
        let mut held = Vec::new();
        for i in 0..200u32 {
            let want_ref = i % 3 == 0;
            let reg = ra.alloc(want_ref);
            assert_eq!(ra.is_ref(reg), want_ref);
            held.push(reg);
            if i % 5 == 0 {
                let x = held.remove(held.len() / 2);
                ra.free(x);
            }
        }
        let map = ra.ref_regs();
        for (i, &isr) in map.iter().enumerate() {
            assert_eq!(isr, ra.is_ref(i as Reg));
        }
    }

    #[test]
    fn limit_of_256() {
        let mut ra = RegAlloc::new();
        for i in 0..MAX_REGS {
            assert_eq!(ra.alloc(i % 2 == 0) as usize, i);
        }
        assert!(!ra.overflowed());
        assert_eq!(ra.nregs(), 256);
        ra.alloc(false);
        assert!(ra.overflowed());
        assert_eq!(ra.nregs(), 256);
        // Freeing makes room again but the overflow stays reported.
        ra.free(10);
        assert_eq!(ra.alloc(true), 10);
    }

    #[test]
    fn double_free_is_harmless() {
        let mut ra = RegAlloc::new();
        let a = ra.alloc(true);
        ra.free(a);
        ra.free(a);
        ra.free(200);
        assert_eq!(ra.alloc(true), a);
        assert_eq!(ra.alloc(true), 1);
    }
}
