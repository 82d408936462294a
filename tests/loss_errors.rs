//! Misuse of the losses: each message names the loss and what was wrong (dtype, shape, label,
//! position, class count), at the caller's line in every mode.

mod common;

use needle::nn::{BCEWithLogitsLoss, L1Loss, MSELoss, NLLLoss, SoftmaxLoss};
use needle::Tensor;

#[test]
#[should_panic(
    expected = "SoftmaxLoss: labels must be i64 class indices, got f32 [4] (convert with \
                .cast(DType::I64))"
)]
fn softmax_loss_rejects_f32_labels() {
    let z = Tensor::zeros(&[4, 3]);
    SoftmaxLoss::new().forward(&z, &Tensor::from_vec(vec![0.0, 1.0, 2.0, 1.0], &[4]));
}

#[test]
#[should_panic(
    expected = "NLLLoss: labels must be i64 class indices, got f32 [4] (convert with \
                .cast(DType::I64))"
)]
fn nll_loss_rejects_f32_labels() {
    let lp = Tensor::zeros(&[4, 3]);
    NLLLoss::new().forward(&lp, &Tensor::from_vec(vec![0.0, 1.0, 2.0, 1.0], &[4]));
}

#[test]
#[should_panic(
    expected = "SoftmaxLoss: label 7 at position 2 is outside 0..3 (logits [4, 3] have 3 \
                classes)"
)]
fn softmax_loss_names_an_out_of_range_label() {
    let y = Tensor::from_vec_i64(vec![0, 1, 7, 1], &[4]);
    SoftmaxLoss::new().forward(&Tensor::zeros(&[4, 3]), &y);
}

#[test]
#[should_panic(
    expected = "NLLLoss: label -1 at position 0 is outside 0..3 (log-probabilities [2, 3] have \
                3 classes)"
)]
fn nll_loss_names_a_negative_label() {
    let y = Tensor::from_vec_i64(vec![-1, 1], &[2]);
    NLLLoss::new().forward(&Tensor::zeros(&[2, 3]), &y);
}

#[test]
#[should_panic(
    expected = "SoftmaxLoss: logits [4, 3] and labels [5] must be (N, classes) and (N,)"
)]
fn softmax_loss_names_mismatched_shapes() {
    let y = Tensor::from_vec_i64(vec![0; 5], &[5]);
    SoftmaxLoss::new().forward(&Tensor::zeros(&[4, 3]), &y);
}

#[test]
#[should_panic(expected = "MSELoss: input [4, 1] and target [4] must have the same shape")]
fn mse_loss_does_not_broadcast() {
    MSELoss::new().forward(&Tensor::zeros(&[4, 1]), &Tensor::zeros(&[4]));
}

#[test]
#[should_panic(expected = "L1Loss: target must be f32, got i64 [2] (convert with .to_f32())")]
fn l1_loss_rejects_an_integer_target() {
    L1Loss::new().forward(
        &Tensor::zeros(&[2]),
        &Tensor::from_vec_i64(vec![1, 2], &[2]),
    );
}

#[test]
#[should_panic(
    expected = "BCEWithLogitsLoss: input [3] and target [1, 3] must have the same shape"
)]
fn bce_loss_names_mismatched_shapes() {
    BCEWithLogitsLoss::new().forward(&Tensor::zeros(&[3]), &Tensor::zeros(&[1, 3]));
}

#[test]
fn loss_errors_are_reported_at_the_callers_line_in_every_mode() {
    for mode in common::MODES {
        let line = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen = line.clone();
        let previous = std::panic::take_hook();
        // The hook is global; tests on other threads panic too, so only this thread's counts.
        let this_thread = std::thread::current().id();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() == this_thread {
                *seen.lock().unwrap() = info.location().map(|l| (l.file().to_string(), l.line()));
            }
        }));
        let expected_line = line!() + 4;
        let result = std::panic::catch_unwind(|| {
            needle::with_mode(mode, || {
                let y = Tensor::from_vec(vec![0.0, 1.0], &[2]);
                SoftmaxLoss::new().forward(&Tensor::zeros(&[2, 3]), &y)
            })
        });
        std::panic::set_hook(previous);
        assert!(result.is_err());
        let site = line.lock().unwrap().clone();
        assert_eq!(
            site,
            Some(("tests/loss_errors.rs".to_string(), expected_line)),
            "{mode:?}"
        );
    }
}
