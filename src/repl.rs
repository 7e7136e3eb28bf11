//! `bp repl`: an interactive session on the same compiler, VM and JIT as `bp run`.
//!
//! # How a session runs
//! The session is a growing program text. Every input is either *definitions*
//! (it starts with `def`, `struct`, `class`, `enum`, `import`, `let`, `extern`,
//! `export` or a decorator) or *statements* (anything else). The program compiled
//! for an input is the text of the definitions accepted so far, one after the
//! other, followed by the input; the statements of an input become the body of a
//! function `def <input>() -> void` (zero-width tokens, so positions stay the
//! input's own, `lexer::wrap_statements`). A statement that is a lone expression
//! is first tried as `print(expression)`, which prints its value the way `print`
//! shows it; if that does not compile (a `void` call), the input runs as written.
//!
//! The whole text is checked and compiled again for every input, so a definition
//! may use everything defined before, and an input that makes an earlier
//! definition wrong is refused with the diagnostic. The VM of each input is new;
//! what survives is the runtime (heap, stdout, random state: `Vm::into_runtime`)
//! and the values of the globals, carried by name into the next program (ids
//! shift as definitions are added). A global's initialiser runs once, when its
//! `let` is entered (`driver::compile_session` compiles `<init>` with only the new
//! ones). Values hold program ids, which are rewritten for the new program
//! (`Heap::remap_program_ids`): a struct or class instance's layout by the
//! layout's name and fields, a function value's function by name and signature,
//! a lambda's by the place of its code (the input it was entered in, line and
//! column). So lambdas stay alive, an input of statements that creates one is kept
//! in the session text (as a function never called again).
//!
//! Redefining a function or a global replaces the earlier input that defined it
//! (a global gets its new initial value); an input that would remove something a
//! value still refers to (a lambda of the replaced input, a struct whose fields
//! change, a function whose signature changes) is refused and the session keeps
//! its state. A struct, enum or class cannot be defined twice (the checker's
//! duplicate-definition error) unless it is part of an input being replaced.
//!
//! An input that fails (compile error, runtime error) changes no definitions;
//! what its statements did to the heap and globals before the error stays, as in
//! Python. `exit(n)` ends the session with status `n`; end of input (Ctrl-D) with 0.

use crate::ast::{GlobalLet, Item};
use crate::bytecode::Program;
use crate::diag::{Diagnostic, Diagnostics, Severity, SourceFile, SourceMap};
use crate::driver::{compile_session, Compiled, InitFilter};
use crate::lexer::{self, TokenKind};
use crate::parser;
use crate::vm::{verify, Stop, Vm, VmOptions};
use bp_runtime::heap::{Heap, ProgramId};
use bp_runtime::rt::{write_all_fd, Rt};
use bp_runtime::value::{ValKind, Value};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, IsTerminal};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// How the session runs its inputs.
pub struct ReplOptions {
    /// The engine options of `bp run` (interpreter, JIT thresholds, ...).
    pub vm: VmOptions,
    /// Colour diagnostics.
    pub color: bool,
}

/// Run a session: interactively (prompts, line editing, history) when standard
/// input is a terminal, else reading the inputs from standard input without
/// prompts. Returns the exit status.
pub fn run(options: ReplOptions) -> i32 {
    let mut session = Session::new(options);
    if std::io::stdin().is_terminal() {
        let mut terminal = Terminal::open();
        write_fd(libc::STDOUT_FILENO, &format!(
            "BetterPython {} — definitions persist; a line ending in ':' opens a block, a blank line ends it; Ctrl-D exits\n",
            env!("CARGO_PKG_VERSION")
        ));
        session.run_inputs(&mut terminal)
    } else {
        session.run_inputs(&mut Piped)
    }
}

// ---------------------------------------------------------------------------
// Reading inputs

/// One line read, or why there is none.
enum Line {
    Text(String),
    /// Ctrl-C at the prompt.
    Interrupted,
    /// Ctrl-D, or the end of the input stream.
    End,
}

/// Where the lines of a session come from.
trait LineSource {
    /// The next line; `more` when it continues an input (the `... ` prompt).
    fn next_line(&mut self, more: bool) -> Line;
    /// A complete input was read (for the history).
    fn entered(&mut self, _input: &str) {}
    /// Whether lines may be read before they are needed (not on a terminal,
    /// where that would wait for the user).
    fn reads_ahead(&self) -> bool {
        false
    }
}

/// A terminal: rustyline's line editor with a history file (written after every
/// input).
struct Terminal {
    editor: Option<rustyline::DefaultEditor>,
    history: Option<PathBuf>,
}

impl Terminal {
    fn open() -> Terminal {
        let editor = rustyline::DefaultEditor::new().ok();
        let history = history_path();
        let mut t = Terminal { editor, history };
        if let (Some(ed), Some(path)) = (t.editor.as_mut(), t.history.as_ref()) {
            // A missing or unreadable history is not an error.
            let _ = ed.load_history(path);
        }
        t
    }

