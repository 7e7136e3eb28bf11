//! The language's deterministic pseudo-random generator (LANGUAGE.md §9.7): a global
//! 64-bit LCG whose state lives in [`Rt::rng`] (initially 1). The exact sequence is
//! part of the language: example programs print seeded `rand`/`rand_range` values.
//! For unpredictable bytes use `random_bytes` (OS CSPRNG, see `crypto`).

use super::{b, Builtin};
use crate::rt::{Rt, RtResult};
use crate::value::Value;

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("rand_seed", "(int) -> void", "sets the state of the random number generator", rand_seed, 0),
    b("rand", "() -> int", "next pseudo-random number, 0 to 32767 (the reference LCG)", rand, 0),
    b("rand_range", "(int, int) -> int", "pseudo-random number from the 1st up to (not including) the 2nd; the 1st when the range is empty", rand_range, 0),
];

/// Advance the LCG: `state = state * 1103515245 + 12345 (mod 2^64)`; returns the new
/// state.
#[inline]
fn step(rt: &mut Rt) -> u64 {
    rt.rng = rt.rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
    rt.rng
}

fn rand_seed(rt: &mut Rt, a: &[Value]) -> RtResult {
    rt.rng = a[0].as_int() as u64;
    Ok(Value::NULL)
}

fn rand(rt: &mut Rt, _a: &[Value]) -> RtResult {
    let s = step(rt);
    Ok(Value::int(((s >> 16) % 32_768) as i64))
}

fn rand_range(rt: &mut Rt, a: &[Value]) -> RtResult {
    let (lo, hi) = (a[0].as_int(), a[1].as_int());
    if lo >= hi {
        return Ok(Value::int(lo));
    }
    let s = step(rt);
    // `hi - lo` can exceed i64::MAX (e.g. lo = i64::MIN, hi = i64::MAX); it always
    // fits in u64, and the sum wraps back into [lo, hi).
    let span = hi.wrapping_sub(lo) as u64;
    Ok(Value::int(lo.wrapping_add(((s >> 16) % span) as i64)))
}

#[cfg(test)]
mod tests {
    use crate::builtins::string::testutil::*;

    #[test]
    fn seeded_sequence() {
        let mut rt = rt();
        ok(&mut rt, "rand_seed", &[i(42)]);
        assert_eq!(ok(&mut rt, "rand", &[]).as_int(), 19081);
        assert_eq!(ok(&mut rt, "rand", &[]).as_int(), 17033);
        // Re-seeding restarts the sequence.
        ok(&mut rt, "rand_seed", &[i(42)]);
        assert_eq!(ok(&mut rt, "rand", &[]).as_int(), 19081);
    }

    #[test]
    fn initial_state_is_one() {
        let mut rt = rt();
        // state = 1 * 1103515245 + 12345 = 1103527590; (>> 16) % 32768 = 16838.
        assert_eq!(ok(&mut rt, "rand", &[]).as_int(), 16838);
    }

    #[test]
    fn range_bounds_and_state() {
        let mut rt = rt();
        ok(&mut rt, "rand_seed", &[i(7)]);
        for _ in 0..1000 {
            let v = ok(&mut rt, "rand_range", &[i(-3), i(4)]).as_int();
            assert!((-3..4).contains(&v));
        }
        // lo >= hi returns lo without advancing the state.
        let before = rt.rng;
        assert_eq!(ok(&mut rt, "rand_range", &[i(5), i(5)]).as_int(), 5);
        assert_eq!(ok(&mut rt, "rand_range", &[i(9), i(2)]).as_int(), 9);
        assert_eq!(rt.rng, before);
        // rand_range(lo, hi) uses the same step as rand() but the full (state >> 16).
        ok(&mut rt, "rand_seed", &[i(42)]);
        let state = 42u64.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        assert_eq!(
            ok(&mut rt, "rand_range", &[i(10), i(1_000_010)]).as_int(),
            10 + ((state >> 16) % 1_000_000) as i64
        );
        // Extreme spans do not overflow.
        let v = ok(&mut rt, "rand_range", &[i(i64::MIN), i(i64::MAX)]).as_int();
        assert!(v < i64::MAX);
        // Negative seeds are taken as unsigned 64-bit.
        ok(&mut rt, "rand_seed", &[i(-1)]);
        assert_eq!(rt.rng, u64::MAX);
    }
}
