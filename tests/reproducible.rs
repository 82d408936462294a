//! Seeded runs give the same bits in every process: JIT training from one seed, run in several
//! fresh processes at once, must print the same parameter checksum, equal to eager mode's.
//! Timing-dependent choices (when tiered compilation switches to compiled code, a GEMM picked
//! by measurement) must not change bits by default.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use needle::nn::{Linear, ReLU, Sequential, SoftmaxLoss};
use needle::optim::Adam;
use needle::prelude::*;

/// Training steps of a child: enough for tiered compilation to hand over to compiled code and
/// for the measured GEMM policy (when enabled) to have chosen every product's implementation.
const STEPS: usize = 300;
/// Child processes, started together so they compete for the cores like separate runs would.
const CHILDREN: usize = 6;
/// The environment variable that makes the test binary run [`child`].
const CHILD_ENV: &str = "NEEDLE_REPRODUCIBLE_CHILD";

/// FNV-1a over the bits of every parameter element.
fn checksum(params: &[Tensor]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in params {
        for x in p.to_vec() {
            for byte in x.to_bits().to_le_bytes() {
                h ^= byte as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    h
}

/// The reported model: a 64-64-64-10 MLP trained with Adam at batch 1 from seed 7, reading
/// the loss every step. In JIT mode, while the first steps run in the interpreter (tiered
/// compilation), it pauses after each step until the compiled code is in use, so both tiers
/// run in every process.
fn train(mode: Mode) -> (u64, needle::jit::JitStats) {
    with_mode(mode, || {
        manual_seed(7);
        let model = Sequential::new()
            .push(Linear::new(64, 64))
            .push(ReLU::new())
            .push(Linear::new(64, 64))
            .push(ReLU::new())
            .push(Linear::new(64, 10));
        let mut opt = Adam::new(model.parameters(), 1e-3);
        let x = Tensor::randn(&[STEPS, 64]);
        let y = Tensor::randint(0, 10, &[STEPS]);
        needle::jit::reset_stats();
        let deadline = Instant::now() + Duration::from_secs(20);
        for i in 0..STEPS {
            opt.zero_grad();
            let loss = SoftmaxLoss::new().forward(
                &model.forward(&x.slice(0, i, i + 1, 1)),
                &y.slice(0, i, i + 1, 1),
            );
            loss.backward();
            opt.step();
            loss.item();
            let interpreted = needle::jit::stats().programs_run == 0;
            if mode == Mode::Jit && interpreted && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        (checksum(&model.parameters()), needle::jit::stats())
    })
}

/// Run by the parent test in fresh processes: prints the checksum and this process's JIT
/// counters.
#[test]
#[ignore = "a child process of jit_training_gives_the_same_bits_in_every_process"]
fn child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    needle::init();
    let (sum, stats) = train(Mode::Jit);
    println!(
        "checksum={sum:016x} programs_run={} interpreted_runs={}",
        stats.programs_run, stats.interpreted_runs
    );
}

#[test]
fn jit_training_gives_the_same_bits_in_every_process() {
    let eager = train(Mode::Eager).0;
    let exe = std::env::current_exe().expect("the test binary's path");
    let children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            Command::new(&exe)
                .args(["child", "--exact", "--ignored", "--nocapture"])
                .args(["--test-threads", "1"])
                .env(CHILD_ENV, "1")
                .env_remove("NEEDLE_JIT_GEMM")
                .env_remove("NEEDLE_JIT_TIERED")
                .env_remove("NEEDLE_MODE")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a child process")
        })
        .collect();
    let mut lines = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("wait for a child process");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // The harness prints the test's name on the same line, before the child's output.
        let line = stdout
            .lines()
            .find_map(|l| l.find("checksum=").map(|at| l[at..].to_string()))
            .unwrap_or_else(|| panic!("no checksum in the child's output:\n{stdout}"));
        lines.push(line);
    }
    let field = |line: &str, name: &str| -> String {
        line.split(' ')
            .find_map(|f| f.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} missing in {line:?}"))
            .to_string()
    };
    for line in &lines {
        let compiled: u64 = field(line, "programs_run=").parse().unwrap();
        assert!(compiled > 0, "the compiled code never ran: {line}");
    }
    let expected = format!("{eager:016x}");
    let differing = lines
        .iter()
        .filter(|l| field(l, "checksum=") != expected)
        .count();
    assert_eq!(
        differing,
        0,
        "{differing} of {CHILDREN} JIT processes differ from eager's checksum {expected}:\n{}",
        lines.join("\n")
    );
}
