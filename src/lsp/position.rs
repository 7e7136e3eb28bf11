//! Byte offsets (our spans) <-> LSP positions.
//!
//! An LSP position is a line and a column counted in UTF-16 code units (the
//! protocol's default encoding, the only one every client supports). LSP lines end
//! at `\n`, `\r\n` or a lone `\r` (the specification's rule, which clients apply),
//! so this index follows that rule rather than the compiler's (only `\n`, see
//! docs/architecture.md): the positions must be the ones the editor shows.

use lsp_types::{Position, Range};

/// Line starts of one text, to convert offsets both ways in O(log lines + line).
pub struct LineIndex {
    text: String,
    /// Byte offset of the start of every line.
    line_starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut line_starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            let ends_line = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
            if ends_line {
                line_starts.push(i as u32 + 1);
            }
        }
        LineIndex {
            text: text.to_string(),
            line_starts,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The position of byte `offset`, clamped to the text and to the end of its
    /// line (an offset inside a line ending is the end of the line).
    pub fn position(&self, offset: u32) -> Position {
        let offset = (offset as usize).min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s as usize <= offset) - 1;
        let start = self.line_starts[line] as usize;
        let offset = offset.min(self.line_end(line));
        let column: usize = self.text[start..]
            .char_indices()
            .take_while(|&(i, _)| start + i < offset)
            .map(|(_, c)| c.len_utf16())
            .sum();
        Position::new(line as u32, column as u32)
    }

    pub fn range(&self, lo: u32, hi: u32) -> Range {
        Range::new(self.position(lo), self.position(hi))
    }

    /// The byte offset of `pos`. A column past the end of its line is the end of
    /// the line, a line past the end is the end of the text, and a column inside a
    /// surrogate pair is the start of that character (what the specification
    /// asks of a server for positions it cannot represent).
    pub fn offset(&self, pos: Position) -> u32 {
        let Some(&start) = self.line_starts.get(pos.line as usize) else {
            return self.text.len() as u32;
        };
        let end = self.line_end(pos.line as usize);
        let line = &self.text[start as usize..end];
        let mut units = 0;
        for (i, c) in line.char_indices() {
            units += c.len_utf16() as u32;
            if units > pos.character {
                return start + i as u32;
            }
        }
        end as u32
    }

    /// The byte offset where line `line` ends, before its line ending.
    fn line_end(&self, line: usize) -> usize {
        let next = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |&s| s as usize);
        let body = &self.text.as_bytes()[self.line_starts[line] as usize..next];
        let ending = if body.ends_with(b"\r\n") {
            2
        } else if body.ends_with(b"\n") || body.ends_with(b"\r") {
            1
        } else {
            0
        };
        next - ending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(index: &LineIndex, offset: u32, line: u32, character: u32) {
        assert_eq!(
            index.position(offset),
            Position::new(line, character),
            "offset {offset}"
        );
        assert_eq!(index.offset(Position::new(line, character)), offset);
    }

    #[test]
    fn ascii_lines() {
        let index = LineIndex::new("ab\ncd\n");
        round_trip(&index, 0, 0, 0);
        round_trip(&index, 2, 0, 2);
        round_trip(&index, 3, 1, 0);
        round_trip(&index, 5, 1, 2);
        round_trip(&index, 6, 2, 0);
    }

    #[test]
    fn columns_count_utf16_units() {
        // é: 2 bytes, 1 unit; 中: 3 bytes, 1 unit; 😀: 4 bytes, 2 units.
        let index = LineIndex::new("let s = \"é中😀\" + x\n");
        round_trip(&index, 9, 0, 9);
        round_trip(&index, 11, 0, 10);
        round_trip(&index, 14, 0, 11);
        round_trip(&index, 18, 0, 13);
        let x = "let s = \"é中😀\" + ".len() as u32;
        round_trip(&index, x, 0, 17);
    }

    #[test]
    fn a_column_inside_a_surrogate_pair_is_the_character_start() {
        let index = LineIndex::new("😀x");
        assert_eq!(index.offset(Position::new(0, 1)), 0);
        assert_eq!(index.offset(Position::new(0, 2)), 4);
    }

    #[test]
    fn crlf_and_lone_cr_end_lines() {
        let index = LineIndex::new("a\r\nb\rc\n");
        round_trip(&index, 3, 1, 0);
        round_trip(&index, 5, 2, 0);
        // Past the end of a line: the end of the line, before its `\r\n`.
        assert_eq!(index.offset(Position::new(0, 9)), 1);
        assert_eq!(index.position(2), Position::new(0, 1));
    }

    #[test]
    fn positions_past_the_end_are_clamped() {
        let index = LineIndex::new("ab");
        assert_eq!(index.offset(Position::new(7, 0)), 2);
        assert_eq!(index.position(99), Position::new(0, 2));
    }
}
