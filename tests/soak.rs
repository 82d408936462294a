//! Soak: 10,000 JIT training steps keep memory and the number of live graph nodes flat, both
//! when every step reads its loss and when nothing is read until the end (the pending work is
//! then realized in chunks at step boundaries, see `needle::pending`).
//!
//! One test in its own binary: resident memory is the process's, so nothing may run beside it.

use std::time::{Duration, Instant};

use needle::nn::{BatchNorm1d, Dropout, Linear, ReLU, Sequential, SoftmaxLoss};
use needle::optim::Adam;
use needle::prelude::*;

const STEPS: usize = 10_000;
/// Steps before the baseline window: every program has been compiled and has run by then.
const WARM_UP: usize = 1_000;
/// The baseline window, after the warm-up; the rest of the run is compared with it. Much
/// longer than a chunk of the never-read loop, so it sees every phase of the chunking.
const WINDOW: usize = 1_000;
/// Resident pages the rest of the run may add to the baseline window's largest (allocator
/// noise: 4 MiB with 4 KiB pages; the whole run stays within about 16 MiB).
const RSS_SLACK_PAGES: u64 = 1024;

/// Resident pages of this process (the second field of `/proc/self/statm`).
fn resident_pages() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("unexpected /proc/self/statm: {statm:?}"))
}

/// Trains a small model for [`STEPS`] JIT steps, reading the loss every step when `read`,
/// otherwise only after the last one; asserts, as it goes, that resident memory and live
/// nodes stay within the baseline window's range. Returns the final loss.
fn soak(read: bool) -> f32 {
    with_mode(Mode::Jit, || {
        manual_seed(5);
        let model = Sequential::new()
            .push(Linear::new(24, 48))
            .push(BatchNorm1d::new(48))
            .push(ReLU::new())
            .push(Dropout::new(0.1))
            .push(Linear::new(48, 6));
        let mut opt = Adam::new(model.parameters(), 1e-3).weight_decay(1e-4);
        let x = Tensor::randn(&[8, 24]);
        let y = Tensor::randint(0, 6, &[8]);
        let what = if read {
            "read every step"
        } else {
            "never read"
        };
        // Live nodes over the baseline window (min, max) and the largest resident size.
        let (mut nodes_lo, mut nodes_hi, mut rss_hi) = (usize::MAX, 0, 0);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut loss = None;
        let mut interpreted_before = needle::jit::stats().interpreted_runs;
        for step in 0..STEPS {
            opt.zero_grad();
            let l = SoftmaxLoss::new().forward(&model.forward(&x), &y);
            l.backward();
            opt.step();
            if read {
                l.item();
            }
            loss = Some(l);
            // The interpreter and compiled code may leave a different number of nodes behind
            // (values computed inside a program are not stored): during the warm-up, a step
            // the interpreter ran while a program was compiled in the background waits a
            // little, so every program runs compiled code before the baseline window.
            let interpreted = needle::jit::stats().interpreted_runs;
            if step < WARM_UP && interpreted > interpreted_before && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            interpreted_before = interpreted;
            if step < WARM_UP {
                continue;
            }
            let (nodes, rss) = (needle::live_nodes(), resident_pages());
            if step < WARM_UP + WINDOW {
                nodes_lo = nodes_lo.min(nodes);
                nodes_hi = nodes_hi.max(nodes);
                rss_hi = rss_hi.max(rss);
                continue;
            }
            assert!(
                (nodes_lo..=nodes_hi).contains(&nodes),
                "{what}: {nodes} live nodes at step {step}, {nodes_lo}..={nodes_hi} in steps \
                 {WARM_UP}..{}",
                WARM_UP + WINDOW
            );
            assert!(
                rss <= rss_hi + RSS_SLACK_PAGES,
                "{what}: {rss} resident pages at step {step}, at most {rss_hi} in steps \
                 {WARM_UP}..{}",
                WARM_UP + WINDOW
            );
        }
        assert!(
            needle::jit::stats().programs_run > 0,
            "{what}: the compiled code never ran"
        );
        loss.expect("at least one step").item()
    })
}

#[test]
fn ten_thousand_jit_steps_keep_memory_and_live_nodes_flat() {
    needle::init();
    let never_read = soak(false);
    let read_every_step = soak(true);
    assert_eq!(
        never_read.to_bits(),
        read_every_step.to_bits(),
        "the last loss differs between the never-read and the read-every-step loop"
    );
    assert!(never_read.is_finite() && never_read > 0.0, "{never_read}");
}
