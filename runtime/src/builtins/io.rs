//! Console input (LANGUAGE.md §9.1). `print` is a compiler intrinsic; stdout is
//! buffered in [`Rt::out`].

use super::{b, Builtin};
use crate::limits::{self, LimitError, MAX_STR_LEN};
use crate::rt::{Rt, RtResult};
use crate::value::Value;
use std::io::{BufRead, ErrorKind};

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[b("read_line", "() -> str", "one line of standard input without its line end, `\"\"` at end of input", read_line, 0)];

/// Read one line from `input` (up to and including `\n`) and strip every trailing
/// `\n`/`\r`. End of input and read errors give an empty line.
///
/// A line longer than a string may be (`limits::MAX_STR_LEN`, not counting the
/// `\n`) is the error `StrTooLarge`, raised once the cap is passed: an endless
/// stream without a newline costs at most one string's worth of memory. The bytes
/// read so far are dropped and the rest of the line stays in the stream.
pub(crate) fn read_line_from(input: &mut impl BufRead) -> Result<Vec<u8>, LimitError> {
    read_line_within(input, MAX_STR_LEN)
}

/// [`read_line_from`] with a line length cap of `max` bytes (at most the string cap).
fn read_line_within(input: &mut impl BufRead, max: usize) -> Result<Vec<u8>, LimitError> {
    let mut line = Vec::new();
    loop {
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // An unreadable stdin behaves like end of input; bytes read before an
            // error are kept.
            Err(_) => break,
        };
        if chunk.is_empty() {
            break;
        }
        let newline = chunk.iter().position(|&c| c == b'\n');
        let text = &chunk[..newline.unwrap_or(chunk.len())];
        if line.len() + text.len() > max {
            return Err(LimitError::StrTooLarge);
        }
        limits::grow_str(&mut line, text.len())?;
        line.extend_from_slice(text);
        let used = newline.map_or(chunk.len(), |i| i + 1);
        input.consume(used);
        if newline.is_some() {
            break;
        }
    }
    while matches!(line.last(), Some(b'\r')) {
        line.pop();
    }
    Ok(line)
}

fn read_line(rt: &mut Rt, _a: &[Value]) -> RtResult {
    // Prompts written with print() must be visible before the program blocks.
    rt.flush()?;
    let line = read_line_from(&mut std::io::stdin().lock())?;
    Ok(rt.str(line))
}

#[cfg(test)]
mod tests {
    use super::{read_line_from, read_line_within};
    use crate::limits::LimitError;
    use std::io::{BufReader, Read};

    /// The next line, which must be readable.
    fn line(input: &mut &[u8]) -> Vec<u8> {
        read_line_from(input).expect("line within the cap")
    }

    #[test]
    fn strips_line_endings_and_handles_eof() {
        let mut input: &[u8] = b"first\r\nsecond\n\nlast\r\r";
        assert_eq!(line(&mut input), b"first");
        assert_eq!(line(&mut input), b"second");
        assert_eq!(line(&mut input), b"");
        assert_eq!(line(&mut input), b"last");
        assert_eq!(line(&mut input), b"");
        assert_eq!(line(&mut input), b"");
    }

    #[test]
    fn bytes_are_kept() {
        let mut input: &[u8] = b"\xff\x00a\tb\n";
        assert_eq!(line(&mut input), b"\xff\x00a\tb");
    }

    /// An endless stream of one byte.
    struct Endless(u8);

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            buf.fill(self.0);
            Ok(buf.len())
        }
    }

    #[test]
    fn a_line_past_the_cap_is_an_error_not_unbounded_growth() {
        // Small buffers so that the line arrives in many chunks.
        let mut endless = BufReader::with_capacity(3, Endless(b'a'));
        assert_eq!(read_line_within(&mut endless, 10), Err(LimitError::StrTooLarge));
        let mut exact = BufReader::with_capacity(3, &b"0123456789\nabc"[..]);
        assert_eq!(
            read_line_within(&mut exact, 10).as_deref(),
            Ok(&b"0123456789"[..])
        );
        assert_eq!(read_line_within(&mut exact, 10).as_deref(), Ok(&b"abc"[..]));
        let mut long = BufReader::with_capacity(4, &b"0123456789x\nnext\n"[..]);
        assert_eq!(read_line_within(&mut long, 10), Err(LimitError::StrTooLarge));
    }
}
