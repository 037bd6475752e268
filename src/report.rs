//! Progress lines for people reading the build log: one per stage, with how long it took.
//! They go to stderr, so stdout stays clean for `--format json` and `deploydb env`.

use std::time::{Duration, Instant};

pub struct Stage {
    name: &'static str,
    started: Instant,
}

impl Stage {
    pub fn start(name: &'static str) -> Stage {
        Stage {
            name,
            started: Instant::now(),
        }
    }

    pub fn done(self, message: impl std::fmt::Display) {
        eprintln!("{}", self.finish(message));
    }

    /// The finished line, to print later (after GitHub's mask commands, which must come first).
    pub fn finish(self, message: impl std::fmt::Display) -> String {
        format_line(
            self.name,
            format_args!("{message} [{}]", human(self.started.elapsed())),
        )
    }
}

pub fn line(stage: &str, message: impl std::fmt::Display) {
    eprintln!("{}", format_line(stage, message));
}

fn format_line(stage: &str, message: impl std::fmt::Display) -> String {
    format!("deploydb: {stage:<9} {message}")
}

pub fn warning(message: impl std::fmt::Display) {
    eprintln!("deploydb: warning: {message}");
}

fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
