//! Conv2d, MaxPool2d, AvgPool2d and BatchNorm2d against PyTorch, in every mode: forward
//! values and gradients, a finite-difference check, bit-identical results between eager, lazy
//! and JIT, and the errors for bad input.
//!
//! Inputs come from formulas both sides compute (`wave`), so only the results are pasted: for
//! each tensor (Σv, Σ|v|, Σ v_i·cos(0.7·i), v[0], v[1], v[n/2], v[n−1]). They were printed by
//! /tmp/torchvenv/bin/python (torch 2.x) running:
//!
//! ```python
//! import numpy as np, torch, torch.nn.functional as F
//! def wave(n, a, ph=0.0, s=1.0): return torch.tensor((s*np.sin(a*np.arange(n)+ph)).astype(np.float32))
//! def summary(t):
//!     v = t.detach().double().flatten(); n = v.numel(); i = torch.arange(n, dtype=torch.float64)
//!     return [v.sum(), v.abs().sum(), (v*torch.cos(0.7*i)).sum(), v[0], v[1], v[n//2], v[n-1]]
//! def leaf(n, shape, a, ph=0.0, s=1.0): return wave(n, a, ph, s).reshape(shape).requires_grad_()
//! def backward(y): (y*wave(y.numel(), 0.11, 1.0).reshape(y.shape)).sum().backward()
//! for (n,c,h,w,co,k,s,p,d) in CONV_CASES:  # weight in the course layout (K, K, Cin, Cout)
//!     x = leaf(n*c*h*w, (n,c,h,w), 0.37); wk = leaf(k*k*c*co, (k,k,c,co), 0.23, 0.3, 0.5)
//!     b = leaf(co, (co,), 1.3, 0.5, 0.3)
//!     y = F.conv2d(x, wk.permute(3,2,0,1), b, stride=s, padding=p, dilation=d); backward(y)
//!     print(summary(y), summary(x.grad), summary(wk.grad), summary(b.grad))
//! for (kind,shape,k,s) in POOL_CASES:
//!     x = leaf(int(np.prod(shape)), shape, 0.37)
//!     y = (F.max_pool2d if kind=="max" else F.avg_pool2d)(x, k, s); backward(y)
//!     print(summary(y), summary(x.grad))
//! shape = (3,4,5,5); x = leaf(300, shape, 0.37); g = leaf(4, (4,), 0.9, 0.2, 0.5); bb = leaf(4, (4,), 0.7, 0.1, 0.2)
//! y = F.batch_norm(x, None, None, g, bb, training=True, eps=1e-5); backward(y)
//! print(summary(y), summary(x.grad), summary(g.grad), summary(bb.grad))
//! xd = x.detach().double()   # the course keeps the biased variance in running_var
//! rm = 0.1*xd.mean((0,2,3)); rv = 0.9+0.1*xd.var((0,2,3), unbiased=False); print(summary(rm), summary(rv))
//! x.grad = None
//! y = F.batch_norm(x, rm.float(), rv.float(), g, bb, training=False, eps=1e-5); backward(y)
//! print(summary(y), summary(x.grad))
//! ```

#![allow(clippy::excessive_precision)] // printed reference values, digit for digit

mod common;

use common::{gradcheck_both, in_both_modes, MODES};
use needle::nn::{
    AvgPool2d, BatchNorm2d, Conv2d, Conv2dOptions, Flatten, Forward, Linear, MaxPool2d, Module,
    ReLU, Residual, Sequential,
};
use needle::{manual_seed, module, with_mode, Tensor};

/// `s·sin(a·i + ph)` for i in 0..n, formed in f64 and rounded once, as the script's `wave`.
fn wave(n: usize, a: f64, ph: f64, s: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (s * (a * i as f64 + ph).sin()) as f32)
        .collect()
}

fn leaf(shape: &[usize], a: f64, ph: f64, s: f64) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(wave(n, a, ph, s), shape).requires_grad_(true)
}

