//! File builtins (LANGUAGE.md §9.8). Paths are byte strings used as given (relative
//! to the working directory); contents are bytes, so invalid UTF-8 is fine.
//!
//! None of these panic or raise for I/O problems: a missing file, a directory, a
//! permission error or a failing write give the documented result (`""`, `false`,
//! `-1`). The one exception is `file_read_bytes`, which raises a catchable error
//! `file_read_bytes: cannot read '<path>': <reason>` instead of the original's
//! untyped null (LANGUAGE.md §14 item 21).
//!
//! Reading a file bigger than a string (`file_read`) or an array (`file_read_bytes`)
//! may hold is the runtime error `result too large (...)` (see `crate::limits`), and
//! a buffer the allocator refuses is `out of memory`.

use super::string::{null_error, str_arg};
use super::{b, Builtin};
use crate::heap::as_array;
use crate::limits::{self, LimitError, MAX_ARRAY_LEN, MAX_STR_LEN};
use crate::rt::{Rt, RtError, RtResult};
use crate::value::{ValKind, Value};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("file_read", "(str) -> str", "the whole file, `\"\"` if it cannot be read", file_read, 0),
    b("file_write", "(str, str) -> bool", "creates or truncates the file and writes; whether it worked", file_write, 0),
    b("file_append", "(str, str) -> bool", "appends to the file (creating it); whether it worked", file_append, 0),
    b("file_exists", "(str) -> bool", "whether the path exists (file or directory)", file_exists, 0),
    b("file_delete", "(str) -> bool", "deletes a file; whether it worked", file_delete, 0),
    b("file_size", "(str) -> int", "size in bytes, `-1` if the path cannot be examined", file_size, 0),
    b("file_copy", "(str, str) -> bool", "copies a file; whether it worked", file_copy, 0),
    b("file_read_bytes", "(str) -> [int]", "the file's bytes as ints (an error if it cannot be read)", file_read_bytes, 0),
    b("file_write_bytes", "(str, [int]) -> bool", "writes the low 8 bits of each int; whether it worked", file_write_bytes, 0),
];

/// A path from the bytes of a `str` (byte-exact on Unix).
pub(crate) fn path_of(bytes: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

unsafe fn path_arg(v: Value) -> Result<PathBuf, RtError> {
    Ok(path_of(str_arg(v)?))
}

/// The OS's text for an I/O error without Rust's ` (os error N)` suffix.
pub(crate) fn io_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(p) if s.ends_with(')') => s[..p].to_string(),
        _ => s,
    }
}

/// Create/truncate (or append to) `path` and write all of `data`; any failure,
/// including a short write, is an error.
fn write_file(path: &Path, data: &[u8], append: bool) -> io::Result<()> {
    let mut f = if append {
        OpenOptions::new().append(true).create(true).open(path)?
    } else {
        File::create(path)?
    };
    f.write_all(data)?;
    f.flush()
}

/// Why [`read_capped`] gave up.
enum ReadFail {
    Io(io::Error),
    Limit(LimitError),
}

impl From<LimitError> for ReadFail {
    fn from(e: LimitError) -> ReadFail {
        ReadFail::Limit(e)
    }
}

/// The whole contents of the file at `path`, at most `max` bytes (`too_large` past
/// that), in a buffer grown fallibly (`std::fs::read` aborts the process when the
/// allocator refuses).
fn read_capped(path: &Path, max: usize, too_large: LimitError) -> Result<Vec<u8>, ReadFail> {
    let mut file = File::open(path).map_err(ReadFail::Io)?;
    // The size is only a hint (the file may change while it is read); the checks
    // below are the real bound.
    let hint = file.metadata().map_or(0, |m| m.len());
    if hint > max as u64 {
        return Err(too_large.into());
    }
    let mut buf = Vec::new();
    limits::grow_str(&mut buf, hint as usize)?;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => return Ok(buf),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadFail::Io(e)),
        };
        if buf.len() + n > max {
            return Err(too_large.into());
        }
        limits::grow_str(&mut buf, n)?;
        buf.extend_from_slice(&chunk[..n]);
    }
}

unsafe fn file_read(rt: &mut Rt, a: &[Value]) -> RtResult {
    match read_capped(&path_arg(a[0])?, MAX_STR_LEN, LimitError::StrTooLarge) {
        Ok(data) => Ok(rt.str(data)),
        Err(ReadFail::Limit(e)) => Err(e.into()),
        // The documented result of an unreadable file.
        Err(ReadFail::Io(_)) => Ok(rt.str(Vec::new())),
    }
}

unsafe fn file_write(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let path = path_arg(a[0])?;
    Ok(Value::bool(write_file(&path, str_arg(a[1])?, false).is_ok()))
}

