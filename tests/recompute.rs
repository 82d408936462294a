//! Values the JIT recomputes in each step that reads them instead of storing them: short
//! chains of cheap ops over at most one full-size value (BatchNorm's `x − mean`, its
//! normalized output, the gradient scaled by γ). Same bits as eager mode, fewer passes; a
//! value that reads two full-size values, or calls a math function, is still stored once.

use needle::jit::{last_program, set_tiered, Placement, Plan};
use needle::nn::{BatchNorm2d, Conv2d, Conv2dOptions, Forward, Module, ReLU, Sequential};
use needle::{manual_seed, with_mode, Mode, Tensor};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `f` in eager mode and in the JIT (compiled before its first run), asserting the same bits;
/// returns the JIT's plan.
#[track_caller]
fn same_bits(f: impl Fn() -> Vec<f32>) -> Plan {
    let eager = with_mode(Mode::Eager, &f);
    set_tiered(false);
    let jit = with_mode(Mode::Jit, &f);
    let plan = last_program().expect("the JIT ran a program").plan;
    set_tiered(true);
    assert_eq!(bits(&jit), bits(&eager), "JIT vs eager");
    plan
}

/// The elementwise values of `shape` the plan stores, as `op@origin` (a value computed
/// inside the steps that read it is not stored).
fn stored_elementwise(plan: &Plan, shape: &[usize]) -> Vec<String> {
    plan.nodes
        .iter()
        .filter(|n| n.shape == shape && matches!(n.placement, Placement::Stored(_)))
        .filter(|n| {
            ![
                "input", "matmul", "im2col", "col2im", "sum", "max", "reshape",
            ]
            .iter()
            .any(|op| n.op.starts_with(op))
        })
        .map(|n| format!("{}@{}", n.op, n.origin))
        .collect()
}

/// A 3×3 convolution of 3 channels into `channels` (padding 1), BatchNorm2d and ReLU.
fn conv_bn_relu(channels: usize) -> Sequential {
    Sequential::new()
        .push(Conv2d::with_options(
            3,
            channels,
            3,
            Conv2dOptions::default().padding(1),
        ))
        .push(BatchNorm2d::new(channels))
        .push(ReLU::new())
}

#[test]
fn a_cheap_chain_over_one_value_is_recomputed_by_each_reader() {
    let plan = same_bits(|| {
        manual_seed(1);
        let x = Tensor::randn(&[64, 300]);
        let scale = Tensor::randn(&[1, 300]).broadcast_to(&[64, 300]);
        // Read by two sums and a loop: recomputed by each.
        let y = (&x * &scale) * 2.0 + 1.0;
        let a = y.sum(&[0], false);
        let b = (&y * &y).sum(&[1], false);
        let c = y.relu();
        Tensor::realize_all(&[&a, &b, &c]);
        [a.to_vec(), b.to_vec(), c.to_vec()].concat()
    });
    let stored = stored_elementwise(&plan, &[64, 300]);
    assert_eq!(stored.len(), 1, "only relu's output is stored: {stored:?}");
    assert!(stored[0].starts_with("relu"), "{stored:?}");
}

#[test]
fn two_full_size_reads_or_a_math_function_keep_the_value_stored() {
    for (what, expensive) in [("two inputs", false), ("exp", true)] {
        let plan = same_bits(|| {
            manual_seed(2);
            let x = Tensor::randn(&[64, 300]);
            let z = Tensor::randn(&[64, 300]);
            let y = if expensive { x.exp() } else { &x * &z };
            let a = y.sum(&[0], false);
            let b = y.sum(&[1], false);
            Tensor::realize_all(&[&a, &b]);
            [a.to_vec(), b.to_vec()].concat()
        });
        let stored = stored_elementwise(&plan, &[64, 300]);
        assert_eq!(stored.len(), 1, "{what}: stored once: {stored:?}");
    }
}

#[test]
fn a_batch_norm_training_step_stores_only_what_its_passes_cannot_recompute() {
    let shape = [8, 6, 10, 10];
    let plan = same_bits(|| {
        manual_seed(3);
        let model = conv_bn_relu(6);
        let x = Tensor::randn(&[8, 3, 10, 10]);
        let y = model.forward(&x);
        (&y * &y).sum(&[0, 1, 2, 3], false).backward();
        let params = model.parameters();
        let grads: Vec<Tensor> = params
            .iter()
            .map(|p| p.grad().expect("a gradient"))
            .collect();
        Tensor::realize_all(&grads.iter().chain([&y]).collect::<Vec<_>>());
        grads.iter().chain([&y]).flat_map(|g| g.to_vec()).collect()
    });
    // Stored at full size: ReLU's output (asked for), the gradient through ReLU's mask
    // (read with the BatchNorm input by several sums: two full-size values), and the
    // input's gradient (the weight gradient's product reads it). `x − mean`, the normalized
    // value, BatchNorm's output and the gradient scaled by γ and 1/σ are recomputed.
    let stored: Vec<String> = stored_elementwise(&plan, &shape)
        .iter()
        .map(|s| s[..s.find('@').expect("op@origin")].to_string())
        .collect();
    assert_eq!(stored, ["relu", "mask", "add"], "(was 8 values)");
}

