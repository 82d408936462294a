//! Host values: tensors the library fills on the host at every step (learning rates, bias
//! corrections, random draws, a loss's label mask). Made now, and registered with a tracing
//! captured step (see [`crate::capture`]) so that its replays fill them again.

use std::sync::Arc;

use crate::storage::{Buffer, Realized};
use crate::tensor::Tensor;

impl Tensor {
    /// A tensor the library fills on the host at every step: `fill` writes `value`'s buffer
    /// now and, when a captured step is tracing this call, again at every replay, in the
    /// order of the trace (see [`crate::capture`]).
    #[track_caller]
    pub(crate) fn host_value(
        mut value: Realized,
        mut fill: impl FnMut(&mut Buffer) + 'static,
    ) -> Tensor {
        fill(Arc::get_mut(&mut value.buffer).expect("a new buffer"));
        let t = Tensor::from_realized(value);
        crate::capture::host_value(&t.node(), None, move |_, buffer| {
            fill(buffer);
            Ok(())
        });
        t
    }

    /// A tensor the library computes on the host from `from`'s elements (a loss's label
    /// mask from the class labels): `fill` writes `value`'s buffer now from `from`'s value,
    /// and again at every replay of a captured step from the value `from` has then. An error
    /// is a panic at the caller's line (a label out of range).
    #[track_caller]
    pub(crate) fn host_derived(
        from: &Tensor,
        mut value: Realized,
        mut fill: impl FnMut(&Realized, &mut Buffer) -> Result<(), String> + 'static,
    ) -> Tensor {
        let source = from.realize().node();
        let buffer = Arc::get_mut(&mut value.buffer).expect("a new buffer");
        if let Err(message) = fill(source.value().expect("realized"), buffer) {
            panic!("{message}");
        }
        let t = Tensor::from_realized(value);
        crate::capture::host_value(&t.node(), Some(&source), move |from, buffer| {
            fill(from.expect("derived values have a source"), buffer)
        });
        t
    }

    /// A 0-d f32 tensor holding `value()`, computed again at every replay of a captured step
    /// (learning rates, bias corrections).
    #[track_caller]
    pub(crate) fn host_scalar(mut value: impl FnMut() -> f32 + 'static) -> Tensor {
        Tensor::host_value(Realized::from_f32(vec![0.0], &[]), move |buffer| {
            buffer.as_f32_mut()[0] = value()
        })
    }
}
