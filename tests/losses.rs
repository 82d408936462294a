//! The losses against numpy: values and gradients for every reduction, bit-identical in eager,
//! lazy and JIT mode (`in_both_modes`), finite-difference gradient checks in every mode, the
//! numerically stable binary cross-entropy at |x| = 100 and infinities picked around with a
//! mask (misuse: `loss_errors.rs`).
//!
//! Expected values: numpy in f64 from the f32 inputs, by the formula in each test's comment.

mod common;

use common::{assert_close, gradcheck_both, in_both_modes};
use needle::nn::{BCEWithLogitsLoss, L1Loss, MSELoss, Module, NLLLoss, Reduction, SoftmaxLoss};
use needle::Tensor;

const REG_X: [f32; 6] = [0.5, -1.25, 2.0, 3.0, 0.0, -0.75];
const REG_Y: [f32; 6] = [1.0, -1.0, 0.5, -2.0, 0.0, 0.25];
/// Weights of the objective Σ w ⊙ loss for unreduced losses, so no symmetry hides a sign.
const REG_W: [f32; 6] = [1.0, -2.0, 0.5, 1.5, -1.0, 2.0];

/// [loss, ∂objective/∂input, ∂objective/∂target] in every mode, the objective being the loss
/// itself or, unreduced, Σ w ⊙ loss.
fn pair_values(
    shape: &[usize],
    x: &[f32],
    y: &[f32],
    w: &[f32],
    reduction: Reduction,
    loss: impl Fn(&Tensor, &Tensor) -> Tensor,
) -> Vec<Vec<f32>> {
    in_both_modes(|| {
        let x = Tensor::from_slice(x, shape).requires_grad_(true);
        let y = Tensor::from_slice(y, shape).requires_grad_(true);
        let l = loss(&x, &y);
        match reduction {
            Reduction::None => {
                assert_eq!(l.shape(), shape.to_vec());
                (&l * &Tensor::from_slice(w, shape)).sum_all().backward();
            }
            _ => {
                assert_eq!(l.shape(), Vec::<usize>::new());
                l.backward();
            }
        }
        vec![l, x.grad().unwrap(), y.grad().unwrap()]
    })
}

fn neg(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| -x).collect()
}

/// Each reduction's expected (loss, ∂/∂input) and the check that ∂/∂target is its negative.
fn check_reductions(
    shape: &[usize],
    x: &[f32],
    y: &[f32],
    w: &[f32],
    expected: [(Reduction, &[f64], &[f64]); 3],
    loss: impl Fn(Reduction, &Tensor, &Tensor) -> Tensor,
) {
    for (reduction, value, gx) in expected {
        let got = pair_values(shape, x, y, w, reduction, |a, b| loss(reduction, a, b));
        assert_close(&got[0], value, 1e-5, 1e-6);
        assert_close(&got[1], gx, 1e-5, 1e-6);
        assert_close(&got[2], &neg(gx), 1e-5, 1e-6);
    }
}

#[test]
fn mse_matches_numpy_for_every_reduction() {
    // d = x − y; none: d², ∂ = w·2d; sum: Σd², ∂ = 2d; mean: Σd²/6, ∂ = 2d/6.
    check_reductions(
        &[2, 3],
        &REG_X,
        &REG_Y,
        &REG_W,
        [
            (
                Reduction::None,
                &[0.25, 0.0625, 2.25, 25.0, 0.0, 1.0],
                &[-1.0, 1.0, 1.5, 15.0, -0.0, -4.0],
            ),
            (
                Reduction::Sum,
                &[28.5625],
                &[-1.0, -0.5, 3.0, 10.0, 0.0, -2.0],
            ),
            (
                Reduction::Mean,
                &[4.760416666666667],
                &[
                    -0.16666666666666666,
                    -0.08333333333333333,
                    0.5,
                    1.6666666666666667,
                    0.0,
                    -0.3333333333333333,
                ],
            ),
        ],
        |r, x, y| MSELoss::with_reduction(r).forward(x, y),
    );
}

