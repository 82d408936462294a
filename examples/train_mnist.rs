//! Trains the course's MLPResNet on the shipped MNIST in JIT mode and in eager mode from the
//! same seed, then prints both side by side: per-epoch train loss and error, test error,
//! seconds per epoch, samples/s, compile time, the JIT/eager speedup and the largest
//! difference between the two loss curves. Optionally writes the loss curves as an SVG plot.
//!
//! ```text
//! cargo run --release --example train_mnist -- [--epochs N] [--batch B] [--mode jit|eager|lazy|both|all]
//!     [--model resnet|mlp] [--threads T] [--data DIR] [--seed S] [--plot FILE.svg] [--no-capture] [--quiet]
//! ```

// The graph allocates and frees thousands of small nodes per step; mimalloc makes that about
// 30 % cheaper than glibc's malloc (W4), so the benchmarks measure needle, not the allocator.
// Applications choose their allocator: the README shows the two lines.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use needle::cli::train_mnist::{args_or_exit, mnist_or_exit, run_mode, Model};
use needle::nn::{mlp_resnet, Linear, Module, Norm, ReLU, Sequential};
use needle::optim::Adam;
use needle::train::compare::{plot_losses, print_comparison};
use needle::train::FitEpoch;
use needle::Mode;

fn build_model(kind: Model) -> Sequential {
    match kind {
        // The course's train_mnist: MLPResNet(784, 100), 3 blocks, batch norm, dropout 0.1.
        Model::ResNet => mlp_resnet(784, 100, 3, 10, Norm::BatchNorm, 0.1),
        Model::Mlp => Sequential::new()
            .push(Linear::new(784, 512))
            .push(ReLU::new())
            .push(Linear::new(512, 10)),
    }
}

fn main() {
    needle::init();
    let args = args_or_exit("train_mnist", true);
    let (train, test) = mnist_or_exit(&args);
    println!(
        "{} on MNIST ({} train / {} test images): Adam lr 1e-3, weight decay 1e-3, batch {}, {} epochs, seed {}",
        match args.model {
            Model::ResNet => "MLPResNet(784, 100, 3 blocks)",
            Model::Mlp => "MLP 784-512-10",
        },
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
                let model = build_model(args.model);
                let opt = Adam::new(model.parameters(), 1e-3).weight_decay(1e-3);
                (model, opt)
            });
            (m, stats)
        })
        .collect();

    print_comparison(&results);
    if let Some(path) = &args.plot {
        plot_losses(&results, path, "MNIST training loss");
    }
}
