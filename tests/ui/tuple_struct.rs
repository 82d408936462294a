use needle::module;

#[module]
struct Pair(f32, f32);

fn main() {}
