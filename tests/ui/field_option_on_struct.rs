use needle::{module, Tensor};

#[module(skip)]
struct Model {
    weight: Tensor,
}

fn main() {}
