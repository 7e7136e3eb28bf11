//! Heap access: null checks, array elements (with the loop caches), fixed slots of
//! structs and tuples, and object construction and operations through helpers.

use super::*;
use bp_runtime::value::ValKind;

/// What the guards of a function's entry block proved about the registers
/// that no instruction of the function writes (the parameters it only
/// reads: `self` of a method, the node of a tree walk). The entry block runs
/// first on every entry, so what its guards proved of such a register holds
/// everywhere in the function: the object the register holds stays the same
/// (the collector does not move objects, and only a write changes the
/// register), and a struct's or tuple's number of slots never changes. So
/// `n.kids` read again after a call (a new read of the frame slot, whose
/// value the per-block facts of `ValueNumbering` do not know) is not checked
/// for null again, nor for its field count.
///
/// Only for a function entered at its start alone: no loop headers (OSR
/// entries, re-entries from the VM), and no exception handlers (a guard of
/// the entry block that fails would reach one with the register unproven).
pub(super) struct EntryFacts {
    /// Registers no instruction writes.
    unwritten: RegSet,
    /// Of those, the ones proved non-null.
    non_null: RegSet,
    /// Of those, how many slots (struct fields, tuple items) their object
    /// was proved to have (0: not proved).
    slots: Vec<u8>,
    /// Still translating the entry block, whose guards prove facts.
    in_entry: bool,
}

/// The [`EntryFacts`] of function `f` (analysed as `an`), none proved yet;
/// `None` if it can be entered elsewhere than at its start, or has handlers.
/// (A function, not a method: a second `impl` block in this module would
/// rename the symbols of the first, which `link/startup-order.txt` lists.)
pub(super) fn entry_facts(f: &Function, an: &Analysis) -> Option<EntryFacts> {
    if !an.headers.is_empty() || !f.handlers.is_empty() {
        return None;
    }
    let mut unwritten = RegSet::default();
    (0..f.nregs as Reg).for_each(|r| unwritten.insert(r));
    for w in an.ops.iter().filter_map(|o| o.writes()) {
        unwritten.remove(w);
    }
    Some(EntryFacts {
        unwritten,
        non_null: RegSet::default(),
        slots: vec![0; f.nregs as usize],
        in_entry: true,
    })
}

