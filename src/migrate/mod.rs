//! Running the app's migration command against the timeline's database: the exported variables
//! in its environment, its stdout and stderr relayed as they come (secrets masked), its exit
//! code passed through. It runs in its own process group so that a cancelled pipeline stops it
//! and everything it started: SIGTERM to the group, a grace period, then SIGKILL.

mod relay;
pub mod sql;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Kind, Result, exit};
pub use relay::{Redactor, relay};

#[derive(Debug, Clone)]
pub enum Program {
    /// A configured command line, run with `sh -c`.
    Shell(String),
    /// `deploydb run -- CMD ARGS…`, run directly.
    Argv(Vec<String>),
}

impl Program {
    /// The command as it is run, quoted so that pasting it into a shell runs the same thing.
    pub fn describe(&self) -> String {
        let quote = |word: &str| {
            let plain = !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b));
            if plain {
                word.to_string()
            } else {
                crate::export::format::shell_quote(word)
            }
        };
        match self {
            Program::Shell(line) => format!("sh -c {}", quote(line)),
            Program::Argv(argv) => argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "),
        }
    }
}

pub struct Invocation<'a> {
    pub program: Program,
    pub dir: PathBuf,
    /// The child's whole environment.
    pub env: BTreeMap<String, String>,
    pub secrets: Vec<&'a str>,
    pub timeout: Option<Duration>,
    /// How long the command gets to exit after SIGTERM before its group is killed.
    pub grace: Duration,
}

