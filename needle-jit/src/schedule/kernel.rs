//! The pieces of a step: how a kernel reads a buffer ([`Access`]) and the fused
//! elementwise expression it evaluates per element ([`Kernel`]).

use needle_core::op::{BinaryOp, Op, ScalarOp, UnaryOp};

/// One operation of a fused expression, in evaluation order (operands refer to earlier entries
/// by index).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Load kernel input `i` (see [`Kernel::inputs`]) at the current index.
    Input(usize),
    /// Unary function of an earlier entry.
    Unary(UnaryOp, usize),
    /// Function of an earlier entry and a constant.
    Scalar(ScalarOp, f32, usize),
    /// Binary function of two earlier entries.
    Binary(BinaryOp, usize, usize),
}

impl Expr {
    /// The entry computing elementwise `op` of the entries `args` (its operands in order).
    ///
    /// Panics when `op` is not elementwise (unary, with a constant, binary).
    pub fn of(op: &Op, args: &[usize]) -> Expr {
        match op {
            Op::Unary(u) => Expr::Unary(*u, args[0]),
            Op::Scalar(s, c) => Expr::Scalar(*s, *c, args[0]),
            Op::Binary(b) => Expr::Binary(*b, args[0], args[1]),
            other => unreachable!("only elementwise ops are fused, found {}", other.name()),
        }
    }

    /// The graph op this entry computes (`None` for loads).
    pub fn op(&self) -> Option<Op> {
        match *self {
            Expr::Input(_) => None,
            Expr::Unary(u, _) => Some(Op::Unary(u)),
            Expr::Scalar(s, c, _) => Some(Op::Scalar(s, c)),
            Expr::Binary(b, _, _) => Some(Op::Binary(b)),
        }
    }
}

/// How generated code addresses a value inside a buffer slot of the program: element
/// `slot_offset + offset + Σ index[i]·strides[i]`, where `slot_offset` is the slot's runtime
/// offset (non-zero only for views handed in by the caller).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    /// The program's buffer slot.
    pub slot: usize,
    /// Stride per axis of the reading loop, in elements (0 on broadcast axes, negative when
    /// flipped).
    pub strides: Vec<isize>,
    /// Element offset relative to the slot's own offset.
    pub offset: isize,
}

/// A fused elementwise computation over `shape`: the expression is evaluated for every index
/// of the shape, reading each input through its [`Access`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kernel {
    /// Iteration shape (for an elementwise step, the output's; for a reduction, its input's).
    pub shape: Vec<usize>,
    /// The buffers read, with one stride per axis of `shape`.
    pub inputs: Vec<Access>,
    /// The expression: entries computed in order, each from loads and earlier entries.
    pub exprs: Vec<Expr>,
    /// Entries stored, compact over `shape`, in the slot given (an elementwise step's results;
    /// for a reduction's body, values of a joined producer other steps read — what it reduces
    /// is named by the step).
    pub outputs: Vec<Output>,
}

/// A value a kernel stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    /// The expression entry stored.
    pub expr: usize,
    /// The slot written (compact over the kernel's shape).
    pub slot: usize,
    /// The graph node whose value it is.
    pub node: usize,
}

impl Kernel {
    /// The ops of the expression, comma-separated (for debug output).
    pub fn ops(&self) -> String {
        let ops: Vec<String> = self
            .exprs
            .iter()
            .filter_map(|e| e.op().map(|o| o.name()))
            .collect();
        if ops.is_empty() {
            "copy".into()
        } else {
            ops.join(",")
        }
    }

    /// Appends `other` (a kernel over the same shape, whose inputs are all available when this
    /// one runs) so that one loop computes both. `other`'s loads of this kernel's outputs
    /// become references to the computed values. Returns `None` (changing nothing) when
    /// `other` reads one of this kernel's outputs through a different access (another
    /// element), which one loop cannot provide. On success, returns where each of `other`'s
    /// entries now is.
    pub fn absorb(&mut self, other: &Kernel) -> Option<Vec<usize>> {
        let identity = needle_core::shape::contiguous_strides(&self.shape);
        let own_outputs = self.outputs.clone();
        let own = |a: &Access| own_outputs.iter().find(|o| o.slot == a.slot).copied();
        for a in &other.inputs {
            if own(a).is_some() && (a.strides != identity || a.offset != 0) {
                return None;
            }
        }
        let mut map = Vec::with_capacity(other.exprs.len());
        for e in &other.exprs {
            let new = match *e {
                Expr::Input(k) => {
                    let access = &other.inputs[k];
                    match own(access) {
                        Some(o) => o.expr,
                        None => self.load(access),
                    }
                }
                Expr::Unary(u, x) => self.push(Expr::Unary(u, map[x])),
                Expr::Scalar(op, c, x) => self.push(Expr::Scalar(op, c, map[x])),
                Expr::Binary(op, x, y) => self.push(Expr::Binary(op, map[x], map[y])),
            };
            map.push(new);
        }
        for o in &other.outputs {
            self.outputs.push(Output {
                expr: map[o.expr],
                ..*o
            });
        }
        Some(map)
    }

