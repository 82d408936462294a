//! `needle::grad`, the functional gradient (PyTorch's `torch.autograd.grad`): values against
//! finite differences and numpy, a Hessian-vector product through `create_graph`, equal bits
//! in every mode, no `.grad()` touched, and errors that name the offending output or input.

mod common;

use common::{assert_close, in_both_modes};
use needle::{grad, with_mode, Tensor};

/// x = [0.3, −0.7, 1.1] as a row, A (3×2) and v: the Hessian-vector product case.
fn x() -> Tensor {
    Tensor::from_vec(vec![0.3, -0.7, 1.1], &[1, 3]).requires_grad_(true)
}

fn a() -> Tensor {
    Tensor::from_vec(vec![0.5, -1.0, 0.25, 0.8, -0.6, 0.4], &[3, 2])
}

fn v() -> Tensor {
    Tensor::from_vec(vec![1.0, -2.0, 0.5], &[1, 3])
}

/// f(x) = Σ tanh(x·A) + Σ x³.
fn f(x: &Tensor) -> Tensor {
    &x.matmul(&a()).tanh().sum_all() + &x.powf(3.0).sum_all()
}

/// numpy (f64): ∇f = A·(1 − tanh²(xA)) + 3x².
const GRAD: [f64; 3] = [-0.24931614362155152, 2.305522029981965, 3.5792223866272526];
/// numpy (f64): H·v with H = A·diag(−2 t (1 − t²))·Aᵀ + diag(6x).
const HVP: [f64; 3] = [3.289773254546211, 7.0582771348189075, 2.7963394745163592];

#[test]
fn gradient_matches_numpy_and_finite_differences_in_every_mode() {
    let got = in_both_modes(|| {
        let x = x();
        vec![grad(&[&f(&x)], &[&x], false).remove(0)]
    });
    assert_close(&got[0], &GRAD, 1e-5, 1e-6);
    for mode in common::MODES {
        with_mode(mode, || {
            let x = x();
            let g = grad(&[&f(&x)], &[&x], false).remove(0);
            assert!(!g.requires_grad(), "without create_graph: no history");
            // Central differences of f evaluated in f32, step 1e-2 (see common::gradcheck).
            let base = x.to_vec();
            let eps = 1e-2f32;
            let at = |i: usize, d: f32| {
                let mut p = base.clone();
                p[i] += d;
                f(&Tensor::from_vec(p, &[1, 3])).item() as f64
            };
            let numeric: Vec<f64> = (0..3)
                .map(|i| (at(i, eps) - at(i, -eps)) / (2.0 * eps as f64))
                .collect();
            assert_close(&g.to_vec(), &numeric, 1e-2, 1e-2);
            assert!(x.grad().is_none(), "grad() stores nothing: {mode:?}");
        });
    }
}

#[test]
fn hessian_vector_product_through_create_graph_in_every_mode() {
    let got = in_both_modes(|| {
        let x = x();
        let g = grad(&[&f(&x)], &[&x], true).remove(0);
        assert!(
            g.requires_grad(),
            "with create_graph the gradient has history"
        );
        let hv = grad(&[&(&g * &v()).sum_all()], &[&x], false).remove(0);
        assert!(x.grad().is_none());
        vec![g, hv]
    });
    assert_close(&got[0], &GRAD, 1e-5, 1e-6);
    assert_close(&got[1], &HVP, 1e-5, 1e-6);
    // And against central differences of the gradient itself along v (f32, step 1e-2).
    let eps = 1e-2f32;
    let g_at = |d: f32| {
        let p: Vec<f32> = [0.3f32, -0.7, 1.1]
            .iter()
            .zip(v().to_vec())
            .map(|(x, v)| x + d * v)
            .collect();
        let x = Tensor::from_vec(p, &[1, 3]).requires_grad_(true);
        grad(&[&f(&x)], &[&x], false).remove(0).to_vec()
    };
    let (plus, minus) = (g_at(eps), g_at(-eps));
    let numeric: Vec<f64> = (0..3)
        .map(|i| (plus[i] as f64 - minus[i] as f64) / (2.0 * eps as f64))
        .collect();
    assert_close(&got[1], &numeric, 1e-2, 1e-2);
}

