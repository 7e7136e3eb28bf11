//! The pipeline driver: load the entry file and its imports, parse, type-check and
//! compile them, and report diagnostics. The CLI (`main.rs`) and the tests call it.

use crate::ast::{GlobalLet, Item, Module, Span};
use crate::bytecode::Program;
use crate::diag::{Diagnostic, Diagnostics, Severity, SourceFile, SourceMap, MAX_DIAGNOSTICS};
use crate::types::ProgramInfo;
use crate::{compiler, lexer, parser, types};
use std::collections::HashMap;
use std::io::Read;
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
    compile_entry(path, None, stop)
}

/// Like [`compile_file`], but the entry file's content is `source` (not read from
/// disk); `path` names it in diagnostics and its directory is where imports are
/// looked for first. For tests and tools that hold a program in memory.
pub fn compile_source(path: &Path, source: Vec<u8>, stop: Stop) -> Compiled {
    compile_entry(path, Some(source), stop)
}

/// Load, check and compile a test file (`bp test`): it needs no `main`, and its
/// imports are also looked for in `root` (the folder `bp test` runs in) after the
/// file's own folder.
pub fn compile_test_file(path: &Path, root: &Path) -> Compiled {
    let mut loader = Loader::new(path);
    loader.extra_dir = Some(root.to_path_buf());
    compile_loaded(loader, path, None, Stop::Bytecode, false, None)
}

/// Compile a snippet (`bp -c CODE`): its statements are the body of `main`, with
/// positions in the snippet itself; `path` names it (`<string>`), and imports are
/// found from the current folder.
pub fn compile_snippet(path: &Path, source: Vec<u8>) -> Compiled {
    let mut loader = Loader::new(path);
    loader.entry_is_snippet = true;
    compile_loaded(loader, path, Some(source), Stop::Bytecode, true, None)
}

/// Compile a `bp repl` session: `source` is the session's inputs one after the
/// other, and the statements of each region `(from, to, name)` of it are the body
/// of `def NAME() -> void`. No `main` is needed; imports are found from the
/// current folder. With `initialise`, the global initialiser `<init>`
/// initialises only the globals for which `initialise(module index, module name,
/// global)` is true (those that have no value yet), and every function, lambdas
/// in the other initialisers included, is compiled; without it, `<init>` is the
/// usual one (for a caller that does not run it).
pub fn compile_session(
    path: &Path,
    source: Vec<u8>,
    regions: &[(usize, usize, String)],
    initialise: Option<&InitFilter>,
) -> Compiled {
    let mut loader = Loader::new(path);
    loader.entry_regions = Some(regions.to_vec());
    let Some(initialise) = initialise else {
        return compile_loaded(loader, path, Some(source), Stop::Bytecode, false, None);
    };
    let mut select_inits =
        |modules: &[Module], info: &ProgramInfo, sources: &SourceMap, program: &mut Program| {
            // The program again with only the selected initialisers; its `<init>` and
            // per-module helpers (ids from `info.funcs.len()` on, in both) replace the
            // full program's, whose functions keep the lambdas of all initialisers.
            let mut some = modules.to_vec();
            for (index, m) in some.iter_mut().enumerate() {
                let name = m.name.clone();
                m.items
                    .retain(|item| !matches!(item, Item::Global(g) if !initialise(index, &name, g)));
            }
            let mut diags = Diagnostics::default();
            let inits = compiler::compile_program(&some, info, sources, &mut diags);
            let first = info.funcs.len();
            program.functions.truncate(first);
            program.functions.extend(inits.functions.into_iter().skip(first));
            program.init = inits.init;
        };
    let finish: &mut Finish = &mut select_inits;
    compile_loaded(loader, path, Some(source), Stop::Bytecode, false, Some(finish))
}

/// Which globals a session's `<init>` initialises: `(module index, module name,
/// global) -> bool` ([`compile_session`]).
pub type InitFilter<'a> = dyn Fn(usize, &str, &GlobalLet) -> bool + 'a;

/// A last step of [`compile_loaded`] on a program that compiled.
type Finish<'a> = dyn FnMut(&[Module], &ProgramInfo, &SourceMap, &mut Program) + 'a;

fn compile_entry(path: &Path, source: Option<Vec<u8>>, stop: Stop) -> Compiled {
    compile_loaded(Loader::new(path), path, source, stop, true, None)
}

