//! deploydb gives every deployment timeline of an app its own PostgreSQL database, from inside
//! the pipeline: detect → timeline → instance → export → migrate. This crate is the whole tool;
//! the binary only calls [`main_with_args`].

pub mod cli;
mod commands;
pub mod config;
pub mod detect;
pub mod duration;
pub mod env;
pub mod error;
pub mod export;
pub mod instance;
pub mod lifecycle;
pub mod migrate;
mod pipeline;
mod report;
pub mod secret;
pub mod timeline;

use std::ffi::OsString;

use clap::Parser;

use cli::{Cli, Command};
use env::Env;
use error::{Error, Result, exit};

/// Parses `args`, runs the command with the process environment, prints any error, and returns
/// the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    hide_own_environment();
    // Printing to a closed stdout (`deploydb list | head -1`) makes `println!` panic with
    // "failed printing to stdout: Broken pipe". The reader chose to stop reading; that is not a
    // failure of ours: end quietly with success, as ripgrep does, at whatever point we were.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_broken_pipe(info.payload()) {
            default_hook(info);
        }
    }));
    let args: Vec<OsString> = args.into_iter().collect();
    match std::panic::catch_unwind(move || main_inner(args)) {
        Ok(code) => code,
        Err(payload) if is_broken_pipe(payload.as_ref()) => exit::OK,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Whether a panic is the standard library's "failed printing to stdout: Broken pipe".
fn is_broken_pipe(payload: &(dyn std::any::Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}

fn main_inner(args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    let mut env = Env::from_process();
    init_tracing(cli.global.verbose, &env);
    report::configure(cli.global.quiet, &env);
    let ci = export::log::Ci::from_env(&env);
    if let Some(path) = &cli.global.env_file
        && let Err(e) = env.load_dotenv(path)
    {
        eprintln!("{e}");
        return e.exit_code();
    }
    let result = std::env::current_dir()
        .map_err(|e| Error::usage(format!("the current directory cannot be read: {e}")))
        .and_then(|cwd| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::internal(format!("could not start the async runtime: {e}")))
                .and_then(|rt| {
                    let result = rt.block_on(until_interrupted(run(cli, &env, &cwd)));
                    // Not a plain drop, which waits for every blocking task: a relay thread
                    // still reading a pipe that a migration's background process holds open
                    // would keep the step alive as long as that process lives.
                    rt.shutdown_background();
                    result
                })
        });
    match result {
        Ok(code) => code,
        Err(e) => {
            // On GitHub the annotation is the error line: the runner shows it in the log as
            // well as on the run's page, so printing both would say everything twice.
            let workspace = env.get("GITHUB_WORKSPACE").map(std::path::Path::new);
            match ci.annotation(&e, workspace) {
                Some(annotation) => println!("{annotation}"),
                None => eprintln!("{e}"),
            }
            e.exit_code()
        }
    }
}

/// Runs `work` unless SIGINT or SIGTERM comes first: then the run ends with 130 or 143 and one
/// line, not the shell's silent kill, whatever stage it was in. While a migration command runs,
/// the signal is the migration's to handle (it stops the command's process group first).
async fn until_interrupted(work: impl std::future::Future<Output = Result<i32>>) -> Result<i32> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return work.await;
        };
        tokio::pin!(work);
        loop {
            let signal = tokio::select! {
                result = &mut work => return result,
                _ = int.recv() => migrate::SIGINT,
                _ = term.recv() => migrate::SIGTERM,
            };
            if !migrate::handles_signals() {
                return Err(Error::new(
                    error::Kind::Interrupted(signal),
                    "interrupted; nothing more was done",
                ));
            }
        }
    }
    #[cfg(not(unix))]
    work.await
}

/// Runs one command. Returns the exit code to use when the command itself decides it (the
/// migration's own code); errors carry theirs.
pub async fn run(cli: Cli, env: &Env, cwd: &std::path::Path) -> Result<i32> {
    let global = &cli.global;
    match cli.command {
        Command::Run(args) => commands::run(global, args, env, cwd).await,
        Command::Ensure(args) => commands::ensure(global, args, env, cwd).await,
        Command::Timeline(args) => commands::timeline(global, args, env, cwd).await,
        Command::Env(args) => commands::env(global, args, env, cwd).await,
        Command::Psql(args) => commands::psql(global, args, env, cwd).await,
        Command::Detect(args) => commands::detect(global, args, env, cwd),
        Command::Check(args) => commands::check(global, args, env, cwd).await,
        Command::List(args) => commands::list(global, args, env, cwd).await,
        Command::Drop(args) => commands::drop(global, args, env, cwd).await,
        Command::Prune(args) => commands::prune(global, args, env, cwd).await,
        Command::Local(args) => commands::local(args, env),
        Command::Migrate(args) => commands::migrate(global, args, env, cwd).await,
    }
}

/// `-v` says what deploydb does (connections, locks, what it creates, the command it runs),
/// `-vv` every step; a CI job re-run with debug logging (`RUNNER_DEBUG=1` on GitHub,
/// `CI_DEBUG_TRACE=true` on GitLab) gets `-vv`. Never coloured unless stderr is a terminal.
fn init_tracing(verbose: u8, env: &Env) {
    let ci_debug = env.get("RUNNER_DEBUG") == Some("1")
        || env.is_true("ACTIONS_STEP_DEBUG")
        || env.is_true("CI_DEBUG_TRACE");
    let verbose = if ci_debug { verbose.max(2) } else { verbose };
    let filter = match (env.get("RUST_LOG"), verbose) {
        (Some(spec), _) => spec.to_string(),
        (None, 0) => "warn".into(),
        (None, 1) => "deploydb=info".into(),
        (None, _) => "deploydb=debug".into(),
    };
    // SAFETY: isatty only inspects the descriptor.
    let terminal = unsafe { libc::isatty(2) } == 1;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(terminal && env.get("NO_COLOR").is_none())
        .with_target(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .try_init();
}

/// deploydb's environment holds the admin URL, and the migration command runs as the same user:
/// it could read `/proc/<deploydb's pid>/environ` (or attach a debugger). A process that is not
/// dumpable has its `/proc` files owned by root and cannot be ptraced by its own user. The
/// migration itself is dumpable again after its `execve`, so its own tools work as usual.
fn hide_own_environment() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_DUMPABLE) takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}
