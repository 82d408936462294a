//! Products with inner size 1 (a batch-1 step's weight gradients): the JIT computes them as
//! an elementwise loop when the result has at least two columns, and the bits are eager's
//! (the gemm crate's) — signed zeros included — for every shape, batched or not.

use needle::jit::{last_program, StepKind};
use needle::{manual_seed, with_mode, Mode, Tensor};

/// Values with zeros of both signs and tiny products among normal ones.
fn values(n: usize, salt: usize) -> Vec<f32> {
    let mut v = Tensor::randn(&[n]).to_vec();
    for (i, x) in v.iter_mut().enumerate() {
        match (i + salt) % 6 {
            0 => *x = -0.0,
            1 => *x = 0.0,
            2 if i % 4 == 0 => *x = 1e-30,
            _ => {}
        }
    }
    v
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// A tensor of `shape` made as the transpose of `values` laid out with the last two axes
/// swapped (strides of a transposed view).
fn transposed_copy(values: &[f32], shape: &[usize]) -> Tensor {
    let nd = shape.len();
    let mut swapped = shape.to_vec();
    swapped.swap(nd - 2, nd - 1);
    Tensor::from_vec(values.to_vec(), &swapped).transpose(nd as isize - 2, nd as isize - 1)
}

/// Asserts that `f` gives the same bits in JIT and in eager mode.
#[track_caller]
fn assert_same_in_jit_and_eager(f: impl Fn() -> Vec<f32>, what: &str) {
    assert_eq!(
        bits(&with_mode(Mode::Jit, &f)),
        bits(&with_mode(Mode::Eager, &f)),
        "{what}"
    );
}

#[test]
fn outer_products_are_elementwise_loops_with_eagers_bits() {
    needle::init();
    manual_seed(5);
    for &(batch, m, n) in &[
        (None, 1, 1),
        (None, 7, 1),
        (None, 64, 1),
        (None, 1, 2),
        (None, 64, 10),
        (None, 64, 64),
        (None, 3, 17),
        (None, 100, 513),
        (Some(3), 5, 4),
        (Some(2), 1, 9),
    ] {
        let (a_shape, b_shape) = match batch {
            Some(b) => (vec![b, m, 1], vec![b, 1, n]),
            None => (vec![m, 1], vec![1, n]),
        };
        let av = values(a_shape.iter().product(), 0);
        let bv = values(b_shape.iter().product(), 3);
        let product = || {
            let a = Tensor::from_vec(av.clone(), &a_shape);
            let b = Tensor::from_vec(bv.clone(), &b_shape);
            a.matmul(&b).to_vec()
        };
        let eager = with_mode(Mode::Eager, product);
        let jit = with_mode(Mode::Jit, product);
        assert_eq!(bits(&jit), bits(&eager), "{batch:?} {m}x1 · 1x{n}");
        // Operands read through strided views (every other element of tensors twice as
        // wide along the axis of size > 1, NaN between), computed again.
        let strided = || {
            let nd = a_shape.len();
            let widen = |v: &[f32], shape: &[usize], axis: usize| {
                let mut wide_shape = shape.to_vec();
                wide_shape[axis] *= 2;
                let wide = Tensor::from_vec(
                    v.iter().flat_map(|&x| [x, f32::NAN]).collect(),
                    &[v.len(), 2],
                )
                .reshape(&[v.len() * 2]);
                wide.reshape(&wide_shape)
                    .slice(axis as isize, 0, wide_shape[axis], 2)
            };
            let a = widen(&av, &a_shape, nd - 2);
            let b = widen(&bv, &b_shape, nd - 1);
            a.matmul(&b).to_vec()
        };
        assert_same_in_jit_and_eager(strided, &format!("{batch:?} {m}x1 · 1x{n} strided"));
        // `b` as the transpose of an (n, 1) column: its inner-size axis has stride 1 too, and
        // small such products go through the gemm crate's kernel that starts from +0.
        let transposed = || {
            let a = Tensor::from_vec(av.clone(), &a_shape);
            a.matmul(&transposed_copy(&bv, &b_shape)).to_vec()
        };
        assert_same_in_jit_and_eager(
            transposed,
            &format!("{batch:?} {m}x1 · (1x{n} transposed column)"),
        );
        // A flipped `a` (copied compact before the product, in both modes) with that `b`: the
        // transpose of a row, so its inner-size axis has stride m until copied.
        let flipped = || {
            let a = transposed_copy(&av, &a_shape).flip(&[a_shape.len() as isize - 2]);
            a.matmul(&transposed_copy(&bv, &b_shape)).to_vec()
        };
        assert_same_in_jit_and_eager(
            flipped,
            &format!("{batch:?} flipped {m}x1 · (1x{n} transposed column)"),
        );
        // The compact case again, for the plan below.
        with_mode(Mode::Jit, product);
        let steps = last_program().expect("a program ran").plan.steps;
        let gemm = steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::MatMul { .. }));
        assert_eq!(gemm, n == 1, "{batch:?} {m}x1 · 1x{n}: {steps:?}");
    }
}
