//! needle-macros: the `#[module]` procedural macro of needle-rs.

mod crate_path;
mod expand;
mod field;

use proc_macro::TokenStream;

/// Derives `needle_core::nn::Module` for a struct with named fields (generic or not).
///
/// Each field is classified by its `#[module(..)]` marker, else by its type:
///
/// | field | role |
/// | --- | --- |
/// | `Tensor`, `Option<Tensor>`, `Vec<Tensor>`, `[Tensor; N]` | trainable parameter(s) |
/// | `#[module(buffer)]` on a tensor field | buffer: saved in checkpoints, not trained |
/// | `Training` | the module's train/eval flag |
/// | `#[module(config)]` | configuration: shown in the summary (must be `Debug`), not a tensor |
/// | `#[module(skip)]` | ignored |
/// | any other type, or `Vec` / `Option` / array / `Box` of it | sub-module(s) (must implement `Module`) |
///
/// Parameters are visited in field order with dotted names (`blocks.0.linear.weight`), which is
/// the order optimizers see, as in the course's `parameters()`. A field that is neither a tensor
/// nor a module does not compile, with the error on that field.
///
/// The generated code names the library through the path the using crate knows it by:
/// `::needle_core` in needle-core itself (which declares `extern crate self as needle_core`)
/// and in crates depending on needle-core, `::needle::core` in crates depending only on the
/// `needle` facade; `#[module(crate = "path")]` overrides it.
///
/// ```ignore
/// use needle::prelude::*;
/// use needle::nn::{Forward, Linear, Training};
///
/// #[module]
/// struct Mlp {
///     layers: Vec<Linear>,
///     #[module(buffer)]
///     steps_seen: Tensor,
///     training: Training,
///     #[module(config)]
///     hidden: usize,
/// }
/// ```
#[proc_macro_attribute]
pub fn module(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand::expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}
