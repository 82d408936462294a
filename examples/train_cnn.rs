//! Trains a small CNN on the shipped MNIST in JIT mode and in eager mode from the same seed,
//! then prints both side by side as `train_mnist` does: per-epoch train loss and error, test
//! error, seconds per epoch, samples/s, compile time, the JIT/eager speedup and the largest
//! difference between the two loss curves. Optionally writes the loss curves as an SVG plot.
//!
//! The network: Conv2d(1, 16, 3, pad 1)–BatchNorm2d–ReLU–MaxPool2d(2)–Conv2d(16, 32, 3,
//! pad 1)–BatchNorm2d–ReLU–MaxPool2d(2)–Flatten–Linear(32·7·7, 128)–ReLU–Linear(128, 10),
//! trained with Adam (lr 1e-3, no weight decay: the L2 term of `train_mnist` slows this
//! network down).
//!
//! ```text
//! cargo run --release --example train_cnn -- [--epochs N] [--batch B] [--mode jit|eager|lazy|both|all]
//!     [--threads T] [--data DIR] [--seed S] [--plot FILE.svg] [--no-capture] [--quiet]
//! ```
//!
//! The flags are `train_mnist`'s; `--model` is accepted and ignored (there is one network).

// The graph allocates and frees thousands of small nodes per step; mimalloc makes that about
// 30 % cheaper than glibc's malloc (W4), so the benchmarks measure needle, not the allocator.
// Applications choose their allocator: the README shows the two lines.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use needle::cli::train_mnist::{args_or_exit, mnist_or_exit, run_mode};
use needle::nn::{
    BatchNorm2d, Conv2d, Flatten, Forward, Linear, MaxPool2d, Module, ReLU, Sequential,
};
use needle::optim::Adam;
use needle::train::compare::{plot_losses, print_comparison};
use needle::train::FitEpoch;
use needle::{module, Mode, Tensor};

/// The training loop hands images over flattened to (B, 784); the convolutions want NCHW.
#[module]
struct Images {}

impl Forward for Images {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.reshape(&[x.shape()[0], 1, 28, 28])
    }
}

fn build_model() -> Sequential {
    Sequential::new()
        .push(Images {})
        .push(Conv2d::new(1, 16, 3))
        .push(BatchNorm2d::new(16))
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Conv2d::new(16, 32, 3))
        .push(BatchNorm2d::new(32))
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Flatten::new())
        .push(Linear::new(32 * 7 * 7, 128))
        .push(ReLU::new())
        .push(Linear::new(128, 10))
}

fn main() {
    needle::init();
    let args = args_or_exit("train_cnn", false);
    let (train, test) = mnist_or_exit(&args);
    println!(
        "CNN (2 × Conv2d–BatchNorm2d–ReLU–MaxPool2d, 2 × Linear) on MNIST ({} train / {} test \
         images): Adam lr 1e-3, batch {}, {} epochs, seed {}",
        train.len(),
        test.len(),
        args.batch,
        args.epochs,
        args.seed
    );
    let results: Vec<(Mode, Vec<FitEpoch>)> = args
        .modes
        .iter()
        .map(|&m| {
            let stats = run_mode(m, &args, &train, &test, || {
                let model = build_model();
                let opt = Adam::new(model.parameters(), 1e-3);
                (model, opt)
            });
            (m, stats)
        })
        .collect();

    print_comparison(&results);
    if let Some(path) = &args.plot {
        plot_losses(&results, path, "MNIST CNN training loss");
    }
}
