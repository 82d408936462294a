//! The backend interface and the realization of pending graphs.
//!
//! needle-core runs graphs itself with the interpreter; a compiling backend (needle-jit)
//! implements [`Backend`] and is registered with [`register_jit_backend`]. needle-core knows
//! nothing else about it.

use std::sync::OnceLock;

use std::rc::Rc;

use crate::interp::Interpreter;
use crate::mode::{mode, Mode};
use crate::node::{NodeRef, TensorCell};

/// Why a backend could not run a graph.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend cannot compile or run this op.
    #[error("{backend}: op {op} is not supported ({detail})")]
    Unsupported {
        /// Backend name.
        backend: &'static str,
        /// The op's name.
        op: String,
        /// Why.
        detail: String,
    },
    /// Generated code detected an out-of-bounds access (checked mode).
    #[error("{backend}: out-of-bounds access in kernel {kernel} (op {op}): index {index} not in 0..{len}")]
    OutOfBounds {
        /// Backend name.
        backend: &'static str,
        /// Kernel name.
        kernel: String,
        /// Op that made the access.
        op: String,
        /// The offending index.
        index: i64,
        /// The buffer length.
        len: usize,
    },
    /// Any other failure, described.
    #[error("{backend}: {message}")]
    Other {
        /// Backend name.
        backend: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// Something that can compute the values of graph nodes.
///
/// `realize` receives the nodes whose values are wanted; it must compute every unrealized
/// ancestor they need and call `Node::set_value` on each requested node (and may on others).
pub trait Backend: Send + Sync {
    /// A short name for messages.
    fn name(&self) -> &'static str;
    /// Computes and stores the values of `outputs`.
    fn realize(&self, outputs: &[NodeRef]) -> Result<(), BackendError>;
}

/// The interpreter is the backend of eager and lazy mode. Its implementation is here rather
/// than in `interp` so the interpreter depends on nothing of the realization machinery.
impl Backend for Interpreter {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn realize(&self, outputs: &[NodeRef]) -> Result<(), BackendError> {
        self.run(outputs);
        Ok(())
    }
}

static JIT_BACKEND: OnceLock<Box<dyn Backend>> = OnceLock::new();

/// Registers the backend used in [`Mode::Jit`]. The first registration wins; later calls
/// are ignored (returns false).
pub fn register_jit_backend(backend: Box<dyn Backend>) -> bool {
    JIT_BACKEND.set(backend).is_ok()
}

/// True once a JIT backend is registered.
pub fn jit_backend_registered() -> bool {
    JIT_BACKEND.get().is_some()
}

pub use crate::pending::pending_assignments;

/// True when `node` is realized, or is a view (or pending assignment) of a realized tensor —
/// in which case it is realized now, sharing its source's buffer.
fn resolve_view(node: &NodeRef) -> bool {
    if node.is_realized() {
        return true;
    }
    if node.op().aliases_input(node.num_inputs()) && resolve_view(&node.input(0)) {
        node.set_value(crate::interp::evaluate(node));
        return true;
    }
    false
}

/// Computes the values of `nodes` (and of every pending assignment) with the current mode's
/// backend: the interpreter in eager and lazy mode, the registered JIT in JIT mode.
///
/// Panics with the backend's error: a failed realization is a bug or an unsupported op, and a
/// value cannot be returned without it.
#[track_caller]
pub fn realize_nodes(nodes: &[NodeRef]) {
    crate::capture::note_read(std::panic::Location::caller());
    // Views of realized tensors need no computation: resolved here, so reading a batch's
    // labels (a slice of the dataset) does not also run the pending updates mid-step.
    let outputs: Vec<NodeRef> = nodes.iter().filter(|n| !resolve_view(n)).cloned().collect();
    if outputs.is_empty() {
        return;
    }
    realize_with_pending(outputs);
}

/// Computes every pending assignment and stored gradient now (what the next read would
/// compute anyway; see [`crate::pending`]).
#[track_caller]
pub fn realize_pending() {
    crate::capture::note_read(std::panic::Location::caller());
    realize_with_pending(Vec::new());
}

#[track_caller]
fn realize_with_pending(mut outputs: Vec<NodeRef>) {
    crate::pending::add_pending(&mut outputs);
    if outputs.is_empty() {
        crate::pending::realized();
        return;
    }
    outputs.sort_by_key(|n| n.id());
    outputs.dedup_by_key(|n| n.id());
    let result = match mode() {
        Mode::Eager | Mode::Lazy => crate::interp::Interpreter.realize(&outputs),
        Mode::Jit => match JIT_BACKEND.get() {
            Some(b) => b.realize(&outputs),
            None => panic!(
                "NEEDLE_MODE=jit / Mode::Jit needs the needle-jit backend: call \
                 `needle::init()` (or `needle_jit::install()`) before running the model"
            ),
        },
    };
    if let Err(e) = result {
        panic!("realize failed: {e}");
    }
    crate::pending::realized();
}

/// Called by [`assign`](crate::Tensor::assign) before it records a pending new value of
/// `variable`: at a step boundary past the bound, realizes the pending work first (see
/// [`crate::pending`]).
#[track_caller]
pub(crate) fn before_pending_assignment(variable: &Rc<TensorCell>) {
    if crate::pending::at_step_boundary(variable) {
        realize_pending();
        // The assignment about to be recorded is the first since this realization.
        crate::pending::assigned_first(variable);
    }
}
