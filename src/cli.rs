//! Minimal `--flag value` parsing shared by the examples.

use needle_core::Mode;

/// The command line as `(flag, value)` pairs; every flag takes one value.
///
/// Exits with a message when a flag has no value.
pub fn flag_pairs() -> Vec<(String, String)> {
    let mut args = std::env::args().skip(1);
    let mut pairs = Vec::new();
    while let Some(flag) = args.next() {
        match args.next() {
            Some(value) => pairs.push((flag, value)),
            None => fail(&format!("{flag} needs a value")),
        }
    }
    pairs
}

/// Parses a number flag or exits naming it.
pub fn number<T: std::str::FromStr>(flag: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| fail(&format!("{flag}: {value:?} is not a number")))
}

/// Parses `--mode` or exits.
pub fn mode(value: &str) -> Mode {
    Mode::parse(value)
        .unwrap_or_else(|| fail(&format!("--mode: {value:?} is not eager, lazy or jit")))
}

/// Prints `message` and exits with status 2 (bad usage).
pub fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}
