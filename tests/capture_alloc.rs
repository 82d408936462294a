//! A replayed step allocates nothing on the heap but the tensors it returns: counted with a
//! global allocator that counts this thread's allocations while asked to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use needle::jit::capture;
use needle::nn::{Forward, Linear, Module, ReLU, Sequential, SoftmaxLoss};
use needle::optim::{Adam, Optimizer};
use needle::{manual_seed, with_mode, Mode, Tensor};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; counting only reads and
// writes this thread's `Cell`s, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn a_replayed_step_allocates_only_the_tensor_it_returns() {
    needle::init();
    with_mode(Mode::Jit, || {
        manual_seed(0);
        let model = Sequential::new()
            .push(Linear::new(64, 64))
            .push(ReLU::new())
            .push(Linear::new(64, 10));
        let mut opt = Adam::new(model.parameters(), 1e-3);
        let x = Tensor::randn(&[1, 64]);
        let y = Tensor::from_vec_i64(vec![3], &[1]);
        let mut step = capture(|b: &[&Tensor]| {
            opt.zero_grad();
            let loss = SoftmaxLoss::new().forward(&model.forward(b[0]), b[1]);
            loss.backward();
            opt.step();
            loss
        });
        let mut losses = Vec::new();
        for _ in 0..5 {
            losses.push(step.call(&[&x, &y]).item());
        }
        assert!(step.replays() >= 2, "the step is replayed");
        // What returning a 0-d tensor costs: its data, buffer, node and handle.
        let one_tensor = allocations(|| drop(Tensor::from_vec(vec![0.5], &[])));
        let mut loss = None;
        let replayed = allocations(|| loss = Some(step.call(&[&x, &y])));
        assert!(one_tensor > 0);
        assert_eq!(
            replayed, one_tensor,
            "a replay allocated {replayed} times; returning its loss takes {one_tensor}"
        );
        let loss = loss.unwrap().item();
        assert!(
            loss.is_finite() && loss < losses[0],
            "{loss} after {losses:?}"
        );
    });
}
