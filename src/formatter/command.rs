//! `bp fmt [--check] PATH...`: format files in place, list the unformatted ones, or
//! filter stdin (`-`) to stdout.

use super::format_source;
use crate::diag::{Diagnostics, SourceMap};
use std::path::{Path, PathBuf};

/// What `bp fmt` prints and its exit status.
#[derive(Default)]
pub struct FmtOutcome {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub status: i32,
}

/// Run `bp fmt`. `stdin` is read only for the path `-`; `color` colours diagnostics.
pub fn run(
    paths: &[PathBuf],
    check: bool,
    color: bool,
    stdin: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> FmtOutcome {
    let mut out = FmtOutcome::default();
    let mut stdin = Some(stdin);
    let (mut changed, mut unchanged) = (0usize, 0usize);
    for path in paths {
        if path.as_os_str() == "-" {
            let Some(read) = stdin.take() else {
                out.fail("bp fmt: '-' (standard input) may be given once\n".to_string());
                continue;
            };
            match read() {
                Ok(bytes) => match format_source(bytes.clone()) {
                    Ok(text) => out.stdout.extend_from_slice(&text),
                    Err(d) => out.fail(render(Path::new("<stdin>"), &bytes, &d, color)),
                },
                Err(e) => out.fail(format!("bp fmt: cannot read standard input: {e}\n")),
            }
            continue;
        }
        let files = match source_files(path) {
            Ok(files) => files,
            Err(e) => {
                out.fail(format!("bp fmt: {e}\n"));
                continue;
            }
        };
        for file in files {
            match format_file(&file, check, color) {
                Ok(true) if check => {
                    out.stdout
                        .extend_from_slice(format!("{}\n", file.display()).as_bytes());
                    out.status = 1;
                    changed += 1;
                }
                Ok(true) => changed += 1,
                Ok(false) => unchanged += 1,
                Err(msg) => out.fail(msg),
            }
        }
    }
    if changed + unchanged > 0 {
        let verb = if check {
            "would be reformatted"
        } else {
            "reformatted"
        };
        out.stderr.push_str(&format!(
            "bp fmt: {changed} file(s) {verb}, {unchanged} file(s) left unchanged\n"
        ));
    }
    out
}

impl FmtOutcome {
    fn fail(&mut self, message: String) {
        self.stderr.push_str(&message);
        self.status = 1;
    }
}

/// Format one file in place (or only compare, with `check`). Returns whether its
/// text changes.
fn format_file(file: &Path, check: bool, color: bool) -> Result<bool, String> {
    let bytes = crate::driver::read_source(file).map_err(|e| format!("bp fmt: {e}\n"))?;
    let text = format_source(bytes.clone()).map_err(|d| render(file, &bytes, &d, color))?;
    if text == bytes {
        return Ok(false);
    }
    if !check {
        write_replacing(file, &text)
            .map_err(|e| format!("bp fmt: cannot write '{}': {e}\n", file.display()))?;
    }
    Ok(true)
}

/// Replace `file`'s content by writing a sibling and renaming it over the file, so
/// that an interrupted write never leaves half a program.
fn write_replacing(file: &Path, text: &[u8]) -> std::io::Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".bp-fmt-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(file) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
    }
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// `path` itself if it is a file, or every `.bp` file below it (sorted) if it is a
/// directory.
fn source_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read '{}': {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read '{}': {e}", dir.display()))?;
            let p = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(p),
                Ok(_) if p.extension().is_some_and(|e| e == "bp") => files.push(p),
                _ => {}
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The diagnostics of a file that does not parse, rendered as `bp check` does.
fn render(path: &Path, bytes: &[u8], d: &Diagnostics, color: bool) -> String {
    let mut sources = SourceMap::default();
    let decoded = crate::lexer::decode_source(bytes.to_vec());
    sources.add(path.display().to_string(), decoded.text);
    d.list.iter().map(|d| sources.render(d, color)).collect()
}