/// Runs the command to completion and returns the exit code to pass on: the child's own, or
/// 128 + the signal that killed it.
pub async fn run(invocation: Invocation<'_>) -> Result<i32> {
    let mut command = match &invocation.program {
        Program::Shell(line) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(line);
            c
        }
        Program::Argv(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    command
        .current_dir(&invocation.dir)
        .env_clear()
        .envs(&invocation.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    tracing::info!(
        "running `{}` in {}",
        invocation.program.describe(),
        invocation.dir.display()
    );
    // Listening before the spawn: a Ctrl-C that comes in the moment after must reach the
    // migration's group, not kill deploydb and leave the group running.
    let mut signals = Signals::listen()?;
    // From here until the command is done, a signal is this function's to handle (it stops
    // the command's whole group); before, deploydb's own handler ends the run (lib.rs).
    let _handling = Handling::start();
    let mut child = command.spawn().map_err(|e| {
        // As a shell answers: 127 for a command that is not there, 126 for one that may not be
        // run; so `run -- CMD` and `[migrate] command = "CMD"` fail alike.
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => Kind::Migration(127),
            std::io::ErrorKind::PermissionDenied => Kind::Migration(126),
            _ => Kind::MigrateStart,
        };
        Error::new(
            kind,
            format!(
                "could not start the migration command `{}` in {}: {e}",
                invocation.program.describe(),
                invocation.dir.display()
            ),
        )
        .with_hint("check [migrate] command in deploydb.toml, or the command after `--`")
    })?;
    let pid = child.id() as i32;
    let redactor = std::sync::Arc::new(Redactor::new(&invocation.secrets));
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let (r1, r2) = (redactor.clone(), redactor);
    let (out, err) = (relay::own_stdout(), relay::own_stderr());
    let out_task = tokio::task::spawn_blocking(move || relay(stdout, out, &r1));
    let err_task = tokio::task::spawn_blocking(move || relay(stderr, err, &r2));
    // Waited for without reaping: while the command is a zombie its pid, and so its process
    // group's id, cannot be reused, so signalling the group afterwards never reaches a stranger.
    let mut wait = tokio::task::spawn_blocking(move || {
        exited_unreaped(pid);
        child
    });
    let deadline = async {
        match invocation.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let mut finished = None;
    let stopped_by: Option<Error> = tokio::select! {
        result = &mut wait => {
            finished = Some(result);
            None
        }
        signal = signals.recv() => Some(Error::new(Kind::Interrupted(signal), match signal {
            SIGTERM => "terminated; the migration command was stopped",
            _ => "interrupted; the migration command was stopped",
        })),
        _ = deadline => Some(Error::new(Kind::MigrateTimeout, format!(
            "the migration command `{}` ran longer than [migrate] timeout and was stopped",
            invocation.program.describe()
        ))),
    };
    if let Some(error) = stopped_by {
        stop_group(pid, &mut wait, invocation.grace).await;
        // What the command printed while it stopped (its last words on SIGTERM) is relayed
        // before deploydb reports and exits, which does not wait for the relay threads.
        drain(out_task, err_task).await;
        return Err(error);
    }
    let status = finished
        .expect("the child finished")
        .map_err(|e| Error::internal(format!("waiting for the migration command failed: {e}")))?
        .wait()
        .map_err(|e| Error::internal(format!("waiting for the migration command failed: {e}")))?;
    drain(out_task, err_task).await;
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    Ok(match (status.code(), signal) {
        (Some(code), _) => code,
        (None, Some(signal)) => exit::SIGNAL_BASE + signal,
        (None, None) => exit::INTERNAL,
    })
}

/// Waits for the relay of the command's stdout and stderr to reach the end of its output. A
/// grandchild that keeps the pipes open must not hold the pipeline step hostage: its output is
/// relayed for 2 s more, then deploydb goes on (and exits without waiting for the relay
/// threads; see lib.rs). An unterminated last line is ended, so deploydb's next line starts on
/// a line of its own.
async fn drain(out_task: Relaying, err_task: Relaying) {
    let out_mid_line = tokio::time::timeout(Duration::from_secs(2), out_task).await;
    let err_mid_line = tokio::time::timeout(Duration::from_secs(2), err_task).await;
    if matches!(out_mid_line, Ok(Ok(Ok(true)))) {
        println!();
    }
    if matches!(err_mid_line, Ok(Ok(Ok(true)))) {
        eprintln!();
    }
}

/// A relay thread: whether the output ended mid-line (see [`relay`]).
type Relaying = tokio::task::JoinHandle<std::io::Result<bool>>;

/// SIGTERM to the whole group; once the command has exited, or the grace period is over,
/// SIGKILL to whatever is left of the group, so an interrupted run leaves no orphans.
async fn stop_group(
    pid: i32,
    wait: &mut tokio::task::JoinHandle<std::process::Child>,
    grace: Duration,
) {
    // SAFETY: kill with a negative pid signals the process group we created for the child;
    // the child is not reaped yet, so the group's id is still ours.
    #[cfg(unix)]
    unsafe {
        libc::kill(-pid, libc::SIGTERM);
    }
    let exited = tokio::time::timeout(grace, &mut *wait).await;
    #[cfg(unix)]
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    // Elsewhere the console delivers Ctrl-C to the whole console group, the command included.
    #[cfg(not(unix))]
    let _ = pid;
    // Reaped only now, after the last signal to its group.
    let child = match exited {
        Ok(child) => child,
        Err(_) => wait.await,
    };
    if let Ok(mut child) = child {
        let _ = child.wait();
    }
}

/// Blocks until the child has exited, leaving it unreaped (a zombie) for `Child::wait`.
fn exited_unreaped(pid: i32) {
    #[cfg(unix)]
    loop {
        // SAFETY: waitid with WNOWAIT only observes the child's state; the siginfo is ours.
        let rc = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

static HANDLING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether a migration command is running and handles SIGINT/SIGTERM itself.
pub fn handles_signals() -> bool {
    HANDLING.load(std::sync::atomic::Ordering::SeqCst) > 0
}

/// Marks a migration as handling signals while it lives.
struct Handling;

impl Handling {
    fn start() -> Handling {
        HANDLING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Handling
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        HANDLING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

/// SIGINT and SIGTERM (Ctrl-C elsewhere), listened for before the command starts.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let fail =
                |e: std::io::Error| Error::internal(format!("could not listen for signals: {e}"));
            Ok(Signals {
                int: signal(SignalKind::interrupt()).map_err(fail)?,
                term: signal(SignalKind::terminate()).map_err(fail)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The number of the signal that came.
    async fn recv(&mut self) -> i32 {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => SIGINT,
            _ = self.term.recv() => SIGTERM,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            SIGINT
        }
    }
}
