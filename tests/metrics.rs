//! The metrics against numpy: argmax over every axis with ties and NaN (numpy's rule: the
//! first maximum, a NaN is the maximum), correct counts, accuracy and the confusion matrix
//! (rows with a non-finite logit have no prediction), in every mode, and the messages for
//! misuse.

mod common;

use needle::metrics::{accuracy, argmax, count_correct, ConfusionMatrix};
use needle::{with_mode, Tensor};

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;

/// numpy: rng = default_rng(5); x = rng.integers(0, 4, (2, 3, 4)).astype(float32) with four
/// NaNs set, then argmax(x, axis) for axis 0, 1, 2.
const X: [f32; 24] = [
    2.0, 3.0, 0.0, 3.0, 1.0, 2.0, NAN, 1.0, 3.0, NAN, 1.0, 1.0, //
    2.0, 1.0, 0.0, NAN, 0.0, 0.0, 0.0, 3.0, NAN, 2.0, 3.0, 0.0,
];

#[test]
fn argmax_matches_numpy_on_every_axis() {
    for mode in common::MODES {
        with_mode(mode, || {
            // A pending tensor (the product by 1 is recorded, not computed) is read as well.
            let x = Tensor::from_slice(&X, &[2, 3, 4]) * 1.0;
            let cases: [(isize, &[usize], &[i64]); 4] = [
                (0, &[3, 4], &[0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 0]),
                (1, &[2, 4], &[2, 2, 1, 0, 2, 2, 2, 0]),
                (2, &[2, 3], &[1, 2, 1, 3, 3, 0]),
                (-1, &[2, 3], &[1, 2, 1, 3, 3, 0]),
            ];
            for (axis, shape, expected) in cases {
                let got = argmax(&x, axis);
                assert_eq!(got.dtype(), needle::DType::I64);
                assert_eq!(got.shape(), shape.to_vec(), "axis {axis}");
                assert_eq!(got.to_vec_i64(), expected.to_vec(), "axis {axis}");
            }
        });
    }
}

#[test]
fn argmax_edge_values_follow_numpy() {
    // np.argmax: [-0., 0.] → 0 (equal), [inf, inf] → 0, [-inf, -inf] → 0, [1, nan, nan, 5]
    // → 1; a 1-D input gives a 0-d index; an empty outer axis gives an empty result.
    let row = |v: &[f32]| argmax(&Tensor::from_slice(v, &[v.len()]), 0);
    assert_eq!(row(&[-0.0, 0.0]).to_vec_i64(), vec![0]);
    assert_eq!(row(&[INF, INF]).to_vec_i64(), vec![0]);
    assert_eq!(row(&[-INF, -INF]).to_vec_i64(), vec![0]);
    assert_eq!(row(&[1.0, NAN, NAN, 5.0]).to_vec_i64(), vec![1]);
    assert_eq!(row(&[1.0, 5.0]).shape(), Vec::<usize>::new());
    let empty = argmax(&Tensor::zeros(&[0, 3]), 1);
    assert_eq!(empty.shape(), vec![0]);
    // i64 tensors compare as integers: 2^53 + 1 and 2^53 are distinct.
    let big = Tensor::from_vec_i64(vec![1 << 53, (1 << 53) + 1, 3], &[3]);
    assert_eq!(argmax(&big, 0).to_vec_i64(), vec![1]);
}

/// numpy, same generator: z = integers(0, 3, (10, 4)) with NaN at (3, 1), inf at (6, 2) and
/// row 8 all NaN; y = integers(0, 4, 10) with y[3] = 1, y[6] = 2, y[8] = 0, the labels
/// numpy's argmax would hit on those rows. argmax(z, 1) = [3, 1, 1, 1, 0, 1, 2, 3, 0, 0];
/// (argmax == y).sum() = 4, of which 1 on an all-finite row.
const Z: [f32; 40] = [
    0.0, 1.0, 0.0, 2.0, 0.0, 2.0, 2.0, 2.0, 0.0, 1.0, 1.0, 1.0, 1.0, NAN, 1.0, 0.0, 2.0, 1.0, 2.0,
    0.0, 1.0, 2.0, 0.0, 0.0, 1.0, 2.0, INF, 2.0, 1.0, 0.0, 1.0, 2.0, NAN, NAN, NAN, NAN, 2.0, 2.0,
    2.0, 0.0,
];
const Y: [i64; 10] = [0, 2, 1, 1, 3, 0, 2, 1, 0, 3];

