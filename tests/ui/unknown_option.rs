use needle::module;

#[module]
struct Model {
    #[module(frobnicate)]
    weight: f32,
}

fn main() {}
