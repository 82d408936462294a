//! Stochastic gradient descent.

use std::collections::HashMap;

use super::params::{check_trainable, GradientUse};
use super::schedule::{LearningRate, LrSchedule};
use super::{decayed_gradient, read_slots, reject_unknown, Optimizer, StateError, STEP};
use crate::mode::NoGradGuard;
use crate::tensor::Tensor;

/// How SGD accumulates momentum.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Momentum {
    /// The course's exponential moving average: u ← βu + (1−β)g, θ ← θ − lr·u.
    #[default]
    Ema,
    /// PyTorch's form: u ← βu + g, θ ← θ − lr·u (or, with Nesterov, θ ← θ − lr·(g + βu)).
    Classic {
        /// Use the Nesterov look-ahead.
        nesterov: bool,
    },
}

/// SGD with optional momentum and L2 weight decay (added to the gradient, as the course).
///
/// ```
/// use needle_core::optim::{Optimizer, Sgd};
/// use needle_core::Tensor;
/// let w = Tensor::from_vec(vec![1.0], &[1]).requires_grad_(true);
/// let mut opt = Sgd::new(vec![w.clone()], 0.1);
/// (&w * &w).sum_all().backward();
/// opt.step();
/// assert!((w.item() - 0.8).abs() < 1e-6);
/// ```
pub struct Sgd {
    params: Vec<Tensor>,
    lr: LearningRate,
    grads: GradientUse,
    momentum: f64,
    weight_decay: f32,
    kind: Momentum,
    velocity: Vec<Option<Tensor>>,
}

impl Sgd {
    /// Plain SGD.
    ///
    /// Panics, naming the parameter's index, shape and where it was created, when one cannot
    /// receive a gradient: it does not require grad, is not a leaf, or is not f32.
    #[track_caller]
    pub fn new(params: Vec<Tensor>, lr: f32) -> Sgd {
        check_trainable("Sgd::new", &params);
        let n = params.len();
        Sgd {
            params,
            lr: LearningRate::new(lr),
            grads: GradientUse::new(n),
            momentum: 0.0,
            weight_decay: 0.0,
            kind: Momentum::Ema,
            velocity: vec![None; n],
        }
    }

    /// With momentum β in the given form (f64: the EMA form's 1 − β is formed in double and
    /// rounded once, as in the course and PyTorch).
    pub fn momentum(mut self, beta: f64, kind: Momentum) -> Sgd {
        self.momentum = beta;
        self.kind = kind;
        self
    }

    /// With L2 weight decay added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f32) -> Sgd {
        self.weight_decay = weight_decay;
        self
    }

    /// With a learning-rate schedule the optimizer owns: step k (counted from here) uses
    /// `schedule.lr(k)`, replacing the rate given to [`new`](Self::new); see
    /// [`Optimizer::lr`] and [`Optimizer::set_lr`].
    pub fn schedule(mut self, schedule: impl LrSchedule + 'static) -> Sgd {
        self.lr.attach(Box::new(schedule));
        self
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) {
        // A guard, not `no_grad(|| ...)`: a closure would end `#[track_caller]`, and the
        // updates record the user's `step()` line.
        let _no_grad = NoGradGuard::new();
        let lr = Tensor::scalar(self.lr.get());
        for (i, (param, velocity)) in self.params.iter().zip(&mut self.velocity).enumerate() {
            let Some(grad) = self.grads.gradient(i, param) else {
                continue;
            };
            let g = decayed_gradient(param, &grad, self.weight_decay);
            let direction = if self.momentum == 0.0 {
                g
            } else {
                let previous = match velocity {
                    Some(v) => v,
                    None => velocity.insert(Tensor::zeros(&param.shape())),
                };
                let (beta, rest) = (self.momentum as f32, (1.0 - self.momentum) as f32);
                let u = match self.kind {
                    Momentum::Ema => &(&*previous * beta) + &(&g * rest),
                    Momentum::Classic { .. } => &(&*previous * beta) + &g,
                };
                previous.assign_by(&u, STEP);
                match self.kind {
                    Momentum::Classic { nesterov: true } => &g + &(&u * beta),
                    _ => u,
                }
            };
            param.assign_by(&(param - &(&direction * &lr)), STEP);
        }
        self.grads.finish_step("Sgd");
        self.lr.advance();
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn lr(&self) -> f32 {
        self.lr.get()
    }

    fn set_lr(&mut self, lr: f32) {
        self.lr.set(lr);
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        self.velocity
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (format!("sgd.velocity.{i}"), v.clone())))
            .chain(self.lr.state())
            .collect()
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<(), StateError> {
        let (schedule_step, state) = self.lr.read_state(state)?;
        reject_unknown(&state, &["sgd.velocity."])?;
        self.velocity = read_slots("sgd.velocity", &self.params, &state)?;
        self.lr.resume(schedule_step);
        Ok(())
    }
}
