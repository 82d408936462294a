//! The ops of issue 23 against values computed independently: each expected value was printed
//! by PyTorch or numpy (the Python line is in the comment above it), and each op gives the
//! same bits in eager, lazy and JIT mode.

use needle::{with_mode, Mode, Tensor};

/// The bits of `f`'s values, the same in every mode (NaNs compared by their bits too).
fn in_every_mode(f: impl Fn() -> Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    let eager = with_mode(Mode::Eager, &f);
    for mode in [Mode::Lazy, Mode::Jit] {
        let other = with_mode(mode, &f);
        let bits = |v: &Vec<Vec<f32>>| -> Vec<Vec<u32>> {
            v.iter()
                .map(|r| r.iter().map(|x| x.to_bits()).collect())
                .collect()
        };
        assert_eq!(
            bits(&eager),
            bits(&other),
            "eager {eager:?} vs {mode:?} {other:?}"
        );
    }
    eager
}

/// `values` equal `expected` bit for bit.
fn assert_bits(values: &[f32], expected: &[f32]) {
    let b = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(b(values), b(expected), "{values:?} vs {expected:?}");
}

#[test]
fn abs_matches_torch() {
    let data = vec![-2.5, -0.0, 0.0, 3.0, f32::NEG_INFINITY, 1e-30, -7.25];
    let out = in_every_mode(|| {
        let x = Tensor::from_vec(data.clone(), &[7]).requires_grad_(true);
        let w = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6., 7.], &[7]);
        let y = x.abs();
        (&y * &w).sum_all().backward();
        vec![y.to_vec(), x.grad().unwrap().to_vec()]
    });
    // x = torch.tensor([-2.5, -0.0, 0.0, 3.0, -inf, 1e-30, -7.25], requires_grad=True)
    // y = x.abs(); print(y.tolist())  (|−0| has bits 0: y.numpy().view('u4'))
    assert_bits(&out[0], &[2.5, 0.0, 0.0, 3.0, f32::INFINITY, 1e-30, 7.25]);
    // (y * torch.arange(1., 8.)).sum().backward(); print(x.grad.tolist())
    assert_bits(&out[1], &[-1.0, 0.0, 0.0, 4.0, -5.0, 6.0, -7.0]);
}
