use needle::module;

#[module]
struct Model {
    #[module(buffer)]
    steps: usize,
}

fn main() {}