unsafe fn file_append(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let path = path_arg(a[0])?;
    Ok(Value::bool(write_file(&path, str_arg(a[1])?, true).is_ok()))
}

unsafe fn file_exists(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::bool(fs::metadata(path_arg(a[0])?).is_ok()))
}

unsafe fn file_delete(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::bool(fs::remove_file(path_arg(a[0])?).is_ok()))
}

unsafe fn file_size(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let size = match fs::metadata(path_arg(a[0])?) {
        Ok(m) => i64::try_from(m.len()).unwrap_or(i64::MAX),
        Err(_) => -1,
    };
    Ok(Value::int(size))
}

/// True if `a` and `b` name the same existing file (so copying would truncate the
/// source before reading it).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (fs::metadata(a), fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (fs::canonicalize(a), fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}

fn copy_file(src: &Path, dst: &Path) -> io::Result<()> {
    let mut from = File::open(src)?;
    if from.metadata()?.is_dir() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a directory"));
    }
    if same_file(src, dst) {
        // Copying a file onto itself leaves it as it is.
        return Ok(());
    }
    let mut to = File::create(dst)?;
    io::copy(&mut from, &mut to)?;
    to.flush()
}

unsafe fn file_copy(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let (src, dst) = (path_arg(a[0])?, path_arg(a[1])?);
    Ok(Value::bool(copy_file(&src, &dst).is_ok()))
}

unsafe fn file_read_bytes(rt: &mut Rt, a: &[Value]) -> RtResult {
    let raw = str_arg(a[0])?;
    match read_capped(&path_of(raw), MAX_ARRAY_LEN, LimitError::ArrayTooLarge) {
        Ok(data) => {
            let mut items = limits::array_buf(data.len())?;
            items.extend(data.iter().map(|&c| Value::int(c as i64)));
            Ok(rt.heap.alloc_array(ValKind::Int, items))
        }
        Err(ReadFail::Limit(e)) => Err(e.into()),
        Err(ReadFail::Io(e)) => Err(RtError::msg(format!(
            "file_read_bytes: cannot read '{}': {}",
            String::from_utf8_lossy(raw),
            io_reason(&e)
        ))),
    }
}

unsafe fn file_write_bytes(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let path = path_arg(a[0])?;
    if a[1].is_null() {
        return Err(null_error());
    }
    let data: Vec<u8> = as_array(a[1]).iter().map(|v| v.as_int() as u8).collect();
    Ok(Value::bool(write_file(&path, &data, false).is_ok()))
}

/// A fresh, empty directory for tests; removed when dropped.
#[cfg(test)]
pub(crate) struct TempDir(pub PathBuf);

#[cfg(test)]
impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "bp-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

