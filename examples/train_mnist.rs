//! Trains a two-layer MLP on the shipped MNIST in JIT and eager mode from the same seed and
//! prints them side by side: per-epoch loss and error, time, throughput, and the largest
//! difference between the two modes' loss curves.
//!
//! ```text
//! cargo run --release --example train_mnist -- [--epochs N] [--batch B] [--hidden H]
//!     [--lr LR] [--mode eager|lazy|jit|both|all] [--data DIR] [--seed S]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use needle::data::Mnist;
use needle::{manual_seed, no_grad, with_mode, Mode, Tensor};

struct Args {
    epochs: usize,
    batch: usize,
    hidden: usize,
    lr: f32,
    modes: Vec<Mode>,
    data: PathBuf,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        epochs: 2,
        batch: 100,
        hidden: 100,
        lr: 0.1,
        modes: vec![Mode::Jit, Mode::Eager],
        data: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist")),
        seed: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--epochs" => args.epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--batch" => args.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--hidden" => args.hidden = value()?.parse().map_err(|e| format!("--hidden: {e}"))?,
            "--lr" => args.lr = value()?.parse().map_err(|e| format!("--lr: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--data" => args.data = PathBuf::from(value()?),
            "--mode" => {
                let v = value()?;
                args.modes = match v.as_str() {
                    "both" => vec![Mode::Jit, Mode::Eager],
                    "all" => vec![Mode::Jit, Mode::Eager, Mode::Lazy],
                    other => {
                        vec![Mode::parse(other).ok_or(format!("--mode: unknown mode {other:?}"))?]
                    }
                };
            }
            "--help" | "-h" => {
                return Err(
                    "usage: train_mnist [--epochs N] [--batch B] [--hidden H] [--lr LR] \
                            [--mode eager|lazy|jit|both|all] [--data DIR] [--seed S]"
                        .into(),
                )
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

struct EpochStats {
    train_loss: f64,
    train_err: f64,
    test_err: f64,
    seconds: f64,
}

fn batch_tensors(data: &Mnist, start: usize, len: usize) -> (Tensor, Tensor) {
    let px = data.pixels();
    let x = Tensor::from_slice(&data.images[start * px..(start + len) * px], &[len, px]);
    let labels: Vec<i64> = data.labels[start..start + len]
        .iter()
        .map(|&l| l as i64)
        .collect();
    (x, Tensor::from_vec_i64(labels, &[len]))
}

/// Mean softmax cross-entropy and the number of wrong predictions.
fn loss_and_errors(logits: &Tensor, labels: &Tensor) -> (Tensor, Tensor) {
    let n = logits.shape()[0] as f32;
    let onehot = Tensor::one_hot(10, labels);
    let loss = (logits.logsumexp(&[1], false).sum_all() - (logits * &onehot).sum_all()) / n;
    // A prediction is right when the true class's logit is the row maximum.
    let correct = (logits * &onehot)
        .sum(&[1], false)
        .ge(logits.max(&[1], false))
        .sum_all();
    (loss, correct.rsub_scalar(n))
}

fn run(mode: Mode, args: &Args, train: &Mnist, test: &Mnist) -> Vec<EpochStats> {
    with_mode(mode, || {
        manual_seed(args.seed);
        let h = args.hidden;
        let w1 = (Tensor::randn(&[784, h]) / (h as f32).sqrt())
            .detach()
            .requires_grad_(true);
        let w2 = (Tensor::randn(&[h, 10]) / 10f32.sqrt())
            .detach()
            .requires_grad_(true);
        let forward = |x: &Tensor| x.matmul(&w1).relu().matmul(&w2);
        let mut stats = Vec::new();
        for _ in 0..args.epochs {
            let start = Instant::now();
            let (mut loss_sum, mut err_sum) = (0.0f64, 0.0f64);
            let steps = train.len() / args.batch;
            for step in 0..steps {
                let (x, y) = batch_tensors(train, step * args.batch, args.batch);
                let (loss, errors) = loss_and_errors(&forward(&x), &y);
                loss.backward();
                for w in [&w1, &w2] {
                    let g = w.grad().expect("gradient");
                    w.assign(&(&w.detach() - &(&g * args.lr)));
                }
                Tensor::realize_all(&[&loss, &errors]);
                loss_sum += loss.item() as f64 * args.batch as f64;
                err_sum += errors.item() as f64;
            }
            let seconds = start.elapsed().as_secs_f64();
            let seen = (steps * args.batch) as f64;
            let test_errors: f64 = no_grad(|| {
                (0..test.len() / 1000)
                    .map(|i| {
                        let (x, y) = batch_tensors(test, i * 1000, 1000);
                        loss_and_errors(&forward(&x), &y).1.item() as f64
                    })
                    .sum()
            });
            stats.push(EpochStats {
                train_loss: loss_sum / seen,
                train_err: err_sum / seen,
                test_err: test_errors / test.len() as f64,
                seconds,
            });
        }
        stats
    })
}

fn main() {
    needle::init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let load = |train| {
        Mnist::load_split(&args.data, train).unwrap_or_else(|e| {
            eprintln!("cannot load MNIST: {e}");
            std::process::exit(1);
        })
    };
    let (train, test) = (load(true), load(false));
    println!(
        "MLP 784-{}-10, SGD lr {}, batch {}, {} epochs, seed {} on {} training / {} test images",
        args.hidden,
        args.lr,
        args.batch,
        args.epochs,
        args.seed,
        train.len(),
        test.len()
    );
    let results: Vec<(Mode, Vec<EpochStats>)> = args
        .modes
        .iter()
        .map(|&m| (m, run(m, &args, &train, &test)))
        .collect();
    print!("{:>5}", "epoch");
    for (mode, _) in &results {
        let m = format!("{mode:?}").to_lowercase();
        print!(
            " | {:>10} {:>9} {:>9} {:>8} {:>10}",
            format!("{m} loss"),
            "train err",
            "test err",
            "s/epoch",
            "samples/s"
        );
    }
    println!();
    for e in 0..args.epochs {
        print!("{:>5}", e + 1);
        for (_, stats) in &results {
            let s = &stats[e];
            let rate = (train.len() / args.batch * args.batch) as f64 / s.seconds;
            print!(
                " | {:>10.6} {:>8.2}% {:>8.2}% {:>8.2} {:>10.0}",
                s.train_loss,
                100.0 * s.train_err,
                100.0 * s.test_err,
                s.seconds,
                rate
            );
        }
        println!();
    }
    if let [(ma, a), (mb, b), ..] = results.as_slice() {
        let max_diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x.train_loss - y.train_loss).abs() / x.train_loss.abs().max(1e-12))
            .fold(0.0f64, f64::max);
        let total = |s: &[EpochStats]| s.iter().map(|e| e.seconds).sum::<f64>();
        let jit = needle::jit::stats();
        println!(
            "JIT: {} kernels compiled in {:.1} ms, {} cache hits",
            jit.compilations,
            jit.compile_time.as_secs_f64() * 1e3,
            jit.cache_hits
        );
        println!(
            "{:?} is {:.2}x faster than {:?}; largest relative difference between the loss curves: {:.2e}",
            ma,
            total(b) / total(a),
            mb,
            max_diff
        );
    }
}
