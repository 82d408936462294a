//! The unary family's `Tensor` methods (see `op/unary.rs`).

use crate::op::{Op, UnaryOp};
use crate::ops::require_f32;
use crate::shape::Dims;
use crate::tensor::Tensor;
use smallvec::smallvec;

impl Tensor {
    /// Records `op` of this tensor.
    #[track_caller]
    pub(crate) fn unary(&self, op: UnaryOp) -> Tensor {
        let node = self.node();
        require_f32(|| Op::Unary(op).name(), node.dtype());
        let shape = Dims::from_slice(node.shape());
        Tensor::record(Op::Unary(op), smallvec![node], shape, crate::DType::F32)
    }

    /// `−self`.
    #[track_caller]
    pub fn neg(&self) -> Tensor {
        self.unary(UnaryOp::Neg)
    }

    /// `eˢᵉˡᶠ`.
    #[track_caller]
    pub fn exp(&self) -> Tensor {
        self.unary(UnaryOp::Exp)
    }

    /// Natural logarithm.
    #[track_caller]
    pub fn log(&self) -> Tensor {
        self.unary(UnaryOp::Log)
    }

    /// Square root.
    #[track_caller]
    pub fn sqrt(&self) -> Tensor {
        self.unary(UnaryOp::Sqrt)
    }

    /// `max(self, 0)`; the gradient at 0 is 0.
    #[track_caller]
    pub fn relu(&self) -> Tensor {
        self.unary(UnaryOp::Relu)
    }

    /// Hyperbolic tangent.
    #[track_caller]
    pub fn tanh(&self) -> Tensor {
        self.unary(UnaryOp::Tanh)
    }

    /// Logistic sigmoid `1/(1+e⁻ˣ)`.
    #[track_caller]
    pub fn sigmoid(&self) -> Tensor {
        self.unary(UnaryOp::Sigmoid)
    }

    /// Sine, in radians (the gradient is `cos`).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![0.0, std::f32::consts::FRAC_PI_2], &[2]);
    /// assert_eq!(x.sin().to_vec(), vec![0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn sin(&self) -> Tensor {
        self.unary(UnaryOp::Sin)
    }

    /// Cosine, in radians (the gradient is `−sin`).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![0.0, std::f32::consts::PI], &[2]);
    /// assert_eq!(x.cos().to_vec(), vec![1.0, -1.0]);
    /// ```
    #[track_caller]
    pub fn cos(&self) -> Tensor {
        self.unary(UnaryOp::Cos)
    }

    /// Absolute value, `|self|` (`|−0| = +0`); the gradient is `sign(self)`, 0 at 0 (as
    /// PyTorch's).
    ///
    /// ```
    /// use needle_core::Tensor;
    /// let x = Tensor::from_vec(vec![-2.5, -0.0, 3.0], &[3]);
    /// assert_eq!(x.abs().to_vec(), vec![2.5, 0.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn abs(&self) -> Tensor {
        self.unary(UnaryOp::Abs)
    }
}
