//! Errors at the API's edge: a `Linear` fed the wrong width names the layer, its
//! `in_features` and the input's shape (and how to flatten an image batch), and `to_vec_i64`
//! on an f32 tensor says how to read or convert it.

use needle::nn::{Forward, Linear};
use needle::Tensor;

#[test]
#[should_panic(
    expected = "Linear(in_features=784, out_features=10): the last axis of input [8, 28, 28, 1] \
                has size 1, not in_features = 784; to use it as (batch, features), flatten it \
                first: x.flatten(1, -1) has shape [8, 784]"
)]
fn linear_fed_an_image_batch_says_to_flatten_it() {
    Linear::new(784, 10).forward(&Tensor::zeros(&[8, 28, 28, 1]));
}

#[test]
#[should_panic(
    expected = "Linear(in_features=4, out_features=2): the last axis of input [3, 5] has size \
                5, not in_features = 4"
)]
fn linear_fed_the_wrong_width_names_layer_and_shape() {
    Linear::new(4, 2).forward(&Tensor::zeros(&[3, 5]));
}

#[test]
fn linear_wrong_width_has_no_flatten_hint_for_a_matrix() {
    let err = std::panic::catch_unwind(|| Linear::new(4, 2).forward(&Tensor::zeros(&[3, 5])))
        .expect_err("a panic");
    let message = err.downcast_ref::<String>().unwrap();
    assert!(!message.contains("flatten"), "{message}");
}

#[test]
#[should_panic(
    expected = "Linear(in_features=4, out_features=2): input must be f32, got i64 [3, 4] \
                (convert with .to_f32())"
)]
fn linear_rejects_integer_input() {
    Linear::new(4, 2).forward(&Tensor::from_vec_i64(vec![0; 12], &[3, 4]));
}

#[test]
#[should_panic(
    expected = "Linear(in_features=4, out_features=2): input must have at least one axis, got \
                shape []"
)]
fn linear_rejects_a_scalar() {
    Linear::new(4, 2).forward(&Tensor::scalar(1.0));
}

#[test]
fn linear_still_takes_batched_input_of_the_right_width() {
    let y = Linear::new(4, 2).forward(&Tensor::zeros(&[5, 3, 4]));
    assert_eq!(y.shape(), vec![5, 3, 2]);
}

#[test]
#[should_panic(
    expected = "to_vec_i64: tensor [2] has dtype f32 (read it with .to_vec(), or convert with \
                .cast(DType::I64), which truncates toward zero)"
)]
fn to_vec_i64_on_f32_says_how_to_convert() {
    Tensor::zeros(&[2]).to_vec_i64();
}

#[test]
fn linear_takes_a_single_sample() {
    // PyTorch: Linear(4, 2)(x) for x of shape (4,) is (2,), the row of x[None] @ W + b.
    needle::manual_seed(3);
    let layer = Linear::new(4, 2);
    let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.25], &[4]);
    let y = layer.forward(&x);
    assert_eq!(y.shape(), vec![2]);
    assert_eq!(y.to_vec(), layer.forward(&x.reshape(&[1, 4])).to_vec());
}
