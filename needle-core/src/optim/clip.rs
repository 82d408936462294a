//! Gradient clipping.

use crate::tensor::Tensor;

/// Scales every gradient by min(1, max_norm / (‖g‖ + 1e-6)) where ‖g‖ is the global L2 norm over
/// all parameters' gradients (the course's `clip_grad_norm`). The scale is computed as a
/// tensor, so nothing is read back to the host; returns the total norm (lazy).
pub fn clip_grad_norm(params: &[Tensor], max_norm: f32) -> Tensor {
    let grads: Vec<(usize, Tensor)> = params
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.grad().map(|g| (i, g.detach())))
        .collect();
    let mut total = Tensor::scalar(0.0);
    for (_, g) in &grads {
        total = &total + &g.square().sum_all();
    }
    let norm = total.sqrt();
    let coef = (&norm + 1e-6).rdiv_scalar(max_norm).minimum(1.0);
    for (i, g) in grads {
        params[i].set_grad(Some(&g * &coef));
    }
    norm
}
