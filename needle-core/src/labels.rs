//! Checks at the edge of the API for what the losses and metrics take: scores of shape
//! (N, classes) against i64 class indices of shape (N,), and pairs of same-shaped f32 tensors.
//! Each check panics at the user's line naming the caller (`SoftmaxLoss`, `accuracy`, …), so a
//! mistake is reported as the user wrote it, not as an op deep inside the library.

use crate::dtype::DType;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

/// Panics unless `t` is f32; `role` names the argument ("input", "logits").
#[track_caller]
pub(crate) fn require_f32(who: &str, role: &str, t: &Tensor) {
    let dtype = t.dtype();
    if dtype != DType::F32 {
        panic!(
            "{who}: {role} must be f32, got {dtype} {} (convert with .to_f32())",
            fmt_shape(&t.shape())
        );
    }
}

/// Panics unless `input` and `target` are f32 tensors of one shape (the elementwise losses do
/// not broadcast: a (N,) target against a (N, 1) input would silently average N² pairs).
#[track_caller]
pub(crate) fn require_same_shape(who: &str, input: &Tensor, target: &Tensor) {
    require_f32(who, "input", input);
    require_f32(who, "target", target);
    let (a, b) = (input.shape(), target.shape());
    if a != b {
        panic!(
            "{who}: input {} and target {} must have the same shape",
            fmt_shape(&a),
            fmt_shape(&b)
        );
    }
}

/// Validates `scores` (N, classes) f32 and `labels` (N,) i64 with every label in
/// `0..classes`, and returns the labels. `role` names the scores ("logits", "log-probabilities").
#[track_caller]
pub(crate) fn class_labels(who: &str, role: &str, scores: &Tensor, labels: &Tensor) -> Vec<i64> {
    let classes = check_class_shapes(who, role, scores, labels);
    let values = labels.to_vec_i64();
    if let Err(message) = check_label_values(who, role, values.iter().copied(), classes) {
        panic!("{message}");
    }
    values
}

/// Panics unless `scores` is (N, classes) f32 and `labels` (N,) i64; returns `classes`.
#[track_caller]
fn check_class_shapes(who: &str, role: &str, scores: &Tensor, labels: &Tensor) -> usize {
    require_f32(who, role, scores);
    let dtype = labels.dtype();
    if dtype != DType::I64 {
        panic!(
            "{who}: labels must be i64 class indices, got {dtype} {} (convert with \
             .cast(DType::I64))",
            fmt_shape(&labels.shape())
        );
    }
    let (shape, label_shape) = (scores.shape(), labels.shape());
    if shape.len() != 2 || label_shape.as_slice() != [shape[0]] {
        panic!(
            "{who}: {role} {} and labels {} must be (N, classes) and (N,)",
            fmt_shape(&shape),
            fmt_shape(&label_shape)
        );
    }
    shape[1]
}

/// The message for the first label outside `0..classes`, if any.
fn check_label_values(
    who: &str,
    role: &str,
    values: impl ExactSizeIterator<Item = i64>,
    classes: usize,
) -> Result<(), String> {
    let n = values.len();
    let mut values = values.enumerate();
    match values.find(|(_, v)| !(0..classes as i64).contains(v)) {
        Some((position, label)) => Err(format!(
            "{who}: label {label} at position {position} is outside 0..{classes} ({role} {} \
             have {classes} classes)",
            fmt_shape(&[n, classes])
        )),
        None => Ok(()),
    }
}

/// Validates `scores` and `labels` as [`class_labels`] does and returns the (N, classes) mask
/// that is 1.0 at each row's label and 0.0 elsewhere. The mask is made on the host from the
/// labels' elements without reading them as a value: a captured step makes it again from the
/// labels of each call (and checks them again).
#[track_caller]
pub(crate) fn class_label_mask(
    who: &'static str,
    role: &'static str,
    scores: &Tensor,
    labels: &Tensor,
) -> Tensor {
    let classes = check_class_shapes(who, role, scores, labels);
    let n = labels.shape()[0];
    let zeros = crate::storage::filled_vec(n * classes, 0.0f32, || format!("{who} label mask"));
    Tensor::host_derived(
        labels,
        crate::storage::Realized::from_f32(zeros, &[n, classes]),
        move |labels, mask| {
            // (N,) labels, read in place (a replay makes the mask without allocating).
            let data = labels.buffer.as_i64();
            let (start, stride) = (labels.layout.offset as isize, labels.layout.strides[0]);
            let values = (0..n).map(|row| data[(start + row as isize * stride) as usize]);
            check_label_values(who, role, values.clone(), classes)?;
            let mask = mask.as_f32_mut();
            mask.fill(0.0);
            for (row, label) in values.enumerate() {
                mask[row * classes + label as usize] = 1.0;
            }
            Ok(())
        },
    )
}
