//! The functions of a program's module: chunk functions holding consecutive steps, the
//! entry calling them in order, row-range functions (split steps and sums, matmul epilogues) and
//! shape-specialized products. Each sets up an [`Emitter`] and its exits.

use cranelift_codegen::ir::{types, Block, FuncRef, Function, InstBuilder, Value};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use super::bounds::record_out_of_bounds;
use super::emitter::Emitter;
use super::matmul::SmallProduct;
use super::module::Imports;
use super::split::parallel_step;
use super::sum::{sums_of, SumOf};
use super::sum_rows::split_sum_rows;
use crate::abi::{STATUS_OK, STATUS_OUT_OF_BOUNDS};
use crate::schedule::{Kernel, Plan, StepKind};

/// What a row-range function computes.
pub(super) enum RowsBody<'p> {
    /// An elementwise kernel over a range of its outermost axis (a split step, a matmul's
    /// epilogue).
    Kernel(&'p Kernel),
    /// A range of rows of a sum split across threads (see [`super::sum_rows`]): its fused
    /// body, the reduced axes, and the sums (entry, output slot, run buffer).
    Sum(&'p Kernel, &'p [usize], Vec<SumOf>),
}

/// A kernel, or part of a sum, as its own function over a range of rows.
pub(super) fn build_rows(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    imports: &Imports,
    body: RowsBody<'_>,
    step: usize,
    checked: bool,
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let helper_refs = imports.helper_refs(module, &mut b);
    // A split sum's gathered runs call the pairwise sum.
    let pairwise = matches!(body, RowsBody::Sum(..))
        .then(|| module.declare_func_in_func(imports.pairwise, b.func));
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let oob = b.create_block();
    for _ in 0..4 {
        b.append_block_param(oob, types::I64);
    }
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let mut e = Emitter {
        b: &mut b,
        args: params[0],
        helpers: &helper_refs,
        pairwise,
        checked,
        oob,
        step,
        substitute: None,
        outer_range: Some((params[1], params[2])),
        row: None,
    };
    match body {
        RowsBody::Kernel(kernel) => e.elementwise(kernel),
        RowsBody::Sum(kernel, axes, sums) => e.sum_rows(kernel, axes, &sums),
    }
    let ok = b.ins().iconst(types::I32, STATUS_OK as i64);
    b.ins().return_(&[ok]);
    // Unchecked code never branches here.
    b.switch_to_block(oob);
    let oob_params = b.block_params(oob).to_vec();
    record_out_of_bounds(&mut b, params[0], &oob_params);
    b.seal_all_blocks();
    b.finalize(module.target_config());
}

/// A shape-specialized product as its own function over a range of rows.
pub(super) fn build_product(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    product: &SmallProduct,
    fma: bool,
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let oob = b.create_block();
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let mut e = Emitter {
        b: &mut b,
        args: params[0],
        helpers: &[],
        pairwise: None,
        // The host step checks both operands' extents before it calls the product.
        checked: false,
        oob,
        step: 0,
        substitute: None,
        outer_range: Some((params[1], params[2])),
        row: None,
    };
    e.small_matmul(product, fma);
    let ok = b.ins().iconst(types::I32, STATUS_OK as i64);
    b.ins().return_(&[ok]);
    // Never branched to (no checks); completes the function.
    b.switch_to_block(oob);
    let status = b.ins().iconst(types::I32, STATUS_OUT_OF_BOUNDS as i64);
    b.ins().return_(&[status]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
}

/// The entry function: calls each chunk in order, returning the first non-zero status.
pub(super) fn build_main(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    chunks: &[FuncId],
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let refs: Vec<FuncRef> = chunks
        .iter()
        .map(|&id| module.declare_func_in_func(id, b.func))
        .collect();
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let fail = b.create_block();
    b.append_block_param(fail, types::I32);
    b.switch_to_block(entry);
    let args_ptr = b.block_params(entry)[0];
    for f in refs {
        let call = b.ins().call(f, &[args_ptr]);
        let status = b.inst_results(call)[0];
        let next = b.create_block();
        b.ins().brif(status, fail, &[status.into()], next, &[]);
        b.switch_to_block(next);
    }
    let ok = b.ins().iconst(types::I32, STATUS_OK as i64);
    b.ins().return_(&[ok]);
    b.switch_to_block(fail);
    let status = b.block_params(fail)[0];
    b.ins().return_(&[status]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
}

/// One chunk function: the steps in `range`, in order.
pub(super) fn build_chunk(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    imports: &Imports,
    plan: &Plan,
    range: std::ops::Range<usize>,
    checked: bool,
) {
    let mut b = FunctionBuilder::new(func, fctx);
    let helper_refs = imports.helper_refs(module, &mut b);
    let host = module.declare_func_in_func(imports.host, b.func);
    let pairwise = module.declare_func_in_func(imports.pairwise, b.func);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let oob = b.create_block();
    for _ in 0..4 {
        b.append_block_param(oob, types::I64);
    }
    let fail = b.create_block();
    b.append_block_param(fail, types::I32);
    b.switch_to_block(entry);
    let args_ptr = b.block_params(entry)[0];
    let mut e = Emitter {
        b: &mut b,
        args: args_ptr,
        helpers: &helper_refs,
        pairwise: Some(pairwise),
        checked,
        oob,
        step: 0,
        substitute: None,
        outer_range: None,
        row: None,
    };
    for s in range {
        let step = &plan.steps[s];
        e.step = s;
        match &step.kind {
            StepKind::Elementwise(kernel) if !(parallel_step(kernel, checked)) => {
                e.elementwise(kernel)
            }
            StepKind::Reduce {
                op,
                axes,
                body,
                epilogue,
                ..
            } if split_sum_rows(plan, s, checked).is_none() => {
                e.reduce(*op, axes, body, &sums_of(step), epilogue.as_ref())
            }
            StepKind::Reduce { epilogue, .. } => {
                // Split across threads by the run stage, then the epilogue here.
                host_call(&mut e, (host, args_ptr, fail), s);
                if let Some(epilogue) = epilogue {
                    e.reduce_epilogue(epilogue, step.out);
                }
            }
            StepKind::MatMul { .. }
            | StepKind::Host
            | StepKind::Window { .. }
            | StepKind::Elementwise(_) => host_call(&mut e, (host, args_ptr, fail), s),
        }
    }
    let ok = b.ins().iconst(types::I32, STATUS_OK as i64);
    b.ins().return_(&[ok]);
    // Out of bounds: record (step, access, index, length) and return.
    b.switch_to_block(oob);
    let params = b.block_params(oob).to_vec();
    record_out_of_bounds(&mut b, args_ptr, &params);
    b.switch_to_block(fail);
    let status = b.block_params(fail)[0];
    b.ins().return_(&[status]);
    b.seal_all_blocks();
    b.finalize(module.target_config());
}

/// Calls the host entry point for step `s` and leaves for `fail` on a non-zero status.
fn host_call(e: &mut Emitter, (host, args_ptr, fail): (FuncRef, Value, Block), s: usize) {
    let index = e.b.ins().iconst(types::I64, s as i64);
    let call = e.b.ins().call(host, &[args_ptr, index]);
    let status = e.b.inst_results(call)[0];
    let next = e.b.create_block();
    e.b.ins().brif(status, fail, &[status.into()], next, &[]);
    e.b.switch_to_block(next);
}
