//! The VM's interface to a compiling tier (`crate::tier` when the `jit` feature is
//! on). The VM knows nothing of how code is compiled: it counts calls and loop
//! back-edges, reads a per-function table of compiled entries, and calls the
//! [`TierHooks`] it was given on cold paths only (a function or loop got hot, a
//! call into compiled code, start and end of the run). See `docs/architecture.md`,
//! "Layers".
//!
//! Two things stay on the interpreter's hot path because the interpreter does them
//! itself: the hotness counters (incremented by every call and `Loop`), and the
//! test of a callee's slot in the entry table against the "not compiled" sentinel
//! before a call (plain data, the same load and compare as without the layer).

use super::{Stop, Vm};
use bp_runtime::value::Value;
use std::ptr::NonNull;

/// What happened to a frame handed to compiled code.
pub enum Outcome {
    /// The frame returned this value (null for void functions) and was popped.
    Returned(Value),
    /// An exception escaped the frame (it is in `Vm::pending`); the frame was popped.
    Exception,
    /// `exit` or a fatal error.
    Stop(Stop),
    /// The native stack is too deep to enter compiled code; nothing was run.
    Overflow,
}

/// Decision of the hot-loop hook.
pub enum LoopAction {
    /// Keep interpreting.
    Continue,
    /// The frame is a deoptimized compiled frame: hand it back to its code (the
    /// interpreter returns `Stop::Reenter` to it).
    Reenter,
    /// Compiled code ran the current frame to its end (OSR); `dst` is the frame's
    /// result register in its caller.
    Ran { outcome: Outcome, dst: u8 },
}

