//! The reduce family: reductions over a set of axes. Its gradient rules are in
//! `autodiff/reduce.rs`, its kernel in `interp/reduce.rs`, its `Tensor` methods in
//! `ops/reduce.rs`.

/// Reductions over a set of axes (the output keeps them with size 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Σ
    Sum,
    /// max
    Max,
}

impl ReduceOp {
    /// Every reduction.
    pub const ALL: &'static [ReduceOp] = &[ReduceOp::Sum, ReduceOp::Max];

    /// The op's name in messages and debug output.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "max",
        }
    }
}
