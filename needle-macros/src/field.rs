//! Classifying a struct field: parameter, buffer, training flag, config, skipped or sub-module.

use syn::{Attribute, Error, Field, GenericArgument, Ident, PathArguments, Type};

/// How many values a field holds, which decides how they are named.
#[derive(Clone, Copy)]
pub enum Arity {
    /// `T`: named by the field.
    One,
    /// `Option<T>`: named by the field when present.
    Optional,
    /// `Vec<T>` or `[T; N]`: named `field.0`, `field.1`, …
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
    /// Sub-module(s); the type is the element type, which must implement `Module`.
    Module(Arity, Box<Type>),
}

/// A classified field.
pub struct Classified {
    /// The field's name.
    pub ident: Ident,
    /// Its declared type.
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

/// Matching the last segment only accepts `Tensor`, `needle::Tensor` and `needle_core::Tensor`
/// alike; a type not recognised by name (an alias, say) falls through to "sub-module", where the
/// compiler rejects it on the field if it is not one.
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

/// Splits a container type into its arity and element type.
///
/// `Box<T>` is not unwrapped: needle-core implements `Module` for `Box<M: ?Sized>`, so keeping
/// the box also covers `Box<dyn Forward>` and unsized type parameters.
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

/// Whether `ty` is itself one of the containers `container` opens.
fn is_container(ty: &Type) -> bool {
    !matches!(container(ty).0, Arity::One)
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

/// Classifies a named field and removes its `#[module]` attributes: they are the macro's, and
/// left in place they would be an unknown attribute to the compiler.
pub fn classify(field: &mut Field) -> syn::Result<Classified> {
    let ident = field.ident.clone().expect("named field");
    let marker = marker(&field.attrs)?;
    field.attrs.retain(|a| !a.path().is_ident("module"));
    let ty = field.ty.clone();
    let (arity, elem) = container(&ty);
    let elem_is_tensor = is_named(elem, "Tensor");
    let nested = || {
        Error::new_spanned(
            &ty,
            "#[module] sees through one level of Vec / Option / array only; wrap the inner collection in its own #[module] struct",
        )
    };
    let kind = match marker {
        Some(Marker::Skip) => Kind::Skip,
        Some(Marker::Config) => Kind::Config,
        Some(Marker::Buffer) if elem_is_tensor => Kind::Buffer(arity),
        Some(Marker::Buffer) if is_container(elem) => return Err(nested()),
        Some(Marker::Buffer) => {
            return Err(Error::new_spanned(
                &ty,
                "#[module(buffer)] needs a `Tensor` field (or an Option, Vec or array of Tensor); mark other state #[module(skip)]",
            ))
        }
        None if is_named(&ty, "Training") => Kind::Training,
        None if elem_is_tensor => Kind::Param(arity),
        None if is_container(elem) => return Err(nested()),
        None => Kind::Module(arity, Box::new(elem.clone())),
    };
    Ok(Classified { ident, ty, kind })
}
