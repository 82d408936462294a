//! Datasets: indexed collections of items, each a list of arrays (e.g. image, label).

use super::array::Array;
use super::mnist::Mnist;
use super::transform::Transform;
use crate::random::NumpyRng;

/// An indexed collection of items. `Send + Sync` so a data loader's prefetch thread can read it.
pub trait Dataset: Send + Sync {
    /// Number of items.
    fn len(&self) -> usize;

    /// Item `index` (one array per field), with any random transform drawing from `rng`.
    fn get(&self, index: usize, rng: &mut NumpyRng) -> Vec<Array>;

    /// True when there is no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `get` draws random numbers (random transforms); a prefetching loader then gives
    /// its thread a generator seeded from the global stream.
    fn is_random(&self) -> bool {
        false
    }

    /// The items at `indices`, each field stacked along a new first axis.
    fn get_batch(&self, indices: &[usize], rng: &mut NumpyRng) -> Vec<Array> {
        let items: Vec<Vec<Array>> = indices.iter().map(|&i| self.get(i, rng)).collect();
        let fields = items.first().map_or(0, Vec::len);
        (0..fields)
            .map(|f| Array::stack(&items.iter().map(|it| it[f].clone()).collect::<Vec<_>>()))
            .collect()
    }
}

/// Item `i` is row `i` of every field (the course's `NDArrayDataset`).
pub struct ArrayDataset {
    fields: Vec<Array>,
}

impl ArrayDataset {
    /// Fields must share their first dimension.
    #[track_caller]
    pub fn new(fields: Vec<Array>) -> ArrayDataset {
        assert!(!fields.is_empty(), "ArrayDataset: no fields");
        let n = fields[0].shape[0];
        for (i, f) in fields.iter().enumerate() {
            assert_eq!(
                f.shape.first(),
                Some(&n),
                "ArrayDataset: field {i} has shape {:?}, expected {n} rows",
                f.shape
            );
        }
        ArrayDataset { fields }
    }
}

impl Dataset for ArrayDataset {
    fn len(&self) -> usize {
        self.fields[0].shape[0]
    }

    fn get(&self, index: usize, _rng: &mut NumpyRng) -> Vec<Array> {
        self.fields.iter().map(|f| f.row(index)).collect()
    }
}

/// MNIST items: the image as 28×28×1 f32 in [0, 1] (transforms apply to it) and the label as a
/// 0-d i64 array.
///
/// A [`DataLoader`](crate::data::DataLoader) over it yields `[images, labels]`: images of
/// shape `[B, 28, 28, 1]` (batch, height, width, channels: the course's NHWC layout) and
/// labels of shape `[B]`, i64 class indices 0–9. A fully connected model takes `[B, 784]`:
/// flatten first (`x.reshape(&[b, 784])` or `nn::Flatten`); a `Linear(784, …)` given the
/// 4-d batch reports a shape error.
///
/// ```
/// use needle_core::data::{DataLoader, Mnist, MnistDataset};
/// use needle_core::DType;
/// // The workspace's data/mnist, seen from needle-core's folder (where doctests run).
/// let test = Mnist::load("../data/mnist/t10k-images-idx3-ubyte.gz".as_ref(),
///                        "../data/mnist/t10k-labels-idx1-ubyte.gz".as_ref())?;
/// let loader = DataLoader::new(MnistDataset::new(test).truncated(10), 4);
/// let batch = loader.iter().next().unwrap();
/// let (images, labels) = (&batch[0], &batch[1]);
/// assert_eq!(images.shape(), vec![4, 28, 28, 1]);
/// assert_eq!((labels.shape(), labels.dtype()), (vec![4], DType::I64));
/// assert_eq!(images.reshape(&[4, 784]).shape(), vec![4, 784]);
/// # Ok::<(), needle_core::data::DataError>(())
/// ```
pub struct MnistDataset {
    data: Mnist,
    transforms: Vec<Box<dyn Transform>>,
}

impl MnistDataset {
    /// A dataset over loaded MNIST data.
    pub fn new(data: Mnist) -> MnistDataset {
        MnistDataset {
            data,
            transforms: Vec::new(),
        }
    }

    /// With transforms applied to every image, in order.
    pub fn with_transforms(mut self, transforms: Vec<Box<dyn Transform>>) -> MnistDataset {
        self.transforms = transforms;
        self
    }

    /// Only the first `n` items (for quick runs and tests).
    pub fn truncated(mut self, n: usize) -> MnistDataset {
        let n = n.min(self.data.len());
        self.data.images.truncate(n * self.data.pixels());
        self.data.labels.truncate(n);
        self
    }
}

impl Dataset for MnistDataset {
    fn len(&self) -> usize {
        self.data.len()
    }

    fn get(&self, index: usize, rng: &mut NumpyRng) -> Vec<Array> {
        let px = self.data.pixels();
        let pixels = self.data.images[index * px..(index + 1) * px].to_vec();
        let mut image = Array::f32(pixels, &[self.data.rows, self.data.cols, 1]);
        for t in &self.transforms {
            image = t.apply(image, rng);
        }
        vec![image, Array::i64(vec![self.data.labels[index] as i64], &[])]
    }

    fn is_random(&self) -> bool {
        !self.transforms.is_empty()
    }
}
