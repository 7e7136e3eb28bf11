//! Map entries found: compiled `map_has_key(m, k)` keeps the position its
//! find twin gives (`Inline::MapFind`), and the `m[k]` and `m[k] = v` that
//! follow on the edge where the key was found read and overwrite the value at
//! that position, with no lookup and no call (docs/jit.md, "Map entries
//! found"). `if map_has_key(m, k): m[k] = m[k] + 1` is then one lookup.
//! A `MapGet` no fact places finds the position the same way and leaves it
//! as a fact for the `m[k] = v` after it. Both find a small int key in the
//! map's direct table inline, and any other key through the twin.
//!
//! A fact is (map register, key register, position + 1). It holds until
//! either register is written, or an instruction runs that could remove an
//! entry: a removal leaves a hole, and may compact the entries after it.
//! Only code that is called can remove one (`map_delete`, `map_clear`), so
//! every instruction that calls anything but machine code or `map_has_key`
//! forgets them all. Inserting appends (a vector that grows keeps the
//! entries' order) and overwriting keeps the position, so the map operations
//! themselves keep them. Facts live within a bytecode block; a branch
//! carries them into a block it is the only way into, and the edge of `if
//! map_has_key(m, k)` on which the key was found carries the new one.

use super::*;
use crate::bytecode::Calls;
use bp_runtime::builtins::LeafFn;

/// The key in register `key` is at position `pos1 - 1` of the map in
/// register `map`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Found {
    map: Reg,
    key: Reg,
    pos1: CV,
}

impl Found {
    fn mentions(&self, r: Reg) -> bool {
        self.map == r || self.key == r
    }
}

/// The facts of the block being translated.
#[derive(Default)]
pub(super) struct MapFacts {
    /// Where keys are.
    found: Vec<Found>,
    /// `map_has_key` results: the register of the result, the pc of the call,
    /// and what it found if it is true.
    found_if: Vec<(Reg, u32, Found)>,
    /// Per bytecode block entered by an edge that carries facts: the facts,
    /// which hold in the block if that edge is its only way in.
    on_edges: std::collections::HashMap<u32, Vec<Found>>,
}

impl MapFacts {
    /// Forget every fact: at the start of a bytecode block (those an edge
    /// carries in are entered afterwards), and before an instruction that
    /// could remove an entry.
    pub(super) fn forget(&mut self) {
        self.found.clear();
        self.found_if.clear();
    }
}

impl<'a, 'f> Tr<'a, 'f> {
    /// `map_has_key(map, key)` into `dst`: the position of the key's entry
    /// plus one (0: absent, [`Tr::map_position`]), compared with 0. A null
    /// map exits to the VM, which raises. What it found is kept for the
    /// branch on `dst`.
    pub(super) fn map_has_key(&mut self, pc: u32, dst: Reg, twin: LeafFn, map: Reg, key: Reg) {
        self.stress(pc, pc);
        let pos1 = self.map_position(pc, map, key, twin, true);
        let present = self.b.ins().icmp_imm_s(IntCC::NotEqual, pos1, 0);
        self.set_bool(dst, present);
        if self.inl.is_none() && dst != map && dst != key {
            let found = Found { map, key, pos1 };
            self.vn.maps.found_if.push((dst, pc, found));
        }
    }

