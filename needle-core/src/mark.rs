//! Per-node scratch marks for graph traversals.
//!
//! Every training step sorts its graph topologically (autodiff, the interpreter, the JIT) and
//! the JIT numbers the nodes it collects. Keeping "visited" and "position" in a hash table
//! keyed by node id cost a hash insert and a lookup per node and edge; a mark stored in the
//! node itself costs a load and a compare. A mark is valid only for the [`Marking`] that
//! wrote it: each marking takes a fresh epoch, so marks of earlier traversals read as unset
//! without ever being cleared.
//!
//! One marking is active per thread at a time ([`Marking::begin`] returns `None` while another
//! is): a traversal started from inside another would overwrite the outer one's marks, so
//! such nested traversals use a table of their own instead.

use std::cell::Cell;

use crate::node::Node;

thread_local! {
    static EPOCH: Cell<u64> = const { Cell::new(0) };
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// The right to mark nodes on this thread, for one traversal (released when dropped).
///
/// ```
/// use needle_core::mark::Marking;
/// use needle_core::Tensor;
/// let x = Tensor::ones(&[2]);
/// let marks = Marking::begin().expect("no other marking is active");
/// assert_eq!(marks.get(&x.node()), None);
/// marks.set(&x.node(), 7);
/// assert_eq!(marks.get(&x.node()), Some(7));
/// assert!(Marking::begin().is_none(), "one marking at a time");
/// drop(marks);
/// let again = Marking::begin().unwrap();
/// assert_eq!(again.get(&x.node()), None, "a new marking starts with every node unmarked");
/// ```
pub struct Marking {
    epoch: u64,
}

impl Marking {
    /// Starts a marking with every node unmarked, or `None` when this thread already has an
    /// active one.
    pub fn begin() -> Option<Marking> {
        if ACTIVE.with(|a| a.replace(true)) {
            return None;
        }
        let epoch = EPOCH.with(|e| {
            let next = e.get() + 1;
            e.set(next);
            next
        });
        Some(Marking { epoch })
    }

    /// The value this marking stored on `node`, if any.
    #[inline]
    pub fn get(&self, node: &Node) -> Option<u32> {
        let (epoch, value) = node.mark.get();
        (epoch == self.epoch).then_some(value)
    }

    /// Stores `value` on `node` for this marking.
    #[inline]
    pub fn set(&self, node: &Node, value: u32) {
        node.mark.set((self.epoch, value));
    }
}

impl Drop for Marking {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(false));
    }
}
