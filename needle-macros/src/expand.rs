//! Checking what `#[module]` is applied to and putting the output together.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Error, Fields, Item, ItemStruct};

use crate::args::StructArgs;
use crate::codegen::generate;
use crate::crate_path::needle_core_path;
use crate::field::{classify, Classified};

const SUPPORTED: &str = "#[module] supports structs with named fields";

/// The struct (minus the field attributes the macro consumed) followed by its `Module` impl.
pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = StructArgs::parse(attr)?;
    let mut item = match syn::parse2::<Item>(item)? {
        Item::Struct(s) => s,
        Item::Enum(e) => {
            let (kw, name) = (&e.enum_token, &e.ident);
            return Err(spanning(
                quote!(#kw #name),
                &format!(
                    "{SUPPORTED}; enums are not supported (a module holds all its fields at once)"
                ),
            ));
        }
        Item::Union(u) => {
            let (kw, name) = (&u.union_token, &u.ident);
            return Err(spanning(
                quote!(#kw #name),
                &format!("{SUPPORTED}; unions are not supported"),
            ));
        }
        other => return Err(Error::new(other.span(), SUPPORTED)),
    };
    let fields = classify_fields(&mut item)?;
    let krate = match args.krate {
        Some(path) => path.into_token_stream(),
        None => needle_core_path(),
    };
    let imp = generate(&item, &fields, &krate);
    Ok(quote! {
        #item
        #imp
    })
}

/// An error underlining `enum Name` rather than the whole item or just the keyword.
fn spanning(tokens: TokenStream, message: &str) -> Error {
    Error::new_spanned(tokens, message)
}

/// What is emitted beside an error: the item as written, minus the field attributes the macro
/// would have consumed. Keeping the item means that code using it does not add a cascade of
/// "cannot find type" errors to the one that matters.
pub fn fallback(item: TokenStream) -> TokenStream {
    let Ok(mut item) = syn::parse2::<Item>(item) else {
        return TokenStream::new();
    };
    let strip = |fields: &mut Fields| {
        for f in fields.iter_mut() {
            f.attrs.retain(|a| !a.path().is_ident("module"));
        }
    };
    match &mut item {
        Item::Struct(s) => strip(&mut s.fields),
        Item::Enum(e) => e.variants.iter_mut().for_each(|v| strip(&mut v.fields)),
        Item::Union(u) => u
            .fields
            .named
            .iter_mut()
            .for_each(|f| f.attrs.retain(|a| !a.path().is_ident("module"))),
        _ => {}
    }
    item.into_token_stream()
}

fn classify_fields(item: &mut ItemStruct) -> syn::Result<Vec<Classified>> {
    match &mut item.fields {
        Fields::Named(named) => named.named.iter_mut().map(classify).collect(),
        Fields::Unnamed(f) => Err(Error::new(
            f.span(),
            format!("{SUPPORTED}; tuple structs are not supported: name the fields, the names become the parameter names"),
        )),
        Fields::Unit => Err(Error::new(
            item.ident.span(),
            format!("{SUPPORTED}; for a module without fields write `struct {} {{}}`", item.ident),
        )),
    }
}
