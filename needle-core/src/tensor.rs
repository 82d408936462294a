//! The user-facing tensor handle. Its random constructors are in `random`, the tensors the
//! library fills on the host at every step in `host`.

mod host;
mod random;

use std::fmt;
use std::panic::Location;
use std::rc::Rc;

use crate::backend::realize_nodes;
use crate::dtype::DType;
use crate::mode::{is_grad_enabled, mode, Mode};
use crate::node::{Inputs, Node, NodeRef, TensorCell, Update};
use crate::op::Op;
use crate::pending::register_pending_assignment;
use crate::shape::{fmt_shape, numel, valid_numel, Dims, Shape};
use crate::storage::{filled_vec, Realized};

/// A tensor: a cheap, reference-counted handle to a graph node.
///
/// Cloning a `Tensor` clones the handle (both names see the same variable, its gradient and
/// its assignments). Ops return new tensors and, depending on the [`Mode`], compute at once
/// (eager) or only record (lazy, JIT); reading a value (`to_vec`, `item`, printing) runs
/// whatever is pending.
///
/// ```
/// use needle_core::Tensor;
/// let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
/// let b = (&a * 2.0 + 1.0).sum_all();
/// assert_eq!(b.item(), 24.0);
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Rc<TensorCell>);

impl Tensor {
    /// Wraps a freshly recorded node; this handle becomes its owner (gradient sink).
    pub(crate) fn own(node: NodeRef) -> Tensor {
        let t = Tensor(Rc::new(TensorCell::new(node)));
        t.node().set_owner(Rc::downgrade(&t.0));
        t
    }

    /// A handle on an existing node that does not claim it (used while building gradients).
    pub(crate) fn view_of(node: NodeRef) -> Tensor {
        Tensor(Rc::new(TensorCell::new(node)))
    }

    /// Records an op node (shape inference already done by the caller) and, in eager mode,
    /// computes it immediately.
    #[track_caller]
    pub(crate) fn record(op: Op, inputs: Inputs, shape: Dims, dtype: DType) -> Tensor {
        if crate::shape::checked_numel(&shape).is_none() {
            crate::shape::valid_numel(&op.name(), &shape);
        }
        let differentiable = op.is_differentiable();
        let requires_grad =
            differentiable && is_grad_enabled() && inputs.iter().any(|n| n.requires_grad());
        let node = Node::new(op, inputs, shape, dtype, requires_grad, Location::caller());
        if mode() == Mode::Eager {
            crate::interp::compute_node(&node);
        }
        Tensor::own(node)
    }

    /// A tensor holding realized data.
    #[track_caller]
    pub(crate) fn from_realized(value: Realized) -> Tensor {
        Tensor::own(Node::leaf(value, false, Location::caller()))
    }

    /// A tensor holding `value` (for backends: a replayed step's outputs; internal).
    #[doc(hidden)]
    #[track_caller]
    pub fn from_value(value: Realized) -> Tensor {
        Tensor::from_realized(value)
    }

    /// A handle on the variable `cell` (for backends: a replayed step returning a variable;
    /// internal).
    #[doc(hidden)]
    pub fn from_cell(cell: Rc<TensorCell>) -> Tensor {
        Tensor(cell)
    }

    /// The variable this handle names (for backends; internal).
    #[doc(hidden)]
    pub fn cell(&self) -> &Rc<TensorCell> {
        &self.0
    }

    /// The node this handle currently denotes (for backends and inspection; internal).
    #[doc(hidden)]
    pub fn node(&self) -> NodeRef {
        self.0.node.borrow().clone()
    }

    // ---------------------------------------------------------------- creation

    /// A tensor of `shape` from row-major f32 data. Panics when the length does not match.
    #[track_caller]
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Tensor {
        assert_eq!(
            data.len(),
            valid_numel("from_vec", shape),
            "from_vec: {} values do not fill shape {}",
            data.len(),
            fmt_shape(shape)
        );
        Tensor::from_realized(Realized::from_f32(data, shape))
    }

    /// A tensor of `shape` copied from a slice.
    #[track_caller]
    pub fn from_slice(data: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_vec(data.to_vec(), shape)
    }

