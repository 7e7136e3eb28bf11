//! `bp lsp`: a Language Server Protocol server over stdio (docs/architecture.md,
//! "Language server").
//!
//! `lsp-server` frames and routes the JSON-RPC messages; this module keeps the
//! open documents and answers each request from the document's latest
//! [`Analysis`] (the real lexer, parser and checker, then an [`index::Index`]
//! built from the annotated AST). Documents are synchronised in full. A change is
//! analysed when a request about the document arrives or when no message waits,
//! whichever comes first, and its diagnostics are published then (an empty list
//! once it is clean): a burst of changes is analysed once, and an answer always
//! reflects every change sent before the request (one thread handles everything
//! in order).
//!
//! | file | requests |
//! |---|---|
//! | `analysis.rs`, `index.rs` | the analysis of a document and its index |
//! | `position.rs` | byte offsets <-> LSP positions (UTF-16) |
//! | `diagnostics.rs` | `textDocument/publishDiagnostics` |
//! | `hover.rs` | `textDocument/hover` |
//! | `navigation.rs` | `definition`, `references`, `rename` |
//! | `completion.rs` | `completion` |
//! | `signature.rs` | `signatureHelp` |
//! | `symbols.rs` | `documentSymbol` |
//! | `format.rs` | `formatting` |

mod analysis;
mod completion;
mod diagnostics;
mod format;
mod hover;
pub mod index;
mod navigation;
pub mod position;
mod signature;
mod symbols;
#[cfg(test)]
mod tests;

use analysis::Analysis;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, References, Rename,
    Request as _, SignatureHelpRequest,
};
use lsp_types::{
    CompletionOptions, DocumentSymbolResponse, GotoDefinitionResponse, HoverProviderCapability, OneOf,
    PublishDiagnosticsParams, ServerCapabilities, SignatureHelpOptions, TextDocumentPositionParams,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions,
    Url,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;

/// Run the server on stdin/stdout until the client says `exit` (after
/// `shutdown`). An error is a broken connection or protocol.
pub fn run() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    connection.initialize(capabilities).map_err(|e| e.to_string())?;
    let mut server = Server {
        connection: &connection,
        documents: HashMap::new(),
    };
    let result = server.main_loop();
    drop(connection);
    io_threads.join().map_err(|e| e.to_string())?;
    result
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::FULL),
            save: Some(TextDocumentSyncSaveOptions::Supported(true)),
            ..TextDocumentSyncOptions::default()
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_string()]),
            ..CompletionOptions::default()
        }),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".to_string(), ",".to_string()]),
            ..SignatureHelpOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

struct Document {
    text: String,
    version: Option<i32>,
    /// The analysis of `text`; `None` after a change until it is needed.
    analysis: Option<Analysis>,
}

struct Server<'c> {
    connection: &'c Connection,
    documents: HashMap<Url, Document>,
}

