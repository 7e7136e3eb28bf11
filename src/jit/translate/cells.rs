//! Closure state kept in variables through a loop: the cells of updaters.
//!
//! A nested def cannot assign a variable of the function around it, so a
//! closure keeps its state in an array it captured: `state[0] = state[0] +
//! step` (benches/micro/cells). Called in a loop, such a closure is inlined
//! as an updater (`Tr::inline_updater`) whose array the loop's pre-header
//! checks once (`Tr::precheck_updater`), but every call still loads the
//! element the previous call stored: a dependence through memory, about 5
//! cycles a round of store forwarding on Intel cores (AMD's Zen renames
//! memory and hides most of it), where the arithmetic takes 1.
//!
//! The loop keeps each element an updater stores, at its constant index, in
//! a Cranelift variable instead ([`PromotedCell`]): the pre-header loads
//! it, a read of it in an inlined body is the variable, and a store sets the
//! variable and still stores. Memory is therefore always current: an exit to
//! the VM, an exception or the code after the loop read it there, and
//! nothing is written back. (LuaJIT forwards its upvalue stores to the next
//! round's loads the same way, keeping the stores.)
//!
//! This holds while nothing else stores into an array in the loop
//! ([`Tr::cells_alone`]): its only element stores are those of updaters
//! whose arrays the pre-header checked, each at a constant index, of ints
//! or floats. Two such cells may still be one element: two closures may
//! have captured the same array (an `inc` and a `dec` of one counter). The
//! pre-header compares their arrays, and a store to one sets the other's
//! variable too when they are the same ([`CellTwins`]). The cells of one
//! function value's capture, called at two sites, are one variable.

use super::inline::Prechecked;
use super::*;
use crate::jit::inlining::{updater_checks, Slots};

/// An element of an array that updaters inlined in a loop captured, kept
/// in a variable while the loop runs.
pub(super) struct PromotedCell {
    /// The array: the register of the loop's function that holds the
    /// closure, and the index of the capture.
    array: (Reg, u8),
    /// The element's index.
    index: u32,
    var: Variable,
    ty: Type,
    /// The variable holding the array's data pointer (`Prechecked::ptr`).
    ptr: Variable,
}

/// An array that an updater inlined in a loop stores into.
struct StoredArray {
    /// The callee's register the body reaches it through.
    reg: Reg,
    /// Which array: as [`PromotedCell::array`].
    array: (Reg, u8),
    /// The variable holding its data pointer (`Prechecked::ptr`).
    ptr: Variable,
    /// The elements stored into: index and machine type.
    cells: Vec<(u32, Type)>,
}

/// Two cells (by index into `LoopCaches::cells`) at the same index of
/// arrays that may be one array, and the variable that says whether they
/// are (nonzero: a store to one is a store to the other).
pub(super) type CellTwins = (usize, usize, Variable);

/// The elements an updater's body stores into the array it reaches through
/// its register `reg`: (index, machine type) each, or `None` if one of its
/// stores is not at a constant index or not of an int or a float.
fn stored_cells(p: &Program, callee: &Function, reg: Reg) -> Option<Vec<(u32, Type)>> {
    let mut cells: Vec<(u32, Type)> = Vec::new();
    for (pc, ins) in callee.code.iter().enumerate() {
        let Instr::ArrSet { arr, idx, elem, .. } = *ins else {
            continue;
        };
        if arr != reg {
            continue;
        }
        let index = u32::try_from(constant_before(p, callee, pc, idx)?).ok()?;
        let ty = match elem {
            e if e == ValKind::Int as u8 => I64,
            e if e == ValKind::Float as u8 => F64,
            _ => return None,
        };
        match cells.iter().find(|c| c.0 == index) {
            Some(c) if c.1 != ty => return None,
            Some(_) => {}
            None => cells.push((index, ty)),
        }
    }
    Some(cells)
}

/// The constant register `r` holds at `pc` of `f`: the `LoadInt` that last
/// wrote it, on the straight line of code before `pc` that every path to
/// `pc` takes (no jump lands after it).
fn constant_before(p: &Program, f: &Function, pc: usize, r: Reg) -> Option<i32> {
    let lands = |at: usize| f.code.iter().any(|ins| ins.jump_target() == Some(at as u32));
    if lands(pc) {
        return None;
    }
    for at in (0..pc).rev() {
        let ins = &f.code[at];
        if ins.operands(p, f).writes() == Some(r) {
            return match *ins {
                Instr::LoadInt { imm, .. } => Some(imm),
                _ => None,
            };
        }
        if lands(at) {
            return None;
        }
    }
    None
}

