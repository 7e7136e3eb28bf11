//! `bp lsp` driven over stdio as an editor drives it: Content-Length framed
//! JSON-RPC, `initialize`, documents opened and changed, every request the server
//! offers, then `shutdown` and `exit` (status 0).

mod support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};
use support::TempDir;

/// How long a test waits for one message before failing (the server answers in
/// milliseconds; this only keeps a broken server from hanging the suite).
const WAIT: Duration = Duration::from_secs(60);

/// A client: the server process, its stdin, and the messages it sent.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    /// Notifications received while waiting for a response.
    pending: Vec<Value>,
    next_id: i64,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bp"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start bp lsp");
        let stdout = child.stdout.take().expect("stdout");
        let (send, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if send.send(message).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut client = Client {
            child,
            stdin,
            messages,
            pending: Vec::new(),
            next_id: 1,
        };
        let init = client.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {}}),
        );
        assert!(
            init["capabilities"]["hoverProvider"].as_bool().unwrap_or(false),
            "{init}"
        );
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        let stdin = self.stdin.as_mut().expect("stdin open");
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write to bp lsp");
        stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn next_message(&mut self) -> Value {
        self.messages.recv_timeout(WAIT).expect("a message from bp lsp")
    }

    /// Send a request and return its result (failing on an error response).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.next_message();
            if message["id"] == json!(id) {
                return message;
            }
            self.pending.push(message);
        }
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let is_for_uri =
            |m: &Value| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == json!(uri);
        if let Some(i) = self.pending.iter().position(is_for_uri) {
            let m = self.pending.remove(i);
            return m["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
        }
        loop {
            let m = self.next_message();
            if is_for_uri(&m) {
                return m["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
            }
            self.pending.push(m);
        }
    }

    fn open(&mut self, uri: &str, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "betterpython", "version": 1, "text": text}}),
        );
        self.diagnostics(uri)
    }

    fn change(&mut self, uri: &str, version: i32, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
        self.diagnostics(uri)
    }

    /// A request about `line:character` of `uri`.
    fn at(&mut self, method: &str, uri: &str, line: u32, character: u32) -> Value {
        self.request(
            method,
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
        )
    }

    /// `shutdown`, `exit`, and the exit status.
    fn finish(mut self) -> i32 {
        let result = self.request("shutdown", Value::Null);
        assert_eq!(result, Value::Null);
        self.notify("exit", Value::Null);
        drop(self.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for bp lsp") {
                return status.code().unwrap_or(-1);
            }
            assert!(start.elapsed() < WAIT, "bp lsp did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One Content-Length framed message, or `None` at the end of the stream.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn uri_of(path: &std::path::Path) -> String {
    let path = path.canonicalize().expect("canonical path");
    format!("file://{}", path.display())
}

/// `(line, character)` of a range's start.
fn start(range: &Value) -> (u64, u64) {
    (
        range["start"]["line"].as_u64().unwrap_or(u64::MAX),
        range["start"]["character"].as_u64().unwrap_or(u64::MAX),
    )
}

fn end(range: &Value) -> (u64, u64) {
    (
        range["end"]["line"].as_u64().unwrap_or(u64::MAX),
        range["end"]["character"].as_u64().unwrap_or(u64::MAX),
    )
}

fn labels(items: &Value) -> Vec<String> {
    let list = items.as_array().or_else(|| items["items"].as_array());
    list.map(|l| {
        l.iter()
            .filter_map(|i| i["label"].as_str().map(String::from))
            .collect()
    })
    .unwrap_or_default()
}

const GEOM: &str = "\
export struct Point:
    x: int
    y: int

    def norm2(self) -> int:
        return self.x * self.x + self.y * self.y

export def origin() -> Point:
    return Point{x: 0, y: 0}

def hidden() -> int:
    return 1

export enum Color:
    RED
    GREEN
";

/// Line 3 has non-ASCII text before the error: `é` is 2 bytes but 1 UTF-16 unit,
/// `😀` 4 bytes and 2 units.
const BROKEN: &str = "\
import geom

def main() -> int:
    let s: str = \"é😀\" + undefined_name
    return 0
";

const FIXED: &str = "\
import geom

struct Pair:
    a: int
    b: int

    def sum(self) -> int:
        return self.a + self.b

def twice(n: int) -> int:
    return n * 2

def main() -> int:
    let s: str = \"é😀\"
    let p: Pair = Pair{a: 1, b: 2}
    let total: int = twice(p.a) + p.sum() + geom.origin().norm2()
    print(s, total, len(s))
    return total
";

/// A client with `main.bp` (importing `geom.bp`) open, its text `text`.
fn open_program(tag: &str, text: &str) -> (TempDir, Client, String, String) {
    let dir = TempDir::new(tag);
    dir.write("geom.bp", GEOM);
    let main = dir.write("main.bp", text);
    let uri = uri_of(&main);
    let geom_uri = uri_of(&dir.path().join("geom.bp"));
    let mut client = Client::start();
    let diags = client.open(&uri, text);
    assert!(diags.is_empty() || text == BROKEN, "{diags:?}");
    (dir, client, uri, geom_uri)
}

fn hover_text(client: &mut Client, uri: &str, line: u32, character: u32) -> String {
    let hover = client.at("textDocument/hover", uri, line, character);
    hover["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn diagnostics_have_utf16_ranges_and_are_cleared_when_fixed() {
    let (_dir, mut client, uri, _) = open_program("lsp-diags", "def main() -> int:\n    return 0\n");
    // An error on a line with non-ASCII text: the range counts UTF-16 units.
    let diags = client.change(&uri, 2, BROKEN);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0]["message"]
        .as_str()
        .unwrap()
        .contains("undefined variable 'undefined_name'"));
    assert_eq!(diags[0]["severity"], 1);
    assert_eq!(start(&diags[0]["range"]), (3, 25));
    assert_eq!(end(&diags[0]["range"]), (3, 39));
    // A syntax error and a warning are reported too.
    let diags = client.change(
        &uri,
        3,
        "def f() -> int:\n    let x: int = (1 +\n\ndef main() -> int:\n    return 0\n",
    );
    assert!(
        !diags.is_empty() && diags.iter().all(|d| d["severity"] == 1),
        "{diags:?}"
    );
    let diags = client.change(
        &uri,
        4,
        "def f() -> int:\n    print(1)\n\ndef main() -> int:\n    return 0\n",
    );
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["severity"], 2);
    assert_eq!(start(&diags[0]["range"]), (0, 4));
    // Fixed: the diagnostics are cleared (an empty list is published).
    let diags = client.change(&uri, 5, FIXED);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(client.finish(), 0);
}

