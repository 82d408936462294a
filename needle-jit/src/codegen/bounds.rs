//! Bounds-check exits of checked code: where an out-of-bounds access branches to, recording
//! what it was in the argument block (see [`crate::abi::args`]).

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

use crate::abi::{args, STATUS_OUT_OF_BOUNDS};

/// The out-of-bounds exit: records (step, access, index, length) in the argument block and
/// returns [`STATUS_OUT_OF_BOUNDS`].
pub(super) fn record_out_of_bounds(b: &mut FunctionBuilder, args_ptr: Value, params: &[Value]) {
    let flags = MemFlagsData::trusted();
    for (word, &v) in [
        args::ERR_STEP,
        args::ERR_ACCESS,
        args::ERR_INDEX,
        args::ERR_LEN,
    ]
    .into_iter()
    .zip(params)
    {
        b.ins().store(flags, v, args_ptr, (word * 8) as i32);
    }
    let status = b.ins().iconst(types::I32, STATUS_OUT_OF_BOUNDS as i64);
    b.ins().return_(&[status]);
}
