//! Regular expressions (LANGUAGE.md §9.15) on `regex-automata`, the engine of the
//! `regex` crate, used directly because it can do what POSIX requires and the
//! `regex` crate's API cannot: **leftmost-longest** matching. Every match is found
//! in two steps: a leftmost-first search finds where the leftmost match starts
//! (both semantics agree on the start), then an anchored search with
//! `MatchKind::All` from that start finds the longest match there. So
//! `regex_find_all("a|ab", "ab")` is `["ab"]` as with glibc, where the `regex`
//! crate would say `["a"]`. Searches run in linear time (lazy DFA / PikeVM, no
//! backtracking explosions).
//!
//! Patterns are POSIX ERE as glibc accepts them, translated to regex-syntax by
//! [`translate`]: byte semantics in the C locale (no Unicode; `.` and `[^...]` match
//! any byte including newline; non-ASCII bytes are literal bytes), bracket
//! expressions with `[:class:]`, `[=c=]`, `[.c.]` and a leading `]`, intervals
//! `{m,n}` (also `{,n}`), `|`, `()`, `^ $` (text start/end only), the GNU escapes
//! `\w \W \s \S \b \B \< \> \` \'` and, as an extension, `\d \D`. Where the two
//! dialects disagree (documented in docs/stdlib.md): a backslash inside brackets
//! escapes as in Python (`[\]]`, `[\d]`), a `{` that does not start an interval is
//! a literal, and regex-syntax's extras (`(?i)`, `\pN`, ...) are accepted.
//!
//! Fixes to the original (§14 item 19): `^` matches only at the start of the text,
//! not again after every match, and patterns that can match the empty string work
//! like Python's `re` (after an empty match the search resumes one byte further).
//! An invalid pattern never raises; each function documents its fallback.
//! Compiled patterns are cached per thread.

use super::string::str_arg;
use super::{b, Builtin, PURE};
use crate::limits;
use crate::rt::{Rt, RtResult};
use crate::value::{ValKind, Value};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("regex_match", "(str, str) -> bool", "whether the POSIX extended pattern matches somewhere in the text (pattern first)", regex_match, PURE),
    b("regex_search", "(str, str) -> int", "byte offset of the first match, `-1` if none", regex_search, PURE),
    b("regex_replace", "(str, str, str) -> str", "the 3rd (the text) with every match replaced by the 2nd", regex_replace, PURE),
    b("regex_split", "(str, str) -> [str]", "the pieces between matches", regex_split, 0),
    b("regex_find_all", "(str, str) -> [str]", "every match, leftmost-longest, in order", regex_find_all, 0),
];

/// A compiled pattern: the same regex with leftmost-first semantics (to find where
/// the next match starts) and with all-matches semantics (for the longest match
/// anchored at that start).
pub struct Pattern {
    first: Regex,
    longest: Regex,
}

impl Pattern {
    /// Compile a POSIX ERE pattern; `None` if it is invalid.
    pub fn new(pattern: &[u8]) -> Option<Pattern> {
        let src = translate(pattern)?;
        let syn = syntax::Config::new()
            .unicode(false)
            .utf8(false)
            .dot_matches_new_line(true);
        let build = |kind| {
            Regex::builder()
                .syntax(syn)
                .configure(Regex::config().utf8_empty(false).match_kind(kind))
                .build(&src)
                .ok()
        };
        Some(Pattern {
            first: build(MatchKind::LeftmostFirst)?,
            longest: build(MatchKind::All)?,
        })
    }

    pub fn is_match(&self, hay: &[u8]) -> bool {
        self.first.is_match(Input::new(hay))
    }

    /// The leftmost-longest match starting at or after `pos` (`pos <= hay.len()`).
    /// Assertions see the whole text: `^` only matches at 0.
    pub fn find_at(&self, hay: &[u8], pos: usize) -> Option<(usize, usize)> {
        let m = self.first.search(&Input::new(hay).range(pos..))?;
        let (start, mut end) = (m.start(), m.end());
        if end < hay.len() {
            let anchored = Input::new(hay).range(start..).anchored(Anchored::Yes);
            if let Some(long) = self.longest.search(&anchored) {
                end = end.max(long.end());
            }
        }
        Some((start, end))
    }

    /// All non-overlapping matches, left to right. After an empty match the search
    /// resumes one byte later, so every pattern terminates (an empty match is
    /// found at the end of a non-empty one too, like Python 3.7+).
    pub fn find_all(&self, hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos <= hay.len() {
            let Some((s, e)) = self.find_at(hay, pos) else {
                break;
            };
            out.push((s, e));
            pos = if e == s { e + 1 } else { e };
        }
        out
    }
}

