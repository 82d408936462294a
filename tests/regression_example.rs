//! The `regression` example's training, run from here: in every mode it recovers the line
//! the data was drawn from (to the noise) and the least-squares fit of its data (to 1e-3),
//! with bit-identical results, across the checkpoint round trip in the middle.

mod common;

#[path = "../examples/regression.rs"]
#[allow(dead_code)]
mod regression;

use needle::with_mode;
use regression::{data, fit, TRUE_A, TRUE_B};

/// The exact least-squares line through the example's data, in f64 on the host.
fn least_squares() -> (f64, f64) {
    let (x, y) = data(64);
    let (x, y) = (x.to_vec(), y.to_vec());
    let n = x.len() as f64;
    let mean = |v: &[f32]| v.iter().map(|&t| t as f64).sum::<f64>() / n;
    let (mx, my) = (mean(&x), mean(&y));
    let sxy: f64 = x
        .iter()
        .zip(&y)
        .map(|(&a, &b)| (a as f64 - mx) * (b as f64 - my))
        .sum();
    let sxx: f64 = x.iter().map(|&a| (a as f64 - mx).powi(2)).sum();
    let a = sxy / sxx;
    (a, my - a * mx)
}

#[test]
fn the_regression_example_fits_the_line_in_every_mode() {
    let (ls_a, ls_b) = least_squares();
    // The noise moves the best fit a little off the true line.
    assert!((ls_a - TRUE_A as f64).abs() < 0.05 && (ls_b - TRUE_B as f64).abs() < 0.05);
    let dir = std::env::temp_dir().join(format!("needle-regression-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut fits = Vec::new();
    for mode in common::MODES {
        let path = dir.join(format!("{mode:?}.safetensors"));
        let got = with_mode(mode, || fit(300, &path, false));
        assert!(
            (got.a as f64 - ls_a).abs() < 1e-3 && (got.b as f64 - ls_b).abs() < 1e-3,
            "{mode:?}: fitted {got:?}, least squares a = {ls_a}, b = {ls_b}"
        );
        assert!(
            (got.a - TRUE_A).abs() < 0.05 && (got.b - TRUE_B).abs() < 0.05,
            "{got:?}"
        );
        fits.push(got);
    }
    let bits = |f: &regression::Fit| [f.a.to_bits(), f.b.to_bits(), f.loss.to_bits()];
    assert!(fits.iter().all(|f| bits(f) == bits(&fits[0])), "{fits:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
