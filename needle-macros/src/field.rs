//! Classifying a struct field: parameter, buffer, training flag, config, skipped or sub-module.

use syn::spanned::Spanned;
use syn::{Attribute, Error, Field, GenericArgument, Ident, PathArguments, Type};

/// How many values a field holds.
#[derive(Clone)]
pub enum Arity {
    /// `T`
    One,
    /// `Option<T>`
    Optional,
    /// `Vec<T>` or `[T; N]`
    Many,
}

/// What a field is to the module.
pub enum Kind {
    /// Trainable tensor(s).
    Param(Arity),
    /// Buffer tensor(s).
    Buffer(Arity),
    /// The train/eval flag.
    Training,
    /// Configuration shown in the summary.
    Config,
    /// Ignored.
    Skip,
    /// Sub-module(s) whose element type is the given type.
    Module(Arity, Box<Type>),
}

/// A classified field.
pub struct Classified {
    /// The field's name.
    pub ident: Ident,
    /// Its type.
    pub ty: Type,
    /// Its role.
    pub kind: Kind,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == name && s.arguments.is_none())
}

/// The single type argument of `Name<T>`.
fn inner_of<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let seg = last_segment(ty)?;
    if seg.ident != name {
        return None;
    }
    match &seg.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// Splits a container type into its arity and element type (`Box<T>` counts as `T`).
fn container(ty: &Type) -> (Arity, &Type) {
    if let Some(t) = inner_of(ty, "Option") {
        return (Arity::Optional, t);
    }
    if let Some(t) = inner_of(ty, "Vec") {
        return (Arity::Many, t);
    }
    if let Type::Array(a) = ty {
        return (Arity::Many, &a.elem);
    }
    (Arity::One, ty)
}

enum Marker {
    Skip,
    Config,
    Buffer,
}

fn marker(attrs: &[Attribute]) -> syn::Result<Option<Marker>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            let m = if meta.path.is_ident("skip") {
                Marker::Skip
            } else if meta.path.is_ident("config") {
                Marker::Config
            } else if meta.path.is_ident("buffer") {
                Marker::Buffer
            } else {
                return Err(meta.error(
                    "unknown #[module] field option: expected `skip`, `config` or `buffer`",
                ));
            };
            if found.is_some() {
                return Err(meta.error("a field takes at most one of `skip`, `config`, `buffer`"));
            }
            found = Some(m);
            Ok(())
        })?;
    }
    Ok(found)
}

/// Classifies a named field and removes its `#[module]` attributes (they are ours).
pub fn classify(field: &mut Field) -> syn::Result<Classified> {
    let ident = field.ident.clone().expect("named field");
    let marker = marker(&field.attrs)?;
    field.attrs.retain(|a| !a.path().is_ident("module"));
    let ty = field.ty.clone();
    let (arity, elem) = container(&ty);
    let elem_is_tensor = is_named(elem, "Tensor");
    let kind = match marker {
        Some(Marker::Skip) => Kind::Skip,
        Some(Marker::Config) => Kind::Config,
        Some(Marker::Buffer) if elem_is_tensor => Kind::Buffer(arity),
        Some(Marker::Buffer) => {
            return Err(Error::new(
                ty.span(),
                "#[module(buffer)] needs a `Tensor` field (or Option/Vec/array of Tensor)",
            ))
        }
        None if is_named(&ty, "Training") => Kind::Training,
        None if elem_is_tensor => Kind::Param(arity),
        None => {
            let elem = match inner_of(elem, "Box") {
                Some(inner) if !matches!(inner, Type::TraitObject(_)) => inner.clone(),
                _ => elem.clone(),
            };
            if inner_of(&elem, "Vec").is_some() || inner_of(&elem, "Option").is_some() {
                return Err(Error::new(
                    ty.span(),
                    "#[module] does not see through nested containers; wrap the inner collection in its own #[module] struct",
                ));
            }
            Kind::Module(arity, Box::new(elem))
        }
    };
    Ok(Classified { ident, ty, kind })
}
