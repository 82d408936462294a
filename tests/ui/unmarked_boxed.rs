use needle::{module, Tensor};

#[module]
struct Model {
    weight: Tensor,
    schedule: Option<Box<dyn Fn(usize) -> f32>>,
}

fn main() {}
