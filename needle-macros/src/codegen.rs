//! Writing the `impl Module` for a classified struct.

use proc_macro2::{TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemStruct, Type};

use crate::field::{Arity, Classified, Kind};

/// Code run for each value of a field of the given arity: `body(value, name)` receives a
/// `&T` expression and a `&str` expression for the value's name relative to the struct.
fn each(
    arity: Arity,
    access: &TokenStream,
    name: &str,
    body: impl Fn(TokenStream, TokenStream) -> TokenStream,
) -> TokenStream {
    match arity {
        Arity::One => body(quote!(&#access), quote!(#name)),
        Arity::Optional => {
            let inner = body(quote!(__v), quote!(#name));
            quote!(if let ::core::option::Option::Some(__v) = &#access { #inner })
        }
        Arity::Many => {
            let inner = body(quote!(__v), quote!(&::std::format!("{}.{}", #name, __i)));
            quote!(for (__i, __v) in #access.iter().enumerate() { #inner })
        }
    }
}

/// True when `ty` mentions one of the struct's type parameters. Such a field needs a `Module`
/// bound on the impl; a concrete type is checked where it is used instead, so that the error
/// lands on the field rather than on the impl.
fn mentions(ty: &Type, params: &[Ident]) -> bool {
    fn walk(ts: TokenStream, params: &[Ident]) -> bool {
        ts.into_iter().any(|tt| match tt {
            TokenTree::Ident(i) => params.contains(&i),
            TokenTree::Group(g) => walk(g.stream(), params),
            _ => false,
        })
    }
    walk(quote!(#ty), params)
}

/// The method bodies, filled field by field in declaration order (which is the order the
/// visitors report, and so the order optimizers see parameters in).
#[derive(Default)]
struct Bodies {
    parameters: Vec<TokenStream>,
    buffers: Vec<TokenStream>,
    modules: Vec<TokenStream>,
    set_training: Vec<TokenStream>,
    own_flag: Option<TokenStream>,
    child_flags: Vec<TokenStream>,
    config: Vec<TokenStream>,
    bounds: Vec<TokenStream>,
}

/// The `impl Module` for `item`, whose fields are `fields`, with needle-core at `krate`.
pub fn generate(item: &ItemStruct, fields: &[Classified], krate: &TokenStream) -> TokenStream {
    let module = quote!(#krate::nn::Module);
    let join = quote!(#krate::nn::join_name);
    let params: Vec<Ident> = item
        .generics
        .type_params()
        .map(|p| p.ident.clone())
        .collect();
    let mut b = Bodies::default();

    for f in fields {
        let name = f.ident.to_string();
        let id = &f.ident;
        let access = quote!(self.#id);
        match &f.kind {
            Kind::Param(arity) => b.parameters.push(each(
                *arity,
                &access,
                &name,
                |v, n| quote!(__f(&#join(__prefix, #n), #v);),
            )),
            Kind::Buffer(arity) => b.buffers.push(each(
                *arity,
                &access,
                &name,
                |v, n| quote!(__f(&#join(__prefix, #n), #v);),
            )),
            Kind::Training => {
                // Spanned at the type so that a user type that happens to be called `Training`
                // is reported on the field.
                let span = f.ty.span();
                b.set_training
                    .push(quote_spanned!(span=> #access.set(__training);));
                b.own_flag
                    .get_or_insert_with(|| quote!(::core::option::Option::Some(#access.get())));
            }
            Kind::Config => {
                if mentions(&f.ty, &params) {
                    let ty = &f.ty;
                    b.bounds.push(quote!(#ty: ::core::fmt::Debug));
                }
                // Spanned at the field so that a type without `Debug` is reported there.
                let value = quote_spanned!(f.ty.span()=> {
                    let __d: &dyn ::core::fmt::Debug = &self.#id;
                    __d
                });
                b.config
                    .push(quote!(::std::format!("{}={:?}", #name, #value)));
            }
            Kind::Skip => {}
            Kind::Module(arity, elem) => {
                if mentions(elem, &params) {
                    b.bounds.push(quote!(#elem: #module));
                }
                // Every use of a sub-module goes through the same `as_dyn_module::<Elem>` call,
                // spanned at the field's type: a type that is not a module then gives one
                // error (the trait's "neither a `Tensor` nor a `Module`"), on the field,
                // instead of one per generated method.
                let span = elem.span();
                let dyn_of =
                    |v: TokenStream| quote_spanned!(span=> #krate::nn::as_dyn_module::<#elem>(#v));
                b.parameters.push(each(*arity, &access, &name, |v, n| {
                    let m = dyn_of(v);
                    quote!(#module::visit_parameters(#m, &#join(__prefix, #n), __f);)
                }));
                b.buffers.push(each(*arity, &access, &name, |v, n| {
                    let m = dyn_of(v);
                    quote!(#module::visit_buffers(#m, &#join(__prefix, #n), __f);)
                }));
                b.modules.push(each(*arity, &access, &name, |v, n| {
                    let m = dyn_of(v);
                    quote!(__f(#n, #m);)
                }));
                b.set_training.push(each(*arity, &access, &name, |v, _| {
                    let m = dyn_of(v);
                    quote!(#module::set_training(#m, __training);)
                }));
                b.child_flags.push(each(*arity, &access, &name, |v, _| {
                    let m = dyn_of(v);
                    quote! {
                        if let ::core::option::Option::Some(__t) = #module::training_flag(#m) {
                            return ::core::option::Option::Some(__t);
                        }
                    }
                }));
            }
        }
    }
    emit(item, b, krate)
}

fn emit(item: &ItemStruct, b: Bodies, krate: &TokenStream) -> TokenStream {
    let ident = &item.ident;
    let type_name = ident.to_string();
    let module = quote!(#krate::nn::Module);
    let tensor = quote!(#krate::Tensor);
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let where_clause = match (where_clause, b.bounds.is_empty()) {
        (_, true) => quote!(#where_clause),
        (Some(w), false) => {
            let preds = w.predicates.iter();
            let bounds = &b.bounds;
            quote!(where #(#preds,)* #(#bounds),*)
        }
        (None, false) => {
            let bounds = &b.bounds;
            quote!(where #(#bounds),*)
        }
    };
    let Bodies {
        parameters,
        buffers,
        modules,
        set_training,
        own_flag,
        child_flags,
        config,
        ..
    } = b;
    // The struct's own flag wins; otherwise the first sub-module that has one speaks for it.
    let training_flag = match own_flag {
        Some(flag) => flag,
        None => quote!(#(#child_flags)* ::core::option::Option::None),
    };
    // Without config fields the trait's default (an empty string) applies.
    let extra_repr = (!config.is_empty()).then(|| {
        quote! {
            fn extra_repr(&self) -> ::std::string::String {
                let __parts = [#(#config),*];
                __parts.join(", ")
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics #module for #ident #ty_generics #where_clause {
            #[allow(unused_variables)]
            fn visit_parameters(&self, __prefix: &str, __f: &mut dyn FnMut(&str, &#tensor)) {
                #(#parameters)*
            }
            #[allow(unused_variables)]
            fn visit_buffers(&self, __prefix: &str, __f: &mut dyn FnMut(&str, &#tensor)) {
                #(#buffers)*
            }
            #[allow(unused_variables)]
            fn visit_modules(&self, __f: &mut dyn FnMut(&str, &dyn #module)) {
                #(#modules)*
            }
            #[allow(unused_variables)]
            fn set_training(&self, __training: bool) {
                #(#set_training)*
            }
            fn training_flag(&self) -> ::core::option::Option<bool> {
                #training_flag
            }
            fn type_name(&self) -> ::std::string::String {
                ::std::string::String::from(#type_name)
            }
            #extra_repr
        }
    }
}
