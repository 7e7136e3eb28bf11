//! Signature help: the signature of the call whose parentheses hold the cursor,
//! with the argument being written as the active parameter.
//!
//! The call is found in the text (the line being typed usually does not parse):
//! a forward scan from a few lines above the cursor keeps a stack of open
//! brackets, skipping string literals and comments, and counts the commas of
//! each. The callee (`f`, `m.f`, `x.method`) is then resolved like a completion
//! receiver.

use super::analysis::Analysis;
use super::completion::{is_name_chain_char, suffix_start, visible_locals, Cursor};
use super::hover::{builtin_signature, intrinsic_signature, INTRINSICS};
use super::index::{DefId, DefKind};
use crate::types::Type;
use lsp_types::{ParameterInformation, ParameterLabel, Position, SignatureHelp, SignatureInformation};

/// Lines above the cursor the scan starts at: a call spread over more lines than
/// this gets no help.
const LINES_BACK: u32 = 30;

pub fn signature_help(a: &Analysis, pos: Position) -> Option<SignatureHelp> {
    let offset = a.offset(pos) as usize;
    let start = a.offset(Position::new(pos.line.saturating_sub(LINES_BACK), 0)) as usize;
    let text = a.text();
    let (open, active) = innermost_call(&text[start..offset])?;
    let callee = callee_before(&text[..start + open])?;
    let (label, params) = signature_of(a, callee, Cursor::new(text, offset as u32))?;
    let parameters = params
        .into_iter()
        .map(|p| ParameterInformation {
            label: ParameterLabel::Simple(p),
            documentation: None,
        })
        .collect();
    Some(SignatureHelp {
        signatures: vec![SignatureInformation {
            label,
            documentation: None,
            parameters: Some(parameters),
            active_parameter: Some(active),
        }],
        active_signature: Some(0),
        active_parameter: Some(active),
    })
}

/// The offset of the `(` of the innermost call still open at the end of `text`,
/// and the number of commas after it (the argument being written).
fn innermost_call(text: &str) -> Option<(usize, u32)> {
    // (offset, is a parenthesis, commas)
    let mut open: Vec<(usize, bool, u32)> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '(' | '[' | '{' => open.push((i, c == '(', 0)),
            ')' | ']' | '}' => {
                open.pop();
            }
            ',' => {
                if let Some(top) = open.last_mut() {
                    top.2 += 1;
                }
            }
            '#' => while chars.next_if(|&(_, c)| c != '\n').is_some() {},
            '"' | '\'' => {
                while let Some((_, s)) = chars.next() {
                    if s == '\\' {
                        chars.next();
                    } else if s == c || s == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let &(at, paren, commas) = open.last()?;
    paren.then_some((at, commas))
}

/// The name chain written just before a `(` (`f`, `m.f`, `p.q.norm`).
fn callee_before(text: &str) -> Option<&str> {
    let text = text.trim_end();
    let start = suffix_start(text, is_name_chain_char);
    Some(&text[start..]).filter(|s| !s.is_empty() && !s.starts_with('.'))
}

/// The label and parameter labels of what `callee` calls, seen from `offset`.
fn signature_of(a: &Analysis, callee: &str, at: Cursor) -> Option<(String, Vec<String>)> {
    let ix = &a.index;
    let Some((receiver, method)) = callee.rsplit_once('.') else {
        return plain_call(a, callee, at);
    };
    // `m.f(`: a function of an imported module.
    let first = receiver.split('.').next().unwrap_or(receiver);
    if let Some(&mi) = ix.imports[0].get(receiver) {
        if !visible_locals(ix, at).iter().any(|&d| ix.defs[d].name == first) {
            let d = *ix.items[mi].get(method)?;
            if ix.defs[d].kind == DefKind::Class {
                return Some(constructor(a, d));
            }
            return Some((ix.defs[d].detail.clone(), ix.defs[d].params.clone()));
        }
    }
    // `x.method(`: the receiver's type from the text, as for completion.
    let t = super::completion::chain_type(ix, receiver, at)?;
    let m = ix.member(ix.type_def(&t)?, method)?;
    let def = &ix.defs[m];
    (def.kind == DefKind::Method).then(|| {
        let params = def.params.iter().skip(1).cloned().collect();
        (def.detail.clone(), params)
    })
}

fn plain_call(a: &Analysis, name: &str, at: Cursor) -> Option<(String, Vec<String>)> {
    let ix = &a.index;
    let local = visible_locals(ix, at)
        .into_iter()
        .find(|&d| ix.defs[d].name == name);
    let named = local.or_else(|| ix.items[0].get(name).or(ix.unqualified[0].get(name)).copied());
    if let Some(d) = named {
        let def = &ix.defs[d];
        if def.kind == DefKind::Class {
            return Some(constructor(a, d));
        }
        return match &def.ty {
            _ if !def.params.is_empty() || matches!(def.kind, DefKind::Function | DefKind::Extern) => {
                Some((def.detail.clone(), def.params.clone()))
            }
            Type::Fn(ps, r) => {
                let params: Vec<String> = ps.iter().map(|p| ix.type_name(p)).collect();
                Some((
                    format!("{name}({}) -> {}", params.join(", "), ix.type_name(r)),
                    params,
                ))
            }
            _ => None,
        };
    }
    if INTRINSICS.contains(&name) {
        let (sig, _) = intrinsic_signature(name);
        return Some((sig, builtin_params(name)));
    }
    let id = bp_runtime::builtins::all().iter().position(|b| b.name == name)?;
    let (sig, _) = builtin_signature(id as u32);
    let params = bp_runtime::builtins::signature(id as u32)
        .map(|s| s.params.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    Some((sig, params))
}

fn builtin_params(name: &str) -> Vec<String> {
    match name {
        "print" => vec!["...".to_string()],
        _ => vec!["x: any".to_string()],
    }
}

/// `new C(`: the signature of the class's `__init__`, own or inherited, without
/// `self`.
fn constructor(a: &Analysis, class: DefId) -> (String, Vec<String>) {
    let ix = &a.index;
    match ix.member(class, "__init__") {
        Some(init) => {
            let def = &ix.defs[init];
            (def.detail.clone(), def.params.iter().skip(1).cloned().collect())
        }
        None => (format!("new {}()", ix.defs[class].name), Vec::new()),
    }
}
