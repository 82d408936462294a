//! The side-by-side report of one training run per mode (`train_mnist`, `train_cnn`): a
//! table of epochs, each mode's accuracy and compile time, the speed ratio and the largest
//! difference between the loss curves, and the loss curves as an SVG chart.

use std::path::Path;

use needle_core::Mode;

use super::FitEpoch;
use crate::plot::{line_chart, Series};

/// Prints the epochs of every mode side by side, then each mode's final test accuracy and
/// compile time, and — for the first two modes — how much faster the first trained and the
/// largest relative difference between their loss curves (0: bit-identical).
pub fn print_comparison(results: &[(Mode, Vec<FitEpoch>)]) {
    let epochs = results.iter().map(|(_, s)| s.len()).min().unwrap_or(0);
    print!("{:>5}", "epoch");
    for (mode, _) in results {
        let m = format!("{mode:?}").to_lowercase();
        print!(
            " | {:>10} {:>9} {:>8} {:>7} {:>9}",
            format!("{m} loss"),
            "train err",
            "test err",
            "s/epoch",
            "samples/s"
        );
    }
    println!();
    for e in 0..epochs {
        print!("{:>5}", e + 1);
        for (_, stats) in results {
            let s = &stats[e];
            print!(
                " | {:>10.6} {:>8.2}% {:>7.2}% {:>7.2} {:>9.0}",
                s.train.loss,
                100.0 * s.train.error,
                100.0 * s.test.error,
                s.train.seconds,
                s.train.throughput()
            );
        }
        println!();
    }
    for (mode, stats) in results {
        let compile: f64 = stats
            .iter()
            .map(|s| s.train.compile_seconds + s.test.compile_seconds)
            .sum();
        let last = stats.last().map_or(0.0, |s| 100.0 * (1.0 - s.test.error));
        println!(
            "{mode:?}: final test accuracy {last:.2}%, compile time {:.1} ms",
            compile * 1e3
        );
    }
    if let [(ma, a), (mb, b), ..] = results {
        let total = |s: &[FitEpoch]| s.iter().map(|e| e.train.seconds).sum::<f64>();
        let max_diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x.train.loss - y.train.loss).abs() / x.train.loss.abs().max(1e-12))
            .fold(0.0f64, f64::max);
        println!(
            "{ma:?} trains {:.2}x as fast as {mb:?}; largest relative difference between their loss curves: {max_diff:.2e}",
            total(b) / total(a)
        );
    }
}

/// Writes the training-loss curve of every mode to `path` as an SVG chart titled `title`,
/// reporting where it went (or why it could not be written) on the terminal.
pub fn plot_losses(results: &[(Mode, Vec<FitEpoch>)], path: &Path, title: &str) {
    let series: Vec<Series> = results
        .iter()
        .map(|(m, s)| Series {
            name: format!("{m:?} train loss").to_lowercase(),
            points: s
                .iter()
                .enumerate()
                .map(|(e, x)| ((e + 1) as f64, x.train.loss))
                .collect(),
        })
        .collect();
    match line_chart(path, title, "epoch", "mean loss", &series) {
        Ok(()) => println!("loss curves written to {}", path.display()),
        Err(e) => eprintln!("plot failed: {e}"),
    }
}
