//! The course's figures for init, layers and models (FIGURES.md §3.2, §3.3, §3.5), in eager
//! and lazy mode, plus the behaviour of batch norm and dropout.

#![allow(clippy::excessive_precision)] // the course's figures, digit for digit

mod common;

use common::{assert_close, get_int_tensor, get_tensor};
use needle::init::{self, Nonlinearity};
use needle::nn::{
    mlp_resnet, residual_block, BatchNorm1d, Dropout, Flatten, Forward, LayerNorm1d, Linear,
    Module, Norm, ReLU, Sequential, SoftmaxLoss,
};
use needle::{manual_seed, with_mode, Tensor};

fn each_mode(f: impl Fn()) {
    for mode in common::MODES {
        with_mode(mode, &f);
    }
}

#[test]
fn init_figures() {
    each_mode(|| {
        manual_seed(42);
        let expected = [
            -0.35485414,
            1.2748126,
            0.65617794,
            0.27904832,
            -0.9729262,
            -0.97299445,
            -1.2499284,
            1.0357026,
            0.28599644,
            0.58851814,
            -1.3559918,
            1.3291057,
            0.9402898,
            -0.81362784,
            -0.8999349,
        ];
        assert_close(
            &init::kaiming_uniform(3, 5, Nonlinearity::Relu).to_vec(),
            &expected,
            1e-4,
            1e-4,
        );
        manual_seed(42);
        let expected = [
            0.4055654,
            -0.11289233,
            0.5288355,
            1.2435486,
            -0.19118543,
            -0.19117202,
            1.2894219,
            0.62660784,
            -0.38332424,
            0.4429984,
            -0.37837896,
            -0.38026676,
            0.19756137,
            -1.5621868,
            -1.4083896,
        ];
        assert_close(
            &init::kaiming_normal(3, 5, Nonlinearity::Relu).to_vec(),
            &expected,
            1e-4,
            1e-4,
        );
        manual_seed(42);
        let expected = [
            -0.32595432,
            1.1709901,
            0.60273796,
            0.25632226,
            -0.8936898,
            -0.89375246,
            -1.1481324,
            0.95135355,
            0.26270452,
            0.54058844,
            -1.245558,
            1.2208616,
            0.8637113,
            -0.74736494,
            -0.826643,
        ];
        assert_close(
            &init::xavier_uniform(3, 5, 1.5).to_vec(),
            &expected,
            1e-4,
            1e-4,
        );
        manual_seed(42);
        let expected = [
            0.08195783,
            -0.022813609,
            0.10686861,
            0.25129992,
            -0.038635306,
            -0.038632598,
            0.2605701,
            0.12662673,
            -0.07746328,
            0.08952241,
            -0.07646392,
            -0.07684541,
            0.039923776,
            -0.31569123,
            -0.28461143,
        ];
        assert_close(
            &init::xavier_normal(3, 5, 0.33).to_vec(),
            &expected,
            1e-4,
            1e-4,
        );
    });
}

#[test]
fn linear_init_draws_weight_then_bias() {
    each_mode(|| {
        manual_seed(1337);
        let f = Linear::new(7, 4);
        let expected = [
            -0.44064468,
            -0.63199449,
            -0.41082984,
            -0.075330488,
            -0.33144259,
            0.034056887,
            -0.44079605,
            0.88153863,
            0.43108878,
            -0.71237373,
            -0.21057765,
            0.23793796,
            -0.6942578,
            0.89535803,
            -0.10512712,
            0.53615785,
            0.5446018,
            -0.25689366,
            -0.15534532,
            0.15601574,
            0.48174453,
            -0.57806653,
            -0.39223823,
            0.31518409,
            -0.00065129338,
            -0.59517515,
            -0.16083106,
            -0.55698222,
        ];
        assert_close(&f.weight.to_vec(), &expected, 1e-5, 1e-5);
        let bias = f.bias.as_ref().unwrap();
        assert_eq!(bias.shape(), vec![1, 4]);
        assert_close(
            &bias.to_vec(),
            &[0.077647, 0.814139, -0.770975, 1.120297],
            1e-5,
            1e-5,
        );
    });
}

fn linear_case(shape: &[usize]) -> (Vec<f32>, Vec<f32>) {
    manual_seed(199);
    let mut f = Linear::new(10, 5);
    f.bias = Some(get_tensor(&[5], 1).requires_grad_(true));
    let x = get_tensor(shape, 1).requires_grad_(true);
    let y = f.forward(&x);
    y.square().sum_all().backward();
    (y.to_vec(), x.grad().unwrap().to_vec())
}

