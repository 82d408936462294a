//! Optimizers (the course's `optim`), learning-rate schedules and gradient clipping.
//!
//! Updates are recorded under [`no_grad`](crate::no_grad) on the variables' current values
//! (no detached copies: a copy is a node and a handle per tensor per step) and given to the
//! parameters with [`Tensor::assign`](crate::Tensor::assign): the step's graph is not
//! differentiable and is released after it runs, the
//! stored `.grad` is never modified, and in lazy/JIT mode the whole update stays pending and runs
//! in the same program as the forward and backward pass. Everything that changes between steps
//! (learning rate, Adam's bias corrections) enters the graph as a 0-d input tensor rather than a
//! constant, so a compiled step is reused.
//!
//! # Which tensors, which gradients
//!
//! - Every tensor given to an optimizer must be able to receive a gradient: an f32 leaf that
//!   requires grad. Anything else (typically a `#[module]` field created without
//!   `.requires_grad_(true)`, which would silently never train) panics in the constructor,
//!   naming the parameter's index, shape and the line that created it.
//! - `step()` applies each parameter's stored gradient ([`Tensor::grad`]) and leaves it in
//!   place. As in PyTorch, only [`zero_grad`](Optimizer::zero_grad) clears gradients, and a
//!   parameter whose gradient is `None` (cleared and not reached by the last `backward`) is
//!   skipped: no update, no weight decay, its momentum or moments untouched (Adam's step
//!   counter, shared by all parameters as in the course, still advances).
//! - A step that finds the same gradient as the previous step (no `backward` since) applies
//!   it again, as PyTorch does, and prints a warning once per optimizer: `backward` here
//!   overwrites gradients rather than accumulating them, so this is almost always a forgotten
//!   `backward`.
//! - A graph recorded before a step reads the parameters' old values: `backward` through it
//!   panics at the `backward` call, naming the line of the `opt.step()` that updated them (in
//!   every mode; PyTorch's "modified by an inplace operation").
//! - An optimizer can own a learning-rate schedule (`Adam::new(params, lr).schedule(...)`),
//!   which it advances at every step; [`Optimizer::lr`] is the rate the next step uses.

mod adam;
mod clip;
mod params;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamW};
pub use clip::clip_grad_norm;
pub use schedule::{ConstantLr, CosineAnnealing, LinearWarmup, LrSchedule, StepLr};
pub use sgd::{Momentum, Sgd};

use std::collections::HashMap;

use crate::tensor::Tensor;

/// A saved optimizer state that does not fit the optimizer.
#[derive(Debug, thiserror::Error)]
#[error("optimizer state {name:?}: {problem}")]
pub struct StateError {
    /// The state entry at fault.
    pub name: String,
    /// What is wrong with it.
    pub problem: String,
}

/// What optimizer updates are attributed to in errors about graphs recorded before them.
pub(crate) const STEP: &str = "opt.step()";

/// Something that updates parameters from their gradients.
pub trait Optimizer {
    /// Applies one update to every parameter that has a gradient; a parameter whose gradient
    /// is `None` is skipped (see the [module documentation](self) for the rules). Then an
    /// attached learning-rate schedule moves on to the next step's rate.
    ///
    /// The update is recorded at the caller's line: a later `backward` through a graph
    /// recorded before it names that line.
    #[track_caller]
    fn step(&mut self);
    /// The parameters being optimized.
    fn params(&self) -> &[Tensor];
    /// The learning rate the next step uses (with a schedule attached, the schedule's rate
    /// for that step).
    fn lr(&self) -> f32;
    /// Sets the learning rate of the next step. Without a schedule it stays until set again
    /// (a schedule applied by hand calls this before every step); with one attached, the
    /// schedule sets the rate again after that step.
    fn set_lr(&mut self, lr: f32);
    /// Named optimizer state (momentum buffers, moments, step counter, the position in an
    /// attached learning-rate schedule) for checkpoints.
    fn state(&self) -> Vec<(String, Tensor)>;
    /// Restores state saved by [`state`](Self::state). Every entry is checked (names, shapes)
    /// before anything changes, so a failed load leaves the optimizer as it was.
    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<(), StateError>;
    /// Clears every parameter's gradient (the course's `reset_grad`).
    fn zero_grad(&self) {
        for p in self.params() {
            p.zero_grad();
        }
    }
}

/// The gradient with L2 weight decay folded in, `g + wd·θ` (recorded under `no_grad` by the
/// optimizers' steps).
pub(crate) fn decayed_gradient(param: &Tensor, grad: &Tensor, weight_decay: f32) -> Tensor {
    if weight_decay == 0.0 {
        grad.clone()
    } else {
        grad + &(param * weight_decay)
    }
}

/// Checks per-parameter slots named `{prefix}.{i}` in `state` against the parameters' shapes
/// and dtypes and returns the new slot contents (absent entries leave a slot empty).
pub(crate) fn read_slots(
    prefix: &str,
    params: &[Tensor],
    state: &HashMap<String, Tensor>,
) -> Result<Vec<Option<Tensor>>, StateError> {
    for name in state
        .keys()
        .filter(|k| k.starts_with(&format!("{prefix}.")))
    {
        let index = name[prefix.len() + 1..]
            .parse::<usize>()
            .ok()
            .filter(|&i| i < params.len());
        if index.is_none() {
            return Err(StateError {
                name: name.clone(),
                problem: format!(
                    "no parameter with this index (the optimizer has {})",
                    params.len()
                ),
            });
        }
    }
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = format!("{prefix}.{i}");
            match state.get(&name) {
                None => Ok(None),
                Some(t) if t.shape() == p.shape() && t.dtype() == p.dtype() => Ok(Some(t.detach())),
                Some(t) => Err(StateError {
                    problem: format!(
                        "{} {:?} does not match the parameter's {} {:?}",
                        t.dtype(),
                        t.shape(),
                        p.dtype(),
                        p.shape()
                    ),
                    name,
                }),
            }
        })
        .collect()
}

/// Rejects entries whose name starts with none of `prefixes`.
pub(crate) fn reject_unknown(
    state: &HashMap<String, Tensor>,
    prefixes: &[&str],
) -> Result<(), StateError> {
    match state
        .keys()
        .filter(|k| !prefixes.iter().any(|p| k.starts_with(p)))
        .min()
    {
        Some(name) => Err(StateError {
            name: name.clone(),
            problem: format!(
                "not part of this optimizer's state (expected names starting with {prefixes:?})"
            ),
        }),
        None => Ok(()),
    }
}
