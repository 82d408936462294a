//! Batching, shuffling and background prefetching.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::array::Array;
use super::dataset::Dataset;
use crate::random::{with_global_rng, NumpyRng};
use crate::tensor::Tensor;

/// Iterates a dataset in batches.
///
/// Batches follow the course: the order is fixed, or with `shuffle` a fresh
/// `permutation(len)` drawn from the global stream at every `iter()`; consecutive chunks of
/// `batch_size` with a short last batch unless `drop_last`. With `prefetch` (the default) a
/// background thread assembles the next batches while the current step runs; random transforms
/// then draw from a generator seeded from the global stream once per epoch (without prefetch
/// they draw from the global stream itself, item by item, exactly as the course).
///
/// Each batch is one tensor per field of the dataset's items, stacked along a new first axis:
/// over an [`MnistDataset`](crate::data::MnistDataset), `[images, labels]` with images
/// `[B, 28, 28, 1]` f32 and labels `[B]` i64 (`B` = `batch_size`, less for a short last
/// batch).
///
/// ```
/// use needle_core::data::{Array, ArrayDataset, DataLoader};
/// let ds = ArrayDataset::new(vec![Array::f32((0..10).map(|v| v as f32).collect(), &[10])]);
/// let loader = DataLoader::new(ds, 4);
/// let sizes: Vec<usize> = loader.iter().map(|b| b[0].shape()[0]).collect();
/// assert_eq!(sizes, vec![4, 4, 2]);
/// ```
pub struct DataLoader {
    dataset: Arc<dyn Dataset>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    prefetch: usize,
}

impl DataLoader {
    /// Batches of `batch_size`, in order, prefetching two batches ahead.
    #[track_caller]
    pub fn new(dataset: impl Dataset + 'static, batch_size: usize) -> DataLoader {
        assert!(batch_size > 0, "DataLoader: batch_size must be positive");
        DataLoader {
            dataset: Arc::new(dataset),
            batch_size,
            shuffle: false,
            drop_last: false,
            prefetch: 2,
        }
    }

    /// Reshuffle at every pass.
    pub fn shuffle(mut self, shuffle: bool) -> DataLoader {
        self.shuffle = shuffle;
        self
    }

    /// Skip a last batch shorter than `batch_size`.
    pub fn drop_last(mut self, drop_last: bool) -> DataLoader {
        self.drop_last = drop_last;
        self
    }

    /// How many batches a background thread prepares ahead (0 = no thread).
    pub fn prefetch(mut self, batches: usize) -> DataLoader {
        self.prefetch = batches;
        self
    }

    /// Number of items.
    pub fn dataset_len(&self) -> usize {
        self.dataset.len()
    }

    /// Number of batches per pass.
    pub fn num_batches(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// One pass over the data; each item is a batch, one tensor per dataset field.
    pub fn iter(&self) -> Batches {
        let n = self.dataset.len();
        let order: Vec<usize> = if self.shuffle {
            with_global_rng(|r| r.permutation(n))
        } else {
            (0..n).collect()
        };
        let batches: Vec<Vec<usize>> = order
            .chunks(self.batch_size)
            .filter(|c| !self.drop_last || c.len() == self.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        if self.prefetch == 0 {
            return Batches {
                source: Source::Inline {
                    dataset: self.dataset.clone(),
                    batches: batches.into_iter(),
                },
            };
        }
        let seed = if self.dataset.is_random() {
            with_global_rng(|r| r.next_u32())
        } else {
            0
        };
        let (tx, rx) = sync_channel(self.prefetch);
        let dataset = self.dataset.clone();
        let worker = std::thread::spawn(move || {
            let mut rng = NumpyRng::new(seed);
            for indices in batches {
                if tx.send(dataset.get_batch(&indices, &mut rng)).is_err() {
                    return; // the consumer stopped early
                }
            }
        });
        Batches {
            source: Source::Prefetched {
                rx,
                worker: Some(worker),
            },
        }
    }
}

enum Source {
    Inline {
        dataset: Arc<dyn Dataset>,
        batches: std::vec::IntoIter<Vec<usize>>,
    },
    Prefetched {
        rx: Receiver<Vec<Array>>,
        worker: Option<JoinHandle<()>>,
    },
}

/// The batches of one pass (see [`DataLoader::iter`]).
pub struct Batches {
    source: Source,
}

impl Iterator for Batches {
    type Item = Vec<Tensor>;

    fn next(&mut self) -> Option<Vec<Tensor>> {
        let arrays = match &mut self.source {
            Source::Inline { dataset, batches } => {
                let indices = batches.next()?;
                with_global_rng(|r| dataset.get_batch(&indices, r))
            }
            Source::Prefetched { rx, worker } => match rx.recv() {
                Ok(batch) => batch,
                Err(_) => {
                    // The worker finished (or panicked: surface its panic here).
                    if let Some(handle) = worker.take() {
                        if let Err(panic) = handle.join() {
                            std::panic::resume_unwind(panic);
                        }
                    }
                    return None;
                }
            },
        };
        Some(arrays.into_iter().map(Array::into_tensor).collect())
    }
}
