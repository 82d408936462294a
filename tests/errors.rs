//! Shape errors panic at the caller's line, naming the op and both shapes, in every mode.

use std::sync::{Arc, Mutex};

use needle::{with_mode, Mode, Tensor};

/// Runs `f`, expecting a panic; returns its message and the file:line it was reported at.
fn panic_site(f: impl FnOnce() + std::panic::UnwindSafe) -> (String, String) {
    let site = Arc::new(Mutex::new(String::new()));
    let captured = site.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(loc) = info.location() {
            *captured.lock().unwrap() = format!("{}:{}", loc.file(), loc.line());
        }
    }));
    let result = std::panic::catch_unwind(f);
    std::panic::set_hook(previous);
    let err = result.expect_err("expected a panic");
    let message = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    let site = site.lock().unwrap().clone();
    (message, site)
}

#[test]
fn shape_errors_name_op_shapes_and_the_callers_line() {
    for mode in [Mode::Eager, Mode::Lazy, Mode::Jit] {
        let (msg, site) = panic_site(move || {
            with_mode(mode, || {
                let a = Tensor::zeros(&[2, 3]);
                let b = Tensor::zeros(&[4]);
                let line = line!() + 1;
                let _ = &a + &b;
                panic!("unreachable {line}");
            })
        });
        assert_eq!(msg, "add: shapes [2, 3] and [4] are not broadcastable");
        assert!(site.starts_with("tests/errors.rs:"), "reported at {site}");
    }
    let (msg, site) = panic_site(|| {
        let _ = Tensor::zeros(&[2, 3]).matmul(&Tensor::zeros(&[2, 3]));
    });
    assert_eq!(
        msg,
        "matmul: shapes [2, 3] and [2, 3] are not compatible (inner sizes 3 and 2 differ)"
    );
    assert!(site.starts_with("tests/errors.rs:"), "reported at {site}");
    let (msg, _) = panic_site(|| {
        let _ = Tensor::zeros(&[2, 3]).reshape(&[4]);
    });
    assert_eq!(
        msg,
        "reshape: cannot reshape [2, 3] (6 elements) into [4] (4 elements)"
    );
    let (msg, _) = panic_site(|| {
        let _ = Tensor::zeros(&[2, 3]).sum(&[2], false);
    });
    assert_eq!(msg, "sum: axis 2 is out of range for shape [2, 3]");
    let (msg, _) = panic_site(|| {
        let _ = Tensor::zeros(&[2, 3]).broadcast_to(&[3, 3]);
    });
    assert_eq!(
        msg,
        "broadcast_to: shape [2, 3] cannot be broadcast to [3, 3]"
    );
    let (msg, _) = panic_site(|| {
        let _ = Tensor::concat(&[Tensor::zeros(&[2, 3]), Tensor::zeros(&[3, 3])], 1);
    });
    assert!(
        msg.starts_with("concat: tensor 1 has shape [3, 3] f32, incompatible"),
        "{msg}"
    );
    let (msg, _) = panic_site(|| {
        let _ = Tensor::from_vec_i64(vec![1], &[1]).exp();
    });
    assert!(msg.contains("exp: dtype i64 is not supported"), "{msg}");
}
