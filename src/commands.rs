//! The commands other than `run`: each loads the configuration and hands one stage (or the
//! lifecycle) what it needs.

use std::path::Path;

use crate::cli::{
    CheckArgs, DetectArgs, DropArgs, EnsureArgs, EnvArgs, Format, Global, ListArgs, LocalAction,
    LocalArgs, PruneArgs, PsqlArgs, RunArgs, TimelineArgs, TimelineFlag,
};
use crate::config::{Config, Overrides};
use crate::detect;
use crate::env::Env;
use crate::error::{Error, Result, exit};
use crate::export::{self, format::render};
use crate::instance::local;
use crate::lifecycle;
use crate::pipeline::{Plan, RunOptions, resolve_timeline};
use crate::report;

pub async fn run(global: &Global, args: RunArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let options = RunOptions {
        argv: (!args.command.is_empty()).then_some(args.command),
        require: args.require,
        json: matches!(args.format, Format::Json),
        dotenv_flags: args.dotenv_file.is_some() || args.dotenv_secrets,
        dotenv_file: args.dotenv_file.or_else(|| {
            env.get("DEPLOYDB_DOTENV_FILE")
                .map(std::path::PathBuf::from)
        }),
        dotenv_secrets: args.dotenv_secrets || env.is_true("DEPLOYDB_DOTENV_SECRETS"),
    };
    crate::pipeline::run(config, options, env).await
}

/// The one checked configuration, from the global flags, the command's timeline flag, the
/// environment and `deploydb.toml`, before any stage runs.
pub(crate) fn load_config(
    global: &Global,
    flag: &TimelineFlag,
    migrate: Option<String>,
    env: &Env,
    cwd: &Path,
) -> Result<Config> {
    Config::load(
        Overrides {
            path: global.path.clone(),
            app: global.app.clone(),
            production_branch: global.production_branch.clone(),
            timeline: flag.timeline.clone(),
            migrate_command: migrate,
        },
        env,
        cwd,
    )
}

pub async fn ensure(global: &Global, args: EnsureArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let mut plan = Plan::new(config, env).await?;
    let exports = plan.exports(env)?;
    let github = env.is_true("GITHUB_ACTIONS");
    if github {
        let secrets = plan.secrets(&exports);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        print!("{}", export::github::masks(&secrets));
    }
    let ensured = plan.ensure().await?;
    if github {
        crate::pipeline::write_github_outputs(&plan, &exports, &ensured, env)?;
    }
    match args.format {
        Format::Json => {
            let value = serde_json::json!({
                "database": ensured.database,
                "created": ensured.created,
                "timeline": plan.timeline.kind,
                "app": plan.config.app,
                "warning": ensured.warning,
            });
            println!("{value}");
        }
        Format::Text => {
            if let Some(w) = &ensured.warning {
                report::warning(w);
            }
            println!(
                "{} {}",
                ensured.database,
                if ensured.created { "created" } else { "exists" }
            );
        }
    }
    Ok(exit::OK)
}

pub async fn timeline(global: &Global, args: TimelineArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let (timeline, asked) = resolve_timeline(&config, env)?;
    // A branch whose name another branch already holds gets its next candidate (a hashed
    // form). With the admin URL at hand the name is resolved as `run` resolves it; without it
    // (or with the server out of reach) the answer is the name asked for, and says so.
    let checked = if timeline.kind == crate::timeline::Kind::Branch
        && env.get(&config.url_env).is_some_and(|u| !u.is_empty())
    {
        match resolve_on_server(&config, env, &timeline).await {
            Ok(name) => Some(name),
            Err(e) => {
                eprintln!(
                    "warning: {}; showing the name the timeline asks for, which a branch holding it would change",
                    e.message
                );
                None
            }
        }
    } else {
        None
    };
    let checked_on_server = checked.is_some();
    let database = checked.unwrap_or(asked);
    match args.format {
        Format::Json => {
            let value = serde_json::json!({
                "kind": timeline.kind,
                "branch": timeline.branch,
                "pr": timeline.pr,
                "app": config.app,
                "database": database,
                "checked_on_server": checked_on_server,
                "source": timeline.source,
                "production_branch": Some(&timeline.production_branch).filter(|b| !b.is_empty()),
            });
            println!("{value}");
        }
        Format::Text => println!("{timeline} -> {database}"),
    }
    Ok(exit::OK)
}

