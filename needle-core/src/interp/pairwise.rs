//! numpy's summation order for f32 sums, accumulated in f32 — the one Rust implementation of
//! the rule. The interpreter's sums call [`pairwise_sum`]; the JIT calls it (as a host helper)
//! for long or gathered runs and follows [`split`] and the leaf rule documented here when it
//! generates the code of short runs, so every mode gives numpy's bits on C-contiguous data.
//!
//! A reduction walks its input in logical C order with size-1 axes dropped and neighbouring
//! axes of the same kind (reduced or kept) taken as one; every output starts at `+0.0`:
//! - when the innermost such axis is reduced, each *run* along it (the trailing reduced axes,
//!   see [`run_start`]) is summed pairwise and added to its output, `out = out + pairwise(run)`,
//!   runs in logical order;
//! - otherwise each element is added to its output in logical order, `out = out + x` (an outer
//!   axis is summed slice by slice).
//!
//! numpy walks a strided (non-C-contiguous) input in memory order instead; needle keeps the
//! logical order there, so its sums are numpy-exact for C-contiguous data (the common case:
//! every computed value is).

/// Runs of at most this many elements are summed as one leaf (numpy's `PW_BLOCKSIZE`).
pub const LEAF: usize = 128;
/// Partial sums of a leaf: numpy unrolls its leaf loop by eight.
pub const PARTIALS: usize = 8;

/// Where the pairwise sum of `n` elements splits: `Some(h)` when it is the sum of the first `h`
/// elements' and the remaining elements' pairwise sums (`h` is half of `n` rounded down to a
/// multiple of [`PARTIALS`]); `None` when the `n` elements form one leaf.
///
/// A leaf of `n < 8` elements is `((-0.0 + x0) + x1) + ...`. A longer leaf keeps eight partial
/// sums `r[j] = x[j]`, adds `x[i + j]` to `r[j]` for each further full block of eight (`i` a
/// multiple of eight), combines them as `((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))` and
/// then adds the `n % 8` leftover elements in order.
pub fn split(n: usize) -> Option<usize> {
    (n > LEAF).then(|| {
        let half = n / 2;
        half - half % PARTIALS
    })
}

/// numpy's pairwise sum of `values` in f32 (see [`split`] for the order). An empty slice sums
/// to `-0.0`, numpy's start value of a short leaf; a reduction adds it to its `+0.0` output.
pub fn pairwise_sum(values: &[f32]) -> f32 {
    match split(values.len()) {
        Some(h) => pairwise_sum(&values[..h]) + pairwise_sum(&values[h..]),
        None => leaf(values),
    }
}

fn leaf(values: &[f32]) -> f32 {
    if values.len() < PARTIALS {
        return values.iter().fold(-0.0, |res, &x| res + x);
    }
    let blocks = values.chunks_exact(PARTIALS);
    let leftovers = blocks.remainder();
    let mut blocks = blocks.map(|b| <[f32; PARTIALS]>::try_from(b).expect("a full block"));
    let mut r = blocks.next().expect("at least one block");
    for block in blocks {
        for (r, x) in r.iter_mut().zip(block) {
            *r += x;
        }
    }
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    leftovers.iter().fold(res, |res, &x| res + x)
}

/// The first axis of a reduction's trailing run, if it has one: the run is the maximal suffix
/// of axes that are each reduced (`reduced(axis)`) or of size 1, when at least one of them is
/// a reduced axis longer than 1. Without a run (the innermost axis longer than 1 is kept, or
/// nothing longer than 1 is reduced at the end) elements are added one by one; a run's
/// elements, in logical order, are summed by [`pairwise_sum`].
pub fn run_start(shape: &[usize], reduced: impl Fn(usize) -> bool) -> Option<usize> {
    let mut start = shape.len();
    while start > 0 && (shape[start - 1] == 1 || reduced(start - 1)) {
        start -= 1;
    }
    (start..shape.len())
        .any(|a| shape[a] > 1 && reduced(a))
        .then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_halve_at_multiples_of_eight() {
        assert_eq!(split(128), None);
        assert_eq!(split(129), Some(64));
        assert_eq!(split(300), Some(144));
        assert_eq!(split(1000), Some(496));
        assert_eq!(split(8193), Some(4096));
    }

    #[test]
    fn leaves_use_eight_partial_sums() {
        // Added from the left, each 1 is absorbed by 1e8 (its f32 spacing is 8); pairwise,
        // seven partial sums of two ones reach it as 2 + 2 + 2 + 2 = 8.
        // np.sum(np.array([1e8] + [1] * 15, dtype=np.float32)) = 100000008.0 (0x4cbebc21).
        let mut x = vec![1.0f32; 16];
        x[0] = 1e8;
        assert_eq!(pairwise_sum(&x).to_bits(), 0x4cbe_bc21);
        assert_eq!(x.iter().fold(0.0f32, |a, &b| a + b), 1e8);
    }

    #[test]
    fn short_leaves_start_from_negative_zero() {
        assert_eq!(pairwise_sum(&[]).to_bits(), (-0.0f32).to_bits());
        assert_eq!(pairwise_sum(&[-0.0]).to_bits(), (-0.0f32).to_bits());
        assert_eq!(pairwise_sum(&[-0.0; 9]).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn runs_are_the_trailing_reduced_axes() {
        let on = |axes: &'static [usize]| move |a: usize| axes.contains(&a);
        assert_eq!(run_start(&[5, 300, 3], on(&[0, 2])), Some(2));
        assert_eq!(run_start(&[5, 300, 3], on(&[1])), None);
        assert_eq!(run_start(&[4, 5, 6], on(&[1, 2])), Some(1));
        // Size-1 axes do not count: [4, 5, 1] over axis 1 sums runs of 5.
        assert_eq!(run_start(&[4, 5, 1], on(&[1])), Some(1));
        assert_eq!(run_start(&[4, 1, 5], on(&[0, 2])), Some(0));
        // Nothing longer than 1 reduced at the end: element by element.
        assert_eq!(run_start(&[4, 1], on(&[1])), None);
        assert_eq!(run_start(&[], on(&[])), None);
    }
}
