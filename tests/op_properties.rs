//! Property test over the public ops with generated shapes, axes and arguments, hostile ones
//! included (empty axes, sizes whose product overflows, repeated or out-of-range axes, steps
//! of 0, NaN and infinite values). For every case, each mode (eager, lazy, JIT, checked JIT)
//! either gives a value — the same bits in every mode — or panics with a message that names
//! the op; never a signal, an abort or a panic from inside the library's machinery. A case
//! that panics in one mode panics in all of them.

use std::panic::{catch_unwind, AssertUnwindSafe};

use needle::{manual_seed, with_mode, Mode, Tensor};
use proptest::prelude::*;

/// Sizes the generator draws: mostly small and empty ones, sometimes huge ones.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => prop::sample::select(vec![0usize, 1, 2, 3, 5, 8]),
        // Beyond any tensor alone or with any other size (a tensor holds at most 2^60
        // elements). Sizes that fit but not in memory are tests/edge_shapes.rs's: a case
        // that sums a 2^40-element broadcast would run for minutes.
        1 => prop::sample::select(vec![1usize << 61, usize::MAX / 2, usize::MAX]),
    ]
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(size(), 0..4)
}

fn axes() -> impl Strategy<Value = Vec<isize>> {
    prop::collection::vec(-4isize..4, 0..3)
}

/// One public op with its arguments.
#[derive(Clone, Debug)]
enum Case {
    Unary(usize),
    Binary(usize, Vec<usize>),
    Sum(Vec<isize>, bool),
    Max(Vec<isize>, bool),
    Mean(Vec<isize>),
    LogSumExp(Vec<isize>),
    Softmax(isize),
    Reshape(Vec<usize>),
    BroadcastTo(Vec<usize>),
    Permute(Vec<usize>),
    Transpose(isize, isize),
    Slice(isize, usize, usize, usize),
    Flip(Vec<isize>),
    Pad(Vec<(usize, usize)>),
    Dilate(Vec<isize>, usize),
    Flatten(isize, isize),
    Squeeze(Vec<isize>),
    Unsqueeze(isize),
    Concat(Vec<usize>, isize),
    MatMul(Vec<usize>),
}

impl Case {
    /// The op name its error messages must carry.
    fn name(&self) -> &'static str {
        match self {
            Case::Unary(_) => "",
            Case::Binary(k, _) => ["add", "sub", "mul", "div", "max", "gt"][k % 6],
            Case::Sum(..) => "sum",
            Case::Max(..) => "max",
            Case::Mean(_) => "mean",
            Case::LogSumExp(_) => "logsumexp",
            Case::Softmax(_) => "softmax",
            Case::Reshape(_) => "reshape",
            Case::BroadcastTo(_) => "broadcast",
            Case::Permute(_) => "permute",
            Case::Transpose(..) => "transpose",
            Case::Slice(..) => "slice",
            Case::Flip(_) => "flip",
            Case::Pad(_) => "pad",
            Case::Dilate(..) => "dilate",
            Case::Flatten(..) => "flatten",
            Case::Squeeze(_) => "squeeze",
            Case::Unsqueeze(_) => "unsqueeze",
            Case::Concat(..) => "concat",
            Case::MatMul(_) => "matmul",
        }
    }

    fn apply(&self, x: &Tensor) -> Tensor {
        match self {
            Case::Unary(k) => match k % 7 {
                0 => x.exp(),
                1 => x.log(),
                2 => x.sqrt(),
                3 => x.relu(),
                4 => x.tanh(),
                5 => x.sigmoid(),
                _ => -x,
            },
            Case::Binary(k, shape) => {
                let y = data(shape, 1);
                match k % 6 {
                    0 => x + &y,
                    1 => x - &y,
                    2 => x * &y,
                    3 => x / &y,
                    4 => x.maximum(&y),
                    _ => x.gt(&y),
                }
            }
            Case::Sum(axes, keep) => x.sum(axes, *keep),
            Case::Max(axes, keep) => x.max(axes, *keep),
            Case::Mean(axes) => x.mean(axes, false),
            Case::LogSumExp(axes) => x.logsumexp(axes, false),
            Case::Softmax(axis) => x.softmax(*axis),
            Case::Reshape(shape) => x.reshape(shape),
            Case::BroadcastTo(shape) => x.broadcast_to(shape),
            Case::Permute(perm) => x.permute(perm),
            Case::Transpose(i, j) => x.transpose(*i, *j),
            Case::Slice(axis, start, end, step) => x.slice(*axis, *start, *end, *step),
            Case::Flip(axes) => x.flip(axes),
            Case::Pad(padding) => x.pad(padding),
            Case::Dilate(axes, d) => x.dilate(axes, *d),
            Case::Flatten(s, e) => x.flatten(*s, *e),
            Case::Squeeze(axes) => x.squeeze(axes),
            Case::Unsqueeze(axis) => x.unsqueeze(*axis),
            Case::Concat(shape, axis) => Tensor::concat(&[x.clone(), data(shape, 2)], *axis),
            Case::MatMul(shape) => x.matmul(&data(shape, 3)),
        }
    }
}

