//! Progress lines for people reading the build log: one per stage, with how long it took.
//! They go to stderr, so stdout stays clean for `--format json` and `deploydb env`. `--quiet`
//! silences them (warnings and errors still show); colour only on a terminal, never with
//! `NO_COLOR`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::env::Env;

/// How a command prints what it found: for people, or one JSON document for programs.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

static QUIET: AtomicBool = AtomicBool::new(false);
static COLOUR: AtomicBool = AtomicBool::new(false);

pub fn configure(quiet: bool, env: &Env) {
    QUIET.store(quiet, Ordering::Relaxed);
    // SAFETY: isatty only inspects the descriptor.
    let terminal = unsafe { libc::isatty(2) } == 1;
    let colour = terminal && env.get("NO_COLOR").is_none() && env.get("TERM") != Some("dumb");
    COLOUR.store(colour, Ordering::Relaxed);
}

pub struct Stage {
    name: &'static str,
    started: Instant,
    /// Set by [`Stage::stop`]: the stage's work ended before its line is made.
    took: Option<Duration>,
}

impl Stage {
    pub fn start(name: &'static str) -> Stage {
        Stage {
            name,
            started: Instant::now(),
            took: None,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.took.unwrap_or_else(|| self.started.elapsed())
    }

    /// Ends the stage's clock, for work that finished while something else went on.
    pub fn stop(mut self) -> Stage {
        self.took = Some(self.started.elapsed());
        self
    }

    pub fn done(self, message: impl std::fmt::Display) {
        emit(&self.finish(message));
    }

    /// The finished line, to print later (after GitHub's mask commands, which must come first).
    pub fn finish(self, message: impl std::fmt::Display) -> String {
        format_line(
            self.name,
            format_args!("{message} [{}]", human(self.elapsed())),
        )
    }
}

pub fn line(stage: &str, message: impl std::fmt::Display) {
    emit(&format_line(stage, message));
}

/// Prints a line made by [`Stage::finish`] or [`line`], unless quiet.
pub fn emit(line: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("{line}");
    }
}

fn format_line(stage: &str, message: impl std::fmt::Display) -> String {
    if COLOUR.load(Ordering::Relaxed) {
        format!("\x1b[1;36mdeploydb:\x1b[0m \x1b[1m{stage:<9}\x1b[0m {message}")
    } else {
        format!("deploydb: {stage:<9} {message}")
    }
}

pub fn warning(message: impl std::fmt::Display) {
    if COLOUR.load(Ordering::Relaxed) {
        eprintln!("\x1b[1;33mdeploydb: warning:\x1b[0m {message}");
    } else {
        eprintln!("deploydb: warning: {message}");
    }
}

pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// A name for a log line: a branch can be 100,000 characters long, which no reader wants in
/// full and which breaks the columns of `list`. Long ones keep their start and say how long
/// they were; JSON output keeps them whole.
pub fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    const KEEP: usize = 60;
    let count = text.chars().count();
    if count <= KEEP + 20 {
        return std::borrow::Cow::Borrowed(text);
    }
    let start: String = text.chars().take(KEEP).collect();
    std::borrow::Cow::Owned(format!("{start}… ({count} characters)"))
}

/// Text from the server's catalog (a database's comment, which its owner can rewrite) or from a
/// branch name, made inert for a log: control characters (newlines that would start a
/// `::error::` workflow command at the beginning of a line, terminal escape sequences) and
/// bidirectional overrides are shown escaped, and a leading `::` is broken up.
pub fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    let hostile =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(hostile) && !text.starts_with("::") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    if text.starts_with("::") {
        out.push('\\');
    }
    for c in text.chars() {
        if hostile(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn catalog_text_is_made_inert() {
        assert_eq!(inert("feature/x"), "feature/x");
        assert_eq!(inert("x\n::error::owned"), "x\\u{a}::error::owned");
        assert_eq!(inert("\x1b[2Jx"), "\\u{1b}[2Jx");
        assert_eq!(inert("::warning::x"), "\\::warning::x");
        assert_eq!(inert("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn long_names_are_shortened_for_logs() {
        assert_eq!(super::shorten("feature/x"), "feature/x");
        let long = "b".repeat(100_000);
        let short = super::shorten(&long);
        assert!(short.starts_with(&"b".repeat(60)) && short.ends_with("… (100000 characters)"));
    }
}
