use needle::module;

struct Opaque;

#[module]
struct Model {
    #[module(config)]
    setting: Opaque,
}

fn main() {}