#[test]
fn linear_forward_and_backward() {
    each_mode(|| {
        let (y, g) = linear_case(&[1, 10]);
        assert_close(
            &y,
            &[3.849948, 9.50499, 2.38029, 5.572587, 5.668391],
            1e-5,
            1e-5,
        );
        let eg = [
            20.61148, 6.920893, -1.625556, -13.497676, -6.672813, 18.762121, 7.286628, 8.18535,
            2.741301, 5.723689,
        ];
        assert_close(&g, &eg, 1e-5, 1e-5);
        let (y, g) = linear_case(&[3, 10]);
        let ey = [
            7.763089, 10.086785, 0.380316, 6.242502, 6.944664, 2.548275, 7.747925, 5.343155,
            2.065694, 9.871243, 2.871696, 7.466332, 4.236925, 2.461897, 8.209476,
        ];
        assert_close(&y, &ey, 1e-5, 1e-5);
        assert_close(
            &g[..5],
            &[24.5488, 8.775347, 4.387898, -21.248514, -3.9669373],
            1e-5,
            1e-5,
        );
        let (y, g) = linear_case(&[1, 3, 10]);
        let ey = [
            4.351459, 8.782808, 3.935711, 3.03171, 8.014219, 5.214458, 8.728788, 2.376814,
            5.672185, 4.974319, 1.343204, 8.639378, 2.604359, -0.282955, 9.864498,
        ];
        assert_close(&y, &ey, 1e-5, 1e-5);
        assert_close(
            &g[..4],
            &[16.318823, 0.3890714, -2.3196607, -10.607947],
            1e-5,
            1e-5,
        );
    });
}

#[test]
fn relu_and_sequential() {
    each_mode(|| {
        assert_close(
            &ReLU::new().forward(&get_tensor(&[2, 2], 1)).to_vec(),
            &[3.35, 4.2, 0.25, 4.5],
            1e-5,
            1e-5,
        );
        let x = get_tensor(&[3, 2], 1).requires_grad_(true);
        ReLU::new().forward(&x).square().sum_all().backward();
        assert_close(
            &x.grad().unwrap().to_vec(),
            &[7.5, 2.7, 0.6, 0.2, 0.3, 6.7],
            1e-5,
            1e-5,
        );

        manual_seed(42);
        let f = Sequential::new()
            .push(Linear::new(5, 8))
            .push(ReLU::new())
            .push(Linear::new(8, 5));
        let x = get_tensor(&[3, 5], 1).requires_grad_(true);
        let y = f.forward(&x);
        let ey = [
            3.296263, 0.057031, 2.97568, -4.618432, -0.902491, 2.465332, -0.228394, 2.069803,
            -3.772378, -0.238334, 3.04427, -0.25623, 3.848721, -6.586399, -0.576819,
        ];
        assert_close(&y.to_vec(), &ey, 1e-5, 1e-5);
        y.sum_all().backward();
        let eg = [
            0.802697, -1.0971, 0.120842, 0.033051, 0.241105, -0.364489, 0.651385, 0.482428,
            0.925252, -1.233545, 0.802697, -1.0971, 0.120842, 0.033051, 0.241105,
        ];
        assert_close(&x.grad().unwrap().to_vec(), &eg, 1e-5, 1e-5);
    });
}

#[test]
fn softmax_loss_figures() {
    each_mode(|| {
        let x = get_tensor(&[5, 10], 1).requires_grad_(true);
        let y = get_int_tensor(&[5], 0, 10, 1);
        let loss = SoftmaxLoss::new().forward(&x, &y);
        assert_close(&[loss.item()], &[4.041218], 1e-5, 1e-5);
        loss.backward();
        let g = x.grad().unwrap().to_vec();
        assert_close(
            &g[..4],
            &[0.00068890385, 0.0015331834, 0.013162163, -0.16422154],
            1e-5,
            1e-5,
        );
        let x = get_tensor(&[3, 11], 1);
        let y = get_int_tensor(&[3], 0, 11, 1);
        assert_close(
            &[SoftmaxLoss::new().forward(&x, &y).item()],
            &[3.3196716],
            1e-5,
            1e-5,
        );
    });
}