/// What an editor needs of a file: its modules parsed and checked (annotated in
/// place) whatever the errors, for `bp lsp`.
pub struct Analyzed {
    pub sources: SourceMap,
    pub diags: Diagnostics,
    /// `modules[0]` is the file itself, then the modules it imports.
    pub modules: Vec<Module>,
    pub info: types::ProgramInfo,
    /// Loading or parsing failed: `diags` holds those errors only (what `bp check`
    /// reports), while the checker still ran on the parts that parsed.
    pub syntax_errors: bool,
}

/// Parse and check `source` as the entry file `path` (which needs no `main`: it may
/// be a module or a test file), going on after syntax errors so that an editor
/// still gets types and names for the parts that parsed; the checker's diagnostics
/// are kept only when the files parsed.
pub fn analyze_source(path: &Path, source: Vec<u8>) -> Analyzed {
    let mut loader = Loader::new(path);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    loader.load(path, &name, None, Some(source));
    let Loader {
        sources,
        mut diags,
        mut modules,
        ..
    } = loader;
    let syntax_errors = diags.has_errors();
    let mut checked = Diagnostics::default();
    let info = types::check::check_program_with(&mut modules, &mut checked, false);
    if !syntax_errors {
        diags.extend(checked.list);
    }
    Analyzed {
        sources,
        diags,
        modules,
        info,
        syntax_errors,
    }
}

/// Compile the program whose entry file is `path` with `loader`; `require_main`:
/// a program without `main` is an error; `finish` edits the compiled program.
fn compile_loaded(
    mut loader: Loader,
    path: &Path,
    source: Option<Vec<u8>>,
    stop: Stop,
    require_main: bool,
    finish: Option<&mut Finish>,
) -> Compiled {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    loader.load(path, &name, None, source);
    let Loader {
        sources,
        mut diags,
        mut modules,
        ..
    } = loader;
    if diags.has_errors() {
        return Compiled {
            sources,
            diags,
            program: None,
        };
    }
    let info = types::check::check_program_with(&mut modules, &mut diags, require_main);
    if diags.has_errors() || stop == Stop::AfterCheck {
        return Compiled {
            sources,
            diags,
            program: None,
        };
    }
    let mut program = compiler::compile_program(&modules, &info, &sources, &mut diags);
    if let (Some(finish), false) = (finish, diags.has_errors()) {
        finish(&modules, &info, &sources, &mut program);
    }
    let program = if diags.has_errors() { None } else { Some(program) };
    // `modules` (possibly deep trees) is dropped here, after compiling.
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
    let (errors, warnings) = (c.diags.dropped_errors, c.diags.dropped_warnings);
    if errors + warnings > 0 {
        out.push_str(&format!(
            "bp: {errors} more error(s) and {warnings} more warning(s) not shown (at most {MAX_DIAGNOSTICS} of each are shown)\n"
        ));
    }
    out.push_str(&error_count_line(&c.diags));
    out
}

/// `bp: 2 errors, 1 warning` after the diagnostics of a program that does not
/// compile (nothing when it compiles: its warnings stand alone).
fn error_count_line(d: &Diagnostics) -> String {
    let count = |severity: Severity| d.list.iter().filter(|x| x.severity == severity).count();
    let errors = count(Severity::Error) + d.dropped_errors;
    if errors == 0 {
        return String::new();
    }
    let warnings = count(Severity::Warning) + d.dropped_warnings;
    let plural = |n: usize, what: &str| {
        if n == 1 {
            format!("1 {what}")
        } else {
            format!("{n} {what}s")
        }
    };
    match warnings {
        0 => format!("bp: {}\n", plural(errors, "error")),
        w => format!("bp: {}, {}\n", plural(errors, "error"), plural(w, "warning")),
    }
}

