use needle::{module, Tensor};

#[module]
struct Model {
    weight: Tensor,
    rates: Vec<f32>,
}

fn main() {}