/// The database name `run` would use for this branch, read from the catalog (nothing written).
async fn resolve_on_server(
    config: &crate::config::Config,
    env: &Env,
    timeline: &crate::timeline::Timeline,
) -> Result<String> {
    let admin = crate::instance::admin(config, env)?;
    let session = crate::instance::ensure::Session::open(&admin, config.connect_timeout).await?;
    Ok(session.resolve(&config.app, timeline).await?.database)
}

pub async fn env(global: &Global, args: EnvArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let plan = Plan::new(config, env).await?;
    plan.require_database()?;
    let exports = plan.exports(env)?;
    if env.is_true("GITHUB_ACTIONS") {
        // On stderr, which the runner reads for commands too: stdout may be going into
        // $GITHUB_ENV (`deploydb env --format github >> "$GITHUB_ENV"`).
        let secrets = plan.secrets(&exports);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        eprint!("{}", export::github::masks(&secrets));
    }
    print!("{}", render(&exports, args.format)?);
    Ok(exit::OK)
}

/// `deploydb psql [--timeline T] [-- ARGS]`: psql on the timeline's database as the timeline's
/// own role (what its app gets), never as the admin. deploydb is replaced by psql, so an
/// interactive session has the terminal and signals to itself.
pub async fn psql(global: &Global, args: PsqlArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let plan = Plan::new(config, env).await?;
    plan.require_database()?;
    let exports = plan.exports(env)?;
    let child_env = plan.child_env(env, &exports);
    let program = env.get("DEPLOYDB_PSQL").unwrap_or("psql").to_string();
    let mut command = std::process::Command::new(&program);
    command
        .args(&args.args)
        .current_dir(cwd)
        .env_clear()
        .envs(&child_env);
    #[cfg(unix)]
    let error = std::os::unix::process::CommandExt::exec(&mut command);
    // No exec elsewhere: psql runs as a child, and its exit code is passed on.
    #[cfg(not(unix))]
    let error = match command.status() {
        Ok(status) => return Ok(status.code().unwrap_or(exit::INTERNAL)),
        Err(e) => e,
    };
    Err(match error.kind() {
        std::io::ErrorKind::NotFound => Error::usage(format!("{program} was not found on PATH"))
            .with_hint("install the PostgreSQL client (postgresql-client, or libpq on macOS), or set DEPLOYDB_PSQL to its path"),
        _ => Error::usage(format!("could not start {program}: {error}")),
    })
}

pub fn detect(global: &Global, args: DetectArgs, env: &Env, cwd: &Path) -> Result<i32> {
    // An explicit folder (the argument, or --path) is scanned as it is: that is how one
    // component of a monorepo is inspected on its own.
    let root = match args.dir.as_ref().or(global.path.as_ref()) {
        Some(dir) => dir.canonicalize().map_err(|e| {
            Error::usage(format!("{} cannot be inspected: {e}", dir.display()))
                .with_hint("pass an existing folder")
        })?,
        None => load_config(global, &TimelineFlag::default(), None, env, cwd)?.root,
    };
    let report = detect::scan(&root)?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        ),
        Format::Text => print!("{}", detect::text(&report, &root.display().to_string())),
    }
    Ok(exit::OK)
}

pub async fn check(global: &Global, args: CheckArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &TimelineFlag::default(), None, env, cwd)?;
    lifecycle::check::run(&config, env, args.format).await
}

pub async fn list(global: &Global, args: ListArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &TimelineFlag::default(), None, env, cwd)?;
    lifecycle::list::run(&config, env, args.all_apps, args.format).await
}

