//! The confusion matrix: per-class counts of predictions, accumulated over batches.

use super::predictions;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

/// How often each class was predicted for each true class, accumulated over any number of
/// batches: rows are true labels, columns predictions (scikit-learn's layout). Rows of logits
/// that are not all finite have no prediction; they are counted per label as
/// [`unpredicted`](ConfusionMatrix::unpredicted), so the diagonal holds exactly what
/// [`count_correct`](super::count_correct) counts.
///
/// ```
/// use needle_core::metrics::ConfusionMatrix;
/// use needle_core::Tensor;
/// let mut cm = ConfusionMatrix::new(3);
/// let logits = Tensor::from_vec(vec![0.1, 2.0, 0.3, 0.5, 0.4, 0.1, 0.0, 0.0, 1.0], &[3, 3]);
/// cm.update(&logits, &Tensor::from_vec_i64(vec![1, 2, 2], &[3]));
/// assert_eq!(cm.count(2, 0), 1); // a 2 taken for a 0
/// assert_eq!(cm.support(2), 2);
/// assert_eq!(cm.recall(2), 0.5);
/// assert_eq!(cm.to_tensor().to_vec_i64(), vec![0, 0, 0, 0, 1, 0, 1, 0, 1]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// `classes × classes`, row-major: [label][prediction].
    counts: Vec<usize>,
    /// Per label: rows with a non-finite logit.
    unpredicted: Vec<usize>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> ConfusionMatrix {
        ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
            unpredicted: vec![0; classes],
        }
    }

    /// The matrix of one batch: logits (N, C) and i64 labels (N,) in `0..C`.
    ///
    /// ```
    /// use needle_core::metrics::ConfusionMatrix;
    /// use needle_core::Tensor;
    /// let logits = Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[2, 2]);
    /// let cm = ConfusionMatrix::from_logits(&logits, &Tensor::from_vec_i64(vec![0, 1], &[2]));
    /// assert_eq!((cm.count(0, 0), cm.count(1, 0), cm.correct()), (1, 1, 1));
    /// ```
    #[track_caller]
    pub fn from_logits(logits: &Tensor, labels: &Tensor) -> ConfusionMatrix {
        let classes = logits.shape().get(1).copied().unwrap_or(0);
        let mut matrix = ConfusionMatrix::new(classes);
        matrix.update(logits, labels);
        matrix
    }

    /// Adds a batch: logits (N, C) with C the matrix's classes, and i64 labels (N,) in `0..C`.
    /// Panics at the caller's line on f32 labels, mismatched shapes, a label outside `0..C` or
    /// logits with another number of classes.
    ///
    /// ```
    /// use needle_core::metrics::ConfusionMatrix;
    /// use needle_core::Tensor;
    /// let mut cm = ConfusionMatrix::new(2);
    /// for _ in 0..2 {
    ///     let logits = Tensor::from_vec(vec![0.0, 1.0], &[1, 2]);
    ///     cm.update(&logits, &Tensor::from_vec_i64(vec![1], &[1]));
    /// }
    /// assert_eq!((cm.count(1, 1), cm.total()), (2, 2));
    /// ```
    #[track_caller]
    pub fn update(&mut self, logits: &Tensor, labels: &Tensor) {
        let (predicted, labels) = predictions("ConfusionMatrix::update", logits, labels);
        let classes = logits.shape()[1];
        if classes != self.classes {
            panic!(
                "ConfusionMatrix::update: logits {} have {classes} classes, the matrix {}",
                fmt_shape(&logits.shape()),
                self.classes
            );
        }
        for (p, &label) in predicted.iter().zip(&labels) {
            let label = label as usize;
            match p {
                Some(p) => self.counts[label * classes + p] += 1,
                None => self.unpredicted[label] += 1,
            }
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Rows of class `label` predicted as `predicted`. Panics when either is not a class.
    ///
    /// ```
    /// let cm = needle_core::metrics::ConfusionMatrix::new(2);
    /// assert_eq!(cm.count(1, 0), 0);
    /// ```
    #[track_caller]
    pub fn count(&self, label: usize, predicted: usize) -> usize {
        self.check_class("count", label);
        self.check_class("count", predicted);
        self.counts[label * self.classes + predicted]
    }

    /// Rows of class `label` whose logits were not all finite (no prediction).
    ///
    /// ```
    /// use needle_core::metrics::ConfusionMatrix;
    /// use needle_core::Tensor;
    /// let logits = Tensor::from_vec(vec![f32::NAN, 0.0], &[1, 2]);
    /// let cm = ConfusionMatrix::from_logits(&logits, &Tensor::from_vec_i64(vec![0], &[1]));
    /// assert_eq!((cm.unpredicted(0), cm.support(0), cm.correct()), (1, 1, 0));
    /// ```
    #[track_caller]
    pub fn unpredicted(&self, label: usize) -> usize {
        self.check_class("unpredicted", label);
        self.unpredicted[label]
    }

    /// Rows of class `label` seen (scikit-learn's support): its row sum plus its unpredicted
    /// rows.
    ///
    /// ```
    /// assert_eq!(needle_core::metrics::ConfusionMatrix::new(3).support(2), 0);
    /// ```
    #[track_caller]
    pub fn support(&self, label: usize) -> usize {
        self.check_class("support", label);
        let row = &self.counts[label * self.classes..(label + 1) * self.classes];
        row.iter().sum::<usize>() + self.unpredicted[label]
    }

    /// Rows predicted correctly: the diagonal's sum.
    ///
    /// ```
    /// assert_eq!(needle_core::metrics::ConfusionMatrix::new(3).correct(), 0);
    /// ```
    pub fn correct(&self) -> usize {
        (0..self.classes)
            .map(|c| self.counts[c * self.classes + c])
            .sum()
    }

    /// Rows seen.
    ///
    /// ```
    /// assert_eq!(needle_core::metrics::ConfusionMatrix::new(3).total(), 0);
    /// ```
    pub fn total(&self) -> usize {
        self.counts.iter().sum::<usize>() + self.unpredicted.iter().sum::<usize>()
    }

    /// The fraction of rows predicted correctly; NaN before any row.
    ///
    /// ```
    /// assert!(needle_core::metrics::ConfusionMatrix::new(3).accuracy().is_nan());
    /// ```
    pub fn accuracy(&self) -> f32 {
        (self.correct() as f64 / self.total() as f64) as f32
    }

    /// The fraction of rows of class `label` predicted correctly (the class's recall, or
    /// per-class accuracy); NaN when the class has not been seen.
    ///
    /// ```
    /// assert!(needle_core::metrics::ConfusionMatrix::new(3).recall(0).is_nan());
    /// ```
    #[track_caller]
    pub fn recall(&self, label: usize) -> f32 {
        let support = self.support(label);
        (self.counts[label * self.classes + label] as f64 / support as f64) as f32
    }

    /// The counts as an i64 tensor (classes, classes): rows true labels, columns predictions.
    ///
    /// ```
    /// let cm = needle_core::metrics::ConfusionMatrix::new(2);
    /// assert_eq!(cm.to_tensor().shape(), vec![2, 2]);
    /// ```
    pub fn to_tensor(&self) -> Tensor {
        let counts = self.counts.iter().map(|&c| c as i64).collect();
        Tensor::from_vec_i64(counts, &[self.classes, self.classes])
    }

    #[track_caller]
    fn check_class(&self, what: &str, class: usize) {
        if class >= self.classes {
            panic!(
                "ConfusionMatrix::{what}: class {class} is outside 0..{}",
                self.classes
            );
        }
    }
}
