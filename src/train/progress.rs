//! Progress of one pass over a data loader: a bar on a terminal, plain lines when stderr is not
//! a terminal (piped, redirected, CI logs, where a bar would be hidden), nothing when quiet.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain-line report repeats itself during a long pass.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// The running figures of a pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Status {
    /// Mean loss so far.
    pub loss: f64,
    /// Fraction classified correctly so far.
    pub accuracy: f64,
    /// Samples per second so far.
    pub samples_per_second: f64,
    /// Seconds spent compiling kernels so far.
    pub compile_seconds: f64,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loss {:.4} acc {:.2}% {:.0} samples/s compile {:.1} ms",
            self.loss,
            100.0 * self.accuracy,
            self.samples_per_second,
            self.compile_seconds * 1e3
        )
    }
}

/// Where a pass reports its progress.
pub(crate) enum Progress {
    /// A bar redrawn in place (stderr is a terminal).
    Bar(ProgressBar),
    /// A line at the end of the pass, and every `every` during it.
    Lines {
        /// Shown first on each line, e.g. `epoch 1/5 train`.
        label: String,
        /// Batches in the pass.
        total: usize,
        /// Where the lines go (stderr, or a buffer in tests).
        out: Box<dyn Write>,
        /// When the last line was written.
        last: Instant,
        /// The interval between lines during the pass.
        every: Duration,
    },
    /// Nothing.
    Quiet,
}

impl Progress {
    /// The reporting that suits stderr: a bar on a terminal, lines otherwise, or nothing.
    pub(crate) fn new(label: &str, total: usize, quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(label.to_string());
            Progress::Bar(bar)
        } else {
            Progress::lines(label, total, Box::new(std::io::stderr()), LINE_EVERY)
        }
    }

    /// Plain lines to `out`.
    pub(crate) fn lines(
        label: &str,
        total: usize,
        out: Box<dyn Write>,
        every: Duration,
    ) -> Progress {
        Progress::Lines {
            label: label.to_string(),
            total,
            out,
            last: Instant::now(),
            every,
        }
    }

    /// Reports that `done` batches are finished.
    pub(crate) fn update(&mut self, done: usize, status: &Status) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done as u64);
                bar.set_message(status.to_string());
            }
            Progress::Lines {
                label,
                total,
                out,
                last,
                every,
            } => {
                if last.elapsed() >= *every {
                    // Progress output must never stop training: a closed pipe is ignored.
                    let _ = writeln!(out, "{label} {done}/{total} {status}");
                    *last = Instant::now();
                }
            }
            Progress::Quiet => {}
        }
    }

    /// Ends the pass: clears the bar, or writes the closing line.
    pub(crate) fn finish(self, done: usize, status: &Status, seconds: f64) {
        match self {
            Progress::Bar(bar) => bar.finish_and_clear(),
            Progress::Lines {
                label,
                total,
                mut out,
                ..
            } => {
                let _ = writeln!(out, "{label} {done}/{total} {status} in {seconds:.1} s");
                let _ = out.flush();
            }
            Progress::Quiet => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    const STATUS: Status = Status {
        loss: 0.25,
        accuracy: 0.9375,
        samples_per_second: 1234.4,
        compile_seconds: 0.0125,
    };

    #[test]
    fn lines_report_the_end_of_a_pass_and_repeat_only_after_the_interval() {
        let out = Shared::default();
        let mut p = Progress::lines("epoch 1/2 train", 3, Box::new(out.clone()), Duration::MAX);
        p.update(1, &STATUS);
        p.update(2, &STATUS);
        p.finish(3, &STATUS, 4.56);
        assert_eq!(
            out.text(),
            "epoch 1/2 train 3/3 loss 0.2500 acc 93.75% 1234 samples/s compile 12.5 ms in 4.6 s\n"
        );

        let out = Shared::default();
        let mut p = Progress::lines("test", 2, Box::new(out.clone()), Duration::ZERO);
        p.update(1, &STATUS);
        p.finish(2, &STATUS, 0.04);
        assert_eq!(
            out.text(),
            "test 1/2 loss 0.2500 acc 93.75% 1234 samples/s compile 12.5 ms\n\
             test 2/2 loss 0.2500 acc 93.75% 1234 samples/s compile 12.5 ms in 0.0 s\n"
        );
    }
}
