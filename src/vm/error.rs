//! Reports of uncaught exceptions and runtime errors:
//!
//! ```text
//! FILE:LINE:COL: runtime error: MESSAGE          (or: unhandled exception: MESSAGE)
//!     SOURCE LINE                                 when the file can be read again
//!     ^                                           under the column
//!   at NAME (FILE:LINE:COL)                      innermost first, up to 20 frames
//!   ... N more frames
//! ```
//!
//! The source line is read from the file when the report is made, as Python's
//! tracebacks do (the program keeps no source text); a program from `-c` or
//! standard input, or a file that changed or went away, gets no line.

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

    /// The source line of instruction `pc` of function `fid` with a caret under its
    /// column (two lines, each indented by four spaces), if the file can be read.
    fn source_excerpt(&self, fid: u32, pc: u32) -> Option<String> {
        let f = self.program.functions.get(fid as usize)?;
        let path = self.program.files.get(f.file as usize)?;
        let loc = f.locs.get(pc as usize).copied()?;
        let line = read_line_of(path, loc.line)?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        let indent = text.chars().take_while(|c| c.is_whitespace()).count();
        let shown: String = text.chars().skip(indent).take(SHOWN_LINE_CHARS).collect();
        let col = (loc.col as usize).saturating_sub(1).checked_sub(indent)?;
        if shown.is_empty() || col >= shown.chars().count() {
            return None;
        }
        Some(format!("    {shown}\n    {}^\n", " ".repeat(col)))
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
        if let Some(excerpt) = self.source_excerpt(exc.origin.0, exc.origin.1) {
            s.push_str(&excerpt);
        }
        for &(fid, pc) in &exc.trace {
            if fid == crate::vm::threads::THREAD_MARK {
                s.push_str(&format!("  in thread {pc}, raised again by thread_join:\n"));
                continue;
            }
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

/// At most this many characters of a source line are shown under an error.
const SHOWN_LINE_CHARS: usize = 120;

/// Line `line` (1-based; only `\n` ends a line) of the file at `path`, without its
/// line end: at most 64 KiB of it, read in blocks into a buffer reserved
/// fallibly, so that a report made when memory is short cannot fail on it.
fn read_line_of(path: &str, line: u32) -> Option<Vec<u8>> {
    use std::io::Read;
    const MAX_LINE: usize = 64 << 10;
    let mut file = std::fs::File::open(path).ok()?;
    let mut out = Vec::new();
    out.try_reserve_exact(MAX_LINE).ok()?;
    let mut block = [0u8; 4096];
    let mut current = 1u32;
    loop {
        let n = file.read(&mut block).ok()?;
        if n == 0 {
            return (current == line && !out.is_empty()).then_some(out);
        }
        for &b in &block[..n] {
            if b == b'\n' {
                if current == line {
                    return Some(out);
                }
                current += 1;
            } else if current == line && out.len() < MAX_LINE {
                out.push(b);
            }
        }
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
