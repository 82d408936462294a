//! Options written on the struct: `#[module]` or `#[module(crate = "path")]`.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::{LitStr, Path};

/// The struct-level options.
#[derive(Default)]
pub struct StructArgs {
    /// `crate = "path"`: where needle-core is, for crates that reach it through a re-export.
    pub krate: Option<Path>,
}

/// Field options are the likeliest thing to be written on the struct by mistake, so they get
/// their own message.
const FIELD_OPTIONS: [&str; 3] = ["skip", "config", "buffer"];

impl StructArgs {
    /// Parses the tokens inside `#[module(...)]` on the struct.
    pub fn parse(attr: TokenStream) -> syn::Result<StructArgs> {
        let mut args = StructArgs::default();
        let parser = syn::meta::parser(|meta| args.option(meta));
        syn::parse::Parser::parse2(parser, attr)?;
        Ok(args)
    }

    fn option(&mut self, meta: ParseNestedMeta) -> syn::Result<()> {
        if meta.path.is_ident("crate") {
            if self.krate.is_some() {
                return Err(meta.error("`crate` is given twice"));
            }
            let lit: LitStr = meta.value()?.parse()?;
            self.krate = Some(lit.parse()?);
            return Ok(());
        }
        if FIELD_OPTIONS.iter().any(|o| meta.path.is_ident(o)) {
            return Err(meta.error(
                "this is a field option: write it on a field; on the struct #[module] takes only `crate = \"path\"`",
            ));
        }
        Err(meta.error("unknown #[module] option: on the struct it takes only `crate = \"path\"`"))
    }
}
