//! The runtime context handed to every builtin: the heap, buffered stdout, the
//! random generator state and the program arguments.

use crate::heap::Heap;
use crate::value::Value;
use std::io::Write;

/// Why a builtin (or a VM instruction implemented in the runtime) did not produce a
/// value.
#[derive(Clone, Debug, PartialEq)]
pub enum RtError {
    /// A runtime error; becomes a catchable exception whose message is the text.
    Error(String),
    /// `exit(code)`: stop the program now with this status.
    Exit(i32),
}

impl RtError {
    pub fn msg(s: impl Into<String>) -> RtError {
        RtError::Error(s.into())
    }
}

pub type RtResult = Result<Value, RtError>;

pub struct Rt {
    pub heap: Heap,
    /// Buffered standard output; flushed when large and at exit.
    pub out: Vec<u8>,
    /// State of the language's 64-bit LCG (LANGUAGE.md §9.7), initially 1.
    pub rng: u64,
    /// Program arguments (after the script path), as the bytes the OS passed
    /// (they need not be UTF-8).
    pub args: Vec<Vec<u8>>,
}

const OUT_FLUSH: usize = 1 << 16;

impl Rt {
    pub fn new(heap: Heap, args: Vec<Vec<u8>>) -> Rt {
        Rt {
            heap,
            out: Vec::with_capacity(OUT_FLUSH),
            rng: 1,
            args,
        }
    }

    /// Append bytes to stdout.
    #[inline]
    pub fn write_out(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        if self.out.len() >= OUT_FLUSH {
            self.flush();
        }
    }

    /// Write buffered stdout to the process's stdout. Errors (a closed pipe) are
    /// ignored: the program keeps its exit status.
    pub fn flush(&mut self) {
        if !self.out.is_empty() {
            let mut so = std::io::stdout().lock();
            let _ = so.write_all(&self.out);
            let _ = so.flush();
            self.out.clear();
        }
    }

    /// Allocate a string value.
    #[inline]
    pub fn str(&mut self, bytes: impl Into<Box<[u8]>>) -> Value {
        self.heap.alloc_str(bytes)
    }
}