#[test]
fn layernorm_figures() {
    each_mode(|| {
        let run = |shape: &[usize]| {
            let x = get_tensor(shape, 1).requires_grad_(true);
            let y = LayerNorm1d::new(shape[1]).forward(&x);
            y.powf(4.0).sum_all().backward();
            (y.to_vec(), x.grad().unwrap().to_vec())
        };
        let (y, g) = run(&[3, 3]);
        let ey = [
            -0.06525002,
            -1.1908097,
            1.2560595,
            1.3919864,
            -0.47999576,
            -0.911992,
            1.3628436,
            -1.0085043,
            -0.3543393,
        ];
        assert_close(&y, &ey, 1e-5, 1e-5);
        // This gradient is ~1e-3 left over from terms ~10 (4y³ through the normalisation), so its
        // last digits depend on the f32 operation order: with sums in numpy's order it meets
        // the course's tolerance (with f64-accumulated sums it missed by 1.3e-5).
        let eg = [
            -2.8312206e-06,
            -6.6757202e-05,
            6.9618225e-05,
            0.0019950867,
            -0.00068092346,
            -0.0013141632,
            4.4703484e-05,
            -3.2544136e-05,
            -1.180172e-05,
        ];
        assert_close(&g, &eg, 1e-5, 1e-5);
        let (y, g) = run(&[2, 10]);
        let ey = [
            0.8297899,
            1.6147263,
            -1.525019,
            -0.4036814,
            0.306499,
            0.08223152,
            0.6429003,
            -1.3381294,
            0.8671678,
            -1.0764838,
            -1.8211555,
            0.39098236,
            -0.5864739,
            0.853988,
            -0.3806936,
            1.2655486,
            0.33953735,
            1.522774,
            -0.8951442,
            -0.68936396,
        ];
        assert_close(&y, &ey, 1e-5, 1e-5);
        let eg = [
            -2.301574, 4.353944, -1.9396116, 2.4330146, -1.1070801, 0.01571643, -2.209449,
            0.49513134, -2.261348, 2.5212562, -9.042961, -2.6184766, 4.5592957, -4.2109876,
            3.4247458, -1.9075732, -2.2689414, 2.110825, 5.044025, 4.910048,
        ];
        assert_close(&g, &eg, 1e-5, 1e-5);
        let (y, g) = run(&[1, 5]);
        assert_close(
            &y,
            &[-1.0435007, -0.8478443, 0.7500162, -0.42392215, 1.565251],
            1e-5,
            1e-5,
        );
        assert_close(
            &g,
            &[0.150192, 0.702322, -3.321343, 0.31219, 2.156639],
            1e-5,
            1e-5,
        );
        let (_, g) = run(&[5, 1]);
        assert_close(&g, &[0.0; 5], 1e-5, 1e-5);
    });
}

#[test]
fn flatten_figures() {
    each_mode(|| {
        let x = get_tensor(&[3, 3], 1).requires_grad_(true);
        let y = Flatten::new().forward(&x);
        assert_close(
            &y.to_vec(),
            &[2.1, 0.95, 3.45, 3.1, 2.45, 2.3, 3.3, 0.4, 1.2],
            1e-5,
            1e-5,
        );
        y.square().sum_all().backward();
        assert_close(
            &x.grad().unwrap().to_vec(),
            &[4.2, 1.9, 6.9, 6.2, 4.9, 4.6, 6.6, 0.8, 2.4],
            1e-5,
            1e-5,
        );
        let x = get_tensor(&[1, 2, 3, 4], 1);
        let y = Flatten::new().forward(&x);
        assert_eq!(y.shape(), vec![1, 24]);
        assert_close(&y.to_vec()[..4], &[4.2, 4.5, 1.9, 4.85], 1e-5, 1e-5);
    });
}

/// A module holding layers in a map-like struct and a list, like the course's test module `M`.
#[needle::module]
struct Holder {
    layer1: Linear,
    layer2_dropout: Dropout,
    layer2_seq: Sequential,
}

impl Forward for Holder {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.layer2_seq
            .forward(&self.layer2_dropout.forward(&self.layer1.forward(x)))
    }
}

#[test]
fn training_flag_reaches_every_nested_module() {
    let inner = Sequential::new()
        .push(LayerNorm1d::new(4))
        .push(Linear::new(4, 4))
        .push(Dropout::new(0.1));
    let holder = Holder {
        layer1: Linear::new(4, 4),
        layer2_dropout: Dropout::new(0.1),
        layer2_seq: Sequential::new().push(Linear::new(4, 4)),
    };
    let model = Sequential::new()
        .push(BatchNorm1d::new(4))
        .push(inner)
        .push(Linear::new(4, 4))
        .push(holder);
    let flags = |m: &Sequential| -> Vec<u8> {
        let mut out = Vec::new();
        fn walk(m: &dyn Module, out: &mut Vec<u8>) {
            out.push(u8::from(!m.is_training()));
            m.visit_modules(&mut |_, c| walk(c, out));
        }
        walk(m, &mut out);
        out
    };
    assert_eq!(flags(&model), vec![0; 12]);
    model.eval();
    assert_eq!(flags(&model), vec![1; 12]);
    model.train();
    assert_eq!(flags(&model), vec![0; 12]);
}

