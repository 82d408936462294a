//! Generating the `Module` implementation.

use proc_macro2::{TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Error, Fields, Item, ItemStruct, LitStr, Type};

use crate::crate_path::needle_core_path;
use crate::field::{classify, Arity, Classified, Kind};

/// Options on the struct: `#[module]` or `#[module(crate = "path")]`.
fn parse_args(attr: TokenStream) -> syn::Result<Option<TokenStream>> {
    if attr.is_empty() {
        return Ok(None);
    }
    let mut path = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            let lit: LitStr = meta.value()?.parse()?;
            path = Some(lit.parse::<syn::Path>()?);
            Ok(())
        } else {
            Err(meta.error("unknown #[module] option: expected `crate = \"path\"`"))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(path.map(|p| quote!(#p)))
}

/// True when `ty` mentions one of the struct's type parameters (then the impl needs a
/// `Module` bound for it; concrete types are checked directly at the field).
fn mentions(ty: &Type, params: &[syn::Ident]) -> bool {
    fn walk(ts: TokenStream, params: &[syn::Ident]) -> bool {
        ts.into_iter().any(|tt| match tt {
            TokenTree::Ident(i) => params.contains(&i),
            TokenTree::Group(g) => walk(g.stream(), params),
            _ => false,
        })
    }
    walk(quote!(#ty), params)
}

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let krate = parse_args(attr)?.unwrap_or_else(needle_core_path);
    let item: Item = syn::parse2(item)?;
    let mut item = match item {
        Item::Struct(s) => s,
        Item::Enum(e) => {
            return Err(Error::new(
                e.enum_token.span,
                "#[module] supports structs with named fields; enums are not supported",
            ))
        }
        Item::Union(u) => {
            return Err(Error::new(
                u.union_token.span,
                "#[module] supports structs with named fields; unions are not supported",
            ))
        }
        other => {
            return Err(Error::new(
                other.span(),
                "#[module] applies to structs with named fields",
            ))
        }
    };
    let fields = classify_fields(&mut item)?;
    let body = generate(&item, &fields, &krate);
    Ok(quote! {
        #item
        #body
    })
}

fn classify_fields(item: &mut ItemStruct) -> syn::Result<Vec<Classified>> {
    match &mut item.fields {
        Fields::Named(named) => named.named.iter_mut().map(classify).collect(),
        Fields::Unnamed(f) => Err(Error::new(
            f.span(),
            "#[module] supports structs with named fields; tuple structs are not supported (name the fields)",
        )),
        Fields::Unit => Err(Error::new(
            item.ident.span(),
            "#[module] supports structs with named fields; write `struct Name {}` for a module without fields",
        )),
    }
}

/// `for`-loop or `if let` over the values of a field with the given arity, binding `$v`.
fn each(
    arity: &Arity,
    access: TokenStream,
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

fn generate(item: &ItemStruct, fields: &[Classified], krate: &TokenStream) -> TokenStream {
    let ident = &item.ident;
    let type_name = ident.to_string();
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let module = quote!(#krate::nn::Module);
    let join = quote!(#krate::nn::join_name);
    let tensor = quote!(#krate::Tensor);
    let params: Vec<syn::Ident> = item
        .generics
        .type_params()
        .map(|p| p.ident.clone())
        .collect();

    let mut visit_params = Vec::new();
    let mut visit_buffers = Vec::new();
    let mut visit_modules = Vec::new();
    let mut set_training = Vec::new();
    let mut first_training: Option<TokenStream> = None;
    let mut first_child: Vec<TokenStream> = Vec::new();
    let mut config = Vec::new();
    let mut bounds = Vec::new();

    for f in fields {
        let name = f.ident.to_string();
        let access = {
            let id = &f.ident;
            quote!(self.#id)
        };
        match &f.kind {
            Kind::Param(arity) => visit_params.push(each(
                arity,
                access,
                &name,
                |v, n| quote!(__f(&#join(__prefix, #n), #v);),
            )),
            Kind::Buffer(arity) => visit_buffers.push(each(
                arity,
                access,
                &name,
                |v, n| quote!(__f(&#join(__prefix, #n), #v);),
            )),
            Kind::Training => {
                let ty = &f.ty;
                set_training.push(quote_spanned!(ty.span()=> #access.set(__training);));
                first_training.get_or_insert_with(
                    || quote!(return ::core::option::Option::Some(#access.get());),
                );
            }
            Kind::Config => {
                let ty = &f.ty;
                let id = &f.ident;
                let value = quote_spanned!(ty.span()=> {
                    let __d: &dyn ::core::fmt::Debug = &self.#id;
                    __d
                });
                config.push(quote!(::std::format!("{}={:?}", #name, #value)));
            }
            Kind::Skip => {}
            Kind::Module(arity, elem) => {
                if mentions(elem, &params) {
                    bounds.push(quote!(#elem: #module));
                }
                let span = elem.span();
                let call = |method: TokenStream, extra: TokenStream| {
                    let access = access.clone();
                    let elem = elem.clone();
                    let module = module.clone();
                    each(
                        arity,
                        access,
                        &name,
                        move |v, _| quote_spanned!(span=> <#elem as #module>::#method(#v #extra);),
                    )
                };
                visit_params.push(each(arity, access.clone(), &name, |v, n| {
                    quote_spanned!(span=> <#elem as #module>::visit_parameters(#v, &#join(__prefix, #n), __f);)
                }));
                visit_buffers.push(each(arity, access.clone(), &name, |v, n| {
                    quote_spanned!(span=> <#elem as #module>::visit_buffers(#v, &#join(__prefix, #n), __f);)
                }));
                visit_modules.push(each(
                    arity,
                    access.clone(),
                    &name,
                    |v, n| quote_spanned!(span=> __f(#n, #krate::nn::as_dyn_module::<#elem>(#v));),
                ));
                set_training.push(call(quote!(set_training), quote!(, __training)));
                first_child.push(each(
                    arity,
                    access.clone(),
                    &name,
                    |v, _| {
                        quote_spanned!(span=> if let ::core::option::Option::Some(__t) = <#elem as #module>::training_flag(#v) {
                            return ::core::option::Option::Some(__t);
                        })
                    },
                ));
            }
        }
    }

    let is_training = match first_training {
        Some(t) => t,
        None => quote!(#(#first_child)* ::core::option::Option::None),
    };
    let extra_repr = if config.is_empty() {
        quote!()
    } else {
        quote! {
            fn extra_repr(&self) -> ::std::string::String {
                let __parts: ::std::vec::Vec<::std::string::String> = ::std::vec![#(#config),*];
                __parts.join(", ")
            }
        }
    };
    let where_clause = match (where_clause, bounds.is_empty()) {
        (_, true) => quote!(#where_clause),
        (Some(w), false) => {
            let preds = &w.predicates;
            quote!(where #preds, #(#bounds),*)
        }
        (None, false) => quote!(where #(#bounds),*),
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #module for #ident #ty_generics #where_clause {
            #[allow(unused_variables)]
            fn visit_parameters(&self, __prefix: &str, __f: &mut dyn FnMut(&str, &#tensor)) {
                #(#visit_params)*
            }
            #[allow(unused_variables)]
            fn visit_buffers(&self, __prefix: &str, __f: &mut dyn FnMut(&str, &#tensor)) {
                #(#visit_buffers)*
            }
            #[allow(unused_variables)]
            fn visit_modules(&self, __f: &mut dyn FnMut(&str, &dyn #module)) {
                #(#visit_modules)*
            }
            #[allow(unused_variables)]
            fn set_training(&self, __training: bool) {
                #(#set_training)*
            }
            #[allow(unreachable_code)]
            fn training_flag(&self) -> ::core::option::Option<bool> {
                #is_training
            }
            fn type_name(&self) -> ::std::string::String {
                ::std::string::String::from(#type_name)
            }
            #extra_repr
        }
    }
}