/// Whether `f`'s code stores into no array and calls nothing (a body
/// inlined in a loop whose cells are promoted).
fn stores_no_element(f: &Function) -> bool {
    !f.code
        .iter()
        .any(|ins| matches!(ins, Instr::ArrSet { .. } | Instr::CellSet { .. }) || calls(ins))
}

/// Whether `ins` calls a function, a builtin or an extern function.
fn calls(ins: &Instr) -> bool {
    matches!(
        ins,
        Instr::Call { .. }
            | Instr::CallIndirect { .. }
            | Instr::CallMethod { .. }
            | Instr::CallExtern { .. }
            | Instr::CallBuiltin { .. }
    )
}

impl<'a, 'f> Tr<'a, 'f> {
    /// Whether loop `li` stores into arrays only through the updaters its
    /// pre-header checked (`prechecked`, by pc), each store into an array
    /// the pre-header checked, and no handler covers its code (a handler
    /// inside it would enter it around the pre-header).
    fn cells_alone(&self, li: usize) -> bool {
        let (header, end) = (self.an.cached[li].header, self.an.cached[li].end);
        let p = self.tc.program;
        (header..=end)
            .filter(|&pc| self.an.reachable[pc as usize])
            .all(|pc| {
                let covered = self.an.covering.get(pc as usize).is_some_and(|c| !c.is_empty());
                let callee_of = |site: u32| {
                    self.f
                        .sites
                        .get(site as usize)
                        .and_then(|s| p.functions.get(s.target as usize))
                };
                !covered
                    && match self.f.code[pc as usize] {
                        // (A cell of a variable assigned after it was captured is laid
                        // out as an array: not one an updater reaches, kept out all
                        // the same.)
                        Instr::ArrSet { .. }
                        | Instr::CellSet { .. }
                        | Instr::CallMethod { .. }
                        | Instr::CallExtern { .. } => false,
                        Instr::Call { site, .. } => callee_of(site).is_some_and(stores_no_element),
                        Instr::CallIndirect { .. } => match self.loops.prechecked.get(&pc) {
                            Some(checked) => self.updater_stores_checked(pc, checked),
                            None => self.an.closure_callees.get(&pc).is_some_and(|fids| {
                                fids.iter()
                                    .all(|&fid| p.functions.get(fid as usize).is_some_and(stores_no_element))
                            }),
                        },
                        _ => true,
                    }
            })
    }

    /// Whether the updater inlined at `pc` calls nothing and stores only
    /// into the arrays of `checked`.
    fn updater_stores_checked(&self, pc: u32, checked: &[Prechecked]) -> bool {
        let Some(&[fid]) = self.an.closure_callees.get(&pc).map(Vec::as_slice) else {
            return false;
        };
        let Some(f) = self.tc.program.functions.get(fid as usize) else {
            return false;
        };
        f.code.iter().all(|ins| match *ins {
            Instr::ArrSet { arr, .. } => checked.iter().any(|c| c.reg == arr && c.slots == Slots::Elements),
            Instr::CellSet { .. } => false,
            _ => !calls(ins),
        })
    }

    /// In the pre-header of loop `li`, after its updaters were checked
    /// ([`Tr::precheck_updater`]): if the loop's cells can be kept in
    /// variables ([`Tr::cells_alone`]), load each element its updaters
    /// store into one, compare the arrays of the cells that may be one
    /// element, and tell each updater's call where its cells are
    /// (`Prechecked::cells`).
    pub(super) fn promote_cells(&mut self, li: usize) {
        let (header, end) = (self.an.cached[li].header, self.an.cached[li].end);
        let pcs: Vec<u32> = (header..=end)
            .filter(|pc| self.loops.prechecked.contains_key(pc))
            .collect();
        if pcs.is_empty() || !self.cells_alone(li) {
            return;
        }
        let mut plan: Vec<(u32, Vec<StoredArray>)> = Vec::new();
        for &pc in &pcs {
            let Some(arrays) = self.updater_arrays(li, pc) else {
                return;
            };
            plan.push((pc, arrays));
        }
        let first = self.loops.cells.len();
        for (pc, arrays) in plan {
            for a in arrays {
                let ids: Vec<(u32, usize)> = a
                    .cells
                    .iter()
                    .map(|&(index, ty)| (index, self.promoted_cell(first, a.array, index, ty, a.ptr)))
                    .collect();
                let checked = self.loops.prechecked.get_mut(&pc);
                let slot = checked.and_then(|c| {
                    c.iter_mut()
                        .find(|c| c.reg == a.reg && c.slots == Slots::Elements)
                });
                if let Some(c) = slot {
                    c.cells = ids;
                }
            }
        }
    }

