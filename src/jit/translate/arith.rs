//! Int and float arithmetic and comparisons, division by constants, value numbering of
//! commutative operations, and the inline forms of math builtins.

use super::*;

/// The commutative integer operations whose results are value-numbered within a
/// block ([`Tr::commutative`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Commutative {
    Add,
    Mul,
}

impl<'a, 'f> Tr<'a, 'f> {
    /// `op` on the int values of registers `a` and `b`.
    pub(super) fn int2(&mut self, a: Reg, b: Reg, op: BinOp) -> CV {
        let x = self.get_i(a);
        let y = self.get_i(b);
        op(&mut self.b, x, y)
    }

    /// `op` on the int value of register `a`.
    pub(super) fn int1(&mut self, a: Reg, op: UnOp) -> CV {
        let x = self.get_i(a);
        op(&mut self.b, x)
    }

    /// `op` on the float value of register `a`.
    pub(super) fn float1(&mut self, a: Reg, op: UnOp) -> CV {
        let x = self.get_f(a);
        op(&mut self.b, x)
    }

    pub(super) fn int_bin(&mut self, dst: Reg, a: Reg, b: Reg, op: BinOp) {
        let v = self.int2(a, b, op);
        self.set(dst, v);
    }

    /// `dst = op(a)` on the int value of register `a` (the immediate forms).
    pub(super) fn int_imm(&mut self, dst: Reg, a: Reg, op: impl FnOnce(&mut FunctionBuilder, CV) -> CV) {
        let x = self.get_i(a);
        let v = op(&mut self.b, x);
        self.set(dst, v);
    }

    pub(super) fn float_bin(&mut self, dst: Reg, a: Reg, b: Reg, op: BinOp) {
        let x = self.get_f(a);
        let y = self.get_f(b);
        let v = op(&mut self.b, x, y);
        self.set(dst, v);
    }

    /// `a * b` on floats; `2.0 * x` and `x * 2.0` as `x + x`, which is exact like
    /// the product (the same result for every `x`: infinities, zeros and NaNs
    /// included) and shortens a loop-carried chain (`zi = 2.0 * zr * zi + ci` in
    /// mandelbrot: an add has a lower latency than a multiply, and needs no
    /// constant).
    pub(super) fn float_mul(&mut self, a: Reg, b: Reg) -> CV {
        let x = self.get_f(a);
        let y = self.get_f(b);
        match (self.const_float(x), self.const_float(y)) {
            (Some(2.0), _) => self.b.ins().fadd(y, y),
            (_, Some(2.0)) => self.b.ins().fadd(x, x),
            _ => self.b.ins().fmul(x, y),
        }
    }

    /// The value of `v` if it is a float constant.
    pub(super) fn const_float(&self, v: CV) -> Option<f64> {
        let dfg = &self.b.func.dfg;
        match dfg.value_def(v) {
            ir::ValueDef::Result(inst, 0) => match dfg.insts[inst] {
                ir::InstructionData::UnaryIeee64 {
                    opcode: ir::Opcode::F64const,
                    imm,
                } => Some(f64::from_bits(imm.bits())),
                _ => None,
            },
            _ => None,
        }
    }

    pub(super) fn icmp_set(&mut self, dst: Reg, a: Reg, b: Reg, cc: IntCC) {
        let x = self.get_i(a);
        let y = self.get_i(b);
        let c = self.b.ins().icmp(cc, x, y);
        self.set_bool(dst, c);
    }

    pub(super) fn fcmp_set(&mut self, dst: Reg, a: Reg, b: Reg, cc: FloatCC) {
        let x = self.get_f(a);
        let y = self.get_f(b);
        let c = self.b.ins().fcmp(cc, x, y);
        self.set_bool(dst, c);
    }

