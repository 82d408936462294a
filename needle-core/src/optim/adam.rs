//! Adam and AdamW.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use super::params::{check_trainable, GradientUse};
use super::schedule::{LearningRate, LrSchedule};
use super::{decayed_gradient, read_slots, reject_unknown, Optimizer, StateError, STEP};
use crate::mode::NoGradGuard;
use crate::tensor::Tensor;

/// Whether a checkpoint's step count is usable: whole, non-negative, and below 2^31, since the
/// bias correction raises β to the step as an `i32`.
fn is_step_count(v: f32) -> bool {
    (0.0..2f32.powi(31)).contains(&v) && v.fract() == 0.0
}

/// Moment estimates shared by Adam and AdamW.
struct Moments {
    // f64 like the course's Python floats: the bias corrections 1 − βᵗ are formed in double
    // precision, the products with f32 moments use the betas rounded to f32.
    beta1: f64,
    beta2: f64,
    eps: f32,
    bias_correction: bool,
    /// Steps taken (shared with the host work a captured step repeats).
    step: Rc<Cell<u64>>,
    m: Vec<Option<Tensor>>,
    v: Vec<Option<Tensor>>,
}

impl Moments {
    fn new(n: usize) -> Moments {
        Moments {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            bias_correction: true,
            step: Rc::new(Cell::new(0)),
            m: vec![None; n],
            v: vec![None; n],
        }
    }

    /// Updates the moments of parameter `i` with gradient `g` and returns the bias-corrected
    /// direction m̂ / (√v̂ + eps). The corrections are 0-d inputs, not constants.
    #[track_caller]
    fn direction(&mut self, i: usize, g: &Tensor, corrections: &(Tensor, Tensor)) -> Tensor {
        let shape = g.shape();
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let m = match &mut self.m[i] {
            Some(m) => m,
            slot => slot.insert(Tensor::zeros(&shape)),
        };
        // 1 − β in double and rounded once, as PyTorch and the course compute it (1 − 0.9f32
        // in f32 is 0.100000024, not 0.1).
        let (c1, c2) = ((1.0 - self.beta1) as f32, (1.0 - self.beta2) as f32);
        let new_m = &(&*m * b1) + &(g * c1);
        m.assign_by(&new_m, STEP);
        let v = match &mut self.v[i] {
            Some(v) => v,
            slot => slot.insert(Tensor::zeros(&shape)),
        };
        let new_v = &(&*v * b2) + &(&(g * g) * c2);
        v.assign_by(&new_v, STEP);
        let m_hat = &new_m / &corrections.0;
        let v_hat = &new_v / &corrections.1;
        &m_hat / &(v_hat.sqrt() + self.eps)
    }

    #[track_caller]
    fn begin_step(&mut self) -> (Tensor, Tensor) {
        let step = self.step.clone();
        crate::capture::host_action(move || step.set(step.get() + 1));
        if !self.bias_correction {
            // Still inputs, not constants: switching correction on later reuses the program.
            return (Tensor::host_scalar(|| 1.0), Tensor::host_scalar(|| 1.0));
        }
        let correction = |beta: f64| {
            let step = self.step.clone();
            Tensor::host_scalar(move || (1.0 - beta.powi(step.get() as i32)) as f32)
        };
        (correction(self.beta1), correction(self.beta2))
    }

    fn load(
        &mut self,
        name: &str,
        params: &[Tensor],
        state: &HashMap<String, Tensor>,
    ) -> Result<(), StateError> {
        let (m_prefix, v_prefix, step_name) = (
            format!("{name}.m."),
            format!("{name}.v."),
            format!("{name}.step"),
        );
        reject_unknown(state, &[&m_prefix, &v_prefix, &step_name])?;
        let m = read_slots(&format!("{name}.m"), params, state)?;
        let v = read_slots(&format!("{name}.v"), params, state)?;
        let step = match state.get(&step_name) {
            Some(t) if t.numel() == 1 && is_step_count(t.item()) => t.item() as u64,
            Some(t) => {
                return Err(StateError {
                    name: step_name,
                    problem: format!(
                        "expected one whole step count in [0, 2^31), found {} {:?}{}",
                        t.dtype(),
                        t.shape(),
                        if t.numel() == 1 {
                            format!(" holding {}", t.item())
                        } else {
                            String::new()
                        }
                    ),
                })
            }
            None => {
                return Err(StateError {
                    name: step_name,
                    problem: "missing (bias correction needs the step count)".into(),
                })
            }
        };
        (self.m, self.v) = (m, v);
        self.step.set(step);
        Ok(())
    }

    fn state(&self, name: &str) -> Vec<(String, Tensor)> {
        let mut out = vec![(
            format!("{name}.step"),
            Tensor::scalar(self.step.get() as f32),
        )];
        for (kind, list) in [("m", &self.m), ("v", &self.v)] {
            for (i, t) in list.iter().enumerate() {
                if let Some(t) = t {
                    out.push((format!("{name}.{kind}.{i}"), t.clone()));
                }
            }
        }
        out
    }
}

/// Where Adam's weight decay goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decay {
    /// Added to the gradient (L2, the course's Adam).
    Coupled,
    /// Applied to the parameters beside the Adam step (AdamW).
    Decoupled,
}

