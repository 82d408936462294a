//! Hostile and degenerate shapes: overflowing element counts, empty tensors and views, inner
//! size 0 products, 1-D products, repeated axes. Each either gives the value PyTorch/numpy
//! give, equal in every mode, or panics with a message naming the op — never a signal, an
//! abort or an internal message.

mod common;

use common::in_both_modes;
use needle::{with_mode, Mode, Tensor};

/// Runs `f` in every mode (fresh JIT backend installed) and returns the panic message of each.
fn panic_message_in_every_mode(f: impl Fn() + std::panic::RefUnwindSafe) -> Vec<String> {
    needle::jit::install();
    common::MODES
        .iter()
        .map(|&mode| {
            let caught = std::panic::catch_unwind(|| with_mode(mode, &f));
            let payload = caught.expect_err("must panic");
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
        .collect()
}

#[track_caller]
fn assert_panics_with(f: impl Fn() + std::panic::RefUnwindSafe, expected: &str) {
    for message in panic_message_in_every_mode(f) {
        assert!(
            message.contains(expected),
            "expected a message containing {expected:?}, got {message:?}"
        );
    }
}

#[test]
fn overflowing_shapes_are_rejected_where_they_are_made() {
    assert_panics_with(
        || {
            Tensor::zeros(&[1 << 40, 1 << 40]);
        },
        "zeros: shape [1099511627776, 1099511627776] has too many elements",
    );
    assert_panics_with(
        || {
            Tensor::zeros(&[4]).reshape(&[(1 << 62) + 1, 4]);
        },
        "reshape: shape [4611686018427387905, 4] has too many elements",
    );
    assert_panics_with(
        || {
            Tensor::zeros(&[1]).broadcast_to(&[1 << 32, 1 << 32]);
        },
        "broadcast_to: shape [4294967296, 4294967296] has too many elements",
    );
    assert_panics_with(
        || {
            Tensor::randn(&[1 << 62, 4]);
        },
        "normal: shape",
    );
    assert_panics_with(
        || {
            Tensor::eye(1 << 33);
        },
        "eye: shape [8589934592, 8589934592] has too many elements",
    );
    // An overflow hidden behind a zero-sized axis is still refused (strides would overflow).
    assert_panics_with(
        || {
            Tensor::zeros(&[1 << 40, 1 << 40, 0]);
        },
        "has too many elements",
    );
}

#[test]
fn unallocatable_results_panic_with_the_size_instead_of_aborting() {
    // 2^40 elements pass the shape check (they fit in usize) but not in memory: a panic
    // naming the op and the bytes asked for, in every mode (the JIT asks for its buffers).
    assert_panics_with(
        || {
            Tensor::zeros(&[1 << 40]);
        },
        "zeros [1099511627776]: cannot allocate 4398046511104 bytes",
    );
    assert_panics_with(
        || {
            let x = Tensor::ones(&[1]).broadcast_to(&[1 << 40]);
            (x.exp() + 1.0).realize();
        },
        "cannot allocate",
    );
}

#[test]
fn products_with_an_empty_inner_size_are_zeros_in_every_mode() {
    let out = in_both_modes(|| {
        let a = Tensor::ones(&[3, 0]);
        let b = Tensor::ones(&[0, 4]);
        vec![a.matmul(&b), (a.matmul(&b) + 1.0).relu()]
    });
    assert_eq!(out[0], vec![0.0; 12]);
    assert_eq!(out[1], vec![1.0; 12]);
}

#[test]
fn empty_views_with_an_offset_read_as_empty() {
    let out = in_both_modes(|| {
        let x = Tensor::zeros(&[3, 0]);
        let view = x.slice(0, 1, 2, 1);
        vec![view.relu(), view.sum(&[1], false), view.flip(&[0]).exp()]
    });
    assert_eq!(out[0], Vec::<f32>::new());
    assert_eq!(out[1], vec![0.0]);
    assert_eq!(out[2], Vec::<f32>::new());
}

#[test]
fn one_dimensional_products_follow_pytorch() {
    let v = || Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]);
    let m = || Tensor::from_vec(vec![1.0, 0.0, 2.0, 1.0, 0.5, -1.0], &[3, 2]);
    let mt = || Tensor::from_vec(vec![1.0, 2.0, 0.5, 0.0, 1.0, -1.0], &[2, 3]);
    let out = in_both_modes(|| {
        vec![
            v().matmul(&v()),
            v().matmul(&m()),
            mt().matmul(&v()),
            Tensor::ones(&[4, 2, 3]).matmul(&v()),
            v().matmul(&Tensor::ones(&[4, 3, 2])),
        ]
    });
    // torch.tensor([1., 2, 3]) @ ... , values printed by PyTorch 2.
    assert_eq!(out[0], vec![14.0]);
    assert_eq!(out[1], vec![6.5, -1.0]);
    assert_eq!(out[2], vec![6.5, -1.0]);
    assert_eq!(out[3], vec![6.0; 8]);
    assert_eq!(out[4], vec![6.0; 8]);
    with_mode(Mode::Eager, || {
        assert_eq!(v().matmul(&v()).shape(), Vec::<usize>::new());
        assert_eq!(v().matmul(&m()).shape(), vec![2]);
        assert_eq!(mt().matmul(&v()).shape(), vec![2]);
        assert_eq!(Tensor::ones(&[4, 2, 3]).matmul(&v()).shape(), vec![4, 2]);
        assert_eq!(v().matmul(&Tensor::ones(&[4, 3, 2])).shape(), vec![4, 2]);
    });
    assert_panics_with(
        || {
            v().matmul(&Tensor::ones(&[4]));
        },
        "matmul: shapes [3] and [4] are not compatible",
    );
}

#[test]
fn gradients_of_one_dimensional_products() {
    common::gradcheck_both(vec![common::randn(&[3]), common::randn(&[3, 2])], |x| {
        x[0].matmul(&x[1]).sum_all()
    });
    common::gradcheck_both(vec![common::randn(&[3]), common::randn(&[3])], |x| {
        x[0].matmul(&x[1])
    });
}

#[test]
fn repeated_axes_are_an_error() {
    assert_panics_with(
        || {
            Tensor::ones(&[2, 2]).sum(&[0, 0], false);
        },
        "sum: axis 0 is repeated",
    );
    assert_panics_with(
        || {
            Tensor::ones(&[2, 2]).sum(&[1, -1], false);
        },
        "sum: axis 1 is repeated",
    );
    assert_panics_with(
        || {
            Tensor::ones(&[2, 2]).flip(&[0, 0]);
        },
        "flip: axis 0 is repeated",
    );
    assert_panics_with(
        || {
            Tensor::ones(&[2, 2]).max(&[1, 1], true);
        },
        "max: axis 1 is repeated",
    );
}

#[test]
fn max_of_an_empty_tensor_is_an_error() {
    assert_panics_with(
        || {
            Tensor::zeros(&[0]).max_all();
        },
        "max: cannot reduce over an axis of size 0",
    );
    assert_panics_with(
        || {
            Tensor::zeros(&[2, 0]).max(&[1], false);
        },
        "max: cannot reduce over an axis of size 0",
    );
    // Reducing the other axis of an empty tensor is fine (PyTorch: shape [0]).
    let out = in_both_modes(|| vec![Tensor::zeros(&[2, 0]).max(&[0], false)]);
    assert_eq!(out[0], Vec::<f32>::new());
    // Sums of nothing are 0, as in numpy and PyTorch.
    let out = in_both_modes(|| vec![Tensor::zeros(&[0]).sum_all()]);
    assert_eq!(out[0], vec![0.0]);
}
