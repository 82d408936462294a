//! How the JIT compiles convolutional networks, with eager mode's bits throughout: Conv2d is
//! one GEMM whose epilogue takes the bias and, in eval mode, BatchNorm2d and ReLU; MaxPool2d
//! runs without an interpreter step; and elementwise values that read a product through a
//! permuted view (a convolution's NCHW view of its channel-major product) are computed in
//! the product's order and stored so.

use needle::jit::{last_program, reset_stats, set_tiered, stats, StepKind};
use needle::nn::{
    BatchNorm2d, Conv2d, Conv2dOptions, Forward, MaxPool2d, Module, ReLU, Sequential,
};
use needle::{manual_seed, no_grad, with_mode, Mode, Tensor};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `f` in eager mode and in the JIT (compiled before its first run: no tiering).
fn eager_and_jit<T>(f: impl Fn() -> T) -> (T, T) {
    let eager = with_mode(Mode::Eager, &f);
    set_tiered(false);
    let jit = with_mode(Mode::Jit, &f);
    set_tiered(true);
    (eager, jit)
}

fn conv_bn_relu() -> Sequential {
    let options = Conv2dOptions::default().stride(2).padding(1);
    Sequential::new()
        .push(Conv2d::with_options(3, 8, 3, options))
        .push(BatchNorm2d::new(8))
        .push(ReLU::new())
}

#[test]
fn eval_batch_norm_and_relu_run_as_the_convolutions_epilogue() {
    let (eager, jit) = eager_and_jit(|| {
        manual_seed(0);
        let model = conv_bn_relu();
        // A training pass first, so that the running statistics are not the initial ones.
        model.forward(&Tensor::randn(&[4, 3, 9, 9])).realize();
        model.eval();
        let y = no_grad(|| model.forward(&Tensor::randn(&[2, 3, 9, 9]))).to_vec();
        (y, last_program().map(|p| p.plan))
    });
    assert_eq!(bits(&jit.0), bits(&eager.0));
    let plan = jit.1.expect("the JIT ran a program");
    let epilogues: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::MatMul {
                epilogue: Some(e), ..
            } => Some(e.ops()),
            _ => None,
        })
        .collect();
    assert!(
        epilogues
            .iter()
            .any(|ops| ops.contains("relu") && !ops.contains("sqrt")),
        "the product's epilogue takes bias, BatchNorm and ReLU: {epilogues:?}"
    );
    let elementwise = plan
        .steps
        .iter()
        .filter(|s| matches!(&s.kind, StepKind::Elementwise(k) if k.shape.iter().product::<usize>() > 8))
        .count();
    assert_eq!(
        elementwise, 0,
        "no pass over the output besides the product's"
    );
}

#[test]
fn max_pooling_runs_without_an_interpreter_step_and_keeps_eager_bits() {
    let run = || {
        // Integers in [-2, 2]: ties within windows, whose gradient is shared.
        let values = (0..2 * 3 * 6 * 7)
            .map(|i| ((i * 7) % 5) as f32 - 2.0)
            .collect();
        let x = Tensor::from_vec(values, &[2, 3, 6, 7]).requires_grad_(true);
        let y = MaxPool2d::with_stride(3, 2).forward(&x);
        (&y * &y).sum(&[0, 1, 2, 3], false).backward();
        (y.to_vec(), x.grad().expect("x gets a gradient").to_vec())
    };
    let (eager, jit) = eager_and_jit(|| {
        reset_stats();
        let values = run();
        (values, stats())
    });
    assert_eq!(bits(&jit.0 .0), bits(&eager.0 .0), "forward");
    assert_eq!(bits(&jit.0 .1), bits(&eager.0 .1), "gradient");
    assert_eq!(jit.1.fallback_nodes, 0, "{:?}", jit.1);
    assert!(jit.1.windows_run >= 2, "im2col and col2im: {:?}", jit.1);
}

