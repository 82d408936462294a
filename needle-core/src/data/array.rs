//! Plain n-d data that can cross threads: what datasets return and data loaders batch, before
//! it becomes a [`Tensor`] on the training thread.

use crate::tensor::Tensor;

/// The elements of an [`Array`].
#[derive(Clone, Debug, PartialEq)]
pub enum ArrayData {
    /// f32 values (images, features).
    F32(Vec<f32>),
    /// i64 values (labels, indices).
    I64(Vec<i64>),
}

/// Row-major data with a shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Size of each axis.
    pub shape: Vec<usize>,
    /// The elements, row-major.
    pub data: ArrayData,
}

impl Array {
    /// An f32 array; panics when the length does not fill the shape.
    #[track_caller]
    pub fn f32(data: Vec<f32>, shape: &[usize]) -> Array {
        assert_eq!(
            data.len(),
            shape.iter().product::<usize>(),
            "Array::f32: {} values for shape {shape:?}",
            data.len()
        );
        Array {
            shape: shape.to_vec(),
            data: ArrayData::F32(data),
        }
    }

    /// An i64 array; panics when the length does not fill the shape.
    #[track_caller]
    pub fn i64(data: Vec<i64>, shape: &[usize]) -> Array {
        assert_eq!(
            data.len(),
            shape.iter().product::<usize>(),
            "Array::i64: {} values for shape {shape:?}",
            data.len()
        );
        Array {
            shape: shape.to_vec(),
            data: ArrayData::I64(data),
        }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The f32 values; panics on an i64 array.
    #[track_caller]
    pub fn as_f32(&self) -> &[f32] {
        match &self.data {
            ArrayData::F32(v) => v,
            ArrayData::I64(_) => panic!("Array::as_f32: the array holds i64"),
        }
    }

    /// Row `i` along the first axis (a copy).
    pub fn row(&self, i: usize) -> Array {
        let inner: usize = self.shape[1..].iter().product();
        let range = i * inner..(i + 1) * inner;
        let shape = &self.shape[1..];
        match &self.data {
            ArrayData::F32(v) => Array::f32(v[range].to_vec(), shape),
            ArrayData::I64(v) => Array::i64(v[range].to_vec(), shape),
        }
    }

    /// Stacks equally shaped arrays along a new first axis.
    #[track_caller]
    pub fn stack(items: &[Array]) -> Array {
        assert!(!items.is_empty(), "Array::stack: no items");
        let mut shape = vec![items.len()];
        shape.extend_from_slice(&items[0].shape);
        match &items[0].data {
            ArrayData::F32(_) => {
                let mut out = Vec::with_capacity(shape.iter().product());
                for it in items {
                    assert_eq!(it.shape, items[0].shape, "Array::stack: shapes differ");
                    out.extend_from_slice(it.as_f32());
                }
                Array::f32(out, &shape)
            }
            ArrayData::I64(_) => {
                let mut out = Vec::with_capacity(shape.iter().product());
                for it in items {
                    assert_eq!(it.shape, items[0].shape, "Array::stack: shapes differ");
                    match &it.data {
                        ArrayData::I64(v) => out.extend_from_slice(v),
                        ArrayData::F32(_) => panic!("Array::stack: dtypes differ"),
                    }
                }
                Array::i64(out, &shape)
            }
        }
    }

    /// The data as a tensor (a copy into a tensor buffer).
    #[track_caller]
    pub fn to_tensor(&self) -> Tensor {
        match &self.data {
            ArrayData::F32(v) => Tensor::from_vec(v.clone(), &self.shape),
            ArrayData::I64(v) => Tensor::from_vec_i64(v.clone(), &self.shape),
        }
    }

    /// Moves the data into a tensor without copying the elements again.
    #[track_caller]
    pub fn into_tensor(self) -> Tensor {
        match self.data {
            ArrayData::F32(v) => Tensor::from_vec(v, &self.shape),
            ArrayData::I64(v) => Tensor::from_vec_i64(v, &self.shape),
        }
    }
}