fn case() -> impl Strategy<Value = Case> {
    let small = prop::sample::select(vec![0usize, 1, 2, 3, 9]);
    prop_oneof![
        (0usize..7).prop_map(Case::Unary),
        (0usize..6, shape()).prop_map(|(k, s)| Case::Binary(k, s)),
        (axes(), any::<bool>()).prop_map(|(a, k)| Case::Sum(a, k)),
        (axes(), any::<bool>()).prop_map(|(a, k)| Case::Max(a, k)),
        axes().prop_map(Case::Mean),
        axes().prop_map(Case::LogSumExp),
        (-4isize..4).prop_map(Case::Softmax),
        shape().prop_map(Case::Reshape),
        shape().prop_map(Case::BroadcastTo),
        prop::collection::vec(0usize..4, 0..4).prop_map(Case::Permute),
        (-4isize..4, -4isize..4).prop_map(|(i, j)| Case::Transpose(i, j)),
        (-4isize..4, small.clone(), small.clone(), small.clone())
            .prop_map(|(a, s, e, k)| Case::Slice(a, s, e, k)),
        axes().prop_map(Case::Flip),
        prop::collection::vec((small.clone(), small.clone()), 0..4).prop_map(Case::Pad),
        (axes(), small.clone()).prop_map(|(a, d)| Case::Dilate(a, d)),
        (-4isize..4, -4isize..4).prop_map(|(s, e)| Case::Flatten(s, e)),
        axes().prop_map(Case::Squeeze),
        (-5isize..5).prop_map(Case::Unsqueeze),
        (shape(), -4isize..4).prop_map(|(s, a)| Case::Concat(s, a)),
        shape().prop_map(Case::MatMul),
    ]
}

/// A tensor of `shape` with seeded normal values and, in every seventh place, NaN or ±inf
/// (creation itself may refuse a hostile shape: that is part of the case).
fn data(shape: &[usize], salt: u64) -> Tensor {
    manual_seed(salt);
    let x = Tensor::randn(shape);
    let mut values = x.to_vec();
    for (i, v) in values.iter_mut().enumerate() {
        if i % 7 == 3 {
            *v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][i % 3];
        }
    }
    Tensor::from_vec(values, shape)
}

/// The outcome of one case in one mode: the value's bits and shape, or the panic message.
fn run(
    mode: Mode,
    checked: bool,
    shape: &[usize],
    case: &Case,
) -> Result<(Vec<usize>, Vec<u32>), String> {
    // The expected panics would flood the output: silenced while the case runs only, so
    // proptest's own report still shows.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        needle::jit::with_checked(checked, || {
            with_mode(mode, || {
                let y = case.apply(&data(shape, 0));
                let bits = y.to_vec().iter().map(|v| canonical_bits(*v)).collect();
                (y.shape(), bits)
            })
        })
    }));
    std::panic::set_hook(hook);
    outcome.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "<panic without a message>".into())
    })
}

/// Bits with every NaN alike (payloads are not specified by IEEE arithmetic).
fn canonical_bits(v: f32) -> u32 {
    if v.is_nan() {
        f32::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// Ops whose messages may name the function that created the operand instead.
const CREATION: [&str; 3] = ["normal", "from_vec", "has too many elements"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_op_gives_one_value_in_every_mode_or_a_named_error(shape in shape(), case in case()) {
        needle::jit::install();
        if std::env::var_os("NEEDLE_PROP_TRACE").is_some() {
            eprintln!("case {shape:?} {case:?}");
        }
        let eager = run(Mode::Eager, false, &shape, &case);
        for (mode, checked) in [(Mode::Lazy, false), (Mode::Jit, false), (Mode::Jit, true)] {
            let other = run(mode, checked, &shape, &case);
            match (&eager, &other) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{:?} differs from eager (checked {})", mode, checked),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "eager {:?} but {:?} (checked {}) {:?}", eager, mode, checked, other),
            }
        }
        if let Err(message) = &eager {
            let named = message.contains(case.name())
                || CREATION.iter().any(|c| message.contains(c));
            prop_assert!(named, "the message does not name {:?}: {}", case.name(), message);
            prop_assert!(
                !message.contains("index out of bounds") && !message.contains("attempt to")
                    && !message.contains("unwrap()") && !message.contains("removal index"),
                "an internal panic: {}", message
            );
        }
    }
}
