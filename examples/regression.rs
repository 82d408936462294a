//! A first model to copy: fit y = a·x + b with a custom `#[module]`.
//!
//! Shows a module with learnable scalars, a mean-squared-error loss, Adam with a cosine
//! learning-rate schedule attached, and a checkpoint round trip (training stops halfway, is
//! saved, and resumes in a fresh model and optimizer exactly where it stopped).
//!
//! `cargo run --release --example regression` (set `NEEDLE_MODE=jit`, `lazy` or `eager` to
//! choose how the graphs run; the numbers are the same in every mode).

use std::path::Path;

use needle::checkpoint::{load_with_optimizer, save_with_optimizer};
use needle::nn::{MSELoss, Module};
use needle::optim::{Adam, CosineAnnealing, Optimizer};
use needle::{manual_seed, module, Tensor};

/// The line the data is drawn from.
pub const TRUE_A: f32 = 2.5;
/// The line the data is drawn from.
pub const TRUE_B: f32 = -0.7;

/// The model, y = a·x + b.
///
/// `#[module]` makes every `Tensor` field a trainable parameter (listed by `parameters()`,
/// saved by checkpoints under its field name). A parameter only trains if it requires grad,
/// so create it with `.requires_grad_(true)`; the optimizer refuses one that does not.
#[module]
pub struct Line {
    /// The slope: a 0-d tensor, one learnable number.
    pub a: Tensor,
    /// The intercept.
    pub b: Tensor,
}

impl Line {
    /// A line through the origin with slope 0.
    pub fn new() -> Line {
        Line {
            a: Tensor::scalar(0.0).requires_grad_(true),
            b: Tensor::scalar(0.0).requires_grad_(true),
        }
    }

    /// Predictions for inputs `x` of shape `[n, 1]` (the 0-d parameters broadcast).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        &(x * &self.a) + &self.b
    }
}

impl Default for Line {
    fn default() -> Line {
        Line::new()
    }
}

/// `n` points on the true line plus noise of standard deviation 0.1, from seed 0.
pub fn data(n: usize) -> (Tensor, Tensor) {
    manual_seed(0);
    let x = Tensor::uniform(&[n, 1], -1.0, 1.0);
    let noise = Tensor::normal(&[n, 1], 0.0, 0.1);
    let y = &(&(&x * TRUE_A) + TRUE_B) + &noise;
    (x, y)
}

/// Adam whose learning rate follows a cosine from 0.1 down to 0.001 over `steps` steps. The
/// optimizer owns the schedule: every `step()` moves it on, and `lr()` reports the rate the
/// next step will use.
pub fn optimizer(model: &Line, steps: usize) -> Adam {
    let schedule = CosineAnnealing {
        base: 0.1,
        min: 0.001,
        period: steps,
    };
    Adam::new(model.parameters(), 0.1).schedule(schedule)
}

/// One training step; returns the loss before the update.
pub fn train_step(model: &Line, opt: &mut Adam, x: &Tensor, y: &Tensor) -> f32 {
    opt.zero_grad(); // clear the previous step's gradients
                     // Mean squared error, PyTorch's `nn.MSELoss()` (mean over the batch by default).
    let loss = MSELoss::new().forward(&model.forward(x), y);
    loss.backward(); // gradients of the loss land in model.a.grad(), model.b.grad()
    opt.step(); // a ← a − lr·(Adam's direction), the same for b
    loss.item()
}

/// The fitted line and the last loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Fitted slope.
    pub a: f32,
    /// Fitted intercept.
    pub b: f32,
    /// Loss at the last step.
    pub loss: f32,
}

/// Trains for `steps` steps on 64 points, saving a checkpoint at `checkpoint` halfway and
/// finishing in a fresh model and optimizer loaded from it, as a restarted program would.
pub fn fit(steps: usize, checkpoint: &Path, verbose: bool) -> Fit {
    let (x, y) = data(64);
    let model = Line::new();
    let mut opt = optimizer(&model, steps);
    for step in 0..steps / 2 {
        let loss = train_step(&model, &mut opt, &x, &y);
        if verbose && step % 50 == 0 {
            println!("step {step:4}  loss {loss:.5}  lr {:.4}", opt.lr());
        }
    }

    // Parameters (under their field names "a" and "b") and the optimizer's state — Adam's
    // moments, its step count and the position in the schedule — go into one file.
    save_with_optimizer(&model, &opt, checkpoint).expect("save the checkpoint");

    // A fresh model and optimizer built the same way take everything back; the first step
    // after loading uses the rate the schedule had reached.
    let model = Line::new();
    let mut opt = optimizer(&model, steps);
    load_with_optimizer(&model, &mut opt, checkpoint).expect("load the checkpoint");
    if verbose {
        println!(
            "resumed from {} at lr {:.4}",
            checkpoint.display(),
            opt.lr()
        );
    }
    let mut loss = f32::NAN;
    for step in steps / 2..steps {
        loss = train_step(&model, &mut opt, &x, &y);
        if verbose && step % 50 == 0 {
            println!("step {step:4}  loss {loss:.5}  lr {:.4}", opt.lr());
        }
    }
    Fit {
        a: model.a.item(),
        b: model.b.item(),
        loss,
    }
}

fn main() {
    needle::init(); // installs the JIT and applies NEEDLE_MODE
    let checkpoint = std::env::temp_dir().join("needle-regression.safetensors");
    let fit = fit(400, &checkpoint, true);
    println!(
        "fitted y = {:.3}·x {:+.3} (true: {TRUE_A}·x {TRUE_B:+}), final loss {:.5}",
        fit.a, fit.b, fit.loss
    );
    let _ = std::fs::remove_file(&checkpoint);
}
