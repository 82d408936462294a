//! What a capture is valid for: its arguments' dtypes, shapes and strides, the gradient
//! switch, checked mode, and needle-core's structure epoch (train/eval switches).

use std::fmt;

use needle_core::{DType, Tensor};

/// The argument signature of a captured call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Signature {
    args: Vec<(DType, Vec<usize>, Vec<isize>)>,
    /// Per argument, the first argument that is the same tensor (itself when none is): a
    /// capture of `f(x, x)` has one input where `f(x, y)` has two.
    same_as: Vec<usize>,
    grad: bool,
    checked: bool,
    epoch: u64,
}

/// dtype, shape and strides of a realized argument.
fn layout_of(t: &Tensor) -> (DType, Vec<usize>, Vec<isize>) {
    let node = t.node();
    let value = node.value().expect("arguments are realized before a call");
    (
        node.dtype(),
        value.layout.shape.clone(),
        value.layout.strides.clone(),
    )
}

/// The first argument that denotes the same node as argument `i`.
fn same_as(args: &[&Tensor], i: usize) -> usize {
    let node = args[i].node();
    (0..i)
        .find(|&j| std::rc::Rc::ptr_eq(&args[j].node(), &node))
        .unwrap_or(i)
}

impl Signature {
    /// The signature of a call with `args` (realized).
    pub(crate) fn of(args: &[&Tensor], grad: bool, checked: bool, epoch: u64) -> Signature {
        Signature {
            args: args.iter().map(|a| layout_of(a)).collect(),
            same_as: (0..args.len()).map(|i| same_as(args, i)).collect(),
            grad,
            checked,
            epoch,
        }
    }

    /// Whether a call with `args` has this signature (without allocating).
    pub(crate) fn matches(&self, args: &[&Tensor], grad: bool, checked: bool, epoch: u64) -> bool {
        if (self.grad, self.checked, self.epoch) != (grad, checked, epoch)
            || self.args.len() != args.len()
        {
            return false;
        }
        if (0..args.len()).any(|i| self.same_as[i] != same_as(args, i)) {
            return false;
        }
        self.args
            .iter()
            .zip(args)
            .all(|((dtype, shape, strides), a)| {
                let node = a.node();
                node.value().is_some_and(|v| {
                    node.dtype() == *dtype
                        && v.layout.shape[..] == shape[..]
                        && v.layout.strides[..] == strides[..]
                })
            })
    }

    /// What differs in a call with `args` (for `NEEDLE_DEBUG=jit`): "input 0 shape
    /// [100, 784] → [60, 784]".
    pub(crate) fn difference(
        &self,
        args: &[&Tensor],
        grad: bool,
        checked: bool,
        epoch: u64,
    ) -> String {
        if self.epoch != epoch {
            return "a module switched between train() and eval()".into();
        }
        if self.grad != grad {
            return format!(
                "the gradient switch changed (enabled: {} → {grad})",
                self.grad
            );
        }
        if self.checked != checked {
            return format!("checked mode changed ({} → {checked})", self.checked);
        }
        if self.args.len() != args.len() {
            return format!("{} arguments → {}", self.args.len(), args.len());
        }
        for (i, (was, a)) in self.args.iter().zip(args).enumerate() {
            let now = layout_of(a);
            if was.0 != now.0 {
                return format!("input {i} dtype {} → {}", was.0, now.0);
            }
            if was.1 != now.1 {
                return format!("input {i} shape {:?} → {:?}", was.1, now.1);
            }
            if was.2 != now.2 {
                return format!("input {i} strides {:?} → {:?}", was.2, now.2);
            }
        }
        if let Some(i) = (0..args.len()).find(|&i| self.same_as[i] != same_as(args, i)) {
            return format!("input {i} is another argument's tensor, or no longer is");
        }
        "nothing (the capture was dropped)".into()
    }
}

impl fmt::Display for Signature {
    /// `inputs f32 [100, 784], i64 [100]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inputs ")?;
        for (i, (dtype, shape, _)) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{dtype} {shape:?}")?;
        }
        if !self.grad {
            write!(f, " (no_grad)")?;
        }
        Ok(())
    }
}
