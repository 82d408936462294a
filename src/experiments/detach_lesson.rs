//! Lecture 8: why parameter updates run on detached tensors. Updating `w = w − lr·∇w` with
//! tensors that carry history makes each new `w` a graph node whose inputs are the previous
//! `w` and its gradient, so every step's values stay reachable: live graph nodes and memory
//! grow by a fixed amount per step, and each backward walks the whole history. The same loop
//! with the update detached (or made under `no_grad` and assigned) keeps both flat.

use needle_core::{live_nodes, manual_seed, no_grad, Tensor};

/// How the parameter is updated after each backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// `w = w − lr·g` with history: the mistake the lecture warns about.
    Attached,
    /// `w = (w − lr·g).detach()`, then marked as requiring grad again: a fresh leaf.
    Detached,
    /// `no_grad(|| w.assign(w.detach() − lr·g))`: the value changes in place, as `Sgd` does.
    NoGradAssign,
}

impl Update {
    /// The three ways, in the order the example prints them.
    pub const ALL: [Update; 3] = [Update::Attached, Update::Detached, Update::NoGradAssign];

    /// The update as one line of code.
    pub fn code(self) -> &'static str {
        match self {
            Update::Attached => "w = w - lr * w.grad",
            Update::Detached => "w = (w - lr * w.grad).detach()",
            Update::NoGradAssign => "no_grad(|| w.assign(w.detach() - lr * w.grad))",
        }
    }
}

/// What one step left alive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepRecord {
    /// Step number, from 1.
    pub step: usize,
    /// The step's loss.
    pub loss: f32,
    /// [`live_nodes`] after the step (its temporaries dropped).
    pub live_nodes: usize,
    /// Resident set size in bytes from `/proc/self/statm` (`None` where there is no procfs).
    pub rss_bytes: Option<u64>,
}

/// Resident set size of this process in bytes: `/proc/self/statm`'s second field (pages)
/// times the page size, 4096 on the x86-64 and aarch64 Linux this reads it on.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The mean squared error of X w against Y (X, Y fixed random `size` × `size`), `steps`
/// gradient steps of `w` (from zero) with the update `how`, recording what is alive after each
/// step.
pub fn run(how: Update, steps: usize, size: usize, seed: u64) -> Vec<StepRecord> {
    manual_seed(seed);
    let x = Tensor::randn(&[size, size]) / (size as f32).sqrt();
    let y = Tensor::randn(&[size, size]);
    let mut w = Tensor::zeros(&[size, size]).requires_grad_(true);
    // The loss's Hessian is 2XᵀX/size², whose eigenvalues are below 8/size² (XᵀX's below 4,
    // Marchenko–Pastur): this step is stable and moves the loss visibly every step.
    let lr = 0.2 * (size * size) as f32;
    (1..=steps)
        .map(|step| {
            let loss = (x.matmul(&w) - &y).square().mean_all();
            // An attached w is not a leaf after the first step: ask backward to keep its
            // gradient, as PyTorch's retain_grad.
            w.retain_grad();
            loss.backward();
            let g = w.grad().expect("w is in the loss");
            match how {
                Update::Attached => w = &w - &(&g * lr),
                Update::Detached => w = (&w - &(&g * lr)).detach().requires_grad_(true),
                Update::NoGradAssign => no_grad(|| w.assign(&(&w.detach() - &(&g * lr)))),
            }
            let loss = loss.item();
            StepRecord {
                step,
                loss,
                live_nodes: live_nodes(),
                rss_bytes: rss_bytes(),
            }
        })
        .collect()
}
