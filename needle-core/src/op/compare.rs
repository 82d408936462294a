//! The comparisons shared by the binary and scalar families: the rule each applies to two
//! f32 values, written once (the interpreter's kernels use it; a compiler maps each
//! [`Comparison`] to its own condition).

/// An IEEE comparison of two f32 values; false whenever either is NaN, except
/// [`Ne`](Comparison::Ne), which is then true.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// a == b
    Eq,
    /// a != b
    Ne,
    /// a > b
    Gt,
    /// a >= b
    Ge,
    /// a < b
    Lt,
    /// a <= b
    Le,
}

impl Comparison {
    /// Every comparison.
    pub const ALL: &'static [Comparison] = &[
        Comparison::Eq,
        Comparison::Ne,
        Comparison::Gt,
        Comparison::Ge,
        Comparison::Lt,
        Comparison::Le,
    ];

    /// Whether `a` compares to `b` this way.
    #[inline]
    pub fn holds(self, a: f32, b: f32) -> bool {
        match self {
            Comparison::Eq => a == b,
            Comparison::Ne => a != b,
            Comparison::Gt => a > b,
            Comparison::Ge => a >= b,
            Comparison::Lt => a < b,
            Comparison::Le => a <= b,
        }
    }

    /// The comparison's value as a tensor element: 1.0 when it holds, else 0.0.
    #[inline]
    pub fn mask(self, a: f32, b: f32) -> f32 {
        if self.holds(a, b) {
            1.0
        } else {
            0.0
        }
    }
}
