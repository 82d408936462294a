//! Classification metrics read back from tensors: argmax, correct counts, accuracy and the
//! confusion matrix. They compute on the host, record nothing and carry no gradient, so they
//! can be called on logits inside or outside `no_grad`, in every mode.
//!
//! A row of logits that is not all finite (a diverged model) has no prediction: it never
//! counts as correct, so a model that has turned to NaN scores 0, not chance. [`argmax`] itself
//! follows numpy exactly (NaN is the maximum).
//!
//! ```
//! use needle_core::metrics;
//! use needle_core::Tensor;
//! let logits = Tensor::from_vec(vec![0.1, 2.0, 0.3, 0.5, 0.4, 0.1], &[2, 3]);
//! let labels = Tensor::from_vec_i64(vec![1, 2], &[2]);
//! assert_eq!(metrics::argmax(&logits, 1).to_vec_i64(), vec![1, 0]);
//! assert_eq!(metrics::count_correct(&logits, &labels), 1);
//! assert_eq!(metrics::accuracy(&logits, &labels), 0.5);
//! ```

mod confusion;

pub use confusion::ConfusionMatrix;

use crate::dtype::DType;
use crate::labels::class_labels;
use crate::shape::{fmt_shape, or_panic, resolve_axis};
use crate::tensor::Tensor;

/// Indices of the maxima along `axis` (negative counts from the end), an i64 tensor of the
/// input's shape without that axis: numpy's `argmax(x, axis)`. Ties go to the first maximum;
/// a NaN counts as the maximum (the first NaN wins), as in numpy and PyTorch. Panics when the
/// axis is out of range or empty.
///
/// ```
/// use needle_core::metrics::argmax;
/// use needle_core::Tensor;
/// let x = Tensor::from_vec(vec![1.0, 3.0, 3.0, f32::NAN, 0.0, 5.0], &[2, 3]);
/// assert_eq!(argmax(&x, 1).to_vec_i64(), vec![1, 0]);
/// assert_eq!(argmax(&x, 0).to_vec_i64(), vec![1, 0, 1]);
/// ```
#[track_caller]
pub fn argmax(x: &Tensor, axis: isize) -> Tensor {
    let shape = x.shape();
    let a = or_panic(resolve_axis(axis, shape.len()), || {
        format!(
            "argmax: axis {axis} is out of range for shape {}",
            fmt_shape(&shape)
        )
    });
    let len = shape[a];
    let outer: usize = shape[..a].iter().product();
    let inner: usize = shape[a + 1..].iter().product();
    let mut out_shape = shape.clone();
    out_shape.remove(a);
    if len == 0 {
        panic!(
            "argmax: axis {axis} of shape {} is empty (no maximum to point at)",
            fmt_shape(&shape)
        );
    }
    let mut indices = Vec::with_capacity(outer * inner);
    match x.dtype() {
        DType::F32 => {
            let values = x.to_vec();
            for o in 0..outer {
                for i in 0..inner {
                    let at = |j: usize| values[(o * len + j) * inner + i];
                    indices.push(first_max(len, at) as i64);
                }
            }
        }
        DType::I64 => {
            let values = x.to_vec_i64();
            for o in 0..outer {
                for i in 0..inner {
                    let at = |j: usize| values[(o * len + j) * inner + i];
                    let best = (1..len).fold(0, |best, j| if at(j) > at(best) { j } else { best });
                    indices.push(best as i64);
                }
            }
        }
    }
    Tensor::from_vec_i64(indices, &out_shape)
}

/// numpy's rule over `len` values: the first NaN, else the first of the largest.
fn first_max(len: usize, at: impl Fn(usize) -> f32) -> usize {
    let mut best = 0;
    for j in 1..len {
        if at(best).is_nan() {
            break;
        }
        let v = at(j);
        if v.is_nan() || v > at(best) {
            best = j;
        }
    }
    best
}

/// The prediction of each row of `logits` (N, C): its first largest logit, or `None` when the
/// row is not all finite. Labels are validated against the logits (`who` names the caller).
#[track_caller]
pub(crate) fn predictions(
    who: &str,
    logits: &Tensor,
    labels: &Tensor,
) -> (Vec<Option<usize>>, Vec<i64>) {
    let labels = class_labels(who, "logits", logits, labels);
    let classes = logits.shape()[1];
    let values = logits.to_vec();
    let predicted = (0..labels.len())
        .map(|r| {
            let row = &values[r * classes..(r + 1) * classes];
            row.iter()
                .all(|v| v.is_finite())
                .then(|| first_max(classes, |j| row[j]))
        })
        .collect();
    (predicted, labels)
}

/// How many rows of `logits` (N, C) have their largest logit at the row's label (`labels`:
/// i64, (N,), in `0..C`); ties go to the first class, and a row that is not all finite counts
/// as wrong. Panics at the caller's line on f32 labels, mismatched shapes or a label outside
/// `0..C`.
///
/// ```
/// use needle_core::metrics::count_correct;
/// use needle_core::Tensor;
/// let logits = Tensor::from_vec(vec![2.0, 2.0, f32::NAN, 1.0], &[2, 2]);
/// let labels = Tensor::from_vec_i64(vec![0, 0], &[2]);
/// assert_eq!(count_correct(&logits, &labels), 1); // the tie goes to class 0; NaN is wrong
/// ```
#[track_caller]
pub fn count_correct(logits: &Tensor, labels: &Tensor) -> usize {
    tally("count_correct", logits, labels).0
}

/// The fraction of rows classified correctly, as [`count_correct`] counts them; NaN for an
/// empty batch (the mean of nothing, as numpy's).
///
/// ```
/// use needle_core::metrics::accuracy;
/// use needle_core::Tensor;
/// let logits = Tensor::from_vec(vec![0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7], &[4, 2]);
/// let labels = Tensor::from_vec_i64(vec![0, 1, 1, 1], &[4]);
/// assert_eq!(accuracy(&logits, &labels), 0.75);
/// ```
#[track_caller]
pub fn accuracy(logits: &Tensor, labels: &Tensor) -> f32 {
    let (correct, rows) = tally("accuracy", logits, labels);
    (correct as f64 / rows as f64) as f32
}

/// (rows predicted correctly, rows).
#[track_caller]
fn tally(who: &str, logits: &Tensor, labels: &Tensor) -> (usize, usize) {
    let (predicted, labels) = predictions(who, logits, labels);
    let correct = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, &l)| **p == Some(l as usize))
        .count();
    (correct, labels.len())
}
