//! Integer and float arithmetic with the language's edge cases (LANGUAGE.md §6.3,
//! §16): wrapping integer arithmetic, C truncating division, shifts mod 64, `fmod`.

/// Error text of integer division by zero.
pub const DIV_ZERO: &str = "division by zero";
/// Error text of integer modulo by zero.
pub const MOD_ZERO: &str = "modulo by zero";

/// `a / b` truncating toward zero; `i64::MIN / -1` wraps to `i64::MIN`.
#[inline(always)]
pub fn div_i(a: i64, b: i64) -> Result<i64, &'static str> {
    if b == 0 {
        Err(DIV_ZERO)
    } else {
        Ok(a.wrapping_div(b))
    }
}

/// `a % b` with the sign of `a`; `i64::MIN % -1` is 0.
#[inline(always)]
pub fn mod_i(a: i64, b: i64) -> Result<i64, &'static str> {
    if b == 0 {
        Err(MOD_ZERO)
    } else {
        Ok(a.wrapping_rem(b))
    }
}

/// `(a + b) % k`, the sum wrapping (`AddModIImm`).
#[inline(always)]
pub fn add_mod_i(a: i64, b: i64, k: i64) -> Result<i64, &'static str> {
    mod_i(a.wrapping_add(b), k)
}

/// `(a * b) % k`, the product wrapping (`MulModIImm`).
#[inline(always)]
pub fn mul_mod_i(a: i64, b: i64, k: i64) -> Result<i64, &'static str> {
    mod_i(a.wrapping_mul(b), k)
}

/// `a << (b mod 64)`.
#[inline(always)]
pub fn shl(a: i64, b: i64) -> i64 {
    a.wrapping_shl((b & 63) as u32)
}

/// `a >> (b mod 64)`, arithmetic.
#[inline(always)]
pub fn shr(a: i64, b: i64) -> i64 {
    a.wrapping_shr((b & 63) as u32)
}

/// C `fmod(a, b)` (Rust's `%` on `f64` has the same semantics).
#[inline(always)]
pub fn fmod(a: f64, b: f64) -> f64 {
    a % b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_cases() {
        assert_eq!(div_i(i64::MIN, -1), Ok(i64::MIN));
        assert_eq!(mod_i(i64::MIN, -1), Ok(0));
        assert_eq!(div_i(-7, 2), Ok(-3));
        assert_eq!(mod_i(-7, 2), Ok(-1));
        assert_eq!(div_i(1, 0), Err(DIV_ZERO));
        assert_eq!(mod_i(1, 0), Err(MOD_ZERO));
        assert_eq!(shl(1, 65), 2);
        assert_eq!(shl(1, -1), i64::MIN);
        assert_eq!(shr(-8, 1), -4);
        assert_eq!(fmod(-7.5, 2.0), -1.5);
    }
}
