//! NaN, ±inf and −0 through every op, in every mode, against numpy's float32 results
//! (printed by numpy 2.4 for the inputs below and pasted in). Eager, lazy and JIT must agree
//! bit for bit (`in_both_modes`), and each value must be numpy's: NaN where numpy gives NaN,
//! the same sign of zero and infinity, and the same finite value (transcendental functions to
//! 1 ulp-ish, since libm implementations differ in the last bit).

mod common;

use common::in_both_modes;
use needle::Tensor;

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;
const NEG_INF: f32 = f32::NEG_INFINITY;

/// NaN, ±inf, ±0 and three ordinary values.
const X: [f32; 8] = [NAN, INF, NEG_INF, 0.0, -0.0, 1.0, -1.0, 2.5];
/// `X` reversed, so binary ops meet every special value against another.
const Y: [f32; 8] = [2.5, -1.0, 1.0, -0.0, 0.0, NEG_INF, INF, NAN];

fn x() -> Tensor {
    Tensor::from_vec(X.to_vec(), &[8])
}

fn y() -> Tensor {
    Tensor::from_vec(Y.to_vec(), &[8])
}

/// Same NaN-ness, and for non-NaN values the same sign, infinity and (within `rtol`) value;
/// `rtol` 0 asks for identical bits.
#[track_caller]
fn assert_numpy(name: &str, actual: &[f32], expected: &[f32], rtol: f32) {
    assert_eq!(actual.len(), expected.len(), "{name}: lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let ok = if e.is_nan() {
            a.is_nan()
        } else if rtol == 0.0 || e == 0.0 || e.is_infinite() {
            a.to_bits() == e.to_bits()
        } else {
            (a - e).abs() <= rtol * e.abs()
        };
        assert!(
            ok,
            "{name}: element {i} (x = {}, y = {}) is {a:?}, numpy gives {e:?}\n{actual:?}",
            X[i], Y[i]
        );
    }
}

