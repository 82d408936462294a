//! Which path the generated code uses to reach needle-core.
//!
//! A proc macro cannot ask the compiler how the using crate names needle-core, so it reads the
//! using crate's Cargo.toml (through proc-macro-crate) and Cargo's environment instead.

use proc_macro2::TokenStream;
use proc_macro_crate::{crate_name, FoundCrate};
use quote::{format_ident, quote};

/// The path to needle-core's root as seen from the crate being compiled; see the rule in the
/// documentation of `#[module]`.
pub fn needle_core_path() -> TokenStream {
    match crate_name("needle-core") {
        Ok(FoundCrate::Itself) if compiling_needle_core_lib() => quote!(crate),
        // A doctest of needle-core: a separate crate linking the library. The library's
        // `extern crate self as needle_core` keeps `::needle_core` valid even if this guess is
        // wrong and we are in the library after all.
        Ok(FoundCrate::Itself) => quote!(::needle_core),
        Ok(FoundCrate::Name(name)) => {
            let ident = format_ident!("{}", name);
            quote!(::#ident)
        }
        Err(_) => match crate_name("needle") {
            Ok(FoundCrate::Name(name)) => {
                let ident = format_ident!("{}", name);
                quote!(::#ident::core)
            }
            // `needle` itself always also depends on needle-core (handled above); anything
            // else is a crate that reaches needle through a re-export, which must pass
            // `#[module(crate = "...")]` — this default gives it an "unresolved crate" error
            // that names the facade.
            _ => quote!(::needle::core),
        },
    }
}

/// Whether this expansion is inside needle-core's library target (including its `#[cfg(test)]`
/// unit tests), where `crate` is needle-core.
///
/// proc-macro-crate answers `Itself` for every target of the package except integration tests,
/// so the target is told apart by Cargo's variables: binaries set `CARGO_BIN_NAME`, and rustdoc
/// compiles each doctest with `UNSTABLE_RUSTDOC_TEST_PATH` set while keeping the library's
/// `CARGO_CRATE_NAME`.
fn compiling_needle_core_lib() -> bool {
    let var = |name| std::env::var_os(name);
    std::env::var("CARGO_CRATE_NAME").is_ok_and(|n| n == "needle_core")
        && var("CARGO_BIN_NAME").is_none()
        && var("UNSTABLE_RUSTDOC_TEST_PATH").is_none()
}