/// Cached patterns per thread; cleared when it grows past this many entries.
const CACHE_MAX: usize = 64;

/// Pattern text → compiled pattern (`None`: invalid).
type Cache = HashMap<Box<[u8]>, Option<Rc<Pattern>>>;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(HashMap::new());
}

/// The compiled form of `pattern` (from the cache when possible); `None` if invalid.
pub fn compiled(pattern: &[u8]) -> Option<Rc<Pattern>> {
    CACHE.with(|c| {
        if let Some(p) = c.borrow().get(pattern) {
            return p.clone();
        }
        let p = Pattern::new(pattern).map(Rc::new);
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_MAX {
            c.clear();
        }
        c.insert(pattern.into(), p.clone());
        p
    })
}

/// Append a literal byte to a regex-syntax pattern.
fn push_byte(out: &mut String, c: u8) {
    if c.is_ascii_alphanumeric() || c == b'_' || c == b' ' {
        out.push(c as char);
    } else {
        out.push_str(&format!("\\x{c:02X}"));
    }
}

/// If `p[i]` is `{` starting a POSIX interval (`{m}`, `{m,}`, `{m,n}`, `{,n}`),
/// its regex-syntax text and the index after the `}`.
fn interval(p: &[u8], i: usize) -> Option<(String, usize)> {
    let close = i + p[i..].iter().position(|&c| c == b'}')?;
    let body = std::str::from_utf8(&p[i + 1..close]).ok()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let ok = match body.split_once(',') {
        None => digits(body),
        Some((lo, hi)) => {
            (lo.is_empty() || digits(lo))
                && (hi.is_empty() || digits(hi))
                && !(lo.is_empty() && hi.is_empty())
        }
    };
    if !ok {
        return None;
    }
    let body = if body.starts_with(',') {
        format!("0{body}")
    } else {
        body.to_string()
    };
    Some((format!("{{{body}}}"), close + 1))
}

/// Translate a bracket expression starting at `p[i] == b'['`; returns the index
/// after its closing `]`.
fn translate_class(p: &[u8], mut i: usize, out: &mut String) -> Option<usize> {
    out.push('[');
    i += 1;
    if p.get(i) == Some(&b'^') {
        out.push('^');
        i += 1;
    }
    if p.get(i) == Some(&b']') {
        out.push_str("\\]");
        i += 1;
    }
    loop {
        let c = *p.get(i)?;
        match c {
            b']' => {
                out.push(']');
                return Some(i + 1);
            }
            b'[' if matches!(p.get(i + 1), Some(b':' | b'=' | b'.')) => {
                let delim = p[i + 1];
                let body_start = i + 2;
                let end = body_start
                    + p[body_start..]
                        .windows(2)
                        .position(|w| w[0] == delim && w[1] == b']')?;
                let body = &p[body_start..end];
                if delim == b':' {
                    // Character class name; regex-syntax knows the POSIX names.
                    if body.is_empty() || !body.iter().all(|c| c.is_ascii_alphabetic()) {
                        return None;
                    }
                    out.push_str("[:");
                    out.push_str(std::str::from_utf8(body).ok()?);
                    out.push_str(":]");
                } else {
                    // Equivalence class / collating symbol: in the C locale only a
                    // single byte is meaningful.
                    let [one] = body else { return None };
                    push_byte(out, *one);
                }
                i = end + 2;
            }
            b'\\' => {
                let d = *p.get(i + 1)?;
                if d.is_ascii() {
                    out.push('\\');
                    out.push(d as char);
                } else {
                    push_byte(out, d);
                }
                i += 2;
            }
            b'-' => {
                // `-` is a range operator; "--" would be a set difference in
                // regex-syntax, so only the last of a run is left bare.
                if p.get(i + 1) == Some(&b'-') {
                    out.push_str("\\-");
                } else {
                    out.push('-');
                }
                i += 1;
            }
            b'[' | b'&' | b'~' => {
                // Nested classes and set operators do not exist in POSIX.
                out.push('\\');
                out.push(c as char);
                i += 1;
            }
            _ if !c.is_ascii() => {
                push_byte(out, c);
                i += 1;
            }
            _ => {
                out.push(c as char);
                i += 1;
            }
        }
    }
}