    /// Write the history file; failing quietly (a read-only home, no home).
    fn save_history(&mut self) {
        if let (Some(ed), Some(path)) = (self.editor.as_mut(), self.history.as_ref()) {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = ed.save_history(path);
        }
    }
}

impl LineSource for Terminal {
    fn next_line(&mut self, more: bool) -> Line {
        let prompt = if more { "... " } else { ">>> " };
        let Some(ed) = self.editor.as_mut() else {
            return Piped.next_line(more);
        };
        match ed.readline(prompt) {
            Ok(line) => Line::Text(line),
            Err(rustyline::error::ReadlineError::Interrupted) => Line::Interrupted,
            Err(_) => Line::End,
        }
    }

    fn entered(&mut self, input: &str) {
        if let Some(ed) = self.editor.as_mut() {
            let _ = ed.add_history_entry(input.trim_end());
        }
        // Saved at once: Ctrl-C while code runs ends `bp` without a goodbye.
        self.save_history();
    }
}

/// `$XDG_STATE_HOME/bp/history`, else `~/.local/state/bp/history`.
fn history_path() -> Option<PathBuf> {
    let non_empty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    let state = std::env::var_os("XDG_STATE_HOME")
        .and_then(non_empty)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(non_empty)
                .map(|h| h.join(".local/state"))
        })?;
    Some(state.join("bp").join("history"))
}

/// Standard input that is not a terminal: lines without prompts. It is locked
/// for one line at a time, so that `read_line()` in the session's code reads the
/// next line of the same input, through the same buffer.
struct Piped;

impl LineSource for Piped {
    fn reads_ahead(&self) -> bool {
        true
    }

    fn next_line(&mut self, _more: bool) -> Line {
        let mut bytes = Vec::new();
        match std::io::stdin().lock().read_until(b'\n', &mut bytes) {
            Ok(0) | Err(_) => Line::End,
            Ok(_) => {
                while bytes.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                    bytes.pop();
                }
                Line::Text(String::from_utf8_lossy(&bytes).into_owned())
            }
        }
    }
}

/// Reads complete inputs from a line source: a line; or, when a line ends with
/// `:`, the lines up to a blank line or to a line at indentation 0 that does not
/// continue the statement (which starts the next input: a script piped in needs
/// no blank lines); or, while brackets are open, the lines that close them; a
/// decorator line goes with the next.
struct Inputs<'a> {
    src: &'a mut dyn LineSource,
    /// A line read past the end of a block: the start of the next input.
    pending: Option<String>,
}

impl<'a> Inputs<'a> {
    fn new(src: &'a mut dyn LineSource) -> Inputs<'a> {
        Inputs { src, pending: None }
    }

    fn next(&mut self) -> Line {
        let mut text = String::new();
        let mut block = false;
        loop {
            let more = !text.is_empty();
            let line = match self.pending.take() {
                Some(line) => line,
                None => match self.src.next_line(more) {
                    Line::Text(line) => line,
                    Line::Interrupted => return Line::Interrupted,
                    Line::End if more => return Line::Text(text),
                    Line::End => return Line::End,
                },
            };
            let blank = line.trim().is_empty();
            if !more && blank {
                continue;
            }
            let mut line = line;
            if block && blank && bracket_depth(&text) <= 0 {
                match self.after_blank_lines(&mut text) {
                    Some(indented) => line = indented,
                    None => return Line::Text(text),
                }
            }
            if block && bracket_depth(&text) <= 0 && starts_next_input(&line) {
                self.pending = Some(line);
                return Line::Text(text);
            }
            text.push_str(&line);
            text.push('\n');
            let open = bracket_depth(&text) > 0;
            block |= !open && code_of(&line).trim_end().ends_with(':');
            let decorator = line.trim_start().starts_with('@');
            if !block && !open && !decorator {
                return Line::Text(text);
            }
        }
    }

    /// A blank line was read in a block: it ends the block, unless the source
    /// can be read ahead (not a terminal) and the next line that is not blank is
    /// indented, as in a struct whose methods follow its fields after a blank
    /// line. Returns that indented line (the blank lines added to `text`), or
    /// `None` when the block ends (the line after is kept for the next input).
    fn after_blank_lines(&mut self, text: &mut String) -> Option<String> {
        if !self.src.reads_ahead() {
            return None;
        }
        let mut blanks = 1;
        loop {
            match self.src.next_line(true) {
                Line::Text(l) if l.trim().is_empty() => blanks += 1,
                Line::Text(l) if l.starts_with([' ', '\t']) => {
                    text.push_str(&"\n".repeat(blanks));
                    return Some(l);
                }
                Line::Text(l) => {
                    self.pending = Some(l);
                    return None;
                }
                Line::Interrupted | Line::End => return None,
            }
        }
    }

    /// Tell the source that `input` was read (for the history).
    fn entered(&mut self, input: &str) {
        self.src.entered(input);
    }
}

/// Whether `line`, read inside a block, starts the next input: it is not indented
/// and is not a comment or a clause of the same statement (`elif`, `else`,
/// `catch`, `finally`).
fn starts_next_input(line: &str) -> bool {
    let word = line
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("");
    !line.starts_with([' ', '\t'])
        && !code_of(line).trim().is_empty()
        && !matches!(word, "elif" | "else" | "catch" | "finally")
}

/// `line` without its comment (a `#` outside string literals).
fn code_of(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return &line[..i],
            None => {}
        }
    }
    line
}

