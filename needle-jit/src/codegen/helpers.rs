//! Functions called from generated code: transcendental functions, the interpreter's own
//! scalar functions, and the pairwise sum of a long run, the interpreter's own too — so JIT and
//! interpreter results agree bit for bit.

use needle_core::interp::pairwise::pairwise_sum;
use needle_core::op::{ScalarOp, UnaryOp};

/// The interpreter's `exp`.
pub extern "C" fn needle_exp(x: f32) -> f32 {
    UnaryOp::Exp.f32_fn()(x)
}

/// The interpreter's `log`.
pub extern "C" fn needle_log(x: f32) -> f32 {
    UnaryOp::Log.f32_fn()(x)
}

/// The interpreter's `tanh`.
pub extern "C" fn needle_tanh(x: f32) -> f32 {
    UnaryOp::Tanh.f32_fn()(x)
}

/// The interpreter's `sigmoid`.
pub extern "C" fn needle_sigmoid(x: f32) -> f32 {
    UnaryOp::Sigmoid.f32_fn()(x)
}

/// The interpreter's `sin`.
pub extern "C" fn needle_sin(x: f32) -> f32 {
    UnaryOp::Sin.f32_fn()(x)
}

/// The interpreter's `cos`.
pub extern "C" fn needle_cos(x: f32) -> f32 {
    UnaryOp::Cos.f32_fn()(x)
}

/// The interpreter's `x ** c`.
pub extern "C" fn needle_powf(x: f32, c: f32) -> f32 {
    ScalarOp::Pow.f32_fn()(x, c)
}

/// (symbol name, address, number of f32 arguments) of every helper.
pub fn helpers() -> [(&'static str, *const u8, usize); 7] {
    [
        ("needle_exp", needle_exp as *const u8, 1),
        ("needle_log", needle_log as *const u8, 1),
        ("needle_tanh", needle_tanh as *const u8, 1),
        ("needle_sigmoid", needle_sigmoid as *const u8, 1),
        ("needle_sin", needle_sin as *const u8, 1),
        ("needle_cos", needle_cos as *const u8, 1),
        ("needle_powf", needle_powf as *const u8, 2),
    ]
}

/// numpy's pairwise sum of the `n` f32 values at `values` (a run generated code gathered).
///
/// # Safety
/// `values` must point to `n` initialized f32 values, valid for reads during the call.
pub unsafe extern "C" fn needle_pairwise_sum(values: *const f32, n: u64) -> f32 {
    // SAFETY: the caller's contract; generated code passes its run buffer (a scratch slot of
    // at least `n` elements it has just written) and the run's length.
    let values = unsafe { std::slice::from_raw_parts(values, n as usize) };
    pairwise_sum(values)
}

/// Symbol name of [`needle_pairwise_sum`] (signature `(pointer, i64) -> f32`).
pub const PAIRWISE_SUM: &str = "needle_pairwise_sum";