    /// The entry loading `access` (added when new).
    pub fn load(&mut self, access: &Access) -> usize {
        let input = match self.inputs.iter().position(|a| a == access) {
            Some(i) => i,
            None => {
                self.inputs.push(access.clone());
                self.inputs.len() - 1
            }
        };
        match self.exprs.iter().position(|e| *e == Expr::Input(input)) {
            Some(at) => at,
            None => self.push(Expr::Input(input)),
        }
    }

    /// The entry computing `e`: an earlier one computing the same (kernels joined by fusion
    /// often recompute a shared value, see `recompute.rs`), or a new one. Constants compare
    /// by their bits: `x · 0` and `x · −0` differ.
    fn push(&mut self, e: Expr) -> usize {
        let same = |x: &Expr| match (x, &e) {
            (Expr::Scalar(o1, c1, a1), Expr::Scalar(o2, c2, a2)) => {
                o1 == o2 && c1.to_bits() == c2.to_bits() && a1 == a2
            }
            _ => *x == e,
        };
        if let Some(at) = self.exprs.iter().position(same) {
            return at;
        }
        self.exprs.push(e);
        self.exprs.len() - 1
    }

    /// Elements from which an elementwise kernel or a sum is split across threads (see
    /// [`needle_core::threads`] and `codegen/sum_rows.rs`). Waking the helper costs a few
    /// microseconds, about what 2^15 elements take; at 2^17 (W7's smallest BatchNorm, 64·64·7·7
    /// = 200,704) the split pays, and at the 2^20 this was with rayon's pool, W7's three
    /// BatchNorms ran on one thread.
    pub const PARALLEL_ELEMENTS: usize = 1 << 17;

    /// True when the kernel runs on several threads, each over chunks of its outermost axis.
    pub fn parallel(&self) -> bool {
        self.shape.len() >= 2
            && self.shape[0] >= 2
            && self.shape.iter().product::<usize>() >= Self::PARALLEL_ELEMENTS
    }

    /// A long one-axis kernel viewed as 64 rows, so that it can be split across threads by
    /// rows (inputs keep their per-element stride, rows are 1/64 of the length apart).
    pub fn rows_for_threads(mut self) -> Kernel {
        const ROWS: usize = 64;
        if let [n] = self.shape[..] {
            if n >= Self::PARALLEL_ELEMENTS && n % (ROWS * 4) == 0 {
                let row = n / ROWS;
                self.shape = vec![ROWS, row];
                for a in &mut self.inputs {
                    let s = a.strides[0];
                    a.strides = vec![s * row as isize, s];
                }
            }
        }
        self
    }

    /// Merges neighbouring axes that every input walks as one run, and drops size-1 axes, so
    /// most kernels become one flat loop. The output is compact, so its axes always merge.
    /// Only for elementwise kernels: a reduction's row structure fixes its summation order.
    pub fn collapsed(mut self) -> Kernel {
        let mut shape: Vec<usize> = Vec::new();
        let mut strides: Vec<Vec<isize>> = vec![Vec::new(); self.inputs.len()];
        for (axis, &size) in self.shape.iter().enumerate() {
            if size == 1 {
                continue;
            }
            let mergeable = !shape.is_empty()
                && self.inputs.iter().zip(&strides).all(|(a, acc)| {
                    *acc.last().expect("same length") == a.strides[axis] * size as isize
                });
            if mergeable {
                *shape.last_mut().expect("non-empty") *= size;
                for (a, acc) in self.inputs.iter().zip(strides.iter_mut()) {
                    *acc.last_mut().expect("non-empty") = a.strides[axis];
                }
            } else {
                shape.push(size);
                for (a, acc) in self.inputs.iter().zip(strides.iter_mut()) {
                    acc.push(a.strides[axis]);
                }
            }
        }
        if self.shape.contains(&0) {
            shape = vec![0];
            strides = vec![vec![0]; self.inputs.len()];
        }
        for (a, s) in self.inputs.iter_mut().zip(strides) {
            a.strides = s;
        }
        self.shape = shape;
        self
    }
}