/// Brackets opened and not closed in `text` (outside strings and comments).
fn bracket_depth(text: &str) -> i64 {
    text.lines()
        .flat_map(|l| {
            let mut quote: Option<char> = None;
            let mut escaped = false;
            code_of(l).chars().filter_map(move |c| match quote {
                Some(_) if escaped => {
                    escaped = false;
                    None
                }
                Some(_) if c == '\\' => {
                    escaped = true;
                    None
                }
                Some(q) if c == q => {
                    quote = None;
                    None
                }
                Some(_) => None,
                None if c == '"' || c == '\'' => {
                    quote = Some(c);
                    None
                }
                None if "([{".contains(c) => Some(1),
                None if ")]}".contains(c) => Some(-1),
                None => None,
            })
        })
        .sum()
}

// ---------------------------------------------------------------------------
// The session

/// Name of the current input in diagnostics and traces.
const CURRENT: &str = "<input>";

/// Characters added before a lone expression: `print(`.
const PRINT_OPEN: &str = "print(";

/// An input kept in the session text.
struct Chunk {
    /// The input's number in the session (1-based): it is `<input N>` in
    /// diagnostics and traces once it is no longer the current input.
    number: u32,
    /// The text compiled (ends with a newline).
    text: String,
    /// What the user typed (`text` without an added `print(...)`).
    shown: String,
    /// Characters added before `shown` in `text`.
    prefix: usize,
    what: ChunkKind,
}

enum ChunkKind {
    /// Definitions: the functions (name, signature text) and globals it defines.
    Items {
        funcs: Vec<(String, String)>,
        globals: Vec<String>,
    },
    /// Statements kept because they created lambdas (compiled, never run again).
    Statements,
}

/// A chunk's place in the compiled text.
struct Region {
    start: usize,
    end: usize,
    /// Lines before it in the compiled text.
    lines_before: u32,
    number: u32,
    current: bool,
    shown: String,
    prefix: usize,
    statements: bool,
}

impl Region {
    /// Its name in diagnostics and traces (also its wrapper function's name).
    fn name(&self) -> String {
        if self.current {
            CURRENT.to_string()
        } else {
            format!("<input {}>", self.number)
        }
    }
}

/// What survives from one input to the next.
struct Carried {
    rt: Rt,
    /// Global values by qualified name, with their kind.
    globals: HashMap<String, (ValKind, Value)>,
    /// Per function id of the program the heap's ids refer to: its key.
    func_keys: Vec<String>,
    /// Per layout id of that program: its key.
    layout_keys: Vec<String>,
    /// Imported modules whose globals have values.
    modules: HashSet<String>,
}

/// What to do after an input.
enum Flow {
    Continue,
    Exit(i32),
}

/// How an input ended.
enum Ran {
    Ok,
    Failed,
    Exit(i32),
}

struct Session {
    vm: VmOptions,
    color: bool,
    chunks: Vec<Chunk>,
    inputs: u32,
    carried: Carried,
}

impl Session {
    fn new(options: ReplOptions) -> Session {
        let mut vm = options.vm;
        let args = std::mem::take(&mut vm.args);
        Session {
            vm,
            color: options.color,
            chunks: Vec::new(),
            inputs: 0,
            carried: Carried {
                rt: Rt::new(Heap::new(false), args),
                globals: HashMap::new(),
                func_keys: Vec::new(),
                layout_keys: Vec::new(),
                modules: HashSet::new(),
            },
        }
    }

    /// Run inputs until the end of the input or `exit`.
    fn run_inputs(&mut self, src: &mut dyn LineSource) -> i32 {
        let mut inputs = Inputs::new(src);
        loop {
            match inputs.next() {
                Line::Text(input) => {
                    inputs.entered(&input);
                    if let Flow::Exit(code) = self.eval(&input) {
                        return code;
                    }
                }
                Line::Interrupted => continue,
                Line::End => return 0,
            }
        }
    }

    /// Compile and run one input.
    fn eval(&mut self, input: &str) -> Flow {
        if input.lines().all(|l| code_of(l).trim().is_empty()) {
            // Only comments: nothing to run (and no empty `print()`).
            return Flow::Continue;
        }
        self.inputs += 1;
        let mut text = input.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        if starts_with_definition(&text) {
            self.eval_definitions(text)
        } else {
            self.eval_statements(text)
        }
    }

