//! `deploydb run`: the stages in order — detect → timeline → instance → export → migrate.
//! Beside it: the plan the database-touching commands share (`plan`), where exports go
//! (`outputs`), the migration command and the template rebuilt with it (`migration`), the
//! seed (`seed`), and what a run reports (`summary`).

use std::path::{Path, PathBuf};

use crate::config::BranchFrom;
use crate::config::Config;
use crate::detect::{self, Report};
use crate::env::Env;
use crate::error::{Error, Kind, Result, exit};
use crate::export::log::Ci;
use crate::export::{self};
use crate::instance::{self};
use crate::migrate::{self, Program};
use crate::report::{self, Stage};
use crate::timeline::Kind as TimelineKind;
use crate::timeline::{self, Timeline};

mod migration;
mod outputs;
mod plan;
mod seed;
mod summary;

use migration::{Migration, refresh_template};
use outputs::deliver;
pub(crate) use outputs::write_github_outputs;
pub(crate) use plan::{Opening, Plan};
use seed::{seed, seed_error, seed_table, seeds};
use summary::{MigrationSummary, Summary, closing_line, job_summary};

/// What `run` does beyond the configuration, resolved from its flags and the environment by
/// the command layer before any stage runs: stages read neither flags nor `DEPLOYDB_*`.
pub struct RunOptions {
    /// `run -- CMD ARGS…`: replaces `[migrate] command`, run without a shell.
    pub argv: Option<Vec<String>>,
    /// `--require`: no PostgreSQL dependency is an error, not a skipped run.
    pub require: bool,
    /// `--format json`: a summary line ends stdout.
    pub json: bool,
    /// `--dotenv-file` / `DEPLOYDB_DOTENV_FILE`.
    pub dotenv_file: Option<PathBuf>,
    /// `--dotenv-secrets` / `DEPLOYDB_DOTENV_SECRETS=true`.
    pub dotenv_secrets: bool,
    /// Whether the dotenv settings came from flags (a warning outside GitLab).
    pub dotenv_flags: bool,
}

pub(crate) fn resolve_timeline(config: &Config, env: &Env) -> Result<(Timeline, String)> {
    let timeline = timeline::resolve(timeline::Inputs {
        spec: config.timeline.clone(),
        production_branch: config.production_branch.as_deref(),
        file_production_branch: config.file_production_branch.as_deref(),
        preview: config.preview,
        env,
        root: &config.root,
    })?;
    let database = timeline.database(&config.app);
    Ok((timeline, database))
}

pub async fn run(config: Config, options: RunOptions, env: &Env) -> Result<i32> {
    let ci = Ci::from_env(env);
    let json = options.json;
    let mut summary = Summary::default();
    let started = std::time::Instant::now();
    let result = run_stages(config, options, env, ci, &mut summary).await;
    if !json
        && let Ok(code) = &result
        && let Some(line) = closing_line(&summary, *code, started.elapsed())
    {
        report::line("done", line);
    }
    if let Some(path) = env.get("GITHUB_STEP_SUMMARY") {
        export::log::append_summary(
            Path::new(path),
            &job_summary(&summary, result.as_ref().err()),
        )?;
    }
    if json {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("the summary serializes")
        );
    }
    result
}