#[test]
fn an_error_in_an_imported_module_is_shown_at_its_import() {
    let dir = TempDir::new("lsp-import-error");
    dir.write("geom.bp", "export def origin() -> int:\n    return nothing\n");
    let text = "import geom\n\ndef main() -> int:\n    return geom.origin()\n";
    let main = dir.write("main.bp", text);
    let uri = uri_of(&main);
    let mut client = Client::start();
    let diags = client.open(&uri, text);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let message = diags[0]["message"].as_str().unwrap();
    assert!(
        message.contains("geom.bp:2:12") && message.contains("undefined variable 'nothing'"),
        "{message}"
    );
    assert_eq!(start(&diags[0]["range"]), (0, 7));
    let related = &diags[0]["relatedInformation"][0]["location"];
    assert_eq!(related["uri"], json!(uri_of(&dir.path().join("geom.bp"))));
    assert_eq!(start(&related["range"]), (1, 11));
    // A module that cannot be found: at the import.
    let diags = client.change(&uri, 2, "import nowhere\n\ndef main() -> int:\n    return 0\n");
    assert!(
        diags[0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot find module 'nowhere'"),
        "{diags:?}"
    );
    assert_eq!(start(&diags[0]["range"]), (0, 7));
    assert_eq!(client.finish(), 0);
}

#[test]
fn saving_a_module_checks_the_files_that_import_it_again() {
    let (dir, mut client, uri, geom_uri) = open_program("lsp-save", FIXED);
    // The module loses `origin` on disk, and the editor says it saved it.
    dir.write("geom.bp", GEOM.replace("def origin()", "def start()"));
    client.notify("textDocument/didSave", json!({"textDocument": {"uri": geom_uri}}));
    let diags = client.diagnostics(&uri);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0]["message"]
        .as_str()
        .unwrap()
        .contains("module 'geom' has no function 'origin'"));
    assert_eq!(client.finish(), 0);
}

