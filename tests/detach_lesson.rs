//! Lecture 8's detach lesson: an update with history keeps every step's graph alive; a
//! detached one (or one under `no_grad`) keeps the live node count flat. In every mode.

use needle::experiments::detach_lesson::{run, Update};
use needle::{with_mode, Mode};

const STEPS: usize = 25;

#[test]
fn attached_updates_grow_the_graph_and_detached_ones_keep_it_flat() {
    for mode in [Mode::Eager, Mode::Lazy, Mode::Jit] {
        with_mode(mode, || {
            let attached = run(Update::Attached, STEPS, 24, 3);
            let nodes: Vec<usize> = attached.iter().map(|r| r.live_nodes).collect();
            // Each step keeps at least the new w and the scaled gradient it was made from.
            for pair in nodes.windows(2) {
                assert!(pair[1] >= pair[0] + 2, "{mode:?}: attached, {nodes:?}");
            }
            for how in [Update::Detached, Update::NoGradAssign] {
                let records = run(how, STEPS, 24, 3);
                let flat: Vec<usize> = records.iter().map(|r| r.live_nodes).collect();
                assert!(
                    flat.iter().all(|&n| n == flat[0]),
                    "{mode:?}: {how:?}, {flat:?}"
                );
                assert!(
                    flat[0] < nodes[STEPS - 1],
                    "{mode:?}: {how:?} {flat:?} against attached {nodes:?}"
                );
                // The lesson is about memory, not arithmetic: the same losses, bit for bit.
                for (a, b) in attached.iter().zip(&records) {
                    assert_eq!(a.loss.to_bits(), b.loss.to_bits(), "{mode:?}: {how:?}");
                }
            }
            let (first, last) = (attached[0].loss, attached[STEPS - 1].loss);
            assert!(last < 0.8 * first, "{mode:?}: loss {first} → {last}");
        });
    }
}

#[test]
fn rss_is_read_from_procfs() {
    let rss = needle::experiments::detach_lesson::rss_bytes().expect("/proc/self/statm");
    // A test binary with its data and the thread pool is above 1 MiB and below 64 GiB.
    assert!((1 << 20..64 << 30).contains(&rss), "{rss}");
}
