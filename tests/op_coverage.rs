//! Every op variant has an interpreter kernel (it runs in lazy mode), a gradient that agrees
//! with finite differences (or a documented reason for none), and a JIT lowering whose
//! results equal the interpreter's bit for bit, forward and backward.
//!
//! The variants are enumerated from the families' `ALL` lists and the `Slot`s of the ops
//! without a family enum; `case` maps each to its inputs with a match that has no
//! wildcard, so a new variant does not compile here until it has a test case.

use needle::jit::{reset_stats, set_tiered, stats};
use needle::op::{BinaryOp, Op, ReduceOp, ScalarOp, UnaryOp, Window};
use needle::{manual_seed, with_mode, DType, Mode, Tensor};

/// One op variant: a family op, or an op of [`Op`] without a family enum.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Unary(UnaryOp),
    Scalar(ScalarOp),
    Binary(BinaryOp),
    Reduce(ReduceOp),
    MatMul,
    Reshape,
    Permute,
    Expand,
    Slice,
    Flip,
    Pad,
    Concat,
    Cast,
    Gather,
    ScatterAdd,
    Cumsum,
    Im2col,
    Col2im,
}

/// The slot of a recorded op; `None` for a leaf (data, not an op to test).
fn slot_of(op: &Op) -> Option<Slot> {
    Some(match op {
        Op::Leaf => return None,
        Op::Unary(u) => Slot::Unary(*u),
        Op::Scalar(s, _) => Slot::Scalar(*s),
        Op::Binary(b) => Slot::Binary(*b),
        Op::Reduce(r, _) => Slot::Reduce(*r),
        Op::MatMul => Slot::MatMul,
        Op::Reshape => Slot::Reshape,
        Op::Permute(_) => Slot::Permute,
        Op::Expand => Slot::Expand,
        Op::Slice { .. } => Slot::Slice,
        Op::Flip(_) => Slot::Flip,
        Op::Pad(_) => Slot::Pad,
        Op::Concat(_) => Slot::Concat,
        Op::Cast(_) => Slot::Cast,
        Op::Gather(_) => Slot::Gather,
        Op::ScatterAdd(_) => Slot::ScatterAdd,
        Op::Cumsum(_) => Slot::Cumsum,
        Op::Im2col(_) => Slot::Im2col,
        Op::Col2im(_) => Slot::Col2im,
    })
}

/// Every op variant. The ops without a family enum are listed by hand: a new one gets a
/// `Slot` (the match in `slot_of` requires it), a `case` (likewise) and a line here.
fn all_slots() -> Vec<Slot> {
    let mut slots: Vec<Slot> = UnaryOp::ALL.iter().map(|&u| Slot::Unary(u)).collect();
    slots.extend(ScalarOp::ALL.iter().map(|&s| Slot::Scalar(s)));
    slots.extend(BinaryOp::ALL.iter().map(|&b| Slot::Binary(b)));
    slots.extend(ReduceOp::ALL.iter().map(|&r| Slot::Reduce(r)));
    slots.extend([
        Slot::MatMul,
        Slot::Reshape,
        Slot::Permute,
        Slot::Expand,
        Slot::Slice,
        Slot::Flip,
        Slot::Pad,
        Slot::Concat,
        Slot::Cast,
        Slot::Gather,
        Slot::ScatterAdd,
        Slot::Cumsum,
        Slot::Im2col,
        Slot::Col2im,
    ]);
    slots
}

/// Where an input's values are drawn from: the op's domain, away from its kinks (so the
/// finite differences do not straddle one).
#[derive(Clone, Copy, Debug)]
enum Domain {
    /// Standard normal.
    Any,
    /// [0.5, 1.5): logarithms, roots, powers.
    Positive,
    /// ±[0.5, 1.5): divisors, and the kinks of relu and max at 0.
    AwayFromZero,
    /// Normal with σ = 0.1: the other operand of a max whose first is `AwayFromZero`.
    Small,
    /// Integers in [−2, 2]: comparisons (equal values occur) and masks (zeros occur).
    SmallIntegers,
}

