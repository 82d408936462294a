//! needle-macros: the `#[module]` procedural macro of needle-rs.