#[test]
fn l1_matches_numpy_for_every_reduction_with_a_zero_gradient_where_equal() {
    // |d|, ∂ = sign(d) (np.sign(0) = 0: the fifth element, where input = target).
    check_reductions(
        &[2, 3],
        &REG_X,
        &REG_Y,
        &REG_W,
        [
            (
                Reduction::None,
                &[0.5, 0.25, 1.5, 5.0, 0.0, 1.0],
                &[-1.0, 2.0, 0.5, 1.5, -0.0, -2.0],
            ),
            (Reduction::Sum, &[8.25], &[-1.0, -1.0, 1.0, 1.0, 0.0, -1.0]),
            (
                Reduction::Mean,
                &[1.375],
                &[
                    -0.16666666666666666,
                    -0.16666666666666666,
                    0.16666666666666666,
                    0.16666666666666666,
                    0.0,
                    -0.16666666666666666,
                ],
            ),
        ],
        |r, x, y| L1Loss::with_reduction(r).forward(x, y),
    );
}

const BCE_X: [f32; 8] = [100.0, -100.0, 100.0, -100.0, 0.0, 2.5, -1.5, 17.0];
const BCE_Y: [f32; 8] = [0.0, 1.0, 1.0, 0.0, 1.0, 0.3, 0.0, 1.0];
const BCE_W: [f32; 8] = [1.0, -2.0, 0.5, 1.5, -1.0, 2.0, 0.25, -0.5];

#[test]
fn bce_with_logits_matches_numpy_for_every_reduction() {
    // l = max(x, 0) − x·y + log1p(exp(−|x|)); ∂x = σ(x) − y (w·(σ − y) unreduced), ∂y = −x.
    let none = [
        100.0,
        100.0,
        3.720075976020836e-44,
        3.720075976020836e-44,
        std::f64::consts::LN_2, // numpy: 0.6931471805599453
        1.8288897044902273,
        0.2014132779827524,
        4.139937633089748e-08,
    ];
    let cases = [
        (
            Reduction::None,
            none.to_vec(),
            vec![
                1.0,
                2.0,
                0.0,
                5.580113964031253e-44,
                0.5,
                1.2482836161156552,
                0.04560638095158909,
                2.0699687797165467e-08,
            ],
            vec![-100.0, -200.0, -50.0, 150.0, 0.0, -5.0, 0.375, 8.5],
        ),
        (
            Reduction::Sum,
            vec![202.7234502044323],
            vec![
                1.0,
                -1.0,
                0.0,
                3.7200759760208356e-44,
                -0.5,
                0.6241418080578276,
                0.18242552380635635,
                -4.1399375594330934e-08,
            ],
            neg(&BCE_X.map(f64::from)),
        ),
        (
            Reduction::Mean,
            vec![25.34043127555404],
            vec![
                0.125,
                -0.125,
                0.0,
                4.6500949700260445e-45,
                -0.0625,
                0.07801772600722845,
                0.022803190475794544,
                -5.174921949291367e-09,
            ],
            vec![-12.5, 12.5, -12.5, 12.5, -0.0, -0.3125, 0.1875, -2.125],
        ),
    ];
    for (reduction, value, gx, gy) in cases {
        let got = pair_values(&[2, 4], &BCE_X, &BCE_Y, &BCE_W, reduction, |x, y| {
            BCEWithLogitsLoss::with_reduction(reduction).forward(x, y)
        });
        assert!(got.iter().flatten().all(|v| v.is_finite()), "{got:?}");
        assert_close(&got[0], &value, 1e-5, 1e-6);
        assert_close(&got[1], &gx, 1e-5, 1e-6);
        assert_close(&got[2], &gy, 1e-5, 1e-6);
    }
}

