//! Console input (LANGUAGE.md §9.1). `print` is a compiler intrinsic; stdout is
//! buffered in [`Rt::out`].

use super::{b, Builtin};
use crate::rt::{Rt, RtResult};
use crate::value::Value;
use std::io::BufRead;

pub const TABLE: &[Builtin] = &[b("read_line", "() -> str", read_line, 0)];

/// Read one line from `input` (up to and including `\n`) and strip every trailing
/// `\n`/`\r`. End of input and read errors give an empty line.
pub(crate) fn read_line_from(input: &mut impl BufRead) -> Vec<u8> {
    let mut line = Vec::new();
    // An unreadable stdin behaves like end of input; bytes read before an error are
    // kept.
    let _ = input.read_until(b'\n', &mut line);
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    line
}

fn read_line(rt: &mut Rt, _a: &[Value]) -> RtResult {
    // Prompts written with print() must be visible before the program blocks.
    rt.flush()?;
    let line = read_line_from(&mut std::io::stdin().lock());
    Ok(rt.str(line))
}

#[cfg(test)]
mod tests {
    use super::read_line_from;

    #[test]
    fn strips_line_endings_and_handles_eof() {
        let mut input: &[u8] = b"first\r\nsecond\n\nlast\r\r";
        assert_eq!(read_line_from(&mut input), b"first");
        assert_eq!(read_line_from(&mut input), b"second");
        assert_eq!(read_line_from(&mut input), b"");
        assert_eq!(read_line_from(&mut input), b"last");
        assert_eq!(read_line_from(&mut input), b"");
        assert_eq!(read_line_from(&mut input), b"");
    }

    #[test]
    fn bytes_are_kept() {
        let mut input: &[u8] = b"\xff\x00a\tb\n";
        assert_eq!(read_line_from(&mut input), b"\xff\x00a\tb");
    }
}
