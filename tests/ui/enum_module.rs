use needle::module;

#[module]
enum Layer {
    A,
    B,
}

fn main() {}
