//! Timing whole processes as a pipeline pays for them: wall time, interleaved pairs so a busy
//! moment of the machine hits both sides alike, and medians with their min–max spread.

use std::process::Command;
use std::time::{Duration, Instant};

/// One side of a comparison: the median and the spread of its runs.
#[derive(Clone, Copy)]
pub struct Stat {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl Stat {
    pub fn of(mut samples: Vec<Duration>) -> Stat {
        assert!(!samples.is_empty(), "no samples");
        samples.sort();
        Stat {
            median: samples[samples.len() / 2],
            min: samples[0],
            max: samples[samples.len() - 1],
        }
    }

    pub fn ms(&self) -> f64 {
        ms(self.median)
    }

    /// `12.3 ms (11.9–13.0)`.
    pub fn render(&self) -> String {
        format!(
            "{:.1} ms ({:.1}–{:.1})",
            ms(self.median),
            ms(self.min),
            ms(self.max)
        )
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs a command to completion, panicking on failure; returns its wall time.
pub fn time(mut command: Command) -> Duration {
    let started = Instant::now();
    let status = command.status().expect("the command starts");
    let elapsed = started.elapsed();
    assert!(status.success(), "{command:?} failed: {status}");
    elapsed
}

/// `ours` and `floor` alternately (A B, B A, …), `runs` times each.
pub fn pair(
    runs: usize,
    mut ours: impl FnMut(usize) -> Duration,
    mut floor: impl FnMut(usize) -> Duration,
) -> (Stat, Stat) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..runs {
        if i % 2 == 0 {
            a.push(ours(i));
            b.push(floor(i));
        } else {
            b.push(floor(i));
            a.push(ours(i));
        }
    }
    (Stat::of(a), Stat::of(b))
}

/// Peak resident set of a child process alone, from wait4's rusage, in KiB.
pub fn peak_rss(mut command: Command) -> i64 {
    let child = command.spawn().expect("the command starts");
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child; the Child handle is not used to wait afterwards.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed"
    );
    std::mem::forget(child);
    usage.ru_maxrss
}

/// The 1-minute load average, so a reader can tell a quiet machine from a busy one.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