    /// The instruction through the generic helper `rt_op`: write back its scalar
    /// operands, call, check the status, reload its result.
    pub(super) fn generic(&mut self, pc: u32) {
        self.store_pc(pc);
        self.stress(pc, pc);
        let ops = self.an.ops[pc as usize].clone();
        let mut done = RegSet::default();
        for &r in &ops.uses {
            if !done.contains(r) && (r as usize) < self.f.nregs as usize && self.kept_in_variable(pc, r) {
                done.insert(r);
                let v = self.get_raw(r);
                let fl = self.mem_flags(Mem::Frame);
                self.b.ins().store(fl, v, self.frame.base, r as i32 * 8);
            }
        }
        let pcv = self.iconst(pc as i64);
        let vm = self.vm_addr();
        let st = self.call_helper(Sig::VmBasePc, self.tc.addrs.h_op, &[vm, self.frame.base, pcv]);
        self.check_status(st, pc);
        if let Some(d) = ops.def {
            let w = self.web_written(d);
            let (ty, fl, base) = (self.vty[w], self.mem_flags(Mem::Frame), self.frame.base);
            let v = self.b.ins().load(ty, fl, base, d as i32 * 8);
            self.b.def_var(self.vars[w], v);
        }
    }

    /// The value of `v` if it is an integer constant (e.g. a register loaded by
    /// `LoadInt` earlier in the same block).
    pub(super) fn const_int(&self, v: CV) -> Option<i64> {
        let dfg = &self.b.func.dfg;
        match dfg.value_def(v) {
            ir::ValueDef::Result(inst, 0) => match dfg.insts[inst] {
                ir::InstructionData::UnaryImm {
                    opcode: ir::Opcode::Iconst,
                    imm,
                } if dfg.value_type(v) == I64 => Some(imm.bits()),
                _ => None,
            },
            _ => None,
        }
    }

    /// How many low bits of `v` are known to be zero (0 if nothing is known),
    /// from the instructions that computed it, looked through `depth` deep:
    /// constants, left shifts by a constant, sums, masks, and products (the
    /// zeros of both factors; and `x * (x + c)` with `c` odd is even, one
    /// factor of the two being even, wrapping or not). A division by `2^k` of a
    /// value with `k` known zeros is exact: a plain shift, with no rounding
    /// correction (spectral_norm's `ij * (ij + 1) / 2`: 18 % of its time). A
    /// value tested by a branch on `v % 2^k == 0` has `k` known zeros in the
    /// block only that test's zero edge enters (collatz's `n / 2` after
    /// `n % 2 == 0`).
    pub(super) fn known_zero_low_bits(&self, v: CV, depth: u32) -> u32 {
        let dfg = &self.b.func.dfg;
        let v = dfg.resolve_aliases(v);
        if let Some(&k) = self.vn.low_zeros.get(&v) {
            return k;
        }
        if depth == 0 || dfg.value_type(v) != I64 {
            return 0;
        }
        let ir::ValueDef::Result(inst, 0) = dfg.value_def(v) else {
            return 0;
        };
        let zeros = |x| self.known_zero_low_bits(x, depth - 1);
        match dfg.insts[inst] {
            ir::InstructionData::UnaryImm {
                opcode: ir::Opcode::Iconst,
                imm,
            } => imm.bits().trailing_zeros(),
            ir::InstructionData::Binary { opcode, args: [a, b] } => match opcode {
                ir::Opcode::Imul => {
                    let product = (zeros(a) + zeros(b)).min(64);
                    if product == 0 && (self.odd_offset_of(a, b) || self.odd_offset_of(b, a)) {
                        1
                    } else {
                        product
                    }
                }
                ir::Opcode::Iadd | ir::Opcode::Isub => zeros(a).min(zeros(b)),
                ir::Opcode::Band => zeros(a).max(zeros(b)),
                ir::Opcode::Ishl => match self.const_int(b) {
                    Some(s) if (0..64).contains(&s) => (zeros(a) + s as u32).min(64),
                    _ => 0,
                },
                _ => 0,
            },
            _ => 0,
        }
    }

