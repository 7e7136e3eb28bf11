//! The pipeline driver: load the entry file and its imports, parse, type-check and
//! compile them, and report diagnostics. The CLI (`main.rs`) and the tests call it.

use crate::ast::{Item, Module, Span};
use crate::bytecode::Program;
use crate::diag::{Diagnostic, Diagnostics, Severity, SourceMap};
use crate::{compiler, parser, types};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The result of the front end and compiler, plus everything needed to report
/// diagnostics against the sources.
pub struct Compiled {
    pub sources: SourceMap,
    pub diags: Diagnostics,
    /// `None` when there were errors.
    pub program: Option<Program>,
}

/// How far to run the pipeline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Parse and type-check only (`bp check`).
    AfterCheck,
    /// Produce bytecode.
    Bytecode,
}

/// Load, check and (optionally) compile the program whose entry file is `path`.
pub fn compile_file(path: &Path, stop: Stop) -> Compiled {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let mut modules = Vec::new();
    load_modules(path, &mut sources, &mut diags, &mut modules);
    if diags.has_errors() {
        return Compiled {
            sources,
            diags,
            program: None,
        };
    }
    let info = types::check::check_program(&mut modules, &mut diags);
    if diags.has_errors() || stop == Stop::AfterCheck {
        return Compiled {
            sources,
            diags,
            program: None,
        };
    }
    let program = compiler::compile_program(&modules, &info, &sources, &mut diags);
    let program = if diags.has_errors() { None } else { Some(program) };
    Compiled {
        sources,
        diags,
        program,
    }
}

/// Render all diagnostics (errors and warnings) for stderr.
pub fn render_diagnostics(c: &Compiled, color: bool) -> String {
    let mut out = String::new();
    // Errors first in source order; warnings after (they matter less when the
    // program does not compile).
    let mut list: Vec<&Diagnostic> = c.diags.list.iter().collect();
    list.sort_by_key(|d| (d.severity != Severity::Error, d.span.file, d.span.lo));
    for d in list {
        out.push_str(&c.sources.render(d, color));
    }
    out
}

/// Read a source file as UTF-8 text; invalid bytes are a diagnostic at their offset.
fn read_source(path: &Path) -> Result<String, (u32, String)> {
    let bytes = std::fs::read(path).map_err(|e| (0, format!("cannot read '{}': {}", path.display(), e)))?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            Err((at as u32, "source file is not valid UTF-8".to_string()))
        }
    }
}

/// Load the entry module and, recursively, every module it imports (LANGUAGE.md
/// §10). `modules[0]` is the entry; each module is loaded once; cycles are errors.
fn load_modules(entry: &Path, sources: &mut SourceMap, diags: &mut Diagnostics, modules: &mut Vec<Module>) {
    let entry_dir = entry
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = entry
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut loaded: HashMap<PathBuf, usize> = HashMap::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    load_one(
        entry,
        &name,
        &entry_dir,
        None,
        sources,
        diags,
        modules,
        &mut loaded,
        &mut stack,
    );
}

#[allow(clippy::too_many_arguments)]
fn load_one(
    path: &Path,
    name: &str,
    entry_dir: &Path,
    import_span: Option<Span>,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    modules: &mut Vec<Module>,
    loaded: &mut HashMap<PathBuf, usize>,
    stack: &mut Vec<PathBuf>,
) {
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if stack.contains(&key) {
        if let Some(sp) = import_span {
            diags.error(sp, format!("circular import of module '{name}'"));
        }
        return;
    }
    if loaded.contains_key(&key) {
        return;
    }
    let display = path.to_string_lossy().into_owned();
    let text = match read_source(path) {
        Ok(t) => t,
        Err((at, msg)) => {
            // Keep the valid prefix so that the diagnostic can show a location.
            let prefix = std::fs::read(path)
                .map(|b| String::from_utf8_lossy(&b[..(at as usize).min(b.len())]).into_owned())
                .unwrap_or_default();
            let file = sources.add(display, prefix);
            match import_span {
                Some(sp) if at == 0 && msg.starts_with("cannot read") => diags.error(sp, msg),
                _ => diags.error(Span::new(file, at, at), msg),
            }
            return;
        }
    };
    let file = sources.add(display, text.clone());
    let module = parser::parse_module(&text, file, name, diags);
    let idx = modules.len();
    loaded.insert(key.clone(), idx);
    let imports: Vec<(String, Span)> = module
        .items
        .iter()
        .filter_map(|it| match it {
            Item::Import(imp) => Some((imp.module.name.clone(), imp.module.span)),
            _ => None,
        })
        .collect();
    modules.push(module);
    stack.push(key);
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    for (m, span) in imports {
        match resolve_module(&m, &dir, entry_dir) {
            Some(p) => load_one(
                &p,
                &m,
                entry_dir,
                Some(span),
                sources,
                diags,
                modules,
                loaded,
                stack,
            ),
            None => diags.error(span, format!("cannot find module '{m}'")),
        }
    }
    stack.pop();
}

/// Module search path of LANGUAGE.md §10.2.
fn resolve_module(name: &str, importer_dir: &Path, entry_dir: &Path) -> Option<PathBuf> {
    let file = format!("{name}.bp");
    let mut dirs: Vec<PathBuf> = vec![importer_dir.to_path_buf()];
    if let Ok(p) = std::env::var("BETTERPYTHON_PATH") {
        dirs.extend(p.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    for d in [
        "/usr/local/lib/betterpython/stdlib",
        "/usr/lib/betterpython/stdlib",
        "./stdlib",
        "./packages",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(entry_dir.to_path_buf());
    dirs.into_iter().map(|d| d.join(&file)).find(|p| p.is_file())
}

/// Convenience for tests: the first error message, if any.
pub fn first_error(c: &Compiled) -> Option<String> {
    c.diags
        .list
        .iter()
        .find(|d| d.severity == Severity::Error)
        .map(|d| format!("{}: {}", c.sources.location(d.span), d.message))
}
