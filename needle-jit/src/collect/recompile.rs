//! Why a graph was compiled again: the first part of its structural key that differs from the
//! previous program's, in words (`NEEDLE_DEBUG=jit` prints it).

use super::{node_key, Graph};

/// A node of the previous program as its schedule recorded it.
pub struct NodeWas<'a> {
    /// Op name (`"input"` for inputs).
    pub op: &'a str,
    /// Shape.
    pub shape: &'a [usize],
    /// The source line that recorded it.
    pub origin: &'a str,
}

/// What the previous program was compiled from.
pub struct Previous<'a> {
    /// Its structural key.
    pub key: &'a [u64],
    /// Where each node's part of `key` starts.
    pub key_starts: &'a [usize],
    /// Its node `i`.
    pub node: &'a dyn Fn(usize) -> NodeWas<'a>,
}

/// Which part of the structural key differs between the previous program and `graph` (for
/// the recompile message).
pub fn key_change(previous: &Previous, graph: &Graph) -> String {
    if previous.key.first() != graph.key.first() {
        return "checked mode changed".into();
    }
    let n = previous.key_starts.len().min(graph.key_starts.len());
    for i in 0..n {
        let old = node_key(previous.key, previous.key_starts, i);
        let new = graph.node_key(i);
        if old != new {
            let was = (previous.node)(i);
            let node = &graph.nodes[i];
            let now_op = if graph.is_input[i] {
                "input".to_string()
            } else {
                node.op().name()
            };
            let part = if was.op != now_op {
                "op"
            } else if was.shape != node.shape() {
                "shape"
            } else if graph.is_input[i] {
                "strides or dtype"
            } else {
                "inputs, dtype or constants"
            };
            return format!(
                "node #{i} changed its {part}: was {} {:?} (at {}), now {now_op} {:?} (at {})",
                was.op,
                was.shape,
                was.origin,
                node.shape(),
                node.origin()
            );
        }
    }
    if previous.key_starts.len() != graph.key_starts.len() {
        return format!(
            "the graph has {} nodes, the last program {}",
            graph.key_starts.len(),
            previous.key_starts.len()
        );
    }
    "the requested outputs differ".into()
}
