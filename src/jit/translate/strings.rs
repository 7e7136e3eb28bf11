//! Strings inline: `len`, `str_char_at`, `ord` and `chr` (`Inline::Str`), and
//! string equality (`EqStr`, `NeStr`).
//!
//! A string is an immutable header with a byte pointer and a length
//! (`abi::STR_PTR`, `STR_LEN`); every string of at most one byte the runtime
//! makes is one of the shared, immortal ones in a static table
//! (`bp_runtime::heap::SHORT_STRS`), so `str_char_at` and `chr` index that
//! table instead of allocating. Where the builtin raises (a null string,
//! `ord("")`, `chr` outside 0 to 127) a cold block makes the general call
//! through `rt_builtin`, which raises its error.

use super::instr::When;
use super::*;

impl<'a, 'f> Tr<'a, 'f> {
    /// `CallBuiltin` of builtin `id`, string operation `op`, at `pc`.
    pub(super) fn inline_str_builtin(&mut self, pc: u32, dst: Reg, id: u32, op: StrOp, args: &[Reg]) {
        if let (StrOp::Len, Some((_, len))) = (op, self.slice_of(args[0])) {
            self.set(dst, len);
            return;
        }
        // A string from the shared table: its index is its byte (or says it is
        // the empty string); nothing to load.
        let known = match op {
            StrOp::Len | StrOp::Ord => {
                let s = self.get_i(args[0]);
                self.short_index(s)
            }
            StrOp::Chr | StrOp::CharAt => None,
        };
        if let (StrOp::Len, Some(k)) = (op, known) {
            let one = self
                .b
                .ins()
                .icmp_imm_s(IntCC::NotEqual, k, self.tc.offs.empty_str_index);
            self.set_bool(dst, one);
            return;
        }
        let general = self.b.create_block();
        self.b.set_cold_block(general);
        let join = self.b.create_block();
        self.b.append_block_param(join, I64);
        // `str_char_at` and `chr` answer a shared string on every path (the
        // general call too: it raises, or returns one of the table's entries,
        // since the runtime makes every string of at most one byte one of
        // them), so the join also carries its index, and what follows (`ord`,
        // `len`, `==`) knows it.
        let shared = matches!(op, StrOp::CharAt | StrOp::Chr);
        if shared {
            self.b.append_block_param(join, I64);
        }
        let v = match (op, known) {
            (StrOp::Ord, Some(k)) => {
                let empty = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::Equal, k, self.tc.offs.empty_str_index);
                let ok = self.b.create_block();
                self.b.ins().brif(empty, general, &[], ok, &[]);
                self.b.seal_block(ok);
                self.b.switch_to_block(ok);
                k
            }
            // (A known one was answered above.)
            (StrOp::Len, _) => {
                let s = self.non_null_str(args[0], general);
                self.str_len(s)
            }
            (StrOp::Ord, None) => {
                let s = self.non_null_str(args[0], general);
                let len = self.str_len(s);
                self.branch_to_if_zero(len, general);
                let p = self.str_ptr(s);
                self.str_byte(p)
            }
            (StrOp::Chr, _) => {
                let c = self.get_i(args[0]);
                let ascii = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, c, 128);
                let ok = self.b.create_block();
                self.b.ins().brif(ascii, ok, &[], general, &[]);
                self.b.seal_block(ok);
                self.b.switch_to_block(ok);
                self.short_str_at(c)
            }
            (StrOp::CharAt, _) => {
                let s = self.non_null_str(args[0], general);
                let i = self.get_i(args[1]);
                self.char_at(s, i)
            }
        };
        let fast = self.join_args(v, shared);
        self.b.ins().jump(join, &fast);
        self.b.seal_block(general);
        self.b.switch_to_block(general);
        let block = self.arg_block(args);
        let info = args.len() as i64 | (self.is_ref(dst) as i64) << 32;
        let h = self.tc.addrs.h_builtin;
        self.block_helper(pc, h, id as i64, block, info, None);
        let fl = self.mem_flags(Mem::Frame);
        let r = self.b.ins().load(I64, fl, block, 0);
        let slow = self.join_args(r, shared);
        self.b.ins().jump(join, &slow);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        let v = self.b.block_params(join)[0];
        if shared {
            let k = self.b.block_params(join)[1];
            self.vn.short_strs.insert(v, k);
        }
        self.set(dst, v);
    }

    /// What a path passes to the join of [`Tr::inline_str_builtin`]: the
    /// result `v`, and its index when it is a `shared` table entry.
    fn join_args(&mut self, v: CV, shared: bool) -> Vec<ir::BlockArg> {
        if !shared {
            return vec![v.into()];
        }
        let k = match self.short_index(v) {
            Some(k) => k,
            None => self.index_of_short_str(v),
        };
        vec![v.into(), k.into()]
    }

    /// The index of `s`, an entry of the shared strings' table, computed from
    /// its address (on a cold path: a division by the entry size).
    fn index_of_short_str(&mut self, s: CV) -> CV {
        let off = self.b.ins().iadd_imm_s(s, -(self.tc.addrs.short_strs as i64));
        let size = self.iconst(self.tc.offs.short_str_size);
        self.b.ins().udiv(off, size)
    }

    /// The string in register `r`, having branched to `otherwise` if it is null.
    fn non_null_str(&mut self, r: Reg, otherwise: Block) -> CV {
        let s = self.get_i(r);
        self.branch_to_if_zero(s, otherwise);
        s
    }

    /// Branch to `target` if `v` is zero; go on in a new block otherwise.
    pub(super) fn branch_to_if_zero(&mut self, v: CV, target: Block) {
        let go_on = self.b.create_block();
        self.b.ins().brif(v, go_on, &[], target, &[]);
        self.b.seal_block(go_on);
        self.b.switch_to_block(go_on);
    }

    /// The loads of a string's length, byte pointer and bytes are `readonly`:
    /// a string never changes, and one that an SSA value refers to is live
    /// (the register that holds it is a root), so Cranelift may merge repeated
    /// loads across stores and calls.
    fn str_flags(&self, m: Mem) -> MemFlagsData {
        self.mem_flags(m).with_readonly()
    }

    fn str_len(&mut self, s: CV) -> CV {
        let fl = self.str_flags(Mem::Hdr);
        self.b.ins().load(I64, fl, s, self.tc.offs.str_bytes.1)
    }

    fn str_ptr(&mut self, s: CV) -> CV {
        let fl = self.str_flags(Mem::Hdr);
        self.b.ins().load(I64, fl, s, self.tc.offs.str_bytes.0)
    }

    /// The address of string `s` (live, or null: then the zeroed block,
    /// `Addrs::zero_obj`, whose length and byte pointer are 0): a header
    /// readable wherever the address is, for [`Tr::str_word_moving`]; and
    /// whether `s` is null.
    fn readable_str(&mut self, s: CV) -> (CV, CV) {
        let null = self.b.ins().icmp_imm_s(IntCC::Equal, s, 0);
        let zero = self.iconst(self.tc.addrs.zero_obj as i64);
        (self.b.ins().select(null, zero, s), null)
    }

    /// The header word at `off` (the length or the byte pointer) of the
    /// string at `obj`, a [`Tr::readable_str`] address, read with a load that
    /// may move: it is pure for Cranelift's e-graph, which merges the reads
    /// of one string (`w == "a" or w == "b"` reads them once). Only for a
    /// value used right where it is read: a pure load is placed at its first
    /// use, and a string no register holds any more may be gone after a
    /// collection. A string appended to in place is a new value after each
    /// append (appends.rs), so no read of an old length is reused. (Tried for
    /// `str_char_at` too: the select cost more than it saved, the string of a
    /// character loop reaching the loop's header as a block parameter, so its
    /// reads stayed in the loop.)
    fn str_word_moving(&mut self, obj: CV, off: i32) -> CV {
        let fl = self.str_flags(Mem::Hdr).with_can_move();
        self.b.ins().load(I64, fl, obj, off)
    }

    fn str_byte(&mut self, at: CV) -> CV {
        let fl = self.str_flags(Mem::Heap);
        self.b.ins().uload8(I64, fl, at, 0)
    }

    /// The shared string of entry `index` (a byte, or the empty string's
    /// index), remembered as such ([`Tr::short_index`]).
    fn short_str_at(&mut self, index: CV) -> CV {
        let off = self.b.ins().imul_imm_s(index, self.tc.offs.short_str_size);
        let s = self.b.ins().iadd_imm_s(off, self.tc.addrs.short_strs as i64);
        self.vn.short_strs.insert(s, index);
        s
    }

    /// The index in the shared table of string `s`, if `s` is known to be one
    /// of its entries: made by [`Tr::short_str_at`], or a constant address in
    /// the table (a string literal of at most one byte).
    pub(super) fn short_index(&mut self, s: CV) -> Option<CV> {
        if let Some(&k) = self.vn.short_strs.get(&s) {
            return Some(k);
        }
        let offset = (self.const_int(s)? as u64).checked_sub(self.tc.addrs.short_strs)?;
        let size = self.tc.offs.short_str_size as u64;
        let index = offset / size;
        if offset % size != 0 || index > self.tc.offs.empty_str_index as u64 {
            return None;
        }
        Some(self.iconst(index as i64))
    }

    /// `str_char_at(s, i)` of a non-null string `s`: the shared string of its
    /// byte `i`, the empty string when `i` is out of range (negative included).
    fn char_at(&mut self, s: CV, i: CV) -> CV {
        let len = self.str_len(s);
        let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, i, len);
        let load = self.b.create_block();
        let index = self.b.create_block();
        self.b.append_block_param(index, I64);
        let empty = self.iconst(self.tc.offs.empty_str_index);
        self.b.ins().brif(inside, load, &[], index, &[empty.into()]);
        self.b.seal_block(load);
        self.b.switch_to_block(load);
        let p = self.str_ptr(s);
        let at = self.b.ins().iadd(p, i);
        let byte = self.str_byte(at);
        self.b.ins().jump(index, &[byte.into()]);
        self.b.seal_block(index);
        self.b.switch_to_block(index);
        let k = self.b.block_params(index)[0];
        self.short_str_at(k)
    }

    /// `dst = a == b` (`When::True`) or `a != b` (`When::False`) on strings:
    /// decided inline by identity, nulls, length and first byte; two strings of
    /// the same length over one byte whose first bytes agree are compared by
    /// the deep-equality helper (2: it failed, exit to the VM).
    pub(super) fn str_equality(&mut self, pc: u32, dst: Reg, a: Reg, b: Reg, when: When) {
        let (sa, sb) = (self.slice_of(a), self.slice_of(b));
        if sa.is_some() || sb.is_some() {
            // A slice and a short constant, else the bytes of both compared.
            let known = match (sa, sb) {
                (Some(slice), None) => self.short_const_in(b).map(|c| (slice, c)),
                (None, Some(slice)) => self.short_const_in(a).map(|c| (slice, c)),
                _ => None,
            };
            if let Some(((p, len), c)) = known {
                return self.const_equality(pc, dst, Subject::Slice(p, len), c, when);
            }
            let eq = self.slice_equality(a, b, sa, sb);
            return self.set_test(dst, eq, when);
        }
        let x = self.get_i(a);
        let y = self.get_i(b);
        if self.short_index(x).is_some() && self.short_index(y).is_some() {
            // Two entries of the shared table: one entry per string.
            let c = self.b.ins().icmp(IntCC::Equal, x, y);
            let c = match when {
                When::True => c,
                When::False => self.b.ins().bxor_imm_s(c, 1),
            };
            self.set_bool(dst, c);
            return;
        }
        // The other string and the constant, if one side is a short one.
        let known = (self.short_const(y).map(|c| (x, c))).or_else(|| self.short_const(x).map(|c| (y, c)));
        if let Some((s, c)) = known {
            return self.const_equality(pc, dst, Subject::Str(s), c, when);
        }
        let done = self.b.create_block();
        self.b.append_block_param(done, I64);
        let yes = self.iconst(1);
        let no = self.iconst(0);
        // The same object (or both null).
        let same = self.b.ins().icmp(IntCC::Equal, x, y);
        self.branch_to_if(same, done, yes);
        // One null, the other not.
        let null_x = self.b.ins().icmp_imm_s(IntCC::Equal, x, 0);
        let null_y = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        let either = self.b.ins().bor(null_x, null_y);
        self.branch_to_if(either, done, no);
        let lx = self.str_len(x);
        let ly = self.str_len(y);
        let lengths_differ = self.b.ins().icmp(IntCC::NotEqual, lx, ly);
        self.branch_to_if(lengths_differ, done, no);
        let empty = self.b.ins().icmp_imm_s(IntCC::Equal, lx, 0);
        self.branch_to_if(empty, done, yes);
        let px = self.str_ptr(x);
        let py = self.str_ptr(y);
        let bx = self.str_byte(px);
        let by = self.str_byte(py);
        let firsts_differ = self.b.ins().icmp(IntCC::NotEqual, bx, by);
        self.branch_to_if(firsts_differ, done, no);
        let one_byte = self.b.ins().icmp_imm_s(IntCC::Equal, lx, 1);
        self.branch_to_if(one_byte, done, yes);
        self.stress(pc, pc);
        let r = self.call_helper(Sig::TwoInts, self.tc.addrs.h_eq_ref, &[x, y]);
        let failed = self.b.ins().icmp_imm_s(IntCC::Equal, r, 2);
        self.guard(failed, pc);
        self.b.ins().jump(done, &[r.into()]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        let eq = self.b.block_params(done)[0];
        self.set_test(dst, eq, when);
    }

    /// `dst` = the outcome `eq` (1 or 0) of a string test, or its negation
    /// (`When::False`).
    fn set_test(&mut self, dst: Reg, eq: CV, when: When) {
        let v = match when {
            When::True => eq,
            When::False => self.b.ins().bxor_imm_s(eq, 1),
        };
        self.set(dst, v);
    }

    /// `dst = a == b` (or `!=`, `When::False`) where one side is `subject`
    /// and the other the constant bytes `c`: left for the branch after it
    /// when only that branch reads `dst` ([`Tr::branch_takes_test`]), else
    /// made as a value ([`Tr::equals_const_str`]).
    fn const_equality(&mut self, pc: u32, dst: Reg, subject: Subject, c: &'a [u8], when: When) {
        if self.branch_takes_test(pc, dst) {
            self.str_test = Some(StrTest {
                reg: dst,
                subject,
                c,
                when,
            });
            return;
        }
        let eq = self.equals_const_str(subject, c);
        self.set_test(dst, eq, when);
    }

    /// The bytes of the string `v` is when it is a constant of the function
    /// being translated (`LoadConst` makes an `iconst` of the address of the
    /// pool's immortal string, [`TransCtx::consts`], whose bytes the bytecode
    /// keeps as `Const::Str`).
    fn const_str(&self, v: CV) -> Option<&'a [u8]> {
        let addr = self.const_int(v)? as u64;
        if addr == 0 || self.inl.is_some() {
            return None;
        }
        let k = self.tc.consts.iter().position(|c| c.0 == addr)?;
        match self.f.consts.get(k) {
            Some(Const::Str(bytes)) => Some(bytes),
            _ => None,
        }
    }

    /// The bytes of `v` if it is a string constant of the function of at
    /// most [`CONST_STR_INLINE`] bytes ([`Tr::const_str`]).
    fn short_const(&self, v: CV) -> Option<&'a [u8]> {
        self.const_str(v).filter(|c| c.len() <= CONST_STR_INLINE)
    }

    /// [`Tr::short_const`] of the value in register `r`.
    fn short_const_in(&mut self, r: Reg) -> Option<&'a [u8]> {
        let v = self.get_i(r);
        self.short_const(v)
    }

    /// Whether `subject` has the bytes `c` (at most [`CONST_STR_INLINE`] of
    /// them), 1 or 0: its length, then its bytes as at most two loads,
    /// overlapping, compared with the constant's (`s == "alpha"` in a loop is
    /// a few instructions instead of a call). A null string's length is read
    /// from the zeroed block (`Addrs::zero_obj`), 0, so that the length is
    /// read before any branch; a chain of tests of one string (`w == "a" or
    /// w == "b"`, a bytecode block per test) reads it once
    /// ([`Tr::str_word_moving`]; Cranelift's redundant-load elimination alone
    /// did not merge those loads, even from one address value:
    /// docs/benchmarks.md, "Small maps without an index, and objects read
    /// apart", "Measured and not kept"). The loads of bytes come after the
    /// length test: they read only bytes of the string.
    fn equals_const_str(&mut self, subject: Subject, c: &[u8]) -> CV {
        let m = self.measure(subject);
        if c.is_empty() {
            return self.is_empty_str(&m);
        }
        let done = self.b.create_block();
        self.b.append_block_param(done, I64);
        let no = self.iconst(0);
        let other_len = self.b.ins().icmp_imm_s(IntCC::NotEqual, m.len, c.len() as i64);
        self.branch_to_if(other_len, done, no);
        let both = self.has_const_bytes(m.bytes, c);
        let eq = self.b.ins().uextend(I64, both);
        self.b.ins().jump(done, &[eq.into()]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    /// The length of `subject` for a test against a constant, whether it is
    /// a null string, and where its bytes are. A string's length is read
    /// before any branch, so that a chain of tests of one string reads it
    /// once ([`Tr::str_word_moving`]).
    fn measure(&mut self, subject: Subject) -> Measured {
        match subject {
            Subject::Str(s) => {
                let (obj, null) = self.readable_str(s);
                Measured {
                    len: self.str_word_moving(obj, self.tc.offs.str_bytes.1),
                    null: Some(null),
                    bytes: Bytes::OfStr(obj),
                }
            }
            Subject::Slice(p, len) => Measured {
                len,
                null: None,
                bytes: Bytes::At(p),
            },
        }
    }

    /// Whether the measured subject `m` is the empty string: 1 or 0.
    fn is_empty_str(&mut self, m: &Measured) -> CV {
        let empty = self.b.ins().icmp_imm_s(IntCC::Equal, m.len, 0);
        let eq = match m.null {
            Some(null) => {
                let not_null = self.b.ins().bxor_imm_s(null, 1);
                self.b.ins().band(empty, not_null)
            }
            None => empty,
        };
        self.b.ins().uextend(I64, eq)
    }

    /// Whether the `bytes` of a subject as long as `c` (non-empty, at most
    /// [`CONST_STR_INLINE`] bytes; a string's, then not null), are `c`'s: an
    /// `i8` condition. At most two loads, overlapping, at the start and at
    /// the end; they read only bytes of the subject.
    fn has_const_bytes(&mut self, bytes: Bytes, c: &[u8]) -> CV {
        let p = match bytes {
            Bytes::OfStr(obj) => self.str_word_moving(obj, self.tc.offs.str_bytes.0),
            Bytes::At(p) => p,
        };
        // The widest load that fits, at the start and at the end.
        let (ty, w) = match c.len() {
            1 => (I8, 1),
            2..=3 => (ir::types::I16, 2),
            4..=7 => (I32, 4),
            _ => (I64, 8),
        };
        // The bits where the subject and the constant differ, in a word.
        let mut differ = |at: usize| {
            let mut word = [0u8; 8];
            word[..w].copy_from_slice(&c[at..at + w]);
            // Unaligned: the bytes of a string start anywhere.
            let fl = MemFlagsData::new()
                .with_notrap()
                .with_readonly()
                .with_alias_region(Some(self.regions[Mem::Heap as usize]));
            let got = self.b.ins().load(ty, fl, p, at as i32);
            // (The constant sign-extended from its type's width.)
            let bits = 64 - 8 * w as u32;
            let want = (i64::from_le_bytes(word) << bits) >> bits;
            self.b.ins().bxor_imm_s(got, want)
        };
        let (head, tail) = (differ(0), differ(c.len() - w));
        // (One test of the two words' differences: two `xor`s and an `or`
        // set the flag the branch reads, where two compares each made a
        // byte that a third instruction tested.)
        let any = self.b.ins().bor(head, tail);
        self.b.ins().icmp_imm_s(IntCC::Equal, any, 0)
    }

    /// Whether the string test at `pc` (`EqStr` or `NeStr` into `dst`) is
    /// only there for the branch right after it: the next instruction is a
    /// `JmpIf` or `JmpIfNot` on `dst` that no other jump reaches, and `dst`
    /// is dead where that branch goes. Then the test is translated with the
    /// branch ([`Tr::str_test_branch`]).
    fn branch_takes_test(&self, pc: u32, dst: Reg) -> bool {
        let next = pc as usize + 1;
        let target = match self.f.code.get(next) {
            Some(&Instr::JmpIf { cond, target } | &Instr::JmpIfNot { cond, target }) if cond == dst => target,
            _ => return false,
        };
        let dead_at = |at: usize| self.an.live_in.get(at).is_some_and(|live| !live.contains(dst));
        self.inl.is_none() && !self.an.leader[next] && dead_at(target as usize) && dead_at(next + 1)
    }

    /// The `JmpIf` or `JmpIfNot` `ins` at `pc`, to `target`, on the string
    /// test just before it (`test`, left by [`Tr::str_equality`]): branched
    /// on the test's outcome itself, without making its 0 or 1. A string of
    /// another length goes where "not equal" goes at once; one of the same
    /// length compares its bytes and branches on that. (Made as a value and
    /// then tested, the outcome of `w == "a" or w == "b"` was a join of two
    /// paths that Cranelift kept: a 0 put in a register, a test and a branch
    /// more for every string that failed on its length.)
    pub(super) fn str_test_branch(
        &mut self,
        pc: u32,
        ins: Instr,
        target: u32,
        test: StrTest<'a>,
    ) -> Result<bool, String> {
        let jumps_if_true = match ins {
            Instr::JmpIf { cond, .. } if cond == test.reg => true,
            Instr::JmpIfNot { cond, .. } if cond == test.reg => false,
            _ => return Err("internal error: a string test without its branch".into()),
        };
        self.map_facts_on_edges(pc, &ins, target);
        let taken = self.edge(target)?;
        let next = self.edge(pc + 1)?;
        // Where the branch goes when the strings are equal.
        let (on_eq, on_ne) = if matches!(test.when, When::True) == jumps_if_true {
            (taken, next)
        } else {
            (next, taken)
        };
        let m = self.measure(test.subject);
        if test.c.is_empty() {
            let eq = self.is_empty_str(&m);
            self.b.ins().brif(eq, on_eq, &[], on_ne, &[]);
            return Ok(false);
        }
        let same_len = self.b.create_block();
        let other_len = self
            .b
            .ins()
            .icmp_imm_s(IntCC::NotEqual, m.len, test.c.len() as i64);
        self.b.ins().brif(other_len, on_ne, &[], same_len, &[]);
        self.b.seal_block(same_len);
        self.b.switch_to_block(same_len);
        let eq = self.has_const_bytes(m.bytes, test.c);
        self.b.ins().brif(eq, on_eq, &[], on_ne, &[]);
        Ok(false)
    }

    /// Whether the `CallBuiltin` at `pc` keeps its substring as a slice
    /// (`Analysis::virtual_slice`, where [`Tr::virtual_values_on`]).
    pub(super) fn virtual_slice_at(&self, pc: u32) -> bool {
        self.virtual_values_on() && self.an.virtual_slice.get(pc as usize).copied().unwrap_or(false)
    }

    /// The (address, length) of the bytes of the slice register `r` holds at
    /// the current instruction, if it holds one ([`Tr::virtual_slice`]).
    fn slice_of(&mut self, r: Reg) -> Option<(CV, CV)> {
        if !self.virtual_values_on() {
            return None;
        }
        let call = *self.an.slice_reads.get(&(self.cur, r))?;
        let &(p, l) = self.slice_vars.get(&call)?;
        Some((self.b.use_var(p), self.b.use_var(l)))
    }

    /// `dst = substr(src, start, length)` kept as a slice: the address and
    /// length of the bytes `substr_range` (bp_runtime) takes, `start` clamped
    /// to `0..=len`, then `length` to `0..=len - start`, in the call's
    /// variables; the register gets null. A null `src` takes the general call,
    /// which raises.
    pub(super) fn virtual_slice(&mut self, pc: u32, dst: Reg, id: u32, [src, start, length]: [Reg; 3]) {
        let general = self.b.create_block();
        self.b.set_cold_block(general);
        let join = self.b.create_block();
        self.b.append_block_param(join, I64);
        self.b.append_block_param(join, I64);
        let zero = self.iconst(0);
        let s = self.non_null_str(src, general);
        let n = self.str_len(s);
        let from = self.get_i(start);
        let from = self.b.ins().smax(from, zero);
        let from = self.b.ins().smin(from, n);
        let room = self.b.ins().isub(n, from);
        let count = self.get_i(length);
        let count = self.b.ins().smax(count, zero);
        let count = self.b.ins().smin(count, room);
        let p = self.str_ptr(s);
        let at = self.b.ins().iadd(p, from);
        self.b.ins().jump(join, &[at.into(), count.into()]);
        self.b.seal_block(general);
        self.b.switch_to_block(general);
        let block = self.arg_block(&[src, start, length]);
        let info = 3 | (self.is_ref(dst) as i64) << 32;
        let h = self.tc.addrs.h_builtin;
        self.block_helper(pc, h, id as i64, block, info, None);
        // (Not reached: `substr` of null raises.)
        self.b.ins().jump(join, &[zero.into(), zero.into()]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        let (at, count) = (self.b.block_params(join)[0], self.b.block_params(join)[1]);
        if let Some(&(pv, lv)) = self.slice_vars.get(&pc) {
            self.b.def_var(pv, at);
            self.b.def_var(lv, count);
        }
        self.set(dst, zero);
    }

    /// `a == b` (1 or 0) when either holds a slice (`sa`, `sb`: their
    /// [`Tr::slice_of`]): equal lengths, then the bytes compared by
    /// [`bytes_equal`]; a null string equals no slice.
    fn slice_equality(&mut self, a: Reg, b: Reg, sa: Option<(CV, CV)>, sb: Option<(CV, CV)>) -> CV {
        let done = self.b.create_block();
        self.b.append_block_param(done, I64);
        let no = self.iconst(0);
        let (pa, la) = match sa {
            Some(slice) => slice,
            None => self.bytes_of(a, done, no),
        };
        let (pb, lb) = match sb {
            Some(slice) => slice,
            None => self.bytes_of(b, done, no),
        };
        let lengths_differ = self.b.ins().icmp(IntCC::NotEqual, la, lb);
        self.branch_to_if(lengths_differ, done, no);
        let compare: extern "C" fn(*const u8, *const u8, usize) -> i64 = bytes_equal;
        let r = self.call_helper(Sig::VmBasePc, compare as usize as u64, &[pa, pb, la]);
        self.b.ins().jump(done, &[r.into()]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    /// The address and length of the bytes of the string in register `r`,
    /// having jumped to `done` with `no` if it is null.
    fn bytes_of(&mut self, r: Reg, done: Block, no: CV) -> (CV, CV) {
        let s = self.get_i(r);
        let null = self.b.ins().icmp_imm_s(IntCC::Equal, s, 0);
        self.branch_to_if(null, done, no);
        (self.str_ptr(s), self.str_len(s))
    }

    /// Jump to `target` with `arg` if `cond`; go on in a new block otherwise.
    fn branch_to_if(&mut self, cond: CV, target: Block, arg: CV) {
        let go_on = self.b.create_block();
        self.b.ins().brif(cond, target, &[arg.into()], go_on, &[]);
        self.b.seal_block(go_on);
        self.b.switch_to_block(go_on);
    }
}

/// A test of a string against a constant (`w == "alpha0"`) whose outcome
/// only decides the branch after it ([`Tr::branch_takes_test`]): left by
/// [`Tr::str_equality`] for that branch to translate.
pub(super) struct StrTest<'a> {
    /// The register the test would write (read by the branch alone).
    reg: Reg,
    /// The string or slice tested.
    subject: Subject,
    /// The constant's bytes (at most [`CONST_STR_INLINE`]).
    c: &'a [u8],
    /// `==` (`When::True`) or `!=` (`When::False`).
    when: When,
}

/// What a test against a constant reads ([`Tr::const_test`]).
#[derive(Clone, Copy)]
pub(super) enum Subject {
    /// A string, null or live.
    Str(CV),
    /// The bytes of a slice ([`Tr::slice_of`]): their address and length.
    Slice(CV, CV),
}

/// A subject whose length was read ([`Tr::measure`]).
struct Measured {
    len: CV,
    /// Whether it is a null string (`None`: a slice, never null).
    null: Option<CV>,
    bytes: Bytes,
}

/// Where a measured subject's bytes are.
#[derive(Clone, Copy)]
enum Bytes {
    /// At the byte pointer of the string whose readable address
    /// ([`Tr::readable_str`]) this is, read when needed.
    OfStr(CV),
    /// At this address (a slice's).
    At(CV),
}

/// String constants of at most this many bytes are compared inline
/// ([`Tr::equals_const_str`]): two loads of at most 8 bytes cover them.
const CONST_STR_INLINE: usize = 16;

/// Whether the `n` bytes at `a` and at `b` are the same (1) or not (0): a
/// slice compared with a string or another slice ([`Tr::slice_equality`]).
pub(crate) extern "C" fn bytes_equal(a: *const u8, b: *const u8, n: usize) -> i64 {
    if n == 0 {
        return 1;
    }
    std::panic::catch_unwind(|| {
        // SAFETY: compiled code passes the bytes of two live strings (or
        // slices of them) of at least `n` bytes each, which do not change.
        let (x, y) = unsafe { (std::slice::from_raw_parts(a, n), std::slice::from_raw_parts(b, n)) };
        i64::from(x == y)
    })
    .unwrap_or(0)
}
