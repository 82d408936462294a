//! Sums the JIT splits across threads by rows of a kept axis (BatchNorm's statistics per
//! channel): each output still adds its runs in logical order, so the bits are eager mode's
//! whatever the input's layout, the producer fused in, the epilogue after, or how many axes
//! are kept — and the program says which sums it split.

mod common;

use common::{bits, spread};
use needle::jit::{last_program, set_tiered};
use needle::{with_mode, Mode, Tensor};

/// Runs `f` in eager mode and in the JIT (compiled before the first run) and asserts the same
/// bits; returns how many sums the JIT's program split across threads.
#[track_caller]
fn same_bits_and_splits(f: impl Fn() -> Vec<f32>, what: &str) -> usize {
    let eager = with_mode(Mode::Eager, &f);
    set_tiered(false);
    let jit = with_mode(Mode::Jit, &f);
    let program = last_program().expect("the JIT ran a program");
    set_tiered(true);
    assert_eq!(bits(&jit), bits(&eager), "{what}: JIT vs eager");
    program
        .function_times
        .iter()
        .filter(|(label, _)| label.contains("split sum"))
        .count()
}

#[test]
fn batch_norm_statistics_split_by_channel_keep_eager_bits() {
    // NCHW data, and the channel-major layout Conv2d's product has (a permuted view).
    let nchw = || spread(&[64, 16, 28, 28], 1);
    let cnhw = || spread(&[16, 64, 28, 28], 2).permute(&[1, 0, 2, 3]);
    for (layout, x) in [("nchw", &nchw as &dyn Fn() -> Tensor), ("cnhw", &cnhw)] {
        let splits = same_bits_and_splits(
            || {
                let x = x();
                let mean = x.sum(&[0, 2, 3], true) / 50176.0;
                let centered = &x - &mean.broadcast_to(&x.shape());
                // Producer fused into the sum, epilogue (sqrt) after it.
                let var = (&centered * &centered).sum(&[0, 2, 3], true) / 50176.0;
                let std = (var + 1e-5).sqrt();
                Tensor::realize_all(&[&mean, &std]);
                [mean.to_vec(), std.to_vec()].concat()
            },
            layout,
        );
        assert_eq!(splits, 2, "{layout}: both statistics split ({splits})");
    }
}

#[test]
fn several_kept_axes_are_split_by_the_outermost() {
    // Kept axes 0 and 2 around a reduced one, the run along axis 3: reordered as
    // (32, 24 | 8 | 40) with rows of axis 0.
    let splits = same_bits_and_splits(
        || {
            let x = spread(&[32, 8, 24, 40], 3);
            (&x * 0.5).exp().sum(&[1, 3], false).to_vec()
        },
        "kept axes 0 and 2",
    );
    assert_eq!(splits, 1);
    // Two reduced axes outside the run (transposed, so that they do not merge into one):
    // each output adds its 12·16 runs in their logical order.
    let splits = same_bits_and_splits(
        || {
            let x = spread(&[16, 12, 24, 40], 4).permute(&[1, 0, 2, 3]);
            x.sum(&[0, 1, 3], false).to_vec()
        },
        "reduced axes 0 and 1",
    );
    assert_eq!(splits, 1);
}

#[test]
fn gathered_runs_are_split_with_a_run_buffer_per_row() {
    // Runs longer than the generated code sums (1500), and runs over two axes that do not
    // merge (transposed): gathered into the run buffer, each row into its own part.
    let long_runs = same_bits_and_splits(
        || spread(&[4, 300, 1500], 4).sum(&[0, 2], false).to_vec(),
        "long runs",
    );
    let two_axis_runs = same_bits_and_splits(
        || {
            let x = spread(&[8, 40, 50, 30], 6).permute(&[0, 1, 3, 2]);
            (&x * 2.0).sum(&[2, 3], true).to_vec()
        },
        "runs over two axes",
    );
    assert_eq!((long_runs, two_axis_runs), (1, 1));
}

#[test]
fn sums_that_do_not_split_stay_correct() {
    // No kept axis outside the run, and a sum too small to split: one thread each.
    let everything = same_bits_and_splits(
        || spread(&[300, 1000], 5).sum(&[0, 1], false).to_vec(),
        "total",
    );
    let small = same_bits_and_splits(
        || spread(&[16, 64, 100], 7).sum(&[0, 2], false).to_vec(),
        "small",
    );
    assert_eq!((everything, small), (0, 0));
}
