//! Stochastic gradient descent.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

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
    /// Nesterov's look-ahead in the EMA form: u ← βu + (1−β)g, θ ← θ − lr·(βu + (1−β)g), the
    /// update of the lecture's u ← βu + (1−β)∇f(θ − lr·βu) written for the look-ahead point.
    Nesterov,
    /// PyTorch's form: u ← βu + g, θ ← θ − lr·u (or, with Nesterov, θ ← θ − lr·(g + βu)).
    Classic {
        /// Use the Nesterov look-ahead.
        nesterov: bool,
    },
}

/// SGD with optional momentum and L2 weight decay (added to the gradient, as the course), and
/// optionally the lecture's unbiased momentum for the EMA forms.
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
    bias_correction: bool,
    /// Bias-corrected steps taken (shared with the host work a captured step repeats).
    step: Rc<Cell<u64>>,
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
            bias_correction: false,
            step: Rc::new(Cell::new(0)),
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

    /// The lecture's unbiased momentum (off by default): the EMA u_t, which starts at 0 and so
    /// underweights the first gradients, is divided by 1 − βᵗ (formed in double, rounded once),
    /// making it a weighted average of the gradients seen. The first update is then lr·g. With
    /// [`Momentum::Nesterov`] the direction becomes β·u_t/(1 − βᵗ) + (1−β)g. PyTorch's
    /// [`Momentum::Classic`] sums gradients instead of averaging them and has no such
    /// correction: [`step`](Optimizer::step) panics on that combination.
    pub fn bias_correction(mut self, on: bool) -> Sgd {
        self.bias_correction = on;
        self
    }

    /// 1 − βᵗ for this step as a 0-d input (a constant would recompile a JIT step each time),
    /// or `None` without correction.
    #[track_caller]
    fn correction(&mut self) -> Option<Tensor> {
        if !self.bias_correction || self.momentum == 0.0 {
            return None;
        }
        assert!(
            !matches!(self.kind, Momentum::Classic { .. }),
            "Sgd: bias correction is defined for the EMA momentum forms (Momentum::Ema, \
             Momentum::Nesterov), not for PyTorch's Momentum::Classic"
        );
        let step = self.step.clone();
        crate::capture::host_action(move || step.set(step.get() + 1));
        let (step, beta) = (self.step.clone(), self.momentum);
        Some(Tensor::host_scalar(move || {
            let t = i32::try_from(step.get()).unwrap_or(i32::MAX);
            (1.0 - beta.powi(t)) as f32
        }))
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) {
        // A guard, not `no_grad(|| ...)`: a closure would end `#[track_caller]`, and the
        // updates record the user's `step()` line.
        let _no_grad = NoGradGuard::new();
        let lr = self.lr.tensor();
        let correction = self.correction();
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
                    Momentum::Ema | Momentum::Nesterov => &(&*previous * beta) + &(&g * rest),
                    Momentum::Classic { .. } => &(&*previous * beta) + &g,
                };
                previous.assign_by(&u, STEP);
                let u_hat = match &correction {
                    Some(c) => &u / c,
                    None => u.clone(),
                };
                match self.kind {
                    Momentum::Classic { nesterov: true } => &g + &(&u * beta),
                    Momentum::Nesterov => &(&u_hat * beta) + &(&g * rest),
                    _ => u_hat,
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
        let mut out: Vec<(String, Tensor)> = self
            .velocity
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (format!("sgd.velocity.{i}"), v.clone())))
            .chain(self.lr.state())
            .collect();
        if self.bias_correction {
            out.push(("sgd.step".into(), Tensor::scalar(self.step.get() as f32)));
        }
        out
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<(), StateError> {
        let (schedule_step, state) = self.lr.read_state(state)?;
        reject_unknown(&state, &["sgd.velocity.", "sgd.step"])?;
        let step = saved_step(&state, self.bias_correction)?;
        self.velocity = read_slots("sgd.velocity", &self.params, &state)?;
        self.step.set(step);
        self.lr.resume(schedule_step);
        Ok(())
    }
}

/// The step count of bias-corrected momentum saved in `state`: a whole number >= 0, required
/// when the optimizer corrects and the state has velocities; 0 when there is nothing to
/// correct yet or the state was saved without correction.
fn saved_step(state: &HashMap<String, Tensor>, bias_correction: bool) -> Result<u64, StateError> {
    match state.get("sgd.step") {
        Some(t) if t.numel() == 1 && t.item() >= 0.0 && t.item().fract() == 0.0 => {
            Ok(t.item() as u64)
        }
        Some(t) => Err(StateError {
            name: "sgd.step".into(),
            problem: format!(
                "expected one whole step count >= 0, found {} {:?}{}",
                t.dtype(),
                t.shape(),
                if t.numel() == 1 {
                    format!(" holding {}", t.item())
                } else {
                    String::new()
                }
            ),
        }),
        None if bias_correction && state.keys().any(|k| k.starts_with("sgd.velocity.")) => {
            Err(StateError {
                name: "sgd.step".into(),
                problem: "missing (bias correction needs the step count)".into(),
            })
        }
        None => Ok(0),
    }
}