#[test]
fn correct_counts_skip_rows_that_are_not_finite() {
    for mode in common::MODES {
        with_mode(mode, || {
            let z = Tensor::from_slice(&Z, &[10, 4]);
            let y = Tensor::from_vec_i64(Y.to_vec(), &[10]);
            assert_eq!(
                argmax(&z, 1).to_vec_i64(),
                vec![3, 1, 1, 1, 0, 1, 2, 3, 0, 0]
            );
            assert_eq!(count_correct(&z, &y), 1);
            assert_eq!(accuracy(&z, &y), 0.1);
            // Finite rows only: numpy's (argmax == y) over rows 0..3 is [F, F, T].
            let head = Tensor::from_slice(&Z[..12], &[3, 4]);
            let y3 = Tensor::from_vec_i64(Y[..3].to_vec(), &[3]);
            assert_eq!(count_correct(&head, &y3), 1);
            assert_eq!(accuracy(&head, &y3), (1.0f64 / 3.0) as f32);
        });
    }
    let none = Tensor::zeros(&[0, 4]);
    assert!(accuracy(&none, &Tensor::from_vec_i64(vec![], &[0])).is_nan());
}

#[test]
fn confusion_matrix_matches_numpy() {
    // numpy over the finite rows: cm = zeros((4, 4)); np.add.at(cm, (y, argmax), 1);
    // unpredicted = bincount(y[~finite], minlength=4), support = bincount(y, minlength=4).
    let z = Tensor::from_slice(&Z, &[10, 4]);
    let y = Tensor::from_vec_i64(Y.to_vec(), &[10]);
    let cm = ConfusionMatrix::from_logits(&z, &y);
    assert_eq!(cm.classes(), 4);
    assert_eq!(
        cm.to_tensor().to_vec_i64(),
        vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 2, 0, 0, 0]
    );
    assert_eq!(cm.to_tensor().shape(), vec![4, 4]);
    assert_eq!(
        (0..4).map(|c| cm.unpredicted(c)).collect::<Vec<_>>(),
        [1, 1, 1, 0]
    );
    assert_eq!(
        (0..4).map(|c| cm.support(c)).collect::<Vec<_>>(),
        [3, 3, 2, 2]
    );
    assert_eq!((cm.correct(), cm.total()), (1, 10));
    assert_eq!(cm.accuracy(), 0.1);
    assert_eq!(cm.recall(1), (1.0f64 / 3.0) as f32);
    assert_eq!(cm.recall(0), 0.0);
    // Accumulating two batches gives the matrix of their union.
    let mut split = ConfusionMatrix::new(4);
    split.update(&z.narrow(0, 0, 4), &y.narrow(0, 0, 4));
    split.update(&z.narrow(0, 4, 6), &y.narrow(0, 4, 6));
    assert_eq!(split, cm);
}

#[test]
fn training_helpers_still_count_diverged_rows_as_errors() {
    // loss_and_error moved onto metrics::count_correct; a NaN row whose first entry numpy
    // would call the maximum, labelled 0, is still an error, and the tie goes to class 0.
    let z = Tensor::from_vec(vec![NAN, 0.0, 1.0, 1.0, 0.0, 2.0], &[3, 2]);
    let y = Tensor::from_vec_i64(vec![0, 0, 1], &[3]);
    let (_, error) = needle::experiments::loss_and_error(&z, &y);
    assert_eq!(error, 1.0 / 3.0);
}

#[test]
#[should_panic(
    expected = "accuracy: labels must be i64 class indices, got f32 [2] (convert with \
                .cast(DType::I64))"
)]
fn accuracy_rejects_f32_labels() {
    accuracy(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[2]));
}

#[test]
#[should_panic(
    expected = "count_correct: label 3 at position 1 is outside 0..3 (logits [2, 3] have 3 classes)"
)]
fn count_correct_names_an_out_of_range_label() {
    count_correct(
        &Tensor::zeros(&[2, 3]),
        &Tensor::from_vec_i64(vec![0, 3], &[2]),
    );
}

#[test]
#[should_panic(expected = "argmax: axis 2 is out of range for shape [2, 3]")]
fn argmax_names_an_out_of_range_axis() {
    argmax(&Tensor::zeros(&[2, 3]), 2);
}

#[test]
#[should_panic(expected = "argmax: axis 1 of shape [3, 0] is empty (no maximum to point at)")]
fn argmax_of_an_empty_axis_is_an_error() {
    argmax(&Tensor::zeros(&[3, 0]), 1);
}

#[test]
#[should_panic(expected = "ConfusionMatrix::update: logits [1, 3] have 3 classes, the matrix 4")]
fn confusion_matrix_names_a_class_count_mismatch() {
    let mut cm = ConfusionMatrix::new(4);
    cm.update(
        &Tensor::zeros(&[1, 3]),
        &Tensor::from_vec_i64(vec![0], &[1]),
    );
}

#[test]
#[should_panic(expected = "ConfusionMatrix::count: class 4 is outside 0..4")]
fn confusion_matrix_names_a_class_out_of_range() {
    ConfusionMatrix::new(4).count(0, 4);
}
