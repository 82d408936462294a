//! The unary family's kernel: the op's table function mapped over the input (see
//! `op/unary.rs`).

use super::elementwise::map1;
use crate::op::{UnaryKernel, UnaryOp};
use crate::storage::Realized;

/// `op` of every element of `x`.
pub(super) fn unary(op: UnaryOp, x: &Realized) -> Realized {
    op.dispatch(Map(x))
}

/// [`map1`] as a kernel the table instantiates once per op.
struct Map<'a>(&'a Realized);

impl UnaryKernel for Map<'_> {
    type Output = Realized;

    #[inline]
    fn apply(self, f: impl Fn(f32) -> f32) -> Realized {
        map1(self.0, f)
    }
}
