//! Helpers shared by the integration tests: tolerance checks, running a test in every mode,
//! the course's deterministic inputs, values spread over many binades, and a
//! finite-difference gradient checker.
#![allow(dead_code)]

use needle::{manual_seed, with_mode, Mode, Tensor};

/// Asserts `|a − e| ≤ atol + rtol·|e|` elementwise (the course's `np.testing` rule).
#[track_caller]
pub fn assert_close(actual: &[f32], expected: &[f64], rtol: f64, atol: f64) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "length differs: {actual:?} vs {expected:?}"
    );
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let a = a as f64;
        // Literal expectations are f64; the nearest f32 always counts as equal.
        assert!(
            (a - e).abs() <= atol + rtol * e.abs() || a == e as f32 as f64,
            "element {i}: got {a}, expected {e} (rtol {rtol}, atol {atol})\nactual: {actual:?}"
        );
    }
}

/// Every execution mode, for tests that must hold in all of them.
pub const MODES: [Mode; 3] = [Mode::Eager, Mode::Lazy, Mode::Jit];

/// Runs `f` in eager, lazy, JIT and checked JIT mode and asserts all produce bit-identical
/// values (the backends share the scalar semantics and the summation order); returns the
/// values. The JIT runs call the gemm crate for matrix products, as eager mode does; a fifth
/// run (checked) calls the generated GEMM, whose summation order differs, and must agree to
/// `1e-5` relative to each output's scale.
#[track_caller]
pub fn in_both_modes(f: impl Fn() -> Vec<Tensor>) -> Vec<Vec<f32>> {
    use needle::jit::gemm::{with_gemm_policy, GemmPolicy};
    let eager: Vec<Vec<f32>> = with_mode(Mode::Eager, || f().iter().map(|t| t.to_vec()).collect());
    let run = |mode, checked, policy| -> Vec<Vec<f32>> {
        with_gemm_policy(policy, || {
            needle::jit::with_checked(checked, || {
                with_mode(mode, || f().iter().map(|t| t.to_vec()).collect())
            })
        })
    };
    for (mode, checked) in [(Mode::Lazy, false), (Mode::Jit, false), (Mode::Jit, true)] {
        let other = run(mode, checked, GemmPolicy::Library);
        for (i, (e, l)) in eager.iter().zip(&other).enumerate() {
            let same =
                e.len() == l.len() && e.iter().zip(l).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(
                same,
                "output {i} differs between eager and {mode:?} (checked: {checked}):\n{e:?}\n{l:?}"
            );
        }
    }
    let generated = run(Mode::Jit, true, GemmPolicy::Generated);
    for (i, (e, g)) in eager.iter().zip(&generated).enumerate() {
        assert_eq!(e.len(), g.len(), "output {i}: lengths differ");
        let scale = e.iter().fold(1.0f32, |m, x| m.max(x.abs()));
        for (a, b) in e.iter().zip(g) {
            assert!(
                (a - b).abs() <= 1e-5 * scale || (a.is_nan() && b.is_nan()) || a == b,
                "output {i} differs between eager and JIT with the generated GEMM beyond 1e-5 \
                 of its scale {scale}:\n{e:?}\n{g:?}"
            );
        }
    }
    eager
}

/// The course's `get_tensor(*shape, entropy)`: seed(prod·len·entropy), randint(0, 100)/20.
pub fn get_tensor(shape: &[usize], entropy: usize) -> Tensor {
    let seed = shape.iter().product::<usize>() * shape.len() * entropy;
    manual_seed(seed as u64);
    let ints = Tensor::randint(0, 100, shape).to_vec_i64();
    Tensor::from_vec(
        ints.iter().map(|&v| (v as f64 / 20.0) as f32).collect(),
        shape,
    )
}

/// The course's `get_int_tensor(*shape, low, high, entropy)`.
pub fn get_int_tensor(shape: &[usize], low: i64, high: i64, entropy: usize) -> Tensor {
    let seed = shape.iter().product::<usize>() * shape.len() * entropy;
    manual_seed(seed as u64);
    Tensor::randint(low, high, shape)
}

