//! Heap access: null checks, array elements (with the loop caches), fixed slots of
//! structs and tuples, and object construction and operations through helpers.

use super::*;

impl<'a, 'f> Tr<'a, 'f> {
    /// Null check of the object in `r`; returns its pointer.
    pub(super) fn non_null(&mut self, r: Reg, pc: u32) -> CV {
        let o = self.get_i(r);
        let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, o, 0);
        self.guard(is_null, pc);
        o
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
    pub(super) fn array_access(&mut self, pc: u32, arr: Reg, idx: Reg, acc: Access) {
        let (p_off, l_off) = self.tc.offs.arr_items;
        self.stress(pc, pc);
        let (len, ptr) = match self.cached_array(arr) {
            Some(c) => c,
            None => {
                let a = self.non_null(arr, pc);
                let fl = self.mem_flags(Mem::Hdr);
                let len = self.b.ins().load(I64, fl, a, l_off);
                let fl = self.mem_flags(Mem::Hdr);
                let ptr = self.b.ins().load(I64, fl, a, p_off);
                (len, ptr)
            }
        };
        let i = self.get_i(idx);
        if !self.tc.neg_index && !self.an.webs.neg_const[self.web_read(idx)] {
            // Speculate `0 <= i < len`: one unsigned compare, the exit covers both
            // ends. A valid negative index side-exits here; the VM then reads
            // from the end, and flags the function so that its next version
            // takes the path below (see `Jit::note_negative_index`).
            if !self.vn.bounds_checked.contains(&(i, len)) {
                let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
                self.guard(oob, pc);
                self.vn.bounds_checked.push((i, len));
            }
            self.element(ptr, i, acc);
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
        self.guard(oob, pc);
        self.b.ins().jump(ok, &[adj.into()]);
        self.b.seal_block(ok);
        self.b.switch_to_block(ok);
        self.element(ptr, j, acc);
    }

    /// Load or store element `j` (in range) of the array data at `ptr`.
    pub(super) fn element(&mut self, ptr: CV, j: CV, acc: Access) {
        let off = self.b.ins().ishl_imm_s(j, 3);
        let addr = self.b.ins().iadd(ptr, off);
        self.access(addr, acc);
    }

    /// The load (`Access::Load(dst)`) or store (`Access::Store(src)`) at `addr`.
    pub(super) fn access(&mut self, addr: CV, acc: Access) {
        let fl = self.mem_flags(Mem::Heap);
        match acc {
            Access::Load(dst) => {
                let ty = self.def_ty(dst);
                let v = self.b.ins().load(ty, fl, addr, 0);
                self.set(dst, v);
            }
            Access::Store(src) => {
                let v = self.get_raw(src);
                self.b.ins().store(fl, v, addr, 0);
            }
        }
    }

    /// Address of fixed slot `idx` of a struct or tuple in `obj` (bounds-checked).
    pub(super) fn fixed_slot(&mut self, obj: Reg, idx: u8, pc: u32, (p_off, l_off): (i32, i32)) -> CV {
        let o = self.non_null(obj, pc);
        let fl = self.mem_flags(Mem::Hdr);
        let len = self.b.ins().load(I64, fl, o, l_off);
        let oob = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, len, idx as i64);
        self.guard(oob, pc);
        let fl = self.mem_flags(Mem::Hdr);
        let ptr = self.b.ins().load(I64, fl, o, p_off);
        self.b.ins().iadd_imm_s(ptr, idx as i64 * 8)
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
    pub(super) fn new_object(&mut self, pc: u32, dst: Reg, site: u32, kind: NewKind) -> Result<(), String> {
        let s = self.f.sites.get(site as usize).ok_or("bad call site")?;
        let site_addr = s as *const crate::bytecode::CallSite as usize as i64;
        let args = s.args.clone();
        self.stress(pc, pc);
        let addr = self.arg_block(&args);
        let info = args.len() as i64 | (kind as i64) << 32;
        self.block_helper(pc, self.tc.addrs.h_new, site_addr, addr, info, Some(dst));
        Ok(())
    }

    /// `MapGet`, `MapSet`, `Concat` or `ToStr` (`op`, see the tier's `rt_obj`) on
    /// the operands `ops`, writing `dst` if there is one.
    pub(super) fn object_op(&mut self, pc: u32, op: ObjOp, ops: &[Reg], kind: u8, dst: Option<Reg>) {
        self.stress(pc, pc);
        let addr = self.arg_block(ops);
        self.block_helper(pc, self.tc.addrs.h_obj, op as i64, addr, kind as i64, dst);
    }
}