#[test]
fn bce_with_logits_is_finite_where_the_naive_formula_is_not() {
    let x = Tensor::from_slice(&BCE_X[..4], &[4]);
    let y = Tensor::from_slice(&BCE_Y[..4], &[4]);
    // −y log σ(x) − (1 − y) log(1 − σ(x)): σ(±100) rounds to 1 or 0, a log gives −inf, and
    // 0 · −inf gives NaN.
    let p = x.sigmoid();
    let naive = (&y * &p.log() + &y.rsub_scalar(1.0) * &p.rsub_scalar(1.0).log()).neg();
    let naive = naive.to_vec();
    assert!(
        naive[0].is_infinite() && naive[1].is_infinite(),
        "{naive:?}"
    );
    assert!(naive[2].is_nan() && naive[3].is_nan(), "{naive:?}");
    let stable = BCEWithLogitsLoss::with_reduction(Reduction::None).forward(&x, &y);
    assert_eq!(stable.to_vec(), vec![100.0, 100.0, 0.0, 0.0]);
}

#[test]
fn elementwise_losses_pass_gradcheck_in_every_mode() {
    // Inputs 0.1 or more from L1's kink; BCE is smooth, and checked at x = 0 too (where
    // differentiating max(x, 0) and |x| as ops would give −y, not 1/2 − y).
    let x = Tensor::from_vec(vec![0.5, -1.25, 2.0, 3.0, 0.0, -0.75], &[2, 3]);
    let y = Tensor::from_vec(vec![1.0, -1.0, 0.5, -2.0, 0.1, 0.25], &[2, 3]);
    let p = Tensor::from_vec(vec![0.0, 1.0, 0.5, 0.3, 1.0, 0.0], &[2, 3]);
    for r in [Reduction::None, Reduction::Sum, Reduction::Mean] {
        let inputs = vec![x.clone(), y.clone()];
        gradcheck_both(inputs.clone(), |t| {
            MSELoss::with_reduction(r).forward(&t[0], &t[1])
        });
        gradcheck_both(inputs, |t| L1Loss::with_reduction(r).forward(&t[0], &t[1]));
        gradcheck_both(vec![x.clone(), p.clone()], |t| {
            BCEWithLogitsLoss::with_reduction(r).forward(&t[0], &t[1])
        });
    }
}

#[test]
fn bce_with_logits_gradient_at_zero_is_sigmoid_minus_target() {
    // σ(0) − y = 0.5 − y for y = 0, 1, 0.25.
    let got = pair_values(
        &[3],
        &[0.0, 0.0, 0.0],
        &[0.0, 1.0, 0.25],
        &[1.0, 1.0, 1.0],
        Reduction::Sum,
        |x, y| BCEWithLogitsLoss::with_reduction(Reduction::Sum).forward(x, y),
    );
    assert_eq!(got[1], vec![0.5, -0.5, 0.25]);
}

const LOGITS: [f32; 12] = [
    1.0, 2.0, 0.5, -1.0, 0.0, 3.0, 0.25, 0.25, 0.25, 2.0, -3.0, 1.5,
];
const LABELS: [i64; 4] = [1, 0, 2, 2];
const ROW_W: [f32; 4] = [1.0, -2.0, 0.5, 1.5];

/// [loss, ∂objective/∂logits] in every mode (objective as in `pair_values`).
fn class_values(reduction: Reduction, loss: impl Fn(&Tensor, &Tensor) -> Tensor) -> Vec<Vec<f32>> {
    in_both_modes(|| {
        let z = Tensor::from_slice(&LOGITS, &[4, 3]).requires_grad_(true);
        let y = Tensor::from_vec_i64(LABELS.to_vec(), &[4]);
        let l = loss(&z, &y);
        match reduction {
            Reduction::None => {
                assert_eq!(l.shape(), vec![4]);
                (&l * &Tensor::from_slice(&ROW_W, &[4]))
                    .sum_all()
                    .backward();
            }
            _ => {
                assert_eq!(l.shape(), Vec::<usize>::new());
                l.backward();
            }
        }
        vec![l, z.grad().unwrap()]
    })
}

