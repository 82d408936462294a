//! The scalar family's kernel: the op's table function of each element and the constant
//! (see `op/scalar.rs`).

use super::elementwise::map1;
use crate::op::{BinaryKernel, ScalarOp};
use crate::storage::Realized;

/// `op` of every element of `x` with the constant `c`.
pub(super) fn scalar(op: ScalarOp, c: f32, x: &Realized) -> Realized {
    op.dispatch(Map { x, c })
}

/// [`map1`] of `f(·, c)` as a kernel the table instantiates once per op.
struct Map<'a> {
    x: &'a Realized,
    c: f32,
}

impl BinaryKernel for Map<'_> {
    type Output = Realized;

    #[inline]
    fn apply(self, f: impl Fn(f32, f32) -> f32) -> Realized {
        let c = self.c;
        map1(self.x, move |v| f(v, c))
    }
}
