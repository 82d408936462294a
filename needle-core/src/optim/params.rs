//! What an optimizer accepts as parameters, and which gradient each step applies.
//!
//! PyTorch's rules, with one difference: a tensor that can never receive a gradient is refused
//! when the optimizer is built instead of being carried along and never trained.

use std::panic::Location;

use crate::dtype::DType;
use crate::op::Op;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

/// Panics, at the caller's line, naming the first tensor of `params` that no `backward` can
/// give a gradient: one that does not require grad (the usual cause: a `#[module]` field
/// created without `.requires_grad_(true)`), one computed by an op (gradients are stored on
/// leaves, and updating it would not change what it was computed from), or an i64 tensor.
/// `optimizer` names the constructor in the message (`"Adam::new"`).
#[track_caller]
pub(crate) fn check_trainable(optimizer: &str, params: &[Tensor]) {
    for (i, p) in params.iter().enumerate() {
        let node = p.node();
        let what = || {
            format!(
                "{optimizer}: parameter {i} ({} {}, created at {})",
                node.dtype(),
                fmt_shape(node.shape()),
                node.origin()
            )
        };
        assert!(
            node.dtype() == DType::F32,
            "{}: only f32 tensors can be trained",
            what()
        );
        assert!(
            node.requires_grad(),
            "{} does not require grad, so no backward would ever give it a gradient and it \
             would never train. Create it with `.requires_grad_(true)` (every `Tensor` field of \
             a #[module] struct is a trainable parameter, like PyTorch's nn.Parameter); mark \
             state that is not trained `#[module(buffer)]`, and leave frozen parameters out of \
             the list given to the optimizer",
            what()
        );
        assert!(
            *node.op() == Op::Leaf,
            "{} is the result of {}, not a leaf: backward stores gradients on leaves only, and \
             updating it would not change the tensors it was computed from (PyTorch: can't \
             optimize a non-leaf Tensor). Give the optimizer the leaf tensors themselves",
            what(),
            node.op().name()
        );
    }
}

/// Remembers the gradient each parameter's last step applied, to notice a step that finds
/// the same one again: no `backward` since, so the old gradient is applied a second time.
/// That is PyTorch's behaviour (a stored gradient stays until `zero_grad`), and deliberate
/// there for accumulation; here `backward` overwrites rather than accumulates, so it is
/// almost always a forgotten `backward`, and is reported once per optimizer on stderr.
pub(crate) struct GradientUse {
    /// Per parameter: the node id of the gradient the last step applied.
    applied: Vec<Option<u64>>,
    /// Parameters of the current step whose gradient was applied before.
    repeated: Vec<usize>,
    warned: bool,
}

impl GradientUse {
    /// Tracking for `n` parameters.
    pub(crate) fn new(n: usize) -> GradientUse {
        GradientUse {
            applied: vec![None; n],
            repeated: Vec::new(),
            warned: false,
        }
    }

    /// The gradient parameter `i` steps with: its stored gradient, or `None` (skip the
    /// parameter, as PyTorch does) when it has none — after `zero_grad`, or when no backward
    /// reached it.
    pub(crate) fn gradient(&mut self, i: usize, param: &Tensor) -> Option<Tensor> {
        let grad = param.grad()?;
        let id = grad.node().id();
        if self.applied[i] == Some(id) {
            self.repeated.push(i);
        }
        self.applied[i] = Some(id);
        Some(grad)
    }

    /// Ends a step of `optimizer` (called at the user's `step()`, whose line the warning
    /// names): warns the first time some parameter's gradient was applied twice.
    #[track_caller]
    pub(crate) fn finish_step(&mut self, optimizer: &str) {
        if self.repeated.is_empty() {
            return;
        }
        if !self.warned {
            self.warned = true;
            eprintln!("{}", self.warning(optimizer, Location::caller()));
        }
        self.repeated.clear();
    }

    fn warning(&self, optimizer: &str, at: &Location<'_>) -> String {
        let list: Vec<String> = self.repeated.iter().map(|i| i.to_string()).collect();
        format!(
            "needle warning: {optimizer}::step at {at}: parameter{} {} of {} still {} the \
             gradient the previous step applied (no backward since), and it is applied again, \
             as in PyTorch. Call zero_grad() and backward() before each step; a parameter \
             without a gradient is skipped. (Shown once per optimizer.)",
            if list.len() == 1 { "" } else { "s" },
            list.join(", "),
            self.applied.len(),
            if list.len() == 1 { "has" } else { "have" },
        )
    }
}