    fn eval_definitions(&mut self, text: String) -> Flow {
        let mut diags = Diagnostics::default();
        let module = parser::parse_module(&text, 0, "repl", &mut diags);
        if diags.has_errors() {
            let mut map = SourceMap::default();
            map.add(CURRENT.to_string(), text);
            self.report(&diags.list, &map, Some(0));
            return Flow::Continue;
        }
        let mut funcs = Vec::new();
        let mut globals = Vec::new();
        for item in &module.items {
            match item {
                Item::Func(fd) => funcs.push((fd.name.name.clone(), signature_text(&text, fd.span))),
                Item::Global(g) => globals.push(g.name.name.clone()),
                _ => {}
            }
        }
        let replaced = |c: &Chunk| match &c.what {
            ChunkKind::Items { funcs: f, globals: g } => {
                f.iter().any(|(n, _)| funcs.iter().any(|(m, _)| m == n))
                    || g.iter().any(|n| globals.contains(n))
            }
            ChunkKind::Statements => false,
        };
        let kept: Vec<usize> = (0..self.chunks.len())
            .filter(|&i| !replaced(&self.chunks[i]))
            .collect();
        let chunk = Chunk {
            number: self.inputs,
            shown: text.clone(),
            text,
            prefix: 0,
            what: ChunkKind::Items { funcs, globals },
        };
        let Some(attempt) = self.compile(&kept, &chunk, true) else {
            return Flow::Continue;
        };
        match self.execute(attempt, &chunk) {
            (Ran::Ok, _) => {
                let mut kept_chunks: Vec<Chunk> = Vec::with_capacity(kept.len() + 1);
                for (i, c) in std::mem::take(&mut self.chunks).into_iter().enumerate() {
                    if kept.contains(&i) {
                        kept_chunks.push(c);
                    }
                }
                kept_chunks.push(chunk);
                self.chunks = kept_chunks;
                Flow::Continue
            }
            (Ran::Failed, _) => Flow::Continue,
            (Ran::Exit(code), _) => Flow::Exit(code),
        }
    }

    fn eval_statements(&mut self, text: String) -> Flow {
        let kept: Vec<usize> = (0..self.chunks.len()).collect();
        let single_line = text.trim_end().lines().count() == 1;
        let mut attempt = None;
        if single_line {
            let printed = Chunk {
                number: self.inputs,
                text: format!("{PRINT_OPEN}{}\n)\n", text.trim_end()),
                shown: text.clone(),
                prefix: PRINT_OPEN.len(),
                what: ChunkKind::Statements,
            };
            attempt = self.compile_quietly(&kept, &printed).map(|a| (a, printed));
        }
        let (attempt, chunk) = match attempt {
            Some(found) => found,
            None => {
                let plain = Chunk {
                    number: self.inputs,
                    shown: text.clone(),
                    text,
                    prefix: 0,
                    what: ChunkKind::Statements,
                };
                match self.compile(&kept, &plain, true) {
                    Some(a) => (a, plain),
                    None => return Flow::Continue,
                }
            }
        };
        let (ran, has_lambdas) = self.execute(attempt, &chunk);
        if has_lambdas {
            self.chunks.push(chunk);
        }
        match ran {
            Ran::Ok | Ran::Failed => Flow::Continue,
            Ran::Exit(code) => Flow::Exit(code),
        }
    }

    /// The session text with `kept` chunks and `new` last, and their regions.
    fn compose(&self, kept: &[usize], new: &Chunk) -> (String, Vec<Region>) {
        let mut text = String::new();
        let mut regions = Vec::new();
        let mut lines = 0u32;
        let chunks = kept
            .iter()
            .filter_map(|&i| self.chunks.get(i))
            .chain(std::iter::once(new));
        for c in chunks {
            let start = text.len();
            text.push_str(&c.text);
            regions.push(Region {
                start,
                end: text.len(),
                lines_before: lines,
                number: c.number,
                current: std::ptr::eq(c, new),
                shown: c.shown.clone(),
                prefix: c.prefix,
                statements: matches!(c.what, ChunkKind::Statements),
            });
            lines += c.text.matches('\n').count() as u32;
        }
        (text, regions)
    }

    /// Compile the session with `new`; report its diagnostics (errors, and the
    /// warnings of `new`). `None` when it does not compile.
    fn compile(&self, kept: &[usize], new: &Chunk, report: bool) -> Option<Attempt> {
        let (text, regions) = self.compose(kept, new);
        let wrapped: Vec<(usize, usize, String)> = regions
            .iter()
            .filter(|r| r.statements)
            .map(|r| (r.start, r.end, r.name()))
            .collect();
        let new_start = regions.last().map_or(0, |r| r.start);
        let new_defines = !matches!(new.what, ChunkKind::Statements);
        let modules = &self.carried.modules;
        let initialise = |module: usize, name: &str, g: &GlobalLet| {
            if module == 0 {
                new_defines && g.span.lo as usize >= new_start
            } else {
                !modules.contains(name)
            }
        };
        // An input of statements does not run `<init>`.
        let initialise: Option<&InitFilter> = match new_defines {
            true => Some(&initialise),
            false => None,
        };
        let compiled = compile_session(Path::new(CURRENT), text.into_bytes(), &wrapped, initialise);
        if report {
            let current = regions.len() - 1;
            let (list, map) = relocate_diagnostics(&compiled, &regions);
            let warnings_of = compiled.sources.files.len() + current;
            self.report(&list, &map, Some(warnings_of));
            let earlier = compiled.sources.files.len()..warnings_of;
            let breaks_earlier = list
                .iter()
                .any(|d| d.severity == Severity::Error && earlier.contains(&(d.span.file as usize)));
            if breaks_earlier {
                write_fd(
                    libc::STDERR_FILENO,
                    &format!(
                        "{CURRENT}: error: this input makes an earlier input wrong (above); it was not run\n"
                    ),
                );
            }
        }
        let Compiled { program, sources, .. } = compiled;
        let mut program = program?;
        let module_names = sources
            .files
            .iter()
            .skip(1)
            .map(|f| module_name(&f.path))
            .collect();
        relocate_program(&mut program, &regions);
        Some(Attempt {
            program,
            regions,
            module_names,
        })
    }

