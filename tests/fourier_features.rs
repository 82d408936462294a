//! Lecture 3's claim on a small MNIST subset: a linear classifier on enough random Fourier
//! features beats the linear classifier on raw pixels, and its error falls as D grows.

use std::path::Path;

use needle::data::Mnist;
use needle::experiments::fourier_features::{
    fourier_classifier, linear_on_pixels, FourierMap, Sgd,
};
use needle::experiments::Split;
use needle::{with_mode, Mode, Tensor};

fn splits(n_train: usize, n_test: usize) -> (Split, Split) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    (
        Split::from_mnist(&Mnist::load_split(&dir, true).unwrap(), Some(n_train)),
        Split::from_mnist(&Mnist::load_split(&dir, false).unwrap(), Some(n_test)),
    )
}

#[test]
fn enough_random_features_beat_pixels_and_error_falls_with_width() {
    let (train, test) = splits(2000, 1000);
    let run = Sgd {
        epochs: 3,
        lr_pixels: 0.2,
        lr_fourier: 20.0,
        lr_net: 0.1,
        batch: 100,
    };
    with_mode(Mode::Jit, || {
        let pixels = linear_on_pixels(&train, &test, &run);
        let errs: Vec<f64> = [50, 200, 1000]
            .iter()
            .map(|&d| fourier_classifier(&train, &test, &run, d, 0.2, 0).test_err)
            .collect();
        assert!(
            errs.windows(2).all(|p| p[1] < p[0]),
            "error does not fall with D: {errs:?}"
        );
        assert!(
            errs[2] < pixels.test_err - 0.01,
            "D = 1000 gives {}, pixels {}",
            errs[2],
            pixels.test_err
        );
        assert_eq!(pixels.trained_params, 7850);
    });
}

#[test]
fn features_are_scaled_cosines_of_a_fixed_map() {
    // φ(x) = √(2/D)·cos(xW + b): for x = 0 it is √(2/D)·cos(b), and the map is the same for the
    // same seed.
    let a = FourierMap::new(3, 8, 0.2, 7);
    let b = FourierMap::new(3, 8, 0.2, 7);
    assert_eq!(a.w.to_vec(), b.w.to_vec());
    let phi = a.apply(&Tensor::zeros(&[1, 3])).to_vec();
    let expected: Vec<f32> = a.b.to_vec().iter().map(|p| p.cos() * 0.5).collect();
    assert_eq!(phi, expected);
    assert!(a
        .b
        .to_vec()
        .iter()
        .all(|p| (0.0..std::f32::consts::TAU).contains(p)));
}