/// Tensor from nested literal rows.
pub fn t2(rows: &[&[f32]]) -> Tensor {
    let cols = rows[0].len();
    Tensor::from_vec(
        rows.iter().flat_map(|r| r.iter().copied()).collect(),
        &[rows.len(), cols],
    )
}

/// Finite-difference gradient check of `f` at `inputs`, in the current mode.
///
/// The objective is `Σ c ⊙ f(x)` with fixed random weights `c` (so no symmetry hides a wrong
/// sign), evaluated in f64 on the host from f32 outputs. Central differences with eps = 1e-2:
/// the truncation error is eps²/6·f''' ≈ 2e-5·f''' for the smooth ops tested (none for the
/// quadratic compositions), and f32 rounding divided by 2·eps adds ≈ 3e-6·|f|·√n for the
/// outputs alone, more when `f` ends in an f32 sum (its rounding grows with the terms summed:
/// with eps = 1e-3 the course's `Σ (AB + C) ⊙ AB`, |f| ≈ 440, was off by 0.014). A tolerance of
/// 1e-2·(1 + |numeric|) is therefore well above the noise, while a wrong gradient (a missing
/// term, a wrong sign, an unreduced broadcast) is off by O(1). Kinks must be more than eps
/// from the inputs.
#[track_caller]
pub fn gradcheck(inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Tensor) {
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|x| Tensor::from_vec(x.to_vec(), &x.shape()).requires_grad_(true))
        .collect();
    let out = f(&leaves);
    let out_shape = out.shape();
    let n_out = out.numel();
    // Deterministic weights in [0.5, 1.5) with alternating sign.
    let c: Vec<f32> = (0..n_out)
        .map(|i| (0.5 + ((i * 7919) % 1000) as f32 / 1000.0) * if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let weights = Tensor::from_vec(c.clone(), &out_shape);
    (&out * &weights).sum_all().backward();
    let objective = |xs: &[Tensor]| -> f64 {
        let y = needle::no_grad(|| f(xs)).to_vec();
        y.iter().zip(&c).map(|(&a, &b)| a as f64 * b as f64).sum()
    };
    let eps = 1e-2f32;
    for (k, leaf) in leaves.iter().enumerate() {
        let analytic = leaf
            .grad()
            .unwrap_or_else(|| panic!("input {k} received no gradient"))
            .to_vec();
        let base = leaf.to_vec();
        for i in 0..base.len() {
            let probe = |delta: f32| {
                let mut v = base.clone();
                v[i] += delta;
                let xs: Vec<Tensor> = leaves
                    .iter()
                    .enumerate()
                    .map(|(j, l)| {
                        if j == k {
                            Tensor::from_vec(v.clone(), &l.shape())
                        } else {
                            l.detach()
                        }
                    })
                    .collect();
                objective(&xs)
            };
            let numeric = (probe(eps) - probe(-eps)) / (2.0 * eps as f64);
            let a = analytic[i] as f64;
            assert!(
                (a - numeric).abs() <= 1e-2 * (1.0 + numeric.abs()),
                "input {k} element {i}: analytic gradient {a}, numeric {numeric}"
            );
        }
    }
}

/// Runs a gradient check in every mode.
#[track_caller]
pub fn gradcheck_both(inputs: Vec<Tensor>, f: impl Fn(&[Tensor]) -> Tensor) {
    for mode in MODES {
        with_mode(mode, || gradcheck(&inputs, &f));
    }
}

/// Random normal input of `shape` from the seeded stream.
pub fn randn(shape: &[usize]) -> Tensor {
    Tensor::randn(shape)
}

/// The bit patterns of `v`, to compare results exactly (−0 and +0, NaN payloads apart).
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Values over many binades (a normal draw times e^(3·normal)), so that any change in the
/// order of additions shows in the bits of a sum.
pub fn spread(shape: &[usize], seed: u64) -> Tensor {
    manual_seed(seed);
    let n: usize = shape.iter().product();
    let mantissa = Tensor::randn(&[n]).to_vec();
    let scale = Tensor::randn(&[n]).to_vec();
    let v = mantissa
        .iter()
        .zip(&scale)
        .map(|(m, s)| m * (3.0 * s).exp())
        .collect();
    Tensor::from_vec(v, shape)
}