pub async fn drop(global: &Global, args: DropArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &args.timeline, None, env, cwd)?;
    let options = lifecycle::drop::Options {
        yes: args.yes,
        dry_run: args.dry_run,
        production: args.production,
        confirm: args.confirm.as_deref(),
        json: matches!(args.format, Format::Json),
    };
    lifecycle::drop::run(&config, env, options).await
}

pub async fn prune(global: &Global, args: PruneArgs, env: &Env, cwd: &Path) -> Result<i32> {
    let config = load_config(global, &TimelineFlag::default(), None, env, cwd)?;
    let options = lifecycle::prune::Options {
        dry_run: args.dry_run,
        older_than: args.older_than,
        branches_from: args.branches_from.as_deref(),
        include_previews: args.include_previews,
        format: args.format,
    };
    lifecycle::prune::run(&config, env, options).await
}

pub fn local(args: LocalArgs, env: &Env) -> Result<i32> {
    if let LocalAction::Start = args.action {
        let info = local::embedded(env)?;
        println!("running: {}:{} user {}", info.host, info.port, info.user);
        return Ok(exit::OK);
    }
    let cluster = local::existing(env)?;
    match (args.action, cluster) {
        (
            LocalAction::Status {
                format: Format::Json,
            },
            cluster,
        ) => {
            let value = match &cluster {
                None => serde_json::json!({
                    "state": "absent",
                    "home": local::home(env)?,
                }),
                Some(c) => serde_json::json!({
                    "state": if c.is_running() { "running" } else { "stopped" },
                    "host": "127.0.0.1",
                    "port": c.port,
                    "user": c.superuser,
                    "data": c.data,
                }),
            };
            println!("{value}");
        }
        (_, None) => println!(
            "the local cluster is not set up (it will be under {}; `deploydb local start` sets it up)",
            local::home(env)?.display()
        ),
        (LocalAction::Status { .. }, Some(c)) => {
            let state = if c.is_running() { "running" } else { "stopped" };
            println!(
                "{state}: 127.0.0.1:{} user {} data {}",
                c.port,
                c.superuser,
                c.data.display()
            );
        }
        (LocalAction::Stop, Some(c)) => {
            if c.is_running() {
                c.stop_daemon()?;
                println!("stopped");
            } else {
                println!("not running");
            }
        }
        (LocalAction::Start, Some(_)) => unreachable!("handled above"),
    }
    Ok(exit::OK)
}

/// `deploydb migrate status`: the built-in SQL migrations' files against the timeline
/// database's ledger. Reads only; exit 1 when a file was edited or is missing.
pub async fn migrate(
    global: &Global,
    args: crate::cli::MigrateArgs,
    env: &Env,
    cwd: &Path,
) -> Result<i32> {
    let crate::cli::MigrateAction::Status { timeline, format } = args.action;
    let config = load_config(global, &timeline, None, env, cwd)?;
    let plan = Plan::new(config, env).await?;
    let entries =
        crate::migrate::sql::status(&plan.target, &plan.config.sql, plan.config.connect_timeout)
            .await?;
    match format {
        Format::Json => println!(
            "{}",
            serde_json::json!({ "database": plan.target.dbname, "migrations": entries })
        ),
        Format::Text => {
            println!("{}:", plan.target.dbname);
            for e in &entries {
                let at = e
                    .applied_at
                    .as_deref()
                    .map(|t| format!(" ({t} UTC)"))
                    .unwrap_or_default();
                println!("  {:<24} {}{at}", e.state, e.name);
            }
            if entries.is_empty() {
                println!(
                    "  no migration files in {}",
                    plan.config.sql.migrations.display()
                );
            }
        }
    }
    let broken = entries
        .iter()
        .any(|e| matches!(e.state, "edited since applied" | "missing"));
    Ok(if broken { exit::INTERNAL } else { exit::OK })
}
