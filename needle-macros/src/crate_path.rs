//! Which path the generated code uses to reach needle-core.

use proc_macro2::TokenStream;
use proc_macro_crate::{crate_name, FoundCrate};
use quote::{format_ident, quote};

/// `::needle_core` (needle-core itself declares `extern crate self as needle_core`, so this also
/// works inside it and in its tests), `::<name>` for a crate depending on needle-core under any
/// name, `::<name>::core` for a crate depending on the facade only.
pub fn needle_core_path() -> TokenStream {
    if let Ok(found) = crate_name("needle-core") {
        return match found {
            FoundCrate::Itself => quote!(::needle_core),
            FoundCrate::Name(name) => {
                let ident = format_ident!("{}", name);
                quote!(::#ident)
            }
        };
    }
    match crate_name("needle") {
        Ok(FoundCrate::Name(name)) => {
            let ident = format_ident!("{}", name);
            quote!(::#ident::core)
        }
        _ => quote!(::needle::core),
    }
}
