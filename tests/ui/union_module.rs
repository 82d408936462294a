use needle::module;

#[module]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
