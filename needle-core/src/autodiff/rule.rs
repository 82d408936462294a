//! What a gradient rule receives: the forward node, its inputs, the adjoint of its output,
//! and which inputs want a gradient.

use crate::node::NodeRef;
use crate::tensor::Tensor;

/// The forward node being differentiated and the adjoint `g` of its output.
pub(super) struct Rule<'a> {
    pub(super) node: &'a NodeRef,
    pub(super) inputs: &'a [NodeRef],
    /// The adjoint of the node's output.
    pub(super) g: &'a Tensor,
    pub(super) wanted: &'a dyn Fn(&NodeRef) -> bool,
}

impl Rule<'_> {
    /// Input `i`'s value, as a tensor handle.
    pub(super) fn x(&self, i: usize) -> Tensor {
        Tensor::view_of(self.inputs[i].clone())
    }

    /// The node's own value (its output), as a tensor handle.
    pub(super) fn y(&self) -> Tensor {
        Tensor::view_of(self.node.clone())
    }

    /// Whether input `i` gets a gradient (single-input ops are only visited when it does).
    pub(super) fn need(&self, i: usize) -> bool {
        let input = &self.inputs[i];
        input.requires_grad() && (self.wanted)(input)
    }

    /// Input `i`'s shape.
    pub(super) fn input_shape(&self, i: usize) -> &[usize] {
        self.inputs[i].shape()
    }
}
