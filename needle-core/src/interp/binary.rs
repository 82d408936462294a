//! The binary family's kernel: the op's table function of the two inputs' elements pairwise
//! (see `op/binary.rs`).

use super::elementwise::map2;
use crate::op::{BinaryKernel, BinaryOp};
use crate::storage::Realized;

/// `op` of the elements of `a` and `b` (equal shapes).
pub(super) fn binary(op: BinaryOp, a: &Realized, b: &Realized) -> Realized {
    op.dispatch(Map(a, b))
}

/// [`map2`] as a kernel the table instantiates once per op.
struct Map<'a>(&'a Realized, &'a Realized);

impl BinaryKernel for Map<'_> {
    type Output = Realized;

    #[inline]
    fn apply(self, f: impl Fn(f32, f32) -> f32) -> Realized {
        map2(self.0, self.1, f)
    }
}
