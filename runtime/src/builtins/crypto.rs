//! Hashing, security and encoding builtins (LANGUAGE.md §9.10).
//!
//! * SHA-256 and MD5 come from RustCrypto's `sha2` and `md-5`;
//! * `random_bytes` reads the OS CSPRNG through `getrandom`;
//! * `base64_encode` uses the `base64` crate (standard alphabet, `=` padding);
//! * `base64_decode` is hand-written because its lenient rules (§9.10) are part of
//!   the language and no strict decoder reproduces them.

use super::string::str_arg;
use super::{b, Builtin, PURE};
use crate::rt::{Rt, RtError, RtResult};
use crate::value::Value;
use base64::Engine;
use md5::Md5;
use sha2::{Digest, Sha256};

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("hash_sha256", "(str) -> str", "SHA-256 digest as 64 lowercase hex characters", hash_sha256, PURE),
    b("hash_md5", "(str) -> str", "MD5 digest as 32 lowercase hex characters", hash_md5, PURE),
    b("secure_compare", "(str, str) -> bool", "string equality in time independent of where they differ", secure_compare, PURE),
    b("random_bytes", "(int) -> str", "n (0 to 1024) bytes from the OS generator, as 2n hex characters", random_bytes, 0),
    b("base64_encode", "(str) -> str", "standard base64 with `=` padding", base64_encode, PURE),
    b("base64_decode", "(str) -> str", "decodes base64 (lenient: complete groups only)", base64_decode, PURE),
];

/// Lowercase hexadecimal text of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &c in bytes {
        out.push(DIGITS[(c >> 4) as usize]);
        out.push(DIGITS[(c & 15) as usize]);
    }
    out
}

unsafe fn hash_sha256(rt: &mut Rt, a: &[Value]) -> RtResult {
    let digest = Sha256::digest(str_arg(a[0])?);
    Ok(rt.str(hex(&digest)))
}

unsafe fn hash_md5(rt: &mut Rt, a: &[Value]) -> RtResult {
    let digest = Md5::digest(str_arg(a[0])?);
    Ok(rt.str(hex(&digest)))
}

/// Equality whose running time depends only on the lengths, not on where the
/// strings differ.
fn constant_time_eq(x: &[u8], y: &[u8]) -> bool {
    if x.len() != y.len() {
        return false;
    }
    let mut diff = 0u8;
    for (p, q) in x.iter().zip(y) {
        // black_box keeps the optimiser from turning the loop into an early exit.
        diff |= std::hint::black_box(p ^ q);
    }
    std::hint::black_box(diff) == 0
}

unsafe fn secure_compare(_rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(Value::bool(constant_time_eq(str_arg(a[0])?, str_arg(a[1])?)))
}

fn random_bytes(rt: &mut Rt, a: &[Value]) -> RtResult {
    let n = a[0].as_int();
    if !(0..=1024).contains(&n) {
        return Err(RtError::msg("random_bytes: count must be 0-1024"));
    }
    let mut buf = vec![0u8; n as usize];
    getrandom::fill(&mut buf).map_err(|e| RtError::msg(format!("random_bytes: no OS randomness: {e}")))?;
    Ok(rt.str(hex(&buf)))
}

