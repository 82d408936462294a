use needle::{module, Tensor};

#[module]
struct Layer {
    weight: Tensor,
}

#[module]
struct Grid {
    rows: Vec<Vec<Layer>>,
}

fn main() {}
