//! The command line, as clap parses it. Nothing here is trusted yet: `config` checks it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::export::format::EnvFormat;
use crate::timeline::Spec;

#[derive(Debug, Parser)]
#[command(
    name = "deploydb",
    version,
    about = "A PostgreSQL database for every deployment timeline, from inside your pipeline.",
    long_about = "A PostgreSQL database for every deployment timeline, from inside your pipeline.\n\n\
        deploydb finds out whether the app uses PostgreSQL, works out the timeline (production, a \
        branch, or a preview) from the CI or git, makes sure that timeline's database exists on \
        the linked server, exports PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE and \
        DATABASE_URL, and runs the migration command.\n\n\
        The linked server's admin URL is read from $DEPLOYDB_ADMIN_URL (or the variable named by \
        [instance] url_env); without one, deploydb runs its own local PostgreSQL.",
    after_help = crate::error::exit_code_help()
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, listed apart from the command's own in its `--help`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The repository, or any folder inside it [default: the current directory]
    #[arg(short = 'C', long, global = true, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// The app's name, used in every database name [env: DEPLOYDB_APP]
    #[arg(long, global = true, value_name = "NAME")]
    pub app: Option<String>,
    /// The branch whose deployments are production [env: DEPLOYDB_PRODUCTION_BRANCH]
    #[arg(long, global = true, value_name = "BRANCH")]
    pub production_branch: Option<String>,
    /// Say what deploydb does (-v), every step (-vv); RUNNER_DEBUG=1 gives -vv
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress lines (warnings and errors still show)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Load variables from a .env file first (variables already set win)
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Detect, resolve the timeline, ensure its database, export the connection, run the migration
    Run(RunArgs),
    /// Show whether the repository uses PostgreSQL and how it migrates
    Detect(DetectArgs),
    /// Show the timeline this run belongs to and its database name
    Timeline(TimelineArgs),
    /// Make sure the timeline's database exists (create it if missing)
    Ensure(EnsureArgs),
    /// Print the timeline's connection variables (e.g. eval "$(deploydb env)")
    Env(EnvArgs),
    /// Open psql on the timeline's database as its own role (`-- -c 'SELECT …'` runs one query)
    Psql(PsqlArgs),
    /// Check the linked server: reachable, TLS, version, privileges (exit 0 only if a deploy would work)
    Check(CheckArgs),
    /// List the databases deploydb manages (from their ownership comments)
    List(ListArgs),
    /// Drop one timeline's database and its role
    Drop(DropArgs),
    /// Drop branch databases whose branch is gone or that were not deployed for a while
    Prune(PruneArgs),
    /// Manage the embedded local PostgreSQL used when no admin URL is set
    Local(LocalArgs),
    /// The built-in SQL migrations ([migrate] command = "sql")
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub action: MigrateAction,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Show each SQL migration file: applied, included in schema.sql, pending, edited or missing
    Status {
        #[command(flatten)]
        timeline: TimelineFlag,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List every app's databases (otherwise the app of deploydb.toml, or --app)
    #[arg(long)]
    pub all_apps: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DropArgs {
    #[command(flatten)]
    pub timeline: TimelineFlag,
    /// Really drop (the data is gone afterwards)
    #[arg(long)]
    pub yes: bool,
    /// Show what would be dropped, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Allow dropping production (also needs --yes and --confirm with its exact name)
    #[arg(long)]
    pub production: bool,
    /// The exact database name, required to drop production
    #[arg(long, value_name = "DATABASE")]
    pub confirm: Option<String>,
    /// `json` prints what was (or would be) dropped as one document
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Show the decisions, drop nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Drop databases not deployed for longer than this (e.g. 14d)
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    pub older_than: Option<std::time::Duration>,
    /// The live branches: `git` (git ls-remote --heads origin), a file, or `-` for stdin
    #[arg(long, value_name = "SOURCE")]
    pub branches_from: Option<String>,
    /// Also prune preview databases (by age)
    #[arg(long)]
    pub include_previews: bool,
    /// `json` prints every decision and the totals as one document
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse(text).ok_or_else(|| {
        format!(
            "`{text}` is not a duration; write {}",
            crate::duration::ACCEPTED
        )
    })
}

#[derive(Debug, Args, Clone, Default)]
pub struct TimelineFlag {
    /// production, preview, pr:<number> or branch:<name> [env: DEPLOYDB_TIMELINE; default: from the CI or git]
    #[arg(long, value_name = "TIMELINE")]
    pub timeline: Option<Spec>,
}

impl clap::builder::ValueParserFactory for Spec {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<Spec>())
    }
}

pub use crate::report::Format;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub timeline: TimelineFlag,
    /// Fail (exit 4) instead of skipping when no PostgreSQL dependency is found
    #[arg(long)]
    pub require: bool,
    /// Where GitLab's dotenv report is written [env: DEPLOYDB_DOTENV_FILE; default: deploydb.env]
    #[arg(long, value_name = "FILE")]
    pub dotenv_file: Option<PathBuf>,
    /// Also put PGPASSWORD and DATABASE_URL in the dotenv report (readable by the whole
    /// pipeline) [env: DEPLOYDB_DOTENV_SECRETS=true]
    #[arg(long)]
    pub dotenv_secrets: bool,
    /// `json` prints a summary of the run as the last line on stdout
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// The migration command, instead of [migrate] command (run directly, not through sh)
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The folder to inspect [default: the project root]
    pub dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub timeline: TimelineFlag,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct EnsureArgs {
    #[command(flatten)]
    pub timeline: TimelineFlag,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub timeline: TimelineFlag,
    #[arg(long, value_enum, default_value = "shell")]
    pub format: EnvFormat,
}

#[derive(Debug, Args)]
pub struct PsqlArgs {
    #[command(flatten)]
    pub timeline: TimelineFlag,
    /// Arguments passed to psql as they are, after `--` (e.g. `-- -c 'SELECT 1'`)
    #[arg(last = true, value_name = "PSQL_ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LocalArgs {
    #[command(subcommand)]
    pub action: LocalAction,
}

#[derive(Debug, Subcommand)]
pub enum LocalAction {
    /// Where the local cluster lives, and whether it is running
    Status {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Set the local cluster up (the first time) and start it
    Start,
    /// Stop the local cluster (it starts again on the next run that needs it)
    Stop,
}