#[test]
fn hover_shows_types_and_signatures() {
    let (_dir, mut client, uri, _) = open_program("lsp-hover", FIXED);
    let text = hover_text(&mut client, &uri, 15, 22);
    assert!(text.contains("def twice(n: int) -> int"), "{text}");
    let text = hover_text(&mut client, &uri, 16, 10);
    assert!(
        text.contains("s: str") && text.contains("local variable"),
        "{text}"
    );
    let text = hover_text(&mut client, &uri, 16, 21);
    assert!(text.contains("len(") && text.contains("builtin"), "{text}");
    let text = hover_text(&mut client, &uri, 15, 58);
    assert!(text.contains("def Point.norm2(self) -> int"), "{text}");
    let text = hover_text(&mut client, &uri, 15, 29);
    assert!(text.contains("Pair.a: int") && text.contains("field"), "{text}");
    // Not a name: the type of the innermost expression.
    let text = hover_text(&mut client, &uri, 10, 15);
    assert!(text.contains("int"), "{text}");
    assert_eq!(client.finish(), 0);
}

#[test]
fn a_request_sees_the_changes_sent_before_it() {
    let (_dir, mut client, uri, _) = open_program("lsp-order", "def main() -> int:\n    return 0\n");
    // Three changes without waiting, then a request: it answers about the last text.
    for (version, name) in [(2, "first"), (3, "second"), (4, "third")] {
        let text =
            format!("def {name}(n: int) -> int:\n    return n\n\ndef main() -> int:\n    return {name}(1)\n");
        client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
    }
    let text = hover_text(&mut client, &uri, 4, 12);
    assert!(text.contains("def third(n: int) -> int"), "{text}");
    assert_eq!(client.finish(), 0);
}

#[test]
fn names_qualified_by_their_module() {
    let text = "import geom\n\ndef main() -> int:\n    let p: geom.Point = geom.origin()\n    let c: int = geom.Color.GREEN\n    return p.norm2() + c\n";
    let (_dir, mut client, uri, geom_uri) = open_program("lsp-qualified", text);
    let def = client.at("textDocument/definition", &uri, 3, 17);
    assert_eq!(
        (def["uri"].clone(), start(&def["range"])),
        (json!(geom_uri), (0, 14))
    );
    let def = client.at("textDocument/definition", &uri, 3, 12);
    assert_eq!(
        (def["uri"].clone(), start(&def["range"])),
        (json!(geom_uri), (0, 0))
    );
    let def = client.at("textDocument/definition", &uri, 4, 30);
    assert_eq!(
        (def["uri"].clone(), start(&def["range"])),
        (json!(geom_uri), (15, 4))
    );
    let def = client.at("textDocument/definition", &uri, 4, 24);
    assert_eq!(
        (def["uri"].clone(), start(&def["range"])),
        (json!(geom_uri), (13, 12))
    );
    let text = hover_text(&mut client, &uri, 5, 11);
    assert!(text.contains("p: geom.Point"), "{text}");
    assert_eq!(client.finish(), 0);
}

#[test]
fn definition_references_and_rename() {
    let (_dir, mut client, uri, geom_uri) = open_program("lsp-nav", FIXED);
    let def = client.at("textDocument/definition", &uri, 15, 22);
    assert_eq!(def["uri"], json!(uri));
    assert_eq!(start(&def["range"]), (9, 4));
    // A field, a method of another module, the module itself.
    let def = client.at("textDocument/definition", &uri, 15, 29);
    assert_eq!(start(&def["range"]), (3, 4));
    let def = client.at("textDocument/definition", &uri, 15, 60);
    assert_eq!(def["uri"], json!(geom_uri));
    assert_eq!(start(&def["range"]), (4, 8));
    let def = client.at("textDocument/definition", &uri, 15, 45);
    assert_eq!(def["uri"], json!(geom_uri));
    assert_eq!(start(&def["range"]), (0, 0));
    // A parameter used in its function.
    let def = client.at("textDocument/definition", &uri, 10, 11);
    assert_eq!(start(&def["range"]), (9, 10));

    let refs = client.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": {"line": 14, "character": 8},
               "context": {"includeDeclaration": true}}),
    );
    let places: Vec<(u64, u64)> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| start(&r["range"]))
        .collect();
    assert_eq!(places, vec![(14, 8), (15, 27), (15, 34)]);
    let refs = client.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": {"line": 14, "character": 8},
               "context": {"includeDeclaration": false}}),
    );
    assert_eq!(refs.as_array().unwrap().len(), 2);

    let edit = client.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": {"line": 9, "character": 5}, "newName": "double"}),
    );
    let edits = edit["changes"][&uri].as_array().unwrap();
    let mut places: Vec<(u64, u64)> = edits.iter().map(|e| start(&e["range"])).collect();
    places.sort();
    assert_eq!(places, vec![(9, 4), (15, 21)]);
    assert!(edits.iter().all(|e| e["newText"] == "double"));
    let refused = client.request_raw(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": {"line": 9, "character": 5}, "newName": "not a name"}),
    );
    assert!(refused.get("error").is_some(), "{refused}");
    assert_eq!(client.finish(), 0);
}

