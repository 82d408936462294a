//! Functions called from generated code: transcendental functions, the interpreter's own
//! scalar functions, and the pairwise sum of a long run, the interpreter's own too — so JIT and
//! interpreter results agree bit for bit.

use needle_core::interp::pairwise::pairwise_sum;
use needle_core::op::{ScalarOp, UnaryOp};

/// Declares one host helper per unary op that generated code calls rather than expands
/// (the transcendentals), each calling the op table's own function, and the table of them.
macro_rules! unary_helpers {
    ($($op:ident => $symbol:ident),* $(,)?) => {
        $(
            #[doc = concat!("The interpreter's `", stringify!($op), "`.")]
            pub extern "C" fn $symbol(x: f32) -> f32 {
                UnaryOp::$op.f32_fn()(x)
            }
        )*

        /// (op, symbol name, address) of every unary helper.
        const UNARY_HELPERS: &[(UnaryOp, &str, *const u8)] = &[
            $((UnaryOp::$op, stringify!($symbol), $symbol as *const u8),)*
        ];
    };
}

// Adding a transcendental unary op to the JIT is one line here.
unary_helpers! {
    Exp => needle_exp,
    Log => needle_log,
    Tanh => needle_tanh,
    Sigmoid => needle_sigmoid,
    Sin => needle_sin,
    Cos => needle_cos,
}

/// The interpreter's `x ** c`.
pub extern "C" fn needle_powf(x: f32, c: f32) -> f32 {
    ScalarOp::Pow.f32_fn()(x, c)
}

/// Symbol name of [`needle_powf`] (signature `(f32, f32) -> f32`).
pub const POWF: &str = "needle_powf";

/// The symbol of the helper computing unary `op`, if generated code calls one for it.
pub fn unary_helper(op: UnaryOp) -> Option<&'static str> {
    UNARY_HELPERS
        .iter()
        .find(|(o, _, _)| *o == op)
        .map(|(_, symbol, _)| *symbol)
}

/// (symbol name, address, number of f32 arguments) of every helper.
pub fn helpers() -> impl Iterator<Item = (&'static str, *const u8, usize)> {
    UNARY_HELPERS
        .iter()
        .map(|&(_, symbol, address)| (symbol, address, 1))
        .chain([(POWF, needle_powf as *const u8, 2)])
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