    /// Whether `y` is `x + c` or `x - c` for an odd constant `c` (so that one
    /// of `x` and `y` is even).
    fn odd_offset_of(&self, y: CV, x: CV) -> bool {
        let dfg = &self.b.func.dfg;
        let (x, y) = (dfg.resolve_aliases(x), dfg.resolve_aliases(y));
        let ir::ValueDef::Result(inst, 0) = dfg.value_def(y) else {
            return false;
        };
        match dfg.insts[inst] {
            ir::InstructionData::Binary {
                opcode: opcode @ (ir::Opcode::Iadd | ir::Opcode::Isub),
                args: [a, b],
            } => {
                let odd = |c: CV| self.const_int(c).is_some_and(|c| c & 1 == 1);
                (dfg.resolve_aliases(a) == x && odd(b))
                    || (opcode == ir::Opcode::Iadd && dfg.resolve_aliases(b) == x && odd(a))
            }
            _ => false,
        }
    }

    /// The interval the dividend of the division at `pc` is known to lie in
    /// ([`crate::jit::ranges`]), for the function's own instructions (an
    /// inlined callee's were not analysed).
    pub(super) fn dividend_range(&self, pc: u32) -> Option<Interval> {
        if self.inl.is_some() {
            return None;
        }
        self.an.ranges.dividend(pc)
    }

    /// `x / c` or `x % c` (truncating, remainder with the sign of `x`) for a
    /// constant `c != 0`, with the VM's results for `MIN / -1` (wraps) and
    /// `MIN % -1` (0). General divisors use the signed magic-number method
    /// (Hacker's Delight 10-1); see [`magic_s64`]. A dividend known to lie in
    /// `range` may take a shorter way ([`Tr::div_non_negative`]).
    pub(super) fn div_by_const(&mut self, x: CV, c: i64, op: DivOp, range: Option<Interval>) -> CV {
        if let Some(r) = range.filter(|r| r.lo >= 0 && c > 1) {
            return self.div_non_negative(x, c, op, r.hi);
        }
        let is_div = op == DivOp::Quotient;
        let q = match c {
            1 => x,
            -1 => self.b.ins().ineg(x),
            i64::MIN => {
                // Only MIN itself divides to 1; everything else to 0.
                let eq = self.b.ins().icmp_imm_s(IntCC::Equal, x, i64::MIN);
                self.b.ins().uextend(I64, eq)
            }
            _ if c.unsigned_abs().is_power_of_two() => {
                // `|c| = 2^k`: shifts. A negative `x` is biased by `2^k - 1` so
                // that the shift truncates toward zero; the remainder keeps the
                // sign of `x` (and is the same for `c` and `-c`).
                let k = c.unsigned_abs().trailing_zeros() as i64;
                if self.known_zero_low_bits(x, 6) >= k as u32 {
                    // Exact: no rounding, and no remainder.
                    if !is_div {
                        return self.iconst(0);
                    }
                    let q = self.b.ins().sshr_imm_s(x, k);
                    return if c < 0 { self.b.ins().ineg(q) } else { q };
                }
                let sign = self.b.ins().sshr_imm_s(x, 63);
                let bias = self.b.ins().ushr_imm_s(sign, 64 - k);
                let t = self.b.ins().iadd(x, bias);
                if !is_div {
                    let low = self.b.ins().band_imm_s(t, (1i64 << k) - 1);
                    let r = self.b.ins().isub(low, bias);
                    let bits = self.b.ins().band_imm_s(x, (1i64 << k) - 1);
                    self.vn.zero_equiv.insert(r, LowBits { bits, x, k: k as u32 });
                    return r;
                }
                let q = self.b.ins().sshr_imm_s(t, k);
                if c < 0 {
                    self.b.ins().ineg(q)
                } else {
                    q
                }
            }
            _ => {
                let q = self.magic_quotient(x, c);
                // Round towards zero: add 1 when the quotient is negative. For
                // `c > 0` that is when `x` is (Hacker's Delight 10-1), and the sign
                // of `x` is known before the multiply, which keeps the `shr` off
                // the dependency chain (`loop_int`'s `% 1000000007`).
                let sign = if c > 0 {
                    self.b.ins().ushr_imm_s(x, 63)
                } else {
                    self.b.ins().ushr_imm_s(q, 63)
                };
                self.b.ins().iadd(q, sign)
            }
        };
        self.quotient_or_remainder(x, q, c, op)
    }

