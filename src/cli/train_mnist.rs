//! The command line of the `train_mnist` example, parsed and checked before anything runs, so
//! that a bad value is one line on stderr and exit status 2, not a panic mid-run.

use std::path::PathBuf;

use needle_core::data::{DataLoader, Mnist, MnistDataset};
use needle_core::nn::Forward;
use needle_core::optim::Optimizer;
use needle_core::{manual_seed, with_mode, Mode};

use super::{parse_positive, parse_whole};
use crate::train::{fit, FitEpoch};

/// The usage line printed by `--help`.
pub const USAGE: &str = "usage: train_mnist [--epochs N] [--batch B] \
                         [--mode jit|eager|lazy|both|all] [--model resnet|mlp] [--threads T] \
                         [--data DIR] [--seed S] [--plot FILE.svg] [--no-capture] [--quiet]";

/// Which network `train_mnist` trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// The course's MLPResNet(784, 100), 3 blocks, batch norm, dropout 0.1.
    ResNet,
    /// A 784-512-10 MLP.
    Mlp,
}

/// `train_mnist`'s settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Args {
    /// Training epochs, at least 1.
    pub epochs: usize,
    /// Training batch size, at least 1.
    pub batch: usize,
    /// The modes to train in, one after the other from the same seed.
    pub modes: Vec<Mode>,
    /// The network.
    pub model: Model,
    /// The folder holding the MNIST files.
    pub data: PathBuf,
    /// The seed of every run.
    pub seed: u64,
    /// Where to write the loss curves as SVG.
    pub plot: Option<PathBuf>,
    /// No progress output.
    pub quiet: bool,
    /// Threads for the GEMM's thread pool (`RAYON_NUM_THREADS`), at least 1.
    pub threads: Option<usize>,
    /// Capture each JIT training step once and replay it (`--no-capture` runs every step
    /// uncaptured; the results are the same bits).
    pub capture: bool,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            epochs: 5,
            batch: 100,
            modes: vec![Mode::Jit, Mode::Eager],
            model: Model::ResNet,
            data: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist")),
            seed: 0,
            plot: None,
            quiet: false,
            threads: None,
            capture: true,
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Train with these settings.
    Run(Args),
    /// Print [`USAGE`] and stop.
    Help,
}

/// The process's arguments for `program` (a `train_mnist`-style example; one that builds a
/// single model passes `with_model: false`, and `--model` is then an error): prints the usage
/// and exits 0 for `--help`, prints the error and exits 2 for a bad flag, and applies
/// `--threads` before any thread pool starts.
pub fn args_or_exit(program: &str, with_model: bool) -> Args {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let usage = if with_model {
        USAGE.replace("train_mnist", program)
    } else {
        USAGE
            .replace("train_mnist", program)
            .replace(" [--model resnet|mlp]", "")
    };
    if !with_model
        && raw
            .iter()
            .any(|a| a == "--model" || a.starts_with("--model="))
    {
        eprintln!("{program}: --model is not a flag of {program} (see --help)");
        std::process::exit(2);
    }
    let args = match parse(raw) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{usage}");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(2);
        }
    };
    if let Some(n) = args.threads {
        // Read by the GEMM's thread pool when it starts, which has not happened yet.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    args
}

/// Parses the arguments after the program name. An error is one line naming the flag and
/// what is wrong with its value.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut parsed = Args::default();
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value (see --help)"))
        };
        match flag.as_str() {
            "--epochs" => parsed.epochs = parse_positive(&flag, &value()?)?,
            "--batch" => parsed.batch = parse_positive(&flag, &value()?)?,
            "--threads" => parsed.threads = Some(parse_positive(&flag, &value()?)?),
            "--seed" => parsed.seed = parse_whole(&flag, &value()?)?,
            "--data" => parsed.data = PathBuf::from(value()?),
            "--plot" => parsed.plot = Some(PathBuf::from(value()?)),
            "--quiet" => parsed.quiet = true,
            "--no-capture" => parsed.capture = false,
            "--model" => {
                parsed.model = match value()?.as_str() {
                    "resnet" => Model::ResNet,
                    "mlp" => Model::Mlp,
                    other => return Err(format!("--model: expected resnet or mlp, got {other:?}")),
                }
            }
            "--mode" => {
                parsed.modes = match value()?.as_str() {
                    "both" => vec![Mode::Jit, Mode::Eager],
                    "all" => vec![Mode::Jit, Mode::Eager, Mode::Lazy],
                    other => vec![Mode::parse(other).ok_or_else(|| {
                        format!("--mode: expected jit, eager, lazy, both or all, got {other:?}")
                    })?],
                }
            }
            "--help" | "-h" => return Ok(Command::Help),
            other => return Err(format!("unknown flag {other:?} (see --help)")),
        }
    }
    Ok(Command::Run(parsed))
}

