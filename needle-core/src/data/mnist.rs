//! MNIST as the course reads it: images scaled to [0, 1] by the dataset's min and max,
//! flattened to 784 values, and u8 labels.

use std::path::Path;

use super::idx::read_idx;
use super::DataError;

/// An MNIST split held in memory.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// Images, row-major `(len, rows·cols)`, values in [0, 1].
    pub images: Vec<f32>,
    /// Class labels 0–9.
    pub labels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
}

impl Mnist {
    /// Reads an image file (IDX, 3 dimensions) and its label file (IDX, 1 dimension), raw or
    /// gzip. Checks magic numbers, dimensions, lengths and that both files count the same items.
    ///
    /// (Compiled, not run, as a doctest: the path is relative to the workspace root, where the
    /// examples run, while doctests run in needle-core's folder; `MnistDataset`'s example
    /// loads the test split.)
    ///
    /// ```no_run
    /// use needle_core::data::Mnist;
    /// let train = Mnist::load("data/mnist/train-images-idx3-ubyte.gz".as_ref(),
    ///                         "data/mnist/train-labels-idx1-ubyte.gz".as_ref())?;
    /// assert_eq!(train.len(), 60_000);
    /// # Ok::<(), needle_core::data::DataError>(())
    /// ```
    pub fn load(images: &Path, labels: &Path) -> Result<Mnist, DataError> {
        let img = read_idx(images)?;
        if img.dims.len() != 3 {
            return Err(DataError::Format {
                path: images.to_path_buf(),
                problem: format!(
                    "image file has {} dimensions {:?}, expected 3 (count, rows, cols)",
                    img.dims.len(),
                    img.dims
                ),
            });
        }
        let lab = read_idx(labels)?;
        if lab.dims.len() != 1 {
            return Err(DataError::Format {
                path: labels.to_path_buf(),
                problem: format!(
                    "label file has {} dimensions {:?}, expected 1",
                    lab.dims.len(),
                    lab.dims
                ),
            });
        }
        if img.dims[0] != lab.dims[0] {
            return Err(DataError::Mismatch {
                first: images.to_path_buf(),
                second: labels.to_path_buf(),
                problem: format!("{} images but {} labels", img.dims[0], lab.dims[0]),
            });
        }
        if let Some((i, &l)) = lab.data.iter().enumerate().find(|(_, &l)| l > 9) {
            return Err(DataError::Format {
                path: labels.to_path_buf(),
                problem: format!(
                    "label {l} at item {i} (offset {}) is not a digit 0-9",
                    8 + i
                ),
            });
        }
        let (lo, hi) = img
            .data
            .iter()
            .fold((u8::MAX, u8::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let range = (hi as f32 - lo as f32).max(1.0);
        let images_f32 = img
            .data
            .iter()
            .map(|&v| (v as f32 - lo as f32) / range)
            .collect();
        Ok(Mnist {
            images: images_f32,
            labels: lab.data,
            rows: img.dims[1],
            cols: img.dims[2],
        })
    }

    /// Loads the training or test split from a folder holding the four standard file names
    /// (`train-images-idx3-ubyte.gz`, …; uncompressed names are tried when the .gz are absent).
    pub fn load_split(dir: &Path, train: bool) -> Result<Mnist, DataError> {
        let prefix = if train { "train" } else { "t10k" };
        let pick = |kind: &str| {
            let gz = dir.join(format!("{prefix}-{kind}.gz"));
            if gz.exists() {
                gz
            } else {
                dir.join(format!("{prefix}-{kind}"))
            }
        };
        Mnist::load(&pick("images-idx3-ubyte"), &pick("labels-idx1-ubyte"))
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no item.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image (rows · cols).
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }
}