/// The script's `backward`: the gradient of Σ y ⊙ c with c = sin(0.11·i + 1).
fn backward(y: &Tensor) {
    let c = Tensor::from_vec(wave(y.numel(), 0.11, 1.0, 1.0), &y.shape());
    (y * &c).sum_all().backward();
}

/// (Σv, Σ|v|, Σ v_i·cos(0.7·i), v[0], v[1], v[n/2], v[n−1]) as the script prints them.
type Summary = [f64; 7];

/// Elements to 1e-5 (absolute and relative); the three sums to 1e-5 of Σ|v| (1e-5 per
/// element on average).
#[track_caller]
fn check(what: &str, v: &[f32], expected: Summary) {
    let n = v.len();
    let sum: f64 = v.iter().map(|&x| x as f64).sum();
    let abs: f64 = v.iter().map(|&x| (x as f64).abs()).sum();
    let weighted: f64 = v
        .iter()
        .enumerate()
        .map(|(i, &x)| x as f64 * (0.7 * i as f64).cos())
        .sum();
    let actual = [
        sum,
        abs,
        weighted,
        v[0] as f64,
        v[1] as f64,
        v[n / 2] as f64,
        v[n - 1] as f64,
    ];
    for (k, (&a, &e)) in actual.iter().zip(&expected).enumerate() {
        let tol = if k < 3 {
            1e-5 * expected[1].max(1.0)
        } else {
            1e-5 + 1e-5 * e.abs()
        };
        assert!(
            (a - e).abs() <= tol,
            "{what}: summary entry {k} is {a}, PyTorch gives {e} (tolerance {tol})"
        );
    }
}

/// (n, c, h, w, c_out, k, stride, padding, dilation) and PyTorch's y, ∂x, ∂w, ∂b.
type ConvCase = ([usize; 9], [Summary; 4]);