    /// The arrays the updater inlined at `pc` (in loop `li`) stores into;
    /// `None` if one of them cannot have its cells kept in variables.
    fn updater_arrays(&self, li: usize, pc: u32) -> Option<Vec<StoredArray>> {
        let (fid, clo) = self.preheader_closure(li, pc)?;
        let p = self.tc.program;
        let f = p.functions.get(fid as usize)?;
        let Instr::CallIndirect { site, .. } = *self.f.code.get(pc as usize)? else {
            return None;
        };
        let nargs = self.f.sites.get(site as usize)?.args.len();
        let checked = self.loops.prechecked.get(&pc)?;
        let mut arrays = Vec::new();
        for c in updater_checks(p, f, nargs)? {
            if c.slots != Slots::Elements {
                continue;
            }
            let cells = stored_cells(p, f, c.reg)?;
            if cells.is_empty() {
                continue;
            }
            // (`cells_alone` saw every store of the body go to an array the
            // pre-header checked: one loaded from the closure's captures.)
            let (_, capture) = c.capture?;
            let ptr = checked
                .iter()
                .find(|k| k.reg == c.reg && k.slots == Slots::Elements)?
                .ptr;
            arrays.push(StoredArray {
                reg: c.reg,
                array: (clo, capture),
                ptr,
                cells,
            });
        }
        Some(arrays)
    }

    /// The cell of `array` at `index` (of the cells from `first` on, those
    /// of this loop): made now, in the pre-header, if it is new, with the
    /// element loaded through the array's data pointer `ptr`, and compared
    /// with the arrays whose cell at that index it may be ([`CellTwins`]).
    fn promoted_cell(
        &mut self,
        first: usize,
        array: (Reg, u8),
        index: u32,
        ty: Type,
        ptr: Variable,
    ) -> usize {
        if let Some(i) = self.loops.cells[first..]
            .iter()
            .position(|c| c.array == array && c.index == index)
        {
            return first + i;
        }
        let data = self.b.use_var(ptr);
        let id = self.loops.cells.len();
        let twins: Vec<usize> = (first..id)
            .filter(|&o| self.loops.cells[o].index == index && self.loops.cells[o].ty == ty)
            .collect();
        for o in twins {
            let other = self.b.use_var(self.loops.cells[o].ptr);
            let same = self.b.ins().icmp(IntCC::Equal, data, other);
            let same_var = self.b.declare_var(I8);
            self.b.def_var(same_var, same);
            self.loops.cell_twins.push((o, id, same_var));
        }
        let fl = self.mem_flags(Mem::Heap);
        let v = self.b.ins().load(ty, fl, data, index as i32 * 8);
        let var = self.b.declare_var(ty);
        self.b.def_var(var, v);
        self.loops.cells.push(PromotedCell {
            array,
            index,
            var,
            ty,
            ptr,
        });
        id
    }

    /// The value of promoted cell `id` (a read of its element).
    pub(super) fn cell_value(&mut self, id: usize) -> Option<CV> {
        let var = self.loops.cells.get(id)?.var;
        Some(self.b.use_var(var))
    }

    /// After a store of `v` into the element of promoted cell `id`: the cell
    /// holds `v`, and so does each cell that is the same element because
    /// its array is the same ([`CellTwins`]). That is a branch on the
    /// pre-header's comparison, not a select: the branch is always
    /// predicted, where a select would make each cell's value wait for the
    /// other's.
    pub(super) fn cell_stored(&mut self, id: usize, v: CV) {
        let Some(&PromotedCell { var, ty, .. }) = self.loops.cells.get(id) else {
            return;
        };
        let v = self.as_type(v, ty);
        self.b.def_var(var, v);
        let twins: Vec<(usize, Variable)> = self
            .loops
            .cell_twins
            .iter()
            .filter_map(|&(a, b, same)| match () {
                _ if a == id => Some((b, same)),
                _ if b == id => Some((a, same)),
                _ => None,
            })
            .collect();
        for (other, same) in twins {
            let other_var = self.loops.cells[other].var;
            let s = self.b.use_var(same);
            let (set, cont) = (self.b.create_block(), self.b.create_block());
            self.b.set_cold_block(set);
            self.b.ins().brif(s, set, &[], cont, &[]);
            self.b.seal_block(set);
            self.b.switch_to_block(set);
            self.b.def_var(other_var, v);
            self.b.ins().jump(cont, &[]);
            self.b.seal_block(cont);
            self.b.switch_to_block(cont);
            self.vn.forget_block();
        }
    }
}
