//! Jump threading of a truth value's join: a block whose only instruction
//! branches on its one parameter.
//!
//! A test computed on several paths and then branched on, such as string
//! equality with a constant (`w == "alpha0"`: 0 when the lengths differ, the
//! bytes' comparison otherwise) followed by the bytecode's `JmpIf`, reaches
//! Cranelift as
//!
//! ```text
//! block_a: ... jump join(v0)          ; v0 = iconst 0
//! block_b: ... jump join(v7)          ; v7 = the bytes' comparison
//! join(p): brif p, then, else
//! ```
//!
//! which becomes a register set to 0 or 1 on each path, a jump, and a test
//! and branch on it. Cranelift does not thread jumps through block
//! parameters, so this pass does: each `jump join(x)` becomes `jump else` for
//! a constant zero, `jump then` for another constant, and `brif x, then,
//! else` otherwise; the join block is left without predecessors, and
//! Cranelift removes it.

use cranelift_codegen::ir::{self, BlockArg, InstBuilder, InstructionData, Opcode, Value};
use std::collections::HashSet;

/// A block that only branches on its single parameter: the parameter, and
/// the branch's two destinations (block and arguments).
struct BoolJoin {
    param: Value,
    then: (ir::Block, Vec<BlockArg>),
    other: (ir::Block, Vec<BlockArg>),
}

/// Thread every `jump` to a [`BoolJoin`] through it (the module doc).
pub(super) fn thread_bool_joins(func: &mut ir::Function) {
    let mut joins: Vec<(ir::Block, BoolJoin)> = func
        .layout
        .blocks()
        .skip(1)
        .filter_map(|b| bool_join(func, b).map(|j| (b, j)))
        .collect();
    if joins.is_empty() {
        return;
    }
    // A parameter read anywhere but by its own branch stays: the blocks after
    // the join might read it directly (the join dominates them), and would
    // not be dominated by it any more.
    let params: HashSet<Value> = joins.iter().map(|(_, j)| j.param).collect();
    let mut read_elsewhere = HashSet::new();
    for b in func.layout.blocks() {
        if joins.iter().any(|(jb, _)| *jb == b) {
            continue;
        }
        for inst in func.layout.block_insts(b) {
            for v in func.dfg.inst_values(inst) {
                let v = func.dfg.resolve_aliases(v);
                if params.contains(&v) {
                    read_elsewhere.insert(v);
                }
            }
        }
    }
    joins.retain(|(_, j)| !read_elsewhere.contains(&j.param));
    let jumps: Vec<(ir::Inst, usize, Value)> = func
        .layout
        .blocks()
        .filter_map(|b| func.layout.last_inst(b))
        .filter_map(|inst| {
            let InstructionData::Jump { destination, .. } = func.dfg.insts[inst] else {
                return None;
            };
            let target = destination.block(&func.dfg.value_lists);
            let k = joins.iter().position(|(b, _)| *b == target)?;
            match destination.args(&func.dfg.value_lists).next()? {
                BlockArg::Value(v) => Some((inst, k, func.dfg.resolve_aliases(v))),
                _ => None,
            }
        })
        .collect();
    for (inst, k, x) in jumps {
        let join = &joins[k].1;
        let with_x = |(block, args): &(ir::Block, Vec<BlockArg>)| {
            let args: Vec<BlockArg> = args
                .iter()
                .map(|a| match a {
                    BlockArg::Value(v) if *v == join.param => BlockArg::Value(x),
                    a => *a,
                })
                .collect();
            (*block, args)
        };
        let (then, then_args) = with_x(&join.then);
        let (other, other_args) = with_x(&join.other);
        match constant(func, x) {
            Some(0) => {
                func.replace(inst).jump(other, &other_args);
            }
            Some(_) => {
                func.replace(inst).jump(then, &then_args);
            }
            None => {
                func.replace(inst).brif(x, then, &then_args, other, &other_args);
            }
        }
    }
}

/// `block` as a [`BoolJoin`], if it is one: one integer parameter, and a
/// single instruction, a `brif` on it to two other blocks whose arguments are
/// plain values.
fn bool_join(func: &ir::Function, block: ir::Block) -> Option<BoolJoin> {
    let [param] = func.dfg.block_params(block) else {
        return None;
    };
    let param = *param;
    if !func.dfg.value_type(param).is_int() {
        return None;
    }
    let inst = func.layout.first_inst(block)?;
    if func.layout.last_inst(block) != Some(inst) {
        return None;
    }
    let InstructionData::Brif { arg, blocks, .. } = func.dfg.insts[inst] else {
        return None;
    };
    if func.dfg.resolve_aliases(arg) != param {
        return None;
    }
    let pool = &func.dfg.value_lists;
    let dest = |i: usize| {
        let call = blocks[i];
        let b = call.block(pool);
        let args: Vec<BlockArg> = call.args(pool).collect();
        let plain = args.iter().all(|a| matches!(a, BlockArg::Value(_)));
        (b != block && plain).then(|| {
            let args = args
                .into_iter()
                .map(|a| match a {
                    BlockArg::Value(v) => BlockArg::Value(func.dfg.resolve_aliases(v)),
                    a => a,
                })
                .collect();
            (b, args)
        })
    };
    Some(BoolJoin {
        param,
        then: dest(0)?,
        other: dest(1)?,
    })
}

/// The value of `v` if an `iconst` defines it.
fn constant(func: &ir::Function, v: Value) -> Option<i64> {
    let inst = func.dfg.value_def(v).inst()?;
    match func.dfg.insts[inst] {
        InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } => Some(imm.bits()),
        _ => None,
    }
}