#[test]
fn completion_in_scope_after_dot_and_after_a_module() {
    let (_dir, mut client, uri, _) = open_program("lsp-complete", FIXED);
    let names = labels(&client.at("textDocument/completion", &uri, 16, 10));
    for want in ["s", "p", "total", "twice", "Pair", "geom", "len", "print"] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|n| n == "n"),
        "a parameter of another function: {names:?}"
    );
    let len = client.at("textDocument/completion", &uri, 16, 10);
    let len = len
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "len")
        .cloned()
        .unwrap();
    assert!(len["detail"].as_str().unwrap().starts_with("len("), "{len}");

    // The line being typed does not parse: members still complete.
    let typing = FIXED.replace("    print(s, total, len(s))", "    print(p.");
    client.change(&uri, 2, &typing);
    let names = labels(&client.at("textDocument/completion", &uri, 16, 12));
    assert_eq!(names, vec!["a", "b", "sum"]);
    let typing = FIXED.replace("    print(s, total, len(s))", "    geom.");
    client.change(&uri, 3, &typing);
    let names = labels(&client.at("textDocument/completion", &uri, 16, 9));
    assert_eq!(names, vec!["Color", "Point", "origin"]);
    let typing = FIXED.replace("    print(s, total, len(s))", "    geom.Color.");
    client.change(&uri, 4, &typing);
    let names = labels(&client.at("textDocument/completion", &uri, 16, 15));
    assert_eq!(names, vec!["RED", "GREEN"]);
    // Hover still works on the lines that parsed.
    let text = hover_text(&mut client, &uri, 15, 22);
    assert!(text.contains("def twice(n: int) -> int"), "{text}");
    assert_eq!(client.finish(), 0);
}

#[test]
fn signature_help_document_symbols_and_formatting() {
    let (_dir, mut client, uri, _) = open_program("lsp-misc", FIXED);
    let typing = FIXED.replace("    print(s, total, len(s))", "    print(twice(\"a,(b\", ");
    client.change(&uri, 2, &typing);
    let help = client.at("textDocument/signatureHelp", &uri, 16, 26);
    assert_eq!(
        help["signatures"][0]["label"], "def twice(n: int) -> int",
        "{help}"
    );
    assert_eq!(help["activeParameter"], 1);
    let typing = FIXED.replace("    print(s, total, len(s))", "    print(p.sum(");
    client.change(&uri, 3, &typing);
    let help = client.at("textDocument/signatureHelp", &uri, 16, 16);
    assert_eq!(
        help["signatures"][0]["label"], "def Pair.sum(self) -> int",
        "{help}"
    );

    client.change(&uri, 4, FIXED);
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Pair", "twice", "main"]);
    let members: Vec<&str> = symbols[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec!["a", "b", "sum"]);

    client.change(&uri, 5, "def main()->int:\n  return 0\n");
    let edits = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(
        edits[0]["newText"], "def main() -> int:\n    return 0\n",
        "{edits}"
    );
    assert_eq!(start(&edits[0]["range"]), (0, 0));
    assert_eq!(end(&edits[0]["range"]), (2, 0));
    assert_eq!(client.finish(), 0);
}

