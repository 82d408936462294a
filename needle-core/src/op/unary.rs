//! The unary family: elementwise functions of one input, one line per op (name and f32
//! function). Its gradient rules are in `autodiff/unary.rs`, its kernel in `interp/unary.rs`,
//! its `Tensor` methods in `ops/unary.rs`.

unary_table! {
    /// Elementwise functions of one input.
    UnaryOp {
        /// −x
        Neg => "neg", |x| -x;
        /// eˣ
        Exp => "exp", f32::exp;
        /// ln x
        Log => "log", f32::ln;
        /// √x
        Sqrt => "sqrt", f32::sqrt;
        /// max(x, 0), as numpy's `maximum(x, 0)`: NaN stays NaN, −0 becomes +0.
        Relu => "relu", |x| if x > 0.0 || x.is_nan() { x } else { 0.0 };
        /// tanh x
        Tanh => "tanh", f32::tanh;
        /// 1 / (1 + e⁻ˣ)
        Sigmoid => "sigmoid", |x| 1.0 / (1.0 + (-x).exp());
        /// sin x
        Sin => "sin", f32::sin;
        /// cos x
        Cos => "cos", f32::cos;
        /// |x| (clears the sign bit: |−0| = +0, NaN stays NaN). A primitive because the
        /// composite `max(x, −x)` gives −0 for +0.
        Abs => "abs", f32::abs;
    }
}