/// What a tier does for the VM. Every method takes `&self`: compiled code that a
/// hook runs may call back into the VM and from there into the hooks again, so
/// a tier keeps its mutable state behind cells and borrows it only for the length
/// of one step.
pub trait TierHooks {
    /// Start of the run, before the global initialiser.
    fn start(&self, vm: &mut Vm<'_>);
    /// Function `fid` reached the call threshold.
    fn hot_function(&self, vm: &mut Vm<'_>, fid: usize);
    /// Loop `loop_id` of function `fid` (the innermost frame, which jumps to the
    /// loop header `target`) reached the loop threshold; `resumed`: the frame is
    /// a deoptimized compiled frame that the interpreter runs for its code, which
    /// can take it back at the loops of this set (the tier's own encoding:
    /// what its resume helper gave `Vm::interp`).
    fn hot_loop(
        &self,
        vm: &mut Vm<'_>,
        fid: usize,
        loop_id: usize,
        target: u32,
        resumed: Option<u64>,
    ) -> LoopAction;
    /// Run compiled code `code` (an entry of the table) for the innermost frame,
    /// whose window starts at `base_idx` (`entry_pc` 0: from the start; `pc + 1`:
    /// at loop header `pc`).
    fn call_compiled(&self, vm: &mut Vm<'_>, code: usize, base_idx: usize, entry_pc: u64) -> Outcome;
    /// End of the run (after the program's output): reports go to `vm.err`.
    fn finish(&self, vm: &mut Vm<'_>);
    /// The factory for the VMs of threads this VM starts (they run the same
    /// program): tiers that share this one's compiled code and state.
    fn thread_factory(&self) -> Option<std::sync::Arc<dyn TierFactory>> {
        None
    }
    /// The tier itself, for the tier's own code (statistics, tests).
    fn as_any(&self) -> &dyn std::any::Any;
}

/// The addresses and limits of a VM's structures, in one place that compiled code
/// reads them from (through the VM's address, which it keeps in a register): code
/// compiled by a tier is shared by the VMs of every thread of a run, so it embeds
/// no VM's addresses. Set when the VM is created; `native_limit` by the tier when
/// a run starts on the VM's thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RunView {
    /// Address of frame record 0.
    pub frames: u64,
    /// Address of global 0.
    pub globals: u64,
    /// Address of usable register-stack slot `limit` (a window must end at or
    /// below it).
    pub stack_end: u64,
    /// Maximum number of frames.
    pub max_depth: u64,
    /// Lowest native stack address compiled code may call below (0: unchecked).
    pub native_limit: u64,
}

/// A tier attached to a VM when it is created.
pub struct Attached {
    pub hooks: Box<dyn TierHooks>,
    /// One compiled entry per function; `not_compiled` in the slots of functions
    /// without code. Must stay valid as long as `hooks`.
    pub entry: *const usize,
    pub not_compiled: usize,
    /// Calls before [`TierHooks::hot_function`].
    pub hot_call: u32,
    /// Back-edges before [`TierHooks::hot_loop`] (at least 1).
    pub hot_loop: u32,
}

/// Creates the tier of a VM (`VmOptions::tier`).
pub trait TierFactory: std::fmt::Debug + Send + Sync {
    /// Attach a tier to `vm`, just loaded; `Err` says why there is none (the VM
    /// then interprets alone and warns).
    fn attach(&self, vm: &mut Vm<'_>) -> Result<Attached, String>;
}

/// The tiering state of a VM (the field `Vm::tier`).
pub struct Tiering {
    /// The tier's entry table (one code address per function), null without a
    /// tier. Read by the dispatch loop before every call.
    pub(crate) entry: *const usize,
    /// The value of an `entry` slot whose function has no compiled code.
    pub(crate) not_compiled: usize,
    /// Call count at which a function is handed to [`TierHooks::hot_function`].
    pub(crate) hot_call: u32,
    /// Back-edge count at which a loop is handed to [`TierHooks::hot_loop`].
    pub(crate) hot_loop: u32,
    /// Per-function call counters (incremented by every call when there is a
    /// tier: without one, nothing reads them).
    pub call_counts: Vec<u32>,
    /// Per-function, per-loop back-edge counters (incremented by every `Loop`).
    /// Never resized or replaced: the VM's `FnView`s point into them.
    pub loop_counts: Vec<Vec<u32>>,
    /// The tier, owned (from `Box::into_raw`, freed on drop). A raw pointer rather
    /// than a `Box` because hooks run while the VM is mutably borrowed: the VM
    /// never touches the tier except through these shared references.
    hooks: Option<NonNull<dyn TierHooks>>,
}

impl Tiering {
    /// No tier: counters for `program`'s functions and loops, thresholds as given.
    pub(crate) fn new(counts: (Vec<u32>, Vec<Vec<u32>>), hot_call: u32, hot_loop: u32) -> Tiering {
        Tiering {
            entry: std::ptr::null(),
            not_compiled: 0,
            hot_call,
            hot_loop,
            call_counts: counts.0,
            loop_counts: counts.1,
            hooks: None,
        }
    }

    fn install(&mut self, a: Attached) {
        self.entry = a.entry;
        self.not_compiled = a.not_compiled;
        self.hot_call = a.hot_call;
        self.hot_loop = a.hot_loop.max(1);
        self.hooks = Some(NonNull::from(Box::leak(a.hooks)));
    }

    /// The back-edge threshold of the dispatch loop: never reached without a tier.
    pub(crate) fn loop_threshold(&self) -> u32 {
        if self.entry.is_null() {
            u32::MAX
        } else {
            self.hot_loop.max(1)
        }
    }
}

impl Drop for Tiering {
    fn drop(&mut self) {
        if let Some(h) = self.hooks.take() {
            // SAFETY: `h` came from `Box::leak` in `install` and is freed only here.
            drop(unsafe { Box::from_raw(h.as_ptr()) });
        }
    }
}

impl<'p> Vm<'p> {
    /// Attach the tier made by `factory` (at load time).
    pub(crate) fn attach_tier(&mut self, factory: &dyn TierFactory) {
        match factory.attach(self) {
            Ok(a) => self.tier.install(a),
            Err(e) => self.err.push_str(&format!("warning: JIT disabled: {e}\n")),
        }
    }

    /// The tier's hooks, if any. The reference is not tied to `self` so that the
    /// hooks can be given `self`.
    ///
    /// # Safety
    /// The caller must not let the reference outlive the VM.
    #[inline]
    unsafe fn hooks<'h>(&self) -> Option<&'h dyn TierHooks> {
        // SAFETY: the hooks live until `self.tier` is dropped (guaranteed by the
        // caller) and are only ever shared (their methods take `&self`).
        self.tier.hooks.map(|h| unsafe { &*h.as_ptr() })
    }

    /// The tier, for its own code.
    pub fn tier_hooks(&self) -> Option<&dyn TierHooks> {
        // SAFETY: the reference borrows `self`.
        unsafe { self.hooks() }
    }

    /// The compiled code of function `fid`, if it has any.
    #[inline]
    pub(crate) fn compiled_entry(&self, fid: u32) -> Option<usize> {
        if self.tier.entry.is_null() || fid as usize >= self.program.functions.len() {
            return None;
        }
        // SAFETY: the entry table has one slot per function (checked above) and
        // lives as long as the tier.
        let code = unsafe { read_entry(self.tier.entry, fid as usize) };
        (code != self.tier.not_compiled).then_some(code)
    }

    /// Run compiled code `code` for the innermost frame ([`TierHooks::call_compiled`]).
    #[inline]
    pub(crate) fn call_compiled(&mut self, code: usize, base_idx: usize, entry_pc: u64) -> Outcome {
        // SAFETY: the hooks are used within this call only.
        match unsafe { self.hooks() } {
            Some(h) => h.call_compiled(self, code, base_idx, entry_pc),
            None => Outcome::Stop(Stop::Fatal("internal error: compiled code without a tier".into())),
        }
    }

    /// Function `fid` just reached the call threshold.
    #[cold]
    #[inline(never)]
    pub(crate) fn tier_hot_function(&mut self, fid: usize) {
        // SAFETY: the hooks are used within this call only.
        if let Some(h) = unsafe { self.hooks() } {
            h.hot_function(self, fid);
        }
    }

    /// Loop `loop_id` of the innermost frame (function `fid`) is hot.
    #[cold]
    #[inline(never)]
    pub(crate) fn tier_hot_loop(
        &mut self,
        fid: usize,
        loop_id: usize,
        target: u32,
        resumed: Option<u64>,
    ) -> LoopAction {
        // SAFETY: the hooks are used within this call only.
        match unsafe { self.hooks() } {
            Some(h) => h.hot_loop(self, fid, loop_id, target, resumed),
            None => LoopAction::Continue,
        }
    }

    /// Start of the run.
    pub fn tier_start(&mut self) {
        // SAFETY: the hooks are used within this call only.
        if let Some(h) = unsafe { self.hooks() } {
            h.start(self);
        }
    }

    /// End of the run.
    pub(crate) fn tier_finish(&mut self) {
        // SAFETY: the hooks are used within this call only.
        if let Some(h) = unsafe { self.hooks() } {
            h.finish(self);
        }
    }
}

/// Slot `i` of an entry table. Another thread's VM may be storing a new code
/// address into it (threads share their compiled code), so the slot is read as
/// an atomic word (a plain load on every target we compile for).
///
/// # Safety
/// `table` must point to an entry table with more than `i` slots.
#[inline(always)]
pub(crate) unsafe fn read_entry(table: *const usize, i: usize) -> usize {
    // SAFETY: the caller's contract; `AtomicUsize` has the layout of `usize`.
    unsafe {
        (*table.add(i).cast::<std::sync::atomic::AtomicUsize>()).load(std::sync::atomic::Ordering::Acquire)
    }
}
