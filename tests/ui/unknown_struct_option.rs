use needle::{module, Tensor};

#[module(frobnicate)]
struct Model {
    weight: Tensor,
}

fn main() {}