#[rustfmt::skip]
const CONV_CASES: [ConvCase; 6] = [
    (
        [2, 3, 7, 7, 4, 3, 1, 1, 1],
        [
            [-5.062718121e-01, 1.336711296e+02, -2.484969745e+00, 2.106193900e-01, 2.488492429e-02, -1.338589936e-01, -5.691401958e-01],
            [-4.560431106e+00, 1.662206260e+02, 4.616522189e+00, 5.568349957e-01, -8.579549193e-02, -4.980790615e-01, 2.293127030e-01],
            [-4.235526979e+00, 2.679744824e+02, -5.492769171e-01, 4.120245934e+00, -1.116424441e+00, -1.515983820e+00, 1.284234166e+00],
            [-3.736785412e+00, 8.678911686e+00, -6.620153824e+00, -3.227640390e+00, -2.754308462e+00, -2.258996964e-01, 2.471063137e+00],
        ],
    ),
    (
        [2, 3, 9, 8, 5, 3, 2, 0, 1],
        [
            [-4.754486293e+01, 1.261288372e+02, -3.338780476e+00, 8.036269546e-01, 1.563548803e+00, -1.339042187e+00, -1.695928335e+00],
            [9.726179305e-01, 6.248011237e+01, -3.608893056e-01, -2.620016038e-01, 1.652370095e-01, -1.937794536e-01, 0.000000000e+00],
            [6.592007995e+00, 6.314243279e+02, 3.860643823e+00, -6.245698929e+00, 2.013409615e+00, 8.206033707e+00, 5.189492226e+00],
            [5.398868799e+00, 7.075958276e+01, 1.063625221e+01, 2.161979294e+01, 1.280931711e+00, -2.098399734e+01, 1.517850113e+01],
        ],
    ),
    (
        [1, 4, 6, 5, 3, 1, 1, 0, 1],
        [
            [1.349844667e+01, 2.749960542e+01, -1.336496192e-01, -4.328873754e-02, -1.761154830e-01, 2.146548778e-01, 1.875283569e-01],
            [9.185617459e+00, 2.622500591e+01, -7.076305305e-02, 2.261699289e-01, 2.319468856e-01, 3.939019740e-01, -2.113360167e-01],
            [-1.205358982e+00, 3.160724783e+01, 2.520060849e+00, 2.648333788e+00, -2.725105762e+00, -3.134687185e+00, 2.209149599e+00],
            [6.691998482e+00, 2.041974545e+01, 4.877878056e+00, 9.425657272e+00, -6.863873482e+00, -6.863873482e+00, 4.130214691e+00],
        ],
    ),
    (
        [1, 2, 9, 9, 3, 3, 1, 1, 2],
        [
            [1.984614814e+01, 4.024649902e+01, -2.378480633e+00, 5.420488119e-01, 1.305870414e-01, 2.243090719e-01, -4.601750374e-01],
            [-2.604598453e+01, 1.394906525e+02, 1.083329572e+01, 3.838339448e-01, 1.272276402e+00, 8.363279700e-01, 3.624198139e-01],
            [2.440531954e+01, 9.820228919e+01, 5.826184767e+00, 1.678930759e+00, 3.334939480e+00, -7.186458707e-01, 6.493154168e-01],
            [6.810447216e+00, 1.432177973e+01, -1.622570081e-01, -3.755666256e+00, 3.021671772e+00, 3.021671772e+00, 7.544441700e+00],
        ],
    ),
    (
        [3, 2, 8, 7, 4, 3, 2, 1, 1],
        [
            [8.435372980e+00, 6.524498755e+01, -4.504187367e-01, -2.849414945e-03, 1.317038536e-01, 2.365636379e-01, -7.174280882e-01],
            [6.711487135e+00, 3.321966129e+01, 2.212916684e-02, 1.240101755e-01, -5.367823318e-02, 1.559509188e-01, -1.570819467e-01],
            [1.764936566e+00, 8.925336272e+01, 1.676199244e+01, 2.939052105e+00, 2.716684341e-01, -3.260324001e-01, 1.825282931e+00],
            [1.439832401e+01, 9.095386410e+01, -2.468414509e+01, 1.827008820e+01, -3.207149506e+01, -6.206274986e+00, 3.440600586e+01],
        ],
    ),
    (
        [2, 1, 5, 6, 2, 2, 1, 0, 1],
        [
            [2.760649443e+01, 4.609601486e+01, -4.281777350e+00, 9.028784037e-01, 7.653508186e-01, 4.599160552e-01, 1.003540874e+00],
            [1.981292422e+01, 3.465109871e+01, -6.977818129e-01, 1.095807999e-01, 3.554342389e-01, 1.304740608e-01, 3.408662677e-01],
            [1.078334928e+00, 7.363865852e+00, -3.641809530e-02, 8.224294186e-01, -1.476309180e+00, 5.049830675e-02, 1.329935551e+00],
            [1.396075249e+01, 2.010916710e+01, 1.468367635e+01, 1.703495979e+01, -3.074207306e+00, -3.074207306e+00, -3.074207306e+00],
        ],
    ),
];

#[test]
fn conv2d_forward_and_gradients_match_pytorch() {
    for mode in MODES {
        with_mode(mode, || {
            for ([n, c, h, w, co, k, s, p, d], expected) in CONV_CASES {
                let case = format!("{mode:?} conv {:?}", [n, c, h, w, co, k, s, p, d]);
                let options = Conv2dOptions::default().stride(s).padding(p).dilation(d);
                let mut conv = Conv2d::with_options(c, co, k, options);
                conv.weight = leaf(&[k, k, c, co], 0.23, 0.3, 0.5);
                conv.bias = Some(leaf(&[co], 1.3, 0.5, 0.3));
                let x = leaf(&[n, c, h, w], 0.37, 0.0, 1.0);
                let y = conv.forward(&x);
                assert_eq!(y.shape(), conv.forward_shape(&[n, c, h, w]), "{case}");
                backward(&y);
                let bias = conv.bias.as_ref().unwrap();
                check(&format!("{case} y"), &y.to_vec(), expected[0]);
                check(
                    &format!("{case} ∂x"),
                    &x.grad().unwrap().to_vec(),
                    expected[1],
                );
                let weight_grad = conv.weight.grad().unwrap().to_vec();
                check(&format!("{case} ∂w"), &weight_grad, expected[2]);
                check(
                    &format!("{case} ∂b"),
                    &bias.grad().unwrap().to_vec(),
                    expected[3],
                );
            }
        });
    }
}