/// Translate a POSIX ERE (glibc dialect, C locale) to regex-syntax; `None` if the
/// pattern is malformed in a way the translation detects (the regex parser
/// reports the rest).
pub fn translate(p: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        match c {
            b'\\' => {
                let d = *p.get(i + 1)?;
                match d {
                    b'`' => out.push_str("\\A"),
                    b'\'' => out.push_str("\\z"),
                    _ if !d.is_ascii() => push_byte(&mut out, d),
                    _ => {
                        out.push('\\');
                        out.push(d as char);
                    }
                }
                i += 2;
            }
            b'[' => i = translate_class(p, i, &mut out)?,
            b'{' => match interval(p, i) {
                Some((text, next)) => {
                    out.push_str(&text);
                    i = next;
                }
                None => {
                    out.push_str("\\{");
                    i += 1;
                }
            },
            b'}' => {
                out.push_str("\\}");
                i += 1;
            }
            _ if !c.is_ascii() => {
                push_byte(&mut out, c);
                i += 1;
            }
            _ => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    Some(out)
}

unsafe fn regex_match(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let (pat, text) = (str_arg(a[0])?, str_arg(a[1])?);
    Ok(Value::bool(compiled(pat).is_some_and(|p| p.is_match(text))))
}

unsafe fn regex_search(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let (pat, text) = (str_arg(a[0])?, str_arg(a[1])?);
    let pos = compiled(pat)
        .and_then(|p| p.find_at(text, 0))
        .map_or(-1, |(s, _)| s as i64);
    Ok(Value::int(pos))
}

unsafe fn regex_replace(rt: &mut Rt, a: &[Value]) -> RtResult {
    let (pat, repl, text) = (str_arg(a[0])?, str_arg(a[1])?, str_arg(a[2])?);
    let Some(p) = compiled(pat) else { return Ok(a[2]) };
    let matches = p.find_all(text);
    if matches.is_empty() {
        return Ok(a[2]);
    }
    let matched: usize = matches.iter().map(|(s, e)| e - s).sum();
    let inserted = repl.len().saturating_mul(matches.len());
    let mut out = limits::str_buf(limits::total_str_len([text.len() - matched, inserted])?)?;
    let mut last = 0;
    for (s, e) in matches {
        out.extend_from_slice(&text[last..s]);
        out.extend_from_slice(repl);
        last = e;
    }
    out.extend_from_slice(&text[last..]);
    Ok(rt.str(out))
}

unsafe fn regex_split(rt: &mut Rt, a: &[Value]) -> RtResult {
    let (pat, text) = (str_arg(a[0])?, str_arg(a[1])?);
    let mut items = Vec::new();
    let mut last = 0;
    if let Some(p) = compiled(pat) {
        for (s, e) in p.find_all(text) {
            limits::grow_array(&mut items, 1)?;
            items.push(rt.str(&text[last..s]));
            last = e;
        }
    }
    limits::grow_array(&mut items, 1)?;
    items.push(rt.str(&text[last..]));
    Ok(rt.heap.alloc_array(ValKind::Ref, items))
}

unsafe fn regex_find_all(rt: &mut Rt, a: &[Value]) -> RtResult {
    let (pat, text) = (str_arg(a[0])?, str_arg(a[1])?);
    let mut items = Vec::new();
    if let Some(p) = compiled(pat) {
        for (s, e) in p.find_all(text) {
            limits::grow_array(&mut items, 1)?;
            items.push(rt.str(&text[s..e]));
        }
    }
    Ok(rt.heap.alloc_array(ValKind::Ref, items))
}

#[cfg(test)]
mod tests {
    use super::{translate, Pattern};
    use crate::builtins::string::testutil::*;
    use crate::heap::str_bytes;
    use crate::rt::Rt;
    use crate::value::Value;

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    fn call2(rt: &mut Rt, name: &str, pat: &str, text_: &str) -> Value {
        let (p, t) = (s(rt, pat), s(rt, text_));
        ok(rt, name, &[p, t])
    }

    fn is_match(pat: &str, t: &str) -> bool {
        call2(&mut rt(), "regex_match", pat, t).as_bool()
    }

    fn search(pat: &str, t: &str) -> i64 {
        call2(&mut rt(), "regex_search", pat, t).as_int()
    }

    fn replace(pat: &str, repl: &str, t: &str) -> String {
        let mut rt = rt();
        let (p, r, x) = (s(&mut rt, pat), s(&mut rt, repl), s(&mut rt, t));
        text(ok(&mut rt, "regex_replace", &[p, r, x]))
    }

    fn split(pat: &str, t: &str) -> Vec<String> {
        texts(call2(&mut rt(), "regex_split", pat, t))
    }

    fn find_all(pat: &str, t: &str) -> Vec<String> {
        texts(call2(&mut rt(), "regex_find_all", pat, t))
    }

    #[test]
    fn match_and_search() {
        assert!(is_match("[0-9]+", "abc123"));
        assert!(!is_match("^[0-9]+$", "abc123"));
        assert!(is_match("^[0-9]+$", "123"));
        assert!(is_match("^[[:alpha:]]+[[:digit:]]{2,3}$", "abc12"));
        assert!(!is_match("^[[:alpha:]]+[[:digit:]]{2,3}$", "abc1234"));
        assert!(is_match("^(cat|dog)s?$", "dogs"));
        assert!(is_match("", "anything"));
        assert!(is_match("a.c", "a\nc"));
        assert!(is_match("^a[^x]c$", "a\nc"));
        assert_eq!(search("[0-9]+", "abc123"), 3);
        assert_eq!(search("x", "abc"), -1);
        assert_eq!(search("", "abc"), 0);
        assert_eq!(search("c$", "abc"), 2);
        assert_eq!(search("b*", "abc"), 0);
    }

    #[test]
    fn gnu_escapes_and_digit_extension() {
        assert!(is_match("^\\w+\\s\\w+$", "hello world"));
        assert!(!is_match("\\W", "abc_09"));
        assert!(is_match("\\bcat\\b", "a cat here"));
        assert!(!is_match("\\bcat\\b", "concatenate"));
        assert!(is_match("\\<cat\\>", "the cat"));
        assert!(!is_match("\\<at", "cat"));
        assert!(is_match("^\\d{3}-\\d{4}$", "555-1234"));
        assert!(is_match("\\`ab\\'", "ab"));
        // Perl escapes for control characters (glibc would read `\n` as `n`).
        assert!(is_match("^a\\nb\\t$", "a\nb\t"));
        assert!(is_match("^\\x41(?i)b$", "AB"));
        assert!(!is_match("^\\x41b$", "aB"));
        assert_eq!(find_all("a.*?b", "aXbYb"), ["aXbYb"]);
        assert!(!is_match("\\`ab\\'", "xab"));
        // Character classes are ASCII (C locale): é is two bytes, neither a letter.
        assert!(!is_match("^\\w+$", "caf\u{e9}"));
        assert!(is_match("^caf\u{e9}$", "caf\u{e9}"));
        assert!(is_match("^[\u{e9}]+$", "\u{e9}"));
        assert!(is_match("^.{2}$", "\u{e9}"));
    }

    #[test]
    fn leftmost_longest() {
        assert_eq!(find_all("a|ab", "abab"), ["ab", "ab"]);
        assert_eq!(find_all("(a|ab)(c|bcd)", "abcd"), ["abcd"]);
        assert_eq!(find_all("x*|b", "b"), ["b", ""]);
        assert_eq!(replace("s|sam|samwise", "X", "samwise sam"), "X X");
        assert_eq!(search("b|abc", "xabc"), 1);
    }

    #[test]
    fn replace_all_literal() {
        assert_eq!(replace("[0-9]+", "#", "a1b22c333"), "a#b#c#");
        assert_eq!(replace("o", "0", "foo boo"), "f00 b00");
        assert_eq!(replace("z", "0", "foo"), "foo");
        // No back-references: the replacement is literal.
        assert_eq!(replace("(a)", "\\1$1", "xa"), "x\\1$1");
    }

    #[test]
    fn caret_only_matches_at_start() {
        assert_eq!(replace("^a", "X", "aaab"), "Xaab");
        assert_eq!(find_all("^a", "aaab"), ["a"]);
        assert_eq!(split("^a", "aaab"), ["", "aab"]);
        assert_eq!(replace("^", ">", "abc"), ">abc");
        assert_eq!(replace("$", "<", "abc"), "abc<");
        assert_eq!(find_all("^[0-9]", "1 2 3"), ["1"]);
    }

    #[test]
    fn empty_matches_terminate_like_python() {
        assert_eq!(replace("x*", "-", "abxd"), "-a-b--d-");
        assert_eq!(split("x*", "abxd"), ["", "a", "b", "", "d", ""]);
        assert_eq!(find_all("x*", "abxd"), ["", "", "x", "", ""]);
        assert_eq!(replace("", "-", "abc"), "-a-b-c-");
        assert_eq!(replace("", "-", ""), "-");
        assert_eq!(find_all("a*", ""), [""]);
        assert_eq!(split("", "ab"), ["", "a", "b", ""]);
        assert_eq!(replace("\\b", "|", "hi you"), "|hi| |you|");
        assert_eq!(find_all("(a|)", "ba"), ["", "a", ""]);
    }

    #[test]
    fn split_and_find_all() {
        assert_eq!(split(",\\s*", "a, b,c,  d"), ["a", "b", "c", "d"]);
        assert_eq!(split(",", ",a,,b,"), ["", "a", "", "b", ""]);
        assert_eq!(split("x", "abc"), ["abc"]);
        assert_eq!(split("x", ""), [""]);
        assert_eq!(split("[[:space:]]+", "one  two\tthree"), ["one", "two", "three"]);
        assert_eq!(find_all("[0-9]+", "a1b22c333"), ["1", "22", "333"]);
        assert_eq!(
            find_all("[a-z]+@[a-z]+\\.com", "x@y.com, bob@ex.com"),
            ["x@y.com", "bob@ex.com"]
        );
        assert!(find_all("q", "abc").is_empty());
    }

    #[test]
    fn invalid_patterns_fall_back() {
        for bad in [
            "(",
            "[a",
            "a)",
            "*a",
            "\\",
            "[[:nope:]]",
            "a{2,1}",
            "[[=ab=]]",
            "(a)\\1",
            "\\y",
        ] {
            let mut rt = rt();
            assert!(!call2(&mut rt, "regex_match", bad, "a(b").as_bool(), "{bad}");
            assert_eq!(call2(&mut rt, "regex_search", bad, "a(b").as_int(), -1, "{bad}");
            assert_eq!(replace(bad, "X", "a(b"), "a(b", "{bad}");
            assert_eq!(split(bad, "a(b"), ["a(b"], "{bad}");
            assert!(find_all(bad, "a(b").is_empty(), "{bad}");
        }
    }

    #[test]
    fn posix_brackets_and_braces() {
        assert!(is_match("^[]a]+$", "]a]"));
        assert!(is_match("^[^]a]$", "b"));
        assert!(!is_match("^[^]a]$", "]"));
        assert!(is_match("^[a[]+$", "[a["));
        assert!(is_match("^[a&&b]+$", "a&b"));
        assert!(is_match("^[a~~b]+$", "~"));
        assert!(is_match("^[[=a=][.b.]]+$", "ab"));
        assert!(is_match("^[-a]+$", "-a"));
        assert!(is_match("^[a-]+$", "-a"));
        assert!(is_match("^[0-9a-fA-F]+$", "09afAF"));
        assert!(is_match("^[\\]]$", "]"));
        assert!(is_match("^a{,2}$", "aa"));
        assert!(!is_match("^a{,2}$", "aaa"));
        assert!(is_match("^a{2,}$", "aaaa"));
        assert!(is_match("^{x}$", "{x}"));
        assert!(is_match("^a{$", "a{"));
        assert!(is_match("^a}$", "a}"));
        assert!(is_match("^[[:upper:]][[:lower:]]*[[:punct:]]$", "Hello!"));
    }

    #[test]
    fn bytes_and_nul() {
        let mut rt = rt();
        let p = rt.str(&b"\xff+"[..]);
        let t = rt.str(&b"a\xff\xffb\x00c"[..]);
        let v = ok(&mut rt, "regex_find_all", &[p, t]);
        assert_eq!(
            unsafe { crate::heap::as_array(v) }
                .iter()
                .map(|x| unsafe { str_bytes(x) }.to_vec())
                .collect::<Vec<_>>(),
            [b"\xff\xff".to_vec()]
        );
        let nul = rt.str(&b"\x00"[..]);
        assert_eq!(ok(&mut rt, "regex_search", &[nul, t]).as_int(), 4);
        // Patterns that are not UTF-8 still translate.
        assert!(translate(b"[\xc3]").is_some());
    }

    #[test]
    fn pathological_patterns_are_linear() {
        let text_ = "a".repeat(5000);
        assert!(!is_match("^(a+)+b$", &text_));
        assert!(!is_match("^(a|aa)*c$", &text_));
        let p = Pattern::new(b"(a*)*").expect("valid");
        assert_eq!(p.find_all(b"aaa"), [(0, 3), (3, 3)]);
        // Huge repetitions are rejected as invalid, not an abort.
        assert!(!is_match("(a{1000}){1000}{1000}", "a"));
    }

    #[test]
    fn cache_returns_same_results() {
        for _ in 0..200 {
            assert_eq!(search("[0-9]", "ab3"), 2);
        }
        for n in 0..100 {
            assert_eq!(search(&format!("x{n}"), &format!("--x{n}")), 2);
        }
    }
}