#[cfg(test)]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::TempDir;
    use crate::builtins::string::testutil::*;
    use crate::heap::{as_array, str_bytes};
    use crate::value::{ValKind, Value};

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    #[test]
    fn write_read_append_size_delete() {
        let dir = TempDir::new("file");
        let mut rt = rt();
        let p = s(&mut rt, &dir.path("a.txt"));
        assert!(!ok(&mut rt, "file_exists", &[p]).as_bool());
        assert_eq!(ok(&mut rt, "file_size", &[p]).as_int(), -1);
        assert_eq!(text(ok(&mut rt, "file_read", &[p])), "");

        let data = rt.str(&b"hello\n\x00\xff"[..]);
        assert!(ok(&mut rt, "file_write", &[p, data]).as_bool());
        assert!(ok(&mut rt, "file_exists", &[p]).as_bool());
        assert_eq!(ok(&mut rt, "file_size", &[p]).as_int(), 8);
        assert_eq!(
            unsafe { str_bytes(ok(&mut rt, "file_read", &[p])) },
            b"hello\n\x00\xff"
        );

        let more = s(&mut rt, "more");
        assert!(ok(&mut rt, "file_append", &[p, more]).as_bool());
        assert_eq!(
            unsafe { str_bytes(ok(&mut rt, "file_read", &[p])) },
            b"hello\n\x00\xffmore"
        );
        // Writing truncates.
        assert!(ok(&mut rt, "file_write", &[p, more]).as_bool());
        assert_eq!(text(ok(&mut rt, "file_read", &[p])), "more");

        assert!(ok(&mut rt, "file_delete", &[p]).as_bool());
        assert!(!ok(&mut rt, "file_delete", &[p]).as_bool());
        assert!(!ok(&mut rt, "file_exists", &[p]).as_bool());

        // Append creates the file.
        let q = s(&mut rt, &dir.path("b.txt"));
        assert!(ok(&mut rt, "file_append", &[q, more]).as_bool());
        assert_eq!(text(ok(&mut rt, "file_read", &[q])), "more");
    }

    #[test]
    fn directories_and_missing_parents() {
        let dir = TempDir::new("filedir");
        let mut rt = rt();
        let d = s(&mut rt, &dir.0.to_string_lossy());
        let data = s(&mut rt, "x");
        assert!(ok(&mut rt, "file_exists", &[d]).as_bool());
        assert_eq!(text(ok(&mut rt, "file_read", &[d])), "");
        assert!(!ok(&mut rt, "file_write", &[d, data]).as_bool());
        assert!(!ok(&mut rt, "file_append", &[d, data]).as_bool());
        assert!(!ok(&mut rt, "file_delete", &[d]).as_bool());
        assert!(ok(&mut rt, "file_size", &[d]).as_int() >= 0);
        let dst = s(&mut rt, &dir.path("copy"));
        assert!(!ok(&mut rt, "file_copy", &[d, dst]).as_bool());
        assert!(!ok(&mut rt, "file_exists", &[dst]).as_bool());

        let deep = s(&mut rt, &dir.path("no/such/dir/f.txt"));
        assert!(!ok(&mut rt, "file_write", &[deep, data]).as_bool());
        let bytes = int_array(&mut rt, &[1]);
        assert!(!ok(&mut rt, "file_write_bytes", &[deep, bytes]).as_bool());
        let empty = s(&mut rt, "");
        assert!(!ok(&mut rt, "file_exists", &[empty]).as_bool());
        assert_eq!(text(ok(&mut rt, "file_read", &[empty])), "");
        // A NUL byte cannot be part of a path: reported, not a panic.
        let nul = rt.str(&b"a\0b"[..]);
        assert!(!ok(&mut rt, "file_write", &[nul, data]).as_bool());
        assert!(!ok(&mut rt, "file_exists", &[nul]).as_bool());
    }

    #[test]
    fn copy() {
        let dir = TempDir::new("filecopy");
        let mut rt = rt();
        let src = s(&mut rt, &dir.path("src"));
        let dst = s(&mut rt, &dir.path("dst"));
        let missing = s(&mut rt, &dir.path("missing"));
        assert!(!ok(&mut rt, "file_copy", &[missing, dst]).as_bool());
        let data = rt.str(&b"abc\x00\xfe"[..]);
        ok(&mut rt, "file_write", &[src, data]);
        assert!(ok(&mut rt, "file_copy", &[src, dst]).as_bool());
        assert_eq!(
            unsafe { str_bytes(ok(&mut rt, "file_read", &[dst])) },
            b"abc\x00\xfe"
        );
        // Copying onto itself keeps the content.
        assert!(ok(&mut rt, "file_copy", &[src, src]).as_bool());
        assert_eq!(
            unsafe { str_bytes(ok(&mut rt, "file_read", &[src])) },
            b"abc\x00\xfe"
        );
        let bad_dst = s(&mut rt, &dir.path("nodir/dst"));
        assert!(!ok(&mut rt, "file_copy", &[src, bad_dst]).as_bool());
    }

    #[test]
    fn bytes() {
        let dir = TempDir::new("filebytes");
        let mut rt = rt();
        let p = s(&mut rt, &dir.path("bin"));
        let arr = int_array(&mut rt, &[0, 1, 255, 256, -1, 0x1234]);
        assert!(ok(&mut rt, "file_write_bytes", &[p, arr]).as_bool());
        let back = ok(&mut rt, "file_read_bytes", &[p]);
        assert_eq!(ints(back), [0, 1, 255, 0, 255, 0x34]);
        assert_eq!(unsafe { as_array(back) }.elem, ValKind::Int);
        assert_eq!(ok(&mut rt, "file_size", &[p]).as_int(), 6);
        let empty = int_array(&mut rt, &[]);
        assert!(ok(&mut rt, "file_write_bytes", &[p, empty]).as_bool());
        assert!(ints(ok(&mut rt, "file_read_bytes", &[p])).is_empty());

        let missing_path = dir.path("missing");
        let missing = s(&mut rt, &missing_path);
        assert_eq!(
            err(&mut rt, "file_read_bytes", &[missing]),
            format!("file_read_bytes: cannot read '{missing_path}': No such file or directory")
        );
        let d = s(&mut rt, &dir.0.to_string_lossy());
        assert!(err(&mut rt, "file_read_bytes", &[d]).starts_with("file_read_bytes: cannot read '"));
        assert_eq!(
            err(&mut rt, "file_write_bytes", &[p, Value::NULL]),
            "null reference"
        );
    }
}