    /// The position plus one of the entry of the key in register `key` in the
    /// map in register `map`, 0 if it is absent. A key the map's direct table
    /// covers (a small int, or a one-byte string known to be one, such as
    /// `str_char_at`'s, by its index among the shared strings) is read there,
    /// inline; any other is found by `map_has_key`'s twin `twin`. When the twin
    /// declines (a null map): an exit to the VM if `decline_exits`, else 0.
    fn map_position(&mut self, pc: u32, map: Reg, key: Reg, twin: LeafFn, decline_exits: bool) -> CV {
        let (call, join) = (self.b.create_block(), self.b.create_block());
        let pos1 = self.b.append_block_param(join, I64);
        let k = self.get_raw(key);
        let is_ref = self.is_ref(key);
        let short = if is_ref { self.short_index(k) } else { None };
        if is_ref && short.is_none() {
            self.hinted_position(map, k, call, join);
        } else if self.b.func.dfg.value_type(k) == I64 {
            // (An int-keyed map's table is by int, a string-keyed map's by the
            // index of a one-byte string; a map of any other kind of key has
            // no table.)
            let k = short.unwrap_or(k);
            let m = self.get_raw(map);
            self.branch_to_if_zero(m, call);
            let slots = self.vector_at(m, self.tc.offs.map_direct, k, call);
            let off = self.b.ins().ishl_imm_s(k, 2);
            let at = self.b.ins().iadd(slots, off);
            let fl = self.mem_flags(Mem::Heap);
            let p32 = self.b.ins().load(I32, fl, at, 0);
            let p = self.b.ins().uextend(I64, p32);
            self.b.ins().jump(join, &[p.into()]);
        } else {
            self.b.ins().jump(call, &[]);
        }
        self.b.seal_block(call);
        self.b.switch_to_block(call);
        let args = self.arg_block(&[map, key]);
        let declined = self.call_helper(Sig::Leaf, twin as usize as u64, &[args]);
        if decline_exits {
            self.guard(declined, pc);
        }
        let fl = self.mem_flags(Mem::Frame);
        let mut p = self.b.ins().load(I64, fl, args, 0);
        if !decline_exits {
            // (A declining twin leaves the map in `args[0]`.)
            let zero = self.iconst(0);
            p = self.b.ins().select(declined, zero, p);
        }
        self.b.ins().jump(join, &[p.into()]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        pos1
    }

    /// The position of the object key `k` (not null, or `call`) in `map` (not
    /// null, or `call`) if the object's position hint
    /// (`MapKey::position_hint`) names an entry that holds that very object:
    /// then its position plus one to `join`, else to `call`. A deleted
    /// entry's key bits are 0 (`OrderedMap::remove`), and any object key
    /// equals itself, so the check is exact for strings, tuples and any
    /// other object; a hint is a string's only (any other object's is any
    /// `u32`, checked the same way).
    fn hinted_position(&mut self, map: Reg, k: CV, call: Block, join: Block) {
        let (hint, (len_off, key_off)) = (self.tc.offs.hdr_hint, self.tc.offs.map_hinted);
        let (data_off, stride, _) = self.tc.offs.map_entries;
        let m = self.get_raw(map);
        self.branch_to_if_zero(m, call);
        self.branch_to_if_zero(k, call);
        let fl = self.mem_flags(Mem::Heap);
        let h32 = self.b.ins().load(I32, fl, k, hint);
        let h = self.b.ins().uextend(I64, h32);
        let entries = self.vector_at(m, (data_off, len_off), h, call);
        let off = self.b.ins().imul_imm_s(h, stride as i64);
        let at = self.b.ins().iadd(entries, off);
        let fl = self.mem_flags(Mem::Heap);
        let bits = self.b.ins().load(I64, fl, at, key_off);
        let same = self.b.ins().icmp(IntCC::Equal, bits, k);
        self.branch_to_if_zero(same, call);
        let p = self.b.ins().iadd_imm_s(h, 1);
        self.b.ins().jump(join, &[p.into()]);
    }

    /// The data pointer of the vector of map `m` whose data pointer and
    /// length words are at `(data, len)` in it, once `i` is known to be
    /// below its length (else to `otherwise`): the direct table, the entries.
    fn vector_at(&mut self, m: CV, (data, len): (i32, i32), i: CV, otherwise: Block) -> CV {
        let fl = self.mem_flags(Mem::Hdr);
        let n = self.b.ins().load(I64, fl, m, len);
        let below = self.b.ins().icmp(IntCC::UnsignedLessThan, i, n);
        self.branch_to_if_zero(below, otherwise);
        let fl = self.mem_flags(Mem::Hdr);
        self.b.ins().load(I64, fl, m, data)
    }

    /// `MapGet` of a key no fact places: its position ([`Tr::map_position`]),
    /// then the value loaded from the entry there, and the position kept for
    /// the `m[k] = v` that may follow. A missing key or a null map takes the
    /// general call (`rt_obj`), which raises.
    pub(super) fn map_get_by_position(&mut self, pc: u32, dst: Reg, map: Reg, key: Reg) {
        self.stress(pc, pc);
        let twin = bp_runtime::builtins::map::FIND_TWIN;
        let pos1 = self.map_position(pc, map, key, twin, false);
        let ty = self.def_ty(dst);
        let (missing, found, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let v = self.b.append_block_param(join, ty);
        self.b.set_cold_block(missing);
        self.b.ins().brif(pos1, found, &[], missing, &[]);
        self.b.seal_block(missing);
        self.b.seal_block(found);
        self.b.switch_to_block(missing);
        let args = self.arg_block(&[map, key]);
        self.block_helper(pc, self.tc.addrs.h_obj, ObjOp::MapGet as i64, args, 0, None);
        let fl = self.mem_flags(Mem::Frame);
        let general = self.b.ins().load(ty, fl, args, 0);
        self.b.ins().jump(join, &[general.into()]);
        self.b.switch_to_block(found);
        let at = self.entry_value(map, pos1);
        let fl = self.mem_flags(Mem::Heap);
        let value = self.b.ins().load(ty, fl, at, 0);
        self.b.ins().jump(join, &[value.into()]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        self.set(dst, v);
        if self.inl.is_none() && dst != map && dst != key {
            self.vn.maps.found.push(Found { map, key, pos1 });
        }
    }

    /// Before instruction `ins` of the function: forget every fact if it
    /// could remove a map entry.
    pub(super) fn before_for_map_facts(&mut self, ins: &Instr) {
        if !self.keeps_map_positions(ins) {
            self.vn.maps.forget();
        }
    }

    /// After instruction `pc` of the function, which wrote register `def`
    /// (if any): forget the facts about that register, except what a
    /// `map_has_key` there put in it.
    pub(super) fn after_for_map_facts(&mut self, pc: u32, def: Option<Reg>) {
        let Some(d) = def else {
            return;
        };
        let facts = &mut self.vn.maps;
        facts.found.retain(|f| !f.mentions(d));
        facts
            .found_if
            .retain(|&(r, at, f)| (r != d || at == pc) && !f.mentions(d));
    }

    /// Whether instruction `ins` removes no map entry: it calls nothing, or
    /// it calls a builtin that is machine code or `map_has_key`.
    fn keeps_map_positions(&self, ins: &Instr) -> bool {
        match *ins {
            Instr::CallBuiltin { site, .. } => self.f.sites.get(site as usize).is_some_and(|s| {
                let map_find = matches!(
                    builtins::all().get(s.target as usize).map(|b| b.inline),
                    Some(Inline::MapFind(_))
                );
                map_find || crate::jit::inlining::builtin_is_machine_code(s.target, s.args.len())
            }),
            _ => ins.op().calls() == Calls::Nothing,
        }
    }

    /// At the branch at `pc` to `target` (falling through to `pc + 1`), on
    /// the condition of `ins`: the facts of this block hold on both edges;
    /// a test of a `map_has_key` result adds its fact to the edge on which
    /// the key was found.
    pub(super) fn map_facts_on_edges(&mut self, pc: u32, ins: &Instr, target: u32) {
        if self.inl.is_some() || target == pc + 1 {
            return;
        }
        let found_edge = match *ins {
            Instr::JmpIf { cond, .. } => Some((cond, target)),
            Instr::JmpIfNot { cond, .. } => Some((cond, pc + 1)),
            _ => None,
        };
        let facts = &mut self.vn.maps;
        for edge in [target, pc + 1] {
            let mut carried = facts.found.clone();
            if let Some((cond, _)) = found_edge.filter(|&(_, on)| on == edge) {
                carried.extend(facts.found_if.iter().filter(|f| f.0 == cond).map(|f| f.2));
            }
            if !carried.is_empty() {
                facts.on_edges.insert(edge, carried);
            }
        }
    }

    /// At the unconditional jump to `target`: the facts of this block hold
    /// there.
    pub(super) fn map_facts_on_jump(&mut self, target: u32) {
        if self.inl.is_none() && !self.vn.maps.found.is_empty() {
            let carried = self.vn.maps.found.clone();
            self.vn.maps.on_edges.insert(target, carried);
        }
    }

    /// At the start of bytecode block `pc` with `preds` incoming edges: the
    /// facts an edge carried in hold if that edge is the only way in
    /// ([`Tr::one_way_in`]).
    pub(super) fn enter_map_facts(&mut self, pc: u32, preds: u32) {
        let Some(carried) = self.vn.maps.on_edges.remove(&pc) else {
            return;
        };
        if self.one_way_in(pc, preds) {
            self.vn.maps.found = carried;
        }
    }

    /// The address of the value of the entry of the key in register `key` in
    /// the map in register `map`, if a fact says where it is. The map is not
    /// null: its `map_has_key` found the key.
    pub(super) fn found_entry(&mut self, map: Reg, key: Reg) -> Option<CV> {
        if self.inl.is_some() {
            return None;
        }
        let f = *self.vn.maps.found.iter().find(|f| f.map == map && f.key == key)?;
        Some(self.entry_value(map, f.pos1))
    }

    /// The address of the value of the live entry at position `pos1 - 1` of
    /// the map in register `map` (not null).
    fn entry_value(&mut self, map: Reg, pos1: CV) -> CV {
        let (data, stride, value) = self.tc.offs.map_entries;
        let m = self.get_raw(map);
        let fl = self.mem_flags(Mem::Hdr);
        let entries = self.b.ins().load(I64, fl, m, data);
        let off = self.b.ins().imul_imm_s(pos1, stride as i64);
        let at = self.b.ins().iadd(entries, off);
        // (`pos1` is the position plus one.)
        self.b.ins().iadd_imm_s(at, value as i64 - stride as i64)
    }
}
