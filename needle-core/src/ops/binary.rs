//! The binary family's `Tensor` methods (see `op/binary.rs`): broadcasting ops of two
//! tensors, which given a number as their right-hand side record the scalar op instead.

use crate::op::{BinaryOp, Op, ScalarOp};
use crate::ops::require_f32;
use crate::shape::{broadcast_dims, fmt_shape, or_panic};
use crate::tensor::Tensor;
use smallvec::smallvec;

/// The right-hand side of a binary op: another tensor or a plain number.
pub enum Operand {
    /// A tensor (broadcast with NumPy rules).
    Tensor(Tensor),
    /// A constant.
    Scalar(f32),
}

impl From<f32> for Operand {
    fn from(v: f32) -> Self {
        Operand::Scalar(v)
    }
}

impl From<Tensor> for Operand {
    fn from(t: Tensor) -> Self {
        Operand::Tensor(t)
    }
}

impl From<&Tensor> for Operand {
    fn from(t: &Tensor) -> Self {
        Operand::Tensor(t.clone())
    }
}

impl Tensor {
    /// Binary op of two tensors with NumPy broadcasting (inserting explicit broadcast views).
    #[track_caller]
    pub(crate) fn binary(&self, op: BinaryOp, other: &Tensor) -> Tensor {
        let name = || Op::Binary(op).name();
        let (a, b) = (self.node(), other.node());
        require_f32(name, a.dtype());
        require_f32(name, b.dtype());
        let shape = or_panic(broadcast_dims(a.shape(), b.shape()), || {
            format!(
                "{}: shapes {} and {} are not broadcastable",
                name(),
                fmt_shape(a.shape()),
                fmt_shape(b.shape())
            )
        });
        let a = if a.shape() == shape.as_slice() {
            a
        } else {
            self.broadcast_to(&shape).node()
        };
        let b = if b.shape() == shape.as_slice() {
            b
        } else {
            other.broadcast_to(&shape).node()
        };
        Tensor::record(Op::Binary(op), smallvec![a, b], shape, crate::DType::F32)
    }

    #[track_caller]
    fn dispatch(&self, rhs: Operand, tensor_op: BinaryOp, scalar_op: ScalarOp) -> Tensor {
        match rhs {
            Operand::Tensor(t) => self.binary(tensor_op, &t),
            Operand::Scalar(c) => self.scalar_op(scalar_op, c),
        }
    }

    /// `self + rhs` (tensor with broadcasting, or scalar).
    #[track_caller]
    pub fn add(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Add, ScalarOp::Add)
    }

    /// `self − rhs`.
    #[track_caller]
    pub fn sub(&self, rhs: impl Into<Operand>) -> Tensor {
        match rhs.into() {
            Operand::Tensor(t) => self.binary(BinaryOp::Sub, &t),
            Operand::Scalar(c) => self.scalar_op(ScalarOp::Add, -c),
        }
    }

    /// `self · rhs` (elementwise).
    #[track_caller]
    pub fn mul(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Mul, ScalarOp::Mul)
    }

    /// `self / rhs` (elementwise).
    #[track_caller]
    pub fn div(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Div, ScalarOp::Div)
    }

    /// Elementwise maximum (ties split the gradient evenly, as PyTorch does).
    #[track_caller]
    pub fn maximum(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Max, ScalarOp::Max)
    }

    /// `self` where `mask` is non-zero, 0 elsewhere (`torch.where(mask, self, 0)`); `mask`
    /// broadcasts and gets no gradient. Unlike `self * mask`, a masked-out infinity or NaN
    /// gives 0, not NaN.
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![f32::INFINITY, 2.0], &[2]);
    /// let keep = Tensor::from_vec(vec![0.0, 1.0], &[2]);
    /// assert_eq!(x.masked(&keep).to_vec(), vec![0.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn masked(&self, mask: &Tensor) -> Tensor {
        self.binary(BinaryOp::Mask, mask)
    }

    /// Elementwise minimum, `−max(−a, −b)`.
    #[track_caller]
    pub fn minimum(&self, rhs: impl Into<Operand>) -> Tensor {
        match rhs.into() {
            Operand::Tensor(t) => self.neg().maximum(t.neg()).neg(),
            Operand::Scalar(c) => self.neg().maximum(-c).neg(),
        }
    }

    /// Clamps into `[lo, hi]`.
    #[track_caller]
    pub fn clamp(&self, lo: f32, hi: f32) -> Tensor {
        self.maximum(lo).minimum(hi)
    }

    /// `self²`.
    #[track_caller]
    pub fn square(&self) -> Tensor {
        self.mul(self)
    }

    /// 1.0 where equal, else 0.0 (no gradient).
    #[track_caller]
    pub fn eq(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Eq, ScalarOp::Eq)
    }

    /// 1.0 where different, else 0.0 (no gradient).
    #[track_caller]
    pub fn ne(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Ne, ScalarOp::Ne)
    }

    /// 1.0 where `self > rhs` (no gradient).
    #[track_caller]
    pub fn gt(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Gt, ScalarOp::Gt)
    }

    /// 1.0 where `self >= rhs` (no gradient).
    #[track_caller]
    pub fn ge(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Ge, ScalarOp::Ge)
    }

    /// 1.0 where `self < rhs` (no gradient).
    #[track_caller]
    pub fn lt(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Lt, ScalarOp::Lt)
    }

    /// 1.0 where `self <= rhs` (no gradient).
    #[track_caller]
    pub fn le(&self, rhs: impl Into<Operand>) -> Tensor {
        self.dispatch(rhs.into(), BinaryOp::Le, ScalarOp::Le)
    }
}