async fn run_stages(
    mut config: Config,
    options: RunOptions,
    env: &Env,
    ci: Ci,
    summary: &mut Summary,
) -> Result<i32> {
    let argv = options.argv.clone();
    // With a linked server, the admin session opens while the repository is read: the
    // connection's round trips and password proof overlap the walk. The embedded server is
    // not started before detection says it is needed, and a run that stops before the plan
    // (nothing to provision, a bad repository) drops the attempt unfinished.
    let opening = Opening::start(&config, env);
    let detected = if opening.is_some() {
        let root = config.root.clone();
        tokio::task::spawn_blocking(move || {
            let stage = Stage::start("detect");
            let detected = detect::scan(&root);
            (stage.stop(), detected)
        })
        .await
        .map_err(|e| Error::internal(format!("the repository scan stopped: {e}")))?
    } else {
        (Stage::start("detect"), detect::scan(&config.root))
    };
    let (stage, detected) = detected;
    let detected = detected?;
    // An explicit command always runs; only "nothing detected and nothing configured" skips.
    let explicit = argv.is_some()
        || config
            .migrate_command
            .as_deref()
            .is_some_and(|c| c != "auto");
    if !detected.uses_postgres()
        && (options.require || (!explicit && detected.migrations.is_empty()))
    {
        let others = if detected.engines.is_empty() {
            String::new()
        } else {
            format!(" (found: {})", detected.engines.join(", "))
        };
        let message = format!(
            "no PostgreSQL dependency found in {}{others}",
            config.root.display()
        );
        if options.require {
            return Err(Error::new(Kind::NoPostgres, message)
                .with_hint("run `deploydb detect` to see what was found, or drop --require"));
        }
        stage.done(format!("{message}; nothing to provision"));
        // A later step's `if:` can tell a skipped run from a failed or a successful one.
        if let Some(path) = env.get("GITHUB_OUTPUT") {
            export::github::append_outputs(
                Path::new(path),
                &[("skipped", "true"), ("skip-reason", &message)],
            )?;
        }
        summary.skipped = Some(message);
        return Ok(exit::OK);
    }

    let detect_line = stage.finish(describe_detection(&detected));
    // Decided before anything is created: an ambiguous "auto" must change nothing.
    let (step, migrate_dir) = match (argv, config.migrate_command.as_deref()) {
        (Some(argv), _) => (
            Some(Step::Command(Program::Argv(argv))),
            config.root.clone(),
        ),
        (None, Some("auto")) => {
            let chosen = detect::choose_migration(&detected)?;
            let step = if chosen.command == BUILTIN_SQL {
                // The folders as configured, but under the component detection found.
                let dir = config.root.join(&chosen.dir);
                let rebase = |p: &Path| dir.join(p.strip_prefix(&config.root).unwrap_or(p));
                config.sql = migrate::sql::Layout {
                    schema: rebase(&config.sql.schema),
                    migrations: rebase(&config.sql.migrations),
                    root: config.root.clone(),
                };
                Step::Sql
            } else {
                Step::Command(Program::Shell(chosen.command.clone()))
            };
            (Some(step), config.root.join(&chosen.dir))
        }
        (None, Some(BUILTIN_SQL)) => (Some(Step::Sql), config.root.clone()),
        (None, Some(line)) => (
            Some(Step::Command(Program::Shell(line.to_string()))),
            config.root.clone(),
        ),
        (None, None) => (None, config.root.clone()),
    };
    // What was detected and which database is meant are said before connecting: with a wrong
    // password or a server that is down, the user still learns what was targeted. Neither line
    // holds a secret, so they may come before the masks.
    report::emit(&detect_line);
    let (early_timeline, early_database) = resolve_timeline(&config, env)?;
    report::line(
        "timeline",
        format!(
            "{early_timeline} (from {}) -> {early_database}",
            source_name(early_timeline.source)
        ),
    );
    let mut plan = Plan::with_session(config, env, opening).await?;
    let exports = plan.exports(env)?;
    let secrets = plan.secrets(&exports);
    if ci == Ci::Github {
        // Before anything that could show these values is printed.
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        print!("{}", export::github::masks(&secrets));
    }
    if let Some(warning) = &plan.client_tls.warning {
        report::warning(warning);
    }
    if exports
        .vars
        .iter()
        .any(|(n, v)| *n == "DATABASE_URL" && v.expose().contains('%'))
        && detected.migrations.iter().any(|m| m.tool == "alembic")
    {
        report::warning(
            "DATABASE_URL holds `%` (a percent-encoded character), which Alembic's config.set_main_option reads as interpolation; pass DATABASE_URL.replace(\"%\", \"%%\") there",
        );
    }
    if plan.target.sslmode >= instance::conninfo::SslMode::VerifyCa
        && detected.migrations.iter().any(|m| m.tool == "prisma")
    {
        report::warning(format!(
            "Prisma's own URL rules know sslmode disable, prefer and require only, so its engines encrypt without verifying the server; to verify, give Prisma its own URL with sslmode=require&sslcert={}&sslaccept=strict",
            plan.target.sslrootcert.as_deref().unwrap_or("CA.pem")
        ));
    }
    if plan.target.host.starts_with('/') {
        report::warning(
            "JDBC_DATABASE_URL is not exported: pgjdbc cannot reach a Unix socket without a socket factory; connect over TCP",
        );
    }
    if plan.target.dbname != early_database {
        report::line(
            "timeline",
            format!(
                "{early_database} belongs to another branch; {} uses {}",
                plan.timeline, plan.target.dbname
            ),
        );
    }
    summary.timeline = Some(plan.timeline.to_string());
    summary.database = Some(plan.target.dbname.clone());

    let stage = Stage::start("database");
    let ensured = plan.ensure().await?;
    if let Some(warning) = &ensured.warning {
        report::warning(warning);
    }
    summary.created = Some(ensured.created);
    stage.done(format!(
        "{} {} on {}",
        plan.target.dbname,
        if ensured.created { "created" } else { "reused" },
        plan.session.admin().redacted()
    ));

    if ensured.created && seeds(&plan) {
        // Marked before the migration, so a seed that never ran (a failed migration) or failed
        // is still owed on the next run, while an old database is never seeded out of the blue.
        seed_table(&plan)
            .await?
            .query_typed(
                "INSERT INTO public.deploydb_seed (command) VALUES ($1)",
                &[(&plan.config.seed_command, tokio_postgres::types::Type::TEXT)],
            )
            .await
            .map_err(seed_error(&plan))?;
    }

    let stage = Stage::start("export");
    summary.exported = deliver(&plan, &exports, &ensured, &options, env)?;
    stage.done(if summary.exported.is_empty() {
        "to the migration command".to_string()
    } else {
        summary.exported.join(", ")
    });

    // Held through the migration and the seed, until the run ends: on the admin session, which
    // nothing else needs by then, unless production's migration is followed by the template's
    // rebuild (CREATE DATABASE, which no open transaction may hold); then on a connection of its
    // own.
    let mut _migration_lock = None;
    let code = match step {
        None => {
            report::line(
                "migrate",
                "no migration command configured ([migrate] command in deploydb.toml, or `deploydb run -- CMD`)",
            );
            for m in &detected.migrations {
                report::line(
                    "migrate",
                    format!("suggested ({}): `{}` in {}", m.tool, m.command, m.dir),
                );
            }
            exit::OK
        }
        Some(step) => {
            let rebuilds_template = plan.config.branch_from == BranchFrom::Template
                && plan.timeline.kind == TimelineKind::Production
                && matches!(step, Step::Command(_));
            _migration_lock = Some(
                instance::lock::migration(
                    plan.session.admin(),
                    (!rebuilds_template).then_some(&plan.session.client),
                    plan.session.timeout(),
                    &plan.target.dbname,
                    plan.config.lock_timeout,
                )
                .await?,
            );
            let stage = Stage::start("migrate");
            let migration_of = |program| Migration {
                program,
                dir: &migrate_dir,
                env,
                ci,
                plan: &plan,
            };
            let (command, code) = match &step {
                Step::Sql => {
                    report::line(
                        "migrate",
                        format!(
                            "built-in SQL migrations: {} and {}/ (ledger {})",
                            show(&plan.config.root, &plan.config.sql.schema),
                            show(&plan.config.root, &plan.config.sql.migrations),
                            migrate::sql::LEDGER
                        ),
                    );
                    let code = migrate::sql::apply(
                        &plan.target,
                        &plan.config.sql,
                        plan.config.connect_timeout,
                    )
                    .await?;
                    (BUILTIN_SQL.to_string(), code)
                }
                Step::Command(program) => {
                    let command = program.describe();
                    report::line(
                        "migrate",
                        format!(
                            "running `{command}` in {}",
                            show(&plan.config.root, &migrate_dir)
                        ),
                    );
                    let code = migration_of(program)
                        .run(
                            &exports,
                            &secrets,
                            &format!("deploydb: migrate `{command}`"),
                        )
                        .await?;
                    (command, code)
                }
            };
            summary.migration = Some(MigrationSummary {
                command,
                exit_code: code,
                duration_ms: stage.elapsed().as_millis(),
            });
            stage.done(format!("exited with {code}"));
            if code == 0
                && rebuilds_template
                && let Step::Command(program) = &step
            {
                refresh_template(&migration_of(program), env).await?;
            }
            code
        }
    };
    if code != 0 {
        // One clear line (and a GitHub annotation) for a failed migration; its own output above
        // says why. The exit code is the command's, passed through.
        let command = summary
            .migration
            .as_ref()
            .map_or_else(String::new, |m| m.command.clone());
        let mut failure = Error::new(
            Kind::Migration(code),
            format!("the migration command `{command}` exited with {code}"),
        );
        if code == 127 {
            failure = failure.with_hint(
                "127 is the shell's \"command not found\": is the tool installed and on PATH in this job?",
            );
        }
        return Err(failure);
    }
    seed(&plan, &exports, &secrets, env, ci).await
}