    /// [`Session::compile`] without reporting anything.
    fn compile_quietly(&self, kept: &[usize], new: &Chunk) -> Option<Attempt> {
        self.compile(kept, new, false)
    }

    /// Print diagnostics: every error, and the warnings of file `warnings_of`.
    fn report(&self, list: &[Diagnostic], map: &SourceMap, warnings_of: Option<usize>) {
        let mut shown: Vec<&Diagnostic> = list
            .iter()
            .filter(|d| d.severity == Severity::Error || Some(d.span.file as usize) == warnings_of)
            .collect();
        shown.sort_by_key(|d| (d.severity != Severity::Error, d.span.file, d.span.lo));
        let text: String = shown.iter().map(|d| map.render(d, self.color)).collect();
        write_fd(libc::STDERR_FILENO, &text);
    }

    /// Run a compiled input on the session's runtime. Returns how it ended and
    /// whether the input created lambdas (so its text must stay in the session).
    fn execute(&mut self, attempt: Attempt, chunk: &Chunk) -> (Ran, bool) {
        let Attempt {
            program,
            regions,
            module_names,
        } = attempt;
        let current_file = program.files.len() - 1;
        let has_lambdas = program
            .functions
            .iter()
            .any(|f| f.name == "<lambda>" && f.file as usize == current_file);
        // A session of only types has no function, not even a valid `main` id.
        let runnable = !program.functions.is_empty();
        if let (true, Err(msg)) = (runnable, verify::verify(&program)) {
            write_fd(
                libc::STDERR_FILENO,
                &format!("internal error: invalid bytecode: {msg}\n"),
            );
            return (Ran::Failed, false);
        }
        let keys = ProgramKeys::of(&program, &regions, &self.chunks, chunk);
        let fresh = |name: &str| self.initialised_by(chunk, &module_names, name);
        let fresh: Vec<bool> = program.globals.iter().map(|g| fresh(&g.name)).collect();
        let globals = match self.carry_over(&program, &keys, &fresh) {
            Ok(globals) => globals,
            Err(why) => {
                write_fd(libc::STDERR_FILENO, &format!("{CURRENT}: error: {why}\n"));
                return (Ran::Failed, false);
            }
        };
        let entry = if matches!(chunk.what, ChunkKind::Statements) {
            program
                .functions
                .iter()
                .position(|f| f.name == CURRENT)
                .map(|i| i as u32)
        } else {
            program.init
        };
        if !runnable {
            self.carried.func_keys = keys.funcs;
            self.carried.layout_keys = keys.layouts;
            return (Ran::Ok, false);
        }
        let rt = std::mem::replace(&mut self.carried.rt, Rt::new(Heap::new(false), Vec::new()));
        let mut vm = Vm::with_runtime(&program, self.vm.clone(), rt);
        for (slot, value) in vm.globals.iter_mut().zip(globals) {
            *slot = value;
        }
        vm.tier_start();
        let ran = match entry {
            None => Ran::Ok,
            Some(fid) => run_entry(&mut vm, fid),
        };
        vm.tier_finish();
        let flushed = vm.rt.flush();
        if !vm.err.is_empty() {
            let report = std::mem::take(&mut vm.err);
            write_fd(libc::STDERR_FILENO, &with_source_line(&report, &regions));
        }
        let ran = match (ran, flushed) {
            (Ran::Exit(code), _) => Ran::Exit(code),
            (_, Err(_)) => Ran::Exit(vm.rt.output_status()),
            (ran, Ok(())) => ran,
        };
        let (rt, values) = vm.into_runtime();
        self.carried.rt = rt;
        self.carried.globals = program
            .globals
            .iter()
            .zip(values)
            .map(|(g, v)| (g.name.clone(), (g.kind, v)))
            .collect();
        self.carried.func_keys = keys.funcs;
        self.carried.layout_keys = keys.layouts;
        if matches!(ran, Ran::Ok) {
            self.carried.modules.extend(module_names);
        }
        (ran, has_lambdas)
    }

