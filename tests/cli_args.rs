//! The train_mnist and train_cnn examples run with bad flags: one line on stderr, exit
//! status 2, nothing trained (the values are checked before the data is read).

use std::path::PathBuf;
use std::process::Command;

/// The `name` example's binary of this test's profile. `cargo test` builds the examples with the
/// tests, so it is normally there; a filtered run (`--test cli_args`) builds it first, with
/// the whole workspace's features so that nothing else is rebuilt.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir.join("examples").join(name);
    if !bin.exists() {
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build
            .args(["build", "--quiet", "--workspace", "--examples"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().unwrap();
        assert!(status.success(), "building the example failed: {status}");
    }
    bin
}

#[test]
fn bad_flags_exit_with_status_2_and_one_line_on_stderr() {
    let bin = example("train_mnist");
    for (args, message) in [
        (&["--batch", "0"][..], "--batch: must be at least 1, got 0"),
        (&["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (
            &["--epochs", "many"],
            "--epochs: \"many\" is not a whole number",
        ),
        (&["--batch"], "--batch needs a value (see --help)"),
        (&["--lr", "1"], "unknown flag \"--lr\" (see --help)"),
    ] {
        let out = Command::new(&bin).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("train_mnist: {message}\n"),
            "{args:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let help = Command::new(&bin).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&help.stdout),
        format!("{}\n", needle::cli::train_mnist::USAGE)
    );
}

#[test]
fn train_cnn_refuses_the_model_flag_it_has_no_use_for() {
    let bin = example("train_cnn");
    let out = Command::new(&bin)
        .args(["--model", "mlp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "train_cnn: --model is not a flag of train_cnn (see --help)\n"
    );
    assert!(out.stdout.is_empty());
    let help = Command::new(&bin).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let usage = String::from_utf8_lossy(&help.stdout).to_string();
    assert!(
        usage.starts_with("usage: train_cnn [--epochs N]"),
        "{usage}"
    );
    assert!(!usage.contains("--model"), "{usage}");
}