/// Adam with the course's conventions: L2 weight decay added to the gradient, bias correction
/// with one global step counter, betas (0.9, 0.999), eps 1e-8. [`AdamW`] builds the decoupled
/// variant.
pub struct Adam {
    params: Vec<Tensor>,
    lr: LearningRate,
    grads: GradientUse,
    weight_decay: f32,
    decay: Decay,
    moments: Moments,
}

impl Adam {
    /// Adam with learning rate `lr`.
    ///
    /// Panics, naming the parameter's index, shape and where it was created, when one cannot
    /// receive a gradient: it does not require grad, is not a leaf, or is not f32.
    #[track_caller]
    pub fn new(params: Vec<Tensor>, lr: f32) -> Adam {
        Adam::build("Adam::new", params, lr)
    }

    #[track_caller]
    fn build(constructor: &str, params: Vec<Tensor>, lr: f32) -> Adam {
        check_trainable(constructor, &params);
        let n = params.len();
        Adam {
            params,
            lr: LearningRate::new(lr),
            grads: GradientUse::new(n),
            weight_decay: 0.0,
            decay: Decay::Coupled,
            moments: Moments::new(n),
        }
    }

    /// With L2 weight decay added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f32) -> Adam {
        self.weight_decay = weight_decay;
        self
    }

    /// With other betas.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Adam {
        self.moments.beta1 = beta1;
        self.moments.beta2 = beta2;
        self
    }

    /// With another eps.
    pub fn eps(mut self, eps: f32) -> Adam {
        self.moments.eps = eps;
        self
    }

    /// Turns the bias correction of the moments off (on by default, as the course); the
    /// optimizers lecture compares the two.
    pub fn bias_correction(mut self, on: bool) -> Adam {
        self.moments.bias_correction = on;
        self
    }

    /// With a learning-rate schedule the optimizer owns: step k (counted from here) uses
    /// `schedule.lr(k)`, replacing the rate given to [`new`](Self::new); see
    /// [`Optimizer::lr`] and [`Optimizer::set_lr`].
    ///
    /// ```
    /// use needle_core::optim::{Adam, CosineAnnealing, Optimizer};
    /// use needle_core::Tensor;
    /// let w = Tensor::from_vec(vec![1.0], &[1]).requires_grad_(true);
    /// let schedule = CosineAnnealing { base: 0.1, min: 0.0, period: 2 };
    /// let mut opt = Adam::new(vec![w.clone()], 0.1).schedule(schedule);
    /// for want in [0.1, 0.05, 0.0] {
    ///     assert!((opt.lr() - want).abs() < 1e-7, "{} != {want}", opt.lr());
    ///     opt.zero_grad();
    ///     w.square().sum_all().backward();
    ///     opt.step();
    /// }
    /// ```
    pub fn schedule(mut self, schedule: impl LrSchedule + 'static) -> Adam {
        self.lr.attach(Box::new(schedule));
        self
    }

    fn state_name(&self) -> &'static str {
        match self.decay {
            Decay::Coupled => "adam",
            Decay::Decoupled => "adamw",
        }
    }
}

/// AdamW: Adam with decoupled weight decay, θ ← θ − lr·(m̂/(√v̂+eps) + wd·θ).
pub struct AdamW;

impl AdamW {
    /// An [`Adam`] with learning rate `lr` and decoupled weight decay `weight_decay`.
    /// Panics like [`Adam::new`] on a tensor that cannot receive a gradient.
    #[allow(clippy::new_ret_no_self)] // AdamW is a configuration of Adam, not a separate type
    #[track_caller]
    pub fn new(params: Vec<Tensor>, lr: f32, weight_decay: f32) -> Adam {
        Adam {
            weight_decay,
            decay: Decay::Decoupled,
            ..Adam::build("AdamW::new", params, lr)
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self) {
        // A guard, not `no_grad(|| ...)`: a closure would end `#[track_caller]`, and the
        // updates record the user's `step()` line.
        let _no_grad = NoGradGuard::new();
        let corrections = self.moments.begin_step();
        let lr = self.lr.tensor();
        for (i, param) in self.params.iter().enumerate() {
            let Some(grad) = self.grads.gradient(i, param) else {
                continue;
            };
            let d = match self.decay {
                Decay::Coupled => {
                    let g = decayed_gradient(param, &grad, self.weight_decay);
                    self.moments.direction(i, &g, &corrections)
                }
                Decay::Decoupled => {
                    let d = self.moments.direction(i, &grad, &corrections);
                    if self.weight_decay == 0.0 {
                        d
                    } else {
                        &d + &(param * self.weight_decay)
                    }
                }
            };
            param.assign_by(&(param - &(&d * &lr)), STEP);
        }
        self.grads.finish_step(match self.decay {
            Decay::Coupled => "Adam",
            Decay::Decoupled => "AdamW",
        });
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
        let mut state = self.moments.state(self.state_name());
        state.extend(self.lr.state());
        state
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<(), StateError> {
        let (schedule_step, state) = self.lr.read_state(state)?;
        self.moments.load(self.state_name(), &self.params, &state)?;
        self.lr.resume(schedule_step);
        Ok(())
    }
}