    /// `smulhi(x, m)` with its correction and shift, for `|c| >= 2` (not
    /// `MIN`): `x / c` rounded down, which is the truncated quotient when it
    /// is not negative (`x >= 0`, `c > 0`); a negative one needs the caller's
    /// correction (add 1).
    fn magic_quotient(&mut self, x: CV, c: i64) -> CV {
        let (m, sh) = magic_s64(c);
        let mv = self.iconst(m);
        let mut q = self.b.ins().smulhi(x, mv);
        if c > 0 && m < 0 {
            q = self.b.ins().iadd(q, x);
        } else if c < 0 && m > 0 {
            q = self.b.ins().isub(q, x);
        }
        if sh > 0 {
            q = self.b.ins().sshr_imm_s(q, sh as i64);
        }
        q
    }

    /// The quotient `q` of `x / c` itself, or the remainder `x - q * c`.
    fn quotient_or_remainder(&mut self, x: CV, q: CV, c: i64, op: DivOp) -> CV {
        if op == DivOp::Quotient {
            q
        } else {
            let qc = self.b.ins().imul_imm_s(q, c);
            self.b.ins().isub(x, qc)
        }
    }

    /// `x / c` or `x % c` for `c >= 2` and `0 <= x <= hi`: no rounding
    /// correction for negative dividends, and for a small `hi` no division at
    /// all: `x` itself below `c`, one compare and a conditional subtract below
    /// `2c` (the accumulator of `total = (total + x) % m`, which the multiply
    /// of the magic-number method would put on the loop's dependency chain:
    /// `loop_int`).
    fn div_non_negative(&mut self, x: CV, c: i64, op: DivOp, hi: i64) -> CV {
        let is_div = op == DivOp::Quotient;
        if hi < c {
            return if is_div { self.iconst(0) } else { x };
        }
        if (hi as i128) < 2 * c as i128 {
            let ge = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, x, c);
            if is_div {
                return self.b.ins().uextend(I64, ge);
            }
            let less = self.b.ins().iadd_imm_s(x, -c);
            return self.b.ins().select(ge, less, x);
        }
        if (c as u64).is_power_of_two() {
            let k = c.trailing_zeros();
            if is_div {
                return self.b.ins().ushr_imm_s(x, k as i64);
            }
            let r = self.b.ins().band_imm_s(x, c - 1);
            self.vn.zero_equiv.insert(r, LowBits { bits: r, x, k });
            return r;
        }
        let q = self.magic_quotient(x, c);
        self.quotient_or_remainder(x, q, c, op)
    }

    /// The commutative integer operation `which` (computed by `op`) on the
    /// registers `a` and `b`: the value already computed in this bytecode block
    /// for the same operands (in either order), else a new one.
    pub(super) fn commutative(
        &mut self,
        which: Commutative,
        a: Reg,
        b: Reg,
        op: fn(&mut Self, CV, CV) -> CV,
    ) -> CV {
        let tag = which;
        let x = self.get_i(a);
        let y = self.get_i(b);
        if let Some(&v) = self
            .vn
            .computed
            .get(&(tag, x, y))
            .or_else(|| self.vn.computed.get(&(tag, y, x)))
        {
            return v;
        }
        let v = op(self, x, y);
        self.vn.computed.insert((tag, x, y), v);
        v
    }

    /// `x + y`, reassociated as `p + (q + y)` when `x = p + q` and `p` is a block
    /// parameter (typically a loop-carried value such as an accumulator) while
    /// `q` and `y` are not: the loop-carried dependency chain then has one add
    /// instead of two (`total = (total + i * 7 + (i ^ (i >> 3))) % m`). Integer
    /// addition wraps, so any association gives the same result.
    pub(super) fn add_reassoc(&mut self, x: CV, y: CV) -> CV {
        let dfg = &self.b.func.dfg;
        let is_param = |v: CV| matches!(dfg.value_def(v), ir::ValueDef::Param(..));
        if let ir::ValueDef::Result(inst, 0) = dfg.value_def(x) {
            if let ir::InstructionData::Binary {
                opcode: ir::Opcode::Iadd,
                args: [p, q],
            } = dfg.insts[inst]
            {
                if is_param(p) && !is_param(q) && !is_param(y) {
                    let qy = self.b.ins().iadd(q, y);
                    return self.b.ins().iadd(p, qy);
                }
            }
        }
        self.b.ins().iadd(x, y)
    }

    /// Cranelift instructions with the exact semantics of a one-argument builtin
    /// (see runtime/src/builtins/inline.rs, math.rs and conv.rs).
    pub(super) fn inline_unary(&mut self, op: UnaryOp, a: Reg) -> CV {
        match op {
            UnaryOp::Abs => self.int1(a, |b, x| b.ins().iabs(x)),
            UnaryOp::Identity => self.get_i(a),
            UnaryOp::Sign => self.int1(a, |b, x| {
                let pos = b.ins().icmp_imm_s(IntCC::SignedGreaterThan, x, 0);
                let neg = b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
                let p = b.ins().uextend(I64, pos);
                let n = b.ins().uextend(I64, neg);
                b.ins().isub(p, n)
            }),
            UnaryOp::Sqrt => {
                let r = self.int1(a, |b, x| {
                    let f = b.ins().fcvt_from_sint(F64, x);
                    b.ins().sqrt(f)
                });
                self.f64_to_i64_x86(r)
            }
            UnaryOp::BitNot => self.int1(a, |b, x| b.ins().bnot(x)),
            UnaryOp::IntToFloat => self.int1(a, |b, x| b.ins().fcvt_from_sint(F64, x)),
            UnaryOp::FloatToInt => {
                let x = self.get_f(a);
                self.f64_to_i64_x86(x)
            }
            UnaryOp::FAbs => self.float1(a, |b, x| b.ins().fabs(x)),
            UnaryOp::FFloor => self.float1(a, |b, x| b.ins().floor(x)),
            UnaryOp::FCeil => self.float1(a, |b, x| b.ins().ceil(x)),
            UnaryOp::FSqrt => self.float1(a, |b, x| b.ins().sqrt(x)),
            UnaryOp::IsNan => self.float1(a, |b, x| {
                let c = b.ins().fcmp(FloatCC::Unordered, x, x);
                b.ins().uextend(I64, c)
            }),
            UnaryOp::IsInf => self.float1(a, |b, x| {
                let m = b.ins().fabs(x);
                let inf = b.ins().f64const(f64::INFINITY);
                let c = b.ins().fcmp(FloatCC::Equal, m, inf);
                b.ins().uextend(I64, c)
            }),
        }
    }

    /// Cranelift instructions with the exact semantics of a two-argument builtin.
    pub(super) fn inline_binary(&mut self, op: BinaryOp, a: Reg, c: Reg) -> CV {
        match op {
            BinaryOp::Min => self.int2(a, c, |b, x, y| b.ins().smin(x, y)),
            BinaryOp::Max => self.int2(a, c, |b, x, y| b.ins().smax(x, y)),
            // The same operations as the `BitAnd` ... `Shr` instructions; Cranelift
            // takes shift amounts modulo 64, like the builtins.
            BinaryOp::BitAnd => self.int2(a, c, |b, x, y| b.ins().band(x, y)),
            BinaryOp::BitOr => self.int2(a, c, |b, x, y| b.ins().bor(x, y)),
            BinaryOp::BitXor => self.int2(a, c, |b, x, y| b.ins().bxor(x, y)),
            BinaryOp::Shl => self.int2(a, c, |b, x, y| b.ins().ishl(x, y)),
            BinaryOp::Shr => self.int2(a, c, |b, x, y| b.ins().sshr(x, y)),
        }
    }

    /// `clamp(v, lo, hi)`: `v < lo ? lo : (v > hi ? hi : v)`, `lo` checked first.
    pub(super) fn inline_clamp(&mut self, v: Reg, lo: Reg, hi: Reg) -> CV {
        let (x, l, h) = (self.get_i(v), self.get_i(lo), self.get_i(hi));
        let gt = self.b.ins().icmp(IntCC::SignedGreaterThan, x, h);
        let upper = self.b.ins().select(gt, h, x);
        let lt = self.b.ins().icmp(IntCC::SignedLessThan, x, l);
        self.b.ins().select(lt, l, upper)
    }

    /// x86 `cvttsd2si`: truncate, with NaN and out-of-range values giving
    /// `i64::MIN` (the runtime's `f64_to_i64_x86`); never traps.
    pub(super) fn f64_to_i64_x86(&mut self, x: CV) -> CV {
        let lo = self.b.ins().f64const(-9_223_372_036_854_775_808.0);
        let hi = self.b.ins().f64const(9_223_372_036_854_775_808.0);
        let ge = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, lo);
        let lt = self.b.ins().fcmp(FloatCC::LessThan, x, hi);
        let ok = self.b.ins().band(ge, lt);
        let t = self.b.ins().fcvt_to_sint_sat(I64, x);
        let min = self.iconst(i64::MIN);
        self.b.ins().select(ok, t, min)
    }

    /// `DivIImm` / `ModIImm` at `pc`: `dst = a / imm` or `a % imm` (`op`) by
    /// [`Tr::div_by_const`]. The compiler never emits a zero `imm`; if one comes,
    /// the instruction exits to the VM, which raises. Returns whether the block is
    /// still open.
    pub(super) fn int_division_imm(&mut self, pc: u32, dst: Reg, a: Reg, imm: i32, op: DivOp) -> bool {
        self.division_imm_of(pc, dst, imm, op, |t| t.get_i(a))
    }

    /// `dst = x / imm` or `x % imm` (`op`) at `pc` for the `x` that `dividend`
    /// computes: a register's value ([`Tr::int_division_imm`]), or the sum or
    /// product of `AddModIImm` and `MulModIImm`.
    pub(super) fn division_imm_of(
        &mut self,
        pc: u32,
        dst: Reg,
        imm: i32,
        op: DivOp,
        dividend: impl FnOnce(&mut Self) -> CV,
    ) -> bool {
        if imm == 0 {
            self.always_exit(pc);
            return false;
        }
        let x = dividend(self);
        self.stress(pc, pc);
        let range = self.dividend_range(pc);
        let v = self.div_by_const(x, imm as i64, op, range);
        self.set(dst, v);
        true
    }

    /// `DivI` / `ModI` at `pc`: `dst = a / b` or `a % b` (`op`), raising at a zero
    /// divisor as the VM does.
    pub(super) fn int_division(&mut self, pc: u32, dst: Reg, a: Reg, b: Reg, op: DivOp) {
        let x = self.get_i(a);
        let y = self.get_i(b);
        self.stress(pc, pc);
        let v = match self.const_int(y) {
            // A constant divisor (the common `% 1000000007`): no zero check,
            // and a multiply by a magic number instead of `idiv`.
            Some(c) if c != 0 => {
                let range = self.dividend_range(pc);
                self.div_by_const(x, c, op, range)
            }
            _ => match self.prepared_divisor(b) {
                Some((m, s)) => self.divide_by_prepared(pc, x, y, (m, s), op),
                None => self.divide(pc, x, y, op),
            },
        };
        self.set(dst, v);
    }

    /// `x / y` or `x % y` with `idiv`, raising at `y == 0` as the VM does.
    fn divide(&mut self, pc: u32, x: CV, y: CV, op: DivOp) -> CV {
        // Division by zero raises in the VM; `sdiv`/`srem` would trap.
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.raise_guard(zero, pc);
        // `MIN / -1` would trap too: divide by 1 instead and fix up.
        let m1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
        let one = self.iconst(1);
        let safe = self.b.ins().select(m1, one, y);
        if op == DivOp::Quotient {
            let q = self.b.ins().sdiv(x, safe);
            let n = self.b.ins().ineg(x);
            self.b.ins().select(m1, n, q)
        } else {
            let r = self.b.ins().srem(x, safe);
            let z = self.iconst(0);
            self.b.ins().select(m1, z, r)
        }
    }

    /// The magic multiplier and shift of divisor register `b`, if a loop
    /// around the current instruction prepared them in its pre-header
    /// ([`Tr::prepare_divisors`]; the function's own instructions only).
    fn prepared_divisor(&mut self, b: Reg) -> Option<(CV, CV)> {
        self.loop_pair(b, |l| &l.divisors, |c| &c.divisor_vars)
    }

    /// `x / y` or `x % y` for a divisor prepared in a pre-header: multiplier
    /// `m` and shift `s` from [`div_magic`], which is 0 for `y < 2`; such a
    /// divisor takes [`Tr::divide`]. For `y >= 2`, `l = ceil(log2(y))` and
    /// `M = m + 2^64 = floor(2^(63 + l) / y) + 1`, the truncated quotient is
    /// `floor(x * M / 2^(63 + l))`, plus 1 for a negative `x` (Hacker's Delight
    /// 10-1, with a multiplier one bit longer than the shortest, so that the
    /// shift is `s = l - 1` for every `y`). `smulhi(x, m) + x` is
    /// `floor(x * M / 2^64)`. Why this is exact: the unit test
    /// `prepared_division_matches_idiv` (`src/tier/tests.rs`).
    ///
    /// `idiv` of 64 bits takes 7 cycles a division on this machine when the
    /// divisions are independent (`life`'s `(x + dx + n) % n`), the multiply
    /// about 4; on a chain of divisions the two are equal.
    ///
    /// In the first version the pre-header checked that the divisor is at
    /// least 2: only the multiply is emitted.
    fn divide_by_prepared(&mut self, pc: u32, x: CV, y: CV, (m, s): (CV, CV), op: DivOp) -> CV {
        if self.tc.speculate {
            return self.divide_by_magic(pc, x, y, (m, s), op);
        }
        let (fast, slow, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(join, I64);
        let prepared = self.b.ins().icmp_imm_s(IntCC::NotEqual, m, 0);
        self.b.ins().brif(prepared, fast, &[], slow, &[]);
        self.b.seal_block(fast);
        self.b.seal_block(slow);
        self.b.set_cold_block(slow);
        self.b.switch_to_block(slow);
        let v = self.divide(pc, x, y, op);
        self.b.ins().jump(join, &[v.into()]);
        self.b.switch_to_block(fast);
        let v = self.divide_by_magic(pc, x, y, (m, s), op);
        self.b.ins().jump(join, &[v.into()]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    /// `x / y` or `x % y` for a divisor `y >= 2` of multiplier `m` and shift
    /// `s` ([`Tr::divide_by_prepared`]).
    fn divide_by_magic(&mut self, pc: u32, x: CV, y: CV, (m, s): (CV, CV), op: DivOp) -> CV {
        let hi = self.b.ins().smulhi(x, m);
        let t = self.b.ins().iadd(hi, x);
        let mut q = self.b.ins().sshr(t, s);
        if self.dividend_range(pc).is_none_or(|r| r.lo < 0) {
            let negative = self.b.ins().ushr_imm_s(x, 63);
            q = self.b.ins().iadd(q, negative);
        }
        if op == DivOp::Quotient {
            q
        } else {
            let qy = self.b.ins().imul(q, y);
            self.b.ins().isub(x, qy)
        }
    }
}

/// The magic multiplier with which compiled code divides by `d`
/// ([`Tr::divide_by_prepared`]), computed in the pre-header of a loop that
/// never changes `d`: `floor(2^(63 + l) / d) + 1` for `l = ceil(log2(d))`,
/// which lies in `[2^63, 2^64)`, as the bits of an `i64`; 0 for `d < 2`.
pub(crate) extern "C" fn div_magic(d: i64) -> i64 {
    std::panic::catch_unwind(|| {
        if d < 2 {
            return 0;
        }
        let l = 64 - (d as u64 - 1).leading_zeros();
        ((1u128 << (63 + l)) / d as u128 + 1) as u64 as i64
    })
    .unwrap_or(0)
}
