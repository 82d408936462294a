//! Product order, part of placement: an elementwise step that reads a 2-D product through
//! a permuted view — a convolution's NCHW view of its (C_out, N·Ho·Wo) product — is
//! re-indexed to walk the product in the product's own order and stores its result in that
//! order. The product's epilogue can then take it (see `fuse.rs`: a convolution's bias, and
//! in eval mode its BatchNorm and ReLU, run on the GEMM's rows), and what follows a
//! convolution stays channel-major, so its gradient reaches the weight's product without a
//! copy. Elementwise results do not depend on the order they are computed in.

use needle_core::layout::Layout;
use needle_core::op::Op;
use needle_core::shape::{contiguous_strides, numel};

use super::kernel::Kernel;
use super::planner::Planner;

impl Planner<'_> {
    /// Elementwise `kernel` re-indexed to walk, in its own order, a 2-D product (or a value
    /// stored in a product's order) that it reads through a permuted view — a convolution's
    /// NCHW view of its (C_out, N·Ho·Wo) product — and the strides at which the node then
    /// reads its compact output, laid out as the product of that shape is. The product's
    /// epilogue can then take the kernel (fuse.rs),
    /// and what follows a convolution stays in its channel-major order. Elementwise results
    /// do not depend on the order they are computed in. `None` when the kernel reads no such
    /// value, already walks it in order, or an input cannot follow.
    pub(super) fn in_product_order(
        &self,
        node: usize,
        kernel: &Kernel,
    ) -> Option<(Kernel, Vec<isize>, [usize; 2])> {
        let compact = contiguous_strides(&kernel.shape);
        if numel(&kernel.shape) == 0 {
            return None;
        }
        for a in &kernel.inputs {
            let Some(product) = self.product_order.get(&a.slot) else {
                continue;
            };
            if a.offset != 0 || a.strides == compact {
                continue;
            }
            // The kernel's axes (but size 1) outermost first as the product is laid out.
            let mut axes: Vec<usize> = (0..kernel.shape.len())
                .filter(|&d| kernel.shape[d] > 1)
                .collect();
            axes.sort_by_key(|&d| std::cmp::Reverse(a.strides[d]));
            let shape: Vec<usize> = axes.iter().map(|&d| kernel.shape[d]).collect();
            let read: Vec<isize> = axes.iter().map(|&d| a.strides[d]).collect();
            if read != contiguous_strides(&shape) {
                continue;
            }
            let strides: Vec<Vec<isize>> = kernel
                .inputs
                .iter()
                .map(|b| axes.iter().map(|&d| b.strides[d]).collect())
                .collect();
            // Over the product's two axes when every input can walk them, otherwise over the
            // kernel's own axes in the product's order: the output is laid out the same.
            let (shape, strides) = match merged_into(&shape, &strides, product) {
                Some(merged) => (product.to_vec(), merged),
                None => (shape, strides),
            };
            // The node's strides: the product's, with compact ones on its axes of size 1
            // (which address nothing, but a GEMM reading the node looks at them).
            let compact_strides = contiguous_strides(&kernel.shape);
            let node_strides: Vec<isize> = (0..kernel.shape.len())
                .map(|d| {
                    if kernel.shape[d] == 1 {
                        compact_strides[d]
                    } else {
                        a.strides[d]
                    }
                })
                .collect();
            if !self.products_read_alike(node, &node_strides) {
                return None;
            }
            let mut k = kernel.clone();
            k.shape = shape;
            for (b, s) in k.inputs.iter_mut().zip(strides) {
                b.strides = s;
            }
            return Some((k, node_strides, *product));
        }
        None
    }

    /// Whether every matrix product that reads node `i` through views gets the operand
    /// strides eager mode gives it (where `i` is compact) when `i` is stored at `strides`:
    /// the gemm crate picks its kernels by the operands' strides, and they differ in the sign
    /// of zero results, and the library GEMM's thread split depends on them. A reshape that
    /// a layout cannot express is a compact copy in both modes, and so is an operand with a
    /// negative stride.
    fn products_read_alike(&self, i: usize, strides: &[isize]) -> bool {
        let shape = self.shape(i);
        let stored = Layout {
            shape: shape.to_vec(),
            strides: strides.to_vec(),
            offset: 0,
        };
        self.read_alike_from(i, &stored, &Layout::contiguous(shape))
    }

    /// [`Self::products_read_alike`] from node `i`, which the JIT reads at `jit` and eager
    /// mode at `eager`.
    fn read_alike_from(&self, i: usize, jit: &Layout, eager: &Layout) -> bool {
        self.consumers[i].iter().all(|&c| {
            let node = &self.graph.nodes[c];
            let op = node.op();
            if *op == Op::MatMul {
                let operand = |l: &Layout| {
                    if l.strides.iter().any(|&s| s < 0) {
                        contiguous_strides(&l.shape)
                    } else {
                        l.strides.clone()
                    }
                };
                return operand(jit) == operand(eager);
            }
            if !op.is_view() {
                return true;
            }
            let view = |l: &Layout| match op {
                Op::Reshape => l
                    .reshape(node.shape())
                    .unwrap_or_else(|| Layout::contiguous(node.shape())),
                Op::Permute(p) => l.permute(p),
                Op::Expand => l.expand(node.shape()),
                Op::Slice { starts, steps } => l.slice(starts, steps, node.shape()),
                Op::Flip(axes) => l.flip(axes),
                _ => unreachable!("a view op"),
            };
            self.read_alike_from(c, &view(jit), &view(eager))
        })
    }

    /// The 2-D order `kernel` walks when it reads a value stored in a product's order in that
    /// order (the compact layout of its own shape).
    pub(super) fn walks_in_order(&self, kernel: &Kernel) -> Option<[usize; 2]> {
        let [m, n] = kernel.shape[..] else {
            return None;
        };
        let compact = contiguous_strides(&kernel.shape);
        kernel
            .inputs
            .iter()
            .any(|a| {
                a.offset == 0
                    && a.strides == compact
                    && self.product_order.get(&a.slot) == Some(&[m, n])
            })
            .then_some([m, n])
    }
}

/// `kernel` (with `strides` for its inputs) over `to`, a shape with the same elements whose
/// axes are runs of the kernel's: each input's strides merged within each run, or `None`
/// when an input cannot walk a run as one axis.
fn merged_into(shape: &[usize], strides: &[Vec<isize>], to: &[usize]) -> Option<Vec<Vec<isize>>> {
    let mut merged = vec![Vec::with_capacity(to.len()); strides.len()];
    let mut axis = 0;
    for &target in to {
        let mut size = 1;
        let mut first = true;
        while size < target || (first && target == 1) {
            let d = *shape.get(axis)?;
            for (m, s) in merged.iter_mut().zip(strides) {
                if first {
                    m.push(s[axis]);
                } else {
                    let last = m.last_mut().expect("pushed at the run's first axis");
                    if *last != s[axis] * d as isize {
                        return None;
                    }
                    *last = s[axis];
                }
            }
            size *= d;
            first = false;
            axis += 1;
        }
        if size != target {
            return None;
        }
    }
    (axis == shape.len()).then_some(merged)
}
