//! Transcendental functions called from generated code. They are the interpreter's own scalar
//! functions, so JIT and interpreter results agree bit for bit.

use needle_core::interp::elementwise::{scalar_fn, unary_fn};
use needle_core::op::{ScalarOp, UnaryOp};

pub extern "C" fn needle_exp(x: f32) -> f32 {
    unary_fn(UnaryOp::Exp)(x)
}

pub extern "C" fn needle_log(x: f32) -> f32 {
    unary_fn(UnaryOp::Log)(x)
}

pub extern "C" fn needle_tanh(x: f32) -> f32 {
    unary_fn(UnaryOp::Tanh)(x)
}

pub extern "C" fn needle_sigmoid(x: f32) -> f32 {
    unary_fn(UnaryOp::Sigmoid)(x)
}

pub extern "C" fn needle_powf(x: f32, c: f32) -> f32 {
    scalar_fn(ScalarOp::Pow)(x, c)
}

/// (symbol name, address, number of f32 arguments) of every helper.
pub fn helpers() -> [(&'static str, *const u8, usize); 5] {
    [
        ("needle_exp", needle_exp as *const u8, 1),
        ("needle_log", needle_log as *const u8, 1),
        ("needle_tanh", needle_tanh as *const u8, 1),
        ("needle_sigmoid", needle_sigmoid as *const u8, 1),
        ("needle_powf", needle_powf as *const u8, 2),
    ]
}