/// `[migrate] command = "sql"`: deploydb applies the SQL files itself (`migrate::sql`).
pub(crate) const BUILTIN_SQL: &str = "sql";

/// What the migrate stage runs.
enum Step {
    Command(Program),
    Sql,
}

fn show(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// The `--timeline` value that names `timeline` again (none for the template, which nothing
/// deploys to).
fn timeline_spec(timeline: &Timeline) -> Option<String> {
    match (timeline.kind, &timeline.branch, timeline.pr) {
        (TimelineKind::Production, _, _) => Some("production".to_string()),
        (TimelineKind::Preview, _, Some(pr)) if timeline.own_preview => Some(format!("pr:{pr}")),
        (TimelineKind::Preview, _, _) => Some("preview".to_string()),
        (TimelineKind::Branch, Some(branch), _) => Some(format!("branch:{branch}")),
        (TimelineKind::Branch, None, _) | (TimelineKind::Template, _, _) => None,
    }
}

fn source_name(source: timeline::Source) -> &'static str {
    match source {
        timeline::Source::Flag => "--timeline",
        timeline::Source::Env => "DEPLOYDB_TIMELINE",
        timeline::Source::Github => "GitHub Actions",
        timeline::Source::Gitlab => "GitLab CI",
        timeline::Source::Git => "git HEAD",
    }
}

fn describe_detection(report: &Report) -> String {
    if !report.uses_postgres() {
        let tools: Vec<String> = report
            .migrations
            .iter()
            .map(|m| format!("{} in {}", m.tool, crate::report::inert(&m.dir)))
            .collect();
        return format!(
            "no PostgreSQL driver found in a manifest{}; running the configured migration anyway",
            if tools.is_empty() {
                String::new()
            } else {
                format!(" (migrations: {})", tools.join(", "))
            }
        );
    }
    // The strongest evidence first: a runtime driver says more than a dev group's.
    let mut postgres: Vec<&detect::Finding> = report
        .findings
        .iter()
        .filter(|f| f.engine == detect::POSTGRES && !f.indirect)
        .collect();
    postgres.sort_by_key(|f| f.strength);
    let evidence: Vec<String> = postgres
        .into_iter()
        .take(3)
        .map(|f| {
            format!(
                "{}:{} {}",
                crate::report::inert(&f.file),
                f.line,
                crate::report::inert(&f.package)
            )
        })
        .collect();
    format!("postgres ({})", evidence.join(", "))
}