unsafe fn base64_encode(rt: &mut Rt, a: &[Value]) -> RtResult {
    let data = str_arg(a[0])?;
    // 4 output bytes per started group of 3 (with padding); capped like every string.
    let len = data.len().div_ceil(3).saturating_mul(4);
    let mut out = crate::limits::str_buf(len)?;
    out.resize(len, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(data, &mut out)
        .map_err(|e| RtError::msg(format!("base64_encode: {e}")))?;
    out.truncate(written);
    Ok(rt.str(out))
}

fn b64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some((c - b'A') as u32),
        b'a'..=b'z' => Some((c - b'a') as u32 + 26),
        b'0'..=b'9' => Some((c - b'0') as u32 + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// The lenient decoder of §9.10: only complete 4-character groups are decoded; a
/// group whose 1st or 2nd character is outside the alphabet is skipped; any other
/// invalid character (including `=`) counts as zero bits; the 2nd byte of a group
/// is produced unless its 3rd character is `=`, the 3rd unless its 4th is `=`.
pub(crate) fn decode_lenient(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for g in s.chunks_exact(4) {
        let (Some(c0), Some(c1)) = (b64_value(g[0]), b64_value(g[1])) else {
            continue;
        };
        let c2 = b64_value(g[2]).unwrap_or(0);
        let c3 = b64_value(g[3]).unwrap_or(0);
        let n = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
        out.push((n >> 16) as u8);
        if g[2] != b'=' {
            out.push((n >> 8) as u8);
        }
        if g[3] != b'=' {
            out.push(n as u8);
        }
    }
    out
}

unsafe fn base64_decode(rt: &mut Rt, a: &[Value]) -> RtResult {
    Ok(rt.str(decode_lenient(str_arg(a[0])?)))
}

#[cfg(test)]
mod tests {
    use super::decode_lenient;
    use crate::builtins::string::testutil::*;
    use crate::heap::str_bytes;

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    fn str1(name: &str, x: &[u8]) -> Vec<u8> {
        let mut rt = rt();
        let v = rt.str(x);
        unsafe { str_bytes(ok(&mut rt, name, &[v])) }.to_vec()
    }

    #[test]
    fn hash_vectors() {
        assert_eq!(
            str1("hash_sha256", b""),
            b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            str1("hash_sha256", b"abc"),
            b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(str1("hash_md5", b""), b"d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(str1("hash_md5", b"abc"), b"900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            str1("hash_md5", b"The quick brown fox jumps over the lazy dog"),
            b"9e107d9d372bb6826bd81d3542a419d6"
        );
        // Binary content (NUL bytes) is hashed as is.
        assert_eq!(str1("hash_md5", b"\0").len(), 32);
        assert_ne!(str1("hash_sha256", b"\0"), str1("hash_sha256", b""));
    }

    #[test]
    fn compare() {
        let mut rt = rt();
        let cases: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("abc", "abc", true),
            ("abc", "abd", false),
            ("abc", "ab", false),
            ("", "a", false),
        ];
        for (x, y, want) in cases {
            let (p, q) = (s(&mut rt, x), s(&mut rt, y));
            assert_eq!(
                ok(&mut rt, "secure_compare", &[p, q]).as_bool(),
                *want,
                "{x:?} vs {y:?}"
            );
        }
    }

    #[test]
    fn random() {
        let mut rt = rt();
        assert_eq!(text(ok(&mut rt, "random_bytes", &[i(0)])), "");
        let a = text(ok(&mut rt, "random_bytes", &[i(16)]));
        let b = text(ok(&mut rt, "random_bytes", &[i(16)]));
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_ne!(a, b);
        assert_eq!(text(ok(&mut rt, "random_bytes", &[i(1024)])).len(), 2048);
        for bad in [-1, 1025, i64::MIN, i64::MAX] {
            assert_eq!(
                err(&mut rt, "random_bytes", &[i(bad)]),
                "random_bytes: count must be 0-1024"
            );
        }
    }

    #[test]
    fn base64_round_trips() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
            (b"Hello, World!", b"SGVsbG8sIFdvcmxkIQ=="),
            (b"\x00\xff\xfe\x80", b"AP/+gA=="),
        ];
        for (plain, enc) in cases {
            assert_eq!(str1("base64_encode", plain), *enc);
            assert_eq!(str1("base64_decode", enc), *plain);
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(str1("base64_decode", &str1("base64_encode", &all)), all);
        // No line breaks in long output.
        assert!(!str1("base64_encode", &[7u8; 1000]).contains(&b'\n'));
    }

    #[test]
    fn base64_lenient_decoding() {
        // A trailing partial group is ignored.
        assert_eq!(decode_lenient(b"Zm9vYg"), b"foo");
        assert_eq!(decode_lenient(b"Zm9"), b"");
        assert_eq!(decode_lenient(b"Zg="), b"");
        // A group whose 1st or 2nd character is invalid is skipped entirely.
        assert_eq!(decode_lenient(b"!m9vYmFy"), b"bar");
        assert_eq!(decode_lenient(b"Z!9vYmFy"), b"bar");
        assert_eq!(decode_lenient(b"=m9vYmFy"), b"bar");
        assert_eq!(decode_lenient(b"Zm9v\nYmFy"), b"foo");
        // Other invalid characters count as zero bits but still produce bytes.
        assert_eq!(decode_lenient(b"Zm!v"), [b'f', 0x60, 0x2f]);
        assert_eq!(decode_lenient(b"Zm9!"), b"fo@");
        // '=' suppresses its byte: 3rd char '=' drops the 2nd byte, 4th drops the 3rd.
        assert_eq!(decode_lenient(b"Zg=="), b"f");
        assert_eq!(decode_lenient(b"Zm8="), b"fo");
        assert_eq!(decode_lenient(b"Zm=v"), [b'f', 0x2f]);
        // Padding in the middle is not special: decoding continues.
        assert_eq!(decode_lenient(b"Zg==Zm9v"), b"ffoo");
        // No whitespace skipping: a space shifts the groups.
        assert_eq!(decode_lenient(b" Zm9v"), b"");
        assert_eq!(decode_lenient(b"Zm9v Zm9v"), b"foo");
    }
}