/// (max?, input shape, kernel, stride) and PyTorch's y, ∂x.
type PoolCase = (bool, [usize; 4], usize, usize, [Summary; 2]);

#[rustfmt::skip]
const POOL_CASES: [PoolCase; 4] = [
    (
        true,
        [2, 3, 6, 7],
        2,
        2,
        [
            [3.904733949e+01, 3.904733949e+01, 3.297417642e-01, 5.240443349e-01, 8.956986666e-01, 4.828355312e-01, 9.999893904e-01],
            [-2.169882267e+00, 3.418757471e+01, 2.160443485e+00, 0.000000000e+00, 0.000000000e+00, -7.368555665e-01, 0.000000000e+00],
        ],
    ),
    (
        true,
        [1, 2, 7, 7],
        3,
        2,
        [
            [1.631198353e+01, 1.631198353e+01, 3.954387678e-02, 6.742879152e-01, 9.958808422e-01, 9.554405212e-01, 9.983916879e-01],
            [1.421060216e+01, 1.421060216e+01, 7.883751721e-01, 0.000000000e+00, 0.000000000e+00, 0.000000000e+00, 0.000000000e+00],
        ],
    ),
    (
        false,
        [2, 3, 6, 7],
        2,
        2,
        [
            [4.684250802e-01, 9.199275121e+00, -2.777995290e-02, 2.665640116e-01, 2.132139355e-01, -2.217147499e-01, 2.304083109e-02],
            [-2.169882267e+00, 3.418757471e+01, 2.187992704e-01, 2.103677392e-01, 2.103677392e-01, -1.842138916e-01, 0.000000000e+00],
        ],
    ),
    (
        false,
        [1, 2, 9, 8],
        3,
        2,
        [
            [3.711157898e+00, 4.736123708e+00, -5.465015605e-01, 5.765448138e-02, 2.464674264e-01, 3.054309487e-01, 2.678526342e-01],
            [1.354353598e+01, 1.511057213e+01, 9.607046645e-01, 9.349676967e-02, 9.349676967e-02, 8.135905117e-02, 0.000000000e+00],
        ],
    ),
];

#[test]
fn pooling_forward_and_gradients_match_pytorch() {
    for mode in MODES {
        with_mode(mode, || {
            for (max, shape, k, s, expected) in POOL_CASES {
                let case = format!(
                    "{mode:?} {} {shape:?} k{k} s{s}",
                    ["avg", "max"][max as usize]
                );
                let x = leaf(&shape, 0.37, 0.0, 1.0);
                let y = if max {
                    MaxPool2d::with_stride(k, s).forward(&x)
                } else {
                    AvgPool2d::with_stride(k, s).forward(&x)
                };
                backward(&y);
                check(&format!("{case} y"), &y.to_vec(), expected[0]);
                check(
                    &format!("{case} ∂x"),
                    &x.grad().unwrap().to_vec(),
                    expected[1],
                );
            }
        });
    }
}

/// PyTorch's training y, ∂x, ∂w, ∂b, then running mean and (biased) variance, then the
/// evaluation y and ∂x.
#[rustfmt::skip]
const BATCHNORM: [Summary; 8] = [
    [3.934771353e+01, 8.157270661e+01, 1.995341418e+00, 5.306238309e-03, 5.673649907e-02, -3.902792037e-01, 5.793458968e-02],
    [-1.067222911e-06, 7.788635094e+01, 5.612473392e-01, 9.620246291e-02, 1.043201759e-01, -6.088063121e-01, 9.158382565e-02],
    [3.562249720e+00, 4.387762606e+00, -2.870292180e-01, -4.127564430e-01, 8.441756368e-01, 1.571773648e+00, 1.559056878e+00],
    [1.276957476e+01, 2.658493936e+01, 3.636089849e+00, 1.231814289e+01, -6.375715256e+00, -5.319670439e-01, 7.359114170e+00],
    [5.929029149e-03, 2.372023913e-02, 6.009678682e-03, 1.030802189e-02, -7.526989480e-03, 4.516612244e-03, -1.368615508e-03],
    [3.796903078e+00, 3.796903078e+00, 1.356720436e+00, 9.487808229e-01, 9.491488925e-01, 9.494179400e-01, 9.495554230e-01],
    [3.904257310e+01, 6.410967039e+01, 1.753505207e+00, 1.891546883e-02, 5.579306185e-02, -2.070387006e-01, 8.522587270e-02],
    [-1.004741215e+00, 5.650835512e+01, 3.550232149e-01, 8.581332862e-02, 9.134347737e-02, -4.552273154e-01, 7.599354535e-02],
];