impl<'a, 'f> Tr<'a, 'f> {
    /// Null check of the object in `r`; returns its pointer.
    pub(super) fn non_null(&mut self, r: Reg, pc: u32) -> CV {
        let o = self.get_i(r);
        if self.vn.non_null.contains(&o) || self.entry_fact(|e| e.non_null.contains(r)) {
            return o;
        }
        let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, o, 0);
        self.raise_guard(is_null, pc);
        // (Not in an inlined body, which may be one arm of a call site's
        // branches: the rest of the block is not dominated by it.)
        if self.inl.is_none() {
            self.vn.non_null.insert(o);
            self.prove_at_entry(r, |e| e.non_null.insert(r));
        }
        o
    }

    /// Whether `holds` of the function's entry facts ([`EntryFacts`]), for a
    /// register of the function (not of an inlined callee).
    fn entry_fact(&self, holds: impl Fn(&EntryFacts) -> bool) -> bool {
        self.inl.is_none() && self.entry_facts.as_ref().is_some_and(holds)
    }

    /// Record what a guard just proved of register `r`, if it is in the
    /// entry block and no instruction writes `r` ([`EntryFacts`]).
    fn prove_at_entry(&mut self, r: Reg, prove: impl FnOnce(&mut EntryFacts)) {
        if let Some(e) = self
            .entry_facts
            .as_mut()
            .filter(|e| e.in_entry && e.unwritten.contains(r))
        {
            prove(e);
        }
    }

    /// The translation left the entry block: guards prove no more
    /// [`EntryFacts`].
    pub(super) fn leave_entry_block(&mut self) {
        if let Some(e) = self.entry_facts.as_mut() {
            e.in_entry = false;
        }
    }

    /// Whether the non-null object `o` (a class instance) is an instance of class
    /// layout `class`: its layout id is in `class ..= subtree_end[class]` (one
    /// unsigned compare). An `I8` truth value.
    pub(super) fn layout_in_class(&mut self, o: CV, class: u32) -> CV {
        let end = self
            .tc
            .program
            .classes
            .subtree_end
            .get(class as usize)
            .copied()
            .unwrap_or(class);
        let fl = self.mem_flags(Mem::Hdr);
        let l32 = self.b.ins().load(I32, fl, o, self.tc.offs.struct_layout);
        let l = self.b.ins().uextend(I64, l32);
        let rel = self.b.ins().iadd_imm_s(l, -(class as i64));
        self.b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, rel, (end - class) as i64)
    }

    /// `src is class`: false for null, else [`Tr::layout_in_class`].
    pub(super) fn instance_of(&mut self, src: Reg, class: u32) -> CV {
        let o = self.get_i(src);
        let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, o, 0);
        let load = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, I8);
        let no = self.b.ins().iconst(I8, 0);
        self.b.ins().brif(is_null, join, &[no.into()], load, &[]);
        self.b.seal_block(load);
        self.b.switch_to_block(load);
        let c = self.layout_in_class(o, class);
        self.b.ins().jump(join, &[c.into()]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    /// An inline load or store of element `idx` (a register) of the array in
    /// `arr`, with the VM's index rules: negative counts from the end, out of range
    /// side-exits (the VM then raises). In a cached loop the length and data
    /// pointer come from the pre-header (a null array has length 0 there, so it
    /// side-exits like an index out of range); elsewhere they are loaded here,
    /// after a null check.
    pub(super) fn array_access(&mut self, pc: u32, arr: Reg, idx: Reg, elem: u8, acc: Access) {
        let bytes = elem == ValKind::Bool as u8;
        let (p_off, l_off) = self.tc.offs.arr_items;
        self.stress(pc, pc);
        // (The register is read only inside an inlined body: outside one,
        // reading a reference kept in its frame slot would be a load for
        // nothing.)
        let known = |t: &mut Self| {
            t.vn.inline_arrays.as_ref()?;
            let a = t.get_i(arr);
            t.vn.inline_arrays.as_ref()?.get(&a).copied()
        };
        let (len, ptr) = match self.cached_array(arr).or_else(|| known(self)) {
            Some(c) => c,
            None => {
                let a = self.non_null(arr, pc);
                let fl = self.mem_flags(Mem::Hdr);
                let len = self.b.ins().load(I64, fl, a, l_off);
                let fl = self.mem_flags(Mem::Hdr);
                let ptr = self.b.ins().load(I64, fl, a, p_off);
                if let Some(m) = self.vn.inline_arrays.as_mut() {
                    m.insert(a, (len, ptr));
                }
                (len, ptr)
            }
        };
        let i = self.get_i(idx);
        // (The index analysis is of the function's own registers.)
        let neg_const = self.inl.is_none() && self.an.webs.neg_const[self.web_read(idx)];
        if !self.tc.neg_index && !neg_const {
            // Speculate `0 <= i < len`: one unsigned compare, the exit covers both
            // ends. A valid negative index side-exits here; the VM then reads
            // from the end, and flags the function so that its next version
            // takes the path below (see `Jit::note_negative_index`).
            // (Checked once for the whole loop in its pre-header, if hoisted.)
            let hoisted = self.hoisting() && self.inl.is_none() && self.an.hoisted[pc as usize];
            if !hoisted && !self.vn.bounds_checked.contains(&(i, len)) {
                let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
                self.raise_guard(oob, pc);
                self.vn.bounds_checked.push((i, len));
            }
            self.element(ptr, i, bytes, acc);
            return;
        }
        // Negative indices count from the end: a cold path computes `i + len`.
        let inb = self.b.ins().icmp(IntCC::UnsignedLessThan, i, len);
        let ok = self.b.create_block();
        let j = self.b.append_block_param(ok, I64);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(inb, ok, &[i.into()], slow, &[]);
        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        let adj = self.b.ins().iadd(i, len);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, adj, len);
        self.raise_guard(oob, pc);
        self.b.ins().jump(ok, &[adj.into()]);
        self.b.seal_block(ok);
        self.b.switch_to_block(ok);
        self.element(ptr, j, bytes, acc);
    }

    /// Load or store element `j` (in range) of the array data at `ptr`: a
    /// byte (0 or 1) of a `[bool]` (`bytes`), else a word.
    pub(super) fn element(&mut self, ptr: CV, j: CV, bytes: bool, acc: Access) {
        if !bytes {
            let off = self.b.ins().ishl_imm_s(j, 3);
            let addr = self.b.ins().iadd(ptr, off);
            self.access(addr, acc);
            return;
        }
        let addr = self.b.ins().iadd(ptr, j);
        let fl = self.mem_flags(Mem::Heap);
        match acc {
            Access::Load(dst) => {
                let v = self.b.ins().uload8(I64, fl, addr, 0);
                self.set(dst, v);
            }
            Access::Store(src) => {
                let v = self.get_raw(src);
                self.b.ins().istore8(fl, v, addr, 0);
            }
        }
    }

    /// The load (`Access::Load(dst)`) or store (`Access::Store(src)`) at `addr`.
    pub(super) fn access(&mut self, addr: CV, acc: Access) {
        match acc {
            Access::Load(dst) => {
                let fl = self.mem_flags(Mem::Heap);
                let ty = self.def_ty(dst);
                let v = self.b.ins().load(ty, fl, addr, 0);
                self.set(dst, v);
            }
            Access::Store(src) => {
                let v = self.get_raw(src);
                self.store_value(addr, v);
            }
        }
    }

    /// The write barrier after a store of the register `src` into the object
    /// `obj` (not null): if `src` holds references and `obj` is old and not
    /// remembered yet, the helper puts it into the remembered set (docs/jit.md,
    /// "Write barrier"). One load and a branch not taken on the common path:
    /// a young object, or an old one already remembered.
    pub(super) fn write_barrier(&mut self, obj: CV, src: Reg) {
        if self.may_store_ref(src) {
            self.barrier_on(obj);
        }
    }

    /// Whether a store of register `src` may store a reference: it holds
    /// references (its function's reference map says, in an inlined body
    /// too) and is not null (storing null makes no reference to a young
    /// object).
    pub(super) fn may_store_ref(&mut self, src: Reg) -> bool {
        let refs = self.code_fn().ref_regs.get(src as usize).copied().unwrap_or(true);
        let v = self.get_raw(src);
        refs && self.const_int(v) != Some(0)
    }

    /// The write barrier's test of the object `obj` (not null), and its slow
    /// path (see [`Tr::write_barrier`]).
    pub(super) fn barrier_on(&mut self, obj: CV) {
        let al = self.tc.offs.alloc;
        let fl = self.mem_flags(Mem::Hdr);
        let mark = self.b.ins().uload8(I32, fl, obj, al.hdr_mark);
        let old = self.b.ins().band_imm_s(mark, al.mark_old_bit as i64);
        let (slow, cont) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(slow);
        self.b.ins().brif(old, slow, &[], cont, &[]);
        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        self.call_helper(Sig::Leaf, self.tc.addrs.h_barrier, &[obj]);
        self.b.ins().jump(cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// The store of `v` at the heap address `addr`.
    pub(super) fn store_value(&mut self, addr: CV, v: CV) {
        let fl = self.mem_flags(Mem::Heap);
        self.b.ins().store(fl, v, addr, 0);
    }

    /// Address of fixed slot `idx` of a struct or tuple in `obj` (bounds-checked).
    pub(super) fn fixed_slot(&mut self, obj: Reg, idx: u8, pc: u32, slice: (i32, i32)) -> CV {
        let o = self.non_null(obj, pc);
        let ptr = self.fixed_slots(o, slice, idx.into(), |t, oob| t.raise_guard(oob, pc));
        self.b.ins().iadd_imm_s(ptr, idx as i64 * 8)
    }

    /// Address of item `idx` of the tuple in `tup` (null- and bounds-checked;
    /// `slice`: the offsets of its items' pointer and length). A tuple's items
    /// always follow its object (`Heap::alloc_tuple`; `heap::abi` tests that
    /// the pointer is `TUPLE_HEAD` past it), so the address is computed from
    /// the tuple's without loading that pointer: one load fewer on the way to
    /// every item.
    pub(super) fn tuple_item_slot(&mut self, tup: Reg, idx: u8, pc: u32, slice: (i32, i32)) -> CV {
        let head = self.tc.offs.tuple_head;
        self.inline_slot(tup, idx, pc, head, (I64, slice.1))
    }

    /// The data pointer of the slice whose pointer and length words are at
    /// `(p_off, l_off)` in object `o` (not null; a closure's captures, an
    /// array's elements), after `check` was given the condition that it has
    /// no slot `last` (and emitted its guard).
    pub(super) fn fixed_slots(
        &mut self,
        o: CV,
        (p_off, l_off): (i32, i32),
        last: u32,
        check: impl FnOnce(&mut Self, CV),
    ) -> CV {
        let fl = self.mem_flags(Mem::Hdr);
        let len = self.b.ins().load(I64, fl, o, l_off);
        let oob = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, len, last as i64);
        check(self, oob);
        let fl = self.mem_flags(Mem::Hdr);
        self.b.ins().load(I64, fl, o, p_off)
    }

    /// Address of field `idx` of the struct or class instance in `obj` (null- and
    /// bounds-checked): the fields are inline, at a fixed offset.
    pub(super) fn field_slot(&mut self, obj: Reg, idx: u8, pc: u32, (data, l_off): (i32, i32)) -> CV {
        self.inline_slot(obj, idx, pc, data, (I32, l_off))
    }

    /// Address of slot `idx` of the object in `obj`, whose slots lie inline
    /// from offset `data`, their count a `len_ty` at offset `l_off` (null- and
    /// bounds-checked): a struct's fields, a tuple's items.
    fn inline_slot(&mut self, obj: Reg, idx: u8, pc: u32, data: i32, (len_ty, l_off): (Type, i32)) -> CV {
        let o = self.non_null(obj, pc);
        let slot = self.b.ins().iadd_imm_s(o, data as i64 + idx as i64 * 8);
        if self.entry_fact(|e| e.slots[obj as usize] > idx) {
            return slot;
        }
        let fl = self.mem_flags(Mem::Hdr);
        let len = self.b.ins().load(len_ty, fl, o, l_off);
        let oob = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, len, idx as i64);
        self.raise_guard(oob, pc);
        if self.inl.is_none() {
            self.prove_at_entry(obj, |e| {
                // (Saturating: a slot 255 proves 255 slots, which no later
                // test of `> idx` takes for more.)
                e.slots[obj as usize] = e.slots[obj as usize].max(idx.saturating_add(1))
            });
        }
        slot
    }

    /// The running VM's heap as `(base, offset)`: the context (in the pinned
    /// register) and the heap's offset in it.
    pub(super) fn heap_addr(&mut self) -> (CV, i32) {
        (self.vm_addr(), self.tc.offs.alloc.vm_heap)
    }

    /// `NewStruct` (`fields`: the registers of the field values) or `NewObject`
    /// (`fields` empty: `n` zero fields) of layout `layout` into `dst`, allocated
    /// inline ([`Tr::alloc_cell`]); `slow` emits the helper call instead. An
    /// instance with too many fields for a cell always takes `slow`.
    pub(super) fn new_instance(
        &mut self,
        dst: Reg,
        layout: u32,
        fields: &[Reg],
        n: usize,
        slow: impl FnOnce(&mut Self),
    ) {
        let al = self.tc.offs.alloc;
        let is_class = self
            .tc
            .program
            .layouts
            .get(layout as usize)
            .is_some_and(|l| l.is_class);
        if n >= al.cell_classes || (!fields.is_empty() && fields.len() != n) {
            slow(self);
            return;
        }
        let kind = if is_class { al.kind_class } else { al.kind_struct };
        self.alloc_cell(dst, n, kind, slow, |t, p| {
            let values: Vec<CV> = (0..n)
                .map(|i| match fields.get(i) {
                    Some(&r) => t.get_raw(r),
                    None => t.iconst(0),
                })
                .collect();
            t.init_instance(p, layout, &values);
        });
    }

    /// The header words (layout, field count) and the field values `values`
    /// of the new instance of layout `layout` at `p`.
    fn init_instance(&mut self, p: CV, layout: u32, values: &[CV]) {
        let offs = self.tc.offs;
        self.store_header_consts(
            p,
            &[
                (offs.struct_layout, I32, layout as i64),
                (offs.struct_len, I32, values.len() as i64),
            ],
        );
        for (i, &v) in values.iter().enumerate() {
            let fl = self.mem_flags(Mem::Heap);
            self.b.ins().store(fl, v, p, offs.struct_fields + i as i32 * 8);
        }
    }

    /// A struct of layout `layout` with the field values `fields`, allocated
    /// inline ([`Tr::alloc_cell_to`]); `slow` emits the helper call instead
    /// and returns the struct. Returns the struct.
    pub(super) fn new_struct_value(
        &mut self,
        layout: u32,
        fields: &[CV],
        slow: impl FnOnce(&mut Self) -> CV,
    ) -> CV {
        let al = self.tc.offs.alloc;
        let n = fields.len();
        if n >= al.cell_classes {
            return slow(self);
        }
        let made = self.alloc_cell_to(
            None,
            n,
            al.kind_struct,
            |t| Some(slow(t)),
            |t, p| t.init_instance(p, layout, fields),
        );
        made.unwrap_or_else(|| self.iconst(0))
    }

    /// `NewArray` of no elements (`[]`, the leaves of a tree, a list about to
    /// be filled) of element kind `elem` into `dst`, allocated inline
    /// ([`Tr::alloc_cell`]): the array object of capacity 0 needs no buffer.
    fn new_empty_array(&mut self, dst: Reg, elem: u8, slow: impl FnOnce(&mut Self)) {
        let al = self.tc.offs.alloc;
        self.alloc_cell(dst, al.array_cell, al.kind_array, slow, |t, p| {
            let (ptr_off, len_off) = t.tc.offs.arr_items;
            t.store_header_consts(
                p,
                &[
                    (al.arr_elem, I8, elem as i64),
                    (al.arr_inline, I8, 0),
                    (al.arr_cap, I64, 0),
                    (ptr_off, I64, al.empty_array_ptr as i64),
                    (len_off, I64, 0),
                ],
            );
        });
    }

    /// `NewArray` of the elements in registers `items` (an array that
    /// `bp_runtime::heap::keeps_elements_in_cell`), or `NewCell` of one, into `dst`,
    /// allocated inline ([`Tr::alloc_cell`]) as `Heap::alloc_array_of` does:
    /// the elements in the cell, right after the array object, where its data
    /// pointer points.
    fn new_small_array(&mut self, dst: Reg, elem: u8, items: &[Reg], slow: impl FnOnce(&mut Self)) {
        let al = self.tc.offs.alloc;
        let n = items.len();
        let head = al.instance_head + 8 * al.array_cell as i32;
        self.alloc_cell(dst, al.array_cell + n, al.kind_array, slow, |t, p| {
            let (ptr_off, len_off) = t.tc.offs.arr_items;
            t.store_header_consts(
                p,
                &[
                    (al.arr_elem, I8, elem as i64),
                    (al.arr_inline, I8, n as i64),
                    (al.arr_cap, I64, n as i64),
                    (len_off, I64, n as i64),
                ],
            );
            let data = t.b.ins().iadd_imm_s(p, head as i64);
            let fl = t.mem_flags(Mem::Hdr);
            t.b.ins().store(fl, data, p, ptr_off);
            t.store_elements(p, head, items);
        });
    }

    /// Store the values of registers `items` at `p + head`, 8 bytes each (the
    /// elements kept in a new object's cell).
    fn store_elements(&mut self, p: CV, head: i32, items: &[Reg]) {
        for (i, &r) in items.iter().enumerate() {
            let v = self.get_raw(r);
            let fl = self.mem_flags(Mem::Heap);
            self.b.ins().store(fl, v, p, head + 8 * i as i32);
        }
    }

    /// `NewTuple` of the items in registers `items` (of kinds `kinds`) into
    /// `dst`, allocated inline in a cell of class `class` ([`Tr::alloc_cell`])
    /// as `Heap::alloc_tuple` lays it out: the items right after the object,
    /// then their kinds, with the object's slices pointing at them.
    fn new_small_tuple(
        &mut self,
        dst: Reg,
        class: usize,
        kinds: &[ValKind],
        items: &[Reg],
        slow: impl FnOnce(&mut Self),
    ) {
        let offs = *self.tc.offs;
        let n = items.len();
        let head = offs.tuple_head;
        self.alloc_cell(dst, class, offs.kind_tuple, slow, |t, p| {
            let kinds_at = head + 8 * n as i32;
            t.store_header_consts(
                p,
                &[
                    (offs.tuple_items.1, I64, n as i64),
                    (offs.tuple_kinds.1, I64, n as i64),
                ],
            );
            for (off, at) in [(offs.tuple_items.0, head), (offs.tuple_kinds.0, kinds_at)] {
                let addr = t.b.ins().iadd_imm_s(p, at as i64);
                let fl = t.mem_flags(Mem::Hdr);
                t.b.ins().store(fl, addr, p, off);
            }
            t.store_elements(p, head, items);
            for (i, &k) in kinds.iter().enumerate() {
                let c = t.b.ins().iconst(I8, k as i64);
                let fl = t.mem_flags(Mem::Heap);
                t.b.ins().store(fl, c, p, kinds_at + i as i32);
            }
        });
    }

    /// `NewCell` of `src` (of kind `kind`) into `dst`: a one-element array
    /// (`bp_runtime::heap::cell_elem_kind`: a `bool`'s is an `[int]`),
    /// allocated inline, else by `rt_new`.
    pub(super) fn new_cell(&mut self, pc: u32, dst: Reg, src: Reg, kind: u8) {
        self.stress(pc, pc);
        let helper = |t: &mut Self| t.rt_new_call(pc, dst, NewKind::Cell, kind as i64, &[src]);
        let elem = bp_runtime::heap::cell_elem_kind(ValKind::from_u8(kind));
        self.new_small_array(dst, elem as u8, &[src], helper);
    }

    /// Store each constant `(offset, type, value)` into the header words of the
    /// object at `p`, which inline allocation is writing.
    fn store_header_consts(&mut self, p: CV, consts: &[(i32, Type, i64)]) {
        for &(off, ty, v) in consts {
            let c = self.b.ins().iconst(ty, v);
            let fl = self.mem_flags(Mem::Hdr);
            self.b.ins().store(fl, c, p, off);
        }
    }

    /// Allocate an object in a cell of an instance of `n < cell_classes`
    /// fields into `dst`, inline (docs/jit.md, "Inline allocation"): take the
    /// next cell of the hole of that size (instances, arrays, tuples and
    /// function values are in instance chunks, on no list, and counted with
    /// their hole), write its header with `kind`, then its contents with
    /// `init`. When the hole is used up (GC stress mode keeps it so), `slow`
    /// emits the helper call instead, which allocates, collects if it must
    /// and defines `dst`.
    fn alloc_cell(
        &mut self,
        dst: Reg,
        n: usize,
        kind: u8,
        slow: impl FnOnce(&mut Self),
        init: impl FnOnce(&mut Self, CV),
    ) {
        let slow = |t: &mut Self| {
            slow(t);
            None
        };
        self.alloc_cell_to(Some(dst), n, kind, slow, init);
    }

    /// [`Tr::alloc_cell`] into register `dst`, or, without one, to the
    /// value it returns, which `slow` then returns too.
    fn alloc_cell_to(
        &mut self,
        dst: Option<Reg>,
        n: usize,
        kind: u8,
        slow: impl FnOnce(&mut Self) -> Option<CV>,
        init: impl FnOnce(&mut Self, CV),
    ) -> Option<CV> {
        let al = self.tc.offs.alloc;
        let size = al.instance_head as i64 + 8 * n as i64;
        let (h, hoff) = self.heap_addr();
        // The next cell of its size's hole `[cursor, limit)` (both null when
        // there is none, which takes the helper too). The hole counted toward
        // the next collection when the runtime took it (`Heap::pop_cell`):
        // its cells need only the bounds test.
        let cell_off = hoff + al.instance_holes + 16 * n as i32;
        let fl = self.mem_flags(Mem::Alloc);
        let p = self.b.ins().load(I64, fl, h, cell_off);
        let end = self.b.ins().iadd_imm_s(p, size);
        let fl = self.mem_flags(Mem::Alloc);
        let hole_end = self.b.ins().load(I64, fl, h, cell_off + 8);
        let used_up = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, hole_end);
        let fast = self.b.create_block();
        let slow_b = self.b.create_block();
        let join = self.b.create_block();
        // In an inlined body the result register is not a variable (and
        // without `dst` there is none): both paths pass the object to the
        // join.
        let inlined = self.inl.is_some() || dst.is_none();
        if inlined {
            self.b.append_block_param(join, I64);
        }
        self.b.set_cold_block(slow_b);
        self.b.ins().brif(used_up, slow_b, &[], fast, &[]);
        self.b.seal_block(slow_b);
        self.b.seal_block(fast);

        self.b.switch_to_block(slow_b);
        let before = self.inl.as_ref().map(|i| i.snapshot());
        let made = slow(self);
        if inlined {
            let v = match (made, dst) {
                (Some(v), _) => v,
                (None, Some(d)) => self.get_raw(d),
                (None, None) => self.iconst(0),
            };
            self.b.ins().jump(join, &[v.into()]);
        } else {
            self.b.ins().jump(join, &[]);
        }
        // (`dst` may be one of the items the fast path stores.)
        if let (Some(inl), Some(regs)) = (self.inl.as_mut(), before) {
            inl.restore(regs);
        }

        // Take the cell (counted with its hole, `cells.rs`), write its header
        // and contents.
        self.b.switch_to_block(fast);
        let fl = self.mem_flags(Mem::Alloc);
        self.b.ins().store(fl, end, h, cell_off);
        // The kind byte and, in the same word, a clear mark, `buffered`
        // and path flag (`heap::abi`).
        let hdr_kind = self.tc.offs.hdr_kind;
        self.store_header_consts(p, &[(hdr_kind, I32, kind as i64)]);
        init(self, p);
        match dst {
            Some(d) if !inlined => {
                self.set(d, p);
                self.b.ins().jump(join, &[]);
            }
            _ => {
                self.b.ins().jump(join, &[p.into()]);
            }
        }
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        if !inlined {
            return None;
        }
        let v = self.b.block_params(join)[0];
        if let Some(d) = dst {
            self.set(d, v);
        }
        Some(v)
    }

    /// An inline load (`Access::Load(dst)`) or store (`Access::Store(src)`) of the
    /// element whose address `addr_of` computes (with its checks) from the
    /// container's (pointer, length) layout.
    pub(super) fn heap_access(
        &mut self,
        pc: u32,
        layout: (i32, i32),
        acc: Access,
        addr_of: impl FnOnce(&mut Self, (i32, i32)) -> CV,
    ) {
        self.stress(pc, pc);
        let addr = addr_of(self, layout);
        self.access(addr, acc);
    }

    /// `NewArray`, `NewTuple` or `NewStruct` (`kind`, see the tier's `rt_new`)
    /// of call site `site`: the elements go to the argument
    /// block, the helper allocates (no instruction decoding) and collects if it
    /// must, with the new object rooted.
    ///
    /// `NewStruct` and an empty `NewArray` allocate inline when they can
    /// ([`Tr::new_instance`], [`Tr::new_empty_array`]).
    pub(super) fn new_object(&mut self, pc: u32, dst: Reg, site: u32, kind: NewKind) -> Result<(), String> {
        // (A tuple can be made in an inlined body: `inlining::tuple_returned`.)
        let s = self.code_fn().sites.get(site as usize).ok_or("bad call site")?;
        let site_addr = s as *const crate::bytecode::CallSite as usize as i64;
        let (args, layout) = (s.args.clone(), s.target);
        if kind == NewKind::Tuple {
            let items: Vec<CV> = args.iter().map(|&r| self.get_raw(r)).collect();
            if self.inl.as_ref().is_some_and(|i| i.virtual_tuple) {
                let placeholder = self.iconst(0);
                self.vn.virtual_tuples.insert(placeholder);
                self.vn.tuple_items.insert(placeholder, items);
                self.set(dst, placeholder);
                return Ok(());
            }
            let kinds = s.kinds.clone();
            self.new_tuple(pc, dst, &args, &kinds, site_addr);
            let t = self.get_raw(dst);
            self.vn.tuple_items.insert(t, items);
            return Ok(());
        }
        if kind == NewKind::Array && self.inl.as_ref().is_some_and(|i| i.virtual_array) {
            // Never allocated: only its items are read (`Analysis::array_read_apart`).
            let items: Vec<CV> = args.iter().map(|&r| self.get_raw(r)).collect();
            let placeholder = self.iconst(0);
            self.vn.virtual_arrays.insert(placeholder, items);
            self.set(dst, placeholder);
            return Ok(());
        }
        if kind == NewKind::Struct && self.inl.as_ref().is_some_and(|i| i.virtual_struct) {
            // Never allocated: its fields are values (`Analysis::virtual_struct`).
            let placeholder = self.iconst(0);
            self.vn.virtual_structs.insert(placeholder);
            self.set(dst, placeholder);
            return Ok(());
        }
        self.stress(pc, pc);
        let helper = |t: &mut Self| t.rt_new_call(pc, dst, kind, site_addr, &args);
        // An array's element kind is in `layout`, as `rt_new` reads it.
        let elem = ValKind::from_u8(layout as u8);
        match kind {
            NewKind::Struct => self.new_instance(dst, layout, &args, args.len(), helper),
            NewKind::Array if args.is_empty() => self.new_empty_array(dst, elem as u8, helper),
            NewKind::Array if bp_runtime::heap::keeps_elements_in_cell(elem, args.len()) => {
                self.new_small_array(dst, elem as u8, &args, helper)
            }
            _ => helper(self),
        }
        Ok(())
    }

    /// `NewTuple` of the items in registers `items` (of kinds `kinds`) into
    /// `dst`: inline ([`Tr::new_small_tuple`]) when it has a cell class, else
    /// by `rt_new` with call site `site_addr`.
    fn new_tuple(&mut self, pc: u32, dst: Reg, items: &[Reg], kinds: &[ValKind], site_addr: i64) {
        self.stress(pc, pc);
        let helper = |t: &mut Self| t.rt_new_call(pc, dst, NewKind::Tuple, site_addr, items);
        match bp_runtime::heap::abi::tuple_cell(items.len()) {
            Some(class) => self.new_small_tuple(dst, class, kinds, items, helper),
            None => helper(self),
        }
    }

    /// `NewObject` of class layout `class`: every field zero, allocated inline
    /// when it can ([`Tr::new_instance`]), else by `rt_new`.
    pub(super) fn new_class_instance(&mut self, pc: u32, dst: Reg, class: u32) {
        self.stress(pc, pc);
        let n = self
            .tc
            .program
            .layouts
            .get(class as usize)
            .map_or(usize::MAX, |l| l.fields.len());
        self.new_instance(dst, class, &[], n, |t| {
            t.rt_new_call(pc, dst, NewKind::Object, class as i64, &[])
        });
    }

    /// `rt_new` of an object of `kind` into `dst` (its call site's address, or
    /// the class or the cell's kind, in `a`), with the operands `items` in the
    /// argument block: the whole allocation, or the slow path of an inline one.
    fn rt_new_call(&mut self, pc: u32, dst: Reg, kind: NewKind, a: i64, items: &[Reg]) {
        let addr = self.arg_block(items);
        let info = items.len() as i64 | (kind as i64) << 32;
        self.block_helper(pc, self.tc.addrs.h_new, a, addr, info, Some(dst));
    }

    /// `ConcatN`: its parts straight to `rt_obj` (`ObjOp::ConcatN`) when they are
    /// strings and ints, few enough for the int mask; through `rt_op` otherwise.
    pub(super) fn concat_n(&mut self, pc: u32, dst: Reg, site: u32) -> Result<(), String> {
        let s = self.f.sites.get(site as usize).ok_or("bad call site")?;
        let n = s.args.len();
        let mut ints = 0i64;
        let mut general = n > CONCAT_MAX_PARTS;
        for (i, k) in s.kinds.iter().enumerate() {
            match k {
                ValKind::Ref => {}
                ValKind::Int if i < CONCAT_MAX_PARTS => ints |= 1 << i,
                _ => general = true,
            }
        }
        if general {
            self.generic(pc);
            self.appended(dst, false);
            return Ok(());
        }
        let args = s.args.clone();
        self.concat_parts(pc, dst, &args, n as i64 | ints << 8);
        Ok(())
    }

    /// `Concat`: `rt_obj`'s `Concat`, or, into an append register that is
    /// also its left operand, a `ConcatN` of the two strings, which may
    /// append in place (appends.rs).
    pub(super) fn concat(&mut self, pc: u32, dst: Reg, a: Reg, b: Reg) {
        if a == dst && self.append_var(dst).is_some() {
            self.concat_parts(pc, dst, &[a, b], 2);
        } else {
            self.object_op(pc, ObjOp::Concat, &[a, b], 0, Some(dst));
            self.appended(dst, true);
        }
    }

    /// `rt_obj`'s `ConcatN` of `parts` (`kind`: their number | the mask of
    /// the ints << 8) into `dst`, or `AppendN` when the first part is a
    /// string that only `dst` holds (appends.rs).
    fn concat_parts(&mut self, pc: u32, dst: Reg, parts: &[Reg], kind: i64) {
        let op = self.append_op(dst, parts.first().copied());
        self.stress(pc, pc);
        let addr = self.arg_block(parts);
        self.block_helper_op(pc, self.tc.addrs.h_obj, op, addr, kind, Some(dst));
        self.appended(dst, true);
    }

    /// `MapSet`: its leaf twin `rt_map_set`, which stores in the room the map
    /// has, and `rt_obj` (which grows the map, or raises) when that declines.
    pub(super) fn map_set(&mut self, pc: u32, map: Reg, key: Reg, val: Reg) {
        self.stress(pc, pc);
        let addr = self.arg_block(&[map, key, val]);
        let general = (self.tc.addrs.h_obj, ObjOp::MapSet as i64, 0);
        self.leaf_call(pc, self.tc.addrs.h_map_set, addr, general, None);
    }

    /// `Concat`, `ConcatN` or `ToStr` (`op`, see the tier's `rt_obj`) on
    /// the operands `ops` (`kind`: the operation's word, see `ObjOp`), writing `dst`
    /// if there is one.
    pub(super) fn object_op(&mut self, pc: u32, op: ObjOp, ops: &[Reg], kind: i64, dst: Option<Reg>) {
        self.stress(pc, pc);
        let addr = self.arg_block(ops);
        self.block_helper(pc, self.tc.addrs.h_obj, op as i64, addr, kind, dst);
    }
}
