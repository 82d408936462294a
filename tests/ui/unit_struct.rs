use needle::module;

#[module]
struct Nothing;

fn main() {}
