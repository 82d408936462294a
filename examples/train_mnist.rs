//! Trains the course's MLPResNet on the shipped MNIST in JIT mode and in eager mode from the
//! same seed, then prints both side by side: per-epoch train loss and error, test error,
//! seconds per epoch, samples/s, compile time, the JIT/eager speedup and the largest
//! difference between the two loss curves. Optionally writes the loss curves as an SVG plot.
//!
//! ```text
//! cargo run --release --example train_mnist -- [--epochs N] [--batch B] [--mode jit|eager|lazy|both|all]
//!     [--model resnet|mlp] [--threads T] [--data DIR] [--seed S] [--plot FILE.svg] [--quiet]
//! ```

// The graph allocates and frees thousands of small nodes per step; mimalloc makes that about
// 30 % cheaper than glibc's malloc (W4), so the benchmarks measure needle, not the allocator.
// Applications choose their allocator: the README shows the two lines.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use needle::cli::train_mnist::{args_or_exit, Args, Model};
use needle::data::{DataLoader, Mnist, MnistDataset};
use needle::nn::{mlp_resnet, Forward, Linear, Module, Norm, ReLU, Sequential};
use needle::optim::Adam;
use needle::train::compare::{plot_losses, print_comparison};
use needle::train::{fit, FitEpoch};
use needle::{manual_seed, with_mode, Mode};

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

fn run(mode: Mode, args: &Args, train: &Mnist, test: &Mnist) -> Vec<FitEpoch> {
    with_mode(mode, || {
        manual_seed(args.seed);
        let model = build_model(args.model);
        let mut opt = Adam::new(model.parameters(), 1e-3).weight_decay(1e-3);
        let train_loader =
            DataLoader::new(MnistDataset::new(train.clone()), args.batch).shuffle(true);
        let test_loader = DataLoader::new(MnistDataset::new(test.clone()), 1000);
        let model: &dyn Forward = &model;
        fit(
            model,
            &mut opt,
            &train_loader,
            &test_loader,
            args.epochs,
            args.quiet,
        )
    })
}

fn main() {
    needle::init();
    let args = args_or_exit("train_mnist", true);
    let load = |train| {
        Mnist::load_split(&args.data, train).unwrap_or_else(|e| {
            eprintln!("cannot load MNIST: {e}");
            std::process::exit(1);
        })
    };
    let (train, test) = (load(true), load(false));
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
        .map(|&m| (m, run(m, &args, &train, &test)))
        .collect();

    print_comparison(&results);
    if let Some(path) = &args.plot {
        plot_losses(&results, path, "MNIST training loss");
    }
}
