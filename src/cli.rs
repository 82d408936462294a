//! Minimal `--flag value` parsing shared by the examples, and the full command line of
//! `train_mnist` ([`train_mnist`]).

pub mod train_mnist;

use std::num::{IntErrorKind, ParseIntError};
use std::str::FromStr;

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

/// Parses a count that must be at least 1 (epochs, steps, sizes) or exits naming the flag.
pub fn positive(flag: &str, value: &str) -> usize {
    parse_positive(flag, value).unwrap_or_else(|e| fail(&e))
}

/// A whole number for `flag`, or a one-line message saying what is wrong with `value`.
pub fn parse_whole<T: FromStr<Err = ParseIntError>>(flag: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|e: ParseIntError| match e.kind() {
        IntErrorKind::PosOverflow => format!("{flag}: {value} is too large"),
        _ => format!("{flag}: {value:?} is not a whole number"),
    })
}

/// A whole number of at least 1 for `flag`, or a one-line message.
pub fn parse_positive(flag: &str, value: &str) -> Result<usize, String> {
    match parse_whole(flag, value)? {
        0 => Err(format!("{flag}: must be at least 1, got 0")),
        n => Ok(n),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_positive_numbers_name_the_flag_and_the_value() {
        assert_eq!(parse_whole::<u64>("--seed", "42"), Ok(42));
        assert_eq!(
            parse_whole::<u64>("--seed", "-1"),
            Err("--seed: \"-1\" is not a whole number".into())
        );
        assert_eq!(
            parse_whole::<u64>("--seed", "99999999999999999999"),
            Err("--seed: 99999999999999999999 is too large".into())
        );
        assert_eq!(
            parse_whole::<usize>("--batch", ""),
            Err("--batch: \"\" is not a whole number".into())
        );
        assert_eq!(parse_positive("--batch", "64"), Ok(64));
        assert_eq!(
            parse_positive("--batch", "0"),
            Err("--batch: must be at least 1, got 0".into())
        );
        assert_eq!(
            parse_positive("--epochs", "2.5"),
            Err("--epochs: \"2.5\" is not a whole number".into())
        );
    }
}