/// Whether, and for which inputs, an op has a gradient.
enum Gradient {
    /// Checked against finite differences for these inputs.
    Inputs(&'static [usize]),
    /// None, for this reason.
    None(&'static str),
}

/// How the JIT runs an op inside a program.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lowering {
    /// Generated code (a fused kernel, or the GEMM).
    Compiled,
    /// A host step calling the interpreter's kernel (counted in `fallback_nodes`).
    HostStep,
    /// A window step: the interpreter's im2col/col2im function writing the program's own
    /// buffer (not a fallback).
    Window,
}

/// Records an op from the `Tensor` API, given the case's inputs.
type Apply = Box<dyn Fn(&[Tensor]) -> Tensor>;

/// An op variant's test: its inputs and how to record it from the `Tensor` API.
struct Case {
    inputs: Vec<(Vec<usize>, Domain)>,
    apply: Apply,
    gradient: Gradient,
    lowering: Lowering,
}

const WINDOW: Window = Window {
    kernel: 3,
    stride: 2,
    padding: 1,
    dilation: 1,
};

const DILATED_WINDOW: Window = Window {
    kernel: 2,
    stride: 1,
    padding: 1,
    dilation: 2,
};

const NO_GRAD_COMPARISON: &str = "a comparison is a 0/1 mask, flat wherever it is differentiable";

fn case(slot: Slot) -> Case {
    use Domain::*;
    let one = |shape: &[usize], d: Domain| vec![(shape.to_vec(), d)];
    let two = |d0: Domain, d1: Domain| vec![(vec![2, 3], d0), (vec![2, 3], d1)];
    let c = |inputs, apply: Apply, gradient, lowering| Case {
        inputs,
        apply,
        gradient,
        lowering,
    };
    let unary = |d, f: fn(&Tensor) -> Tensor| {
        c(
            one(&[2, 3], d),
            Box::new(move |x| f(&x[0])),
            Gradient::Inputs(&[0]),
            Lowering::Compiled,
        )
    };
    let scalar = |d, f: fn(&Tensor) -> Tensor, gradient| {
        c(
            one(&[2, 3], d),
            Box::new(move |x| f(&x[0])),
            gradient,
            Lowering::Compiled,
        )
    };
    let binary = |d0, d1, f: fn(&Tensor, &Tensor) -> Tensor, gradient| {
        c(
            two(d0, d1),
            Box::new(move |x| f(&x[0], &x[1])),
            gradient,
            Lowering::Compiled,
        )
    };
    let movement = |shape: &[usize], f: fn(&Tensor) -> Tensor, lowering| {
        c(
            one(shape, Any),
            Box::new(move |x| f(&x[0])),
            Gradient::Inputs(&[0]),
            lowering,
        )
    };
    let none = Gradient::None(NO_GRAD_COMPARISON);
    let both = Gradient::Inputs(&[0, 1]);
    match slot {
        Slot::Unary(u) => match u {
            UnaryOp::Neg => unary(Any, |x| x.neg()),
            UnaryOp::Exp => unary(Any, |x| x.exp()),
            UnaryOp::Log => unary(Positive, |x| x.log()),
            UnaryOp::Sqrt => unary(Positive, |x| x.sqrt()),
            UnaryOp::Relu => unary(AwayFromZero, |x| x.relu()),
            UnaryOp::Tanh => unary(Any, |x| x.tanh()),
            UnaryOp::Sigmoid => unary(Any, |x| x.sigmoid()),
            UnaryOp::Sin => unary(Any, |x| x.sin()),
            UnaryOp::Cos => unary(Any, |x| x.cos()),
            UnaryOp::Abs => unary(AwayFromZero, |x| x.abs()),
        },
        Slot::Scalar(s) => {
            let grad = Gradient::Inputs(&[0]);
            match s {
                ScalarOp::Add => scalar(Any, |x| x + 0.75, grad),
                ScalarOp::Mul => scalar(Any, |x| x * -1.5, grad),
                ScalarOp::Div => scalar(Any, |x| x / 1.25, grad),
                ScalarOp::RDiv => scalar(AwayFromZero, |x| x.rdiv_scalar(2.0), grad),
                // The special-cased exponents are checked in `pow_special_exponents`.
                ScalarOp::Pow => pow_case(3.0),
                ScalarOp::Max => scalar(AwayFromZero, |x| x.maximum(0.0), grad),
                ScalarOp::Eq => scalar(SmallIntegers, |x| x.eq(1.0), none),
                ScalarOp::Ne => scalar(SmallIntegers, |x| x.ne(1.0), none),
                ScalarOp::Gt => scalar(SmallIntegers, |x| x.gt(0.0), none),
                ScalarOp::Ge => scalar(SmallIntegers, |x| x.ge(0.0), none),
                ScalarOp::Lt => scalar(SmallIntegers, |x| x.lt(-1.0), none),
                ScalarOp::Le => scalar(SmallIntegers, |x| x.le(-1.0), none),
            }
        }
        Slot::Binary(b) => match b {
            BinaryOp::Add => binary(Any, Any, |a, b| a + b, both),
            BinaryOp::Sub => binary(Any, Any, |a, b| a - b, both),
            BinaryOp::Mul => binary(Any, Any, |a, b| a * b, both),
            BinaryOp::Div => binary(Any, AwayFromZero, |a, b| a / b, both),
            BinaryOp::Max => binary(AwayFromZero, Small, |a, b| a.maximum(b), both),
            BinaryOp::Mask => binary(
                Any,
                SmallIntegers,
                |a, b| a.masked(b),
                // Input 1 is the mask, which gets none (as `torch.where`'s condition).
                Gradient::Inputs(&[0]),
            ),
            BinaryOp::Eq => binary(SmallIntegers, SmallIntegers, |a, b| a.eq(b), none),
            BinaryOp::Ne => binary(SmallIntegers, SmallIntegers, |a, b| a.ne(b), none),
            BinaryOp::Gt => binary(SmallIntegers, SmallIntegers, |a, b| a.gt(b), none),
            BinaryOp::Ge => binary(SmallIntegers, SmallIntegers, |a, b| a.ge(b), none),
            BinaryOp::Lt => binary(SmallIntegers, SmallIntegers, |a, b| a.lt(b), none),
            BinaryOp::Le => binary(SmallIntegers, SmallIntegers, |a, b| a.le(b), none),
        },
        Slot::Reduce(r) => match r {
            ReduceOp::Sum => movement(&[2, 3, 4], |x| x.sum(&[1], true), Lowering::Compiled),
            // Distinct values (no ties within the finite-difference step) come from `Any`
            // with probability 1; the seed is fixed.
            ReduceOp::Max => movement(&[2, 3, 4], |x| x.max(&[1], true), Lowering::Compiled),
        },
        Slot::MatMul => c(
            vec![(vec![2, 3], Any), (vec![3, 4], Any)],
            Box::new(|x| x[0].matmul(&x[1])),
            both,
            Lowering::Compiled,
        ),
        Slot::Reshape => movement(&[2, 3], |x| x.reshape(&[3, 2]), Lowering::Compiled),
        Slot::Permute => movement(&[2, 3, 2], |x| x.permute(&[2, 0, 1]), Lowering::Compiled),
        Slot::Expand => movement(&[2, 1], |x| x.broadcast_to(&[2, 3]), Lowering::Compiled),
        Slot::Slice => movement(&[5, 3], |x| x.slice(0, 1, 5, 2), Lowering::Compiled),
        Slot::Flip => movement(&[2, 3], |x| x.flip(&[1]), Lowering::Compiled),
        Slot::Pad => movement(&[2, 3], |x| x.pad(&[(1, 0), (0, 2)]), Lowering::HostStep),
        Slot::Concat => c(
            vec![(vec![2, 3], Any), (vec![2, 2], Any)],
            Box::new(|x| Tensor::concat(x, 1)),
            both,
            Lowering::HostStep,
        ),
        Slot::Cast => c(
            one(&[2, 3], Any),
            Box::new(|x| (&x[0] * 3.0).cast(DType::I64)),
            Gradient::None("a cast gives integers (no gradient) or is the input itself"),
            Lowering::HostStep,
        ),
        // i64 indices: a host step running the interpreter's kernel (as casts and padding).
        // Repeated indices check that the gradient accumulates.
        Slot::Gather => c(
            one(&[3, 4], Any),
            Box::new(|x| x[0].gather(1, &Tensor::from_vec_i64(vec![3, 0, 3, 1, 2, 2], &[3, 2]))),
            Gradient::Inputs(&[0]),
            Lowering::HostStep,
        ),
        Slot::ScatterAdd => c(
            one(&[2, 3], Any),
            Box::new(|x| {
                let index = Tensor::from_vec_i64(vec![0, 3, 0, 2, 3, 1], &[2, 3]);
                Tensor::zeros_scatter_add(&[3, 4], 1, &index, &x[0])
            }),
            Gradient::Inputs(&[0]),
            Lowering::HostStep,
        ),
        // A sequential scan: a host step running the interpreter's kernel.
        Slot::Cumsum => movement(&[2, 5, 3], |x| x.cumsum(1), Lowering::HostStep),
        // Stride 2 and padding: taps that fall in the padding, positions no tap reaches.
        Slot::Im2col => movement(&[2, 2, 5, 4], |x| x.im2col(WINDOW), Lowering::Window),
        // Dilation 2 and padding: pixels covered by several taps, others by none.
        Slot::Col2im => movement(
            &[8, 12],
            |x| x.col2im(DILATED_WINDOW, &[1, 2, 4, 3]),
            Lowering::Window,
        ),
    }
}

/// `x.powf(c)` on positive inputs.
fn pow_case(c: f32) -> Case {
    Case {
        inputs: vec![(vec![2, 3], Domain::Positive)],
        apply: Box::new(move |x| x[0].powf(c)),
        gradient: Gradient::Inputs(&[0]),
        lowering: Lowering::Compiled,
    }
}

/// Values of `shape` from `domain`, drawn from the global stream after seeding it.
fn draw(shape: &[usize], domain: Domain, seed: u64) -> Vec<f32> {
    with_mode(Mode::Eager, || {
        manual_seed(seed);
        let normal = Tensor::randn(shape).to_vec();
        let uniform = Tensor::rand(shape).to_vec();
        normal
            .iter()
            .zip(&uniform)
            .map(|(&n, &u)| match domain {
                Domain::Any => n,
                Domain::Positive => 0.5 + u,
                Domain::AwayFromZero => (0.5 + u).copysign(n),
                Domain::Small => 0.1 * n,
                Domain::SmallIntegers => n.round().clamp(-2.0, 2.0),
            })
            .collect()
    })
}

/// The case's input data for `seed`.
fn input_data(case: &Case, seed: u64) -> Vec<Vec<f32>> {
    case.inputs
        .iter()
        .enumerate()
        .map(|(i, (shape, domain))| draw(shape, *domain, seed * 10 + i as u64))
        .collect()
}

/// Tensors of `data` in the current mode (`requires_grad` on every one, when asked).
fn tensors(case: &Case, data: &[Vec<f32>], requires_grad: bool) -> Vec<Tensor> {
    case.inputs
        .iter()
        .zip(data)
        .map(|((shape, _), d)| Tensor::from_vec(d.clone(), shape).requires_grad_(requires_grad))
        .collect()
}

/// `Σ f(x) · w`, the scalar whose gradient is checked (`w` fixed, so every output element
/// gets a different weight).
fn weighted_loss(case: &Case, xs: &[Tensor], seed: u64) -> Tensor {
    let y = (case.apply)(xs);
    let w = Tensor::from_vec(draw(&y.shape(), Domain::Any, seed + 7), &y.shape());
    (y * w).sum_all()
}

/// Bits of the values (NaNs compare equal whatever their payload).
fn bits(values: &[f32]) -> Vec<u32> {
    values
        .iter()
        .map(|v| if v.is_nan() { u32::MAX } else { v.to_bits() })
        .collect()
}

/// The forward values (of the op on computed inputs and on data leaves) and, where the op
/// has a gradient, the gradients of [`weighted_loss`], in the current mode.
fn outputs(case: &Case, data: &[Vec<f32>], seed: u64) -> Vec<Vec<f32>> {
    let leaves = tensors(case, data, false);
    // Computed (pending) inputs, so views too are lowered rather than resolved as views.
    let computed: Vec<Tensor> = leaves.iter().map(|x| x.neg().neg()).collect();
    let mut out = vec![
        (case.apply)(&computed).to_vec(),
        (case.apply)(&leaves).to_vec(),
    ];
    if let Gradient::Inputs(wrt) = case.gradient {
        let xs = tensors(case, data, true);
        weighted_loss(case, &xs, seed).backward();
        for &i in wrt {
            out.push(xs[i].grad().expect("a gradient").to_vec());
        }
    }
    out
}

/// Checks one case: it records its slot's op, runs in lazy mode, its gradient agrees with
/// central differences, and the JIT gives the interpreter's bits with the expected lowering.
fn check(slot: Slot, case: &Case) {
    for seed in 1..=3u64 {
        let data = input_data(case, seed);
        let recorded = with_mode(Mode::Lazy, || {
            let y = (case.apply)(&tensors(case, &data, false));
            let op = y.node().op().clone();
            assert!(!y.is_realized(), "{slot:?}: lazy mode records");
            (op, y.to_vec())
        });
        assert_eq!(
            slot_of(&recorded.0),
            Some(slot),
            "{slot:?}: the case records {:?}",
            recorded.0
        );
        let lazy = with_mode(Mode::Lazy, || outputs(case, &data, seed));
        let eager = with_mode(Mode::Eager, || outputs(case, &data, seed));
        set_tiered(false);
        let jit = with_mode(Mode::Jit, || outputs(case, &data, seed));
        for (k, ((l, e), j)) in lazy.iter().zip(&eager).zip(&jit).enumerate() {
            assert_eq!(
                bits(l),
                bits(e),
                "{slot:?} output {k}: lazy {l:?} vs eager {e:?}"
            );
            assert_eq!(
                bits(l),
                bits(j),
                "{slot:?} output {k}: interpreter {l:?} vs JIT {j:?}"
            );
        }
        // How the forward op alone runs in a program.
        reset_stats();
        with_mode(Mode::Jit, || {
            let computed: Vec<Tensor> = tensors(case, &data, false)
                .iter()
                .map(|x| x.neg().neg())
                .collect();
            (case.apply)(&computed).realize();
        });
        let s = stats();
        assert!(
            s.programs_run > 0 && s.interpreted_runs == 0,
            "{slot:?}: {s:?}"
        );
        let lowering = if s.fallback_nodes > 0 {
            Lowering::HostStep
        } else if s.windows_run > 0 {
            Lowering::Window
        } else {
            Lowering::Compiled
        };
        assert_eq!(lowering, case.lowering, "{slot:?}: {s:?}");
        match case.gradient {
            Gradient::Inputs(wrt) => check_gradient(slot, case, &data, wrt, seed),
            Gradient::None(reason) => assert!(!reason.is_empty(), "{slot:?}: say why"),
        }
    }
}

/// The analytic gradient of [`weighted_loss`] against central differences (in f32, with a
/// step of 1e-2: truncation and rounding stay far below the tolerance).
fn check_gradient(slot: Slot, case: &Case, data: &[Vec<f32>], wrt: &[usize], seed: u64) {
    with_mode(Mode::Eager, || {
        let xs = tensors(case, data, true);
        weighted_loss(case, &xs, seed).backward();
        let loss_at = |data: &[Vec<f32>]| -> f64 {
            f64::from(weighted_loss(case, &tensors(case, data, false), seed).item())
        };
        let h = 1e-2f32;
        for &i in wrt {
            let analytic = xs[i].grad().expect("a gradient").to_vec();
            for (j, &g) in analytic.iter().enumerate() {
                let mut plus = data.to_vec();
                plus[i][j] += h;
                let mut minus = data.to_vec();
                minus[i][j] -= h;
                let numeric = (loss_at(&plus) - loss_at(&minus)) / (2.0 * f64::from(h));
                let g = f64::from(g);
                assert!(
                    (numeric - g).abs() <= 1e-2 * (1.0 + g.abs()),
                    "{slot:?} seed {seed}: d/dx{i}[{j}] is {g}, central differences give {numeric}"
                );
            }
        }
    });
}

#[test]
fn every_op_has_a_kernel_a_gradient_and_a_matching_jit_lowering() {
    let slots = all_slots();
    for &slot in &slots {
        check(slot, &case(slot));
    }
    for (i, a) in slots.iter().enumerate() {
        assert!(!slots[..i].contains(a), "{a:?} is listed twice");
    }
    // A leaf is data, not an op to test.
    assert_eq!(slot_of(Tensor::ones(&[1]).node().op()), None);
}

#[test]
fn pow_special_exponents() {
    // `op/scalar.rs` computes these exponents as sqrt, a product, a reciprocal and powf(0).
    for c in [0.5, 2.0, -1.0, 0.0, -2.5] {
        check(Slot::Scalar(ScalarOp::Pow), &pow_case(c));
    }
}

#[test]
fn comparisons_of_both_families_name_the_same_rule() {
    for &b in BinaryOp::ALL {
        assert_eq!(b.is_comparison(), b.comparison().is_some(), "{b:?}");
    }
    for &s in ScalarOp::ALL {
        assert_eq!(s.is_comparison(), s.comparison().is_some(), "{s:?}");
    }
    for (&b, &s) in BinaryOp::ALL
        .iter()
        .filter(|b| b.is_comparison())
        .zip(ScalarOp::ALL.iter().filter(|s| s.is_comparison()))
    {
        assert_eq!(
            b.comparison(),
            s.comparison(),
            "{b:?} and {s:?} are listed alike"
        );
    }
}