/// A program of about `functions * 10` lines: a struct with a method and
/// functions that use locals, loops, calls of each other and the method.
fn generated_program(functions: usize) -> String {
    let mut text = String::from(
        "struct Item:\n    id: int\n    name: str\n\n    def label(self) -> str:\n        return self.name\n\n",
    );
    for i in 0..functions {
        let recurse = if i == 0 {
            "1".to_string()
        } else {
            format!("f{}(n - 1)", i - 1)
        };
        text.push_str(&format!(
            "def f{i}(n: int) -> int:\n    let it: Item = Item{{id: n, name: \"x\"}}\n    let total: int = 0\n    for k in range(0, n):\n        total = total + k * {i}\n    if total > 100:\n        total = total - {recurse}\n    print(it.label(), total)\n    return total\n\n"
        ));
    }
    text.push_str("def main() -> int:\n    return f0(3)\n");
    text
}

/// Each request on a 10,000-line file, timed (the numbers are printed, for
/// docs/architecture.md; they are not asserted, since the machine's load decides
/// them). Run with `--nocapture` to see them.
#[test]
fn a_ten_thousand_line_file() {
    let text = generated_program(1000);
    assert!(text.lines().count() >= 10_000);
    let dir = TempDir::new("lsp-large");
    let path = dir.write("large.bp", &text);
    let uri = uri_of(&path);
    let mut client = Client::start();
    let mut timings = Vec::new();
    let mut timed = |what: &str, client: &mut Client, f: &mut dyn FnMut(&mut Client) -> Value| {
        let start = Instant::now();
        let value = f(client);
        timings.push(format!(
            "{what}: {:.1} ms",
            start.elapsed().as_secs_f64() * 1000.0
        ));
        value
    };
    let diags = timed("open + diagnostics", &mut client, &mut |c| {
        json!(c.open(&uri, &text))
    });
    assert_eq!(diags, json!([]));
    let edited = text.replace("    return f0(3)\n", "    return f0(3) + undefined\n");
    let diags = timed("change + diagnostics", &mut client, &mut |c| {
        json!(c.change(&uri, 2, &edited))
    });
    assert_eq!(diags.as_array().map(Vec::len), Some(1));
    // Line 9998 (0-based) is `    print(it.label(), total)` of the last function.
    let line = text
        .lines()
        .position(|l| l == "def f999(n: int) -> int:")
        .unwrap() as u32
        + 7;
    let hover = timed("hover", &mut client, &mut |c| {
        c.at("textDocument/hover", &uri, line, 14)
    });
    assert!(hover["contents"]["value"]
        .as_str()
        .unwrap()
        .contains("def Item.label(self) -> str"));
    let def = timed("definition", &mut client, &mut |c| {
        c.at("textDocument/definition", &uri, line, 14)
    });
    assert_eq!(start(&def["range"]), (4, 8));
    let refs = timed("references", &mut client, &mut |c| {
        c.request(
            "textDocument/references",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 14},
                   "context": {"includeDeclaration": true}}),
        )
    });
    assert_eq!(refs.as_array().map(Vec::len), Some(1001));
    let items = timed("completion", &mut client, &mut |c| {
        c.at("textDocument/completion", &uri, line, 10)
    });
    assert!(labels(&items).iter().any(|l| l == "total"));
    let items = timed("completion after '.'", &mut client, &mut |c| {
        c.at("textDocument/completion", &uri, line, 13)
    });
    assert!(labels(&items).iter().any(|l| l == "label"));
    let help = timed("signature help", &mut client, &mut |c| {
        c.at("textDocument/signatureHelp", &uri, line, 10)
    });
    assert!(help["signatures"][0]["label"]
        .as_str()
        .unwrap()
        .starts_with("print("));
    let symbols = timed("document symbols", &mut client, &mut |c| {
        c.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}}),
        )
    });
    assert_eq!(symbols.as_array().map(Vec::len), Some(1002));
    timed("rename", &mut client, &mut |c| {
        c.request(
            "textDocument/rename",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 14}, "newName": "tag"}),
        )
    });
    timed("formatting", &mut client, &mut |c| {
        c.request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
        )
    });
    println!(
        "bp lsp on a {}-line file:\n  {}",
        text.lines().count(),
        timings.join("\n  ")
    );
    assert_eq!(client.finish(), 0);
}
