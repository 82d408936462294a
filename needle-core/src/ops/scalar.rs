//! The scalar family's `Tensor` methods of their own (see `op/scalar.rs`); the methods of
//! `binary.rs` given a number record a scalar op too.

use crate::op::{Op, ScalarOp};
use crate::ops::require_f32;
use crate::shape::Dims;
use crate::tensor::Tensor;
use smallvec::smallvec;

impl Tensor {
    /// Records `op` of this tensor with the constant `c`.
    #[track_caller]
    pub(crate) fn scalar_op(&self, op: ScalarOp, c: f32) -> Tensor {
        let node = self.node();
        require_f32(|| Op::Scalar(op, c).name(), node.dtype());
        let shape = Dims::from_slice(node.shape());
        Tensor::record(Op::Scalar(op, c), smallvec![node], shape, crate::DType::F32)
    }

    /// `c − self`.
    #[track_caller]
    pub fn rsub_scalar(&self, c: f32) -> Tensor {
        self.neg().scalar_op(ScalarOp::Add, c)
    }

    /// `c / self`.
    #[track_caller]
    pub fn rdiv_scalar(&self, c: f32) -> Tensor {
        self.scalar_op(ScalarOp::RDiv, c)
    }

    /// `selfⁿ` with a constant exponent.
    #[track_caller]
    pub fn powf(&self, exponent: f32) -> Tensor {
        self.scalar_op(ScalarOp::Pow, exponent)
    }
}
