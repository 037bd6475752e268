//! The one error type: what failed, with the thing it concerns named in the message, an optional
//! hint saying what to do, and a kind that decides the documented exit code.

use std::fmt;

/// Exit codes, documented in the README. A migration command's own exit code is passed through
/// unchanged, so these only apply when deploydb itself stops the run.
pub mod exit {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const TIMELINE: i32 = 3;
    pub const NO_POSTGRES: i32 = 4;
    pub const SERVER: i32 = 5;
    pub const EXPORT: i32 = 6;
    pub const LOCAL: i32 = 7;
    pub const MIGRATE_START: i32 = 8;
    pub const LOCK_TIMEOUT: i32 = 9;
    pub const MIGRATE_TIMEOUT: i32 = 124;
    /// 128 + the signal number, as shells report a child killed by a signal.
    pub const SIGNAL_BASE: i32 = 128;
}

/// Every exit code and what it means, in one place: `--help` and the README's table are made
/// from it (a test keeps the README equal to [`exit_code_markdown`]).
pub const EXIT_CODES: &[(&str, &str)] = &[
    (
        "0",
        "success (including \"no PostgreSQL dependency, nothing to do\" without `--require`)",
    ),
    ("1", "unexpected internal failure"),
    (
        "2",
        "bad flags, `deploydb.toml`, `DEPLOYDB_*` value or admin URL; no admin URL in a CI job; `drop` without `--yes`, or of production without `--production --yes --confirm NAME`; `prune` with no criterion or an empty branch list",
    ),
    (
        "3",
        "the timeline cannot be determined (tag, detached HEAD, an event that does not deploy its branch, no CI and no git)",
    ),
    ("4", "`--require` and no PostgreSQL dependency found"),
    (
        "5",
        "the server: unreachable, authentication or TLS failed, a missing privilege, a statement failed, a database or role that is not this timeline's (or not deploydb's, for `drop`); `check` when a deploy would fail",
    ),
    (
        "6",
        "export: `$GITHUB_ENV`, `$GITHUB_OUTPUT` or the dotenv report could not be written",
    ),
    (
        "7",
        "the embedded local cluster: binaries missing, set-up or start failed",
    ),
    (
        "8",
        "the migration command could not be started (for another reason than the two below)",
    ),
    (
        "9",
        "another run kept the database's migration lock past `[migrate] lock_timeout`",
    ),
    ("124", "the migration command ran past `[migrate] timeout`"),
    (
        "126, 127",
        "the migration command is not executable, or not found (as a shell answers, whether it was given after `--` or in `deploydb.toml`)",
    ),
    ("130, 143", "deploydb was interrupted (SIGINT, SIGTERM)"),
    (
        "other",
        "the migration command's own exit code, passed through",
    ),
];

/// The exit codes for `--help`.
pub fn exit_code_help() -> String {
    let mut out = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        out.push_str(&format!("  {code:<9} {}\n", meaning.replace('`', "")));
    }
    out
}

/// The exit codes as the README's Markdown table.
pub fn exit_code_markdown() -> String {
    let mut out = String::from("| code | meaning |\n|---|---|\n");
    for (code, meaning) in EXIT_CODES {
        out.push_str(&format!("| {code} | {meaning} |\n"));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An unexpected failure (I/O on our own files, a bug).
    Internal,
    /// Bad flags, a bad `deploydb.toml`, a bad `DEPLOYDB_*` value.
    Usage,
    /// The timeline cannot be determined; deploydb never guesses.
    Timeline,
    /// `--require` was given but the repository shows no PostgreSQL dependency.
    NoPostgres,
    /// The linked server: unreachable, refused, or a statement failed.
    Server,
    /// Writing `GITHUB_ENV`, `GITHUB_OUTPUT` or a dotenv report failed.
    Export,
    /// The embedded local cluster could not be found, set up or started.
    Local,
    /// The migration command could not be started.
    MigrateStart,
    /// The migration command ran past `[migrate] timeout`.
    MigrateTimeout,
    /// The migration command exited with this non-zero code, which deploydb passes through.
    Migration(i32),
    /// Another run held the database's migration lock past `[migrate] lock_timeout`.
    LockTimeout,
    /// deploydb was interrupted by this signal.
    Interrupted(i32),
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Internal => exit::INTERNAL,
            Kind::Usage => exit::USAGE,
            Kind::Timeline => exit::TIMELINE,
            Kind::NoPostgres => exit::NO_POSTGRES,
            Kind::Server => exit::SERVER,
            Kind::Export => exit::EXPORT,
            Kind::Local => exit::LOCAL,
            Kind::MigrateStart => exit::MIGRATE_START,
            Kind::MigrateTimeout => exit::MIGRATE_TIMEOUT,
            Kind::Migration(code) => code,
            Kind::LockTimeout => exit::LOCK_TIMEOUT,
            Kind::Interrupted(signal) => exit::SIGNAL_BASE + signal,
        }
    }
}

/// What went wrong. The message is one line, lower case, and names the thing it is about; it
/// never holds a secret (URLs are shown with the password as `****`).
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    /// The file and line the error is about (a config key), for CI annotations.
    pub location: Option<(std::path::PathBuf, usize)>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            location: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn timeline(message: impl Into<String>) -> Self {
        Error::new(Kind::Timeline, message)
    }

    pub fn server(message: impl Into<String>) -> Self {
        Error::new(Kind::Server, message)
    }

    pub fn export(message: impl Into<String>) -> Self {
        Error::new(Kind::Export, message)
    }

    pub fn local(message: impl Into<String>) -> Self {
        Error::new(Kind::Local, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(Kind::Internal, message)
    }

    /// An I/O failure on `path`, worded as "could not {action} {path}: {error}".
    pub fn io(kind: Kind, action: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        Error::new(
            kind,
            format!("could not {action} {}: {err}", path.display()),
        )
    }

    pub fn located(mut self, file: &std::path::Path, line: usize) -> Self {
        self.location = Some((file.to_path_buf(), line));
        self
    }

    /// Several problems as one error: the first, then each other on a line of its own, so a
    /// user fixes them all in one go. `None` when there are none.
    pub fn all(errors: Vec<Error>) -> Option<Error> {
        let mut errors = errors.into_iter();
        let mut first = errors.next()?;
        for other in errors {
            first
                .message
                .push_str(&format!("\n  also: {}", other.message));
        }
        Some(first)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
