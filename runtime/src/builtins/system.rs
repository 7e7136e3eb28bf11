//! System, time and environment builtins (LANGUAGE.md §9.9).

use super::string::str_arg;
use super::{b, Builtin};
use crate::rt::{Rt, RtError, RtResult};
use crate::value::{ValKind, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("clock_ms", "() -> int", "wall-clock milliseconds since the Unix epoch", clock_ms, 0),
    b("sleep", "(int) -> void", "pauses for the given milliseconds", sleep, 0),
    b("exit", "(int) -> void", "ends the program at once with the status (low 8 bits; no `finally` runs)", exit, 0),
    b("getenv", "(str) -> str", "the environment variable's value, `\"\"` if unset", getenv, 0),
    b("argv", "() -> [str]", "the program's arguments (after the script's path)", argv, 0),
    b("argc", "() -> int", "the number of program arguments", argc, 0),
];

fn clock_ms(_rt: &mut Rt, _a: &[Value]) -> RtResult {
    let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    };
    Ok(Value::int(ms))
}

/// Sleep `ms` milliseconds; nothing for `ms <= 0`. Shared with `thread_sleep`.
pub(crate) fn sleep_ms(ms: i64) {
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms as u64));
    }
}

fn sleep(rt: &mut Rt, a: &[Value]) -> RtResult {
    // Output printed before a pause should be visible during it.
    if a[0].as_int() > 0 {
        rt.flush()?;
    }
    sleep_ms(a[0].as_int());
    Ok(Value::NULL)
}

fn exit(rt: &mut Rt, a: &[Value]) -> RtResult {
    rt.flush()?;
    Err(RtError::Exit((a[0].as_int() & 255) as i32))
}

unsafe fn getenv(rt: &mut Rt, a: &[Value]) -> RtResult {
    let name = str_arg(a[0])?;
    // Names that cannot exist (and that std may reject) are simply unset.
    if name.is_empty() || name.contains(&b'=') || name.contains(&0) {
        return Ok(rt.str(Vec::new()));
    }
    let value = std::env::var_os(super::file::path_of(name).as_os_str())
        .map(os_bytes)
        .unwrap_or_default();
    Ok(rt.str(value))
}

fn os_bytes(s: std::ffi::OsString) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        s.into_vec()
    }
    #[cfg(not(unix))]
    {
        s.to_string_lossy().into_owned().into_bytes()
    }
}

fn argv(rt: &mut Rt, _a: &[Value]) -> RtResult {
    let args = rt.args.clone();
    let items = args.iter().map(|s| rt.str(s.as_slice())).collect();
    Ok(rt.heap.alloc_array(ValKind::Ref, items))
}

fn argc(rt: &mut Rt, _a: &[Value]) -> RtResult {
    Ok(Value::int(rt.args.len() as i64))
}

#[cfg(test)]
mod tests {
    use crate::builtins::string::testutil::*;
    use crate::heap::{as_array, Heap};
    use crate::rt::{Rt, RtError};
    use crate::value::ValKind;

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    #[test]
    fn clock_and_sleep() {
        let mut rt = rt();
        let t0 = ok(&mut rt, "clock_ms", &[]).as_int();
        assert!(t0 > 1_600_000_000_000, "{t0}");
        ok(&mut rt, "sleep", &[i(20)]);
        ok(&mut rt, "sleep", &[i(0)]);
        ok(&mut rt, "sleep", &[i(-5)]);
        ok(&mut rt, "sleep", &[i(i64::MIN)]);
        let t1 = ok(&mut rt, "clock_ms", &[]).as_int();
        assert!(t1 - t0 >= 19, "{t0} {t1}");
    }

    #[test]
    fn exit_codes() {
        let mut rt = rt();
        for (code, want) in [(0, 0), (3, 3), (256, 0), (257, 1), (-1, 255), (i64::MIN, 0)] {
            assert_eq!(
                super::super::string::testutil::call(&mut rt, "exit", &[i(code)]),
                Err(RtError::Exit(want))
            );
        }
    }

    #[test]
    fn environment() {
        let mut rt = rt();
        // PATH is set in any reasonable test environment; HOME may not be.
        let path = std::env::var("PATH").unwrap_or_default();
        let name = s(&mut rt, "PATH");
        assert_eq!(text(ok(&mut rt, "getenv", &[name])), path);
        for bad in ["BP_SURELY_UNSET_VARIABLE_12345", "", "A=B"] {
            let n = s(&mut rt, bad);
            assert_eq!(text(ok(&mut rt, "getenv", &[n])), "");
        }
        let nul = rt.str(&b"PA\0TH"[..]);
        assert_eq!(text(ok(&mut rt, "getenv", &[nul])), "");
    }

    #[test]
    fn program_arguments() {
        let mut rt = Rt::new(
            Heap::new(false),
            vec!["one".into(), "two words".into(), "".into()],
        );
        assert_eq!(ok(&mut rt, "argc", &[]).as_int(), 3);
        let v = ok(&mut rt, "argv", &[]);
        assert_eq!(unsafe { as_array(v) }.elem, ValKind::Ref);
        assert_eq!(texts(v), ["one", "two words", ""]);
        let mut none = rt_with_no_args();
        assert_eq!(ok(&mut none, "argc", &[]).as_int(), 0);
        assert!(texts(ok(&mut none, "argv", &[])).is_empty());
    }

    fn rt_with_no_args() -> Rt {
        rt()
    }
}
