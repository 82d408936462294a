//! needle-jit: the Cranelift backend of needle-rs (compiles whole training steps).
//!
//! This crate is being built up; until its code generator lands, [`install`] is not
//! available and JIT mode reports that it needs this backend.