    /// Whether global `name` gets its value from this input's `<init>` (a `let`
    /// of the input, a global of a module imported for the first time): it must
    /// not start with a value of an earlier global of that name, which may have
    /// another type.
    fn initialised_by(&self, chunk: &Chunk, modules: &[String], name: &str) -> bool {
        let defined_here = match &chunk.what {
            ChunkKind::Items { globals, .. } => globals.iter().any(|g| g == name),
            ChunkKind::Statements => false,
        };
        defined_here
            || modules
                .iter()
                .filter(|m| !self.carried.modules.contains(*m))
                .any(|m| {
                    name.strip_prefix(m.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
                })
    }

    /// The initial values of `program`'s globals (null for the `fresh` ones, which
    /// its `<init>` sets) after rewriting the heap's ids for it; `Err` says why the input
    /// cannot run on the session's values (nothing is changed then).
    fn carry_over(
        &mut self,
        program: &Program,
        keys: &ProgramKeys,
        fresh: &[bool],
    ) -> Result<Vec<Value>, String> {
        let mut values = Vec::with_capacity(program.globals.len());
        for (g, &fresh) in program.globals.iter().zip(fresh) {
            values.push(match self.carried.globals.get(&g.name) {
                Some(&(kind, v)) if kind == g.kind && !fresh => v,
                _ => Value::NULL,
            });
        }
        let func_ids: HashMap<&str, u32> = keys
            .funcs
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i as u32))
            .collect();
        let layout_ids: HashMap<&str, u32> = keys
            .layouts
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i as u32))
            .collect();
        // The carried globals hold every value of the session (the VM that
        // ran the last input is gone, and the heap's pinned values with it).
        let roots: Vec<Value> = self
            .carried
            .globals
            .values()
            .filter(|(kind, _)| *kind == ValKind::Ref)
            .map(|&(_, v)| v)
            .collect();
        let Carried {
            rt,
            func_keys,
            layout_keys,
            ..
        } = &mut self.carried;
        let func = |id: u32| {
            func_keys
                .get(id as usize)
                .and_then(|k| func_ids.get(k.as_str()).copied())
        };
        let layout = |id: u32| {
            layout_keys
                .get(id as usize)
                .and_then(|k| layout_ids.get(k.as_str()).copied())
        };
        // SAFETY: the carried globals of reference kind are null or live
        // objects of the session's heap, and hold all that is live in it.
        let missing = match unsafe { rt.heap.remap_program_ids(&roots, &func, &layout) } {
            Ok(()) => return Ok(values),
            Err(missing) => missing,
        };
        Err(match missing {
            ProgramId::Function(id) => {
                let key = self
                    .carried
                    .func_keys
                    .get(id as usize)
                    .map_or("?", String::as_str);
                let what = match key.strip_prefix("<lambda>@") {
                    Some(place) => format!("a lambda of {}", place.split(':').next().unwrap_or(place)),
                    None => format!("the function '{}'", key.split('(').next().unwrap_or(key)),
                };
                format!(
                    "this input removes or changes {what}, which a value of the session still refers to; the input was not run"
                )
            }
            ProgramId::Layout(id) => {
                let key = self
                    .carried
                    .layout_keys
                    .get(id as usize)
                    .map_or("?", String::as_str);
                let name = key.split('|').next().unwrap_or(key);
                format!(
                    "this input removes or changes the type '{name}' that a value of the session still has; the input was not run"
                )
            }
        })
    }
}

/// A program compiled for an input, with the places of the session's chunks.
struct Attempt {
    program: Program,
    regions: Vec<Region>,
    /// The imported modules of the program.
    module_names: Vec<String>,
}

/// Keys that name a program's functions and layouts independently of their ids.
struct ProgramKeys {
    funcs: Vec<String>,
    layouts: Vec<String>,
}

impl ProgramKeys {
    /// A lambda is named by its place (input number, line, column of its code), a
    /// function of the session by its name and signature, any other function by
    /// its name; a layout by its name, fields and kind.
    fn of(program: &Program, regions: &[Region], chunks: &[Chunk], new: &Chunk) -> ProgramKeys {
        let first_region_file = program.files.len() - regions.len();
        let region_of = |file: u32| {
            (file as usize)
                .checked_sub(first_region_file)
                .and_then(|i| regions.get(i))
        };
        let signature = |number: u32, name: &str| {
            chunks
                .iter()
                .chain(std::iter::once(new))
                .filter(|c| c.number == number)
                .find_map(|c| match &c.what {
                    ChunkKind::Items { funcs, .. } => {
                        funcs.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone())
                    }
                    ChunkKind::Statements => None,
                })
        };
        let funcs = program
            .functions
            .iter()
            .map(|f| {
                let place = match region_of(f.file) {
                    Some(r) => format!("<input {}>", r.number),
                    None => program.files.get(f.file as usize).cloned().unwrap_or_default(),
                };
                if f.name == "<lambda>" {
                    let loc = f.locs.first().copied().unwrap_or_default();
                    return format!("<lambda>@{place}:{}:{}", loc.line, loc.col);
                }
                match region_of(f.file).and_then(|r| signature(r.number, &f.name)) {
                    Some(sig) => format!("{}({sig})", f.name),
                    None => f.name.clone(),
                }
            })
            .collect();
        let layouts = program
            .layouts
            .iter()
            .map(|l| format!("{}|{:?}|{}", l.name, l.fields, l.is_class))
            .collect();
        ProgramKeys { funcs, layouts }
    }
}

