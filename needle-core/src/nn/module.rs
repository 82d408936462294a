//! The `Module` trait: what `#[module]` generates for a model struct.
//!
//! A module exposes its trainable parameters and its buffers (running statistics: saved, not
//! trained) in declaration order with dotted names (`blocks.0.linear1.weight`), carries a
//! training flag that `train()` / `eval()` propagate to every sub-module, and describes itself
//! like PyTorch's `print(model)`.

use std::cell::Cell;
use std::fmt::Write;

use crate::tensor::Tensor;

/// The training/evaluation flag of a module (true = training, the initial state).
///
/// Layers whose behaviour differs between training and evaluation (dropout, batch norm) hold
/// one; `#[module]` finds it by its type and sets it in `train()` / `eval()`.
#[derive(Debug)]
pub struct Training(Cell<bool>);

impl Training {
    /// Whether the owner is in training mode.
    pub fn get(&self) -> bool {
        self.0.get()
    }

    /// Sets the flag. A change alters what the owner's forward records without showing in
    /// its inputs, so it invalidates captured steps (see `needle_core::capture`).
    pub fn set(&self, training: bool) {
        if self.0.replace(training) != training {
            crate::capture::structure_changed();
        }
    }
}

impl Default for Training {
    fn default() -> Self {
        Training(Cell::new(true))
    }
}

impl Clone for Training {
    fn clone(&self) -> Self {
        Training(Cell::new(self.get()))
    }
}

/// A component of a model. Usually derived with `#[module]`; implement it by hand only for
/// containers the macro cannot see through.
///
/// Shown with a hand-written implementation (what the macro writes for you):
/// ```
/// use needle_core::nn::Module;
/// use needle_core::Tensor;
///
/// struct Scale { factor: Tensor }
/// impl Module for Scale {
///     fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
///         f(&needle_core::nn::join_name(prefix, "factor"), &self.factor);
///     }
///     fn visit_buffers(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Tensor)) {}
///     fn visit_modules(&self, _f: &mut dyn FnMut(&str, &dyn Module)) {}
///     fn set_training(&self, _training: bool) {}
///     fn training_flag(&self) -> Option<bool> { None }
///     fn type_name(&self) -> String { "Scale".into() }
/// }
/// let m = Scale { factor: Tensor::ones(&[3]) };
/// assert_eq!(m.named_parameters()[0].0, "factor");
/// assert_eq!(m.num_parameters(), 3);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither a `Tensor` nor a `Module`",
    label = "this field is not a tensor or a module",
    note = "mark plain configuration fields with `#[module(skip)]`, buffers with `#[module(buffer)]`"
)]
pub trait Module {
    /// Calls `f(name, tensor)` for every trainable parameter, in declaration order; `prefix` is
    /// this module's dotted path ("" at the root).
    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor));

    /// Calls `f(name, tensor)` for every buffer (running statistics), in declaration order.
    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor));

    /// Calls `f(field_name, child)` for every direct sub-module (Vec/array/Option elements are
    /// named by position: `blocks.0`).
    fn visit_modules(&self, f: &mut dyn FnMut(&str, &dyn Module));

    /// Sets the training flag of this module and of every sub-module.
    fn set_training(&self, training: bool);

    /// This module's training flag, or else that of its first sub-module that has one; `None`
    /// when no part of it has a flag (nothing in it behaves differently in evaluation).
    fn training_flag(&self) -> Option<bool>;

    /// Whether this module is in training mode (true when it has no flag at all).
    fn is_training(&self) -> bool {
        self.training_flag().unwrap_or(true)
    }

    /// The type's name for summaries (`Linear`, `Sequential`, …).
    fn type_name(&self) -> String;

    /// Extra configuration shown in summaries (`in_features=784, out_features=100`).
    fn extra_repr(&self) -> String {
        String::new()
    }

    /// Trainable parameters in declaration order (the order optimizers and the course use).
    fn parameters(&self) -> Vec<Tensor> {
        let mut out = Vec::new();
        self.visit_parameters("", &mut |_, t| out.push(t.clone()));
        out
    }

    /// Trainable parameters with their dotted names.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.visit_parameters("", &mut |n, t| out.push((n.to_string(), t.clone())));
        out
    }

    /// Buffers with their dotted names.
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.visit_buffers("", &mut |n, t| out.push((n.to_string(), t.clone())));
        out
    }

    /// Total number of parameter elements.
    fn num_parameters(&self) -> usize {
        let mut n = 0;
        self.visit_parameters("", &mut |_, t| n += t.numel());
        n
    }

    /// Switches this module and every sub-module to training mode.
    fn train(&self) {
        self.set_training(true);
    }

    /// Switches this module and every sub-module to evaluation mode.
    fn eval(&self) {
        self.set_training(false);
    }

    /// A readable tree like PyTorch's `print(model)`.
    fn summary(&self) -> String {
        let mut out = String::new();
        write_summary(self, &mut out, 0);
        out
    }
}

fn write_summary(module: &(impl Module + ?Sized), out: &mut String, indent: usize) {
    let mut children: Vec<(String, String)> = Vec::new();
    module.visit_modules(&mut |name, child| {
        let mut s = String::new();
        write_summary(child, &mut s, indent + 2);
        children.push((name.to_string(), s));
    });
    let _ = write!(out, "{}(", module.type_name());
    if children.is_empty() {
        out.push_str(&module.extra_repr());
        out.push(')');
        return;
    }
    let pad = " ".repeat(indent + 2);
    let extra = module.extra_repr();
    if !extra.is_empty() {
        let _ = write!(out, "\n{pad}{extra}");
    }
    for (name, s) in children {
        let _ = write!(out, "\n{pad}({name}): {s}");
    }
    let _ = write!(out, "\n{})", " ".repeat(indent));
}

/// `prefix.name`, or `name` at the root: how dotted paths are built.
pub fn join_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// `m` as a trait object. Generated code calls this instead of an `as` cast so that a field
/// whose type is not a module is reported once, on the field.
#[doc(hidden)]
pub fn as_dyn_module<M: Module>(m: &M) -> &dyn Module {
    m
}

/// A module that maps one tensor to one tensor: what `Sequential` and `Residual` chain.
pub trait Forward: Module {
    /// Applies the module.
    fn forward(&self, x: &Tensor) -> Tensor;
}

impl<M: Module + ?Sized> Module for Box<M> {
    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        (**self).visit_parameters(prefix, f)
    }
    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        (**self).visit_buffers(prefix, f)
    }
    fn visit_modules(&self, f: &mut dyn FnMut(&str, &dyn Module)) {
        (**self).visit_modules(f)
    }
    fn set_training(&self, training: bool) {
        (**self).set_training(training)
    }
    fn training_flag(&self) -> Option<bool> {
        (**self).training_flag()
    }
    fn type_name(&self) -> String {
        (**self).type_name()
    }
    fn extra_repr(&self) -> String {
        (**self).extra_repr()
    }
}

impl<M: Forward + ?Sized> Forward for Box<M> {
    fn forward(&self, x: &Tensor) -> Tensor {
        (**self).forward(x)
    }
}