#[test]
fn batchnorm2d_matches_pytorch_in_training_and_eval() {
    for mode in MODES {
        with_mode(mode, || {
            let mut bn = BatchNorm2d::new(4);
            bn.weight = leaf(&[4], 0.9, 0.2, 0.5);
            bn.bias = leaf(&[4], 0.7, 0.1, 0.2);
            let x = leaf(&[3, 4, 5, 5], 0.37, 0.0, 1.0);
            let y = bn.forward(&x);
            backward(&y);
            let grad = |t: &Tensor| t.grad().unwrap().to_vec();
            let [y_train, x_train, w_train, b_train, mean, var, y_eval, x_eval] = BATCHNORM;
            check("train y", &y.to_vec(), y_train);
            check("train ∂x", &grad(&x), x_train);
            check("train ∂w", &grad(&bn.weight), w_train);
            check("train ∂b", &grad(&bn.bias), b_train);
            check("running_mean", &bn.running_mean.to_vec(), mean);
            check("running_var", &bn.running_var.to_vec(), var);
            assert!(!bn.running_mean.requires_grad() && !bn.running_var.requires_grad());
            bn.eval();
            let x = leaf(&[3, 4, 5, 5], 0.37, 0.0, 1.0);
            let y = bn.forward(&x);
            backward(&y);
            check("eval y", &y.to_vec(), y_eval);
            check("eval ∂x", &grad(&x), x_eval);
        });
    }
}

#[test]
fn gradients_agree_with_central_differences() {
    let x = || Tensor::from_vec(wave(2 * 2 * 7 * 6, 0.37, 0.0, 1.0), &[2, 2, 7, 6]);
    manual_seed(0);
    let strided = Conv2d::with_options(2, 3, 3, Conv2dOptions::default().stride(2).padding(1));
    let w = strided.weight.detach();
    let b = strided.bias.as_ref().unwrap().detach();
    gradcheck_both(vec![x(), w, b], |t| {
        let mut conv = Conv2d::with_options(2, 3, 3, Conv2dOptions::default().stride(2).padding(1));
        conv.weight = t[1].clone();
        conv.bias = Some(t[2].clone());
        conv.forward(&t[0])
    });
    let dilated = Conv2d::with_options(2, 2, 2, Conv2dOptions::default().dilation(2).bias(false));
    gradcheck_both(vec![x(), dilated.weight.detach()], |t| {
        let mut conv =
            Conv2d::with_options(2, 2, 2, Conv2dOptions::default().dilation(2).bias(false));
        conv.weight = t[1].clone();
        conv.forward(&t[0])
    });
    gradcheck_both(vec![x()], |t| AvgPool2d::with_stride(3, 2).forward(&t[0]));
    // Distinct values 0.05 apart, so no ±1e-2 probe changes which element is a window's max.
    let spread: Vec<f32> = (0..84).map(|i| ((i * 37) % 84) as f32 * 0.05).collect();
    gradcheck_both(vec![Tensor::from_vec(spread, &[1, 1, 7, 12])], |t| {
        MaxPool2d::with_stride(2, 1).forward(&t[0])
    });
    gradcheck_both(vec![x(), Tensor::from_vec(vec![0.5, 1.5], &[2])], |t| {
        let mut bn = BatchNorm2d::new(2);
        bn.weight = t[1].clone();
        bn.forward(&t[0])
    });
}