/// Call the input's entry function and report an uncaught error.
fn run_entry(vm: &mut Vm, fid: u32) -> Ran {
    let stop = match catch_unwind(AssertUnwindSafe(|| vm.call_function(fid, &[]))) {
        Ok(Ok(_)) => return Ran::Ok,
        Ok(Err(stop)) => stop,
        Err(payload) => {
            let msg = crate::vm::panic_message(&*payload);
            vm.err.push_str(&format!("internal error: {msg}\n"));
            return Ran::Failed;
        }
    };
    // The output comes before the error report.
    let _ = vm.rt.flush();
    match stop {
        Stop::Exit(code) => Ran::Exit(code),
        Stop::Exception => {
            if let Some(exc) = vm.pending.take() {
                let report = vm.format_uncaught(&exc);
                vm.err.push_str(&report);
            }
            Ran::Failed
        }
        Stop::Fatal(msg) => {
            vm.err.push_str(&msg);
            vm.err.push('\n');
            Ran::Failed
        }
        Stop::Reenter(_) => {
            vm.err.push_str("internal error: JIT re-entry escaped\n");
            Ran::Failed
        }
    }
}

/// Whether an input is definitions: its first token starts a top-level item.
fn starts_with_definition(text: &str) -> bool {
    let mut diags = Diagnostics::default();
    let toks = lexer::lex(text, 0, &mut diags);
    toks.iter()
        .find(|t| !matches!(t.kind, TokenKind::Newline))
        .is_some_and(|t| {
            matches!(
                t.kind,
                TokenKind::Def
                    | TokenKind::Struct
                    | TokenKind::Enum
                    | TokenKind::Class
                    | TokenKind::Let
                    | TokenKind::Import
                    | TokenKind::Extern
                    | TokenKind::Export
                    | TokenKind::At
            )
        })
}

