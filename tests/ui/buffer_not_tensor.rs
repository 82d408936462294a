use needle::{module, Tensor};

#[module]
struct Model {
    weight: Tensor,
    #[module(buffer)]
    steps: usize,
}

fn main() {}
