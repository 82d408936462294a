//! needle-macros: the `#[module]` attribute of needle-rs, which writes a struct's
//! `needle_core::nn::Module` implementation from its fields. Use it through `needle::module`
//! or `needle_core::module`; this crate has nothing else.

#![warn(missing_docs)]

mod args;
mod codegen;
mod crate_path;
mod expand;
mod field;

use proc_macro::TokenStream;

/// Implements `needle_core::nn::Module` for a struct with named fields (generic or not).
///
/// The struct is emitted unchanged, except that the `#[module(...)]` attributes on its fields
/// are removed.
///
/// # Fields
///
/// Each field's role comes from its `#[module(...)]` option, else from how its type is written
/// (the last path segment is what counts, so `needle::Tensor` is a `Tensor`):
///
/// | field | role |
/// | --- | --- |
/// | `#[module(skip)]` | ignored |
/// | `#[module(config)]` | shown in the summary as `name=value` (`{:?}`, so it must be `Debug`) |
/// | `#[module(buffer)]` on `Tensor`, `Option<Tensor>`, `Vec<Tensor>`, `[Tensor; N]` | buffer(s): saved, not trained |
/// | `Training` | the train/eval flag that `train()` / `eval()` set |
/// | `Tensor`, `Option<Tensor>` (when `Some`), `Vec<Tensor>`, `[Tensor; N]` | trainable parameter(s): create them with `.requires_grad_(true)` (see below) |
/// | `Option<M>`, `Vec<M>`, `[M; N]` | sub-module(s) |
/// | anything else (`Linear`, `Box<dyn Forward>`, a type parameter `B`) | a sub-module |
///
/// # Parameters train only if they require grad
///
/// A `Tensor` field is a trainable parameter, like PyTorch's `nn.Parameter`: `parameters()`
/// lists it and optimizers update it. Unlike `nn.Parameter`, requiring grad is a property of
/// the tensor, set where it is created, not by the macro: create parameters with
/// `.requires_grad_(true)` (as `Linear::new` does). A tensor that does not require grad
/// never receives a gradient, so the optimizers refuse it when they are built
/// (`Adam::new: parameter 1 (f32 [], created at src/main.rs:12:12) does not require grad …`)
/// instead of carrying it along untrained. State that is saved but not trained (running
/// statistics, counters) is a `#[module(buffer)]`. To freeze a parameter, turn its gradient
/// off (`p.clone().requires_grad_(false)`, which changes the shared variable) and give the
/// optimizer only the others: `model.parameters().into_iter().filter(|p| p.requires_grad())`.
///
/// Names are dotted paths: a field's name, `field.i` for the elements of a `Vec` or array
/// (`blocks.1.lin.weight`), the field's name for the content of an `Option`. Parameters and
/// buffers are visited strictly in field declaration order, own tensors and sub-modules
/// interleaved as declared: that is the order optimizers and checkpoints see.
///
/// `train()` / `eval()` reach the struct's own `Training` field and every sub-module, including
/// those inside a `Vec`, `Option`, array or `Box`. `is_training()` reads the struct's own flag,
/// else the first sub-module that has one, else answers `true`. `type_name()` is the struct's
/// name without generics; `extra_repr()` lists the config fields (`in=4, out=2`), and is left
/// to the trait's default when there are none.
///
/// A sub-module field's type must implement `Module`; when it names a type parameter, the
/// impl gets the bound (`B: Module`), and a config field naming one gets `T: Debug`. A field
/// that is neither a tensor nor a module (`lr: f32`) does not compile, and the error
/// ("`f32` is neither a `Tensor` nor a `Module`") is on that field: mark it `skip` or `config`.
///
/// Rejected with an error on the offending item: enums, unions, tuple and unit structs,
/// unknown options, `buffer` on a non-tensor type, containers nested in containers
/// (`Vec<Vec<M>>`: give the inner collection its own `#[module]` struct).
///
/// # Where the generated code finds needle-core
///
/// A proc macro only emits tokens, so it must name needle-core the way the *using* crate can.
/// It reads the using package's Cargo.toml (via `proc-macro-crate`) and Cargo's variables:
///
/// 1. in needle-core's own library target (package `needle-core`, `CARGO_CRATE_NAME` =
///    `needle_core`, not a binary, not a doctest): `crate`;
/// 2. in other targets of needle-core (doctests, integration tests, which are separate crates
///    linking the library): `::needle_core` (needle-core also declares
///    `extern crate self as needle_core`, so this would be right in the library as well);
/// 3. in a package that depends on needle-core, under whatever name it is renamed to:
///    `::that_name` — this includes the `needle` facade package and all its targets, since
///    it depends on needle-core;
/// 4. in a package that depends only on the facade `needle` (possibly renamed):
///    `::needle::core`.
///
/// A crate that reaches needle through some other re-export says where it is with
/// `#[module(crate = "path::to::needle_core")]`, which overrides the rule. That is the only
/// option the struct-level attribute takes.
///
/// # Example
///
/// (Not compiled here, since this crate cannot depend on needle; the same model is compiled
/// and checked in needle's `tests/module_macro.rs`.)
///
/// ```ignore
/// use needle::nn::{Module, Training};
/// use needle::{module, Tensor};
///
/// #[module]
/// struct Affine {
///     weight: Tensor,
///     bias: Option<Tensor>,
///     #[module(config)]
///     features: usize,
/// }
///
/// impl Affine {
///     fn new(features: usize, bias: bool) -> Affine {
///         Affine {
///             // Parameters require grad, or the optimizers refuse them.
///             weight: Tensor::zeros(&[features, features]).requires_grad_(true),
///             bias: bias.then(|| Tensor::zeros(&[1, features]).requires_grad_(true)),
///             features,
///         }
///     }
/// }
///
/// #[module]
/// struct Model {
///     input: Affine,
///     blocks: Vec<Affine>,
///     #[module(buffer)]
///     steps_seen: Tensor,
///     training: Training,
///     #[module(config)]
///     depth: usize,
///     #[module(skip)]
///     label: String,
/// }
///
/// let model = Model {
///     input: Affine::new(4, true),
///     blocks: vec![Affine::new(4, false), Affine::new(4, true)],
///     steps_seen: Tensor::zeros(&[1]),
///     training: Training::default(),
///     depth: 2,
///     label: "demo".into(),
/// };
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(
///     names,
///     ["input.weight", "input.bias", "blocks.0.weight", "blocks.1.weight", "blocks.1.bias"]
/// );
/// assert_eq!(model.named_buffers()[0].0, "steps_seen");
/// model.eval();
/// assert!(!model.is_training());
/// assert_eq!(
///     model.summary(),
///     "Model(\n  depth=2\n  (input): Affine(features=4)\n  (blocks.0): Affine(features=4)\n  (blocks.1): Affine(features=4)\n)"
/// );
/// ```
#[proc_macro_attribute]
pub fn module(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match expand::expand(attr.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            let mut out = err.to_compile_error();
            out.extend(expand::fallback(item));
            out.into()
        }
    }
}
