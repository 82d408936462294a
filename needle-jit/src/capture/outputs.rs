//! What a captured step may return: one tensor, a tuple of them, a `Vec`, or nothing.

use needle_core::Tensor;

/// The return type of a captured step's closure (see [`capture`](crate::capture())).
///
/// Implemented for `()`, [`Tensor`], tuples of two to four tensors and `Vec<Tensor>`.
pub trait StepOutputs: Sized {
    /// The returned tensors, in order.
    fn to_tensors(&self) -> Vec<Tensor>;
    /// The value built from a replay's tensors (as many as [`to_tensors`](Self::to_tensors)
    /// gave, in the same order).
    fn from_tensors(tensors: &mut dyn Iterator<Item = Tensor>) -> Self;
}

impl StepOutputs for () {
    fn to_tensors(&self) -> Vec<Tensor> {
        Vec::new()
    }
    fn from_tensors(_: &mut dyn Iterator<Item = Tensor>) -> Self {}
}

impl StepOutputs for Tensor {
    fn to_tensors(&self) -> Vec<Tensor> {
        vec![self.clone()]
    }
    fn from_tensors(tensors: &mut dyn Iterator<Item = Tensor>) -> Self {
        tensors.next().expect("one output")
    }
}

impl StepOutputs for Vec<Tensor> {
    fn to_tensors(&self) -> Vec<Tensor> {
        self.clone()
    }
    fn from_tensors(tensors: &mut dyn Iterator<Item = Tensor>) -> Self {
        tensors.collect()
    }
}

macro_rules! tuple_outputs {
    ($($name:ident),+) => {
        impl StepOutputs for ($(tuple_outputs!(@tensor $name),)+) {
            fn to_tensors(&self) -> Vec<Tensor> {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                vec![$($name.clone()),+]
            }
            fn from_tensors(tensors: &mut dyn Iterator<Item = Tensor>) -> Self {
                ($(tuple_outputs!(@next tensors $name),)+)
            }
        }
    };
    (@tensor $name:ident) => { Tensor };
    (@next $it:ident $name:ident) => { $it.next().expect("one output per tuple element") };
}

tuple_outputs!(A, B);
tuple_outputs!(A, B, C);
tuple_outputs!(A, B, C, D);