/// The `def ...:` header of a function without its whitespace: two definitions
/// with the same text have the same signature.
fn signature_text(text: &str, span: crate::ast::Span) -> String {
    text.get(span.lo as usize..span.hi as usize)
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The module name of an imported file's path (`lib/geometry.bp` -> `geometry`).
fn module_name(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The region holding byte `offset` of the session text.
fn region_at(regions: &[Region], offset: usize) -> Option<(usize, &Region)> {
    regions.iter().enumerate().rev().find(|(_, r)| r.start <= offset)
}

/// The diagnostics of a session compile with every place in the session text
/// moved into its input (file `files + region index` of the returned map, named
/// `<input>` or `<input N>`); imported files keep their ids.
fn relocate_diagnostics(c: &Compiled, regions: &[Region]) -> (Vec<Diagnostic>, SourceMap) {
    let mut map = SourceMap::default();
    for f in &c.sources.files {
        map.add_file(SourceFile::new(f.path.clone(), f.text.clone()));
    }
    let base = map.files.len();
    for r in regions {
        map.add(r.name(), r.shown.clone());
    }
    let relocate = |span: crate::ast::Span| {
        if span.file != 0 {
            return span;
        }
        match region_at(regions, span.lo as usize) {
            Some((i, r)) => {
                let at = |off: u32| {
                    let rel = (off as usize).saturating_sub(r.start).saturating_sub(r.prefix);
                    let mut rel = rel.min(r.shown.len());
                    while !r.shown.is_char_boundary(rel) {
                        rel -= 1;
                    }
                    rel as u32
                };
                crate::ast::Span::new((base + i) as u32, at(span.lo), at(span.hi.max(span.lo)))
            }
            None => span,
        }
    };
    let list = c
        .diags
        .list
        .iter()
        .map(|d| Diagnostic {
            span: relocate(d.span),
            related: d.related.iter().map(|(s, m)| (relocate(*s), m.clone())).collect(),
            ..d.clone()
        })
        .collect();
    (list, map)
}

/// Move the functions compiled from the session text into the files of their
/// inputs (`<input>`, `<input N>`, appended to `program.files`) with lines
/// counted from the input's first, so that runtime errors and traces point into
/// what the user typed.
fn relocate_program(program: &mut Program, regions: &[Region]) {
    let base = program.files.len() as u32;
    program.files.extend(regions.iter().map(Region::name));
    for f in &mut program.functions {
        if f.file != 0 {
            continue;
        }
        let line = if f.line > 0 {
            f.line
        } else {
            f.locs.first().map_or(1, |l| l.line)
        };
        let Some((i, r)) = regions
            .iter()
            .enumerate()
            .rev()
            .find(|(_, r)| r.lines_before < line)
        else {
            continue;
        };
        f.file = base + i as u32;
        f.line = line - r.lines_before;
        let prefix = r.prefix as u32;
        for loc in &mut f.locs {
            if loc.line > r.lines_before {
                loc.line -= r.lines_before;
                if loc.line == 1 && prefix > 0 {
                    loc.col = loc.col.saturating_sub(prefix).max(1);
                }
            }
        }
    }
}

/// An error report whose first line is `<input...>:LINE:COL: ...` with the line
/// of that input and a caret under the column inserted after it, as the VM does
/// for a file it can read again (`vm/error.rs`); other reports unchanged.
fn with_source_line(report: &str, regions: &[Region]) -> String {
    let excerpt = || -> Option<String> {
        let first = report.lines().next()?;
        let (region, place) = regions.iter().find_map(|r| {
            first
                .strip_prefix(&format!("{}:", r.name()))
                .map(|rest| (r, rest))
        })?;
        let mut numbers = place.splitn(3, ':');
        let line: usize = numbers.next()?.parse().ok()?;
        let col: usize = numbers.next()?.parse().ok()?;
        let text = region.shown.lines().nth(line.checked_sub(1)?)?.trim_end();
        let indent = text.chars().take_while(|c| c.is_whitespace()).count();
        let shown: String = text.chars().skip(indent).take(120).collect();
        let col = col.checked_sub(1)?.checked_sub(indent)?;
        if shown.is_empty() || col >= shown.chars().count() {
            return None;
        }
        Some(format!("    {shown}\n    {}^\n", " ".repeat(col)))
    };
    match (excerpt(), report.split_once('\n')) {
        (Some(excerpt), Some((first, rest))) => format!("{first}\n{excerpt}{rest}"),
        _ => report.to_string(),
    }
}

/// Write `text` to a file descriptor, ignoring errors (a closed terminal).
fn write_fd(fd: i32, text: &str) {
    let _ = write_all_fd(fd, text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Lines(Vec<&'static str>);

    impl LineSource for Lines {
        fn reads_ahead(&self) -> bool {
            true
        }

        fn next_line(&mut self, _more: bool) -> Line {
            if self.0.is_empty() {
                Line::End
            } else {
                Line::Text(self.0.remove(0).to_string())
            }
        }
    }

    fn inputs(lines: Vec<&'static str>) -> Vec<String> {
        let mut src = Lines(lines);
        let mut inputs = Inputs::new(&mut src);
        let mut out = Vec::new();
        while let Line::Text(t) = inputs.next() {
            out.push(t);
        }
        out
    }

    #[test]
    fn a_line_is_an_input_and_a_colon_opens_a_block_that_a_blank_line_closes() {
        let got = inputs(vec!["", "1 + 2", "if x:  # comment", "    y()", "", "z"]);
        assert_eq!(got, ["1 + 2\n", "if x:  # comment\n    y()\n", "z\n"]);
    }

    #[test]
    fn an_unindented_line_ends_a_block_and_starts_the_next_input() {
        let got = inputs(vec![
            "def f() -> int:",
            "    return 1",
            "# a comment",
            "f()",
            "if a:",
            "    b()",
            "else:",
            "    c()",
            "@packed",
            "struct P:",
            "    x: int",
        ]);
        assert_eq!(
            got,
            [
                "def f() -> int:\n    return 1\n# a comment\n",
                "f()\n",
                "if a:\n    b()\nelse:\n    c()\n",
                "@packed\nstruct P:\n    x: int\n"
            ]
        );
    }

    #[test]
    fn blank_lines_inside_a_block_are_kept_when_an_indented_line_follows() {
        let got = inputs(vec![
            "struct A:",
            "    x: int",
            "",
            "",
            "    def f(self) -> int:",
            "        return 1",
            "",
            "a()",
        ]);
        assert_eq!(
            got,
            [
                "struct A:\n    x: int\n\n\n    def f(self) -> int:\n        return 1\n",
                "a()\n"
            ]
        );
    }

    #[test]
    fn open_brackets_continue_an_input() {
        let got = inputs(vec!["let xs: [int] = [1,", "  2]", "f(':')", "print(\"(\")"]);
        assert_eq!(got, ["let xs: [int] = [1,\n  2]\n", "f(':')\n", "print(\"(\")\n"]);
    }

    #[test]
    fn the_end_of_the_input_closes_a_block() {
        assert_eq!(inputs(vec!["while a:", "    b()"]), ["while a:\n    b()\n"]);
    }

    #[test]
    fn definitions_are_told_from_statements_by_their_first_token() {
        for d in [
            "def f() -> int:\n",
            "let x: int = 1\n",
            "@packed\n",
            "import m\n",
            "struct P:\n",
        ] {
            assert!(starts_with_definition(d), "{d}");
        }
        for s in ["x = 1\n", "f()\n", "1 + 2\n", "for i in xs:\n"] {
            assert!(!starts_with_definition(s), "{s}");
        }
    }
}