/// An op's name, the op, numpy's results for `X`, and the relative tolerance.
type UnaryCase = (&'static str, fn(&Tensor) -> Tensor, [f32; 8], f32);

#[test]
fn unary_ops_match_numpy_on_special_values() {
    let cases: Vec<UnaryCase> = vec![
        (
            "neg",
            |t| -t,
            [NAN, NEG_INF, INF, -0.0, 0.0, -1.0, 1.0, -2.5],
            0.0,
        ),
        (
            "exp",
            |t| t.exp(),
            [
                NAN,
                INF,
                0.0,
                1.0,
                1.0,
                std::f32::consts::E,
                0.36787942,
                12.182493,
            ],
            1e-6,
        ),
        (
            "log",
            |t| t.log(),
            [NAN, INF, NAN, NEG_INF, NEG_INF, 0.0, NAN, 0.91629076],
            1e-6,
        ),
        (
            "sqrt",
            |t| t.sqrt(),
            [NAN, INF, NAN, 0.0, -0.0, 1.0, NAN, 1.5811388],
            0.0,
        ),
        (
            "relu",
            |t| t.relu(),
            [NAN, INF, 0.0, 0.0, 0.0, 1.0, 0.0, 2.5],
            0.0,
        ),
        (
            "tanh",
            |t| t.tanh(),
            [NAN, 1.0, -1.0, 0.0, -0.0, 0.7615942, -0.7615942, 0.9866143],
            1e-6,
        ),
        (
            "sigmoid",
            |t| t.sigmoid(),
            [NAN, 1.0, 0.0, 0.5, 0.5, 0.7310586, 0.2689414, 0.9241418],
            1e-6,
        ),
        (
            "sin",
            |t| t.sin(),
            [NAN, NAN, NAN, 0.0, -0.0, 0.841471, -0.841471, 0.5984722],
            1e-6,
        ),
        (
            "cos",
            |t| t.cos(),
            [NAN, NAN, NAN, 1.0, 1.0, 0.5403023, 0.5403023, -0.8011436],
            1e-6,
        ),
        (
            "add inf",
            |t| t + f32::INFINITY,
            [NAN, INF, NAN, INF, INF, INF, INF, INF],
            0.0,
        ),
        (
            "mul 0",
            |t| t * 0.0,
            [NAN, NAN, NAN, 0.0, -0.0, 0.0, -0.0, 0.0],
            0.0,
        ),
        (
            "div 0",
            |t| t / 0.0,
            [NAN, INF, NEG_INF, NAN, NAN, INF, NEG_INF, INF],
            0.0,
        ),
        (
            "1 / x",
            |t| t.rdiv_scalar(1.0),
            [NAN, 0.0, -0.0, INF, NEG_INF, 1.0, -1.0, 0.4],
            0.0,
        ),
        (
            "pow 2",
            |t| t.powf(2.0),
            [NAN, INF, INF, 0.0, 0.0, 1.0, 1.0, 6.25],
            0.0,
        ),
        ("pow 0", |t| t.powf(0.0), [1.0; 8], 0.0),
        (
            "pow 0.5",
            |t| t.powf(0.5),
            [NAN, INF, NAN, 0.0, -0.0, 1.0, NAN, 1.5811388],
            1e-6,
        ),
        (
            "pow -1",
            |t| t.powf(-1.0),
            [NAN, 0.0, -0.0, INF, NEG_INF, 1.0, -1.0, 0.4],
            0.0,
        ),
        (
            "pow 3",
            |t| t.powf(3.0),
            [NAN, INF, NEG_INF, 0.0, -0.0, 1.0, -1.0, 15.625],
            0.0,
        ),
        (
            "maximum 1",
            |t| t.maximum(1.0),
            [NAN, INF, 1.0, 1.0, 1.0, 1.0, 1.0, 2.5],
            0.0,
        ),
        (
            "maximum -0",
            |t| t.maximum(-0.0),
            [NAN, INF, -0.0, -0.0, -0.0, 1.0, -0.0, 2.5],
            0.0,
        ),
    ];
    for (name, f, expected, rtol) in cases {
        let out = in_both_modes(|| vec![f(&x())]);
        assert_numpy(name, &out[0], &expected, rtol);
    }
}

/// An op's name, the op, and numpy's results for `X` against `Y`.
type BinaryCase = (&'static str, fn(&Tensor, &Tensor) -> Tensor, [f32; 8]);

#[test]
fn binary_ops_match_numpy_on_special_values() {
    let cases: Vec<BinaryCase> = vec![
        (
            "maximum",
            |a, b| a.maximum(b),
            [NAN, INF, 1.0, -0.0, 0.0, 1.0, INF, NAN],
        ),
        (
            "sub",
            |a, b| a - b,
            [NAN, INF, NEG_INF, 0.0, -0.0, INF, NEG_INF, NAN],
        ),
        (
            "mul",
            |a, b| a * b,
            [NAN, NEG_INF, NEG_INF, -0.0, -0.0, NEG_INF, NEG_INF, NAN],
        ),
        (
            "div",
            |a, b| a / b,
            [NAN, NEG_INF, NEG_INF, NAN, NAN, -0.0, -0.0, NAN],
        ),
        (
            "eq",
            |a, b| a.eq(b),
            [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        ),
        (
            "ne",
            |a, b| a.ne(b),
            [1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
        ),
        (
            "gt",
            |a, b| a.gt(b),
            [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        ),
        (
            "ge",
            |a, b| a.ge(b),
            [0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0],
        ),
        (
            "lt",
            |a, b| a.lt(b),
            [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        ),
        (
            "le",
            |a, b| a.le(b),
            [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0],
        ),
    ];
    for (name, f, expected) in cases {
        let out = in_both_modes(|| vec![f(&x(), &y())]);
        assert_numpy(name, &out[0], &expected, 0.0);
    }
}

#[test]
fn relu_keeps_nan_in_vector_loops_too() {
    // 4 × 33 elements: the JIT's f32x4 loop and its scalar tail both see NaN and −0.
    let data: Vec<f32> = (0..132).map(|i| X[i % 8]).collect();
    let out = in_both_modes(|| vec![Tensor::from_vec(data.clone(), &[4, 33]).relu()]);
    let expected: Vec<f32> = data
        .iter()
        .map(|&v| {
            if v.is_nan() {
                NAN
            } else if v > 0.0 {
                v
            } else {
                0.0
            }
        })
        .collect();
    assert_numpy("relu [4, 33]", &out[0], &expected, 0.0);
}

#[test]
fn reductions_propagate_nan_and_keep_numpy_signed_zeros() {
    let out = in_both_modes(|| {
        vec![
            x().sum_all(),
            x().max_all(),
            x().slice(0, 1, 8, 1).max_all(),
            x().slice(0, 1, 8, 1).sum_all(),
            // numpy's maximum.reduce: of equal values the later one wins.
            Tensor::from_vec(vec![0.0, -0.0], &[2]).max_all(),
            Tensor::from_vec(vec![-0.0, 0.0], &[2]).max_all(),
            Tensor::from_vec(vec![1.0, NAN, 2.0, 0.0, 3.0, 0.0], &[2, 3]).max(&[0], false),
        ]
    });
    assert_numpy("sum", &out[0], &[NAN], 0.0);
    assert_numpy("max", &out[1], &[NAN], 0.0);
    assert_numpy("max without NaN", &out[2], &[INF], 0.0);
    assert_numpy("sum inf - inf", &out[3], &[NAN], 0.0);
    assert_numpy("max [0, -0]", &out[4], &[-0.0], 0.0);
    assert_numpy("max [-0, 0]", &out[5], &[0.0], 0.0);
    assert_numpy("max over rows", &out[6], &[1.0, NAN, 2.0], 0.0);
}

#[test]
fn logsumexp_of_infinite_rows_is_infinite_not_nan() {
    // torch.logsumexp(torch.tensor(row), 0) for each row.
    let rows: [([f32; 2], f32); 6] = [
        ([INF, 1.0], INF),
        ([NEG_INF, NEG_INF], NEG_INF),
        ([INF, INF], INF),
        ([INF, NEG_INF], INF),
        ([NAN, 1.0], NAN),
        ([1.0, 2.0], 2.3132617),
    ];
    let data: Vec<f32> = rows.iter().flat_map(|(r, _)| *r).collect();
    let expected: Vec<f32> = rows.iter().map(|&(_, e)| e).collect();
    let out =
        in_both_modes(|| vec![Tensor::from_vec(data.clone(), &[6, 2]).logsumexp(&[1], false)]);
    assert_numpy("logsumexp", &out[0], &expected, 1e-6);
}

#[test]
fn softmax_loss_with_an_infinite_logit() {
    use needle::nn::SoftmaxLoss;
    // PyTorch's cross_entropy: an infinite logit of another class makes the loss +inf; of
    // the true class, inf − inf = NaN.
    let out = in_both_modes(|| {
        let logits = Tensor::from_vec(vec![INF, 1.0, 0.0, 2.0], &[2, 2]);
        let labels = Tensor::from_vec_i64(vec![1, 1], &[2]);
        let first = logits.slice(0, 0, 1, 1);
        vec![
            SoftmaxLoss::new().forward(&first, &labels.slice(0, 0, 1, 1)),
            SoftmaxLoss::new().forward(&first, &Tensor::from_vec_i64(vec![0], &[1])),
        ]
    });
    assert_numpy("loss, other class infinite", &out[0], &[INF], 0.0);
    assert_numpy("loss, true class infinite", &out[1], &[NAN], 0.0);
}

#[test]
fn relu_gradient_is_zero_where_the_input_is_not_positive_even_for_infinite_upstream() {
    // torch: x = tensor([-1., 2.], requires_grad=True); (x.relu() * inf).sum().backward()
    // gives x.grad = [0, inf] (threshold_backward selects; it does not multiply by 0).
    let out = in_both_modes(|| {
        let x = Tensor::from_vec(vec![-1.0, 2.0], &[2]).requires_grad_(true);
        (x.relu() * f32::INFINITY).sum_all().backward();
        vec![x.grad().unwrap()]
    });
    assert_numpy("relu gradient", &out[0], &[0.0, INF], 0.0);
}
