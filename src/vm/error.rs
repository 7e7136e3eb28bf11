//! Reports of uncaught exceptions and runtime errors:
//!
//! ```text
//! FILE:LINE:COL: runtime error: MESSAGE          (or: unhandled exception: MESSAGE)
//!   at NAME (FILE:LINE:COL)                      innermost first, up to 20 frames
//!   ... N more frames
//! ```

use crate::bytecode::Loc;
use crate::vm::ops::exceptions::{ExcKind, Exception};
use crate::vm::Vm;
use bp_runtime::format::write_value;
use bp_runtime::value::{ValKind, Value};

impl Vm<'_> {
    /// `FILE:LINE:COL` of instruction `pc` of function `fid`.
    pub fn location(&self, fid: u32, pc: u32) -> String {
        let Some(f) = self.program.functions.get(fid as usize) else {
            return "<unknown>:0:0".to_string();
        };
        let file = self
            .program
            .files
            .get(f.file as usize)
            .map(String::as_str)
            .unwrap_or("<unknown>");
        let loc = f
            .locs
            .get(pc as usize)
            .copied()
            .unwrap_or(Loc { line: f.line, col: 0 });
        format!("{file}:{}:{}", loc.line, loc.col)
    }

    /// The full stderr report of an exception that nobody caught.
    pub fn format_uncaught(&self, exc: &Exception) -> String {
        let what = match exc.kind {
            ExcKind::Runtime => "runtime error",
            ExcKind::Thrown => "unhandled exception",
        };
        let mut s = format!(
            "{}: {what}: {}\n",
            self.location(exc.origin.0, exc.origin.1),
            // SAFETY: an exception's message is a string the VM allocated, or null
            // (the invariant the collector relies on to mark it).
            unsafe { message_text(exc.msg) }
        );
        for &(fid, pc) in &exc.trace {
            let name = self
                .program
                .functions
                .get(fid as usize)
                .map(|f| f.name.as_str())
                .unwrap_or("?");
            // A name may be megabytes long: show it as diagnostics quote names.
            let name = crate::diag::shorten_message(name);
            s.push_str(&format!("  at {name} ({})\n", self.location(fid, pc)));
        }
        if exc.depth > exc.trace.len() {
            s.push_str(&format!("  ... {} more frames\n", exc.depth - exc.trace.len()));
        }
        s
    }
}

/// The text of an exception message (a string value; `null` if null).
///
/// # Safety
/// `v` must be null or a live string (not bits forged from an int).
pub unsafe fn message_text(v: Value) -> String {
    let mut out = Vec::new();
    // A message is a string (or null), which never fails to convert; were it ever
    // too large, the text written so far is still the best message there is.
    let _ = write_value(&mut out, v, ValKind::Ref);
    String::from_utf8_lossy(&out).into_owned()
}