    /// An i64 tensor (labels, indices) of `shape` from row-major data.
    #[track_caller]
    pub fn from_vec_i64(data: Vec<i64>, shape: &[usize]) -> Tensor {
        assert_eq!(
            data.len(),
            valid_numel("from_vec_i64", shape),
            "from_vec_i64: {} values do not fill shape {}",
            data.len(),
            fmt_shape(shape)
        );
        Tensor::from_realized(Realized::from_i64(data, shape))
    }

    /// A 0-d f32 tensor.
    #[track_caller]
    pub fn scalar(value: f32) -> Tensor {
        Tensor::from_vec(vec![value], &[])
    }

    /// A tensor of `shape` filled with `value`.
    #[track_caller]
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Tensor::filled("full", shape, value)
    }

    /// Zeros of `shape`.
    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::filled("zeros", shape, 0.0)
    }

    /// Ones of `shape`.
    #[track_caller]
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::filled("ones", shape, 1.0)
    }

    /// `shape` filled with `value`; `op` names the caller's function in errors.
    #[track_caller]
    fn filled(op: &str, shape: &[usize], value: f32) -> Tensor {
        let n = valid_numel(op, shape);
        Tensor::from_vec(filled_vec(n, value, || format!("{op} {shape:?}")), shape)
    }

    /// Zeros of this tensor's shape.
    #[track_caller]
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(&self.shape())
    }

    /// Ones of this tensor's shape.
    #[track_caller]
    pub fn ones_like(&self) -> Tensor {
        Tensor::ones(&self.shape())
    }

    /// `[start, start+step, …)` below `end` (f32), like `torch.arange`.
    #[track_caller]
    pub fn arange(start: f32, end: f32, step: f32) -> Tensor {
        assert!(
            step != 0.0 && step.is_finite() && start.is_finite() && end.is_finite(),
            "arange: start {start}, end {end} and step {step} must be finite, step non-zero"
        );
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        valid_numel("arange", &[n]);
        let data: Vec<f32> = (0..n).map(|i| start + i as f32 * step).collect();
        Tensor::from_vec(data, &[n])
    }

    /// `[0, 1, …, n)` as i64.
    #[track_caller]
    pub fn arange_i64(n: usize) -> Tensor {
        valid_numel("arange_i64", &[n]);
        Tensor::from_vec_i64((0..n as i64).collect(), &[n])
    }

    /// The n×n identity.
    #[track_caller]
    pub fn eye(n: usize) -> Tensor {
        let mut data = filled_vec(valid_numel("eye", &[n, n]), 0.0, || format!("eye({n})"));
        for i in 0..n {
            data[i * n + i] = 1.0;
        }
        Tensor::from_vec(data, &[n, n])
    }

    /// Rows of the n×n identity selected by integer `labels`: shape `labels.shape + [n]`.
    /// Panics naming the label when one is outside `0..n`.
    #[track_caller]
    pub fn one_hot(n: usize, labels: &Tensor) -> Tensor {
        let values = labels.to_vec_i64();
        let mut shape = labels.shape();
        shape.push(n);
        let mut data = filled_vec(valid_numel("one_hot", &shape), 0.0, || {
            format!("one_hot {shape:?}")
        });
        for (row, &v) in values.iter().enumerate() {
            assert!(
                (0..n as i64).contains(&v),
                "one_hot: label {v} at position {row} is outside 0..{n}"
            );
            data[row * n + v as usize] = 1.0;
        }
        Tensor::from_vec(data, &shape)
    }

    // ---------------------------------------------------------------- reading

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.0.node.borrow().shape().to_vec()
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.0.node.borrow().shape().len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(self.0.node.borrow().shape())
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.node.borrow().dtype()
    }

    /// Computes this tensor (and every pending assignment) if it is not yet computed.
    #[track_caller]
    pub fn realize(&self) -> &Tensor {
        let node = self.node();
        if !node.is_realized() {
            realize_nodes(&[node]);
        }
        self
    }

    /// Computes several tensors in one backend run (one compiled program in JIT mode).
    #[track_caller]
    pub fn realize_all(tensors: &[&Tensor]) {
        let nodes: Vec<NodeRef> = tensors.iter().map(|t| t.node()).collect();
        realize_nodes(&nodes);
    }

    /// The realized value (computing it first; internal: read values with `to_vec`).
    #[doc(hidden)]
    #[track_caller]
    pub fn value(&self) -> Realized {
        crate::capture::note_read(Location::caller());
        self.realize();
        self.node().value().expect("realized").clone()
    }

    /// True when the value is computed.
    pub fn is_realized(&self) -> bool {
        self.0.node.borrow().is_realized()
    }

    /// The elements as f32, row-major (i64 tensors are converted).
    #[track_caller]
    pub fn to_vec(&self) -> Vec<f32> {
        let v = self.value();
        match v.buffer.dtype() {
            DType::F32 => v.to_f32_vec(),
            DType::I64 => v.to_i64_vec().into_iter().map(|x| x as f32).collect(),
        }
    }

    /// The elements as i64, row-major. Panics on an f32 tensor, saying how to read or convert
    /// it.
    #[track_caller]
    pub fn to_vec_i64(&self) -> Vec<i64> {
        let dtype = self.dtype();
        if dtype != DType::I64 {
            panic!(
                "to_vec_i64: tensor {} has dtype {dtype} (read it with .to_vec(), or convert \
                 with .cast(DType::I64), which truncates toward zero)",
                fmt_shape(&self.shape())
            );
        }
        self.value().to_i64_vec()
    }

    /// The single element of a one-element tensor. Panics naming the shape otherwise.
    #[track_caller]
    pub fn item(&self) -> f32 {
        let n = self.numel();
        assert_eq!(
            n,
            1,
            "item: tensor of shape {} has {n} elements, not 1",
            fmt_shape(&self.shape())
        );
        self.to_vec()[0]
    }

    /// True when both tensors read the same underlying buffer (views share it).
    #[track_caller]
    pub fn shares_buffer(&self, other: &Tensor) -> bool {
        let (a, b) = (self.value(), other.value());
        std::sync::Arc::ptr_eq(&a.buffer, &b.buffer)
    }

    /// True when both handles are the same variable.
    pub fn same_handle(&self, other: &Tensor) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    // ---------------------------------------------------------------- autodiff state

    /// Whether gradients flow to this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.node.borrow().requires_grad()
    }

    /// Marks a leaf tensor as a variable to differentiate (or not). Returns the same handle.
    /// Panics on a non-leaf: its requirement follows from its inputs.
    #[track_caller]
    pub fn requires_grad_(self, requires_grad: bool) -> Tensor {
        let node = self.node();
        if node.requires_grad() == requires_grad {
            return self;
        }
        assert!(
            *node.op() == Op::Leaf,
            "requires_grad_: only leaf tensors can change it (this is a {} result)",
            node.op().name()
        );
        let new = match node.value() {
            Some(v) => Node::leaf(v.clone(), requires_grad, Location::caller()),
            None => {
                let n = Node::new(
                    Op::Leaf,
                    node.with_inputs(|inputs| inputs.iter().cloned().collect()),
                    Dims::from_slice(node.shape()),
                    node.dtype(),
                    requires_grad,
                    Location::caller(),
                );
                register_pending_assignment(&n);
                n
            }
        };
        self.replace_node(new);
        self
    }

    /// True for tensors not produced by a differentiable op (data, parameters, detached values).
    pub fn is_leaf(&self) -> bool {
        let node = self.node();
        *node.op() == Op::Leaf || !node.requires_grad()
    }

    /// The gradient left by the last `backward`, if any.
    pub fn grad(&self) -> Option<Tensor> {
        let grad = self.0.grad.borrow().clone().map(Tensor);
        if grad.is_none() {
            crate::capture::note_missing_grad(&self.0);
        }
        grad
    }

    /// Replaces (or clears) the stored gradient. In lazy and JIT mode a pending gradient is
    /// computed with the next realization, as those `backward` stores are (so a clipped
    /// gradient is a value after the step, like the one it replaced).
    pub fn set_grad(&self, grad: Option<Tensor>) {
        if let Some(g) = &grad {
            crate::pending::register_pending_value(&g.node());
        }
        *self.0.grad.borrow_mut() = grad.map(|t| t.0);
    }

    /// Clears the stored gradient (the course's `reset_grad`).
    pub fn zero_grad(&self) {
        self.set_grad(None);
    }

    /// Asks `backward` to keep this non-leaf tensor's gradient too (leaves always keep theirs).
    pub fn retain_grad(&self) -> &Tensor {
        self.0.retains_grad.set(true);
        self
    }

    pub(crate) fn retains_grad(&self) -> bool {
        self.0.retains_grad.get()
    }

    /// A tensor with the same value and no history (`requires_grad` false). Shares the
    /// buffer when realized; otherwise denotes the pending value without keeping gradients.
    #[track_caller]
    pub fn detach(&self) -> Tensor {
        let node = self.node();
        match node.value() {
            Some(v) => {
                let t = Tensor::own(Node::leaf(v.clone(), false, Location::caller()));
                crate::capture::note_alias(&t.node(), &node);
                t
            }
            None => {
                let n = Node::new(
                    Op::Leaf,
                    smallvec::smallvec![node.clone()],
                    Dims::from_slice(node.shape()),
                    node.dtype(),
                    false,
                    Location::caller(),
                );
                Tensor::own(n)
            }
        }
    }

    /// Gives this variable a new value (the course's `.data = …`), keeping its identity,
    /// gradient flag and gradient. Graphs recorded earlier still see the old value, but can no
    /// longer be differentiated: `backward` through them panics naming this call. In lazy
    /// and JIT mode the new value stays pending and is computed with the next realization,
    /// together with whatever produced it (a whole optimizer step in one program). When the
    /// pending work has grown past [`max_pending_nodes`](crate::pending::max_pending_nodes)
    /// in a loop that never reads, an assignment at a step boundary realizes it first (see
    /// [`crate::pending`]).
    ///
    /// Panics when the shape or dtype differ.
    #[track_caller]
    pub fn assign(&self, value: &Tensor) {
        self.assign_by(value, "assign");
    }

    /// [`assign`](Self::assign) for an update made by `by` (`"opt.step()"`), the name a
    /// `backward` through a graph recorded before it reports.
    #[track_caller]
    pub(crate) fn assign_by(&self, value: &Tensor, by: &'static str) {
        let new = value.node();
        let requires_grad = {
            let old = self.node();
            assert!(
                old.shape() == new.shape() && old.dtype() == new.dtype(),
                "assign: value of shape {} {} does not match variable of shape {} {}",
                fmt_shape(new.shape()),
                new.dtype(),
                fmt_shape(old.shape()),
                old.dtype()
            );
            old.requires_grad()
        };
        if !new.is_realized() {
            // Without a reference to the old value: a realization here may update it in place.
            crate::backend::before_pending_assignment(&self.0);
        }
        let node = match new.value() {
            Some(v) => {
                crate::capture::note_realized_assign(Location::caller());
                Node::leaf(v.clone(), requires_grad, Location::caller())
            }
            None => {
                let n = Node::new(
                    Op::Leaf,
                    smallvec::smallvec![new.clone()],
                    Dims::from_slice(new.shape()),
                    new.dtype(),
                    requires_grad,
                    Location::caller(),
                );
                register_pending_assignment(&n);
                crate::capture::note_assignment(&n);
                n
            }
        };
        self.node().mark_superseded(Update {
            by,
            at: Location::caller(),
        });
        self.replace_node(node);
    }

    fn replace_node(&self, node: NodeRef) {
        node.set_owner(Rc::downgrade(&self.0));
        *self.0.node.borrow_mut() = node;
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = self.shape();
        let is_integer = self.dtype() == DType::I64;
        let values: Vec<f64> = if is_integer {
            self.to_vec_i64().into_iter().map(|v| v as f64).collect()
        } else {
            self.to_vec().into_iter().map(f64::from).collect()
        };
        let opts = crate::display::FormatOptions {
            requires_grad: self.requires_grad(),
            is_integer,
        };
        f.write_str(&crate::display::format_tensor(&shape, &values, &opts))
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = self.node();
        write!(
            f,
            "Tensor({:?}, {}, {})",
            node.shape(),
            node.dtype(),
            node.op().name()
        )?;
        if node.is_realized() {
            write!(f, " = {self}")?;
        }
        Ok(())
    }
}
