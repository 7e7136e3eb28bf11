//! Aligning a function's innermost loop to a cache line.
//!
//! Where a loop's first instruction lands decides how many fetch blocks and
//! micro-op cache lines its body spans, and so how fast the same machine code
//! runs: the loop of `charfreq` ran in 61 to 69 ms as the code before it was
//! moved by 4 bytes at a time, and every change to a translation moved it
//! (docs/benchmarks.md, "Loops aligned"). Cranelift aligns functions, not
//! loops, so the translator marks the header of the function's innermost loop
//! ([`innermost_loop`], [`mark_header`]) and the JIT puts padding before the
//! code that brings that header to a [`LOOP_ALIGNMENT`] boundary
//! ([`padding`]); the function's entry is after the padding, which is never
//! executed. HotSpot aligns loop heads the same way (`OptoLoopAlignment`), in
//! its case with no-ops inside the code.

use crate::bytecode::Function;
use crate::jit::analysis;
use cranelift_codegen::ir::{self, SourceLoc};
use cranelift_codegen::CompiledCode;
use cranelift_module::{FuncId, ModuleReloc, ModuleRelocTarget};

/// The boundary the marked loop starts at (or within the first bytes after,
/// see [`padding`]): a cache line, which is also the micro-op cache's line.
pub const LOOP_ALIGNMENT: u32 = 64;

/// The source location of the marked header's branch: no bytecode pc is this
/// large (a function has at most `u16::MAX` instructions), and `--jit-dump`
/// shows it as `@7ffffffe` without a source line.
const LOOP_HEAD: u32 = 0x7fff_fffe;

/// What fills the padding; never executed (`int3` on x86-64, and the zero
/// word, a permanently undefined instruction, on AArch64).
#[cfg(target_arch = "x86_64")]
const PADDING_BYTE: u8 = 0xcc;
#[cfg(not(target_arch = "x86_64"))]
const PADDING_BYTE: u8 = 0;

/// The header pc of `f`'s innermost loop: the loop inside the most others
/// (the hot inner loop rather than a setup loop before it), and of those the
/// shortest, then the first. A loop spans its header to its last back edge
/// (`analysis::loop_ends`).
pub fn innermost_loop(f: &Function) -> Option<u32> {
    let headers = analysis::loop_headers(f);
    let ends = analysis::loop_ends(f, &headers);
    let loops: Vec<(u32, u32)> = headers.into_iter().zip(ends).collect();
    let depth = |&(header, end): &(u32, u32)| {
        loops
            .iter()
            .filter(|&&(h, e)| (h, e) != (header, end) && h <= header && end <= e)
            .count()
    };
    loops
        .iter()
        .max_by_key(|l| (depth(l), std::cmp::Reverse(l.1 - l.0), std::cmp::Reverse(l.0)))
        .map(|&(header, _)| header)
}

/// Mark the header block `header` of the loop to align: its last instruction,
/// a branch, which no optimization moves (the first one could be hoisted out
/// of the loop), gets the [`LOOP_HEAD`] location.
pub fn mark_header(func: &mut ir::Function, header: ir::Block) {
    if let Some(branch) = func.layout.last_inst(header) {
        func.set_srcloc(branch, SourceLoc::new(LOOP_HEAD));
    }
}

/// How many bytes to put before `code` so that the block of its marked
/// branch starts at a [`LOOP_ALIGNMENT`] boundary (its block starts are
/// there when the `machine_code_cfg_info` flag is on). The code is moved by
/// whole multiples of the alignment its constants need (RIP-relative
/// operands of SSE instructions fault on a misaligned 16-byte constant); with
/// 8-byte constants the loop then starts within the first 8 bytes after the
/// boundary. No marked branch (no loop, or a branch the code lost), no
/// padding.
pub fn padding(code: &CompiledCode) -> u32 {
    let Some(branch) = code
        .buffer
        .get_srclocs_sorted()
        .iter()
        .find(|l| l.loc == SourceLoc::new(LOOP_HEAD) && l.end > l.start)
        .map(|l| l.start)
    else {
        return 0;
    };
    let Some(head) = code.bb_starts.iter().copied().filter(|&s| s <= branch).max() else {
        return 0;
    };
    padding_for(head, code.buffer.alignment)
}

/// The padding that brings offset `head` to a [`LOOP_ALIGNMENT`] boundary,
/// or to the first of the `step - 1` bytes after one, in whole multiples of
/// `step` (a power of two).
pub fn padding_for(head: u32, step: u32) -> u32 {
    let step = step.max(1);
    if step >= LOOP_ALIGNMENT || !LOOP_ALIGNMENT.is_multiple_of(step) {
        return 0;
    }
    let want = (LOOP_ALIGNMENT - head % LOOP_ALIGNMENT) % LOOP_ALIGNMENT;
    want.next_multiple_of(step) % LOOP_ALIGNMENT
}

/// `code` with `pad` padding bytes before it.
pub fn padded(code: &[u8], pad: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(pad as usize + code.len());
    bytes.resize(pad as usize, PADDING_BYTE);
    bytes.extend_from_slice(code);
    bytes
}

/// A relocation of function `id`'s code, moved `pad` bytes into its
/// definition: a reference to the function itself (its address, for a
/// recursive call, or an offset in it) still means its code.
pub fn shift_reloc(r: &mut ModuleReloc, id: FuncId, pad: u32) {
    r.offset += pad;
    match &mut r.name {
        ModuleRelocTarget::FunctionOffset(f, off) if *f == id => *off += pad,
        ModuleRelocTarget::User { namespace: 0, index } if *index == id.as_u32() => {
            r.addend += i64::from(pad)
        }
        _ => {}
    }
}