#[test]
fn a_cheap_chain_read_through_views_is_computed_in_each_readers_loop() {
    // Slices with a step (pooling's taps), a flip, a permutation and a reshape of one value.
    let plan = same_bits(|| {
        manual_seed(4);
        let x = Tensor::randn(&[4, 6, 8, 10]);
        let shift = Tensor::randn(&[1, 6, 1, 1]).broadcast_to(&[4, 6, 8, 10]);
        let y = ((&x - &shift) * 0.5).relu();
        let taps =
            &y.slice(2, 0, 8, 2).slice(3, 0, 10, 2) + &y.slice(2, 1, 8, 2).slice(3, 1, 10, 2);
        let flipped = &y.flip(&[3]) * 2.0;
        let permuted = y.permute(&[0, 2, 3, 1]).sum(&[3], false);
        let reshaped = y.reshape(&[4, 6, 8, 5, 2]).sum(&[4], false);
        Tensor::realize_all(&[&taps, &flipped, &permuted, &reshaped]);
        [
            taps.to_vec(),
            flipped.to_vec(),
            permuted.to_vec(),
            reshaped.to_vec(),
        ]
        .concat()
    });
    let stored: Vec<String> = stored_elementwise(&plan, &[4, 6, 8, 10]);
    assert_eq!(stored.len(), 1, "only the flipped product: {stored:?}");
    assert!(stored[0].starts_with("mul_scalar"), "{stored:?}");
    // A reshape that merges axes is not a strided map of the value's index: stored once.
    let plan = same_bits(|| {
        manual_seed(4);
        let y = (Tensor::randn(&[4, 6, 8, 10]) * 0.5).relu();
        let a = y.reshape(&[24, 80]).sum(&[1], false);
        let b = y.slice(3, 0, 10, 2) * 2.0;
        Tensor::realize_all(&[&a, &b]);
        [a.to_vec(), b.to_vec()].concat()
    });
    let stored: Vec<String> = stored_elementwise(&plan, &[4, 6, 8, 10]);
    assert_eq!(stored.len(), 1, "{stored:?}");
}

#[test]
fn average_pooling_computes_batch_norm_and_relu_in_its_loop() {
    use needle::nn::AvgPool2d;
    use needle::no_grad;
    let plan = same_bits(|| {
        manual_seed(5);
        let model = conv_bn_relu(8)
            .push(AvgPool2d::new(2))
            .push(AvgPool2d::new(2));
        model.forward(&Tensor::randn(&[4, 3, 12, 12])).realize();
        model.eval();
        no_grad(|| model.forward(&Tensor::randn(&[2, 3, 12, 12]))).to_vec()
    });
    // Eval mode: the convolution's product, then one loop over the first pooling's output
    // computing BatchNorm and ReLU at each of its taps: the normalized values are stored
    // nowhere. The first pooling's output is stored: computed in the second's loop it would
    // repeat BatchNorm at 16 taps, past the bound on recomputed ops.
    let stored = stored_elementwise(&plan, &[2, 8, 12, 12]);
    assert!(stored.is_empty(), "{stored:?}\n{}", plan.describe());
    let stored = stored_elementwise(&plan, &[2, 8, 6, 6]);
    assert_eq!(stored.len(), 1, "{stored:?}\n{}", plan.describe());
}

#[test]
fn views_of_values_computed_through_views_nest_within_the_bound() {
    // A cheap value pooled twice: the first pooling (an add of two taps of a two-op chain)
    // is computed in the second's loop.
    let plan = same_bits(|| {
        manual_seed(7);
        let y = (Tensor::randn(&[2, 3, 8, 8]) * 0.5).relu();
        let p = &y.slice(3, 0, 8, 2) + &y.slice(3, 1, 8, 2);
        let q = (&p.slice(2, 0, 8, 2) + &p.slice(2, 1, 8, 2)) * 0.25;
        q.to_vec()
    });
    assert!(stored_elementwise(&plan, &[2, 3, 8, 8]).is_empty());
    assert!(stored_elementwise(&plan, &[2, 3, 8, 4]).is_empty());
    // Twenty levels of two overlapping taps: without a bound on what nesting repeats, the
    // last loop would hold 2^20 copies of the first chain.
    let plan = same_bits(|| {
        manual_seed(8);
        let mut y = (Tensor::randn(&[1, 64]) * 0.5).relu();
        for _ in 0..20 {
            let m = y.shape()[1];
            y = &y.slice(1, 1, m, 1) + &y.slice(1, 0, m - 1, 1);
        }
        y.to_vec()
    });
    let exprs: usize = plan
        .steps
        .iter()
        .map(|s| match &s.kind {
            needle::jit::StepKind::Elementwise(k) => k.exprs.len(),
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    assert!(exprs <= 64, "largest loop: {exprs} entries");
}