/// numpy: lse − z[y] per row; ∂ = softmax − one_hot (× w per row unreduced, ÷ 4 for mean).
fn cross_entropy_expected() -> [(Reduction, Vec<f64>, Vec<f64>); 3] {
    [
        (
            Reduction::None,
            vec![
                0.46436878410794513,
                4.065883903757429,
                1.0986122886681098,
                0.978262311448824,
            ],
            vec![
                0.231223897622149,
                -0.3714682807882378,
                0.14024438316608845,
                1.9657043489089592,
                -0.09322524515594778,
                -1.8724791037530113,
                0.16666666666666666,
                0.16666666666666666,
                -0.33333333333333337,
                0.9297893690855417,
                0.006264871489211494,
                -0.9360542405747532,
            ],
        ),
        (
            Reduction::Sum,
            vec![6.607127287982308],
            vec![
                0.231223897622149,
                -0.3714682807882378,
                0.14024438316608845,
                -0.9828521744544796,
                0.04661262257797389,
                0.9362395518765056,
                0.3333333333333333,
                0.3333333333333333,
                -0.6666666666666667,
                0.6198595793903611,
                0.0041765809928076625,
                -0.6240361603831688,
            ],
        ),
        (
            Reduction::Mean,
            vec![1.651781821995577],
            vec![
                0.05780597440553725,
                -0.09286707019705945,
                0.03506109579152211,
                -0.2457130436136199,
                0.011653155644493473,
                0.2340598879691264,
                0.08333333333333333,
                0.08333333333333333,
                -0.16666666666666669,
                0.15496489484759027,
                0.0010441452482019156,
                -0.1560090400957922,
            ],
        ),
    ]
}

#[test]
fn softmax_loss_matches_numpy_for_every_reduction() {
    for (reduction, value, grad) in cross_entropy_expected() {
        let got = class_values(reduction, |z, y| {
            SoftmaxLoss::with_reduction(reduction).forward(z, y)
        });
        assert_close(&got[0], &value, 1e-5, 1e-6);
        assert_close(&got[1], &grad, 1e-5, 1e-6);
    }
}

#[test]
fn nll_of_log_softmax_is_the_softmax_loss() {
    for (reduction, value, grad) in cross_entropy_expected() {
        let got = class_values(reduction, |z, y| {
            NLLLoss::with_reduction(reduction).forward(&z.log_softmax(1), y)
        });
        assert_close(&got[0], &value, 1e-5, 1e-6);
        assert_close(&got[1], &grad, 1e-5, 1e-6);
    }
}

#[test]
fn nll_picks_minus_the_labelled_entry() {
    // The logits read as log-probabilities: −z[i, yᵢ]; ∂ = −one_hot (× w, or ÷ 4).
    let cases: [(Reduction, &[f64], &[f64]); 3] = [
        (
            Reduction::None,
            &[-2.0, 1.0, -0.25, -1.5],
            &[
                0.0, -1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, -0.5, 0.0, 0.0, -1.5,
            ],
        ),
        (
            Reduction::Sum,
            &[-2.75],
            &[
                0.0, -1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, -1.0,
            ],
        ),
        (
            Reduction::Mean,
            &[-0.6875],
            &[
                0.0, -0.25, 0.0, -0.25, 0.0, 0.0, 0.0, 0.0, -0.25, 0.0, 0.0, -0.25,
            ],
        ),
    ];
    for (reduction, value, grad) in cases {
        let got = class_values(reduction, |z, y| {
            NLLLoss::with_reduction(reduction).forward(z, y)
        });
        assert_close(&got[0], value, 0.0, 0.0);
        assert_close(&got[1], grad, 0.0, 0.0);
    }
}

#[test]
fn classification_losses_pass_gradcheck_in_every_mode() {
    let z = Tensor::from_slice(&LOGITS, &[4, 3]);
    for r in [Reduction::None, Reduction::Sum, Reduction::Mean] {
        let labels = || Tensor::from_vec_i64(LABELS.to_vec(), &[4]);
        gradcheck_both(vec![z.clone()], |t| {
            SoftmaxLoss::with_reduction(r).forward(&t[0], &labels())
        });
        gradcheck_both(vec![z.clone()], |t| {
            NLLLoss::with_reduction(r).forward(&t[0].log_softmax(1), &labels())
        });
    }
}