impl Server<'_> {
    fn main_loop(&mut self) -> Result<(), String> {
        for message in &self.connection.receiver {
            match message {
                Message::Request(request) => {
                    if self
                        .connection
                        .handle_shutdown(&request)
                        .map_err(|e| e.to_string())?
                    {
                        return Ok(());
                    }
                    let response = self.respond(request);
                    self.send(Message::Response(response))?;
                }
                Message::Notification(n) => self.notified(n)?,
                Message::Response(_) => {}
            }
            if self.connection.receiver.is_empty() {
                self.analyse_changed()?;
            }
        }
        Ok(())
    }

    /// Analyse the documents changed since their last analysis and publish their
    /// diagnostics. Called when no message waits: a burst of changes (typing in
    /// a large file) is analysed once, at its end.
    fn analyse_changed(&mut self) -> Result<(), String> {
        let stale: Vec<Url> = self
            .documents
            .iter()
            .filter(|(_, d)| d.analysis.is_none())
            .map(|(uri, _)| uri.clone())
            .collect();
        for uri in stale {
            self.refresh(&uri)?;
        }
        Ok(())
    }

    /// Analyse `uri` if it changed since its last analysis, and publish its
    /// diagnostics then.
    fn refresh(&mut self, uri: &Url) -> Result<(), String> {
        let Some(document) = self.documents.get_mut(uri) else {
            return Ok(());
        };
        if document.analysis.is_some() {
            return Ok(());
        }
        let analysis = analyse(uri, &document.text);
        let diagnostics = diagnostics::document_diagnostics(&analysis);
        let version = document.version;
        document.analysis = Some(analysis);
        self.publish(uri.clone(), diagnostics, version)
    }

    fn send(&self, message: Message) -> Result<(), String> {
        self.connection.sender.send(message).map_err(|e| e.to_string())
    }

    fn notified(&mut self, n: Notification) -> Result<(), String> {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) = from_value::<lsp_types::DidOpenTextDocumentParams>(n.params) else {
                    return Ok(());
                };
                self.update(
                    p.text_document.uri,
                    p.text_document.text,
                    Some(p.text_document.version),
                )
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) = from_value::<lsp_types::DidChangeTextDocumentParams>(n.params) else {
                    return Ok(());
                };
                // Full synchronisation: the last change is the whole text.
                match p.content_changes.into_iter().last() {
                    Some(change) => {
                        self.update(p.text_document.uri, change.text, Some(p.text_document.version))
                    }
                    None => Ok(()),
                }
            }
            DidSaveTextDocument::METHOD => {
                let Ok(p) = from_value::<lsp_types::DidSaveTextDocumentParams>(n.params) else {
                    return Ok(());
                };
                // Other documents may import the saved file (imports are read from
                // disk): analyse them again.
                for (uri, document) in self.documents.iter_mut() {
                    if *uri != p.text_document.uri {
                        document.analysis = None;
                    }
                }
                Ok(())
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) = from_value::<lsp_types::DidCloseTextDocumentParams>(n.params) else {
                    return Ok(());
                };
                self.documents.remove(&p.text_document.uri);
                self.publish(p.text_document.uri, Vec::new(), None)
            }
            _ => Ok(()),
        }
    }

    /// Keep the new text of `uri`; it is analysed when a request needs it or when
    /// no message waits, whichever comes first.
    fn update(&mut self, uri: Url, text: String, version: Option<i32>) -> Result<(), String> {
        let document = Document {
            text,
            version,
            analysis: None,
        };
        self.documents.insert(uri, document);
        Ok(())
    }

    fn publish(
        &self,
        uri: Url,
        diagnostics: Vec<lsp_types::Diagnostic>,
        version: Option<i32>,
    ) -> Result<(), String> {
        let params = PublishDiagnosticsParams::new(uri, diagnostics, version);
        let params = serde_json::to_value(params).map_err(|e| e.to_string())?;
        self.send(Message::Notification(Notification::new(
            PublishDiagnostics::METHOD.to_string(),
            params,
        )))
    }

    /// The response to a request. A request that panics (a bug) is answered with
    /// an internal error rather than ending the server.
    fn respond(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        // A request sees every change sent before it.
        let uri = request.params.pointer("/textDocument/uri").cloned();
        if let Some(uri) = uri.and_then(|u| from_value::<Url>(u).ok()) {
            if let Err(e) = self.refresh(&uri) {
                return Response::new_err(id, ErrorCode::InternalError as i32, e);
            }
        }
        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.answer(request)));
        match answer {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
            Err(_) => Response::new_err(id, ErrorCode::InternalError as i32, "internal error".to_string()),
        }
    }

    /// The result of one request, as JSON.
    fn answer(&self, r: Request) -> Result<Value, (ErrorCode, String)> {
        match r.method.as_str() {
            HoverRequest::METHOD => self.at_position(r, |a, p| to_value(hover::hover(a, p.position))),
            GotoDefinition::METHOD => self.at_position(r, |a, p| {
                to_value(navigation::definition(a, p.position).map(GotoDefinitionResponse::Scalar))
            }),
            Completion::METHOD => self.at_position(r, |a, p| to_value(completion::completion(a, p.position))),
            SignatureHelpRequest::METHOD => {
                self.at_position(r, |a, p| to_value(signature::signature_help(a, p.position)))
            }
            References::METHOD => {
                let p: lsp_types::ReferenceParams = params(&r)?;
                let a = self.analysis(&p.text_document_position.text_document.uri)?;
                let found = navigation::references(
                    a,
                    p.text_document_position.position,
                    p.context.include_declaration,
                );
                to_value(found)
            }
            Rename::METHOD => {
                let p: lsp_types::RenameParams = params(&r)?;
                let a = self.analysis(&p.text_document_position.text_document.uri)?;
                let edit = navigation::rename(a, p.text_document_position.position, &p.new_name)
                    .map_err(|m| (ErrorCode::InvalidRequest, m))?;
                to_value(edit)
            }
            DocumentSymbolRequest::METHOD => {
                let p: lsp_types::DocumentSymbolParams = params(&r)?;
                let a = self.analysis(&p.text_document.uri)?;
                to_value(DocumentSymbolResponse::Nested(symbols::document_symbols(a)))
            }
            Formatting::METHOD => {
                let p: lsp_types::DocumentFormattingParams = params(&r)?;
                let document = self.document(&p.text_document.uri)?;
                to_value(format::format_document(&document.text))
            }
            other => Err((
                ErrorCode::MethodNotFound,
                format!("unsupported request '{other}'"),
            )),
        }
    }

    /// A request about a position of a document.
    fn at_position(
        &self,
        r: Request,
        answer: impl FnOnce(&Analysis, &TextDocumentPositionParams) -> Result<Value, (ErrorCode, String)>,
    ) -> Result<Value, (ErrorCode, String)> {
        let p: TextDocumentPositionParams = params(&r)?;
        let a = self.analysis(&p.text_document.uri)?;
        answer(a, &p)
    }

    fn document(&self, uri: &Url) -> Result<&Document, (ErrorCode, String)> {
        self.documents
            .get(uri)
            .ok_or_else(|| (ErrorCode::InvalidParams, format!("document '{uri}' is not open")))
    }

    fn analysis(&self, uri: &Url) -> Result<&Analysis, (ErrorCode, String)> {
        let document = self.document(uri)?;
        document.analysis.as_ref().ok_or_else(|| {
            (
                ErrorCode::InternalError,
                format!("document '{uri}' is not analysed"),
            )
        })
    }
}

/// Analyse a document; the front end is not expected to panic, but if it does on
/// some input, the server answers with an empty analysis instead of dying.
fn analyse(uri: &Url, text: &str) -> Analysis {
    std::panic::catch_unwind(|| Analysis::new(uri, text)).unwrap_or_else(|_| Analysis::new(uri, ""))
}

fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(v)
}

/// The parameters of a request (this loop handles `TextDocumentPositionParams`
/// requests, whose fields are flattened into their own parameters).
fn params<T: DeserializeOwned>(r: &Request) -> Result<T, (ErrorCode, String)> {
    from_value(r.params.clone()).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
}

fn to_value<T: serde::Serialize>(v: T) -> Result<Value, (ErrorCode, String)> {
    serde_json::to_value(v).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}
