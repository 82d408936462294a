//! Parameter-free layers: activations, Identity, Flatten.

use crate::module;
use crate::nn::{Forward, Training};
use crate::tensor::Tensor;

macro_rules! elementwise_layer {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr) => {
        $(#[$doc])*
        #[module]
        #[derive(Default)]
        pub struct $name {
            training: Training,
        }

        impl $name {
            /// The layer.
            pub fn new() -> $name {
                $name::default()
            }
        }

        impl Forward for $name {
            #[track_caller]
            fn forward(&self, $x: &Tensor) -> Tensor {
                $body
            }
        }
    };
}

elementwise_layer!(
    /// max(x, 0).
    ReLU,
    |x| x.relu()
);
elementwise_layer!(
    /// tanh(x).
    Tanh,
    |x| x.tanh()
);
elementwise_layer!(
    /// 1 / (1 + e⁻ˣ).
    Sigmoid,
    |x| x.sigmoid()
);
elementwise_layer!(
    /// x, unchanged.
    Identity,
    |x| x.clone()
);
elementwise_layer!(
    /// (B, X0, X1, …) → (B, X0·X1·…).
    Flatten,
    |x| x.flatten(1, -1)
);