#[test]
fn parameter_counts_of_the_course_models() {
    assert_eq!(
        residual_block(15, 2, Norm::BatchNorm, 0.1).num_parameters(),
        111
    );
    assert_eq!(
        residual_block(784, 100, Norm::LayerNorm, 0.1).num_parameters(),
        159_452
    );
    assert_eq!(
        mlp_resnet(150, 100, 5, 10, Norm::LayerNorm, 0.1).num_parameters(),
        68_360
    );
    assert_eq!(
        mlp_resnet(10, 100, 1, 100, Norm::BatchNorm, 0.1).num_parameters(),
        21_650
    );
    let net = mlp_resnet(784, 100, 3, 10, Norm::BatchNorm, 0.1);
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        &names[..6],
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.2.layers.0.inner.layers.0.weight",
            "layers.2.layers.0.inner.layers.0.bias",
            "layers.2.layers.0.inner.layers.1.weight",
            "layers.2.layers.0.inner.layers.1.bias"
        ]
    );
    let buffers: Vec<String> = net.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers[0], "layers.2.layers.0.inner.layers.1.running_mean");
    assert_eq!(buffers.len(), 12);
}

#[test]
fn batchnorm_uses_batch_statistics_in_training_and_running_ones_in_eval() {
    each_mode(|| {
        let bn = BatchNorm1d::new(3);
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 3.0, 6.0, 9.0], &[2, 3]);
        let y = bn.forward(&x);
        // Biased variance: column 0 has mean 2 and variance 1.
        assert_close(&y.to_vec()[..1], &[-0.999995], 1e-5, 1e-5);
        assert_close(&bn.running_mean.to_vec(), &[0.2, 0.4, 0.6], 1e-6, 1e-6);
        assert_close(&bn.running_var.to_vec(), &[1.0, 1.3, 1.8], 1e-6, 1e-6);
        bn.eval();
        let y = bn.forward(&x);
        assert_close(
            &y.to_vec()[..1],
            &[(1.0 - 0.2) / (1.0f64 + 1e-5).sqrt()],
            1e-5,
            1e-5,
        );
        assert!(!bn.running_mean.requires_grad());
    });
}

#[test]
fn dropout_scales_kept_units_and_is_identity_in_eval() {
    each_mode(|| {
        manual_seed(0);
        let d = Dropout::new(0.5);
        let y = d.forward(&Tensor::ones(&[10])).to_vec();
        // seed 0 draws 0.5488, 0.7152, 0.6028, 0.5449, 0.4237, …: keep where ≤ 0.5.
        assert_eq!(y, vec![0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 2.0, 0.0, 0.0, 2.0]);
        d.eval();
        assert_eq!(d.forward(&Tensor::ones(&[3])).to_vec(), vec![1.0; 3]);
    });
}

#[test]
fn summary_reads_like_pytorch() {
    let net = Sequential::new().push(Linear::new(4, 8)).push(ReLU::new());
    assert_eq!(
        net.summary(),
        "Sequential(\n  (layers.0): Linear(in_features=4, out_features=8)\n  (layers.1): ReLU()\n)"
    );
}

/// Dropout keeps an element where the draw is ≤ 1 − p with 1 − p formed in double, as the
/// course's `randb(p = 1 - self.p)`: numpy's `RandomState(5).random_sample()` draw number
/// 4,047,113 is 0.89999997733…, above 1 − 0.1f32 = 0.89999997615… (the threshold when 1 − p
/// was formed in f32) but not above 0.9, so that element is kept.
#[test]
fn dropout_keeps_a_draw_between_the_f32_and_the_double_threshold() {
    let i = 4_047_113;
    for mode in common::MODES {
        with_mode(mode, || {
            needle::manual_seed(5);
            let dropout = Dropout::new(0.1);
            let out = dropout.forward(&Tensor::ones(&[i + 1]));
            let kept = out.slice(0, i, i + 1, 1).to_vec();
            assert_eq!(kept, vec![1.0 / 0.9f32], "{mode:?}");
        });
    }
}