#[test]
fn grad_leaves_every_stored_gradient_as_it_was() {
    for mode in common::MODES {
        with_mode(mode, || {
            let x = x();
            let w = Tensor::from_vec(vec![2.0, 3.0], &[2]).requires_grad_(true);
            let h = &x.sum_all() * 2.0;
            h.retain_grad();
            (&h * &w.sum_all()).backward();
            let (gx, gw, gh) = (x.grad().unwrap(), w.grad().unwrap(), h.grad().unwrap());
            let values: Vec<Vec<f32>> = [&gx, &gw, &gh].iter().map(|g| g.to_vec()).collect();
            let loss = (&(&x.sum_all() * &w.sum_all()) * &h).square();
            let got = grad(&[&loss], &[&w, &x], false);
            assert_eq!(got.len(), 2);
            for (before, now) in [(gx, &x), (gw, &w), (gh, &h)] {
                assert!(before.same_handle(&now.grad().unwrap()), "{mode:?}");
            }
            let now: Vec<Vec<f32>> = [&x, &w, &h]
                .iter()
                .map(|t| t.grad().unwrap().to_vec())
                .collect();
            assert_eq!(now, values, "{mode:?}");
            // h = 2 Σx: the gradient of h·Σw with respect to each w is h.
            assert_eq!(values[1], vec![h.item(), h.item()], "{mode:?}");
        });
    }
}

#[test]
fn outputs_add_up_and_inputs_may_be_intermediate_or_repeated() {
    let got = in_both_modes(|| {
        let x = Tensor::from_vec(vec![1.0, -2.0, 0.5], &[3]).requires_grad_(true);
        let h = &x * 3.0; // an intermediate input: d/dh Σ h² = 2h
        let y1 = h.square().sum_all();
        let y2 = (&x * &x).sum_all();
        let mut g = grad(&[&y1, &y2], &[&h, &x, &h], false);
        // y1 + y2 = 10 Σ x²: d/dx = 20x; d/dh of y1 + y2 is only y1's part, 2h = 6x.
        let (gh2, gx, gh) = (g.remove(2), g.remove(1), g.remove(0));
        vec![gh, gx, gh2]
    });
    assert_eq!(got[0], vec![6.0, -12.0, 3.0]);
    assert_eq!(got[1], vec![20.0, -40.0, 10.0]);
    assert_eq!(got[2], got[0]);
}

#[test]
#[should_panic(
    expected = "grad: output 1 of shape [3] is not a scalar; for a vector-Jacobian product \
                differentiate `(output * v).sum_all()`"
)]
fn a_non_scalar_output_is_refused() {
    let x = Tensor::ones(&[3]).requires_grad_(true);
    let _ = grad(&[&x.sum_all(), &(&x * 2.0)], &[&x], false);
}

#[test]
#[should_panic(
    expected = "grad: input 1 (shape [2]) is not used by the outputs through differentiable \
                ops, so they have no gradient with respect to it"
)]
fn an_input_the_outputs_do_not_use_is_refused() {
    let x = Tensor::ones(&[3]).requires_grad_(true);
    let unrelated = Tensor::ones(&[2]).requires_grad_(true);
    let _ = grad(&[&x.sum_all()], &[&x, &unrelated], false);
}

#[test]
#[should_panic(
    expected = "grad: input 0 (shape [3]) does not require grad; create it with \
                `.requires_grad_(true)`"
)]
fn an_input_without_requires_grad_is_refused() {
    let w = Tensor::ones(&[3]).requires_grad_(true);
    let x = Tensor::ones(&[3]);
    let _ = grad(&[&(&x * &w).sum_all()], &[&x], false);
}