/// The MNIST training and test splits from `--data`, or the reason on stderr and exit status 1.
pub fn mnist_or_exit(args: &Args) -> (Mnist, Mnist) {
    let load = |train| {
        Mnist::load_split(&args.data, train).unwrap_or_else(|e| {
            eprintln!("cannot load MNIST: {e}");
            std::process::exit(1);
        })
    };
    (load(true), load(false))
}

/// One mode's run of a `train_mnist`-style example: from `--seed`, `setup` builds the model
/// and its optimizer, which train for `--epochs` on shuffled batches of `--batch`, evaluated
/// on the test split in batches of 1,000 after each epoch.
pub fn run_mode<M: Forward, O: Optimizer>(
    mode: Mode,
    args: &Args,
    train: &Mnist,
    test: &Mnist,
    setup: impl FnOnce() -> (M, O),
) -> Vec<FitEpoch> {
    with_mode(mode, || {
        needle_jit::set_capture(args.capture);
        manual_seed(args.seed);
        let (model, mut opt) = setup();
        let train_loader =
            DataLoader::new(MnistDataset::new(train.clone()), args.batch).shuffle(true);
        let test_loader = DataLoader::new(MnistDataset::new(test.clone()), 1000);
        fit(
            &model,
            &mut opt,
            &train_loader,
            &test_loader,
            args.epochs,
            args.quiet,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    fn error(args: &[&str]) -> String {
        run(args).unwrap_err()
    }

    #[test]
    fn valid_flags_set_every_field() {
        let parsed = run(&[
            "--epochs",
            "2",
            "--batch",
            "64",
            "--mode",
            "lazy",
            "--model",
            "mlp",
            "--seed",
            "7",
            "--data",
            "d",
            "--plot",
            "p.svg",
            "--quiet",
            "--threads",
            "3",
            "--no-capture",
        ]);
        assert_eq!(
            parsed,
            Ok(Command::Run(Args {
                epochs: 2,
                batch: 64,
                modes: vec![Mode::Lazy],
                model: Model::Mlp,
                data: PathBuf::from("d"),
                seed: 7,
                plot: Some(PathBuf::from("p.svg")),
                quiet: true,
                threads: Some(3),
                capture: false,
            }))
        );
        assert_eq!(run(&[]), Ok(Command::Run(Args::default())));
        assert_eq!(run(&["--batch", "1", "--help"]), Ok(Command::Help));
        match run(&["--mode", "all"]) {
            Ok(Command::Run(a)) => assert_eq!(a.modes, [Mode::Jit, Mode::Eager, Mode::Lazy]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_values_are_one_line_errors_naming_the_flag() {
        assert_eq!(
            error(&["--batch", "0"]),
            "--batch: must be at least 1, got 0"
        );
        assert_eq!(
            error(&["--epochs", "0"]),
            "--epochs: must be at least 1, got 0"
        );
        assert_eq!(
            error(&["--threads", "0"]),
            "--threads: must be at least 1, got 0"
        );
        assert_eq!(
            error(&["--epochs", "five"]),
            "--epochs: \"five\" is not a whole number"
        );
        assert_eq!(
            error(&["--batch", "-3"]),
            "--batch: \"-3\" is not a whole number"
        );
        assert_eq!(
            error(&["--seed", "1.5"]),
            "--seed: \"1.5\" is not a whole number"
        );
        assert_eq!(error(&["--epochs"]), "--epochs needs a value (see --help)");
        assert_eq!(
            error(&["--bacth", "5"]),
            "unknown flag \"--bacth\" (see --help)"
        );
        assert_eq!(
            error(&["--model", "cnn"]),
            "--model: expected resnet or mlp, got \"cnn\""
        );
        assert_eq!(
            error(&["--mode", "fast"]),
            "--mode: expected jit, eager, lazy, both or all, got \"fast\""
        );
        for args in [&["--batch", "0"][..], &["--epochs", "x"], &["--nope"]] {
            assert!(!error(args).contains('\n'), "{args:?}");
        }
    }
}
