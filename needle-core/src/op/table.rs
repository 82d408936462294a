//! The table macros that turn one line per elementwise op into its enum variant, name and
//! f32 function, and the kernel traits through which every backend receives that function.
//!
//! A family's file (`unary.rs`, `scalar.rs`, `binary.rs`) is a single invocation: adding an
//! op there gives it a name, a reference function (the interpreter's kernel and the JIT's
//! host helpers both call it) and a place in the family's `ALL` list, all from one line.

/// A kernel generic over a unary op's function. [`UnaryOp::dispatch`](super::UnaryOp::dispatch)
/// calls [`apply`](UnaryKernel::apply) with the op's own function or closure type, so a kernel
/// loop generic over it is compiled, inlined and vectorized once per op rather than calling
/// through a function pointer per element.
pub trait UnaryKernel {
    /// What the kernel produces.
    type Output;
    /// Runs the kernel with the op's function `f`.
    fn apply(self, f: impl Fn(f32) -> f32) -> Self::Output;
}

/// A kernel generic over the function of a two-operand op: a [`BinaryOp`](super::BinaryOp)
/// `f(a, b)`, or a [`ScalarOp`](super::ScalarOp) `f(x, c)` with its constant as `c`. See
/// [`UnaryKernel`] for why the function arrives as a type of its own.
pub trait BinaryKernel {
    /// What the kernel produces.
    type Output;
    /// Runs the kernel with the op's function `f`.
    fn apply(self, f: impl Fn(f32, f32) -> f32) -> Self::Output;
}

/// Defines a unary family from one line per op: `Variant => "name", f32 function;`.
macro_rules! unary_table {
    ($(#[$enum_doc:meta])* $Enum:ident {
        $( $(#[$doc:meta])* $Op:ident => $name:literal, $f:expr; )*
    }) => {
        $(#[$enum_doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $Enum {
            $( $(#[$doc])* $Op, )*
        }

        impl $Enum {
            /// Every op of the family, in table order.
            pub const ALL: &'static [$Enum] = &[$($Enum::$Op),*];

            /// The op's name in messages and debug output.
            pub fn name(self) -> &'static str {
                match self {
                    $($Enum::$Op => $name,)*
                }
            }

            /// The op's reference function on f32: what every backend computes, bit for bit.
            pub fn f32_fn(self) -> fn(f32) -> f32 {
                match self {
                    $($Enum::$Op => $f,)*
                }
            }

            /// Runs `kernel` with this op's function as a type of its own (see
            /// [`UnaryKernel`](crate::op::UnaryKernel)).
            #[inline]
            pub fn dispatch<K: $crate::op::UnaryKernel>(self, kernel: K) -> K::Output {
                match self {
                    $($Enum::$Op => kernel.apply($f),)*
                }
            }
        }
    };
}

/// Defines a family of two-operand ops (binary, or tensor-with-constant) from one line per
/// op: `Variant => "name", f32 function;` for arithmetic, and `Variant => "name";` for a
/// comparison, whose variant names the [`Comparison`](crate::op::Comparison) it computes.
macro_rules! binary_table {
    ($(#[$enum_doc:meta])* $Enum:ident {
        arithmetic { $( $(#[$doc:meta])* $Op:ident => $name:literal, $f:expr; )* }
        comparisons { $( $(#[$cdoc:meta])* $Cmp:ident => $cname:literal; )* }
    }) => {
        $(#[$enum_doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $Enum {
            $( $(#[$doc])* $Op, )*
            $( $(#[$cdoc])* $Cmp, )*
        }

        impl $Enum {
            /// Every op of the family, in table order.
            pub const ALL: &'static [$Enum] = &[$($Enum::$Op,)* $($Enum::$Cmp),*];

            /// The op's name in messages and debug output.
            pub fn name(self) -> &'static str {
                match self {
                    $($Enum::$Op => $name,)*
                    $($Enum::$Cmp => $cname,)*
                }
            }

            /// The comparison this op computes, `None` for arithmetic.
            pub fn comparison(self) -> Option<$crate::op::Comparison> {
                match self {
                    $($Enum::$Op => None,)*
                    $($Enum::$Cmp => Some($crate::op::Comparison::$Cmp),)*
                }
            }

            /// Comparisons produce 0/1 masks and have no gradient.
            pub fn is_comparison(self) -> bool {
                self.comparison().is_some()
            }

            /// The op's reference function on f32 (for a scalar op, of `(x, c)`): what every
            /// backend computes, bit for bit.
            pub fn f32_fn(self) -> fn(f32, f32) -> f32 {
                match self {
                    $($Enum::$Op => $f,)*
                    $($Enum::$Cmp => |a, b| $crate::op::Comparison::$Cmp.mask(a, b),)*
                }
            }

            /// Runs `kernel` with this op's function as a type of its own (see
            /// [`BinaryKernel`](crate::op::BinaryKernel)).
            #[inline]
            pub fn dispatch<K: $crate::op::BinaryKernel>(self, kernel: K) -> K::Output {
                match self {
                    $($Enum::$Op => kernel.apply($f),)*
                    $($Enum::$Cmp => {
                        kernel.apply(|a, b| $crate::op::Comparison::$Cmp.mask(a, b))
                    })*
                }
            }
        }
    };
}