/// Largest source file accepted. The front end needs about 100 bytes of memory per
/// byte of source (tokens, then the tree), so this keeps a program's compilation
/// under about 2 GB; real programs are far smaller.
pub const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// Read a source file (at most [`MAX_SOURCE_BYTES`], so that `/dev/zero` or an
/// endless pipe is an error, not a hang).
pub(crate) fn read_source(path: &Path) -> Result<Vec<u8>, String> {
    let cannot = |e: std::io::Error| format!("cannot read '{}': {}", path.display(), e);
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(format!(
            "source file '{}' is too large (the limit is {} MiB)",
            path.display(),
            MAX_SOURCE_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// Loads the entry module and, recursively, every module it imports (LANGUAGE.md
/// §10). `modules[0]` is the entry; each module is loaded once; cycles are errors.
struct Loader {
    entry_dir: PathBuf,
    /// Another folder to find modules in, after the importer's (`bp test`'s root).
    extra_dir: Option<PathBuf>,
    /// The entry file is a snippet of statements (`bp -c`).
    entry_is_snippet: bool,
    /// The entry file is a REPL session: the statements of each region are the
    /// body of the named function (`compile_session`).
    entry_regions: Option<Vec<(usize, usize, String)>>,
    sources: SourceMap,
    diags: Diagnostics,
    modules: Vec<Module>,
    /// Canonical path -> index in `modules`.
    loaded: HashMap<PathBuf, usize>,
    /// The chain of imports being loaded (for cycle detection).
    stack: Vec<PathBuf>,
}

impl Loader {
    fn new(entry: &Path) -> Loader {
        Loader {
            entry_dir: parent_dir(entry),
            extra_dir: None,
            entry_is_snippet: false,
            entry_regions: None,
            sources: SourceMap::default(),
            diags: Diagnostics::default(),
            modules: Vec::new(),
            loaded: HashMap::new(),
            stack: Vec::new(),
        }
    }

    /// Load module `name` from `path` (or from `source` when given), then its
    /// imports. `import_span` is the import that asked for it (none for the entry).
    fn load(&mut self, path: &Path, name: &str, import_span: Option<Span>, source: Option<Vec<u8>>) {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(at) = self.stack.iter().position(|p| *p == key) {
            if let Some(sp) = import_span {
                // Name the whole cycle: the modules on the import chain from `name`.
                let stem = |p: &PathBuf| {
                    p.file_stem()
                        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
                };
                let mut chain: Vec<String> = self.stack[at..].iter().map(stem).collect();
                chain.push(name.to_string());
                let msg = format!("circular import of module '{name}': {}", chain.join(" -> "));
                self.diags.error(sp, msg);
            }
            return;
        }
        if self.loaded.contains_key(&key) {
            return;
        }
        let display = path.to_string_lossy().into_owned();
        let bytes = match source.map_or_else(|| read_source(path), Ok) {
            Ok(b) => b,
            Err(msg) => {
                let file = self.sources.add(display, String::new());
                let span = import_span.unwrap_or(Span::new(file, 0, 0));
                self.diags.error(span, msg);
                return;
            }
        };
        let decoded = lexer::decode_source(bytes);
        let file = self
            .sources
            .add_file(SourceFile::with_invalid(display, decoded.text, decoded.invalid));
        let text = &self.sources.file(file).text;
        let raw = decoded.raw.as_deref();
        let module = if let (Some(regions), None) = (&self.entry_regions, import_span) {
            let regions: Vec<(usize, usize, &str)> =
                regions.iter().map(|(a, b, n)| (*a, *b, n.as_str())).collect();
            parser::parse_session(text, raw, file, name, &mut self.diags, &regions)
        } else if self.entry_is_snippet && import_span.is_none() {
            parser::parse_snippet(text, raw, file, name, &mut self.diags)
        } else {
            parser::parse_decoded(text, raw, file, name, &mut self.diags)
        };
        self.loaded.insert(key.clone(), self.modules.len());
        let imports: Vec<(String, Span)> = module
            .items
            .iter()
            .filter_map(|it| match it {
                Item::Import(imp) => Some((imp.module.name.clone(), imp.module.span)),
                _ => None,
            })
            .collect();
        self.modules.push(module);
        self.stack.push(key);
        let dir = parent_dir(path);
        for (m, span) in imports {
            match resolve_module(&m, &dir, &self.entry_dir, self.extra_dir.as_deref()) {
                Some(p) => self.load(&p, &m, Some(span), None),
                None => self.diags.error(span, format!("cannot find module '{m}'")),
            }
        }
        self.stack.pop();
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Module search path of LANGUAGE.md §10.2.
fn resolve_module(
    name: &str,
    importer_dir: &Path,
    entry_dir: &Path,
    extra_dir: Option<&Path>,
) -> Option<PathBuf> {
    let file = format!("{name}.bp");
    let mut dirs: Vec<PathBuf> = vec![importer_dir.to_path_buf()];
    dirs.extend(extra_dir.map(Path::to_path_buf));
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