#[test]
fn an_infinite_entry_off_the_label_does_not_make_the_loss_nan() {
    // PyTorch: nll_loss([[-inf, -0.1, -2.4], [-0.5, -inf, -1.0]], [1, 0]) = 0.3 with
    // gradient −1/2 at the labels and 0 elsewhere; a product with one-hot rows gives
    // 0 · −inf = NaN. Likewise cross_entropy([[-inf, 1, 0]], [1]) = log(e + 1) − 1.
    let inf = f32::INFINITY;
    for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
        let got = in_both_modes(|| {
            let lp = Tensor::from_vec(vec![-inf, -0.1, -2.4, -0.5, -inf, -1.0], &[2, 3])
                .requires_grad_(true);
            let y = Tensor::from_vec_i64(vec![1, 0], &[2]);
            let l = NLLLoss::with_reduction(reduction).forward(&lp, &y);
            l.sum_all().backward();
            let z = Tensor::from_vec(vec![-inf, 1.0, 0.0], &[1, 3]);
            let ce = SoftmaxLoss::with_reduction(reduction)
                .forward(&z, &Tensor::from_vec_i64(vec![1], &[1]));
            vec![l, lp.grad().unwrap(), ce]
        });
        let (value, scale): (&[f64], f64) = match reduction {
            Reduction::None => (&[0.1, 0.5], 1.0),
            Reduction::Sum => (&[0.6], 1.0),
            Reduction::Mean => (&[0.3], 0.5),
        };
        assert_close(&got[0], value, 1e-6, 0.0);
        assert_close(&got[1], &[0.0, -scale, 0.0, -scale, 0.0, 0.0], 0.0, 0.0);
        assert_close(&got[2], &[0.31326168751822286], 1e-6, 0.0);
    }
}

#[test]
fn softmax_loss_default_is_the_mean_and_keeps_its_bits() {
    // The mean's formula is unchanged: (Σ logsumexp − Σ z[y]) / N, bit for bit.
    let z = Tensor::from_slice(&LOGITS, &[4, 3]);
    let y = Tensor::from_vec_i64(LABELS.to_vec(), &[4]);
    let loss = SoftmaxLoss::new();
    assert_eq!(loss.reduction(), Reduction::Mean);
    let course =
        (z.logsumexp(&[1], false).sum_all() - (&z * &Tensor::one_hot(3, &y)).sum_all()) / 4.0;
    assert_eq!(
        loss.forward(&z, &y).item().to_bits(),
        course.item().to_bits()
    );
    assert_eq!(loss.summary(), "SoftmaxLoss(reduction=Mean)");
    assert_eq!(
        BCEWithLogitsLoss::with_reduction(Reduction::None).summary(),
        "BCEWithLogitsLoss(reduction=None)"
    );
    assert_eq!(MSELoss::new().reduction(), Reduction::Mean);
    assert_eq!(L1Loss::new().reduction(), Reduction::Mean);
    assert_eq!(NLLLoss::new().reduction(), Reduction::Mean);
}

#[test]
fn empty_batches_reduce_as_pytorch() {
    // torch: mean over nothing is nan, the sum 0, and none an empty tensor.
    let e = Tensor::zeros(&[0, 3]);
    let mean = MSELoss::new().forward(&e, &e).item();
    assert!(mean.is_nan());
    assert_eq!(
        L1Loss::with_reduction(Reduction::Sum)
            .forward(&e, &e)
            .item(),
        0.0
    );
    let none = BCEWithLogitsLoss::with_reduction(Reduction::None).forward(&e, &e);
    assert_eq!(none.shape(), vec![0, 3]);
    let labels = Tensor::from_vec_i64(vec![], &[0]);
    assert!(SoftmaxLoss::new().forward(&e, &labels).item().is_nan());
    assert_eq!(
        NLLLoss::with_reduction(Reduction::Sum)
            .forward(&e, &labels)
            .item(),
        0.0
    );
}
