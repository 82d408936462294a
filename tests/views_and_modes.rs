//! Views share buffers in every mode; eager and lazy agree bit for bit; lazy mode defers work.

mod common;

use common::in_both_modes;
use needle::{manual_seed, with_mode, Mode, Tensor};

#[test]
fn movement_ops_are_views_in_every_mode() {
    for mode in common::MODES {
        with_mode(mode, || {
            let x = Tensor::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 4]);
            x.realize();
            let views = [
                x.reshape(&[6, 4]),
                x.permute(&[2, 0, 1]),
                x.transpose(0, 2),
                x.narrow(2, 1, 2),
                x.slice(1, 0, 3, 2),
                x.flip(&[1]),
                x.narrow(0, 0, 1).broadcast_to(&[5, 3, 4]),
            ];
            for (i, v) in views.iter().enumerate() {
                assert!(
                    v.shares_buffer(&x),
                    "view {i} copied its data in {mode:?} mode"
                );
            }
            assert_eq!(views[3].to_vec()[..4], [1.0, 2.0, 5.0, 6.0]);
            assert_eq!(views[5].to_vec()[..4], [8.0, 9.0, 10.0, 11.0]);
            // A transposed view cannot be flattened without a copy.
            let copy = x.transpose(0, 2).reshape(&[24]);
            assert!(!copy.shares_buffer(&x));
            assert_eq!(copy.to_vec()[..3], [0.0, 12.0, 4.0]);
        });
    }
}

#[test]
fn eager_and_lazy_are_bit_identical_on_a_composite_model() {
    in_both_modes(|| {
        manual_seed(11);
        let x = Tensor::randn(&[32, 20]);
        let w1 = Tensor::randn(&[20, 16]).requires_grad_(true);
        let w2 = Tensor::randn(&[16, 5]).requires_grad_(true);
        let h = x.matmul(&w1).tanh();
        let logits = (&h - &h.mean(&[0], true)).matmul(&w2);
        let loss = logits.logsumexp(&[1], false).mean_all()
            - logits.softmax(1).max(&[1], false).mean_all();
        loss.backward();
        vec![loss, w1.grad().unwrap(), w2.grad().unwrap()]
    });
}

#[test]
fn lazy_mode_defers_until_read() {
    with_mode(Mode::Lazy, || {
        let a = Tensor::ones(&[3]);
        let b = (&a * 2.0).exp();
        assert!(!b.is_realized());
        assert_eq!(b.to_vec(), vec![2f32.exp(); 3]);
        assert!(b.is_realized());
    });
    with_mode(Mode::Eager, || {
        let b = Tensor::ones(&[3]) * 2.0;
        assert!(b.is_realized());
    });
}

#[test]
fn assign_keeps_earlier_graphs_on_the_old_value() {
    with_mode(Mode::Lazy, || {
        let w = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad_(true);
        let y = &w * 10.0;
        w.assign(&(&w.detach() + 100.0));
        assert_eq!(y.to_vec(), vec![10.0, 20.0]);
        assert_eq!(w.to_vec(), vec![101.0, 102.0]);
        assert!(w.requires_grad());
    });
}

#[test]
fn pending_assignments_are_realized_with_any_read() {
    with_mode(Mode::Lazy, || {
        let w = Tensor::from_vec(vec![1.0], &[1]);
        w.assign(&(&w * 3.0));
        assert_eq!(needle::backend::pending_assignments(), 1);
        Tensor::ones(&[1]).sum_all().item();
        assert_eq!(needle::backend::pending_assignments(), 0);
        assert!(w.is_realized());
        assert_eq!(w.item(), 3.0);
    });
}

#[test]
fn mode_names_parse_like_the_environment_variable() {
    assert_eq!(Mode::parse("eager"), Some(Mode::Eager));
    assert_eq!(Mode::parse(" LAZY "), Some(Mode::Lazy));
    assert_eq!(Mode::parse("jit"), Some(Mode::Jit));
    assert_eq!(Mode::parse("fast"), None);
}

#[test]
fn integer_tensors_carry_labels() {
    let y = Tensor::from_vec_i64(vec![2, 0, 1], &[3]);
    assert_eq!(y.dtype(), needle::DType::I64);
    let oh = Tensor::one_hot(3, &y);
    assert_eq!(
        oh.to_vec(),
        vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    );
    assert_eq!(y.flip(&[0]).to_vec_i64(), vec![1, 0, 2]);
    assert_eq!(
        Tensor::concat(&[y.clone(), y.narrow(0, 0, 1)], 0).to_vec_i64(),
        vec![2, 0, 1, 2]
    );
    assert_eq!((y.to_f32() * 2.0).to_vec(), vec![4.0, 0.0, 2.0]);
    assert_eq!(Tensor::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn creation_helpers() {
    assert_eq!(
        Tensor::arange(0.0, 1.0, 0.25).to_vec(),
        vec![0.0, 0.25, 0.5, 0.75]
    );
    assert_eq!(Tensor::full(&[2], 7.0).to_vec(), vec![7.0, 7.0]);
    assert_eq!(Tensor::scalar(3.0).shape(), Vec::<usize>::new());
    assert_eq!(Tensor::zeros(&[2, 0]).numel(), 0);
    manual_seed(0);
    let b = Tensor::randb(&[10], 0.5).to_vec();
    // seed 0 draws 0.5488, 0.7152, 0.6028, 0.5449, 0.4237, 0.6459, 0.4376, 0.8918, 0.9637, 0.3834
    assert_eq!(b, vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn comparisons_produce_masks_without_gradient() {
    let a = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).requires_grad_(true);
    let b = Tensor::from_vec(vec![3.0, 2.0, 1.0], &[3]);
    assert_eq!(a.gt(&b).to_vec(), vec![0.0, 0.0, 1.0]);
    assert_eq!(a.ge(&b).to_vec(), vec![0.0, 1.0, 1.0]);
    assert_eq!(a.lt(2.0).to_vec(), vec![1.0, 0.0, 0.0]);
    assert_eq!(a.le(2.0).to_vec(), vec![1.0, 1.0, 0.0]);
    assert_eq!(a.eq(&b).to_vec(), vec![0.0, 1.0, 0.0]);
    assert_eq!(a.ne(2.0).to_vec(), vec![1.0, 0.0, 1.0]);
    assert!(!a.gt(&b).requires_grad());
}
