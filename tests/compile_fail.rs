//! Misuses of `#[module]` are compile errors with a clear message on the offending code.

#[test]
fn module_misuse_is_rejected() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
