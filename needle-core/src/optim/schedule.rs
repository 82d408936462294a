//! Learning-rate schedules: functions from the step number to a learning rate. An optimizer
//! owns one when given it with `.schedule(...)` ([`Sgd::schedule`](super::Sgd::schedule),
//! [`Adam::schedule`](super::Adam::schedule)) and advances it at every step; or apply one by
//! hand with [`Optimizer::set_lr`](super::Optimizer::set_lr) before each step.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::StateError;
use crate::dtype::DType;
use crate::tensor::Tensor;

/// A learning rate as a function of the (0-based) step.
pub trait LrSchedule {
    /// The learning rate at `step`.
    fn lr(&self, step: usize) -> f32;
}

/// The same rate at every step.
pub struct ConstantLr(pub f32);

impl LrSchedule for ConstantLr {
    fn lr(&self, _step: usize) -> f32 {
        self.0
    }
}

/// `base · gamma^(step / step_size)` (PyTorch's StepLR).
pub struct StepLr {
    /// Initial rate.
    pub base: f32,
    /// Steps between decays.
    pub step_size: usize,
    /// Decay factor.
    pub gamma: f32,
}

impl LrSchedule for StepLr {
    fn lr(&self, step: usize) -> f32 {
        self.base * self.gamma.powi((step / self.step_size.max(1)) as i32)
    }
}

/// Cosine annealing from `base` to `min` over `period` steps, then `min`.
pub struct CosineAnnealing {
    /// Initial rate.
    pub base: f32,
    /// Final rate.
    pub min: f32,
    /// Length of the decay.
    pub period: usize,
}

impl LrSchedule for CosineAnnealing {
    fn lr(&self, step: usize) -> f32 {
        let t = step.min(self.period) as f32 / self.period.max(1) as f32;
        self.min + 0.5 * (self.base - self.min) * (1.0 + (std::f32::consts::PI * t).cos())
    }
}

/// Linear warm-up from 0 to the inner schedule's rate over `warmup` steps, then the inner
/// schedule (shifted so it starts at its step 0).
pub struct LinearWarmup<S> {
    /// Warm-up length.
    pub warmup: usize,
    /// Schedule after the warm-up.
    pub then: S,
}

impl<S: LrSchedule> LrSchedule for LinearWarmup<S> {
    fn lr(&self, step: usize) -> f32 {
        if step < self.warmup {
            self.then.lr(0) * (step + 1) as f32 / self.warmup as f32
        } else {
            self.then.lr(step - self.warmup)
        }
    }
}

/// Name of the schedule's position in an optimizer's state.
const SCHEDULE_STEP: &str = "lr_schedule.step";

/// An optimizer's learning rate: the rate its next step uses, and the schedule (if it owns
/// one) that sets the rate after each step. Shared with the host work a captured step
/// repeats (see [`crate::capture`]): a replay reads the rate and advances the schedule
/// without running `step()`.
pub(crate) struct LearningRate(Rc<RefCell<Rate>>);

struct Rate {
    lr: f32,
    schedule: Option<Box<dyn LrSchedule>>,
    /// Steps taken since the schedule was attached (its argument for the next step).
    step: usize,
}

impl LearningRate {
    /// A fixed rate `lr`.
    pub(crate) fn new(lr: f32) -> LearningRate {
        LearningRate(Rc::new(RefCell::new(Rate {
            lr,
            schedule: None,
            step: 0,
        })))
    }

    /// Hands the rate over to `schedule`, from its step 0.
    pub(crate) fn attach(&mut self, schedule: Box<dyn LrSchedule>) {
        let mut rate = self.0.borrow_mut();
        rate.step = 0;
        rate.lr = schedule.lr(0);
        rate.schedule = Some(schedule);
    }

    /// The rate the next step uses.
    pub(crate) fn get(&self) -> f32 {
        self.0.borrow().lr
    }

    /// The rate of this step as a 0-d input (a constant would recompile a JIT step whenever
    /// it changes), filled again by every replay of a captured step.
    #[track_caller]
    pub(crate) fn tensor(&self) -> Tensor {
        let rate = self.0.clone();
        Tensor::host_scalar(move || rate.borrow().lr)
    }

    /// Sets the rate of the next step (with a schedule, the step after it is the schedule's
    /// again).
    pub(crate) fn set(&mut self, lr: f32) {
        self.0.borrow_mut().lr = lr;
    }

    /// Called after each step: the schedule, if any, moves on and sets the next step's rate
    /// (repeated by replays of a captured step).
    pub(crate) fn advance(&mut self) {
        let rate = self.0.clone();
        crate::capture::host_action(move || {
            let mut rate = rate.borrow_mut();
            if let Some(schedule) = &rate.schedule {
                let next = rate.step + 1;
                let lr = schedule.lr(next);
                (rate.step, rate.lr) = (next, lr);
            }
        });
    }

    /// The schedule's position, when there is a schedule.
    pub(crate) fn state(&self) -> Option<(String, Tensor)> {
        let rate = self.0.borrow();
        rate.schedule.as_ref().map(|_| {
            let step = i64::try_from(rate.step).expect("fewer than 2^63 steps");
            (
                SCHEDULE_STEP.to_string(),
                Tensor::from_vec_i64(vec![step], &[]),
            )
        })
    }

    /// Checks the schedule's entry of a saved `state` and returns its position (`None` without
    /// a schedule) together with the rest of the state, changing nothing.
    pub(crate) fn read_state(
        &self,
        state: &HashMap<String, Tensor>,
    ) -> Result<(Option<usize>, HashMap<String, Tensor>), StateError> {
        let mut rest = state.clone();
        let entry = rest.remove(SCHEDULE_STEP);
        let error = |problem: String| StateError {
            name: SCHEDULE_STEP.to_string(),
            problem,
        };
        let step = match (&self.0.borrow().schedule, entry) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(error(
                    "the state was saved with a learning-rate schedule and this optimizer has \
                     none; attach the same schedule with `.schedule(...)`"
                        .into(),
                ))
            }
            (Some(_), None) => {
                return Err(error(
                    "missing: this optimizer has a learning-rate schedule, and the state was \
                     saved without one, so it does not say where in the schedule to resume"
                        .into(),
                ))
            }
            (Some(_), Some(t)) => {
                let step = (t.dtype() == DType::I64 && t.numel() == 1)
                    .then(|| t.to_vec_i64()[0])
                    .and_then(|v| usize::try_from(v).ok());
                match step {
                    Some(step) => Some(step),
                    None => {
                        return Err(error(format!(
                            "expected one non-negative i64 step count, found {} {:?}",
                            t.dtype(),
                            t.shape()
                        )))
                    }
                }
            }
        };
        Ok((step, rest))
    }

    /// Resumes the schedule at `step` (from [`read_state`](Self::read_state)).
    pub(crate) fn resume(&mut self, step: Option<usize>) {
        let mut rate = self.0.borrow_mut();
        if let (Some(schedule), Some(step)) = (&rate.schedule, step) {
            let lr = schedule.lr(step);
            (rate.step, rate.lr) = (step, lr);
        }
    }
}