/// A small CNN using every layer, for the mode comparison and the `#[module]` checks.
#[module]
struct SmallCnn {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    relu: ReLU,
    pool: MaxPool2d,
    conv2: Conv2d,
    avg: AvgPool2d,
    flatten: Flatten,
    head: Linear,
}

impl SmallCnn {
    fn new() -> SmallCnn {
        SmallCnn {
            conv1: Conv2d::new(2, 4, 3),
            bn1: BatchNorm2d::new(4),
            relu: ReLU::new(),
            pool: MaxPool2d::new(2),
            conv2: Conv2d::with_options(4, 6, 3, Conv2dOptions::default().stride(2).padding(1)),
            avg: AvgPool2d::new(2),
            flatten: Flatten::new(),
            head: Linear::new(6, 3),
        }
    }
}

impl Forward for SmallCnn {
    fn forward(&self, x: &Tensor) -> Tensor {
        let x = self
            .pool
            .forward(&self.relu.forward(&self.bn1.forward(&self.conv1.forward(x))));
        let x = self
            .avg
            .forward(&self.relu.forward(&self.conv2.forward(&x)));
        self.head.forward(&self.flatten.forward(&x))
    }
}

#[test]
fn eager_lazy_and_jit_agree_bit_for_bit() {
    in_both_modes(|| {
        manual_seed(3);
        let model = SmallCnn::new();
        let x = leaf(&[3, 2, 9, 10], 0.37, 0.0, 1.0);
        let y = model.forward(&x);
        backward(&y);
        let mut out = vec![y, x.grad().unwrap()];
        out.extend(model.parameters().iter().map(|p| p.grad().unwrap()));
        out.push(model.bn1.running_mean.clone());
        out.push(model.bn1.running_var.clone());
        model.eval();
        out.push(model.forward(&x));
        out
    });
}

#[test]
fn layers_are_modules() {
    let model = SmallCnn::new();
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let expected = [
        "conv1.weight",
        "conv1.bias",
        "bn1.weight",
        "bn1.bias",
        "conv2.weight",
        "conv2.bias",
        "head.weight",
        "head.bias",
    ];
    assert_eq!(names, expected);
    let buffers: Vec<String> = model.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers, ["bn1.running_mean", "bn1.running_var"]);
    assert_eq!(
        model.conv2.parameters()[0].shape(),
        vec![3, 3, 4, 6],
        "weight in the course layout (k, k, C_in, C_out)"
    );
    model.eval();
    assert!(!model.bn1.is_training() && !model.pool.is_training());
    let summary = model.summary();
    for line in [
        "Conv2d(in_channels=2, out_channels=4, kernel_size=3, stride=1, padding=1, dilation=1)",
        "MaxPool2d(kernel_size=2, stride=2)",
        "AvgPool2d(kernel_size=2, stride=2)",
        "BatchNorm2d(num_features=4, eps=1e-5, momentum=0.1)",
    ] {
        assert!(summary.contains(line), "{line} missing from\n{summary}");
    }
}

/// The course's hw4 test: seed 0, then `kaiming_uniform(16·9, 8·9, shape=(3,3,16,8))` sums to
/// −2.5719218 (FIGURES.md §5.2); Conv2d draws its weight first, with that shape and fan-in.
#[test]
fn conv2d_weight_init_is_the_courses() {
    manual_seed(0);
    let conv = Conv2d::new(16, 8, 3);
    let sum: f64 = conv.weight.to_vec().iter().map(|&v| v as f64).sum();
    assert!((sum - -2.5719218).abs() < 1e-4, "weight sum {sum}");
    let bound = 1.0 / (16.0f32 * 9.0).sqrt();
    let bias = conv.bias.as_ref().unwrap().to_vec();
    assert!(bias.iter().all(|b| b.abs() <= bound), "bias {bias:?}");
}

