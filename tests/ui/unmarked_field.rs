use needle::{module, Tensor};

#[module]
struct Model {
    weight: Tensor,
    lr: f32,
}

fn main() {}
