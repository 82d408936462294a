use needle::{module, Tensor};

#[module]
struct Model {
    weight: Tensor,
    learning_rate: f32,
}

fn main() {}
