//! Training helpers: run train and evaluation epochs of a classifier, reporting progress.

pub mod compare;
mod progress;

use std::time::Instant;

use needle_core::data::DataLoader;
use needle_core::metrics::count_correct;
use needle_core::nn::{Forward, SoftmaxLoss};
use needle_core::optim::Optimizer;
use needle_core::{manual_seed, no_grad, Tensor};

use progress::{Progress, Status};

/// What one epoch measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochStats {
    /// Mean loss over samples (batches weighted by their size).
    pub loss: f64,
    /// Fraction of samples misclassified.
    pub error: f64,
    /// Samples seen.
    pub samples: usize,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
    /// Seconds of that spent compiling kernels (JIT mode).
    pub compile_seconds: f64,
}

impl EpochStats {
    /// Samples per second.
    pub fn throughput(&self) -> f64 {
        self.samples as f64 / self.seconds.max(1e-12)
    }
}

/// How [`epoch`] runs.
#[derive(Clone, Debug, Default)]
pub struct EpochOptions {
    /// Re-seed the global stream at the start (the course's `epoch` seeds 4).
    pub seed: Option<u64>,
    /// Report no progress. Otherwise a bar is drawn on stderr when it is a terminal, and plain
    /// lines are written to it when it is not (piped, CI): one at the end of the pass and one
    /// every 10 s during it.
    pub quiet: bool,
    /// Label shown before the bar or at the start of each line.
    pub label: String,
}

/// Mean softmax cross-entropy of a batch.
fn batch_loss(logits: &Tensor, labels: &Tensor) -> Tensor {
    SoftmaxLoss::new().forward(logits, labels)
}

/// One pass over `loader` with a classifier: training (with `optimizer`: `model.train()`,
/// backward, step) or evaluation (without: `model.eval()`, no gradients). Inputs are flattened
/// to (batch, features), as the course's `epoch` does.
///
/// In JIT mode each batch's step is a captured step ([`needle_jit::capture()`]): traced on the
/// first batches, then replayed as native code — the same bits as running it every batch.
/// `NEEDLE_CAPTURE=0` (or [`needle_jit::set_capture`], the examples' `--no-capture`) runs
/// every step uncaptured.
pub fn epoch(
    loader: &DataLoader,
    model: &dyn Forward,
    mut optimizer: Option<&mut dyn Optimizer>,
    options: &EpochOptions,
) -> EpochStats {
    if let Some(seed) = options.seed {
        manual_seed(seed);
    }
    let training = optimizer.is_some();
    model.set_training(training);
    let mut progress = Progress::new(&options.label, loader.num_batches(), options.quiet);
    let compile_before = needle_jit::stats().compile_time;
    let start = Instant::now();
    let (mut loss_sum, mut errors, mut samples, mut batches) = (0.0f64, 0.0f64, 0usize, 0usize);
    let mut step = needle_jit::capture(|b: &[&Tensor]| match optimizer.as_deref_mut() {
        Some(opt) => {
            opt.zero_grad();
            let logits = model.forward(b[0]);
            let loss = batch_loss(&logits, b[1]);
            loss.backward();
            opt.step();
            (loss, logits)
        }
        None => no_grad(|| {
            let logits = model.forward(b[0]);
            (batch_loss(&logits, b[1]), logits)
        }),
    });
    for batch in loader.iter() {
        let (x, y) = (&batch[0], &batch[1]);
        let n = x.shape()[0];
        let x = x.reshape(&[n, x.numel() / n]);
        let (loss, logits) = step.call(&[&x, y]);
        Tensor::realize_all(&[&loss, &logits]);
        loss_sum += loss.item() as f64 * n as f64;
        errors += (n - count_correct(&logits, y)) as f64;
        samples += n;
        batches += 1;
        let seconds = start.elapsed().as_secs_f64();
        progress.update(
            batches,
            &Status {
                loss: loss_sum / samples as f64,
                accuracy: 1.0 - errors / samples as f64,
                samples_per_second: samples as f64 / seconds.max(1e-9),
                compile_seconds: (needle_jit::stats().compile_time - compile_before).as_secs_f64(),
            },
        );
    }
    let stats = EpochStats {
        loss: loss_sum / samples.max(1) as f64,
        error: errors / samples.max(1) as f64,
        samples,
        seconds: start.elapsed().as_secs_f64(),
        compile_seconds: (needle_jit::stats().compile_time - compile_before).as_secs_f64(),
    };
    progress.finish(
        batches,
        &Status {
            loss: stats.loss,
            accuracy: 1.0 - stats.error,
            samples_per_second: stats.throughput(),
            compile_seconds: stats.compile_seconds,
        },
        stats.seconds,
    );
    stats
}

/// Train and test statistics of one epoch of [`fit`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FitEpoch {
    /// The training pass.
    pub train: EpochStats,
    /// The evaluation pass on the test loader.
    pub test: EpochStats,
}

/// `epochs` × (training epoch, evaluation epoch); returns the statistics of each.
pub fn fit(
    model: &dyn Forward,
    optimizer: &mut dyn Optimizer,
    train: &DataLoader,
    test: &DataLoader,
    epochs: usize,
    quiet: bool,
) -> Vec<FitEpoch> {
    (0..epochs)
        .map(|e| {
            let label = |kind: &str| format!("epoch {}/{} {kind}", e + 1, epochs);
            let train = epoch(
                train,
                model,
                Some(&mut *optimizer),
                &EpochOptions {
                    seed: None,
                    quiet,
                    label: label("train"),
                },
            );
            let test = epoch(
                test,
                model,
                None,
                &EpochOptions {
                    seed: None,
                    quiet,
                    label: label("test"),
                },
            );
            FitEpoch { train, test }
        })
        .collect()
}
