//! Learning-rate schedules: functions from the step number to a learning rate, applied with
//! [`Optimizer::set_lr`](super::Optimizer::set_lr) before each step.

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