#[test]
fn values_read_through_a_permuted_product_keep_their_bits() {
    let (eager, jit) = eager_and_jit(|| {
        manual_seed(2);
        let a = Tensor::randn(&[6, 5]);
        let b = Tensor::randn(&[5, 12]);
        let c = Tensor::randn(&[12, 6]);
        let p = a.matmul(&b);
        // The product's transpose plus a compact input: walks the product's (6, 12) order.
        let t = (&p.transpose(0, 1) + &c).exp();
        // A permuted 3-D view of it, with an input that cannot merge the product's axes:
        // computed over three axes in the product's order.
        let v = p.reshape(&[6, 3, 4]).permute(&[1, 2, 0]);
        let d = Tensor::randn(&[4, 3, 6]).permute(&[1, 0, 2]);
        let u = &v * &d;
        // Consumers read both through their layouts: a sum, a product, a reshape.
        let s = u.sum(&[0], false);
        let m = t.matmul(&a);
        let r = u.reshape(&[12, 6]);
        Tensor::realize_all(&[&t, &u, &s, &m, &r]);
        [t.to_vec(), u.to_vec(), s.to_vec(), m.to_vec(), r.to_vec()]
    });
    for (k, (e, j)) in eager.iter().zip(&jit).enumerate() {
        assert_eq!(bits(j), bits(e), "value {k}");
    }
}

#[test]
fn a_one_by_one_convolution_reads_its_input_without_im2col() {
    // N = 1 (the columns are a view of x) and N = 3 with C_in = 2 (one plain copy).
    for n in [1, 3] {
        let run = || {
            manual_seed(3);
            let conv = Conv2d::with_options(2, 4, 1, Conv2dOptions::default());
            let x = Tensor::randn(&[n, 2, 5, 6]).requires_grad_(true);
            reset_stats();
            let y = conv.forward(&x);
            (&y * &y).sum(&[0, 1, 2, 3], false).backward();
            let values = (
                y.to_vec(),
                x.grad().expect("x's gradient").to_vec(),
                conv.weight.to_vec(),
                conv.bias.as_ref().expect("a bias").to_vec(),
            );
            (values, stats())
        };
        let (eager, jit) = eager_and_jit(run);
        assert_eq!(bits(&jit.0 .0), bits(&eager.0 .0), "n = {n}: forward");
        assert_eq!(
            bits(&jit.0 .1),
            bits(&eager.0 .1),
            "n = {n}: input gradient"
        );
        assert_eq!(jit.1.windows_run, 0, "n = {n}: no im2col: {:?}", jit.1);
        // y[n, o, h, w] = Σ_c W[0, 0, c, o]·x[n, c, h, w] + b[o], in f64.
        let (y, (weight, bias)) = (&eager.0 .0, (&eager.0 .2, &eager.0 .3));
        let x = with_mode(Mode::Eager, || {
            manual_seed(3);
            let _ = Conv2d::with_options(2, 4, 1, Conv2dOptions::default());
            Tensor::randn(&[n, 2, 5, 6]).to_vec()
        });
        for img in 0..n {
            for o in 0..4 {
                for p in 0..30 {
                    let expected = bias[o] as f64
                        + (0..2)
                            .map(|c| weight[c * 4 + o] as f64 * x[(img * 2 + c) * 30 + p] as f64)
                            .sum::<f64>();
                    let got = y[(img * 4 + o) * 30 + p] as f64;
                    assert!((got - expected).abs() < 1e-5, "n = {n}: y[{img}, {o}, {p}]");
                }
            }
        }
    }
}

#[test]
fn a_product_read_by_a_later_product_keeps_eagers_operand_layout() {
    // t reads the product p through a transpose; a later product reads t. Stored in p's
    // order, t would reach that GEMM with other strides than eager's compact t, and the gemm
    // crate's kernels differ in the sign of zero results (t is all zeros of both signs).
    let (eager, jit) = eager_and_jit(|| {
        manual_seed(4);
        let p = Tensor::randn(&[1, 3]).matmul(&Tensor::randn(&[3, 4]));
        let t = &p.transpose(0, 1) * 0.0;
        let q = Tensor::randn(&[3, 1]).transpose(0, 1);
        let wide = Tensor::randn(&[6, 3]).matmul(&Tensor::randn(&[3, 8]));
        // And a wider case through a reshape, as a convolution's gradient reaches its
        // weight's product.
        let u = (&wide.transpose(0, 1) * 2.0).reshape(&[4, 12]);
        let v = Tensor::randn(&[12, 5]);
        // Read by a product directly through the transpose: eager's operand is compact.
        let z = &wide.transpose(0, 1) * 0.0;
        let y = z.matmul(&Tensor::randn(&[5, 6]).transpose(0, 1));
        let out = t.matmul(&q);
        let w = u.matmul(&v);
        Tensor::realize_all(&[&out, &w, &y]);
        [out.to_vec(), w.to_vec(), y.to_vec()]
    });
    for (k, (e, j)) in eager.iter().zip(&jit).enumerate() {
        assert_eq!(bits(j), bits(e), "product {k}");
    }
}