/// The course's `ConvBN(a, b, k, s)`: Conv(a, b, k, stride s, padding k/2)–BatchNorm2d–ReLU.
fn conv_bn(a: usize, b: usize, k: usize, s: usize) -> Sequential {
    let options = Conv2dOptions::default().stride(s).padding(k / 2);
    Sequential::new()
        .push(Conv2d::with_options(a, b, k, options))
        .push(BatchNorm2d::new(b))
        .push(ReLU::new())
}

/// The course's expected ResNet9 output.
#[rustfmt::skip]
const RESNET9_OUTPUT: [[f64; 10]; 2] = [
    [-1.8912625, 0.64833605, 1.9400386, 1.1435282, 1.89777, 2.9039745, -0.10433993, 0.35458302, -0.5684191, 2.6178317],
    [-0.2905612, -0.4147861, 0.90268034, 0.46530387, 1.3335679, 1.8534894, -0.1867125, -2.4298222, -0.5344223, 4.362149],
];

/// The course's hw4 ResNet9 figure (FIGURES.md §5.2): seed 0, the model, then x = randn(2, 3,
/// 32, 32); 431,946 parameters and the training-mode output within 1e-2 in norm. It checks
/// the init draw order (each Conv's weight, then its bias, Linear's likewise), Conv2d's
/// padding and stride, and BatchNorm2d's batch statistics together.
#[test]
fn resnet9_reproduces_the_courses_figure() {
    for mode in MODES {
        with_mode(mode, || {
            manual_seed(0);
            let model = Sequential::new()
                .push(conv_bn(3, 16, 7, 4))
                .push(conv_bn(16, 32, 3, 2))
                .push(Residual::new(
                    conv_bn(32, 32, 3, 1).push(conv_bn(32, 32, 3, 1)),
                ))
                .push(conv_bn(32, 64, 3, 2))
                .push(conv_bn(64, 128, 3, 2))
                .push(Residual::new(
                    conv_bn(128, 128, 3, 1).push(conv_bn(128, 128, 3, 1)),
                ))
                .push(Flatten::new())
                .push(Linear::new(128, 128))
                .push(ReLU::new())
                .push(Linear::new(128, 10));
            assert_eq!(model.num_parameters(), 431_946);
            let y = model.forward(&Tensor::randn(&[2, 3, 32, 32])).to_vec();
            let distance: f64 = y
                .iter()
                .zip(RESNET9_OUTPUT.iter().flatten())
                .map(|(&a, &e)| (a as f64 - e).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                distance < 1e-2,
                "{mode:?}: ‖y − expected‖ = {distance}, y = {y:?}"
            );
        });
    }
}

#[test]
#[should_panic(
    expected = "Conv2d(in_channels=3, out_channels=4, kernel_size=3, stride=1, \
                           padding=1, dilation=1): input [2, 5, 8, 8] has 5 channels on axis 1, \
                           expected 3"
)]
fn conv2d_names_a_wrong_channel_count() {
    Conv2d::new(3, 4, 3).forward(&Tensor::zeros(&[2, 5, 8, 8]));
}

#[test]
#[should_panic(expected = "input must have 4 axes (N, C, H, W), got shape [3, 8, 8]")]
fn conv2d_names_a_missing_batch_axis() {
    Conv2d::new(3, 4, 3).forward(&Tensor::zeros(&[3, 8, 8]));
}

#[test]
#[should_panic(
    expected = "MaxPool2d(kernel_size=3, stride=3): input [1, 2, 2, 5] is too small \
                           for a window spanning 3 (kernel 3, dilation 1) with padding 0"
)]
fn pooling_names_an_input_smaller_than_its_window() {
    MaxPool2d::new(3).forward(&Tensor::zeros(&[1, 2, 2, 5]));
}

#[test]
#[should_panic(
    expected = "BatchNorm2d(num_features=4, eps=1e-5, momentum=0.1): input must be \
                           (N, 4, H, W), got shape [2, 3, 5, 5]"
)]
fn batchnorm2d_names_a_wrong_channel_count() {
    BatchNorm2d::new(4).forward(&Tensor::zeros(&[2, 3, 5, 5]));
}
